/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Windows: what evcp-platform-posix.c does with signals, termios and
 * getuid, done with console control handlers, named events and the console
 * input buffer. Stop requests from the Service Control Manager arrive the
 * same way as Ctrl+C: src/platform/evcp-service.c sets the process's shutdown event
 * (see evcp-platform-win32.h), and the main context calls the shutdown
 * function, so the same clean shutdown runs as on POSIX. */
#include "evcp-build-config.h"

#include <windows.h>
#include <initguid.h>
#include <knownfolders.h>
#include <shlobj.h>
#include <io.h>
#include <stdio.h>
#include <stdlib.h>

#include <glib.h>

#include "evcp-platform.h"
#include "evcp-platform-win32.h"

/* A GSource that dispatches when a Windows handle is signalled: GLib's
 * Windows poll waits on handles given as GPollFD.fd. */
typedef gboolean (*EvcpHandleFunc) (HANDLE handle, gpointer user_data);

typedef struct {
  GSource  source;
  GPollFD  pollfd;
} HandleSource;

static gboolean
handle_source_check (GSource *source)
{
  return ((HandleSource *) source)->pollfd.revents != 0;
}

static gboolean
handle_source_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  HandleSource *self = (HandleSource *) source;

  if (callback == NULL)
    return G_SOURCE_REMOVE;
  return ((EvcpHandleFunc) (void (*) (void)) callback) ((HANDLE) self->pollfd.fd, user_data);
}

static GSourceFuncs handle_source_funcs = {
  .check = handle_source_check,
  .dispatch = handle_source_dispatch,
};

static guint
handle_add (HANDLE handle, EvcpHandleFunc func, gpointer user_data, GDestroyNotify notify)
{
  GSource *source = g_source_new (&handle_source_funcs, sizeof (HandleSource));
  HandleSource *self = (HandleSource *) source;
  guint id;

  self->pollfd.fd = (gintptr) handle;
  self->pollfd.events = G_IO_IN;
  g_source_add_poll (source, &self->pollfd);
  g_source_set_callback (source, (GSourceFunc) (void (*) (void)) func, user_data, notify);
  g_source_set_static_name (source, "[evcp] Windows handle");
  id = g_source_attach (source, NULL);
  g_source_unref (source);
  return id;
}

/* A manual-reset event named after this process (or shared by name). */
static HANDLE
event_new (const gchar *name)
{
  g_autofree gunichar2 *wname = g_utf8_to_utf16 (name, -1, NULL, NULL, NULL);
  HANDLE event = CreateEventW (NULL, TRUE, FALSE, wname);

  if (event == NULL)
    g_warning ("CreateEvent %s: %s", name, g_win32_error_message (GetLastError ()));
  return event;
}

gchar *
evcp_platform_win32_event_name (const gchar *what, guint32 pid)
{
  return g_strdup_printf ("Local\\evcp-%s-%lu", what, (unsigned long) pid);
}

/* --- shutdown ----------------------------------------------------------- */

typedef struct {
  GSourceFunc func;
  gpointer    user_data;
} Callback;

static HANDLE shutdown_event;

static BOOL WINAPI
on_console_ctrl (DWORD type)
{
  switch (type)
    {
    case CTRL_C_EVENT:
    case CTRL_BREAK_EVENT:
    case CTRL_CLOSE_EVENT:
    case CTRL_SHUTDOWN_EVENT:
      SetEvent (shutdown_event);
      if (type == CTRL_CLOSE_EVENT || type == CTRL_SHUTDOWN_EVENT)
        Sleep (5000);   /* the process ends when this returns: let the main loop finish */
      return TRUE;
    default:
      return FALSE;
    }
}

