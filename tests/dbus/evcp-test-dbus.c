/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "evcp-test-dbus.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

const gchar *
evcp_test_dbus_program (const gchar *var)
{
  const gchar *path = g_getenv (var);

  if (path == NULL || *path == '\0')
    g_error ("%s is not set: run the test with meson test", var);
  g_assert_null (strchr (path, ' '));   /* it goes into Exec= lines */
  return path;
}

/* ---- the bus ------------------------------------------------------------- */

static void
write_file (const gchar *path, const gchar *contents)
{
  g_autoptr(GError) error = NULL;

  g_file_set_contents (path, contents, -1, &error);
  g_assert_no_error (error);
}

EvcpTestBus *
evcp_test_bus_new (const gchar *brokers)
{
  EvcpTestBus *bus = g_new0 (EvcpTestBus, 1);
  g_autoptr(GError) error = NULL;
  g_autofree gchar *engine = NULL;
  g_autofree gchar *monitor = NULL;
  g_autofree gchar *engine_file = NULL;
  g_autofree gchar *monitor_file = NULL;

  bus->dir = g_dir_make_tmp ("evcp-test-dbus-XXXXXX", &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_chmod (bus->dir, 0755), ==, 0);
  bus->services_dir = g_build_filename (bus->dir, "services", NULL);
  g_assert_cmpint (g_mkdir (bus->services_dir, 0755), ==, 0);
  bus->log = g_build_filename (bus->dir, "bus.log", NULL);
  bus->address = g_strdup_printf ("unix:path=%s/bus", bus->dir);
  bus->engine_port = evcp_test_free_port ();
  bus->central_port = evcp_test_free_port ();
  /* a port nobody listens on: the Engine runs without Kafka */
  bus->brokers = brokers != NULL ? g_strdup (brokers)
                                 : g_strdup_printf ("127.0.0.1:%u", evcp_test_free_port ());

  /* the activation files of the build tree, as installed ones but for the
   * programs just built, with options for the test */
  engine = g_strdup_printf ("[D-BUS Service]\n"
                            "Name=org.evcp.Engine\n"
                            "Exec=%s --session --no-keys --cp-id %s --state-dir %s/engine-state --brokers %s\n",
                            evcp_test_dbus_program ("EVCP_ENGINE"), EVCP_TEST_DBUS_CP, bus->dir,
                            bus->brokers);
  monitor = g_strdup_printf ("[D-BUS Service]\n"
                             "Name=org.evcp.Monitor\n"
                             "Exec=%s --session --cp-id %s --state-dir %s/monitor-state --brokers %s --interval-ms 100\n",
                             evcp_test_dbus_program ("EVCP_MONITOR"), EVCP_TEST_DBUS_CP, bus->dir,
                             bus->brokers);
  engine_file = g_build_filename (bus->services_dir, "org.evcp.Engine.service", NULL);
  monitor_file = g_build_filename (bus->services_dir, "org.evcp.Monitor.service", NULL);
  write_file (engine_file, engine);
  write_file (monitor_file, monitor);
  return bus;
}

typedef struct {
  EvcpTestBus *bus;
  GError      *error;
} ConnectAttempt;

static gboolean
bus_connected (gpointer data)
{
  ConnectAttempt *attempt = data;
  EvcpTestBus *bus = attempt->bus;
  g_autoptr(GError) error = NULL;

  if (g_subprocess_get_identifier (bus->daemon) == NULL)
    {
      g_autofree gchar *log = NULL;

      g_file_get_contents (bus->log, &log, NULL, NULL);
      g_clear_error (&attempt->error);
      g_set_error (&attempt->error, G_IO_ERROR, G_IO_ERROR_FAILED, "dbus-daemon exited: %s",
                   log != NULL ? log : "(no log)");
      return TRUE;
    }
  bus->connection = g_dbus_connection_new_for_address_sync (bus->address,
                                                            G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                                            G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                                            NULL, NULL, &error);
  if (bus->connection == NULL)
    {
      g_clear_error (&attempt->error);
      attempt->error = g_steal_pointer (&error);
      return FALSE;
    }
  g_dbus_connection_set_exit_on_close (bus->connection, FALSE);
  g_clear_error (&attempt->error);
  return TRUE;
}

