/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "evcp-supply"

#include "evcp-build-config.h"

#include <math.h>

#include <glib/gi18n-lib.h>

#include "evcp-enum.h"
#include "evcp-error.h"
#include "evcp-frame-field.h"
#include "evcp-supply.h"

#define DEFAULT_INTERVAL_MS 1000
#define MAX_POWER_KW        1000.0
#define MAX_DURATION_S      (7 * 24 * 3600)

struct _EvcpSupply
{
  GObject      parent_instance;

  gdouble      price_eur_kwh;
  guint        interval_ms;
  EvcpCpState  state;
  EvcpSupplyHold holds; /* out of service while any (also under a fault) */
  gchar       *fault_reason;

  EvcpSession *session;
  gint64       started_mono;   /* µs, monotonic */
  guint        tick_id;
};

G_DEFINE_TYPE (EvcpSupply, evcp_supply, G_TYPE_OBJECT)
G_DEFINE_BOXED_TYPE (EvcpSession, evcp_session, evcp_session_copy, evcp_session_free)
/* clang-format off */
G_DEFINE_ENUM_TYPE (EvcpCpState, evcp_cp_state,
  G_DEFINE_ENUM_VALUE (EVCP_CP_STATE_ACTIVE, "ACTIVE"),
  G_DEFINE_ENUM_VALUE (EVCP_CP_STATE_SUPPLYING, "SUPPLYING"),
  G_DEFINE_ENUM_VALUE (EVCP_CP_STATE_STOPPED, "STOPPED"),
  G_DEFINE_ENUM_VALUE (EVCP_CP_STATE_FAULT, "FAULT"))
/* clang-format on */

enum {
  SIGNAL_STATE_CHANGED,
  SIGNAL_SESSION_STARTED,
  SIGNAL_TELEMETRY,
  SIGNAL_SESSION_ENDED,
  SIGNAL_HOLDS_CHANGED,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

const gchar *
evcp_cp_state_to_string (EvcpCpState state)
{
  return evcp_enum_to_nick (EVCP_TYPE_CP_STATE, (gint) state, "UNKNOWN");
}

/* ---- EvcpSession ---------------------------------------------------------- */

EvcpSession *
evcp_session_copy (const EvcpSession *session)
{
  EvcpSession *copy = g_new (EvcpSession, 1);

  *copy = *session;
  copy->session_id = g_strdup (session->session_id);
  copy->driver = g_strdup (session->driver);
  copy->source = g_strdup (session->source);
  copy->ended_reason = g_strdup (session->ended_reason);
  copy->request_id = g_strdup (session->request_id);
  return copy;
}

void
evcp_session_free (EvcpSession *session)
{
  if (session == NULL)
    return;
  g_free (session->session_id);
  g_free (session->driver);
  g_free (session->source);
  g_free (session->ended_reason);
  g_free (session->request_id);
  g_free (session);
}

JsonNode *
evcp_session_to_json (const EvcpSession *session)
{
  g_autoptr(JsonBuilder) b = json_builder_new_immutable ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "session_id");
  json_builder_add_string_value (b, session->session_id);
  json_builder_set_member_name (b, "driver");
  json_builder_add_string_value (b, session->driver);
  json_builder_set_member_name (b, "source");
  json_builder_add_string_value (b, session->source);
  json_builder_set_member_name (b, "power_kw");
  json_builder_add_double_value (b, session->power_kw);
  json_builder_set_member_name (b, "max_duration_s");
  json_builder_add_int_value (b, session->max_duration_s);
  json_builder_set_member_name (b, "max_kwh");
  json_builder_add_double_value (b, session->max_kwh);
  json_builder_set_member_name (b, "price_eur_kwh");
  json_builder_add_double_value (b, session->price_eur_kwh);
  json_builder_set_member_name (b, "kwh");
  json_builder_add_double_value (b, session->kwh);
  json_builder_set_member_name (b, "eur");
  json_builder_add_double_value (b, session->eur);
  json_builder_set_member_name (b, "elapsed_ms");
  json_builder_add_int_value (b, session->elapsed_ms);
  json_builder_set_member_name (b, "started_wall_us");
  json_builder_add_int_value (b, session->started_wall_us);
  json_builder_set_member_name (b, "ticks");
  json_builder_add_int_value (b, session->ticks);
  if (session->ended_reason != NULL)
    {
      json_builder_set_member_name (b, "ended_reason");
      json_builder_add_string_value (b, session->ended_reason);
    }
  if (session->request_id != NULL)
    {
      json_builder_set_member_name (b, "request_id");
      json_builder_add_string_value (b, session->request_id);
    }
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

EvcpSession *
evcp_session_from_json (JsonNode *node, GError **error)
{
  g_autoptr(EvcpSession) s = g_new0 (EvcpSession, 1);
  JsonObject *o;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error_literal (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE, _("A session must be a JSON object"));
      return NULL;
    }
  o = json_node_get_object (node);
  s->session_id = g_strdup (json_object_get_string_member_with_default (o, "session_id", NULL));
  s->driver = g_strdup (json_object_get_string_member_with_default (o, "driver", NULL));
  s->source = g_strdup (json_object_get_string_member_with_default (o, "source", "kafka"));
  s->power_kw = json_object_get_double_member_with_default (o, "power_kw", 0);
  s->max_duration_s = json_object_get_int_member_with_default (o, "max_duration_s", 0);
  s->max_kwh = json_object_get_double_member_with_default (o, "max_kwh", 0);
  s->price_eur_kwh = json_object_get_double_member_with_default (o, "price_eur_kwh", 0);
  s->kwh = json_object_get_double_member_with_default (o, "kwh", 0);
  s->eur = json_object_get_double_member_with_default (o, "eur", 0);
  s->elapsed_ms = json_object_get_int_member_with_default (o, "elapsed_ms", 0);
  s->started_wall_us = json_object_get_int_member_with_default (o, "started_wall_us", 0);
  s->ticks = (guint) json_object_get_int_member_with_default (o, "ticks", 0);
  s->ended_reason = g_strdup (json_object_get_string_member_with_default (o, "ended_reason", NULL));
  s->request_id = g_strdup (json_object_get_string_member_with_default (o, "request_id", NULL));
  if (s->session_id == NULL || s->driver == NULL)
    {
      g_set_error_literal (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE,
                           _("A session needs a session_id and a driver"));
      return NULL;
    }
  return g_steal_pointer (&s);
}

