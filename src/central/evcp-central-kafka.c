/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "evcp-central"

#include "evcp-build-config.h"

#include <glib/gi18n-lib.h>

#include "evcp-central-kafka.h"
#include "evcp-error.h"
#include "evcp-json-limits.h"
#include "evcp-kafka-source.h"
#include "evcp-kafka-util.h"

#define DRAIN_BUDGET   256
#define MAX_VALUE_SIZE (1024 * 1024)
/* a record Central reads is at most 3 levels deep ({"data":{…}}) */
#define MAX_DEPTH      EVCP_JSON_LIMITS_DEFAULT_MAX_DEPTH

static const gchar *const consumer_defaults[] = {
  "enable.auto.offset.store", "false",   /* stored once the message is applied */
  "enable.auto.commit", "true",
  "auto.commit.interval.ms", "1000",
  "auto.offset.reset", "earliest",       /* a new Central learns the history */
  "enable.partition.eof", "false",
  "queued.max.messages.kbytes", "4096",
  "reconnect.backoff.ms", "100",
  "reconnect.backoff.max.ms", "10000",
  NULL
};

struct _EvcpCentralKafka
{
  GObject      parent_instance;

  gchar       *brokers;
  gchar       *group_id;
  GHashTable  *overrides;
  GHashTable  *consumer_overrides;

  rd_kafka_t  *rk;
  GSource     *source;
  guint        drain_timer;
  const gchar *status;
  guint64      received;
  guint64      skipped;
  gint64       skipped_logged_at;
  guint        skipped_unlogged;

  rd_kafka_topic_partition_list_t *to_store;
};

G_DEFINE_TYPE (EvcpCentralKafka, evcp_central_kafka, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_STATUS,
  N_PROPS
};
static GParamSpec *props[N_PROPS];

enum {
  SIGNAL_MESSAGE,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

static void
set_status (EvcpCentralKafka *self, const gchar *status, const gchar *reason)
{
  if (g_strcmp0 (self->status, status) == 0)
    return;
  self->status = status;
  if (g_str_equal (status, "unavailable"))
    g_warning (_("Kafka is unavailable (%s): the Central goes on over the socket alone and reconnects"),
               reason);
  else
    g_message (_("Kafka: %s (%s)"), status, reason);
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_STATUS]);
}

static GHashTable *
copy_table (GHashTable *table)
{
  GHashTable *copy = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  GHashTableIter iter;
  gpointer key, value;

  if (table == NULL)
    return copy;
  g_hash_table_iter_init (&iter, table);
  while (g_hash_table_iter_next (&iter, &key, &value))
    g_hash_table_insert (copy, g_strdup (key), g_strdup (value));
  return copy;
}

/* ---- consuming ------------------------------------------------------------ */

static void
flush_offsets (EvcpCentralKafka *self)
{
  if (self->rk == NULL || self->to_store->cnt == 0)
    return;
  /* _STATE: the partition was revoked meanwhile (benign: at least once) */
  if (rd_kafka_offsets_store (self->rk, self->to_store) != RD_KAFKA_RESP_ERR_NO_ERROR)
    g_debug ("some offsets could not be stored");
  rd_kafka_topic_partition_list_destroy (self->to_store);
  self->to_store = rd_kafka_topic_partition_list_new (4);
}

/* A record that is not a JSON object within the limits: skipped (its
 * offset is stored like any other), counted, and said in the log at most
 * once a second, so that a flood of them floods nothing. */
static void
skip (EvcpCentralKafka *self, rd_kafka_message_t *m, const gchar *topic, const GError *error)
{
  gint64 now = g_get_monotonic_time ();
  g_autofree gchar *offset = NULL;
  g_autofree gchar *partition = NULL;
  g_autofree gchar *count = NULL;

  self->skipped++;
  if (self->skipped_logged_at != 0 && now - self->skipped_logged_at < G_USEC_PER_SEC)
    {
      self->skipped_unlogged++;
      return;
    }
  offset = g_strdup_printf ("%" G_GINT64_FORMAT, m->offset);
  partition = g_strdup_printf ("%d", m->partition);
  count = g_strdup_printf ("%" G_GUINT64_FORMAT, self->skipped);
  if (self->skipped_unlogged > 0)
    g_warning (_("%u more Kafka records skipped in the last second"), self->skipped_unlogged);
  /* TRANSLATORS: topic[partition]@offset, the reason, the number skipped so far */
  g_warning (_("Kafka %s[%s]@%s is not a JSON object, skipped: %s (%s skipped so far)"), topic,
             partition, offset, error->message, count);
  self->skipped_logged_at = now;
  self->skipped_unlogged = 0;
}

