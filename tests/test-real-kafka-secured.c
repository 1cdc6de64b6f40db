/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Secured Kafka, really tried (suite real-kafka): a real Apache Kafka broker
 * with a SASL_SSL listener (SCRAM-SHA-512 over TLS, a CA and a server
 * certificate made by tests/kafka/real-broker with openssl), and the
 * programs configured as the README says, with a key file:
 *
 *   /real-kafka/secured/whole: evcp-central, an Engine and a Monitor all on
 *     the SASL_SSL listener only. A request produced by the test becomes a
 *     session, its ticket reaches Central over the link and over Kafka (one
 *     dropped as a duplicate: Central consumed through SASL_SSL), its
 *     SESSION_ENDED is on charging_sessions (the Engine produced), and a
 *     fault of the Engine is on monitoring_events (the Monitor produced).
 *   /real-kafka/secured/wrong-password and /untrusted-certificate: the
 *     Engine is refused; it says why in one WARNING, shows it in the D-Bus
 *     property KafkaError (KafkaState DISCONNECTED), keeps retrying and
 *     keeps running; the Monitor and evcp-central say why in their logs too
 *     (and Central's Kafka status is "unavailable").
 *   /real-kafka/secured/scram-kafka-4: the same programs against the main
 *     real broker (Apache Kafka 4.x) with the right password: librdkafka
 *     before 2.6.1 cannot do SCRAM with Kafka 4 (librdkafka issue 4895), and
 *     the Engine says so in KafkaError; a newer librdkafka connects.
 *
 * The secured broker is an Apache Kafka 3.9 (the last line whose SCRAM
 * Debian's librdkafka 2.0.2 speaks) that scripts/test starts beside the
 * main one: EVCP_TEST_KAFKA_SECURED_DIR names its directory (state file and
 * tls/). Without it the tests skip, saying so, except in CI (CI=true),
 * where a missing broker fails. Every wait has a deadline. */
#include "evcp-build-config.h"

#include <signal.h>
#include <string.h>

#include <glib/gstdio.h>

#include "evcp-test-central.h"
#include "evcp-test-system.h"
#include "evcp-test-util.h"

/* topics outlive a run of the tests: this run's own CP */
static gchar CP[32];
#define WAIT_MS  60000

typedef struct {
  gchar *plain;       /* the PLAINTEXT listener, for the test's own clients */
  gchar *sasl;        /* the SASL_SSL listener, for the programs */
  gchar *password;    /* of the SCRAM user evcp-test */
  gchar *ca;          /* the CA that signed the broker's certificate */
  gchar *other_ca;    /* a CA that signed nothing */
  gchar *log;         /* the broker's log */
  guint  refusals;    /* "Failed authentication" lines in it before the test */
} Broker;

typedef struct {
  Broker          broker;
  gchar          *tmpdir;
  GTestDBus      *bus;
  EvcpTestCentral *central;
  EvcpSysEngine  *engine;
  GSubprocess    *monitor;
  gchar          *monitor_log;
} Fixture;

static gchar *
state_value (const gchar *state, const gchar *name)
{
  g_auto(GStrv) lines = g_strsplit (state, "\n", -1);
  g_autofree gchar *prefix = g_strdup_printf ("%s=", name);

  for (guint i = 0; lines[i] != NULL; i++)
    if (g_str_has_prefix (lines[i], prefix) && lines[i][strlen (prefix)] != '\0')
      return g_strdup (lines[i] + strlen (prefix));
  return NULL;
}

/* The broker of @dir (tests/kafka/real-broker's state file and tls/), or
 * FALSE if there is none. */
static gboolean
broker_load (Broker *b, const gchar *dir)
{
  g_autofree gchar *state_path = g_build_filename (dir, "state", NULL);
  g_autofree gchar *password_path = g_build_filename (dir, "tls", "password", NULL);
  g_autofree gchar *state = NULL;

  if (!g_file_get_contents (state_path, &state, NULL, NULL) ||
      !g_file_get_contents (password_path, &b->password, NULL, NULL))
    return FALSE;
  g_strstrip (b->password);
  b->plain = state_value (state, "BOOTSTRAP");
  b->sasl = state_value (state, "SASL_BOOTSTRAP");
  b->ca = g_build_filename (dir, "tls", "ca.pem", NULL);
  b->other_ca = g_build_filename (dir, "tls", "other-ca.pem", NULL);
  b->log = g_build_filename (dir, "broker.log", NULL);
  b->refusals = evcp_sys_count_in_file (b->log, "Failed authentication with");
  return b->plain != NULL && b->sasl != NULL;
}

static void
broker_clear (Broker *b)
{
  g_free (b->plain);
  g_free (b->sasl);
  g_free (b->password);
  g_free (b->ca);
  g_free (b->other_ca);
  g_free (b->log);
}

/* A key file as the README shows it, for every program. */
static gchar *
key_file (Fixture *f, const gchar *name, const gchar *password, const gchar *ca)
{
  g_autoptr(GError) error = NULL;
  gchar *path = g_build_filename (f->tmpdir, name, NULL);
  g_autofree gchar *text = g_strdup_printf ("[evcp]\n"
                                            "location=secured test bench\n"
                                            "price=0.40\n"
                                            "[librdkafka]\n"
                                            "security.protocol=SASL_SSL\n"
                                            "sasl.mechanism=SCRAM-SHA-512\n"
                                            "sasl.username=evcp-test\n"
                                            "sasl.password=%s\n"
                                            "ssl.ca.location=%s\n"
                                            "[librdkafka-consumer]\n"
                                            "session.timeout.ms=6000\n"
                                            "heartbeat.interval.ms=1000\n",
                                            password, ca);

  g_assert_true (g_file_set_contents (path, text, -1, &error));
  g_assert_no_error (error);
  return path;
}

static gboolean
setup_broker (Fixture *f, const gchar *var)
{
  const gchar *dir = g_getenv (var);

  if (dir == NULL || *dir == '\0' || !broker_load (&f->broker, dir))
    {
      g_autofree gchar *why = g_strdup_printf ("no broker with a SASL_SSL listener (%s, set by scripts/test)", var);

      if (g_strcmp0 (g_getenv ("CI"), "true") == 0)
        g_error ("%s: CI runs these tests", why);
      g_test_skip (why);
      return FALSE;
    }
  return TRUE;
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  f->tmpdir = g_dir_make_tmp ("evcp-test-secured-XXXXXX", &error);
  g_assert_no_error (error);
  g_test_message ("logs and state in %s", f->tmpdir);
  /* a D-Bus session bus of the test's own, where the Engine serves */
  f->bus = g_test_dbus_new (G_TEST_DBUS_NONE);
  g_test_dbus_up (f->bus);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  if (g_test_failed ())
    {
      if (f->engine != NULL)
        evcp_sys_dump_file (evcp_sys_engine_get_log_path (f->engine));
      if (f->central != NULL)
        evcp_sys_dump_file (evcp_test_central_get_log_path (f->central));
      if (f->monitor_log != NULL)
        evcp_sys_dump_file (f->monitor_log);
    }
  if (f->monitor != NULL)
    {
      g_subprocess_force_exit (f->monitor);
      g_subprocess_wait (f->monitor, NULL, NULL);
      g_clear_object (&f->monitor);
    }
  g_clear_pointer (&f->engine, evcp_sys_engine_free);
  g_clear_pointer (&f->central, evcp_test_central_free);
  g_test_dbus_down (f->bus);
  g_clear_object (&f->bus);
  evcp_test_remove_tree (f->tmpdir);
  g_free (f->tmpdir);
  g_free (f->monitor_log);
  broker_clear (&f->broker);
}

static void
start_engine (Fixture *f, const gchar *brokers, const gchar *config, guint16 central_port)
{
  g_autofree gchar *log = g_build_filename (f->tmpdir, "engine.log", NULL);
  g_autofree gchar *state = g_build_filename (f->tmpdir, "engine-state", NULL);
  g_autofree gchar *bus = g_strdup_printf ("DBUS_SESSION_BUS_ADDRESS=%s", g_test_dbus_get_bus_address (f->bus));

  f->engine = evcp_sys_engine_spawn (&(EvcpSysEngineOptions) {
    .cp_id = CP, .brokers = brokers, .group_id = CP, .central_port = central_port,
    .state_dir = state, .config = config, .log_path = log,
    .extra_env = (const gchar * const []) { bus, NULL },
  });
}

static void
start_monitor (Fixture *f, const gchar *brokers, const gchar *config, guint16 central_port)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE);
  g_autoptr(GError) error = NULL;
  g_autofree gchar *state = g_build_filename (f->tmpdir, "monitor-state", NULL);
  g_autofree gchar *engine_port = g_strdup_printf ("%u", evcp_sys_engine_get_health_port (f->engine));
  g_autofree gchar *central = g_strdup_printf ("%u", central_port);

  f->monitor_log = g_build_filename (f->tmpdir, "monitor.log", NULL);
  evcp_test_isolate_launcher (launcher, state);
  g_subprocess_launcher_set_stdout_file_path (launcher, f->monitor_log);
  g_subprocess_launcher_set_flags (launcher, G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE);
  f->monitor = evcp_test_launcher_spawn (launcher, &error, g_getenv ("EVCP_MONITOR"), "--verbose", "--no-bus",
                                         "--cp-id", CP, "--engine-host", "127.0.0.1", "--engine-port", engine_port,
                                         "--central-host", "127.0.0.1", "--central-port", central, "--brokers", brokers,
                                         "--config", config, "--state-dir", state, NULL);
  g_assert_no_error (error);
}

