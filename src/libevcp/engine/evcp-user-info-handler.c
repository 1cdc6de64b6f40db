/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "evcp-handlers"

#include "evcp-build-config.h"

#include <glib/gi18n-lib.h>

#include "evcp-error.h"
#include "evcp-log.h"
#include "evcp-user-info-handler.h"

struct _EvcpUserInfoHandler
{
  GObject           parent_instance;
  EvcpUserRegistry *registry;
};

enum {
  PROP_0,
  PROP_REGISTRY,
  N_PROPS
};

static GParamSpec *props[N_PROPS];

static void evcp_user_info_handler_iface_init (EvcpMessageHandlerInterface *iface);

G_DEFINE_TYPE_WITH_CODE (EvcpUserInfoHandler, evcp_user_info_handler, G_TYPE_OBJECT,
                         G_IMPLEMENT_INTERFACE (EVCP_TYPE_MESSAGE_HANDLER,
                                                evcp_user_info_handler_iface_init))

static const gchar *
evcp_user_info_handler_get_name (EvcpMessageHandler *handler)
{
  return EVCP_USER_INFO_HANDLER_NAME;
}

static gboolean
evcp_user_info_handler_can_handle (EvcpMessageHandler *handler, EvcpMessage *message)
{
  return g_strcmp0 (evcp_message_get_kind (message), EVCP_USER_INFO_KIND) == 0;
}

static gboolean
evcp_user_info_handler_handle (EvcpMessageHandler  *handler,
                               EvcpMessage         *message,
                               GError             **error)
{
  EvcpUserInfoHandler *self = EVCP_USER_INFO_HANDLER (handler);
  const gchar *user_id = NULL;
  const gchar *name = NULL;
  const gchar *vehicle = NULL;

  g_return_val_if_fail (self->registry != NULL, FALSE);

  if (!evcp_message_get_string (message, "user_id", TRUE, &user_id, error))
    return FALSE;
  if (*user_id == '\0')
    {
      g_set_error_literal (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE,
                           _("Field \"user_id\" must not be empty"));
      return FALSE;
    }
  if (!evcp_message_get_string (message, "name", FALSE, &name, error) ||
      !evcp_message_get_string (message, "vehicle", FALSE, &vehicle, error))
    return FALSE;
  if (!evcp_user_registry_update (self->registry, user_id, name, vehicle, error))
    return FALSE;

  EVCP_DEBUG ("User %s updated (name %s, vehicle %s)", user_id,
           name != NULL ? "given" : "absent", vehicle != NULL ? "given" : "absent");
  return TRUE;
}

static void
evcp_user_info_handler_iface_init (EvcpMessageHandlerInterface *iface)
{
  iface->get_name = evcp_user_info_handler_get_name;
  iface->can_handle = evcp_user_info_handler_can_handle;
  iface->handle = evcp_user_info_handler_handle;
}

static void
evcp_user_info_handler_get_property (GObject    *object,
                                     guint       prop_id,
                                     GValue     *value,
                                     GParamSpec *pspec)
{
  EvcpUserInfoHandler *self = EVCP_USER_INFO_HANDLER (object);

  switch (prop_id)
    {
    case PROP_REGISTRY:
      g_value_set_object (value, self->registry);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
evcp_user_info_handler_set_property (GObject      *object,
                                     guint         prop_id,
                                     const GValue *value,
                                     GParamSpec   *pspec)
{
  EvcpUserInfoHandler *self = EVCP_USER_INFO_HANDLER (object);

  switch (prop_id)
    {
    case PROP_REGISTRY:
      self->registry = g_value_dup_object (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
evcp_user_info_handler_constructed (GObject *object)
{
  EvcpUserInfoHandler *self = EVCP_USER_INFO_HANDLER (object);

  G_OBJECT_CLASS (evcp_user_info_handler_parent_class)->constructed (object);
  g_return_if_fail (self->registry != NULL);
}

static void
evcp_user_info_handler_dispose (GObject *object)
{
  EvcpUserInfoHandler *self = EVCP_USER_INFO_HANDLER (object);

  g_clear_object (&self->registry);
  G_OBJECT_CLASS (evcp_user_info_handler_parent_class)->dispose (object);
}

static void
evcp_user_info_handler_class_init (EvcpUserInfoHandlerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = evcp_user_info_handler_get_property;
  object_class->set_property = evcp_user_info_handler_set_property;
  object_class->constructed = evcp_user_info_handler_constructed;
  object_class->dispose = evcp_user_info_handler_dispose;

  /**
   * EvcpUserInfoHandler:registry:
   *
   * The registry that USER_INFO messages update; required.
   */
  props[PROP_REGISTRY] =
    g_param_spec_object ("registry", NULL, NULL,
                         EVCP_TYPE_USER_REGISTRY,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, props);
}

static void
evcp_user_info_handler_init (EvcpUserInfoHandler *self)
{
}

/**
 * evcp_user_info_handler_new:
 * @registry: where to remember the users
 *
 * Returns: (transfer full): the "user-info" handler of USER_INFO messages
 */
EvcpUserInfoHandler *
evcp_user_info_handler_new (EvcpUserRegistry *registry)
{
  g_return_val_if_fail (EVCP_IS_USER_REGISTRY (registry), NULL);
  return g_object_new (EVCP_TYPE_USER_INFO_HANDLER, "registry", registry, NULL);
}

/* Returns: (transfer none): the registry this handler updates */
EvcpUserRegistry *
evcp_user_info_handler_get_registry (EvcpUserInfoHandler *self)
{
  g_return_val_if_fail (EVCP_IS_USER_INFO_HANDLER (self), NULL);
  return self->registry;
}
