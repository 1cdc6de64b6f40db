/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The whole system in one test, every part a real process on loopback:
 * evcp-kafka-mock, evcp-central (its SQLite file in a temporary directory,
 * following Kafka) and one evcp-engine whose Central is that evcp-central.
 * The test plays the driver (CHARGING_REQUEST on charging_requests), the
 * operator (evcp-central's commands, SIGUSR1/SIGUSR2 to the Engine), the
 * Monitor (HEALTH frames) and a consumer of charging_sessions.
 *
 *  (a) a request on Kafka: SESSION_STARTED, SESSION_TELEMETRY once a second
 *      with kWh = power × time and EUR = kWh × price, one SESSION_ENDED
 *      (DURATION) on Kafka; the same session on the Central link (STATE,
 *      SUPPLY, TICKET), kept once by evcp-central with the same figures and
 *      seq;
 *  (b) the same through Central (AUTHORIZE) while Kafka is down: the session
 *      runs, its ticket reaches Central over the link; Kafka back, the
 *      SESSION_ENDED arrives, replayed, with the same seq;
 *  (c) busy: refused; STOP ends the supply (STOPPED) and refuses (stopped)
 *      until RESUME;
 *  (d) a fault (SIGUSR1) ends a supply at once (FAULT), the Engine answers
 *      KO and refuses (fault); SIGUSR2 clears it.
 * Finally: one SESSION_ENDED per session, the seqs at Central without gaps,
 * every refusal recorded by Central. /system/whole-keyed: all of it with the
 * Engine in the fleet mode (KAFKA_ASSIGNMENT=keyed: its key's partitions,
 * no group; the requests keyed by the CP, murmur2).
 *
 * /system/engine-and-central-frames: the Engine against a Central written
 * here, to see its frames on the wire (AUTH, STATE, SUPPLY, TICKET with their
 * seqs) and how it takes Central's (an unknown verb, another CP's STOP, extra
 * fields, bad figures, STOP and RESUME), and its EOT on SIGTERM.
 *
 * Real seconds: telemetry is once a second and not configurable; sessions
 * are kept to 1..3 s and every wait has a deadline. */
#include "evcp-build-config.h"

#include <math.h>
#include <signal.h>
#include <string.h>

#include "evcp-frame-codec.h"
#include "evcp-test-central.h"
#include "evcp-test-fake-central.h"
#include "evcp-test-system.h"
#include "evcp-test-util.h"

/* murmur2 puts its key on partition 2 of 4, librdkafka's default partitioner
 * (CRC32) on 0: /system/whole-keyed sees a producer that does not key as evcp */
#define CP       "CP-S3"
#define PRICE    0.40
#define POWER    360.0      /* kW: 0.1 kWh a second, so 3 decimals show it */
#define WAIT_MS  30000

typedef struct {
  gchar               *tmpdir;
  gchar               *db_path;
  gchar               *state_dir;
  gchar               *config;
  EvcpTestMockProcess *mock;
  EvcpSysSessions     *sessions;
  EvcpTestCentral     *central;
  EvcpSysEngine       *engine;
  GPtrArray           *session_ids;   /* every session started, for the final checks */
  gint64               started_at;
} Fixture;

/* /system/whole-keyed: the same with the Engine in the fleet mode */
static gboolean
is_keyed (void)
{
  return g_str_has_suffix (g_test_get_path (), "-keyed");
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree gchar *log = NULL;
  g_autofree gchar *config = NULL;
  const gchar *bootstrap;

  f->started_at = g_get_monotonic_time ();
  f->tmpdir = g_dir_make_tmp ("evcp-test-system-XXXXXX", &error);
  g_assert_no_error (error);
  g_test_message ("logs and state in %s (left there if the test aborts)", f->tmpdir);
  f->db_path = g_build_filename (f->tmpdir, "central.db", NULL);
  f->state_dir = g_build_filename (f->tmpdir, "engine-state", NULL);
  f->config = g_build_filename (f->tmpdir, "engine.conf", NULL);
  f->session_ids = g_ptr_array_new_with_free_func (g_free);
  /* librdkafka gives up on a message after 1.5 s instead of 5 min, so that an
   * outage of a few seconds is one the outbox sees (a failed delivery,
   * retried, then sent late: data.replayed); a killed member's partitions
   * are handed over after 6 s */
  /* keyed: the mock holds a fetch that finds no data for the whole
   * fetch.wait.max.ms (5 s in keyed mode; a real broker answers as soon as
   * data arrives) */
  config = g_strconcat ("[evcp]\nlocation=system test bench\nprice=0.40\n"
                        "[librdkafka-producer]\nmessage.timeout.ms=1500\n"
                        "[librdkafka-consumer]\nsession.timeout.ms=6000\n"
                        "heartbeat.interval.ms=1000\n",
                        is_keyed () ? "fetch.wait.max.ms=100\n" : "", NULL);
  g_assert_true (g_file_set_contents (f->config, config, -1, &error));

  f->mock = evcp_test_mock_process_start (NULL, &error);
  g_assert_no_error (error);
  bootstrap = evcp_test_mock_process_get_bootstrap (f->mock);
  f->sessions = evcp_sys_sessions_new (bootstrap);
  if (data != NULL)
    return;   /* the test runs a Central of its own, and the Engine */
  f->central = evcp_test_central_start (f->db_path, (const gchar *[]) { "--kafka-brokers", bootstrap, NULL });

  log = g_build_filename (f->tmpdir, "engine.log", NULL);
  f->engine = evcp_sys_engine_spawn (&(EvcpSysEngineOptions) {
    .cp_id = CP, .brokers = bootstrap, .central_port = evcp_test_central_get_port (f->central),
    .state_dir = f->state_dir, .config = f->config, .log_path = log,
    .extra_env = is_keyed () ? (const gchar *[]) { "KAFKA_ASSIGNMENT=keyed", NULL } : NULL,
  });
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
    }
  g_clear_pointer (&f->engine, evcp_sys_engine_free);
  g_clear_pointer (&f->central, evcp_test_central_free);
  g_clear_pointer (&f->sessions, evcp_sys_sessions_free);
  evcp_test_mock_process_free (f->mock);
  evcp_test_remove_tree (f->tmpdir);
  g_ptr_array_unref (f->session_ids);
  g_free (f->tmpdir);
  g_free (f->db_path);
  g_free (f->state_dir);
  g_free (f->config);
}

