/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Monitor end to end, in process: EvcpMonitoringService against a fake
 * Engine and a fake Central written here (loopback TCP, the frame codec),
 * and librdkafka's mock cluster for the monitoring events. The fake Engine
 * answers OK, answers KO, stays silent, closes, sends bad frames, answers
 * late, or refuses (its port closed); the fake Central ACKs every frame and
 * can go away and come back, as can Kafka. Every wait has a deadline. */
#include "evcp-build-config.h"

#include <math.h>
#include <signal.h>
#include <string.h>

#include <gio/gnetworking.h>
#include <glib/gstdio.h>
#include <libsoup/soup.h>

#include "evcp-engine-metrics.h"
#include "evcp-frame-codec.h"
#include "evcp-engine-health-server.h"
#include "evcp-metrics-server.h"
#include "evcp-monitoring-service.h"
#include "evcp-prometheus.h"
#include "evcp-test-util.h"

#define CP "CP-M1"
#define TOPIC "monitoring_events"
#define INTERVAL_MS 100
#define WAIT_MS 20000

/* ========================================================================= */
/* A fake peer server: the fake Engine and the fake Central                  */
/* ========================================================================= */

typedef struct _FakeServer FakeServer;
typedef struct _Peer Peer;

typedef void (*FrameFunc) (FakeServer *server, Peer *peer, gchar **fields, const gchar *data);

struct _FakeServer
{
  GSocketService *service;
  guint16         port;
  GPtrArray      *peers;        /* Peer*, open connections */
  FrameFunc       on_frame;
  gpointer        user_data;
  guint           accepted;
  guint           acks;         /* ACK bytes received */
  guint           eots;         /* EOT bytes received */
  guint           bad;          /* bad frames received */
};

struct _Peer
{
  FakeServer        *server;    /* NULL once the server forgot it */
  GSocketConnection *connection;
  EvcpFrameDecoder  *decoder;
  GCancellable      *cancellable;
  gboolean           closed;
  guint8             buf[4096];
};

static void
peer_clear (Peer *peer)
{
  g_clear_object (&peer->connection);
  g_clear_pointer (&peer->decoder, evcp_frame_decoder_free);
  g_clear_object (&peer->cancellable);
}

static void
peer_release (Peer *peer)
{
  g_rc_box_release_full (peer, (GDestroyNotify) peer_clear);
}

static void
peer_close (Peer *peer)
{
  if (peer->closed)
    return;
  peer->closed = TRUE;
  g_cancellable_cancel (peer->cancellable);
  g_io_stream_close (G_IO_STREAM (peer->connection), NULL, NULL);
  if (peer->server != NULL)
    {
      g_ptr_array_remove (peer->server->peers, peer);
      peer->server = NULL;
    }
}

static void
peer_write (Peer *peer, const void *data, gsize len)
{
  GOutputStream *out;

  if (peer->closed)
    return;
  out = g_io_stream_get_output_stream (G_IO_STREAM (peer->connection));
  /* small writes on loopback: the blocking call returns at once */
  if (!g_output_stream_write_all (out, data, len, NULL, NULL, NULL))
    peer_close (peer);
}

static void
peer_send_byte (Peer *peer, guint8 byte)
{
  peer_write (peer, &byte, 1);
}

static void
peer_send_fields (Peer *peer, const gchar * const *fields)
{
  g_autoptr(GBytes) frame = evcp_frame_encode_fields (fields, NULL);

  g_assert_nonnull (frame);
  peer_write (peer, g_bytes_get_data (frame, NULL), g_bytes_get_size (frame));
}

static void peer_read (Peer *peer);

static void
on_peer_read (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Peer *peer = user_data;   /* the read's reference */
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), res, NULL);
  const guint8 *p = peer->buf;
  gsize len;
  EvcpFrameEvent event;

  if (n <= 0 || peer->closed)
    {
      peer_close (peer);
      peer_release (peer);
      return;
    }
  len = (gsize) n;
  while (!peer->closed && evcp_frame_decoder_next (peer->decoder, &p, &len, &event))
    {
      FakeServer *server = peer->server;

      if (server == NULL)
        break;
      switch (event.type)
        {
        case EVCP_FRAME_EVENT_ACK:
          server->acks++;
          break;
        case EVCP_FRAME_EVENT_EOT:
          server->eots++;
          break;
        case EVCP_FRAME_EVENT_BAD:
          server->bad++;
          peer_send_byte (peer, EVCP_FRAME_NACK);
          break;
        case EVCP_FRAME_EVENT_FRAME:
          {
            g_auto(GStrv) fields = evcp_frame_split_fields (event.data);

            server->on_frame (server, peer, fields, event.data);
          }
          break;
        default:
          break;
        }
    }
  if (peer->closed)
    {
      peer_release (peer);
      return;
    }
  peer_read (peer);
}

static void
peer_read (Peer *peer)
{
  GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (peer->connection));

  g_input_stream_read_async (in, peer->buf, sizeof peer->buf, G_PRIORITY_DEFAULT,
                             peer->cancellable, on_peer_read, peer);
}

static gboolean
on_incoming (GSocketService *service, GSocketConnection *connection, GObject *source, gpointer user_data)
{
  FakeServer *server = user_data;
  Peer *peer = g_rc_box_new0 (Peer);

  peer->server = server;
  peer->connection = g_object_ref (connection);
  peer->decoder = evcp_frame_decoder_new ();
  peer->cancellable = g_cancellable_new ();
  /* the ACK and the answer are two small writes: without this, Nagle holds
   * the answer until the Monitor's delayed TCP ACK (40 ms on Linux) */
  g_socket_set_option (g_socket_connection_get_socket (connection), IPPROTO_TCP, TCP_NODELAY, 1, NULL);
  server->accepted++;
  g_ptr_array_add (server->peers, g_rc_box_acquire (peer));
  peer_read (peer);   /* takes the first reference */
  return TRUE;
}

/* Listens on 127.0.0.1, on @port or a free one. */
static void
fake_server_listen (FakeServer *server, guint16 port)
{
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (lo, port);
  g_autoptr(GSocketAddress) effective = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_null (server->service);
  server->service = g_socket_service_new ();
  g_socket_listener_add_address (G_SOCKET_LISTENER (server->service), address, G_SOCKET_TYPE_STREAM,
                                 G_SOCKET_PROTOCOL_TCP, NULL, &effective, &error);
  g_assert_no_error (error);
  server->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective));
  g_signal_connect (server->service, "incoming", G_CALLBACK (on_incoming), server);
  g_socket_service_start (server->service);
}

/* The port closes and every connection with it: a dead process. */
static void
fake_server_stop (FakeServer *server)
{
  if (server->service != NULL)
    {
      g_socket_service_stop (server->service);
      g_socket_listener_close (G_SOCKET_LISTENER (server->service));
      g_clear_object (&server->service);
    }
  while (server->peers->len > 0)
    peer_close (server->peers->pdata[0]);
}

static FakeServer *
fake_server_new (FrameFunc on_frame, gpointer user_data)
{
  FakeServer *server = g_new0 (FakeServer, 1);

  server->peers = g_ptr_array_new_with_free_func ((GDestroyNotify) peer_release);
  server->on_frame = on_frame;
  server->user_data = user_data;
  fake_server_listen (server, 0);
  return server;
}

static void
fake_server_free (FakeServer *server)
{
  fake_server_stop (server);
  g_ptr_array_unref (server->peers);
  g_free (server);
}

/* ========================================================================= */
/* The fake Engine                                                           */
/* ========================================================================= */

typedef enum {
  ENGINE_OK,
  ENGINE_KO,
  ENGINE_SILENT,   /* reads, answers nothing, not even ACK */
  ENGINE_CLOSE,    /* closes the connection on HEALTH */
  ENGINE_BAD,      /* ACKs, then answers with a bad LRC */
  ENGINE_WARN,     /* OK with a warning: OK#<cp>#<warning> */
} EngineMode;

typedef struct {
  FakeServer *server;
  EngineMode  mode;
  gchar      *ko_reason;
  guint       delay_ms;    /* answer this late */
  guint       health;      /* HEALTH frames received */
  guint       delayed;     /* answers waiting for their delay */
} FakeEngine;

typedef struct {
  Peer       *peer;
  FakeEngine *engine;
  EngineMode  mode;
} Delayed;

