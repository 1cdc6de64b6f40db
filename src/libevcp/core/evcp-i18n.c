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

/* gettext ignores LANGUAGE when LC_MESSAGES is "C": the msgids, English. */
void
evcp_i18n_untranslated (void)
{
  setlocale (LC_MESSAGES, "C");
}
