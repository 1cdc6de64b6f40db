/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What src/platform/evcp-platform-win32.c and src/platform/evcp-service.c share:
 * the names of the per-process events through which the Service Control
 * Manager's requests reach the program's main loop. */

#include <glib.h>

G_BEGIN_DECLS

/* Set (SetEvent) to ask process <pid> to stop, as Ctrl+C does. */
#define EVCP_PLATFORM_WIN32_SHUTDOWN_EVENT "shutdown"
/* Set by process <pid> once its main loop runs (then: SERVICE_RUNNING). */
#define EVCP_PLATFORM_WIN32_RUNNING_EVENT  "running"

/* "Local\evcp-<what>-<pid>": a manual-reset event's name. */
gchar *evcp_platform_win32_event_name (const gchar *what, guint32 pid) G_GNUC_WARN_UNUSED_RESULT;

/* %ProgramData%\evcp */
gchar *evcp_platform_win32_program_data_dir (void) G_GNUC_WARN_UNUSED_RESULT;

G_END_DECLS
