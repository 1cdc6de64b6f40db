/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* evcp-bench-produce: the workloads of the dispatch benchmark (bench/run).
 *
 * Produces N realistic messages (about 200 bytes of JSON each) of the three
 * kinds the Engine consumes, in both shapes (fields under "data", fields at
 * the top level), deterministically from a seed:
 *
 *   fleet  charging requests and notifications spread over --cps charging
 *          points, so that most are for other CPs than --cp-id
 *   worst  every charging request and every addressed notification is for
 *          --cp-id
 *   notices  USER_INFO (25 %) and notifications for --cp-id, no charging
 *          request (no session, no refusal): the Kafka path's latency
 *
 * Messages go round-robin over the topic's partitions (the key is the target
 * CP or the user, as in the field, but it does not choose the partition, so
 * that the worst case is not one hot partition).
 *
 * --keyed: the fleet mode's producer rules (docs/configuration.md): every
 * message for a CP is keyed by its id (a USER_INFO too, for a CP picked as
 * for a request), a notification for every CP is not keyed, and the key
 * chooses the partition (murmur2, as the Java client); prints own=K, the
 * messages that --cp-id handles (keyed by it or not keyed).
 *
 * --fleet N: bench/fleet's generator instead: N virtual CPs CP-000001 …,
 * --per-cp K messages each (65 % CHARGING_REQUEST on charging_requests,
 * 35 % USER_INFO on user_messages, keyed by the CP, murmur2), spread evenly
 * over --seconds (the same per-CP rate at every N), and --broadcasts B
 * notifications for every CP, not keyed, on system_notifications; prints
 * "sample ID messages=M" for each CP of --sample (comma-separated): what it
 * must handle, the broadcasts included.
 *
 * Without --rate, as fast as librdkafka takes them, in batches of exactly
 * --batch-kb (linger.ms is long, so the batch size alone cuts batches: the
 * same seed gives the same message sets on the broker). With --rate R,
 * R messages a second, each stamped in "timestamp" with the wall time of its
 * production (ISO 8601, UTC, microseconds), linger.ms=0: for the
 * produce -> handled latency.
 *
 * --sink N does not produce: it reads a consumer's output (kcat's, one
 * message per line) from stdin and times it like the probe times the Engine,
 * from the first line to line N - 64 (kcat writes through a 4 KiB stdio
 * buffer: the last partial buffer may only come at its exit, after its
 * shutdown), so that startup and shutdown are not counted.
 *
 * --watermarks only prints the topic's low and high watermarks. After
 * producing, the watermarks are checked: the mock cluster keeps about 5 MiB
 * per partition and silently drops older message sets, so a low watermark
 * above 0 or a total that is not what was produced fails the run (exit 3).
 *
 * Output on stdout, one line, key=value, for bench/run.
 */
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>
#include <librdkafka/rdkafka.h>

#define METADATA_TIMEOUT_MS 10000
#define FLUSH_TIMEOUT_MS    120000

typedef enum {
  WORKLOAD_FLEET,
  WORKLOAD_WORST,
  WORKLOAD_NOTICES,
} Workload;

typedef struct {
  GRand    *rand;
  Workload  workload;
  gchar    *cp_id;
  guint     n_cps;
  guint     n_users;
  gint64    base_time_us;  /* timestamps of the pre-produced messages */
  gboolean  keyed;         /* the fleet mode's keys */
} Generator;

static const gchar *const first_names[] = {
  "Alice", "Bruno", "Carmen", "David", "Elena", "Farid", "Greta", "Hugo",
  "Irene", "Javier", "Kenji", "Lucia", "Marta", "Nicolas", "Olga", "Pablo",
};
static const gchar *const last_names[] = {
  "Martin", "Garcia", "Lopez", "Schmidt", "Rossi", "Dubois", "Novak", "Silva",
  "Jensen", "Moreau", "Tanaka", "Kowalski",
};
static const gchar *const vehicles[] = {
  "Tesla Model 3", "Renault Zoe", "Nissan Leaf", "Hyundai Kona Electric",
  "Volkswagen ID.3", "Kia EV6", "BMW i4", "Peugeot e-208", "Fiat 500e",
};
static const gchar *const notices[] = {
  "Scheduled maintenance of the grid connection tonight between 02:00 and 04:00",
  "Tariff update: off-peak prices apply from 22:00 to 06:00 starting next Monday",
  "Firmware 2.4.1 is available; install it at the next idle period",
  "Grid operator requests a reduction of the maximum power to 80 percent",
  "Payment terminal provider reports degraded service in the region",
  "Emergency stop drill planned for Thursday at 10:00, no action needed",
};
static const gdouble powers[] = { 7.4, 11, 22, 50, 75, 100, 150, 350 };
static const gint durations[] = { 900, 1800, 3600, 5400, 7200, 14400 };

