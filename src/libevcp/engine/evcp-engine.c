/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "evcp-engine"

#include "evcp-build-config.h"

#include <glib/gi18n-lib.h>

#include <math.h>

#include <glib/gstdio.h>

#include "evcp-charging-request-handler.h"
#include "evcp-engine.h"
#include "evcp-error.h"
#include "evcp-frame-codec.h"
#include "evcp-engine-health-server.h"
#include "evcp-json-limits.h"
#include "evcp-request-log.h"
#include "evcp-json-scan.h"
#include "evcp-kafka-outbox-sender.h"
#include "evcp-kafka-util.h"
#include "evcp-log.h"
#include "evcp-platform.h"
#include "evcp-plugin-loader.h"
#include "evcp-state-dir.h"
#include "evcp-system-notification-handler.h"
#include "evcp-time.h"
#include "evcp-user-info-handler.h"

#define SHUTDOWN_TIMEOUT_MS 3000

#define SESSIONS_TOPIC "charging_sessions"

/* session.json holds one session: a few hundred bytes */
#define SESSION_MAX_FILE_SIZE (1024 * 1024)
/* while the outbox cannot be written, it is tried again this often */
#define UNWRITTEN_RETRY_S     1
#define REFUSED_STORAGE       "storage"

struct _EvcpEngine
{
  GObject                parent_instance;

  EvcpConfig            *config;
  EvcpKafkaService      *kafka;
  EvcpUserRegistry      *users;
  EvcpSupply            *supply;
  EvcpOutbox            *outbox;
  EvcpCentralClient     *central;
  EvcpKafkaOutboxSender *sender;
  EvcpHealthServer      *health;
  EvcpStateDir          *state;       /* locked: this process's, this CP's */
  gchar                 *state_dir;
  gchar                 *session_path;
  EvcpRequestLog        *requests;   /* charging requests that had their session */
  guint64                requests_repeated;
  gboolean               started;
  /* refusals: a flood of requests for a busy CP must not flood the log */
  gint64                 refusals_logged_at;
  guint                  refusals_unlogged;
  guint64                best_effort_dropped;
  gint64                 dropped_logged_at;
  GBytes                *key;   /* the CP id: the key of what the Engine produces */
  /* state the disk refused (full, read-only): kept in memory, in order,
   * written as soon as it can be; no session starts meanwhile */
  GQueue                 unwritten;       /* of Unwritten */
  guint                  unwritten_timer;
  gboolean               session_unsaved; /* the last write of session.json failed */
  EvcpSession *recovered;                 /* the session recover_session() closed */
};

/* An event the outbox could not take yet. */
typedef struct {
  gchar      **fields;
  JsonObject  *event;
  gboolean     ends_session;   /* session.json goes once it is written */
  gchar       *request_id;     /* then: the request served, recorded first */
} Unwritten;

G_DEFINE_TYPE (EvcpEngine, evcp_engine, G_TYPE_OBJECT)

enum {
  SIGNAL_CHARGING_REQUEST,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

static gboolean start_supply (EvcpEngine *self, const gchar *request_id, const gchar *driver, const gchar *session_id,
                              const gchar *source, gdouble power_kw, gint64 max_duration_s, GError **out_error);

/* Delivered again (a kill before the commit, a rebalance, an offset read
 * again): its session runs, or ran; it takes effect once. The id is worked
 * out only when a session could start (@request_id: then, or the running
 * session's): while another one runs (a flood of requests for a busy CP),
 * a comparison with its request does, and a request served long ago is
 * refused as busy, not served. */
static gboolean
already_served (EvcpEngine *self, EvcpChargingRequest *request, const gchar **request_id)
{
  const EvcpSession *current = self->supply != NULL ? evcp_supply_get_session (self->supply) : NULL;

  *request_id = NULL;
  if (current != NULL && evcp_charging_request_is (request, current->request_id))
    {
      *request_id = current->request_id;
      return TRUE;
    }
  if (self->supply == NULL || evcp_supply_get_state (self->supply) != EVCP_CP_STATE_ACTIVE)
    return FALSE;
  *request_id = evcp_charging_request_get_request_id (request);
  return *request_id != NULL && self->requests != NULL && evcp_request_log_contains (self->requests, *request_id);
}

static void
on_charging_request (EvcpChargingRequestHandler *handler,
                     EvcpChargingRequest        *request,
                     EvcpEngine                 *self)
{
  g_autofree gchar *duration = NULL;
  const gchar *request_id = NULL;

  g_signal_emit (self, signals[SIGNAL_CHARGING_REQUEST], 0, request);
  if (already_served (self, request, &request_id))
    {
      self->requests_repeated++;
      g_message (_("Charging request %s of %s delivered again: already served, not served twice"),
                 request_id, evcp_charging_request_get_user_id (request));
      return;
    }
  if (self->supply != NULL)
    start_supply (self, request_id, evcp_charging_request_get_user_id (request), NULL, "kafka",
                  evcp_charging_request_get_requested_power_kw (request),
                  evcp_charging_request_get_max_duration_s (request), NULL);
  /* the session logic logs what it does with it */
  if (!evcp_log_enabled (G_LOG_LEVEL_INFO, G_LOG_DOMAIN))
    return;
  duration = g_strdup_printf ("%" G_GINT64_FORMAT, evcp_charging_request_get_max_duration_s (request));
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                    "EVCP_USER_ID", evcp_charging_request_get_user_id (request),
                    /* TRANSLATORS: user id, user name, kW, seconds */
                    "MESSAGE", _("Charging request from %s (%s): %.1f kW for at most %s s"),
                    evcp_charging_request_get_user_id (request),
                    evcp_charging_request_get_user_name (request) != NULL ?
                      evcp_charging_request_get_user_name (request) : _("unknown user"),
                    evcp_charging_request_get_requested_power_kw (request),
                    duration);
}

