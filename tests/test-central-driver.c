/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* evcp-driver as a process against evcp-kafka-mock, with a fake Engine in
 * the test: it reads the CHARGING_REQUEST messages from charging_requests
 * and answers on charging_sessions as the Engine would. */
#include "evcp-build-config.h"

#include <string.h>

#include <glib/gstdio.h>

#include "evcp-test-util.h"

#define WAIT_MS 30000

typedef struct {
  EvcpTestMockProcess *mock;
  EvcpTestConsumer    *requests;
  gchar               *tmpdir;
  gchar               *out_path;
  gchar               *err_path;
  GSubprocess         *driver;
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  f->mock = evcp_test_mock_process_start (NULL, &error);
  g_assert_no_error (error);
  f->requests = evcp_test_consumer_new (evcp_test_mock_process_get_bootstrap (f->mock), "charging_requests");
  f->tmpdir = g_dir_make_tmp ("evcp-test-driver-XXXXXX", &error);
  g_assert_no_error (error);
  f->out_path = g_build_filename (f->tmpdir, "driver.out", NULL);
  f->err_path = g_build_filename (f->tmpdir, "driver.log", NULL);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDir) dir = NULL;
  const gchar *name;

  if (f->driver != NULL && g_subprocess_get_identifier (f->driver) != NULL)
    g_subprocess_force_exit (f->driver);
  g_clear_object (&f->driver);
  evcp_test_consumer_free (f->requests);
  g_assert_true (evcp_test_mock_process_stop (f->mock, &error));
  g_assert_no_error (error);
  evcp_test_mock_process_free (f->mock);
  dir = g_dir_open (f->tmpdir, 0, NULL);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree gchar *path = g_build_filename (f->tmpdir, name, NULL);

      if (g_test_failed ())
        {
          g_autofree gchar *contents = NULL;

          if (g_file_get_contents (path, &contents, NULL, NULL))
            g_test_message ("%s:\n%s", name, contents);
        }
      g_unlink (path);
    }
  g_rmdir (f->tmpdir);
  g_free (f->tmpdir);
  g_free (f->out_path);
  g_free (f->err_path);
}

static void
spawn_driver (Fixture *f, const gchar * const *args)
{
  g_autoptr(GSubprocessLauncher) launcher = evcp_test_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;

  g_subprocess_launcher_set_stdout_file_path (launcher, f->out_path);
  g_subprocess_launcher_set_stderr_file_path (launcher, f->err_path);
  g_subprocess_launcher_unsetenv (launcher, "EVCP_CONFIG");
  /* the brokers from the environment, as a user would give them */
  g_subprocess_launcher_setenv (launcher, "KAFKA_BROKERS", evcp_test_mock_process_get_bootstrap (f->mock), TRUE);
  g_ptr_array_add (argv, (gpointer) g_getenv ("EVCP_DRIVER"));
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  f->driver = evcp_test_launcher_spawnv (launcher, (const gchar * const *) argv->pdata, &error);
  g_assert_no_error (error);
}

static gboolean
exited (gpointer data)
{
  return g_subprocess_get_identifier (data) == NULL;
}

static gint
wait_driver (Fixture *f, guint timeout_ms)
{
  g_assert_true (evcp_test_wait_until (NULL, exited, f->driver, timeout_ms));
  g_assert_true (g_subprocess_get_if_exited (f->driver));
  return g_subprocess_get_exit_status (f->driver);
}

static gchar *
output (Fixture *f)
{
  gchar *contents = NULL;

  g_assert_true (g_file_get_contents (f->out_path, &contents, NULL, NULL));
  return contents;
}

/* The next request, checked; returns its arrival time (monotonic). */
static gint64
expect_request (Fixture *f, const gchar *cp_id, const gchar *user_id, gdouble power, gint64 duration)
{
  g_autoptr(GPtrArray) records = evcp_test_consumer_wait_for (f->requests, 1, WAIT_MS);
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GError) error = NULL;
  EvcpTestRecord *record;
  JsonObject *o, *d;

  g_assert_cmpuint (records->len, ==, 1);
  record = g_ptr_array_index (records, 0);
  g_assert_cmpstr (record->key, ==, cp_id);
  root = evcp_test_record_parse_json (record, &error);
  g_assert_no_error (error);
  o = json_node_get_object (root);
  g_assert_cmpstr (json_object_get_string_member (o, "kind"), ==, "CHARGING_REQUEST");
  g_assert_true (json_object_has_member (o, "timestamp"));
  d = json_object_get_object_member (o, "data");
  g_assert_cmpstr (json_object_get_string_member (d, "user_id"), ==, user_id);
  g_assert_cmpstr (json_object_get_string_member (d, "cp_id"), ==, cp_id);
  g_assert_cmpfloat_with_epsilon (json_object_get_double_member (d, "requested_power"), power, 1e-9);
  g_assert_cmpint (json_object_get_int_member (d, "max_duration"), ==, duration);
  return g_get_monotonic_time ();
}

