/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "evcp-build-config.h"

#include "evcp-i18n.h"

#include <locale.h>

#include <glib/gi18n-lib.h>

const gchar *
evcp_i18n_localedir (void)
{
  const gchar *dir = g_getenv ("EVCP_LOCALEDIR");

  if (dir != NULL && *dir != '\0')
    return dir;
#ifdef G_OS_WIN32
  /* wherever the installer put the programs: share\locale beside them */
  {
    static gchar *installed;

    if (g_once_init_enter (&installed))
      {
        g_autofree gchar *top = g_win32_get_package_installation_directory_of_module (NULL);

        g_once_init_leave (&installed, g_build_filename (top, "share", "locale", NULL));
      }
    return installed;
  }
#else
  return EVCP_LOCALEDIR;
#endif
}

void
evcp_i18n_init (void)
{
  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, evcp_i18n_localedir ());
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);
}

void
evcp_i18n_untranslated (void)
{
#ifdef G_OS_WIN32
  /* no LC_MESSAGES in the C runtime: a language without a catalog, whose
   * messages are the msgids */
  g_setenv ("LANGUAGE", "en", TRUE);
#else
  /* gettext ignores LANGUAGE when LC_MESSAGES is "C": the msgids, English */
  setlocale (LC_MESSAGES, "C");
#endif
}
