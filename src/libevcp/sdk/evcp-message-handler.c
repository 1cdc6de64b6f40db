/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "evcp-build-config.h"

#include "evcp-message-handler.h"

G_DEFINE_INTERFACE (EvcpMessageHandler, evcp_message_handler, G_TYPE_OBJECT)

static void
evcp_message_handler_default_init (EvcpMessageHandlerInterface *iface)
{
}

const gchar *
evcp_message_handler_get_name (EvcpMessageHandler *self)
{
  EvcpMessageHandlerInterface *iface;

  g_return_val_if_fail (EVCP_IS_MESSAGE_HANDLER (self), NULL);
  iface = EVCP_MESSAGE_HANDLER_GET_IFACE (self);
  if (iface->get_name != NULL)
    return iface->get_name (self);
  return G_OBJECT_TYPE_NAME (self);
}

gboolean
evcp_message_handler_can_handle (EvcpMessageHandler *self,
                                 EvcpMessage        *message)
{
  EvcpMessageHandlerInterface *iface;

  g_return_val_if_fail (EVCP_IS_MESSAGE_HANDLER (self), FALSE);
  g_return_val_if_fail (message != NULL, FALSE);
  iface = EVCP_MESSAGE_HANDLER_GET_IFACE (self);
  g_return_val_if_fail (iface->can_handle != NULL, FALSE);
  return iface->can_handle (self, message);
}

gboolean
evcp_message_handler_handle (EvcpMessageHandler  *self,
                             EvcpMessage         *message,
                             GError             **error)
{
  EvcpMessageHandlerInterface *iface;
  gboolean ret;

  g_return_val_if_fail (EVCP_IS_MESSAGE_HANDLER (self), FALSE);
  g_return_val_if_fail (message != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  iface = EVCP_MESSAGE_HANDLER_GET_IFACE (self);
  g_return_val_if_fail (iface->handle != NULL, FALSE);

  ret = iface->handle (self, message, error);
  /* A handler that fails without saying why still fails, cleanly. */
  if (!ret && error != NULL && *error == NULL)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                 "handler %s failed without an error",
                 evcp_message_handler_get_name (self));
  return ret;
}
