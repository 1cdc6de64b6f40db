/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "evcp-central"

#include "evcp-build-config.h"

#include <math.h>
#include <string.h>

#include <gio/gnetworking.h>
#include <glib/gi18n-lib.h>

#include "evcp-enum.h"
#include "evcp-central-auth.h"
#include "evcp-central-client.h"
#include "evcp-log.h"
#include "evcp-error.h"
#include "evcp-frame-codec.h"

/* docs/protocol.md, "Conversations" (C1…) */
#define DEFAULT_ACK_TIMEOUT_MS   1000
#define DEFAULT_KEEPALIVE_MS     5000
#define DEFAULT_BACKOFF_MIN_MS   200
#define DEFAULT_BACKOFF_MAX_MS   10000
#define DEFAULT_DOWN_SUMMARY_MS  (5 * 60 * 1000) /* a link still down: a line this often */
#define MAX_RESENDS              3
#define CONNECT_TIMEOUT_MS       10000
#define BEST_EFFORT_MAX          32
#define READ_CHUNK               4096

typedef enum {
  FRAME_AUTH,
  FRAME_RELIABLE,     /* an outbox record */
  FRAME_BEST_EFFORT,  /* evcp_central_client_send() */
  FRAME_PING,
} FrameKind;

/* A frame we send and that Central must ACK. */
typedef struct {
  FrameKind  kind;
  guint      id;       /* unique in this client: matches answers to copies */
  guint64    seq;      /* FRAME_RELIABLE: the record; FRAME_BEST_EFFORT: the
                        * outbox's next seq when it was queued (it goes after
                        * every record appended before it) */
  gchar     *data;     /* DATA, for the log */
  GBytes    *bytes;    /* the encoded frame, sent identically every time */
  guint      copies;   /* how many times it was written */
} Frame;

/* One item of the write queue: a frame copy, or an ACK/NACK byte. */
typedef struct {
  GBytes  *bytes;     /* NULL: a marker, the EOT Central sent is handled here */
  gsize    offset;
  guint    frame_id;  /* a copy of that frame; 0 for an answer byte */
  gchar  **fields;    /* the received frame this ACK answers: acted on once written */
} Write;

struct _EvcpCentralClient
{
  GObject            parent_instance;

  gchar             *host;
  guint16            port;
  gchar             *address;      /* host:port, for the log */
  EvcpCentralRole    role;
  gchar             *cp_id;
  gchar             *location;
  gchar             *price;        /* formatted with a dot */
  gchar             *secret;       /* NULL: AUTH as in the contract, no proof */
  gchar             *auth_data;    /* DATA of AUTH, checked by _start() */
  EvcpOutbox        *outbox;
  gulong             appended_id;

  guint              ack_timeout_ms;
  guint              keepalive_ms;
  guint              backoff_min_ms;
  guint              backoff_max_ms;
  guint              backoff_next_ms;

  GMainContext      *context;
  EvcpCentralState   state;
  guint              generation;   /* grows at every close: stale callbacks see it */

  /* the link */
  GCancellable      *cancellable;
  GSocketConnection *connection;
  EvcpFrameDecoder  *decoder;
  GQueue             writes;       /* of Write */
  gboolean           writing;
  GQueue             answers;      /* ids of frame copies not yet answered, oldest first */
  gboolean           eot_received;
  Frame             *current;      /* the one frame awaiting ACK */
  GQueue             best_effort;  /* of Frame, not yet sent */
  guint              next_frame_id;
  guint64            acked_seq;    /* highest seq Central acknowledged in this process */

  /* a link that stays down: one warning, then info, and a summary now and then */
  gint64 down_since; /* monotonic µs; 0 while up (or never tried) */
  guint down_attempts;
  gint64 down_summary_at;
  guint down_summary_ms;

  GSource           *connect_timer;
  GSource           *reconnect_timer;
  GSource           *ack_timer;
  GSource           *auth_timer;
  GSource           *keepalive_timer;
};

G_DEFINE_TYPE (EvcpCentralClient, evcp_central_client, G_TYPE_OBJECT)

/* clang-format off */
G_DEFINE_ENUM_TYPE (EvcpCentralState, evcp_central_state,
  G_DEFINE_ENUM_VALUE (EVCP_CENTRAL_STATE_STOPPED, "STOPPED"),
  G_DEFINE_ENUM_VALUE (EVCP_CENTRAL_STATE_CONNECTING, "CONNECTING"),
  G_DEFINE_ENUM_VALUE (EVCP_CENTRAL_STATE_AUTHENTICATING, "AUTHENTICATING"),
  G_DEFINE_ENUM_VALUE (EVCP_CENTRAL_STATE_READY, "READY"))
/* clang-format on */

enum {
  PROP_0,
  PROP_STATE,
  N_PROPS
};
static GParamSpec *props[N_PROPS];