static void
append_iso8601 (GString *out, gint64 real_us)
{
  time_t secs = (time_t) (real_us / G_USEC_PER_SEC);
  struct tm tm;

  gmtime_r (&secs, &tm);
  g_string_append_printf (out, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
                          tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                          tm.tm_hour, tm.tm_min, tm.tm_sec,
                          (gint) (real_us % G_USEC_PER_SEC));
}

static void
append_uuid (GString *out, GRand *rand)
{
  guint32 a = g_rand_int (rand), b = g_rand_int (rand), c = g_rand_int (rand), d = g_rand_int (rand);

  g_string_append_printf (out, "%08x-%04x-4%03x-%04x-%04x%08x",
                          a, b >> 16, b & 0xfff, (c >> 16 & 0x3fff) | 0x8000, c & 0xffff, d);
}

static gchar *
pick_cp (Generator *gen)
{
  if (gen->workload != WORKLOAD_FLEET)
    return g_strdup (gen->cp_id);
  return g_strdup_printf ("CP-%03u", (guint) g_rand_int_range (gen->rand, 1, (gint32) gen->n_cps + 1));
}

/* Opens the object; "data" or not depending on the shape. */
static void
open_message (GString *out, const gchar *kind, gint64 stamp_us)
{
  g_string_append_printf (out, "{\"kind\":\"%s\",\"timestamp\":\"", kind);
  append_iso8601 (out, stamp_us);
  g_string_append (out, "\",");
}

/* Fills @out with the value and @key with the key of one message. */
static void
generate (Generator *gen, guint64 index, gint64 stamp_us, GString *out, GString *key)
{
  guint32 dice = (guint32) g_rand_int_range (gen->rand, 0, 100);
  gboolean top_level = g_rand_boolean (gen->rand);
  guint user = (guint) g_rand_int_range (gen->rand, 0, (gint32) gen->n_users);

  g_string_truncate (out, 0);
  g_string_truncate (key, 0);
  if (gen->workload == WORKLOAD_NOTICES && dice >= 25 && dice < 90)
    dice = 90;   /* no charging request: a notification */

  if (dice < 25)
    {
      /* USER_INFO; the top-level shape is the one of the kafka-python
       * producer in the field: user_id outside, name and vehicle in data */
      open_message (out, "USER_INFO", stamp_us);
      if (top_level)
        g_string_append_printf (out, "\"user_id\":\"user%05u\",\"source\":\"app\",\"data\":{", user);
      else
        g_string_append_printf (out, "\"data\":{\"user_id\":\"user%05u\",\"source\":\"app\",", user);
      g_string_append_printf (out, "\"name\":\"%s %s\",\"vehicle\":\"%s\",\"locale\":\"es_ES\","
                                   "\"account\":\"",
                              first_names[user % G_N_ELEMENTS (first_names)],
                              last_names[(user / 16) % G_N_ELEMENTS (last_names)],
                              vehicles[(user / 7) % G_N_ELEMENTS (vehicles)]);
      append_uuid (out, gen->rand);
      g_string_append (out, "\"}}");
      if (gen->keyed)
        {
          g_autofree gchar *cp = pick_cp (gen);

          g_string_append (key, cp);
        }
      else
        g_string_append_printf (key, "user%05u", user);
    }
  else if (dice < 90)
    {
      g_autofree gchar *cp = pick_cp (gen);
      gdouble power = powers[g_rand_int_range (gen->rand, 0, G_N_ELEMENTS (powers))];
      gint duration = durations[g_rand_int_range (gen->rand, 0, G_N_ELEMENTS (durations))];

      open_message (out, "CHARGING_REQUEST", stamp_us);
      if (!top_level)
        g_string_append (out, "\"data\":{");
      g_string_append_printf (out, "\"user_id\":\"user%05u\",\"cp_id\":\"%s\",\"requested_power\":%g,"
                                   "\"max_duration\":%d,\"connector\":%d,\"request_id\":\"",
                              user, cp, power, duration, g_rand_int_range (gen->rand, 1, 3));
      append_uuid (out, gen->rand);
      g_string_append (out, top_level ? "\"}" : "\"}}");
      g_string_append (key, cp);
    }
  else
    {
      guint32 level_dice = (guint32) g_rand_int_range (gen->rand, 0, 100);
      const gchar *level = level_dice < 80 ? "info" : level_dice < 95 ? "warning" : "critical";
      /* a third are for every CP (no cp_id) */
      gboolean broadcast = g_rand_int_range (gen->rand, 0, 3) == 0 &&
                           !(gen->keyed && gen->workload != WORKLOAD_FLEET);   /* all keyed by --cp-id */
      g_autofree gchar *cp = broadcast ? NULL : pick_cp (gen);

      open_message (out, "SYSTEM_NOTIFICATION", stamp_us);
      if (!top_level)
        g_string_append (out, "\"data\":{");
      g_string_append_printf (out, "\"level\":\"%s\",\"message\":\"%s\",", level,
                              notices[index % G_N_ELEMENTS (notices)]);
      if (cp != NULL)
        g_string_append_printf (out, "\"cp_id\":\"%s\",", cp);
      g_string_append (out, "\"origin\":\"central\"");
      g_string_append (out, top_level ? "}" : "}}");
      if (cp != NULL || !gen->keyed)
        g_string_append (key, cp != NULL ? cp : "central");
    }
}

