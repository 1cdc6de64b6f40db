/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "evcp-central"

#include "evcp-json-member.h"
#include "evcp-build-config.h"

#include <math.h>
#include <string.h>

#include <glib/gi18n-lib.h>

#include "evcp-central-kafka.h"
#include "evcp-central-kafka-mapping.h"
#include "evcp-frame-codec.h"

static gdouble
lookup_number (JsonObject *root, const gchar *name)
{
  JsonNode *node = evcp_json_member_data_first (root, name);
  gdouble value;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return 0;
  if (json_node_get_value_type (node) == G_TYPE_INT64)
    value = (gdouble) json_node_get_int (node);
  else if (json_node_get_value_type (node) == G_TYPE_DOUBLE)
    value = json_node_get_double (node);
  else if (json_node_get_value_type (node) != G_TYPE_STRING ||
           !evcp_central_parse_amount (json_node_get_string (node), &value))
    return 0;
  return isfinite (value) && value >= 0 ? value : 0;
}

static gint64
lookup_seq (JsonObject *root)
{
  JsonNode *node = evcp_json_member_data_first (root, "seq");
  gint64 seq;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return -1;
  if (json_node_get_value_type (node) == G_TYPE_INT64)
    return json_node_get_int (node) >= 0 ? json_node_get_int (node) : -1;
  if (json_node_get_value_type (node) == G_TYPE_STRING && evcp_central_parse_seq (json_node_get_string (node), &seq))
    return seq;
  return -1;
}

static const gchar *
state_after_ticket (const gchar *reason)
{
  if (g_strcmp0 (reason, "STOPPED") == 0)
    return "STOPPED";
  if (g_strcmp0 (reason, "FAULT") == 0)
    return "FAULT";
  return "ACTIVE";
}

static void
on_session_event (EvcpCentralRegistry *registry, const gchar *kind, JsonObject *root)
{
  const gchar *cp_id = evcp_json_string_data_first (root, "cp_id");
  const gchar *session_id = evcp_json_string_data_first (root, "session_id");
  const gchar *user_id = evcp_json_string_data_first (root, "user_id");
  gint64 seq = lookup_seq (root);
  EvcpCentralCp *cp;

  if (cp_id == NULL || *cp_id == '\0' || strchr (cp_id, EVCP_FRAME_FIELD_SEPARATOR) != NULL)
    {
      g_debug ("Kafka %s without a usable cp_id, skipped", kind);
      return;
    }
  cp = evcp_central_registry_ensure (registry, cp_id);
  evcp_central_cp_touch (cp);
  evcp_central_registry_note_kafka_seq (registry, cp, EVCP_CENTRAL_REGISTRY_ENGINE, seq);

  if (g_str_equal (kind, "SESSION_STARTED") || g_str_equal (kind, "SESSION_TELEMETRY"))
    {
      gboolean started = g_str_equal (kind, "SESSION_STARTED");

      if (session_id == NULL)
        return;
      if (started)
        /* TRANSLATORS: CP id, session, user */
        g_message (_("%s: session %s started for %s (Kafka)"), cp->id, session_id,
                   user_id != NULL ? user_id : "?");
      evcp_central_cp_set_session (cp, session_id, user_id, lookup_number (root, "kwh"), lookup_number (root, "eur"));
      if (started && seq >= 0 && g_strcmp0 (session_id, cp->ended_session) != 0)
        evcp_central_registry_set_engine_state (registry, cp, "SUPPLYING", seq);
      evcp_central_registry_changed (registry);
    }
  else if (g_str_equal (kind, "SESSION_ENDED"))
    {
      EvcpCentralTicket ticket = {
        .cp_id = cp->id,
        .session_id = session_id,
        .driver = user_id != NULL ? user_id : "",
        .kwh = lookup_number (root, "kwh"),
        .eur = lookup_number (root, "eur"),
        .reason = evcp_json_string_data_first (root, "reason"),
        .seq = seq,
        .source = EVCP_CENTRAL_SOURCE_KAFKA,
      };

      if (session_id == NULL || *session_id == '\0')
        {
          g_warning (_("%s: SESSION_ENDED without a session_id, skipped"), cp->id);
          return;
        }
      if (ticket.reason == NULL)
        ticket.reason = "";
      if (evcp_central_registry_apply_ticket (registry, cp, &ticket) && seq >= 0)
        {
          evcp_central_registry_set_engine_state (registry, cp, state_after_ticket (ticket.reason), seq);
          evcp_central_registry_changed (registry);
        }
    }
  else if (g_str_equal (kind, "REQUEST_REFUSED"))
    {
      const gchar *reason = evcp_json_string_data_first (root, "reason");
      g_autofree gchar *detail = g_strdup_printf ("%s: %s", user_id != NULL ? user_id : "?",
                                                  reason != NULL ? reason : "?");

      evcp_central_registry_add_refusal (registry, cp, detail, seq, EVCP_CENTRAL_SOURCE_KAFKA);
    }
  else
    g_debug ("Kafka %s: unknown kind %s, skipped", EVCP_CENTRAL_KAFKA_SESSIONS_TOPIC, kind);
}

