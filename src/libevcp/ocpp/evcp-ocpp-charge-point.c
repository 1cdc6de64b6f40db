/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "evcp-ocpp"

#include "evcp-build-config.h"

#include <math.h>

#include <glib/gi18n-lib.h>

#include "evcp-json-limits.h"
#include "evcp-ocpp-charge-point.h"
#include "evcp-outbox.h"
#include "evcp-prometheus.h"
#include "evcp-time.h"

#define STATE_FILE_MAX (64 * 1024)
#define BOOT_RETRY_S   10 /* when the CSMS gives no interval */
#define CONNECTOR      1
#define ID_TAG_MAX     20

typedef enum {
  BOOT_NONE,
  BOOT_BOOTING,
  BOOT_PENDING,
  BOOT_REJECTED,
  BOOT_ACCEPTED,
} Registration;

/* One supply session as an OCPP transaction; shared with the CALLs queued
 * for it, which fill in the CSMS's transactionId when they go. */
typedef struct {
  gchar *session_id;
  gchar *id_tag;
  gint64 meter_start;
  gint64 wh;             /* at the last telemetry tick: what session.json (and a ticket after a kill) has */
  gint64 transaction_id; /* 0 until StartTransaction.conf */
  gint64 start_us;
} Transaction;

/* The configuration keys (GetConfiguration / ChangeConfiguration). */
typedef enum {
  KEY_HEARTBEAT_INTERVAL,
  KEY_METER_VALUE_SAMPLE_INTERVAL,
  KEY_TRANSACTION_MESSAGE_ATTEMPTS,
  KEY_TRANSACTION_MESSAGE_RETRY_INTERVAL,
  KEY_WEB_SOCKET_PING_INTERVAL,
  KEY_AUTHORIZE_REMOTE_TX_REQUESTS,
  N_RW_KEYS
} RwKey;

typedef struct {
  const gchar *name;
  guint min, max; /* an integer key; max 1: a boolean */
} RwKeyInfo;

static const RwKeyInfo rw_keys[N_RW_KEYS] = {
  [KEY_HEARTBEAT_INTERVAL] = { "HeartbeatInterval", 0, 86400 },
  [KEY_METER_VALUE_SAMPLE_INTERVAL] = { "MeterValueSampleInterval", 0, 86400 },
  [KEY_TRANSACTION_MESSAGE_ATTEMPTS] = { "TransactionMessageAttempts", 1, 100 },
  [KEY_TRANSACTION_MESSAGE_RETRY_INTERVAL] = { "TransactionMessageRetryInterval", 0, 86400 },
  [KEY_WEB_SOCKET_PING_INTERVAL] = { "WebSocketPingInterval", 0, 3600 },
  [KEY_AUTHORIZE_REMOTE_TX_REQUESTS] = { "AuthorizeRemoteTxRequests", 0, 1 },
};

static const struct {
  const gchar *name;
  const gchar *value;
} ro_keys[] = {
  { "NumberOfConnectors", "1" },
  { "MeterValuesSampledData", "Energy.Active.Import.Register,Power.Active.Import" },
  { "SupportedFeatureProfiles", "Core,RemoteTrigger" },
  { "GetConfigurationMaxKeys", "20" },
  { "StopTransactionOnInvalidId", "true" },
};

struct _EvcpOcppChargePoint {
  GObject parent_instance;

  EvcpEngine *engine;
  EvcpSupply *supply;
  EvcpConfig *config; /* the Engine's */
  EvcpOcppClient *client;
  gchar *state_path;
  gboolean started;

  /* kept in ocpp.json */
  gint64 meter_wh;
  gboolean inoperative;
  guint keys[N_RW_KEYS];

  Registration registration;
  guint boot_timer;
  guint heartbeat_timer;
  guint meter_timer;
  gchar *last_status[2]; /* connector 0 and 1, as sent on this link */
  Transaction *tx;
  /* the transaction messages, on disk until the CSMS answered them: an
   * outbox of their own, whose "Kafka" destination is the CSMS */
  EvcpOutbox *outbox;
  gboolean tx_in_flight;
  guint tx_attempts;
  guint tx_retry_timer;
  guint64 tx_given_up; /* transaction messages dropped: out of attempts, unreadable, no transactionId */
  GHashTable *txids;   /* session id → the CSMS's transactionId; kept in ocpp.json */
  JsonObject *open_tx; /* the running session's {session, id_tag, meter_start, wh}; kept */
  gboolean inoperative_scheduled;
  const gchar *stop_reason; /* for the session that ends next */
  gchar *reset_type;
  guint reset_idle;
  gboolean soft_resetting; /* a Soft Reset waits for the StopTransaction's answer */
  guint reset_deadline;
};

G_DEFINE_TYPE (EvcpOcppChargePoint, evcp_ocpp_charge_point, G_TYPE_OBJECT)

enum {
  SIGNAL_STATE_CHANGED,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

static void send_boot (EvcpOcppChargePoint *self);
static void soft_reset_check (EvcpOcppChargePoint *self);
static void send_status (EvcpOcppChargePoint *self, gboolean force, EvcpOcppCallFlags flags);

/* ---- transactions ------------------------------------------------------- */

static void
transaction_clear (Transaction *tx)
{
  g_free (tx->session_id);
  g_free (tx->id_tag);
}

static void
transaction_unref (gpointer tx)
{
  g_atomic_rc_box_release_full (tx, (GDestroyNotify) transaction_clear);
}

/* ---- the state file ------------------------------------------------------ */

static void
save_state (EvcpOcppChargePoint *self)
{
  g_autoptr(JsonBuilder) b = json_builder_new_immutable ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree gchar *text = NULL;
  g_autoptr(GError) error = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "meter_wh");
  json_builder_add_int_value (b, self->meter_wh);
  json_builder_set_member_name (b, "inoperative");
  json_builder_add_boolean_value (b, self->inoperative);
  json_builder_set_member_name (b, "keys");
  json_builder_begin_object (b);
  for (guint i = 0; i < N_RW_KEYS; i++)
    {
      json_builder_set_member_name (b, rw_keys[i].name);
      json_builder_add_int_value (b, self->keys[i]);
    }
  json_builder_end_object (b);
  json_builder_set_member_name (b, "transactions");
  json_builder_begin_object (b);
  {
    GHashTableIter iter;
    gpointer key, value;

    g_hash_table_iter_init (&iter, self->txids);
    while (g_hash_table_iter_next (&iter, &key, &value))
      {
        json_builder_set_member_name (b, key);
        json_builder_add_int_value (b, *(gint64 *) value);
      }
  }
  json_builder_end_object (b);
  if (self->open_tx != NULL)
    {
      /* member by member: the builder would seal the object itself */
      json_builder_set_member_name (b, "open_transaction");
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "session");
      json_builder_add_string_value (b, json_object_get_string_member (self->open_tx, "session"));
      json_builder_set_member_name (b, "id_tag");
      json_builder_add_string_value (b, json_object_get_string_member (self->open_tx, "id_tag"));
      json_builder_set_member_name (b, "meter_start");
      json_builder_add_int_value (b, json_object_get_int_member (self->open_tx, "meter_start"));
      json_builder_set_member_name (b, "wh");
      json_builder_add_int_value (b, json_object_get_int_member (self->open_tx, "wh"));
      json_builder_end_object (b);
    }
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  text = json_to_string (root, TRUE);
  if (!g_file_set_contents_full (self->state_path, text, -1,
                                 G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE, 0600, &error))
    g_warning (_("Cannot save the OCPP state to %s: %s"), self->state_path, error->message);
}