static void
phase (Fixture *f, const gchar *what)
{
  g_test_message ("[%5.1f s] %s", (g_get_monotonic_time () - f->started_at) / 1e6, what);
}

/* ---- Central's view ------------------------------------------------------ */

typedef struct {
  Fixture     *f;
  const gchar *state;        /* NULL: any */
  gint         engine;       /* connected: 0, 1, or -1 for any */
  gint64       tickets;      /* -1: any */
  gboolean     idle;         /* no session shown */
  gint64       last_poll;
} CpWait;

static gboolean
cp_is (gpointer data)
{
  CpWait *w = data;
  g_autoptr(JsonObject) cp = NULL;

  /* a "list" round trip every 50 ms at most */
  if (g_get_monotonic_time () - w->last_poll < 50000)
    return FALSE;
  w->last_poll = g_get_monotonic_time ();
  cp = evcp_test_central_get_cp (w->f->central, CP);
  if (cp == NULL)
    return FALSE;
  return (w->state == NULL || g_strcmp0 (json_object_get_string_member (cp, "state"), w->state) == 0) &&
         (w->engine < 0 || json_object_get_boolean_member (cp, "engine") == (w->engine != 0)) &&
         (w->tickets < 0 || json_object_get_int_member (cp, "tickets") == w->tickets) &&
         (!w->idle || json_object_get_null_member (cp, "session"));
}

static void
wait_cp (Fixture *f, const gchar *state, gint engine, gint64 tickets, gboolean idle)
{
  CpWait w = { f, state, engine, tickets, idle, 0 };

  if (!evcp_test_wait_until (NULL, cp_is, &w, WAIT_MS))
    {
      g_autofree gchar *list = evcp_test_central_command (f->central, "list");

      g_error ("Central never showed %s state=%s engine=%d tickets=%" G_GINT64_FORMAT " idle=%d: %s",
               CP, state != NULL ? state : "*", engine, tickets, idle, list);
    }
}

static gchar *
command (Fixture *f, const gchar *format, ...) G_GNUC_PRINTF (2, 3);

static gchar *
command (Fixture *f, const gchar *format, ...)
{
  va_list args;
  g_autofree gchar *line = NULL;

  va_start (args, format);
  line = g_strdup_vprintf (format, args);
  va_end (args);
  return evcp_test_central_command (f->central, line);
}

/* "authorize": the session id Central generated. */
static gchar *
authorize (Fixture *f, const gchar *driver, gdouble power, gint64 duration)
{
  g_autofree gchar *answer = command (f, "authorize %s %s %g %" G_GINT64_FORMAT, CP, driver, power, duration);
  g_autofree gchar *prefix = g_strdup_printf ("OK authorize %s ", CP);

  if (!g_str_has_prefix (answer, prefix))
    g_error ("authorize: %s", answer);
  return g_strdup (answer + strlen (prefix));
}

/* The ticket of @session_id came to Central both ways: over the link and on
 * Kafka, one applied and the other dropped as a duplicate (same seq). */
static void
assert_ticket_both_ways (Fixture *f, const gchar *session_id, const gchar *driver, gint64 seq)
{
  g_autofree gchar *applied = g_strdup_printf ("ticket of session %s for %s:", session_id, driver);
  g_autofree gchar *log = NULL;
  g_autofree gchar *line = NULL;
  g_autofree gchar *dup = NULL;
  const gchar *start, *end;
  gboolean by_link;

  g_assert_true (evcp_test_central_wait_log (f->central, applied, WAIT_MS));
  g_assert_true (g_file_get_contents (evcp_test_central_get_log_path (f->central), &log, NULL, NULL));
  start = strstr (log, applied);
  end = strchr (start, '\n');
  line = g_strndup (start, end != NULL ? (gsize) (end - start) : strlen (start));
  g_assert_true (g_str_has_suffix (line, "(link)") || g_str_has_suffix (line, "(kafka)"));
  by_link = g_str_has_suffix (line, "(link)");
  dup = g_strdup_printf ("duplicate TICKET from the ENGINE (seq %" G_GINT64_FORMAT ", by %s)",
                         seq, by_link ? "kafka" : "link");
  g_assert_true (evcp_test_central_wait_log (f->central, dup, WAIT_MS));
  g_test_message ("ticket %s (seq %" G_GINT64_FORMAT "): applied from the %s, the %s copy dropped as a duplicate",
                  session_id, seq, by_link ? "link" : "Kafka", by_link ? "Kafka" : "link");
}

/* Whether Central shows @session_id as the CP's current session. */
typedef struct {
  Fixture     *f;
  const gchar *session_id;
  gint64       last_poll;
} ShowWait;

static gboolean
central_shows_session (gpointer data)
{
  ShowWait *w = data;
  g_autoptr(JsonObject) cp = NULL;
  JsonObject *session;

  if (g_get_monotonic_time () - w->last_poll < 50000)
    return FALSE;
  w->last_poll = g_get_monotonic_time ();
  cp = evcp_test_central_get_cp (w->f->central, CP);
  return cp != NULL && !json_object_get_null_member (cp, "session") &&
         (session = json_object_get_object_member (cp, "session")) != NULL &&
         g_strcmp0 (json_object_get_string_member (session, "id"), w->session_id) == 0;
}