static void
on_message_done (EvcpKafkaService *kafka, EvcpMessage *message, GError *dead_letter_error,
                 EvcpEngine *self)
{
  g_autofree gchar *what = NULL;

  if (!evcp_log_enabled (G_LOG_LEVEL_INFO, G_LOG_DOMAIN))
    return;
  what = evcp_message_describe (message);
  if (dead_letter_error == NULL)
    g_info (_("Handled %s"), what);
  else
    g_info (_("Dead-lettered %s"), what);
}

/* The built-in handlers, registered from a table. */
typedef EvcpMessageHandler *(*HandlerFactory) (EvcpEngine *self);

static EvcpMessageHandler *
make_user_info (EvcpEngine *self)
{
  return EVCP_MESSAGE_HANDLER (evcp_user_info_handler_new (self->users));
}

static EvcpMessageHandler *
make_charging_request (EvcpEngine *self)
{
  EvcpChargingRequestHandler *handler = evcp_charging_request_handler_new (self->config->cp_id, self->users);

  g_signal_connect_object (handler, "charging-request", G_CALLBACK (on_charging_request), self, 0);
  return EVCP_MESSAGE_HANDLER (handler);
}

static EvcpMessageHandler *
make_system_notification (EvcpEngine *self)
{
  return EVCP_MESSAGE_HANDLER (evcp_system_notification_handler_new (self->config->cp_id));
}

static const HandlerFactory builtin_handlers[] = {
  make_user_info,
  make_charging_request,
  make_system_notification,
};

/* ---- what the Engine reports ------------------------------------------------ */

static gchar *
fmt (const gchar *format, gdouble value)
{
  gchar buf[G_ASCII_DTOSTR_BUF_SIZE];

  return g_strdup (g_ascii_formatd (buf, sizeof buf, format, value));
}

/* {"kind": kind, "data": {cp_id, session_id, user_id, …}} */
static JsonObject *
session_event (EvcpEngine *self, const gchar *kind, const EvcpSession *s)
{
  JsonObject *event = json_object_new ();
  JsonObject *data = json_object_new ();

  json_object_set_string_member (event, "kind", kind);
  json_object_set_string_member (data, "cp_id", self->config->cp_id);
  if (s != NULL)
    {
      g_autofree gchar *kwh = fmt ("%.3f", s->kwh);
      g_autofree gchar *eur = fmt ("%.2f", s->eur);

      json_object_set_string_member (data, "session_id", s->session_id);
      json_object_set_string_member (data, "user_id", s->driver);
      json_object_set_double_member (data, "power_kw", s->power_kw);
      /* the figures of the frames (%.3f, %.2f), not round(): the two differ
       * on a half (0.1035 kWh), and Central must see one ticket */
      json_object_set_double_member (data, "kwh", g_ascii_strtod (kwh, NULL));
      json_object_set_double_member (data, "eur", g_ascii_strtod (eur, NULL));
      json_object_set_int_member (data, "max_duration_s", s->max_duration_s);
      json_object_set_string_member (data, "source", s->source);
      if (s->ended_reason != NULL)
        json_object_set_string_member (data, "reason", s->ended_reason);
    }
  json_object_set_object_member (event, "data", data);
  return event;
}

static void
unwritten_free (Unwritten *u)
{
  g_strfreev (u->fields);
  g_free (u->request_id);
  g_clear_pointer (&u->event, json_object_unref);
  g_free (u);
}

static gboolean
outbox_append (EvcpEngine *self, gchar **fields, JsonObject *kafka_event, GError **error)
{
  return evcp_outbox_append (self->outbox, (const gchar * const *) fields,
                             kafka_event != NULL ? SESSIONS_TOPIC : NULL,
                             self->config->cp_id, kafka_event, error) != NULL;
}

/* Writes what the disk refused, oldest first; stops at the first failure. */
static gboolean
write_unwritten_cb (gpointer user_data)
{
  EvcpEngine *self = user_data;
  guint written = 0;
  Unwritten *u;

  while ((u = g_queue_peek_head (&self->unwritten)) != NULL)
    {
      g_autoptr(GError) error = NULL;

      if (!outbox_append (self, u->fields, u->event, &error))
        {
          g_debug ("The outbox still cannot be written: %s", error->message);
          return G_SOURCE_CONTINUE;
        }
      if (u->ends_session)
        {
          g_autoptr(GError) log_error = NULL;

          if (u->request_id != NULL && self->requests != NULL &&
              !evcp_request_log_add (self->requests, u->request_id, &log_error))
            g_warning (_("Cannot record that request %s was served (%s): delivered again, it would be "
                         "served again"), u->request_id, log_error->message);
          g_unlink (self->session_path);
        }
      unwritten_free (g_queue_pop_head (&self->unwritten));
      written++;
    }
  g_message (_("The outbox %s can be written again: %u events kept in memory are on disk; "
               "new sessions are accepted"), evcp_outbox_get_path (self->outbox), written);
  self->unwritten_timer = 0;
  return G_SOURCE_REMOVE;
}

