#include "evcp-build-config.h"

#include <string.h>

#include "evcp-error.h"
#include "evcp-message.h"

static EvcpMessage *
parse (const gchar *json, const EvcpMessageLimits *limits, GError **error)
{
  g_autoptr(GBytes) raw = g_bytes_new (json, strlen (json));
  g_autoptr(GBytes) key = g_bytes_new_static ("CP-001", 6);
  g_autoptr(EvcpMessage) msg = evcp_message_new (raw, key, "user_messages", 2, 41);

  if (!evcp_message_parse (msg, limits, error))
    return NULL;
  return g_steal_pointer (&msg);
}

static void
test_message_data_shape (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(EvcpMessage) msg = parse ("{\"kind\":\"USER_INFO\",\"timestamp\":\"2026-11-26T10:00:00Z\","
                                      "\"data\":{\"user_id\":\"u1\",\"name\":\"Ana\"}}", NULL, &error);
  const gchar *s = NULL;

  g_assert_no_error (error);
  g_assert_nonnull (msg);
  g_assert_cmpstr (evcp_message_get_kind (msg), ==, "USER_INFO");
  g_assert_cmpstr (evcp_message_get_timestamp (msg), ==, "2026-11-26T10:00:00Z");
  g_assert_cmpstr (evcp_message_get_topic (msg), ==, "user_messages");
  g_assert_cmpstr (evcp_message_get_key (msg), ==, "CP-001");
  g_assert_cmpint (evcp_message_get_partition (msg), ==, 2);
  g_assert_cmpint (evcp_message_get_offset (msg), ==, 41);
  g_assert_true (evcp_message_get_string (msg, "user_id", TRUE, &s, &error));
  g_assert_cmpstr (s, ==, "u1");
  g_assert_true (evcp_message_get_string (msg, "vehicle", FALSE, &s, &error));
  g_assert_null (s);
}

static void
test_message_top_level_shape (void)
{
  g_autoptr(GError) error = NULL;
  /* the kafka-python producer of the contract */
  g_autoptr(EvcpMessage) msg = parse ("{\"kind\": \"CHARGING_REQUEST\", \"user_id\": \"user123\", "
                                      "\"cp_id\": \"CP-001\", \"requested_power\": 50, \"max_duration\": 3600}",
                                      NULL, &error);
  const gchar *s = NULL;
  gdouble power = 0;
  gint64 duration = 0;

  g_assert_no_error (error);
  g_assert_null (evcp_message_get_timestamp (msg));
  g_assert_null (evcp_message_get_data (msg));
  g_assert_true (evcp_message_get_string (msg, "cp_id", TRUE, &s, &error));
  g_assert_cmpstr (s, ==, "CP-001");
  g_assert_true (evcp_message_get_number (msg, "requested_power", TRUE, &power, &error));
  g_assert_cmpfloat (power, ==, 50.0);
  g_assert_true (evcp_message_get_integer (msg, "max_duration", TRUE, &duration, &error));
  g_assert_cmpint (duration, ==, 3600);
}

static void
test_message_data_first (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(EvcpMessage) msg = parse ("{\"kind\":\"USER_INFO\",\"user_id\":\"top\","
                                      "\"data\":{\"user_id\":\"inner\",\"name\":\"John Doe\"}}", NULL, &error);
  const gchar *s = NULL;

  g_assert_no_error (error);
  g_assert_true (evcp_message_get_string (msg, "user_id", TRUE, &s, &error));
  g_assert_cmpstr (s, ==, "inner");
  g_assert_true (evcp_message_get_string (msg, "name", TRUE, &s, &error));
  g_assert_cmpstr (s, ==, "John Doe");
}

static void
test_message_wrong_types (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(EvcpMessage) msg = parse ("{\"kind\":\"CHARGING_REQUEST\",\"data\":{\"user_id\":7,"
                                      "\"requested_power\":\"50\",\"max_duration\":36.5,\"n\":null}}",
                                      NULL, &error);
  const gchar *s = NULL;
  gdouble d;
  gint64 i;

  g_assert_no_error (error);
  g_assert_false (evcp_message_get_string (msg, "user_id", TRUE, &s, &error));
  g_assert_error (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE);
  g_clear_error (&error);
  g_assert_false (evcp_message_get_number (msg, "requested_power", TRUE, &d, &error));
  g_assert_error (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE);
  g_clear_error (&error);
  g_assert_false (evcp_message_get_integer (msg, "max_duration", TRUE, &i, &error));
  g_assert_error (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE);
  g_clear_error (&error);
  /* null counts as absent */
  g_assert_false (evcp_message_get_string (msg, "n", TRUE, &s, &error));
  g_assert_error (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE);
  g_clear_error (&error);
  g_assert_true (evcp_message_get_string (msg, "n", FALSE, &s, &error));
}

