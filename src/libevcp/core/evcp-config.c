/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "evcp-config"

#include "evcp-build-config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <glib/gi18n-lib.h>

#include "evcp-config.h"
#include "evcp-dispatcher.h"
#include "evcp-error.h"
#include "evcp-frame-field.h"
#include "evcp-json-limits.h"
#include "evcp-message.h"

/* A key file of evcp is a few KiB; a secret, a few dozen bytes; a site
 * has a handful of drop-ins. */
#define KEY_FILE_MAX    (1024 * 1024)
#define SECRET_FILE_MAX 4096
#define DROP_INS_MAX    256

/* Every group and key evcp reads from a key file, so that the others are
 * reported by name (as systemd does) rather than silently ignored: a
 * misspelt key is a setting that does not apply. A key added to
 * evcp_config_load_key_file() (or read elsewhere) goes here too. NULL keys:
 * the group takes any key (librdkafka's properties, evcp-central's CP ids).
 * Groups and keys whose name begins with "X-" belong to plugins and to local
 * use (as systemd's X- sections): never reported. */
static const gchar * const evcp_keys[] = { "cp-id",      "location",        "price",          "state-dir",
                                           "plugin-dir", "metrics-address", "health-address", NULL };
static const gchar * const kafka_keys[] = { "brokers",
                                            "topics",
                                            "group-id",
                                            "dead-letter-topic",
                                            "max-message-size",
                                            "max-depth",
                                            "handler-attempts",
                                            "retry-backoff-ms",
                                            "retry-backoff-max-ms",
                                            "record-check-s",
                                            "assignment",
                                            "broadcast-topics",
                                            "metadata-check-s",
                                            NULL };
static const gchar * const central_keys[] = { "host", "port", "secret", "secret-file", NULL };
static const gchar * const monitor_keys[] = { "engine-host",
                                              "engine-port",
                                              "interval-ms",
                                              "ko-after",
                                              "ok-after",
                                              "availability-window-s",
                                              "event-interval-s",
                                              "topic",
                                              "metrics-address",
                                              "alert-latency-ms",
                                              "alert-availability",
                                              "alert-faults",
                                              "alert-faults-window-s",
                                              NULL };
static const gchar * const ocpp_keys[] = { "url",
                                           "password",
                                           "ca-file",
                                           "cert-file",
                                           "key-file",
                                           "power-kw",
                                           "charge-before-accepted",
                                           "ping-interval-s",
                                           "pong-timeout-s",
                                           "call-timeout-ms",
                                           "reconnect-min-ms",
                                           "reconnect-max-ms",
                                           "max-frame-size",
                                           "max-duration-s",
                                           NULL };
static const struct {
  const gchar *group;
  const gchar * const *keys;
} known_groups[] = {
  { "evcp", evcp_keys },  { "kafka", kafka_keys }, { "central", central_keys },     { "monitor", monitor_keys },
  { "ocpp", ocpp_keys },  { "librdkafka", NULL },  { "librdkafka-consumer", NULL }, { "librdkafka-producer", NULL },
  { "cp-secrets", NULL }, /* evcp-central: <cp id> = <secret> */
};

G_DEFINE_BOXED_TYPE (EvcpConfig, evcp_config, evcp_config_copy, evcp_config_free)

EvcpConfig *
evcp_config_new (void)
{
  EvcpConfig *config = g_new0 (EvcpConfig, 1);

  config->cp_id = g_strdup (EVCP_DEFAULT_CP_ID);
  config->location = g_strdup ("unknown");
  config->price_eur_kwh = 0.30;
  config->kafka_brokers = g_strdup (EVCP_DEFAULT_KAFKA_BROKERS);
  config->kafka_topics = g_strsplit (EVCP_DEFAULT_KAFKA_TOPICS, ",", -1);
  config->dead_letter_topic = g_strdup (EVCP_DEFAULT_DEAD_LETTERS);
  config->max_message_size = EVCP_MESSAGE_DEFAULT_MAX_SIZE;
  config->max_depth = EVCP_MESSAGE_DEFAULT_MAX_DEPTH;
  config->handler_attempts = EVCP_DISPATCHER_DEFAULT_ATTEMPTS;
  config->retry_backoff_ms = EVCP_DISPATCHER_DEFAULT_BACKOFF_MS;
  config->retry_backoff_max_ms = EVCP_DISPATCHER_DEFAULT_BACKOFF_MAX_MS;
  config->record_check_s = 30;
  config->kafka_assignment = EVCP_KAFKA_ASSIGNMENT_GROUP;
  config->metadata_check_s = 30;
  config->broadcast_topics = g_strsplit ("system_notifications", ",", -1);
  config->rdkafka = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  config->rdkafka_consumer = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  config->rdkafka_producer = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  config->central_host = g_strdup (EVCP_DEFAULT_CENTRAL_HOST);
  config->central_port = EVCP_DEFAULT_CENTRAL_PORT;
  config->engine_host = g_strdup (EVCP_DEFAULT_ENGINE_HOST);
  config->engine_port = EVCP_DEFAULT_ENGINE_PORT;
  config->health_interval_ms = EVCP_DEFAULT_HEALTH_INTERVAL_MS;
  config->ko_after = 1;
  config->ok_after = 1;
  config->availability_window_s = 300;
  config->event_interval_s = 30;
  config->monitoring_topic = g_strdup (EVCP_DEFAULT_MONITORING_TOPIC);
  config->alert_faults_window_s = 3600;
  config->ocpp_ping_interval_s = 30;
  config->ocpp_pong_timeout_s = 10;
  config->ocpp_call_timeout_ms = 30000;
  config->ocpp_reconnect_min_ms = 1000;
  config->ocpp_reconnect_max_ms = 60000;
  config->ocpp_max_frame_size = 65536;
  config->ocpp_power_kw = 11;
  config->ocpp_max_duration_s = 8 * 3600;
  return config;
}

