/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Windows entry point of evcp's programs (evcp-engine.exe): main()
 * dispatches to the Service Control Manager and runs the program's own main
 * (compiled as evcp_service_program_main, see evcp-service.h) as the service;
 * when the SCM did not start the process, it runs it in the console.
 *
 *   evcp-engine.exe --install [--service-name NAME] [--log-file FILE]
 *                   [--manual] [PROGRAM OPTIONS…]
 *   evcp-engine.exe --uninstall [--service-name NAME]
 *   evcp-engine.exe --purge [--service-name NAME]   (its state and log file)
 *   evcp-engine.exe --purge-all                     (all of %ProgramData%\evcp)
 *   evcp-engine.exe [PROGRAM OPTIONS…]          (console; Ctrl+C stops it)
 *
 * As a service: the status goes START_PENDING, then RUNNING once the
 * program's main loop runs, then STOP_PENDING and STOPPED; SERVICE_CONTROL_STOP
 * and SHUTDOWN set the process's shutdown event, which the main loop turns
 * into the program's own shutdown (src/platform/evcp-platform-win32.c), so
 * the same clean shutdown runs as on Linux. Messages go to the Windows Event
 * Log (source: the service's name, whose message table, src/platform/evcp-messages.mc,
 * is a resource of this program: --install registers it, --uninstall removes
 * it) and, with --log-file, to that file too.
 * State lives in %ProgramData%\evcp\<service> (STATE_DIRECTORY). */
#include "evcp-build-config.h"

#include <windows.h>
#include <winsvc.h>
#include <tlhelp32.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>

#include "evcp-messages.h"   /* windmc's, from src/platform/evcp-messages.mc */
#include "evcp-platform-win32.h"
#include "evcp-service.h"

#define START_WAIT_HINT_MS 30000
#define STOP_WAIT_HINT_MS  30000

static struct {
  int                    argc;
  char                 **argv;
  gchar                 *name;        /* the service's name */
  gchar                 *log_file;
  SERVICE_STATUS_HANDLE  status_handle;
  SERVICE_STATUS         status;
  HANDLE                 event_source;
  FILE                  *log;
  GMutex                 lock;
  int                    exit_code;
} service;

/* --- options of this entry point (removed before the program sees argv) - */

typedef struct {
  gboolean install;
  gboolean uninstall;
  gboolean purge;
  gboolean purge_all;
  gboolean manual;
  gchar   *name;
  gchar   *log_file;
} ServiceOptions;

static gboolean
take_value (int *argc, char **argv, int i, const char *option, gchar **value)
{
  size_t len = strlen (option);

  if (strncmp (argv[i], option, len) != 0)
    return FALSE;
  if (argv[i][len] == '=')
    {
      g_free (*value);
      *value = g_strdup (argv[i] + len + 1);
      memmove (&argv[i], &argv[i + 1], (*argc - i) * sizeof (char *));
      *argc -= 1;
      return TRUE;
    }
  if (argv[i][len] == '\0' && i + 1 < *argc)
    {
      g_free (*value);
      *value = g_strdup (argv[i + 1]);
      memmove (&argv[i], &argv[i + 2], (*argc - i - 1) * sizeof (char *));
      *argc -= 2;
      return TRUE;
    }
  return FALSE;
}

static gboolean
take_flag (int *argc, char **argv, int i, const char *option, gboolean *flag)
{
  if (strcmp (argv[i], option) != 0)
    return FALSE;
  *flag = TRUE;
  memmove (&argv[i], &argv[i + 1], (*argc - i) * sizeof (char *));
  *argc -= 1;
  return TRUE;
}

static void
parse_service_options (int *argc, char **argv, ServiceOptions *options)
{
  int i = 1;

  while (i < *argc)
    {
      if (strcmp (argv[i], "--") == 0)
        break;
      if (!take_flag (argc, argv, i, "--install", &options->install) &&
          !take_flag (argc, argv, i, "--uninstall", &options->uninstall) &&
          !take_flag (argc, argv, i, "--purge", &options->purge) &&
          !take_flag (argc, argv, i, "--purge-all", &options->purge_all) &&
          !take_flag (argc, argv, i, "--manual", &options->manual) &&
          !take_value (argc, argv, i, "--service-name", &options->name) &&
          !take_value (argc, argv, i, "--log-file", &options->log_file))
        i++;
    }
}