enum {
  SIGNAL_COMMAND,
  SIGNAL_AUTH_FAILED,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

static void connect_now (EvcpCentralClient *self);
static void pump (EvcpCentralClient *self);
static void write_next (EvcpCentralClient *self);
static void start_read (EvcpCentralClient *self);

const gchar *
evcp_central_state_to_string (EvcpCentralState state)
{
  return evcp_enum_to_nick (EVCP_TYPE_CENTRAL_STATE, (gint) state, "UNKNOWN");
}

/* ---- small helpers ---------------------------------------------------------- */

static void
frame_free (Frame *frame)
{
  g_free (frame->data);
  g_bytes_unref (frame->bytes);
  g_free (frame);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Frame, frame_free)

static void
write_free (Write *w)
{
  g_clear_pointer (&w->bytes, g_bytes_unref);
  g_strfreev (w->fields);
  g_free (w);
}

static Frame *
frame_new (EvcpCentralClient *self, FrameKind kind, const gchar *data, GError **error)
{
  g_autoptr(GBytes) bytes = evcp_frame_encode (data, -1, error);
  Frame *frame;

  if (bytes == NULL)
    return NULL;
  frame = g_new0 (Frame, 1);
  frame->kind = kind;
  if (++self->next_frame_id == 0)
    self->next_frame_id = 1;
  frame->id = self->next_frame_id;
  frame->data = g_strdup (data);
  frame->bytes = g_steal_pointer (&bytes);
  return frame;
}

static void
clear_source (GSource **source)
{
  if (*source == NULL)
    return;
  g_source_destroy (*source);
  g_clear_pointer (source, g_source_unref);
}

static GSource *
add_timeout (EvcpCentralClient *self, guint ms, GSourceFunc func, const gchar *name)
{
  GSource *source = g_timeout_source_new (ms);

  g_source_set_callback (source, func, self, NULL);
  g_source_set_name (source, name);
  g_source_attach (source, self->context);
  return source;
}

/* What an async operation needs to find its client again: a weak reference
 * (the client may be gone) and the link it was started for (a callback for
 * an older link is stale and only cleans up). */
typedef struct {
  GWeakRef self;
  guint    generation;
} Op;

static Op *
op_new (EvcpCentralClient *self)
{
  Op *op = g_new0 (Op, 1);

  g_weak_ref_init (&op->self, self);
  op->generation = self->generation;
  return op;
}

/* Frees @op; returns a strong reference to the client if the operation is
 * still current, NULL if it is stale. */
static EvcpCentralClient *
op_finish (Op *op)
{
  EvcpCentralClient *self = g_weak_ref_get (&op->self);

  if (self != NULL && self->generation != op->generation)
    g_clear_object (&self);
  g_weak_ref_clear (&op->self);
  g_free (op);
  return self;
}

static void
set_state (EvcpCentralClient *self, EvcpCentralState state)
{
  EvcpCentralState old = self->state;

  if (old == state)
    return;
  self->state = state;
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                    "EVCP_CENTRAL_STATE", evcp_central_state_to_string (state),
                    "MESSAGE", _("Central link %s: %s → %s"), self->address,
                    evcp_central_state_to_string (old), evcp_central_state_to_string (state));
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_STATE]);
}

/* ---- closing and reconnecting ----------------------------------------------- */

/* Closes the link (if any) and forgets everything that belonged to it. The
 * record being sent stays in the outbox; best-effort frames are dropped. */
static void
close_link (EvcpCentralClient *self, gboolean send_eot)
{
  guint dropped = g_queue_get_length (&self->best_effort);

  self->generation++;
  if (self->cancellable != NULL)
    {
      g_cancellable_cancel (self->cancellable);
      g_clear_object (&self->cancellable);
    }
  clear_source (&self->connect_timer);
  clear_source (&self->ack_timer);
  clear_source (&self->auth_timer);
  clear_source (&self->keepalive_timer);
  if (self->connection != NULL)
    {
      if (send_eot)
        {
          static const gchar eot = EVCP_FRAME_EOT;
          GSocket *socket = g_socket_connection_get_socket (self->connection);

          /* Not through the output stream: it may have a write in progress.
           * Cut inside a frame, EOT still ends it (docs/protocol.md D7). */
          if (g_socket_send_with_blocking (socket, &eot, 1, FALSE, NULL, NULL) != 1)
            g_debug ("Central %s: could not send EOT", self->address);
        }
      g_io_stream_close (G_IO_STREAM (self->connection), NULL, NULL);
      g_clear_object (&self->connection);
    }
  g_queue_clear_full (&self->writes, (GDestroyNotify) write_free);
  self->writing = FALSE;
  g_queue_clear (&self->answers);
  self->eot_received = FALSE;
  if (self->current != NULL && self->current->kind == FRAME_BEST_EFFORT)
    dropped++;
  g_clear_pointer (&self->current, frame_free);
  g_queue_clear_full (&self->best_effort, (GDestroyNotify) frame_free);
  if (dropped > 0)
    g_debug ("Central %s: %u best-effort frames dropped with the link", self->address, dropped);
  evcp_frame_decoder_reset (self->decoder);
}

static gboolean
reconnect_cb (gpointer user_data)
{
  EvcpCentralClient *self = user_data;

  clear_source (&self->reconnect_timer);
  connect_now (self);
  return G_SOURCE_REMOVE;
}

/* Waits for the backoff, then connects again. */
static void
schedule_reconnect (EvcpCentralClient *self)
{
  guint delay = self->backoff_next_ms;

  if (self->state == EVCP_CENTRAL_STATE_STOPPED)
    return;
  /* up to a quarter less, so that a fleet of CPs does not come back at once */
  delay -= (guint) g_random_int_range (0, (gint32) (delay / 4) + 1);
  self->backoff_next_ms = MIN (self->backoff_next_ms * 2, self->backoff_max_ms);
  set_state (self, EVCP_CENTRAL_STATE_CONNECTING);
  if (self->down_attempts <= 1)
    {
      g_autofree gchar *ms = g_strdup_printf ("%u", delay);

      g_message (_("Central link %s: connecting again in %s ms"), self->address, ms);
    }
  else
    EVCP_INFO ("Central link %s: connecting again in %u ms", self->address, delay);
  clear_source (&self->reconnect_timer);
  self->reconnect_timer = add_timeout (self, delay, reconnect_cb, "evcp-central-reconnect");
}

