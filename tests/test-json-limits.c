/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The bounded JSON loader (evcp-json-limits.h): nesting bombs refused
 * before json-glib recurses, brackets inside strings not counted, nothing
 * json-glib would read differently (comments, single quotes) able to hide a
 * bracket; and the state-file reader: a cap, regular files only. */
#include "evcp-build-config.h"

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "evcp-error.h"
#include "evcp-json-limits.h"

#define BOMB_DEPTH 100000
#define BIG        (16 * 1024 * 1024)

static gchar *
nest (const gchar *open, const gchar *inner, const gchar *close, guint depth)
{
  GString *s = g_string_sized_new (depth * (strlen (open) + strlen (close)) + 16);

  for (guint i = 0; i < depth; i++)
    g_string_append (s, open);
  g_string_append (s, inner);
  for (guint i = 0; i < depth; i++)
    g_string_append (s, close);
  return g_string_free (s, FALSE);
}

static void
assert_refused (const gchar *text, gsize len, guint max_depth, gint code)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(JsonNode) node = NULL;

  g_assert_false (evcp_json_check_limits (text, len, BIG, max_depth, &error));
  g_assert_error (error, EVCP_ERROR, code);
  g_clear_error (&error);
  g_assert_false (evcp_json_parser_load (parser, text, len, BIG, max_depth, &error));
  g_assert_error (error, EVCP_ERROR, code);
  g_assert_null (json_parser_get_root (parser));
  g_clear_error (&error);
  node = evcp_json_parse_object (text, len, BIG, max_depth, &error);
  g_assert_null (node);
  g_assert_error (error, EVCP_ERROR, code);
}

/* 100,000 levels of arrays, of objects, of both: refused as too deep, in
 * one pass (json-glib alone overflows its stack on them). */
static void
test_bombs (void)
{
  g_autofree gchar *arrays = nest ("[", "1", "]", BOMB_DEPTH);
  g_autofree gchar *objects = nest ("{\"a\":", "1", "}", BOMB_DEPTH);
  g_autofree gchar *mixed = nest ("{\"a\":[", "{}", "]}", BOMB_DEPTH / 2);
  g_autofree gchar *unclosed = nest ("[", "", "", BOMB_DEPTH);
  g_autofree gchar *in_object = g_strdup_printf ("{\"kind\":\"X\",\"data\":%s}", arrays);

  assert_refused (arrays, strlen (arrays), EVCP_JSON_LIMITS_DEFAULT_MAX_DEPTH, EVCP_ERROR_TOO_DEEP);
  assert_refused (objects, strlen (objects), EVCP_JSON_LIMITS_DEFAULT_MAX_DEPTH, EVCP_ERROR_TOO_DEEP);
  assert_refused (mixed, strlen (mixed), EVCP_JSON_LIMITS_DEFAULT_MAX_DEPTH, EVCP_ERROR_TOO_DEEP);
  assert_refused (unclosed, strlen (unclosed), EVCP_JSON_LIMITS_DEFAULT_MAX_DEPTH, EVCP_ERROR_TOO_DEEP);
  assert_refused (in_object, strlen (in_object), EVCP_JSON_LIMITS_DEFAULT_MAX_DEPTH, EVCP_ERROR_TOO_DEEP);
  /* even with the highest limit */
  assert_refused (arrays, strlen (arrays), EVCP_JSON_LIMITS_MAX_DEPTH, EVCP_ERROR_TOO_DEEP);
}

/* The limit itself: depth N passes with a limit of N, not N - 1. */
static void
test_depth_boundary (void)
{
  for (guint depth = 1; depth <= 70; depth++)
    {
      g_autofree gchar *text = nest ("{\"a\":", "[]", "}", depth - 1);
      g_autoptr(GError) error = NULL;
      g_autoptr(JsonNode) node = NULL;

      /* depth - 1 objects around an array: depth levels */
      node = evcp_json_parse_object (text, strlen (text), BIG, depth, &error);
      if (depth == 1)
        {
          /* a lone array is no object */
          g_assert_error (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE);
          g_clear_error (&error);
        }
      else
        {
          g_assert_no_error (error);
          g_assert_nonnull (node);
        }
      g_assert_false (evcp_json_check_limits (text, strlen (text), BIG, depth - 1, &error));
      g_assert_error (error, EVCP_ERROR, EVCP_ERROR_TOO_DEEP);
    }
}