static void
engine_answer (FakeEngine *engine, Peer *peer, EngineMode mode)
{
  switch (mode)
    {
    case ENGINE_OK:
      {
        const gchar *ok[] = { "OK", CP, NULL };

        peer_send_fields (peer, ok);
      }
      break;
    case ENGINE_WARN:
      {
        const gchar *ok[] = { "OK", CP, "3 dead letters cannot be written to dead_letters (Broker: Topic authorization failed)", NULL };

        peer_send_fields (peer, ok);
      }
      break;
    case ENGINE_KO:
      {
        const gchar *ko[] = { "KO", CP, engine->ko_reason, NULL };

        peer_send_fields (peer, ko);
      }
      break;
    case ENGINE_BAD:
      {
        /* OK#CP-M1 with its LRC off by one */
        g_autofree gchar *data = g_strdup ("OK#" CP);
        guint8 frame[64];
        gsize n = strlen (data);

        frame[0] = EVCP_FRAME_STX;
        memcpy (frame + 1, data, n);
        frame[n + 1] = EVCP_FRAME_ETX;
        frame[n + 2] = evcp_frame_compute_lrc ((const guint8 *) data, n) ^ 1;
        peer_write (peer, frame, n + 3);
      }
      break;
    case ENGINE_SILENT:
    case ENGINE_CLOSE:
    default:
      break;
    }
}

static gboolean
delayed_answer (gpointer user_data)
{
  Delayed *d = user_data;

  engine_answer (d->engine, d->peer, d->mode);
  d->engine->delayed--;
  peer_release (d->peer);
  g_free (d);
  return G_SOURCE_REMOVE;
}

static void
engine_on_frame (FakeServer *server, Peer *peer, gchar **fields, const gchar *data)
{
  FakeEngine *engine = server->user_data;

  if (g_strcmp0 (fields[0], "HEALTH") != 0)
    {
      peer_send_byte (peer, EVCP_FRAME_ACK);
      return;
    }
  engine->health++;
  g_assert_cmpstr (fields[1], ==, CP);
  switch (engine->mode)
    {
    case ENGINE_SILENT:
      return;
    case ENGINE_CLOSE:
      peer_close (peer);
      return;
    default:
      break;
    }
  peer_send_byte (peer, EVCP_FRAME_ACK);
  if (engine->delay_ms > 0)
    {
      Delayed *d = g_new0 (Delayed, 1);

      d->peer = g_rc_box_acquire (peer);
      d->engine = engine;
      d->mode = engine->mode;
      engine->delayed++;
      g_timeout_add (engine->delay_ms, delayed_answer, d);
      return;
    }
  engine_answer (engine, peer, engine->mode);
}

static FakeEngine *
fake_engine_new (void)
{
  FakeEngine *engine = g_new0 (FakeEngine, 1);

  engine->ko_reason = g_strdup ("pump failure");
  engine->server = fake_server_new (engine_on_frame, engine);
  return engine;
}

static void
fake_engine_free (FakeEngine *engine)
{
  fake_server_free (engine->server);
  g_free (engine->ko_reason);
  g_free (engine);
}

/* ========================================================================= */
/* The fake Central                                                          */
/* ========================================================================= */

typedef struct {
  FakeServer *server;
  GPtrArray  *frames;     /* DATA of every frame received, in order */
} FakeCentral;

static void
central_on_frame (FakeServer *server, Peer *peer, gchar **fields, const gchar *data)
{
  FakeCentral *central = server->user_data;

  peer_send_byte (peer, EVCP_FRAME_ACK);
  g_ptr_array_add (central->frames, g_strdup (data));
  if (g_strcmp0 (fields[0], "AUTH") == 0)
    {
      const gchar *ok[] = { "AUTH_OK", fields[1], NULL };

      peer_send_fields (peer, ok);
    }
  else if (g_strcmp0 (fields[0], "PING") == 0)
    {
      const gchar *pong[] = { "PONG", fields[1], NULL };

      peer_send_fields (peer, pong);
    }
}

static FakeCentral *
fake_central_new (void)
{
  FakeCentral *central = g_new0 (FakeCentral, 1);

  central->frames = g_ptr_array_new_with_free_func (g_free);
  central->server = fake_server_new (central_on_frame, central);
  return central;
}

static void
fake_central_free (FakeCentral *central)
{
  fake_server_free (central->server);
  g_ptr_array_unref (central->frames);
  g_free (central);
}

/* The frames of @verb, in order (their DATA). */
static GPtrArray *
central_frames (FakeCentral *central, const gchar *verb)
{
  GPtrArray *out = g_ptr_array_new ();
  g_autofree gchar *prefix = g_strconcat (verb, "#", NULL);

  for (guint i = 0; i < central->frames->len; i++)
    if (g_str_has_prefix (central->frames->pdata[i], prefix))
      g_ptr_array_add (out, central->frames->pdata[i]);
  return out;
}

/* FAULT and RECOVERED as Central saw them, without duplicates by seq. */
static GPtrArray *
central_status_frames (FakeCentral *central)
{
  GPtrArray *out = g_ptr_array_new ();
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);

  for (guint i = 0; i < central->frames->len; i++)
    {
      const gchar *data = central->frames->pdata[i];
      const gchar *seq = strrchr (data, '#');

      if ((g_str_has_prefix (data, "FAULT#") || g_str_has_prefix (data, "RECOVERED#")) &&
          !g_hash_table_contains (seen, seq))
        {
          g_hash_table_add (seen, (gpointer) seq);
          g_ptr_array_add (out, (gpointer) data);
        }
    }
  return out;
}

static guint64
frame_seq (const gchar *data)
{
  return g_ascii_strtoull (strrchr (data, '#') + 1, NULL, 10);
}

/* ========================================================================= */
/* The fixture                                                               */
/* ========================================================================= */

typedef struct {
  EvcpTestCluster       *cluster;
  FakeEngine            *engine;
  FakeCentral           *central;
  gchar                 *state_dir;
  EvcpConfig            *config;
  EvcpMonitoringService *service;
  GPtrArray             *changes;     /* EvcpMonitorStatus, from status-changed */
  GPtrArray             *alerts;      /* EvcpMonitorAlert */
  GPtrArray             *results;     /* EvcpHealthResult, from check-completed */
  GPtrArray             *sent_alerts; /* what the README's callback sent */
  gint64                 change_us;   /* monotonic time of the last status change */
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  f->cluster = evcp_test_cluster_new (1);
  g_assert_true (evcp_test_cluster_create_topic (f->cluster, TOPIC, 1, NULL));
  f->engine = fake_engine_new ();
  f->central = fake_central_new ();
  f->state_dir = g_dir_make_tmp ("evcp-monitor-XXXXXX", &error);
  g_assert_no_error (error);

  f->config = evcp_config_new ();
  g_free (f->config->cp_id);
  f->config->cp_id = g_strdup (CP);
  g_free (f->config->location);
  f->config->location = g_strdup ("Test Street 1");
  g_free (f->config->kafka_brokers);
  f->config->kafka_brokers = g_strdup (evcp_test_cluster_get_bootstraps (f->cluster));
  g_free (f->config->central_host);
  f->config->central_host = g_strdup ("127.0.0.1");
  f->config->central_port = f->central->server->port;
  g_free (f->config->engine_host);
  f->config->engine_host = g_strdup ("127.0.0.1");
  f->config->engine_port = f->engine->server->port;
  f->config->state_dir = g_strdup (f->state_dir);
  f->config->health_interval_ms = INTERVAL_MS;
  f->config->event_interval_s = 0;
  /* a quick producer on the mock cluster */
  g_hash_table_insert (f->config->rdkafka_producer, g_strdup ("linger.ms"), g_strdup ("0"));
  g_hash_table_insert (f->config->rdkafka_producer, g_strdup ("reconnect.backoff.max.ms"), g_strdup ("200"));

  f->changes = g_ptr_array_new_with_free_func ((GDestroyNotify) evcp_monitor_status_free);
  f->alerts = g_ptr_array_new_with_free_func ((GDestroyNotify) evcp_monitor_alert_free);
  f->results = g_ptr_array_new_with_free_func ((GDestroyNotify) evcp_health_result_free);
  f->sent_alerts = g_ptr_array_new_with_free_func (g_free);
}

static void
remove_tree (const gchar *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const gchar *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree gchar *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR))
        remove_tree (child);
      else
        g_unlink (child);
    }
  g_rmdir (path);
}

static gboolean
is_null (gpointer data)
{
  return *(gpointer *) data == NULL;
}

static void
stop_service (Fixture *f)
{
  gpointer weak;

  if (f->service == NULL)
    return;
  evcp_monitoring_service_stop (f->service);
  weak = f->service;
  g_object_add_weak_pointer (G_OBJECT (f->service), &weak);
  g_clear_object (&f->service);
  /* the check in flight holds a reference until its callback runs */
  g_assert_true (evcp_test_wait_until (NULL, is_null, &weak, WAIT_MS));
}

static gboolean
no_peers (gpointer data)
{
  Fixture *f = data;

  return f->engine->server->peers->len == 0 && f->central->server->peers->len == 0 &&
         f->engine->delayed == 0;
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  stop_service (f);
  fake_server_stop (f->engine->server);
  fake_server_stop (f->central->server);
  /* let the cancelled reads finish */
  g_assert_true (evcp_test_wait_until (NULL, no_peers, f, WAIT_MS));
  for (guint i = 0; i < 20; i++)
    g_main_context_iteration (NULL, FALSE);
  fake_engine_free (f->engine);
  fake_central_free (f->central);
  g_ptr_array_unref (f->changes);
  g_ptr_array_unref (f->alerts);
  g_ptr_array_unref (f->results);
  g_ptr_array_unref (f->sent_alerts);
  evcp_config_free (f->config);
  remove_tree (f->state_dir);
  g_free (f->state_dir);
  g_clear_pointer (&f->cluster, evcp_test_cluster_free);
}

