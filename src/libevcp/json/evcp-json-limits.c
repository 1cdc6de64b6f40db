/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "evcp-build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#ifdef G_OS_WIN32
#include <io.h>
#else
#include <unistd.h>
#endif

#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>

#include "evcp-error.h"
#include "evcp-json-limits.h"

#ifndef O_NONBLOCK
#define O_NONBLOCK 0   /* Windows: no FIFOs to block on */
#endif
#ifndef O_CLOEXEC
#define O_CLOEXEC 0
#endif
#ifndef O_BINARY
#define O_BINARY 0
#endif

/* What JSON allows outside strings, besides the brackets and quotes. */
static inline gboolean
allowed_outside_strings (guchar c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ':' || c == ',' ||
         c == '-' || c == '+' || c == '.' || g_ascii_isalnum (c);
}

static gboolean
refuse_at (GError **error, gint code, const gchar *what, gsize offset)
{
  g_autofree gchar *at = g_strdup_printf ("%" G_GSIZE_FORMAT, offset);

  /* TRANSLATORS: what is wrong, then a byte offset */
  g_set_error (error, EVCP_ERROR, code, _("JSON refused: %s at byte %s"), what, at);
  return FALSE;
}

static inline gboolean
is_space (guchar c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static inline gboolean
is_scalar_char (guchar c)
{
  return c == '-' || c == '+' || c == '.' || g_ascii_isalnum (c);
}

/* Depth, the alphabet outside strings, and one value at the top (json-glib
 * 1.6 leaks the tree of a document followed by another value); one pass,
 * no recursion. */
static gboolean
scan_depth (const guchar *p, gsize len, guint max_depth, GError **error)
{
  guint depth = 0;
  gboolean done = FALSE;        /* a whole top-level value was seen */
  gboolean in_scalar = FALSE;   /* inside a top-level number or literal */

  for (gsize i = 0; i < len; i++)
    {
      guchar c = p[i];

      if (depth == 0 && is_space (c))
        {
          done = done || in_scalar;
          in_scalar = FALSE;
          continue;
        }
      if (depth == 0 && (done || (in_scalar && !is_scalar_char (c))))
        return refuse_at (error, EVCP_ERROR_INVALID_MESSAGE, _("data after the JSON value"), i);
      switch (c)
        {
        case '{':
        case '[':
          if (++depth > max_depth)
            {
              g_autofree gchar *limit = g_strdup_printf (_("nesting deeper than %u levels"), max_depth);

              return refuse_at (error, EVCP_ERROR_TOO_DEEP, limit, i);
            }
          break;
        case '}':
        case ']':
          if (depth == 0)
            return refuse_at (error, EVCP_ERROR_INVALID_MESSAGE, _("unbalanced bracket"), i);
          done = --depth == 0;
          break;
        case '"':
          for (i++; i < len && p[i] != '"'; i++)
            if (p[i] == '\\')
              i++;
          if (i >= len)
            return refuse_at (error, EVCP_ERROR_INVALID_MESSAGE, _("unterminated string"), len);
          done = depth == 0;
          break;
        default:
          if (!allowed_outside_strings (c))
            return refuse_at (error, EVCP_ERROR_INVALID_MESSAGE,
                              _("a character JSON does not allow outside strings"), i);
          in_scalar = depth == 0;
        }
    }
  if (depth != 0)
    return refuse_at (error, EVCP_ERROR_INVALID_MESSAGE, _("unbalanced bracket"), len);
  return TRUE;
}

gboolean
evcp_json_check_limits (const gchar  *text,
                        gsize         len,
                        gsize         max_size,
                        guint         max_depth,
                        GError      **error)
{
  g_return_val_if_fail (text != NULL || len == 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (len > max_size)
    {
      g_autofree gchar *len_str = g_strdup_printf ("%" G_GSIZE_FORMAT, len);
      g_autofree gchar *max_str = g_strdup_printf ("%" G_GSIZE_FORMAT, max_size);

      g_set_error (error, EVCP_ERROR, EVCP_ERROR_TOO_LARGE,
                   _("JSON refused: %s bytes exceed the limit of %s bytes"), len_str, max_str);
      return FALSE;
    }
  if (len == 0)
    {
      g_set_error_literal (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE, _("JSON refused: empty"));
      return FALSE;
    }
  /* NUL bytes too: json-glib and C strings would stop at them */
  if (!g_utf8_validate_len (text, len, NULL))
    {
      g_set_error_literal (error, EVCP_ERROR, EVCP_ERROR_NOT_UTF8,
                           _("JSON refused: not valid UTF-8"));
      return FALSE;
    }
  /* RFC 8259 §8.1: a leading byte order mark may be ignored (the message
   * scanner and json-glib do) */
  if (len >= 3 && memcmp (text, "\xEF\xBB\xBF", 3) == 0)
    return scan_depth ((const guchar *) text + 3, len - 3, max_depth, error);
  return scan_depth ((const guchar *) text, len, max_depth, error);
}

gboolean
evcp_json_parser_load (JsonParser   *parser,
                       const gchar  *text,
                       gsize         len,
                       gsize         max_size,
                       guint         max_depth,
                       GError      **error)
{
  g_autoptr(GError) local_error = NULL;

  g_return_val_if_fail (JSON_IS_PARSER (parser), FALSE);

  if (!evcp_json_check_limits (text, len, max_size, max_depth, error))
    return FALSE;
  /* json-glib does not skip a byte order mark itself */
  if (len >= 3 && memcmp (text, "\xEF\xBB\xBF", 3) == 0)
    {
      text += 3;
      len -= 3;
    }
  if (len > G_MAXSSIZE || !json_parser_load_from_data (parser, text, (gssize) len, &local_error))
    {
      g_set_error (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE, _("Malformed JSON: %s"),
                   local_error != NULL ? local_error->message : _("too large"));
      return FALSE;
    }
  /* json-glib takes whitespace alone for a document without a root */
  if (json_parser_get_root (parser) == NULL)
    {
      g_set_error_literal (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE, _("JSON refused: no value"));
      return FALSE;
    }
  return TRUE;
}

JsonNode *
evcp_json_parse_object (const gchar  *text,
                        gsize         len,
                        gsize         max_size,
                        guint         max_depth,
                        GError      **error)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  JsonNode *root;

  if (!evcp_json_parser_load (parser, text, len, max_size, max_depth, error))
    return NULL;
  root = json_parser_get_root (parser);
  if (!JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error_literal (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE,
                           _("JSON refused: not an object"));
      return NULL;
    }
  return json_node_ref (root);
}

/* ---- state files ----------------------------------------------------------- */

/* "@what: <the error>", in G_FILE_ERROR; @what is freed. */
static gboolean
set_errno_error (GError **error, int saved_errno, gchar *what)
{
  g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno), "%s: %s", what,
               g_strerror (saved_errno));
  g_free (what);
  return FALSE;
}

