/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

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

GQuark        evcp_error_quark      (void);
const gchar  *evcp_error_to_string  (EvcpError code);

/* Whether a failure with @error is worth retrying. */
gboolean      evcp_error_is_permanent (const GError *error);

G_END_DECLS
