/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "evcp-monitor"

#include "evcp-build-config.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>

#include "evcp-error.h"
#include "evcp-kafka-outbox-sender.h"
#include "evcp-kafka-producer.h"
#include "evcp-kafka-util.h"
#include "evcp-monitor-metrics.h"
#include "evcp-monitoring-service.h"
#include "evcp-platform.h"
#include "evcp-plugin-loader.h"
#include "evcp-prometheus.h"
#include "evcp-state-dir.h"

#define OUTBOX_FILE          "outbox.json"
#define REPORTED_FILE        "monitor-status"
#define SHUTDOWN_FLUSH_MS    2000
/* Periodic events wait in the outbox while Kafka is away, but only so many:
 * status changes and alerts always go in. */
#define PERIODIC_MAX_PENDING 256

struct _EvcpMonitoringService
{
  GObject                parent_instance;

  EvcpConfig            *config;
  EvcpMonitorThresholds  thresholds;
  EvcpMonitorMetrics    *metrics;
  EvcpHealthChecker     *checker;
  gboolean               started;

  GCancellable          *cancellable;    /* the check running */
  guint                  check_timer;
  guint                  event_timer;
  gint64                 next_check_us;

  EvcpStateDir          *state;
  gchar                 *state_dir;
  EvcpOutbox            *outbox;
  EvcpCentralClient     *central;
  EvcpKafkaProducer     *producer;
  EvcpKafkaOutboxSender *kafka_sender;
  EvcpMetricsServer     *metrics_server;
  GStrv                  plugins;

  /* the last status that went to Central in a frame (persisted): FAULT and
   * RECOVERED alternate on the link, across restarts of the Monitor */
  EvcpMonitorState       reported;

  guint64                outbox_failures;
  guint64                periodic_skipped;
  guint64                best_effort_deliveries;

  guint                  test_kafka_backoff_ms;
  guint                  test_central_ack_ms;
  guint                  test_central_backoff_ms;
};

G_DEFINE_TYPE (EvcpMonitoringService, evcp_monitoring_service, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_STATUS,
  N_PROPS
};
static GParamSpec *props[N_PROPS];

