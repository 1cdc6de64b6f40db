/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "evcp-build-config.h"

#include <glib/gi18n-lib.h>

#include "evcp-dbus-owner.h"

#define RETRY_MIN_MS 1000
#define RETRY_MAX_MS 30000

/* RequestName's flags and answers (the D-Bus specification) */
#define DBUS_NAME_FLAG_DO_NOT_QUEUE         4
#define DBUS_REQUEST_NAME_REPLY_PRIMARY_OWNER 1
#define DBUS_REQUEST_NAME_REPLY_ALREADY_OWNER 4

struct _EvcpDbusOwner
{
  GObject                 parent_instance;

  GDBusInterfaceSkeleton *skeleton;
  gchar                  *object_path;
  GBusType                bus_type;
  gchar                  *bus_name;

  GCancellable           *cancellable;   /* of the current connection attempt */
  GDBusConnection        *connection;
  gulong                  closed_id;
  gboolean                exported;
  gboolean                has_name;
  guint                   retry_id;
  guint                   backoff_ms;
  guint                   failures;      /* in a row: only the first is logged loudly */
  gboolean                started;
  gboolean                stopped;
  gboolean                optional;

  GDBusServer            *server;
  GPtrArray              *peers;         /* GDBusConnection, peer to peer */
};

enum {
  SIGNAL_NAME_ACQUIRED,
  SIGNAL_NAME_LOST,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (EvcpDbusOwner, evcp_dbus_owner, G_TYPE_OBJECT)

static void connect_bus (EvcpDbusOwner *self);

const gchar *
evcp_dbus_bus_type_to_string (GBusType bus_type)
{
  switch (bus_type)
    {
    case G_BUS_TYPE_SESSION:
      return _("session bus");
    case G_BUS_TYPE_SYSTEM:
      return _("system bus");
    case G_BUS_TYPE_STARTER:
      return _("starter bus");
    case G_BUS_TYPE_NONE:
    default:
      return _("no bus");
    }
}

/* ---- the bus ------------------------------------------------------------ */

static void
drop_connection (EvcpDbusOwner *self)
{
  if (self->connection == NULL)
    return;
  g_clear_signal_handler (&self->closed_id, self->connection);
  if (self->exported)
    g_dbus_interface_skeleton_unexport_from_connection (self->skeleton, self->connection);
  self->exported = FALSE;
  self->has_name = FALSE;
  g_clear_object (&self->connection);
}

static gboolean
retry_cb (gpointer user_data)
{
  EvcpDbusOwner *self = user_data;

  self->retry_id = 0;
  connect_bus (self);
  return G_SOURCE_REMOVE;
}

/* Reports @error, drops the connection and tries again later. */
static void
fail (EvcpDbusOwner *self, const GError *error)
{
  drop_connection (self);
  if (self->failures++ == 0)
    {
      /* a bus that was only a default and is not there is no news; one
       * that was asked for, or went away, is */
      GLogLevelFlags level = self->optional && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CLOSED)
                               ? G_LOG_LEVEL_MESSAGE : G_LOG_LEVEL_WARNING;

      g_log (G_LOG_DOMAIN, level,
             _("D-Bus: %s is not available on the %s: %s (the service goes on without it and tries again)"),
             self->bus_name, evcp_dbus_bus_type_to_string (self->bus_type), error->message);
    }
  else
    g_debug ("D-Bus: %s still not available on the %s: %s", self->bus_name,
             evcp_dbus_bus_type_to_string (self->bus_type), error->message);
  g_object_ref (self);
  g_signal_emit (self, signals[SIGNAL_NAME_LOST], 0, error);
  if (!self->stopped && self->retry_id == 0)
    {
      self->retry_id = g_timeout_add (self->backoff_ms, retry_cb, self);
      self->backoff_ms = MIN (self->backoff_ms * 2, RETRY_MAX_MS);
    }
  g_object_unref (self);
}

