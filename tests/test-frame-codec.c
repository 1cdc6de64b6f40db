/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "evcp-build-config.h"

#include <string.h>

#include "evcp-error.h"
#include "evcp-frame-codec.h"

#define STX  "\x02"
#define ETX  "\x03"
#define EOT  "\x04"
#define ACK  "\x06"
#define NACK "\x15"

/* Events as text, "FRAME:PING#CP-1|ACK|BAD:bad-lrc", so that a whole
 * sequence is checked with one comparison. */
static void
append_event (GString *out, const EvcpFrameEvent *event)
{
  if (out->len > 0)
    g_string_append_c (out, '|');

  if (event->type == EVCP_FRAME_EVENT_FRAME)
    {
      g_assert_nonnull (event->data);
      g_assert_cmpuint (event->len, >=, 1);
      g_assert_cmpuint (event->len, <=, EVCP_FRAME_MAX_DATA);
      g_assert_cmpuint (strlen (event->data), ==, event->len);
      g_assert_cmpint (event->reason, ==, EVCP_FRAME_BAD_NONE);
      g_string_append_printf (out, "FRAME:%s", event->data);
      return;
    }

  g_assert_null (event->data);
  g_assert_cmpuint (event->len, ==, 0);
  switch (event->type)
    {
    case EVCP_FRAME_EVENT_ACK:
      g_assert_cmpint (event->reason, ==, EVCP_FRAME_BAD_NONE);
      g_string_append (out, "ACK");
      break;
    case EVCP_FRAME_EVENT_NACK:
      g_assert_cmpint (event->reason, ==, EVCP_FRAME_BAD_NONE);
      g_string_append (out, "NACK");
      break;
    case EVCP_FRAME_EVENT_EOT:
      g_assert_cmpint (event->reason, ==, EVCP_FRAME_BAD_NONE);
      g_string_append (out, "EOT");
      break;
    case EVCP_FRAME_EVENT_BAD:
      g_assert_cmpint (event->reason, !=, EVCP_FRAME_BAD_NONE);
      g_string_append_printf (out, "BAD:%s", evcp_frame_bad_reason_to_string (event->reason));
      break;
    case EVCP_FRAME_EVENT_FRAME:
    default:
      g_assert_not_reached ();
    }
}

static void
feed (EvcpFrameDecoder *decoder, const guint8 *buf, gsize len, GString *out)
{
  EvcpFrameEvent event;

  while (evcp_frame_decoder_next (decoder, &buf, &len, &event))
    append_event (out, &event);
  g_assert_cmpuint (len, ==, 0);
}

/* Decodes @stream cut at the (increasing) offsets @cuts. */
static gchar *
decode_cut (const guint8 *stream, gsize len, const gsize *cuts, guint n_cuts)
{
  g_autoptr(EvcpFrameDecoder) decoder = evcp_frame_decoder_new ();
  GString *out = g_string_new (NULL);
  gsize start = 0;

  for (guint i = 0; i <= n_cuts; i++)
    {
      gsize stop = i < n_cuts ? cuts[i] : len;

      g_assert_cmpuint (stop, >=, start);
      feed (decoder, stream + start, stop - start, out);
      start = stop;
    }
  return g_string_free (out, FALSE);
}

static gchar *
decode_bytewise (const guint8 *stream, gsize len)
{
  g_autoptr(EvcpFrameDecoder) decoder = evcp_frame_decoder_new ();
  GString *out = g_string_new (NULL);

  for (gsize i = 0; i < len; i++)
    feed (decoder, stream + i, 1, out);
  return g_string_free (out, FALSE);
}

/* Decodes @stream all at once, checking that one byte at a time gives the
 * same events: every test checks that the chunking does not matter. */
static gchar *
decode (const guint8 *stream, gsize len)
{
  g_autofree gchar *bytewise = decode_bytewise (stream, len);
  gchar *whole = decode_cut (stream, len, NULL, 0);

  g_assert_cmpstr (whole, ==, bytewise);
  return whole;
}

static gchar *
decode_str (const gchar *stream)
{
  return decode ((const guint8 *) stream, strlen (stream));
}

static void
add_raw (GByteArray *stream, const gchar *bytes, gsize len)
{
  g_byte_array_append (stream, (const guint8 *) bytes, (guint) len);
}