static gboolean
file_contains (const gchar *path, const gchar *needle)
{
  g_autofree gchar *text = NULL;

  return g_file_get_contents (path, &text, NULL, NULL) && strstr (text, needle) != NULL;
}

typedef struct {
  const gchar *path;
  const gchar *needle;
} FileWait;

static gboolean
file_has (gpointer data)
{
  FileWait *w = data;

  return file_contains (w->path, w->needle);
}

static gboolean
wait_file (const gchar *path, const gchar *needle, guint timeout_ms)
{
  FileWait w = { path, needle };

  return evcp_test_wait_until (NULL, file_has, &w, timeout_ms);
}

/* ---- D-Bus: the Engine's properties ------------------------------------------ */

static gchar *
engine_property (Fixture *f, const gchar *name)
{
  g_autoptr(GDBusConnection) c = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GError) error = NULL;

  c = g_dbus_connection_new_for_address_sync (g_test_dbus_get_bus_address (f->bus),
                                              G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                              G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                              NULL, NULL, &error);
  g_assert_no_error (error);
  reply = g_dbus_connection_call_sync (c, "org.evcp.Engine", "/org/evcp/Engine", "org.freedesktop.DBus.Properties",
                                       "Get", g_variant_new ("(ss)", "org.evcp.Engine1", name),
                                       G_VARIANT_TYPE ("(v)"), G_DBUS_CALL_FLAGS_NONE, 5000, NULL, &error);
  if (reply == NULL)
    return NULL;   /* not on the bus yet */
  g_variant_get (reply, "(v)", &value);
  return g_variant_dup_string (value, NULL);
}

