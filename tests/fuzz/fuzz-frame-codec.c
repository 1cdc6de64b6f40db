/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "evcp-fuzz"

#include "evcp-build-config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evcp-frame-codec.h"

/*
 * libFuzzer target for the frame decoder (and, through the round trips, the
 * encoder and the field helpers). The whole input is the byte stream. It is
 * decoded three times: all at once, one byte at a time, and in chunks whose
 * sizes are taken from the input itself; the three event sequences must be
 * the same. Every FRAME must be a valid DATA that encodes and decodes back to
 * itself, and whose fields join back to it. The input is also tried as DATA
 * for the encoder, and as a list of fields (separated by NUL bytes) to join.
 */

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

typedef struct {
  EvcpFrameEventType  type;
  EvcpFrameBadReason  reason;
  gchar              *data;     /* FRAME only */
  gsize               len;
} RecordedEvent;

static void
recorded_event_clear (gpointer p)
{
  RecordedEvent *event = p;

  g_free (event->data);
}

/* @data: a valid DATA, NUL-terminated */
static void
check_data (const gchar *data, gsize len)
{
  g_autoptr(EvcpFrameDecoder) decoder = evcp_frame_decoder_new ();
  g_autoptr(GBytes) frame = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) fields = NULL;
  g_autofree gchar *joined = NULL;
  const guint8 *p;
  gsize n;
  EvcpFrameEvent event;

  g_assert_true (evcp_frame_validate_data (data, (gssize) len, &error));
  g_assert_no_error (error);

  /* STX DATA ETX LRC, which decodes to exactly one FRAME with the same DATA */
  frame = evcp_frame_encode (data, (gssize) len, &error);
  g_assert_no_error (error);
  p = g_bytes_get_data (frame, &n);
  g_assert_cmpuint (n, ==, len + 3);
  g_assert_cmpuint (p[0], ==, EVCP_FRAME_STX);
  g_assert_cmpuint (p[len + 1], ==, EVCP_FRAME_ETX);
  g_assert_cmpuint (p[len + 2], ==, evcp_frame_compute_lrc ((const guint8 *) data, len));
  g_assert_true (evcp_frame_decoder_next (decoder, &p, &n, &event));
  g_assert_cmpint (event.type, ==, EVCP_FRAME_EVENT_FRAME);
  g_assert_cmpmem (event.data, event.len, data, len);
  g_assert_false (evcp_frame_decoder_next (decoder, &p, &n, &event));
  g_assert_cmpuint (n, ==, 0);
  g_assert_false (evcp_frame_decoder_in_frame (decoder));

  /* fields: the verb first, join (split (DATA)) == DATA */
  fields = evcp_frame_split_fields (data);
  g_assert_nonnull (fields);
  g_assert_nonnull (fields[0]);
  joined = evcp_frame_join_fields ((const gchar * const *) fields, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (joined, ==, data);
}

static void
check_event (const EvcpFrameEvent *event)
{
  switch (event->type)
    {
    case EVCP_FRAME_EVENT_FRAME:
      g_assert_cmpint (event->reason, ==, EVCP_FRAME_BAD_NONE);
      g_assert_nonnull (event->data);
      g_assert_cmpuint (event->len, >=, 1);
      g_assert_cmpuint (event->len, <=, EVCP_FRAME_MAX_DATA);
      g_assert_cmpuint (strlen (event->data), ==, event->len);
      check_data (event->data, event->len);
      break;
    case EVCP_FRAME_EVENT_ACK:
    case EVCP_FRAME_EVENT_NACK:
    case EVCP_FRAME_EVENT_EOT:
      g_assert_cmpint (event->reason, ==, EVCP_FRAME_BAD_NONE);
      g_assert_null (event->data);
      g_assert_cmpuint (event->len, ==, 0);
      break;
    case EVCP_FRAME_EVENT_BAD:
      g_assert_cmpint (event->reason, >, EVCP_FRAME_BAD_NONE);
      g_assert_cmpint (event->reason, <=, EVCP_FRAME_BAD_NOT_UTF8);
      g_assert_null (event->data);
      g_assert_cmpuint (event->len, ==, 0);
      break;
    default:
      g_assert_not_reached ();
    }
}

/* The size of the chunk that starts at @pos: 0 (all the rest) for mode 0,
 * 1 for mode 1, otherwise taken from the byte at @pos. */
static gsize
chunk_size (guint mode, const uint8_t *data, size_t size, size_t pos)
{
  if (mode == 0)
    return size - pos;
  if (mode == 1)
    return 1;
  return 1 + (((gsize) data[pos] * 31 + pos) % 67);
}

