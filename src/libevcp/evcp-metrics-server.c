#define G_LOG_DOMAIN "evcp-metrics"

#include "evcp-build-config.h"

#include <glib/gi18n-lib.h>
#include <libsoup/soup.h>

#include "evcp-error.h"
#include "evcp-metrics-server.h"
#include "evcp-prometheus.h"

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
};

G_DEFINE_TYPE (EvcpMetricsServer, evcp_metrics_server, G_TYPE_OBJECT)

GInetSocketAddress *
evcp_metrics_parse_address (const gchar *address, GError **error)
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
          if (strchr (address, ':') != colon)  /* a bare IPv6 address: brackets needed */
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
  if (!g_ascii_string_to_unsigned (port_text, 10, 0, 65535, &port, NULL) ||
      !g_hostname_is_ip_address (host))
    goto invalid;
  sa = g_inet_socket_address_new_from_string (host, (guint) port);
  if (sa == NULL)
    goto invalid;
  return G_INET_SOCKET_ADDRESS (sa);

invalid:
  g_set_error (error, EVCP_ERROR, EVCP_ERROR_CONFIG,
               /* TRANSLATORS: the metrics address given */
               _("Invalid metrics address “%s”: give PORT, IP:PORT or [IPv6]:PORT"), address);
  return NULL;
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

  if (self->server == NULL ||
      !soup_server_accept_iostream (self->server, G_IO_STREAM (connection), local, remote, &error))
    g_debug ("Metrics connection dropped: %s", error != NULL ? error->message : "stopped");
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
  g_socket_service_stop (self->service);
  g_socket_listener_close (G_SOCKET_LISTENER (self->service));
  g_clear_object (&self->service);
  soup_server_disconnect (self->server);
  g_clear_object (&self->server);
  self->port = 0;
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
}
