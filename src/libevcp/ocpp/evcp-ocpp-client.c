/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "evcp-ocpp"

#include "evcp-build-config.h"

#include <glib/gi18n-lib.h>
#include <libsoup/soup.h>

#include "evcp-json-limits.h"
#include "evcp-ocpp-backoff.h"
#include "evcp-ocpp-client.h"

#define SUBPROTOCOL       "ocpp1.6"
#define MAX_ID_LEN        36
#define MAX_JSON_DEPTH    32
#define CONNECT_TIMEOUT_S 30

typedef struct {
  gchar *action;
  JsonObject *payload;
  EvcpOcppCallFlags flags;
  EvcpOcppPrepareFunc prepare;
  EvcpOcppResultFunc done;
  gpointer user_data;
  GDestroyNotify destroy;
  guint attempts;
  gchar *id;
} Call;

struct _EvcpOcppClient {
  GObject parent_instance;

  EvcpOcppSettings s;
  EvcpOcppCallHandler handler;
  gpointer handler_data;
  SoupSession *session;
  GTlsCertificate *client_cert;
  GCancellable *cancellable; /* the connection under way */
  SoupMessage *connect_msg;
  SoupWebsocketConnection *conn;
  EvcpOcppLinkState state;
  gchar *error;
  gboolean too_big; /* libsoup refused a frame of this link */
  gboolean started;
  gboolean open;

  GQueue queue; /* of Call, the next first */
  Call *in_flight;
  guint call_timer;
  guint retry_timer;
  guint pump_idle;
  guint reconnect_timer;
  guint reconnect_failures;
  guint ping_timer;
  gint64 last_pong;
  guint attempts;
  guint retry_interval_s;
  guint64 next_id;
  gchar *id_prefix;
  EvcpOcppCounters counters;
};

G_DEFINE_TYPE (EvcpOcppClient, evcp_ocpp_client, G_TYPE_OBJECT)

