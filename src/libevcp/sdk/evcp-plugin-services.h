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
typedef struct _EvcpKafkaService      EvcpKafkaService;
typedef struct _EvcpMonitoringService EvcpMonitoringService;

/* Adds @handler to the dispatch; fails with EVCP_ERROR_EXISTS if a handler
 * of the same name is registered. */
gboolean  evcp_kafka_service_register_handler   (EvcpKafkaService    *self,
                                                 EvcpMessageHandler  *handler,
                                                 GError             **error);
gboolean  evcp_kafka_service_unregister_handler (EvcpKafkaService    *self,
                                                 const gchar         *name,
                                                 GError             **error);

/**
 * EvcpKafkaDoneFunc:
 * @message: the message, handled or safely in dead_letters
 * @dead_letter_error: (nullable): why it went to dead_letters, or %NULL
 *
 * Called for every finished message, as #EvcpKafkaService::message-done
 * is, on the service's main context.
 */
typedef void (*EvcpKafkaDoneFunc) (EvcpMessage  *message,
                                   const GError *dead_letter_error,
                                   gpointer      user_data);

/* A C function called for every finished message: for in-process
 * observers that need every one (metrics, tracing, benchmarks), at the
 * cost of a function call where a signal emission costs more than the
 * dispatch of a typical message. Hooks must not add or remove hooks. */
guint     evcp_kafka_service_add_done_hook      (EvcpKafkaService    *self,
                                                 EvcpKafkaDoneFunc    func,
                                                 gpointer             user_data);
void      evcp_kafka_service_remove_done_hook   (EvcpKafkaService    *self,
                                                 guint                id);

G_END_DECLS
