/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "evcp-build-config.h"

#include <string.h>

#include <glib/gi18n-lib.h>

#include "evcp-error.h"
#include "evcp-frame-field.h"

/**
 * evcp_frame_field_check:
 * @value: (nullable): the value
 * @min_bytes: 0 if it may be empty, else 1
 * @max_bytes: its bound
 * @name: what the value is, as its user knows it ("user_id", "CP_ID ([evcp] cp-id)")
 * @error_code: the #EvcpError code to set
 *
 * Returns: whether @value can stand in a frame's field as it is
 */
gboolean
evcp_frame_field_check (const gchar  *value,
                        gsize         min_bytes,
                        gsize         max_bytes,
                        const gchar  *name,
                        gint          error_code,
                        GError      **error)
{
  gsize len = value != NULL ? strlen (value) : 0;
  const gchar *bad = NULL;
  const gchar *end = NULL;

  if (len < min_bytes || len > max_bytes)
    {
      g_autofree gchar *got = g_strdup_printf ("%" G_GSIZE_FORMAT, len);
      g_autofree gchar *bound = g_strdup_printf ("%" G_GSIZE_FORMAT, max_bytes);

      g_set_error (error, EVCP_ERROR, error_code,
                   /* TRANSLATORS: %s: a field or setting; a number of bytes; a number of bytes */
                   min_bytes > 0 ? _("%s must be 1 to %s bytes long, not %s")
                                 : _("%s must be at most %s bytes long, not %s"),
                   name, bound, got);
      return FALSE;
    }
  if (!g_utf8_validate (value, (gssize) len, &end))
    {
      g_autofree gchar *at = g_strdup_printf ("%" G_GSIZE_FORMAT, (gsize) (end - value));

      g_set_error (error, EVCP_ERROR, error_code,
                   _("%s is not valid UTF-8 (at byte %s)"), name, at);
      return FALSE;
    }
  for (const gchar *p = value; *p != '\0' && bad == NULL; p++)
    if (*p == '#' || (guchar) *p < 0x20 || *p == 0x7f)
      bad = p;
  if (bad != NULL)
    {
      g_autofree gchar *at = g_strdup_printf ("%" G_GSIZE_FORMAT, (gsize) (bad - value));
      g_autofree gchar *byte = g_strdup_printf ("0x%02x", (guchar) *bad);

      g_set_error (error, EVCP_ERROR, error_code,
                   /* TRANSLATORS: %s: a field or setting; a byte in hex; a position */
                   _("%s holds %s at byte %s: “#” and control characters cannot be sent to Central"),
                   name, byte, at);
      return FALSE;
    }
  return TRUE;
}
