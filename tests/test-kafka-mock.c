/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Integration test of evcp-kafka-mock and of the test utilities (evcp-test-util).
 *
 * The program's path comes from $EVCP_KAFKA_MOCK (set by meson). kcat, when
 * installed, is the independent client.
 */
#define G_LOG_DOMAIN "evcp-test"

#include "evcp-build-config.h"

#include <string.h>
#ifdef G_OS_UNIX
#include <signal.h>
#endif
#ifdef __linux__
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include <glib/gstdio.h>

#include "evcp-test-util.h"

#define RECEIVE_TIMEOUT_MS 15000
#define KCAT_TIMEOUT_MS    30000

static const gchar *const default_topics[] = {
  "user_messages", "charging_requests", "system_notifications",
  "charging_sessions", "monitoring_events", "dead_letters",
};

/* ------------------------------------------------------------------------- */
/* Helpers */

static GPtrArray *
bytes_array_new (const gchar *first, ...) G_GNUC_NULL_TERMINATED;

static GPtrArray *
bytes_array_new (const gchar *first, ...)
{
  GPtrArray *values = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  va_list args;

  va_start (args, first);
  for (const gchar *s = first; s != NULL; s = va_arg (args, const gchar *))
    g_ptr_array_add (values, g_bytes_new (s, strlen (s)));
  va_end (args);
  return values;
}

static gint
compare_strings (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const gchar *const *) a, *(const gchar *const *) b);
}

/* Sorted "key=value" of @records (order across partitions is arbitrary). */
static gchar *
records_to_string (GPtrArray *records)
{
  g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; i < records->len; i++)
    {
      EvcpTestRecord *r = g_ptr_array_index (records, i);
      g_autofree gchar *value = evcp_test_record_get_value_string (r);

      g_ptr_array_add (lines, g_strdup_printf ("%s=%s", r->key != NULL ? r->key : "(null)", value));
    }
  g_ptr_array_sort (lines, compare_strings);
  g_ptr_array_add (lines, NULL);
  return g_strjoinv (",", (gchar **) lines->pdata);
}

/* Sorted, comma-joined non-empty lines of @text. */
static gchar *
sorted_lines (const gchar *text)
{
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);
  g_autoptr(GPtrArray) kept = g_ptr_array_new ();

  for (guint i = 0; lines[i] != NULL; i++)
    if (lines[i][0] != '\0')
      g_ptr_array_add (kept, lines[i]);
  g_ptr_array_sort (kept, compare_strings);
  g_ptr_array_add (kept, NULL);
  return g_strjoinv (",", (gchar **) kept->pdata);
}

static void
log_cb (const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
  g_debug ("librdkafka: %s: %s", fac, buf);
}

/* Partition count of @topic, -1 if absent; brokers in *@n_brokers. */
static gint
topic_partitions (const gchar *bootstrap, const gchar *topic, gint *n_brokers)
{
  rd_kafka_conf_t *conf = rd_kafka_conf_new ();
  char errstr[256];
  rd_kafka_t *rk;
  const rd_kafka_metadata_t *md = NULL;
  rd_kafka_resp_err_t err;
  gint partitions = -1;

  rd_kafka_conf_set_log_cb (conf, log_cb);
  g_assert_cmpint (rd_kafka_conf_set (conf, "bootstrap.servers", bootstrap, errstr, sizeof errstr), ==, RD_KAFKA_CONF_OK);
  rk = rd_kafka_new (RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  g_assert_nonnull (rk);
  err = rd_kafka_metadata (rk, 1, NULL, &md, 10000);
  g_assert_cmpstr (rd_kafka_err2str (err), ==, rd_kafka_err2str (RD_KAFKA_RESP_ERR_NO_ERROR));
  for (int i = 0; i < md->topic_cnt; i++)
    if (g_str_equal (md->topics[i].topic, topic) && md->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR)
      partitions = md->topics[i].partition_cnt;
  if (n_brokers != NULL)
    *n_brokers = md->broker_cnt;
  rd_kafka_metadata_destroy (md);
  rd_kafka_destroy (rk);
  return partitions;
}

typedef struct
{
  GSubprocess *proc;
  gboolean     done;
  gchar       *out;
  GError      *error;
} KcatRun;

static void
kcat_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  KcatRun *run = user_data;

  g_subprocess_communicate_utf8_finish (G_SUBPROCESS (source), result, &run->out, NULL, &run->error);
  run->done = TRUE;
}

static gboolean
kcat_is_done (gpointer data)
{
  return ((KcatRun *) data)->done;
}

/* Runs kcat with @args and @input on its stdin, within a deadline; returns
 * its stdout. */
static gchar *
run_kcat (const gchar *const *args, const gchar *input)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  KcatRun run = { NULL, FALSE, NULL, NULL };

  g_ptr_array_add (argv, (gpointer) "kcat");
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);

  run.proc = evcp_test_subprocess_newv ((const gchar * const *) argv->pdata,
                                        G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8_async (run.proc, input != NULL ? input : "", NULL, kcat_done_cb, &run);
  if (!evcp_test_wait_until (NULL, kcat_is_done, &run, KCAT_TIMEOUT_MS))
    {
      g_subprocess_force_exit (run.proc);
      evcp_test_wait_until (NULL, kcat_is_done, &run, 5000);
      g_error ("kcat did not finish within %d ms", KCAT_TIMEOUT_MS);
    }
  g_assert_no_error (run.error);
  g_assert_true (g_subprocess_wait (run.proc, NULL, NULL));
  g_assert_true (g_subprocess_get_successful (run.proc));
  g_object_unref (run.proc);
  return run.out;
}

