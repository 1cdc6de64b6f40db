/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "evcp-outbox"

#include "evcp-build-config.h"

#include <errno.h>
#include <string.h>

#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>

#include "evcp-error.h"
#include "evcp-frame-codec.h"
#include "evcp-json-limits.h"
#include "evcp-outbox.h"

#define OUTBOX_VERSION  1
#define ALL_DESTINATIONS (EVCP_OUTBOX_CENTRAL | EVCP_OUTBOX_KAFKA)

struct _EvcpOutboxRecord
{
  guint64  seq;
  gchar   *frame;         /* DATA of the Central frame, seq included */
  gchar   *kafka_topic;
  gchar   *kafka_key;
  gchar   *kafka_value;   /* JSON text, data.seq and timestamp included */
  gint64   wall_time;     /* µs since the epoch */
  guint    pending;       /* EvcpOutboxDestination bits still due */
};

struct _EvcpOutbox
{
  GObject    parent_instance;

  gchar     *path;
  guint64    next_seq;
  guint64    open_seq;    /* next_seq when the file was opened */
  GPtrArray *records;     /* of EvcpOutboxRecord, by growing seq, each pending somewhere */
};

G_DEFINE_TYPE (EvcpOutbox, evcp_outbox, G_TYPE_OBJECT)

enum {
  SIGNAL_APPENDED,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

static void
record_free (EvcpOutboxRecord *record)
{
  g_free (record->frame);
  g_free (record->kafka_topic);
  g_free (record->kafka_key);
  g_free (record->kafka_value);
  g_free (record);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EvcpOutboxRecord, record_free)

guint64
evcp_outbox_record_get_seq (const EvcpOutboxRecord *record)
{
  g_return_val_if_fail (record != NULL, 0);
  return record->seq;
}

const gchar *
evcp_outbox_record_get_frame (const EvcpOutboxRecord *record)
{
  g_return_val_if_fail (record != NULL, NULL);
  return record->frame;
}

const gchar *
evcp_outbox_record_get_kafka_topic (const EvcpOutboxRecord *record)
{
  g_return_val_if_fail (record != NULL, NULL);
  return record->kafka_topic;
}

const gchar *
evcp_outbox_record_get_kafka_key (const EvcpOutboxRecord *record)
{
  g_return_val_if_fail (record != NULL, NULL);
  return record->kafka_key;
}

const gchar *
evcp_outbox_record_get_kafka_value (const EvcpOutboxRecord *record)
{
  g_return_val_if_fail (record != NULL, NULL);
  return record->kafka_value;
}

gint64
evcp_outbox_record_get_wall_time (const EvcpOutboxRecord *record)
{
  g_return_val_if_fail (record != NULL, 0);
  return record->wall_time;
}

guint
evcp_outbox_record_get_pending (const EvcpOutboxRecord *record)
{
  g_return_val_if_fail (record != NULL, 0);
  return record->pending;
}

/* ---- the file -------------------------------------------------------------- */

static const struct {
  EvcpOutboxDestination  destination;
  const gchar           *name;
} destination_names[] = {
  { EVCP_OUTBOX_CENTRAL, "central" },
  { EVCP_OUTBOX_KAFKA, "kafka" },
};

static gchar *
serialize (EvcpOutbox *self)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "version");
  json_builder_add_int_value (builder, OUTBOX_VERSION);
  json_builder_set_member_name (builder, "next_seq");
  json_builder_add_int_value (builder, (gint64) self->next_seq);
  json_builder_set_member_name (builder, "records");
  json_builder_begin_array (builder);
  for (guint i = 0; i < self->records->len; i++)
    {
      const EvcpOutboxRecord *record = g_ptr_array_index (self->records, i);

      /* acknowledged everywhere, about to be removed */
      if (record->pending == 0)
        continue;
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "seq");
      json_builder_add_int_value (builder, (gint64) record->seq);
      json_builder_set_member_name (builder, "wall_time");
      json_builder_add_int_value (builder, record->wall_time);
      json_builder_set_member_name (builder, "pending");
      json_builder_begin_array (builder);
      for (guint d = 0; d < G_N_ELEMENTS (destination_names); d++)
        if (record->pending & destination_names[d].destination)
          json_builder_add_string_value (builder, destination_names[d].name);
      json_builder_end_array (builder);
      if (record->frame != NULL)
        {
          json_builder_set_member_name (builder, "frame");
          json_builder_add_string_value (builder, record->frame);
        }
      if (record->kafka_value != NULL)
        {
          json_builder_set_member_name (builder, "kafka_topic");
          json_builder_add_string_value (builder, record->kafka_topic);
          if (record->kafka_key != NULL)
            {
              json_builder_set_member_name (builder, "kafka_key");
              json_builder_add_string_value (builder, record->kafka_key);
            }
          json_builder_set_member_name (builder, "kafka_value");
          json_builder_add_string_value (builder, record->kafka_value);
        }
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  json_generator_set_pretty (generator, TRUE);
  return json_generator_to_data (generator, NULL);
}

