/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* evcp-driver: an EV driver for tests and demos. Sends CHARGING_REQUEST
 * messages to Kafka (topic charging_requests, key = the CP_ID), one from the
 * command line or one per line of a file, each after the previous one ended,
 * and follows charging_sessions for its sessions: SESSION_STARTED,
 * SESSION_TELEMETRY, SESSION_ENDED (the ticket) or REQUEST_REFUSED, matched
 * by user_id and cp_id.
 *
 * Exit status: 0 when every request ended (ticket or refusal), 1 on a
 * timeout or a Kafka failure, 2 on invalid usage.
 */
#define G_LOG_DOMAIN "evcp-driver"

#include "evcp-json-member.h"
#include "evcp-build-config.h"

#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib/gi18n-lib.h>
#include <json-glib/json-glib.h>
#include <librdkafka/rdkafka.h>

#include "evcp-config.h"
#include "evcp-i18n.h"
#include "evcp-program.h"
#include "evcp-json-limits.h"
#include "evcp-kafka-producer.h"
#include "evcp-kafka-consumer.h"
#include "evcp-kafka-util.h"
#include "evcp-log.h"
#include "evcp-platform.h"

#define REQUESTS_TOPIC  "charging_requests"
#define SESSIONS_TOPIC  "charging_sessions"
#define EXIT_USAGE      2
#define MAX_DURATION_S  (7 * 24 * 3600)
#define METADATA_TRY_MS 1000
#define CLOSE_TIMEOUT_MS 5000
#define MAX_EVENT_SIZE  (1024 * 1024)   /* an event it reads is a few hundred bytes */

static const gchar *const consumer_defaults[] = {
  "enable.auto.commit", "false",          /* it assigns, never joins, never commits */
  "enable.auto.offset.store", "false",
  "enable.partition.eof", "false",
  "fetch.wait.max.ms", "100",             /* progress is shown as it comes */
  "reconnect.backoff.ms", "100",
  "reconnect.backoff.max.ms", "5000",
  NULL
};

typedef struct {
  GMainLoop         *loop;
  EvcpConfig        *config;
  EvcpKafkaProducer *producer;
  EvcpKafkaConsumer *loop_consumer;  /* polls consumer */
  rd_kafka_t        *consumer;

  GPtrArray         *cps;          /* the requests, in order */
  guint              current;
  gchar             *user;
  gdouble            power_kw;
  guint              duration_s;
  guint              timeout_s;
  gdouble            interval_s;

  gboolean           waiting;      /* a request is out and has not ended */
  gchar             *session_id;
  guint              timeout_id;
  guint              interval_id;

  guint              tickets;
  guint              refused;
  gint               status;
} Driver;

static void send_request (Driver *driver);

static void
finish (Driver *driver, gint status)
{
  driver->status = status;
  g_clear_handle_id (&driver->timeout_id, g_source_remove);
  g_clear_handle_id (&driver->interval_id, g_source_remove);
  g_main_loop_quit (driver->loop);
}

static gchar *
format_number (gdouble value, const gchar *format)
{
  gchar buf[G_ASCII_DTOSTR_BUF_SIZE];

  return g_strdup (g_ascii_formatd (buf, sizeof buf, format, value));
}

static void G_GNUC_PRINTF (1, 2)
say (const gchar *format, ...)
{
  va_list args;
  g_autofree gchar *line = NULL;

  va_start (args, format);
  line = g_strdup_vprintf (format, args);
  va_end (args);
  fputs (line, stdout);
  fputc ('\n', stdout);
  fflush (stdout);
}

static const gchar *
current_cp (Driver *driver)
{
  return g_ptr_array_index (driver->cps, driver->current);
}

/* ---- timers ---------------------------------------------------------------- */

static gboolean
timeout_cb (gpointer user_data)
{
  Driver *driver = user_data;
  g_autofree gchar *seconds = g_strdup_printf ("%u", driver->timeout_s);

  driver->timeout_id = 0;
  /* TRANSLATORS: CP id, a number of seconds */
  g_printerr (_("evcp-driver: %s: no news of the request within %s s\n"), current_cp (driver), seconds);
  finish (driver, EXIT_FAILURE);
  return G_SOURCE_REMOVE;
}

