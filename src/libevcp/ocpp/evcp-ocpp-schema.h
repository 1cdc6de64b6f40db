/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/*
 * The OCPP 1.6J payloads the charging point receives, checked against their
 * JSON schemas before anything acts on them: required fields, types,
 * maximum lengths, enumerations, integers that are not negative where the
 * schema says so, no unknown member. Stateless.
 *
 * A failure is an EVCP_OCPP_ERROR whose code is the CALLERROR to answer.
 */

#define EVCP_OCPP_ERROR (evcp_ocpp_error_quark ())

/**
 * EvcpOcppError:
 * The error codes of OCPP-J 1.6 (section 4.2.3), as a GError domain.
 */
typedef enum {
  EVCP_OCPP_ERROR_NOT_IMPLEMENTED,
  EVCP_OCPP_ERROR_NOT_SUPPORTED,
  EVCP_OCPP_ERROR_INTERNAL,
  EVCP_OCPP_ERROR_PROTOCOL,
  EVCP_OCPP_ERROR_SECURITY,
  EVCP_OCPP_ERROR_FORMATION_VIOLATION,
  EVCP_OCPP_ERROR_PROPERTY_CONSTRAINT_VIOLATION,
  EVCP_OCPP_ERROR_OCCURENCE_CONSTRAINT_VIOLATION,
  EVCP_OCPP_ERROR_TYPE_CONSTRAINT_VIOLATION,
  EVCP_OCPP_ERROR_GENERIC,
  /* not a CALLERROR: the CSMS did not answer a CALL in time */
  EVCP_OCPP_ERROR_TIMEOUT,
  /* not a CALLERROR: the link went down with the CALL in flight */
  EVCP_OCPP_ERROR_DISCONNECTED,
} EvcpOcppError;

GQuark evcp_ocpp_error_quark (void);
/* "NotImplemented", "FormationViolation", …: the word of the CALLERROR. */
const gchar *evcp_ocpp_error_code_to_string (EvcpOcppError code);

/* Whether @action is an OCPP 1.6 action that a CSMS may send (Core or not). */
gboolean evcp_ocpp_schema_is_known_call (const gchar *action);

/* Checks the payload of a CALL the CSMS sent: NOT_IMPLEMENTED for an
 * action that is not OCPP 1.6, NOT_SUPPORTED for one outside what evcp
 * supports, else the payload against the action's request schema. */
gboolean evcp_ocpp_schema_check_call (const gchar *action, JsonNode *payload, GError **error);

/* Checks the payload of a CALLRESULT against the response schema of the
 * CALL @action the charging point sent. */
gboolean evcp_ocpp_schema_check_result (const gchar *action, JsonNode *payload, GError **error);

G_END_DECLS
