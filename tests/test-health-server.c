/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Engine's health server over real loopback TCP: a blocking client in a
 * thread (as the Monitor is another process), the server on the main loop. */
#include "evcp-build-config.h"

#include <string.h>

#include "evcp-frame-codec.h"
#include "evcp-engine-health-server.h"

typedef struct {
  gboolean  healthy;
  gchar    *reason;
} Health;

static gboolean
health_func (gpointer user_data, gchar **reason)
{
  Health *h = user_data;

  if (!h->healthy)
    *reason = g_strdup (h->reason);
  return h->healthy;
}

typedef void (*ClientFunc) (GSocket *socket, gpointer data);

typedef struct {
  guint16    port;
  ClientFunc func;
  gpointer   data;
  gint       done;
} Client;

static gpointer
client_thread (gpointer user_data)
{
  Client *c = user_data;
  g_autoptr(GSocket) socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                            G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) addr = g_inet_socket_address_new (lo, c->port);
  g_autoptr(GError) error = NULL;

  g_socket_set_timeout (socket, 10);   /* a deadline for every read */
  g_assert_true (g_socket_connect (socket, addr, NULL, &error));
  g_assert_no_error (error);
  c->func (socket, c->data);
  g_atomic_int_set (&c->done, 1);
  g_main_context_wakeup (NULL);
  return NULL;
}

static void
run_client (EvcpHealthServer *server, ClientFunc func, gpointer data)
{
  Client c = { evcp_health_server_get_port (server), func, data, 0 };
  GThread *thread = g_thread_new ("client", client_thread, &c);
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;

  while (!g_atomic_int_get (&c.done) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (g_atomic_int_get (&c.done));
  g_thread_join (thread);
}

static void
send_raw (GSocket *socket, const void *data, gsize len)
{
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (g_socket_send (socket, data, len, NULL, &error), ==, (gssize) len);
  g_assert_no_error (error);
}

static void
send_frame (GSocket *socket, const gchar *data)
{
  g_autoptr(GBytes) frame = evcp_frame_encode (data, -1, NULL);

  send_raw (socket, g_bytes_get_data (frame, NULL), g_bytes_get_size (frame));
}

/* Reads until one event; returns its type, and the frame's DATA if any. */
typedef struct {
  EvcpFrameDecoder *decoder;
  guint8            buf[8192];
  const guint8     *p;
  gsize             len;
} Reader;

static EvcpFrameEventType
next_event (GSocket *socket, Reader *r, gchar **data)
{
  EvcpFrameEvent event;

  for (;;)
    {
      g_autoptr(GError) error = NULL;
      gssize n;

      if (evcp_frame_decoder_next (r->decoder, &r->p, &r->len, &event))
        {
          if (data != NULL)
            *data = event.type == EVCP_FRAME_EVENT_FRAME ? g_strdup (event.data) : NULL;
          return event.type;
        }
      n = g_socket_receive (socket, (gchar *) r->buf, sizeof r->buf, NULL, &error);
      g_assert_no_error (error);
      if (n == 0)
        return (EvcpFrameEventType) -1;   /* closed */
      r->p = r->buf;
      r->len = (gsize) n;
    }
}

static void
expect_ack_then (GSocket *socket, Reader *r, const gchar *answer)
{
  g_autofree gchar *data = NULL;

  g_assert_cmpint (next_event (socket, r, NULL), ==, EVCP_FRAME_EVENT_ACK);
  g_assert_cmpint (next_event (socket, r, &data), ==, EVCP_FRAME_EVENT_FRAME);
  g_assert_cmpstr (data, ==, answer);
  send_raw (socket, "\x06", 1);
}

static void
conversation (GSocket *socket, gpointer user_data)
{
  Health *h = user_data;
  Reader r = { evcp_frame_decoder_new (), { 0 }, NULL, 0 };
  g_autofree gchar *again = NULL;
  static const guint8 bad_lrc[] = { 0x02, 'H', 'E', 'A', 'L', 'T', 'H', '#', 'C', 'P', 0x03, 0x00 };

  send_frame (socket, "HEALTH#CP-H1");
  expect_ack_then (socket, &r, "OK#CP-H1");

  /* another CP's check is ACKed and not answered: the next answer is ours */
  send_frame (socket, "HEALTH#CP-OTHER");
  g_assert_cmpint (next_event (socket, &r, NULL), ==, EVCP_FRAME_EVENT_ACK);
  /* unknown verbs and extra fields: ACKed */
  send_frame (socket, "FUTURE_VERB#CP-H1#x");
  g_assert_cmpint (next_event (socket, &r, NULL), ==, EVCP_FRAME_EVENT_ACK);

  h->healthy = FALSE;   /* read by the server thread only when a check arrives */
  send_frame (socket, "HEALTH#CP-H1#extra-field");
  g_assert_cmpint (next_event (socket, &r, NULL), ==, EVCP_FRAME_EVENT_ACK);
  {
    g_autofree gchar *data = NULL;

    g_assert_cmpint (next_event (socket, &r, &data), ==, EVCP_FRAME_EVENT_FRAME);
    /* the reason cannot break the framing */
    g_assert_cmpstr (data, ==, "KO#CP-H1#simulated   fault");
    /* NACK: the same answer again */
    send_raw (socket, "\x15", 1);
    g_assert_cmpint (next_event (socket, &r, &again), ==, EVCP_FRAME_EVENT_FRAME);
    g_assert_cmpstr (again, ==, data);
    send_raw (socket, "\x06", 1);
  }

  /* garbage and a bad LRC: NACK */
  send_raw (socket, "garbage", 7);
  g_assert_cmpint (next_event (socket, &r, NULL), ==, EVCP_FRAME_EVENT_NACK);
  send_raw (socket, bad_lrc, sizeof bad_lrc);
  g_assert_cmpint (next_event (socket, &r, NULL), ==, EVCP_FRAME_EVENT_NACK);

  /* EOT: the server closes */
  send_raw (socket, "\x04", 1);
  g_assert_cmpint (next_event (socket, &r, NULL), ==, (EvcpFrameEventType) -1);
  evcp_frame_decoder_free (r.decoder);
}

static void
test_health_server (void)
{
  Health h = { TRUE, (gchar *) "simulated # fault" };
  g_autoptr(EvcpHealthServer) server = evcp_health_server_new ("CP-H1", health_func, &h, NULL);
  g_autoptr(GError) error = NULL;

  g_assert_true (evcp_health_server_listen (server, "127.0.0.1", 0, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (evcp_health_server_get_port (server), >, 0);
  run_client (server, conversation, &h);
  g_assert_cmpuint (evcp_health_server_get_checks (server), ==, 2);
  evcp_health_server_stop (server);
}

static void
test_health_server_bad_address (void)
{
  Health h = { TRUE, NULL };
  g_autoptr(EvcpHealthServer) server = evcp_health_server_new ("CP-H1", health_func, &h, NULL);
  g_autoptr(GError) error = NULL;

  g_assert_false (evcp_health_server_listen (server, "not-an-address", 0, &error));
  g_assert_nonnull (error);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  g_test_add_func ("/health-server/conversation", test_health_server);
  g_test_add_func ("/health-server/bad-address", test_health_server_bad_address);
  return g_test_run ();
}
