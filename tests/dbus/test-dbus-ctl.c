/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* evcpctl end to end, as a process on a private bus whose service directory
 * starts the build tree's Engine and Monitor: every command, --json parsed
 * with json-glib, the exit codes (0, 1 service error, 2 usage, 3 not
 * running), no activation without --start, and `evcpctl monitor`. */
#include "evcp-build-config.h"

#include <signal.h>
#include <string.h>

#include "evcp-test-dbus.h"

#define WAIT_MS EVCP_TEST_DBUS_WAIT_MS

/* evcpctl ARGS… on @bus (NULL-terminated arguments) */
static EvcpTestRun *
ctl (EvcpTestBus *bus, ...)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autofree gchar *env_address = g_strdup_printf ("DBUS_SESSION_BUS_ADDRESS=%s", bus->address);
  const gchar *env[] = { env_address, NULL };
  const gchar *arg;
  va_list args;

  g_ptr_array_add (argv, (gpointer) evcp_test_dbus_program ("EVCP_CTL"));
  va_start (args, bus);
  while ((arg = va_arg (args, const gchar *)) != NULL)
    g_ptr_array_add (argv, (gpointer) arg);
  va_end (args);
  g_ptr_array_add (argv, NULL);
  return evcp_test_run (env, (const gchar * const *) argv->pdata);
}

static JsonObject *
member (JsonNode *root, const gchar *name)
{
  g_assert_true (JSON_NODE_HOLDS_OBJECT (root));
  g_assert_true (json_object_has_member (json_node_get_object (root), name));
  return json_object_get_object_member (json_node_get_object (root), name);
}

static EvcpTestBus *
started_bus (void)
{
  EvcpTestBus *bus = evcp_test_bus_new (NULL);
  g_autoptr(GError) error = NULL;

  g_assert_true (evcp_test_bus_start (bus, "session", NULL, &error));
  g_assert_no_error (error);
  return bus;
}

/* ---- nothing running, usage ------------------------------------------------------- */

static void
test_not_running (void)
{
  g_autoptr(EvcpTestBus) bus = started_bus ();
  g_autoptr(EvcpTestRun) run = NULL;
  g_autoptr(JsonNode) json = NULL;
  JsonObject *error;

  run = ctl (bus, "status", NULL);
  g_assert_cmpint (run->status, ==, 3);
  g_assert_nonnull (strstr (run->out, "not running"));
  g_assert_nonnull (strstr (run->err, "nobody owns org.evcp.Engine on the session bus"));
  g_assert_nonnull (strstr (run->err, "--start"));
  /* and nothing was started by surprise */
  g_assert_false (evcp_test_bus_has_owner (bus, "org.evcp.Engine"));
  g_assert_false (evcp_test_bus_has_owner (bus, "org.evcp.Monitor"));
  g_clear_pointer (&run, evcp_test_run_free);

  run = ctl (bus, "--json", "status", NULL);
  g_assert_cmpint (run->status, ==, 3);
  json = evcp_test_parse_json (run->out);
  g_assert_false (json_object_get_boolean_member (member (json, "engine"), "running"));
  g_assert_false (json_object_get_boolean_member (member (json, "monitor"), "running"));
  g_clear_pointer (&json, json_node_unref);
  g_clear_pointer (&run, evcp_test_run_free);

  for (const gchar * const *command = (const gchar * const []) { "handlers", "unplug", "clear-fault", "fault", NULL };
       *command != NULL; command++)
    {
      run = ctl (bus, "--json", *command, NULL);
      g_assert_cmpint (run->status, ==, 3);
      json = evcp_test_parse_json (run->out);
      error = member (json, "error");
      g_assert_cmpint (json_object_get_int_member (error, "exit_code"), ==, 3);
      g_assert_cmpstr (json_object_get_string_member (error, "service"), ==, "engine");
      g_clear_pointer (&json, json_node_unref);
      g_clear_pointer (&run, evcp_test_run_free);
    }
  g_assert_false (evcp_test_bus_has_owner (bus, "org.evcp.Engine"));

  run = ctl (bus, "metrics", "monitor", NULL);
  g_assert_cmpint (run->status, ==, 3);
  g_clear_pointer (&run, evcp_test_run_free);
  run = ctl (bus, "--bus-name", "org.evcp.Engine.CP002", "status", "engine", NULL);
  g_assert_cmpint (run->status, ==, 3);
  g_assert_nonnull (strstr (run->err, "org.evcp.Engine.CP002"));
  g_clear_pointer (&run, evcp_test_run_free);

  /* no bus at all */
  {
    const gchar *env[] = { "DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent/evcp-test-bus", NULL };

    run = evcp_test_run (env, (const gchar * const []) { evcp_test_dbus_program ("EVCP_CTL"), "status", NULL });
    g_assert_cmpint (run->status, ==, 3);
    g_assert_nonnull (strstr (run->err, "Cannot connect to the session bus"));
    /* not "not running": nobody could tell */
    g_assert_nonnull (strstr (run->out, "Engine  unreachable"));
    g_assert_null (strstr (run->out, "not running"));
    g_clear_pointer (&run, evcp_test_run_free);
    run = evcp_test_run (env, (const gchar * const[]){ evcp_test_dbus_program ("EVCP_CTL"), "--json", "status", NULL });
    g_assert_cmpint (run->status, ==, 3);
    json = evcp_test_parse_json (run->out);
    g_assert_false (json_object_get_boolean_member (member (json, "engine"), "reachable"));
    g_assert_true (json_object_get_null_member (member (json, "engine"), "running"));
    g_clear_pointer (&json, json_node_unref);
    g_clear_pointer (&run, evcp_test_run_free);
  }
}