/* The README's example, verbatim in spirit: a callback in C. */
static void
send_alert (Fixture *f, const gchar *text)
{
  g_ptr_array_add (f->sent_alerts, g_strdup (text));
}

static void
on_status_changed (EvcpMonitoringService   *service,
                   const EvcpMonitorStatus *status,
                   Fixture                 *f)
{
  if (status->status == EVCP_MONITOR_KO)
    {
      g_autofree gchar *text = g_strdup_printf ("CP %s is down!", status->id);

      send_alert (f, text);
    }
  g_ptr_array_add (f->changes, evcp_monitor_status_copy (status));
  f->change_us = g_get_monotonic_time ();
}

static void
on_alert (EvcpMonitoringService *service, const EvcpMonitorAlert *alert,
          const EvcpMonitorStatus *status, Fixture *f)
{
  g_ptr_array_add (f->alerts, evcp_monitor_alert_copy (alert));
}

static void
on_check (EvcpMonitoringService *service, const EvcpHealthResult *result, Fixture *f)
{
  g_ptr_array_add (f->results, evcp_health_result_copy (result));
}

static void
start_service (Fixture *f)
{
  g_autoptr(GError) error = NULL;

  f->service = evcp_monitoring_service_new (f->config);
  evcp_monitoring_service_set_test_timing (f->service, 100, 300, 50);
  g_signal_connect (f->service, "status-changed", G_CALLBACK (on_status_changed), f);
  g_signal_connect (f->service, "alert", G_CALLBACK (on_alert), f);
  g_signal_connect (f->service, "check-completed", G_CALLBACK (on_check), f);
  g_assert_true (evcp_monitoring_service_start (f->service, &error));
  g_assert_no_error (error);
}

typedef struct {
  Fixture          *f;
  EvcpMonitorState  state;
  guint             changes;
} StateWait;

static gboolean
state_reached (gpointer data)
{
  StateWait *w = data;

  return w->f->changes->len >= w->changes &&
         evcp_monitoring_service_get_state (w->f->service) == w->state;
}

/* Waits for the @n-th status change (counting from 1), and that it is @state. */
static const EvcpMonitorStatus *
wait_change (Fixture *f, guint n, EvcpMonitorState state)
{
  StateWait w = { f, state, n };
  const EvcpMonitorStatus *status;

  g_assert_true (evcp_test_wait_until (NULL, state_reached, &w, WAIT_MS));
  status = f->changes->pdata[n - 1];
  g_assert_cmpint (status->status, ==, state);
  return status;
}

static gboolean
central_has_verbs (gpointer data)
{
  gpointer *args = data;
  FakeCentral *central = args[0];
  const gchar *verb = args[1];
  guint n = GPOINTER_TO_UINT (args[2]);
  g_autoptr(GPtrArray) frames = central_frames (central, verb);

  return frames->len >= n;
}

static void
wait_central (FakeCentral *central, const gchar *verb, guint n)
{
  gpointer args[] = { central, (gpointer) verb, GUINT_TO_POINTER (n) };

  g_assert_true (evcp_test_wait_until (NULL, central_has_verbs, args, WAIT_MS));
}

static gboolean
status_frames_reached (gpointer data)
{
  gpointer *args = data;
  g_autoptr(GPtrArray) frames = central_status_frames (args[0]);

  return frames->len >= GPOINTER_TO_UINT (args[1]);
}

static void
wait_status_frames (FakeCentral *central, guint n)
{
  gpointer args[] = { central, GUINT_TO_POINTER (n) };

  g_assert_true (evcp_test_wait_until (NULL, status_frames_reached, args, WAIT_MS));
}

/* The monitoring events consumed so far, parsed; "data" of each. */
typedef struct {
  EvcpTestConsumer *consumer;
  GPtrArray        *events;   /* JsonNode of the whole value */
} Events;

static void
events_init (Events *e, Fixture *f)
{
  e->consumer = evcp_test_consumer_new (evcp_test_cluster_get_bootstraps (f->cluster), TOPIC);
  e->events = g_ptr_array_new_with_free_func ((GDestroyNotify) json_node_unref);
}

static void
events_clear (Events *e)
{
  g_clear_pointer (&e->consumer, evcp_test_consumer_free);
  g_clear_pointer (&e->events, g_ptr_array_unref);
}

static JsonObject *
event_data (Events *e, guint i)
{
  return json_object_get_object_member (json_node_get_object (e->events->pdata[i]), "data");
}

/* Events whose data.event is @what, from the ones consumed so far. */
static GPtrArray *
events_of (Events *e, const gchar *what)
{
  GPtrArray *out = g_ptr_array_new ();
  g_autoptr(GHashTable) seqs = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);

  for (guint i = 0; i < e->events->len; i++)
    {
      JsonObject *d = event_data (e, i);
      gint64 seq = json_object_get_int_member_with_default (d, "seq", -1);

      /* at least once: a copy of an event already seen (same seq) is dropped */
      if (g_strcmp0 (json_object_get_string_member (d, "event"), what) != 0 ||
          g_hash_table_contains (seqs, &seq))
        continue;
      g_hash_table_add (seqs, g_memdup2 (&seq, sizeof seq));
      g_ptr_array_add (out, d);
    }
  return out;
}

/* Consumes until @n events of kind @what arrived. */
static void
wait_events (Events *e, const gchar *what, guint n)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) WAIT_MS * 1000;

  for (;;)
    {
      g_autoptr(GPtrArray) matching = events_of (e, what);
      g_autoptr(GPtrArray) records = NULL;

      if (matching->len >= n)
        return;
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      records = evcp_test_consumer_wait_for (e->consumer, 1, 500);
      for (guint i = 0; i < records->len; i++)
        {
          EvcpTestRecord *record = records->pdata[i];
          g_autoptr(GError) error = NULL;
          JsonNode *node = evcp_test_record_parse_json (record, &error);

          g_assert_no_error (error);
          g_assert_cmpstr (record->key, ==, CP);
          g_assert_cmpstr (json_object_get_string_member (json_node_get_object (node), "kind"), ==,
                           "MONITORING_EVENT");
          g_ptr_array_add (e->events, node);
        }
    }
}

static guint
count_results (Fixture *f, EvcpHealthOutcome outcome)
{
  guint n = 0;

  for (guint i = 0; i < f->results->len; i++)
    if (((EvcpHealthResult *) f->results->pdata[i])->outcome == outcome)
      n++;
  return n;
}

static gboolean
results_at_least (gpointer data)
{
  gpointer *args = data;
  Fixture *f = args[0];

  return f->results->len >= GPOINTER_TO_UINT (args[1]);
}

static void
wait_checks (Fixture *f, guint more)
{
  gpointer args[] = { f, GUINT_TO_POINTER (f->results->len + more) };

  g_assert_true (evcp_test_wait_until (NULL, results_at_least, args, WAIT_MS));
}

/* Changes the Engine's behaviour and returns when it did, to time detection. */
static gint64
engine_set_mode (Fixture *f, EngineMode mode)
{
  f->engine->mode = mode;
  return g_get_monotonic_time ();
}

/* Detection: the change was seen by the first check that started after
 * the Engine changed (@checks_before checks had completed; the one in
 * flight may have got the old answer): with checks on a fixed cadence of
 * one interval, that is within one interval. The wall-clock delay is
 * printed, and bounded with some slack for a loaded machine (more under
 * valgrind). */
static void
assert_detected (Fixture *f, const gchar *what, gint64 t0, guint checks_before,
                 const EvcpMonitorStatus *status, guint intervals)
{
  const gchar *preload = g_getenv ("LD_PRELOAD");
  gint64 slack_ms = preload != NULL && strstr (preload, "vgpreload") != NULL ? 2000 : 100;

  g_test_message ("%s: detected in %.1f ms (interval %d ms)", what,
                  (f->change_us - t0) / 1000.0, INTERVAL_MS);
  g_assert_cmpuint (status->checks, <=, checks_before + 2);
  g_assert_cmpint (f->change_us - t0, <=, ((gint64) intervals * INTERVAL_MS + slack_ms) * 1000);
}

/* ========================================================================= */
/* Tests                                                                     */
/* ========================================================================= */

/* OK: the first check decides, the event goes to Kafka, AUTH goes to
 * Central, no FAULT; the connection to the Engine is kept. */
