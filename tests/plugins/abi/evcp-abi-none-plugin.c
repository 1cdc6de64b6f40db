/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A test plugin that declares no plugin ABI (built without
 * EVCP_PLUGIN_DEFINE): the loader must refuse it without calling its entry
 * point. */
#define G_LOG_DOMAIN "evcp-abi-none"

#include <evcp-plugin.h>

G_MODULE_EXPORT gboolean evcp_engine_plugin_init (EvcpKafkaService *service,
                                                  EvcpPluginConfig *config,
                                                  GError          **error);

G_MODULE_EXPORT gboolean
evcp_engine_plugin_init (EvcpKafkaService *service, EvcpPluginConfig *config, GError **error)
{
  g_error ("the entry point of a plugin without an ABI version was called");
  return FALSE;
}