static void
add_str (GByteArray *stream, const gchar *bytes)
{
  add_raw (stream, bytes, strlen (bytes));
}

static void
add_byte (GByteArray *stream, guint8 byte)
{
  g_byte_array_append (stream, &byte, 1);
}

static void
add_frame (GByteArray *stream, const gchar *data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) frame = evcp_frame_encode (data, -1, &error);
  gsize len;
  const guint8 *bytes;

  g_assert_no_error (error);
  bytes = g_bytes_get_data (frame, &len);
  g_byte_array_append (stream, bytes, (guint) len);
}

/* STX DATA ETX LRC with the LRC given, for frames the encoder refuses */
static void
add_raw_frame (GByteArray *stream, const gchar *data, gsize len, guint8 lrc)
{
  add_byte (stream, EVCP_FRAME_STX);
  add_raw (stream, data, len);
  add_byte (stream, EVCP_FRAME_ETX);
  add_byte (stream, lrc);
}

static void
test_frame_codec_constants (void)
{
  guint n_forbidden = 0;

  g_assert_cmpint (EVCP_FRAME_STX, ==, 0x02);
  g_assert_cmpint (EVCP_FRAME_ETX, ==, 0x03);
  g_assert_cmpint (EVCP_FRAME_EOT, ==, 0x04);
  g_assert_cmpint (EVCP_FRAME_ACK, ==, 0x06);
  g_assert_cmpint (EVCP_FRAME_NACK, ==, 0x15);
  g_assert_cmpint (EVCP_FRAME_MAX_DATA, ==, 4096);
  g_assert_cmpint (EVCP_FRAME_FIELD_SEPARATOR, ==, '#');

  for (guint b = 0; b < 256; b++)
    {
      gboolean expected = b == 0x02 || b == 0x03 || b == 0x04 || b == 0x06 || b == 0x15;

      g_assert_cmpint (evcp_frame_is_forbidden_byte ((guint8) b), ==, expected);
      n_forbidden += expected;
    }
  g_assert_cmpuint (n_forbidden, ==, 5);
}

static void
test_frame_codec_lrc (void)
{
  g_assert_cmpuint (evcp_frame_compute_lrc (NULL, 0), ==, 0);
  g_assert_cmpuint (evcp_frame_compute_lrc ((const guint8 *) "A", 1), ==, 0x41);
  g_assert_cmpuint (evcp_frame_compute_lrc ((const guint8 *) "AB", 2), ==, 0x03);
  g_assert_cmpuint (evcp_frame_compute_lrc ((const guint8 *) "AA", 2), ==, 0x00);
  /* P^I^N^G^#^C^P^-^1 */
  g_assert_cmpuint (evcp_frame_compute_lrc ((const guint8 *) "PING#CP-1", 9), ==,
                    0x50 ^ 0x49 ^ 0x4e ^ 0x47 ^ 0x23 ^ 0x43 ^ 0x50 ^ 0x2d ^ 0x31);
}

static void
test_frame_codec_encode (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) frame = NULL;
  g_autoptr(GBytes) frame2 = NULL;
  const guint8 expected[] = { 0x02, 'P', 'I', 'N', 'G', '#', 'C', 'P', '-', '1', 0x03,
                              0x50 ^ 0x49 ^ 0x4e ^ 0x47 ^ 0x23 ^ 0x43 ^ 0x50 ^ 0x2d ^ 0x31 };
  const guint8 *bytes;
  gsize len;

  frame = evcp_frame_encode ("PING#CP-1", -1, &error);
  g_assert_no_error (error);
  bytes = g_bytes_get_data (frame, &len);
  g_assert_cmpmem (bytes, len, expected, sizeof expected);

  /* an explicit length need not stop at a NUL */
  frame2 = evcp_frame_encode ("PING#CP-1 and more", 9, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (frame, frame2));

  /* an explicit length with a NUL inside is refused */
  g_assert_null (evcp_frame_encode ("PING\0CP", 7, &error));
  g_assert_error (error, EVCP_ERROR, EVCP_ERROR_NOT_UTF8);
  g_clear_error (&error);

  g_assert_true (evcp_frame_validate_data ("OK#CP-1", -1, &error));
  g_assert_no_error (error);
}