static GArray *
decode (const uint8_t *data, size_t size, guint mode)
{
  g_autoptr(EvcpFrameDecoder) decoder = evcp_frame_decoder_new ();
  GArray *events = g_array_new (FALSE, FALSE, sizeof (RecordedEvent));
  size_t pos = 0;

  g_array_set_clear_func (events, recorded_event_clear);
  while (pos < size)
    {
      gsize chunk = MIN (chunk_size (mode, data, size, pos), size - pos);
      const guint8 *p = data + pos;
      gsize n = chunk;
      EvcpFrameEvent event;

      while (evcp_frame_decoder_next (decoder, &p, &n, &event))
        {
          RecordedEvent recorded = { event.type, event.reason, NULL, event.len };

          check_event (&event);
          if (event.type == EVCP_FRAME_EVENT_FRAME)
            recorded.data = g_strndup (event.data, event.len);
          g_array_append_val (events, recorded);
          /* a byte gives at most two events (a BAD, then itself) */
          g_assert_cmpuint (events->len, <=, 2 * size);
        }
      g_assert_cmpuint (n, ==, 0);
      g_assert_true (p == data + pos + chunk);
      pos += chunk;
    }
  return events;
}

static void
assert_same_events (GArray *a, GArray *b)
{
  g_assert_cmpuint (a->len, ==, b->len);
  for (guint i = 0; i < a->len; i++)
    {
      RecordedEvent *x = &g_array_index (a, RecordedEvent, i);
      RecordedEvent *y = &g_array_index (b, RecordedEvent, i);

      g_assert_cmpint (x->type, ==, y->type);
      g_assert_cmpint (x->reason, ==, y->reason);
      g_assert_cmpuint (x->len, ==, y->len);
      g_assert_cmpstr (x->data, ==, y->data);
    }
}

/* The input as fields separated by NUL bytes: join must accept them exactly
 * when the protocol can carry them, and split must give them back. */
static void
check_fields (const uint8_t *data, size_t size)
{
  g_autofree gchar *text = g_malloc (size + 1);
  g_autoptr(GPtrArray) fields = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  g_autofree gchar *joined = NULL;
  gboolean expect_ok = TRUE;
  gsize total = 0;

  memcpy (text, data, size);
  text[size] = '\0';
  for (gsize start = 0;;)
    {
      const gchar *field = text + start;
      gsize len = strlen (field);

      g_ptr_array_add (fields, (gpointer) field);
      total += len + (start > 0 ? 1 : 0);
      if (!g_utf8_validate (field, -1, NULL))
        expect_ok = FALSE;
      for (gsize i = 0; i < len; i++)
        if (field[i] == '#' || evcp_frame_is_forbidden_byte ((guint8) field[i]))
          expect_ok = FALSE;
      start += len + 1;
      if (start > size)
        break;
    }
  if (total == 0 || total > EVCP_FRAME_MAX_DATA)
    expect_ok = FALSE;
  g_ptr_array_add (fields, NULL);

  joined = evcp_frame_join_fields ((const gchar * const *) fields->pdata, &error);
  g_assert_cmpint (joined != NULL, ==, expect_ok);
  g_assert_cmpint (error == NULL, ==, expect_ok);
  if (joined != NULL)
    {
      g_auto(GStrv) split = evcp_frame_split_fields (joined);
      g_autoptr(GBytes) frame = evcp_frame_encode_fields ((const gchar * const *) fields->pdata, &error);
      g_autoptr(GBytes) expected = NULL;

      g_assert_cmpstrv ((const gchar * const *) split, (const gchar * const *) fields->pdata);
      g_assert_cmpuint (strlen (joined), ==, total);
      g_assert_no_error (error);
      expected = evcp_frame_encode (joined, -1, &error);
      g_assert_no_error (error);
      g_assert_true (g_bytes_equal (frame, expected));
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(GArray) whole = NULL;
  g_autoptr(GArray) bytewise = NULL;
  g_autoptr(GArray) chunked = NULL;
  gsize n_stx = 0;
  gsize n_frames = 0;

  /* keep each run short: the interesting inputs are a few frames long */
  if (size > 4 * EVCP_FRAME_MAX_ENCODED)
    return 0;

  whole = decode (data, size, 0);
  bytewise = decode (data, size, 1);
  chunked = decode (data, size, 2);
  assert_same_events (whole, bytewise);
  assert_same_events (whole, chunked);

  /* a frame needs its own STX */
  for (gsize i = 0; i < size; i++)
    n_stx += data[i] == EVCP_FRAME_STX;
  for (guint i = 0; i < whole->len; i++)
    n_frames += g_array_index (whole, RecordedEvent, i).type == EVCP_FRAME_EVENT_FRAME;
  g_assert_cmpuint (n_frames, <=, n_stx);

  /* the input as DATA: if the encoder takes it, it must round-trip */
  if (evcp_frame_validate_data ((const gchar *) data, (gssize) size, NULL))
    {
      /* check_data() wants a C string, as a FRAME event gives; the input
       * is not NUL-terminated (found by this fuzzer, in this harness) */
      g_autofree gchar *text = g_strndup ((const gchar *) data, size);

      check_data (text, size);
    }
  check_fields (data, size);

  return 0;
}