/* "evcp-engine" for C:\…\evcp-engine.exe */
static gchar *
program_name (void)
{
  wchar_t path[MAX_PATH];
  g_autofree gchar *utf8 = NULL;
  g_autofree gchar *base = NULL;
  gchar *dot;

  if (GetModuleFileNameW (NULL, path, G_N_ELEMENTS (path)) == 0)
    return g_strdup ("evcp");
  utf8 = g_utf16_to_utf8 (path, -1, NULL, NULL, NULL);
  base = g_path_get_basename (utf8);
  dot = strrchr (base, '.');
  if (dot != NULL && g_ascii_strcasecmp (dot, ".exe") == 0)
    *dot = '\0';
  return g_steal_pointer (&base);
}

/* --- logging: the Event Log, and a file ----------------------------------- */

static GLogWriterOutput
event_log_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  const gchar *domain = NULL;
  const gchar *message = NULL;
  g_autofree gchar *text = NULL;
  g_autofree gunichar2 *wtext = NULL;
  WORD type;
  DWORD id;

  if (g_log_writer_default_would_drop (level, NULL))
    {
      for (gsize i = 0; i < n_fields; i++)
        if (g_strcmp0 (fields[i].key, "GLIB_DOMAIN") == 0)
          domain = fields[i].value;
      if (g_log_writer_default_would_drop (level, domain))
        return G_LOG_WRITER_HANDLED;
    }
  for (gsize i = 0; i < n_fields; i++)
    {
      if (g_strcmp0 (fields[i].key, "GLIB_DOMAIN") == 0)
        domain = fields[i].value;
      else if (g_strcmp0 (fields[i].key, "MESSAGE") == 0)
        message = fields[i].value;
    }
  text = g_strdup_printf ("%s%s%s", domain != NULL ? domain : "", domain != NULL ? ": " : "",
                          message != NULL ? message : "");

  if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
    type = EVENTLOG_ERROR_TYPE, id = EVCP_MSG_ERROR;
  else if (level & G_LOG_LEVEL_WARNING)
    type = EVENTLOG_WARNING_TYPE, id = EVCP_MSG_WARNING;
  else
    type = EVENTLOG_INFORMATION_TYPE, id = EVCP_MSG_INFORMATION;

  g_mutex_lock (&service.lock);
  if (service.event_source != NULL)
    {
      const wchar_t *strings[1];

      wtext = g_utf8_to_utf16 (text, -1, NULL, NULL, NULL);
      strings[0] = (const wchar_t *) wtext;
      ReportEventW (service.event_source, type, 0, id, NULL, 1, 0, strings, NULL);
    }
  if (service.log != NULL)
    {
      g_autoptr(GDateTime) now = g_date_time_new_now_local ();
      g_autofree gchar *stamp = g_date_time_format (now, "%Y-%m-%d %H:%M:%S");

      fprintf (service.log, "%s.%03d %s\n", stamp, g_date_time_get_microsecond (now) / 1000, text);
      fflush (service.log);
    }
  g_mutex_unlock (&service.lock);
  return G_LOG_WRITER_HANDLED;
}

/* --- the service ---------------------------------------------------------- */

static void
report_status (DWORD state, DWORD exit_code, DWORD wait_hint)
{
  static DWORD checkpoint = 1;

  service.status.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
  service.status.dwCurrentState = state;
  service.status.dwWaitHint = wait_hint;
  if (exit_code != 0)
    {
      service.status.dwWin32ExitCode = ERROR_SERVICE_SPECIFIC_ERROR;
      service.status.dwServiceSpecificExitCode = exit_code;
    }
  else
    {
      service.status.dwWin32ExitCode = NO_ERROR;
      service.status.dwServiceSpecificExitCode = 0;
    }
  service.status.dwControlsAccepted =
    state == SERVICE_RUNNING ? SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN : 0;
  service.status.dwCheckPoint =
    (state == SERVICE_RUNNING || state == SERVICE_STOPPED) ? 0 : checkpoint++;
  SetServiceStatus (service.status_handle, &service.status);
}

/* The shutdown event of this process: what Ctrl+C sets in the console. */
static void
request_shutdown (void)
{
  g_autofree gchar *name = evcp_platform_win32_event_name (EVCP_PLATFORM_WIN32_SHUTDOWN_EVENT,
                                                           GetCurrentProcessId ());
  g_autofree gunichar2 *wname = g_utf8_to_utf16 (name, -1, NULL, NULL, NULL);
  HANDLE event = CreateEventW (NULL, TRUE, FALSE, wname);

  if (event != NULL)
    {
      SetEvent (event);
      CloseHandle (event);
    }
}