static void
test_usage (void)
{
  g_autoptr(EvcpTestBus) bus = started_bus ();
  const gchar * const *bad[] = {
    (const gchar * const []) { NULL },
    (const gchar * const []) { "bogus", NULL },
    (const gchar * const []) { "--no-such-option", "status", NULL },
    (const gchar * const []) { "handler", NULL },
    (const gchar * const []) { "handler", "enable", NULL },
    (const gchar * const []) { "handler", "toggle", "user-info", NULL },
    (const gchar * const []) { "status", "everything", NULL },
    (const gchar * const []) { "status", "engine", "monitor", NULL },
    (const gchar * const []) { "unplug", "now", NULL },
    (const gchar * const []) { "--session", "--system", "status", NULL },
    (const gchar * const []) { "--bus-name", ":1.42", "status", NULL },
    (const gchar * const []) { "--address", "nonsense", "status", NULL },
    (const gchar * const []) { "--count", "-1", "monitor", NULL },
  };
  g_autoptr(EvcpTestRun) version = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GPtrArray) argv = g_ptr_array_new ();
      g_autofree gchar *env_address = g_strdup_printf ("DBUS_SESSION_BUS_ADDRESS=%s", bus->address);
      g_autoptr(EvcpTestRun) run = NULL;

      g_ptr_array_add (argv, (gpointer) evcp_test_dbus_program ("EVCP_CTL"));
      for (guint j = 0; bad[i][j] != NULL; j++)
        g_ptr_array_add (argv, (gpointer) bad[i][j]);
      g_ptr_array_add (argv, NULL);
      run = evcp_test_run ((const gchar * const []) { env_address, NULL }, (const gchar * const *) argv->pdata);
      g_assert_cmpint (run->status, ==, 2);
      g_assert_cmpstr (run->err, !=, "");
    }
  version = ctl (bus, "--version", NULL);
  g_assert_cmpint (version->status, ==, 0);
  g_assert_true (g_str_has_prefix (version->out, "evcpctl " PACKAGE_VERSION));
}

/* ---- every command ------------------------------------------------------------------- */

static JsonObject *
find_handler (JsonNode *root, const gchar *name)
{
  JsonArray *array;

  g_assert_true (JSON_NODE_HOLDS_ARRAY (root));
  array = json_node_get_array (root);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonObject *o = json_array_get_object_element (array, i);

      if (g_strcmp0 (json_object_get_string_member (o, "name"), name) == 0)
        return o;
    }
  return NULL;
}