/* Reads at most @max_size + 1 bytes of @fd into a new buffer. */
static gchar *
read_capped (int fd, const gchar *path, gsize max_size, gsize *len, GError **error)
{
  gsize allocated = MIN (max_size + 1, (gsize) 65536) + 1;
  g_autofree gchar *buffer = g_malloc (allocated);
  gsize total = 0;

  while (total <= max_size)
    {
      gssize n;

      if (total + 1 >= allocated)
        {
          allocated = MIN (allocated * 2, max_size + 2);
          buffer = g_realloc (buffer, allocated);
        }
      n = read (fd, buffer + total, (unsigned int) MIN (allocated - 1 - total, (gsize) G_MAXINT));
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int saved_errno = errno;

          set_errno_error (error, saved_errno, g_strdup_printf (_("Cannot read %s"), path));
          return NULL;
        }
      if (n == 0)
        break;
      total += (gsize) n;
    }
  if (total > max_size)
    {
      g_autofree gchar *limit = g_strdup_printf ("%" G_GSIZE_FORMAT, max_size);

      g_set_error (error, EVCP_ERROR, EVCP_ERROR_TOO_LARGE,
                   _("%s grew past the limit of %s bytes while being read: refused"), path, limit);
      return NULL;
    }
  buffer[total] = '\0';
  *len = total;
  return g_steal_pointer (&buffer);
}

