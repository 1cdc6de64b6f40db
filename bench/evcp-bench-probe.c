/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* evcp-bench-probe: an Engine plugin that measures the dispatch benchmark.
 *
 * It registers no handler: it only listens to EvcpKafkaService's
 * "message-received" signal (for the first message only) and learns of
 * every finished message through a done hook (evcp_kafka_service_add_done_hook(),
 * a plain function call), so dispatch is unchanged and the probe costs
 * next to nothing. With EVCP_BENCH_PROBE=signal it listens to the
 * "message-done" signal instead, as any GObject observer would: a signal
 * emission per message costs about a tenth of the Engine's main thread.
 *
 * Environment:
 *   EVCP_BENCH_RESULT   file to write the results to (key=value lines)
 *   EVCP_BENCH_COUNT    messages to wait for
 *   EVCP_BENCH_LATENCY  if 1: for each message, the wall time from its
 *                       "timestamp" (stamped at production) to its
 *                       "message-done", and from "message-received" to
 *                       "message-done", as percentiles
 *
 *   EVCP_BENCH_OWN      keyed mode (bench/run): records keyed by another CP
 *                       are skipped unparsed, with no "message-done"; this
 *                       many messages are this CP's (keyed by it or not
 *                       keyed). Once they are done, the rate is the
 *                       messages received (the service's
 *                       "messages-received", skipped ones included) over
 *                       the time so far; the probe then waits for all
 *                       EVCP_BENCH_COUNT to be received
 *   EVCP_BENCH_FLEET    bench/fleet: instead of the above, every 500 ms,
 *                       write to this file the messages done, those keyed
 *                       by this CP (or not keyed: for every CP), the
 *                       service's metrics, and librdkafka's last statistics
 *                       of the consumer to FILE.stats.json; never stops the
 *                       Engine
 *
 * When EVCP_BENCH_COUNT messages are done it reads its own peak RSS (VmHWM)
 * and CPU time, writes the results and raises SIGTERM, which stops the
 * Engine cleanly. The rate is measured from the first "message-received" to
 * the last "message-done", so the consumer group join is not counted.
 */
#define G_LOG_DOMAIN "evcp-bench-probe"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <gmodule.h>

#include <evcp-plugin.h>

EVCP_PLUGIN_DEFINE;

/* Two functions of the Engine that the SDK does not declare, for this
 * benchmark instrument only (a plugin that uses them is tied to one build
 * of evcp-engine): resolved in the evcp-engine executable, which exports
 * its symbols (gmodule's --export-dynamic). */
GVariant *evcp_kafka_service_get_metrics    (EvcpKafkaService *self);
gchar    *evcp_kafka_service_get_statistics (EvcpKafkaService *self);

typedef struct {
  gchar   *result_path;
  guint64  expected;
  gboolean latency;

  guint64  received;
  guint64  done;
  guint64  dead_letters;
  guint64  without_timestamp;
  gint64   first_received_us;    /* monotonic */
  gint64   last_done_us;         /* monotonic */
  gint64   cpu_at_first_ns;      /* process CPU time */
  gint64   received_real_us;     /* wall time of the message being dispatched */
  GArray  *end_to_end;           /* of gint64 µs: timestamp -> done */
  GArray  *dispatch;             /* of gint64 µs: received -> done */
  gboolean finished;
  gulong   received_id;

  EvcpKafkaService *service;
  guint64  own_expected;         /* keyed: this CP's messages */
  guint64  received_at_own;      /* keyed: received when they were done */
  gchar   *cp_id;
  gchar   *fleet_path;           /* bench/fleet */
  guint64  own_done;             /* keyed by this CP or not keyed */
} Probe;

static gint64
process_cpu_ns (void)
{
  struct timespec ts;

  if (clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &ts) != 0)
    return 0;
  return (gint64) ts.tv_sec * G_GINT64_CONSTANT (1000000000) + ts.tv_nsec;
}

/* "2024-05-01T12:00:00.123456Z" exactly as evcp-bench-produce writes it, to
 * the µs; anything else through GDateTime. */
