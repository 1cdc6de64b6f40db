/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "evcp-central"

#include "evcp-build-config.h"

#include <math.h>
#include <string.h>

#include <glib/gi18n-lib.h>

#include "evcp-central-kafka-mapping.h"
#include "evcp-central-server-private.h"
#include "evcp-error.h"
#include "evcp-frame-codec.h"

#define PRUNE_INTERVAL_MS 100

/* Defaults of the limits against hostile or stuck peers (docs/central.md,
 * "Limits"); evcp_central_server_set_limits() changes them. */
#define DEFAULT_MAX_CONNECTIONS     512
#define DEFAULT_MAX_UNAUTHENTICATED 64
#define DEFAULT_AUTH_TIMEOUT_MS     10000
#define DEFAULT_IDLE_TIMEOUT_MS     30000

G_DEFINE_TYPE (EvcpCentralServer, evcp_central_server, G_TYPE_OBJECT)

enum {
  SIGNAL_CHANGED,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

static void
changed (gpointer user_data)
{
  g_signal_emit (user_data, signals[SIGNAL_CHANGED], 0);
}

/* ---- connections ------------------------------------------------------------ */

/* Frees the peers whose connection is closed and finished. */
static gboolean
prune (EvcpCentralServer *self)
{
  gboolean waiting = FALSE;

  for (guint i = self->peers->len; i > 0; i--)
    {
      EvcpCentralPeer *peer = g_ptr_array_index (self->peers, i - 1);

      if (!peer->dead)
        continue;
      if (evcp_central_link_is_finished (peer->link))
        g_ptr_array_remove_index_fast (self->peers, i - 1);
      else
        waiting = TRUE;
    }
  return waiting;
}

static gboolean
prune_cb (gpointer user_data)
{
  EvcpCentralServer *self = user_data;

  self->prune_id = 0;
  if (prune (self))
    evcp_central_server_schedule_prune (self);
  return G_SOURCE_REMOVE;
}

void
evcp_central_server_schedule_prune (EvcpCentralServer *self)
{
  if (self->prune_id == 0)
    self->prune_id = g_timeout_add (PRUNE_INTERVAL_MS, prune_cb, self);
}

/* Closes a connection because of a limit; @quiet during a flood of
 * connections, whose every drop would flood the log. */
static void
drop_peer (EvcpCentralServer *self, EvcpCentralPeer *peer, const gchar *why, gboolean quiet)
{
  self->stats.dropped++;
  if (quiet)
    g_debug ("%s: connection dropped: %s", evcp_central_peer_name (peer), why);
  else
    /* TRANSLATORS: the peer's address, why it is dropped */
    g_message (_("%s: connection dropped: %s"), evcp_central_peer_name (peer), why);
  evcp_central_link_close (peer->link, FALSE, why);
}

/* Room for one more connection: at most max_unauthenticated that have not
 * authenticated (the oldest of them goes for a new one), at most
 * max_connections in all. Returns: FALSE if the new one must be refused. */
static gboolean
make_room (EvcpCentralServer *self)
{
  EvcpCentralPeer *oldest = NULL;
  guint live = 0, unauthenticated = 0;

  for (guint i = 0; i < self->peers->len; i++)
    {
      EvcpCentralPeer *peer = g_ptr_array_index (self->peers, i);

      if (peer->dead)
        continue;
      live++;
      if (peer->cp != NULL)
        continue;
      unauthenticated++;
      if (oldest == NULL || peer->accepted_at < oldest->accepted_at)
        oldest = peer;
    }
  if (oldest != NULL && (unauthenticated >= self->limits.max_unauthenticated ||
                         live >= self->limits.max_connections))
    {
      drop_peer (self, oldest, _("too many connections without AUTH: the oldest goes"), TRUE);
      live--;
    }
  return live < self->limits.max_connections;
}

/* Drops the connections that did not authenticate in time, and those idle
 * for too long (an Engine or Monitor sends PING every 5 s). */
static gboolean
sweep_cb (gpointer user_data)
{
  EvcpCentralServer *self = user_data;
  gint64 now = g_get_monotonic_time ();
  gint64 auth_us = (gint64) self->limits.auth_timeout_ms * 1000;
  gint64 idle_us = (gint64) self->limits.idle_timeout_ms * 1000;

  /* closing emits "closed", which frees nothing: prune() does, later */
  for (guint i = 0; i < self->peers->len; i++)
    {
      EvcpCentralPeer *peer = g_ptr_array_index (self->peers, i);

      if (peer->dead)
        continue;
      if (peer->cp == NULL && now - peer->accepted_at > auth_us)
        drop_peer (self, peer, _("not authenticated in time"), FALSE);
      else if (peer->cp != NULL && now - peer->useful_at > idle_us)
        drop_peer (self, peer, _("idle for too long"), FALSE);
    }
  return G_SOURCE_CONTINUE;
}

static void
start_sweep (EvcpCentralServer *self)
{
  guint interval = MIN (self->limits.auth_timeout_ms, self->limits.idle_timeout_ms) / 4;

  g_clear_handle_id (&self->sweep_id, g_source_remove);
  self->sweep_id = g_timeout_add (CLAMP (interval, 10, 1000), sweep_cb, self);
}

static gboolean
on_incoming (GSocketService    *service,
             GSocketConnection *connection,
             GObject           *source_object,
             gpointer           user_data)
{
  EvcpCentralServer *self = user_data;
  EvcpCentralPeer *peer;

  if (self->shut_down)
    {
      g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
      return TRUE;
    }
  if (!make_room (self))
    {
      self->stats.dropped++;
      g_debug ("connection refused: %u connections already", self->limits.max_connections);
      g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
      return TRUE;
    }
  peer = evcp_central_peer_new (self, connection);
  g_ptr_array_add (self->peers, peer);
  g_debug ("connection from %s", evcp_central_peer_name (peer));
  evcp_central_link_start (peer->link);
  return TRUE;
}

/* ---- Kafka ----------------------------------------------------------------- */

static void
on_kafka_message (EvcpCentralKafka *kafka, const gchar *topic, JsonObject *root, gpointer user_data)
{
  EvcpCentralServer *self = user_data;

  self->stats.kafka_messages++;
  evcp_central_kafka_mapping_apply (self->registry, topic, root);
}

static void
on_kafka_status (GObject *object, GParamSpec *pspec, gpointer user_data)
{
  changed (user_data);
}

/* ---- public API ------------------------------------------------------------ */

/**
 * evcp_central_server_new:
 * @db: where the registry, tickets and events are kept; the CPs it knows
 *   are loaded (disconnected)
 */
EvcpCentralServer *
evcp_central_server_new (EvcpCentralDb *db)
{
  EvcpCentralServer *self;
  g_autoptr(GError) error = NULL;

  g_return_val_if_fail (EVCP_IS_CENTRAL_DB (db), NULL);

  self = g_object_new (EVCP_TYPE_CENTRAL_SERVER, NULL);
  self->db = g_object_ref (db);
  {
    g_autoptr(GHashTable) secrets = evcp_central_db_list_secrets (db, &error);
    GHashTableIter iter;
    gpointer key, value;

    if (secrets == NULL)
      g_warning ("%s", error->message);
    g_clear_error (&error);
    g_hash_table_iter_init (&iter, secrets);
    while (secrets != NULL && g_hash_table_iter_next (&iter, &key, &value))
      g_hash_table_insert (self->secrets, g_strdup (key), g_strdup (value));
  }
  self->registry = evcp_central_registry_new (db);
  evcp_central_registry_set_changed_func (self->registry, changed, self);
  evcp_central_registry_load (self->registry);
  return self;
}

void
evcp_central_server_set_timing (EvcpCentralServer *self, guint ack_timeout_ms, guint max_resends)
{
  g_return_if_fail (EVCP_IS_CENTRAL_SERVER (self));

  if (ack_timeout_ms > 0)
    self->ack_timeout_ms = ack_timeout_ms;
  if (max_resends > 0)
    self->max_resends = max_resends;
}

GInetAddress *
evcp_central_parse_listen_address (const gchar *address, GError **error)
{
  GInetAddress *inet;

  g_return_val_if_fail (address != NULL, NULL);

  if (g_str_equal (address, "localhost"))
    return g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  inet = g_inet_address_new_from_string (address);
  if (inet == NULL)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 /* TRANSLATORS: %s is what was given to --listen-address */
                 _("Invalid listen address “%s”: expected an IP address"), address);
  return inet;
}

