/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The OCPP 1.6 payload schemas (src/libevcp/ocpp/evcp-ocpp-schema.c): what
 * passes, and the CALLERROR of what does not. */
#include "evcp-build-config.h"

#include "evcp-ocpp-schema.h"

static JsonNode *
parse (const gchar *json)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;

  g_assert_true (json_parser_load_from_data (parser, json, -1, &error));
  g_assert_no_error (error);
  return json_node_copy (json_parser_get_root (parser));
}

static void
assert_call (const gchar *action, const gchar *json, gint code)
{
  g_autoptr(JsonNode) node = parse (json);
  g_autoptr(GError) error = NULL;
  gboolean ok = evcp_ocpp_schema_check_call (action, node, &error);

  if (code < 0)
    {
      g_assert_no_error (error);
      g_assert_true (ok);
      return;
    }
  g_assert_false (ok);
  g_assert_error (error, EVCP_OCPP_ERROR, code);
  g_test_message ("%s %s: %s (%s)", action, json, evcp_ocpp_error_code_to_string (code), error->message);
}

static void
test_calls (void)
{
  /* valid */
  assert_call ("RemoteStartTransaction", "{\"idTag\": \"abc\"}", -1);
  assert_call ("RemoteStartTransaction", "{\"idTag\": \"abc\", \"connectorId\": 1, \"chargingProfile\": {}}", -1);
  assert_call ("RemoteStartTransaction", "{\"idTag\": \"12345678901234567890\"}", -1);
  assert_call ("RemoteStopTransaction", "{\"transactionId\": 7}", -1);
  assert_call ("ChangeAvailability", "{\"connectorId\": 0, \"type\": \"Operative\"}", -1);
  assert_call ("Reset", "{\"type\": \"Hard\"}", -1);
  assert_call ("GetConfiguration", "{}", -1);
  assert_call ("GetConfiguration", "{\"key\": [\"HeartbeatInterval\"]}", -1);
  assert_call ("ChangeConfiguration", "{\"key\": \"HeartbeatInterval\", \"value\": \"10\"}", -1);
  assert_call ("ClearCache", "{}", -1);
  assert_call ("UnlockConnector", "{\"connectorId\": 1}", -1);
  assert_call ("DataTransfer", "{\"vendorId\": \"x\"}", -1);
  assert_call ("TriggerMessage", "{\"requestedMessage\": \"MeterValues\"}", -1);

  /* actions */
  assert_call ("FlyToTheMoon", "{}", EVCP_OCPP_ERROR_NOT_IMPLEMENTED);
  assert_call ("SetChargingProfile", "{}", EVCP_OCPP_ERROR_NOT_SUPPORTED);
  assert_call ("UpdateFirmware", "{}", EVCP_OCPP_ERROR_NOT_SUPPORTED);
  g_assert_true (evcp_ocpp_schema_is_known_call ("Reset"));
  g_assert_false (evcp_ocpp_schema_is_known_call ("reset"));

  /* structure: required, unknown members, not an object */
  assert_call ("RemoteStartTransaction", "{}", EVCP_OCPP_ERROR_FORMATION_VIOLATION);
  assert_call ("Reset", "{\"type\": \"Soft\", \"extra\": true}", EVCP_OCPP_ERROR_FORMATION_VIOLATION);
  assert_call ("Reset", "[]", EVCP_OCPP_ERROR_FORMATION_VIOLATION);
  assert_call ("Reset", "\"Soft\"", EVCP_OCPP_ERROR_FORMATION_VIOLATION);

  /* types */
  assert_call ("RemoteStopTransaction", "{\"transactionId\": \"7\"}", EVCP_OCPP_ERROR_TYPE_CONSTRAINT_VIOLATION);
  assert_call ("RemoteStopTransaction", "{\"transactionId\": 7.5}", EVCP_OCPP_ERROR_TYPE_CONSTRAINT_VIOLATION);
  assert_call ("RemoteStopTransaction", "{\"transactionId\": null}", EVCP_OCPP_ERROR_TYPE_CONSTRAINT_VIOLATION);
  assert_call ("RemoteStartTransaction", "{\"idTag\": 5}", EVCP_OCPP_ERROR_TYPE_CONSTRAINT_VIOLATION);
  assert_call ("RemoteStartTransaction", "{\"idTag\": \"a\", \"chargingProfile\": 3}",
               EVCP_OCPP_ERROR_TYPE_CONSTRAINT_VIOLATION);
  assert_call ("GetConfiguration", "{\"key\": \"HeartbeatInterval\"}", EVCP_OCPP_ERROR_TYPE_CONSTRAINT_VIOLATION);
  assert_call ("GetConfiguration", "{\"key\": [1]}", EVCP_OCPP_ERROR_TYPE_CONSTRAINT_VIOLATION);

  /* values: lengths (in characters) and enumerations */
  assert_call ("RemoteStartTransaction", "{\"idTag\": \"123456789012345678901\"}",
               EVCP_OCPP_ERROR_PROPERTY_CONSTRAINT_VIOLATION);
  assert_call ("RemoteStartTransaction", "{\"idTag\": \"ééééééééééééééééééé\"}", -1); /* 19 characters */
  assert_call ("ChangeAvailability", "{\"connectorId\": 0, \"type\": \"operative\"}",
               EVCP_OCPP_ERROR_PROPERTY_CONSTRAINT_VIOLATION);
  assert_call ("TriggerMessage", "{\"requestedMessage\": \"Everything\"}",
               EVCP_OCPP_ERROR_PROPERTY_CONSTRAINT_VIOLATION);
  {
    g_autofree gchar *long_key = g_strnfill (51, 'k');
    g_autofree gchar *json = g_strdup_printf ("{\"key\": \"%s\", \"value\": \"1\"}", long_key);

    assert_call ("ChangeConfiguration", json, EVCP_OCPP_ERROR_PROPERTY_CONSTRAINT_VIOLATION);
  }
}

