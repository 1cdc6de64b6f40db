#define G_LOG_DOMAIN "evcp-engine"

#include "evcp-build-config.h"

#include <glib/gi18n-lib.h>

#include "evcp-charging-request-handler.h"
#include "evcp-engine.h"
#include "evcp-log.h"
#include "evcp-plugin.h"
#include "evcp-system-notification-handler.h"
#include "evcp-user-info-handler.h"

#define SHUTDOWN_TIMEOUT_MS 3000

struct _EvcpEngine
{
  GObject           parent_instance;

  EvcpConfig       *config;
  EvcpKafkaService *kafka;
  EvcpUserRegistry *users;
  gboolean          started;
};

G_DEFINE_TYPE (EvcpEngine, evcp_engine, G_TYPE_OBJECT)

enum {
  SIGNAL_CHARGING_REQUEST,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

static void
on_charging_request (EvcpChargingRequestHandler *handler,
                     EvcpChargingRequest        *request,
                     EvcpEngine                 *self)
{
  g_autofree gchar *duration = NULL;

  g_signal_emit (self, signals[SIGNAL_CHARGING_REQUEST], 0, request);
  /* the session logic logs what it does with it */
  if (!evcp_log_enabled (G_LOG_LEVEL_INFO, G_LOG_DOMAIN))
    return;
  duration = g_strdup_printf ("%" G_GINT64_FORMAT, evcp_charging_request_get_max_duration_s (request));
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                    "EVCP_USER_ID", evcp_charging_request_get_user_id (request),
                    /* TRANSLATORS: user id, user name, kW, seconds */
                    "MESSAGE", _("Charging request from %s (%s): %.1f kW for at most %s s"),
                    evcp_charging_request_get_user_id (request),
                    evcp_charging_request_get_user_name (request) != NULL ?
                      evcp_charging_request_get_user_name (request) : _("unknown user"),
                    evcp_charging_request_get_requested_power_kw (request),
                    duration);
}

static void
on_message_done (EvcpKafkaService *kafka, EvcpMessage *message, GError *dead_letter_error,
                 EvcpEngine *self)
{
  g_autofree gchar *what = NULL;

  if (!evcp_log_enabled (G_LOG_LEVEL_INFO, G_LOG_DOMAIN))
    return;
  what = evcp_message_describe (message);
  if (dead_letter_error == NULL)
    g_info (_("Handled %s"), what);
  else
    g_info (_("Dead-lettered %s"), what);
}

/* The built-in handlers, registered from a table. */
typedef EvcpMessageHandler *(*HandlerFactory) (EvcpEngine *self);

static EvcpMessageHandler *
make_user_info (EvcpEngine *self)
{
  return EVCP_MESSAGE_HANDLER (evcp_user_info_handler_new (self->users));
}

static EvcpMessageHandler *
make_charging_request (EvcpEngine *self)
{
  EvcpChargingRequestHandler *handler = evcp_charging_request_handler_new (self->config->cp_id, self->users);

  g_signal_connect_object (handler, "charging-request", G_CALLBACK (on_charging_request), self, 0);
  return EVCP_MESSAGE_HANDLER (handler);
}

static EvcpMessageHandler *
make_system_notification (EvcpEngine *self)
{
  return EVCP_MESSAGE_HANDLER (evcp_system_notification_handler_new (self->config->cp_id));
}

static const HandlerFactory builtin_handlers[] = {
  make_user_info,
  make_charging_request,
  make_system_notification,
};

EvcpEngine *
evcp_engine_new (EvcpConfig *config)
{
  EvcpEngine *self;

  g_return_val_if_fail (config != NULL, NULL);

  self = g_object_new (EVCP_TYPE_ENGINE, NULL);
  self->config = evcp_config_copy (config);
  self->users = evcp_user_registry_new (0);
  self->kafka = evcp_kafka_service_new (self->config);
  /* a line per message only for those who asked for info (--verbose) */
  if (evcp_log_enabled (G_LOG_LEVEL_INFO, G_LOG_DOMAIN))
    g_signal_connect_object (self->kafka, "message-done", G_CALLBACK (on_message_done), self, 0);
  return self;
}

gboolean
evcp_engine_start (EvcpEngine *self, GError **error)
{
  g_return_val_if_fail (EVCP_IS_ENGINE (self), FALSE);
  g_return_val_if_fail (!self->started, FALSE);

  if (!evcp_config_validate (self->config, error))
    return FALSE;

  for (gsize i = 0; i < G_N_ELEMENTS (builtin_handlers); i++)
    {
      g_autoptr(EvcpMessageHandler) handler = builtin_handlers[i] (self);

      if (!evcp_kafka_service_register_handler (self->kafka, handler, error))
        return FALSE;
    }

  if (self->config->plugin_dir != NULL)
    {
      g_autoptr(GError) local_error = NULL;
      g_auto(GStrv) loaded = evcp_plugins_load (self->config->plugin_dir,
                                                EVCP_ENGINE_PLUGIN_SYMBOL,
                                                self->kafka, self->config, &local_error);

      /* A missing plugin directory costs the plugins, not the Engine. */
      if (loaded == NULL)
        g_warning ("%s", local_error->message);
    }

  if (!evcp_kafka_service_start (self->kafka, error))
    return FALSE;
  self->started = TRUE;
  g_message (_("Engine of %s started"), self->config->cp_id);
  return TRUE;
}

void
evcp_engine_stop (EvcpEngine *self)
{
  g_return_if_fail (EVCP_IS_ENGINE (self));

  if (!self->started)
    return;
  self->started = FALSE;
  evcp_kafka_service_stop (self->kafka, SHUTDOWN_TIMEOUT_MS);
  g_message (_("Engine of %s stopped"), self->config->cp_id);
}

EvcpConfig *
evcp_engine_get_config (EvcpEngine *self)
{
  g_return_val_if_fail (EVCP_IS_ENGINE (self), NULL);
  return self->config;
}

EvcpKafkaService *
evcp_engine_get_kafka_service (EvcpEngine *self)
{
  g_return_val_if_fail (EVCP_IS_ENGINE (self), NULL);
  return self->kafka;
}

EvcpUserRegistry *
evcp_engine_get_user_registry (EvcpEngine *self)
{
  g_return_val_if_fail (EVCP_IS_ENGINE (self), NULL);
  return self->users;
}

static void
evcp_engine_dispose (GObject *object)
{
  EvcpEngine *self = EVCP_ENGINE (object);

  evcp_engine_stop (self);
  g_clear_object (&self->kafka);
  g_clear_object (&self->users);
  G_OBJECT_CLASS (evcp_engine_parent_class)->dispose (object);
}

static void
evcp_engine_finalize (GObject *object)
{
  EvcpEngine *self = EVCP_ENGINE (object);

  g_clear_pointer (&self->config, evcp_config_free);
  G_OBJECT_CLASS (evcp_engine_parent_class)->finalize (object);
}

static void
evcp_engine_class_init (EvcpEngineClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = evcp_engine_dispose;
  object_class->finalize = evcp_engine_finalize;

  /**
   * EvcpEngine::charging-request:
   * @request: a valid request for this CP, for the session logic
   */
  signals[SIGNAL_CHARGING_REQUEST] =
    g_signal_new ("charging-request", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, EVCP_TYPE_CHARGING_REQUEST);
}

static void
evcp_engine_init (EvcpEngine *self)
{
}
