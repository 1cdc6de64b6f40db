/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Engine's Kafka side over a real Kafka wire protocol: librdkafka's mock
 * cluster in this process (or the evcp-kafka-mock program), kcat as an
 * independent producer. Every wait has a deadline. With
 * EVCP_TEST_KAFKA_REAL=1 and EVCP_TEST_KAFKA_BROKERS (suite real-kafka), the
 * same tests against that real Kafka, on topics of their own. */
#include "evcp-build-config.h"

#include <string.h>

#include <json-glib/json-glib.h>

#include "evcp-callback-handler.h"
#include "evcp-engine.h"
#include "evcp-engine-metrics.h"
#include "evcp-error.h"
#include "evcp-monitor-health-checker.h"
#include "evcp-kafka-fetch-waker.h"
#include "evcp-kafka-partition.h"
#include "evcp-kafka-producer.h"
#include "evcp-kafka-service.h"
#include "evcp-test-util.h"

#define CP "CP-T1"
#define WAIT_MS 30000

typedef struct {
  EvcpTestCluster  *cluster;
  EvcpConfig       *config;
  GHashTable       *seen;        /* "TRACK" ids handled (id -> count) */
  guint             track_fail;  /* the TRACK handler fails transiently this many more times */
  GPtrArray        *states;      /* EvcpKafkaState changes, as GINT_TO_POINTER */
  guint             done;
} Fixture;

static gboolean
track_handle (EvcpMessage *message, gpointer user_data, GError **error)
{
  Fixture *f = user_data;
  gint64 id;

  if (f->track_fail > 0)
    {
      f->track_fail--;
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_BUSY, "track handler busy");
      return FALSE;
    }
  if (!evcp_message_get_integer (message, "id", TRUE, &id, error))
    return FALSE;
  g_hash_table_insert (f->seen, GINT_TO_POINTER ((gint) id),
                       GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (f->seen, GINT_TO_POINTER ((gint) id))) + 1));
  return TRUE;
}

static void
on_state (EvcpKafkaService *service, EvcpKafkaState old, EvcpKafkaState state, Fixture *f)
{
  g_ptr_array_add (f->states, GINT_TO_POINTER (state));
}

static void
on_done (EvcpKafkaService *service, EvcpMessage *message, GError *error, Fixture *f)
{
  f->done++;
}

static EvcpConfig *
make_config (const gchar *bootstraps)
{
  EvcpConfig *config = evcp_config_new ();
  g_autofree gchar *group = g_strdup_printf ("test-%08x", g_random_int ());

  g_free (config->cp_id);
  config->cp_id = g_strdup (CP);
  g_free (config->kafka_brokers);
  config->kafka_brokers = g_strdup (bootstraps);
  config->kafka_group_id = g_strdup (group);
  evcp_test_isolate_config (config);
  config->handler_attempts = 3;
  config->retry_backoff_ms = 10;
  config->retry_backoff_max_ms = 20;
  /* the records read are checked every second: none may be taken for gone */
  config->record_check_s = 1;
  g_strfreev (config->kafka_topics);
  config->kafka_topics = g_strdupv ((gchar *[]) { (gchar *) evcp_test_topic ("user_messages"),
                                                  (gchar *) evcp_test_topic ("charging_requests"),
                                                  (gchar *) evcp_test_topic ("system_notifications"),
                                                  NULL });
  g_free (config->dead_letter_topic);
  config->dead_letter_topic = g_strdup (evcp_test_topic ("dead_letters"));
  if (evcp_test_kafka_is_real ())
    {
      GHashTableIter iter;
      gpointer key, value;

      /* the real cluster's security settings */
      g_hash_table_iter_init (&iter, evcp_test_kafka_properties ());
      while (g_hash_table_iter_next (&iter, &key, &value))
        g_hash_table_insert (config->rdkafka, g_strdup (key), g_strdup (value));
      return config;
    }
  /* quick group hand-over on the mock cluster (see librdkafka-notes.md) */
  g_hash_table_insert (config->rdkafka_consumer, g_strdup ("session.timeout.ms"), g_strdup ("6000"));
  g_hash_table_insert (config->rdkafka_consumer, g_strdup ("heartbeat.interval.ms"), g_strdup ("1000"));
  return config;
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  static const gchar *const topics[] = {
    "user_messages", "charging_requests", "system_notifications", "dead_letters",
  };

  /* data: the number of brokers, if not 1 */
  f->cluster = evcp_test_cluster_new (data != NULL ? GPOINTER_TO_UINT (data) : 1);
  for (guint i = 0; i < G_N_ELEMENTS (topics); i++)
    {
      g_autoptr(GError) error = NULL;

      evcp_test_cluster_create_topic (f->cluster, evcp_test_topic (topics[i]),
                                      data != NULL ? 2 * GPOINTER_TO_UINT (data) : 2, &error);
      g_assert_no_error (error);
    }
  f->config = make_config (evcp_test_cluster_get_bootstraps (f->cluster));
  f->seen = g_hash_table_new (NULL, NULL);
  f->states = g_ptr_array_new ();
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_ptr_array_unref (f->states);
  g_hash_table_unref (f->seen);
  evcp_config_free (f->config);
  g_clear_pointer (&f->cluster, evcp_test_cluster_free);
}

static EvcpEngine *
start_engine (Fixture *f)
{
  g_autoptr(EvcpEngine) engine = evcp_engine_new (f->config);
  g_autoptr(EvcpMessageHandler) track = evcp_callback_handler_new ("track", "TRACK", track_handle, f, NULL);
  EvcpKafkaService *kafka = evcp_engine_get_kafka_service (engine);
  g_autoptr(GError) error = NULL;

  g_assert_true (evcp_kafka_service_register_handler (kafka, track, &error));
  g_signal_connect (kafka, "connection-state-changed", G_CALLBACK (on_state), f);
  g_signal_connect (kafka, "message-done", G_CALLBACK (on_done), f);
  evcp_engine_start (engine, &error);
  g_assert_no_error (error);
  return g_steal_pointer (&engine);
}

typedef struct {
  Fixture *f;
  guint    n;
} SeenAll;

static gboolean
seen_all (gpointer data)
{
  SeenAll *s = data;

  for (guint i = 0; i < s->n; i++)
    if (!g_hash_table_contains (s->f->seen, GINT_TO_POINTER ((gint) i)))
      return FALSE;
  return TRUE;
}

static gboolean
seen_some (gpointer data)
{
  SeenAll *s = data;

  return g_hash_table_size (s->f->seen) >= s->n;
}

static void
produce_track (Fixture *f, const gchar *bootstraps, guint from, guint to)
{
  g_autoptr(GPtrArray) values = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_autoptr(GError) error = NULL;

  for (guint i = from; i < to; i++)
    {
      gchar *json = g_strdup_printf ("{\"kind\":\"TRACK\",\"data\":{\"id\":%u}}", i);

      g_ptr_array_add (values, g_bytes_new_take (json, strlen (json)));
    }
  evcp_test_produce_batch (bootstraps, evcp_test_topic ("user_messages"), CP, values, 20000, &error);
  g_assert_no_error (error);
}

/* ---- handled, both shapes, from an independent client ------------------- */

typedef struct {
  EvcpChargingRequest *request;
  EvcpEngine          *engine;
  guint                notifications;
} Captured;

static void
on_request (EvcpEngine *engine, EvcpChargingRequest *request, Captured *c)
{
  g_clear_pointer (&c->request, evcp_charging_request_unref);
  c->request = evcp_charging_request_ref (request);
}

static gboolean
request_seen (gpointer data)
{
  return ((Captured *) data)->request != NULL;
}

static gboolean
all_done (gpointer data)
{
  Fixture *f = data;
  return f->done >= 5;
}

static void
test_kcat_both_shapes (Fixture *f, gconstpointer data)
{
  g_autoptr(EvcpEngine) engine = start_engine (f);
  g_autoptr(GSubprocess) kcat = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(EvcpUser) user = NULL;
  g_autoptr(EvcpUser) user2 = NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  GHashTableIter iter;
  gpointer key, value;
  Captured c = { 0 };
  gint status;
  /* the shapes of the contract, the second as kafka-python sends it */
  const gchar *lines =
    "{\"kind\":\"USER_INFO\",\"timestamp\":\"2026-11-26T10:00:00Z\",\"data\":{\"user_id\":\"u-data\",\"name\":\"Ana\",\"vehicle\":\"Zoe\"}}\n"
    "{\"kind\": \"USER_INFO\", \"user_id\": \"user123\", \"data\": {\"name\": \"John Doe\", \"vehicle\": \"Tesla Model 3\"}}\n"
    "{\"kind\": \"SYSTEM_NOTIFICATION\", \"data\": {\"level\": \"info\", \"message\": \"tariff change at midnight\"}}\n"
    "{\"kind\": \"CHARGING_REQUEST\", \"user_id\": \"user123\", \"cp_id\": \"CP-999\", \"requested_power\": 50, \"max_duration\": 3600}\n"
    "{\"kind\": \"CHARGING_REQUEST\", \"user_id\": \"user123\", \"cp_id\": \"" CP "\", \"requested_power\": 50, \"max_duration\": 3600}\n";

  g_signal_connect (engine, "charging-request", G_CALLBACK (on_request), &c);

  /* one topic per kind, as producers in the field do; kcat -l sends line by line */
  g_ptr_array_add (argv, g_strdup ("kcat"));
  g_ptr_array_add (argv, g_strdup ("-b"));
  g_ptr_array_add (argv, g_strdup (evcp_test_cluster_get_bootstraps (f->cluster)));
  g_hash_table_iter_init (&iter, evcp_test_kafka_properties ());
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      g_ptr_array_add (argv, g_strdup ("-X"));
      g_ptr_array_add (argv, g_strdup_printf ("%s=%s", (gchar *) key, (gchar *) value));
    }
  g_ptr_array_add (argv, g_strdup ("-P"));
  g_ptr_array_add (argv, g_strdup ("-t"));
  g_ptr_array_add (argv, g_strdup (evcp_test_topic ("user_messages")));
  g_ptr_array_add (argv, g_strdup ("-k"));
  g_ptr_array_add (argv, g_strdup (CP));
  g_ptr_array_add (argv, NULL);
  kcat = evcp_test_subprocess_newv ((const gchar * const *) argv->pdata, G_SUBPROCESS_FLAGS_STDIN_PIPE, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_communicate_utf8 (kcat, lines, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_subprocess_wait (kcat, NULL, &error));
  status = g_subprocess_get_exit_status (kcat);
  g_assert_cmpint (status, ==, 0);

  g_assert_true (evcp_test_wait_until (NULL, request_seen, &c, WAIT_MS));
  g_assert_true (evcp_test_wait_until (NULL, all_done, f, WAIT_MS));

  /* the request for this CP only, with the user the Engine remembered */
  g_assert_cmpstr (evcp_charging_request_get_cp_id (c.request), ==, CP);
  g_assert_cmpstr (evcp_charging_request_get_user_id (c.request), ==, "user123");
  g_assert_cmpstr (evcp_charging_request_get_user_name (c.request), ==, "John Doe");
  g_assert_cmpfloat (evcp_charging_request_get_requested_power_kw (c.request), ==, 50.0);
  g_assert_cmpint (evcp_charging_request_get_max_duration_s (c.request), ==, 3600);
  user = evcp_user_registry_lookup (evcp_engine_get_user_registry (engine), "u-data");
  g_assert_nonnull (user);
  g_assert_cmpstr (evcp_user_get_vehicle (user), ==, "Zoe");
  user2 = evcp_user_registry_lookup (evcp_engine_get_user_registry (engine), "user123");
  g_assert_cmpstr (evcp_user_get_vehicle (user2), ==, "Tesla Model 3");
  g_assert_cmpint (evcp_kafka_service_get_state (evcp_engine_get_kafka_service (engine)), ==,
                   EVCP_KAFKA_STATE_CONNECTED);
  evcp_engine_stop (engine);
  g_clear_pointer (&c.request, evcp_charging_request_unref);
}

