/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The evcp-engine program as a user runs it: a separate process against the
 * evcp-kafka-mock program, killed and restarted, stopped with SIGTERM, with
 * plugins loaded from a directory. With EVCP_TEST_KAFKA_REAL=1 and
 * EVCP_TEST_KAFKA_BROKERS (suite real-kafka), the same against that real
 * Kafka, on topics of their own. */
#include "evcp-build-config.h"

#include <signal.h>
#include <string.h>

#include <glib/gstdio.h>

#include "evcp-test-util.h"

#define WAIT_MS 30000

typedef struct {
  EvcpTestMockProcess *mock;
  gchar               *tmpdir;
  gchar               *record;
  gchar               *config;
  gchar               *group;
  gchar               *state_dir;   /* kept across the kills of one test */
  guint                n_engines;
  gboolean             own_group;   /* the CP's own group (cp_engine_<cp-id>), not f->group */
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  const gchar *args[] = { "--partitions=3", NULL };
  static const gchar *const topics[] = {
    "user_messages", "charging_requests", "system_notifications", "dead_letters",
  };
  g_autoptr(GString) conf = g_string_new (NULL);
  GHashTableIter iter;
  gpointer key, value;

  f->mock = evcp_test_mock_process_start (args, &error);
  g_assert_no_error (error);
  /* the mock creates them on first use, with --partitions; a real Kafka does not */
  for (guint i = 0; evcp_test_kafka_is_real () && i < G_N_ELEMENTS (topics); i++)
    {
      evcp_test_mock_process_create_topic (f->mock, evcp_test_topic (topics[i]), 3, &error);
      g_assert_no_error (error);
    }
  f->tmpdir = g_dir_make_tmp ("evcp-test-engine-XXXXXX", &error);
  g_assert_no_error (error);
  f->record = g_build_filename (f->tmpdir, "handled.txt", NULL);
  f->state_dir = g_build_filename (f->tmpdir, "state", NULL);
  f->config = g_build_filename (f->tmpdir, "engine.conf", NULL);
  f->group = g_strdup_printf ("test-engine-%08x", g_random_int ());
  /* "long-session": the Engine in its own group, where it is a static member */
  f->own_group = g_strcmp0 (data, "long-session") == 0;
  /* a quick hand-over when a killed member's session expires; with
   * data "long-session" on a real Kafka, a session that outlives the test:
   * a restarted Engine gets its partitions back only by its static
   * membership (librdkafka 2.0.2's mock cluster does not know it) */
  g_string_append_printf (conf, "[evcp]\nlocation=test bench\n"
                          "[kafka]\ndead-letter-topic=%s\n"
                          "[librdkafka-consumer]\nsession.timeout.ms=%s\nheartbeat.interval.ms=1000\n",
                          evcp_test_topic ("dead_letters"),
                          g_strcmp0 (data, "long-session") == 0 && evcp_test_kafka_is_real () ? "300000" : "6000");
  /* a real cluster's security settings */
  if (g_hash_table_size (evcp_test_kafka_properties ()) > 0)
    g_string_append (conf, "[librdkafka]\n");
  g_hash_table_iter_init (&iter, evcp_test_kafka_properties ());
  while (g_hash_table_iter_next (&iter, &key, &value))
    g_string_append_printf (conf, "%s=%s\n", (gchar *) key, (gchar *) value);
  g_assert_true (g_file_set_contents (f->config, conf->str, -1, &error));
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (evcp_test_mock_process_stop (f->mock, &error));
  g_assert_no_error (error);
  evcp_test_mock_process_free (f->mock);
  evcp_test_remove_tree (f->tmpdir);
  g_free (f->state_dir);
  g_free (f->tmpdir);
  g_free (f->record);
  g_free (f->config);
  g_free (f->group);
}

