/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "evcp-test-util"

#include "evcp-build-config.h"

#include <stdlib.h>
#include <string.h>
#ifdef G_OS_UNIX
#include <signal.h>
#include <unistd.h>
#endif
#ifdef __linux__
#include <sys/prctl.h>
#include <sys/syscall.h>
#endif

#include <glib/gstdio.h>

#include "evcp-test-util.h"
#include "evcp-kafka-mock-cluster.h"

#define TICK_MS               10
#define METADATA_TIMEOUT_MS   10000
#define METADATA_ATTEMPT_MS   1000
#define COMMAND_TIMEOUT_MS    10000
#define KILL_TIMEOUT_MS       5000
#define DRAIN_TIMEOUT_MS      5000

/* ------------------------------------------------------------------------- */
/* Waiting */

static gboolean
tick_cb (gpointer user_data)
{
  return G_SOURCE_CONTINUE;
}

gboolean
evcp_test_wait_until (GMainContext      *ctx,
                      EvcpTestPredicate  pred,
                      gpointer           data,
                      guint              timeout_ms)
{
  g_autoptr(GMainContext) context = ctx != NULL ? g_main_context_ref (ctx)
                                                : g_main_context_ref_thread_default ();
  g_autoptr(GSource) tick = g_timeout_source_new (TICK_MS);
  gint64 deadline = g_get_monotonic_time () + (gint64) evcp_test_scaled_ms (timeout_ms) * 1000;
  gboolean ok;

  g_return_val_if_fail (pred != NULL, FALSE);

  g_source_set_callback (tick, tick_cb, NULL, NULL);
  g_source_set_name (tick, "evcp_test_wait_until");
  g_source_attach (tick, context);
  while (!(ok = pred (data)) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (context, TRUE);
  g_source_destroy (tick);
  return ok;
}

guint16
evcp_test_free_port (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) sock = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                          G_SOCKET_PROTOCOL_TCP, &error);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;

  g_assert_no_error (error);
  if (!g_socket_bind (sock, any, FALSE, &error))
    g_error ("cannot bind a socket on 127.0.0.1: %s", error->message);
  bound = g_socket_get_local_address (sock, &error);
  g_assert_no_error (error);
  g_socket_close (sock, NULL);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

/* ------------------------------------------------------------------------- */
/* Child processes */

#ifdef __linux__
/* In the child, between fork and exec (async-signal-safe calls only): SIGKILL
 * when the test dies. If the test died before prctl(), the child was
 * reparented already and no signal will come: it leaves now. GSubprocess
 * forks once (G_SPAWN_DO_NOT_REAP_CHILD, no intermediate process), so the
 * parent is the test itself. The setting survives exec, but not a change of
 * user (setpriv --pdeathsig=keep restores it). */
static void
die_with_parent (gpointer user_data)
{
  pid_t parent = (pid_t) GPOINTER_TO_INT (user_data);

  prctl (PR_SET_PDEATHSIG, SIGKILL);
  if (getppid () != parent)
    _exit (127);
}
#endif

GSubprocessLauncher *
evcp_test_launcher_new (GSubprocessFlags flags)
{
  GSubprocessLauncher *launcher = g_subprocess_launcher_new (flags);

#ifdef __linux__
  /* the signal comes when the spawning *thread* exits: only the main one,
   * which lives as long as the test, may spawn */
  g_assert_cmpint (syscall (SYS_gettid), ==, getpid ());
  g_subprocess_launcher_set_child_setup (launcher, die_with_parent,
                                         GINT_TO_POINTER ((gint) getpid ()), NULL);
#endif
  return launcher;
}

GSubprocess *
evcp_test_subprocess_newv (const gchar * const *argv, GSubprocessFlags flags, GError **error)
{
  g_autoptr(GSubprocessLauncher) launcher = evcp_test_launcher_new (flags);

  return evcp_test_launcher_spawnv (launcher, argv, error);
}

GSubprocess *
evcp_test_launcher_spawnv (GSubprocessLauncher *launcher, const gchar * const *argv, GError **error)
{
  const gchar *wrapper = g_getenv ("EVCP_TEST_CHILD_WRAPPER");
  g_autofree gchar *base = NULL;
  g_auto(GStrv) wrap = NULL;
  g_autoptr(GPtrArray) all = NULL;

  g_return_val_if_fail (argv != NULL && argv[0] != NULL, NULL);
  base = g_path_get_basename (argv[0]);
  if (wrapper == NULL || *wrapper == '\0' || !g_str_has_prefix (base, "evcp-"))
    return g_subprocess_launcher_spawnv (launcher, argv, error);
  if (!g_shell_parse_argv (wrapper, NULL, &wrap, error))
    return NULL;
  all = g_ptr_array_new ();
  for (guint i = 0; wrap[i] != NULL; i++)
    g_ptr_array_add (all, wrap[i]);
  for (guint i = 0; argv[i] != NULL; i++)
    g_ptr_array_add (all, (gpointer) argv[i]);
  g_ptr_array_add (all, NULL);
  return g_subprocess_launcher_spawnv (launcher, (const gchar * const *) all->pdata, error);
}

GSubprocess *
evcp_test_launcher_spawn (GSubprocessLauncher *launcher, GError **error, const gchar *argv0, ...)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  const gchar *arg;
  va_list ap;

  g_ptr_array_add (argv, (gpointer) argv0);
  va_start (ap, argv0);
  while ((arg = va_arg (ap, const gchar *)) != NULL)
    g_ptr_array_add (argv, (gpointer) arg);
  va_end (ap);
  g_ptr_array_add (argv, NULL);
  return evcp_test_launcher_spawnv (launcher, (const gchar * const *) argv->pdata, error);
}

guint
evcp_test_scaled_ms (guint ms)
{
  const gchar *scale = g_getenv ("EVCP_TEST_DEADLINE_SCALE");
  guint64 k = scale != NULL ? g_ascii_strtoull (scale, NULL, 10) : 1;

  if (k < 1)
    k = 1;
  return (guint) MIN ((guint64) ms * k, (guint64) G_MAXUINT);
}

/* librdkafka's log lines are debug output for tests: a broker that is down on
 * purpose makes clients complain a lot. */
static void
log_cb (const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
  g_debug ("librdkafka %s: %s: %s", rd_kafka_name (rk), fac, buf);
}

static void
conf_set (rd_kafka_conf_t *conf, const gchar *name, const gchar *value)
{
  char errstr[512];

  if (rd_kafka_conf_set (conf, name, value, errstr, sizeof errstr) != RD_KAFKA_CONF_OK)
    g_error ("librdkafka: cannot set %s=%s: %s", name, value, errstr);
}

