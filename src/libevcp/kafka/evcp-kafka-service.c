/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "evcp-kafka"

#include "evcp-build-config.h"

#include <string.h>

#include <glib/gi18n-lib.h>

#include "evcp-enum.h"
#include "evcp-dead-letter.h"
#include "evcp-error.h"
#include "evcp-dispatcher-private.h"
#include "evcp-engine-host.h"
#include "evcp-frame-field.h"
#include "evcp-json-limits.h"
#include "evcp-kafka-consumer.h"
#include "evcp-kafka-fetch-waker.h"
#include "evcp-kafka-partition.h"
#include "evcp-kafka-record-check.h"
#include "evcp-kafka-service.h"
#include "evcp-kafka-security.h"
#include "evcp-kafka-util.h"
#include "evcp-marshal.h"
#include "evcp-message-private.h"

#define DRAIN_BUDGET            256
#define DEAD_LETTER_MAX_BYTES   (900 * 1000)   /* a record, at most (and under message.max.bytes) */
#define DEAD_LETTER_BACKOFF_MS  500
#define DEAD_LETTER_BACKOFF_MAX 30000
/* dead letters on their way at once: consumption goes on meanwhile, and
 * pauses only at these bounds (bytes: half the producer's queue) */
#define DEAD_LETTER_IN_FLIGHT   256
#define RESTART_BACKOFF_MS      1000
#define KEYED_FETCH_WAIT_MS     "5000"

/* What evcp chooses; the config file's [librdkafka] section overrides it.
 * A charging point needs small queues: librdkafka's defaults (64 MiB of
 * pre-fetched messages per partition set) are sized for data pipelines. */
static const gchar *const consumer_defaults[] = {
  "enable.auto.offset.store", "false",   /* stored by hand after handling */
  "enable.auto.commit", "true",
  "auto.commit.interval.ms", "1000",
  "auto.offset.reset", "earliest",
  "enable.partition.eof", "false",
  "queued.min.messages", "1000",
  "queued.max.messages.kbytes", "1024",
  "fetch.max.bytes", "2097152",
  "statistics.interval.ms", "5000",       /* broker states for the connection state */
  "reconnect.backoff.ms", "100",          /* capped exponential backoff */
  "reconnect.backoff.max.ms", "10000",
  "socket.keepalive.enable", "true",
  "socket.nagle.disable", "true",         /* small requests, sent at once */
  NULL
};

/* Keyed mode (the fleet) besides: an idle CP sends a fetch to each broker
 * leading one of its partitions every fetch.wait.max.ms, and a real broker
 * answers a waiting fetch as soon as data arrives, so a long wait costs
 * no latency (bench/fleet --real-idle, bench/README.md). [librdkafka] and
 * [librdkafka-consumer] override these too. */
static const gchar *const keyed_consumer_defaults[] = {
  "fetch.wait.max.ms", KEYED_FETCH_WAIT_MS,
  NULL
};

/* A partition, as a hash table key (the first member of Gate and PartMarks) */
typedef struct {
  const gchar *topic;        /* interned */
  gint32       partition;
} PartKey;

struct _EvcpKafkaService
{
  GObject            parent_instance;

  EvcpConfig        *config;
  EvcpMessageLimits  limits;
  EvcpDispatcher    *dispatcher;
  EvcpKafkaProducer *producer;

  EvcpKafkaConsumer *consumer;     /* the loop polling rk */
  rd_kafka_t        *rk;           /* the consumer's handle, or NULL */
  guint              restart_id;

  EvcpKafkaState     state;
  gint               assigned;     /* partitions assigned (rebalance callback) */
  gboolean           started;
  gboolean           stopping;
  gboolean           in_process;   /* process() is on the stack */
  gboolean           closing;      /* the consumer is being closed: no blocking commit */
  guint              close_timeout_ms;

  /* who listens to the per-message signals, looked up once per batch */
  gboolean           want_received;
  gboolean           want_handled;
  gboolean           want_done;
  gboolean           in_batch;       /* the flags above are current */

  /* the one message whose handling is not finished (handler retries) */
  EvcpMessage       *current;

  /* dead letters on their way (see "dead letters") */
  GQueue             dead_q;          /* of DeadLetter, in consumption order */
  GHashTable        *gates;           /* Gate: partitions with dead letters on their way */
  gsize              dead_bytes;      /* of the records on their way */
  gsize              dead_bytes_max;
  gsize              dead_record_max;
  guint              dead_failing;    /* whose last attempt failed */
  gchar             *dead_last_error;

  /* credentials or certificates refused (see evcp-kafka-security.h) */
  EvcpKafkaSecurityReport security;

  GArray            *done_hooks;   /* of DoneHook */
  guint              next_hook_id;

  const gchar       *topic_interned;   /* of the record being handled */

  guint64            received;
  guint64            handled;
  guint64            dead_letters;
  guint64            invalid;
  guint64            dead_letter_failures;
  guint64            dead_letters_reduced;
  guint64            dead_letters_lost;

  /* whether the records handled are still where they were read (see
   * evcp-kafka-record-check.h) */
  GHashTable        *marks;           /* PartMarks of the partitions read */
  gpointer           last_marks;      /* PartMarks of the last message */
  EvcpKafkaRecordCheck *record_check;
  GCancellable      *check_cancel;
  guint              check_timer;
  gboolean           checking;
  guint64            partitions_reread;

  /* keyed assignment, the fleet mode (see "keyed assignment") */
  gboolean           keyed;
  GHashTable        *partition_counts;   /* interned topic -> count, last seen */
  guint              metadata_timer;
  guint              metadata_ticks;
  gboolean           metadata_ok;        /* one answer came */
  gboolean           metadata_running;   /* a thread uses rk: it outlives no stop */
  GMutex             metadata_lock;
  GCond              metadata_cond;
  guint64            skipped_by_key;
  gchar             *last_statistics;    /* librdkafka's, for the benchmarks */
  gint64 consumer_lag;                   /* from the statistics; -1 unknown */
};

typedef struct {
  PartKey         key;
  gboolean        want_latest;  /* mark the next record read (once a run) */
  gboolean        has_anchor;
  gboolean        has_latest;
  gboolean        has_next;
  EvcpRecordMark  anchor;       /* checked at the next run */
  EvcpRecordMark  latest;       /* the first record read since the last run began */
  EvcpRecordMark  next;         /* the anchor after a run that found the anchor in place */
} PartMarks;

/* a message on its way to the dead letters */
typedef struct {
  EvcpKafkaService *service;
  EvcpMessage      *message;
  GError           *error;
  guint             attempts;
  guint             retry_id;
  gsize             size;       /* of the record on its way, or 0 */
  gboolean          reduced;    /* without key and value: the whole was refused */
  gboolean          failing;    /* the last attempt failed */
} DeadLetter;

/* A partition with dead letters on their way: its offset is stored no
 * further than the first of them, whatever was handled after it. */
typedef struct {
  PartKey      key;
  guint        outstanding;
  gint64       done_next;    /* after the last message finished, or -1 */
} Gate;

typedef struct {
  guint             id;
  EvcpKafkaDoneFunc func;
  gpointer          user_data;
} DoneHook;

static void evcp_kafka_service_engine_host_init (EvcpEngineHostInterface *iface);

G_DEFINE_TYPE_WITH_CODE (EvcpKafkaService, evcp_kafka_service, G_TYPE_OBJECT,
                         G_IMPLEMENT_INTERFACE (EVCP_TYPE_ENGINE_HOST,
                                                evcp_kafka_service_engine_host_init))

/* clang-format off */
G_DEFINE_ENUM_TYPE (EvcpKafkaState, evcp_kafka_state,
  G_DEFINE_ENUM_VALUE (EVCP_KAFKA_STATE_STOPPED, "STOPPED"),
  G_DEFINE_ENUM_VALUE (EVCP_KAFKA_STATE_CONNECTING, "CONNECTING"),
  G_DEFINE_ENUM_VALUE (EVCP_KAFKA_STATE_CONNECTED, "CONNECTED"),
  G_DEFINE_ENUM_VALUE (EVCP_KAFKA_STATE_DISCONNECTED, "DISCONNECTED"),
  G_DEFINE_ENUM_VALUE (EVCP_KAFKA_STATE_ASSIGNING, "ASSIGNING"))
/* clang-format on */

enum {
  PROP_0,
  PROP_STATE,
  PROP_SECURITY_ERROR,
  N_PROPS
};
static GParamSpec *props[N_PROPS];

enum {
  SIGNAL_MESSAGE_RECEIVED,
  SIGNAL_MESSAGE_HANDLED,
  SIGNAL_HANDLER_FAILED,
  SIGNAL_MESSAGE_DEAD_LETTERED,
  SIGNAL_MESSAGE_DONE,
  SIGNAL_CONNECTION_STATE_CHANGED,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

static void dead_letter_send (DeadLetter *dl);
static gboolean start_consumer (EvcpKafkaService *self, GError **error);
static void stop_consumer (EvcpKafkaService *self, gboolean commit);

const gchar *
evcp_kafka_state_to_string (EvcpKafkaState state)
{
  return evcp_enum_to_nick (EVCP_TYPE_KAFKA_STATE, (gint) state, "UNKNOWN");
}

static void
set_state (EvcpKafkaService *self, EvcpKafkaState state, const gchar *reason)
{
  EvcpKafkaState old = self->state;

  if (old == state)
    return;
  self->state = state;
  if (state == EVCP_KAFKA_STATE_CONNECTED && evcp_kafka_security_report_clear (&self->security))
    g_object_notify_by_pspec (G_OBJECT (self), props[PROP_SECURITY_ERROR]);
  if (state == EVCP_KAFKA_STATE_DISCONNECTED)
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                      "EVCP_KAFKA_STATE", evcp_kafka_state_to_string (state),
                      "MESSAGE", _("Kafka is unavailable (%s); the Engine keeps running and reconnects "
                                   "with a capped exponential backoff (%s)"),
                      reason, self->config->kafka_brokers);
  else
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                      "EVCP_KAFKA_STATE", evcp_kafka_state_to_string (state),
                      "MESSAGE", _("Kafka connection: %s → %s (%s)"),
                      evcp_kafka_state_to_string (old), evcp_kafka_state_to_string (state), reason);
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_STATE]);
  g_signal_emit (self, signals[SIGNAL_CONNECTION_STATE_CHANGED], 0, old, state);
}

