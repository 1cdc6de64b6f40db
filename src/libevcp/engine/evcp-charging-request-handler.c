/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "evcp-handlers"

#include "evcp-build-config.h"

#include <string.h>

#include <glib/gi18n-lib.h>

#include "evcp-charging-request-handler.h"
#include "evcp-error.h"
#include "evcp-frame-field.h"
#include "evcp-log.h"

struct _EvcpChargingRequestHandler
{
  GObject           parent_instance;

  gchar            *cp_id;
  EvcpUserRegistry *registry;   /* nullable */

  /* atomic: handle() may run in any thread */
  guint             accepted;
  guint             skipped;
  guint             rejected;
  gint              warned_unconnected;
};

enum {
  PROP_0,
  PROP_CP_ID,
  PROP_REGISTRY,
  N_PROPS
};

enum {
  SIGNAL_CHARGING_REQUEST,
  N_SIGNALS
};

static GParamSpec *props[N_PROPS];
static guint signals[N_SIGNALS];

static void evcp_charging_request_handler_iface_init (EvcpMessageHandlerInterface *iface);

G_DEFINE_TYPE_WITH_CODE (EvcpChargingRequestHandler, evcp_charging_request_handler, G_TYPE_OBJECT,
                         G_IMPLEMENT_INTERFACE (EVCP_TYPE_MESSAGE_HANDLER,
                                                evcp_charging_request_handler_iface_init))

static const gchar *
evcp_charging_request_handler_get_name (EvcpMessageHandler *handler)
{
  return EVCP_CHARGING_REQUEST_HANDLER_NAME;
}

static gboolean
evcp_charging_request_handler_can_handle (EvcpMessageHandler *handler, EvcpMessage *message)
{
  return g_strcmp0 (evcp_message_get_kind (message), EVCP_CHARGING_REQUEST_KIND) == 0;
}

static gboolean
get_nonempty_string (EvcpMessage *message, const gchar *field, const gchar **out, GError **error)
{
  if (!evcp_message_get_string (message, field, TRUE, out, error))
    return FALSE;
  if (**out == '\0')
    {
      g_set_error (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE,
                   /* TRANSLATORS: %s is a message field name */
                   _("Field \"%s\" must not be empty"), field);
      return FALSE;
    }
  return TRUE;
}

static gboolean
get_requested_power (EvcpMessage *message, gdouble *out, GError **error)
{
  if (!evcp_message_get_number (message, "requested_power", TRUE, out, error))
    return FALSE;
  if (!(*out > 0) || *out > EVCP_CHARGING_REQUEST_MAX_POWER_KW)
    {
      g_set_error (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE,
                   /* TRANSLATORS: the first %g is the largest power accepted, the second the one received */
                   _("Field \"requested_power\" must be more than 0 and at most %g kW, not %g"),
                   EVCP_CHARGING_REQUEST_MAX_POWER_KW, *out);
      return FALSE;
    }
  return TRUE;
}

static gboolean
get_max_duration (EvcpMessage *message, gint64 *out, GError **error)
{
  if (!evcp_message_get_integer (message, "max_duration", TRUE, out, error))
    return FALSE;
  if (*out <= 0 || *out > EVCP_CHARGING_REQUEST_MAX_DURATION_S)
    {
      g_autofree gchar *value = g_strdup_printf ("%" G_GINT64_FORMAT, *out);

      g_set_error (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE,
                   /* TRANSLATORS: %d is the longest duration accepted, %s the one received */
                   _("Field \"max_duration\" must be more than 0 and at most %d seconds, not %s"),
                   EVCP_CHARGING_REQUEST_MAX_DURATION_S, value);
      return FALSE;
    }
  return TRUE;
}

/* The producer's "request_id", when it gives one (1 to 128 bytes of text):
 * "id:<request_id>" identifies the request among every delivery of it; else
 * NULL, and the request is identified by where it was read. */
static gboolean
get_request_id (EvcpMessage *message, gchar **out, GError **error)
{
  const gchar *given = NULL;

  *out = NULL;
  /* from the scanner's index, as the other fields: no json-glib tree */
  if (!evcp_message_get_string (message, "request_id", FALSE, &given, error))
    return FALSE;
  if (given == NULL)
    return TRUE;
  if (!evcp_frame_field_check (given, 1, EVCP_FIELD_ID_MAX, "Field \"request_id\"",
                               EVCP_ERROR_INVALID_MESSAGE, error))
    return FALSE;
  *out = g_strconcat ("id:", given, NULL);
  return TRUE;
}

static gboolean
reject (EvcpChargingRequestHandler *self)
{
  g_atomic_int_inc (&self->rejected);
  return FALSE;
}

