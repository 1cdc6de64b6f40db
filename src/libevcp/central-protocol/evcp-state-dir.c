/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The state directory of one CP, held by one process (issue 12, item 3):
 * see evcp-state-dir.h. */
#define G_LOG_DOMAIN "evcp-state"

#include "evcp-build-config.h"

#include <errno.h>
#include <string.h>

#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>

#include "evcp-error.h"
#include "evcp-outbox.h"
#include "evcp-platform.h"
#include "evcp-state-dir.h"

#define LOCK_FILE     "lock"
#define CP_ID_FILE    "cp-id"
#define OUTBOX_FILE   "outbox.json"
#define SESSION_FILE  "session.json"

struct _EvcpStateDir
{
  gchar            *path;
  EvcpPlatformLock *lock;
};

/* A CP id as one file name, reversibly: "CP-001" stays, "a/b" is "a%2Fb". */
static gchar *
escape_cp_id (const gchar *cp_id)
{
  GString *name = g_string_new (NULL);

  for (const guchar *p = (const guchar *) cp_id; *p != '\0'; p++)
    if (g_ascii_isalnum (*p) || *p == '-' || *p == '_' || (*p == '.' && p != (const guchar *) cp_id))
      g_string_append_c (name, (gchar) *p);
    else
      g_string_append_printf (name, "%%%02X", *p);
  return g_string_free (name, FALSE);
}

gchar *
evcp_state_dir_default (const gchar *program, const gchar *cp_id)
{
  g_autofree gchar *base = evcp_platform_default_state_dir (program);
  g_autofree gchar *name = escape_cp_id (cp_id);

  return g_build_filename (base, name, NULL);
}

gchar *
evcp_state_dir_path (const gchar *configured, const gchar *program, const gchar *cp_id)
{
  g_return_val_if_fail (program != NULL, NULL);

  if (configured != NULL)
    return g_strdup (configured);
  if (cp_id == NULL || *cp_id == '\0')
    return NULL;
  return evcp_state_dir_default (program, cp_id);
}

/* The CP that a pending outbox event names: its Kafka key, else the second
 * field of its Central frame (VERB#CP-ID#…); NULL if none does. */
