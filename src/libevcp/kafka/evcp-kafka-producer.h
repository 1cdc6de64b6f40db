/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib-object.h>

#include "evcp-kafka-util.h"

G_BEGIN_DECLS

#define EVCP_TYPE_KAFKA_PRODUCER (evcp_kafka_producer_get_type ())
G_DECLARE_FINAL_TYPE (EvcpKafkaProducer, evcp_kafka_producer, EVCP, KAFKA_PRODUCER, GObject)

/**
 * EvcpKafkaDeliveryFunc:
 * @error: %NULL when the broker acknowledged the message
 *
 * Called on the main context exactly once per produced message, when the
 * broker acknowledged it, when it failed for good, or when the producer was
 * flushed and closed without delivering it.
 */
typedef void (*EvcpKafkaDeliveryFunc) (EvcpKafkaProducer *producer,
                                       const GError      *error,
                                       gint32             partition,
                                       gint64             offset,
                                       gpointer           user_data);

EvcpKafkaProducer *evcp_kafka_producer_new          (const gchar           *brokers,
                                                     GHashTable            *overrides,
                                                     GHashTable            *producer_overrides,
                                                     GError               **error);
gboolean           evcp_kafka_producer_produce      (EvcpKafkaProducer     *self,
                                                     const gchar           *topic,
                                                     GBytes                *key,
                                                     GBytes                *value,
                                                     const EvcpKafkaHeader *headers,
                                                     guint                  n_headers,
                                                     EvcpKafkaDeliveryFunc  callback,
                                                     gpointer               user_data,
                                                     GError               **error);
guint              evcp_kafka_producer_get_in_flight (EvcpKafkaProducer    *self);
gint64             evcp_kafka_producer_get_conf_int (EvcpKafkaProducer     *self,
                                                     const gchar           *name,
                                                     gint64                 fallback);
guint              evcp_kafka_producer_close        (EvcpKafkaProducer     *self,
                                                     guint                  timeout_ms);

G_END_DECLS
