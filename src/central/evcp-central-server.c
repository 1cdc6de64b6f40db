/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "evcp-central"

#include "evcp-build-config.h"

#include <math.h>
#include <string.h>

#include <glib/gi18n-lib.h>

#include "evcp-central-auth.h"
#include "evcp-central-kafka.h"
#include "evcp-central-link.h"
#include "evcp-central-server.h"
#include "evcp-error.h"
#include "evcp-frame-codec.h"

#define PRUNE_INTERVAL_MS 100

/* Defaults of the limits against hostile or stuck peers (docs/central.md,
 * "Limits"); evcp_central_server_set_limits() changes them. */
#define DEFAULT_MAX_CONNECTIONS     512
#define DEFAULT_MAX_UNAUTHENTICATED 64
#define DEFAULT_AUTH_TIMEOUT_MS     10000
#define DEFAULT_IDLE_TIMEOUT_MS     30000

typedef enum {
  ROLE_ENGINE,
  ROLE_MONITOR,
  N_ROLES
} Role;

static const gchar *const role_names[N_ROLES] = { "ENGINE", "MONITOR" };

#define SOURCE_LINK  "link"
#define SOURCE_KAFKA "kafka"

typedef struct _Cp Cp;

/* One accepted connection. Freed only from prune(), never while one of its
 * link's signals is being emitted. */
typedef struct {
  EvcpCentralServer *server;
  EvcpCentralLink   *link;
  Cp                *cp;      /* NULL until AUTH_OK */
  Role               role;
  gboolean           dead;
  gint64             accepted_at;  /* monotonic */
  gint64             useful_at;    /* monotonic: the last frame of use */

  /* an AUTH waiting for its PROOF: nothing of it is applied before */
  struct {
    gchar           *cp_id;   /* NULL: no CHALLENGE outstanding */
    Role             role;
    gchar           *location;
    gdouble          price;
    gchar           *nonce;
  } pending;
} Peer;

/* One charging point of the registry; lives as long as the server. */
struct _Cp {
  gchar    *id;
  gchar    *location;
  gdouble   price_eur_kwh;

  gchar    *engine_state;     /* from STATE, NULL if never heard */
  gint64    state_seq;        /* seq of that state, -1 if unknown */
  gboolean  fault;            /* the Monitor says FAULT */
  gchar    *fault_reason;
  gint64    monitor_seq;      /* seq of the last status from the Monitor */
  gchar    *stored_state;     /* what the database holds */

  Peer     *peers[N_ROLES];
  gint64    link_seq[N_ROLES];  /* highest seq seen on the link, for gaps */

  gchar    *session_id;
  gchar    *driver;
  gdouble   kwh;
  gdouble   eur;
  gchar    *ended_session;    /* telemetry for it comes too late */

  gint64    last_seen;        /* g_get_real_time(), 0 if never */
  guint     tickets;
};

struct _EvcpCentralServer
{
  GObject            parent_instance;

  EvcpCentralDb     *db;
  GSocketService    *service;
  gchar             *address;
  guint16            port;
  guint              ack_timeout_ms;
  guint              max_resends;

  GPtrArray         *peers;   /* Peer*, owned */
  GHashTable        *cps;     /* id → Cp*, owned */
  GHashTable        *secrets; /* id → secret: those CPs must prove it in AUTH */
  gboolean           require_secret;
  EvcpCentralKafka  *kafka;
  guint              prune_id;
  guint              sweep_id;
  gboolean           shut_down;

  struct {
    guint max_connections;
    guint max_unauthenticated;
    guint auth_timeout_ms;
    guint idle_timeout_ms;
  } limits;

  struct {
    guint64 frames;
    guint64 bad;
    guint64 duplicates;
    guint64 duplicate_tickets;
    guint64 gaps;
    guint64 kafka_messages;
    guint64 auth_refused;
    guint64 dropped;          /* connections closed or refused by a limit */
  } stats;
};

G_DEFINE_TYPE (EvcpCentralServer, evcp_central_server, G_TYPE_OBJECT)

enum {
  SIGNAL_CHANGED,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

static void schedule_prune (EvcpCentralServer *self);

/* ---- helpers --------------------------------------------------------------- */

static void
changed (EvcpCentralServer *self)
{
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0);
}

static gboolean
parse_seq (const gchar *text, gint64 *seq)
{
  return text != NULL && g_ascii_string_to_signed (text, 10, 0, G_MAXINT64, seq, NULL);
}

/* A non-negative finite number with a dot as decimal separator. */
static gboolean
parse_amount (const gchar *text, gdouble *value)
{
  gchar *end = NULL;
  gdouble v;

  if (text == NULL || *text == '\0' || g_ascii_isspace (*text))
    return FALSE;
  v = g_ascii_strtod (text, &end);
  if (end == NULL || *end != '\0' || !isfinite (v) || v < 0)
    return FALSE;
  *value = v;
  return TRUE;
}

static gchar *
format_amount (gdouble value, const gchar *format)
{
  gchar buf[G_ASCII_DTOSTR_BUF_SIZE];

  return g_strdup (g_ascii_formatd (buf, sizeof buf, format, value));
}

static gchar *
format_seq (gint64 seq)
{
  return seq >= 0 ? g_strdup_printf ("%" G_GINT64_FORMAT, seq) : g_strdup ("-");
}

static gboolean
is_engine_state (const gchar *state)
{
  return g_strcmp0 (state, "ACTIVE") == 0 || g_strcmp0 (state, "SUPPLYING") == 0 ||
         g_strcmp0 (state, "STOPPED") == 0 || g_strcmp0 (state, "FAULT") == 0;
}

static const gchar *
peer_name (Peer *peer)
{
  return evcp_central_link_get_peer (peer->link);
}

/* ---- the registry ---------------------------------------------------------- */

static void
cp_free (Cp *cp)
{
  g_free (cp->id);
  g_free (cp->location);
  g_free (cp->engine_state);
  g_free (cp->fault_reason);
  g_free (cp->stored_state);
  g_free (cp->session_id);
  g_free (cp->driver);
  g_free (cp->ended_session);
  g_free (cp);
}

static Cp *
ensure_cp (EvcpCentralServer *self, const gchar *id)
{
  Cp *cp = g_hash_table_lookup (self->cps, id);

  if (cp != NULL)
    return cp;
  cp = g_new0 (Cp, 1);
  cp->id = g_strdup (id);
  cp->location = g_strdup ("");
  cp->state_seq = -1;
  cp->monitor_seq = -1;
  for (guint r = 0; r < N_ROLES; r++)
    cp->link_seq[r] = evcp_central_db_max_seq (self->db, id, role_names[r]);
  cp->tickets = evcp_central_db_count_tickets (self->db, id);
  g_hash_table_insert (self->cps, cp->id, cp);
  return cp;
}

static const gchar *
displayed_state (Cp *cp)
{
  if (cp->fault)
    return "FAULT";
  return cp->engine_state != NULL ? cp->engine_state : "UNKNOWN";
}

/* Keeps the database's last state in step with what is shown. */
static void
refresh_state (EvcpCentralServer *self, Cp *cp)
{
  const gchar *state = displayed_state (cp);
  g_autoptr(GError) error = NULL;

  if (g_strcmp0 (state, cp->stored_state) == 0)
    return;
  g_free (cp->stored_state);
  cp->stored_state = g_strdup (state);
  if (!evcp_central_db_set_state (self->db, cp->id, state, &error))
    g_warning ("%s", error->message);
}

static void
touch (Cp *cp)
{
  cp->last_seen = g_get_real_time ();
}

static void
clear_session (Cp *cp)
{
  g_clear_pointer (&cp->session_id, g_free);
  g_clear_pointer (&cp->driver, g_free);
  cp->kwh = cp->eur = 0;
}

static void
set_session (Cp *cp, const gchar *session_id, const gchar *driver, gdouble kwh, gdouble eur)
{
  if (session_id == NULL || g_strcmp0 (session_id, cp->ended_session) == 0)
    return;   /* late telemetry of a session already ended */
  if (g_strcmp0 (session_id, cp->session_id) != 0)
    {
      g_free (cp->session_id);
      cp->session_id = g_strdup (session_id);
    }
  if (driver != NULL && g_strcmp0 (driver, cp->driver) != 0)
    {
      g_free (cp->driver);
      cp->driver = g_strdup (driver);
    }
  cp->kwh = kwh;
  cp->eur = eur;
}