static void
load_state (EvcpOcppChargePoint *self)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autofree gchar *text = NULL;
  JsonObject *o, *keys;
  gsize len = 0;

  text = evcp_state_file_read (self->state_path, STATE_FILE_MAX, &len, &error);
  if (text == NULL && g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
    return;
  if (text != NULL)
    node = evcp_json_parse_object (text, len, STATE_FILE_MAX, EVCP_JSON_LIMITS_DEFAULT_MAX_DEPTH, &error);
  if (node == NULL)
    {
      g_autofree gchar *aside = evcp_state_file_move_aside (self->state_path, NULL);

      g_warning (_("Unreadable OCPP state %s (%s): moved to %s, starting from the defaults"), self->state_path,
                 error->message, aside != NULL ? aside : "(nowhere)");
      return;
    }
  o = json_node_get_object (node);
  self->meter_wh = MAX (json_object_get_int_member_with_default (o, "meter_wh", 0), 0);
  self->inoperative = json_object_get_boolean_member_with_default (o, "inoperative", FALSE);
  keys = json_object_has_member (o, "keys") && JSON_NODE_HOLDS_OBJECT (json_object_get_member (o, "keys"))
             ? json_object_get_object_member (o, "keys")
             : NULL;
  for (guint i = 0; keys != NULL && i < N_RW_KEYS; i++)
    {
      gint64 v = json_object_get_int_member_with_default (keys, rw_keys[i].name, self->keys[i]);

      if (v >= rw_keys[i].min && v <= rw_keys[i].max)
        self->keys[i] = (guint) v;
    }
  if (json_object_has_member (o, "transactions") && JSON_NODE_HOLDS_OBJECT (json_object_get_member (o, "transactions")))
    {
      JsonObject *t = json_object_get_object_member (o, "transactions");
      g_autoptr(GList) members = json_object_get_members (t);

      for (GList *l = members; l != NULL; l = l->next)
        {
          gint64 id = json_object_get_int_member_with_default (t, l->data, 0);

          g_hash_table_insert (self->txids, g_strdup (l->data), g_memdup2 (&id, sizeof id));
        }
    }
  if (json_object_has_member (o, "open_transaction") &&
      JSON_NODE_HOLDS_OBJECT (json_object_get_member (o, "open_transaction")))
    {
      JsonObject *t = json_object_get_object_member (o, "open_transaction");
      const gchar *session = json_object_get_string_member_with_default (t, "session", NULL);
      const gchar *id_tag = json_object_get_string_member_with_default (t, "id_tag", NULL);

      if (session != NULL && id_tag != NULL)
        {
          self->open_tx = json_object_new ();
          json_object_set_string_member (self->open_tx, "session", session);
          json_object_set_string_member (self->open_tx, "id_tag", id_tag);
          json_object_set_int_member (self->open_tx, "meter_start",
                                      json_object_get_int_member_with_default (t, "meter_start", 0));
          json_object_set_int_member (self->open_tx, "wh", json_object_get_int_member_with_default (t, "wh", 0));
        }
    }
}

/* ---- what the charging point sends --------------------------------------- */

static gchar *
now_iso (void)
{
  gchar buf[EVCP_TIMESTAMP_SIZE];

  return g_strdup (evcp_time_format_iso8601 (g_get_real_time (), buf));
}

static gchar *
id_tag_of (const gchar *driver)
{
  /* idTag is CiString20: a longer driver id is cut (on a character) */
  return g_utf8_substring (driver, 0, MIN (g_utf8_strlen (driver, -1), ID_TAG_MAX));
}

/* Wh, from the kWh of the ticket (%.3f): the meter and the ticket agree. */
static gint64
session_wh (const EvcpSession *s)
{
  gchar buf[G_ASCII_DTOSTR_BUF_SIZE];

  return (gint64) llround (g_ascii_strtod (g_ascii_formatd (buf, sizeof buf, "%.3f", s->kwh), NULL) * 1000);
}

static void
call (EvcpOcppChargePoint *self, const gchar *action, JsonObject *payload, EvcpOcppCallFlags flags,
      EvcpOcppResultFunc done)
{
  /* not KEEP: dropped with the link, finished (done) before the client goes */
  evcp_ocpp_client_call (self->client, action, payload, flags, NULL, done, self, NULL);
}

static void
on_heartbeat_result (JsonObject *result, const GError *error, gpointer user_data)
{
  if (result != NULL)
    g_info (_("OCPP Heartbeat: the CSMS's time is %s"), json_object_get_string_member (result, "currentTime"));
}

static gboolean
heartbeat_cb (gpointer user_data)
{
  EvcpOcppChargePoint *self = user_data;

  call (self, "Heartbeat", json_object_new (), EVCP_OCPP_CALL_NONE, on_heartbeat_result);
  return G_SOURCE_CONTINUE;
}

static void
schedule_heartbeat (EvcpOcppChargePoint *self)
{
  g_clear_handle_id (&self->heartbeat_timer, g_source_remove);
  if (self->registration == BOOT_ACCEPTED && self->keys[KEY_HEARTBEAT_INTERVAL] > 0)
    self->heartbeat_timer = g_timeout_add_seconds (self->keys[KEY_HEARTBEAT_INTERVAL], heartbeat_cb, self);
}

static const gchar *
status_of (EvcpCpState state)
{
  switch (state)
    {
    case EVCP_CP_STATE_ACTIVE:
      return "Available";
    case EVCP_CP_STATE_SUPPLYING:
      return "Charging";
    case EVCP_CP_STATE_STOPPED:
      return "Unavailable";
    case EVCP_CP_STATE_FAULT:
    default:
      return "Faulted";
    }
}

static void
send_status_of (EvcpOcppChargePoint *self, guint connector, const gchar *status, gboolean force,
                EvcpOcppCallFlags flags)
{
  JsonObject *p;
  g_autofree gchar *now = NULL;

  if (!force && g_strcmp0 (self->last_status[connector], status) == 0)
    return;
  g_free (self->last_status[connector]);
  self->last_status[connector] = g_strdup (status);
  if (self->registration != BOOT_ACCEPTED && !(flags & EVCP_OCPP_CALL_URGENT))
    return; /* sent once accepted */
  p = json_object_new ();
  now = now_iso ();
  json_object_set_int_member (p, "connectorId", connector);
  if (g_strcmp0 (status, "Faulted") == 0)
    {
      const gchar *reason = evcp_supply_get_fault_reason (self->supply);
      g_autofree gchar *info = g_utf8_substring (reason != NULL ? reason : "", 0,
                                                 MIN (g_utf8_strlen (reason != NULL ? reason : "", -1), 50));

      json_object_set_string_member (p, "errorCode", "OtherError");
      json_object_set_string_member (p, "info", info);
    }
  else
    json_object_set_string_member (p, "errorCode", "NoError");
  json_object_set_string_member (p, "status", status);
  json_object_set_string_member (p, "timestamp", now);
  call (self, "StatusNotification", p, flags, NULL);
}

/* Connector 0 (the CP: Available, Unavailable or Faulted) and 1. */
static void
send_status (EvcpOcppChargePoint *self, gboolean force, EvcpOcppCallFlags flags)
{
  EvcpCpState state = evcp_supply_get_state (self->supply);
  const gchar *status = status_of (state);

  send_status_of (self, 0, state == EVCP_CP_STATE_SUPPLYING ? "Available" : status, force, flags);
  send_status_of (self, CONNECTOR, status, force, flags);
}

static gint64
transaction_id_of (EvcpOcppChargePoint *self, const gchar *session_id)
{
  gint64 *id = g_hash_table_lookup (self->txids, session_id);

  return id != NULL ? *id : 0;
}

/* ---- the transaction messages, through the outbox ---------------------------- */

static void pump_outbox (EvcpOcppChargePoint *self);

/* StartTransaction, MeterValues and StopTransaction of a session: on disk
 * (fsynced) before this returns, sent in order once the CSMS accepted the
 * boot; the transactionId goes in when they are sent. */
static void
enqueue (EvcpOcppChargePoint *self, const gchar *action, const gchar *session_id, JsonObject *payload_owned)
{
  g_autoptr(JsonObject) payload = payload_owned;
  g_autoptr(JsonObject) event = json_object_new ();
  JsonObject *data = json_object_new ();
  g_autoptr(GError) error = NULL;

  json_object_set_string_member (event, "kind", action);
  json_object_set_string_member (data, "session", session_id);
  json_object_set_object_member (data, "payload", json_object_ref (payload));
  json_object_set_object_member (event, "data", data);
  if (evcp_outbox_append (self->outbox, NULL, "ocpp", self->config->cp_id, event, &error) == NULL)
    {
      /* the disk refuses it: it goes on the link without the guarantee */
      g_warning (_("Cannot keep OCPP %s of session %s in %s (%s): sent without a copy on disk"), action, session_id,
                 evcp_outbox_get_path (self->outbox), error->message);
      evcp_ocpp_client_call (self->client, action, g_steal_pointer (&payload), EVCP_OCPP_CALL_KEEP, NULL, NULL, NULL,
                             NULL);
      return;
    }
  pump_outbox (self);
}

typedef struct {
  EvcpOcppChargePoint *self;
  guint64 seq;
  gchar *action;
  gchar *session;
} TxCall;

static void
tx_call_free (gpointer data)
{
  TxCall *c = data;

  g_object_unref (c->self);
  g_free (c->action);
  g_free (c->session);
  g_free (c);
}

