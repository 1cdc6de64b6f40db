/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "evcp-build-config.h"

#include "evcp-error.h"

G_DEFINE_QUARK (evcp-error-quark, evcp_error)

const gchar *
evcp_error_to_string (EvcpError code)
{
  switch (code)
    {
    case EVCP_ERROR_FAILED: return "failed";
    case EVCP_ERROR_INVALID_MESSAGE: return "invalid-message";
    case EVCP_ERROR_TOO_LARGE: return "too-large";
    case EVCP_ERROR_TOO_DEEP: return "too-deep";
    case EVCP_ERROR_NOT_UTF8: return "not-utf8";
    case EVCP_ERROR_NO_HANDLER: return "no-handler";
    case EVCP_ERROR_HANDLER_FAILED: return "handler-failed";
    case EVCP_ERROR_KAFKA: return "kafka";
    case EVCP_ERROR_CONFIG: return "config";
    case EVCP_ERROR_PLUGIN: return "plugin";
    case EVCP_ERROR_EXISTS: return "exists";
    case EVCP_ERROR_NOT_FOUND: return "not-found";
    case EVCP_ERROR_REFUSED: return "refused";
    case EVCP_ERROR_CANCELLED: return "cancelled";
    case EVCP_ERROR_KAFKA_RECORD: return "kafka-record";
    default: return "unknown";
    }
}

gboolean
evcp_error_is_permanent (const GError *error)
{
  g_return_val_if_fail (error != NULL, FALSE);

  if (error->domain != EVCP_ERROR)
    return FALSE;
  switch (error->code)
    {
    case EVCP_ERROR_INVALID_MESSAGE:
    case EVCP_ERROR_TOO_LARGE:
    case EVCP_ERROR_TOO_DEEP:
    case EVCP_ERROR_NOT_UTF8:
    case EVCP_ERROR_NO_HANDLER:
    case EVCP_ERROR_REFUSED:
    case EVCP_ERROR_KAFKA_RECORD:
      return TRUE;
    default:
      return FALSE;
    }
}
