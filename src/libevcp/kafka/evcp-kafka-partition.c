/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "evcp-build-config.h"

#include "evcp-kafka-partition.h"

guint32
evcp_kafka_murmur2 (gconstpointer data, gsize len)
{
  const guint8 *p = data;
  const guint32 m = 0x5bd1e995;
  guint32 h = 0x9747b28c ^ (guint32) len;
  gsize i;

  for (i = 0; i + 4 <= len; i += 4)
    {
      guint32 k = (guint32) p[i] | ((guint32) p[i + 1] << 8) | ((guint32) p[i + 2] << 16) |
                  ((guint32) p[i + 3] << 24);

      k *= m;
      k ^= k >> 24;
      k *= m;
      h *= m;
      h ^= k;
    }
  switch (len & 3)
    {
    case 3:
      h ^= (guint32) p[i + 2] << 16;
      G_GNUC_FALLTHROUGH;
    case 2:
      h ^= (guint32) p[i + 1] << 8;
      G_GNUC_FALLTHROUGH;
    case 1:
      h ^= p[i];
      h *= m;
      break;
    default:
      break;
    }
  h ^= h >> 13;
  h *= m;
  h ^= h >> 15;
  return h;
}

gint32
evcp_kafka_partition_for_key (gconstpointer key, gsize len, gint32 partitions)
{
  g_return_val_if_fail (partitions > 0, 0);
  return (gint32) ((evcp_kafka_murmur2 (key, len) & 0x7fffffff) % (guint32) partitions);
}
