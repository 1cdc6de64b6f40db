/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Engine's state files against hostile contents and a failing disk,
 * with real processes (evcp-kafka-mock, evcp-central, evcp-engine):
 *  - session.json nested 100,000 deep, a symbolic link to /dev/zero, a
 *    sparse file of 2 GB, or a session whose ticket no frame can hold: the
 *    Engine starts at once, small, and moves the file aside
 *    (session.json.unreadable-<time>) instead of deleting it;
 *  - outbox.json nested 100,000 deep: the Engine refuses to start with a
 *    clear reason and leaves the file where it is;
 *  - a full disk (ENOSPC), then a read-only one (EROFS), made by a shim
 *    preloaded into the Engine (tests/evcp-test-failwrite.c): the ticket of
 *    the session under way is kept (in memory, and in the session file it
 *    could write last, through a SIGKILL), new requests are refused with the
 *    reason "storage: …", and all is written and served again once the
 *    disk takes writes. Every ticket reaches Central exactly once.
 */
#include "evcp-build-config.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "evcp-test-central.h"
#include "evcp-test-system.h"
#include "evcp-test-util.h"

#define CP         "CP-S1"
#define GROUP      "cp_engine_CP-S1"
#define POWER      360.0     /* kW: 0.1 kWh a second */
#define WAIT_MS    30000
#define BOMB_DEPTH 100000

typedef struct {
  gchar               *tmpdir;
  gchar               *db_path;
  gchar               *state_dir;
  gchar               *config;
  gchar               *flag;        /* the shim's switch */
  EvcpTestMockProcess *mock;
  EvcpSysSessions     *sessions;
  EvcpTestCentral     *central;
  EvcpSysEngine       *engine;
  guint                n_engines;
} Fixture;

static void
spawn_engine (Fixture *f, gboolean with_shim)
{
  g_autofree gchar *log = g_strdup_printf ("%s/engine-%02u.log", f->tmpdir, f->n_engines++);
  g_autofree gchar *preload = g_strdup_printf ("LD_PRELOAD=%s", g_getenv ("EVCP_FAILWRITE_SHIM"));
  g_autofree gchar *dir = g_strdup_printf ("EVCP_FAILWRITE_DIR=%s", f->state_dir);
  g_autofree gchar *flag = g_strdup_printf ("EVCP_FAILWRITE_FLAG=%s", f->flag);
  /* an ASan build lets a preloaded library come before its runtime */
  g_autofree gchar *asan = g_strdup_printf ("ASAN_OPTIONS=%s%sverify_asan_link_order=0",
                                            g_getenv ("ASAN_OPTIONS") != NULL ? g_getenv ("ASAN_OPTIONS") : "",
                                            g_getenv ("ASAN_OPTIONS") != NULL ? ":" : "");
  const gchar *env[] = { preload, dir, flag, asan, NULL };

  g_clear_pointer (&f->engine, evcp_sys_engine_free);
  f->engine = evcp_sys_engine_spawn (&(EvcpSysEngineOptions) {
    .cp_id = CP, .brokers = evcp_test_mock_process_get_bootstrap (f->mock), .group_id = GROUP,
    .central_port = evcp_test_central_get_port (f->central), .state_dir = f->state_dir,
    .config = f->config, .log_path = log, .extra_env = with_shim ? env : NULL,
  });
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  const gchar *bootstrap;

  f->tmpdir = g_dir_make_tmp ("evcp-test-state-files-XXXXXX", &error);
  g_assert_no_error (error);
  g_test_message ("logs and state in %s (left there if the test aborts)", f->tmpdir);
  f->db_path = g_build_filename (f->tmpdir, "central.db", NULL);
  f->state_dir = g_build_filename (f->tmpdir, "engine-state", NULL);
  f->config = g_build_filename (f->tmpdir, "engine.conf", NULL);
  f->flag = g_build_filename (f->tmpdir, "disk-fails", NULL);
  g_assert_cmpint (g_mkdir (f->state_dir, 0700), ==, 0);
  /* a killed member's partitions go to the next one after 6 s */
  g_assert_true (g_file_set_contents (f->config,
                                      "[evcp]\nlocation=state files\nprice=0.40\n"
                                      "[librdkafka-consumer]\nsession.timeout.ms=6000\n"
                                      "heartbeat.interval.ms=1000\n", -1, &error));
  f->mock = evcp_test_mock_process_start (NULL, &error);
  g_assert_no_error (error);
  bootstrap = evcp_test_mock_process_get_bootstrap (f->mock);
  f->sessions = evcp_sys_sessions_new (bootstrap);
  f->central = evcp_test_central_start (f->db_path, (const gchar *[]) { "--kafka-brokers", bootstrap, NULL });
}

