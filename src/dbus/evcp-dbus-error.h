/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define EVCP_DBUS_ERROR (evcp_dbus_error_quark ())

/**
 * EvcpDbusError:
 * @EVCP_DBUS_ERROR_FAILED: org.evcp.Error.Failed: the service could not do
 *   it (the message says why)
 * @EVCP_DBUS_ERROR_NOT_FOUND: org.evcp.Error.NotFound: no object of that
 *   name (a handler)
 * @EVCP_DBUS_ERROR_INVALID_ARGS: org.evcp.Error.InvalidArgs: an argument is
 *   not acceptable (the message says which)
 * @EVCP_DBUS_ERROR_NO_SESSION: org.evcp.Error.NoSession: the operation needs
 *   a supply session and none runs (Unplug)
 *
 * The errors of org.evcp.Engine1 and org.evcp.Monitor1 on the bus. The
 * domain is registered with g_dbus_error_register_error_domain() the first
 * time EVCP_DBUS_ERROR is used, in the services and in clients (evcpctl),
 * so that a reply org.evcp.Error.NotFound becomes a GError of this domain
 * on the client side.
 */
typedef enum {
  EVCP_DBUS_ERROR_FAILED,
  EVCP_DBUS_ERROR_NOT_FOUND,
  EVCP_DBUS_ERROR_INVALID_ARGS,
  EVCP_DBUS_ERROR_NO_SESSION,
} EvcpDbusError;

#define EVCP_DBUS_N_ERRORS (EVCP_DBUS_ERROR_NO_SESSION + 1)

GQuark evcp_dbus_error_quark (void);

G_END_DECLS
