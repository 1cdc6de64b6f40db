/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The state directory belongs to one CP and one process (issue 12, item 3),
 * with evcp-engine as real processes on the mock cluster, Central away (so
 * that the outbox keeps its events, as it does while the link is down):
 *  - a second Engine on the same state directory is refused, its message
 *    naming the first one's pid; the first one goes on; once it has
 *    stopped, the second one starts (the normal restart);
 *  - an Engine of another CP id on a CP's state directory is refused
 *    (exit 78), nothing in the directory changed; also for a directory of
 *    an older version (no cp-id file), told by the CP ids in its outbox;
 *    the right CP then starts on it, its events still there;
 *  - the default ($STATE_DIRECTORY here) is keyed by the CP id: two CPs run
 *    side by side, each in <default>/<cp-id>;
 *  - an older version's default directory (the state right in <default>):
 *    another CP leaves it alone; its own CP moves it into <default>/<cp-id>,
 *    sequence numbers and pending events kept; a file it would overwrite
 *    stops it (78), both kept;
 *  - the same for evcp-monitor's state: a second Monitor refused.
 */
#include "evcp-build-config.h"

#include <signal.h>
#include <string.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "evcp-test-util.h"

#define CP_A     "CP-T1"
#define CP_B     "CP-T2"
#define WAIT_MS  20000

typedef struct {
  gchar            *tmpdir;
  EvcpTestCluster  *cluster;
  guint             spawned;
} Fixture;

typedef struct {
  GSubprocess *proc;
  gchar       *log;
} Engine;

static void
engine_free (Engine *e)
{
  if (g_subprocess_get_identifier (e->proc) != NULL)
    g_subprocess_force_exit (e->proc);
  g_subprocess_wait (e->proc, NULL, NULL);
  g_object_unref (e->proc);
  g_free (e->log);
  g_free (e);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Engine, engine_free)

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  f->tmpdir = g_dir_make_tmp ("evcp-test-state-dir-XXXXXX", &error);
  g_assert_no_error (error);
  f->cluster = evcp_test_cluster_new (1);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  evcp_test_cluster_free (f->cluster);
  evcp_test_remove_tree (f->tmpdir);
  g_free (f->tmpdir);
}

/* An Engine of @cp_id; its state in @state_dir (--state-dir) if given, else
 * the default under $STATE_DIRECTORY=@default_base. */
