/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "evcp-kafka"

#include "evcp-build-config.h"

#include <string.h>

#include "evcp-kafka-fetch-waker.h"
#include "evcp-kafka-util.h"

/*
 * librdkafka 2.0.2 stops fetching for a partition while the local queue
 * holds queued.min.messages or queued.max.messages.kbytes (with the consumer
 * queue, these count the whole queue), and decides again only when its
 * broker thread wakes: on an answer, an operation, or after at most 1 s (2.2
 * added fetch.queue.backoff.ms for this). The application draining the queue
 * wakes nobody, so a queue drained faster than that stays empty for up to a
 * second. A seek to the application's own position (the next offset to
 * consume: nothing skipped, nothing repeated) is an operation: it wakes the
 * broker thread at once, which then decides for all its partitions.
 *
 * A seek is not free: what was fetched for that partition and not yet
 * consumed, or is being fetched, becomes outdated and is fetched again, and
 * outdated messages count in the queue until polled (a seek at the wrong
 * moment can keep the fetcher stopped). So the waker looks at the queue's
 * length every few messages and seeks only:
 *  - after it saw the queue over a threshold (estimated bytes: its length
 *    times the mean message size, with a margin): the broker then decided
 *    to stop at that size, with nothing in flight, and nothing can arrive.
 *    Early: as soon as the queue is below the thresholds again (where
 *    librdkafka would fetch if it looked) and the partition just read has
 *    nothing left in it (the rest of the queue is the tail of one answer:
 *    each partition once), that partition, so that the next answer comes
 *    while the rest is handled. Late: when the queue is empty, every
 *    partition whose broker was not woken early (leaders from the
 *    statistics; before they come, a partition of unknown leader counts as
 *    woken if one was, and another broker wakes on its own within 1 s);
 *  - otherwise, when the queue stayed empty while a partition is behind its
 *    high watermark for longer than a fetch takes (twice the brokers' p99
 *    round trip from the statistics, three times the time the last seeks
 *    took to bring messages, at least SAMPLE_DELAY_MIN_MS), doubling that
 *    delay while seeks bring nothing.
 */
#define SAMPLE_EVERY     32     /* at most, messages between two looks at the queue */
/* the queue's bytes are estimated (its length times the running mean size
 * of a message): over this share of the threshold, take it as reached */
#define BYTES_SURE       0.85
#define DELAY_MIN_MS     10
/* before the statistics tell the round trip (every statistics.interval.ms,
 * 5 s by default): short, as a wake-up that brings nothing doubles it; at
 * 100 ms, a keyed CP reading a whole topic stood still 100 ms each time its
 * queue ran dry in its first seconds (bench/run, keyed) */
#define DELAY_START_MS   20
#define DELAY_MAX_MS     500

struct _EvcpKafkaFetchWaker
{
  const EvcpKafkaFetchWakerOps *ops;
  gpointer      user_data;

  /* with librdkafka (evcp_kafka_fetch_waker_new) */
  rd_kafka_t   *rk;
  rd_kafka_queue_t *queue;
  EvcpKafkaFetchWakerBusyFunc busy;
  gpointer      busy_data;
  guint         timer_id;

  gint64        stop_messages;     /* queued.min.messages */
  gint64        stop_bytes;        /* queued.max.messages.kbytes */
  gboolean      stopped;           /* seen over either since the last seek */
  gboolean      stop_pending;      /* ... since the last seek at an empty queue */
  GHashTable   *leaders;           /* "topic/partition" -> leader id, from the statistics */
  GArray       *woken_leaders;     /* of gint32: woken early since then */
  gchar        *early_key;         /* "topic/partition" of the last early seek */
  gint64        queued_estimate;   /* at the last look, minus those polled since */
  guint         since_sample;
  guint         sample_every;      /* a small part of the threshold */
  gdouble       mean_size;         /* of a message's value, running */
  const gchar  *last_topic;        /* interned; the last record handled */
  int32_t       last_partition;
  int64_t       last_next;
  gboolean      polled_any;        /* in this batch */
  gboolean      timer_armed;
  guint         delay_ms;
  guint         fetch_rtt_ms;      /* brokers' p99 round trip, from the statistics */
  gint64        sought_at;         /* time of a seek not answered yet, or 0 */
  guint         answer_ms;         /* how long answers to seeks took (decaying max) */
  guint64       wakeups;
};

