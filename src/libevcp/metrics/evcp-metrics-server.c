/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "evcp-metrics"

#include "evcp-build-config.h"

#include <glib/gi18n-lib.h>
#include <libsoup/soup.h>

#include "evcp-config.h"
#include "evcp-error.h"
#include "evcp-metrics-server.h"
#include "evcp-prometheus.h"

/* One accepted connection, as long as libsoup holds it. */
typedef struct {
  EvcpMetricsServer *server;
  GSocketConnection *connection;  /* weak: libsoup owns it */
  gint64             accepted_at; /* monotonic */
  gboolean           cut;         /* shut down by a limit, not gone yet */
} Conn;

struct _EvcpMetricsServer
{
  GObject          parent_instance;

  EvcpMetricsFunc  func;
  gpointer         user_data;
  GDestroyNotify   notify;

  SoupServer      *server;
  GSocketService  *service;   /* accepts, and hands each connection to @server */
  guint16          port;
  gchar           *host;
  guint64          scrapes;

  GPtrArray       *conns;     /* Conn, owned */
  guint            sweep_id;
  guint            max_connections;
  guint            timeout_ms;
  guint64          dropped;
};

G_DEFINE_TYPE (EvcpMetricsServer, evcp_metrics_server, G_TYPE_OBJECT)

GInetSocketAddress *
evcp_metrics_parse_address (const gchar *address, GError **error)
{
  GInetSocketAddress *sa;

  g_return_val_if_fail (address != NULL, NULL);

  sa = evcp_config_parse_address (address, NULL, NULL);
  if (sa == NULL)
    g_set_error (error, EVCP_ERROR, EVCP_ERROR_CONFIG,
                 /* TRANSLATORS: the metrics address given */
                 _("Invalid metrics address “%s”: give PORT, IP:PORT or [IPv6]:PORT"), address);
  return sa;
}

static void
handle_metrics (SoupServer        *server,
                SoupServerMessage *msg,
                const char        *path,
                GHashTable        *query,
                gpointer           user_data)
{
  EvcpMetricsServer *self = user_data;
  const gchar *method = soup_server_message_get_method (msg);
  GString *out;
  gsize len;

  if (g_strcmp0 (path, "/metrics") != 0)
    {
      soup_server_message_set_status (msg, SOUP_STATUS_NOT_FOUND, NULL);
      soup_server_message_set_response (msg, "text/plain; charset=utf-8", SOUP_MEMORY_STATIC,
                                        "Not found: try /metrics\n", 24);
      return;
    }
  if (g_strcmp0 (method, SOUP_METHOD_GET) != 0 && g_strcmp0 (method, SOUP_METHOD_HEAD) != 0)
    {
      soup_server_message_set_status (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, NULL);
      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Allow", "GET, HEAD");
      return;
    }
  out = g_string_new (NULL);
  self->func (out, self->user_data);
  self->scrapes++;
  len = out->len;
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  /* a scrape every few seconds needs no kept connection, and the server
   * then holds none when it stops */
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Connection", "close");
  soup_server_message_set_response (msg, EVCP_PROMETHEUS_CONTENT_TYPE, SOUP_MEMORY_TAKE,
                                    g_string_free (out, FALSE), len);
}

/* ---- limits: how many connections, for how long (docs/reliability.md) ---- */

static void
conn_gone (gpointer data, GObject *where_the_object_was)
{
  Conn *conn = data;

  conn->connection = NULL;
  g_ptr_array_remove_fast (conn->server->conns, conn);
}

static void
conn_free (Conn *conn)
{
  if (conn->connection != NULL)
    g_object_weak_unref (G_OBJECT (conn->connection), conn_gone, conn);
  g_free (conn);
}

/* Ends a connection under libsoup's feet: its read sees the end, its write
 * fails, and libsoup lets it go. */
static void
conn_cut (Conn *conn, const gchar *why)
{
  if (conn->cut || conn->connection == NULL)
    return;
  conn->cut = TRUE;
  conn->server->dropped++;
  g_debug ("Metrics connection cut: %s", why);
  g_socket_shutdown (g_socket_connection_get_socket (conn->connection), TRUE, TRUE, NULL);
}

/* At most max_connections alive: the oldest goes for a new one (a scrape
 * takes milliseconds: an old connection is a stuck or hostile one). */
