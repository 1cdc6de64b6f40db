/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib-object.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef enum {
  EVCP_CP_STATE_ACTIVE,
  EVCP_CP_STATE_SUPPLYING,
  EVCP_CP_STATE_STOPPED,
  EVCP_CP_STATE_FAULT,
} EvcpCpState;

GType        evcp_cp_state_get_type  (void) G_GNUC_CONST;
#define EVCP_TYPE_CP_STATE (evcp_cp_state_get_type ())
/* ACTIVE, SUPPLYING, STOPPED, FAULT: the words of the Central protocol */
const gchar *evcp_cp_state_to_string (EvcpCpState state);

/* Why a session ended: the words of the TICKET frame. */
#define EVCP_END_UNPLUGGED "UNPLUGGED"
#define EVCP_END_COMPLETED "COMPLETED"
#define EVCP_END_STOPPED   "STOPPED"
#define EVCP_END_FAULT     "FAULT"
#define EVCP_END_DURATION  "DURATION"

/* Why a request was refused (REQUEST_REFUSED's data.reason). */
#define EVCP_REFUSED_BUSY    "busy"
#define EVCP_REFUSED_STOPPED "stopped"
#define EVCP_REFUSED_FAULT   "fault"

/**
 * EvcpSession:
 * A supply session, a snapshot: energy in kWh, money in EUR. @ended_reason
 * is NULL while it runs.
 */
typedef struct {
  gchar   *session_id;
  gchar   *driver;
  gchar   *source;          /* "kafka" or "central" */
  gdouble  power_kw;
  gint64   max_duration_s;
  gdouble  max_kwh;         /* 0: none; else COMPLETED when reached */
  gdouble  price_eur_kwh;
  gdouble  kwh;
  gdouble  eur;
  gint64   elapsed_ms;      /* monotonic */
  gint64   started_wall_us; /* for timestamps only */
  guint    ticks;           /* telemetry reports so far */
  gchar   *ended_reason;
  gchar   *request_id;      /* the charging request it serves, or NULL */
} EvcpSession;

GType        evcp_session_get_type (void) G_GNUC_CONST;
#define EVCP_TYPE_SESSION (evcp_session_get_type ())
EvcpSession *evcp_session_copy     (const EvcpSession *session);
void         evcp_session_free     (EvcpSession       *session);
JsonNode    *evcp_session_to_json  (const EvcpSession *session);
EvcpSession *evcp_session_from_json (JsonNode         *node,
                                     GError          **error);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EvcpSession, evcp_session_free)

#define EVCP_TYPE_SUPPLY (evcp_supply_get_type ())
G_DECLARE_FINAL_TYPE (EvcpSupply, evcp_supply, EVCP, SUPPLY, GObject)

/*
 * EvcpSupply: the charging point's supply state machine. ACTIVE accepts a
 * request and goes SUPPLYING; a session reports telemetry every
 * telemetry interval (1 s) on monotonic time and ends exactly once: on
 * unplug, on max_duration, on reaching max_kwh, on a stop from Central, or
 * on a fault. No I/O: the Engine wires its signals to Central, Kafka and
 * the disk.
 *
 * Signals:
 *   "state-changed" (EvcpCpState old, EvcpCpState new)
 *   "session-started" (EvcpSession *)
 *   "telemetry" (EvcpSession *)
 *   "session-ended" (EvcpSession *): the ticket, ended_reason set
 */
EvcpSupply  *evcp_supply_new              (gdouble        price_eur_kwh);
EvcpCpState  evcp_supply_get_state        (EvcpSupply    *self);
/* The running session, or NULL. (transfer none) */
const EvcpSession *evcp_supply_get_session (EvcpSupply   *self);

/* Refused with EVCP_ERROR_REFUSED, the message one of EVCP_REFUSED_*, when
 * not ACTIVE; EVCP_ERROR_INVALID_MESSAGE for bad figures. */
gboolean     evcp_supply_request          (EvcpSupply    *self,
                                           const gchar   *driver,
                                           const gchar   *session_id,
                                           const gchar   *source,
                                           gdouble        power_kw,
                                           gint64         max_duration_s,
                                           gdouble        max_kwh,
                                           GError       **error);
gboolean     evcp_supply_request_for      (EvcpSupply    *self,
                                           const gchar   *request_id,
                                           const gchar   *driver,
                                           const gchar   *session_id,
                                           const gchar   *source,
                                           gdouble        power_kw,
                                           gint64         max_duration_s,
                                           gdouble        max_kwh,
                                           GError       **error);
/* FALSE when there is no session. */
gboolean     evcp_supply_unplug           (EvcpSupply    *self);
/* Ends the session (FALSE if there is none) with @reason (EVCP_END_*),
 * and the CP stays in service: a remote stop (OCPP). */
gboolean evcp_supply_end_session (EvcpSupply *self, const gchar *reason);
/* Who keeps the CP out of service (EVCP_CP_STATE_STOPPED). Each holder sets
 * and clears its own hold; the CP is STOPPED while any is held, so one
 * holder's release never undoes another's stop (Central's RESUME does not
 * lift an OCPP Inoperative, an accepted BootNotification does not lift
 * Central's STOP). */
typedef enum {
  EVCP_SUPPLY_HOLD_CENTRAL = 1 << 0,     /* Central's STOP, until its RESUME */
  EVCP_SUPPLY_HOLD_OCPP_BOOT = 1 << 1,   /* until the CSMS accepts the BootNotification */
  EVCP_SUPPLY_HOLD_INOPERATIVE = 1 << 2, /* OCPP ChangeAvailability Inoperative */
  EVCP_SUPPLY_HOLD_SHUTDOWN = 1 << 3,    /* the Engine stops */
} EvcpSupplyHold;

/* Holds the CP out of service for @hold: ends any session (STOPPED) and goes
 * STOPPED. Holding again what is held changes nothing. */
void evcp_supply_hold (EvcpSupply *self, EvcpSupplyHold hold);
/* Releases @hold: back to ACTIVE when no other hold is left (a fault stays
 * a fault); the holds left are logged. */
void evcp_supply_release (EvcpSupply *self, EvcpSupplyHold hold);
EvcpSupplyHold evcp_supply_get_holds (EvcpSupply *self);
/* The holds' words, in a fixed order: "central", "ocpp-boot",
 * "ocpp-inoperative", "shutdown" (transfer full). Signal "holds-changed"
 * (guint holds) follows every change, after the state it makes. */
gchar **evcp_supply_holds_to_strv (EvcpSupplyHold holds) G_GNUC_WARN_UNUSED_RESULT;
/* A fault ends any session at once (FAULT) and refuses requests until cleared. */
void         evcp_supply_set_fault        (EvcpSupply    *self,
                                           const gchar   *reason);
void         evcp_supply_clear_fault      (EvcpSupply    *self);
const gchar *evcp_supply_get_fault_reason (EvcpSupply    *self);

/* For tests: the telemetry interval in ms (default 1000). */
void         evcp_supply_set_interval     (EvcpSupply    *self,
                                           guint          interval_ms);

G_END_DECLS
