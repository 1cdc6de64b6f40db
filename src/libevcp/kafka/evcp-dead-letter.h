/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "evcp-json-limits.h"   /* evcp_utf8_cut () */
#include "evcp-kafka-util.h"
#include "evcp-message.h"

G_BEGIN_DECLS

/* Bounds of a dead letter's parts (bytes). A header value longer than its
 * bound is cut at a character boundary and ends with "…"; a longer key is cut
 * and evcp.original.key.size tells its size. */
#define EVCP_DEAD_LETTER_ERROR_MAX    1024   /* evcp.error (may quote the kind) */
#define EVCP_DEAD_LETTER_HEADER_MAX   256    /* every other header value */
#define EVCP_DEAD_LETTER_KEY_MAX      4096
/* room left for what Kafka adds around a record (lengths, attributes, the
 * batch header) below the producer's message.max.bytes */
#define EVCP_DEAD_LETTER_OVERHEAD     4096

/**
 * EvcpDeadLetterRecord:
 *
 * The record written to the dead-letter topic for one consumed message: its
 * original key and value (cut when they do not fit), the headers that say
 * where it came from and why it failed. The whole record (key, value, header
 * names and values) stays under the bound given to
 * evcp_dead_letter_record_new(), whatever the message holds.
 */
typedef struct _EvcpDeadLetterRecord EvcpDeadLetterRecord;

EvcpDeadLetterRecord  *evcp_dead_letter_record_new         (EvcpMessage          *message,
                                                            const GError         *error,
                                                            const gchar          *cp_id,
                                                            gsize                 max_bytes,
                                                            const gchar          *reduced_because);
GBytes                *evcp_dead_letter_record_get_key     (EvcpDeadLetterRecord *self);
GBytes                *evcp_dead_letter_record_get_value   (EvcpDeadLetterRecord *self);
const EvcpKafkaHeader *evcp_dead_letter_record_get_headers (EvcpDeadLetterRecord *self,
                                                            guint                *n_headers);
gsize                  evcp_dead_letter_record_get_size    (EvcpDeadLetterRecord *self);
gboolean               evcp_dead_letter_record_is_cut      (EvcpDeadLetterRecord *self);
void                   evcp_dead_letter_record_free        (EvcpDeadLetterRecord *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EvcpDeadLetterRecord, evcp_dead_letter_record_free)

G_END_DECLS