typedef struct {
  const gchar *json;
  EvcpError    code;
} BadCase;

static void
test_message_bad_input (void)
{
  static const BadCase cases[] = {
    { "", EVCP_ERROR_INVALID_MESSAGE },
    { "{", EVCP_ERROR_INVALID_MESSAGE },
    { "not json", EVCP_ERROR_INVALID_MESSAGE },
    { "[1,2]", EVCP_ERROR_INVALID_MESSAGE },
    { "\"kind\"", EVCP_ERROR_INVALID_MESSAGE },
    { "{}", EVCP_ERROR_INVALID_MESSAGE },
    { "{\"kind\":5}", EVCP_ERROR_INVALID_MESSAGE },
    { "{\"kind\":\"\"}", EVCP_ERROR_INVALID_MESSAGE },
    { "{\"kind\":\"X\",\"data\":[1]}", EVCP_ERROR_INVALID_MESSAGE },
    { "{\"kind\":\"X\",\"timestamp\":12}", EVCP_ERROR_INVALID_MESSAGE },
    { "{\"kind\":\"X\",\"timestamp\":\"yesterday\"}", EVCP_ERROR_INVALID_MESSAGE },
    { "{\"kind\":\"X\"} trailing", EVCP_ERROR_INVALID_MESSAGE },
    { "{\"kind\":\"\xc3\x28\"}", EVCP_ERROR_NOT_UTF8 },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(EvcpMessage) msg = parse (cases[i].json, NULL, &error);
      /* escaped: invalid UTF-8 in a TAP comment breaks the TAP stream */
      g_autofree gchar *escaped = g_strescape (cases[i].json, NULL);

      g_test_message ("case %" G_GSIZE_FORMAT ": %s", i, escaped);
      g_assert_null (msg);
      g_assert_error (error, EVCP_ERROR, (gint) cases[i].code);
      g_assert_true (evcp_error_is_permanent (error));
    }
}

static void
test_message_embedded_nul (void)
{
  static const gchar text[] = "{\"kind\":\"X\0\"}";
  g_autoptr(GBytes) raw = g_bytes_new (text, sizeof text - 1);
  g_autoptr(EvcpMessage) msg = evcp_message_new (raw, NULL, "t", 0, 0);
  g_autoptr(GError) error = NULL;

  g_assert_false (evcp_message_parse (msg, NULL, &error));
  g_assert_error (error, EVCP_ERROR, EVCP_ERROR_NOT_UTF8);
}

static void
test_message_too_large (void)
{
  EvcpMessageLimits limits = { .max_size = 64, .max_depth = 0 };
  g_autoptr(GString) big = g_string_new ("{\"kind\":\"X\",\"pad\":\"");
  g_autoptr(GError) error = NULL;
  g_autoptr(EvcpMessage) msg = NULL;

  for (guint i = 0; i < 100; i++)
    g_string_append_c (big, 'a');
  g_string_append (big, "\"}");
  msg = parse (big->str, &limits, &error);
  g_assert_null (msg);
  g_assert_error (error, EVCP_ERROR, EVCP_ERROR_TOO_LARGE);
  g_clear_error (&error);

  /* the default limit is 1 MiB */
  limits.max_size = 0;
  msg = parse (big->str, &limits, &error);
  g_assert_no_error (error);
  g_assert_nonnull (msg);
}

static void
test_message_too_deep (void)
{
  g_autoptr(GString) deep = g_string_new ("{\"kind\":\"X\",\"data\":");
  g_autoptr(GError) error = NULL;
  g_autoptr(EvcpMessage) msg = NULL;
  const guint n = 100000; /* would blow a recursive parser's stack */

  for (guint i = 0; i < n; i++)
    g_string_append_c (deep, '[');
  for (guint i = 0; i < n; i++)
    g_string_append_c (deep, ']');
  g_string_append_c (deep, '}');
  msg = parse (deep->str, NULL, &error);
  g_assert_null (msg);
  g_assert_error (error, EVCP_ERROR, EVCP_ERROR_TOO_DEEP);
  g_clear_error (&error);

  /* brackets inside strings, escaped quotes included, do not count */
  msg = parse ("{\"kind\":\"X\",\"s\":\"\\\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"}", NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (msg);
  g_clear_object (&msg);

  /* exactly at the limit is fine */
  {
    EvcpMessageLimits limits = { .max_size = 0, .max_depth = 3 };
    msg = parse ("{\"kind\":\"X\",\"data\":{\"a\":[1]}}", &limits, &error);
    g_assert_no_error (error);
    g_assert_nonnull (msg);
    g_clear_object (&msg);
    msg = parse ("{\"kind\":\"X\",\"data\":{\"a\":[[1]]}}", &limits, &error);
    g_assert_error (error, EVCP_ERROR, EVCP_ERROR_TOO_DEEP);
  }
}

