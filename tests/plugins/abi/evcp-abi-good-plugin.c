/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A test plugin of the current ABI: registers the handler "abi-good", and
 * keeps the CP_ID it was given as the handler's kind, so that the test sees
 * EvcpPluginConfig get through. */
#define G_LOG_DOMAIN "evcp-abi-good"

#include <evcp-plugin.h>

EVCP_PLUGIN_DEFINE;

static gboolean
handle (EvcpMessage *message, gpointer user_data, GError **error)
{
  return TRUE;
}

G_MODULE_EXPORT gboolean
evcp_engine_plugin_init (EvcpKafkaService *service, EvcpPluginConfig *config, GError **error)
{
  g_autoptr(EvcpMessageHandler) handler =
    evcp_callback_handler_new ("abi-good", evcp_plugin_config_get_cp_id (config), handle, NULL, NULL);

  return evcp_kafka_service_register_handler (service, handler, error);
}