static gboolean
parse_timestamp (const gchar *ts, gint64 *real_us)
{
  struct tm tm = { 0 };
  gint usec = 0;
  gint n = 0;

  if (strlen (ts) == 27 &&
      sscanf (ts, "%4d-%2d-%2dT%2d:%2d:%2d.%6d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
              &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &usec, &n) == 7 &&
      n == 26 && ts[26] == 'Z')
    {
      tm.tm_year -= 1900;
      tm.tm_mon -= 1;
      *real_us = (gint64) timegm (&tm) * G_USEC_PER_SEC + usec;
      return TRUE;
    }
  else
    {
      g_autoptr(GDateTime) dt = g_date_time_new_from_iso8601 (ts, NULL);

      if (dt == NULL)
        return FALSE;
      *real_us = g_date_time_to_unix (dt) * G_USEC_PER_SEC + g_date_time_get_microsecond (dt);
      return TRUE;
    }
}

static gint
compare_gint64 (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of a sorted array. */
static gint64
percentile (GArray *sorted, gdouble p)
{
  gsize rank;

  if (sorted->len == 0)
    return -1;
  rank = (gsize) (p / 100.0 * sorted->len + 0.999999);
  rank = CLAMP (rank, 1, sorted->len);
  return g_array_index (sorted, gint64, rank - 1);
}

static void
append_percentiles (GString *out, const gchar *name, GArray *values)
{
  static const gdouble ps[] = { 50, 90, 99, 99.9, 100 };
  static const gchar *const names[] = { "p50", "p90", "p99", "p999", "max" };

  g_array_sort (values, compare_gint64);
  for (guint i = 0; i < G_N_ELEMENTS (ps); i++)
    g_string_append_printf (out, "%s_%s_us=%" G_GINT64_FORMAT "\n", name, names[i],
                            percentile (values, ps[i]));
  g_string_append_printf (out, "%s_min_us=%" G_GINT64_FORMAT "\n", name,
                          values->len > 0 ? g_array_index (values, gint64, 0) : -1);
}

/* VmHWM and VmRSS in kB, from /proc/self/status (Linux). */
static void
append_memory (GString *out)
{
  g_autofree gchar *status = NULL;
  g_auto(GStrv) lines = NULL;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL))
    return;
  lines = g_strsplit (status, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      if (g_str_has_prefix (lines[i], "VmHWM:") || g_str_has_prefix (lines[i], "VmRSS:"))
        {
          g_autofree gchar *name = g_ascii_strdown (lines[i], 5);

          g_string_append_printf (out, "%s_kb=%" G_GUINT64_FORMAT "\n", name,
                                  g_ascii_strtoull (lines[i] + 6, NULL, 10));
        }
    }
}

static void
finish (Probe *probe)
{
  g_autoptr(GString) out = g_string_new (NULL);
  g_autoptr(GError) error = NULL;
  gint64 cpu_ns = process_cpu_ns () - probe->cpu_at_first_ns;
  gint64 elapsed_us = probe->last_done_us - probe->first_received_us;

  guint64 counted = probe->own_expected > 0 ? probe->received_at_own : probe->done;

  probe->finished = TRUE;
  g_string_append_printf (out, "messages=%" G_GUINT64_FORMAT "\n",
                          probe->own_expected > 0 ? probe->expected : probe->done);
  if (probe->own_expected > 0)
    g_string_append_printf (out, "own=%" G_GUINT64_FORMAT "\nreceived_at_own=%" G_GUINT64_FORMAT "\n",
                            probe->done, probe->received_at_own);
  if (probe->latency)
    g_string_append_printf (out, "received=%" G_GUINT64_FORMAT "\n", probe->received);
  g_string_append_printf (out, "dead_letters=%" G_GUINT64_FORMAT "\n", probe->dead_letters);
  g_string_append_printf (out, "elapsed_us=%" G_GINT64_FORMAT "\n", elapsed_us);
  g_string_append_printf (out, "rate=%.0f\n",
                          elapsed_us > 0 ? (gdouble) (counted - 1) * G_USEC_PER_SEC / (gdouble) elapsed_us : 0.0);
  g_string_append_printf (out, "cpu_ms=%.1f\n", (gdouble) cpu_ns / 1e6);
  append_memory (out);
  if (probe->latency)
    {
      g_string_append_printf (out, "without_timestamp=%" G_GUINT64_FORMAT "\n", probe->without_timestamp);
      append_percentiles (out, "latency", probe->end_to_end);
      append_percentiles (out, "dispatch", probe->dispatch);
    }

  {
    g_autofree gchar *tmp = g_strconcat (probe->result_path, ".tmp", NULL);

    if (!g_file_set_contents (tmp, out->str, (gssize) out->len, &error) ||
        g_rename (tmp, probe->result_path) != 0)
      g_warning ("Cannot write %s: %s", probe->result_path,
                 error != NULL ? error->message : g_strerror (errno));
  }
  g_message ("Benchmark probe: %" G_GUINT64_FORMAT " messages done, stopping the Engine", probe->done);
  raise (SIGTERM);
}

