/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "evcp-build-config.h"

#include "evcp-i18n.h"

#include <locale.h>

#include <glib/gi18n-lib.h>

const gchar *
evcp_i18n_localedir (void)
{
  const gchar *dir = g_getenv ("EVCP_LOCALEDIR");

  return dir != NULL && *dir != '\0' ? dir : EVCP_LOCALEDIR;
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