gboolean
evcp_central_server_listen (EvcpCentralServer  *self,
                            const gchar        *address,
                            guint16             port,
                            GError            **error)
{
  g_autoptr(GInetAddress) inet = NULL;
  g_autoptr(GSocketAddress) requested = NULL;
  g_autoptr(GSocketAddress) effective = NULL;

  g_return_val_if_fail (EVCP_IS_CENTRAL_SERVER (self), FALSE);
  g_return_val_if_fail (self->service == NULL, FALSE);

  if (address == NULL)
    address = EVCP_CENTRAL_DEFAULT_LISTEN_ADDRESS;
  inet = evcp_central_parse_listen_address (address, error);
  if (inet == NULL)
    return FALSE;
  requested = g_inet_socket_address_new (inet, port);
  self->service = g_socket_service_new ();
  /* a flood of connections must not fill the queue of those not yet
   * accepted (GIO's default is 10): the server drops them itself */
  g_socket_listener_set_backlog (G_SOCKET_LISTENER (self->service), 128);
  if (!g_socket_listener_add_address (G_SOCKET_LISTENER (self->service), requested,
                                      G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                      NULL, &effective, error))
    {
      g_autofree gchar *port_text = g_strdup_printf ("%u", port);

      g_prefix_error (error, _("Cannot listen on %s port %s: "), address, port_text);
      g_clear_object (&self->service);
      return FALSE;
    }
  self->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective));
  g_free (self->address);
  self->address = g_inet_address_to_string (inet);
  g_signal_connect (self->service, "incoming", G_CALLBACK (on_incoming), self);
  g_socket_service_start (self->service);
  start_sweep (self);
  {
    g_autofree gchar *port_text = g_strdup_printf ("%u", self->port);

    g_message (_("Listening on %s port %s"), self->address, port_text);
  }
  return TRUE;
}

