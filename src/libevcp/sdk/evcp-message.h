/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib-object.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/**
 * EvcpMessage:
 *
 * One consumed message: its raw bytes, key and origin, and once parsed its
 * kind, timestamp and fields. A reference-counted boxed type (like #GBytes):
 * cheap to create and drop, which matters at hundreds of thousands of
 * messages a second. Keep one with evcp_message_ref(); it is not meant to
 * be shared between threads while it is being read for the first time.
 */
typedef struct _EvcpMessage EvcpMessage;

#define EVCP_TYPE_MESSAGE (evcp_message_get_type ())
GType          evcp_message_get_type       (void) G_GNUC_CONST;
EvcpMessage   *evcp_message_ref            (EvcpMessage  *self);
void           evcp_message_unref          (EvcpMessage  *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EvcpMessage, evcp_message_unref)

#define EVCP_MESSAGE_DEFAULT_MAX_SIZE  (1024 * 1024)
#define EVCP_MESSAGE_DEFAULT_MAX_DEPTH 32

/**
 * EvcpMessageLimits:
 * @max_size: largest accepted message in bytes (0: %EVCP_MESSAGE_DEFAULT_MAX_SIZE)
 * @max_depth: deepest accepted JSON nesting (0: %EVCP_MESSAGE_DEFAULT_MAX_DEPTH)
 */
typedef struct {
  gsize max_size;
  guint max_depth;
} EvcpMessageLimits;

/* A consumed message: raw bytes and origin, parsed by evcp_message_parse(). */
EvcpMessage   *evcp_message_new            (GBytes       *raw,
                                            GBytes       *key,
                                            const gchar  *topic,
                                            gint32        partition,
                                            gint64        offset);
EvcpMessage   *evcp_message_new_from_json  (const gchar  *json,
                                            GError      **error);

gboolean       evcp_message_parse          (EvcpMessage              *self,
                                            const EvcpMessageLimits  *limits,
                                            GError                  **error);
gboolean       evcp_message_is_parsed      (EvcpMessage  *self);

const gchar   *evcp_message_get_kind       (EvcpMessage  *self);
const gchar   *evcp_message_get_timestamp  (EvcpMessage  *self);
JsonObject    *evcp_message_get_root       (EvcpMessage  *self);
JsonObject    *evcp_message_get_data       (EvcpMessage  *self);
GBytes        *evcp_message_get_raw        (EvcpMessage  *self);
const gchar   *evcp_message_get_key        (EvcpMessage  *self);
GBytes        *evcp_message_get_key_bytes  (EvcpMessage  *self);
const gchar   *evcp_message_get_topic      (EvcpMessage  *self);
gint32         evcp_message_get_partition  (EvcpMessage  *self);
gint64         evcp_message_get_offset     (EvcpMessage  *self);
gchar         *evcp_message_describe       (EvcpMessage  *self) G_GNUC_WARN_UNUSED_RESULT;

/* Field look-up: under "data" first, then at the top level. */
JsonNode      *evcp_message_lookup         (EvcpMessage  *self,
                                            const gchar  *field);
gboolean       evcp_message_has_field      (EvcpMessage  *self,
                                            const gchar  *field);
gboolean       evcp_message_get_string     (EvcpMessage  *self,
                                            const gchar  *field,
                                            gboolean      required,
                                            const gchar **out,
                                            GError      **error);
gboolean       evcp_message_get_number     (EvcpMessage  *self,
                                            const gchar  *field,
                                            gboolean      required,
                                            gdouble      *out,
                                            GError      **error);
gboolean       evcp_message_get_integer    (EvcpMessage  *self,
                                            const gchar  *field,
                                            gboolean      required,
                                            gint64       *out,
                                            GError      **error);

G_END_DECLS
