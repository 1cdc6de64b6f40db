/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What only a real Apache Kafka can tell (suite real-kafka): consumer-group
 * rebalances between Engine processes, resuming at the committed offset, the
 * idempotent producer across a broker restart, and a broker restart in the
 * middle of a stream. The mock cluster has no real group coordinator, no
 * persistent log and no producer-state recovery, so none of this is shown
 * by the embedded-broker suite.
 *
 * Needs EVCP_TEST_KAFKA_BROKERS (scripts/test starts a broker with
 * tests/kafka/real-broker and sets it), and for the broker restarts
 * EVCP_REAL_KAFKA_DIR (the broker's directory) and EVCP_REAL_KAFKA (the
 * script): against a cluster the tests do not control, those tests skip and
 * say so. Every wait has a deadline; every topic and group is new. */
#include "evcp-build-config.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <glib/gstdio.h>

#include "evcp-callback-handler.h"
#include "evcp-engine.h"
#include "evcp-kafka-producer.h"
#include "evcp-test-util.h"

#define WAIT_MS 60000
#define CP      "CP-R1"

typedef struct {
  const gchar *brokers;
  gchar       *tmpdir;
  gchar       *config;     /* the evcp-engine key file */
  gchar       *group;
  const gchar *topic;      /* where the TRACK stream goes */
  guint        n_engines;
} Fixture;

static const gchar *const other_topics[] = {
  "charging_requests", "system_notifications", "dead_letters",
};

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) conf = g_string_new (NULL);
  GHashTableIter iter;
  gpointer key, value;

  f->brokers = evcp_test_kafka_brokers ();
  g_assert_nonnull (f->brokers);   /* evcp_test_kafka_check_mode() in main() */
  f->tmpdir = g_dir_make_tmp ("evcp-test-real-kafka-XXXXXX", &error);
  g_assert_no_error (error);
  f->group = g_strdup_printf ("test-real-%08x", g_random_int ());
  f->topic = evcp_test_topic ("user_messages");

  /* four partitions, so that two Engines in one group both get some */
  evcp_test_kafka_create_topic (f->brokers, f->topic, 4, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (other_topics); i++)
    {
      evcp_test_kafka_create_topic (f->brokers, evcp_test_topic (other_topics[i]), 1, &error);
      g_assert_no_error (error);
    }

  /* a quick hand-over: heartbeats every second (the broker's
   * group.initial.rebalance.delay.ms is 0 on tests/kafka/real-broker) */
  f->config = g_build_filename (f->tmpdir, "engine.conf", NULL);
  g_string_append_printf (conf, "[evcp]\nlocation=test bench\n"
                          "[kafka]\ndead-letter-topic=%s\n"
                          "[librdkafka-consumer]\nsession.timeout.ms=6000\nheartbeat.interval.ms=1000\n",
                          evcp_test_topic ("dead_letters"));
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
  g_autoptr(GDir) dir = g_dir_open (f->tmpdir, 0, NULL);
  const gchar *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree gchar *path = g_build_filename (f->tmpdir, name, NULL);

      if (g_test_failed ())
        {
          g_autofree gchar *contents = NULL;

          /* the Engines' logs say what went wrong */
          if (g_str_has_suffix (name, ".log") && g_file_get_contents (path, &contents, NULL, NULL))
            g_test_message ("---- %s ----\n%s", name, contents);
        }
      g_unlink (path);
    }
  evcp_test_remove_tree (f->tmpdir);   /* and the Engines' state directories */
  g_free (f->tmpdir);
  g_free (f->config);
  g_free (f->group);
}

/* ---- Engine processes ------------------------------------------------------- */

typedef struct {
  GSubprocess *process;
  gchar       *log;
  gchar       *record;   /* ids handled, one line each (the recorder plugin) */
} Engine;

