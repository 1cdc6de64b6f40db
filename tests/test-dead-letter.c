/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The dead-letter record: bounded as a whole, whatever the message holds. */
#include "evcp-build-config.h"

#include <string.h>

#include "evcp-dead-letter.h"
#include "evcp-error.h"
#include "evcp-message-private.h"

static gsize
header_value_size (EvcpDeadLetterRecord *record, const gchar *name)
{
  guint n;
  const EvcpKafkaHeader *headers = evcp_dead_letter_record_get_headers (record, &n);

  for (guint i = 0; i < n; i++)
    if (strcmp (headers[i].name, name) == 0)
      return strlen (headers[i].value);
  return 0;
}

/* every combination of a large key, value and error stays under the bound */
static void
test_bounded (void)
{
  static const gsize sizes[] = { 0, 10, 4096, 4097, 500000, 999000, 2000000 };
  const gsize max = 1000000;

  for (guint k = 0; k < G_N_ELEMENTS (sizes); k++)
    for (guint v = 0; v < G_N_ELEMENTS (sizes); v++)
      for (guint e = 0; e < G_N_ELEMENTS (sizes); e++)
        {
          g_autofree gchar *key = g_strnfill (sizes[k], 'k');
          g_autofree gchar *value = g_strnfill (sizes[v], 'v');
          g_autofree gchar *why = g_strnfill (sizes[e], 'e');
          g_autoptr(GError) error = g_error_new_literal (EVCP_ERROR, EVCP_ERROR_NO_HANDLER, why);
          g_autoptr(EvcpMessage) message =
            evcp_message_new_consumed (value, sizes[v], sizes[k] > 0 ? key : NULL, sizes[k],
                                       g_intern_string ("user_messages"), 3, 42);
          g_autoptr(EvcpDeadLetterRecord) record =
            evcp_dead_letter_record_new (message, error, "CP-001", max, NULL);
          GBytes *rkey = evcp_dead_letter_record_get_key (record);
          GBytes *rvalue = evcp_dead_letter_record_get_value (record);

          g_assert_cmpuint (evcp_dead_letter_record_get_size (record) + EVCP_DEAD_LETTER_OVERHEAD, <=, max);
          g_assert_cmpuint (header_value_size (record, "evcp.error"), <=, EVCP_DEAD_LETTER_ERROR_MAX);
          g_assert_cmpuint (rkey != NULL ? g_bytes_get_size (rkey) : 0, ==, MIN (sizes[k], EVCP_DEAD_LETTER_KEY_MAX));
          /* the value is whole when it fits, else its first part */
          g_assert_cmpmem (g_bytes_get_data (rvalue, NULL), g_bytes_get_size (rvalue),
                           value, g_bytes_get_size (rvalue));
          g_assert_cmpint (evcp_dead_letter_record_is_cut (record), ==,
                           sizes[k] > EVCP_DEAD_LETTER_KEY_MAX || g_bytes_get_size (rvalue) < sizes[v]);
          if (sizes[v] <= 500000)
            g_assert_cmpuint (g_bytes_get_size (rvalue), ==, sizes[v]);
        }
}

/* reduced: the headers alone, saying why */
static void
test_reduced (void)
{
  g_autoptr(GError) error = g_error_new_literal (EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE, "bad");
  g_autoptr(EvcpMessage) message =
    evcp_message_new_consumed ("{bad", 4, "CP-001", 6, g_intern_string ("user_messages"), 0, 7);
  g_autoptr(EvcpDeadLetterRecord) record =
    evcp_dead_letter_record_new (message, error, "CP-001", 1000000, "refused");

  g_assert_null (evcp_dead_letter_record_get_key (record));
  g_assert_cmpuint (g_bytes_get_size (evcp_dead_letter_record_get_value (record)), ==, 0);
  g_assert_cmpuint (header_value_size (record, "evcp.dead-letter.reduced"), ==, strlen ("refused"));
  g_assert_cmpuint (header_value_size (record, "evcp.original.size"), ==, 1);
  g_assert_true (evcp_dead_letter_record_is_cut (record));
}

static void
test_utf8_cut (void)
{
  g_autofree gchar *a = evcp_utf8_cut ("short", 10);
  g_autofree gchar *b = evcp_utf8_cut ("ééééé", 8);       /* 10 bytes: 2 é and "…" */
  g_autofree gchar *c = evcp_utf8_cut ("ab\xff\xfe" "cd", 100);
  g_autofree gchar *d = evcp_utf8_cut ("abcdef", 2);
  g_autofree gchar *e = evcp_utf8_cut (NULL, 2);

  g_assert_cmpstr (a, ==, "short");
  g_assert_cmpstr (b, ==, "éé…");
  g_assert_true (g_utf8_validate (c, -1, NULL));
  g_assert_cmpstr (d, ==, "");
  g_assert_cmpstr (e, ==, "");
  for (gsize max = 3; max < 40; max++)
    {
      g_autofree gchar *cut = evcp_utf8_cut ("añb€c𝄞dé€€€𝄞𝄞x", max);

      g_assert_cmpuint (strlen (cut), <=, max);
      g_assert_true (g_utf8_validate (cut, -1, NULL));
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/dead-letter/bounded", test_bounded);
  g_test_add_func ("/dead-letter/reduced", test_reduced);
  g_test_add_func ("/dead-letter/utf8-cut", test_utf8_cut);
  return g_test_run ();
}