static rd_kafka_conf_t *
client_conf_new (const gchar *bootstraps)
{
  rd_kafka_conf_t *conf = rd_kafka_conf_new ();

  rd_kafka_conf_set_log_cb (conf, log_cb);
  if (bootstraps != NULL)
    conf_set (conf, "bootstrap.servers", bootstraps);
  /* Find a broker that comes back quickly. */
  conf_set (conf, "reconnect.backoff.ms", "50");
  conf_set (conf, "reconnect.backoff.max.ms", "500");
  if (bootstraps != NULL)
    {
      GHashTableIter iter;
      gpointer key, value;

      /* a real Kafka's security settings */
      g_hash_table_iter_init (&iter, evcp_test_kafka_properties ());
      while (g_hash_table_iter_next (&iter, &key, &value))
        conf_set (conf, key, value);
    }
  return conf;
}

static rd_kafka_t *
client_new (rd_kafka_type_t type, rd_kafka_conf_t *conf)
{
  char errstr[512];
  rd_kafka_t *rk = rd_kafka_new (type, conf, errstr, sizeof errstr);

  if (rk == NULL)
    g_error ("librdkafka: cannot create a client: %s", errstr);
  return rk;
}

/* ------------------------------------------------------------------------- */
/* A real Kafka instead of the mock */

#define ADMIN_TIMEOUT_MS        30000
#define BROKER_SCRIPT_TIMEOUT_MS 180000

const gchar *
evcp_test_kafka_brokers (void)
{
  const gchar *brokers = g_getenv ("EVCP_TEST_KAFKA_BROKERS");

  /* opt-in per test program: an exported address leaves the others on the mock */
  if (g_strcmp0 (g_getenv ("EVCP_TEST_KAFKA_REAL"), "1") != 0)
    return NULL;
  return brokers != NULL && *brokers != '\0' ? brokers : NULL;
}

gboolean
evcp_test_kafka_is_real (void)
{
  return evcp_test_kafka_brokers () != NULL;
}

void
evcp_test_kafka_check_mode (void)
{
  if (g_strcmp0 (g_getenv ("EVCP_TEST_KAFKA_REAL"), "1") != 0 || evcp_test_kafka_is_real ())
    return;
  /* TAP: a plan of nothing, with the reason (meson counts it as skipped) */
  g_print ("1..0 # SKIP no real Kafka: EVCP_TEST_KAFKA_BROKERS is not set "
           "(scripts/test starts one with tests/kafka/real-broker)\n");
  exit (0);
}

const gchar *
evcp_test_topic (const gchar *base)
{
  static gchar *run = NULL;
  g_autofree gchar *path = NULL;
  g_autofree gchar *name = NULL;

  g_return_val_if_fail (base != NULL, NULL);

  if (!evcp_test_kafka_is_real ())
    return g_intern_string (base);
  if (g_once_init_enter (&run))
    g_once_init_leave (&run, g_strdup_printf ("%08x", g_random_int ()));
  /* "/kafka-service/dead-letters" -> "kafka-service-dead-letters" */
  path = g_strdup (g_test_get_path () != NULL ? g_test_get_path () : "");
  g_strcanon (path, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_", '-');
  g_strstrip (g_strdelimit (path, "-", ' '));
  g_strdelimit (path, " ", '-');
  name = g_strdup_printf ("%s-%s%s%s", base, path, *path != '\0' ? "-" : "", run);
  return g_intern_string (name);
}

GHashTable *
evcp_test_kafka_properties (void)
{
  static GHashTable *properties = NULL;

  if (g_once_init_enter (&properties))
    {
      GHashTable *table = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
      const gchar *path = g_getenv ("EVCP_TEST_KAFKA_CONFIG");

      if (evcp_test_kafka_is_real () && path != NULL && *path != '\0')
        {
          g_autoptr(GKeyFile) file = g_key_file_new ();
          g_autoptr(GError) error = NULL;
          g_auto(GStrv) keys = NULL;

          if (!g_key_file_load_from_file (file, path, G_KEY_FILE_NONE, &error))
            g_error ("EVCP_TEST_KAFKA_CONFIG: %s: %s", path, error->message);
          keys = g_key_file_get_keys (file, "librdkafka", NULL, NULL);
          for (guint i = 0; keys != NULL && keys[i] != NULL; i++)
            {
              gchar *value = g_key_file_get_string (file, "librdkafka", keys[i], &error);

              if (value == NULL)
                g_error ("EVCP_TEST_KAFKA_CONFIG: %s: %s", path, error->message);
              g_hash_table_insert (table, g_strdup (keys[i]), value);
            }
        }
      g_once_init_leave (&properties, table);
    }
  return properties;
}

/* Whether every partition of @name has a leader, per a fresh metadata request. */
static gboolean
topic_is_ready (rd_kafka_t *rk, const gchar *name, guint partitions)
{
  rd_kafka_topic_t *rkt = rd_kafka_topic_new (rk, name, NULL);
  const rd_kafka_metadata_t *md = NULL;
  gboolean ready = FALSE;

  if (rd_kafka_metadata (rk, 0, rkt, &md, METADATA_ATTEMPT_MS) == RD_KAFKA_RESP_ERR_NO_ERROR &&
      md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
      md->topics[0].partition_cnt == (int) partitions)
    {
      ready = TRUE;
      for (int i = 0; i < md->topics[0].partition_cnt; i++)
        if (md->topics[0].partitions[i].err != RD_KAFKA_RESP_ERR_NO_ERROR ||
            md->topics[0].partitions[i].leader < 0)
          ready = FALSE;
    }
  if (md != NULL)
    rd_kafka_metadata_destroy (md);
  rd_kafka_topic_destroy (rkt);
  return ready;
}

/* Options of one Admin API request, with the test's deadlines */
static rd_kafka_AdminOptions_t *
admin_options (rd_kafka_t *rk, rd_kafka_admin_op_t op)
{
  rd_kafka_AdminOptions_t *options = rd_kafka_AdminOptions_new (rk, op);
  char errstr[512];

  if (rd_kafka_AdminOptions_set_request_timeout (options, ADMIN_TIMEOUT_MS, errstr, sizeof errstr) ||
      rd_kafka_AdminOptions_set_operation_timeout (options, ADMIN_TIMEOUT_MS, errstr, sizeof errstr))
    g_error ("admin options: %s", errstr);
  return options;
}

/* The answer to the one-topic Admin API request queued on @queue: its
 * error, and in @reason the broker's words, if any */
static rd_kafka_resp_err_t
admin_wait (rd_kafka_queue_t *queue, gchar **reason)
{
  rd_kafka_event_t *event = rd_kafka_queue_poll (queue, ADMIN_TIMEOUT_MS + 5000);
  const rd_kafka_topic_result_t **results = NULL;
  rd_kafka_resp_err_t err;
  size_t count = 0;

  *reason = NULL;
  if (event == NULL)
    return RD_KAFKA_RESP_ERR__TIMED_OUT;
  if ((err = rd_kafka_event_error (event)) != RD_KAFKA_RESP_ERR_NO_ERROR)
    *reason = g_strdup (rd_kafka_event_error_string (event));
  else
    {
      switch (rd_kafka_event_type (event))
        {
        case RD_KAFKA_EVENT_CREATETOPICS_RESULT:
          results = rd_kafka_CreateTopics_result_topics (rd_kafka_event_CreateTopics_result (event), &count);
          break;
        case RD_KAFKA_EVENT_DELETETOPICS_RESULT:
          results = rd_kafka_DeleteTopics_result_topics (rd_kafka_event_DeleteTopics_result (event), &count);
          break;
        case RD_KAFKA_EVENT_CREATEPARTITIONS_RESULT:
          results = rd_kafka_CreatePartitions_result_topics (rd_kafka_event_CreatePartitions_result (event), &count);
          break;
        default:
          break;
        }
      err = count == 1 ? rd_kafka_topic_result_error (results[0]) : RD_KAFKA_RESP_ERR__FAIL;
      if (count == 1 && rd_kafka_topic_result_error_string (results[0]) != NULL)
        *reason = g_strdup (rd_kafka_topic_result_error_string (results[0]));
    }
  rd_kafka_event_destroy (event);
  return err;
}

typedef struct {
  rd_kafka_t  *rk;
  const gchar *name;
  guint        partitions;
} TopicWait;

static gboolean
topic_ready_cb (gpointer data)
{
  TopicWait *w = data;

  return topic_is_ready (w->rk, w->name, w->partitions);
}

/* until every one of @partitions has a leader in the metadata a client gets */
static gboolean
wait_topic_ready (rd_kafka_t *rk, const gchar *name, guint partitions, const gchar *bootstraps, GError **error)
{
  TopicWait w = { rk, name, partitions };

  if (evcp_test_wait_until (NULL, topic_ready_cb, &w, METADATA_TIMEOUT_MS))
    return TRUE;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "topic %s at %s has no %u partitions with leaders after %u ms",
               name, bootstraps, partitions, METADATA_TIMEOUT_MS);
  return FALSE;
}