static GSubprocess *
spawn_engine (Fixture *f, const gchar *plugin_dir, gchar **log_path)
{
  g_autoptr(GSubprocessLauncher) launcher = evcp_test_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_autoptr(GError) error = NULL;
  g_autofree gchar *log = g_strdup_printf ("%s/engine-%u.log", f->tmpdir, f->n_engines++);
  g_autofree gchar *topics = g_strjoin (",", evcp_test_topic ("user_messages"),
                                        evcp_test_topic ("charging_requests"),
                                        evcp_test_topic ("system_notifications"), NULL);
  GSubprocess *engine;

  /* the settings come from the environment, exactly as named */
  g_subprocess_launcher_setenv (launcher, "KAFKA_BROKERS", evcp_test_mock_process_get_bootstrap (f->mock), TRUE);
  if (f->own_group)
    g_subprocess_launcher_unsetenv (launcher, "KAFKA_GROUP_ID");
  else
    g_subprocess_launcher_setenv (launcher, "KAFKA_GROUP_ID", f->group, TRUE);
  g_subprocess_launcher_setenv (launcher, "KAFKA_TOPICS", topics, TRUE);
  g_subprocess_launcher_setenv (launcher, "CP_ID", "CP-E1", TRUE);
  g_subprocess_launcher_setenv (launcher, "EVCP_RECORDER_FILE", f->record, TRUE);
  g_subprocess_launcher_unsetenv (launcher, "EVCP_CONFIG");
  evcp_test_isolate_launcher (launcher, f->state_dir);
  g_subprocess_launcher_set_stderr_file_path (launcher, log);
  g_subprocess_launcher_set_stdout_file_path (launcher, "/dev/null");
  engine = evcp_test_launcher_spawn (launcher, &error, g_getenv ("EVCP_ENGINE"), "--config", f->config, "--plugin-dir",
                                     plugin_dir, "--verbose", NULL);
  g_assert_no_error (error);
  if (log_path != NULL)
    *log_path = g_steal_pointer (&log);
  return engine;
}

/* id -> times handled, from the recorder's file */
static GHashTable *
read_handled (Fixture *f)
{
  GHashTable *seen = g_hash_table_new (NULL, NULL);
  g_autofree gchar *contents = NULL;
  g_auto(GStrv) lines = NULL;

  if (!g_file_get_contents (f->record, &contents, NULL, NULL))
    return seen;
  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      guint64 id;

      if (*lines[i] == '\0')
        continue;
      g_assert_true (g_ascii_string_to_unsigned (lines[i], 10, 0, G_MAXINT, &id, NULL));
      g_hash_table_insert (seen, GUINT_TO_POINTER ((guint) id + 1),
                           GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (seen, GUINT_TO_POINTER ((guint) id + 1))) + 1));
    }
  return seen;
}

typedef struct {
  Fixture *f;
  guint    at_least;   /* distinct ids */
} Progress;

static gboolean
handled_at_least (gpointer data)
{
  Progress *p = data;
  g_autoptr(GHashTable) seen = read_handled (p->f);

  return g_hash_table_size (seen) >= p->at_least;
}

typedef struct {
  const gchar *path;
  const gchar *needle;
} LogWait;

static gboolean
log_contains (gpointer data)
{
  LogWait *w = data;
  g_autofree gchar *contents = NULL;

  return g_file_get_contents (w->path, &contents, NULL, NULL) && strstr (contents, w->needle) != NULL;
}

static gboolean
exited (gpointer data)
{
  /* g_subprocess_wait_check_async would need a callback; the GSubprocess
   * reaps the child from the main context, which the wait iterates */
  return g_subprocess_get_identifier (data) == NULL;
}

static void
stop_engine (GSubprocess *engine)
{
  g_autoptr(GError) error = NULL;

  g_subprocess_send_signal (engine, SIGTERM);
  g_assert_true (evcp_test_wait_until (NULL, exited, engine, 10000));
  g_assert_true (g_subprocess_get_if_exited (engine));
  g_assert_cmpint (g_subprocess_get_exit_status (engine), ==, 0);
}