enum {
  SIGNAL_STATUS_CHANGED,
  SIGNAL_ALERT,
  SIGNAL_CHECK_COMPLETED,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

static void schedule_check (EvcpMonitoringService *self);

/* ---- the status --------------------------------------------------------------- */

static EvcpMonitorStatus *
snapshot (EvcpMonitoringService *self, gint64 now_us)
{
  EvcpMonitorStatus *status = evcp_monitor_status_new ();

  g_free (status->id);
  status->id = g_strdup (self->config->cp_id);
  evcp_monitor_metrics_fill_status (self->metrics, now_us, status);
  status->timestamp_us = g_get_real_time ();
  return status;
}

static void
load_reported (EvcpMonitoringService *self)
{
  g_autofree gchar *path = g_build_filename (self->state_dir, REPORTED_FILE, NULL);
  g_autoptr(GKeyFile) kf = g_key_file_new ();
  g_autofree gchar *value = NULL;

  self->reported = EVCP_MONITOR_UNKNOWN;
  if (!g_key_file_load_from_file (kf, path, G_KEY_FILE_NONE, NULL))
    return;
  value = g_key_file_get_string (kf, "monitor", "reported", NULL);
  if (g_strcmp0 (value, "KO") == 0)
    self->reported = EVCP_MONITOR_KO;
  else if (g_strcmp0 (value, "OK") == 0)
    self->reported = EVCP_MONITOR_OK;
}

static void
save_reported (EvcpMonitoringService *self, EvcpMonitorState state)
{
  g_autofree gchar *path = g_build_filename (self->state_dir, REPORTED_FILE, NULL);
  g_autofree gchar *contents = g_strdup_printf ("[monitor]\nreported=%s\n",
                                                evcp_monitor_state_to_string (state));
  g_autoptr(GError) error = NULL;

  self->reported = state;
  if (!g_file_set_contents_full (path, contents, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, &error))
    g_warning (_("Cannot save the reported status: %s"), error->message);
}

/* ---- outputs -------------------------------------------------------------------- */

static void
best_effort_delivered (EvcpKafkaProducer *producer, const GError *error, gint32 partition,
                       gint64 offset, gpointer user_data)
{
  if (error != NULL)
    g_warning (_("Monitoring event lost: %s"), error->message);
}

/* The outbox could not take the event (disk full, read-only): the outputs
 * get it best-effort rather than not at all; the log says so. */
static void
send_degraded (EvcpMonitoringService *self, const gchar * const *central_fields, JsonObject *event)
{
  if (central_fields != NULL && self->central != NULL)
    evcp_central_client_send (self->central, central_fields);
  if (event != NULL && self->producer != NULL)
    {
      g_autoptr(JsonNode) node = json_node_new (JSON_NODE_OBJECT);
      g_autoptr(GBytes) key = g_bytes_new (self->config->cp_id, strlen (self->config->cp_id));
      g_autoptr(GBytes) value = NULL;
      g_autoptr(GError) error = NULL;
      g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
      g_autofree gchar *timestamp = g_date_time_format_iso8601 (now);
      gchar *text;

      if (!json_object_has_member (event, "timestamp"))
        json_object_set_string_member (event, "timestamp", timestamp);
      json_node_set_object (node, event);
      text = json_to_string (node, FALSE);
      value = g_bytes_new_take (text, strlen (text));
      if (!evcp_kafka_producer_produce (self->producer, self->config->monitoring_topic, key, value,
                                        NULL, 0, best_effort_delivered, NULL, &error))
        g_warning (_("Monitoring event lost: %s"), error->message);
      else
        self->best_effort_deliveries++;
    }
}

/* One event for the outputs that must not lose it: a record of the outbox,
 * due at Central if @central_fields, at Kafka if @event. */
static gboolean
emit_record (EvcpMonitoringService *self, const gchar * const *central_fields, JsonObject *event)
{
  g_autoptr(GError) error = NULL;
  const EvcpOutboxRecord *record;

  if (self->outbox == NULL)
    return FALSE;
  record = evcp_outbox_append (self->outbox, central_fields,
                               event != NULL ? self->config->monitoring_topic : NULL,
                               event != NULL ? self->config->cp_id : NULL,
                               event, &error);
  if (record == NULL)
    {
      self->outbox_failures++;
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                        "EVCP_OUTBOX", evcp_outbox_get_path (self->outbox),
                        "MESSAGE", _("Cannot keep a monitoring event in the outbox (%s); "
                                     "it is sent without the guarantee of delivery"),
                        error->message);
      send_degraded (self, central_fields, event);
      return FALSE;
    }
  {
    g_autofree gchar *seq = g_strdup_printf ("%" G_GUINT64_FORMAT, evcp_outbox_record_get_seq (record));

    g_debug ("Monitoring event %s queued (%s%s)", seq,
             central_fields != NULL ? central_fields[0] : "",
             event != NULL ? " +kafka" : "");
  }
  return TRUE;
}

/* {"kind": "MONITORING_EVENT", "data": {…status…, "event": @what}} */
static JsonObject *
make_event (const EvcpMonitorStatus *status, const gchar *what, const EvcpMonitorAlert *alert)
{
  JsonObject *event = json_object_new ();
  JsonObject *data = evcp_monitor_status_to_json (status);

  json_object_set_string_member (data, "event", what);
  if (alert != NULL)
    json_object_set_object_member (data, "alert", evcp_monitor_alert_to_json (alert));
  json_object_set_string_member (event, "kind", "MONITORING_EVENT");
  json_object_set_object_member (event, "data", data);
  return event;
}