static GHashTable *
copy_table (GHashTable *table)
{
  GHashTable *copy = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  GHashTableIter iter;
  gpointer key, value;

  g_hash_table_iter_init (&iter, table);
  while (g_hash_table_iter_next (&iter, &key, &value))
    g_hash_table_insert (copy, g_strdup (key), g_strdup (value));
  return copy;
}

EvcpConfig *
evcp_config_copy (const EvcpConfig *config)
{
  EvcpConfig *copy = g_new0 (EvcpConfig, 1);

  *copy = *config;
  copy->cp_id = g_strdup (config->cp_id);
  copy->location = g_strdup (config->location);
  copy->state_dir = g_strdup (config->state_dir);
  copy->plugin_dir = g_strdup (config->plugin_dir);
  copy->kafka_brokers = g_strdup (config->kafka_brokers);
  copy->kafka_topics = g_strdupv (config->kafka_topics);
  copy->broadcast_topics = g_strdupv (config->broadcast_topics);
  copy->kafka_group_id = g_strdup (config->kafka_group_id);
  copy->dead_letter_topic = g_strdup (config->dead_letter_topic);
  copy->central_host = g_strdup (config->central_host);
  copy->central_secret = g_strdup (config->central_secret);
  copy->config_file = g_strdup (config->config_file);
  copy->metrics_address = g_strdup (config->metrics_address);
  copy->health_address = g_strdup (config->health_address);
  copy->drop_ins = g_strdupv (config->drop_ins);
  copy->key_file = config->key_file != NULL ? g_key_file_ref (config->key_file) : NULL;
  copy->engine_host = g_strdup (config->engine_host);
  copy->monitoring_topic = g_strdup (config->monitoring_topic);
  copy->monitor_metrics_address = g_strdup (config->monitor_metrics_address);
  copy->ocpp_url = g_strdup (config->ocpp_url);
  copy->ocpp_password = g_strdup (config->ocpp_password);
  copy->ocpp_ca_file = g_strdup (config->ocpp_ca_file);
  copy->ocpp_cert_file = g_strdup (config->ocpp_cert_file);
  copy->ocpp_key_file = g_strdup (config->ocpp_key_file);
  copy->rdkafka = copy_table (config->rdkafka);
  copy->rdkafka_consumer = copy_table (config->rdkafka_consumer);
  copy->rdkafka_producer = copy_table (config->rdkafka_producer);
  return copy;
}

void
evcp_config_free (EvcpConfig *config)
{
  if (config == NULL)
    return;
  g_free (config->cp_id);
  g_free (config->location);
  g_free (config->state_dir);
  g_free (config->plugin_dir);
  g_free (config->kafka_brokers);
  g_strfreev (config->kafka_topics);
  g_strfreev (config->broadcast_topics);
  g_free (config->kafka_group_id);
  g_free (config->dead_letter_topic);
  g_hash_table_unref (config->rdkafka);
  g_hash_table_unref (config->rdkafka_consumer);
  g_hash_table_unref (config->rdkafka_producer);
  g_free (config->central_host);
  g_free (config->central_secret);
  g_free (config->config_file);
  g_free (config->metrics_address);
  g_free (config->health_address);
  g_strfreev (config->drop_ins);
  g_clear_pointer (&config->key_file, g_key_file_unref);
  g_free (config->engine_host);
  g_free (config->monitoring_topic);
  g_free (config->monitor_metrics_address);
  g_free (config->ocpp_url);
  g_free (config->ocpp_password);
  g_free (config->ocpp_ca_file);
  g_free (config->ocpp_cert_file);
  g_free (config->ocpp_key_file);
  g_free (config);
}

static void
replace (gchar **field, const gchar *value)
{
  g_free (*field);
  *field = g_strdup (value);
}

gboolean
evcp_config_set_topics (EvcpConfig *config, const gchar *comma_separated, GError **error)
{
  g_auto(GStrv) parts = g_strsplit (comma_separated, ",", -1);
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  guint n = 0;

  for (guint i = 0; parts[i] != NULL; i++)
    {
      g_strstrip (parts[i]);
      if (*parts[i] == '\0')
        continue;
      g_strv_builder_add (builder, parts[i]);
      n++;
    }
  if (n == 0)
    {
      g_set_error (error, EVCP_ERROR, EVCP_ERROR_CONFIG,
                   _("No Kafka topic in “%s”"), comma_separated);
      return FALSE;
    }
  g_strfreev (config->kafka_topics);
  config->kafka_topics = g_strv_builder_end (builder);
  return TRUE;
}

static gboolean
parse_uint (const gchar *name, const gchar *text, guint64 min, guint64 max,
            guint64 *out, GError **error)
{
  if (!g_ascii_string_to_unsigned (text, 10, min, max, out, NULL))
    {
      g_autofree gchar *min_str = g_strdup_printf ("%" G_GUINT64_FORMAT, min);
      g_autofree gchar *max_str = g_strdup_printf ("%" G_GUINT64_FORMAT, max);

      g_set_error (error, EVCP_ERROR, EVCP_ERROR_CONFIG,
                   /* TRANSLATORS: a setting's name, its bounds, the value given */
                   _("%s must be a whole number from %s to %s, not “%s”"),
                   name, min_str, max_str, text);
      return FALSE;
    }
  return TRUE;
}

static gboolean
parse_assignment (const gchar *name, const gchar *text, EvcpKafkaAssignment *out, GError **error)
{
  if (g_strcmp0 (text, "group") == 0)
    *out = EVCP_KAFKA_ASSIGNMENT_GROUP;
  else if (g_strcmp0 (text, "keyed") == 0)
    *out = EVCP_KAFKA_ASSIGNMENT_KEYED;
  else
    {
      g_set_error (error, EVCP_ERROR, EVCP_ERROR_CONFIG,
                   /* TRANSLATORS: a setting's name, the value given; "group" and "keyed" are values */
                   _("%s must be “group” or “keyed”, not “%.64s”"), name, text);
      return FALSE;
    }
  return TRUE;
}

