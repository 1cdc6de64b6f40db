/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "evcp-build-config.h"

#include <string.h>

#include <glib.h>

#ifdef G_OS_UNIX
#include <errno.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#endif

#include "evcp-log.h"

#define JOURNAL_SOCKET "/run/systemd/journal/socket"

static gint log_level = EVCP_LOG_LEVEL_MESSAGE; /* atomic */
static gchar *log_identifier;                   /* set once, before threads */

G_LOCK_DEFINE_STATIC (journal);
static gchar *journal_path; /* NULL: the journal's socket when stderr is the journal */
static int journal_fd = -1;
#ifdef G_OS_UNIX
static gboolean journal_checked;
static gboolean stderr_is_journal;
#endif

static const gchar * const level_names[] = { "error", "warning", "message", "info", "debug" };

void
evcp_log_set_level (EvcpLogLevel level)
{
  g_return_if_fail (level <= EVCP_LOG_LEVEL_DEBUG);
  g_atomic_int_set (&log_level, level);
#ifdef G_OS_WIN32
  /* the service's Event Log writer (src/platform/evcp-service.c) follows
   * GLib's rules: there, debug and info lines of every domain */
  g_log_set_debug_enabled (level >= EVCP_LOG_LEVEL_INFO);
#endif
}

EvcpLogLevel
evcp_log_get_level (void)
{
  return g_atomic_int_get (&log_level);
}

gboolean
evcp_log_level_from_string (const gchar *name, EvcpLogLevel *level)
{
  for (guint i = 0; name != NULL && i < G_N_ELEMENTS (level_names); i++)
    if (g_ascii_strcasecmp (name, level_names[i]) == 0)
      {
        *level = i;
        return TRUE;
      }
  return FALSE;
}

const gchar *
evcp_log_level_to_string (EvcpLogLevel level)
{
  g_return_val_if_fail (level <= EVCP_LOG_LEVEL_DEBUG, NULL);
  return level_names[level];
}

const gchar *
evcp_log_level_names (void)
{
  return "error, warning, message, info, debug";
}

static gboolean
is_evcp_domain (const gchar *domain)
{
  return domain != NULL && g_str_has_prefix (domain, "evcp");
}

/* The EvcpLogLevel that shows a line of @level. */
static EvcpLogLevel
rank (GLogLevelFlags level)
{
  if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
    return EVCP_LOG_LEVEL_ERROR;
  if (level & G_LOG_LEVEL_WARNING)
    return EVCP_LOG_LEVEL_WARNING;
  if (level & G_LOG_LEVEL_MESSAGE)
    return EVCP_LOG_LEVEL_MESSAGE;
  if (level & G_LOG_LEVEL_INFO)
    return EVCP_LOG_LEVEL_INFO;
  return EVCP_LOG_LEVEL_DEBUG;
}

gboolean
evcp_log_enabled (GLogLevelFlags level, const gchar *domain)
{
  EvcpLogLevel r = rank (level);

  if (r == EVCP_LOG_LEVEL_ERROR)
    return TRUE;
  if (is_evcp_domain (domain) && r <= evcp_log_get_level ())
    return TRUE;
  if (r >= EVCP_LOG_LEVEL_INFO)
    return !g_log_writer_default_would_drop (level, domain);
  /* warnings and messages: always for others, as the level says for evcp */
  return !is_evcp_domain (domain);
}

void
evcp_log_init (const gchar *identifier, GLogWriterFunc writer)
{
  g_return_if_fail (identifier != NULL);

  if (log_identifier == NULL)
    log_identifier = g_strdup (identifier);
#ifndef G_OS_WIN32
  g_log_set_writer_func (writer != NULL ? writer : evcp_log_writer, NULL, NULL);
#endif
}

void
evcp_log_set_journal_socket (const gchar *path)
{
  G_LOCK (journal);
  g_free (journal_path);
  journal_path = g_strdup (path);
#ifdef G_OS_UNIX
  if (journal_fd >= 0)
    close (journal_fd);
#endif
  journal_fd = -1;
  G_UNLOCK (journal);
}