/* ---- reliable events: deduplication, database, memory ---------------------- */

/*
 * Opens a transaction and claims (cp, role, seq). Returns FALSE, with
 * nothing left open, if that seq was applied already. A database failure
 * is logged and the event applied anyway (in memory).
 */
static gboolean
begin_claim (EvcpCentralServer *self, Cp *cp, Role role, gint64 seq,
             const gchar *verb, const gchar *source)
{
  g_autoptr(GError) error = NULL;
  gboolean fresh = TRUE;

  if (!evcp_central_db_begin (self->db, &error))
    {
      g_warning ("%s", error->message);
      return TRUE;
    }
  if (seq >= 0 && !evcp_central_db_claim_seq (self->db, cp->id, role_names[role], seq, verb,
                                              source, &fresh, &error))
    {
      g_warning ("%s", error->message);
      return TRUE;
    }
  if (!fresh)
    {
      g_autofree gchar *seq_text = format_seq (seq);

      evcp_central_db_rollback (self->db);
      self->stats.duplicates++;
      /* TRANSLATORS: CP id, verb, the sender's role, seq, where it came from */
      g_message (_("%s: duplicate %s from the %s (seq %s, by %s): acknowledged, not applied again"),
                 cp->id, verb, role_names[role], seq_text, source);
      return FALSE;
    }
  return TRUE;
}

static void
end_claim (EvcpCentralServer *self)
{
  g_autoptr(GError) error = NULL;

  if (!evcp_central_db_commit (self->db, &error))
    {
      g_warning ("%s", error->message);
      evcp_central_db_rollback (self->db);
    }
}

static void
add_event (EvcpCentralServer *self, Cp *cp, Role role, const gchar *kind,
           const gchar *detail, gint64 seq, const gchar *source)
{
  g_autoptr(GError) error = NULL;

  if (!evcp_central_db_add_event (self->db, cp->id, role_names[role], kind, detail, seq, source, &error))
    g_warning ("%s", error->message);
}

/* A gap in the seqs that came over the link from one program of one CP. */
static void
check_link_seq (EvcpCentralServer *self, Cp *cp, Role role, gint64 seq)
{
  gint64 last = cp->link_seq[role];

  if (seq < 0)
    return;
  if (last >= 0 && seq > last + 1)
    {
      g_autofree gchar *first = format_seq (last + 1);
      g_autofree gchar *end = format_seq (seq - 1);

      self->stats.gaps++;
      /* TRANSLATORS: CP id, role, first and last missing sequence numbers */
      g_warning (_("%s: gap in the seqs of the %s: %s to %s never arrived"),
                 cp->id, role_names[role], first, end);
    }
  if (seq > last)
    cp->link_seq[role] = seq;
}

/* Applies a state of the Engine unless a newer one is known. */
static gboolean
set_engine_state (EvcpCentralServer *self, Cp *cp, const gchar *state, gint64 seq)
{
  if (seq >= 0 && cp->state_seq >= 0 && seq < cp->state_seq)
    {
      g_debug ("%s: state %s is older than the one known, kept for the record only", cp->id, state);
      return FALSE;
    }
  if (seq >= 0)
    cp->state_seq = seq;
  if (g_strcmp0 (cp->engine_state, state) != 0)
    {
      g_free (cp->engine_state);
      cp->engine_state = g_strdup (state);
    }
  refresh_state (self, cp);
  return TRUE;
}

static void
apply_state (EvcpCentralServer *self, Cp *cp, const gchar *state, gint64 seq, const gchar *source)
{
  g_autofree gchar *seq_text = format_seq (seq);

  if (!begin_claim (self, cp, ROLE_ENGINE, seq, "STATE", source))
    return;
  add_event (self, cp, ROLE_ENGINE, "STATE", state, seq, source);
  end_claim (self);
  if (set_engine_state (self, cp, state, seq))
    /* TRANSLATORS: CP id, state, sequence number */
    g_message (_("%s: state %s (seq %s)"), cp->id, state, seq_text);
  changed (self);
}

/* Returns: whether the seq was new (the ticket itself may still be a
 * duplicate by its session id). */
static gboolean
apply_ticket (EvcpCentralServer *self, Cp *cp, const EvcpCentralTicket *ticket)
{
  g_autoptr(GError) error = NULL;
  gboolean fresh = TRUE;

  if (!begin_claim (self, cp, ROLE_ENGINE, ticket->seq, "TICKET", ticket->source))
    return FALSE;
  if (!evcp_central_db_add_ticket (self->db, ticket, &fresh, &error))
    g_warning ("%s", error->message);
  end_claim (self);

  if (!fresh)
    {
      self->stats.duplicate_tickets++;
      /* TRANSLATORS: CP id, session id, where it came from */
      g_message (_("%s: the ticket of session %s is already recorded (%s): kept once"),
                 cp->id, ticket->session_id, ticket->source);
    }
  else
    {
      g_autofree gchar *kwh = format_amount (ticket->kwh, "%.3f");
      g_autofree gchar *eur = format_amount (ticket->eur, "%.2f");

      cp->tickets++;
      /* TRANSLATORS: CP id, session, driver, kWh, EUR, reason, where it came from */
      g_message (_("%s: ticket of session %s for %s: %s kWh, %s EUR, %s (%s)"),
                 cp->id, ticket->session_id, ticket->driver, kwh, eur, ticket->reason, ticket->source);
    }
  if (cp->session_id == NULL || g_str_equal (cp->session_id, ticket->session_id))
    clear_session (cp);
  g_free (cp->ended_session);
  cp->ended_session = g_strdup (ticket->session_id);
  changed (self);
  return TRUE;
}

static void
apply_fault (EvcpCentralServer *self, Cp *cp, const gchar *reason, gint64 seq, const gchar *source)
{
  if (!begin_claim (self, cp, ROLE_MONITOR, seq, "FAULT", source))
    return;
  add_event (self, cp, ROLE_MONITOR, "FAULT", reason, seq, source);
  end_claim (self);
  /* TRANSLATORS: CP id, the Monitor's reason */
  g_message (_("%s: FAULT reported by the Monitor: %s"), cp->id, reason);
  if (seq < 0 || cp->monitor_seq < 0 || seq > cp->monitor_seq)
    {
      if (seq >= 0)
        cp->monitor_seq = seq;
      cp->fault = TRUE;
      g_free (cp->fault_reason);
      cp->fault_reason = g_strdup (reason);
      refresh_state (self, cp);
    }
  changed (self);
}

static void
apply_recovered (EvcpCentralServer *self, Cp *cp, gint64 seq, const gchar *source)
{
  if (!begin_claim (self, cp, ROLE_MONITOR, seq, "RECOVERED", source))
    return;
  add_event (self, cp, ROLE_MONITOR, "RECOVERED", NULL, seq, source);
  end_claim (self);
  g_message (_("%s: RECOVERED, reported by the Monitor"), cp->id);
  if (seq < 0 || cp->monitor_seq < 0 || seq > cp->monitor_seq)
    {
      if (seq >= 0)
        cp->monitor_seq = seq;
      cp->fault = FALSE;
      g_clear_pointer (&cp->fault_reason, g_free);
      refresh_state (self, cp);
    }
  changed (self);
}

/* ---- frames from the CPs ----------------------------------------------------- */

static void
peer_send (Peer *peer, const gchar * const *fields)
{
  g_autoptr(GError) error = NULL;

  if (!evcp_central_link_send (peer->link, fields, &error))
    g_warning ("%s: cannot send %s: %s", peer_name (peer), fields[0], error->message);
}

static void
auth_ko (Peer *peer, const gchar *cp_id, const gchar *reason)
{
  const gchar *fields[] = { "AUTH_KO", cp_id, reason, NULL };

  /* TRANSLATORS: the peer's address, CP id, reason */
  g_message (_("%s: AUTH of “%s” refused: %s"), peer_name (peer), cp_id, reason);
  peer_send (peer, fields);
}