/* The link failed: close it, and connect again after the backoff. */
static void
link_lost (EvcpCentralClient *self, const gchar *why)
{
  gint64 now = g_get_monotonic_time ();

  self->down_attempts++;
  if (self->down_since == 0)
    {
      self->down_since = now;
      self->down_summary_at = now + (gint64) self->down_summary_ms * 1000;
      g_warning (_("Central link %s lost: %s"), self->address, why);
    }
  else if (now >= self->down_summary_at)
    {
      g_autofree gchar *seconds = g_strdup_printf ("%" G_GINT64_FORMAT, (now - self->down_since) / G_USEC_PER_SEC);

      self->down_summary_at = now + (gint64) self->down_summary_ms * 1000;
      /* TRANSLATORS: address, seconds, attempts, why the last one failed */
      g_message (_("Central link %s: still down after %s s and %u attempts (the last: %s)"), self->address, seconds,
                 self->down_attempts, why);
    }
  else
    EVCP_INFO ("Central link %s: still down: %s", self->address, why);
  close_link (self, FALSE);
  schedule_reconnect (self);
}

/* ---- writing ------------------------------------------------------------------ */

static gboolean
ack_timeout_cb (gpointer user_data);

static void
start_ack_timer (EvcpCentralClient *self)
{
  clear_source (&self->ack_timer);
  self->ack_timer = add_timeout (self, self->ack_timeout_ms, ack_timeout_cb, "evcp-central-ack");
}

static void handle_frame (EvcpCentralClient *self, gchar **fields);
static void peer_ended (EvcpCentralClient *self);

static void
written_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GError) error = NULL;
  gssize n = g_output_stream_write_bytes_finish (G_OUTPUT_STREAM (source), result, &error);
  g_autoptr(EvcpCentralClient) self = op_finish (user_data);
  Write *w;
  guint generation;

  if (self == NULL)
    return;
  self->writing = FALSE;
  if (n < 0)
    {
      link_lost (self, error->message);
      return;
    }
  w = g_queue_peek_head (&self->writes);
  w->offset += (gsize) n;
  if (w->offset < g_bytes_get_size (w->bytes))
    {
      write_next (self);
      return;
    }
  g_queue_pop_head (&self->writes);
  generation = self->generation;
  /* the wait for the ACK starts once the copy is on its way */
  if (w->frame_id != 0 && self->current != NULL && self->current->id == w->frame_id)
    start_ack_timer (self);
  if (w->fields != NULL)
    handle_frame (self, w->fields);  /* ACK sent: now act on it */
  write_free (w);
  if (generation == self->generation)
    write_next (self);
}

static void
write_next (EvcpCentralClient *self)
{
  Write *w;
  g_autoptr(GBytes) chunk = NULL;
  GOutputStream *out;

  if (self->writing || self->connection == NULL)
    return;
  w = g_queue_peek_head (&self->writes);
  if (w == NULL)
    return;
  if (w->bytes == NULL)
    {
      /* Central's EOT, after the ACKs of what came before it */
      g_queue_pop_head (&self->writes);
      write_free (w);
      peer_ended (self);
      return;
    }
  chunk = g_bytes_new_from_bytes (w->bytes, w->offset, g_bytes_get_size (w->bytes) - w->offset);
  out = g_io_stream_get_output_stream (G_IO_STREAM (self->connection));
  self->writing = TRUE;
  g_output_stream_write_bytes_async (out, chunk, G_PRIORITY_DEFAULT, self->cancellable,
                                     written_cb, op_new (self));
}

static void
queue_write (EvcpCentralClient *self, GBytes *bytes, guint frame_id, gchar **fields)
{
  Write *w = g_new0 (Write, 1);

  w->bytes = bytes != NULL ? g_bytes_ref (bytes) : NULL;
  w->frame_id = frame_id;
  w->fields = fields;
  g_queue_push_tail (&self->writes, w);
  write_next (self);
}

static void
queue_answer (EvcpCentralClient *self, guint8 answer, gchar **fields)
{
  g_autoptr(GBytes) bytes = g_bytes_new (&answer, 1);

  queue_write (self, bytes, 0, fields);
}

static gboolean
keepalive_cb (gpointer user_data);

/* Sends (again) the current frame. */
static void
transmit (EvcpCentralClient *self)
{
  Frame *frame = self->current;

  frame->copies++;
  if (frame->copies > 1)
    g_debug ("Central %s: resending %s (resend %u of %u)", self->address, frame->data,
             frame->copies - 1, MAX_RESENDS);
  else
    g_debug ("Central %s: sending %s", self->address, frame->data);
  clear_source (&self->ack_timer);
  g_queue_push_tail (&self->answers, GUINT_TO_POINTER (frame->id));
  if (self->state == EVCP_CENTRAL_STATE_READY)
    {
      clear_source (&self->keepalive_timer);
      self->keepalive_timer = add_timeout (self, self->keepalive_ms, keepalive_cb, "evcp-central-keepalive");
    }
  queue_write (self, frame->bytes, frame->id, NULL);
}

/* NACK or no ACK in time: send the same bytes again, or give up on the link. */
static void
retry_or_break (EvcpCentralClient *self, const gchar *why)
{
  Frame *frame = self->current;

  if (frame->copies > MAX_RESENDS)
    {
      g_autofree gchar *what = g_strdup_printf (_("%s, and %u resends of %s were not acknowledged"),
                                                why, MAX_RESENDS, frame->data);
      link_lost (self, what);
      return;
    }
  g_message (_("Central link %s: %s for %s; sending it again"), self->address, why, frame->data);
  transmit (self);
}

static gboolean
ack_timeout_cb (gpointer user_data)
{
  EvcpCentralClient *self = user_data;
  g_autofree gchar *why = NULL;
  g_autofree gchar *ms = g_strdup_printf ("%u", self->ack_timeout_ms);

  clear_source (&self->ack_timer);
  if (self->current != NULL)
    {
      /* TRANSLATORS: %s is a number of milliseconds */
      why = g_strdup_printf (_("no ACK within %s ms"), ms);
      retry_or_break (self, why);
    }
  return G_SOURCE_REMOVE;
}

