/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Helpers for tests that need Kafka: waiting on a main context, an in-process
 * mock cluster, a synchronous producer, a consumer, and the evcp-kafka-mock
 * program as a child process.
 *
 * Everything here is test code: invalid use and impossible librdkafka
 * configuration abort the test; failures a test may want to assert on are
 * reported with a GError (G_IO_ERROR domain).
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

G_BEGIN_DECLS

/* Generous deadlines for operations that normally take milliseconds. */
#define EVCP_TEST_PRODUCE_TIMEOUT_MS 10000
#define EVCP_TEST_START_TIMEOUT_MS   10000
#define EVCP_TEST_STOP_TIMEOUT_MS    10000

/* ------------------------------------------------------------------------- */
/* Waiting */

/**
 * EvcpTestPredicate:
 * @data: the user data given to evcp_test_wait_until()
 *
 * Returns: %TRUE when the awaited condition holds.
 */
typedef gboolean (*EvcpTestPredicate) (gpointer data);

/**
 * evcp_test_wait_until:
 * @ctx: (nullable): the context to iterate; %NULL for the thread-default one
 *   (the global default context if none was pushed)
 * @pred: the condition
 * @data: passed to @pred
 * @timeout_ms: deadline from now
 *
 * Iterates @ctx, blocking in g_main_context_iteration() and woken by the
 * context's own events or at least every 10 ms, calling @pred before each
 * iteration, until @pred returns %TRUE or the deadline passes. This is how
 * tests wait: never a bare sleep. @pred is called at least once.
 *
 * Returns: the last value @pred returned.
 */
gboolean evcp_test_wait_until (GMainContext       *ctx,
                               EvcpTestPredicate   pred,
                               gpointer            data,
                               guint               timeout_ms);

/**
 * evcp_test_free_port:
 *
 * Returns: a TCP port on 127.0.0.1 that was free a moment ago (the kernel
 *   picks it; another process may still take it before the caller binds).
 */
guint16  evcp_test_free_port (void);

/* ------------------------------------------------------------------------- */
/* Child processes
 *
 * Every program a test spawns goes through these, so that it dies with the
 * test: on Linux the child asks for SIGKILL when its parent dies
 * (prctl(PR_SET_PDEATHSIG)), and exits at once if the test died before it
 * could ask. A test that aborts on a failed assertion, or that meson kills
 * on its timeout, leaves no Engine, Central, mock or dbus-daemon behind.
 * Elsewhere they are plain g_subprocess_launcher_new() and
 * g_subprocess_newv().
 *
 * The signal comes when the *thread* that spawned the child exits: spawn
 * from the test's main thread only (GTest runs tests there; the launcher
 * asserts it). A change of user in the child clears it (hence setpriv
 * --pdeathsig=keep in tests/dbus). Processes the child starts in turn are
 * not covered: services that a private dbus-daemon activates (it forks them
 * off, they are not even its children) leave when their bus goes away.
 */

/**
 * evcp_test_launcher_new:
 * @flags: as for g_subprocess_launcher_new()
 *
 * A launcher whose children die with the test. It has a child setup
 * function of its own: do not replace it with
 * g_subprocess_launcher_set_child_setup().
 *
 * Returns: (transfer full): the launcher.
 */
GSubprocessLauncher *evcp_test_launcher_new   (GSubprocessFlags      flags);

/**
 * evcp_test_subprocess_newv:
 *
 * g_subprocess_newv() whose child dies with the test
 * (evcp_test_launcher_new()).
 *
 * Returns: (transfer full) (nullable): the child, or %NULL with @error set.
 */
GSubprocess         *evcp_test_subprocess_newv (const gchar * const  *argv,
                                                GSubprocessFlags      flags,
                                                GError              **error);

/**
 * evcp_test_launcher_spawnv:
 * @launcher: a launcher (evcp_test_launcher_new())
 * @argv: the program and its arguments
 * @error: return location for a #GError
 *
 * g_subprocess_launcher_spawnv(), except that evcp's own programs (a
 * basename starting with "evcp-") run under the command line in the
 * environment variable `EVCP_TEST_CHILD_WRAPPER` when it is set (the
 * valgrind campaign: `scripts/campaign sanitize`). Every test spawns evcp's
 * programs through this or evcp_test_subprocess_newv().
 *
 * Returns: (transfer full) (nullable): the child, or %NULL with @error set.
 */