static void
clear_pending (Peer *peer)
{
  g_clear_pointer (&peer->pending.cp_id, g_free);
  g_clear_pointer (&peer->pending.location, g_free);
  g_clear_pointer (&peer->pending.nonce, g_free);
}

/* The peer is this CP's Engine or Monitor from now on. */
static void
accept_auth (EvcpCentralServer *self, Peer *peer, const gchar *cp_id, Role role,
             const gchar *location, gdouble price)
{
  const gchar *ok[] = { "AUTH_OK", cp_id, NULL };
  g_autoptr(GError) error = NULL;
  g_autofree gchar *price_text = NULL;
  Cp *cp = ensure_cp (self, cp_id);

  if (cp->peers[role] != NULL && cp->peers[role] != peer)
    {
      Peer *old = cp->peers[role];

      /* TRANSLATORS: CP id, role, the old connection's address */
      g_message (_("%s: a new %s connection replaces the one from %s"),
                 cp_id, role_names[role], peer_name (old));
      cp->peers[role] = NULL;
      old->cp = NULL;
      evcp_central_link_close (old->link, TRUE, _("replaced by a new connection"));
    }
  peer->cp = cp;
  peer->role = role;
  cp->peers[role] = peer;
  if (g_strcmp0 (cp->location, location) != 0)
    {
      g_free (cp->location);
      cp->location = g_strdup (location);
    }
  cp->price_eur_kwh = price;
  touch (cp);
  if (!evcp_central_db_save_cp (self->db, cp_id, location, price, &error))
    g_warning ("%s", error->message);
  refresh_state (self, cp);

  peer_send (peer, ok);
  price_text = format_amount (price, "%.2f");
  /* TRANSLATORS: CP id, ENGINE or MONITOR, address, location, price */
  g_message (_("%s: %s connected from %s (%s, %s EUR/kWh)"),
             cp_id, role_names[role], peer_name (peer), location, price_text);
  changed (self);
}

/* A CP with a secret: a CHALLENGE first, AUTH_OK only on the right PROOF
 * (docs/protocol.md, A1..A8). */
static void
challenge (EvcpCentralServer *self, Peer *peer, gchar **fields, guint n, Role role, gdouble price)
{
  const gchar *cp_id = fields[1];
  const gchar *frame[] = { "CHALLENGE", cp_id, NULL, NULL };
  g_autoptr(GError) error = NULL;
  g_autofree gchar *nonce = NULL;

  if (n < 6 || !g_str_equal (fields[5], EVCP_CENTRAL_AUTH_MECHANISM))
    {
      self->stats.auth_refused++;
      auth_ko (peer, cp_id, "secret required");
      return;
    }
  nonce = evcp_central_auth_new_nonce (&error);
  if (nonce == NULL)
    {
      g_warning ("%s", error->message);
      auth_ko (peer, cp_id, "no challenge possible");
      return;
    }
  peer->pending.cp_id = g_strdup (cp_id);
  peer->pending.role = role;
  peer->pending.location = g_strdup (fields[3]);
  peer->pending.price = price;
  peer->pending.nonce = g_strdup (nonce);
  frame[2] = nonce;
  g_debug ("%s: CHALLENGE for %s", peer_name (peer), cp_id);
  peer_send (peer, frame);
}

static void
handle_auth (EvcpCentralServer *self, Peer *peer, gchar **fields, guint n)
{
  const gchar *cp_id = n > 1 ? fields[1] : "";
  gdouble price;
  Role role;

  /* A connection that authenticates again, maybe as another CP, is no
   * longer the one it was until it has proved the new identity. */
  clear_pending (peer);
  if (peer->cp != NULL && peer->cp->peers[peer->role] == peer)
    {
      peer->cp->peers[peer->role] = NULL;
      changed (self);
    }
  peer->cp = NULL;

  /* AUTH#<cp>#<role>#<location>#<price>[#<mechanism>]; fields beyond are ignored */
  if (n < 5)
    {
      auth_ko (peer, cp_id, "wrong field count");
      return;
    }
  if (*cp_id == '\0')
    {
      auth_ko (peer, cp_id, "empty cp id");
      return;
    }
  if (g_str_equal (fields[2], "ENGINE"))
    role = ROLE_ENGINE;
  else if (g_str_equal (fields[2], "MONITOR"))
    role = ROLE_MONITOR;
  else
    {
      auth_ko (peer, cp_id, "bad role");
      return;
    }
  if (!parse_amount (fields[4], &price))
    {
      auth_ko (peer, cp_id, "bad price");
      return;
    }
  if (g_hash_table_contains (self->secrets, cp_id))
    {
      challenge (self, peer, fields, n, role, price);
      return;
    }
  if (self->require_secret)
    {
      self->stats.auth_refused++;
      auth_ko (peer, cp_id, "unknown CP");
      return;
    }
  accept_auth (self, peer, cp_id, role, fields[3], price);
}

/* PROOF#<cp>#<hmac>: the answer to the CHALLENGE; the nonce is used once. */
static void
handle_proof (EvcpCentralServer *self, Peer *peer, gchar **fields, guint n)
{
  const gchar *cp_id = n > 1 ? fields[1] : "";
  const gchar *secret = g_hash_table_lookup (self->secrets, cp_id);
  g_autofree gchar *pending_cp = g_steal_pointer (&peer->pending.cp_id);
  g_autofree gchar *location = g_steal_pointer (&peer->pending.location);
  g_autofree gchar *nonce = g_steal_pointer (&peer->pending.nonce);

  if (pending_cp == NULL || !g_str_equal (pending_cp, cp_id) || secret == NULL)
    {
      self->stats.auth_refused++;
      auth_ko (peer, cp_id, "no challenge");
      return;
    }
  if (n < 3 || !evcp_central_auth_check (secret, nonce, cp_id, role_names[peer->pending.role], fields[2]))
    {
      self->stats.auth_refused++;
      auth_ko (peer, cp_id, "bad proof");
      return;
    }
  accept_auth (self, peer, cp_id, peer->pending.role, location, peer->pending.price);
}

static void
handle_state (EvcpCentralServer *self, Cp *cp, gchar **fields, guint n)
{
  gint64 seq = -1;

  /* STATE#<cp>#<state>#<seq> */
  if (!is_engine_state (fields[2]))
    {
      g_warning (_("%s: unknown state “%s”, ignored"), cp->id, fields[2]);
      return;
    }
  if (n > 3 && !parse_seq (fields[3], &seq))
    g_warning (_("%s: STATE with an invalid seq “%s”: applied without deduplication"), cp->id, fields[3]);
  check_link_seq (self, cp, ROLE_ENGINE, seq);
  apply_state (self, cp, fields[2], seq, SOURCE_LINK);
}

static void
handle_supply (EvcpCentralServer *self, Cp *cp, gchar **fields, guint n)
{
  gdouble kwh, eur;

  /* SUPPLY#<cp>#<session>#<driver>#<kwh>#<eur> */
  if (!parse_amount (fields[4], &kwh) || !parse_amount (fields[5], &eur))
    {
      g_warning (_("%s: SUPPLY with invalid amounts, ignored"), cp->id);
      return;
    }
  g_debug ("%s: supplying session %s: %s kWh, %s EUR", cp->id, fields[2], fields[4], fields[5]);
  set_session (cp, fields[2], fields[3], kwh, eur);
  changed (self);
}

static void
handle_ticket (EvcpCentralServer *self, Cp *cp, gchar **fields, guint n)
{
  EvcpCentralTicket ticket = { 0 };

  /* TICKET#<cp>#<session>#<driver>#<kwh>#<eur>#<reason>#<seq> */
  ticket.cp_id = cp->id;
  ticket.session_id = fields[2];
  ticket.driver = fields[3];
  ticket.reason = fields[6];
  ticket.seq = -1;
  ticket.source = SOURCE_LINK;
  if (*ticket.session_id == '\0' || !parse_amount (fields[4], &ticket.kwh) ||
      !parse_amount (fields[5], &ticket.eur))
    {
      g_warning (_("%s: TICKET with an empty session or invalid amounts, ignored"), cp->id);
      return;
    }
  if (n > 7 && !parse_seq (fields[7], &ticket.seq))
    g_warning (_("%s: TICKET with an invalid seq “%s”: deduplicated by its session only"), cp->id, fields[7]);
  check_link_seq (self, cp, ROLE_ENGINE, ticket.seq);
  apply_ticket (self, cp, &ticket);
}