enum {
  SIGNAL_STATE_CHANGED,
  SIGNAL_CONNECTED,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

const gchar *
evcp_ocpp_link_state_to_string (EvcpOcppLinkState state)
{
  switch (state)
    {
    case EVCP_OCPP_LINK_STOPPED:
      return "STOPPED";
    case EVCP_OCPP_LINK_CONNECTING:
      return "CONNECTING";
    case EVCP_OCPP_LINK_CONNECTED:
      return "CONNECTED";
    default:
      return "UNKNOWN";
    }
}

static void
call_free (Call *call)
{
  if (call->destroy != NULL)
    call->destroy (call->user_data);
  g_free (call->action);
  g_free (call->id);
  g_clear_pointer (&call->payload, json_object_unref);
  g_free (call);
}

/* The CALL is done with: its owner hears, then it goes. */
static void
call_finish (Call *call, JsonObject *result, const GError *error)
{
  if (call->done != NULL)
    call->done (result, error, call->user_data);
  call_free (call);
}

static void
set_state (EvcpOcppClient *self, EvcpOcppLinkState state, const gchar *error)
{
  gboolean changed = self->state != state;

  if (error != NULL && g_strcmp0 (self->error, error) != 0)
    {
      g_free (self->error);
      self->error = g_strdup (error);
      changed = TRUE;
    }
  self->state = state;
  if (changed)
    g_signal_emit (self, signals[SIGNAL_STATE_CHANGED], 0);
}

/* ---- sending ------------------------------------------------------------ */

static void
send_array (EvcpOcppClient *self, JsonArray *array)
{
  g_autoptr(JsonNode) node = json_node_new (JSON_NODE_ARRAY);
  g_autofree gchar *text = NULL;

  json_node_set_array (node, array);
  text = json_to_string (node, FALSE);
  g_debug ("OCPP → %s", text);
  soup_websocket_connection_send_text (self->conn, text);
}

static void
send_call_error (EvcpOcppClient *self, const gchar *id, const GError *error)
{
  g_autoptr(JsonArray) a = json_array_new ();
  EvcpOcppError code = error->domain == EVCP_OCPP_ERROR ? (EvcpOcppError) error->code : EVCP_OCPP_ERROR_INTERNAL;

  json_array_add_int_element (a, 4);
  json_array_add_string_element (a, id);
  json_array_add_string_element (a, evcp_ocpp_error_code_to_string (code));
  json_array_add_string_element (a, error->message);
  json_array_add_object_element (a, json_object_new ());
  self->counters.call_errors_sent++;
  send_array (self, a);
}

static void schedule_pump (EvcpOcppClient *self);

static gboolean
retry_cb (gpointer user_data)
{
  EvcpOcppClient *self = user_data;

  self->retry_timer = 0;
  schedule_pump (self);
  return G_SOURCE_REMOVE;
}

/* A CALL that failed (@error): a KEEP one is sent again later, while it
 * has attempts left; the others are given up. */
static void
call_failed (EvcpOcppClient *self, Call *call, const GError *error)
{
  if ((call->flags & EVCP_OCPP_CALL_KEEP) && call->attempts < self->attempts)
    {
      guint delay = self->retry_interval_s * call->attempts;

      g_warning (_("OCPP %s failed (%s): attempt %u of %u, sent again in %u s"), call->action, error->message,
                 call->attempts, self->attempts, delay);
      g_queue_push_head (&self->queue, call);
      g_clear_handle_id (&self->retry_timer, g_source_remove);
      self->retry_timer = g_timeout_add (evcp_ocpp_seconds_to_ms (MAX (delay, 1)), retry_cb, self);
      return;
    }
  if (call->flags & EVCP_OCPP_CALL_KEEP)
    g_warning (_("OCPP %s given up after %u attempts: %s"), call->action, call->attempts, error->message);
  else
    g_message (_("OCPP %s failed: %s"), call->action, error->message);
  if (!(call->flags & EVCP_OCPP_CALL_OWNER_RETRIES))
    self->counters.calls_dropped++;
  call_finish (call, NULL, error);
}

static gboolean
call_timeout_cb (gpointer user_data)
{
  EvcpOcppClient *self = user_data;
  Call *call = g_steal_pointer (&self->in_flight);
  g_autoptr(GError) error =
      g_error_new (EVCP_OCPP_ERROR, EVCP_OCPP_ERROR_TIMEOUT, _("no answer within %u ms"), self->s.call_timeout_ms);

  self->call_timer = 0;
  self->counters.call_timeouts++;
  call_failed (self, call, error);
  schedule_pump (self);
  return G_SOURCE_REMOVE;
}

static gboolean
pump_cb (gpointer user_data)
{
  EvcpOcppClient *self = user_data;
  Call *call;

  self->pump_idle = 0;
  while (self->conn != NULL && self->in_flight == NULL && self->retry_timer == 0 &&
         (call = g_queue_peek_head (&self->queue)) != NULL)
    {
      g_autoptr(JsonArray) a = NULL;

      if (!self->open && !(call->flags & EVCP_OCPP_CALL_URGENT))
        break;
      g_queue_pop_head (&self->queue);
      if (call->prepare != NULL && !call->prepare (call->payload, call->user_data))
        {
          call_free (call);
          continue;
        }
      g_free (call->id);
      call->id = g_strdup_printf ("%s-%" G_GUINT64_FORMAT, self->id_prefix, ++self->next_id);
      call->attempts++;
      a = json_array_new ();
      json_array_add_int_element (a, 2);
      json_array_add_string_element (a, call->id);
      json_array_add_string_element (a, call->action);
      json_array_add_object_element (a, json_object_ref (call->payload));
      self->in_flight = call;
      self->counters.calls_sent++;
      send_array (self, a);
      self->call_timer = g_timeout_add (self->s.call_timeout_ms, call_timeout_cb, self);
    }
  return G_SOURCE_REMOVE;
}

/* Sends what can go, from the main loop: never from inside a handler, so
 * that the CALLRESULT of an incoming CALL goes before what it caused. */
static void
schedule_pump (EvcpOcppClient *self)
{
  if (self->pump_idle == 0)
    self->pump_idle = g_idle_add (pump_cb, self);
}

void
evcp_ocpp_client_call (EvcpOcppClient *self, const gchar *action, JsonObject *payload, EvcpOcppCallFlags flags,
                       EvcpOcppPrepareFunc prepare, EvcpOcppResultFunc done, gpointer user_data, GDestroyNotify destroy)
{
  Call *call;

  g_return_if_fail (EVCP_IS_OCPP_CLIENT (self));
  g_return_if_fail (action != NULL && payload != NULL);

  call = g_new0 (Call, 1);
  call->action = g_strdup (action);
  call->payload = payload;
  call->flags = flags;
  call->prepare = prepare;
  call->done = done;
  call->user_data = user_data;
  call->destroy = destroy;
  if (flags & EVCP_OCPP_CALL_URGENT)
    g_queue_push_head (&self->queue, call);
  else
    g_queue_push_tail (&self->queue, call);
  schedule_pump (self);
}

void
evcp_ocpp_client_set_open (EvcpOcppClient *self, gboolean open)
{
  g_return_if_fail (EVCP_IS_OCPP_CLIENT (self));
  self->open = open;
  schedule_pump (self);
}

void
evcp_ocpp_client_set_retries (EvcpOcppClient *self, guint attempts, guint interval_s)
{
  g_return_if_fail (EVCP_IS_OCPP_CLIENT (self));
  self->attempts = MAX (attempts, 1);
  self->retry_interval_s = interval_s;
}

/* ---- receiving ---------------------------------------------------------- */

static void
handle_call (EvcpOcppClient *self, JsonArray *frame, const gchar *id)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) result = NULL;
  const gchar *action;
  JsonNode *payload;

  self->counters.calls_received++;
  if (json_array_get_length (frame) != 4 || !JSON_NODE_HOLDS_VALUE (json_array_get_element (frame, 2)) ||
      json_node_get_value_type (json_array_get_element (frame, 2)) != G_TYPE_STRING)
    {
      error = g_error_new_literal (EVCP_OCPP_ERROR, EVCP_OCPP_ERROR_FORMATION_VIOLATION,
                                   _("a CALL is [2, id, action, payload]"));
      g_warning (_("OCPP CALL %s refused: %s"), id, error->message);
      send_call_error (self, id, error);
      return;
    }
  action = json_array_get_string_element (frame, 2);
  payload = json_array_get_element (frame, 3);
  if (!evcp_ocpp_schema_check_call (action, payload, &error))
    {
      g_autofree gchar *cut = g_utf8_make_valid (action, MIN (strlen (action), 40));

      g_warning (_("OCPP CALL %s (%s) refused with %s: %s"), id, cut, evcp_ocpp_error_code_to_string (error->code),
                 error->message);
      send_call_error (self, id, error);
      return;
    }
  g_info (_("OCPP CALL %s from the CSMS"), action);
  result = self->handler (action, json_node_get_object (payload), &error, self->handler_data);
  if (self->conn == NULL)
    return; /* the handler dropped the link (Reset) */
  if (result == NULL)
    {
      g_warning (_("OCPP CALL %s (%s) answered with %s: %s"), id, action, evcp_ocpp_error_code_to_string (error->code),
                 error->message);
      send_call_error (self, id, error);
      return;
    }
  {
    g_autoptr(JsonArray) a = json_array_new ();

    json_array_add_int_element (a, 3);
    json_array_add_string_element (a, id);
    json_array_add_object_element (a, g_steal_pointer (&result));
    send_array (self, a);
  }
}