static gboolean
evcp_charging_request_handler_handle (EvcpMessageHandler  *handler,
                                      EvcpMessage         *message,
                                      GError             **error)
{
  EvcpChargingRequestHandler *self = EVCP_CHARGING_REQUEST_HANDLER (handler);
  g_autoptr(EvcpUser) user = NULL;
  g_autoptr(EvcpChargingRequest) request = NULL;
  g_autofree gchar *origin = NULL;
  g_autofree gchar *request_id = NULL;
  const gchar *cp_id = NULL;
  const gchar *user_id = NULL;
  gdouble power = 0;
  gint64 duration = 0;

  /* Most of the fleet's traffic is for other CPs: look at cp_id first. */
  if (!get_nonempty_string (message, "cp_id", &cp_id, error))
    return reject (self);
  if (strcmp (cp_id, self->cp_id) != 0)
    {
      g_atomic_int_inc (&self->skipped);
      EVCP_DEBUG ("Skipping a charging request for %.64s, this is %s", cp_id, self->cp_id);
      return TRUE;
    }

  /* the user_id reaches Central's frames (the ticket): refused here, before
   * a session starts, rather than a supply whose ticket cannot be written */
  if (!get_nonempty_string (message, "user_id", &user_id, error) ||
      !evcp_frame_field_check (user_id, 1, EVCP_FIELD_ID_MAX, "Field \"user_id\"",
                               EVCP_ERROR_INVALID_MESSAGE, error) ||
      !get_requested_power (message, &power, error) ||
      !get_max_duration (message, &duration, error))
    return reject (self);

  if (self->registry != NULL)
    user = evcp_user_registry_touch (self->registry, user_id);
  origin = evcp_message_describe (message);
  if (!get_request_id (message, &request_id, error))
    return reject (self);
  request = evcp_charging_request_new (user_id, cp_id, power, duration,
                                       user != NULL ? evcp_user_get_name (user) : NULL,
                                       user != NULL ? evcp_user_get_vehicle (user) : NULL,
                                       origin, evcp_message_get_timestamp (message));
  evcp_charging_request_set_request_id (request, request_id);
  evcp_charging_request_set_message (request, message);
  g_atomic_int_inc (&self->accepted);

  if (!g_signal_has_handler_pending (self, signals[SIGNAL_CHARGING_REQUEST], 0, FALSE))
    {
      if (g_atomic_int_compare_and_exchange (&self->warned_unconnected, 0, 1))
        g_warning (_("Nothing is connected to the charging-request signal: "
                      "charging requests for %s (first: %s) are not acted upon"),
                   self->cp_id, origin);
      return TRUE;
    }
  EVCP_DEBUG ("Charging request for %s from %s: %g kW, at most %" G_GINT64_FORMAT " s (%s)",
           cp_id, user_id, power, duration, origin);
  g_signal_emit (self, signals[SIGNAL_CHARGING_REQUEST], 0, request);
  return TRUE;
}

static void
evcp_charging_request_handler_iface_init (EvcpMessageHandlerInterface *iface)
{
  iface->get_name = evcp_charging_request_handler_get_name;
  iface->can_handle = evcp_charging_request_handler_can_handle;
  iface->handle = evcp_charging_request_handler_handle;
}