static Engine *
engine_spawn (Fixture *f)
{
  g_autoptr(GSubprocessLauncher) launcher = evcp_test_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_autoptr(GError) error = NULL;
  g_autofree gchar *topics = g_strjoin (",", f->topic, evcp_test_topic ("charging_requests"),
                                        evcp_test_topic ("system_notifications"), NULL);
  Engine *engine = g_new0 (Engine, 1);
  guint n = f->n_engines++;

  engine->log = g_strdup_printf ("%s/engine-%u.log", f->tmpdir, n);
  engine->record = g_strdup_printf ("%s/handled-%u.txt", f->tmpdir, n);
  g_subprocess_launcher_setenv (launcher, "KAFKA_BROKERS", f->brokers, TRUE);
  g_subprocess_launcher_setenv (launcher, "KAFKA_GROUP_ID", f->group, TRUE);
  g_subprocess_launcher_setenv (launcher, "KAFKA_TOPICS", topics, TRUE);
  g_subprocess_launcher_setenv (launcher, "CP_ID", CP, TRUE);
  g_subprocess_launcher_setenv (launcher, "EVCP_RECORDER_FILE", engine->record, TRUE);
  g_subprocess_launcher_unsetenv (launcher, "EVCP_CONFIG");
  {
    /* two Engines may run at once: each its own state and health port */
    g_autofree gchar *state = g_strdup_printf ("%s/state-%u", f->tmpdir, n);

    evcp_test_isolate_launcher (launcher, state);
  }
  g_subprocess_launcher_set_stderr_file_path (launcher, engine->log);
  g_subprocess_launcher_set_stdout_file_path (launcher, "/dev/null");
  engine->process = evcp_test_launcher_spawn (launcher, &error, g_getenv ("EVCP_ENGINE"), "--config", f->config,
                                              "--plugin-dir", g_getenv ("EVCP_RECORDER_DIR"), "--verbose", NULL);
  g_assert_no_error (error);
  return engine;
}

static gboolean
exited (gpointer data)
{
  /* the GSubprocess reaps the child from the main context the wait iterates */
  return g_subprocess_get_identifier (data) == NULL;
}

/* SIGTERM: a clean stop (final commit, leaves the group), exit status 0. */
static void
engine_stop (Engine *engine)
{
  g_subprocess_send_signal (engine->process, SIGTERM);
  g_assert_true (evcp_test_wait_until (NULL, exited, engine->process, 20000));
  g_assert_true (g_subprocess_get_if_exited (engine->process));
  g_assert_cmpint (g_subprocess_get_exit_status (engine->process), ==, 0);
}

static void
engine_free (Engine *engine)
{
  if (engine->process != NULL && g_subprocess_get_identifier (engine->process) != NULL)
    {
      g_subprocess_force_exit (engine->process);
      evcp_test_wait_until (NULL, exited, engine->process, 10000);
    }
  g_clear_object (&engine->process);
  g_free (engine->log);
  g_free (engine->record);
  g_free (engine);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Engine, engine_free)

/* How many times the Engine's log says it was assigned a non-empty set of
 * partitions ("Kafka assigned N partitions: ..."). */
static guint
engine_assignments (Engine *engine)
{
  g_autofree gchar *contents = NULL;
  const gchar *p;
  guint count = 0;

  if (!g_file_get_contents (engine->log, &contents, NULL, NULL))
    return 0;
  for (p = contents; (p = strstr (p, "Kafka assigned ")) != NULL; p++)
    if (g_ascii_strtoull (p + strlen ("Kafka assigned "), NULL, 10) > 0)
      count++;
  return count;
}

typedef struct {
  Engine *engine;
  guint   more_than;
} Assigned;

static gboolean
assigned (gpointer data)
{
  Assigned *a = data;

  return engine_assignments (a->engine) > a->more_than;
}

/* id -> times handled, added up over the record files of @engines (NULL:
 * not started yet) */