/* An event that must not be lost, to the outbox. If the disk refuses it
 * (full, read-only), it is kept in memory, and so is every later one
 * behind it so that the seqs keep their order, until the disk takes them;
 * meanwhile no session starts. FALSE if it is not on disk yet. */
static gboolean
append (EvcpEngine *self, const gchar * const *fields, JsonObject *kafka_event, gboolean ends_session)
{
  g_autoptr(GError) error = NULL;
  Unwritten *u;

  if (g_queue_is_empty (&self->unwritten) &&
      outbox_append (self, (gchar **) fields, kafka_event, &error))
    return TRUE;
  if (error != NULL && !g_error_matches (error, EVCP_ERROR, EVCP_ERROR_FAILED))
    {
      /* an event that can never be written: nothing to wait for */
      g_critical ("Cannot write to the outbox %s: %s", evcp_outbox_get_path (self->outbox),
                  error->message);
      return FALSE;
    }
  if (error != NULL)
    g_warning (_("Cannot write to the outbox (%s): the event is kept in memory and written as soon "
                 "as the disk takes it; new sessions are refused until then"), error->message);
  u = g_new0 (Unwritten, 1);
  u->fields = g_strdupv ((gchar **) fields);
  u->event = kafka_event != NULL ? json_object_ref (kafka_event) : NULL;
  u->ends_session = ends_session;
  g_queue_push_tail (&self->unwritten, u);
  if (self->unwritten_timer == 0)
    self->unwritten_timer = g_timeout_add_seconds (UNWRITTEN_RETRY_S, write_unwritten_cb, self);
  return FALSE;
}

/* Whether a session could be recorded now: nothing waiting for the disk,
 * and a small file written and synced in the state directory (a full or
 * read-only disk refuses it). */
static gboolean
state_writable (EvcpEngine *self, gchar **reason)
{
  g_autofree gchar *probe = g_strconcat (self->session_path, ".probe", NULL);
  g_autoptr(GError) error = NULL;

  if (!g_queue_is_empty (&self->unwritten))
    {
      *reason = g_strdup_printf (_("%u events wait for the disk"), g_queue_get_length (&self->unwritten));
      return FALSE;
    }
  if (!g_file_set_contents_full (probe, "probe\n", -1,
                                 G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                 0600, &error))
    {
      *reason = g_strdup (error->message);
      return FALSE;
    }
  g_unlink (probe);
  return TRUE;
}

static void
telemetry_delivered (EvcpKafkaProducer *producer, const GError *error, gint32 partition,
                     gint64 offset, gpointer user_data)
{
  if (error != NULL)
    EVCP_DEBUG ("Best-effort event not delivered: %s", error->message);
}

/* A best-effort event the producer could not take (its queue is full:
 * Kafka is away or slower than a flood of refusals): counted, and said in
 * the log at most every 10 s. */
static void
best_effort_dropped (EvcpEngine *self, const GError *error)
{
  gint64 now = g_get_monotonic_time ();
  g_autofree gchar *dropped = NULL;

  self->best_effort_dropped++;
  if (self->dropped_logged_at != 0 && now - self->dropped_logged_at < 10 * G_USEC_PER_SEC)
    return;
  self->dropped_logged_at = now;
  /* numbers as text: a G_*_FORMAT in a msgid would cut it (xgettext) */
  dropped = g_strdup_printf ("%" G_GUINT64_FORMAT, self->best_effort_dropped);
  g_warning (_("Best-effort events (telemetry, refusals) are being dropped: %s (%s so far)"),
             error != NULL ? error->message : _("no producer"), dropped);
}

/* Telemetry and refusals: best effort, straight to Kafka; data.seq is the
 * latest seq of this program, not a new one (only what must not be lost
 * takes a number, so that Central sees a gap only where something was lost). */
static void
produce_best_effort (EvcpEngine *self, JsonObject *event_owned)
{
  g_autoptr(JsonObject) event = event_owned;
  EvcpKafkaProducer *producer = evcp_kafka_service_get_producer (self->kafka);
  g_autoptr(JsonNode) node = json_node_new (JSON_NODE_OBJECT);
  gchar timestamp[EVCP_TIMESTAMP_SIZE];
  g_autoptr(GError) error = NULL;
  g_autofree gchar *json = NULL;
  g_autoptr(GBytes) value = NULL;
  gsize len;

  if (producer == NULL)
    return;
  evcp_time_format_iso8601 (g_get_real_time (), timestamp);
  json_object_set_string_member (event, "timestamp", timestamp);
  json_object_set_int_member (json_object_get_object_member (event, "data"), "seq",
                              (gint64) evcp_outbox_get_next_seq (self->outbox) - 1);
  json_node_set_object (node, event);
  json = json_to_string (node, FALSE);
  len = strlen (json);
  value = g_bytes_new_take (g_steal_pointer (&json), len);
  if (!evcp_kafka_producer_produce (producer, SESSIONS_TOPIC, self->key, value, NULL, 0,
                                    telemetry_delivered, NULL, &error))
    best_effort_dropped (self, error);
}