static Engine *
spawn_program (Fixture *f, const gchar *program_env, const gchar *cp_id, const gchar *state_dir,
               const gchar *default_base)
{
  g_autoptr(GSubprocessLauncher) launcher = evcp_test_launcher_new (G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  Engine *e = g_new0 (Engine, 1);

  e->log = g_strdup_printf ("%s/engine-%u.log", f->tmpdir, ++f->spawned);
  g_subprocess_launcher_setenv (launcher, "CP_ID", cp_id, TRUE);
  g_subprocess_launcher_setenv (launcher, "KAFKA_BROKERS", evcp_test_cluster_get_bootstraps (f->cluster), TRUE);
  g_subprocess_launcher_unsetenv (launcher, "EVCP_CONFIG");
  g_subprocess_launcher_unsetenv (launcher, "ENGINE_PORT");
  g_subprocess_launcher_unsetenv (launcher, "NOTIFY_SOCKET");
  evcp_test_isolate_launcher (launcher, default_base != NULL ? default_base : f->tmpdir);
  /* the log in a file, for the assertions on it */
  g_subprocess_launcher_set_stdout_file_path (launcher, e->log);
  g_ptr_array_add (argv, (gpointer) g_getenv (program_env));
  if (g_str_equal (program_env, "EVCP_ENGINE"))
    g_ptr_array_add (argv, (gpointer) "--no-keys");
  if (state_dir != NULL)
    {
      g_ptr_array_add (argv, (gpointer) "--state-dir");
      g_ptr_array_add (argv, (gpointer) state_dir);
    }
  g_ptr_array_add (argv, NULL);
  e->proc = evcp_test_launcher_spawnv (launcher, (const gchar * const *) argv->pdata, &error);
  g_assert_no_error (error);
  g_test_message ("%s %s of %s started (log %s)", program_env, g_subprocess_get_identifier (e->proc),
                  cp_id, e->log);
  return e;
}

static Engine *
spawn_engine (Fixture *f, const gchar *cp_id, const gchar *state_dir, const gchar *default_base)
{
  return spawn_program (f, "EVCP_ENGINE", cp_id, state_dir, default_base);
}

static gchar *
read_log (Engine *e)
{
  gchar *text = NULL;

  if (!g_file_get_contents (e->log, &text, NULL, NULL))
    return g_strdup ("");
  return text;
}

typedef struct {
  Engine      *engine;
  const gchar *needle;
} LogWait;

static gboolean
log_has (gpointer data)
{
  LogWait *w = data;
  g_autofree gchar *text = read_log (w->engine);

  return strstr (text, w->needle) != NULL;
}

static void
wait_log (Engine *e, const gchar *needle)
{
  LogWait w = { e, needle };

  if (!evcp_test_wait_until (NULL, log_has, &w, WAIT_MS))
    {
      g_autofree gchar *text = read_log (e);

      g_error ("“%s” not in the log within %u ms:\n%s", needle, WAIT_MS, text);
    }
}

static gboolean
exited (gpointer data)
{
  return g_subprocess_get_identifier (data) == NULL;
}

/* Waits for the end of @e; returns its exit status (-1 if signalled). */
static gint
wait_exit (Engine *e)
{
  g_subprocess_wait_async (e->proc, NULL, NULL, NULL);
  g_assert_true (evcp_test_wait_until (NULL, exited, e->proc, WAIT_MS));
  return g_subprocess_get_if_exited (e->proc) ? g_subprocess_get_exit_status (e->proc) : -1;
}

static void
wait_started (Engine *e, const gchar *cp_id)
{
  g_autofree gchar *line = g_strdup_printf ("Engine of %s started", cp_id);

  wait_log (e, line);
}

static void
stop (Engine *e)
{
  g_subprocess_send_signal (e->proc, SIGTERM);
  g_assert_cmpint (wait_exit (e), ==, 0);
}

static JsonObject *
outbox_read (const gchar *dir, JsonParser *parser)
{
  g_autofree gchar *path = g_build_filename (dir, "outbox.json", NULL);
  g_autoptr(GError) error = NULL;

  g_assert_true (json_parser_load_from_file (parser, path, &error));
  g_assert_no_error (error);
  return json_node_get_object (json_parser_get_root (parser));
}

static gint64
outbox_next_seq (const gchar *dir)
{
  g_autoptr(JsonParser) parser = json_parser_new ();

  return json_object_get_int_member (outbox_read (dir, parser), "next_seq");
}

static guint
outbox_pending (const gchar *dir)
{
  g_autoptr(JsonParser) parser = json_parser_new ();

  return json_array_get_length (json_object_get_array_member (outbox_read (dir, parser), "records"));
}

/* Every file of @dir, name -> contents, for "nothing changed". */
static GHashTable *
snapshot (const gchar *dir)
{
  GHashTable *files = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const gchar *name;

  g_assert_nonnull (d);
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree gchar *path = g_build_filename (dir, name, NULL);
      gchar *text = NULL;

      if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
        {
          g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
          g_hash_table_insert (files, g_strdup (name), text);
        }
    }
  return files;
}

static void
assert_same_files (GHashTable *before, GHashTable *after)
{
  GHashTableIter iter;
  gpointer name, text;

  g_assert_cmpuint (g_hash_table_size (before), ==, g_hash_table_size (after));
  g_hash_table_iter_init (&iter, before);
  while (g_hash_table_iter_next (&iter, &name, &text))
    g_assert_cmpstr (g_hash_table_lookup (after, name), ==, text);
}