/* ---- offsets ------------------------------------------------------------ */

static void
flush_offsets (EvcpKafkaService *self)
{
  evcp_kafka_consumer_flush_offsets (self->consumer);
}

static void
store_offset (EvcpKafkaService *self, const gchar *topic, gint32 partition, gint64 next)
{
  evcp_kafka_consumer_store_offset (self->consumer, topic, partition, next);
}

static guint
part_key_hash (gconstpointer p)
{
  const PartKey *k = p;

  return g_direct_hash (k->topic) ^ ((guint) k->partition * 2654435761u);
}

static gboolean
part_key_equal (gconstpointer a, gconstpointer b)
{
  const PartKey *x = a, *y = b;

  return x->topic == y->topic && x->partition == y->partition;
}

static Gate *
gate_lookup (EvcpKafkaService *self, const gchar *topic, gint32 partition)
{
  PartKey key = { topic, partition };

  return g_hash_table_lookup (self->gates, &key);
}

/* Tells who listens that the message is finished. */
static void
notify_done (EvcpKafkaService *self, EvcpMessage *message, const GError *dead_letter_error)
{
  if (dead_letter_error == NULL)
    self->handled++;
  for (guint i = 0; i < self->done_hooks->len; i++)
    {
      DoneHook *hook = &g_array_index (self->done_hooks, DoneHook, i);

      hook->func (message, dead_letter_error, hook->user_data);
    }
  if (self->want_done || !self->in_batch)
    g_signal_emit (self, signals[SIGNAL_MESSAGE_DONE], 0, message, dead_letter_error);
}

/* The message is handled. Its offset is stored unless a dead letter of an
 * earlier message of its partition is still on its way: then the gate keeps
 * it, and stores it when that one arrives. */
static void
complete (EvcpKafkaService *self, EvcpMessage *message)
{
  const gchar *topic = evcp_message_get_topic (message);
  gint32 partition = evcp_message_get_partition (message);
  gint64 next = evcp_message_get_offset (message) + 1;
  Gate *gate;

  if (G_UNLIKELY (g_hash_table_size (self->gates) > 0) &&
      (gate = gate_lookup (self, topic, partition)) != NULL)
    gate->done_next = MAX (gate->done_next, next);
  else
    store_offset (self, topic, partition, next);
  notify_done (self, message, NULL);
}

/* ---- dead letters ----------------------------------------------------------
 *
 * A message that failed goes to the dead-letter topic without holding back
 * the messages after it: up to DEAD_LETTER_IN_FLIGHT records (and half the
 * producer's queue in bytes) are on their way at once, and consumption goes
 * on. Handled messages keep their order; what is committed never passes a
 * dead letter not yet acknowledged (the partition's gate), so a crash
 * meanwhile delivers it again (at least once).
 *
 * A record is bounded as a whole (key, value, headers: evcp-dead-letter.c)
 * under the producer's message.max.bytes. A record refused for good (too
 * large for the broker, invalid) goes again without key and value, the
 * headers telling why; if even that is refused, the message is committed
 * without a dead letter, loudly, and counted (dead-letters-lost): one
 * message can never stop consumption. Failures that may pass (Kafka away,
 * a full queue) are retried with a capped backoff; while one is failing the
 * consumer reports itself stalled (evcp_kafka_service_get_stall_reason). */

static gboolean
dead_letters_full (EvcpKafkaService *self)
{
  return self->dead_q.length >= DEAD_LETTER_IN_FLIGHT ||
         (self->dead_bytes > 0 && self->dead_bytes >= self->dead_bytes_max);
}

static void
dead_letter_free (DeadLetter *dl)
{
  g_clear_handle_id (&dl->retry_id, g_source_remove);
  evcp_message_unref (dl->message);
  g_clear_error (&dl->error);
  g_free (dl);
}

static void
dead_letter_set_failing (DeadLetter *dl, gboolean failing)
{
  EvcpKafkaService *self = dl->service;

  if (dl->failing == failing)
    return;
  dl->failing = failing;
  if (failing)
    self->dead_failing++;
  else
    self->dead_failing--;
}

/* Off the queue: finished (@store), or abandoned (not committed). */
static void
dead_letter_remove (DeadLetter *dl, gboolean store)
{
  EvcpKafkaService *self = dl->service;
  const gchar *topic = evcp_message_get_topic (dl->message);
  gint32 partition = evcp_message_get_partition (dl->message);
  gboolean was_full = dead_letters_full (self);
  Gate *gate = gate_lookup (self, topic, partition);

  g_queue_remove (&self->dead_q, dl);
  dead_letter_set_failing (dl, FALSE);
  self->dead_bytes -= dl->size;
  dl->size = 0;
  if (store && gate != NULL)
    {
      gate->outstanding--;
      gate->done_next = MAX (gate->done_next, evcp_message_get_offset (dl->message) + 1);
      if (gate->outstanding == 0)
        {
          store_offset (self, topic, partition, gate->done_next);
          g_hash_table_remove (self->gates, gate);
        }
      else
        {
          /* up to the first one still on its way: everything before it is done */
          for (GList *l = self->dead_q.head; l != NULL; l = l->next)
            {
              DeadLetter *other = l->data;

              if (evcp_message_get_topic (other->message) == topic &&
                  evcp_message_get_partition (other->message) == partition)
                {
                  store_offset (self, topic, partition, evcp_message_get_offset (other->message));
                  break;
                }
            }
        }
    }
  if (self->dead_failing == 0)
    g_clear_pointer (&self->dead_last_error, g_free);
  if (was_full && !dead_letters_full (self))
    evcp_kafka_consumer_wake (self->consumer);
}

static void
dead_letter_finish (DeadLetter *dl)
{
  EvcpKafkaService *self = dl->service;
  g_autoptr(EvcpMessage) message = evcp_message_ref (dl->message);
  g_autoptr(GError) error = g_steal_pointer (&dl->error);

  dead_letter_remove (dl, TRUE);
  dead_letter_free (dl);
  notify_done (self, message, error);
  flush_offsets (self);
}

static gboolean
dead_letter_retry_cb (gpointer user_data)
{
  DeadLetter *dl = user_data;

  dl->retry_id = 0;
  dead_letter_send (dl);
  return G_SOURCE_REMOVE;
}

static void
dead_letter_failed (DeadLetter *dl, const GError *error)
{
  EvcpKafkaService *self = dl->service;
  guint delay = DEAD_LETTER_BACKOFF_MS;
  g_autofree gchar *what = evcp_message_describe (dl->message);

  self->dead_bytes -= dl->size;
  dl->size = 0;
  if (self->stopping)
    {
      /* not committed: delivered again after the restart */
      g_warning (_("Dead letter of %s not written before shutdown (%s); the message will be consumed again"), what,
                 error->message);
      dead_letter_remove (dl, FALSE);
      dead_letter_free (dl);
      return;
    }
  if (g_error_matches (error, EVCP_ERROR, EVCP_ERROR_KAFKA_RECORD))
    {
      if (!dl->reduced)
        {
          /* the record itself is refused: its headers alone, then */
          g_warning (_("Dead letter of %s refused (%s); sending it without key and value"),
                     what, error->message);
          dl->reduced = TRUE;
          dead_letter_send (dl);
          return;
        }
      self->dead_letters_lost++;
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                        "EVCP_ERROR_CODE", "dead-letter-lost",
                        "MESSAGE", _("Message %s cannot be dead-lettered at all (%s): "
                                     "committed without a dead letter so that consumption goes on"),
                        what, error->message);
      dead_letter_finish (dl);
      return;
    }
  self->dead_letter_failures++;
  for (guint i = 1; i < dl->attempts && delay < DEAD_LETTER_BACKOFF_MAX; i++)
    delay *= 2;
  delay = MIN (delay, DEAD_LETTER_BACKOFF_MAX);
  if (!dl->failing)
    g_warning (_("Cannot write the dead letter of %s to %s (%s); retrying in %u ms"),
               what, self->config->dead_letter_topic, error->message, delay);
  else
    g_debug ("Dead letter of %s: %s; retrying in %u ms", what, error->message, delay);
  dead_letter_set_failing (dl, TRUE);
  g_free (self->dead_last_error);
  self->dead_last_error = evcp_utf8_cut (error->message, 512);
  dl->retry_id = g_timeout_add (delay, dead_letter_retry_cb, dl);
}

static void
dead_letter_delivered (EvcpKafkaProducer *producer,
                       const GError      *error,
                       gint32             partition,
                       gint64             offset,
                       gpointer           user_data)
{
  DeadLetter *dl = user_data;
  EvcpKafkaService *self = dl->service;

  if (error != NULL)
    {
      dead_letter_failed (dl, error);
      return;
    }
  self->dead_letters++;
  if (dl->reduced)
    self->dead_letters_reduced++;
  g_debug ("Dead letter written to %s[%d]@%" G_GINT64_FORMAT,
           self->config->dead_letter_topic, partition, offset);
  dead_letter_finish (dl);
}