static GHashTable *
read_handled (Engine **engines, guint n_engines)
{
  GHashTable *seen = g_hash_table_new (NULL, NULL);

  for (guint e = 0; e < n_engines; e++)
    {
      g_autofree gchar *contents = NULL;
      g_auto(GStrv) lines = NULL;

      if (engines[e] == NULL || !g_file_get_contents (engines[e]->record, &contents, NULL, NULL))
        continue;
      lines = g_strsplit (contents, "\n", -1);
      for (guint i = 0; lines[i] != NULL; i++)
        {
          guint64 id;
          gpointer k;

          if (*lines[i] == '\0')
            continue;
          g_assert_true (g_ascii_string_to_unsigned (lines[i], 10, 0, G_MAXINT - 1, &id, NULL));
          k = GUINT_TO_POINTER ((guint) id + 1);
          g_hash_table_insert (seen, k, GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (seen, k)) + 1));
        }
    }
  return seen;
}

static guint
times_handled (GHashTable *seen, guint id)
{
  return GPOINTER_TO_UINT (g_hash_table_lookup (seen, GUINT_TO_POINTER (id + 1)));
}

typedef struct {
  Engine **engines;
  guint    n_engines;
  guint    from, to;   /* every id in [from, to) */
} Handled;

static gboolean
handled_all (gpointer data)
{
  Handled *h = data;
  g_autoptr(GHashTable) seen = read_handled (h->engines, h->n_engines);

  for (guint i = h->from; i < h->to; i++)
    if (times_handled (seen, i) == 0)
      return FALSE;
  return TRUE;
}

/* ---- a stream of TRACK messages through EvcpKafkaProducer ------------------ */

typedef struct {
  EvcpKafkaProducer *producer;
  const gchar       *topic;
  guint              next;       /* the next id to produce */
  guint              until;      /* produce ids up to here, then pause */
  guint              per_tick;
  guint              timer;
  guint              acked;
  guint              failed;
  guint             *acks;       /* per id: successful delivery reports */
  guint              capacity;
} Stream;

static void
stream_delivered (EvcpKafkaProducer *producer, const GError *error,
                  gint32 partition, gint64 offset, gpointer user_data)
{
  Stream *s = g_object_get_data (G_OBJECT (producer), "stream");
  guint id = GPOINTER_TO_UINT (user_data);

  if (error != NULL)
    {
      if (s->failed++ == 0)
        g_test_message ("delivery of %u failed: %s", id, error->message);
      return;
    }
  s->acked++;
  s->acks[id]++;
}

static gboolean
stream_tick (gpointer user_data)
{
  Stream *s = user_data;

  for (guint i = 0; i < s->per_tick && s->next < s->until; i++, s->next++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree gchar *json = g_strdup_printf ("{\"kind\":\"TRACK\",\"timestamp\":\"2026-11-26T10:00:00Z\","
                                                "\"data\":{\"id\":%u,\"cp_id\":\"" CP "\"}}", s->next);
      gsize len = strlen (json);
      g_autoptr(GBytes) value = g_bytes_new_take (g_steal_pointer (&json), len);
      /* sixteen keys: every partition gets its share (null keys stick to
       * one partition per batch) */
      g_autofree gchar *k = g_strdup_printf ("CP-%02u", s->next % 16);
      g_autoptr(GBytes) key = g_bytes_new (k, strlen (k));

      if (!evcp_kafka_producer_produce (s->producer, s->topic, key, value, NULL, 0,
                                        stream_delivered, GUINT_TO_POINTER (s->next), &error))
        {
          /* a full queue while the broker is away: try again on the next tick */
          g_debug ("producing %u: %s", s->next, error->message);
          break;
        }
    }
  return G_SOURCE_CONTINUE;
}

/* Produces @total messages (ids 0..total-1), @per_tick every @interval_ms,
 * from the main context, once stream_until() says how far. */
