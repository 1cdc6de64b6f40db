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

/* Single key presses on an interactive terminal (no Enter, no echo), on the
 * main context; the terminal is restored at exit. FALSE when stdin is not a
 * terminal. */
typedef void (*EvcpKeyFunc) (gchar key, gpointer user_data);
gboolean     evcp_platform_watch_keys (EvcpKeyFunc func, gpointer user_data);

/* The operator's signals for services (POSIX: SIGUSR1, SIGUSR2). */
void         evcp_platform_watch_operator_signals (GSourceFunc on_fault,
                                                   GSourceFunc on_clear,
                                                   gpointer    user_data);

G_END_DECLS
