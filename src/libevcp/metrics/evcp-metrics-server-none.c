/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* EvcpMetricsServer where libsoup 3 is not available (the Windows build:
 * Debian builds no libsoup for mingw, and win32/build-deps does not either).
 * The same API as src/libevcp/evcp-metrics-server.c; listening fails with
 * EVCP_ERROR_CONFIG, so --metrics-address is refused, not ignored. */
#define G_LOG_DOMAIN "evcp"

#include "evcp-build-config.h"

#include <string.h>

#include <glib/gi18n-lib.h>

#include "evcp-config.h"
#include "evcp-error.h"
#include "evcp-metrics-server.h"

struct _EvcpMetricsServer {
  GObject         parent_instance;
  EvcpMetricsFunc func;
  gpointer        user_data;
  GDestroyNotify  notify;
};

G_DEFINE_FINAL_TYPE (EvcpMetricsServer, evcp_metrics_server, G_TYPE_OBJECT)

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
evcp_metrics_server_finalize (GObject *object)
{
  EvcpMetricsServer *self = EVCP_METRICS_SERVER (object);

  if (self->notify != NULL)
    self->notify (self->user_data);
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

EvcpMetricsServer *
evcp_metrics_server_new (EvcpMetricsFunc func, gpointer user_data, GDestroyNotify notify)
{
  EvcpMetricsServer *self = g_object_new (EVCP_TYPE_METRICS_SERVER, NULL);

  self->func = func;
  self->user_data = user_data;
  self->notify = notify;
  return self;
}

gboolean
evcp_metrics_server_listen (EvcpMetricsServer *self, const gchar *address, GError **error)
{
  g_autoptr(GInetSocketAddress) sa = NULL;

  g_return_val_if_fail (EVCP_IS_METRICS_SERVER (self), FALSE);

  sa = evcp_metrics_parse_address (address, error);
  if (sa == NULL)
    return FALSE;
  g_set_error (error, EVCP_ERROR, EVCP_ERROR_CONFIG,
               /* TRANSLATORS: the Windows build has no HTTP server library */
               _("This build has no Prometheus metrics endpoint (built without libsoup 3): "
                 "leave the metrics address unset"));
  return FALSE;
}

void
evcp_metrics_server_stop (EvcpMetricsServer *self)
{
}

guint16
evcp_metrics_server_get_port (EvcpMetricsServer *self)
{
  return 0;
}

gchar *
evcp_metrics_server_get_url (EvcpMetricsServer *self)
{
  return NULL;
}

guint64
evcp_metrics_server_get_scrapes (EvcpMetricsServer *self)
{
  return 0;
}
