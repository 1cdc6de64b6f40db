/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Engine's OCPP 1.6J link against an independent CSMS: tests/ocpp/csms.py,
 * written with the `ocpp` package from PyPI (it checks every message of the
 * charging point against the OCPP JSON schemas) and `websockets`, in the
 * virtual environment of tests/ocpp/python-env ($EVCP_OCPP_PYTHON, set by
 * scripts/test). Every part a real process on loopback: evcp-kafka-mock,
 * evcp-central (for the tickets), the CSMS and evcp-engine. The CSMS writes
 * what it received to a JSON-lines log, which the tests read; they drive it
 * through its standard input.
 *
 * Real seconds: sessions are short (360 kW: 100 Wh a second) and every
 * wait has a deadline. */
#include "evcp-build-config.h"

#include <signal.h>
#include <string.h>

#include "evcp-test-central.h"
#include "evcp-test-system.h"
#include "evcp-test-util.h"

#define CP      "CP-O1"
#define WAIT_MS 30000

typedef struct {
  gchar *tmpdir;
  gchar *db_path;
  gchar *state_dir;
  gchar *config;
  gchar *csms_log;
  guint16 csms_port;
  EvcpTestMockProcess *mock;
  EvcpTestCentral *central;
  GSubprocess *csms;
  GOutputStream *csms_in;
  EvcpSysEngine *engine;
  guint engines;
  GSubprocess *bus; /* a private session bus, when a test wants one */
  gchar *bus_address;
} Fixture;

static const gchar *
python (void)
{
  return g_getenv ("EVCP_OCPP_PYTHON");
}

/* ---- the CSMS ------------------------------------------------------------- */

/* Every line of the CSMS's log so far whose "t" is @t (and "action" @action,
 * if not NULL), parsed. (transfer container) (element-type JsonObject) */
static GPtrArray *
csms_find (Fixture *f, const gchar *t, const gchar *action)
{
  g_autofree gchar *text = NULL;
  g_auto(GStrv) lines = NULL;
  GPtrArray *found = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);

  if (!g_file_get_contents (f->csms_log, &text, NULL, NULL))
    return found;
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_autoptr(JsonParser) parser = json_parser_new ();
      JsonObject *o;

      if (*lines[i] == '\0' || !json_parser_load_from_data (parser, lines[i], -1, NULL))
        continue; /* the last line may be half written */
      o = json_node_get_object (json_parser_get_root (parser));
      if (g_strcmp0 (json_object_get_string_member_with_default (o, "t", ""), t) != 0 ||
          (action != NULL && g_strcmp0 (json_object_get_string_member_with_default (o, "action", ""), action) != 0))
        continue;
      g_ptr_array_add (found, json_object_ref (o));
    }
  return found;
}

typedef struct {
  Fixture *f;
  const gchar *t;
  const gchar *action;
  guint count;
} CsmsWait;

static gboolean
csms_has (gpointer data)
{
  CsmsWait *w = data;
  g_autoptr(GPtrArray) found = csms_find (w->f, w->t, w->action);

  return found->len >= w->count;
}

/* Waits until the log holds @count lines of @t/@action; returns them all. */
static GPtrArray *
csms_wait (Fixture *f, const gchar *t, const gchar *action, guint count)
{
  CsmsWait w = { f, t, action, count };

  if (!evcp_test_wait_until (NULL, csms_has, &w, WAIT_MS))
    {
      evcp_sys_dump_file (f->csms_log);
      if (f->engine != NULL)
        evcp_sys_dump_file (evcp_sys_engine_get_log_path (f->engine));
      g_error ("the CSMS did not log %u × %s %s in time", count, t, action != NULL ? action : "");
    }
  return csms_find (f, t, action);
}

static JsonObject *
csms_last (Fixture *f, const gchar *t, const gchar *action, guint count)
{
  g_autoptr(GPtrArray) all = csms_wait (f, t, action, count);

  return json_object_ref (g_ptr_array_index (all, all->len - 1));
}

/* The time of the @index-th entry @t/@action of the CSMS's log. */
static gdouble
entry_ts (Fixture *f, const gchar *t, const gchar *action, guint index)
{
  g_autoptr(GPtrArray) all = csms_wait (f, t, action, index + 1);

  return json_object_get_double_member (g_ptr_array_index (all, index), "ts");
}

static JsonObject *
payload_of (JsonObject *entry)
{
  return json_object_get_object_member (entry, "payload");
}

static void
csms_send (Fixture *f, const gchar *line)
{
  g_autoptr(GError) error = NULL;
  g_autofree gchar *with_nl = g_strconcat (line, "\n", NULL);

  g_assert_true (g_output_stream_write_all (f->csms_in, with_nl, strlen (with_nl), NULL, NULL, &error));
  g_assert_no_error (error);
}

/* A CALL from the CSMS through the ocpp package; returns its result. */
static JsonObject *
csms_call (Fixture *f, const gchar *action, const gchar *payload_json)
{
  g_autofree gchar *line = g_strdup_printf ("{\"call\": \"%s\", \"payload\": %s}", action, payload_json);
  g_autoptr(GPtrArray) before = csms_find (f, "result", action);
  g_autoptr(GPtrArray) errors = csms_find (f, "error", action);
  guint n = before->len;

  csms_send (f, line);
  for (;;)
    {
      g_autoptr(GPtrArray) now_errors = csms_find (f, "error", action);

      g_assert_cmpuint (now_errors->len, ==, errors->len);
      {
        g_autoptr(GPtrArray) results = csms_find (f, "result", action);

        if (results->len > n)
          return json_object_ref (payload_of (g_ptr_array_index (results, n)));
      }
      csms_wait (f, "result", action, n + 1);
    }
}

static const gchar *
status_of (JsonObject *result)
{
  return json_object_get_string_member (result, "status");
}

/* A raw frame from the CSMS; returns the CP's CALLERROR code for @id. */
static gchar *
csms_raw_error (Fixture *f, const gchar *id, const gchar *frame)
{
  g_autoptr(JsonNode) node = json_node_new (JSON_NODE_OBJECT);
  g_autoptr(JsonObject) o = json_object_new ();
  g_autofree gchar *line = NULL;

  json_object_set_string_member (o, "raw", frame);
  json_node_set_object (node, o);
  line = json_to_string (node, FALSE);
  csms_send (f, line);
  for (guint n = 1;; n++)
    {
      g_autoptr(GPtrArray) errors = csms_wait (f, "callerror", NULL, n);

      for (guint i = 0; i < errors->len; i++)
        {
          JsonObject *e = g_ptr_array_index (errors, i);

          if (g_strcmp0 (json_object_get_string_member (e, "id"), id) == 0)
            return g_strdup (json_object_get_string_member (e, "code"));
        }
    }
}

typedef struct {
  Fixture *f;
  guint count;
} ListenWait;

static gboolean
listening_or_gone (gpointer data)
{
  ListenWait *w = data;
  g_autoptr(GPtrArray) found = csms_find (w->f, "listening", NULL);

  return found->len >= w->count || g_subprocess_get_identifier (w->f->csms) == NULL;
}

static void csms_kill (Fixture *f);

/* Starts the CSMS on f->csms_port. Before an Engine knows that port, a port
 * taken meanwhile (evcp_test_free_port() is free only a moment) is replaced
 * by another. */
static void
csms_start (Fixture *f, const gchar * const *extra)
{
  for (guint attempt = 1;; attempt++)
    {
      g_autoptr(GSubprocessLauncher) launcher = evcp_test_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE);
      g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
      g_autoptr(GError) error = NULL;
      g_autoptr(GPtrArray) before = csms_find (f, "listening", NULL);
      ListenWait w = { f, before->len + 1 };

      g_ptr_array_add (argv, g_strdup (python ()));
      g_ptr_array_add (argv, g_test_build_filename (G_TEST_DIST, "ocpp", "csms.py", NULL));
      g_ptr_array_add (argv, g_strdup ("--port"));
      g_ptr_array_add (argv, g_strdup_printf ("%u", f->csms_port));
      g_ptr_array_add (argv, g_strdup ("--log"));
      g_ptr_array_add (argv, g_strdup (f->csms_log));
      for (guint i = 0; extra != NULL && extra[i] != NULL; i++)
        g_ptr_array_add (argv, g_strdup (extra[i]));
      g_ptr_array_add (argv, NULL);
      f->csms = g_subprocess_launcher_spawnv (launcher, (const gchar * const *) argv->pdata, &error);
      g_assert_no_error (error);
      f->csms_in = g_object_ref (g_subprocess_get_stdin_pipe (f->csms));
      g_assert_true (evcp_test_wait_until (NULL, listening_or_gone, &w, WAIT_MS));
      if (g_subprocess_get_identifier (f->csms) != NULL)
        return;
      csms_kill (f);
      if (f->engine != NULL || f->engines > 0 || attempt == 5)
        g_error ("the CSMS could not start on port %u (see its output above)", f->csms_port);
      g_test_message ("the CSMS could not start on port %u: trying another", f->csms_port);
      f->csms_port = evcp_test_free_port ();
    }
}

static void
csms_kill (Fixture *f)
{
  if (f->csms == NULL)
    return;
  g_subprocess_force_exit (f->csms);
  g_subprocess_wait (f->csms, NULL, NULL);
  g_clear_object (&f->csms_in);
  g_clear_object (&f->csms);
}

/* ---- the Engine ------------------------------------------------------------- */

static void
engine_start (Fixture *f, const gchar *url, const gchar *ocpp_extra)
{
  g_autofree gchar *log = g_strdup_printf ("%s/engine-%u.log", f->tmpdir, ++f->engines);
  g_autofree gchar *env_url = g_strconcat ("OCPP_URL=", url, NULL);
  g_autofree gchar *env_bus =
      f->bus_address != NULL ? g_strconcat ("DBUS_SESSION_BUS_ADDRESS=", f->bus_address, NULL) : NULL;
  /* a killed Engine's group membership expires after 6 s (not 45) */
  g_autofree gchar *config = g_strconcat ("[evcp]\nprice=0.40\n"
                                          "[librdkafka-consumer]\nsession.timeout.ms=6000\n"
                                          "heartbeat.interval.ms=1000\n"
                                          "[ocpp]\npower-kw=360\nping-interval-s=1\npong-timeout-s=2\n"
                                          "call-timeout-ms=5000\nreconnect-min-ms=100\nreconnect-max-ms=500\n",
                                          ocpp_extra != NULL ? ocpp_extra : "", NULL);
  g_autoptr(GError) error = NULL;

  g_assert_true (g_file_set_contents (f->config, config, -1, &error));
  f->engine = evcp_sys_engine_spawn (&(EvcpSysEngineOptions){
      .cp_id = CP,
      .brokers = evcp_test_mock_process_get_bootstrap (f->mock),
      .central_port = evcp_test_central_get_port (f->central),
      .state_dir = f->state_dir,
      .config = f->config,
      .log_path = log,
      .extra_env = (const gchar *[]){ env_url, env_bus, NULL },
  });
}

static gchar *
ws_url (Fixture *f)
{
  return g_strdup_printf ("ws://127.0.0.1:%u/ocpp", f->csms_port);
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  if (python () == NULL || *python () == '\0')
    {
      if (g_strcmp0 (g_getenv ("CI"), "true") == 0)
        g_error ("EVCP_OCPP_PYTHON is not set (scripts/test sets it with tests/ocpp/python-env)");
      g_test_skip ("no Python with the ocpp package (EVCP_OCPP_PYTHON: tests/ocpp/python-env)");
      return;
    }
  f->tmpdir = g_dir_make_tmp ("evcp-test-ocpp-XXXXXX", &error);
  g_assert_no_error (error);
  g_test_message ("logs and state in %s (left there if the test aborts)", f->tmpdir);
  f->db_path = g_build_filename (f->tmpdir, "central.db", NULL);
  f->state_dir = g_build_filename (f->tmpdir, "engine-state", NULL);
  f->config = g_build_filename (f->tmpdir, "engine.conf", NULL);
  f->csms_log = g_build_filename (f->tmpdir, "csms.log", NULL);
  f->csms_port = evcp_test_free_port ();
  f->mock = evcp_test_mock_process_start (NULL, &error);
  g_assert_no_error (error);
  f->central =
      evcp_test_central_start (f->db_path, (const gchar *[]){ "--kafka-brokers",
                                                              evcp_test_mock_process_get_bootstrap (f->mock), NULL });
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  if (f->tmpdir == NULL)
    return;
  if (g_test_failed ())
    {
      if (f->engine != NULL)
        evcp_sys_dump_file (evcp_sys_engine_get_log_path (f->engine));
      evcp_sys_dump_file (f->csms_log);
    }
  g_clear_pointer (&f->engine, evcp_sys_engine_free);
  csms_kill (f);
  if (f->bus != NULL)
    {
      g_subprocess_force_exit (f->bus);
      g_subprocess_wait (f->bus, NULL, NULL);
      g_clear_object (&f->bus);
    }
  g_free (f->bus_address);
  g_clear_pointer (&f->central, evcp_test_central_free);
  evcp_test_mock_process_free (f->mock);
  if (!g_test_failed ())
    evcp_test_remove_tree (f->tmpdir);
  g_free (f->tmpdir);
  g_free (f->db_path);
  g_free (f->state_dir);
  g_free (f->config);
  g_free (f->csms_log);
}