static void
process (EvcpCentralKafka *self, rd_kafka_message_t *m)
{
  const gchar *topic = rd_kafka_topic_name (m->rkt);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) root = NULL;
  rd_kafka_topic_partition_t *tp;

  self->received++;
  root = evcp_json_parse_object (m->payload, m->len, MAX_VALUE_SIZE, MAX_DEPTH, &error);
  if (root == NULL)
    skip (self, m, topic, error);
  else
    g_signal_emit (self, signals[SIGNAL_MESSAGE], 0, topic, json_node_get_object (root));

  tp = rd_kafka_topic_partition_list_find (self->to_store, topic, m->partition);
  if (tp == NULL)
    tp = rd_kafka_topic_partition_list_add (self->to_store, topic, m->partition);
  tp->offset = m->offset + 1;
}

static gboolean
drain_cb (gpointer user_data)
{
  EvcpCentralKafka *self = user_data;
  guint polled = 0;

  while (self->rk != NULL && polled < DRAIN_BUDGET)
    {
      rd_kafka_message_t *m = rd_kafka_consumer_poll (self->rk, 0);

      if (m == NULL)
        break;
      polled++;
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
        {
          set_status (self, "connected", _("receiving"));
          process (self, m);
        }
      else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
        g_debug ("Kafka consumer: %s", rd_kafka_message_errstr (m));
      rd_kafka_message_destroy (m);
    }
  flush_offsets (self);
  /* more may be queued: come back after the other sources had their turn */
  if (polled == DRAIN_BUDGET && self->source != NULL)
    evcp_kafka_source_wake (self->source);
  return G_SOURCE_CONTINUE;
}

/* On the main thread, from rd_kafka_consumer_poll(). */
static void
rebalance_cb (rd_kafka_t                      *rk,
              rd_kafka_resp_err_t              err,
              rd_kafka_topic_partition_list_t *partitions,
              void                            *opaque)
{
  EvcpCentralKafka *self = opaque;

  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS)
    {
      g_autofree gchar *n = g_strdup_printf ("%d", partitions->cnt);
      /* TRANSLATORS: %s is a number of Kafka partitions */
      g_autofree gchar *what = g_strdup_printf (_("%s partitions assigned"), n);

      rd_kafka_assign (rk, partitions);
      set_status (self, "connected", what);
      return;
    }
  flush_offsets (self);
  if (!rd_kafka_assignment_lost (rk))
    rd_kafka_commit (rk, NULL, 0);
  rd_kafka_assign (rk, NULL);
}

static void
error_cb (rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
  EvcpCentralKafka *self = opaque;

  if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
    set_status (self, "unavailable", reason);
  else
    g_debug ("Kafka: %s: %s", rd_kafka_err2name (err), reason);
}

/* ---- lifecycle ------------------------------------------------------------ */

EvcpCentralKafka *
evcp_central_kafka_new (const gchar *brokers,
                        const gchar *group_id,
                        GHashTable  *overrides,
                        GHashTable  *consumer_overrides)
{
  EvcpCentralKafka *self;

  g_return_val_if_fail (brokers != NULL, NULL);

  self = g_object_new (EVCP_TYPE_CENTRAL_KAFKA, NULL);
  self->brokers = g_strdup (brokers);
  self->group_id = g_strdup (group_id != NULL ? group_id : EVCP_CENTRAL_KAFKA_DEFAULT_GROUP);
  self->overrides = copy_table (overrides);
  self->consumer_overrides = copy_table (consumer_overrides);
  return self;
}

