/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "evcp-build-config.h"

#include "evcp-engine-host.h"
#include "evcp-plugin-config-private.h"

G_DEFINE_INTERFACE (EvcpEngineHost, evcp_engine_host, G_TYPE_OBJECT)

static void
evcp_engine_host_default_init (EvcpEngineHostInterface *iface)
{
}

gboolean
evcp_kafka_service_register_handler (EvcpKafkaService    *self,
                                     EvcpMessageHandler  *handler,
                                     GError             **error)
{
  g_return_val_if_fail (EVCP_IS_ENGINE_HOST (self), FALSE);
  g_return_val_if_fail (EVCP_IS_MESSAGE_HANDLER (handler), FALSE);
  return EVCP_ENGINE_HOST_GET_IFACE (self)->register_handler ((EvcpEngineHost *) self, handler, error);
}

gboolean
evcp_kafka_service_unregister_handler (EvcpKafkaService  *self,
                                       const gchar       *name,
                                       GError           **error)
{
  g_return_val_if_fail (EVCP_IS_ENGINE_HOST (self), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);
  return EVCP_ENGINE_HOST_GET_IFACE (self)->unregister_handler ((EvcpEngineHost *) self, name, error);
}

guint
evcp_kafka_service_add_done_hook (EvcpKafkaService  *self,
                                  EvcpKafkaDoneFunc  func,
                                  gpointer           user_data)
{
  g_return_val_if_fail (EVCP_IS_ENGINE_HOST (self), 0);
  g_return_val_if_fail (func != NULL, 0);
  return EVCP_ENGINE_HOST_GET_IFACE (self)->add_done_hook ((EvcpEngineHost *) self, func, user_data);
}

void
evcp_kafka_service_remove_done_hook (EvcpKafkaService *self, guint id)
{
  g_return_if_fail (EVCP_IS_ENGINE_HOST (self));
  EVCP_ENGINE_HOST_GET_IFACE (self)->remove_done_hook ((EvcpEngineHost *) self, id);
}

const gchar *
evcp_plugin_config_get_cp_id (EvcpPluginConfig *config)
{
  g_return_val_if_fail (config != NULL, NULL);
  return config->cp_id;
}

const gchar *
evcp_plugin_config_get_location (EvcpPluginConfig *config)
{
  g_return_val_if_fail (config != NULL, NULL);
  return config->location;
}

const gchar *
evcp_plugin_config_get_config_file (EvcpPluginConfig *config)
{
  g_return_val_if_fail (config != NULL, NULL);
  return config->config_file;
}

GKeyFile *
evcp_plugin_config_get_key_file (EvcpPluginConfig *config)
{
  g_return_val_if_fail (config != NULL, NULL);
  return config->key_file;
}