/* bench/fleet: one message for virtual CP @cp (CP-%06u) */
static const gchar *
generate_fleet (Generator *gen, guint cp, gint64 stamp_us, GString *out, GString *key)
{
  guint user = (guint) g_rand_int_range (gen->rand, 0, (gint32) gen->n_users);
  const gchar *topic;

  g_string_truncate (out, 0);
  g_string_truncate (key, 0);
  g_string_append_printf (key, "CP-%06u", cp);
  if (g_rand_int_range (gen->rand, 0, 100) < 65)
    {
      topic = "charging_requests";
      open_message (out, "CHARGING_REQUEST", stamp_us);
      g_string_append_printf (out, "\"data\":{\"user_id\":\"user%05u\",\"cp_id\":\"%s\",\"requested_power\":%g,"
                                   "\"max_duration\":%d,\"connector\":1,\"request_id\":\"",
                              user, key->str, powers[g_rand_int_range (gen->rand, 0, G_N_ELEMENTS (powers))],
                              durations[g_rand_int_range (gen->rand, 0, G_N_ELEMENTS (durations))]);
      append_uuid (out, gen->rand);
      g_string_append (out, "\"}}");
    }
  else
    {
      topic = "user_messages";
      open_message (out, "USER_INFO", stamp_us);
      g_string_append_printf (out, "\"data\":{\"user_id\":\"user%05u\",\"source\":\"app\","
                                   "\"name\":\"%s %s\",\"vehicle\":\"%s\",\"locale\":\"es_ES\",\"account\":\"",
                              user, first_names[user % G_N_ELEMENTS (first_names)],
                              last_names[(user / 16) % G_N_ELEMENTS (last_names)],
                              vehicles[(user / 7) % G_N_ELEMENTS (vehicles)]);
      append_uuid (out, gen->rand);
      g_string_append (out, "\"}}");
    }
  return topic;
}

/* ---- librdkafka ---------------------------------------------------------- */

typedef struct {
  guint64 delivered;
  guint64 failed;
  gchar   first_error[256];
} Deliveries;

static void
dr_msg_cb (rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
  Deliveries *d = opaque;

  if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR)
    {
      if (d->failed++ == 0)
        g_strlcpy (d->first_error, rd_kafka_err2str (m->err), sizeof d->first_error);
    }
  else
    d->delivered++;
}

static gboolean
conf_set (rd_kafka_conf_t *conf, const gchar *key, const gchar *value)
{
  gchar errstr[512];

  if (rd_kafka_conf_set (conf, key, value, errstr, sizeof errstr) != RD_KAFKA_CONF_OK)
    {
      g_printerr ("evcp-bench-produce: %s=%s: %s\n", key, value, errstr);
      return FALSE;
    }
  return TRUE;
}

static gint
partition_count (rd_kafka_t *rk, const gchar *topic)
{
  rd_kafka_topic_t *rkt = rd_kafka_topic_new (rk, topic, NULL);
  const struct rd_kafka_metadata *md = NULL;
  rd_kafka_resp_err_t err;
  gint n = -1;

  err = rd_kafka_metadata (rk, 0, rkt, &md, METADATA_TIMEOUT_MS);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
    g_printerr ("evcp-bench-produce: metadata of %s: %s\n", topic, rd_kafka_err2str (err));
  else if (md->topic_cnt != 1 || md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR)
    g_printerr ("evcp-bench-produce: topic %s: %s\n", topic,
                md->topic_cnt == 1 ? rd_kafka_err2str (md->topics[0].err) : "not found");
  else
    n = md->topics[0].partition_cnt;
  if (md != NULL)
    rd_kafka_metadata_destroy (md);
  rd_kafka_topic_destroy (rkt);
  return n;
}

