/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib-object.h>

#include "evcp-message.h"
#include "evcp-message-handler.h"

G_BEGIN_DECLS

#define EVCP_TYPE_DISPATCHER (evcp_dispatcher_get_type ())
G_DECLARE_FINAL_TYPE (EvcpDispatcher, evcp_dispatcher, EVCP, DISPATCHER, GObject)

#define EVCP_DISPATCHER_DEFAULT_ATTEMPTS        3
#define EVCP_DISPATCHER_DEFAULT_BACKOFF_MS      100
#define EVCP_DISPATCHER_DEFAULT_BACKOFF_MAX_MS  2000

/**
 * EvcpDispatchDoneFunc:
 * @error: %NULL when every handler that accepted @message succeeded;
 *   %EVCP_ERROR_NO_HANDLER when none accepted it; %EVCP_ERROR_HANDLER_FAILED
 *   when at least one failed for good (the message names each);
 *   %EVCP_ERROR_CANCELLED when evcp_dispatcher_cancel_all() interrupted it.
 *
 * Called exactly once per evcp_dispatcher_dispatch(), possibly before that
 * call returns.
 */
typedef void (*EvcpDispatchDoneFunc) (EvcpDispatcher *self,
                                      EvcpMessage    *message,
                                      const GError   *error,
                                      gpointer        user_data);

/**
 * EvcpHandlerInfo:
 * Counters of one registered handler, a snapshot.
 */
typedef struct {
  gchar   *name;
  gboolean enabled;
  guint64  handled;   /* messages it handled successfully */
  guint64  failed;    /* messages it failed on for good */
  guint64  retries;   /* attempts after a transient failure */
} EvcpHandlerInfo;

GType            evcp_handler_info_get_type (void) G_GNUC_CONST;
void             evcp_handler_info_free     (EvcpHandlerInfo *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EvcpHandlerInfo, evcp_handler_info_free)

EvcpDispatcher  *evcp_dispatcher_new               (void);
void             evcp_dispatcher_set_retry_policy  (EvcpDispatcher      *self,
                                                    guint                attempts,
                                                    guint                backoff_ms,
                                                    guint                backoff_max_ms);
gboolean         evcp_dispatcher_register          (EvcpDispatcher      *self,
                                                    EvcpMessageHandler  *handler,
                                                    GError             **error);
gboolean         evcp_dispatcher_unregister        (EvcpDispatcher      *self,
                                                    const gchar         *name,
                                                    GError             **error);
gboolean         evcp_dispatcher_set_enabled       (EvcpDispatcher      *self,
                                                    const gchar         *name,
                                                    gboolean             enabled,
                                                    GError             **error);
EvcpMessageHandler *evcp_dispatcher_lookup         (EvcpDispatcher      *self,
                                                    const gchar         *name);
GPtrArray       *evcp_dispatcher_list_handlers     (EvcpDispatcher      *self) G_GNUC_WARN_UNUSED_RESULT;
void             evcp_dispatcher_dispatch          (EvcpDispatcher      *self,
                                                    EvcpMessage         *message,
                                                    EvcpDispatchDoneFunc done,
                                                    gpointer             user_data);
guint            evcp_dispatcher_get_in_flight     (EvcpDispatcher      *self);

/* For the owner (EvcpKafkaService): called for every handler's final
 * outcome, like "message-handled", but as a plain call: no signal emission
 * on the per-message path when nobody listens. */
typedef void (*EvcpDispatchHandledHook) (EvcpMessage *message, const gchar *handler,
                                         gboolean ok, gpointer user_data);
void             evcp_dispatcher_set_handled_hook  (EvcpDispatcher          *self,
                                                    EvcpDispatchHandledHook  hook,
                                                    gpointer                 user_data);
void             evcp_dispatcher_cancel_all        (EvcpDispatcher      *self);

/* Per kind: a{s(ttt)}: kind -> (received, handled, failed). Kinds beyond the
 * first 256 are counted under "(other)" so that hostile traffic cannot grow it. */
GVariant        *evcp_dispatcher_get_kind_stats    (EvcpDispatcher      *self);

G_END_DECLS
