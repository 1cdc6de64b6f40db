/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Durability: a program killed (SIGKILL) at random moments of many short
 * supply sessions, and started again on the same state each time. The
 * victim of a run is, in turn, the Engine, evcp-central (following Kafka,
 * its database in a file, started again on the same port) or the Monitor
 * (one event a second, its outbox in a state directory); evcp-kafka-mock
 * keeps running. EVCP_DURABILITY_RUNS (default 18) and
 * EVCP_DURABILITY_VICTIMS (default "engine,central,monitor") change the
 * campaign: scripts/campaign runs hundreds of runs over many seeds.
 * The randomness is GTest's: the choices
 * (the request through Kafka or through Central; the moment of the kill:
 * anywhere from the request to 0.8 s after the session's end, or, one run in
 * two, 1 to 3 ms after max_duration from the session's start, when its ticket
 * is being written) come from g_test_rand_int_range(), so a run is repeated with
 * --seed=<the seed printed at the start>; the moments themselves are real
 * time, so what the Engine was doing when it died varies a little from one
 * machine to another.
 *
 * After every run the test waits until the system is quiet: the Engine back
 * and connected to Central, ACTIVE with no session (none on disk either), its
 * outbox empty (everything acknowledged by Central and by Kafka), and its
 * consumer group's committed offsets at the end of charging_requests (no
 * request can be delivered to it again). At the end:
 *  - every session seen anywhere (SESSION_STARTED, SESSION_TELEMETRY or
 *    SESSION_ENDED on Kafka, a ticket in evcp-central's database) has exactly
 *    one ticket in the database, one row;
 *  - every one has its SESSION_ENDED on Kafka, maybe in several copies (a
 *    copy delivered but not yet acknowledged in the outbox when the Engine
 *    died is produced again): every copy with the same session id, seq and
 *    figures, the seq the database holds;
 *  - the seqs Central applied, counted in its database read-only after it
 *    quit (table seqs, cp CP-D1, role ENGINE: every STATE and TICKET, from
 *    the link or Kafka, once), are exactly 1..N with N the last seq the
 *    Engine gave out (its outbox's next_seq - 1): no gap, nothing missing;
 *    and Central's own gap count (link seqs, stats.gaps) is 0;
 *  - every request got one session or a refusal, never two (a request
 *    delivered again after a kill is recognised: issue 12).
 */
#include "evcp-build-config.h"

#include <math.h>
#include <signal.h>
#include <string.h>

#include <glib/gstdio.h>

#include "evcp-test-central.h"
#include "evcp-test-system.h"
#include "evcp-test-util.h"

/* With the mock, CP-D1 in a cluster of its own. With a real broker
 * (EVCP_DURABILITY_BROKERS, for campaigns), whose topics outlive a run, a
 * CP, group and drivers of this run's own. */
static gchar CP[32] = "CP-D1";
static gchar GROUP[48] = "cp_engine_CP-D1";
static gchar DRIVER[16] = "drv";
static const gchar *real_brokers;
#define POWER        360.0     /* kW: 0.1 kWh a second */
#define DURATION_S   2
#define DEFAULT_RUNS 18
#define KILL_MAX_MS  ((DURATION_S * 1000) + 800)   /* from the request to a bit after the end */
/* one run in two aims at the end of the session instead: the ticket is
 * written (the session file, then the outbox with its fsyncs, then the
 * session file removed) in the same tick as the last telemetry, a window of
 * 1 or 2 ms that a uniform choice hardly ever hits. Those runs watch for the
 * session file (every ms), which the Engine writes as the session starts, and
 * kill it max_duration later, give or take a few ms (AT_END_FROM..AT_END_TO). */
#define AT_END_FROM_MS  1
#define AT_END_TO_MS    3
#define AT_START_RUNS 2
#define WAIT_MS      30000
#define QUIET_MS     60000

typedef enum { VIA_KAFKA, VIA_CENTRAL } Via;
typedef enum { VICTIM_ENGINE, VICTIM_CENTRAL, VICTIM_MONITOR, VICTIM_BROKER, N_VICTIMS } Victim;

static const gchar *const victim_names[N_VICTIMS] = { "engine", "central", "monitor", "broker" };
static guint  n_runs = DEFAULT_RUNS;
static Victim victims[N_VICTIMS];
static guint  n_victims;

typedef struct {
  Via      via;
  Victim   victim;
  gboolean at_end;            /* killed at max_duration after the start */
  gint     end_offset_ms;     /* then: when, from the expected end */
  gchar   *driver;
  gchar   *central_session;   /* the id Central gave, VIA_CENTRAL */
  gint     kill_ms;
  gboolean started_before_kill;
  gboolean ended_before_kill;
  gboolean ticket_in_progress; /* killed between saving the ticket's seq and removing the session */
  gboolean recovered;          /* the next Engine closed it */
} Run;

typedef struct {
  gchar               *tmpdir;
  gchar               *db_path;
  gchar               *state_dir;
  gchar               *config;
  gchar               *monitor_state_dir;
  gchar               *monitor_config;
  GSubprocess         *monitor;
  guint                n_monitors;
  guint                n_centrals;
  guint16              central_port;
  guint16              health_port;   /* the Engine's, the same for every Engine */
  EvcpTestMockProcess *mock;          /* NULL with a real broker */
  const gchar         *bootstrap;
  EvcpSysSessions     *sessions;
  EvcpTestConsumer    *monitoring;    /* monitoring_events, from its beginning */
  EvcpSysGroupWatch   *group;
  EvcpTestCentral     *central;
  EvcpSysEngine       *engine;
  guint                n_engines;
  Run                 *runs;
  gint64               started_at;
} Fixture;

/* how many lines of every Engine's log hold @needle */
static guint
count_in_engine_logs (Fixture *f, const gchar *needle)
{
  guint n = 0;

  for (guint i = 0; i < f->n_engines; i++)
    {
      g_autofree gchar *path = g_strdup_printf ("%s/engine-%02u.log", f->tmpdir, i);
      g_autofree gchar *text = NULL;

      if (!g_file_get_contents (path, &text, NULL, NULL))
        continue;
      for (const gchar *p = strstr (text, needle); p != NULL; p = strstr (p + 1, needle))
        n++;
    }
  return n;
}

static void
spawn_engine (Fixture *f)
{
  g_autofree gchar *log = g_strdup_printf ("%s/engine-%02u.log", f->tmpdir, f->n_engines++);
  g_autofree gchar *port = NULL;

  /* the Monitor keeps checking the same port */
  if (f->health_port == 0)
    f->health_port = evcp_test_free_port ();
  port = g_strdup_printf ("ENGINE_PORT=%u", f->health_port);
  g_clear_pointer (&f->engine, evcp_sys_engine_free);
  f->engine = evcp_sys_engine_spawn (&(EvcpSysEngineOptions) {
    .cp_id = CP, .brokers = f->bootstrap, .group_id = GROUP,
    .central_port = f->central_port, .state_dir = f->state_dir,
    .config = f->config, .log_path = log, .extra_env = (const gchar * const []) { port, NULL },
  });
}

/* evcp-central on the same database, and on the same port from its second
 * start on (the Engine and the Monitor reconnect to it). */
static void
spawn_central (Fixture *f)
{
  g_autofree gchar *port = g_strdup_printf ("--port=%u", f->central_port);
  const gchar *bootstrap = f->bootstrap;

  g_clear_pointer (&f->central, evcp_test_central_free);
  f->central = evcp_test_central_start (f->db_path, (const gchar *[]) { "--kafka-brokers", bootstrap,
                                                                        f->central_port != 0 ? port : NULL, NULL });
  f->n_centrals++;
  if (f->central_port == 0)
    f->central_port = evcp_test_central_get_port (f->central);
  g_assert_cmpuint (evcp_test_central_get_port (f->central), ==, f->central_port);
}

static void
monitor_free (Fixture *f)
{
  if (f->monitor == NULL)
    return;
  g_subprocess_force_exit (f->monitor);
  g_subprocess_wait (f->monitor, NULL, NULL);
  g_clear_object (&f->monitor);
}

/* The Monitor of the CP, on its state directory, against the Engine's
 * health port. */
static void
spawn_monitor (Fixture *f)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE |
                                                                       G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_autoptr(GError) error = NULL;
  g_autofree gchar *log = g_strdup_printf ("%s/monitor-%02u.log", f->tmpdir, f->n_monitors++);
  g_autofree gchar *engine_port = g_strdup_printf ("%u", f->health_port);
  g_autofree gchar *central_port = g_strdup_printf ("%u", f->central_port);

  monitor_free (f);
  evcp_test_isolate_launcher (launcher, f->monitor_state_dir);
  g_subprocess_launcher_set_stdout_file_path (launcher, log);
  f->monitor =
      evcp_test_launcher_spawn (launcher, &error, g_getenv ("EVCP_MONITOR"), "--verbose", "--no-bus", "--cp-id", CP,
                                "--engine-host", "127.0.0.1", "--engine-port", engine_port, "--central-host",
                                "127.0.0.1", "--central-port", central_port, "--brokers", f->bootstrap, "--config",
                                f->monitor_config, "--state-dir", f->monitor_state_dir, NULL);
  g_assert_no_error (error);
}

static void
kill_monitor (Fixture *f)
{
  g_subprocess_send_signal (f->monitor, SIGKILL);
  g_subprocess_wait (f->monitor, NULL, NULL);
  g_assert_true (g_subprocess_get_if_signaled (f->monitor));
  g_clear_object (&f->monitor);
}

static void
kill_central (Fixture *f)
{
  GSubprocess *proc = evcp_test_central_get_subprocess (f->central);

  g_subprocess_send_signal (proc, SIGKILL);
  g_subprocess_wait (proc, NULL, NULL);
  g_assert_true (g_subprocess_get_if_signaled (proc));
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  const gchar *bootstrap;

  f->started_at = g_get_monotonic_time ();
  f->tmpdir = g_dir_make_tmp ("evcp-test-durability-XXXXXX", &error);
  g_assert_no_error (error);
  g_test_message ("logs and state in %s (left there if the test aborts)", f->tmpdir);
  f->db_path = g_build_filename (f->tmpdir, "central.db", NULL);
  f->state_dir = g_build_filename (f->tmpdir, "engine-state", NULL);
  f->config = g_build_filename (f->tmpdir, "engine.conf", NULL);
  f->monitor_state_dir = g_build_filename (f->tmpdir, "monitor-state", NULL);
  f->monitor_config = g_build_filename (f->tmpdir, "monitor.conf", NULL);
  f->runs = g_new0 (Run, n_runs);
  /* an event a second: seqs in flight whenever the Monitor dies */
  g_assert_true (g_file_set_contents (f->monitor_config, "[monitor]\nevent-interval-s=1\n", -1, &error));
  /* a killed member's partitions go to the next one after 6 s */
  g_assert_true (g_file_set_contents (f->config,
                                      "[evcp]\nlocation=durability bench\nprice=0.40\n"
                                      "[librdkafka-consumer]\nsession.timeout.ms=6000\n"
                                      "heartbeat.interval.ms=1000\n"
                                      /* a wider window between handling and
                                       * commit: more requests come again */
                                      "auto.commit.interval.ms=5000\n", -1, &error));
  if (real_brokers != NULL)
    {
      static const gchar *const topics[] = { "user_messages", "charging_requests", "system_notifications",
                                             "charging_sessions", "monitoring_events", "dead_letters" };

      f->bootstrap = real_brokers;
      for (guint i = 0; i < G_N_ELEMENTS (topics); i++)
        {
          g_autoptr(GError) topic_error = NULL;

          if (!evcp_test_kafka_create_topic (f->bootstrap, topics[i], 2, &topic_error) &&
              !g_error_matches (topic_error, G_IO_ERROR, G_IO_ERROR_EXISTS))
            g_error ("cannot create %s: %s", topics[i], topic_error->message);
        }
    }
  else
    {
      f->mock = evcp_test_mock_process_start (NULL, &error);
      g_assert_no_error (error);
      f->bootstrap = evcp_test_mock_process_get_bootstrap (f->mock);
    }
  bootstrap = f->bootstrap;
  f->sessions = evcp_sys_sessions_new (bootstrap);
  f->monitoring = evcp_test_consumer_new (bootstrap, "monitoring_events");
  f->group = evcp_sys_group_watch_new (bootstrap, GROUP, "charging_requests");
  spawn_central (f);
  spawn_engine (f);
  spawn_monitor (f);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  if (g_test_failed ())
    {
      for (guint i = 0; i < f->n_engines; i++)
        {
          g_autofree gchar *log = g_strdup_printf ("%s/engine-%02u.log", f->tmpdir, i);

          evcp_sys_dump_file (log);
        }
      if (f->central != NULL)
        evcp_sys_dump_file (evcp_test_central_get_log_path (f->central));
      for (guint i = 0; i < f->n_monitors; i++)
        {
          g_autofree gchar *log = g_strdup_printf ("%s/monitor-%02u.log", f->tmpdir, i);

          evcp_sys_dump_file (log);
        }
    }
  monitor_free (f);
  g_clear_pointer (&f->engine, evcp_sys_engine_free);
  g_clear_pointer (&f->central, evcp_test_central_free);
  g_clear_pointer (&f->group, evcp_sys_group_watch_free);
  g_clear_pointer (&f->sessions, evcp_sys_sessions_free);
  g_clear_pointer (&f->monitoring, evcp_test_consumer_free);
  if (f->mock != NULL)
    evcp_test_mock_process_free (f->mock);
  evcp_test_remove_tree (f->tmpdir);
  for (guint i = 0; i < n_runs; i++)
    {
      g_free (f->runs[i].driver);
      g_free (f->runs[i].central_session);
    }
  g_free (f->runs);
  g_free (f->monitor_state_dir);
  g_free (f->monitor_config);
  g_free (f->tmpdir);
  g_free (f->db_path);
  g_free (f->state_dir);
  g_free (f->config);
}

/* ---- what was seen -------------------------------------------------------- */

/* Every session id: on Kafka (any event) or in Central's database. */
static GPtrArray *
all_session_ids (Fixture *f, GPtrArray *tickets)
{
  GPtrArray *ids = g_ptr_array_new_with_free_func (g_free);
  GPtrArray *events = evcp_sys_sessions_all (f->sessions);

  for (guint i = 0; i < events->len; i++)
    {
      const EvcpSysEvent *e = g_ptr_array_index (events, i);

      if (e->session_id != NULL && g_strcmp0 (e->cp_id, CP) == 0 &&
          !g_ptr_array_find_with_equal_func (ids, e->session_id, g_str_equal, NULL))
        g_ptr_array_add (ids, g_strdup (e->session_id));
    }
  for (guint i = 0; tickets != NULL && i < tickets->len; i++)
    {
      const EvcpSysTicket *t = g_ptr_array_index (tickets, i);

      if (!g_ptr_array_find_with_equal_func (ids, t->session_id, g_str_equal, NULL))
        g_ptr_array_add (ids, g_strdup (t->session_id));
    }
  return ids;
}

/* ---- quiet ----------------------------------------------------------------- */

typedef struct {
  Fixture  *f;
  gboolean  need_kafka;     /* the Engine's consumer has its partitions */
  gint64    last_central;
  gint64    last_group;
  gboolean  group_ok;
  gchar    *why;            /* what the last check was waiting for */
} QuietWait;

static gboolean
not_quiet (QuietWait *w, const gchar *why)
{
  if (g_strcmp0 (w->why, why) != 0)
    {
      g_free (w->why);
      w->why = g_strdup (why);
    }
  return FALSE;
}

static gboolean
quiet (gpointer data)
{
  QuietWait *w = data;
  Fixture *f = w->f;
  g_autofree gchar *session_file = g_build_filename (f->state_dir, "session.json", NULL);
  g_autoptr(JsonObject) cp = NULL;
  g_autoptr(GPtrArray) ids = NULL;
  guint ended = 0;

  evcp_sys_sessions_poll (f->sessions);
  if (!evcp_sys_engine_is_running (f->engine))
    g_error ("the Engine exited by itself (log %s)", evcp_sys_engine_get_log_path (f->engine));
  if (g_subprocess_get_identifier (f->monitor) == NULL)
    g_error ("the Monitor exited by itself (log %s/monitor-%02u.log)", f->tmpdir, f->n_monitors - 1);
  if (evcp_sys_outbox_pending (f->monitor_state_dir) > 0)
    return not_quiet (w, "records in the Monitor's outbox");
  if (w->need_kafka && !evcp_sys_engine_log_contains (f->engine, "Kafka assigned"))
    return not_quiet (w, "the Engine's consumer has no partitions yet");
  if (g_file_test (session_file, G_FILE_TEST_EXISTS))
    return not_quiet (w, "a session on disk");
  if (evcp_sys_outbox_pending (f->state_dir) > 0)
    return not_quiet (w, "records in the outbox");
  /* every session seen on Kafka has its end there */
  ids = all_session_ids (f, NULL);
  for (guint i = 0; i < ids->len; i++)
    {
      g_autoptr(GPtrArray) e = evcp_sys_sessions_find (f->sessions, "SESSION_ENDED", NULL, g_ptr_array_index (ids, i));

      if (e->len == 0)
        return not_quiet (w, "a session without SESSION_ENDED on Kafka yet");
      ended++;
    }
  if (g_get_monotonic_time () - w->last_central < 100000)
    return FALSE;
  w->last_central = g_get_monotonic_time ();
  cp = evcp_test_central_get_cp (f->central, CP);
  if (cp == NULL || !json_object_get_boolean_member (cp, "engine"))
    return not_quiet (w, "the Engine not connected to Central");
  if (!json_object_get_boolean_member_with_default (cp, "monitor", FALSE))
    return not_quiet (w, "the Monitor not connected to Central");
  if (g_strcmp0 (json_object_get_string_member (cp, "state"), "ACTIVE") != 0 ||
      !json_object_get_null_member (cp, "session"))
    return not_quiet (w, "Central does not show the CP ACTIVE and idle");
  if (json_object_get_int_member (cp, "tickets") != (gint64) ended)
    return not_quiet (w, "Central's tickets differ from the SESSION_ENDEDs");
  if (g_get_monotonic_time () - w->last_group >= 300000)
    {
      w->last_group = g_get_monotonic_time ();
      w->group_ok = evcp_sys_group_caught_up (f->group);
    }
  if (!w->group_ok)
    return not_quiet (w, "requests not yet committed by the Engine's group");
  /* a request taken but not committed when the Engine died came again: the
   * check above is only over once its session (if any) is on disk, and then
   * over and acknowledged: look once more */
  return !g_file_test (session_file, G_FILE_TEST_EXISTS) && evcp_sys_outbox_pending (f->state_dir) == 0;
}

static void
wait_quiet (Fixture *f, gboolean need_kafka)
{
  QuietWait w = { f, need_kafka, 0, 0, FALSE, NULL };
  gint64 start = g_get_monotonic_time ();

  if (!evcp_test_wait_until (NULL, quiet, &w, QUIET_MS))
    g_error ("the system did not settle within %u ms: %s", QUIET_MS, w.why);
  g_test_message ("  quiet after %.1f s", (g_get_monotonic_time () - start) / 1e6);
  g_free (w.why);
}

/* ---- a kill at the end of the session ---------------------------------------- */

typedef struct {
  const gchar *path;
  gint64       seen_at;     /* monotonic, when the session file appeared */
  GPid         pid;
  gboolean     killed;
} EndKill;

static gboolean
watch_session_file (gpointer data)
{
  EndKill *k = data;

  if (!g_file_test (k->path, G_FILE_TEST_EXISTS))
    return G_SOURCE_CONTINUE;
  k->seen_at = g_get_monotonic_time ();
  return G_SOURCE_REMOVE;
}

static gboolean
session_file_seen (gpointer data)
{
  return ((EndKill *) data)->seen_at != 0;
}

/* SIGKILL from the timer's callback itself: to the millisecond. */
static gboolean
kill_now (gpointer data)
{
  EndKill *k = data;

  kill (k->pid, SIGKILL);
  k->killed = TRUE;
  return G_SOURCE_REMOVE;
}

static gboolean
has_killed (gpointer data)
{
  return ((EndKill *) data)->killed;
}

/* Watches for the session file every ms; then SIGKILL max_duration (plus the
 * run's offset) after it appeared: while the ticket is being written. */
static GSubprocess *
victim_process (Fixture *f, Victim victim)
{
  switch (victim)
    {
    case VICTIM_ENGINE:
      return evcp_sys_engine_get_subprocess (f->engine);
    case VICTIM_CENTRAL:
      return evcp_test_central_get_subprocess (f->central);
    case VICTIM_MONITOR:
    default:
      return f->monitor;
    case VICTIM_BROKER:
      g_assert_not_reached ();
    }
}

static void
kill_at_end (Fixture *f, Run *run)
{
  g_autofree gchar *path = g_build_filename (f->state_dir, "session.json", NULL);
  const gchar *id = g_subprocess_get_identifier (victim_process (f, run->victim));
  EndKill k = { path, 0, 0, FALSE };
  guint watch;
  gint64 delay_us;

  g_assert_nonnull (id);
  k.pid = (GPid) g_ascii_strtoll (id, NULL, 10);
  watch = g_timeout_add (1, watch_session_file, &k);
  if (!evcp_test_wait_until (NULL, session_file_seen, &k, WAIT_MS))
    {
      g_source_remove (watch);
      g_test_message ("  no session started within %u ms: killed anyway", WAIT_MS);
      return;
    }
  delay_us = k.seen_at + (DURATION_S * 1000 + run->end_offset_ms) * 1000 - g_get_monotonic_time ();
  g_timeout_add ((guint) MAX (delay_us / 1000, 0), kill_now, &k);
  g_assert_true (evcp_test_wait_until (NULL, has_killed, &k, DURATION_S * 1000 + WAIT_MS));
}

/* ---- one run ---------------------------------------------------------------- */

/* The real broker killed (SIGKILL) and started again on its data, by the
 * script that started it. */
static void
kill_broker (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree gchar *err = NULL;
  gint status;
  const gchar *argv[] = { g_getenv ("EVCP_REAL_KAFKA"), "restart", "--kill", NULL };

  g_assert_nonnull (argv[0]);
  g_assert_true (g_spawn_sync (NULL, (gchar **) argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, &err,
                               &status, &error));
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("%s restart --kill failed: %s", argv[0], err);
}

/* Central, the Monitor or the broker killed (now) and started again; then
 * quiet. */
static void
kill_other (Fixture *f, Run *run, gint64 t0)
{
  g_autofree gchar *started_needle = g_strdup_printf (" for %s: ", run->driver);
  g_autofree gchar *ended_needle = g_strdup_printf (" of %s ended (", run->driver);

  run->started_before_kill = evcp_sys_engine_log_contains (f->engine, started_needle);
  run->ended_before_kill = evcp_sys_engine_log_contains (f->engine, ended_needle);
  if (run->victim == VICTIM_CENTRAL)
    {
      kill_central (f);
      spawn_central (f);
    }
  else if (run->victim == VICTIM_BROKER)
    kill_broker ();
  else
    {
      kill_monitor (f);
      spawn_monitor (f);
    }
  g_test_message ("run %u: %s, SIGKILL to %s %d ms after the request, %s", (guint) (run - f->runs),
                  run->via == VIA_KAFKA ? "CHARGING_REQUEST on Kafka" : "AUTHORIZE from Central",
                  victim_names[run->victim], run->kill_ms,
                  !run->started_before_kill ? "before the session started" :
                  !run->ended_before_kill ? "while supplying" : "after the session ended");
  wait_quiet (f, run->via == VIA_KAFKA);
}

static void
run_once (Fixture *f, guint r)
{
  Run *run = &f->runs[r];
  g_autofree gchar *started_needle = NULL;
  g_autofree gchar *ended_needle = NULL;
  g_autofree gchar *recovered_needle = NULL;
  g_autofree gchar *at_end_text = g_strdup ("");
  gint64 t0;

  run->via = g_test_rand_int_range (0, 2) == 0 ? VIA_KAFKA : VIA_CENTRAL;
  run->at_end = g_test_rand_int_range (0, 2) == 1;
  run->victim = r < AT_START_RUNS ? VICTIM_ENGINE : victims[(r - AT_START_RUNS) % n_victims];
  if (r < AT_START_RUNS)
    {
      /* the first runs: a request from Kafka, killed as its session
       * starts, before its offset is committed: it comes again */
      run->via = VIA_KAFKA;
      run->at_end = TRUE;
      run->end_offset_ms = -DURATION_S * 1000;
    }
  else if (run->at_end && run->victim != VICTIM_BROKER)
    run->end_offset_ms = g_test_rand_int_range (AT_END_FROM_MS, AT_END_TO_MS + 1);
  else
    {
      /* the broker dies at any moment: its restart takes seconds anyway */
      run->at_end = FALSE;
      run->kill_ms = g_test_rand_int_range (0, KILL_MAX_MS + 1);
    }
  run->driver = g_strdup_printf ("%s-%03u", DRIVER, r);
  wait_quiet (f, run->via == VIA_KAFKA);

  t0 = g_get_monotonic_time ();
  if (run->via == VIA_KAFKA)
    evcp_sys_produce_request (f->bootstrap, CP, run->driver, POWER, DURATION_S);
  else
    {
      g_autofree gchar *cmd = g_strdup_printf ("authorize %s %s %g %d", CP, run->driver, POWER, DURATION_S);
      g_autofree gchar *answer = evcp_test_central_command (f->central, cmd);
      g_autofree gchar *prefix = g_strdup_printf ("OK authorize %s ", CP);

      if (!g_str_has_prefix (answer, prefix))
        g_error ("%s: %s", cmd, answer);
      run->central_session = g_strdup (answer + strlen (prefix));
    }
  if (run->at_end)
    kill_at_end (f, run);
  else
    evcp_sys_wait_until_time (t0 + (gint64) run->kill_ms * 1000);
  run->kill_ms = (gint) ((g_get_monotonic_time () - t0) / 1000);
  if (run->victim != VICTIM_ENGINE)
    {
      kill_other (f, run, t0);
      return;
    }
  evcp_sys_engine_kill (f->engine);

  /* what the killed Engine had done (its log up to the kill) */
  started_needle = g_strdup_printf (" for %s: ", run->driver);
  ended_needle = g_strdup_printf (" of %s ended (", run->driver);
  run->started_before_kill = evcp_sys_engine_log_contains (f->engine, started_needle);
  run->ended_before_kill = evcp_sys_engine_log_contains (f->engine, ended_needle);
  {
    /* the session file with the seq of a ticket being written */
    g_autofree gchar *path = g_build_filename (f->state_dir, "session.json", NULL);
    g_autofree gchar *contents = NULL;

    run->ticket_in_progress = g_file_get_contents (path, &contents, NULL, NULL) &&
                              strstr (contents, "\"ticket_seq\"") != NULL;
  }

  if (run->at_end)
    {
      g_free (at_end_text);
      at_end_text = g_strdup_printf (" (%+d ms from the end of the session)", run->end_offset_ms);
    }
  spawn_engine (f);
  recovered_needle = g_strdup_printf (" of %s left open by the previous run", run->driver);
  g_test_message ("run %u: %s, SIGKILL %d ms after the request%s, %s", r,
                  run->via == VIA_KAFKA ? "CHARGING_REQUEST on Kafka" : "AUTHORIZE from Central",
                  run->kill_ms, at_end_text,
                  !run->started_before_kill ? "before the session started" :
                  run->ticket_in_progress ? "while its ticket was being written" :
                  !run->ended_before_kill ? "while supplying" : "after the session ended");
  /* wait for the Kafka consumer only when the request came that way */
  wait_quiet (f, run->via == VIA_KAFKA);
  run->recovered = evcp_sys_engine_log_contains (f->engine, recovered_needle);
}

/* ---- the Monitor's seqs ------------------------------------------------------ */

static gboolean
monitor_outbox_empty (gpointer data)
{
  return evcp_sys_outbox_pending (data) == 0;
}

/* Stops the Monitor (SIGSTOP, then SIGKILL) at a moment when its outbox is
 * empty: everything it numbered was acknowledged. Returns its next seq. */
static gint64
stop_monitor_idle (Fixture *f)
{
  GPid pid = (GPid) g_ascii_strtoll (g_subprocess_get_identifier (f->monitor), NULL, 10);
  gint64 deadline = g_get_monotonic_time () + QUIET_MS * 1000;

  while (g_get_monotonic_time () < deadline)
    {
      g_assert_true (evcp_test_wait_until (NULL, monitor_outbox_empty, f->monitor_state_dir, QUIET_MS));
      kill (pid, SIGSTOP);
      if (evcp_sys_outbox_pending (f->monitor_state_dir) == 0)
        {
          gint64 next = evcp_sys_outbox_next_seq (f->monitor_state_dir);

          kill_monitor (f);
          return next;
        }
      kill (pid, SIGCONT);
    }
  g_error ("the Monitor's outbox was never empty while it was stopped");
}

/* Every event the Monitor numbered (1..@last) is on monitoring_events, at
 * least once; copies of one seq are the same event (a re-send after a
 * kill, never another event under a reused seq). Returns the copies. */
static guint
assert_monitor_events (Fixture *f, gint64 last)
{
  g_autoptr(GHashTable) by_seq = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);
  gint64 deadline = g_get_monotonic_time () + QUIET_MS * 1000;
  guint copies = 0;

  while ((gint64) g_hash_table_size (by_seq) < last && g_get_monotonic_time () < deadline)
    {
      g_autoptr(GPtrArray) records = evcp_test_consumer_wait_for (f->monitoring, G_MAXUINT, 200);

      for (guint i = 0; i < records->len; i++)
        {
          g_autoptr(JsonNode) node = evcp_test_record_parse_json (g_ptr_array_index (records, i), NULL);
          JsonObject *data;
          g_autofree gchar *what = NULL;
          const gchar *seen;
          gint64 seq;

          g_assert_nonnull (node);
          data = json_object_get_object_member (json_node_get_object (node), "data");
          g_assert_nonnull (data);
          if (g_strcmp0 (json_object_get_string_member_with_default (data, "id", ""), CP) != 0)
            continue;
          seq = json_object_get_int_member_with_default (data, "seq", -1);
          g_assert_cmpint (seq, >=, 1);
          g_assert_cmpint (seq, <=, last);
          what = g_strdup_printf ("%s %s %s", json_object_get_string_member_with_default (data, "event", "?"),
                                  json_object_get_string_member_with_default (data, "status", "?"),
                                  json_object_get_string_member_with_default (data, "timestamp", "?"));
          seen = g_hash_table_lookup (by_seq, &seq);
          if (seen != NULL)
            {
              g_assert_cmpstr (seen, ==, what);
              copies++;
            }
          else
            g_hash_table_insert (by_seq, g_memdup2 (&seq, sizeof seq), g_steal_pointer (&what));
        }
    }
  for (gint64 seq = 1; seq <= last; seq++)
    if (!g_hash_table_contains (by_seq, &seq))
      g_error ("the Monitor's event %" G_GINT64_FORMAT " never reached monitoring_events", seq);
  return copies;
}

