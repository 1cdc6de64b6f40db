/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The fake Central of the tests (evcp-test-fake-central.h). */
#include "evcp-build-config.h"

#include <string.h>

#include "evcp-central-auth.h"
#include "evcp-test-fake-central.h"
#include "evcp-test-util.h"

struct _EvcpTestFakeConn
{
  EvcpTestFakeCentral *fc;
  GSocketConnection *connection;
  GCancellable      *cancellable;
  EvcpFrameDecoder  *decoder;
  guint              number;     /* 1 for the first connection accepted */
  GByteArray        *held;       /* answers held back behind a late one */
  GSource           *late_timer;
  gboolean           closed;
  gboolean           reading;
};

static void fake_conn_close (EvcpTestFakeConn *conn);

static gboolean
is_reliable_verb (const gchar *data)
{
  return g_str_has_prefix (data, "STATE#") || g_str_has_prefix (data, "TICKET#") ||
         g_str_has_prefix (data, "FAULT#") || g_str_has_prefix (data, "RECOVERED#");
}

/* The last field of a reliable frame. */
static guint64
frame_seq (const gchar *data)
{
  const gchar *last = strrchr (data, '#');

  g_assert_nonnull (last);
  return g_ascii_strtoull (last + 1, NULL, 10);
}

static void
fake_conn_write (EvcpTestFakeConn *conn, const void *bytes, gsize len)
{
  GOutputStream *out;
  g_autoptr(GError) error = NULL;

  if (conn->closed)
    return;
  out = g_io_stream_get_output_stream (G_IO_STREAM (conn->connection));
  if (!g_output_stream_write_all (out, bytes, len, NULL, NULL, &error))
    g_test_message ("fake Central: write failed: %s", error->message);
}

static void
fake_conn_send_fields (EvcpTestFakeConn *conn, const gchar * const *fields)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = evcp_frame_encode_fields (fields, &error);

  g_assert_no_error (error);
  fake_conn_write (conn, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
}

static gboolean
late_cb (gpointer user_data)
{
  EvcpTestFakeConn *conn = user_data;

  g_clear_pointer (&conn->late_timer, g_source_unref);
  fake_conn_write (conn, conn->held->data, conn->held->len);
  g_byte_array_set_size (conn->held, 0);
  return G_SOURCE_REMOVE;
}

/* An answer byte, in order behind a late one if there is one. */
static void
fake_conn_answer (EvcpTestFakeConn *conn, guint8 byte, gboolean late)
{
  if (late && conn->late_timer == NULL)
    {
      conn->late_timer = g_timeout_source_new (conn->fc->late_ms);
      g_source_set_callback (conn->late_timer, late_cb, conn, NULL);
      g_source_attach (conn->late_timer, NULL);
    }
  if (conn->late_timer != NULL)
    g_byte_array_append (conn->held, &byte, 1);
  else
    fake_conn_write (conn, &byte, 1);
}

/* What a Central does once it ACKed a frame. */
static void
fake_conn_act (EvcpTestFakeConn *conn, const gchar *data)
{
  EvcpTestFakeCentral *fc = conn->fc;
  g_auto(GStrv) fields = evcp_frame_split_fields (data);

  if (fc->passive)
    return;
  if (g_str_equal (fields[0], "AUTH") && fc->auth_silent)
    {
      return;
    }
  else if (g_str_equal (fields[0], "AUTH") && fc->secret != NULL)
    {
      const gchar *ko[] = { "AUTH_KO", fields[1], "secret required", NULL };
      const gchar *challenge[] = { "CHALLENGE", fields[1], NULL, NULL };

      if (g_strv_length (fields) < 6 || !g_str_equal (fields[5], EVCP_CENTRAL_AUTH_MECHANISM))
        {
          fake_conn_send_fields (conn, ko);
          return;
        }
      g_free (fc->nonce);
      fc->nonce = g_strdup_printf ("nonce-%u-%u", conn->number, ++fc->challenges);
      challenge[2] = fc->nonce;
      fake_conn_send_fields (conn, challenge);
    }
  else if (g_str_equal (fields[0], "PROOF") && fc->secret != NULL)
    {
      const gchar *ok[] = { "AUTH_OK", fields[1], NULL };
      const gchar *ko[] = { "AUTH_KO", fields[1], "bad proof", NULL };
      gboolean good = fc->nonce != NULL && g_strv_length (fields) == 3 &&
                      evcp_central_auth_check (fc->secret, fc->nonce, fields[1], "ENGINE", fields[2]);

      g_clear_pointer (&fc->nonce, g_free);
      fake_conn_send_fields (conn, good ? ok : ko);
    }
  else if (g_str_equal (fields[0], "AUTH"))
    {
      const gchar *ok[] = { "AUTH_OK", fields[1], NULL };
      const gchar *ko[] = { "AUTH_KO", fields[1], fc->auth_ko_reason, NULL };

      fake_conn_send_fields (conn, fc->auth_ok ? ok : ko);
    }
  else if (g_str_equal (fields[0], "PING"))
    {
      const gchar *pong[] = { "PONG", fields[1], NULL };

      fake_conn_send_fields (conn, pong);
    }
  else if (is_reliable_verb (data))
    {
      guint64 seq = frame_seq (data);

      /* Central drops duplicates by seq */
      if (g_hash_table_add (fc->seen_seqs, g_memdup2 (&seq, sizeof seq)))
        g_ptr_array_add (fc->delivered, g_strdup (data));
      else
        fc->duplicates++;
    }
}