static gchar *
outbox_owner (const gchar *dir)
{
  g_autofree gchar *path = g_build_filename (dir, OUTBOX_FILE, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(EvcpOutbox) outbox = NULL;
  g_autoptr(GPtrArray) records = NULL;

  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    return NULL;
  outbox = evcp_outbox_new (path, &error);
  if (outbox == NULL)
    {
      /* the program that opens it for good says so, and stops */
      g_debug ("%s: %s", path, error->message);
      return NULL;
    }
  records = evcp_outbox_list (outbox, EVCP_OUTBOX_CENTRAL | EVCP_OUTBOX_KAFKA);
  for (guint i = 0; i < records->len; i++)
    {
      const EvcpOutboxRecord *record = g_ptr_array_index (records, i);
      const gchar *key = evcp_outbox_record_get_kafka_key (record);
      const gchar *frame = evcp_outbox_record_get_frame (record);

      if (key != NULL && *key != '\0')
        return g_strdup (key);
      if (frame != NULL)
        {
          g_auto(GStrv) fields = g_strsplit (frame, "#", 3);

          if (fields[0] != NULL && fields[1] != NULL && *fields[1] != '\0')
            return g_strdup (fields[1]);
        }
    }
  return NULL;
}

/* Whose state @dir holds: its cp-id file, else (state from before that
 * file) what its outbox says; NULL if nothing says. */
static gchar *
state_owner (const gchar *dir)
{
  g_autofree gchar *path = g_build_filename (dir, CP_ID_FILE, NULL);
  gchar *text = NULL;

  if (g_file_get_contents (path, &text, NULL, NULL))
    {
      g_strchomp (text);
      if (*text != '\0')
        return text;
      g_free (text);
    }
  return outbox_owner (dir);
}

static gboolean
has_outbox (const gchar *dir)
{
  g_autofree gchar *outbox = g_build_filename (dir, OUTBOX_FILE, NULL);

  return g_file_test (outbox, G_FILE_TEST_EXISTS);
}

static gboolean
has_state (const gchar *dir)
{
  g_autofree gchar *outbox = g_build_filename (dir, OUTBOX_FILE, NULL);
  g_autofree gchar *session = g_build_filename (dir, SESSION_FILE, NULL);

  return g_file_test (outbox, G_FILE_TEST_EXISTS) || g_file_test (session, G_FILE_TEST_EXISTS);
}

static gboolean
move_file (const gchar *from, const gchar *to, const gchar *name, GError **error)
{
  g_autofree gchar *src = g_build_filename (from, name, NULL);
  g_autofree gchar *dst = g_build_filename (to, name, NULL);
  int saved;

  if (g_file_test (dst, G_FILE_TEST_EXISTS))
    {
      /* only a person can tell which is right */
      g_set_error (error, EVCP_ERROR, EVCP_ERROR_CONFIG,
                   _("Cannot move %s to %s: it exists (both kept; put them together by hand)"), src, dst);
      return FALSE;
    }
  if (g_rename (src, dst) == 0)
    return TRUE;
  saved = errno;
  g_set_error (error, EVCP_ERROR, EVCP_ERROR_FAILED, _("Cannot move %s to %s: %s"),
               src, dst, g_strerror (saved));
  return FALSE;
}

/* The files of the old default directory, into the new one, the outbox
 * last: until it is there the move is not done, and a start after a failed
 * one (its error names the file) moves what is left. */
static gboolean
move_files (const gchar *from, const gchar *to, GError **error)
{
  g_autoptr(GDir) dir = g_dir_open (from, 0, error);
  const gchar *name;

  if (dir == NULL)
    return FALSE;
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree gchar *src = g_build_filename (from, name, NULL);

      if (g_strcmp0 (name, LOCK_FILE) == 0 || g_strcmp0 (name, OUTBOX_FILE) == 0 ||
          !g_file_test (src, G_FILE_TEST_IS_REGULAR) || g_file_test (src, G_FILE_TEST_IS_SYMLINK))
        continue;
      if (!move_file (from, to, name, error))
        return FALSE;
    }
  return !has_outbox (from) || move_file (from, to, OUTBOX_FILE, error);
}

static gboolean
migrate_locked (const gchar *old, const gchar *path, const gchar *cp_id, GError **error)
{
  g_autofree gchar *owner = NULL;

  if (!has_state (old))
    return TRUE;
  owner = state_owner (old);
  if (owner != NULL && g_strcmp0 (owner, cp_id) != 0)
    {
      g_message (_("%s holds the state of charging point %s, not of %s: left there "
                   "(%s takes it when it starts); %s keeps its own in %s"),
                 old, owner, cp_id, owner, cp_id, path);
      return TRUE;
    }
  if (!move_files (old, path, error))
    return FALSE;
  g_message (_("The state of %s moved from %s to %s (one directory per charging point)"),
             cp_id, old, path);
  return TRUE;
}

/* State kept by a version before the CP id keyed the default directory:
 * moved into @path if it is this CP's and @path has none yet. */
static gboolean
migrate (const gchar *program, const gchar *path, const gchar *cp_id, GError **error)
{
  g_autofree gchar *old = evcp_platform_default_state_dir (program);
  g_autofree gchar *old_lock_file = NULL;
  g_autoptr(GError) local_error = NULL;
  EvcpPlatformLock *old_lock;
  gboolean moved;

  /* done once the outbox is in the new directory (moved last) */
  if (has_outbox (path) || !has_state (old))
    return TRUE;
  /* two programs of different CPs starting at once: one moves, the other
   * then finds the state gone */
  old_lock_file = g_build_filename (old, LOCK_FILE, NULL);
  old_lock = evcp_platform_lock_acquire (old_lock_file, NULL, &local_error);
  if (old_lock == NULL)
    {
      g_set_error (error, EVCP_ERROR, EVCP_ERROR_REFUSED, _("Cannot move the state out of %s: %s"),
                   old, local_error->message);
      return FALSE;
    }
  moved = migrate_locked (old, path, cp_id, error);
  evcp_platform_lock_release (old_lock);
  return moved;
}