static const gchar *
reason_or (const gchar *reason, rd_kafka_resp_err_t err)
{
  return reason != NULL && *reason != '\0' ? reason : rd_kafka_err2str (err);
}

gboolean
evcp_test_kafka_create_topic (const gchar  *bootstraps,
                              const gchar  *name,
                              guint         partitions,
                              GError      **error)
{
  rd_kafka_t *rk;
  rd_kafka_queue_t *queue;
  rd_kafka_NewTopic_t *topic;
  rd_kafka_AdminOptions_t *options;
  rd_kafka_resp_err_t err;
  g_autofree gchar *reason = NULL;
  char errstr[512];
  gboolean ok = FALSE;

  g_return_val_if_fail (bootstraps != NULL, FALSE);
  g_return_val_if_fail (name != NULL, FALSE);
  g_return_val_if_fail (partitions >= 1, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  rk = client_new (RD_KAFKA_PRODUCER, client_conf_new (bootstraps));
  queue = rd_kafka_queue_new (rk);
  /* -1: the broker's default replication factor (1 on tests/kafka/real-broker) */
  topic = rd_kafka_NewTopic_new (name, (int) partitions, -1, errstr, sizeof errstr);
  if (topic == NULL)
    g_error ("cannot describe topic %s: %s", name, errstr);
  options = admin_options (rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
  rd_kafka_CreateTopics (rk, &topic, 1, options, queue);
  err = admin_wait (queue, &reason);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
    g_set_error (error, G_IO_ERROR,
                 err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS ? G_IO_ERROR_EXISTS : G_IO_ERROR_FAILED,
                 "cannot create topic %s at %s: %s", name, bootstraps, reason_or (reason, err));
  /* created on the controller; then until the partitions have leaders */
  else if ((ok = wait_topic_ready (rk, name, partitions, bootstraps, error)))
    g_debug ("created topic %s with %u partitions at %s", name, partitions, bootstraps);
  rd_kafka_AdminOptions_destroy (options);
  rd_kafka_NewTopic_destroy (topic);
  rd_kafka_queue_destroy (queue);
  rd_kafka_destroy (rk);
  return ok;
}

gboolean
evcp_test_real_broker_can_control (void)
{
  const gchar *dir = g_getenv ("EVCP_REAL_KAFKA_DIR");
  const gchar *script = g_getenv ("EVCP_REAL_KAFKA");

  return evcp_test_kafka_is_real () && dir != NULL && *dir != '\0' &&
         script != NULL && g_file_test (script, G_FILE_TEST_IS_EXECUTABLE);
}

typedef struct
{
  gboolean done;
  gboolean ok;
  GError  *error;
} ScriptRun;

static void
script_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ScriptRun *run = user_data;

  run->ok = g_subprocess_wait_check_finish (G_SUBPROCESS (source), result, &run->error);
  run->done = TRUE;
}

static gboolean
script_is_done (gpointer data)
{
  return ((ScriptRun *) data)->done;
}

gboolean
evcp_test_real_broker_run (const gchar *command, GError **error)
{
  g_autoptr(GSubprocess) script = NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_auto(GStrv) words = NULL;
  ScriptRun run = { FALSE, FALSE, NULL };
  gint64 start = g_get_monotonic_time ();

  g_return_val_if_fail (command != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!evcp_test_real_broker_can_control ())
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                           "the real broker is not under the tests' control "
                           "(EVCP_REAL_KAFKA_DIR and EVCP_REAL_KAFKA not set)");
      return FALSE;
    }
  g_ptr_array_add (argv, g_strdup (g_getenv ("EVCP_REAL_KAFKA")));
  words = g_strsplit (command, " ", -1);
  for (guint i = 0; words[i] != NULL; i++)
    if (*words[i] != '\0')
      g_ptr_array_add (argv, g_strdup (words[i]));
  g_ptr_array_add (argv, NULL);
  /* stdout (the address) to /dev/null, stderr to the test log */
  script = evcp_test_subprocess_newv ((const gchar * const *) argv->pdata,
                                      G_SUBPROCESS_FLAGS_STDOUT_SILENCE, error);
  if (script == NULL)
    return FALSE;
  g_subprocess_wait_check_async (script, NULL, script_done_cb, &run);
  if (!evcp_test_wait_until (NULL, script_is_done, &run, BROKER_SCRIPT_TIMEOUT_MS))
    {
      g_subprocess_force_exit (script);
      evcp_test_wait_until (NULL, script_is_done, &run, KILL_TIMEOUT_MS);
      g_clear_error (&run.error);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                   "real-broker %s took more than %u ms", command, BROKER_SCRIPT_TIMEOUT_MS);
      return FALSE;
    }
  if (!run.ok)
    {
      g_propagate_prefixed_error (error, run.error, "real-broker %s: ", command);
      return FALSE;
    }
  g_debug ("real-broker %s: %" G_GINT64_FORMAT " ms", command, (g_get_monotonic_time () - start) / 1000);
  return TRUE;
}

/* ------------------------------------------------------------------------- */
/* An in-process mock cluster */

/* librdkafka 2.0.2's mock thread can miss the wake-up of an operation that
 * follows another one at once, and then serves it after its 1 s poll timeout;
 * a short pause after each operation avoids that (see evcp-kafka-mock.c). */
