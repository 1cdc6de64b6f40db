/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/**
 * EvcpHealthFunc:
 * @reason: (out): why it is not healthy, when it returns %FALSE; when it
 *   returns %TRUE, a warning (degraded but serving: OK#<cp>#<warning>) or
 *   left %NULL
 *
 * Returns: %TRUE when the Engine is healthy
 */
typedef gboolean (*EvcpHealthFunc) (gpointer user_data, gchar **reason);

/*
 * Limits against hostile or stuck peers (docs/reliability.md): at most
 * @max_connections (when full, the oldest that never asked HEALTH for this
 * CP goes, else the one that asked least recently); a connection must ask HEALTH within @first_timeout_ms, and ask
 * again within @idle_timeout_ms; besides, a peer is dropped past 16 KiB of
 * answers it does not read, 64 KiB read without a HEALTH, or 32 useless or
 * bad frames in a row.
 */
typedef struct {
  guint max_connections;
  guint first_timeout_ms;
  guint idle_timeout_ms;
} EvcpHealthLimits;

#define EVCP_HEALTH_DEFAULT_MAX_CONNECTIONS  64
#define EVCP_HEALTH_DEFAULT_FIRST_TIMEOUT_MS 5000
#define EVCP_HEALTH_DEFAULT_IDLE_TIMEOUT_MS  60000

#define EVCP_TYPE_HEALTH_SERVER (evcp_health_server_get_type ())
G_DECLARE_FINAL_TYPE (EvcpHealthServer, evcp_health_server, EVCP, HEALTH_SERVER, GObject)

/*
 * The Engine's side of the health check (docs/protocol.md): every good frame
 * is ACKed, bad bytes NACKed; HEALTH#<cp> is answered OK#<cp> (or
 * OK#<cp>#<warning> when healthy with a warning) or KO#<cp>#<reason>, the
 * answer resent on NACK (at most 3 times); a HEALTH for another CP and
 * unknown verbs are ACKed and ignored (unknown ones logged); EOT closes the
 * connection. Bounded connections (EvcpHealthLimits), async GIO.
 */
EvcpHealthServer *evcp_health_server_new    (const gchar      *cp_id,
                                             EvcpHealthFunc    func,
                                             gpointer          user_data,
                                             GDestroyNotify    destroy);
/* @port 0 picks a free port; see evcp_health_server_get_port(). */
gboolean          evcp_health_server_listen (EvcpHealthServer *self,
                                             const gchar      *address,
                                             guint16           port,
                                             GError          **error);
guint16           evcp_health_server_get_port (EvcpHealthServer *self);
void              evcp_health_server_stop   (EvcpHealthServer *self);
guint64           evcp_health_server_get_checks (EvcpHealthServer *self);
void              evcp_health_server_set_limits (EvcpHealthServer       *self,
                                                 const EvcpHealthLimits *limits);
/* Connections open now, and those dropped or refused by a limit so far. */
guint             evcp_health_server_get_connections (EvcpHealthServer *self);
guint64           evcp_health_server_get_dropped (EvcpHealthServer *self);

G_END_DECLS
