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

EvcpCentralState   evcp_central_client_get_state  (EvcpCentralClient   *self);
gboolean           evcp_central_client_is_ready   (EvcpCentralClient   *self);

/* For tests and tools: shorter timeouts (ms). 0 keeps the default. */
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
 */

G_END_DECLS
