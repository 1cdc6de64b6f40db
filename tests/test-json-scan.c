/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "evcp-build-config.h"

#include <string.h>

#include "evcp-json-scan.h"

static EvcpJsonScanResult
scan (const gchar *text, gsize len, EvcpJsonIndex *index)
{
  return evcp_json_scan (text, len, 32, index);
}

static void
test_accept (void)
{
  /* valid RFC 8259 objects, the odd corners included */
  static const gchar *const ok[] = {
    "{}", " \t\r\n{ } \n", "{\"a\":1}", "{\"a\":-0}", "{\"a\":0.5e-3}", "{\"a\":1E+2}",
    "{\"a\":-12.25E2}", "{\"a\":true,\"b\":false,\"c\":null}", "{\"a\":[]}", "{\"a\":[{}, [], \"x\", 1]}",
    "{\"a\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"}", "{\"a\":\"\\u00e9\\ud83d\\ude00\"}", "{\"\\u0061\":1}",
    "{\"a\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}", "{\"a\":1,\"a\":2}", "\xef\xbb\xbf{\"a\":1}",
    "{\"a\":\"\\u0000\"}", "{\"a\":1e999}",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (ok); i++)
    {
      EvcpJsonIndex index;

      g_test_message ("accept %s", ok[i]);
      g_assert_cmpint (scan (ok[i], strlen (ok[i]), &index), ==, EVCP_JSON_SCAN_OK);
      g_assert_nonnull (index.root);
      evcp_json_index_clear (&index);
    }
}

typedef struct {
  const gchar       *text;
  EvcpJsonScanResult result;
} Bad;

static void
test_refuse (void)
{
  static const Bad bad[] = {
    { "", EVCP_JSON_SCAN_SYNTAX },
    { "   ", EVCP_JSON_SCAN_SYNTAX },
    { "[1]", EVCP_JSON_SCAN_NOT_OBJECT },
    { "\"s\"", EVCP_JSON_SCAN_NOT_OBJECT },
    { "12", EVCP_JSON_SCAN_NOT_OBJECT },
    { "{", EVCP_JSON_SCAN_SYNTAX },
    { "{\"a\"}", EVCP_JSON_SCAN_SYNTAX },
    { "{\"a\":}", EVCP_JSON_SCAN_SYNTAX },
    { "{\"a\":1,}", EVCP_JSON_SCAN_SYNTAX },
    { "{\"a\":[1,]}", EVCP_JSON_SCAN_SYNTAX },
    { "{\"a\":[1 2]}", EVCP_JSON_SCAN_SYNTAX },
    { "{\"a\":01}", EVCP_JSON_SCAN_SYNTAX },
    { "{\"a\":1.}", EVCP_JSON_SCAN_SYNTAX },
    { "{\"a\":.5}", EVCP_JSON_SCAN_SYNTAX },
    { "{\"a\":+1}", EVCP_JSON_SCAN_SYNTAX },
    { "{\"a\":1e}", EVCP_JSON_SCAN_SYNTAX },
    { "{\"a\":-}", EVCP_JSON_SCAN_SYNTAX },
    { "{\"a\":0x10}", EVCP_JSON_SCAN_SYNTAX },
    { "{\"a\":NaN}", EVCP_JSON_SCAN_SYNTAX },
    { "{\"a\":tru}", EVCP_JSON_SCAN_SYNTAX },
    { "{'a':1}", EVCP_JSON_SCAN_SYNTAX },
    { "{a:1}", EVCP_JSON_SCAN_SYNTAX },
    { "{\"a\":/*c*/1}", EVCP_JSON_SCAN_SYNTAX },
    { "{\"a\":1}{}", EVCP_JSON_SCAN_SYNTAX },
    { "{\"a\":1} x", EVCP_JSON_SCAN_SYNTAX },
    { "{\"a\":\"\\x\"}", EVCP_JSON_SCAN_SYNTAX },
    { "{\"a\":\"\\u12\"}", EVCP_JSON_SCAN_SYNTAX },
    { "{\"a\":\"\\ud800\"}", EVCP_JSON_SCAN_SYNTAX },
    { "{\"a\":\"\\udc00\"}", EVCP_JSON_SCAN_SYNTAX },
    { "{\"a\":\"tab\there\"}", EVCP_JSON_SCAN_SYNTAX },
    { "{\"a\":\"unterminated}", EVCP_JSON_SCAN_SYNTAX },
    { "{\"a\":\"\xc3\x28\"}", EVCP_JSON_SCAN_NOT_UTF8 },
    { "{\"a\":\"\xed\xa0\x80\"}", EVCP_JSON_SCAN_NOT_UTF8 },   /* UTF-8 surrogate */
    { "{\"a\":\"\xc0\xaf\"}", EVCP_JSON_SCAN_NOT_UTF8 },       /* overlong */
    { "{\"a\":\"\xf4\x90\x80\x80\"}", EVCP_JSON_SCAN_NOT_UTF8 }, /* above U+10FFFF */
    { "{\"a\":\"\xe2\x82\"}", EVCP_JSON_SCAN_NOT_UTF8 },       /* truncated */
    { "{\"a\":1}\xff", EVCP_JSON_SCAN_NOT_UTF8 },               /* outside a string */
  };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      EvcpJsonIndex index;
      g_autofree gchar *escaped = g_strescape (bad[i].text, NULL);

      g_test_message ("refuse %s", escaped);
      g_assert_cmpint (scan (bad[i].text, strlen (bad[i].text), &index), ==, bad[i].result);
      g_assert_null (index.root);
      g_assert_null (index.data);
      if (bad[i].result == EVCP_JSON_SCAN_SYNTAX)
        g_assert_nonnull (index.error);
    }
}

