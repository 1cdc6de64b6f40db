#include "evcp-build-config.h"

#include <signal.h>
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