static Stream *
stream_new (const gchar *brokers, const gchar *topic, guint total, guint per_tick, guint interval_ms)
{
  Stream *s = g_new0 (Stream, 1);
  g_autoptr(GError) error = NULL;

  s->producer = evcp_kafka_producer_new (brokers, evcp_test_kafka_properties (), NULL, &error);
  g_assert_no_error (error);
  g_object_set_data (G_OBJECT (s->producer), "stream", s);
  s->topic = topic;
  s->per_tick = per_tick;
  s->capacity = total;
  s->acks = g_new0 (guint, total);
  s->timer = g_timeout_add (interval_ms, stream_tick, s);
  return s;
}

static void
stream_until (Stream *s, guint until)
{
  g_assert_cmpuint (until, <=, s->capacity);
  s->until = until;
}

typedef struct {
  Stream *s;
  guint   count;
} Acked;

static gboolean
acked_at_least (gpointer data)
{
  Acked *a = data;

  return a->s->acked + a->s->failed >= a->count;
}

static gboolean
stream_done (gpointer data)
{
  Stream *s = data;

  return s->next == s->until && s->acked + s->failed >= s->until;
}

static void
stream_free (Stream *s)
{
  g_clear_handle_id (&s->timer, g_source_remove);
  g_assert_cmpuint (evcp_kafka_producer_close (s->producer, 10000), ==, 0);
  g_object_unref (s->producer);
  g_free (s->acks);
  g_free (s);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Stream, stream_free)

/* ---- a broker restart, while the main context keeps running -------------- */

static gboolean
skip_unless_broker_control (void)
{
  if (evcp_test_real_broker_can_control ())
    return FALSE;
  g_test_skip ("needs a broker it can restart (started by tests/kafka/real-broker, "
               "EVCP_REAL_KAFKA_DIR set): not against this cluster");
  return TRUE;
}

/* @command: "restart" (SIGTERM, a clean stop) or "restart --kill" (SIGKILL) */
static void
restart_broker (const gchar *command)
{
  g_autoptr(GError) error = NULL;
  gint64 start = g_get_monotonic_time ();

  evcp_test_real_broker_run (command, &error);
  g_assert_no_error (error);
  g_test_message ("broker: %s in %" G_GINT64_FORMAT " ms", command, (g_get_monotonic_time () - start) / 1000);
}

/* ---- 1. a second Engine joins the group, and leaves ------------------------ */

/* Rebalances while messages stream in: nothing is lost, and what was handled
 * and committed before a rebalance is never handled again (ids produced and
 * handled while the group was stable are handled exactly once). Around a
 * rebalance, at least once allows a message handled but not yet committed to
 * come again on its new owner: those are counted, not forbidden. */
