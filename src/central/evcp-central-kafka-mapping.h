/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <json-glib/json-glib.h>

#include "evcp-central-registry.h"

G_BEGIN_DECLS

/* What evcp-central reads from Kafka, applied to its registry. */
void evcp_central_kafka_mapping_apply (EvcpCentralRegistry *registry,
                                       const gchar         *topic,
                                       JsonObject          *root);

G_END_DECLS