/* ---- dead letters ---------------------------------------------------------- */

typedef struct {
  const gchar *label;
  const gchar *code;      /* evcp.error.code */
  GBytes      *value;
} Bad;

static GBytes *
bytes (const gchar *s)
{
  return g_bytes_new (s, strlen (s));
}

typedef struct {
  guint done;
  guint dead;
  guint never;
} Hooked;

static void
hooked_done (EvcpMessage *message, const GError *dead_letter_error, gpointer data)
{
  Hooked *h = data;

  g_assert_nonnull (message);
  h->done++;
  if (dead_letter_error != NULL)
    h->dead++;
}

static void
hooked_never (EvcpMessage *message, const GError *dead_letter_error, gpointer data)
{
  ((Hooked *) data)->never++;
}

static gboolean
hooked_all_dead (gpointer data)
{
  return ((Hooked *) data)->dead >= 9;
}

static void
test_dead_letters (Fixture *f, gconstpointer data)
{
  Hooked hooked = { 0 };
  g_autoptr(EvcpEngine) engine = NULL;
  g_autoptr(GPtrArray) bad = g_ptr_array_new ();
  g_autoptr(GString) deep = g_string_new ("{\"kind\":\"USER_INFO\",\"data\":");
  g_autoptr(GString) large = g_string_new ("{\"kind\":\"USER_INFO\",\"user_id\":\"");
  g_autoptr(EvcpTestConsumer) consumer = NULL;
  g_autoptr(GPtrArray) records = NULL;
  static const gchar not_utf8[] = "{\"kind\":\"USER_INFO\",\"user_id\":\"\xff\xfe\"}";
  static const gchar with_nul[] = "{\"kind\":\"USER_INFO\",\"user_id\":\"a\0b\"}";
  Bad cases[9];
  guint n = 0;

  f->config->max_message_size = 4096;
  for (guint i = 0; i < 200; i++)   /* small, but deeper than the limit */
    g_string_append_c (deep, '[');
  for (guint i = 0; i < 5000 && large->len < 5000; i++)
    g_string_append_c (large, 'x');
  g_string_append (large, "\"}");

  cases[n++] = (Bad) { "malformed", "invalid-message", bytes ("{\"kind\":\"USER_INFO\",") };
  cases[n++] = (Bad) { "not-utf8", "not-utf8", g_bytes_new (not_utf8, sizeof not_utf8 - 1) };
  cases[n++] = (Bad) { "nul", "not-utf8", g_bytes_new (with_nul, sizeof with_nul - 1) };
  cases[n++] = (Bad) { "too-deep", "too-deep", bytes (deep->str) };
  cases[n++] = (Bad) { "too-large", "too-large", bytes (large->str) };
  cases[n++] = (Bad) { "unknown-kind", "no-handler", bytes ("{\"kind\":\"NOBODY_KNOWS\"}") };
  cases[n++] = (Bad) { "wrong-type", "handler-failed",
                       bytes ("{\"kind\":\"CHARGING_REQUEST\",\"data\":{\"user_id\":\"u\",\"cp_id\":\"" CP "\","
                              "\"requested_power\":\"50\",\"max_duration\":60}}") };
  cases[n++] = (Bad) { "retries-exhausted", "handler-failed", bytes ("{\"kind\":\"TRACK\",\"data\":{\"id\":1}}") };
  cases[n++] = (Bad) { "not-object", "invalid-message", bytes ("[1,2,3]") };

  f->track_fail = 3;   /* = handler_attempts: fails every attempt */
  engine = start_engine (f);
  /* the done hooks see what message-done sees; a removed one sees nothing */
  evcp_kafka_service_add_done_hook (evcp_engine_get_kafka_service (engine), hooked_done, &hooked);
  evcp_kafka_service_remove_done_hook (evcp_engine_get_kafka_service (engine),
                                       evcp_kafka_service_add_done_hook (evcp_engine_get_kafka_service (engine),
                                                                         hooked_never, &hooked));

  /* in order, on one partition (one key), so the offsets say which is which */
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(GError) error = NULL;
      gsize len;
      gconstpointer p = g_bytes_get_data (cases[i].value, &len);

      g_assert_true (evcp_test_produce (evcp_test_cluster_get_bootstraps (f->cluster),
                                        evcp_test_topic ("user_messages"), CP, p, (gssize) len, &error));
      g_assert_no_error (error);
    }

  consumer = evcp_test_consumer_new (evcp_test_cluster_get_bootstraps (f->cluster),
                                     evcp_test_topic ("dead_letters"));
  records = evcp_test_consumer_wait_for (consumer, n, WAIT_MS);
  g_assert_cmpuint (records->len, ==, n);
  for (guint i = 0; i < n; i++)
    {
      EvcpTestRecord *r = records->pdata[i];
      GBytes *code = g_hash_table_lookup (r->headers, "evcp.error.code");
      GBytes *topic = g_hash_table_lookup (r->headers, "evcp.origin.topic");
      GBytes *offset = g_hash_table_lookup (r->headers, "evcp.origin.offset");
      GBytes *err = g_hash_table_lookup (r->headers, "evcp.error");
      g_autofree gchar *offset_str = NULL;
      guint64 index;

      g_assert_nonnull (code);
      g_assert_nonnull (offset);
      g_assert_nonnull (err);
      g_assert_cmpuint (g_bytes_get_size (err), >, 0);
      offset_str = g_strndup (g_bytes_get_data (offset, NULL), g_bytes_get_size (offset));
      g_assert_true (g_ascii_string_to_unsigned (offset_str, 10, 0, n - 1, &index, NULL));
      g_test_message ("dead letter %s: %.*s", cases[index].label,
                      (int) g_bytes_get_size (err), (const gchar *) g_bytes_get_data (err, NULL));
      /* the original bytes, unchanged, with the original key */
      g_assert_true (g_bytes_equal (r->value, cases[index].value));
      g_assert_cmpstr (r->key, ==, CP);
      g_assert_cmpmem (g_bytes_get_data (topic, NULL), g_bytes_get_size (topic),
                       evcp_test_topic ("user_messages"), strlen (evcp_test_topic ("user_messages")));
      g_assert_cmpmem (g_bytes_get_data (code, NULL), g_bytes_get_size (code),
                       cases[index].code, strlen (cases[index].code));
    }
  for (guint i = 0; i < n; i++)
    g_bytes_unref (cases[i].value);
  /* the records can be read before the Engine has its delivery reports:
   * wait until every message is done (the hook counts after the metrics) */
  g_assert_cmpuint (n, ==, 9);
  g_assert_true (evcp_test_wait_until (NULL, hooked_all_dead, &hooked, WAIT_MS));
  {
    g_autoptr(GVariant) metrics = evcp_kafka_service_get_metrics (evcp_engine_get_kafka_service (engine));
    guint64 dl = 0;

    g_variant_ref_sink (metrics);
    g_assert_true (g_variant_lookup (metrics, "dead-letters", "t", &dl));
    g_assert_cmpuint (dl, ==, n);
  }
  g_assert_cmpuint (hooked.dead, ==, n);
  g_assert_cmpuint (hooked.done, ==, f->done);
  g_assert_cmpuint (hooked.never, ==, 0);
}

/* ---- a broker that goes away in the middle of a stream -------------------- */

static gboolean
state_is (EvcpEngine *engine, EvcpKafkaState state)
{
  return evcp_kafka_service_get_state (evcp_engine_get_kafka_service (engine)) == state;
}

static gboolean
disconnected (gpointer data)
{
  return state_is (data, EVCP_KAFKA_STATE_DISCONNECTED);
}

static gboolean
connected (gpointer data)
{
  return state_is (data, EVCP_KAFKA_STATE_CONNECTED);
}