/* Nothing the charging point sent was refused by the ocpp package. */
static void
assert_all_valid (Fixture *f)
{
  g_autoptr(GPtrArray) refused = csms_find (f, "csms-callerror", NULL);

  if (refused->len > 0)
    evcp_sys_dump_file (f->csms_log);
  g_assert_cmpuint (refused->len, ==, 0);
}

static gint64
int_member (JsonObject *o, const gchar *name)
{
  g_assert_true (json_object_has_member (o, name));
  return json_object_get_int_member (o, name);
}

/* The StatusNotification of connector 1 that came @index-th (from 0). */
static const gchar *
connector_status (GPtrArray *statuses, guint index)
{
  guint seen = 0;

  for (guint i = 0; i < statuses->len; i++)
    {
      JsonObject *p = payload_of (g_ptr_array_index (statuses, i));

      if (json_object_get_int_member (p, "connectorId") == 1 && seen++ == index)
        return json_object_get_string_member (p, "status");
    }
  return NULL;
}

static guint
count_connector (Fixture *f)
{
  g_autoptr(GPtrArray) all = csms_find (f, "call", "StatusNotification");
  guint n = 0;

  for (guint i = 0; i < all->len; i++)
    n += json_object_get_int_member (payload_of (g_ptr_array_index (all, i)), "connectorId") == 1;
  return n;
}

typedef struct {
  Fixture *f;
  guint count;
} ConnectorWait;

static gboolean
connector_count_above (gpointer data)
{
  ConnectorWait *w = data;

  return count_connector (w->f) > w->count;
}

typedef struct {
  Fixture *f;
  const gchar *status;
} StatusWait;

static gboolean
last_status_is (gpointer data)
{
  StatusWait *w = data;
  g_autoptr(GPtrArray) all = csms_find (w->f, "call", "StatusNotification");
  guint n = count_connector (w->f);

  return n > 0 && g_strcmp0 (connector_status (all, n - 1), w->status) == 0;
}

static void
wait_status (Fixture *f, const gchar *status)
{
  StatusWait w = { f, status };

  if (!evcp_test_wait_until (NULL, last_status_is, &w, WAIT_MS))
    {
      evcp_sys_dump_file (f->csms_log);
      g_error ("connector 1 never became %s", status);
    }
}

static gboolean
ticket_recorded (gpointer data)
{
  Fixture *f = data;
  g_autoptr(GPtrArray) tickets = evcp_sys_db_tickets (f->db_path, CP);

  return tickets->len > 0;
}

/* ---- D-Bus: a private session bus, evcpctl status ---------------------------- */

/* FALSE (the test goes on without) if there is no dbus-daemon. */
static gboolean
bus_start (Fixture *f)
{
  g_autoptr(GSubprocessLauncher) launcher = evcp_test_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autoptr(GDataInputStream) out = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *daemon = g_find_program_in_path ("dbus-daemon");

  if (daemon == NULL)
    return FALSE;
  f->bus =
      g_subprocess_launcher_spawnv (launcher,
                                    (const gchar *[]){ daemon, "--session", "--nofork", "--print-address=1", NULL },
                                    &error);
  g_assert_no_error (error);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (f->bus));
  f->bus_address = g_data_input_stream_read_line (out, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (f->bus_address);
  return TRUE;
}

typedef struct {
  Fixture *f;
  const gchar *needle;
  gchar *out;
  gint64 last;
} CtlWait;

static gboolean
ctl_shows (gpointer data)
{
  CtlWait *w = data;
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) ctl = NULL;
  g_autoptr(GError) error = NULL;
  const gchar *exe = g_getenv ("EVCP_CTL");

  g_assert_nonnull (exe);
  if (g_get_monotonic_time () - w->last < 200000)
    return FALSE; /* a run every 200 ms is enough */
  w->last = g_get_monotonic_time ();
  launcher = evcp_test_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_subprocess_launcher_setenv (launcher, "DBUS_SESSION_BUS_ADDRESS", w->f->bus_address, TRUE);
  g_subprocess_launcher_setenv (launcher, "LC_ALL", "C.UTF-8", TRUE);
  ctl = g_subprocess_launcher_spawnv (launcher, (const gchar *[]){ exe, "status", NULL }, &error);
  g_assert_no_error (error);
  g_clear_pointer (&w->out, g_free);
  g_assert_true (g_subprocess_communicate_utf8 (ctl, NULL, NULL, &w->out, NULL, &error));
  return w->out != NULL && strstr (w->out, w->needle) != NULL;
}

static void
assert_ctl_shows (Fixture *f, const gchar *needle)
{
  CtlWait w = { f, needle, NULL, 0 };

  if (!evcp_test_wait_until (NULL, ctl_shows, &w, WAIT_MS))
    g_error ("evcpctl status never showed “%s”; it said:\n%s", needle, w.out);
  g_test_message ("evcpctl status:\n%s", w.out);
  g_free (w.out);
}

/* ---- the tests ------------------------------------------------------------- */

/* Boot accepted; a remote start → StartTransaction (meterStart), Charging,
 * MeterValues at MeterValueSampleInterval with its transactionId; a remote
 * stop → StopTransaction (meterStop, Remote, the transactionId) whose energy
 * is the Central ticket's. */
static void
test_session (Fixture *f, gconstpointer data)
{
  g_autofree gchar *url = ws_url (f);
  g_autoptr(JsonObject) boot = NULL;
  g_autoptr(JsonObject) connected = NULL;
  g_autoptr(JsonObject) r = NULL;
  g_autoptr(JsonObject) start = NULL;
  g_autoptr(JsonObject) stop = NULL;
  g_autoptr(GPtrArray) meter = NULL;
  g_autoptr(GPtrArray) statuses = NULL;
  g_autoptr(GPtrArray) tickets = NULL;
  const EvcpSysTicket *ticket;
  gint64 tx, meter_start, meter_stop;
  gboolean has_bus;

  if (f->tmpdir == NULL)
    return;
  csms_start (f, NULL);
  has_bus = bus_start (f);
  engine_start (f, url, NULL);

  connected = csms_last (f, "connected", NULL, 1);
  g_assert_cmpstr (json_object_get_string_member (connected, "path"), ==, "/ocpp/" CP);
  g_assert_cmpstr (json_object_get_string_member (connected, "subprotocol"), ==, "ocpp1.6");
  boot = csms_last (f, "call", "BootNotification", 1);
  g_assert_cmpstr (json_object_get_string_member (payload_of (boot), "chargePointVendor"), ==, "evcp");
  g_assert_cmpstr (json_object_get_string_member (payload_of (boot), "chargePointSerialNumber"), ==, CP);
  wait_status (f, "Available");
  /* D-Bus OcppState, as evcpctl shows it */
  if (has_bus)
    assert_ctl_shows (f, "OCPP             ACCEPTED");
  else
    g_test_message ("no dbus-daemon: OcppState not checked");

  r = csms_call (f, "ChangeConfiguration", "{\"key\": \"MeterValueSampleInterval\", \"value\": \"1\"}");
  g_assert_cmpstr (status_of (r), ==, "Accepted");
  g_clear_pointer (&r, json_object_unref);
  r = csms_call (f, "RemoteStartTransaction", "{\"idTag\": \"drv-ocpp\", \"connectorId\": 1}");
  g_assert_cmpstr (status_of (r), ==, "Accepted");
  start = csms_last (f, "call", "StartTransaction", 1);
  g_assert_cmpstr (json_object_get_string_member (payload_of (start), "idTag"), ==, "drv-ocpp");
  /* the boot's status once per connector (queued before the StartTransaction) */
  {
    g_autoptr(GPtrArray) calls = csms_find (f, "call", NULL);
    guint per_connector[2] = { 0, 0 };

    for (guint i = 0; i < calls->len; i++)
      {
        JsonObject *c = g_ptr_array_index (calls, i);

        if (g_strcmp0 (json_object_get_string_member (c, "action"), "StartTransaction") == 0)
          break;
        if (g_strcmp0 (json_object_get_string_member (c, "action"), "StatusNotification") == 0)
          per_connector[json_object_get_int_member (payload_of (c), "connectorId") == 1]++;
      }
    g_assert_cmpuint (per_connector[0], ==, 1);
    g_assert_cmpuint (per_connector[1], ==, 1);
  }
  meter_start = int_member (payload_of (start), "meterStart");
  g_assert_cmpint (meter_start, ==, 0);
  wait_status (f, "Charging");
  meter = csms_wait (f, "call", "MeterValues", 2);
  tx = 1001; /* the CSMS's first */
  for (guint i = 0; i < meter->len; i++)
    {
      JsonObject *p = payload_of (g_ptr_array_index (meter, i));
      JsonObject *mv = json_array_get_object_element (json_object_get_array_member (p, "meterValue"), 0);
      JsonArray *sv = json_object_get_array_member (mv, "sampledValue");

      g_assert_cmpint (int_member (p, "transactionId"), ==, tx);
      g_assert_cmpuint (json_array_get_length (sv), ==, 2);
      g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (sv, 0), "measurand"), ==,
                       "Energy.Active.Import.Register");
      g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (sv, 1), "value"), ==, "360000");
    }

  g_clear_pointer (&r, json_object_unref);
  r = csms_call (f, "RemoteStopTransaction", "{\"transactionId\": 999}");
  g_assert_cmpstr (status_of (r), ==, "Rejected");
  g_clear_pointer (&r, json_object_unref);
  r = csms_call (f, "RemoteStopTransaction", "{\"transactionId\": 1001}");
  g_assert_cmpstr (status_of (r), ==, "Accepted");
  stop = csms_last (f, "call", "StopTransaction", 1);
  g_assert_cmpint (int_member (payload_of (stop), "transactionId"), ==, tx);
  g_assert_cmpstr (json_object_get_string_member (payload_of (stop), "reason"), ==, "Remote");
  meter_stop = int_member (payload_of (stop), "meterStop");
  g_assert_cmpint (meter_stop, >, meter_start);
  wait_status (f, "Available");
  statuses = csms_find (f, "call", "StatusNotification");
  g_assert_cmpstr (connector_status (statuses, count_connector (f) - 2), ==, "Finishing");

  /* the same energy as the ticket Central keeps */
  g_assert_true (evcp_test_wait_until (NULL, ticket_recorded, f, WAIT_MS));
  tickets = evcp_sys_db_tickets (f->db_path, CP);
  ticket = g_ptr_array_index (tickets, 0);
  g_assert_cmpstr (ticket->driver, ==, "drv-ocpp");
  g_assert_cmpint ((gint64) (ticket->kwh * 1000 + 0.5), ==, meter_stop - meter_start);
  assert_all_valid (f);
}

/* Rejected, then Pending (no charging, no status, Boot again at the
 * interval), then Accepted. */
static void
test_boot_states (Fixture *f, gconstpointer data)
{
  g_autofree gchar *url = ws_url (f);
  g_autoptr(JsonObject) r = NULL;
  g_autoptr(GPtrArray) boots = NULL;

  if (f->tmpdir == NULL)
    return;
  csms_start (f, (const gchar *[]){ "--boot", "Rejected", "--interval", "1", NULL });
  engine_start (f, url, NULL);
  g_ptr_array_unref (csms_wait (f, "call", "BootNotification", 2));
  g_assert_true (evcp_sys_engine_wait_log (f->engine, "OCPP BootNotification: Rejected (interval 1 s", WAIT_MS));
  /* not accepted: no charging */
  r = csms_call (f, "RemoteStartTransaction", "{\"idTag\": \"drv-early\"}");
  g_assert_cmpstr (status_of (r), ==, "Rejected");
  csms_send (f, "{\"set\": {\"boot\": \"Pending\"}}");
  g_assert_true (evcp_sys_engine_wait_log (f->engine, "OCPP BootNotification: Pending", WAIT_MS));
  boots = csms_find (f, "call", "BootNotification");
  g_assert_cmpuint (count_connector (f), ==, 0);
  csms_send (f, "{\"set\": {\"boot\": \"Accepted\", \"interval\": 1}}");
  g_ptr_array_unref (csms_wait (f, "call", "BootNotification", boots->len + 1));
  wait_status (f, "Available");
  g_clear_pointer (&r, json_object_unref);
  r = csms_call (f, "RemoteStartTransaction", "{\"idTag\": \"drv-late\"}");
  g_assert_cmpstr (status_of (r), ==, "Accepted");
  g_ptr_array_unref (csms_wait (f, "call", "StartTransaction", 1));
  /* the heartbeat at the interval of the Accepted, the CSMS's time logged */
  g_assert_cmpfloat (entry_ts (f, "call", "Heartbeat", 1) - entry_ts (f, "call", "Heartbeat", 0), >=, 0.9);
  g_assert_true (evcp_sys_engine_wait_log (f->engine, "OCPP Heartbeat: the CSMS's time is 20", WAIT_MS));
  g_clear_pointer (&r, json_object_unref);
  r = csms_call (f, "GetConfiguration", "{\"key\": [\"HeartbeatInterval\"]}");
  g_assert_cmpstr (json_object_get_string_member (
                       json_array_get_object_element (json_object_get_array_member (r, "configurationKey"), 0),
                       "value"),
                   ==, "1");
  assert_all_valid (f);
}

