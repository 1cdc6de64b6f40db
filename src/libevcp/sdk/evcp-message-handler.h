/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib-object.h>

#include "evcp-message.h"

G_BEGIN_DECLS

#define EVCP_TYPE_MESSAGE_HANDLER (evcp_message_handler_get_type ())
G_DECLARE_INTERFACE (EvcpMessageHandler, evcp_message_handler, EVCP, MESSAGE_HANDLER, GObject)

/**
 * EvcpMessageHandlerInterface:
 * @get_name: a stable, unique name (used in logs, metrics and on D-Bus)
 * @can_handle: whether this handler wants @message; cheap, no side effects
 * @handle: handle @message. Return %FALSE with an error to fail: an error in
 *   the %EVCP_ERROR domain for which evcp_error_is_permanent() is true is not
 *   retried, any other error is retried with backoff.
 */
struct _EvcpMessageHandlerInterface
{
  GTypeInterface parent_iface;

  const gchar *(*get_name)   (EvcpMessageHandler  *self);
  gboolean     (*can_handle) (EvcpMessageHandler  *self,
                              EvcpMessage         *message);
  gboolean     (*handle)     (EvcpMessageHandler  *self,
                              EvcpMessage         *message,
                              GError             **error);

  gpointer padding[8];
};

const gchar *evcp_message_handler_get_name   (EvcpMessageHandler  *self);
gboolean     evcp_message_handler_can_handle (EvcpMessageHandler  *self,
                                              EvcpMessage         *message);
gboolean     evcp_message_handler_handle     (EvcpMessageHandler  *self,
                                              EvcpMessage         *message,
                                              GError             **error);

G_END_DECLS