static gboolean
outbox_empty (gpointer data)
{
  return evcp_sys_outbox_pending (data) == 0;
}

static gboolean
central_kafka_connected (gpointer data)
{
  g_autoptr(JsonObject) root = evcp_test_central_list (data);

  return g_strcmp0 (json_object_get_string_member (root, "kafka"), "connected") == 0;
}

/* ---- figures -------------------------------------------------------------- */

/* How late the Engine's timers may fire: stretched when the programs run
 * under a wrapper (valgrind: EVCP_TEST_DEADLINE_SCALE). */
static gint64
late_us (gint64 us)
{
  return (gint64) evcp_test_scaled_ms ((guint) (us / 1000)) * 1000;
}

#define KWH_TOLERANCE (POWER * late_us (150000) / 1e6 / 3600 + 0.0005) /* 150 ms late, 3 decimals */

static void
assert_figures (const EvcpSysEvent *e)
{
  /* EUR = kWh × the CP's price, to the cent */
  g_assert_cmpfloat_with_epsilon (e->eur, round (e->kwh * PRICE * 100) / 100, 0.0051);
  g_assert_cmpfloat (e->power_kw, ==, POWER);
  g_assert_cmpstr (e->key, ==, CP);
  g_assert_cmpstr (e->cp_id, ==, CP);
}

static void
assert_ticket_matches (const EvcpSysTicket *t, const EvcpSysEvent *ended)
{
  g_assert_nonnull (t);
  g_assert_cmpstr (t->session_id, ==, ended->session_id);
  g_assert_cmpstr (t->driver, ==, ended->user_id);
  g_assert_cmpstr (t->reason, ==, ended->reason);
  g_assert_cmpfloat_with_epsilon (t->kwh, ended->kwh, 0.00051);
  g_assert_cmpfloat_with_epsilon (t->eur, ended->eur, 0.0051);
  g_assert_cmpint (t->seq, ==, ended->seq);
}

/* Waits for the session's end, asking Central meanwhile whether it shows
 * the session (from SUPPLY, or telemetry on Kafka). */
typedef struct {
  Fixture     *f;
  const gchar *session_id;
  gboolean     central_showed;
  gdouble      central_kwh;
  gint64       last_poll;
} EndWait;

static gboolean
ended_watching_central (gpointer data)
{
  EndWait *w = data;
  g_autoptr(GPtrArray) ended = NULL;

  evcp_sys_sessions_poll (w->f->sessions);
  ended = evcp_sys_sessions_find (w->f->sessions, "SESSION_ENDED", NULL, w->session_id);
  if (g_get_monotonic_time () - w->last_poll >= 200000)
    {
      g_autoptr(JsonObject) cp = evcp_test_central_get_cp (w->f->central, CP);
      JsonObject *session;

      w->last_poll = g_get_monotonic_time ();
      if (cp != NULL && !json_object_get_null_member (cp, "session") &&
          (session = json_object_get_object_member (cp, "session")) != NULL &&
          g_strcmp0 (json_object_get_string_member (session, "id"), w->session_id) == 0)
        {
          w->central_showed = TRUE;
          w->central_kwh = MAX (w->central_kwh, json_object_get_double_member (session, "kwh"));
          g_assert_cmpfloat_with_epsilon (json_object_get_double_member (session, "eur"),
                                          round (json_object_get_double_member (session, "kwh") * PRICE * 100) / 100,
                                          0.0051);
        }
    }
  return ended->len > 0;
}

static const EvcpSysEvent *
wait_end_watching_central (Fixture *f, const gchar *session_id, guint timeout_ms, gdouble *central_kwh)
{
  EndWait w = { f, session_id, FALSE, 0, 0 };

  g_assert_true (evcp_test_wait_until (NULL, ended_watching_central, &w, timeout_ms));
  g_assert_true (w.central_showed);
  *central_kwh = w.central_kwh;
  return evcp_sys_sessions_wait (f->sessions, "SESSION_ENDED", NULL, session_id, 0);
}

/* The link carried the session: STATE SUPPLYING with its seq and SUPPLY
 * frames (evcp-central logs each SUPPLY it gets at debug level). */
static void
assert_link_carried (Fixture *f, const gchar *session_id, gint64 start_seq, guint min_supply)
{
  g_autofree gchar *state = g_strdup_printf ("%s: state SUPPLYING (seq %" G_GINT64_FORMAT ")", CP, start_seq);
  g_autofree gchar *supply = g_strdup_printf ("%s: supplying session %s:", CP, session_id);

  g_assert_true (evcp_test_central_wait_log (f->central, state, WAIT_MS));
  g_assert_cmpuint (evcp_sys_count_in_file (evcp_test_central_get_log_path (f->central), supply), >=, min_supply);
}

/* ---- the phases ------------------------------------------------------------ */

