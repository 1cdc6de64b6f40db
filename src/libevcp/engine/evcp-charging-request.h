/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib-object.h>

#include "evcp-message.h"

G_BEGIN_DECLS

/**
 * EvcpChargingRequest:
 *
 * An immutable, reference-counted, validated CHARGING_REQUEST for this
 * charging point, as emitted by #EvcpChargingRequestHandler.
 */
typedef struct _EvcpChargingRequest EvcpChargingRequest;

#define EVCP_TYPE_CHARGING_REQUEST (evcp_charging_request_get_type ())
GType                evcp_charging_request_get_type          (void) G_GNUC_CONST;

EvcpChargingRequest *evcp_charging_request_new               (const gchar               *user_id,
                                                              const gchar               *cp_id,
                                                              gdouble                    requested_power_kw,
                                                              gint64                     max_duration_s,
                                                              const gchar               *user_name,
                                                              const gchar               *user_vehicle,
                                                              const gchar               *origin,
                                                              const gchar               *timestamp);
EvcpChargingRequest *evcp_charging_request_ref               (EvcpChargingRequest       *request);
void                 evcp_charging_request_unref             (EvcpChargingRequest       *request);

const gchar         *evcp_charging_request_get_user_id       (const EvcpChargingRequest *request);
const gchar         *evcp_charging_request_get_cp_id         (const EvcpChargingRequest *request);
gdouble              evcp_charging_request_get_requested_power_kw (const EvcpChargingRequest *request);
gint64               evcp_charging_request_get_max_duration_s (const EvcpChargingRequest *request);
const gchar         *evcp_charging_request_get_user_name     (const EvcpChargingRequest *request);
const gchar         *evcp_charging_request_get_user_vehicle  (const EvcpChargingRequest *request);
const gchar         *evcp_charging_request_get_origin        (const EvcpChargingRequest *request);
const gchar         *evcp_charging_request_get_timestamp     (const EvcpChargingRequest *request);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EvcpChargingRequest, evcp_charging_request_unref)

void                 evcp_charging_request_set_request_id  (EvcpChargingRequest       *request,
                                                            const gchar               *request_id);
const gchar         *evcp_charging_request_get_request_id  (EvcpChargingRequest       *request);
void                 evcp_charging_request_set_message     (EvcpChargingRequest       *request,
                                                            EvcpMessage               *message);
gboolean             evcp_charging_request_is              (EvcpChargingRequest       *request,
                                                            const gchar               *request_id);

G_END_DECLS