/* ---- the state machine -------------------------------------------------- */

static void
set_state (EvcpSupply *self, EvcpCpState state)
{
  EvcpCpState old = self->state;

  if (old == state)
    return;
  self->state = state;
  g_message (_("State %s → %s"), evcp_cp_state_to_string (old), evcp_cp_state_to_string (state));
  g_signal_emit (self, signals[SIGNAL_STATE_CHANGED], 0, old, state);
}

static EvcpCpState
idle_state (EvcpSupply *self)
{
  if (self->fault_reason != NULL)
    return EVCP_CP_STATE_FAULT;
  if (self->holds != 0)
    return EVCP_CP_STATE_STOPPED;
  return EVCP_CP_STATE_ACTIVE;
}

/* Energy and money from monotonic time: never from the wall clock. */
static void
measure (EvcpSupply *self)
{
  EvcpSession *s = self->session;

  s->elapsed_ms = (g_get_monotonic_time () - self->started_mono) / 1000;
  if (s->max_duration_s > 0)
    s->elapsed_ms = MIN (s->elapsed_ms, s->max_duration_s * 1000);
  s->kwh = s->power_kw * ((gdouble) s->elapsed_ms / 3600000.0);
  if (s->max_kwh > 0)
    s->kwh = MIN (s->kwh, s->max_kwh);
  s->eur = s->kwh * s->price_eur_kwh;
}

static void
end_session (EvcpSupply *self, const gchar *reason)
{
  g_autoptr(EvcpSession) ended = NULL;

  if (self->session == NULL)
    return;
  g_clear_handle_id (&self->tick_id, g_source_remove);
  measure (self);
  ended = g_steal_pointer (&self->session);
  ended->ended_reason = g_strdup (reason);
  g_message (_("Session %s of %s ended (%s): %.3f kWh, %.2f EUR"),
             ended->session_id, ended->driver, reason, ended->kwh, ended->eur);
  /* exactly one ticket per session: the session is gone before anyone hears */
  g_signal_emit (self, signals[SIGNAL_SESSION_ENDED], 0, ended);
}

static void schedule_tick (EvcpSupply *self);

