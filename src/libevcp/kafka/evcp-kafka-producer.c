/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "evcp-kafka"

#include "evcp-build-config.h"

#include <glib/gi18n-lib.h>

#include "evcp-error.h"
#include "evcp-kafka-producer.h"
#include "evcp-kafka-security.h"
#include "evcp-kafka-source.h"

#define DRAIN_BUDGET 1000

/* What evcp chooses; the config file's [librdkafka] section overrides it. */
static const gchar *const producer_defaults[] = {
  "enable.idempotence", "true",          /* off by default in 2.0.2 */
  /* keyed records where the Java client and kafka-python put them (murmur2),
   * which the fleet mode relies on: a CP reads its key's partition */
  "partitioner", "murmur2_random",
  "linger.ms", "2",                      /* telemetry is latency-sensitive, not bulky */
  /* bounded: a charging point, not a pipeline. Only best-effort events
   * (telemetry once a second, refusals) can be refused when it is full, and
   * they are counted; what must not be lost waits in the outbox. 4000 is
   * an hour of telemetry; a flood of refusals stays under 2 MB. */
  "queue.buffering.max.messages", "4000",
  "queue.buffering.max.kbytes", "1024",
  "reconnect.backoff.ms", "100",
  "reconnect.backoff.max.ms", "10000",
  "socket.nagle.disable", "true",        /* small events, sent at once */
  NULL
};

typedef struct {
  EvcpKafkaDeliveryFunc callback;
  gpointer              user_data;
} Pending;

struct _EvcpKafkaProducer
{
  GObject      parent_instance;

  gchar       *brokers;
  GHashTable  *overrides;
  GHashTable  *producer_overrides;
  rd_kafka_t  *rk;
  GSource     *source;
  guint        in_flight;
  gboolean     fatal;
  guint        renew_id;

  EvcpKafkaSecurityReport security;
};

G_DEFINE_TYPE (EvcpKafkaProducer, evcp_kafka_producer, G_TYPE_OBJECT)

static gboolean renew (EvcpKafkaProducer *self, GError **error);

static void
dr_msg_cb (rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
  EvcpKafkaProducer *self = opaque;
  Pending *pending = m->_private;
  g_autoptr(GError) error = NULL;

  if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR)
    evcp_kafka_set_error (&error, m->err, _("Delivery failed"));
  else if (evcp_kafka_security_report_clear (&self->security))
    g_message (_("Kafka producer: the brokers accept it again"));
  self->in_flight--;
  pending->callback (self, error, m->partition, m->offset, pending->user_data);
  g_free (pending);
}

static gboolean
renew_idle (gpointer user_data)
{
  EvcpKafkaProducer *self = user_data;
  g_autoptr(GError) error = NULL;

  self->renew_id = 0;
  if (!renew (self, &error))
    g_warning (_("Cannot recreate the Kafka producer: %s"), error->message);
  return G_SOURCE_REMOVE;
}

static void
error_cb (rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
  EvcpKafkaProducer *self = opaque;

  if (err == RD_KAFKA_RESP_ERR__FATAL)
    {
      gchar errstr[512];
      rd_kafka_resp_err_t orig = rd_kafka_fatal_error (rk, errstr, sizeof errstr);

      g_warning (_("Kafka producer fatal error %s: %s; recreating it"), rd_kafka_err2name (orig), errstr);
      self->fatal = TRUE;
      if (self->renew_id == 0)
        self->renew_id = g_idle_add (renew_idle, self);
      return;
    }
  if (evcp_kafka_error_is_security (err, reason))
    {
      evcp_kafka_security_report (&self->security, rk, "producer", err, reason);
      return;
    }
  /* _TRANSPORT, _ALL_BROKERS_DOWN and the like: librdkafka reconnects. */
  g_debug ("Kafka producer: %s: %s", rd_kafka_err2name (err), reason);
}