static void
handle_fault (EvcpCentralServer *self, Cp *cp, gchar **fields, guint n)
{
  gint64 seq = -1;

  /* FAULT#<cp>#<reason>#<seq> */
  if (n > 3 && !parse_seq (fields[3], &seq))
    g_warning (_("%s: FAULT with an invalid seq “%s”: applied without deduplication"), cp->id, fields[3]);
  check_link_seq (self, cp, ROLE_MONITOR, seq);
  apply_fault (self, cp, fields[2], seq, SOURCE_LINK);
}

static void
handle_recovered (EvcpCentralServer *self, Cp *cp, gchar **fields, guint n)
{
  gint64 seq = -1;

  /* RECOVERED#<cp>#<seq> */
  if (n > 2 && !parse_seq (fields[2], &seq))
    g_warning (_("%s: RECOVERED with an invalid seq “%s”: applied without deduplication"), cp->id, fields[2]);
  check_link_seq (self, cp, ROLE_MONITOR, seq);
  apply_recovered (self, cp, seq, SOURCE_LINK);
}

typedef void (*FrameHandler) (EvcpCentralServer *self, Cp *cp, gchar **fields, guint n);

static const struct {
  const gchar  *verb;
  Role          role;
  guint         min_fields;   /* the verb and the cp included */
  FrameHandler  handler;
} frame_handlers[] = {
  { "STATE",     ROLE_ENGINE,  3, handle_state },
  { "SUPPLY",    ROLE_ENGINE,  6, handle_supply },
  { "TICKET",    ROLE_ENGINE,  7, handle_ticket },
  { "FAULT",     ROLE_MONITOR, 3, handle_fault },
  { "RECOVERED", ROLE_MONITOR, 2, handle_recovered },
};

/* A frame of use: the peer's strikes start again, and it is not idle. */
static void
useful (Peer *peer)
{
  peer->useful_at = g_get_monotonic_time ();
  evcp_central_link_forgive (peer->link);
}

/* A frame of no use: a strike (too many in a row close the link); logged
 * while the strikes are few. Returns: whether to log it. */
static gboolean
useless (Peer *peer, const gchar *why)
{
  return evcp_central_link_strike (peer->link, why) <= EVCP_CENTRAL_LINK_LOGGED_STRIKES;
}

static void
dispatch (EvcpCentralServer *self, Peer *peer, const gchar *data, gchar **fields, guint n)
{
  const gchar *verb = fields[0];
  Cp *cp = peer->cp;

  for (guint i = 0; i < G_N_ELEMENTS (frame_handlers); i++)
    {
      if (!g_str_equal (verb, frame_handlers[i].verb))
        continue;
      if (cp == NULL)
        {
          if (useless (peer, verb))
            /* TRANSLATORS: the peer's address, a verb */
            g_warning (_("%s: %s before AUTH, ignored"), peer_name (peer), verb);
          return;
        }
      if (n < 2 || !g_str_equal (fields[1], cp->id))
        {
          if (useless (peer, verb))
            /* TRANSLATORS: CP id, verb, the CP id of the frame */
            g_warning (_("%s: %s for another CP (“%s”), ignored"), cp->id, verb, n > 1 ? fields[1] : "");
          return;
        }
      touch (cp);
      if (peer->role != frame_handlers[i].role)
        {
          if (useless (peer, verb))
            /* TRANSLATORS: CP id, verb, ENGINE or MONITOR */
            g_warning (_("%s: %s from the %s, ignored"), cp->id, verb, role_names[peer->role]);
          return;
        }
      if (n < frame_handlers[i].min_fields)
        {
          if (useless (peer, verb))
            /* TRANSLATORS: CP id, the frame */
            g_warning (_("%s: malformed frame “%s”, ignored"), cp->id, data);
          return;
        }
      useful (peer);
      frame_handlers[i].handler (self, cp, fields, n);
      return;
    }
  if (useless (peer, verb))
    /* TRANSLATORS: the peer's address, a verb */
    g_warning (_("%s: unknown verb “%s”, acknowledged and ignored"), peer_name (peer), verb);
}

static void
on_frame (EvcpCentralLink *link, const gchar *data, GStrv fields, gpointer user_data)
{
  Peer *peer = user_data;
  EvcpCentralServer *self = peer->server;
  guint n = g_strv_length (fields);
  const gchar *verb = fields[0];

  if (peer->dead)
    return;
  self->stats.frames++;
  g_debug ("%s: received %s", peer_name (peer), data);

  if (g_str_equal (verb, "AUTH") || g_str_equal (verb, "PROOF"))
    {
      if (g_str_equal (verb, "AUTH"))
        handle_auth (self, peer, fields, n);
      else
        handle_proof (self, peer, fields, n);
      /* an AUTH refused is a strike: no endless guessing on one connection */
      if (peer->cp != NULL || peer->pending.cp_id != NULL)
        useful (peer);
      else
        useless (peer, verb);
      return;
    }
  if (g_str_equal (verb, "PING"))
    {
      const gchar *pong[] = { "PONG", n > 1 ? fields[1] : (peer->cp != NULL ? peer->cp->id : ""), NULL };

      if (peer->cp != NULL)
        {
          touch (peer->cp);
          useful (peer);
        }
      else
        useless (peer, verb);
      peer_send (peer, pong);
      return;
    }
  dispatch (self, peer, data, fields, n);
}

static void
on_bad (EvcpCentralLink *link, const gchar *reason, guint strikes, gpointer user_data)
{
  Peer *peer = user_data;

  peer->server->stats.bad++;
  if (strikes <= EVCP_CENTRAL_LINK_LOGGED_STRIKES)
    /* TRANSLATORS: the peer's address, then why (bad-lrc, outside-frame…) */
    g_message (_("%s: bytes dropped (%s), answered NACK"), peer_name (peer), reason);
}

static gboolean
is_command (const gchar *data)
{
  return g_str_has_prefix (data, "AUTHORIZE#") || g_str_has_prefix (data, "STOP#") ||
         g_str_has_prefix (data, "RESUME#");
}

static void
on_delivered (EvcpCentralLink *link, const gchar *data, gpointer user_data)
{
  Peer *peer = user_data;

  if (is_command (data))
    /* TRANSLATORS: the address of the Engine, the frame */
    g_message (_("%s: %s acknowledged"), peer_name (peer), data);
}

static void
on_failed (EvcpCentralLink *link, const gchar *data, gpointer user_data)
{
  Peer *peer = user_data;
  g_autofree gchar *resends = g_strdup_printf ("%u", peer->server->max_resends);

  /* TRANSLATORS: the peer's address, the frame, the number of resends */
  g_warning (_("%s: %s never acknowledged (sent again %s times): the link is broken, closing it"),
             peer_name (peer), data, resends);
}

static void
on_closed (EvcpCentralLink *link, const gchar *reason, gpointer user_data)
{
  Peer *peer = user_data;
  EvcpCentralServer *self = peer->server;

  peer->dead = TRUE;
  if (peer->cp != NULL && peer->cp->peers[peer->role] == peer)
    {
      peer->cp->peers[peer->role] = NULL;
      /* TRANSLATORS: CP id, ENGINE or MONITOR, why */
      g_message (_("%s: %s disconnected (%s)"), peer->cp->id, role_names[peer->role], reason);
      changed (self);
    }
  else
    g_debug ("%s: connection closed (%s)", peer_name (peer), reason);
  schedule_prune (self);
}

static void
peer_free (Peer *peer)
{
  clear_pending (peer);
  g_signal_handlers_disconnect_by_data (peer->link, peer);
  g_object_unref (peer->link);
  g_free (peer);
}

/* Frees the peers whose connection is closed and finished. */
static gboolean
prune (EvcpCentralServer *self)
{
  gboolean waiting = FALSE;

  for (guint i = self->peers->len; i > 0; i--)
    {
      Peer *peer = g_ptr_array_index (self->peers, i - 1);

      if (!peer->dead)
        continue;
      if (evcp_central_link_is_finished (peer->link))
        g_ptr_array_remove_index_fast (self->peers, i - 1);
      else
        waiting = TRUE;
    }
  return waiting;
}

