/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "evcp-build-config.h"

#include <glib/gi18n-lib.h>

#include "evcp-dbus-error.h"
#include "evcp-dbus-log.h"
#include "evcp-log.h"

gboolean
evcp_dbus_set_log_level (GDBusMethodInvocation *invocation, const gchar *name)
{
  const gchar *sender = g_dbus_method_invocation_get_sender (invocation);
  EvcpLogLevel level;

  if (!evcp_log_level_from_string (name, &level))
    {
      g_dbus_method_invocation_return_error (invocation, EVCP_DBUS_ERROR, EVCP_DBUS_ERROR_INVALID_ARGS,
                                             _("Unknown log level “%s”: use one of %s"), name,
                                             evcp_log_level_names ());
      return FALSE;
    }
  /* said at the old level and at the new one, so that the journal shows it */
  g_message (_("D-Bus: %s sets the log level to %s"), sender != NULL ? sender : _("a peer"),
             evcp_log_level_to_string (level));
  evcp_log_set_level (level);
  return TRUE;
}

const gchar *
evcp_dbus_log_level (void)
{
  return evcp_log_level_to_string (evcp_log_get_level ());
}