/**
 * evcp_kafka_fetch_waker_needed_for:
 * @version: as rd_kafka_version() gives it
 *
 * Returns: whether a librdkafka of this version lacks fetch.queue.backoff.ms
 */
gboolean
evcp_kafka_fetch_waker_needed_for (guint version)
{
  return version < EVCP_KAFKA_FETCH_QUEUE_BACKOFF_VERSION;
}

/**
 * evcp_kafka_fetch_waker_needed:
 *
 * Returns: whether the librdkafka running lacks fetch.queue.backoff.ms;
 *   logs once which way was chosen
 */
gboolean
evcp_kafka_fetch_waker_needed (void)
{
  static gsize logged = 0;
  gboolean needed = evcp_kafka_fetch_waker_needed_for ((guint) rd_kafka_version ());

  if (g_once_init_enter (&logged))
    {
      if (needed)
        g_message ("librdkafka %s lacks fetch.queue.backoff.ms: evcp wakes its fetcher",
                   rd_kafka_version_str ());
      else
        g_message ("librdkafka %s: fetch.queue.backoff.ms=%s (unless configured)",
                   rd_kafka_version_str (), EVCP_KAFKA_FETCH_QUEUE_BACKOFF_MS);
      g_once_init_leave (&logged, 1);
    }
  return needed;
}

/* ---- librdkafka and the main loop, for the real consumer ----------------- */

static gint64
rk_queue_length (gpointer user_data)
{
  EvcpKafkaFetchWaker *self = user_data;

  return (gint64) rd_kafka_queue_length (self->queue);
}

static rd_kafka_topic_partition_list_t *
rk_positions (gpointer user_data, gboolean lagging_only)
{
  EvcpKafkaFetchWaker *self = user_data;
  rd_kafka_topic_partition_list_t *assignment = NULL;
  g_autoptr(rd_kafka_topic_partition_list_t) positions = NULL;
  rd_kafka_topic_partition_list_t *out;

  if (rd_kafka_assignment (self->rk, &assignment) != RD_KAFKA_RESP_ERR_NO_ERROR)
    return rd_kafka_topic_partition_list_new (0);
  positions = assignment;
  out = rd_kafka_topic_partition_list_new (positions->cnt);
  if (positions->cnt == 0 || rd_kafka_position (self->rk, positions) != RD_KAFKA_RESP_ERR_NO_ERROR)
    return out;
  for (int i = 0; i < positions->cnt; i++)
    {
      rd_kafka_topic_partition_t *p = &positions->elems[i];
      int64_t low, high;

      /* seeking a partition without a position would start an offset
       * look-up and hold it back */
      if (p->offset < 0)
        continue;
      if (lagging_only &&
          (rd_kafka_get_watermark_offsets (self->rk, p->topic, p->partition, &low, &high)
             != RD_KAFKA_RESP_ERR_NO_ERROR || high <= p->offset))
        continue;
      rd_kafka_topic_partition_list_add (out, p->topic, p->partition)->offset = p->offset;
    }
  return out;
}

static void
rk_seek (gpointer user_data, rd_kafka_topic_partition_list_t *partitions)
{
  EvcpKafkaFetchWaker *self = user_data;
  /* timeout 0: asynchronous */
  rd_kafka_error_t *error = rd_kafka_seek_partitions (self->rk, partitions, 0);

  if (error != NULL)
    {
      g_debug ("Fetcher wake-up: %s", rd_kafka_error_string (error));
      rd_kafka_error_destroy (error);
    }
}

