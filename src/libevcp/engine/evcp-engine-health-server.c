/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "evcp-health"

#include "evcp-build-config.h"

#include <string.h>

#include <glib/gi18n-lib.h>

#include "evcp-error.h"
#include "evcp-frame-codec.h"
#include "evcp-engine-health-server.h"

#define MAX_RESENDS 3
/* Bounds against hostile or stuck peers (docs/reliability.md): answers
 * waiting to be written, bytes and useless frames since the last HEALTH. */
#define MAX_BACKLOG       (16 * 1024)
#define MAX_USELESS_BYTES (64 * 1024)
#define MAX_STRIKES       32
#define LOGGED_STRIKES    10

struct _EvcpHealthServer
{
  GObject          parent_instance;

  gchar           *cp_id;
  EvcpHealthFunc   func;
  gpointer         user_data;
  GDestroyNotify   destroy;
  GSocketService  *service;
  guint16          port;
  GPtrArray       *peers;
  guint64          checks;
  guint64          dropped;
  guint            sweep_id;
  EvcpHealthLimits limits;
};

G_DEFINE_TYPE (EvcpHealthServer, evcp_health_server, G_TYPE_OBJECT)

typedef struct {
  EvcpHealthServer  *server;          /* weak: the server closes its peers first */
  GSocketConnection *connection;
  GCancellable      *cancellable;
  EvcpFrameDecoder  *decoder;
  guint8             buffer[4096];
  GQueue             out;             /* of GBytes */
  gboolean           writing;
  GBytes            *last_answer;     /* resent on NACK */
  guint              resends;
  gboolean           closing;         /* to be closed once the bytes read are handled */
  gboolean           proven;          /* it asked HEALTH for this CP */
  gint64             accepted_at;     /* monotonic */
  gint64             useful_at;       /* monotonic: the last HEALTH */
  gsize              out_bytes;       /* in @out */
  gsize              useless_bytes;   /* read since the last HEALTH */
  guint              strikes;         /* useless or bad frames in a row */
} Peer;

static void peer_read (Peer *peer);

static void
peer_free (Peer *peer)
{
  g_cancellable_cancel (peer->cancellable);
  /* at once, even with reads and writes still pending */
  g_socket_close (g_socket_connection_get_socket (peer->connection), NULL);
  g_object_unref (peer->connection);
  g_object_unref (peer->cancellable);
  evcp_frame_decoder_free (peer->decoder);
  g_queue_clear_full (&peer->out, (GDestroyNotify) g_bytes_unref);
  g_clear_pointer (&peer->last_answer, g_bytes_unref);
  g_free (peer);
}

static void
peer_close (Peer *peer)
{
  /* the array owns the peer: removing it frees it */
  if (peer->server != NULL)
    g_ptr_array_remove_fast (peer->server->peers, peer);
}

static void peer_flush (Peer *peer);

static void
write_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Peer *peer = user_data;
  g_autoptr(GError) error = NULL;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_debug ("Health peer write failed: %s", error->message);
          peer_close (peer);
        }
      return;
    }
  {
    GBytes *done = g_queue_pop_head (&peer->out);

    peer->out_bytes -= g_bytes_get_size (done);
    g_bytes_unref (done);
  }
  peer->writing = FALSE;
  peer_flush (peer);
}

static void
peer_flush (Peer *peer)
{
  GBytes *next;

  if (peer->writing || (next = g_queue_peek_head (&peer->out)) == NULL)
    return;
  peer->writing = TRUE;
  g_output_stream_write_all_async (g_io_stream_get_output_stream (G_IO_STREAM (peer->connection)),
                                   g_bytes_get_data (next, NULL), g_bytes_get_size (next),
                                   G_PRIORITY_DEFAULT, peer->cancellable, write_done, peer);
}

static void
peer_send (Peer *peer, GBytes *bytes)
{
  if (peer->closing)
    return;
  /* a peer that does not read: stuck, dropped */
  if (peer->out_bytes + g_bytes_get_size (bytes) > MAX_BACKLOG)
    {
      g_debug ("Health peer does not read what is sent to it: dropped");
      peer->server->dropped++;
      peer->closing = TRUE;
      return;
    }
  peer->out_bytes += g_bytes_get_size (bytes);
  g_queue_push_tail (&peer->out, g_bytes_ref (bytes));
  peer_flush (peer);
}

/* Something of no use from the peer; too many in a row and it is dropped.
 * Returns: whether to log it. */
static gboolean
peer_strike (Peer *peer)
{
  if (++peer->strikes > MAX_STRIKES && !peer->closing)
    {
      g_debug ("Health peer sent more than %u useless frames in a row: dropped", MAX_STRIKES);
      peer->server->dropped++;
      peer->closing = TRUE;
    }
  return peer->strikes <= LOGGED_STRIKES;
}

