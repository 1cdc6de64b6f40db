/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#include "evcp-engine.h"
#include "evcp-ocpp-charge-point.h"

G_BEGIN_DECLS

#define EVCP_DBUS_ENGINE_BUS_NAME    "org.evcp.Engine"
#define EVCP_DBUS_ENGINE_OBJECT_PATH "/org/evcp/Engine"
/* SimulateFault: the longest reason, in characters */
#define EVCP_DBUS_FAULT_REASON_MAX 200

/*
 * EvcpDbusEngine: exports a started EvcpEngine as org.evcp.Engine1
 * (data/org.evcp.Engine1.xml) through the generated skeleton. It keeps no
 * logic of its own: the properties follow the Engine's objects (the supply's
 * "state-changed" and sessions, the Kafka service's "connection-state-changed",
 * the Central client's notify::state), the methods call the Engine and
 * translate its answers into org.evcp.Error.* replies.
 *
 * MessageHandled costs nothing per message while no peer has called
 * SubscribeMessages(): only then is the Kafka service's "message-handled"
 * signal connected (the service emits it only when someone listens in the
 * process). A subscription ends with UnsubscribeMessages() or when the peer
 * leaves the bus (or closes its peer-to-peer connection).
 *
 * Exporting is EvcpDbusOwner's job (the skeleton may be exported on a bus
 * and on peer-to-peer connections at once).
 */
#define EVCP_TYPE_DBUS_ENGINE (evcp_dbus_engine_get_type ())
G_DECLARE_FINAL_TYPE (EvcpDbusEngine, evcp_dbus_engine, EVCP, DBUS_ENGINE, GObject)

/* @engine: started (evcp_engine_start()) */
EvcpDbusEngine         *evcp_dbus_engine_new             (EvcpEngine     *engine);
/* The Engine's OCPP link, NULL for none: OcppState and OcppError follow it. */
void evcp_dbus_engine_set_ocpp (EvcpDbusEngine *self, EvcpOcppChargePoint *ocpp);
/* (transfer none) */
GDBusInterfaceSkeleton *evcp_dbus_engine_get_skeleton    (EvcpDbusEngine *self);
/* How many peers are subscribed to MessageHandled. */
guint                   evcp_dbus_engine_get_subscribers (EvcpDbusEngine *self);

G_END_DECLS