static void
dead_letter_send (DeadLetter *dl)
{
  EvcpKafkaService *self = dl->service;
  g_autoptr(EvcpDeadLetterRecord) record = NULL;
  g_autoptr(GError) error = NULL;
  const EvcpKafkaHeader *headers;
  guint n_headers;

  dl->attempts++;
  record = evcp_dead_letter_record_new (dl->message, dl->error, self->config->cp_id,
                                        self->dead_record_max,
                                        dl->reduced ? "the whole record was refused by Kafka" : NULL);
  if (evcp_dead_letter_record_is_cut (record) && dl->attempts == 1)
    {
      g_autofree gchar *what = evcp_message_describe (dl->message);
      g_autofree gchar *size = g_strdup_printf ("%" G_GSIZE_FORMAT, evcp_dead_letter_record_get_size (record));

      g_warning (_("Dead letter of %s cut to %s bytes (its original size is in its headers)"), what, size);
    }
  headers = evcp_dead_letter_record_get_headers (record, &n_headers);
  if (self->producer == NULL ||
      !evcp_kafka_producer_produce (self->producer, self->config->dead_letter_topic,
                                    evcp_dead_letter_record_get_key (record),
                                    evcp_dead_letter_record_get_value (record),
                                    headers, n_headers,
                                    dead_letter_delivered, dl, &error))
    {
      if (error == NULL)
        g_set_error_literal (&error, EVCP_ERROR, EVCP_ERROR_KAFKA, _("No producer"));
      dead_letter_failed (dl, error);
      return;
    }
  dl->size = evcp_dead_letter_record_get_size (record);
  self->dead_bytes += dl->size;
}

/* The message failed for good: it goes to the dead letters, and
 * consumption goes on. */
static void
dead_letter_add (EvcpKafkaService *self, EvcpMessage *message, const GError *error)
{
  DeadLetter *dl = g_new0 (DeadLetter, 1);
  const gchar *topic = evcp_message_get_topic (message);
  gint32 partition = evcp_message_get_partition (message);
  Gate *gate = gate_lookup (self, topic, partition);

  if (gate == NULL)
    {
      gate = g_new0 (Gate, 1);
      gate->key.topic = topic;
      gate->key.partition = partition;
      gate->done_next = -1;
      g_hash_table_add (self->gates, gate);
    }
  gate->outstanding++;
  dl->service = self;
  dl->message = evcp_message_ref (message);
  dl->error = g_error_copy (error);
  g_queue_push_tail (&self->dead_q, dl);
  dead_letter_send (dl);
}

/* Shutdown: what is still on its way is abandoned, not committed. */
static void
dead_letters_abandon (EvcpKafkaService *self)
{
  DeadLetter *dl;

  while ((dl = g_queue_peek_head (&self->dead_q)) != NULL)
    {
      dead_letter_remove (dl, FALSE);
      dead_letter_free (dl);
    }
  g_hash_table_remove_all (self->gates);
  self->dead_bytes = 0;
}

/**
 * evcp_kafka_service_get_stall_reason:
 *
 * Returns: (nullable) (transfer full): why consumption is held back for
 *   longer than a message takes (dead letters that cannot be written), or
 *   %NULL while it flows
 */
gchar *
evcp_kafka_service_get_stall_reason (EvcpKafkaService *self)
{
  g_return_val_if_fail (EVCP_IS_KAFKA_SERVICE (self), NULL);

  if (self->dead_failing == 0)
    return NULL;
  return g_strdup_printf ("%u dead letters cannot be written to %s (%s)%s",
                          self->dead_failing, self->config->dead_letter_topic,
                          self->dead_last_error != NULL ? self->dead_last_error : "?",
                          dead_letters_full (self) ? "; consumption paused" : "");
}

/* ---- the message whose handlers are still retrying ----------------------- */

static void
set_current (EvcpKafkaService *self, EvcpMessage *message)
{
  if (self->current == message)
    return;
  g_clear_pointer (&self->current, evcp_message_unref);
  self->current = evcp_message_ref (message);
}

static void
finish_current (EvcpKafkaService *self)
{
  g_clear_pointer (&self->current, evcp_message_unref);
  flush_offsets (self);
  evcp_kafka_consumer_wake (self->consumer);
}

/* ---- records still where they were read --------------------------------- */

/* One record read. A partition's record is marked once a run (the first
 * read of a partition, then the first after each run began): a pointer
 * compare and a flag for every other record, on the hot path. */
static void
mark_read (EvcpKafkaService *self, const rd_kafka_message_t *m)
{
  PartMarks *pm = self->last_marks;

  if (pm == NULL || pm->key.topic != self->topic_interned || pm->key.partition != m->partition)
    {
      PartKey key = { self->topic_interned, m->partition };

      pm = g_hash_table_lookup (self->marks, &key);
      if (pm == NULL)
        {
          pm = g_new0 (PartMarks, 1);
          pm->key = key;
          pm->want_latest = TRUE;
          g_hash_table_add (self->marks, pm);
        }
      self->last_marks = pm;
    }
  if (G_LIKELY (!pm->want_latest))
    return;
  pm->want_latest = FALSE;
  evcp_record_mark_set (&pm->latest, m);
  pm->has_latest = TRUE;
  if (!pm->has_anchor)
    {
      pm->anchor = pm->latest;
      pm->has_anchor = TRUE;
    }
}

static void
marks_clear (EvcpKafkaService *self)
{
  self->last_marks = NULL;
  if (self->marks != NULL)
    g_hash_table_remove_all (self->marks);
}

static void
on_record_check (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(rd_kafka_topic_partition_list_t) went_back =
    evcp_kafka_record_check_run_finish (EVCP_KAFKA_RECORD_CHECK (source), res, &error);
  EvcpKafkaService *self = user_data;
  GHashTableIter iter;
  PartMarks *pm;

  if (went_back == NULL)
    return;   /* cancelled: the service may be gone */
  self->checking = FALSE;
  for (int i = 0; i < went_back->cnt; i++)
    {
      rd_kafka_topic_partition_t *p = &went_back->elems[i];
      PartKey key = { g_intern_string (p->topic), p->partition };
      g_autoptr(rd_kafka_topic_partition_list_t) seek = rd_kafka_topic_partition_list_new (1);
      rd_kafka_error_t *serr;
      g_autofree gchar *offset = NULL;

      pm = g_hash_table_lookup (self->marks, &key);
      offset = g_strdup_printf ("%" G_GINT64_FORMAT, pm != NULL ? pm->anchor.offset : (gint64) -1);
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "EVCP_KAFKA_TOPIC", p->topic, "MESSAGE",
                        _("Kafka %s[%d]: the record read at offset %s is not there any "
                           "more (%s): the partition's offsets went back (the topic was deleted and "
                           "created again?); reading it again from its beginning"),
                        p->topic, p->partition, offset,
                        p->err == RD_KAFKA_RESP_ERR__BAD_MSG ? "another record is there"
                                                             : "the partition ends before it");
      self->partitions_reread++;
      if (pm != NULL)
        {
          if (self->last_marks == pm)
            self->last_marks = NULL;
          g_hash_table_remove (self->marks, pm);
        }
      if (self->rk == NULL)
        continue;
      rd_kafka_topic_partition_list_add (seek, p->topic, p->partition)->offset = RD_KAFKA_OFFSET_BEGINNING;
      serr = rd_kafka_seek_partitions (self->rk, seek, 0);
      if (serr != NULL)
        {
          g_warning (_("Cannot read %s[%d] again: %s"), p->topic, p->partition, rd_kafka_error_string (serr));
          rd_kafka_error_destroy (serr);
        }
    }
  /* the others were in place: their next anchor is what was read by then */
  g_hash_table_iter_init (&iter, self->marks);
  while (g_hash_table_iter_next (&iter, (gpointer *) &pm, NULL))
    if (pm->has_next)
      {
        pm->anchor = pm->next;
        pm->has_next = FALSE;
      }
}

static gboolean
record_check_cb (gpointer user_data)
{
  EvcpKafkaService *self = user_data;
  g_autoptr(rd_kafka_topic_partition_list_t) parts = NULL;
  GHashTableIter iter;
  PartMarks *pm;

  if (self->checking || self->rk == NULL || self->record_check == NULL ||
      g_hash_table_size (self->marks) == 0)
    return G_SOURCE_CONTINUE;
  parts = rd_kafka_topic_partition_list_new ((int) g_hash_table_size (self->marks));
  g_hash_table_iter_init (&iter, self->marks);
  while (g_hash_table_iter_next (&iter, (gpointer *) &pm, NULL))
    {
      rd_kafka_topic_partition_t *p;

      if (!pm->has_anchor)
        continue;
      p = rd_kafka_topic_partition_list_add (parts, pm->key.topic, pm->key.partition);
      p->offset = pm->anchor.offset;
      p->opaque = &pm->anchor;   /* copied by the run */
      /* read before this run: the anchor of the next one if this one finds
       * its anchor in place; and a new one from now on */
      pm->next = pm->latest;
      pm->has_next = pm->has_latest;
      pm->want_latest = TRUE;
    }
  if (parts->cnt > 0)
    {
      self->checking = TRUE;
      evcp_kafka_record_check_run_async (self->record_check, parts, 10000, self->check_cancel,
                                         on_record_check, self);
    }
  for (int i = 0; i < parts->cnt; i++)
    parts->elems[i].opaque = NULL;
  return G_SOURCE_CONTINUE;
}