static void
peer_send_byte (Peer *peer, guint8 byte)
{
  g_autoptr(GBytes) b = g_bytes_new (&byte, 1);

  peer_send (peer, b);
}

/* Central's fields may not carry '#' or control bytes: make a reason safe. */
static gchar *
sanitize (const gchar *reason)
{
  gchar *safe = g_strdup (reason != NULL && *reason != '\0' ? reason : "unhealthy");

  for (gchar *p = safe; *p != '\0'; p++)
    if (*p == '#' || evcp_frame_is_forbidden_byte ((guint8) *p) || (guint8) *p < 0x20)
      *p = ' ';
  if (strlen (safe) > 512)
    safe[512] = '\0';
  return safe;
}

/* The ACK and the answer go out in one write: two small writes on a kept
 * connection would wait for each other (Nagle and delayed ACK, ~40 ms). */
static void
answer_health (Peer *peer)
{
  EvcpHealthServer *self = peer->server;
  g_autofree gchar *reason = NULL;
  g_autofree gchar *safe = NULL;
  g_autoptr(GBytes) frame = NULL;
  g_autoptr(GError) error = NULL;
  gboolean ok;

  self->checks++;
  ok = self->func (self->user_data, &reason);
  if (ok)
    {
      /* healthy, with a warning as a third field when there is one (a
       * Monitor that knows none ignores it) */
      const gchar *fields[] = { "OK", self->cp_id, NULL, NULL };

      if (reason != NULL)
        fields[2] = safe = sanitize (reason);
      frame = evcp_frame_encode_fields (fields, &error);
    }
  else
    {
      const gchar *fields[] = { "KO", self->cp_id, NULL, NULL };

      safe = sanitize (reason);
      fields[2] = safe;
      frame = evcp_frame_encode_fields (fields, &error);
    }
  if (frame == NULL)
    {
      g_warning (_("Cannot encode the health answer: %s"), error->message);
      return;
    }
  g_clear_pointer (&peer->last_answer, g_bytes_unref);
  peer->last_answer = g_bytes_ref (frame);
  peer->resends = 0;
  {
    gsize len = g_bytes_get_size (frame);
    guint8 *both = g_malloc (len + 1);
    g_autoptr(GBytes) bytes = NULL;

    both[0] = EVCP_FRAME_ACK;
    memcpy (both + 1, g_bytes_get_data (frame, NULL), len);
    bytes = g_bytes_new_take (both, len + 1);
    peer_send (peer, bytes);
  }
}

static void
on_frame (Peer *peer, const gchar *data)
{
  g_auto(GStrv) fields = evcp_frame_split_fields (data);

  /* ACK before acting (for HEALTH, in the same write as the answer) */
  if (g_strcmp0 (fields[0], "HEALTH") == 0 && g_strcmp0 (fields[1], peer->server->cp_id) == 0)
    {
      peer->proven = TRUE;
      peer->strikes = 0;
      peer->useless_bytes = 0;
      peer->useful_at = g_get_monotonic_time ();
      answer_health (peer);
      return;
    }
  peer_send_byte (peer, EVCP_FRAME_ACK);
  if (g_strcmp0 (fields[0], "HEALTH") == 0)
    {
      if (peer_strike (peer))
        g_debug ("HEALTH for %s ignored: this is %s", fields[1], peer->server->cp_id);
      return;
    }
  if (peer_strike (peer))
    g_warning (_("Health link: unknown verb “%s” ignored"), fields[0]);
}

static gboolean
handle_bytes (Peer *peer, const guint8 *buf, gsize len)
{
  EvcpFrameEvent event;

  peer->useless_bytes += len;
  while (!peer->closing && evcp_frame_decoder_next (peer->decoder, &buf, &len, &event))
    {
      switch (event.type)
        {
        case EVCP_FRAME_EVENT_FRAME:
          on_frame (peer, event.data);
          break;
        case EVCP_FRAME_EVENT_BAD:
          if (peer_strike (peer))
            g_info ("Health link: bad frame (%s), NACK", evcp_frame_bad_reason_to_string (event.reason));
          peer_send_byte (peer, EVCP_FRAME_NACK);
          break;
        case EVCP_FRAME_EVENT_ACK:
          if (peer->last_answer == NULL)
            peer_strike (peer);
          g_clear_pointer (&peer->last_answer, g_bytes_unref);
          break;
        case EVCP_FRAME_EVENT_NACK:
          if (peer->last_answer != NULL && peer->resends < MAX_RESENDS)
            {
              peer->resends++;
              peer_send (peer, peer->last_answer);
            }
          else
            peer_strike (peer);
          break;
        case EVCP_FRAME_EVENT_EOT:
          return FALSE;
        default:
          break;
        }
    }
  if (peer->useless_bytes > MAX_USELESS_BYTES && !peer->closing)
    {
      g_debug ("Health peer sent %" G_GSIZE_FORMAT " bytes without a HEALTH: dropped", peer->useless_bytes);
      peer->server->dropped++;
      peer->closing = TRUE;
    }
  return !peer->closing;
}

