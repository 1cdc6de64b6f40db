/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib-object.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/*
 * EvcpCentralKafka: the Central's consumer of what the charging points
 * publish (charging_sessions, monitoring_events), driven from the main loop
 * by a GSource woken by librdkafka's queue events (evcp-kafka-source.h).
 *
 * Each message whose value is a JSON object is emitted as "message"; its
 * offset is stored for the next commit once the handlers returned (at least
 * once: the receiver deduplicates). Kafka being down is logged and retried
 * by librdkafka; it is never an error of the caller.
 */

#define EVCP_CENTRAL_KAFKA_SESSIONS_TOPIC   "charging_sessions"
#define EVCP_CENTRAL_KAFKA_MONITORING_TOPIC "monitoring_events"
#define EVCP_CENTRAL_KAFKA_DEFAULT_GROUP    "evcp-central"

#define EVCP_TYPE_CENTRAL_KAFKA (evcp_central_kafka_get_type ())
G_DECLARE_FINAL_TYPE (EvcpCentralKafka, evcp_central_kafka, EVCP, CENTRAL_KAFKA, GObject)

EvcpCentralKafka *evcp_central_kafka_new          (const gchar       *brokers,
                                                   const gchar       *group_id,
                                                   GHashTable        *overrides,
                                                   GHashTable        *consumer_overrides);
/* FALSE only for a configuration error. */
gboolean          evcp_central_kafka_start        (EvcpCentralKafka  *self,
                                                   GError           **error);
/* Commits what was handled and leaves the group. */
void              evcp_central_kafka_stop         (EvcpCentralKafka  *self);
/* "connecting", "connected" (partitions assigned), "unavailable", "stopped" */
const gchar      *evcp_central_kafka_get_status   (EvcpCentralKafka  *self);
guint64           evcp_central_kafka_get_received (EvcpCentralKafka  *self);
/* Records skipped: not a JSON object within the limits (1 MiB, 64 levels of
 * nesting, UTF-8); their offsets are committed like the others. */
guint64           evcp_central_kafka_get_skipped  (EvcpCentralKafka  *self);

/*
 * Signals:
 *   "message" (const gchar *topic, JsonObject *root): one consumed event;
 *   notify::status.
 */

G_END_DECLS
