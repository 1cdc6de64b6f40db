/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include <librdkafka/rdkafka.h>

G_BEGIN_DECLS

/*
 * The Kafka consumer loop of every evcp program (the Engine, evcp-central,
 * evcp-driver): it polls a consumer handle on the thread-default GMainLoop
 * (woken by its queue through evcp-kafka-source, and once a second for
 * rebalances, statistics and max.poll.interval.ms), in batches of at most
 * 256 records so that other sources get their turn; logs consumer errors
 * by their kind; stores the offsets the program gives it at the end of
 * each batch (at least once: enable.auto.offset.store=false, auto-commit
 * on); and, if asked and needed, wakes librdkafka 2.0.2's fetcher
 * (evcp-kafka-fetch-waker.h). The program handles the records.
 *
 * The loop object outlives the handles it polls: a program recreates its
 * handle (after a fatal error) and attaches the new one.
 */

typedef struct _EvcpKafkaConsumer EvcpKafkaConsumer;

typedef struct {
  /* whether the program takes records now (NULL: always); when it says
   * no, it calls evcp_kafka_consumer_wake() once it does again */
  gboolean (*ready)  (gpointer user_data);
  /* a batch begins / ends (nullable); offsets are stored after end */
  void     (*begin)  (gpointer user_data);
  void     (*end)    (gpointer user_data);
  /* a record (m->err is 0); @topic is its topic's name, interned */
  void     (*record) (gpointer user_data, rd_kafka_message_t *m, const gchar *topic);
} EvcpKafkaConsumerCallbacks;

EvcpKafkaConsumer *evcp_kafka_consumer_new          (const EvcpKafkaConsumerCallbacks *callbacks,
                                                     gpointer                          user_data);
void               evcp_kafka_consumer_free         (EvcpKafkaConsumer *self);

void               evcp_kafka_consumer_attach       (EvcpKafkaConsumer *self,
                                                     rd_kafka_t        *rk,
                                                     gboolean           wake_fetcher);
rd_kafka_t        *evcp_kafka_consumer_detach       (EvcpKafkaConsumer *self);
rd_kafka_t        *evcp_kafka_consumer_get_handle   (EvcpKafkaConsumer *self);

void               evcp_kafka_consumer_dispatch     (EvcpKafkaConsumer *self);
void               evcp_kafka_consumer_wake         (EvcpKafkaConsumer *self);

void               evcp_kafka_consumer_store_offset (EvcpKafkaConsumer *self,
                                                     const gchar       *topic,
                                                     gint32             partition,
                                                     gint64             next);
void               evcp_kafka_consumer_flush_offsets (EvcpKafkaConsumer *self);

void               evcp_kafka_consumer_statistics   (EvcpKafkaConsumer *self,
                                                     JsonObject        *root,
                                                     guint              rtt_ms);
guint64            evcp_kafka_consumer_get_fetcher_wakeups (EvcpKafkaConsumer *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EvcpKafkaConsumer, evcp_kafka_consumer_free)

G_END_DECLS