/* One Engine runs and stops, leaving pending events for Central (away)
 * in @state_dir. */
static void
run_once (Fixture *f, const gchar *cp_id, const gchar *state_dir)
{
  g_autoptr(Engine) e = spawn_engine (f, cp_id, state_dir, NULL);

  wait_started (e, cp_id);
  stop (e);
  g_assert_cmpuint (outbox_pending (state_dir), >=, 1);
}

static void
test_second_instance (Fixture *f, gconstpointer data)
{
  gboolean by_default = GPOINTER_TO_INT (data);
  g_autofree gchar *base = g_build_filename (f->tmpdir, "default", NULL);
  g_autofree gchar *explicit_dir = g_build_filename (f->tmpdir, "state", NULL);
  const gchar *state_dir = by_default ? NULL : explicit_dir;
  g_autoptr(Engine) first = spawn_engine (f, CP_A, state_dir, base);
  g_autoptr(Engine) second = NULL;
  g_autoptr(Engine) again = NULL;
  g_autofree gchar *log = NULL;
  g_autofree gchar *holder = NULL;

  wait_started (first, CP_A);
  second = spawn_engine (f, CP_A, state_dir, base);
  g_assert_cmpint (wait_exit (second), ==, 1);
  log = read_log (second);
  g_test_message ("refused: %s", log);
  holder = g_strdup_printf ("in use by another process (pid %s)", g_subprocess_get_identifier (first->proc));
  g_assert_nonnull (strstr (log, holder));
  g_assert_null (strstr (log, "started"));
  /* the first one goes on */
  g_assert_nonnull (g_subprocess_get_identifier (first->proc));

  /* the normal restart */
  stop (first);
  again = spawn_engine (f, CP_A, state_dir, base);
  wait_started (again, CP_A);
  stop (again);
}

static void
test_other_cp (Fixture *f, gconstpointer data)
{
  gboolean older_version = GPOINTER_TO_INT (data);
  g_autofree gchar *state_dir = g_build_filename (f->tmpdir, "state", NULL);
  g_autofree gchar *cp_id_file = g_build_filename (state_dir, "cp-id", NULL);
  g_autoptr(GHashTable) before = NULL;
  g_autoptr(GHashTable) after = NULL;
  g_autoptr(Engine) other = NULL;
  g_autoptr(Engine) own = NULL;
  g_autofree gchar *log = NULL;
  gint64 next_seq;
  guint pending;

  run_once (f, CP_A, state_dir);
  g_assert_true (g_file_test (cp_id_file, G_FILE_TEST_EXISTS));
  if (older_version)
    {
      /* what a version before the cp-id file left */
      g_assert_cmpint (g_unlink (cp_id_file), ==, 0);
    }
  next_seq = outbox_next_seq (state_dir);
  pending = outbox_pending (state_dir);
  before = snapshot (state_dir);

  other = spawn_engine (f, CP_B, state_dir, NULL);
  g_assert_cmpint (wait_exit (other), ==, 78);
  log = read_log (other);
  g_test_message ("refused: %s", log);
  g_assert_nonnull (strstr (log, "holds the state of charging point " CP_A ", not of " CP_B));
  g_assert_nonnull (strstr (log, "nothing in it was changed"));
  after = snapshot (state_dir);
  assert_same_files (before, after);

  /* its own CP starts on it, its events still there */
  own = spawn_engine (f, CP_A, state_dir, NULL);
  wait_started (own, CP_A);
  stop (own);
  g_assert_cmpint (outbox_next_seq (state_dir), >, next_seq);
  g_assert_cmpuint (outbox_pending (state_dir), >, pending);
  g_assert_true (g_file_test (cp_id_file, G_FILE_TEST_EXISTS));
}