static void
phase_kafka_request (Fixture *f)
{
  const gchar *bootstrap = evcp_test_mock_process_get_bootstrap (f->mock);
  const EvcpSysEvent *started, *ended;
  g_autoptr(GPtrArray) telemetry = NULL;
  g_autoptr(GPtrArray) tickets = NULL;
  const EvcpSysTicket *t;
  gdouble central_kwh = 0;
  gint64 requested;

  phase (f, "(a) a CHARGING_REQUEST on Kafka, 360 kW for at most 3 s");
  requested = g_get_monotonic_time ();
  evcp_sys_produce_request (bootstrap, CP, "driver-a", POWER, 3);
  started = evcp_sys_sessions_wait (f->sessions, "SESSION_STARTED", "driver-a", NULL, WAIT_MS);
  g_assert_nonnull (started);
  g_test_message ("SESSION_STARTED %s seq %" G_GINT64_FORMAT " %.0f ms after the request",
                  started->session_id, started->seq, (started->arrived_us - requested) / 1e3);
  g_ptr_array_add (f->session_ids, g_strdup (started->session_id));
  assert_figures (started);
  g_assert_cmpfloat (started->kwh, ==, 0);
  g_assert_cmpstr (started->source, ==, "kafka");
  g_assert_cmpint (started->seq, >, 0);
  g_assert_false (started->replayed);

  ended = wait_end_watching_central (f, started->session_id, WAIT_MS, &central_kwh);
  telemetry = evcp_sys_sessions_find (f->sessions, "SESSION_TELEMETRY", NULL, started->session_id);
  g_test_message ("%u SESSION_TELEMETRY, SESSION_ENDED %s %.3f s after SESSION_STARTED (by their timestamps), seq %" G_GINT64_FORMAT,
                  telemetry->len, ended->reason, (ended->timestamp_us - started->timestamp_us) / 1e6, ended->seq);
  for (guint i = 0; i < telemetry->len; i++)
    {
      const EvcpSysEvent *e = g_ptr_array_index (telemetry, i);

      g_test_message ("  SESSION_TELEMETRY %.3f kWh %.2f EUR at +%.3f s, arrived +%.3f s", e->kwh, e->eur,
                      (e->timestamp_us - started->timestamp_us) / 1e6, (e->arrived_us - started->arrived_us) / 1e6);
    }

  /* once a second for 3 s: at 1, 2 and 3 s, the last one with the end */
  g_assert_cmpuint (telemetry->len, ==, 3);
  for (guint i = 0; i < telemetry->len; i++)
    {
      const EvcpSysEvent *e = g_ptr_array_index (telemetry, i);
      /* by the Engine's timestamps, from the start of the session */
      gint64 since_start = e->timestamp_us - started->timestamp_us;

      assert_figures (e);
      g_assert_cmpstr (e->session_id, ==, started->session_id);
      g_assert_cmpstr (e->user_id, ==, "driver-a");
      /* kWh = power × elapsed: (i + 1) s at 360 kW */
      g_assert_cmpfloat_with_epsilon (e->kwh, POWER * (i + 1) / 3600, KWH_TOLERANCE);
      /* telemetry takes no seq of its own: the latest one */
      g_assert_cmpint (e->seq, ==, started->seq);
      g_assert_cmpint (since_start, >=, (gint64) (i + 1) * G_USEC_PER_SEC - 50000);
      g_assert_cmpint (since_start, <=, (gint64) (i + 1) * G_USEC_PER_SEC + late_us (250000));
      /* and as they arrive here: about one a second */
      if (i > 0)
        {
          gint64 gap = e->arrived_us - ((const EvcpSysEvent *) g_ptr_array_index (telemetry, i - 1))->arrived_us;

          g_assert_cmpint (gap, >=, G_USEC_PER_SEC - late_us (300000));
          g_assert_cmpint (gap, <=, G_USEC_PER_SEC + late_us (300000));
        }
    }
  g_assert_cmpstr (ended->reason, ==, "DURATION");
  g_assert_cmpstr (ended->user_id, ==, "driver-a");
  assert_figures (ended);
  g_assert_cmpfloat_with_epsilon (ended->kwh, 0.3, 0.0005);        /* 360 kW × 3 s exactly */
  g_assert_cmpfloat_with_epsilon (ended->eur, 0.12, 0.0001);       /* × 0.40 EUR/kWh */
  g_assert_cmpint (ended->seq, >, started->seq);
  g_assert_false (ended->replayed);
  g_assert_cmpint (ended->timestamp_us - started->timestamp_us, >=, 3 * G_USEC_PER_SEC - 50000);
  g_assert_cmpint (ended->timestamp_us - started->timestamp_us, <=, 3 * G_USEC_PER_SEC + late_us (250000));
  g_assert_cmpfloat (central_kwh, >, 0);
  g_assert_cmpfloat (central_kwh, <=, 0.3 + 0.0005);

  /* the same on the Central link, kept once with the same figures and seq */
  wait_cp (f, "ACTIVE", 1, 1, TRUE);
  tickets = evcp_sys_db_tickets (f->db_path, CP);
  g_assert_cmpuint (tickets->len, ==, 1);
  t = evcp_sys_tickets_find (tickets, started->session_id);
  assert_ticket_matches (t, ended);
  assert_link_carried (f, started->session_id, started->seq, 2);
  assert_ticket_both_ways (f, started->session_id, "driver-a", ended->seq);
}

