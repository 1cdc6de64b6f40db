/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "evcp-message-handler.h"

G_BEGIN_DECLS

/**
 * EvcpCallbackHandlerFunc:
 * @message: the message
 * @user_data: the data given to evcp_callback_handler_new()
 * @error: where a failure is said
 *
 * Handles one message of the handler's kind; return %FALSE and set @error
 * to fail (see #EvcpMessageHandlerInterface for retries).
 *
 * Returns: %TRUE when handled
 *
 * Since: 0.1
 */
typedef gboolean (*EvcpCallbackHandlerFunc) (EvcpMessage  *message,
                                             gpointer      user_data,
                                             GError      **error);

/**
 * EvcpCallbackHandler:
 *
 * An #EvcpMessageHandler made of a function, for one kind of message or
 * for every kind.
 *
 * Since: 0.1
 */
#define EVCP_TYPE_CALLBACK_HANDLER (evcp_callback_handler_get_type ())
G_DECLARE_FINAL_TYPE (EvcpCallbackHandler, evcp_callback_handler, EVCP, CALLBACK_HANDLER, GObject)

/**
 * evcp_callback_handler_new:
 * @name: the handler's name (evcp_message_handler_get_name())
 * @kind: (nullable): the kind it handles, or %NULL for every kind
 * @func: (scope notified): called for each message
 * @user_data: (closure func): given to @func
 * @destroy: (nullable): frees @user_data with the handler
 *
 * A handler for one kind of message (or every kind) made of a function.
 *
 * Returns: (transfer full): the handler
 *
 * Since: 0.1
 */
EvcpMessageHandler *evcp_callback_handler_new (const gchar             *name,
                                               const gchar             *kind,
                                               EvcpCallbackHandlerFunc  func,
                                               gpointer                 user_data,
                                               GDestroyNotify           destroy);

G_END_DECLS
