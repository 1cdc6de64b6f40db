/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <gmodule.h>

#include "evcp-plugin-services.h"

G_BEGIN_DECLS

/*
 * A plugin is a shared module in the plugin directory ([evcp] plugin-dir or
 * --plugin-dir). It states the plugin ABI it was built for with
 * EVCP_PLUGIN_DEFINE, once in one of its files, and defines the entry point
 * of each program it extends; each program calls only its own:
 *
 *   EVCP_PLUGIN_DEFINE;
 *
 *   gboolean
 *   evcp_engine_plugin_init (EvcpKafkaService *service, EvcpPluginConfig *config,
 *                            GError **error)
 *   {
 *     ...
 *   }
 *
 * (evcp_monitor_plugin_init (EvcpMonitoringService *, EvcpPluginConfig *,
 * GError **) for the Monitor). A module whose ABI version is missing or is
 * not EVCP_PLUGIN_ABI_VERSION of the program is refused with a log line and
 * its entry point is never called. A module without the program's entry
 * point is skipped; one whose entry point fails is reported and skipped;
 * neither stops the program.
 */

/**
 * EVCP_PLUGIN_ABI_VERSION:
 *
 * The plugin ABI of this SDK, raised on every change a built plugin cannot
 * survive (a signature, a struct a plugin reads, a removed function).
 *
 * Since: 0.1
 */
#define EVCP_PLUGIN_ABI_VERSION 1

/**
 * EVCP_PLUGIN_ABI_SYMBOL:
 *
 * The symbol of a plugin's ABI version (EVCP_PLUGIN_DEFINE).
 *
 * Since: 0.1
 */
#define EVCP_PLUGIN_ABI_SYMBOL     "evcp_plugin_abi_version"
/**
 * EVCP_ENGINE_PLUGIN_SYMBOL:
 *
 * The symbol of the Engine's entry point, an #EvcpEnginePluginInitFunc.
 *
 * Since: 0.1
 */
#define EVCP_ENGINE_PLUGIN_SYMBOL  "evcp_engine_plugin_init"
/**
 * EVCP_MONITOR_PLUGIN_SYMBOL:
 *
 * The symbol of the Monitor's entry point, an #EvcpMonitorPluginInitFunc.
 *
 * Since: 0.1
 */
#define EVCP_MONITOR_PLUGIN_SYMBOL "evcp_monitor_plugin_init"

/**
 * EvcpPluginConfig:
 *
 * The settings a plugin may read, opaque. Valid as long as the service
 * given with it.
 *
 * Since: 0.1
 */
typedef struct _EvcpPluginConfig EvcpPluginConfig;

/**
 * evcp_plugin_config_get_cp_id:
 * @config: the plugin's settings
 *
 * The charging point's CP_ID.
 *
 * Returns: (transfer none): the CP id
 *
 * Since: 0.1
 */
const gchar *evcp_plugin_config_get_cp_id       (EvcpPluginConfig *config);
/**
 * evcp_plugin_config_get_location:
 * @config: the plugin's settings
 *
 * The charging point's location ([evcp] location).
 *
 * Returns: (transfer none): the location, or ""
 *
 * Since: 0.1
 */
const gchar *evcp_plugin_config_get_location    (EvcpPluginConfig *config);
/**
 * evcp_plugin_config_get_config_file:
 * @config: the plugin's settings
 *
 * The configuration file the program read.
 *
 * Returns: (transfer none) (nullable): its path, or %NULL
 *
 * Since: 0.1
 */
const gchar *evcp_plugin_config_get_config_file (EvcpPluginConfig *config);
/**
 * evcp_plugin_config_get_key_file:
 * @config: the plugin's settings
 *
 * The configuration file's contents with its drop-ins (the `*.conf` files of
 * `FILE.d`), where a plugin reads a group of its own, named `X-…` (the
 * program reports other groups it does not know).
 *
 * Returns: (transfer none) (nullable): the key file, or %NULL
 *
 * Since: 0.1
 */
GKeyFile    *evcp_plugin_config_get_key_file    (EvcpPluginConfig *config);

/**
 * EvcpEnginePluginInitFunc:
 * @service: the Engine's consumer
 * @config: the plugin's settings
 * @error: why the plugin cannot start
 *
 * The type of the Engine's entry point, evcp_engine_plugin_init().
 *
 * Returns: %TRUE when the plugin started
 *
 * Since: 0.1
 */
typedef gboolean (*EvcpEnginePluginInitFunc)  (EvcpKafkaService      *service,
                                               EvcpPluginConfig      *config,
                                               GError               **error);
/**
 * EvcpMonitorPluginInitFunc:
 * @service: the Monitor
 * @config: the plugin's settings
 * @error: why the plugin cannot start
 *
 * The type of the Monitor's entry point, evcp_monitor_plugin_init().
 *
 * Returns: %TRUE when the plugin started
 *
 * Since: 0.1
 */
typedef gboolean (*EvcpMonitorPluginInitFunc) (EvcpMonitoringService *service,
                                               EvcpPluginConfig      *config,
                                               GError               **error);

/**
 * EVCP_PLUGIN_DEFINE:
 *
 * Exports the ABI version the module was built for, and declares the
 * entry points (so that the compiler checks the plugin's definitions):
 * once in one file of a plugin, followed by a semicolon.
 *
 * Since: 0.1
 */
#define EVCP_PLUGIN_DEFINE                                                              \
  G_MODULE_EXPORT extern const guint32 evcp_plugin_abi_version;                        \
  G_MODULE_EXPORT const guint32 evcp_plugin_abi_version = EVCP_PLUGIN_ABI_VERSION;     \
  G_MODULE_EXPORT gboolean evcp_engine_plugin_init (EvcpKafkaService *service,          \
                                                    EvcpPluginConfig *config,           \
                                                    GError          **error);           \
  G_MODULE_EXPORT gboolean evcp_monitor_plugin_init (EvcpMonitoringService *service,    \
                                                     EvcpPluginConfig      *config,     \
                                                     GError               **error)

G_END_DECLS
