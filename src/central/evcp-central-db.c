/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "evcp-central"

#include "evcp-build-config.h"

#include <errno.h>

#include <glib/gi18n-lib.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <sqlite3.h>

#include "evcp-central-db.h"
#include "evcp-error.h"

#define SCHEMA_VERSION  1
#define BUSY_TIMEOUT_MS 5000

static const gchar schema[] =
  "CREATE TABLE IF NOT EXISTS cps ("
  "  id            TEXT PRIMARY KEY,"
  "  location      TEXT NOT NULL DEFAULT '',"
  "  price_eur_kwh REAL,"
  "  state         TEXT,"
  "  last_seen     TEXT"
  ");"
  "CREATE TABLE IF NOT EXISTS seqs ("
  "  cp_id       TEXT NOT NULL,"
  "  role        TEXT NOT NULL,"
  "  seq         INTEGER NOT NULL,"
  "  verb        TEXT NOT NULL,"
  "  source      TEXT NOT NULL,"
  "  received_at TEXT NOT NULL,"
  "  PRIMARY KEY (cp_id, role, seq)"
  ") WITHOUT ROWID;"
  "CREATE TABLE IF NOT EXISTS tickets ("
  "  id          INTEGER PRIMARY KEY,"
  "  session_id  TEXT NOT NULL,"
  "  cp_id       TEXT NOT NULL,"
  "  driver      TEXT NOT NULL,"
  "  kwh         REAL NOT NULL,"
  "  eur         REAL NOT NULL,"
  "  reason      TEXT NOT NULL,"
  "  seq         INTEGER,"
  "  source      TEXT NOT NULL,"
  "  received_at TEXT NOT NULL,"
  "  UNIQUE (cp_id, session_id)"
  ");"
  "CREATE TABLE IF NOT EXISTS events ("
  "  id          INTEGER PRIMARY KEY,"
  "  cp_id       TEXT NOT NULL,"
  "  role        TEXT NOT NULL,"
  "  kind        TEXT NOT NULL,"
  "  detail      TEXT,"
  "  seq         INTEGER,"
  "  source      TEXT NOT NULL,"
  "  received_at TEXT NOT NULL"
  ");"
  "CREATE INDEX IF NOT EXISTS events_cp ON events (cp_id, id);"
  /* the per-CP secrets of AUTH (docs/protocol.md, A1..A8); a table of its
   * own, so that a database of an older evcp-central just gains it */
  "CREATE TABLE IF NOT EXISTS cp_secrets ("
  "  cp_id       TEXT PRIMARY KEY,"
  "  secret      TEXT NOT NULL"
  ") WITHOUT ROWID;";

struct _EvcpCentralDb
{
  GObject  parent_instance;

  gchar   *path;
  sqlite3 *db;
};

G_DEFINE_TYPE (EvcpCentralDb, evcp_central_db, G_TYPE_OBJECT)

G_DEFINE_AUTOPTR_CLEANUP_FUNC (sqlite3_stmt, sqlite3_finalize)

void
evcp_central_db_cp_free (EvcpCentralDbCp *cp)
{
  if (cp == NULL)
    return;
  g_free (cp->id);
  g_free (cp->location);
  g_free (cp->state);
  g_free (cp->last_seen);
  g_free (cp);
}

static gchar *
now_iso8601 (void)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();

  return g_date_time_format_iso8601 (now);
}

static gboolean
db_fail (EvcpCentralDb *self, GError **error, const gchar *what)
{
  g_set_error (error, EVCP_ERROR, EVCP_ERROR_FAILED,
               /* TRANSLATORS: first %s is what was done, second SQLite's reason */
               _("Database: %s: %s"), what,
               self->db != NULL ? sqlite3_errmsg (self->db) : _("not open"));
  return FALSE;
}