static void
test_frame_codec_round_trip (void)
{
  const gchar *samples[] = {
    "X",
    "PING#CP-001",
    "AUTH#CP-001#MONITOR#M\xc3\xa1laga, calle Larios#0.35",
    "SUPPLY#CP-001#S-17#driver-\xe2\x82\xac#12.345#4.32",
    "TICKET#CP-1#S#D#0#0#",
    "#",
    "\xf0\x9f\x94\x8c",
  };

  for (guint i = 0; i < G_N_ELEMENTS (samples); i++)
    {
      g_autoptr(GByteArray) stream = g_byte_array_new ();
      g_autofree gchar *events = NULL;
      g_autofree gchar *expected = g_strdup_printf ("FRAME:%s", samples[i]);

      add_frame (stream, samples[i]);
      g_assert_cmpuint (stream->len, ==, strlen (samples[i]) + 3);
      events = decode (stream->data, stream->len);
      g_assert_cmpstr (events, ==, expected);
    }
}

/* Several frames with garbage and control bytes between them, cut at every
 * position and at every pair of positions. */
static void
test_frame_codec_chunking (void)
{
  g_autoptr(GByteArray) stream = g_byte_array_new ();
  g_autofree gchar *whole = NULL;
  const gchar *expected =
    "BAD:outside-frame|"                   /* leading garbage */
    "FRAME:AUTH#CP-1#ENGINE#M\xc3\xa1laga#0.35|"
    "ACK|"
    "FRAME:STATE#CP-1#ACTIVE#7|"
    "BAD:outside-frame|"                   /* garbage between frames */
    "NACK|"
    "BAD:outside-frame|"                   /* a new run after the NACK */
    "FRAME:PING#CP-1|"
    "BAD:bad-lrc|"
    "FRAME:AC|"                            /* LRC = STX */
    "BAD:forbidden-byte|"                  /* STX inside a frame... */
    "FRAME:PONG#CP-1|"                     /* ...which starts a new one */
    "BAD:empty|"
    "FRAME:SUPPLY#CP-1#S#D#1.5#0.45|"
    "EOT";

  add_str (stream, "noise\r\n\xff" ETX);
  add_frame (stream, "AUTH#CP-1#ENGINE#M\xc3\xa1laga#0.35");
  add_str (stream, ACK);
  add_frame (stream, "STATE#CP-1#ACTIVE#7");
  add_str (stream, "zz" NACK "yy");
  add_frame (stream, "PING#CP-1");
  add_raw_frame (stream, "HELLO", 5, 0x42 ^ 0x01);  /* H^E^L^L^O is 0x42 */
  add_frame (stream, "AC");
  add_str (stream, STX "PO");
  add_frame (stream, "PONG#CP-1");
  add_raw_frame (stream, "", 0, 0x00);
  add_frame (stream, "SUPPLY#CP-1#S#D#1.5#0.45");
  add_str (stream, EOT);

  whole = decode (stream->data, stream->len);
  g_assert_cmpstr (whole, ==, expected);

  for (gsize i = 0; i <= stream->len; i++)
    {
      g_autofree gchar *events = decode_cut (stream->data, stream->len, &i, 1);

      g_assert_cmpstr (events, ==, expected);
    }
  for (gsize i = 0; i <= stream->len; i++)
    for (gsize j = i; j <= stream->len; j++)
      {
        gsize cuts[2] = { i, j };
        g_autofree gchar *events = decode_cut (stream->data, stream->len, cuts, 2);

        g_assert_cmpstr (events, ==, expected);
      }
}

