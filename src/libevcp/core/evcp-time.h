/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* "2026-12-03T23:20:00.123456Z" and its NUL */
#define EVCP_TIMESTAMP_SIZE 32

/* Writes @usec (microseconds since the Unix epoch, as g_get_real_time()
 * gives, from 1970 to 9999) in UTC ISO 8601, exactly as
 * g_date_time_format_iso8601() writes it for a UTC GDateTime: the
 * fraction only when it is not zero. For per-message paths, where a
 * GDateTime would cost more than the rest of the work. Returns @buf. */
gchar *evcp_time_format_iso8601 (gint64 usec,
                                 gchar  buf[EVCP_TIMESTAMP_SIZE]);

G_END_DECLS