/* ---- what to send next --------------------------------------------------------- */

/* The oldest record due at Central that it has not acknowledged. */
static const EvcpOutboxRecord *
next_reliable (EvcpCentralClient *self)
{
  g_autoptr(GPtrArray) due = evcp_outbox_list (self->outbox, EVCP_OUTBOX_CENTRAL);

  for (guint i = 0; i < due->len; i++)
    {
      const EvcpOutboxRecord *record = g_ptr_array_index (due, i);
      guint64 seq = evcp_outbox_record_get_seq (record);
      g_autoptr(GError) error = NULL;

      if (seq > self->acked_seq)
        return record;
      /* acknowledged, but the outbox could not write it down: try again */
      if (!evcp_outbox_ack (self->outbox, seq, EVCP_OUTBOX_CENTRAL, &error))
        g_debug ("Central %s: %s", self->address, error->message);
    }
  return NULL;
}

static void
pump (EvcpCentralClient *self)
{
  const EvcpOutboxRecord *record;
  Frame *best;

  if (self->state != EVCP_CENTRAL_STATE_READY || self->current != NULL || self->connection == NULL)
    return;

  record = next_reliable (self);
  best = g_queue_peek_head (&self->best_effort);
  if (best != NULL && (record == NULL || best->seq <= evcp_outbox_record_get_seq (record)))
    {
      self->current = g_queue_pop_head (&self->best_effort);
    }
  else if (record != NULL)
    {
      g_autoptr(GError) error = NULL;

      self->current = frame_new (self, FRAME_RELIABLE, evcp_outbox_record_get_frame (record), &error);
      if (self->current == NULL)
        {
          /* the outbox checked it on append and on load */
          g_critical ("Central %s: outbox record %" G_GUINT64_FORMAT " cannot be encoded: %s",
                      self->address, evcp_outbox_record_get_seq (record), error->message);
          return;
        }
      self->current->seq = evcp_outbox_record_get_seq (record);
    }
  else
    {
      return;
    }
  transmit (self);
}

static void
on_appended (EvcpOutbox *outbox, guint64 seq, guint destinations, EvcpCentralClient *self)
{
  if (destinations & EVCP_OUTBOX_CENTRAL)
    pump (self);
}

static gboolean
keepalive_cb (gpointer user_data)
{
  EvcpCentralClient *self = user_data;
  g_autofree gchar *data = NULL;

  clear_source (&self->keepalive_timer);
  if (self->state != EVCP_CENTRAL_STATE_READY)
    return G_SOURCE_REMOVE;
  if (self->current != NULL)
    {
      self->keepalive_timer = add_timeout (self, self->keepalive_ms, keepalive_cb, "evcp-central-keepalive");
      return G_SOURCE_REMOVE;
    }
  data = g_strconcat ("PING#", self->cp_id, NULL);
  /* shorter than AUTH, which went out: it fits */
  self->current = frame_new (self, FRAME_PING, data, NULL);
  if (self->current != NULL)
    transmit (self);
  return G_SOURCE_REMOVE;
}

static gboolean
auth_timeout_cb (gpointer user_data)
{
  EvcpCentralClient *self = user_data;
  g_autofree gchar *ms = g_strdup_printf ("%u", self->keepalive_ms);
  g_autofree gchar *why = NULL;

  clear_source (&self->auth_timer);
  /* TRANSLATORS: %s is a number of milliseconds */
  why = g_strdup_printf (_("no answer to AUTH within %s ms"), ms);
  link_lost (self, why);
  return G_SOURCE_REMOVE;
}

/* The current frame was acknowledged. */
static void
frame_acked (EvcpCentralClient *self)
{
  g_autoptr(Frame) frame = g_steal_pointer (&self->current);
  g_autoptr(GError) error = NULL;

  clear_source (&self->ack_timer);
  g_debug ("Central %s: ACK for %s", self->address, frame->data);
  switch (frame->kind)
    {
    case FRAME_AUTH:
      /* now Central owes AUTH_OK or AUTH_KO */
      if (self->state == EVCP_CENTRAL_STATE_AUTHENTICATING && self->auth_timer == NULL)
        self->auth_timer = add_timeout (self, self->keepalive_ms, auth_timeout_cb, "evcp-central-auth");
      break;
    case FRAME_RELIABLE:
      self->acked_seq = MAX (self->acked_seq, frame->seq);
      if (!evcp_outbox_ack (self->outbox, frame->seq, EVCP_OUTBOX_CENTRAL, &error))
        g_warning (_("Central link %s: %s (the event will be sent again after a restart)"),
                   self->address, error->message);
      break;
    case FRAME_BEST_EFFORT:
    case FRAME_PING:
      break;
    }
  pump (self);
}

/* ---- reading -------------------------------------------------------------------- */

/* An ACK or NACK byte: it answers the oldest copy not answered yet, since
 * TCP keeps the order and Central answers every frame once. */
static void
on_answer (EvcpCentralClient *self, gboolean ack)
{
  guint id;

  if (g_queue_is_empty (&self->answers))
    {
      g_debug ("Central %s: %s with nothing to answer, ignored", self->address, ack ? "ACK" : "NACK");
      return;
    }
  id = GPOINTER_TO_UINT (g_queue_pop_head (&self->answers));
  if (self->current == NULL || self->current->id != id)
    {
      g_debug ("Central %s: late %s for a frame already acknowledged, ignored",
               self->address, ack ? "ACK" : "NACK");
      return;
    }
  if (ack)
    {
      frame_acked (self);
      return;
    }
  if (g_queue_find (&self->answers, GUINT_TO_POINTER (id)) != NULL)
    {
      /* an older copy was refused; a newer one is on its way */
      g_debug ("Central %s: NACK for an earlier copy of %s, ignored", self->address, self->current->data);
      return;
    }
  clear_source (&self->ack_timer);
  retry_or_break (self, "NACK");
}