static void
on_closed (GDBusConnection *connection, gboolean remote_peer_vanished, GError *error,
           gpointer user_data)
{
  EvcpDbusOwner *self = user_data;
  g_autoptr(GError) closed = NULL;

  closed = g_error_new (G_IO_ERROR, G_IO_ERROR_CLOSED, _("the bus connection was closed (%s)"),
                        error != NULL ? error->message : _("no reason given"));
  self->failures = 0;   /* a new streak: say it loudly */
  fail (self, closed);
}

static void
on_request_name (GObject *source, GAsyncResult *result, gpointer user_data)
{
  EvcpDbusOwner *self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  guint32 answer = 0;

  reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;   /* stopped: self may be gone */
  if (reply == NULL)
    {
      g_dbus_error_strip_remote_error (error);
      fail (self, error);
      return;
    }
  g_variant_get (reply, "(u)", &answer);
  if (answer != DBUS_REQUEST_NAME_REPLY_PRIMARY_OWNER &&
      answer != DBUS_REQUEST_NAME_REPLY_ALREADY_OWNER)
    {
      g_autoptr(GError) taken = NULL;

      taken = g_error_new (G_IO_ERROR, G_IO_ERROR_EXISTS,
                           _("%s is owned by another process (another instance? bus-name tells them apart)"),
                           self->bus_name);
      fail (self, taken);
      return;
    }
  self->has_name = TRUE;
  self->failures = 0;
  self->backoff_ms = RETRY_MIN_MS;
  g_message (_("D-Bus: serving %s at %s on the %s"), self->bus_name, self->object_path,
             evcp_dbus_bus_type_to_string (self->bus_type));
  g_signal_emit (self, signals[SIGNAL_NAME_ACQUIRED], 0);
}

static void
on_bus (GObject *source, GAsyncResult *result, gpointer user_data)
{
  EvcpDbusOwner *self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusConnection) connection = NULL;

  connection = g_bus_get_finish (result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (connection == NULL)
    {
      fail (self, error);
      return;
    }
  /* the service outlives its bus: never exit when the connection closes */
  g_dbus_connection_set_exit_on_close (connection, FALSE);
  if (g_dbus_connection_is_closed (connection))
    {
      g_set_error_literal (&error, G_IO_ERROR, G_IO_ERROR_CLOSED, _("the bus connection is closed"));
      fail (self, error);
      return;
    }
  self->connection = g_steal_pointer (&connection);
  self->closed_id = g_signal_connect (self->connection, "closed", G_CALLBACK (on_closed), self);
  /* the object first, so that a caller woken by the name finds it */
  if (!g_dbus_interface_skeleton_export (self->skeleton, self->connection, self->object_path, &error))
    {
      fail (self, error);
      return;
    }
  self->exported = TRUE;
  g_dbus_connection_call (self->connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                          "org.freedesktop.DBus", "RequestName",
                          g_variant_new ("(su)", self->bus_name, DBUS_NAME_FLAG_DO_NOT_QUEUE),
                          G_VARIANT_TYPE ("(u)"), G_DBUS_CALL_FLAGS_NONE, -1,
                          self->cancellable, on_request_name, self);
}

static void
connect_bus (EvcpDbusOwner *self)
{
  if (self->stopped || self->bus_type == G_BUS_TYPE_NONE || self->connection != NULL)
    return;
  g_bus_get (self->bus_type, self->cancellable, on_bus, self);
}

/* ---- peer to peer -------------------------------------------------------- */

static gboolean
allow_mechanism (GDBusAuthObserver *observer, const gchar *mechanism, gpointer user_data)
{
  return g_strcmp0 (mechanism, "EXTERNAL") == 0 || g_strcmp0 (mechanism, "DBUS_COOKIE_SHA1") == 0;
}

static gboolean
authorize_peer (GDBusAuthObserver *observer, GIOStream *stream, GCredentials *credentials,
                gpointer user_data)
{
  g_autoptr(GCredentials) own = g_credentials_new ();
  g_autoptr(GError) error = NULL;

  /* DBUS_COOKIE_SHA1 gives no credentials, but only the same user can read
   * the keyring it proves knowledge of */
  if (credentials == NULL)
    return TRUE;
  g_autofree gchar *who = NULL;

  if (g_credentials_is_same_user (credentials, own, &error))
    return TRUE;
  who = g_credentials_to_string (credentials);
  g_message (_("D-Bus: refused a peer of another user (%s%s%s)"), who,
             error != NULL ? ": " : "", error != NULL ? error->message : "");
  return FALSE;
}