static void
test_commands (void)
{
  g_autoptr(EvcpTestBus) bus = started_bus ();
  g_autoptr(EvcpTestRun) run = NULL;
  g_autoptr(JsonNode) json = NULL;
  JsonObject *engine, *monitor, *o;
  gint64 start = g_get_monotonic_time ();

  /* --start: D-Bus starts both */
  run = ctl (bus, "--start", "--json", "status", NULL);
  g_test_message ("evcpctl --start status, both activated: %" G_GINT64_FORMAT " ms",
                  (g_get_monotonic_time () - start) / 1000);
  g_assert_cmpint (run->status, ==, 0);
  json = evcp_test_parse_json (run->out);
  engine = member (json, "engine");
  g_assert_true (json_object_get_boolean_member (engine, "running"));
  g_assert_cmpstr (json_object_get_string_member (engine, "cp_id"), ==, EVCP_TEST_DBUS_CP);
  g_assert_cmpstr (json_object_get_string_member (engine, "state"), ==, "ACTIVE");
  g_assert_cmpstr (json_object_get_string_member (engine, "version"), ==, PACKAGE_VERSION);
  g_assert_false (json_object_get_boolean_member (engine, "kafka_connected"));
  g_assert_false (json_object_get_boolean_member (engine, "central_connected"));
  g_assert_true (json_object_has_member (engine, "session"));
  monitor = member (json, "monitor");
  g_assert_true (json_object_get_boolean_member (monitor, "running"));
  g_assert_cmpstr (json_object_get_string_member (monitor, "cp_id"), ==, EVCP_TEST_DBUS_CP);
  g_assert_true (g_strv_contains ((const gchar * const []) { "UNKNOWN", "OK", "KO", NULL },
                                  json_object_get_string_member (monitor, "status")));
  g_assert_cmpfloat (json_object_get_double_member (monitor, "availability"), >=, 0.0);
  g_clear_pointer (&json, json_node_unref);
  g_clear_pointer (&run, evcp_test_run_free);

  /* for people */
  run = ctl (bus, "status", NULL);
  g_assert_cmpint (run->status, ==, 0);
  g_assert_nonnull (strstr (run->out, "Engine  org.evcp.Engine (session bus)"));
  g_assert_nonnull (strstr (run->out, "ACTIVE"));
  g_assert_nonnull (strstr (run->out, "Monitor  org.evcp.Monitor (session bus)"));
  g_clear_pointer (&run, evcp_test_run_free);

  /* handlers */
  run = ctl (bus, "--json", "handlers", NULL);
  g_assert_cmpint (run->status, ==, 0);
  json = evcp_test_parse_json (run->out);
  g_assert_cmpuint (json_array_get_length (json_node_get_array (json)), ==, 3);
  o = find_handler (json, "user-info");
  g_assert_nonnull (o);
  g_assert_true (json_object_get_boolean_member (o, "enabled"));
  g_assert_cmpint (json_object_get_int_member (o, "handled"), ==, 0);
  g_assert_cmpint (json_object_get_int_member (o, "failures"), ==, 0);
  g_clear_pointer (&json, json_node_unref);
  g_clear_pointer (&run, evcp_test_run_free);
  run = ctl (bus, "handlers", NULL);
  g_assert_cmpint (run->status, ==, 0);
  g_assert_nonnull (strstr (run->out, "charging-request"));
  g_clear_pointer (&run, evcp_test_run_free);

  run = ctl (bus, "handler", "disable", "user-info", NULL);
  g_assert_cmpint (run->status, ==, 0);
  g_assert_nonnull (strstr (run->out, "disabled"));
  g_clear_pointer (&run, evcp_test_run_free);
  run = ctl (bus, "--json", "handlers", NULL);
  json = evcp_test_parse_json (run->out);
  g_assert_false (json_object_get_boolean_member (find_handler (json, "user-info"), "enabled"));
  g_clear_pointer (&json, json_node_unref);
  g_clear_pointer (&run, evcp_test_run_free);
  run = ctl (bus, "--json", "handler", "enable", "user-info", NULL);
  g_assert_cmpint (run->status, ==, 0);
  json = evcp_test_parse_json (run->out);
  g_assert_true (json_object_get_boolean_member (json_node_get_object (json), "ok"));
  g_clear_pointer (&json, json_node_unref);
  g_clear_pointer (&run, evcp_test_run_free);

  /* an error from the service: 1, its name in JSON */
  run = ctl (bus, "handler", "disable", "no-such-handler", NULL);
  g_assert_cmpint (run->status, ==, 1);
  g_assert_nonnull (strstr (run->err, "no-such-handler"));
  g_clear_pointer (&run, evcp_test_run_free);
  run = ctl (bus, "--json", "handler", "disable", "no-such-handler", NULL);
  g_assert_cmpint (run->status, ==, 1);
  json = evcp_test_parse_json (run->out);
  g_assert_cmpstr (json_object_get_string_member (member (json, "error"), "name"), ==, "org.evcp.Error.NotFound");
  g_assert_cmpint (json_object_get_int_member (member (json, "error"), "exit_code"), ==, 1);
  g_clear_pointer (&json, json_node_unref);
  g_clear_pointer (&run, evcp_test_run_free);

  /* fault, clear-fault */
  run = ctl (bus, "fault", "cable", "overheated", NULL);
  g_assert_cmpint (run->status, ==, 0);
  g_clear_pointer (&run, evcp_test_run_free);
  run = ctl (bus, "--json", "status", "engine", NULL);
  g_assert_cmpint (run->status, ==, 0);
  json = evcp_test_parse_json (run->out);
  g_assert_false (json_object_has_member (json_node_get_object (json), "monitor"));
  g_assert_cmpstr (json_object_get_string_member (member (json, "engine"), "state"), ==, "FAULT");
  g_assert_cmpstr (json_object_get_string_member (member (json, "engine"), "fault_reason"), ==, "cable overheated");
  g_clear_pointer (&json, json_node_unref);
  g_clear_pointer (&run, evcp_test_run_free);
  run = ctl (bus, "--json", "fault", "two\nlines", NULL);
  g_assert_cmpint (run->status, ==, 1);
  json = evcp_test_parse_json (run->out);
  g_assert_cmpstr (json_object_get_string_member (member (json, "error"), "name"), ==, "org.evcp.Error.InvalidArgs");
  g_clear_pointer (&json, json_node_unref);
  g_clear_pointer (&run, evcp_test_run_free);
  run = ctl (bus, "clear-fault", NULL);
  g_assert_cmpint (run->status, ==, 0);
  g_clear_pointer (&run, evcp_test_run_free);
  run = ctl (bus, "--json", "status", "engine", NULL);
  json = evcp_test_parse_json (run->out);
  g_assert_cmpstr (json_object_get_string_member (member (json, "engine"), "state"), ==, "ACTIVE");
  g_clear_pointer (&json, json_node_unref);
  g_clear_pointer (&run, evcp_test_run_free);

  /* unplug with no session */
  run = ctl (bus, "unplug", NULL);
  g_assert_cmpint (run->status, ==, 1);
  g_assert_nonnull (strstr (run->err, "no supply session"));
  g_clear_pointer (&run, evcp_test_run_free);
  run = ctl (bus, "--json", "unplug", NULL);
  json = evcp_test_parse_json (run->out);
  g_assert_cmpstr (json_object_get_string_member (member (json, "error"), "name"), ==, "org.evcp.Error.NoSession");
  g_clear_pointer (&json, json_node_unref);
  g_clear_pointer (&run, evcp_test_run_free);

  /* metrics */
  run = ctl (bus, "--json", "metrics", NULL);
  g_assert_cmpint (run->status, ==, 0);
  json = evcp_test_parse_json (run->out);
  engine = member (json, "engine");
  g_assert_cmpstr (json_object_get_string_member (engine, "cp-id"), ==, EVCP_TEST_DBUS_CP);
  g_assert_true (json_object_has_member (engine, "messages-received"));
  g_assert_true (JSON_NODE_HOLDS_ARRAY (json_object_get_member (engine, "handlers")));
  g_assert_true (JSON_NODE_HOLDS_OBJECT (json_object_get_member (engine, "kinds")));
  monitor = member (json, "monitor");
  g_assert_cmpstr (json_object_get_string_member (monitor, "id"), ==, EVCP_TEST_DBUS_CP);
  g_assert_true (json_object_has_member (monitor, "latency_p99_ms"));
  /* numbers as people write them: never 17 significant digits of binary noise */
  g_assert_false (g_regex_match_simple ("[0-9]\\.[0-9]*(0000000|9999999)[0-9]", run->out, 0, 0));
  g_clear_pointer (&json, json_node_unref);
  g_clear_pointer (&run, evcp_test_run_free);
  run = ctl (bus, "metrics", "engine", NULL);
  g_assert_cmpint (run->status, ==, 0);
  g_assert_nonnull (strstr (run->out, "messages-received"));
  g_assert_null (strstr (run->out, "Monitor"));
  /* tables, not GVariant text */
  g_assert_true (g_regex_match_simple ("^  messages-received +0$", run->out, G_REGEX_MULTILINE, 0));
  g_assert_true (g_regex_match_simple ("^  HANDLER +ENABLED +HANDLED +FAILURES$", run->out, G_REGEX_MULTILINE, 0));
  g_assert_true (g_regex_match_simple ("^  user-info +yes +0 +0$", run->out, G_REGEX_MULTILINE, 0));
  g_assert_true (g_regex_match_simple ("^  session +none$", run->out, G_REGEX_MULTILINE, 0));
  g_assert_null (strstr (run->out, "[("));
  g_assert_null (strstr (run->out, "uint"));
  g_assert_null (strstr (run->out, "@a"));
  g_clear_pointer (&run, evcp_test_run_free);
  run = ctl (bus, "metrics", "monitor", NULL);
  g_assert_cmpint (run->status, ==, 0);
  g_assert_true (g_regex_match_simple ("^  METRIC +VALUE$", run->out, G_REGEX_MULTILINE, 0));
  g_assert_true (g_regex_match_simple ("^  alerts_firing +", run->out, G_REGEX_MULTILINE, 0));
  g_assert_null (strstr (run->out, "@as"));
  g_assert_null (strstr (run->out, "['"));
  g_clear_pointer (&run, evcp_test_run_free);

  /* the log level, changed while running */
  for (const gchar * const *service = (const gchar * const[]){ "engine", "monitor", NULL }; *service != NULL; service++)
    {
      run = ctl (bus, "log-level", *service, NULL);
      g_assert_cmpint (run->status, ==, 0);
      g_assert_cmpstr (run->out, ==, "message\n");
      g_clear_pointer (&run, evcp_test_run_free);
      run = ctl (bus, "log-level", *service, "debug", NULL);
      g_assert_cmpint (run->status, ==, 0);
      g_clear_pointer (&run, evcp_test_run_free);
      run = ctl (bus, "--json", "log-level", *service, NULL);
      g_assert_cmpint (run->status, ==, 0);
      json = evcp_test_parse_json (run->out);
      g_assert_cmpstr (json_object_get_string_member (json_node_get_object (json), "log_level"), ==, "debug");
      g_clear_pointer (&json, json_node_unref);
      g_clear_pointer (&run, evcp_test_run_free);
      run = ctl (bus, "--json", "log-level", *service, "loud", NULL);
      g_assert_cmpint (run->status, ==, 1);
      json = evcp_test_parse_json (run->out);
      g_assert_cmpstr (json_object_get_string_member (member (json, "error"), "name"), ==,
                       "org.evcp.Error.InvalidArgs");
      g_clear_pointer (&json, json_node_unref);
      g_clear_pointer (&run, evcp_test_run_free);
    }
  run = ctl (bus, "--json", "status", "engine", NULL);
  json = evcp_test_parse_json (run->out);
  g_assert_cmpstr (json_object_get_string_member (member (json, "engine"), "log_level"), ==, "debug");
  g_clear_pointer (&json, json_node_unref);
  g_clear_pointer (&run, evcp_test_run_free);
  g_assert_true (evcp_test_file_contains (bus->log, "sets the log level to debug"));
  run = ctl (bus, "log-level", "central", "debug", NULL);
  g_assert_cmpint (run->status, ==, 2);
  g_clear_pointer (&run, evcp_test_run_free);
}

