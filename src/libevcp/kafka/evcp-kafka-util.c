/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "evcp-kafka"

#include "evcp-build-config.h"

#include <glib/gi18n-lib.h>

#include "evcp-error.h"
#include "evcp-kafka-util.h"

#include <string.h>

/* On librdkafka's threads; g_log_structured is thread-safe. */
static void
log_cb (const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
  GLogLevelFlags glevel;

  if (level <= 3)
    glevel = G_LOG_LEVEL_WARNING;   /* never CRITICAL: that aborts under G_DEBUG */
  else if (level <= 5)
    glevel = G_LOG_LEVEL_MESSAGE;
  else if (level == 6)
    glevel = G_LOG_LEVEL_INFO;
  else
    glevel = G_LOG_LEVEL_DEBUG;
  g_log_structured ("evcp-rdkafka", glevel,
                    "RDKAFKA_FACILITY", fac,
                    "RDKAFKA_CLIENT", rd_kafka_name (rk),
                    "MESSAGE", "%s: %s", fac, buf);
}

static gboolean
conf_set (rd_kafka_conf_t *conf, const gchar *key, const gchar *value, GError **error)
{
  gchar errstr[512];

  if (rd_kafka_conf_set (conf, key, value, errstr, sizeof errstr) != RD_KAFKA_CONF_OK)
    {
      g_set_error (error, EVCP_ERROR, EVCP_ERROR_CONFIG,
                   _("Invalid Kafka property %s: %s"), key, errstr);
      return FALSE;
    }
  return TRUE;
}

static gboolean
conf_set_all (rd_kafka_conf_t *conf, GHashTable *table, GError **error)
{
  GHashTableIter iter;
  gpointer key, value;

  if (table == NULL)
    return TRUE;
  g_hash_table_iter_init (&iter, table);
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (!conf_set (conf, key, value, error))
      return FALSE;
  return TRUE;
}

/* librdkafka's "debug" lines are logged at the debug level, which GLib
 * shows only for the domains in G_MESSAGES_DEBUG (on standard output): say
 * so once, rather than let someone wonder why "debug" does nothing. */
static void
warn_hidden_debug (rd_kafka_conf_t *conf)
{
  static gsize said = 0;
  gchar value[512];
  size_t size = sizeof value;
  const gchar *domains = g_getenv ("G_MESSAGES_DEBUG");

  if (rd_kafka_conf_get (conf, "debug", value, &size) != RD_KAFKA_CONF_OK || value[0] == '\0')
    return;
  if (domains != NULL && (strstr (domains, "all") != NULL || strstr (domains, "evcp-rdkafka") != NULL))
    return;
  if (g_once_init_enter (&said))
    {
      g_message (_("librdkafka debug contexts “%s” are on, but their lines are hidden: "
                   "set G_MESSAGES_DEBUG=evcp-rdkafka to see them"), value);
      g_once_init_leave (&said, 1);
    }
}

rd_kafka_conf_t *
evcp_kafka_conf_new (const gchar        *brokers,
                     const gchar *const *defaults,
                     GHashTable         *overrides,
                     GHashTable         *client_overrides,
                     GError            **error)
{
  g_autoptr(rd_kafka_conf_t) conf = rd_kafka_conf_new ();

  rd_kafka_conf_set_log_cb (conf, log_cb);
  if (!conf_set (conf, "bootstrap.servers", brokers, error))
    return NULL;
  for (guint i = 0; defaults != NULL && defaults[i] != NULL; i += 2)
    if (!conf_set (conf, defaults[i], defaults[i + 1], error))
      return NULL;
  if (!conf_set_all (conf, overrides, error) || !conf_set_all (conf, client_overrides, error))
    return NULL;
  warn_hidden_debug (conf);
  return g_steal_pointer (&conf);
}

void
evcp_kafka_default_client_id (GHashTable *rdkafka, const gchar *cp_id)
{
  g_return_if_fail (rdkafka != NULL);

  if (cp_id != NULL && *cp_id != '\0' && !g_hash_table_contains (rdkafka, "client.id"))
    g_hash_table_insert (rdkafka, g_strdup ("client.id"), g_strdup (cp_id));
}

static gint64
partitions_lag (JsonObject *partitions, gboolean *known)
{
  GList *values = json_object_get_values (partitions);
  gint64 lag = 0;

  for (GList *l = values; l != NULL; l = l->next)
    {
      JsonObject *p = JSON_NODE_HOLDS_OBJECT (l->data) ? json_node_get_object (l->data) : NULL;
      gint64 v;

      /* partition -1 is librdkafka's own; "none": not fetched by this consumer */
      if (p == NULL || json_object_get_int_member_with_default (p, "partition", -1) < 0 ||
          g_strcmp0 (json_object_get_string_member_with_default (p, "fetch_state", "none"), "none") == 0)
        continue;
      v = json_object_get_int_member_with_default (p, "consumer_lag_stored",
                                                   json_object_get_int_member_with_default (p, "consumer_lag", -1));
      if (v < 0)
        continue;
      lag += v;
      *known = TRUE;
    }
  g_list_free (values);
  return lag;
}

