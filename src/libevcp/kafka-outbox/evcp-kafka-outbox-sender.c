/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "evcp-kafka"

#include "evcp-build-config.h"

#include <string.h>

#include <glib/gi18n-lib.h>

#include "evcp-error.h"
#include "evcp-json-limits.h"
#include "evcp-kafka-outbox-sender.h"

#define DEFAULT_BACKOFF_MIN_MS 200
#define DEFAULT_BACKOFF_MAX_MS 10000

struct _EvcpKafkaOutboxSender
{
  GObject            parent_instance;

  EvcpOutbox        *outbox;
  EvcpKafkaProducer *producer;
  gulong             appended_id;
  GMainContext      *context;
  gboolean           started;

  gboolean           in_flight;
  guint64            in_flight_seq;
  guint64            acked_seq;       /* highest seq the broker acknowledged in this run */

  guint64            failed_seq;      /* the record being retried; 0 if none */
  guint              attempts;        /* failed attempts of failed_seq */
  guint64            failures;        /* every failed attempt */
  guint64            late_upto;       /* a record with seq <= this is late */
  GSource           *retry_timer;
  guint              backoff_min_ms;
  guint              backoff_max_ms;
};

G_DEFINE_TYPE (EvcpKafkaOutboxSender, evcp_kafka_outbox_sender, G_TYPE_OBJECT)

static void send_next (EvcpKafkaOutboxSender *self);

/* A delivery in flight: the outbox is kept so that the acknowledgement is
 * written even if the sender is gone by then. */
typedef struct {
  GWeakRef    sender;
  EvcpOutbox *outbox;
  guint64     seq;
} Delivery;

static gboolean
is_late (EvcpKafkaOutboxSender *self, guint64 seq)
{
  return seq < evcp_outbox_get_open_seq (self->outbox) || seq <= self->late_upto;
}

/* The value with "replayed": true under "data". */
static GBytes *
mark_replayed (const gchar *value)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(JsonGenerator) generator = NULL;
  JsonNode *root;
  JsonNode *data;
  gchar *text;
  gsize len;

  /* the outbox made the value: an object with an object "data" */
  if (!evcp_json_parser_load (parser, value, strlen (value), EVCP_OUTBOX_MAX_FILE_SIZE,
                              EVCP_JSON_LIMITS_DEFAULT_MAX_DEPTH, NULL) ||
      (root = json_parser_get_root (parser)) == NULL || !JSON_NODE_HOLDS_OBJECT (root) ||
      (data = json_object_get_member (json_node_get_object (root), "data")) == NULL ||
      !JSON_NODE_HOLDS_OBJECT (data))
    return g_bytes_new (value, strlen (value));
  json_object_set_boolean_member (json_node_get_object (data), "replayed", TRUE);
  generator = json_generator_new ();
  json_generator_set_root (generator, root);
  text = json_generator_to_data (generator, &len);
  return g_bytes_new_take (text, len);
}

static gboolean
retry_cb (gpointer user_data)
{
  EvcpKafkaOutboxSender *self = user_data;

  g_clear_pointer (&self->retry_timer, g_source_unref);
  send_next (self);
  return G_SOURCE_REMOVE;
}

static void
failed (EvcpKafkaOutboxSender *self, guint64 seq, const GError *error)
{
  guint delay = self->backoff_min_ms;
  g_autofree gchar *seq_text = g_strdup_printf ("%" G_GUINT64_FORMAT, seq);
  g_autofree gchar *delay_text = NULL;

  if (self->failed_seq != seq)
    {
      self->failed_seq = seq;
      self->attempts = 0;
    }
  self->attempts++;
  self->failures++;
  /* this one, and whatever waits behind it now or meanwhile, is late */
  self->late_upto = MAX (self->late_upto, evcp_outbox_get_next_seq (self->outbox) - 1);
  for (guint i = 1; i < self->attempts && delay < self->backoff_max_ms; i++)
    delay *= 2;
  delay = MIN (delay, self->backoff_max_ms);
  delay_text = g_strdup_printf ("%u", delay);
  if (self->attempts == 1)
    g_warning (_("Cannot deliver outbox event %s to Kafka (%s); retrying in %s ms, later events wait"),
               seq_text, error->message, delay_text);
  else
    g_debug ("Outbox event %s: attempt %u failed (%s); retrying in %s ms",
             seq_text, self->attempts, error->message, delay_text);
  if (!self->started)
    return;
  self->retry_timer = g_timeout_source_new (delay);
  g_source_set_callback (self->retry_timer, retry_cb, self, NULL);
  g_source_set_name (self->retry_timer, "evcp-kafka-outbox-retry");
  g_source_attach (self->retry_timer, self->context);
}