typedef struct {
  Fixture     *f;
  const gchar *needle;
  gchar       *seen;
} ErrorWait;

static gboolean
refused_twice (gpointer data)
{
  Broker *b = data;

  return evcp_sys_count_in_file (b->log, "Failed authentication with") >= b->refusals + 2;
}

static gboolean
kafka_error_says (gpointer data)
{
  ErrorWait *w = data;

  g_free (w->seen);
  w->seen = engine_property (w->f, "KafkaError");
  return w->seen != NULL && strstr (w->seen, w->needle) != NULL;
}

/* The Engine is refused by the brokers for @needle: KafkaError says it,
 * KafkaState is DISCONNECTED, its log has one WARNING naming the cause, it
 * retries (a second refusal at least) and keeps running. */
static void
assert_refused (Fixture *f, const gchar *needle)
{
  ErrorWait w = { f, needle, NULL };
  g_autofree gchar *state = NULL;
  g_autofree gchar *log = NULL;
  const gchar *warning;

  if (!evcp_test_wait_until (NULL, kafka_error_says, &w, WAIT_MS))
    g_error ("KafkaError never said \"%s\" (it said \"%s\")", needle, w.seen != NULL ? w.seen : "(no Engine on D-Bus)");
  g_test_message ("KafkaError: %s", w.seen);
  g_free (w.seen);
  state = engine_property (f, "KafkaState");
  g_assert_cmpstr (state, ==, "DISCONNECTED");
  g_assert_true (evcp_sys_engine_wait_log (f->engine, "Check the security settings of [librdkafka]", WAIT_MS));
  g_assert_true (g_file_get_contents (evcp_sys_engine_get_log_path (f->engine), &log, NULL, NULL));
  warning = strstr (log, "Kafka consumer: ");
  g_assert_nonnull (warning);
  g_assert_nonnull (strstr (warning, needle));
  /* the broker refused it again (the Engine retries), and the Engine said
   * so once for the consumer, not once per retry */
  g_assert_true (evcp_test_wait_until (NULL, refused_twice, &f->broker, WAIT_MS));
  g_assert_null (strstr (warning + 1, "Kafka consumer: "));
  g_assert_true (evcp_sys_engine_is_running (f->engine));
}

