/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "evcp-dbus-error.h"

static const GDBusErrorEntry evcp_dbus_error_entries[] = {
  { EVCP_DBUS_ERROR_FAILED,       "org.evcp.Error.Failed" },
  { EVCP_DBUS_ERROR_NOT_FOUND,    "org.evcp.Error.NotFound" },
  { EVCP_DBUS_ERROR_INVALID_ARGS, "org.evcp.Error.InvalidArgs" },
  { EVCP_DBUS_ERROR_NO_SESSION,   "org.evcp.Error.NoSession" },
};

G_STATIC_ASSERT (G_N_ELEMENTS (evcp_dbus_error_entries) == EVCP_DBUS_N_ERRORS);

GQuark
evcp_dbus_error_quark (void)
{
  static gsize quark = 0;

  g_dbus_error_register_error_domain ("evcp-dbus-error-quark", &quark,
                                      evcp_dbus_error_entries,
                                      G_N_ELEMENTS (evcp_dbus_error_entries));
  return (GQuark) quark;
}