static gboolean
prune_cb (gpointer user_data)
{
  EvcpCentralServer *self = user_data;

  self->prune_id = 0;
  if (prune (self))
    schedule_prune (self);
  return G_SOURCE_REMOVE;
}

static void
schedule_prune (EvcpCentralServer *self)
{
  if (self->prune_id == 0)
    self->prune_id = g_timeout_add (PRUNE_INTERVAL_MS, prune_cb, self);
}

/* Closes a connection because of a limit; @quiet during a flood of
 * connections, whose every drop would flood the log. */
static void
drop_peer (EvcpCentralServer *self, Peer *peer, const gchar *why, gboolean quiet)
{
  self->stats.dropped++;
  if (quiet)
    g_debug ("%s: connection dropped: %s", peer_name (peer), why);
  else
    /* TRANSLATORS: the peer's address, why it is dropped */
    g_message (_("%s: connection dropped: %s"), peer_name (peer), why);
  evcp_central_link_close (peer->link, FALSE, why);
}

/* Room for one more connection: at most max_unauthenticated that have not
 * authenticated (the oldest of them goes for a new one), at most
 * max_connections in all. Returns: FALSE if the new one must be refused. */
static gboolean
make_room (EvcpCentralServer *self)
{
  Peer *oldest = NULL;
  guint live = 0, unauthenticated = 0;

  for (guint i = 0; i < self->peers->len; i++)
    {
      Peer *peer = g_ptr_array_index (self->peers, i);

      if (peer->dead)
        continue;
      live++;
      if (peer->cp != NULL)
        continue;
      unauthenticated++;
      if (oldest == NULL || peer->accepted_at < oldest->accepted_at)
        oldest = peer;
    }
  if (oldest != NULL && (unauthenticated >= self->limits.max_unauthenticated ||
                         live >= self->limits.max_connections))
    {
      drop_peer (self, oldest, _("too many connections without AUTH: the oldest goes"), TRUE);
      live--;
    }
  return live < self->limits.max_connections;
}

/* Drops the connections that did not authenticate in time, and those idle
 * for too long (an Engine or Monitor sends PING every 5 s). */
static gboolean
sweep_cb (gpointer user_data)
{
  EvcpCentralServer *self = user_data;
  gint64 now = g_get_monotonic_time ();
  gint64 auth_us = (gint64) self->limits.auth_timeout_ms * 1000;
  gint64 idle_us = (gint64) self->limits.idle_timeout_ms * 1000;

  /* closing emits "closed", which frees nothing: prune() does, later */
  for (guint i = 0; i < self->peers->len; i++)
    {
      Peer *peer = g_ptr_array_index (self->peers, i);

      if (peer->dead)
        continue;
      if (peer->cp == NULL && now - peer->accepted_at > auth_us)
        drop_peer (self, peer, _("not authenticated in time"), FALSE);
      else if (peer->cp != NULL && now - peer->useful_at > idle_us)
        drop_peer (self, peer, _("idle for too long"), FALSE);
    }
  return G_SOURCE_CONTINUE;
}

static void
start_sweep (EvcpCentralServer *self)
{
  guint interval = MIN (self->limits.auth_timeout_ms, self->limits.idle_timeout_ms) / 4;

  g_clear_handle_id (&self->sweep_id, g_source_remove);
  self->sweep_id = g_timeout_add (CLAMP (interval, 10, 1000), sweep_cb, self);
}

static gboolean
on_incoming (GSocketService    *service,
             GSocketConnection *connection,
             GObject           *source_object,
             gpointer           user_data)
{
  EvcpCentralServer *self = user_data;
  Peer *peer;

  if (self->shut_down)
    {
      g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
      return TRUE;
    }
  if (!make_room (self))
    {
      self->stats.dropped++;
      g_debug ("connection refused: %u connections already", self->limits.max_connections);
      g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
      return TRUE;
    }
  peer = g_new0 (Peer, 1);
  peer->server = self;
  peer->accepted_at = peer->useful_at = g_get_monotonic_time ();
  peer->link = evcp_central_link_new (connection, self->ack_timeout_ms, self->max_resends);
  g_signal_connect (peer->link, "frame", G_CALLBACK (on_frame), peer);
  g_signal_connect (peer->link, "bad", G_CALLBACK (on_bad), peer);
  g_signal_connect (peer->link, "delivered", G_CALLBACK (on_delivered), peer);
  g_signal_connect (peer->link, "failed", G_CALLBACK (on_failed), peer);
  g_signal_connect (peer->link, "closed", G_CALLBACK (on_closed), peer);
  g_ptr_array_add (self->peers, peer);
  g_debug ("connection from %s", peer_name (peer));
  evcp_central_link_start (peer->link);
  return TRUE;
}

/* ---- Kafka ----------------------------------------------------------------- */

/* A member under "data" first, then at the top level. */
static JsonNode *
lookup (JsonObject *root, const gchar *name)
{
  JsonNode *data = json_object_get_member (root, "data");

  if (data != NULL && JSON_NODE_HOLDS_OBJECT (data) &&
      json_object_has_member (json_node_get_object (data), name))
    return json_object_get_member (json_node_get_object (data), name);
  return json_object_get_member (root, name);
}