/* A CALLRESULT or CALLERROR: for the CALL in flight, or stray. */
static void
handle_answer (EvcpOcppClient *self, JsonArray *frame, gint64 type, const gchar *id)
{
  g_autoptr(GError) error = NULL;
  Call *call = self->in_flight;
  guint len = json_array_get_length (frame);

  if (call == NULL || g_strcmp0 (call->id, id) != 0)
    {
      g_autofree gchar *cut = g_utf8_make_valid (id, MIN (strlen (id), 40));

      g_warning (_("OCPP answer to an unknown or late CALL “%s” ignored"), cut);
      return;
    }
  self->in_flight = NULL;
  g_clear_handle_id (&self->call_timer, g_source_remove);
  schedule_pump (self);
  if (type == 3)
    {
      JsonNode *payload = len == 3 ? json_array_get_element (frame, 2) : NULL;

      if (payload == NULL)
        error = g_error_new_literal (EVCP_OCPP_ERROR, EVCP_OCPP_ERROR_FORMATION_VIOLATION,
                                     _("a CALLRESULT is [3, id, payload]"));
      if (error == NULL && evcp_ocpp_schema_check_result (call->action, payload, &error))
        {
          call_finish (call, json_node_get_object (payload), NULL);
          return;
        }
      g_warning (_("OCPP answer to %s is invalid: %s"), call->action, error->message);
      call_failed (self, call, error);
      return;
    }
  {
    const gchar *code = len >= 3 && JSON_NODE_HOLDS_VALUE (json_array_get_element (frame, 2)) &&
                                json_node_get_value_type (json_array_get_element (frame, 2)) == G_TYPE_STRING
                            ? json_array_get_string_element (frame, 2)
                            : "?";
    const gchar *desc = len >= 4 && JSON_NODE_HOLDS_VALUE (json_array_get_element (frame, 3)) &&
                                json_node_get_value_type (json_array_get_element (frame, 3)) == G_TYPE_STRING
                            ? json_array_get_string_element (frame, 3)
                            : "";
    g_autofree gchar *code_cut = g_utf8_make_valid (code, MIN (strlen (code), 40));
    g_autofree gchar *desc_cut = g_utf8_make_valid (desc, MIN (strlen (desc), 200));

    self->counters.call_errors_received++;
    error = g_error_new (EVCP_OCPP_ERROR, EVCP_OCPP_ERROR_GENERIC, _("CALLERROR %s: %s"), code_cut, desc_cut);
    call_failed (self, call, error);
  }
}