static void
record_check_start (EvcpKafkaService *self)
{
  g_autoptr(GError) error = NULL;
  rd_kafka_conf_t *conf;
  g_autofree gchar *group = NULL;
  gchar errstr[512];

  if (self->config->record_check_s == 0)
    return;
  conf = evcp_kafka_conf_new (self->config->kafka_brokers, NULL, self->config->rdkafka, NULL, &error);
  if (conf == NULL)
    {
      g_warning (_("Record check off: %s"), error->message);
      return;
    }
  /* a group id that is never joined (the consumer API needs one) */
  group = g_strdup_printf ("%s.record-check", evcp_config_get_group_id (self->config));
  if (rd_kafka_conf_set (conf, "group.id", group, errstr, sizeof errstr) != RD_KAFKA_CONF_OK)
    {
      g_warning (_("Record check off: %s"), errstr);
      rd_kafka_conf_destroy (conf);
      return;
    }
  self->record_check = evcp_kafka_record_check_new (conf, &error);
  if (self->record_check == NULL)
    {
      g_warning (_("Record check off: %s"), error->message);
      return;
    }
  self->marks = g_hash_table_new_full (part_key_hash, part_key_equal, g_free, NULL);
  self->check_cancel = g_cancellable_new ();
  self->check_timer = g_timeout_add_seconds (self->config->record_check_s, record_check_cb, self);
}

static void
record_check_stop (EvcpKafkaService *self)
{
  g_clear_handle_id (&self->check_timer, g_source_remove);
  if (self->check_cancel != NULL)
    g_cancellable_cancel (self->check_cancel);
  g_clear_object (&self->check_cancel);
  g_clear_object (&self->record_check);   /* a run still going holds its own reference */
  self->checking = FALSE;
  marks_clear (self);
  g_clear_pointer (&self->marks, g_hash_table_unref);
}

/* ---- handling ------------------------------------------------------------ */

static void
on_dispatched (EvcpDispatcher *dispatcher,
               EvcpMessage    *message,
               const GError   *error,
               gpointer        user_data)
{
  EvcpKafkaService *self = user_data;
  gboolean async = !self->in_process;

  if (error == NULL)
    {
      complete (self, message);
      if (async)
        finish_current (self);
      return;
    }
  if (g_error_matches (error, EVCP_ERROR, EVCP_ERROR_CANCELLED))
    {
      g_info ("Handling interrupted by shutdown; the message stays uncommitted");
      if (async)
        finish_current (self);
      return;
    }

  {
    g_autofree gchar *what = evcp_message_describe (message);
    g_autofree gchar *why = evcp_utf8_cut (error->message, EVCP_DEAD_LETTER_ERROR_MAX);

    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                      "EVCP_ERROR_CODE", error->domain == EVCP_ERROR ?
                                               evcp_error_to_string (error->code) : "failed",
                      "MESSAGE", _("Message %s goes to %s: %s"),
                      what, self->config->dead_letter_topic, why);
  }
  g_signal_emit (self, signals[SIGNAL_MESSAGE_DEAD_LETTERED], 0, message, error);
  dead_letter_add (self, message, error);
  if (async)
    finish_current (self);
}

static void
process (EvcpKafkaService *self, rd_kafka_message_t *m)
{
  /* the first message proves the first connection; after an outage, messages
   * fetched before it prove nothing, and the statistics (every 5 s) tell */
  if (G_UNLIKELY (self->state == EVCP_KAFKA_STATE_CONNECTING || self->state == EVCP_KAFKA_STATE_ASSIGNING))
    set_state (self, EVCP_KAFKA_STATE_CONNECTED, "message received");

  g_autoptr(EvcpMessage) message = evcp_message_new_consumed (m->payload, m->len, m->key, m->key_len,
                                                              self->topic_interned,
                                                              m->partition, m->offset);
  g_autoptr(GError) error = NULL;

  self->received++;
  if (self->marks != NULL)
    mark_read (self, m);
  if (self->want_received)
    g_signal_emit (self, signals[SIGNAL_MESSAGE_RECEIVED], 0, message);

  self->in_process = TRUE;
  if (!evcp_message_parse (message, &self->limits, &error))
    {
      self->invalid++;
      on_dispatched (self->dispatcher, message, error, self);
    }
  else
    evcp_dispatcher_dispatch (self->dispatcher, message, on_dispatched, self);
  self->in_process = FALSE;

  /* Handlers still retrying: consumption pauses on this message until
   * on_dispatched() runs (a dead letter in flight has set current already). */
  if (self->current == NULL && evcp_dispatcher_get_in_flight (self->dispatcher) > 0)
    set_current (self, message);
}

/* ---- keyed assignment ------------------------------------------------------
 *
 * The fleet mode ([kafka] assignment = keyed): messages for a CP are keyed
 * by its id and partitioned with murmur2, as the Java client does; the CP
 * assigns itself the partition of its own key in each topic, and every
 * partition of the broadcast topics, with no group membership (no
 * rebalance, no heartbeat). Offsets are committed under the group id as in
 * group mode. A record keyed by another CP's id is skipped before any
 * parsing; one without a key, or whose key is no CP id, is handled as in
 * group mode. The partition counts come from the metadata, asked in a
 * thread (rd_kafka_metadata() blocks) every second until an answer, then
 * every [kafka] metadata-check-s: a count that changed moves keys, and the
 * CP assigns itself again. */
#define METADATA_TIMEOUT_MS 5000

static gboolean
is_broadcast (EvcpKafkaService *self, const gchar *topic)
{
  return self->config->broadcast_topics != NULL &&
         g_strv_contains ((const gchar * const *) self->config->broadcast_topics, topic);
}

/* a key that is a CP id by the CP_ID rule (docs/protocol.md E9), checked
 * without a copy: this runs for every record of the fleet's partition */
static gboolean
key_is_cp_id (const guint8 *key, gsize len)
{
  if (len == 0 || len > EVCP_FIELD_CP_ID_MAX || !g_utf8_validate_len ((const gchar *) key, len, NULL))
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if (key[i] == '#' || key[i] < 0x20 || key[i] == 0x7f)
      return FALSE;
  return TRUE;
}

static gboolean
skip_by_key (EvcpKafkaService *self, const rd_kafka_message_t *m)
{
  gsize own = strlen (self->config->cp_id);

  return self->keyed && m->key != NULL && !(m->key_len == own && memcmp (m->key, self->config->cp_id, own) == 0) &&
         key_is_cp_id (m->key, m->key_len);
}

/* The metadata of the consumed topics only, one request each: a cluster
 * of a large fleet has many topics and partitions, and the answer for all
 * of them (all_topics) would be most of what an idle CP receives. */
static void
metadata_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  EvcpKafkaService *self = source;
  GHashTable *counts = g_hash_table_new (NULL, NULL);
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;

  for (guint t = 0; self->config->kafka_topics[t] != NULL && err == RD_KAFKA_RESP_ERR_NO_ERROR; t++)
    {
      const struct rd_kafka_metadata *md = NULL;
      rd_kafka_topic_t *rkt = rd_kafka_topic_new (self->rk, self->config->kafka_topics[t], NULL);

      if (rkt == NULL)
        continue;
      err = rd_kafka_metadata (self->rk, 0, rkt, &md, METADATA_TIMEOUT_MS);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
        {
          for (int i = 0; i < md->topic_cnt; i++)
            if (g_strv_contains ((const gchar * const *) self->config->kafka_topics, md->topics[i].topic))
              g_hash_table_insert (counts, (gpointer) g_intern_string (md->topics[i].topic),
                                   GINT_TO_POINTER (md->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR
                                                        ? md->topics[i].partition_cnt
                                                        : -1));
          rd_kafka_metadata_destroy (md);
        }
      rd_kafka_topic_destroy (rkt);
    }
  g_mutex_lock (&self->metadata_lock);
  self->metadata_running = FALSE;
  g_cond_broadcast (&self->metadata_cond);
  g_mutex_unlock (&self->metadata_lock);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
    {
      g_hash_table_unref (counts);
      g_task_return_new_error (task, EVCP_ERROR, EVCP_ERROR_KAFKA, "metadata: %s", rd_kafka_err2str (err));
      return;
    }
  g_task_return_pointer (task, counts, (GDestroyNotify) g_hash_table_unref);
}

/* before rk goes: no thread uses it any more (bounded by its timeout) */
static void
metadata_wait (EvcpKafkaService *self)
{
  gint64 deadline = g_get_monotonic_time () + (METADATA_TIMEOUT_MS + 1000) * G_TIME_SPAN_MILLISECOND;

  g_mutex_lock (&self->metadata_lock);
  while (self->metadata_running)
    if (!g_cond_wait_until (&self->metadata_cond, &self->metadata_lock, deadline))
      break;
  g_mutex_unlock (&self->metadata_lock);
}

static gint
compare_tp (gconstpointer a, gconstpointer b)
{
  const rd_kafka_topic_partition_t *x = a, *y = b;
  gint c = strcmp (x->topic, y->topic);

  return c != 0 ? c : x->partition - y->partition;
}

static gboolean
same_partitions (rd_kafka_topic_partition_list_t *a, rd_kafka_topic_partition_list_t *b)
{
  if (a->cnt != b->cnt)
    return FALSE;
  rd_kafka_topic_partition_list_sort (a, NULL, NULL);
  rd_kafka_topic_partition_list_sort (b, NULL, NULL);
  for (int i = 0; i < a->cnt; i++)
    if (compare_tp (&a->elems[i], &b->elems[i]) != 0)
      return FALSE;
  return TRUE;
}

