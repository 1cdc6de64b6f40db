/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <librdkafka/rdkafka.h>

G_BEGIN_DECLS

/*
 * A GSource woken by a librdkafka queue. librdkafka calls back on one of its
 * own threads when the queue goes from empty to non-empty; the callback only
 * raises a flag and wakes the main context (both thread-safe), and the
 * source's callback then drains the queue on the main thread. Portable (no
 * file descriptor is involved, so it works on Windows as on Linux), and an
 * idle queue costs nothing.
 *
 * The callback must drain the queue until it is empty, or call
 * evcp_kafka_source_wake() to be dispatched again: otherwise the next
 * wake-up never comes.
 */
GSource *evcp_kafka_source_new  (rd_kafka_queue_t *queue,
                                 GMainContext     *context);
void     evcp_kafka_source_wake (GSource          *source);

G_END_DECLS