/**
 * evcp_central_server_set_secret:
 * @secret: (nullable): the CP's secret; %NULL or empty: none (AUTH as in
 *   the contract)
 * @persist: also keep it in the database (else for this run only)
 *
 * From now on an AUTH of @cp_id must prove the secret (docs/protocol.md,
 * A1..A8). The connections already authenticated stay.
 */
gboolean
evcp_central_server_set_secret (EvcpCentralServer  *self,
                                const gchar        *cp_id,
                                const gchar        *secret,
                                gboolean            persist,
                                GError            **error)
{
  g_return_val_if_fail (EVCP_IS_CENTRAL_SERVER (self), FALSE);
  g_return_val_if_fail (cp_id != NULL, FALSE);

  if (secret != NULL && *secret == '\0')
    secret = NULL;
  if (persist && !evcp_central_db_set_secret (self->db, cp_id, secret, error))
    return FALSE;
  if (secret != NULL)
    g_hash_table_insert (self->secrets, g_strdup (cp_id), g_strdup (secret));
  else
    g_hash_table_remove (self->secrets, cp_id);
  return TRUE;
}

/**
 * evcp_central_server_set_limits:
 *
 * Before listening; 0 keeps a default (512 connections, 64 of them
 * without AUTH, AUTH within 10 s, idle at most 30 s).
 */
void
evcp_central_server_set_limits (EvcpCentralServer *self,
                                guint              max_connections,
                                guint              max_unauthenticated,
                                guint              auth_timeout_ms,
                                guint              idle_timeout_ms)
{
  g_return_if_fail (EVCP_IS_CENTRAL_SERVER (self));

  if (max_connections > 0)
    self->limits.max_connections = max_connections;
  if (max_unauthenticated > 0)
    self->limits.max_unauthenticated = max_unauthenticated;
  if (auth_timeout_ms > 0)
    self->limits.auth_timeout_ms = auth_timeout_ms;
  if (idle_timeout_ms > 0)
    self->limits.idle_timeout_ms = idle_timeout_ms;
  if (self->sweep_id != 0)
    start_sweep (self);
}

/* With @require, a CP without a secret is refused (AUTH_KO "unknown CP"). */
void
evcp_central_server_set_require_secret (EvcpCentralServer *self, gboolean require)
{
  g_return_if_fail (EVCP_IS_CENTRAL_SERVER (self));
  self->require_secret = require;
}

guint16
evcp_central_server_get_port (EvcpCentralServer *self)
{
  g_return_val_if_fail (EVCP_IS_CENTRAL_SERVER (self), 0);
  return self->port;
}

