/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib-object.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/**
 * EvcpMonitorState:
 * @EVCP_MONITOR_UNKNOWN: no decision yet (only until the first checks
 *   reach a threshold; never again afterwards)
 * @EVCP_MONITOR_OK: the Engine answers OK
 * @EVCP_MONITOR_KO: the Engine answered KO, did not answer in time, or
 *   could not be reached, enough times in a row
 *
 * What the Monitor says of the Engine it watches.
 *
 * Since: 0.1
 */
typedef enum {
  EVCP_MONITOR_UNKNOWN,
  EVCP_MONITOR_OK,
  EVCP_MONITOR_KO,
} EvcpMonitorState;

/**
 * evcp_monitor_state_get_type:
 *
 * The enumeration type of #EvcpMonitorState.
 *
 * Returns: its #GType
 *
 * Since: 0.1
 */
GType        evcp_monitor_state_get_type  (void) G_GNUC_CONST;
#define EVCP_TYPE_MONITOR_STATE (evcp_monitor_state_get_type ())
/**
 * evcp_monitor_state_to_string:
 * @state: a state
 *
 * The word of @state in the Kafka events and on D-Bus.
 *
 * Returns: (transfer none): "UNKNOWN", "OK" or "KO"
 *
 * Since: 0.1
 */
const gchar *evcp_monitor_state_to_string (EvcpMonitorState state);

/**
 * EvcpMonitorStatus:
 * @id: the CP_ID of the charging point watched
 * @status: its status now
 * @previous_status: the status before the last change
 * @reason: why it is KO (the reason of the last failed check: the
 *   Engine's KO reason, "no answer within 1000 ms", "connection refused", …);
 *   "" when it is OK. Never %NULL.
 * @consecutive_failures: failed checks in a row (0 after a good one)
 * @consecutive_successes: good checks in a row (0 after a failed one)
 * @latency_ms: how long the last check took, answered or not
 * @availability: good checks / all checks since the Monitor started
 *   (1 before the first check)
 * @window_availability: the same over the sliding window
 * @uptime_s: seconds since the Monitor started watching
 * @time_ko_s: seconds spent KO since then
 * @checks: checks done
 * @checks_failed: of which failed
 * @faults: changes to KO
 * @timestamp_us: wall-clock time of this snapshot, µs since the epoch
 *
 * A snapshot of what the Monitor knows of one charging point, the argument
 * of EvcpMonitoringService::status-changed:
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
 * ]|
 *
 * Since: 0.1
 */
typedef struct {
  gchar            *id;
  EvcpMonitorState  status;
  EvcpMonitorState  previous_status;
  gchar            *reason;
  guint             consecutive_failures;
  guint             consecutive_successes;
  gdouble           latency_ms;
  gdouble           availability;
  gdouble           window_availability;
  gdouble           uptime_s;
  gdouble           time_ko_s;
  guint64           checks;
  guint64           checks_failed;
  guint64           faults;
  gint64            timestamp_us;
} EvcpMonitorStatus;

/**
 * evcp_monitor_status_get_type:
 *
 * The boxed type of #EvcpMonitorStatus.
 *
 * Returns: its #GType
 *
 * Since: 0.1
 */
GType              evcp_monitor_status_get_type   (void) G_GNUC_CONST;
#define EVCP_TYPE_MONITOR_STATUS (evcp_monitor_status_get_type ())

/**
 * evcp_monitor_status_new:
 *
 * A status of no charging point yet: UNKNOWN, availability 1, "" as reason.
 *
 * Returns: (transfer full): the status
 *
 * Since: 0.1
 */
EvcpMonitorStatus *evcp_monitor_status_new        (void);
/**
 * evcp_monitor_status_copy:
 * @status: a status
 *
 * A deep copy of @status.
 *
 * Returns: (transfer full): the copy
 *
 * Since: 0.1
 */
EvcpMonitorStatus *evcp_monitor_status_copy       (const EvcpMonitorStatus *status);
/**
 * evcp_monitor_status_free:
 * @status: (transfer full) (nullable): a status
 *
 * Frees @status and its strings.
 *
 * Since: 0.1
 */
void               evcp_monitor_status_free       (EvcpMonitorStatus       *status);

/**
 * evcp_monitor_status_to_variant:
 * @status: a status
 *
 * @status as a dictionary (a{sv}): the fields by the names of the Kafka
 * event (id, status, previous_status, reason, consecutive_failures,
 * latency_ms, availability, uptime_s, …), the states as strings.
 *
 * Returns: (transfer floating): the dictionary
 *
 * Since: 0.1
 */
GVariant          *evcp_monitor_status_to_variant (const EvcpMonitorStatus *status);
/**
 * evcp_monitor_status_to_json:
 * @status: a status
 *
 * The "data" object of a MONITORING_EVENT (docs/monitor.md).
 *
 * Returns: (transfer full): the object
 *
 * Since: 0.1
 */
JsonObject        *evcp_monitor_status_to_json    (const EvcpMonitorStatus *status);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EvcpMonitorStatus, evcp_monitor_status_free)

G_END_DECLS
