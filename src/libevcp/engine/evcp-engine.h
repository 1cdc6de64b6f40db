/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib-object.h>

#include "evcp-central-client.h"
#include "evcp-charging-request.h"
#include "evcp-config.h"
#include "evcp-kafka-service.h"
#include "evcp-outbox.h"
#include "evcp-supply.h"
#include "evcp-user-registry.h"

G_BEGIN_DECLS

#define EVCP_TYPE_ENGINE (evcp_engine_get_type ())
G_DECLARE_FINAL_TYPE (EvcpEngine, evcp_engine, EVCP, ENGINE, GObject)

/*
 * EvcpEngine: the charging point's Engine. The Kafka service with the
 * built-in handlers and the plugins; the supply state machine fed by
 * CHARGING_REQUEST from Kafka and AUTHORIZE from Central; the outbox, sent
 * to Central (EvcpCentralClient) and to Kafka (EvcpKafkaOutboxSender); the
 * health server the Monitor checks. No D-Bus and no main() here.
 *
 * What it reports (docs/protocol.md, "The Engine's events"):
 *   STATE#<cp>#<state>#<seq>                    outbox, Central; the change to
 *                                               SUPPLYING also carries SESSION_STARTED
 *                                               to Kafka under the same seq
 *   TICKET#<cp>#<session>#<driver>#<kwh>#<eur>#<reason>#<seq>
 *                                               outbox, Central and Kafka (SESSION_ENDED)
 *   SUPPLY#<cp>#<session>#<driver>#<kwh>#<eur>  best effort, Central and Kafka
 *                                               (SESSION_TELEMETRY), once a second
 *   REQUEST_REFUSED                             best effort, Kafka
 */
EvcpEngine        *evcp_engine_new               (EvcpConfig  *config);
gboolean           evcp_engine_start             (EvcpEngine  *self,
                                                  GError     **error);
void               evcp_engine_stop              (EvcpEngine  *self);
EvcpConfig        *evcp_engine_get_config        (EvcpEngine  *self);
EvcpKafkaService  *evcp_engine_get_kafka_service (EvcpEngine  *self);
EvcpUserRegistry  *evcp_engine_get_user_registry (EvcpEngine  *self);
/* After evcp_engine_start(): */
guint64            evcp_engine_get_requests_repeated (EvcpEngine *self);
EvcpSupply        *evcp_engine_get_supply        (EvcpEngine  *self);
EvcpOutbox        *evcp_engine_get_outbox        (EvcpEngine  *self);
EvcpCentralClient *evcp_engine_get_central       (EvcpEngine  *self);
guint16            evcp_engine_get_health_port   (EvcpEngine  *self);
guint64            evcp_engine_get_events_dropped (EvcpEngine *self);

/* The session the previous run left open and this start closed with its
 * ticket (the Engine was killed under it), or NULL. (transfer none) */
const EvcpSession *evcp_engine_get_recovered_session (EvcpEngine *self);
/* The state directory of this CP (after evcp_engine_start()). */
const gchar *evcp_engine_get_state_dir (EvcpEngine *self);
/* A supply session for @driver, from another link than Kafka and Central
 * (@source: "ocpp"), with the same checks (a CP that cannot record it
 * refuses it). EVCP_ERROR_REFUSED when refused. */
gboolean evcp_engine_start_session (EvcpEngine *self, const gchar *driver, const gchar *source, gdouble power_kw,
                                    gint64 max_duration_s, GError **error);

/* Operator actions (terminal keys, signals, D-Bus). */
void               evcp_engine_simulate_fault    (EvcpEngine  *self,
                                                  const gchar *reason);
void               evcp_engine_clear_fault       (EvcpEngine  *self);
gboolean           evcp_engine_unplug            (EvcpEngine  *self);

G_END_DECLS