static void
status_changed (EvcpMonitoringService *self, gint64 now_us)
{
  g_autoptr(EvcpMonitorStatus) status = snapshot (self, now_us);
  g_autoptr(JsonObject) event = make_event (status, "STATUS_CHANGE", NULL);
  const gchar *fault[] = { "FAULT", self->config->cp_id, status->reason, NULL };
  const gchar *recovered[] = { "RECOVERED", self->config->cp_id, NULL };
  const gchar * const *frame = NULL;

  if (status->status == EVCP_MONITOR_KO)
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                      "EVCP_MONITOR_STATUS", "KO",
                      "EVCP_CP_ID", self->config->cp_id,
                      /* TRANSLATORS: the CP_ID, the reason of the failed check */
                      "MESSAGE", _("The Engine of %s is KO: %s"), self->config->cp_id, status->reason);
  else
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                      "EVCP_MONITOR_STATUS", "OK",
                      "EVCP_CP_ID", self->config->cp_id,
                      "MESSAGE", _("The Engine of %s is OK"), self->config->cp_id);

  /* Central sees FAULT and RECOVERED alternate: a FAULT already reported
   * (before a restart of the Monitor) is not reported again, and a
   * RECOVERED goes only after a FAULT. */
  if (status->status == EVCP_MONITOR_KO && self->reported != EVCP_MONITOR_KO)
    frame = fault;
  else if (status->status == EVCP_MONITOR_OK && self->reported == EVCP_MONITOR_KO)
    frame = recovered;

  emit_record (self, frame, event);
  if (frame != NULL)
    save_reported (self, status->status);

  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_STATUS]);
  g_signal_emit (self, signals[SIGNAL_STATUS_CHANGED], 0, status);
}

/* @result: the check just done, or NULL */
static void
update_alerts (EvcpMonitoringService *self, gint64 now_us, const EvcpHealthResult *result)
{
  g_autoptr(GPtrArray) changed = g_ptr_array_new_with_free_func ((GDestroyNotify) evcp_monitor_alert_free);
  g_autoptr(EvcpMonitorStatus) status = NULL;
  guint n = evcp_monitor_metrics_update_alerts (self->metrics, now_us, changed);

  /* an OK answer says whether the Engine warns (a KO one: the status says) */
  if (result != NULL && result->outcome == EVCP_HEALTH_OUTCOME_OK)
    n += evcp_monitor_metrics_set_engine_warning (self->metrics, result->warning, changed);
  if (n == 0)
    return;
  status = snapshot (self, now_us);
  for (guint i = 0; i < changed->len; i++)
    {
      EvcpMonitorAlert *alert = changed->pdata[i];
      g_autoptr(JsonObject) event = make_event (status, "ALERT", alert);

      g_log_structured (G_LOG_DOMAIN, alert->firing ? G_LOG_LEVEL_WARNING : G_LOG_LEVEL_MESSAGE,
                        "EVCP_MONITOR_ALERT", evcp_monitor_alert_kind_to_string (alert->kind),
                        "EVCP_CP_ID", self->config->cp_id,
                        /* TRANSLATORS: the CP_ID, then a description in English */
                        "MESSAGE", alert->firing ? _("Alert for %s: %s") : _("Alert resolved for %s: %s"),
                        self->config->cp_id, alert->message);
      emit_record (self, NULL, event);
      g_signal_emit (self, signals[SIGNAL_ALERT], 0, alert, status);
    }
}

static gboolean
periodic_event_cb (gpointer user_data)
{
  EvcpMonitoringService *self = user_data;
  gint64 now_us = g_get_monotonic_time ();
  g_autoptr(EvcpMonitorStatus) status = NULL;
  g_autoptr(JsonObject) event = NULL;

  if (evcp_monitor_metrics_get_status (self->metrics) == EVCP_MONITOR_UNKNOWN)
    return G_SOURCE_CONTINUE;
  if (self->outbox != NULL &&
      evcp_outbox_get_length (self->outbox, EVCP_OUTBOX_KAFKA) >= PERIODIC_MAX_PENDING)
    {
      if (self->periodic_skipped++ == 0)
        g_warning (_("Kafka has not taken the monitoring events for a while: periodic events are "
                     "skipped until it does (status changes are still kept)"));
      return G_SOURCE_CONTINUE;
    }
  status = snapshot (self, now_us);
  event = make_event (status, "PERIODIC", NULL);
  emit_record (self, NULL, event);
  return G_SOURCE_CONTINUE;
}

