/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "evcp-message"

#include "evcp-build-config.h"

#include <math.h>
#include <string.h>

#include <glib/gi18n-lib.h>

#include "evcp-error.h"
#include "evcp-json-limits.h"
#include "evcp-json-scan.h"
#include "evcp-message-private.h"

struct _EvcpMessage
{
  gatomicrefcount ref;       /* the message's users */
  gatomicrefcount mem;       /* its memory: the message, and GBytes made from its block */

  GBytes        *raw;        /* given, or made on first request from the block */
  const gchar   *text;       /* the value's bytes */
  gsize          len;
  const gchar   *key_data;   /* the key's bytes, in key_bytes or in the block */
  gsize          key_len;
  GBytes        *key_bytes;  /* given, or made on first request from the block */
  gchar         *key;        /* the key as text, made on first request */
  gboolean       has_key;
  gboolean       key_checked;
  const gchar   *topic;      /* interned */
  gint32         partition;
  gint64         offset;

  gboolean       parsed;
  EvcpJsonIndex  index;      /* members of the top level and of "data" */
  gchar         *scratch;    /* a copy of the text where strings are decoded in place */
  gboolean       scratch_owned;  /* FALSE: it is in the block */
  gboolean       scratch_ready;
  const gchar   *kind;       /* in scratch */
  const gchar   *timestamp;  /* in scratch; NULL if absent */

  /* a json-glib tree, only for those who ask for one */
  JsonNode      *root_node;
  JsonObject    *root;
  JsonObject    *data;

  /* consumed messages: the value and a NUL, room for the scratch copy, the key */
  gchar          block[];
};

G_DEFINE_BOXED_TYPE (EvcpMessage, evcp_message, evcp_message_ref, evcp_message_unref)

static void
mem_unref (gpointer data)
{
  EvcpMessage *self = data;

  if (g_atomic_ref_count_dec (&self->mem))
    g_free (self);
}

static gpointer
mem_ref (EvcpMessage *self)
{
  g_atomic_ref_count_inc (&self->mem);
  return self;
}

EvcpMessage *
evcp_message_ref (EvcpMessage *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  g_atomic_ref_count_inc (&self->ref);
  return self;
}

void
evcp_message_unref (EvcpMessage *self)
{
  g_return_if_fail (self != NULL);
  if (!g_atomic_ref_count_dec (&self->ref))
    return;
  g_clear_pointer (&self->root_node, json_node_unref);
  evcp_json_index_clear (&self->index);
  if (self->scratch_owned)
    g_free (self->scratch);
  g_free (self->key);
  /* GBytes of the block keep it alive after the message */
  g_clear_pointer (&self->key_bytes, g_bytes_unref);
  g_clear_pointer (&self->raw, g_bytes_unref);
  mem_unref (self);
}

static EvcpMessage *
message_alloc (gsize block_size, const gchar *topic, gint32 partition, gint64 offset)
{
  EvcpMessage *self = g_malloc (sizeof (EvcpMessage) + block_size);

  memset (self, 0, sizeof (EvcpMessage));
  g_atomic_ref_count_init (&self->ref);
  g_atomic_ref_count_init (&self->mem);
  self->topic = topic;
  self->partition = partition;
  self->offset = offset;
  return self;
}

EvcpMessage *
evcp_message_new (GBytes      *raw,
                  GBytes      *key,
                  const gchar *topic,
                  gint32       partition,
                  gint64       offset)
{
  EvcpMessage *self;

  g_return_val_if_fail (raw != NULL, NULL);

  self = message_alloc (0, g_intern_string (topic), partition, offset);
  self->raw = g_bytes_ref (raw);
  self->text = g_bytes_get_data (raw, &self->len);
  if (self->text == NULL)
    self->text = "";
  if (key != NULL)
    {
      self->key_bytes = g_bytes_ref (key);
      self->key_data = g_bytes_get_data (key, &self->key_len);
      self->has_key = TRUE;
    }
  return self;
}

/* One allocation for the message, its value, the room to decode its
 * strings and its key: what a consumer needs a million times a second. */