/* Sum of (high - low), the largest low watermark; FALSE on error. */
static gboolean
watermarks (rd_kafka_t *rk, const gchar *topic, gint partitions,
            gint64 *total, gint64 *max_low, gint64 *sum_high)
{
  *total = 0;
  *max_low = 0;
  *sum_high = 0;
  for (gint p = 0; p < partitions; p++)
    {
      int64_t low = -1, high = -1;
      rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets (rk, topic, p, &low, &high,
                                                                  METADATA_TIMEOUT_MS);

      if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
        {
          g_printerr ("evcp-bench-produce: watermarks of %s[%d]: %s\n", topic, p, rd_kafka_err2str (err));
          return FALSE;
        }
      *total += high - low;
      *sum_high += high;
      *max_low = MAX (*max_low, low);
    }
  return TRUE;
}

#define SINK_BUFFER (1024 * 1024)
#define SINK_TAIL   64

static int
sink (gint64 expected)
{
  g_autofree gchar *buf = g_malloc (SINK_BUFFER);
  gint64 lines = 0, lines_at_first = -1, lines_at_mark = -1;
  gint64 first_us = 0, mark_us = 0, end_us;
  gint64 mark = MAX (expected - SINK_TAIL, 1);

#ifdef F_SETPIPE_SZ
  /* so that the writer seldom waits for us (fails harmlessly on a file) */
  (void) fcntl (STDIN_FILENO, F_SETPIPE_SZ, SINK_BUFFER);
#endif
  for (;;)
    {
      ssize_t n = read (STDIN_FILENO, buf, SINK_BUFFER);
      gint64 now = g_get_monotonic_time ();

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          g_printerr ("evcp-bench-produce: --sink: %s\n", g_strerror (errno));
          return EXIT_FAILURE;
        }
      if (n == 0)
        break;
      for (const gchar *p = buf, *end = buf + n; (p = memchr (p, '\n', (gsize) (end - p))) != NULL; p++)
        lines++;
      if (lines_at_first < 0)
        {
          first_us = now;
          lines_at_first = lines;
        }
      if (lines_at_mark < 0 && lines >= mark)
        {
          mark_us = now;
          lines_at_mark = lines;
        }
    }
  end_us = g_get_monotonic_time ();
  if (lines_at_mark < 0)
    {
      lines_at_mark = lines;
      mark_us = end_us;
    }
  g_print ("lines=%" G_GINT64_FORMAT " timed_lines=%" G_GINT64_FORMAT " timed_us=%" G_GINT64_FORMAT
           " rate=%.0f to_eof_us=%" G_GINT64_FORMAT "\n",
           lines, lines_at_mark - lines_at_first, mark_us - first_us,
           mark_us > first_us ? (gdouble) (lines_at_mark - lines_at_first) * G_USEC_PER_SEC / (gdouble) (mark_us - first_us) : 0.0,
           end_us - first_us);
  return lines == expected ? EXIT_SUCCESS : 3;
}

static void
sleep_until (gint64 monotonic_us)
{
  gint64 now = g_get_monotonic_time ();

  if (monotonic_us > now)
    g_usleep ((gulong) (monotonic_us - now));
}

/* Creates @topic with the Admin API (a real broker whose auto-creation is
 * off); one that exists already is fine. */