/* ---- checks -------------------------------------------------------------------- */

static void
on_check_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  EvcpMonitoringService *self = user_data;   /* a reference, released here */
  g_autoptr(GError) error = NULL;
  g_autoptr(EvcpHealthResult) result = NULL;
  gint64 now_us = g_get_monotonic_time ();

  result = evcp_health_checker_check_finish (EVCP_HEALTH_CHECKER (source), res, &error);
  if (result == NULL)
    {
      /* cancelled by stop() */
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_warning (_("Health check: %s"), error->message);
      g_object_unref (self);
      return;
    }
  if (!self->started)
    {
      g_object_unref (self);
      return;
    }
  if (evcp_monitor_metrics_record (self->metrics, now_us,
                                   result->outcome == EVCP_HEALTH_OUTCOME_OK,
                                   result->answered, result->latency_ms, result->reason))
    status_changed (self, now_us);
  update_alerts (self, now_us, result);
  g_signal_emit (self, signals[SIGNAL_CHECK_COMPLETED], 0, result);
  if (self->started)
    schedule_check (self);
  g_object_unref (self);
}

static gboolean
run_check_cb (gpointer user_data)
{
  EvcpMonitoringService *self = user_data;
  gint64 now_us = g_get_monotonic_time ();

  self->check_timer = 0;
  /* one check per interval, on a fixed cadence; a late one does not
   * make the next ones late */
  self->next_check_us += (gint64) self->config->health_interval_ms * 1000;
  if (self->next_check_us <= now_us)
    self->next_check_us = now_us + (gint64) self->config->health_interval_ms * 1000;
  g_clear_object (&self->cancellable);
  self->cancellable = g_cancellable_new ();
  evcp_health_checker_check_async (self->checker, self->config->health_interval_ms,
                                   self->cancellable, on_check_done, g_object_ref (self));
  return G_SOURCE_REMOVE;
}

static void
schedule_check (EvcpMonitoringService *self)
{
  gint64 delay_us = self->next_check_us - g_get_monotonic_time ();

  g_clear_handle_id (&self->check_timer, g_source_remove);
  if (delay_us <= 0)
    self->check_timer = g_idle_add (run_check_cb, self);
  else
    self->check_timer = g_timeout_add ((guint) ((delay_us + 999) / 1000), run_check_cb, self);
}

/* ---- start and stop ------------------------------------------------------------ */