static gboolean
tick_cb (gpointer user_data)
{
  EvcpSupply *self = user_data;
  EvcpSession *s = self->session;

  self->tick_id = 0;
  measure (self);
  s->ticks++;
  g_signal_emit (self, signals[SIGNAL_TELEMETRY], 0, s);
  if (self->session != s)
    return G_SOURCE_REMOVE;   /* a handler ended it */

  if (s->max_duration_s > 0 && s->elapsed_ms >= s->max_duration_s * 1000)
    end_session (self, EVCP_END_DURATION);
  else if (s->max_kwh > 0 && s->kwh >= s->max_kwh)
    end_session (self, EVCP_END_COMPLETED);
  else
    {
      schedule_tick (self);
      return G_SOURCE_REMOVE;
    }
  set_state (self, idle_state (self));
  return G_SOURCE_REMOVE;
}

/* The next report at start + n × interval, so the cadence does not drift;
 * ends at max_duration exactly. */
static void
schedule_tick (EvcpSupply *self)
{
  EvcpSession *s = self->session;
  gint64 next = self->started_mono + (gint64) (s->ticks + 1) * self->interval_ms * 1000;
  gint64 delay_us;

  if (s->max_duration_s > 0)
    next = MIN (next, self->started_mono + s->max_duration_s * G_USEC_PER_SEC);
  delay_us = MAX (next - g_get_monotonic_time (), 0);
  self->tick_id = g_timeout_add ((guint) ((delay_us + 999) / 1000), tick_cb, self);
}

gboolean
evcp_supply_request (EvcpSupply   *self,
                     const gchar  *driver,
                     const gchar  *session_id,
                     const gchar  *source,
                     gdouble       power_kw,
                     gint64        max_duration_s,
                     gdouble       max_kwh,
                     GError      **error)
{
  return evcp_supply_request_for (self, NULL, driver, session_id, source, power_kw,
                                  max_duration_s, max_kwh, error);
}

/**
 * evcp_supply_request_for:
 * @request_id: (nullable): the charging request this session serves, kept in
 *   the session (and so in the session file) until its ticket is written
 *
 * As evcp_supply_request().
 */
gboolean
evcp_supply_request_for (EvcpSupply   *self,
                         const gchar  *request_id,
                         const gchar  *driver,
                         const gchar  *session_id,
                         const gchar  *source,
                         gdouble       power_kw,
                         gint64        max_duration_s,
                         gdouble       max_kwh,
                         GError      **error)
{
  EvcpSession *s;

  g_return_val_if_fail (EVCP_IS_SUPPLY (self), FALSE);
  g_return_val_if_fail (driver != NULL, FALSE);

  switch (self->state)
    {
    case EVCP_CP_STATE_ACTIVE:
      break;
    case EVCP_CP_STATE_SUPPLYING:
      g_set_error_literal (error, EVCP_ERROR, EVCP_ERROR_REFUSED, EVCP_REFUSED_BUSY);
      return FALSE;
    case EVCP_CP_STATE_STOPPED:
      g_set_error_literal (error, EVCP_ERROR, EVCP_ERROR_REFUSED, EVCP_REFUSED_STOPPED);
      return FALSE;
    case EVCP_CP_STATE_FAULT:
    default:
      g_set_error_literal (error, EVCP_ERROR, EVCP_ERROR_REFUSED, EVCP_REFUSED_FAULT);
      return FALSE;
    }
  /* the driver and the session id go into every frame of the session */
  if (!evcp_frame_field_check (driver, 1, EVCP_FIELD_ID_MAX, _("The driver"),
                               EVCP_ERROR_INVALID_MESSAGE, error) ||
      (session_id != NULL && !evcp_frame_field_check (session_id, 0, EVCP_FIELD_ID_MAX, _("The session id"),
                                                      EVCP_ERROR_INVALID_MESSAGE, error)))
    return FALSE;
  if (!(power_kw > 0 && power_kw <= MAX_POWER_KW) ||
      max_duration_s <= 0 || max_duration_s > MAX_DURATION_S ||
      !(max_kwh >= 0 && isfinite (max_kwh)) || *driver == '\0')
    {
      g_set_error_literal (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE,
                           _("Invalid supply request (driver, power, duration or energy)"));
      return FALSE;
    }

  s = g_new0 (EvcpSession, 1);
  s->session_id = session_id != NULL && *session_id != '\0' ? g_strdup (session_id)
                                                          : g_uuid_string_random ();
  s->driver = g_strdup (driver);
  s->request_id = g_strdup (request_id);
  s->source = g_strdup (source != NULL ? source : "kafka");
  s->power_kw = power_kw;
  s->max_duration_s = max_duration_s;
  s->max_kwh = max_kwh;
  s->price_eur_kwh = self->price_eur_kwh;
  s->started_wall_us = g_get_real_time ();
  self->session = s;
  self->started_mono = g_get_monotonic_time ();

  {
    g_autofree gchar *duration = g_strdup_printf ("%" G_GINT64_FORMAT, max_duration_s);

    g_message (_("Session %s for %s: %.1f kW, at most %s s"), s->session_id, driver, power_kw,
               duration);
  }
  set_state (self, EVCP_CP_STATE_SUPPLYING);
  g_signal_emit (self, signals[SIGNAL_SESSION_STARTED], 0, s);
  if (self->session == s)
    schedule_tick (self);
  return TRUE;
}

