/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "evcp-central"

#include "evcp-build-config.h"

#include <math.h>
#include <string.h>

#include <glib/gi18n-lib.h>

#include "evcp-central-registry.h"
#include "evcp-log.h"

struct _EvcpCentralRegistry
{
  EvcpCentralDb            *db;
  GHashTable               *cps;     /* id → EvcpCentralCp*, owned */
  EvcpCentralRegistryStats  stats;
  void                    (*changed) (gpointer user_data);
  gpointer                  changed_data;
  gboolean kafka; /* consuming Kafka: link gaps may be filled there */
  guint gap_grace_ms;
  guint gap_timer;
};

/* At most this many seqs remembered per (cp, role) for the gap accounting. */
#define MAX_TRACKED_SEQS 65536

static const gchar *const role_names[EVCP_CENTRAL_REGISTRY_N_ROLES] = { "ENGINE", "MONITOR" };

const gchar *
evcp_central_role_name (EvcpCentralRegistryRole role)
{
  g_return_val_if_fail (role < EVCP_CENTRAL_REGISTRY_N_ROLES, "?");
  return role_names[role];
}

/* ---- text of the fields -------------------------------------------------- */

gboolean
evcp_central_parse_seq (const gchar *text, gint64 *seq)
{
  return text != NULL && g_ascii_string_to_signed (text, 10, 0, G_MAXINT64, seq, NULL);
}

/* A non-negative finite number with a dot as decimal separator. */
gboolean
evcp_central_parse_amount (const gchar *text, gdouble *value)
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

gchar *
evcp_central_format_amount (gdouble value, const gchar *format)
{
  gchar buf[G_ASCII_DTOSTR_BUF_SIZE];

  return g_strdup (g_ascii_formatd (buf, sizeof buf, format, value));
}

static gchar *
format_seq (gint64 seq)
{
  return seq >= 0 ? g_strdup_printf ("%" G_GINT64_FORMAT, seq) : g_strdup ("-");
}

gboolean
evcp_central_is_engine_state (const gchar *state)
{
  return g_strcmp0 (state, "ACTIVE") == 0 || g_strcmp0 (state, "SUPPLYING") == 0 ||
         g_strcmp0 (state, "STOPPED") == 0 || g_strcmp0 (state, "FAULT") == 0;
}

/* ---- the registry ---------------------------------------------------------- */

static void
cp_free (EvcpCentralCp *cp)
{
  g_free (cp->id);
  g_free (cp->location);
  g_free (cp->engine_state);
  g_free (cp->fault_reason);
  g_free (cp->stored_state);
  g_free (cp->session_id);
  g_free (cp->driver);
  g_free (cp->ended_session);
  for (guint r = 0; r < EVCP_CENTRAL_REGISTRY_N_ROLES; r++)
    {
      g_clear_pointer (&cp->kafka_seqs[r], g_hash_table_unref);
      g_clear_pointer (&cp->missing[r], g_hash_table_unref);
    }
  g_free (cp);
}

EvcpCentralRegistry *
evcp_central_registry_new (EvcpCentralDb *db)
{
  EvcpCentralRegistry *self = g_new0 (EvcpCentralRegistry, 1);

  self->db = g_object_ref (db);
  self->cps = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) cp_free);
  return self;
}

void
evcp_central_registry_free (EvcpCentralRegistry *self)
{
  if (self == NULL)
    return;
  g_clear_handle_id (&self->gap_timer, g_source_remove);
  g_hash_table_unref (self->cps);
  g_object_unref (self->db);
  g_free (self);
}

void
evcp_central_registry_set_changed_func (EvcpCentralRegistry *self,
                                        void (*func) (gpointer user_data),
                                        gpointer             user_data)
{
  self->changed = func;
  self->changed_data = user_data;
}

void
evcp_central_registry_changed (EvcpCentralRegistry *self)
{
  if (self->changed != NULL)
    self->changed (self->changed_data);
}

EvcpCentralCp *
evcp_central_registry_lookup (EvcpCentralRegistry *self, const gchar *id)
{
  return g_hash_table_lookup (self->cps, id);
}