GSubprocess *evcp_test_launcher_spawnv (GSubprocessLauncher *launcher, const gchar * const *argv, GError **error);

/**
 * evcp_test_launcher_spawn:
 * @launcher: a launcher
 * @error: return location for a #GError
 * @argv0: the program
 * @...: its arguments, %NULL-terminated
 *
 * evcp_test_launcher_spawnv() with the arguments as a list.
 *
 * Returns: (transfer full) (nullable): the child, or %NULL with @error set.
 */
GSubprocess *evcp_test_launcher_spawn (GSubprocessLauncher *launcher, GError **error, const gchar *argv0,
                                       ...) G_GNUC_NULL_TERMINATED;

/**
 * evcp_test_scaled_ms:
 * @ms: a deadline
 *
 * Returns: @ms times the integer in `EVCP_TEST_DEADLINE_SCALE` (1 when unset):
 *   slow runs (the programs under valgrind) stretch every deadline that
 *   evcp_test_wait_until() applies.
 */
guint evcp_test_scaled_ms (guint ms);

/* ------------------------------------------------------------------------- */
/* A real Kafka instead of the mock
 *
 * In a test program run with EVCP_TEST_KAFKA_REAL=1 (suite real-kafka in
 * tests/meson.build) and EVCP_TEST_KAFKA_BROKERS set, the cluster and
 * mock-process helpers below stand for that cluster instead of starting a
 * mock (every other test program stays on the mock, whatever the
 * environment exports): they return
 * its address, create topics with the Admin API, and stop/start the broker
 * with tests/kafka/real-broker where the mock would inject a fault (only if
 * EVCP_REAL_KAFKA_DIR names the broker's directory, i.e. that script started
 * it). The [librdkafka] section of the key file named by
 * EVCP_TEST_KAFKA_CONFIG (security settings) goes to every client. */

/**
 * evcp_test_kafka_brokers:
 *
 * Returns: (nullable): $EVCP_TEST_KAFKA_BROKERS if EVCP_TEST_KAFKA_REAL=1,
 *   or %NULL (the mock) if either is unset or empty.
 */
const gchar *evcp_test_kafka_brokers          (void);

/**
 * evcp_test_kafka_is_real:
 *
 * Returns: whether the tests run against a real Kafka.
 */
gboolean     evcp_test_kafka_is_real          (void);

/**
 * evcp_test_kafka_check_mode:
 *
 * For main(), after g_test_init(): in a run meant for a real Kafka
 * (EVCP_TEST_KAFKA_REAL=1, the real-kafka suite) without
 * EVCP_TEST_KAFKA_BROKERS, prints a TAP plan that skips everything, saying
 * why, and exits.
 */
void         evcp_test_kafka_check_mode       (void);

/**
 * evcp_test_topic:
 * @base: a topic name ("user_messages")
 *
 * With the mock, @base itself (each test has a cluster of its own). With a
 * real Kafka, whose topics outlive a test, @base plus a suffix unique to the
 * current test (g_test_get_path()) and process.
 *
 * Returns: (transfer none): an interned topic name.
 */
const gchar *evcp_test_topic                  (const gchar *base);

/**
 * evcp_test_kafka_properties:
 *
 * Returns: (transfer none) (element-type utf8 utf8): the librdkafka
 *   properties for a real Kafka (the [librdkafka] section of
 *   $EVCP_TEST_KAFKA_CONFIG), empty with the mock or without that file.
 */
GHashTable  *evcp_test_kafka_properties       (void);

/**
 * evcp_test_kafka_create_topic:
 * @bootstraps: bootstrap.servers
 * @name: topic name
 * @partitions: at least 1
 * @error: G_IO_ERROR_EXISTS if the topic exists, G_IO_ERROR_FAILED otherwise
 *
 * Creates a topic with the Admin API (the broker's default replication
 * factor) and waits until its partitions have leaders. Not for the mock,
 * which has no Admin API.
 *
 * Returns: whether the topic was created.
 */
gboolean     evcp_test_kafka_create_topic     (const gchar  *bootstraps,
                                               const gchar  *name,
                                               guint         partitions,
                                               GError      **error);

