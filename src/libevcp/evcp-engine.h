#pragma once

#include <glib-object.h>

#include "evcp-charging-request.h"
#include "evcp-config.h"
#include "evcp-kafka-service.h"
#include "evcp-user-registry.h"

G_BEGIN_DECLS

#define EVCP_TYPE_ENGINE (evcp_engine_get_type ())
G_DECLARE_FINAL_TYPE (EvcpEngine, evcp_engine, EVCP, ENGINE, GObject)

/* The charging point's Engine: the Kafka service with the built-in handlers
 * and the plugins, and (with later parts) sessions and the Central link. No
 * D-Bus and no main() here. */
EvcpEngine        *evcp_engine_new               (EvcpConfig  *config);
gboolean           evcp_engine_start             (EvcpEngine  *self,
                                                  GError     **error);
void               evcp_engine_stop              (EvcpEngine  *self);
EvcpConfig        *evcp_engine_get_config        (EvcpEngine  *self);
EvcpKafkaService  *evcp_engine_get_kafka_service (EvcpEngine  *self);
EvcpUserRegistry  *evcp_engine_get_user_registry (EvcpEngine  *self);

G_END_DECLS