gboolean
evcp_supply_unplug (EvcpSupply *self)
{
  g_return_val_if_fail (EVCP_IS_SUPPLY (self), FALSE);

  if (self->session == NULL)
    return FALSE;
  end_session (self, EVCP_END_UNPLUGGED);
  set_state (self, idle_state (self));
  return TRUE;
}

gboolean
evcp_supply_end_session (EvcpSupply *self, const gchar *reason)
{
  g_return_val_if_fail (EVCP_IS_SUPPLY (self), FALSE);
  g_return_val_if_fail (reason != NULL, FALSE);

  if (self->session == NULL)
    return FALSE;
  end_session (self, reason);
  set_state (self, idle_state (self));
  return TRUE;
}

/* Each hold: its word (D-Bus StoppedBy, evcpctl) and its name in the log. */
static const struct {
  EvcpSupplyHold hold;
  const gchar *word;
  const gchar *name;
} hold_names[] = {
  { EVCP_SUPPLY_HOLD_CENTRAL, "central", "Central STOP" },
  { EVCP_SUPPLY_HOLD_OCPP_BOOT, "ocpp-boot", "OCPP BootNotification not accepted" },
  { EVCP_SUPPLY_HOLD_INOPERATIVE, "ocpp-inoperative", "OCPP Inoperative" },
  { EVCP_SUPPLY_HOLD_SHUTDOWN, "shutdown", "shutdown" },
};

/* For the log: "Central STOP, OCPP Inoperative". */
static gchar *
holds_to_string (EvcpSupplyHold holds)
{
  g_autoptr(GString) text = g_string_new (NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (hold_names); i++)
    if (holds & hold_names[i].hold)
      g_string_append_printf (text, "%s%s", text->len > 0 ? ", " : "", hold_names[i].name);
  return g_string_free (g_steal_pointer (&text), FALSE);
}

gchar **
evcp_supply_holds_to_strv (EvcpSupplyHold holds)
{
  g_autoptr(GStrvBuilder) words = g_strv_builder_new ();

  for (gsize i = 0; i < G_N_ELEMENTS (hold_names); i++)
    if (holds & hold_names[i].hold)
      g_strv_builder_add (words, hold_names[i].word);
  return g_strv_builder_end (words);
}

void
evcp_supply_hold (EvcpSupply *self, EvcpSupplyHold hold)
{
  g_return_if_fail (EVCP_IS_SUPPLY (self));
  g_return_if_fail (hold != 0);

  EvcpSupplyHold before = self->holds;

  self->holds |= hold;
  end_session (self, EVCP_END_STOPPED);
  set_state (self, idle_state (self));
  if (self->holds != before)
    g_signal_emit (self, signals[SIGNAL_HOLDS_CHANGED], 0, (guint) self->holds);
}