/**
 * evcp_config_load_environment:
 * @envp: (nullable): an environment as from g_get_environ(), %NULL for the
 *   process's own
 */
gboolean
evcp_config_load_environment (EvcpConfig          *config,
                              const gchar * const *envp,
                              GError             **error)
{
  g_auto(GStrv) own = NULL;
  const gchar *v;

  g_return_val_if_fail (config != NULL, FALSE);

  if (envp == NULL)
    envp = (const gchar * const *) (own = g_get_environ ());

  if ((v = g_environ_getenv ((gchar **) envp, "CP_ID")) != NULL && *v != '\0')
    replace (&config->cp_id, v);
  if ((v = g_environ_getenv ((gchar **) envp, "KAFKA_BROKERS")) != NULL && *v != '\0')
    replace (&config->kafka_brokers, v);
  if ((v = g_environ_getenv ((gchar **) envp, "KAFKA_TOPICS")) != NULL && *v != '\0' &&
      !evcp_config_set_topics (config, v, error))
    return FALSE;
  if ((v = g_environ_getenv ((gchar **) envp, "KAFKA_ASSIGNMENT")) != NULL && *v != '\0' &&
      !parse_assignment ("KAFKA_ASSIGNMENT", v, &config->kafka_assignment, error))
    return FALSE;
  if ((v = g_environ_getenv ((gchar **) envp, "KAFKA_GROUP_ID")) != NULL && *v != '\0')
    replace (&config->kafka_group_id, v);
  if ((v = g_environ_getenv ((gchar **) envp, "CENTRAL_HOST")) != NULL && *v != '\0')
    replace (&config->central_host, v);
  if ((v = g_environ_getenv ((gchar **) envp, "CENTRAL_SECRET")) != NULL && *v != '\0')
    replace (&config->central_secret, v);
  if ((v = g_environ_getenv ((gchar **) envp, "CENTRAL_PORT")) != NULL && *v != '\0')
    {
      guint64 port;

      if (!parse_uint ("CENTRAL_PORT", v, 1, 65535, &port, error))
        return FALSE;
      config->central_port = (guint) port;
    }
  if ((v = g_environ_getenv ((gchar **) envp, "OCPP_URL")) != NULL && *v != '\0')
    replace (&config->ocpp_url, v);
  if ((v = g_environ_getenv ((gchar **) envp, "ENGINE_HOST")) != NULL && *v != '\0')
    replace (&config->engine_host, v);
  if ((v = g_environ_getenv ((gchar **) envp, "ENGINE_PORT")) != NULL && *v != '\0')
    {
      guint64 port;

      if (!parse_uint ("ENGINE_PORT", v, 1, 65535, &port, error))
        return FALSE;
      config->engine_port = (guint) port;
    }
  return TRUE;
}

