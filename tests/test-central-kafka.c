/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* evcp-central with Kafka (evcp-kafka-mock as a process): charging_sessions
 * and monitoring_events applied to the same registry and database as the
 * link, with the same deduplication by (cp, role, seq), so that a ticket
 * seen on both is kept once; and without Kafka (brokers down), the socket
 * alone. */
#include "evcp-build-config.h"

#include <string.h>

#include <glib/gstdio.h>
#include <sqlite3.h>

#include "evcp-test-central.h"
#include "evcp-test-system.h"
#include "evcp-test-util.h"

#define KAFKA_WAIT_MS 30000

typedef struct {
  EvcpTestMockProcess *mock;
  gchar               *tmpdir;
  gchar               *db_path;
  EvcpTestCentral     *central;
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  f->mock = evcp_test_mock_process_start (NULL, &error);
  g_assert_no_error (error);
  f->tmpdir = g_dir_make_tmp ("evcp-test-central-kafka-XXXXXX", &error);
  g_assert_no_error (error);
  f->db_path = g_build_filename (f->tmpdir, "central.db", NULL);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDir) dir = g_dir_open (f->tmpdir, 0, NULL);
  const gchar *name;

  g_clear_pointer (&f->central, evcp_test_central_free);
  g_assert_true (evcp_test_mock_process_stop (f->mock, &error));
  g_assert_no_error (error);
  evcp_test_mock_process_free (f->mock);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree gchar *path = g_build_filename (f->tmpdir, name, NULL);

      if (g_test_failed () && g_str_has_suffix (name, ".log"))
        {
          g_autofree gchar *log = NULL;

          if (g_file_get_contents (path, &log, NULL, NULL))
            g_test_message ("%s:\n%s", name, log);
        }
      g_unlink (path);
    }
  g_rmdir (f->tmpdir);
  g_free (f->tmpdir);
  g_free (f->db_path);
}

static void
produce (Fixture *f, const gchar *topic, const gchar *key, const gchar *json)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (evcp_test_produce (evcp_test_mock_process_get_bootstrap (f->mock), topic, key,
                                    json, -1, &error));
  g_assert_no_error (error);
}

typedef struct {
  EvcpTestCentral *central;
  const gchar     *name;
  gint64           value;
} StatWait;

static gboolean
stat_reached (gpointer data)
{
  StatWait *wait = data;

  return evcp_test_central_get_stat (wait->central, wait->name) >= wait->value;
}

static void
wait_stat (EvcpTestCentral *central, const gchar *name, gint64 value)
{
  StatWait wait = { central, name, value };

  g_assert_true (evcp_test_wait_until (NULL, stat_reached, &wait, KAFKA_WAIT_MS));
}

static gboolean
kafka_connected (gpointer data)
{
  g_autoptr(JsonObject) root = evcp_test_central_list (data);

  return g_strcmp0 (json_object_get_string_member (root, "kafka"), "connected") == 0;
}

static gint64
cp_int (EvcpTestCentral *central, const gchar *cp_id, const gchar *member)
{
  g_autoptr(JsonObject) cp = evcp_test_central_get_cp (central, cp_id);

  g_assert_nonnull (cp);
  return json_object_get_int_member (cp, member);
}

static void
assert_state (EvcpTestCentral *central, const gchar *cp_id, const gchar *state)
{
  g_autoptr(JsonObject) cp = evcp_test_central_get_cp (central, cp_id);

  g_assert_nonnull (cp);
  g_assert_cmpstr (json_object_get_string_member (cp, "state"), ==, state);
}

static gint64
db_count (const gchar *path, const gchar *sql)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  gint64 value;

  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  if (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL) != SQLITE_OK)
    g_error ("%s: %s", sql, sqlite3_errmsg (db));
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  value = sqlite3_column_int64 (stmt, 0);
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return value;
}