static void
on_peer_closed (GDBusConnection *connection, gboolean remote_peer_vanished, GError *error,
                gpointer user_data)
{
  EvcpDbusOwner *self = user_data;

  g_debug ("D-Bus: a peer left");
  g_signal_handlers_disconnect_by_func (connection, on_peer_closed, self);
  g_dbus_interface_skeleton_unexport_from_connection (self->skeleton, connection);
  g_ptr_array_remove (self->peers, connection);
}

static gboolean
on_new_connection (GDBusServer *server, GDBusConnection *connection, gpointer user_data)
{
  EvcpDbusOwner *self = user_data;
  g_autoptr(GError) error = NULL;

  if (!g_dbus_interface_skeleton_export (self->skeleton, connection, self->object_path, &error))
    {
      g_warning (_("D-Bus: cannot serve a peer: %s"), error->message);
      return FALSE;
    }
  g_debug ("D-Bus: a peer connected");
  g_ptr_array_add (self->peers, g_object_ref (connection));
  g_signal_connect (connection, "closed", G_CALLBACK (on_peer_closed), self);
  return TRUE;
}

gboolean
evcp_dbus_owner_listen (EvcpDbusOwner *self, const gchar *address, GError **error)
{
  g_autoptr(GDBusAuthObserver) observer = NULL;
  g_autofree gchar *guid = NULL;

  g_return_val_if_fail (EVCP_IS_DBUS_OWNER (self), FALSE);
  g_return_val_if_fail (address != NULL, FALSE);
  g_return_val_if_fail (self->server == NULL, FALSE);

  observer = g_dbus_auth_observer_new ();
  g_signal_connect (observer, "allow-mechanism", G_CALLBACK (allow_mechanism), NULL);
  g_signal_connect (observer, "authorize-authenticated-peer", G_CALLBACK (authorize_peer), NULL);
  guid = g_dbus_generate_guid ();
  self->server = g_dbus_server_new_sync (address, G_DBUS_SERVER_FLAGS_NONE, guid, observer,
                                         NULL, error);
  if (self->server == NULL)
    return FALSE;
  g_signal_connect (self->server, "new-connection", G_CALLBACK (on_new_connection), self);
  g_dbus_server_start (self->server);
  g_message (_("D-Bus: serving %s peer to peer at %s"), self->object_path,
             g_dbus_server_get_client_address (self->server));
  return TRUE;
}

const gchar *
evcp_dbus_owner_get_peer_address (EvcpDbusOwner *self)
{
  g_return_val_if_fail (EVCP_IS_DBUS_OWNER (self), NULL);
  return self->server != NULL ? g_dbus_server_get_client_address (self->server) : NULL;
}

/* ---- the object ----------------------------------------------------------- */

EvcpDbusOwner *
evcp_dbus_owner_new (GDBusInterfaceSkeleton *skeleton,
                     const gchar            *object_path,
                     GBusType                bus_type,
                     const gchar            *bus_name)
{
  EvcpDbusOwner *self;

  g_return_val_if_fail (G_IS_DBUS_INTERFACE_SKELETON (skeleton), NULL);
  g_return_val_if_fail (g_variant_is_object_path (object_path), NULL);
  g_return_val_if_fail (bus_type == G_BUS_TYPE_NONE || g_dbus_is_name (bus_name), NULL);

  self = g_object_new (EVCP_TYPE_DBUS_OWNER, NULL);
  self->skeleton = g_object_ref (skeleton);
  self->object_path = g_strdup (object_path);
  self->bus_type = bus_type;
  self->bus_name = g_strdup (bus_name);
  return self;
}

void
evcp_dbus_owner_set_optional (EvcpDbusOwner *self, gboolean optional)
{
  g_return_if_fail (EVCP_IS_DBUS_OWNER (self));
  self->optional = !!optional;
}