static void
remove_tree (const gchar *path)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR) && !g_file_test (path, G_FILE_TEST_IS_SYMLINK))
    {
      g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
      const gchar *name;

      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree gchar *child = g_build_filename (path, name, NULL);

          remove_tree (child);
        }
      g_rmdir (path);
    }
  else
    g_unlink (path);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  g_clear_pointer (&f->engine, evcp_sys_engine_free);
  g_clear_pointer (&f->central, evcp_test_central_free);
  g_clear_pointer (&f->sessions, evcp_sys_sessions_free);
  g_assert_true (evcp_test_mock_process_stop (f->mock, &error));
  g_assert_no_error (error);
  evcp_test_mock_process_free (f->mock);
  if (g_test_failed ())
    {
      for (guint i = 0; i < f->n_engines; i++)
        {
          g_autofree gchar *log = g_strdup_printf ("%s/engine-%02u.log", f->tmpdir, i);

          evcp_sys_dump_file (log);
        }
    }
  else
    remove_tree (f->tmpdir);
  g_free (f->tmpdir);
  g_free (f->db_path);
  g_free (f->state_dir);
  g_free (f->config);
  g_free (f->flag);
}

static gchar *
nesting_bomb (const gchar *prefix, const gchar *suffix)
{
  GString *s = g_string_new (prefix);

  for (guint i = 0; i < BOMB_DEPTH; i++)
    g_string_append (s, "{\"a\":");
  g_string_append_c (s, '1');
  for (guint i = 0; i < BOMB_DEPTH; i++)
    g_string_append_c (s, '}');
  g_string_append (s, suffix);
  return g_string_free (s, FALSE);
}

/* The file moved aside in the state directory, or NULL. */
static gchar *
find_aside (Fixture *f, const gchar *name)
{
  g_autoptr(GDir) dir = g_dir_open (f->state_dir, 0, NULL);
  g_autofree gchar *prefix = g_strconcat (name, ".unreadable-", NULL);
  const gchar *entry;

  while (dir != NULL && (entry = g_dir_read_name (dir)) != NULL)
    if (g_str_has_prefix (entry, prefix))
      return g_build_filename (f->state_dir, entry, NULL);
  return NULL;
}

/* The Engine's peak resident memory, in kB (VmHWM). */
static gint64
engine_peak_kb (Fixture *f)
{
  const gchar *id = g_subprocess_get_identifier (evcp_sys_engine_get_subprocess (f->engine));
  g_autofree gchar *path = g_strdup_printf ("/proc/%s/status", id);
  g_autofree gchar *status = NULL;
  const gchar *line;

  g_assert_nonnull (id);
  g_assert_true (g_file_get_contents (path, &status, NULL, NULL));
  line = strstr (status, "VmHWM:");
  g_assert_nonnull (line);
  return g_ascii_strtoll (line + strlen ("VmHWM:"), NULL, 10);
}

typedef enum { BOMB, DEV_ZERO, HUGE, BAD_FIELD } SessionCase;

static void
write_session_case (Fixture *f, SessionCase c, const gchar *path)
{
  g_autoptr(GError) error = NULL;

  switch (c)
    {
    case BOMB:
      {
        g_autofree gchar *bomb = nesting_bomb ("{\"ticket_seq\":1,\"session\":", "}");

        g_assert_true (g_file_set_contents (path, bomb, -1, &error));
        break;
      }
    case DEV_ZERO:
      g_assert_cmpint (symlink ("/dev/zero", path), ==, 0);
      break;
    case HUGE:
      {
        FILE *file = fopen (path, "w");

        /* sparse: 2 GB that cost no disk */
        g_assert_nonnull (file);
        g_assert_cmpint (fseeko (file, (off_t) 2 << 30, SEEK_SET), ==, 0);
        g_assert_cmpint (fputc ('}', file), ==, '}');
        g_assert_cmpint (fclose (file), ==, 0);
        break;
      }
    case BAD_FIELD:
      /* valid JSON, but a driver no ticket frame can hold */
      g_assert_true (g_file_set_contents (path, "{\"session\":{\"session_id\":\"S-1\","
                                          "\"driver\":\"u#1\\u0003\",\"kwh\":1.5}}", -1, &error));
      break;
    }
}