/* ---- evcpctl monitor --------------------------------------------------------------------- */

typedef struct {
  gboolean  done;
  gchar    *out;
} Collected;

static void
on_collected (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Collected *c = user_data;

  g_subprocess_communicate_utf8_finish (G_SUBPROCESS (source), result, &c->out, NULL, NULL);
  c->done = TRUE;
}

static gboolean
collected (gpointer data)
{
  return ((Collected *) data)->done;
}

typedef struct {
  const gchar *path;
  const gchar *needle;
} LogWait;

static gboolean
log_has (gpointer data)
{
  LogWait *w = data;

  return evcp_test_file_contains (w->path, w->needle);
}

/* evcpctl ARGS… monitor, running; its stderr in @err_path; returns once it follows */
static GSubprocess *
spawn_monitor (EvcpTestBus *bus, const gchar *err_path, const gchar * const *args)
{
  g_autoptr(GSubprocessLauncher) launcher = evcp_test_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  LogWait w = { err_path, "following the Engine and the Monitor" };
  GSubprocess *process;

  g_subprocess_launcher_setenv (launcher, "DBUS_SESSION_BUS_ADDRESS", bus->address, TRUE);
  g_subprocess_launcher_set_stderr_file_path (launcher, err_path);
  g_ptr_array_add (argv, (gpointer) evcp_test_dbus_program ("EVCP_CTL"));
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  process = g_subprocess_launcher_spawnv (launcher, (const gchar * const *) argv->pdata, &error);
  g_assert_no_error (error);
  g_assert_true (evcp_test_wait_until (NULL, log_has, &w, WAIT_MS));
  return process;
}

