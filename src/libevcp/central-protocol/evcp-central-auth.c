/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "evcp-central-auth"

#include "evcp-build-config.h"

#include <string.h>

#include <gio/gio.h>
#include <glib/gi18n-lib.h>

#include "evcp-central-auth.h"

#define PROOF_CONTEXT "EVCP-AUTH-1"

static gboolean
read_random (guint8 *buf, gsize len, GError **error)
{
  g_autoptr(GFile) file = g_file_new_for_path ("/dev/urandom");
  g_autoptr(GFileInputStream) in = g_file_read (file, NULL, error);
  gsize got = 0;

  if (in == NULL)
    return FALSE;
  if (!g_input_stream_read_all (G_INPUT_STREAM (in), buf, len, &got, NULL, error))
    return FALSE;
  if (got != len)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, _("Not enough random bytes"));
      return FALSE;
    }
  return TRUE;
}

gchar *
evcp_central_auth_new_nonce (GError **error)
{
  guint8 raw[EVCP_CENTRAL_AUTH_NONCE_LEN / 2];
  GString *hex = g_string_sized_new (EVCP_CENTRAL_AUTH_NONCE_LEN);

  if (!read_random (raw, sizeof raw, error))
    {
      g_string_free (hex, TRUE);
      return NULL;
    }
  for (gsize i = 0; i < sizeof raw; i++)
    g_string_append_printf (hex, "%02x", raw[i]);
  return g_string_free (hex, FALSE);
}

gchar *
evcp_central_auth_proof (const gchar *secret, const gchar *nonce, const gchar *cp_id, const gchar *role)
{
  g_autofree gchar *message = NULL;

  g_return_val_if_fail (secret != NULL && nonce != NULL && cp_id != NULL && role != NULL, NULL);

  message = g_strjoin ("\n", PROOF_CONTEXT, nonce, cp_id, role, NULL);
  return g_compute_hmac_for_string (G_CHECKSUM_SHA256, (const guchar *) secret, strlen (secret),
                                    message, -1);
}

gboolean
evcp_central_auth_equal (const gchar *a, const gchar *b)
{
  gsize len;
  guint8 diff = 0;

  g_return_val_if_fail (a != NULL && b != NULL, FALSE);

  len = strlen (a);
  if (len != strlen (b))
    return FALSE;
  for (gsize i = 0; i < len; i++)
    diff |= (guint8) a[i] ^ (guint8) b[i];
  return diff == 0;
}

gboolean
evcp_central_auth_check (const gchar *secret, const gchar *nonce, const gchar *cp_id,
                         const gchar *role, const gchar *proof)
{
  g_autofree gchar *expected = NULL;

  g_return_val_if_fail (proof != NULL, FALSE);

  expected = evcp_central_auth_proof (secret, nonce, cp_id, role);
  /* the expected proof always has 64 hex digits: a proof of another length
   * tells nothing about it */
  return expected != NULL && evcp_central_auth_equal (expected, proof);
}
