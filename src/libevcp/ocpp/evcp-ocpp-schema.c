/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "evcp-ocpp"

#include "evcp-build-config.h"

#include <glib/gi18n-lib.h>

#include "evcp-ocpp-schema.h"

G_DEFINE_QUARK (evcp - ocpp - error - quark, evcp_ocpp_error)

static const gchar * const error_codes[] = {
  [EVCP_OCPP_ERROR_NOT_IMPLEMENTED] = "NotImplemented",
  [EVCP_OCPP_ERROR_NOT_SUPPORTED] = "NotSupported",
  [EVCP_OCPP_ERROR_INTERNAL] = "InternalError",
  [EVCP_OCPP_ERROR_PROTOCOL] = "ProtocolError",
  [EVCP_OCPP_ERROR_SECURITY] = "SecurityError",
  [EVCP_OCPP_ERROR_FORMATION_VIOLATION] = "FormationViolation",
  [EVCP_OCPP_ERROR_PROPERTY_CONSTRAINT_VIOLATION] = "PropertyConstraintViolation",
  [EVCP_OCPP_ERROR_OCCURENCE_CONSTRAINT_VIOLATION] = "OccurenceConstraintViolation",
  [EVCP_OCPP_ERROR_TYPE_CONSTRAINT_VIOLATION] = "TypeConstraintViolation",
  [EVCP_OCPP_ERROR_GENERIC] = "GenericError",
  [EVCP_OCPP_ERROR_TIMEOUT] = "GenericError",
  [EVCP_OCPP_ERROR_DISCONNECTED] = "GenericError",
};

const gchar *
evcp_ocpp_error_code_to_string (EvcpOcppError code)
{
  if ((guint) code >= G_N_ELEMENTS (error_codes))
    return "GenericError";
  return error_codes[code];
}

/* ---- the schemas, as tables ------------------------------------------- */

typedef enum {
  T_STRING,
  T_INTEGER,
  T_DECIMAL,
  T_DATETIME,
  T_OBJECT,     /* members checked against @members */
  T_ANY_OBJECT, /* an object evcp does not look into (a charging profile) */
  T_STRING_ARRAY,
} FieldType;

typedef struct _Field Field;
struct _Field {
  const gchar *name;
  FieldType type;
  gboolean required;
  guint max_len;               /* T_STRING, T_STRING_ARRAY items; 0: none */
  const gchar * const *values; /* an enumeration, NULL-terminated; NULL: any */
  const Field *members;        /* T_OBJECT; ends with a NULL name */
};

#define END                       \
  {                               \
    NULL, 0, FALSE, 0, NULL, NULL \
  }

static const gchar * const availability_types[] = { "Inoperative", "Operative", NULL };
static const gchar * const reset_types[] = { "Hard", "Soft", NULL };
static const gchar * const trigger_messages[] = { "BootNotification",
                                                  "DiagnosticsStatusNotification",
                                                  "FirmwareStatusNotification",
                                                  "Heartbeat",
                                                  "MeterValues",
                                                  "StatusNotification",
                                                  NULL };
static const gchar * const registration_statuses[] = { "Accepted", "Pending", "Rejected", NULL };
static const gchar * const authorization_statuses[] = { "Accepted", "Blocked",      "Expired",
                                                        "Invalid",  "ConcurrentTx", NULL };

static const Field remote_start[] = { { "connectorId", T_INTEGER, FALSE, 0, NULL, NULL },
                                      { "idTag", T_STRING, TRUE, 20, NULL, NULL },
                                      { "chargingProfile", T_ANY_OBJECT, FALSE, 0, NULL, NULL },
                                      END };
static const Field remote_stop[] = { { "transactionId", T_INTEGER, TRUE, 0, NULL, NULL }, END };
static const Field change_availability[] = { { "connectorId", T_INTEGER, TRUE, 0, NULL, NULL },
                                             { "type", T_STRING, TRUE, 0, availability_types, NULL },
                                             END };
static const Field reset[] = { { "type", T_STRING, TRUE, 0, reset_types, NULL }, END };
static const Field get_configuration[] = { { "key", T_STRING_ARRAY, FALSE, 50, NULL, NULL }, END };
static const Field change_configuration[] = { { "key", T_STRING, TRUE, 50, NULL, NULL },
                                              { "value", T_STRING, TRUE, 500, NULL, NULL },
                                              END };
static const Field empty[] = { END };
static const Field unlock_connector[] = { { "connectorId", T_INTEGER, TRUE, 0, NULL, NULL }, END };
static const Field data_transfer[] = { { "vendorId", T_STRING, TRUE, 255, NULL, NULL },
                                       { "messageId", T_STRING, FALSE, 50, NULL, NULL },
                                       { "data", T_STRING, FALSE, 0, NULL, NULL },
                                       END };
static const Field trigger_message[] = { { "requestedMessage", T_STRING, TRUE, 0, trigger_messages, NULL },
                                         { "connectorId", T_INTEGER, FALSE, 0, NULL, NULL },
                                         END };

