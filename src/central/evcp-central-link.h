/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/*
 * EvcpCentralLink: one accepted connection of the Central socket protocol,
 * seen from Central. Framing only, no meaning:
 *
 * - every whole frame is answered ACK, then emitted as "frame";
 * - every BAD event of the decoder is answered with one NACK ("bad");
 * - frames sent with evcp_central_link_send() go out one at a time: the next
 *   only once the previous one was ACKed. A NACK, or no ACK within the ACK
 *   timeout, sends it again, at most max_resends times; then the link is
 *   broken: "failed" for that frame, and the link closes ("closed");
 * - an EOT from the peer closes the link; evcp_central_link_close() with
 *   @polite sends EOT first.
 *
 * All I/O is asynchronous on the thread-default main context of the caller
 * of evcp_central_link_start().
 */

#define EVCP_CENTRAL_LINK_ACK_TIMEOUT_MS 1000
#define EVCP_CENTRAL_LINK_MAX_RESENDS    3
/* Bounds against a hostile or stuck peer (docs/central.md, "Limits"):
 * bytes waiting to be written to it, useless or bad frames in a row (the
 * first few of them are logged), bytes read since the last thing of use. */
#define EVCP_CENTRAL_LINK_MAX_BACKLOG    (64 * 1024)
#define EVCP_CENTRAL_LINK_MAX_STRIKES    100
#define EVCP_CENTRAL_LINK_MAX_USELESS_BYTES (64 * 1024)
#define EVCP_CENTRAL_LINK_LOGGED_STRIKES 10

#define EVCP_TYPE_CENTRAL_LINK (evcp_central_link_get_type ())
G_DECLARE_FINAL_TYPE (EvcpCentralLink, evcp_central_link, EVCP, CENTRAL_LINK, GObject)

EvcpCentralLink *evcp_central_link_new         (GSocketConnection   *connection,
                                                guint                ack_timeout_ms,
                                                guint                max_resends);
void             evcp_central_link_start       (EvcpCentralLink     *self);
/* Queues a frame; FALSE (and nothing queued) if the fields cannot be framed
 * or the link is closed. */
gboolean         evcp_central_link_send        (EvcpCentralLink     *self,
                                                const gchar * const *fields,
                                                GError             **error);
/* Drops what is queued; with @polite, sends EOT before closing. */
void             evcp_central_link_close       (EvcpCentralLink     *self,
                                                gboolean             polite,
                                                const gchar         *reason);
guint            evcp_central_link_strike      (EvcpCentralLink     *self,
                                                const gchar         *why);
void             evcp_central_link_forgive     (EvcpCentralLink     *self);
gboolean         evcp_central_link_is_closed   (EvcpCentralLink     *self);
/* Closed, and every pending operation has finished. */
gboolean         evcp_central_link_is_finished (EvcpCentralLink     *self);
const gchar     *evcp_central_link_get_peer    (EvcpCentralLink     *self);
/* Frames queued or waiting for their ACK. */
guint            evcp_central_link_get_pending (EvcpCentralLink     *self);

/*
 * Signals:
 *   "frame" (const gchar *data, GStrv fields): a frame, already ACKed;
 *   "bad" (const gchar *reason, guint strikes): bytes dropped, already
 *     NACKed; the strikes in a row, this one included;
 *   "delivered" (const gchar *data): a frame sent was ACKed;
 *   "failed" (const gchar *data): a frame sent was never ACKed;
 *   "closed" (const gchar *reason): once, when the link closes.
 */

G_END_DECLS