/**
 * evcp_test_kafka_delete_topic:
 *
 * Deletes a topic with the Admin API (a real Kafka only: the mock cluster
 * has no DeleteTopics).
 *
 * Returns: whether the broker deleted it.
 */
gboolean     evcp_test_kafka_delete_topic     (const gchar  *bootstraps,
                                               const gchar  *name,
                                               GError      **error);

/**
 * evcp_test_kafka_create_partitions:
 * @total: the topic's partition count after
 *
 * Adds partitions with the Admin API (a real Kafka only).
 *
 * Returns: whether the broker did.
 */
gboolean     evcp_test_kafka_create_partitions (const gchar  *bootstraps,
                                                const gchar  *name,
                                                guint         total,
                                                GError      **error);

/**
 * evcp_test_real_broker_can_control:
 *
 * Returns: whether the real broker can be stopped and started by the tests
 *   (it was started by tests/kafka/real-broker, whose directory is in
 *   $EVCP_REAL_KAFKA_DIR); a test that needs it skips, saying so, otherwise.
 */
gboolean     evcp_test_real_broker_can_control (void);

/**
 * evcp_test_real_broker_run:
 * @command: "stop", "start", "restart" or "restart --kill" (SIGKILL: a
 *   crash, then log recovery)
 * @error: why the script failed
 *
 * Runs tests/kafka/real-broker @command ($EVCP_REAL_KAFKA), iterating the
 * thread-default main context meanwhile so that code under test keeps
 * running. "start" and "restart" return once the broker answers, on the
 * same address and data.
 *
 * Returns: whether the script succeeded.
 */
gboolean     evcp_test_real_broker_run        (const gchar  *command,
                                               GError      **error);

/* ------------------------------------------------------------------------- */
/* An in-process mock cluster */

typedef struct _EvcpTestCluster EvcpTestCluster;

/**
 * evcp_test_cluster_new:
 * @n_brokers: at least 1; broker ids are 1..@n_brokers
 *
 * Starts librdkafka's mock cluster in this process, on loopback. It serves
 * clients from its own thread, so it needs no main loop. Unknown topics are
 * created on first use with 4 partitions.
 *
 * With a real Kafka (evcp_test_kafka_is_real()), stands for that cluster:
 * nothing is started, @n_brokers is ignored and evcp_test_cluster_get_mock()
 * returns %NULL.
 *
 * Returns: (transfer full): the cluster; aborts if it cannot be created.
 */
EvcpTestCluster *evcp_test_cluster_new            (guint             n_brokers);

/**
 * evcp_test_cluster_get_bootstraps:
 *
 * Returns: the bootstrap.servers list of the cluster ("127.0.0.1:port,…").
 */
const gchar     *evcp_test_cluster_get_bootstraps (EvcpTestCluster  *cluster);

/**
 * evcp_test_cluster_get_mock:
 *
 * Returns: (transfer none): the rd_kafka_mock_cluster_t, for the fault
 *   injection this API does not wrap (rd_kafka_mock_push_request_errors()…).
 */
rd_kafka_mock_cluster_t *
                 evcp_test_cluster_get_mock       (EvcpTestCluster  *cluster);

/**
 * evcp_test_cluster_create_topic:
 * @name: topic name
 * @partitions: at least 1
 * @error: G_IO_ERROR_EXISTS if the topic exists, G_IO_ERROR_FAILED otherwise
 *
 * With a real Kafka, evcp_test_kafka_create_topic().
 *
 * Returns: whether the topic was created.
 */
gboolean         evcp_test_cluster_create_topic   (EvcpTestCluster  *cluster,
                                                   const gchar      *name,
                                                   guint             partitions,
                                                   GError          **error);

/**
 * evcp_test_cluster_set_down:
 * @broker_id: 1..n_brokers, or -1 for every broker
 *
 * Closes the broker's connections and stops serving it (new connections
 * hang unanswered until it is up again). Partition leadership does not move.
 * With a real Kafka: stops the broker (evcp_test_real_broker_run()).
 *
 * Returns: %FALSE if there is no such broker, or a real one cannot be
 *   controlled or failed to stop.
 */
gboolean         evcp_test_cluster_set_down       (EvcpTestCluster  *cluster,
                                                   gint32            broker_id);