static gboolean
db_exec (EvcpCentralDb *self, const gchar *sql, GError **error)
{
  gchar *msg = NULL;

  if (self->db == NULL)
    return db_fail (self, error, sql);
  if (sqlite3_exec (self->db, sql, NULL, NULL, &msg) != SQLITE_OK)
    {
      g_set_error (error, EVCP_ERROR, EVCP_ERROR_FAILED, _("Database: %s: %s"), sql, msg);
      sqlite3_free (msg);
      return FALSE;
    }
  return TRUE;
}

static sqlite3_stmt *
db_prepare (EvcpCentralDb *self, const gchar *sql, GError **error)
{
  sqlite3_stmt *stmt = NULL;

  if (self->db == NULL || sqlite3_prepare_v2 (self->db, sql, -1, &stmt, NULL) != SQLITE_OK)
    {
      db_fail (self, error, sql);
      return NULL;
    }
  return stmt;
}

static void
bind_text (sqlite3_stmt *stmt, int index, const gchar *text)
{
  if (text == NULL)
    sqlite3_bind_null (stmt, index);
  else
    sqlite3_bind_text (stmt, index, text, -1, SQLITE_TRANSIENT);
}

static void
bind_seq (sqlite3_stmt *stmt, int index, gint64 seq)
{
  if (seq < 0)
    sqlite3_bind_null (stmt, index);
  else
    sqlite3_bind_int64 (stmt, index, seq);
}

static const gchar *
column_text (sqlite3_stmt *stmt, int index)
{
  return (const gchar *) sqlite3_column_text (stmt, index);
}

/**
 * evcp_central_db_open:
 * @path: a file (its directory is created), or ":memory:"
 *
 * Opens or creates the database and its tables.
 */
EvcpCentralDb *
evcp_central_db_open (const gchar *path, GError **error)
{
  g_autoptr(EvcpCentralDb) self = NULL;
  g_autofree gchar *version_sql = NULL;

  g_return_val_if_fail (path != NULL, NULL);

  self = g_object_new (EVCP_TYPE_CENTRAL_DB, NULL);
  self->path = g_strdup (path);
  if (!g_str_equal (path, ":memory:"))
    {
      g_autofree gchar *dir = g_path_get_dirname (path);

      if (g_mkdir_with_parents (dir, 0700) != 0)
        {
          int saved_errno = errno;

          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                       /* TRANSLATORS: %s is a directory, then the system's reason */
                       _("Cannot create %s: %s"), dir, g_strerror (saved_errno));
          return NULL;
        }
    }
  if (sqlite3_open_v2 (path, &self->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK)
    {
      g_set_error (error, EVCP_ERROR, EVCP_ERROR_FAILED,
                   /* TRANSLATORS: %s is a file, then SQLite's reason */
                   _("Cannot open the database %s: %s"), path,
                   self->db != NULL ? sqlite3_errmsg (self->db) : _("out of memory"));
      return NULL;
    }
  sqlite3_busy_timeout (self->db, BUSY_TIMEOUT_MS);
  if (!db_exec (self, "PRAGMA synchronous=FULL;", error) ||
      !db_exec (self, "BEGIN;", error))
    return NULL;
  if (!db_exec (self, schema, error))
    {
      evcp_central_db_rollback (self);
      return NULL;
    }
  version_sql = g_strdup_printf ("PRAGMA user_version=%d;", SCHEMA_VERSION);
  if (!db_exec (self, version_sql, error) || !db_exec (self, "COMMIT;", error))
    {
      evcp_central_db_rollback (self);
      return NULL;
    }
  g_debug ("database %s open", path);
  return g_steal_pointer (&self);
}

const gchar *
evcp_central_db_get_path (EvcpCentralDb *self)
{
  g_return_val_if_fail (EVCP_IS_CENTRAL_DB (self), NULL);
  return self->path;
}

/* Closes the database; later calls fail. Also done on finalize. */
void
evcp_central_db_close (EvcpCentralDb *self)
{
  g_return_if_fail (EVCP_IS_CENTRAL_DB (self));

  if (self->db == NULL)
    return;
  if (sqlite3_close (self->db) != SQLITE_OK)
    g_warning (_("Cannot close the database %s: %s"), self->path, sqlite3_errmsg (self->db));
  self->db = NULL;
}

