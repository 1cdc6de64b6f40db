/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "evcp-build-config.h"

#include <string.h>

#include <glib/gi18n-lib.h>

#include "evcp-dbus-options.h"

void
evcp_dbus_options_init (EvcpDbusOptions *options, const gchar *program,
                        const gchar *default_bus_name)
{
  memset (options, 0, sizeof *options);
  options->program = program;
  options->default_bus_name = default_bus_name;
}

void
evcp_dbus_options_add_entries (EvcpDbusOptions *options, GOptionContext *context)
{
  const GOptionEntry entries[] = {
    { "bus-name", 0, 0, G_OPTION_ARG_STRING, &options->bus_name,
      /* TRANSLATORS: --bus-name option; %s is not there: the default is in the summary */
      N_("Own this D-Bus name (default: org.evcp.Engine or org.evcp.Monitor); one per charging point on a shared bus"),
      N_("NAME") },
    { "session", 0, 0, G_OPTION_ARG_NONE, &options->session,
      N_("Serve on the D-Bus session bus (the default)"), NULL },
    { "system", 0, 0, G_OPTION_ARG_NONE, &options->system,
      N_("Serve on the D-Bus system bus (as the systemd unit does)"), NULL },
    { "no-bus", 0, 0, G_OPTION_ARG_NONE, &options->no_bus,
      N_("Do not use a D-Bus bus"), NULL },
    { "require-bus", 0, 0, G_OPTION_ARG_NONE, &options->require_bus,
      N_("Exit when the D-Bus name cannot be owned or is lost (by default the service goes on without D-Bus and tries again)"),
      NULL },
    { "peer-address", 0, 0, G_OPTION_ARG_STRING, &options->peer_address,
      N_("Also serve D-Bus peer to peer at this address, for evcpctl --address (where there is no bus)"),
      N_("ADDRESS") },
    { NULL }
  };

  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
}

gboolean
evcp_dbus_options_validate (EvcpDbusOptions *options, GError **error)
{
  if (options->session + options->system + options->no_bus > 1)
    {
      g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                           _("--session, --system and --no-bus exclude each other"));
      return FALSE;
    }
  if (options->no_bus && options->require_bus)
    {
      g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                           _("--require-bus needs a bus: not with --no-bus"));
      return FALSE;
    }
  if (options->bus_name == NULL)
    options->bus_name = g_strdup (options->default_bus_name);
  if (!g_dbus_is_name (options->bus_name) || g_dbus_is_unique_name (options->bus_name))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("“%s” is not a valid D-Bus well-known name (such as %s.CP001)"),
                   options->bus_name, options->default_bus_name);
      return FALSE;
    }
  if (options->peer_address != NULL &&
      !g_dbus_is_supported_address (options->peer_address, error))
    {
      g_prefix_error (error, "--peer-address: ");
      return FALSE;
    }
  return TRUE;
}

EvcpDbusOwner *
evcp_dbus_options_create_owner (EvcpDbusOptions        *options,
                                GDBusInterfaceSkeleton *skeleton,
                                const gchar            *object_path,
                                GError                **error)
{
  g_autoptr(EvcpDbusOwner) owner = NULL;
  GBusType bus_type = G_BUS_TYPE_SESSION;

  if (options->system)
    bus_type = G_BUS_TYPE_SYSTEM;
  else if (options->no_bus)
    bus_type = G_BUS_TYPE_NONE;
  owner = evcp_dbus_owner_new (skeleton, object_path, bus_type, options->bus_name);
  /* run by hand without a word about D-Bus: a missing bus is no news */
  evcp_dbus_owner_set_optional (owner, !options->session && !options->system && !options->require_bus);
  if (options->peer_address != NULL &&
      !evcp_dbus_owner_listen (owner, options->peer_address, error))
    return NULL;
  return g_steal_pointer (&owner);
}

gboolean
evcp_dbus_options_should_exit (EvcpDbusOptions *options, const GError *error, gboolean *failed)
{
  *failed = FALSE;
  if (options->require_bus)
    {
      g_printerr (_("The %s stops: D-Bus is required (--require-bus): %s\n"),
                  options->program, error->message);
      *failed = TRUE;
      return TRUE;
    }
  /* started by D-Bus activation: the bus was the reason to run */
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CLOSED) &&
      g_getenv ("DBUS_STARTER_BUS_TYPE") != NULL)
    {
      g_message (_("The bus that started the %s is gone: it stops"), options->program);
      return TRUE;
    }
  return FALSE;
}

void
evcp_dbus_options_clear (EvcpDbusOptions *options)
{
  g_clear_pointer (&options->bus_name, g_free);
  g_clear_pointer (&options->peer_address, g_free);
}
