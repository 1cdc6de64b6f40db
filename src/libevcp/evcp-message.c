#define G_LOG_DOMAIN "evcp-message"

#include "evcp-build-config.h"

#include <math.h>
#include <string.h>

#include <glib/gi18n-lib.h>

#include "evcp-error.h"
#include "evcp-message.h"

struct _EvcpMessage
{
  GObject     parent_instance;

  GBytes     *raw;
  GBytes     *key_bytes;
  gchar      *key;        /* the key as text, NULL if absent or not UTF-8 */
  gchar      *topic;
  gint32      partition;
  gint64      offset;

  JsonNode   *root_node;
  JsonObject *root;       /* borrowed from root_node */
  JsonObject *data;       /* borrowed; NULL if absent */
  const gchar *kind;      /* borrowed from root */
  const gchar *timestamp; /* borrowed from root, may be NULL */
};

G_DEFINE_TYPE (EvcpMessage, evcp_message, G_TYPE_OBJECT)

static void
evcp_message_finalize (GObject *object)
{
  EvcpMessage *self = EVCP_MESSAGE (object);

  g_clear_pointer (&self->raw, g_bytes_unref);
  g_clear_pointer (&self->key_bytes, g_bytes_unref);
  g_clear_pointer (&self->key, g_free);
  g_clear_pointer (&self->topic, g_free);
  g_clear_pointer (&self->root_node, json_node_unref);

  G_OBJECT_CLASS (evcp_message_parent_class)->finalize (object);
}

static void
evcp_message_class_init (EvcpMessageClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = evcp_message_finalize;
}

static void
evcp_message_init (EvcpMessage *self)
{
  self->partition = -1;
  self->offset = -1;
}

/**
 * evcp_message_new:
 * @raw: the message value exactly as consumed
 * @key: (nullable): the message key, exactly as consumed
 * @topic: (nullable): the topic it was consumed from
 * @partition: its partition, or -1
 * @offset: its offset, or -1
 *
 * Returns: (transfer full): an unparsed message; see evcp_message_parse().
 */
EvcpMessage *
evcp_message_new (GBytes      *raw,
                  GBytes      *key,
                  const gchar *topic,
                  gint32       partition,
                  gint64       offset)
{
  EvcpMessage *self;

  g_return_val_if_fail (raw != NULL, NULL);

  self = g_object_new (EVCP_TYPE_MESSAGE, NULL);
  self->raw = g_bytes_ref (raw);
  if (key != NULL)
    {
      gsize klen;
      const gchar *k = g_bytes_get_data (key, &klen);

      self->key_bytes = g_bytes_ref (key);
      if (g_utf8_validate_len (k, klen, NULL))
        self->key = g_strndup (k, klen);
    }
  self->topic = g_strdup (topic);
  self->partition = partition;
  self->offset = offset;
  return self;
}

/**
 * evcp_message_new_from_json:
 *
 * Convenience for tests and tools: a parsed message with no origin.
 */
EvcpMessage *
evcp_message_new_from_json (const gchar *json, GError **error)
{
  g_autoptr(GBytes) raw = NULL;
  g_autoptr(EvcpMessage) self = NULL;

  g_return_val_if_fail (json != NULL, NULL);

  raw = g_bytes_new (json, strlen (json));
  self = evcp_message_new (raw, NULL, NULL, -1, -1);
  if (!evcp_message_parse (self, NULL, error))
    return NULL;
  return g_steal_pointer (&self);
}

/* Nesting depth of a JSON text, counted without recursion and stopping at
 * @limit + 1, so that a hostile message cannot exhaust the stack of the
 * recursive JSON parser. Brackets inside strings do not count. */
static guint
json_depth (const gchar *p, gsize len, guint limit)
{
  guint depth = 0;
  gboolean in_string = FALSE;

  for (gsize i = 0; i < len; i++)
    {
      gchar c = p[i];

      if (in_string)
        {
          if (c == '\\')
            i++;
          else if (c == '"')
            in_string = FALSE;
          continue;
        }
      switch (c)
        {
        case '"':
          in_string = TRUE;
          break;
        case '{':
        case '[':
          if (++depth > limit)
            return depth;
          break;
        case '}':
        case ']':
          if (depth > 0)
            depth--;
          break;
        default:
          break;
        }
    }
  return depth;
}

/**
 * evcp_message_parse:
 * @limits: (nullable): size and depth limits, %NULL for the defaults
 *
 * Validates and parses the raw bytes: size, UTF-8, nesting depth, JSON
 * syntax, a top-level object with a string "kind", an optional string
 * "timestamp" in ISO 8601 and an optional object "data".
 *
 * Returns: %TRUE on success; on failure @error is in the %EVCP_ERROR domain
 *   and is permanent (see evcp_error_is_permanent()).
 */