static void
keyed_assign (EvcpKafkaService *self, GHashTable *counts)
{
  g_autoptr(rd_kafka_topic_partition_list_t) wanted = rd_kafka_topic_partition_list_new (8);
  rd_kafka_topic_partition_list_t *current = NULL;
  g_autoptr(GString) list = g_string_new (NULL);
  rd_kafka_resp_err_t err;

  for (guint i = 0; self->config->kafka_topics[i] != NULL; i++)
    {
      const gchar *topic = g_intern_string (self->config->kafka_topics[i]);
      gint n = GPOINTER_TO_INT (g_hash_table_lookup (counts, topic));
      gint before = GPOINTER_TO_INT (g_hash_table_lookup (self->partition_counts, topic));

      if (n <= 0)
        {
          if (before >= 0)
            g_warning (_("Kafka topic %s does not exist (or has no partition): asked again every %d s"),
                       topic, self->metadata_ok ? self->config->metadata_check_s : 1);
          g_hash_table_insert (self->partition_counts, (gpointer) topic, GINT_TO_POINTER (-1));
          continue;
        }
      if (before > 0 && before != n)
        g_warning (_("Kafka topic %s has %d partitions, not %d: the keys moved; this CP reads its key's "
                     "partition again (a fleet migrates to a new topic rather than adding partitions)"),
                   topic, n, before);
      g_hash_table_insert (self->partition_counts, (gpointer) topic, GINT_TO_POINTER (n));
      if (is_broadcast (self, topic))
        for (gint p = 0; p < n; p++)
          rd_kafka_topic_partition_list_add (wanted, topic, p)->offset = RD_KAFKA_OFFSET_INVALID;
      else
        rd_kafka_topic_partition_list_add (wanted, topic,
                                           evcp_kafka_partition_for_key (self->config->cp_id,
                                                                         strlen (self->config->cp_id), n))
          ->offset = RD_KAFKA_OFFSET_INVALID;
    }
  if (rd_kafka_assignment (self->rk, &current) == RD_KAFKA_RESP_ERR_NO_ERROR)
    {
      gboolean same = same_partitions (current, wanted);

      rd_kafka_topic_partition_list_destroy (current);
      if (same)
        return;
    }
  /* what was handled on the partitions left is committed first */
  flush_offsets (self);
  if (self->assigned > 0)
    rd_kafka_commit (self->rk, NULL, 1);
  marks_clear (self);
  err = rd_kafka_assign (self->rk, wanted);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
    {
      g_warning (_("Kafka keyed assignment: %s"), rd_kafka_err2str (err));
      return;
    }
  for (int i = 0; i < wanted->cnt; i++)
    g_string_append_printf (list, "%s%s[%d]", i > 0 ? " " : "", wanted->elems[i].topic, wanted->elems[i].partition);
  g_message (_("Kafka keyed: %s reads %d partitions: %s"), self->config->cp_id, wanted->cnt, list->str);
  self->assigned = wanted->cnt;
  set_state (self, wanted->cnt > 0 ? EVCP_KAFKA_STATE_CONNECTED : EVCP_KAFKA_STATE_ASSIGNING,
             wanted->cnt > 0 ? "partitions of its key assigned" : "no topic to read yet");
}

static void
on_metadata (GObject *source, GAsyncResult *res, gpointer user_data)
{
  EvcpKafkaService *self = EVCP_KAFKA_SERVICE (source);
  g_autoptr(GError) error = NULL;
  g_autoptr(GHashTable) counts = g_task_propagate_pointer (G_TASK (res), &error);

  if (counts == NULL)
    {
      g_debug ("Kafka keyed: %s", error->message);
      return;
    }
  if (self->rk == NULL || self->stopping)
    return;
  keyed_assign (self, counts);
  self->metadata_ok = TRUE;
}

static gboolean
metadata_timer_cb (gpointer user_data)
{
  EvcpKafkaService *self = user_data;
  g_autoptr(GTask) task = NULL;

  /* every second until a first answer, then every metadata-check-s */
  if (self->metadata_ok && ++self->metadata_ticks % MAX (self->config->metadata_check_s, 1) != 0)
    return G_SOURCE_CONTINUE;
  g_mutex_lock (&self->metadata_lock);
  if (self->rk == NULL || self->metadata_running)
    {
      g_mutex_unlock (&self->metadata_lock);
      return G_SOURCE_CONTINUE;
    }
  self->metadata_running = TRUE;
  g_mutex_unlock (&self->metadata_lock);
  task = g_task_new (self, NULL, on_metadata, NULL);
  g_task_set_source_tag (task, metadata_timer_cb);
  g_task_run_in_thread (task, metadata_thread);
  return G_SOURCE_CONTINUE;
}

static void
keyed_start (EvcpKafkaService *self)
{
  self->metadata_ok = FALSE;
  self->metadata_ticks = 0;
  g_hash_table_remove_all (self->partition_counts);
  metadata_timer_cb (self);
  self->metadata_timer = g_timeout_add_seconds (1, metadata_timer_cb, self);
}

static void
keyed_stop (EvcpKafkaService *self)
{
  g_clear_handle_id (&self->metadata_timer, g_source_remove);
  metadata_wait (self);
}

/* A record for another CP: not parsed, not handled; its offset advances. */
static void
skip_record (EvcpKafkaService *self, rd_kafka_message_t *m)
{
  const gchar *topic = self->topic_interned;
  gint64 next = m->offset + 1;
  Gate *gate;

  self->received++;
  self->skipped_by_key++;
  if (self->marks != NULL)
    mark_read (self, m);
  if (G_UNLIKELY (self->state == EVCP_KAFKA_STATE_CONNECTING || self->state == EVCP_KAFKA_STATE_ASSIGNING))
    set_state (self, EVCP_KAFKA_STATE_CONNECTED, "message received");
  if (G_UNLIKELY (g_hash_table_size (self->gates) > 0) &&
      (gate = gate_lookup (self, topic, m->partition)) != NULL)
    gate->done_next = MAX (gate->done_next, next);
  else
    store_offset (self, topic, m->partition, next);
}

static void
begin_batch (gpointer user_data)
{
  EvcpKafkaService *self = user_data;

  self->want_received = g_signal_has_handler_pending (self, signals[SIGNAL_MESSAGE_RECEIVED], 0, TRUE);
  self->want_handled = g_signal_has_handler_pending (self, signals[SIGNAL_MESSAGE_HANDLED], 0, TRUE);
  self->want_done = g_signal_has_handler_pending (self, signals[SIGNAL_MESSAGE_DONE], 0, TRUE);
  self->in_batch = TRUE;
  evcp_dispatcher_begin_batch (self->dispatcher);
}

static void
end_batch (gpointer user_data)
{
  EvcpKafkaService *self = user_data;

  self->in_batch = FALSE;
  evcp_dispatcher_end_batch (self->dispatcher);
}

/* ---- the consumer loop's callbacks (see evcp-kafka-consumer.h) ---------- */

static gboolean
loop_ready (gpointer user_data)
{
  EvcpKafkaService *self = user_data;

  return self->current == NULL && !dead_letters_full (self) && !self->stopping;
}

static void
loop_record (gpointer user_data, rd_kafka_message_t *m, const gchar *topic)
{
  EvcpKafkaService *self = user_data;

  self->topic_interned = topic;
  if (G_UNLIKELY (self->keyed) && skip_by_key (self, m))
    skip_record (self, m);
  else
    process (self, m);
}

static const EvcpKafkaConsumerCallbacks loop_callbacks = {
  .ready = loop_ready,
  .begin = begin_batch,
  .end = end_batch,
  .record = loop_record,
};

/* ---- librdkafka callbacks (on the main thread, from consumer_poll) ------- */

static void
rebalance_cb (rd_kafka_t                      *rk,
              rd_kafka_resp_err_t              err,
              rd_kafka_topic_partition_list_t *partitions,
              void                            *opaque)
{
  EvcpKafkaService *self = opaque;
  g_autoptr(GString) list = g_string_new (NULL);

  for (int i = 0; i < partitions->cnt; i++)
    g_string_append_printf (list, "%s%s[%d]", i > 0 ? " " : "",
                            partitions->elems[i].topic, partitions->elems[i].partition);

  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS)
    {
      g_message (_("Kafka assigned %d partitions: %s"), partitions->cnt, list->str);
      rd_kafka_assign (rk, partitions);
      self->assigned = partitions->cnt;
      set_state (self, partitions->cnt > 0 ? EVCP_KAFKA_STATE_CONNECTED : EVCP_KAFKA_STATE_ASSIGNING,
                 partitions->cnt > 0 ? "partitions assigned" : "the group gave no partition");
      return;
    }

  g_message (_("Kafka revoked %d partitions: %s"), partitions->cnt, list->str);
  marks_clear (self);
  flush_offsets (self);
  /* while closing, the final commit was done already, with a deadline */
  if (!self->closing && !rd_kafka_assignment_lost (rk))
    {
      rd_kafka_resp_err_t cerr = rd_kafka_commit (rk, NULL, 0);

      if (cerr != RD_KAFKA_RESP_ERR_NO_ERROR && cerr != RD_KAFKA_RESP_ERR__NO_OFFSET)
        g_warning (_("Commit on revoke failed: %s"), rd_kafka_err2str (cerr));
    }
  rd_kafka_assign (rk, NULL);
  self->assigned = 0;
  if (self->state == EVCP_KAFKA_STATE_CONNECTED && !self->closing && !self->stopping)
    set_state (self, EVCP_KAFKA_STATE_ASSIGNING, "partitions revoked");
}