static void
fake_conn_frame (EvcpTestFakeConn *conn, const gchar *data)
{
  EvcpTestFakeCentral *fc = conn->fc;
  guint index = fc->frames->len;
  gint64 now = g_get_monotonic_time ();
  EvcpTestFakeAnswer answer;

  g_ptr_array_add (fc->frames, g_strdup (data));
  g_array_append_val (fc->frame_conn, conn->number);
  g_array_append_val (fc->frame_acks, fc->acks);
  g_array_append_val (fc->frame_times, now);
  answer = fc->answer != NULL ? fc->answer (fc, data, index, fc->answer_data) : EVCP_TEST_FAKE_ANSWER_ACK;
  switch (answer)
    {
    case EVCP_TEST_FAKE_ANSWER_ACK:
    case EVCP_TEST_FAKE_ANSWER_LATE:
      fake_conn_answer (conn, EVCP_FRAME_ACK, answer == EVCP_TEST_FAKE_ANSWER_LATE);
      fake_conn_act (conn, data);
      break;
    case EVCP_TEST_FAKE_ANSWER_NACK:
      fake_conn_answer (conn, EVCP_FRAME_NACK, FALSE);
      break;
    case EVCP_TEST_FAKE_ANSWER_SILENT:
      break;
    case EVCP_TEST_FAKE_ANSWER_LOST_ACK:
      fake_conn_act (conn, data);
      break;
    case EVCP_TEST_FAKE_ANSWER_CLOSE:
      fake_conn_close (conn);
      break;
    }
}

static void fake_conn_read (EvcpTestFakeConn *conn);

static void
fake_conn_read_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  EvcpTestFakeConn *conn = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result, &error);
  const guint8 *p;
  gsize n = 0;
  EvcpFrameEvent event;

  conn->reading = FALSE;
  if (conn->closed)
    return;
  if (bytes == NULL || g_bytes_get_size (bytes) == 0)
    {
      fake_conn_close (conn);
      return;
    }
  p = g_bytes_get_data (bytes, &n);
  while (!conn->closed && evcp_frame_decoder_next (conn->decoder, &p, &n, &event))
    switch (event.type)
      {
      case EVCP_FRAME_EVENT_FRAME:
        fake_conn_frame (conn, event.data);
        break;
      case EVCP_FRAME_EVENT_BAD:
        conn->fc->bad++;
        fake_conn_answer (conn, EVCP_FRAME_NACK, FALSE);
        break;
      case EVCP_FRAME_EVENT_ACK:
        conn->fc->acks++;
        break;
      case EVCP_FRAME_EVENT_NACK:
        conn->fc->nacks++;
        break;
      case EVCP_FRAME_EVENT_EOT:
        conn->fc->eots++;
        fake_conn_close (conn);
        break;
      }
  if (!conn->closed)
    fake_conn_read (conn);
}

static void
fake_conn_read (EvcpTestFakeConn *conn)
{
  GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (conn->connection));

  conn->reading = TRUE;
  g_input_stream_read_bytes_async (in, 4096, G_PRIORITY_DEFAULT, conn->cancellable,
                                   fake_conn_read_cb, conn);
}

static void
fake_conn_close (EvcpTestFakeConn *conn)
{
  if (conn->closed)
    return;
  conn->closed = TRUE;
  if (conn->late_timer != NULL)
    {
      g_source_destroy (conn->late_timer);
      g_clear_pointer (&conn->late_timer, g_source_unref);
    }
  g_cancellable_cancel (conn->cancellable);
  g_io_stream_close (G_IO_STREAM (conn->connection), NULL, NULL);
}

static void
fake_conn_free (EvcpTestFakeConn *conn)
{
  fake_conn_close (conn);
  g_object_unref (conn->connection);
  g_object_unref (conn->cancellable);
  evcp_frame_decoder_free (conn->decoder);
  g_byte_array_unref (conn->held);
  g_free (conn);
}

