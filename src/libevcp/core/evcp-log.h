/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * The log of evcp's programs.
 *
 * evcp_log_init() installs evcp_log_writer() as GLib's writer (or @writer,
 * which ends in evcp_log_writer(): Central's panel): every entry
 * carries SYSLOG_IDENTIFIER (the program's name: `journalctl -t
 * evcp-engine`), and with G_LOG_USE_STRUCTURED (set for the whole build) the
 * code location (CODE_FILE, CODE_LINE, CODE_FUNC). It writes to the journal
 * when standard error is the journal, else to standard error as GLib does.
 *
 * The level: evcp's own domains (those starting with "evcp") show what is
 * at or above the level set with evcp_log_set_level() ("message" by
 * default; -v is "debug"; over D-Bus SetLogLevel changes it while running).
 * Other domains (GLib, GIO) keep GLib's rules: their debug and info lines
 * only with G_MESSAGES_DEBUG. Criticals and errors always show.
 */
typedef enum {
  EVCP_LOG_LEVEL_ERROR, /* criticals and errors only */
  EVCP_LOG_LEVEL_WARNING,
  EVCP_LOG_LEVEL_MESSAGE, /* the default */
  EVCP_LOG_LEVEL_INFO,
  EVCP_LOG_LEVEL_DEBUG,
} EvcpLogLevel;

void evcp_log_init (const gchar *identifier, GLogWriterFunc writer);
void evcp_log_set_level (EvcpLogLevel level);
EvcpLogLevel evcp_log_get_level (void);
gboolean evcp_log_level_from_string (const gchar *name, EvcpLogLevel *level);
const gchar *evcp_log_level_to_string (EvcpLogLevel level);
const gchar *evcp_log_level_names (void);

/* Debug and info lines on per-message paths: GLib formats a message before
 * deciding to drop it, so the macros below ask first. TRUE when the writer
 * would show a line of @level in @domain: the level set for evcp's domains,
 * G_MESSAGES_DEBUG and g_log_set_debug_enabled() as GLib answers. */
gboolean evcp_log_enabled (GLogLevelFlags level, const gchar *domain);

GLogWriterOutput evcp_log_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data);

/* Where the writer sends journal entries: NULL, the journal's own socket
 * when standard error is the journal (else standard error); a path, that
 * datagram socket always (tests). */
void evcp_log_set_journal_socket (const gchar *path);

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
