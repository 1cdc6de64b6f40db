/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "evcp-kafka"

#include "evcp-build-config.h"

#include <string.h>

#include "evcp-error.h"
#include "evcp-kafka-record-check.h"
#include "evcp-kafka-util.h"

#define DIGEST_SPAN 32   /* bytes of the value's start and end in the digest */

struct _EvcpKafkaRecordCheck
{
  GObject     parent_instance;
  rd_kafka_t *rk;          /* used by one run at a time, in its thread */
};

G_DEFINE_TYPE (EvcpKafkaRecordCheck, evcp_kafka_record_check, G_TYPE_OBJECT)

static guint32
fnv1a (guint32 h, const guint8 *p, gsize n)
{
  for (gsize i = 0; i < n; i++)
    h = (h ^ p[i]) * 16777619u;
  return h;
}

void
evcp_record_mark_set (EvcpRecordMark *mark, const rd_kafka_message_t *m)
{
  const guint8 *v = m->payload;
  guint32 h = 2166136261u;

  mark->offset = m->offset;
  mark->timestamp = rd_kafka_message_timestamp (m, NULL);
  mark->key_len = m->key_len;
  mark->len = m->len;
  if (v != NULL)
    {
      h = fnv1a (h, v, MIN (m->len, DIGEST_SPAN));
      if (m->len > DIGEST_SPAN)
        h = fnv1a (h, v + m->len - MIN (m->len - DIGEST_SPAN, DIGEST_SPAN), MIN (m->len - DIGEST_SPAN, DIGEST_SPAN));
    }
  if (m->key != NULL)
    h = fnv1a (h, m->key, MIN (m->key_len, DIGEST_SPAN));
  mark->digest = h;
}

gboolean
evcp_record_mark_equal (const EvcpRecordMark *a, const EvcpRecordMark *b)
{
  return a->offset == b->offset && a->timestamp == b->timestamp && a->key_len == b->key_len &&
         a->len == b->len && a->digest == b->digest;
}

/* consumer defaults of the checking client: no group membership, no
 * commits, one small fetch per partition, errors rather than resets */
static const gchar *const check_defaults[] = {
  "enable.auto.commit", "false",
  "enable.auto.offset.store", "false",
  "enable.partition.eof", "true",
  "auto.offset.reset", "error",
  "fetch.wait.max.ms", "100",
  "queued.min.messages", "1",
  "max.partition.fetch.bytes", "65536",
  "socket.nagle.disable", "true",
  NULL
};

