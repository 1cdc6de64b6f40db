/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include <librdkafka/rdkafka.h>

G_BEGIN_DECLS

/*
 * A librdkafka configuration: bootstrap servers, then @defaults (what evcp
 * chooses), then @overrides (the config file's [librdkafka], for both
 * clients: security.protocol, sasl.*, ssl.*, …), then @client_overrides
 * ([librdkafka-consumer] or [librdkafka-producer]).
 * librdkafka's own log lines go to GLib's structured log.
 */
rd_kafka_conf_t *evcp_kafka_conf_new   (const gchar        *brokers,
                                        const gchar *const *defaults,
                                        GHashTable         *overrides,
                                        GHashTable         *client_overrides,
                                        GError            **error);
/* A property in effect for @rk, as a number; @fallback when unset or not one. */
gint64           evcp_kafka_conf_get_int (rd_kafka_t  *rk,
                                          const gchar *name,
                                          gint64       fallback);
/* Whether librdkafka accepts every property of the [librdkafka],
 * [librdkafka-consumer] and [librdkafka-producer] tables: checked at start,
 * before anything else, so that a typo is reported as what it is. */
gboolean         evcp_kafka_check_properties (const gchar *brokers,
                                              GHashTable  *common,
                                              GHashTable  *consumer,
                                              GHashTable  *producer,
                                              GError     **error);
/* Deadlines are monotonic times in µs (g_get_monotonic_time ()). */
void             evcp_kafka_commit_bounded         (rd_kafka_t *rk,
                                                    gint64      deadline);
gboolean         evcp_kafka_coordinator_answers    (rd_kafka_t *rk,
                                                    gint64      deadline);
gboolean         evcp_kafka_destroy_within         (rd_kafka_t *rk,
                                                    int         flags,
                                                    gint64      deadline);
/* Commits the stored offsets, leaves the group and destroys @rk, all within
 * @timeout_ms whatever the brokers do (rd_kafka_consumer_close() waits for
 * the session timeout when they are gone, and a commit left unanswered
 * holds rd_kafka_destroy()): the coordinator is asked first, and if it does
 * not answer within two thirds of the time, @rk is destroyed without the
 * commit or the leaving. What was not committed is delivered again.
 * With @own_close, a coordinator that answered gets librdkafka's own,
 * unbounded close (prompt then; a close cut short during a group join
 * crashed librdkafka 2.0.2). Rebalance callbacks are served meanwhile. */
void             evcp_kafka_consumer_close_bounded (rd_kafka_t *rk,
                                                    guint       timeout_ms,
                                                    gboolean    own_close);
/* client.id = @cp_id in @rdkafka ([librdkafka]) unless set there: brokers,
 * their logs and quotas see which charging point a client is. */
void evcp_kafka_default_client_id (GHashTable *rdkafka, const gchar *cp_id);
/* The consumer lag in librdkafka's statistics (@root): the sum over the
 * partitions being fetched of consumer_lag_stored (else consumer_lag), the
 * records not yet processed; -1 when no partition tells it. */
gint64 evcp_kafka_statistics_consumer_lag (JsonObject *root);
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