static void
mock_settle (void)
{
  g_usleep (1000);
}

struct _EvcpTestCluster
{
  rd_kafka_t              *rk;
  rd_kafka_mock_cluster_t *mcluster;
  gchar                   *bootstraps;
  guint                    n_brokers;
};

EvcpTestCluster *
evcp_test_cluster_new (guint n_brokers)
{
  EvcpTestCluster *cluster;

  g_return_val_if_fail (n_brokers >= 1, NULL);

  cluster = g_new0 (EvcpTestCluster, 1);
  if (evcp_test_kafka_is_real ())
    {
      /* a real Kafka: nothing to start (rk and mcluster stay NULL) */
      cluster->bootstraps = g_strdup (evcp_test_kafka_brokers ());
      cluster->n_brokers = 1;
      g_debug ("real Kafka at %s", cluster->bootstraps);
      return cluster;
    }
  cluster->rk = client_new (RD_KAFKA_PRODUCER, client_conf_new (NULL));
  cluster->mcluster = evcp_kafka_mock_cluster_new (cluster->rk, (int) n_brokers);
  if (cluster->mcluster == NULL)
    g_error ("cannot create a mock cluster");
  cluster->bootstraps = g_strdup (rd_kafka_mock_cluster_bootstraps (cluster->mcluster));
  cluster->n_brokers = n_brokers;
  g_debug ("mock cluster at %s", cluster->bootstraps);
  return cluster;
}

const gchar *
evcp_test_cluster_get_bootstraps (EvcpTestCluster *cluster)
{
  g_return_val_if_fail (cluster != NULL, NULL);
  return cluster->bootstraps;
}

rd_kafka_mock_cluster_t *
evcp_test_cluster_get_mock (EvcpTestCluster *cluster)
{
  g_return_val_if_fail (cluster != NULL, NULL);
  return cluster->mcluster;
}

gboolean
evcp_test_cluster_create_topic (EvcpTestCluster  *cluster,
                                const gchar      *name,
                                guint             partitions,
                                GError          **error)
{
  rd_kafka_resp_err_t err;

  g_return_val_if_fail (cluster != NULL, FALSE);
  g_return_val_if_fail (name != NULL, FALSE);
  g_return_val_if_fail (partitions >= 1, FALSE);

  if (cluster->mcluster == NULL)
    return evcp_test_kafka_create_topic (cluster->bootstraps, name, partitions, error);
  err = rd_kafka_mock_topic_create (cluster->mcluster, name, (int) partitions,
                                    (int) MIN (cluster->n_brokers, 3));
  mock_settle ();
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
    {
      g_set_error (error, G_IO_ERROR,
                   err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS ? G_IO_ERROR_EXISTS : G_IO_ERROR_FAILED,
                   "cannot create topic %s: %s", name, rd_kafka_err2str (err));
      return FALSE;
    }
  return TRUE;
}

gboolean
evcp_test_kafka_delete_topic (const gchar *bootstraps, const gchar *name, GError **error)
{
  rd_kafka_t *rk;
  rd_kafka_queue_t *queue;
  rd_kafka_DeleteTopic_t *topic;
  rd_kafka_AdminOptions_t *options;
  rd_kafka_resp_err_t err;
  g_autofree gchar *reason = NULL;

  g_return_val_if_fail (bootstraps != NULL && name != NULL, FALSE);

  rk = client_new (RD_KAFKA_PRODUCER, client_conf_new (bootstraps));
  queue = rd_kafka_queue_new (rk);
  topic = rd_kafka_DeleteTopic_new (name);
  options = admin_options (rk, RD_KAFKA_ADMIN_OP_DELETETOPICS);
  rd_kafka_DeleteTopics (rk, &topic, 1, options, queue);
  err = admin_wait (queue, &reason);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot delete topic %s at %s: %s", name, bootstraps,
                 reason_or (reason, err));
  rd_kafka_AdminOptions_destroy (options);
  rd_kafka_DeleteTopic_destroy (topic);
  rd_kafka_queue_destroy (queue);
  rd_kafka_destroy (rk);
  return err == RD_KAFKA_RESP_ERR_NO_ERROR;
}

gboolean
evcp_test_kafka_create_partitions (const gchar *bootstraps, const gchar *name, guint total, GError **error)
{
  rd_kafka_t *rk;
  rd_kafka_queue_t *queue;
  rd_kafka_NewPartitions_t *parts;
  rd_kafka_AdminOptions_t *options;
  rd_kafka_resp_err_t err;
  g_autofree gchar *reason = NULL;
  char errstr[512];
  gboolean ok = FALSE;

  g_return_val_if_fail (bootstraps != NULL && name != NULL && total > 0, FALSE);

  rk = client_new (RD_KAFKA_PRODUCER, client_conf_new (bootstraps));
  queue = rd_kafka_queue_new (rk);
  parts = rd_kafka_NewPartitions_new (name, total, errstr, sizeof errstr);
  if (parts == NULL)
    g_error ("cannot describe the partitions of %s: %s", name, errstr);
  options = admin_options (rk, RD_KAFKA_ADMIN_OP_CREATEPARTITIONS);
  rd_kafka_CreatePartitions (rk, &parts, 1, options, queue);
  err = admin_wait (queue, &reason);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot grow %s to %u partitions at %s: %s", name, total,
                 bootstraps, reason_or (reason, err));
  else
    ok = wait_topic_ready (rk, name, total, bootstraps, error);
  rd_kafka_AdminOptions_destroy (options);
  rd_kafka_NewPartitions_destroy (parts);
  rd_kafka_queue_destroy (queue);
  rd_kafka_destroy (rk);
  return ok;
}

/* A real broker down or up: tests/kafka/real-broker stop or start. */
static gboolean
real_broker_set (gboolean up)
{
  g_autoptr(GError) error = NULL;

  if (!evcp_test_real_broker_run (up ? "start" : "stop", &error))
    {
      g_warning ("%s", error->message);
      return FALSE;
    }
  return TRUE;
}

static gboolean
cluster_broker_is_valid (EvcpTestCluster *cluster, gint32 broker_id)
{
  return broker_id == -1 || (broker_id >= 1 && (guint) broker_id <= cluster->n_brokers);
}

gboolean
evcp_test_cluster_set_down (EvcpTestCluster *cluster, gint32 broker_id)
{
  rd_kafka_resp_err_t err;

  g_return_val_if_fail (cluster != NULL, FALSE);

  if (!cluster_broker_is_valid (cluster, broker_id))
    return FALSE;
  if (cluster->mcluster == NULL)
    return real_broker_set (FALSE);
  err = rd_kafka_mock_broker_set_down (cluster->mcluster, broker_id);
  mock_settle ();
  return err == RD_KAFKA_RESP_ERR_NO_ERROR;
}