/* ---- the tests ------------------------------------------------------------------ */

static const gchar *const topics[] = {
  "user_messages", "charging_requests", "system_notifications",
  "charging_sessions", "monitoring_events", "dead_letters",
};

static void
create_topics (Fixture *f)
{
  for (guint i = 0; i < G_N_ELEMENTS (topics); i++)
    {
      g_autoptr(GError) error = NULL;

      if (!evcp_test_kafka_create_topic (f->broker.plain, topics[i], 2, &error) &&
          !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_EXISTS))
        g_error ("cannot create %s: %s", topics[i], error->message);
    }
}

static gboolean
central_kafka_connected (gpointer data)
{
  g_autoptr(JsonObject) root = evcp_test_central_list (data);

  return g_strcmp0 (json_object_get_string_member (root, "kafka"), "connected") == 0;
}

/* A MONITORING_EVENT of the CP with @status on monitoring_events. */
static gboolean
monitor_event_seen (EvcpTestConsumer *consumer, const gchar *status)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_MS * 1000;

  while (g_get_monotonic_time () < deadline)
    {
      g_autoptr(GPtrArray) records = evcp_test_consumer_wait_for (consumer, 1, 1000);

      for (guint i = 0; i < records->len; i++)
        {
          g_autoptr(JsonNode) node = evcp_test_record_parse_json (g_ptr_array_index (records, i), NULL);
          JsonObject *data;

          if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node) ||
              (data = json_object_get_object_member (json_node_get_object (node), "data")) == NULL)
            continue;
          if (g_strcmp0 (json_object_get_string_member_with_default (data, "id", ""), CP) == 0 &&
              g_strcmp0 (json_object_get_string_member_with_default (data, "status", ""), status) == 0)
            return TRUE;
        }
    }
  return FALSE;
}

static void
test_whole (Fixture *f, gconstpointer data)
{
  g_autofree gchar *config = NULL;
  g_autofree gchar *db = NULL;
  g_autofree gchar *ticket = NULL;
  g_autoptr(EvcpSysSessions) sessions = NULL;
  g_autoptr(EvcpTestConsumer) monitoring = NULL;
  const EvcpSysEvent *ended;
  guint16 central_port;
  /* topics outlive a test: this run's own driver */
  g_autofree gchar *driver = g_strdup_printf ("driver-%08x", g_random_int ());

  if (!setup_broker (f, "EVCP_TEST_KAFKA_SECURED_DIR"))
    return;
  create_topics (f);
  config = key_file (f, "evcp.conf", f->broker.password, f->broker.ca);
  db = g_build_filename (f->tmpdir, "central.db", NULL);

  /* every program on the SASL_SSL listener only; the test's own clients on
   * PLAINTEXT */
  f->central = evcp_test_central_start (db, (const gchar *[]) { "--kafka-brokers", f->broker.sasl,
                                                                "--config", config, NULL });
  central_port = evcp_test_central_get_port (f->central);
  g_assert_true (evcp_test_wait_until (NULL, central_kafka_connected, f->central, WAIT_MS));
  start_engine (f, f->broker.sasl, config, central_port);
  start_monitor (f, f->broker.sasl, config, central_port);
  sessions = evcp_sys_sessions_new (f->broker.plain);
  monitoring = evcp_test_consumer_new (f->broker.plain, "monitoring_events");

  /* the Engine consumes through SASL_SSL: a request becomes a session */
  g_assert_true (evcp_sys_engine_wait_log (f->engine, "Kafka connection: ", WAIT_MS));
  evcp_sys_produce_request (f->broker.plain, CP, driver, 36.0, 2);
  ended = evcp_sys_sessions_wait (sessions, "SESSION_ENDED", driver, NULL, WAIT_MS);
  g_assert_nonnull (ended);
  g_assert_cmpstr (ended->cp_id, ==, CP);
  g_test_message ("SESSION_ENDED %s seq %" G_GINT64_FORMAT " produced through SASL_SSL", ended->session_id, ended->seq);

  /* Central has the ticket from the link and from Kafka, one kept */
  ticket = g_strdup_printf ("duplicate TICKET from the ENGINE (seq %" G_GINT64_FORMAT ", by ", ended->seq);
  g_assert_true (evcp_test_central_wait_log (f->central, ticket, WAIT_MS));
  {
    g_autoptr(GPtrArray) tickets = evcp_sys_db_tickets (db, CP);
    const EvcpSysTicket *t = evcp_sys_tickets_find (tickets, ended->session_id);

    g_assert_nonnull (t);
    g_assert_cmpint (t->seq, ==, ended->seq);
  }

  /* the Monitor produces through SASL_SSL: the Engine's fault is an event */
  g_assert_true (monitor_event_seen (monitoring, "OK"));
  evcp_sys_engine_signal (f->engine, SIGUSR1);
  g_assert_true (monitor_event_seen (monitoring, "KO"));
  g_assert_false (file_contains (f->monitor_log, "Check the security settings"));
  g_assert_false (evcp_sys_engine_log_contains (f->engine, "Check the security settings"));
}

