/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "evcp-build-config.h"

#include <glib/gi18n-lib.h>

#include "evcp-dbus-engine.h"
#include "evcp-dbus-error.h"
#include "evcp-dbus-log.h"
#include "evcp-error.h"
#include "evcp-gdbus-generated.h"

/* A fault reason goes to Central and the Monitor: keep it short and printable. */

/* A peer that called SubscribeMessages(). */
typedef struct {
  EvcpDbusEngine  *self;
  GDBusConnection *connection;
  gchar           *sender;     /* NULL peer to peer */
  guint            watch_id;   /* on a bus: its unique name vanishing */
  gulong           closed_id;  /* peer to peer: its connection closing */
} Subscriber;

struct _EvcpDbusEngine
{
  GObject            parent_instance;

  EvcpEngine        *engine;
  EvcpSupply        *supply;
  EvcpKafkaService  *kafka;
  EvcpCentralClient *central;
  EvcpOcppChargePoint *ocpp;
  EvcpGdbusEngine1  *skeleton;

  GPtrArray         *subscribers;     /* Subscriber */
  gulong             handled_id;      /* "message-handled", while subscribed */
};

G_DEFINE_FINAL_TYPE (EvcpDbusEngine, evcp_dbus_engine, G_TYPE_OBJECT)

/* ---- properties: follow the model --------------------------------------- */

static GVariant *
session_to_variant (const EvcpSession *s, gboolean with_figures)
{
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  if (s == NULL)
    return g_variant_builder_end (&b);
  g_variant_builder_add (&b, "{sv}", "session_id", g_variant_new_string (s->session_id));
  g_variant_builder_add (&b, "{sv}", "driver", g_variant_new_string (s->driver));
  g_variant_builder_add (&b, "{sv}", "source", g_variant_new_string (s->source != NULL ? s->source : ""));
  g_variant_builder_add (&b, "{sv}", "power_kw", g_variant_new_double (s->power_kw));
  g_variant_builder_add (&b, "{sv}", "max_duration_s", g_variant_new_int64 (s->max_duration_s));
  g_variant_builder_add (&b, "{sv}", "max_kwh", g_variant_new_double (s->max_kwh));
  g_variant_builder_add (&b, "{sv}", "price_eur_kwh", g_variant_new_double (s->price_eur_kwh));
  g_variant_builder_add (&b, "{sv}", "started_us", g_variant_new_int64 (s->started_wall_us));
  if (with_figures)
    {
      g_variant_builder_add (&b, "{sv}", "kwh", g_variant_new_double (s->kwh));
      g_variant_builder_add (&b, "{sv}", "eur", g_variant_new_double (s->eur));
      g_variant_builder_add (&b, "{sv}", "elapsed_ms", g_variant_new_int64 (s->elapsed_ms));
    }
  return g_variant_builder_end (&b);
}

static void
update_state (EvcpDbusEngine *self)
{
  const gchar *reason = evcp_supply_get_fault_reason (self->supply);
  g_auto(GStrv) stopped_by = evcp_supply_holds_to_strv (evcp_supply_get_holds (self->supply));

  evcp_gdbus_engine1_set_state (self->skeleton,
                                evcp_cp_state_to_string (evcp_supply_get_state (self->supply)));
  evcp_gdbus_engine1_set_fault_reason (self->skeleton, reason != NULL ? reason : "");
  evcp_gdbus_engine1_set_stopped_by (self->skeleton, (const gchar * const *) stopped_by);
}

static void
on_holds_changed (EvcpSupply *supply, guint holds, gpointer user_data)
{
  update_state (user_data);
}

static void
update_session (EvcpDbusEngine *self)
{
  evcp_gdbus_engine1_set_session (self->skeleton,
                                  session_to_variant (evcp_supply_get_session (self->supply), FALSE));
}

static void
update_kafka (EvcpDbusEngine *self)
{
  EvcpKafkaState state = evcp_kafka_service_get_state (self->kafka);

  evcp_gdbus_engine1_set_kafka_state (self->skeleton, evcp_kafka_state_to_string (state));
  evcp_gdbus_engine1_set_kafka_connected (self->skeleton, state == EVCP_KAFKA_STATE_CONNECTED);
}

