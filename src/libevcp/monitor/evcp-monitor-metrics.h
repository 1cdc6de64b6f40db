/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "evcp-config.h"
#include "evcp-monitor-alert.h"
#include "evcp-monitor-status.h"

G_BEGIN_DECLS

/*
 * EvcpMonitorMetrics: what the Monitor computes from the results of its
 * health checks: the status with its thresholds, counters, the latency
 * histogram, availability since start and over a sliding window, time spent
 * KO, faults, and the alert thresholds.
 *
 * Pure code: no I/O, no main loop, no clock. Every function that needs the
 * time takes @now_us, a monotonic time in µs (g_get_monotonic_time() in the
 * service, made-up values in the unit tests), never decreasing.
 */

/**
 * EvcpMonitorThresholds:
 * @ko_after: failed checks in a row that make the status KO (at least 1)
 * @ok_after: good checks in a row that make it OK again (at least 1)
 * @window_s: the sliding window of availability and latency quantiles
 * @alert_latency_ms: alert when the p99 latency over the window is above
 *   it; 0 disables
 * @alert_availability: alert when the availability over the window is
 *   under it (0..1); 0 disables
 * @alert_faults: alert when this many faults happened within
 *   @alert_faults_window_s; 0 disables
 * @alert_faults_window_s: see @alert_faults
 */
typedef struct {
  guint   ko_after;
  guint   ok_after;
  guint   window_s;
  gdouble alert_latency_ms;
  gdouble alert_availability;
  guint   alert_faults;
  guint   alert_faults_window_s;
} EvcpMonitorThresholds;

void evcp_monitor_thresholds_init_from_config (EvcpMonitorThresholds *thresholds,
                                               const EvcpConfig      *config);

/* Upper bounds (ms) of the latency histogram's buckets, and +Inf after them. */
#define EVCP_MONITOR_LATENCY_N_BOUNDS 14
extern const gdouble evcp_monitor_latency_bounds_ms[EVCP_MONITOR_LATENCY_N_BOUNDS];

/* The latest answered checks kept for the quantiles (a ring, oldest dropped). */
#define EVCP_MONITOR_LATENCY_RESERVOIR 1024
/* The sliding window is counted in this many slots of window_s / slots each. */
#define EVCP_MONITOR_WINDOW_SLOTS 60

typedef struct _EvcpMonitorMetrics EvcpMonitorMetrics;

EvcpMonitorMetrics *evcp_monitor_metrics_new     (const EvcpMonitorThresholds *thresholds,
                                                  gint64                       now_us);
void                evcp_monitor_metrics_free    (EvcpMonitorMetrics          *self);

/**
 * evcp_monitor_metrics_record:
 * @ok: whether the check succeeded (the Engine answered OK in time)
 * @answered: whether the Engine answered at all (OK or KO): only answered
 *   checks go into the latency histogram and quantiles
 * @latency_ms: how long the check took
 * @reason: (nullable): why it failed; ignored when @ok
 *
 * Records one check and applies the status thresholds.
 *
 * Returns: %TRUE if the status changed
 */
gboolean            evcp_monitor_metrics_record  (EvcpMonitorMetrics          *self,
                                                  gint64                       now_us,
                                                  gboolean                     ok,
                                                  gboolean                     answered,
                                                  gdouble                      latency_ms,
                                                  const gchar                 *reason);

/**
 * evcp_monitor_metrics_update_alerts:
 * @changed: (element-type EvcpMonitorAlert): where to add the alerts whose
 *   state changed (fired or resolved), new ones owned by the array
 *
 * Evaluates the alert thresholds at @now_us. An alert fires once when its
 * threshold is crossed and resolves once when it is crossed back; the
 * latency and availability alerts are not evaluated while the window holds
 * no check, and keep their state meanwhile.
 *
 * Returns: how many were added
 */
guint               evcp_monitor_metrics_update_alerts (EvcpMonitorMetrics   *self,
                                                        gint64                now_us,
                                                        GPtrArray            *changed);
guint               evcp_monitor_metrics_set_engine_warning (EvcpMonitorMetrics *self,
                                                             const gchar        *warning,
                                                             GPtrArray          *changed);
gboolean            evcp_monitor_metrics_alert_is_firing (EvcpMonitorMetrics  *self,
                                                          EvcpMonitorAlertKind kind);

EvcpMonitorState    evcp_monitor_metrics_get_status  (EvcpMonitorMetrics *self);
/* Fills every field of @status but @id and @timestamp_us. */
void                evcp_monitor_metrics_fill_status (EvcpMonitorMetrics *self,
                                                      gint64              now_us,
                                                      EvcpMonitorStatus  *status);

guint64             evcp_monitor_metrics_get_checks        (EvcpMonitorMetrics *self);
guint64             evcp_monitor_metrics_get_checks_failed (EvcpMonitorMetrics *self);
guint64             evcp_monitor_metrics_get_faults        (EvcpMonitorMetrics *self);
guint               evcp_monitor_metrics_get_consecutive_failures (EvcpMonitorMetrics *self);
/* Since start; 1 before the first check. */
gdouble             evcp_monitor_metrics_get_availability  (EvcpMonitorMetrics *self);
/* Over the sliding window; 1 when it holds no check. */
gdouble             evcp_monitor_metrics_get_window_availability (EvcpMonitorMetrics *self,
                                                                  gint64              now_us);
gdouble             evcp_monitor_metrics_get_uptime_s      (EvcpMonitorMetrics *self,
                                                            gint64              now_us);
gdouble             evcp_monitor_metrics_get_time_ko_s     (EvcpMonitorMetrics *self,
                                                            gint64              now_us);
guint               evcp_monitor_metrics_get_faults_in_window (EvcpMonitorMetrics *self,
                                                               gint64              now_us);
/* The @q quantile (0..1, nearest rank) of the latencies of the answered
 * checks within the sliding window, in ms; NAN when there is none. */
gdouble             evcp_monitor_metrics_get_latency_quantile (EvcpMonitorMetrics *self,
                                                               gint64              now_us,
                                                               gdouble             q);
/* The cumulative histogram since start: counts[i] checks took at most
 * evcp_monitor_latency_bounds_ms[i] (counts[EVCP_MONITOR_LATENCY_N_BOUNDS]
 * is +Inf: every answered check). */
void                evcp_monitor_metrics_get_histogram     (EvcpMonitorMetrics *self,
                                                            guint64            *counts,
                                                            gdouble            *sum_ms);

/* The Prometheus exposition (evcp_monitor_* families, label cp_id). */
void                evcp_monitor_metrics_format  (EvcpMonitorMetrics          *self,
                                                  gint64                       now_us,
                                                  const gchar                 *cp_id,
                                                  GString                     *out);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EvcpMonitorMetrics, evcp_monitor_metrics_free)

G_END_DECLS
