/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib-object.h>

#include "evcp-message-handler.h"
#include "evcp-monitor-alert.h"
#include "evcp-monitor-status.h"

G_BEGIN_DECLS

/*
 * The services a plugin is given, as a plugin sees them: opaque GObjects
 * (their types are the programs' own; a plugin never needs them).
 *
 * EvcpKafkaService, the Engine's consumer (evcp_engine_plugin_init):
 *   register a handler, remove it, or observe every finished message with
 *   a done hook. Its signals, for observers (g_signal_connect by name):
 *   "message-received" (EvcpMessage *message): consumed, before dispatch;
 *   "message-handled" (EvcpMessage *message, const gchar *handler, gboolean ok);
 *   "handler-failed" (EvcpMessage *message, const gchar *handler, GError *error,
 *       guint attempt, gboolean will_retry);
 *   "message-dead-lettered" (EvcpMessage *message, GError *error);
 *   "message-done" (EvcpMessage *message, GError *dead_letter_error or NULL):
 *       finished, its offset will be committed.
 *
 * EvcpMonitoringService, the Monitor (evcp_monitor_plugin_init): an output
 * plugin connects to its signals:
 *   "status-changed" (const EvcpMonitorStatus *status);
 *   "alert" (const EvcpMonitorAlert *alert, const EvcpMonitorStatus *status).
 *
 * Every signal is emitted on the program's main context.
 */
/**
 * EvcpKafkaService:
 *
 * The Engine's consumer, as a plugin sees it (evcp_engine_plugin_init()):
 * opaque; register handlers, add done hooks, connect to its signals by name
 * (see the top of evcp-plugin-services.h).
 *
 * Since: 0.1
 */
typedef struct _EvcpKafkaService      EvcpKafkaService;
/**
 * EvcpMonitoringService:
 *
 * The Monitor, as an output plugin sees it (evcp_monitor_plugin_init()):
 * opaque; connect to "status-changed" and "alert" by name.
 *
 * Since: 0.1
 */
typedef struct _EvcpMonitoringService EvcpMonitoringService;

/**
 * evcp_kafka_service_register_handler:
 * @self: the Engine's consumer
 * @handler: a handler; the service takes a reference
 * @error: %EVCP_ERROR_EXISTS if a handler of the same name is registered
 *
 * Adds @handler to the dispatch.
 *
 * Returns: %TRUE when registered
 *
 * Since: 0.1
 */
gboolean  evcp_kafka_service_register_handler   (EvcpKafkaService    *self,
                                                 EvcpMessageHandler  *handler,
                                                 GError             **error);
/**
 * evcp_kafka_service_unregister_handler:
 * @self: the Engine's consumer
 * @name: the handler's name
 * @error: %EVCP_ERROR_NOT_FOUND if none has that name
 *
 * Removes the handler named @name from the dispatch; a message it is
 * handling finishes first.
 *
 * Returns: %TRUE when removed
 *
 * Since: 0.1
 */
gboolean  evcp_kafka_service_unregister_handler (EvcpKafkaService    *self,
                                                 const gchar         *name,
                                                 GError             **error);

/**
 * EvcpKafkaDoneFunc:
 * @message: the message, handled or safely in dead_letters
 * @dead_letter_error: (nullable): why it went to dead_letters, or %NULL
 * @user_data: the data given to evcp_kafka_service_add_done_hook()
 *
 * Called for every finished message, as the signal "message-done" of
 * #EvcpKafkaService is, on the service's main context.
 *
 * Since: 0.1
 */
typedef void (*EvcpKafkaDoneFunc) (EvcpMessage  *message,
                                   const GError *dead_letter_error,
                                   gpointer      user_data);

/**
 * evcp_kafka_service_add_done_hook:
 * @self: the Engine's consumer
 * @func: (scope forever): the hook
 * @user_data: (closure func): given to @func
 *
 * A C function called for every finished message: for in-process
 * observers that need every one (metrics, tracing, benchmarks), at the
 * cost of a function call where a signal emission costs more than the
 * dispatch of a typical message. Hooks must not add or remove hooks.
 *
 * Returns: the hook's id, for evcp_kafka_service_remove_done_hook()
 *
 * Since: 0.1
 */
guint     evcp_kafka_service_add_done_hook      (EvcpKafkaService    *self,
                                                 EvcpKafkaDoneFunc    func,
                                                 gpointer             user_data);
/**
 * evcp_kafka_service_remove_done_hook:
 * @self: the Engine's consumer
 * @id: the hook's id
 *
 * Removes a hook added with evcp_kafka_service_add_done_hook().
 *
 * Since: 0.1
 */
void      evcp_kafka_service_remove_done_hook   (EvcpKafkaService    *self,
                                                 guint                id);

G_END_DECLS
