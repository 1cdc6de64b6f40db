/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <librdkafka/rdkafka.h>

G_BEGIN_DECLS

/*
 * Errors that only the operator can mend: the SASL credentials refused, the
 * broker's certificate not trusted (or the TLS handshake failing otherwise).
 * librdkafka retries them by itself, with its reconnect backoff, and so does
 * evcp; but nothing changes until the configuration (or the broker's) does,
 * so each program says so once, clearly, instead of a debug line per retry.
 */
typedef struct {
  gchar  *cause;       /* the cause last warned about; NULL when none */
  guint64 count;       /* errors since that warning */
  gint64  summary_us;  /* monotonic time of the last summary line */
} EvcpKafkaSecurityReport;

/* Whether @err (with its @reason) is a credential or certificate error. */
gboolean     evcp_kafka_error_is_security     (int                      err,
                                               const char              *reason);

/* Reports a security error of @rk, for @who ("consumer", "producer", …):
 * a WARNING naming it the first time and whenever the cause changes, then
 * one line every 5 minutes with the count. Returns the cause: @reason
 * without librdkafka's timing suffix, plus a hint when the running
 * librdkafka is known not to authenticate with the broker (transfer none,
 * valid until the next call). */
const gchar *evcp_kafka_security_report       (EvcpKafkaSecurityReport *report,
                                               rd_kafka_t              *rk,
                                               const gchar             *who,
                                               int                      err,
                                               const char              *reason);

/* The link works again: the next error is news again. Returns whether
 * there was a cause to clear. */
gboolean     evcp_kafka_security_report_clear (EvcpKafkaSecurityReport *report);

G_END_DECLS