gboolean
evcp_test_cluster_set_up (EvcpTestCluster *cluster, gint32 broker_id)
{
  rd_kafka_resp_err_t err;

  g_return_val_if_fail (cluster != NULL, FALSE);

  if (!cluster_broker_is_valid (cluster, broker_id))
    return FALSE;
  if (cluster->mcluster == NULL)
    return real_broker_set (TRUE);
  err = rd_kafka_mock_broker_set_up (cluster->mcluster, broker_id);
  mock_settle ();
  return err == RD_KAFKA_RESP_ERR_NO_ERROR;
}

gboolean
evcp_test_cluster_set_rtt (EvcpTestCluster *cluster, gint32 broker_id, guint rtt_ms)
{
  rd_kafka_resp_err_t err;

  g_return_val_if_fail (cluster != NULL, FALSE);
  g_return_val_if_fail (rtt_ms <= G_MAXINT, FALSE);

  if (!cluster_broker_is_valid (cluster, broker_id) || cluster->mcluster == NULL)
    return FALSE;
  err = rd_kafka_mock_broker_set_rtt (cluster->mcluster, broker_id, (int) rtt_ms);
  mock_settle ();
  return err == RD_KAFKA_RESP_ERR_NO_ERROR;
}

void
evcp_test_cluster_free (EvcpTestCluster *cluster)
{
  if (cluster == NULL)
    return;
  if (cluster->mcluster != NULL)
    rd_kafka_mock_cluster_destroy (cluster->mcluster);
  if (cluster->rk != NULL)
    rd_kafka_destroy (cluster->rk);
  g_free (cluster->bootstraps);
  g_free (cluster);
}

/* ------------------------------------------------------------------------- */
/* Producing */

typedef struct
{
  rd_kafka_t          *rk;
  guint                expected;
  guint                acked;
  guint                failed;
  rd_kafka_resp_err_t  first_error;
} ProduceState;

static void
dr_msg_cb (rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
  ProduceState *state = opaque;

  if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR)
    {
      state->acked++;
      return;
    }
  g_debug ("delivery failed: %s", rd_kafka_err2str (msg->err));
  if (state->failed++ == 0)
    state->first_error = msg->err;
}

static gboolean
produce_done (gpointer data)
{
  ProduceState *state = data;

  rd_kafka_poll (state->rk, 0); /* delivery reports */
  return state->acked + state->failed >= state->expected;
}

gboolean
evcp_test_produce_batch (const gchar  *bootstraps,
                         const gchar  *topic,
                         const gchar  *key,
                         GPtrArray    *values,
                         guint         timeout_ms,
                         GError      **error)
{
  ProduceState state = { NULL, 0, 0, 0, RD_KAFKA_RESP_ERR_NO_ERROR };
  rd_kafka_conf_t *conf;
  g_autofree gchar *timeout = g_strdup_printf ("%u", MAX (timeout_ms, 1));
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  g_return_val_if_fail (bootstraps != NULL, FALSE);
  g_return_val_if_fail (topic != NULL, FALSE);
  g_return_val_if_fail (values != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  conf = client_conf_new (bootstraps);
  conf_set (conf, "enable.idempotence", "true");
  conf_set (conf, "acks", "all");
  conf_set (conf, "linger.ms", "0");
  conf_set (conf, "message.timeout.ms", timeout);
  /* keyed as every evcp producer (murmur2): the fleet mode reads its key's partition */
  conf_set (conf, "partitioner", "murmur2_random");
  rd_kafka_conf_set_dr_msg_cb (conf, dr_msg_cb);
  rd_kafka_conf_set_opaque (conf, &state);
  state.rk = client_new (RD_KAFKA_PRODUCER, conf);
  state.expected = values->len;

  for (guint i = 0; i < values->len; i++)
    {
      GBytes *value = g_ptr_array_index (values, i);
      gsize len = 0;
      gconstpointer data = value != NULL ? g_bytes_get_data (value, &len) : NULL;
      gsize key_len = key != NULL ? strlen (key) : 0;
      rd_kafka_resp_err_t err;

      /* (the RD_KAFKA_V_ macros cast their arguments unparenthesised) */
      while ((err = rd_kafka_producev (state.rk,
                                       RD_KAFKA_V_TOPIC (topic),
                                       RD_KAFKA_V_KEY (key, key_len),
                                       RD_KAFKA_V_VALUE ((void *) data, len),
                                       RD_KAFKA_V_MSGFLAGS (RD_KAFKA_MSG_F_COPY),
                                       RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL &&
             g_get_monotonic_time () < deadline)
        rd_kafka_poll (state.rk, TICK_MS);
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                       "cannot produce to %s: %s", topic, rd_kafka_err2str (err));
          state.expected = i; /* wait for what was queued, then fail */
          break;
        }
    }

  /* message.timeout.ms fails the messages in time; the margin is for the
   * delivery reports themselves. */
  if (!evcp_test_wait_until (NULL, produce_done, &state, timeout_ms + 2000))
    {
      rd_kafka_purge (state.rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
      rd_kafka_poll (state.rk, 0);
      if (error != NULL && *error == NULL)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                     "%u of %u messages to %s not acknowledged in time",
                     values->len - state.acked, values->len, topic);
    }
  else if (state.failed > 0 && (error == NULL || *error == NULL))
    {
      gboolean timed_out = state.first_error == RD_KAFKA_RESP_ERR__MSG_TIMED_OUT ||
                           state.first_error == RD_KAFKA_RESP_ERR__TIMED_OUT ||
                           state.first_error == RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE;

      g_set_error (error, G_IO_ERROR, timed_out ? G_IO_ERROR_TIMED_OUT : G_IO_ERROR_FAILED,
                   "%u of %u messages to %s failed: %s", state.failed, values->len, topic,
                   rd_kafka_err2str (state.first_error));
    }
  rd_kafka_destroy (state.rk);
  return state.acked == values->len;
}

gboolean
evcp_test_produce (const gchar    *bootstraps,
                   const gchar    *topic,
                   const gchar    *key,
                   gconstpointer   value,
                   gssize          len,
                   GError        **error)
{
  g_autoptr(GPtrArray) values = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);

  g_return_val_if_fail (value != NULL || len <= 0, FALSE);

  if (value == NULL)
    g_ptr_array_add (values, NULL);
  else
    g_ptr_array_add (values, g_bytes_new (value, len < 0 ? strlen (value) : (gsize) len));
  return evcp_test_produce_batch (bootstraps, topic, key, values, EVCP_TEST_PRODUCE_TIMEOUT_MS, error);
}

/* ------------------------------------------------------------------------- */
/* Consuming */

void
evcp_test_record_free (EvcpTestRecord *record)
{
  if (record == NULL)
    return;
  g_free (record->topic);
  g_free (record->key);
  g_clear_pointer (&record->value, g_bytes_unref);
  g_clear_pointer (&record->headers, g_hash_table_unref);
  g_free (record);
}

gchar *
evcp_test_record_get_value_string (const EvcpTestRecord *record)
{
  gsize len = 0;
  gconstpointer data;

  g_return_val_if_fail (record != NULL, NULL);
  data = g_bytes_get_data (record->value, &len);
  return g_strndup (data, len);
}