static void
phase_kafka_down (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autofree gchar *answer = NULL;
  g_autofree gchar *session_id = NULL;
  g_autofree gchar *state_line = NULL;
  g_autoptr(GPtrArray) tickets = NULL;
  g_autoptr(GPtrArray) seen = NULL;
  const EvcpSysEvent *started, *ended;
  const EvcpSysTicket *t;
  gint64 up_at;

  phase (f, "(b) Kafka down (all brokers), the request through Central (AUTHORIZE)");
  /* nothing of (a) left to send */
  g_assert_true (evcp_test_wait_until (NULL, outbox_empty, f->state_dir, WAIT_MS));
  answer = evcp_test_mock_process_command (f->mock, "down all", &error);
  g_assert_no_error (error);

  session_id = authorize (f, "driver-b", POWER, 3);
  g_ptr_array_add (f->session_ids, g_strdup (session_id));
  {
    /* Central shows the session, from SUPPLY over the link: Kafka is down */
    ShowWait w = { f, session_id, 0 };
    g_autofree gchar *supply = g_strdup_printf ("%s: supplying session %s:", CP, session_id);

    g_assert_true (evcp_test_wait_until (NULL, central_shows_session, &w, WAIT_MS));
    g_assert_true (evcp_test_central_wait_log (f->central, supply, WAIT_MS));
  }
  /* the ticket reaches Central over the link */
  wait_cp (f, "ACTIVE", 1, 2, TRUE);
  tickets = evcp_sys_db_tickets (f->db_path, CP);
  t = evcp_sys_tickets_find (tickets, session_id);
  g_assert_nonnull (t);
  g_assert_cmpstr (t->source, ==, "link");
  g_assert_cmpstr (t->reason, ==, "DURATION");
  g_assert_cmpstr (t->driver, ==, "driver-b");
  g_assert_cmpfloat_with_epsilon (t->kwh, 0.3, 0.0005);
  g_assert_cmpfloat_with_epsilon (t->eur, 0.12, 0.0001);
  g_assert_cmpint (t->seq, >, 0);
  g_test_message ("ticket of %s at Central over the link, seq %" G_GINT64_FORMAT ", Kafka still down",
                  session_id, t->seq);
  state_line = g_strdup_printf ("%s: state SUPPLYING (seq %" G_GINT64_FORMAT ")", CP, t->seq - 1);
  g_assert_true (evcp_test_central_log_contains (f->central, state_line));
  /* the Engine did try Kafka, and failed */
  g_assert_true (evcp_sys_engine_log_contains (f->engine, "Cannot deliver outbox event"));
  evcp_sys_sessions_poll (f->sessions);
  seen = evcp_sys_sessions_find (f->sessions, NULL, NULL, session_id);
  g_assert_cmpuint (seen->len, ==, 0);

  phase (f, "(b) Kafka back up");
  g_clear_pointer (&answer, g_free);
  answer = evcp_test_mock_process_command (f->mock, "up all", &error);
  g_assert_no_error (error);
  up_at = g_get_monotonic_time ();
  ended = evcp_sys_sessions_wait (f->sessions, "SESSION_ENDED", NULL, session_id, 60000);
  g_assert_nonnull (ended);
  g_test_message ("SESSION_ENDED of %s on Kafka %.1f s after the brokers came back, replayed %d, seq %" G_GINT64_FORMAT,
                  session_id, (ended->arrived_us - up_at) / 1e6, ended->replayed, ended->seq);
  g_assert_true (ended->replayed);
  g_assert_cmpstr (ended->source, ==, "central");
  assert_figures (ended);
  assert_ticket_matches (t, ended);
  started = evcp_sys_sessions_wait (f->sessions, "SESSION_STARTED", NULL, session_id, WAIT_MS);
  g_assert_nonnull (started);
  g_assert_true (started->replayed);
  g_assert_cmpint (started->seq, ==, t->seq - 1);
  /* Central got it on Kafka too, and kept it once */
  {
    g_autofree gchar *dup = g_strdup_printf ("duplicate TICKET from the ENGINE (seq %" G_GINT64_FORMAT ", by kafka)", t->seq);

    g_assert_true (evcp_test_central_wait_log (f->central, dup, WAIT_MS));
  }
  wait_cp (f, "ACTIVE", 1, 2, TRUE);
}

static void
expect_refused_at (Fixture *f, const gchar *cp_id, const gchar *driver, const gchar *reason)
{
  const EvcpSysEvent *refused = evcp_sys_sessions_wait (f->sessions, "REQUEST_REFUSED", driver, NULL, WAIT_MS);

  g_assert_nonnull (refused);
  g_assert_cmpstr (refused->reason, ==, reason);
  g_assert_cmpstr (refused->cp_id, ==, cp_id);
  g_assert_cmpstr (refused->key, ==, cp_id);
  g_assert_null (refused->session_id);
}

static void
expect_refused (Fixture *f, const gchar *driver, const gchar *reason)
{
  expect_refused_at (f, CP, driver, reason);
}

static const EvcpSysEvent *
start_on_kafka (Fixture *f, const gchar *driver, gint64 duration)
{
  const EvcpSysEvent *started;

  evcp_sys_produce_request (evcp_test_mock_process_get_bootstrap (f->mock), CP, driver, POWER, duration);
  started = evcp_sys_sessions_wait (f->sessions, "SESSION_STARTED", driver, NULL, WAIT_MS);
  g_assert_nonnull (started);
  g_ptr_array_add (f->session_ids, g_strdup (started->session_id));
  return started;
}

