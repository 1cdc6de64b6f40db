/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The keyed partitioner agrees with kafka-python's (the Java client's), on
 * the vectors tests/data/murmur2-vectors.py wrote with kafka-python. */
#include "evcp-build-config.h"

#include <string.h>

#include "evcp-kafka-partition.h"

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

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/kafka-partition/kafka-python-vectors", test_vectors);
  return g_test_run ();
}
