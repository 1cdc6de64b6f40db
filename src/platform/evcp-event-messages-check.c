/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* src/platform/evcp-event-messages-check.c: what Event Viewer does with an evcp
 * event, done by hand, so that it can be checked under Wine (whose Event Log
 * keeps no events and has no viewer).
 *
 *   evcp-event-messages-check.exe --module PROGRAM.exe
 *   evcp-event-messages-check.exe --source NAME
 *
 * --module: PROGRAM's message table must turn events 1, 2 and 3 (information,
 * warning, error) with one insertion string into exactly that string.
 * --source: the event source NAME must be registered (HKLM\SYSTEM\
 * CurrentControlSet\Services\EventLog\Application\NAME) with TypesSupported
 * 7 and an EventMessageFile whose message table does the above.
 * Exits 0 when all of it holds, else 1 with a line saying what does not. */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>
#include <wchar.h>

#include "evcp-messages.h"

#define SOURCES_KEY L"SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\"
#define INSERT L"evcp: an event's text, \x00e9\x00e8 included"

static int
check_module (const wchar_t *path)
{
  static const DWORD ids[] = { EVCP_MSG_INFORMATION, EVCP_MSG_WARNING, EVCP_MSG_ERROR };
  HMODULE module = LoadLibraryExW (path, NULL, LOAD_LIBRARY_AS_DATAFILE);
  int failures = 0;

  if (module == NULL)
    {
      fwprintf (stderr, L"cannot load %ls: error %lu\n", path, GetLastError ());
      return 1;
    }
  for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
    {
      wchar_t text[512];
      const wchar_t *insert = INSERT;
      DWORD n = FormatMessageW (FORMAT_MESSAGE_FROM_HMODULE | FORMAT_MESSAGE_ARGUMENT_ARRAY,
                                module, ids[i], MAKELANGID (LANG_ENGLISH, SUBLANG_ENGLISH_US),
                                text, sizeof text / sizeof text[0], (va_list *) &insert);

      if (n == 0)
        {
          fwprintf (stderr, L"%ls: no message %lu (error %lu)\n", path, ids[i], GetLastError ());
          failures++;
        }
      else if (wcscmp (text, INSERT) != 0)
        {
          fwprintf (stderr, L"%ls: message %lu is \"%ls\", not the insertion string\n", path,
                    ids[i], text);
          failures++;
        }
    }
  FreeLibrary (module);
  if (failures == 0)
    wprintf (L"%ls: messages 1, 2, 3 give their insertion string\n", path);
  return failures == 0 ? 0 : 1;
}

static int
check_source (const wchar_t *name)
{
  wchar_t key[512], file[MAX_PATH], expanded[MAX_PATH];
  DWORD size = sizeof file, types = 0, types_size = sizeof types;
  LSTATUS status;

  swprintf (key, sizeof key / sizeof key[0], L"%ls%ls", SOURCES_KEY, name);
  status = RegGetValueW (HKEY_LOCAL_MACHINE, key, L"EventMessageFile",
                         RRF_RT_REG_SZ | RRF_RT_REG_EXPAND_SZ | RRF_NOEXPAND, NULL, file, &size);
  if (status != ERROR_SUCCESS)
    {
      fwprintf (stderr, L"HKLM\\%ls: no EventMessageFile (error %ld)\n", key, (long) status);
      return 1;
    }
  status = RegGetValueW (HKEY_LOCAL_MACHINE, key, L"TypesSupported", RRF_RT_REG_DWORD, NULL,
                         &types, &types_size);
  if (status != ERROR_SUCCESS || types != 7)
    {
      fwprintf (stderr, L"HKLM\\%ls: TypesSupported is not 7\n", key);
      return 1;
    }
  if (ExpandEnvironmentStringsW (file, expanded, MAX_PATH) == 0)
    return 1;
  wprintf (L"the event source %ls: EventMessageFile %ls\n", name, expanded);
  return check_module (expanded);
}

int wmain (int argc, wchar_t **argv);

int
wmain (int argc, wchar_t **argv)
{
  if (argc == 3 && wcscmp (argv[1], L"--module") == 0)
    return check_module (argv[2]);
  if (argc == 3 && wcscmp (argv[1], L"--source") == 0)
    return check_source (argv[2]);
  fwprintf (stderr, L"usage: %ls --module PROGRAM.exe | --source NAME\n", argv[0]);
  return 2;
}