static void
test_wrong_password (Fixture *f, gconstpointer data)
{
  g_autofree gchar *config = NULL;

  if (!setup_broker (f, "EVCP_TEST_KAFKA_SECURED_DIR"))
    return;
  config = key_file (f, "evcp.conf", "not-the-password", f->broker.ca);
  start_engine (f, f->broker.sasl, config, evcp_test_free_port ());
  assert_refused (f, "SASL authentication error");
  start_monitor (f, f->broker.sasl, config, evcp_test_free_port ());
  g_assert_true (wait_file (f->monitor_log, "SASL authentication error", WAIT_MS));
  g_assert_true (wait_file (f->monitor_log, "Check the security settings of [librdkafka]", WAIT_MS));
  /* still running: no identifier once it has exited */
  g_assert_nonnull (g_subprocess_get_identifier (f->monitor));

  /* evcp-central: the same words, and its Kafka status says it */
  {
    g_autofree gchar *db = g_build_filename (f->tmpdir, "central.db", NULL);
    g_autoptr(JsonObject) root = NULL;

    f->central = evcp_test_central_start (db, (const gchar *[]) { "--kafka-brokers", f->broker.sasl,
                                                                  "--config", config, NULL });
    g_assert_true (evcp_test_central_wait_log (f->central, "Check the security settings of [librdkafka]", WAIT_MS));
    g_assert_true (evcp_test_central_wait_log (f->central, "SASL authentication error", WAIT_MS));
    root = evcp_test_central_list (f->central);
    g_assert_cmpstr (json_object_get_string_member (root, "kafka"), ==, "unavailable");
  }
}

static void
test_untrusted_certificate (Fixture *f, gconstpointer data)
{
  g_autofree gchar *config = NULL;

  if (!setup_broker (f, "EVCP_TEST_KAFKA_SECURED_DIR"))
    return;
  config = key_file (f, "evcp.conf", f->broker.password, f->broker.other_ca);
  start_engine (f, f->broker.sasl, config, evcp_test_free_port ());
  assert_refused (f, "certificate verify failed");
}

/* Apache Kafka 4.x with the right password. */
static void
test_scram_kafka_4 (Fixture *f, gconstpointer data)
{
  g_autofree gchar *config = NULL;
  g_autofree gchar *state = NULL;

  if (!setup_broker (f, "EVCP_REAL_KAFKA_DIR"))
    return;
  config = key_file (f, "evcp.conf", f->broker.password, f->broker.ca);
  start_engine (f, f->broker.sasl, config, evcp_test_free_port ());
  if (rd_kafka_version () < 0x020601ff)
    {
      assert_refused (f, "cannot authenticate with SCRAM to Apache Kafka 4.0 or later");
      return;
    }
  g_assert_true (evcp_sys_engine_wait_log (f->engine, "Kafka connection: ", WAIT_MS));
  state = engine_property (f, "KafkaError");
  g_assert_cmpstr (state, ==, "");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_snprintf (CP, sizeof CP, "CP-SEC-%08x", g_random_int ());
  g_test_add ("/real-kafka/secured/whole", Fixture, NULL, fixture_set_up, test_whole, fixture_tear_down);
  g_test_add ("/real-kafka/secured/wrong-password", Fixture, NULL, fixture_set_up, test_wrong_password,
              fixture_tear_down);
  g_test_add ("/real-kafka/secured/untrusted-certificate", Fixture, NULL, fixture_set_up,
              test_untrusted_certificate, fixture_tear_down);
  g_test_add ("/real-kafka/secured/scram-kafka-4", Fixture, NULL, fixture_set_up, test_scram_kafka_4,
              fixture_tear_down);
  return g_test_run ();
}