GList *
evcp_central_registry_get_ids (EvcpCentralRegistry *self)
{
  return g_list_sort (g_hash_table_get_keys (self->cps), (GCompareFunc) g_strcmp0);
}

const EvcpCentralRegistryStats *
evcp_central_registry_get_stats (EvcpCentralRegistry *self)
{
  return &self->stats;
}

void
evcp_central_registry_load (EvcpCentralRegistry *self)
{
  g_autoptr(GPtrArray) known = NULL;
  g_autoptr(GError) error = NULL;

  known = evcp_central_db_list_cps (self->db, &error);
  if (known == NULL)
    g_warning ("%s", error->message);
  for (guint i = 0; known != NULL && i < known->len; i++)
    {
      EvcpCentralDbCp *row = g_ptr_array_index (known, i);
      EvcpCentralCp *cp = evcp_central_registry_ensure (self, row->id);

      g_free (cp->location);
      cp->location = g_strdup (row->location != NULL ? row->location : "");
      cp->price_eur_kwh = row->price_eur_kwh;
      if (evcp_central_is_engine_state (row->state))
        cp->engine_state = g_strdup (row->state);
      cp->stored_state = g_strdup (row->state);
      if (row->last_seen != NULL)
        {
          g_autoptr(GDateTime) seen = g_date_time_new_from_iso8601 (row->last_seen, NULL);

          if (seen != NULL)
            cp->last_seen = g_date_time_to_unix (seen) * G_USEC_PER_SEC;
        }
    }
}

EvcpCentralCp *
evcp_central_registry_ensure (EvcpCentralRegistry *self, const gchar *id)
{
  EvcpCentralCp *cp = g_hash_table_lookup (self->cps, id);

  if (cp != NULL)
    return cp;
  cp = g_new0 (EvcpCentralCp, 1);
  cp->id = g_strdup (id);
  cp->location = g_strdup ("");
  cp->state_seq = -1;
  cp->monitor_seq = -1;
  for (guint r = 0; r < EVCP_CENTRAL_REGISTRY_N_ROLES; r++)
    {
      cp->link_seq[r] = evcp_central_db_max_seq (self->db, id, evcp_central_role_name (r));
      cp->kafka_seqs[r] = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
      cp->missing[r] = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);
    }
  cp->tickets = evcp_central_db_count_tickets (self->db, id);
  g_hash_table_insert (self->cps, cp->id, cp);
  return cp;
}

const gchar *
evcp_central_cp_displayed_state (EvcpCentralCp *cp)
{
  if (cp->fault)
    return "FAULT";
  return cp->engine_state != NULL ? cp->engine_state : "UNKNOWN";
}

/* Keeps the database's last state in step with what is shown. */
static void
refresh_state (EvcpCentralRegistry *self, EvcpCentralCp *cp)
{
  const gchar *state = evcp_central_cp_displayed_state (cp);
  g_autoptr(GError) error = NULL;

  if (g_strcmp0 (state, cp->stored_state) == 0)
    return;
  g_free (cp->stored_state);
  cp->stored_state = g_strdup (state);
  if (!evcp_central_db_set_state (self->db, cp->id, state, &error))
    g_warning ("%s", error->message);
}

void
evcp_central_cp_touch (EvcpCentralCp *cp)
{
  cp->last_seen = g_get_real_time ();
}

static void
clear_session (EvcpCentralCp *cp)
{
  g_clear_pointer (&cp->session_id, g_free);
  g_clear_pointer (&cp->driver, g_free);
  cp->kwh = cp->eur = 0;
}