static void
produce_track (Fixture *f, guint from, guint to)
{
  g_autoptr(GPtrArray) values = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_autoptr(GError) error = NULL;

  for (guint i = from; i < to; i++)
    {
      /* about 200 bytes, like the field's messages */
      gchar *json = g_strdup_printf ("{\"kind\":\"TRACK\",\"timestamp\":\"2026-11-26T10:00:00Z\","
                                     "\"data\":{\"id\":%u,\"padding\":\"%0120u\"}}", i, i);

      g_ptr_array_add (values, g_bytes_new_take (json, strlen (json)));
    }
  evcp_test_produce_batch (evcp_test_mock_process_get_bootstrap (f->mock), evcp_test_topic ("user_messages"),
                           NULL, values, 20000, &error);
  g_assert_no_error (error);
}

/* how many times @needle stands in every Engine's log so far */
static guint
count_in_logs (Fixture *f, const gchar *needle)
{
  guint n = 0;

  for (guint i = 0; i < f->n_engines; i++)
    {
      g_autofree gchar *path = g_strdup_printf ("%s/engine-%u.log", f->tmpdir, i);
      g_autofree gchar *text = NULL;

      if (!g_file_get_contents (path, &text, NULL, NULL))
        continue;
      for (const gchar *p = strstr (text, needle); p != NULL; p = strstr (p + 1, needle))
        n++;
    }
  return n;
}

typedef struct {
  Fixture *f;
  const gchar *user_id;
} RequestSeen;

/* the recorder plugin saw a charging request of @user_id dispatched (in
 * the same dispatch as the built-in handler) */
static gboolean
request_seen (gpointer data)
{
  RequestSeen *w = data;
  g_autofree gchar *path = g_strconcat (w->f->record, ".requests", NULL);
  g_autofree gchar *contents = NULL;
  g_auto(GStrv) lines = NULL;

  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return FALSE;
  lines = g_strsplit (contents, "\n", -1);
  return g_strv_contains ((const gchar * const *) lines, w->user_id);
}

/* SIGKILL at random moments of a stream, restart: nothing is lost, and a
 * charging request (one per round, ahead of the stream) takes effect once
 * however often it is delivered. */
static void
test_kill_and_restart (Fixture *f, gconstpointer data)
{
  const gchar *plugins = g_getenv ("EVCP_RECORDER_DIR");
  const guint rounds = 3, per_round = 400;
  g_autoptr(GHashTable) seen = NULL;
  g_autoptr(GSubprocess) last = NULL;
  Progress all = { f, rounds * per_round };
  guint duplicates = 0;

  for (guint r = 0; r < rounds; r++)
    {
      g_autoptr(GSubprocess) engine = spawn_engine (f, plugins, NULL);
      /* kill once this round's stream is partly handled, at a seeded point */
      Progress some = { f, r * per_round + (guint) g_test_rand_int_range (1, per_round) };

      {
        g_autofree gchar *json = g_strdup_printf ("{\"kind\":\"CHARGING_REQUEST\",\"data\":{\"user_id\":\"drv-k%u\","
                                                  "\"cp_id\":\"CP-E1\",\"requested_power\":360,"
                                                  "\"max_duration\":1}}", r);
        g_autoptr(GError) error = NULL;

        g_assert_true (evcp_test_produce (evcp_test_mock_process_get_bootstrap (f->mock),
                                          evcp_test_topic ("charging_requests"), "CP-E1", json, -1, &error));
        g_assert_no_error (error);
      }
      produce_track (f, r * per_round, (r + 1) * per_round);
      g_assert_true (evcp_test_wait_until (NULL, handled_at_least, &some, WAIT_MS));
      g_subprocess_force_exit (engine);
      g_assert_true (evcp_test_wait_until (NULL, exited, engine, 10000));
      g_assert_true (g_subprocess_get_if_signaled (engine));
    }

  {
    g_autofree gchar *log = NULL;
    LogWait assigned = { NULL, "Kafka assigned" };

    last = spawn_engine (f, plugins, &log);
    assigned.path = log;
    /* a real Kafka: consuming at once (the killed member's 300 s session
     * needs not expire: the same group.instance.id); the mock: ASSIGNING,
     * not CONNECTED, while the killed member's session runs out */
    if (!evcp_test_kafka_is_real ())
      {
        LogWait waiting = { log, "→ ASSIGNING" };

        g_assert_true (evcp_test_wait_until (NULL, log_contains, &waiting, 60000));
      }
    g_assert_true (evcp_test_wait_until (NULL, log_contains, &assigned, 60000));
    g_assert_true (evcp_test_wait_until (NULL, handled_at_least, &all, 60000));
    /* the charging requests are on a topic of their own, fetched apart from
     * the stream (a real broker may give the stream first): the last one
     * dispatched, in this run or an earlier one, so every one of them was
     * (one partition, in order) */
    {
      g_autofree gchar *last_user = g_strdup_printf ("drv-k%u", rounds - 1);
      RequestSeen last_request = { f, last_user };

      g_assert_true (evcp_test_wait_until (NULL, request_seen, &last_request, 60000));
    }
    stop_engine (last);
  }

  seen = read_handled (f);
  for (guint i = 0; i < rounds * per_round; i++)
    {
      guint times = GPOINTER_TO_UINT (g_hash_table_lookup (seen, GUINT_TO_POINTER (i + 1)));

      g_assert_cmpuint (times, >=, 1);
      duplicates += times - 1;
    }
  /* at least once: what was handled but not yet committed comes again */
  g_test_message ("%u messages, %u handled twice after a kill", rounds * per_round, duplicates);
  /* but a charging request takes effect once: never two sessions */
  {
    guint sessions = 0, again = count_in_logs (f, "delivered again: already served");

    for (guint r = 0; r < rounds; r++)
      {
        g_autofree gchar *needle = g_strdup_printf (" for drv-k%u: ", r);
        guint n = count_in_logs (f, needle);

        g_assert_cmpuint (n, <=, 1);
        sessions += n;
      }
    g_test_message ("%u charging requests: %u sessions, %u deliveries recognised as served already",
                    rounds, sessions, again);
    g_assert_cmpuint (sessions, >=, 1);
  }
}