static DWORD WINAPI
control_handler (DWORD control, DWORD event_type, LPVOID event_data, LPVOID context)
{
  switch (control)
    {
    case SERVICE_CONTROL_STOP:
    case SERVICE_CONTROL_SHUTDOWN:
      g_message ("%s: %s", service.name,
                 control == SERVICE_CONTROL_STOP ? "stop requested by the service manager"
                                                 : "system shutdown");
      report_status (SERVICE_STOP_PENDING, 0, STOP_WAIT_HINT_MS);
      request_shutdown ();
      return NO_ERROR;
    case SERVICE_CONTROL_INTERROGATE:
      return NO_ERROR;
    default:
      return ERROR_CALL_NOT_IMPLEMENTED;
    }
}

static DWORD WINAPI
program_thread (LPVOID data)
{
  service.exit_code = evcp_service_program_main (service.argc, service.argv);
  return 0;
}

static void WINAPI
service_main (DWORD argc, LPWSTR *argv)
{
  g_autofree gunichar2 *wname = g_utf8_to_utf16 (service.name, -1, NULL, NULL, NULL);
  g_autofree gchar *running_name = NULL;
  g_autofree gchar *state_dir = NULL;
  g_autofree gchar *data_dir = NULL;
  HANDLE running, thread, handles[2];
  DWORD which;

  service.status_handle = RegisterServiceCtrlHandlerExW ((LPCWSTR) wname, control_handler, NULL);
  if (service.status_handle == NULL)
    return;
  report_status (SERVICE_START_PENDING, 0, START_WAIT_HINT_MS);

  service.event_source = RegisterEventSourceW (NULL, (LPCWSTR) wname);
  if (service.log_file != NULL)
    service.log = g_fopen (service.log_file, "a");
  g_log_set_writer_func (event_log_writer, NULL, NULL);

  /* Configuration and state where Windows services keep them. */
  data_dir = evcp_platform_win32_program_data_dir ();
  state_dir = g_build_filename (data_dir, service.name, NULL);
  g_mkdir_with_parents (state_dir, 0700);
  if (g_getenv ("STATE_DIRECTORY") == NULL)
    g_setenv ("STATE_DIRECTORY", state_dir, TRUE);

  running_name = evcp_platform_win32_event_name (EVCP_PLATFORM_WIN32_RUNNING_EVENT,
                                                 GetCurrentProcessId ());
  {
    g_autofree gunichar2 *w = g_utf8_to_utf16 (running_name, -1, NULL, NULL, NULL);
    running = CreateEventW (NULL, TRUE, FALSE, w);
  }
  g_message ("%s: starting (state in %s)", service.name, g_getenv ("STATE_DIRECTORY"));

  thread = CreateThread (NULL, 0, program_thread, NULL, 0, NULL);
  if (thread == NULL)
    {
      g_critical ("%s: CreateThread: %s", service.name, g_win32_error_message (GetLastError ()));
      report_status (SERVICE_STOPPED, 1, 0);
      return;
    }
  handles[0] = thread;
  handles[1] = running;
  which = WaitForMultipleObjects (running != NULL ? 2 : 1, handles, FALSE, INFINITE);
  if (which == WAIT_OBJECT_0 + 1)
    {
      report_status (SERVICE_RUNNING, 0, 0);
      g_message ("%s: running", service.name);
      WaitForSingleObject (thread, INFINITE);
    }
  CloseHandle (thread);
  if (running != NULL)
    CloseHandle (running);

  g_message ("%s: stopped (exit code %d)", service.name, service.exit_code);
  g_mutex_lock (&service.lock);
  if (service.event_source != NULL)
    DeregisterEventSource (service.event_source);
  service.event_source = NULL;
  if (service.log != NULL)
    fclose (service.log);
  service.log = NULL;
  g_mutex_unlock (&service.lock);
  report_status (SERVICE_STOPPED, service.exit_code, 0);
}

/* --- install, uninstall -------------------------------------------------- */