static gint64
rk_now (gpointer user_data)
{
  return g_get_monotonic_time ();
}

static gboolean
rk_timer_cb (gpointer user_data)
{
  EvcpKafkaFetchWaker *self = user_data;

  self->timer_id = 0;
  evcp_kafka_fetch_waker_timer_fired (self);
  return G_SOURCE_REMOVE;
}

static void
rk_timer_set (gpointer user_data, guint delay_ms)
{
  EvcpKafkaFetchWaker *self = user_data;

  g_clear_handle_id (&self->timer_id, g_source_remove);
  if (delay_ms > 0)
    self->timer_id = g_timeout_add (delay_ms, rk_timer_cb, self);
}

static gboolean
rk_busy (gpointer user_data)
{
  EvcpKafkaFetchWaker *self = user_data;

  return self->busy != NULL && self->busy (self->busy_data);
}

static const EvcpKafkaFetchWakerOps rk_ops = {
  rk_queue_length, rk_positions, rk_seek, rk_now, rk_timer_set, rk_busy,
};

/**
 * evcp_kafka_fetch_waker_new:
 * @rk: a consumer whose main queue is forwarded to its consumer queue
 * @busy: (nullable): whether the consumer loop holds a message
 *
 * Returns: a waker of @rk's fetcher, on the thread-default main context
 */
EvcpKafkaFetchWaker *
evcp_kafka_fetch_waker_new (rd_kafka_t                  *rk,
                            EvcpKafkaFetchWakerBusyFunc  busy,
                            gpointer                     busy_data)
{
  EvcpKafkaFetchWaker *self;

  self = evcp_kafka_fetch_waker_new_with_ops (&rk_ops, NULL,
                                              evcp_kafka_conf_get_int (rk, "queued.min.messages", 100000),
                                              evcp_kafka_conf_get_int (rk, "queued.max.messages.kbytes", 65536) * 1024);
  self->user_data = self;
  self->rk = rk;
  self->queue = rd_kafka_queue_get_consumer (rk);
  self->busy = busy;
  self->busy_data = busy_data;
  return self;
}

/**
 * evcp_kafka_fetch_waker_new_with_ops:
 * @stop_messages: queued.min.messages
 * @stop_bytes: queued.max.messages.kbytes, in bytes
 *
 * Returns: a waker that asks @ops for everything
 */
EvcpKafkaFetchWaker *
evcp_kafka_fetch_waker_new_with_ops (const EvcpKafkaFetchWakerOps *ops,
                                     gpointer                      user_data,
                                     gint64                        stop_messages,
                                     gint64                        stop_bytes)
{
  EvcpKafkaFetchWaker *self = g_new0 (EvcpKafkaFetchWaker, 1);

  self->ops = ops;
  self->user_data = user_data;
  self->stop_messages = MAX (stop_messages, 1);
  self->stop_bytes = MAX (stop_bytes, 1);
  /* the margin of a look is what leaves the queue until the next one: a
   * small part of the threshold, so that a look over it is a sure sign */
  self->sample_every = (guint) CLAMP (self->stop_messages / 8, 1, SAMPLE_EVERY);
  self->woken_leaders = g_array_new (FALSE, FALSE, sizeof (gint32));
  self->mean_size = 256;
  return self;
}

void
evcp_kafka_fetch_waker_free (EvcpKafkaFetchWaker *self)
{
  if (self == NULL)
    return;
  if (self->timer_armed)
    self->ops->timer_set (self->user_data, 0);
  g_clear_handle_id (&self->timer_id, g_source_remove);
  if (self->wakeups > 0)
    g_debug ("Kafka fetcher woken %" G_GUINT64_FORMAT " times", self->wakeups);
  g_clear_pointer (&self->queue, rd_kafka_queue_destroy);
  g_array_unref (self->woken_leaders);
  g_clear_pointer (&self->leaders, g_hash_table_unref);
  g_free (self->early_key);
  g_free (self);
}

/* ---- the decisions ------------------------------------------------------- */