/**
 * evcp_test_cluster_set_up:
 * @broker_id: 1..n_brokers, or -1 for every broker
 *
 * Serves the broker again after evcp_test_cluster_set_down(). With a real
 * Kafka: starts the broker again, on the same address and data.
 *
 * Returns: %FALSE if there is no such broker, or a real one cannot be
 *   controlled or failed to start.
 */
gboolean         evcp_test_cluster_set_up         (EvcpTestCluster  *cluster,
                                                   gint32            broker_id);

/**
 * evcp_test_cluster_set_rtt:
 * @broker_id: 1..n_brokers, or -1 for every broker
 * @rtt_ms: delay added to every response
 *
 * Returns: %FALSE if there is no such broker (always with a real Kafka).
 */
gboolean         evcp_test_cluster_set_rtt        (EvcpTestCluster  *cluster,
                                                   gint32            broker_id,
                                                   guint             rtt_ms);

/**
 * evcp_test_cluster_free:
 *
 * Destroys the cluster; clients still connected see their brokers vanish.
 */
void             evcp_test_cluster_free           (EvcpTestCluster  *cluster);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EvcpTestCluster, evcp_test_cluster_free)

/* ------------------------------------------------------------------------- */
/* Producing */

/**
 * evcp_test_produce:
 * @bootstraps: bootstrap.servers
 * @topic: topic name
 * @key: (nullable): message key (a string)
 * @value: (nullable): the value; %NULL for a null value (tombstone)
 * @len: length of @value, or -1 if it is a NUL-terminated string
 * @error: G_IO_ERROR_TIMED_OUT if it was not acknowledged within
 *   %EVCP_TEST_PRODUCE_TIMEOUT_MS, G_IO_ERROR_FAILED for other failures
 *
 * Produces one message with a fresh idempotent producer (acks=all) and waits
 * for the broker's acknowledgement.
 *
 * Returns: whether the broker acknowledged the message.
 */
gboolean evcp_test_produce       (const gchar   *bootstraps,
                                  const gchar   *topic,
                                  const gchar   *key,
                                  gconstpointer  value,
                                  gssize         len,
                                  GError       **error);

/**
 * evcp_test_produce_batch:
 * @bootstraps: bootstrap.servers
 * @topic: topic name
 * @key: (nullable): key of every message
 * @values: (element-type GBytes): the values, produced in this order
 * @timeout_ms: deadline for every acknowledgement (also the messages'
 *   message.timeout.ms)
 * @error: as for evcp_test_produce(); on failure nothing can be assumed about
 *   which messages were stored
 *
 * Like evcp_test_produce() for several messages at once, with a deadline of
 * the caller's choosing (a short one to show that a cluster is down).
 *
 * Returns: whether every message was acknowledged in time.
 */
gboolean evcp_test_produce_batch (const gchar   *bootstraps,
                                  const gchar   *topic,
                                  const gchar   *key,
                                  GPtrArray     *values,
                                  guint          timeout_ms,
                                  GError       **error);

/* ------------------------------------------------------------------------- */
/* Consuming */

/**
 * EvcpTestRecord:
 * @topic: the topic
 * @key: (nullable): the key as a NUL-terminated copy, %NULL if none
 * @value: the value (empty if it was null)
 * @headers: (element-type utf8 GBytes): header name → value (the last one
 *   wins if a name repeats; a null header value is an empty GBytes)
 * @partition: partition
 * @offset: offset
 *
 * One consumed message.
 */
typedef struct
{
  gchar      *topic;
  gchar      *key;
  GBytes     *value;
  GHashTable *headers;
  gint32      partition;
  gint64      offset;
} EvcpTestRecord;

void        evcp_test_record_free        (EvcpTestRecord *record);

/**
 * evcp_test_record_get_value_string:
 *
 * Returns: (transfer full): the value as a NUL-terminated string.
 */
gchar      *evcp_test_record_get_value_string (const EvcpTestRecord *record);

/**
 * evcp_test_record_parse_json:
 * @error: the JSON parser's error
 *
 * Returns: (transfer full) (nullable): the value parsed as JSON.
 */
JsonNode   *evcp_test_record_parse_json  (const EvcpTestRecord  *record,
                                          GError               **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EvcpTestRecord, evcp_test_record_free)

typedef struct _EvcpTestConsumer EvcpTestConsumer;