static const Field id_tag_info[] = { { "status", T_STRING, TRUE, 0, authorization_statuses, NULL },
                                     { "expiryDate", T_DATETIME, FALSE, 0, NULL, NULL },
                                     { "parentIdTag", T_STRING, FALSE, 20, NULL, NULL },
                                     END };
static const Field boot_conf[] = { { "status", T_STRING, TRUE, 0, registration_statuses, NULL },
                                   { "currentTime", T_DATETIME, TRUE, 0, NULL, NULL },
                                   { "interval", T_INTEGER, TRUE, 0, NULL, NULL },
                                   END };
static const Field authorize_conf[] = { { "idTagInfo", T_OBJECT, TRUE, 0, NULL, id_tag_info }, END };
static const Field start_conf[] = { { "idTagInfo", T_OBJECT, TRUE, 0, NULL, id_tag_info },
                                    { "transactionId", T_INTEGER, TRUE, 0, NULL, NULL },
                                    END };
static const Field stop_conf[] = { { "idTagInfo", T_OBJECT, FALSE, 0, NULL, id_tag_info }, END };
static const Field heartbeat_conf[] = { { "currentTime", T_DATETIME, TRUE, 0, NULL, NULL }, END };

typedef struct {
  const gchar *action;
  const Field *fields;
} Schema;

/* What a CSMS may send and evcp does (Core, and TriggerMessage). */
static const Schema calls[] = {
  { "RemoteStartTransaction", remote_start },
  { "RemoteStopTransaction", remote_stop },
  { "ChangeAvailability", change_availability },
  { "Reset", reset },
  { "GetConfiguration", get_configuration },
  { "ChangeConfiguration", change_configuration },
  { "ClearCache", empty },
  { "UnlockConnector", unlock_connector },
  { "DataTransfer", data_transfer },
  { "TriggerMessage", trigger_message },
};

/* OCPP 1.6 actions of a CSMS that evcp does not support (yet). */
static const gchar * const unsupported_calls[] = {
  "CancelReservation", "ClearChargingProfile", "GetCompositeSchedule", "GetDiagnostics", "GetLocalListVersion",
  "ReserveNow",        "SendLocalList",        "SetChargingProfile",   "UpdateFirmware",
};

/* The answers to what evcp sends. */
static const Schema results[] = {
  { "BootNotification", boot_conf }, { "Authorize", authorize_conf }, { "StartTransaction", start_conf },
  { "StopTransaction", stop_conf },  { "Heartbeat", heartbeat_conf }, { "StatusNotification", empty },
  { "MeterValues", empty },
};

static const Field *
find_schema (const Schema *schemas, gsize n, const gchar *action)
{
  for (gsize i = 0; i < n; i++)
    if (g_strcmp0 (schemas[i].action, action) == 0)
      return schemas[i].fields;
  return NULL;
}

gboolean
evcp_ocpp_schema_is_known_call (const gchar *action)
{
  if (find_schema (calls, G_N_ELEMENTS (calls), action) != NULL)
    return TRUE;
  for (gsize i = 0; i < G_N_ELEMENTS (unsupported_calls); i++)
    if (g_strcmp0 (unsupported_calls[i], action) == 0)
      return TRUE;
  return FALSE;
}

/* ---- checking --------------------------------------------------------- */

static gboolean check_object (const gchar *where, JsonNode *node, const Field *fields, GError **error);

static gboolean
type_error (const gchar *where, const gchar *name, const gchar *expected, GError **error)
{
  g_set_error (error, EVCP_OCPP_ERROR, EVCP_OCPP_ERROR_TYPE_CONSTRAINT_VIOLATION,
               /* TRANSLATORS: the action, a field, a JSON type ("an integer") */
               _("%s: %s must be %s"), where, name, expected);
  return FALSE;
}

static gboolean
is_value (JsonNode *node, GType type)
{
  return JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == type;
}