/* The session, on disk, so that one interrupted by a kill still ends with
 * exactly one ticket: ticket_seq, when present, is the seq its ticket gets. */
static void
save_session (EvcpEngine *self, const EvcpSession *session, guint64 ticket_seq)
{
  g_autoptr(JsonBuilder) b = json_builder_new_immutable ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree gchar *text = NULL;
  g_autoptr(GError) error = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "session");
  json_builder_add_value (b, evcp_session_to_json (session));
  if (ticket_seq > 0)
    {
      json_builder_set_member_name (b, "ticket_seq");
      json_builder_add_int_value (b, (gint64) ticket_seq);
    }
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  text = json_to_string (root, FALSE);
  if (!g_file_set_contents (self->session_path, text, -1, &error))
    {
      /* said once, not at every telemetry tick */
      if (!self->session_unsaved)
        g_warning (_("Cannot save the session to %s: %s (the last copy that could be written "
                     "stays there)"), self->session_path, error->message);
      self->session_unsaved = TRUE;
      return;
    }
  if (self->session_unsaved)
    g_message (_("The session is saved to %s again"), self->session_path);
  self->session_unsaved = FALSE;
}

/* The session's request had its session: recorded before the session file
 * goes (a kill in between: recover_session() records it). */
static void
served (EvcpEngine *self, const EvcpSession *s)
{
  g_autoptr(GError) error = NULL;

  if (s->request_id == NULL || self->requests == NULL)
    return;
  if (!evcp_request_log_add (self->requests, s->request_id, &error))
    g_warning (_("Cannot record that request %s was served (%s): delivered again, it would be served again"),
               s->request_id, error->message);
}

static void
ticket (EvcpEngine *self, const EvcpSession *s)
{
  g_autofree gchar *kwh = fmt ("%.3f", s->kwh);
  g_autofree gchar *eur = fmt ("%.2f", s->eur);
  const gchar *fields[] = { "TICKET", self->config->cp_id, s->session_id, s->driver,
                            kwh, eur, s->ended_reason, NULL };
  g_autoptr(JsonObject) event = session_event (self, "SESSION_ENDED", s);

  /* 1: the seq the ticket will get, on disk; 2: the ticket, on disk;
   * 3: the session gone. A kill between any two steps is recovered by
   * recover_session() without a second ticket. While the disk refuses
   * the ticket, the session file stays, so that a kill then still ends
   * with a ticket; it goes once the ticket is written. Its request is
   * recorded as served before the file goes. */
  save_session (self, s, evcp_outbox_get_next_seq (self->outbox) + g_queue_get_length (&self->unwritten));
  if (append (self, fields, event, TRUE))
    {
      served (self, s);
      g_unlink (self->session_path);
    }
  else if (!g_queue_is_empty (&self->unwritten))
    {
      /* the ticket waits in memory: its request is recorded when it is written */
      Unwritten *last = g_queue_peek_tail (&self->unwritten);

      last->request_id = g_strdup (s->request_id);
    }
}

static void
on_session_ended (EvcpSupply *supply, EvcpSession *s, EvcpEngine *self)
{
  ticket (self, s);
}

static void
on_state_changed (EvcpSupply *supply, EvcpCpState old, EvcpCpState state, EvcpEngine *self)
{
  const gchar *fields[] = { "STATE", self->config->cp_id, evcp_cp_state_to_string (state), NULL };
  const EvcpSession *s = evcp_supply_get_session (supply);

  if (state == EVCP_CP_STATE_SUPPLYING && s != NULL)
    {
      g_autoptr(JsonObject) started = session_event (self, "SESSION_STARTED", s);

      save_session (self, s, 0);
      append (self, fields, started, FALSE);
      return;
    }
  append (self, fields, NULL, FALSE);
}

static void
on_telemetry (EvcpSupply *supply, EvcpSession *s, EvcpEngine *self)
{
  g_autofree gchar *kwh = fmt ("%.3f", s->kwh);
  g_autofree gchar *eur = fmt ("%.2f", s->eur);
  const gchar *fields[] = { "SUPPLY", self->config->cp_id, s->session_id, s->driver, kwh, eur, NULL };

  save_session (self, s, 0);
  evcp_central_client_send (self->central, fields);
  produce_best_effort (self, session_event (self, "SESSION_TELEMETRY", s));
}

/* REQUEST_REFUSED, for every refused request: written directly, as a
 * flood of requests for a busy CP makes this a per-message path. */