static void
test_broker_down_mid_stream (Fixture *f, gconstpointer data)
{
  g_autoptr(EvcpEngine) engine = NULL;
  const gchar *b = evcp_test_cluster_get_bootstraps (f->cluster);
  SeenAll some = { f, 50 }, all = { f, 400 };

  /* a real broker goes down by stopping its JVM, on the same data dir */
  if (evcp_test_kafka_is_real () && !evcp_test_real_broker_can_control ())
    {
      g_test_skip ("a real Kafka not started by tests/kafka/real-broker cannot be stopped");
      return;
    }
  engine = start_engine (f);
  produce_track (f, b, 0, 200);
  g_assert_true (evcp_test_wait_until (NULL, seen_some, &some, WAIT_MS));

  g_assert_true (evcp_test_cluster_set_down (f->cluster, -1));
  g_assert_true (evcp_test_wait_until (NULL, disconnected, engine, WAIT_MS));
  g_assert_true (evcp_test_cluster_set_up (f->cluster, -1));
  g_assert_true (evcp_test_wait_until (NULL, connected, engine, WAIT_MS));

  produce_track (f, b, 200, 400);
  g_assert_true (evcp_test_wait_until (NULL, seen_all, &all, WAIT_MS));
  g_assert_cmpuint (g_hash_table_size (f->seen), ==, 400);
}

/* ---- a broker that starts after the Engine -------------------------------- */

static void
test_broker_starts_later (Fixture *f, gconstpointer data)
{
  gboolean real = evcp_test_kafka_is_real ();
  guint16 port = real ? 0 : evcp_test_free_port ();
  g_autofree gchar *address = real ? g_strdup (evcp_test_kafka_brokers ())
                                   : g_strdup_printf ("127.0.0.1:%u", port);
  g_autofree gchar *listen = g_strdup_printf ("--listen=%s", address);
  const gchar *args[] = { listen, NULL };
  g_autoptr(EvcpTestMockProcess) mock = NULL;
  g_autoptr(EvcpEngine) engine = NULL;
  g_autoptr(GError) error = NULL;
  SeenAll all = { f, 20 };

  /* a real broker starts later: its JVM stopped first, started again after */
  if (real && !evcp_test_real_broker_can_control ())
    {
      g_test_skip ("a real Kafka not started by tests/kafka/real-broker cannot be stopped");
      return;
    }
  if (real)
    {
      evcp_test_real_broker_run ("stop", &error);
      g_assert_no_error (error);
    }
  g_free (f->config->kafka_brokers);
  f->config->kafka_brokers = g_strdup (address);
  engine = start_engine (f);
  /* nothing listens there yet: the Engine runs, says so, and keeps trying */
  g_assert_true (evcp_test_wait_until (NULL, disconnected, engine, WAIT_MS));

  if (real)
    evcp_test_real_broker_run ("start", &error);
  else
    mock = evcp_test_mock_process_start (args, &error);
  g_assert_no_error (error);
  if (!real)
    g_assert_cmpstr (evcp_test_mock_process_get_bootstrap (mock), ==, address);
  g_assert_true (evcp_test_wait_until (NULL, connected, engine, WAIT_MS));
  produce_track (f, address, 0, 20);
  g_assert_true (evcp_test_wait_until (NULL, seen_all, &all, WAIT_MS));
  evcp_engine_stop (engine);
  if (!real)
    g_assert_true (evcp_test_mock_process_stop (mock, &error));
  g_assert_no_error (error);
}

/* ---- at least once across a restart --------------------------------------- */

static gboolean
retrying (gpointer data)
{
  Fixture *f = data;
  return f->track_fail < 1000000;
}

static void
test_uncommitted_redelivered (Fixture *f, gconstpointer data)
{
  const gchar *b = evcp_test_cluster_get_bootstraps (f->cluster);
  g_autoptr(EvcpEngine) first = NULL;
  g_autoptr(EvcpEngine) second = NULL;
  SeenAll five = { f, 5 }, six = { f, 6 };

  f->config->handler_attempts = 100;
  f->config->retry_backoff_ms = 50;
  f->config->retry_backoff_max_ms = 50;
  first = start_engine (f);
  produce_track (f, b, 0, 5);
  g_assert_true (evcp_test_wait_until (NULL, seen_all, &five, WAIT_MS));

  /* the sixth keeps failing: it is being retried when the Engine stops */
  f->track_fail = 1000000;
  produce_track (f, b, 5, 6);
  g_assert_true (evcp_test_wait_until (NULL, retrying, f, WAIT_MS));
  evcp_engine_stop (first);
  g_clear_object (&first);
  g_assert_false (g_hash_table_contains (f->seen, GINT_TO_POINTER (5)));

  /* same group: what was handled was committed, the sixth comes again */
  f->track_fail = 0;
  second = start_engine (f);
  g_assert_true (evcp_test_wait_until (NULL, seen_all, &six, WAIT_MS));
  for (guint i = 0; i < 6; i++)
    g_assert_cmpuint (GPOINTER_TO_UINT (g_hash_table_lookup (f->seen, GINT_TO_POINTER (i))), ==, 1);
}


/* ---- a flood of refusals with a tiny producer queue ---------------------- */

/* A CP in FAULT refuses every request and publishes each refusal, best
 * effort: what its producer's queue cannot take is counted as dropped.
 * Every refusal is either on Kafka or counted, never both, never neither. */
static void
test_refusal_flood (Fixture *f, gconstpointer data)
{
  const guint n = 2000;
  g_autoptr(EvcpEngine) engine = NULL;
  g_autoptr(GPtrArray) values = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_autoptr(EvcpTestConsumer) sessions = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *user = g_strdup_printf ("flood-%08x", g_random_int ());
  const gchar *bootstraps = evcp_test_cluster_get_bootstraps (f->cluster);
  gint64 deadline = g_get_monotonic_time () + WAIT_MS * G_TIME_SPAN_MILLISECOND;
  guint published = 0;

  g_hash_table_replace (f->config->rdkafka_producer, g_strdup ("queue.buffering.max.messages"), g_strdup ("20"));
  /* the Engine's own topic (a fixed name): a real broker may not create it by itself */
  if (!evcp_test_cluster_create_topic (f->cluster, "charging_sessions", 1, &error))
    {
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
      g_clear_error (&error);
    }
  sessions = evcp_test_consumer_new (bootstraps, "charging_sessions");
  engine = start_engine (f);
  evcp_engine_simulate_fault (engine, "flood test");
  for (guint i = 0; i < n; i++)
    {
      gchar *json = g_strdup_printf ("{\"kind\":\"CHARGING_REQUEST\",\"data\":{\"user_id\":\"%s\","
                                     "\"cp_id\":\"" CP "\",\"requested_power\":50,\"max_duration\":60,\"n\":%u}}",
                                     user, i);

      g_ptr_array_add (values, g_bytes_new_take (json, strlen (json)));
    }
  evcp_test_produce_batch (bootstraps, evcp_test_topic ("charging_requests"), CP, values, 20000, &error);
  g_assert_no_error (error);

  while (published + evcp_engine_get_events_dropped (engine) < n && g_get_monotonic_time () < deadline)
    {
      g_autoptr(GPtrArray) records = evcp_test_consumer_wait_for (sessions, n, 100);

      for (guint i = 0; i < records->len; i++)
        {
          g_autoptr(JsonNode) node = evcp_test_record_parse_json (g_ptr_array_index (records, i), NULL);
          JsonObject *o = node != NULL && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
          JsonObject *d = o != NULL ? json_object_get_object_member (o, "data") : NULL;

          if (d != NULL && g_strcmp0 (json_object_get_string_member_with_default (o, "kind", ""), "REQUEST_REFUSED") == 0 &&
              g_strcmp0 (json_object_get_string_member_with_default (d, "user_id", ""), user) == 0)
            {
              g_assert_cmpstr (json_object_get_string_member (d, "reason"), ==, "fault");
              published++;
            }
        }
    }
  g_test_message ("%u refusals: %u published, %" G_GUINT64_FORMAT " dropped",
                  n, published, evcp_engine_get_events_dropped (engine));
  g_assert_cmpuint (published + evcp_engine_get_events_dropped (engine), ==, n);
  g_assert_cmpuint (published, >, 0);
  /* 2000 in a few milliseconds do not fit in a queue of 20 */
  g_assert_cmpuint (evcp_engine_get_events_dropped (engine), >, 0);
  evcp_engine_stop (engine);
}

/* ---- a local queue drained faster than librdkafka looks at it ----------- */

/* librdkafka 2.0.2 stops fetching while its local queue is over
 * queued.min.messages and looks again only when its broker thread wakes,
 * at most once a second on its own. With a queue of 20 messages and fetches
 * of one batch of 40 per partition, 4000 messages take about 50 stops:
 * without the service waking the fetcher they would take about a minute,
 * past the deadline. The wake-ups (seeks to the consumer's own position) must not
 * skip, repeat or reorder anything: each partition's offsets come one after
 * the other. With three brokers, each leads some partitions and has a
 * fetcher of its own. */
typedef struct {
  GHashTable *next_offset;   /* partition -> the offset expected next */
  guint       out_of_order;
  guint       count;
} OffsetTrack;

static void
track_offsets (EvcpMessage *message, const GError *dead_letter_error, gpointer user_data)
{
  OffsetTrack *t = user_data;
  gpointer key = GINT_TO_POINTER (evcp_message_get_partition (message));
  gint64 offset = evcp_message_get_offset (message);
  gpointer expected;

  if (g_hash_table_lookup_extended (t->next_offset, key, NULL, &expected) &&
      offset != (gint64) GPOINTER_TO_SIZE (expected))
    t->out_of_order++;
  g_hash_table_insert (t->next_offset, key, GSIZE_TO_POINTER ((gsize) offset + 1));
  t->count++;
}