static void
test_frame_codec_bad_lrc (void)
{
  g_autoptr(GByteArray) stream = g_byte_array_new ();
  g_autofree gchar *events = NULL;
  guint8 good = evcp_frame_compute_lrc ((const guint8 *) "PING#CP-1", 9);

  /* every wrong value is refused; the next frame is unaffected */
  for (guint delta = 1; delta < 256; delta++)
    {
      g_autoptr(GByteArray) one = g_byte_array_new ();
      g_autofree gchar *one_events = NULL;

      add_raw_frame (one, "PING#CP-1", 9, good ^ (guint8) delta);
      add_frame (one, "PING#CP-2");
      one_events = decode (one->data, one->len);
      g_assert_cmpstr (one_events, ==, "BAD:bad-lrc|FRAME:PING#CP-2");
    }

  add_raw_frame (stream, "PING#CP-1", 9, good);
  events = decode (stream->data, stream->len);
  g_assert_cmpstr (events, ==, "FRAME:PING#CP-1");

  /* the LRC is checked before UTF-8: a corrupted frame is a bad LRC */
  {
    g_autoptr(GByteArray) corrupt = g_byte_array_new ();
    g_autofree gchar *corrupt_events = NULL;

    add_raw_frame (corrupt, "PI\xffG", 4, good);
    corrupt_events = decode (corrupt->data, corrupt->len);
    g_assert_cmpstr (corrupt_events, ==, "BAD:bad-lrc");
  }
}

static void
test_frame_codec_size_limits (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree gchar *max = g_strnfill (EVCP_FRAME_MAX_DATA, 'x');
  g_autofree gchar *over = g_strnfill (EVCP_FRAME_MAX_DATA + 1, 'y');
  g_autofree gchar *expected = g_strdup_printf ("FRAME:%s", max);
  g_autoptr(GBytes) frame = NULL;

  /* encoding */
  frame = evcp_frame_encode (max, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (frame), ==, EVCP_FRAME_MAX_ENCODED);
  g_assert_null (evcp_frame_encode (over, -1, &error));
  g_assert_error (error, EVCP_ERROR, EVCP_ERROR_TOO_LARGE);
  g_clear_error (&error);
  g_assert_false (evcp_frame_validate_data (over, -1, &error));
  g_assert_error (error, EVCP_ERROR, EVCP_ERROR_TOO_LARGE);
  g_clear_error (&error);

  /* decoding exactly the limit */
  {
    g_autofree gchar *events = decode (g_bytes_get_data (frame, NULL), g_bytes_get_size (frame));

    g_assert_cmpstr (events, ==, expected);
  }

  /* one byte more: one BAD, the rest of the frame (its LRC may be anything,
   * here STX) is swallowed, the next frame is decoded */
  {
    g_autoptr(GByteArray) stream = g_byte_array_new ();
    g_autofree gchar *events = NULL;

    add_raw_frame (stream, over, EVCP_FRAME_MAX_DATA + 1, EVCP_FRAME_STX);
    add_frame (stream, "PING#CP-1");
    events = decode (stream->data, stream->len);
    g_assert_cmpstr (events, ==, "BAD:too-long|FRAME:PING#CP-1");
  }

  /* a megabyte without ETX: still one BAD, and the STX that follows starts
   * a frame; an ACK inside the swallowed part is not lost */
  {
    g_autoptr(GByteArray) stream = g_byte_array_new ();
    g_autofree gchar *huge = g_strnfill (1024 * 1024, 'z');
    g_autofree gchar *events = NULL;

    add_str (stream, STX);
    add_str (stream, huge);
    add_frame (stream, "PING#CP-1");
    add_str (stream, STX);
    add_str (stream, huge);
    add_str (stream, ACK "tail");
    events = decode (stream->data, stream->len);
    g_assert_cmpstr (events, ==,
                     "BAD:too-long|FRAME:PING#CP-1|BAD:too-long|ACK|BAD:outside-frame");
  }
}

static void
test_frame_codec_forbidden_bytes (void)
{
  const guint8 forbidden[] = { 0x02, 0x03, 0x04, 0x06, 0x15 };

  for (guint i = 0; i < G_N_ELEMENTS (forbidden); i++)
    {
      g_autoptr(GError) error = NULL;
      gchar data[] = { 'A', 'B', (gchar) forbidden[i], 'C', '\0' };

      g_assert_null (evcp_frame_encode (data, -1, &error));
      g_assert_error (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE);
      g_clear_error (&error);
      g_assert_false (evcp_frame_validate_data (data, -1, &error));
      g_assert_error (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE);
    }

  /* decoding: the frame is dropped, the byte is then read outside a frame
   * (the rest of the aborted frame is a run of garbage) */
  {
    g_autofree gchar *events = decode_str (STX "AB" ACK "CD" ETX "z");

    g_assert_cmpstr (events, ==, "BAD:forbidden-byte|ACK|BAD:outside-frame");
  }
  {
    g_autofree gchar *events = decode_str (STX "AB" NACK ETX "z");

    g_assert_cmpstr (events, ==, "BAD:forbidden-byte|NACK|BAD:outside-frame");
  }
  {
    g_autofree gchar *events = decode_str (STX "AB" EOT);

    g_assert_cmpstr (events, ==, "BAD:forbidden-byte|EOT");
  }
}