gboolean
evcp_central_db_begin (EvcpCentralDb *self, GError **error)
{
  g_return_val_if_fail (EVCP_IS_CENTRAL_DB (self), FALSE);
  return db_exec (self, "BEGIN IMMEDIATE;", error);
}

gboolean
evcp_central_db_commit (EvcpCentralDb *self, GError **error)
{
  g_return_val_if_fail (EVCP_IS_CENTRAL_DB (self), FALSE);
  return db_exec (self, "COMMIT;", error);
}

void
evcp_central_db_rollback (EvcpCentralDb *self)
{
  g_return_if_fail (EVCP_IS_CENTRAL_DB (self));

  if (self->db != NULL && !sqlite3_get_autocommit (self->db))
    sqlite3_exec (self->db, "ROLLBACK;", NULL, NULL, NULL);
}

/* Registers or updates a CP (an AUTH); its last state is kept. */
gboolean
evcp_central_db_save_cp (EvcpCentralDb  *self,
                         const gchar    *cp_id,
                         const gchar    *location,
                         gdouble         price_eur_kwh,
                         GError        **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autofree gchar *now = now_iso8601 ();

  g_return_val_if_fail (EVCP_IS_CENTRAL_DB (self), FALSE);
  g_return_val_if_fail (cp_id != NULL, FALSE);

  stmt = db_prepare (self,
                     "INSERT INTO cps (id, location, price_eur_kwh, last_seen) VALUES (?1, ?2, ?3, ?4) "
                     "ON CONFLICT (id) DO UPDATE SET location = ?2, price_eur_kwh = ?3, last_seen = ?4",
                     error);
  if (stmt == NULL)
    return FALSE;
  bind_text (stmt, 1, cp_id);
  bind_text (stmt, 2, location != NULL ? location : "");
  sqlite3_bind_double (stmt, 3, price_eur_kwh);
  bind_text (stmt, 4, now);
  if (sqlite3_step (stmt) != SQLITE_DONE)
    return db_fail (self, error, "save cp");
  return TRUE;
}

gboolean
evcp_central_db_set_state (EvcpCentralDb  *self,
                           const gchar    *cp_id,
                           const gchar    *state,
                           GError        **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autofree gchar *now = now_iso8601 ();

  g_return_val_if_fail (EVCP_IS_CENTRAL_DB (self), FALSE);
  g_return_val_if_fail (cp_id != NULL, FALSE);

  stmt = db_prepare (self,
                     "INSERT INTO cps (id, state, last_seen) VALUES (?1, ?2, ?3) "
                     "ON CONFLICT (id) DO UPDATE SET state = ?2, last_seen = ?3",
                     error);
  if (stmt == NULL)
    return FALSE;
  bind_text (stmt, 1, cp_id);
  bind_text (stmt, 2, state);
  bind_text (stmt, 3, now);
  if (sqlite3_step (stmt) != SQLITE_DONE)
    return db_fail (self, error, "set state");
  return TRUE;
}

GPtrArray *
evcp_central_db_list_cps (EvcpCentralDb *self, GError **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autoptr(GPtrArray) cps = g_ptr_array_new_with_free_func ((GDestroyNotify) evcp_central_db_cp_free);
  int rc;

  g_return_val_if_fail (EVCP_IS_CENTRAL_DB (self), NULL);

  stmt = db_prepare (self, "SELECT id, location, price_eur_kwh, state, last_seen FROM cps ORDER BY id", error);
  if (stmt == NULL)
    return NULL;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      EvcpCentralDbCp *cp = g_new0 (EvcpCentralDbCp, 1);

      cp->id = g_strdup (column_text (stmt, 0));
      cp->location = g_strdup (column_text (stmt, 1));
      cp->price_eur_kwh = sqlite3_column_double (stmt, 2);
      cp->state = g_strdup (column_text (stmt, 3));
      cp->last_seen = g_strdup (column_text (stmt, 4));
      g_ptr_array_add (cps, cp);
    }
  if (rc != SQLITE_DONE)
    {
      db_fail (self, error, "list cps");
      return NULL;
    }
  return g_steal_pointer (&cps);
}