static void
read_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Peer *peer = user_data;
  g_autoptr(GError) error = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);

  if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;   /* the peer is being freed */
  if (n <= 0 || !handle_bytes (peer, peer->buffer, (gsize) n))
    {
      peer_close (peer);
      return;
    }
  peer_read (peer);
}

static void
peer_read (Peer *peer)
{
  g_input_stream_read_async (g_io_stream_get_input_stream (G_IO_STREAM (peer->connection)),
                             peer->buffer, sizeof peer->buffer, G_PRIORITY_DEFAULT,
                             peer->cancellable, read_done, peer);
}

/* Whether @a should go before @b when the server is full: one that never
 * asked HEALTH for this CP before one that did (the Monitor's kept
 * connection did), then the oldest, or the one that asked least recently. */
static gboolean
goes_before (Peer *a, Peer *b)
{
  if (a->proven != b->proven)
    return !a->proven;
  return a->proven ? a->useful_at < b->useful_at : a->accepted_at < b->accepted_at;
}

/* Room for one more: at most max_connections; when full, one goes (see
 * goes_before()), so that a new Monitor connection always gets in. */
static gboolean
make_room (EvcpHealthServer *self)
{
  Peer *victim = NULL;

  if (self->peers->len < self->limits.max_connections)
    return TRUE;
  for (guint i = 0; i < self->peers->len; i++)
    {
      Peer *peer = g_ptr_array_index (self->peers, i);

      if (victim == NULL || goes_before (peer, victim))
        victim = peer;
    }
  if (victim == NULL)
    return FALSE;
  g_debug ("Health server full: a connection goes");
  self->dropped++;
  peer_close (victim);
  return TRUE;
}

/* Drops the connections that did not ask HEALTH in time, and those that
 * asked nothing for too long. */
static gboolean
sweep_cb (gpointer user_data)
{
  EvcpHealthServer *self = user_data;
  gint64 now = g_get_monotonic_time ();

  for (guint i = self->peers->len; i > 0; i--)
    {
      Peer *peer = g_ptr_array_index (self->peers, i - 1);
      gboolean late = !peer->proven && now - peer->accepted_at > (gint64) self->limits.first_timeout_ms * 1000;
      gboolean idle = peer->proven && now - peer->useful_at > (gint64) self->limits.idle_timeout_ms * 1000;

      if (late || idle)
        {
          g_debug ("Health peer %s: dropped", late ? "asked nothing in time" : "idle");
          self->dropped++;
          peer_close (peer);
        }
    }
  return G_SOURCE_CONTINUE;
}

static void
start_sweep (EvcpHealthServer *self)
{
  guint interval = MIN (self->limits.first_timeout_ms, self->limits.idle_timeout_ms) / 4;

  g_clear_handle_id (&self->sweep_id, g_source_remove);
  self->sweep_id = g_timeout_add (CLAMP (interval, 10, 1000), sweep_cb, self);
}

static gboolean
on_incoming (GSocketService     *service,
             GSocketConnection  *connection,
             GObject            *source_object,
             EvcpHealthServer   *self)
{
  Peer *peer;

  if (!make_room (self))
    {
      self->dropped++;
      g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
      return TRUE;
    }
  peer = g_new0 (Peer, 1);
  peer->server = self;
  peer->accepted_at = peer->useful_at = g_get_monotonic_time ();
  peer->connection = g_object_ref (connection);
  peer->cancellable = g_cancellable_new ();
  peer->decoder = evcp_frame_decoder_new ();
  g_queue_init (&peer->out);
  g_ptr_array_add (self->peers, peer);
  peer_read (peer);
  return TRUE;
}

EvcpHealthServer *
evcp_health_server_new (const gchar    *cp_id,
                        EvcpHealthFunc  func,
                        gpointer        user_data,
                        GDestroyNotify  destroy)
{
  EvcpHealthServer *self;

  g_return_val_if_fail (cp_id != NULL && func != NULL, NULL);

  self = g_object_new (EVCP_TYPE_HEALTH_SERVER, NULL);
  self->cp_id = g_strdup (cp_id);
  self->func = func;
  self->user_data = user_data;
  self->destroy = destroy;
  return self;
}