static void
refuse (EvcpEngine *self, const gchar *driver, const gchar *reason)
{
  EvcpKafkaProducer *producer = evcp_kafka_service_get_producer (self->kafka);
  gchar timestamp[EVCP_TIMESTAMP_SIZE];
  gchar seq[24];
  g_autoptr(GError) error = NULL;
  GString *out;
  GBytes *value;
  gint64 mono = g_get_monotonic_time ();

  if (mono - self->refusals_logged_at >= G_USEC_PER_SEC)
    {
      if (self->refusals_unlogged > 0)
        g_message (_("%u more requests refused in the last second"), self->refusals_unlogged);
      g_message (_("Request from %s refused: %s"), driver, reason);
      self->refusals_logged_at = mono;
      self->refusals_unlogged = 0;
    }
  else
    self->refusals_unlogged++;

  if (producer == NULL)
    return;
  /* written by hand: a busy CP may refuse thousands of requests a second */
  out = g_string_sized_new (256);
  g_string_append (out, "{\"kind\":\"REQUEST_REFUSED\",\"timestamp\":\"");
  g_string_append (out, evcp_time_format_iso8601 (g_get_real_time (), timestamp));
  g_string_append (out, "\",\"data\":{\"cp_id\":");
  evcp_json_append_string (out, self->config->cp_id);
  g_string_append (out, ",\"user_id\":");
  evcp_json_append_string (out, driver);
  g_string_append (out, ",\"reason\":");
  evcp_json_append_string (out, reason);
  g_string_append (out, ",\"seq\":");
  g_string_append_len (out, seq, g_snprintf (seq, sizeof seq, "%" G_GUINT64_FORMAT,
                                              evcp_outbox_get_next_seq (self->outbox) - 1));
  g_string_append (out, "}}");
  value = g_string_free_to_bytes (out);
  if (!evcp_kafka_producer_produce (producer, SESSIONS_TOPIC, self->key, value, NULL, 0,
                                    telemetry_delivered, NULL, &error))
    best_effort_dropped (self, error);
  g_bytes_unref (value);
}

static gboolean
start_supply (EvcpEngine *self, const gchar *request_id, const gchar *driver, const gchar *session_id,
              const gchar *source, gdouble power_kw, gint64 max_duration_s, GError **out_error)
{
  g_autoptr(GError) error = NULL;
  g_autofree gchar *why = NULL;

  /* a session that could not be recorded does not start */
  if (evcp_supply_get_state (self->supply) == EVCP_CP_STATE_ACTIVE && !state_writable (self, &why))
    {
      g_autofree gchar *reason = g_strdup_printf (REFUSED_STORAGE ": %s", why);

      refuse (self, driver, reason);
      g_set_error_literal (out_error, EVCP_ERROR, EVCP_ERROR_REFUSED, reason);
      return FALSE;
    }
  if (evcp_supply_request_for (self->supply, request_id, driver, session_id, source, power_kw,
                               max_duration_s, 0, &error))
    return TRUE;
  if (g_error_matches (error, EVCP_ERROR, EVCP_ERROR_REFUSED))
    refuse (self, driver, error->message);
  else
    {
      /* the driver may be what is wrong with it: quoted, escaped and cut */
      g_autofree gchar *cut = g_strndup (driver, 64);
      g_autofree gchar *shown = g_strescape (cut, NULL);

      g_warning (_("Invalid supply request (%s) from “%s”: %s"), source, shown, error->message);
    }
  g_propagate_error (out_error, g_steal_pointer (&error));
  return FALSE;
}

/* A session file that cannot be used: kept for a human, never deleted
 * (it may hold the only trace of a session that needs a ticket). */
static void
set_aside_session (EvcpEngine *self, const gchar *why)
{
  g_autoptr(GError) error = NULL;
  g_autofree gchar *aside = evcp_state_file_move_aside (self->session_path, &error);

  if (aside != NULL)
    g_warning (_("Unreadable session file %s (%s): moved to %s; if it held a session, "
                 "that session has no ticket yet"), self->session_path, why, aside);
  else
    g_warning (_("Unreadable session file %s (%s), and it cannot be moved aside (%s): left there"),
               self->session_path, why, error->message);
}

/* Whether the ticket of @s can be a frame (a session file is input like
 * any other: a '#' or a control byte in a field, or fields too long, would
 * make a ticket that can never be written). */
static gboolean
ticket_possible (EvcpEngine *self, const EvcpSession *s, GError **error)
{
  g_autofree gchar *kwh = fmt ("%.3f", s->kwh);
  g_autofree gchar *eur = fmt ("%.2f", s->eur);
  g_autofree gchar *seq = g_strdup_printf ("%" G_GINT64_FORMAT, G_MAXINT64);
  const gchar *fields[] = { "TICKET", self->config->cp_id, s->session_id, s->driver,
                            kwh, eur, s->ended_reason, seq, NULL };
  g_autofree gchar *data = evcp_frame_join_fields (fields, error);

  return data != NULL && evcp_frame_validate_data (data, -1, error);
}

/* A session the previous process left open: close it with its ticket,
 * unless that ticket was already written. */
static void
recover_session (EvcpEngine *self)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(EvcpSession) s = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autofree gchar *text = NULL;
  JsonObject *root;
  gint64 ticket_seq;
  gsize len = 0;

  text = evcp_state_file_read (self->session_path, SESSION_MAX_FILE_SIZE, &len, &error);
  if (text == NULL && g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
    return;
  if (text != NULL)
    node = evcp_json_parse_object (text, len, SESSION_MAX_FILE_SIZE,
                                   EVCP_JSON_LIMITS_DEFAULT_MAX_DEPTH, &error);
  if (node == NULL)
    {
      set_aside_session (self, error->message);
      return;
    }
  root = json_node_get_object (node);
  ticket_seq = json_object_get_int_member_with_default (root, "ticket_seq", 0);
  s = evcp_session_from_json (json_object_get_member (root, "session"), &error);
  if (s == NULL)
    {
      set_aside_session (self, error->message);
      return;
    }
  if (ticket_seq > 0 && evcp_outbox_get_next_seq (self->outbox) > (guint64) ticket_seq)
    {
      /* the ticket is in the outbox (or already delivered) */
      self->recovered = evcp_session_copy (s);
      served (self, s);
      g_unlink (self->session_path);
      return;
    }
  if (s->ended_reason == NULL)
    s->ended_reason = g_strdup (EVCP_END_FAULT);   /* the Engine stopped under it */
  if (!ticket_possible (self, s, &error))
    {
      set_aside_session (self, error->message);
      return;
    }
  g_message (_("Closing session %s of %s left open by the previous run: %.3f kWh (%s)"),
             s->session_id, s->driver, s->kwh, s->ended_reason);
  self->recovered = evcp_session_copy (s);
  ticket (self, s);
}