/* Writes the whole state: a temporary file, fsync, rename over the old one,
 * fsync of the directory. */
static gboolean
save (EvcpOutbox *self, GError **error)
{
  g_autofree gchar *data = serialize (self);
  g_autoptr(GError) local_error = NULL;
  gsize len = strlen (data);

  /* never a file the next start would refuse to read */
  if (len > EVCP_OUTBOX_MAX_FILE_SIZE)
    {
      g_autofree gchar *size = g_strdup_printf ("%" G_GSIZE_FORMAT, len);

      g_set_error (error, EVCP_ERROR, EVCP_ERROR_FAILED,
                   _("Cannot write the outbox %s: %s bytes, more than its limit of %d"),
                   self->path, size, EVCP_OUTBOX_MAX_FILE_SIZE);
      return FALSE;
    }
  if (!g_file_set_contents_full (self->path, data, (gssize) len,
                                 G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                 0600, &local_error))
    {
      g_set_error (error, EVCP_ERROR, EVCP_ERROR_FAILED,
                   _("Cannot write the outbox %s: %s"), self->path, local_error->message);
      return FALSE;
    }
  return TRUE;
}

static gboolean
corrupt (GError **error, const gchar *path, const gchar *why)
{
  g_set_error (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE,
               _("The outbox %s is corrupt (%s); it is left as it is and must be repaired or moved away by hand"),
               path, why);
  return FALSE;
}

/* A member that must be a non-negative integer. */
static gboolean
get_uint (JsonObject *object, const gchar *name, guint64 *out)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_INT64 || json_node_get_int (node) < 0)
    return FALSE;
  *out = (guint64) json_node_get_int (node);
  return TRUE;
}

