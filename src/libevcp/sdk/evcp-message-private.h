/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "evcp-message.h"

G_BEGIN_DECLS

/*
 * For EvcpKafkaService: a consumed message, its value and key copied into
 * one allocation with room for the decoded strings (the consumer's
 * buffers are not kept: a message may outlive the consumer); @topic is an
 * interned string (g_intern_string()).
 */
EvcpMessage *evcp_message_new_consumed (const gchar *value,
                                        gsize        len,
                                        const gchar *key,
                                        gsize        key_len,
                                        const gchar *topic,
                                        gint32       partition,
                                        gint64       offset);

/* TRUE if @text (@len bytes, not NUL-terminated) is certainly accepted by
 * g_date_time_new_from_iso8601() with a UTC default; FALSE means "ask
 * GLib", not "invalid". Exposed for the differential test. */
gboolean     evcp_message_iso8601_fast (const gchar *text,
                                        gsize        len);

G_END_DECLS
