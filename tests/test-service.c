/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The programs under a service manager (issue 12, item 2): evcp-engine and
 * evcp-monitor as processes, each with a fake systemd on $NOTIFY_SOCKET (a
 * real unix datagram socket in this test, by path or in the abstract
 * namespace) and a watchdog asked through $WATCHDOG_USEC:
 *  - READY=1 once the main loop runs, with a STATUS= line; WATCHDOG=1 at
 *    about half the watchdog interval; STATUS= on a change (a fault);
 *    STOPPING=1 on SIGTERM, then exit 0;
 *  - the Engine's main loop frozen (evcp-engine-test-hooks, the same program
 *    built for the tests only: SIGHUP freezes it): no WATCHDOG=1 comes for a
 *    whole watchdog interval (systemd would kill and restart it), and the
 *    Monitor, checking it every INTERVAL_MS, reports it KO within its
 *    interval (its STATUS= line, as systemctl status shows it);
 *  - the installed evcp-engine offers no freeze: SIGHUP ends it.
 */
#include "evcp-build-config.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "evcp-test-util.h"

#define CP             "CP-S1"
#define WATCHDOG_MS    1000
#define INTERVAL_MS    200
#define WAIT_MS        20000

/* ---- a fake service manager ----------------------------------------------------------- */

typedef struct {
  gchar  *text;   /* one datagram: KEY=VALUE lines */
  gint64  at;     /* monotonic µs */
} Datagram;

static void
datagram_free (gpointer p)
{
  Datagram *d = p;

  g_free (d->text);
  g_free (d);
}

typedef struct {
  GSocket   *socket;
  GSource   *source;
  gchar     *env;        /* the NOTIFY_SOCKET value */
  GPtrArray *received;   /* Datagram */
} Manager;

static gboolean
on_datagram (GSocket *socket, GIOCondition condition, gpointer user_data)
{
  Manager *m = user_data;
  gchar buf[4096];
  gssize n;

  while ((n = g_socket_receive (socket, buf, sizeof buf - 1, NULL, NULL)) >= 0)
    {
      Datagram *d = g_new0 (Datagram, 1);

      buf[n] = '\0';
      d->text = g_strdup (buf);
      d->at = g_get_monotonic_time ();
      g_ptr_array_add (m->received, d);
    }
  return G_SOURCE_CONTINUE;
}

/* A datagram socket at @dir/notify, or in the abstract namespace. */
static Manager *
manager_new (const gchar *dir, gboolean abstract)
{
  Manager *m = g_new0 (Manager, 1);
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(GError) error = NULL;

  m->received = g_ptr_array_new_with_free_func (datagram_free);
  if (abstract)
    {
      g_autofree gchar *name = g_strdup_printf ("evcp-test-notify-%d-%u", (gint) getpid (),
                                                g_random_int ());

      address = g_unix_socket_address_new_with_type (name, -1, G_UNIX_SOCKET_ADDRESS_ABSTRACT);
      m->env = g_strdup_printf ("@%s", name);
    }
  else
    {
      m->env = g_build_filename (dir, "notify", NULL);
      address = g_unix_socket_address_new (m->env);
    }
  m->socket = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_DEFAULT, &error);
  g_assert_no_error (error);
  g_assert_true (g_socket_bind (m->socket, address, FALSE, &error));
  g_assert_no_error (error);
  g_socket_set_blocking (m->socket, FALSE);
  m->source = g_socket_create_source (m->socket, G_IO_IN, NULL);
  g_source_set_callback (m->source, (GSourceFunc) (void (*) (void)) on_datagram, m, NULL);
  g_source_attach (m->source, NULL);
  return m;
}

static void
manager_free (Manager *m)
{
  g_source_destroy (m->source);
  g_source_unref (m->source);
  g_socket_close (m->socket, NULL);
  g_object_unref (m->socket);
  if (m->env[0] == '/')
    g_unlink (m->env);
  g_free (m->env);
  g_ptr_array_unref (m->received);
  g_free (m);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Manager, manager_free)

static gboolean
has_line (const Datagram *d, const gchar *line)
{
  g_auto(GStrv) lines = g_strsplit (d->text, "\n", -1);

  return g_strv_contains ((const gchar * const *) lines, line);
}

/* The first datagram from @from on with a line that starts with @prefix
 * ("READY=1", "STATUS=CP-S1: FAULT"), or -1. */
