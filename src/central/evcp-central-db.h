/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/*
 * EvcpCentralDb: what the reference Central keeps in SQLite.
 *
 *   cps       the registry: id, location, price, last state, last seen
 *   seqs      every (cp, role, seq) already applied: the deduplication of
 *             reliable frames and events, whichever path they came by
 *   tickets   one row per ended session, UNIQUE (cp_id, session_id)
 *   events    state changes, faults, recoveries, with their seq
 *   cp_secrets the secret of each CP that must prove its identity in AUTH
 *
 * Every write is committed before the call returns (SQLite's default
 * rollback journal, synchronous=FULL), so a file opened read-only after the
 * process exited holds everything that was acknowledged.
 */

#define EVCP_CENTRAL_DB_NO_SEQ (-1)

typedef struct {
  const gchar *cp_id;
  const gchar *session_id;
  const gchar *driver;
  gdouble      kwh;
  gdouble      eur;
  const gchar *reason;
  gint64       seq;      /* EVCP_CENTRAL_DB_NO_SEQ if the sender gave none */
  const gchar *source;   /* "link" or "kafka" */
} EvcpCentralTicket;

typedef struct {
  gchar   *id;
  gchar   *location;
  gdouble  price_eur_kwh;
  gchar   *state;
  gchar   *last_seen;    /* ISO 8601 */
} EvcpCentralDbCp;

void evcp_central_db_cp_free (EvcpCentralDbCp *cp);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EvcpCentralDbCp, evcp_central_db_cp_free)

#define EVCP_TYPE_CENTRAL_DB (evcp_central_db_get_type ())
G_DECLARE_FINAL_TYPE (EvcpCentralDb, evcp_central_db, EVCP, CENTRAL_DB, GObject)

EvcpCentralDb *evcp_central_db_open        (const gchar              *path,
                                            GError                  **error) G_GNUC_WARN_UNUSED_RESULT;
const gchar   *evcp_central_db_get_path    (EvcpCentralDb            *self);
void           evcp_central_db_close       (EvcpCentralDb            *self);

gboolean       evcp_central_db_begin       (EvcpCentralDb            *self,
                                            GError                  **error);
gboolean       evcp_central_db_commit      (EvcpCentralDb            *self,
                                            GError                  **error);
void           evcp_central_db_rollback    (EvcpCentralDb            *self);

gboolean       evcp_central_db_save_cp     (EvcpCentralDb            *self,
                                            const gchar              *cp_id,
                                            const gchar              *location,
                                            gdouble                   price_eur_kwh,
                                            GError                  **error);
gboolean       evcp_central_db_set_state   (EvcpCentralDb            *self,
                                            const gchar              *cp_id,
                                            const gchar              *state,
                                            GError                  **error);
/* (element-type EvcpCentralDbCp) (transfer full) */
GPtrArray     *evcp_central_db_list_cps    (EvcpCentralDb            *self,
                                            GError                  **error);

/* Records (cp, role, seq); *fresh is FALSE if it was there already. */
gboolean       evcp_central_db_claim_seq   (EvcpCentralDb            *self,
                                            const gchar              *cp_id,
                                            const gchar              *role,
                                            gint64                    seq,
                                            const gchar              *verb,
                                            const gchar              *source,
                                            gboolean                 *fresh,
                                            GError                  **error);
/* The highest seq recorded for (cp, role), or EVCP_CENTRAL_DB_NO_SEQ. */
gint64         evcp_central_db_max_seq     (EvcpCentralDb            *self,
                                            const gchar              *cp_id,
                                            const gchar              *role);

/* *fresh is FALSE if a ticket for (cp_id, session_id) was there already. */
gboolean       evcp_central_db_add_ticket  (EvcpCentralDb            *self,
                                            const EvcpCentralTicket  *ticket,
                                            gboolean                 *fresh,
                                            GError                  **error);
guint          evcp_central_db_count_tickets (EvcpCentralDb          *self,
                                            const gchar              *cp_id);

gboolean       evcp_central_db_add_event   (EvcpCentralDb            *self,
                                            const gchar              *cp_id,
                                            const gchar              *role,
                                            const gchar              *kind,
                                            const gchar              *detail,
                                            gint64                    seq,
                                            const gchar              *source,
                                            GError                  **error);

gboolean       evcp_central_db_set_secret  (EvcpCentralDb            *self,
                                            const gchar              *cp_id,
                                            const gchar              *secret,
                                            GError                  **error);
/* (element-type utf8 utf8) (transfer full): cp id → secret */
GHashTable    *evcp_central_db_list_secrets (EvcpCentralDb           *self,
                                            GError                  **error);

G_END_DECLS