/* ---- Central's commands ------------------------------------------------------ */

static void
on_command (EvcpCentralClient *central, GStrv fields, EvcpEngine *self)
{
  const gchar *verb = fields[0];
  guint n = g_strv_length (fields);

  if (g_strcmp0 (verb, "AUTHORIZE") == 0 && n >= 6)
    {
      gdouble power = g_ascii_strtod (fields[4], NULL);
      guint64 duration = 0;

      if (!g_ascii_string_to_unsigned (fields[5], 10, 1, G_MAXINT32, &duration, NULL) ||
          !(power > 0))
        {
          g_warning (_("AUTHORIZE with bad figures ignored: power “%s”, duration “%s”"),
                     fields[4], fields[5]);
          return;
        }
      start_supply (self, NULL, fields[2], fields[3], "central", power, (gint64) duration, NULL);
    }
  else if (g_strcmp0 (verb, "STOP") == 0)
    {
      g_message (_("Central: STOP (no new session until RESUME)"));
      evcp_supply_hold (self->supply, EVCP_SUPPLY_HOLD_CENTRAL);
    }
  else if (g_strcmp0 (verb, "RESUME") == 0)
    {
      g_message (_("Central: RESUME"));
      evcp_supply_release (self->supply, EVCP_SUPPLY_HOLD_CENTRAL);
    }
  else
    g_warning (_("Central sent %s, which this Engine does not know: ignored"), verb);
}

static gboolean
health (gpointer user_data, gchar **reason)
{
  EvcpEngine *self = user_data;

  if (evcp_supply_get_state (self->supply) != EVCP_CP_STATE_FAULT)
    {
      /* serving, but something is held back: say so (OK#<cp>#<warning>) */
      if (!g_queue_is_empty (&self->unwritten))
        *reason = g_strdup_printf ("%u events wait for the disk (the outbox cannot be written): "
                                   "new sessions are refused", g_queue_get_length (&self->unwritten));
      else
        *reason = evcp_kafka_service_get_stall_reason (self->kafka);
      return TRUE;
    }
  *reason = g_strdup (evcp_supply_get_fault_reason (self->supply));
  return FALSE;
}

/* ---- lifecycle ------------------------------------------------------------ */

EvcpEngine *
evcp_engine_new (EvcpConfig *config)
{
  EvcpEngine *self;

  g_return_val_if_fail (config != NULL, NULL);

  self = g_object_new (EVCP_TYPE_ENGINE, NULL);
  self->config = evcp_config_copy (config);
  self->key = g_bytes_new (self->config->cp_id, strlen (self->config->cp_id));
  self->users = evcp_user_registry_new (0);
  self->kafka = evcp_kafka_service_new (self->config);
  /* a line per message only for those who asked for info (--verbose) */
  if (evcp_log_enabled (G_LOG_LEVEL_INFO, G_LOG_DOMAIN))
    g_signal_connect_object (self->kafka, "message-done", G_CALLBACK (on_message_done), self, 0);
  return self;
}

/* The health socket: [evcp] health-address, else where the Monitor looks
 * ([monitor] engine-host and engine-port). A port in use names the
 * setting to change. */
static gboolean
listen_health (EvcpEngine *self, GError **error)
{
  const gchar *address = self->config->health_address;
  g_autoptr(GError) local_error = NULL;
  g_autofree gchar *host = NULL;
  guint port = self->config->engine_port;
  const gchar *key = "[evcp] health-address (--health-address), or [monitor] engine-port (ENGINE_PORT)";

  if (address != NULL && *address != '\0')
    {
      g_autoptr(GInetSocketAddress) sa = evcp_config_parse_address (address, "[evcp] health-address", error);

      if (sa == NULL)
        return FALSE;
      host = g_inet_address_to_string (g_inet_socket_address_get_address (sa));
      port = g_inet_socket_address_get_port (sa);
      key = "[evcp] health-address (--health-address)";
    }
  else
    host = g_strdup (self->config->engine_host);
  if (evcp_health_server_listen (self->health, host, (guint16) port, &local_error))
    return TRUE;
  if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE))
    /* TRANSLATORS: the port, then the setting that chooses it */
    g_prefix_error (&local_error, _("Port %u is in use: change %s. "), port, key);
  g_propagate_error (error, g_steal_pointer (&local_error));
  return FALSE;
}