/* A command line argument, quoted as CommandLineToArgvW and the CRT read it. */
static void
append_quoted (GString *line, const gchar *arg)
{
  guint backslashes = 0;

  if (line->len > 0)
    g_string_append_c (line, ' ');
  if (*arg != '\0' && strpbrk (arg, " \t\n\v\"") == NULL)
    {
      g_string_append (line, arg);
      return;
    }
  g_string_append_c (line, '"');
  for (const gchar *p = arg; *p != '\0'; p++)
    {
      if (*p == '\\')
        {
          backslashes++;
          continue;
        }
      if (*p == '"')
        backslashes = backslashes * 2 + 1;
      for (; backslashes > 0; backslashes--)
        g_string_append_c (line, '\\');
      g_string_append_c (line, *p);
    }
  for (backslashes *= 2; backslashes > 0; backslashes--)
    g_string_append_c (line, '\\');
  g_string_append_c (line, '"');
}

/* The event source of the service: its messages are this program's. */
#define EVENT_SOURCES_KEY "SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\"

static gunichar2 *
event_source_key (void)
{
  g_autofree gchar *key = g_strconcat (EVENT_SOURCES_KEY, service.name, NULL);

  return g_utf8_to_utf16 (key, -1, NULL, NULL, NULL);
}

static gboolean
register_event_source (const wchar_t *program)
{
  g_autofree gunichar2 *key = event_source_key ();
  DWORD types = EVENTLOG_ERROR_TYPE | EVENTLOG_WARNING_TYPE | EVENTLOG_INFORMATION_TYPE;
  HKEY handle;
  LSTATUS status;

  status = RegCreateKeyExW (HKEY_LOCAL_MACHINE, (LPCWSTR) key, 0, NULL, 0, KEY_SET_VALUE, NULL,
                            &handle, NULL);
  if (status == ERROR_SUCCESS)
    {
      status = RegSetValueExW (handle, L"EventMessageFile", 0, REG_EXPAND_SZ, (const BYTE *) program,
                               (wcslen (program) + 1) * sizeof (wchar_t));
      if (status == ERROR_SUCCESS)
        status = RegSetValueExW (handle, L"TypesSupported", 0, REG_DWORD, (const BYTE *) &types,
                                 sizeof types);
      RegCloseKey (handle);
    }
  if (status != ERROR_SUCCESS)
    g_printerr (_("The event source %s: %s\n"), service.name, g_win32_error_message (status));
  return status == ERROR_SUCCESS;
}

static void
unregister_event_source (void)
{
  g_autofree gunichar2 *key = event_source_key ();
  LSTATUS status = RegDeleteKeyW (HKEY_LOCAL_MACHINE, (LPCWSTR) key);

  if (status != ERROR_SUCCESS && status != ERROR_FILE_NOT_FOUND)
    g_printerr (_("The event source %s: %s\n"), service.name, g_win32_error_message (status));
}

static int
install (const ServiceOptions *options, int argc, char **argv)
{
  wchar_t wpath[MAX_PATH];
  g_autofree gchar *path = NULL;
  g_autofree gchar *data_dir = evcp_platform_win32_program_data_dir ();
  g_autofree gchar *default_config = g_build_filename (data_dir, "evcp.conf", NULL);
  g_autoptr(GString) line = g_string_new (NULL);
  g_autofree gunichar2 *wline = NULL;
  g_autofree gunichar2 *wname = g_utf8_to_utf16 (service.name, -1, NULL, NULL, NULL);
  g_autofree gchar *display = g_strdup_printf ("evcp (%s)", service.name);
  g_autofree gunichar2 *wdisplay = g_utf8_to_utf16 (display, -1, NULL, NULL, NULL);
  g_autofree gunichar2 *wdescription =
    g_utf8_to_utf16 ("evcp: the software of an electric-vehicle charging point", -1, NULL, NULL, NULL);
  SERVICE_DESCRIPTIONW description = { (LPWSTR) wdescription };
  gboolean has_config = FALSE;
  SC_HANDLE manager, handle;

  if (GetModuleFileNameW (NULL, wpath, G_N_ELEMENTS (wpath)) == 0)
    return EXIT_FAILURE;
  path = g_utf16_to_utf8 (wpath, -1, NULL, NULL, NULL);
  append_quoted (line, path);
  if (options->name != NULL)
    {
      append_quoted (line, "--service-name");
      append_quoted (line, options->name);
    }
  if (options->log_file != NULL)
    {
      append_quoted (line, "--log-file");
      append_quoted (line, options->log_file);
    }
  for (int i = 1; i < argc; i++)
    {
      if (strcmp (argv[i], "--config") == 0 || strncmp (argv[i], "--config=", 9) == 0 ||
          strcmp (argv[i], "-c") == 0)
        has_config = TRUE;
      append_quoted (line, argv[i]);
    }
  /* The CP's configuration: the options given, else %ProgramData%\evcp\evcp.conf. */
  g_mkdir_with_parents (data_dir, 0755);
  if (!has_config && g_file_test (default_config, G_FILE_TEST_EXISTS))
    {
      append_quoted (line, "--config");
      append_quoted (line, default_config);
    }
  wline = g_utf8_to_utf16 (line->str, -1, NULL, NULL, NULL);

  manager = OpenSCManagerW (NULL, NULL, SC_MANAGER_CREATE_SERVICE);
  if (manager == NULL)
    {
      g_printerr ("OpenSCManager: %s\n", g_win32_error_message (GetLastError ()));
      return EXIT_FAILURE;
    }
  handle = CreateServiceW (manager, (LPCWSTR) wname, (LPCWSTR) wdisplay, SERVICE_ALL_ACCESS,
                           SERVICE_WIN32_OWN_PROCESS,
                           options->manual ? SERVICE_DEMAND_START : SERVICE_AUTO_START,
                           SERVICE_ERROR_NORMAL, (LPCWSTR) wline, NULL, NULL, L"Tcpip\0\0", NULL, NULL);
  if (handle == NULL)
    {
      g_printerr ("CreateService %s: %s\n", service.name, g_win32_error_message (GetLastError ()));
      CloseServiceHandle (manager);
      return EXIT_FAILURE;
    }
  ChangeServiceConfig2W (handle, SERVICE_CONFIG_DESCRIPTION, &description);
  if (!register_event_source (wpath))
    {
      DeleteService (handle);
      CloseServiceHandle (handle);
      CloseServiceHandle (manager);
      return EXIT_FAILURE;
    }
  g_print (_("Installed the service %s: %s\n"), service.name, line->str);
  g_print (_("State and configuration: %s\n"), data_dir);
  CloseServiceHandle (handle);
  CloseServiceHandle (manager);
  return EXIT_SUCCESS;
}