static gboolean
central_stop_sent (gpointer data)
{
  Fixture *f = data;
  g_autofree gchar *answer = evcp_test_central_command (f->central, "stop " CP);

  return g_str_has_prefix (answer, "OK");
}

/* Central's STOP and the OCPP holds each lift only their own: an accepted
 * BootNotification does not undo Central's STOP, Central's RESUME does not
 * undo ChangeAvailability Inoperative; the connector is Available only when
 * none is left. */
static void
test_holds (Fixture *f, gconstpointer data)
{
  g_autofree gchar *url = ws_url (f);
  g_autofree gchar *answer = NULL;
  g_autoptr(JsonObject) r = NULL;
  g_autoptr(GPtrArray) boots = NULL;

  gboolean has_bus;

  if (f->tmpdir == NULL)
    return;
  has_bus = bus_start (f);
  csms_start (f, (const gchar *[]){ "--boot", "Pending", "--interval", "1", NULL });
  engine_start (f, url, NULL);
  g_assert_true (evcp_sys_engine_wait_log (f->engine, "OCPP BootNotification: Pending", WAIT_MS));
  if (has_bus)
    assert_ctl_shows (f, "Stopped by       ocpp-boot\n");
  /* Central stops the CP while the boot is pending (the Engine is linked to
   * Central once the command is taken) */
  g_assert_true (evcp_test_wait_until (NULL, central_stop_sent, f, WAIT_MS));
  g_assert_true (evcp_sys_engine_wait_log (f->engine, "Central: STOP", WAIT_MS));
  boots = csms_find (f, "call", "BootNotification");
  csms_send (f, "{\"set\": {\"boot\": \"Accepted\", \"interval\": 60}}");
  g_ptr_array_unref (csms_wait (f, "call", "BootNotification", boots->len + 1));
  g_assert_true (evcp_sys_engine_wait_log (f->engine,
                                           "OCPP BootNotification not accepted ended; the charging point stays "
                                           "stopped: Central STOP",
                                           WAIT_MS));
  wait_status (f, "Unavailable");
  if (has_bus)
    assert_ctl_shows (f, "Stopped by       central\n");
  r = csms_call (f, "RemoteStartTransaction", "{\"idTag\": \"drv-held\"}");
  g_assert_cmpstr (status_of (r), ==, "Rejected");

  /* Inoperative too, then Central's RESUME: still Unavailable */
  g_clear_pointer (&r, json_object_unref);
  r = csms_call (f, "ChangeAvailability", "{\"connectorId\": 0, \"type\": \"Inoperative\"}");
  g_assert_cmpstr (status_of (r), ==, "Accepted");
  answer = evcp_test_central_command (f->central, "resume " CP);
  g_assert_true (g_str_has_prefix (answer, "OK"));
  g_assert_true (evcp_sys_engine_wait_log (f->engine,
                                           "Central STOP ended; the charging point stays stopped: OCPP Inoperative",
                                           WAIT_MS));
  if (has_bus)
    assert_ctl_shows (f, "Stopped by       ocpp-inoperative\n");
  g_clear_pointer (&r, json_object_unref);
  r = csms_call (f, "RemoteStartTransaction", "{\"idTag\": \"drv-held\"}");
  g_assert_cmpstr (status_of (r), ==, "Rejected");

  /* the last hold lifted: Available, and a session starts */
  g_clear_pointer (&r, json_object_unref);
  r = csms_call (f, "ChangeAvailability", "{\"connectorId\": 1, \"type\": \"Operative\"}");
  g_assert_cmpstr (status_of (r), ==, "Accepted");
  wait_status (f, "Available");
  g_clear_pointer (&r, json_object_unref);
  if (has_bus)
    assert_ctl_shows (f, "State            ACTIVE\n");
  r = csms_call (f, "RemoteStartTransaction", "{\"idTag\": \"drv-free\"}");
  g_assert_cmpstr (status_of (r), ==, "Accepted");
  g_ptr_array_unref (csms_wait (f, "call", "StartTransaction", 1));
  assert_all_valid (f);
}

/* Bad CALLs answered with the right CALLERROR, the link kept; a 1 MiB frame
 * refused by closing the link (1009), which comes back; the other Core
 * CALLs answered. */
static void
test_bad_calls (Fixture *f, gconstpointer data)
{
  g_autofree gchar *url = ws_url (f);
  g_autofree gchar *code = NULL;
  g_autofree gchar *long_tag = NULL;
  g_autoptr(JsonObject) r = NULL;
  g_autoptr(JsonObject) closed = NULL;
  static const struct {
    const gchar *id;
    const gchar *frame;
    const gchar *code;
  } bad[] = {
    { "b1", "[2, \"b1\", \"FlyToTheMoon\", {}]", "NotImplemented" },
    { "b2", "[2, \"b2\", \"SetChargingProfile\", {}]", "NotSupported" },
    { "b3", "[2, \"b3\", \"RemoteStartTransaction\", {}]", "FormationViolation" },
    { "b4", "[2, \"b4\", \"RemoteStopTransaction\", {\"transactionId\": \"12\"}]", "TypeConstraintViolation" },
    { "b5", "[2, \"b5\", \"ChangeAvailability\", {\"connectorId\": 1, \"type\": \"Sometimes\"}]",
      "PropertyConstraintViolation" },
    { "b6", "[2, \"b6\", \"Reset\", {\"type\": \"Soft\", \"extra\": 1}]", "FormationViolation" },
    { "b7", "[2, \"b7\", \"Reset\"]", "FormationViolation" },
    { "b8", "[2, \"b8\", \"Reset\", [1]]", "FormationViolation" },
    { "b9", "[7, \"b9\", \"Reset\", {}]", "ProtocolError" },
  };

  if (f->tmpdir == NULL)
    return;
  csms_start (f, NULL);
  engine_start (f, url, NULL);
  wait_status (f, "Available");

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree gchar *got = csms_raw_error (f, bad[i].id, bad[i].frame);

      g_assert_cmpstr (got, ==, bad[i].code);
    }
  /* an idTag of 21 characters: too long */
  long_tag = g_strdup_printf ("[2, \"b10\", \"RemoteStartTransaction\", {\"idTag\": \"%s\"}]", "abcdefghijklmnopqrstu");
  code = csms_raw_error (f, "b10", long_tag);
  g_assert_cmpstr (code, ==, "PropertyConstraintViolation");
  g_assert_true (evcp_sys_engine_log_contains (f->engine, "idTag is 21 characters long, at most 20 allowed"));
  /* not JSON: logged and ignored, the link stays */
  csms_send (f, "{\"raw\": \"this is not json\"}");
  g_assert_true (evcp_sys_engine_wait_log (f->engine, "ignored: not JSON", WAIT_MS));

  /* the rest of the Core profile */
  r = csms_call (f, "DataTransfer", "{\"vendorId\": \"com.example\", \"data\": \"x\"}");
  g_assert_cmpstr (status_of (r), ==, "UnknownVendorId");
  g_clear_pointer (&r, json_object_unref);
  r = csms_call (f, "ClearCache", "{}");
  g_assert_cmpstr (status_of (r), ==, "Accepted");
  g_clear_pointer (&r, json_object_unref);
  r = csms_call (f, "UnlockConnector", "{\"connectorId\": 2}");
  g_assert_cmpstr (status_of (r), ==, "NotSupported");
  g_clear_pointer (&r, json_object_unref);
  r = csms_call (f, "ChangeConfiguration", "{\"key\": \"NoSuchKey\", \"value\": \"1\"}");
  g_assert_cmpstr (status_of (r), ==, "NotSupported");
  g_clear_pointer (&r, json_object_unref);
  r = csms_call (f, "ChangeConfiguration", "{\"key\": \"NumberOfConnectors\", \"value\": \"2\"}");
  g_assert_cmpstr (status_of (r), ==, "Rejected");
  g_clear_pointer (&r, json_object_unref);
  r = csms_call (f, "ChangeConfiguration", "{\"key\": \"HeartbeatInterval\", \"value\": \"-1\"}");
  g_assert_cmpstr (status_of (r), ==, "Rejected");
  g_clear_pointer (&r, json_object_unref);
  r = csms_call (f, "ChangeConfiguration", "{\"key\": \"HeartbeatInterval\", \"value\": \"1\"}");
  g_assert_cmpstr (status_of (r), ==, "Accepted");
  g_ptr_array_unref (csms_wait (f, "call", "Heartbeat", 1));
  g_clear_pointer (&r, json_object_unref);
  r = csms_call (f, "GetConfiguration", "{\"key\": [\"HeartbeatInterval\", \"Nope\"]}");
  {
    JsonArray *keys = json_object_get_array_member (r, "configurationKey");
    JsonArray *unknown = json_object_get_array_member (r, "unknownKey");

    g_assert_cmpuint (json_array_get_length (keys), ==, 1);
    g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (keys, 0), "value"), ==, "1");
    g_assert_cmpstr (json_array_get_string_element (unknown, 0), ==, "Nope");
  }
  g_clear_pointer (&r, json_object_unref);
  {
    guint before = count_connector (f);

    r = csms_call (f, "TriggerMessage", "{\"requestedMessage\": \"StatusNotification\", \"connectorId\": 1}");
    g_assert_cmpstr (status_of (r), ==, "Accepted");
    wait_status (f, "Available");
    g_assert_cmpuint (count_connector (f), >, before);
  }
  g_clear_pointer (&r, json_object_unref);
  r = csms_call (f, "TriggerMessage", "{\"requestedMessage\": \"FirmwareStatusNotification\"}");
  g_assert_cmpstr (status_of (r), ==, "NotImplemented");

  /* 1 MiB: refused (libsoup drops the link) without harm; it comes back */
  csms_send (f, "{\"big\": 1048576}");
  closed = csms_last (f, "disconnected", NULL, 1);
  g_assert_true (evcp_sys_engine_wait_log (f->engine, "larger than 65536 bytes", WAIT_MS));
  g_ptr_array_unref (csms_wait (f, "connected", NULL, 2));
  g_ptr_array_unref (csms_wait (f, "call", "BootNotification", 2));
  g_assert_true (evcp_sys_engine_is_running (f->engine));
  assert_all_valid (f);
}

/* The actions of the CALLs from the CP to the CSMS from entry @from of its
 * log on, that belong to transactions, in order. (element-type JsonObject) */
static GPtrArray *
transaction_calls (Fixture *f)
{
  g_autoptr(GPtrArray) calls = csms_find (f, "call", NULL);
  GPtrArray *tx = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);

  for (guint i = 0; i < calls->len; i++)
    {
      JsonObject *c = g_ptr_array_index (calls, i);
      const gchar *action = json_object_get_string_member (c, "action");

      if (g_strcmp0 (action, "StartTransaction") == 0 || g_strcmp0 (action, "StopTransaction") == 0 ||
          g_strcmp0 (action, "MeterValues") == 0)
        g_ptr_array_add (tx, json_object_ref (c));
    }
  return tx;
}

static gchar *
http_get_metrics (guint16 port)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketConnection) conn = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) out = g_string_new (NULL);
  const gchar *request = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  gchar buf[4096];
  gssize n;

  g_socket_client_set_timeout (client, 10);
  conn = g_socket_client_connect_to_host (client, "127.0.0.1", port, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (conn)), request,
                                            strlen (request), NULL, NULL, &error));
  while ((n = g_input_stream_read (g_io_stream_get_input_stream (G_IO_STREAM (conn)), buf, sizeof buf, NULL, &error)) >
         0)
    g_string_append_len (out, buf, n);
  g_assert_no_error (error);
  return g_string_free (g_steal_pointer (&out), FALSE);
}

static guint64
metric (const gchar *text, const gchar *name)
{
  g_autofree gchar *needle = g_strdup_printf ("\n%s{", name);
  const gchar *at = strstr (text, needle);

  g_assert_nonnull (at);
  at = strchr (at + 1, '}');
  g_assert_nonnull (at);
  return g_ascii_strtoull (at + 2, NULL, 10);
}

/* The CSMS goes away mid-session: the session's MeterValues and its
 * StopTransaction wait, a whole session runs offline; when the CSMS comes
 * back they go in order, the offline session's StartTransaction first and
 * its later messages with the transactionId it got. */
