/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The wall clock jumped by an hour, forward or back, during a supply:
 * evcp-engine runs under libfaketime (LD_PRELOAD), its fake time read from
 * a file that the test rewrites while it runs (FAKETIME_TIMESTAMP_FILE,
 * FAKETIME_NO_CACHE=1), monotonic time left alone
 * (FAKETIME_DONT_FAKE_MONOTONIC=1, and DONT_FAKE_MONOTONIC=1, its older
 * name). Its Central is a real evcp-central (socket only), its Kafka
 * evcp-kafka-mock; neither is under libfaketime.
 *
 * The jump must change timestamps only:
 *  - no spurious fault: the session ends DURATION, the health check answers
 *    OK before and after the jump, Central never sees FAULT, and the link to
 *    Central is not dropped (its timeouts and keep-alive are monotonic);
 *  - the same telemetry cadence: SESSION_TELEMETRY about once a second of
 *    the test's monotonic clock, before and after the jump;
 *  - the same max_duration: the session ends after max_duration (4 s) of
 *    monotonic time, within 0.5 s, with kWh = power × 4 s;
 *  - the timestamps of events made after the jump show it (± an hour from
 *    the test's own wall clock), those made before do not.
 */
#include "evcp-build-config.h"

#include <math.h>
#include <signal.h>
#include <string.h>

#include <glib/gstdio.h>

#include "evcp-test-central.h"
#include "evcp-test-system.h"
#include "evcp-test-util.h"

#define CP          "CP-T1"
#define POWER       360.0   /* kW: 0.1 kWh a second */
#define DURATION_S  4
#define JUMP_S      3600
#define WAIT_MS     30000

/* Where Debian (and others) put the library; $EVCP_LIBFAKETIME first. The
 * MT variant serialises the time calls of the Engine's threads. */
static gchar *
find_libfaketime (void)
{
  const gchar *env = g_getenv ("EVCP_LIBFAKETIME");
  static const gchar *const names[] = { "libfaketimeMT.so.1", "libfaketime.so.1" };
  static const gchar *const roots[] = { "/usr/lib", "/usr/local/lib", "/usr/lib64" };

  if (env != NULL && *env != '\0')
    return g_file_test (env, G_FILE_TEST_EXISTS) ? g_strdup (env) : NULL;
  for (guint n = 0; n < G_N_ELEMENTS (names); n++)
    for (guint r = 0; r < G_N_ELEMENTS (roots); r++)
      {
        g_autoptr(GDir) dir = g_dir_open (roots[r], 0, NULL);
        g_autofree gchar *direct = g_build_filename (roots[r], "faketime", names[n], NULL);
        const gchar *sub;

        if (g_file_test (direct, G_FILE_TEST_EXISTS))
          return g_steal_pointer (&direct);
        /* multiarch: /usr/lib/<triplet>/faketime/ */
        while (dir != NULL && (sub = g_dir_read_name (dir)) != NULL)
          {
            g_autofree gchar *path = g_build_filename (roots[r], sub, "faketime", names[n], NULL);

            if (g_file_test (path, G_FILE_TEST_EXISTS))
              return g_steal_pointer (&path);
          }
      }
  return NULL;
}

typedef struct {
  gchar               *tmpdir;
  gchar               *db_path;
  gchar               *state_dir;
  gchar               *rc;          /* FAKETIME_TIMESTAMP_FILE */
  gchar               *lib;
  EvcpTestMockProcess *mock;
  EvcpSysSessions     *sessions;
  EvcpTestCentral     *central;
  EvcpSysEngine       *engine;
} Fixture;

static void
set_fake_offset (Fixture *f, gint offset_s)
{
  g_autoptr(GError) error = NULL;
  g_autofree gchar *text = g_strdup_printf ("%+d\n", offset_s);

  /* written whole by rename: the Engine never reads half a file */
  g_assert_true (g_file_set_contents (f->rc, text, -1, &error));
  g_assert_no_error (error);
}

/* libfaketime working here at all: /bin/date under it, with the file
 * mechanism, an hour ahead. NULL if so, else why not. */
static gchar *
probe_libfaketime (Fixture *f)
{
  g_autoptr(GSubprocessLauncher) launcher = evcp_test_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                                                    G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr(GSubprocess) date = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *out = NULL, *err = NULL;
  gint64 before, printed;

  set_fake_offset (f, JUMP_S);
  g_subprocess_launcher_setenv (launcher, "LD_PRELOAD", f->lib, TRUE);
  g_subprocess_launcher_setenv (launcher, "FAKETIME_TIMESTAMP_FILE", f->rc, TRUE);
  g_subprocess_launcher_setenv (launcher, "FAKETIME_NO_CACHE", "1", TRUE);
  g_subprocess_launcher_setenv (launcher, "FAKETIME_DONT_FAKE_MONOTONIC", "1", TRUE);
  g_subprocess_launcher_unsetenv (launcher, "FAKETIME");
  before = g_get_real_time () / G_USEC_PER_SEC;
  date = g_subprocess_launcher_spawn (launcher, &error, "date", "+%s", NULL);
  if (date == NULL)
    return g_strdup_printf ("cannot run date to probe libfaketime: %s", error->message);
  if (!g_subprocess_communicate_utf8 (date, NULL, NULL, &out, &err, &error))
    return g_strdup_printf ("date under libfaketime: %s", error->message);
  set_fake_offset (f, 0);
  if (err != NULL && *err != '\0')
    return g_strdup_printf ("LD_PRELOAD=%s: %s", f->lib, g_strstrip (err));
  if (!g_ascii_string_to_signed (g_strstrip (out), 10, 0, G_MAXINT64, &printed, NULL))
    return g_strdup_printf ("date under libfaketime printed “%s”", out);
  if (llabs (printed - before - JUMP_S) > 60)
    return g_strdup_printf ("%s is preloaded but does not move the wall clock: date printed %" G_GINT64_FORMAT
                            ", %" G_GINT64_FORMAT " s from now instead of %d", f->lib, printed, printed - before, JUMP_S);
  return NULL;
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree gchar *why = NULL;
  g_autofree gchar *log = NULL;
  g_autofree gchar *preload = NULL;
  g_autofree gchar *rc_env = NULL;
  const gchar *bootstrap;

  f->tmpdir = g_dir_make_tmp ("evcp-test-faketime-XXXXXX", &error);
  g_assert_no_error (error);
  g_test_message ("logs and state in %s (left there if the test aborts)", f->tmpdir);
  f->db_path = g_build_filename (f->tmpdir, "central.db", NULL);
  f->state_dir = g_build_filename (f->tmpdir, "engine-state", NULL);
  f->rc = g_build_filename (f->tmpdir, "faketime.rc", NULL);
  f->lib = find_libfaketime ();
  if (f->lib == NULL)
    {
      g_test_skip ("libfaketime not found (Debian: apt install libfaketime faketime, as scripts/setup-deps does; "
                   "or set EVCP_LIBFAKETIME to libfaketime.so.1)");
      return;
    }
  why = probe_libfaketime (f);
  if (why != NULL)
    {
      g_test_skip (why);
      return;
    }
  set_fake_offset (f, 0);

  f->mock = evcp_test_mock_process_start (NULL, &error);
  g_assert_no_error (error);
  bootstrap = evcp_test_mock_process_get_bootstrap (f->mock);
  f->sessions = evcp_sys_sessions_new (bootstrap);
  f->central = evcp_test_central_start (f->db_path, NULL);

  log = g_build_filename (f->tmpdir, "engine.log", NULL);
  preload = g_strdup_printf ("LD_PRELOAD=%s", f->lib);
  rc_env = g_strdup_printf ("FAKETIME_TIMESTAMP_FILE=%s", f->rc);
  f->engine = evcp_sys_engine_spawn (&(EvcpSysEngineOptions) {
    .cp_id = CP, .brokers = bootstrap, .central_port = evcp_test_central_get_port (f->central),
    .state_dir = f->state_dir, .config = NULL, .log_path = log,
    .extra_env = (const gchar *[]) {
      preload, rc_env, "FAKETIME_NO_CACHE=1", "FAKETIME_DONT_FAKE_MONOTONIC=1", "DONT_FAKE_MONOTONIC=1", NULL,
    },
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
  g_clear_pointer (&f->mock, evcp_test_mock_process_free);
  evcp_test_remove_tree (f->tmpdir);
  g_free (f->tmpdir);
  g_free (f->db_path);
  g_free (f->state_dir);
  g_free (f->rc);
  g_free (f->lib);
}

typedef struct {
  Fixture     *f;
  const gchar *state;
  gint64       last_poll;
} CpWait;

static gboolean
cp_is (gpointer data)
{
  CpWait *w = data;
  g_autoptr(JsonObject) cp = NULL;

  if (g_get_monotonic_time () - w->last_poll < 50000)
    return FALSE;
  w->last_poll = g_get_monotonic_time ();
  cp = evcp_test_central_get_cp (w->f->central, CP);
  return cp != NULL && json_object_get_boolean_member (cp, "engine") &&
         g_strcmp0 (json_object_get_string_member (cp, "state"), w->state) == 0;
}

static void
wait_cp_state (Fixture *f, const gchar *state)
{
  CpWait w = { f, state, 0 };

  g_assert_true (evcp_test_wait_until (NULL, cp_is, &w, WAIT_MS));
}

/* An event made before the jump has the test's wall time; one made after it,
 * that time plus @offset_s. Kafka and the outbox take a moment: 2 s. */
static void
assert_timestamp (const EvcpSysEvent *e, gint offset_s, const gchar *what)
{
  gint64 shift = e->timestamp_us - e->arrived_wall_us;

  g_test_message ("  %s %s: timestamp %+.1f s from the test's wall clock", e->kind, what, shift / 1e6);
  g_assert_cmpint (shift, >=, (gint64) offset_s * G_USEC_PER_SEC - 2 * G_USEC_PER_SEC);
  g_assert_cmpint (shift, <=, (gint64) offset_s * G_USEC_PER_SEC + 200000);
}

static void
test_jump (Fixture *f, gconstpointer data)
{
  gint offset = GPOINTER_TO_INT (data);
  const EvcpSysEvent *started, *first, *ended;
  g_autoptr(GPtrArray) telemetry = NULL;
  g_autoptr(GPtrArray) tickets = NULL;
  g_autofree gchar *health = NULL;
  g_autofree gchar *central_log = NULL;
  gint64 jump_at, requested, span;

  if (f->engine == NULL)
    return;   /* skipped in set-up, saying why */

  g_assert_true (evcp_sys_engine_wait_log (f->engine, "Kafka assigned", WAIT_MS));
  wait_cp_state (f, "ACTIVE");

  requested = g_get_monotonic_time ();
  evcp_sys_produce_request (evcp_test_mock_process_get_bootstrap (f->mock), CP, "driver-t", POWER, DURATION_S);
  started = evcp_sys_sessions_wait (f->sessions, "SESSION_STARTED", "driver-t", NULL, WAIT_MS);
  g_assert_nonnull (started);
  first = evcp_sys_sessions_wait (f->sessions, "SESSION_TELEMETRY", NULL, started->session_id, WAIT_MS);
  g_assert_nonnull (first);

  /* just after the first telemetry (1 s into the session), well before the
   * second is made */
  evcp_sys_wait_until_time (first->arrived_us + 300000);
  set_fake_offset (f, offset);
  jump_at = g_get_monotonic_time ();
  g_test_message ("wall clock of the Engine jumped by %+d s, %.2f s after the first telemetry",
                  offset, (jump_at - first->arrived_us) / 1e6);
  health = evcp_sys_health_check (evcp_sys_engine_get_health_port (f->engine), CP);
  g_assert_cmpstr (health, ==, "OK#" CP);

  ended = evcp_sys_sessions_wait (f->sessions, "SESSION_ENDED", NULL, started->session_id, 3 * DURATION_S * 1000);
  g_assert_nonnull (ended);
  g_clear_pointer (&health, g_free);
  health = evcp_sys_health_check (evcp_sys_engine_get_health_port (f->engine), CP);
  g_assert_cmpstr (health, ==, "OK#" CP);

  /* no spurious fault, the same max_duration */
  g_assert_cmpstr (ended->reason, ==, "DURATION");
  g_assert_cmpfloat_with_epsilon (ended->kwh, POWER * DURATION_S / 3600, 0.0005);
  g_assert_cmpfloat_with_epsilon (ended->eur, 0.12, 0.0001);   /* × 0.30 EUR/kWh, the default price */
  telemetry = evcp_sys_sessions_find (f->sessions, "SESSION_TELEMETRY", NULL, started->session_id);
  for (guint i = 0; i < telemetry->len; i++)
    {
      const EvcpSysEvent *e = g_ptr_array_index (telemetry, i);

      g_test_message ("  SESSION_TELEMETRY %u: %.3f kWh, arrived %+.3f s after the first (monotonic)",
                      i + 1, e->kwh, (e->arrived_us - first->arrived_us) / 1e6);
      g_assert_cmpfloat_with_epsilon (e->kwh, POWER * (i + 1) / 3600, POWER * 0.15 / 3600 + 0.0005);
    }
  /* once a second of monotonic time: at 1, 2, 3 and 4 s */
  g_assert_cmpuint (telemetry->len, ==, DURATION_S);
  for (guint i = 1; i < telemetry->len; i++)
    {
      gint64 gap = ((EvcpSysEvent *) g_ptr_array_index (telemetry, i))->arrived_us -
                   ((EvcpSysEvent *) g_ptr_array_index (telemetry, i - 1))->arrived_us;

      g_assert_cmpint (gap, >=, 700000);
      g_assert_cmpint (gap, <=, 1300000);
    }
  /* the session lasted max_duration of monotonic time: first report at 1 s,
   * last (with the end) at 4 s */
  span = ((EvcpSysEvent *) g_ptr_array_index (telemetry, telemetry->len - 1))->arrived_us - first->arrived_us + G_USEC_PER_SEC;
  g_test_message ("session: %.3f s of monotonic time (from the first to the last telemetry, plus 1 s); "
                  "SESSION_ENDED %.3f s after the request", span / 1e6, (ended->arrived_us - requested) / 1e6);
  g_assert_cmpint (span, >=, DURATION_S * G_USEC_PER_SEC - 500000);
  g_assert_cmpint (span, <=, DURATION_S * G_USEC_PER_SEC + 500000);
  g_assert_cmpint (ended->arrived_us - requested, >=, DURATION_S * G_USEC_PER_SEC - 500000);

  /* the timestamps: before the jump as the test's clock, after it shifted;
   * the first telemetry was made before the jump (it had arrived), the
   * others a second apart, after it */
  assert_timestamp (started, 0, "(before the jump)");
  for (guint i = 0; i < telemetry->len; i++)
    {
      const EvcpSysEvent *e = g_ptr_array_index (telemetry, i);

      if (i == 0)
        assert_timestamp (e, 0, "(before the jump)");
      else
        {
          g_assert_cmpint (e->arrived_us, >, jump_at);
          assert_timestamp (e, offset, "(after the jump)");
        }
    }
  assert_timestamp (ended, offset, "(after the jump)");

  /* Central: the ticket, never a fault, the link never dropped */
  wait_cp_state (f, "ACTIVE");
  g_assert_true (g_file_get_contents (evcp_test_central_get_log_path (f->central), &central_log, NULL, NULL));
  g_assert_cmpuint (evcp_sys_count_in_file (evcp_test_central_get_log_path (f->central), ": ENGINE connected from"), ==, 1);
  g_assert_null (strstr (central_log, "ENGINE disconnected"));
  g_assert_cmpint (evcp_test_central_quit (f->central), ==, 0);
  tickets = evcp_sys_db_tickets (f->db_path, CP);
  g_assert_cmpuint (tickets->len, ==, 1);
  g_assert_cmpstr (((EvcpSysTicket *) g_ptr_array_index (tickets, 0))->reason, ==, "DURATION");
  g_assert_cmpint (((EvcpSysTicket *) g_ptr_array_index (tickets, 0))->seq, ==, ended->seq);
  g_assert_cmpuint (evcp_sys_db_count_events (f->db_path, CP, "STATE", "FAULT"), ==, 0);
  g_assert_false (evcp_sys_engine_log_contains (f->engine, "Fault:"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  g_test_add ("/faketime/forward-an-hour", Fixture, GINT_TO_POINTER (JUMP_S),
              fixture_set_up, test_jump, fixture_tear_down);
  g_test_add ("/faketime/back-an-hour", Fixture, GINT_TO_POINTER (-JUMP_S),
              fixture_set_up, test_jump, fixture_tear_down);
  return g_test_run ();
}