static void
test_fetcher_woken (Fixture *f, gconstpointer data)
{
  const gchar *b = evcp_test_cluster_get_bootstraps (f->cluster);
  g_autoptr(EvcpEngine) engine = NULL;
  g_autoptr(GVariant) metrics = NULL;
  OffsetTrack t = { g_hash_table_new (NULL, NULL), 0, 0 };
  SeenAll all = { f, 4000 };
  guint64 wakeups = 0;

  g_hash_table_insert (f->config->rdkafka_consumer, g_strdup ("queued.min.messages"), g_strdup ("20"));
  g_hash_table_insert (f->config->rdkafka_consumer, g_strdup ("max.partition.fetch.bytes"), g_strdup ("2048"));
  /* everything on Kafka before the Engine starts, so that it catches up:
   * 100 batches of 40 (a fetch brings at least one whole batch), under
   * eight keys, so both partitions have some */
  for (guint k = 0; k < 100; k++)
    {
      g_autoptr(GPtrArray) values = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
      g_autofree gchar *key = g_strdup_printf ("key-%u", k % 8);
      g_autoptr(GError) error = NULL;

      for (guint i = k * 40; i < (k + 1) * 40; i++)
        {
          gchar *json = g_strdup_printf ("{\"kind\":\"TRACK\",\"data\":{\"id\":%u}}", i);

          g_ptr_array_add (values, g_bytes_new_take (json, strlen (json)));
        }
      evcp_test_produce_batch (b, evcp_test_topic ("user_messages"), key, values, 20000, &error);
      g_assert_no_error (error);
    }
  engine = start_engine (f);
  evcp_kafka_service_add_done_hook (evcp_engine_get_kafka_service (engine), track_offsets, &t);
  g_assert_true (evcp_test_wait_until (NULL, seen_all, &all, WAIT_MS));

  for (guint i = 0; i < 4000; i++)
    g_assert_cmpuint (GPOINTER_TO_UINT (g_hash_table_lookup (f->seen, GINT_TO_POINTER (i))), ==, 1);
  g_assert_cmpuint (t.out_of_order, ==, 0);
  g_assert_cmpuint (t.count, ==, 4000);
  /* eight keys over the partitions: most have some */
  g_assert_cmpuint (g_hash_table_size (t.next_offset), >=, 2);
  metrics = evcp_kafka_service_get_metrics (evcp_engine_get_kafka_service (engine));
  g_assert_true (g_variant_lookup (metrics, "fetcher-wakeups", "t", &wakeups));
  g_test_message ("4000 messages, fetcher woken %" G_GUINT64_FORMAT " times", wakeups);
  /* librdkafka 2.2 on: fetch.queue.backoff.ms, and nothing woken by evcp */
  if (evcp_kafka_fetch_waker_needed ())
    g_assert_cmpuint (wakeups, >, 0);
  else
    g_assert_cmpuint (wakeups, ==, 0);
  g_hash_table_unref (t.next_offset);
}

/* ---- stopped just after Kafka went away --------------------------------- */

/* Kafka goes away and the Engine is stopped before it noticed (the
 * statistics tell every 5 s): the final commit and the group's leaving
 * must give up at the shutdown deadline (3 s) instead of waiting for the
 * coordinator (for ever, or the session timeout). A watchdog thread fails
 * the test if evcp_engine_stop() has not returned after 20 s. */
typedef struct {
  GMutex   lock;
  GCond    cond;
  gboolean returned;
  gint64   started;
} Watchdog;

static gpointer
watchdog_thread (gpointer data)
{
  Watchdog *w = data;
  gint64 deadline = g_get_monotonic_time () + 20 * G_TIME_SPAN_SECOND;

  g_mutex_lock (&w->lock);
  while (!w->returned)
    if (!g_cond_wait_until (&w->cond, &w->lock, deadline))
      g_error ("evcp_engine_stop() did not return within 20 s of Kafka going away");
  g_mutex_unlock (&w->lock);
  return NULL;
}

static void
test_stop_after_kafka_gone (Fixture *f, gconstpointer data)
{
  const gchar *b = evcp_test_cluster_get_bootstraps (f->cluster);
  g_autoptr(EvcpEngine) engine = NULL;
  SeenAll all = { f, 20 };
  Watchdog w = { 0 };
  GThread *thread;

  /* the mock's broker goes down at once, before the Engine can notice;
   * stopping a real broker's JVM takes seconds, while the main loop runs */
  if (evcp_test_kafka_is_real ())
    {
      g_test_skip ("needs a broker that goes down at once (the mock cluster)");
      return;
    }
  /* what was handled stays uncommitted until the final commit; a session
   * timeout as long as librdkafka's default (45 s), which the old close
   * waited for */
  g_hash_table_insert (f->config->rdkafka_consumer, g_strdup ("auto.commit.interval.ms"), g_strdup ("600000"));
  g_hash_table_insert (f->config->rdkafka_consumer, g_strdup ("session.timeout.ms"), g_strdup ("45000"));
  engine = start_engine (f);
  produce_track (f, b, 0, 20);
  g_assert_true (evcp_test_wait_until (NULL, seen_all, &all, WAIT_MS));
  g_assert_true (evcp_test_wait_until (NULL, connected, engine, WAIT_MS));

  g_assert_true (evcp_test_cluster_set_down (f->cluster, -1));
  /* the main loop did not run since: the Engine still believes in Kafka */
  g_assert_cmpint (evcp_kafka_service_get_state (evcp_engine_get_kafka_service (engine)), ==,
                   EVCP_KAFKA_STATE_CONNECTED);
  g_mutex_init (&w.lock);
  g_cond_init (&w.cond);
  thread = g_thread_new ("watchdog", watchdog_thread, &w);
  w.started = g_get_monotonic_time ();
  evcp_engine_stop (engine);
  g_test_message ("evcp_engine_stop() took %" G_GINT64_FORMAT " ms",
                  (g_get_monotonic_time () - w.started) / 1000);
  g_mutex_lock (&w.lock);
  w.returned = TRUE;
  g_cond_signal (&w.cond);
  g_mutex_unlock (&w.lock);
  g_thread_join (thread);
  g_mutex_clear (&w.lock);
  g_cond_clear (&w.cond);
  g_assert_true (evcp_test_cluster_set_up (f->cluster, -1));
}

/* ---- poison messages: a dead letter that could not fit (issue 22) -------- */

typedef struct {
  guint     done;
  guint     dead;
  guint     dead_at_first_good;   /* dead letters done when the first good one was */
  gboolean  good_seen;
  gint64    first, last;          /* monotonic times of the first and last done */
} Flow;

static void
flow_done (EvcpMessage *message, const GError *dead_letter_error, gpointer data)
{
  Flow *flow = data;

  flow->done++;
  flow->last = g_get_monotonic_time ();
  if (flow->first == 0)
    flow->first = flow->last;
  if (dead_letter_error != NULL)
    flow->dead++;
  else if (!flow->good_seen)
    {
      flow->good_seen = TRUE;
      flow->dead_at_first_good = flow->dead;
    }
}

static gboolean
flow_done_n (gpointer data)
{
  Flow *flow = ((gpointer *) data)[0];

  return flow->done >= GPOINTER_TO_UINT (((gpointer *) data)[1]);
}

static gchar *
header_string (EvcpTestRecord *r, const gchar *name)
{
  GBytes *b = g_hash_table_lookup (r->headers, name);

  return b != NULL ? g_strndup (g_bytes_get_data (b, NULL), g_bytes_get_size (b)) : NULL;
}

static guint64
metric_u64 (EvcpEngine *engine, const gchar *name)
{
  g_autoptr(GVariant) metrics = g_variant_ref_sink (evcp_kafka_service_get_metrics (evcp_engine_get_kafka_service (engine)));
  guint64 v = G_MAXUINT64;

  g_assert_true (g_variant_lookup (metrics, name, "t", &v));
  return v;
}

/* A valid 520 KB message whose kind is the whole message, and a bad value
 * under a key of almost 1 MB: neither dead letter fitted the producer's
 * message.max.bytes, each was retried forever, and nothing after it was
 * served. Now both are bounded as a whole record, and the requests after
 * them are served. */
static void
test_poison_messages (Fixture *f, gconstpointer data)
{
  const gchar *b = evcp_test_cluster_get_bootstraps (f->cluster);
  g_autoptr(GString) kind = g_string_new ("{\"kind\":\"");
  g_autofree gchar *big_key = g_strnfill (990000, 'K');
  g_autoptr(EvcpEngine) engine = NULL;
  g_autoptr(EvcpTestConsumer) consumer = NULL;
  g_autoptr(GPtrArray) records = NULL;
  g_autoptr(GError) error = NULL;
  SeenAll all = { f, 20 };
  Flow flow = { 0 };

  while (kind->len < 520000)
    g_string_append (kind, "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk");
  g_string_append (kind, "\"}");
  g_assert_true (evcp_test_produce (b, evcp_test_topic ("user_messages"), CP, kind->str, (gssize) kind->len, &error));
  g_assert_no_error (error);
  g_assert_true (evcp_test_produce (b, evcp_test_topic ("user_messages"), big_key, "not json", -1, &error));
  g_assert_no_error (error);
  produce_track (f, b, 0, 20);

  engine = start_engine (f);
  evcp_kafka_service_add_done_hook (evcp_engine_get_kafka_service (engine), flow_done, &flow);
  g_assert_true (evcp_test_wait_until (NULL, seen_all, &all, WAIT_MS));
  {
    gpointer args[] = { &flow, GUINT_TO_POINTER (22) };

    g_assert_true (evcp_test_wait_until (NULL, flow_done_n, args, WAIT_MS));
  }
  g_assert_cmpuint (flow.dead, ==, 2);
  g_assert_cmpuint (metric_u64 (engine, "dead-letters"), ==, 2);
  g_assert_cmpuint (metric_u64 (engine, "dead-letters-lost"), ==, 0);

  consumer = evcp_test_consumer_new (b, evcp_test_topic ("dead_letters"));
  records = evcp_test_consumer_wait_for (consumer, 2, WAIT_MS);
  g_assert_cmpuint (records->len, ==, 2);
  for (guint i = 0; i < records->len; i++)
    {
      EvcpTestRecord *r = records->pdata[i];
      g_autofree gchar *err = header_string (r, "evcp.error");
      g_autofree gchar *size = header_string (r, "evcp.original.size");
      g_autofree gchar *key_size = header_string (r, "evcp.original.key.size");
      gsize len;
      const gchar *value = g_bytes_get_data (r->value, &len);

      g_assert_nonnull (err);
      g_assert_cmpuint (strlen (err), <=, 1024);
      g_assert_true (g_utf8_validate (err, -1, NULL));
      if (r->key != NULL && strcmp (r->key, CP) == 0)
        {
          /* the long kind: the original whole, the error header cut */
          g_autofree gchar *expected = g_strdup_printf ("%" G_GSIZE_FORMAT, kind->len);

          g_assert_cmpstr (size, ==, expected);
          g_assert_cmpmem (value, len, kind->str, kind->len);
          g_assert_null (key_size);
        }
      else
        {
          /* the long key: its first 4096 bytes, the value whole */
          g_assert_nonnull (r->key);
          g_assert_cmpuint (strlen (r->key), ==, 4096);
          g_assert_cmpstr (key_size, ==, "990000");
          g_assert_cmpmem (value, len, "not json", 8);
        }
      g_test_message ("dead letter: key %zu bytes, value %zu bytes, error %zu bytes",
                      r->key != NULL ? strlen (r->key) : 0, len, strlen (err));
    }
  evcp_engine_stop (engine);
}