static void
delivered_cb (EvcpKafkaProducer *producer,
              const GError      *error,
              gint32             partition,
              gint64             offset,
              gpointer           user_data)
{
  Delivery *delivery = user_data;
  g_autoptr(EvcpKafkaOutboxSender) self = g_weak_ref_get (&delivery->sender);
  g_autoptr(EvcpOutbox) outbox = g_steal_pointer (&delivery->outbox);
  guint64 seq = delivery->seq;

  g_weak_ref_clear (&delivery->sender);
  g_free (delivery);

  if (error == NULL)
    {
      g_autoptr(GError) ack_error = NULL;

      g_debug ("Outbox event %" G_GUINT64_FORMAT " delivered to Kafka [%d]@%" G_GINT64_FORMAT,
               seq, partition, offset);
      if (!evcp_outbox_ack (outbox, seq, EVCP_OUTBOX_KAFKA, &ack_error))
        g_warning (_("Kafka delivered an outbox event, but %s (it will be sent again after a restart)"),
                   ack_error->message);
    }
  if (self == NULL)
    return;
  self->in_flight = FALSE;
  if (error != NULL)
    {
      failed (self, seq, error);
      return;
    }
  self->acked_seq = MAX (self->acked_seq, seq);
  if (self->failed_seq == seq)
    {
      g_autofree gchar *seq_text = g_strdup_printf ("%" G_GUINT64_FORMAT, seq);
      g_autofree gchar *attempts = g_strdup_printf ("%u", self->attempts + 1);

      g_message (_("Outbox event %s delivered to Kafka at attempt %s"), seq_text, attempts);
      self->failed_seq = 0;
      self->attempts = 0;
    }
  send_next (self);
}

/* The oldest record due at Kafka that the broker has not acknowledged. */
static const EvcpOutboxRecord *
next_record (EvcpKafkaOutboxSender *self)
{
  g_autoptr(GPtrArray) due = evcp_outbox_list (self->outbox, EVCP_OUTBOX_KAFKA);

  for (guint i = 0; i < due->len; i++)
    {
      const EvcpOutboxRecord *record = g_ptr_array_index (due, i);
      guint64 seq = evcp_outbox_record_get_seq (record);
      g_autoptr(GError) error = NULL;

      if (seq > self->acked_seq)
        return record;
      /* delivered, but the outbox could not write it down: try again */
      if (!evcp_outbox_ack (self->outbox, seq, EVCP_OUTBOX_KAFKA, &error))
        g_debug ("%s", error->message);
    }
  return NULL;
}

static void
send_next (EvcpKafkaOutboxSender *self)
{
  const EvcpOutboxRecord *record;
  const gchar *key;
  g_autoptr(GBytes) key_bytes = NULL;
  g_autoptr(GBytes) value = NULL;
  g_autoptr(GError) error = NULL;
  Delivery *delivery;
  guint64 seq;

  if (!self->started || self->in_flight || self->retry_timer != NULL)
    return;
  record = next_record (self);
  if (record == NULL)
    return;

  seq = evcp_outbox_record_get_seq (record);
  key = evcp_outbox_record_get_kafka_key (record);
  if (key != NULL)
    key_bytes = g_bytes_new (key, strlen (key));
  if (is_late (self, seq))
    value = mark_replayed (evcp_outbox_record_get_kafka_value (record));
  else
    value = g_bytes_new (evcp_outbox_record_get_kafka_value (record),
                         strlen (evcp_outbox_record_get_kafka_value (record)));

  delivery = g_new0 (Delivery, 1);
  g_weak_ref_init (&delivery->sender, self);
  delivery->outbox = g_object_ref (self->outbox);
  delivery->seq = seq;
  self->in_flight = TRUE;
  self->in_flight_seq = seq;
  if (!evcp_kafka_producer_produce (self->producer, evcp_outbox_record_get_kafka_topic (record),
                                    key_bytes, value, NULL, 0, delivered_cb, delivery, &error))
    {
      self->in_flight = FALSE;
      g_weak_ref_clear (&delivery->sender);
      g_object_unref (delivery->outbox);
      g_free (delivery);
      failed (self, seq, error);
      return;
    }
  g_debug ("Outbox event %" G_GUINT64_FORMAT " produced to %s%s", seq,
           evcp_outbox_record_get_kafka_topic (record), is_late (self, seq) ? " (replayed)" : "");
}

static void
on_appended (EvcpOutbox *outbox, guint64 seq, guint destinations, EvcpKafkaOutboxSender *self)
{
  if ((destinations & EVCP_OUTBOX_KAFKA) == 0)
    return;
  /* it waits while another one is being retried: late */
  if (self->failed_seq != 0)
    self->late_upto = MAX (self->late_upto, seq);
  send_next (self);
}

