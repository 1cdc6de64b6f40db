/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A test plugin built for another plugin ABI: the loader must refuse it
 * without calling its entry point. */
#define G_LOG_DOMAIN "evcp-abi-wrong"

#include <evcp-plugin.h>

G_MODULE_EXPORT extern const guint32 evcp_plugin_abi_version;
G_MODULE_EXPORT const guint32 evcp_plugin_abi_version = EVCP_PLUGIN_ABI_VERSION + 1;

G_MODULE_EXPORT gboolean evcp_engine_plugin_init (EvcpKafkaService *service,
                                                  EvcpPluginConfig *config,
                                                  GError          **error);

G_MODULE_EXPORT gboolean
evcp_engine_plugin_init (EvcpKafkaService *service, EvcpPluginConfig *config, GError **error)
{
  g_error ("the entry point of a plugin of another ABI was called");
  return FALSE;
}
