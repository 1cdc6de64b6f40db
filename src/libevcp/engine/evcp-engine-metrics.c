/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "evcp-metrics"

#include "evcp-build-config.h"

#include "evcp-engine-metrics.h"
#include "evcp-prometheus.h"

typedef struct {
  gchar   *kind;
  guint64  received;
  guint64  handled;
  guint64  failed;
} KindRow;

static gint
compare_kinds (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (((const KindRow *) a)->kind, ((const KindRow *) b)->kind);
}

static guint64
lookup_u64 (GVariant *dict, const gchar *key)
{
  guint64 v = 0;

  g_variant_lookup (dict, key, "t", &v);
  return v;
}

void
evcp_engine_metrics_format (EvcpKafkaService *service, const gchar *cp_id, GString *out)
{
  static const EvcpKafkaState states[] = {
    EVCP_KAFKA_STATE_STOPPED, EVCP_KAFKA_STATE_CONNECTING,
    EVCP_KAFKA_STATE_CONNECTED, EVCP_KAFKA_STATE_DISCONNECTED, EVCP_KAFKA_STATE_ASSIGNING,
  };
  static const struct {
    const gchar *key;
    const gchar *name;
    const gchar *help;
  } counters[] = {
    { "messages-received", "evcp_engine_messages_received_total", "Messages consumed from Kafka." },
    { "messages-handled", "evcp_engine_messages_handled_total",
      "Messages every accepting handler finished successfully." },
    { "invalid-messages", "evcp_engine_messages_invalid_total",
      "Messages that could not be parsed (too large, too deep, not UTF-8, not JSON)." },
    { "dead-letters", "evcp_engine_dead_letters_total", "Messages written to the dead-letter topic." },
    { "dead-letter-failures", "evcp_engine_dead_letter_failures_total",
      "Attempts to write a dead letter that failed (each is retried)." },
    { "dead-letters-reduced", "evcp_engine_dead_letters_reduced_total",
      "Dead letters sent as headers only, the whole record having been refused by Kafka." },
    { "dead-letters-lost", "evcp_engine_dead_letters_lost_total",
      "Failed messages committed without a dead letter: even the headers alone were refused." },
    { "partitions-reread", "evcp_engine_kafka_partitions_reread_total",
      "Partitions read again from their beginning: a record read there was gone (offsets went back)." },
    { "fetcher-wakeups", "evcp_engine_kafka_fetcher_wakeups_total",
      "Seeks to the consumer's own position that woke librdkafka's stopped fetcher." },
  };
  const gchar *cp[] = { "cp_id", cp_id, NULL };
  g_autoptr(GVariant) metrics = NULL;
  g_autoptr(GVariant) kinds = NULL;
  g_autoptr(GPtrArray) handlers = NULL;
  g_autoptr(GArray) rows = g_array_new (FALSE, FALSE, sizeof (KindRow));
  EvcpKafkaState state = evcp_kafka_service_get_state (service);
  GVariantIter iter;
  const gchar *kind;
  guint64 received, handled, failed;

  g_return_if_fail (EVCP_IS_KAFKA_SERVICE (service));
  g_return_if_fail (cp_id != NULL && out != NULL);

  metrics = g_variant_ref_sink (evcp_kafka_service_get_metrics (service));

  evcp_prometheus_family (out, "evcp_engine_info", "gauge", "The Engine's version.");
  {
    const gchar *labels[] = { "cp_id", cp_id, "version", PACKAGE_VERSION, NULL };

    evcp_prometheus_sample (out, "evcp_engine_info", labels, 1);
  }

  for (guint i = 0; i < G_N_ELEMENTS (counters); i++)
    {
      evcp_prometheus_family (out, counters[i].name, "counter", counters[i].help);
      evcp_prometheus_sample_u64 (out, counters[i].name, cp, lookup_u64 (metrics, counters[i].key));
    }

  evcp_prometheus_family (out, "evcp_engine_kafka_connected", "gauge",
                          "1 while the Engine's consumer has its partitions and a broker.");
  evcp_prometheus_sample (out, "evcp_engine_kafka_connected", cp, state == EVCP_KAFKA_STATE_CONNECTED);
  evcp_prometheus_family (out, "evcp_engine_kafka_consumer_stalled", "gauge",
                          "1 while dead letters cannot be written (consumption held back; see the log).");
  {
    const gchar *stall = NULL;

    g_variant_lookup (metrics, "consumer-stalled", "&s", &stall);
    evcp_prometheus_sample (out, "evcp_engine_kafka_consumer_stalled", cp, stall != NULL && *stall != '\0');
  }
  {
    gint64 lag = -1;

    g_variant_lookup (metrics, "consumer-lag", "x", &lag);
    evcp_prometheus_family (out, "evcp_engine_kafka_consumer_lag", "gauge",
                            "Records on the consumed partitions not processed yet (librdkafka's statistics; "
                            "absent before the first, every statistics.interval.ms).");
    if (lag >= 0)
      evcp_prometheus_sample (out, "evcp_engine_kafka_consumer_lag", cp, (gdouble) lag);
  }
  evcp_prometheus_family (out, "evcp_engine_kafka_state", "gauge",
                          "The Kafka connection state (one series per state, 1 for the current one).");
  for (guint i = 0; i < G_N_ELEMENTS (states); i++)
    {
      const gchar *labels[] = { "cp_id", cp_id, "state", evcp_kafka_state_to_string (states[i]), NULL };

      evcp_prometheus_sample (out, "evcp_engine_kafka_state", labels, state == states[i]);
    }

  handlers = evcp_dispatcher_list_handlers (evcp_kafka_service_get_dispatcher (service));
  evcp_prometheus_family (out, "evcp_engine_handler_enabled", "gauge", "1 if the handler is enabled.");
  for (guint i = 0; i < handlers->len; i++)
    {
      EvcpHandlerInfo *info = handlers->pdata[i];
      const gchar *labels[] = { "cp_id", cp_id, "handler", info->name, NULL };

      evcp_prometheus_sample (out, "evcp_engine_handler_enabled", labels, info->enabled);
    }
  evcp_prometheus_family (out, "evcp_engine_handler_messages_handled_total", "counter",
                          "Messages the handler handled successfully.");
  for (guint i = 0; i < handlers->len; i++)
    {
      EvcpHandlerInfo *info = handlers->pdata[i];
      const gchar *labels[] = { "cp_id", cp_id, "handler", info->name, NULL };

      evcp_prometheus_sample_u64 (out, "evcp_engine_handler_messages_handled_total", labels, info->handled);
    }
  evcp_prometheus_family (out, "evcp_engine_handler_messages_failed_total", "counter",
                          "Messages the handler failed on for good (after its retries).");
  for (guint i = 0; i < handlers->len; i++)
    {
      EvcpHandlerInfo *info = handlers->pdata[i];
      const gchar *labels[] = { "cp_id", cp_id, "handler", info->name, NULL };

      evcp_prometheus_sample_u64 (out, "evcp_engine_handler_messages_failed_total", labels, info->failed);
    }
  evcp_prometheus_family (out, "evcp_engine_handler_retries_total", "counter",
                          "Attempts after a transient failure of the handler.");
  for (guint i = 0; i < handlers->len; i++)
    {
      EvcpHandlerInfo *info = handlers->pdata[i];
      const gchar *labels[] = { "cp_id", cp_id, "handler", info->name, NULL };

      evcp_prometheus_sample_u64 (out, "evcp_engine_handler_retries_total", labels, info->retries);
    }

  /* per kind, sorted so that scrapes compare line by line */
  if (g_variant_lookup (metrics, "kinds", "@a{s(ttt)}", &kinds))
    {
      g_variant_iter_init (&iter, kinds);
      while (g_variant_iter_next (&iter, "{&s(ttt)}", &kind, &received, &handled, &failed))
        {
          KindRow row = { (gchar *) kind, received, handled, failed };

          g_array_append_val (rows, row);
        }
      g_array_sort (rows, compare_kinds);
    }
  evcp_prometheus_family (out, "evcp_engine_kind_messages_received_total", "counter",
                          "Messages received, per kind.");
  for (guint i = 0; i < rows->len; i++)
    {
      KindRow *row = &g_array_index (rows, KindRow, i);
      const gchar *labels[] = { "cp_id", cp_id, "kind", row->kind, NULL };

      evcp_prometheus_sample_u64 (out, "evcp_engine_kind_messages_received_total", labels, row->received);
    }
  evcp_prometheus_family (out, "evcp_engine_kind_messages_handled_total", "counter",
                          "Messages handled successfully, per kind.");
  for (guint i = 0; i < rows->len; i++)
    {
      KindRow *row = &g_array_index (rows, KindRow, i);
      const gchar *labels[] = { "cp_id", cp_id, "kind", row->kind, NULL };

      evcp_prometheus_sample_u64 (out, "evcp_engine_kind_messages_handled_total", labels, row->handled);
    }
  evcp_prometheus_family (out, "evcp_engine_kind_messages_failed_total", "counter",
                          "Messages that failed (dead-lettered), per kind.");
  for (guint i = 0; i < rows->len; i++)
    {
      KindRow *row = &g_array_index (rows, KindRow, i);
      const gchar *labels[] = { "cp_id", cp_id, "kind", row->kind, NULL };

      evcp_prometheus_sample_u64 (out, "evcp_engine_kind_messages_failed_total", labels, row->failed);
    }
}

void
evcp_engine_metrics_func (GString *out, gpointer engine)
{
  g_return_if_fail (EVCP_IS_ENGINE (engine));

  const gchar *cp[] = { "cp_id", evcp_engine_get_config (engine)->cp_id, NULL };

  evcp_engine_metrics_format (evcp_engine_get_kafka_service (engine),
                              evcp_engine_get_config (engine)->cp_id, out);
  evcp_prometheus_family (out, "evcp_engine_events_dropped_total", "counter",
                          "Best-effort events (telemetry, refusals) dropped because the producer's queue was full.");
  evcp_prometheus_sample_u64 (out, "evcp_engine_events_dropped_total", cp,
                              evcp_engine_get_events_dropped (engine));
  evcp_prometheus_process (out);
}