static const gchar *
lookup_string (JsonObject *root, const gchar *name)
{
  JsonNode *node = lookup (root, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

static gdouble
lookup_number (JsonObject *root, const gchar *name)
{
  JsonNode *node = lookup (root, name);
  gdouble value;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return 0;
  if (json_node_get_value_type (node) == G_TYPE_INT64)
    value = (gdouble) json_node_get_int (node);
  else if (json_node_get_value_type (node) == G_TYPE_DOUBLE)
    value = json_node_get_double (node);
  else if (json_node_get_value_type (node) != G_TYPE_STRING ||
           !parse_amount (json_node_get_string (node), &value))
    return 0;
  return isfinite (value) && value >= 0 ? value : 0;
}

static gint64
lookup_seq (JsonObject *root)
{
  JsonNode *node = lookup (root, "seq");
  gint64 seq;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return -1;
  if (json_node_get_value_type (node) == G_TYPE_INT64)
    return json_node_get_int (node) >= 0 ? json_node_get_int (node) : -1;
  if (json_node_get_value_type (node) == G_TYPE_STRING && parse_seq (json_node_get_string (node), &seq))
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
on_session_event (EvcpCentralServer *self, const gchar *kind, JsonObject *root)
{
  const gchar *cp_id = lookup_string (root, "cp_id");
  const gchar *session_id = lookup_string (root, "session_id");
  const gchar *user_id = lookup_string (root, "user_id");
  gint64 seq = lookup_seq (root);
  Cp *cp;

  if (cp_id == NULL || *cp_id == '\0' || strchr (cp_id, EVCP_FRAME_FIELD_SEPARATOR) != NULL)
    {
      g_debug ("Kafka %s without a usable cp_id, skipped", kind);
      return;
    }
  cp = ensure_cp (self, cp_id);
  touch (cp);

  if (g_str_equal (kind, "SESSION_STARTED") || g_str_equal (kind, "SESSION_TELEMETRY"))
    {
      gboolean started = g_str_equal (kind, "SESSION_STARTED");

      if (session_id == NULL)
        return;
      if (started)
        /* TRANSLATORS: CP id, session, user */
        g_message (_("%s: session %s started for %s (Kafka)"), cp->id, session_id,
                   user_id != NULL ? user_id : "?");
      set_session (cp, session_id, user_id, lookup_number (root, "kwh"), lookup_number (root, "eur"));
      if (started && seq >= 0 && g_strcmp0 (session_id, cp->ended_session) != 0)
        set_engine_state (self, cp, "SUPPLYING", seq);
      changed (self);
    }
  else if (g_str_equal (kind, "SESSION_ENDED"))
    {
      EvcpCentralTicket ticket = {
        .cp_id = cp->id,
        .session_id = session_id,
        .driver = user_id != NULL ? user_id : "",
        .kwh = lookup_number (root, "kwh"),
        .eur = lookup_number (root, "eur"),
        .reason = lookup_string (root, "reason"),
        .seq = seq,
        .source = SOURCE_KAFKA,
      };

      if (session_id == NULL || *session_id == '\0')
        {
          g_warning (_("%s: SESSION_ENDED without a session_id, skipped"), cp->id);
          return;
        }
      if (ticket.reason == NULL)
        ticket.reason = "";
      if (apply_ticket (self, cp, &ticket) && seq >= 0)
        {
          set_engine_state (self, cp, state_after_ticket (ticket.reason), seq);
          changed (self);
        }
    }
  else if (g_str_equal (kind, "REQUEST_REFUSED"))
    {
      const gchar *reason = lookup_string (root, "reason");
      g_autofree gchar *detail = g_strdup_printf ("%s: %s", user_id != NULL ? user_id : "?",
                                                  reason != NULL ? reason : "?");

      /* A refusal is best effort and takes no seq of its own: its data.seq is
       * the Engine's latest, that of a STATE or TICKET. Claiming it would drop
       * the refusal as a duplicate of that record, or, if the refusal comes
       * first, that record. Recorded with its seq, without the claim. */
      if (!begin_claim (self, cp, ROLE_ENGINE, -1, "REQUEST_REFUSED", SOURCE_KAFKA))
        return;
      add_event (self, cp, ROLE_ENGINE, "REFUSED", detail, seq, SOURCE_KAFKA);
      end_claim (self);
      /* TRANSLATORS: CP id, "user: reason" */
      g_message (_("%s: request refused (%s)"), cp->id, detail);
      changed (self);
    }
  else
    g_debug ("Kafka %s: unknown kind %s, skipped", EVCP_CENTRAL_KAFKA_SESSIONS_TOPIC, kind);
}

static void
on_monitoring_event (EvcpCentralServer *self, const gchar *kind, JsonObject *root)
{
  const gchar *cp_id = lookup_string (root, "id");
  const gchar *status = lookup_string (root, "status");
  const gchar *previous = lookup_string (root, "previous_status");
  const gchar *reason = lookup_string (root, "reason");
  const gchar *event = lookup_string (root, "event");
  /* only a status change is a FAULT or a RECOVERED: the Monitor's periodic
   * events and alerts repeat the current status (data.event, docs/monitor.md) */
  gboolean change = event == NULL || g_str_equal (event, "STATUS_CHANGE");
  gint64 seq = lookup_seq (root);
  Cp *cp;

  if (cp_id == NULL)
    cp_id = lookup_string (root, "cp_id");
  if (!g_str_equal (kind, "MONITORING_EVENT") || cp_id == NULL || *cp_id == '\0' ||
      strchr (cp_id, EVCP_FRAME_FIELD_SEPARATOR) != NULL ||
      (g_strcmp0 (status, "OK") != 0 && g_strcmp0 (status, "KO") != 0))
    {
      g_debug ("Kafka %s: not a usable monitoring event, skipped", EVCP_CENTRAL_KAFKA_MONITORING_TOPIC);
      return;
    }
  cp = ensure_cp (self, cp_id);
  touch (cp);
  if (change && g_str_equal (status, "KO") && g_strcmp0 (previous, "KO") != 0)
    apply_fault (self, cp, reason != NULL && *reason != '\0' ? reason : "KO", seq, SOURCE_KAFKA);
  else if (change && g_str_equal (status, "OK") && g_strcmp0 (previous, "KO") == 0)
    apply_recovered (self, cp, seq, SOURCE_KAFKA);
  else if (seq >= 0 && (cp->monitor_seq < 0 || seq > cp->monitor_seq))
    {
      /* a periodic event: the current status, nothing to record */
      cp->monitor_seq = seq;
      cp->fault = g_str_equal (status, "KO");
      if (!cp->fault)
        g_clear_pointer (&cp->fault_reason, g_free);
      else if (cp->fault_reason == NULL)
        cp->fault_reason = g_strdup (reason != NULL && *reason != '\0' ? reason : "KO");
      refresh_state (self, cp);
      changed (self);
    }
}

static void
on_kafka_message (EvcpCentralKafka *kafka, const gchar *topic, JsonObject *root, gpointer user_data)
{
  EvcpCentralServer *self = user_data;
  const gchar *kind = lookup_string (root, "kind");

  self->stats.kafka_messages++;
  if (kind == NULL)
    {
      g_debug ("Kafka %s: a message without a kind, skipped", topic);
      return;
    }
  if (g_str_equal (topic, EVCP_CENTRAL_KAFKA_SESSIONS_TOPIC))
    on_session_event (self, kind, root);
  else if (g_str_equal (topic, EVCP_CENTRAL_KAFKA_MONITORING_TOPIC))
    on_monitoring_event (self, kind, root);
}

static void
on_kafka_status (GObject *object, GParamSpec *pspec, gpointer user_data)
{
  changed (user_data);
}

/* ---- public API ------------------------------------------------------------ */

/**
 * evcp_central_server_new:
 * @db: where the registry, tickets and events are kept; the CPs it knows
 *   are loaded (disconnected)
 */
EvcpCentralServer *
evcp_central_server_new (EvcpCentralDb *db)
{
  EvcpCentralServer *self;
  g_autoptr(GPtrArray) known = NULL;
  g_autoptr(GError) error = NULL;

  g_return_val_if_fail (EVCP_IS_CENTRAL_DB (db), NULL);

  self = g_object_new (EVCP_TYPE_CENTRAL_SERVER, NULL);
  self->db = g_object_ref (db);
  {
    g_autoptr(GHashTable) secrets = evcp_central_db_list_secrets (db, &error);
    GHashTableIter iter;
    gpointer key, value;

    if (secrets == NULL)
      g_warning ("%s", error->message);
    g_clear_error (&error);
    g_hash_table_iter_init (&iter, secrets);
    while (secrets != NULL && g_hash_table_iter_next (&iter, &key, &value))
      g_hash_table_insert (self->secrets, g_strdup (key), g_strdup (value));
  }
  known = evcp_central_db_list_cps (db, &error);
  if (known == NULL)
    g_warning ("%s", error->message);
  for (guint i = 0; known != NULL && i < known->len; i++)
    {
      EvcpCentralDbCp *row = g_ptr_array_index (known, i);
      Cp *cp = ensure_cp (self, row->id);

      g_free (cp->location);
      cp->location = g_strdup (row->location != NULL ? row->location : "");
      cp->price_eur_kwh = row->price_eur_kwh;
      if (is_engine_state (row->state))
        cp->engine_state = g_strdup (row->state);
      cp->stored_state = g_strdup (row->state);
      if (row->last_seen != NULL)
        {
          g_autoptr(GDateTime) seen = g_date_time_new_from_iso8601 (row->last_seen, NULL);

          if (seen != NULL)
            cp->last_seen = g_date_time_to_unix (seen) * G_USEC_PER_SEC;
        }
    }
  return self;
}

void
evcp_central_server_set_timing (EvcpCentralServer *self, guint ack_timeout_ms, guint max_resends)
{
  g_return_if_fail (EVCP_IS_CENTRAL_SERVER (self));

  if (ack_timeout_ms > 0)
    self->ack_timeout_ms = ack_timeout_ms;
  if (max_resends > 0)
    self->max_resends = max_resends;
}

gboolean
evcp_central_server_listen (EvcpCentralServer  *self,
                            const gchar        *address,
                            guint16             port,
                            GError            **error)
{
  g_autoptr(GInetAddress) inet = NULL;
  g_autoptr(GSocketAddress) requested = NULL;
  g_autoptr(GSocketAddress) effective = NULL;

  g_return_val_if_fail (EVCP_IS_CENTRAL_SERVER (self), FALSE);
  g_return_val_if_fail (self->service == NULL, FALSE);

  if (address == NULL)
    address = EVCP_CENTRAL_DEFAULT_LISTEN_ADDRESS;
  if (g_str_equal (address, "localhost"))
    inet = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  else
    inet = g_inet_address_new_from_string (address);
  if (inet == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   /* TRANSLATORS: %s is what was given to --listen-address */
                   _("Invalid listen address “%s”: expected an IP address"), address);
      return FALSE;
    }
  requested = g_inet_socket_address_new (inet, port);
  self->service = g_socket_service_new ();
  /* a flood of connections must not fill the queue of those not yet
   * accepted (GIO's default is 10): the server drops them itself */
  g_socket_listener_set_backlog (G_SOCKET_LISTENER (self->service), 128);
  if (!g_socket_listener_add_address (G_SOCKET_LISTENER (self->service), requested,
                                      G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                      NULL, &effective, error))
    {
      g_autofree gchar *port_text = g_strdup_printf ("%u", port);

      g_prefix_error (error, _("Cannot listen on %s port %s: "), address, port_text);
      g_clear_object (&self->service);
      return FALSE;
    }
  self->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective));
  g_free (self->address);
  self->address = g_inet_address_to_string (inet);
  g_signal_connect (self->service, "incoming", G_CALLBACK (on_incoming), self);
  g_socket_service_start (self->service);
  start_sweep (self);
  {
    g_autofree gchar *port_text = g_strdup_printf ("%u", self->port);

    g_message (_("Listening on %s port %s"), self->address, port_text);
  }
  return TRUE;
}

