#include "evcp-build-config.h"

#include <signal.h>
#include <stdlib.h>
#include <termios.h>
#include <unistd.h>

#include <glib-unix.h>

#include "evcp-platform.h"

void
evcp_platform_watch_shutdown (GSourceFunc func, gpointer user_data)
{
  g_unix_signal_add (SIGINT, func, user_data);
  g_unix_signal_add (SIGTERM, func, user_data);
  /* A closed Central or Kafka socket must never kill the process. */
  signal (SIGPIPE, SIG_IGN);
}

gchar *
evcp_platform_default_state_dir (const gchar *program)
{
  const gchar *dir = g_getenv ("STATE_DIRECTORY"); /* systemd StateDirectory= */

  if (dir != NULL && *dir != '\0')
    return g_strdup (dir);
  if (getuid () == 0)
    return g_build_filename (EVCP_LOCALSTATEDIR, program, NULL);
  return g_build_filename (g_get_user_state_dir (), "evcp", program, NULL);
}

gboolean
evcp_platform_stdin_is_tty (void)
{
  return isatty (STDIN_FILENO);
}

static struct termios saved_termios;
static gboolean termios_saved;

static void
restore_terminal (void)
{
  if (termios_saved)
    tcsetattr (STDIN_FILENO, TCSANOW, &saved_termios);
}

typedef struct {
  EvcpKeyFunc func;
  gpointer    user_data;
} KeyWatch;

static gboolean
on_stdin (gint fd, GIOCondition condition, gpointer user_data)
{
  KeyWatch *watch = user_data;
  gchar buf[16];
  gssize n;

  if (condition & (G_IO_HUP | G_IO_ERR))
    return G_SOURCE_REMOVE;
  n = read (fd, buf, sizeof buf);
  if (n <= 0)
    return G_SOURCE_REMOVE;
  for (gssize i = 0; i < n; i++)
    watch->func (buf[i], watch->user_data);
  return G_SOURCE_CONTINUE;
}

gboolean
evcp_platform_watch_keys (EvcpKeyFunc func, gpointer user_data)
{
  struct termios raw;
  KeyWatch *watch;

  if (!isatty (STDIN_FILENO) || tcgetattr (STDIN_FILENO, &saved_termios) != 0)
    return FALSE;
  termios_saved = TRUE;
  atexit (restore_terminal);
  raw = saved_termios;
  raw.c_lflag &= ~(ICANON | ECHO);   /* keys at once, not echoed; Ctrl-C still signals */
  raw.c_cc[VMIN] = 1;
  raw.c_cc[VTIME] = 0;
  tcsetattr (STDIN_FILENO, TCSANOW, &raw);

  watch = g_new0 (KeyWatch, 1);
  watch->func = func;
  watch->user_data = user_data;
  g_unix_fd_add_full (G_PRIORITY_DEFAULT, STDIN_FILENO, G_IO_IN | G_IO_HUP | G_IO_ERR,
                      on_stdin, watch, g_free);
  return TRUE;
}

void
evcp_platform_watch_operator_signals (GSourceFunc on_fault, GSourceFunc on_clear, gpointer user_data)
{
  g_unix_signal_add (SIGUSR1, on_fault, user_data);
  g_unix_signal_add (SIGUSR2, on_clear, user_data);
}
