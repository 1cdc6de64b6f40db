/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "evcp-kafka"

#include "evcp-build-config.h"

#include <glib/gi18n-lib.h>

#include "evcp-kafka-consumer.h"
#include "evcp-kafka-fetch-waker.h"
#include "evcp-kafka-source.h"

/* records a batch handles at most before other sources have their turn */
#define DRAIN_BUDGET 256

struct _EvcpKafkaConsumer
{
  const EvcpKafkaConsumerCallbacks *callbacks;
  gpointer      user_data;

  rd_kafka_t   *rk;
  GSource      *source;
  guint         drain_timer;
  EvcpKafkaFetchWaker *waker;     /* librdkafka before 2.2, if asked; or NULL */
  guint64       wakeups;          /* by the wakers gone */

  /* the last topic seen: librdkafka's name and the interned one */
  const gchar  *topic_seen;
  const gchar  *topic_interned;

  rd_kafka_topic_partition_list_t *to_store;
  gint          last_stored;      /* index in to_store of the last offset stored, or -1 */
  const gchar  *last_stored_topic;
};

EvcpKafkaConsumer *
evcp_kafka_consumer_new (const EvcpKafkaConsumerCallbacks *callbacks,
                         gpointer                          user_data)
{
  EvcpKafkaConsumer *self;

  g_return_val_if_fail (callbacks != NULL && callbacks->record != NULL, NULL);

  self = g_new0 (EvcpKafkaConsumer, 1);
  self->callbacks = callbacks;
  self->user_data = user_data;
  self->to_store = rd_kafka_topic_partition_list_new (8);
  self->last_stored = -1;
  return self;
}

/**
 * evcp_kafka_consumer_free:
 *
 * The handle must have been detached.
 */
void
evcp_kafka_consumer_free (EvcpKafkaConsumer *self)
{
  if (self == NULL)
    return;
  g_warn_if_fail (self->rk == NULL);
  rd_kafka_topic_partition_list_destroy (self->to_store);
  g_free (self);
}

static gboolean
ready (EvcpKafkaConsumer *self)
{
  return self->callbacks->ready == NULL || self->callbacks->ready (self->user_data);
}

static gboolean
waker_busy (gpointer user_data)
{
  return !ready (user_data);
}

static const gchar *
interned_topic (EvcpKafkaConsumer *self, rd_kafka_message_t *m)
{
  const gchar *name = rd_kafka_topic_name (m->rkt);

  /* a topic's name stays at one address while the handle lives */
  if (name != self->topic_seen)
    {
      self->topic_seen = name;
      self->topic_interned = g_intern_string (name);
    }
  return self->topic_interned;
}

/* Errors in the queue: most are librdkafka telling what it does about a
 * passing trouble (it retries by itself); a topic that is missing or
 * refused is the operator's. Fatal errors come to the error callback. */
static void
log_error (rd_kafka_message_t *m)
{
  switch (m->err)
    {
    case RD_KAFKA_RESP_ERR__PARTITION_EOF:
      break;
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
      g_warning (_("Kafka topic %s: %s"), m->rkt != NULL ? rd_kafka_topic_name (m->rkt) : "?",
                 rd_kafka_message_errstr (m));
      break;
    default:
      g_info ("Kafka consumer: %s", rd_kafka_message_errstr (m));
      break;
    }
}

/**
 * evcp_kafka_consumer_dispatch:
 *
 * Polls and handles a batch now (the sources call this too).
 */
void
evcp_kafka_consumer_dispatch (EvcpKafkaConsumer *self)
{
  const EvcpKafkaConsumerCallbacks *cb = self->callbacks;
  guint budget = DRAIN_BUDGET;

  if (cb->begin != NULL)
    cb->begin (self->user_data);
  if (self->waker != NULL)
    evcp_kafka_fetch_waker_begin (self->waker);
  while (self->rk != NULL && budget > 0 && ready (self))
    {
      rd_kafka_message_t *m = rd_kafka_consumer_poll (self->rk, 0);

      if (m == NULL)
        {
          if (self->waker != NULL)
            evcp_kafka_fetch_waker_drained (self->waker);
          break;
        }
      budget--;
      if (self->waker != NULL)
        evcp_kafka_fetch_waker_polled (self->waker);
      if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR)
        log_error (m);
      else
        {
          const gchar *topic = interned_topic (self, m);

          if (self->waker != NULL)
            evcp_kafka_fetch_waker_record (self->waker, topic, m->partition, m->len);
          cb->record (self->user_data, m, topic);
          /* the handle (and its waker) may have gone meanwhile */
          if (self->waker != NULL)
            evcp_kafka_fetch_waker_handled (self->waker, topic, m->partition, m->offset + 1);
        }
      rd_kafka_message_destroy (m);
      if (self->waker != NULL)
        evcp_kafka_fetch_waker_left (self->waker);
    }
  if (cb->end != NULL)
    cb->end (self->user_data);
  evcp_kafka_consumer_flush_offsets (self);
  /* More may be queued: come back after other sources had their turn. */
  if (budget == 0 && ready (self))
    evcp_kafka_consumer_wake (self);
}

static gboolean
drain_cb (gpointer user_data)
{
  evcp_kafka_consumer_dispatch (user_data);
  return G_SOURCE_CONTINUE;
}

/**
 * evcp_kafka_consumer_wake:
 *
 * Dispatches again soon, from the main loop (after ready() said no).
 */
void
evcp_kafka_consumer_wake (EvcpKafkaConsumer *self)
{
  if (self->source != NULL)
    evcp_kafka_source_wake (self->source);
}