gboolean
evcp_engine_start (EvcpEngine *self, GError **error)
{
  g_autofree gchar *outbox_path = NULL;

  g_return_val_if_fail (EVCP_IS_ENGINE (self), FALSE);
  g_return_val_if_fail (!self->started, FALSE);

  if (!evcp_config_validate (self->config, error) ||
      !evcp_kafka_check_properties (self->config->kafka_brokers, self->config->rdkafka,
                                    self->config->rdkafka_consumer,
                                    self->config->rdkafka_producer, error))
    return FALSE;

  /* one CP, one process: refused before anything in it is read */
  self->state = evcp_state_dir_open (self->config->state_dir, "engine", self->config->cp_id, error);
  if (self->state == NULL)
    return FALSE;
  self->state_dir = g_strdup (evcp_state_dir_get_path (self->state));
  outbox_path = g_build_filename (self->state_dir, "outbox.json", NULL);
  self->session_path = g_build_filename (self->state_dir, "session.json", NULL);
  {
    g_autofree gchar *requests_path = g_build_filename (self->state_dir, "requests.log", NULL);

    self->requests = evcp_request_log_open (requests_path, EVCP_REQUEST_LOG_CAPACITY, error);
    if (self->requests == NULL)
      return FALSE;
  }
  self->outbox = evcp_outbox_new (outbox_path, error);
  if (self->outbox == NULL)
    return FALSE;

  self->supply = evcp_supply_new (self->config->price_eur_kwh);
  recover_session (self);
  g_signal_connect_object (self->supply, "state-changed", G_CALLBACK (on_state_changed), self, 0);
  g_signal_connect_object (self->supply, "telemetry", G_CALLBACK (on_telemetry), self, 0);
  g_signal_connect_object (self->supply, "session-ended", G_CALLBACK (on_session_ended), self, 0);

  self->health = evcp_health_server_new (self->config->cp_id, health, self, NULL);
  if (!listen_health (self, error))
    return FALSE;

  for (gsize i = 0; i < G_N_ELEMENTS (builtin_handlers); i++)
    {
      g_autoptr(EvcpMessageHandler) handler = builtin_handlers[i] (self);

      if (!evcp_kafka_service_register_handler (self->kafka, handler, error))
        return FALSE;
    }

  if (self->config->plugin_dir != NULL)
    {
      g_autoptr(GError) local_error = NULL;
      g_auto(GStrv) loaded = evcp_plugins_load (self->config->plugin_dir,
                                                EVCP_PLUGIN_ENGINE,
                                                self->kafka, self->config, &local_error);

      /* A missing plugin directory costs the plugins, not the Engine. */
      if (loaded == NULL)
        g_warning ("%s", local_error->message);
    }

  if (!evcp_kafka_service_start (self->kafka, error))
    return FALSE;
  self->sender = evcp_kafka_outbox_sender_new (self->outbox, evcp_kafka_service_get_producer (self->kafka));
  evcp_kafka_outbox_sender_start (self->sender);

  self->central = evcp_central_client_new (self->config->central_host, (guint16) self->config->central_port,
                                           EVCP_CENTRAL_ROLE_ENGINE, self->config->cp_id,
                                           self->config->location, self->config->price_eur_kwh,
                                           self->outbox);
  evcp_central_client_set_secret (self->central, self->config->central_secret);
  g_signal_connect_object (self->central, "command", G_CALLBACK (on_command), self, 0);
  evcp_central_client_start (self->central);

  /* where this run starts from */
  on_state_changed (self->supply, evcp_supply_get_state (self->supply),
                    evcp_supply_get_state (self->supply), self);
  self->started = TRUE;
  g_message (_("Engine of %s started (state in %s)"), self->config->cp_id, self->state_dir);
  return TRUE;
}

void
evcp_engine_stop (EvcpEngine *self)
{
  g_return_if_fail (EVCP_IS_ENGINE (self));

  if (!self->started)
    return;
  self->started = FALSE;
  /* a supply does not outlive the Engine: its ticket goes to the outbox now */
  if (evcp_supply_get_session (self->supply) != NULL)
    evcp_supply_hold (self->supply, EVCP_SUPPLY_HOLD_SHUTDOWN);
  evcp_health_server_stop (self->health);
  evcp_central_client_stop (self->central);
  evcp_kafka_outbox_sender_stop (self->sender);
  evcp_kafka_service_stop (self->kafka, SHUTDOWN_TIMEOUT_MS);
  g_message (_("Engine of %s stopped (%u events kept for Central, %u for Kafka)"),
             self->config->cp_id,
             evcp_outbox_get_length (self->outbox, EVCP_OUTBOX_CENTRAL),
             evcp_outbox_get_length (self->outbox, EVCP_OUTBOX_KAFKA));
  if (self->best_effort_dropped > 0)
    {
      g_autofree gchar *dropped = g_strdup_printf ("%" G_GUINT64_FORMAT, self->best_effort_dropped);

      g_message (_("%s best-effort events (telemetry, refusals) were dropped "
                    "while the producer's queue was full"),
                 dropped);
    }
}

/**
 * evcp_engine_get_events_dropped:
 *
 * Returns: how many best-effort events (telemetry, refusals) the producer
 *   could not take since the start; what must not be lost goes through the
 *   outbox and is never counted here
 */
guint64
evcp_engine_get_events_dropped (EvcpEngine *self)
{
  g_return_val_if_fail (EVCP_IS_ENGINE (self), 0);
  return self->best_effort_dropped;
}