static void
test_offline (Fixture *f, gconstpointer data)
{
  g_autofree gchar *url = ws_url (f);
  guint16 metrics_port = evcp_test_free_port ();
  g_autofree gchar *extra = g_strdup_printf ("[evcp]\nmetrics-address=127.0.0.1:%u\n", metrics_port);
  g_autofree gchar *metrics = NULL;
  g_autoptr(JsonObject) r = NULL;
  g_autoptr(GPtrArray) tx = NULL;
  g_autoptr(GPtrArray) tickets = NULL;
  gint64 stop1 = -1, start2 = -1, id2 = -1;
  guint i, online_before;

  if (f->tmpdir == NULL)
    return;
  csms_start (f, NULL);
  /* [evcp] again after [ocpp]: a key file may repeat a group */
  engine_start (f, url, extra);
  wait_status (f, "Available");
  r = csms_call (f, "ChangeConfiguration", "{\"key\": \"MeterValueSampleInterval\", \"value\": \"1\"}");
  g_clear_pointer (&r, json_object_unref);
  r = csms_call (f, "RemoteStartTransaction", "{\"idTag\": \"drv-1\"}");
  g_assert_cmpstr (status_of (r), ==, "Accepted");
  g_ptr_array_unref (csms_wait (f, "callresult", NULL, 1));
  g_ptr_array_unref (csms_wait (f, "call", "MeterValues", 1));
  {
    g_autoptr(GPtrArray) before = transaction_calls (f);

    online_before = before->len;
  }

  csms_kill (f);
  g_assert_true (evcp_sys_engine_wait_log (f->engine, "; connecting again", WAIT_MS));
  /* two MeterValues at least wait; the session ends (a fault, cleared) */
  g_assert_true (evcp_sys_engine_wait_log (f->engine, "OCPP: cannot connect to", WAIT_MS));
  evcp_sys_engine_signal (f->engine, SIGUSR1);
  g_assert_true (evcp_sys_engine_wait_log (f->engine, "ended (FAULT)", WAIT_MS));
  evcp_sys_engine_signal (f->engine, SIGUSR2);
  g_assert_true (evcp_sys_engine_wait_log (f->engine, "Fault cleared", WAIT_MS));
  /* a whole session offline, from Kafka */
  evcp_sys_produce_request (evcp_test_mock_process_get_bootstrap (f->mock), CP, "drv-2", 360, 2);
  g_assert_true (evcp_sys_engine_wait_log (f->engine, "ended (DURATION)", WAIT_MS));
  metrics = http_get_metrics (metrics_port);
  g_assert_cmpuint (metric (metrics, "evcp_engine_ocpp_queue_length"), >=, 4);
  g_assert_cmpuint (metric (metrics, "evcp_engine_ocpp_connect_failures_total"), >=, 1);
  g_assert_cmpuint (metric (metrics, "evcp_engine_ocpp_accepted"), ==, 0);

  csms_start (f, (const gchar *[]){ "--tx-base", "2000", NULL });
  g_ptr_array_unref (csms_wait (f, "connected", NULL, 2));
  /* everything: Stop of drv-1, Start, MeterValues, Stop of drv-2 */
  {
    g_autoptr(GPtrArray) stops = csms_wait (f, "call", "StopTransaction", 2);
  }
  tx = transaction_calls (f);
  g_assert_cmpuint (tx->len, >, online_before + 3);
  for (i = online_before; i < tx->len; i++)
    {
      JsonObject *c = g_ptr_array_index (tx, i);
      JsonObject *p = payload_of (c);
      const gchar *action = json_object_get_string_member (c, "action");

      if (stop1 < 0)
        {
          /* drv-1's, with its id, until its Stop */
          g_assert_cmpstr (action, !=, "StartTransaction");
          g_assert_cmpint (int_member (p, "transactionId"), ==, 1001);
          if (g_strcmp0 (action, "StopTransaction") == 0)
            stop1 = int_member (p, "meterStop");
          continue;
        }
      if (start2 < 0)
        {
          g_assert_cmpstr (action, ==, "StartTransaction");
          g_assert_cmpstr (json_object_get_string_member (p, "idTag"), ==, "drv-2");
          start2 = int_member (p, "meterStart");
          id2 = 2001;
          continue;
        }
      g_assert_cmpint (int_member (p, "transactionId"), ==, id2);
    }
  g_assert_cmpint (start2, ==, stop1); /* one meter */
  g_assert_cmpstr (json_object_get_string_member (payload_of (g_ptr_array_index (tx, tx->len - 1)), "reason"), ==,
                   "Other");
  tickets = evcp_sys_db_tickets (f->db_path, CP);
  g_assert_cmpuint (tickets->len, ==, 2);
  {
    const EvcpSysTicket *t1 = g_ptr_array_index (tickets, 0);

    g_assert_cmpint ((gint64) (t1->kwh * 1000 + 0.5), ==, stop1);
  }
  wait_status (f, "Available");
  g_clear_pointer (&metrics, g_free);
  metrics = http_get_metrics (metrics_port);
  g_assert_cmpuint (metric (metrics, "evcp_engine_ocpp_queue_length"), ==, 0);
  g_assert_cmpuint (metric (metrics, "evcp_engine_ocpp_accepted"), ==, 1);
  g_assert_cmpuint (metric (metrics, "evcp_engine_ocpp_calls_received_total"), >=, 2);
  assert_all_valid (f);
}

/* ChangeAvailability: Scheduled while a session runs, applied when it
 * ends (STOP: Unavailable), kept across a restart; Operative again. */
static void
test_availability (Fixture *f, gconstpointer data)
{
  g_autofree gchar *url = ws_url (f);
  g_autoptr(JsonObject) r = NULL;

  if (f->tmpdir == NULL)
    return;
  csms_start (f, NULL);
  engine_start (f, url, NULL);
  wait_status (f, "Available");
  r = csms_call (f, "RemoteStartTransaction", "{\"idTag\": \"drv-a\"}");
  g_assert_cmpstr (status_of (r), ==, "Accepted");
  wait_status (f, "Charging");
  g_clear_pointer (&r, json_object_unref);
  r = csms_call (f, "ChangeAvailability", "{\"connectorId\": 0, \"type\": \"Inoperative\"}");
  g_assert_cmpstr (status_of (r), ==, "Scheduled");
  g_clear_pointer (&r, json_object_unref);
  r = csms_call (f, "ChangeAvailability", "{\"connectorId\": 7, \"type\": \"Inoperative\"}");
  g_assert_cmpstr (status_of (r), ==, "Rejected");
  g_clear_pointer (&r, json_object_unref);
  r = csms_call (f, "RemoteStopTransaction", "{\"transactionId\": 1001}");
  g_assert_cmpstr (status_of (r), ==, "Accepted");
  wait_status (f, "Unavailable");
  g_assert_true (evcp_sys_engine_wait_log (f->engine, "State ACTIVE → STOPPED", WAIT_MS));
  g_clear_pointer (&r, json_object_unref);
  r = csms_call (f, "RemoteStartTransaction", "{\"idTag\": \"drv-b\"}");
  g_assert_cmpstr (status_of (r), ==, "Rejected");

  /* a restart keeps it */
  g_assert_cmpint (evcp_sys_engine_term (f->engine), ==, 0);
  g_clear_pointer (&f->engine, evcp_sys_engine_free);
  engine_start (f, url, NULL);
  g_ptr_array_unref (csms_wait (f, "call", "BootNotification", 2));
  g_assert_true (evcp_sys_engine_wait_log (f->engine, "the connector is Inoperative", WAIT_MS));
  wait_status (f, "Unavailable");
  g_clear_pointer (&r, json_object_unref);
  r = csms_call (f, "ChangeAvailability", "{\"connectorId\": 1, \"type\": \"Operative\"}");
  g_assert_cmpstr (status_of (r), ==, "Accepted");
  wait_status (f, "Available");
  assert_all_valid (f);
}

static gint64 ticket_wh (Fixture *f, const gchar *driver);

/* Soft Reset during a session: its StopTransaction (SoftReset) goes on the
 * link the Reset came on, answered before the link closes; then a new
 * BootNotification, and no charging until it is Accepted. UnlockConnector
 * ends a session too. A Stop left unanswered does not hold the Reset
 * longer than the call timeout, and goes again after the new boot. */
static void
test_reset (Fixture *f, gconstpointer data)
{
  g_autofree gchar *url = ws_url (f);
  g_autoptr(JsonObject) r = NULL;
  g_autoptr(JsonObject) stop = NULL;
  g_autoptr(GPtrArray) stops = NULL;
  guint timeout_ms = evcp_test_scaled_ms (1000); /* longer under valgrind */
  g_autofree gchar *timeout_conf = g_strdup_printf ("call-timeout-ms=%u\n", timeout_ms);

  if (f->tmpdir == NULL)
    return;
  csms_start (f, NULL);
  engine_start (f, url, timeout_conf);
  wait_status (f, "Available");
  r = csms_call (f, "RemoteStartTransaction", "{\"idTag\": \"drv-r\"}");
  g_assert_cmpstr (status_of (r), ==, "Accepted");
  wait_status (f, "Charging");
  csms_send (f, "{\"set\": {\"boot\": \"Pending\", \"interval\": 1}}");
  g_clear_pointer (&r, json_object_unref);
  r = csms_call (f, "Reset", "{\"type\": \"Soft\"}");
  g_assert_cmpstr (status_of (r), ==, "Accepted");
  stop = csms_last (f, "call", "StopTransaction", 1);
  g_assert_cmpstr (json_object_get_string_member (payload_of (stop), "reason"), ==, "SoftReset");
  g_assert_cmpint (int_member (payload_of (stop), "transactionId"), ==, 1001);
  /* graceful: the Stop on the first link, before it closed and before the new boot */
  g_assert_cmpfloat (json_object_get_double_member (stop, "ts"), <, entry_ts (f, "disconnected", NULL, 0));
  g_assert_cmpfloat (json_object_get_double_member (stop, "ts"), <, entry_ts (f, "call", "BootNotification", 1));
  g_assert_cmpuint (count_connector (f), >, 0);
  /* rebooting: no charging while the CSMS answers Pending */
  g_assert_true (evcp_sys_engine_wait_log (f->engine, "OCPP BootNotification: Pending", WAIT_MS));
  g_clear_pointer (&r, json_object_unref);
  r = csms_call (f, "RemoteStartTransaction", "{\"idTag\": \"drv-early\"}");
  g_assert_cmpstr (status_of (r), ==, "Rejected");
  csms_send (f, "{\"set\": {\"boot\": \"Accepted\", \"interval\": 300}}");
  g_assert_true (evcp_sys_engine_wait_log (f->engine, "OCPP BootNotification: Accepted", WAIT_MS));
  wait_status (f, "Available");
  stops = csms_find (f, "call", "StopTransaction");
  g_assert_cmpuint (stops->len, ==, 1); /* answered on the first link: not sent again */

  g_clear_pointer (&r, json_object_unref);
  r = csms_call (f, "RemoteStartTransaction", "{\"idTag\": \"drv-u\"}");
  g_assert_cmpstr (status_of (r), ==, "Accepted");
  wait_status (f, "Charging");
  g_clear_pointer (&r, json_object_unref);
  r = csms_call (f, "UnlockConnector", "{\"connectorId\": 1}");
  g_assert_cmpstr (status_of (r), ==, "Unlocked");
  g_clear_pointer (&stop, json_object_unref);
  stop = csms_last (f, "call", "StopTransaction", 2);
  g_assert_cmpstr (json_object_get_string_member (payload_of (stop), "reason"), ==, "UnlockCommand");
  g_assert_cmpint (int_member (payload_of (stop), "transactionId"), ==, 1002);

  /* a Soft Reset whose StopTransaction the CSMS does not answer: the link
   * closes after call-timeout-ms; the Stop, kept, goes again after the boot */
  wait_status (f, "Available");
  g_clear_pointer (&r, json_object_unref);
  r = csms_call (f, "ChangeConfiguration", "{\"key\": \"TransactionMessageRetryInterval\", \"value\": \"1\"}");
  g_assert_cmpstr (status_of (r), ==, "Accepted");
  g_clear_pointer (&r, json_object_unref);
  r = csms_call (f, "RemoteStartTransaction", "{\"idTag\": \"drv-s\"}");
  g_assert_cmpstr (status_of (r), ==, "Accepted");
  wait_status (f, "Charging");
  csms_send (f, "{\"set\": {\"silent\": [\"StopTransaction\"]}}");
  g_clear_pointer (&r, json_object_unref);
  r = csms_call (f, "Reset", "{\"type\": \"Soft\"}");
  g_assert_cmpstr (status_of (r), ==, "Accepted");
  g_ptr_array_unref (csms_wait (f, "unanswered", "StopTransaction", 1));
  g_assert_true (
      evcp_sys_engine_wait_log (f->engine, "OCPP Soft Reset: 1 transaction messages go after the next boot", WAIT_MS));
  csms_send (f, "{\"set\": {\"silent\": []}}");
  g_assert_cmpfloat (entry_ts (f, "disconnected", NULL, 1) - entry_ts (f, "call", "StopTransaction", 2), >=,
                     timeout_ms / 1000.0 - 0.05);
  g_clear_pointer (&stop, json_object_unref);
  stop = csms_last (f, "call", "StopTransaction", 4);
  g_assert_cmpstr (json_object_get_string_member (payload_of (stop), "reason"), ==, "SoftReset");
  g_assert_cmpint (int_member (payload_of (stop), "transactionId"), ==, 1003);
  g_assert_cmpfloat (json_object_get_double_member (stop, "ts"), >, entry_ts (f, "call", "BootNotification", 2));
  {
    g_autoptr(GPtrArray) all = csms_find (f, "call", "StopTransaction");

    g_assert_cmpstr (json_object_get_string_member (payload_of (g_ptr_array_index (all, 2)), "timestamp"), ==,
                     json_object_get_string_member (payload_of (stop), "timestamp"));
  }
  wait_status (f, "Available");
  assert_all_valid (f);
}