static void
timer_arm (EvcpKafkaFetchWaker *self)
{
  if (self->timer_armed)
    return;
  if (self->delay_ms == 0)
    {
      /* longer than a fetch takes: twice the brokers' p99 round trip, three
       * times the longest of the last wake-ups' answers */
      guint fetch_ms = MAX (2 * self->fetch_rtt_ms, 3 * self->answer_ms);

      self->delay_ms = fetch_ms > 0 ? CLAMP (fetch_ms, DELAY_MIN_MS, DELAY_MAX_MS) : DELAY_START_MS;
    }
  self->timer_armed = TRUE;
  self->ops->timer_set (self->user_data, self->delay_ms);
}

static void
timer_cancel (EvcpKafkaFetchWaker *self)
{
  if (!self->timer_armed)
    return;
  self->timer_armed = FALSE;
  self->ops->timer_set (self->user_data, 0);
}

static void
seek (EvcpKafkaFetchWaker *self, rd_kafka_topic_partition_list_t *partitions)
{
  if (partitions->cnt == 0)
    return;
  self->wakeups++;
  self->ops->seek (self->user_data, partitions);
}

static gint32
partition_leader (EvcpKafkaFetchWaker *self, const gchar *key)
{
  gpointer leader;

  if (self->leaders == NULL || !g_hash_table_lookup_extended (self->leaders, key, NULL, &leader))
    return -1;
  return GPOINTER_TO_INT (leader);
}

/* the broker leading this partition was woken early: its fetch may be on
 * its way */
static gboolean
woken_early (EvcpKafkaFetchWaker *self, const gchar *topic, int32_t partition)
{
  g_autofree gchar *key = g_strdup_printf ("%s/%d", topic, partition);
  gint32 leader = partition_leader (self, key);

  if (self->early_key != NULL && strcmp (key, self->early_key) == 0)
    return TRUE;
  if (leader < 0)
    /* not known (no statistics yet): likely the same broker, whose fetch a
     * seek would cancel; another one wakes on its own within a second */
    return self->early_key != NULL;
  for (guint i = 0; i < self->woken_leaders->len; i++)
    if (g_array_index (self->woken_leaders, gint32, i) == leader)
      return TRUE;
  return FALSE;
}

/* every partition with a position whose broker was not woken early */
static gboolean
seek_all_not_woken (EvcpKafkaFetchWaker *self)
{
  g_autoptr(rd_kafka_topic_partition_list_t) positions = self->ops->positions (self->user_data, FALSE);
  g_autoptr(rd_kafka_topic_partition_list_t) to_seek = rd_kafka_topic_partition_list_new (positions->cnt);

  for (int i = 0; i < positions->cnt; i++)
    {
      rd_kafka_topic_partition_t *p = &positions->elems[i];

      if (!woken_early (self, p->topic, p->partition))
        rd_kafka_topic_partition_list_add (to_seek, p->topic, p->partition)->offset = p->offset;
    }
  seek (self, to_seek);
  return to_seek->cnt > 0;
}

/* the partition whose last record was just handled has none left queued */
static void
seek_early (EvcpKafkaFetchWaker *self)
{
  g_autoptr(rd_kafka_topic_partition_list_t) one = rd_kafka_topic_partition_list_new (1);
  gint32 leader;

  rd_kafka_topic_partition_list_add (one, self->last_topic, self->last_partition)->offset = self->last_next;
  seek (self, one);
  g_free (self->early_key);
  self->early_key = g_strdup_printf ("%s/%d", self->last_topic, self->last_partition);
  leader = partition_leader (self, self->early_key);
  if (leader >= 0)
    g_array_append_val (self->woken_leaders, leader);
}

/* A look at the queue: over a threshold, the fetcher has stopped. Between
 * two looks, up to sample_every messages leave it. */