static void
phase_busy_stop_resume (Fixture *f)
{
  const gchar *bootstrap = evcp_test_mock_process_get_bootstrap (f->mock);
  const EvcpSysEvent *c1, *ended, *c6;
  g_autofree gchar *answer = NULL;
  g_autofree gchar *refused_id = NULL;
  g_autoptr(GPtrArray) tickets = NULL;
  g_autoptr(GPtrArray) after = NULL;
  gint64 stop_at;

  phase (f, "(c) busy, STOP, refused while stopped, RESUME");
  c1 = start_on_kafka (f, "driver-c1", 30);
  wait_cp (f, "SUPPLYING", 1, -1, FALSE);
  evcp_sys_produce_request (bootstrap, CP, "driver-c2", 50, 10);
  expect_refused (f, "driver-c2", "busy");
  refused_id = authorize (f, "driver-c3", 50, 10);
  expect_refused (f, "driver-c3", "busy");
  g_assert_null (evcp_sys_sessions_wait (f->sessions, "SESSION_ENDED", NULL, c1->session_id, 0));

  stop_at = g_get_monotonic_time ();
  answer = command (f, "stop %s", CP);
  g_assert_cmpstr (answer, ==, "OK stop " CP);
  ended = evcp_sys_sessions_wait (f->sessions, "SESSION_ENDED", NULL, c1->session_id, WAIT_MS);
  g_assert_nonnull (ended);
  g_test_message ("STOP: SESSION_ENDED %s %.0f ms after the command, %.3f kWh", ended->reason,
                  (ended->arrived_us - stop_at) / 1e3, ended->kwh);
  g_assert_cmpstr (ended->reason, ==, "STOPPED");
  g_assert_cmpint (ended->arrived_us - stop_at, <, G_USEC_PER_SEC);
  g_assert_cmpfloat (ended->kwh, <, POWER * 10 / 3600);   /* far from the 30 s asked for */
  assert_figures (ended);
  wait_cp (f, "STOPPED", 1, 3, TRUE);
  tickets = evcp_sys_db_tickets (f->db_path, CP);
  assert_ticket_matches (evcp_sys_tickets_find (tickets, c1->session_id), ended);

  /* refused until RESUME, both ways in */
  evcp_sys_produce_request (bootstrap, CP, "driver-c4", 50, 10);
  expect_refused (f, "driver-c4", "stopped");
  g_clear_pointer (&refused_id, g_free);
  refused_id = authorize (f, "driver-c5", 50, 10);
  expect_refused (f, "driver-c5", "stopped");

  g_clear_pointer (&answer, g_free);
  answer = command (f, "resume %s", CP);
  g_assert_cmpstr (answer, ==, "OK resume " CP);
  wait_cp (f, "ACTIVE", 1, 3, TRUE);
  c6 = start_on_kafka (f, "driver-c6", 1);
  ended = evcp_sys_sessions_wait (f->sessions, "SESSION_ENDED", NULL, c6->session_id, WAIT_MS);
  g_assert_nonnull (ended);
  g_assert_cmpstr (ended->reason, ==, "DURATION");
  g_assert_cmpfloat_with_epsilon (ended->kwh, 0.1, 0.0005);
  wait_cp (f, "ACTIVE", 1, 4, TRUE);

  /* no session for the refused ones */
  for (guint i = 2; i <= 5; i++)
    {
      g_autofree gchar *driver = g_strdup_printf ("driver-c%u", i);
      g_autoptr(GPtrArray) started = evcp_sys_sessions_find (f->sessions, "SESSION_STARTED", driver, NULL);

      g_assert_cmpuint (started->len, ==, 0);
    }
  after = evcp_sys_db_tickets (f->db_path, CP);
  g_assert_cmpuint (after->len, ==, 4);
}

static void
phase_fault (Fixture *f)
{
  const gchar *bootstrap = evcp_test_mock_process_get_bootstrap (f->mock);
  const EvcpSysEvent *d1, *ended, *d3;
  g_autofree gchar *health = NULL;
  g_autofree gchar *ko_prefix = g_strdup_printf ("KO#%s#", CP);
  g_autoptr(GPtrArray) tickets = NULL;
  g_autoptr(GPtrArray) telemetry = NULL;
  gint64 fault_at;

  phase (f, "(d) a fault (SIGUSR1) during a supply, cleared by SIGUSR2");
  d1 = start_on_kafka (f, "driver-d1", 30);
  g_assert_nonnull (evcp_sys_sessions_wait (f->sessions, "SESSION_TELEMETRY", NULL, d1->session_id, WAIT_MS));
  health = evcp_sys_health_check (evcp_sys_engine_get_health_port (f->engine), CP);
  g_assert_cmpstr (health, ==, "OK#" CP);

  fault_at = g_get_monotonic_time ();
  evcp_sys_engine_signal (f->engine, SIGUSR1);
  ended = evcp_sys_sessions_wait (f->sessions, "SESSION_ENDED", NULL, d1->session_id, WAIT_MS);
  g_assert_nonnull (ended);
  g_test_message ("fault: SESSION_ENDED %s %.0f ms after SIGUSR1, %.3f kWh", ended->reason,
                  (ended->arrived_us - fault_at) / 1e3, ended->kwh);
  g_assert_cmpstr (ended->reason, ==, "FAULT");
  /* at once: well before the next telemetry would have come */
  g_assert_cmpint (ended->arrived_us - fault_at, <, 800000);
  telemetry = evcp_sys_sessions_find (f->sessions, "SESSION_TELEMETRY", NULL, d1->session_id);
  g_assert_cmpfloat (ended->kwh, >=, ((EvcpSysEvent *) g_ptr_array_index (telemetry, telemetry->len - 1))->kwh);
  g_assert_cmpfloat (ended->kwh, <=, POWER * ((fault_at - d1->arrived_us) / 1e6 + 0.3) / 3600 + 0.0005);
  assert_figures (ended);
  wait_cp (f, "FAULT", 1, 5, TRUE);
  tickets = evcp_sys_db_tickets (f->db_path, CP);
  assert_ticket_matches (evcp_sys_tickets_find (tickets, d1->session_id), ended);

  g_clear_pointer (&health, g_free);
  health = evcp_sys_health_check (evcp_sys_engine_get_health_port (f->engine), CP);
  g_assert_true (g_str_has_prefix (health, ko_prefix));
  evcp_sys_produce_request (bootstrap, CP, "driver-d2", 50, 10);
  expect_refused (f, "driver-d2", "fault");

  evcp_sys_engine_signal (f->engine, SIGUSR2);
  wait_cp (f, "ACTIVE", 1, 5, TRUE);
  g_clear_pointer (&health, g_free);
  health = evcp_sys_health_check (evcp_sys_engine_get_health_port (f->engine), CP);
  g_assert_cmpstr (health, ==, "OK#" CP);
  d3 = start_on_kafka (f, "driver-d3", 1);
  ended = evcp_sys_sessions_wait (f->sessions, "SESSION_ENDED", NULL, d3->session_id, WAIT_MS);
  g_assert_nonnull (ended);
  g_assert_cmpstr (ended->reason, ==, "DURATION");
  wait_cp (f, "ACTIVE", 1, 6, TRUE);
}