/* A message that failed to parse exposes nothing of its partial parse:
 * the parser's tree is gone, so no borrowed pointer may be left behind. */
static void
test_message_failed_parse_state (void)
{
  static const gchar text[] = "{\"kind\":\"X\",\"timestamp\":\"2026-11-26T10:00:00Z\",\"data\":[1]}";
  g_autoptr(GBytes) raw = g_bytes_new_static (text, sizeof text - 1);
  g_autoptr(EvcpMessage) msg = evcp_message_new (raw, NULL, "t", 0, 7);
  g_autoptr(GError) error = NULL;
  g_autofree gchar *origin = NULL;

  g_assert_false (evcp_message_parse (msg, NULL, &error));
  g_assert_error (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE);
  g_assert_false (evcp_message_is_parsed (msg));
  g_assert_null (evcp_message_get_timestamp (msg));
  g_assert_null (evcp_message_get_kind (msg));
  g_assert_null (evcp_message_get_root (msg));
  g_assert_null (evcp_message_get_data (msg));
  g_assert_false (evcp_message_has_field (msg, "kind"));
  /* the raw bytes and origin stay, for the dead letters */
  g_assert_true (evcp_message_get_raw (msg) == raw);
  origin = evcp_message_describe (msg);
  g_assert_cmpstr (origin, ==, "t[0]@7 kind=?");
}

static void
test_message_parse_twice (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(EvcpMessage) msg = parse ("{\"kind\":\"X\",\"data\":{\"a\":1}}", NULL, &error);
  JsonObject *data;

  g_assert_no_error (error);
  data = evcp_message_get_data (msg);
  g_assert_true (evcp_message_parse (msg, NULL, &error));
  g_assert_true (evcp_message_is_parsed (msg));
  g_assert_true (evcp_message_get_data (msg) == data);
}

static void
test_message_numbers (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(EvcpMessage) msg = parse ("{\"kind\":\"X\",\"data\":{\"big\":1e400,\"neg\":-2.0,"
                                      "\"exp\":3.6e3,\"b\":true,\"o\":{},\"a\":[]}}", NULL, &error);
  gdouble d = -1;
  gint64 i = -1;

  g_assert_no_error (error);
  /* out of range for a double */
  g_assert_false (evcp_message_get_number (msg, "big", TRUE, &d, &error));
  g_assert_error (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE);
  g_clear_error (&error);
  g_assert_false (evcp_message_get_integer (msg, "big", TRUE, &i, &error));
  g_assert_error (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE);
  g_clear_error (&error);
  g_assert_true (evcp_message_get_integer (msg, "neg", TRUE, &i, &error));
  g_assert_cmpint (i, ==, -2);
  g_assert_true (evcp_message_get_integer (msg, "exp", TRUE, &i, &error));
  g_assert_cmpint (i, ==, 3600);
  g_assert_no_error (error);
  for (guint k = 0; k < 3; k++)
    {
      const gchar *field = (const gchar *[]) { "b", "o", "a" }[k];

      g_assert_false (evcp_message_get_number (msg, field, TRUE, &d, &error));
      g_assert_error (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE);
      g_clear_error (&error);
      g_assert_false (evcp_message_get_integer (msg, field, FALSE, &i, &error));
      g_assert_error (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE);
      g_clear_error (&error);
    }
  /* an absent optional field is no error and zeroes the output */
  d = 5;
  g_assert_true (evcp_message_get_number (msg, "absent", FALSE, &d, &error));
  g_assert_no_error (error);
  g_assert_cmpfloat (d, ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/message/data-shape", test_message_data_shape);
  g_test_add_func ("/message/top-level-shape", test_message_top_level_shape);
  g_test_add_func ("/message/data-first", test_message_data_first);
  g_test_add_func ("/message/wrong-types", test_message_wrong_types);
  g_test_add_func ("/message/bad-input", test_message_bad_input);
  g_test_add_func ("/message/embedded-nul", test_message_embedded_nul);
  g_test_add_func ("/message/too-large", test_message_too_large);
  g_test_add_func ("/message/too-deep", test_message_too_deep);
  g_test_add_func ("/message/failed-parse-state", test_message_failed_parse_state);
  g_test_add_func ("/message/parse-twice", test_message_parse_twice);
  g_test_add_func ("/message/numbers", test_message_numbers);
  return g_test_run ();
}