static guint64
metric (EvcpKafkaService *service, const gchar *name)
{
  g_autoptr(GVariant) metrics = g_variant_ref_sink (evcp_kafka_service_get_metrics (service));
  guint64 v = 0;

  g_variant_lookup (metrics, name, "t", &v);
  return v;
}

/* keyed: this CP's messages are done; the others, skipped, are received */
static gboolean
all_received_cb (gpointer data)
{
  Probe *probe = data;

  if (metric (probe->service, "messages-received") < probe->expected)
    return G_SOURCE_CONTINUE;
  finish (probe);
  return G_SOURCE_REMOVE;
}

static void
write_file (const gchar *path, const gchar *text, gsize len)
{
  g_autoptr(GError) error = NULL;
  g_autofree gchar *tmp = g_strconcat (path, ".tmp", NULL);

  if (!g_file_set_contents (tmp, text, (gssize) len, &error) || g_rename (tmp, path) != 0)
    g_warning ("Cannot write %s: %s", path, error != NULL ? error->message : g_strerror (errno));
}

/* bench/fleet: the counts so far, and librdkafka's last statistics */
static gboolean
fleet_write_cb (gpointer data)
{
  Probe *probe = data;
  g_autoptr(GString) out = g_string_new (NULL);
  g_autofree gchar *stats = evcp_kafka_service_get_statistics (probe->service);

  g_string_append_printf (out, "done=%" G_GUINT64_FORMAT "\nown_done=%" G_GUINT64_FORMAT "\n"
                          "received=%" G_GUINT64_FORMAT "\nskipped_by_key=%" G_GUINT64_FORMAT "\n"
                          "dead_letters=%" G_GUINT64_FORMAT "\nmonotonic_us=%" G_GINT64_FORMAT "\n",
                          probe->done, probe->own_done, metric (probe->service, "messages-received"),
                          metric (probe->service, "skipped-by-key"), probe->dead_letters,
                          g_get_monotonic_time ());
  if (stats != NULL)
    {
      g_autofree gchar *path = g_strconcat (probe->fleet_path, ".stats.json", NULL);

      write_file (path, stats, strlen (stats));
    }
  write_file (probe->fleet_path, out->str, out->len);
  return G_SOURCE_CONTINUE;
}

static gboolean
is_own (Probe *probe, EvcpMessage *message)
{
  GBytes *key = evcp_message_get_key_bytes (message);
  gsize len;
  const gchar *k;

  if (key == NULL)
    return TRUE;
  k = g_bytes_get_data (key, &len);
  return len == strlen (probe->cp_id) && memcmp (k, probe->cp_id, len) == 0;
}

static void
on_message_received (EvcpKafkaService *service, EvcpMessage *message, Probe *probe)
{
  if (probe->received++ == 0)
    {
      probe->first_received_us = g_get_monotonic_time ();
      probe->cpu_at_first_ns = process_cpu_ns ();
      /* For the rate, only the first one matters: a signal with a handler
       * costs a generic (libffi) marshalling per message, one without is
       * nearly free, so stop listening. */
      if (!probe->latency)
        g_clear_signal_handler (&probe->received_id, service);
    }
  if (probe->latency)
    probe->received_real_us = g_get_real_time ();
}