static void
test_whole_system (Fixture *f, gconstpointer data)
{
  g_autoptr(GPtrArray) tickets = NULL;
  g_autoptr(GArray) seqs = NULL;
  gint64 next_seq, gaps;

  phase (f, "start: evcp-kafka-mock, evcp-central, evcp-engine");
  /* the Engine consumes and is connected to Central; Central follows Kafka */
  g_assert_true (evcp_sys_engine_wait_log (f->engine, is_keyed () ? "Kafka keyed: " CP " reads" : "Kafka assigned",
                                           WAIT_MS));
  wait_cp (f, "ACTIVE", 1, 0, TRUE);
  g_assert_true (evcp_test_wait_until (NULL, central_kafka_connected, f->central, WAIT_MS));
  {
    g_autoptr(JsonObject) cp = evcp_test_central_get_cp (f->central, CP);

    /* AUTH told Central the CP's price */
    g_assert_cmpfloat (json_object_get_double_member (cp, "price_eur_kwh"), ==, PRICE);
    g_assert_cmpstr (json_object_get_string_member (cp, "location"), ==, "system test bench");
  }

  phase_kafka_request (f);
  phase_kafka_down (f);
  phase_busy_stop_resume (f);
  phase_fault (f);

  phase (f, "final checks");
  g_assert_true (evcp_test_wait_until (NULL, outbox_empty, f->state_dir, WAIT_MS));
  /* exactly one SESSION_ENDED per session on Kafka, with the seq Central kept */
  tickets = evcp_sys_db_tickets (f->db_path, CP);
  g_assert_cmpuint (tickets->len, ==, f->session_ids->len);
  evcp_sys_sessions_poll (f->sessions);
  for (guint i = 0; i < f->session_ids->len; i++)
    {
      const gchar *id = g_ptr_array_index (f->session_ids, i);
      g_autoptr(GPtrArray) ended = evcp_sys_sessions_find (f->sessions, "SESSION_ENDED", NULL, id);
      g_autoptr(GPtrArray) started = evcp_sys_sessions_find (f->sessions, "SESSION_STARTED", NULL, id);

      g_assert_cmpuint (ended->len, ==, 1);
      g_assert_cmpuint (started->len, ==, 1);
      assert_ticket_matches (evcp_sys_tickets_find (tickets, id), g_ptr_array_index (ended, 0));
    }
  gaps = evcp_test_central_get_stat (f->central, "gaps");
  g_assert_cmpint (gaps, ==, 0);
  next_seq = evcp_sys_outbox_next_seq (f->state_dir);

  g_assert_cmpint (evcp_sys_engine_term (f->engine), ==, 0);
  g_assert_cmpint (evcp_test_central_quit (f->central), ==, 0);
  /* every seq the Engine gave out, once, without gaps, at Central */
  seqs = evcp_sys_db_seqs (f->db_path, CP, "ENGINE");
  g_test_message ("Central applied the Engine's seqs 1..%" G_GINT64_FORMAT " (%u rows); the Engine's next_seq is %" G_GINT64_FORMAT,
                  seqs->len > 0 ? g_array_index (seqs, gint64, seqs->len - 1) : 0, seqs->len, next_seq);
  for (guint i = 0; i < seqs->len; i++)
    g_assert_cmpint (g_array_index (seqs, gint64, i), ==, (gint64) i + 1);
  g_assert_cmpint ((gint64) seqs->len, ==, next_seq - 1);
  /* Central recorded every refusal it got on Kafka */
  {
    static const gchar *const refusals[] = {
      "driver-c2: busy", "driver-c3: busy", "driver-c4: stopped", "driver-c5: stopped", "driver-d2: fault",
    };

    for (guint i = 0; i < G_N_ELEMENTS (refusals); i++)
      g_assert_cmpuint (evcp_sys_db_count_events (f->db_path, CP, "REFUSED", refusals[i]), ==, 1);
  }
  phase (f, "done");
}


/* ---- the Engine against the fake Central ------------------------------------ */

/* A SUPPLY frame: its energy is the time supplied so far, so a telemetry
 * tick that fires late (a loaded machine) reports a little more: up to
 * 50 ms late is taken, the price following the energy. Returns when it
 * arrived. */
static gint64
fake_expect_supply (EvcpTestFakeCentral *fc, const gchar *prefix, gdouble kwh, gdouble price)
{
  const gchar *data;
  g_auto(GStrv) fields = NULL;
  gdouble got_kwh, got_eur;
  gint64 arrived_us = 0;

  data = evcp_test_fake_central_next (fc, WAIT_MS, &arrived_us);
  if (data == NULL)
    g_error ("the Engine sent nothing (expected %s…)", prefix);
  if (!g_str_has_prefix (data, prefix))
    g_error ("expected %s…, got %s", prefix, data);
  fields = g_strsplit (data, "#", -1);
  g_assert_cmpuint (g_strv_length (fields), ==, 6);
  got_kwh = g_ascii_strtod (fields[4], NULL);
  got_eur = g_ascii_strtod (fields[5], NULL);
  g_assert_cmpfloat (got_kwh, >=, kwh);
  g_assert_cmpfloat (got_kwh, <=, kwh + 0.005 + 1e-9);
  g_assert_cmpfloat (fabs (got_eur - got_kwh * price), <=, 0.005 + 1e-9);
  /* three decimals for energy, two for money, whatever the locale */
  g_assert_cmpuint (strlen (strchr (fields[4], '.')), ==, 4);
  g_assert_cmpuint (strlen (strchr (fields[5], '.')), ==, 3);
  return arrived_us;
}