static void
test_engine_ok (Fixture *f, gconstpointer data)
{
  Events e;
  const EvcpMonitorStatus *status;
  g_autoptr(GPtrArray) changes = NULL;
  g_autoptr(GPtrArray) auths = NULL;
  JsonObject *d;

  events_init (&e, f);
  start_service (f);
  status = wait_change (f, 1, EVCP_MONITOR_OK);
  g_assert_cmpstr (status->id, ==, CP);
  g_assert_cmpint (status->previous_status, ==, EVCP_MONITOR_UNKNOWN);
  g_assert_cmpstr (status->reason, ==, "");

  wait_events (&e, "STATUS_CHANGE", 1);
  changes = events_of (&e, "STATUS_CHANGE");
  d = changes->pdata[0];
  g_assert_cmpstr (json_object_get_string_member (d, "id"), ==, CP);
  g_assert_cmpstr (json_object_get_string_member (d, "status"), ==, "OK");
  g_assert_cmpstr (json_object_get_string_member (d, "previous_status"), ==, "UNKNOWN");
  g_assert_cmpstr (json_object_get_string_member (d, "reason"), ==, "");
  g_assert_cmpint (json_object_get_int_member (d, "consecutive_failures"), ==, 0);
  g_assert_true (json_object_has_member (d, "latency_ms"));
  g_assert_cmpfloat (json_object_get_double_member (d, "availability"), ==, 1.0);
  g_assert_true (json_object_has_member (d, "uptime_s"));
  g_assert_true (json_object_has_member (d, "seq"));
  g_assert_true (json_object_has_member (json_node_get_object (e.events->pdata[0]), "timestamp"));

  wait_central (f->central, "AUTH", 1);
  auths = central_frames (f->central, "AUTH");
  g_assert_cmpstr (auths->pdata[0], ==, "AUTH#" CP "#MONITOR#Test Street 1#0.30");

  /* ten more checks on one connection, every answer ACKed */
  wait_checks (f, 10);
  g_assert_cmpuint (count_results (f, EVCP_HEALTH_OUTCOME_OK), ==, f->results->len);
  g_assert_cmpuint (f->engine->server->accepted, ==, 1);
  g_assert_cmpuint (f->engine->server->acks, >=, f->results->len);
  g_assert_cmpuint (f->changes->len, ==, 1);
  {
    g_autoptr(GPtrArray) faults = central_frames (f->central, "FAULT");
    g_autoptr(GPtrArray) recovered = central_frames (f->central, "RECOVERED");

    g_assert_cmpuint (faults->len, ==, 0);
    g_assert_cmpuint (recovered->len, ==, 0);
  }
  events_clear (&e);
}

/* KO and back: the status, the reason, FAULT and RECOVERED with growing
 * seqs, the Kafka events, the C callback; detection within one interval. */
static void
test_engine_ko (Fixture *f, gconstpointer data)
{
  Events e;
  const EvcpMonitorStatus *status;
  g_autoptr(GPtrArray) frames = NULL;
  g_autoptr(GPtrArray) changes = NULL;
  gint64 t0;
  guint n0;

  events_init (&e, f);
  start_service (f);
  wait_change (f, 1, EVCP_MONITOR_OK);

  n0 = f->results->len;
  t0 = engine_set_mode (f, ENGINE_KO);
  status = wait_change (f, 2, EVCP_MONITOR_KO);
  assert_detected (f, "KO answer", t0, n0, status, 1);
  g_assert_cmpstr (status->reason, ==, "pump failure");
  g_assert_cmpint (status->previous_status, ==, EVCP_MONITOR_OK);
  g_assert_cmpuint (status->consecutive_failures, ==, 1);
  g_assert_cmpuint (status->faults, ==, 1);
  g_assert_cmpuint (f->sent_alerts->len, ==, 1);
  g_assert_cmpstr (f->sent_alerts->pdata[0], ==, "CP " CP " is down!");

  n0 = f->results->len;
  t0 = engine_set_mode (f, ENGINE_OK);
  status = wait_change (f, 3, EVCP_MONITOR_OK);
  assert_detected (f, "recovery", t0, n0, status, 1);
  g_assert_cmpint (status->previous_status, ==, EVCP_MONITOR_KO);
  g_assert_cmpfloat (status->time_ko_s, >, 0);

  wait_status_frames (f->central, 2);
  frames = central_status_frames (f->central);
  g_assert_true (g_str_has_prefix (frames->pdata[0], "FAULT#" CP "#pump failure#"));
  g_assert_true (g_str_has_prefix (frames->pdata[1], "RECOVERED#" CP "#"));
  g_assert_cmpuint (frame_seq (frames->pdata[1]), >, frame_seq (frames->pdata[0]));

  wait_events (&e, "STATUS_CHANGE", 3);
  changes = events_of (&e, "STATUS_CHANGE");
  g_assert_cmpstr (json_object_get_string_member (changes->pdata[1], "status"), ==, "KO");
  g_assert_cmpstr (json_object_get_string_member (changes->pdata[1], "previous_status"), ==, "OK");
  g_assert_cmpstr (json_object_get_string_member (changes->pdata[1], "reason"), ==, "pump failure");
  g_assert_cmpint (json_object_get_int_member (changes->pdata[1], "consecutive_failures"), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (changes->pdata[2], "status"), ==, "OK");
  /* the same record on both outputs: the same seq */
  g_assert_cmpuint (json_object_get_int_member (changes->pdata[1], "seq"), ==, frame_seq (frames->pdata[0]));
  g_assert_cmpuint (json_object_get_int_member (changes->pdata[2], "seq"), ==, frame_seq (frames->pdata[1]));
  events_clear (&e);
}

typedef struct {
  EngineMode   mode;
  const gchar *reason;     /* what the status must say (prefix) */
  EvcpHealthOutcome outcome;
  guint        intervals;     /* detected within this many intervals */
} FailureCase;

static void
check_failure (Fixture *f, const FailureCase *c)
{
  const EvcpMonitorStatus *status;
  gint64 t0;
  guint n0;

  start_service (f);
  wait_change (f, 1, EVCP_MONITOR_OK);
  n0 = f->results->len;
  t0 = engine_set_mode (f, c->mode);
  status = wait_change (f, 2, EVCP_MONITOR_KO);
  assert_detected (f, c->reason, t0, n0, status, c->intervals);
  g_assert_true (g_str_has_prefix (status->reason, c->reason));
  g_assert_cmpuint (count_results (f, c->outcome), >=, 1);
  wait_status_frames (f->central, 1);
  {
    g_autoptr(GPtrArray) frames = central_status_frames (f->central);
    g_autofree gchar *prefix = g_strdup_printf ("FAULT#%s#%s", CP, c->reason);

    g_assert_true (g_str_has_prefix (frames->pdata[0], prefix));
  }
  /* and back */
  engine_set_mode (f, ENGINE_OK);
  wait_change (f, 3, EVCP_MONITOR_OK);
  wait_status_frames (f->central, 2);
}

static void
test_engine_silent (Fixture *f, gconstpointer data)
{
  /* a check waits one interval for its answer: up to two intervals */
  const FailureCase c = { ENGINE_SILENT, "no answer within 100 ms", EVCP_HEALTH_OUTCOME_TIMEOUT, 2 };

  check_failure (f, &c);
}

static void
test_engine_closes (Fixture *f, gconstpointer data)
{
  const FailureCase c = { ENGINE_CLOSE, "connection closed by the Engine", EVCP_HEALTH_OUTCOME_CLOSED, 1 };

  check_failure (f, &c);
  /* each closed connection was replaced by a new one */
  g_assert_cmpuint (f->engine->server->accepted, >=, 2);
}

static void
test_engine_bad_frame (Fixture *f, gconstpointer data)
{
  const FailureCase c = { ENGINE_BAD, "bad frame from the Engine (bad-lrc)", EVCP_HEALTH_OUTCOME_PROTOCOL, 1 };

  check_failure (f, &c);
}

/* The Engine's port closed (the process is gone), then open again. */
static void
test_engine_refused (Fixture *f, gconstpointer data)
{
  const EvcpMonitorStatus *status;
  guint16 port = f->engine->server->port;
  gint64 t0;
  guint n0;

  start_service (f);
  wait_change (f, 1, EVCP_MONITOR_OK);
  n0 = f->results->len;
  t0 = g_get_monotonic_time ();
  fake_server_stop (f->engine->server);
  status = wait_change (f, 2, EVCP_MONITOR_KO);
  assert_detected (f, "refused", t0, n0, status, 1);
  g_assert_cmpstr (status->reason, ==, "connection refused");
  g_assert_cmpuint (count_results (f, EVCP_HEALTH_OUTCOME_REFUSED), >=, 1);

  /* it keeps trying, and finds the Engine back on the same port */
  wait_checks (f, 3);
  g_assert_cmpint (evcp_monitoring_service_get_state (f->service), ==, EVCP_MONITOR_KO);
  n0 = f->results->len;
  t0 = g_get_monotonic_time ();
  fake_server_listen (f->engine->server, port);
  status = wait_change (f, 3, EVCP_MONITOR_OK);
  assert_detected (f, "back", t0, n0, status, 1);
  wait_status_frames (f->central, 2);
}