static gboolean
on_shutdown_event (HANDLE handle, gpointer user_data)
{
  Callback *callback = user_data;

  ResetEvent (handle);
  callback->func (callback->user_data);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_main_loop_running (gpointer user_data)
{
  g_autofree gchar *name = evcp_platform_win32_event_name (EVCP_PLATFORM_WIN32_RUNNING_EVENT,
                                                           GetCurrentProcessId ());
  HANDLE running = event_new (name);

  /* The service entry point reports SERVICE_RUNNING when this is set. */
  if (running != NULL)
    {
      SetEvent (running);
      CloseHandle (running);
    }
  return G_SOURCE_REMOVE;
}

void
evcp_platform_watch_shutdown (GSourceFunc func, gpointer user_data)
{
  g_autofree gchar *name = NULL;
  Callback *callback;

  g_return_if_fail (func != NULL);

  if (shutdown_event == NULL)
    {
      name = evcp_platform_win32_event_name (EVCP_PLATFORM_WIN32_SHUTDOWN_EVENT,
                                             GetCurrentProcessId ());
      shutdown_event = event_new (name);
      if (shutdown_event == NULL)
        return;
      SetConsoleCtrlHandler (on_console_ctrl, TRUE);
      g_idle_add_full (G_PRIORITY_LOW, on_main_loop_running, NULL, NULL);
    }
  callback = g_new0 (Callback, 1);
  callback->func = func;
  callback->user_data = user_data;
  handle_add (shutdown_event, on_shutdown_event, callback, g_free);
}

/* --- paths -------------------------------------------------------------- */

gchar *
evcp_platform_default_state_dir (const gchar *program)
{
  /* Set by src/platform/evcp-service.c for a service: %ProgramData%\evcp\<service>. */
  const gchar *dir = g_getenv ("STATE_DIRECTORY");

  if (dir != NULL && *dir != '\0')
    return g_strdup (dir);
  /* %LOCALAPPDATA%\evcp\<program> */
  return g_build_filename (g_get_user_data_dir (), "evcp", program, NULL);
}

gchar *
evcp_platform_win32_program_data_dir (void)
{
  PWSTR path = NULL;
  g_autofree gchar *dir = NULL;

  /* The known folder, not %ProgramData%: a service's environment may differ. */
  if (SHGetKnownFolderPath (&FOLDERID_ProgramData, 0, NULL, &path) == S_OK)
    dir = g_utf16_to_utf8 ((const gunichar2 *) path, -1, NULL, NULL, NULL);
  CoTaskMemFree (path);
  if (dir == NULL)
    dir = g_strdup (g_getenv ("ProgramData") != NULL ? g_getenv ("ProgramData") : "C:\\ProgramData");
  return g_build_filename (dir, "evcp", NULL);
}

/* --- console keys ------------------------------------------------------- */

gboolean
evcp_platform_stdin_is_tty (void)
{
  DWORD mode;

  return GetConsoleMode (GetStdHandle (STD_INPUT_HANDLE), &mode);
}

typedef struct {
  EvcpKeyFunc func;
  gpointer    user_data;
} KeyWatch;

static DWORD saved_console_mode;
static gboolean console_mode_saved;

static void
restore_console (void)
{
  if (console_mode_saved)
    SetConsoleMode (GetStdHandle (STD_INPUT_HANDLE), saved_console_mode);
}

static gboolean
on_console_input (HANDLE input, gpointer user_data)
{
  KeyWatch *watch = user_data;
  INPUT_RECORD records[16];
  DWORD n = 0;

  if (!GetNumberOfConsoleInputEvents (input, &n))
    return G_SOURCE_REMOVE;
  if (n == 0)
    return G_SOURCE_CONTINUE;
  if (!ReadConsoleInputW (input, records, G_N_ELEMENTS (records), &n))
    return G_SOURCE_REMOVE;
  for (DWORD i = 0; i < n; i++)
    {
      const KEY_EVENT_RECORD *key = &records[i].Event.KeyEvent;

      if (records[i].EventType != KEY_EVENT || !key->bKeyDown)
        continue;
      if (key->uChar.UnicodeChar > 0 && key->uChar.UnicodeChar < 0x80)
        for (WORD r = 0; r < MAX (key->wRepeatCount, 1); r++)
          watch->func ((gchar) key->uChar.UnicodeChar, watch->user_data);
    }
  return G_SOURCE_CONTINUE;
}

gboolean
evcp_platform_watch_keys (EvcpKeyFunc func, gpointer user_data)
{
  HANDLE input = GetStdHandle (STD_INPUT_HANDLE);
  KeyWatch *watch;

  if (input == NULL || input == INVALID_HANDLE_VALUE || !GetConsoleMode (input, &saved_console_mode))
    return FALSE;
  console_mode_saved = TRUE;
  atexit (restore_console);
  /* Keys at once, not echoed; Ctrl+C still reaches the control handler. */
  SetConsoleMode (input, (saved_console_mode & ~(ENABLE_LINE_INPUT | ENABLE_ECHO_INPUT |
                                                 ENABLE_MOUSE_INPUT | ENABLE_WINDOW_INPUT))
                         | ENABLE_PROCESSED_INPUT);
  FlushConsoleInputBuffer (input);

  watch = g_new0 (KeyWatch, 1);
  watch->func = func;
  watch->user_data = user_data;
  handle_add (input, on_console_input, watch, g_free);
  return TRUE;
}

/* --- operator signals ---------------------------------------------------- */

/* POSIX has SIGUSR1/SIGUSR2; here two named events per process:
 * Local\evcp-fault-<pid> and Local\evcp-clear-<pid> (SetEvent from any
 * program of the same session, or of a service's, e.g. PowerShell's
 * [System.Threading.EventWaitHandle]::OpenExisting(...).Set()). */
static gboolean
on_operator_event (HANDLE handle, gpointer user_data)
{
  Callback *callback = user_data;

  ResetEvent (handle);
  callback->func (callback->user_data);
  return G_SOURCE_CONTINUE;
}

static void
watch_operator_event (const gchar *what, GSourceFunc func, gpointer user_data)
{
  g_autofree gchar *name = evcp_platform_win32_event_name (what, GetCurrentProcessId ());
  HANDLE event = event_new (name);
  Callback *callback;

  if (event == NULL)
    return;
  callback = g_new0 (Callback, 1);
  callback->func = func;
  callback->user_data = user_data;
  handle_add (event, on_operator_event, callback, g_free);
}

void
evcp_platform_watch_operator_signals (GSourceFunc on_fault, GSourceFunc on_clear, gpointer user_data)
{
  watch_operator_event ("fault", on_fault, user_data);
  watch_operator_event ("clear", on_clear, user_data);
}

/* --- the service manager, locks ----------------------------------------- */

/* The Service Control Manager hears from src/platform/evcp-service.c (RUNNING once
 * the main loop runs), not through systemd's protocol; it has no watchdog. */
void
evcp_platform_service_ready (const gchar *status)
{
}

void
evcp_platform_service_status (const gchar *status)
{
}

void
evcp_platform_service_stopping (const gchar *status)
{
}

guint64
evcp_platform_watchdog_usec (void)
{
  return 0;
}

struct _EvcpPlatformLock {
  gchar *path;
};

/* Not locked on Windows (no LockFileEx here yet): the Service Control
 * Manager runs a service once, and each service has its own directory. */
EvcpPlatformLock *
evcp_platform_lock_acquire (const gchar *path, gchar **holder, GError **error)
{
  EvcpPlatformLock *lock = g_new0 (EvcpPlatformLock, 1);

  if (holder != NULL)
    *holder = NULL;
  lock->path = g_strdup (path);
  g_debug ("%s: not locked on Windows", path);
  return lock;
}

void
evcp_platform_lock_release (EvcpPlatformLock *lock)
{
  if (lock == NULL)
    return;
  g_free (lock->path);
  g_free (lock);
}