static gboolean
create_topic (rd_kafka_t *rk, const gchar *topic, gint partitions)
{
  gchar errstr[512];
  rd_kafka_NewTopic_t *new_topic = rd_kafka_NewTopic_new (topic, partitions, -1, errstr, sizeof errstr);
  rd_kafka_queue_t *queue = rd_kafka_queue_new (rk);
  rd_kafka_event_t *event;
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__TIMED_OUT;

  if (new_topic == NULL)
    {
      g_printerr ("evcp-bench-produce: topic %s: %s\n", topic, errstr);
      rd_kafka_queue_destroy (queue);
      return FALSE;
    }
  rd_kafka_CreateTopics (rk, &new_topic, 1, NULL, queue);
  event = rd_kafka_queue_poll (queue, 30000);
  if (event != NULL)
    {
      const rd_kafka_CreateTopics_result_t *result = rd_kafka_event_CreateTopics_result (event);
      size_t n = 0;
      const rd_kafka_topic_result_t **results = result != NULL ? rd_kafka_CreateTopics_result_topics (result, &n) : NULL;

      err = rd_kafka_event_error (event);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR && n == 1)
        err = rd_kafka_topic_result_error (results[0]);
      rd_kafka_event_destroy (event);
    }
  rd_kafka_NewTopic_destroy (new_topic);
  rd_kafka_queue_destroy (queue);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
    {
      g_printerr ("evcp-bench-produce: cannot create topic %s: %s\n", topic, rd_kafka_err2str (err));
      return FALSE;
    }
  /* created on the controller: wait (30 s at most) until every partition has a leader */
  for (gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC; g_get_monotonic_time () < deadline;
       g_usleep (100 * 1000))
    {
      rd_kafka_topic_t *rkt = rd_kafka_topic_new (rk, topic, NULL);
      const struct rd_kafka_metadata *md = NULL;
      gboolean ready = FALSE;

      if (rd_kafka_metadata (rk, 0, rkt, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR &&
          md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
          md->topics[0].partition_cnt == partitions)
        {
          ready = TRUE;
          for (gint i = 0; i < md->topics[0].partition_cnt; i++)
            {
              gint64 low, high;

              /* a leader in the metadata may not know it is one yet */
              if (md->topics[0].partitions[i].err != RD_KAFKA_RESP_ERR_NO_ERROR ||
                  md->topics[0].partitions[i].leader < 0 ||
                  rd_kafka_query_watermark_offsets (rk, topic, i, &low, &high, 5000) != RD_KAFKA_RESP_ERR_NO_ERROR)
                ready = FALSE;
            }
        }
      if (md != NULL)
        rd_kafka_metadata_destroy (md);
      rd_kafka_topic_destroy (rkt);
      if (ready)
        return TRUE;
    }
  g_printerr ("evcp-bench-produce: topic %s has no leaders after 30 s\n", topic);
  return FALSE;
}

static gboolean
produce_one (rd_kafka_t *rk, const gchar *topic, gint32 partition, GString *key, GString *value)
{
  const gchar *k = key->len > 0 ? key->str : NULL;   /* no key: not keyed */
  rd_kafka_resp_err_t err;

  for (;;)
    {
      err = rd_kafka_producev (rk,
                               RD_KAFKA_V_TOPIC (topic),
                               RD_KAFKA_V_PARTITION (partition),
                               RD_KAFKA_V_KEY (k, key->len),
                               RD_KAFKA_V_VALUE (value->str, value->len),
                               RD_KAFKA_V_MSGFLAGS (RD_KAFKA_MSG_F_COPY),
                               RD_KAFKA_V_END);
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
        break;
      rd_kafka_poll (rk, 10);
    }
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
    {
      g_printerr ("evcp-bench-produce: produce: %s\n", rd_kafka_err2str (err));
      return FALSE;
    }
  rd_kafka_poll (rk, 0);
  return TRUE;
}

