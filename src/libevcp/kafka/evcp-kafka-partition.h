/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Kafka's murmur2 (the Java client's, kafka-python's, librdkafka's
 * "murmur2_random" partitioner for keyed records): the hash of @len bytes. */
guint32 evcp_kafka_murmur2           (gconstpointer data,
                                      gsize         len);
/* The partition of a record keyed @key among @partitions:
 * (murmur2(key) & 0x7fffffff) % partitions. */
gint32  evcp_kafka_partition_for_key (gconstpointer key,
                                      gsize         len,
                                      gint32        partitions);

G_END_DECLS
