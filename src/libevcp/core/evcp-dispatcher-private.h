/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "evcp-dispatcher.h"

G_BEGIN_DECLS

/* For EvcpKafkaService: between these two calls the dispatcher looks up
 * the listeners of its message-handled signal once, not per message. */
void evcp_dispatcher_begin_batch (EvcpDispatcher *self);
void evcp_dispatcher_end_batch   (EvcpDispatcher *self);

G_END_DECLS