static void
ack (EvcpOcppChargePoint *self, guint64 seq)
{
  g_autoptr(GError) error = NULL;

  self->tx_attempts = 0;
  if (!evcp_outbox_ack (self->outbox, seq, EVCP_OUTBOX_KAFKA, &error))
    g_warning (_("Cannot acknowledge OCPP message %s in %s: %s (it may be sent again)"), EVCP_OCPP_NUM (seq),
               evcp_outbox_get_path (self->outbox), error->message);
}

/* Returns whether the running session must stop (StopTransactionOnInvalidId):
 * done by the caller once the StartTransaction has left the outbox. */
static gboolean
on_start_answered (EvcpOcppChargePoint *self, const gchar *session, JsonObject *result)
{
  gint64 id = json_object_get_int_member (result, "transactionId");
  const gchar *status = json_object_get_string_member (json_object_get_object_member (result, "idTagInfo"), "status");

  g_hash_table_insert (self->txids, g_strdup (session), g_memdup2 (&id, sizeof id));
  save_state (self); /* before the ack: a kill in between sends it again, never loses the id */
  g_message (_("OCPP transaction %s for session %s: idTag %s"), EVCP_OCPP_NUM (id), session, status);
  if (self->tx != NULL && g_strcmp0 (self->tx->session_id, session) == 0)
    {
      self->tx->transaction_id = id;
      if (g_strcmp0 (status, "Accepted") != 0 && evcp_supply_get_session (self->supply) != NULL)
        {
          g_message (_("OCPP: the CSMS refused idTag %s (%s): session %s stops"), self->tx->id_tag, status, session);
          return TRUE;
        }
    }
  return FALSE;
}

static gboolean
tx_retry_cb (gpointer user_data)
{
  EvcpOcppChargePoint *self = user_data;

  self->tx_retry_timer = 0;
  pump_outbox (self);
  return G_SOURCE_REMOVE;
}

static void
on_tx_result (JsonObject *result, const GError *error, gpointer user_data)
{
  TxCall *c = user_data;
  EvcpOcppChargePoint *self = c->self;

  if (result != NULL)
    {
      gboolean deauthorized = FALSE;

      if (g_strcmp0 (c->action, "StartTransaction") == 0)
        deauthorized = on_start_answered (self, c->session, result);
      else if (g_strcmp0 (c->action, "StopTransaction") == 0 && g_hash_table_remove (self->txids, c->session))
        save_state (self);
      /* out of the outbox before anything else goes in or out */
      ack (self, c->seq);
      self->tx_in_flight = FALSE;
      if (deauthorized)
        {
          self->stop_reason = "DeAuthorized";
          evcp_supply_end_session (self->supply, EVCP_END_STOPPED);
        }
      pump_outbox (self);
      soft_reset_check (self);
      return;
    }
  self->tx_in_flight = FALSE;
  if (g_error_matches (error, EVCP_OCPP_ERROR, EVCP_OCPP_ERROR_DISCONNECTED))
    return; /* not an attempt: it goes again after the next boot */
  self->tx_attempts++;
  if (self->tx_attempts < self->keys[KEY_TRANSACTION_MESSAGE_ATTEMPTS])
    {
      guint delay = self->keys[KEY_TRANSACTION_MESSAGE_RETRY_INTERVAL] * self->tx_attempts;

      g_warning (_("OCPP %s of session %s failed (%s): attempt %u of %u, sent again in %u s"), c->action, c->session,
                 error->message, self->tx_attempts, self->keys[KEY_TRANSACTION_MESSAGE_ATTEMPTS], delay);
      /* to the millisecond: g_timeout_add_seconds() may fire up to a second early */
      self->tx_retry_timer = g_timeout_add (evcp_ocpp_seconds_to_ms (MAX (delay, 1)), tx_retry_cb, self);
      soft_reset_check (self);
      return;
    }
  g_warning (_("OCPP %s of session %s given up after %u attempts: %s"), c->action, c->session, self->tx_attempts,
             error->message);
  self->tx_given_up++;
  ack (self, c->seq);
  pump_outbox (self);
  soft_reset_check (self);
}

/* The oldest transaction message, to the CSMS, when it can go. */
static void
pump_outbox (EvcpOcppChargePoint *self)
{
  const EvcpOutboxRecord *r;

  if (self->tx_in_flight || self->tx_retry_timer != 0 || self->registration != BOOT_ACCEPTED)
    return;
  while ((r = evcp_outbox_peek (self->outbox, EVCP_OUTBOX_KAFKA)) != NULL)
    {
      const gchar *text = evcp_outbox_record_get_kafka_value (r);
      guint64 seq = evcp_outbox_record_get_seq (r);
      g_autoptr(JsonNode) node =
          evcp_json_parse_object (text, strlen (text), STATE_FILE_MAX, EVCP_JSON_LIMITS_DEFAULT_MAX_DEPTH, NULL);
      JsonObject *event = node != NULL ? json_node_get_object (node) : NULL;
      JsonObject *data = event != NULL ? json_object_get_object_member (event, "data") : NULL;
      const gchar *action = event != NULL ? json_object_get_string_member_with_default (event, "kind", NULL) : NULL;
      const gchar *session = data != NULL ? json_object_get_string_member_with_default (data, "session", NULL) : NULL;
      JsonNode *payload = data != NULL ? json_object_get_member (data, "payload") : NULL;
      g_autoptr(JsonNode) copy = NULL;
      TxCall *c;

      if (action == NULL || session == NULL || payload == NULL || !JSON_NODE_HOLDS_OBJECT (payload))
        {
          g_warning (_("OCPP message %s in %s is unreadable: dropped"), EVCP_OCPP_NUM (seq),
                     evcp_outbox_get_path (self->outbox));
          self->tx_given_up++;
          ack (self, seq);
          continue;
        }
      copy = json_node_copy (payload);
      if (g_strcmp0 (action, "StartTransaction") != 0)
        {
          gint64 id = transaction_id_of (self, session);

          if (id == 0)
            {
              g_warning (_("OCPP %s of session %s dropped: its StartTransaction got no transactionId"), action,
                         session);
              self->tx_given_up++;
              ack (self, seq);
              continue;
            }
          json_object_set_int_member (json_node_get_object (copy), "transactionId", id);
        }
      c = g_new0 (TxCall, 1);
      c->self = g_object_ref (self);
      c->seq = seq;
      c->action = g_strdup (action);
      c->session = g_strdup (session);
      self->tx_in_flight = TRUE;
      evcp_ocpp_client_call (self->client, action, json_object_ref (json_node_get_object (copy)),
                             EVCP_OCPP_CALL_OWNER_RETRIES, NULL, on_tx_result, c, tx_call_free);
      return;
    }
}