static void
handle_text (EvcpOcppClient *self, const gchar *data, gsize len)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  g_autoptr(GError) error = NULL;
  JsonNode *root;
  JsonArray *frame;
  JsonNode *type_node, *id_node;
  const gchar *id;
  gint64 type;

  if (!evcp_json_parser_load (parser, data, len, self->s.max_frame_size, MAX_JSON_DEPTH, &error))
    {
      g_warning (_("OCPP frame of %s bytes ignored: not JSON (%s)"), EVCP_OCPP_NUM (len), error->message);
      return;
    }
  root = json_parser_get_root (parser);
  frame = JSON_NODE_HOLDS_ARRAY (root) ? json_node_get_array (root) : NULL;
  type_node = frame != NULL && json_array_get_length (frame) >= 2 ? json_array_get_element (frame, 0) : NULL;
  id_node = type_node != NULL ? json_array_get_element (frame, 1) : NULL;
  if (id_node == NULL || !JSON_NODE_HOLDS_VALUE (id_node) || json_node_get_value_type (id_node) != G_TYPE_STRING)
    {
      g_warning (_("OCPP frame of %s bytes ignored: not [type, id, …]"), EVCP_OCPP_NUM (len));
      return;
    }
  id = json_node_get_string (id_node);
  if (strlen (id) > MAX_ID_LEN || *id == '\0')
    {
      g_warning (_("OCPP frame ignored: its message id is empty or longer than %u"), MAX_ID_LEN);
      return;
    }
  type = JSON_NODE_HOLDS_VALUE (type_node) && json_node_get_value_type (type_node) == G_TYPE_INT64
             ? json_node_get_int (type_node)
             : -1;
  switch (type)
    {
    case 2:
      handle_call (self, frame, id);
      break;
    case 3:
    case 4:
      handle_answer (self, frame, type, id);
      break;
    default:
      error = g_error_new_literal (EVCP_OCPP_ERROR, EVCP_OCPP_ERROR_PROTOCOL, _("the message type must be 2, 3 or 4"));
      g_warning (_("OCPP frame %s refused: %s"), id, error->message);
      send_call_error (self, id, error);
      break;
    }
}

/* ---- the link ----------------------------------------------------------- */

static void connect_now (EvcpOcppClient *self);

static gboolean
reconnect_cb (gpointer user_data)
{
  EvcpOcppClient *self = user_data;

  self->reconnect_timer = 0;
  connect_now (self);
  return G_SOURCE_REMOVE;
}

/* Capped exponential backoff, with jitter: a fleet that lost its CSMS
 * does not come back all in the same second. */
static void
schedule_reconnect (EvcpOcppClient *self)
{
  guint delay = evcp_ocpp_backoff_ms (self->s.reconnect_min_ms, self->s.reconnect_max_ms, self->reconnect_failures,
                                      g_random_int ());

  if (self->reconnect_failures < G_MAXUINT)
    self->reconnect_failures++;
  g_debug ("OCPP: connecting again in %u ms", delay);
  g_clear_handle_id (&self->reconnect_timer, g_source_remove);
  self->reconnect_timer = g_timeout_add (delay, reconnect_cb, self);
  set_state (self, EVCP_OCPP_LINK_CONNECTING, NULL);
}

/* The link is gone: what is in flight goes back to the queue if it is kept,
 * the rest of what is not kept fails. */