static void
test_link_and_kafka (Fixture *f, gconstpointer data)
{
  g_autofree gchar *brokers = g_strdup_printf ("--kafka-brokers=%s", evcp_test_mock_process_get_bootstrap (f->mock));
  g_autofree gchar *group = g_strdup_printf ("--kafka-group=test-central-%08x", g_random_int ());
  const gchar *args[] = { brokers, group, NULL };
  g_autoptr(EvcpTestPeer) engine = NULL;
  g_autoptr(EvcpTestPeer) monitor = NULL;
  g_autoptr(JsonObject) cp = NULL;
  JsonObject *session;
  gint64 start = g_get_monotonic_time ();

  f->central = evcp_test_central_start (f->db_path, args);
  engine = evcp_test_peer_connect (evcp_test_central_get_port (f->central));
  monitor = evcp_test_peer_connect (evcp_test_central_get_port (f->central));
  evcp_test_peer_auth (engine, "CP-K1", "ENGINE");
  evcp_test_peer_auth (monitor, "CP-K1", "MONITOR");
  g_assert_true (evcp_test_wait_until (NULL, kafka_connected, f->central, KAFKA_WAIT_MS));
  g_test_message ("Kafka partitions assigned after %" G_GINT64_FORMAT " ms",
                  (g_get_monotonic_time () - start) / 1000);

  /* the link first, then the same ticket (same seq) on Kafka */
  evcp_test_peer_send_acked (engine, "TICKET#CP-K1#S-1#u1#4.000#1.20#COMPLETED#3");
  produce (f, "charging_sessions", "CP-K1",
           "{\"kind\":\"SESSION_ENDED\",\"timestamp\":\"2026-11-26T10:00:00Z\","
           "\"data\":{\"cp_id\":\"CP-K1\",\"session_id\":\"S-1\",\"user_id\":\"u1\","
           "\"kwh\":4.0,\"eur\":1.2,\"reason\":\"COMPLETED\",\"seq\":3}}");
  wait_stat (f->central, "kafka_messages", 1);
  g_assert_cmpint (cp_int (f->central, "CP-K1", "tickets"), ==, 1);
  g_assert_cmpint (evcp_test_central_get_stat (f->central, "duplicates"), ==, 1);

  /* Kafka first (the top-level shape), then the link re-sends the same */
  produce (f, "charging_sessions", "CP-K1",
           "{\"kind\":\"SESSION_ENDED\",\"cp_id\":\"CP-K1\",\"session_id\":\"S-2\",\"user_id\":\"u2\","
           "\"kwh\":1.5,\"eur\":0.45,\"reason\":\"UNPLUGGED\",\"seq\":4,\"replayed\":true}");
  wait_stat (f->central, "kafka_messages", 2);
  g_assert_cmpint (cp_int (f->central, "CP-K1", "tickets"), ==, 2);
  evcp_test_peer_send_acked (engine, "TICKET#CP-K1#S-2#u2#1.500#0.45#UNPLUGGED#4");
  g_assert_cmpint (cp_int (f->central, "CP-K1", "tickets"), ==, 2);
  g_assert_cmpint (evcp_test_central_get_stat (f->central, "duplicates"), ==, 2);
  /* the seqs on the link went 3, 4: no gap for Kafka's sake */
  g_assert_cmpint (evcp_test_central_get_stat (f->central, "gaps"), ==, 0);

  /* a ticket without seq (an older producer): kept once by its session */
  produce (f, "charging_sessions", "CP-K1",
           "{\"kind\":\"SESSION_ENDED\",\"data\":{\"cp_id\":\"CP-K1\",\"session_id\":\"S-1\","
           "\"user_id\":\"u1\",\"kwh\":4.0,\"eur\":1.2,\"reason\":\"COMPLETED\"}}");
  wait_stat (f->central, "kafka_messages", 3);
  g_assert_cmpint (cp_int (f->central, "CP-K1", "tickets"), ==, 2);
  g_assert_cmpint (evcp_test_central_get_stat (f->central, "duplicate_tickets"), ==, 1);

  /* the Monitor: KO on Kafka, then the same FAULT over the link */
  produce (f, "monitoring_events", "CP-K1",
           "{\"kind\":\"MONITORING_EVENT\",\"data\":{\"id\":\"CP-K1\",\"status\":\"KO\","
           "\"previous_status\":\"OK\",\"reason\":\"timeout\",\"consecutive_failures\":3,"
           "\"latency_ms\":1000,\"availability\":0.9,\"uptime_s\":100,\"seq\":7}}");
  wait_stat (f->central, "kafka_messages", 4);
  assert_state (f->central, "CP-K1", "FAULT");
  evcp_test_peer_send_acked (monitor, "FAULT#CP-K1#timeout#7");
  g_assert_cmpint (evcp_test_central_get_stat (f->central, "duplicates"), ==, 3);
  evcp_test_peer_send_acked (monitor, "RECOVERED#CP-K1#8");
  /* the Engine's state: ACTIVE after the ticket of S-2 (seq 4) on Kafka */
  assert_state (f->central, "CP-K1", "ACTIVE");
  /* and the recovery seen late on Kafka changes nothing */
  produce (f, "monitoring_events", "CP-K1",
           "{\"kind\":\"MONITORING_EVENT\",\"data\":{\"id\":\"CP-K1\",\"status\":\"OK\","
           "\"previous_status\":\"KO\",\"reason\":\"\",\"seq\":8}}");
  wait_stat (f->central, "kafka_messages", 5);
  g_assert_cmpint (evcp_test_central_get_stat (f->central, "duplicates"), ==, 4);
  /* the Monitor's periodic event after it repeats the status and the last
   * change (data.event PERIODIC): not another RECOVERED (the count of the
   * Monitor's events at the end says so) */
  produce (f, "monitoring_events", "CP-K1",
           "{\"kind\":\"MONITORING_EVENT\",\"data\":{\"id\":\"CP-K1\",\"event\":\"PERIODIC\","
           "\"status\":\"OK\",\"previous_status\":\"KO\",\"reason\":\"\",\"seq\":9}}");
  wait_stat (f->central, "kafka_messages", 6);
  assert_state (f->central, "CP-K1", "ACTIVE");

  /* garbage on a topic is skipped and holds nothing up; then a CP known
   * only from Kafka, with its session in progress */
  produce (f, "charging_sessions", "CP-K2", "not json");
  produce (f, "charging_sessions", "CP-K2",
           "{\"kind\":\"SESSION_STARTED\",\"data\":{\"cp_id\":\"CP-K2\",\"session_id\":\"S-9\","
           "\"user_id\":\"u9\",\"power_kw\":22,\"seq\":10}}");
  produce (f, "charging_sessions", "CP-K2",
           "{\"kind\":\"SESSION_TELEMETRY\",\"data\":{\"cp_id\":\"CP-K2\",\"session_id\":\"S-9\","
           "\"user_id\":\"u9\",\"power_kw\":22,\"kwh\":0.5,\"eur\":0.15,\"seq\":11}}");
  wait_stat (f->central, "kafka_messages", 8);
  cp = evcp_test_central_get_cp (f->central, "CP-K2");
  g_assert_nonnull (cp);
  g_assert_cmpstr (json_object_get_string_member (cp, "state"), ==, "SUPPLYING");
  session = json_object_get_object_member (cp, "session");
  g_assert_cmpstr (json_object_get_string_member (session, "driver"), ==, "u9");
  g_assert_cmpfloat_with_epsilon (json_object_get_double_member (session, "kwh"), 0.5, 1e-9);

  g_assert_true (evcp_test_central_log_contains (f->central, "is not a JSON object, skipped"));

  g_assert_cmpint (evcp_test_central_quit (f->central), ==, 0);
  g_assert_cmpint (db_count (f->db_path, "SELECT COUNT(*) FROM tickets"), ==, 2);
  g_assert_cmpint (db_count (f->db_path, "SELECT COUNT(*) FROM tickets WHERE session_id = 'S-1' "
                                         "AND source = 'link'"), ==, 1);
  g_assert_cmpint (db_count (f->db_path, "SELECT COUNT(*) FROM tickets WHERE session_id = 'S-2' "
                                         "AND source = 'kafka'"), ==, 1);
  g_assert_cmpint (db_count (f->db_path, "SELECT COUNT(*) FROM events WHERE cp_id = 'CP-K1' "
                                         "AND role = 'MONITOR'"), ==, 2);
}