/**
 * evcp_central_server_set_secret:
 * @secret: (nullable): the CP's secret; %NULL or empty: none (AUTH as in
 *   the contract)
 * @persist: also keep it in the database (else for this run only)
 *
 * From now on an AUTH of @cp_id must prove the secret (docs/protocol.md,
 * A1..A8). The connections already authenticated stay.
 */
gboolean
evcp_central_server_set_secret (EvcpCentralServer  *self,
                                const gchar        *cp_id,
                                const gchar        *secret,
                                gboolean            persist,
                                GError            **error)
{
  g_return_val_if_fail (EVCP_IS_CENTRAL_SERVER (self), FALSE);
  g_return_val_if_fail (cp_id != NULL, FALSE);

  if (secret != NULL && *secret == '\0')
    secret = NULL;
  if (persist && !evcp_central_db_set_secret (self->db, cp_id, secret, error))
    return FALSE;
  if (secret != NULL)
    g_hash_table_insert (self->secrets, g_strdup (cp_id), g_strdup (secret));
  else
    g_hash_table_remove (self->secrets, cp_id);
  return TRUE;
}

/**
 * evcp_central_server_set_limits:
 *
 * Before listening; 0 keeps a default (512 connections, 64 of them
 * without AUTH, AUTH within 10 s, idle at most 30 s).
 */
void
evcp_central_server_set_limits (EvcpCentralServer *self,
                                guint              max_connections,
                                guint              max_unauthenticated,
                                guint              auth_timeout_ms,
                                guint              idle_timeout_ms)
{
  g_return_if_fail (EVCP_IS_CENTRAL_SERVER (self));

  if (max_connections > 0)
    self->limits.max_connections = max_connections;
  if (max_unauthenticated > 0)
    self->limits.max_unauthenticated = max_unauthenticated;
  if (auth_timeout_ms > 0)
    self->limits.auth_timeout_ms = auth_timeout_ms;
  if (idle_timeout_ms > 0)
    self->limits.idle_timeout_ms = idle_timeout_ms;
  if (self->sweep_id != 0)
    start_sweep (self);
}

/* With @require, a CP without a secret is refused (AUTH_KO "unknown CP"). */
void
evcp_central_server_set_require_secret (EvcpCentralServer *self, gboolean require)
{
  g_return_if_fail (EVCP_IS_CENTRAL_SERVER (self));
  self->require_secret = require;
}

guint16
evcp_central_server_get_port (EvcpCentralServer *self)
{
  g_return_val_if_fail (EVCP_IS_CENTRAL_SERVER (self), 0);
  return self->port;
}

gboolean
evcp_central_server_start_kafka (EvcpCentralServer  *self,
                                 const gchar        *brokers,
                                 const gchar        *group_id,
                                 GHashTable         *overrides,
                                 GHashTable         *consumer_overrides,
                                 GError            **error)
{
  g_autoptr(EvcpCentralKafka) kafka = NULL;

  g_return_val_if_fail (EVCP_IS_CENTRAL_SERVER (self), FALSE);
  g_return_val_if_fail (self->kafka == NULL, FALSE);

  kafka = evcp_central_kafka_new (brokers, group_id, overrides, consumer_overrides);
  g_signal_connect (kafka, "message", G_CALLBACK (on_kafka_message), self);
  g_signal_connect (kafka, "notify::status", G_CALLBACK (on_kafka_status), self);
  if (!evcp_central_kafka_start (kafka, error))
    return FALSE;
  self->kafka = g_steal_pointer (&kafka);
  return TRUE;
}

static Peer *
engine_of (EvcpCentralServer *self, const gchar *cp_id, GError **error)
{
  Cp *cp = g_hash_table_lookup (self->cps, cp_id);

  if (cp == NULL)
    {
      g_set_error (error, EVCP_ERROR, EVCP_ERROR_NOT_FOUND,
                   /* TRANSLATORS: %s is a CP id */
                   _("Unknown CP %s"), cp_id);
      return NULL;
    }
  if (cp->peers[ROLE_ENGINE] == NULL)
    {
      g_set_error (error, EVCP_ERROR, EVCP_ERROR_REFUSED,
                   _("The Engine of %s is not connected"), cp_id);
      return NULL;
    }
  return cp->peers[ROLE_ENGINE];
}

static gboolean
send_command (EvcpCentralServer *self, const gchar *cp_id, const gchar * const *fields, GError **error)
{
  Peer *peer = engine_of (self, cp_id, error);
  g_autofree gchar *data = NULL;

  if (peer == NULL)
    return FALSE;
  if (!evcp_central_link_send (peer->link, fields, error))
    return FALSE;
  data = evcp_frame_join_fields (fields, NULL);
  /* TRANSLATORS: CP id, the frame */
  g_message (_("%s: sending %s"), cp_id, data);
  return TRUE;
}

gboolean
evcp_central_server_stop_cp (EvcpCentralServer *self, const gchar *cp_id, GError **error)
{
  const gchar *fields[] = { "STOP", cp_id, NULL };

  g_return_val_if_fail (EVCP_IS_CENTRAL_SERVER (self), FALSE);
  g_return_val_if_fail (cp_id != NULL, FALSE);
  return send_command (self, cp_id, fields, error);
}

gboolean
evcp_central_server_resume_cp (EvcpCentralServer *self, const gchar *cp_id, GError **error)
{
  const gchar *fields[] = { "RESUME", cp_id, NULL };

  g_return_val_if_fail (EVCP_IS_CENTRAL_SERVER (self), FALSE);
  g_return_val_if_fail (cp_id != NULL, FALSE);
  return send_command (self, cp_id, fields, error);
}

gchar *
evcp_central_server_authorize (EvcpCentralServer  *self,
                               const gchar        *cp_id,
                               const gchar        *driver,
                               gdouble             power_kw,
                               guint               max_duration_s,
                               GError            **error)
{
  g_autofree gchar *session = NULL;
  g_autofree gchar *power = NULL;
  g_autofree gchar *duration = NULL;

  g_return_val_if_fail (EVCP_IS_CENTRAL_SERVER (self), NULL);
  g_return_val_if_fail (cp_id != NULL && driver != NULL, NULL);

  if (*driver == '\0' || !isfinite (power_kw) || power_kw <= 0 || max_duration_s == 0)
    {
      g_set_error_literal (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE,
                           _("A driver, a power above 0 and a duration above 0 are needed"));
      return NULL;
    }
  session = g_uuid_string_random ();
  power = format_amount (power_kw, "%.6g");
  duration = g_strdup_printf ("%u", max_duration_s);
  {
    const gchar *fields[] = { "AUTHORIZE", cp_id, driver, session, power, duration, NULL };

    if (!send_command (self, cp_id, fields, error))
      return NULL;
  }
  return g_steal_pointer (&session);
}

static gint
compare_strings (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const gchar * const *) a, *(const gchar * const *) b);
}

GStrv
evcp_central_server_get_engine_cps (EvcpCentralServer *self)
{
  g_autoptr(GPtrArray) ids = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer value;

  g_return_val_if_fail (EVCP_IS_CENTRAL_SERVER (self), NULL);

  g_hash_table_iter_init (&iter, self->cps);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Cp *cp = value;

      if (cp->peers[ROLE_ENGINE] != NULL)
        g_ptr_array_add (ids, g_strdup (cp->id));
    }
  g_ptr_array_sort (ids, compare_strings);
  g_ptr_array_add (ids, NULL);
  return (GStrv) g_ptr_array_free (g_steal_pointer (&ids), FALSE);
}