static gboolean
check_string (const gchar *where, const gchar *name, JsonNode *node, const Field *f, GError **error)
{
  const gchar *s;
  glong len;

  if (!is_value (node, G_TYPE_STRING))
    return type_error (where, name, _("a string"), error);
  s = json_node_get_string (node);
  len = g_utf8_strlen (s, -1); /* the parser gave valid UTF-8 */
  if (f->max_len > 0 && len > (glong) f->max_len)
    {
      g_set_error (error, EVCP_OCPP_ERROR, EVCP_OCPP_ERROR_PROPERTY_CONSTRAINT_VIOLATION,
                   /* TRANSLATORS: action, field, its length, the maximum */
                   _("%s: %s is %ld characters long, at most %u allowed"), where, name, len, f->max_len);
      return FALSE;
    }
  if (f->values != NULL && !g_strv_contains (f->values, s))
    {
      g_autofree gchar *allowed = g_strjoinv (", ", (gchar **) f->values);
      g_autofree gchar *cut = g_utf8_substring (s, 0, MIN (len, 40));

      g_set_error (error, EVCP_OCPP_ERROR, EVCP_OCPP_ERROR_PROPERTY_CONSTRAINT_VIOLATION,
                   _("%s: %s is “%s”, not one of %s"), where, name, cut, allowed);
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_field (const gchar *where, JsonNode *node, const Field *f, GError **error)
{
  switch (f->type)
    {
    case T_STRING:
      return check_string (where, f->name, node, f, error);
    case T_INTEGER:
      if (!is_value (node, G_TYPE_INT64))
        return type_error (where, f->name, _("an integer"), error);
      return TRUE;
    case T_DECIMAL:
      if (!is_value (node, G_TYPE_INT64) && !is_value (node, G_TYPE_DOUBLE))
        return type_error (where, f->name, _("a number"), error);
      return TRUE;
    case T_DATETIME:
      {
        g_autoptr(GDateTime) t = NULL;

        if (!is_value (node, G_TYPE_STRING))
          return type_error (where, f->name, _("a date-time string"), error);
        t = g_date_time_new_from_iso8601 (json_node_get_string (node), NULL);
        if (t == NULL)
          {
            g_set_error (error, EVCP_OCPP_ERROR, EVCP_OCPP_ERROR_PROPERTY_CONSTRAINT_VIOLATION,
                         _("%s: %s is not an ISO 8601 date-time with its time zone"), where, f->name);
            return FALSE;
          }
        return TRUE;
      }
    case T_OBJECT:
      {
        g_autofree gchar *inner = g_strdup_printf ("%s.%s", where, f->name);

        return check_object (inner, node, f->members, error);
      }
    case T_ANY_OBJECT:
      if (!JSON_NODE_HOLDS_OBJECT (node))
        return type_error (where, f->name, _("an object"), error);
      return TRUE;
    case T_STRING_ARRAY:
      if (!JSON_NODE_HOLDS_ARRAY (node))
        return type_error (where, f->name, _("an array"), error);
      for (guint i = 0; i < json_array_get_length (json_node_get_array (node)); i++)
        {
          g_autofree gchar *item = g_strdup_printf ("%s[%u]", f->name, i);

          if (!check_string (where, item, json_array_get_element (json_node_get_array (node), i), f, error))
            return FALSE;
        }
      return TRUE;
    default:
      g_assert_not_reached ();
    }
}

static gboolean
check_object (const gchar *where, JsonNode *node, const Field *fields, GError **error)
{
  JsonObject *o;
  g_autoptr(GList) members = NULL;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error (error, EVCP_OCPP_ERROR, EVCP_OCPP_ERROR_FORMATION_VIOLATION,
                   _("%s: the payload must be a JSON object"), where);
      return FALSE;
    }
  o = json_node_get_object (node);
  /* unknown members first: the schemas allow none */
  members = json_object_get_members (o);
  for (GList *l = members; l != NULL; l = l->next)
    {
      const Field *f = fields;

      while (f->name != NULL && g_strcmp0 (f->name, l->data) != 0)
        f++;
      if (f->name == NULL)
        {
          g_autofree gchar *cut = g_utf8_make_valid (l->data, MIN (strlen (l->data), 40));

          g_set_error (error, EVCP_OCPP_ERROR, EVCP_OCPP_ERROR_FORMATION_VIOLATION, _("%s: unknown member “%s”"),
                       where, cut);
          return FALSE;
        }
    }
  for (const Field *f = fields; f->name != NULL; f++)
    {
      JsonNode *member = json_object_get_member (o, f->name);

      if (member == NULL)
        {
          if (!f->required)
            continue;
          g_set_error (error, EVCP_OCPP_ERROR, EVCP_OCPP_ERROR_FORMATION_VIOLATION,
                       _("%s: the required member %s is missing"), where, f->name);
          return FALSE;
        }
      if (!check_field (where, member, f, error))
        return FALSE;
    }
  return TRUE;
}

gboolean
evcp_ocpp_schema_check_call (const gchar *action, JsonNode *payload, GError **error)
{
  const Field *fields = find_schema (calls, G_N_ELEMENTS (calls), action);

  if (fields == NULL && evcp_ocpp_schema_is_known_call (action))
    {
      g_set_error (error, EVCP_OCPP_ERROR, EVCP_OCPP_ERROR_NOT_SUPPORTED,
                   _("%s is not supported by this charging point"), action);
      return FALSE;
    }
  if (fields == NULL)
    {
      g_autofree gchar *cut = g_utf8_make_valid (action, MIN (strlen (action), 40));

      g_set_error (error, EVCP_OCPP_ERROR, EVCP_OCPP_ERROR_NOT_IMPLEMENTED, _("Unknown action “%s”"), cut);
      return FALSE;
    }
  return check_object (action, payload, fields, error);
}

gboolean
evcp_ocpp_schema_check_result (const gchar *action, JsonNode *payload, GError **error)
{
  const Field *fields = find_schema (results, G_N_ELEMENTS (results), action);

  g_return_val_if_fail (fields != NULL, FALSE);
  return check_object (action, payload, fields, error);
}