void
evcp_supply_release (EvcpSupply *self, EvcpSupplyHold hold)
{
  g_return_if_fail (EVCP_IS_SUPPLY (self));

  if ((self->holds & hold) == 0)
    return;
  self->holds &= ~hold;
  if (self->holds != 0)
    {
      g_autofree gchar *released = holds_to_string (hold);
      g_autofree gchar *left = holds_to_string (self->holds);

      /* TRANSLATORS: what ended, then what keeps the CP stopped */
      g_message (_("%s ended; the charging point stays stopped: %s"), released, left);
    }
  if (self->session == NULL)
    set_state (self, idle_state (self));
  g_signal_emit (self, signals[SIGNAL_HOLDS_CHANGED], 0, (guint) self->holds);
}

EvcpSupplyHold
evcp_supply_get_holds (EvcpSupply *self)
{
  g_return_val_if_fail (EVCP_IS_SUPPLY (self), 0);

  return self->holds;
}

void
evcp_supply_set_fault (EvcpSupply *self, const gchar *reason)
{
  g_return_if_fail (EVCP_IS_SUPPLY (self));

  g_free (self->fault_reason);
  self->fault_reason = g_strdup (reason != NULL && *reason != '\0' ? reason : "fault");
  g_warning (_("Fault: %s"), self->fault_reason);
  end_session (self, EVCP_END_FAULT);
  set_state (self, EVCP_CP_STATE_FAULT);
}

void
evcp_supply_clear_fault (EvcpSupply *self)
{
  g_return_if_fail (EVCP_IS_SUPPLY (self));

  if (self->fault_reason == NULL)
    return;
  g_clear_pointer (&self->fault_reason, g_free);
  g_message (_("Fault cleared"));
  set_state (self, idle_state (self));
}

const gchar *
evcp_supply_get_fault_reason (EvcpSupply *self)
{
  g_return_val_if_fail (EVCP_IS_SUPPLY (self), NULL);
  return self->fault_reason;
}

EvcpCpState
evcp_supply_get_state (EvcpSupply *self)
{
  g_return_val_if_fail (EVCP_IS_SUPPLY (self), EVCP_CP_STATE_FAULT);
  return self->state;
}

const EvcpSession *
evcp_supply_get_session (EvcpSupply *self)
{
  g_return_val_if_fail (EVCP_IS_SUPPLY (self), NULL);
  if (self->session != NULL)
    measure (self);
  return self->session;
}

void
evcp_supply_set_interval (EvcpSupply *self, guint interval_ms)
{
  g_return_if_fail (EVCP_IS_SUPPLY (self));
  self->interval_ms = MAX (interval_ms, 10);
}

EvcpSupply *
evcp_supply_new (gdouble price_eur_kwh)
{
  EvcpSupply *self = g_object_new (EVCP_TYPE_SUPPLY, NULL);

  self->price_eur_kwh = price_eur_kwh;
  return self;
}

static void
evcp_supply_finalize (GObject *object)
{
  EvcpSupply *self = EVCP_SUPPLY (object);

  g_clear_handle_id (&self->tick_id, g_source_remove);
  g_clear_pointer (&self->session, evcp_session_free);
  g_free (self->fault_reason);
  G_OBJECT_CLASS (evcp_supply_parent_class)->finalize (object);
}

static void
evcp_supply_class_init (EvcpSupplyClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = evcp_supply_finalize;

  signals[SIGNAL_STATE_CHANGED] =
    g_signal_new ("state-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 2, EVCP_TYPE_CP_STATE, EVCP_TYPE_CP_STATE);
  signals[SIGNAL_SESSION_STARTED] =
    g_signal_new ("session-started", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1,
                  EVCP_TYPE_SESSION | G_SIGNAL_TYPE_STATIC_SCOPE);
  signals[SIGNAL_TELEMETRY] =
    g_signal_new ("telemetry", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1,
                  EVCP_TYPE_SESSION | G_SIGNAL_TYPE_STATIC_SCOPE);
  signals[SIGNAL_SESSION_ENDED] =
    g_signal_new ("session-ended", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1,
                  EVCP_TYPE_SESSION | G_SIGNAL_TYPE_STATIC_SCOPE);
  /* the holds now (EvcpSupplyHold), after the state they make */
  signals[SIGNAL_HOLDS_CHANGED] = g_signal_new ("holds-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                                                NULL, NULL, G_TYPE_NONE, 1, G_TYPE_UINT);
}

static void
evcp_supply_init (EvcpSupply *self)
{
  self->interval_ms = DEFAULT_INTERVAL_MS;
  self->state = EVCP_CP_STATE_ACTIVE;
}
