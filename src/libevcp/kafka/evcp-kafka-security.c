/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "evcp-build-config.h"

#include "evcp-kafka-security.h"

#include <string.h>

#define SUMMARY_INTERVAL_US (G_USEC_PER_SEC * 300)

/* librdkafka before 2.6.1 builds the SCRAM client-final-message with the
 * client nonce twice; Apache Kafka 4.0 and later check it strictly
 * (RFC 5802) and refuse the proof as "invalid credentials". */
#define SCRAM_FIXED_VERSION 0x020601ff

gboolean
evcp_kafka_error_is_security (int err, const char *reason)
{
  switch (err)
    {
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
    case RD_KAFKA_RESP_ERR__SSL:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_SASL_MECHANISM:
    case RD_KAFKA_RESP_ERR_ILLEGAL_SASL_STATE:
      return TRUE;
    case RD_KAFKA_RESP_ERR__TRANSPORT:
      /* librdkafka 2.0.2 reports some handshake failures as transport
       * failures; their text says what they are */
      return reason != NULL && (strstr (reason, "SSL handshake failed") != NULL ||
                                strstr (reason, "certificate verify failed") != NULL ||
                                strstr (reason, "SASL authentication error") != NULL);
    default:
      return FALSE;
    }
}

static gboolean
uses_scram (rd_kafka_t *rk)
{
  char value[64];
  size_t size = sizeof value;

  return rd_kafka_conf_get (rd_kafka_conf (rk), "sasl.mechanisms", value, &size) == RD_KAFKA_CONF_OK &&
         g_ascii_strncasecmp (value, "SCRAM", 5) == 0;
}

/* @reason without " (after 327ms in state AUTH_REQ…)": the same cause says
 * the same words every time. */
static gchar *
cause_of (rd_kafka_t *rk, int err, const char *reason)
{
  const char *suffix = reason != NULL ? strstr (reason, " (after ") : NULL;
  g_autofree gchar *text = reason == NULL ? g_strdup (rd_kafka_err2str (err))
                         : suffix != NULL ? g_strndup (reason, suffix - reason)
                                          : g_strdup (reason);

  if (strstr (text, "SASL authentication error") != NULL && rk != NULL && uses_scram (rk) &&
      rd_kafka_version () < SCRAM_FIXED_VERSION)
    return g_strdup_printf ("%s; note: librdkafka %s (before 2.6.1) cannot authenticate with SCRAM to "
                            "Apache Kafka 4.0 or later, whatever the password (librdkafka issue 4895)",
                            text, rd_kafka_version_str ());
  return g_steal_pointer (&text);
}

const gchar *
evcp_kafka_security_report (EvcpKafkaSecurityReport *report,
                            rd_kafka_t              *rk,
                            const gchar             *who,
                            int                      err,
                            const char              *reason)
{
  g_autofree gchar *cause = cause_of (rk, err, reason);
  gint64 now = g_get_monotonic_time ();

  if (g_strcmp0 (cause, report->cause) != 0)
    {
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                        "EVCP_KAFKA_ERROR", rd_kafka_err2name (err),
                        "MESSAGE", "Kafka %s: %s: %s. Check the security settings of [librdkafka] "
                        "(security.protocol, sasl.*, ssl.*); retrying meanwhile",
                        who, rd_kafka_err2name (err), cause);
      g_free (report->cause);
      report->cause = g_steal_pointer (&cause);
      report->count = 1;
      report->summary_us = now;
      return report->cause;
    }
  report->count++;
  if (now - report->summary_us >= SUMMARY_INTERVAL_US)
    {
      g_message ("Kafka %s: still refused (%" G_GUINT64_FORMAT " attempts): %s",
                 who, report->count, report->cause);
      report->summary_us = now;
    }
  return report->cause;
}

gboolean
evcp_kafka_security_report_clear (EvcpKafkaSecurityReport *report)
{
  if (report->cause == NULL)
    return FALSE;
  g_clear_pointer (&report->cause, g_free);
  report->count = 0;
  return TRUE;
}
