/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* evcp_json_to_string(): JSON as json-glib writes it, but doubles in their
 * shortest exact form (evcpctl --json). */
#include "evcp-build-config.h"

#include <math.h>

#include "evcp-json-write.h"

static gchar *
double_text (gdouble value)
{
  GString *out = g_string_new (NULL);

  evcp_json_append_double (out, value);
  return g_string_free (out, FALSE);
}

static void
test_doubles_shortest (void)
{
  const struct {
    gdouble value;
    const gchar *text;
  } cases[] = {
    { 0.3, "0.3" },
    { 0.1 + 0.2, "0.30000000000000004" },
    { 1.0, "1" },
    { -2.5, "-2.5" },
    { 0.0, "0" },
    { 99.95, "99.95" },
    { 1e-7, "1e-07" },
    { 123456789.125, "123456789.125" },
    { G_MAXDOUBLE, "1.7976931348623157e+308" },
    { NAN, "null" },
    { INFINITY, "null" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree gchar *text = double_text (cases[i].value);

      g_assert_cmpstr (text, ==, cases[i].text);
      if (isfinite (cases[i].value))
        g_assert_true (g_ascii_strtod (text, NULL) == cases[i].value);
    }
}

/* The same document as json-glib's generator writes, but for the doubles;
 * and json-glib reads it back to the same values. */
static void
test_document (void)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  g_autofree gchar *text = NULL;
  JsonObject *back;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "availability");
  json_builder_add_double_value (b, 0.3);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, "a \"quoted\"\\ line\nand\ttab \x01 ñ");
  json_builder_set_member_name (b, "count");
  json_builder_add_int_value (b, -42);
  json_builder_set_member_name (b, "list");
  json_builder_begin_array (b);
  json_builder_add_boolean_value (b, TRUE);
  json_builder_add_null_value (b);
  json_builder_begin_object (b);
  json_builder_end_object (b);
  json_builder_end_array (b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);

  text = evcp_json_to_string (root);
  g_assert_cmpstr (text, ==,
                   "{\"availability\":0.3,\"name\":\"a \\\"quoted\\\"\\\\ line\\nand\\ttab \\u0001 ñ\","
                   "\"count\":-42,\"list\":[true,null,{}]}");
  g_assert_true (json_parser_load_from_data (parser, text, -1, &error));
  g_assert_no_error (error);
  back = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpfloat (json_object_get_double_member (back, "availability"), ==, 0.3);
  g_assert_cmpstr (json_object_get_string_member (back, "name"), ==, "a \"quoted\"\\ line\nand\ttab \x01 ñ");
  g_assert_cmpint (json_object_get_int_member (back, "count"), ==, -42);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/json-write/doubles-shortest", test_doubles_shortest);
  g_test_add_func ("/json-write/document", test_document);
  return g_test_run ();
}