static gboolean
drain (gpointer user_data)
{
  EvcpKafkaProducer *self = user_data;
  guint budget = DRAIN_BUDGET;

  while (self->rk != NULL && budget > 0 && rd_kafka_poll (self->rk, 0) > 0)
    budget--;
  if (budget == 0)
    evcp_kafka_source_wake (self->source);
  return G_SOURCE_CONTINUE;
}

static void
destroy_handle (EvcpKafkaProducer *self)
{
  if (self->source != NULL)
    {
      g_source_destroy (self->source);
      g_clear_pointer (&self->source, g_source_unref);
    }
  if (self->rk != NULL)
    {
      /* whatever is left gets its callback with an error */
      rd_kafka_purge (self->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
      rd_kafka_poll (self->rk, 0);
      g_clear_pointer (&self->rk, rd_kafka_destroy);
    }
}

static gboolean
renew (EvcpKafkaProducer *self, GError **error)
{
  g_autoptr(rd_kafka_conf_t) conf = NULL;
  gchar errstr[512];

  destroy_handle (self);
  self->fatal = FALSE;

  conf = evcp_kafka_conf_new (self->brokers, producer_defaults, self->overrides,
                              self->producer_overrides, error);
  if (conf == NULL)
    return FALSE;
  rd_kafka_conf_set_opaque (conf, self);
  rd_kafka_conf_set_dr_msg_cb (conf, dr_msg_cb);
  rd_kafka_conf_set_error_cb (conf, error_cb);
  self->rk = rd_kafka_new (RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (self->rk == NULL)
    {
      g_set_error (error, EVCP_ERROR, EVCP_ERROR_CONFIG,
                   _("Cannot create the Kafka producer: %s"), errstr);
      return FALSE;
    }
  conf = NULL; /* owned by rk now */

  self->source = evcp_kafka_source_new (rd_kafka_queue_get_main (self->rk),
                                        g_main_context_get_thread_default ());
  g_source_set_callback (self->source, drain, self, NULL);
  g_source_attach (self->source, g_main_context_get_thread_default ());
  return TRUE;
}

/**
 * evcp_kafka_producer_new:
 * @brokers: bootstrap servers
 * @overrides: (nullable): librdkafka properties that take precedence
 * @producer_overrides: (nullable): the same, for the producer only, last
 *
 * An idempotent producer whose delivery reports are served on the
 * thread-default main context.
 */
EvcpKafkaProducer *
evcp_kafka_producer_new (const gchar *brokers,
                         GHashTable  *overrides,
                         GHashTable  *producer_overrides,
                         GError     **error)
{
  g_autoptr(EvcpKafkaProducer) self = NULL;

  g_return_val_if_fail (brokers != NULL, NULL);

  self = g_object_new (EVCP_TYPE_KAFKA_PRODUCER, NULL);
  self->brokers = g_strdup (brokers);
  if (overrides != NULL)
    self->overrides = g_hash_table_ref (overrides);
  if (producer_overrides != NULL)
    self->producer_overrides = g_hash_table_ref (producer_overrides);
  if (!renew (self, error))
    return NULL;
  return g_steal_pointer (&self);
}

/**
 * evcp_kafka_producer_produce:
 *
 * Queues one message. On success @callback is called later, exactly once;
 * on failure (queue full, producer closed, unknown topic) it is not called
 * and @error says why.
 */
gboolean
evcp_kafka_producer_produce (EvcpKafkaProducer     *self,
                             const gchar           *topic,
                             GBytes                *key,
                             GBytes                *value,
                             const EvcpKafkaHeader *headers,
                             guint                  n_headers,
                             EvcpKafkaDeliveryFunc  callback,
                             gpointer               user_data,
                             GError               **error)
{
  g_autoptr(rd_kafka_headers_t) hdrs = NULL;
  rd_kafka_resp_err_t err;
  Pending *pending;
  gconstpointer kdata = NULL, vdata;
  gsize klen = 0, vlen;

  g_return_val_if_fail (EVCP_IS_KAFKA_PRODUCER (self), FALSE);
  g_return_val_if_fail (topic != NULL && value != NULL && callback != NULL, FALSE);

  if (self->fatal && !renew (self, error))
    return FALSE;
  if (self->rk == NULL)
    {
      g_set_error_literal (error, EVCP_ERROR, EVCP_ERROR_KAFKA, _("The Kafka producer is closed"));
      return FALSE;
    }

  if (key != NULL)
    kdata = g_bytes_get_data (key, &klen);
  vdata = g_bytes_get_data (value, &vlen);
  if (n_headers > 0)
    {
      hdrs = rd_kafka_headers_new (n_headers);
      for (guint i = 0; i < n_headers; i++)
        rd_kafka_header_add (hdrs, headers[i].name, -1, headers[i].value, -1);
    }

  pending = g_new (Pending, 1);
  pending->callback = callback;
  pending->user_data = user_data;
  err = rd_kafka_producev (self->rk,
                           RD_KAFKA_V_TOPIC (topic),
                           RD_KAFKA_V_MSGFLAGS (RD_KAFKA_MSG_F_COPY),
                           RD_KAFKA_V_KEY (kdata, klen),
                           RD_KAFKA_V_VALUE ((void *) vdata, vlen),
                           RD_KAFKA_V_HEADERS (hdrs),
                           RD_KAFKA_V_OPAQUE (pending),
                           RD_KAFKA_V_END);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
    {
      g_free (pending);
      evcp_kafka_set_error (error, err, _("Cannot produce"));
      return FALSE;
    }
  hdrs = NULL; /* owned by the message now */
  self->in_flight++;
  return TRUE;
}

/* a property in effect for this producer, as a number */
gint64
evcp_kafka_producer_get_conf_int (EvcpKafkaProducer *self, const gchar *name, gint64 fallback)
{
  g_return_val_if_fail (EVCP_IS_KAFKA_PRODUCER (self), fallback);
  return self->rk != NULL ? evcp_kafka_conf_get_int (self->rk, name, fallback) : fallback;
}

guint
evcp_kafka_producer_get_in_flight (EvcpKafkaProducer *self)
{
  g_return_val_if_fail (EVCP_IS_KAFKA_PRODUCER (self), 0);
  return self->in_flight;
}

/**
 * evcp_kafka_producer_close:
 * @timeout_ms: how long to wait for outstanding deliveries
 *
 * Flushes, then drops what could not be delivered in time (each such
 * message's callback runs with an error). The producer cannot be used
 * afterwards.
 *
 * Returns: how many messages were dropped
 */
guint
evcp_kafka_producer_close (EvcpKafkaProducer *self, guint timeout_ms)
{
  guint before;

  g_return_val_if_fail (EVCP_IS_KAFKA_PRODUCER (self), 0);

  if (self->rk == NULL)
    return 0;
  rd_kafka_flush (self->rk, (int) timeout_ms);
  before = self->in_flight;
  destroy_handle (self);
  if (before > 0)
    g_warning (_("Kafka producer closed with %u undelivered messages"), before);
  return before;
}

static void
evcp_kafka_producer_finalize (GObject *object)
{
  EvcpKafkaProducer *self = EVCP_KAFKA_PRODUCER (object);

  g_clear_handle_id (&self->renew_id, g_source_remove);
  destroy_handle (self);
  g_free (self->brokers);
  evcp_kafka_security_report_clear (&self->security);
  g_clear_pointer (&self->overrides, g_hash_table_unref);
  g_clear_pointer (&self->producer_overrides, g_hash_table_unref);
  G_OBJECT_CLASS (evcp_kafka_producer_parent_class)->finalize (object);
}

static void
evcp_kafka_producer_class_init (EvcpKafkaProducerClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = evcp_kafka_producer_finalize;
}

static void
evcp_kafka_producer_init (EvcpKafkaProducer *self)
{
}
