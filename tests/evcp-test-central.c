/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "evcp-test-central"

#include "evcp-build-config.h"

#include <string.h>

#include "evcp-test-central.h"
#include "evcp-test-util.h"

#define KILL_TIMEOUT_MS 5000

/* ------------------------------------------------------------------------- */
/* The evcp-central program */

struct _EvcpTestCentral
{
  GSubprocess      *proc;
  GDataInputStream *out;
  GOutputStream    *in;
  GCancellable     *cancellable;
  GQueue            lines;
  gboolean          reading;
  gboolean          eof;
  gchar            *log_path;
  guint16           port;
};

static void central_read_next (EvcpTestCentral *central);

static void
central_read_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  EvcpTestCentral *central = user_data;
  g_autoptr(GError) error = NULL;
  gchar *line;

  central->reading = FALSE;
  line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source), result, NULL, &error);
  if (line == NULL)
    {
      if (error != NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_test_message ("evcp-central stdout: %s", error->message);
      central->eof = TRUE;
      return;
    }
  g_queue_push_tail (&central->lines, line);
  central_read_next (central);
}

static void
central_read_next (EvcpTestCentral *central)
{
  central->reading = TRUE;
  g_data_input_stream_read_line_async (central->out, G_PRIORITY_DEFAULT, central->cancellable,
                                       central_read_cb, central);
}

static gboolean
has_line (gpointer data)
{
  EvcpTestCentral *central = data;

  return !g_queue_is_empty (&central->lines) || central->eof;
}

gchar *
evcp_test_central_read_line (EvcpTestCentral *central)
{
  gchar *line;

  evcp_test_wait_until (NULL, has_line, central, EVCP_TEST_CENTRAL_WAIT_MS);
  line = g_queue_pop_head (&central->lines);
  if (line == NULL)
    g_error ("evcp-central printed no line (%s)", central->eof ? "end of output" : "timeout");
  return line;
}

EvcpTestCentral *
evcp_test_central_start (const gchar *db_path, const gchar * const *args)
{
  static guint counter;
  g_autoptr(GSubprocessLauncher) launcher =
    evcp_test_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  g_autofree gchar *first = NULL;
  const gchar *exe = g_getenv ("EVCP_CENTRAL");
  EvcpTestCentral *central;
  guint64 port;

  g_assert_nonnull (exe);
  g_assert_false (g_str_equal (db_path, ":memory:"));
  central = g_new0 (EvcpTestCentral, 1);
  central->log_path = g_strdup_printf ("%s.%u.log", db_path, counter++);
  g_subprocess_launcher_unsetenv (launcher, "KAFKA_BROKERS");
  g_subprocess_launcher_unsetenv (launcher, "EVCP_CONFIG");
  g_subprocess_launcher_unsetenv (launcher, "CENTRAL_PORT");
  g_subprocess_launcher_set_stderr_file_path (launcher, central->log_path);

  g_ptr_array_add (argv, (gpointer) exe);
  g_ptr_array_add (argv, (gpointer) "--port=0");
  g_ptr_array_add (argv, (gpointer) "--no-panel");
  g_ptr_array_add (argv, (gpointer) "--verbose");
  g_ptr_array_add (argv, (gpointer) "--db");
  g_ptr_array_add (argv, (gpointer) db_path);
  for (guint i = 0; args != NULL && args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  central->proc = evcp_test_launcher_spawnv (launcher, (const gchar * const *) argv->pdata, &error);
  g_assert_no_error (error);
  central->out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (central->proc));
  central->in = g_object_ref (g_subprocess_get_stdin_pipe (central->proc));
  central->cancellable = g_cancellable_new ();
  central_read_next (central);

  first = evcp_test_central_read_line (central);
  if (!g_str_has_prefix (first, "LISTENING ") ||
      !g_ascii_string_to_unsigned (first + strlen ("LISTENING "), 10, 1, G_MAXUINT16, &port, NULL))
    g_error ("evcp-central printed “%s” instead of LISTENING <port>", first);
  central->port = (guint16) port;
  return central;
}

