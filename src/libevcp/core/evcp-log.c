/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "evcp-build-config.h"

#include "evcp-log.h"

/* What GLib's default writer would show, without formatting anything. */
gboolean
evcp_log_enabled (GLogLevelFlags level, const gchar *domain)
{
  return !g_log_writer_default_would_drop (level, domain);
}
