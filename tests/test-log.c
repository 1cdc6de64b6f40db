/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "evcp-build-config.h"

#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>
#ifdef G_OS_UNIX
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#endif

#include "evcp-log.h"

#define RECV_TIMEOUT_MS 5000

/* evcp_log_enabled() says what GLib's default writer shows, and follows
 * G_MESSAGES_DEBUG as GLib does, also when it changes while running. */
static void
test_log_enabled_follows_glib (void)
{
  g_log_set_debug_enabled (FALSE);

  g_setenv ("G_MESSAGES_DEBUG", "evcp-a evcp-c", TRUE);
  g_assert_true (evcp_log_enabled (G_LOG_LEVEL_WARNING, "evcp-b"));
  g_assert_true (evcp_log_enabled (G_LOG_LEVEL_MESSAGE, "evcp-b"));
  g_assert_true (evcp_log_enabled (G_LOG_LEVEL_DEBUG, "evcp-a"));
  g_assert_true (evcp_log_enabled (G_LOG_LEVEL_INFO, "evcp-c"));
  g_assert_false (evcp_log_enabled (G_LOG_LEVEL_DEBUG, "evcp-b"));
  g_assert_false (evcp_log_enabled (G_LOG_LEVEL_INFO, NULL));

  g_setenv ("G_MESSAGES_DEBUG", "all", TRUE);
  g_assert_true (evcp_log_enabled (G_LOG_LEVEL_DEBUG, "evcp-b"));
  g_assert_true (evcp_log_enabled (G_LOG_LEVEL_INFO, NULL));

  g_unsetenv ("G_MESSAGES_DEBUG");
  g_assert_false (evcp_log_enabled (G_LOG_LEVEL_DEBUG, "evcp-a"));
  g_log_set_debug_enabled (TRUE);
  g_assert_true (evcp_log_enabled (G_LOG_LEVEL_DEBUG, "evcp-a"));
  g_log_set_debug_enabled (FALSE);

  for (guint i = 0; i < 3; i++)
    {
      const gchar *env[] = { "evcp-a", "all", "" };
      const GLogLevelFlags levels[] = { G_LOG_LEVEL_DEBUG, G_LOG_LEVEL_INFO, G_LOG_LEVEL_MESSAGE };

      g_setenv ("G_MESSAGES_DEBUG", env[i], TRUE);
      for (guint l = 0; l < G_N_ELEMENTS (levels); l++)
        g_assert_cmpint (evcp_log_enabled (levels[l], "evcp-a"), ==,
                         !g_log_writer_default_would_drop (levels[l], "evcp-a"));
    }
}

#ifdef G_OS_UNIX
/* ---- the journal: a fake journald socket ------------------------------------ */

typedef struct {
  gchar *dir;
  gchar *path;
  int fd;
} FakeJournal;

static void
fake_journal_start (FakeJournal *j)
{
  struct sockaddr_un address = { .sun_family = AF_UNIX };
  g_autoptr(GError) error = NULL;

  j->dir = g_dir_make_tmp ("evcp-log-XXXXXX", &error);
  g_assert_no_error (error);
  j->path = g_build_filename (j->dir, "socket", NULL);
  g_assert_cmpuint (strlen (j->path), <, sizeof address.sun_path);
  g_strlcpy (address.sun_path, j->path, sizeof address.sun_path);
  j->fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  g_assert_cmpint (j->fd, >=, 0);
  g_assert_cmpint (bind (j->fd, (struct sockaddr *) &address, sizeof address), ==, 0);
  evcp_log_set_journal_socket (j->path);
}

static void
fake_journal_stop (FakeJournal *j)
{
  evcp_log_set_journal_socket (NULL);
  close (j->fd);
  g_unlink (j->path);
  g_rmdir (j->dir);
  g_free (j->path);
  g_free (j->dir);
}

/* The next entry, as journald parses it: KEY=VALUE lines, or KEY, newline,
 * a 64-bit little-endian length and the value. */
static GHashTable *
fake_journal_next (FakeJournal *j)
{
  GHashTable *fields = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  struct pollfd pfd = { .fd = j->fd, .events = POLLIN };
  g_autofree gchar *buffer = g_malloc (65536);
  ssize_t n;
  const gchar *p, *end;

  g_assert_cmpint (poll (&pfd, 1, RECV_TIMEOUT_MS), ==, 1);
  n = recv (j->fd, buffer, 65536, 0);
  g_assert_cmpint (n, >, 0);
  p = buffer;
  end = buffer + n;
  while (p < end)
    {
      const gchar *nl = memchr (p, '\n', end - p);
      const gchar *eq;

      g_assert_nonnull (nl);
      eq = memchr (p, '=', nl - p);
      if (eq != NULL)
        {
          g_hash_table_insert (fields, g_strndup (p, eq - p), g_strndup (eq + 1, nl - eq - 1));
          p = nl + 1;
        }
      else
        {
          guint64 le, length;

          g_assert_cmpint (end - (nl + 1), >=, (gssize) sizeof le);
          memcpy (&le, nl + 1, sizeof le);
          length = GUINT64_FROM_LE (le);
          g_assert_cmpint (end - (nl + 1 + sizeof le), >, (gssize) length);
          g_hash_table_insert (fields, g_strndup (p, nl - p), g_strndup (nl + 1 + sizeof le, length));
          g_assert_cmpint (nl[1 + sizeof le + length], ==, '\n');
          p = nl + 1 + sizeof le + length + 1;
        }
    }
  return fields;
}