guint16
evcp_test_central_get_port (EvcpTestCentral *central)
{
  return central->port;
}

GSubprocess *
evcp_test_central_get_subprocess (EvcpTestCentral *central)
{
  return central->proc;
}

const gchar *
evcp_test_central_get_log_path (EvcpTestCentral *central)
{
  return central->log_path;
}

gchar *
evcp_test_central_command (EvcpTestCentral *central, const gchar *command)
{
  g_autoptr(GError) error = NULL;
  g_autofree gchar *line = g_strdup_printf ("%s\n", command);

  g_assert_true (g_output_stream_write_all (central->in, line, strlen (line), NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_output_stream_flush (central->in, NULL, &error));
  return evcp_test_central_read_line (central);
}

JsonObject *
evcp_test_central_list (EvcpTestCentral *central)
{
  g_autofree gchar *answer = evcp_test_central_command (central, "list");
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;

  g_assert_true (g_str_has_prefix (answer, "OK {"));
  g_assert_true (json_parser_load_from_data (parser, answer + 3, -1, &error));
  g_assert_no_error (error);
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

JsonObject *
evcp_test_central_get_cp (EvcpTestCentral *central, const gchar *cp_id)
{
  g_autoptr(JsonObject) root = evcp_test_central_list (central);
  JsonArray *cps = json_object_get_array_member (root, "cps");

  for (guint i = 0; i < json_array_get_length (cps); i++)
    {
      JsonObject *cp = json_array_get_object_element (cps, i);

      if (g_strcmp0 (json_object_get_string_member (cp, "id"), cp_id) == 0)
        return json_object_ref (cp);
    }
  return NULL;
}

gint64
evcp_test_central_get_stat (EvcpTestCentral *central, const gchar *name)
{
  g_autoptr(JsonObject) root = evcp_test_central_list (central);

  return json_object_get_int_member (json_object_get_object_member (root, "stats"), name);
}

gboolean
evcp_test_central_log_contains (EvcpTestCentral *central, const gchar *needle)
{
  g_autofree gchar *contents = NULL;

  return g_file_get_contents (central->log_path, &contents, NULL, NULL) && strstr (contents, needle) != NULL;
}

typedef struct {
  EvcpTestCentral *central;
  const gchar     *needle;
} LogWait;

static gboolean
log_has (gpointer data)
{
  LogWait *wait = data;

  return evcp_test_central_log_contains (wait->central, wait->needle);
}

gboolean
evcp_test_central_wait_log (EvcpTestCentral *central, const gchar *needle, guint timeout_ms)
{
  LogWait wait = { central, needle };

  return evcp_test_wait_until (NULL, log_has, &wait, timeout_ms);
}

static gboolean
exited (gpointer data)
{
  /* the GSubprocess reaps the child from the main context that the wait iterates */
  return g_subprocess_get_identifier (data) == NULL;
}

gint
evcp_test_central_wait_exit (EvcpTestCentral *central, guint timeout_ms)
{
  g_assert_true (evcp_test_wait_until (NULL, exited, central->proc, timeout_ms));
  if (!g_subprocess_get_if_exited (central->proc))
    return -1;
  return g_subprocess_get_exit_status (central->proc);
}

gint
evcp_test_central_quit (EvcpTestCentral *central)
{
  g_autofree gchar *answer = evcp_test_central_command (central, "quit");

  g_assert_cmpstr (answer, ==, "OK quit");
  return evcp_test_central_wait_exit (central, EVCP_TEST_CENTRAL_WAIT_MS);
}

static gboolean
not_reading (gpointer data)
{
  return !((EvcpTestCentral *) data)->reading;
}

void
evcp_test_central_free (EvcpTestCentral *central)
{
  if (central == NULL)
    return;
  if (g_subprocess_get_identifier (central->proc) != NULL)
    {
      g_subprocess_force_exit (central->proc);
      evcp_test_wait_until (NULL, exited, central->proc, KILL_TIMEOUT_MS);
    }
  g_cancellable_cancel (central->cancellable);
  evcp_test_wait_until (NULL, not_reading, central, KILL_TIMEOUT_MS);
  g_queue_clear_full (&central->lines, g_free);
  g_clear_object (&central->out);
  g_clear_object (&central->in);
  g_clear_object (&central->cancellable);
  g_clear_object (&central->proc);
  g_free (central->log_path);
  g_free (central);
}

/* ------------------------------------------------------------------------- */
/* A fake Engine or Monitor */

struct _EvcpTestPeer
{
  GSocketConnection *connection;
  GCancellable      *cancellable;
  EvcpFrameDecoder  *decoder;
  guint8             buffer[4096];
  GQueue             events;
  gboolean           auto_ack;
  gboolean           reading;
  gboolean           closed;
};

void
evcp_test_peer_event_free (EvcpTestPeerEvent *event)
{
  if (event == NULL)
    return;
  g_free (event->data);
  g_free (event);
}

static void peer_read_next (EvcpTestPeer *peer);

void
evcp_test_peer_send_raw (EvcpTestPeer *peer, gconstpointer bytes, gsize len)
{
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (peer->connection));
  g_autoptr(GError) error = NULL;

  /* a few bytes on loopback: writing cannot block */
  g_output_stream_write_all (out, bytes, len, NULL, NULL, &error);
  if (error != NULL)
    g_test_message ("fake peer: cannot write: %s", error->message);
}

static void
peer_read_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  EvcpTestPeer *peer = user_data;
  g_autoptr(GError) error = NULL;
  gssize n;
  const guint8 *p = peer->buffer;
  gsize len;
  EvcpFrameEvent event;

  peer->reading = FALSE;
  n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);
  if (n <= 0)
    {
      if (n == 0 || !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        peer->closed = TRUE;
      return;
    }
  len = (gsize) n;
  while (evcp_frame_decoder_next (peer->decoder, &p, &len, &event))
    {
      EvcpTestPeerEvent *copy = g_new0 (EvcpTestPeerEvent, 1);

      copy->type = event.type;
      copy->data = g_strdup (event.data);
      copy->time = g_get_monotonic_time ();
      g_queue_push_tail (&peer->events, copy);
      if (event.type == EVCP_FRAME_EVENT_FRAME && peer->auto_ack)
        {
          guint8 ack = EVCP_FRAME_ACK;

          evcp_test_peer_send_raw (peer, &ack, 1);
        }
    }
  peer_read_next (peer);
}