static EvcpTestMockProcess *
start_mock (const gchar *const *args)
{
  g_autoptr(GError) error = NULL;
  EvcpTestMockProcess *proc = evcp_test_mock_process_start (args, &error);

  g_assert_no_error (error);
  g_assert_nonnull (proc);
  return proc;
}

static void
assert_command (EvcpTestMockProcess *proc, const gchar *command, const gchar *expected)
{
  g_autoptr(GError) error = NULL;
  g_autofree gchar *answer = evcp_test_mock_process_command (proc, command, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (answer, ==, expected);
}

static void
assert_command_fails (EvcpTestMockProcess *proc, const gchar *command)
{
  g_autoptr(GError) error = NULL;
  g_autofree gchar *answer = evcp_test_mock_process_command (proc, command, &error);

  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_FAILED);
  g_assert_null (answer);
  g_test_message ("%s → %s", command, error->message);
}

static void
assert_stops_cleanly (EvcpTestMockProcess *proc)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (evcp_test_mock_process_stop (proc, &error));
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (evcp_test_mock_process_get_subprocess (proc)));
  g_assert_cmpint (g_subprocess_get_exit_status (evcp_test_mock_process_get_subprocess (proc)), ==, 0);
}

static gboolean
never (gpointer data)
{
  guint *calls = data;

  (*calls)++;
  return FALSE;
}

static gboolean
set_flag_cb (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

static gboolean
flag_is_set (gpointer data)
{
  return *(gboolean *) data;
}

/* ------------------------------------------------------------------------- */
/* The utilities */

static void
test_util_wait_until (void)
{
  guint calls = 0;
  gboolean flag = FALSE;
  gint64 start = g_get_monotonic_time ();
  gint64 elapsed_ms;

  /* A condition that never holds: FALSE at the deadline, checked often. */
  g_assert_false (evcp_test_wait_until (NULL, never, &calls, 200));
  elapsed_ms = (g_get_monotonic_time () - start) / 1000;
  g_assert_cmpint (elapsed_ms, >=, evcp_test_scaled_ms (200));
  g_assert_cmpint (elapsed_ms, <, evcp_test_scaled_ms (2000));
  g_assert_cmpuint (calls, >=, 5);

  /* Sources of the context run while waiting: the flag is set by one. */
  start = g_get_monotonic_time ();
  g_timeout_add (50, set_flag_cb, &flag);
  g_assert_true (evcp_test_wait_until (NULL, flag_is_set, &flag, 5000));
  elapsed_ms = (g_get_monotonic_time () - start) / 1000;
  g_assert_cmpint (elapsed_ms, >=, 40);
  g_assert_cmpint (elapsed_ms, <, 2000);

  /* Already true: no wait at all. */
  g_assert_true (evcp_test_wait_until (NULL, flag_is_set, &flag, 0));
}

static void
test_util_free_port (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketListener) listener = g_socket_listener_new ();
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) addr = NULL;
  guint16 port = evcp_test_free_port ();

  g_assert_cmpuint (port, >, 0);
  addr = g_inet_socket_address_new (loopback, port);
  g_assert_true (g_socket_listener_add_address (listener, addr, G_SOCKET_TYPE_STREAM,
                                                G_SOCKET_PROTOCOL_TCP, NULL, NULL, &error));
  g_assert_no_error (error);
}

#ifdef __linux__
static void
on_sigusr2 (int signum)
{
}

/* The thread of this process whose name is @name, or 0. */
static pid_t
find_thread (const gchar *name)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/task", 0, NULL);
  const gchar *tid;

  g_assert_nonnull (dir);
  while ((tid = g_dir_read_name (dir)) != NULL)
    {
      g_autofree gchar *path = g_build_filename ("/proc/self/task", tid, "comm", NULL);
      g_autofree gchar *comm = NULL;

      if (g_file_get_contents (path, &comm, NULL, NULL) && g_strcmp0 (g_strchomp (comm), name) == 0)
        return (pid_t) g_ascii_strtoll (tid, NULL, 10);
    }
  return 0;
}

static gboolean
mock_thread_named (gpointer data)
{
  *(pid_t *) data = find_thread ("rdk:mock");
  return *(pid_t *) data > 0;
}
#endif

/* A signal that reaches the mock cluster's thread (GLib's SIGCHLD in a test
 * that spawns children, SIGTERM to evcp-kafka-mock) must not stop it:
 * librdkafka 2.0.2 takes the interrupted poll() as fatal, its thread ends and
 * the cluster answers no more. evcp_kafka_mock_cluster_new() creates the
 * thread with every signal blocked. */