/* Hard Reset during a session: the link is dropped at once and the OCPP
 * side starts over as at a start: a new BootNotification, no charging
 * until it is Accepted, the session's StopTransaction (HardReset) after
 * that, from the disk. A connector made Inoperative stays so across it. */
static void
test_hard_reset (Fixture *f, gconstpointer data)
{
  g_autofree gchar *url = ws_url (f);
  g_autoptr(JsonObject) r = NULL;
  g_autoptr(JsonObject) stop = NULL;
  g_autoptr(GPtrArray) stops = NULL;
  g_autoptr(GPtrArray) boots = NULL;
  gdouble accepted_at;
  guint statuses;

  if (f->tmpdir == NULL)
    return;
  csms_start (f, NULL);
  engine_start (f, url, NULL);
  wait_status (f, "Available");
  r = csms_call (f, "RemoteStartTransaction", "{\"idTag\": \"drv-h\"}");
  g_assert_cmpstr (status_of (r), ==, "Accepted");
  wait_status (f, "Charging");
  csms_send (f, "{\"set\": {\"boot\": \"Pending\", \"interval\": 1}}");
  g_clear_pointer (&r, json_object_unref);
  r = csms_call (f, "Reset", "{\"type\": \"Hard\"}");
  g_assert_cmpstr (status_of (r), ==, "Accepted");
  g_ptr_array_unref (csms_wait (f, "disconnected", NULL, 1));
  g_assert_true (evcp_sys_engine_wait_log (f->engine, "OCPP BootNotification: Pending", WAIT_MS));
  g_assert_true (evcp_sys_engine_log_contains (f->engine, "OCPP link restarted: Hard Reset asked by the CSMS"));
  g_assert_true (evcp_sys_engine_log_contains (f->engine, "ended (STOPPED)"));
  /* no charging before the new boot is Accepted; the Stop waits for it */
  g_clear_pointer (&r, json_object_unref);
  r = csms_call (f, "RemoteStartTransaction", "{\"idTag\": \"drv-early\"}");
  g_assert_cmpstr (status_of (r), ==, "Rejected");
  stops = csms_find (f, "call", "StopTransaction");
  g_assert_cmpuint (stops->len, ==, 0);
  csms_send (f, "{\"set\": {\"boot\": \"Accepted\", \"interval\": 300}}");
  stop = csms_last (f, "call", "StopTransaction", 1);
  g_assert_cmpstr (json_object_get_string_member (payload_of (stop), "reason"), ==, "HardReset");
  g_assert_cmpint (int_member (payload_of (stop), "transactionId"), ==, 1001);
  {
    g_autoptr(JsonObject) start = csms_last (f, "call", "StartTransaction", 1);

    g_assert_cmpint (int_member (payload_of (stop), "meterStop") - int_member (payload_of (start), "meterStart"), ==,
                     ticket_wh (f, "drv-h"));
  }
  boots = csms_find (f, "call", "BootNotification");
  accepted_at = json_object_get_double_member (g_ptr_array_index (boots, boots->len - 1), "ts");
  g_assert_cmpfloat (json_object_get_double_member (stop, "ts"), >, accepted_at);
  wait_status (f, "Available");
  g_clear_pointer (&r, json_object_unref);
  r = csms_call (f, "RemoteStartTransaction", "{\"idTag\": \"drv-late\"}");
  g_assert_cmpstr (status_of (r), ==, "Accepted");
  wait_status (f, "Charging");
  g_clear_pointer (&r, json_object_unref);
  r = csms_call (f, "RemoteStopTransaction", "{\"transactionId\": 1002}");
  g_assert_cmpstr (status_of (r), ==, "Accepted");
  wait_status (f, "Available");

  /* Inoperative stays Inoperative across a Hard Reset */
  g_clear_pointer (&r, json_object_unref);
  r = csms_call (f, "ChangeAvailability", "{\"connectorId\": 0, \"type\": \"Inoperative\"}");
  g_assert_cmpstr (status_of (r), ==, "Accepted");
  wait_status (f, "Unavailable");
  g_ptr_array_unref (boots);
  boots = csms_find (f, "call", "BootNotification");
  statuses = count_connector (f);
  g_clear_pointer (&r, json_object_unref);
  r = csms_call (f, "Reset", "{\"type\": \"Hard\"}");
  g_assert_cmpstr (status_of (r), ==, "Accepted");
  g_ptr_array_unref (csms_wait (f, "call", "BootNotification", boots->len + 1));
  g_assert_true (evcp_test_wait_until (NULL, connector_count_above, &(ConnectorWait){ f, statuses }, WAIT_MS));
  wait_status (f, "Unavailable");
  g_clear_pointer (&r, json_object_unref);
  r = csms_call (f, "RemoteStartTransaction", "{\"idTag\": \"drv-no\"}");
  g_assert_cmpstr (status_of (r), ==, "Rejected");
  g_clear_pointer (&r, json_object_unref);
  r = csms_call (f, "ChangeAvailability", "{\"connectorId\": 0, \"type\": \"Operative\"}");
  g_assert_cmpstr (status_of (r), ==, "Accepted");
  wait_status (f, "Available");
  assert_all_valid (f);
}

/* A CSMS that stops answering (SIGSTOP): no pong, the link is dropped and
 * made again once it answers. */
static void
test_pong_timeout (Fixture *f, gconstpointer data)
{
  g_autofree gchar *url = ws_url (f);
  const gchar *pid;

  if (f->tmpdir == NULL)
    return;
  csms_start (f, NULL);
  engine_start (f, url, NULL);
  wait_status (f, "Available");
  pid = g_subprocess_get_identifier (f->csms);
  g_assert_nonnull (pid);
  g_subprocess_send_signal (f->csms, SIGSTOP);
  g_assert_true (evcp_sys_engine_wait_log (f->engine, "dropped: no pong within 2 s of a ping", WAIT_MS));
  g_subprocess_send_signal (f->csms, SIGCONT);
  g_ptr_array_unref (csms_wait (f, "call", "BootNotification", 2));
  assert_all_valid (f);
}

/* Security profile 1: a wrong password is refused (HTTP 401) and said; the
 * right one is let in. */
static void
test_basic_auth (Fixture *f, gconstpointer data)
{
  g_autofree gchar *url = ws_url (f);
  g_autoptr(JsonObject) connected = NULL;
  gboolean has_bus;

  if (f->tmpdir == NULL)
    return;
  csms_start (f, (const gchar *[]){ "--password", "s3cret", NULL });
  has_bus = bus_start (f);
  engine_start (f, url, "password=wrong\n");
  g_ptr_array_unref (csms_wait (f, "refused", NULL, 1));
  g_assert_true (evcp_sys_engine_wait_log (f->engine, "the CSMS refused the credentials (HTTP 401)", WAIT_MS));
  /* reported: D-Bus OcppError, evcpctl status */
  if (has_bus)
    assert_ctl_shows (f, "OCPP error       the CSMS refused the credentials (HTTP 401)");
  g_assert_cmpint (evcp_sys_engine_term (f->engine), ==, 0);
  g_clear_pointer (&f->engine, evcp_sys_engine_free);
  {
    g_autoptr(GPtrArray) none = csms_find (f, "connected", NULL);

    g_assert_cmpuint (none->len, ==, 0);
  }
  engine_start (f, url, "password=s3cret\n");
  connected = csms_last (f, "connected", NULL, 1);
  g_assert_true (json_object_get_boolean_member (connected, "auth"));
  wait_status (f, "Available");
  assert_all_valid (f);
}

static void
make_certificates (Fixture *f)
{
  g_autofree gchar *script = g_strdup_printf (
      "set -e; cd '%s';"
      "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj '/CN=evcp test CA' -keyout ca.key -out ca.pem;"
      "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj '/CN=evcp untrusted CA' -keyout other.key -out "
      "other.pem;"
      "openssl req -newkey rsa:2048 -nodes -subj '/CN=127.0.0.1' -keyout csms.key -out csms.csr;"
      "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > csms.ext;"
      "openssl x509 -req -in csms.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile csms.ext -out csms.pem;"
      "openssl req -newkey rsa:2048 -nodes -subj '/CN=" CP "' -keyout cp.key -out cp.csr;"
      "openssl x509 -req -in cp.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -out cp.pem",
      f->tmpdir);
  g_autofree gchar *out = NULL;
  g_autofree gchar *err = NULL;
  g_autoptr(GError) error = NULL;
  gint status = 0;

  g_assert_true (g_spawn_sync (NULL, (gchar *[]){ (gchar *) "/bin/sh", (gchar *) "-c", script, NULL }, NULL,
                               G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err, &status, &error));
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("openssl failed: %s", err);
}

/* Security profiles 2 and 3: wss:// with a CSMS that asks for a client
 * certificate. An untrusted CSMS certificate is refused and said; no client
 * certificate, the CSMS refuses; both right, the link is up. */
static void
test_tls (Fixture *f, gconstpointer data)
{
  g_autofree gchar *url = g_strdup_printf ("wss://127.0.0.1:%u/ocpp", f->csms_port);
  g_autofree gchar *cert = NULL;
  g_autofree gchar *key = NULL;
  g_autofree gchar *ca = NULL;
  g_autofree gchar *untrusting = NULL;
  g_autofree gchar *no_client_cert = NULL;
  g_autofree gchar *full = NULL;
  g_autofree gchar *openssl = NULL;

  if (f->tmpdir == NULL)
    return;
  openssl = g_find_program_in_path ("openssl");
  if (openssl == NULL)
    {
      g_test_skip ("no openssl to make the certificates");
      return;
    }
  make_certificates (f);
  cert = g_build_filename (f->tmpdir, "csms.pem", NULL);
  key = g_build_filename (f->tmpdir, "csms.key", NULL);
  ca = g_build_filename (f->tmpdir, "ca.pem", NULL);
  csms_start (f, (const gchar *[]){ "--cert", cert, "--key", key, "--client-ca", ca, NULL });

  untrusting = g_strdup_printf ("ca-file=%s/other.pem\ncert-file=%s/cp.pem\nkey-file=%s/cp.key\n", f->tmpdir, f->tmpdir,
                                f->tmpdir);
  engine_start (f, url, untrusting);
  g_assert_true (evcp_sys_engine_wait_log (f->engine, "TLS handshake failed", WAIT_MS));
  g_assert_cmpint (evcp_sys_engine_term (f->engine), ==, 0);
  g_clear_pointer (&f->engine, evcp_sys_engine_free);

  no_client_cert = g_strdup_printf ("ca-file=%s/ca.pem\n", f->tmpdir);
  engine_start (f, url, no_client_cert);
  g_assert_true (evcp_sys_engine_wait_log (f->engine, "OCPP: cannot connect to", WAIT_MS));
  g_assert_cmpint (evcp_sys_engine_term (f->engine), ==, 0);
  g_clear_pointer (&f->engine, evcp_sys_engine_free);
  {
    g_autoptr(GPtrArray) none = csms_find (f, "connected", NULL);

    g_assert_cmpuint (none->len, ==, 0);
  }

  full =
      g_strdup_printf ("ca-file=%s/ca.pem\ncert-file=%s/cp.pem\nkey-file=%s/cp.key\n", f->tmpdir, f->tmpdir, f->tmpdir);
  engine_start (f, url, full);
  g_ptr_array_unref (csms_wait (f, "connected", NULL, 1));
  wait_status (f, "Available");
  assert_all_valid (f);
}

static const EvcpSysTicket *
ticket_of (GPtrArray *tickets, const gchar *driver)
{
  for (guint i = 0; i < tickets->len; i++)
    {
      const EvcpSysTicket *t = g_ptr_array_index (tickets, i);

      if (g_strcmp0 (t->driver, driver) == 0)
        return t;
    }
  return NULL;
}

typedef struct {
  Fixture *f;
  const gchar *driver;
} TicketWait;

static gboolean
has_ticket (gpointer data)
{
  TicketWait *w = data;
  g_autoptr(GPtrArray) tickets = evcp_sys_db_tickets (w->f->db_path, CP);

  return ticket_of (tickets, w->driver) != NULL;
}

