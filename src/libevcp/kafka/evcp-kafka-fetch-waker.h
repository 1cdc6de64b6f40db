/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include <librdkafka/rdkafka.h>

G_BEGIN_DECLS

/*
 * The fetch waker: wakes the fetcher of a librdkafka older than 2.2, which
 * stops fetching while its queue is full and looks again only up to a
 * second later (2.2 added fetch.queue.backoff.ms for this). See
 * evcp-kafka-fetch-waker.c for how and when.
 *
 * The consumer loop tells it what happens (a batch begins, a record comes,
 * one is handled, the queue is empty); it looks at the queue's length and
 * seeks partitions to their own position when the fetcher has stopped.
 * Everything it asks of librdkafka and of the clock goes through
 * EvcpKafkaFetchWakerOps, so that a test can drive it without a cluster.
 */

/* the version that has fetch.queue.backoff.ms (2.2.0 final) */
#define EVCP_KAFKA_FETCH_QUEUE_BACKOFF_VERSION 0x020200ff
/* what evcp sets fetch.queue.backoff.ms to where librdkafka has it */
#define EVCP_KAFKA_FETCH_QUEUE_BACKOFF_MS      "10"

typedef struct _EvcpKafkaFetchWaker EvcpKafkaFetchWaker;

typedef struct {
  /* messages in the consumer queue */
  gint64  (*queue_length) (gpointer user_data);
  /* the assigned partitions with a position (offset >= 0, their position);
   * with lagging_only, only those behind their high watermark. Caller
   * frees. */
  rd_kafka_topic_partition_list_t *(*positions) (gpointer user_data, gboolean lagging_only);
  /* seek these partitions to these offsets, asynchronously */
  void    (*seek)         (gpointer user_data, rd_kafka_topic_partition_list_t *partitions);
  /* monotonic time, µs */
  gint64  (*now)          (gpointer user_data);
  /* call evcp_kafka_fetch_waker_timer_fired() in delay_ms; 0: not at all */
  void    (*timer_set)    (gpointer user_data, guint delay_ms);
  /* the consumer loop holds a message (handlers retrying): not now */
  gboolean (*busy)        (gpointer user_data);
} EvcpKafkaFetchWakerOps;

typedef gboolean (*EvcpKafkaFetchWakerBusyFunc) (gpointer user_data);

gboolean evcp_kafka_fetch_waker_needed_for (guint version);
gboolean evcp_kafka_fetch_waker_needed     (void);

EvcpKafkaFetchWaker *evcp_kafka_fetch_waker_new          (rd_kafka_t                  *rk,
                                                          EvcpKafkaFetchWakerBusyFunc  busy,
                                                          gpointer                     busy_data);
EvcpKafkaFetchWaker *evcp_kafka_fetch_waker_new_with_ops (const EvcpKafkaFetchWakerOps *ops,
                                                          gpointer                      user_data,
                                                          gint64                        stop_messages,
                                                          gint64                        stop_bytes);
void                 evcp_kafka_fetch_waker_free         (EvcpKafkaFetchWaker *self);

void     evcp_kafka_fetch_waker_begin        (EvcpKafkaFetchWaker *self);
void     evcp_kafka_fetch_waker_polled       (EvcpKafkaFetchWaker *self);
void     evcp_kafka_fetch_waker_record       (EvcpKafkaFetchWaker *self,
                                              const gchar         *topic,
                                              int32_t              partition,
                                              gsize                len);
void     evcp_kafka_fetch_waker_handled      (EvcpKafkaFetchWaker *self,
                                              const gchar         *topic,
                                              int32_t              partition,
                                              int64_t              next_offset);
void     evcp_kafka_fetch_waker_left         (EvcpKafkaFetchWaker *self);
void     evcp_kafka_fetch_waker_drained      (EvcpKafkaFetchWaker *self);
void     evcp_kafka_fetch_waker_timer_fired  (EvcpKafkaFetchWaker *self);

void     evcp_kafka_fetch_waker_statistics   (EvcpKafkaFetchWaker *self,
                                              JsonObject          *root,
                                              guint                rtt_ms);
void     evcp_kafka_fetch_waker_set_leader   (EvcpKafkaFetchWaker *self,
                                              const gchar         *topic,
                                              int32_t              partition,
                                              gint32               leader);
guint64  evcp_kafka_fetch_waker_get_wakeups  (EvcpKafkaFetchWaker *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EvcpKafkaFetchWaker, evcp_kafka_fetch_waker_free)

G_END_DECLS