/* bench/fleet: K rounds over the N CPs, the broadcasts spread over them */
static gint
produce_fleet (rd_kafka_t *rk, Generator *gen, Deliveries *deliveries, guint n_cps, guint per_cp,
               gdouble seconds, guint broadcasts, const gchar *sample)
{
  g_autoptr(GString) value = g_string_sized_new (512);
  g_autoptr(GString) key = g_string_sized_new (32);
  g_autoptr(GHashTable) counts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_auto(GStrv) ids = g_strsplit (sample != NULL ? sample : "", ",", -1);
  guint64 total = (guint64) n_cps * per_cp, i = 0, bytes = 0;
  gdouble rate = seconds > 0 ? (gdouble) total / seconds : 0;
  gint64 start = g_get_monotonic_time (), elapsed;
  guint sent_broadcasts = 0;

  for (guint j = 0; ids[j] != NULL; j++)
    if (*ids[j] != '\0')
      g_hash_table_insert (counts, g_strdup (ids[j]), GUINT_TO_POINTER (0));
  for (guint round = 0; round < per_cp; round++)
    for (guint cp = 1; cp <= n_cps; cp++, i++)
      {
        const gchar *topic;
        gpointer count;

        if (rate > 0 && i % 64 == 0)
          sleep_until (start + (gint64) ((gdouble) i * G_USEC_PER_SEC / rate));
        /* the broadcasts evenly among the rest */
        while (sent_broadcasts < broadcasts && (guint64) sent_broadcasts * total <= i * (guint64) broadcasts)
          {
            g_string_truncate (key, 0);
            g_string_truncate (value, 0);
            open_message (value, "SYSTEM_NOTIFICATION", g_get_real_time ());
            g_string_append_printf (value, "\"data\":{\"level\":\"info\",\"message\":\"%s\",\"origin\":\"central\"}}",
                                    notices[sent_broadcasts % G_N_ELEMENTS (notices)]);
            if (!produce_one (rk, "system_notifications", RD_KAFKA_PARTITION_UA, key, value))
              return EXIT_FAILURE;
            sent_broadcasts++;
            bytes += value->len;
          }
        topic = generate_fleet (gen, cp, g_get_real_time (), value, key);
        if (g_hash_table_lookup_extended (counts, key->str, NULL, &count))
          g_hash_table_insert (counts, g_strdup (key->str), GUINT_TO_POINTER (GPOINTER_TO_UINT (count) + 1));
        if (!produce_one (rk, topic, RD_KAFKA_PARTITION_UA, key, value))
          return EXIT_FAILURE;
        bytes += value->len;
      }
  if (rd_kafka_flush (rk, FLUSH_TIMEOUT_MS) != RD_KAFKA_RESP_ERR_NO_ERROR)
    g_printerr ("evcp-bench-produce: flush timed out, %d messages left\n", rd_kafka_outq_len (rk));
  elapsed = g_get_monotonic_time () - start;
  for (guint j = 0; ids[j] != NULL; j++)
    if (*ids[j] != '\0')
      g_print ("sample %s messages=%u\n", ids[j],
               GPOINTER_TO_UINT (g_hash_table_lookup (counts, ids[j])) + sent_broadcasts);
  g_print ("produced=%" G_GUINT64_FORMAT " broadcasts=%u delivered=%" G_GUINT64_FORMAT " failed=%" G_GUINT64_FORMAT
           " bytes=%" G_GUINT64_FORMAT " avg_bytes=%.1f seconds=%.3f rate=%.0f\n",
           total, sent_broadcasts, deliveries->delivered, deliveries->failed, bytes,
           (gdouble) bytes / (gdouble) MAX (total + sent_broadcasts, 1), (gdouble) elapsed / G_USEC_PER_SEC,
           elapsed > 0 ? (gdouble) (total + sent_broadcasts) * G_USEC_PER_SEC / (gdouble) elapsed : 0.0);
  if (deliveries->failed > 0 || deliveries->delivered != total + sent_broadcasts)
    {
      g_printerr ("evcp-bench-produce: %" G_GUINT64_FORMAT " delivery failures (%s)\n",
                  deliveries->failed, deliveries->first_error);
      return 3;
    }
  return EXIT_SUCCESS;
}