/* Dead letters do not hold back the good messages after them (they were
 * written one at a time, each waiting for its acknowledgement), and what is
 * committed never passes one not yet acknowledged: a second Engine of the
 * group gets nothing again. EVCP_TEST_DEAD_LETTERS=N for a larger run. */
static void
test_dead_letters_in_flight (Fixture *f, gconstpointer data)
{
  const gchar *b = evcp_test_cluster_get_bootstraps (f->cluster);
  guint n_bad = (guint) g_ascii_strtoull (g_getenv ("EVCP_TEST_DEAD_LETTERS") ?: "400", NULL, 10);
  guint n_good = 50;
  g_autoptr(GPtrArray) values = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_autoptr(EvcpEngine) engine = NULL;
  g_autoptr(GError) error = NULL;
  SeenAll all = { f, n_good };
  Flow flow = { 0 }, again = { 0 };
  gint64 start;
  gdouble secs;

  /* malformed: cut short */
  for (guint i = 0; i < n_bad; i++)
    {
      gchar *s = g_strdup_printf ("{\"kind\":\"TRACK\",\"data\":{\"id\":%u", i);

      g_ptr_array_add (values, g_bytes_new_take (s, strlen (s)));
    }
  evcp_test_produce_batch (b, evcp_test_topic ("user_messages"), CP, values, 60000, &error);
  g_assert_no_error (error);
  produce_track (f, b, 0, n_good);
  /* every answer 5 ms late, as on a real network */
  evcp_test_cluster_set_rtt (f->cluster, -1, 5);

  engine = start_engine (f);
  evcp_kafka_service_add_done_hook (evcp_engine_get_kafka_service (engine), flow_done, &flow);
  start = g_get_monotonic_time ();
  g_assert_true (evcp_test_wait_until (NULL, seen_all, &all, 120000));
  {
    gpointer args[] = { &flow, GUINT_TO_POINTER (n_bad + n_good) };

    g_assert_true (evcp_test_wait_until (NULL, flow_done_n, args, 120000));
  }
  secs = (gdouble) (flow.last - flow.first) / G_USEC_PER_SEC;
  g_test_message ("%u dead letters and %u good messages done in %.2f s from the first (%.0f/s; "
                  "%.2f s from the start); the first good one was done after %u dead letters",
                  n_bad, n_good, secs, (n_bad + n_good) / secs,
                  (gdouble) (flow.last - start) / G_USEC_PER_SEC, flow.dead_at_first_good);
  g_assert_cmpuint (flow.dead, ==, n_bad);
  /* good messages were handled while dead letters were on their way */
  g_assert_cmpuint (flow.dead_at_first_good, <, n_bad);
  g_assert_cmpuint (metric_u64 (engine, "partitions-reread"), ==, 0);
  evcp_engine_stop (engine);
  g_clear_object (&engine);

  /* committed: nothing comes again to the next Engine of the group */
  g_hash_table_remove_all (f->seen);
  engine = start_engine (f);
  evcp_kafka_service_add_done_hook (evcp_engine_get_kafka_service (engine), flow_done, &again);
  produce_track (f, b, 1000, 1001);
  {
    gpointer args[] = { &again, GUINT_TO_POINTER (1) };

    g_assert_true (evcp_test_wait_until (NULL, flow_done_n, args, WAIT_MS));
  }
  g_assert_cmpuint (again.done, ==, 1);
  g_assert_cmpuint (again.dead, ==, 0);
  g_assert_true (g_hash_table_contains (f->seen, GINT_TO_POINTER (1000)));
  evcp_engine_stop (engine);
}

static void
on_health (GObject *source, GAsyncResult *res, gpointer data)
{
  EvcpHealthResult **out = data;
  g_autoptr(GError) error = NULL;

  *out = evcp_health_checker_check_finish (EVCP_HEALTH_CHECKER (source), res, &error);
  g_assert_no_error (error);
}

static gboolean
pointer_set (gpointer data)
{
  return *(gpointer *) data != NULL;
}

/* one health check of the Engine, as the Monitor makes it */
static EvcpHealthResult *
check_health (EvcpEngine *engine)
{
  g_autoptr(EvcpHealthChecker) checker =
    evcp_health_checker_new ("127.0.0.1", evcp_engine_get_health_port (engine), CP);
  EvcpHealthResult *result = NULL;

  evcp_health_checker_check_async (checker, 5000, NULL, on_health, &result);
  g_assert_true (evcp_test_wait_until (NULL, pointer_set, &result, WAIT_MS));
  return result;
}

static gboolean
stalled (gpointer data)
{
  g_autofree gchar *reason = evcp_kafka_service_get_stall_reason (evcp_engine_get_kafka_service (data));

  return reason != NULL;
}

static gboolean
not_stalled (gpointer data)
{
  return !stalled (data);
}

/* A dead letter that cannot be written for a while (the broker refuses the
 * dead-letter topic) does not stop the good messages after it, shows as a
 * stall, and is written when the broker takes it again. */
static void
test_dead_letter_stall_visible (Fixture *f, gconstpointer data)
{
  const gchar *b = evcp_test_cluster_get_bootstraps (f->cluster);
  g_autoptr(EvcpEngine) engine = NULL;
  g_autoptr(GError) error = NULL;
  SeenAll all = { f, 5 };
  Flow flow = { 0 };

  if (evcp_test_kafka_is_real ())
    {
      g_test_skip ("errors are injected with the mock cluster");
      return;
    }
  g_assert_true (evcp_test_produce (b, evcp_test_topic ("user_messages"), CP, "{bad", -1, &error));
  g_assert_no_error (error);
  produce_track (f, b, 0, 5);
  rd_kafka_mock_push_request_errors (evcp_test_cluster_get_mock (f->cluster), 0 /* Produce */, 3,
                                     RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
                                     RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
                                     RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);

  engine = start_engine (f);
  evcp_kafka_service_add_done_hook (evcp_engine_get_kafka_service (engine), flow_done, &flow);
  g_assert_true (evcp_test_wait_until (NULL, stalled, engine, WAIT_MS));
  {
    g_autofree gchar *reason = evcp_kafka_service_get_stall_reason (evcp_engine_get_kafka_service (engine));
    g_autoptr(GVariant) metrics = g_variant_ref_sink (evcp_kafka_service_get_metrics (evcp_engine_get_kafka_service (engine)));
    const gchar *shown = NULL;

    g_test_message ("stalled: %s", reason);
    g_assert_true (strstr (reason, evcp_test_topic ("dead_letters")) != NULL);
    g_assert_true (g_variant_lookup (metrics, "consumer-stalled", "&s", &shown));
    g_assert_cmpstr (shown, ==, reason);
  }
  /* the Monitor hears it: healthy, with the warning */
  {
    g_autoptr(EvcpHealthResult) health = check_health (engine);

    g_assert_cmpint (health->outcome, ==, EVCP_HEALTH_OUTCOME_OK);
    g_assert_nonnull (health->warning);
    g_assert_nonnull (strstr (health->warning, "dead letters cannot be written"));
  }
  /* the good messages go on meanwhile */
  g_assert_true (evcp_test_wait_until (NULL, seen_all, &all, WAIT_MS));
  g_assert_true (evcp_test_wait_until (NULL, not_stalled, engine, WAIT_MS));
  {
    gpointer args[] = { &flow, GUINT_TO_POINTER (6) };

    g_assert_true (evcp_test_wait_until (NULL, flow_done_n, args, WAIT_MS));
  }
  g_assert_cmpuint (flow.dead, ==, 1);
  g_assert_cmpuint (metric_u64 (engine, "dead-letter-failures"), >=, 1);
  {
    g_autoptr(EvcpHealthResult) health = check_health (engine);

    g_assert_cmpint (health->outcome, ==, EVCP_HEALTH_OUTCOME_OK);
    g_assert_null (health->warning);
  }
  evcp_engine_stop (engine);
}

static gboolean
supplying (gpointer data)
{
  return evcp_supply_get_state (evcp_engine_get_supply (data)) == EVCP_CP_STATE_SUPPLYING;
}

/* A charging request whose user_id cannot stand in a ticket's frame ("#", a
 * control byte, longer than a field) starts no supply: it goes to the dead
 * letters saying why, and the good request after it is served. Before, such
 * a session supplied energy and its ticket could never be written. */
