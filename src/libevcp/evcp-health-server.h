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

#define EVCP_TYPE_HEALTH_SERVER (evcp_health_server_get_type ())
G_DECLARE_FINAL_TYPE (EvcpHealthServer, evcp_health_server, EVCP, HEALTH_SERVER, GObject)

/*
 * The Engine's side of the health check (docs/protocol.md): every good frame
 * is ACKed, bad bytes NACKed; HEALTH#<cp> is answered OK#<cp> (or
 * OK#<cp>#<warning> when healthy with a warning) or KO#<cp>#<reason>, the
 * answer resent on NACK (at most 3 times); a HEALTH for another CP and
 * unknown verbs are ACKed and ignored (unknown ones logged); EOT closes the
 * connection. Any number of connections, async GIO.
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

G_END_DECLS