/* Kafka asked for but unreachable: the socket works as without it. */
static void
test_kafka_down (Fixture *f, gconstpointer data)
{
  g_autofree gchar *brokers = g_strdup_printf ("--kafka-brokers=127.0.0.1:%u", evcp_test_free_port ());
  const gchar *args[] = { brokers, NULL };
  g_autoptr(EvcpTestPeer) engine = NULL;
  g_autoptr(JsonObject) root = NULL;
  g_autofree gchar *pong = NULL;
  gint64 start;

  f->central = evcp_test_central_start (f->db_path, args);
  engine = evcp_test_peer_connect (evcp_test_central_get_port (f->central));
  evcp_test_peer_auth (engine, "CP-K3", "ENGINE");
  evcp_test_peer_send_acked (engine, "STATE#CP-K3#SUPPLYING#1");
  evcp_test_peer_send_acked (engine, "TICKET#CP-K3#S-3#u3#2#0.6#COMPLETED#2");
  evcp_test_peer_send_acked (engine, "PING#CP-K3");
  pong = evcp_test_peer_expect_frame (engine);
  g_assert_cmpstr (pong, ==, "PONG#CP-K3");
  g_assert_cmpint (cp_int (f->central, "CP-K3", "tickets"), ==, 1);
  root = evcp_test_central_list (f->central);
  g_assert_cmpstr (json_object_get_string_member (root, "kafka"), !=, "connected");

  start = g_get_monotonic_time ();
  g_assert_cmpint (evcp_test_central_quit (f->central), ==, 0);
  g_test_message ("quit with Kafka down: %" G_GINT64_FORMAT " ms", (g_get_monotonic_time () - start) / 1000);
  evcp_test_peer_expect_eot (engine);
  g_assert_cmpint (db_count (f->db_path, "SELECT COUNT(*) FROM tickets"), ==, 1);
}