static gboolean
key_string (GKeyFile *kf, const gchar *group, const gchar *key, gchar **field, GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree gchar *value = g_key_file_get_string (kf, group, key, &local_error);

  /* GKeyFile gives the text before a bad escape ("secret\" at the end of a
   * line) and an error with it: the error wins */
  if (value == NULL || local_error != NULL)
    {
      if (g_error_matches (local_error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_KEY_NOT_FOUND) ||
          g_error_matches (local_error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_GROUP_NOT_FOUND))
        return TRUE;
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  g_strstrip (value);
  g_free (*field);
  *field = g_steal_pointer (&value);
  return TRUE;
}

/* [central] secret-file: the secret is the file's content, without the
 * white space around it. */
static gboolean
key_secret_file (GKeyFile *kf, gchar **field, GError **error)
{
  g_autofree gchar *path = NULL;
  g_autofree gchar *content = NULL;
  g_autoptr(GError) local_error = NULL;

  if (!key_string (kf, "central", "secret-file", &path, error))
    return FALSE;
  if (path == NULL)
    return TRUE;
  /* a regular file of at most 4 KiB: never a device or a pipe that has
   * no end (secret-file=/dev/zero would fill the memory) */
  content = evcp_state_file_read (path, SECRET_FILE_MAX, NULL, &local_error);
  if (content == NULL)
    {
      g_set_error (error, EVCP_ERROR, EVCP_ERROR_CONFIG,
                   _("[central] secret-file: %s"), local_error->message);
      return FALSE;
    }
  g_strstrip (content);
  if (*content == '\0')
    {
      g_set_error (error, EVCP_ERROR, EVCP_ERROR_CONFIG,
                   _("[central] secret-file: %s is empty"), path);
      return FALSE;
    }
  g_free (*field);
  *field = g_steal_pointer (&content);
  return TRUE;
}

static gboolean
key_uint (GKeyFile *kf, const gchar *group, const gchar *key, guint64 min, guint64 max,
          guint64 *out, gboolean *found, GError **error)
{
  g_autofree gchar *text = NULL;
  g_autofree gchar *name = g_strdup_printf ("[%s] %s", group, key);

  *found = FALSE;
  if (!key_string (kf, group, key, &text, error))
    return FALSE;
  if (text == NULL)
    return TRUE;
  *found = TRUE;
  return parse_uint (name, text, min, max, out, error);
}

#define KEY_UINT(group, key, min, max, field)                                   \
  G_STMT_START {                                                                \
    guint64 v_; gboolean found_;                                                \
    if (!key_uint (kf, group, key, min, max, &v_, &found_, error))              \
      goto fail;                                                                \
    if (found_)                                                                 \
      (field) = v_;                                                             \
  } G_STMT_END

/* A number from @min to @max; the field is left alone if the key is absent. */
static gboolean
key_double (GKeyFile *kf, const gchar *group, const gchar *key, gdouble min, gdouble max,
            gdouble *field, GError **error)
{
  g_autofree gchar *text = NULL;
  gchar *end = NULL;
  gdouble v;

  if (!key_string (kf, group, key, &text, error))
    return FALSE;
  if (text == NULL)
    return TRUE;
  v = g_ascii_strtod (text, &end);
  if (end == text || *end != '\0' || !(v >= min && v <= max))
    {
      gchar min_str[G_ASCII_DTOSTR_BUF_SIZE], max_str[G_ASCII_DTOSTR_BUF_SIZE];

      g_ascii_dtostr (min_str, sizeof min_str, min);
      g_ascii_dtostr (max_str, sizeof max_str, max);

      g_set_error (error, EVCP_ERROR, EVCP_ERROR_CONFIG,
                   /* TRANSLATORS: group, key, the bounds, the value given */
                   _("[%s] %s must be a number from %s to %s, not “%s”"),
                   group, key, min_str, max_str, text);
      return FALSE;
    }
  *field = v;
  return TRUE;
}

/* Every key of @group, verbatim, into @table. */
static gboolean
load_section (GKeyFile *kf, const gchar *group, GHashTable *table, GError **error)
{
  g_auto(GStrv) keys = g_key_file_get_keys (kf, group, NULL, NULL);

  for (guint i = 0; keys != NULL && keys[i] != NULL; i++)
    {
      g_autoptr(GError) local_error = NULL;
      g_autofree gchar *value = g_key_file_get_string (kf, group, keys[i], &local_error);

      /* a value with a bad escape comes with an error: refused, not cut */
      if (value == NULL || local_error != NULL)
        {
          g_propagate_prefixed_error (error, g_steal_pointer (&local_error), "[%s] %s: ", group, keys[i]);
          return FALSE;
        }
      g_hash_table_insert (table, g_strdup (keys[i]), g_strdup (g_strstrip (value)));
    }
  return TRUE;
}

/* [ocpp], docs/ocpp.md */
static gboolean
load_ocpp (GKeyFile *kf, EvcpConfig *config, GError **error)
{
  g_autofree gchar *charge = NULL;

  if (!key_string (kf, "ocpp", "url", &config->ocpp_url, error) ||
      !key_string (kf, "ocpp", "password", &config->ocpp_password, error) ||
      !key_string (kf, "ocpp", "ca-file", &config->ocpp_ca_file, error) ||
      !key_string (kf, "ocpp", "cert-file", &config->ocpp_cert_file, error) ||
      !key_string (kf, "ocpp", "key-file", &config->ocpp_key_file, error) ||
      !key_double (kf, "ocpp", "power-kw", 0.1, 1000, &config->ocpp_power_kw, error) ||
      !key_string (kf, "ocpp", "charge-before-accepted", &charge, error))
    return FALSE;
  if (charge != NULL && g_strcmp0 (charge, "true") != 0 && g_strcmp0 (charge, "false") != 0)
    {
      g_set_error (error, EVCP_ERROR, EVCP_ERROR_CONFIG,
                   _("[ocpp] charge-before-accepted must be “true” or “false”, not “%.64s”"), charge);
      return FALSE;
    }
  if (charge != NULL)
    config->ocpp_charge_before_accepted = g_strcmp0 (charge, "true") == 0;
  KEY_UINT ("ocpp", "ping-interval-s", 0, 3600, config->ocpp_ping_interval_s);
  KEY_UINT ("ocpp", "pong-timeout-s", 1, 3600, config->ocpp_pong_timeout_s);
  KEY_UINT ("ocpp", "call-timeout-ms", 100, 600000, config->ocpp_call_timeout_ms);
  KEY_UINT ("ocpp", "reconnect-min-ms", 10, 3600000, config->ocpp_reconnect_min_ms);
  KEY_UINT ("ocpp", "reconnect-max-ms", 10, 3600000, config->ocpp_reconnect_max_ms);
  KEY_UINT ("ocpp", "max-frame-size", 1024, 16 * 1024 * 1024, config->ocpp_max_frame_size);
  KEY_UINT ("ocpp", "max-duration-s", 1, 7 * 24 * 3600, config->ocpp_max_duration_s);
  return TRUE;

fail:
  return FALSE;
}

/* Each group and key of @kf that evcp does not know, with a warning naming
 * @path; returns how many. */
static guint
report_unknown (GKeyFile *kf, const gchar *path)
{
  g_auto(GStrv) groups = g_key_file_get_groups (kf, NULL);
  guint unknown = 0;

  for (guint i = 0; groups[i] != NULL; i++)
    {
      const gchar * const *known = NULL;
      g_auto(GStrv) keys = NULL;
      gsize g;

      if (g_str_has_prefix (groups[i], "X-"))
        continue;
      for (g = 0; g < G_N_ELEMENTS (known_groups); g++)
        if (g_strcmp0 (known_groups[g].group, groups[i]) == 0)
          break;
      if (g == G_N_ELEMENTS (known_groups))
        {
          /* TRANSLATORS: the key file, a group of it */
          g_warning (_("%s: unknown group [%s], ignored"), path, groups[i]);
          unknown++;
          continue;
        }
      known = known_groups[g].keys;
      keys = known != NULL ? g_key_file_get_keys (kf, groups[i], NULL, NULL) : NULL;
      for (guint k = 0; keys != NULL && keys[k] != NULL; k++)
        if (!g_str_has_prefix (keys[k], "X-") && !g_strv_contains (known, keys[k]))
          {
            /* TRANSLATORS: the key file, a key, its group */
            g_warning (_("%s: unknown key “%s” in [%s], ignored"), path, keys[k], groups[i]);
            unknown++;
          }
    }
  return unknown;
}

/* Applies the key file @path over @config; the file, parsed, in *@out. */
static gboolean
load_one (EvcpConfig *config, const gchar *path, GKeyFile **out, GError **error)
{
  g_autoptr(GKeyFile) kf = g_key_file_new ();
  g_autofree gchar *topics = NULL;
  g_autofree gchar *price = NULL;
  g_autofree gchar *contents = NULL;
  gsize len = 0;

  /* read with a cap, and only a regular file: a key file is small */
  contents = evcp_state_file_read (path, KEY_FILE_MAX, &len, error);
  if (contents == NULL || !g_key_file_load_from_data (kf, contents, len, G_KEY_FILE_NONE, error))
    {
      g_prefix_error (error, _("Cannot read %s: "), path);
      return FALSE;
    }
  config->unknown_keys += report_unknown (kf, path);

  if (!key_string (kf, "evcp", "cp-id", &config->cp_id, error) ||
      !key_string (kf, "evcp", "location", &config->location, error) ||
      !key_string (kf, "evcp", "price", &price, error) ||
      !key_string (kf, "evcp", "state-dir", &config->state_dir, error) ||
      !key_string (kf, "evcp", "plugin-dir", &config->plugin_dir, error) ||
      !key_string (kf, "kafka", "brokers", &config->kafka_brokers, error) ||
      !key_string (kf, "kafka", "topics", &topics, error) ||
      !key_string (kf, "kafka", "group-id", &config->kafka_group_id, error) ||
      !key_string (kf, "kafka", "dead-letter-topic", &config->dead_letter_topic, error) ||
      !key_string (kf, "central", "host", &config->central_host, error) ||
      !key_string (kf, "central", "secret", &config->central_secret, error) ||
      !key_secret_file (kf, &config->central_secret, error))
    goto fail;
  if (price != NULL)
    {
      gchar *end = NULL;
      gdouble p = g_ascii_strtod (price, &end);

      if (end == price || *end != '\0' || !(p >= 0 && p < 1000))
        {
          g_set_error (error, EVCP_ERROR, EVCP_ERROR_CONFIG,
                       _("[evcp] price must be a number of EUR per kWh, not “%s”"), price);
          goto fail;
        }
      config->price_eur_kwh = p;
    }
  if (topics != NULL && !evcp_config_set_topics (config, topics, error))
    goto fail;
  {
    g_autofree gchar *assignment = NULL;
    g_autofree gchar *broadcast = NULL;

    if (!key_string (kf, "kafka", "assignment", &assignment, error) ||
        !key_string (kf, "kafka", "broadcast-topics", &broadcast, error) ||
        (assignment != NULL && !parse_assignment ("[kafka] assignment", assignment, &config->kafka_assignment, error)))
      goto fail;
    if (broadcast != NULL)
      {
        g_strfreev (config->broadcast_topics);
        config->broadcast_topics = g_strsplit (broadcast, ",", -1);
        for (guint i = 0; config->broadcast_topics[i] != NULL; i++)
          g_strstrip (config->broadcast_topics[i]);
      }
  }

  {
    guint64 max_size = config->max_message_size;

    KEY_UINT ("kafka", "max-message-size", 64, 64 * 1024 * 1024, max_size);
    config->max_message_size = (gsize) max_size;
  }
  KEY_UINT ("kafka", "max-depth", 1, 1000, config->max_depth);
  KEY_UINT ("kafka", "handler-attempts", 1, 100, config->handler_attempts);
  KEY_UINT ("kafka", "retry-backoff-ms", 1, 600000, config->retry_backoff_ms);
  KEY_UINT ("kafka", "retry-backoff-max-ms", 1, 600000, config->retry_backoff_max_ms);
  KEY_UINT ("kafka", "record-check-s", 0, 86400, config->record_check_s);
  KEY_UINT ("kafka", "metadata-check-s", 1, 3600, config->metadata_check_s);
  KEY_UINT ("central", "port", 1, 65535, config->central_port);

  if (!key_string (kf, "evcp", "metrics-address", &config->metrics_address, error) ||
      !key_string (kf, "evcp", "health-address", &config->health_address, error) ||
      !key_string (kf, "monitor", "engine-host", &config->engine_host, error) ||
      !key_string (kf, "monitor", "topic", &config->monitoring_topic, error) ||
      !key_string (kf, "monitor", "metrics-address", &config->monitor_metrics_address, error) ||
      !key_double (kf, "monitor", "alert-latency-ms", 0, 3600000, &config->alert_latency_ms, error) ||
      !key_double (kf, "monitor", "alert-availability", 0, 1, &config->alert_availability, error))
    goto fail;
  KEY_UINT ("monitor", "engine-port", 1, 65535, config->engine_port);
  KEY_UINT ("monitor", "interval-ms", EVCP_MIN_HEALTH_INTERVAL_MS, 3600000, config->health_interval_ms);
  KEY_UINT ("monitor", "ko-after", 1, 1000, config->ko_after);
  KEY_UINT ("monitor", "ok-after", 1, 1000, config->ok_after);
  KEY_UINT ("monitor", "availability-window-s", 1, 7 * 24 * 3600, config->availability_window_s);
  KEY_UINT ("monitor", "event-interval-s", 0, 24 * 3600, config->event_interval_s);
  KEY_UINT ("monitor", "alert-faults", 0, 100000, config->alert_faults);
  KEY_UINT ("monitor", "alert-faults-window-s", 1, 7 * 24 * 3600, config->alert_faults_window_s);

  if (!load_ocpp (kf, config, error))
    goto fail;

  if (!load_section (kf, "librdkafka", config->rdkafka, error) ||
      !load_section (kf, "librdkafka-consumer", config->rdkafka_consumer, error) ||
      !load_section (kf, "librdkafka-producer", config->rdkafka_producer, error))
    goto fail;

  *out = g_steal_pointer (&kf);
  return TRUE;

fail:
  g_prefix_error (error, "%s: ", path);
  return FALSE;
}

/**
 * evcp_config_load_key_file:
 * @path: a key file
 *
 * Applies the keys of @path over @config (a key the file lacks leaves its
 * setting alone); reports its unknown groups and keys (a warning each,
 * counted in unknown_keys). @path becomes config_file, and its contents
 * key_file. Not its drop-ins: evcp_config_load_files().
 */
gboolean
evcp_config_load_key_file (EvcpConfig *config, const gchar *path, GError **error)
{
  GKeyFile *kf = NULL;

  g_return_val_if_fail (config != NULL, FALSE);
  g_return_val_if_fail (path != NULL, FALSE);

  if (!load_one (config, path, &kf, error))
    return FALSE;
  replace (&config->config_file, path);
  g_clear_pointer (&config->key_file, g_key_file_unref);
  config->key_file = kf;
  return TRUE;
}

/* The drop-in directory of the key file @path: "@path.d". */
gchar *
evcp_config_drop_in_dir (const gchar *path)
{
  g_return_val_if_fail (path != NULL, NULL);
  return g_strconcat (path, ".d", NULL);
}

static gint
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const gchar * const *) a, *(const gchar * const *) b);
}