static void
on_kafka_security_error (EvcpKafkaService *kafka, GParamSpec *pspec, EvcpDbusEngine *self)
{
  g_autofree gchar *cause = NULL;

  g_object_get (kafka, "security-error", &cause, NULL);
  evcp_gdbus_engine1_set_kafka_error (self->skeleton, cause != NULL ? cause : "");
}

static void
update_central (EvcpDbusEngine *self)
{
  EvcpCentralState state = self->central != NULL ? evcp_central_client_get_state (self->central)
                                                 : EVCP_CENTRAL_STATE_STOPPED;

  evcp_gdbus_engine1_set_central_state (self->skeleton, evcp_central_state_to_string (state));
  evcp_gdbus_engine1_set_central_connected (self->skeleton, state == EVCP_CENTRAL_STATE_READY);
}

static void
on_state_changed (EvcpSupply *supply, EvcpCpState old, EvcpCpState state, gpointer user_data)
{
  EvcpDbusEngine *self = user_data;

  update_state (self);
  update_session (self);
  /* PropertiesChanged before StateChanged: a client that reads its cached
   * State when StateChanged arrives sees the new one */
  g_dbus_interface_skeleton_flush (G_DBUS_INTERFACE_SKELETON (self->skeleton));
  evcp_gdbus_engine1_emit_state_changed (self->skeleton, evcp_cp_state_to_string (old),
                                         evcp_cp_state_to_string (state));
}

static void
on_session (EvcpSupply *supply, EvcpSession *session, gpointer user_data)
{
  update_session (user_data);
}

static void
on_kafka_state (EvcpKafkaService *kafka, EvcpKafkaState old, EvcpKafkaState state,
                gpointer user_data)
{
  update_kafka (user_data);
}

static void
on_central_state (GObject *central, GParamSpec *pspec, gpointer user_data)
{
  update_central (user_data);
}

/* ---- MessageHandled, only while subscribed --------------------------------- */

static void
on_message_handled (EvcpKafkaService *kafka, EvcpMessage *message, const gchar *handler,
                    gboolean ok, gpointer user_data)
{
  EvcpDbusEngine *self = user_data;
  const gchar *kind = evcp_message_get_kind (message);

  evcp_gdbus_engine1_emit_message_handled (self->skeleton, kind != NULL ? kind : "", handler, ok);
}

static void
subscriber_free (Subscriber *sub)
{
  if (sub->watch_id != 0)
    g_bus_unwatch_name (sub->watch_id);
  g_clear_signal_handler (&sub->closed_id, sub->connection);
  g_object_unref (sub->connection);
  g_free (sub->sender);
  g_free (sub);
}

static void
remove_subscriber (EvcpDbusEngine *self, Subscriber *sub)
{
  g_debug ("D-Bus: %s no longer subscribed", sub->sender != NULL ? sub->sender : "a peer");
  g_ptr_array_remove (self->subscribers, sub);
  if (self->subscribers->len == 0)
    g_clear_signal_handler (&self->handled_id, self->kafka);
}

static void
on_subscriber_vanished (GDBusConnection *connection, const gchar *name, gpointer user_data)
{
  Subscriber *sub = user_data;

  remove_subscriber (sub->self, sub);
}

static void
on_subscriber_closed (GDBusConnection *connection, gboolean remote_peer_vanished,
                      GError *error, gpointer user_data)
{
  Subscriber *sub = user_data;

  remove_subscriber (sub->self, sub);
}

static Subscriber *
find_subscriber (EvcpDbusEngine *self, GDBusConnection *connection, const gchar *sender)
{
  for (guint i = 0; i < self->subscribers->len; i++)
    {
      Subscriber *sub = g_ptr_array_index (self->subscribers, i);

      if (sub->connection == connection && g_strcmp0 (sub->sender, sender) == 0)
        return sub;
    }
  return NULL;
}