static void
peer_read_next (EvcpTestPeer *peer)
{
  GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (peer->connection));

  peer->reading = TRUE;
  g_input_stream_read_async (in, peer->buffer, sizeof peer->buffer, G_PRIORITY_DEFAULT,
                             peer->cancellable, peer_read_cb, peer);
}

EvcpTestPeer *
evcp_test_peer_connect (guint16 port)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GError) error = NULL;
  EvcpTestPeer *peer = g_new0 (EvcpTestPeer, 1);

  g_socket_client_set_enable_proxy (client, FALSE);
  peer->connection = g_socket_client_connect_to_host (client, "127.0.0.1", port, NULL, &error);
  g_assert_no_error (error);
  peer->cancellable = g_cancellable_new ();
  peer->decoder = evcp_frame_decoder_new ();
  peer->auto_ack = TRUE;
  peer_read_next (peer);
  return peer;
}

void
evcp_test_peer_set_auto_ack (EvcpTestPeer *peer, gboolean auto_ack)
{
  peer->auto_ack = auto_ack;
}

void
evcp_test_peer_send (EvcpTestPeer *peer, const gchar *data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) frame = evcp_frame_encode (data, -1, &error);

  g_assert_no_error (error);
  evcp_test_peer_send_raw (peer, g_bytes_get_data (frame, NULL), g_bytes_get_size (frame));
}

static gboolean
has_event (gpointer data)
{
  EvcpTestPeer *peer = data;

  return !g_queue_is_empty (&peer->events);
}

EvcpTestPeerEvent *
evcp_test_peer_next (EvcpTestPeer *peer, guint timeout_ms)
{
  evcp_test_wait_until (NULL, has_event, peer, timeout_ms);
  return g_queue_pop_head (&peer->events);
}

