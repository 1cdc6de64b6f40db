/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "evcp-build-config.h"

#include <string.h>

#include "evcp-error.h"
#include "evcp-message-private.h"
#include "evcp-time.h"

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
  g_clear_pointer (&msg, evcp_message_unref);

  /* exactly at the limit is fine */
  {
    EvcpMessageLimits limits = { .max_size = 0, .max_depth = 3 };
    msg = parse ("{\"kind\":\"X\",\"data\":{\"a\":[1]}}", &limits, &error);
    g_assert_no_error (error);
    g_assert_nonnull (msg);
    g_clear_pointer (&msg, evcp_message_unref);
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


/* Strings are decoded in place in a copy: escapes of every kind, the
 * same field read twice, the raw bytes untouched. */
static void
test_message_decode_in_place (void)
{
  const gchar *json = "{\"kind\":\"K\\u00e9\",\"data\":{\"a\":\"x\\\"y\\\\z\\n\","
                      "\"e\":\"\\ud83d\\ude00!\",\"p\":\"plain\",\"s\":\"\\/\\b\\f\\r\\t\"}}";
  g_autoptr(GError) error = NULL;
  g_autoptr(EvcpMessage) msg = evcp_message_new_consumed (json, strlen (json), "key", 3, "t", 1, 2);
  const gchar *a = NULL, *a2 = NULL, *e = NULL, *p = NULL, *sp = NULL;
  GBytes *raw;

  g_assert_true (evcp_message_parse (msg, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (evcp_message_get_kind (msg), ==, "K\xc3\xa9");
  g_assert_true (evcp_message_get_string (msg, "a", TRUE, &a, &error));
  g_assert_cmpstr (a, ==, "x\"y\\z\n");
  g_assert_true (evcp_message_get_string (msg, "a", TRUE, &a2, &error));
  g_assert_true (a2 == a);
  g_assert_cmpstr (a2, ==, "x\"y\\z\n");
  g_assert_true (evcp_message_get_string (msg, "e", TRUE, &e, &error));
  g_assert_cmpstr (e, ==, "\xf0\x9f\x98\x80!");
  g_assert_true (evcp_message_get_string (msg, "p", TRUE, &p, &error));
  g_assert_cmpstr (p, ==, "plain");
  g_assert_true (evcp_message_get_string (msg, "s", TRUE, &sp, &error));
  g_assert_cmpstr (sp, ==, "/\b\f\r\t");
  /* every string handed out is still intact after the others */
  g_assert_cmpstr (a, ==, "x\"y\\z\n");
  g_assert_cmpstr (evcp_message_get_kind (msg), ==, "K\xc3\xa9");
  raw = evcp_message_get_raw (msg);
  g_assert_cmpmem (g_bytes_get_data (raw, NULL), g_bytes_get_size (raw), json, strlen (json));
  /* the json-glib tree agrees */
  g_assert_cmpstr (json_object_get_string_member (evcp_message_get_data (msg), "a"), ==, a);
}

/* A consumed message copies what it is given, and its value and key
 * outlive it when someone keeps them. */
static void
test_message_consumed_lifetime (void)
{
  g_autofree gchar *value = g_strdup ("{\"kind\":\"K\",\"timestamp\":\"2026-12-03T10:15:30.5+01:00\"}");
  g_autofree gchar *key = g_strdup ("CP-042");
  g_autoptr(GError) error = NULL;
  EvcpMessage *msg = evcp_message_new_consumed (value, strlen (value), key, strlen (key),
                                                g_intern_string ("charging_requests"), 3, 99);
  g_autoptr(GBytes) raw = NULL;
  g_autoptr(GBytes) key_bytes = NULL;
  g_autoptr(EvcpMessage) empty = evcp_message_new_consumed (NULL, 0, NULL, 0, NULL, -1, -1);
  g_autoptr(EvcpMessage) no_key = evcp_message_new_consumed ("{}", 2, NULL, 0, NULL, 0, 0);
  g_autoptr(EvcpMessage) bad_key = evcp_message_new_consumed ("{}", 2, "\xff\xfe", 2, NULL, 0, 0);

  memset (value, 'x', strlen (value));   /* the message has its own copy */
  memset (key, 'y', strlen (key));
  g_assert_true (evcp_message_parse (msg, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (evcp_message_get_timestamp (msg), ==, "2026-12-03T10:15:30.5+01:00");
  g_assert_cmpstr (evcp_message_get_key (msg), ==, "CP-042");
  g_assert_cmpstr (evcp_message_get_topic (msg), ==, "charging_requests");
  g_assert_cmpint (evcp_message_get_partition (msg), ==, 3);
  g_assert_cmpint (evcp_message_get_offset (msg), ==, 99);
  raw = g_bytes_ref (evcp_message_get_raw (msg));
  key_bytes = g_bytes_ref (evcp_message_get_key_bytes (msg));
  g_assert_true (evcp_message_get_raw (msg) == raw);
  evcp_message_unref (msg);
  g_assert_cmpmem (g_bytes_get_data (key_bytes, NULL), g_bytes_get_size (key_bytes), "CP-042", 6);
  g_assert_cmpuint (g_bytes_get_size (raw), ==, strlen (value));
  g_assert_true (g_str_has_prefix (g_bytes_get_data (raw, NULL), "{\"kind\":\"K\""));

  g_assert_false (evcp_message_parse (empty, NULL, &error));
  g_assert_error (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE);
  g_clear_error (&error);
  g_assert_cmpuint (g_bytes_get_size (evcp_message_get_raw (empty)), ==, 0);
  g_assert_null (evcp_message_get_key_bytes (no_key));
  g_assert_null (evcp_message_get_key (no_key));
  g_assert_null (evcp_message_get_key (bad_key));
  g_assert_cmpuint (g_bytes_get_size (evcp_message_get_key_bytes (bad_key)), ==, 2);
}

static gboolean
glib_accepts (const gchar *text)
{
  g_autoptr(GTimeZone) utc = g_time_zone_new_utc ();
  g_autoptr(GDateTime) dt = g_date_time_new_from_iso8601 (text, utc);

  return dt != NULL;
}

/* The fast ISO 8601 check never accepts what GLib refuses, and it does
 * accept the usual shapes (or it would save nothing). */
static void
test_message_iso8601_fast (void)
{
  static const gchar *const usual[] = {
    "2026-12-03T10:15:30Z", "2026-12-03T10:15:30.123456Z", "2024-02-29T23:59:59.9Z",
    "2026-01-01T00:00:00+01:00", "2026-06-30T12:00:00.000-05:30", "1970-01-01T00:00:00Z",
  };
  static const gchar *const years[] = { "1969", "1970", "2000", "2023", "2024", "2100", "2400", "9000", "9999", "0000", "20a6" };
  static const gchar *const months[] = { "00", "01", "02", "04", "12", "13", "1x" };
  static const gchar *const days[] = { "00", "01", "28", "29", "30", "31", "32" };
  static const gchar *const times[] = { "00:00:00", "23:59:59", "24:00:00", "12:60:00", "12:00:60", "1:00:00", "12-00-00" };
  static const gchar *const fractions[] = { "", ".", ".1", ".123456", ".123456789", ".1234567890", ",5", ".5x" };
  static const gchar *const zones[] = { "Z", "z", "", "+00:00", "+01:00", "-05:30", "+18:00", "+18:59", "+19:00",
                                        "+24:00", "+01:60", "+0100", "+01", "+1:00", " Z", "Zx" };
  guint fast = 0, checked = 0;

  for (guint i = 0; i < G_N_ELEMENTS (usual); i++)
    {
      g_assert_true (evcp_message_iso8601_fast (usual[i], strlen (usual[i])));
      g_assert_true (glib_accepts (usual[i]));
    }
  for (guint y = 0; y < G_N_ELEMENTS (years); y++)
    for (guint mo = 0; mo < G_N_ELEMENTS (months); mo++)
      for (guint d = 0; d < G_N_ELEMENTS (days); d++)
        for (guint t = 0; t < G_N_ELEMENTS (times); t++)
          for (guint f = 0; f < G_N_ELEMENTS (fractions); f++)
            for (guint z = 0; z < G_N_ELEMENTS (zones); z++)
              {
                g_autofree gchar *text = g_strdup_printf ("%s-%s-%sT%s%s%s", years[y], months[mo], days[d],
                                                          times[t], fractions[f], zones[z]);

                checked++;
                if (!evcp_message_iso8601_fast (text, strlen (text)))
                  continue;
                fast++;
                if (!glib_accepts (text))
                  g_error ("the fast path accepts %s, GLib does not", text);
              }
  g_test_message ("%u of %u candidates took the fast path", fast, checked);
  g_assert_cmpuint (fast, >, 1000);
  /* not NUL-terminated: only @len bytes count */
  g_assert_true (evcp_message_iso8601_fast ("2026-12-03T10:15:30Zjunk", 20));
  g_assert_false (evcp_message_iso8601_fast ("2026-12-03T10:15:30Z", 19));
}

/* evcp_time_format_iso8601 writes what g_date_time_format_iso8601 writes. */
static void
test_message_time_format (void)
{
  static const gint64 fixed[] = {
    0, 1, 999999, G_USEC_PER_SEC, 951782400LL * G_USEC_PER_SEC /* 2000-02-29 */,
    4107542399LL * G_USEC_PER_SEC + 999999 /* 2100-02-28T23:59:59.999999 */,
    1798761600LL * G_USEC_PER_SEC /* 2027-01-01 */, 253402300799LL * G_USEC_PER_SEC /* 9999-12-31T23:59:59 */,
  };

  for (guint i = 0; i < G_N_ELEMENTS (fixed) + 20000; i++)
    {
      gint64 usec = i < G_N_ELEMENTS (fixed) ? fixed[i] :
                    (gint64) (g_test_rand_double_range (0, 253402300799.0) * G_USEC_PER_SEC);
      g_autoptr(GDateTime) dt = NULL;
      g_autofree gchar *expected = NULL;
      gchar buf[EVCP_TIMESTAMP_SIZE];

      if (i % 3 == 0)
        usec -= usec % G_USEC_PER_SEC;   /* no fraction */
      {
        g_autoptr(GDateTime) whole = g_date_time_new_from_unix_utc (usec / G_USEC_PER_SEC);

        dt = g_date_time_add (whole, usec % G_USEC_PER_SEC);
      }
      expected = g_date_time_format_iso8601 (dt);
      g_assert_cmpstr (evcp_time_format_iso8601 (usec, buf), ==, expected);
    }
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
  g_test_add_func ("/message/decode-in-place", test_message_decode_in_place);
  g_test_add_func ("/message/consumed-lifetime", test_message_consumed_lifetime);
  g_test_add_func ("/message/iso8601-fast", test_message_iso8601_fast);
  g_test_add_func ("/message/time-format", test_message_time_format);
  return g_test_run ();
}