/* The Engine restarted between two checks: the kept connection is dead;
 * the check replaces it at once and no check fails. */
static void
test_engine_restart_between_checks (Fixture *f, gconstpointer data)
{
  guint16 port = f->engine->server->port;
  guint before;

  start_service (f);
  wait_change (f, 1, EVCP_MONITOR_OK);
  wait_checks (f, 2);
  before = f->results->len;
  /* while no check runs: right after one completed */
  fake_server_stop (f->engine->server);
  fake_server_listen (f->engine->server, port);
  wait_checks (f, 5);
  g_assert_cmpuint (count_results (f, EVCP_HEALTH_OUTCOME_OK), ==, f->results->len);
  g_assert_cmpuint (f->changes->len, ==, 1);
  g_assert_cmpuint (f->results->len, >, before);
  g_assert_true (((EvcpHealthResult *) f->results->pdata[before])->connected ||
                 ((EvcpHealthResult *) f->results->pdata[before + 1])->connected);
}

/* ko-after 3, ok-after 2: the status changes exactly at the 3rd failure
 * and the 2nd success in a row. */
static void
test_thresholds (Fixture *f, gconstpointer data)
{
  const EvcpMonitorStatus *status;
  guint first_failure, first_success;

  f->config->ko_after = 3;
  f->config->ok_after = 2;
  start_service (f);
  status = wait_change (f, 1, EVCP_MONITOR_OK);
  g_assert_cmpuint (status->checks, ==, 2);   /* UNKNOWN after the first good check */

  wait_checks (f, 1);
  engine_set_mode (f, ENGINE_KO);
  first_failure = f->results->len;
  status = wait_change (f, 2, EVCP_MONITOR_KO);
  g_assert_cmpuint (status->consecutive_failures, ==, 3);
  /* the 3rd failed check in a row made it (the mode may change during a check) */
  g_assert_cmpuint (status->checks - first_failure, <=, 4);
  g_assert_cmpuint (status->checks - first_failure, >=, 3);

  engine_set_mode (f, ENGINE_OK);
  first_success = f->results->len;
  status = wait_change (f, 3, EVCP_MONITOR_OK);
  g_assert_cmpuint (status->consecutive_successes, ==, 2);
  g_assert_cmpuint (status->checks - first_success, <=, 3);
  g_assert_cmpuint (status->checks - first_success, >=, 2);
  g_assert_cmpuint (status->faults, ==, 1);
}

/* A flapping Engine: the faults alert, once, on the signal and on Kafka.
 * Output plugins see the changes and the alert too. */
static void
test_alert_faults (Fixture *f, gconstpointer data)
{
  Events e;
  g_autoptr(GPtrArray) alerts = NULL;
  const gchar *plugin_dir = g_getenv ("EVCP_MONITOR_PLUGIN_DIR");
  GPtrArray *lines;
  JsonObject *alert;

  g_assert_nonnull (plugin_dir);
  f->config->plugin_dir = g_strdup (plugin_dir);
  f->config->alert_faults = 2;
  f->config->alert_faults_window_s = 60;
  events_init (&e, f);
  start_service (f);
  g_assert_cmpuint (g_strv_length ((GStrv) evcp_monitoring_service_get_plugins (f->service)), ==, 1);
  wait_change (f, 1, EVCP_MONITOR_OK);
  engine_set_mode (f, ENGINE_KO);
  wait_change (f, 2, EVCP_MONITOR_KO);
  g_assert_cmpuint (f->alerts->len, ==, 0);
  engine_set_mode (f, ENGINE_OK);
  wait_change (f, 3, EVCP_MONITOR_OK);
  engine_set_mode (f, ENGINE_KO);
  wait_change (f, 4, EVCP_MONITOR_KO);
  g_assert_cmpuint (f->alerts->len, ==, 1);
  g_assert_cmpint (((EvcpMonitorAlert *) f->alerts->pdata[0])->kind, ==, EVCP_MONITOR_ALERT_FAULTS);
  g_assert_true (((EvcpMonitorAlert *) f->alerts->pdata[0])->firing);

  wait_events (&e, "ALERT", 1);
  alerts = events_of (&e, "ALERT");
  alert = json_object_get_object_member (alerts->pdata[0], "alert");
  g_assert_cmpstr (json_object_get_string_member (alert, "kind"), ==, "FAULTS");
  g_assert_cmpstr (json_object_get_string_member (alert, "state"), ==, "FIRING");
  g_assert_cmpfloat (json_object_get_double_member (alert, "value"), ==, 2);
  g_assert_cmpfloat (json_object_get_double_member (alert, "threshold"), ==, 2);
  g_assert_cmpstr (json_object_get_string_member (alerts->pdata[0], "status"), ==, "KO");
  g_assert_true (json_object_has_member (alerts->pdata[0], "seq"));

  /* more flapping: no second alert while it fires */
  engine_set_mode (f, ENGINE_OK);
  wait_change (f, 5, EVCP_MONITOR_OK);
  engine_set_mode (f, ENGINE_KO);
  wait_change (f, 6, EVCP_MONITOR_KO);
  g_assert_cmpuint (f->alerts->len, ==, 1);

  /* the plugin saw the changes and the alert */
  lines = g_object_get_data (G_OBJECT (f->service), "evcp-monitor-recorder");
  g_assert_nonnull (lines);
  g_assert_cmpuint (lines->len, ==, 7);
  g_assert_cmpstr (lines->pdata[0], ==, "CP " CP " is OK");
  g_assert_cmpstr (lines->pdata[1], ==, "CP " CP " is down! (pump failure)");
  g_assert_cmpstr (lines->pdata[2], ==, "CP " CP " is OK");
  g_assert_cmpstr (lines->pdata[3], ==, "CP " CP " is down! (pump failure)");
  g_assert_cmpstr (lines->pdata[4], ==, "ALERT FAULTS FIRING");
  events_clear (&e);
}

/* An Engine that serves but warns (its dead letters cannot be written):
 * still OK, no FAULT, an ENGINE alert with its words, resolved when the
 * warning goes. Always on: no threshold to set. */
static void
test_alert_engine_warning (Fixture *f, gconstpointer data)
{
  Events e;
  g_autoptr(GPtrArray) alerts = NULL;
  const EvcpMonitorAlert *a;
  JsonObject *alert;

  events_init (&e, f);
  start_service (f);
  wait_change (f, 1, EVCP_MONITOR_OK);
  engine_set_mode (f, ENGINE_WARN);
  wait_events (&e, "ALERT", 1);
  a = f->alerts->pdata[0];
  g_assert_cmpint (a->kind, ==, EVCP_MONITOR_ALERT_ENGINE);
  g_assert_true (a->firing);
  g_assert_nonnull (strstr (a->message, "dead letters cannot be written"));
  g_assert_cmpint (evcp_monitoring_service_get_state (f->service), ==, EVCP_MONITOR_OK);
  alerts = events_of (&e, "ALERT");
  alert = json_object_get_object_member (alerts->pdata[0], "alert");
  g_assert_cmpstr (json_object_get_string_member (alert, "kind"), ==, "ENGINE");
  g_assert_cmpstr (json_object_get_string_member (alert, "state"), ==, "FIRING");
  g_assert_cmpstr (json_object_get_string_member (alerts->pdata[0], "status"), ==, "OK");

  /* the same warning again: no second alert; then none: resolved */
  wait_checks (f, 2);
  g_assert_cmpuint (f->alerts->len, ==, 1);
  engine_set_mode (f, ENGINE_OK);
  wait_events (&e, "ALERT", 2);
  a = f->alerts->pdata[1];
  g_assert_cmpint (a->kind, ==, EVCP_MONITOR_ALERT_ENGINE);
  g_assert_false (a->firing);
  /* never a status change */
  g_assert_cmpint (evcp_monitoring_service_get_state (f->service), ==, EVCP_MONITOR_OK);
  events_clear (&e);
}

/* A slow but healthy Engine: the latency alert, and its resolution; the
 * availability alert when it stops answering. Intervals long enough that
 * the test's own pauses (fsync of the outbox) stay far under the bounds. */