/* Kafka goes away while Central is consuming, and Central is told to quit
 * at once, before it noticed: it must leave within its deadline (about 3 s)
 * instead of waiting for the coordinator (the session timeout, 45 s, or for
 * ever after a commit left unanswered). */
static void
test_quit_after_kafka_gone (Fixture *f, gconstpointer data)
{
  g_autofree gchar *brokers = g_strdup_printf ("--kafka-brokers=%s", evcp_test_mock_process_get_bootstrap (f->mock));
  g_autofree gchar *group = g_strdup_printf ("--kafka-group=test-central-%08x", g_random_int ());
  const gchar *args[] = { brokers, group, NULL };
  g_autoptr(GError) error = NULL;
  g_autofree gchar *answer = NULL;
  gint64 start;

  f->central = evcp_test_central_start (f->db_path, args);
  g_assert_true (evcp_test_wait_until (NULL, kafka_connected, f->central, KAFKA_WAIT_MS));
  produce (f, "charging_sessions", "CP-K4",
           "{\"kind\":\"SESSION_ENDED\",\"timestamp\":\"2026-11-26T10:00:00Z\","
           "\"data\":{\"cp_id\":\"CP-K4\",\"session_id\":\"S-4\",\"user_id\":\"u4\","
           "\"kwh\":1.0,\"eur\":0.3,\"reason\":\"COMPLETED\",\"seq\":1}}");
  wait_stat (f->central, "kafka_messages", 1);

  answer = evcp_test_mock_process_command (f->mock, "down all", &error);
  g_assert_no_error (error);
  start = g_get_monotonic_time ();
  /* exits within EVCP_TEST_CENTRAL_WAIT_MS (10 s), or the test fails */
  g_assert_cmpint (evcp_test_central_quit (f->central), ==, 0);
  g_test_message ("quit right after Kafka went away: %" G_GINT64_FORMAT " ms",
                  (g_get_monotonic_time () - start) / 1000);
  g_assert_cmpint (db_count (f->db_path, "SELECT COUNT(*) FROM tickets"), ==, 1);
}