/* Brackets inside strings, escaped quotes and backslashes do not count. */
static void
test_strings_do_not_count (void)
{
  g_autofree gchar *brackets = nest ("[{", "", "", BOMB_DEPTH);
  g_autofree gchar *text = g_strdup_printf ("{\"a\":\"%s\",\"b\":\"\\\"[[[[\\\\\",\"c\":[\"]]]]\"]}",
                                            brackets);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = evcp_json_parse_object (text, strlen (text), BIG, 2, &error);
  JsonObject *object;

  g_assert_no_error (error);
  g_assert_nonnull (node);
  object = json_node_get_object (node);
  g_assert_cmpuint (strlen (json_object_get_string_member (object, "a")), ==, 2 * BOMB_DEPTH);
  g_assert_cmpstr (json_object_get_string_member (object, "b"), ==, "\"[[[[\\");
  g_assert_cmpstr (json_array_get_string_element (json_object_get_array_member (object, "c"), 0), ==, "]]]]");
}

/* A leading byte order mark, as the message scanner allows it. */
static void
test_bom (void)
{
  static const gchar text[] = "\xEF\xBB\xBF{\"a\":[1]}";
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = evcp_json_parse_object (text, sizeof text - 1, BIG, 2, &error);

  g_assert_no_error (error);
  g_assert_nonnull (node);
  g_assert_false (evcp_json_check_limits (text, sizeof text - 1, BIG, 1, &error));
  g_assert_error (error, EVCP_ERROR, EVCP_ERROR_TOO_DEEP);
}

/* What json-glib reads in its own way (comments, single-quoted strings)
 * could hide brackets from a count that knows only "…": refused. And the
 * rest of the malformed or hostile texts. */
