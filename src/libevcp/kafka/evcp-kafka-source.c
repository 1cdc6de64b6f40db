/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "evcp-build-config.h"

#include "evcp-kafka-source.h"

typedef struct {
  GSource           source;
  rd_kafka_queue_t *queue;
  GMainContext     *context;
  gint              pending;   /* atomic */
} EvcpKafkaSource;

static gboolean
kafka_source_prepare (GSource *source, gint *timeout)
{
  *timeout = -1;
  return g_atomic_int_get (&((EvcpKafkaSource *) source)->pending) != 0;
}

static gboolean
kafka_source_check (GSource *source)
{
  return g_atomic_int_get (&((EvcpKafkaSource *) source)->pending) != 0;
}

static gboolean
kafka_source_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  EvcpKafkaSource *self = (EvcpKafkaSource *) source;

  g_atomic_int_set (&self->pending, 0);
  if (callback == NULL)
    return G_SOURCE_CONTINUE;
  return callback (user_data);
}

static void
kafka_source_finalize (GSource *source)
{
  EvcpKafkaSource *self = (EvcpKafkaSource *) source;

  /* After this returns librdkafka no longer calls event_cb (it takes the
   * queue lock), so the source may go. */
  rd_kafka_queue_cb_event_enable (self->queue, NULL, NULL);
  rd_kafka_queue_destroy (self->queue);
  g_main_context_unref (self->context);
}

static GSourceFuncs kafka_source_funcs = {
  .prepare = kafka_source_prepare,
  .check = kafka_source_check,
  .dispatch = kafka_source_dispatch,
  .finalize = kafka_source_finalize,
};

/* On a librdkafka thread: must not call librdkafka for this handle. */
static void
event_cb (rd_kafka_t *rk, void *opaque)
{
  EvcpKafkaSource *self = opaque;

  g_atomic_int_set (&self->pending, 1);
  g_main_context_wakeup (self->context);
}

/**
 * evcp_kafka_source_new:
 * @queue: (transfer full): the queue to watch
 * @context: (nullable): where the source will be attached (default: the
 *   global default context)
 *
 * Returns: (transfer full): a source, not yet attached; set its callback
 *   with g_source_set_callback().
 */
GSource *
evcp_kafka_source_new (rd_kafka_queue_t *queue, GMainContext *context)
{
  GSource *source;
  EvcpKafkaSource *self;

  g_return_val_if_fail (queue != NULL, NULL);

  source = g_source_new (&kafka_source_funcs, sizeof (EvcpKafkaSource));
  g_source_set_static_name (source, "[evcp] kafka queue");
  self = (EvcpKafkaSource *) source;
  self->queue = queue;
  self->context = g_main_context_ref (context != NULL ? context : g_main_context_default ());
  /* Whatever is queued already was signalled before we listened. */
  self->pending = 1;
  rd_kafka_queue_cb_event_enable (queue, event_cb, self);
  return source;
}

void
evcp_kafka_source_wake (GSource *source)
{
  EvcpKafkaSource *self = (EvcpKafkaSource *) source;

  g_atomic_int_set (&self->pending, 1);
  g_main_context_wakeup (self->context);
}
