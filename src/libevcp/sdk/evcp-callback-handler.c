/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "evcp-build-config.h"

#include <gio/gio.h>

#include "evcp-callback-handler.h"

struct _EvcpCallbackHandler
{
  GObject                  parent_instance;
  gchar                   *name;
  gchar                   *kind;
  EvcpCallbackHandlerFunc  func;
  gpointer                 user_data;
  GDestroyNotify           destroy;
};

static void evcp_callback_handler_iface_init (EvcpMessageHandlerInterface *iface);

G_DEFINE_TYPE_WITH_CODE (EvcpCallbackHandler, evcp_callback_handler, G_TYPE_OBJECT,
                         G_IMPLEMENT_INTERFACE (EVCP_TYPE_MESSAGE_HANDLER,
                                                evcp_callback_handler_iface_init))

static const gchar *
evcp_callback_handler_get_name (EvcpMessageHandler *handler)
{
  return EVCP_CALLBACK_HANDLER (handler)->name;
}

static gboolean
evcp_callback_handler_can_handle (EvcpMessageHandler *handler, EvcpMessage *message)
{
  EvcpCallbackHandler *self = EVCP_CALLBACK_HANDLER (handler);

  return self->kind == NULL || g_strcmp0 (self->kind, evcp_message_get_kind (message)) == 0;
}

static gboolean
evcp_callback_handler_handle (EvcpMessageHandler *handler, EvcpMessage *message, GError **error)
{
  EvcpCallbackHandler *self = EVCP_CALLBACK_HANDLER (handler);

  return self->func (message, self->user_data, error);
}

static void
evcp_callback_handler_iface_init (EvcpMessageHandlerInterface *iface)
{
  iface->get_name = evcp_callback_handler_get_name;
  iface->can_handle = evcp_callback_handler_can_handle;
  iface->handle = evcp_callback_handler_handle;
}

static void
evcp_callback_handler_finalize (GObject *object)
{
  EvcpCallbackHandler *self = EVCP_CALLBACK_HANDLER (object);

  if (self->destroy != NULL)
    self->destroy (self->user_data);
  g_free (self->name);
  g_free (self->kind);
  G_OBJECT_CLASS (evcp_callback_handler_parent_class)->finalize (object);
}

static void
evcp_callback_handler_class_init (EvcpCallbackHandlerClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = evcp_callback_handler_finalize;
}

static void
evcp_callback_handler_init (EvcpCallbackHandler *self)
{
}

EvcpMessageHandler *
evcp_callback_handler_new (const gchar             *name,
                           const gchar             *kind,
                           EvcpCallbackHandlerFunc  func,
                           gpointer                 user_data,
                           GDestroyNotify           destroy)
{
  EvcpCallbackHandler *self;

  g_return_val_if_fail (name != NULL && *name != '\0', NULL);
  g_return_val_if_fail (func != NULL, NULL);

  self = g_object_new (EVCP_TYPE_CALLBACK_HANDLER, NULL);
  self->name = g_strdup (name);
  self->kind = g_strdup (kind);
  self->func = func;
  self->user_data = user_data;
  self->destroy = destroy;
  return EVCP_MESSAGE_HANDLER (self);
}