static void
test_refused (void)
{
  static const struct {
    const gchar *text;
    gint         code;
  } cases[] = {
    { "{\"a\":'\"'[[[[]]]]'\"'}", EVCP_ERROR_INVALID_MESSAGE },   /* single quotes */
    { "{/* \" */\"a\":[[[[1]]]]/* \" */}", EVCP_ERROR_INVALID_MESSAGE },
    { "{\"a\":1}// [[[[", EVCP_ERROR_INVALID_MESSAGE },
    { "{\"a\":1}# [[", EVCP_ERROR_INVALID_MESSAGE },
    { "{\"a\":\"unterminated}", EVCP_ERROR_INVALID_MESSAGE },
    { "{\"a\":\"ends in a backslash\\", EVCP_ERROR_INVALID_MESSAGE },
    { "{\"a\":1}}", EVCP_ERROR_INVALID_MESSAGE },
    { "{\"a\":[1}", EVCP_ERROR_INVALID_MESSAGE },   /* json-glib's own error */
    { "", EVCP_ERROR_INVALID_MESSAGE },
    { " \n\t ", EVCP_ERROR_INVALID_MESSAGE },
    /* a second value (json-glib 1.6 leaks the first tree on it) */
    { "{\"a\":1}{}", EVCP_ERROR_INVALID_MESSAGE },
    { "{\"a\":1} []", EVCP_ERROR_INVALID_MESSAGE },
    { "{\"a\":1},", EVCP_ERROR_INVALID_MESSAGE },
    { "{\"a\":1} 1", EVCP_ERROR_INVALID_MESSAGE },
    { "\"s\"{}", EVCP_ERROR_INVALID_MESSAGE },
    { "1 2", EVCP_ERROR_INVALID_MESSAGE },
    { "true{}", EVCP_ERROR_INVALID_MESSAGE },
    { "{\"a\":\"\xff\xfe\"}", EVCP_ERROR_NOT_UTF8 },
    { "{\"a\":\"\xc3\"}", EVCP_ERROR_NOT_UTF8 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(JsonNode) node = evcp_json_parse_object (cases[i].text, strlen (cases[i].text), BIG,
                                                         3, &error);

      g_test_message ("case %u: %s", i, error != NULL ? error->message : "accepted");
      g_assert_null (node);
      g_assert_error (error, EVCP_ERROR, cases[i].code);
    }
  /* a NUL byte inside a string */
  assert_refused ("{\"a\":\"x\0y\"}", 12, 3, EVCP_ERROR_NOT_UTF8);
}

static void
test_size (void)
{
  g_autofree gchar *big = g_strnfill (1024 * 1024, ' ');
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;

  big[0] = '{';
  big[1024 * 1024 - 1] = '}';
  g_assert_false (evcp_json_check_limits (big, 1024 * 1024, 1024 * 1024 - 1, 64, &error));
  g_assert_error (error, EVCP_ERROR, EVCP_ERROR_TOO_LARGE);
  g_clear_error (&error);
  node = evcp_json_parse_object (big, 1024 * 1024, 1024 * 1024, 64, &error);
  g_assert_no_error (error);
  g_assert_nonnull (node);
}

/* ---- state files ----------------------------------------------------------- */

static void
test_state_file_read (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree gchar *dir = g_dir_make_tmp ("evcp-test-json-limits-XXXXXX", &error);
  g_autofree gchar *path = g_build_filename (dir, "state.json", NULL);
  g_autofree gchar *link = g_build_filename (dir, "zero.json", NULL);
  g_autofree gchar *fifo = g_build_filename (dir, "fifo.json", NULL);
  g_autofree gchar *missing = g_build_filename (dir, "missing.json", NULL);
  g_autofree gchar *contents = NULL;
  gsize len = 0;

  g_assert_no_error (error);
  g_assert_true (g_file_set_contents (path, "{\"a\":1}", -1, &error));
  contents = evcp_state_file_read (path, 7, &len, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (contents, ==, "{\"a\":1}");
  g_assert_cmpuint (len, ==, 7);
  g_clear_pointer (&contents, g_free);

  /* one byte over */
  contents = evcp_state_file_read (path, 6, &len, &error);
  g_assert_null (contents);
  g_assert_error (error, EVCP_ERROR, EVCP_ERROR_TOO_LARGE);
  g_clear_error (&error);

#ifdef G_OS_UNIX
  /* a symbolic link to /dev/zero: refused without reading */
  g_assert_cmpint (symlink ("/dev/zero", link), ==, 0);
  contents = evcp_state_file_read (link, 1024, &len, &error);
  g_assert_null (contents);
  g_assert_error (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE);
  g_test_message ("%s", error->message);
  g_clear_error (&error);

  /* a FIFO nobody writes to: refused at once, not waited on */
  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
  contents = evcp_state_file_read (fifo, 1024, &len, &error);
  g_assert_null (contents);
  g_assert_error (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE);
  g_clear_error (&error);
#endif

  /* a directory */
  contents = evcp_state_file_read (dir, 1024, &len, &error);
  g_assert_null (contents);
  g_assert_error (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE);
  g_clear_error (&error);

  contents = evcp_state_file_read (missing, 1024, &len, &error);
  g_assert_null (contents);
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
  g_clear_error (&error);

  g_unlink (path);
  g_unlink (link);
  g_unlink (fifo);
  g_rmdir (dir);
}

static void
test_move_aside (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree gchar *dir = g_dir_make_tmp ("evcp-test-json-limits-XXXXXX", &error);
  g_autofree gchar *path = g_build_filename (dir, "session.json", NULL);
  g_autofree gchar *first = NULL;
  g_autofree gchar *second = NULL;
  g_autofree gchar *contents = NULL;

  g_assert_no_error (error);
  g_assert_true (g_file_set_contents (path, "one", -1, &error));
  first = evcp_state_file_move_aside (path, &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (first, path));
  g_assert_nonnull (strstr (first, ".unreadable-"));
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_get_contents (first, &contents, NULL, &error));
  g_assert_cmpstr (contents, ==, "one");

  /* twice in the same second: another name, nothing overwritten */
  g_assert_true (g_file_set_contents (path, "two", -1, &error));
  second = evcp_state_file_move_aside (path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (first, !=, second);
  g_clear_pointer (&contents, g_free);
  g_assert_true (g_file_get_contents (first, &contents, NULL, &error));
  g_assert_cmpstr (contents, ==, "one");

  g_assert_null (evcp_state_file_move_aside (path, &error));
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT);

  g_unlink (first);
  g_unlink (second);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/json-limits/bombs", test_bombs);
  g_test_add_func ("/json-limits/depth-boundary", test_depth_boundary);
  g_test_add_func ("/json-limits/strings-do-not-count", test_strings_do_not_count);
  g_test_add_func ("/json-limits/bom", test_bom);
  g_test_add_func ("/json-limits/refused", test_refused);
  g_test_add_func ("/json-limits/size", test_size);
  g_test_add_func ("/json-limits/state-file-read", test_state_file_read);
  g_test_add_func ("/json-limits/move-aside", test_move_aside);
  return g_test_run ();
}