static void
make_room (EvcpMetricsServer *self)
{
  Conn *oldest = NULL;
  guint alive = 0;

  for (guint i = 0; i < self->conns->len; i++)
    {
      Conn *conn = g_ptr_array_index (self->conns, i);

      if (conn->cut)
        continue;
      alive++;
      if (oldest == NULL || conn->accepted_at < oldest->accepted_at)
        oldest = conn;
    }
  if (oldest != NULL && alive >= self->max_connections)
    conn_cut (oldest, "too many connections");
}

static gboolean
sweep_cb (gpointer user_data)
{
  EvcpMetricsServer *self = user_data;
  gint64 deadline = g_get_monotonic_time () - (gint64) self->timeout_ms * 1000;

  for (guint i = 0; i < self->conns->len; i++)
    {
      Conn *conn = g_ptr_array_index (self->conns, i);

      if (conn->accepted_at < deadline)
        conn_cut (conn, "too old");
    }
  return G_SOURCE_CONTINUE;
}

static void
start_sweep (EvcpMetricsServer *self)
{
  g_clear_handle_id (&self->sweep_id, g_source_remove);
  self->sweep_id = g_timeout_add (CLAMP (self->timeout_ms / 4, 10, 1000), sweep_cb, self);
}

static gboolean
on_incoming (GSocketService    *service,
             GSocketConnection *connection,
             GObject           *source_object,
             gpointer           user_data)
{
  EvcpMetricsServer *self = user_data;
  g_autoptr(GSocketAddress) local = g_socket_connection_get_local_address (connection, NULL);
  g_autoptr(GSocketAddress) remote = g_socket_connection_get_remote_address (connection, NULL);
  g_autoptr(GError) error = NULL;
  Conn *conn;

  if (self->server == NULL)
    return TRUE;
  make_room (self);
  if (!soup_server_accept_iostream (self->server, G_IO_STREAM (connection), local, remote, &error))
    {
      g_debug ("Metrics connection dropped: %s", error->message);
      return TRUE;
    }
  conn = g_new0 (Conn, 1);
  conn->server = self;
  conn->connection = connection;
  conn->accepted_at = g_get_monotonic_time ();
  g_object_weak_ref (G_OBJECT (connection), conn_gone, conn);
  g_ptr_array_add (self->conns, conn);
  return TRUE;
}

gboolean
evcp_metrics_server_listen (EvcpMetricsServer *self, const gchar *address, GError **error)
{
  g_autoptr(GInetSocketAddress) sa = NULL;
  g_autoptr(SoupServer) server = NULL;
  g_autoptr(GSocketService) service = NULL;
  g_autoptr(GSocketAddress) effective = NULL;

  g_return_val_if_fail (EVCP_IS_METRICS_SERVER (self), FALSE);
  g_return_val_if_fail (address != NULL, FALSE);
  g_return_val_if_fail (self->server == NULL, FALSE);

  sa = evcp_metrics_parse_address (address, error);
  if (sa == NULL)
    return FALSE;
  server = soup_server_new ("server-header", "evcp/" PACKAGE_VERSION " ", NULL);
  soup_server_add_handler (server, NULL, handle_metrics, self, NULL);
  /* GIO listens and accepts, libsoup speaks HTTP on each connection:
   * with libsoup's own listener (soup_server_listen), Debian 12's libsoup
   * 3.2.3 leaks every accepted GSocket (seen with valgrind), which an
   * endpoint scraped every few seconds for months cannot afford. */
  service = g_socket_service_new ();
  /* a flood of connections must not fill the queue of those not yet
   * accepted (GIO's default is 10): the server drops them itself */
  g_socket_listener_set_backlog (G_SOCKET_LISTENER (service), 128);
  if (!g_socket_listener_add_address (G_SOCKET_LISTENER (service), G_SOCKET_ADDRESS (sa),
                                      G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL,
                                      &effective, error))
    {
      g_prefix_error (error, _("Cannot serve metrics on %s: "), address);
      return FALSE;
    }
  self->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective));
  g_signal_connect (service, "incoming", G_CALLBACK (on_incoming), self);
  g_socket_service_start (service);
  self->service = g_steal_pointer (&service);
  start_sweep (self);
  g_free (self->host);
  self->host = g_inet_address_to_string (g_inet_socket_address_get_address (sa));
  self->server = g_steal_pointer (&server);
  {
    g_autofree gchar *url = evcp_metrics_server_get_url (self);

    g_message (_("Serving metrics on %s"), url);
  }
  return TRUE;
}