static gint64
ticket_wh (Fixture *f, const gchar *driver)
{
  TicketWait w = { f, driver };
  g_autoptr(GPtrArray) tickets = NULL;
  const EvcpSysTicket *t;

  g_assert_true (evcp_test_wait_until (NULL, has_ticket, &w, WAIT_MS));
  tickets = evcp_sys_db_tickets (f->db_path, CP);
  t = ticket_of (tickets, driver);
  g_assert_nonnull (t);
  return t != NULL ? (gint64) (t->kwh * 1000 + 0.5) : -1;
}

typedef struct {
  const gchar *path;
  const gchar *needle;
} FileWait;

static gboolean
file_has (gpointer data)
{
  FileWait *w = data;

  return g_file_test (w->path, G_FILE_TEST_EXISTS) && evcp_sys_count_in_file (w->path, w->needle) > 0;
}

typedef struct {
  Fixture *f;
  gint64 id;
  JsonObject *found;
} StopWait;

static gboolean
has_stop (gpointer data)
{
  StopWait *w = data;
  g_autoptr(GPtrArray) stops = csms_find (w->f, "call", "StopTransaction");

  for (guint i = 0; i < stops->len; i++)
    if (json_object_get_int_member (payload_of (g_ptr_array_index (stops, i)), "transactionId") == w->id)
      {
        w->found = json_object_ref (g_ptr_array_index (stops, i));
        return TRUE;
      }
  return FALSE;
}

/* The energy register in every MeterValues of transaction @id never passes
 * its meterStop (after a kill too: the register never goes back). */
static void
assert_register_below (Fixture *f, gint64 id, gint64 meter_stop)
{
  g_autoptr(GPtrArray) all = csms_find (f, "call", "MeterValues");
  guint seen = 0;

  for (guint i = 0; i < all->len; i++)
    {
      JsonObject *p = payload_of (g_ptr_array_index (all, i));
      JsonObject *mv = json_array_get_object_element (json_object_get_array_member (p, "meterValue"), 0);
      JsonObject *energy = json_array_get_object_element (json_object_get_array_member (mv, "sampledValue"), 0);

      if (json_object_get_int_member_with_default (p, "transactionId", 0) != id)
        continue;
      seen++;
      g_assert_cmpint (g_ascii_strtoll (json_object_get_string_member (energy, "value"), NULL, 10), <=, meter_stop);
    }
  g_assert_cmpuint (seen, >, 0);
}

/* The StopTransaction of transaction @id, waited for. */
static JsonObject *
wait_stop (Fixture *f, gint64 id)
{
  StopWait w = { f, id, NULL };

  if (!evcp_test_wait_until (NULL, has_stop, &w, WAIT_MS))
    {
      evcp_sys_dump_file (f->csms_log);
      g_error ("no StopTransaction for transaction %" G_GINT64_FORMAT, id);
    }
  return w.found;
}

/* The Engine SIGKILLed during a session, online then offline: what it
 * kept of the transaction messages survives it; the session the kill
 * interrupted gets its StopTransaction (Reboot) with the energy of the
 * ticket Central has; a session started offline gets its transactionId
 * when the CSMS comes back, and its later messages carry it. */
static void
test_kill (Fixture *f, gconstpointer data)
{
  g_autofree gchar *url = ws_url (f);
  g_autofree gchar *outbox = g_build_filename (f->state_dir, "ocpp-outbox.json", NULL);
  g_autoptr(JsonObject) r = NULL;
  g_autoptr(JsonObject) start = NULL;
  g_autoptr(JsonObject) stop = NULL;
  g_autoptr(JsonObject) stop2 = NULL;
  g_autoptr(GPtrArray) starts = NULL;
  g_autoptr(GPtrArray) tx = NULL;
  FileWait metered = { outbox, "MeterValues" };
  gboolean after_start = FALSE;
  guint later = 0;
  gint64 meter_start;

  if (f->tmpdir == NULL)
    return;
  csms_start (f, NULL);
  engine_start (f, url, NULL);
  wait_status (f, "Available");
  r = csms_call (f, "ChangeConfiguration", "{\"key\": \"MeterValueSampleInterval\", \"value\": \"1\"}");
  g_clear_pointer (&r, json_object_unref);
  r = csms_call (f, "RemoteStartTransaction", "{\"idTag\": \"drv-k1\"}");
  g_assert_cmpstr (status_of (r), ==, "Accepted");
  start = csms_last (f, "call", "StartTransaction", 1);
  g_ptr_array_unref (csms_wait (f, "call", "MeterValues", 1));
  evcp_sys_engine_kill (f->engine);
  g_clear_pointer (&f->engine, evcp_sys_engine_free);

  /* online: the interrupted session's Stop after the new boot */
  engine_start (f, url, NULL);
  stop = wait_stop (f, 1001);
  g_assert_cmpstr (json_object_get_string_member (payload_of (stop), "reason"), ==, "Reboot");
  meter_start = int_member (payload_of (start), "meterStart");
  g_assert_cmpint (int_member (payload_of (stop), "meterStop") - meter_start, ==, ticket_wh (f, "drv-k1"));
  assert_register_below (f, 1001, int_member (payload_of (stop), "meterStop"));
  wait_status (f, "Available");

  /* offline: a session from Kafka, killed while it runs */
  csms_kill (f);
  g_assert_true (evcp_sys_engine_wait_log (f->engine, "OCPP: cannot connect to", WAIT_MS));
  evcp_sys_produce_request (evcp_test_mock_process_get_bootstrap (f->mock), CP, "drv-k2", 360, 60);
  g_assert_true (evcp_test_wait_until (NULL, file_has, &metered, WAIT_MS));
  evcp_sys_engine_kill (f->engine);
  g_clear_pointer (&f->engine, evcp_sys_engine_free);
  engine_start (f, url, NULL);
  g_assert_true (evcp_sys_engine_wait_log (f->engine, "was left open by the previous run", WAIT_MS));
  csms_start (f, (const gchar *[]){ "--tx-base", "2000", NULL });
  g_clear_pointer (&stop2, json_object_unref);
  stop2 = wait_stop (f, 2001);
  wait_status (f, "Available");

  starts = csms_find (f, "call", "StartTransaction");
  g_assert_cmpuint (starts->len, ==, 2);
  g_assert_cmpstr (json_object_get_string_member (payload_of (g_ptr_array_index (starts, 1)), "idTag"), ==, "drv-k2");
  meter_start = int_member (payload_of (g_ptr_array_index (starts, 1)), "meterStart");
  g_assert_cmpint (meter_start, ==, int_member (payload_of (stop), "meterStop"));
  /* after drv-k2's StartTransaction: its MeterValues and Stop, with its id */
  tx = transaction_calls (f);
  for (guint i = 0; i < tx->len; i++)
    {
      JsonObject *c = g_ptr_array_index (tx, i);
      JsonObject *p = payload_of (c);

      if (g_strcmp0 (json_object_get_string_member (c, "action"), "StartTransaction") == 0)
        after_start = g_strcmp0 (json_object_get_string_member (p, "idTag"), "drv-k2") == 0;
      else if (after_start)
        {
          g_assert_cmpint (int_member (p, "transactionId"), ==, 2001);
          later++;
        }
    }
  g_assert_cmpuint (later, >=, 2); /* a MeterValues at least, and the Stop */
  g_assert_cmpstr (json_object_get_string_member (payload_of (stop2), "reason"), ==, "Reboot");
  g_assert_cmpint (int_member (payload_of (stop2), "meterStop") - meter_start, ==, ticket_wh (f, "drv-k2"));
  assert_register_below (f, 2001, int_member (payload_of (stop2), "meterStop"));
  assert_all_valid (f);
}

/* AuthorizeRemoteTxRequests: a remote start asks Authorize first (Preparing);
 * a blocked idTag starts nothing. A StartTransaction the CSMS answers with a
 * blocked idTag ends its session (DeAuthorized). TriggerMessage MeterValues
 * and Heartbeat, and a Hard reset. */
static void
test_authorize (Fixture *f, gconstpointer data)
{
  g_autofree gchar *url = ws_url (f);
  g_autoptr(JsonObject) r = NULL;
  g_autoptr(JsonObject) auth = NULL;
  g_autoptr(JsonObject) start = NULL;
  g_autoptr(JsonObject) stop = NULL;
  g_autoptr(JsonObject) mv = NULL;
  g_autoptr(GPtrArray) starts = NULL;

  if (f->tmpdir == NULL)
    return;
  csms_start (f, NULL);
  engine_start (f, url, NULL);
  wait_status (f, "Available");
  r = csms_call (f, "ChangeConfiguration", "{\"key\": \"AuthorizeRemoteTxRequests\", \"value\": \"true\"}");
  g_assert_cmpstr (status_of (r), ==, "Accepted");

  g_clear_pointer (&r, json_object_unref);
  r = csms_call (f, "RemoteStartTransaction", "{\"idTag\": \"BLOCKED-1\"}");
  g_assert_cmpstr (status_of (r), ==, "Accepted");
  auth = csms_last (f, "call", "Authorize", 1);
  g_assert_cmpstr (json_object_get_string_member (payload_of (auth), "idTag"), ==, "BLOCKED-1");
  g_assert_true (evcp_sys_engine_wait_log (f->engine, "idTag BLOCKED-1 not authorized (Blocked)", WAIT_MS));
  wait_status (f, "Available");
  starts = csms_find (f, "call", "StartTransaction");
  g_assert_cmpuint (starts->len, ==, 0);
  {
    g_autoptr(GPtrArray) all = csms_find (f, "call", "StatusNotification");
    gboolean preparing = FALSE;

    for (guint i = 0; i < all->len; i++)
      preparing |= g_strcmp0 (json_object_get_string_member (payload_of (g_ptr_array_index (all, i)), "status"),
                              "Preparing") == 0;
    g_assert_true (preparing);
  }

  g_clear_pointer (&r, json_object_unref);
  r = csms_call (f, "RemoteStartTransaction", "{\"idTag\": \"drv-ok\"}");
  g_assert_cmpstr (status_of (r), ==, "Accepted");
  g_ptr_array_unref (csms_wait (f, "call", "Authorize", 2));
  start = csms_last (f, "call", "StartTransaction", 1);
  g_assert_cmpstr (json_object_get_string_member (payload_of (start), "idTag"), ==, "drv-ok");
  wait_status (f, "Charging");
  g_ptr_array_unref (csms_wait (f, "callresult", NULL, 1));
  g_assert_true (evcp_sys_engine_wait_log (f->engine, "OCPP transaction 1001", WAIT_MS));

  g_clear_pointer (&r, json_object_unref);
  r = csms_call (f, "TriggerMessage", "{\"requestedMessage\": \"MeterValues\", \"connectorId\": 1}");
  g_assert_cmpstr (status_of (r), ==, "Accepted");
  mv = csms_last (f, "call", "MeterValues", 1);
  g_assert_cmpint (int_member (payload_of (mv), "transactionId"), ==, 1001);
  g_assert_cmpstr (json_object_get_string_member (
                       json_array_get_object_element (
                           json_object_get_array_member (
                               json_array_get_object_element (json_object_get_array_member (payload_of (mv),
                                                                                            "meterValue"),
                                                              0),
                               "sampledValue"),
                           0),
                       "context"),
                   ==, "Trigger");
  g_clear_pointer (&r, json_object_unref);
  r = csms_call (f, "TriggerMessage", "{\"requestedMessage\": \"Heartbeat\"}");
  g_assert_cmpstr (status_of (r), ==, "Accepted");
  g_ptr_array_unref (csms_wait (f, "call", "Heartbeat", 1));

  g_clear_pointer (&r, json_object_unref);
  r = csms_call (f, "Reset", "{\"type\": \"Hard\"}");
  g_assert_cmpstr (status_of (r), ==, "Accepted");
  stop = csms_last (f, "call", "StopTransaction", 1);
  g_assert_cmpstr (json_object_get_string_member (payload_of (stop), "reason"), ==, "HardReset");
  g_ptr_array_unref (csms_wait (f, "call", "BootNotification", 2));
  wait_status (f, "Available");

  /* without Authorize: the CSMS blocks the idTag in its StartTransaction answer */
  g_clear_pointer (&r, json_object_unref);
  r = csms_call (f, "ChangeConfiguration", "{\"key\": \"AuthorizeRemoteTxRequests\", \"value\": \"false\"}");
  g_assert_cmpstr (status_of (r), ==, "Accepted");
  g_clear_pointer (&r, json_object_unref);
  r = csms_call (f, "RemoteStartTransaction", "{\"idTag\": \"BLOCKED-2\"}");
  g_assert_cmpstr (status_of (r), ==, "Accepted");
  g_clear_pointer (&stop, json_object_unref);
  stop = csms_last (f, "call", "StopTransaction", 2);
  g_assert_cmpstr (json_object_get_string_member (payload_of (stop), "reason"), ==, "DeAuthorized");
  g_assert_cmpint (int_member (payload_of (stop), "transactionId"), ==, 1002);
  g_ptr_array_unref (csms_wait (f, "call", "Authorize", 2));
  {
    g_autoptr(GPtrArray) auths = csms_find (f, "call", "Authorize");

    g_assert_cmpuint (auths->len, ==, 2); /* none for BLOCKED-2 */
  }
  wait_status (f, "Available");
  assert_all_valid (f);
}