/* The drop-ins of @dir (*.conf, not hidden), in name order (bytes, as
 * systemd sorts them); none when @dir does not exist. */
static GStrv
list_drop_ins (const gchar *dir, GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GDir) gdir = g_dir_open (dir, 0, &local_error);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const gchar *name;

  if (gdir == NULL)
    {
      if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT) ||
          g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOTDIR))
        return g_new0 (gchar *, 1);
      /* a site's settings that cannot be read must not be skipped */
      g_set_error (error, EVCP_ERROR, EVCP_ERROR_CONFIG, _("Cannot read the drop-in directory %s: %s"), dir,
                   local_error->message);
      return NULL;
    }
  while ((name = g_dir_read_name (gdir)) != NULL)
    if (name[0] != '.' && g_str_has_suffix (name, ".conf"))
      {
        if (names->len == DROP_INS_MAX)
          {
            g_set_error (error, EVCP_ERROR, EVCP_ERROR_CONFIG, _("%s: more than %u drop-ins"), dir,
                         (guint) DROP_INS_MAX);
            return NULL;
          }
        g_ptr_array_add (names, g_strdup (name));
      }
  g_ptr_array_sort (names, compare_names);
  for (guint i = 0; i < names->len; i++)
    {
      gchar *path = g_build_filename (dir, g_ptr_array_index (names, i), NULL);

      g_free (g_ptr_array_index (names, i));
      g_ptr_array_index (names, i) = path;
    }
  g_ptr_array_add (names, NULL);
  return (GStrv) g_ptr_array_free (g_steal_pointer (&names), FALSE);
}