/**
 * evcp_kafka_consumer_attach:
 * @rk: (transfer full): a consumer handle, its callbacks set
 * @wake_fetcher: wake librdkafka's fetcher where it needs it (the Engine's
 *   small queues); without, the program keeps librdkafka's behaviour
 *
 * Forwards @rk's main queue to its consumer queue and polls it on the
 * thread-default main context.
 */
void
evcp_kafka_consumer_attach (EvcpKafkaConsumer *self,
                            rd_kafka_t        *rk,
                            gboolean           wake_fetcher)
{
  GMainContext *context = g_main_context_get_thread_default ();

  g_return_if_fail (self->rk == NULL);

  self->rk = rk;
  self->topic_seen = NULL;   /* names of another handle's topics */
  rd_kafka_poll_set_consumer (rk);
  if (wake_fetcher && evcp_kafka_fetch_waker_needed ())
    self->waker = evcp_kafka_fetch_waker_new (rk, waker_busy, self);
  self->source = evcp_kafka_source_new (rd_kafka_queue_get_consumer (rk), context);
  g_source_set_callback (self->source, drain_cb, self, NULL);
  g_source_attach (self->source, context);
  /* Serves rebalances, statistics and max.poll.interval.ms even when no
   * message arrives; 1 Hz costs nothing measurable. */
  self->drain_timer = g_timeout_add_seconds (1, drain_cb, self);
}

/**
 * evcp_kafka_consumer_detach:
 *
 * Stops polling. Offsets stored since the last batch stay for the next
 * handle: call evcp_kafka_consumer_flush_offsets() first to give them to
 * this one (before a close that commits).
 *
 * Returns: (transfer full) (nullable): the handle, for the program to close
 */
rd_kafka_t *
evcp_kafka_consumer_detach (EvcpKafkaConsumer *self)
{
  if (self->source != NULL)
    {
      g_source_destroy (self->source);
      g_clear_pointer (&self->source, g_source_unref);
    }
  g_clear_handle_id (&self->drain_timer, g_source_remove);
  if (self->waker != NULL)
    self->wakeups += evcp_kafka_fetch_waker_get_wakeups (self->waker);
  g_clear_pointer (&self->waker, evcp_kafka_fetch_waker_free);
  return g_steal_pointer (&self->rk);
}

rd_kafka_t *
evcp_kafka_consumer_get_handle (EvcpKafkaConsumer *self)
{
  return self->rk;
}

/**
 * evcp_kafka_consumer_store_offset:
 * @topic: interned (or librdkafka's name of it)
 * @next: the offset after the last record finished
 *
 * Stored at the end of the batch (or by flush_offsets).
 */
void
evcp_kafka_consumer_store_offset (EvcpKafkaConsumer *self,
                                  const gchar       *topic,
                                  gint32             partition,
                                  gint64             next)
{
  rd_kafka_topic_partition_t *tp = NULL;

  /* consecutive messages mostly come from one partition: try the last first */
  if (self->last_stored >= 0 && topic == self->last_stored_topic &&
      self->to_store->elems[self->last_stored].partition == partition)
    tp = &self->to_store->elems[self->last_stored];
  if (tp == NULL)
    {
      tp = rd_kafka_topic_partition_list_find (self->to_store, topic, partition);
      if (tp == NULL)
        tp = rd_kafka_topic_partition_list_add (self->to_store, topic, partition);
      self->last_stored = (gint) (tp - self->to_store->elems);
      self->last_stored_topic = topic;
    }
  tp->offset = next;
}

/**
 * evcp_kafka_consumer_flush_offsets:
 *
 * Gives librdkafka the offsets stored, for its next commit.
 */
void
evcp_kafka_consumer_flush_offsets (EvcpKafkaConsumer *self)
{
  if (self->to_store->cnt == 0 || self->rk == NULL)
    return;
  if (rd_kafka_offsets_store (self->rk, self->to_store) != RD_KAFKA_RESP_ERR_NO_ERROR)
    {
      for (int i = 0; i < self->to_store->cnt; i++)
        {
          rd_kafka_topic_partition_t *tp = &self->to_store->elems[i];

          /* _STATE: the partition was revoked meanwhile; its new owner
           * gets the message again (at least once). */
          if (tp->err != RD_KAFKA_RESP_ERR_NO_ERROR && tp->err != RD_KAFKA_RESP_ERR__STATE)
            {
              g_autofree gchar *offset = g_strdup_printf ("%" G_GINT64_FORMAT, tp->offset);

              g_warning (_("Cannot store offset %s[%d]@%s: %s"), tp->topic, tp->partition, offset,
                         rd_kafka_err2str (tp->err));
            }
        }
    }
  rd_kafka_topic_partition_list_destroy (self->to_store);
  self->to_store = rd_kafka_topic_partition_list_new (8);
  self->last_stored = -1;
}

/**
 * evcp_kafka_consumer_statistics:
 *
 * librdkafka's statistics, for the fetcher's wake-up.
 */
void
evcp_kafka_consumer_statistics (EvcpKafkaConsumer *self,
                                JsonObject        *root,
                                guint              rtt_ms)
{
  if (self->waker != NULL)
    evcp_kafka_fetch_waker_statistics (self->waker, root, rtt_ms);
}

/**
 * evcp_kafka_consumer_get_fetcher_wakeups:
 *
 * Returns: the seeks that woke librdkafka's fetcher, over every handle
 */
guint64
evcp_kafka_consumer_get_fetcher_wakeups (EvcpKafkaConsumer *self)
{
  return self->wakeups + (self->waker != NULL ? evcp_kafka_fetch_waker_get_wakeups (self->waker) : 0);
}