static void
drop_link (EvcpOcppClient *self, const gchar *why)
{
  g_autoptr(GError) error =
      g_error_new (EVCP_OCPP_ERROR, EVCP_OCPP_ERROR_DISCONNECTED, _("the link went down (%s)"), why);
  GQueue kept = G_QUEUE_INIT;
  Call *call;

  if (self->conn != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->conn, self);
      if (soup_websocket_connection_get_state (self->conn) == SOUP_WEBSOCKET_STATE_OPEN)
        soup_websocket_connection_close (self->conn, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, NULL);
      g_clear_object (&self->conn);
    }
  g_clear_handle_id (&self->call_timer, g_source_remove);
  g_clear_handle_id (&self->retry_timer, g_source_remove);
  g_clear_handle_id (&self->ping_timer, g_source_remove);
  self->open = FALSE;
  if (self->in_flight != NULL)
    {
      call = g_steal_pointer (&self->in_flight);
      call->attempts--; /* unanswered because of the drop: not a failure of its own */
      g_queue_push_head (&self->queue, call);
    }
  while ((call = g_queue_pop_head (&self->queue)) != NULL)
    {
      if (call->flags & EVCP_OCPP_CALL_KEEP)
        g_queue_push_tail (&kept, call);
      else
        {
          if (!(call->flags & EVCP_OCPP_CALL_OWNER_RETRIES))
            self->counters.calls_dropped++;
          call_finish (call, NULL, error);
        }
    }
  self->queue = kept;
  set_state (self, EVCP_OCPP_LINK_CONNECTING, why);
}

static void
on_message (SoupWebsocketConnection *conn, gint type, GBytes *message, EvcpOcppClient *self)
{
  gsize len;
  const gchar *data = g_bytes_get_data (message, &len);

  if (type != SOUP_WEBSOCKET_DATA_TEXT)
    {
      g_warning (_("OCPP binary frame of %s bytes ignored: OCPP-J is text"), EVCP_OCPP_NUM (len));
      return;
    }
  g_debug ("OCPP ← %.*s", (int) MIN (len, 2000), data);
  handle_text (self, data, len);
}

static void
on_error (SoupWebsocketConnection *conn, GError *error, EvcpOcppClient *self)
{
  g_warning (_("OCPP link error: %s"), error->message);
  if (g_error_matches (error, SOUP_WEBSOCKET_ERROR, SOUP_WEBSOCKET_CLOSE_TOO_BIG))
    self->too_big = TRUE;
  g_free (self->error);
  self->error = g_strdup (error->message);
}

static void
on_closed (SoupWebsocketConnection *conn, EvcpOcppClient *self)
{
  gushort code = soup_websocket_connection_get_close_code (conn);
  const gchar *data = soup_websocket_connection_get_close_data (conn);
  g_autofree gchar *why = NULL;

  if (code == SOUP_WEBSOCKET_CLOSE_TOO_BIG || self->too_big)
    why = g_strdup_printf (_("closed: a frame from the CSMS was larger than %s bytes ([ocpp] max-frame-size)"),
                           EVCP_OCPP_NUM (self->s.max_frame_size));
  else
    why = g_strdup_printf (_("closed with code %u%s%s"), code, data != NULL && *data ? ": " : "",
                           data != NULL ? data : "");
  g_warning (_("OCPP link to %s %s; connecting again"), self->s.url, why);
  drop_link (self, why);
  schedule_reconnect (self);
}

static void
on_pong (SoupWebsocketConnection *conn, GBytes *message, EvcpOcppClient *self)
{
  self->last_pong = g_get_monotonic_time ();
}

/* libsoup pings (keepalive-interval) but has no pong timeout: here it is. */
static gboolean
ping_watch_cb (gpointer user_data)
{
  EvcpOcppClient *self = user_data;
  gint64 limit = (gint64) (self->s.ping_interval_s + self->s.pong_timeout_s) * G_USEC_PER_SEC;
  g_autofree gchar *why = NULL;

  if (self->s.ping_interval_s == 0 || g_get_monotonic_time () - self->last_pong <= limit)
    return G_SOURCE_CONTINUE;
  self->ping_timer = 0;
  why = g_strdup_printf (_("no pong within %u s of a ping"), self->s.pong_timeout_s);
  g_warning (_("OCPP link to %s dropped: %s; connecting again"), self->s.url, why);
  drop_link (self, why);
  schedule_reconnect (self);
  return G_SOURCE_REMOVE;
}