gint64
evcp_kafka_statistics_consumer_lag (JsonObject *root)
{
  JsonObject *topics;
  GList *values;
  gboolean known = FALSE;
  gint64 lag = 0;

  g_return_val_if_fail (root != NULL, -1);

  if (!json_object_has_member (root, "topics") || !JSON_NODE_HOLDS_OBJECT (json_object_get_member (root, "topics")))
    return -1;
  topics = json_object_get_object_member (root, "topics");
  values = json_object_get_values (topics);
  for (GList *l = values; l != NULL; l = l->next)
    {
      JsonObject *t = JSON_NODE_HOLDS_OBJECT (l->data) ? json_node_get_object (l->data) : NULL;
      JsonNode *partitions = t != NULL ? json_object_get_member (t, "partitions") : NULL;

      if (partitions != NULL && JSON_NODE_HOLDS_OBJECT (partitions))
        lag += partitions_lag (json_node_get_object (partitions), &known);
    }
  g_list_free (values);
  return known ? lag : -1;
}

void
evcp_kafka_set_error (GError **error, rd_kafka_resp_err_t err, const gchar *what)
{
  gint code;

  switch (err)
    {
    /* the record itself is refused: the same record can never succeed */
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
      code = EVCP_ERROR_KAFKA_RECORD;
      break;
    default:
      code = EVCP_ERROR_KAFKA;
      break;
    }
  g_set_error (error, EVCP_ERROR, code, "%s: %s (%s)",
               what, rd_kafka_err2str (err), rd_kafka_err2name (err));
}

/* a property in effect for @rk, as a number */
gint64
evcp_kafka_conf_get_int (rd_kafka_t *rk, const gchar *name, gint64 fallback)
{
  gchar value[64];
  size_t size = sizeof value;
  gint64 n;

  if (rd_kafka_conf_get (rd_kafka_conf (rk), name, value, &size) != RD_KAFKA_CONF_OK ||
      !g_ascii_string_to_signed (value, 10, 0, G_MAXINT64, &n, NULL))
    return fallback;
  return n;
}

gboolean
evcp_kafka_check_properties (const gchar *brokers,
                             GHashTable  *common,
                             GHashTable  *consumer,
                             GHashTable  *producer,
                             GError     **error)
{
  g_autoptr(rd_kafka_conf_t) c = evcp_kafka_conf_new (brokers, NULL, common, consumer, error);
  g_autoptr(rd_kafka_conf_t) p = NULL;

  if (c == NULL)
    return FALSE;
  p = evcp_kafka_conf_new (brokers, NULL, common, producer, error);
  return p != NULL;
}

static gint
remaining_ms (gint64 deadline)
{
  return (gint) CLAMP ((deadline - g_get_monotonic_time ()) / 1000, 0, G_MAXINT);
}

/**
 * evcp_kafka_commit_bounded:
 *
 * Commits the stored offsets and waits for Kafka's answer until the
 * deadline (monotonic, µs), not longer: rd_kafka_commit() without a queue
 * waits for as long as the coordinator is unreachable.
 */
void
evcp_kafka_commit_bounded (rd_kafka_t *rk, gint64 deadline)
{
  rd_kafka_queue_t *queue = rd_kafka_queue_new (rk);
  rd_kafka_resp_err_t err;

  err = rd_kafka_commit_queue (rk, NULL, queue, NULL, NULL);
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
    {
      rd_kafka_event_t *ev = rd_kafka_queue_poll (queue, remaining_ms (deadline));

      if (ev == NULL)
        g_warning (_("The final commit was not confirmed in time; what was handled since the last commit will be delivered again"));
      else
        {
          err = rd_kafka_event_error (ev);
          if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
            g_warning (_("Final commit failed: %s"), rd_kafka_err2str (err));
          rd_kafka_event_destroy (ev);
        }
    }
  else if (err != RD_KAFKA_RESP_ERR__NO_OFFSET)
    g_warning (_("Final commit failed: %s"), rd_kafka_err2str (err));
  rd_kafka_queue_destroy (queue);
}

/**
 * evcp_kafka_coordinator_answers:
 *
 * Asks the group coordinator for the committed offsets of the assignment
 * (with no assignment, any broker for the metadata), until the deadline
 * (monotonic, µs): whether it answered.
 */
gboolean
evcp_kafka_coordinator_answers (rd_kafka_t *rk, gint64 deadline)
{
  rd_kafka_topic_partition_list_t *assignment = NULL;
  rd_kafka_resp_err_t err;

  if (rd_kafka_assignment (rk, &assignment) != RD_KAFKA_RESP_ERR_NO_ERROR)
    return FALSE;
  if (assignment->cnt > 0)
    err = rd_kafka_committed (rk, assignment, MAX (remaining_ms (deadline), 1));
  else
    {
      /* no partitions to ask about: whether any broker answers */
      const struct rd_kafka_metadata *md = NULL;

      err = rd_kafka_metadata (rk, 0, NULL, &md, MAX (remaining_ms (deadline), 1));
      if (md != NULL)
        rd_kafka_metadata_destroy (md);
    }
  rd_kafka_topic_partition_list_destroy (assignment);
  return err == RD_KAFKA_RESP_ERR_NO_ERROR;
}