/* The fake Engine's answer. */
static void
session_event (Fixture *f, const gchar *kind, const gchar *cp_id, const gchar *user_id,
               const gchar *session_id, const gchar *extra)
{
  g_autoptr(GError) error = NULL;
  g_autofree gchar *json =
    g_strdup_printf ("{\"kind\":\"%s\",\"timestamp\":\"2026-11-26T10:00:00Z\",\"data\":"
                     "{\"cp_id\":\"%s\",\"user_id\":\"%s\",\"session_id\":\"%s\"%s%s}}",
                     kind, cp_id, user_id, session_id, extra != NULL ? "," : "", extra != NULL ? extra : "");

  g_assert_true (evcp_test_produce (evcp_test_mock_process_get_bootstrap (f->mock), "charging_sessions",
                                    cp_id, json, -1, &error));
  g_assert_no_error (error);
}

static void
test_one_request (Fixture *f, gconstpointer data)
{
  const gchar *args[] = { "--cp", "CP-D1", "--user", "u1", "--power", "22", "--duration", "60",
                          "--timeout", "20", NULL };
  g_autofree gchar *out = NULL;

  spawn_driver (f, args);
  expect_request (f, "CP-D1", "u1", 22, 60);

  /* others' events are not the driver's: another user here, u1 elsewhere */
  session_event (f, "SESSION_ENDED", "CP-D1", "u2", "S-other", "\"kwh\":9,\"eur\":3,\"reason\":\"COMPLETED\"");
  session_event (f, "REQUEST_REFUSED", "CP-D9", "u1", "", "\"reason\":\"busy\"");
  session_event (f, "SESSION_STARTED", "CP-D1", "u1", "S-1", "\"power_kw\":22");
  session_event (f, "SESSION_TELEMETRY", "CP-D1", "u1", "S-1", "\"power_kw\":22,\"kwh\":0.006,\"eur\":0.002");
  session_event (f, "SESSION_TELEMETRY", "CP-D1", "u1", "S-1", "\"power_kw\":22,\"kwh\":0.012,\"eur\":0.004");
  session_event (f, "SESSION_ENDED", "CP-D1", "u1", "S-1",
                 "\"kwh\":0.018,\"eur\":0.006,\"reason\":\"UNPLUGGED\",\"seq\":12");

  g_assert_cmpint (wait_driver (f, WAIT_MS), ==, 0);
  out = output (f);
  g_test_message ("%s", out);
  g_assert_nonnull (strstr (out, "CP-D1: session S-1 started at 22 kW"));
  g_assert_nonnull (strstr (out, "CP-D1: supplying: 0.012 kWh, 0.00 EUR"));
  g_assert_nonnull (strstr (out, "CP-D1: ticket for session S-1: 0.018 kWh, 0.01 EUR (UNPLUGGED)"));
  g_assert_null (strstr (out, "S-other"));
  g_assert_null (strstr (out, "busy"));
  g_assert_nonnull (strstr (out, "Done: 1 requests, 1 tickets, 0 refused"));
}

static void
test_file_of_requests (Fixture *f, gconstpointer data)
{
  g_autofree gchar *file = g_build_filename (f->tmpdir, "cps.txt", NULL);
  const gchar *args[] = { "--file", file, "--user", "u5", "--power", "7.4", "--duration", "30",
                          "--interval", "0.5", "--timeout", "20", NULL };
  g_autofree gchar *out = NULL;
  gint64 refused_at, second_at;

  g_assert_true (g_file_set_contents (file, "# two charging points\nCP-F1\n\n  CP-F2  \n", -1, NULL));
  spawn_driver (f, args);

  expect_request (f, "CP-F1", "u5", 7.4, 30);
  session_event (f, "REQUEST_REFUSED", "CP-F1", "u5", "", "\"reason\":\"busy\"");
  refused_at = g_get_monotonic_time ();

  /* the next one, once the previous one ended and the interval passed */
  second_at = expect_request (f, "CP-F2", "u5", 7.4, 30);
  g_test_message ("next request %" G_GINT64_FORMAT " ms after the refusal", (second_at - refused_at) / 1000);
  g_assert_cmpint (second_at - refused_at, >=, 500 * 1000);
  session_event (f, "SESSION_STARTED", "CP-F2", "u5", "S-F2", "\"power_kw\":7.4");
  session_event (f, "SESSION_ENDED", "CP-F2", "u5", "S-F2", "\"kwh\":0.1,\"eur\":0.03,\"reason\":\"DURATION\"");

  g_assert_cmpint (wait_driver (f, WAIT_MS), ==, 0);
  out = output (f);
  g_test_message ("%s", out);
  g_assert_nonnull (strstr (out, "CP-F1: request refused: busy"));
  g_assert_nonnull (strstr (out, "CP-F2: ticket for session S-F2: 0.100 kWh, 0.03 EUR (DURATION)"));
  g_assert_nonnull (strstr (out, "Done: 2 requests, 1 tickets, 1 refused"));
}