static void
test_util_mock_thread_signals (void)
{
#ifdef __linux__
  g_autoptr(EvcpTestCluster) cluster = evcp_test_cluster_new (1);
  g_autoptr(GError) error = NULL;
  struct sigaction action = { 0 }, old;
  pid_t mock_thread;

  if (evcp_test_kafka_is_real ())
    {
      g_test_skip ("a real Kafka has no mock thread");
      return;
    }
  /* the thread names itself once it runs */
  g_assert_true (evcp_test_wait_until (NULL, mock_thread_named, &mock_thread, 5000));
  g_assert_true (evcp_test_cluster_create_topic (cluster, "evcp-signals", 1, &error));
  g_assert_no_error (error);
  /* a handler of its own, without SA_RESTART: what interrupts a poll() */
  action.sa_handler = on_sigusr2;
  sigemptyset (&action.sa_mask);
  g_assert_cmpint (sigaction (SIGUSR2, &action, &old), ==, 0);
  g_assert_cmpint (syscall (SYS_tgkill, getpid (), mock_thread, SIGUSR2), ==, 0);
  /* the cluster still answers */
  g_assert_true (
      evcp_test_produce (evcp_test_cluster_get_bootstraps (cluster), "evcp-signals", "k", "after", -1, &error));
  g_assert_no_error (error);
  g_assert_cmpint (find_thread ("rdk:mock"), ==, mock_thread);
  g_assert_cmpint (sigaction (SIGUSR2, &old, NULL), ==, 0);
#else
  g_test_skip ("Linux only (tgkill, /proc)");
#endif
}