/* ---- the test ------------------------------------------------------------- */

static void
test_kill_at_random (Fixture *f, gconstpointer data)
{
  g_autoptr(GPtrArray) tickets = NULL;
  g_autoptr(GPtrArray) ids = NULL;
  g_autoptr(GArray) seqs = NULL;
  g_autoptr(GHashTable) ended_seqs = g_hash_table_new (g_int64_hash, g_int64_equal);
  gint64 next_seq, gaps, monitor_next_seq;
  g_autoptr(GArray) monitor_seqs = NULL;
  guint victim_runs[N_VICTIMS] = { 0, 0, 0, 0 };
  guint killed_supplying = 0, recovered = 0, redelivered = 0, copies = 0, refused = 0, lost_commands = 0;
  guint in_ticket = 0, in_ticket_rewritten = 0;
  guint by_reason[2] = { 0, 0 };

  g_assert_true (evcp_sys_engine_wait_log (f->engine, "Kafka assigned", WAIT_MS));
  for (guint r = 0; r < n_runs; r++)
    run_once (f, r);
  wait_quiet (f, TRUE);

  next_seq = evcp_sys_outbox_next_seq (f->state_dir);
  gaps = evcp_test_central_get_stat (f->central, "gaps");
  g_test_message ("%u runs in %.1f s; the Engine's last seq %" G_GINT64_FORMAT "; Central's stats: %" G_GINT64_FORMAT
                  " gaps, %" G_GINT64_FORMAT " duplicates", n_runs, (g_get_monotonic_time () - f->started_at) / 1e6,
                  next_seq - 1, gaps, evcp_test_central_get_stat (f->central, "duplicates"));
  /* nothing is in flight: the Engine may go as it went every time */
  monitor_next_seq = stop_monitor_idle (f);
  evcp_sys_engine_kill (f->engine);
  g_assert_cmpint (evcp_test_central_quit (f->central), ==, 0);
  g_assert_cmpint (gaps, ==, 0);

  /* Central's database, read-only */
  tickets = evcp_sys_db_tickets (f->db_path, CP);
  ids = all_session_ids (f, tickets);
  seqs = evcp_sys_db_seqs (f->db_path, CP, "ENGINE");

  /* every session: one ticket at Central, and on Kafka every copy alike */
  g_assert_cmpuint (tickets->len, ==, ids->len);
  for (guint i = 0; i < ids->len; i++)
    {
      const gchar *id = g_ptr_array_index (ids, i);
      const EvcpSysTicket *t = evcp_sys_tickets_find (tickets, id);
      g_autoptr(GPtrArray) ended = evcp_sys_sessions_find (f->sessions, "SESSION_ENDED", NULL, id);
      g_autoptr(GPtrArray) telemetry = evcp_sys_sessions_find (f->sessions, "SESSION_TELEMETRY", NULL, id);

      if (t == NULL)
        g_error ("session %s has no ticket at Central", id);
      g_assert_cmpint (t->seq, >, 0);
      if (ended->len == 0)
        g_error ("session %s has no SESSION_ENDED on Kafka", id);
      for (guint c = 0; c < ended->len; c++)
        {
          const EvcpSysEvent *e = g_ptr_array_index (ended, c);

          g_assert_cmpstr (e->session_id, ==, id);
          g_assert_cmpint (e->seq, ==, t->seq);
          g_assert_cmpstr (e->reason, ==, t->reason);
          g_assert_cmpstr (e->user_id, ==, t->driver);
          g_assert_cmpfloat_with_epsilon (e->kwh, t->kwh, 0.00051);
          g_assert_cmpfloat_with_epsilon (e->eur, t->eur, 0.0051);
          g_assert_true (c == 0 || e->replayed);
        }
      copies += ended->len - 1;
      /* one seq, one ticket */
      g_assert_false (g_hash_table_contains (ended_seqs, &t->seq));
      g_hash_table_add (ended_seqs, (gpointer) &t->seq);
      /* a whole session, or one closed by the next Engine with what it had
       * saved at its last telemetry */
      if (g_str_equal (t->reason, "DURATION"))
        {
          by_reason[0]++;
          g_assert_cmpfloat_with_epsilon (t->kwh, POWER * DURATION_S / 3600, 0.0005);
        }
      else
        {
          g_assert_cmpstr (t->reason, ==, "FAULT");
          by_reason[1]++;
          g_assert_cmpfloat (t->kwh, <=, POWER * DURATION_S / 3600 + 0.0005);
        }
      for (guint k = 0; k < telemetry->len; k++)
        g_assert_cmpfloat (((EvcpSysEvent *) g_ptr_array_index (telemetry, k))->kwh, <=, t->kwh + 0.0005);
      g_test_message ("session %s of %s: %s %.3f kWh %.2f EUR, seq %" G_GINT64_FORMAT ", %u cop%s on Kafka (from the %s)",
                      id, t->driver, t->reason, t->kwh, t->eur, t->seq, ended->len, ended->len == 1 ? "y" : "ies",
                      t->source);
    }

  /* the seqs at Central: 1..N, N the Engine's last, each once */
  g_assert_cmpuint (seqs->len, ==, (guint) (next_seq - 1));
  for (guint i = 0; i < seqs->len; i++)
    g_assert_cmpint (g_array_index (seqs, gint64, i), ==, (gint64) i + 1);
  /* and the Monitor's events: 1..M, M its last, none lost through the
   * kills of any program; its changes (FAULT, RECOVERED) applied once */
  g_test_message ("the Monitor's last seq %" G_GINT64_FORMAT ": every one on monitoring_events, %u re-sent copies",
                  monitor_next_seq - 1, assert_monitor_events (f, monitor_next_seq - 1));
  g_assert_cmpint (monitor_next_seq - 1, >=, n_runs);
  monitor_seqs = evcp_sys_db_seqs (f->db_path, CP, "MONITOR");
  for (guint i = 1; i < monitor_seqs->len; i++)
    g_assert_cmpint (g_array_index (monitor_seqs, gint64, i), >, g_array_index (monitor_seqs, gint64, i - 1));

  /* every request: sessions, or a refusal */
  for (guint r = 0; r < n_runs; r++)
    {
      Run *run = &f->runs[r];
      g_autoptr(GPtrArray) started = NULL;

      victim_runs[run->victim]++;
      g_autoptr(GPtrArray) refusals = evcp_sys_sessions_find (f->sessions, "REQUEST_REFUSED", run->driver, NULL);
      guint sessions = 0;

      for (guint i = 0; i < tickets->len; i++)
        if (g_strcmp0 (((EvcpSysTicket *) g_ptr_array_index (tickets, i))->driver, run->driver) == 0)
          sessions++;
      started = evcp_sys_sessions_find (f->sessions, "SESSION_STARTED", run->driver, NULL);
      if (run->victim == VICTIM_ENGINE && run->started_before_kill && !run->ended_before_kill)
        killed_supplying++;
      if (run->recovered)
        recovered++;
      if (run->ticket_in_progress)
        {
          in_ticket++;
          /* killed before the ticket was in the outbox: the next Engine wrote
           * it, with the seq saved for it; else it only removed the file */
          if (run->recovered)
            in_ticket_rewritten++;
        }
      refused += refusals->len;
      /* a request taken, not yet committed, when the Engine died comes
       * again to the next one (at least once), which knows it: it takes
       * effect once (before: a second session and a second ticket) */
      if (sessions > 1)
        g_error ("the request of %s was served %u times", run->driver, sessions);
      if (run->via == VIA_CENTRAL && sessions == 1)
        g_assert_nonnull (evcp_sys_tickets_find (tickets, run->central_session));
      if (sessions == 0 && refusals->len == 0)
        {
          /* only an AUTHORIZE can vanish: the Engine died before it took it,
           * and Central keeps no command for a later connection */
          g_assert_true (run->via == VIA_CENTRAL);
          g_assert_true (run->victim == VICTIM_ENGINE);
          g_assert_false (run->started_before_kill);
          lost_commands++;
        }
    }
  redelivered = count_in_engine_logs (f, "delivered again: already served");
  g_test_message ("%u sessions (%u DURATION, %u FAULT), %u killed while supplying, %u while a ticket was being "
                  "written (%u of them written by the next Engine), %u closed by the next Engine, %u requests "
                  "delivered again after a kill and not served twice, %u extra SESSION_ENDED copies, %u refusals, "
                  "%u AUTHORIZE lost with the Engine; Central's seqs 1..%u without gaps", ids->len, by_reason[0],
                  by_reason[1], killed_supplying, in_ticket, in_ticket_rewritten, recovered, redelivered, copies,
                  refused, lost_commands, seqs->len);
  g_test_message ("victims: the Engine %u times, Central %u (%u starts), the Monitor %u (%u starts), "
                  "the broker %u (%s)", victim_runs[VICTIM_ENGINE], victim_runs[VICTIM_CENTRAL], f->n_centrals,
                  victim_runs[VICTIM_MONITOR], f->n_monitors, victim_runs[VICTIM_BROKER],
                  real_brokers != NULL ? "Apache Kafka" : "evcp-kafka-mock");
  /* the test killed the Engine during supplies, not only around them, and
   * requests came again */
  g_assert_cmpuint (killed_supplying, >=, 1);
  g_assert_cmpuint (redelivered, >=, 1);
  g_assert_cmpuint (recovered, >=, 1);
}