/* Central sent EOT (and its earlier frames are answered): close, and come back. */
static void
peer_ended (EvcpCentralClient *self)
{
  g_message (_("Central link %s: Central ended the conversation (EOT)"), self->address);
  close_link (self, FALSE);
  schedule_reconnect (self);
}

static const gchar *role_to_string (EvcpCentralRole role);

/* CHALLENGE#<cp>#<nonce>: Central asks for the proof (docs/protocol.md, A2). */
static void
on_challenge (EvcpCentralClient *self, gchar **fields)
{
  g_autofree gchar *proof = NULL;
  g_autofree gchar *data = NULL;

  if (self->state != EVCP_CENTRAL_STATE_AUTHENTICATING || self->secret == NULL ||
      fields[2] == NULL || *fields[2] == '\0')
    {
      g_warning (_("Central link %s: unexpected CHALLENGE (%s, %s); ignored"), self->address,
                 evcp_central_state_to_string (self->state),
                 self->secret == NULL ? _("this CP has no secret") : _("no nonce"));
      return;
    }
  /* Central answered AUTH, so AUTH reached it even if its ACK did not come */
  clear_source (&self->auth_timer);
  if (self->current != NULL && self->current->kind == FRAME_AUTH)
    {
      clear_source (&self->ack_timer);
      g_clear_pointer (&self->current, frame_free);
    }
  proof = evcp_central_auth_proof (self->secret, fields[2], self->cp_id, role_to_string (self->role));
  data = g_strjoin ("#", "PROOF", self->cp_id, proof, NULL);
  /* like AUTH: once ACKed, AUTH_OK or AUTH_KO is due within the keep-alive */
  self->current = frame_new (self, FRAME_AUTH, data, NULL);
  if (self->current != NULL)
    transmit (self);
}

/* A frame from Central, already ACKed. */
static void
handle_frame (EvcpCentralClient *self, gchar **fields)
{
  const gchar *verb = fields[0];

  if (fields[1] == NULL)
    {
      g_warning (_("Central link %s: frame %s names no CP; ignored"), self->address, verb);
      return;
    }
  if (!g_str_equal (fields[1], self->cp_id))
    {
      g_debug ("Central %s: %s for %s, not for this CP; ignored", self->address, verb, fields[1]);
      return;
    }

  if (g_str_equal (verb, "AUTH_OK"))
    {
      if (self->state != EVCP_CENTRAL_STATE_AUTHENTICATING)
        {
          g_debug ("Central %s: AUTH_OK while %s, ignored", self->address,
                   evcp_central_state_to_string (self->state));
          return;
        }
      clear_source (&self->auth_timer);
      /* Central answered, so AUTH reached it even if its ACK did not come */
      if (self->current != NULL && self->current->kind == FRAME_AUTH)
        {
          clear_source (&self->ack_timer);
          g_clear_pointer (&self->current, frame_free);
        }
      self->backoff_next_ms = self->backoff_min_ms;
      if (self->down_since != 0)
        {
          g_autofree gchar *seconds =
              g_strdup_printf ("%" G_GINT64_FORMAT, (g_get_monotonic_time () - self->down_since) / G_USEC_PER_SEC);

          /* TRANSLATORS: address, seconds, attempts */
          g_message (_("Central link %s: back after %s s and %u failed attempts"), self->address, seconds,
                     self->down_attempts);
        }
      self->down_since = 0;
      self->down_attempts = 0;
      g_message (_("Central link %s: authenticated as %s"), self->address, self->cp_id);
      set_state (self, EVCP_CENTRAL_STATE_READY);
      clear_source (&self->keepalive_timer);
      self->keepalive_timer = add_timeout (self, self->keepalive_ms, keepalive_cb, "evcp-central-keepalive");
      pump (self);
    }
  else if (g_str_equal (verb, "AUTH_KO"))
    {
      g_autofree gchar *reason = g_strdup (fields[2] != NULL ? fields[2] : "");

      g_warning (_("Central link %s refused the authentication of %s: %s"),
                 self->address, self->cp_id, reason);
      close_link (self, TRUE);
      schedule_reconnect (self);
      g_signal_emit (self, signals[SIGNAL_AUTH_FAILED], 0, reason);
    }
  else if (g_str_equal (verb, "CHALLENGE"))
    {
      on_challenge (self, fields);
    }
  else if (g_str_equal (verb, "PONG"))
    {
      g_debug ("Central %s: PONG", self->address);
    }
  else
    {
      g_signal_emit (self, signals[SIGNAL_COMMAND], 0, fields);
    }
}

static void
feed (EvcpCentralClient *self, const guint8 *p, gsize n)
{
  guint generation = self->generation;
  EvcpFrameEvent event;

  while (!self->eot_received && evcp_frame_decoder_next (self->decoder, &p, &n, &event))
    {
      switch (event.type)
        {
        case EVCP_FRAME_EVENT_FRAME:
          g_debug ("Central %s: received %s", self->address, event.data);
          queue_answer (self, EVCP_FRAME_ACK, evcp_frame_split_fields (event.data));
          break;
        case EVCP_FRAME_EVENT_BAD:
          g_warning (_("Central link %s: dropped bytes that are not a good frame (%s); answering NACK"),
                     self->address, evcp_frame_bad_reason_to_string (event.reason));
          queue_answer (self, EVCP_FRAME_NACK, NULL);
          break;
        case EVCP_FRAME_EVENT_ACK:
          on_answer (self, TRUE);
          break;
        case EVCP_FRAME_EVENT_NACK:
          on_answer (self, FALSE);
          break;
        case EVCP_FRAME_EVENT_EOT:
          /* handled once the ACKs of the frames before it are written */
          self->eot_received = TRUE;
          queue_write (self, NULL, 0, NULL);
          break;
        }
      if (generation != self->generation)
        return;
    }
}

