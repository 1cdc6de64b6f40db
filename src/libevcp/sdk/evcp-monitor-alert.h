/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib-object.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/**
 * EvcpMonitorAlertKind:
 * @EVCP_MONITOR_ALERT_LATENCY: the p99 latency of the checks over the
 *   sliding window is above [monitor] alert-latency-ms
 * @EVCP_MONITOR_ALERT_AVAILABILITY: the availability over the sliding window
 *   is under [monitor] alert-availability
 * @EVCP_MONITOR_ALERT_FAULTS: at least [monitor] alert-faults faults
 *   happened within [monitor] alert-faults-window-s
 * @EVCP_MONITOR_ALERT_ENGINE: the Engine answers OK with a warning
 *   (OK#<cp>#<warning>): it serves, but something is held back (dead
 *   letters that cannot be written); always on
 *
 * The thresholds the Monitor raises an #EvcpMonitorAlert for.
 *
 * Since: 0.1
 */
typedef enum {
  EVCP_MONITOR_ALERT_LATENCY,
  EVCP_MONITOR_ALERT_AVAILABILITY,
  EVCP_MONITOR_ALERT_FAULTS,
  EVCP_MONITOR_ALERT_ENGINE,
} EvcpMonitorAlertKind;

/**
 * EVCP_MONITOR_ALERT_N_KINDS:
 *
 * The number of #EvcpMonitorAlertKind values.
 *
 * Since: 0.1
 */
#define EVCP_MONITOR_ALERT_N_KINDS 4

/**
 * evcp_monitor_alert_kind_get_type:
 *
 * The enumeration type of #EvcpMonitorAlertKind.
 *
 * Returns: its #GType
 *
 * Since: 0.1
 */
GType        evcp_monitor_alert_kind_get_type  (void) G_GNUC_CONST;
#define EVCP_TYPE_MONITOR_ALERT_KIND (evcp_monitor_alert_kind_get_type ())
/**
 * evcp_monitor_alert_kind_to_string:
 * @kind: a kind of alert
 *
 * The word of @kind in the Kafka events.
 *
 * Returns: (transfer none): "LATENCY", "AVAILABILITY", "FAULTS" or "ENGINE"
 *
 * Since: 0.1
 */
const gchar *evcp_monitor_alert_kind_to_string (EvcpMonitorAlertKind kind);

/**
 * EvcpMonitorAlert:
 * @kind: which threshold
 * @firing: %TRUE when the threshold was just crossed, %FALSE when things
 *   are back on the right side of it (the alert is resolved)
 * @value: the measured value (ms, a ratio 0..1, or a number of faults)
 * @threshold: the configured bound
 * @message: a sentence for people, in English (it goes to Kafka)
 *
 * The argument of EvcpMonitoringService::alert.
 *
 * Since: 0.1
 */
typedef struct {
  EvcpMonitorAlertKind  kind;
  gboolean              firing;
  gdouble               value;
  gdouble               threshold;
  gchar                *message;
} EvcpMonitorAlert;

/**
 * evcp_monitor_alert_get_type:
 *
 * The boxed type of #EvcpMonitorAlert.
 *
 * Returns: its #GType
 *
 * Since: 0.1
 */
GType             evcp_monitor_alert_get_type (void) G_GNUC_CONST;
#define EVCP_TYPE_MONITOR_ALERT (evcp_monitor_alert_get_type ())

/**
 * evcp_monitor_alert_new:
 * @kind: which threshold
 * @firing: %TRUE when crossed, %FALSE when resolved
 * @value: the measured value
 * @threshold: the configured bound
 *
 * An alert, its message written from the other fields.
 *
 * Returns: (transfer full): the alert
 *
 * Since: 0.1
 */
EvcpMonitorAlert *evcp_monitor_alert_new      (EvcpMonitorAlertKind     kind,
                                               gboolean                 firing,
                                               gdouble                  value,
                                               gdouble                  threshold);
/**
 * evcp_monitor_alert_copy:
 * @alert: an alert
 *
 * A deep copy of @alert.
 *
 * Returns: (transfer full): the copy
 *
 * Since: 0.1
 */
EvcpMonitorAlert *evcp_monitor_alert_copy     (const EvcpMonitorAlert  *alert);
/**
 * evcp_monitor_alert_free:
 * @alert: (transfer full) (nullable): an alert
 *
 * Frees @alert.
 *
 * Since: 0.1
 */
void              evcp_monitor_alert_free     (EvcpMonitorAlert        *alert);
/**
 * evcp_monitor_alert_to_json:
 * @alert: an alert
 *
 * data.alert of a MONITORING_EVENT: {"kind": "LATENCY", "state": "FIRING"
 * or "RESOLVED", "value", "threshold", "message"}.
 *
 * Returns: (transfer full): the object
 *
 * Since: 0.1
 */
JsonObject       *evcp_monitor_alert_to_json  (const EvcpMonitorAlert  *alert);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EvcpMonitorAlert, evcp_monitor_alert_free)

G_END_DECLS