gboolean
evcp_message_parse (EvcpMessage              *self,
                    const EvcpMessageLimits  *limits,
                    GError                  **error)
{
  gsize max_size = EVCP_MESSAGE_DEFAULT_MAX_SIZE;
  guint max_depth = EVCP_MESSAGE_DEFAULT_MAX_DEPTH;
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) local_error = NULL;
  const gchar *text;
  gsize len;
  guint depth;
  JsonNode *node;

  g_return_val_if_fail (EVCP_IS_MESSAGE (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (self->root_node != NULL)
    return TRUE;

  if (limits != NULL && limits->max_size > 0)
    max_size = limits->max_size;
  if (limits != NULL && limits->max_depth > 0)
    max_depth = limits->max_depth;

  text = g_bytes_get_data (self->raw, &len);
  if (len == 0)
    {
      g_set_error_literal (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE,
                           _("Empty message"));
      return FALSE;
    }
  if (len > max_size)
    {
      g_autofree gchar *len_str = g_strdup_printf ("%" G_GSIZE_FORMAT, len);
      g_autofree gchar *max_str = g_strdup_printf ("%" G_GSIZE_FORMAT, max_size);

      g_set_error (error, EVCP_ERROR, EVCP_ERROR_TOO_LARGE,
                   _("Message of %s bytes exceeds the limit of %s bytes"), len_str, max_str);
      return FALSE;
    }
  if (!g_utf8_validate_len (text, len, NULL))
    {
      g_set_error_literal (error, EVCP_ERROR, EVCP_ERROR_NOT_UTF8,
                           _("Message is not valid UTF-8"));
      return FALSE;
    }
  depth = json_depth (text, len, max_depth);
  if (depth > max_depth)
    {
      g_set_error (error, EVCP_ERROR, EVCP_ERROR_TOO_DEEP,
                   _("Message nesting exceeds the limit of %u levels"), max_depth);
      return FALSE;
    }

  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, text, (gssize) len, &local_error))
    {
      g_set_error (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE,
                   _("Malformed JSON: %s"), local_error->message);
      return FALSE;
    }
  node = json_parser_get_root (parser);
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error_literal (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE,
                           _("Message is not a JSON object"));
      return FALSE;
    }

  {
    JsonObject *root = json_node_get_object (node);
    JsonNode *kind = json_object_get_member (root, "kind");
    JsonNode *ts = json_object_get_member (root, "timestamp");
    JsonNode *data = json_object_get_member (root, "data");
    const gchar *timestamp = NULL;

    if (kind == NULL || JSON_NODE_TYPE (kind) != JSON_NODE_VALUE ||
        json_node_get_value_type (kind) != G_TYPE_STRING ||
        *json_node_get_string (kind) == '\0')
      {
        g_set_error_literal (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE,
                             _("Message has no \"kind\" string"));
        return FALSE;
      }
    if (ts != NULL && !JSON_NODE_HOLDS_NULL (ts))
      {
        g_autoptr(GTimeZone) utc = g_time_zone_new_utc ();
        g_autoptr(GDateTime) dt = NULL;

        if (JSON_NODE_TYPE (ts) != JSON_NODE_VALUE ||
            json_node_get_value_type (ts) != G_TYPE_STRING)
          {
            g_set_error_literal (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE,
                                 _("\"timestamp\" is not a string"));
            return FALSE;
          }
        dt = g_date_time_new_from_iso8601 (json_node_get_string (ts), utc);
        if (dt == NULL)
          {
            g_set_error (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE,
                         _("\"timestamp\" is not ISO 8601: %s"),
                         json_node_get_string (ts));
            return FALSE;
          }
        timestamp = json_node_get_string (ts);
      }
    if (data != NULL && !JSON_NODE_HOLDS_NULL (data))
      {
        if (!JSON_NODE_HOLDS_OBJECT (data))
          {
            g_set_error_literal (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE,
                                 _("\"data\" is not an object"));
            return FALSE;
          }
        self->data = json_node_get_object (data);
      }
    /* Only now: on failure, nothing may borrow from the freed tree. */
    self->root = root;
    self->kind = json_node_get_string (kind);
    self->timestamp = timestamp;
  }
  self->root_node = json_node_ref (node);
  return TRUE;
}

gboolean
evcp_message_is_parsed (EvcpMessage *self)
{
  g_return_val_if_fail (EVCP_IS_MESSAGE (self), FALSE);
  return self->root_node != NULL;
}

const gchar *
evcp_message_get_kind (EvcpMessage *self)
{
  g_return_val_if_fail (EVCP_IS_MESSAGE (self), NULL);
  return self->kind;
}

const gchar *
evcp_message_get_timestamp (EvcpMessage *self)
{
  g_return_val_if_fail (EVCP_IS_MESSAGE (self), NULL);
  return self->timestamp;
}

JsonObject *
evcp_message_get_root (EvcpMessage *self)
{
  g_return_val_if_fail (EVCP_IS_MESSAGE (self), NULL);
  return self->root;
}

JsonObject *
evcp_message_get_data (EvcpMessage *self)
{
  g_return_val_if_fail (EVCP_IS_MESSAGE (self), NULL);
  return self->data;
}