gboolean
evcp_central_db_claim_seq (EvcpCentralDb  *self,
                           const gchar    *cp_id,
                           const gchar    *role,
                           gint64          seq,
                           const gchar    *verb,
                           const gchar    *source,
                           gboolean       *fresh,
                           GError        **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autofree gchar *now = now_iso8601 ();

  g_return_val_if_fail (EVCP_IS_CENTRAL_DB (self), FALSE);
  g_return_val_if_fail (cp_id != NULL && role != NULL && seq >= 0, FALSE);

  stmt = db_prepare (self,
                     "INSERT OR IGNORE INTO seqs (cp_id, role, seq, verb, source, received_at) "
                     "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                     error);
  if (stmt == NULL)
    return FALSE;
  bind_text (stmt, 1, cp_id);
  bind_text (stmt, 2, role);
  sqlite3_bind_int64 (stmt, 3, seq);
  bind_text (stmt, 4, verb);
  bind_text (stmt, 5, source);
  bind_text (stmt, 6, now);
  if (sqlite3_step (stmt) != SQLITE_DONE)
    return db_fail (self, error, "claim seq");
  *fresh = sqlite3_changes (self->db) > 0;
  return TRUE;
}

gint64
evcp_central_db_max_seq (EvcpCentralDb *self, const gchar *cp_id, const gchar *role)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autoptr(GError) error = NULL;

  g_return_val_if_fail (EVCP_IS_CENTRAL_DB (self), EVCP_CENTRAL_DB_NO_SEQ);

  stmt = db_prepare (self, "SELECT MAX(seq) FROM seqs WHERE cp_id = ?1 AND role = ?2", &error);
  if (stmt == NULL)
    {
      g_warning ("%s", error->message);
      return EVCP_CENTRAL_DB_NO_SEQ;
    }
  bind_text (stmt, 1, cp_id);
  bind_text (stmt, 2, role);
  if (sqlite3_step (stmt) != SQLITE_ROW || sqlite3_column_type (stmt, 0) == SQLITE_NULL)
    return EVCP_CENTRAL_DB_NO_SEQ;
  return sqlite3_column_int64 (stmt, 0);
}

gboolean
evcp_central_db_add_ticket (EvcpCentralDb            *self,
                            const EvcpCentralTicket  *ticket,
                            gboolean                 *fresh,
                            GError                  **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autofree gchar *now = now_iso8601 ();

  g_return_val_if_fail (EVCP_IS_CENTRAL_DB (self), FALSE);
  g_return_val_if_fail (ticket != NULL && ticket->cp_id != NULL && ticket->session_id != NULL, FALSE);

  stmt = db_prepare (self,
                     "INSERT OR IGNORE INTO tickets "
                     "(session_id, cp_id, driver, kwh, eur, reason, seq, source, received_at) "
                     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                     error);
  if (stmt == NULL)
    return FALSE;
  bind_text (stmt, 1, ticket->session_id);
  bind_text (stmt, 2, ticket->cp_id);
  bind_text (stmt, 3, ticket->driver != NULL ? ticket->driver : "");
  sqlite3_bind_double (stmt, 4, ticket->kwh);
  sqlite3_bind_double (stmt, 5, ticket->eur);
  bind_text (stmt, 6, ticket->reason != NULL ? ticket->reason : "");
  bind_seq (stmt, 7, ticket->seq);
  bind_text (stmt, 8, ticket->source);
  bind_text (stmt, 9, now);
  if (sqlite3_step (stmt) != SQLITE_DONE)
    return db_fail (self, error, "add ticket");
  *fresh = sqlite3_changes (self->db) > 0;
  return TRUE;
}

