/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* evcp-central's panel on a real terminal: the program runs on a pty, as
 * in scripts/demo. What is typed survives the redraws (an event, a resize),
 * is edited in place (arrows, Backspace), the frame fits the terminal
 * (80×24: the title stays on the first line), the terminal's resize
 * (SIGWINCH) redraws at the new size, `list` is a table, and NO_COLOR
 * leaves the colours out. */
#include "evcp-build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib-unix.h>

#define WAIT_MS 20000

typedef struct {
  int master;
  GPid pid;
  GString *out;
  guint16 port;
} Term;

static void
child_setup (gpointer data)
{
  /* a session of its own whose controlling terminal is the pty (its stdin) */
  setsid ();
  ioctl (0, TIOCSCTTY, 0);
}

static void
term_start_with (Term *t, gboolean no_color, const gchar *extra)
{
  struct winsize ws = { .ws_row = 24, .ws_col = 80 };
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) env = g_get_environ ();
  int slave, devnull = open ("/dev/null", O_WRONLY | O_CLOEXEC);
  const gchar *argv[] = {
    g_getenv ("EVCP_CENTRAL"), "--panel", "--port", "0", "--db", ":memory:", "--no-kafka", extra, NULL
  };

  g_assert_nonnull (argv[0]);
  g_assert_cmpint (openpty (&t->master, &slave, NULL, NULL, &ws), ==, 0);
  env = g_environ_setenv (env, "TERM", "xterm", TRUE);
  env = g_environ_setenv (env, "LC_ALL", "C.UTF-8", TRUE);
  env = g_environ_unsetenv (env, "KAFKA_BROKERS");
  env = no_color ? g_environ_setenv (env, "NO_COLOR", "1", TRUE) : g_environ_unsetenv (env, "NO_COLOR");
  g_assert_true (g_spawn_async_with_fds (NULL, (gchar **) argv, env, G_SPAWN_DO_NOT_REAP_CHILD, child_setup, NULL,
                                         &t->pid, slave, slave, devnull, &error));
  g_assert_no_error (error);
  close (slave);
  close (devnull);
  g_unix_set_fd_nonblocking (t->master, TRUE, NULL);
  t->out = g_string_new (NULL);
}

/* The last frame: what follows the last cursor-home. */
static const gchar *
last_frame (Term *t)
{
  const gchar *home = g_strrstr (t->out->str, "\033[H");

  return home != NULL ? home : "";
}

static void
term_start (Term *t, gboolean no_color)
{
  term_start_with (t, no_color, NULL);
}

/* Reads what the program drew until @pred holds or the deadline passes. */
static gboolean
term_wait (Term *t, gboolean (*pred) (Term *t, gconstpointer data), gconstpointer data)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_MS * 1000;

  while (!pred (t, data))
    {
      struct pollfd pfd = { .fd = t->master, .events = POLLIN };
      gint64 left = (deadline - g_get_monotonic_time ()) / 1000;
      gchar buffer[4096];
      gssize n;

      if (left <= 0)
        {
          g_autofree gchar *shown = g_strescape (last_frame (t), NULL);

          g_test_message ("the last frame: %s", shown);
          return FALSE;
        }
      if (poll (&pfd, 1, (int) MIN (left, 100)) <= 0)
        continue;
      n = read (t->master, buffer, sizeof buffer);
      if (n > 0)
        g_string_append_len (t->out, buffer, n);
      else if (n < 0 && errno != EAGAIN && errno != EINTR)
        return pred (t, data);
    }
  return TRUE;
}

static void
term_type (Term *t, const gchar *keys)
{
  g_assert_cmpint (write (t->master, keys, strlen (keys)), ==, (gssize) strlen (keys));
}

static gboolean
frame_has (Term *t, gconstpointer text)
{
  return strstr (last_frame (t), text) != NULL;
}

static gboolean
frame_has_all (Term *t, gconstpointer texts)
{
  for (const gchar * const *s = texts; *s != NULL; s++)
    if (strstr (last_frame (t), *s) == NULL)
      return FALSE;
  return TRUE;
}

static gboolean
listening (Term *t, gconstpointer data)
{
  const gchar *line = strstr (t->out->str, "LISTENING ");

  if (line == NULL || strchr (line, '\n') == NULL)
    return FALSE;
  t->port = (guint16) g_ascii_strtoull (line + 10, NULL, 10);
  return TRUE;
}

/* The frame's lines as the terminal shows them: escapes left out. */
static gchar **
frame_lines (Term *t)
{
  g_autoptr(GRegex) escapes = g_regex_new ("\033\\[[0-9;?]*[A-Za-z]|\r", 0, 0, NULL);
  g_autofree gchar *plain = g_regex_replace_literal (escapes, last_frame (t), -1, 0, "", 0, NULL);

  return g_strsplit (plain, "\n", -1);
}

/* It fits: at most @rows lines of at most @columns characters, the title first. */
static void
assert_fits (Term *t, guint columns, guint rows)
{
  g_auto(GStrv) lines = frame_lines (t);

  g_assert_cmpuint (g_strv_length (lines), <=, rows);
  g_assert_true (g_str_has_prefix (lines[0], "evcp-central — port"));
  for (guint i = 0; lines[i] != NULL; i++)
    g_assert_cmpint (g_utf8_strlen (lines[i], -1), <=, columns);
}

static gboolean
exited (gpointer data)
{
  Term *t = (Term *) data;
  int status;

  return waitpid (t->pid, &status, WNOHANG) == t->pid;
}