static void
add_time (JsonBuilder *builder, const gchar *name, gint64 us)
{
  json_builder_set_member_name (builder, name);
  if (us <= 0)
    json_builder_add_null_value (builder);
  else
    {
      g_autoptr(GDateTime) t = g_date_time_new_from_unix_utc (us / G_USEC_PER_SEC);
      g_autofree gchar *text = t != NULL ? g_date_time_format_iso8601 (t) : NULL;

      json_builder_add_string_value (builder, text != NULL ? text : "");
    }
}

static void
add_uint (JsonBuilder *builder, const gchar *name, guint64 value)
{
  json_builder_set_member_name (builder, name);
  json_builder_add_int_value (builder, (gint64) MIN (value, (guint64) G_MAXINT64));
}

JsonNode *
evcp_central_server_to_json (EvcpCentralServer *self)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(GList) ids = NULL;

  g_return_val_if_fail (EVCP_IS_CENTRAL_SERVER (self), NULL);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "port");
  json_builder_add_int_value (builder, self->port);
  json_builder_set_member_name (builder, "kafka");
  json_builder_add_string_value (builder, self->kafka != NULL ? evcp_central_kafka_get_status (self->kafka)
                                                              : "disabled");

  json_builder_set_member_name (builder, "stats");
  json_builder_begin_object (builder);
  add_uint (builder, "frames", self->stats.frames);
  add_uint (builder, "nacked", self->stats.bad);
  add_uint (builder, "duplicates", self->stats.duplicates);
  add_uint (builder, "duplicate_tickets", self->stats.duplicate_tickets);
  add_uint (builder, "gaps", self->stats.gaps);
  add_uint (builder, "kafka_messages", self->stats.kafka_messages);
  add_uint (builder, "kafka_skipped", self->kafka != NULL ? evcp_central_kafka_get_skipped (self->kafka) : 0);
  add_uint (builder, "auth_refused", self->stats.auth_refused);
  add_uint (builder, "dropped", self->stats.dropped);
  add_uint (builder, "connections", self->peers->len);
  json_builder_end_object (builder);

  json_builder_set_member_name (builder, "cps");
  json_builder_begin_array (builder);
  ids = g_list_sort (g_hash_table_get_keys (self->cps), (GCompareFunc) g_strcmp0);
  for (GList *l = ids; l != NULL; l = l->next)
    {
      Cp *cp = g_hash_table_lookup (self->cps, l->data);

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "id");
      json_builder_add_string_value (builder, cp->id);
      json_builder_set_member_name (builder, "location");
      json_builder_add_string_value (builder, cp->location);
      json_builder_set_member_name (builder, "price_eur_kwh");
      json_builder_add_double_value (builder, cp->price_eur_kwh);
      json_builder_set_member_name (builder, "state");
      json_builder_add_string_value (builder, displayed_state (cp));
      json_builder_set_member_name (builder, "engine_state");
      if (cp->engine_state != NULL)
        json_builder_add_string_value (builder, cp->engine_state);
      else
        json_builder_add_null_value (builder);
      json_builder_set_member_name (builder, "fault_reason");
      if (cp->fault_reason != NULL)
        json_builder_add_string_value (builder, cp->fault_reason);
      else
        json_builder_add_null_value (builder);
      json_builder_set_member_name (builder, "engine");
      json_builder_add_boolean_value (builder, cp->peers[ROLE_ENGINE] != NULL);
      json_builder_set_member_name (builder, "monitor");
      json_builder_add_boolean_value (builder, cp->peers[ROLE_MONITOR] != NULL);
      json_builder_set_member_name (builder, "session");
      if (cp->session_id == NULL)
        json_builder_add_null_value (builder);
      else
        {
          json_builder_begin_object (builder);
          json_builder_set_member_name (builder, "id");
          json_builder_add_string_value (builder, cp->session_id);
          json_builder_set_member_name (builder, "driver");
          json_builder_add_string_value (builder, cp->driver != NULL ? cp->driver : "");
          json_builder_set_member_name (builder, "kwh");
          json_builder_add_double_value (builder, cp->kwh);
          json_builder_set_member_name (builder, "eur");
          json_builder_add_double_value (builder, cp->eur);
          json_builder_end_object (builder);
        }
      add_uint (builder, "tickets", cp->tickets);
      add_time (builder, "last_seen", cp->last_seen);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}

void
evcp_central_server_shutdown (EvcpCentralServer *self)
{
  g_autoptr(GPtrArray) peers = NULL;

  g_return_if_fail (EVCP_IS_CENTRAL_SERVER (self));

  if (self->shut_down)
    return;
  self->shut_down = TRUE;
  g_clear_handle_id (&self->sweep_id, g_source_remove);
  if (self->service != NULL)
    {
      g_socket_service_stop (self->service);
      g_socket_listener_close (G_SOCKET_LISTENER (self->service));
    }
  if (self->kafka != NULL)
    evcp_central_kafka_stop (self->kafka);
  /* closing emits "closed", which may change the list: walk a copy (one
   * that does not own the peers) */
  peers = g_ptr_array_sized_new (self->peers->len);
  for (guint i = 0; i < self->peers->len; i++)
    g_ptr_array_add (peers, g_ptr_array_index (self->peers, i));
  for (guint i = 0; i < peers->len; i++)
    {
      Peer *peer = g_ptr_array_index (peers, i);

      evcp_central_link_close (peer->link, TRUE, _("Central is shutting down"));
    }
}

gboolean
evcp_central_server_is_finished (EvcpCentralServer *self)
{
  g_return_val_if_fail (EVCP_IS_CENTRAL_SERVER (self), TRUE);

  prune (self);
  return self->peers->len == 0;
}

static void
evcp_central_server_dispose (GObject *object)
{
  EvcpCentralServer *self = EVCP_CENTRAL_SERVER (object);

  g_clear_handle_id (&self->prune_id, g_source_remove);
  g_clear_handle_id (&self->sweep_id, g_source_remove);
  if (self->service != NULL)
    {
      g_socket_service_stop (self->service);
      g_socket_listener_close (G_SOCKET_LISTENER (self->service));
      g_signal_handlers_disconnect_by_data (self->service, self);
      g_clear_object (&self->service);
    }
  if (self->kafka != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->kafka, self);
      g_clear_object (&self->kafka);
    }
  if (self->peers != NULL)
    g_ptr_array_set_size (self->peers, 0);
  G_OBJECT_CLASS (evcp_central_server_parent_class)->dispose (object);
}

static void
evcp_central_server_finalize (GObject *object)
{
  EvcpCentralServer *self = EVCP_CENTRAL_SERVER (object);

  g_ptr_array_unref (self->peers);
  g_hash_table_unref (self->cps);
  g_hash_table_unref (self->secrets);
  g_clear_object (&self->db);
  g_free (self->address);
  G_OBJECT_CLASS (evcp_central_server_parent_class)->finalize (object);
}

static void
evcp_central_server_class_init (EvcpCentralServerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = evcp_central_server_dispose;
  object_class->finalize = evcp_central_server_finalize;

  signals[SIGNAL_CHANGED] =
    g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 0);
}

static void
evcp_central_server_init (EvcpCentralServer *self)
{
  self->peers = g_ptr_array_new_with_free_func ((GDestroyNotify) peer_free);
  self->cps = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) cp_free);
  self->secrets = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->ack_timeout_ms = EVCP_CENTRAL_LINK_ACK_TIMEOUT_MS;
  self->max_resends = EVCP_CENTRAL_LINK_MAX_RESENDS;
  self->limits.max_connections = DEFAULT_MAX_CONNECTIONS;
  self->limits.max_unauthenticated = DEFAULT_MAX_UNAUTHENTICATED;
  self->limits.auth_timeout_ms = DEFAULT_AUTH_TIMEOUT_MS;
  self->limits.idle_timeout_ms = DEFAULT_IDLE_TIMEOUT_MS;
  self->address = g_strdup (EVCP_CENTRAL_DEFAULT_LISTEN_ADDRESS);
}
