/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

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

/* The service manager (systemd's notification protocol, sd_notify(3),
 * spoken over $NOTIFY_SOCKET with GIO: a datagram to a unix socket, "@"
 * for the abstract namespace). Without $NOTIFY_SOCKET, and on Windows
 * (where src/platform/evcp-service.c reports to the Service Control Manager),
 * these do nothing.
 *
 * evcp_platform_service_ready(): READY=1 and STATUS=@status; from then on,
 * if the manager asked for a watchdog ($WATCHDOG_USEC, for this process by
 * $WATCHDOG_PID), WATCHDOG=1 from a timeout on the main context at half
 * that interval: a main loop that stops turning stops the pings, and the
 * manager kills the process. Call it from the main loop, once the program
 * does its work. evcp_platform_service_status(): STATUS=@status.
 * evcp_platform_service_stopping(): STOPPING=1 (the pings stop). A status
 * is one line: line breaks become spaces. */
void         evcp_platform_service_ready    (const gchar *status);
void         evcp_platform_service_status   (const gchar *status);
void         evcp_platform_service_stopping (const gchar *status);

/* The watchdog interval the manager asked of this process, in µs; 0 if none. */
guint64      evcp_platform_watchdog_usec    (void);

/* An exclusive lock on the file @path (created if needed), held until
 * evcp_platform_lock_release() or the end of the process (POSIX: flock(),
 * the file holds the holder's pid; not inherited across exec). Fails with
 * G_IO_ERROR_BUSY when another process (or another lock in this one) holds
 * it; then *@holder, if given, is the holder's pid as it wrote it (NULL if
 * unknown). On Windows no lock is taken (a service runs once under the
 * Service Control Manager): always succeeds. */
typedef struct _EvcpPlatformLock EvcpPlatformLock;
EvcpPlatformLock *evcp_platform_lock_acquire (const gchar  *path,
                                              gchar       **holder,
                                              GError      **error);
void         evcp_platform_lock_release     (EvcpPlatformLock *lock);

G_END_DECLS
