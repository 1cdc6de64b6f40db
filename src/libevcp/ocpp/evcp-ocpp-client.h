/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "evcp-ocpp-schema.h"

G_BEGIN_DECLS

/* A number as text for a translated message: a G_*_FORMAT macro inside a msgid
 * would cut the msgid there (xgettext stops at the macro). The text lives in
 * a compound literal of the enclosing block. */
static inline const gchar *
evcp_ocpp_num_text (gchar *buf, gsize size, gint64 value)
{
  g_snprintf (buf, size, "%" G_GINT64_FORMAT, value);
  return buf;
}
#define EVCP_OCPP_NUM(value) evcp_ocpp_num_text ((gchar[24]){ 0 }, 24, (gint64) (value))

/* For g_timeout_add() (exact, where g_timeout_add_seconds() may fire up to
 * a second early): @seconds in ms, at most G_MAXUINT. */
static inline guint
evcp_ocpp_seconds_to_ms (guint64 seconds)
{
  return (guint) MIN (seconds * 1000, (guint64) G_MAXUINT);
}

/*
 * EvcpOcppClient: the charging point's end of an OCPP 1.6J link (JSON over
 * WebSocket, subprotocol "ocpp1.6"), on the main loop with libsoup 3.
 *
 * It connects to <url>/<cp-id>, with HTTP Basic authentication when a
 * password is set (security profile 1), a CA file for wss:// (profile 2)
 * and a client certificate (profile 3); reconnects with a capped, jittered
 * exponential backoff; pings the CSMS and drops a link whose pongs stop.
 *
 * Outgoing CALLs are queued and sent one at a time: the next goes when the
 * previous one has its CALLRESULT or CALLERROR, or after the call timeout.
 * While the queue is closed (before the CSMS accepted the BootNotification)
 * only urgent CALLs go. CALLs flagged KEEP (transaction messages) stay
 * queued across a link drop and are retried on failure; the others are
 * dropped with the link.
 *
 * Incoming CALLs are checked against the OCPP schemas
 * (evcp-ocpp-schema.h) before the handler sees them; a bad one is
 * answered with its CALLERROR and logged. Frames larger than the maximum
 * are refused by closing the link (1009), as libsoup does.
 */

typedef enum {
  EVCP_OCPP_LINK_STOPPED,
  EVCP_OCPP_LINK_CONNECTING, /* includes waiting to reconnect */
  EVCP_OCPP_LINK_CONNECTED,
} EvcpOcppLinkState;

const gchar *evcp_ocpp_link_state_to_string (EvcpOcppLinkState state);

typedef enum {
  EVCP_OCPP_CALL_NONE = 0,
  EVCP_OCPP_CALL_URGENT = 1 << 0, /* first in the queue, even when it is closed */
  EVCP_OCPP_CALL_KEEP = 1 << 1,   /* kept across link drops, retried */
  /* its owner keeps it and sends it again (the transaction messages, on
   * disk): a failure or a drop is not counted as dropped here */
  EVCP_OCPP_CALL_OWNER_RETRIES = 1 << 2,
} EvcpOcppCallFlags;

typedef struct {
  gchar *url; /* ws:// or wss://, without the CP id */
  gchar *cp_id;
  gchar *password;  /* NULL: no Basic authentication */
  gchar *ca_file;   /* NULL: the system's CAs */
  gchar *cert_file; /* with key_file: a client certificate */
  gchar *key_file;
  guint ping_interval_s; /* 0: no pings */
  guint pong_timeout_s;
  guint call_timeout_ms;
  guint reconnect_min_ms;
  guint reconnect_max_ms;
  guint64 max_frame_size;
} EvcpOcppSettings;

/* A CALL answered: @result (the CALLRESULT's payload, checked against its
 * schema) or @error (a CALLERROR, a timeout, a drop, a bad payload). */
typedef void (*EvcpOcppResultFunc) (JsonObject *result, const GError *error, gpointer user_data);
/* Just before a CALL goes (and before each retry): may fill in @payload.
 * Returns FALSE to drop the CALL. */
typedef gboolean (*EvcpOcppPrepareFunc) (JsonObject *payload, gpointer user_data);
/* An incoming CALL whose payload passed its schema: returns the CALLRESULT's
 * payload, or NULL with an EVCP_OCPP_ERROR for a CALLERROR. */
typedef JsonObject *(*EvcpOcppCallHandler) (const gchar *action, JsonObject *payload, GError **error,
                                            gpointer user_data);

#define EVCP_TYPE_OCPP_CLIENT (evcp_ocpp_client_get_type ())
G_DECLARE_FINAL_TYPE (EvcpOcppClient, evcp_ocpp_client, EVCP, OCPP_CLIENT, GObject)

/*
 * Signals:
 *   "state-changed" (): the link state or the last error changed
 *   "connected" (): a WebSocket is open (the queue is closed: boot now)
 */
EvcpOcppClient *evcp_ocpp_client_new (const EvcpOcppSettings *settings, EvcpOcppCallHandler handler,
                                      gpointer handler_data);
void evcp_ocpp_client_start (EvcpOcppClient *self);
void evcp_ocpp_client_stop (EvcpOcppClient *self);
/* Drops the link (if any) and connects again at once. */
void evcp_ocpp_client_reconnect (EvcpOcppClient *self, const gchar *why);
/* As a stop then a start: every CALL queued is given up (not KEEP ones with
 * an error to their owner), the TLS files are read again, the backoff starts
 * over, and a new connection is made at once. The counters are kept. */
void evcp_ocpp_client_restart (EvcpOcppClient *self, const gchar *why);

/* Takes @payload. @destroy frees @user_data once the CALL is done with. */
void evcp_ocpp_client_call (EvcpOcppClient *self, const gchar *action, JsonObject *payload, EvcpOcppCallFlags flags,
                            EvcpOcppPrepareFunc prepare, EvcpOcppResultFunc done, gpointer user_data,
                            GDestroyNotify destroy);
/* Whether CALLs other than urgent ones may go. */
void evcp_ocpp_client_set_open (EvcpOcppClient *self, gboolean open);
/* Retries of KEEP CALLs: at most @attempts sends, waiting @interval_s ×
 * the number of sends so far between two. */
void evcp_ocpp_client_set_retries (EvcpOcppClient *self, guint attempts, guint interval_s);
void evcp_ocpp_client_set_ping_interval (EvcpOcppClient *self, guint seconds);

EvcpOcppLinkState evcp_ocpp_client_get_state (EvcpOcppClient *self);
/* Why the last connection failed or ended, "" if it did not. */
const gchar *evcp_ocpp_client_get_error (EvcpOcppClient *self);
guint evcp_ocpp_client_get_queue_length (EvcpOcppClient *self);

typedef struct {
  guint64 calls_sent;       /* CALLs sent (retries included) */
  guint64 calls_received;   /* CALLs from the CSMS */
  guint64 call_errors_sent; /* CALLERRORs answered */
  guint64 call_errors_received;
  guint64 call_timeouts;
  guint64 connects; /* WebSockets opened */
  guint64 connect_failures;
  guint64 calls_dropped; /* given up: not KEEP at a drop, or out of attempts (not OWNER_RETRIES ones) */
} EvcpOcppCounters;

const EvcpOcppCounters *evcp_ocpp_client_get_counters (EvcpOcppClient *self);

G_END_DECLS