static void
test_frame_codec_empty_data (void)
{
  g_autoptr(GError) error = NULL;

  g_assert_null (evcp_frame_encode ("", -1, &error));
  g_assert_error (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE);
  g_clear_error (&error);
  g_assert_null (evcp_frame_encode ("abc", 0, &error));
  g_assert_error (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE);
  g_clear_error (&error);

  /* whatever its LRC (0 is the XOR of nothing): empty, not bad-lrc */
  for (guint lrc = 0; lrc < 256; lrc++)
    {
      g_autoptr(GByteArray) stream = g_byte_array_new ();
      g_autofree gchar *events = NULL;

      add_raw_frame (stream, "", 0, (guint8) lrc);
      add_frame (stream, "PING#CP-1");
      events = decode (stream->data, stream->len);
      g_assert_cmpstr (events, ==, "BAD:empty|FRAME:PING#CP-1");
    }
}

static void
test_frame_codec_invalid_utf8 (void)
{
  g_autoptr(GError) error = NULL;
  const gchar *bad[] = {
    "\xff",
    "caf\xc3",                /* truncated sequence */
    "\xc0\xaf",               /* overlong */
    "\xed\xa0\x80",           /* surrogate */
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GByteArray) stream = g_byte_array_new ();
      g_autofree gchar *events = NULL;
      gsize len = strlen (bad[i]);

      g_assert_null (evcp_frame_encode (bad[i], -1, &error));
      g_assert_error (error, EVCP_ERROR, EVCP_ERROR_NOT_UTF8);
      g_clear_error (&error);

      add_raw_frame (stream, bad[i], len, evcp_frame_compute_lrc ((const guint8 *) bad[i], len));
      events = decode (stream->data, stream->len);
      g_assert_cmpstr (events, ==, "BAD:not-utf8");
    }

  /* a NUL byte inside DATA */
  {
    g_autoptr(GByteArray) stream = g_byte_array_new ();
    g_autofree gchar *events = NULL;

    add_raw_frame (stream, "A\0B", 3, 'A' ^ 'B');
    events = decode (stream->data, stream->len);
    g_assert_cmpstr (events, ==, "BAD:not-utf8");
  }
}

static void
test_frame_codec_eot (void)
{
  g_autoptr(GByteArray) stream = g_byte_array_new ();
  g_autofree gchar *alone = decode_str (EOT);
  g_autofree gchar *events = NULL;

  g_assert_cmpstr (alone, ==, "EOT");

  add_frame (stream, "STOP#CP-1");
  add_str (stream, ACK EOT);
  events = decode (stream->data, stream->len);
  g_assert_cmpstr (events, ==, "FRAME:STOP#CP-1|ACK|EOT");
}

static void
test_frame_codec_ack_nack (void)
{
  g_autoptr(GByteArray) stream = g_byte_array_new ();
  g_autofree gchar *events = NULL;

  add_str (stream, ACK);
  add_frame (stream, "PONG#CP-1");
  add_str (stream, ACK NACK NACK);
  add_frame (stream, "AUTH_OK#CP-1");
  add_str (stream, ACK);
  events = decode (stream->data, stream->len);
  g_assert_cmpstr (events, ==, "ACK|FRAME:PONG#CP-1|ACK|NACK|NACK|FRAME:AUTH_OK#CP-1|ACK");
}