static void
produce_bytes (Fixture *f, const gchar *topic, const gchar *key, const gchar *value, gsize len)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (evcp_test_produce (evcp_test_mock_process_get_bootstrap (f->mock), topic, key,
                                    value, (gssize) len, &error));
  g_assert_no_error (error);
}

/* @depth levels of @open around 1, then the closing ones: a nesting bomb. */
static gchar *
nesting_bomb (const gchar *open, const gchar *close, gsize depth, gsize *len)
{
  GString *s = g_string_sized_new (depth * (strlen (open) + strlen (close)) + 1);

  for (gsize i = 0; i < depth; i++)
    g_string_append (s, open);
  g_string_append_c (s, '1');
  for (gsize i = 0; i < depth; i++)
    g_string_append (s, close);
  *len = s->len;
  return g_string_free (s, FALSE);
}

typedef struct {
  EvcpSysGroupWatch *sessions;
  EvcpSysGroupWatch *monitoring;
} Watches;

static gboolean
committed_everything (gpointer data)
{
  Watches *w = data;

  return evcp_sys_group_caught_up (w->sessions) && evcp_sys_group_caught_up (w->monitoring);
}

/* Hostile records on both topics: nesting bombs of about 1 MB (json-glib
 * alone overflows its stack on them: issue 22), 1 MB of binary, invalid
 * UTF-8, a NUL byte, an empty value, binary keys. Central skips each with a
 * log line and a count, applies the good records around them, commits past
 * them (a restart does not read them again) and never crashes. */