/* A transaction message the CSMS answers with a CALLERROR is sent again
 * after TransactionMessageRetryInterval × the attempts so far; given up
 * after TransactionMessageAttempts, the later messages of its session too. */
static void
test_retries (Fixture *f, gconstpointer data)
{
  g_autofree gchar *url = ws_url (f);
  g_autoptr(JsonObject) r = NULL;
  g_autoptr(GPtrArray) starts = NULL;
  g_autoptr(GPtrArray) failing = NULL;
  JsonObject *first, *second;

  if (f->tmpdir == NULL)
    return;
  csms_start (f, NULL);
  engine_start (f, url, NULL);
  wait_status (f, "Available");
  r = csms_call (f, "ChangeConfiguration", "{\"key\": \"TransactionMessageRetryInterval\", \"value\": \"1\"}");
  g_assert_cmpstr (status_of (r), ==, "Accepted");
  g_clear_pointer (&r, json_object_unref);
  r = csms_call (f, "ChangeConfiguration", "{\"key\": \"TransactionMessageAttempts\", \"value\": \"3\"}");
  g_assert_cmpstr (status_of (r), ==, "Accepted");

  /* fails twice, then goes through */
  csms_send (f, "{\"set\": {\"fail\": [\"StartTransaction\"]}}");
  g_clear_pointer (&r, json_object_unref);
  r = csms_call (f, "RemoteStartTransaction", "{\"idTag\": \"drv-retry\"}");
  g_assert_cmpstr (status_of (r), ==, "Accepted");
  g_ptr_array_unref (csms_wait (f, "failing", "StartTransaction", 2));
  csms_send (f, "{\"set\": {\"fail\": []}}");
  g_assert_true (evcp_sys_engine_wait_log (f->engine, "attempt 2 of 3, sent again in 2 s", WAIT_MS));
  starts = csms_wait (f, "call", "StartTransaction", 3);
  g_assert_true (evcp_sys_engine_wait_log (f->engine, "OCPP transaction 1001", WAIT_MS));
  first = g_ptr_array_index (starts, 0);
  second = g_ptr_array_index (starts, 2);
  /* the same message each time */
  g_assert_cmpstr (json_object_get_string_member (payload_of (first), "timestamp"), ==,
                   json_object_get_string_member (payload_of (second), "timestamp"));
  g_assert_true (evcp_sys_engine_log_contains (f->engine, "attempt 1 of 3, sent again in 1 s"));
  /* after 1 s, then 2 s: not sooner */
  g_test_message ("StartTransaction sent again after %.3f s, then %.3f s",
                  entry_ts (f, "call", "StartTransaction", 1) - entry_ts (f, "call", "StartTransaction", 0),
                  entry_ts (f, "call", "StartTransaction", 2) - entry_ts (f, "call", "StartTransaction", 1));
  g_assert_cmpfloat (entry_ts (f, "call", "StartTransaction", 1) - entry_ts (f, "call", "StartTransaction", 0), >=,
                     1 - 0.02);
  g_assert_cmpfloat (entry_ts (f, "call", "StartTransaction", 2) - entry_ts (f, "call", "StartTransaction", 1), >=,
                     2 - 0.02);
  g_clear_pointer (&r, json_object_unref);
  r = csms_call (f, "RemoteStopTransaction", "{\"transactionId\": 1001}");
  g_assert_cmpstr (status_of (r), ==, "Accepted");
  g_ptr_array_unref (csms_wait (f, "call", "StopTransaction", 1));

  /* always failing: given up after 3, and the session's Stop with it */
  csms_send (f, "{\"set\": {\"fail\": [\"StartTransaction\"]}}");
  g_clear_pointer (&r, json_object_unref);
  r = csms_call (f, "RemoteStartTransaction", "{\"idTag\": \"drv-lost\"}");
  g_assert_cmpstr (status_of (r), ==, "Accepted");
  g_assert_true (evcp_sys_engine_wait_log (f->engine, "OCPP StartTransaction of session", WAIT_MS));
  g_assert_true (evcp_sys_engine_wait_log (f->engine, "given up after 3 attempts", WAIT_MS));
  failing = csms_find (f, "failing", "StartTransaction");
  g_assert_cmpuint (failing->len, ==, 5);
  assert_all_valid (f);
}

/* The last StatusNotification of @connector in the CSMS's log. */
static JsonObject *
last_status_of (Fixture *f, gint64 connector)
{
  g_autoptr(GPtrArray) all = csms_find (f, "call", "StatusNotification");

  for (guint i = all->len; i > 0; i--)
    {
      JsonObject *p = payload_of (g_ptr_array_index (all, i - 1));

      if (json_object_get_int_member (p, "connectorId") == connector)
        return json_object_ref (p);
    }
  g_error ("no StatusNotification of connector %" G_GINT64_FORMAT, connector);
  return NULL;
}

/* A fault on the CP (SIGUSR1): a running session stops (Other), connector 1
 * and 0 go Faulted with errorCode OtherError and the fault's reason as info;
 * cleared (SIGUSR2): Available, NoError. TriggerMessage: BootNotification
 * (booted again on the same link, the status sent again after it), the kinds
 * that are not supported, a connector that does not exist. */
static void
test_fault_trigger (Fixture *f, gconstpointer data)
{
  g_autofree gchar *url = ws_url (f);
  g_autoptr(JsonObject) r = NULL;
  g_autoptr(JsonObject) stop = NULL;
  g_autoptr(JsonObject) st = NULL;
  g_autoptr(GPtrArray) boots = NULL;
  guint statuses;

  if (f->tmpdir == NULL)
    return;
  csms_start (f, NULL);
  engine_start (f, url, NULL);
  wait_status (f, "Available");
  r = csms_call (f, "RemoteStartTransaction", "{\"idTag\": \"drv-f\"}");
  g_assert_cmpstr (status_of (r), ==, "Accepted");
  wait_status (f, "Charging");

  evcp_sys_engine_signal (f->engine, SIGUSR1);
  wait_status (f, "Faulted");
  st = last_status_of (f, 1);
  g_assert_cmpstr (json_object_get_string_member (st, "errorCode"), ==, "OtherError");
  g_assert_cmpstr (json_object_get_string_member (st, "info"), ==, "fault reported by signal");
  g_clear_pointer (&st, json_object_unref);
  st = last_status_of (f, 0);
  g_assert_cmpstr (json_object_get_string_member (st, "status"), ==, "Faulted");
  g_assert_cmpstr (json_object_get_string_member (st, "errorCode"), ==, "OtherError");
  stop = csms_last (f, "call", "StopTransaction", 1);
  g_assert_cmpstr (json_object_get_string_member (payload_of (stop), "reason"), ==, "Other");
  g_assert_cmpint (int_member (payload_of (stop), "transactionId"), ==, 1001);
  /* no charging while Faulted */
  g_clear_pointer (&r, json_object_unref);
  r = csms_call (f, "RemoteStartTransaction", "{\"idTag\": \"drv-g\"}");
  g_assert_cmpstr (status_of (r), ==, "Rejected");

  evcp_sys_engine_signal (f->engine, SIGUSR2);
  wait_status (f, "Available");
  g_clear_pointer (&st, json_object_unref);
  st = last_status_of (f, 1);
  g_assert_cmpstr (json_object_get_string_member (st, "errorCode"), ==, "NoError");
  g_assert_false (json_object_has_member (st, "info"));
  g_clear_pointer (&st, json_object_unref);
  st = last_status_of (f, 0);
  g_assert_cmpstr (json_object_get_string_member (st, "status"), ==, "Available");
  g_assert_cmpstr (json_object_get_string_member (st, "errorCode"), ==, "NoError");

  /* TriggerMessage BootNotification: booted again, on the same link */
  boots = csms_find (f, "call", "BootNotification");
  g_assert_cmpuint (boots->len, ==, 1);
  statuses = count_connector (f);
  g_clear_pointer (&r, json_object_unref);
  r = csms_call (f, "TriggerMessage", "{\"requestedMessage\": \"BootNotification\"}");
  g_assert_cmpstr (status_of (r), ==, "Accepted");
  g_ptr_array_unref (csms_wait (f, "call", "BootNotification", 2));
  g_assert_true (evcp_sys_engine_wait_log (f->engine, "OCPP CALL TriggerMessage from the CSMS", WAIT_MS));
  /* the status again after the boot's Accepted */
  g_assert_true (evcp_test_wait_until (NULL, connector_count_above, &(ConnectorWait){ f, statuses }, WAIT_MS));
  wait_status (f, "Available");
  {
    g_autoptr(GPtrArray) connected = csms_find (f, "connected", NULL);

    g_assert_cmpuint (connected->len, ==, 1);
  }
  /* still accepted: a session starts */
  g_clear_pointer (&r, json_object_unref);
  r = csms_call (f, "RemoteStartTransaction", "{\"idTag\": \"drv-h\"}");
  g_assert_cmpstr (status_of (r), ==, "Accepted");
  wait_status (f, "Charging");

  g_clear_pointer (&r, json_object_unref);
  r = csms_call (f, "TriggerMessage", "{\"requestedMessage\": \"DiagnosticsStatusNotification\"}");
  g_assert_cmpstr (status_of (r), ==, "NotImplemented");
  g_clear_pointer (&r, json_object_unref);
  r = csms_call (f, "TriggerMessage", "{\"requestedMessage\": \"StatusNotification\", \"connectorId\": 2}");
  g_assert_cmpstr (status_of (r), ==, "Rejected");
  g_clear_pointer (&r, json_object_unref);
  r = csms_call (f, "TriggerMessage", "{\"requestedMessage\": \"StatusNotification\", \"connectorId\": 0}");
  g_assert_cmpstr (status_of (r), ==, "Accepted");

  /* a triggered boot answered Pending: no heartbeat (nor anything but the
   * boot) until it is Accepted again */
  g_clear_pointer (&r, json_object_unref);
  r = csms_call (f, "ChangeConfiguration", "{\"key\": \"HeartbeatInterval\", \"value\": \"1\"}");
  g_assert_cmpstr (status_of (r), ==, "Accepted");
  g_ptr_array_unref (csms_wait (f, "call", "Heartbeat", 1));
  g_clear_pointer (&boots, g_ptr_array_unref);
  boots = csms_find (f, "call", "BootNotification");
  csms_send (f, "{\"set\": {\"boot\": \"Pending\", \"interval\": 1}}");
  g_clear_pointer (&r, json_object_unref);
  r = csms_call (f, "TriggerMessage", "{\"requestedMessage\": \"BootNotification\"}");
  g_assert_cmpstr (status_of (r), ==, "Accepted");
  g_assert_true (evcp_sys_engine_wait_log (f->engine, "OCPP BootNotification: Pending", WAIT_MS));
  {
    /* the pending boot, and two more after its interval: 2 s at least */
    gdouble pending_at = entry_ts (f, "call", "BootNotification", boots->len);
    gdouble last_at = entry_ts (f, "call", "BootNotification", boots->len + 2);
    g_autoptr(GPtrArray) beats = csms_find (f, "call", "Heartbeat");

    for (guint i = 0; i < beats->len; i++)
      {
        gdouble at = json_object_get_double_member (g_ptr_array_index (beats, i), "ts");

        g_assert_false (at > pending_at + 0.5 && at < last_at);
      }
    g_assert_cmpfloat (last_at - pending_at, >=, 1.4);
  }
  csms_send (f, "{\"set\": {\"boot\": \"Accepted\", \"interval\": 1}}");
  {
    g_autoptr(GPtrArray) beats = csms_find (f, "call", "Heartbeat");

    g_ptr_array_unref (csms_wait (f, "call", "Heartbeat", beats->len + 1));
  }
  assert_all_valid (f);
}

/* [ocpp] charge-before-accepted: false (the default) holds the supply
 * STOPPED while the CSMS answers Pending (a Kafka request is refused); true
 * lets a session run while Pending, its transaction messages kept until the
 * boot is Accepted, then delivered. */