static void
message_done (EvcpMessage *message, const GError *dead_letter_error, gpointer data)
{
  Probe *probe = data;

  if (probe->finished)
    return;
  probe->done++;
  if (dead_letter_error != NULL)
    probe->dead_letters++;
  if (probe->fleet_path != NULL)
    {
      if (is_own (probe, message))
        probe->own_done++;
      if (probe->expected == 0)
        return;
    }

  if (probe->latency)
    {
      gint64 now = g_get_real_time ();
      const gchar *ts = evcp_message_is_parsed (message) ? evcp_message_get_timestamp (message) : NULL;
      gint64 stamp;

      /* done right after received, unless a dead letter was in flight */
      if (probe->received_real_us > 0)
        {
          gint64 d = now - probe->received_real_us;

          g_array_append_val (probe->dispatch, d);
        }
      if (ts != NULL && parse_timestamp (ts, &stamp))
        {
          gint64 l = now - stamp;

          g_array_append_val (probe->end_to_end, l);
        }
      else
        probe->without_timestamp++;
    }

  if (probe->own_expected > 0 && probe->done == probe->own_expected)
    {
      /* the rest are skipped records: counted by the service */
      probe->last_done_us = g_get_monotonic_time ();
      probe->received_at_own = metric (probe->service, "messages-received");
      if (all_received_cb (probe) == G_SOURCE_CONTINUE)
        g_timeout_add (1, all_received_cb, probe);
    }
  else if (probe->own_expected == 0 && probe->done >= probe->expected)
    {
      probe->last_done_us = g_get_monotonic_time ();
      finish (probe);
    }
}

/* connected swapped: (probe, message, error) */
static void
on_message_done_signal (Probe *probe, EvcpMessage *message, GError *dead_letter_error)
{
  message_done (message, dead_letter_error, probe);
}

G_MODULE_EXPORT gboolean
evcp_engine_plugin_init (EvcpKafkaService  *service,
                         EvcpPluginConfig  *config,
                         GError           **error)
{
  const gchar *path = g_getenv ("EVCP_BENCH_RESULT");
  const gchar *count = g_getenv ("EVCP_BENCH_COUNT");
  const gchar *own = g_getenv ("EVCP_BENCH_OWN");
  const gchar *fleet = g_getenv ("EVCP_BENCH_FLEET");
  Probe *probe;
  guint64 expected = 0;
  guint64 own_expected = 0;

  if (fleet != NULL && *fleet != '\0' && (path == NULL || *path == '\0'))
    {
      /* Lives as long as the process, like the module. */
      probe = g_new0 (Probe, 1);
      probe->service = service;
      probe->cp_id = g_strdup (evcp_plugin_config_get_cp_id (config));
      probe->fleet_path = g_strdup (fleet);
      evcp_kafka_service_add_done_hook (service, message_done, probe);
      g_timeout_add (500, fleet_write_cb, probe);
      g_message ("Benchmark probe: fleet counts of %s every 500 ms to %s", probe->cp_id, fleet);
      return TRUE;
    }
  if (own != NULL && *own != '\0' && !g_ascii_string_to_unsigned (own, 10, 1, G_MAXUINT64, &own_expected, NULL))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "EVCP_BENCH_OWN must be > 0");
      return FALSE;
    }
  if (path == NULL || *path == '\0' || count == NULL ||
      !g_ascii_string_to_unsigned (count, 10, 1, G_MAXUINT64, &expected, NULL))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           "EVCP_BENCH_RESULT and EVCP_BENCH_COUNT (> 0) must be set");
      return FALSE;
    }

  /* Lives as long as the process, like the module. */
  probe = g_new0 (Probe, 1);
  probe->result_path = g_strdup (path);
  probe->expected = expected;
  probe->own_expected = own_expected;
  probe->service = service;
  if (fleet != NULL && *fleet != '\0')
    {
      /* the fleet counts too (bench/fleet --real-idle: latency and fetches) */
      probe->cp_id = g_strdup (evcp_plugin_config_get_cp_id (config));
      probe->fleet_path = g_strdup (fleet);
      g_timeout_add (500, fleet_write_cb, probe);
    }
  probe->latency = g_strcmp0 (g_getenv ("EVCP_BENCH_LATENCY"), "1") == 0;
  if (probe->latency)
    {
      guint reserve = (guint) MIN (expected, 10000000);

      probe->end_to_end = g_array_sized_new (FALSE, FALSE, sizeof (gint64), reserve);
      probe->dispatch = g_array_sized_new (FALSE, FALSE, sizeof (gint64), reserve);
    }
  probe->received_id = g_signal_connect (service, "message-received",
                                         G_CALLBACK (on_message_received), probe);
  if (g_strcmp0 (g_getenv ("EVCP_BENCH_PROBE"), "signal") == 0)
    g_signal_connect_swapped (service, "message-done", G_CALLBACK (on_message_done_signal), probe);
  else
    evcp_kafka_service_add_done_hook (service, message_done, probe);
  g_message ("Benchmark probe: waiting for %" G_GUINT64_FORMAT " messages%s", expected,
             probe->latency ? ", measuring latency" : "");
  return TRUE;
}
