/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib-object.h>

#include "evcp-kafka-producer.h"
#include "evcp-outbox.h"

G_BEGIN_DECLS

/*
 * EvcpKafkaOutboxSender: sends the outbox's records due at EVCP_OUTBOX_KAFKA
 * with an (idempotent) EvcpKafkaProducer, on the thread-default main context.
 *
 * One record at a time, in seq order: each is produced to its topic with its
 * key and value, and acknowledged in the outbox when the broker acknowledged
 * it (delivery report without error). A failed delivery is retried, the same
 * record again, after a backoff that doubles from 200 ms to 10 s; a record
 * is never dropped, so a record that can never be delivered holds back those
 * after it (and says so in the log at every attempt after the first).
 *
 * A record sent late gets "replayed": true added under "data" (its
 * "timestamp" and data.seq stay as they were). Late means: it was already in
 * the outbox file when the process opened it (evcp_outbox_get_open_seq()),
 * or its first attempt failed, or it was appended while another record was
 * being retried. A record that librdkafka keeps queued while the broker is
 * unreachable, and delivers within message.timeout.ms, was not late: it
 * never failed.
 *
 * At least once: a record whose delivery report is lost (the process dies
 * first, or the report is a timeout although the broker stored it) is
 * produced again; consumers drop duplicates by data.seq. Within one run,
 * the idempotent producer never duplicates a message it retries itself.
 *
 * The sender wakes up on the outbox's "appended" signal.
 */

#define EVCP_TYPE_KAFKA_OUTBOX_SENDER (evcp_kafka_outbox_sender_get_type ())
G_DECLARE_FINAL_TYPE (EvcpKafkaOutboxSender, evcp_kafka_outbox_sender, EVCP, KAFKA_OUTBOX_SENDER, GObject)

EvcpKafkaOutboxSender *evcp_kafka_outbox_sender_new         (EvcpOutbox            *outbox,
                                                             EvcpKafkaProducer     *producer);
/* Starts sending on the thread-default main context (and keeps at it). */
void                   evcp_kafka_outbox_sender_start       (EvcpKafkaOutboxSender *self);
/* Produces nothing more; a delivery in flight is still acknowledged in the
 * outbox when its report comes, even after the sender is gone. */
void                   evcp_kafka_outbox_sender_stop        (EvcpKafkaOutboxSender *self);

/* For tests: the retry backoff (ms); 0 keeps the default (200, 10000). */
void                   evcp_kafka_outbox_sender_set_backoff (EvcpKafkaOutboxSender *self,
                                                             guint                  min_ms,
                                                             guint                  max_ms);
/* How many deliveries failed so far (each is retried). */
guint64                evcp_kafka_outbox_sender_get_failures (EvcpKafkaOutboxSender *self);
/* Whether a delivery is in flight or a retry is waiting. */
gboolean               evcp_kafka_outbox_sender_is_busy     (EvcpKafkaOutboxSender *self);

G_END_DECLS