gchar *
evcp_state_file_read (const gchar  *path,
                      gsize         max_size,
                      gsize        *len,
                      GError      **error)
{
  struct stat st;
  gsize ignored;
  gchar *contents;
  int fd;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (max_size < G_MAXSIZE - 2, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

#ifdef G_OS_WIN32
  {
    GStatBuf before;

    /* Windows refuses to open a directory at all (EACCES): say what it is */
    if (g_stat (path, &before) == 0 && !S_ISREG (before.st_mode))
      {
        g_set_error (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE,
                     _("%s is not a regular file (a directory, a device or a pipe): refused"), path);
        return NULL;
      }
  }
#endif
  /* O_NONBLOCK: opening a FIFO must not wait for a writer */
  fd = g_open (path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_BINARY, 0);
  if (fd < 0)
    {
      int saved_errno = errno;

      set_errno_error (error, saved_errno, g_strdup_printf (_("Cannot open %s"), path));
      return NULL;
    }
  if (fstat (fd, &st) != 0)
    {
      int saved_errno = errno;

      close (fd);
      set_errno_error (error, saved_errno, g_strdup_printf (_("Cannot read %s"), path));
      return NULL;
    }
  if (!S_ISREG (st.st_mode))
    {
      close (fd);
      g_set_error (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE,
                   _("%s is not a regular file (a directory, a device or a pipe): refused"), path);
      return NULL;
    }
  if (st.st_size < 0 || (guint64) st.st_size > max_size)
    {
      g_autofree gchar *size = g_strdup_printf ("%" G_GINT64_FORMAT, (gint64) st.st_size);
      g_autofree gchar *limit = g_strdup_printf ("%" G_GSIZE_FORMAT, max_size);

      close (fd);
      g_set_error (error, EVCP_ERROR, EVCP_ERROR_TOO_LARGE,
                   _("%s has %s bytes, more than the limit of %s: refused"), path, size, limit);
      return NULL;
    }
  contents = read_capped (fd, path, max_size, len != NULL ? len : &ignored, error);
  close (fd);
  return contents;
}

gchar *
evcp_state_file_move_aside (const gchar *path, GError **error)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autofree gchar *stamp = g_date_time_format (now, "%Y%m%dT%H%M%SZ");
  g_autofree gchar *base = g_strdup_printf ("%s.unreadable-%s", path, stamp);
  g_autofree gchar *target = g_strdup (base);

  g_return_val_if_fail (path != NULL, NULL);

  for (guint n = 1; g_file_test (target, G_FILE_TEST_EXISTS | G_FILE_TEST_IS_SYMLINK); n++)
    {
      g_free (target);
      target = g_strdup_printf ("%s-%u", base, n);
    }
  if (g_rename (path, target) != 0)
    {
      int saved_errno = errno;

      set_errno_error (error, saved_errno, g_strdup_printf (_("Cannot move %s aside"), path));
      return NULL;
    }
  return g_steal_pointer (&target);
}

gchar *
evcp_utf8_cut (const gchar *text, gsize max_bytes)
{
  g_autofree gchar *valid = NULL;
  const gchar *end;
  gsize len;

  if (text == NULL)
    return g_strdup ("");
  len = strlen (text);
  valid = g_utf8_validate (text, (gssize) len, NULL) ? g_strdup (text) : g_utf8_make_valid (text, (gssize) len);
  len = strlen (valid);
  if (len <= max_bytes)
    return g_steal_pointer (&valid);
  if (max_bytes < 3)
    return g_strdup ("");
  /* the last whole character that leaves room for "…" (3 bytes) */
  end = valid + max_bytes - 3;
  while (end > valid && ((guchar) *end & 0xC0) == 0x80)
    end--;
  {
    GString *cut = g_string_new_len (valid, end - valid);

    g_string_append (cut, "…");
    return g_string_free (cut, FALSE);
  }
}