static void
test_session_file_unreadable (Fixture *f, gconstpointer data)
{
  static const gchar *const names[] = { "nested 100,000 deep", "a link to /dev/zero", "2 GB",
                                        "with a driver no frame can hold" };
  g_autofree gchar *path = g_build_filename (f->state_dir, "session.json", NULL);

  for (SessionCase c = BOMB; c <= BAD_FIELD; c++)
    {
      g_autofree gchar *aside = NULL;
      g_autofree gchar *health = NULL;
      g_autofree gchar *ok = g_strdup_printf ("OK#%s", CP);
      gint64 start = g_get_monotonic_time ();

      write_session_case (f, c, path);
      spawn_engine (f, FALSE);
      g_assert_true (evcp_sys_engine_wait_log (f->engine, "started (state in", WAIT_MS));
      g_assert_true (evcp_sys_engine_log_contains (f->engine, "Unreadable session file"));
      g_assert_true (evcp_sys_engine_log_contains (f->engine, "moved to"));
      health = evcp_sys_health_check (evcp_sys_engine_get_health_port (f->engine), CP);
      g_assert_cmpstr (health, ==, ok);
      g_test_message ("session.json %s: the Engine up in %" G_GINT64_FORMAT " ms, peak RSS %"
                      G_GINT64_FORMAT " kB", names[c], (g_get_monotonic_time () - start) / 1000,
                      engine_peak_kb (f));
      g_assert_cmpint (engine_peak_kb (f), <, 200 * 1024);
      /* kept, not deleted */
      g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS | G_FILE_TEST_IS_SYMLINK));
      aside = find_aside (f, "session.json");
      g_assert_nonnull (aside);
      if (c == DEV_ZERO)
        g_assert_true (g_file_test (aside, G_FILE_TEST_IS_SYMLINK));
      g_assert_cmpint (evcp_sys_engine_term (f->engine), ==, 0);
      g_assert_cmpint (g_unlink (aside), ==, 0);
    }
}

static gboolean
engine_exited (gpointer data)
{
  return !evcp_sys_engine_is_running (data);
}

static void
test_outbox_unreadable (Fixture *f, gconstpointer data)
{
  g_autofree gchar *path = g_build_filename (f->state_dir, "outbox.json", NULL);
  g_autofree gchar *bomb = nesting_bomb ("{\"version\":1,\"next_seq\":3,\"records\":[", "]}");
  g_autofree gchar *after = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (g_file_set_contents (path, bomb, -1, &error));
  spawn_engine (f, FALSE);
  /* it exits by itself, at once */
  g_assert_true (evcp_test_wait_until (NULL, engine_exited, f->engine, WAIT_MS));
  g_assert_cmpint (evcp_sys_engine_term (f->engine), !=, 0);
  g_assert_true (evcp_sys_engine_log_contains (f->engine, "is corrupt"));
  g_assert_true (evcp_sys_engine_log_contains (f->engine, "nesting deeper than"));
  g_assert_true (g_file_get_contents (path, &after, NULL, &error));
  g_assert_cmpstr (after, ==, bomb);
}

/* ---- a full disk, then a read-only one ----------------------------------------- */

static void
set_disk (Fixture *f, const gchar *mode)
{
  if (mode == NULL)
    g_assert_cmpint (g_unlink (f->flag), ==, 0);
  else
    g_assert_true (g_file_set_contents (f->flag, mode, -1, NULL));
}

static gint64
central_tickets (Fixture *f)
{
  g_autoptr(JsonObject) cp = evcp_test_central_get_cp (f->central, CP);

  return cp != NULL ? json_object_get_int_member (cp, "tickets") : 0;
}

typedef struct {
  Fixture *f;
  gint64   count;
} TicketWait;

static gboolean
tickets_reached (gpointer data)
{
  TicketWait *w = data;

  return central_tickets (w->f) >= w->count;
}

static void
wait_tickets (Fixture *f, gint64 count)
{
  TicketWait w = { f, count };

  g_assert_true (evcp_test_wait_until (NULL, tickets_reached, &w, WAIT_MS));
}

static gboolean
state_clean (gpointer data)
{
  Fixture *f = data;
  g_autofree gchar *session = g_build_filename (f->state_dir, "session.json", NULL);

  return !g_file_test (session, G_FILE_TEST_EXISTS) && evcp_sys_outbox_pending (f->state_dir) == 0;
}

typedef struct {
  Fixture     *f;
  const gchar *needle;
  guint        count;
} LogWait;

static gboolean
log_count_reached (gpointer data)
{
  LogWait *w = data;

  return evcp_sys_count_in_file (evcp_sys_engine_get_log_path (w->f->engine), w->needle) >= w->count;
}

/* Until the Engine's log has @count lines with @needle. */
static void
wait_log_count (Fixture *f, const gchar *needle, guint count)
{
  LogWait w = { f, needle, count };

  g_assert_true (evcp_test_wait_until (NULL, log_count_reached, &w, WAIT_MS));
}

static const EvcpSysEvent *
request (Fixture *f, const gchar *driver, gint64 duration_s, const gchar *expected_kind)
{
  const EvcpSysEvent *event;

  evcp_sys_produce_request (evcp_test_mock_process_get_bootstrap (f->mock), CP, driver, POWER, duration_s);
  event = evcp_sys_sessions_wait (f->sessions, expected_kind, driver, NULL, WAIT_MS);
  g_assert_nonnull (event);
  return event;
}