static void
test_request_fields_checked (Fixture *f, gconstpointer data)
{
  const gchar *b = evcp_test_cluster_get_bootstraps (f->cluster);
  g_autofree gchar *long_id = g_strnfill (5000, 'u');
  const gchar *bad_ids[] = { "drv#1", "drv\\u0002x", long_id };
  g_autoptr(EvcpEngine) engine = NULL;
  g_autoptr(EvcpTestConsumer) consumer = NULL;
  g_autoptr(GPtrArray) records = NULL;
  g_autoptr(GError) error = NULL;
  Flow flow = { 0 };

  for (guint i = 0; i < G_N_ELEMENTS (bad_ids) + 1; i++)
    {
      g_autofree gchar *json =
        g_strdup_printf ("{\"kind\":\"CHARGING_REQUEST\",\"data\":{\"user_id\":\"%s\",\"cp_id\":\"" CP "\","
                         "\"requested_power\":11,\"max_duration\":60}}",
                         i < G_N_ELEMENTS (bad_ids) ? bad_ids[i] : "drv-good");

      g_assert_true (evcp_test_produce (b, evcp_test_topic ("charging_requests"), CP, json, -1, &error));
      g_assert_no_error (error);
    }
  engine = start_engine (f);
  evcp_kafka_service_add_done_hook (evcp_engine_get_kafka_service (engine), flow_done, &flow);
  g_assert_true (evcp_test_wait_until (NULL, supplying, engine, WAIT_MS));
  g_assert_cmpstr (evcp_supply_get_session (evcp_engine_get_supply (engine))->driver, ==, "drv-good");
  {
    gpointer args[] = { &flow, GUINT_TO_POINTER (G_N_ELEMENTS (bad_ids) + 1) };

    g_assert_true (evcp_test_wait_until (NULL, flow_done_n, args, WAIT_MS));
  }
  g_assert_cmpuint (flow.dead, ==, G_N_ELEMENTS (bad_ids));

  consumer = evcp_test_consumer_new (b, evcp_test_topic ("dead_letters"));
  records = evcp_test_consumer_wait_for (consumer, G_N_ELEMENTS (bad_ids), WAIT_MS);
  g_assert_cmpuint (records->len, ==, G_N_ELEMENTS (bad_ids));
  for (guint i = 0; i < records->len; i++)
    {
      g_autofree gchar *err = header_string (records->pdata[i], "evcp.error");

      g_test_message ("refused: %s", err);
      g_assert_nonnull (strstr (err, "user_id"));
    }
  evcp_engine_stop (engine);
}

/* creates the topic; FALSE while the broker still has the deleted one */
static gboolean
topic_created (gpointer data)
{
  gpointer *args = data;
  g_autoptr(GError) error = NULL;

  if (evcp_test_kafka_create_topic (args[0], args[1], 2, &error))
    return TRUE;
  g_assert_true (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_EXISTS));
  return FALSE;
}

/* A topic deleted and created again while the Engine consumes it (an
 * operator's clean-up, a migration): its offsets start again from 0, under
 * the consumer's position. The first requests of the new topic must be
 * served, not skipped. Real Kafka only (the mock cannot delete a topic). */
static void
test_recreated_topic (Fixture *f, gconstpointer data)
{
  const gchar *b = evcp_test_cluster_get_bootstraps (f->cluster);
  const gchar *topic = evcp_test_topic ("user_messages");
  g_autoptr(EvcpEngine) engine = NULL;
  g_autoptr(GError) error = NULL;
  SeenAll first = { f, 3 };
  Flow flow = { 0 };

  if (!evcp_test_kafka_is_real ())
    {
      g_test_skip ("the mock cluster cannot delete a topic");
      return;
    }
  engine = start_engine (f);
  evcp_kafka_service_add_done_hook (evcp_engine_get_kafka_service (engine), flow_done, &flow);
  produce_track (f, b, 0, 3);
  g_assert_true (evcp_test_wait_until (NULL, seen_all, &first, WAIT_MS));

  g_assert_true (evcp_test_kafka_delete_topic (b, topic, &error));
  g_assert_no_error (error);
  /* the deletion takes a moment to complete on the broker: created again
   * as soon as it can be */
  g_assert_true (evcp_test_wait_until (NULL, topic_created, (gpointer[]) { (gpointer) b, (gpointer) topic }, WAIT_MS));
  /* the new topic's offsets 0, 1, 2: up to the consumer's position (3),
   * which the broker finds in range */
  g_hash_table_remove_all (f->seen);
  produce_track (f, b, 100, 103);
  produce_track (f, b, 103, 104);
  g_assert_true (evcp_test_wait_until (NULL, seen_some, &(SeenAll) { f, 4 }, 60000));
  for (guint i = 100; i < 104; i++)
    g_assert_true (g_hash_table_contains (f->seen, GINT_TO_POINTER (i)));
  g_assert_cmpuint (metric_u64 (engine, "partitions-reread"), >=, 1);
  evcp_engine_stop (engine);
}

static gsize
rss_kb (void)
{
  g_autofree gchar *status = NULL;
  const gchar *line;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL) ||
      (line = strstr (status, "VmRSS:")) == NULL)
    return 0;
  return (gsize) g_ascii_strtoull (line + 6, NULL, 10);
}

/* 100,000 distinct kinds, then one of 500 KB, then a request of a known
 * kind: the request is served, the per-kind counters and the metric labels
 * stay bounded (256 kinds of at most 64 bytes, the rest as "(other)"). */
static void
test_kinds_cardinality (Fixture *f, gconstpointer data)
{
  const gchar *b = evcp_test_cluster_get_bootstraps (f->cluster);
  guint n = (guint) g_ascii_strtoull (g_getenv ("EVCP_TEST_KINDS") ?: "100000", NULL, 10);
  g_autoptr(GPtrArray) values = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_autoptr(GString) big = g_string_new ("{\"kind\":\"");
  g_autoptr(EvcpEngine) engine = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) kinds = NULL;
  g_autoptr(GString) prom = g_string_new (NULL);
  SeenAll all = { f, 1 };
  Flow flow = { 0 };
  gsize rss_before, rss_after;

  for (guint i = 0; i < n; i++)
    {
      gchar *json = g_strdup_printf ("{\"kind\":\"K%u\",\"data\":{}}", i);

      g_ptr_array_add (values, g_bytes_new_take (json, strlen (json)));
    }
  evcp_test_produce_batch (b, evcp_test_topic ("user_messages"), CP, values, 120000, &error);
  g_assert_no_error (error);
  while (big->len < 500000)
    g_string_append (big, "0123456789abcdef0123456789abcdef");
  g_string_append (big, "\"}");
  g_assert_true (evcp_test_produce (b, evcp_test_topic ("user_messages"), CP, big->str, (gssize) big->len, &error));
  g_assert_no_error (error);
  produce_track (f, b, 0, 1);

  engine = start_engine (f);
  evcp_kafka_service_add_done_hook (evcp_engine_get_kafka_service (engine), flow_done, &flow);
  rss_before = rss_kb ();
  g_assert_true (evcp_test_wait_until (NULL, seen_all, &all, 120000));
  {
    gpointer args[] = { &flow, GUINT_TO_POINTER (n + 2) };

    g_assert_true (evcp_test_wait_until (NULL, flow_done_n, args, 120000));
  }
  rss_after = rss_kb ();
  g_assert_cmpuint (flow.dead, ==, n + 1);
  kinds = g_variant_ref_sink (evcp_dispatcher_get_kind_stats (evcp_kafka_service_get_dispatcher (
                                evcp_engine_get_kafka_service (engine))));
  g_assert_cmpuint (g_variant_n_children (kinds), <=, 257);
  evcp_engine_metrics_format (evcp_engine_get_kafka_service (engine), CP, prom);
  g_test_message ("%u kinds: %" G_GSIZE_FORMAT " kind rows, Prometheus text %" G_GSIZE_FORMAT
                  " bytes, RSS %" G_GSIZE_FORMAT " -> %" G_GSIZE_FORMAT " kB",
                  n + 2, g_variant_n_children (kinds), prom->len, rss_before, rss_after);
  g_assert_cmpuint (prom->len, <, 256 * 1024);
  evcp_engine_stop (engine);
}

static gboolean
active (gpointer data)
{
  return evcp_supply_get_state (evcp_engine_get_supply (data)) == EVCP_CP_STATE_ACTIVE;
}

static gboolean
repeated_at_least (gpointer data)
{
  gpointer *args = data;

  return evcp_engine_get_requests_repeated (args[0]) >= GPOINTER_TO_UINT (args[1]);
}

/* A charging request delivered again (the same request_id) is recognised:
 * while its session runs, after it ended, and after a restart on the same
 * state directory; a new request is served. */
static void
test_request_served_once (Fixture *f, gconstpointer data)
{
  const gchar *b = evcp_test_cluster_get_bootstraps (f->cluster);
  const gchar *r1 = "{\"kind\":\"CHARGING_REQUEST\",\"data\":{\"request_id\":\"r-1\",\"user_id\":\"drv-1\","
                    "\"cp_id\":\"" CP "\",\"requested_power\":360,\"max_duration\":1}}";
  const gchar *r2 = "{\"kind\":\"CHARGING_REQUEST\",\"data\":{\"request_id\":\"r-2\",\"user_id\":\"drv-2\","
                    "\"cp_id\":\"" CP "\",\"requested_power\":360,\"max_duration\":1}}";
  g_autoptr(EvcpEngine) engine = NULL;
  g_autoptr(GError) error = NULL;

  engine = start_engine (f);
  g_assert_true (evcp_test_produce (b, evcp_test_topic ("charging_requests"), CP, r1, -1, &error));
  g_assert_true (evcp_test_wait_until (NULL, supplying, engine, WAIT_MS));
  /* again while it runs */
  g_assert_true (evcp_test_produce (b, evcp_test_topic ("charging_requests"), CP, r1, -1, &error));
  g_assert_true (evcp_test_wait_until (NULL, repeated_at_least, (gpointer[]) { engine, GUINT_TO_POINTER (1) }, WAIT_MS));
  g_assert_true (evcp_test_wait_until (NULL, active, engine, WAIT_MS));
  /* again after it ended */
  g_assert_true (evcp_test_produce (b, evcp_test_topic ("charging_requests"), CP, r1, -1, &error));
  g_assert_true (evcp_test_wait_until (NULL, repeated_at_least, (gpointer[]) { engine, GUINT_TO_POINTER (2) }, WAIT_MS));
  g_assert_true (active (engine));
  evcp_engine_stop (engine);
  g_clear_object (&engine);

  /* again after a restart on the same state directory; then a new one */
  engine = start_engine (f);
  g_assert_true (evcp_test_produce (b, evcp_test_topic ("charging_requests"), CP, r1, -1, &error));
  g_assert_true (evcp_test_produce (b, evcp_test_topic ("charging_requests"), CP, r2, -1, &error));
  g_assert_no_error (error);
  g_assert_true (evcp_test_wait_until (NULL, supplying, engine, WAIT_MS));
  g_assert_cmpstr (evcp_supply_get_session (evcp_engine_get_supply (engine))->driver, ==, "drv-2");
  g_assert_cmpstr (evcp_supply_get_session (evcp_engine_get_supply (engine))->request_id, ==, "id:r-2");
  g_assert_cmpuint (evcp_engine_get_requests_repeated (engine), ==, 1);
  evcp_engine_stop (engine);
}