static void
test_alert_latency_availability (Fixture *f, gconstpointer data)
{
  Events e;
  g_autoptr(GPtrArray) alerts = NULL;
  const EvcpMonitorAlert *a;

  f->config->health_interval_ms = 500;
  f->config->alert_latency_ms = 150;
  f->config->alert_availability = 0.5;
  f->config->availability_window_s = 2;
  events_init (&e, f);
  start_service (f);
  wait_change (f, 1, EVCP_MONITOR_OK);
  wait_checks (f, 1);
  g_assert_cmpuint (f->alerts->len, ==, 0);

  f->engine->delay_ms = 250;
  wait_events (&e, "ALERT", 1);
  a = f->alerts->pdata[0];
  g_assert_cmpint (a->kind, ==, EVCP_MONITOR_ALERT_LATENCY);
  g_assert_true (a->firing);
  g_assert_cmpfloat (a->value, >=, 250);
  g_assert_cmpfloat (a->threshold, ==, 150);
  g_assert_cmpint (evcp_monitoring_service_get_state (f->service), ==, EVCP_MONITOR_OK);

  /* fast again: once the slow checks left the 2 s window, resolved */
  f->engine->delay_ms = 0;
  wait_events (&e, "ALERT", 2);
  a = f->alerts->pdata[1];
  g_assert_cmpint (a->kind, ==, EVCP_MONITOR_ALERT_LATENCY);
  g_assert_false (a->firing);

  /* silent: availability over the window falls under 0.5 */
  engine_set_mode (f, ENGINE_SILENT);
  wait_events (&e, "ALERT", 3);
  a = f->alerts->pdata[2];
  g_assert_cmpint (a->kind, ==, EVCP_MONITOR_ALERT_AVAILABILITY);
  g_assert_true (a->firing);
  g_assert_cmpfloat (a->value, <, 0.5);
  alerts = events_of (&e, "ALERT");
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (alerts->pdata[2], "alert"),
                                                  "kind"), ==, "AVAILABILITY");
  events_clear (&e);
}

/* Central away while the Engine flaps: every FAULT and RECOVERED reaches it
 * once it is back, in order, with growing seqs; Kafka and the callbacks
 * were not held back meanwhile. */
static void
test_central_away (Fixture *f, gconstpointer data)
{
  Events e;
  g_autoptr(GPtrArray) frames = NULL;
  guint16 port = f->central->server->port;

  events_init (&e, f);
  start_service (f);
  wait_change (f, 1, EVCP_MONITOR_OK);
  wait_central (f->central, "AUTH", 1);

  fake_server_stop (f->central->server);
  engine_set_mode (f, ENGINE_KO);
  wait_change (f, 2, EVCP_MONITOR_KO);
  engine_set_mode (f, ENGINE_OK);
  wait_change (f, 3, EVCP_MONITOR_OK);
  engine_set_mode (f, ENGINE_KO);
  wait_change (f, 4, EVCP_MONITOR_KO);
  /* Kafka got them while Central was away */
  wait_events (&e, "STATUS_CHANGE", 4);
  g_assert_cmpuint (evcp_outbox_get_length (evcp_monitoring_service_get_outbox (f->service),
                                            EVCP_OUTBOX_CENTRAL), ==, 3);
  {
    g_autoptr(GPtrArray) none = central_status_frames (f->central);

    g_assert_cmpuint (none->len, ==, 0);
  }

  fake_server_listen (f->central->server, port);
  wait_status_frames (f->central, 3);
  frames = central_status_frames (f->central);
  g_assert_true (g_str_has_prefix (frames->pdata[0], "FAULT#" CP "#pump failure#"));
  g_assert_true (g_str_has_prefix (frames->pdata[1], "RECOVERED#" CP "#"));
  g_assert_true (g_str_has_prefix (frames->pdata[2], "FAULT#" CP "#pump failure#"));
  g_assert_cmpuint (frame_seq (frames->pdata[1]), ==, frame_seq (frames->pdata[0]) + 1);
  g_assert_cmpuint (frame_seq (frames->pdata[2]), ==, frame_seq (frames->pdata[1]) + 1);
  g_assert_cmpuint (f->central->server->accepted, >=, 2);   /* AUTH again on the new link */
  events_clear (&e);
}

static gboolean
kafka_outbox_empty (gpointer data)
{
  Fixture *f = data;

  return evcp_outbox_get_length (evcp_monitoring_service_get_outbox (f->service), EVCP_OUTBOX_KAFKA) == 0;
}

/* Kafka away while the Engine flaps: every status change is produced once
 * it is back, in order, the late ones marked replayed; Central and the
 * callbacks were not held back meanwhile. */
static void
test_kafka_away (Fixture *f, gconstpointer data)
{
  Events e;
  g_autoptr(GPtrArray) changes = NULL;
  gint64 last_seq = -1;

  /* deliveries fail quickly while the broker is down, so that they are retried */
  g_hash_table_insert (f->config->rdkafka_producer, g_strdup ("message.timeout.ms"), g_strdup ("1000"));
  events_init (&e, f);
  start_service (f);
  wait_change (f, 1, EVCP_MONITOR_OK);
  wait_events (&e, "STATUS_CHANGE", 1);

  evcp_test_cluster_set_down (f->cluster, -1);
  engine_set_mode (f, ENGINE_KO);
  wait_change (f, 2, EVCP_MONITOR_KO);
  engine_set_mode (f, ENGINE_OK);
  wait_change (f, 3, EVCP_MONITOR_OK);
  engine_set_mode (f, ENGINE_KO);
  wait_change (f, 4, EVCP_MONITOR_KO);
  /* Central got them while Kafka was away */
  wait_status_frames (f->central, 3);
  /* long enough for the first delivery to time out */
  wait_checks (f, 15);
  g_assert_cmpuint (evcp_outbox_get_length (evcp_monitoring_service_get_outbox (f->service),
                                            EVCP_OUTBOX_KAFKA), ==, 3);

  evcp_test_cluster_set_up (f->cluster, -1);
  wait_events (&e, "STATUS_CHANGE", 4);
  g_assert_true (evcp_test_wait_until (NULL, kafka_outbox_empty, f, WAIT_MS));
  changes = events_of (&e, "STATUS_CHANGE");
  {
    const gchar *expected[] = { "OK", "KO", "OK", "KO" };

    for (guint i = 0; i < 4; i++)
      {
        JsonObject *d = changes->pdata[i];

        g_assert_cmpstr (json_object_get_string_member (d, "status"), ==, expected[i]);
        g_assert_cmpint (json_object_get_int_member (d, "seq"), >, last_seq);
        last_seq = json_object_get_int_member (d, "seq");
      }
  }
  /* the ones produced while the broker was down say they are late */
  for (guint i = 1; i < 4; i++)
    g_assert_true (json_object_get_boolean_member_with_default (changes->pdata[i], "replayed", FALSE));
  events_clear (&e);
}

/* The periodic event, with the status of the moment. */
static void
test_periodic (Fixture *f, gconstpointer data)
{
  Events e;
  g_autoptr(GPtrArray) periodic = NULL;
  JsonObject *d;

  f->config->event_interval_s = 1;
  events_init (&e, f);
  start_service (f);
  wait_events (&e, "PERIODIC", 2);
  periodic = events_of (&e, "PERIODIC");
  d = periodic->pdata[1];
  g_assert_cmpstr (json_object_get_string_member (d, "status"), ==, "OK");
  g_assert_cmpint (json_object_get_int_member (d, "checks"), >=, 15);
  g_assert_cmpfloat (json_object_get_double_member (d, "uptime_s"), >=, 1.5);
  g_assert_cmpint (json_object_get_int_member (d, "seq"), >,
                   json_object_get_int_member (periodic->pdata[0], "seq"));
  events_clear (&e);
}

/* A Monitor restarted while the Engine is KO does not report the FAULT a
 * second time; restarted when the Engine is OK again, it reports RECOVERED. */
static void
test_restart (Fixture *f, gconstpointer data)
{
  g_autoptr(GPtrArray) frames = NULL;

  start_service (f);
  wait_change (f, 1, EVCP_MONITOR_OK);
  engine_set_mode (f, ENGINE_KO);
  wait_change (f, 2, EVCP_MONITOR_KO);
  wait_status_frames (f->central, 1);
  stop_service (f);

  g_ptr_array_set_size (f->changes, 0);
  start_service (f);
  wait_change (f, 1, EVCP_MONITOR_KO);
  wait_checks (f, 3);
  stop_service (f);

  engine_set_mode (f, ENGINE_OK);
  g_ptr_array_set_size (f->changes, 0);
  start_service (f);
  wait_change (f, 1, EVCP_MONITOR_OK);
  wait_status_frames (f->central, 2);
  frames = central_status_frames (f->central);
  g_assert_cmpuint (frames->len, ==, 2);
  g_assert_true (g_str_has_prefix (frames->pdata[0], "FAULT#"));
  g_assert_true (g_str_has_prefix (frames->pdata[1], "RECOVERED#"));
  /* the seq survived the restarts */
  g_assert_cmpuint (frame_seq (frames->pdata[1]), >, frame_seq (frames->pdata[0]));
}

/* The Monitor against the Engine's real health server (EvcpHealthServer). */
typedef struct {
  gboolean healthy;
} Health;

static gboolean
health_func (gpointer user_data, gchar **reason)
{
  Health *h = user_data;

  if (!h->healthy)
    *reason = g_strdup ("simulated fault");
  return h->healthy;
}