static gchar *
describe_connect_error (EvcpOcppClient *self, const GError *error)
{
  guint status = self->connect_msg != NULL ? soup_message_get_status (self->connect_msg) : 0;

  if (status == SOUP_STATUS_UNAUTHORIZED)
    return g_strdup_printf (_("the CSMS refused the credentials (HTTP 401): check [ocpp] password (%s)"),
                            error->message);
  if (error->domain == G_TLS_ERROR)
    return g_strdup_printf (_("TLS handshake failed: %s (check [ocpp] ca-file, cert-file, key-file)"), error->message);
  if (status >= 300)
    return g_strdup_printf (_("the CSMS answered HTTP %u: %s"), status, error->message);
  return g_strdup (error->message);
}

static void
on_connected (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(EvcpOcppClient) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(SoupWebsocketConnection) conn = NULL;
  g_autofree gchar *why = NULL;
  const gchar *protocol;

  conn = soup_session_websocket_connect_finish (SOUP_SESSION (source), result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  g_clear_object (&self->cancellable);
  if (conn == NULL)
    {
      why = describe_connect_error (self, error);
      g_clear_object (&self->connect_msg);
      self->counters.connect_failures++;
      /* said once: the same failure again at every retry only with --verbose */
      if (g_strcmp0 (self->error, why) != 0)
        g_warning (_("OCPP: cannot connect to %s: %s"), self->s.url, why);
      else
        g_debug ("OCPP: cannot connect to %s: %s", self->s.url, why);
      set_state (self, EVCP_OCPP_LINK_CONNECTING, why);
      schedule_reconnect (self);
      return;
    }
  g_clear_object (&self->connect_msg);
  protocol = soup_websocket_connection_get_protocol (conn);
  if (g_strcmp0 (protocol, SUBPROTOCOL) != 0)
    {
      why = g_strdup_printf (_("the CSMS did not agree to the subprotocol %s (it chose “%s”)"), SUBPROTOCOL,
                             protocol != NULL ? protocol : "");
      g_warning (_("OCPP: cannot use %s: %s"), self->s.url, why);
      soup_websocket_connection_close (conn, SOUP_WEBSOCKET_CLOSE_PROTOCOL_ERROR, NULL);
      self->counters.connect_failures++;
      set_state (self, EVCP_OCPP_LINK_CONNECTING, why);
      schedule_reconnect (self);
      return;
    }
  self->conn = g_steal_pointer (&conn);
  soup_websocket_connection_set_max_incoming_payload_size (self->conn, self->s.max_frame_size);
  soup_websocket_connection_set_keepalive_interval (self->conn, self->s.ping_interval_s);
  g_signal_connect (self->conn, "message", G_CALLBACK (on_message), self);
  g_signal_connect (self->conn, "error", G_CALLBACK (on_error), self);
  g_signal_connect (self->conn, "closed", G_CALLBACK (on_closed), self);
  g_signal_connect (self->conn, "pong", G_CALLBACK (on_pong), self);
  self->last_pong = g_get_monotonic_time ();
  self->ping_timer = g_timeout_add_seconds (1, ping_watch_cb, self);
  self->reconnect_failures = 0;
  self->too_big = FALSE;
  self->counters.connects++;
  self->open = FALSE;
  g_message (_("OCPP link to %s/%s open (%s)"), self->s.url, self->s.cp_id, SUBPROTOCOL);
  set_state (self, EVCP_OCPP_LINK_CONNECTED, "");
  g_signal_emit (self, signals[SIGNAL_CONNECTED], 0);
  schedule_pump (self);
}

static gchar *
http_url (EvcpOcppClient *self)
{
  g_autofree gchar *escaped = g_uri_escape_string (self->s.cp_id, NULL, FALSE);
  const gchar *rest = self->s.url;
  const gchar *scheme = "http://";
  g_autofree gchar *base = NULL;

  if (g_str_has_prefix (rest, "ws://"))
    rest += 5;
  else if (g_str_has_prefix (rest, "wss://"))
    rest += 6, scheme = "https://";
  base = g_strdup (rest);
  while (g_str_has_suffix (base, "/"))
    base[strlen (base) - 1] = '\0';
  return g_strconcat (scheme, base, "/", escaped, NULL);
}

static void
connect_now (EvcpOcppClient *self)
{
  const gchar *protocols[] = { SUBPROTOCOL, NULL };
  g_autofree gchar *url = http_url (self);

  g_clear_object (&self->connect_msg);
  self->connect_msg = soup_message_new (SOUP_METHOD_GET, url);
  if (self->connect_msg == NULL)
    {
      g_autofree gchar *why = g_strdup_printf (_("invalid URL %s"), url);

      g_warning ("OCPP: %s", why);
      set_state (self, EVCP_OCPP_LINK_STOPPED, why);
      return;
    }
  if (self->s.password != NULL)
    {
      g_autofree gchar *pair = g_strconcat (self->s.cp_id, ":", self->s.password, NULL);
      g_autofree gchar *b64 = g_base64_encode ((const guchar *) pair, strlen (pair));
      g_autofree gchar *header = g_strconcat ("Basic ", b64, NULL);

      soup_message_headers_replace (soup_message_get_request_headers (self->connect_msg), "Authorization", header);
    }
  if (self->client_cert != NULL)
    soup_message_set_tls_client_certificate (self->connect_msg, self->client_cert);
  self->cancellable = g_cancellable_new ();
  set_state (self, EVCP_OCPP_LINK_CONNECTING, NULL);
  g_debug ("OCPP: connecting to %s", url);
  soup_session_websocket_connect_async (self->session, self->connect_msg, NULL, (gchar **) protocols,
                                        G_PRIORITY_DEFAULT, self->cancellable, on_connected, g_object_ref (self));
}

/* The TLS settings; FALSE (and the error set) if a file cannot be used. */
static gboolean
load_tls (EvcpOcppClient *self, GError **error)
{
  g_clear_object (&self->client_cert);
  if (self->s.ca_file != NULL)
    {
      g_autoptr(GTlsDatabase) db = g_tls_file_database_new (self->s.ca_file, error);

      if (db == NULL)
        return FALSE;
      soup_session_set_tls_database (self->session, db);
    }
  if (self->s.cert_file != NULL || self->s.key_file != NULL)
    {
      self->client_cert =
          g_tls_certificate_new_from_files (self->s.cert_file,
                                            self->s.key_file != NULL ? self->s.key_file : self->s.cert_file, error);
      if (self->client_cert == NULL)
        return FALSE;
    }
  return TRUE;
}

void
evcp_ocpp_client_start (EvcpOcppClient *self)
{
  g_autoptr(GError) error = NULL;

  g_return_if_fail (EVCP_IS_OCPP_CLIENT (self));
  if (self->started)
    return;
  self->started = TRUE;
  if (!load_tls (self, &error))
    {
      g_autofree gchar *why = g_strdup_printf (_("TLS settings unusable: %s"), error->message);

      g_warning (_("OCPP link not started: %s"), why);
      set_state (self, EVCP_OCPP_LINK_STOPPED, why);
      return;
    }
  connect_now (self);
}

void
evcp_ocpp_client_stop (EvcpOcppClient *self)
{
  Call *call;

  g_return_if_fail (EVCP_IS_OCPP_CLIENT (self));
  if (!self->started)
    return;
  self->started = FALSE;
  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->connect_msg);
  drop_link (self, _("stopped"));
  g_clear_handle_id (&self->reconnect_timer, g_source_remove);
  g_clear_handle_id (&self->pump_idle, g_source_remove);
  if (g_queue_get_length (&self->queue) > 0)
    g_message (_("OCPP link stopped with %u CALLs unsent"), g_queue_get_length (&self->queue));
  while ((call = g_queue_pop_head (&self->queue)) != NULL)
    call_free (call);
  set_state (self, EVCP_OCPP_LINK_STOPPED, NULL);
}