gboolean
evcp_monitoring_service_start (EvcpMonitoringService *self, GError **error)
{
  g_autofree gchar *outbox_path = NULL;
  g_autoptr(EvcpOutbox) outbox = NULL;
  g_autoptr(EvcpKafkaProducer) producer = NULL;
  g_autoptr(EvcpMetricsServer) metrics_server = NULL;
  EvcpConfig *config;

  g_return_val_if_fail (EVCP_IS_MONITORING_SERVICE (self), FALSE);
  g_return_val_if_fail (!self->started, FALSE);

  config = self->config;
  /* the same checks as the Engine's: what reaches Central's frames too */
  if (!evcp_config_validate (config, error))
    return FALSE;

  /* one CP, one process (evcp-state-dir.h); a start again keeps its own */
  if (self->state == NULL)
    self->state = evcp_state_dir_open (config->state_dir, "monitor", config->cp_id, error);
  if (self->state == NULL)
    return FALSE;
  g_free (self->state_dir);
  self->state_dir = g_strdup (evcp_state_dir_get_path (self->state));
  outbox_path = g_build_filename (self->state_dir, OUTBOX_FILE, NULL);
  outbox = evcp_outbox_new (outbox_path, error);
  if (outbox == NULL)
    return FALSE;
  evcp_kafka_default_client_id (config->rdkafka, config->cp_id);
  producer = evcp_kafka_producer_new (config->kafka_brokers, config->rdkafka,
                                      config->rdkafka_producer, error);
  if (producer == NULL)
    return FALSE;
  if (config->monitor_metrics_address != NULL && *config->monitor_metrics_address != '\0')
    {
      g_autoptr(GError) local_error = NULL;

      metrics_server = evcp_metrics_server_new (evcp_monitoring_service_format_metrics, self, NULL);
      if (!evcp_metrics_server_listen (metrics_server, config->monitor_metrics_address, &local_error))
        {
          if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE))
            g_prefix_error (&local_error, _("Port in use: change [monitor] metrics-address (--metrics-address). "));
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
    }

  /* nothing can fail from here on */
  self->outbox = g_steal_pointer (&outbox);
  self->producer = g_steal_pointer (&producer);
  self->metrics_server = g_steal_pointer (&metrics_server);
  load_reported (self);

  self->kafka_sender = evcp_kafka_outbox_sender_new (self->outbox, self->producer);
  if (self->test_kafka_backoff_ms > 0)
    evcp_kafka_outbox_sender_set_backoff (self->kafka_sender, self->test_kafka_backoff_ms,
                                          self->test_kafka_backoff_ms * 4);
  evcp_kafka_outbox_sender_start (self->kafka_sender);

  self->central = evcp_central_client_new (config->central_host, (guint16) config->central_port,
                                           EVCP_CENTRAL_ROLE_MONITOR, config->cp_id,
                                           config->location, config->price_eur_kwh, self->outbox);
  evcp_central_client_set_secret (self->central, config->central_secret);
  if (self->test_central_ack_ms > 0 || self->test_central_backoff_ms > 0)
    evcp_central_client_set_timing (self->central, self->test_central_ack_ms, 0,
                                    self->test_central_backoff_ms, self->test_central_backoff_ms * 4);
  evcp_central_client_start (self->central);

  g_clear_pointer (&self->metrics, evcp_monitor_metrics_free);
  self->metrics = evcp_monitor_metrics_new (&self->thresholds, g_get_monotonic_time ());
  g_clear_object (&self->checker);
  self->checker = evcp_health_checker_new (config->engine_host, (guint16) config->engine_port,
                                           config->cp_id);

  if (config->plugin_dir != NULL)
    {
      g_autoptr(GError) local_error = NULL;

      g_strfreev (self->plugins);
      self->plugins = evcp_plugins_load (config->plugin_dir, EVCP_PLUGIN_MONITOR,
                                         self, config, &local_error);
      /* a missing plugin directory costs the plugins, not the Monitor */
      if (self->plugins == NULL)
        g_warning ("%s", local_error->message);
    }

  self->started = TRUE;
  self->next_check_us = g_get_monotonic_time ();
  schedule_check (self);
  if (config->event_interval_s > 0)
    self->event_timer = g_timeout_add_seconds (config->event_interval_s, periodic_event_cb, self);

  {
    g_autofree gchar *interval = g_strdup_printf ("%u", config->health_interval_ms);
    g_autofree gchar *port = g_strdup_printf ("%u", config->engine_port);

    /* TRANSLATORS: CP_ID, Engine host, port, interval in ms */
    g_message (_("Monitor of %s started: checking the Engine at %s:%s every %s ms"),
               config->cp_id, config->engine_host, port, interval);
  }
  return TRUE;
}