JsonNode *
evcp_test_record_parse_json (const EvcpTestRecord *record, GError **error)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  gsize len = 0;
  gconstpointer data;

  g_return_val_if_fail (record != NULL, NULL);
  data = g_bytes_get_data (record->value, &len);
  if (!json_parser_load_from_data (parser, data != NULL ? data : "", (gssize) len, error))
    return NULL;
  return json_parser_steal_root (parser);
}

static EvcpTestRecord *
record_new (const rd_kafka_message_t *msg)
{
  EvcpTestRecord *record = g_new0 (EvcpTestRecord, 1);
  rd_kafka_headers_t *hdrs = NULL;

  record->topic = g_strdup (rd_kafka_topic_name (msg->rkt));
  record->key = msg->key != NULL ? g_strndup (msg->key, msg->key_len) : NULL;
  record->value = g_bytes_new (msg->payload, msg->payload != NULL ? msg->len : 0);
  record->headers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                           (GDestroyNotify) g_bytes_unref);
  record->partition = msg->partition;
  record->offset = msg->offset;
  if (rd_kafka_message_headers (msg, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR)
    {
      const char *name;
      const void *value;
      size_t size;

      for (size_t i = 0; rd_kafka_header_get_all (hdrs, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; i++)
        g_hash_table_replace (record->headers, g_strdup (name),
                              g_bytes_new (value, value != NULL ? size : 0));
    }
  return record;
}

struct _EvcpTestConsumer
{
  rd_kafka_t *rk;
  gchar      *topic;
  GQueue      pending;  /* of EvcpTestRecord*, received, not yet returned */
  guint       wanted;
};

static gchar *
unique_group_id (void)
{
  static gint counter = 0;

  return g_strdup_printf ("evcp-test-%" G_GINT64_MODIFIER "x-%d-%08x",
                          g_get_real_time (), g_atomic_int_add (&counter, 1), g_random_int ());
}

/* Assigns every partition of @topic from its beginning, once its metadata
 * shows partitions; a predicate for evcp_test_wait_until(). */
static gboolean
consumer_assign_all (gpointer data)
{
  EvcpTestConsumer *consumer = data;
  rd_kafka_topic_t *rkt = rd_kafka_topic_new (consumer->rk, consumer->topic, NULL);
  const rd_kafka_metadata_t *md = NULL;
  rd_kafka_resp_err_t err;
  gboolean assigned = FALSE;

  err = rd_kafka_metadata (consumer->rk, 0, rkt, &md, METADATA_ATTEMPT_MS);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
    g_debug ("no metadata for %s yet: %s", consumer->topic, rd_kafka_err2str (err));
  else if (md->topic_cnt != 1 || md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR ||
           md->topics[0].partition_cnt <= 0)
    g_debug ("topic %s not there yet: %s", consumer->topic,
             rd_kafka_err2str (md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC));
  else
    {
      rd_kafka_topic_partition_list_t *parts =
        rd_kafka_topic_partition_list_new (md->topics[0].partition_cnt);

      for (int i = 0; i < md->topics[0].partition_cnt; i++)
        rd_kafka_topic_partition_list_add (parts, consumer->topic,
                                           md->topics[0].partitions[i].id)->offset = RD_KAFKA_OFFSET_BEGINNING;
      err = rd_kafka_assign (consumer->rk, parts);
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
        g_error ("cannot assign %s: %s", consumer->topic, rd_kafka_err2str (err));
      g_debug ("consumer assigned the %d partitions of %s", parts->cnt, consumer->topic);
      rd_kafka_topic_partition_list_destroy (parts);
      assigned = TRUE;
    }
  if (md != NULL)
    rd_kafka_metadata_destroy (md);
  rd_kafka_topic_destroy (rkt);
  return assigned;
}

EvcpTestConsumer *
evcp_test_consumer_new (const gchar *bootstraps, const gchar *topic)
{
  EvcpTestConsumer *consumer;
  rd_kafka_conf_t *conf;
  g_autofree gchar *group = unique_group_id ();

  g_return_val_if_fail (bootstraps != NULL, NULL);
  g_return_val_if_fail (topic != NULL, NULL);

  conf = client_conf_new (bootstraps);
  /* rd_kafka_consumer_poll() needs a group, even one that is never joined. */
  conf_set (conf, "group.id", group);
  conf_set (conf, "auto.offset.reset", "earliest");
  conf_set (conf, "enable.auto.commit", "false");
  conf_set (conf, "enable.auto.offset.store", "false");
  conf_set (conf, "fetch.wait.max.ms", "50");

  consumer = g_new0 (EvcpTestConsumer, 1);
  consumer->rk = client_new (RD_KAFKA_CONSUMER, conf);
  consumer->topic = g_strdup (topic);
  g_queue_init (&consumer->pending);
  rd_kafka_poll_set_consumer (consumer->rk);

  if (!evcp_test_wait_until (NULL, consumer_assign_all, consumer, METADATA_TIMEOUT_MS))
    g_error ("no partitions of topic %s at %s within %u ms", topic, bootstraps, METADATA_TIMEOUT_MS);
  return consumer;
}

static gboolean
consumer_has_enough (gpointer data)
{
  EvcpTestConsumer *consumer = data;
  rd_kafka_message_t *msg;

  while ((msg = rd_kafka_consumer_poll (consumer->rk, 0)) != NULL)
    {
      if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR)
        g_queue_push_tail (&consumer->pending, record_new (msg));
      else if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
        g_debug ("consumer of %s: %s", consumer->topic, rd_kafka_message_errstr (msg));
      rd_kafka_message_destroy (msg);
    }
  return consumer->pending.length >= consumer->wanted;
}

GPtrArray *
evcp_test_consumer_wait_for (EvcpTestConsumer *consumer, guint count, guint timeout_ms)
{
  GPtrArray *records = g_ptr_array_new_with_free_func ((GDestroyNotify) evcp_test_record_free);

  g_return_val_if_fail (consumer != NULL, records);

  consumer->wanted = count;
  evcp_test_wait_until (NULL, consumer_has_enough, consumer, timeout_ms);
  while (records->len < count && !g_queue_is_empty (&consumer->pending))
    g_ptr_array_add (records, g_queue_pop_head (&consumer->pending));
  return records;
}

void
evcp_test_consumer_free (EvcpTestConsumer *consumer)
{
  if (consumer == NULL)
    return;
  rd_kafka_consumer_close (consumer->rk);
  rd_kafka_destroy (consumer->rk);
  g_queue_clear_full (&consumer->pending, (GDestroyNotify) evcp_test_record_free);
  g_free (consumer->topic);
  g_free (consumer);
}

/* ------------------------------------------------------------------------- */
/* The evcp-kafka-mock program */

