/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "evcp-frame-codec"

#include "evcp-build-config.h"

#include <string.h>

#include <glib/gi18n-lib.h>

#include "evcp-error.h"
#include "evcp-frame-codec.h"

gboolean
evcp_frame_is_forbidden_byte (guint8 byte)
{
  switch (byte)
    {
    case EVCP_FRAME_STX:
    case EVCP_FRAME_ETX:
    case EVCP_FRAME_EOT:
    case EVCP_FRAME_ACK:
    case EVCP_FRAME_NACK:
      return TRUE;
    default:
      return FALSE;
    }
}

guint8
evcp_frame_compute_lrc (const guint8 *data, gsize len)
{
  guint8 lrc = 0;

  g_return_val_if_fail (data != NULL || len == 0, 0);

  for (gsize i = 0; i < len; i++)
    lrc ^= data[i];
  return lrc;
}

/* Checks a piece of DATA: no forbidden byte, valid UTF-8 without NUL.
 * @field is the 1-based number of the field it is, or 0 for the whole DATA. */
static gboolean
validate_text (const gchar *text, gsize len, guint field, GError **error)
{
  for (gsize i = 0; i < len; i++)
    {
      guint byte = (guint8) text[i];

      if (!evcp_frame_is_forbidden_byte ((guint8) byte))
        continue;
      if (field == 0)
        /* DATA is at most EVCP_FRAME_MAX_DATA bytes here: the offset fits */
        g_set_error (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE,
                     _("Frame data contains the control byte 0x%02x at offset %u"),
                     byte, (guint) i);
      else
        g_set_error (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE,
                     _("Field %u of the frame contains the control byte 0x%02x"),
                     field, byte);
      return FALSE;
    }
  /* g_utf8_validate_len() also refuses NUL bytes, which is what we want:
   * decoded DATA is handed out as a C string. */
  if (g_utf8_validate_len (text, len, NULL))
    return TRUE;
  if (field == 0)
    g_set_error_literal (error, EVCP_ERROR, EVCP_ERROR_NOT_UTF8,
                         _("Frame data is not valid UTF-8"));
  else
    g_set_error (error, EVCP_ERROR, EVCP_ERROR_NOT_UTF8,
                 _("Field %u of the frame is not valid UTF-8"), field);
  return FALSE;
}

/**
 * evcp_frame_validate_data:
 * @data: DATA of a frame
 * @len: its length in bytes, or -1 if it is NUL-terminated
 *
 * Checks what the contract requires of DATA: 1 to %EVCP_FRAME_MAX_DATA bytes
 * of UTF-8 (without NUL) and none of STX, ETX, EOT, ACK, NACK.
 *
 * Returns: %TRUE if @data can be sent; otherwise @error is set to
 *   %EVCP_ERROR_INVALID_MESSAGE (empty, control byte), %EVCP_ERROR_TOO_LARGE
 *   or %EVCP_ERROR_NOT_UTF8.
 */