static gint
find (Manager *m, guint from, const gchar *prefix)
{
  for (guint i = from; i < m->received->len; i++)
    {
      const Datagram *d = g_ptr_array_index (m->received, i);
      g_auto(GStrv) lines = g_strsplit (d->text, "\n", -1);

      for (guint l = 0; lines[l] != NULL; l++)
        if (g_str_has_prefix (lines[l], prefix))
          return (gint) i;
    }
  return -1;
}

static guint
count (Manager *m, guint from, const gchar *line)
{
  guint n = 0;

  for (guint i = from; i < m->received->len; i++)
    n += has_line (g_ptr_array_index (m->received, i), line) ? 1 : 0;
  return n;
}

typedef struct {
  Manager     *manager;
  guint        from;
  const gchar *prefix;
  guint        n;
} Await;

static gboolean
arrived (gpointer data)
{
  Await *a = data;

  if (a->n > 0)
    return count (a->manager, a->from, a->prefix) >= a->n;
  return find (a->manager, a->from, a->prefix) >= 0;
}

/* Waits for a datagram with a line starting with @prefix; returns its index. */
static guint
await_line (Manager *m, guint from, const gchar *prefix)
{
  Await a = { m, from, prefix, 0 };

  if (!evcp_test_wait_until (NULL, arrived, &a, WAIT_MS))
    g_error ("no “%s” from %u on, within %u ms (%u datagrams)", prefix, from, WAIT_MS, m->received->len);
  return (guint) find (m, from, prefix);
}

/* ---- the programs ------------------------------------------------------------------------ */

typedef struct {
  gchar            *tmpdir;
  EvcpTestCluster  *cluster;
  guint16           engine_port;
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  f->tmpdir = g_dir_make_tmp ("evcp-test-service-XXXXXX", &error);
  g_assert_no_error (error);
  f->cluster = evcp_test_cluster_new (1);
  f->engine_port = evcp_test_free_port ();
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  evcp_test_cluster_free (f->cluster);
  evcp_test_remove_tree (f->tmpdir);
  g_free (f->tmpdir);
}

