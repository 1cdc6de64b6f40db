/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "evcp-monitor"

#include "evcp-build-config.h"

#include "evcp-enum.h"
#include "evcp-monitor-alert.h"

/* clang-format off */
G_DEFINE_ENUM_TYPE (EvcpMonitorAlertKind, evcp_monitor_alert_kind,
  G_DEFINE_ENUM_VALUE (EVCP_MONITOR_ALERT_LATENCY, "LATENCY"),
  G_DEFINE_ENUM_VALUE (EVCP_MONITOR_ALERT_AVAILABILITY, "AVAILABILITY"),
  G_DEFINE_ENUM_VALUE (EVCP_MONITOR_ALERT_FAULTS, "FAULTS"),
  G_DEFINE_ENUM_VALUE (EVCP_MONITOR_ALERT_ENGINE, "ENGINE"))
/* clang-format on */

G_DEFINE_BOXED_TYPE (EvcpMonitorAlert, evcp_monitor_alert,
                     evcp_monitor_alert_copy, evcp_monitor_alert_free)

const gchar *
evcp_monitor_alert_kind_to_string (EvcpMonitorAlertKind kind)
{
  return evcp_enum_to_nick (EVCP_TYPE_MONITOR_ALERT_KIND, (gint) kind, "UNKNOWN");
}

/* In English on purpose: the message travels in Kafka events, read by
 * programs and people elsewhere; the local log translates its own lines. */
static gchar *
describe (EvcpMonitorAlertKind kind, gboolean firing, gdouble value, gdouble threshold)
{
  gchar v[G_ASCII_DTOSTR_BUF_SIZE], t[G_ASCII_DTOSTR_BUF_SIZE];

  switch (kind)
    {
    case EVCP_MONITOR_ALERT_LATENCY:
      g_ascii_formatd (v, sizeof v, "%.1f", value);
      g_ascii_formatd (t, sizeof t, "%.1f", threshold);
      return g_strdup_printf (firing ? "check latency p99 %s ms is above %s ms"
                                     : "check latency p99 %s ms is back under %s ms", v, t);
    case EVCP_MONITOR_ALERT_AVAILABILITY:
      g_ascii_formatd (v, sizeof v, "%.4f", value);
      g_ascii_formatd (t, sizeof t, "%.4f", threshold);
      return g_strdup_printf (firing ? "availability %s is under %s"
                                     : "availability %s is back at or above %s", v, t);
    case EVCP_MONITOR_ALERT_ENGINE:
      /* evcp_monitor_metrics_set_engine_warning() words it */
      return g_strdup (firing ? "the Engine warns" : "the Engine's warning is over");
    case EVCP_MONITOR_ALERT_FAULTS:
    default:
      g_ascii_formatd (v, sizeof v, "%.0f", value);
      g_ascii_formatd (t, sizeof t, "%.0f", threshold);
      return g_strdup_printf (firing ? "%s faults within the window (threshold %s)"
                                     : "%s faults within the window, under the threshold of %s", v, t);
    }
}

EvcpMonitorAlert *
evcp_monitor_alert_new (EvcpMonitorAlertKind kind,
                        gboolean             firing,
                        gdouble              value,
                        gdouble              threshold)
{
  EvcpMonitorAlert *alert = g_new0 (EvcpMonitorAlert, 1);

  alert->kind = kind;
  alert->firing = firing;
  alert->value = value;
  alert->threshold = threshold;
  alert->message = describe (kind, firing, value, threshold);
  return alert;
}

EvcpMonitorAlert *
evcp_monitor_alert_copy (const EvcpMonitorAlert *alert)
{
  EvcpMonitorAlert *copy;

  g_return_val_if_fail (alert != NULL, NULL);

  copy = g_new (EvcpMonitorAlert, 1);
  *copy = *alert;
  copy->message = g_strdup (alert->message);
  return copy;
}

void
evcp_monitor_alert_free (EvcpMonitorAlert *alert)
{
  if (alert == NULL)
    return;
  g_free (alert->message);
  g_free (alert);
}

JsonObject *
evcp_monitor_alert_to_json (const EvcpMonitorAlert *alert)
{
  JsonObject *o;

  g_return_val_if_fail (alert != NULL, NULL);

  o = json_object_new ();
  json_object_set_string_member (o, "kind", evcp_monitor_alert_kind_to_string (alert->kind));
  json_object_set_string_member (o, "state", alert->firing ? "FIRING" : "RESOLVED");
  json_object_set_double_member (o, "value", alert->value);
  json_object_set_double_member (o, "threshold", alert->threshold);
  json_object_set_string_member (o, "message", alert->message);
  return o;
}
