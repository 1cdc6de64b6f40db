/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "evcp-central"

#include "evcp-build-config.h"

#include <glib/gi18n-lib.h>

#include "evcp-central-auth.h"
#include "evcp-central-server-private.h"
#include "evcp-frame-codec.h"

/*
 * The frames of the socket protocol (docs/protocol.md) from the Engines and
 * Monitors: AUTH (with CHALLENGE and PROOF for a CP with a secret), PING,
 * and STATE, SUPPLY, TICKET, FAULT, RECOVERED applied to the registry;
 * strikes for what is of no use.
 */

const gchar *
evcp_central_peer_name (EvcpCentralPeer *peer)
{
  return evcp_central_link_get_peer (peer->link);
}

/* ---- frames from the CPs ----------------------------------------------------- */

static void
peer_send (EvcpCentralPeer *peer, const gchar * const *fields)
{
  g_autoptr(GError) error = NULL;

  if (!evcp_central_link_send (peer->link, fields, &error))
    g_warning ("%s: cannot send %s: %s", evcp_central_peer_name (peer), fields[0], error->message);
}

static void
auth_ko (EvcpCentralPeer *peer, const gchar *cp_id, const gchar *reason)
{
  const gchar *fields[] = { "AUTH_KO", cp_id, reason, NULL };

  /* TRANSLATORS: the peer's address, CP id, reason */
  g_message (_("%s: AUTH of “%s” refused: %s"), evcp_central_peer_name (peer), cp_id, reason);
  peer_send (peer, fields);
}

static void
clear_pending (EvcpCentralPeer *peer)
{
  g_clear_pointer (&peer->pending.cp_id, g_free);
  g_clear_pointer (&peer->pending.location, g_free);
  g_clear_pointer (&peer->pending.nonce, g_free);
}

/* The peer is this CP's Engine or Monitor from now on. */
static void
accept_auth (EvcpCentralServer *self, EvcpCentralPeer *peer, const gchar *cp_id, EvcpCentralRegistryRole role,
             const gchar *location, gdouble price)
{
  const gchar *ok[] = { "AUTH_OK", cp_id, NULL };
  g_autofree gchar *price_text = NULL;
  EvcpCentralCp *cp = evcp_central_registry_ensure (self->registry, cp_id);

  if (cp->peers[role] != NULL && cp->peers[role] != peer)
    {
      EvcpCentralPeer *old = cp->peers[role];

      /* TRANSLATORS: CP id, role, the old connection's address */
      g_message (_("%s: a new %s connection replaces the one from %s"),
                 cp_id, evcp_central_role_name (role), evcp_central_peer_name (old));
      cp->peers[role] = NULL;
      old->cp = NULL;
      evcp_central_link_close (old->link, TRUE, _("replaced by a new connection"));
    }
  peer->cp = cp;
  peer->role = role;
  cp->peers[role] = peer;
  evcp_central_registry_connected (self->registry, cp, location, price);

  peer_send (peer, ok);
  price_text = evcp_central_format_amount (price, "%.2f");
  /* TRANSLATORS: CP id, ENGINE or MONITOR, address, location, price */
  g_message (_("%s: %s connected from %s (%s, %s EUR/kWh)"),
             cp_id, evcp_central_role_name (role), evcp_central_peer_name (peer), location, price_text);
  evcp_central_registry_changed (self->registry);
}

/* A CP with a secret: a CHALLENGE first, AUTH_OK only on the right PROOF
 * (docs/protocol.md, A1..A8). */
static void
challenge (EvcpCentralServer *self, EvcpCentralPeer *peer, gchar **fields, guint n, EvcpCentralRegistryRole role, gdouble price)
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
  g_debug ("%s: CHALLENGE for %s", evcp_central_peer_name (peer), cp_id);
  peer_send (peer, frame);
}