static void
assert_result (const gchar *action, const gchar *json, gboolean valid)
{
  g_autoptr(JsonNode) node = parse (json);
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (evcp_ocpp_schema_check_result (action, node, &error), ==, valid);
  if (!valid)
    g_assert_error (error, EVCP_OCPP_ERROR, error->code);
}

static void
test_results (void)
{
  assert_result ("BootNotification",
                 "{\"status\": \"Accepted\", \"currentTime\": \"2026-12-07T12:00:00Z\", "
                 "\"interval\": 300}",
                 TRUE);
  assert_result ("BootNotification",
                 "{\"status\": \"Maybe\", \"currentTime\": \"2026-12-07T12:00:00Z\", "
                 "\"interval\": 300}",
                 FALSE);
  assert_result ("BootNotification", "{\"status\": \"Accepted\", \"currentTime\": \"yesterday\", \"interval\": 1}",
                 FALSE);
  assert_result ("BootNotification", "{\"status\": \"Accepted\", \"currentTime\": \"2026-12-07T12:00:00Z\"}", FALSE);
  assert_result ("StartTransaction", "{\"idTagInfo\": {\"status\": \"Accepted\"}, \"transactionId\": 4}", TRUE);
  assert_result ("StartTransaction", "{\"idTagInfo\": {\"status\": \"Nope\"}, \"transactionId\": 4}", FALSE);
  assert_result ("StartTransaction", "{\"idTagInfo\": {}, \"transactionId\": 4}", FALSE);
  assert_result ("StartTransaction", "{\"idTagInfo\": {\"status\": \"Accepted\"}}", FALSE);
  assert_result ("StopTransaction", "{}", TRUE);
  assert_result ("Heartbeat", "{\"currentTime\": \"2026-12-07T12:00:00.5+01:00\"}", TRUE);
  assert_result ("StatusNotification", "{}", TRUE);
  assert_result ("StatusNotification", "{\"x\": 1}", FALSE);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ocpp-schema/calls", test_calls);
  g_test_add_func ("/ocpp-schema/results", test_results);
  return g_test_run ();
}
