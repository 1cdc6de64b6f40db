/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* An example Engine plugin: a handler for messages of kind CUSTOM_MESSAGE,
 * added without rebuilding the Engine. Build it as a shared module, put it
 * in the plugin directory ([evcp] plugin-dir or --plugin-dir) and restart
 * the Engine. The README walks through it. */
#define G_LOG_DOMAIN "evcp-custom-message"

#include <evcp-plugin.h>

EVCP_PLUGIN_DEFINE;

G_DECLARE_FINAL_TYPE (EvcpCustomMessageHandler, evcp_custom_message_handler,
                      EVCP, CUSTOM_MESSAGE_HANDLER, GObject)

struct _EvcpCustomMessageHandler
{
  GObject parent_instance;
  guint   handled;
};

static void evcp_custom_message_handler_iface_init (EvcpMessageHandlerInterface *iface);

G_DEFINE_TYPE_WITH_CODE (EvcpCustomMessageHandler, evcp_custom_message_handler, G_TYPE_OBJECT,
                         G_IMPLEMENT_INTERFACE (EVCP_TYPE_MESSAGE_HANDLER,
                                                evcp_custom_message_handler_iface_init))

static const gchar *
custom_get_name (EvcpMessageHandler *handler)
{
  return "custom-message";
}

static gboolean
custom_can_handle (EvcpMessageHandler *handler, EvcpMessage *message)
{
  return g_strcmp0 (evcp_message_get_kind (message), "CUSTOM_MESSAGE") == 0;
}

static gboolean
custom_handle (EvcpMessageHandler *handler, EvcpMessage *message, GError **error)
{
  EvcpCustomMessageHandler *self = (EvcpCustomMessageHandler *) handler;
  const gchar *text = NULL;

  /* "text" under data, or at the top level: both message shapes work */
  if (!evcp_message_get_string (message, "text", TRUE, &text, error))
    return FALSE;   /* EVCP_ERROR_INVALID_MESSAGE: no retry, dead letter */
  self->handled++;
  g_message ("Custom message #%u: %s", self->handled, text);
  return TRUE;
}

static void
evcp_custom_message_handler_iface_init (EvcpMessageHandlerInterface *iface)
{
  iface->get_name = custom_get_name;
  iface->can_handle = custom_can_handle;
  iface->handle = custom_handle;
}

static void
evcp_custom_message_handler_class_init (EvcpCustomMessageHandlerClass *klass)
{
}

static void
evcp_custom_message_handler_init (EvcpCustomMessageHandler *self)
{
}

G_MODULE_EXPORT gboolean
evcp_engine_plugin_init (EvcpKafkaService *service, EvcpPluginConfig *config, GError **error)
{
  g_autoptr(EvcpMessageHandler) handler =
    g_object_new (evcp_custom_message_handler_get_type (), NULL);

  return evcp_kafka_service_register_handler (service, handler, error);
}
