/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "evcp-build-config.h"

#include "evcp-time.h"

static gchar *
put (gchar *p, guint value, gint width)
{
  for (gint i = width - 1; i >= 0; i--)
    {
      p[i] = (gchar) ('0' + value % 10);
      value /= 10;
    }
  return p + width;
}

gchar *
evcp_time_format_iso8601 (gint64 usec, gchar buf[EVCP_TIMESTAMP_SIZE])
{
  gint64 secs = usec / G_USEC_PER_SEC;
  guint frac = (guint) (usec % G_USEC_PER_SEC);
  gint64 days = secs / 86400;
  guint day_secs = (guint) (secs % 86400);
  gint64 era, z;
  guint doe, yoe, doy, mp, d, m;
  gint64 y;
  gchar *p = buf;

  g_return_val_if_fail (usec >= 0, NULL);

  /* civil date from days since 1970-01-01 (proleptic Gregorian, eras of
   * 400 years starting on March 1st) */
  z = days + 719468;
  era = z / 146097;
  doe = (guint) (z - era * 146097);
  yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = (gint64) yoe + era * 400;
  doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2)
    y++;

  p = put (p, (guint) y, 4);
  *p++ = '-';
  p = put (p, m, 2);
  *p++ = '-';
  p = put (p, d, 2);
  *p++ = 'T';
  p = put (p, day_secs / 3600, 2);
  *p++ = ':';
  p = put (p, day_secs / 60 % 60, 2);
  *p++ = ':';
  p = put (p, day_secs % 60, 2);
  if (frac != 0)
    {
      *p++ = '.';
      p = put (p, frac, 6);
    }
  *p++ = 'Z';
  *p = '\0';
  return buf;
}
