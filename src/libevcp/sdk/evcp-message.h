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
 *
 * Since: 0.1
 */
typedef struct _EvcpMessage EvcpMessage;

#define EVCP_TYPE_MESSAGE (evcp_message_get_type ())

/**
 * evcp_message_get_type:
 *
 * The boxed type of #EvcpMessage.
 *
 * Returns: its #GType
 *
 * Since: 0.1
 */
GType          evcp_message_get_type       (void) G_GNUC_CONST;

/**
 * evcp_message_ref:
 * @self: a message
 *
 * Takes a reference on @self.
 *
 * Returns: (transfer full): @self
 *
 * Since: 0.1
 */
EvcpMessage   *evcp_message_ref            (EvcpMessage  *self);

/**
 * evcp_message_unref:
 * @self: (transfer full): a message
 *
 * Drops a reference on @self; the last one frees it.
 *
 * Since: 0.1
 */
void           evcp_message_unref          (EvcpMessage  *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EvcpMessage, evcp_message_unref)

/**
 * EVCP_MESSAGE_DEFAULT_MAX_SIZE:
 *
 * The largest message accepted by default, in bytes: 1 MiB ([kafka]
 * max-message-size).
 *
 * Since: 0.1
 */
#define EVCP_MESSAGE_DEFAULT_MAX_SIZE  (1024 * 1024)

/**
 * EVCP_MESSAGE_DEFAULT_MAX_DEPTH:
 *
 * The deepest JSON nesting accepted by default ([kafka] max-depth).
 *
 * Since: 0.1
 */
#define EVCP_MESSAGE_DEFAULT_MAX_DEPTH 32

/**
 * EvcpMessageLimits:
 * @max_size: largest accepted message in bytes (0: %EVCP_MESSAGE_DEFAULT_MAX_SIZE)
 * @max_depth: deepest accepted JSON nesting (0: %EVCP_MESSAGE_DEFAULT_MAX_DEPTH)
 *
 * The limits evcp_message_parse() enforces.
 *
 * Since: 0.1
 */
typedef struct {
  gsize max_size;
  guint max_depth;
} EvcpMessageLimits;

/**
 * evcp_message_new:
 * @raw: the message's bytes, as consumed
 * @key: (nullable): its Kafka key
 * @topic: (nullable): where it was read
 * @partition: its partition, or -1
 * @offset: its offset, or -1
 *
 * A consumed message, not parsed yet: evcp_message_parse() reads it.
 *
 * Returns: (transfer full): the message
 *
 * Since: 0.1
 */
EvcpMessage   *evcp_message_new            (GBytes       *raw,
                                            GBytes       *key,
                                            const gchar  *topic,
                                            gint32        partition,
                                            gint64        offset);
/**
 * evcp_message_new_from_json:
 * @json: the message, a JSON object
 * @error: where a parse failure is said
 *
 * A message made of JSON text and parsed with the default limits, as a
 * test or a plugin builds one.
 *
 * Returns: (transfer full) (nullable): the parsed message, or %NULL with @error set
 *
 * Since: 0.1
 */
EvcpMessage   *evcp_message_new_from_json  (const gchar  *json,
                                            GError      **error);

/**
 * evcp_message_parse:
 * @self: a message
 * @limits: (nullable): the limits, or %NULL for the defaults
 * @error: why the message is refused: an %EVCP_ERROR, permanent (see
 *   evcp_error_is_permanent())
 *
 * Validates and parses the raw bytes of @self: size, UTF-8, nesting depth,
 * JSON syntax, a top-level object with a string "kind", an optional string
 * "timestamp" in ISO 8601 and an optional object "data". The kind, the
 * timestamp and the fields then become readable.
 *
 * Returns: %TRUE when @self is a valid message
 *
 * Since: 0.1
 */
gboolean       evcp_message_parse          (EvcpMessage              *self,
                                            const EvcpMessageLimits  *limits,
                                            GError                  **error);
/**
 * evcp_message_is_parsed:
 * @self: a message
 *
 * Whether evcp_message_parse() succeeded on @self.
 *
 * Returns: %TRUE once parsed
 *
 * Since: 0.1
 */
gboolean       evcp_message_is_parsed      (EvcpMessage  *self);

/**
 * evcp_message_get_kind:
 * @self: a parsed message
 *
 * The kind of a parsed message ("USER_INFO", "CHARGING_REQUEST", …).
 *
 * Returns: (transfer none): its kind
 *
 * Since: 0.1
 */
const gchar   *evcp_message_get_kind       (EvcpMessage  *self);
/**
 * evcp_message_get_timestamp:
 * @self: a parsed message
 *
 * The ISO 8601 timestamp of a parsed message.
 *
 * Returns: (transfer none) (nullable): its timestamp, or %NULL if it has none
 *
 * Since: 0.1
 */
const gchar   *evcp_message_get_timestamp  (EvcpMessage  *self);
/**
 * evcp_message_get_root:
 * @self: a parsed message
 *
 * The whole JSON object of a parsed message.
 *
 * Returns: (transfer none): its root object
 *
 * Since: 0.1
 */
