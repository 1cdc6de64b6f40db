/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#include "evcp-monitoring-service.h"

G_BEGIN_DECLS

#define EVCP_DBUS_MONITOR_BUS_NAME    "org.evcp.Monitor"
#define EVCP_DBUS_MONITOR_OBJECT_PATH "/org/evcp/Monitor"

/*
 * EvcpDbusMonitor: exports a started EvcpMonitoringService as
 * org.evcp.Monitor1 (data/org.evcp.Monitor1.xml) through the generated
 * skeleton. No logic of its own: the properties follow the service's
 * "status-changed" and "check-completed" signals and its Central client's
 * notify::state; StatusChanged carries evcp_monitor_status_to_variant().
 */
#define EVCP_TYPE_DBUS_MONITOR (evcp_dbus_monitor_get_type ())
G_DECLARE_FINAL_TYPE (EvcpDbusMonitor, evcp_dbus_monitor, EVCP, DBUS_MONITOR, GObject)

/* @service: started (evcp_monitoring_service_start()) */
EvcpDbusMonitor        *evcp_dbus_monitor_new          (EvcpMonitoringService *service);
/* (transfer none) */
GDBusInterfaceSkeleton *evcp_dbus_monitor_get_skeleton (EvcpDbusMonitor       *self);

G_END_DECLS