/* A member that must be a string if present; FALSE if it is something else. */
static gboolean
get_optional_string (JsonObject *object, const gchar *name, gchar **out)
{
  JsonNode *node = json_object_get_member (object, name);

  *out = NULL;
  if (node == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return FALSE;
  *out = g_strdup (json_node_get_string (node));
  return TRUE;
}

static EvcpOutboxRecord *
parse_record (JsonNode *node, guint64 after, guint64 next_seq, const gchar *path, GError **error)
{
  g_autoptr(EvcpOutboxRecord) record = g_new0 (EvcpOutboxRecord, 1);
  JsonObject *object;
  JsonArray *pending;
  guint64 wall_time;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      corrupt (error, path, "a record is not an object");
      return NULL;
    }
  object = json_node_get_object (node);
  if (!get_uint (object, "seq", &record->seq) || record->seq <= after || record->seq >= next_seq)
    {
      corrupt (error, path, "a record's seq is missing, not growing, or not below next_seq");
      return NULL;
    }
  if (!get_uint (object, "wall_time", &wall_time) || wall_time > G_MAXINT64)
    {
      corrupt (error, path, "a record's wall_time is missing");
      return NULL;
    }
  record->wall_time = (gint64) wall_time;
  if (!json_object_has_member (object, "pending") ||
      !JSON_NODE_HOLDS_ARRAY (json_object_get_member (object, "pending")))
    {
      corrupt (error, path, "a record's pending list is missing");
      return NULL;
    }
  pending = json_object_get_array_member (object, "pending");
  for (guint i = 0; i < json_array_get_length (pending); i++)
    {
      JsonNode *name = json_array_get_element (pending, i);
      gboolean known = FALSE;

      for (guint d = 0; d < G_N_ELEMENTS (destination_names); d++)
        if (JSON_NODE_HOLDS_VALUE (name) && json_node_get_value_type (name) == G_TYPE_STRING &&
            g_str_equal (json_node_get_string (name), destination_names[d].name))
          {
            record->pending |= destination_names[d].destination;
            known = TRUE;
          }
      if (!known)
        {
          corrupt (error, path, "a record is pending at an unknown destination");
          return NULL;
        }
    }
  if (record->pending == 0)
    {
      corrupt (error, path, "a record is pending nowhere");
      return NULL;
    }
  if (!get_optional_string (object, "frame", &record->frame) ||
      !get_optional_string (object, "kafka_topic", &record->kafka_topic) ||
      !get_optional_string (object, "kafka_key", &record->kafka_key) ||
      !get_optional_string (object, "kafka_value", &record->kafka_value))
    {
      corrupt (error, path, "a record has a member of the wrong type");
      return NULL;
    }
  if ((record->pending & EVCP_OUTBOX_CENTRAL) &&
      (record->frame == NULL || !evcp_frame_validate_data (record->frame, -1, NULL)))
    {
      corrupt (error, path, "a record due at Central has no valid frame");
      return NULL;
    }
  if ((record->pending & EVCP_OUTBOX_KAFKA) &&
      (record->kafka_topic == NULL || record->kafka_value == NULL))
    {
      corrupt (error, path, "a record due at Kafka has no topic or value");
      return NULL;
    }
  return g_steal_pointer (&record);
}

static gboolean
load (EvcpOutbox *self, GError **error)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  g_autoptr(GError) local_error = NULL;
  g_autofree gchar *data = NULL;
  gsize len = 0;
  JsonNode *root;
  JsonObject *object;
  JsonArray *records;
  guint64 version, last = 0;

  data = evcp_state_file_read (self->path, EVCP_OUTBOX_MAX_FILE_SIZE, &len, &local_error);
  if (data == NULL)
    {
      if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        {
          self->next_seq = 1;
          return TRUE;
        }
      if (local_error->domain == EVCP_ERROR)
        return corrupt (error, self->path, local_error->message);
      g_set_error (error, EVCP_ERROR, EVCP_ERROR_FAILED,
                   _("Cannot read the outbox %s: %s"), self->path, local_error->message);
      return FALSE;
    }
  if (!evcp_json_parser_load (parser, data, len, EVCP_OUTBOX_MAX_FILE_SIZE,
                              EVCP_JSON_LIMITS_DEFAULT_MAX_DEPTH, &local_error))
    return corrupt (error, self->path, local_error->message);
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return corrupt (error, self->path, "not a JSON object");
  object = json_node_get_object (root);
  if (!get_uint (object, "version", &version))
    return corrupt (error, self->path, "no version");
  if (version != OUTBOX_VERSION)
    {
      g_autofree gchar *why = g_strdup_printf ("version %" G_GUINT64_FORMAT " is not supported", version);
      return corrupt (error, self->path, why);
    }
  if (!get_uint (object, "next_seq", &self->next_seq) || self->next_seq < 1)
    return corrupt (error, self->path, "no next_seq");
  if (!json_object_has_member (object, "records") ||
      !JSON_NODE_HOLDS_ARRAY (json_object_get_member (object, "records")))
    return corrupt (error, self->path, "no records");
  records = json_object_get_array_member (object, "records");
  for (guint i = 0; i < json_array_get_length (records); i++)
    {
      EvcpOutboxRecord *record = parse_record (json_array_get_element (records, i), last,
                                               self->next_seq, self->path, error);

      if (record == NULL)
        return FALSE;
      last = record->seq;
      g_ptr_array_add (self->records, record);
    }
  return TRUE;
}

