/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/**
 * EvcpHealthOutcome:
 * @EVCP_HEALTH_OUTCOME_OK: the Engine answered `OK#<cp>`
 * @EVCP_HEALTH_OUTCOME_KO: the Engine answered `KO#<cp>#<reason>`
 * @EVCP_HEALTH_OUTCOME_TIMEOUT: no answer within the check's timeout
 * @EVCP_HEALTH_OUTCOME_REFUSED: no connection could be made (refused,
 *   unreachable, name not resolved)
 * @EVCP_HEALTH_OUTCOME_CLOSED: the Engine closed the connection (or sent
 *   EOT) before answering
 * @EVCP_HEALTH_OUTCOME_PROTOCOL: a bad frame from the Engine, or the
 *   request NACKed three times
 *
 * Every outcome but OK is a failed check.
 */
typedef enum {
  EVCP_HEALTH_OUTCOME_OK,
  EVCP_HEALTH_OUTCOME_KO,
  EVCP_HEALTH_OUTCOME_TIMEOUT,
  EVCP_HEALTH_OUTCOME_REFUSED,
  EVCP_HEALTH_OUTCOME_CLOSED,
  EVCP_HEALTH_OUTCOME_PROTOCOL,
} EvcpHealthOutcome;

GType        evcp_health_outcome_get_type  (void) G_GNUC_CONST;
#define EVCP_TYPE_HEALTH_OUTCOME (evcp_health_outcome_get_type ())
const gchar *evcp_health_outcome_to_string (EvcpHealthOutcome outcome);

/**
 * EvcpHealthResult:
 * @outcome: what happened
 * @reason: "" for OK; the Engine's reason for KO (or "KO" if it gave none);
 *   otherwise a short English description ("no answer within 1000 ms",
 *   "connection refused", "connection closed by the Engine",
 *   "bad frame from the Engine (bad-lrc)", …). It never contains `#` or a
 *   control byte, so that it can go into a FAULT frame as it is.
 * @latency_ms: from the start of the check to its end (the answer, or the
 *   failure), on monotonic time, connecting included
 * @answered: whether the Engine answered (OK or KO)
 * @connected: whether this check opened a new connection
 * @warning: the warning of an OK answer (OK#<cp>#<warning>: the Engine
 *   serves, but something is held back), sanitized as @reason; %NULL if none
 */
typedef struct {
  EvcpHealthOutcome  outcome;
  gchar             *reason;
  gdouble            latency_ms;
  gboolean           answered;
  gboolean           connected;
  gchar             *warning;
} EvcpHealthResult;

GType             evcp_health_result_get_type (void) G_GNUC_CONST;
#define EVCP_TYPE_HEALTH_RESULT (evcp_health_result_get_type ())
EvcpHealthResult *evcp_health_result_copy     (const EvcpHealthResult *result);
void              evcp_health_result_free     (EvcpHealthResult       *result);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EvcpHealthResult, evcp_health_result_free)

/* Replaces `#` and control bytes by spaces, keeps at most 200 bytes (on a
 * character boundary), and gives "" for %NULL: a text fit for a frame field. */
gchar            *evcp_health_sanitize_reason (const gchar *text) G_GNUC_WARN_UNUSED_RESULT;

/*
 * EvcpHealthChecker: one health check at a time against the Engine's health
 * socket (docs/monitor.md, "Health checks"), in the main loop with GIO
 * async sockets.
 *
 * A check connects if needed (GSocketClient), sends `HEALTH#<cp>` framed,
 * reads the ACK and the answer frame, ACKs the answer, and parses it. The
 * connection is kept open between checks: a check then costs one round trip
 * and the Engine sees one client, not a connection a second. Any failure
 * other than a KO answer closes it, and the next check reconnects. A kept
 * connection that turns out to be dead before anything was received on it
 * (the Engine restarted meanwhile) is replaced once, within the same check
 * and its timeout, so a restart costs no false failure.
 *
 * Frames from the Engine that are not the answer (another CP, an unknown
 * verb) are ACKed and ignored; a NACK makes the request go again (at most 3
 * sends); a bad frame is NACKed and fails the check.
 */
#define EVCP_TYPE_HEALTH_CHECKER (evcp_health_checker_get_type ())
G_DECLARE_FINAL_TYPE (EvcpHealthChecker, evcp_health_checker, EVCP, HEALTH_CHECKER, GObject)

EvcpHealthChecker *evcp_health_checker_new           (const gchar         *host,
                                                      guint16              port,
                                                      const gchar         *cp_id);

/**
 * evcp_health_checker_check_async:
 * @timeout_ms: the whole check's deadline (the health interval), at least 1
 * @cancellable: (nullable): to abandon the check (shutdown)
 *
 * Runs one check; only one at a time (a second one fails with
 * %G_IO_ERROR_PENDING).
 */
void               evcp_health_checker_check_async   (EvcpHealthChecker   *self,
                                                      guint                timeout_ms,
                                                      GCancellable        *cancellable,
                                                      GAsyncReadyCallback  callback,
                                                      gpointer             user_data);
/**
 * evcp_health_checker_check_finish:
 * @error: %G_IO_ERROR_CANCELLED or %G_IO_ERROR_PENDING only: a failed check
 *   is a result, not an error
 *
 * Returns: (transfer full): the result, or %NULL with @error
 */
EvcpHealthResult  *evcp_health_checker_check_finish  (EvcpHealthChecker   *self,
                                                      GAsyncResult        *result,
                                                      GError             **error);

/* Closes the kept connection, if any (not while a check runs). */
void               evcp_health_checker_disconnect    (EvcpHealthChecker   *self);
gboolean           evcp_health_checker_is_connected  (EvcpHealthChecker   *self);
gboolean           evcp_health_checker_is_busy       (EvcpHealthChecker   *self);
/* Connections opened so far. */
guint64            evcp_health_checker_get_connections (EvcpHealthChecker *self);

G_END_DECLS
