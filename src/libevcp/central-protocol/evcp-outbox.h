/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib-object.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/*
 * EvcpOutbox: what a program (the Engine or the Monitor of one CP) must
 * never lose, kept on disk until every destination acknowledged it.
 *
 * One outbox per program holds its sequence counter and its pending events.
 * An event is appended once and gets the next sequence number; the same
 * event (same seq) may be due on the Central link (a frame, seq as its last
 * field) and on Kafka (a JSON value, seq as data.seq). Appending and
 * acknowledging rewrite the file atomically (write to a temporary file,
 * fsync, rename), so after a crash at any moment the file holds either the
 * old or the new state: no event lost, no sequence number skipped or used
 * twice.
 *
 * Cost: every append and every acknowledgement rewrites the whole file
 * (JSON: {"version":1,"next_seq":N,"records":[…]}) and fsyncs it and its
 * directory, so each costs O(pending) time and I/O and peek, list and
 * get_length are O(pending). Pending is small in practice: only events that
 * must never be lost go through the outbox (STATE, TICKET, FAULT, RECOVERED,
 * SESSION_ENDED, status changes), never telemetry, and they leave it as soon
 * as their destinations acknowledge them. One program owns an outbox file
 * at a time.
 *
 * Errors: EVCP_ERROR_INVALID_MESSAGE when the file exists but is not a valid
 * outbox (it is never reset: sequence numbers must only grow), or when an
 * event cannot be encoded (a field with '#' or a control byte, a frame over
 * 4096 bytes, an event whose "data" is not an object); EVCP_ERROR_FAILED
 * when the file cannot be read or written (nothing changed in memory).
 */

/* The largest outbox file written or read (about 60,000 pending tickets):
 * an append or acknowledgement that would make it larger fails
 * (EVCP_ERROR_FAILED) and a larger file is refused at open, like a
 * corrupt one; so is anything but a regular file (a symbolic link to
 * /dev/zero, a FIFO), without reading it, and JSON nested deeper than
 * EVCP_JSON_LIMITS_DEFAULT_MAX_DEPTH levels. */
#define EVCP_OUTBOX_MAX_FILE_SIZE (64 * 1024 * 1024)

typedef enum {
  EVCP_OUTBOX_CENTRAL = 1 << 0,
  EVCP_OUTBOX_KAFKA   = 1 << 1,
} EvcpOutboxDestination;

typedef struct _EvcpOutboxRecord EvcpOutboxRecord;

guint64        evcp_outbox_record_get_seq          (const EvcpOutboxRecord *record);
/* The DATA of the Central frame, seq included; NULL if not for Central. */
const gchar   *evcp_outbox_record_get_frame        (const EvcpOutboxRecord *record);
const gchar   *evcp_outbox_record_get_kafka_topic  (const EvcpOutboxRecord *record);
const gchar   *evcp_outbox_record_get_kafka_key    (const EvcpOutboxRecord *record);
/* The JSON value, with data.seq and the original timestamp; NULL if not for Kafka. */
const gchar   *evcp_outbox_record_get_kafka_value  (const EvcpOutboxRecord *record);
/* Wall-clock time of the event (µs since the epoch), for data.timestamp. */
gint64         evcp_outbox_record_get_wall_time    (const EvcpOutboxRecord *record);
guint          evcp_outbox_record_get_pending      (const EvcpOutboxRecord *record);

#define EVCP_TYPE_OUTBOX (evcp_outbox_get_type ())
G_DECLARE_FINAL_TYPE (EvcpOutbox, evcp_outbox, EVCP, OUTBOX, GObject)

/* Opens (or creates) the outbox file at @path, creating its directory. */
EvcpOutbox    *evcp_outbox_new              (const gchar          *path,
                                             GError              **error);

/**
 * evcp_outbox_append:
 * @central_fields: (nullable): the frame's fields without the seq
 *   (e.g. {"TICKET", cp, session, driver, kwh, eur, reason, NULL}); the
 *   outbox appends the seq as the last field
 * @kafka_topic: (nullable): where the event goes on Kafka
 * @kafka_key: (nullable): its key (the CP_ID)
 * @kafka_event: (nullable): {"kind": …, "data": {…}}; the outbox adds
 *   "timestamp" (ISO 8601, now) if absent and data.seq
 *
 * Assigns the next sequence number and persists the event before returning.
 *
 * Returns: (transfer none): the record, valid until it is acknowledged
 *   everywhere; %NULL with @error if it could not be written
 */
const EvcpOutboxRecord *
               evcp_outbox_append           (EvcpOutbox           *self,
                                             const gchar * const  *central_fields,
                                             const gchar          *kafka_topic,
                                             const gchar          *kafka_key,
                                             JsonObject           *kafka_event,
                                             GError              **error);

/* The oldest record still due at @destination, or NULL. */
const EvcpOutboxRecord *
               evcp_outbox_peek             (EvcpOutbox           *self,
                                             EvcpOutboxDestination destination);
/* Records still due at @destination, oldest first. (element-type EvcpOutboxRecord) (transfer container) */
GPtrArray     *evcp_outbox_list             (EvcpOutbox           *self,
                                             EvcpOutboxDestination destination);
/* @destination acknowledged @seq; persisted before returning. */
gboolean       evcp_outbox_ack              (EvcpOutbox           *self,
                                             guint64               seq,
                                             EvcpOutboxDestination destination,
                                             GError              **error);
guint          evcp_outbox_get_length       (EvcpOutbox           *self,
                                             EvcpOutboxDestination destination);
/* The seq the next append will get (the counter only grows). */
guint64        evcp_outbox_get_next_seq     (EvcpOutbox           *self);

/*
 * Additions to the first version of this API:
 *
 * evcp_outbox_get_open_seq: the value of next_seq when the file was opened;
 * a record with a smaller seq was appended by an earlier run of the program,
 * so it is late whenever it is sent now (data.replayed).
 * evcp_outbox_get_path: the file.
 */
guint64        evcp_outbox_get_open_seq     (EvcpOutbox           *self);
const gchar   *evcp_outbox_get_path         (EvcpOutbox           *self);

/*
 * Signal "appended" (guint64 seq, guint destinations): emitted once the new
 * record is on disk, so that senders wake up. Handlers must not acknowledge
 * the record synchronously everywhere: the record evcp_outbox_append()
 * returns would be freed before the caller sees it.
 */

G_END_DECLS
