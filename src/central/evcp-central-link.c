/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "evcp-central"

#include "evcp-build-config.h"

#include <glib/gi18n-lib.h>

#include "evcp-central-link.h"
#include "evcp-frame-codec.h"

#define READ_SIZE            4096
/* How long a polite close may wait for its EOT to be written. */
#define CLOSE_TIMEOUT_MS     1000

typedef struct {
  GBytes  *encoded;
  gchar   *data;
  guint    id;
  guint    sends;      /* how many times it went out */
} OutFrame;

struct _EvcpCentralLink
{
  GObject            parent_instance;

  GSocketConnection *connection;
  GInputStream      *input;
  GOutputStream     *output;
  GCancellable      *read_cancellable;
  GCancellable      *write_cancellable;
  gchar             *peer;
  guint              ack_timeout_ms;
  guint              max_resends;

  EvcpFrameDecoder  *decoder;
  guint8             buffer[READ_SIZE];

  GQueue             raw;          /* GBytes to write, in order */
  gsize              raw_bytes;    /* their total size */
  guint              strikes;      /* bytes dropped and answers to nothing, in a row */
  gsize              useless_bytes; /* read since the last thing of use */
  gboolean           writing;
  gboolean           reading;

  GQueue             frames;       /* OutFrame waiting for their turn */
  OutFrame          *in_flight;
  guint              ack_timer;
  guint              next_id;
  /* the id of every copy sent and not answered yet, oldest first: the peer
   * answers each frame it gets with one ACK or NACK, in order, so an answer
   * belongs to the oldest copy still unanswered */
  GQueue             unanswered;

  gboolean           started;
  gboolean           closed;
  gboolean           stream_closed;
  gboolean           closing_politely;
  guint              close_timer;
};

G_DEFINE_TYPE (EvcpCentralLink, evcp_central_link, G_TYPE_OBJECT)

enum {
  SIGNAL_FRAME,
  SIGNAL_BAD,
  SIGNAL_DELIVERED,
  SIGNAL_FAILED,
  SIGNAL_CLOSED,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

static void write_next (EvcpCentralLink *self);
static void read_next (EvcpCentralLink *self);
static void close_stream_when_idle (EvcpCentralLink *self);

static void
out_frame_free (OutFrame *frame)
{
  g_bytes_unref (frame->encoded);
  g_free (frame->data);
  g_free (frame);
}

static gchar *
describe_peer (GSocketConnection *connection)
{
  g_autoptr(GSocketAddress) address = g_socket_connection_get_remote_address (connection, NULL);

  if (address != NULL && G_IS_INET_SOCKET_ADDRESS (address))
    {
      GInetSocketAddress *inet = G_INET_SOCKET_ADDRESS (address);
      g_autofree gchar *host = g_inet_address_to_string (g_inet_socket_address_get_address (inet));

      return g_strdup_printf ("%s:%u", host, g_inet_socket_address_get_port (inet));
    }
  return g_strdup ("?");
}

/* ---- writing -------------------------------------------------------------- */

static void
write_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(EvcpCentralLink) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) done = NULL;

  self->writing = FALSE;
  done = g_queue_pop_head (&self->raw);
  if (done != NULL)
    self->raw_bytes -= g_bytes_get_size (done);
  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_debug ("%s: write failed: %s", self->peer, error->message);
          evcp_central_link_close (self, FALSE, error->message);
        }
      close_stream_when_idle (self);
      return;
    }
  write_next (self);
}

static void
write_next (EvcpCentralLink *self)
{
  GBytes *bytes;

  if (self->writing || self->stream_closed)
    return;
  bytes = g_queue_peek_head (&self->raw);
  if (bytes == NULL)
    {
      if (self->closed)
        close_stream_when_idle (self);
      return;
    }
  self->writing = TRUE;
  g_output_stream_write_all_async (self->output,
                                   g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes),
                                   G_PRIORITY_DEFAULT, self->write_cancellable,
                                   write_cb, g_object_ref (self));
}

