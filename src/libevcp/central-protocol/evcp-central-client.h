/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#include "evcp-outbox.h"

G_BEGIN_DECLS

/*
 * EvcpCentralClient: the CP side of the legacy socket link to Central
 * (docs/protocol.md), in the main loop with GIO async sockets.
 *
 * It connects to host:port, sends AUTH (ENGINE or MONITOR role) and waits
 * for AUTH_OK; then it sends, in order, every record of the outbox due at
 * EVCP_OUTBOX_CENTRAL (acknowledging it in the outbox when Central ACKs the
 * frame), best-effort frames (SUPPLY), and PING when idle for 5 s. A frame
 * NACKed or not ACKed within 1 s is sent again, at most 3 times; then the
 * link is treated as broken: closed, and reconnected with a capped
 * exponential backoff. Frames from Central are ACKed (or NACKed) and, when
 * addressed to this CP, emitted as "command".
 */

typedef enum {
  EVCP_CENTRAL_ROLE_ENGINE,
  EVCP_CENTRAL_ROLE_MONITOR,
} EvcpCentralRole;

typedef enum {
  EVCP_CENTRAL_STATE_STOPPED,
  EVCP_CENTRAL_STATE_CONNECTING,     /* includes waiting to reconnect */
  EVCP_CENTRAL_STATE_AUTHENTICATING,
  EVCP_CENTRAL_STATE_READY,          /* AUTH_OK received */
} EvcpCentralState;

GType        evcp_central_state_get_type  (void) G_GNUC_CONST;
#define EVCP_TYPE_CENTRAL_STATE (evcp_central_state_get_type ())  /* added: for the "state" property */
const gchar *evcp_central_state_to_string (EvcpCentralState state);

#define EVCP_TYPE_CENTRAL_CLIENT (evcp_central_client_get_type ())
G_DECLARE_FINAL_TYPE (EvcpCentralClient, evcp_central_client, EVCP, CENTRAL_CLIENT, GObject)

EvcpCentralClient *evcp_central_client_new        (const gchar         *host,
                                                   guint16              port,
                                                   EvcpCentralRole      role,
                                                   const gchar         *cp_id,
                                                   const gchar         *location,
                                                   gdouble              price_eur_kwh,
                                                   EvcpOutbox          *outbox);
void               evcp_central_client_start      (EvcpCentralClient   *self);
/* Sends EOT and closes; what is unsent stays in the outbox. */
void               evcp_central_client_stop       (EvcpCentralClient   *self);

/* Best effort: dropped (returns FALSE) when the link is not READY. */
gboolean           evcp_central_client_send       (EvcpCentralClient   *self,
                                                   const gchar * const *fields);

/* Before _start(): the per-CP secret (NULL: none), docs/protocol.md A1. */
void               evcp_central_client_set_secret (EvcpCentralClient   *self,
                                                   const gchar         *secret);
EvcpCentralState   evcp_central_client_get_state  (EvcpCentralClient   *self);
gboolean           evcp_central_client_is_ready   (EvcpCentralClient   *self);

/* For tests and tools: shorter timeouts (ms). 0 keeps the default. */
/* A link that stays down warns once, then logs at info, with a message
 * every @interval_ms (5 min by default) and one when it is back. */
void evcp_central_client_set_down_summary (EvcpCentralClient *self, guint interval_ms);
void               evcp_central_client_set_timing (EvcpCentralClient   *self,
                                                   guint                ack_timeout_ms,
                                                   guint                keepalive_ms,
                                                   guint                backoff_min_ms,
                                                   guint                backoff_max_ms);

/*
 * Signals:
 *   "command" (GStrv fields): a frame from Central for this CP (AUTHORIZE,
 *       STOP, RESUME, or a verb this client does not know), already ACKed;
 *   "auth-failed" (gchar *reason): AUTH_KO;
 *   notify::state.
 *
 * Details (docs/protocol.md, "Conversations", C1…):
 * - Only one frame awaits its ACK at a time: outbox records in seq order,
 *   best-effort frames in the order they were given, each after every record
 *   appended before it, PING when no frame was sent for 5 s.
 * - An ACK or NACK answers the oldest copy not yet answered, so that a late
 *   ACK of a resent frame is never taken for the ACK of the next frame.
 * - A frame from Central is acted on (the signal is emitted) once its ACK
 *   has been written to the socket. A frame without a second field, or for
 *   another CP, is ACKed and ignored.
 * - AUTH_OK or AUTH_KO must come within the keep-alive interval after the
 *   ACK of AUTH, or the link is broken. The connection attempt itself has
 *   10 s. Reconnection waits the backoff (less up to a quarter, at random),
 *   which doubles at every failure and returns to its minimum on AUTH_OK.
 * - Best-effort frames: at most 32 wait (the oldest is dropped beyond), and
 *   those not acknowledged when the link closes are dropped.
 * - Disposing of the client closes the link as evcp_central_client_stop().
 */

G_END_DECLS