struct _EvcpTestMockProcess
{
  GMainContext     *context;
  GSubprocess      *subprocess;
  GOutputStream    *to_child;
  GDataInputStream *from_child;
  GCancellable     *cancellable;
  GQueue            lines;       /* of gchar*, read from its stdout, not yet consumed */
  gboolean          eof;
  gboolean          reading;     /* a read is in flight */
  gboolean          waiting;     /* g_subprocess_wait_async() is in flight */
  gboolean          exited;
  gboolean          no_stdin;    /* started with --no-stdin */
  gboolean          real;        /* stands for a real Kafka: no program */
  gchar            *bootstrap;
};

const gchar *
evcp_test_mock_process_path (void)
{
  const gchar *path = g_getenv ("EVCP_KAFKA_MOCK");

  return path != NULL && *path != '\0' ? path : "evcp-kafka-mock";
}

static void mock_process_read_next (EvcpTestMockProcess *proc);

static void
mock_process_line_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  EvcpTestMockProcess *proc = user_data;
  g_autoptr(GError) error = NULL;
  gchar *line;

  proc->reading = FALSE;
  line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source), result, NULL, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (line == NULL)
    {
      if (error != NULL)
        g_debug ("evcp-kafka-mock stdout: %s", error->message);
      proc->eof = TRUE;
      return;
    }
  g_debug ("evcp-kafka-mock says: %s", line);
  g_queue_push_tail (&proc->lines, line);
  mock_process_read_next (proc);
}

static void
mock_process_read_next (EvcpTestMockProcess *proc)
{
  proc->reading = TRUE;
  g_data_input_stream_read_line_async (proc->from_child, G_PRIORITY_DEFAULT, proc->cancellable,
                                       mock_process_line_cb, proc);
}

static void
mock_process_wait_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  EvcpTestMockProcess *proc = user_data;
  g_autoptr(GError) error = NULL;

  proc->waiting = FALSE;
  if (g_subprocess_wait_finish (G_SUBPROCESS (source), result, &error))
    proc->exited = TRUE;
  else if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_warning ("waiting for evcp-kafka-mock: %s", error->message);
}

static gboolean
mock_process_has_line (gpointer data)
{
  EvcpTestMockProcess *proc = data;

  /* Not proc->exited: its last lines may still be in the pipe. */
  return !g_queue_is_empty (&proc->lines) || proc->eof;
}

static gboolean
mock_process_has_exited (gpointer data)
{
  return ((EvcpTestMockProcess *) data)->exited;
}

static gboolean
mock_process_is_idle (gpointer data)
{
  EvcpTestMockProcess *proc = data;

  return !proc->reading && !proc->waiting;
}

/* Takes the next line of output, or sets @error. */
static gchar *
mock_process_next_line (EvcpTestMockProcess *proc, guint timeout_ms, GError **error)
{
  if (!evcp_test_wait_until (proc->context, mock_process_has_line, proc, timeout_ms))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                   "evcp-kafka-mock did not answer within %u ms", timeout_ms);
      return NULL;
    }
  if (g_queue_is_empty (&proc->lines))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CLOSED,
                           "evcp-kafka-mock has closed its output");
      return NULL;
    }
  return g_queue_pop_head (&proc->lines);
}

EvcpTestMockProcess *
evcp_test_mock_process_start (const gchar * const *args, GError **error)
{
  g_autoptr(EvcpTestMockProcess) proc = g_new0 (EvcpTestMockProcess, 1);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autofree gchar *line = NULL;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  proc->context = g_main_context_ref_thread_default ();
  proc->cancellable = g_cancellable_new ();
  g_queue_init (&proc->lines);
  if (evcp_test_kafka_is_real ())
    {
      for (guint i = 0; args != NULL && args[i] != NULL; i++)
        if (g_str_has_prefix (args[i], "--listen") || g_str_equal (args[i], "-l"))
          {
            g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                                 "--listen: a real Kafka listens where it was started");
            return NULL;
          }
      proc->real = TRUE;
      proc->exited = TRUE;
      proc->no_stdin = TRUE;
      proc->bootstrap = g_strdup (evcp_test_kafka_brokers ());
      return g_steal_pointer (&proc);
    }
#ifdef G_OS_UNIX
  /* Writing a command to a child that has gone must fail, not kill the test. */
  signal (SIGPIPE, SIG_IGN);
#endif
  g_ptr_array_add (argv, (gpointer) evcp_test_mock_process_path ());
  for (guint i = 0; args != NULL && args[i] != NULL; i++)
    {
      if (g_str_equal (args[i], "--no-stdin"))
        proc->no_stdin = TRUE;
      g_ptr_array_add (argv, (gpointer) args[i]);
    }
  g_ptr_array_add (argv, NULL);

  proc->subprocess = evcp_test_subprocess_newv ((const gchar * const *) argv->pdata,
                                                G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE,
                                                error);
  if (proc->subprocess == NULL)
    {
      proc->exited = TRUE;
      return NULL;
    }
  proc->to_child = g_object_ref (g_subprocess_get_stdin_pipe (proc->subprocess));
  proc->from_child = g_data_input_stream_new (g_subprocess_get_stdout_pipe (proc->subprocess));
  g_data_input_stream_set_newline_type (proc->from_child, G_DATA_STREAM_NEWLINE_TYPE_LF);
  proc->waiting = TRUE;
  g_subprocess_wait_async (proc->subprocess, proc->cancellable, mock_process_wait_cb, proc);
  mock_process_read_next (proc);

  line = mock_process_next_line (proc, EVCP_TEST_START_TIMEOUT_MS, error);
  if (line == NULL)
    return NULL;
  if (!g_str_has_prefix (line, "BOOTSTRAP ") || line[strlen ("BOOTSTRAP ")] == '\0')
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "evcp-kafka-mock printed “%s” instead of its BOOTSTRAP line", line);
      return NULL;
    }
  proc->bootstrap = g_strdup (line + strlen ("BOOTSTRAP "));
  g_debug ("evcp-kafka-mock %s started at %s",
           g_subprocess_get_identifier (proc->subprocess), proc->bootstrap);
  return g_steal_pointer (&proc);
}

const gchar *
evcp_test_mock_process_get_bootstrap (EvcpTestMockProcess *proc)
{
  g_return_val_if_fail (proc != NULL, NULL);
  return proc->bootstrap;
}

GSubprocess *
evcp_test_mock_process_get_subprocess (EvcpTestMockProcess *proc)
{
  g_return_val_if_fail (proc != NULL, NULL);
  return proc->subprocess;
}

gchar *
evcp_test_mock_process_command (EvcpTestMockProcess  *proc,
                                const gchar          *command,
                                GError              **error)
{
  g_autofree gchar *line = NULL;
  g_autofree gchar *answer = NULL;

  g_return_val_if_fail (proc != NULL, NULL);
  g_return_val_if_fail (command != NULL && *command != '\0' && strchr (command, '\n') == NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (proc->no_stdin)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                           proc->real ? "a real Kafka takes no commands"
                                      : "evcp-kafka-mock was started with --no-stdin");
      return NULL;
    }
  /* Answers left over from earlier, e.g. by a failed wait, are stale. */
  g_queue_clear_full (&proc->lines, g_free);
  line = g_strconcat (command, "\n", NULL);
  if (proc->exited || g_output_stream_is_closed (proc->to_child))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CLOSED, "evcp-kafka-mock has gone");
      return NULL;
    }
  if (!g_output_stream_write_all (proc->to_child, line, strlen (line), NULL, NULL, error) ||
      !g_output_stream_flush (proc->to_child, NULL, error))
    return NULL;

  answer = mock_process_next_line (proc, COMMAND_TIMEOUT_MS, error);
  if (answer == NULL)
    return NULL;
  if (g_str_equal (answer, "OK"))
    return g_strdup ("");
  if (g_str_has_prefix (answer, "OK "))
    return g_strdup (answer + 3);
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: %s", command,
               g_str_has_prefix (answer, "ERR ") ? answer + 4 : answer);
  return NULL;
}