/* ---- the object ------------------------------------------------------------ */

/**
 * evcp_outbox_new:
 * @path: the outbox file
 * @error: %EVCP_ERROR_INVALID_MESSAGE if the file exists but is not a valid
 *   outbox (it is never reset: sequence numbers must only grow),
 *   %EVCP_ERROR_FAILED if it cannot be read or its directory created
 *
 * Opens the outbox file at @path, or starts an empty one (next seq 1) if it
 * does not exist; the file itself is written on the first append.
 */
EvcpOutbox *
evcp_outbox_new (const gchar *path, GError **error)
{
  g_autoptr(EvcpOutbox) self = NULL;
  g_autofree gchar *dir = NULL;

  g_return_val_if_fail (path != NULL && *path != '\0', NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  self = g_object_new (EVCP_TYPE_OUTBOX, NULL);
  self->path = g_strdup (path);
  dir = g_path_get_dirname (path);
  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, EVCP_ERROR, EVCP_ERROR_FAILED,
                   _("Cannot create the directory %s of the outbox: %s"), dir, g_strerror (saved_errno));
      return NULL;
    }
  if (!load (self, error))
    return NULL;
  self->open_seq = self->next_seq;
  if (self->records->len > 0)
    {
      g_autofree gchar *count = g_strdup_printf ("%u", self->records->len);

      g_message (_("Outbox %s: %s events from an earlier run are still due"), self->path, count);
    }
  return g_steal_pointer (&self);
}

/* A copy of @event with "timestamp" (if absent) and data.seq, as JSON text. */
static gchar *
make_kafka_value (JsonObject *event, guint64 seq, gint64 wall_time, GError **error)
{
  g_autoptr(JsonNode) node = json_node_new (JSON_NODE_OBJECT);
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree gchar *text = NULL;
  JsonObject *copy;
  JsonObject *data;

  /* a deep copy, so that the caller's object is left alone */
  json_node_set_object (node, event);
  json_generator_set_root (generator, node);
  text = json_generator_to_data (generator, NULL);
  if (!evcp_json_parser_load (parser, text, strlen (text), EVCP_OUTBOX_MAX_FILE_SIZE,
                              EVCP_JSON_LIMITS_DEFAULT_MAX_DEPTH, error))
    return NULL;
  copy = json_node_get_object (json_parser_get_root (parser));

  if (!json_object_has_member (copy, "timestamp"))
    {
      g_autoptr(GDateTime) when = g_date_time_new_from_unix_utc (wall_time / G_USEC_PER_SEC);
      g_autoptr(GDateTime) exact = g_date_time_add (when, wall_time % G_USEC_PER_SEC);
      g_autofree gchar *iso = g_date_time_format_iso8601 (exact);

      json_object_set_string_member (copy, "timestamp", iso);
    }
  if (!json_object_has_member (copy, "data"))
    json_object_set_object_member (copy, "data", json_object_new ());
  if (!JSON_NODE_HOLDS_OBJECT (json_object_get_member (copy, "data")))
    {
      g_set_error_literal (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE,
                           _("The event's data is not an object"));
      return NULL;
    }
  data = json_object_get_object_member (copy, "data");
  json_object_set_int_member (data, "seq", (gint64) seq);

  json_generator_set_root (generator, json_parser_get_root (parser));
  json_generator_set_pretty (generator, FALSE);
  return json_generator_to_data (generator, NULL);
}

