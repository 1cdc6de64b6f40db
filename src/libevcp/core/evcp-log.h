/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * Debug and info lines on per-message paths: GLib formats a message before
 * deciding to drop it, and by default debug and info lines are dropped, so
 * these macros ask first, as g_log_writer_default_would_drop() answers:
 * G_MESSAGES_DEBUG and --verbose (g_log_set_debug_enabled) at any time.
 */
gboolean evcp_log_enabled (GLogLevelFlags level, const gchar *domain);

#define EVCP_DEBUG(...)                                                   \
  G_STMT_START {                                                          \
    if (evcp_log_enabled (G_LOG_LEVEL_DEBUG, G_LOG_DOMAIN))               \
      g_debug (__VA_ARGS__);                                              \
  } G_STMT_END

#define EVCP_INFO(...)                                                    \
  G_STMT_START {                                                          \
    if (evcp_log_enabled (G_LOG_LEVEL_INFO, G_LOG_DOMAIN))                \
      g_info (__VA_ARGS__);                                               \
  } G_STMT_END

G_END_DECLS
