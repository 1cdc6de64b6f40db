/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "evcp-central"

#include "evcp-build-config.h"

#include <glib/gi18n-lib.h>

#include "evcp-central-kafka.h"
#include "evcp-kafka-security.h"
#include "evcp-error.h"
#include "evcp-json-limits.h"
#include "evcp-kafka-consumer.h"
#include "evcp-kafka-util.h"

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

  EvcpKafkaConsumer *consumer;
  rd_kafka_t  *rk;           /* the consumer's handle, or NULL */
  EvcpKafkaSecurityReport security;
  const gchar *status;
  guint64      received;
  guint64      skipped;
  gint64       skipped_logged_at;
  guint        skipped_unlogged;
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
  if (g_str_equal (status, "connected"))
    evcp_kafka_security_report_clear (&self->security);
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

/* A record, from the consumer loop (evcp-kafka-consumer.h) */
static void
process (gpointer user_data, rd_kafka_message_t *m, const gchar *topic)
{
  EvcpCentralKafka *self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) root = NULL;

  set_status (self, "connected", _("receiving"));
  self->received++;
  root = evcp_json_parse_object (m->payload, m->len, MAX_VALUE_SIZE, MAX_DEPTH, &error);
  if (root == NULL)
    skip (self, m, topic, error);
  else
    g_signal_emit (self, signals[SIGNAL_MESSAGE], 0, topic, json_node_get_object (root));
  evcp_kafka_consumer_store_offset (self->consumer, topic, m->partition, m->offset + 1);
}

static const EvcpKafkaConsumerCallbacks loop_callbacks = {
  .record = process,
};

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
  evcp_kafka_consumer_flush_offsets (self->consumer);
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
  else if (evcp_kafka_error_is_security (err, reason))
    set_status (self, "unavailable", evcp_kafka_security_report (&self->security, rk, "consumer", err, reason));
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
  evcp_kafka_consumer_attach (self->consumer, self->rk, FALSE);

  topics = rd_kafka_topic_partition_list_new (2);
  rd_kafka_topic_partition_list_add (topics, EVCP_CENTRAL_KAFKA_SESSIONS_TOPIC, RD_KAFKA_PARTITION_UA);
  rd_kafka_topic_partition_list_add (topics, EVCP_CENTRAL_KAFKA_MONITORING_TOPIC, RD_KAFKA_PARTITION_UA);
  err = rd_kafka_subscribe (self->rk, topics);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
    {
      evcp_kafka_set_error (error, err, _("Cannot subscribe"));
      rd_kafka_destroy (evcp_kafka_consumer_detach (self->consumer));
      self->rk = NULL;
      return FALSE;
    }

  set_status (self, "connecting", self->brokers);
  g_message (_("Consuming %s and %s from %s as group %s"),
             EVCP_CENTRAL_KAFKA_SESSIONS_TOPIC, EVCP_CENTRAL_KAFKA_MONITORING_TOPIC,
             self->brokers, self->group_id);
  return TRUE;
}

void
evcp_central_kafka_stop (EvcpCentralKafka *self)
{
  rd_kafka_t *rk;

  g_return_if_fail (EVCP_IS_CENTRAL_KAFKA (self));

  evcp_kafka_consumer_flush_offsets (self->consumer);
  rk = evcp_kafka_consumer_detach (self->consumer);
  self->rk = NULL;
  if (rk == NULL)
    return;
  /* within seconds even when Kafka is gone */
  evcp_kafka_consumer_close_bounded (rk, 3000, FALSE);
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
  evcp_kafka_consumer_free (self->consumer);
  g_free (self->brokers);
  g_free (self->group_id);
  evcp_kafka_security_report_clear (&self->security);
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
  self->consumer = evcp_kafka_consumer_new (&loop_callbacks, self);
}