static void
test_timeout (Fixture *f, gconstpointer data)
{
  const gchar *args[] = { "--cp", "CP-T1", "--user", "u1", "--timeout", "2", NULL };
  g_autofree gchar *err = NULL;
  gint64 start = g_get_monotonic_time ();

  spawn_driver (f, args);
  expect_request (f, "CP-T1", "u1", 22, 60);
  /* nobody answers */
  g_assert_cmpint (wait_driver (f, WAIT_MS), ==, 1);
  g_test_message ("gave up after %" G_GINT64_FORMAT " ms", (g_get_monotonic_time () - start) / 1000);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 2 * G_USEC_PER_SEC);
  g_assert_true (g_file_get_contents (f->err_path, &err, NULL, NULL));
  g_assert_nonnull (strstr (err, "no news of the request within 2 s"));
}

static void
test_usage (Fixture *f, gconstpointer data)
{
  const gchar *neither[] = { "--user", "u1", NULL };
  const gchar *both[] = { "--cp", "CP-1", "--file", "/nonexistent", NULL };
  const gchar *bad_power[] = { "--cp", "CP-1", "--power", "-3", NULL };
  const gchar *no_file[] = { "--file", "/nonexistent/cps.txt", NULL };

  spawn_driver (f, neither);
  g_assert_cmpint (wait_driver (f, WAIT_MS), ==, 2);
  g_clear_object (&f->driver);
  spawn_driver (f, both);
  g_assert_cmpint (wait_driver (f, WAIT_MS), ==, 2);
  g_clear_object (&f->driver);
  spawn_driver (f, bad_power);
  g_assert_cmpint (wait_driver (f, WAIT_MS), ==, 2);
  g_clear_object (&f->driver);
  spawn_driver (f, no_file);
  g_assert_cmpint (wait_driver (f, WAIT_MS), ==, 2);
}

/* A nesting bomb and binary garbage among the events: skipped (json-glib
 * alone overflows its stack on the bomb), the session still followed. */
static void
test_hostile_events (Fixture *f, gconstpointer data)
{
  const gchar *args[] = { "--cp", "CP-H1", "--user", "u1", "--timeout", "20", NULL };
  GString *bomb = g_string_sized_new (1000000);
  g_autoptr(GError) error = NULL;
  g_autofree gchar *out = NULL;

  for (guint i = 0; i < 495000; i++)
    g_string_append_c (bomb, '[');
  for (guint i = 0; i < 495000; i++)
    g_string_append_c (bomb, ']');
  spawn_driver (f, args);
  expect_request (f, "CP-H1", "u1", 22, 60);
  g_assert_true (evcp_test_produce (evcp_test_mock_process_get_bootstrap (f->mock), "charging_sessions",
                                    "CP-H1", bomb->str, (gssize) bomb->len, &error));
  g_assert_no_error (error);
  g_assert_true (evcp_test_produce (evcp_test_mock_process_get_bootstrap (f->mock), "charging_sessions",
                                    "\xff\x01", "{\"kind\":\"\xff\xfe\"}", -1, &error));
  g_assert_no_error (error);
  session_event (f, "SESSION_STARTED", "CP-H1", "u1", "S-1", "\"power_kw\":22");
  session_event (f, "SESSION_ENDED", "CP-H1", "u1", "S-1",
                 "\"kwh\":0.018,\"eur\":0.006,\"reason\":\"UNPLUGGED\",\"seq\":12");

  g_assert_cmpint (wait_driver (f, WAIT_MS), ==, 0);
  out = output (f);
  g_assert_nonnull (strstr (out, "CP-H1: ticket for session S-1: 0.018 kWh, 0.01 EUR (UNPLUGGED)"));
  g_string_free (bomb, TRUE);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/driver/usage", Fixture, NULL, fixture_set_up, test_usage, fixture_tear_down);
  g_test_add ("/driver/one-request", Fixture, NULL, fixture_set_up, test_one_request, fixture_tear_down);
  g_test_add ("/driver/file-of-requests", Fixture, NULL, fixture_set_up, test_file_of_requests, fixture_tear_down);
  g_test_add ("/driver/timeout", Fixture, NULL, fixture_set_up, test_timeout, fixture_tear_down);
  g_test_add ("/driver/hostile-events", Fixture, NULL, fixture_set_up, test_hostile_events, fixture_tear_down);
  return g_test_run ();
}
