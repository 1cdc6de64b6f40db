/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "evcp-message-handler.h"

G_BEGIN_DECLS

/**
 * EvcpCallbackHandlerFunc:
 *
 * Handles one message of the handler's kind; return %FALSE and set @error
 * to fail (see #EvcpMessageHandlerInterface for retries).
 */
typedef gboolean (*EvcpCallbackHandlerFunc) (EvcpMessage  *message,
                                             gpointer      user_data,
                                             GError      **error);

#define EVCP_TYPE_CALLBACK_HANDLER (evcp_callback_handler_get_type ())
G_DECLARE_FINAL_TYPE (EvcpCallbackHandler, evcp_callback_handler, EVCP, CALLBACK_HANDLER, GObject)

/* A handler for one kind (or every kind, with @kind %NULL) made of a function. */
EvcpMessageHandler *evcp_callback_handler_new (const gchar             *name,
                                               const gchar             *kind,
                                               EvcpCallbackHandlerFunc  func,
                                               gpointer                 user_data,
                                               GDestroyNotify           destroy);

G_END_DECLS