static void
read_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result, &error);
  g_autoptr(EvcpCentralClient) self = op_finish (user_data);
  guint generation;
  gsize n = 0;
  const guint8 *p;

  if (self == NULL)
    return;
  if (bytes == NULL)
    {
      link_lost (self, error->message);
      return;
    }
  p = g_bytes_get_data (bytes, &n);
  if (n == 0)
    {
      link_lost (self, _("Central closed the connection"));
      return;
    }
  generation = self->generation;
  feed (self, p, n);
  if (generation == self->generation && !self->eot_received)
    start_read (self);
}

static void
start_read (EvcpCentralClient *self)
{
  GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (self->connection));

  g_input_stream_read_bytes_async (in, READ_CHUNK, G_PRIORITY_DEFAULT, self->cancellable,
                                   read_cb, op_new (self));
}

/* ---- connecting ------------------------------------------------------------------ */

static const gchar *
role_to_string (EvcpCentralRole role)
{
  return role == EVCP_CENTRAL_ROLE_MONITOR ? "MONITOR" : "ENGINE";
}

/* A frame of ours cannot be encoded (AUTH too long for a frame, say): no
 * link rather than a crash or a loop of refused frames. */
static void
refuse_to_link (EvcpCentralClient *self, const gchar *why)
{
  g_warning (_("Central link %s: no link to Central: the AUTH frame of %s cannot be sent: %s"),
             self->address, self->cp_id, why);
  close_link (self, FALSE);
  clear_source (&self->reconnect_timer);
  set_state (self, EVCP_CENTRAL_STATE_STOPPED);
}

/* DATA of AUTH: AUTH#<cp>#<role>#<location>#<price>, and the mechanism of
 * the proof when the CP has a secret (docs/protocol.md, C5 and A1). */
static gchar *
build_auth (EvcpCentralClient *self, GError **error)
{
  const gchar *fields[] = { "AUTH", self->cp_id, role_to_string (self->role), self->location,
                            self->price, self->secret != NULL ? EVCP_CENTRAL_AUTH_MECHANISM : NULL,
                            NULL };
  g_autofree gchar *data = evcp_frame_join_fields (fields, error);

  if (data == NULL || !evcp_frame_validate_data (data, -1, error))
    return NULL;
  return g_steal_pointer (&data);
}

static void
connected_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketConnection) connection =
    g_socket_client_connect_finish (G_SOCKET_CLIENT (source), result, &error);
  g_autoptr(EvcpCentralClient) self = op_finish (user_data);
  GSocket *socket;

  if (self == NULL)
    {
      if (connection != NULL)
        g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
      return;
    }
  clear_source (&self->connect_timer);
  if (connection == NULL)
    {
      g_autofree gchar *why = g_strdup_printf (_("cannot connect: %s"), error->message);

      link_lost (self, why);
      return;
    }

  socket = g_socket_connection_get_socket (connection);
  /* one small frame, then wait for one byte: no Nagle delay */
  g_socket_set_option (socket, IPPROTO_TCP, TCP_NODELAY, 1, NULL);
  g_socket_set_keepalive (socket, TRUE);
  self->connection = g_steal_pointer (&connection);
  evcp_frame_decoder_reset (self->decoder);
  set_state (self, EVCP_CENTRAL_STATE_AUTHENTICATING);
  start_read (self);

  self->current = frame_new (self, FRAME_AUTH, self->auth_data, &error);
  if (self->current == NULL)
    {
      /* _start() checked it: never here, but never a crash either */
      refuse_to_link (self, error->message);
      return;
    }
  transmit (self);
}

static gboolean
connect_timeout_cb (gpointer user_data)
{
  EvcpCentralClient *self = user_data;
  g_autofree gchar *ms = g_strdup_printf ("%u", CONNECT_TIMEOUT_MS);
  g_autofree gchar *why = NULL;

  clear_source (&self->connect_timer);
  /* TRANSLATORS: %s is a number of milliseconds */
  why = g_strdup_printf (_("cannot connect within %s ms"), ms);
  link_lost (self, why);
  return G_SOURCE_REMOVE;
}

static void
connect_now (EvcpCentralClient *self)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketConnectable) address = g_network_address_new (self->host, self->port);

  close_link (self, FALSE);
  set_state (self, EVCP_CENTRAL_STATE_CONNECTING);
  self->cancellable = g_cancellable_new ();
  /* a plain TCP link: no proxy from the environment */
  g_socket_client_set_enable_proxy (client, FALSE);
  self->connect_timer = add_timeout (self, CONNECT_TIMEOUT_MS, connect_timeout_cb, "evcp-central-connect");
  g_socket_client_connect_async (client, address, self->cancellable, connected_cb, op_new (self));
}

/* ---- public API -------------------------------------------------------------------- */

/* @price formatted with a dot, with 2 decimals or as many more (up to 6) as
 * it needs. */
static gchar *
format_price (gdouble price)
{
  gchar buf[G_ASCII_DTOSTR_BUF_SIZE];

  for (guint digits = 2; digits <= 6; digits++)
    {
      gchar format[8];

      g_snprintf (format, sizeof format, "%%.%uf", digits);
      g_ascii_formatd (buf, sizeof buf, format, price);
      if (ABS (g_ascii_strtod (buf, NULL) - price) < 1e-9)
        break;
    }
  return g_strdup (buf);
}

static gboolean
is_valid_field (const gchar *field)
{
  const gchar *fields[] = { "X", field, NULL };
  g_autofree gchar *data = NULL;

  if (field == NULL)
    return FALSE;
  data = evcp_frame_join_fields (fields, NULL);
  return data != NULL && evcp_frame_validate_data (data, -1, NULL);
}

