/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#include "evcp-dbus-owner.h"

G_BEGIN_DECLS

/*
 * EvcpDbusOptions: the D-Bus options that evcp-engine and evcp-monitor share
 * (--bus-name, --session, --system, --no-bus, --require-bus, --peer-address)
 * and what they mean:
 *
 *   - the session bus by default (a program run by hand); the systemd units
 *     pass --system;
 *   - D-Bus failing (no bus, the name taken or refused, the bus going away)
 *     never stops the service: it is logged and tried again, unless
 *     --require-bus asks to exit; a service that the bus itself started
 *     (D-Bus activation) leaves with that bus, cleanly.
 */
typedef struct {
  gchar    *bus_name;
  gboolean  session;
  gboolean  system;
  gboolean  no_bus;
  gboolean  require_bus;
  gchar    *peer_address;
  /* set by evcp_dbus_options_init() */
  const gchar *default_bus_name;
  const gchar *program;
} EvcpDbusOptions;

/* @program: "Engine" or "Monitor", for the help texts */
void           evcp_dbus_options_init            (EvcpDbusOptions   *options,
                                                  const gchar       *program,
                                                  const gchar       *default_bus_name);
/* Adds the options to the main group of @context. */
void           evcp_dbus_options_add_entries     (EvcpDbusOptions   *options,
                                                  GOptionContext    *context);
/* After parsing: contradictions and an invalid name are G_OPTION_ERROR_BAD_VALUE. */
gboolean       evcp_dbus_options_validate        (EvcpDbusOptions   *options,
                                                  GError           **error);
/* The owner for @skeleton, listening peer to peer if asked; not started. */
EvcpDbusOwner *evcp_dbus_options_create_owner    (EvcpDbusOptions   *options,
                                                  GDBusInterfaceSkeleton *skeleton,
                                                  const gchar       *object_path,
                                                  GError           **error);
/* On EvcpDbusOwner::name-lost: whether the program should stop (and with
 * what status: @failed) rather than go on without D-Bus. */
gboolean       evcp_dbus_options_should_exit     (EvcpDbusOptions   *options,
                                                  const GError      *error,
                                                  gboolean          *failed);
void           evcp_dbus_options_clear           (EvcpDbusOptions   *options);

G_END_DECLS
