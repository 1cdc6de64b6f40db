/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib-object.h>

#include "evcp-central-client.h"
#include "evcp-config.h"
#include "evcp-monitor-health-checker.h"
#include "evcp-metrics-server.h"
#include "evcp-monitor-alert.h"
#include "evcp-monitor-status.h"
#include "evcp-outbox.h"

G_BEGIN_DECLS

/*
 * EvcpMonitoringService: the Monitor of one charging point.
 *
 * Every health interval ([monitor] interval-ms, default 1000, at least 100)
 * it checks the Engine (EvcpHealthChecker, `HEALTH#<cp>` to
 * ENGINE_HOST:ENGINE_PORT; no answer within the interval, KO, a refused or
 * closed connection and bad frames are failed checks). The status goes KO
 * after [monitor] ko-after failed checks in a row (default 1), and OK after
 * ok-after good ones (default 1); it is UNKNOWN only until the first of
 * those thresholds is reached.
 *
 * On every change of status, each output is served on its own, so that one
 * failing never stops the others:
 *   - Central (EvcpCentralClient, role MONITOR): `FAULT#<cp>#<reason>#<seq>`
 *     on a change to KO and `RECOVERED#<cp>#<seq>` on the change back, through
 *     the outbox (kept on disk until Central ACKs them);
 *   - Kafka: a MONITORING_EVENT on [monitor] topic (monitoring_events),
 *     through the same outbox record (same seq); and one every
 *     [monitor] event-interval-s (default 30);
 *   - the "status-changed" signal, for callbacks in this process and for
 *     output plugins (evcp_monitor_plugin_init, evcp-plugin-entry.h).
 * docs/monitor.md describes the events, the metrics and every decision.
 *
 * In C, reacting to a fault is one callback:
 *
 * |[<!-- language="C" -->
 * static void
 * on_status_changed (EvcpMonitoringService   *service,
 *                    const EvcpMonitorStatus *status,
 *                    gpointer                 user_data)
 * {
 *   if (status->status == EVCP_MONITOR_KO)
 *     send_alert ("CP %s is down! (%s)", status->id, status->reason);
 * }
 *
 *   g_signal_connect (service, "status-changed", G_CALLBACK (on_status_changed), NULL);
 * ]|
 *
 * Signals:
 *   "status-changed" (const EvcpMonitorStatus *status): the status changed;
 *       status->previous_status is what it was;
 *   "alert" (const EvcpMonitorAlert *alert, const EvcpMonitorStatus *status):
 *       an alert threshold was crossed (alert->firing) or crossed back;
 *   "check-completed" (const EvcpHealthResult *result): after every check;
 *   notify::status.
 */
#define EVCP_TYPE_MONITORING_SERVICE (evcp_monitoring_service_get_type ())
G_DECLARE_FINAL_TYPE (EvcpMonitoringService, evcp_monitoring_service, EVCP, MONITORING_SERVICE, GObject)

EvcpMonitoringService *evcp_monitoring_service_new          (EvcpConfig            *config);

/**
 * evcp_monitoring_service_start:
 *
 * Opens the outbox in the state directory (config->state_dir, else
 * evcp_platform_default_state_dir ("monitor")), starts the Kafka producer,
 * the Central link (AUTH with role MONITOR), the metrics endpoint if one is
 * configured, loads the output plugins, and runs the first check at once.
 * Fails only on what cannot work at all (an invalid configuration, an
 * outbox that cannot be opened, a metrics address that cannot be bound);
 * the Engine, Central or Kafka being away never makes it fail.
 */
gboolean               evcp_monitoring_service_start        (EvcpMonitoringService *self,
                                                             GError               **error);
/* Stops checking, closes the Central link (EOT), flushes Kafka for up to 2 s;
 * what is unsent stays in the outbox for the next start. */
void                   evcp_monitoring_service_stop         (EvcpMonitoringService *self);

EvcpConfig            *evcp_monitoring_service_get_config   (EvcpMonitoringService *self);
EvcpMonitorState       evcp_monitoring_service_get_state    (EvcpMonitoringService *self);
/* (transfer full): a snapshot of the status now */
EvcpMonitorStatus     *evcp_monitoring_service_get_status   (EvcpMonitoringService *self);
/* (transfer floating): a{sv}: the status fields (evcp_monitor_status_to_variant())
 * and latency_p50_ms, latency_p99_ms (d, NaN when none), faults_in_window (u),
 * alerts_firing (as), outbox_pending_central, outbox_pending_kafka (u),
 * central_state (s), engine (s, host:port) */
GVariant              *evcp_monitoring_service_get_metrics  (EvcpMonitoringService *self);
/* The Prometheus exposition (docs/monitor.md). An EvcpMetricsFunc. */
void                   evcp_monitoring_service_format_metrics (GString            *out,
                                                               gpointer            service);

/* Valid between start and stop (%NULL otherwise). (transfer none) */
EvcpOutbox            *evcp_monitoring_service_get_outbox         (EvcpMonitoringService *self);
EvcpCentralClient     *evcp_monitoring_service_get_central_client (EvcpMonitoringService *self);
EvcpMetricsServer     *evcp_monitoring_service_get_metrics_server (EvcpMonitoringService *self);
/* The output plugins loaded (file names). (transfer none) */
const gchar * const   *evcp_monitoring_service_get_plugins        (EvcpMonitoringService *self);

/* For tests: the Kafka retry backoff and the Central link's timing (ms),
 * applied at start; 0 keeps a default. */
void                   evcp_monitoring_service_set_test_timing (EvcpMonitoringService *self,
                                                                guint                  kafka_backoff_ms,
                                                                guint                  central_ack_timeout_ms,
                                                                guint                  central_backoff_ms);

G_END_DECLS
