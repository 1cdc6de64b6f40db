/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "evcp-handlers"

#include "evcp-build-config.h"

#include <string.h>

#include "evcp-charging-request.h"

struct _EvcpChargingRequest
{
  gchar   *user_id;
  gchar   *cp_id;
  gdouble  requested_power_kw;
  gint64   max_duration_s;
  gchar   *user_name;     /* nullable */
  gchar   *user_vehicle;  /* nullable */
  gchar   *origin;
  gchar   *timestamp;     /* nullable */
  gchar   *request_id;    /* nullable; computed from @message when first asked */
  EvcpMessage *message;   /* nullable: where it was read */
};

G_DEFINE_BOXED_TYPE (EvcpChargingRequest, evcp_charging_request,
                     evcp_charging_request_ref, evcp_charging_request_unref)

static void
evcp_charging_request_clear (gpointer data)
{
  EvcpChargingRequest *request = data;

  g_free (request->user_id);
  g_free (request->cp_id);
  g_free (request->user_name);
  g_free (request->user_vehicle);
  g_free (request->origin);
  g_free (request->timestamp);
  g_free (request->request_id);
  g_clear_pointer (&request->message, evcp_message_unref);
}

/**
 * evcp_charging_request_new:
 * @user_id: the requesting user
 * @cp_id: the charging point asked for
 * @requested_power_kw: the power asked for, in kW
 * @max_duration_s: the longest supply asked for, in seconds
 * @user_name: (nullable): the user's name, if known
 * @user_vehicle: (nullable): the user's vehicle, if known
 * @origin: where the request came from, as evcp_message_describe() gives it
 * @timestamp: (nullable): the message's ISO 8601 timestamp, if it had one
 *
 * Returns: (transfer full): a new request; the values are not validated here
 */
EvcpChargingRequest *
evcp_charging_request_new (const gchar *user_id,
                           const gchar *cp_id,
                           gdouble      requested_power_kw,
                           gint64       max_duration_s,
                           const gchar *user_name,
                           const gchar *user_vehicle,
                           const gchar *origin,
                           const gchar *timestamp)
{
  EvcpChargingRequest *request;

  g_return_val_if_fail (user_id != NULL, NULL);
  g_return_val_if_fail (cp_id != NULL, NULL);
  g_return_val_if_fail (origin != NULL, NULL);

  request = g_atomic_rc_box_new0 (EvcpChargingRequest);
  request->user_id = g_strdup (user_id);
  request->cp_id = g_strdup (cp_id);
  request->requested_power_kw = requested_power_kw;
  request->max_duration_s = max_duration_s;
  request->user_name = g_strdup (user_name);
  request->user_vehicle = g_strdup (user_vehicle);
  request->origin = g_strdup (origin);
  request->timestamp = g_strdup (timestamp);
  return request;
}

EvcpChargingRequest *
evcp_charging_request_ref (EvcpChargingRequest *request)
{
  g_return_val_if_fail (request != NULL, NULL);
  return g_atomic_rc_box_acquire (request);
}

void
evcp_charging_request_unref (EvcpChargingRequest *request)
{
  g_return_if_fail (request != NULL);
  g_atomic_rc_box_release_full (request, evcp_charging_request_clear);
}

const gchar *
evcp_charging_request_get_user_id (const EvcpChargingRequest *request)
{
  g_return_val_if_fail (request != NULL, NULL);
  return request->user_id;
}

const gchar *
evcp_charging_request_get_cp_id (const EvcpChargingRequest *request)
{
  g_return_val_if_fail (request != NULL, NULL);
  return request->cp_id;
}

gdouble
evcp_charging_request_get_requested_power_kw (const EvcpChargingRequest *request)
{
  g_return_val_if_fail (request != NULL, 0);
  return request->requested_power_kw;
}

gint64
evcp_charging_request_get_max_duration_s (const EvcpChargingRequest *request)
{
  g_return_val_if_fail (request != NULL, 0);
  return request->max_duration_s;
}

/* Returns: (nullable): the user's name, if the user registry knew it */
const gchar *
evcp_charging_request_get_user_name (const EvcpChargingRequest *request)
{
  g_return_val_if_fail (request != NULL, NULL);
  return request->user_name;
}