static void
error_cb (rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
  EvcpKafkaService *self = opaque;

  switch (err)
    {
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
      set_state (self, EVCP_KAFKA_STATE_DISCONNECTED, reason);
      break;
    case RD_KAFKA_RESP_ERR__FATAL:
      {
        gchar errstr[512];

        rd_kafka_fatal_error (rk, errstr, sizeof errstr);
        g_warning (_("Kafka consumer fatal error: %s; recreating it"), errstr);
        set_state (self, EVCP_KAFKA_STATE_DISCONNECTED, errstr);
        stop_consumer (self, FALSE);
        break;
      }
    default:
      if (evcp_kafka_error_is_security (err, reason))
        {
          g_autofree gchar *before = g_strdup (self->security.cause);
          const gchar *cause = evcp_kafka_security_report (&self->security, rk, "consumer", err, reason);

          if (g_strcmp0 (before, cause) != 0)
            g_object_notify_by_pspec (G_OBJECT (self), props[PROP_SECURITY_ERROR]);
          set_state (self, EVCP_KAFKA_STATE_DISCONNECTED, cause);
          break;
        }
      /* _TRANSPORT, _RESOLVE, …: librdkafka retries by itself */
      g_debug ("Kafka: %s: %s", rd_kafka_err2name (err), reason);
      break;
    }
}