gboolean
evcp_test_mock_process_create_topic (EvcpTestMockProcess  *proc,
                                     const gchar          *name,
                                     guint                 partitions,
                                     GError              **error)
{
  g_autofree gchar *command = NULL;
  g_autofree gchar *answer = NULL;
  g_autoptr(GError) local_error = NULL;

  g_return_val_if_fail (proc != NULL, FALSE);
  g_return_val_if_fail (name != NULL && *name != '\0' && strchr (name, ' ') == NULL, FALSE);
  g_return_val_if_fail (partitions >= 1, FALSE);

  if (proc->real)
    return evcp_test_kafka_create_topic (proc->bootstrap, name, partitions, error);
  command = g_strdup_printf ("create %s %u", name, partitions);
  answer = evcp_test_mock_process_command (proc, command, &local_error);
  if (answer == NULL)
    {
      gboolean exists = local_error->domain == G_IO_ERROR && local_error->code == G_IO_ERROR_FAILED &&
                        strstr (local_error->message, "already exists") != NULL;

      g_set_error_literal (error, G_IO_ERROR, exists ? G_IO_ERROR_EXISTS : local_error->code,
                           local_error->message);
      return FALSE;
    }
  return TRUE;
}

void
evcp_test_mock_process_close_stdin (EvcpTestMockProcess *proc)
{
  g_return_if_fail (proc != NULL);
  if (proc->to_child != NULL)
    g_output_stream_close (proc->to_child, NULL, NULL);
}

gboolean
evcp_test_mock_process_wait (EvcpTestMockProcess  *proc,
                             guint                 timeout_ms,
                             GError              **error)
{
  g_return_val_if_fail (proc != NULL, FALSE);

  if (!evcp_test_wait_until (proc->context, mock_process_has_exited, proc, timeout_ms))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                   "evcp-kafka-mock still running after %u ms", timeout_ms);
      return FALSE;
    }
  return TRUE;
}

gboolean
evcp_test_mock_process_stop (EvcpTestMockProcess *proc, GError **error)
{
  g_return_val_if_fail (proc != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (proc->real)
    return TRUE;
  if (!proc->exited && proc->no_stdin)
    {
#ifdef G_OS_UNIX
      g_subprocess_send_signal (proc->subprocess, SIGTERM);
#else
      g_subprocess_force_exit (proc->subprocess);
#endif
    }
  else if (!proc->exited && !g_output_stream_is_closed (proc->to_child))
    {
      /* The child may be gone already: then these fail, and that is fine. */
      g_output_stream_write_all (proc->to_child, "quit\n", 5, NULL, NULL, NULL);
      g_output_stream_close (proc->to_child, NULL, NULL);
    }
  if (!evcp_test_mock_process_wait (proc, EVCP_TEST_STOP_TIMEOUT_MS, error))
    {
      g_subprocess_force_exit (proc->subprocess);
      if (!evcp_test_wait_until (proc->context, mock_process_has_exited, proc, KILL_TIMEOUT_MS))
        g_warning ("evcp-kafka-mock %s survives SIGKILL",
                   g_subprocess_get_identifier (proc->subprocess));
      return FALSE;
    }
  if (!g_subprocess_get_successful (proc->subprocess))
    {
      if (g_subprocess_get_if_exited (proc->subprocess))
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                     "evcp-kafka-mock exited with status %d",
                     g_subprocess_get_exit_status (proc->subprocess));
      else
        g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                             "evcp-kafka-mock was killed by a signal");
      return FALSE;
    }
  return TRUE;
}

void
evcp_test_mock_process_free (EvcpTestMockProcess *proc)
{
  if (proc == NULL)
    return;
  if (proc->subprocess != NULL && !proc->exited)
    {
      g_autoptr(GError) error = NULL;

      if (!evcp_test_mock_process_stop (proc, &error))
        g_debug ("stopping evcp-kafka-mock: %s", error->message);
    }
  /* Let the callbacks of what is still in flight run before freeing. */
  g_cancellable_cancel (proc->cancellable);
  if (!evcp_test_wait_until (proc->context, mock_process_is_idle, proc, DRAIN_TIMEOUT_MS))
    g_error ("evcp-kafka-mock I/O still pending after cancellation");
  g_queue_clear_full (&proc->lines, g_free);
  g_clear_object (&proc->from_child);
  g_clear_object (&proc->to_child);
  g_clear_object (&proc->subprocess);
  g_clear_object (&proc->cancellable);
  g_clear_pointer (&proc->context, g_main_context_unref);
  g_free (proc->bootstrap);
  g_free (proc);
}

/* ------------------------------------------------------------------------- */
/* Engines under test */

void
evcp_test_remove_tree (const gchar *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const gchar *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree gchar *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        evcp_test_remove_tree (child);
      else
        g_unlink (child);
    }
  g_rmdir (path);
}

static void
remove_tree_cb (gpointer path)
{
  evcp_test_remove_tree (path);
  g_free (path);
}

void
evcp_test_isolate_config (EvcpConfig *config)
{
  g_autoptr(GError) error = NULL;
  gchar *dir = g_dir_make_tmp ("evcp-test-state-XXXXXX", &error);

  g_assert_no_error (error);
  g_test_queue_destroy (remove_tree_cb, g_strdup (dir));
  g_free (config->state_dir);
  config->state_dir = dir;
  config->engine_port = evcp_test_free_port ();
  config->central_port = evcp_test_free_port ();
  g_free (config->central_host);
  config->central_host = g_strdup ("127.0.0.1");
}

void
evcp_test_isolate_launcher (GSubprocessLauncher *launcher, const gchar *state_dir)
{
  g_autofree gchar *engine_port = g_strdup_printf ("%u", evcp_test_free_port ());
  g_autofree gchar *central_port = g_strdup_printf ("%u", evcp_test_free_port ());

  g_subprocess_launcher_setenv (launcher, "STATE_DIRECTORY", state_dir, TRUE);
  g_subprocess_launcher_setenv (launcher, "ENGINE_PORT", engine_port, FALSE);
  g_subprocess_launcher_setenv (launcher, "CENTRAL_HOST", "127.0.0.1", FALSE);
  g_subprocess_launcher_setenv (launcher, "CENTRAL_PORT", central_port, FALSE);
}
