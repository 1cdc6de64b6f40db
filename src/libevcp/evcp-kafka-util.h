#pragma once

#include <glib.h>
#include <librdkafka/rdkafka.h>

G_BEGIN_DECLS

/*
 * A librdkafka configuration: bootstrap servers, then @defaults (what evcp
 * chooses), then @overrides (what the user's config file says, so that any
 * property, security.protocol, sasl.* and ssl.* included, can be set).
 * librdkafka's own log lines go to GLib's structured log.
 */
rd_kafka_conf_t *evcp_kafka_conf_new   (const gchar        *brokers,
                                        const gchar *const *defaults,
                                        GHashTable         *overrides,
                                        GError            **error);
void             evcp_kafka_set_error  (GError            **error,
                                        rd_kafka_resp_err_t err,
                                        const gchar        *what);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (rd_kafka_conf_t, rd_kafka_conf_destroy)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (rd_kafka_topic_partition_list_t, rd_kafka_topic_partition_list_destroy)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (rd_kafka_headers_t, rd_kafka_headers_destroy)

typedef struct {
  const gchar *name;
  gchar       *value;
} EvcpKafkaHeader;

G_END_DECLS