void
evcp_ocpp_client_reconnect (EvcpOcppClient *self, const gchar *why)
{
  g_return_if_fail (EVCP_IS_OCPP_CLIENT (self));
  if (!self->started || self->conn == NULL)
    return;
  g_message (_("OCPP link closed: %s; connecting again"), why);
  drop_link (self, why);
  self->reconnect_failures = 0;
  g_clear_handle_id (&self->reconnect_timer, g_source_remove);
  self->reconnect_timer = g_idle_add (reconnect_cb, self);
}

void
evcp_ocpp_client_restart (EvcpOcppClient *self, const gchar *why)
{
  g_return_if_fail (EVCP_IS_OCPP_CLIENT (self));
  if (!self->started)
    return;
  g_message (_("OCPP link restarted: %s"), why);
  evcp_ocpp_client_stop (self);
  self->reconnect_failures = 0;
  evcp_ocpp_client_start (self);
}

void
evcp_ocpp_client_set_ping_interval (EvcpOcppClient *self, guint seconds)
{
  g_return_if_fail (EVCP_IS_OCPP_CLIENT (self));
  self->s.ping_interval_s = seconds;
  if (self->conn != NULL)
    {
      soup_websocket_connection_set_keepalive_interval (self->conn, seconds);
      self->last_pong = g_get_monotonic_time ();
    }
}