static void
rearm_timeout (Driver *driver)
{
  g_clear_handle_id (&driver->timeout_id, g_source_remove);
  /* not g_timeout_add_seconds: it rounds to whole-second ticks and may fire early */
  driver->timeout_id = g_timeout_add (driver->timeout_s * 1000, timeout_cb, driver);
}

static gboolean
interval_cb (gpointer user_data)
{
  Driver *driver = user_data;

  driver->interval_id = 0;
  send_request (driver);
  return G_SOURCE_REMOVE;
}

/* The current request ended: the next one after the interval, or the end. */
static void
request_ended (Driver *driver)
{
  driver->waiting = FALSE;
  g_clear_pointer (&driver->session_id, g_free);
  g_clear_handle_id (&driver->timeout_id, g_source_remove);
  driver->current++;
  if (driver->current >= driver->cps->len)
    {
      g_autofree gchar *n = g_strdup_printf ("%u", driver->cps->len);
      g_autofree gchar *tickets = g_strdup_printf ("%u", driver->tickets);
      g_autofree gchar *refused = g_strdup_printf ("%u", driver->refused);

      /* TRANSLATORS: three numbers */
      say (_("Done: %s requests, %s tickets, %s refused"), n, tickets, refused);
      finish (driver, EXIT_SUCCESS);
      return;
    }
  driver->interval_id = g_timeout_add ((guint) (driver->interval_s * 1000), interval_cb, driver);
}

/* ---- producing ------------------------------------------------------------- */

static void
request_delivered (EvcpKafkaProducer *producer,
                   const GError      *error,
                   gint32             partition,
                   gint64             offset,
                   gpointer           user_data)
{
  Driver *driver = user_data;

  if (error != NULL)
    {
      g_printerr (_("evcp-driver: cannot send the request: %s\n"), error->message);
      finish (driver, EXIT_FAILURE);
      return;
    }
  g_debug ("request stored at %s[%d]@%" G_GINT64_FORMAT, REQUESTS_TOPIC, partition, offset);
}

static void
send_request (Driver *driver)
{
  const gchar *cp_id = current_cp (driver);
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autofree gchar *timestamp = g_date_time_format_iso8601 (now);
  g_autofree gchar *json = NULL;
  g_autofree gchar *power = format_number (driver->power_kw, "%g");
  g_autofree gchar *duration = g_strdup_printf ("%u", driver->duration_s);
  g_autoptr(GBytes) key = g_bytes_new (cp_id, strlen (cp_id));
  g_autoptr(GBytes) value = NULL;
  g_autoptr(GError) error = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "kind");
  json_builder_add_string_value (builder, "CHARGING_REQUEST");
  json_builder_set_member_name (builder, "timestamp");
  json_builder_add_string_value (builder, timestamp);
  json_builder_set_member_name (builder, "data");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "user_id");
  json_builder_add_string_value (builder, driver->user);
  json_builder_set_member_name (builder, "cp_id");
  json_builder_add_string_value (builder, cp_id);
  json_builder_set_member_name (builder, "requested_power");
  json_builder_add_double_value (builder, driver->power_kw);
  json_builder_set_member_name (builder, "max_duration");
  json_builder_add_int_value (builder, driver->duration_s);
  json_builder_end_object (builder);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  json = json_to_string (root, FALSE);
  value = g_bytes_new (json, strlen (json));

  /* TRANSLATORS: CP id, kW, seconds, user id */
  say (_("%s: asking for %s kW for at most %s s as %s"), cp_id, power, duration, driver->user);
  driver->waiting = TRUE;
  rearm_timeout (driver);
  if (!evcp_kafka_producer_produce (driver->producer, REQUESTS_TOPIC, key, value, NULL, 0,
                                    request_delivered, driver, &error))
    {
      g_printerr (_("evcp-driver: cannot send the request: %s\n"), error->message);
      finish (driver, EXIT_FAILURE);
    }
}