static void
write_raw (EvcpCentralLink *self, GBytes *bytes)
{
  /* a peer that sends and does not read would make the answers pile up:
   * past the bound it is stuck, and dropped (an EOT still goes out) */
  if (!self->closed && self->raw_bytes + g_bytes_get_size (bytes) > EVCP_CENTRAL_LINK_MAX_BACKLOG)
    {
      evcp_central_link_close (self, FALSE, _("the peer does not read what is sent to it"));
      return;
    }
  self->raw_bytes += g_bytes_get_size (bytes);
  g_queue_push_tail (&self->raw, g_bytes_ref (bytes));
  write_next (self);
}

static void
write_byte (EvcpCentralLink *self, guint8 byte)
{
  g_autoptr(GBytes) bytes = g_bytes_new (&byte, 1);

  write_raw (self, bytes);
}

/* ---- frames sent, ACK wait and resend ------------------------------------ */

static gboolean ack_timeout_cb (gpointer user_data);

static void
transmit (EvcpCentralLink *self)
{
  OutFrame *frame = self->in_flight;

  frame->sends++;
  g_queue_push_tail (&self->unanswered, GUINT_TO_POINTER (frame->id));
  if (frame->sends > 1)
    g_message ("%s: resending %s (resend %u of %u)", self->peer, frame->data,
               frame->sends - 1, self->max_resends);
  write_raw (self, frame->encoded);
  g_clear_handle_id (&self->ack_timer, g_source_remove);
  self->ack_timer = g_timeout_add (self->ack_timeout_ms, ack_timeout_cb, self);
}

static void
send_next_frame (EvcpCentralLink *self)
{
  if (self->in_flight != NULL || self->closed)
    return;
  self->in_flight = g_queue_pop_head (&self->frames);
  if (self->in_flight != NULL)
    transmit (self);
}

/* A NACK, or no ACK in time: again, or give up on the link. */
static void
retry (EvcpCentralLink *self, const gchar *why)
{
  OutFrame *frame = self->in_flight;

  if (frame->sends > self->max_resends)
    {
      g_autofree gchar *reason = NULL;
      g_autofree gchar *sends = g_strdup_printf ("%u", frame->sends);

      g_clear_handle_id (&self->ack_timer, g_source_remove);
      self->in_flight = NULL;
      reason = g_strdup_printf (_("%s not acknowledged after %s sends"), frame->data, sends);
      g_signal_emit (self, signals[SIGNAL_FAILED], 0, frame->data);
      out_frame_free (frame);
      evcp_central_link_close (self, FALSE, reason);
      return;
    }
  g_debug ("%s: %s for %s", self->peer, why, frame->data);
  transmit (self);
}

static gboolean
ack_timeout_cb (gpointer user_data)
{
  EvcpCentralLink *self = user_data;

  self->ack_timer = 0;
  if (self->in_flight != NULL && !self->closed)
    {
      g_autoptr(EvcpCentralLink) keep = g_object_ref (self);

      retry (self, "no ACK in time");
    }
  return G_SOURCE_REMOVE;
}

/* The id of the copy that an ACK or NACK answers; FALSE if none is due. */
static gboolean
answered_copy (EvcpCentralLink *self, const gchar *what, guint *id)
{
  if (g_queue_is_empty (&self->unanswered))
    {
      if (evcp_central_link_strike (self, what) <= EVCP_CENTRAL_LINK_LOGGED_STRIKES)
        g_debug ("%s: %s with nothing to answer, ignored", self->peer, what);
      return FALSE;
    }
  *id = GPOINTER_TO_UINT (g_queue_pop_head (&self->unanswered));
  if (self->in_flight == NULL || self->in_flight->id != *id)
    {
      g_debug ("%s: %s for a copy of a frame already acknowledged, ignored", self->peer, what);
      return FALSE;
    }
  return TRUE;
}

static void
on_ack (EvcpCentralLink *self)
{
  OutFrame *frame;
  guint id;

  if (!answered_copy (self, "ACK", &id))
    return;
  /* an earlier copy's ACK is as good: the frame arrived */
  self->strikes = 0;
  self->useless_bytes = 0;
  frame = g_steal_pointer (&self->in_flight);
  g_clear_handle_id (&self->ack_timer, g_source_remove);
  g_debug ("%s: %s acknowledged", self->peer, frame->data);
  g_signal_emit (self, signals[SIGNAL_DELIVERED], 0, frame->data);
  out_frame_free (frame);
  send_next_frame (self);
}

