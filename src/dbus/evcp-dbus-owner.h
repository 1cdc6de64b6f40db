/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/*
 * EvcpDbusOwner: puts one exported interface on D-Bus for a service that
 * must keep working without it.
 *
 * On a message bus (session or system), it connects asynchronously, exports
 * the skeleton at the object path, then asks for the bus name (not queued:
 * if another process owns it, that is reported). It never makes the
 * program exit: the connection does not exit on close, and a failure (no
 * bus, the name taken or refused by the bus policy, the bus going away) is
 * logged, reported as "name-lost" and tried again after a capped backoff
 * (1 s doubling to 30 s), until evcp_dbus_owner_stop(). What to do about it
 * (nothing, or exit when the bus was required) is the program's choice.
 *
 * Peer to peer (where there is no bus daemon, e.g. on Windows), it can also
 * serve the same object on an address of its own (evcp_dbus_owner_listen()):
 * clients connect to that address and use no bus name. Only peers of the
 * same user are accepted (EXTERNAL credentials, or DBUS_COOKIE_SHA1, whose
 * keyring only that user can read); ANONYMOUS is refused.
 *
 * Signals:
 *   "name-acquired" (): the object is exported and the name is ours;
 *   "name-lost" (GError *error): the name is not (or no longer) ours:
 *       G_IO_ERROR_CLOSED when the bus connection closed after the name was
 *       acquired, G_IO_ERROR_EXISTS when another process owns the name,
 *       otherwise the error of connecting or of RequestName (a policy
 *       refusal is G_DBUS_ERROR_ACCESS_DENIED).
 */
#define EVCP_TYPE_DBUS_OWNER (evcp_dbus_owner_get_type ())
G_DECLARE_FINAL_TYPE (EvcpDbusOwner, evcp_dbus_owner, EVCP, DBUS_OWNER, GObject)

/**
 * evcp_dbus_owner_new:
 * @skeleton: what to export
 * @object_path: where
 * @bus_type: %G_BUS_TYPE_SESSION or %G_BUS_TYPE_SYSTEM; %G_BUS_TYPE_NONE
 *   for no bus (peer to peer only)
 * @bus_name: (nullable): the well-known name to own on the bus
 */
EvcpDbusOwner   *evcp_dbus_owner_new            (GDBusInterfaceSkeleton *skeleton,
                                                 const gchar            *object_path,
                                                 GBusType                bus_type,
                                                 const gchar            *bus_name);
/* Whether the bus was only a default, not asked for: then a bus that cannot
 * be reached is said in a message, not a warning. */
void             evcp_dbus_owner_set_optional   (EvcpDbusOwner          *self,
                                                 gboolean                optional);
/* Starts connecting to the bus (nothing with G_BUS_TYPE_NONE). */
void             evcp_dbus_owner_start          (EvcpDbusOwner          *self);
/**
 * evcp_dbus_owner_listen:
 * @address: a D-Bus server address ("unix:path=/run/evcp/engine",
 *   "unix:tmpdir=/tmp", "tcp:host=127.0.0.1,port=7000"…)
 *
 * Also serves the object peer to peer at @address.
 *
 * Returns: whether the server listens.
 */
gboolean         evcp_dbus_owner_listen         (EvcpDbusOwner          *self,
                                                 const gchar            *address,
                                                 GError                **error);
/* The address clients connect to (the server's own after listen), or NULL. */
const gchar     *evcp_dbus_owner_get_peer_address (EvcpDbusOwner        *self);
/* Releases the name, unexports, closes; no retry afterwards. */
void             evcp_dbus_owner_stop           (EvcpDbusOwner          *self);
gboolean         evcp_dbus_owner_has_name       (EvcpDbusOwner          *self);
/* (transfer none) (nullable): the bus connection, while connected */
GDBusConnection *evcp_dbus_owner_get_connection (EvcpDbusOwner          *self);
GBusType         evcp_dbus_owner_get_bus_type   (EvcpDbusOwner          *self);
const gchar     *evcp_dbus_owner_get_bus_name   (EvcpDbusOwner          *self);

/* "session bus", "system bus", "no bus": for messages */
const gchar     *evcp_dbus_bus_type_to_string   (GBusType                bus_type);

G_END_DECLS