gboolean
evcp_central_server_start_kafka (EvcpCentralServer  *self,
                                 const gchar        *brokers,
                                 const gchar        *group_id,
                                 GHashTable         *overrides,
                                 GHashTable         *consumer_overrides,
                                 GError            **error)
{
  g_autoptr(EvcpCentralKafka) kafka = NULL;

  g_return_val_if_fail (EVCP_IS_CENTRAL_SERVER (self), FALSE);
  g_return_val_if_fail (self->kafka == NULL, FALSE);

  kafka = evcp_central_kafka_new (brokers, group_id, overrides, consumer_overrides);
  g_signal_connect (kafka, "message", G_CALLBACK (on_kafka_message), self);
  g_signal_connect (kafka, "notify::status", G_CALLBACK (on_kafka_status), self);
  if (!evcp_central_kafka_start (kafka, error))
    return FALSE;
  self->kafka = g_steal_pointer (&kafka);
  /* a seq the link skips may be an event only Kafka carries */
  evcp_central_registry_set_kafka (self->registry, TRUE, EVCP_CENTRAL_GAP_GRACE_MS);
  return TRUE;
}

static EvcpCentralPeer *
engine_of (EvcpCentralServer *self, const gchar *cp_id, GError **error)
{
  EvcpCentralCp *cp = evcp_central_registry_lookup (self->registry, cp_id);

  if (cp == NULL)
    {
      g_set_error (error, EVCP_ERROR, EVCP_ERROR_NOT_FOUND,
                   /* TRANSLATORS: %s is a CP id */
                   _("Unknown CP %s"), cp_id);
      return NULL;
    }
  if (cp->peers[EVCP_CENTRAL_REGISTRY_ENGINE] == NULL)
    {
      g_set_error (error, EVCP_ERROR, EVCP_ERROR_REFUSED,
                   _("The Engine of %s is not connected"), cp_id);
      return NULL;
    }
  return cp->peers[EVCP_CENTRAL_REGISTRY_ENGINE];
}

static gboolean
send_command (EvcpCentralServer *self, const gchar *cp_id, const gchar * const *fields, GError **error)
{
  EvcpCentralPeer *peer = engine_of (self, cp_id, error);
  g_autofree gchar *data = NULL;

  if (peer == NULL)
    return FALSE;
  if (!evcp_central_link_send (peer->link, fields, error))
    return FALSE;
  data = evcp_frame_join_fields (fields, NULL);
  /* TRANSLATORS: CP id, the frame */
  g_message (_("%s: sending %s"), cp_id, data);
  return TRUE;
}

gboolean
evcp_central_server_stop_cp (EvcpCentralServer *self, const gchar *cp_id, GError **error)
{
  const gchar *fields[] = { "STOP", cp_id, NULL };

  g_return_val_if_fail (EVCP_IS_CENTRAL_SERVER (self), FALSE);
  g_return_val_if_fail (cp_id != NULL, FALSE);
  return send_command (self, cp_id, fields, error);
}

gboolean
evcp_central_server_resume_cp (EvcpCentralServer *self, const gchar *cp_id, GError **error)
{
  const gchar *fields[] = { "RESUME", cp_id, NULL };

  g_return_val_if_fail (EVCP_IS_CENTRAL_SERVER (self), FALSE);
  g_return_val_if_fail (cp_id != NULL, FALSE);
  return send_command (self, cp_id, fields, error);
}

gchar *
evcp_central_server_authorize (EvcpCentralServer  *self,
                               const gchar        *cp_id,
                               const gchar        *driver,
                               gdouble             power_kw,
                               guint               max_duration_s,
                               GError            **error)
{
  g_autofree gchar *session = NULL;
  g_autofree gchar *power = NULL;
  g_autofree gchar *duration = NULL;

  g_return_val_if_fail (EVCP_IS_CENTRAL_SERVER (self), NULL);
  g_return_val_if_fail (cp_id != NULL && driver != NULL, NULL);

  if (*driver == '\0' || !isfinite (power_kw) || power_kw <= 0 || max_duration_s == 0)
    {
      g_set_error_literal (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE,
                           _("A driver, a power above 0 and a duration above 0 are needed"));
      return NULL;
    }
  session = g_uuid_string_random ();
  power = evcp_central_format_amount (power_kw, "%.6g");
  duration = g_strdup_printf ("%u", max_duration_s);
  {
    const gchar *fields[] = { "AUTHORIZE", cp_id, driver, session, power, duration, NULL };

    if (!send_command (self, cp_id, fields, error))
      return NULL;
  }
  return g_steal_pointer (&session);
}

static gint
compare_strings (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const gchar * const *) a, *(const gchar * const *) b);
}