static void
test_rebalance (Fixture *f, gconstpointer data)
{
  const guint quiet1 = 300, join_end = 900, leave_at = 1200, leave_end = 1500, total = 1800;
  g_autoptr(Stream) s = stream_new (f->brokers, f->topic, total, 10, 50);   /* 200 a second */
  g_autoptr(Engine) a = engine_spawn (f);
  g_autoptr(Engine) b = NULL;
  g_autoptr(GHashTable) seen = NULL;
  g_autoptr(GHashTable) seen_b = NULL;
  Engine *both[2] = { a, NULL };
  Assigned a_first = { a, 0 }, b_first = { NULL, 0 }, a_again = { a, 0 };
  Handled h = { both, 2, 0, 0 };
  Acked acked = { s, 0 };
  guint duplicates = 0, by_b = 0;

  g_assert_true (evcp_test_wait_until (NULL, assigned, &a_first, WAIT_MS));

  /* one Engine alone */
  stream_until (s, quiet1);
  g_assert_true (evcp_test_wait_until (NULL, stream_done, s, WAIT_MS));
  h.to = quiet1;
  g_assert_true (evcp_test_wait_until (NULL, handled_all, &h, WAIT_MS));

  /* a second one joins mid-stream: partitions move from A to B */
  stream_until (s, join_end);
  acked.count = quiet1 + 100;
  g_assert_true (evcp_test_wait_until (NULL, acked_at_least, &acked, WAIT_MS));
  b = engine_spawn (f);
  both[1] = b;
  b_first.engine = b;
  g_assert_true (evcp_test_wait_until (NULL, assigned, &b_first, WAIT_MS));
  g_assert_true (evcp_test_wait_until (NULL, stream_done, s, WAIT_MS));
  h.to = join_end;
  g_assert_true (evcp_test_wait_until (NULL, handled_all, &h, WAIT_MS));

  /* it leaves mid-stream (SIGTERM: final commit, LeaveGroup): A takes all back */
  stream_until (s, leave_end);
  acked.count = leave_at;
  g_assert_true (evcp_test_wait_until (NULL, acked_at_least, &acked, WAIT_MS));
  a_again.more_than = engine_assignments (a);
  engine_stop (b);
  g_assert_true (evcp_test_wait_until (NULL, assigned, &a_again, WAIT_MS));
  g_assert_true (evcp_test_wait_until (NULL, stream_done, s, WAIT_MS));
  h.to = leave_end;
  g_assert_true (evcp_test_wait_until (NULL, handled_all, &h, WAIT_MS));

  /* one Engine alone again */
  stream_until (s, total);
  g_assert_true (evcp_test_wait_until (NULL, stream_done, s, WAIT_MS));
  h.to = total;
  g_assert_true (evcp_test_wait_until (NULL, handled_all, &h, WAIT_MS));
  engine_stop (a);
  g_assert_cmpuint (s->failed, ==, 0);

  seen = read_handled (both, 2);
  seen_b = read_handled (&both[1], 1);
  for (guint i = 0; i < total; i++)
    {
      guint times = times_handled (seen, i);
      gboolean stable = i < quiet1 || i >= leave_end;

      g_assert_cmpuint (times, >=, 1);
      if (stable && times != 1)
        g_error ("id %u, produced while the group was stable, was handled %u times", i, times);
      duplicates += times - 1;
      by_b += times_handled (seen_b, i) > 0;
    }
  /* B really had partitions, and handled part of the stream */
  g_assert_cmpuint (by_b, >, 0);
  g_assert_cmpuint (by_b, <, leave_end - quiet1);
  g_test_message ("%u messages; B handled %u; %u handled again around the two rebalances",
                  total, by_b, duplicates);
}

/* ---- 2. the Engine restarted against the same group ---------------------- */

/* The committed offsets of @group for every partition of @topic, and the
 * partitions' ends. */