gboolean
evcp_frame_validate_data (const gchar *data, gssize len, GError **error)
{
  gsize n;

  g_return_val_if_fail (data != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  n = len < 0 ? strlen (data) : (gsize) len;
  if (n == 0)
    {
      g_set_error_literal (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE,
                           _("Frame data is empty"));
      return FALSE;
    }
  if (n > EVCP_FRAME_MAX_DATA)
    {
      /* formatted apart: xgettext cannot see through G_GSIZE_FORMAT */
      g_autofree gchar *size = g_strdup_printf ("%" G_GSIZE_FORMAT, n);

      g_set_error (error, EVCP_ERROR, EVCP_ERROR_TOO_LARGE,
                   /* TRANSLATORS: the first %s is a number of bytes */
                   _("Frame data of %s bytes exceeds the limit of %d bytes"),
                   size, EVCP_FRAME_MAX_DATA);
      return FALSE;
    }
  return validate_text (data, n, 0, error);
}

/**
 * evcp_frame_encode:
 * @data: DATA of the frame
 * @len: its length in bytes, or -1 if it is NUL-terminated
 *
 * Returns: (transfer full): the bytes STX DATA ETX LRC, or %NULL with @error
 *   set as by evcp_frame_validate_data().
 */
GBytes *
evcp_frame_encode (const gchar *data, gssize len, GError **error)
{
  guint8 *frame;
  gsize n;

  g_return_val_if_fail (data != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!evcp_frame_validate_data (data, len, error))
    return NULL;

  n = len < 0 ? strlen (data) : (gsize) len;
  frame = g_malloc (n + 3);
  frame[0] = EVCP_FRAME_STX;
  memcpy (frame + 1, data, n);
  frame[n + 1] = EVCP_FRAME_ETX;
  frame[n + 2] = evcp_frame_compute_lrc ((const guint8 *) data, n);
  return g_bytes_new_take (frame, n + 3);
}

/**
 * evcp_frame_join_fields:
 * @fields: (array zero-terminated=1): the fields, the verb first
 *
 * Joins @fields with '#'. The protocol has no escaping, so a field that
 * contains '#' or a control byte is refused, as is a result that is not a
 * valid DATA (no field at all, a single empty field, more than
 * %EVCP_FRAME_MAX_DATA bytes). Empty fields are allowed otherwise.
 *
 * Returns: (transfer full): DATA, or %NULL with @error set.
 */
gchar *
evcp_frame_join_fields (const gchar * const *fields, GError **error)
{
  g_autofree gchar *data = NULL;

  g_return_val_if_fail (fields != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  for (guint i = 0; fields[i] != NULL; i++)
    {
      if (strchr (fields[i], EVCP_FRAME_FIELD_SEPARATOR) != NULL)
        {
          g_set_error (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE,
                       _("Field %u of the frame contains the separator '#'"), i + 1);
          return NULL;
        }
      if (!validate_text (fields[i], strlen (fields[i]), i + 1, error))
        return NULL;
    }

  data = g_strjoinv ("#", (gchar **) fields);
  if (!evcp_frame_validate_data (data, -1, error))
    return NULL;
  return g_steal_pointer (&data);
}

/**
 * evcp_frame_encode_fields:
 * @fields: (array zero-terminated=1): the fields, the verb first
 *
 * evcp_frame_join_fields() then evcp_frame_encode().
 *
 * Returns: (transfer full): the bytes of the frame, or %NULL with @error set.
 */
GBytes *
evcp_frame_encode_fields (const gchar * const *fields, GError **error)
{
  g_autofree gchar *data = NULL;

  g_return_val_if_fail (fields != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  data = evcp_frame_join_fields (fields, error);
  if (data == NULL)
    return NULL;
  return evcp_frame_encode (data, -1, error);
}

/**
 * evcp_frame_split_fields:
 * @data: DATA, as given by a %EVCP_FRAME_EVENT_FRAME event
 *
 * Splits DATA at every '#'. Empty fields are kept: n separators always give
 * n + 1 fields ("A##" gives "A", "", ""), so that
 * evcp_frame_join_fields() gives @data back.
 *
 * Returns: (transfer full): the fields, the verb first; never empty.
 */
gchar **
evcp_frame_split_fields (const gchar *data)
{
  g_return_val_if_fail (data != NULL, NULL);

  /* g_strsplit() gives an empty vector for "" */
  if (*data == '\0')
    {
      gchar **fields = g_new0 (gchar *, 2);

      fields[0] = g_strdup ("");
      return fields;
    }
  return g_strsplit (data, "#", -1);
}

const gchar *
evcp_frame_bad_reason_to_string (EvcpFrameBadReason reason)
{
  switch (reason)
    {
    case EVCP_FRAME_BAD_NONE: return "none";
    case EVCP_FRAME_BAD_LRC: return "bad-lrc";
    case EVCP_FRAME_BAD_TOO_LONG: return "too-long";
    case EVCP_FRAME_BAD_FORBIDDEN_BYTE: return "forbidden-byte";
    case EVCP_FRAME_BAD_EMPTY: return "empty";
    case EVCP_FRAME_BAD_OUTSIDE_FRAME: return "outside-frame";
    case EVCP_FRAME_BAD_NOT_UTF8: return "not-utf8";
    default: return "unknown";
    }
}

/* Decoder */

typedef enum {
  STATE_IDLE,         /* between frames */
  STATE_GARBAGE,      /* in a run of bytes outside a frame, already reported */
  STATE_DATA,         /* after STX, collecting DATA */
  STATE_LRC,          /* after ETX, the next byte is the LRC */
  STATE_SKIP_DATA,    /* in the DATA of a frame already reported too long */
  STATE_SKIP_LRC,     /* after the ETX of a frame already reported too long */
} DecoderState;

struct _EvcpFrameDecoder
{
  DecoderState state;
  guint8       lrc;                             /* XOR of data[0..len) */
  gsize        len;
  gchar        data[EVCP_FRAME_MAX_DATA + 1];   /* + 1 for the NUL */
};

/**
 * evcp_frame_decoder_new:
 *
 * Returns: (transfer full): a decoder between frames; free it with
 *   evcp_frame_decoder_free() or g_autoptr(EvcpFrameDecoder).
 */
EvcpFrameDecoder *
evcp_frame_decoder_new (void)
{
  EvcpFrameDecoder *self = g_new (EvcpFrameDecoder, 1);

  evcp_frame_decoder_reset (self);
  return self;
}

void
evcp_frame_decoder_free (EvcpFrameDecoder *self)
{
  g_free (self);
}

/**
 * evcp_frame_decoder_reset:
 *
 * Forgets any partial frame or run of garbage, for a new connection.
 */
void
evcp_frame_decoder_reset (EvcpFrameDecoder *self)
{
  g_return_if_fail (self != NULL);

  self->state = STATE_IDLE;
  self->lrc = 0;
  self->len = 0;
  self->data[0] = '\0';
}

/**
 * evcp_frame_decoder_in_frame:
 *
 * Returns: %TRUE if an STX was received and its frame is not finished (say,
 *   to log that a connection closed in the middle of a frame).
 */
gboolean
evcp_frame_decoder_in_frame (EvcpFrameDecoder *self)
{
  g_return_val_if_fail (self != NULL, FALSE);

  return self->state == STATE_DATA || self->state == STATE_LRC ||
         self->state == STATE_SKIP_DATA || self->state == STATE_SKIP_LRC;
}

static gboolean
emit (EvcpFrameEvent *event, EvcpFrameEventType type, EvcpFrameBadReason reason)
{
  event->type = type;
  event->reason = reason;
  event->data = NULL;
  event->len = 0;
  return TRUE;
}

static void
start_frame (EvcpFrameDecoder *self)
{
  self->state = STATE_DATA;
  self->lrc = 0;
  self->len = 0;
}

/* The frame is complete (its LRC byte is @lrc): its verdict. */
static gboolean
finish_frame (EvcpFrameDecoder *self, guint8 lrc, EvcpFrameEvent *event)
{
  self->state = STATE_IDLE;
  self->data[self->len] = '\0';

  if (self->len == 0)
    return emit (event, EVCP_FRAME_EVENT_BAD, EVCP_FRAME_BAD_EMPTY);
  if (lrc != self->lrc)
    return emit (event, EVCP_FRAME_EVENT_BAD, EVCP_FRAME_BAD_LRC);
  if (!g_utf8_validate_len (self->data, self->len, NULL))
    return emit (event, EVCP_FRAME_EVENT_BAD, EVCP_FRAME_BAD_NOT_UTF8);

  emit (event, EVCP_FRAME_EVENT_FRAME, EVCP_FRAME_BAD_NONE);
  event->data = self->data;
  event->len = self->len;
  return TRUE;
}

/**
 * evcp_frame_decoder_next:
 * @buf: (inout): the bytes not yet decoded; advanced past the bytes used
 * @len: (inout): how many bytes @buf holds; decreased accordingly
 * @event: (out caller-allocates): the next event
 *
 * Decodes bytes from *@buf until one event is complete, and advances *@buf
 * and *@len past the bytes it used. The decoder keeps no pointer into @buf,
 * so a read buffer can be reused as soon as this returns %FALSE. Use:
 *
 * |[<!-- language="C" -->
 *   const guint8 *p = buf;
 *   gsize n = nread;
 *   EvcpFrameEvent event;
 *
 *   while (evcp_frame_decoder_next (decoder, &p, &n, &event))
 *     handle (&event);   // ACK on FRAME, NACK on BAD
 * ]|
 *
 * The events do not depend on how the byte stream is cut into calls.
 * A partial frame is kept in the decoder for the next bytes.
 *
 * Returns: %TRUE if @event was filled; %FALSE once every byte of @buf is
 *   used and no event is complete (*@len is then 0).
 */
gboolean
evcp_frame_decoder_next (EvcpFrameDecoder  *self,
                         const guint8     **buf,
                         gsize             *len,
                         EvcpFrameEvent    *event)
{
  const guint8 *p;
  const guint8 *end;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (buf != NULL, FALSE);
  g_return_val_if_fail (len != NULL, FALSE);
  g_return_val_if_fail (*buf != NULL || *len == 0, FALSE);
  g_return_val_if_fail (event != NULL, FALSE);

  if (*len == 0)
    return FALSE;
  p = *buf;
  end = p + *len;

  /* Each case either consumes the byte (p++) or, where a frame is aborted by
   * a control byte, leaves it for the IDLE state to interpret on the next
   * call; either way the byte is used at most twice, so this terminates. */
#define CONSUME() G_STMT_START { p++; *buf = p; *len = (gsize) (end - p); } G_STMT_END
  while (p < end)
    {
      guint8 b = *p;

      switch (self->state)
        {
        case STATE_IDLE:
        case STATE_GARBAGE:
          CONSUME ();
          switch (b)
            {
            case EVCP_FRAME_STX:
              start_frame (self);
              break;
            case EVCP_FRAME_ACK:
              self->state = STATE_IDLE;
              return emit (event, EVCP_FRAME_EVENT_ACK, EVCP_FRAME_BAD_NONE);
            case EVCP_FRAME_NACK:
              self->state = STATE_IDLE;
              return emit (event, EVCP_FRAME_EVENT_NACK, EVCP_FRAME_BAD_NONE);
            case EVCP_FRAME_EOT:
              self->state = STATE_IDLE;
              return emit (event, EVCP_FRAME_EVENT_EOT, EVCP_FRAME_BAD_NONE);
            default:
              /* ETX or any other byte: one BAD for the whole run */
              if (self->state == STATE_IDLE)
                {
                  self->state = STATE_GARBAGE;
                  return emit (event, EVCP_FRAME_EVENT_BAD, EVCP_FRAME_BAD_OUTSIDE_FRAME);
                }
              break;
            }
          break;

        case STATE_DATA:
          if (b == EVCP_FRAME_ETX)
            {
              CONSUME ();
              self->state = STATE_LRC;
            }
          else if (evcp_frame_is_forbidden_byte (b))
            {
              /* Abort the frame, and leave the byte to be read outside a
               * frame: an STX starts a new frame, an ACK is not lost. */
              self->state = STATE_IDLE;
              return emit (event, EVCP_FRAME_EVENT_BAD, EVCP_FRAME_BAD_FORBIDDEN_BYTE);
            }
          else if (self->len == EVCP_FRAME_MAX_DATA)
            {
              CONSUME ();
              self->state = STATE_SKIP_DATA;
              return emit (event, EVCP_FRAME_EVENT_BAD, EVCP_FRAME_BAD_TOO_LONG);
            }
          else
            {
              /* the bulk of the work: copy up to the next control byte */
              gsize room = EVCP_FRAME_MAX_DATA - self->len;
              const guint8 *q = p;

              while (q < end && (gsize) (q - p) < room && !evcp_frame_is_forbidden_byte (*q))
                {
                  self->lrc ^= *q;
                  q++;
                }
              memcpy (self->data + self->len, p, (gsize) (q - p));
              self->len += (gsize) (q - p);
              p = q;
              *buf = p;
              *len = (gsize) (end - p);
            }
          break;

        case STATE_LRC:
          CONSUME ();
          return finish_frame (self, b, event);

        case STATE_SKIP_DATA:
          if (b == EVCP_FRAME_ETX)
            {
              CONSUME ();
              self->state = STATE_SKIP_LRC;
            }
          else if (evcp_frame_is_forbidden_byte (b))
            {
              /* the frame is over, already reported: no second BAD */
              self->state = STATE_IDLE;
            }
          else
            CONSUME ();
          break;

        case STATE_SKIP_LRC:
          CONSUME ();
          self->state = STATE_IDLE;
          break;

        default:
          g_assert_not_reached ();
        }
    }
#undef CONSUME

  *buf = p;
  *len = 0;
  return FALSE;
}