static void
test_util_cluster (void)
{
  g_autoptr(EvcpTestCluster) cluster = evcp_test_cluster_new (3);
  const gchar *bootstraps = evcp_test_cluster_get_bootstraps (cluster);
  g_autoptr(EvcpTestConsumer) consumer = NULL;
  g_autoptr(GPtrArray) values = bytes_array_new ("a", "b", "c", "d", "e", NULL);
  g_autoptr(GPtrArray) lost = bytes_array_new ("lost", NULL);
  g_autoptr(GPtrArray) records = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) addrs = g_strsplit (bootstraps, ",", -1);
  gint n_brokers = 0;
  gint64 start;

  g_assert_cmpuint (g_strv_length (addrs), ==, 3);
  g_assert_nonnull (evcp_test_cluster_get_mock (cluster));
  g_assert_true (evcp_test_cluster_create_topic (cluster, "evcp-test", 3, &error));
  g_assert_no_error (error);
  g_assert_false (evcp_test_cluster_create_topic (cluster, "evcp-test", 3, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  g_clear_error (&error);
  g_assert_cmpint (topic_partitions (bootstraps, "evcp-test", &n_brokers), ==, 3);
  g_assert_cmpint (n_brokers, ==, 3);

  g_assert_true (evcp_test_produce_batch (bootstraps, "evcp-test", "CP-001", values, 10000, &error));
  g_assert_no_error (error);

  consumer = evcp_test_consumer_new (bootstraps, "evcp-test");
  records = evcp_test_consumer_wait_for (consumer, 5, RECEIVE_TIMEOUT_MS);
  g_assert_cmpuint (records->len, ==, 5);
  /* One key: one partition, so the order is kept. */
  for (guint i = 0; i < records->len; i++)
    {
      EvcpTestRecord *r = g_ptr_array_index (records, i);
      g_autofree gchar *value = evcp_test_record_get_value_string (r);
      const gchar expected[2] = { (gchar) ('a' + i), '\0' };

      g_assert_cmpstr (r->topic, ==, "evcp-test");
      g_assert_cmpstr (r->key, ==, "CP-001");
      g_assert_cmpstr (value, ==, expected);
      g_assert_cmpint (r->offset, ==, i);
      g_assert_cmpint (r->partition, ==, ((EvcpTestRecord *) g_ptr_array_index (records, 0))->partition);
      g_assert_cmpint (r->partition, >=, 0);
      g_assert_cmpint (r->partition, <, 3);
      g_assert_cmpuint (g_hash_table_size (r->headers), ==, 0);
    }
  g_clear_pointer (&records, g_ptr_array_unref);

  /* Every broker down: a produce cannot be acknowledged. */
  g_assert_false (evcp_test_cluster_set_down (cluster, 4));
  g_assert_true (evcp_test_cluster_set_down (cluster, -1));
  start = g_get_monotonic_time ();
  g_assert_false (evcp_test_produce_batch (bootstraps, "evcp-test", "CP-001", lost, 1500, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_test_message ("produce while down: %s after %" G_GINT64_FORMAT " ms", error->message,
                  (g_get_monotonic_time () - start) / 1000);
  g_clear_error (&error);

  /* Up again: it works, and the consumer gets it too. */
  g_assert_true (evcp_test_cluster_set_up (cluster, -1));
  g_assert_true (evcp_test_cluster_set_rtt (cluster, 1, 10));
  g_assert_true (evcp_test_produce (bootstraps, "evcp-test", "CP-001", "f", -1, &error));
  g_assert_no_error (error);
  records = evcp_test_consumer_wait_for (consumer, 1, RECEIVE_TIMEOUT_MS);
  g_assert_cmpuint (records->len, ==, 1);
  g_assert_cmpint (((EvcpTestRecord *) g_ptr_array_index (records, 0))->offset, ==, 5);
}

static void
test_util_consumer_headers_json (void)
{
  g_autoptr(EvcpTestCluster) cluster = evcp_test_cluster_new (1);
  const gchar *bootstraps = evcp_test_cluster_get_bootstraps (cluster);
  g_autoptr(EvcpTestConsumer) consumer = NULL;
  g_autoptr(GPtrArray) records = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;
  rd_kafka_conf_t *conf = rd_kafka_conf_new ();
  rd_kafka_t *rk;
  char errstr[256];
  const gchar *json = "{\"kind\":\"USER_INFO\",\"data\":{\"user_id\":\"u1\"}}";
  EvcpTestRecord *r;
  GBytes *header;

  /* The topic does not exist yet: the mock creates it when the consumer asks. */
  consumer = evcp_test_consumer_new (bootstraps, "with-headers");

  rd_kafka_conf_set_log_cb (conf, log_cb);
  g_assert_cmpint (rd_kafka_conf_set (conf, "bootstrap.servers", bootstraps, errstr, sizeof errstr), ==, RD_KAFKA_CONF_OK);
  rk = rd_kafka_new (RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  g_assert_nonnull (rk);
  g_assert_cmpint (rd_kafka_producev (rk,
                                      RD_KAFKA_V_TOPIC ("with-headers"),
                                      RD_KAFKA_V_KEY ("CP-002", 6),
                                      RD_KAFKA_V_VALUE ((void *) json, strlen (json)),
                                      RD_KAFKA_V_HEADER ("origin-topic", "user_messages", -1),
                                      RD_KAFKA_V_HEADER ("origin-offset", "41", -1),
                                      RD_KAFKA_V_MSGFLAGS (RD_KAFKA_MSG_F_COPY),
                                      RD_KAFKA_V_END), ==, RD_KAFKA_RESP_ERR_NO_ERROR);
  g_assert_cmpint (rd_kafka_flush (rk, 10000), ==, RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_destroy (rk);

  records = evcp_test_consumer_wait_for (consumer, 1, RECEIVE_TIMEOUT_MS);
  g_assert_cmpuint (records->len, ==, 1);
  r = g_ptr_array_index (records, 0);
  g_assert_cmpstr (r->key, ==, "CP-002");
  g_assert_cmpuint (g_hash_table_size (r->headers), ==, 2);
  header = g_hash_table_lookup (r->headers, "origin-topic");
  g_assert_nonnull (header);
  g_assert_cmpmem (g_bytes_get_data (header, NULL), g_bytes_get_size (header), "user_messages", 13);
  node = evcp_test_record_parse_json (r, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (node), "kind"), ==, "USER_INFO");
}

/* ------------------------------------------------------------------------- */
/* The program */

static void
test_mock_default_topics (void)
{
  g_autoptr(EvcpTestMockProcess) proc = start_mock (NULL);
  const gchar *bootstrap = evcp_test_mock_process_get_bootstrap (proc);
  gint n_brokers = 0;

  g_assert_true (g_str_has_prefix (bootstrap, "127.0.0.1:"));
  assert_command (proc, "bootstrap", bootstrap);
  for (guint i = 0; i < G_N_ELEMENTS (default_topics); i++)
    g_assert_cmpint (topic_partitions (bootstrap, default_topics[i], &n_brokers), ==, 4);
  g_assert_cmpint (n_brokers, ==, 1);

  /* quit: answered, then exit status 0 */
  assert_command (proc, "quit", "quit");
  g_assert_true (evcp_test_mock_process_wait (proc, EVCP_TEST_STOP_TIMEOUT_MS, NULL));
  g_assert_true (g_subprocess_get_successful (evcp_test_mock_process_get_subprocess (proc)));
  assert_stops_cleanly (proc); /* nothing left to do */
}

static void
test_mock_options (void)
{
  const gchar *const args[] = { "--brokers", "3", "--partitions", "2",
                                "--topic", "orders", "--topic", "payments:5", NULL };
  g_autoptr(EvcpTestMockProcess) proc = start_mock (args);
  const gchar *bootstrap = evcp_test_mock_process_get_bootstrap (proc);
  g_auto(GStrv) addrs = g_strsplit (bootstrap, ",", -1);
  gint n_brokers = 0;

  g_assert_cmpuint (g_strv_length (addrs), ==, 3);
  g_assert_cmpint (topic_partitions (bootstrap, "orders", &n_brokers), ==, 2);
  g_assert_cmpint (n_brokers, ==, 3);
  g_assert_cmpint (topic_partitions (bootstrap, "payments", NULL), ==, 5);
  /* --topic replaces the default list */
  g_assert_cmpint (topic_partitions (bootstrap, "user_messages", NULL), ==, -1);
  assert_stops_cleanly (proc);
}

static void
test_mock_bad_options (void)
{
  const gchar *const bad[][4] = {
    { "--brokers", "0", NULL },
    { "--partitions", "-1", NULL },
    { "--topic", "no/slash", NULL },
    { "--topic", "x:zero", NULL },
    { "--listen", "127.0.0.1", NULL },
    { "--frobnicate", NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(EvcpTestMockProcess) proc = evcp_test_mock_process_start (bad[i], &error);

      g_assert_null (proc);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
      g_test_message ("%s %s refused", bad[i][0], bad[i][1] != NULL ? bad[i][1] : "");
    }
}

static void
test_mock_commands (void)
{
  const gchar *const args[] = { "--brokers", "2", NULL };
  g_autoptr(EvcpTestMockProcess) proc = start_mock (args);
  const gchar *bootstrap = evcp_test_mock_process_get_bootstrap (proc);

  assert_command_fails (proc, "frobnicate");
  assert_command_fails (proc, "down 3");
  assert_command_fails (proc, "down 0");
  assert_command_fails (proc, "down");
  assert_command_fails (proc, "up one");
  assert_command_fails (proc, "rtt 1");
  assert_command_fails (proc, "rtt 1 -5");
  assert_command_fails (proc, "create orders");
  assert_command_fails (proc, "create orders 0");
  assert_command_fails (proc, "create bad/name 2");
  assert_command_fails (proc, "bootstrap now");

  assert_command (proc, "rtt 2 50", "rtt 2 50");
  assert_command (proc, "rtt all 0", "rtt all 0");
  assert_command (proc, "down 2", "down 2");
  assert_command (proc, "up 2", "up 2");
  assert_command (proc, "create orders 8", "create orders 8");
  assert_command_fails (proc, "create orders 8"); /* exists */
  g_assert_cmpint (topic_partitions (bootstrap, "orders", NULL), ==, 8);
  /* extra blanks are fine */
  assert_command (proc, "  bootstrap\t", bootstrap);
  assert_stops_cleanly (proc);
}

static void
test_mock_produce_consume (void)
{
  g_autoptr(EvcpTestMockProcess) proc = start_mock (NULL);
  const gchar *bootstrap = evcp_test_mock_process_get_bootstrap (proc);
  g_autoptr(EvcpTestConsumer) consumer = evcp_test_consumer_new (bootstrap, "charging_requests");
  g_autoptr(GPtrArray) values = NULL;
  g_autoptr(GPtrArray) records = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autofree gchar *all = NULL;
  g_autofree gchar *expected = NULL;
  const gchar *request = "{\"kind\": \"CHARGING_REQUEST\", \"user_id\": \"user123\", "
                         "\"cp_id\": \"CP-001\", \"requested_power\": 50, \"max_duration\": 3600}";

  g_assert_true (evcp_test_produce (bootstrap, "charging_requests", "CP-001", request, -1, &error));
  g_assert_no_error (error);
  values = bytes_array_new ("r2", "r3", NULL);
  g_assert_true (evcp_test_produce_batch (bootstrap, "charging_requests", "CP-002", values, 10000, &error));
  g_assert_no_error (error);

  records = evcp_test_consumer_wait_for (consumer, 3, RECEIVE_TIMEOUT_MS);
  g_assert_cmpuint (records->len, ==, 3);
  all = records_to_string (records);
  expected = g_strconcat ("CP-001=", request, ",CP-002=r2,CP-002=r3", NULL);
  g_assert_cmpstr (all, ==, expected);
  for (guint i = 0; i < records->len; i++)
    {
      EvcpTestRecord *r = g_ptr_array_index (records, i);

      if (g_strcmp0 (r->key, "CP-001") != 0)
        continue;
      node = evcp_test_record_parse_json (r, &error);
      g_assert_no_error (error);
      g_assert_cmpint (json_object_get_int_member (json_node_get_object (node), "requested_power"), ==, 50);
    }
  g_assert_nonnull (node);
  assert_stops_cleanly (proc);
}

static void
test_mock_kcat (void)
{
  g_autofree gchar *kcat = g_find_program_in_path ("kcat");
  g_autoptr(EvcpTestMockProcess) proc = NULL;
  g_autoptr(EvcpTestConsumer) consumer = NULL;
  g_autoptr(GPtrArray) records = NULL;
  g_autoptr(GPtrArray) values = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *out = NULL;
  g_autofree gchar *got = NULL;
  g_autofree gchar *sorted = NULL;
  const gchar *bootstrap;

  if (kcat == NULL)
    {
      g_test_skip ("kcat is not installed");
      return;
    }
  proc = start_mock (NULL);
  bootstrap = evcp_test_mock_process_get_bootstrap (proc);

  /* kcat produces, librdkafka in this process consumes, kcat consumes. */
  {
    const gchar *const produce[] = { "-b", bootstrap, "-P", "-t", "user_messages", "-K", ":", NULL };
    const gchar *const consume[] = { "-b", bootstrap, "-C", "-t", "user_messages", "-o", "beginning",
                                     "-e", "-c", "3", "-f", "%k=%s\\n", NULL };

    g_free (run_kcat (produce, "CP-001:one\nCP-001:two\nCP-009:three\n"));
    consumer = evcp_test_consumer_new (bootstrap, "user_messages");
    records = evcp_test_consumer_wait_for (consumer, 3, RECEIVE_TIMEOUT_MS);
    got = records_to_string (records);
    g_assert_cmpstr (got, ==, "CP-001=one,CP-001=two,CP-009=three");

    out = run_kcat (consume, NULL);
    sorted = sorted_lines (out);
    g_assert_cmpstr (sorted, ==, "CP-001=one,CP-001=two,CP-009=three");
  }

  /* librdkafka in this process produces, kcat consumes. */
  {
    const gchar *const consume[] = { "-b", bootstrap, "-C", "-t", "system_notifications",
                                     "-o", "beginning", "-e", "-c", "2", "-f", "%k=%s\\n", NULL };

    values = bytes_array_new ("{\"level\":\"info\"}", "{\"level\":\"critical\"}", NULL);
    g_assert_true (evcp_test_produce_batch (bootstrap, "system_notifications", "CP-001", values, 10000, &error));
    g_assert_no_error (error);
    g_clear_pointer (&out, g_free);
    out = run_kcat (consume, NULL);
    /* one key, one partition: in order */
    g_assert_cmpstr (out, ==, "CP-001={\"level\":\"info\"}\nCP-001={\"level\":\"critical\"}\n");
  }
  assert_stops_cleanly (proc);
}

static void
test_mock_down_up (void)
{
  const gchar *const args[] = { "--brokers", "2", NULL };
  g_autoptr(EvcpTestMockProcess) proc = start_mock (args);
  const gchar *bootstrap = evcp_test_mock_process_get_bootstrap (proc);
  g_autoptr(GPtrArray) lost = bytes_array_new ("lost", NULL);
  g_autoptr(EvcpTestConsumer) consumer = NULL;
  g_autoptr(GPtrArray) records = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *got = NULL;
  gint64 start;

  g_assert_true (evcp_test_produce (bootstrap, "monitoring_events", "CP-001", "before", -1, &error));
  g_assert_no_error (error);

  assert_command (proc, "down all", "down all");
  start = g_get_monotonic_time ();
  g_assert_false (evcp_test_produce_batch (bootstrap, "monitoring_events", "CP-001", lost, 1500, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_cmpint ((g_get_monotonic_time () - start) / 1000, <, 10000);
  g_clear_error (&error);

  assert_command (proc, "up all", "up all");
  g_assert_true (evcp_test_produce (bootstrap, "monitoring_events", "CP-001", "after", -1, &error));
  g_assert_no_error (error);

  consumer = evcp_test_consumer_new (bootstrap, "monitoring_events");
  records = evcp_test_consumer_wait_for (consumer, 2, RECEIVE_TIMEOUT_MS);
  got = records_to_string (records);
  g_assert_cmpstr (got, ==, "CP-001=after,CP-001=before");
  assert_stops_cleanly (proc);
}

typedef struct
{
  gboolean  done;
  gssize    n_read;
  GError   *error;
} ReadResult;

static void
read_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ReadResult *res = user_data;

  res->n_read = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &res->error);
  res->done = TRUE;
}

static gboolean
read_is_done (gpointer data)
{
  return ((ReadResult *) data)->done;
}

/* Connects to @address and reads; returns whether the peer closed the
 * connection within @timeout_ms (a read of 0 bytes or an error). */
static gboolean
peer_closes_connection (const gchar *address, guint timeout_ms)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketConnection) conn = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  ReadResult res = { FALSE, -1, NULL };
  guint8 buf[16];
  gboolean closed;

  conn = g_socket_client_connect_to_host (client, address, 0, NULL, &error);
  if (conn == NULL)
    {
      g_test_message ("connecting to %s: %s", address, error->message);
      return TRUE;  /* refused outright */
    }
  g_input_stream_read_async (g_io_stream_get_input_stream (G_IO_STREAM (conn)), buf, sizeof buf,
                             G_PRIORITY_DEFAULT, cancellable, read_cb, &res);
  closed = evcp_test_wait_until (NULL, read_is_done, &res, timeout_ms);
  if (!closed)
    {
      g_cancellable_cancel (cancellable);
      evcp_test_wait_until (NULL, read_is_done, &res, 5000);
    }
  g_assert_true (res.done);
  g_clear_error (&res.error);
  return closed;
}

static void
test_mock_listen (void)
{
  guint16 port = evcp_test_free_port ();
  g_autofree gchar *listen = g_strdup_printf ("127.0.0.1:%u", port);
  const gchar *const args[] = { "--listen", listen, "--brokers", "2", NULL };
  g_autoptr(EvcpTestMockProcess) proc = start_mock (args);
  g_autoptr(EvcpTestConsumer) consumer = NULL;
  g_autoptr(GPtrArray) records = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *got = NULL;

  /* The fixed address is the bootstrap address, and clients work through it. */
  g_assert_cmpstr (evcp_test_mock_process_get_bootstrap (proc), ==, listen);
  assert_command (proc, "bootstrap", listen);
  g_assert_cmpint (topic_partitions (listen, "dead_letters", NULL), ==, 4);
  g_assert_true (evcp_test_produce (listen, "dead_letters", "CP-001", "one", -1, &error));
  g_assert_no_error (error);
  consumer = evcp_test_consumer_new (listen, "dead_letters");
  records = evcp_test_consumer_wait_for (consumer, 1, RECEIVE_TIMEOUT_MS);
  got = records_to_string (records);
  g_assert_cmpstr (got, ==, "CP-001=one");

  /* A forwarded connection stays open while a broker is up… */
  g_assert_false (peer_closes_connection (listen, 300));
  assert_command (proc, "down 1", "down 1");
  g_assert_false (peer_closes_connection (listen, 300));
  /* …and new ones are closed at once while they are all down. */
  assert_command (proc, "down all", "down all");
  g_assert_true (peer_closes_connection (listen, 5000));
  assert_command (proc, "up all", "up all");
  g_assert_false (peer_closes_connection (listen, 300));
  g_assert_true (evcp_test_produce (listen, "dead_letters", "CP-001", "two", -1, &error));
  g_assert_no_error (error);
  assert_stops_cleanly (proc);
}

static void
test_mock_listen_any_port (void)
{
  const gchar *const args[] = { "--listen", "127.0.0.1:0", NULL };
  g_autoptr(EvcpTestMockProcess) proc = start_mock (args);
  const gchar *bootstrap = evcp_test_mock_process_get_bootstrap (proc);
  guint64 port = 0;
  g_autoptr(GError) error = NULL;

  g_assert_true (g_str_has_prefix (bootstrap, "127.0.0.1:"));
  g_assert_true (g_ascii_string_to_unsigned (bootstrap + strlen ("127.0.0.1:"), 10, 1, G_MAXUINT16, &port, NULL));
  g_assert_true (evcp_test_produce (bootstrap, "user_messages", NULL, "x", -1, &error));
  g_assert_no_error (error);
  assert_stops_cleanly (proc);
}

typedef struct
{
  gboolean transport_failed;
  gboolean delivered;
  rd_kafka_resp_err_t delivery_error;
} LateState;

static void
late_error_cb (rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
  LateState *state = opaque;

  g_debug ("client error: %s: %s", rd_kafka_err2name (err), reason);
  if (err == RD_KAFKA_RESP_ERR__TRANSPORT || err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
    state->transport_failed = TRUE;
}

static void
late_dr_cb (rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
  LateState *state = opaque;

  state->delivered = TRUE;
  state->delivery_error = msg->err;
}

typedef struct
{
  rd_kafka_t *rk;
  LateState  *state;
  gboolean    want_delivery;
} LateWait;

static gboolean
late_check (gpointer data)
{
  LateWait *wait = data;

  rd_kafka_poll (wait->rk, 0);
  return wait->want_delivery ? wait->state->delivered : wait->state->transport_failed;
}

/* A client started first, with the --listen address, before anything
 * listens there; the cluster starts after, and the message gets through. */
static void
test_mock_starts_after_client (void)
{
  guint16 port = evcp_test_free_port ();
  g_autofree gchar *listen = g_strdup_printf ("127.0.0.1:%u", port);
  const gchar *const args[] = { "--listen", listen, NULL };
  g_autoptr(EvcpTestMockProcess) proc = NULL;
  g_autoptr(EvcpTestConsumer) consumer = NULL;
  g_autoptr(GPtrArray) records = NULL;
  LateState state = { FALSE, FALSE, RD_KAFKA_RESP_ERR_NO_ERROR };
  LateWait wait = { NULL, &state, FALSE };
  rd_kafka_conf_t *conf = rd_kafka_conf_new ();
  char errstr[256];
  g_autofree gchar *got = NULL;

  rd_kafka_conf_set_log_cb (conf, log_cb);
  rd_kafka_conf_set_error_cb (conf, late_error_cb);
  rd_kafka_conf_set_dr_msg_cb (conf, late_dr_cb);
  rd_kafka_conf_set_opaque (conf, &state);
  g_assert_cmpint (rd_kafka_conf_set (conf, "bootstrap.servers", listen, errstr, sizeof errstr), ==, RD_KAFKA_CONF_OK);
  g_assert_cmpint (rd_kafka_conf_set (conf, "enable.idempotence", "true", errstr, sizeof errstr), ==, RD_KAFKA_CONF_OK);
  g_assert_cmpint (rd_kafka_conf_set (conf, "reconnect.backoff.max.ms", "500", errstr, sizeof errstr), ==, RD_KAFKA_CONF_OK);
  g_assert_cmpint (rd_kafka_conf_set (conf, "message.timeout.ms", "30000", errstr, sizeof errstr), ==, RD_KAFKA_CONF_OK);
  wait.rk = rd_kafka_new (RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  g_assert_nonnull (wait.rk);
  g_assert_cmpint (rd_kafka_producev (wait.rk,
                                      RD_KAFKA_V_TOPIC ("charging_sessions"),
                                      RD_KAFKA_V_KEY ("CP-001", 6),
                                      RD_KAFKA_V_VALUE ((void *) "early", 5),
                                      RD_KAFKA_V_MSGFLAGS (RD_KAFKA_MSG_F_COPY),
                                      RD_KAFKA_V_END), ==, RD_KAFKA_RESP_ERR_NO_ERROR);

  /* Nothing listens yet: the client says so. */
  g_assert_true (evcp_test_wait_until (NULL, late_check, &wait, 10000));
  g_assert_false (state.delivered);

  proc = start_mock (args);
  g_assert_cmpstr (evcp_test_mock_process_get_bootstrap (proc), ==, listen);
  wait.want_delivery = TRUE;
  g_assert_true (evcp_test_wait_until (NULL, late_check, &wait, 20000));
  g_assert_cmpint (state.delivery_error, ==, RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_destroy (wait.rk);

  consumer = evcp_test_consumer_new (listen, "charging_sessions");
  records = evcp_test_consumer_wait_for (consumer, 1, RECEIVE_TIMEOUT_MS);
  got = records_to_string (records);
  g_assert_cmpstr (got, ==, "CP-001=early");
  assert_stops_cleanly (proc);
}

static void
test_mock_stdin_eof (void)
{
  g_autoptr(EvcpTestMockProcess) proc = start_mock (NULL);

  evcp_test_mock_process_close_stdin (proc);
  g_assert_true (evcp_test_mock_process_wait (proc, EVCP_TEST_STOP_TIMEOUT_MS, NULL));
  g_assert_true (g_subprocess_get_successful (evcp_test_mock_process_get_subprocess (proc)));
}

static void
test_mock_sigterm (void)
{
#ifdef G_OS_UNIX
  const gint signals[] = { SIGTERM, SIGINT };

  for (guint i = 0; i < G_N_ELEMENTS (signals); i++)
    {
      g_autoptr(EvcpTestMockProcess) proc = start_mock (NULL);

      g_subprocess_send_signal (evcp_test_mock_process_get_subprocess (proc), signals[i]);
      g_assert_true (evcp_test_mock_process_wait (proc, EVCP_TEST_STOP_TIMEOUT_MS, NULL));
      g_assert_true (g_subprocess_get_if_exited (evcp_test_mock_process_get_subprocess (proc)));
      g_assert_cmpint (g_subprocess_get_exit_status (evcp_test_mock_process_get_subprocess (proc)), ==, 0);
    }
#else
  g_test_skip ("no signals here");
#endif
}

/* --no-stdin and --bootstrap-file, as the demo runs it in the background. */
static void
test_mock_no_stdin_bootstrap_file (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree gchar *dir = g_dir_make_tmp ("evcp-test-XXXXXX", &error);
  g_autofree gchar *path = NULL;
  g_autofree gchar *contents = NULL;
  g_autoptr(EvcpTestMockProcess) proc = NULL;
  g_autofree gchar *answer = NULL;

  g_assert_no_error (error);
  path = g_build_filename (dir, "bootstrap", NULL);
  {
    const gchar *const args[] = { "--no-stdin", "--bootstrap-file", path, NULL };

    proc = start_mock (args);
  }
  g_assert_true (g_file_get_contents (path, &contents, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (g_strchomp (contents), ==, evcp_test_mock_process_get_bootstrap (proc));

  /* No commands, and the end of stdin does not stop it. */
  answer = evcp_test_mock_process_command (proc, "bootstrap", &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  g_assert_null (answer);
  g_clear_error (&error);
  evcp_test_mock_process_close_stdin (proc);
  g_assert_false (evcp_test_mock_process_wait (proc, 300, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);
  g_assert_true (evcp_test_produce (evcp_test_mock_process_get_bootstrap (proc),
                                    "user_messages", NULL, "still here", -1, &error));
  g_assert_no_error (error);

  /* stop sends SIGTERM; the file goes away with the cluster. */
  assert_stops_cleanly (proc);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/test-util/wait-until", test_util_wait_until);
  g_test_add_func ("/test-util/free-port", test_util_free_port);
  g_test_add_func ("/test-util/cluster", test_util_cluster);
  g_test_add_func ("/test-util/mock-thread-signals", test_util_mock_thread_signals);
  g_test_add_func ("/test-util/consumer-headers-json", test_util_consumer_headers_json);
  g_test_add_func ("/kafka-mock/default-topics", test_mock_default_topics);
  g_test_add_func ("/kafka-mock/options", test_mock_options);
  g_test_add_func ("/kafka-mock/bad-options", test_mock_bad_options);
  g_test_add_func ("/kafka-mock/commands", test_mock_commands);
  g_test_add_func ("/kafka-mock/produce-consume", test_mock_produce_consume);
  g_test_add_func ("/kafka-mock/kcat", test_mock_kcat);
  g_test_add_func ("/kafka-mock/down-up", test_mock_down_up);
  g_test_add_func ("/kafka-mock/listen", test_mock_listen);
  g_test_add_func ("/kafka-mock/listen-any-port", test_mock_listen_any_port);
  g_test_add_func ("/kafka-mock/starts-after-client", test_mock_starts_after_client);
  g_test_add_func ("/kafka-mock/stdin-eof", test_mock_stdin_eof);
  g_test_add_func ("/kafka-mock/signals", test_mock_sigterm);
  g_test_add_func ("/kafka-mock/no-stdin-bootstrap-file", test_mock_no_stdin_bootstrap_file);

  return g_test_run ();
}