gboolean
evcp_test_bus_start (EvcpTestBus *bus, const gchar *type, const gchar *extra_config, GError **error)
{
  g_autoptr(GSubprocessLauncher) launcher = evcp_test_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
  g_autofree gchar *config_path = g_build_filename (bus->dir, "bus.conf", NULL);
  g_autofree gchar *config = NULL;
  g_autofree gchar *config_arg = NULL;
  g_autofree gchar *engine_port = g_strdup_printf ("%u", bus->engine_port);
  g_autofree gchar *central_port = g_strdup_printf ("%u", bus->central_port);
  ConnectAttempt attempt = { bus, NULL };

  g_assert_null (bus->daemon);
  config = g_strdup_printf ("<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN\"\n"
                            " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
                            "<busconfig>\n"
                            "  <type>%s</type>\n"
                            "  <listen>%s</listen>\n"
                            "  <auth>EXTERNAL</auth>\n"
                            "  <servicedir>%s</servicedir>\n"
                            "%s"
                            "</busconfig>\n",
                            type, bus->address, bus->services_dir,
                            extra_config != NULL ? extra_config
                                                 : "  <policy context=\"default\">\n"
                                                   "    <allow send_destination=\"*\" eavesdrop=\"true\"/>\n"
                                                   "    <allow eavesdrop=\"true\"/>\n"
                                                   "    <allow own=\"*\"/>\n"
                                                   "  </policy>\n");
  write_file (config_path, config);

  /* what activated services find in their environment */
  g_subprocess_launcher_setenv (launcher, "DBUS_SESSION_BUS_ADDRESS", bus->address, TRUE);
  g_subprocess_launcher_setenv (launcher, "DBUS_SYSTEM_BUS_ADDRESS", bus->address, TRUE);
  g_subprocess_launcher_setenv (launcher, "ENGINE_PORT", engine_port, TRUE);
  g_subprocess_launcher_setenv (launcher, "CENTRAL_HOST", "127.0.0.1", TRUE);
  g_subprocess_launcher_setenv (launcher, "CENTRAL_PORT", central_port, TRUE);
  g_subprocess_launcher_unsetenv (launcher, "EVCP_CONFIG");
  g_subprocess_launcher_unsetenv (launcher, "STATE_DIRECTORY");
  g_subprocess_launcher_unsetenv (launcher, "DBUS_STARTER_ADDRESS");
  g_subprocess_launcher_unsetenv (launcher, "DBUS_STARTER_BUS_TYPE");
  g_subprocess_launcher_set_stderr_file_path (launcher, bus->log);
  config_arg = g_strdup_printf ("--config-file=%s", config_path);
  bus->daemon = g_subprocess_launcher_spawn (launcher, error, "dbus-daemon", config_arg,
                                             "--nofork", "--nosyslog", NULL);
  if (bus->daemon == NULL)
    return FALSE;
  evcp_test_wait_until (NULL, bus_connected, &attempt, EVCP_TEST_DBUS_WAIT_MS);
  if (bus->connection == NULL)
    {
      if (attempt.error == NULL)
        g_set_error_literal (&attempt.error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "dbus-daemon does not answer");
      g_propagate_error (error, attempt.error);
      return FALSE;
    }
  return TRUE;
}

static gboolean
subprocess_gone (gpointer data)
{
  return g_subprocess_get_identifier (G_SUBPROCESS (data)) == NULL;
}

void
evcp_test_bus_stop_daemon (EvcpTestBus *bus)
{
  if (bus->daemon == NULL)
    return;
  g_subprocess_send_signal (bus->daemon, SIGTERM);
  if (!evcp_test_wait_until (NULL, subprocess_gone, bus->daemon, EVCP_TEST_DBUS_WAIT_MS))
    g_subprocess_force_exit (bus->daemon);
  g_subprocess_wait (bus->daemon, NULL, NULL);
  g_clear_object (&bus->daemon);
  if (bus->connection != NULL)
    g_dbus_connection_close_sync (bus->connection, NULL, NULL);
  g_clear_object (&bus->connection);
}