void
evcp_dbus_owner_start (EvcpDbusOwner *self)
{
  g_return_if_fail (EVCP_IS_DBUS_OWNER (self));

  if (self->started)
    return;
  self->started = TRUE;
  connect_bus (self);
}

void
evcp_dbus_owner_stop (EvcpDbusOwner *self)
{
  g_return_if_fail (EVCP_IS_DBUS_OWNER (self));

  self->stopped = TRUE;
  g_cancellable_cancel (self->cancellable);
  g_clear_handle_id (&self->retry_id, g_source_remove);
  if (self->connection != NULL && self->has_name)
    {
      /* tell the bus at once rather than when the connection closes, so that
       * a new instance can take the name while this one finishes */
      g_autoptr(GVariant) reply =
        g_dbus_connection_call_sync (self->connection, "org.freedesktop.DBus",
                                     "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                     "ReleaseName", g_variant_new ("(s)", self->bus_name),
                                     G_VARIANT_TYPE ("(u)"), G_DBUS_CALL_FLAGS_NONE, 1000,
                                     NULL, NULL);
    }
  if (self->connection != NULL)
    g_dbus_connection_flush_sync (self->connection, NULL, NULL);
  drop_connection (self);
  if (self->server != NULL)
    g_dbus_server_stop (self->server);
  while (self->peers->len > 0)
    {
      GDBusConnection *peer = g_ptr_array_index (self->peers, self->peers->len - 1);

      g_signal_handlers_disconnect_by_func (peer, on_peer_closed, self);
      g_dbus_interface_skeleton_unexport_from_connection (self->skeleton, peer);
      g_dbus_connection_close_sync (peer, NULL, NULL);
      g_ptr_array_remove_index (self->peers, self->peers->len - 1);
    }
}

gboolean
evcp_dbus_owner_has_name (EvcpDbusOwner *self)
{
  g_return_val_if_fail (EVCP_IS_DBUS_OWNER (self), FALSE);
  return self->has_name;
}

GDBusConnection *
evcp_dbus_owner_get_connection (EvcpDbusOwner *self)
{
  g_return_val_if_fail (EVCP_IS_DBUS_OWNER (self), NULL);
  return self->connection;
}

GBusType
evcp_dbus_owner_get_bus_type (EvcpDbusOwner *self)
{
  g_return_val_if_fail (EVCP_IS_DBUS_OWNER (self), G_BUS_TYPE_NONE);
  return self->bus_type;
}

const gchar *
evcp_dbus_owner_get_bus_name (EvcpDbusOwner *self)
{
  g_return_val_if_fail (EVCP_IS_DBUS_OWNER (self), NULL);
  return self->bus_name;
}

static void
evcp_dbus_owner_dispose (GObject *object)
{
  EvcpDbusOwner *self = EVCP_DBUS_OWNER (object);

  if (self->peers != NULL)
    evcp_dbus_owner_stop (self);
  g_clear_object (&self->server);
  g_clear_pointer (&self->peers, g_ptr_array_unref);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->skeleton);
  G_OBJECT_CLASS (evcp_dbus_owner_parent_class)->dispose (object);
}

static void
evcp_dbus_owner_finalize (GObject *object)
{
  EvcpDbusOwner *self = EVCP_DBUS_OWNER (object);

  g_free (self->object_path);
  g_free (self->bus_name);
  G_OBJECT_CLASS (evcp_dbus_owner_parent_class)->finalize (object);
}

static void
evcp_dbus_owner_class_init (EvcpDbusOwnerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = evcp_dbus_owner_dispose;
  object_class->finalize = evcp_dbus_owner_finalize;

  signals[SIGNAL_NAME_ACQUIRED] =
    g_signal_new ("name-acquired", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_NAME_LOST] =
    g_signal_new ("name-lost", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);
}

static void
evcp_dbus_owner_init (EvcpDbusOwner *self)
{
  self->cancellable = g_cancellable_new ();
  self->peers = g_ptr_array_new_with_free_func (g_object_unref);
  self->backoff_ms = RETRY_MIN_MS;
}