/* ---- consuming ------------------------------------------------------------- */

static gchar *
lookup_number (JsonObject *root, const gchar *name, const gchar *format)
{
  JsonNode *node = evcp_json_member_data_first (root, name);
  gdouble value = 0;

  if (node != NULL && JSON_NODE_HOLDS_VALUE (node))
    {
      if (json_node_get_value_type (node) == G_TYPE_INT64)
        value = (gdouble) json_node_get_int (node);
      else if (json_node_get_value_type (node) == G_TYPE_DOUBLE)
        value = json_node_get_double (node);
      else if (json_node_get_value_type (node) == G_TYPE_STRING)
        value = g_ascii_strtod (json_node_get_string (node), NULL);
    }
  if (!isfinite (value))
    value = 0;
  return format_number (value, format);
}

static void
on_session_event (Driver *driver, JsonObject *root)
{
  const gchar *kind = evcp_json_string_data_first (root, "kind");
  const gchar *cp_id = evcp_json_string_data_first (root, "cp_id");
  const gchar *user_id = evcp_json_string_data_first (root, "user_id");
  const gchar *session_id = evcp_json_string_data_first (root, "session_id");

  if (!driver->waiting || kind == NULL || g_strcmp0 (user_id, driver->user) != 0 ||
      g_strcmp0 (cp_id, current_cp (driver)) != 0)
    return;
  /* once started, only that session */
  if (driver->session_id != NULL && session_id != NULL && !g_str_equal (session_id, driver->session_id))
    return;

  if (g_str_equal (kind, "SESSION_STARTED"))
    {
      g_autofree gchar *power = lookup_number (root, "power_kw", "%g");

      g_free (driver->session_id);
      driver->session_id = g_strdup (session_id);
      /* TRANSLATORS: CP id, session id, kW */
      say (_("%s: session %s started at %s kW"), cp_id, session_id != NULL ? session_id : "?", power);
      rearm_timeout (driver);
    }
  else if (g_str_equal (kind, "SESSION_TELEMETRY"))
    {
      g_autofree gchar *kwh = lookup_number (root, "kwh", "%.3f");
      g_autofree gchar *eur = lookup_number (root, "eur", "%.2f");

      /* TRANSLATORS: CP id, kWh, EUR so far */
      say (_("%s: supplying: %s kWh, %s EUR"), cp_id, kwh, eur);
      rearm_timeout (driver);
    }
  else if (g_str_equal (kind, "SESSION_ENDED"))
    {
      g_autofree gchar *kwh = lookup_number (root, "kwh", "%.3f");
      g_autofree gchar *eur = lookup_number (root, "eur", "%.2f");
      const gchar *reason = evcp_json_string_data_first (root, "reason");

      /* TRANSLATORS: CP id, session id, kWh, EUR, why it ended */
      say (_("%s: ticket for session %s: %s kWh, %s EUR (%s)"), cp_id,
           session_id != NULL ? session_id : "?", kwh, eur, reason != NULL ? reason : "?");
      driver->tickets++;
      request_ended (driver);
    }
  else if (g_str_equal (kind, "REQUEST_REFUSED"))
    {
      const gchar *reason = evcp_json_string_data_first (root, "reason");

      /* TRANSLATORS: CP id, the reason */
      say (_("%s: request refused: %s"), cp_id, reason != NULL ? reason : "?");
      driver->refused++;
      request_ended (driver);
    }
}

/* A record of charging_sessions, from the consumer loop */
static void
on_record (gpointer user_data, rd_kafka_message_t *m, const gchar *topic)
{
  Driver *driver = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) root = evcp_json_parse_object (m->payload, m->len, MAX_EVENT_SIZE,
                                                     EVCP_JSON_LIMITS_DEFAULT_MAX_DEPTH, &error);

  if (root != NULL)
    on_session_event (driver, json_node_get_object (root));
  else
    g_debug ("charging_sessions@%" G_GINT64_FORMAT " skipped: %s", m->offset, error->message);
}