static void
committed_and_ends (const gchar *brokers, const gchar *group, const gchar *topic,
                    guint partitions, gint64 *committed, gint64 *ends)
{
  rd_kafka_conf_t *conf = rd_kafka_conf_new ();
  g_autoptr(rd_kafka_topic_partition_list_t) parts = rd_kafka_topic_partition_list_new ((int) partitions);
  GHashTableIter iter;
  gpointer key, value;
  char errstr[512];
  rd_kafka_t *rk;
  rd_kafka_resp_err_t err;

  g_hash_table_iter_init (&iter, evcp_test_kafka_properties ());
  while (g_hash_table_iter_next (&iter, &key, &value))
    g_assert_cmpint (rd_kafka_conf_set (conf, key, value, errstr, sizeof errstr), ==, RD_KAFKA_CONF_OK);
  g_assert_cmpint (rd_kafka_conf_set (conf, "bootstrap.servers", brokers, errstr, sizeof errstr), ==, RD_KAFKA_CONF_OK);
  /* the group's id, to read its offsets: this consumer never joins it */
  g_assert_cmpint (rd_kafka_conf_set (conf, "group.id", group, errstr, sizeof errstr), ==, RD_KAFKA_CONF_OK);
  rk = rd_kafka_new (RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
  g_assert_nonnull (rk);
  for (guint p = 0; p < partitions; p++)
    rd_kafka_topic_partition_list_add (parts, topic, (int32_t) p);
  err = rd_kafka_committed (rk, parts, 10000);
  g_assert_cmpstr (rd_kafka_err2str (err), ==, rd_kafka_err2str (RD_KAFKA_RESP_ERR_NO_ERROR));
  for (guint p = 0; p < partitions; p++)
    {
      int64_t low, high;

      committed[p] = parts->elems[p].offset;
      err = rd_kafka_query_watermark_offsets (rk, topic, (int32_t) p, &low, &high, 10000);
      g_assert_cmpstr (rd_kafka_err2str (err), ==, rd_kafka_err2str (RD_KAFKA_RESP_ERR_NO_ERROR));
      ends[p] = high;
    }
  rd_kafka_destroy (rk);
}

/* Stopped after handling a stream (its offsets committed up to the end of
 * every partition), then started again while more arrived in between: the
 * new Engine handles exactly the new messages, once each, and none of the
 * old ones (it resumes at the committed offset, not at auto.offset.reset). */
static void
test_resume_at_committed_offset (Fixture *f, gconstpointer data)
{
  const guint first = 400, total = 800;
  g_autoptr(Stream) s = stream_new (f->brokers, f->topic, total, 10, 20);
  g_autoptr(Engine) a = engine_spawn (f);
  g_autoptr(Engine) b = NULL;
  g_autoptr(GHashTable) seen_b = NULL;
  Engine *engines[2] = { a, NULL };
  Assigned a_first = { a, 0 };
  Handled h = { engines, 1, 0, first };
  gint64 committed[4], ends[4];
  gint64 sum = 0;

  g_assert_true (evcp_test_wait_until (NULL, assigned, &a_first, WAIT_MS));
  stream_until (s, first);
  g_assert_true (evcp_test_wait_until (NULL, stream_done, s, WAIT_MS));
  g_assert_true (evcp_test_wait_until (NULL, handled_all, &h, WAIT_MS));
  engine_stop (a);

  /* what the broker keeps for the group: every partition committed to its end */
  committed_and_ends (f->brokers, f->group, f->topic, 4, committed, ends);
  for (guint p = 0; p < 4; p++)
    {
      g_test_message ("partition %u: committed %" G_GINT64_FORMAT " of %" G_GINT64_FORMAT,
                      p, committed[p], ends[p]);
      g_assert_cmpint (ends[p], >, 0);
      g_assert_cmpint (committed[p], ==, ends[p]);
      sum += ends[p];
    }
  g_assert_cmpint (sum, ==, first);

  /* more while no Engine runs, then the Engine again, in the same group */
  stream_until (s, total);
  g_assert_true (evcp_test_wait_until (NULL, stream_done, s, WAIT_MS));
  g_assert_cmpuint (s->failed, ==, 0);
  b = engine_spawn (f);
  engines[1] = b;
  h.engines = &engines[1];
  h.from = first;
  h.to = total;
  g_assert_true (evcp_test_wait_until (NULL, handled_all, &h, WAIT_MS));
  engine_stop (b);

  seen_b = read_handled (&engines[1], 1);
  for (guint i = 0; i < total; i++)
    g_assert_cmpuint (times_handled (seen_b, i), ==, i < first ? 0 : 1);
}

/* ---- 3. the idempotent producer across a broker restart -------------------- */

/* EvcpKafkaProducer streams while the broker is killed (SIGKILL, as in a
 * crash: requests in flight are cut off, written or not, without an answer)
 * and started again on the same data: the producer retries those batches
 * after the restart, and the broker drops the copies it had already written
 * (producer id and sequence numbers, recovered from the log), so every
 * message is acknowledged once and stored once. */
static void
test_idempotent_exactly_once (Fixture *f, gconstpointer data)
{
  const guint total = 6000;
  const gchar *topic = evcp_test_topic ("idempotence");
  g_autoptr(Stream) s = NULL;
  g_autoptr(EvcpTestConsumer) consumer = NULL;
  g_autoptr(GPtrArray) records = NULL;
  g_autoptr(GPtrArray) extra = NULL;
  g_autofree guint *stored = g_new0 (guint, total);
  g_autoptr(GError) error = NULL;
  Acked some = { NULL, 1500 };

  if (skip_unless_broker_control ())
    return;
  evcp_test_kafka_create_topic (f->brokers, topic, 4, &error);
  g_assert_no_error (error);

  /* 2500 a second: the stream is in full flow when the broker stops */
  s = stream_new (f->brokers, topic, total, 25, 10);
  some.s = s;
  stream_until (s, total);
  g_assert_true (evcp_test_wait_until (NULL, acked_at_least, &some, WAIT_MS));
  restart_broker ("restart --kill");
  g_assert_true (evcp_test_wait_until (NULL, stream_done, s, WAIT_MS));
  g_assert_cmpuint (s->failed, ==, 0);
  for (guint i = 0; i < total; i++)
    g_assert_cmpuint (s->acks[i], ==, 1);

  /* what the broker stored: each id once, nothing more */
  consumer = evcp_test_consumer_new (f->brokers, topic);
  records = evcp_test_consumer_wait_for (consumer, total, WAIT_MS);
  g_assert_cmpuint (records->len, ==, total);
  extra = evcp_test_consumer_wait_for (consumer, 1, 2000);
  g_assert_cmpuint (extra->len, ==, 0);
  for (guint r = 0; r < records->len; r++)
    {
      g_autoptr(JsonNode) node = evcp_test_record_parse_json (records->pdata[r], &error);
      gint64 id;

      g_assert_no_error (error);
      id = json_object_get_int_member (json_object_get_object_member (json_node_get_object (node), "data"), "id");
      g_assert_cmpint (id, >=, 0);
      g_assert_cmpint (id, <, total);
      stored[id]++;
    }
  for (guint i = 0; i < total; i++)
    if (stored[i] != 1)
      g_error ("id %u stored %u times", i, stored[i]);
}

/* ---- 4. a broker restart in the middle of a stream, the Engine in process -- */

typedef struct {
  GHashTable *seen;     /* id -> times handled */
  GPtrArray  *states;   /* EvcpKafkaState changes */
  guint       total;
} Tracker;

static gboolean
track_handle (EvcpMessage *message, gpointer user_data, GError **error)
{
  Tracker *t = user_data;
  gint64 id;
  gpointer k;

  if (!evcp_message_get_integer (message, "id", TRUE, &id, error))
    return FALSE;
  k = GUINT_TO_POINTER ((guint) id + 1);
  g_hash_table_insert (t->seen, k, GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (t->seen, k)) + 1));
  return TRUE;
}