/**
 * evcp_outbox_append:
 *
 * See the header. The event is on disk when this returns; then "appended"
 * is emitted.
 */
const EvcpOutboxRecord *
evcp_outbox_append (EvcpOutbox          *self,
                    const gchar * const *central_fields,
                    const gchar         *kafka_topic,
                    const gchar         *kafka_key,
                    JsonObject          *kafka_event,
                    GError             **error)
{
  g_autoptr(EvcpOutboxRecord) record = NULL;
  EvcpOutboxRecord *added;

  g_return_val_if_fail (EVCP_IS_OUTBOX (self), NULL);
  g_return_val_if_fail (central_fields != NULL || kafka_event != NULL, NULL);
  g_return_val_if_fail (central_fields == NULL || central_fields[0] != NULL, NULL);
  g_return_val_if_fail ((kafka_event == NULL) == (kafka_topic == NULL), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (self->next_seq == G_MAXINT64)
    {
      g_set_error (error, EVCP_ERROR, EVCP_ERROR_FAILED,
                   _("The outbox %s has used every sequence number"), self->path);
      return NULL;
    }

  record = g_new0 (EvcpOutboxRecord, 1);
  record->seq = self->next_seq;
  record->wall_time = g_get_real_time ();

  if (central_fields != NULL)
    {
      guint n = g_strv_length ((gchar **) central_fields);
      g_autofree const gchar **fields = g_new0 (const gchar *, n + 2);
      g_autofree gchar *seq = g_strdup_printf ("%" G_GUINT64_FORMAT, record->seq);

      memcpy (fields, central_fields, n * sizeof (gchar *));
      fields[n] = seq;
      record->frame = evcp_frame_join_fields (fields, error);
      if (record->frame == NULL || !evcp_frame_validate_data (record->frame, -1, error))
        return NULL;
      record->pending |= EVCP_OUTBOX_CENTRAL;
    }
  if (kafka_event != NULL)
    {
      record->kafka_value = make_kafka_value (kafka_event, record->seq, record->wall_time, error);
      if (record->kafka_value == NULL)
        return NULL;
      record->kafka_topic = g_strdup (kafka_topic);
      record->kafka_key = g_strdup (kafka_key);
      record->pending |= EVCP_OUTBOX_KAFKA;
    }

  /* persisted first; the state in memory changes only once it is on disk */
  added = record;
  g_ptr_array_add (self->records, g_steal_pointer (&record));
  self->next_seq++;
  if (!save (self, error))
    {
      self->next_seq--;
      g_ptr_array_remove_index (self->records, self->records->len - 1);
      return NULL;
    }
  g_debug ("Outbox %s: appended seq %" G_GUINT64_FORMAT " for %s%s", self->path, added->seq,
           (added->pending & EVCP_OUTBOX_CENTRAL) ? "Central " : "",
           (added->pending & EVCP_OUTBOX_KAFKA) ? "Kafka" : "");
  g_signal_emit (self, signals[SIGNAL_APPENDED], 0, added->seq, added->pending);
  return added;
}

/* The index of @seq in the records (which are sorted by seq), or -1. */
static gint
find (EvcpOutbox *self, guint64 seq)
{
  guint lo = 0, hi = self->records->len;

  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;
      const EvcpOutboxRecord *record = g_ptr_array_index (self->records, mid);

      if (record->seq == seq)
        return (gint) mid;
      if (record->seq < seq)
        lo = mid + 1;
      else
        hi = mid;
    }
  return -1;
}

const EvcpOutboxRecord *
evcp_outbox_peek (EvcpOutbox *self, EvcpOutboxDestination destination)
{
  g_return_val_if_fail (EVCP_IS_OUTBOX (self), NULL);

  for (guint i = 0; i < self->records->len; i++)
    {
      const EvcpOutboxRecord *record = g_ptr_array_index (self->records, i);

      if (record->pending & destination)
        return record;
    }
  return NULL;
}