EvcpMessage *
evcp_message_new_consumed (const gchar *value,
                           gsize        len,
                           const gchar *key,
                           gsize        key_len,
                           const gchar *topic,
                           gint32       partition,
                           gint64       offset)
{
  EvcpMessage *self;

  g_return_val_if_fail (value != NULL || len == 0, NULL);
  g_return_val_if_fail (len < G_MAXSIZE / 4 && key_len < G_MAXSIZE / 4, NULL);

  self = message_alloc (2 * (len + 1) + key_len, topic, partition, offset);
  if (len > 0)
    memcpy (self->block, value, len);
  self->block[len] = '\0';
  self->text = self->block;
  self->len = len;
  self->scratch = self->block + len + 1;
  if (key != NULL)
    {
      self->key_data = self->block + 2 * (len + 1);
      if (key_len > 0)
        memcpy (self->block + 2 * (len + 1), key, key_len);
      self->key_len = key_len;
      self->has_key = TRUE;
    }
  return self;
}

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

/* A string member's value, decoded in place in the scratch copy (decoding
 * never makes a string longer, and its closing quote takes the NUL). */
static const gchar *
decode (EvcpMessage *self, const EvcpJsonMember *member)
{
  EvcpJsonMember *m = (EvcpJsonMember *) member;   /* the index is ours */
  gchar *dest;

  if (!self->scratch_ready)
    {
      if (self->scratch == NULL)
        {
          self->scratch = g_malloc (self->len + 1);
          self->scratch_owned = TRUE;
        }
      memcpy (self->scratch, self->text, self->len);
      self->scratch[self->len] = '\0';
      self->scratch_ready = TRUE;
    }
  dest = self->scratch + m->val_start;
  if (!m->decoded)
    {
      gsize n = m->val_len;

      if (m->val_escaped)
        n = evcp_json_unescape_into (self->text + m->val_start, m->val_len, dest);
      dest[n] = '\0';
      m->decoded = 1;
    }
  return dest;
}

static gint
days_in_month (gint year, gint month)
{
  static const gint days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

  if (month == 2 && (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)))
    return 29;
  return days[month - 1];
}

static gboolean
digits (const gchar *p, gint n, gint *out)
{
  gint v = 0;

  for (gint i = 0; i < n; i++)
    {
      if (p[i] < '0' || p[i] > '9')
        return FALSE;
      v = v * 10 + (p[i] - '0');
    }
  *out = v;
  return TRUE;
}

/* The one shape nearly every producer sends, 2026-12-03T10:15:30(.123)(Z|+01:00),
 * with every field in range; anything else is left to GLib. */
gboolean
evcp_message_iso8601_fast (const gchar *p, gsize len)
{
  gint year, month, day, hour, minute, second, tz_hour, tz_minute;
  gsize i = 19;

  if (len < 20 || len > 40 ||
      p[4] != '-' || p[7] != '-' || p[10] != 'T' || p[13] != ':' || p[16] != ':' ||
      !digits (p, 4, &year) || !digits (p + 5, 2, &month) || !digits (p + 8, 2, &day) ||
      !digits (p + 11, 2, &hour) || !digits (p + 14, 2, &minute) || !digits (p + 17, 2, &second))
    return FALSE;
  if (year < 1970 || year > 9000 || month < 1 || month > 12 || day < 1 ||
      day > days_in_month (year, month) || hour > 23 || minute > 59 || second > 59)
    return FALSE;
  if (p[i] == '.')
    {
      gsize first = ++i;

      while (i < len && p[i] >= '0' && p[i] <= '9')
        i++;
      if (i == first || i - first > 9)
        return FALSE;
    }
  if (i + 1 == len && p[i] == 'Z')
    return TRUE;
  if (i + 6 == len && (p[i] == '+' || p[i] == '-') && p[i + 3] == ':' &&
      digits (p + i + 1, 2, &tz_hour) && digits (p + i + 4, 2, &tz_minute) &&
      tz_hour <= 18 && tz_minute <= 59)
    return TRUE;
  return FALSE;
}

static gboolean
timestamp_valid (const gchar *timestamp)
{
  static gsize utc;   /* GTimeZone *, kept for the process */
  g_autoptr(GDateTime) dt = NULL;

  if (evcp_message_iso8601_fast (timestamp, strlen (timestamp)))
    return TRUE;
  if (g_once_init_enter (&utc))
    g_once_init_leave (&utc, (gsize) g_time_zone_new_utc ());
  dt = g_date_time_new_from_iso8601 (timestamp, (GTimeZone *) utc);
  return dt != NULL;
}

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

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (self->parsed)
    return TRUE;

  if (limits != NULL && limits->max_size > 0)
    max_size = limits->max_size;
  if (limits != NULL && limits->max_depth > 0)
    max_depth = limits->max_depth;

  text = self->text;
  len = self->len;
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
  self->index = index;
  if (ts != NULL && ts->type != EVCP_JSON_NULL)
    {
      const gchar *timestamp;

      if (ts->type != EVCP_JSON_STRING)
        {
          g_set_error_literal (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE,
                               _("\"timestamp\" is not a string"));
          evcp_json_index_clear (&self->index);
          return FALSE;
        }
      timestamp = decode (self, ts);
      if (!timestamp_valid (timestamp))
        {
          g_set_error (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE,
                       _("\"timestamp\" is not ISO 8601: %.64s"), timestamp);
          evcp_json_index_clear (&self->index);
          return FALSE;
        }
      self->timestamp = timestamp;
    }
  self->kind = decode (self, kind);
  self->parsed = TRUE;
  return TRUE;
}

