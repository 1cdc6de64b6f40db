/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/**
 * EvcpConfig:
 *
 * The settings of one charging point, in increasing precedence: built-in
 * defaults, the environment (KAFKA_BROKERS, KAFKA_TOPICS, KAFKA_GROUP_ID,
 * CP_ID, CENTRAL_HOST, CENTRAL_PORT), a key file and its drop-ins
 * (the *.conf files of FILE.d, in name order), then command-line options:
 * evcp_config_load() applies all four, for every program.
 * docs/configuration.md documents every key.
 */
/**
 * EvcpKafkaAssignment:
 * @EVCP_KAFKA_ASSIGNMENT_GROUP: every CP its own consumer group on the
 *   shared topics (the original design): it reads the whole fleet's messages
 * @EVCP_KAFKA_ASSIGNMENT_KEYED: fleet mode: the CP reads only the partition
 *   of its own key in each topic (murmur2, as the Java client), and every
 *   partition of the broadcast topics; no group membership
 */
typedef enum {
  EVCP_KAFKA_ASSIGNMENT_GROUP,
  EVCP_KAFKA_ASSIGNMENT_KEYED,
} EvcpKafkaAssignment;

typedef struct {
  /* [evcp] */
  gchar      *cp_id;
  gchar      *location;
  gdouble     price_eur_kwh;
  gchar      *state_dir;             /* NULL: the platform default */
  gchar *plugin_dir;                 /* NULL or "": no plugins; evcp_config_load()'s
                                        * default: EVCP_PLUGINDIR, where meson installs them */

  /* [kafka] */
  gchar      *kafka_brokers;
  gchar     **kafka_topics;
  gchar      *kafka_group_id;        /* NULL: cp_engine_<cp_id> */
  gchar      *dead_letter_topic;
  gsize       max_message_size;
  guint       max_depth;
  guint       handler_attempts;
  guint       retry_backoff_ms;
  guint       retry_backoff_max_ms;
  guint       record_check_s;          /* re-read a handled record this often; 0: off */
  EvcpKafkaAssignment kafka_assignment; /* KAFKA_ASSIGNMENT, [kafka] assignment */
  gchar     **broadcast_topics;        /* keyed: read whole ([kafka] broadcast-topics) */
  guint       metadata_check_s;        /* keyed: partition counts asked this often */

  /* [librdkafka]: any librdkafka property, passed through to both clients;
   * [librdkafka-consumer] and [librdkafka-producer]: to one of them only */
  GHashTable *rdkafka;
  GHashTable *rdkafka_consumer;
  GHashTable *rdkafka_producer;

  /* [central] */
  gchar      *central_host;
  guint       central_port;
  gchar      *central_secret;          /* CENTRAL_SECRET; NULL: AUTH without proof */

  /* [ocpp]: the OCPP 1.6J link to a CSMS (docs/ocpp.md); no url: none */
  gchar *ocpp_url;       /* OCPP_URL; ws:// or wss://, the CP id is added */
  gchar *ocpp_password;  /* HTTP Basic (security profile 1) */
  gchar *ocpp_ca_file;   /* wss:// (profile 2) */
  gchar *ocpp_cert_file; /* client certificate (profile 3) */
  gchar *ocpp_key_file;
  guint ocpp_ping_interval_s;
  guint ocpp_pong_timeout_s;
  guint ocpp_call_timeout_ms;
  guint ocpp_reconnect_min_ms;
  guint ocpp_reconnect_max_ms;
  guint ocpp_max_frame_size;
  gdouble ocpp_power_kw; /* of a session started by RemoteStartTransaction */
  guint ocpp_max_duration_s;
  gboolean ocpp_charge_before_accepted;

  /* [evcp] metrics-address: the Engine's Prometheus endpoint (NULL: off) */
  gchar      *metrics_address;
  /* [evcp] health-address: where the Engine answers health checks (NULL:
   * engine_host:engine_port, where the Monitor looks) */
  gchar *health_address;

  /* [monitor]: the Monitor (evcp-monitor) */
  gchar      *engine_host;             /* ENGINE_HOST */
  guint       engine_port;             /* ENGINE_PORT */
  guint       health_interval_ms;      /* one check per interval, its timeout too */
  guint       ko_after;                /* failed checks in a row before KO */
  guint       ok_after;                /* good checks in a row before OK */
  guint       availability_window_s;   /* the sliding window of availability and latency */
  guint       event_interval_s;        /* periodic MONITORING_EVENT; 0: none */
  gchar      *monitoring_topic;
  gchar      *monitor_metrics_address; /* the Monitor's Prometheus endpoint (NULL: off) */
  gdouble     alert_latency_ms;        /* p99 over the window above it; 0: off */
  gdouble     alert_availability;      /* availability over the window under it; 0: off */
  guint       alert_faults;            /* this many faults within alert_faults_window_s; 0: off */
  guint       alert_faults_window_s;

  /* the key file that was loaded, if any, its drop-ins that were applied
   * after it (NULL or empty: none), and all of them as one key file (the
   * last file's value of each key; NULL without a key file), where plugins
   * and evcp-central read groups of their own */
  gchar      *config_file;
  gchar **drop_ins;
  GKeyFile *key_file;
  /* unknown groups and keys reported (a warning each); --check-config fails */
  guint unknown_keys;
} EvcpConfig;