static gboolean
handle_subscribe_messages (EvcpGdbusEngine1 *skeleton, GDBusMethodInvocation *invocation,
                           gpointer user_data)
{
  EvcpDbusEngine *self = user_data;
  GDBusConnection *connection = g_dbus_method_invocation_get_connection (invocation);
  const gchar *sender = g_dbus_method_invocation_get_sender (invocation);
  Subscriber *sub;

  if (find_subscriber (self, connection, sender) == NULL)
    {
      sub = g_new0 (Subscriber, 1);
      sub->self = self;
      sub->connection = g_object_ref (connection);
      sub->sender = g_strdup (sender);
      g_ptr_array_add (self->subscribers, sub);
      if (sender != NULL)
        sub->watch_id = g_bus_watch_name_on_connection (connection, sender,
                                                        G_BUS_NAME_WATCHER_FLAGS_NONE, NULL,
                                                        on_subscriber_vanished, sub, NULL);
      else
        sub->closed_id = g_signal_connect (connection, "closed",
                                           G_CALLBACK (on_subscriber_closed), sub);
      if (self->handled_id == 0)
        self->handled_id = g_signal_connect (self->kafka, "message-handled",
                                             G_CALLBACK (on_message_handled), self);
      g_debug ("D-Bus: %s subscribed to MessageHandled", sender != NULL ? sender : "a peer");
    }
  evcp_gdbus_engine1_complete_subscribe_messages (skeleton, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_unsubscribe_messages (EvcpGdbusEngine1 *skeleton, GDBusMethodInvocation *invocation,
                             gpointer user_data)
{
  EvcpDbusEngine *self = user_data;
  Subscriber *sub = find_subscriber (self, g_dbus_method_invocation_get_connection (invocation),
                                     g_dbus_method_invocation_get_sender (invocation));

  if (sub != NULL)
    remove_subscriber (self, sub);
  evcp_gdbus_engine1_complete_unsubscribe_messages (skeleton, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* ---- methods ----------------------------------------------------------------- */

static const gchar *
caller (GDBusMethodInvocation *invocation)
{
  const gchar *sender = g_dbus_method_invocation_get_sender (invocation);

  /* TRANSLATORS: who called a D-Bus method, when it was not on a bus */
  return sender != NULL ? sender : _("a peer");
}

static GVariant *
list_handlers (EvcpDbusEngine *self)
{
  g_autoptr(GPtrArray) handlers =
    evcp_dispatcher_list_handlers (evcp_kafka_service_get_dispatcher (self->kafka));
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE ("a(sbtt)"));
  for (guint i = 0; i < handlers->len; i++)
    {
      EvcpHandlerInfo *info = g_ptr_array_index (handlers, i);

      g_variant_builder_add (&b, "(sbtt)", info->name, info->enabled, info->handled, info->failed);
    }
  return g_variant_builder_end (&b);
}

static gboolean
handle_list_handlers (EvcpGdbusEngine1 *skeleton, GDBusMethodInvocation *invocation,
                      gpointer user_data)
{
  evcp_gdbus_engine1_complete_list_handlers (skeleton, invocation, list_handlers (user_data));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_set_handler_enabled (EvcpGdbusEngine1 *skeleton, GDBusMethodInvocation *invocation,
                            const gchar *name, gboolean enabled, gpointer user_data)
{
  EvcpDbusEngine *self = user_data;
  g_autoptr(GError) error = NULL;

  if (!evcp_dispatcher_set_enabled (evcp_kafka_service_get_dispatcher (self->kafka), name,
                                    enabled, &error))
    {
      g_dbus_method_invocation_return_error_literal (invocation, EVCP_DBUS_ERROR,
                                                     g_error_matches (error, EVCP_ERROR, EVCP_ERROR_NOT_FOUND)
                                                       ? EVCP_DBUS_ERROR_NOT_FOUND : EVCP_DBUS_ERROR_FAILED,
                                                     error->message);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  g_message (enabled ? _("D-Bus: %s enabled the handler %s") : _("D-Bus: %s disabled the handler %s"),
             caller (invocation), name);
  evcp_gdbus_engine1_complete_set_handler_enabled (skeleton, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
reason_is_acceptable (const gchar *reason)
{
  if (g_utf8_strlen (reason, -1) > EVCP_DBUS_FAULT_REASON_MAX)
    return FALSE;
  for (const gchar *p = reason; *p != '\0'; p = g_utf8_next_char (p))
    if (g_unichar_iscntrl (g_utf8_get_char (p)))
      return FALSE;
  return TRUE;
}

static gboolean
handle_simulate_fault (EvcpGdbusEngine1 *skeleton, GDBusMethodInvocation *invocation,
                       const gchar *reason, gpointer user_data)
{
  EvcpDbusEngine *self = user_data;

  if (!reason_is_acceptable (reason))
    {
      g_dbus_method_invocation_return_error (invocation, EVCP_DBUS_ERROR, EVCP_DBUS_ERROR_INVALID_ARGS,
                                             _("A fault reason has at most %d characters and no control characters"),
                                             EVCP_DBUS_FAULT_REASON_MAX);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  if (*reason == '\0')
    reason = _("fault simulated over D-Bus");
  g_message (_("D-Bus: %s reports a fault: %s"), caller (invocation), reason);
  evcp_engine_simulate_fault (self->engine, reason);
  evcp_gdbus_engine1_complete_simulate_fault (skeleton, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_clear_fault (EvcpGdbusEngine1 *skeleton, GDBusMethodInvocation *invocation,
                    gpointer user_data)
{
  EvcpDbusEngine *self = user_data;

  g_message (_("D-Bus: %s clears the fault"), caller (invocation));
  evcp_engine_clear_fault (self->engine);
  evcp_gdbus_engine1_complete_clear_fault (skeleton, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_unplug (EvcpGdbusEngine1 *skeleton, GDBusMethodInvocation *invocation, gpointer user_data)
{
  EvcpDbusEngine *self = user_data;

  if (!evcp_engine_unplug (self->engine))
    {
      g_dbus_method_invocation_return_error_literal (invocation, EVCP_DBUS_ERROR,
                                                     EVCP_DBUS_ERROR_NO_SESSION,
                                                     _("Nothing to unplug: no supply session is running"));
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  g_message (_("D-Bus: %s unplugged the vehicle"), caller (invocation));
  evcp_gdbus_engine1_complete_unplug (skeleton, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_get_metrics (EvcpGdbusEngine1 *skeleton, GDBusMethodInvocation *invocation,
                    gpointer user_data)
{
  EvcpDbusEngine *self = user_data;
  g_autoptr(GVariant) kafka = g_variant_ref_sink (evcp_kafka_service_get_metrics (self->kafka));
  EvcpConfig *config = evcp_engine_get_config (self->engine);
  const gchar *reason = evcp_supply_get_fault_reason (self->supply);
  EvcpCentralState central = self->central != NULL ? evcp_central_client_get_state (self->central)
                                                   : EVCP_CENTRAL_STATE_STOPPED;
  GVariantBuilder b;
  GVariantIter iter;
  const gchar *key;
  GVariant *value;

  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  g_variant_iter_init (&iter, kafka);
  while (g_variant_iter_next (&iter, "{&sv}", &key, &value))
    {
      g_variant_builder_add (&b, "{sv}", key, value);
      g_variant_unref (value);
    }
  g_variant_builder_add (&b, "{sv}", "handlers", list_handlers (self));
  g_variant_builder_add (&b, "{sv}", "cp-id", g_variant_new_string (config->cp_id));
  g_variant_builder_add (&b, "{sv}", "state",
                         g_variant_new_string (evcp_cp_state_to_string (evcp_supply_get_state (self->supply))));
  g_variant_builder_add (&b, "{sv}", "fault-reason", g_variant_new_string (reason != NULL ? reason : ""));
  g_variant_builder_add (&b, "{sv}", "central-state",
                         g_variant_new_string (evcp_central_state_to_string (central)));
  g_variant_builder_add (&b, "{sv}", "central-connected",
                         g_variant_new_boolean (central == EVCP_CENTRAL_STATE_READY));
  g_variant_builder_add (&b, "{sv}", "health-port",
                         g_variant_new_uint16 (evcp_engine_get_health_port (self->engine)));
  g_variant_builder_add (&b, "{sv}", "session",
                         session_to_variant (evcp_supply_get_session (self->supply), TRUE));
  g_variant_builder_add (&b, "{sv}", "message-subscribers", g_variant_new_uint32 (self->subscribers->len));
  g_variant_builder_add (&b, "{sv}", "events-dropped",
                         g_variant_new_uint64 (evcp_engine_get_events_dropped (self->engine)));
  g_variant_builder_add (&b, "{sv}", "ocpp-state",
                         g_variant_new_string (evcp_gdbus_engine1_get_ocpp_state (self->skeleton)));
  evcp_gdbus_engine1_complete_get_metrics (skeleton, invocation, g_variant_builder_end (&b));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_set_log_level (EvcpGdbusEngine1 *skeleton, GDBusMethodInvocation *invocation, const gchar *level,
                      gpointer user_data)
{
  if (!evcp_dbus_set_log_level (invocation, level))
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  evcp_gdbus_engine1_set_log_level (skeleton, evcp_dbus_log_level ());
  evcp_gdbus_engine1_complete_set_log_level (skeleton, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* ---- the object ------------------------------------------------------------ */

static void
update_ocpp (EvcpOcppChargePoint *ocpp, gpointer user_data)
{
  EvcpDbusEngine *self = user_data;

  evcp_gdbus_engine1_set_ocpp_state (self->skeleton,
                                     self->ocpp != NULL ? evcp_ocpp_charge_point_get_state (self->ocpp) : "DISABLED");
  evcp_gdbus_engine1_set_ocpp_error (self->skeleton,
                                     self->ocpp != NULL ? evcp_ocpp_charge_point_get_error (self->ocpp) : "");
}

void
evcp_dbus_engine_set_ocpp (EvcpDbusEngine *self, EvcpOcppChargePoint *ocpp)
{
  g_return_if_fail (EVCP_IS_DBUS_ENGINE (self));

  if (self->ocpp != NULL)
    g_signal_handlers_disconnect_by_data (self->ocpp, self);
  g_set_object (&self->ocpp, ocpp);
  if (ocpp != NULL)
    g_signal_connect (ocpp, "state-changed", G_CALLBACK (update_ocpp), self);
  update_ocpp (ocpp, self);
}

EvcpDbusEngine *
evcp_dbus_engine_new (EvcpEngine *engine)
{
  EvcpDbusEngine *self;

  g_return_val_if_fail (EVCP_IS_ENGINE (engine), NULL);
  g_return_val_if_fail (evcp_engine_get_supply (engine) != NULL, NULL);

  self = g_object_new (EVCP_TYPE_DBUS_ENGINE, NULL);
  self->engine = g_object_ref (engine);
  self->supply = g_object_ref (evcp_engine_get_supply (engine));
  self->kafka = g_object_ref (evcp_engine_get_kafka_service (engine));
  if (evcp_engine_get_central (engine) != NULL)
    self->central = g_object_ref (evcp_engine_get_central (engine));

  evcp_gdbus_engine1_set_cp_id (self->skeleton, evcp_engine_get_config (engine)->cp_id);
  evcp_gdbus_engine1_set_version (self->skeleton, PACKAGE_VERSION);
  evcp_gdbus_engine1_set_log_level (self->skeleton, evcp_dbus_log_level ());
  update_state (self);
  update_session (self);
  update_kafka (self);
  update_central (self);

  g_signal_connect_object (self->supply, "state-changed", G_CALLBACK (on_state_changed), self, 0);
  g_signal_connect_object (self->supply, "holds-changed", G_CALLBACK (on_holds_changed), self, 0);
  g_signal_connect_object (self->supply, "session-started", G_CALLBACK (on_session), self, 0);
  g_signal_connect_object (self->supply, "session-ended", G_CALLBACK (on_session), self, 0);
  g_signal_connect_object (self->kafka, "connection-state-changed", G_CALLBACK (on_kafka_state), self, 0);
  g_signal_connect_object (self->kafka, "notify::security-error", G_CALLBACK (on_kafka_security_error), self, 0);
  on_kafka_security_error (self->kafka, NULL, self);
  if (self->central != NULL)
    g_signal_connect_object (self->central, "notify::state", G_CALLBACK (on_central_state), self, 0);

  g_signal_connect (self->skeleton, "handle-list-handlers", G_CALLBACK (handle_list_handlers), self);
  g_signal_connect (self->skeleton, "handle-set-handler-enabled", G_CALLBACK (handle_set_handler_enabled), self);
  g_signal_connect (self->skeleton, "handle-simulate-fault", G_CALLBACK (handle_simulate_fault), self);
  g_signal_connect (self->skeleton, "handle-clear-fault", G_CALLBACK (handle_clear_fault), self);
  g_signal_connect (self->skeleton, "handle-unplug", G_CALLBACK (handle_unplug), self);
  g_signal_connect (self->skeleton, "handle-get-metrics", G_CALLBACK (handle_get_metrics), self);
  g_signal_connect (self->skeleton, "handle-subscribe-messages", G_CALLBACK (handle_subscribe_messages), self);
  g_signal_connect (self->skeleton, "handle-unsubscribe-messages", G_CALLBACK (handle_unsubscribe_messages), self);
  g_signal_connect (self->skeleton, "handle-set-log-level", G_CALLBACK (handle_set_log_level), self);
  return self;
}

GDBusInterfaceSkeleton *
evcp_dbus_engine_get_skeleton (EvcpDbusEngine *self)
{
  g_return_val_if_fail (EVCP_IS_DBUS_ENGINE (self), NULL);
  return G_DBUS_INTERFACE_SKELETON (self->skeleton);
}

guint
evcp_dbus_engine_get_subscribers (EvcpDbusEngine *self)
{
  g_return_val_if_fail (EVCP_IS_DBUS_ENGINE (self), 0);
  return self->subscribers->len;
}

static void
evcp_dbus_engine_dispose (GObject *object)
{
  EvcpDbusEngine *self = EVCP_DBUS_ENGINE (object);

  if (self->subscribers != NULL)
    g_ptr_array_set_size (self->subscribers, 0);
  if (self->kafka != NULL)
    g_clear_signal_handler (&self->handled_id, self->kafka);
  if (self->skeleton != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->skeleton, self);
      if (g_dbus_interface_skeleton_get_connection (G_DBUS_INTERFACE_SKELETON (self->skeleton)) != NULL)
        g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (self->skeleton));
    }
  g_clear_object (&self->skeleton);
  if (self->ocpp != NULL)
    g_signal_handlers_disconnect_by_data (self->ocpp, self);
  g_clear_object (&self->ocpp);
  g_clear_object (&self->central);
  g_clear_object (&self->kafka);
  g_clear_object (&self->supply);
  g_clear_object (&self->engine);
  G_OBJECT_CLASS (evcp_dbus_engine_parent_class)->dispose (object);
}

static void
evcp_dbus_engine_finalize (GObject *object)
{
  EvcpDbusEngine *self = EVCP_DBUS_ENGINE (object);

  g_clear_pointer (&self->subscribers, g_ptr_array_unref);
  G_OBJECT_CLASS (evcp_dbus_engine_parent_class)->finalize (object);
}

static void
evcp_dbus_engine_class_init (EvcpDbusEngineClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = evcp_dbus_engine_dispose;
  object_class->finalize = evcp_dbus_engine_finalize;
}

static void
evcp_dbus_engine_init (EvcpDbusEngine *self)
{
  self->skeleton = evcp_gdbus_engine1_skeleton_new ();
  evcp_gdbus_engine1_set_ocpp_state (self->skeleton, "DISABLED");
  evcp_gdbus_engine1_set_ocpp_error (self->skeleton, "");
  self->subscribers = g_ptr_array_new_with_free_func ((GDestroyNotify) subscriber_free);
}
