/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>
#include <librdkafka/rdkafka.h>

G_BEGIN_DECLS

/*
 * Whether the records a consumer handled are still where it read them.
 *
 * A topic deleted and created again under a consuming Engine starts its
 * offsets again from 0. When the new topic has reached the consumer's
 * position by its next fetch, the broker finds that position in range and
 * librdkafka 2.0.2 (no leader epochs, no topic ids: KIP-320 came in 2.1)
 * goes on from there: the new topic's first records are never read. Nothing
 * reaches the application. So the consumer remembers, per partition, one
 * record it handled (its anchor: offset, timestamp, sizes and a digest), and
 * every so often a separate client, with no group, reads the record at that
 * offset again, in a thread: the same record, or one that retention has
 * removed (the offset under the low watermark), is fine; another record, or
 * none because the partition now ends before it, means the offsets went
 * back, and the partition is read again from its beginning.
 */

typedef struct {
  gint64  offset;
  gint64  timestamp;     /* the record's, in ms, or -1 */
  gsize   key_len;
  gsize   len;
  guint32 digest;        /* of the first and last bytes of the value */
} EvcpRecordMark;

/* A mark of a consumed message. */
void     evcp_record_mark_set   (EvcpRecordMark       *mark,
                                 const rd_kafka_message_t *m);
gboolean evcp_record_mark_equal (const EvcpRecordMark *a,
                                 const EvcpRecordMark *b);

#define EVCP_TYPE_KAFKA_RECORD_CHECK (evcp_kafka_record_check_get_type ())
G_DECLARE_FINAL_TYPE (EvcpKafkaRecordCheck, evcp_kafka_record_check, EVCP, KAFKA_RECORD_CHECK, GObject)

/* @conf: a configuration for the checking client (taken, even on error) */
EvcpKafkaRecordCheck *evcp_kafka_record_check_new     (rd_kafka_conf_t        *conf,
                                                       GError                **error);

/**
 * evcp_kafka_record_check_run_async:
 * @partitions: the partitions to check, each with its anchor's offset, its
 *   anchor (an #EvcpRecordMark, copied) in .opaque
 *
 * Reads each anchor's offset again, in a thread, within @timeout_ms.
 * One run at a time.
 */
void      evcp_kafka_record_check_run_async  (EvcpKafkaRecordCheck             *self,
                                              const rd_kafka_topic_partition_list_t *partitions,
                                              guint                             timeout_ms,
                                              GCancellable                     *cancellable,
                                              GAsyncReadyCallback               callback,
                                              gpointer                          user_data);
/**
 * evcp_kafka_record_check_run_finish:
 *
 * Returns: (transfer full): the partitions whose offsets went back (their
 *   anchor is not there any more), each with .offset the anchor's offset and
 *   .err the reason (_BAD_MSG: another record; _PARTITION_EOF: the partition
 *   ends before it); an empty list when every anchor is in place or could not
 *   be checked this time; %NULL with @error on cancellation
 */
rd_kafka_topic_partition_list_t *
          evcp_kafka_record_check_run_finish (EvcpKafkaRecordCheck             *self,
                                              GAsyncResult                     *result,
                                              GError                          **error);

G_END_DECLS