EvcpOcppLinkState
evcp_ocpp_client_get_state (EvcpOcppClient *self)
{
  g_return_val_if_fail (EVCP_IS_OCPP_CLIENT (self), EVCP_OCPP_LINK_STOPPED);
  return self->state;
}

const gchar *
evcp_ocpp_client_get_error (EvcpOcppClient *self)
{
  g_return_val_if_fail (EVCP_IS_OCPP_CLIENT (self), "");
  return self->error != NULL ? self->error : "";
}

guint
evcp_ocpp_client_get_queue_length (EvcpOcppClient *self)
{
  g_return_val_if_fail (EVCP_IS_OCPP_CLIENT (self), 0);
  return g_queue_get_length (&self->queue) + (self->in_flight != NULL ? 1 : 0);
}

const EvcpOcppCounters *
evcp_ocpp_client_get_counters (EvcpOcppClient *self)
{
  g_return_val_if_fail (EVCP_IS_OCPP_CLIENT (self), NULL);
  return &self->counters;
}

EvcpOcppClient *
evcp_ocpp_client_new (const EvcpOcppSettings *settings, EvcpOcppCallHandler handler, gpointer handler_data)
{
  EvcpOcppClient *self;

  g_return_val_if_fail (settings != NULL && settings->url != NULL && settings->cp_id != NULL, NULL);
  g_return_val_if_fail (handler != NULL, NULL);

  self = g_object_new (EVCP_TYPE_OCPP_CLIENT, NULL);
  self->s = *settings;
  self->s.url = g_strdup (settings->url);
  self->s.cp_id = g_strdup (settings->cp_id);
  self->s.password = g_strdup (settings->password);
  self->s.ca_file = g_strdup (settings->ca_file);
  self->s.cert_file = g_strdup (settings->cert_file);
  self->s.key_file = g_strdup (settings->key_file);
  self->s.call_timeout_ms = MAX (self->s.call_timeout_ms, 100);
  self->s.reconnect_min_ms = MAX (self->s.reconnect_min_ms, 10);
  self->s.reconnect_max_ms = MAX (self->s.reconnect_max_ms, self->s.reconnect_min_ms);
  self->s.max_frame_size = MAX (self->s.max_frame_size, 1024);
  self->handler = handler;
  self->handler_data = handler_data;
  self->session = soup_session_new_with_options ("timeout", CONNECT_TIMEOUT_S, NULL);
  return self;
}

static void
evcp_ocpp_client_dispose (GObject *object)
{
  EvcpOcppClient *self = EVCP_OCPP_CLIENT (object);

  evcp_ocpp_client_stop (self);
  g_clear_object (&self->session);
  g_clear_object (&self->client_cert);
  G_OBJECT_CLASS (evcp_ocpp_client_parent_class)->dispose (object);
}

static void
evcp_ocpp_client_finalize (GObject *object)
{
  EvcpOcppClient *self = EVCP_OCPP_CLIENT (object);

  g_free (self->s.url);
  g_free (self->s.cp_id);
  g_free (self->s.password);
  g_free (self->s.ca_file);
  g_free (self->s.cert_file);
  g_free (self->s.key_file);
  g_free (self->error);
  g_free (self->id_prefix);
  G_OBJECT_CLASS (evcp_ocpp_client_parent_class)->finalize (object);
}

static void
evcp_ocpp_client_class_init (EvcpOcppClientClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = evcp_ocpp_client_dispose;
  object_class->finalize = evcp_ocpp_client_finalize;

  signals[SIGNAL_STATE_CHANGED] =
      g_signal_new ("state-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_CONNECTED] =
      g_signal_new ("connected", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
evcp_ocpp_client_init (EvcpOcppClient *self)
{
  g_queue_init (&self->queue);
  self->attempts = 3;
  self->retry_interval_s = 10;
  /* message ids unique across the Engine's runs, as the CSMS may keep them */
  self->id_prefix = g_strdup_printf ("%08x", g_random_int ());
}
