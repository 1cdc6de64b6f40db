/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "evcp-engine.h"
#include "evcp-kafka-service.h"

G_BEGIN_DECLS

/*
 * The Engine's metrics in the Prometheus text format (evcp_engine_*
 * families, label cp_id): messages received, handled, invalid and
 * dead-lettered; per handler, messages handled and failed and retries; per
 * kind, messages received, handled and failed; the Kafka connection state.
 * Built from evcp_kafka_service_get_metrics() and
 * evcp_dispatcher_list_handlers(). docs/monitor.md lists every family.
 */
void evcp_engine_metrics_format (EvcpKafkaService *service,
                                 const gchar      *cp_id,
                                 GString          *out);

/* An EvcpMetricsFunc for EvcpMetricsServer: @engine is an EvcpEngine. */
void evcp_engine_metrics_func   (GString          *out,
                                 gpointer          engine);

G_END_DECLS