static void
evcp_charging_request_handler_get_property (GObject    *object,
                                            guint       prop_id,
                                            GValue     *value,
                                            GParamSpec *pspec)
{
  EvcpChargingRequestHandler *self = EVCP_CHARGING_REQUEST_HANDLER (object);

  switch (prop_id)
    {
    case PROP_CP_ID:
      g_value_set_string (value, self->cp_id);
      break;
    case PROP_REGISTRY:
      g_value_set_object (value, self->registry);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
evcp_charging_request_handler_set_property (GObject      *object,
                                            guint         prop_id,
                                            const GValue *value,
                                            GParamSpec   *pspec)
{
  EvcpChargingRequestHandler *self = EVCP_CHARGING_REQUEST_HANDLER (object);

  switch (prop_id)
    {
    case PROP_CP_ID:
      self->cp_id = g_value_dup_string (value);
      break;
    case PROP_REGISTRY:
      self->registry = g_value_dup_object (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
evcp_charging_request_handler_constructed (GObject *object)
{
  EvcpChargingRequestHandler *self = EVCP_CHARGING_REQUEST_HANDLER (object);

  G_OBJECT_CLASS (evcp_charging_request_handler_parent_class)->constructed (object);
  if (self->cp_id == NULL || *self->cp_id == '\0')
    {
      g_critical ("%s needs a non-empty cp-id", G_OBJECT_TYPE_NAME (self));
      /* never matches a message's cp_id, which must not be empty */
      g_free (self->cp_id);
      self->cp_id = g_strdup ("");
    }
}

static void
evcp_charging_request_handler_dispose (GObject *object)
{
  EvcpChargingRequestHandler *self = EVCP_CHARGING_REQUEST_HANDLER (object);

  g_clear_object (&self->registry);
  G_OBJECT_CLASS (evcp_charging_request_handler_parent_class)->dispose (object);
}

static void
evcp_charging_request_handler_finalize (GObject *object)
{
  EvcpChargingRequestHandler *self = EVCP_CHARGING_REQUEST_HANDLER (object);

  g_free (self->cp_id);
  G_OBJECT_CLASS (evcp_charging_request_handler_parent_class)->finalize (object);
}

static void
evcp_charging_request_handler_class_init (EvcpChargingRequestHandlerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = evcp_charging_request_handler_get_property;
  object_class->set_property = evcp_charging_request_handler_set_property;
  object_class->constructed = evcp_charging_request_handler_constructed;
  object_class->dispose = evcp_charging_request_handler_dispose;
  object_class->finalize = evcp_charging_request_handler_finalize;

  /**
   * EvcpChargingRequestHandler:cp-id:
   *
   * The id of this charging point; requests for other CPs are skipped.
   */
  props[PROP_CP_ID] =
    g_param_spec_string ("cp-id", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * EvcpChargingRequestHandler:registry:
   *
   * Where the names and vehicles of known users are looked up; may be %NULL.
   */
  props[PROP_REGISTRY] =
    g_param_spec_object ("registry", NULL, NULL,
                         EVCP_TYPE_USER_REGISTRY,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, props);

  /**
   * EvcpChargingRequestHandler::charging-request:
   * @self: the handler
   * @request: (transfer none): the validated request for this charging point
   *
   * Emitted, in the thread that handles the message, for every valid
   * request for this charging point. Take a reference to keep @request.
   */
  signals[SIGNAL_CHARGING_REQUEST] =
    g_signal_new ("charging-request",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1,
                  EVCP_TYPE_CHARGING_REQUEST);
}

static void
evcp_charging_request_handler_init (EvcpChargingRequestHandler *self)
{
}

/**
 * evcp_charging_request_handler_new:
 * @cp_id: the id of this charging point
 * @registry: (nullable): known users, to add their name and vehicle to requests
 *
 * Returns: (transfer full): the "charging-request" handler of CHARGING_REQUEST messages
 */
EvcpChargingRequestHandler *
evcp_charging_request_handler_new (const gchar *cp_id, EvcpUserRegistry *registry)
{
  g_return_val_if_fail (cp_id != NULL && *cp_id != '\0', NULL);
  g_return_val_if_fail (registry == NULL || EVCP_IS_USER_REGISTRY (registry), NULL);

  return g_object_new (EVCP_TYPE_CHARGING_REQUEST_HANDLER,
                       "cp-id", cp_id,
                       "registry", registry,
                       NULL);
}

const gchar *
evcp_charging_request_handler_get_cp_id (EvcpChargingRequestHandler *self)
{
  g_return_val_if_fail (EVCP_IS_CHARGING_REQUEST_HANDLER (self), NULL);
  return self->cp_id;
}

/* Returns: (transfer none) (nullable): the registry of known users */
EvcpUserRegistry *
evcp_charging_request_handler_get_registry (EvcpChargingRequestHandler *self)
{
  g_return_val_if_fail (EVCP_IS_CHARGING_REQUEST_HANDLER (self), NULL);
  return self->registry;
}

/* Returns: how many valid requests for this charging point were handled */
guint
evcp_charging_request_handler_get_accepted (EvcpChargingRequestHandler *self)
{
  g_return_val_if_fail (EVCP_IS_CHARGING_REQUEST_HANDLER (self), 0);
  return (guint) g_atomic_int_get (&self->accepted);
}

/* Returns: how many requests for other charging points were skipped */
guint
evcp_charging_request_handler_get_skipped (EvcpChargingRequestHandler *self)
{
  g_return_val_if_fail (EVCP_IS_CHARGING_REQUEST_HANDLER (self), 0);
  return (guint) g_atomic_int_get (&self->skipped);
}

/* Returns: how many requests were refused as invalid */
guint
evcp_charging_request_handler_get_rejected (EvcpChargingRequestHandler *self)
{
  g_return_val_if_fail (EVCP_IS_CHARGING_REQUEST_HANDLER (self), 0);
  return (guint) g_atomic_int_get (&self->rejected);
}