static JsonObject *
meter_values_payload (EvcpOcppChargePoint *self, const gchar *context)
{
  const EvcpSession *s = evcp_supply_get_session (self->supply);
  JsonObject *p = json_object_new ();
  JsonObject *mv = json_object_new ();
  JsonArray *values = json_array_new ();
  JsonArray *mvs = json_array_new ();
  g_autofree gchar *now = now_iso ();
  struct {
    const gchar *measurand;
    const gchar *unit;
    gint64 value;
  } samples[] = {
    /* the energy of the last telemetry tick, not of now: never more than a
     * kill's ticket, so the register never goes back */
    { "Energy.Active.Import.Register", "Wh",
      s != NULL && self->tx != NULL ? self->tx->meter_start + self->tx->wh : self->meter_wh },
    { "Power.Active.Import", "W", s != NULL ? (gint64) llround (s->power_kw * 1000) : 0 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (samples); i++)
    {
      JsonObject *v = json_object_new ();
      g_autofree gchar *text = g_strdup_printf ("%" G_GINT64_FORMAT, samples[i].value);

      json_object_set_string_member (v, "value", text);
      json_object_set_string_member (v, "context", context);
      json_object_set_string_member (v, "measurand", samples[i].measurand);
      json_object_set_string_member (v, "unit", samples[i].unit);
      json_array_add_object_element (values, v);
    }
  json_object_set_string_member (mv, "timestamp", now);
  json_object_set_array_member (mv, "sampledValue", values);
  json_array_add_object_element (mvs, mv);
  json_object_set_int_member (p, "connectorId", CONNECTOR);
  json_object_set_array_member (p, "meterValue", mvs);
  return p;
}

/* TriggerMessage: now, not kept; with the transactionId if there is one. */
static void
send_meter_values (EvcpOcppChargePoint *self, const gchar *context, EvcpOcppCallFlags flags)
{
  JsonObject *p = meter_values_payload (self, context);

  if (self->tx != NULL && self->tx->transaction_id != 0)
    json_object_set_int_member (p, "transactionId", self->tx->transaction_id);
  call (self, "MeterValues", p, flags, NULL);
}

static gboolean
meter_cb (gpointer user_data)
{
  EvcpOcppChargePoint *self = user_data;
  const EvcpSession *s = evcp_supply_get_session (self->supply);

  if (self->tx == NULL || s == NULL)
    {
      self->meter_timer = 0;
      return G_SOURCE_REMOVE;
    }
  if (self->open_tx != NULL)
    {
      /* what a kill would leave: the StopTransaction after it has this energy */
      json_object_set_int_member (self->open_tx, "wh", self->tx->wh);
      save_state (self);
    }
  enqueue (self, "MeterValues", self->tx->session_id, meter_values_payload (self, "Sample.Periodic"));
  return G_SOURCE_CONTINUE;
}

static void
schedule_meter (EvcpOcppChargePoint *self)
{
  g_clear_handle_id (&self->meter_timer, g_source_remove);
  if (self->tx != NULL && self->keys[KEY_METER_VALUE_SAMPLE_INTERVAL] > 0)
    self->meter_timer = g_timeout_add_seconds (self->keys[KEY_METER_VALUE_SAMPLE_INTERVAL], meter_cb, self);
}

/* ---- the Engine's supply -------------------------------------------------- */

static void
on_session_started (EvcpSupply *supply, EvcpSession *s, EvcpOcppChargePoint *self)
{
  JsonObject *p = json_object_new ();
  g_autofree gchar *now = now_iso ();
  Transaction *tx = g_atomic_rc_box_new0 (Transaction);

  tx->session_id = g_strdup (s->session_id);
  tx->id_tag = id_tag_of (s->driver);
  tx->meter_start = self->meter_wh;
  tx->start_us = s->started_wall_us;
  g_clear_pointer (&self->tx, transaction_unref);
  self->tx = tx;

  g_clear_pointer (&self->open_tx, json_object_unref);
  self->open_tx = json_object_new ();
  json_object_set_string_member (self->open_tx, "session", tx->session_id);
  json_object_set_string_member (self->open_tx, "id_tag", tx->id_tag);
  json_object_set_int_member (self->open_tx, "meter_start", tx->meter_start);
  json_object_set_int_member (self->open_tx, "wh", 0);
  save_state (self);

  json_object_set_int_member (p, "connectorId", CONNECTOR);
  json_object_set_string_member (p, "idTag", tx->id_tag);
  json_object_set_int_member (p, "meterStart", tx->meter_start);
  json_object_set_string_member (p, "timestamp", now);
  enqueue (self, "StartTransaction", tx->session_id, p);
  send_status (self, FALSE, EVCP_OCPP_CALL_NONE);
  schedule_meter (self);
}

/* The StopTransaction of a session, into the outbox; the meter moves on. */
static void
enqueue_stop (EvcpOcppChargePoint *self, const gchar *session, const gchar *id_tag, gint64 meter_stop,
              const gchar *reason)
{
  JsonObject *p = json_object_new ();
  g_autofree gchar *now = now_iso ();

  self->meter_wh = meter_stop;
  g_clear_pointer (&self->open_tx, json_object_unref);
  json_object_set_string_member (p, "idTag", id_tag);
  json_object_set_int_member (p, "meterStop", meter_stop);
  json_object_set_string_member (p, "timestamp", now);
  json_object_set_string_member (p, "reason", reason);
  enqueue (self, "StopTransaction", session, p);
  save_state (self);
}

/* A session the last run left open (the Engine was killed under it): its
 * StopTransaction, with the energy of the ticket the Engine wrote for it
 * at this start (or, if it had none, of the last MeterValues). */
static void
recover_transaction (EvcpOcppChargePoint *self)
{
  const EvcpSession *recovered = evcp_engine_get_recovered_session (self->engine);
  const gchar *session;
  gint64 wh;

  if (self->open_tx == NULL)
    return;
  session = json_object_get_string_member (self->open_tx, "session");
  wh = recovered != NULL && g_strcmp0 (recovered->session_id, session) == 0
           ? session_wh (recovered)
           : json_object_get_int_member (self->open_tx, "wh");
  g_message (_("OCPP: session %s was left open by the previous run: its StopTransaction (Reboot, %s Wh)"), session,
             EVCP_OCPP_NUM (wh));
  {
    g_autofree gchar *id_tag = g_strdup (json_object_get_string_member (self->open_tx, "id_tag"));
    g_autofree gchar *sid = g_strdup (session);

    enqueue_stop (self, sid, id_tag, json_object_get_int_member (self->open_tx, "meter_start") + wh, "Reboot");
  }
}

static const gchar *
stop_reason_of (EvcpOcppChargePoint *self, const gchar *ended)
{
  const gchar *reason = self->stop_reason;

  self->stop_reason = NULL;

  if (reason != NULL)
    return reason;
  if (g_strcmp0 (ended, EVCP_END_UNPLUGGED) == 0)
    return "EVDisconnected";
  if (g_strcmp0 (ended, EVCP_END_COMPLETED) == 0)
    return "Local";
  return "Other"; /* STOPPED (Central, ChangeAvailability), FAULT, DURATION */
}

static gboolean
apply_scheduled_cb (gpointer user_data)
{
  EvcpOcppChargePoint *self = user_data;

  if (self->inoperative_scheduled)
    {
      self->inoperative_scheduled = FALSE;
      g_message (_("OCPP: the scheduled change to Inoperative applies now"));
      evcp_supply_hold (self->supply, EVCP_SUPPLY_HOLD_INOPERATIVE);
    }
  return G_SOURCE_REMOVE;
}

static void
on_session_ended (EvcpSupply *supply, EvcpSession *s, EvcpOcppChargePoint *self)
{
  Transaction *tx = self->tx;

  g_clear_handle_id (&self->meter_timer, g_source_remove);
  if (tx == NULL || g_strcmp0 (tx->session_id, s->session_id) != 0)
    return;
  enqueue_stop (self, tx->session_id, tx->id_tag, tx->meter_start + session_wh (s),
                stop_reason_of (self, s->ended_reason));
  g_clear_pointer (&self->tx, transaction_unref);
  send_status_of (self, CONNECTOR, "Finishing", FALSE, EVCP_OCPP_CALL_NONE);
  if (self->inoperative_scheduled)
    g_idle_add_full (G_PRIORITY_DEFAULT, apply_scheduled_cb, g_object_ref (self), g_object_unref);
}

static void
on_telemetry (EvcpSupply *supply, EvcpSession *s, EvcpOcppChargePoint *self)
{
  if (self->tx != NULL && g_strcmp0 (self->tx->session_id, s->session_id) == 0)
    self->tx->wh = session_wh (s);
}

static void
on_state_changed (EvcpSupply *supply, EvcpCpState old, EvcpCpState state, EvcpOcppChargePoint *self)
{
  /* SUPPLYING: "Charging" goes after StartTransaction (on_session_started) */
  if (state != EVCP_CP_STATE_SUPPLYING)
    send_status (self, FALSE, EVCP_OCPP_CALL_NONE);
}

/* ---- registration --------------------------------------------------------- */

static void
emit_state (EvcpOcppChargePoint *self)
{
  g_signal_emit (self, signals[SIGNAL_STATE_CHANGED], 0);
}

static gboolean
boot_cb (gpointer user_data)
{
  EvcpOcppChargePoint *self = user_data;

  self->boot_timer = 0;
  send_boot (self);
  return G_SOURCE_REMOVE;
}

static void
retry_boot (EvcpOcppChargePoint *self, guint interval_s)
{
  g_clear_handle_id (&self->boot_timer, g_source_remove);
  self->boot_timer = g_timeout_add_seconds (interval_s > 0 ? interval_s : BOOT_RETRY_S, boot_cb, self);
}

static void
on_accepted (EvcpOcppChargePoint *self)
{
  /* the first Accepted since the start or a Reset lifts the boot hold */
  gboolean first = (evcp_supply_get_holds (self->supply) & EVCP_SUPPLY_HOLD_OCPP_BOOT) != 0;

  self->registration = BOOT_ACCEPTED;
  evcp_ocpp_client_set_open (self->client, TRUE);
  schedule_heartbeat (self);
  /* after every (re)connection the CSMS learns the connectors' status: once
   * (a resume below sends it, else the call after it) */
  g_clear_pointer (&self->last_status[0], g_free);
  g_clear_pointer (&self->last_status[1], g_free);
  if (first)
    {
      evcp_supply_release (self->supply, EVCP_SUPPLY_HOLD_OCPP_BOOT);
    }
  send_status (self, FALSE, EVCP_OCPP_CALL_NONE);
  pump_outbox (self);
  emit_state (self);
}

static void
on_boot_result (JsonObject *result, const GError *error, gpointer user_data)
{
  EvcpOcppChargePoint *self = user_data;
  const gchar *status;
  gint64 interval;

  if (self->client == NULL || evcp_ocpp_client_get_state (self->client) != EVCP_OCPP_LINK_CONNECTED)
    return; /* a new link boots again */
  if (result == NULL)
    {
      retry_boot (self, BOOT_RETRY_S);
      return;
    }
  status = json_object_get_string_member (result, "status");
  interval = json_object_get_int_member (result, "interval");
  interval = CLAMP (interval, 0, 86400);
  g_message (_("OCPP BootNotification: %s (interval %s s, the CSMS's time %s)"), status, EVCP_OCPP_NUM (interval),
             json_object_get_string_member (result, "currentTime"));
  if (g_strcmp0 (status, "Accepted") == 0)
    {
      if (interval > 0)
        self->keys[KEY_HEARTBEAT_INTERVAL] = (guint) interval;
      on_accepted (self);
      return;
    }
  self->registration = g_strcmp0 (status, "Pending") == 0 ? BOOT_PENDING : BOOT_REJECTED;
  /* a boot asked for again (TriggerMessage) on an open link: not accepted
   * any more, nothing but the boot goes until it is */
  evcp_ocpp_client_set_open (self->client, FALSE);
  g_clear_handle_id (&self->heartbeat_timer, g_source_remove);
  emit_state (self);
  retry_boot (self, (guint) interval);
}

static void
send_boot (EvcpOcppChargePoint *self)
{
  JsonObject *p = json_object_new ();
  g_autofree gchar *serial =
      g_utf8_substring (self->config->cp_id, 0, MIN (g_utf8_strlen (self->config->cp_id, -1), 25));

  json_object_set_string_member (p, "chargePointVendor", "evcp");
  json_object_set_string_member (p, "chargePointModel", "evcp-engine");
  json_object_set_string_member (p, "chargePointSerialNumber", serial);
  json_object_set_string_member (p, "firmwareVersion", PACKAGE_VERSION);
  if (self->registration != BOOT_ACCEPTED)
    {
      self->registration = BOOT_BOOTING;
      emit_state (self);
    }
  call (self, "BootNotification", p, EVCP_OCPP_CALL_URGENT, on_boot_result);
}

static void
on_connected (EvcpOcppClient *client, EvcpOcppChargePoint *self)
{
  g_clear_handle_id (&self->boot_timer, g_source_remove);
  g_clear_handle_id (&self->heartbeat_timer, g_source_remove);
  self->registration = BOOT_NONE;
  send_boot (self);
}

static void
on_link_state_changed (EvcpOcppClient *client, EvcpOcppChargePoint *self)
{
  if (evcp_ocpp_client_get_state (client) != EVCP_OCPP_LINK_CONNECTED)
    {
      /* a Soft Reset waiting on this link: the new one is its boot */
      self->soft_resetting = FALSE;
      g_clear_handle_id (&self->reset_deadline, g_source_remove);
      self->registration = BOOT_NONE;
      g_clear_handle_id (&self->boot_timer, g_source_remove);
      g_clear_handle_id (&self->heartbeat_timer, g_source_remove);
    }
  emit_state (self);
}

/* ---- the CSMS's CALLs ----------------------------------------------------- */

static JsonObject *
status_result (const gchar *status)
{
  JsonObject *r = json_object_new ();

  json_object_set_string_member (r, "status", status);
  return r;
}

static gboolean
authorized_start (EvcpOcppChargePoint *self, const gchar *id_tag)
{
  g_autoptr(GError) error = NULL;

  if (evcp_engine_start_session (self->engine, id_tag, "ocpp", self->config->ocpp_power_kw,
                                 self->config->ocpp_max_duration_s, &error))
    return TRUE;
  g_message (_("OCPP RemoteStartTransaction for %s refused: %s"), id_tag, error->message);
  return FALSE;
}

typedef struct {
  EvcpOcppChargePoint *self;
  gchar *id_tag;
} AuthCtx;

static void
auth_ctx_free (gpointer data)
{
  AuthCtx *ctx = data;

  g_object_unref (ctx->self);
  g_free (ctx->id_tag);
  g_free (ctx);
}

static void
on_authorize_result (JsonObject *result, const GError *error, gpointer user_data)
{
  AuthCtx *ctx = user_data;
  const gchar *status =
      result != NULL ? json_object_get_string_member (json_object_get_object_member (result, "idTagInfo"), "status")
                     : error->message;

  if (result != NULL && g_strcmp0 (status, "Accepted") == 0)
    {
      if (authorized_start (ctx->self, ctx->id_tag))
        return;
    }
  else
    g_message (_("OCPP: idTag %s not authorized (%s): no session"), ctx->id_tag, status);
  send_status (ctx->self, TRUE, EVCP_OCPP_CALL_NONE);
}

static JsonObject *
remote_start (EvcpOcppChargePoint *self, JsonObject *p)
{
  const gchar *id_tag = json_object_get_string_member (p, "idTag");

  if (json_object_has_member (p, "connectorId") && json_object_get_int_member (p, "connectorId") != CONNECTOR)
    return status_result ("Rejected");
  if (evcp_supply_get_state (self->supply) != EVCP_CP_STATE_ACTIVE || *id_tag == '\0')
    {
      g_message (_("OCPP RemoteStartTransaction for %s rejected: the CP is %s"), id_tag,
                 evcp_cp_state_to_string (evcp_supply_get_state (self->supply)));
      return status_result ("Rejected");
    }
  if (self->keys[KEY_AUTHORIZE_REMOTE_TX_REQUESTS])
    {
      JsonObject *a = json_object_new ();
      AuthCtx *ctx = g_new0 (AuthCtx, 1);

      ctx->self = g_object_ref (self);
      ctx->id_tag = g_strdup (id_tag);
      json_object_set_string_member (a, "idTag", id_tag);
      evcp_ocpp_client_call (self->client, "Authorize", a, EVCP_OCPP_CALL_NONE, NULL, on_authorize_result, ctx,
                             auth_ctx_free);
      send_status_of (self, CONNECTOR, "Preparing", FALSE, EVCP_OCPP_CALL_NONE);
      return status_result ("Accepted");
    }
  return status_result (authorized_start (self, id_tag) ? "Accepted" : "Rejected");
}

static JsonObject *
remote_stop (EvcpOcppChargePoint *self, JsonObject *p)
{
  gint64 id = json_object_get_int_member (p, "transactionId");

  if (self->tx == NULL || id == 0 || transaction_id_of (self, self->tx->session_id) != id)
    {
      g_message (_("OCPP RemoteStopTransaction %s rejected: no such transaction"), EVCP_OCPP_NUM (id));
      return status_result ("Rejected");
    }
  self->stop_reason = "Remote";
  evcp_supply_end_session (self->supply, EVCP_END_STOPPED);
  return status_result ("Accepted");
}

static JsonObject *
change_availability (EvcpOcppChargePoint *self, JsonObject *p)
{
  gint64 connector = json_object_get_int_member (p, "connectorId");
  gboolean inoperative = g_strcmp0 (json_object_get_string_member (p, "type"), "Inoperative") == 0;

  if (connector != 0 && connector != CONNECTOR)
    return status_result ("Rejected");
  self->inoperative = inoperative;
  save_state (self); /* kept across a restart */
  if (!inoperative)
    {
      self->inoperative_scheduled = FALSE;
      evcp_supply_release (self->supply, EVCP_SUPPLY_HOLD_INOPERATIVE);
      return status_result ("Accepted");
    }
  if (evcp_supply_get_session (self->supply) != NULL)
    {
      g_message (_("OCPP ChangeAvailability to Inoperative scheduled: a session runs"));
      self->inoperative_scheduled = TRUE;
      return status_result ("Scheduled");
    }
  evcp_supply_hold (self->supply, EVCP_SUPPLY_HOLD_INOPERATIVE);
  return status_result ("Accepted");
}

/* As at a start: no charging until the CSMS accepts the next
 * BootNotification (unless charge-before-accepted). A hold of its own: the
 * accepted boot releases it and no other (Central's STOP, Inoperative). */
static void
hold_for_boot (EvcpOcppChargePoint *self)
{
  if (self->config->ocpp_charge_before_accepted ||
      (evcp_supply_get_holds (self->supply) & EVCP_SUPPLY_HOLD_OCPP_BOOT) != 0)
    return;
  g_message (_("OCPP: no charging until the CSMS accepts the BootNotification"));
  evcp_supply_hold (self->supply, EVCP_SUPPLY_HOLD_OCPP_BOOT);
}

/* The end of a Soft Reset: the link closes and is made again (a new
 * BootNotification). */
static gboolean
soft_reset_finish_cb (gpointer user_data)
{
  EvcpOcppChargePoint *self = user_data;
  g_autofree gchar *why = g_strdup_printf (_("%s Reset asked by the CSMS"), "Soft");

  self->reset_idle = 0;
  if (!self->soft_resetting)
    return G_SOURCE_REMOVE;
  self->soft_resetting = FALSE;
  g_clear_handle_id (&self->reset_deadline, g_source_remove);
  if (evcp_outbox_get_length (self->outbox, EVCP_OUTBOX_KAFKA) > 0)
    g_message (_("OCPP Soft Reset: %u transaction messages go after the next boot"),
               evcp_outbox_get_length (self->outbox, EVCP_OUTBOX_KAFKA));
  evcp_ocpp_client_reconnect (self->client, why);
  return G_SOURCE_REMOVE;
}

static gboolean
reset_deadline_cb (gpointer user_data)
{
  EvcpOcppChargePoint *self = user_data;

  self->reset_deadline = 0;
  g_clear_handle_id (&self->reset_idle, g_source_remove);
  return soft_reset_finish_cb (self);
}

/* A Soft Reset goes on once the transaction messages (its StopTransaction)
 * have their answer on the current link, or cannot have one. From the main
 * loop: never inside the client's handler of that answer. */
static void
soft_reset_check (EvcpOcppChargePoint *self)
{
  if (!self->soft_resetting || self->reset_idle != 0)
    return;
  if (evcp_outbox_get_length (self->outbox, EVCP_OUTBOX_KAFKA) > 0 && self->registration == BOOT_ACCEPTED &&
      self->tx_retry_timer == 0)
    return;
  self->reset_idle = g_idle_add (soft_reset_finish_cb, self);
}

/* Hard: the OCPP side starts over as at the Engine's start: the link made
 * anew (what was queued on it given up, the transaction messages kept on
 * disk), registration, timers and statuses forgotten. */
static void
hard_reset (EvcpOcppChargePoint *self)
{
  g_autofree gchar *why = g_strdup_printf (_("%s Reset asked by the CSMS"), "Hard");

  self->soft_resetting = FALSE;
  g_clear_handle_id (&self->reset_deadline, g_source_remove);
  g_clear_handle_id (&self->boot_timer, g_source_remove);
  g_clear_handle_id (&self->heartbeat_timer, g_source_remove);
  g_clear_handle_id (&self->tx_retry_timer, g_source_remove);
  self->tx_attempts = 0;
  self->registration = BOOT_NONE;
  g_clear_pointer (&self->last_status[0], g_free);
  g_clear_pointer (&self->last_status[1], g_free);
  evcp_ocpp_client_restart (self->client, why);
}

static gboolean
reset_cb (gpointer user_data)
{
  EvcpOcppChargePoint *self = user_data;
  gboolean hard = g_strcmp0 (self->reset_type, "Hard") == 0;

  self->reset_idle = 0;
  if (evcp_supply_get_session (self->supply) != NULL)
    {
      self->stop_reason = hard ? "HardReset" : "SoftReset";
      evcp_supply_end_session (self->supply, EVCP_END_STOPPED);
    }
  hold_for_boot (self);
  if (hard)
    {
      /* the StopTransaction is kept on disk: it goes after the new boot */
      hard_reset (self);
      return G_SOURCE_REMOVE;
    }
  /* the StopTransaction goes on this link first, if the CSMS answers in time */
  self->soft_resetting = TRUE;
  g_clear_handle_id (&self->reset_deadline, g_source_remove);
  self->reset_deadline = g_timeout_add (self->config->ocpp_call_timeout_ms + 1000, reset_deadline_cb, self);
  soft_reset_check (self);
  return G_SOURCE_REMOVE;
}

static JsonObject *
reset (EvcpOcppChargePoint *self, JsonObject *p)
{
  g_free (self->reset_type);
  self->reset_type = g_strdup (json_object_get_string_member (p, "type"));
  if (g_strcmp0 (self->reset_type, "Hard") == 0)
    g_message (_("OCPP Hard Reset: the session ends, the OCPP link starts over (the StopTransaction after the boot)"));
  else
    g_message (_("OCPP Soft Reset: the session ends, its StopTransaction goes, then the link starts again"));
  g_clear_handle_id (&self->reset_idle, g_source_remove);
  self->reset_idle = g_timeout_add (100, reset_cb, self); /* after the answer is out */
  return status_result ("Accepted");
}

static gchar *
key_value (EvcpOcppChargePoint *self, RwKey k)
{
  if (rw_keys[k].max == 1)
    return g_strdup (self->keys[k] ? "true" : "false");
  return g_strdup_printf ("%u", self->keys[k]);
}

static void
add_key (JsonArray *list, const gchar *name, gboolean readonly, const gchar *value)
{
  JsonObject *o = json_object_new ();

  json_object_set_string_member (o, "key", name);
  json_object_set_boolean_member (o, "readonly", readonly);
  json_object_set_string_member (o, "value", value);
  json_array_add_object_element (list, o);
}

static gboolean
find_key (EvcpOcppChargePoint *self, const gchar *name, JsonArray *list)
{
  for (guint i = 0; i < N_RW_KEYS; i++)
    if (g_strcmp0 (rw_keys[i].name, name) == 0)
      {
        g_autofree gchar *v = key_value (self, i);

        add_key (list, name, FALSE, v);
        return TRUE;
      }
  for (guint i = 0; i < G_N_ELEMENTS (ro_keys); i++)
    if (g_strcmp0 (ro_keys[i].name, name) == 0)
      {
        add_key (list, name, TRUE, ro_keys[i].value);
        return TRUE;
      }
  return FALSE;
}

static JsonObject *
get_configuration (EvcpOcppChargePoint *self, JsonObject *p)
{
  JsonObject *r = json_object_new ();
  JsonArray *list = json_array_new ();
  JsonArray *unknown = json_array_new ();
  JsonArray *asked = json_object_has_member (p, "key") ? json_object_get_array_member (p, "key") : NULL;

  if (asked == NULL || json_array_get_length (asked) == 0)
    {
      for (guint i = 0; i < N_RW_KEYS; i++)
        find_key (self, rw_keys[i].name, list);
      for (guint i = 0; i < G_N_ELEMENTS (ro_keys); i++)
        find_key (self, ro_keys[i].name, list);
    }
  for (guint i = 0; asked != NULL && i < json_array_get_length (asked); i++)
    {
      const gchar *name = json_array_get_string_element (asked, i);

      if (!find_key (self, name, list))
        json_array_add_string_element (unknown, name);
    }
  json_object_set_array_member (r, "configurationKey", list);
  if (json_array_get_length (unknown) > 0)
    json_object_set_array_member (r, "unknownKey", unknown);
  else
    json_array_unref (unknown);
  return r;
}

static void
apply_key (EvcpOcppChargePoint *self, RwKey k)
{
  switch (k)
    {
    case KEY_HEARTBEAT_INTERVAL:
      schedule_heartbeat (self);
      break;
    case KEY_METER_VALUE_SAMPLE_INTERVAL:
      schedule_meter (self);
      break;
    case KEY_TRANSACTION_MESSAGE_ATTEMPTS:
    case KEY_TRANSACTION_MESSAGE_RETRY_INTERVAL:
      evcp_ocpp_client_set_retries (self->client, self->keys[KEY_TRANSACTION_MESSAGE_ATTEMPTS],
                                    self->keys[KEY_TRANSACTION_MESSAGE_RETRY_INTERVAL]);
      break;
    case KEY_WEB_SOCKET_PING_INTERVAL:
      evcp_ocpp_client_set_ping_interval (self->client, self->keys[k]);
      break;
    default:
      break;
    }
}

static JsonObject *
change_configuration (EvcpOcppChargePoint *self, JsonObject *p)
{
  const gchar *name = json_object_get_string_member (p, "key");
  const gchar *value = json_object_get_string_member (p, "value");

  for (guint i = 0; i < N_RW_KEYS; i++)
    {
      guint64 v;

      if (g_strcmp0 (rw_keys[i].name, name) != 0)
        continue;
      if (rw_keys[i].max == 1 && (g_ascii_strcasecmp (value, "true") == 0 || g_ascii_strcasecmp (value, "false") == 0))
        v = g_ascii_strcasecmp (value, "true") == 0;
      else if (rw_keys[i].max == 1 || !g_ascii_string_to_unsigned (value, 10, rw_keys[i].min, rw_keys[i].max, &v, NULL))
        {
          g_message (_("OCPP ChangeConfiguration %s = “%.40s” rejected: out of range"), name, value);
          return status_result ("Rejected");
        }
      self->keys[i] = (guint) v;
      save_state (self);
      apply_key (self, i);
      g_message (_("OCPP configuration %s = %s"), name, value);
      return status_result ("Accepted");
    }
  for (guint i = 0; i < G_N_ELEMENTS (ro_keys); i++)
    if (g_strcmp0 (ro_keys[i].name, name) == 0)
      return status_result ("Rejected");
  return status_result ("NotSupported");
}

static JsonObject *
unlock_connector (EvcpOcppChargePoint *self, JsonObject *p)
{
  if (json_object_get_int_member (p, "connectorId") != CONNECTOR)
    return status_result ("NotSupported");
  if (evcp_supply_get_session (self->supply) != NULL)
    {
      self->stop_reason = "UnlockCommand";
      evcp_supply_end_session (self->supply, EVCP_END_STOPPED);
    }
  return status_result ("Unlocked");
}

typedef struct {
  EvcpOcppChargePoint *self;
  gchar *message;
} TriggerCtx;

static gboolean
trigger_cb (gpointer user_data)
{
  TriggerCtx *ctx = user_data;
  EvcpOcppChargePoint *self = ctx->self;

  if (g_strcmp0 (ctx->message, "BootNotification") == 0)
    send_boot (self);
  else if (g_strcmp0 (ctx->message, "Heartbeat") == 0)
    call (self, "Heartbeat", json_object_new (), EVCP_OCPP_CALL_URGENT, on_heartbeat_result);
  else if (g_strcmp0 (ctx->message, "StatusNotification") == 0)
    send_status (self, TRUE, EVCP_OCPP_CALL_URGENT);
  else
    send_meter_values (self, "Trigger", EVCP_OCPP_CALL_URGENT);
  return G_SOURCE_REMOVE;
}

static void
trigger_ctx_free (gpointer data)
{
  TriggerCtx *ctx = data;

  g_object_unref (ctx->self);
  g_free (ctx->message);
  g_free (ctx);
}

static JsonObject *
trigger_message (EvcpOcppChargePoint *self, JsonObject *p)
{
  const gchar *message = json_object_get_string_member (p, "requestedMessage");
  TriggerCtx *ctx;

  if (json_object_has_member (p, "connectorId"))
    {
      gint64 connector = json_object_get_int_member (p, "connectorId");

      if (connector != 0 && connector != CONNECTOR)
        return status_result ("Rejected");
    }
  if (g_str_has_suffix (message, "StatusNotification") && g_strcmp0 (message, "StatusNotification") != 0)
    return status_result ("NotImplemented"); /* Diagnostics…, Firmware… */
  ctx = g_new0 (TriggerCtx, 1);
  ctx->self = g_object_ref (self);
  ctx->message = g_strdup (message);
  /* after the answer */
  g_idle_add_full (G_PRIORITY_DEFAULT_IDLE, trigger_cb, ctx, trigger_ctx_free);
  return status_result ("Accepted");
}

static JsonObject *
handle_call (const gchar *action, JsonObject *payload, GError **error, gpointer user_data)
{
  EvcpOcppChargePoint *self = user_data;

  if (g_strcmp0 (action, "RemoteStartTransaction") == 0)
    return remote_start (self, payload);
  if (g_strcmp0 (action, "RemoteStopTransaction") == 0)
    return remote_stop (self, payload);
  if (g_strcmp0 (action, "ChangeAvailability") == 0)
    return change_availability (self, payload);
  if (g_strcmp0 (action, "Reset") == 0)
    return reset (self, payload);
  if (g_strcmp0 (action, "GetConfiguration") == 0)
    return get_configuration (self, payload);
  if (g_strcmp0 (action, "ChangeConfiguration") == 0)
    return change_configuration (self, payload);
  if (g_strcmp0 (action, "ClearCache") == 0)
    return status_result ("Accepted"); /* no authorization cache to clear */
  if (g_strcmp0 (action, "UnlockConnector") == 0)
    return unlock_connector (self, payload);
  if (g_strcmp0 (action, "DataTransfer") == 0)
    return status_result ("UnknownVendorId");
  if (g_strcmp0 (action, "TriggerMessage") == 0)
    return trigger_message (self, payload);
  g_set_error (error, EVCP_OCPP_ERROR, EVCP_OCPP_ERROR_NOT_IMPLEMENTED, _("%s is not implemented"), action);
  return NULL;
}

/* ---- lifecycle ------------------------------------------------------------ */

EvcpOcppChargePoint *
evcp_ocpp_charge_point_new (EvcpEngine *engine)
{
  EvcpConfig *config;
  EvcpOcppChargePoint *self;
  EvcpOcppSettings s = { 0 };

  g_return_val_if_fail (EVCP_IS_ENGINE (engine) && evcp_engine_get_supply (engine) != NULL, NULL);

  config = evcp_engine_get_config (engine);
  if (config->ocpp_url == NULL || *config->ocpp_url == '\0')
    return NULL;
  self = g_object_new (EVCP_TYPE_OCPP_CHARGE_POINT, NULL);
  self->engine = g_object_ref (engine);
  self->supply = g_object_ref (evcp_engine_get_supply (engine));
  self->config = config;
  self->keys[KEY_HEARTBEAT_INTERVAL] = 300;
  self->keys[KEY_METER_VALUE_SAMPLE_INTERVAL] = 60;
  self->keys[KEY_TRANSACTION_MESSAGE_ATTEMPTS] = 3;
  self->keys[KEY_TRANSACTION_MESSAGE_RETRY_INTERVAL] = 10;
  self->keys[KEY_WEB_SOCKET_PING_INTERVAL] = config->ocpp_ping_interval_s;
  self->state_path = g_build_filename (evcp_engine_get_state_dir (engine), "ocpp.json", NULL);
  self->txids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  load_state (self);
  {
    g_autofree gchar *path = g_build_filename (evcp_engine_get_state_dir (engine), "ocpp-outbox.json", NULL);
    g_autoptr(GError) error = NULL;

    self->outbox = evcp_outbox_new (path, &error);
    if (self->outbox == NULL)
      {
        /* never reset (what it holds must not be lost): a person looks at it */
        g_warning (_("OCPP link not started: its outbox %s cannot be used: %s"), path, error->message);
        g_object_unref (self);
        return NULL;
      }
  }

  s.url = config->ocpp_url;
  s.cp_id = config->cp_id;
  s.password = config->ocpp_password;
  s.ca_file = config->ocpp_ca_file;
  s.cert_file = config->ocpp_cert_file;
  s.key_file = config->ocpp_key_file;
  s.ping_interval_s = self->keys[KEY_WEB_SOCKET_PING_INTERVAL];
  s.pong_timeout_s = config->ocpp_pong_timeout_s;
  s.call_timeout_ms = config->ocpp_call_timeout_ms;
  s.reconnect_min_ms = config->ocpp_reconnect_min_ms;
  s.reconnect_max_ms = config->ocpp_reconnect_max_ms;
  s.max_frame_size = config->ocpp_max_frame_size;
  self->client = evcp_ocpp_client_new (&s, handle_call, self);
  evcp_ocpp_client_set_retries (self->client, self->keys[KEY_TRANSACTION_MESSAGE_ATTEMPTS],
                                self->keys[KEY_TRANSACTION_MESSAGE_RETRY_INTERVAL]);
  return self;
}

void
evcp_ocpp_charge_point_start (EvcpOcppChargePoint *self)
{
  g_return_if_fail (EVCP_IS_OCPP_CHARGE_POINT (self));
  if (self->started)
    return;
  self->started = TRUE;
  g_signal_connect_object (self->supply, "session-started", G_CALLBACK (on_session_started), self, 0);
  g_signal_connect_object (self->supply, "session-ended", G_CALLBACK (on_session_ended), self, 0);
  g_signal_connect_object (self->supply, "telemetry", G_CALLBACK (on_telemetry), self, 0);
  g_signal_connect_object (self->supply, "state-changed", G_CALLBACK (on_state_changed), self, 0);
  g_signal_connect_object (self->client, "connected", G_CALLBACK (on_connected), self, 0);
  g_signal_connect_object (self->client, "state-changed", G_CALLBACK (on_link_state_changed), self, 0);
  if (self->inoperative)
    {
      g_message (_("OCPP: the connector is Inoperative (ChangeAvailability, kept across restarts)"));
      evcp_supply_hold (self->supply, EVCP_SUPPLY_HOLD_INOPERATIVE);
    }
  hold_for_boot (self);
  recover_transaction (self);
  if (evcp_outbox_get_length (self->outbox, EVCP_OUTBOX_KAFKA) > 0)
    g_message (_("OCPP: %u transaction messages wait for the CSMS in %s"),
               evcp_outbox_get_length (self->outbox, EVCP_OUTBOX_KAFKA), evcp_outbox_get_path (self->outbox));
  g_message (_("OCPP link to %s for %s (meter at %s Wh)"), self->config->ocpp_url, self->config->cp_id,
             EVCP_OCPP_NUM (self->meter_wh));
  evcp_ocpp_client_start (self->client);
}

void
evcp_ocpp_charge_point_stop (EvcpOcppChargePoint *self)
{
  g_return_if_fail (EVCP_IS_OCPP_CHARGE_POINT (self));
  if (!self->started)
    return;
  self->started = FALSE;
  g_signal_handlers_disconnect_by_data (self->supply, self);
  g_signal_handlers_disconnect_by_data (self->client, self);
  g_clear_handle_id (&self->boot_timer, g_source_remove);
  g_clear_handle_id (&self->heartbeat_timer, g_source_remove);
  g_clear_handle_id (&self->meter_timer, g_source_remove);
  g_clear_handle_id (&self->reset_idle, g_source_remove);
  g_clear_handle_id (&self->reset_deadline, g_source_remove);
  self->soft_resetting = FALSE;
  g_clear_handle_id (&self->tx_retry_timer, g_source_remove);
  evcp_ocpp_client_stop (self->client);
}

const gchar *
evcp_ocpp_charge_point_get_state (EvcpOcppChargePoint *self)
{
  g_return_val_if_fail (EVCP_IS_OCPP_CHARGE_POINT (self), "STOPPED");
  if (evcp_ocpp_client_get_state (self->client) != EVCP_OCPP_LINK_CONNECTED)
    return evcp_ocpp_link_state_to_string (evcp_ocpp_client_get_state (self->client));
  switch (self->registration)
    {
    case BOOT_PENDING:
      return "PENDING";
    case BOOT_REJECTED:
      return "REJECTED";
    case BOOT_ACCEPTED:
      return "ACCEPTED";
    case BOOT_NONE:
    case BOOT_BOOTING:
    default:
      return "BOOTING";
    }
}

const gchar *
evcp_ocpp_charge_point_get_error (EvcpOcppChargePoint *self)
{
  g_return_val_if_fail (EVCP_IS_OCPP_CHARGE_POINT (self), "");
  return evcp_ocpp_client_get_error (self->client);
}

EvcpOcppClient *
evcp_ocpp_charge_point_get_client (EvcpOcppChargePoint *self)
{
  g_return_val_if_fail (EVCP_IS_OCPP_CHARGE_POINT (self), NULL);
  return self->client;
}

gint64
evcp_ocpp_charge_point_get_transaction_id (EvcpOcppChargePoint *self)
{
  g_return_val_if_fail (EVCP_IS_OCPP_CHARGE_POINT (self), 0);
  return self->tx != NULL ? transaction_id_of (self, self->tx->session_id) : 0;
}

void
evcp_ocpp_charge_point_metrics (EvcpOcppChargePoint *self, GString *out)
{
  const EvcpOcppCounters *c;
  const gchar *cp[] = { "cp_id", self->config->cp_id, NULL };
  const struct {
    const gchar *name;
    const gchar *help;
    guint64 value;
  } * row, rows[] = {
    { "evcp_engine_ocpp_calls_sent_total", "OCPP CALLs sent to the CSMS (retries included).", 0 },
    { "evcp_engine_ocpp_calls_received_total", "OCPP CALLs received from the CSMS.", 0 },
    { "evcp_engine_ocpp_call_errors_sent_total", "CALLERRORs answered to the CSMS (bad or unsupported CALLs).", 0 },
    { "evcp_engine_ocpp_call_errors_received_total", "CALLERRORs the CSMS answered.", 0 },
    { "evcp_engine_ocpp_call_timeouts_total", "CALLs the CSMS did not answer in time.", 0 },
    { "evcp_engine_ocpp_connects_total", "OCPP WebSockets opened.", 0 },
    { "evcp_engine_ocpp_connect_failures_total", "Failed attempts to open the OCPP WebSocket.", 0 },
    { "evcp_engine_ocpp_calls_dropped_total", "CALLs given up (link drop, out of attempts).", 0 },
  };
  guint64 values[G_N_ELEMENTS (rows)];

  g_return_if_fail (EVCP_IS_OCPP_CHARGE_POINT (self));
  c = evcp_ocpp_client_get_counters (self->client);
  values[0] = c->calls_sent;
  values[1] = c->calls_received;
  values[2] = c->call_errors_sent;
  values[3] = c->call_errors_received;
  values[4] = c->call_timeouts;
  values[5] = c->connects;
  values[6] = c->connect_failures;
  values[7] = c->calls_dropped + self->tx_given_up;
  for (guint i = 0; i < G_N_ELEMENTS (rows); i++)
    {
      row = &rows[i];
      evcp_prometheus_family (out, row->name, "counter", row->help);
      evcp_prometheus_sample_u64 (out, row->name, cp, values[i]);
    }
  evcp_prometheus_family (out, "evcp_engine_ocpp_queue_length", "gauge",
                          "OCPP CALLs waiting to be sent or answered (transaction messages kept while offline).");
  evcp_prometheus_sample_u64 (out, "evcp_engine_ocpp_queue_length", cp,
                              evcp_ocpp_client_get_queue_length (self->client) +
                                  evcp_outbox_get_length (self->outbox, EVCP_OUTBOX_KAFKA) -
                                  (self->tx_in_flight ? 1 : 0));
  evcp_prometheus_family (out, "evcp_engine_ocpp_accepted", "gauge",
                          "1 while the CSMS has accepted the BootNotification on an open link.");
  evcp_prometheus_sample (out, "evcp_engine_ocpp_accepted", cp,
                          g_strcmp0 (evcp_ocpp_charge_point_get_state (self), "ACCEPTED") == 0);
}

static void
evcp_ocpp_charge_point_dispose (GObject *object)
{
  EvcpOcppChargePoint *self = EVCP_OCPP_CHARGE_POINT (object);

  if (self->client != NULL)
    evcp_ocpp_charge_point_stop (self);
  g_clear_object (&self->client);
  g_clear_object (&self->outbox);
  g_clear_object (&self->supply);
  g_clear_object (&self->engine);
  G_OBJECT_CLASS (evcp_ocpp_charge_point_parent_class)->dispose (object);
}

static void
evcp_ocpp_charge_point_finalize (GObject *object)
{
  EvcpOcppChargePoint *self = EVCP_OCPP_CHARGE_POINT (object);

  g_clear_pointer (&self->tx, transaction_unref);
  g_clear_pointer (&self->txids, g_hash_table_unref);
  g_clear_pointer (&self->open_tx, json_object_unref);
  g_free (self->state_path);
  g_free (self->last_status[0]);
  g_free (self->last_status[1]);
  g_free (self->reset_type);
  G_OBJECT_CLASS (evcp_ocpp_charge_point_parent_class)->finalize (object);
}

static void
evcp_ocpp_charge_point_class_init (EvcpOcppChargePointClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = evcp_ocpp_charge_point_dispose;
  object_class->finalize = evcp_ocpp_charge_point_finalize;

  signals[SIGNAL_STATE_CHANGED] =
      g_signal_new ("state-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
evcp_ocpp_charge_point_init (EvcpOcppChargePoint *self)
{
}