void
evcp_central_cp_set_session (EvcpCentralCp *cp, const gchar *session_id, const gchar *driver, gdouble kwh, gdouble eur)
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
begin_claim (EvcpCentralRegistry *self, EvcpCentralCp *cp, EvcpCentralRegistryRole role, gint64 seq,
             const gchar *verb, const gchar *source)
{
  g_autoptr(GError) error = NULL;
  gboolean fresh = TRUE;

  if (!evcp_central_db_begin (self->db, &error))
    {
      g_warning ("%s", error->message);
      return TRUE;
    }
  if (seq >= 0 && !evcp_central_db_claim_seq (self->db, cp->id, evcp_central_role_name (role), seq, verb,
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
      /* expected (the link and Kafka carry the same records, frames are
       * resent): counted in stats.duplicates, said at info only */
      EVCP_INFO (_("%s: duplicate %s from the %s (seq %s, by %s): acknowledged, not applied again"), cp->id, verb,
                 evcp_central_role_name (role), seq_text, source);
      return FALSE;
    }
  return TRUE;
}

static void
end_claim (EvcpCentralRegistry *self)
{
  g_autoptr(GError) error = NULL;

  if (!evcp_central_db_commit (self->db, &error))
    {
      g_warning ("%s", error->message);
      evcp_central_db_rollback (self->db);
    }
}

static void
add_event (EvcpCentralRegistry *self, EvcpCentralCp *cp, EvcpCentralRegistryRole role, const gchar *kind,
           const gchar *detail, gint64 seq, const gchar *source)
{
  g_autoptr(GError) error = NULL;

  if (!evcp_central_db_add_event (self->db, cp->id, evcp_central_role_name (role), kind, detail, seq, source, &error))
    g_warning ("%s", error->message);
}

/* ---- gaps in the seqs ---------------------------------------------------------- */

static void
gap_warning (EvcpCentralRegistry *self, EvcpCentralCp *cp, EvcpCentralRegistryRole role, gint64 first, gint64 last,
             guint count)
{
  g_autofree gchar *first_text = format_seq (first);
  g_autofree gchar *end_text = format_seq (last);

  self->stats.gaps++;
  if (self->kafka)
    /* TRANSLATORS: CP id, role, first and last missing sequence numbers, how many, seconds */
    g_warning (_("%s: gap in the seqs of the %s: %s to %s (%u) never arrived, on the link or on Kafka "
                  "within %u s"),
               cp->id, evcp_central_role_name (role), first_text, end_text, count, (self->gap_grace_ms + 999) / 1000);
  else
    /* TRANSLATORS: CP id, role, first and last missing sequence numbers */
    g_warning (_("%s: gap in the seqs of the %s: %s to %s never arrived (without Kafka, the seqs "
                  "of events only Kafka carries look missing too)"),
               cp->id, evcp_central_role_name (role), first_text, end_text);
}

/* Warns once per (cp, role) about the seqs whose grace ran out. */
static gboolean
check_missing_cb (gpointer user_data)
{
  EvcpCentralRegistry *self = user_data;
  gint64 now = g_get_monotonic_time ();
  gboolean pending = FALSE;
  GHashTableIter cps;
  EvcpCentralCp *cp;

  g_hash_table_iter_init (&cps, self->cps);
  while (g_hash_table_iter_next (&cps, NULL, (gpointer *) &cp))
    for (guint r = 0; r < EVCP_CENTRAL_REGISTRY_N_ROLES; r++)
      {
        GHashTableIter iter;
        gint64 *seq, *deadline;
        gint64 first = G_MAXINT64, last = -1;
        guint count = 0;

        g_hash_table_iter_init (&iter, cp->missing[r]);
        while (g_hash_table_iter_next (&iter, (gpointer *) &seq, (gpointer *) &deadline))
          {
            if (*deadline > now)
              {
                pending = TRUE;
                continue;
              }
            first = MIN (first, *seq);
            last = MAX (last, *seq);
            count++;
            g_hash_table_iter_remove (&iter);
          }
        if (count > 0)
          gap_warning (self, cp, r, first, last, count);
      }
  if (pending)
    return G_SOURCE_CONTINUE;
  self->gap_timer = 0;
  return G_SOURCE_REMOVE;
}

void
evcp_central_registry_set_kafka (EvcpCentralRegistry *self, gboolean consuming, guint grace_ms)
{
  self->kafka = consuming;
  self->gap_grace_ms = MAX (grace_ms, 1);
}

static void
insert_seq (GHashTable *table, gint64 seq, gint64 *value)
{
  if (g_hash_table_size (table) >= MAX_TRACKED_SEQS)
    g_hash_table_remove_all (table);
  g_hash_table_insert (table, g_memdup2 (&seq, sizeof seq), value);
}

void
evcp_central_registry_note_kafka_seq (EvcpCentralRegistry *self, EvcpCentralCp *cp, EvcpCentralRegistryRole role,
                                      gint64 seq)
{
  if (seq < 0)
    return;
  /* awaited: the link skipped it, Kafka brought it */
  if (g_hash_table_remove (cp->missing[role], &seq))
    return;
  if (seq > cp->link_seq[role])
    insert_seq (cp->kafka_seqs[role], seq, NULL);
}

/* Forgets the Kafka seqs the link has gone past. */
static void
prune_kafka_seqs (EvcpCentralCp *cp, EvcpCentralRegistryRole role)
{
  GHashTableIter iter;
  gint64 *seq;

  g_hash_table_iter_init (&iter, cp->kafka_seqs[role]);
  while (g_hash_table_iter_next (&iter, (gpointer *) &seq, NULL))
    if (*seq <= cp->link_seq[role])
      g_hash_table_iter_remove (&iter);
}

/* A gap in the seqs that came over the link from one program of one CP:
 * seqs Kafka brought are no gap; while Kafka is consumed, the others are
 * awaited there for the grace before they are reported. */
void
evcp_central_registry_check_link_seq (EvcpCentralRegistry *self, EvcpCentralCp *cp, EvcpCentralRegistryRole role, gint64 seq)
{
  gint64 last = cp->link_seq[role];
  gint64 deadline = g_get_monotonic_time () + (gint64) self->gap_grace_ms * 1000;

  if (seq < 0)
    return;
  /* a late frame that was awaited */
  g_hash_table_remove (cp->missing[role], &seq);
  if (last >= 0 && seq > last + 1 && !self->kafka)
    gap_warning (self, cp, role, last + 1, seq - 1, (guint) MIN (seq - 1 - last, G_MAXUINT));
  else if (last >= 0 && seq > last + 1)
    {
      for (gint64 s = MAX (last + 1, seq - MAX_TRACKED_SEQS); s < seq; s++)
        if (!g_hash_table_contains (cp->kafka_seqs[role], &s))
          insert_seq (cp->missing[role], s, g_memdup2 (&deadline, sizeof deadline));
      if (g_hash_table_size (cp->missing[role]) > 0 && self->gap_timer == 0)
        self->gap_timer = g_timeout_add (self->gap_grace_ms, check_missing_cb, self);
    }
  if (seq > last)
    {
      cp->link_seq[role] = seq;
      prune_kafka_seqs (cp, role);
    }
}

/* Applies a state of the Engine unless a newer one is known. */
gboolean
evcp_central_registry_set_engine_state (EvcpCentralRegistry *self, EvcpCentralCp *cp, const gchar *state, gint64 seq)
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

void
evcp_central_registry_apply_state (EvcpCentralRegistry *self, EvcpCentralCp *cp, const gchar *state, gint64 seq, const gchar *source)
{
  g_autofree gchar *seq_text = format_seq (seq);

  if (!begin_claim (self, cp, EVCP_CENTRAL_REGISTRY_ENGINE, seq, "STATE", source))
    return;
  add_event (self, cp, EVCP_CENTRAL_REGISTRY_ENGINE, "STATE", state, seq, source);
  end_claim (self);
  if (evcp_central_registry_set_engine_state (self, cp, state, seq))
    /* TRANSLATORS: CP id, state, sequence number */
    g_message (_("%s: state %s (seq %s)"), cp->id, state, seq_text);
  evcp_central_registry_changed (self);
}

/* Returns: whether the seq was new (the ticket itself may still be a
 * duplicate by its session id). */
gboolean
evcp_central_registry_apply_ticket (EvcpCentralRegistry *self, EvcpCentralCp *cp, const EvcpCentralTicket *ticket)
{
  g_autoptr(GError) error = NULL;
  gboolean fresh = TRUE;

  if (!begin_claim (self, cp, EVCP_CENTRAL_REGISTRY_ENGINE, ticket->seq, "TICKET", ticket->source))
    return FALSE;
  if (!evcp_central_db_add_ticket (self->db, ticket, &fresh, &error))
    g_warning ("%s", error->message);
  end_claim (self);

  if (!fresh)
    {
      self->stats.duplicate_tickets++;
      /* TRANSLATORS: CP id, session id, where it came from */
      EVCP_INFO (_("%s: the ticket of session %s is already recorded (%s): kept once"), cp->id, ticket->session_id,
                 ticket->source);
    }
  else
    {
      g_autofree gchar *kwh = evcp_central_format_amount (ticket->kwh, "%.3f");
      g_autofree gchar *eur = evcp_central_format_amount (ticket->eur, "%.2f");

      cp->tickets++;
      /* TRANSLATORS: CP id, session, driver, kWh, EUR, reason, where it came from */
      g_message (_("%s: ticket of session %s for %s: %s kWh, %s EUR, %s (%s)"),
                 cp->id, ticket->session_id, ticket->driver, kwh, eur, ticket->reason, ticket->source);
    }
  if (cp->session_id == NULL || g_str_equal (cp->session_id, ticket->session_id))
    clear_session (cp);
  g_free (cp->ended_session);
  cp->ended_session = g_strdup (ticket->session_id);
  evcp_central_registry_changed (self);
  return TRUE;
}

void
evcp_central_registry_apply_fault (EvcpCentralRegistry *self, EvcpCentralCp *cp, const gchar *reason, gint64 seq, const gchar *source)
{
  if (!begin_claim (self, cp, EVCP_CENTRAL_REGISTRY_MONITOR, seq, "FAULT", source))
    return;
  add_event (self, cp, EVCP_CENTRAL_REGISTRY_MONITOR, "FAULT", reason, seq, source);
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
  evcp_central_registry_changed (self);
}

void
evcp_central_registry_apply_recovered (EvcpCentralRegistry *self, EvcpCentralCp *cp, gint64 seq, const gchar *source)
{
  if (!begin_claim (self, cp, EVCP_CENTRAL_REGISTRY_MONITOR, seq, "RECOVERED", source))
    return;
  add_event (self, cp, EVCP_CENTRAL_REGISTRY_MONITOR, "RECOVERED", NULL, seq, source);
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
  evcp_central_registry_changed (self);
}

void
evcp_central_registry_connected (EvcpCentralRegistry *self,
                                 EvcpCentralCp       *cp,
                                 const gchar         *location,
                                 gdouble              price)
{
  g_autoptr(GError) error = NULL;

  if (g_strcmp0 (cp->location, location) != 0)
    {
      g_free (cp->location);
      cp->location = g_strdup (location);
    }
  cp->price_eur_kwh = price;
  evcp_central_cp_touch (cp);
  if (!evcp_central_db_save_cp (self->db, cp->id, location, price, &error))
    g_warning ("%s", error->message);
  refresh_state (self, cp);
}

void
evcp_central_registry_monitor_status (EvcpCentralRegistry *self,
                                      EvcpCentralCp       *cp,
                                      gint64               seq,
                                      gboolean             ko,
                                      const gchar         *reason)
{
  if (seq < 0 || (cp->monitor_seq >= 0 && seq <= cp->monitor_seq))
    return;
  cp->monitor_seq = seq;
  cp->fault = ko;
  if (!cp->fault)
    g_clear_pointer (&cp->fault_reason, g_free);
  else if (cp->fault_reason == NULL)
    cp->fault_reason = g_strdup (reason != NULL && *reason != '\0' ? reason : "KO");
  refresh_state (self, cp);
  evcp_central_registry_changed (self);
}

/* A refusal is best effort and takes no seq of its own: its seq is the
 * Engine's latest, that of a STATE or TICKET. Claiming it would drop the
 * refusal as a duplicate of that record, or, if the refusal comes first,
 * that record. Recorded with its seq, without the claim. */
void
evcp_central_registry_add_refusal (EvcpCentralRegistry *self,
                                   EvcpCentralCp       *cp,
                                   const gchar         *detail,
                                   gint64               seq,
                                   const gchar         *source)
{
  if (!begin_claim (self, cp, EVCP_CENTRAL_REGISTRY_ENGINE, -1, "REQUEST_REFUSED", source))
    return;
  add_event (self, cp, EVCP_CENTRAL_REGISTRY_ENGINE, "REFUSED", detail, seq, source);
  end_claim (self);
  /* TRANSLATORS: CP id, "user: reason" */
  g_message (_("%s: request refused (%s)"), cp->id, detail);
  evcp_central_registry_changed (self);
}