static int
uninstall (void)
{
  g_autofree gunichar2 *wname = g_utf8_to_utf16 (service.name, -1, NULL, NULL, NULL);
  SERVICE_STATUS status;
  SC_HANDLE manager, handle;
  gboolean ok;

  manager = OpenSCManagerW (NULL, NULL, SC_MANAGER_CONNECT);
  if (manager == NULL)
    {
      g_printerr ("OpenSCManager: %s\n", g_win32_error_message (GetLastError ()));
      return EXIT_FAILURE;
    }
  handle = OpenServiceW (manager, (LPCWSTR) wname, SERVICE_STOP | SERVICE_QUERY_STATUS | DELETE);
  if (handle == NULL)
    {
      g_printerr ("OpenService %s: %s\n", service.name, g_win32_error_message (GetLastError ()));
      CloseServiceHandle (manager);
      return EXIT_FAILURE;
    }
  /* Stopped first, then deleted. */
  if (ControlService (handle, SERVICE_CONTROL_STOP, &status))
    for (int i = 0; i < 300 && QueryServiceStatus (handle, &status) &&
                    status.dwCurrentState != SERVICE_STOPPED; i++)
      Sleep (100);
  ok = DeleteService (handle);
  if (!ok)
    g_printerr ("DeleteService %s: %s\n", service.name, g_win32_error_message (GetLastError ()));
  else
    {
      unregister_event_source ();
      g_print (_("Removed the service %s\n"), service.name);
    }
  CloseServiceHandle (handle);
  CloseServiceHandle (manager);
  return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* --- purge: what the service left in %ProgramData%\evcp ------------------ */

static gboolean
remove_tree (const gchar *path)
{
  gboolean ok = TRUE;

  if (g_file_test (path, G_FILE_TEST_IS_DIR) && !g_file_test (path, G_FILE_TEST_IS_SYMLINK))
    {
      g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
      const gchar *name;

      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree gchar *child = g_build_filename (path, name, NULL);

          ok = remove_tree (child) && ok;
        }
      if (g_rmdir (path) != 0)
        {
          g_printerr (_("Cannot remove %s: %s\n"), path, g_strerror (errno));
          return FALSE;
        }
      return ok;
    }
  if (g_remove (path) != 0 && errno != ENOENT)
    {
      g_printerr (_("Cannot remove %s: %s\n"), path, g_strerror (errno));
      return FALSE;
    }
  return TRUE;
}

/* The service's state (%ProgramData%\evcp\<service>\) and its log file
 * (%ProgramData%\evcp\<service>.log, where the MSI's services write it). */