static gboolean
on_incoming (GSocketService *service, GSocketConnection *connection, GObject *source, EvcpTestFakeCentral *fc)
{
  EvcpTestFakeConn *conn = g_new0 (EvcpTestFakeConn, 1);

  conn->fc = fc;
  conn->connection = g_object_ref (connection);
  conn->cancellable = g_cancellable_new ();
  conn->decoder = evcp_frame_decoder_new ();
  conn->held = g_byte_array_new ();
  conn->number = ++fc->accepted;
  g_ptr_array_add (fc->conns, conn);
  fake_conn_read (conn);
  return TRUE;
}

/* Listens on 127.0.0.1:@port (0: any free port). */
static void
fake_central_listen (EvcpTestFakeCentral *fc, guint16 port)
{
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, port);
  g_autoptr(GSocketAddress) effective = NULL;
  g_autoptr(GError) error = NULL;

  fc->service = g_socket_service_new ();
  g_socket_listener_add_address (G_SOCKET_LISTENER (fc->service), address, G_SOCKET_TYPE_STREAM,
                                 G_SOCKET_PROTOCOL_TCP, NULL, &effective, &error);
  g_assert_no_error (error);
  fc->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective));
  g_signal_connect (fc->service, "incoming", G_CALLBACK (on_incoming), fc);
  g_socket_service_start (fc->service);
}

EvcpTestFakeCentral *
evcp_test_fake_central_new (void)
{
  EvcpTestFakeCentral *fc = g_new0 (EvcpTestFakeCentral, 1);

  fc->conns = g_ptr_array_new_with_free_func ((GDestroyNotify) fake_conn_free);
  fc->frames = g_ptr_array_new_with_free_func (g_free);
  fc->frame_conn = g_array_new (FALSE, FALSE, sizeof (guint));
  fc->frame_acks = g_array_new (FALSE, FALSE, sizeof (guint));
  fc->frame_times = g_array_new (FALSE, FALSE, sizeof (gint64));
  fc->delivered = g_ptr_array_new_with_free_func (g_free);
  fc->seen_seqs = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  fc->auth_ok = TRUE;
  fc->auth_ko_reason = "unknown CP";
  fc->late_ms = 450;
  fake_central_listen (fc, 0);
  return fc;
}

/* Central goes down: no more listening, every connection closed. */
void
evcp_test_fake_central_down (EvcpTestFakeCentral *fc)
{
  for (guint i = 0; i < fc->conns->len; i++)
    fake_conn_close (g_ptr_array_index (fc->conns, i));
  g_socket_service_stop (fc->service);
  g_socket_listener_close (G_SOCKET_LISTENER (fc->service));
  g_clear_object (&fc->service);
}

/* Central comes back on the same port. */
void
evcp_test_fake_central_up (EvcpTestFakeCentral *fc)
{
  fake_central_listen (fc, fc->port);
}

static gboolean
fake_central_idle (gpointer data)
{
  EvcpTestFakeCentral *fc = data;

  for (guint i = 0; i < fc->conns->len; i++)
    if (((EvcpTestFakeConn *) g_ptr_array_index (fc->conns, i))->reading)
      return FALSE;
  return TRUE;
}

void
evcp_test_fake_central_free (EvcpTestFakeCentral *fc)
{
  if (fc->service != NULL)
    evcp_test_fake_central_down (fc);
  /* the cancelled reads call back before their EvcpTestFakeConn goes */
  if (!evcp_test_wait_until (NULL, fake_central_idle, fc, EVCP_TEST_FAKE_CENTRAL_WAIT_MS))
    g_error ("fake Central: reads still pending after closing");
  g_ptr_array_unref (fc->conns);
  g_ptr_array_unref (fc->frames);
  g_array_unref (fc->frame_conn);
  g_array_unref (fc->frame_acks);
  g_array_unref (fc->frame_times);
  g_ptr_array_unref (fc->delivered);
  g_hash_table_unref (fc->seen_seqs);
  g_free (fc->nonce);
  g_free (fc);
}

/* The connection accepted last, if it is still open. */
EvcpTestFakeConn *
evcp_test_fake_central_current (EvcpTestFakeCentral *fc)
{
  EvcpTestFakeConn *conn;

  if (fc->conns->len == 0)
    return NULL;
  conn = g_ptr_array_index (fc->conns, fc->conns->len - 1);
  return conn->closed ? NULL : conn;
}