GStrv
evcp_central_server_get_engine_cps (EvcpCentralServer *self)
{
  g_autoptr(GPtrArray) ids = g_ptr_array_new ();
  g_autoptr(GList) ids_all = NULL;

  g_return_val_if_fail (EVCP_IS_CENTRAL_SERVER (self), NULL);

  ids_all = evcp_central_registry_get_ids (self->registry);
  for (GList *l = ids_all; l != NULL; l = l->next)
    {
      EvcpCentralCp *cp = evcp_central_registry_lookup (self->registry, l->data);

      if (cp->peers[EVCP_CENTRAL_REGISTRY_ENGINE] != NULL)
        g_ptr_array_add (ids, g_strdup (cp->id));
    }
  g_ptr_array_sort (ids, compare_strings);
  g_ptr_array_add (ids, NULL);
  return (GStrv) g_ptr_array_free (g_steal_pointer (&ids), FALSE);
}

static void
add_time (JsonBuilder *builder, const gchar *name, gint64 us)
{
  json_builder_set_member_name (builder, name);
  if (us <= 0)
    json_builder_add_null_value (builder);
  else
    {
      g_autoptr(GDateTime) t = g_date_time_new_from_unix_utc (us / G_USEC_PER_SEC);
      g_autofree gchar *text = t != NULL ? g_date_time_format_iso8601 (t) : NULL;

      json_builder_add_string_value (builder, text != NULL ? text : "");
    }
}

static void
add_uint (JsonBuilder *builder, const gchar *name, guint64 value)
{
  json_builder_set_member_name (builder, name);
  json_builder_add_int_value (builder, (gint64) MIN (value, (guint64) G_MAXINT64));
}

JsonNode *
evcp_central_server_to_json (EvcpCentralServer *self)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(GList) ids = NULL;
  const EvcpCentralRegistryStats *registry_stats;

  g_return_val_if_fail (EVCP_IS_CENTRAL_SERVER (self), NULL);

  registry_stats = evcp_central_registry_get_stats (self->registry);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "port");
  json_builder_add_int_value (builder, self->port);
  json_builder_set_member_name (builder, "kafka");
  json_builder_add_string_value (builder, self->kafka != NULL ? evcp_central_kafka_get_status (self->kafka)
                                                              : "disabled");

  json_builder_set_member_name (builder, "stats");
  json_builder_begin_object (builder);
  add_uint (builder, "frames", self->stats.frames);
  add_uint (builder, "nacked", self->stats.bad);
  add_uint (builder, "duplicates", registry_stats->duplicates);
  add_uint (builder, "duplicate_tickets", registry_stats->duplicate_tickets);
  add_uint (builder, "gaps", registry_stats->gaps);
  add_uint (builder, "kafka_messages", self->stats.kafka_messages);
  add_uint (builder, "kafka_skipped", self->kafka != NULL ? evcp_central_kafka_get_skipped (self->kafka) : 0);
  add_uint (builder, "auth_refused", self->stats.auth_refused);
  add_uint (builder, "dropped", self->stats.dropped);
  add_uint (builder, "connections", self->peers->len);
  json_builder_end_object (builder);

  json_builder_set_member_name (builder, "cps");
  json_builder_begin_array (builder);
  ids = evcp_central_registry_get_ids (self->registry);
  for (GList *l = ids; l != NULL; l = l->next)
    {
      EvcpCentralCp *cp = evcp_central_registry_lookup (self->registry, l->data);

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "id");
      json_builder_add_string_value (builder, cp->id);
      json_builder_set_member_name (builder, "location");
      json_builder_add_string_value (builder, cp->location);
      json_builder_set_member_name (builder, "price_eur_kwh");
      json_builder_add_double_value (builder, cp->price_eur_kwh);
      json_builder_set_member_name (builder, "state");
      json_builder_add_string_value (builder, evcp_central_cp_displayed_state (cp));
      json_builder_set_member_name (builder, "engine_state");
      if (cp->engine_state != NULL)
        json_builder_add_string_value (builder, cp->engine_state);
      else
        json_builder_add_null_value (builder);
      json_builder_set_member_name (builder, "fault_reason");
      if (cp->fault_reason != NULL)
        json_builder_add_string_value (builder, cp->fault_reason);
      else
        json_builder_add_null_value (builder);
      json_builder_set_member_name (builder, "engine");
      json_builder_add_boolean_value (builder, cp->peers[EVCP_CENTRAL_REGISTRY_ENGINE] != NULL);
      json_builder_set_member_name (builder, "monitor");
      json_builder_add_boolean_value (builder, cp->peers[EVCP_CENTRAL_REGISTRY_MONITOR] != NULL);
      json_builder_set_member_name (builder, "session");
      if (cp->session_id == NULL)
        json_builder_add_null_value (builder);
      else
        {
          json_builder_begin_object (builder);
          json_builder_set_member_name (builder, "id");
          json_builder_add_string_value (builder, cp->session_id);
          json_builder_set_member_name (builder, "driver");
          json_builder_add_string_value (builder, cp->driver != NULL ? cp->driver : "");
          json_builder_set_member_name (builder, "kwh");
          json_builder_add_double_value (builder, cp->kwh);
          json_builder_set_member_name (builder, "eur");
          json_builder_add_double_value (builder, cp->eur);
          json_builder_end_object (builder);
        }
      add_uint (builder, "tickets", cp->tickets);
      add_time (builder, "last_seen", cp->last_seen);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}