static int
purge (void)
{
  g_autofree gchar *data_dir = evcp_platform_win32_program_data_dir ();
  g_autofree gchar *state_dir = NULL;
  g_autofree gchar *log_file = NULL;
  gboolean ok;

  if (service.name[0] == '\0' || strpbrk (service.name, "\\/:") != NULL ||
      strcmp (service.name, ".") == 0 || strcmp (service.name, "..") == 0)
    {
      g_printerr ("--purge: not a service name: %s\n", service.name);
      return EXIT_FAILURE;
    }
  state_dir = g_build_filename (data_dir, service.name, NULL);
  log_file = g_strconcat (state_dir, ".log", NULL);
  ok = remove_tree (state_dir);
  ok = remove_tree (log_file) && ok;
  if (ok)
    g_print ("Removed %s and %s\n", state_dir, log_file);
  return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* All of %ProgramData%\evcp: the configuration, every service's state and
 * log. What the MSI's uninstall runs (not its upgrade), which has no other
 * way to remove files that it did not install or that it keeps across
 * upgrades (the configuration). */
static int
purge_all (void)
{
  g_autofree gchar *data_dir = evcp_platform_win32_program_data_dir ();

  if (!remove_tree (data_dir))
    return EXIT_FAILURE;
  g_print ("Removed %s\n", data_dir);
  return EXIT_SUCCESS;
}

/* Whether services.exe started this process (a service's parent is always
 * the running services.exe). When it did not, the console run starts at
 * once: StartServiceCtrlDispatcher would fail anyway, but Wine takes ten
 * seconds to say so. When it cannot be told, the dispatcher decides. */
static gboolean
maybe_started_by_scm (void)
{
  PROCESSENTRY32W entry = { .dwSize = sizeof entry };
  DWORD self = GetCurrentProcessId (), parent = 0;
  gboolean found_parent = FALSE, is_services = FALSE;
  HANDLE snapshot = CreateToolhelp32Snapshot (TH32CS_SNAPPROCESS, 0);

  if (snapshot == INVALID_HANDLE_VALUE)
    return TRUE;
  for (BOOL ok = Process32FirstW (snapshot, &entry); ok; ok = Process32NextW (snapshot, &entry))
    if (entry.th32ProcessID == self)
      {
        parent = entry.th32ParentProcessID;
        break;
      }
  entry.dwSize = sizeof entry;
  for (BOOL ok = parent != 0 && Process32FirstW (snapshot, &entry); ok;
       ok = Process32NextW (snapshot, &entry))
    if (entry.th32ProcessID == parent)
      {
        found_parent = TRUE;
        is_services = _wcsicmp (entry.szExeFile, L"services.exe") == 0;
        break;
      }
  CloseHandle (snapshot);
  return found_parent && is_services;
}

/* --- main ----------------------------------------------------------------- */

#ifdef main
#undef main
#endif

int
main (int argc, char **argv)
{
  ServiceOptions options = { 0 };
  g_autofree gunichar2 *wname = NULL;
  SERVICE_TABLE_ENTRYW table[2] = { { 0 } };

  g_mutex_init (&service.lock);
  parse_service_options (&argc, argv, &options);
  service.name = options.name != NULL ? g_strdup (options.name) : program_name ();
  service.log_file = g_strdup (options.log_file);
  service.argc = argc;
  service.argv = argv;

  if (options.install + options.uninstall + options.purge + options.purge_all > 1)
    {
      g_printerr ("--install, --uninstall, --purge and --purge-all: one of them\n");
      return EXIT_FAILURE;
    }
  if (options.install)
    return install (&options, argc, argv);
  if (options.uninstall)
    return uninstall ();
  if (options.purge)
    return purge ();
  if (options.purge_all)
    return purge_all ();

  if (!maybe_started_by_scm ())
    return evcp_service_program_main (argc, argv);
  wname = g_utf8_to_utf16 (service.name, -1, NULL, NULL, NULL);
  table[0].lpServiceName = (LPWSTR) wname;
  table[0].lpServiceProc = service_main;
  if (StartServiceCtrlDispatcherW (table))
    return service.exit_code;
  if (GetLastError () != ERROR_FAILED_SERVICE_CONTROLLER_CONNECT)
    {
      g_printerr ("StartServiceCtrlDispatcher: %s\n", g_win32_error_message (GetLastError ()));
      return EXIT_FAILURE;
    }
  /* Not started by the SCM: a console program, stopped by Ctrl+C. */
  return evcp_service_program_main (argc, argv);
}