#ifdef G_OS_UNIX
/* The journal's native protocol: KEY=VALUE lines, and a value holding a
 * newline as KEY, newline, its length (64 bits, little endian), the value
 * and a newline. */
static GByteArray *
journal_datagram (const GLogField *fields, gsize n_fields)
{
  GByteArray *datagram = g_byte_array_new ();

  for (gsize i = 0; i < n_fields; i++)
    {
      const gchar *value = fields[i].value;
      gsize length = fields[i].length < 0 ? strlen (value) : (gsize) fields[i].length;

      if (value == NULL)
        continue;
      g_byte_array_append (datagram, (const guint8 *) fields[i].key, strlen (fields[i].key));
      if (memchr (value, '\n', length) != NULL)
        {
          guint64 le = GUINT64_TO_LE ((guint64) length);

          g_byte_array_append (datagram, (const guint8 *) "\n", 1);
          g_byte_array_append (datagram, (const guint8 *) &le, sizeof le);
        }
      else
        g_byte_array_append (datagram, (const guint8 *) "=", 1);
      g_byte_array_append (datagram, (const guint8 *) value, length);
      g_byte_array_append (datagram, (const guint8 *) "\n", 1);
    }
  return datagram;
}

/* Called with the lock held. */
static const gchar *
journal_socket_locked (void)
{
  if (journal_path != NULL)
    return journal_path;
  if (!journal_checked)
    {
      stderr_is_journal = g_log_writer_is_journald (fileno (stderr));
      journal_checked = TRUE;
    }
  return stderr_is_journal ? JOURNAL_SOCKET : NULL;
}

static gboolean
journal_send (const GLogField *fields, gsize n_fields)
{
  g_autoptr(GByteArray) datagram = NULL;
  struct sockaddr_un address = { .sun_family = AF_UNIX };
  const gchar *path;
  gboolean sent = FALSE;

  G_LOCK (journal);
  path = journal_socket_locked ();
  if (path != NULL && strlen (path) < sizeof address.sun_path)
    {
      g_strlcpy (address.sun_path, path, sizeof address.sun_path);
      if (journal_fd < 0)
        journal_fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      datagram = journal_datagram (fields, n_fields);
      if (journal_fd >= 0)
        {
          ssize_t n;

          do
            n = sendto (journal_fd, datagram->data, datagram->len, MSG_NOSIGNAL, (struct sockaddr *) &address,
                        sizeof address);
          while (n < 0 && errno == EINTR);
          sent = n == (ssize_t) datagram->len;
        }
    }
  G_UNLOCK (journal);
  return sent;
}
#else
static gboolean
journal_send (const GLogField *fields, gsize n_fields)
{
  return FALSE;
}
#endif

GLogWriterOutput
evcp_log_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  const gchar *domain = NULL;
  gboolean has_identifier = FALSE;
  const gchar *identifier;
  GLogField *all;
  gsize n_all = n_fields;

  for (gsize i = 0; i < n_fields; i++)
    {
      if (g_str_equal (fields[i].key, "GLIB_DOMAIN"))
        domain = fields[i].value;
      else if (g_str_equal (fields[i].key, "SYSLOG_IDENTIFIER"))
        has_identifier = TRUE;
    }
  if (!evcp_log_enabled (level, domain))
    return G_LOG_WRITER_HANDLED;

  all = g_newa (GLogField, n_fields + 1);
  memcpy (all, fields, n_fields * sizeof *fields);
  identifier = log_identifier != NULL ? log_identifier : g_get_prgname ();
  if (!has_identifier && identifier != NULL)
    all[n_all++] = (GLogField){ "SYSLOG_IDENTIFIER", identifier, -1 };

  /* warnings and worse through GLib's writer: it makes them fatal as
   * G_DEBUG and the test framework ask (to the journal too when it is) */
  if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))
    return g_log_writer_default (level, all, n_all, user_data);
  if (journal_send (all, n_all))
    return G_LOG_WRITER_HANDLED;
  return g_log_writer_standard_streams (level, all, n_all, user_data);
}