guint
evcp_test_peer_pending (EvcpTestPeer *peer)
{
  return g_queue_get_length (&peer->events);
}

static const gchar *
event_name (EvcpFrameEventType type)
{
  switch (type)
    {
    case EVCP_FRAME_EVENT_FRAME: return "FRAME";
    case EVCP_FRAME_EVENT_ACK: return "ACK";
    case EVCP_FRAME_EVENT_NACK: return "NACK";
    case EVCP_FRAME_EVENT_EOT: return "EOT";
    case EVCP_FRAME_EVENT_BAD: return "BAD";
    default: return "?";
    }
}

static EvcpTestPeerEvent *
expect (EvcpTestPeer *peer, EvcpFrameEventType type)
{
  EvcpTestPeerEvent *event = evcp_test_peer_next (peer, EVCP_TEST_CENTRAL_WAIT_MS);

  if (event == NULL)
    g_error ("expected %s, got nothing (connection %s)", event_name (type),
             peer->closed ? "closed" : "open");
  if (event->type != type)
    g_error ("expected %s, got %s %s", event_name (type), event_name (event->type),
             event->data != NULL ? event->data : "");
  return event;
}

void
evcp_test_peer_expect_ack (EvcpTestPeer *peer)
{
  evcp_test_peer_event_free (expect (peer, EVCP_FRAME_EVENT_ACK));
}

void
evcp_test_peer_expect_nack (EvcpTestPeer *peer)
{
  evcp_test_peer_event_free (expect (peer, EVCP_FRAME_EVENT_NACK));
}

void
evcp_test_peer_expect_eot (EvcpTestPeer *peer)
{
  evcp_test_peer_event_free (expect (peer, EVCP_FRAME_EVENT_EOT));
}

gchar *
evcp_test_peer_expect_frame (EvcpTestPeer *peer)
{
  EvcpTestPeerEvent *event = expect (peer, EVCP_FRAME_EVENT_FRAME);
  gchar *data = g_steal_pointer (&event->data);

  evcp_test_peer_event_free (event);
  return data;
}

void
evcp_test_peer_send_acked (EvcpTestPeer *peer, const gchar *data)
{
  evcp_test_peer_send (peer, data);
  evcp_test_peer_expect_ack (peer);
}

void
evcp_test_peer_auth (EvcpTestPeer *peer, const gchar *cp_id, const gchar *role)
{
  g_autofree gchar *auth = g_strdup_printf ("AUTH#%s#%s#Test bench#0.30", cp_id, role);
  g_autofree gchar *expected = g_strdup_printf ("AUTH_OK#%s", cp_id);
  g_autofree gchar *answer = NULL;

  evcp_test_peer_send_acked (peer, auth);
  answer = evcp_test_peer_expect_frame (peer);
  g_assert_cmpstr (answer, ==, expected);
}

gboolean
evcp_test_peer_is_closed (EvcpTestPeer *peer)
{
  return peer->closed;
}

static gboolean
peer_closed (gpointer data)
{
  return ((EvcpTestPeer *) data)->closed;
}

gboolean
evcp_test_peer_wait_closed (EvcpTestPeer *peer, guint timeout_ms)
{
  return evcp_test_wait_until (NULL, peer_closed, peer, timeout_ms);
}

static gboolean
peer_not_reading (gpointer data)
{
  return !((EvcpTestPeer *) data)->reading;
}

void
evcp_test_peer_free (EvcpTestPeer *peer)
{
  if (peer == NULL)
    return;
  g_cancellable_cancel (peer->cancellable);
  evcp_test_wait_until (NULL, peer_not_reading, peer, KILL_TIMEOUT_MS);
  g_io_stream_close (G_IO_STREAM (peer->connection), NULL, NULL);
  g_queue_clear_full (&peer->events, (GDestroyNotify) evcp_test_peer_event_free);
  g_clear_object (&peer->connection);
  g_clear_object (&peer->cancellable);
  evcp_frame_decoder_free (peer->decoder);
  g_free (peer);
}