/* Two CPs, one default: each in <default>/<cp-id>, side by side. */
static void
test_default_per_cp (Fixture *f, gconstpointer data)
{
  g_autofree gchar *base = g_build_filename (f->tmpdir, "default", NULL);
  g_autofree gchar *dir_a = g_build_filename (base, CP_A, NULL);
  g_autofree gchar *dir_b = g_build_filename (base, CP_B, NULL);
  g_autofree gchar *owner_a = NULL;
  g_autofree gchar *owner_b = NULL;
  g_autofree gchar *cp_id_a = g_build_filename (dir_a, "cp-id", NULL);
  g_autofree gchar *cp_id_b = g_build_filename (dir_b, "cp-id", NULL);
  g_autoptr(Engine) a = spawn_engine (f, CP_A, NULL, base);
  g_autoptr(Engine) b = spawn_engine (f, CP_B, NULL, base);

  wait_started (a, CP_A);
  wait_started (b, CP_B);
  stop (a);
  stop (b);
  g_assert_true (g_file_get_contents (cp_id_a, &owner_a, NULL, NULL));
  g_assert_true (g_file_get_contents (cp_id_b, &owner_b, NULL, NULL));
  g_assert_cmpstr (owner_a, ==, CP_A "\n");
  g_assert_cmpstr (owner_b, ==, CP_B "\n");
  /* each its own numbers, from 1 */
  g_assert_cmpint (outbox_next_seq (dir_a), ==, outbox_next_seq (dir_b));
}

