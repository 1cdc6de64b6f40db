#include "evcp-build-config.h"

#include <string.h>

#include "evcp-log.h"

static gchar **
debug_domains (void)
{
  static gsize once = 0;
  static gchar **domains;

  if (g_once_init_enter (&once))
    {
      const gchar *env = g_getenv ("G_MESSAGES_DEBUG");

      domains = g_strsplit_set (env != NULL ? env : "", " ,", -1);
      g_once_init_leave (&once, 1);
    }
  return domains;
}

/* What GLib's default writer would show, without formatting anything. */
gboolean
evcp_log_enabled (GLogLevelFlags level, const gchar *domain)
{
  gchar **domains;

  if ((level & (G_LOG_LEVEL_DEBUG | G_LOG_LEVEL_INFO)) == 0)
    return TRUE;
  if (g_log_get_debug_enabled ())
    return TRUE;
  domains = debug_domains ();
  for (guint i = 0; domains[i] != NULL; i++)
    if (strcmp (domains[i], "all") == 0 || (domain != NULL && strcmp (domains[i], domain) == 0))
      return TRUE;
  return FALSE;
}