/* A handler plugin added without rebuilding, and a clean SIGTERM. */
static void
test_custom_plugin_and_sigterm (Fixture *f, gconstpointer data)
{
  g_autofree gchar *log = NULL;
  g_autoptr(GSubprocess) engine = spawn_engine (f, g_getenv ("EVCP_CUSTOM_PLUGIN_DIR"), &log);
  g_autoptr(GError) error = NULL;
  static const gchar msg[] = "{\"kind\":\"CUSTOM_MESSAGE\",\"data\":{\"text\":\"hello plugin\"}}";
  LogWait loaded = { log, "Loaded plugin" };
  LogWait handled = { log, "Custom message #1: hello plugin" };
  LogWait stopped = { log, "Kafka service stopped: 1 received, 1 handled, 0 dead letters" };
  gint64 start;

  g_assert_true (evcp_test_wait_until (NULL, log_contains, &loaded, WAIT_MS));
  g_assert_true (evcp_test_produce (evcp_test_mock_process_get_bootstrap (f->mock),
                                    evcp_test_topic ("user_messages"), "CP-E1", msg, -1, &error));
  g_assert_no_error (error);
  g_assert_true (evcp_test_wait_until (NULL, log_contains, &handled, WAIT_MS));

  start = g_get_monotonic_time ();
  stop_engine (engine);
  g_test_message ("SIGTERM to exit: %" G_GINT64_FORMAT " ms", (g_get_monotonic_time () - start) / 1000);
  g_assert_true (log_contains (&stopped));
}

/* Kafka gone: SIGTERM still ends the Engine within seconds (leaving the
 * group would otherwise wait for the whole session timeout). */
