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

/* Raised on every change a built plugin cannot survive (a signature, a
 * struct a plugin reads, a removed function). */
#define EVCP_PLUGIN_ABI_VERSION 1

#define EVCP_PLUGIN_ABI_SYMBOL     "evcp_plugin_abi_version"
#define EVCP_ENGINE_PLUGIN_SYMBOL  "evcp_engine_plugin_init"
#define EVCP_MONITOR_PLUGIN_SYMBOL "evcp_monitor_plugin_init"

/**
 * EvcpPluginConfig:
 *
 * The settings a plugin may read, opaque. Valid as long as the service
 * given with it.
 */
typedef struct _EvcpPluginConfig EvcpPluginConfig;

/* The charging point's CP_ID. */
const gchar *evcp_plugin_config_get_cp_id       (EvcpPluginConfig *config);
/* Its location ([evcp] location), or "" */
const gchar *evcp_plugin_config_get_location    (EvcpPluginConfig *config);
/* The configuration file the program read, or %NULL. */
const gchar *evcp_plugin_config_get_config_file (EvcpPluginConfig *config);
/* That file's contents with its drop-ins (the *.conf files of FILE.d), where a plugin
 * reads a group of its own, named X-... (the program reports other groups
 * it does not know), or %NULL. (transfer none) */
GKeyFile    *evcp_plugin_config_get_key_file    (EvcpPluginConfig *config);

typedef gboolean (*EvcpEnginePluginInitFunc)  (EvcpKafkaService      *service,
                                               EvcpPluginConfig      *config,
                                               GError               **error);
typedef gboolean (*EvcpMonitorPluginInitFunc) (EvcpMonitoringService *service,
                                               EvcpPluginConfig      *config,
                                               GError               **error);

/* The ABI version the module was built for, and the entry points' types
 * (so that the compiler checks the plugin's definitions). */
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