static void
handle_auth (EvcpCentralServer *self, EvcpCentralPeer *peer, gchar **fields, guint n)
{
  const gchar *cp_id = n > 1 ? fields[1] : "";
  gdouble price;
  EvcpCentralRegistryRole role;

  /* A connection that authenticates again, maybe as another CP, is no
   * longer the one it was until it has proved the new identity. */
  clear_pending (peer);
  if (peer->cp != NULL && peer->cp->peers[peer->role] == peer)
    {
      peer->cp->peers[peer->role] = NULL;
      evcp_central_registry_changed (self->registry);
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
    role = EVCP_CENTRAL_REGISTRY_ENGINE;
  else if (g_str_equal (fields[2], "MONITOR"))
    role = EVCP_CENTRAL_REGISTRY_MONITOR;
  else
    {
      auth_ko (peer, cp_id, "bad role");
      return;
    }
  if (!evcp_central_parse_amount (fields[4], &price))
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
handle_proof (EvcpCentralServer *self, EvcpCentralPeer *peer, gchar **fields, guint n)
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
  if (n < 3 || !evcp_central_auth_check (secret, nonce, cp_id, evcp_central_role_name (peer->pending.role), fields[2]))
    {
      self->stats.auth_refused++;
      auth_ko (peer, cp_id, "bad proof");
      return;
    }
  accept_auth (self, peer, cp_id, peer->pending.role, location, peer->pending.price);
}

static void
handle_state (EvcpCentralServer *self, EvcpCentralCp *cp, gchar **fields, guint n)
{
  gint64 seq = -1;

  /* STATE#<cp>#<state>#<seq> */
  if (!evcp_central_is_engine_state (fields[2]))
    {
      g_warning (_("%s: unknown state “%s”, ignored"), cp->id, fields[2]);
      return;
    }
  if (n > 3 && !evcp_central_parse_seq (fields[3], &seq))
    g_warning (_("%s: STATE with an invalid seq “%s”: applied without deduplication"), cp->id, fields[3]);
  evcp_central_registry_check_link_seq (self->registry, cp, EVCP_CENTRAL_REGISTRY_ENGINE, seq);
  evcp_central_registry_apply_state (self->registry, cp, fields[2], seq, EVCP_CENTRAL_SOURCE_LINK);
}

static void
handle_supply (EvcpCentralServer *self, EvcpCentralCp *cp, gchar **fields, guint n)
{
  gdouble kwh, eur;

  /* SUPPLY#<cp>#<session>#<driver>#<kwh>#<eur> */
  if (!evcp_central_parse_amount (fields[4], &kwh) || !evcp_central_parse_amount (fields[5], &eur))
    {
      g_warning (_("%s: SUPPLY with invalid amounts, ignored"), cp->id);
      return;
    }
  g_debug ("%s: supplying session %s: %s kWh, %s EUR", cp->id, fields[2], fields[4], fields[5]);
  evcp_central_cp_set_session (cp, fields[2], fields[3], kwh, eur);
  evcp_central_registry_changed (self->registry);
}

static void
handle_ticket (EvcpCentralServer *self, EvcpCentralCp *cp, gchar **fields, guint n)
{
  EvcpCentralTicket ticket = { 0 };

  /* TICKET#<cp>#<session>#<driver>#<kwh>#<eur>#<reason>#<seq> */
  ticket.cp_id = cp->id;
  ticket.session_id = fields[2];
  ticket.driver = fields[3];
  ticket.reason = fields[6];
  ticket.seq = -1;
  ticket.source = EVCP_CENTRAL_SOURCE_LINK;
  if (*ticket.session_id == '\0' || !evcp_central_parse_amount (fields[4], &ticket.kwh) ||
      !evcp_central_parse_amount (fields[5], &ticket.eur))
    {
      g_warning (_("%s: TICKET with an empty session or invalid amounts, ignored"), cp->id);
      return;
    }
  if (n > 7 && !evcp_central_parse_seq (fields[7], &ticket.seq))
    g_warning (_("%s: TICKET with an invalid seq “%s”: deduplicated by its session only"), cp->id, fields[7]);
  evcp_central_registry_check_link_seq (self->registry, cp, EVCP_CENTRAL_REGISTRY_ENGINE, ticket.seq);
  evcp_central_registry_apply_ticket (self->registry, cp, &ticket);
}

static void
handle_fault (EvcpCentralServer *self, EvcpCentralCp *cp, gchar **fields, guint n)
{
  gint64 seq = -1;

  /* FAULT#<cp>#<reason>#<seq> */
  if (n > 3 && !evcp_central_parse_seq (fields[3], &seq))
    g_warning (_("%s: FAULT with an invalid seq “%s”: applied without deduplication"), cp->id, fields[3]);
  evcp_central_registry_check_link_seq (self->registry, cp, EVCP_CENTRAL_REGISTRY_MONITOR, seq);
  evcp_central_registry_apply_fault (self->registry, cp, fields[2], seq, EVCP_CENTRAL_SOURCE_LINK);
}

static void
handle_recovered (EvcpCentralServer *self, EvcpCentralCp *cp, gchar **fields, guint n)
{
  gint64 seq = -1;

  /* RECOVERED#<cp>#<seq> */
  if (n > 2 && !evcp_central_parse_seq (fields[2], &seq))
    g_warning (_("%s: RECOVERED with an invalid seq “%s”: applied without deduplication"), cp->id, fields[2]);
  evcp_central_registry_check_link_seq (self->registry, cp, EVCP_CENTRAL_REGISTRY_MONITOR, seq);
  evcp_central_registry_apply_recovered (self->registry, cp, seq, EVCP_CENTRAL_SOURCE_LINK);
}

typedef void (*FrameHandler) (EvcpCentralServer *self, EvcpCentralCp *cp, gchar **fields, guint n);

static const struct {
  const gchar  *verb;
  EvcpCentralRegistryRole          role;
  guint         min_fields;   /* the verb and the cp included */
  FrameHandler  handler;
} frame_handlers[] = {
  { "STATE",     EVCP_CENTRAL_REGISTRY_ENGINE,  3, handle_state },
  { "SUPPLY",    EVCP_CENTRAL_REGISTRY_ENGINE,  6, handle_supply },
  { "TICKET",    EVCP_CENTRAL_REGISTRY_ENGINE,  7, handle_ticket },
  { "FAULT",     EVCP_CENTRAL_REGISTRY_MONITOR, 3, handle_fault },
  { "RECOVERED", EVCP_CENTRAL_REGISTRY_MONITOR, 2, handle_recovered },
};

/* A frame of use: the peer's strikes start again, and it is not idle. */
static void
useful (EvcpCentralPeer *peer)
{
  peer->useful_at = g_get_monotonic_time ();
  evcp_central_link_forgive (peer->link);
}

/* A frame of no use: a strike (too many in a row close the link); logged
 * while the strikes are few. Returns: whether to log it. */
static gboolean
useless (EvcpCentralPeer *peer, const gchar *why)
{
  return evcp_central_link_strike (peer->link, why) <= EVCP_CENTRAL_LINK_LOGGED_STRIKES;
}

static void
dispatch (EvcpCentralServer *self, EvcpCentralPeer *peer, const gchar *data, gchar **fields, guint n)
{
  const gchar *verb = fields[0];
  EvcpCentralCp *cp = peer->cp;

  for (guint i = 0; i < G_N_ELEMENTS (frame_handlers); i++)
    {
      if (!g_str_equal (verb, frame_handlers[i].verb))
        continue;
      if (cp == NULL)
        {
          if (useless (peer, verb))
            /* TRANSLATORS: the peer's address, a verb */
            g_warning (_("%s: %s before AUTH, ignored"), evcp_central_peer_name (peer), verb);
          return;
        }
      if (n < 2 || !g_str_equal (fields[1], cp->id))
        {
          if (useless (peer, verb))
            /* TRANSLATORS: CP id, verb, the CP id of the frame */
            g_warning (_("%s: %s for another CP (“%s”), ignored"), cp->id, verb, n > 1 ? fields[1] : "");
          return;
        }
      evcp_central_cp_touch (cp);
      if (peer->role != frame_handlers[i].role)
        {
          if (useless (peer, verb))
            /* TRANSLATORS: CP id, verb, ENGINE or MONITOR */
            g_warning (_("%s: %s from the %s, ignored"), cp->id, verb, evcp_central_role_name (peer->role));
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
    g_warning (_("%s: unknown verb “%s”, acknowledged and ignored"), evcp_central_peer_name (peer), verb);
}

static void
on_frame (EvcpCentralLink *link, const gchar *data, GStrv fields, gpointer user_data)
{
  EvcpCentralPeer *peer = user_data;
  EvcpCentralServer *self = peer->server;
  guint n = g_strv_length (fields);
  const gchar *verb = fields[0];

  if (peer->dead)
    return;
  self->stats.frames++;
  g_debug ("%s: received %s", evcp_central_peer_name (peer), data);

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
          evcp_central_cp_touch (peer->cp);
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
  EvcpCentralPeer *peer = user_data;

  peer->server->stats.bad++;
  if (strikes <= EVCP_CENTRAL_LINK_LOGGED_STRIKES)
    /* TRANSLATORS: the peer's address, then why (bad-lrc, outside-frame…) */
    g_message (_("%s: bytes dropped (%s), answered NACK"), evcp_central_peer_name (peer), reason);
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
  EvcpCentralPeer *peer = user_data;

  if (is_command (data))
    /* TRANSLATORS: the address of the Engine, the frame */
    g_message (_("%s: %s acknowledged"), evcp_central_peer_name (peer), data);
}

static void
on_failed (EvcpCentralLink *link, const gchar *data, gpointer user_data)
{
  EvcpCentralPeer *peer = user_data;
  g_autofree gchar *resends = g_strdup_printf ("%u", peer->server->max_resends);

  /* TRANSLATORS: the peer's address, the frame, the number of resends */
  g_warning (_("%s: %s never acknowledged (sent again %s times): the link is broken, closing it"),
             evcp_central_peer_name (peer), data, resends);
}

static void
on_closed (EvcpCentralLink *link, const gchar *reason, gpointer user_data)
{
  EvcpCentralPeer *peer = user_data;
  EvcpCentralServer *self = peer->server;

  peer->dead = TRUE;
  if (peer->cp != NULL && peer->cp->peers[peer->role] == peer)
    {
      peer->cp->peers[peer->role] = NULL;
      /* TRANSLATORS: CP id, ENGINE or MONITOR, why */
      g_message (_("%s: %s disconnected (%s)"), peer->cp->id, evcp_central_role_name (peer->role), reason);
      evcp_central_registry_changed (self->registry);
    }
  else
    g_debug ("%s: connection closed (%s)", evcp_central_peer_name (peer), reason);
  evcp_central_server_schedule_prune (self);
}

void
evcp_central_peer_free (EvcpCentralPeer *peer)
{
  clear_pending (peer);
  g_signal_handlers_disconnect_by_data (peer->link, peer);
  g_object_unref (peer->link);
  g_free (peer);
}

/**
 * evcp_central_peer_new:
 *
 * A connection just accepted: its frames are read and answered from now on.
 */
EvcpCentralPeer *
evcp_central_peer_new (EvcpCentralServer *self, GSocketConnection *connection)
{
  EvcpCentralPeer *peer = g_new0 (EvcpCentralPeer, 1);

  peer->server = self;
  peer->accepted_at = peer->useful_at = g_get_monotonic_time ();
  peer->link = evcp_central_link_new (connection, self->ack_timeout_ms, self->max_resends);
  g_signal_connect (peer->link, "frame", G_CALLBACK (on_frame), peer);
  g_signal_connect (peer->link, "bad", G_CALLBACK (on_bad), peer);
  g_signal_connect (peer->link, "delivered", G_CALLBACK (on_delivered), peer);
  g_signal_connect (peer->link, "failed", G_CALLBACK (on_failed), peer);
  g_signal_connect (peer->link, "closed", G_CALLBACK (on_closed), peer);
  return peer;
}