/* Connected when any broker learned from the metadata is UP. */
static int
stats_cb (rd_kafka_t *rk, char *json, size_t json_len, void *opaque)
{
  EvcpKafkaService *self = opaque;
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  JsonObject *root, *brokers;
  GList *members;
  gboolean any_up = FALSE;
  gint64 rtt_us = 0;

  /* librdkafka's own text, bounded all the same */
  if (!evcp_json_parser_load (parser, json, json_len, 64 * 1024 * 1024, EVCP_JSON_LIMITS_DEFAULT_MAX_DEPTH, NULL) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    return 0;
  root = json_node_get_object (json_parser_get_root (parser));
  g_free (self->last_statistics);
  self->last_statistics = g_strndup (json, json_len);
  self->consumer_lag = evcp_kafka_statistics_consumer_lag (root);
  if (!json_object_has_member (root, "brokers"))
    return 0;
  brokers = json_object_get_object_member (root, "brokers");
  members = json_object_get_values (brokers);
  for (GList *l = members; l != NULL; l = l->next)
    {
      JsonObject *b = json_node_get_object (l->data);

      if (json_object_get_int_member_with_default (b, "nodeid", -1) >= 0 &&
          g_strcmp0 (json_object_get_string_member_with_default (b, "state", ""), "UP") == 0)
        {
          JsonNode *rtt = json_object_get_member (b, "rtt");

          any_up = TRUE;
          if (rtt != NULL && JSON_NODE_HOLDS_OBJECT (rtt))
            rtt_us = MAX (rtt_us, json_object_get_int_member_with_default (json_node_get_object (rtt), "p99", 0));
        }
    }
  g_list_free (members);
  /* who leads each partition, and how long a fetch takes (0: no request
   * seen), for the fetcher's wake-up */
  evcp_kafka_consumer_statistics (self->consumer, root, (guint) MIN ((rtt_us + 999) / 1000, G_MAXUINT));

  /* consuming only with partitions: up but without them is ASSIGNING */
  if (any_up)
    set_state (self, self->assigned > 0 ? EVCP_KAFKA_STATE_CONNECTED : EVCP_KAFKA_STATE_ASSIGNING,
               self->assigned > 0 ? "broker up" : "broker up, waiting for partitions");
  else if (self->state == EVCP_KAFKA_STATE_CONNECTED || self->state == EVCP_KAFKA_STATE_ASSIGNING)
    set_state (self, EVCP_KAFKA_STATE_DISCONNECTED, "no broker up");
  return 0; /* we did not keep json */
}

/* ---- lifecycle ------------------------------------------------------------ */

static gboolean
restart_cb (gpointer user_data)
{
  EvcpKafkaService *self = user_data;
  g_autoptr(GError) error = NULL;

  self->restart_id = 0;
  if (!start_consumer (self, &error))
    {
      g_warning (_("Cannot recreate the Kafka consumer: %s"), error->message);
      self->restart_id = g_timeout_add (RESTART_BACKOFF_MS * 10, restart_cb, self);
    }
  return G_SOURCE_REMOVE;
}

/* Commit what is finished and leave the group within the deadline
 * (evcp_kafka_consumer_close_bounded: the coordinator is asked first). The
 * state may still say connected when Kafka has just gone (the statistics
 * tell every 5 s): that question decides. While connected, a coordinator
 * that answered gets librdkafka's own close, which is prompt then (a close
 * cut short during a group join crashed an Engine in the real-broker
 * rebalance test). The rebalance callback this serves must not commit
 * again, synchronously. */
static void
close_consumer (EvcpKafkaService *self, rd_kafka_t *rk, guint timeout_ms)
{
  self->closing = TRUE;
  evcp_kafka_consumer_close_bounded (rk, timeout_ms,
                                     self->state == EVCP_KAFKA_STATE_CONNECTED);
  self->closing = FALSE;
}

static void
stop_consumer (EvcpKafkaService *self, gboolean commit)
{
  rd_kafka_t *rk;

  keyed_stop (self);   /* no metadata thread uses rk once it goes */
  /* what was handled goes to the final commit */
  if (commit)
    flush_offsets (self);
  rk = evcp_kafka_consumer_detach (self->consumer);
  self->rk = NULL;
  if (rk == NULL)
    return;

  if (commit)
    close_consumer (self, rk, self->close_timeout_ms);
  else
    rd_kafka_destroy_flags (rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
  self->assigned = 0;

  if (!commit && !self->stopping)
    self->restart_id = g_timeout_add (RESTART_BACKOFF_MS, restart_cb, self);
}

/* A librdkafka that has fetch.queue.backoff.ms (2.2 on) looks at a full
 * queue again after that long by itself: 10 ms, the shortest delay the
 * fetch waker uses on older ones, instead of librdkafka's 1 s default
 * (which would leave the queue empty for up to a second whenever it had
 * filled). It costs a broker thread wake-up per 10 ms only while the queue
 * is full. The configuration file may set it otherwise. */
static gboolean
set_fetch_queue_backoff (EvcpKafkaService *self, rd_kafka_conf_t *conf, GError **error)
{
  gchar errstr[512];

  if (evcp_kafka_fetch_waker_needed () ||
      g_hash_table_contains (self->config->rdkafka, "fetch.queue.backoff.ms") ||
      g_hash_table_contains (self->config->rdkafka_consumer, "fetch.queue.backoff.ms"))
    return TRUE;
  if (rd_kafka_conf_set (conf, "fetch.queue.backoff.ms", EVCP_KAFKA_FETCH_QUEUE_BACKOFF_MS,
                         errstr, sizeof errstr) != RD_KAFKA_CONF_OK)
    {
      g_set_error (error, EVCP_ERROR, EVCP_ERROR_CONFIG, "fetch.queue.backoff.ms: %s", errstr);
      return FALSE;
    }
  return TRUE;
}

/* the group is the CP's own: the default, cp_engine_<cp-id> */
static gboolean
own_group (EvcpConfig *config)
{
  g_autofree gchar *own = g_strdup_printf ("cp_engine_%s", config->cp_id);

  return g_strcmp0 (evcp_config_get_group_id (config), own) == 0;
}

static gboolean
start_consumer (EvcpKafkaService *self, GError **error)
{
  g_autoptr(rd_kafka_conf_t) conf = NULL;
  g_autoptr(rd_kafka_topic_partition_list_t) topics = NULL;
  rd_kafka_resp_err_t err;
  gchar errstr[512];

  conf = evcp_kafka_conf_new (self->config->kafka_brokers, consumer_defaults,
                              self->config->rdkafka, self->config->rdkafka_consumer, error);
  if (conf == NULL)
    return FALSE;
  for (guint i = 0; self->keyed && keyed_consumer_defaults[i] != NULL; i += 2)
    if (!g_hash_table_contains (self->config->rdkafka, keyed_consumer_defaults[i]) &&
        !g_hash_table_contains (self->config->rdkafka_consumer, keyed_consumer_defaults[i]) &&
        rd_kafka_conf_set (conf, keyed_consumer_defaults[i], keyed_consumer_defaults[i + 1],
                           errstr, sizeof errstr) != RD_KAFKA_CONF_OK)
      {
        g_set_error (error, EVCP_ERROR, EVCP_ERROR_CONFIG, "%s: %s", keyed_consumer_defaults[i], errstr);
        return FALSE;
      }
  if (rd_kafka_conf_set (conf, "group.id", evcp_config_get_group_id (self->config),
                         errstr, sizeof errstr) != RD_KAFKA_CONF_OK)
    {
      g_set_error (error, EVCP_ERROR, EVCP_ERROR_CONFIG, "group.id: %s", errstr);
      return FALSE;
    }
  /* Static membership in the CP's own group (the default group id): a
   * restarted Engine takes its partitions back at once, instead of waiting
   * behind its previous run's member until that session expires (45 s by
   * default). Not in a group shared with other members: a static member that
   * stops does not leave, and its partitions would wait for its session
   * instead of going to the others at once. [librdkafka-consumer]
   * group.instance.id sets it in any case. */
  if (own_group (self->config) &&
      !g_hash_table_contains (self->config->rdkafka, "group.instance.id") &&
      !g_hash_table_contains (self->config->rdkafka_consumer, "group.instance.id") &&
      rd_kafka_conf_set (conf, "group.instance.id", self->config->cp_id, errstr, sizeof errstr) != RD_KAFKA_CONF_OK)
    {
      g_set_error (error, EVCP_ERROR, EVCP_ERROR_CONFIG, "group.instance.id: %s", errstr);
      return FALSE;
    }
  if (!set_fetch_queue_backoff (self, conf, error))
    return FALSE;
  rd_kafka_conf_set_opaque (conf, self);
  rd_kafka_conf_set_rebalance_cb (conf, rebalance_cb);
  rd_kafka_conf_set_error_cb (conf, error_cb);
  rd_kafka_conf_set_stats_cb (conf, stats_cb);

  self->rk = rd_kafka_new (RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
  if (self->rk == NULL)
    {
      g_set_error (error, EVCP_ERROR, EVCP_ERROR_CONFIG,
                   _("Cannot create the Kafka consumer: %s"), errstr);
      return FALSE;
    }
  conf = NULL; /* owned by rk */
  /* the Engine's small queues need librdkafka 2.0.2's fetcher woken */
  evcp_kafka_consumer_attach (self->consumer, self->rk, TRUE);

  topics = rd_kafka_topic_partition_list_new (4);
  for (guint i = 0; self->config->kafka_topics[i] != NULL; i++)
    rd_kafka_topic_partition_list_add (topics, self->config->kafka_topics[i],
                                       RD_KAFKA_PARTITION_UA);
  /* keyed: no group membership; the partitions of its key, from the
   * metadata (keyed_start, below) */
  err = self->keyed ? RD_KAFKA_RESP_ERR_NO_ERROR : rd_kafka_subscribe (self->rk, topics);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
    {
      evcp_kafka_set_error (error, err, _("Cannot subscribe"));
      rd_kafka_destroy (evcp_kafka_consumer_detach (self->consumer));
      self->rk = NULL;
      return FALSE;
    }

  set_state (self, EVCP_KAFKA_STATE_CONNECTING, self->config->kafka_brokers);
  if (self->keyed)
    keyed_start (self);
  return TRUE;
}

/**
 * evcp_kafka_service_start:
 *
 * Creates the producer (for dead letters, and for anyone who asks with
 * evcp_kafka_service_get_producer()) and the consumer, and subscribes. Kafka
 * need not be up: the service connects when it can.
 *
 * Returns: %FALSE only for a configuration error
 */
gboolean
evcp_kafka_service_start (EvcpKafkaService *self, GError **error)
{
  g_return_val_if_fail (EVCP_IS_KAFKA_SERVICE (self), FALSE);
  g_return_val_if_fail (!self->started, FALSE);

  if (!evcp_config_validate (self->config, error))
    return FALSE;
  evcp_kafka_default_client_id (self->config->rdkafka, self->config->cp_id);
  self->producer = evcp_kafka_producer_new (self->config->kafka_brokers,
                                            self->config->rdkafka,
                                            self->config->rdkafka_producer, error);
  if (self->producer == NULL)
    return FALSE;
  /* a dead letter fits what the producer may send, and its queue */
  self->dead_record_max = (gsize) MIN (DEAD_LETTER_MAX_BYTES,
                                       evcp_kafka_producer_get_conf_int (self->producer, "message.max.bytes",
                                                                         1000000));
  self->dead_bytes_max = (gsize) evcp_kafka_producer_get_conf_int (self->producer,
                                                                   "queue.buffering.max.kbytes", 1024) * 512;
  if (!start_consumer (self, error))
    {
      g_clear_object (&self->producer);
      return FALSE;
    }
  self->started = TRUE;
  record_check_start (self);
  {
    g_autofree gchar *topics = g_strjoinv (",", self->config->kafka_topics);

    g_message (_("Consuming %s from %s as group %s"), topics,
               self->config->kafka_brokers, evcp_config_get_group_id (self->config));
  }
  return TRUE;
}

/**
 * evcp_kafka_service_stop:
 * @timeout_ms: how long to wait for outstanding deliveries
 *
 * Clean shutdown: pending handler retries are abandoned (their messages stay
 * uncommitted and come again), outstanding dead letters are flushed, the
 * offsets of finished messages are committed, the consumer leaves its group.
 */
void
evcp_kafka_service_stop (EvcpKafkaService *self, guint timeout_ms)
{
  g_return_if_fail (EVCP_IS_KAFKA_SERVICE (self));

  if (!self->started)
    return;
  self->stopping = TRUE;
  record_check_stop (self);
  /* Kafka known to be gone: waiting for it to confirm anything cannot help
   * (what was not committed comes again, the outbox keeps what was not sent) */
  if (self->state != EVCP_KAFKA_STATE_CONNECTED)
    timeout_ms = MIN (timeout_ms, 500);
  self->close_timeout_ms = MAX (timeout_ms, 100);
  g_clear_handle_id (&self->restart_id, g_source_remove);
  evcp_dispatcher_cancel_all (self->dispatcher);
  if (self->producer != NULL)
    evcp_kafka_producer_close (self->producer, timeout_ms);
  dead_letters_abandon (self);  /* those that never made it: not committed */
  if (self->current != NULL)
    finish_current (self);
  stop_consumer (self, TRUE);
  self->started = FALSE;
  set_state (self, EVCP_KAFKA_STATE_STOPPED, "stopped");
  {
    g_autofree gchar *received = g_strdup_printf ("%" G_GUINT64_FORMAT, self->received);
    g_autofree gchar *handled = g_strdup_printf ("%" G_GUINT64_FORMAT, self->handled);
    g_autofree gchar *dead = g_strdup_printf ("%" G_GUINT64_FORMAT, self->dead_letters);

    g_message (_("Kafka service stopped: %s received, %s handled, %s dead letters"),
               received, handled, dead);
  }
}

/* ---- public API ------------------------------------------------------------ */

/* EvcpEngineHost: evcp_kafka_service_register_handler () & co. (the SDK,
 * evcp-plugin-services.h) call these. */
static gboolean
kafka_service_register_handler (EvcpEngineHost      *host,
                                EvcpMessageHandler  *handler,
                                GError             **error)
{
  EvcpKafkaService *self = EVCP_KAFKA_SERVICE (host);

  return evcp_dispatcher_register (self->dispatcher, handler, error);
}

static gboolean
kafka_service_unregister_handler (EvcpEngineHost  *host,
                                  const gchar     *name,
                                  GError         **error)
{
  EvcpKafkaService *self = EVCP_KAFKA_SERVICE (host);

  return evcp_dispatcher_unregister (self->dispatcher, name, error);
}

EvcpDispatcher *
evcp_kafka_service_get_dispatcher (EvcpKafkaService *self)
{
  g_return_val_if_fail (EVCP_IS_KAFKA_SERVICE (self), NULL);
  return self->dispatcher;
}

EvcpKafkaProducer *
evcp_kafka_service_get_producer (EvcpKafkaService *self)
{
  g_return_val_if_fail (EVCP_IS_KAFKA_SERVICE (self), NULL);
  return self->producer;
}

EvcpKafkaState
evcp_kafka_service_get_state (EvcpKafkaService *self)
{
  g_return_val_if_fail (EVCP_IS_KAFKA_SERVICE (self), EVCP_KAFKA_STATE_STOPPED);
  return self->state;
}

/**
 * evcp_kafka_service_get_metrics:
 *
 * Returns: (transfer floating): a{sv} with messages-received,
 *   messages-handled, dead-letters, invalid-messages, dead-letter-failures
 *   (t), fetcher-wakeups (t: seeks that woke librdkafka's stopped fetcher),
 *   kafka-state (s), kafka-connected (b) and kinds (a{s(ttt)})
 */
GVariant *
evcp_kafka_service_get_metrics (EvcpKafkaService *self)
{
  GVariantBuilder b;

  g_return_val_if_fail (EVCP_IS_KAFKA_SERVICE (self), NULL);

  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&b, "{sv}", "messages-received", g_variant_new_uint64 (self->received));
  g_variant_builder_add (&b, "{sv}", "messages-handled", g_variant_new_uint64 (self->handled));
  g_variant_builder_add (&b, "{sv}", "dead-letters", g_variant_new_uint64 (self->dead_letters));
  g_variant_builder_add (&b, "{sv}", "invalid-messages", g_variant_new_uint64 (self->invalid));
  g_variant_builder_add (&b, "{sv}", "dead-letter-failures",
                         g_variant_new_uint64 (self->dead_letter_failures));
  g_variant_builder_add (&b, "{sv}", "fetcher-wakeups",
                         g_variant_new_uint64 (evcp_kafka_consumer_get_fetcher_wakeups (self->consumer)));
  g_variant_builder_add (&b, "{sv}", "dead-letters-reduced", g_variant_new_uint64 (self->dead_letters_reduced));
  g_variant_builder_add (&b, "{sv}", "dead-letters-lost", g_variant_new_uint64 (self->dead_letters_lost));
  g_variant_builder_add (&b, "{sv}", "dead-letters-in-flight", g_variant_new_uint32 (self->dead_q.length));
  g_variant_builder_add (&b, "{sv}", "partitions-reread", g_variant_new_uint64 (self->partitions_reread));
  g_variant_builder_add (&b, "{sv}", "skipped-by-key", g_variant_new_uint64 (self->skipped_by_key));
  g_variant_builder_add (&b, "{sv}", "consumer-lag", g_variant_new_int64 (self->consumer_lag));
  {
    g_autofree gchar *stall = evcp_kafka_service_get_stall_reason (self);

    g_variant_builder_add (&b, "{sv}", "consumer-stalled", g_variant_new_string (stall != NULL ? stall : ""));
  }
  g_variant_builder_add (&b, "{sv}", "kafka-state",
                         g_variant_new_string (evcp_kafka_state_to_string (self->state)));
  g_variant_builder_add (&b, "{sv}", "kafka-connected",
                         g_variant_new_boolean (self->state == EVCP_KAFKA_STATE_CONNECTED));
  g_variant_builder_add (&b, "{sv}", "kinds", evcp_dispatcher_get_kind_stats (self->dispatcher));
  return g_variant_builder_end (&b);
}

/**
 * evcp_kafka_service_get_statistics:
 *
 * Returns: (transfer full) (nullable): the consumer's last librdkafka
 *   statistics (JSON, every statistics.interval.ms), %NULL before the first
 */
gchar *
evcp_kafka_service_get_statistics (EvcpKafkaService *self)
{
  g_return_val_if_fail (EVCP_IS_KAFKA_SERVICE (self), NULL);
  return g_strdup (self->last_statistics);
}

static guint
kafka_service_add_done_hook (EvcpEngineHost    *host,
                             EvcpKafkaDoneFunc  func,
                             gpointer           user_data)
{
  EvcpKafkaService *self = EVCP_KAFKA_SERVICE (host);
  DoneHook hook = { 0, func, user_data };

  hook.id = ++self->next_hook_id;
  g_array_append_val (self->done_hooks, hook);
  return hook.id;
}

static void
kafka_service_remove_done_hook (EvcpEngineHost *host, guint id)
{
  EvcpKafkaService *self = EVCP_KAFKA_SERVICE (host);

  for (guint i = 0; i < self->done_hooks->len; i++)
    if (g_array_index (self->done_hooks, DoneHook, i).id == id)
      {
        g_array_remove_index (self->done_hooks, i);
        return;
      }
  g_critical ("%s: no done hook %u", G_STRFUNC, id);
}

static void
evcp_kafka_service_engine_host_init (EvcpEngineHostInterface *iface)
{
  iface->register_handler = kafka_service_register_handler;
  iface->unregister_handler = kafka_service_unregister_handler;
  iface->add_done_hook = kafka_service_add_done_hook;
  iface->remove_done_hook = kafka_service_remove_done_hook;
}

/* ---- GObject ------------------------------------------------------------- */

static void
forward_handled (EvcpMessage *message, const gchar *handler, gboolean ok, gpointer user_data)
{
  EvcpKafkaService *self = user_data;

  if (self->want_handled || !self->in_batch)
    g_signal_emit (self, signals[SIGNAL_MESSAGE_HANDLED], 0, message, handler, ok);
}

static void
forward_failed (EvcpDispatcher *d, EvcpMessage *message, const gchar *handler, GError *error,
                guint attempt, gboolean will_retry, EvcpKafkaService *self)
{
  g_signal_emit (self, signals[SIGNAL_HANDLER_FAILED], 0, message, handler, error, attempt, will_retry);
}

EvcpKafkaService *
evcp_kafka_service_new (EvcpConfig *config)
{
  EvcpKafkaService *self;

  g_return_val_if_fail (config != NULL, NULL);

  self = g_object_new (EVCP_TYPE_KAFKA_SERVICE, NULL);
  self->config = evcp_config_copy (config);
  self->keyed = config->kafka_assignment == EVCP_KAFKA_ASSIGNMENT_KEYED;
  self->limits.max_size = config->max_message_size;
  self->limits.max_depth = config->max_depth;
  evcp_dispatcher_set_retry_policy (self->dispatcher, config->handler_attempts,
                                    config->retry_backoff_ms, config->retry_backoff_max_ms);
  return self;
}

static void
evcp_kafka_service_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  EvcpKafkaService *self = EVCP_KAFKA_SERVICE (object);

  switch (prop_id)
    {
    case PROP_STATE:
      g_value_set_enum (value, self->state);
      break;
    case PROP_SECURITY_ERROR:
      g_value_set_string (value, self->security.cause);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
evcp_kafka_service_dispose (GObject *object)
{
  EvcpKafkaService *self = EVCP_KAFKA_SERVICE (object);

  evcp_kafka_service_stop (self, 2000);
  g_clear_handle_id (&self->restart_id, g_source_remove);
  G_OBJECT_CLASS (evcp_kafka_service_parent_class)->dispose (object);
}

static void
evcp_kafka_service_finalize (GObject *object)
{
  EvcpKafkaService *self = EVCP_KAFKA_SERVICE (object);

  g_clear_pointer (&self->current, evcp_message_unref);
  dead_letters_abandon (self);
  g_hash_table_unref (self->gates);
  g_hash_table_unref (self->partition_counts);
  g_mutex_clear (&self->metadata_lock);
  g_cond_clear (&self->metadata_cond);
  g_free (self->dead_last_error);
  evcp_kafka_security_report_clear (&self->security);
  g_free (self->last_statistics);
  g_clear_object (&self->producer);
  g_clear_object (&self->dispatcher);
  evcp_kafka_consumer_free (self->consumer);
  g_array_unref (self->done_hooks);
  g_clear_pointer (&self->config, evcp_config_free);
  G_OBJECT_CLASS (evcp_kafka_service_parent_class)->finalize (object);
}

static void
evcp_kafka_service_class_init (EvcpKafkaServiceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = evcp_kafka_service_get_property;
  object_class->dispose = evcp_kafka_service_dispose;
  object_class->finalize = evcp_kafka_service_finalize;

  props[PROP_STATE] =
    g_param_spec_enum ("state", NULL, NULL, EVCP_TYPE_KAFKA_STATE, EVCP_KAFKA_STATE_STOPPED,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /* EvcpKafkaService:security-error: why the brokers refuse the consumer
   * (credentials, certificate), until it connects again; NULL when they
   * do not. */
  props[PROP_SECURITY_ERROR] =
    g_param_spec_string ("security-error", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, props);

  /* The per-message signals have C marshallers (no libffi per emission).
   * Listeners of message-received, -handled and -done are looked up once
   * per batch of consumed messages (at most DRAIN_BUDGET): one connected
   * from inside a handler hears from the next batch on. */

  /* EvcpKafkaService::message-received: (message) consumed, before parsing */
  signals[SIGNAL_MESSAGE_RECEIVED] =
    g_signal_new ("message-received", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, g_cclosure_marshal_VOID__BOXED, G_TYPE_NONE, 1, EVCP_TYPE_MESSAGE);
  g_signal_set_va_marshaller (signals[SIGNAL_MESSAGE_RECEIVED], G_TYPE_FROM_CLASS (klass),
                              g_cclosure_marshal_VOID__BOXEDv);
  /* EvcpKafkaService::message-handled: (message, handler, ok) one handler's final outcome */
  signals[SIGNAL_MESSAGE_HANDLED] =
    g_signal_new ("message-handled", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, evcp_marshal_VOID__BOXED_STRING_BOOLEAN, G_TYPE_NONE, 3,
                  EVCP_TYPE_MESSAGE, G_TYPE_STRING, G_TYPE_BOOLEAN);
  g_signal_set_va_marshaller (signals[SIGNAL_MESSAGE_HANDLED], G_TYPE_FROM_CLASS (klass),
                              evcp_marshal_VOID__BOXED_STRING_BOOLEANv);
  /* EvcpKafkaService::handler-failed: (message, handler, error, attempt, will-retry) */
  signals[SIGNAL_HANDLER_FAILED] =
    g_signal_new ("handler-failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, evcp_marshal_VOID__BOXED_STRING_BOXED_UINT_BOOLEAN, G_TYPE_NONE, 5,
                  EVCP_TYPE_MESSAGE, G_TYPE_STRING, G_TYPE_ERROR, G_TYPE_UINT, G_TYPE_BOOLEAN);
  g_signal_set_va_marshaller (signals[SIGNAL_HANDLER_FAILED], G_TYPE_FROM_CLASS (klass),
                              evcp_marshal_VOID__BOXED_STRING_BOXED_UINT_BOOLEANv);
  /* EvcpKafkaService::message-dead-lettered: (message, error) on its way to dead_letters */
  signals[SIGNAL_MESSAGE_DEAD_LETTERED] =
    g_signal_new ("message-dead-lettered", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, evcp_marshal_VOID__BOXED_BOXED, G_TYPE_NONE, 2,
                  EVCP_TYPE_MESSAGE, G_TYPE_ERROR);
  g_signal_set_va_marshaller (signals[SIGNAL_MESSAGE_DEAD_LETTERED], G_TYPE_FROM_CLASS (klass),
                              evcp_marshal_VOID__BOXED_BOXEDv);
  /* EvcpKafkaService::message-done: (message, dead-letter-error or NULL): finished,
   * its offset will be committed */
  signals[SIGNAL_MESSAGE_DONE] =
    g_signal_new ("message-done", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, evcp_marshal_VOID__BOXED_BOXED, G_TYPE_NONE, 2,
                  EVCP_TYPE_MESSAGE, G_TYPE_ERROR);
  g_signal_set_va_marshaller (signals[SIGNAL_MESSAGE_DONE], G_TYPE_FROM_CLASS (klass),
                              evcp_marshal_VOID__BOXED_BOXEDv);
  /* EvcpKafkaService::connection-state-changed: (old, new) */
  signals[SIGNAL_CONNECTION_STATE_CHANGED] =
    g_signal_new ("connection-state-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 2, EVCP_TYPE_KAFKA_STATE, EVCP_TYPE_KAFKA_STATE);
}

static void
evcp_kafka_service_init (EvcpKafkaService *self)
{
  self->dispatcher = evcp_dispatcher_new ();
  g_queue_init (&self->dead_q);
  self->partition_counts = g_hash_table_new (NULL, NULL);
  g_mutex_init (&self->metadata_lock);
  g_cond_init (&self->metadata_cond);
  self->gates = g_hash_table_new_full (part_key_hash, part_key_equal, g_free, NULL);
  self->consumer = evcp_kafka_consumer_new (&loop_callbacks, self);
  self->consumer_lag = -1;
  self->done_hooks = g_array_new (FALSE, FALSE, sizeof (DoneHook));
  evcp_dispatcher_set_handled_hook (self->dispatcher, forward_handled, self);
  g_signal_connect_object (self->dispatcher, "handler-failed", G_CALLBACK (forward_failed), self, 0);
}