static void
term_stop (Term *t)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_MS * 1000;
  gboolean done;

  while (!(done = exited (t)) && g_get_monotonic_time () < deadline)
    {
      struct pollfd pfd = { .fd = t->master, .events = POLLIN };
      gchar buffer[4096];

      if (poll (&pfd, 1, 50) > 0 && read (t->master, buffer, sizeof buffer) < 0 && errno == EIO)
        continue;
    }
  if (!done)
    {
      kill (t->pid, SIGKILL);
      waitpid (t->pid, NULL, 0);
    }
  close (t->master);
  g_spawn_close_pid (t->pid);
  g_string_free (t->out, TRUE);
  g_assert_true (done);
}

static void
connect_and_leave (guint16 port)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketConnection) connection = NULL;
  g_autoptr(GError) error = NULL;

  connection = g_socket_client_connect_to_host (client, "127.0.0.1", port, NULL, &error);
  g_assert_no_error (error);
  g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (connection)), "HELLO\n", 6, NULL, NULL, NULL);
  g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
}

static guint
count (const gchar *haystack, const gchar *needle)
{
  guint n = 0;

  for (const gchar *p = strstr (haystack, needle); p != NULL; p = strstr (p + 1, needle))
    n++;
  return n;
}

static gboolean
cleared_more_than (Term *t, gconstpointer data)
{
  return count (t->out->str, "\033[2J") > GPOINTER_TO_UINT (data) && frame_has (t, " > hel");
}

static void
test_typing_survives (void)
{
  Term t = { 0 };
  struct winsize bigger = { .ws_row = 30, .ws_col = 100 };
  guint clears;

  term_start (&t, FALSE);
  g_assert_true (term_wait (&t, listening, NULL));
  g_assert_true (term_wait (&t, frame_has, "evcp-central — port"));
  assert_fits (&t, 80, 24);
  g_assert_true (frame_has (&t, "E M: Engine, Monitor connected"));
  g_assert_true (frame_has (&t, "grey: no Engine")); /* the legend whole, on two lines */

  /* typed, not sent: on the prompt line */
  term_type (&t, "hel");
  g_assert_true (term_wait (&t, frame_has, " > hel"));

  /* an event redraws: the line stays */
  connect_and_leave (t.port);
  g_assert_true (term_wait (&t, frame_has_all, (const gchar * const[]){ "bytes dropped", " > hel", NULL }));

  /* the terminal grows: drawn again at once, at its size */
  clears = count (t.out->str, "\033[2J");
  g_assert_cmpint (ioctl (t.master, TIOCSWINSZ, &bigger), ==, 0);
  g_assert_true (term_wait (&t, cleared_more_than, GUINT_TO_POINTER (clears)));
  assert_fits (&t, 100, 30);

  /* edited in place: "hel" + "xp", ←, Backspace, "l" = "help" */
  term_type (&t, "xp\033[D\177");
  g_assert_true (term_wait (&t, frame_has, " > help"));
  term_type (&t, "\r");
  g_assert_true (term_wait (&t, frame_has_all, (const gchar * const[]){ "OK commands:", " > \033[K", NULL }));

  /* list: a table */
  term_type (&t, "list\r");
  g_assert_true (term_wait (&t, frame_has, "(no charging point)"));
  g_assert_true (frame_has (&t, "TICKETS"));
  g_assert_false (frame_has (&t, "OK {"));

  /* the history: ↑ brings list back */
  term_type (&t, "\033[A");
  g_assert_true (term_wait (&t, frame_has, " > list"));
  term_type (&t, "\025quit\r");
  term_stop (&t);
}

static gboolean
colourless_frame (Term *t, gconstpointer data)
{
  return frame_has (t, "evcp-central — port") && frame_has (t, " > ");
}

static void
test_no_color (void)
{
  Term t = { 0 };

  term_start (&t, TRUE);
  g_assert_true (term_wait (&t, colourless_frame, NULL));
  g_assert_null (strstr (t.out->str, "\033[3"));
  g_assert_null (strstr (t.out->str, "\033[9"));
  assert_fits (&t, 80, 24);
  term_type (&t, "quit\r");
  term_stop (&t);
}

static volatile sig_atomic_t got_sigterm;

static void
on_sigterm (int signum)
{
  got_sigterm = 1;
}

static gboolean
asked_to_stop (Term *t, gconstpointer data)
{
  return got_sigterm && frame_has (t, "stopping the charging points first");
}

/* --quit-by-parent (scripts/demo): `quit` asks the launcher to stop
 * everything in order, and Central keeps running until its turn. */
static void
test_quit_by_parent (void)
{
  Term t = { 0 };
  struct sigaction action = { .sa_handler = on_sigterm }, old;

  sigemptyset (&action.sa_mask);
  g_assert_cmpint (sigaction (SIGTERM, &action, &old), ==, 0);
  term_start_with (&t, FALSE, "--quit-by-parent");
  g_assert_true (term_wait (&t, frame_has, " > "));
  term_type (&t, "quit\r");
  g_assert_true (term_wait (&t, asked_to_stop, NULL));
  /* still there, and still answering */
  g_assert_cmpint (kill (t.pid, 0), ==, 0);
  term_type (&t, "help\r");
  g_assert_true (term_wait (&t, frame_has, "OK commands:"));
  kill (t.pid, SIGTERM);
  term_stop (&t);
  sigaction (SIGTERM, &old, NULL);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/central-panel/typing-survives", test_typing_survives);
  g_test_add_func ("/central-panel/no-color", test_no_color);
  g_test_add_func ("/central-panel/quit-by-parent", test_quit_by_parent);
  return g_test_run ();
}