guint
evcp_central_db_count_tickets (EvcpCentralDb *self, const gchar *cp_id)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autoptr(GError) error = NULL;

  g_return_val_if_fail (EVCP_IS_CENTRAL_DB (self), 0);

  stmt = db_prepare (self, "SELECT COUNT(*) FROM tickets WHERE cp_id = ?1", &error);
  if (stmt == NULL)
    {
      g_warning ("%s", error->message);
      return 0;
    }
  bind_text (stmt, 1, cp_id);
  if (sqlite3_step (stmt) != SQLITE_ROW)
    return 0;
  return (guint) sqlite3_column_int64 (stmt, 0);
}

gboolean
evcp_central_db_add_event (EvcpCentralDb  *self,
                           const gchar    *cp_id,
                           const gchar    *role,
                           const gchar    *kind,
                           const gchar    *detail,
                           gint64          seq,
                           const gchar    *source,
                           GError        **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autofree gchar *now = now_iso8601 ();

  g_return_val_if_fail (EVCP_IS_CENTRAL_DB (self), FALSE);

  stmt = db_prepare (self,
                     "INSERT INTO events (cp_id, role, kind, detail, seq, source, received_at) "
                     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                     error);
  if (stmt == NULL)
    return FALSE;
  bind_text (stmt, 1, cp_id);
  bind_text (stmt, 2, role);
  bind_text (stmt, 3, kind);
  bind_text (stmt, 4, detail);
  bind_seq (stmt, 5, seq);
  bind_text (stmt, 6, source);
  bind_text (stmt, 7, now);
  if (sqlite3_step (stmt) != SQLITE_DONE)
    return db_fail (self, error, "add event");
  return TRUE;
}

/* Sets (or with @secret NULL, removes) the secret of a CP. */
gboolean
evcp_central_db_set_secret (EvcpCentralDb  *self,
                            const gchar    *cp_id,
                            const gchar    *secret,
                            GError        **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;

  g_return_val_if_fail (EVCP_IS_CENTRAL_DB (self), FALSE);
  g_return_val_if_fail (cp_id != NULL, FALSE);

  if (secret != NULL)
    stmt = db_prepare (self,
                       "INSERT INTO cp_secrets (cp_id, secret) VALUES (?1, ?2) "
                       "ON CONFLICT (cp_id) DO UPDATE SET secret = ?2", error);
  else
    stmt = db_prepare (self, "DELETE FROM cp_secrets WHERE cp_id = ?1", error);
  if (stmt == NULL)
    return FALSE;
  bind_text (stmt, 1, cp_id);
  if (secret != NULL)
    bind_text (stmt, 2, secret);
  if (sqlite3_step (stmt) != SQLITE_DONE)
    return db_fail (self, error, "set secret");
  return TRUE;
}

/* (element-type utf8 utf8) (transfer full): cp id → secret */
GHashTable *
evcp_central_db_list_secrets (EvcpCentralDb *self, GError **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autoptr(GHashTable) secrets = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  int rc;

  g_return_val_if_fail (EVCP_IS_CENTRAL_DB (self), NULL);

  stmt = db_prepare (self, "SELECT cp_id, secret FROM cp_secrets", error);
  if (stmt == NULL)
    return NULL;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_hash_table_insert (secrets, g_strdup (column_text (stmt, 0)), g_strdup (column_text (stmt, 1)));
  if (rc != SQLITE_DONE)
    {
      db_fail (self, error, "list secrets");
      return NULL;
    }
  return g_steal_pointer (&secrets);
}

static void
evcp_central_db_finalize (GObject *object)
{
  EvcpCentralDb *self = EVCP_CENTRAL_DB (object);

  evcp_central_db_close (self);
  g_free (self->path);
  G_OBJECT_CLASS (evcp_central_db_parent_class)->finalize (object);
}

static void
evcp_central_db_class_init (EvcpCentralDbClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = evcp_central_db_finalize;
}

static void
evcp_central_db_init (EvcpCentralDb *self)
{
}