/* Returns: (nullable): the user's vehicle, if the user registry knew it */
const gchar *
evcp_charging_request_get_user_vehicle (const EvcpChargingRequest *request)
{
  g_return_val_if_fail (request != NULL, NULL);
  return request->user_vehicle;
}

/* Returns: the origin of the message, e.g. "charging_requests[0]@17 kind=CHARGING_REQUEST" */
const gchar *
evcp_charging_request_get_origin (const EvcpChargingRequest *request)
{
  g_return_val_if_fail (request != NULL, NULL);
  return request->origin;
}

/* Returns: (nullable): the message's ISO 8601 timestamp, if it had one */
const gchar *
evcp_charging_request_get_timestamp (const EvcpChargingRequest *request)
{
  g_return_val_if_fail (request != NULL, NULL);
  return request->timestamp;
}

/**
 * evcp_charging_request_set_request_id:
 * @request_id: (nullable): what identifies this request among every
 *   delivery of it: "id:" and the producer's `request_id`
 *
 * Set by the handler before the request is emitted.
 */
void
evcp_charging_request_set_request_id (EvcpChargingRequest *request, const gchar *request_id)
{
  g_return_if_fail (request != NULL);
  g_free (request->request_id);
  request->request_id = g_strdup (request_id);
}

/**
 * evcp_charging_request_set_message:
 *
 * Where the request was read: without a producer's id, it is identified by
 * its topic, partition, offset and a digest of its bytes (a topic created
 * again reuses offsets), worked out only when asked for.
 */
void
evcp_charging_request_set_message (EvcpChargingRequest *request, EvcpMessage *message)
{
  g_return_if_fail (request != NULL);
  g_clear_pointer (&request->message, evcp_message_unref);
  if (message != NULL && evcp_message_get_topic (message) != NULL)
    request->message = evcp_message_ref (message);
}

/**
 * evcp_charging_request_get_request_id:
 *
 * Returns: (nullable): what identifies this request among every delivery
 *   of it: "id:<request_id>" when the producer gave one, else
 *   "topic/partition/offset/digest"; %NULL for a request not read from Kafka
 */
const gchar *
evcp_charging_request_get_request_id (EvcpChargingRequest *request)
{
  g_return_val_if_fail (request != NULL, NULL);

  if (request->request_id == NULL && request->message != NULL)
    request->request_id = g_strdup_printf ("%.64s/%d/%" G_GINT64_FORMAT "/%08x",
                                           evcp_message_get_topic (request->message),
                                           evcp_message_get_partition (request->message),
                                           evcp_message_get_offset (request->message),
                                           g_bytes_hash (evcp_message_get_raw (request->message)));
  return request->request_id;
}

/**
 * evcp_charging_request_is:
 * @request_id: an id from evcp_charging_request_get_request_id()
 *
 * Whether @request is the one @request_id names: cheap when it is not (the
 * partition and offset are compared before any digest is worked out), for
 * every request that comes while a session runs.
 */
gboolean
evcp_charging_request_is (EvcpChargingRequest *request, const gchar *request_id)
{
  const gchar *slash[3] = { NULL, NULL, NULL };
  guint found = 0;
  gint64 partition, offset;

  g_return_val_if_fail (request != NULL, FALSE);

  if (request_id == NULL)
    return FALSE;
  if (request->request_id != NULL || request->message == NULL || g_str_has_prefix (request_id, "id:"))
    return g_strcmp0 (evcp_charging_request_get_request_id (request), request_id) == 0;
  /* topic/partition/offset/digest: the last three slashes */
  for (const gchar *p = request_id + strlen (request_id); p > request_id && found < 3; p--)
    if (p[-1] == '/')
      slash[found++] = p - 1;
  if (found < 3)
    return FALSE;
  partition = g_ascii_strtoll (slash[2] + 1, NULL, 10);
  offset = g_ascii_strtoll (slash[1] + 1, NULL, 10);
  if (partition != evcp_message_get_partition (request->message) ||
      offset != evcp_message_get_offset (request->message))
    return FALSE;
  return g_strcmp0 (evcp_charging_request_get_request_id (request), request_id) == 0;
}