static void
on_nack (EvcpCentralLink *self)
{
  guint id;

  if (!answered_copy (self, "NACK", &id))
    return;
  /* a NACK for an earlier copy while a later one is on its way: wait for
   * the later one's answer */
  if (g_queue_find (&self->unanswered, GUINT_TO_POINTER (id)) != NULL)
    {
      g_debug ("%s: NACK for an earlier copy of %s, ignored", self->peer, self->in_flight->data);
      return;
    }
  retry (self, "NACK");
}

/* ---- reading -------------------------------------------------------------- */

static void
handle_event (EvcpCentralLink *self, const EvcpFrameEvent *event)
{
  switch (event->type)
    {
    case EVCP_FRAME_EVENT_FRAME:
      {
        g_auto(GStrv) fields = evcp_frame_split_fields (event->data);

        /* ACK first, then act: the ACK is queued before any answer */
        write_byte (self, EVCP_FRAME_ACK);
        g_signal_emit (self, signals[SIGNAL_FRAME], 0, event->data, fields);
        break;
      }
    case EVCP_FRAME_EVENT_BAD:
      {
        guint strikes = evcp_central_link_strike (self, evcp_frame_bad_reason_to_string (event->reason));

        if (self->closed)
          break;
        write_byte (self, EVCP_FRAME_NACK);
        g_signal_emit (self, signals[SIGNAL_BAD], 0, evcp_frame_bad_reason_to_string (event->reason),
                       strikes);
        break;
      }
    case EVCP_FRAME_EVENT_ACK:
      on_ack (self);
      break;
    case EVCP_FRAME_EVENT_NACK:
      on_nack (self);
      break;
    case EVCP_FRAME_EVENT_EOT:
      evcp_central_link_close (self, FALSE, "EOT");
      break;
    }
}

static void
read_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(EvcpCentralLink) self = user_data;
  g_autoptr(GError) error = NULL;
  gssize n;
  const guint8 *p = self->buffer;
  gsize len;
  EvcpFrameEvent event;

  self->reading = FALSE;
  n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);
  if (n < 0)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        evcp_central_link_close (self, FALSE, error->message);
      close_stream_when_idle (self);
      return;
    }
  if (n == 0)
    {
      if (evcp_frame_decoder_in_frame (self->decoder))
        g_debug ("%s: closed in the middle of a frame", self->peer);
      evcp_central_link_close (self, FALSE, _("connection closed by the peer"));
      close_stream_when_idle (self);
      return;
    }
  len = (gsize) n;
  self->useless_bytes += len;
  while (!self->closed && evcp_frame_decoder_next (self->decoder, &p, &len, &event))
    handle_event (self, &event);
  if (!self->closed && self->useless_bytes > EVCP_CENTRAL_LINK_MAX_USELESS_BYTES)
    evcp_central_link_close (self, FALSE, _("too many bytes without a frame of use"));
  if (self->closed)
    close_stream_when_idle (self);
  else
    read_next (self);
}

static void
read_next (EvcpCentralLink *self)
{
  if (self->closed || self->reading)
    return;
  self->reading = TRUE;
  g_input_stream_read_async (self->input, self->buffer, sizeof self->buffer,
                             G_PRIORITY_DEFAULT, self->read_cancellable,
                             read_cb, g_object_ref (self));
}

/* ---- closing -------------------------------------------------------------- */

static void
close_stream_when_idle (EvcpCentralLink *self)
{
  if (!self->closed || self->stream_closed || self->reading || self->writing)
    return;
  if (self->closing_politely && !g_queue_is_empty (&self->raw))
    return;  /* the EOT is still to be written */
  self->stream_closed = TRUE;
  g_clear_handle_id (&self->close_timer, g_source_remove);
  /* every operation on the streams has finished: closing cannot block */
  g_io_stream_close (G_IO_STREAM (self->connection), NULL, NULL);
  g_queue_clear_full (&self->raw, (GDestroyNotify) g_bytes_unref);
  self->raw_bytes = 0;
  g_debug ("%s: connection closed", self->peer);
}

static gboolean
close_timeout_cb (gpointer user_data)
{
  EvcpCentralLink *self = user_data;

  self->close_timer = 0;
  g_debug ("%s: EOT not written in time", self->peer);
  self->closing_politely = FALSE;
  g_cancellable_cancel (self->write_cancellable);
  close_stream_when_idle (self);
  return G_SOURCE_REMOVE;
}