static const EvcpKafkaConsumerCallbacks loop_callbacks = {
  .record = on_record,
};

/*
 * Assigns every partition of charging_sessions from its current end, so
 * that every event produced after this returns is seen, and none before.
 * Blocking, bounded by @timeout_ms: it runs once, before the first request.
 */
static gboolean
follow_sessions (Driver *driver, guint timeout_ms, GError **error)
{
  g_autoptr(rd_kafka_topic_partition_list_t) assignment = NULL;
  rd_kafka_topic_t *topic = rd_kafka_topic_new (driver->consumer, SESSIONS_TOPIC, NULL);
  const struct rd_kafka_metadata *metadata = NULL;
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;

  for (;;)
    {
      err = rd_kafka_metadata (driver->consumer, 0, topic, &metadata, METADATA_TRY_MS);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR && metadata->topic_cnt == 1 &&
          metadata->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
          metadata->topics[0].partition_cnt > 0)
        break;
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
        {
          err = metadata->topic_cnt == 1 ? metadata->topics[0].err : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC;
          rd_kafka_metadata_destroy (metadata);
          metadata = NULL;
        }
      if (g_get_monotonic_time () >= deadline)
        {
          g_autofree gchar *what = NULL;

          rd_kafka_topic_destroy (topic);
          /* TRANSLATORS: %s is a Kafka topic */
          what = g_strdup_printf (_("Cannot find the topic %s"), SESSIONS_TOPIC);
          evcp_kafka_set_error (error, err, what);
          return FALSE;
        }
      g_usleep (100 * 1000);   /* the topic may be being created */
    }

  assignment = rd_kafka_topic_partition_list_new (metadata->topics[0].partition_cnt);
  for (int i = 0; i < metadata->topics[0].partition_cnt; i++)
    {
      gint32 partition = metadata->topics[0].partitions[i].id;
      gint64 low = 0, high = 0;
      gint64 left = MAX (deadline - g_get_monotonic_time (), 1000) / 1000;

      err = rd_kafka_query_watermark_offsets (driver->consumer, SESSIONS_TOPIC, partition,
                                              &low, &high, (int) MAX (left, METADATA_TRY_MS));
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
        {
          g_autofree gchar *what = NULL;

          rd_kafka_metadata_destroy (metadata);
          rd_kafka_topic_destroy (topic);
          /* TRANSLATORS: %s is a Kafka topic */
          what = g_strdup_printf (_("Cannot read the end of %s"), SESSIONS_TOPIC);
          evcp_kafka_set_error (error, err, what);
          return FALSE;
        }
      rd_kafka_topic_partition_list_add (assignment, SESSIONS_TOPIC, partition)->offset = high;
    }
  rd_kafka_metadata_destroy (metadata);
  rd_kafka_topic_destroy (topic);
  err = rd_kafka_assign (driver->consumer, assignment);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
    {
      g_autofree gchar *what = g_strdup_printf (_("Cannot follow %s"), SESSIONS_TOPIC);

      evcp_kafka_set_error (error, err, what);
      return FALSE;
    }
  return TRUE;
}

static gboolean
start_consumer (Driver *driver, GError **error)
{
  g_autoptr(rd_kafka_conf_t) conf = NULL;
  g_autofree gchar *group = g_strdup_printf ("evcp-driver-%08x%08x", g_random_int (), g_random_int ());
  gchar errstr[512];

  conf = evcp_kafka_conf_new (driver->config->kafka_brokers, consumer_defaults,
                              driver->config->rdkafka, driver->config->rdkafka_consumer, error);
  if (conf == NULL)
    return FALSE;
  /* rd_kafka_consumer_poll() needs a group id, even without joining */
  if (rd_kafka_conf_set (conf, "group.id", group, errstr, sizeof errstr) != RD_KAFKA_CONF_OK)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "group.id: %s", errstr);
      return FALSE;
    }
  driver->consumer = rd_kafka_new (RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
  if (driver->consumer == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   _("Cannot create the Kafka consumer: %s"), errstr);
      return FALSE;
    }
  conf = NULL; /* owned by the handle */
  driver->loop_consumer = evcp_kafka_consumer_new (&loop_callbacks, driver);
  /* polled once the main loop runs, after follow_sessions() */
  evcp_kafka_consumer_attach (driver->loop_consumer, driver->consumer, FALSE);
  return follow_sessions (driver, driver->timeout_s * 1000, error);
}