int
main (int argc, char **argv)
{
  const gchar *runs = g_getenv ("EVCP_DURABILITY_RUNS");
  const gchar *names = g_getenv ("EVCP_DURABILITY_VICTIMS");
  g_auto(GStrv) wanted = g_strsplit (names != NULL && *names != '\0' ? names : "engine,central,monitor", ",", -1);

  g_test_init (&argc, &argv, NULL);
  real_brokers = g_getenv ("EVCP_DURABILITY_BROKERS");
  if (real_brokers != NULL && *real_brokers == '\0')
    real_brokers = NULL;
  if (real_brokers != NULL)
    {
      guint32 id = g_random_int ();

      g_snprintf (CP, sizeof CP, "CP-D-%08x", id);
      g_snprintf (GROUP, sizeof GROUP, "cp_engine_%s", CP);
      g_snprintf (DRIVER, sizeof DRIVER, "d%08x", id);
    }
  if (runs != NULL && *runs != '\0')
    {
      guint64 n;

      if (!g_ascii_string_to_unsigned (runs, 10, AT_START_RUNS + 1, 100000, &n, NULL))
        g_error ("EVCP_DURABILITY_RUNS=%s: a number of runs from %u is needed", runs, AT_START_RUNS + 1);
      n_runs = (guint) n;
    }
  for (guint i = 0; wanted[i] != NULL; i++)
    {
      guint v;

      for (v = 0; v < N_VICTIMS && !g_str_equal (g_strstrip (wanted[i]), victim_names[v]); v++)
        ;
      if (v == N_VICTIMS)
        g_error ("EVCP_DURABILITY_VICTIMS: unknown victim \"%s\" (engine, central, monitor, broker)", wanted[i]);
      if (v == VICTIM_BROKER && (real_brokers == NULL || g_getenv ("EVCP_REAL_KAFKA") == NULL))
        g_error ("EVCP_DURABILITY_VICTIMS: the broker can be a victim only with a real one "
                 "(EVCP_DURABILITY_BROKERS and EVCP_REAL_KAFKA, the script that started it)");
      victims[n_victims++] = v;
    }
  /* killed links and an unreachable Kafka are logged as warnings */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  g_test_add ("/durability/kill-at-random", Fixture, NULL, fixture_set_up, test_kill_at_random, fixture_tear_down);
  return g_test_run ();
}