void
evcp_monitoring_service_stop (EvcpMonitoringService *self)
{
  g_return_if_fail (EVCP_IS_MONITORING_SERVICE (self));

  if (!self->started)
    return;
  self->started = FALSE;
  g_clear_handle_id (&self->check_timer, g_source_remove);
  g_clear_handle_id (&self->event_timer, g_source_remove);
  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);

  if (self->central != NULL)
    evcp_central_client_stop (self->central);
  /* the sender first: deliveries in flight are still acknowledged while
   * the producer flushes */
  if (self->kafka_sender != NULL)
    evcp_kafka_outbox_sender_stop (self->kafka_sender);
  if (self->producer != NULL)
    evcp_kafka_producer_close (self->producer, SHUTDOWN_FLUSH_MS);
  if (self->metrics_server != NULL)
    evcp_metrics_server_stop (self->metrics_server);
  g_clear_object (&self->kafka_sender);
  g_clear_object (&self->central);
  g_clear_object (&self->producer);
  g_clear_object (&self->metrics_server);
  {
    guint pending = self->outbox != NULL ? evcp_outbox_get_length (self->outbox, EVCP_OUTBOX_CENTRAL |
                                                                                  EVCP_OUTBOX_KAFKA)
                                         : 0;
    g_autofree gchar *n = g_strdup_printf ("%u", pending);

    g_message (_("Monitor of %s stopped (%s events wait in the outbox)"), self->config->cp_id, n);
  }
  g_clear_object (&self->outbox);
}

/* ---- reading ----------------------------------------------------------------------- */

EvcpConfig *
evcp_monitoring_service_get_config (EvcpMonitoringService *self)
{
  g_return_val_if_fail (EVCP_IS_MONITORING_SERVICE (self), NULL);
  return self->config;
}

EvcpMonitorState
evcp_monitoring_service_get_state (EvcpMonitoringService *self)
{
  g_return_val_if_fail (EVCP_IS_MONITORING_SERVICE (self), EVCP_MONITOR_UNKNOWN);
  return evcp_monitor_metrics_get_status (self->metrics);
}

EvcpMonitorStatus *
evcp_monitoring_service_get_status (EvcpMonitoringService *self)
{
  g_return_val_if_fail (EVCP_IS_MONITORING_SERVICE (self), NULL);
  return snapshot (self, g_get_monotonic_time ());
}

GVariant *
evcp_monitoring_service_get_metrics (EvcpMonitoringService *self)
{
  gint64 now_us = g_get_monotonic_time ();
  g_autoptr(EvcpMonitorStatus) status = NULL;
  g_autoptr(GVariant) fields = NULL;
  g_autofree gchar *engine = NULL;
  GVariantBuilder b, alerts;
  GVariantIter iter;
  const gchar *key;
  GVariant *value;

  g_return_val_if_fail (EVCP_IS_MONITORING_SERVICE (self), NULL);

  status = snapshot (self, now_us);
  fields = g_variant_ref_sink (evcp_monitor_status_to_variant (status));
  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  g_variant_iter_init (&iter, fields);
  while (g_variant_iter_next (&iter, "{&sv}", &key, &value))
    {
      g_variant_builder_add (&b, "{sv}", key, value);
      g_variant_unref (value);
    }
  g_variant_builder_add (&b, "{sv}", "latency_p50_ms",
                         g_variant_new_double (evcp_monitor_metrics_get_latency_quantile (self->metrics, now_us, 0.5)));
  g_variant_builder_add (&b, "{sv}", "latency_p99_ms",
                         g_variant_new_double (evcp_monitor_metrics_get_latency_quantile (self->metrics, now_us, 0.99)));
  g_variant_builder_add (&b, "{sv}", "faults_in_window",
                         g_variant_new_uint32 (evcp_monitor_metrics_get_faults_in_window (self->metrics, now_us)));
  g_variant_builder_init (&alerts, G_VARIANT_TYPE_STRING_ARRAY);
  for (guint k = 0; k < EVCP_MONITOR_ALERT_N_KINDS; k++)
    if (evcp_monitor_metrics_alert_is_firing (self->metrics, k))
      g_variant_builder_add (&alerts, "s", evcp_monitor_alert_kind_to_string (k));
  g_variant_builder_add (&b, "{sv}", "alerts_firing", g_variant_builder_end (&alerts));
  g_variant_builder_add (&b, "{sv}", "outbox_pending_central",
                         g_variant_new_uint32 (self->outbox != NULL ?
                                               evcp_outbox_get_length (self->outbox, EVCP_OUTBOX_CENTRAL) : 0));
  g_variant_builder_add (&b, "{sv}", "outbox_pending_kafka",
                         g_variant_new_uint32 (self->outbox != NULL ?
                                               evcp_outbox_get_length (self->outbox, EVCP_OUTBOX_KAFKA) : 0));
  g_variant_builder_add (&b, "{sv}", "central_state",
                         g_variant_new_string (evcp_central_state_to_string (
                           self->central != NULL ? evcp_central_client_get_state (self->central)
                                                 : EVCP_CENTRAL_STATE_STOPPED)));
  engine = g_strdup_printf ("%s:%u", self->config->engine_host, self->config->engine_port);
  g_variant_builder_add (&b, "{sv}", "engine", g_variant_new_string (engine));
  return g_variant_builder_end (&b);
}