static gchar *
finish_monitor (GSubprocess *process, gint *status)
{
  Collected c = { FALSE, NULL };

  g_subprocess_communicate_utf8_async (process, NULL, NULL, on_collected, &c);
  g_assert_true (evcp_test_wait_until (NULL, collected, &c, WAIT_MS));
  g_subprocess_wait (process, NULL, NULL);
  *status = g_subprocess_get_if_exited (process) ? g_subprocess_get_exit_status (process) : -1;
  return c.out;
}

typedef struct {
  gboolean  done;
  gchar    *line;
} LineRead;

static void
on_line (GObject *source, GAsyncResult *result, gpointer user_data)
{
  LineRead *l = user_data;

  l->line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source), result, NULL, NULL);
  l->done = TRUE;
}

static gboolean
line_read (gpointer data)
{
  return ((LineRead *) data)->done;
}

/* The next line, or NULL at the end or after the deadline. */
static gchar *
read_line (GDataInputStream *data)
{
  LineRead l = { FALSE, NULL };

  g_data_input_stream_read_line_async (data, G_PRIORITY_DEFAULT, NULL, on_line, &l);
  g_assert_true (evcp_test_wait_until (NULL, line_read, &l, WAIT_MS));
  return l.line;
}

typedef struct {
  EvcpTestBus *bus;
  gint64       subscribers;
} SubscribersWait;