static void
sample_queue (EvcpKafkaFetchWaker *self)
{
  gint64 queued = self->ops->queue_length (self->user_data);

  self->queued_estimate = queued;
  self->since_sample = 0;
  if (queued + self->sample_every >= self->stop_messages ||
      (gdouble) (queued + self->sample_every) * self->mean_size >= BYTES_SURE * (gdouble) self->stop_bytes)
    self->stopped = self->stop_pending = TRUE;
}

/**
 * evcp_kafka_fetch_waker_begin:
 *
 * The consumer loop begins a batch of polls.
 */
void
evcp_kafka_fetch_waker_begin (EvcpKafkaFetchWaker *self)
{
  self->polled_any = FALSE;
  sample_queue (self);
}

/**
 * evcp_kafka_fetch_waker_polled:
 *
 * A poll gave a record or an error: the fetcher works.
 */
void
evcp_kafka_fetch_waker_polled (EvcpKafkaFetchWaker *self)
{
  if (G_LIKELY (self->polled_any))
    return;
  self->polled_any = TRUE;
  timer_cancel (self);
  if (self->sought_at != 0)
    {
      /* how long a woken fetcher took to answer: the largest of the last
       * ones, slowly forgotten */
      gint64 ms = (self->ops->now (self->user_data) - self->sought_at) / 1000 + 1;

      self->answer_ms = MAX ((guint) CLAMP (ms, 1, G_MAXUINT / 4), self->answer_ms - self->answer_ms / 8);
      self->sought_at = 0;
    }
}

/**
 * evcp_kafka_fetch_waker_record:
 * @topic: interned
 * @len: of its value
 *
 * A record is about to be handled.
 */
void
evcp_kafka_fetch_waker_record (EvcpKafkaFetchWaker *self,
                               const gchar         *topic,
                               int32_t              partition,
                               gsize                len)
{
  /* the fetcher stopped, the queue is low, and the partition read until
   * now has nothing left in it: wake the fetcher through it */
  if (self->stopped && self->last_topic != NULL &&
      (partition != self->last_partition || topic != self->last_topic) &&
      self->queued_estimate < self->stop_messages &&
      (gdouble) self->queued_estimate * self->mean_size < (gdouble) self->stop_bytes)
    {
      self->stopped = FALSE;
      seek_early (self);
    }
  self->mean_size += ((gdouble) len - self->mean_size) / 64;
}

/**
 * evcp_kafka_fetch_waker_handled:
 * @topic: interned
 *
 * The record announced by evcp_kafka_fetch_waker_record() was handled (or
 * is being handled): the consumer's position is @next_offset.
 */
void
evcp_kafka_fetch_waker_handled (EvcpKafkaFetchWaker *self,
                                const gchar         *topic,
                                int32_t              partition,
                                int64_t              next_offset)
{
  self->last_topic = topic;
  self->last_partition = partition;
  self->last_next = next_offset;
}

/**
 * evcp_kafka_fetch_waker_left:
 *
 * A polled record or error left the queue.
 */
void
evcp_kafka_fetch_waker_left (EvcpKafkaFetchWaker *self)
{
  if (self->queued_estimate > 0)
    self->queued_estimate--;
  if (++self->since_sample >= self->sample_every)
    sample_queue (self);
}

/**
 * evcp_kafka_fetch_waker_drained:
 *
 * A poll found the queue empty.
 */
void
evcp_kafka_fetch_waker_drained (EvcpKafkaFetchWaker *self)
{
  gboolean sought = FALSE;

  if (self->stop_pending)
    {
      /* every broker that stopped and was not woken early yet */
      sought = seek_all_not_woken (self);
      self->stopped = self->stop_pending = FALSE;
      g_array_set_size (self->woken_leaders, 0);
      g_clear_pointer (&self->early_key, g_free);
      if (sought)
        self->sought_at = self->ops->now (self->user_data);
    }
  if (!sought && self->polled_any)
    {
      /* maybe a fetch is on its way; if none comes, wake the fetcher */
      self->delay_ms = 0;
      timer_cancel (self);
      timer_arm (self);
    }
}