static void
test_disk_full (Fixture *f, gconstpointer data)
{
  g_autoptr(GPtrArray) tickets = NULL;
  g_autofree gchar *s1 = NULL;
  g_autofree gchar *s3 = NULL;
  const EvcpSysEvent *refused;

  spawn_engine (f, TRUE);
  g_assert_true (evcp_sys_engine_wait_log (f->engine, "Kafka assigned", WAIT_MS));

  /* a full disk under a session: its ticket waits in memory */
  s1 = g_strdup (request (f, "drv-1", 3, "SESSION_STARTED")->session_id);
  set_disk (f, "ENOSPC");
  g_assert_true (evcp_sys_engine_wait_log (f->engine, "the event is kept in memory", WAIT_MS));
  g_assert_true (evcp_sys_engine_log_contains (f->engine, "No space left on device"));
  g_assert_cmpint (central_tickets (f), ==, 0);

  /* no new session meanwhile, and the reason says why */
  refused = request (f, "drv-2", 3, "REQUEST_REFUSED");
  g_test_message ("refused: %s", refused->reason);
  g_assert_true (g_str_has_prefix (refused->reason, "storage: "));
  g_assert_true (evcp_sys_engine_is_running (f->engine));
  /* the Monitor hears it: OK with a warning (its ENGINE alert) */
  {
    g_autofree gchar *health = evcp_sys_health_check (evcp_sys_engine_get_health_port (f->engine), CP);

    g_test_message ("health: %s", health);
    g_assert_true (g_str_has_prefix (health, "OK#" CP "#"));
    g_assert_nonnull (strstr (health, "wait for the disk"));
  }

  /* space again: the ticket is written and delivered, sessions start again */
  set_disk (f, NULL);
  g_assert_true (evcp_sys_engine_wait_log (f->engine, "can be written again", WAIT_MS));
  wait_tickets (f, 1);
  g_assert_nonnull (evcp_sys_sessions_wait (f->sessions, "SESSION_ENDED", "drv-1", s1, WAIT_MS));
  g_assert_true (evcp_test_wait_until (NULL, state_clean, f, WAIT_MS));
  {
    g_autofree gchar *health = evcp_sys_health_check (evcp_sys_engine_get_health_port (f->engine), CP);

    g_assert_cmpstr (health, ==, "OK#" CP);
  }

  /* a read-only disk under the next session, and a SIGKILL before it
   * comes back: the session file written before keeps the ticket */
  s3 = g_strdup (request (f, "drv-3", 2, "SESSION_STARTED")->session_id);
  set_disk (f, "EROFS");
  g_assert_true (evcp_sys_engine_wait_log (f->engine, "Read-only file system", WAIT_MS));
  wait_log_count (f, "the event is kept in memory", 2);
  evcp_sys_engine_kill (f->engine);
  set_disk (f, NULL);
  spawn_engine (f, TRUE);
  g_assert_true (evcp_sys_engine_wait_log (f->engine, "left open by the previous run", WAIT_MS));
  wait_tickets (f, 2);
  g_assert_true (evcp_test_wait_until (NULL, state_clean, f, WAIT_MS));

  /* and the next session goes as usual */
  request (f, "drv-4", 1, "SESSION_STARTED");
  wait_tickets (f, 3);
  g_assert_cmpint (evcp_sys_engine_term (f->engine), ==, 0);
  g_assert_cmpint (evcp_test_central_quit (f->central), ==, 0);

  /* every ticket once, none for the refused request */
  tickets = evcp_sys_db_tickets (f->db_path, CP);
  g_assert_cmpuint (tickets->len, ==, 3);
  g_assert_nonnull (evcp_sys_tickets_find (tickets, s1));
  g_assert_cmpstr (evcp_sys_tickets_find (tickets, s1)->driver, ==, "drv-1");
  g_assert_nonnull (evcp_sys_tickets_find (tickets, s3));
  g_assert_cmpstr (evcp_sys_tickets_find (tickets, s3)->driver, ==, "drv-3");
  for (guint i = 0; i < tickets->len; i++)
    g_assert_cmpstr (((EvcpSysTicket *) g_ptr_array_index (tickets, i))->driver, !=, "drv-2");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/state-files/session-file-unreadable", Fixture, NULL, fixture_set_up,
              test_session_file_unreadable, fixture_tear_down);
  g_test_add ("/state-files/outbox-unreadable", Fixture, NULL, fixture_set_up,
              test_outbox_unreadable, fixture_tear_down);
  g_test_add ("/state-files/disk-full", Fixture, NULL, fixture_set_up, test_disk_full, fixture_tear_down);
  return g_test_run ();
}