void
evcp_monitoring_service_format_metrics (GString *out, gpointer service)
{
  EvcpMonitoringService *self = service;
  const gchar *cp[3];
  static const struct {
    EvcpOutboxDestination destination;
    const gchar          *name;
  } destinations[] = {
    { EVCP_OUTBOX_CENTRAL, "central" },
    { EVCP_OUTBOX_KAFKA, "kafka" },
  };

  g_return_if_fail (EVCP_IS_MONITORING_SERVICE (self));
  g_return_if_fail (out != NULL);

  cp[0] = "cp_id";
  cp[1] = self->config->cp_id;
  cp[2] = NULL;
  evcp_monitor_metrics_format (self->metrics, g_get_monotonic_time (), self->config->cp_id, out);

  evcp_prometheus_family (out, "evcp_monitor_central_connected", "gauge",
                          "1 while the Monitor's link to Central is authenticated.");
  evcp_prometheus_sample (out, "evcp_monitor_central_connected", cp,
                          self->central != NULL && evcp_central_client_is_ready (self->central));
  evcp_prometheus_family (out, "evcp_monitor_outbox_pending", "gauge",
                          "Monitoring events waiting for a destination to acknowledge them.");
  for (guint i = 0; i < G_N_ELEMENTS (destinations); i++)
    {
      const gchar *labels[] = { "cp_id", self->config->cp_id, "destination", destinations[i].name, NULL };

      evcp_prometheus_sample_u64 (out, "evcp_monitor_outbox_pending", labels,
                                  self->outbox != NULL ?
                                    evcp_outbox_get_length (self->outbox, destinations[i].destination) : 0);
    }
  evcp_prometheus_family (out, "evcp_monitor_outbox_failures_total", "counter",
                          "Monitoring events the outbox could not keep (sent best-effort instead).");
  evcp_prometheus_sample_u64 (out, "evcp_monitor_outbox_failures_total", cp, self->outbox_failures);
  evcp_prometheus_family (out, "evcp_monitor_periodic_events_skipped_total", "counter",
                          "Periodic events skipped while too many waited for Kafka.");
  evcp_prometheus_sample_u64 (out, "evcp_monitor_periodic_events_skipped_total", cp, self->periodic_skipped);
  evcp_prometheus_process (out);
}

EvcpOutbox *
evcp_monitoring_service_get_outbox (EvcpMonitoringService *self)
{
  g_return_val_if_fail (EVCP_IS_MONITORING_SERVICE (self), NULL);
  return self->outbox;
}

EvcpCentralClient *
evcp_monitoring_service_get_central_client (EvcpMonitoringService *self)
{
  g_return_val_if_fail (EVCP_IS_MONITORING_SERVICE (self), NULL);
  return self->central;
}

EvcpMetricsServer *
evcp_monitoring_service_get_metrics_server (EvcpMonitoringService *self)
{
  g_return_val_if_fail (EVCP_IS_MONITORING_SERVICE (self), NULL);
  return self->metrics_server;
}

const gchar * const *
evcp_monitoring_service_get_plugins (EvcpMonitoringService *self)
{
  static const gchar * const none[] = { NULL };

  g_return_val_if_fail (EVCP_IS_MONITORING_SERVICE (self), NULL);
  return self->plugins != NULL ? (const gchar * const *) self->plugins : none;
}

