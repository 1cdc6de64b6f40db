/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/**
 * EvcpMetricsFunc:
 * @out: where to append the exposition (evcp-prometheus.h)
 * @user_data: as given to evcp_metrics_server_new()
 *
 * Writes the metrics of a program, on the main context, once per scrape.
 */
typedef void (*EvcpMetricsFunc) (GString  *out,
                                 gpointer  user_data);

/*
 * EvcpMetricsServer: `GET /metrics` in the Prometheus text format over HTTP
 * (libsoup 3), for the Engine and the Monitor alike: what it serves comes
 * from a callback. Off unless a program is given an address; an address
 * without a host binds to loopback only.
 */
/* Limits against hostile or stuck peers (docs/reliability.md): at most
 * this many connections (the oldest is cut for a new one), each for at most
 * this long. */
#define EVCP_METRICS_DEFAULT_MAX_CONNECTIONS 16
#define EVCP_METRICS_DEFAULT_TIMEOUT_MS      10000

#define EVCP_TYPE_METRICS_SERVER (evcp_metrics_server_get_type ())
G_DECLARE_FINAL_TYPE (EvcpMetricsServer, evcp_metrics_server, EVCP, METRICS_SERVER, GObject)

EvcpMetricsServer *evcp_metrics_server_new        (EvcpMetricsFunc      func,
                                                   gpointer             user_data,
                                                   GDestroyNotify       notify);

/**
 * evcp_metrics_server_listen:
 * @address: "PORT" (127.0.0.1), "HOST:PORT", "[IPv6]:PORT"; the host must
 *   be an IP address (0.0.0.0 or [::] for every interface); port 0 picks a
 *   free one (see evcp_metrics_server_get_port())
 * @error: %EVCP_ERROR_CONFIG for an address that cannot be parsed, or the
 *   error of the bind
 */
gboolean           evcp_metrics_server_listen     (EvcpMetricsServer   *self,
                                                   const gchar         *address,
                                                   GError             **error);
void               evcp_metrics_server_stop       (EvcpMetricsServer   *self);
/* The port listened on, 0 when not listening. */
guint16            evcp_metrics_server_get_port   (EvcpMetricsServer   *self);
/* "http://HOST:PORT/metrics", %NULL when not listening. (transfer full) */
gchar             *evcp_metrics_server_get_url    (EvcpMetricsServer   *self);
guint64            evcp_metrics_server_get_scrapes (EvcpMetricsServer  *self);
/* 0 keeps a default. */
void               evcp_metrics_server_set_limits (EvcpMetricsServer   *self,
                                                   guint                max_connections,
                                                   guint                timeout_ms);
/* Connections libsoup holds now; connections cut by a limit so far. */
guint              evcp_metrics_server_get_connections (EvcpMetricsServer *self);
guint64            evcp_metrics_server_get_dropped (EvcpMetricsServer  *self);

/* Parses an address as evcp_metrics_server_listen() does. (transfer full) */
GInetSocketAddress *evcp_metrics_parse_address    (const gchar         *address,
                                                   GError             **error);

G_END_DECLS