static void
test_charge_before_accepted (Fixture *f, gconstpointer data)
{
  g_autofree gchar *url = ws_url (f);
  g_autoptr(GPtrArray) starts = NULL;
  g_autoptr(JsonObject) start = NULL;
  g_autoptr(JsonObject) stop = NULL;

  if (f->tmpdir == NULL)
    return;
  csms_start (f, (const gchar *[]){ "--boot", "Pending", "--interval", "1", NULL });

  engine_start (f, url, NULL);
  g_assert_true (evcp_sys_engine_wait_log (f->engine, "OCPP BootNotification: Pending", WAIT_MS));
  g_assert_true (evcp_sys_engine_log_contains (f->engine, "no charging until the CSMS accepts the BootNotification"));
  evcp_sys_produce_request (evcp_test_mock_process_get_bootstrap (f->mock), CP, "drv-held", 360, 60);
  g_assert_true (evcp_sys_engine_wait_log (f->engine, "Request from drv-held refused", WAIT_MS));
  g_assert_false (evcp_sys_engine_log_contains (f->engine, "→ SUPPLYING"));
  g_assert_cmpint (evcp_sys_engine_term (f->engine), ==, 0);
  g_clear_pointer (&f->engine, evcp_sys_engine_free);

  engine_start (f, url, "charge-before-accepted=true\n");
  g_assert_true (evcp_sys_engine_wait_log (f->engine, "OCPP BootNotification: Pending", WAIT_MS));
  g_assert_false (evcp_sys_engine_log_contains (f->engine, "no charging until the CSMS accepts"));
  evcp_sys_produce_request (evcp_test_mock_process_get_bootstrap (f->mock), CP, "drv-early", 360, 2);
  g_assert_true (evcp_sys_engine_wait_log (f->engine, "ended (DURATION)", WAIT_MS));
  g_assert_true (evcp_sys_engine_log_contains (f->engine, "→ SUPPLYING"));
  g_assert_true (evcp_sys_engine_wait_log (f->engine, "OCPP BootNotification: Pending", WAIT_MS));
  starts = csms_find (f, "call", "StartTransaction");
  g_assert_cmpuint (starts->len, ==, 0); /* nothing but the boot while Pending */
  g_assert_cmpuint (count_connector (f), ==, 0);

  csms_send (f, "{\"set\": {\"boot\": \"Accepted\", \"interval\": 300}}");
  start = csms_last (f, "call", "StartTransaction", 1);
  g_assert_cmpstr (json_object_get_string_member (payload_of (start), "idTag"), ==, "drv-early");
  stop = wait_stop (f, 1001);
  g_assert_cmpint (int_member (payload_of (stop), "meterStop") - int_member (payload_of (start), "meterStart"), ==,
                   ticket_wh (f, "drv-early"));
  wait_status (f, "Available");
  assert_all_valid (f);
}

/* A CSMS that never answers a CALL: the CP gives up after call-timeout-ms,
 * says so, counts it, and the next CALL goes only then (one in flight); a
 * Heartbeat is not sent again, a transaction message is (after
 * TransactionMessageRetryInterval), and goes through once answered. The
 * link stays up throughout. */
static void
test_call_timeout (Fixture *f, gconstpointer data)
{
  g_autofree gchar *url = ws_url (f);
  guint16 metrics_port = evcp_test_free_port ();
  guint timeout_ms = evcp_test_scaled_ms (1000); /* longer under valgrind */
  g_autofree gchar *extra =
      g_strdup_printf ("call-timeout-ms=%u\n[evcp]\nmetrics-address=127.0.0.1:%u\n", timeout_ms, metrics_port);
  g_autofree gchar *gave_up = g_strdup_printf ("OCPP Heartbeat failed: no answer within %u ms", timeout_ms);
  g_autofree gchar *again = g_strdup_printf ("(no answer within %u ms): attempt 1 of 3, sent again in 1 s", timeout_ms);
  g_autofree gchar *metrics = NULL;
  g_autoptr(JsonObject) r = NULL;
  g_autoptr(GPtrArray) starts = NULL;
  g_autoptr(GPtrArray) connected = NULL;
  gdouble heartbeat_at, status_at;
  guint statuses;

  if (f->tmpdir == NULL)
    return;
  csms_start (f, NULL);
  engine_start (f, url, extra);
  wait_status (f, "Available");
  r = csms_call (f, "ChangeConfiguration", "{\"key\": \"TransactionMessageRetryInterval\", \"value\": \"1\"}");
  g_assert_cmpstr (status_of (r), ==, "Accepted");

  /* a Heartbeat left unanswered; a StatusNotification asked for meanwhile
   * waits for its timeout */
  csms_send (f, "{\"set\": {\"silent\": [\"Heartbeat\"]}}");
  g_clear_pointer (&r, json_object_unref);
  r = csms_call (f, "TriggerMessage", "{\"requestedMessage\": \"Heartbeat\"}");
  g_assert_cmpstr (status_of (r), ==, "Accepted");
  g_ptr_array_unref (csms_wait (f, "unanswered", "Heartbeat", 1));
  heartbeat_at = entry_ts (f, "call", "Heartbeat", 0);
  statuses = count_connector (f);
  g_clear_pointer (&r, json_object_unref);
  r = csms_call (f, "TriggerMessage", "{\"requestedMessage\": \"StatusNotification\", \"connectorId\": 1}");
  g_assert_cmpstr (status_of (r), ==, "Accepted");
  g_assert_true (evcp_sys_engine_wait_log (f->engine, gave_up, WAIT_MS));
  g_assert_true (evcp_test_wait_until (NULL, connector_count_above, &(ConnectorWait){ f, statuses }, WAIT_MS));
  {
    g_autoptr(GPtrArray) all = csms_find (f, "call", "StatusNotification");

    status_at = json_object_get_double_member (g_ptr_array_index (all, all->len - 1), "ts");
  }
  g_test_message ("the StatusNotification came %.3f s after the unanswered Heartbeat", status_at - heartbeat_at);
  g_assert_cmpfloat (status_at - heartbeat_at, >=, timeout_ms / 1000.0 - 0.05);
  metrics = http_get_metrics (metrics_port);
  g_assert_cmpuint (metric (metrics, "evcp_engine_ocpp_call_timeouts_total"), ==, 1);

  /* a transaction message: sent again after the retry interval, the same */
  csms_send (f, "{\"set\": {\"silent\": [\"StartTransaction\"]}}");
  g_clear_pointer (&r, json_object_unref);
  r = csms_call (f, "RemoteStartTransaction", "{\"idTag\": \"drv-t\"}");
  g_assert_cmpstr (status_of (r), ==, "Accepted");
  g_ptr_array_unref (csms_wait (f, "unanswered", "StartTransaction", 1));
  g_assert_true (evcp_sys_engine_wait_log (f->engine, again, WAIT_MS));
  csms_send (f, "{\"set\": {\"silent\": []}}");
  g_assert_true (evcp_sys_engine_wait_log (f->engine, "OCPP transaction 1001", WAIT_MS));
  starts = csms_find (f, "call", "StartTransaction");
  g_assert_cmpuint (starts->len, ==, 2);
  g_assert_cmpstr (json_object_get_string_member (payload_of (g_ptr_array_index (starts, 0)), "timestamp"), ==,
                   json_object_get_string_member (payload_of (g_ptr_array_index (starts, 1)), "timestamp"));
  g_assert_cmpfloat (entry_ts (f, "call", "StartTransaction", 1) - entry_ts (f, "call", "StartTransaction", 0), >=,
                     timeout_ms / 1000.0 + 1 - 0.05);
  wait_status (f, "Charging");
  g_clear_pointer (&metrics, g_free);
  metrics = http_get_metrics (metrics_port);
  g_assert_cmpuint (metric (metrics, "evcp_engine_ocpp_call_timeouts_total"), ==, 2);
  /* the Heartbeat was given up; the StartTransaction was not (sent again, answered) */
  g_assert_cmpuint (metric (metrics, "evcp_engine_ocpp_calls_dropped_total"), ==, 1);
  connected = csms_find (f, "connected", NULL);
  g_assert_cmpuint (connected->len, ==, 1);
  assert_all_valid (f);
}

/* A port where TCP connections are taken and closed at once: every
 * WebSocket handshake of the CP fails there. Records when each came. */
typedef struct {
  GSocketService *service;
  GArray *at; /* of gint64, monotonic µs */
} DeadCsms;

static gboolean
on_dead_incoming (GSocketService *service, GSocketConnection *conn, GObject *source, gpointer user_data)
{
  DeadCsms *d = user_data;
  gint64 now = g_get_monotonic_time ();

  g_array_append_val (d->at, now);
  g_io_stream_close (G_IO_STREAM (conn), NULL, NULL);
  return TRUE;
}

static gboolean
attempts_reached (gpointer data)
{
  DeadCsms *d = data;

  return d->at->len >= 10;
}

/* Reconnection against a CSMS that is not there: the attempts are spaced
 * by the backoff (reconnect-min-ms 100, doubling), capped at
 * reconnect-max-ms (400) and jittered; measured by the attempts' arrival
 * on the port, with no sleep. */
static void
test_reconnect_backoff (Fixture *f, gconstpointer data)
{
  g_autofree gchar *url = NULL;
  g_autoptr(GError) error = NULL;
  DeadCsms d = { g_socket_service_new (), g_array_new (FALSE, FALSE, sizeof (gint64)) };
  gdouble capped_min = G_MAXDOUBLE, capped_max = 0;

  if (f->tmpdir == NULL)
    {
      g_object_unref (d.service);
      g_array_unref (d.at);
      return;
    }
  f->csms_port = g_socket_listener_add_any_inet_port (G_SOCKET_LISTENER (d.service), NULL, &error);
  g_assert_no_error (error);
  g_signal_connect (d.service, "incoming", G_CALLBACK (on_dead_incoming), &d);
  g_socket_service_start (d.service);
  url = ws_url (f);
  engine_start (f, url, "reconnect-min-ms=100\nreconnect-max-ms=400\n");
  g_assert_true (evcp_test_wait_until (NULL, attempts_reached, &d, WAIT_MS));
  g_assert_true (evcp_sys_engine_wait_log (f->engine, "OCPP: cannot connect to", WAIT_MS));
  for (guint i = 1; i < d.at->len; i++)
    {
      gdouble gap = (g_array_index (d.at, gint64, i) - g_array_index (d.at, gint64, i - 1)) / 1000.0;
      guint f_ = i - 1; /* failures before this delay */
      guint high = MIN (100u << MIN (f_, 8u), 400u);
      guint low = high - high / 2;

      g_test_message ("attempt %u: %.1f ms after the previous one (its window [%u, %u] ms)", i + 1, gap, low, high);
      /* never sooner than its window (a few ms for the clocks of two processes) */
      g_assert_cmpfloat (gap, >=, low - 20);
      /* capped: an uncapped backoff would wait 1600 ms at least by the 6th */
      if (high == 400)
        {
          g_assert_cmpfloat (gap, <=, 400 + evcp_test_scaled_ms (1000));
          capped_min = MIN (capped_min, gap);
          capped_max = MAX (capped_max, gap);
        }
    }
  /* jittered: the capped delays are not all the same */
  g_assert_cmpfloat (capped_max - capped_min, >, 5);
  g_assert_true (evcp_sys_engine_is_running (f->engine));
  g_clear_pointer (&f->engine, evcp_sys_engine_free);
  g_socket_service_stop (d.service);
  g_socket_listener_close (G_SOCKET_LISTENER (d.service));
  g_object_unref (d.service);
  g_array_unref (d.at);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/ocpp/session", Fixture, NULL, fixture_set_up, test_session, fixture_tear_down);
  g_test_add ("/ocpp/boot-states", Fixture, NULL, fixture_set_up, test_boot_states, fixture_tear_down);
  g_test_add ("/ocpp/bad-calls", Fixture, NULL, fixture_set_up, test_bad_calls, fixture_tear_down);
  g_test_add ("/ocpp/offline", Fixture, NULL, fixture_set_up, test_offline, fixture_tear_down);
  g_test_add ("/ocpp/kill", Fixture, NULL, fixture_set_up, test_kill, fixture_tear_down);
  g_test_add ("/ocpp/authorize", Fixture, NULL, fixture_set_up, test_authorize, fixture_tear_down);
  g_test_add ("/ocpp/retries", Fixture, NULL, fixture_set_up, test_retries, fixture_tear_down);
  g_test_add ("/ocpp/availability", Fixture, NULL, fixture_set_up, test_availability, fixture_tear_down);
  g_test_add ("/ocpp/holds", Fixture, NULL, fixture_set_up, test_holds, fixture_tear_down);
  g_test_add ("/ocpp/reset", Fixture, NULL, fixture_set_up, test_reset, fixture_tear_down);
  g_test_add ("/ocpp/hard-reset", Fixture, NULL, fixture_set_up, test_hard_reset, fixture_tear_down);
  g_test_add ("/ocpp/pong-timeout", Fixture, NULL, fixture_set_up, test_pong_timeout, fixture_tear_down);
  g_test_add ("/ocpp/basic-auth", Fixture, NULL, fixture_set_up, test_basic_auth, fixture_tear_down);
  g_test_add ("/ocpp/tls", Fixture, NULL, fixture_set_up, test_tls, fixture_tear_down);
  g_test_add ("/ocpp/fault-trigger", Fixture, NULL, fixture_set_up, test_fault_trigger, fixture_tear_down);
  g_test_add ("/ocpp/call-timeout", Fixture, NULL, fixture_set_up, test_call_timeout, fixture_tear_down);
  g_test_add ("/ocpp/reconnect-backoff", Fixture, NULL, fixture_set_up, test_reconnect_backoff, fixture_tear_down);
  g_test_add ("/ocpp/charge-before-accepted", Fixture, NULL, fixture_set_up, test_charge_before_accepted,
              fixture_tear_down);
  return g_test_run ();
}