static void
test_sigterm_with_kafka_gone (Fixture *f, gconstpointer data)
{
  g_autofree gchar *log = NULL;
  g_autoptr(GSubprocess) engine = spawn_engine (f, g_getenv ("EVCP_RECORDER_DIR"), &log);
  g_autoptr(GError) error = NULL;
  g_autofree gchar *answer = NULL;
  LogWait assigned = { log, "Kafka assigned" };
  LogWait down = { log, "Kafka is unavailable" };
  gint64 start;

  if (evcp_test_kafka_is_real () && !evcp_test_real_broker_can_control ())
    {
      g_test_skip ("a real Kafka not started by tests/kafka/real-broker cannot be stopped");
      return;
    }
  g_assert_true (evcp_test_wait_until (NULL, log_contains, &assigned, WAIT_MS));
  produce_track (f, 0, 10);
  if (evcp_test_kafka_is_real ())
    g_assert_true (evcp_test_real_broker_run ("stop", &error));   /* the JVM stops */
  else
    answer = evcp_test_mock_process_command (f->mock, "down all", &error);
  g_assert_no_error (error);
  g_assert_true (evcp_test_wait_until (NULL, log_contains, &down, WAIT_MS));

  start = g_get_monotonic_time ();
  stop_engine (engine);   /* asserts a clean exit within 10 s */
  g_test_message ("SIGTERM to exit with Kafka down: %" G_GINT64_FORMAT " ms",
                  (g_get_monotonic_time () - start) / 1000);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 8 * G_USEC_PER_SEC);
  if (evcp_test_kafka_is_real ())
    {
      g_assert_true (evcp_test_real_broker_run ("start", &error));
      g_assert_no_error (error);
    }
  else
    g_free (evcp_test_mock_process_command (f->mock, "up all", NULL));
}

static void
run_engine (Fixture *f, const gchar * const *args, gint *status, gchar **out, gchar **err)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GSubprocessLauncher) launcher =
    evcp_test_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GError) error = NULL;

  g_ptr_array_add (argv, (gpointer) g_getenv ("EVCP_ENGINE"));
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  evcp_test_isolate_launcher (launcher, f->state_dir);
  g_subprocess_launcher_unsetenv (launcher, "EVCP_CONFIG");
  proc = evcp_test_launcher_spawnv (launcher, (const gchar * const *) argv->pdata, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_communicate_utf8 (proc, NULL, NULL, out, err, &error));
  g_assert_no_error (error);
  *status = g_subprocess_get_exit_status (proc);
}

static void
test_command_line (Fixture *f, gconstpointer data)
{
  g_autofree gchar *out = NULL, *err = NULL;
  g_autofree gchar *bad_conf = g_build_filename (f->tmpdir, "bad.conf", NULL);
  gint status;

  run_engine (f, (const gchar *[]) { "--help", NULL }, &status, &out, &err);
  g_assert_cmpint (status, ==, 0);
  g_assert_nonnull (strstr (out, "KAFKA_BROKERS"));
  g_assert_nonnull (strstr (out, "--plugin-dir"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  run_engine (f, (const gchar *[]) { "--config", "/nonexistent/evcp.conf", NULL }, &status, &out, &err);
  g_assert_cmpint (status, ==, 1);
  g_assert_nonnull (strstr (err, "/nonexistent/evcp.conf"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  g_assert_true (g_file_set_contents (bad_conf, "[librdkafka]\nno.such.property=1\n", -1, NULL));
  run_engine (f, (const gchar *[]) { "--config", bad_conf, NULL }, &status, &out, &err);
  /* a bad setting: 78 (EX_CONFIG), which the unit does not restart */
  g_assert_cmpint (status, ==, 78);
  g_assert_nonnull (strstr (err, "no.such.property"));
  g_unlink (bad_conf);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  evcp_test_kafka_check_mode ();
  g_test_add ("/engine/command-line", Fixture, NULL, fixture_set_up, test_command_line, fixture_tear_down);
  g_test_add ("/engine/custom-plugin-and-sigterm", Fixture, NULL,
              fixture_set_up, test_custom_plugin_and_sigterm, fixture_tear_down);
  g_test_add ("/engine/sigterm-with-kafka-gone", Fixture, NULL,
              fixture_set_up, test_sigterm_with_kafka_gone, fixture_tear_down);
  g_test_add ("/engine/kill-and-restart", Fixture, "long-session",
              fixture_set_up, test_kill_and_restart, fixture_tear_down);
  return g_test_run ();
}