/* The state in @path is @cp_id's (or nobody's yet), or refused. */
static gboolean
check_owner (const gchar *path, const gchar *cp_id, GError **error)
{
  g_autofree gchar *owner = state_owner (path);

  if (owner == NULL || g_strcmp0 (owner, cp_id) == 0)
    return TRUE;
  g_set_error (error, EVCP_ERROR, EVCP_ERROR_CONFIG,
               _("The state directory %s holds the state of charging point %s, not of %s: "
                 "refused, nothing in it was changed. Start it with the CP id %s, or give %s "
                 "a state directory of its own (state-dir, --state-dir)"),
               path, owner, cp_id, owner, cp_id);
  return FALSE;
}

/* The CP id into @path, the first time. */
static gboolean
record_owner (const gchar *path, const gchar *cp_id, GError **error)
{
  g_autofree gchar *file = g_build_filename (path, CP_ID_FILE, NULL);
  g_autofree gchar *text = NULL;

  if (g_file_test (file, G_FILE_TEST_EXISTS))
    return TRUE;
  text = g_strdup_printf ("%s\n", cp_id);
  return g_file_set_contents_full (file, text, -1, G_FILE_SET_CONTENTS_CONSISTENT |
                                   G_FILE_SET_CONTENTS_DURABLE, 0600, error);
}

static gboolean
take_lock (EvcpStateDir *self, GError **error)
{
  g_autofree gchar *file = g_build_filename (self->path, LOCK_FILE, NULL);
  g_autofree gchar *holder = NULL;
  g_autoptr(GError) local_error = NULL;

  self->lock = evcp_platform_lock_acquire (file, &holder, &local_error);
  if (self->lock != NULL)
    return TRUE;
  if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_BUSY))
    g_set_error (error, EVCP_ERROR, EVCP_ERROR_REFUSED,
                 _("The state directory %s is in use by another process (pid %s): "
                   "one process per charging point; stop that one first"),
                 self->path, holder != NULL ? holder : _("unknown"));
  else
    g_set_error (error, EVCP_ERROR, EVCP_ERROR_FAILED, _("Cannot lock the state directory %s: %s"),
                 self->path, local_error->message);
  return FALSE;
}

/**
 * evcp_state_dir_open:
 * @configured: (nullable): the state-dir setting; %NULL for the default
 * @program: "engine" or "monitor", for the default
 * @cp_id: the CP id
 * @error: %EVCP_ERROR_REFUSED (another process holds it), %EVCP_ERROR_CONFIG
 *   (another CP's state), %EVCP_ERROR_FAILED (cannot create, lock or move)
 *
 * Returns: (transfer full) (nullable): the directory, locked by this
 *   process until evcp_state_dir_free()
 */
EvcpStateDir *
evcp_state_dir_open (const gchar *configured, const gchar *program, const gchar *cp_id, GError **error)
{
  g_autoptr(EvcpStateDir) self = g_new0 (EvcpStateDir, 1);

  g_return_val_if_fail (program != NULL && cp_id != NULL && *cp_id != '\0', NULL);

  self->path = evcp_state_dir_path (configured, program, cp_id);
  if (g_mkdir_with_parents (self->path, 0700) != 0)
    {
      int saved = errno;

      g_set_error (error, EVCP_ERROR, EVCP_ERROR_FAILED, _("Cannot create the state directory %s: %s"),
                   self->path, g_strerror (saved));
      return NULL;
    }
  /* another CP's state: refused before anything in it is touched (the lock
   * file included), then again under the lock, after a move */
  if (!check_owner (self->path, cp_id, error) || !take_lock (self, error))
    return NULL;
  if (configured == NULL && !migrate (program, self->path, cp_id, error))
    return NULL;
  if (!check_owner (self->path, cp_id, error) || !record_owner (self->path, cp_id, error))
    return NULL;
  return g_steal_pointer (&self);
}

const gchar *
evcp_state_dir_get_path (EvcpStateDir *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->path;
}

void
evcp_state_dir_free (EvcpStateDir *self)
{
  if (self == NULL)
    return;
  evcp_platform_lock_release (self->lock);
  g_free (self->path);
  g_free (self);
}