/* ---- keyed assignment (fleet mode) --------------------------------------- */

typedef struct {
  guint delivered;
  guint failed;
} Deliveries;

static void
on_delivered (EvcpKafkaProducer *producer, const GError *error, gint32 partition, gint64 offset, gpointer data)
{
  Deliveries *d = data;

  if (error != NULL)
    d->failed++;
  else
    d->delivered++;
}

static gboolean
all_delivered (gpointer data)
{
  gpointer *args = data;
  Deliveries *d = args[0];

  return d->delivered + d->failed >= GPOINTER_TO_UINT (args[1]);
}

/* produces TRACK ids with evcp's own producer (murmur2, as the Java client) */
static void
produce_keyed (Fixture *f, const gchar *topic, const gchar *key, guint from, guint to)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(EvcpKafkaProducer) producer =
    evcp_kafka_producer_new (evcp_test_cluster_get_bootstraps (f->cluster), f->config->rdkafka, NULL, &error);
  Deliveries d = { 0 };

  g_assert_no_error (error);
  for (guint i = from; i < to; i++)
    {
      g_autofree gchar *json = g_strdup_printf ("{\"kind\":\"TRACK\",\"data\":{\"id\":%u}}", i);
      g_autoptr(GBytes) value = g_bytes_new (json, strlen (json));
      g_autoptr(GBytes) k = key != NULL ? g_bytes_new (key, strlen (key)) : NULL;

      g_assert_true (evcp_kafka_producer_produce (producer, topic, k, value, NULL, 0, on_delivered, &d, &error));
    }
  g_assert_true (evcp_test_wait_until (NULL, all_delivered, (gpointer[]) { &d, GUINT_TO_POINTER (to - from) }, WAIT_MS));
  g_assert_cmpuint (d.failed, ==, 0);
}

/* another CP's id whose key lands on this CP's partition among @n */
static gchar *
colliding_key (gint32 n, guint which)
{
  gint32 mine = evcp_kafka_partition_for_key (CP, strlen (CP), n);

  for (guint i = 0, found = 0;; i++)
    {
      g_autofree gchar *key = g_strdup_printf ("CP-OTHER-%u", i);

      if (evcp_kafka_partition_for_key (key, strlen (key), n) == mine && found++ == which)
        return g_steal_pointer (&key);
    }
}

static gboolean
skipped_20 (gpointer data)
{
  return metric_u64 (data, "skipped-by-key") >= 20;
}

/* Fleet mode: the CP reads its key's partition of each topic (8 each), and
 * the whole broadcast topic; records keyed by other CPs that share its
 * partition are skipped unparsed; what it read is committed, and a restart
 * resumes there. */
static void
test_keyed (Fixture *f, gconstpointer data)
{
  const gchar *um = evcp_test_topic ("user_messages-k");
  const gchar *sn = evcp_test_topic ("system_notifications-k");
  g_autoptr(EvcpEngine) engine = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *other1 = colliding_key (8, 0);
  g_autofree gchar *other2 = colliding_key (8, 1);
  g_autoptr(GVariant) metrics = NULL;
  SeenAll first = { f, 20 };
  guint64 skipped = 0;

  evcp_test_cluster_create_topic (f->cluster, um, 8, &error);
  g_assert_no_error (error);
  evcp_test_cluster_create_topic (f->cluster, sn, 4, &error);
  g_assert_no_error (error);
  g_strfreev (f->config->kafka_topics);
  f->config->kafka_topics = g_strdupv ((gchar *[]) { (gchar *) um, (gchar *) sn, NULL });
  g_strfreev (f->config->broadcast_topics);
  f->config->broadcast_topics = g_strdupv ((gchar *[]) { (gchar *) sn, NULL });
  f->config->kafka_assignment = EVCP_KAFKA_ASSIGNMENT_KEYED;

  /* its own 0..9, other CPs' 1000.. on its partition and elsewhere,
   * unkeyed broadcasts 10..19 on every partition of the broadcast topic */
  produce_keyed (f, um, CP, 0, 10);
  produce_keyed (f, um, other1, 1000, 1010);
  produce_keyed (f, um, other2, 1010, 1020);
  produce_keyed (f, um, "CP-FAR-AWAY", 1020, 1030);
  produce_keyed (f, sn, NULL, 10, 20);

  engine = start_engine (f);
  g_assert_true (evcp_test_wait_until (NULL, seen_all, &first, WAIT_MS));
  g_assert_true (evcp_test_wait_until (NULL, connected, engine, WAIT_MS));
  /* the two colliding CPs' records, unparsed */
  g_assert_true (evcp_test_wait_until (NULL, skipped_20, engine, WAIT_MS));
  metrics = g_variant_ref_sink (evcp_kafka_service_get_metrics (evcp_engine_get_kafka_service (engine)));
  g_assert_true (g_variant_lookup (metrics, "skipped-by-key", "t", &skipped));
  g_assert_cmpuint (skipped, ==, 20);
  g_assert_cmpuint (g_hash_table_size (f->seen), ==, 20);   /* nothing of other CPs */
  evcp_engine_stop (engine);
  g_clear_object (&engine);

  /* a restart resumes at the committed offsets: only the new ones */
  g_hash_table_remove_all (f->seen);
  produce_keyed (f, um, CP, 100, 105);
  engine = start_engine (f);
  g_assert_true (evcp_test_wait_until (NULL, seen_some, &(SeenAll) { f, 5 }, WAIT_MS));
  for (guint i = 100; i < 105; i++)
    g_assert_true (g_hash_table_contains (f->seen, GINT_TO_POINTER (i)));
  g_assert_cmpuint (g_hash_table_size (f->seen), ==, 5);
  evcp_engine_stop (engine);
}

/* Keyed: partitions added to a topic move keys; the Engine notices it from
 * the metadata and reads its key's new partition (real Kafka: the mock
 * cluster cannot add partitions). */
static void
test_keyed_partitions_added (Fixture *f, gconstpointer data)
{
  const gchar *um = evcp_test_topic ("user_messages-kp");
  g_autoptr(EvcpEngine) engine = NULL;
  g_autoptr(GError) error = NULL;
  SeenAll first = { f, 5 };
  gint32 before, after;
  guint total = 4;

  if (!evcp_test_kafka_is_real ())
    {
      g_test_skip ("the mock cluster cannot add partitions");
      return;
    }
  evcp_test_cluster_create_topic (f->cluster, um, 4, &error);
  g_assert_no_error (error);
  g_strfreev (f->config->kafka_topics);
  f->config->kafka_topics = g_strdupv ((gchar *[]) { (gchar *) um, NULL });
  f->config->kafka_assignment = EVCP_KAFKA_ASSIGNMENT_KEYED;
  f->config->metadata_check_s = 1;

  engine = start_engine (f);
  produce_keyed (f, um, CP, 0, 5);
  g_assert_true (evcp_test_wait_until (NULL, seen_all, &first, WAIT_MS));

  /* grow the topic until this CP's key moves to another partition */
  before = evcp_kafka_partition_for_key (CP, strlen (CP), 4);
  do
    after = evcp_kafka_partition_for_key (CP, strlen (CP), (gint32) ++total);
  while (after == before);
  g_test_message ("%s: partition %d of 4, %d of %u", CP, before, after, total);
  g_assert_true (evcp_test_kafka_create_partitions (evcp_test_cluster_get_bootstraps (f->cluster), um, total, &error));
  g_assert_no_error (error);
  /* the producer learns the new count from its own metadata; what it keys
   * now goes to the new partition, which the Engine must read */
  produce_keyed (f, um, CP, 100, 101);
  g_assert_true (evcp_test_wait_until (NULL, seen_some, &(SeenAll) { f, 6 }, 60000));
  g_assert_true (g_hash_table_contains (f->seen, GINT_TO_POINTER (100)));
  evcp_engine_stop (engine);
}

/* Keyed: a record keyed by kafka-python (its default partitioner, the Java
 * client's) reaches the CP of its key, and only that one: kafka-python, the
 * Java client and evcp agree. Real Kafka, with the kafka-python of
 * tests/kafka/python-client (EVCP_KAFKA_PYTHON, set by scripts/test). */