void
evcp_central_server_shutdown (EvcpCentralServer *self)
{
  g_autoptr(GPtrArray) peers = NULL;

  g_return_if_fail (EVCP_IS_CENTRAL_SERVER (self));

  if (self->shut_down)
    return;
  self->shut_down = TRUE;
  g_clear_handle_id (&self->sweep_id, g_source_remove);
  if (self->service != NULL)
    {
      g_socket_service_stop (self->service);
      g_socket_listener_close (G_SOCKET_LISTENER (self->service));
    }
  if (self->kafka != NULL)
    evcp_central_kafka_stop (self->kafka);
  /* closing emits "closed", which may change the list: walk a copy (one
   * that does not own the peers) */
  peers = g_ptr_array_sized_new (self->peers->len);
  for (guint i = 0; i < self->peers->len; i++)
    g_ptr_array_add (peers, g_ptr_array_index (self->peers, i));
  for (guint i = 0; i < peers->len; i++)
    {
      EvcpCentralPeer *peer = g_ptr_array_index (peers, i);

      evcp_central_link_close (peer->link, TRUE, _("Central is shutting down"));
    }
}

gboolean
evcp_central_server_is_finished (EvcpCentralServer *self)
{
  g_return_val_if_fail (EVCP_IS_CENTRAL_SERVER (self), TRUE);

  prune (self);
  return self->peers->len == 0;
}

static void
evcp_central_server_dispose (GObject *object)
{
  EvcpCentralServer *self = EVCP_CENTRAL_SERVER (object);

  g_clear_handle_id (&self->prune_id, g_source_remove);
  g_clear_handle_id (&self->sweep_id, g_source_remove);
  if (self->service != NULL)
    {
      g_socket_service_stop (self->service);
      g_socket_listener_close (G_SOCKET_LISTENER (self->service));
      g_signal_handlers_disconnect_by_data (self->service, self);
      g_clear_object (&self->service);
    }
  if (self->kafka != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->kafka, self);
      g_clear_object (&self->kafka);
    }
  if (self->peers != NULL)
    g_ptr_array_set_size (self->peers, 0);
  G_OBJECT_CLASS (evcp_central_server_parent_class)->dispose (object);
}

static void
evcp_central_server_finalize (GObject *object)
{
  EvcpCentralServer *self = EVCP_CENTRAL_SERVER (object);

  g_ptr_array_unref (self->peers);
  evcp_central_registry_free (self->registry);
  g_hash_table_unref (self->secrets);
  g_clear_object (&self->db);
  g_free (self->address);
  G_OBJECT_CLASS (evcp_central_server_parent_class)->finalize (object);
}

static void
evcp_central_server_class_init (EvcpCentralServerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = evcp_central_server_dispose;
  object_class->finalize = evcp_central_server_finalize;

  signals[SIGNAL_CHANGED] =
    g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 0);
}

static void
evcp_central_server_init (EvcpCentralServer *self)
{
  self->peers = g_ptr_array_new_with_free_func ((GDestroyNotify) evcp_central_peer_free);
  self->secrets = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->ack_timeout_ms = EVCP_CENTRAL_LINK_ACK_TIMEOUT_MS;
  self->max_resends = EVCP_CENTRAL_LINK_MAX_RESENDS;
  self->limits.max_connections = DEFAULT_MAX_CONNECTIONS;
  self->limits.max_unauthenticated = DEFAULT_MAX_UNAUTHENTICATED;
  self->limits.auth_timeout_ms = DEFAULT_AUTH_TIMEOUT_MS;
  self->limits.idle_timeout_ms = DEFAULT_IDLE_TIMEOUT_MS;
  self->address = g_strdup (EVCP_CENTRAL_DEFAULT_LISTEN_ADDRESS);
}