/**
 * evcp_test_consumer_new:
 * @bootstraps: bootstrap.servers
 * @topic: the topic to read, from its beginning
 *
 * A consumer that reads every message of @topic, old and new. It has a
 * fresh, unique group id (which rd_kafka_consumer_poll() needs) and
 * auto.offset.reset=earliest, but it never joins the group: it assigns all
 * the topic's partitions from their beginning, which avoids the mock
 * cluster's group join (about 3 s, see librdkafka-notes.md) and makes the
 * records available within milliseconds. It commits no offsets.
 *
 * The topic must have partitions within 10 s (the mock creates an unknown
 * topic, with 4 partitions, when a client asks for its metadata); the
 * metadata is asked for again while iterating the thread-default main
 * context, so code under test may create it meanwhile. Partitions added
 * later are not read.
 *
 * Returns: (transfer full): the consumer; aborts if it cannot be created
 *   or the topic has no partitions in time.
 */
EvcpTestConsumer *evcp_test_consumer_new      (const gchar      *bootstraps,
                                               const gchar      *topic);

/**
 * evcp_test_consumer_wait_for:
 * @count: how many records to wait for
 * @timeout_ms: deadline from now
 *
 * Waits for records not yet returned by a previous call, polling the consumer
 * while it iterates the thread-default main context with
 * evcp_test_wait_until() (so that code under test running on that context
 * keeps working meanwhile). Consumer errors are logged, not fatal.
 *
 * Returns: (transfer full) (element-type EvcpTestRecord): at most @count
 *   records, in arrival order (order is kept within a partition); fewer if the
 *   deadline passed. Never %NULL. Records beyond @count are kept for the next
 *   call.
 */
GPtrArray        *evcp_test_consumer_wait_for (EvcpTestConsumer *consumer,
                                               guint             count,
                                               guint             timeout_ms);

/**
 * evcp_test_consumer_free:
 *
 * Closes and frees the consumer, with the records it has not returned.
 */
void              evcp_test_consumer_free     (EvcpTestConsumer *consumer);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EvcpTestConsumer, evcp_test_consumer_free)

/* ------------------------------------------------------------------------- */
/* The evcp-kafka-mock program */

typedef struct _EvcpTestMockProcess EvcpTestMockProcess;

/**
 * evcp_test_mock_process_path:
 *
 * Returns: the evcp-kafka-mock executable: $EVCP_KAFKA_MOCK if set (the
 *   build sets it for tests), else "evcp-kafka-mock" from $PATH.
 */
const gchar         *evcp_test_mock_process_path      (void);

/**
 * evcp_test_mock_process_start:
 * @args: (nullable) (array zero-terminated=1): options for evcp-kafka-mock
 *   (e.g. "--brokers", "3", "--listen", "127.0.0.1:0"); with "--no-stdin"
 *   it takes no commands and evcp_test_mock_process_stop() sends SIGTERM
 * @error: G_IO_ERROR_TIMED_OUT if no BOOTSTRAP line came within
 *   %EVCP_TEST_START_TIMEOUT_MS, G_IO_ERROR_FAILED if the program exited or
 *   printed something else, or a spawn error
 *
 * Spawns evcp-kafka-mock with pipes on its stdin and stdout (stderr is
 * inherited, so its messages appear in the test log) and waits for its
 * BOOTSTRAP line, iterating the thread-default main context. If the test
 * dies, the program dies with it (evcp_test_launcher_new()); elsewhere than
 * on Linux it sees the end of its stdin and exits by itself (not with
 * --no-stdin).
 *
 * With a real Kafka (evcp_test_kafka_is_real()) nothing is spawned: the
 * result stands for that cluster (its address; no subprocess; commands fail
 * with G_IO_ERROR_NOT_SUPPORTED; stopping does nothing), and @args are
 * ignored, except --listen, which fails with G_IO_ERROR_NOT_SUPPORTED.
 *
 * Returns: (transfer full): the running process, or %NULL.
 */
EvcpTestMockProcess *evcp_test_mock_process_start     (const gchar * const  *args,
                                                       GError              **error);

/**
 * evcp_test_mock_process_get_bootstrap:
 *
 * Returns: the address from the BOOTSTRAP line.
 */
const gchar         *evcp_test_mock_process_get_bootstrap (EvcpTestMockProcess *proc);