gboolean
evcp_health_server_listen (EvcpHealthServer  *self,
                           const gchar       *address,
                           guint16            port,
                           GError           **error)
{
  g_autoptr(GInetAddress) inet = NULL;
  g_autoptr(GSocketAddress) sockaddr = NULL;
  g_autoptr(GSocketAddress) effective = NULL;

  g_return_val_if_fail (EVCP_IS_HEALTH_SERVER (self), FALSE);
  g_return_val_if_fail (self->service == NULL, FALSE);

  if (address == NULL || g_ascii_strcasecmp (address, "localhost") == 0)
    inet = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  else
    inet = g_inet_address_new_from_string (address);
  if (inet == NULL)
    {
      g_set_error (error, EVCP_ERROR, EVCP_ERROR_CONFIG,
                   _("Health server: “%s” is not an IP address"), address);
      return FALSE;
    }
  sockaddr = g_inet_socket_address_new (inet, port);
  self->service = g_socket_service_new ();
  /* a flood of connections must not fill the queue of those not yet
   * accepted (GIO's default is 10): the server drops them itself */
  g_socket_listener_set_backlog (G_SOCKET_LISTENER (self->service), 128);
  if (!g_socket_listener_add_address (G_SOCKET_LISTENER (self->service), sockaddr,
                                      G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                      NULL, &effective, error))
    {
      g_prefix_error (error, _("Health server: "));
      g_clear_object (&self->service);
      return FALSE;
    }
  self->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective));
  g_signal_connect (self->service, "incoming", G_CALLBACK (on_incoming), self);
  g_socket_service_start (self->service);
  start_sweep (self);
  g_message (_("Answering health checks on %s:%u"), address != NULL ? address : "127.0.0.1",
             self->port);
  return TRUE;
}

guint16
evcp_health_server_get_port (EvcpHealthServer *self)
{
  g_return_val_if_fail (EVCP_IS_HEALTH_SERVER (self), 0);
  return self->port;
}

guint64
evcp_health_server_get_checks (EvcpHealthServer *self)
{
  g_return_val_if_fail (EVCP_IS_HEALTH_SERVER (self), 0);
  return self->checks;
}

guint64
evcp_health_server_get_dropped (EvcpHealthServer *self)
{
  g_return_val_if_fail (EVCP_IS_HEALTH_SERVER (self), 0);
  return self->dropped;
}

guint
evcp_health_server_get_connections (EvcpHealthServer *self)
{
  g_return_val_if_fail (EVCP_IS_HEALTH_SERVER (self), 0);
  return self->peers->len;
}

/* 0 keeps a field's default (EVCP_HEALTH_DEFAULT_*). */
void
evcp_health_server_set_limits (EvcpHealthServer *self, const EvcpHealthLimits *limits)
{
  g_return_if_fail (EVCP_IS_HEALTH_SERVER (self));
  g_return_if_fail (limits != NULL);

  self->limits.max_connections = limits->max_connections > 0 ? limits->max_connections
                                                             : EVCP_HEALTH_DEFAULT_MAX_CONNECTIONS;
  self->limits.first_timeout_ms = limits->first_timeout_ms > 0 ? limits->first_timeout_ms
                                                               : EVCP_HEALTH_DEFAULT_FIRST_TIMEOUT_MS;
  self->limits.idle_timeout_ms = limits->idle_timeout_ms > 0 ? limits->idle_timeout_ms
                                                             : EVCP_HEALTH_DEFAULT_IDLE_TIMEOUT_MS;
  if (self->sweep_id != 0)
    start_sweep (self);
}

void
evcp_health_server_stop (EvcpHealthServer *self)
{
  g_return_if_fail (EVCP_IS_HEALTH_SERVER (self));

  g_clear_handle_id (&self->sweep_id, g_source_remove);
  if (self->service != NULL)
    {
      g_socket_service_stop (self->service);
      g_socket_listener_close (G_SOCKET_LISTENER (self->service));
      g_clear_object (&self->service);
    }
  g_ptr_array_set_size (self->peers, 0);
}

static void
evcp_health_server_finalize (GObject *object)
{
  EvcpHealthServer *self = EVCP_HEALTH_SERVER (object);

  evcp_health_server_stop (self);
  g_ptr_array_unref (self->peers);
  if (self->destroy != NULL)
    self->destroy (self->user_data);
  g_free (self->cp_id);
  G_OBJECT_CLASS (evcp_health_server_parent_class)->finalize (object);
}

static void
evcp_health_server_class_init (EvcpHealthServerClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = evcp_health_server_finalize;
}

static void
evcp_health_server_init (EvcpHealthServer *self)
{
  self->peers = g_ptr_array_new_with_free_func ((GDestroyNotify) peer_free);
  self->limits.max_connections = EVCP_HEALTH_DEFAULT_MAX_CONNECTIONS;
  self->limits.first_timeout_ms = EVCP_HEALTH_DEFAULT_FIRST_TIMEOUT_MS;
  self->limits.idle_timeout_ms = EVCP_HEALTH_DEFAULT_IDLE_TIMEOUT_MS;
}
