/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "evcp-build-config.h"

#include "evcp-ocpp-backoff.h"

guint
evcp_ocpp_backoff_ms (guint min_ms, guint max_ms, guint failures, guint32 random)
{
  guint64 delay = MAX (min_ms, 1);
  guint64 cap = MAX (max_ms, delay);
  guint64 low;

  for (guint i = 0; i < failures && delay < cap; i++)
    delay *= 2;
  delay = MIN (delay, cap);
  low = delay - delay / 2;
  return (guint) (low + random % (delay - low + 1));
}