void
evcp_test_fake_central_send_raw (EvcpTestFakeCentral *fc, const void *bytes, gsize len)
{
  EvcpTestFakeConn *conn = evcp_test_fake_central_current (fc);

  if (conn == NULL)
    g_error ("fake Central: no open connection to send on");
  fake_conn_write (conn, bytes, len);
}

void
evcp_test_fake_central_send (EvcpTestFakeCentral *fc, const gchar * const *fields)
{
  EvcpTestFakeConn *conn = evcp_test_fake_central_current (fc);

  if (conn == NULL)
    g_error ("fake Central: no open connection to send on");
  fake_conn_send_fields (conn, fields);
}

/* How many frames with this DATA were received. */
guint
evcp_test_fake_central_count (EvcpTestFakeCentral *fc, const gchar *data)
{
  guint n = 0;

  for (guint i = 0; i < fc->frames->len; i++)
    if (g_str_equal (g_ptr_array_index (fc->frames, i), data))
      n++;
  return n;
}

/* How many frames starting with @prefix were received. */
guint
evcp_test_fake_central_count_prefix (EvcpTestFakeCentral *fc, const gchar *prefix)
{
  guint n = 0;

  for (guint i = 0; i < fc->frames->len; i++)
    if (g_str_has_prefix (g_ptr_array_index (fc->frames, i), prefix))
      n++;
  return n;
}

/* The frames received, one per line, without AUTH and PING. */
gchar *
evcp_test_fake_central_transcript (EvcpTestFakeCentral *fc)
{
  GString *out = g_string_new (NULL);

  for (guint i = 0; i < fc->frames->len; i++)
    {
      const gchar *data = g_ptr_array_index (fc->frames, i);

      if (g_str_has_prefix (data, "AUTH#") || g_str_has_prefix (data, "PING#"))
        continue;
      g_string_append_printf (out, "%s\n", data);
    }
  return g_string_free (out, FALSE);
}

gchar *
evcp_test_fake_central_delivered (EvcpTestFakeCentral *fc)
{
  GString *out = g_string_new (NULL);

  for (guint i = 0; i < fc->delivered->len; i++)
    g_string_append_printf (out, "%s\n", (const gchar *) g_ptr_array_index (fc->delivered, i));
  return g_string_free (out, FALSE);
}

typedef struct {
  EvcpTestFakeCentral *fc;
  guint                acks;
} AckWait;

static gboolean
acked (gpointer data)
{
  AckWait *w = data;

  return w->fc->acks >= w->acks;
}

void
evcp_test_fake_central_send_acked (EvcpTestFakeCentral *fc, const gchar *data)
{
  EvcpTestFakeConn *conn = evcp_test_fake_central_current (fc);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) frame = evcp_frame_encode (data, -1, &error);
  AckWait w = { fc, fc->acks + 1 };

  g_assert_no_error (error);
  if (conn == NULL)
    g_error ("fake Central: no open connection to send %s on", data);
  fake_conn_write (conn, g_bytes_get_data (frame, NULL), g_bytes_get_size (frame));
  if (!evcp_test_wait_until (NULL, acked, &w, EVCP_TEST_FAKE_CENTRAL_WAIT_MS))
    g_error ("fake Central: %s was not ACKed", data);
}

static gboolean
has_next_frame (gpointer data)
{
  EvcpTestFakeCentral *fc = data;

  return fc->next_frame < fc->frames->len;
}

const gchar *
evcp_test_fake_central_next (EvcpTestFakeCentral *fc, guint timeout_ms, gint64 *arrived_us)
{
  guint i;

  if (!evcp_test_wait_until (NULL, has_next_frame, fc, timeout_ms))
    return NULL;
  i = fc->next_frame++;
  if (arrived_us != NULL)
    *arrived_us = g_array_index (fc->frame_times, gint64, i);
  return g_ptr_array_index (fc->frames, i);
}

void
evcp_test_fake_central_expect (EvcpTestFakeCentral *fc, const gchar *expected, gint64 *arrived_us)
{
  const gchar *data = evcp_test_fake_central_next (fc, EVCP_TEST_FAKE_CENTRAL_WAIT_MS, arrived_us);

  if (data == NULL)
    g_error ("fake Central: nothing came (expected %s)", expected);
  g_assert_cmpstr (data, ==, expected);
}

static gboolean
all_closed (gpointer data)
{
  EvcpTestFakeCentral *fc = data;

  return fc->accepted > 0 && evcp_test_fake_central_current (fc) == NULL &&
         fake_central_idle (fc);
}

gboolean
evcp_test_fake_central_wait_closed (EvcpTestFakeCentral *fc, guint timeout_ms)
{
  return evcp_test_wait_until (NULL, all_closed, fc, timeout_ms);
}