void
evcp_metrics_server_stop (EvcpMetricsServer *self)
{
  g_return_if_fail (EVCP_IS_METRICS_SERVER (self));

  if (self->server == NULL)
    return;
  g_clear_handle_id (&self->sweep_id, g_source_remove);
  g_socket_service_stop (self->service);
  g_socket_listener_close (G_SOCKET_LISTENER (self->service));
  g_clear_object (&self->service);
  soup_server_disconnect (self->server);
  g_clear_object (&self->server);
  /* what libsoup still holds is not ours to wait for */
  g_ptr_array_set_size (self->conns, 0);
  self->port = 0;
}

/* 0 keeps a default (EVCP_METRICS_DEFAULT_*). */
void
evcp_metrics_server_set_limits (EvcpMetricsServer *self, guint max_connections, guint timeout_ms)
{
  g_return_if_fail (EVCP_IS_METRICS_SERVER (self));

  self->max_connections = max_connections > 0 ? max_connections : EVCP_METRICS_DEFAULT_MAX_CONNECTIONS;
  self->timeout_ms = timeout_ms > 0 ? timeout_ms : EVCP_METRICS_DEFAULT_TIMEOUT_MS;
  if (self->sweep_id != 0)
    start_sweep (self);
}

guint
evcp_metrics_server_get_connections (EvcpMetricsServer *self)
{
  g_return_val_if_fail (EVCP_IS_METRICS_SERVER (self), 0);
  return self->conns->len;
}

guint64
evcp_metrics_server_get_dropped (EvcpMetricsServer *self)
{
  g_return_val_if_fail (EVCP_IS_METRICS_SERVER (self), 0);
  return self->dropped;
}

guint16
evcp_metrics_server_get_port (EvcpMetricsServer *self)
{
  g_return_val_if_fail (EVCP_IS_METRICS_SERVER (self), 0);
  return self->port;
}

gchar *
evcp_metrics_server_get_url (EvcpMetricsServer *self)
{
  g_return_val_if_fail (EVCP_IS_METRICS_SERVER (self), NULL);

  if (self->server == NULL)
    return NULL;
  if (strchr (self->host, ':') != NULL)
    return g_strdup_printf ("http://[%s]:%u/metrics", self->host, self->port);
  return g_strdup_printf ("http://%s:%u/metrics", self->host, self->port);
}

guint64
evcp_metrics_server_get_scrapes (EvcpMetricsServer *self)
{
  g_return_val_if_fail (EVCP_IS_METRICS_SERVER (self), 0);
  return self->scrapes;
}

EvcpMetricsServer *
evcp_metrics_server_new (EvcpMetricsFunc func, gpointer user_data, GDestroyNotify notify)
{
  EvcpMetricsServer *self;

  g_return_val_if_fail (func != NULL, NULL);

  self = g_object_new (EVCP_TYPE_METRICS_SERVER, NULL);
  self->func = func;
  self->user_data = user_data;
  self->notify = notify;
  return self;
}

static void
evcp_metrics_server_finalize (GObject *object)
{
  EvcpMetricsServer *self = EVCP_METRICS_SERVER (object);

  evcp_metrics_server_stop (self);
  g_ptr_array_unref (self->conns);
  if (self->notify != NULL)
    self->notify (self->user_data);
  g_free (self->host);
  G_OBJECT_CLASS (evcp_metrics_server_parent_class)->finalize (object);
}

static void
evcp_metrics_server_class_init (EvcpMetricsServerClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = evcp_metrics_server_finalize;
}

static void
evcp_metrics_server_init (EvcpMetricsServer *self)
{
  self->conns = g_ptr_array_new_with_free_func ((GDestroyNotify) conn_free);
  self->max_connections = EVCP_METRICS_DEFAULT_MAX_CONNECTIONS;
  self->timeout_ms = EVCP_METRICS_DEFAULT_TIMEOUT_MS;
}
