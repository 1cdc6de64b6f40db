/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib-object.h>

#include "evcp-config.h"
#include "evcp-dispatcher.h"
#include "evcp-kafka-producer.h"
#include "evcp-message-handler.h"
#include "evcp-plugin-services.h"

G_BEGIN_DECLS

/**
 * EvcpKafkaState:
 * @EVCP_KAFKA_STATE_STOPPED: not started, or stopped
 * @EVCP_KAFKA_STATE_CONNECTING: started, no broker has answered yet
 * @EVCP_KAFKA_STATE_CONNECTED: consuming: a broker answers and the
 *   consumer has its partitions
 * @EVCP_KAFKA_STATE_DISCONNECTED: no broker answers (the service reconnects)
 * @EVCP_KAFKA_STATE_ASSIGNING: a broker answers, but the consumer has no
 *   partition (joining its group, or the group gave it none)
 */
typedef enum {
  EVCP_KAFKA_STATE_STOPPED,
  EVCP_KAFKA_STATE_CONNECTING,
  EVCP_KAFKA_STATE_CONNECTED,
  EVCP_KAFKA_STATE_DISCONNECTED,
  EVCP_KAFKA_STATE_ASSIGNING,
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

/* evcp_kafka_service_register_handler (), _unregister_handler (),
 * _add_done_hook () and _remove_done_hook (): evcp-plugin-services.h */
EvcpDispatcher    *evcp_kafka_service_get_dispatcher     (EvcpKafkaService    *self);
EvcpKafkaProducer *evcp_kafka_service_get_producer       (EvcpKafkaService    *self);
EvcpKafkaState     evcp_kafka_service_get_state          (EvcpKafkaService    *self);
GVariant          *evcp_kafka_service_get_metrics        (EvcpKafkaService    *self);
gchar             *evcp_kafka_service_get_stall_reason   (EvcpKafkaService    *self);
gchar             *evcp_kafka_service_get_statistics     (EvcpKafkaService    *self);

G_END_DECLS