gboolean
evcp_central_kafka_start (EvcpCentralKafka *self, GError **error)
{
  g_autoptr(rd_kafka_conf_t) conf = NULL;
  g_autoptr(rd_kafka_topic_partition_list_t) topics = NULL;
  rd_kafka_resp_err_t err;
  gchar errstr[512];

  g_return_val_if_fail (EVCP_IS_CENTRAL_KAFKA (self), FALSE);
  g_return_val_if_fail (self->rk == NULL, FALSE);

  conf = evcp_kafka_conf_new (self->brokers, consumer_defaults, self->overrides,
                              self->consumer_overrides, error);
  if (conf == NULL)
    return FALSE;
  if (rd_kafka_conf_set (conf, "group.id", self->group_id, errstr, sizeof errstr) != RD_KAFKA_CONF_OK)
    {
      g_set_error (error, EVCP_ERROR, EVCP_ERROR_CONFIG, "group.id: %s", errstr);
      return FALSE;
    }
  rd_kafka_conf_set_opaque (conf, self);
  rd_kafka_conf_set_rebalance_cb (conf, rebalance_cb);
  rd_kafka_conf_set_error_cb (conf, error_cb);

  self->rk = rd_kafka_new (RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
  if (self->rk == NULL)
    {
      g_set_error (error, EVCP_ERROR, EVCP_ERROR_CONFIG,
                   _("Cannot create the Kafka consumer: %s"), errstr);
      return FALSE;
    }
  conf = NULL; /* owned by rk */
  rd_kafka_poll_set_consumer (self->rk);

  topics = rd_kafka_topic_partition_list_new (2);
  rd_kafka_topic_partition_list_add (topics, EVCP_CENTRAL_KAFKA_SESSIONS_TOPIC, RD_KAFKA_PARTITION_UA);
  rd_kafka_topic_partition_list_add (topics, EVCP_CENTRAL_KAFKA_MONITORING_TOPIC, RD_KAFKA_PARTITION_UA);
  err = rd_kafka_subscribe (self->rk, topics);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
    {
      evcp_kafka_set_error (error, err, _("Cannot subscribe"));
      g_clear_pointer (&self->rk, rd_kafka_destroy);
      return FALSE;
    }

  self->source = evcp_kafka_source_new (rd_kafka_queue_get_consumer (self->rk),
                                        g_main_context_get_thread_default ());
  g_source_set_callback (self->source, drain_cb, self, NULL);
  g_source_attach (self->source, g_main_context_get_thread_default ());
  /* rebalances and max.poll.interval.ms are served even when idle */
  self->drain_timer = g_timeout_add_seconds (1, drain_cb, self);
  set_status (self, "connecting", self->brokers);
  g_message (_("Consuming %s and %s from %s as group %s"),
             EVCP_CENTRAL_KAFKA_SESSIONS_TOPIC, EVCP_CENTRAL_KAFKA_MONITORING_TOPIC,
             self->brokers, self->group_id);
  return TRUE;
}

void
evcp_central_kafka_stop (EvcpCentralKafka *self)
{

  g_return_if_fail (EVCP_IS_CENTRAL_KAFKA (self));

  if (self->source != NULL)
    {
      g_source_destroy (self->source);
      g_clear_pointer (&self->source, g_source_unref);
    }
  g_clear_handle_id (&self->drain_timer, g_source_remove);
  if (self->rk == NULL)
    return;
  flush_offsets (self);
  /* within seconds even when Kafka is gone */
  evcp_kafka_consumer_close_bounded (self->rk, 3000, FALSE);
  self->rk = NULL;
  if (self->skipped > 0)
    {
      g_autofree gchar *count = g_strdup_printf ("%" G_GUINT64_FORMAT, self->skipped);

      g_message (_("Kafka: %s records were skipped (not JSON objects within the limits)"), count);
    }
  set_status (self, "stopped", _("shutdown"));
}

const gchar *
evcp_central_kafka_get_status (EvcpCentralKafka *self)
{
  g_return_val_if_fail (EVCP_IS_CENTRAL_KAFKA (self), NULL);
  return self->status;
}

guint64
evcp_central_kafka_get_received (EvcpCentralKafka *self)
{
  g_return_val_if_fail (EVCP_IS_CENTRAL_KAFKA (self), 0);
  return self->received;
}

guint64
evcp_central_kafka_get_skipped (EvcpCentralKafka *self)
{
  g_return_val_if_fail (EVCP_IS_CENTRAL_KAFKA (self), 0);
  return self->skipped;
}

static void
evcp_central_kafka_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  EvcpCentralKafka *self = EVCP_CENTRAL_KAFKA (object);

  switch (prop_id)
    {
    case PROP_STATUS:
      g_value_set_string (value, self->status);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
evcp_central_kafka_finalize (GObject *object)
{
  EvcpCentralKafka *self = EVCP_CENTRAL_KAFKA (object);

  evcp_central_kafka_stop (self);
  rd_kafka_topic_partition_list_destroy (self->to_store);
  g_free (self->brokers);
  g_free (self->group_id);
  g_hash_table_unref (self->overrides);
  g_hash_table_unref (self->consumer_overrides);
  G_OBJECT_CLASS (evcp_central_kafka_parent_class)->finalize (object);
}

static void
evcp_central_kafka_class_init (EvcpCentralKafkaClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = evcp_central_kafka_get_property;
  object_class->finalize = evcp_central_kafka_finalize;

  props[PROP_STATUS] = g_param_spec_string ("status", NULL, NULL, "stopped",
                                            G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, props);

  signals[SIGNAL_MESSAGE] =
    g_signal_new ("message", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE,
                  JSON_TYPE_OBJECT | G_SIGNAL_TYPE_STATIC_SCOPE);
}

static void
evcp_central_kafka_init (EvcpCentralKafka *self)
{
  self->status = "stopped";
  self->to_store = rd_kafka_topic_partition_list_new (4);
}
