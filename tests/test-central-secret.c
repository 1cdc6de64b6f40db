/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The per-CP secret (docs/protocol.md, A1..A8): the proof against a vector
 * computed apart (Python's hmac), the constant-time comparison, the nonce,
 * and where a CP reads its secret (CENTRAL_SECRET, [central] secret,
 * [central] secret-file). */
#include "evcp-build-config.h"

#include <string.h>

#include <glib/gstdio.h>

#include "evcp-central-auth.h"
#include "evcp-config.h"
#include "evcp-error.h"

/* python3 -c 'import hmac,hashlib; print(hmac.new(b"secret",
 *   b"EVCP-AUTH-1\nnonce\nCP-001\nENGINE", hashlib.sha256).hexdigest())' */
#define VECTOR "f5d6103bde690c7ceab623525fe4ef655d3eb845e305aaf218763f91f239ef48"

static void
test_proof (void)
{
  g_autofree gchar *proof = evcp_central_auth_proof ("secret", "nonce", "CP-001", "ENGINE");
  g_autofree gchar *monitor = evcp_central_auth_proof ("secret", "nonce", "CP-001", "MONITOR");
  g_autofree gchar *other = evcp_central_auth_proof ("secret", "nonce2", "CP-001", "ENGINE");

  g_assert_cmpstr (proof, ==, VECTOR);
  g_assert_cmpuint (strlen (proof), ==, EVCP_CENTRAL_AUTH_PROOF_LEN);
  g_assert_true (evcp_central_auth_check ("secret", "nonce", "CP-001", "ENGINE", VECTOR));
  /* bound to the role, the nonce, the cp and the secret */
  g_assert_cmpstr (monitor, !=, proof);
  g_assert_cmpstr (other, !=, proof);
  g_assert_false (evcp_central_auth_check ("secret", "nonce", "CP-002", "ENGINE", VECTOR));
  g_assert_false (evcp_central_auth_check ("Secret", "nonce", "CP-001", "ENGINE", VECTOR));
  g_assert_false (evcp_central_auth_check ("secret", "nonce", "CP-001", "ENGINE", ""));
  g_assert_false (evcp_central_auth_check ("secret", "nonce", "CP-001", "ENGINE", VECTOR "0"));
}

static void
test_equal (void)
{
  g_assert_true (evcp_central_auth_equal ("", ""));
  g_assert_true (evcp_central_auth_equal ("abc", "abc"));
  g_assert_false (evcp_central_auth_equal ("abc", "abd"));
  g_assert_false (evcp_central_auth_equal ("abc", "xbc"));
  g_assert_false (evcp_central_auth_equal ("abc", "ab"));
  g_assert_false (evcp_central_auth_equal ("", "a"));
}

static void
test_nonce (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree gchar *a = evcp_central_auth_new_nonce (&error);
  g_autofree gchar *b = NULL;

  g_assert_no_error (error);
  b = evcp_central_auth_new_nonce (&error);
  g_assert_no_error (error);
  g_assert_cmpuint (strlen (a), ==, EVCP_CENTRAL_AUTH_NONCE_LEN);
  for (const gchar *p = a; *p != '\0'; p++)
    g_assert_true (g_ascii_isxdigit (*p) && !g_ascii_isupper (*p));
  g_assert_cmpstr (a, !=, b);
}

static void
test_config (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree gchar *dir = g_dir_make_tmp ("evcp-test-secret-XXXXXX", &error);
  g_autofree gchar *conf = g_build_filename (dir, "evcp.conf", NULL);
  g_autofree gchar *file = g_build_filename (dir, "secret", NULL);
  g_autofree gchar *empty = g_build_filename (dir, "empty", NULL);
  g_autofree gchar *text = NULL;
  const gchar *env[] = { "CENTRAL_SECRET=from-env", NULL };

  g_assert_no_error (error);
  {
    g_autoptr(EvcpConfig) config = evcp_config_new ();

    g_assert_null (config->central_secret);
    g_assert_true (evcp_config_load_environment (config, env, &error));
    g_assert_no_error (error);
    g_assert_cmpstr (config->central_secret, ==, "from-env");
    g_file_set_contents (conf, "[central]\nsecret = from-key-file\n", -1, &error);
    g_assert_no_error (error);
    g_assert_true (evcp_config_load_key_file (config, conf, &error));
    g_assert_no_error (error);
    g_assert_cmpstr (config->central_secret, ==, "from-key-file");
  }
  {
    g_autoptr(EvcpConfig) config = evcp_config_new ();
    g_autoptr(EvcpConfig) copy = NULL;

    g_file_set_contents (file, "  s3cret with spaces inside \n", -1, &error);
    g_assert_no_error (error);
    /* a key file takes "\" as an escape: a Windows path with "/" */
    text = g_strdup_printf ("[central]\nsecret = ignored\nsecret-file = %s\n", g_strdelimit (file, "\\", '/'));
    g_file_set_contents (conf, text, -1, &error);
    g_assert_no_error (error);
    g_assert_true (evcp_config_load_key_file (config, conf, &error));
    g_assert_no_error (error);
    g_assert_cmpstr (config->central_secret, ==, "s3cret with spaces inside");
    copy = evcp_config_copy (config);
    g_assert_cmpstr (copy->central_secret, ==, "s3cret with spaces inside");
  }
  {
    g_autoptr(EvcpConfig) config = evcp_config_new ();

    /* an empty or missing file: refused, naming the key */
    g_file_set_contents (empty, "\n \n", -1, &error);
    g_assert_no_error (error);
    g_clear_pointer (&text, g_free);
    text = g_strdup_printf ("[central]\nsecret-file = %s\n", g_strdelimit (empty, "\\", '/'));
    g_file_set_contents (conf, text, -1, &error);
    g_assert_no_error (error);
    g_assert_false (evcp_config_load_key_file (config, conf, &error));
    g_assert_nonnull (error);
    g_assert_nonnull (strstr (error->message, "secret-file"));
    g_clear_error (&error);
    g_clear_pointer (&text, g_free);
    text = g_strdup_printf ("[central]\nsecret-file = %s/missing\n", g_strdelimit (dir, "\\", '/'));
    g_file_set_contents (conf, text, -1, &error);
    g_assert_no_error (error);
    g_assert_false (evcp_config_load_key_file (config, conf, &error));
    g_assert_nonnull (error);
    g_assert_nonnull (strstr (error->message, "secret-file"));
    g_clear_error (&error);
  }
  g_unlink (conf);
  g_unlink (file);
  g_unlink (empty);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/central-secret/proof", test_proof);
  g_test_add_func ("/central-secret/equal", test_equal);
  g_test_add_func ("/central-secret/nonce", test_nonce);
  g_test_add_func ("/central-secret/config", test_config);
  return g_test_run ();
}
