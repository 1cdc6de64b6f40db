/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib-object.h>

#include "evcp-message.h"

G_BEGIN_DECLS

/**
 * EvcpMessageHandler:
 *
 * A handler of messages: the Engine gives each consumed message to every
 * enabled handler that can handle it (evcp_message_handler_can_handle()).
 * A plugin implements it, or makes one of a function with
 * evcp_callback_handler_new(), and registers it with
 * evcp_kafka_service_register_handler().
 *
 * Since: 0.1
 */
#define EVCP_TYPE_MESSAGE_HANDLER (evcp_message_handler_get_type ())
G_DECLARE_INTERFACE (EvcpMessageHandler, evcp_message_handler, EVCP, MESSAGE_HANDLER, GObject)

/**
 * EvcpMessageHandlerInterface:
 * @get_name: a stable, unique name (used in logs, metrics and on D-Bus)
 * @can_handle: whether this handler wants @message; cheap, no side effects
 * @handle: handle @message. Return %FALSE with an error to fail: an error in
 *   the %EVCP_ERROR domain for which evcp_error_is_permanent() is true is not
 *   retried, any other error is retried with backoff.
 *
 * The virtual functions of #EvcpMessageHandler.
 *
 * Since: 0.1
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

  /*< private >*/
  gpointer padding[8];
};

/**
 * evcp_message_handler_get_name:
 * @self: a handler
 *
 * The handler's name: stable and unique among the registered handlers, used
 * in logs, metrics and on D-Bus.
 *
 * Returns: (transfer none): its name
 *
 * Since: 0.1
 */
const gchar *evcp_message_handler_get_name   (EvcpMessageHandler  *self);
/**
 * evcp_message_handler_can_handle:
 * @self: a handler
 * @message: a parsed message
 *
 * Whether @self wants @message; cheap and without side effects.
 *
 * Returns: %TRUE if @self handles @message
 *
 * Since: 0.1
 */
gboolean     evcp_message_handler_can_handle (EvcpMessageHandler  *self,
                                              EvcpMessage         *message);
/**
 * evcp_message_handler_handle:
 * @self: a handler
 * @message: a parsed message
 * @error: why it failed
 *
 * Handles @message. A failure is retried with backoff unless
 * evcp_error_is_permanent() says it is permanent; a message no handler
 * manages goes to dead_letters.
 *
 * Returns: %TRUE when handled
 *
 * Since: 0.1
 */
gboolean     evcp_message_handler_handle     (EvcpMessageHandler  *self,
                                              EvcpMessage         *message,
                                              GError             **error);

G_END_DECLS