/* rd_kafka_destroy() waits for the consumer group to end, and that waits
 * for every commit in flight (an automatic one, too) to be answered, or, if
 * the coordinator is away, for session.timeout.ms (45 s by default). Run it
 * in a thread of its own and wait for it until the deadline: past that, the
 * caller goes on and librdkafka finishes in the background (or the process
 * ends first). */
typedef struct {
  rd_kafka_t *rk;
  int         flags;
  GMutex      lock;
  GCond       cond;
  gboolean    done;
  gint        refs;     /* the caller and the thread */
} Destroy;

static void
destroy_unref (Destroy *d)
{
  if (!g_atomic_int_dec_and_test (&d->refs))
    return;
  g_mutex_clear (&d->lock);
  g_cond_clear (&d->cond);
  g_free (d);
}

static gpointer
destroy_thread (gpointer data)
{
  Destroy *d = data;

  rd_kafka_destroy_flags (d->rk, d->flags);
  g_mutex_lock (&d->lock);
  d->done = TRUE;
  g_cond_signal (&d->cond);
  g_mutex_unlock (&d->lock);
  destroy_unref (d);
  return NULL;
}

/**
 * evcp_kafka_destroy_within:
 *
 * rd_kafka_destroy_flags() that returns by the deadline (monotonic, µs)
 * whatever the brokers do; returns whether librdkafka was done by then.
 */
gboolean
evcp_kafka_destroy_within (rd_kafka_t *rk, int flags, gint64 deadline)
{
  Destroy *d = g_new0 (Destroy, 1);
  GThread *thread;
  gboolean done;

  d->rk = rk;
  d->flags = flags;
  d->refs = 2;
  g_mutex_init (&d->lock);
  g_cond_init (&d->cond);
  thread = g_thread_new ("evcp-kafka-destroy", destroy_thread, d);
  g_mutex_lock (&d->lock);
  while (!d->done)
    if (!g_cond_wait_until (&d->cond, &d->lock, deadline))
      break;
  done = d->done;
  g_mutex_unlock (&d->lock);
  if (done)
    g_thread_join (thread);
  else
    {
      g_message (_("librdkafka is still waiting for Kafka; it finishes in the background"));
      g_thread_unref (thread);
    }
  destroy_unref (d);
  return done;
}

/* rd_kafka_consumer_close() within the deadline (monotonic, µs), the
 * commit done: for when Kafka may be gone */
static void
close_bounded_after_commit (rd_kafka_t *rk, gint64 deadline)
{
  rd_kafka_queue_t *queue;
  rd_kafka_error_t *error;

  queue = rd_kafka_queue_new (rk);
  error = rd_kafka_consumer_close_queue (rk, queue);
  if (error != NULL)
    {
      g_warning (_("Cannot close the consumer: %s"), rd_kafka_error_string (error));
      rd_kafka_error_destroy (error);
    }
  else
    {
      /* serves the revocation through the rebalance callback */
      while (!rd_kafka_consumer_closed (rk) && remaining_ms (deadline) > 0)
        rd_kafka_queue_poll_callback (queue, MIN (remaining_ms (deadline), 100));
      if (!rd_kafka_consumer_closed (rk))
        g_warning (_("Kafka did not confirm leaving the group in time; closing anyway"));
    }
  rd_kafka_queue_destroy (queue);
  /* closed above: destroy must not close again */
  evcp_kafka_destroy_within (rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE,
                             MAX (deadline, g_get_monotonic_time () + 500 * 1000));
}

void
evcp_kafka_consumer_close_bounded (rd_kafka_t *rk, guint timeout_ms, gboolean own_close)
{
  gint64 start = g_get_monotonic_time ();
  gint64 deadline = start + (gint64) timeout_ms * 1000;

  /* A coordinator that does not answer would keep a commit waiting, and
   * then rd_kafka_destroy() too, for as long as it is away: ask it first */
  if (!evcp_kafka_coordinator_answers (rk, start + (deadline - start) * 2 / 3))
    {
      g_warning (_("Kafka does not answer: the consumer stops without the final commit; "
                   "what was handled since the last commit will be delivered again"));
      /* a commit in flight (an automatic one) holds rd_kafka_destroy() */
      evcp_kafka_destroy_within (rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE,
                                 MAX (deadline, g_get_monotonic_time () + 500 * 1000));
      return;
    }
  evcp_kafka_commit_bounded (rk, deadline);
  if (own_close)
    {
      rd_kafka_consumer_close (rk);
      rd_kafka_destroy (rk);
    }
  else
    close_bounded_after_commit (rk, deadline);
}

