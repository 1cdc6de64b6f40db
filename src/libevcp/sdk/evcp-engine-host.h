/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib-object.h>

#include "evcp-plugin-services.h"

G_BEGIN_DECLS

/*
 * What an Engine plugin may ask of the service it is given, as an
 * interface: EvcpKafkaService (a type of the programs, not of libevcp.so)
 * implements it, and the SDK's evcp_kafka_service_register_handler() & co.
 * call through it. Not installed: for evcp's own programs.
 */
#define EVCP_TYPE_ENGINE_HOST (evcp_engine_host_get_type ())
G_DECLARE_INTERFACE (EvcpEngineHost, evcp_engine_host, EVCP, ENGINE_HOST, GObject)

struct _EvcpEngineHostInterface
{
  GTypeInterface parent_iface;

  gboolean (*register_handler)   (EvcpEngineHost      *self,
                                  EvcpMessageHandler  *handler,
                                  GError             **error);
  gboolean (*unregister_handler) (EvcpEngineHost      *self,
                                  const gchar         *name,
                                  GError             **error);
  guint    (*add_done_hook)      (EvcpEngineHost      *self,
                                  EvcpKafkaDoneFunc    func,
                                  gpointer             user_data);
  void     (*remove_done_hook)   (EvcpEngineHost      *self,
                                  guint                id);
};

G_END_DECLS