void
evcp_central_link_close (EvcpCentralLink *self, gboolean polite, const gchar *reason)
{
  g_autoptr(EvcpCentralLink) keep = NULL;
  guint dropped;

  g_return_if_fail (EVCP_IS_CENTRAL_LINK (self));

  if (self->closed)
    return;
  keep = g_object_ref (self);
  self->closed = TRUE;
  g_clear_handle_id (&self->ack_timer, g_source_remove);
  dropped = g_queue_get_length (&self->frames) + (self->in_flight != NULL ? 1 : 0);
  if (dropped > 0)
    g_debug ("%s: %u frames dropped on close", self->peer, dropped);
  g_queue_clear_full (&self->frames, (GDestroyNotify) out_frame_free);
  g_clear_pointer (&self->in_flight, out_frame_free);
  g_cancellable_cancel (self->read_cancellable);

  if (polite && self->started)
    {
      /* what is being written goes first, then EOT */
      self->closing_politely = TRUE;
      write_byte (self, EVCP_FRAME_EOT);
      self->close_timer = g_timeout_add (CLOSE_TIMEOUT_MS, close_timeout_cb, self);
    }
  else
    g_cancellable_cancel (self->write_cancellable);

  g_signal_emit (self, signals[SIGNAL_CLOSED], 0, reason != NULL ? reason : "");
  close_stream_when_idle (self);
}

/* ---- public API ------------------------------------------------------------ */

EvcpCentralLink *
evcp_central_link_new (GSocketConnection *connection, guint ack_timeout_ms, guint max_resends)
{
  EvcpCentralLink *self;

  g_return_val_if_fail (G_IS_SOCKET_CONNECTION (connection), NULL);

  self = g_object_new (EVCP_TYPE_CENTRAL_LINK, NULL);
  self->connection = g_object_ref (connection);
  self->input = g_io_stream_get_input_stream (G_IO_STREAM (connection));
  self->output = g_io_stream_get_output_stream (G_IO_STREAM (connection));
  self->peer = describe_peer (connection);
  self->ack_timeout_ms = ack_timeout_ms > 0 ? ack_timeout_ms : EVCP_CENTRAL_LINK_ACK_TIMEOUT_MS;
  self->max_resends = max_resends;
  return self;
}

void
evcp_central_link_start (EvcpCentralLink *self)
{
  g_return_if_fail (EVCP_IS_CENTRAL_LINK (self));
  g_return_if_fail (!self->started);

  self->started = TRUE;
  read_next (self);
}

gboolean
evcp_central_link_send (EvcpCentralLink *self, const gchar * const *fields, GError **error)
{
  g_autoptr(GBytes) encoded = NULL;
  OutFrame *frame;

  g_return_val_if_fail (EVCP_IS_CENTRAL_LINK (self), FALSE);
  g_return_val_if_fail (fields != NULL && fields[0] != NULL, FALSE);

  if (self->closed)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CLOSED, _("The connection is closed"));
      return FALSE;
    }
  encoded = evcp_frame_encode_fields (fields, error);
  if (encoded == NULL)
    return FALSE;
  frame = g_new0 (OutFrame, 1);
  frame->id = ++self->next_id;
  frame->data = evcp_frame_join_fields (fields, NULL);
  frame->encoded = g_steal_pointer (&encoded);
  g_queue_push_tail (&self->frames, frame);
  send_next_frame (self);
  return TRUE;
}

/**
 * evcp_central_link_strike:
 * @why: for the log
 *
 * Counts one thing the peer sent that was of no use: bytes dropped (a
 * NACK), an ACK or NACK that answers nothing, a frame ignored. Past
 * EVCP_CENTRAL_LINK_MAX_STRIKES in a row, the link is closed.
 *
 * Returns: the strikes in a row, this one included
 */
