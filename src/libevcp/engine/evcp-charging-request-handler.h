/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "evcp-charging-request.h"
#include "evcp-message-handler.h"
#include "evcp-user-registry.h"

G_BEGIN_DECLS

#define EVCP_CHARGING_REQUEST_HANDLER_NAME   "charging-request"
#define EVCP_CHARGING_REQUEST_KIND           "CHARGING_REQUEST"
#define EVCP_CHARGING_REQUEST_MAX_POWER_KW   1000.0
#define EVCP_CHARGING_REQUEST_MAX_DURATION_S (7 * 24 * 3600)

#define EVCP_TYPE_CHARGING_REQUEST_HANDLER (evcp_charging_request_handler_get_type ())
G_DECLARE_FINAL_TYPE (EvcpChargingRequestHandler, evcp_charging_request_handler,
                      EVCP, CHARGING_REQUEST_HANDLER, GObject)

EvcpChargingRequestHandler *evcp_charging_request_handler_new          (const gchar                *cp_id,
                                                                        EvcpUserRegistry           *registry);
const gchar                *evcp_charging_request_handler_get_cp_id    (EvcpChargingRequestHandler *self);
EvcpUserRegistry           *evcp_charging_request_handler_get_registry (EvcpChargingRequestHandler *self);
guint                       evcp_charging_request_handler_get_accepted (EvcpChargingRequestHandler *self);
guint                       evcp_charging_request_handler_get_skipped  (EvcpChargingRequestHandler *self);
guint                       evcp_charging_request_handler_get_rejected (EvcpChargingRequestHandler *self);

G_END_DECLS