/* An older version's default directory: the state right in it. */
static void
test_migration (Fixture *f, gconstpointer data)
{
  g_autofree gchar *base = g_build_filename (f->tmpdir, "default", NULL);
  g_autofree gchar *new_a = g_build_filename (base, CP_A, NULL);
  g_autofree gchar *new_b = g_build_filename (base, CP_B, NULL);
  g_autofree gchar *old_outbox = g_build_filename (base, "outbox.json", NULL);
  g_autofree gchar *new_outbox = g_build_filename (new_a, "outbox.json", NULL);
  g_autofree gchar *file = NULL;
  g_autofree gchar *log = NULL;
  g_autoptr(GHashTable) before = NULL;
  g_autoptr(GHashTable) after = NULL;
  g_autoptr(Engine) b = NULL;
  g_autoptr(Engine) a = NULL;
  gint64 next_seq;
  guint pending;

  run_once (f, CP_A, base);
  file = g_build_filename (base, "cp-id", NULL);
  g_assert_cmpint (g_unlink (file), ==, 0);
  g_clear_pointer (&file, g_free);
  file = g_build_filename (base, "lock", NULL);
  g_assert_cmpint (g_unlink (file), ==, 0);
  next_seq = outbox_next_seq (base);
  pending = outbox_pending (base);
  before = snapshot (base);

  /* another CP leaves it alone */
  b = spawn_engine (f, CP_B, NULL, base);
  wait_started (b, CP_B);
  stop (b);
  log = read_log (b);
  g_assert_nonnull (strstr (log, "holds the state of charging point " CP_A ", not of " CP_B ": left there"));
  g_assert_true (g_file_test (new_b, G_FILE_TEST_IS_DIR));
  after = snapshot (base);
  g_hash_table_remove (after, "lock");   /* taken while it looked */
  assert_same_files (before, after);

  /* its own CP moves it */
  a = spawn_engine (f, CP_A, NULL, base);
  wait_started (a, CP_A);
  stop (a);
  g_clear_pointer (&log, g_free);
  log = read_log (a);
  g_assert_nonnull (strstr (log, "The state of " CP_A " moved from"));
  g_assert_false (g_file_test (old_outbox, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (new_outbox, G_FILE_TEST_EXISTS));
  g_assert_cmpint (outbox_next_seq (new_a), >, next_seq);
  g_assert_cmpuint (outbox_pending (new_a), >, pending);
}

/* A move that would overwrite: refused (78), both files kept. */
static void
test_migration_conflict (Fixture *f, gconstpointer data)
{
  g_autofree gchar *base = g_build_filename (f->tmpdir, "default", NULL);
  g_autofree gchar *new_a = g_build_filename (base, CP_A, NULL);
  g_autofree gchar *old_cp_id = g_build_filename (base, "cp-id", NULL);
  g_autofree gchar *new_session = g_build_filename (new_a, "session.json", NULL);
  g_autofree gchar *old_session = g_build_filename (base, "session.json", NULL);
  g_autoptr(GHashTable) before = NULL;
  g_autoptr(GHashTable) after = NULL;
  g_autoptr(Engine) a = NULL;
  g_autofree gchar *log = NULL;
  g_autofree gchar *text = NULL;

  run_once (f, CP_A, base);
  g_assert_cmpint (g_unlink (old_cp_id), ==, 0);
  g_assert_true (g_file_set_contents (old_session, "{\"old\":true}", -1, NULL));
  g_assert_cmpint (g_mkdir_with_parents (new_a, 0700), ==, 0);
  g_assert_true (g_file_set_contents (new_session, "{\"new\":true}", -1, NULL));
  before = snapshot (base);

  a = spawn_engine (f, CP_A, NULL, base);
  g_assert_cmpint (wait_exit (a), ==, 78);
  log = read_log (a);
  g_test_message ("refused: %s", log);
  g_assert_nonnull (strstr (log, "it exists (both kept; put them together by hand)"));
  after = snapshot (base);
  g_hash_table_remove (before, "lock");
  g_hash_table_remove (after, "lock");
  assert_same_files (before, after);
  g_assert_true (g_file_get_contents (new_session, &text, NULL, NULL));
  g_assert_cmpstr (text, ==, "{\"new\":true}");
}

/* The Monitor's state (its outbox) too: a second Monitor of the CP is
 * refused; one of another CP keeps its own, by default. */
static void
test_monitor (Fixture *f, gconstpointer data)
{
  g_autofree gchar *base = g_build_filename (f->tmpdir, "default", NULL);
  g_autofree gchar *cp_id_b = g_build_filename (base, CP_B, "cp-id", NULL);
  g_autoptr(Engine) first = spawn_program (f, "EVCP_MONITOR", CP_A, NULL, base);
  g_autoptr(Engine) second = NULL;
  g_autoptr(Engine) other = NULL;
  g_autofree gchar *log = NULL;
  g_autofree gchar *holder = NULL;

  wait_log (first, "Monitor of " CP_A " started");
  second = spawn_program (f, "EVCP_MONITOR", CP_A, NULL, base);
  g_assert_cmpint (wait_exit (second), ==, 1);
  log = read_log (second);
  holder = g_strdup_printf ("in use by another process (pid %s)", g_subprocess_get_identifier (first->proc));
  g_assert_nonnull (strstr (log, holder));
  other = spawn_program (f, "EVCP_MONITOR", CP_B, NULL, base);
  wait_log (other, "Monitor of " CP_B " started");
  g_assert_true (g_file_test (cp_id_b, G_FILE_TEST_EXISTS));
  stop (other);
  stop (first);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define STATE_TEST(path, data, fn) g_test_add (path, Fixture, data, fixture_set_up, fn, fixture_tear_down)
  STATE_TEST ("/state-dir/second-instance/explicit", GINT_TO_POINTER (FALSE), test_second_instance);
  STATE_TEST ("/state-dir/second-instance/default", GINT_TO_POINTER (TRUE), test_second_instance);
  STATE_TEST ("/state-dir/other-cp", GINT_TO_POINTER (FALSE), test_other_cp);
  STATE_TEST ("/state-dir/other-cp/older-version", GINT_TO_POINTER (TRUE), test_other_cp);
  STATE_TEST ("/state-dir/default-per-cp", NULL, test_default_per_cp);
  STATE_TEST ("/state-dir/migration", NULL, test_migration);
  STATE_TEST ("/state-dir/migration/conflict", NULL, test_migration_conflict);
  STATE_TEST ("/state-dir/monitor", NULL, test_monitor);
#undef STATE_TEST
  return g_test_run ();
}