/**
 * evcp_central_client_new:
 * @host: Central's host name or address
 * @port: its port
 * @role: ENGINE or MONITOR, in AUTH
 * @cp_id: this CP; non-empty, without '#' or control bytes
 * @location: for AUTH; without '#' or control bytes
 * @price_eur_kwh: for AUTH; finite and not negative
 * @outbox: the records to send, acknowledged as Central ACKs them
 *
 * A client, stopped: evcp_central_client_start() connects it.
 */
EvcpCentralClient *
evcp_central_client_new (const gchar     *host,
                         guint16          port,
                         EvcpCentralRole  role,
                         const gchar     *cp_id,
                         const gchar     *location,
                         gdouble          price_eur_kwh,
                         EvcpOutbox      *outbox)
{
  EvcpCentralClient *self;

  g_return_val_if_fail (host != NULL && *host != '\0', NULL);
  g_return_val_if_fail (port != 0, NULL);
  g_return_val_if_fail (role == EVCP_CENTRAL_ROLE_ENGINE || role == EVCP_CENTRAL_ROLE_MONITOR, NULL);
  g_return_val_if_fail (cp_id != NULL && *cp_id != '\0' && is_valid_field (cp_id), NULL);
  g_return_val_if_fail (is_valid_field (location), NULL);
  g_return_val_if_fail (isfinite (price_eur_kwh) && price_eur_kwh >= 0, NULL);
  g_return_val_if_fail (EVCP_IS_OUTBOX (outbox), NULL);

  self = g_object_new (EVCP_TYPE_CENTRAL_CLIENT, NULL);
  self->host = g_strdup (host);
  self->port = port;
  self->address = strchr (host, ':') != NULL ? g_strdup_printf ("[%s]:%u", host, port)
                                             : g_strdup_printf ("%s:%u", host, port);
  self->role = role;
  self->cp_id = g_strdup (cp_id);
  self->location = g_strdup (location);
  self->price = format_price (price_eur_kwh);
  self->outbox = g_object_ref (outbox);
  self->appended_id = g_signal_connect (outbox, "appended", G_CALLBACK (on_appended), self);
  return self;
}

/**
 * evcp_central_client_start:
 *
 * Connects on the thread-default main context, and keeps connecting until
 * evcp_central_client_stop().
 */
void
evcp_central_client_start (EvcpCentralClient *self)
{
  g_autoptr(GError) error = NULL;

  g_return_if_fail (EVCP_IS_CENTRAL_CLIENT (self));

  if (self->state != EVCP_CENTRAL_STATE_STOPPED)
    return;
  g_clear_pointer (&self->auth_data, g_free);
  self->auth_data = build_auth (self, &error);
  if (self->auth_data == NULL)
    {
      refuse_to_link (self, error->message);
      return;
    }
  g_clear_pointer (&self->context, g_main_context_unref);
  self->context = g_main_context_ref_thread_default ();
  self->backoff_next_ms = self->backoff_min_ms;
  g_message (_("Central link %s: starting as %s %s"), self->address,
             role_to_string (self->role), self->cp_id);
  connect_now (self);
}

void
evcp_central_client_stop (EvcpCentralClient *self)
{
  g_return_if_fail (EVCP_IS_CENTRAL_CLIENT (self));

  if (self->state == EVCP_CENTRAL_STATE_STOPPED)
    return;
  close_link (self, TRUE);
  clear_source (&self->reconnect_timer);
  set_state (self, EVCP_CENTRAL_STATE_STOPPED);
}

/**
 * evcp_central_client_send:
 * @fields: the frame's fields (e.g. {"SUPPLY", cp, session, driver, kwh, eur, NULL})
 *
 * Queues a best-effort frame: it goes after every outbox record appended
 * before it, and it is ACKed and resent like the others while the link
 * lasts. At most 32 wait; beyond that the oldest is dropped.
 *
 * Returns: %FALSE if it was dropped: the link is not READY, or the fields
 *   cannot be encoded (a warning says why)
 */
gboolean
evcp_central_client_send (EvcpCentralClient   *self,
                          const gchar * const *fields)
{
  g_autoptr(GError) error = NULL;
  g_autofree gchar *data = NULL;
  Frame *frame;

  g_return_val_if_fail (EVCP_IS_CENTRAL_CLIENT (self), FALSE);
  g_return_val_if_fail (fields != NULL && fields[0] != NULL, FALSE);

  if (self->state != EVCP_CENTRAL_STATE_READY)
    {
      g_debug ("Central %s: %s dropped, the link is %s", self->address, fields[0],
               evcp_central_state_to_string (self->state));
      return FALSE;
    }
  data = evcp_frame_join_fields (fields, &error);
  if (data == NULL || (frame = frame_new (self, FRAME_BEST_EFFORT, data, &error)) == NULL)
    {
      g_warning (_("Central link %s: cannot send %s: %s"), self->address, fields[0], error->message);
      return FALSE;
    }
  frame->seq = evcp_outbox_get_next_seq (self->outbox);
  if (g_queue_get_length (&self->best_effort) >= BEST_EFFORT_MAX)
    {
      Frame *oldest = g_queue_pop_head (&self->best_effort);

      g_debug ("Central %s: queue full, %s dropped", self->address, oldest->data);
      frame_free (oldest);
    }
  g_queue_push_tail (&self->best_effort, frame);
  pump (self);
  return TRUE;
}

/**
 * evcp_central_client_set_secret:
 * @secret: (nullable): this CP's secret at Central; %NULL or empty: none
 *
 * Before evcp_central_client_start(). With a secret, AUTH names the
 * mechanism HMAC-SHA256 and the client answers Central's CHALLENGE with the
 * proof (docs/protocol.md, "Extension: a per-CP secret"). The secret itself
 * is never sent.
 */
