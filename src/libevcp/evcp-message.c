#define G_LOG_DOMAIN "evcp-message"

#include "evcp-build-config.h"

#include <math.h>
#include <string.h>

#include <glib/gi18n-lib.h>

#include "evcp-error.h"
#include "evcp-json-scan.h"
#include "evcp-message.h"

struct _EvcpMessage
{
  GObject        parent_instance;

  GBytes        *raw;
  GBytes        *key_bytes;
  gchar         *key;        /* the key as text, NULL if absent or not UTF-8 */
  const gchar   *topic;      /* interned */
  gint32         partition;
  gint64         offset;

  gboolean       parsed;
  EvcpJsonIndex  index;      /* members of the top level and of "data" */
  gchar         *kind;
  gchar         *timestamp;  /* NULL if absent */
  GPtrArray     *strings;    /* decoded strings handed out, freed with the message */

  /* a json-glib tree, only for those who ask for one */
  JsonNode      *root_node;
  JsonObject    *root;
  JsonObject    *data;
};

G_DEFINE_TYPE (EvcpMessage, evcp_message, G_TYPE_OBJECT)

static void
evcp_message_finalize (GObject *object)
{
  EvcpMessage *self = EVCP_MESSAGE (object);

  g_clear_pointer (&self->raw, g_bytes_unref);
  g_clear_pointer (&self->key_bytes, g_bytes_unref);
  g_clear_pointer (&self->key, g_free);
  g_clear_pointer (&self->root_node, json_node_unref);
  evcp_json_index_clear (&self->index);
  g_free (self->kind);
  g_free (self->timestamp);
  g_clear_pointer (&self->strings, g_ptr_array_unref);

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
  self->topic = g_intern_string (topic);
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
  EvcpJsonIndex index;
  const EvcpJsonMember *kind, *ts, *data;
  const gchar *text;
  gsize len;

  g_return_val_if_fail (EVCP_IS_MESSAGE (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (self->parsed)
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

  /* One pass: grammar, UTF-8 and depth, without recursion deeper than the
   * limit, and an index of the two levels the contract uses. */
  switch (evcp_json_scan (text, len, max_depth, &index))
    {
    case EVCP_JSON_SCAN_OK:
      break;
    case EVCP_JSON_SCAN_NOT_UTF8:
      g_set_error_literal (error, EVCP_ERROR, EVCP_ERROR_NOT_UTF8,
                           _("Message is not valid UTF-8"));
      return FALSE;
    case EVCP_JSON_SCAN_TOO_DEEP:
      g_set_error (error, EVCP_ERROR, EVCP_ERROR_TOO_DEEP,
                   _("Message nesting exceeds the limit of %u levels"), max_depth);
      return FALSE;
    case EVCP_JSON_SCAN_NOT_OBJECT:
      g_set_error_literal (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE,
                           _("Message is not a JSON object"));
      return FALSE;
    case EVCP_JSON_SCAN_SYNTAX:
    default:
      {
        g_autofree gchar *offset = g_strdup_printf ("%" G_GSIZE_FORMAT, index.error_offset);

        /* TRANSLATORS: what is wrong, then the byte offset */
        g_set_error (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE,
                     _("Malformed JSON: %s at byte %s"), index.error, offset);
        return FALSE;
      }
    }

  kind = evcp_json_find (text, index.root, "kind");
  ts = evcp_json_find (text, index.root, "timestamp");
  data = evcp_json_find (text, index.root, "data");
  if (kind == NULL || kind->type != EVCP_JSON_STRING || kind->val_len == 0)
    {
      g_set_error_literal (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE,
                           _("Message has no \"kind\" string"));
      evcp_json_index_clear (&index);
      return FALSE;
    }
  if (data != NULL && data->type != EVCP_JSON_OBJECT && data->type != EVCP_JSON_NULL)
    {
      g_set_error_literal (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE,
                           _("\"data\" is not an object"));
      evcp_json_index_clear (&index);
      return FALSE;
    }
  if (ts != NULL && ts->type != EVCP_JSON_NULL)
    {
      g_autoptr(GTimeZone) utc = NULL;
      g_autoptr(GDateTime) dt = NULL;
      g_autofree gchar *timestamp = NULL;

      if (ts->type != EVCP_JSON_STRING)
        {
          g_set_error_literal (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE,
                               _("\"timestamp\" is not a string"));
          evcp_json_index_clear (&index);
          return FALSE;
        }
      timestamp = evcp_json_decode_string (text, ts);
      utc = g_time_zone_new_utc ();
      dt = g_date_time_new_from_iso8601 (timestamp, utc);
      if (dt == NULL)
        {
          g_set_error (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE,
                       _("\"timestamp\" is not ISO 8601: %.64s"), timestamp);
          evcp_json_index_clear (&index);
          return FALSE;
        }
      self->timestamp = g_steal_pointer (&timestamp);
    }
  self->kind = evcp_json_decode_string (text, kind);
  self->index = index;
  self->parsed = TRUE;
  return TRUE;
}

gboolean
evcp_message_is_parsed (EvcpMessage *self)
{
  g_return_val_if_fail (EVCP_IS_MESSAGE (self), FALSE);
  return self->parsed;
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

/* The json-glib tree of a parsed message, built on first use only: the
 * handlers' look-ups do without it. */
static void
ensure_tree (EvcpMessage *self)
{
  g_autoptr(JsonParser) parser = NULL;
  JsonNode *data;
  gsize len;
  const gchar *text;

  if (!self->parsed || self->root_node != NULL)
    return;
  text = g_bytes_get_data (self->raw, &len);
  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, text, (gssize) len, NULL) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      g_warning ("json-glib refuses a message the scanner accepted");
      return;
    }
  self->root_node = json_node_ref (json_parser_get_root (parser));
  self->root = json_node_get_object (self->root_node);
  data = json_object_get_member (self->root, "data");
  if (data != NULL && JSON_NODE_HOLDS_OBJECT (data))
    self->data = json_node_get_object (data);
}

JsonObject *
evcp_message_get_root (EvcpMessage *self)
{
  g_return_val_if_fail (EVCP_IS_MESSAGE (self), NULL);
  ensure_tree (self);
  return self->root;
}

JsonObject *
evcp_message_get_data (EvcpMessage *self)
{
  g_return_val_if_fail (EVCP_IS_MESSAGE (self), NULL);
  ensure_tree (self);
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

  ensure_tree (self);
  if (self->data != NULL)
    node = json_object_get_member (self->data, field);
  if (node == NULL && self->root != NULL)
    node = json_object_get_member (self->root, field);
  if (node != NULL && JSON_NODE_HOLDS_NULL (node))
    return NULL;
  return node;
}

/* The member for @field, under "data" first, then at the top level; a
 * JSON null counts as absent. */
static const EvcpJsonMember *
find (EvcpMessage *self, const gchar *field)
{
  const gchar *text = g_bytes_get_data (self->raw, NULL);
  const EvcpJsonMember *m = NULL;

  if (!self->parsed)
    return NULL;
  m = evcp_json_find (text, self->index.data, field);
  if (m == NULL)
    m = evcp_json_find (text, self->index.root, field);
  if (m != NULL && m->type == EVCP_JSON_NULL)
    return NULL;
  return m;
}

gboolean
evcp_message_has_field (EvcpMessage *self, const gchar *field)
{
  g_return_val_if_fail (EVCP_IS_MESSAGE (self), FALSE);
  return find (self, field) != NULL;
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
  const EvcpJsonMember *m;
  gchar *value;

  g_return_val_if_fail (EVCP_IS_MESSAGE (self), FALSE);
  g_return_val_if_fail (field != NULL && out != NULL, FALSE);

  *out = NULL;
  m = find (self, field);
  if (m == NULL)
    return missing (field, required, error);
  if (m->type != EVCP_JSON_STRING)
    {
      g_set_error (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE,
                   _("Field \"%s\" must be a string"), field);
      return FALSE;
    }
  value = evcp_json_decode_string (g_bytes_get_data (self->raw, NULL), m);
  if (self->strings == NULL)
    self->strings = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (self->strings, value);
  *out = value;
  return TRUE;
}

/* A number member's value; *is_integer tells whether it has no fraction
 * or exponent (and fits in 64 bits). */
static gboolean
number_value (EvcpMessage *self, const EvcpJsonMember *m, gdouble *d, gint64 *i, gboolean *is_integer)
{
  const gchar *text = (const gchar *) g_bytes_get_data (self->raw, NULL) + m->val_start;
  g_autofree gchar *heap = NULL;
  gchar stack[64];
  gchar *copy = stack;

  if (m->val_len >= sizeof stack)
    copy = heap = g_malloc (m->val_len + 1);
  memcpy (copy, text, m->val_len);
  copy[m->val_len] = '\0';
  *is_integer = FALSE;
  if (m->is_integer && g_ascii_string_to_signed (copy, 10, G_MININT64, G_MAXINT64, i, NULL))
    {
      *is_integer = TRUE;
      *d = (gdouble) *i;
      return TRUE;
    }
  *d = g_ascii_strtod (copy, NULL);
  return TRUE;
}

gboolean
evcp_message_get_number (EvcpMessage  *self,
                         const gchar  *field,
                         gboolean      required,
                         gdouble      *out,
                         GError      **error)
{
  const EvcpJsonMember *m;
  gint64 i;
  gboolean is_integer;

  g_return_val_if_fail (EVCP_IS_MESSAGE (self), FALSE);
  g_return_val_if_fail (field != NULL && out != NULL, FALSE);

  *out = 0;
  m = find (self, field);
  if (m == NULL)
    return missing (field, required, error);
  if (m->type != EVCP_JSON_NUMBER)
    {
      g_set_error (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE,
                   _("Field \"%s\" must be a number"), field);
      return FALSE;
    }
  number_value (self, m, out, &i, &is_integer);
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
  const EvcpJsonMember *m;
  gdouble d;
  gboolean is_integer;

  g_return_val_if_fail (EVCP_IS_MESSAGE (self), FALSE);
  g_return_val_if_fail (field != NULL && out != NULL, FALSE);

  *out = 0;
  m = find (self, field);
  if (m == NULL)
    return missing (field, required, error);
  if (m->type == EVCP_JSON_NUMBER)
    {
      number_value (self, m, &d, out, &is_integer);
      if (is_integer)
        return TRUE;
      /* 3600.0 is an integer; 3600.5 and 1e300 are not */
      if (isfinite (d) && d == floor (d) && fabs (d) < 9.0e15)
        {
          *out = (gint64) d;
          return TRUE;
        }
    }
  *out = 0;
  g_set_error (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE,
               _("Field \"%s\" must be an integer"), field);
  return FALSE;
}