gboolean
evcp_engine_start_session (EvcpEngine *self, const gchar *driver, const gchar *source, gdouble power_kw,
                           gint64 max_duration_s, GError **error)
{
  g_return_val_if_fail (EVCP_IS_ENGINE (self) && self->supply != NULL, FALSE);
  g_return_val_if_fail (driver != NULL && source != NULL, FALSE);
  return start_supply (self, NULL, driver, NULL, source, power_kw, max_duration_s, error);
}

const EvcpSession *
evcp_engine_get_recovered_session (EvcpEngine *self)
{
  g_return_val_if_fail (EVCP_IS_ENGINE (self), NULL);
  return self->recovered;
}

const gchar *
evcp_engine_get_state_dir (EvcpEngine *self)
{
  g_return_val_if_fail (EVCP_IS_ENGINE (self), NULL);
  return self->state_dir;
}

void
evcp_engine_simulate_fault (EvcpEngine *self, const gchar *reason)
{
  g_return_if_fail (EVCP_IS_ENGINE (self) && self->supply != NULL);
  evcp_supply_set_fault (self->supply, reason != NULL ? reason : "simulated fault");
}

void
evcp_engine_clear_fault (EvcpEngine *self)
{
  g_return_if_fail (EVCP_IS_ENGINE (self) && self->supply != NULL);
  evcp_supply_clear_fault (self->supply);
}

gboolean
evcp_engine_unplug (EvcpEngine *self)
{
  g_return_val_if_fail (EVCP_IS_ENGINE (self) && self->supply != NULL, FALSE);
  return evcp_supply_unplug (self->supply);
}

/* charging requests delivered again and not served twice */
guint64
evcp_engine_get_requests_repeated (EvcpEngine *self)
{
  g_return_val_if_fail (EVCP_IS_ENGINE (self), 0);
  return self->requests_repeated;
}

EvcpSupply *
evcp_engine_get_supply (EvcpEngine *self)
{
  g_return_val_if_fail (EVCP_IS_ENGINE (self), NULL);
  return self->supply;
}

EvcpOutbox *
evcp_engine_get_outbox (EvcpEngine *self)
{
  g_return_val_if_fail (EVCP_IS_ENGINE (self), NULL);
  return self->outbox;
}

EvcpCentralClient *
evcp_engine_get_central (EvcpEngine *self)
{
  g_return_val_if_fail (EVCP_IS_ENGINE (self), NULL);
  return self->central;
}

guint16
evcp_engine_get_health_port (EvcpEngine *self)
{
  g_return_val_if_fail (EVCP_IS_ENGINE (self), 0);
  return self->health != NULL ? evcp_health_server_get_port (self->health) : 0;
}

EvcpConfig *
evcp_engine_get_config (EvcpEngine *self)
{
  g_return_val_if_fail (EVCP_IS_ENGINE (self), NULL);
  return self->config;
}

EvcpKafkaService *
evcp_engine_get_kafka_service (EvcpEngine *self)
{
  g_return_val_if_fail (EVCP_IS_ENGINE (self), NULL);
  return self->kafka;
}

EvcpUserRegistry *
evcp_engine_get_user_registry (EvcpEngine *self)
{
  g_return_val_if_fail (EVCP_IS_ENGINE (self), NULL);
  return self->users;
}

static void
evcp_engine_dispose (GObject *object)
{
  EvcpEngine *self = EVCP_ENGINE (object);

  evcp_engine_stop (self);
  g_clear_object (&self->central);
  g_clear_object (&self->sender);
  g_clear_object (&self->health);
  g_clear_object (&self->supply);
  g_clear_object (&self->outbox);
  g_clear_pointer (&self->state, evcp_state_dir_free);   /* the lock, once the outbox is closed */
  g_clear_object (&self->kafka);
  g_clear_object (&self->users);
  G_OBJECT_CLASS (evcp_engine_parent_class)->dispose (object);
}

static void
evcp_engine_finalize (GObject *object)
{
  EvcpEngine *self = EVCP_ENGINE (object);

  if (!g_queue_is_empty (&self->unwritten))
    g_warning (_("%u events could not be written to the outbox before the end; a session "
                 "left in the session file gets its ticket at the next start"),
               g_queue_get_length (&self->unwritten));
  g_queue_clear_full (&self->unwritten, (GDestroyNotify) unwritten_free);
  g_clear_handle_id (&self->unwritten_timer, g_source_remove);
  g_clear_pointer (&self->config, evcp_config_free);
  g_clear_pointer (&self->key, g_bytes_unref);
  g_free (self->state_dir);
  g_free (self->session_path);
  g_clear_pointer (&self->recovered, evcp_session_free);
  g_clear_pointer (&self->requests, evcp_request_log_free);
  G_OBJECT_CLASS (evcp_engine_parent_class)->finalize (object);
}

static void
evcp_engine_class_init (EvcpEngineClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = evcp_engine_dispose;
  object_class->finalize = evcp_engine_finalize;

  /**
   * EvcpEngine::charging-request:
   * @request: a valid request for this CP, for the session logic
   */
  signals[SIGNAL_CHARGING_REQUEST] =
    g_signal_new ("charging-request", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, EVCP_TYPE_CHARGING_REQUEST);
}

static void
evcp_engine_init (EvcpEngine *self)
{
}