static void
stop (Driver *driver)
{
  g_clear_handle_id (&driver->timeout_id, g_source_remove);
  g_clear_handle_id (&driver->interval_id, g_source_remove);
  if (driver->loop_consumer != NULL)
    {
      rd_kafka_t *rk = evcp_kafka_consumer_detach (driver->loop_consumer);

      rd_kafka_consumer_close (rk);
      rd_kafka_destroy (rk);
      driver->consumer = NULL;
      g_clear_pointer (&driver->loop_consumer, evcp_kafka_consumer_free);
    }
  else
    g_clear_pointer (&driver->consumer, rd_kafka_destroy);
  if (driver->producer != NULL)
    {
      evcp_kafka_producer_close (driver->producer, CLOSE_TIMEOUT_MS);
      g_clear_object (&driver->producer);
    }
}

static gboolean
on_signal (gpointer user_data)
{
  Driver *driver = user_data;

  g_printerr ("%s\n", _("evcp-driver: interrupted"));
  finish (driver, EXIT_FAILURE);
  return G_SOURCE_CONTINUE;
}

/* One CP_ID per line; blank lines and lines starting with # are skipped. */
static gboolean
read_cp_file (const gchar *path, GPtrArray *cps, GError **error)
{
  g_autofree gchar *contents = NULL;
  g_auto(GStrv) lines = NULL;

  if (!g_file_get_contents (path, &contents, NULL, error))
    return FALSE;
  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      gchar *line = g_strstrip (lines[i]);

      if (*line == '\0' || *line == '#')
        continue;
      if (!g_utf8_validate (line, -1, NULL) || strpbrk (line, " \t#") != NULL)
        {
          g_autofree gchar *number = g_strdup_printf ("%u", i + 1);

          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       /* TRANSLATORS: file, line number */
                       _("%s, line %s: not a CP_ID"), path, number);
          return FALSE;
        }
      g_ptr_array_add (cps, g_strdup (line));
    }
  if (cps->len == 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("%s holds no CP_ID"), path);
      return FALSE;
    }
  return TRUE;
}

