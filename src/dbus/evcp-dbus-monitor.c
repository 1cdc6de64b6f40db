/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "evcp-build-config.h"

#include <math.h>

#include "evcp-dbus-log.h"
#include "evcp-dbus-monitor.h"
#include "evcp-gdbus-generated.h"

struct _EvcpDbusMonitor
{
  GObject                parent_instance;

  EvcpMonitoringService *service;
  EvcpCentralClient     *central;
  EvcpGdbusMonitor1     *skeleton;
};

G_DEFINE_FINAL_TYPE (EvcpDbusMonitor, evcp_dbus_monitor, G_TYPE_OBJECT)

/* ---- properties: follow the model ----------------------------------------- */

static void
update_status (EvcpDbusMonitor *self, const EvcpMonitorStatus *status)
{
  evcp_gdbus_monitor1_set_status (self->skeleton, evcp_monitor_state_to_string (status->status));
  evcp_gdbus_monitor1_set_reason (self->skeleton,
                                  status->status == EVCP_MONITOR_KO && status->reason != NULL
                                    ? status->reason : "");
  /* to 0.1 %: announced when it moves that much, not after every check
   * (GetStatus and GetMetrics have it exactly) */
  evcp_gdbus_monitor1_set_availability (self->skeleton, round (status->availability * 1000.0) / 1000.0);
}

static void
update_central (EvcpDbusMonitor *self)
{
  evcp_gdbus_monitor1_set_central_connected (self->skeleton,
                                             self->central != NULL &&
                                             evcp_central_client_is_ready (self->central));
}

static void
on_status_changed (EvcpMonitoringService *service, const EvcpMonitorStatus *status,
                   gpointer user_data)
{
  EvcpDbusMonitor *self = user_data;

  update_status (self, status);
  /* PropertiesChanged first, then the signal (see the interface's doc) */
  g_dbus_interface_skeleton_flush (G_DBUS_INTERFACE_SKELETON (self->skeleton));
  evcp_gdbus_monitor1_emit_status_changed (self->skeleton, evcp_monitor_status_to_variant (status));
}

static void
on_check_completed (EvcpMonitoringService *service, gconstpointer result, gpointer user_data)
{
  EvcpDbusMonitor *self = user_data;
  g_autoptr(EvcpMonitorStatus) status = evcp_monitoring_service_get_status (service);

  /* Availability moves with every check; the skeleton announces it only
   * when the value differs */
  update_status (self, status);
}

static void
on_central_state (GObject *central, GParamSpec *pspec, gpointer user_data)
{
  update_central (user_data);
}

/* ---- methods ------------------------------------------------------------------ */

static gboolean
handle_get_status (EvcpGdbusMonitor1 *skeleton, GDBusMethodInvocation *invocation,
                   gpointer user_data)
{
  EvcpDbusMonitor *self = user_data;
  g_autoptr(EvcpMonitorStatus) status = evcp_monitoring_service_get_status (self->service);

  evcp_gdbus_monitor1_complete_get_status (skeleton, invocation, evcp_monitor_status_to_variant (status));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_get_metrics (EvcpGdbusMonitor1 *skeleton, GDBusMethodInvocation *invocation,
                    gpointer user_data)
{
  EvcpDbusMonitor *self = user_data;

  evcp_gdbus_monitor1_complete_get_metrics (skeleton, invocation,
                                            evcp_monitoring_service_get_metrics (self->service));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_set_log_level (EvcpGdbusMonitor1 *skeleton, GDBusMethodInvocation *invocation, const gchar *level,
                      gpointer user_data)
{
  if (!evcp_dbus_set_log_level (invocation, level))
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  evcp_gdbus_monitor1_set_log_level (skeleton, evcp_dbus_log_level ());
  evcp_gdbus_monitor1_complete_set_log_level (skeleton, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* ---- the object ---------------------------------------------------------------- */

EvcpDbusMonitor *
evcp_dbus_monitor_new (EvcpMonitoringService *service)
{
  EvcpDbusMonitor *self;
  EvcpConfig *config;
  g_autoptr(EvcpMonitorStatus) status = NULL;
  g_autofree gchar *engine = NULL;

  g_return_val_if_fail (EVCP_IS_MONITORING_SERVICE (service), NULL);

  self = g_object_new (EVCP_TYPE_DBUS_MONITOR, NULL);
  self->service = g_object_ref (service);
  if (evcp_monitoring_service_get_central_client (service) != NULL)
    self->central = g_object_ref (evcp_monitoring_service_get_central_client (service));

  config = evcp_monitoring_service_get_config (service);
  engine = g_strdup_printf ("%s:%u", config->engine_host, config->engine_port);
  status = evcp_monitoring_service_get_status (service);
  evcp_gdbus_monitor1_set_cp_id (self->skeleton, config->cp_id);
  evcp_gdbus_monitor1_set_version (self->skeleton, PACKAGE_VERSION);
  evcp_gdbus_monitor1_set_log_level (self->skeleton, evcp_dbus_log_level ());
  evcp_gdbus_monitor1_set_engine (self->skeleton, engine);
  update_status (self, status);
  update_central (self);

  g_signal_connect_object (service, "status-changed", G_CALLBACK (on_status_changed), self, 0);
  g_signal_connect_object (service, "check-completed", G_CALLBACK (on_check_completed), self, 0);
  if (self->central != NULL)
    g_signal_connect_object (self->central, "notify::state", G_CALLBACK (on_central_state), self, 0);

  g_signal_connect (self->skeleton, "handle-get-status", G_CALLBACK (handle_get_status), self);
  g_signal_connect (self->skeleton, "handle-get-metrics", G_CALLBACK (handle_get_metrics), self);
  g_signal_connect (self->skeleton, "handle-set-log-level", G_CALLBACK (handle_set_log_level), self);
  return self;
}

GDBusInterfaceSkeleton *
evcp_dbus_monitor_get_skeleton (EvcpDbusMonitor *self)
{
  g_return_val_if_fail (EVCP_IS_DBUS_MONITOR (self), NULL);
  return G_DBUS_INTERFACE_SKELETON (self->skeleton);
}

static void
evcp_dbus_monitor_dispose (GObject *object)
{
  EvcpDbusMonitor *self = EVCP_DBUS_MONITOR (object);

  if (self->skeleton != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->skeleton, self);
      if (g_dbus_interface_skeleton_get_connection (G_DBUS_INTERFACE_SKELETON (self->skeleton)) != NULL)
        g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (self->skeleton));
    }
  g_clear_object (&self->skeleton);
  g_clear_object (&self->central);
  g_clear_object (&self->service);
  G_OBJECT_CLASS (evcp_dbus_monitor_parent_class)->dispose (object);
}

static void
evcp_dbus_monitor_class_init (EvcpDbusMonitorClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = evcp_dbus_monitor_dispose;
}

static void
evcp_dbus_monitor_init (EvcpDbusMonitor *self)
{
  self->skeleton = evcp_gdbus_monitor1_skeleton_new ();
}