static void
test_frame_codec_garbage (void)
{
  /* a run of bytes before an STX gives one BAD, however it is cut */
  {
    g_autoptr(GByteArray) stream = g_byte_array_new ();
    g_autofree gchar *events = NULL;

    add_str (stream, "GET / HTTP/1.0\r\n\r\n" ETX ETX "\x7f\xfe");
    add_frame (stream, "PING#CP-1");
    events = decode (stream->data, stream->len);
    g_assert_cmpstr (events, ==, "BAD:outside-frame|FRAME:PING#CP-1");
  }

  /* a long run too */
  {
    g_autofree gchar *noise = g_strnfill (100000, 'n');
    g_autofree gchar *events = decode_str (noise);

    g_assert_cmpstr (events, ==, "BAD:outside-frame");
  }

  /* a lone ETX, and bytes after a frame's LRC */
  {
    g_autofree gchar *events = decode_str (ETX);

    g_assert_cmpstr (events, ==, "BAD:outside-frame");
  }
  {
    g_autoptr(GByteArray) stream = g_byte_array_new ();
    g_autofree gchar *events = NULL;

    add_frame (stream, "PING#CP-1");
    add_str (stream, "\n");
    events = decode (stream->data, stream->len);
    g_assert_cmpstr (events, ==, "FRAME:PING#CP-1|BAD:outside-frame");
  }

  /* a control byte ends a run: the bytes after it are a new run */
  {
    g_autofree gchar *events = decode_str ("ab" ACK "cd" EOT "ef");

    g_assert_cmpstr (events, ==, "BAD:outside-frame|ACK|BAD:outside-frame|EOT|BAD:outside-frame");
  }
}

static void
test_frame_codec_stx_in_frame (void)
{
  g_autoptr(GByteArray) stream = g_byte_array_new ();
  g_autofree gchar *events = NULL;

  add_str (stream, STX "STATE#CP-1#SUPPL");
  add_frame (stream, "STATE#CP-1#FAULT#8");
  add_str (stream, STX STX);
  add_frame (stream, "PING#CP-1");
  events = decode (stream->data, stream->len);
  /* each STX inside a frame aborts it: two BADs for STX STX STX... */
  g_assert_cmpstr (events, ==,
                   "BAD:forbidden-byte|FRAME:STATE#CP-1#FAULT#8|"
                   "BAD:forbidden-byte|BAD:forbidden-byte|FRAME:PING#CP-1");
}

/* The LRC is the one byte after ETX, whatever its value. */
static void
test_frame_codec_lrc_control_value (void)
{
  /* DATA whose XOR is STX, ETX, EOT, ACK, NACK, 0 */
  const struct {
    const gchar *data;
    guint8 lrc;
  } samples[] = {
    { "AC", EVCP_FRAME_STX },
    { "AB", EVCP_FRAME_ETX },
    { "AE", EVCP_FRAME_EOT },
    { "AG", EVCP_FRAME_ACK },
    { "AT", EVCP_FRAME_NACK },
    { "AA", 0x00 },
  };
  g_autoptr(GByteArray) all = g_byte_array_new ();
  g_autofree gchar *all_events = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (samples); i++)
    {
      g_autoptr(GByteArray) stream = g_byte_array_new ();
      g_autofree gchar *events = NULL;
      g_autofree gchar *expected = g_strdup_printf ("FRAME:%s|FRAME:PING#CP-1", samples[i].data);

      g_assert_cmpuint (evcp_frame_compute_lrc ((const guint8 *) samples[i].data, 2), ==, samples[i].lrc);
      add_frame (stream, samples[i].data);
      g_assert_cmpuint (stream->data[stream->len - 1], ==, samples[i].lrc);
      add_frame (stream, "PING#CP-1");
      events = decode (stream->data, stream->len);
      g_assert_cmpstr (events, ==, expected);

      add_frame (all, samples[i].data);
    }
  all_events = decode (all->data, all->len);
  g_assert_cmpstr (all_events, ==, "FRAME:AC|FRAME:AB|FRAME:AE|FRAME:AG|FRAME:AT|FRAME:AA");
}

static void
assert_split (const gchar *data, const gchar * const *expected)
{
  g_auto(GStrv) fields = evcp_frame_split_fields (data);
  g_autoptr(GError) error = NULL;
  g_autofree gchar *joined = NULL;

  g_assert_cmpstrv (fields, expected);
  joined = evcp_frame_join_fields ((const gchar * const *) fields, &error);
  if (*data == '\0')
    {
      g_assert_error (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE);
      g_assert_null (joined);
    }
  else
    {
      g_assert_no_error (error);
      g_assert_cmpstr (joined, ==, data);
    }
}