GPtrArray *
evcp_outbox_list (EvcpOutbox *self, EvcpOutboxDestination destination)
{
  GPtrArray *list;

  g_return_val_if_fail (EVCP_IS_OUTBOX (self), NULL);

  list = g_ptr_array_new ();
  for (guint i = 0; i < self->records->len; i++)
    {
      EvcpOutboxRecord *record = g_ptr_array_index (self->records, i);

      if (record->pending & destination)
        g_ptr_array_add (list, record);
    }
  return list;
}

/**
 * evcp_outbox_ack:
 * @error: %EVCP_ERROR_FAILED if the file could not be written (the record
 *   stays due); acknowledging a seq that is not due at @destination is not
 *   an error (a duplicate acknowledgement) and writes nothing
 */
gboolean
evcp_outbox_ack (EvcpOutbox            *self,
                 guint64                seq,
                 EvcpOutboxDestination  destination,
                 GError               **error)
{
  EvcpOutboxRecord *record;
  guint old;
  gint index;

  g_return_val_if_fail (EVCP_IS_OUTBOX (self), FALSE);
  g_return_val_if_fail (destination != 0 && (destination & ~ALL_DESTINATIONS) == 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  index = find (self, seq);
  if (index < 0)
    return TRUE;
  record = g_ptr_array_index (self->records, index);
  if ((record->pending & destination) == 0)
    return TRUE;

  old = record->pending;
  record->pending &= ~destination;
  if (!save (self, error))
    {
      record->pending = old;
      return FALSE;
    }
  g_debug ("Outbox %s: seq %" G_GUINT64_FORMAT " acknowledged by %s", self->path, seq,
           destination == EVCP_OUTBOX_CENTRAL ? "Central" : destination == EVCP_OUTBOX_KAFKA ? "Kafka" : "both");
  if (record->pending == 0)
    g_ptr_array_remove_index (self->records, (guint) index);
  return TRUE;
}

guint
evcp_outbox_get_length (EvcpOutbox *self, EvcpOutboxDestination destination)
{
  guint n = 0;

  g_return_val_if_fail (EVCP_IS_OUTBOX (self), 0);

  for (guint i = 0; i < self->records->len; i++)
    {
      const EvcpOutboxRecord *record = g_ptr_array_index (self->records, i);

      if (record->pending & destination)
        n++;
    }
  return n;
}

guint64
evcp_outbox_get_next_seq (EvcpOutbox *self)
{
  g_return_val_if_fail (EVCP_IS_OUTBOX (self), 0);
  return self->next_seq;
}

guint64
evcp_outbox_get_open_seq (EvcpOutbox *self)
{
  g_return_val_if_fail (EVCP_IS_OUTBOX (self), 0);
  return self->open_seq;
}

const gchar *
evcp_outbox_get_path (EvcpOutbox *self)
{
  g_return_val_if_fail (EVCP_IS_OUTBOX (self), NULL);
  return self->path;
}

static void
evcp_outbox_finalize (GObject *object)
{
  EvcpOutbox *self = EVCP_OUTBOX (object);

  g_ptr_array_unref (self->records);
  g_free (self->path);
  G_OBJECT_CLASS (evcp_outbox_parent_class)->finalize (object);
}

static void
evcp_outbox_class_init (EvcpOutboxClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = evcp_outbox_finalize;

  /**
   * EvcpOutbox::appended:
   * @seq: the new record's sequence number
   * @destinations: where it is due (EvcpOutboxDestination bits)
   *
   * Emitted once the record is on disk, so that senders wake up.
   */
  signals[SIGNAL_APPENDED] =
    g_signal_new ("appended", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, G_TYPE_UINT64, G_TYPE_UINT);
}

static void
evcp_outbox_init (EvcpOutbox *self)
{
  self->records = g_ptr_array_new_with_free_func ((GDestroyNotify) record_free);
  self->next_seq = 1;
}