static void
test_keyed_kafka_python (Fixture *f, gconstpointer data)
{
  static const gchar script[] =
    "import sys\n"
    "from kafka import KafkaProducer\n"
    "p = KafkaProducer(bootstrap_servers=sys.argv[1])\n"
    "for key, i in ((sys.argv[3], sys.argv[4]), (sys.argv[5], sys.argv[6])):\n"
    "    p.send(sys.argv[2], key=key.encode(), value=('{\"kind\":\"TRACK\",\"data\":{\"id\":%s}}' % i).encode())\n"
    "p.flush()\n";
  const gchar *python = g_getenv ("EVCP_KAFKA_PYTHON");
  const gchar *um = evcp_test_topic ("user_messages-kpy");
  g_autoptr(EvcpEngine) engine = NULL;
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *other = NULL;
  gint32 mine;

  if (!evcp_test_kafka_is_real ())
    {
      g_test_skip ("kafka-python against the real Kafka only");
      return;
    }
  if (python == NULL || g_hash_table_size (evcp_test_kafka_properties ()) > 0)
    {
      /* scripts/test always provides it: under CI, missing is a failure */
      if (g_strcmp0 (g_getenv ("CI"), "true") == 0)
        g_error ("EVCP_KAFKA_PYTHON is not set (scripts/test sets it with tests/kafka/python-client)");
      g_test_skip ("no kafka-python (EVCP_KAFKA_PYTHON), or a secured cluster");
      return;
    }
  evcp_test_cluster_create_topic (f->cluster, um, 8, &error);
  g_assert_no_error (error);
  g_strfreev (f->config->kafka_topics);
  f->config->kafka_topics = g_strdupv ((gchar *[]) { (gchar *) um, NULL });
  f->config->kafka_assignment = EVCP_KAFKA_ASSIGNMENT_KEYED;
  /* another CP on another partition: kafka-python must put it elsewhere */
  mine = evcp_kafka_partition_for_key (CP, strlen (CP), 8);
  for (guint i = 0; other == NULL || evcp_kafka_partition_for_key (other, strlen (other), 8) == mine; i++)
    {
      g_free (other);
      other = g_strdup_printf ("CP-PY-%u", i);
    }

  engine = start_engine (f);
  proc = evcp_test_subprocess_newv ((const gchar * const []) { python, "-c", script,
                                                               evcp_test_cluster_get_bootstraps (f->cluster),
                                                               um, CP, "7", other, "8", NULL },
                                    G_SUBPROCESS_FLAGS_NONE, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_wait_check (proc, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (evcp_test_wait_until (NULL, seen_some, &(SeenAll) { f, 1 }, WAIT_MS));
  g_assert_true (g_hash_table_contains (f->seen, GINT_TO_POINTER (7)));
  /* the other CP's record was on a partition this CP does not read */
  g_assert_false (g_hash_table_contains (f->seen, GINT_TO_POINTER (8)));
  g_assert_cmpuint (metric_u64 (engine, "skipped-by-key"), ==, 0);
  evcp_engine_stop (engine);
}

/* The consumer's librdkafka statistics, for the benchmarks (bench/fleet
 * reads the messages and bytes a CP fetched from them): the last ones,
 * with what was consumed. */
static gboolean
statistics_count_5 (gpointer data)
{
  g_autofree gchar *json = evcp_kafka_service_get_statistics (evcp_engine_get_kafka_service (data));
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *root;

  if (json == NULL || !json_parser_load_from_data (parser, json, -1, NULL))
    return FALSE;
  root = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpstr (json_object_get_string_member (root, "type"), ==, "consumer");
  g_assert_true (json_object_has_member (root, "brokers"));
  return json_object_get_int_member (root, "rxmsgs") >= 5;
}

static void
test_statistics (Fixture *f, gconstpointer data)
{
  const gchar *um = evcp_test_topic ("user_messages");
  g_autoptr(EvcpEngine) engine = NULL;

  g_hash_table_insert (f->config->rdkafka, g_strdup ("statistics.interval.ms"), g_strdup ("100"));
  g_strfreev (f->config->kafka_topics);
  f->config->kafka_topics = g_strdupv ((gchar *[]) { (gchar *) um, NULL });
  f->config->kafka_assignment = EVCP_KAFKA_ASSIGNMENT_KEYED;
  engine = start_engine (f);
  g_assert_null (evcp_kafka_service_get_statistics (evcp_engine_get_kafka_service (engine)));
  g_assert_true (evcp_test_wait_until (NULL, connected, engine, WAIT_MS));
  produce_keyed (f, um, CP, 0, 5);
  g_assert_true (evcp_test_wait_until (NULL, seen_some, &(SeenAll) { f, 5 }, WAIT_MS));
  g_assert_true (evcp_test_wait_until (NULL, statistics_count_5, engine, WAIT_MS));
  evcp_engine_stop (engine);
}

/* the consumer's fetch requests so far (every broker) and the statistics'
 * age (µs since the client started); FALSE before the first statistics */
static gboolean
fetch_requests (EvcpEngine *engine, gint64 *fetches, gint64 *age_us)
{
  g_autofree gchar *json = evcp_kafka_service_get_statistics (evcp_engine_get_kafka_service (engine));
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *root, *brokers;
  GList *members;

  if (json == NULL || !json_parser_load_from_data (parser, json, -1, NULL))
    return FALSE;
  root = json_node_get_object (json_parser_get_root (parser));
  brokers = json_object_get_object_member (root, "brokers");
  *fetches = 0;
  members = json_object_get_values (brokers);
  for (GList *l = members; l != NULL; l = l->next)
    *fetches += json_object_get_int_member_with_default (
      json_object_get_object_member (json_node_get_object (l->data), "req"), "Fetch", 0);
  g_list_free (members);
  *age_us = json_object_get_int_member (root, "age");
  return TRUE;
}

typedef struct {
  EvcpEngine *engine;
  gint64      fetches;
  gint64      age_us;    /* in: at least this age */
} FetchCount;

static gboolean
fetched_at_age (gpointer data)
{
  FetchCount *c = data;
  gint64 fetches, age;

  if (!fetch_requests (c->engine, &fetches, &age) || fetches == 0 || age < c->age_us)
    return FALSE;
  c->fetches = fetches;
  c->age_us = age;
  return TRUE;
}

/* fetch requests of an idle keyed CP over 3 s, with @wait_ms as [librdkafka-consumer]
 * fetch.wait.max.ms, or keyed mode's default (NULL) */
static gint64
idle_fetches (Fixture *f, const gchar *wait_ms)
{
  g_autoptr(EvcpEngine) engine = NULL;
  FetchCount c = { NULL, 0, 0 };
  gint64 before;

  if (wait_ms != NULL)
    g_hash_table_insert (f->config->rdkafka_consumer, g_strdup ("fetch.wait.max.ms"), g_strdup (wait_ms));
  engine = start_engine (f);
  c.engine = engine;
  g_assert_true (evcp_test_wait_until (NULL, connected, engine, WAIT_MS));
  /* from the first fetch on (the mock holds an empty one for the whole wait) */
  g_assert_true (evcp_test_wait_until (NULL, fetched_at_age, &c, WAIT_MS));
  before = c.fetches;
  c.age_us += 3 * G_USEC_PER_SEC;
  g_assert_true (evcp_test_wait_until (NULL, fetched_at_age, &c, WAIT_MS));
  evcp_engine_stop (engine);
  g_test_message ("fetch.wait.max.ms %s: %" G_GINT64_FORMAT " fetch requests in 3 s idle",
                  wait_ms != NULL ? wait_ms : "(keyed default)", c.fetches - before);
  return c.fetches - before;
}

/* Keyed mode waits 5 s per fetch by default (an idle CP: one fetch request
 * per broker every 5 s; a real broker answers as soon as data arrives);
 * [librdkafka-consumer] fetch.wait.max.ms overrides it. */
static void
test_keyed_idle_fetches (Fixture *f, gconstpointer data)
{
  const gchar *um = evcp_test_topic ("user_messages");

  g_hash_table_insert (f->config->rdkafka, g_strdup ("statistics.interval.ms"), g_strdup ("100"));
  g_strfreev (f->config->kafka_topics);
  f->config->kafka_topics = g_strdupv ((gchar *[]) { (gchar *) um, NULL });
  f->config->kafka_assignment = EVCP_KAFKA_ASSIGNMENT_KEYED;
  g_assert_cmpint (idle_fetches (f, NULL), <=, 1);
  g_assert_cmpint (idle_fetches (f, "500"), >=, 4);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  evcp_test_kafka_check_mode ();
  /* Kafka outages and bad messages are logged as warnings on purpose */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);

  g_test_add ("/kafka-service/kcat-both-shapes", Fixture, NULL,
              fixture_set_up, test_kcat_both_shapes, fixture_tear_down);
  g_test_add ("/kafka-service/dead-letters", Fixture, NULL,
              fixture_set_up, test_dead_letters, fixture_tear_down);
  g_test_add ("/kafka-service/broker-down-mid-stream", Fixture, NULL,
              fixture_set_up, test_broker_down_mid_stream, fixture_tear_down);
  g_test_add ("/kafka-service/broker-starts-later", Fixture, NULL,
              fixture_set_up, test_broker_starts_later, fixture_tear_down);
  g_test_add ("/kafka-service/uncommitted-redelivered", Fixture, NULL,
              fixture_set_up, test_uncommitted_redelivered, fixture_tear_down);
  g_test_add ("/kafka-service/fetcher-woken", Fixture, NULL,
              fixture_set_up, test_fetcher_woken, fixture_tear_down);
  g_test_add ("/kafka-service/fetcher-woken-3-brokers", Fixture, GUINT_TO_POINTER (3),
              fixture_set_up, test_fetcher_woken, fixture_tear_down);
  g_test_add ("/kafka-service/stop-after-kafka-gone", Fixture, NULL,
              fixture_set_up, test_stop_after_kafka_gone, fixture_tear_down);
  g_test_add ("/kafka-service/refusal-flood", Fixture, NULL,
              fixture_set_up, test_refusal_flood, fixture_tear_down);
  g_test_add ("/kafka-service/poison-messages", Fixture, NULL,
              fixture_set_up, test_poison_messages, fixture_tear_down);
  g_test_add ("/kafka-service/dead-letters-in-flight", Fixture, NULL,
              fixture_set_up, test_dead_letters_in_flight, fixture_tear_down);
  g_test_add ("/kafka-service/dead-letter-stall-visible", Fixture, NULL,
              fixture_set_up, test_dead_letter_stall_visible, fixture_tear_down);
  g_test_add ("/kafka-service/request-fields-checked", Fixture, NULL,
              fixture_set_up, test_request_fields_checked, fixture_tear_down);
  g_test_add ("/kafka-service/recreated-topic", Fixture, NULL,
              fixture_set_up, test_recreated_topic, fixture_tear_down);
  g_test_add ("/kafka-service/kinds-cardinality", Fixture, NULL,
              fixture_set_up, test_kinds_cardinality, fixture_tear_down);
  g_test_add ("/kafka-service/request-served-once", Fixture, NULL,
              fixture_set_up, test_request_served_once, fixture_tear_down);
  g_test_add ("/kafka-service/keyed", Fixture, NULL,
              fixture_set_up, test_keyed, fixture_tear_down);
  g_test_add ("/kafka-service/keyed-partitions-added", Fixture, NULL,
              fixture_set_up, test_keyed_partitions_added, fixture_tear_down);
  g_test_add ("/kafka-service/keyed-kafka-python", Fixture, NULL,
              fixture_set_up, test_keyed_kafka_python, fixture_tear_down);
  g_test_add ("/kafka-service/statistics", Fixture, NULL,
              fixture_set_up, test_statistics, fixture_tear_down);
  g_test_add ("/kafka-service/keyed-idle-fetches", Fixture, NULL,
              fixture_set_up, test_keyed_idle_fetches, fixture_tear_down);
  return g_test_run ();
}
