/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "evcp-engine"

#include "evcp-build-config.h"

#include <glib.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#ifdef G_OS_UNIX
#include <unistd.h>   /* fsync, behind g_fsync */
#endif

#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>

#include "evcp-error.h"
#include "evcp-request-log.h"

struct _EvcpRequestLog
{
  gchar      *path;
  guint       capacity;
  GHashTable *ids;       /* set of the ids in @order */
  GQueue      order;     /* oldest first */
  guint       lines;     /* in the file */
  FILE       *file;      /* appending */
};

static void
remember (EvcpRequestLog *self, const gchar *id)
{
  gchar *copy;

  if (g_hash_table_contains (self->ids, id))
    return;
  copy = g_strdup (id);
  g_hash_table_add (self->ids, copy);
  g_queue_push_tail (&self->order, copy);
  while (self->order.length > self->capacity)
    g_hash_table_remove (self->ids, g_queue_pop_head (&self->order));   /* frees it */
}

/* Reads what a previous process wrote: at most the last lines that can
 * matter, whatever the file's size; never a device or a fifo. */
static gboolean
load (EvcpRequestLog *self, GError **error)
{
  gsize max = (gsize) self->capacity * 2 * (EVCP_REQUEST_ID_MAX + 1);
  g_autofree gchar *text = NULL;
  GStatBuf st;
  FILE *f;
  gsize n;
  gchar **lines;

  if (g_stat (self->path, &st) != 0)
    {
      if (errno == ENOENT)
        return TRUE;
      g_set_error (error, EVCP_ERROR, EVCP_ERROR_FAILED, _("Cannot read %s: %s"), self->path, g_strerror (errno));
      return FALSE;
    }
  if (!S_ISREG (st.st_mode))
    {
      g_set_error (error, EVCP_ERROR, EVCP_ERROR_FAILED, _("%s is not a regular file"), self->path);
      return FALSE;
    }
  f = g_fopen (self->path, "rb");
  if (f == NULL)
    {
      g_set_error (error, EVCP_ERROR, EVCP_ERROR_FAILED, _("Cannot read %s: %s"), self->path, g_strerror (errno));
      return FALSE;
    }
  if ((gsize) st.st_size > max)
    fseek (f, (long) ((gsize) st.st_size - max), SEEK_SET);
  text = g_malloc (max + 1);
  n = fread (text, 1, max, f);
  fclose (f);
  text[n] = '\0';
  lines = g_strsplit (text, "\n", -1);
  /* a line cut by the seek or by a crash in the middle of a write: skipped */
  for (guint i = (gsize) st.st_size > max ? 1 : 0; lines[i] != NULL; i++)
    if (lines[i][0] != '\0' && lines[i + 1] != NULL && strlen (lines[i]) <= EVCP_REQUEST_ID_MAX)
      {
        remember (self, lines[i]);
        self->lines++;
      }
  g_strfreev (lines);
  return TRUE;
}

static gboolean
open_append (EvcpRequestLog *self, GError **error)
{
  self->file = g_fopen (self->path, "ab");
  if (self->file == NULL)
    {
      g_set_error (error, EVCP_ERROR, EVCP_ERROR_FAILED, _("Cannot write %s: %s"), self->path, g_strerror (errno));
      return FALSE;
    }
  return TRUE;
}

EvcpRequestLog *
evcp_request_log_open (const gchar *path, guint capacity, GError **error)
{
  g_autoptr(EvcpRequestLog) self = g_new0 (EvcpRequestLog, 1);

  g_return_val_if_fail (path != NULL && capacity > 0, NULL);

  self->path = g_strdup (path);
  self->capacity = capacity;
  self->ids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_queue_init (&self->order);
  if (!load (self, error) || !open_append (self, error))
    return NULL;
  return g_steal_pointer (&self);
}

gboolean
evcp_request_log_contains (EvcpRequestLog *self, const gchar *id)
{
  g_return_val_if_fail (self != NULL, FALSE);
  return id != NULL && g_hash_table_contains (self->ids, id);
}

/* The last ids only, in a new file put in place at once. */
static gboolean
compact (EvcpRequestLog *self, GError **error)
{
  g_autoptr(GString) text = g_string_new (NULL);

  for (GList *l = self->order.head; l != NULL; l = l->next)
    {
      g_string_append (text, l->data);
      g_string_append_c (text, '\n');
    }
  g_clear_pointer (&self->file, fclose);
  if (!g_file_set_contents_full (self->path, text->str, (gssize) text->len,
                                 G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE, 0600, error))
    {
      open_append (self, NULL);
      return FALSE;
    }
  self->lines = self->order.length;
  return open_append (self, error);
}

gboolean
evcp_request_log_add (EvcpRequestLog *self, const gchar *id, GError **error)
{
  g_return_val_if_fail (self != NULL && id != NULL, FALSE);
  g_return_val_if_fail (*id != '\0' && strlen (id) <= EVCP_REQUEST_ID_MAX && strchr (id, '\n') == NULL, FALSE);

  if (g_hash_table_contains (self->ids, id))
    return TRUE;
  if (self->file == NULL && !open_append (self, error))
    return FALSE;
  if (fprintf (self->file, "%s\n", id) < 0 || fflush (self->file) != 0 || g_fsync (fileno (self->file)) != 0)
    {
      int saved = errno;

      g_set_error (error, EVCP_ERROR, EVCP_ERROR_FAILED, _("Cannot write %s: %s"), self->path, g_strerror (saved));
      return FALSE;
    }
  remember (self, id);
  if (++self->lines >= 2 * self->capacity)
    return compact (self, error);
  return TRUE;
}

guint
evcp_request_log_get_size (EvcpRequestLog *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->order.length;
}

void
evcp_request_log_free (EvcpRequestLog *self)
{
  if (self == NULL)
    return;
  g_clear_pointer (&self->file, fclose);
  g_clear_pointer (&self->ids, g_hash_table_unref);
  g_queue_clear (&self->order);
  g_free (self->path);
  g_free (self);
}