static void
test_real_health_server (Fixture *f, gconstpointer data)
{
  Health h = { TRUE };
  g_autoptr(EvcpHealthServer) server = evcp_health_server_new (CP, health_func, &h, NULL);
  g_autoptr(GError) error = NULL;
  const EvcpMonitorStatus *status;

  g_assert_true (evcp_health_server_listen (server, "127.0.0.1", 0, &error));
  g_assert_no_error (error);
  f->config->engine_port = evcp_health_server_get_port (server);
  start_service (f);
  wait_change (f, 1, EVCP_MONITOR_OK);
  h.healthy = FALSE;
  status = wait_change (f, 2, EVCP_MONITOR_KO);
  g_assert_cmpstr (status->reason, ==, "simulated fault");
  h.healthy = TRUE;
  wait_change (f, 3, EVCP_MONITOR_OK);
  stop_service (f);
  evcp_health_server_stop (server);
}

/* ---- the metrics endpoints, scraped over HTTP ------------------------------- */

typedef struct {
  GBytes  *body;
  guint    status;
  gchar   *content_type;
  GError  *error;
  gboolean done;
} Scrape;

static void
on_scraped (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Scrape *s = user_data;
  SoupMessage *msg = soup_session_get_async_result_message (SOUP_SESSION (source), res);

  s->body = soup_session_send_and_read_finish (SOUP_SESSION (source), res, &s->error);
  s->status = soup_message_get_status (msg);
  s->content_type = g_strdup (soup_message_headers_get_content_type (
                                soup_message_get_response_headers (msg), NULL));
  s->done = TRUE;
}

static gboolean
scrape_done (gpointer data)
{
  return ((Scrape *) data)->done;
}

/* GET @url on the main context (the server runs on it too). */
static gchar *
scrape (const gchar *url, guint *status)
{
  g_autoptr(SoupSession) session = soup_session_new ();
  g_autoptr(SoupMessage) msg = soup_message_new ("GET", url);
  Scrape s = { 0 };
  gchar *text;

  soup_session_send_and_read_async (session, msg, G_PRIORITY_DEFAULT, NULL, on_scraped, &s);
  g_assert_true (evcp_test_wait_until (NULL, scrape_done, &s, WAIT_MS));
  g_assert_no_error (s.error);
  *status = s.status;
  if (s.status == SOUP_STATUS_OK)
    g_assert_cmpstr (s.content_type, ==, "text/plain");
  text = g_strndup (g_bytes_get_data (s.body, NULL), g_bytes_get_size (s.body));
  g_bytes_unref (s.body);
  g_free (s.content_type);
  return text;
}

/* The Prometheus client conventions' process_* series, of this process. */
static void
assert_process_metrics (GHashTable *samples)
{
  gdouble now = (gdouble) g_get_real_time () / G_USEC_PER_SEC;
  gdouble started = evcp_prometheus_lookup (samples, "process_start_time_seconds");

  g_assert_cmpfloat (started, >, now - 24 * 3600);
  g_assert_cmpfloat (started, <=, now + 1);
  g_assert_cmpfloat (evcp_prometheus_lookup (samples, "process_cpu_seconds_total"), >, 0);
  g_assert_cmpfloat (evcp_prometheus_lookup (samples, "process_resident_memory_bytes"), >, 1024 * 1024);
  g_assert_cmpfloat (evcp_prometheus_lookup (samples, "process_virtual_memory_bytes"), >=,
                     evcp_prometheus_lookup (samples, "process_resident_memory_bytes"));
  g_assert_cmpfloat (evcp_prometheus_lookup (samples, "process_open_fds"), >, 2);
}

static void
test_monitor_metrics_endpoint (Fixture *f, gconstpointer data)
{
  EvcpMetricsServer *server;
  g_autofree gchar *url = NULL;
  g_autofree gchar *text = NULL;
  g_autofree gchar *other = NULL;
  g_autofree gchar *other_url = NULL;
  g_autoptr(GHashTable) samples = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) metrics = NULL;
  guint status;
  gdouble checks;
  const gchar *s;

  f->config->monitor_metrics_address = g_strdup ("127.0.0.1:0");
  start_service (f);
  server = evcp_monitoring_service_get_metrics_server (f->service);
  g_assert_nonnull (server);
  url = evcp_metrics_server_get_url (server);
  g_assert_true (g_str_has_prefix (url, "http://127.0.0.1:"));
  wait_change (f, 1, EVCP_MONITOR_OK);
  engine_set_mode (f, ENGINE_KO);
  wait_change (f, 2, EVCP_MONITOR_KO);
  wait_checks (f, 1);

  text = scrape (url, &status);
  g_assert_cmpuint (status, ==, 200);
  samples = evcp_prometheus_parse (text, &error);
  g_assert_no_error (error);
  checks = evcp_prometheus_lookup (samples, "evcp_monitor_checks_total{cp_id=\"" CP "\"}");
  g_assert_cmpfloat (checks, >=, 3);
  g_assert_cmpfloat (evcp_prometheus_lookup (samples, "evcp_monitor_checks_failed_total{cp_id=\"" CP "\"}"), >=, 2);
  g_assert_cmpfloat (evcp_prometheus_lookup (samples, "evcp_monitor_up{cp_id=\"" CP "\"}"), ==, 0);
  g_assert_cmpfloat (evcp_prometheus_lookup (samples, "evcp_monitor_status{cp_id=\"" CP "\",status=\"KO\"}"), ==, 1);
  g_assert_cmpfloat (evcp_prometheus_lookup (samples, "evcp_monitor_faults_total{cp_id=\"" CP "\"}"), ==, 1);
  g_assert_cmpfloat (evcp_prometheus_lookup (samples, "evcp_monitor_consecutive_failures{cp_id=\"" CP "\"}"), >=, 2);
  /* the answered checks (OK or KO; a slow machine may miss a deadline) */
  g_assert_cmpfloat (evcp_prometheus_lookup (samples, "evcp_monitor_check_latency_seconds_count{cp_id=\"" CP "\"}"),
                     <=, checks);
  g_assert_cmpfloat (evcp_prometheus_lookup (samples, "evcp_monitor_check_latency_seconds_count{cp_id=\"" CP "\"}"),
                     >=, 2);
  g_assert_false (isnan (evcp_prometheus_lookup (samples, "evcp_monitor_check_latency_p99_seconds{cp_id=\"" CP "\"}")));
  g_assert_cmpfloat (evcp_prometheus_lookup (samples, "evcp_monitor_availability_ratio{cp_id=\"" CP "\"}"), <, 1);
  g_assert_cmpfloat (evcp_prometheus_lookup (samples, "evcp_monitor_uptime_seconds{cp_id=\"" CP "\"}"), >, 0);
  g_assert_cmpfloat (evcp_prometheus_lookup (samples, "evcp_monitor_ko_seconds_total{cp_id=\"" CP "\"}"), >, 0);
  g_assert_false (isnan (evcp_prometheus_lookup (samples, "evcp_monitor_central_connected{cp_id=\"" CP "\"}")));
  g_assert_false (isnan (evcp_prometheus_lookup (samples,
                           "evcp_monitor_outbox_pending{cp_id=\"" CP "\",destination=\"kafka\"}")));
  assert_process_metrics (samples);
  g_assert_cmpuint (evcp_metrics_server_get_scrapes (server), ==, 1);

  other_url = g_strdup_printf ("http://127.0.0.1:%u/other", evcp_metrics_server_get_port (server));
  other = scrape (other_url, &status);
  g_assert_cmpuint (status, ==, 404);

  /* the same, as a{sv}, for D-Bus and C callers */
  metrics = g_variant_ref_sink (evcp_monitoring_service_get_metrics (f->service));
  g_assert_true (g_variant_lookup (metrics, "status", "&s", &s));
  g_assert_cmpstr (s, ==, "KO");
  g_assert_true (g_variant_lookup (metrics, "engine", "&s", &s));
  g_assert_true (g_str_has_prefix (s, "127.0.0.1:"));
}

static gboolean
message_handled (gpointer data)
{
  EvcpKafkaService *kafka = data;
  g_autoptr(GVariant) m = g_variant_ref_sink (evcp_kafka_service_get_metrics (kafka));
  guint64 handled = 0;

  g_variant_lookup (m, "messages-handled", "t", &handled);
  return handled >= 1;
}

static gboolean
lag_caught_up (gpointer data)
{
  g_autoptr(GVariant) m = g_variant_ref_sink (evcp_kafka_service_get_metrics (data));
  gint64 lag = -1;

  g_variant_lookup (m, "consumer-lag", "x", &lag);
  return lag == 0;
}