/**
 * evcp_kafka_fetch_waker_timer_fired:
 *
 * The delay asked with EvcpKafkaFetchWakerOps.timer_set has passed.
 */
void
evcp_kafka_fetch_waker_timer_fired (EvcpKafkaFetchWaker *self)
{
  g_autoptr(rd_kafka_topic_partition_list_t) lagging = NULL;

  self->timer_armed = FALSE;
  if ((self->ops->busy != NULL && self->ops->busy (self->user_data)) ||
      self->ops->queue_length (self->user_data) > 0)
    return;   /* something came: the consumer loop takes over */
  lagging = self->ops->positions (self->user_data, TRUE);
  if (lagging->cnt == 0)
    return;   /* caught up */
  seek (self, lagging);
  if (self->sought_at == 0)
    self->sought_at = self->ops->now (self->user_data);
  /* if this brings nothing either, wait longer before the next one */
  self->delay_ms = MIN (self->delay_ms * 2, DELAY_MAX_MS);
  timer_arm (self);
}

/**
 * evcp_kafka_fetch_waker_statistics:
 * @root: librdkafka's statistics
 * @rtt_ms: the brokers' p99 round trip, or 0 if none is known
 *
 * Who leads each partition, and how long a fetch takes.
 */
void
evcp_kafka_fetch_waker_statistics (EvcpKafkaFetchWaker *self,
                                   JsonObject          *root,
                                   guint                rtt_ms)
{
  JsonObject *topics;
  GList *names;

  if (rtt_ms > 0)
    self->fetch_rtt_ms = rtt_ms;
  if (!json_object_has_member (root, "topics") ||
      !JSON_NODE_HOLDS_OBJECT (json_object_get_member (root, "topics")))
    return;
  topics = json_object_get_object_member (root, "topics");
  g_clear_pointer (&self->leaders, g_hash_table_unref);
  names = json_object_get_members (topics);
  for (GList *t = names; t != NULL; t = t->next)
    {
      JsonNode *topic = json_object_get_member (topics, t->data);
      JsonNode *parts;
      GList *ids;

      if (!JSON_NODE_HOLDS_OBJECT (topic) ||
          (parts = json_object_get_member (json_node_get_object (topic), "partitions")) == NULL ||
          !JSON_NODE_HOLDS_OBJECT (parts))
        continue;
      ids = json_object_get_members (json_node_get_object (parts));
      for (GList *i = ids; i != NULL; i = i->next)
        {
          JsonNode *part = json_object_get_member (json_node_get_object (parts), i->data);
          gint64 leader;
          gint64 id;

          if (!JSON_NODE_HOLDS_OBJECT (part) ||
              !g_ascii_string_to_signed (i->data, 10, 0, G_MAXINT32, &id, NULL))
            continue;
          leader = json_object_get_int_member_with_default (json_node_get_object (part), "leader", -1);
          if (leader >= 0 && leader <= G_MAXINT32)
            evcp_kafka_fetch_waker_set_leader (self, t->data, (int32_t) id, (gint32) leader);
        }
      g_list_free (ids);
    }
  g_list_free (names);
  if (self->leaders == NULL)
    self->leaders = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}

/**
 * evcp_kafka_fetch_waker_set_leader:
 *
 * @leader (a broker id) leads this partition.
 */
void
evcp_kafka_fetch_waker_set_leader (EvcpKafkaFetchWaker *self,
                                   const gchar         *topic,
                                   int32_t              partition,
                                   gint32               leader)
{
  if (self->leaders == NULL)
    self->leaders = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_hash_table_insert (self->leaders, g_strdup_printf ("%s/%d", topic, partition), GINT_TO_POINTER (leader));
}

/**
 * evcp_kafka_fetch_waker_get_wakeups:
 *
 * Returns: the seeks that woke the fetcher
 */
guint64
evcp_kafka_fetch_waker_get_wakeups (EvcpKafkaFetchWaker *self)
{
  return self->wakeups;
}
