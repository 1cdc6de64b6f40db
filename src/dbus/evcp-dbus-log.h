/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* SetLogLevel of org.evcp.Engine1 and org.evcp.Monitor1: sets the level
 * (evcp-log.h) and logs who did it, or replies InvalidArgs and returns
 * FALSE. The caller completes the call and updates LogLevel. */
gboolean evcp_dbus_set_log_level (GDBusMethodInvocation *invocation, const gchar *level);

/* The level now, as LogLevel shows it. */
const gchar *evcp_dbus_log_level (void);

G_END_DECLS