void
evcp_monitoring_service_set_test_timing (EvcpMonitoringService *self,
                                         guint                  kafka_backoff_ms,
                                         guint                  central_ack_timeout_ms,
                                         guint                  central_backoff_ms)
{
  g_return_if_fail (EVCP_IS_MONITORING_SERVICE (self));

  self->test_kafka_backoff_ms = kafka_backoff_ms;
  self->test_central_ack_ms = central_ack_timeout_ms;
  self->test_central_backoff_ms = central_backoff_ms;
}

/* ---- GObject ------------------------------------------------------------------------ */

EvcpMonitoringService *
evcp_monitoring_service_new (EvcpConfig *config)
{
  EvcpMonitoringService *self;

  g_return_val_if_fail (config != NULL, NULL);

  self = g_object_new (EVCP_TYPE_MONITORING_SERVICE, NULL);
  self->config = evcp_config_copy (config);
  evcp_monitor_thresholds_init_from_config (&self->thresholds, self->config);
  self->metrics = evcp_monitor_metrics_new (&self->thresholds, g_get_monotonic_time ());
  return self;
}

static void
evcp_monitoring_service_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  EvcpMonitoringService *self = EVCP_MONITORING_SERVICE (object);

  switch (prop_id)
    {
    case PROP_STATUS:
      g_value_set_enum (value, evcp_monitor_metrics_get_status (self->metrics));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
evcp_monitoring_service_dispose (GObject *object)
{
  EvcpMonitoringService *self = EVCP_MONITORING_SERVICE (object);

  evcp_monitoring_service_stop (self);
  g_clear_object (&self->checker);
  g_clear_object (&self->cancellable);
  G_OBJECT_CLASS (evcp_monitoring_service_parent_class)->dispose (object);
}

static void
evcp_monitoring_service_finalize (GObject *object)
{
  EvcpMonitoringService *self = EVCP_MONITORING_SERVICE (object);

  g_clear_pointer (&self->metrics, evcp_monitor_metrics_free);
  g_clear_pointer (&self->config, evcp_config_free);
  g_strfreev (self->plugins);
  g_clear_pointer (&self->state, evcp_state_dir_free);
  g_free (self->state_dir);
  G_OBJECT_CLASS (evcp_monitoring_service_parent_class)->finalize (object);
}

static void
evcp_monitoring_service_class_init (EvcpMonitoringServiceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = evcp_monitoring_service_get_property;
  object_class->dispose = evcp_monitoring_service_dispose;
  object_class->finalize = evcp_monitoring_service_finalize;

  props[PROP_STATUS] =
    g_param_spec_enum ("status", NULL, NULL, EVCP_TYPE_MONITOR_STATE, EVCP_MONITOR_UNKNOWN,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, props);

  /**
   * EvcpMonitoringService::status-changed:
   * @status: the status now; status->previous_status is what it was
   */
  signals[SIGNAL_STATUS_CHANGED] =
    g_signal_new ("status-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1,
                  EVCP_TYPE_MONITOR_STATUS | G_SIGNAL_TYPE_STATIC_SCOPE);
  /**
   * EvcpMonitoringService::alert:
   * @alert: the threshold crossed (alert->firing) or crossed back
   * @status: the status when it happened
   */
  signals[SIGNAL_ALERT] =
    g_signal_new ("alert", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 2,
                  EVCP_TYPE_MONITOR_ALERT | G_SIGNAL_TYPE_STATIC_SCOPE,
                  EVCP_TYPE_MONITOR_STATUS | G_SIGNAL_TYPE_STATIC_SCOPE);
  /**
   * EvcpMonitoringService::check-completed:
   * @result: the outcome of one health check
   */
  signals[SIGNAL_CHECK_COMPLETED] =
    g_signal_new ("check-completed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1,
                  EVCP_TYPE_HEALTH_RESULT | G_SIGNAL_TYPE_STATIC_SCOPE);
}

static void
evcp_monitoring_service_init (EvcpMonitoringService *self)
{
}