gboolean
evcp_test_bus_has_owner (EvcpTestBus *bus, const gchar *name)
{
  g_autoptr(GVariant) reply = NULL;
  gboolean owned = FALSE;

  reply = g_dbus_connection_call_sync (bus->connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "NameHasOwner", g_variant_new ("(s)", name),
                                       G_VARIANT_TYPE ("(b)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL);
  if (reply != NULL)
    g_variant_get (reply, "(b)", &owned);
  return owned;
}

typedef struct {
  EvcpTestBus *bus;
  const gchar *name;
  gboolean     owned;
} OwnerWait;

static gboolean
owner_is (gpointer data)
{
  OwnerWait *w = data;

  return evcp_test_bus_has_owner (w->bus, w->name) == w->owned;
}

gboolean
evcp_test_bus_wait_owner (EvcpTestBus *bus, const gchar *name, gboolean owned, guint timeout_ms)
{
  OwnerWait w = { bus, name, owned };

  return evcp_test_wait_until (NULL, owner_is, &w, timeout_ms);
}

guint32
evcp_test_bus_get_pid (EvcpTestBus *bus, const gchar *name)
{
  g_autoptr(GVariant) reply = NULL;
  guint32 pid = 0;

  reply = g_dbus_connection_call_sync (bus->connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "GetConnectionUnixProcessID",
                                       g_variant_new ("(s)", name), G_VARIANT_TYPE ("(u)"),
                                       G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL);
  if (reply != NULL)
    g_variant_get (reply, "(u)", &pid);
  return pid;
}

gboolean
evcp_test_bus_stop_service (EvcpTestBus *bus, const gchar *name)
{
  guint32 pid = evcp_test_bus_get_pid (bus, name);

  if (pid == 0)
    return TRUE;
  g_assert_cmpint (kill ((pid_t) pid, SIGTERM), ==, 0);
  return evcp_test_bus_wait_owner (bus, name, FALSE, EVCP_TEST_DBUS_WAIT_MS) &&
         evcp_test_pid_wait_gone (pid, EVCP_TEST_DBUS_WAIT_MS);
}

void
evcp_test_bus_free (EvcpTestBus *bus)
{
  if (bus->connection != NULL)
    {
      if (!evcp_test_bus_stop_service (bus, "org.evcp.Engine"))
        g_test_message ("the Engine did not stop on SIGTERM");
      if (!evcp_test_bus_stop_service (bus, "org.evcp.Monitor"))
        g_test_message ("the Monitor did not stop on SIGTERM");
    }
  evcp_test_bus_stop_daemon (bus);
  if (g_test_failed ())
    {
      g_autofree gchar *log = NULL;

      if (g_file_get_contents (bus->log, &log, NULL, NULL))
        g_printerr ("---- %s ----\n%s---- end ----\n", bus->log, log);
    }
  evcp_test_remove_tree (bus->dir);
  g_free (bus->dir);
  g_free (bus->services_dir);
  g_free (bus->address);
  g_free (bus->log);
  g_free (bus->brokers);
  g_free (bus);
}

static gboolean
pid_gone (gpointer data)
{
  guint32 pid = GPOINTER_TO_UINT (data);
  g_autofree gchar *path = g_strdup_printf ("/proc/%u/stat", pid);
  g_autofree gchar *stat = NULL;
  const gchar *end;

  if (!g_file_get_contents (path, &stat, NULL, NULL))
    return TRUE;
  /* "pid (comm) S …": a zombie has exited; its parent may never reap it */
  end = strrchr (stat, ')');
  return end != NULL && end[1] == ' ' && end[2] == 'Z';
}

gboolean
evcp_test_pid_wait_gone (guint32 pid, guint timeout_ms)
{
  return evcp_test_wait_until (NULL, pid_gone, GUINT_TO_POINTER (pid), timeout_ms);
}

/* ---- programs -------------------------------------------------------------- */

void
evcp_test_run_free (EvcpTestRun *run)
{
  g_free (run->out);
  g_free (run->err);
  g_free (run);
}

typedef struct {
  gboolean  done;
  gchar    *out;
  gchar    *err;
} Communicated;

static void
on_communicated (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Communicated *c = user_data;

  g_subprocess_communicate_utf8_finish (G_SUBPROCESS (source), result, &c->out, &c->err, NULL);
  c->done = TRUE;
}

static gboolean
communicated (gpointer data)
{
  return ((Communicated *) data)->done;
}

EvcpTestRun *
evcp_test_run (const gchar * const *env, const gchar * const *argv)
{
  g_autoptr(GSubprocessLauncher) launcher =
    evcp_test_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *command = g_strjoinv (" ", (gchar **) argv);
  Communicated c = { FALSE, NULL, NULL };
  EvcpTestRun *run = g_new0 (EvcpTestRun, 1);

  for (guint i = 0; env != NULL && env[i] != NULL; i++)
    {
      g_auto(GStrv) kv = g_strsplit (env[i], "=", 2);

      g_assert_nonnull (kv[1]);
      g_subprocess_launcher_setenv (launcher, kv[0], kv[1], TRUE);
    }
  g_test_message ("$ %s", command);
  process = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8_async (process, NULL, NULL, on_communicated, &c);
  if (!evcp_test_wait_until (NULL, communicated, &c, EVCP_TEST_DBUS_WAIT_MS))
    {
      g_test_message ("%s: still running after %u ms, killed", argv[0], EVCP_TEST_DBUS_WAIT_MS);
      g_subprocess_force_exit (process);
      evcp_test_wait_until (NULL, communicated, &c, EVCP_TEST_DBUS_WAIT_MS);
    }
  g_subprocess_wait (process, NULL, NULL);
  run->status = g_subprocess_get_if_exited (process) ? g_subprocess_get_exit_status (process) : -1;
  run->out = c.out != NULL ? c.out : g_strdup ("");
  run->err = c.err != NULL ? c.err : g_strdup ("");
  g_test_message ("exit %d\n%s%s", run->status, run->out, run->err);
  return run;
}

/* Whether setpriv has --pdeathsig (util-linux 2.33). */
static gboolean
setpriv_keeps_pdeathsig (const gchar *setpriv)
{
  static gint known = -1;

  if (known < 0)
    {
      g_autoptr(GSubprocess) help = NULL;
      g_autofree gchar *out = NULL;

      help = evcp_test_subprocess_newv ((const gchar * const []) { setpriv, "--help", NULL },
                                        G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE, NULL);
      known = help != NULL &&
              g_subprocess_communicate_utf8 (help, NULL, NULL, &out, NULL, NULL) &&
              out != NULL && strstr (out, "--pdeathsig") != NULL;
    }
  return known;
}

EvcpTestRun *
evcp_test_run_unprivileged (const gchar * const *env, const gchar * const *argv, gchar **why)
{
  struct passwd *nobody = getpwnam ("nobody");
  g_autofree gchar *setpriv = g_find_program_in_path ("setpriv");
  g_autofree gchar *runuser = g_find_program_in_path ("runuser");
  g_autoptr(GPtrArray) args = g_ptr_array_new_with_free_func (g_free);

  if (getuid () != 0)
    {
      *why = g_strdup ("switching to an unprivileged user needs root (run the suite as root to check the refusal)");
      return NULL;
    }
  if (nobody == NULL)
    {
      *why = g_strdup ("there is no user nobody here");
      return NULL;
    }
  if (setpriv != NULL)
    {
      g_ptr_array_add (args, g_strdup (setpriv));
      g_ptr_array_add (args, g_strdup_printf ("--reuid=%u", (guint) nobody->pw_uid));
      g_ptr_array_add (args, g_strdup_printf ("--regid=%u", (guint) nobody->pw_gid));
      g_ptr_array_add (args, g_strdup ("--clear-groups"));
      /* the kernel forgets the parent-death signal when the user changes:
       * the program still dies with the test (evcp_test_launcher_new()) */
      if (setpriv_keeps_pdeathsig (setpriv))
        g_ptr_array_add (args, g_strdup ("--pdeathsig=keep"));
      g_ptr_array_add (args, g_strdup ("--"));
    }
  else if (runuser != NULL)
    {
      g_ptr_array_add (args, g_strdup (runuser));
      g_ptr_array_add (args, g_strdup ("-u"));
      g_ptr_array_add (args, g_strdup ("nobody"));
      g_ptr_array_add (args, g_strdup ("--"));
    }
  else
    {
      *why = g_strdup ("neither setpriv nor runuser is installed (util-linux)");
      return NULL;
    }
  for (guint i = 0; argv[i] != NULL; i++)
    g_ptr_array_add (args, g_strdup (argv[i]));
  g_ptr_array_add (args, NULL);
  return evcp_test_run (env, (const gchar * const *) args->pdata);
}

JsonNode *
evcp_test_parse_json (const gchar *text)
{
  g_autoptr(GError) error = NULL;
  JsonNode *node = json_from_string (text, &error);

  g_assert_no_error (error);
  g_assert_nonnull (node);
  return node;
}

gboolean
evcp_test_file_contains (const gchar *path, const gchar *needle)
{
  g_autofree gchar *contents = NULL;

  return g_file_get_contents (path, &contents, NULL, NULL) && strstr (contents, needle) != NULL;
}
