/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "evcp-central-db.h"

G_BEGIN_DECLS

/*
 * EvcpCentralServer: a reference Central of the legacy socket protocol
 * (docs/protocol.md, docs/central.md), for development, tests and demos.
 *
 * It accepts any number of Engines and Monitors, answers AUTH and PING,
 * records STATE, SUPPLY, TICKET, FAULT and RECOVERED in a registry of CPs and
 * in an EvcpCentralDb, deduplicates reliable frames by (cp, role, seq) and
 * warns about gaps, and sends AUTHORIZE, STOP and RESUME to Engines. With
 * Kafka, it applies charging_sessions and monitoring_events to the same
 * registry with the same deduplication.
 */

#define EVCP_CENTRAL_DEFAULT_LISTEN_ADDRESS "127.0.0.1"

#define EVCP_TYPE_CENTRAL_SERVER (evcp_central_server_get_type ())
G_DECLARE_FINAL_TYPE (EvcpCentralServer, evcp_central_server, EVCP, CENTRAL_SERVER, GObject)

EvcpCentralServer *evcp_central_server_new          (EvcpCentralDb      *db);
/* Before listening. 0 keeps a default (1000 ms, 3 resends). */
void               evcp_central_server_set_timing   (EvcpCentralServer  *self,
                                                     guint               ack_timeout_ms,
                                                     guint               max_resends);
/* Before listening. 0 keeps a default (docs/central.md, "Limits"). */
void               evcp_central_server_set_limits   (EvcpCentralServer  *self,
                                                     guint               max_connections,
                                                     guint               max_unauthenticated,
                                                     guint               auth_timeout_ms,
                                                     guint               idle_timeout_ms);
/* --listen-address: an IP address or "localhost" (127.0.0.1); NULL with
 * @error naming @address otherwise (transfer full). */
GInetAddress *evcp_central_parse_listen_address (const gchar *address, GError **error);
/* @port 0: any free port; see evcp_central_server_get_port(). */
gboolean           evcp_central_server_listen       (EvcpCentralServer  *self,
                                                     const gchar        *address,
                                                     guint16             port,
                                                     GError            **error);
/* A CP's secret for AUTH (NULL: none); @persist keeps it in the database. */
gboolean           evcp_central_server_set_secret   (EvcpCentralServer  *self,
                                                     const gchar        *cp_id,
                                                     const gchar        *secret,
                                                     gboolean            persist,
                                                     GError            **error);
void               evcp_central_server_set_require_secret (EvcpCentralServer *self,
                                                     gboolean            require);
guint16            evcp_central_server_get_port     (EvcpCentralServer  *self);
gboolean           evcp_central_server_start_kafka  (EvcpCentralServer  *self,
                                                     const gchar        *brokers,
                                                     const gchar        *group_id,
                                                     GHashTable         *overrides,
                                                     GHashTable         *consumer_overrides,
                                                     GError            **error);

/* Central → Engine; FALSE if the CP is unknown or its Engine is not
 * connected. The frame is then sent with ACK wait and resend. */
gboolean           evcp_central_server_stop_cp      (EvcpCentralServer  *self,
                                                     const gchar        *cp_id,
                                                     GError            **error);
gboolean           evcp_central_server_resume_cp    (EvcpCentralServer  *self,
                                                     const gchar        *cp_id,
                                                     GError            **error);
/* Returns: (transfer full): the generated session id, or %NULL. */
gchar             *evcp_central_server_authorize    (EvcpCentralServer  *self,
                                                     const gchar        *cp_id,
                                                     const gchar        *driver,
                                                     gdouble             power_kw,
                                                     guint               max_duration_s,
                                                     GError            **error) G_GNUC_WARN_UNUSED_RESULT;
/* Ids of the CPs whose Engine is connected, sorted. */
GStrv              evcp_central_server_get_engine_cps (EvcpCentralServer *self) G_GNUC_WARN_UNUSED_RESULT;

/* The registry and states, as for the "list" command. */
JsonNode          *evcp_central_server_to_json      (EvcpCentralServer  *self) G_GNUC_WARN_UNUSED_RESULT;

/* Stops listening and consuming, sends EOT to every peer and closes. */
void               evcp_central_server_shutdown     (EvcpCentralServer  *self);
/* After a shutdown: whether every connection is closed. */
gboolean           evcp_central_server_is_finished  (EvcpCentralServer  *self);

/*
 * Signals:
 *   "changed": the registry changed (a state, a session, a connection).
 */

G_END_DECLS
