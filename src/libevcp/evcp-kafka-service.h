#pragma once

#include <glib-object.h>

#include "evcp-config.h"
#include "evcp-dispatcher.h"
#include "evcp-kafka-producer.h"
#include "evcp-message-handler.h"

G_BEGIN_DECLS

typedef enum {
  EVCP_KAFKA_STATE_STOPPED,
  EVCP_KAFKA_STATE_CONNECTING,
  EVCP_KAFKA_STATE_CONNECTED,
  EVCP_KAFKA_STATE_DISCONNECTED,
} EvcpKafkaState;

GType        evcp_kafka_state_get_type  (void) G_GNUC_CONST;
#define EVCP_TYPE_KAFKA_STATE (evcp_kafka_state_get_type ())
const gchar *evcp_kafka_state_to_string (EvcpKafkaState state);

#define EVCP_TYPE_KAFKA_SERVICE (evcp_kafka_service_get_type ())
G_DECLARE_FINAL_TYPE (EvcpKafkaService, evcp_kafka_service, EVCP, KAFKA_SERVICE, GObject)

EvcpKafkaService  *evcp_kafka_service_new                (EvcpConfig          *config);
gboolean           evcp_kafka_service_start              (EvcpKafkaService    *self,
                                                          GError             **error);
void               evcp_kafka_service_stop               (EvcpKafkaService    *self,
                                                          guint                timeout_ms);

gboolean           evcp_kafka_service_register_handler   (EvcpKafkaService    *self,
                                                          EvcpMessageHandler  *handler,
                                                          GError             **error);
gboolean           evcp_kafka_service_unregister_handler (EvcpKafkaService    *self,
                                                          const gchar         *name,
                                                          GError             **error);
EvcpDispatcher    *evcp_kafka_service_get_dispatcher     (EvcpKafkaService    *self);
EvcpKafkaProducer *evcp_kafka_service_get_producer       (EvcpKafkaService    *self);
EvcpKafkaState     evcp_kafka_service_get_state          (EvcpKafkaService    *self);
GVariant          *evcp_kafka_service_get_metrics        (EvcpKafkaService    *self);

G_END_DECLS
