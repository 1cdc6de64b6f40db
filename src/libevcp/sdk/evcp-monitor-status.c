/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "evcp-monitor"

#include "evcp-build-config.h"

#include "evcp-enum.h"
#include "evcp-monitor-status.h"

/* clang-format off */
G_DEFINE_ENUM_TYPE (EvcpMonitorState, evcp_monitor_state,
  G_DEFINE_ENUM_VALUE (EVCP_MONITOR_UNKNOWN, "UNKNOWN"),
  G_DEFINE_ENUM_VALUE (EVCP_MONITOR_OK, "OK"),
  G_DEFINE_ENUM_VALUE (EVCP_MONITOR_KO, "KO"))
/* clang-format on */

G_DEFINE_BOXED_TYPE (EvcpMonitorStatus, evcp_monitor_status,
                     evcp_monitor_status_copy, evcp_monitor_status_free)

const gchar *
evcp_monitor_state_to_string (EvcpMonitorState state)
{
  return evcp_enum_to_nick (EVCP_TYPE_MONITOR_STATE, (gint) state, "UNKNOWN");
}

EvcpMonitorStatus *
evcp_monitor_status_new (void)
{
  EvcpMonitorStatus *status = g_new0 (EvcpMonitorStatus, 1);

  status->id = g_strdup ("");
  status->reason = g_strdup ("");
  status->availability = 1.0;
  status->window_availability = 1.0;
  return status;
}

EvcpMonitorStatus *
evcp_monitor_status_copy (const EvcpMonitorStatus *status)
{
  EvcpMonitorStatus *copy;

  g_return_val_if_fail (status != NULL, NULL);

  copy = g_new (EvcpMonitorStatus, 1);
  *copy = *status;
  copy->id = g_strdup (status->id != NULL ? status->id : "");
  copy->reason = g_strdup (status->reason != NULL ? status->reason : "");
  return copy;
}

void
evcp_monitor_status_free (EvcpMonitorStatus *status)
{
  if (status == NULL)
    return;
  g_free (status->id);
  g_free (status->reason);
  g_free (status);
}

/* Rounded so that events read well: 3 decimals of a millisecond. */
static gdouble
round3 (gdouble v)
{
  return (gdouble) (gint64) (v * 1000.0 + (v >= 0 ? 0.5 : -0.5)) / 1000.0;
}

GVariant *
evcp_monitor_status_to_variant (const EvcpMonitorStatus *status)
{
  GVariantBuilder b;

  g_return_val_if_fail (status != NULL, NULL);

  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&b, "{sv}", "id", g_variant_new_string (status->id));
  g_variant_builder_add (&b, "{sv}", "status",
                         g_variant_new_string (evcp_monitor_state_to_string (status->status)));
  g_variant_builder_add (&b, "{sv}", "previous_status",
                         g_variant_new_string (evcp_monitor_state_to_string (status->previous_status)));
  g_variant_builder_add (&b, "{sv}", "reason", g_variant_new_string (status->reason));
  g_variant_builder_add (&b, "{sv}", "consecutive_failures",
                         g_variant_new_uint32 (status->consecutive_failures));
  g_variant_builder_add (&b, "{sv}", "consecutive_successes",
                         g_variant_new_uint32 (status->consecutive_successes));
  g_variant_builder_add (&b, "{sv}", "latency_ms", g_variant_new_double (status->latency_ms));
  g_variant_builder_add (&b, "{sv}", "availability", g_variant_new_double (status->availability));
  g_variant_builder_add (&b, "{sv}", "window_availability",
                         g_variant_new_double (status->window_availability));
  g_variant_builder_add (&b, "{sv}", "uptime_s", g_variant_new_double (status->uptime_s));
  g_variant_builder_add (&b, "{sv}", "time_ko_s", g_variant_new_double (status->time_ko_s));
  g_variant_builder_add (&b, "{sv}", "checks", g_variant_new_uint64 (status->checks));
  g_variant_builder_add (&b, "{sv}", "checks_failed", g_variant_new_uint64 (status->checks_failed));
  g_variant_builder_add (&b, "{sv}", "faults", g_variant_new_uint64 (status->faults));
  g_variant_builder_add (&b, "{sv}", "timestamp_us", g_variant_new_int64 (status->timestamp_us));
  return g_variant_builder_end (&b);
}

JsonObject *
evcp_monitor_status_to_json (const EvcpMonitorStatus *status)
{
  JsonObject *o;

  g_return_val_if_fail (status != NULL, NULL);

  o = json_object_new ();
  json_object_set_string_member (o, "id", status->id);
  json_object_set_string_member (o, "status", evcp_monitor_state_to_string (status->status));
  json_object_set_string_member (o, "previous_status",
                                 evcp_monitor_state_to_string (status->previous_status));
  json_object_set_string_member (o, "reason", status->reason);
  json_object_set_int_member (o, "consecutive_failures", status->consecutive_failures);
  json_object_set_int_member (o, "consecutive_successes", status->consecutive_successes);
  json_object_set_double_member (o, "latency_ms", round3 (status->latency_ms));
  json_object_set_double_member (o, "availability", status->availability);
  json_object_set_double_member (o, "window_availability", status->window_availability);
  json_object_set_double_member (o, "uptime_s", round3 (status->uptime_s));
  json_object_set_double_member (o, "time_ko_s", round3 (status->time_ko_s));
  json_object_set_int_member (o, "checks", (gint64) status->checks);
  json_object_set_int_member (o, "checks_failed", (gint64) status->checks_failed);
  json_object_set_int_member (o, "faults", (gint64) status->faults);
  return o;
}
