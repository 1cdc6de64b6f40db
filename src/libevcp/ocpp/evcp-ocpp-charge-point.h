/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib-object.h>

#include "evcp-engine.h"
#include "evcp-ocpp-client.h"

G_BEGIN_DECLS

/*
 * EvcpOcppChargePoint: the OCPP 1.6J Core profile of one charging point,
 * mapped onto its Engine: the Engine's supply sessions (from Kafka, Central
 * or OCPP itself) are OCPP transactions; its states are the connector's
 * status; the CSMS's RemoteStart/RemoteStop, ChangeAvailability, Reset,
 * UnlockConnector act on the Engine's supply. docs/ocpp.md has the mapping.
 *
 * What it keeps in the Engine's state directory (ocpp.json): the energy
 * meter, the connector's availability and the configuration keys the CSMS
 * changed.
 *
 * Signals:
 *   "state-changed" (): the link's state (evcp_ocpp_charge_point_get_state())
 *                       or its last error changed
 */

#define EVCP_TYPE_OCPP_CHARGE_POINT (evcp_ocpp_charge_point_get_type ())
G_DECLARE_FINAL_TYPE (EvcpOcppChargePoint, evcp_ocpp_charge_point, EVCP, OCPP_CHARGE_POINT, GObject)

/* The Engine must be started; NULL (no OCPP link) when its configuration
 * has no [ocpp] url. */
EvcpOcppChargePoint *evcp_ocpp_charge_point_new (EvcpEngine *engine);
void evcp_ocpp_charge_point_start (EvcpOcppChargePoint *self);
void evcp_ocpp_charge_point_stop (EvcpOcppChargePoint *self);

/* "STOPPED", "CONNECTING", "BOOTING" (open, BootNotification sent),
 * "PENDING", "REJECTED" (the CSMS's answer to it) or "ACCEPTED". */
const gchar *evcp_ocpp_charge_point_get_state (EvcpOcppChargePoint *self);
/* Why the link last failed, "" if it did not. */
const gchar *evcp_ocpp_charge_point_get_error (EvcpOcppChargePoint *self);
EvcpOcppClient *evcp_ocpp_charge_point_get_client (EvcpOcppChargePoint *self);
/* The CSMS's id of the running transaction; 0: none, or not known yet. */
gint64 evcp_ocpp_charge_point_get_transaction_id (EvcpOcppChargePoint *self);

/* The Prometheus families evcp_engine_ocpp_* (calls, errors, queue, link). */
void evcp_ocpp_charge_point_metrics (EvcpOcppChargePoint *self, GString *out);

G_END_DECLS