int
main (int argc, char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *brokers = NULL;
  g_autofree gchar *topic = NULL;
  g_autofree gchar *workload_name = NULL;
  g_autofree gchar *cp_id = NULL;
  g_auto(GStrv) properties = NULL;
  gint64 count = 100000;
  gint seed = 1;
  gint cps = 100;
  gint users = 5000;
  gint rate = 0;
  gint batch_kb = 64;
  gboolean only_watermarks = FALSE;
  gint64 sink_count = 0;
  gint create = 0;
  gboolean keyed = FALSE;
  gint fleet = 0;
  gint per_cp = 4;
  gdouble seconds = 10;
  gint broadcasts = 20;
  g_autofree gchar *sample = NULL;
  guint64 own = 0;
  const GOptionEntry entries[] = {
    { "keyed", 0, 0, G_OPTION_ARG_NONE, &keyed, "The fleet mode's keys, partitioned by key (murmur2)", NULL },
    { "fleet", 0, 0, G_OPTION_ARG_INT, &fleet, "bench/fleet: messages for N virtual CPs", "N" },
    { "per-cp", 0, 0, G_OPTION_ARG_INT, &per_cp, "--fleet: messages per CP (default 4)", "K" },
    { "seconds", 0, 0, G_OPTION_ARG_DOUBLE, &seconds, "--fleet: spread over this time (default 10; 0: at once)", "S" },
    { "broadcasts", 0, 0, G_OPTION_ARG_INT, &broadcasts, "--fleet: notifications for every CP (default 20)", "B" },
    { "sample", 0, 0, G_OPTION_ARG_STRING, &sample, "--fleet: the CPs to count messages for", "ID,ID,..." },
    { "brokers", 'b', 0, G_OPTION_ARG_STRING, &brokers, "Bootstrap servers", "HOST:PORT" },
    { "topic", 't', 0, G_OPTION_ARG_STRING, &topic, "Topic", "NAME" },
    { "count", 'n', 0, G_OPTION_ARG_INT64, &count, "Messages to produce (default 100000)", "N" },
    { "workload", 'w', 0, G_OPTION_ARG_STRING, &workload_name, "fleet (default) or worst", "NAME" },
    { "seed", 's', 0, G_OPTION_ARG_INT, &seed, "Seed of the generator (default 1)", "S" },
    { "cp-id", 0, 0, G_OPTION_ARG_STRING, &cp_id, "The Engine's CP (default CP-001)", "ID" },
    { "cps", 0, 0, G_OPTION_ARG_INT, &cps, "CPs of the fleet (default 100)", "N" },
    { "users", 0, 0, G_OPTION_ARG_INT, &users, "Users of the fleet (default 5000)", "N" },
    { "rate", 'r', 0, G_OPTION_ARG_INT, &rate, "Messages a second, stamped with their production time (default: as fast as possible)", "R" },
    { "batch-kb", 0, 0, G_OPTION_ARG_INT, &batch_kb, "Batch size without --rate (default 64)", "KB" },
    { "property", 'X', 0, G_OPTION_ARG_STRING_ARRAY, &properties, "librdkafka property, repeatable", "KEY=VALUE" },
    { "watermarks", 0, 0, G_OPTION_ARG_NONE, &only_watermarks, "Only print the topic's watermarks", NULL },
    { "sink", 0, 0, G_OPTION_ARG_INT64, &sink_count, "Time N lines of a consumer's output on stdin instead", "N" },
    { "create", 0, 0, G_OPTION_ARG_INT, &create, "Create the topic with N partitions first (Admin API)", "N" },
    G_OPTION_ENTRY_NULL
  };
  Generator gen = { 0 };
  Deliveries deliveries = { 0 };
  g_autoptr(GString) value = g_string_sized_new (512);
  g_autoptr(GString) key = g_string_sized_new (32);
  rd_kafka_conf_t *conf;
  rd_kafka_t *rk;
  gchar errstr[512];
  gchar buf[32];
  gint partitions;
  gint64 total0, low0, high0, total1, low1, high1;
  guint64 bytes = 0;
  gint64 start, elapsed;
  gint exit_code = EXIT_SUCCESS;

  setlocale (LC_ALL, "C");   /* "%g" must print a dot */
  context = g_option_context_new ("- produce the workloads of the evcp dispatch benchmark");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("evcp-bench-produce: %s\n", error->message);
      return 2;
    }
  if (sink_count > 0)
    return sink (sink_count);
  if (brokers == NULL || (topic == NULL && fleet == 0))
    {
      g_printerr ("evcp-bench-produce: --brokers and --topic are required\n");
      return 2;
    }
  if (workload_name == NULL || g_strcmp0 (workload_name, "fleet") == 0)
    gen.workload = WORKLOAD_FLEET;
  else if (g_strcmp0 (workload_name, "worst") == 0)
    gen.workload = WORKLOAD_WORST;
  else if (g_strcmp0 (workload_name, "notices") == 0)
    gen.workload = WORKLOAD_NOTICES;
  else
    {
      g_printerr ("evcp-bench-produce: unknown workload %s\n", workload_name);
      return 2;
    }
  if (count < 0 || cps < 1 || users < 1 || rate < 0 || batch_kb < 1 || batch_kb > 1000)
    {
      g_printerr ("evcp-bench-produce: invalid --count, --cps, --users, --rate or --batch-kb\n");
      return 2;
    }
  gen.rand = g_rand_new_with_seed ((guint32) seed);
  gen.cp_id = g_strdup (cp_id != NULL ? cp_id : "CP-001");
  gen.n_cps = (guint) cps;
  gen.n_users = (guint) users;
  gen.base_time_us = G_GINT64_CONSTANT (1714564800) * G_USEC_PER_SEC;   /* 2024-05-01T12:00:00Z */
  gen.keyed = keyed;
  if (fleet < 0 || per_cp < 1 || broadcasts < 0 || seconds < 0)
    {
      g_printerr ("evcp-bench-produce: invalid --fleet, --per-cp, --broadcasts or --seconds\n");
      return 2;
    }

  conf = rd_kafka_conf_new ();
  g_snprintf (buf, sizeof buf, "%d", batch_kb * 1024);
  if (!conf_set (conf, "bootstrap.servers", brokers) ||
      !conf_set (conf, "enable.idempotence", "true") ||
      !conf_set (conf, "linger.ms", fleet > 0 ? "5" : rate > 0 ? "0" : "1000") ||
      !conf_set (conf, "partitioner", "murmur2_random") ||
      !conf_set (conf, "batch.size", buf) ||
      !conf_set (conf, "batch.num.messages", "100000") ||
      !conf_set (conf, "queue.buffering.max.messages", "1000000") ||
      !conf_set (conf, "queue.buffering.max.kbytes", "1048576"))
    return EXIT_FAILURE;
  for (guint i = 0; properties != NULL && properties[i] != NULL; i++)
    {
      g_auto(GStrv) kv = g_strsplit (properties[i], "=", 2);

      if (kv[1] == NULL)
        {
          g_printerr ("evcp-bench-produce: -X %s: KEY=VALUE expected\n", properties[i]);
          return 2;
        }
      if (!conf_set (conf, kv[0], kv[1]))
        return EXIT_FAILURE;
    }
  rd_kafka_conf_set_opaque (conf, &deliveries);
  rd_kafka_conf_set_dr_msg_cb (conf, dr_msg_cb);
  rk = rd_kafka_new (RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (rk == NULL)
    {
      g_printerr ("evcp-bench-produce: %s\n", errstr);
      return EXIT_FAILURE;
    }

  if (fleet > 0)
    {
      gint code = produce_fleet (rk, &gen, &deliveries, (guint) fleet, (guint) per_cp, seconds,
                                 (guint) broadcasts, sample);

      rd_kafka_destroy (rk);
      g_rand_free (gen.rand);
      g_free (gen.cp_id);
      return code;
    }
  if (create > 0 && !create_topic (rk, topic, create))
    {
      rd_kafka_destroy (rk);
      return EXIT_FAILURE;
    }
  partitions = partition_count (rk, topic);
  if (partitions < 1 || !watermarks (rk, topic, partitions, &total0, &low0, &high0))
    {
      rd_kafka_destroy (rk);
      return EXIT_FAILURE;
    }
  if (only_watermarks)
    {
      g_print ("topic=%s partitions=%d messages=%" G_GINT64_FORMAT " max_low=%" G_GINT64_FORMAT
               " sum_high=%" G_GINT64_FORMAT "\n", topic, partitions, total0, low0, high0);
      rd_kafka_destroy (rk);
      return low0 > 0 ? 3 : EXIT_SUCCESS;
    }

  start = g_get_monotonic_time ();
  for (gint64 i = 0; i < count; i++)
    {
      gint64 stamp;

      if (rate > 0)
        {
          sleep_until (start + i * G_USEC_PER_SEC / rate);
          stamp = g_get_real_time ();
        }
      else
        stamp = gen.base_time_us + i * 1000;
      generate (&gen, (guint64) i, stamp, value, key);
      bytes += value->len;
      if (key->len == 0 || strcmp (key->str, gen.cp_id) == 0)
        own++;
      if (!produce_one (rk, topic, keyed ? RD_KAFKA_PARTITION_UA : (int32_t) (i % partitions), key, value))
        {
          rd_kafka_destroy (rk);
          return EXIT_FAILURE;
        }
    }
  if (rd_kafka_flush (rk, FLUSH_TIMEOUT_MS) != RD_KAFKA_RESP_ERR_NO_ERROR)
    g_printerr ("evcp-bench-produce: flush timed out, %d messages left\n", rd_kafka_outq_len (rk));
  elapsed = g_get_monotonic_time () - start;

  if (!watermarks (rk, topic, partitions, &total1, &low1, &high1))
    exit_code = EXIT_FAILURE;
  else if (deliveries.failed > 0 || low1 > 0 || high1 - high0 != count || low0 > 0)
    {
      g_printerr ("evcp-bench-produce: %" G_GUINT64_FORMAT " delivery failures (%s); "
                  "max low watermark %" G_GINT64_FORMAT ", %" G_GINT64_FORMAT " appended: "
                  "messages were lost (the mock keeps about 5 MiB per partition: use more partitions)\n",
                  deliveries.failed, deliveries.first_error, low1, high1 - high0);
      exit_code = 3;
    }

  g_print ("produced=%" G_GINT64_FORMAT " delivered=%" G_GUINT64_FORMAT " failed=%" G_GUINT64_FORMAT
           " bytes=%" G_GUINT64_FORMAT " avg_bytes=%.1f seconds=%.3f rate=%.0f partitions=%d"
           " topic_messages=%" G_GINT64_FORMAT " max_low=%" G_GINT64_FORMAT " own=%" G_GUINT64_FORMAT "\n",
           count, deliveries.delivered, deliveries.failed, bytes,
           count > 0 ? (gdouble) bytes / (gdouble) count : 0.0,
           (gdouble) elapsed / G_USEC_PER_SEC,
           elapsed > 0 ? (gdouble) count * G_USEC_PER_SEC / (gdouble) elapsed : 0.0,
           partitions, total1, low1, own);

  rd_kafka_destroy (rk);
  g_rand_free (gen.rand);
  g_free (gen.cp_id);
  return exit_code;
}