int
main (int argc, char **argv)
{
  g_autoptr(GOptionContext) option_context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(EvcpConfig) config = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autoptr(GPtrArray) cps = g_ptr_array_new_with_free_func (g_free);
  g_autofree gchar *config_file = NULL;
  g_autofree gchar *brokers = NULL;
  g_autofree gchar *cp_id = NULL;
  g_autofree gchar *file = NULL;
  g_autofree gchar *user = NULL;
  gdouble power_kw = 22;
  gint duration_s = 60;
  gint timeout_s = 30;
  gdouble interval_s = 4;
  gboolean verbose = FALSE;
  gboolean version = FALSE;
  Driver driver = { 0 };
  const GOptionEntry entries[] = {
    { "cp", 0, 0, G_OPTION_ARG_STRING, &cp_id,
      /* TRANSLATORS: --cp option */
      N_("Ask this charging point for a supply"), N_("CP_ID") },
    { "file", 'f', 0, G_OPTION_ARG_FILENAME, &file,
      N_("Ask each charging point of this file in turn (one CP_ID per line)"), N_("FILE") },
    { "user", 'u', 0, G_OPTION_ARG_STRING, &user, N_("The driver's user id (default: the login name)"), N_("ID") },
    { "power", 'p', 0, G_OPTION_ARG_DOUBLE, &power_kw, N_("Requested power in kW (default 22)"), N_("KW") },
    { "duration", 'd', 0, G_OPTION_ARG_INT, &duration_s, N_("Longest supply in seconds (default 60)"),
      N_("SECONDS") },
    { "interval", 'i', 0, G_OPTION_ARG_DOUBLE, &interval_s,
      N_("Pause after a session ends before the next request (default 4)"), N_("SECONDS") },
    { "timeout", 't', 0, G_OPTION_ARG_INT, &timeout_s,
      N_("Give up (exit 1) when a request has no news for this long (default 30)"), N_("SECONDS") },
    { "brokers", 'b', 0, G_OPTION_ARG_STRING, &brokers, N_("Kafka bootstrap servers (overrides KAFKA_BROKERS)"),
      N_("HOST:PORT,…") },
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_file,
      N_("Read [kafka] and [librdkafka…] settings from this key file"), N_("FILE") },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, N_("Show debug messages"), NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, &version, N_("Show the version and exit"), NULL },
    G_OPTION_ENTRY_NULL
  };

  evcp_i18n_init ();
  /* stdout is the driver's story; log lines go to stderr */
  g_log_writer_default_set_use_stderr (TRUE);

  option_context = g_option_context_new (NULL);
  g_option_context_set_summary (option_context,
    _("An EV driver for tests and demos: sends CHARGING_REQUEST messages to Kafka\n"
      "(charging_requests) and follows its sessions on charging_sessions until each\n"
      "ends with a ticket or a refusal. Exit status: 0 when every request ended,\n"
      "1 on a timeout or a Kafka failure, 2 on invalid usage."));
  g_option_context_add_main_entries (option_context, entries, GETTEXT_PACKAGE);
  g_option_context_set_translation_domain (option_context, GETTEXT_PACKAGE);
  if (!evcp_program_parse (option_context, "evcp-driver", 0, &argc, &argv))
    return EVCP_EXIT_USAGE;
  if (version)
    {
      g_autofree gchar *text = evcp_program_version ("evcp-driver");

      g_print ("%s", text);
      return EXIT_SUCCESS;
    }
  if ((cp_id == NULL) == (file == NULL) || !isfinite (power_kw) || power_kw <= 0 ||
      duration_s <= 0 || duration_s > MAX_DURATION_S || timeout_s <= 0 ||
      !isfinite (interval_s) || interval_s < 0 || interval_s > 3600)
    return evcp_program_usage_error ("evcp-driver",
                                     _("Give either --cp or --file, a power above 0, a duration above 0, "
                                        "a timeout above 0 and an interval of 0 to 3600 s"));
  evcp_log_init ("evcp-driver", NULL);
  if (verbose)
    evcp_log_set_level (EVCP_LOG_LEVEL_DEBUG);

  if (file != NULL)
    {
      if (!read_cp_file (file, cps, &error))
        {
          g_printerr ("evcp-driver: %s\n", error->message);
          return EXIT_USAGE;
        }
    }
  else
    g_ptr_array_add (cps, g_steal_pointer (&cp_id));
  if (user == NULL)
    user = g_strdup (g_get_user_name ());

  {
    const EvcpConfigOptions options = { .config_file = config_file, .kafka_brokers = brokers };

    config = evcp_config_load (&options, &error);
  }
  if (config == NULL)
    goto fail;

  loop = g_main_loop_new (NULL, FALSE);
  driver.loop = loop;
  driver.config = config;
  driver.cps = cps;
  driver.user = user;
  driver.power_kw = power_kw;
  driver.duration_s = (guint) duration_s;
  driver.timeout_s = (guint) timeout_s;
  driver.interval_s = interval_s;
  evcp_platform_watch_shutdown (on_signal, &driver);

  driver.producer = evcp_kafka_producer_new (config->kafka_brokers, config->rdkafka,
                                             config->rdkafka_producer, &error);
  if (driver.producer == NULL || !start_consumer (&driver, &error))
    {
      stop (&driver);
      goto fail;
    }
  send_request (&driver);
  g_main_loop_run (loop);
  stop (&driver);
  g_free (driver.session_id);
  return driver.status;

fail:
  g_printerr ("evcp-driver: %s\n", error->message);
  return EXIT_FAILURE;
}