gboolean
evcp_message_is_parsed (EvcpMessage *self)
{
  g_return_val_if_fail (self != NULL, FALSE);
  return self->parsed;
}

const gchar *
evcp_message_get_kind (EvcpMessage *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->kind;
}

const gchar *
evcp_message_get_timestamp (EvcpMessage *self)
{
  g_return_val_if_fail (self != NULL, NULL);
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
  text = self->text;
  len = self->len;
  parser = json_parser_new_immutable ();
  /* the scanner checked the depth against the configured limit already
   * (at most EVCP_JSON_LIMITS_MAX_DEPTH): this is the second lock */
  if (!evcp_json_parser_load (parser, text, len, len, EVCP_JSON_LIMITS_MAX_DEPTH, NULL) ||
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
  g_return_val_if_fail (self != NULL, NULL);
  ensure_tree (self);
  return self->root;
}

JsonObject *
evcp_message_get_data (EvcpMessage *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  ensure_tree (self);
  return self->data;
}

GBytes *
evcp_message_get_raw (EvcpMessage *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  if (self->raw == NULL)
    self->raw = g_bytes_new_with_free_func (self->text, self->len, mem_unref, mem_ref (self));
  return self->raw;
}

const gchar *
evcp_message_get_key (EvcpMessage *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  if (!self->key_checked)
    {
      self->key_checked = TRUE;
      if (self->has_key && g_utf8_validate_len (self->key_data, self->key_len, NULL))
        self->key = g_strndup (self->key_data, self->key_len);
    }
  return self->key;
}

const gchar *
evcp_message_get_topic (EvcpMessage *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->topic;
}

GBytes *
evcp_message_get_key_bytes (EvcpMessage *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  if (self->key_bytes == NULL && self->has_key)
    self->key_bytes = g_bytes_new_with_free_func (self->key_data, self->key_len,
                                                  mem_unref, mem_ref (self));
  return self->key_bytes;
}

gint32
evcp_message_get_partition (EvcpMessage *self)
{
  g_return_val_if_fail (self != NULL, -1);
  return self->partition;
}

gint64
evcp_message_get_offset (EvcpMessage *self)
{
  g_return_val_if_fail (self != NULL, -1);
  return self->offset;
}

/* "user_messages[2]@41 kind=USER_INFO", for log lines. */
gchar *
evcp_message_describe (EvcpMessage *self)
{
  g_autofree gchar *kind = NULL;

  g_return_val_if_fail (self != NULL, NULL);
  /* a kind may be as long as the message: a log line quotes its start */
  kind = evcp_utf8_cut (self->kind != NULL ? self->kind : "?", 128);
  return g_strdup_printf ("%s[%d]@%" G_GINT64_FORMAT " kind=%s",
                          self->topic != NULL ? self->topic : "-",
                          self->partition, self->offset, kind);
}

JsonNode *
evcp_message_lookup (EvcpMessage *self, const gchar *field)
{
  JsonNode *node = NULL;

  g_return_val_if_fail (self != NULL, NULL);
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
  const gchar *text = self->text;
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
  g_return_val_if_fail (self != NULL, FALSE);
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

  g_return_val_if_fail (self != NULL, FALSE);
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
  *out = decode (self, m);
  return TRUE;
}

/* A number member's value; *is_integer tells whether it has no fraction
 * or exponent (and fits in 64 bits). */
static gboolean
number_value (EvcpMessage *self, const EvcpJsonMember *m, gdouble *d, gint64 *i, gboolean *is_integer)
{
  const gchar *text = self->text + m->val_start;
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

  g_return_val_if_fail (self != NULL, FALSE);
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

  g_return_val_if_fail (self != NULL, FALSE);
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