static GSubprocess *
spawn (Fixture *f, const gchar *program_env, const gchar *name, Manager *m, const gchar * const *args)
{
  g_autoptr(GSubprocessLauncher) launcher = evcp_test_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autofree gchar *log = g_strdup_printf ("%s/%s.log", f->tmpdir, name);
  g_autofree gchar *state_dir = g_strdup_printf ("%s/%s-state", f->tmpdir, name);
  g_autofree gchar *engine_port = g_strdup_printf ("%u", f->engine_port);
  g_autofree gchar *watchdog_usec = g_strdup_printf ("%u", WATCHDOG_MS * 1000);
  g_autoptr(GError) error = NULL;
  GSubprocess *proc;

  g_assert_nonnull (g_getenv (program_env));
  g_subprocess_launcher_setenv (launcher, "CP_ID", CP, TRUE);
  g_subprocess_launcher_setenv (launcher, "KAFKA_BROKERS", evcp_test_cluster_get_bootstraps (f->cluster), TRUE);
  g_subprocess_launcher_setenv (launcher, "ENGINE_HOST", "127.0.0.1", TRUE);
  g_subprocess_launcher_setenv (launcher, "ENGINE_PORT", engine_port, TRUE);
  g_subprocess_launcher_unsetenv (launcher, "EVCP_CONFIG");
  g_subprocess_launcher_unsetenv (launcher, "WATCHDOG_PID");
  if (m != NULL)
    {
      g_subprocess_launcher_setenv (launcher, "NOTIFY_SOCKET", m->env, TRUE);
      g_subprocess_launcher_setenv (launcher, "WATCHDOG_USEC", watchdog_usec, TRUE);
    }
  else
    {
      g_subprocess_launcher_unsetenv (launcher, "NOTIFY_SOCKET");
      g_subprocess_launcher_unsetenv (launcher, "WATCHDOG_USEC");
    }
  evcp_test_isolate_launcher (launcher, state_dir);
  g_subprocess_launcher_set_stderr_file_path (launcher, log);
  g_subprocess_launcher_set_stdout_file_path (launcher, log);
  g_ptr_array_add (argv, (gpointer) g_getenv (program_env));
  for (guint i = 0; args != NULL && args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  proc = evcp_test_launcher_spawnv (launcher, (const gchar * const *) argv->pdata, &error);
  g_assert_no_error (error);
  g_test_message ("%s %s started (log %s)", name, g_subprocess_get_identifier (proc), log);
  return proc;
}

static GSubprocess *
spawn_engine (Fixture *f, const gchar *program_env, Manager *m)
{
  return spawn (f, program_env, "engine", m, (const gchar * const []) { "--no-keys", NULL });
}

static gboolean
exited (gpointer data)
{
  GSubprocess *proc = data;

  /* reaped by GLib's child watch, which the main context runs */
  return g_subprocess_get_identifier (proc) == NULL;
}

static void
wait_exit (GSubprocess *proc)
{
  g_subprocess_wait_async (proc, NULL, NULL, NULL);
  g_assert_true (evcp_test_wait_until (NULL, exited, proc, WAIT_MS));
}

static void
assert_ready_status (Manager *m, guint index, const gchar *status_prefix)
{
  const Datagram *d = g_ptr_array_index (m->received, index);

  g_assert_true (has_line (d, "READY=1"));
  g_assert_nonnull (strstr (d->text, status_prefix));
}

/* READY=1 with the CP's state, the pings at about half the interval, a
 * fault in STATUS=, STOPPING=1 on SIGTERM and a clean exit. */
static void
test_engine_notify (Fixture *f, gconstpointer data)
{
  gboolean abstract = GPOINTER_TO_INT (data);
  g_autoptr(Manager) m = manager_new (f->tmpdir, abstract);
  g_autoptr(GSubprocess) engine = spawn_engine (f, "EVCP_ENGINE", m);
  guint ready = await_line (m, 0, "READY=1");
  g_autoptr(GPtrArray) pings = g_ptr_array_new ();
  gint64 gap_ms;

  assert_ready_status (m, ready, "STATUS=" CP ": ACTIVE");
  g_assert_cmpuint (count (m, 0, "READY=1"), ==, 1);
  /* the pings: at half the watchdog interval */
  {
    Await a = { m, ready, "WATCHDOG=1", 3 };

    g_assert_true (evcp_test_wait_until (NULL, arrived, &a, WAIT_MS));
  }
  for (guint i = ready; i < m->received->len && pings->len < 3; i++)
    if (has_line (g_ptr_array_index (m->received, i), "WATCHDOG=1"))
      g_ptr_array_add (pings, g_ptr_array_index (m->received, i));
  gap_ms = (((const Datagram *) pings->pdata[2])->at - ((const Datagram *) pings->pdata[0])->at) / 2000;
  g_test_message ("WATCHDOG=1 every %" G_GINT64_FORMAT " ms (WATCHDOG_USEC: %u ms)", gap_ms, WATCHDOG_MS);
  g_assert_cmpint (gap_ms, >=, WATCHDOG_MS / 2 - 50);
  g_assert_cmpint (gap_ms, <, WATCHDOG_MS);

  /* a change of state: STATUS= */
  g_subprocess_send_signal (engine, SIGUSR1);
  await_line (m, ready, "STATUS=" CP ": FAULT (fault reported by signal)");

  g_subprocess_send_signal (engine, SIGTERM);
  await_line (m, ready, "STOPPING=1");
  wait_exit (engine);
  g_assert_true (g_subprocess_get_if_exited (engine));
  g_assert_cmpint (g_subprocess_get_exit_status (engine), ==, 0);
}

static gint64
ms_since (gint64 t0)
{
  return (g_get_monotonic_time () - t0) / 1000;
}

typedef struct {
  Manager *monitor;
  guint    from;
  gint64   frozen_at;
} HangWait;

/* the Monitor said KO, and a whole watchdog interval (and a half: a ping
 * sent just before the freeze may be late) has passed since the freeze */
static gboolean
hang_seen (gpointer data)
{
  HangWait *h = data;

  return find (h->monitor, h->from, "STATUS=Engine of " CP ": KO") >= 0 &&
         ms_since (h->frozen_at) >= WATCHDOG_MS * 3 / 2;
}

/* The Engine's main loop frozen: its pings stop for good, and the Monitor
 * (its own pings going on) reports it KO within its interval. */
static void
test_engine_hang (Fixture *f, gconstpointer data)
{
  g_autoptr(Manager) engine_manager = manager_new (f->tmpdir, FALSE);
  g_autoptr(Manager) monitor_manager = manager_new (f->tmpdir, TRUE);
  g_autofree gchar *interval = g_strdup_printf ("%u", INTERVAL_MS);
  g_autofree gchar *central_port = g_strdup_printf ("%u", evcp_test_free_port ());
  g_autoptr(GSubprocess) engine = spawn_engine (f, "EVCP_ENGINE_TEST_HOOKS", engine_manager);
  g_autoptr(GSubprocess) monitor = NULL;
  HangWait h = { monitor_manager, 0, 0 };
  guint engine_ready = await_line (engine_manager, 0, "READY=1");
  guint monitor_ready;
  guint frozen;
  gint ko;
  gint64 ko_ms;

  monitor = spawn (f, "EVCP_MONITOR", "monitor", monitor_manager,
                   (const gchar * const []) { "--interval-ms", interval, "--ko-after", "1", "--ok-after", "1",
                                              "--central-host", "127.0.0.1", "--central-port", central_port,
                                              NULL });
  monitor_ready = await_line (monitor_manager, 0, "READY=1");
  assert_ready_status (monitor_manager, monitor_ready, "STATUS=Engine of " CP ": ");
  await_line (monitor_manager, 0, "STATUS=Engine of " CP ": OK");
  await_line (engine_manager, engine_ready, "WATCHDOG=1");
  await_line (monitor_manager, monitor_ready, "WATCHDOG=1");

  g_subprocess_send_signal (engine, SIGHUP);
  frozen = await_line (engine_manager, engine_ready, "STATUS=Frozen by the test hook");
  h.frozen_at = ((const Datagram *) g_ptr_array_index (engine_manager->received, frozen))->at;
  h.from = monitor_manager->received->len;
  g_assert_true (evcp_test_wait_until (NULL, hang_seen, &h, WAIT_MS));

  /* a datagram socket keeps a sender's order: nothing after the freeze */
  g_assert_cmpuint (count (engine_manager, frozen, "WATCHDOG=1"), ==, 0);
  g_assert_cmpuint (engine_manager->received->len, ==, frozen + 1);
  ko = find (monitor_manager, h.from, "STATUS=Engine of " CP ": KO");
  ko_ms = (((const Datagram *) g_ptr_array_index (monitor_manager->received, ko))->at - h.frozen_at) / 1000;
  g_test_message ("frozen: no WATCHDOG=1 for %" G_GINT64_FORMAT " ms (interval %u ms); "
                  "the Monitor said KO %" G_GINT64_FORMAT " ms after the freeze (its interval: %u ms): %s",
                  ms_since (h.frozen_at), WATCHDOG_MS, ko_ms, INTERVAL_MS,
                  ((const Datagram *) g_ptr_array_index (monitor_manager->received, ko))->text);
  /* one check that times out (one interval), plus the one before that
   * may have started just before the freeze, plus slack for a loaded
   * machine: well within the watchdog's interval either way */
  g_assert_cmpint (ko_ms, <=, 2 * INTERVAL_MS + 800);
  /* the Monitor's own loop kept pinging meanwhile */
  g_assert_cmpuint (count (monitor_manager, h.from, "WATCHDOG=1"), >=, 1);

  /* what systemd does after WatchdogSec=: kill it (then restart it) */
  g_subprocess_force_exit (engine);
  wait_exit (engine);
  g_assert_true (g_subprocess_get_if_signaled (engine));

  g_subprocess_send_signal (monitor, SIGTERM);
  await_line (monitor_manager, monitor_ready, "STOPPING=1");
  wait_exit (monitor);
  g_assert_true (g_subprocess_get_if_exited (monitor));
  g_assert_cmpint (g_subprocess_get_exit_status (monitor), ==, 0);
}

/* The program that is installed has no freeze: SIGHUP ends it (its default
 * action) instead of freezing it. */
static void
test_no_freeze_in_production (Fixture *f, gconstpointer data)
{
  g_autoptr(Manager) m = manager_new (f->tmpdir, FALSE);
  g_autoptr(GSubprocess) engine = spawn_engine (f, "EVCP_ENGINE", m);

  await_line (m, 0, "READY=1");
  g_subprocess_send_signal (engine, SIGHUP);
  wait_exit (engine);
  g_assert_true (g_subprocess_get_if_signaled (engine));
  g_assert_cmpint (g_subprocess_get_term_sig (engine), ==, SIGHUP);
  g_assert_cmpint (find (m, 0, "STATUS=Frozen"), ==, -1);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define SERVICE_TEST(path, data, fn) g_test_add (path, Fixture, data, fixture_set_up, fn, fixture_tear_down)
  SERVICE_TEST ("/service/engine/notify/path", GINT_TO_POINTER (FALSE), test_engine_notify);
  SERVICE_TEST ("/service/engine/notify/abstract", GINT_TO_POINTER (TRUE), test_engine_notify);
  SERVICE_TEST ("/service/engine/hang", NULL, test_engine_hang);
  SERVICE_TEST ("/service/engine/no-freeze-in-production", NULL, test_no_freeze_in_production);
#undef SERVICE_TEST
  return g_test_run ();
}