static void
test_hostile_records (Fixture *f, gconstpointer data)
{
  const gchar *bootstrap = evcp_test_mock_process_get_bootstrap (f->mock);
  g_autofree gchar *brokers = g_strdup_printf ("--kafka-brokers=%s", bootstrap);
  g_autofree gchar *group_id = g_strdup_printf ("test-central-%08x", g_random_int ());
  g_autofree gchar *group = g_strdup_printf ("--kafka-group=%s", group_id);
  g_autofree gchar *config = g_build_filename (f->tmpdir, "central.conf", NULL);
  g_autofree gchar *config_arg = g_strdup_printf ("--config=%s", config);
  const gchar *args[] = { brokers, group, config_arg, NULL };
  gsize arrays_len, objects_len;
  g_autofree gchar *arrays = nesting_bomb ("[", "]", 495000, &arrays_len);
  g_autofree gchar *objects = nesting_bomb ("{\"a\":", "}", 160000, &objects_len);
  g_autofree gchar *binary = g_malloc (990000);
  static const gchar not_utf8[] =
    "{\"kind\":\"SESSION_ENDED\",\"data\":{\"cp_id\":\"CP-H1\xff\xfe\",\"session_id\":\"S-X\","
    "\"user_id\":\"u\xc3\",\"kwh\":1.0,\"eur\":0.3,\"reason\":\"COMPLETED\",\"seq\":1}}";
  static const gchar with_nul[] = "{\"kind\":\"SESSION_ENDED\",\"data\":{\"cp_id\":\"CP\0H1\"}}";
  Watches watches = {
    evcp_sys_group_watch_new (bootstrap, group_id, "charging_sessions"),
    evcp_sys_group_watch_new (bootstrap, group_id, "monitoring_events"),
  };
  const guint hostile = 8;

  /* the restart below takes the partitions back within seconds */
  g_assert_true (g_file_set_contents (config, "[librdkafka-consumer]\nsession.timeout.ms=6000\n"
                                      "heartbeat.interval.ms=1000\n", -1, NULL));
  for (gsize i = 0; i < 990000; i++)
    binary[i] = (gchar) (g_test_rand_int () & 0xff);
  g_test_message ("nesting bombs of %" G_GSIZE_FORMAT " and %" G_GSIZE_FORMAT " bytes",
                  arrays_len, objects_len);

  f->central = evcp_test_central_start (f->db_path, args);
  g_assert_true (evcp_test_wait_until (NULL, kafka_connected, f->central, KAFKA_WAIT_MS));

  produce_bytes (f, "charging_sessions", "CP-H1", arrays, arrays_len);
  produce_bytes (f, "monitoring_events", "CP-H1", objects, objects_len);
  produce_bytes (f, "charging_sessions", "\xff\xfe\x01\x02\x7f", binary, 990000);
  produce_bytes (f, "monitoring_events", "\x80\x81", binary, 990000);
  produce_bytes (f, "charging_sessions", "CP-H1", not_utf8, sizeof not_utf8 - 1);
  produce_bytes (f, "monitoring_events", "CP-H1", not_utf8, sizeof not_utf8 - 1);
  produce_bytes (f, "charging_sessions", "CP-H1", with_nul, sizeof with_nul - 1);
  produce_bytes (f, "charging_sessions", "CP-H1", "", 0);
  /* then good records, one with a binary key (Central reads no key) */
  produce (f, "charging_sessions", "\xff\xfe\x01",
           "{\"kind\":\"SESSION_ENDED\",\"timestamp\":\"2026-11-26T10:00:00Z\","
           "\"data\":{\"cp_id\":\"CP-H1\",\"session_id\":\"S-1\",\"user_id\":\"u1\","
           "\"kwh\":4.0,\"eur\":1.2,\"reason\":\"COMPLETED\",\"seq\":1}}");
  produce (f, "monitoring_events", "CP-H1",
           "{\"kind\":\"MONITORING_EVENT\",\"data\":{\"id\":\"CP-H1\",\"status\":\"KO\","
           "\"previous_status\":\"OK\",\"reason\":\"timeout\",\"seq\":2}}");
  wait_stat (f->central, "kafka_messages", 2);
  g_assert_cmpint (cp_int (f->central, "CP-H1", "tickets"), ==, 1);
  assert_state (f->central, "CP-H1", "FAULT");
  g_assert_true (evcp_test_central_log_contains (f->central, "is not a JSON object, skipped"));

  /* everything committed, the bombs included */
  g_assert_true (evcp_test_wait_until (NULL, committed_everything, &watches, KAFKA_WAIT_MS));
  g_assert_cmpint (evcp_test_central_quit (f->central), ==, 0);
  {
    g_autofree gchar *summary = g_strdup_printf ("Kafka: %u records were skipped", hostile);

    g_assert_true (evcp_test_central_log_contains (f->central, summary));
  }
  g_clear_pointer (&f->central, evcp_test_central_free);

  /* a restart in the same group reads none of them again, and goes on */
  f->central = evcp_test_central_start (f->db_path, args);
  g_assert_true (evcp_test_wait_until (NULL, kafka_connected, f->central, KAFKA_WAIT_MS));
  produce (f, "charging_sessions", "CP-H1",
           "{\"kind\":\"SESSION_ENDED\",\"data\":{\"cp_id\":\"CP-H1\",\"session_id\":\"S-2\","
           "\"user_id\":\"u2\",\"kwh\":1.0,\"eur\":0.3,\"reason\":\"COMPLETED\",\"seq\":3}}");
  wait_stat (f->central, "kafka_messages", 1);
  g_assert_cmpint (evcp_test_central_get_stat (f->central, "kafka_messages"), ==, 1);
  g_assert_false (evcp_test_central_log_contains (f->central, "skipped"));
  g_assert_cmpint (evcp_test_central_quit (f->central), ==, 0);
  g_assert_cmpint (db_count (f->db_path, "SELECT COUNT(*) FROM tickets"), ==, 2);

  evcp_sys_group_watch_free (watches.sessions);
  evcp_sys_group_watch_free (watches.monitoring);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/central-kafka/link-and-kafka", Fixture, NULL, fixture_set_up, test_link_and_kafka, fixture_tear_down);
  g_test_add ("/central-kafka/kafka-down", Fixture, NULL, fixture_set_up, test_kafka_down, fixture_tear_down);
  g_test_add ("/central-kafka/quit-after-kafka-gone", Fixture, NULL, fixture_set_up,
              test_quit_after_kafka_gone, fixture_tear_down);
  g_test_add ("/central-kafka/hostile-records", Fixture, NULL, fixture_set_up,
              test_hostile_records, fixture_tear_down);
  return g_test_run ();
}