/* Every entry says who wrote it (SYSLOG_IDENTIFIER, for journalctl -t) and
 * where in the code (G_LOG_USE_STRUCTURED): a message of several lines too. */
static void
test_log_journal_fields (void)
{
  FakeJournal j;
  g_autoptr(GHashTable) first = NULL;
  g_autoptr(GHashTable) second = NULL;
  g_autofree gchar *line = NULL;
  guint here;

  fake_journal_start (&j);
  here = __LINE__ + 1;
  g_message ("a charging point logs %d", 42);
  first = fake_journal_next (&j);
  g_message ("two\nlines");
  second = fake_journal_next (&j);
  fake_journal_stop (&j);

  g_assert_cmpstr (g_hash_table_lookup (first, "SYSLOG_IDENTIFIER"), ==, "evcp-test-log");
  g_assert_cmpstr (g_hash_table_lookup (first, "MESSAGE"), ==, "a charging point logs 42");
  g_assert_cmpstr (g_hash_table_lookup (first, "PRIORITY"), ==, "5");
  g_assert_cmpstr (g_hash_table_lookup (first, "GLIB_DOMAIN"), ==, "evcp-test");
  g_assert_true (g_str_has_suffix (g_hash_table_lookup (first, "CODE_FILE"), "test-log.c"));
  line = g_strdup_printf ("%u", here);
  g_assert_cmpstr (g_hash_table_lookup (first, "CODE_LINE"), ==, line);
  g_assert_cmpstr (g_hash_table_lookup (first, "CODE_FUNC"), ==, "test_log_journal_fields");
  g_assert_cmpstr (g_hash_table_lookup (second, "MESSAGE"), ==, "two\nlines");
  g_assert_cmpstr (g_hash_table_lookup (second, "SYSLOG_IDENTIFIER"), ==, "evcp-test-log");
}

/* The level, changed while running, governs evcp's domains; other domains
 * (GIO's chatter) keep GLib's rule even at "debug" (-v). */
static void
test_log_level_runtime (void)
{
  FakeJournal j;
  g_autoptr(GHashTable) entry = NULL;
  g_autoptr(GHashTable) debug = NULL;
  EvcpLogLevel level;

  g_unsetenv ("G_MESSAGES_DEBUG");
  g_log_set_debug_enabled (FALSE);
  g_assert_true (evcp_log_level_from_string ("DEBUG", &level));
  g_assert_cmpint (level, ==, EVCP_LOG_LEVEL_DEBUG);
  g_assert_false (evcp_log_level_from_string ("loud", &level));
  g_assert_cmpstr (evcp_log_level_to_string (EVCP_LOG_LEVEL_WARNING), ==, "warning");

  fake_journal_start (&j);
  evcp_log_set_level (EVCP_LOG_LEVEL_WARNING);
  g_assert_false (evcp_log_enabled (G_LOG_LEVEL_MESSAGE, "evcp-kafka"));
  g_message ("not at warning");
  evcp_log_set_level (EVCP_LOG_LEVEL_DEBUG);
  g_assert_true (evcp_log_enabled (G_LOG_LEVEL_DEBUG, "evcp-kafka"));
  g_assert_false (evcp_log_enabled (G_LOG_LEVEL_DEBUG, "GLib-GIO"));
  g_log_structured ("GLib-GIO", G_LOG_LEVEL_DEBUG, "MESSAGE", "GIO chatter");
  g_debug ("evcp at debug");
  debug = fake_journal_next (&j);
  evcp_log_set_level (EVCP_LOG_LEVEL_MESSAGE);
  g_debug ("not at message");
  g_message ("at message");
  entry = fake_journal_next (&j);
  fake_journal_stop (&j);

  g_assert_cmpstr (g_hash_table_lookup (debug, "MESSAGE"), ==, "evcp at debug");
  g_assert_cmpstr (g_hash_table_lookup (debug, "PRIORITY"), ==, "7");
  g_assert_cmpstr (g_hash_table_lookup (entry, "MESSAGE"), ==, "at message");
  g_assert_cmpint (evcp_log_get_level (), ==, EVCP_LOG_LEVEL_MESSAGE);
}

#endif /* G_OS_UNIX */

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  evcp_log_init ("evcp-test-log", NULL);
  g_test_add_func ("/log/enabled-follows-glib", test_log_enabled_follows_glib);
#ifdef G_OS_UNIX
  g_test_add_func ("/log/journal-fields", test_log_journal_fields);
  g_test_add_func ("/log/level-runtime", test_log_level_runtime);
#endif
  return g_test_run ();
}
