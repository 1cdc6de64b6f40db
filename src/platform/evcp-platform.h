#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Calls @func on the main context when the process is asked to stop
 * (SIGINT/SIGTERM on POSIX, a console or service stop on Windows). */
void         evcp_platform_watch_shutdown (GSourceFunc  func,
                                           gpointer     user_data);

/* The per-user or per-system directory for state (outbox, session, seq). */
gchar       *evcp_platform_default_state_dir (const gchar *program) G_GNUC_WARN_UNUSED_RESULT;

/* Whether standard input is an interactive terminal. */
gboolean     evcp_platform_stdin_is_tty (void);

G_END_DECLS
