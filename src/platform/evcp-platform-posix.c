/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "evcp-build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <termios.h>
#include <unistd.h>

#include <glib-unix.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>

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

/* --- the service manager ------------------------------------------------ */

static guint watchdog_source;

/* One datagram to $NOTIFY_SOCKET, never blocking the main loop: a manager
 * that cannot take it loses it (logged for debugging). */
static gboolean
notify_send (const gchar *text)
{
  const gchar *path = g_getenv ("NOTIFY_SOCKET");
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GError) error = NULL;
  gsize len = strlen (text);

  if (path == NULL || *path == '\0')
    return FALSE;
  if (path[0] == '@')
    address = g_unix_socket_address_new_with_type (path + 1, -1, G_UNIX_SOCKET_ADDRESS_ABSTRACT);
  else if (path[0] == '/')
    address = g_unix_socket_address_new (path);
  else
    {
      g_debug ("NOTIFY_SOCKET=%s: not a unix socket, nothing sent", path);
      return FALSE;
    }
  socket = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_DEFAULT, &error);
  if (socket != NULL)
    {
      g_socket_set_blocking (socket, FALSE);
      if (g_socket_send_to (socket, address, text, len, NULL, &error) == (gssize) len)
        return TRUE;
    }
  g_debug ("Cannot notify the service manager at %s: %s", path,
           error != NULL ? error->message : "short write");
  return FALSE;
}

static void
notify_with_status (const gchar *what, const gchar *status)
{
  g_autoptr(GString) text = g_string_new (what);

  if (status != NULL)
    {
      gsize start;

      if (text->len > 0)
        g_string_append_c (text, '\n');
      g_string_append (text, "STATUS=");
      start = text->len;
      g_string_append (text, status);
      for (gsize i = start; i < text->len; i++)
        if (text->str[i] == '\n' || text->str[i] == '\r')
          text->str[i] = ' ';
    }
  notify_send (text->str);
}

guint64
evcp_platform_watchdog_usec (void)
{
  const gchar *usec = g_getenv ("WATCHDOG_USEC");
  const gchar *pid = g_getenv ("WATCHDOG_PID");
  guint64 value = 0;
  guint64 for_pid = 0;

  if (usec == NULL || !g_ascii_string_to_unsigned (usec, 10, 1, G_MAXUINT64, &value, NULL))
    return 0;
  /* meant for another process (a parent that forked this one) */
  if (pid != NULL && *pid != '\0' &&
      (!g_ascii_string_to_unsigned (pid, 10, 1, G_MAXUINT64, &for_pid, NULL) ||
       for_pid != (guint64) getpid ()))
    return 0;
  return value;
}

static gboolean
on_watchdog (gpointer user_data)
{
  notify_send ("WATCHDOG=1");
  return G_SOURCE_CONTINUE;
}

void
evcp_platform_service_ready (const gchar *status)
{
  guint64 usec = evcp_platform_watchdog_usec ();
  GSource *source;

  notify_with_status ("READY=1", status);
  if (usec == 0 || watchdog_source != 0)
    return;
  /* default priority: pinged only while the loop serves its sources */
  source = g_timeout_source_new ((guint) CLAMP (usec / 2000, 1, G_MAXUINT));
  g_source_set_callback (source, on_watchdog, NULL, NULL);
  g_source_set_static_name (source, "[evcp] service watchdog");
  watchdog_source = g_source_attach (source, NULL);
  g_source_unref (source);
}

void
evcp_platform_service_status (const gchar *status)
{
  notify_with_status ("", status);
}

void
evcp_platform_service_stopping (const gchar *status)
{
  if (watchdog_source != 0)
    g_source_remove (watchdog_source);
  watchdog_source = 0;
  notify_with_status ("STOPPING=1", status);
}

/* --- locks -------------------------------------------------------------- */

struct _EvcpPlatformLock {
  int fd;
};

static gchar *
read_holder (int fd)
{
  gchar buf[32];
  ssize_t n = pread (fd, buf, sizeof buf - 1, 0);

  if (n <= 0)
    return NULL;
  buf[n] = '\0';
  g_strstrip (buf);
  return *buf != '\0' ? g_strdup (buf) : NULL;
}

EvcpPlatformLock *
evcp_platform_lock_acquire (const gchar *path, gchar **holder, GError **error)
{
  EvcpPlatformLock *lock;
  gchar pid[24];
  int fd = g_open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  int saved;
  gint len;

  if (holder != NULL)
    *holder = NULL;
  if (fd < 0)
    {
      saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), _("Cannot open %s: %s"), path,
                   g_strerror (saved));
      return NULL;
    }
  if (flock (fd, LOCK_EX | LOCK_NB) != 0)
    {
      saved = errno;
      if (saved == EWOULDBLOCK)
        {
          g_autofree gchar *who = read_holder (fd);

          g_set_error (error, G_IO_ERROR, G_IO_ERROR_BUSY, "%s is held by process %s", path,
                       who != NULL ? who : "(unknown)");
          if (holder != NULL)
            *holder = g_steal_pointer (&who);
        }
      else
        g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), _("Cannot lock %s: %s"), path,
                     g_strerror (saved));
      close (fd);
      return NULL;
    }
  /* the holder's pid, for the message of a process refused */
  len = g_snprintf (pid, sizeof pid, "%ld\n", (long) getpid ());
  if (ftruncate (fd, 0) != 0 || pwrite (fd, pid, (size_t) len, 0) != len)
    g_debug ("Cannot write the pid into %s: %s", path, g_strerror (errno));
  lock = g_new0 (EvcpPlatformLock, 1);
  lock->fd = fd;
  return lock;
}

void
evcp_platform_lock_release (EvcpPlatformLock *lock)
{
  if (lock == NULL)
    return;
  close (lock->fd);   /* releases the flock */
  g_free (lock);
}