/* Every key of @from into @into, replacing what @into had. */
static void
merge_key_file (GKeyFile *into, GKeyFile *from)
{
  g_auto(GStrv) groups = g_key_file_get_groups (from, NULL);

  for (guint i = 0; groups[i] != NULL; i++)
    {
      g_auto(GStrv) keys = g_key_file_get_keys (from, groups[i], NULL, NULL);

      for (guint k = 0; keys != NULL && keys[k] != NULL; k++)
        {
          g_autofree gchar *value = g_key_file_get_value (from, groups[i], keys[k], NULL);

          if (value != NULL)
            g_key_file_set_value (into, groups[i], keys[k], value);
        }
    }
}

/**
 * evcp_config_load_files:
 * @path: the main key file
 *
 * evcp_config_load_key_file() for @path, then for each of its drop-ins,
 * the files "*.conf" of "@path.d" in name order, each over what came
 * before (a site's overrides that a reinstall of @path leaves alone). The
 * drop-ins applied are in drop_ins; key_file holds every file's keys, the
 * last file's value of each.
 */
gboolean
evcp_config_load_files (EvcpConfig *config, const gchar *path, GError **error)
{
  g_autofree gchar *dir = NULL;
  g_auto(GStrv) drop_ins = NULL;

  g_return_val_if_fail (config != NULL, FALSE);
  g_return_val_if_fail (path != NULL, FALSE);

  if (!evcp_config_load_key_file (config, path, error))
    return FALSE;
  dir = evcp_config_drop_in_dir (path);
  drop_ins = list_drop_ins (dir, error);
  if (drop_ins == NULL)
    return FALSE;
  for (guint i = 0; drop_ins[i] != NULL; i++)
    {
      g_autoptr(GKeyFile) kf = NULL;

      if (!load_one (config, drop_ins[i], &kf, error))
        return FALSE;
      merge_key_file (config->key_file, kf);
    }
  g_strfreev (config->drop_ins);
  config->drop_ins = g_steal_pointer (&drop_ins);
  return TRUE;
}

/* printable UTF-8 of @min to @max bytes (NULL counts as empty) */
static gboolean
check_text (const gchar *value, gsize min, gsize max, const gchar *name, GError **error)
{
  gsize len = value != NULL ? strlen (value) : 0;

  if (len >= min && len <= max && (value == NULL || g_utf8_validate (value, -1, NULL)))
    {
      const gchar *p;

      for (p = value; p != NULL && *p != '\0'; p++)
        if ((guchar) *p < 0x20 || *p == 0x7f)
          break;
      if (p == NULL || *p == '\0')
        return TRUE;
    }
  {
    g_autofree gchar *min_str = g_strdup_printf ("%" G_GSIZE_FORMAT, min);
    g_autofree gchar *max_str = g_strdup_printf ("%" G_GSIZE_FORMAT, max);
    g_autofree gchar *got = g_strdup_printf ("%" G_GSIZE_FORMAT, len);

    g_set_error (error, EVCP_ERROR, EVCP_ERROR_CONFIG,
                 /* TRANSLATORS: a setting; bounds in bytes; its length */
                 _("%s must be %s to %s bytes of UTF-8 text without control characters (it has %s bytes)"),
                 name, min_str, max_str, got);
    return FALSE;
  }
}

