/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * The Prometheus text exposition format (version 0.0.4), written and read
 * without any I/O: what EvcpMetricsServer serves comes from these.
 *
 *   # HELP evcp_monitor_checks_total Health checks done.
 *   # TYPE evcp_monitor_checks_total counter
 *   evcp_monitor_checks_total{cp_id="CP-001"} 42
 */

#define EVCP_PROMETHEUS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* "# HELP" and "# TYPE" lines; @type is counter, gauge, histogram or untyped. */
void        evcp_prometheus_family     (GString      *out,
                                        const gchar  *name,
                                        const gchar  *type,
                                        const gchar  *help);

/* One sample line. @labels: (nullable): pairs of name and value, %NULL
 * terminated ({"handler", "user-info", NULL}); values are escaped. A value
 * that is NaN or infinite is written NaN, +Inf or -Inf. */
void        evcp_prometheus_sample     (GString             *out,
                                        const gchar         *name,
                                        const gchar * const *labels,
                                        gdouble              value);
/* The same for a counter, exactly (no rounding through a double). */
void        evcp_prometheus_sample_u64 (GString             *out,
                                        const gchar         *name,
                                        const gchar * const *labels,
                                        guint64              value);

/* The process metrics of the Prometheus client libraries' conventions:
 * process_cpu_seconds_total, process_resident_memory_bytes,
 * process_virtual_memory_bytes, process_start_time_seconds and
 * process_open_fds (from /proc/self; nothing where there is no /proc). */
void evcp_prometheus_process (GString *out);

/* A label value with \, " and newline escaped. */
gchar      *evcp_prometheus_escape     (const gchar  *value) G_GNUC_WARN_UNUSED_RESULT;

/**
 * evcp_prometheus_parse:
 * @text: an exposition
 * @error: %G_IO_ERROR_INVALID_DATA with the line number of the first
 *   malformed line
 *
 * Reads every sample line into a table from the series, written as
 * `name{label="value",…}` with the labels sorted by name (or just `name`),
 * to a #gdouble (boxed with g_new). Comments are checked for shape only.
 * Meant for tests and tools that read what evcp serves.
 *
 * Returns: (transfer full) (element-type utf8 gdouble): the samples, or %NULL
 */
GHashTable *evcp_prometheus_parse      (const gchar  *text,
                                        GError      **error);

/* A value of the table from evcp_prometheus_parse(), NAN if absent. */
gdouble     evcp_prometheus_lookup     (GHashTable   *samples,
                                        const gchar  *series);

G_END_DECLS