guint
evcp_central_link_strike (EvcpCentralLink *self, const gchar *why)
{
  g_return_val_if_fail (EVCP_IS_CENTRAL_LINK (self), 0);

  if (self->strikes < G_MAXUINT)
    self->strikes++;
  if (self->strikes > EVCP_CENTRAL_LINK_MAX_STRIKES && !self->closed)
    {
      g_autofree gchar *reason = NULL;
      g_autofree gchar *count = g_strdup_printf ("%u", EVCP_CENTRAL_LINK_MAX_STRIKES);

      /* TRANSLATORS: a number, then the last thing that was wrong */
      reason = g_strdup_printf (_("more than %s useless or bad frames in a row (the last: %s)"), count, why);
      evcp_central_link_close (self, FALSE, reason);
    }
  return self->strikes;
}

/* The peer sent something useful: its strikes start again from 0. */
void
evcp_central_link_forgive (EvcpCentralLink *self)
{
  g_return_if_fail (EVCP_IS_CENTRAL_LINK (self));
  self->strikes = 0;
  self->useless_bytes = 0;
}

gboolean
evcp_central_link_is_closed (EvcpCentralLink *self)
{
  g_return_val_if_fail (EVCP_IS_CENTRAL_LINK (self), TRUE);
  return self->closed;
}

gboolean
evcp_central_link_is_finished (EvcpCentralLink *self)
{
  g_return_val_if_fail (EVCP_IS_CENTRAL_LINK (self), TRUE);
  return self->stream_closed || (self->closed && !self->started);
}

const gchar *
evcp_central_link_get_peer (EvcpCentralLink *self)
{
  g_return_val_if_fail (EVCP_IS_CENTRAL_LINK (self), NULL);
  return self->peer;
}

guint
evcp_central_link_get_pending (EvcpCentralLink *self)
{
  g_return_val_if_fail (EVCP_IS_CENTRAL_LINK (self), 0);
  return g_queue_get_length (&self->frames) + (self->in_flight != NULL ? 1 : 0);
}

static void
evcp_central_link_dispose (GObject *object)
{
  EvcpCentralLink *self = EVCP_CENTRAL_LINK (object);

  /* no callback is pending here: each holds a reference */
  g_clear_handle_id (&self->ack_timer, g_source_remove);
  g_clear_handle_id (&self->close_timer, g_source_remove);
  if (self->connection != NULL && !self->stream_closed)
    {
      self->closed = TRUE;
      self->stream_closed = TRUE;
      g_io_stream_close (G_IO_STREAM (self->connection), NULL, NULL);
    }
  g_clear_object (&self->connection);
  G_OBJECT_CLASS (evcp_central_link_parent_class)->dispose (object);
}

static void
evcp_central_link_finalize (GObject *object)
{
  EvcpCentralLink *self = EVCP_CENTRAL_LINK (object);

  g_queue_clear_full (&self->raw, (GDestroyNotify) g_bytes_unref);
  g_queue_clear_full (&self->frames, (GDestroyNotify) out_frame_free);
  g_queue_clear (&self->unanswered);
  g_clear_pointer (&self->in_flight, out_frame_free);
  g_clear_object (&self->read_cancellable);
  g_clear_object (&self->write_cancellable);
  g_clear_pointer (&self->decoder, evcp_frame_decoder_free);
  g_free (self->peer);
  G_OBJECT_CLASS (evcp_central_link_parent_class)->finalize (object);
}

static void
evcp_central_link_class_init (EvcpCentralLinkClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = evcp_central_link_dispose;
  object_class->finalize = evcp_central_link_finalize;

  signals[SIGNAL_FRAME] =
    g_signal_new ("frame", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE, G_TYPE_STRV);
  signals[SIGNAL_BAD] =
    g_signal_new ("bad", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE, G_TYPE_UINT);
  signals[SIGNAL_DELIVERED] =
    g_signal_new ("delivered", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE);
  signals[SIGNAL_FAILED] =
    g_signal_new ("failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE);
  signals[SIGNAL_CLOSED] =
    g_signal_new ("closed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE);
}

static void
evcp_central_link_init (EvcpCentralLink *self)
{
  self->read_cancellable = g_cancellable_new ();
  self->write_cancellable = g_cancellable_new ();
  self->decoder = evcp_frame_decoder_new ();
  self->ack_timeout_ms = EVCP_CENTRAL_LINK_ACK_TIMEOUT_MS;
  self->max_resends = EVCP_CENTRAL_LINK_MAX_RESENDS;
}