/**
 * evcp_test_mock_process_create_topic:
 * @name: topic name
 * @partitions: at least 1
 * @error: as for evcp_test_cluster_create_topic()
 *
 * Creates a topic: the "create" command, or with a real Kafka
 * evcp_test_kafka_create_topic().
 *
 * Returns: whether the topic was created.
 */
gboolean             evcp_test_mock_process_create_topic (EvcpTestMockProcess  *proc,
                                                          const gchar          *name,
                                                          guint                 partitions,
                                                          GError              **error);

/**
 * evcp_test_mock_process_get_subprocess:
 *
 * Returns: (transfer none): (nullable): the child, e.g. to send it a signal;
 *   %NULL with a real Kafka.
 */
GSubprocess         *evcp_test_mock_process_get_subprocess (EvcpTestMockProcess *proc);

/**
 * evcp_test_mock_process_command:
 * @command: one command line without its newline ("down all", "rtt 1 100")
 * @error: G_IO_ERROR_FAILED with the reason if the answer is ERR,
 *   G_IO_ERROR_TIMED_OUT if no answer came within 10 s, G_IO_ERROR_CLOSED if
 *   the program has gone, G_IO_ERROR_NOT_SUPPORTED with --no-stdin
 *
 * Sends a command and waits for its answer line.
 *
 * Returns: (transfer full) (nullable): the text after "OK " (possibly empty),
 *   or %NULL on error.
 */
gchar               *evcp_test_mock_process_command   (EvcpTestMockProcess  *proc,
                                                       const gchar          *command,
                                                       GError              **error);

/**
 * evcp_test_mock_process_close_stdin:
 *
 * Closes the program's standard input (it exits, as on "quit").
 */
void                 evcp_test_mock_process_close_stdin (EvcpTestMockProcess *proc);

/**
 * evcp_test_mock_process_wait:
 * @timeout_ms: deadline from now
 * @error: G_IO_ERROR_TIMED_OUT if it is still running
 *
 * Waits for the program to exit by itself, iterating the thread-default
 * main context.
 *
 * Returns: whether it exited (successfully or not: see
 *   g_subprocess_get_successful() on the subprocess).
 */
gboolean             evcp_test_mock_process_wait      (EvcpTestMockProcess  *proc,
                                                       guint                 timeout_ms,
                                                       GError              **error);

/**
 * evcp_test_mock_process_stop:
 * @error: G_IO_ERROR_TIMED_OUT if it had to be killed, G_IO_ERROR_FAILED if
 *   it exited with a failure status
 *
 * Sends "quit" (SIGTERM if it was started with --no-stdin), waits up to
 * %EVCP_TEST_STOP_TIMEOUT_MS for the program to exit, and kills it (SIGKILL)
 * if it does not. Does nothing more if it has
 * already exited.
 *
 * Returns: whether it exited by itself with status 0.
 */
gboolean             evcp_test_mock_process_stop      (EvcpTestMockProcess  *proc,
                                                       GError              **error);

/**
 * evcp_test_mock_process_free:
 *
 * Stops the program as evcp_test_mock_process_stop() does if it is still
 * running, then frees @proc.
 */
void                 evcp_test_mock_process_free      (EvcpTestMockProcess *proc);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EvcpTestMockProcess, evcp_test_mock_process_free)

G_END_DECLS

/* ------------------------------------------------------------------------- */
/* Engines under test */

#include "evcp-config.h"

G_BEGIN_DECLS

/**
 * evcp_test_isolate_config:
 *
 * Gives an Engine (or Monitor) under test its own state directory (fresh,
 * removed when the current test ends) and free ports for its health server
 * and for a Central nobody listens on, so that tests can run in parallel and
 * again without sharing an outbox or a port. Call it inside a test.
 */
void     evcp_test_isolate_config   (EvcpConfig          *config);

/**
 * evcp_test_isolate_launcher:
 * @state_dir: where the spawned program keeps its state (STATE_DIRECTORY)
 *
 * The same for a spawned evcp-engine: STATE_DIRECTORY, a free ENGINE_PORT
 * and a CENTRAL_PORT nobody listens on (unless already set by the caller).
 */
void     evcp_test_isolate_launcher (GSubprocessLauncher *launcher,
                                     const gchar         *state_dir);

/* Removes @path and everything below it. */
void     evcp_test_remove_tree      (const gchar         *path);

G_END_DECLS