/* Kafka's rule for a topic name: 1 to 249 of [a-zA-Z0-9._-] */
static gboolean
check_topic (const gchar *topic, const gchar *name, GError **error)
{
  gsize len = topic != NULL ? strlen (topic) : 0;

  if (len >= 1 && len <= 249 && topic[strspn (topic, "abcdefghijklmnopqrstuvwxyz"
                                                     "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                     "0123456789._-")] == '\0')
    return TRUE;
  g_set_error (error, EVCP_ERROR, EVCP_ERROR_CONFIG,
               /* TRANSLATORS: a setting; the value */
               _("%s must be a Kafka topic name (1 to 249 of a-z, A-Z, 0-9, “.”, “_”, “-”), not “%.64s”"),
               name, topic != NULL ? topic : "");
  return FALSE;
}

static gboolean
check_topics (EvcpConfig *config, GError **error)
{
  if (config->kafka_topics == NULL || config->kafka_topics[0] == NULL)
    {
      g_set_error_literal (error, EVCP_ERROR, EVCP_ERROR_CONFIG,
                           _("No Kafka topics configured"));
      return FALSE;
    }
  for (guint i = 0; config->kafka_topics[i] != NULL; i++)
    if (!check_topic (config->kafka_topics[i], "KAFKA_TOPICS ([kafka] topics)", error))
      return FALSE;
  for (guint i = 0; config->broadcast_topics != NULL && config->broadcast_topics[i] != NULL; i++)
    if (*config->broadcast_topics[i] != '\0' &&
        !check_topic (config->broadcast_topics[i], "[kafka] broadcast-topics", error))
      return FALSE;
  if (!check_topic (config->dead_letter_topic, "[kafka] dead-letter-topic", error) ||
      !check_topic (config->monitoring_topic, "[monitor] topic", error))
    return FALSE;
  /* a bad message would be consumed again from there, for ever */
  if (g_strv_contains ((const gchar * const *) config->kafka_topics, config->dead_letter_topic))
    {
      g_set_error (error, EVCP_ERROR, EVCP_ERROR_CONFIG,
                   _("[kafka] dead-letter-topic “%s” is one of the consumed topics (KAFKA_TOPICS): "
                     "a dead letter would be consumed again"),
                   config->dead_letter_topic);
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_address (const gchar *address, const gchar *name, GError **error)
{
  g_autoptr(GInetSocketAddress) sa = NULL;

  if (address == NULL || *address == '\0')
    return TRUE;
  sa = evcp_config_parse_address (address, name, error);
  return sa != NULL;
}

gboolean
evcp_config_validate (EvcpConfig *config, GError **error)
{
  g_return_val_if_fail (config != NULL, FALSE);

  if (!evcp_frame_field_check (config->cp_id, 1, EVCP_FIELD_CP_ID_MAX, "CP_ID (--cp-id, [evcp] cp-id)",
                               EVCP_ERROR_CONFIG, error) ||
      !evcp_frame_field_check (config->location, 0, EVCP_FIELD_TEXT_MAX, "[evcp] location", EVCP_ERROR_CONFIG, error) ||
      !check_text (config->kafka_brokers, 1, 4096, "KAFKA_BROKERS ([kafka] brokers)", error) ||
      !check_text (config->kafka_group_id, 0, 255, "KAFKA_GROUP_ID ([kafka] group-id)", error) ||
      !check_text (config->central_host, 1, 255, "CENTRAL_HOST ([central] host)", error) ||
      !check_text (config->engine_host, 1, 255, "ENGINE_HOST ([monitor] engine-host)", error) ||
      !check_topics (config, error) ||
      !check_address (config->metrics_address, "[evcp] metrics-address (--metrics-address)", error) ||
      !check_address (config->health_address, "[evcp] health-address (--health-address)", error) ||
      !check_address (config->monitor_metrics_address, "[monitor] metrics-address (--metrics-address)", error))
    return FALSE;
  if (config->health_interval_ms < EVCP_MIN_HEALTH_INTERVAL_MS)
    {
      g_autofree gchar *min_str = g_strdup_printf ("%d", EVCP_MIN_HEALTH_INTERVAL_MS);

      g_set_error (error, EVCP_ERROR, EVCP_ERROR_CONFIG,
                   _("The health interval must be at least %s ms"), min_str);
      return FALSE;
    }
  if (config->engine_host == NULL || *config->engine_host == '\0' ||
      config->engine_port == 0 || config->engine_port > 65535)
    {
      g_set_error_literal (error, EVCP_ERROR, EVCP_ERROR_CONFIG,
                           _("ENGINE_HOST and ENGINE_PORT must name the Engine's health socket"));
      return FALSE;
    }
  if (config->ocpp_url != NULL && *config->ocpp_url != '\0' &&
      (!check_text (config->ocpp_url, 6, 2048, "OCPP_URL ([ocpp] url)", error) ||
       !(g_str_has_prefix (config->ocpp_url, "ws://") || g_str_has_prefix (config->ocpp_url, "wss://"))))
    {
      if (error != NULL && *error == NULL)
        g_set_error (error, EVCP_ERROR, EVCP_ERROR_CONFIG,
                     _("OCPP_URL ([ocpp] url) must start with ws:// or wss://, not “%.64s”"), config->ocpp_url);
      return FALSE;
    }
  if ((config->ocpp_cert_file == NULL) != (config->ocpp_key_file == NULL))
    {
      g_set_error_literal (error, EVCP_ERROR, EVCP_ERROR_CONFIG, _("[ocpp] cert-file and key-file go together"));
      return FALSE;
    }
  if (config->retry_backoff_max_ms < config->retry_backoff_ms)
    {
      g_set_error_literal (error, EVCP_ERROR, EVCP_ERROR_CONFIG,
                           _("[kafka] retry-backoff-max-ms must not be less than [kafka] retry-backoff-ms"));
      return FALSE;
    }
  return TRUE;
}

/**
 * evcp_config_parse_address:
 * @address: "PORT" (on 127.0.0.1), "IP:PORT" or "[IPv6]:PORT"; the host
 *   must be an IP address (0.0.0.0 or [::] for every interface); port 0
 *   picks a free one
 * @name: (nullable): the setting, for the error message
 *
 * The listening address of a setting such as [evcp] metrics-address.
 *
 * Returns: (transfer full) (nullable): the address, or %NULL with @error
 *   set (%EVCP_ERROR_CONFIG)
 */
GInetSocketAddress *
evcp_config_parse_address (const gchar *address, const gchar *name, GError **error)
{
  g_autofree gchar *host = NULL;
  const gchar *port_text;
  guint64 port;
  GSocketAddress *sa;

  g_return_val_if_fail (address != NULL, NULL);

  if (address[0] == '[')
    {
      const gchar *end = strchr (address, ']');

      if (end == NULL || end[1] != ':')
        goto invalid;
      host = g_strndup (address + 1, end - address - 1);
      port_text = end + 2;
    }
  else
    {
      const gchar *colon = strrchr (address, ':');

      if (colon == NULL)
        {
          host = g_strdup ("127.0.0.1");
          port_text = address;
        }
      else
        {
          if (strchr (address, ':') != colon) /* a bare IPv6 address: brackets needed */
            goto invalid;
          host = g_strndup (address, colon - address);
          port_text = colon + 1;
        }
    }
  if (*host == '\0')
    {
      g_free (host);
      host = g_strdup ("127.0.0.1");
    }
  if (!g_ascii_string_to_unsigned (port_text, 10, 0, 65535, &port, NULL) || !g_hostname_is_ip_address (host))
    goto invalid;
  sa = g_inet_socket_address_new_from_string (host, (guint) port);
  if (sa == NULL)
    goto invalid;
  return G_INET_SOCKET_ADDRESS (sa);

invalid:
  g_set_error (error, EVCP_ERROR, EVCP_ERROR_CONFIG,
               /* TRANSLATORS: a setting, the value given */
               _("%s must be PORT, IP:PORT or [IPv6]:PORT (the IP an address, not a name), not “%.64s”"),
               name != NULL ? name : _("An address"), address);
  return NULL;
}

const gchar *
evcp_config_get_group_id (EvcpConfig *config)
{
  g_return_val_if_fail (config != NULL, NULL);

  if (config->kafka_group_id == NULL)
    config->kafka_group_id = g_strdup_printf ("cp_engine_%s", config->cp_id);
  return config->kafka_group_id;
}

static void
option_string (gchar **field, const gchar *value)
{
  if (value != NULL)
    replace (field, value);
}

static gboolean
option_uint (guint *field, gint value, gint min, gint max, const gchar *name, GError **error)
{
  if (value == 0)
    return TRUE;
  if (value < min || value > max)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, _("--%s must be from %d to %d"), name, min, max);
      return FALSE;
    }
  *field = (guint) value;
  return TRUE;
}

static gboolean
apply_options (EvcpConfig *config, const EvcpConfigOptions *options, GError **error)
{
  option_string (&config->cp_id, options->cp_id);
  option_string (&config->kafka_brokers, options->kafka_brokers);
  option_string (&config->kafka_group_id, options->kafka_group_id);
  option_string (&config->location, options->location);
  option_string (&config->plugin_dir, options->plugin_dir);
  option_string (&config->state_dir, options->state_dir);
  option_string (&config->metrics_address, options->metrics_address);
  option_string (&config->health_address, options->health_address);
  option_string (&config->monitor_metrics_address, options->monitor_metrics_address);
  option_string (&config->engine_host, options->engine_host);
  option_string (&config->central_host, options->central_host);
  if (options->kafka_topics != NULL && !evcp_config_set_topics (config, options->kafka_topics, error))
    return FALSE;
  return option_uint (&config->engine_port, options->engine_port, 1, 65535, "engine-port", error) &&
         option_uint (&config->central_port, options->central_port, 1, 65535, "central-port", error) &&
         option_uint (&config->health_interval_ms, options->health_interval_ms, EVCP_MIN_HEALTH_INTERVAL_MS, 3600000,
                      "interval-ms", error) &&
         option_uint (&config->ko_after, options->ko_after, 1, 1000, "ko-after", error) &&
         option_uint (&config->ok_after, options->ok_after, 1, 1000, "ok-after", error);
}

/**
 * evcp_config_load:
 * @options: (nullable): the program's command-line options
 *
 * The configuration every program starts from, in increasing precedence:
 * the built-in defaults (with the plugin directory meson installs plugins
 * into), the process's environment, the key file (@options->config_file,
 * else $EVCP_CONFIG) and its drop-ins (evcp_config_load_files()), then
 * @options. The key file loaded, if any, is in the result's config_file.
 *
 * Returns: (transfer full): the configuration, or %NULL with @error set
 */
EvcpConfig *
evcp_config_load (const EvcpConfigOptions *options, GError **error)
{
  static const EvcpConfigOptions none = { NULL };
  g_autoptr(EvcpConfig) config = evcp_config_new ();
  const gchar *config_file;

  if (options == NULL)
    options = &none;
  replace (&config->plugin_dir, EVCP_PLUGINDIR);
  if (!evcp_config_load_environment (config, NULL, error))
    return NULL;
  config_file = options->config_file;
  if (config_file == NULL && g_strcmp0 (g_getenv ("EVCP_CONFIG"), "") != 0)
    config_file = g_getenv ("EVCP_CONFIG");
  if (config_file != NULL && !evcp_config_load_files (config, config_file, error))
    return NULL;
  if (!apply_options (config, options, error))
    return NULL;
  return g_steal_pointer (&config);
}