EvcpKafkaOutboxSender *
evcp_kafka_outbox_sender_new (EvcpOutbox *outbox, EvcpKafkaProducer *producer)
{
  EvcpKafkaOutboxSender *self;

  g_return_val_if_fail (EVCP_IS_OUTBOX (outbox), NULL);
  g_return_val_if_fail (EVCP_IS_KAFKA_PRODUCER (producer), NULL);

  self = g_object_new (EVCP_TYPE_KAFKA_OUTBOX_SENDER, NULL);
  self->outbox = g_object_ref (outbox);
  self->producer = g_object_ref (producer);
  self->appended_id = g_signal_connect (outbox, "appended", G_CALLBACK (on_appended), self);
  return self;
}

void
evcp_kafka_outbox_sender_start (EvcpKafkaOutboxSender *self)
{
  g_return_if_fail (EVCP_IS_KAFKA_OUTBOX_SENDER (self));

  if (self->started)
    return;
  g_clear_pointer (&self->context, g_main_context_unref);
  self->context = g_main_context_ref_thread_default ();
  self->started = TRUE;
  if (evcp_outbox_get_length (self->outbox, EVCP_OUTBOX_KAFKA) > 0)
    {
      g_autofree gchar *count = g_strdup_printf ("%u", evcp_outbox_get_length (self->outbox, EVCP_OUTBOX_KAFKA));

      g_message (_("Sending %s outbox events to Kafka"), count);
    }
  send_next (self);
}

void
evcp_kafka_outbox_sender_stop (EvcpKafkaOutboxSender *self)
{
  g_return_if_fail (EVCP_IS_KAFKA_OUTBOX_SENDER (self));

  self->started = FALSE;
  if (self->retry_timer != NULL)
    {
      g_source_destroy (self->retry_timer);
      g_clear_pointer (&self->retry_timer, g_source_unref);
    }
}

void
evcp_kafka_outbox_sender_set_backoff (EvcpKafkaOutboxSender *self, guint min_ms, guint max_ms)
{
  g_return_if_fail (EVCP_IS_KAFKA_OUTBOX_SENDER (self));

  self->backoff_min_ms = min_ms > 0 ? min_ms : DEFAULT_BACKOFF_MIN_MS;
  self->backoff_max_ms = MAX (max_ms > 0 ? max_ms : DEFAULT_BACKOFF_MAX_MS, self->backoff_min_ms);
}

guint64
evcp_kafka_outbox_sender_get_failures (EvcpKafkaOutboxSender *self)
{
  g_return_val_if_fail (EVCP_IS_KAFKA_OUTBOX_SENDER (self), 0);
  return self->failures;
}

gboolean
evcp_kafka_outbox_sender_is_busy (EvcpKafkaOutboxSender *self)
{
  g_return_val_if_fail (EVCP_IS_KAFKA_OUTBOX_SENDER (self), FALSE);
  return self->in_flight || self->retry_timer != NULL;
}

static void
evcp_kafka_outbox_sender_dispose (GObject *object)
{
  EvcpKafkaOutboxSender *self = EVCP_KAFKA_OUTBOX_SENDER (object);

  if (self->outbox != NULL)
    g_clear_signal_handler (&self->appended_id, self->outbox);
  if (self->retry_timer != NULL)
    {
      g_source_destroy (self->retry_timer);
      g_clear_pointer (&self->retry_timer, g_source_unref);
    }
  self->started = FALSE;
  g_clear_object (&self->outbox);
  g_clear_object (&self->producer);
  G_OBJECT_CLASS (evcp_kafka_outbox_sender_parent_class)->dispose (object);
}

static void
evcp_kafka_outbox_sender_finalize (GObject *object)
{
  EvcpKafkaOutboxSender *self = EVCP_KAFKA_OUTBOX_SENDER (object);

  g_clear_pointer (&self->context, g_main_context_unref);
  G_OBJECT_CLASS (evcp_kafka_outbox_sender_parent_class)->finalize (object);
}

static void
evcp_kafka_outbox_sender_class_init (EvcpKafkaOutboxSenderClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = evcp_kafka_outbox_sender_dispose;
  object_class->finalize = evcp_kafka_outbox_sender_finalize;
}

static void
evcp_kafka_outbox_sender_init (EvcpKafkaOutboxSender *self)
{
  self->backoff_min_ms = DEFAULT_BACKOFF_MIN_MS;
  self->backoff_max_ms = DEFAULT_BACKOFF_MAX_MS;
}
