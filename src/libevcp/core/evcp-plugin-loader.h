#pragma once

#include <glib-object.h>

#include "evcp-config.h"

G_BEGIN_DECLS

/*
 * Plugins are shared modules in a configured directory ([evcp] plugin-dir,
 * or --plugin-dir). A module exports one entry point per program it
 * extends, and each program calls only its own:
 *
 *   G_MODULE_EXPORT gboolean
 *   evcp_engine_plugin_init (EvcpKafkaService *service, EvcpConfig *config, GError **error);
 *
 *   G_MODULE_EXPORT gboolean
 *   evcp_monitor_plugin_init (EvcpMonitoringService *service, EvcpConfig *config, GError **error);
 *
 * A module without the program's entry point is skipped; one whose entry
 * point fails is reported and skipped; neither stops the program.
 */
#define EVCP_ENGINE_PLUGIN_SYMBOL  "evcp_engine_plugin_init"
#define EVCP_MONITOR_PLUGIN_SYMBOL "evcp_monitor_plugin_init"

typedef gboolean (*EvcpPluginInitFunc) (gpointer     service,
                                        EvcpConfig  *config,
                                        GError     **error);

/* Loads every module of @dir that exports @symbol and calls it with
 * @service and @config. Returns the names of the plugins loaded. */
GStrv evcp_plugins_load (const gchar  *dir,
                         const gchar  *symbol,
                         gpointer      service,
                         EvcpConfig   *config,
                         GError      **error) G_GNUC_WARN_UNUSED_RESULT;

G_END_DECLS