static void
test_nul_and_depth (void)
{
  static const gchar nul[] = "{\"a\":\"x\0y\"}";
  static const gchar nul_outside[] = "{\"a\":1}\0";
  g_autoptr(GString) deep = g_string_new ("{\"a\":");
  EvcpJsonIndex index;

  g_assert_cmpint (scan (nul, sizeof nul - 1, &index), ==, EVCP_JSON_SCAN_NOT_UTF8);
  g_assert_cmpint (scan (nul_outside, sizeof nul_outside - 1, &index), ==, EVCP_JSON_SCAN_NOT_UTF8);

  /* the limit counts the top-level object: 3 levels pass a limit of 3 */
  g_assert_cmpint (evcp_json_scan ("{\"a\":{\"b\":[1]}}", 15, 3, &index), ==, EVCP_JSON_SCAN_OK);
  evcp_json_index_clear (&index);
  g_assert_cmpint (evcp_json_scan ("{\"a\":{\"b\":[[1]]}}", 17, 3, &index), ==, EVCP_JSON_SCAN_TOO_DEEP);
  /* a million brackets stop at the limit, without deep recursion */
  for (guint i = 0; i < 1000000; i++)
    g_string_append_c (deep, '[');
  g_assert_cmpint (scan (deep->str, deep->len, &index), ==, EVCP_JSON_SCAN_TOO_DEEP);
}

static void
test_index (void)
{
  const gchar *text = "{\"kind\":\"X\",\"n\":42,\"f\":1.5,\"data\":{\"user_id\":\"u\\u00e9\\n\","
                      "\"nested\":{\"user_id\":\"inner\"},\"\\u0063p_id\":\"CP-1\"},"
                      "\"dup\":1,\"dup\":\"last\",\"e\":\"\\ud83d\\ude00\"}";
  EvcpJsonIndex index;
  const EvcpJsonMember *m;
  g_autofree gchar *s = NULL;
  g_autofree gchar *cp = NULL;
  g_autofree gchar *emoji = NULL;

  g_assert_cmpint (scan (text, strlen (text), &index), ==, EVCP_JSON_SCAN_OK);
  g_assert_cmpuint (index.root->len, ==, 7);
  g_assert_nonnull (index.data);
  /* only the two levels are indexed: the nested object's user_id is not */
  g_assert_cmpuint (index.data->len, ==, 3);

  m = evcp_json_find (text, index.root, "n");
  g_assert_cmpint (m->type, ==, EVCP_JSON_NUMBER);
  g_assert_true (m->is_integer);
  g_assert_cmpmem (text + m->val_start, m->val_len, "42", 2);
  m = evcp_json_find (text, index.root, "f");
  g_assert_false (m->is_integer);

  m = evcp_json_find (text, index.data, "user_id");
  s = evcp_json_decode_string (text, m);
  g_assert_cmpstr (s, ==, "u\xc3\xa9\n");
  /* escaped keys are found by their decoded name */
  m = evcp_json_find (text, index.data, "cp_id");
  g_assert_nonnull (m);
  cp = evcp_json_decode_string (text, m);
  g_assert_cmpstr (cp, ==, "CP-1");
  /* the last duplicate wins */
  m = evcp_json_find (text, index.root, "dup");
  g_assert_cmpint (m->type, ==, EVCP_JSON_STRING);
  m = evcp_json_find (text, index.root, "e");
  emoji = evcp_json_decode_string (text, m);
  g_assert_cmpstr (emoji, ==, "\xf0\x9f\x98\x80");
  g_assert_null (evcp_json_find (text, index.root, "missing"));
  g_assert_null (evcp_json_find (text, index.root, "d"));
  evcp_json_index_clear (&index);
}

static void
test_last_data_wins (void)
{
  const gchar *text = "{\"data\":{\"a\":1},\"data\":{\"b\":2}}";
  const gchar *not_object = "{\"data\":{\"a\":1},\"data\":7}";
  EvcpJsonIndex index;

  g_assert_cmpint (scan (text, strlen (text), &index), ==, EVCP_JSON_SCAN_OK);
  g_assert_null (evcp_json_find (text, index.data, "a"));
  g_assert_nonnull (evcp_json_find (text, index.data, "b"));
  evcp_json_index_clear (&index);
  g_assert_cmpint (scan (not_object, strlen (not_object), &index), ==, EVCP_JSON_SCAN_OK);
  g_assert_null (index.data);
  evcp_json_index_clear (&index);
}

static void
test_append_string (void)
{
  static const gchar *const texts[] = {
    "plain", "quote \" and backslash \\", "tab\tnew\nline\r", "\x01\x1f controls",
    "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (texts); i++)
    {
      g_autoptr(GString) json = g_string_new ("{\"v\":");
      g_autofree gchar *back = NULL;
      EvcpJsonIndex index;
      const EvcpJsonMember *m;

      evcp_json_append_string (json, texts[i]);
      g_string_append_c (json, '}');
      g_assert_cmpint (evcp_json_scan (json->str, json->len, 8, &index), ==, EVCP_JSON_SCAN_OK);
      m = evcp_json_find (json->str, index.root, "v");
      back = evcp_json_decode_string (json->str, m);
      g_assert_cmpstr (back, ==, texts[i]);
      evcp_json_index_clear (&index);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/json-scan/accept", test_accept);
  g_test_add_func ("/json-scan/refuse", test_refuse);
  g_test_add_func ("/json-scan/nul-and-depth", test_nul_and_depth);
  g_test_add_func ("/json-scan/index", test_index);
  g_test_add_func ("/json-scan/last-data-wins", test_last_data_wins);
  g_test_add_func ("/json-scan/append-string", test_append_string);
  return g_test_run ();
}