static void
on_state (EvcpKafkaService *service, EvcpKafkaState old, EvcpKafkaState state, Tracker *t)
{
  g_ptr_array_add (t->states, GINT_TO_POINTER (state));
}

static gboolean
tracker_has_all (gpointer data)
{
  Tracker *t = data;

  for (guint i = 0; i < t->total; i++)
    if (!g_hash_table_contains (t->seen, GUINT_TO_POINTER (i + 1)))
      return FALSE;
  return TRUE;
}

typedef struct {
  Tracker *t;
  guint    count;
} TrackerSome;

static gboolean
tracker_has_some (gpointer data)
{
  TrackerSome *ts = data;

  return g_hash_table_size (ts->t->seen) >= ts->count;
}

/* The broker's JVM is stopped and started again on the same data while a
 * producer streams and the Engine consumes: the Engine sees the outage
 * (DISCONNECTED), reconnects, and handles every message. */
static void
test_broker_restart_mid_stream (Fixture *f, gconstpointer data)
{
  const guint total = 3000;
  g_autoptr(EvcpConfig) config = evcp_config_new ();
  g_autoptr(EvcpEngine) engine = NULL;
  g_autoptr(EvcpMessageHandler) track = NULL;
  g_autoptr(Stream) s = NULL;
  g_autoptr(GError) error = NULL;
  Tracker t = { g_hash_table_new (NULL, NULL), g_ptr_array_new (), total };
  TrackerSome some = { &t, 600 };
  GHashTableIter iter;
  gpointer key, value;
  guint duplicates = 0, i;
  gboolean saw_disconnected = FALSE;

  if (skip_unless_broker_control ())
    goto out;

  g_free (config->cp_id);
  config->cp_id = g_strdup (CP);
  g_free (config->kafka_brokers);
  config->kafka_brokers = g_strdup (f->brokers);
  config->kafka_group_id = g_strdup (f->group);
  evcp_test_isolate_config (config);
  g_strfreev (config->kafka_topics);
  config->kafka_topics = g_strdupv ((gchar *[]) { (gchar *) f->topic, NULL });
  g_free (config->dead_letter_topic);
  config->dead_letter_topic = g_strdup (evcp_test_topic ("dead_letters"));
  g_hash_table_iter_init (&iter, evcp_test_kafka_properties ());
  while (g_hash_table_iter_next (&iter, &key, &value))
    g_hash_table_insert (config->rdkafka, g_strdup (key), g_strdup (value));

  engine = evcp_engine_new (config);
  track = evcp_callback_handler_new ("track", "TRACK", track_handle, &t, NULL);
  g_assert_true (evcp_kafka_service_register_handler (evcp_engine_get_kafka_service (engine), track, &error));
  g_signal_connect (evcp_engine_get_kafka_service (engine), "connection-state-changed",
                    G_CALLBACK (on_state), &t);
  g_assert_true (evcp_engine_start (engine, &error));
  g_assert_no_error (error);

  /* 500 a second: the restart falls in the middle */
  s = stream_new (f->brokers, f->topic, total, 10, 20);
  stream_until (s, total);
  g_assert_true (evcp_test_wait_until (NULL, tracker_has_some, &some, WAIT_MS));
  restart_broker ("restart");
  g_assert_true (evcp_test_wait_until (NULL, stream_done, s, WAIT_MS));
  g_assert_cmpuint (s->failed, ==, 0);
  g_assert_true (evcp_test_wait_until (NULL, tracker_has_all, &t, WAIT_MS));
  evcp_engine_stop (engine);

  for (i = 0; i < t.states->len; i++)
    saw_disconnected |= GPOINTER_TO_INT (t.states->pdata[i]) == EVCP_KAFKA_STATE_DISCONNECTED;
  g_assert_true (saw_disconnected);
  for (i = 0; i < total; i++)
    {
      guint times = GPOINTER_TO_UINT (g_hash_table_lookup (t.seen, GUINT_TO_POINTER (i + 1)));

      g_assert_cmpuint (times, >=, 1);
      duplicates += times - 1;
    }
  g_test_message ("%u messages, %u handled again after the broker restart", total, duplicates);

out:
  g_hash_table_unref (t.seen);
  g_ptr_array_unref (t.states);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  evcp_test_kafka_check_mode ();
  /* Kafka outages are logged as warnings on purpose */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);

  g_test_add ("/real-kafka/rebalance", Fixture, NULL,
              fixture_set_up, test_rebalance, fixture_tear_down);
  g_test_add ("/real-kafka/resume-at-committed-offset", Fixture, NULL,
              fixture_set_up, test_resume_at_committed_offset, fixture_tear_down);
  g_test_add ("/real-kafka/idempotent-exactly-once", Fixture, NULL,
              fixture_set_up, test_idempotent_exactly_once, fixture_tear_down);
  g_test_add ("/real-kafka/broker-restart-mid-stream", Fixture, NULL,
              fixture_set_up, test_broker_restart_mid_stream, fixture_tear_down);
  return g_test_run ();
}