#define EVCP_DEFAULT_CP_ID          "CP-001"
#define EVCP_DEFAULT_KAFKA_BROKERS  "localhost:9092"
#define EVCP_DEFAULT_KAFKA_TOPICS   "user_messages,charging_requests,system_notifications"
#define EVCP_DEFAULT_DEAD_LETTERS   "dead_letters"
#define EVCP_DEFAULT_CENTRAL_HOST   "localhost"
#define EVCP_DEFAULT_CENTRAL_PORT   5000
#define EVCP_DEFAULT_ENGINE_HOST    "localhost"
#define EVCP_DEFAULT_ENGINE_PORT    5001
#define EVCP_DEFAULT_MONITORING_TOPIC "monitoring_events"
#define EVCP_DEFAULT_HEALTH_INTERVAL_MS 1000
#define EVCP_MIN_HEALTH_INTERVAL_MS     100

/**
 * EvcpConfigOptions:
 * @config_file: --config; %NULL: $EVCP_CONFIG if it is set and not empty
 *
 * The command-line options of a program, which evcp_config_load() applies
 * above the key file: a %NULL string or a 0 number was not given. Each
 * program fills the fields of the options it offers.
 */
typedef struct {
  const gchar *config_file;
  const gchar *cp_id;
  const gchar *kafka_brokers;
  const gchar *kafka_group_id;
  const gchar *kafka_topics; /* comma-separated */
  const gchar *location;
  const gchar *plugin_dir;
  const gchar *state_dir;
  const gchar *metrics_address;
  const gchar *health_address;
  const gchar *monitor_metrics_address;
  const gchar *engine_host;
  const gchar *central_host;
  gint engine_port;        /* 1 to 65535 */
  gint central_port;       /* 1 to 65535 */
  gint health_interval_ms; /* EVCP_MIN_HEALTH_INTERVAL_MS to an hour */
  gint ko_after;           /* 1 to 1000 */
  gint ok_after;           /* 1 to 1000 */
} EvcpConfigOptions;

GType        evcp_config_get_type         (void) G_GNUC_CONST;
EvcpConfig  *evcp_config_new              (void);
EvcpConfig  *evcp_config_copy             (const EvcpConfig    *config);
void         evcp_config_free             (EvcpConfig          *config);
gboolean     evcp_config_load_environment (EvcpConfig          *config,
                                           const gchar * const *envp,
                                           GError             **error);
gboolean     evcp_config_load_key_file    (EvcpConfig          *config,
                                           const gchar         *path,
                                           GError             **error);
gboolean evcp_config_load_files (EvcpConfig *config, const gchar *path, GError **error);
gchar *evcp_config_drop_in_dir (const gchar *path) G_GNUC_WARN_UNUSED_RESULT;
GInetSocketAddress *evcp_config_parse_address (const gchar *address, const gchar *name, GError **error);
gboolean     evcp_config_validate         (EvcpConfig          *config,
                                           GError             **error);
gboolean     evcp_config_set_topics       (EvcpConfig          *config,
                                           const gchar         *comma_separated,
                                           GError             **error);
const gchar *evcp_config_get_group_id     (EvcpConfig          *config);
EvcpConfig *evcp_config_load (const EvcpConfigOptions *options, GError **error) G_GNUC_WARN_UNUSED_RESULT;

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EvcpConfig, evcp_config_free)

G_END_DECLS