/* The Engine's frames on the wire and its handling of Central's: AUTH with
 * the price, STATE on every change with a seq, SUPPLY once a second, TICKET;
 * AUTHORIZE with extra fields served, a frame for another CP and an unknown
 * verb ACKed and ignored (with a warning), STOP/RESUME, bad figures ignored. */
static void
test_engine_commands (Fixture *f, gconstpointer data)
{
  g_autofree gchar *log = g_build_filename (f->tmpdir, "engine-2.log", NULL);
  g_autoptr(EvcpTestFakeCentral) fc = evcp_test_fake_central_new ();
  g_autoptr(EvcpSysEngine) engine = NULL;
  gint64 s1, s2;

  /* it ACKs every frame and answers none: the test does */
  fc->passive = TRUE;

  engine = evcp_sys_engine_spawn (&(EvcpSysEngineOptions) {
    .cp_id = "CP-S2", .brokers = evcp_test_mock_process_get_bootstrap (f->mock), .central_port = fc->port,
    .state_dir = f->state_dir, .config = f->config, .log_path = log,
  });
  evcp_test_fake_central_expect (fc, "AUTH#CP-S2#ENGINE#system test bench#0.40", NULL);
  evcp_test_fake_central_send_acked (fc, "AUTH_OK#CP-S2");
  evcp_test_fake_central_expect (fc, "STATE#CP-S2#ACTIVE#1", NULL);

  /* ignored, each ACKed: an unknown verb, a frame for another CP, bad figures */
  evcp_test_fake_central_send_acked (fc, "FUTURE_VERB#CP-S2#x");
  g_assert_true (evcp_sys_engine_wait_log (engine, "Central sent FUTURE_VERB, which this Engine does not know: ignored", WAIT_MS));
  evcp_test_fake_central_send_acked (fc, "STOP#CP-OTHER");
  evcp_test_fake_central_send_acked (fc, "AUTHORIZE#CP-S2#drv-z#sess-z#-5#10");
  g_assert_true (evcp_sys_engine_wait_log (engine, "AUTHORIZE with bad figures ignored", WAIT_MS));
  /* a driver or session that cannot stand in the ticket's frame starts nothing */
  {
    g_autofree gchar *long_driver = g_strnfill (200, 'd');
    g_autofree gchar *frame_long = g_strdup_printf ("AUTHORIZE#CP-S2#%s#sess-l#50#5", long_driver);

    evcp_test_fake_central_send_acked (fc, frame_long);
    g_assert_true (evcp_sys_engine_wait_log (engine, "Invalid supply request (central)", WAIT_MS));
    evcp_test_fake_central_send_acked (fc, "AUTHORIZE#CP-S2#drv\x01q#sess-c#50#5");
    g_assert_true (evcp_sys_engine_wait_log (engine, "from “drv\\001q”", WAIT_MS));
  }
  /* extra fields ignored: served */
  evcp_test_fake_central_send_acked (fc, "AUTHORIZE#CP-S2#drv-x#sess-x#360#2#extra#fields");
  /* the next frame: not STOPPED (the STOP was for another CP) */
  evcp_test_fake_central_expect (fc, "STATE#CP-S2#SUPPLYING#2", NULL);
  s1 = fake_expect_supply (fc, "SUPPLY#CP-S2#sess-x#drv-x#", 0.100, 0.40);
  s2 = fake_expect_supply (fc, "SUPPLY#CP-S2#sess-x#drv-x#", 0.200, 0.40);
  g_assert_cmpint (s2 - s1, >=, 700000);
  g_assert_cmpint (s2 - s1, <=, 1300000);
  evcp_test_fake_central_expect (fc, "TICKET#CP-S2#sess-x#drv-x#0.200#0.08#DURATION#3", NULL);
  evcp_test_fake_central_expect (fc, "STATE#CP-S2#ACTIVE#4", NULL);

  /* RESUME while ACTIVE: nothing; STOP: STOPPED; AUTHORIZE refused; RESUME */
  evcp_test_fake_central_send_acked (fc, "RESUME#CP-S2");
  evcp_test_fake_central_send_acked (fc, "STOP#CP-S2");
  evcp_test_fake_central_expect (fc, "STATE#CP-S2#STOPPED#5", NULL);
  evcp_test_fake_central_send_acked (fc, "AUTHORIZE#CP-S2#drv-y#sess-y#50#5");
  expect_refused_at (f, "CP-S2", "drv-y", "stopped");
  evcp_test_fake_central_send_acked (fc, "RESUME#CP-S2");
  evcp_test_fake_central_expect (fc, "STATE#CP-S2#ACTIVE#6", NULL);
  g_assert_cmpuint (fc->next_frame, ==, fc->frames->len);

  /* SIGTERM: EOT, a polite goodbye */
  g_assert_cmpint (evcp_sys_engine_term (engine), ==, 0);
  g_assert_true (evcp_test_fake_central_wait_closed (fc, WAIT_MS));
  g_assert_cmpuint (fc->eots, ==, 1);
  /* one connection, every frame well formed, none refused */
  g_assert_cmpuint (fc->accepted, ==, 1);
  g_assert_cmpuint (fc->bad, ==, 0);
  g_assert_cmpuint (fc->nacks, ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  /* Kafka down on purpose and killed links are logged as warnings */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  g_test_add ("/system/whole", Fixture, NULL, fixture_set_up, test_whole_system, fixture_tear_down);
  g_test_add ("/system/whole-keyed", Fixture, NULL, fixture_set_up, test_whole_system, fixture_tear_down);
  g_test_add ("/system/engine-and-central-frames", Fixture, "no evcp-central", fixture_set_up, test_engine_commands,
              fixture_tear_down);
  return g_test_run ();
}