static gboolean
kafka_settled (gpointer data)
{
  g_autoptr(EvcpTestRun) run = ctl (data, "--json", "status", "engine", NULL);
  g_autoptr(JsonNode) json = evcp_test_parse_json (run->out);

  return g_strcmp0 (json_object_get_string_member (member (json, "engine"), "kafka_state"), "DISCONNECTED") == 0;
}

static gboolean
subscribers_are (gpointer data)
{
  SubscribersWait *w = data;
  g_autoptr(EvcpTestRun) run = ctl (w->bus, "--json", "metrics", "engine", NULL);
  g_autoptr(JsonNode) json = evcp_test_parse_json (run->out);

  return json_object_get_int_member (member (json, "engine"), "message-subscribers") == w->subscribers;
}

static void
test_monitor (void)
{
  g_autoptr(EvcpTestBus) bus = started_bus ();
  g_autoptr(EvcpTestRun) run = NULL;
  g_autoptr(GSubprocess) follower = NULL;
  g_autofree gchar *err_path = g_build_filename (bus->dir, "monitor.err", NULL);
  g_autofree gchar *human_err = g_build_filename (bus->dir, "monitor-human.err", NULL);
  g_autofree gchar *out = NULL;
  g_auto(GStrv) lines = NULL;
  SubscribersWait sw = { bus, 1 };
  gint status = -1;
  JsonObject *o;

  run = ctl (bus, "--start", "status", "engine", NULL);
  g_assert_cmpint (run->status, ==, 0);
  g_clear_pointer (&run, evcp_test_run_free);
  /* the Engine's Kafka (nobody listens) is DISCONNECTED once: no change after */
  g_assert_true (evcp_test_wait_until (NULL, kafka_settled, bus, WAIT_MS));

  /* JSON lines; the Monitor's name is one nobody owns here, so that only
   * the Engine's events count */
  follower = spawn_monitor (bus, err_path, (const gchar * const []) {
                              "--json", "--monitor-bus-name", "org.evcp.NoMonitor", "--count", "3", "monitor", NULL });
  g_assert_true (evcp_test_file_contains (err_path, "org.evcp.NoMonitor) is not running; waiting"));
  /* it subscribed to MessageHandled */
  g_assert_true (evcp_test_wait_until (NULL, subscribers_are, &sw, WAIT_MS));
  run = ctl (bus, "fault", "live", NULL);
  g_assert_cmpint (run->status, ==, 0);
  g_clear_pointer (&run, evcp_test_run_free);
  run = ctl (bus, "clear-fault", NULL);
  g_assert_cmpint (run->status, ==, 0);
  g_clear_pointer (&run, evcp_test_run_free);
  out = finish_monitor (follower, &status);
  g_assert_cmpint (status, ==, 0);
  lines = g_strsplit (g_strstrip (out), "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 3);
  for (guint i = 0; i < 3; i++)
    {
      g_autoptr(JsonNode) json = evcp_test_parse_json (lines[i]);

      o = json_node_get_object (json);
      g_assert_cmpstr (json_object_get_string_member (o, "service"), ==, "engine");
      g_assert_true (json_object_has_member (o, "time"));
      switch (i)
        {
        case 0:
          g_assert_cmpstr (json_object_get_string_member (o, "event"), ==, "PropertiesChanged");
          o = json_object_get_object_member (o, "changed");
          g_assert_cmpstr (json_object_get_string_member (o, "state"), ==, "FAULT");
          g_assert_cmpstr (json_object_get_string_member (o, "fault_reason"), ==, "live");
          break;
        case 1:
          g_assert_cmpstr (json_object_get_string_member (o, "event"), ==, "StateChanged");
          g_assert_cmpstr (json_object_get_string_member (o, "old"), ==, "ACTIVE");
          g_assert_cmpstr (json_object_get_string_member (o, "new"), ==, "FAULT");
          break;
        default:
          g_assert_cmpstr (json_object_get_string_member (o, "event"), ==, "PropertiesChanged");
          o = json_object_get_object_member (o, "changed");
          g_assert_cmpstr (json_object_get_string_member (o, "state"), ==, "ACTIVE");
          break;
        }
    }
  /* gone, unsubscribed by leaving */
  sw.subscribers = 0;
  g_assert_true (evcp_test_wait_until (NULL, subscribers_are, &sw, WAIT_MS));
  g_clear_object (&follower);
  g_clear_pointer (&out, g_free);

  /* for people, until Ctrl-C (exit 0) */
  follower = spawn_monitor (bus, human_err, (const gchar * const []) {
                              "--monitor-bus-name", "org.evcp.NoMonitor", "monitor", NULL });
  run = ctl (bus, "fault", "again", NULL);
  g_assert_cmpint (run->status, ==, 0);
  g_clear_pointer (&run, evcp_test_run_free);
  /* a line per event, as it comes (not held in a buffer) */
  {
    g_autoptr(GDataInputStream) data = g_data_input_stream_new (g_subprocess_get_stdout_pipe (follower));
    gboolean seen = FALSE;

    while (!seen)
      {
        g_autofree gchar *line = read_line (data);

        g_assert_nonnull (line);
        g_test_message ("monitor: %s", line);
        seen = strstr (line, "StateChanged") != NULL && strstr (line, "ACTIVE → FAULT") != NULL;
      }
  }
  g_subprocess_send_signal (follower, SIGINT);
  g_subprocess_wait (follower, NULL, NULL);
  g_assert_true (g_subprocess_get_if_exited (follower));
  g_assert_cmpint (g_subprocess_get_exit_status (follower), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/dbus/evcpctl/not-running", test_not_running);
  g_test_add_func ("/dbus/evcpctl/usage", test_usage);
  g_test_add_func ("/dbus/evcpctl/commands", test_commands);
  g_test_add_func ("/dbus/evcpctl/monitor", test_monitor);
  return g_test_run ();
}