static void
test_frame_codec_fields_split (void)
{
  const gchar *ping[] = { "PING", "CP-1", NULL };
  const gchar *verb[] = { "AUTH", NULL };
  const gchar *inner[] = { "A", "", "B", NULL };
  const gchar *trailing[] = { "KO", "CP-1", "", NULL };
  const gchar *both[] = { "", "", NULL };
  const gchar *empty[] = { "", NULL };
  const gchar *utf8[] = { "AUTH", "CP-1", "ENGINE", "A Coru\xc3\xb1""a", "0.35", NULL };

  assert_split ("PING#CP-1", ping);
  assert_split ("AUTH", verb);
  assert_split ("A##B", inner);
  assert_split ("KO#CP-1#", trailing);
  assert_split ("#", both);
  assert_split ("", empty);
  assert_split ("AUTH#CP-1#ENGINE#A Coru\xc3\xb1""a#0.35", utf8);
}

static void
test_frame_codec_fields_join (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree gchar *data = NULL;
  g_autoptr(GBytes) frame = NULL;
  g_autoptr(GBytes) expected = NULL;

  {
    const gchar *fields[] = { "TICKET", "CP-1", "S-1", "", "1.5", "0.45", "", NULL };

    data = evcp_frame_join_fields (fields, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (data, ==, "TICKET#CP-1#S-1##1.5#0.45#");

    frame = evcp_frame_encode_fields (fields, &error);
    g_assert_no_error (error);
    expected = evcp_frame_encode (data, -1, &error);
    g_assert_no_error (error);
    g_assert_true (g_bytes_equal (frame, expected));
  }
  {
    const gchar *fields[] = { "AUTH", "CP#1", NULL };

    g_assert_null (evcp_frame_join_fields (fields, &error));
    g_assert_error (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE);
    g_clear_error (&error);
    g_assert_null (evcp_frame_encode_fields (fields, &error));
    g_assert_error (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE);
    g_clear_error (&error);
  }
  {
    const gchar *fields[] = { "AUTH", "CP" ACK "1", NULL };

    g_assert_null (evcp_frame_join_fields (fields, &error));
    g_assert_error (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE);
    g_clear_error (&error);
  }
  {
    const gchar *fields[] = { "AUTH", "CP\xff", NULL };

    g_assert_null (evcp_frame_join_fields (fields, &error));
    g_assert_error (error, EVCP_ERROR, EVCP_ERROR_NOT_UTF8);
    g_clear_error (&error);
  }
  {
    const gchar *fields[] = { NULL };

    g_assert_null (evcp_frame_join_fields (fields, &error));
    g_assert_error (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE);
    g_clear_error (&error);
  }
  {
    g_autofree gchar *half = g_strnfill (EVCP_FRAME_MAX_DATA / 2, 'h');
    const gchar *fits[] = { half, half + 1, NULL };       /* 2048 + 1 + 2047 */
    const gchar *over[] = { half, half, NULL };           /* 2048 + 1 + 2048 */
    g_autofree gchar *joined = evcp_frame_join_fields (fits, &error);

    g_assert_no_error (error);
    g_assert_cmpuint (strlen (joined), ==, EVCP_FRAME_MAX_DATA);
    g_assert_null (evcp_frame_join_fields (over, &error));
    g_assert_error (error, EVCP_ERROR, EVCP_ERROR_TOO_LARGE);
    g_clear_error (&error);
  }
}

static void
test_frame_codec_decoder_api (void)
{
  g_autoptr(EvcpFrameDecoder) decoder = evcp_frame_decoder_new ();
  g_autoptr(GByteArray) stream = g_byte_array_new ();
  EvcpFrameEvent event;
  const guint8 *p = NULL;
  gsize n = 0;

  /* nothing to decode */
  g_assert_false (evcp_frame_decoder_next (decoder, &p, &n, &event));
  g_assert_false (evcp_frame_decoder_in_frame (decoder));

  /* the buffer is advanced just past each event's last byte */
  add_frame (stream, "PING#CP-1");
  add_str (stream, ACK);
  add_frame (stream, "PING#CP-2");
  p = stream->data;
  n = stream->len;
  g_assert_true (evcp_frame_decoder_next (decoder, &p, &n, &event));
  g_assert_cmpint (event.type, ==, EVCP_FRAME_EVENT_FRAME);
  g_assert_cmpstr (event.data, ==, "PING#CP-1");
  g_assert_cmpuint (event.len, ==, 9);
  g_assert_true (p == stream->data + 12);
  g_assert_cmpuint (n, ==, stream->len - 12);
  g_assert_true (evcp_frame_decoder_next (decoder, &p, &n, &event));
  g_assert_cmpint (event.type, ==, EVCP_FRAME_EVENT_ACK);
  g_assert_cmpuint (n, ==, 12);

  /* a partial frame is kept between calls, and forgotten by reset */
  n = 5;
  g_assert_false (evcp_frame_decoder_next (decoder, &p, &n, &event));
  g_assert_cmpuint (n, ==, 0);
  g_assert_true (evcp_frame_decoder_in_frame (decoder));
  evcp_frame_decoder_reset (decoder);
  g_assert_false (evcp_frame_decoder_in_frame (decoder));
  n = 7;
  g_assert_true (evcp_frame_decoder_next (decoder, &p, &n, &event));
  g_assert_cmpint (event.type, ==, EVCP_FRAME_EVENT_BAD);
  g_assert_cmpint (event.reason, ==, EVCP_FRAME_BAD_OUTSIDE_FRAME);
  g_assert_false (evcp_frame_decoder_next (decoder, &p, &n, &event));

  /* the forbidden byte that aborts a frame is left for the next call */
  {
    const guint8 bytes[] = { 0x02, 'A', 0x06 };

    p = bytes;
    n = sizeof bytes;
    g_assert_true (evcp_frame_decoder_next (decoder, &p, &n, &event));
    g_assert_cmpint (event.type, ==, EVCP_FRAME_EVENT_BAD);
    g_assert_cmpint (event.reason, ==, EVCP_FRAME_BAD_FORBIDDEN_BYTE);
    g_assert_cmpuint (n, ==, 1);
    g_assert_true (evcp_frame_decoder_next (decoder, &p, &n, &event));
    g_assert_cmpint (event.type, ==, EVCP_FRAME_EVENT_ACK);
    g_assert_cmpuint (n, ==, 0);
  }

  g_assert_cmpstr (evcp_frame_bad_reason_to_string (EVCP_FRAME_BAD_LRC), ==, "bad-lrc");
  g_assert_cmpstr (evcp_frame_bad_reason_to_string (EVCP_FRAME_BAD_NOT_UTF8), ==, "not-utf8");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/frame-codec/constants", test_frame_codec_constants);
  g_test_add_func ("/frame-codec/lrc", test_frame_codec_lrc);
  g_test_add_func ("/frame-codec/encode", test_frame_codec_encode);
  g_test_add_func ("/frame-codec/round-trip", test_frame_codec_round_trip);
  g_test_add_func ("/frame-codec/chunking", test_frame_codec_chunking);
  g_test_add_func ("/frame-codec/bad-lrc", test_frame_codec_bad_lrc);
  g_test_add_func ("/frame-codec/size-limits", test_frame_codec_size_limits);
  g_test_add_func ("/frame-codec/forbidden-bytes", test_frame_codec_forbidden_bytes);
  g_test_add_func ("/frame-codec/empty-data", test_frame_codec_empty_data);
  g_test_add_func ("/frame-codec/invalid-utf8", test_frame_codec_invalid_utf8);
  g_test_add_func ("/frame-codec/eot", test_frame_codec_eot);
  g_test_add_func ("/frame-codec/ack-nack", test_frame_codec_ack_nack);
  g_test_add_func ("/frame-codec/garbage", test_frame_codec_garbage);
  g_test_add_func ("/frame-codec/stx-in-frame", test_frame_codec_stx_in_frame);
  g_test_add_func ("/frame-codec/lrc-control-value", test_frame_codec_lrc_control_value);
  g_test_add_func ("/frame-codec/fields-split", test_frame_codec_fields_split);
  g_test_add_func ("/frame-codec/fields-join", test_frame_codec_fields_join);
  g_test_add_func ("/frame-codec/decoder-api", test_frame_codec_decoder_api);
  return g_test_run ();
}
