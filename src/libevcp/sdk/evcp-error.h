/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * EVCP_ERROR:
 *
 * The error domain of evcp: its codes are #EvcpError.
 *
 * Since: 0.1
 */
#define EVCP_ERROR (evcp_error_quark ())

/**
 * EvcpError:
 * @EVCP_ERROR_FAILED: generic, transient failure (a handler may be retried)
 * @EVCP_ERROR_INVALID_MESSAGE: the message is malformed or violates the
 *   contract; permanent, never retried
 * @EVCP_ERROR_TOO_LARGE: the message is larger than the configured limit
 * @EVCP_ERROR_TOO_DEEP: the JSON nesting is deeper than the configured limit
 * @EVCP_ERROR_NOT_UTF8: the message is not valid UTF-8
 * @EVCP_ERROR_NO_HANDLER: no registered handler accepted the message
 * @EVCP_ERROR_HANDLER_FAILED: accepting handlers failed after their retries
 * @EVCP_ERROR_KAFKA: an error reported by librdkafka
 * @EVCP_ERROR_CONFIG: invalid configuration
 * @EVCP_ERROR_PLUGIN: a plugin could not be loaded
 * @EVCP_ERROR_EXISTS: an object with that name is already registered
 * @EVCP_ERROR_NOT_FOUND: no object with that name
 * @EVCP_ERROR_REFUSED: a request was refused (busy, stopped, fault)
 * @EVCP_ERROR_CANCELLED: the operation was cancelled by a shutdown
 * @EVCP_ERROR_KAFKA_RECORD: librdkafka or the broker refused a record itself
 *   (too large, invalid): sending the same record again cannot succeed
 *
 * The codes of the %EVCP_ERROR domain.
 *
 * Since: 0.1
 */
typedef enum {
  EVCP_ERROR_FAILED,
  EVCP_ERROR_INVALID_MESSAGE,
  EVCP_ERROR_TOO_LARGE,
  EVCP_ERROR_TOO_DEEP,
  EVCP_ERROR_NOT_UTF8,
  EVCP_ERROR_NO_HANDLER,
  EVCP_ERROR_HANDLER_FAILED,
  EVCP_ERROR_KAFKA,
  EVCP_ERROR_CONFIG,
  EVCP_ERROR_PLUGIN,
  EVCP_ERROR_EXISTS,
  EVCP_ERROR_NOT_FOUND,
  EVCP_ERROR_REFUSED,
  EVCP_ERROR_CANCELLED,
  EVCP_ERROR_KAFKA_RECORD,
} EvcpError;

/**
 * evcp_error_quark:
 *
 * The quark of %EVCP_ERROR.
 *
 * Returns: the error domain of evcp
 *
 * Since: 0.1
 */
GQuark        evcp_error_quark      (void);

/**
 * evcp_error_to_string:
 * @code: a code of the %EVCP_ERROR domain
 *
 * The name of @code, for logs and the evcp.error.code header of a dead
 * letter.
 *
 * Returns: (transfer none): "failed", "invalid-message", "too-large", …
 *
 * Since: 0.1
 */
const gchar  *evcp_error_to_string  (EvcpError code);

/**
 * evcp_error_is_permanent:
 * @error: a failure
 *
 * Whether a failure with @error is permanent, that is not worth retrying:
 * an %EVCP_ERROR of a message that cannot become acceptable (malformed, too
 * large, too deep, not UTF-8, of no handler's kind…). Errors of other
 * domains are transient.
 *
 * Returns: %TRUE when retrying cannot succeed
 *
 * Since: 0.1
 */
gboolean      evcp_error_is_permanent (const GError *error);

G_END_DECLS