JsonObject    *evcp_message_get_root       (EvcpMessage  *self);
/**
 * evcp_message_get_data:
 * @self: a parsed message
 *
 * The "data" object of a parsed message.
 *
 * Returns: (transfer none) (nullable): its data, or %NULL if it has none
 *
 * Since: 0.1
 */
JsonObject    *evcp_message_get_data       (EvcpMessage  *self);
/**
 * evcp_message_get_raw:
 * @self: a message
 *
 * The bytes of @self as they were consumed.
 *
 * Returns: (transfer none): its bytes
 *
 * Since: 0.1
 */
GBytes        *evcp_message_get_raw        (EvcpMessage  *self);
/**
 * evcp_message_get_key:
 * @self: a message
 *
 * The Kafka key of @self as text, when it is UTF-8.
 *
 * Returns: (transfer none) (nullable): its key, or %NULL
 *
 * Since: 0.1
 */
const gchar   *evcp_message_get_key        (EvcpMessage  *self);
/**
 * evcp_message_get_key_bytes:
 * @self: a message
 *
 * The Kafka key of @self as consumed.
 *
 * Returns: (transfer none) (nullable): its key, or %NULL
 *
 * Since: 0.1
 */
GBytes        *evcp_message_get_key_bytes  (EvcpMessage  *self);
/**
 * evcp_message_get_topic:
 * @self: a message
 *
 * The topic @self was read from.
 *
 * Returns: (transfer none) (nullable): the topic, or %NULL
 *
 * Since: 0.1
 */
const gchar   *evcp_message_get_topic      (EvcpMessage  *self);
/**
 * evcp_message_get_partition:
 * @self: a message
 *
 * The partition @self was read from.
 *
 * Returns: the partition, or -1
 *
 * Since: 0.1
 */
gint32         evcp_message_get_partition  (EvcpMessage  *self);
/**
 * evcp_message_get_offset:
 * @self: a message
 *
 * The offset of @self in its partition.
 *
 * Returns: the offset, or -1
 *
 * Since: 0.1
 */
gint64         evcp_message_get_offset     (EvcpMessage  *self);
/**
 * evcp_message_describe:
 * @self: a message
 *
 * A short description of @self for logs: its kind, where it was read.
 *
 * Returns: (transfer full): the description
 *
 * Since: 0.1
 */
gchar         *evcp_message_describe       (EvcpMessage  *self) G_GNUC_WARN_UNUSED_RESULT;

/**
 * evcp_message_lookup:
 * @self: a parsed message
 * @field: the field's name
 *
 * A field of a parsed message: under "data" first, then at the top level.
 *
 * Returns: (transfer none) (nullable): its node, or %NULL
 *
 * Since: 0.1
 */
JsonNode      *evcp_message_lookup         (EvcpMessage  *self,
                                            const gchar  *field);
/**
 * evcp_message_has_field:
 * @self: a parsed message
 * @field: the field's name
 *
 * Whether a parsed message has @field (under "data" or at the top level).
 *
 * Returns: %TRUE if it has it
 *
 * Since: 0.1
 */
gboolean       evcp_message_has_field      (EvcpMessage  *self,
                                            const gchar  *field);
/**
 * evcp_message_get_string:
 * @self: a parsed message
 * @field: the field's name
 * @required: whether a missing field is an error
 * @out: (out) (transfer none) (nullable): the string, or %NULL when absent
 * @error: %EVCP_ERROR_INVALID_MESSAGE when it is missing (and required) or not a string
 *
 * Reads a string field (as evcp_message_lookup() finds it).
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean       evcp_message_get_string     (EvcpMessage  *self,
                                            const gchar  *field,
                                            gboolean      required,
                                            const gchar **out,
                                            GError      **error);
/**
 * evcp_message_get_number:
 * @self: a parsed message
 * @field: the field's name
 * @required: whether a missing field is an error
 * @out: (out): the number; untouched when absent
 * @error: %EVCP_ERROR_INVALID_MESSAGE when it is missing (and required) or not a finite number
 *
 * Reads a finite number field (as evcp_message_lookup() finds it).
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean       evcp_message_get_number     (EvcpMessage  *self,
                                            const gchar  *field,
                                            gboolean      required,
                                            gdouble      *out,
                                            GError      **error);
/**
 * evcp_message_get_integer:
 * @self: a parsed message
 * @field: the field's name
 * @required: whether a missing field is an error
 * @out: (out): the integer; untouched when absent
 * @error: %EVCP_ERROR_INVALID_MESSAGE when it is missing (and required) or not an integer
 *
 * Reads an integer field (as evcp_message_lookup() finds it).
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean       evcp_message_get_integer    (EvcpMessage  *self,
                                            const gchar  *field,
                                            gboolean      required,
                                            gint64       *out,
                                            GError      **error);

G_END_DECLS
