/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "evcp-kafka"

#include "evcp-build-config.h"

#include <string.h>

#include "evcp-dead-letter.h"
#include "evcp-error.h"
#include "evcp-time.h"

#define MAX_HEADERS 10

struct _EvcpDeadLetterRecord
{
  GBytes          *key;
  GBytes          *value;
  EvcpKafkaHeader  headers[MAX_HEADERS];
  guint            n_headers;
  gboolean         cut;
};

static void
add_header (EvcpDeadLetterRecord *self, const gchar *name, gchar *value)
{
  g_assert (self->n_headers < MAX_HEADERS);
  self->headers[self->n_headers].name = name;
  self->headers[self->n_headers].value = value;
  self->n_headers++;
}

static gsize
headers_size (EvcpDeadLetterRecord *self)
{
  gsize size = 0;

  /* a name, a value and their lengths as varints (at most 5 bytes each) */
  for (guint i = 0; i < self->n_headers; i++)
    size += strlen (self->headers[i].name) + strlen (self->headers[i].value) + 10;
  return size;
}

/**
 * evcp_dead_letter_record_new:
 * @message: the consumed message
 * @error: why it goes to the dead letters
 * @cp_id: this charging point
 * @max_bytes: the largest record the producer may send (its
 *   message.max.bytes, or less)
 * @reduced_because: (nullable): when set, the record carries neither key nor
 *   value, only the headers, and evcp.dead-letter.reduced says why (a full
 *   record was refused for good)
 *
 * Returns: (transfer full): the record, whose size (key, value, headers) is
 *   under @max_bytes less %EVCP_DEAD_LETTER_OVERHEAD
 */
EvcpDeadLetterRecord *
evcp_dead_letter_record_new (EvcpMessage  *message,
                             const GError *error,
                             const gchar  *cp_id,
                             gsize         max_bytes,
                             const gchar  *reduced_because)
{
  EvcpDeadLetterRecord *self = g_new0 (EvcpDeadLetterRecord, 1);
  GBytes *raw = evcp_message_get_raw (message);
  GBytes *key = evcp_message_get_key_bytes (message);
  gsize key_size = key != NULL ? g_bytes_get_size (key) : 0;
  gsize used, budget;
  gchar now[EVCP_TIMESTAMP_SIZE];

  add_header (self, "evcp.error", evcp_utf8_cut (error->message, EVCP_DEAD_LETTER_ERROR_MAX));
  add_header (self, "evcp.error.code",
              g_strdup (error->domain == EVCP_ERROR ? evcp_error_to_string (error->code) : "failed"));
  add_header (self, "evcp.origin.topic",
              evcp_utf8_cut (evcp_message_get_topic (message), EVCP_DEAD_LETTER_HEADER_MAX));
  add_header (self, "evcp.origin.partition", g_strdup_printf ("%d", evcp_message_get_partition (message)));
  add_header (self, "evcp.origin.offset",
              g_strdup_printf ("%" G_GINT64_FORMAT, evcp_message_get_offset (message)));
  add_header (self, "evcp.cp_id", evcp_utf8_cut (cp_id, EVCP_DEAD_LETTER_HEADER_MAX));
  add_header (self, "evcp.timestamp", g_strdup (evcp_time_format_iso8601 (g_get_real_time (), now)));
  add_header (self, "evcp.original.size", g_strdup_printf ("%" G_GSIZE_FORMAT, g_bytes_get_size (raw)));

  if (reduced_because != NULL)
    {
      add_header (self, "evcp.dead-letter.reduced",
                  evcp_utf8_cut (reduced_because, EVCP_DEAD_LETTER_HEADER_MAX));
      key_size = 0;
      self->cut = g_bytes_get_size (raw) > 0 || key != NULL;
    }
  else if (key_size > EVCP_DEAD_LETTER_KEY_MAX)
    {
      add_header (self, "evcp.original.key.size", g_strdup_printf ("%" G_GSIZE_FORMAT, key_size));
      key_size = EVCP_DEAD_LETTER_KEY_MAX;
      self->key = g_bytes_new_from_bytes (key, 0, key_size);
      self->cut = TRUE;
    }
  else if (key != NULL)
    self->key = g_bytes_ref (key);

  used = EVCP_DEAD_LETTER_OVERHEAD + key_size + headers_size (self);
  budget = max_bytes > used ? max_bytes - used : 0;
  if (reduced_because != NULL)
    self->value = g_bytes_new_static ("", 0);
  else if (g_bytes_get_size (raw) > budget)
    {
      self->value = g_bytes_new_from_bytes (raw, 0, budget);
      self->cut = TRUE;
    }
  else
    self->value = g_bytes_ref (raw);
  return self;
}

GBytes *
evcp_dead_letter_record_get_key (EvcpDeadLetterRecord *self)
{
  return self->key;
}

GBytes *
evcp_dead_letter_record_get_value (EvcpDeadLetterRecord *self)
{
  return self->value;
}

const EvcpKafkaHeader *
evcp_dead_letter_record_get_headers (EvcpDeadLetterRecord *self, guint *n_headers)
{
  *n_headers = self->n_headers;
  return self->headers;
}

/* key, value and headers as Kafka counts them against message.max.bytes
 * (the headers' length fields included, an upper bound) */
gsize
evcp_dead_letter_record_get_size (EvcpDeadLetterRecord *self)
{
  return (self->key != NULL ? g_bytes_get_size (self->key) : 0) +
         g_bytes_get_size (self->value) + headers_size (self);
}

/* the key or the value is not the original's whole */
gboolean
evcp_dead_letter_record_is_cut (EvcpDeadLetterRecord *self)
{
  return self->cut;
}

void
evcp_dead_letter_record_free (EvcpDeadLetterRecord *self)
{
  if (self == NULL)
    return;
  g_clear_pointer (&self->key, g_bytes_unref);
  g_clear_pointer (&self->value, g_bytes_unref);
  for (guint i = 0; i < self->n_headers; i++)
    g_free (self->headers[i].value);
  g_free (self);
}
