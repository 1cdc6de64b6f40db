/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A test output plugin of the Monitor: it keeps a line for every status
 * change and every alert, in a GPtrArray of strings that it attaches to the
 * service as "evcp-monitor-recorder" (the test runs the service in its own
 * process, so it reads them there). It also shows the shape of an output
 * plugin: an entry point that connects to the service's signals. */
#define G_LOG_DOMAIN "evcp-monitor-recorder"

#include <gmodule.h>

#include <evcp-plugin.h>

EVCP_PLUGIN_DEFINE;

static void
on_status_changed (EvcpMonitoringService   *service,
                   const EvcpMonitorStatus *status,
                   GPtrArray               *lines)
{
  if (status->status == EVCP_MONITOR_KO)
    g_ptr_array_add (lines, g_strdup_printf ("CP %s is down! (%s)", status->id, status->reason));
  else
    g_ptr_array_add (lines, g_strdup_printf ("CP %s is %s", status->id,
                                             evcp_monitor_state_to_string (status->status)));
}

static void
on_alert (EvcpMonitoringService   *service,
          const EvcpMonitorAlert  *alert,
          const EvcpMonitorStatus *status,
          GPtrArray               *lines)
{
  g_ptr_array_add (lines, g_strdup_printf ("ALERT %s %s",
                                           evcp_monitor_alert_kind_to_string (alert->kind),
                                           alert->firing ? "FIRING" : "RESOLVED"));
}

G_MODULE_EXPORT gboolean
evcp_monitor_plugin_init (EvcpMonitoringService *service, EvcpPluginConfig *config, GError **error)
{
  GPtrArray *lines = g_ptr_array_new_with_free_func (g_free);

  g_object_set_data_full (G_OBJECT (service), "evcp-monitor-recorder", lines,
                          (GDestroyNotify) g_ptr_array_unref);
  g_signal_connect (service, "status-changed", G_CALLBACK (on_status_changed), lines);
  g_signal_connect (service, "alert", G_CALLBACK (on_alert), lines);
  return TRUE;
}
