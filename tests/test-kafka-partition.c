/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The keyed partitioner agrees with kafka-python's (the Java client's), on
 * the vectors tests/data/murmur2-vectors.py wrote with kafka-python. */
#include "evcp-build-config.h"

#include <string.h>

#include "evcp-kafka-partition.h"
#include "evcp-kafka-util.h"

static void
test_vectors (void)
{
  g_autofree gchar *path = g_test_build_filename (G_TEST_DIST, "data", "murmur2-vectors.txt", NULL);
  g_autofree gchar *text = NULL;
  g_auto(GStrv) lines = NULL;
  g_autoptr(GError) error = NULL;
  guint n = 0;

  g_assert_true (g_file_get_contents (path, &text, NULL, &error));
  g_assert_no_error (error);
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_auto(GStrv) f = NULL;
      guint64 partitions, partition;

      if (lines[i][0] == '\0')
        continue;
      f = g_strsplit (lines[i], "\t", 3);
      g_assert_cmpuint (g_strv_length (f), ==, 3);
      g_assert_true (g_ascii_string_to_unsigned (f[1], 10, 1, G_MAXINT32, &partitions, NULL));
      g_assert_true (g_ascii_string_to_unsigned (f[2], 10, 0, G_MAXINT32, &partition, NULL));
      if (evcp_kafka_partition_for_key (f[0], strlen (f[0]), (gint32) partitions) != (gint32) partition)
        g_error ("key %s, %" G_GUINT64_FORMAT " partitions: %d, kafka-python says %" G_GUINT64_FORMAT,
                 f[0], partitions, evcp_kafka_partition_for_key (f[0], strlen (f[0]), (gint32) partitions),
                 partition);
      n++;
    }
  g_assert_cmpuint (n, ==, 4000);
}

static gint64
lag_of (const gchar *json)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;

  g_assert_true (json_parser_load_from_data (parser, json, -1, &error));
  g_assert_no_error (error);
  return evcp_kafka_statistics_consumer_lag (json_node_get_object (json_parser_get_root (parser)));
}

/* The consumer lag from librdkafka's statistics (the shape of librdkafka
 * 2.0's STATISTICS.md): the partitions fetched, the stored lag first;
 * librdkafka's internal partition -1 and partitions not fetched left out;
 * unknown (-1) when nothing tells. */
static void
test_statistics_lag (void)
{
  g_assert_cmpint (lag_of ("{\"type\":\"consumer\"}"), ==, -1);
  g_assert_cmpint (lag_of ("{\"topics\":{}}"), ==, -1);
  g_assert_cmpint (lag_of ("{\"topics\":{\"a\":{\"partitions\":{"
                           "\"0\":{\"partition\":0,\"fetch_state\":\"active\",\"consumer_lag\":7,\"consumer_lag_"
                           "stored\":5},"
                           "\"1\":{\"partition\":1,\"fetch_state\":\"active\",\"consumer_lag\":3},"
                           "\"2\":{\"partition\":2,\"fetch_state\":\"none\",\"consumer_lag\":100},"
                           "\"-1\":{\"partition\":-1,\"fetch_state\":\"none\",\"consumer_lag\":-1}}},"
                           "\"b\":{\"partitions\":{"
                           "\"0\":{\"partition\":0,\"fetch_state\":\"offset-query\",\"consumer_lag\":-1},"
                           "\"1\":{\"partition\":1,\"fetch_state\":\"active\",\"consumer_lag_stored\":0}}}}}"),
                   ==, 5 + 3 + 0);
  g_assert_cmpint (lag_of ("{\"topics\":{\"a\":{\"partitions\":{"
                           "\"0\":{\"partition\":0,\"fetch_state\":\"active\",\"consumer_lag\":-1}}}}}"),
                   ==, -1);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/kafka-partition/kafka-python-vectors", test_vectors);
  g_test_add_func ("/kafka-partition/statistics-lag", test_statistics_lag);
  return g_test_run ();
}