GBytes *
evcp_message_get_raw (EvcpMessage *self)
{
  g_return_val_if_fail (EVCP_IS_MESSAGE (self), NULL);
  return self->raw;
}

const gchar *
evcp_message_get_key (EvcpMessage *self)
{
  g_return_val_if_fail (EVCP_IS_MESSAGE (self), NULL);
  return self->key;
}

const gchar *
evcp_message_get_topic (EvcpMessage *self)
{
  g_return_val_if_fail (EVCP_IS_MESSAGE (self), NULL);
  return self->topic;
}

GBytes *
evcp_message_get_key_bytes (EvcpMessage *self)
{
  g_return_val_if_fail (EVCP_IS_MESSAGE (self), NULL);
  return self->key_bytes;
}

gint32
evcp_message_get_partition (EvcpMessage *self)
{
  g_return_val_if_fail (EVCP_IS_MESSAGE (self), -1);
  return self->partition;
}

gint64
evcp_message_get_offset (EvcpMessage *self)
{
  g_return_val_if_fail (EVCP_IS_MESSAGE (self), -1);
  return self->offset;
}

/* "user_messages[2]@41 kind=USER_INFO", for log lines. */
gchar *
evcp_message_describe (EvcpMessage *self)
{
  g_return_val_if_fail (EVCP_IS_MESSAGE (self), NULL);
  return g_strdup_printf ("%s[%d]@%" G_GINT64_FORMAT " kind=%s",
                          self->topic != NULL ? self->topic : "-",
                          self->partition, self->offset,
                          self->kind != NULL ? self->kind : "?");
}

JsonNode *
evcp_message_lookup (EvcpMessage *self, const gchar *field)
{
  JsonNode *node = NULL;

  g_return_val_if_fail (EVCP_IS_MESSAGE (self), NULL);
  g_return_val_if_fail (field != NULL, NULL);

  if (self->data != NULL)
    node = json_object_get_member (self->data, field);
  if (node == NULL && self->root != NULL)
    node = json_object_get_member (self->root, field);
  if (node != NULL && JSON_NODE_HOLDS_NULL (node))
    return NULL;
  return node;
}

gboolean
evcp_message_has_field (EvcpMessage *self, const gchar *field)
{
  return evcp_message_lookup (self, field) != NULL;
}

static gboolean
missing (const gchar *field, gboolean required, GError **error)
{
  if (!required)
    return TRUE;
  g_set_error (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE,
               _("Required field \"%s\" is missing"), field);
  return FALSE;
}

gboolean
evcp_message_get_string (EvcpMessage  *self,
                         const gchar  *field,
                         gboolean      required,
                         const gchar **out,
                         GError      **error)
{
  JsonNode *node = evcp_message_lookup (self, field);

  *out = NULL;
  if (node == NULL)
    return missing (field, required, error);
  if (JSON_NODE_TYPE (node) != JSON_NODE_VALUE ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    {
      g_set_error (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE,
                   _("Field \"%s\" must be a string"), field);
      return FALSE;
    }
  *out = json_node_get_string (node);
  return TRUE;
}

gboolean
evcp_message_get_number (EvcpMessage  *self,
                         const gchar  *field,
                         gboolean      required,
                         gdouble      *out,
                         GError      **error)
{
  JsonNode *node = evcp_message_lookup (self, field);
  GType type;

  *out = 0;
  if (node == NULL)
    return missing (field, required, error);
  type = JSON_NODE_TYPE (node) == JSON_NODE_VALUE ? json_node_get_value_type (node) : G_TYPE_INVALID;
  if (type == G_TYPE_INT64)
    *out = (gdouble) json_node_get_int (node);
  else if (type == G_TYPE_DOUBLE)
    *out = json_node_get_double (node);
  else
    {
      g_set_error (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE,
                   _("Field \"%s\" must be a number"), field);
      return FALSE;
    }
  if (!isfinite (*out))
    {
      g_set_error (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE,
                   _("Field \"%s\" is not a finite number"), field);
      return FALSE;
    }
  return TRUE;
}

gboolean
evcp_message_get_integer (EvcpMessage  *self,
                          const gchar  *field,
                          gboolean      required,
                          gint64       *out,
                          GError      **error)
{
  JsonNode *node = evcp_message_lookup (self, field);
  GType type;

  *out = 0;
  if (node == NULL)
    return missing (field, required, error);
  type = JSON_NODE_TYPE (node) == JSON_NODE_VALUE ? json_node_get_value_type (node) : G_TYPE_INVALID;
  if (type == G_TYPE_INT64)
    {
      *out = json_node_get_int (node);
      return TRUE;
    }
  if (type == G_TYPE_DOUBLE)
    {
      gdouble d = json_node_get_double (node);

      /* 3600.0 is an integer; 3600.5 and 1e300 are not */
      if (isfinite (d) && d == floor (d) && fabs (d) < 9.0e15)
        {
          *out = (gint64) d;
          return TRUE;
        }
    }
  g_set_error (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE,
               _("Field \"%s\" must be an integer"), field);
  return FALSE;
}