/* The Engine's endpoint: an EvcpEngine in this process on the mock cluster. */
static void
test_engine_metrics_endpoint (Fixture *f, gconstpointer data)
{
  g_autoptr(EvcpConfig) config = evcp_config_copy (f->config);
  g_autoptr(EvcpEngine) engine = NULL;
  g_autoptr(EvcpMetricsServer) server = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GHashTable) samples = NULL;
  g_autofree gchar *url = NULL;
  g_autofree gchar *text = NULL;
  g_autofree gchar *group = g_strdup_printf ("test-%08x", g_random_int ());
  const gchar *bootstraps = evcp_test_cluster_get_bootstraps (f->cluster);
  const gchar *user = "{\"kind\":\"USER_INFO\",\"data\":{\"user_id\":\"u1\",\"name\":\"Ana\"}}";
  guint status;

  for (guint i = 0; config->kafka_topics[i] != NULL; i++)
    g_assert_true (evcp_test_cluster_create_topic (f->cluster, config->kafka_topics[i], 1, NULL));
  config->kafka_group_id = g_strdup (group);
  g_hash_table_insert (config->rdkafka, g_strdup ("statistics.interval.ms"), g_strdup ("100"));
  evcp_test_isolate_config (config);
  engine = evcp_engine_new (config);
  g_assert_true (evcp_engine_start (engine, &error));
  g_assert_no_error (error);
  server = evcp_metrics_server_new (evcp_engine_metrics_func, engine, NULL);
  g_assert_true (evcp_metrics_server_listen (server, "0", &error));   /* loopback, any port */
  g_assert_no_error (error);
  url = evcp_metrics_server_get_url (server);
  g_assert_true (g_str_has_prefix (url, "http://127.0.0.1:"));

  g_assert_true (evcp_test_produce (bootstraps, "user_messages", CP, user, -1, &error));
  g_assert_no_error (error);
  g_assert_true (evcp_test_wait_until (NULL, message_handled, evcp_engine_get_kafka_service (engine), WAIT_MS));
  /* statistics that saw the record processed: no lag */
  g_assert_true (evcp_test_wait_until (NULL, lag_caught_up, evcp_engine_get_kafka_service (engine), WAIT_MS));

  text = scrape (url, &status);
  g_assert_cmpuint (status, ==, 200);
  samples = evcp_prometheus_parse (text, &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (evcp_prometheus_lookup (samples, "evcp_engine_messages_received_total{cp_id=\"" CP "\"}"), ==, 1);
  g_assert_cmpfloat (evcp_prometheus_lookup (samples, "evcp_engine_messages_handled_total{cp_id=\"" CP "\"}"), ==, 1);
  g_assert_cmpfloat (evcp_prometheus_lookup (samples, "evcp_engine_dead_letters_total{cp_id=\"" CP "\"}"), ==, 0);
  g_assert_cmpfloat (evcp_prometheus_lookup (samples, "evcp_engine_events_dropped_total{cp_id=\"" CP "\"}"), ==, 0);
  g_assert_cmpfloat (evcp_prometheus_lookup (samples, "evcp_engine_kafka_connected{cp_id=\"" CP "\"}"), ==, 1);
  g_assert_cmpfloat (evcp_prometheus_lookup (samples,
                       "evcp_engine_kafka_state{cp_id=\"" CP "\",state=\"CONNECTED\"}"), ==, 1);
  g_assert_cmpfloat (evcp_prometheus_lookup (samples,
                       "evcp_engine_handler_messages_handled_total{cp_id=\"" CP "\",handler=\"user-info\"}"), ==, 1);
  g_assert_cmpfloat (evcp_prometheus_lookup (samples,
                       "evcp_engine_handler_messages_failed_total{cp_id=\"" CP "\",handler=\"user-info\"}"), ==, 0);
  g_assert_cmpfloat (evcp_prometheus_lookup (samples,
                       "evcp_engine_kind_messages_received_total{cp_id=\"" CP "\",kind=\"USER_INFO\"}"), ==, 1);
  g_assert_cmpfloat (evcp_prometheus_lookup (samples,
                       "evcp_engine_kind_messages_handled_total{cp_id=\"" CP "\",kind=\"USER_INFO\"}"), ==, 1);
  g_assert_cmpfloat (evcp_prometheus_lookup (samples, "evcp_engine_kafka_consumer_lag{cp_id=\"" CP "\"}"), ==, 0);
  assert_process_metrics (samples);
  /* brokers see the CP by name */
  {
    g_autofree gchar *json = evcp_kafka_service_get_statistics (evcp_engine_get_kafka_service (engine));
    g_autoptr(JsonParser) parser = json_parser_new ();

    g_assert_true (json_parser_load_from_data (parser, json, -1, NULL));
    g_assert_cmpstr (json_object_get_string_member (json_node_get_object (json_parser_get_root (parser)), "client_id"),
                     ==, CP);
  }
  evcp_metrics_server_stop (server);
  evcp_engine_stop (engine);
}

/* ---- the evcp-monitor program -------------------------------------------------- */

static gboolean
subprocess_done (gpointer data)
{
  return *(gboolean *) data;
}

static void
on_exited (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_subprocess_wait_finish (G_SUBPROCESS (source), res, NULL);
  *(gboolean *) user_data = TRUE;
}

/* With nothing but env vars, it checks, reports, keeps running with Kafka
 * away, and SIGTERM stops it cleanly (EOT to Central, exit 0). */
static void
test_program (Fixture *f, gconstpointer data)
{
  const gchar *exe = g_getenv ("EVCP_MONITOR");
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *engine_port = g_strdup_printf ("%u", f->engine->server->port);
  g_autofree gchar *central_port = g_strdup_printf ("%u", f->central->server->port);
  gboolean exited = FALSE;
  gint64 t0;

  g_assert_nonnull (exe);
  launcher = evcp_test_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_subprocess_launcher_setenv (launcher, "CP_ID", CP, TRUE);
  g_subprocess_launcher_setenv (launcher, "KAFKA_BROKERS", evcp_test_cluster_get_bootstraps (f->cluster), TRUE);
  g_subprocess_launcher_setenv (launcher, "ENGINE_HOST", "127.0.0.1", TRUE);
  g_subprocess_launcher_setenv (launcher, "ENGINE_PORT", engine_port, TRUE);
  g_subprocess_launcher_setenv (launcher, "CENTRAL_HOST", "127.0.0.1", TRUE);
  g_subprocess_launcher_setenv (launcher, "CENTRAL_PORT", central_port, TRUE);
  g_subprocess_launcher_unsetenv (launcher, "EVCP_CONFIG");
  proc = evcp_test_launcher_spawn (launcher, &error, exe, "--state-dir", f->state_dir, "--interval-ms", "100", NULL);
  g_assert_no_error (error);
  g_subprocess_wait_async (proc, NULL, on_exited, &exited);

  wait_central (f->central, "AUTH", 1);
  engine_set_mode (f, ENGINE_KO);
  wait_status_frames (f->central, 1);
  /* Kafka away: it keeps going */
  evcp_test_cluster_set_down (f->cluster, -1);
  engine_set_mode (f, ENGINE_OK);
  wait_status_frames (f->central, 2);
  g_assert_false (exited);

  t0 = g_get_monotonic_time ();
  g_subprocess_send_signal (proc, SIGTERM);
  g_assert_true (evcp_test_wait_until (NULL, subprocess_done, &exited, WAIT_MS));
  g_test_message ("evcp-monitor stopped %.0f ms after SIGTERM", (g_get_monotonic_time () - t0) / 1000.0);
  g_assert_true (g_subprocess_get_if_exited (proc));
  g_assert_cmpint (g_subprocess_get_exit_status (proc), ==, 0);
  g_assert_cmpuint (f->central->server->eots, >=, 1);
  evcp_test_cluster_set_up (f->cluster, -1);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  /* the Monitor warns when it sees failures: that is what is tested */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);

#define MONITOR_TEST(path, fn) g_test_add (path, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
  MONITOR_TEST ("/monitor/engine/ok", test_engine_ok);
  MONITOR_TEST ("/monitor/engine/ko", test_engine_ko);
  MONITOR_TEST ("/monitor/engine/silent", test_engine_silent);
  MONITOR_TEST ("/monitor/engine/closes", test_engine_closes);
  MONITOR_TEST ("/monitor/engine/bad-frame", test_engine_bad_frame);
  MONITOR_TEST ("/monitor/engine/refused", test_engine_refused);
  MONITOR_TEST ("/monitor/engine/restart-between-checks", test_engine_restart_between_checks);
  MONITOR_TEST ("/monitor/engine/real-health-server", test_real_health_server);
  MONITOR_TEST ("/monitor/thresholds", test_thresholds);
  MONITOR_TEST ("/monitor/alert/faults", test_alert_faults);
  MONITOR_TEST ("/monitor/alert/latency-availability", test_alert_latency_availability);
  MONITOR_TEST ("/monitor/alert/engine-warning", test_alert_engine_warning);
  MONITOR_TEST ("/monitor/central-away", test_central_away);
  MONITOR_TEST ("/monitor/kafka-away", test_kafka_away);
  MONITOR_TEST ("/monitor/periodic", test_periodic);
  MONITOR_TEST ("/monitor/restart", test_restart);
  MONITOR_TEST ("/monitor/metrics/monitor", test_monitor_metrics_endpoint);
  MONITOR_TEST ("/monitor/metrics/engine", test_engine_metrics_endpoint);
  MONITOR_TEST ("/monitor/program", test_program);
#undef MONITOR_TEST
  return g_test_run ();
}