void
evcp_central_client_set_secret (EvcpCentralClient *self, const gchar *secret)
{
  g_return_if_fail (EVCP_IS_CENTRAL_CLIENT (self));

  g_free (self->secret);
  self->secret = secret != NULL && *secret != '\0' ? g_strdup (secret) : NULL;
}

EvcpCentralState
evcp_central_client_get_state (EvcpCentralClient *self)
{
  g_return_val_if_fail (EVCP_IS_CENTRAL_CLIENT (self), EVCP_CENTRAL_STATE_STOPPED);
  return self->state;
}

gboolean
evcp_central_client_is_ready (EvcpCentralClient *self)
{
  g_return_val_if_fail (EVCP_IS_CENTRAL_CLIENT (self), FALSE);
  return self->state == EVCP_CENTRAL_STATE_READY;
}

/* How often a link that stays down says so (a message); tests shorten it. */
void
evcp_central_client_set_down_summary (EvcpCentralClient *self, guint interval_ms)
{
  g_return_if_fail (EVCP_IS_CENTRAL_CLIENT (self));
  self->down_summary_ms = interval_ms > 0 ? interval_ms : DEFAULT_DOWN_SUMMARY_MS;
}

void
evcp_central_client_set_timing (EvcpCentralClient *self,
                                guint              ack_timeout_ms,
                                guint              keepalive_ms,
                                guint              backoff_min_ms,
                                guint              backoff_max_ms)
{
  g_return_if_fail (EVCP_IS_CENTRAL_CLIENT (self));

  self->ack_timeout_ms = ack_timeout_ms > 0 ? ack_timeout_ms : DEFAULT_ACK_TIMEOUT_MS;
  self->keepalive_ms = keepalive_ms > 0 ? keepalive_ms : DEFAULT_KEEPALIVE_MS;
  self->backoff_min_ms = backoff_min_ms > 0 ? backoff_min_ms : DEFAULT_BACKOFF_MIN_MS;
  self->backoff_max_ms = backoff_max_ms > 0 ? backoff_max_ms : DEFAULT_BACKOFF_MAX_MS;
  self->backoff_max_ms = MAX (self->backoff_max_ms, self->backoff_min_ms);
  self->backoff_next_ms = CLAMP (self->backoff_next_ms, self->backoff_min_ms, self->backoff_max_ms);
}

/* ---- GObject ----------------------------------------------------------------------- */

static void
evcp_central_client_get_property (GObject    *object,
                                  guint       prop_id,
                                  GValue     *value,
                                  GParamSpec *pspec)
{
  EvcpCentralClient *self = EVCP_CENTRAL_CLIENT (object);

  switch (prop_id)
    {
    case PROP_STATE:
      g_value_set_enum (value, self->state);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
evcp_central_client_dispose (GObject *object)
{
  EvcpCentralClient *self = EVCP_CENTRAL_CLIENT (object);

  if (self->outbox != NULL)
    g_clear_signal_handler (&self->appended_id, self->outbox);
  /* as stop(), politely, without notifying a state nobody can see */
  close_link (self, TRUE);
  clear_source (&self->reconnect_timer);
  self->state = EVCP_CENTRAL_STATE_STOPPED;
  g_clear_object (&self->outbox);
  G_OBJECT_CLASS (evcp_central_client_parent_class)->dispose (object);
}

static void
evcp_central_client_finalize (GObject *object)
{
  EvcpCentralClient *self = EVCP_CENTRAL_CLIENT (object);

  evcp_frame_decoder_free (self->decoder);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_free (self->host);
  g_free (self->address);
  g_free (self->cp_id);
  g_free (self->location);
  g_free (self->price);
  g_free (self->secret);
  g_free (self->auth_data);
  G_OBJECT_CLASS (evcp_central_client_parent_class)->finalize (object);
}

static void
evcp_central_client_class_init (EvcpCentralClientClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = evcp_central_client_get_property;
  object_class->dispose = evcp_central_client_dispose;
  object_class->finalize = evcp_central_client_finalize;

  props[PROP_STATE] =
    g_param_spec_enum ("state", NULL, NULL,
                       EVCP_TYPE_CENTRAL_STATE, EVCP_CENTRAL_STATE_STOPPED,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, props);

  /**
   * EvcpCentralClient::command:
   * @fields: (array zero-terminated=1): the frame's fields, verb first
   *
   * A frame from Central for this CP, already ACKed: AUTHORIZE, STOP,
   * RESUME, or a verb this client does not know (the application logs
   * those with a warning and ignores them). Extra fields are passed on.
   */
  signals[SIGNAL_COMMAND] =
    g_signal_new ("command", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_STRV);

  /**
   * EvcpCentralClient::auth-failed:
   * @reason: what AUTH_KO said (empty if nothing)
   *
   * Central refused AUTH; the client has closed the link and tries again
   * after the backoff.
   */
  signals[SIGNAL_AUTH_FAILED] =
    g_signal_new ("auth-failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
evcp_central_client_init (EvcpCentralClient *self)
{
  self->decoder = evcp_frame_decoder_new ();
  g_queue_init (&self->writes);
  g_queue_init (&self->answers);
  g_queue_init (&self->best_effort);
  self->state = EVCP_CENTRAL_STATE_STOPPED;
  self->ack_timeout_ms = DEFAULT_ACK_TIMEOUT_MS;
  self->keepalive_ms = DEFAULT_KEEPALIVE_MS;
  self->backoff_min_ms = DEFAULT_BACKOFF_MIN_MS;
  self->backoff_max_ms = DEFAULT_BACKOFF_MAX_MS;
  self->backoff_next_ms = DEFAULT_BACKOFF_MIN_MS;
  self->down_summary_ms = DEFAULT_DOWN_SUMMARY_MS;
}