EvcpKafkaRecordCheck *
evcp_kafka_record_check_new (rd_kafka_conf_t *conf, GError **error)
{
  g_autoptr(EvcpKafkaRecordCheck) self = NULL;
  gchar errstr[512];

  g_return_val_if_fail (conf != NULL, NULL);

  for (guint i = 0; check_defaults[i] != NULL; i += 2)
    if (rd_kafka_conf_set (conf, check_defaults[i], check_defaults[i + 1], errstr, sizeof errstr)
          != RD_KAFKA_CONF_OK)
      {
        g_set_error (error, EVCP_ERROR, EVCP_ERROR_CONFIG, "%s: %s", check_defaults[i], errstr);
        rd_kafka_conf_destroy (conf);
        return NULL;
      }
  self = g_object_new (EVCP_TYPE_KAFKA_RECORD_CHECK, NULL);
  self->rk = rd_kafka_new (RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
  if (self->rk == NULL)
    {
      g_set_error (error, EVCP_ERROR, EVCP_ERROR_CONFIG,
                   "Cannot create the Kafka record check: %s", errstr);
      rd_kafka_conf_destroy (conf);
      return NULL;
    }
  return g_steal_pointer (&self);
}

static void
marks_free (rd_kafka_topic_partition_list_t *list)
{
  for (int i = 0; i < list->cnt; i++)
    g_clear_pointer (&list->elems[i].opaque, g_free);
  rd_kafka_topic_partition_list_destroy (list);
}

typedef struct {
  rd_kafka_topic_partition_list_t *parts;   /* marks in .opaque */
  guint                            timeout_ms;
} Run;

static void
run_free (Run *run)
{
  marks_free (run->parts);
  g_free (run);
}

/* One message of the checking client: decides its partition, or not yet. */
static gboolean
judge (rd_kafka_t *rk, const rd_kafka_message_t *m, const EvcpRecordMark *mark,
       rd_kafka_topic_partition_list_t *went_back)
{
  const gchar *topic = rd_kafka_topic_name (m->rkt);
  int64_t lo = -1, hi = -1;

  switch (m->err)
    {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
      if (m->offset == mark->offset)
        {
          EvcpRecordMark seen;

          evcp_record_mark_set (&seen, m);
          if (!evcp_record_mark_equal (&seen, mark))
            rd_kafka_topic_partition_list_add (went_back, topic, m->partition)->err = RD_KAFKA_RESP_ERR__BAD_MSG;
        }
      /* past it (compaction, transaction markers): nothing to say */
      return TRUE;
    case RD_KAFKA_RESP_ERR__PARTITION_EOF:
      /* the partition ends (its high watermark, m->offset) at or before
       * the offset of a record that was read there */
      if (m->offset <= mark->offset)
        rd_kafka_topic_partition_list_add (went_back, topic, m->partition)->err = RD_KAFKA_RESP_ERR__PARTITION_EOF;
      return TRUE;
    case RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET:
    case RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE:
      /* under the low watermark: retention took it; over the high one: back */
      if (rd_kafka_query_watermark_offsets (rk, topic, m->partition, &lo, &hi, 2000) == RD_KAFKA_RESP_ERR_NO_ERROR &&
          mark->offset >= hi)
        rd_kafka_topic_partition_list_add (went_back, topic, m->partition)->err = RD_KAFKA_RESP_ERR__PARTITION_EOF;
      return TRUE;
    default:
      /* not known yet, the broker away, …: this run says nothing of it */
      g_debug ("Record check %s[%d]: %s", topic, m->partition, rd_kafka_err2str (m->err));
      return FALSE;
    }
}

static void
run_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  EvcpKafkaRecordCheck *self = source;
  Run *run = task_data;
  rd_kafka_topic_partition_list_t *went_back = rd_kafka_topic_partition_list_new (0);
  g_autofree gboolean *decided = g_new0 (gboolean, MAX (run->parts->cnt, 1));
  gint64 deadline = g_get_monotonic_time () + (gint64) run->timeout_ms * 1000;
  int left = run->parts->cnt;
  rd_kafka_resp_err_t err;

  err = rd_kafka_assign (self->rk, run->parts);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
    g_debug ("Record check: assign: %s", rd_kafka_err2str (err));
  while (err == RD_KAFKA_RESP_ERR_NO_ERROR && left > 0 &&
         g_get_monotonic_time () < deadline && !g_cancellable_is_cancelled (cancellable))
    {
      rd_kafka_message_t *m = rd_kafka_consumer_poll (self->rk, 100);

      if (m == NULL)
        continue;
      for (int i = 0; m->rkt != NULL && i < run->parts->cnt; i++)
        {
          rd_kafka_topic_partition_t *p = &run->parts->elems[i];

          if (!decided[i] && p->partition == m->partition &&
              strcmp (p->topic, rd_kafka_topic_name (m->rkt)) == 0 &&
              judge (self->rk, m, p->opaque, went_back))
            {
              decided[i] = TRUE;
              left--;
            }
        }
      rd_kafka_message_destroy (m);
    }
  rd_kafka_assign (self->rk, NULL);
  if (g_cancellable_is_cancelled (cancellable))
    {
      rd_kafka_topic_partition_list_destroy (went_back);
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "cancelled");
      return;
    }
  if (left > 0)
    g_debug ("Record check: %d partitions not checked this time", left);
  g_task_return_pointer (task, went_back, (GDestroyNotify) rd_kafka_topic_partition_list_destroy);
}

void
evcp_kafka_record_check_run_async (EvcpKafkaRecordCheck                  *self,
                                   const rd_kafka_topic_partition_list_t *partitions,
                                   guint                                  timeout_ms,
                                   GCancellable                          *cancellable,
                                   GAsyncReadyCallback                    callback,
                                   gpointer                               user_data)
{
  g_autoptr(GTask) task = NULL;
  Run *run;

  g_return_if_fail (EVCP_IS_KAFKA_RECORD_CHECK (self));
  g_return_if_fail (partitions != NULL);

  run = g_new0 (Run, 1);
  run->parts = rd_kafka_topic_partition_list_copy (partitions);
  /* the copy shares the opaque pointers: own copies of the marks */
  for (int i = 0; i < run->parts->cnt; i++)
    run->parts->elems[i].opaque = g_memdup2 (partitions->elems[i].opaque, sizeof (EvcpRecordMark));
  run->timeout_ms = timeout_ms;
  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, evcp_kafka_record_check_run_async);
  g_task_set_task_data (task, run, (GDestroyNotify) run_free);
  g_task_run_in_thread (task, run_thread);
}

rd_kafka_topic_partition_list_t *
evcp_kafka_record_check_run_finish (EvcpKafkaRecordCheck  *self,
                                    GAsyncResult          *result,
                                    GError               **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
evcp_kafka_record_check_finalize (GObject *object)
{
  EvcpKafkaRecordCheck *self = EVCP_KAFKA_RECORD_CHECK (object);

  /* no group, nothing to commit: quick */
  if (self->rk != NULL)
    evcp_kafka_destroy_within (self->rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE,
                               g_get_monotonic_time () + 2 * G_USEC_PER_SEC);
  G_OBJECT_CLASS (evcp_kafka_record_check_parent_class)->finalize (object);
}

static void
evcp_kafka_record_check_class_init (EvcpKafkaRecordCheckClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = evcp_kafka_record_check_finalize;
}

static void
evcp_kafka_record_check_init (EvcpKafkaRecordCheck *self)
{
}