static void
on_monitoring_event (EvcpCentralRegistry *registry, const gchar *kind, JsonObject *root)
{
  const gchar *cp_id = evcp_json_string_data_first (root, "id");
  const gchar *status = evcp_json_string_data_first (root, "status");
  const gchar *previous = evcp_json_string_data_first (root, "previous_status");
  const gchar *reason = evcp_json_string_data_first (root, "reason");
  const gchar *event = evcp_json_string_data_first (root, "event");
  /* only a status change is a FAULT or a RECOVERED: the Monitor's periodic
   * events and alerts repeat the current status (data.event, docs/monitor.md) */
  gboolean change = event == NULL || g_str_equal (event, "STATUS_CHANGE");
  gint64 seq = lookup_seq (root);
  EvcpCentralCp *cp;

  if (cp_id == NULL)
    cp_id = evcp_json_string_data_first (root, "cp_id");
  if (!g_str_equal (kind, "MONITORING_EVENT") || cp_id == NULL || *cp_id == '\0' ||
      strchr (cp_id, EVCP_FRAME_FIELD_SEPARATOR) != NULL ||
      (g_strcmp0 (status, "OK") != 0 && g_strcmp0 (status, "KO") != 0))
    {
      g_debug ("Kafka %s: not a usable monitoring event, skipped", EVCP_CENTRAL_KAFKA_MONITORING_TOPIC);
      return;
    }
  cp = evcp_central_registry_ensure (registry, cp_id);
  evcp_central_cp_touch (cp);
  /* periodic events and alerts take seqs too, and come only this way */
  evcp_central_registry_note_kafka_seq (registry, cp, EVCP_CENTRAL_REGISTRY_MONITOR, seq);
  if (change && g_str_equal (status, "KO") && g_strcmp0 (previous, "KO") != 0)
    evcp_central_registry_apply_fault (registry, cp, reason != NULL && *reason != '\0' ? reason : "KO", seq, EVCP_CENTRAL_SOURCE_KAFKA);
  else if (change && g_str_equal (status, "OK") && g_strcmp0 (previous, "KO") == 0)
    evcp_central_registry_apply_recovered (registry, cp, seq, EVCP_CENTRAL_SOURCE_KAFKA);
  else
    /* a periodic event: the current status, nothing to record */
    evcp_central_registry_monitor_status (registry, cp, seq, g_str_equal (status, "KO"), reason);
}

/**
 * evcp_central_kafka_mapping_apply:
 * @topic: charging_sessions or monitoring_events
 * @root: the record, a JSON object
 *
 * Applies a record of Kafka to the registry: sessions, tickets and
 * refusals from charging_sessions, FAULT and RECOVERED from
 * monitoring_events (docs/central.md). What it cannot use is skipped.
 */
void
evcp_central_kafka_mapping_apply (EvcpCentralRegistry *registry, const gchar *topic, JsonObject *root)
{
  const gchar *kind = evcp_json_string_data_first (root, "kind");

  if (kind == NULL)
    {
      g_debug ("Kafka %s: a message without a kind, skipped", topic);
      return;
    }
  if (g_str_equal (topic, EVCP_CENTRAL_KAFKA_SESSIONS_TOPIC))
    on_session_event (registry, kind, root);
  else if (g_str_equal (topic, EVCP_CENTRAL_KAFKA_MONITORING_TOPIC))
    on_monitoring_event (registry, kind, root);
}
