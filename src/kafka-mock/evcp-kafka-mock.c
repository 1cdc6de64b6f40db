/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* evcp-kafka-mock: librdkafka's mock cluster as a program, for tests and the demo.
 *
 * The cluster runs on loopback with random ports. Once it is up and the topics
 * exist, one line "BOOTSTRAP <address>" is printed on stdout. Commands are then
 * read from stdin, one per line, and each is answered with one line, "OK ..." or
 * "ERR <reason>" (see usage_commands below). With --listen, a TCP forwarder on a
 * fixed address gives clients a bootstrap address known in advance.
 */
#define G_LOG_DOMAIN "evcp-kafka-mock"

#include "evcp-build-config.h"

#include <errno.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gio/gio.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#ifdef G_OS_UNIX
#include <gio/gunixinputstream.h>
#else
#include <windows.h>
#include <gio/gwin32inputstream.h>
#endif

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "evcp-i18n.h"
#include "evcp-kafka-mock-cluster.h"
#include "evcp-platform.h"
#include "evcp-program.h"

#define MAX_BROKERS     64
#define MAX_PARTITIONS  10000
#define MAX_RTT_MS      600000
#define MAX_TOPIC_LEN   249
/* How long pending I/O may take to wind down once the loop has quit. */
#define DRAIN_TIMEOUT_US (2 * G_USEC_PER_SEC)

static const gchar *const default_topics[] = {
  "user_messages",
  "charging_requests",
  "system_notifications",
  "charging_sessions",
  "monitoring_events",
  "dead_letters",
};

static const gchar usage_commands[] =
  "down <id>|all        take brokers down (their connections are closed)\n"
  "  up <id>|all          bring brokers back up\n"
  "  rtt <id>|all <ms>    delay every response of the brokers by <ms>\n"
  "  create <topic> <n>   create a topic with <n> partitions\n"
  "  bootstrap            print the bootstrap address again\n"
  "  quit                 stop the cluster and exit";

typedef struct _Mock Mock;

/* One client connection accepted by the --listen forwarder. Reference counted:
 * the list in Mock and each pending asynchronous operation hold one. */
typedef struct
{
  Mock              *mock;        /* not owned; NULL once the forwarder is gone */
  GSocketConnection *client;
  GSocketConnection *broker;
  GCancellable      *cancellable;
  guint              broker_id;
} Forward;

struct _Mock
{
  GMainLoop               *loop;
  rd_kafka_t              *rk;       /* the dummy handle the cluster lives in */
  rd_kafka_mock_cluster_t *mcluster;
  guint                    n_brokers;
  gchar                  **broker_addrs; /* [id - 1] = "127.0.0.1:port" */
  gboolean                *broker_up;    /* [id - 1] */
  gint                     replication;
  gchar                   *bootstrap;    /* what clients should use */

  GSocketService          *service;      /* the --listen forwarder, or NULL */
  GSocketClient           *client;
  GPtrArray               *forwards;     /* of Forward*, owned */
  guint                    n_pending;    /* asynchronous operations in flight */

  GDataInputStream        *in;
  GCancellable            *cancellable;  /* stdin */
  gboolean                 quitting;
};

static Forward *
forward_ref (Forward *fwd)
{
  return g_rc_box_acquire (fwd);
}

static void
forward_clear (gpointer data)
{
  Forward *fwd = data;

  g_clear_object (&fwd->client);
  g_clear_object (&fwd->broker);
  g_clear_object (&fwd->cancellable);
}

static void
forward_unref (gpointer fwd)
{
  g_rc_box_release_full (fwd, forward_clear);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Forward, forward_unref)

/* ------------------------------------------------------------------------- */
/* Output: stdout is the protocol channel, everything else goes to stderr. */

static void G_GNUC_PRINTF (1, 2)
reply (const gchar *format, ...)
{
  va_list args;
  g_autofree gchar *line = NULL;

  va_start (args, format);
  line = g_strdup_vprintf (format, args);
  va_end (args);
  fputs (line, stdout);
  fputc ('\n', stdout);
  fflush (stdout);
}

static void
log_cb (const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
  /* syslog levels: 0..3 are errors. The dummy handle's own complaint about
   * having no bootstrap.servers is a notice and stays at debug level. */
  if (level <= 3)
    g_message ("librdkafka: %s: %s", fac, buf);
  else
    g_debug ("librdkafka: %s: %s", fac, buf);
}

/* librdkafka 2.0.2's mock thread can miss the wake-up of an operation that
 * follows another one at once (it drains its wake-up pipe after serving the
 * queue), and then serves it only after its 1 s poll timeout. A short pause
 * after each operation lets the thread drain first: without it, about one
 * start in eight took one or two seconds more. */
static void
mock_settle (void)
{
  g_usleep (1000);
}

/* ------------------------------------------------------------------------- */
/* Validation helpers */

static gboolean
parse_uint (const gchar *str, guint64 min, guint64 max, guint64 *out)
{
  return str != NULL && g_ascii_string_to_unsigned (str, 10, min, max, out, NULL);
}

static gboolean
topic_name_is_valid (const gchar *name)
{
  gsize len = strlen (name);

  if (len == 0 || len > MAX_TOPIC_LEN || g_str_equal (name, ".") || g_str_equal (name, ".."))
    return FALSE;
  for (const gchar *p = name; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && *p != '.' && *p != '_' && *p != '-')
      return FALSE;
  return TRUE;
}

/* ------------------------------------------------------------------------- */
/* The cluster */

static gboolean
mock_create_topic (Mock *mock, const gchar *name, guint partitions, GError **error)
{
  rd_kafka_resp_err_t err;

  if (!topic_name_is_valid (name))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   /* TRANSLATORS: %s is a Kafka topic name */
                   _("Invalid topic name “%s”"), name);
      return FALSE;
    }
  err = rd_kafka_mock_topic_create (mock->mcluster, name, (int) partitions, mock->replication);
  mock_settle ();
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
    {
      g_set_error (error, G_IO_ERROR,
                   err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS ? G_IO_ERROR_EXISTS : G_IO_ERROR_FAILED,
                   /* TRANSLATORS: %s is a Kafka topic name, then librdkafka's reason */
                   _("Cannot create topic “%s”: %s"), name, rd_kafka_err2str (err));
      return FALSE;
    }
  g_debug ("created topic %s with %u partitions", name, partitions);
  return TRUE;
}

static gboolean
mock_start_cluster (Mock *mock, guint n_brokers, gboolean verbose, GError **error)
{
  rd_kafka_conf_t *conf = rd_kafka_conf_new ();
  char errstr[512];
  g_auto(GStrv) addrs = NULL;

  rd_kafka_conf_set_log_cb (conf, log_cb);
  if (verbose &&
      rd_kafka_conf_set (conf, "debug", "mock", errstr, sizeof errstr) != RD_KAFKA_CONF_OK)
    g_debug ("cannot enable librdkafka mock debugging: %s", errstr);

  mock->rk = rd_kafka_new (RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (mock->rk == NULL)
    {
      rd_kafka_conf_destroy (conf);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   _("Cannot create a librdkafka handle: %s"), errstr);
      return FALSE;
    }
  mock->mcluster = evcp_kafka_mock_cluster_new (mock->rk, (int) n_brokers);
  if (mock->mcluster == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                           _("Cannot create the mock cluster"));
      return FALSE;
    }

  /* "127.0.0.1:p1,127.0.0.1:p2,…", in broker id order (ids start at 1). */
  addrs = g_strsplit (rd_kafka_mock_cluster_bootstraps (mock->mcluster), ",", -1);
  if (g_strv_length (addrs) != n_brokers)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   _("Unexpected mock cluster bootstrap list “%s”"),
                   rd_kafka_mock_cluster_bootstraps (mock->mcluster));
      return FALSE;
    }
  mock->n_brokers = n_brokers;
  mock->broker_addrs = g_steal_pointer (&addrs);
  mock->broker_up = g_new (gboolean, n_brokers);
  for (guint i = 0; i < n_brokers; i++)
    mock->broker_up[i] = TRUE;
  mock->replication = (gint) MIN (n_brokers, 3);
  return TRUE;
}

/* ------------------------------------------------------------------------- */
/* The --listen forwarder */

static void
mock_pending_done (Mock *mock)
{
  if (mock != NULL)
    {
      g_assert (mock->n_pending > 0);
      mock->n_pending--;
    }
}

static void
forward_drop (Forward *fwd)
{
  if (fwd->mock != NULL)
    {
      Mock *mock = fwd->mock;

      fwd->mock = NULL;
      g_ptr_array_remove (mock->forwards, fwd);  /* may release the list's reference */
    }
}

static void
forward_splice_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(Forward) fwd = user_data;
  g_autoptr(GError) error = NULL;

  mock_pending_done (fwd->mock);
  if (!g_io_stream_splice_finish (result, &error) &&
      !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_debug ("forwarded connection to broker %u ended: %s", fwd->broker_id, error->message);
  else
    g_debug ("forwarded connection to broker %u closed", fwd->broker_id);
  forward_drop (fwd);
}

static void
forward_connect_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(Forward) fwd = user_data;
  g_autoptr(GError) error = NULL;

  mock_pending_done (fwd->mock);
  fwd->broker = g_socket_client_connect_to_host_finish (G_SOCKET_CLIENT (source), result, &error);
  if (fwd->broker == NULL || fwd->mock == NULL)
    {
      if (error != NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_message (_("cannot reach mock broker %u: %s"), fwd->broker_id, error->message);
      g_io_stream_close (G_IO_STREAM (fwd->client), NULL, NULL);
      forward_drop (fwd);
      return;
    }

  fwd->mock->n_pending++;
  g_io_stream_splice_async (G_IO_STREAM (fwd->client), G_IO_STREAM (fwd->broker),
                            G_IO_STREAM_SPLICE_CLOSE_STREAM1 | G_IO_STREAM_SPLICE_CLOSE_STREAM2,
                            G_PRIORITY_DEFAULT, fwd->cancellable,
                            forward_splice_cb, forward_ref (fwd));
}

static gboolean
service_incoming_cb (GSocketService     *service,
                     GSocketConnection  *connection,
                     GObject            *source_object,
                     gpointer            user_data)
{
  Mock *mock = user_data;
  Forward *fwd;
  guint id = 0;

  /* The first broker that is up; none while the cluster is down, and the
   * client sees its connection closed, as it would with a broker down. */
  for (guint i = 0; i < mock->n_brokers && id == 0; i++)
    if (mock->broker_up[i])
      id = i + 1;
  if (id == 0 || mock->quitting)
    {
      g_debug ("refusing a forwarder connection: no broker is up");
      g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
      return TRUE;
    }

  fwd = g_rc_box_new0 (Forward);
  fwd->mock = mock;
  fwd->client = g_object_ref (connection);
  fwd->cancellable = g_cancellable_new ();
  fwd->broker_id = id;
  g_ptr_array_add (mock->forwards, fwd);

  g_debug ("forwarding a connection to broker %u (%s)", id, mock->broker_addrs[id - 1]);
  mock->n_pending++;
  g_socket_client_connect_to_host_async (mock->client, mock->broker_addrs[id - 1], 0,
                                         fwd->cancellable, forward_connect_cb, forward_ref (fwd));
  return TRUE;
}

/* Closes forwarded connections to broker @id (0 = all). */
static void
mock_cancel_forwards (Mock *mock, guint id)
{
  for (guint i = 0; i < mock->forwards->len; i++)
    {
      Forward *fwd = g_ptr_array_index (mock->forwards, i);

      if (id == 0 || fwd->broker_id == id)
        g_cancellable_cancel (fwd->cancellable);
    }
}

/* Parses HOST:PORT, [IPV6]:PORT, :PORT or PORT (host 127.0.0.1). */
static GInetSocketAddress *
resolve_listen_address (const gchar *spec, GError **error)
{
  g_autoptr(GSocketConnectable) connectable = NULL;
  g_autoptr(GInetAddress) inet = NULL;
  g_autofree gchar *full = NULL;
  const gchar *host;
  guint64 port;

  if (parse_uint (spec, 0, G_MAXUINT16, &port))
    full = g_strdup_printf ("127.0.0.1:%s", spec);
  else if (spec[0] == ':')
    full = g_strdup_printf ("127.0.0.1%s", spec);
  else
    full = g_strdup (spec);

  if (strrchr (full, ':') == NULL || strrchr (full, ':')[1] == '\0' ||
      (connectable = g_network_address_parse (full, 0, NULL)) == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   /* TRANSLATORS: %s is what the user gave to --listen */
                   _("Invalid listen address “%s”, expected HOST:PORT"), spec);
      return NULL;
    }
  host = g_network_address_get_hostname (G_NETWORK_ADDRESS (connectable));
  port = g_network_address_get_port (G_NETWORK_ADDRESS (connectable));

  inet = g_inet_address_new_from_string (host);
  if (inet == NULL)
    {
      g_autoptr(GResolver) resolver = g_resolver_get_default ();
      GList *addrs = g_resolver_lookup_by_name (resolver, host, NULL, error);

      if (addrs == NULL)
        return NULL;
      /* Prefer IPv4: that is where the mock brokers are. */
      for (GList *l = addrs; l != NULL && inet == NULL; l = l->next)
        if (g_inet_address_get_family (l->data) == G_SOCKET_FAMILY_IPV4)
          inet = g_object_ref (l->data);
      if (inet == NULL)
        inet = g_object_ref (addrs->data);
      g_resolver_free_addresses (addrs);
    }
  return G_INET_SOCKET_ADDRESS (g_inet_socket_address_new (inet, (guint16) port));
}

static gboolean
mock_start_forwarder (Mock *mock, const gchar *spec, GError **error)
{
  g_autoptr(GInetSocketAddress) addr = resolve_listen_address (spec, error);
  g_autoptr(GSocketAddress) effective = NULL;
  g_autofree gchar *host = NULL;
  guint16 port;

  if (addr == NULL)
    return FALSE;

  mock->service = g_socket_service_new ();
  if (!g_socket_listener_add_address (G_SOCKET_LISTENER (mock->service), G_SOCKET_ADDRESS (addr),
                                      G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                      NULL, &effective, error))
    {
      g_prefix_error (error, _("Cannot listen on %s: "), spec);
      return FALSE;
    }
  g_signal_connect (mock->service, "incoming", G_CALLBACK (service_incoming_cb), mock);
  mock->client = g_socket_client_new ();
  g_socket_client_set_timeout (mock->client, 10);
  /* The brokers are on loopback: never through a proxy (nor libproxy). */
  g_socket_client_set_enable_proxy (mock->client, FALSE);

  host = g_inet_address_to_string (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (effective)));
  port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective));
  if (strchr (host, ':') != NULL)
    mock->bootstrap = g_strdup_printf ("[%s]:%u", host, port);
  else
    mock->bootstrap = g_strdup_printf ("%s:%u", host, port);
  g_socket_service_start (mock->service);
  g_debug ("forwarding %s to the mock cluster", mock->bootstrap);
  return TRUE;
}

/* ------------------------------------------------------------------------- */
/* Commands */

/* Parses "<id>|all" into 1..n_brokers, or -1 for all. */
static gboolean
parse_broker (Mock *mock, const gchar *arg, gint32 *id)
{
  guint64 v;

  if (g_strcmp0 (arg, "all") == 0)
    {
      *id = -1;
      return TRUE;
    }
  if (!parse_uint (arg, 1, mock->n_brokers, &v))
    return FALSE;
  *id = (gint32) v;
  return TRUE;
}

static void
mock_set_broker_state (Mock *mock, gint32 id, gboolean up)
{
  for (guint i = 0; i < mock->n_brokers; i++)
    if (id == -1 || (guint) id == i + 1)
      mock->broker_up[i] = up;
  if (!up)
    mock_cancel_forwards (mock, id == -1 ? 0 : (guint) id);
}

static void
mock_command (Mock *mock, const gchar *line)
{
  g_auto(GStrv) argv = g_strsplit_set (line, " \t", -1);
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  const gchar *cmd;
  gint32 id = 0;
  rd_kafka_resp_err_t err;

  for (guint i = 0; argv[i] != NULL; i++)
    if (argv[i][0] != '\0')
      g_ptr_array_add (args, argv[i]);
  if (args->len == 0)
    return; /* blank lines are ignored, with no answer */
  g_ptr_array_add (args, NULL);
  cmd = g_ptr_array_index (args, 0);
  g_debug ("command: %s", line);

#define ARG(n) ((const gchar *) g_ptr_array_index (args, (n)))
#define NARGS (args->len - 2)

  if (g_str_equal (cmd, "down") || g_str_equal (cmd, "up"))
    {
      gboolean up = g_str_equal (cmd, "up");

      if (NARGS != 1 || !parse_broker (mock, ARG (1), &id))
        {
          reply ("ERR usage: %s <id>|all (broker ids are 1..%u)", cmd, mock->n_brokers);
          return;
        }
      err = up ? rd_kafka_mock_broker_set_up (mock->mcluster, id)
               : rd_kafka_mock_broker_set_down (mock->mcluster, id);
      mock_settle ();
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
        {
          reply ("ERR %s", rd_kafka_err2str (err));
          return;
        }
      mock_set_broker_state (mock, id, up);
      reply ("OK %s %s", cmd, ARG (1));
    }
  else if (g_str_equal (cmd, "rtt"))
    {
      guint64 ms;

      if (NARGS != 2 || !parse_broker (mock, ARG (1), &id) || !parse_uint (ARG (2), 0, MAX_RTT_MS, &ms))
        {
          reply ("ERR usage: rtt <id>|all <ms> (broker ids are 1..%u)", mock->n_brokers);
          return;
        }
      err = rd_kafka_mock_broker_set_rtt (mock->mcluster, id, (int) ms);
      mock_settle ();
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
        reply ("ERR %s", rd_kafka_err2str (err));
      else
        reply ("OK rtt %s %u", ARG (1), (guint) ms);
    }
  else if (g_str_equal (cmd, "create"))
    {
      g_autoptr(GError) error = NULL;
      guint64 n;

      if (NARGS != 2 || !parse_uint (ARG (2), 1, MAX_PARTITIONS, &n))
        {
          reply ("ERR usage: create <topic> <partitions> (1..%u)", MAX_PARTITIONS);
          return;
        }
      if (!mock_create_topic (mock, ARG (1), (guint) n, &error))
        reply ("ERR %s", error->message);
      else
        reply ("OK create %s %u", ARG (1), (guint) n);
    }
  else if (g_str_equal (cmd, "bootstrap") && NARGS == 0)
    {
      reply ("OK %s", mock->bootstrap);
    }
  else if (g_str_equal (cmd, "quit") && NARGS == 0)
    {
      reply ("OK quit");
      mock->quitting = TRUE;
      g_main_loop_quit (mock->loop);
    }
  else if (g_str_equal (cmd, "help") && NARGS == 0)
    {
      reply ("OK commands: down <id>|all, up <id>|all, rtt <id>|all <ms>, "
             "create <topic> <partitions>, bootstrap, help, quit");
    }
  else
    {
      reply ("ERR unknown command or wrong arguments: %s (try help)", cmd);
    }
#undef ARG
#undef NARGS
}

/* ------------------------------------------------------------------------- */
/* stdin */

static void mock_read_next (Mock *mock);

static void
read_line_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Mock *mock = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *line = NULL;
  gsize len = 0;

  mock_pending_done (mock);
  line = g_data_input_stream_read_line_finish (G_DATA_INPUT_STREAM (source), result, &len, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (line == NULL)
    {
      if (error != NULL)
        g_message (_("cannot read standard input: %s"), error->message);
      else
        g_debug ("end of standard input: quitting");
      mock->quitting = TRUE;
      g_main_loop_quit (mock->loop);
      return;
    }
  g_strchomp (line); /* "\r" from Windows or telnet-like clients */
  if (!g_utf8_validate (line, -1, NULL))
    reply ("ERR command is not UTF-8");
  else
    mock_command (mock, line);
  if (!mock->quitting)
    mock_read_next (mock);
}

static void
mock_read_next (Mock *mock)
{
  mock->n_pending++;
  g_data_input_stream_read_line_async (mock->in, G_PRIORITY_DEFAULT, mock->cancellable,
                                       read_line_cb, mock);
}

static GInputStream *
stdin_stream_new (void)
{
#ifdef G_OS_UNIX
  return g_unix_input_stream_new (0, FALSE);
#else
  return g_win32_input_stream_new (GetStdHandle (STD_INPUT_HANDLE), FALSE);
#endif
}

static gboolean
shutdown_cb (gpointer user_data)
{
  Mock *mock = user_data;

  g_debug ("asked to stop");
  mock->quitting = TRUE;
  g_main_loop_quit (mock->loop);
  return G_SOURCE_CONTINUE;
}

static gboolean
drain_tick_cb (gpointer user_data)
{
  return G_SOURCE_CONTINUE;
}

/* Cancels what is in flight and lets the callbacks run, so that everything is
 * released before the cluster goes away. */
static void
mock_stop_io (Mock *mock)
{
  gint64 deadline = g_get_monotonic_time () + DRAIN_TIMEOUT_US;
  g_autoptr(GSource) tick = g_timeout_source_new (10);

  mock->quitting = TRUE;
  if (mock->cancellable != NULL)
    g_cancellable_cancel (mock->cancellable);
  if (mock->service != NULL)
    {
      g_socket_service_stop (mock->service);
      g_socket_listener_close (G_SOCKET_LISTENER (mock->service));
      mock_cancel_forwards (mock, 0);
    }

  g_source_set_callback (tick, drain_tick_cb, NULL, NULL);
  g_source_attach (tick, NULL);
  while (mock->n_pending > 0 && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_source_destroy (tick);
  if (mock->n_pending > 0)
    g_debug ("%u operations still pending at exit", mock->n_pending);
}

static void
mock_free (Mock *mock)
{
  if (mock->forwards != NULL)
    {
      for (guint i = 0; i < mock->forwards->len; i++)
        ((Forward *) g_ptr_array_index (mock->forwards, i))->mock = NULL;
      g_ptr_array_unref (mock->forwards);
    }
  g_clear_object (&mock->service);
  g_clear_object (&mock->client);
  g_clear_object (&mock->in);
  g_clear_object (&mock->cancellable);
  if (mock->mcluster != NULL)
    rd_kafka_mock_cluster_destroy (mock->mcluster);
  if (mock->rk != NULL)
    rd_kafka_destroy (mock->rk);
  g_strfreev (mock->broker_addrs);
  g_free (mock->broker_up);
  g_free (mock->bootstrap);
  g_clear_pointer (&mock->loop, g_main_loop_unref);
  g_free (mock);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Mock, mock_free)

/* ------------------------------------------------------------------------- */

typedef struct
{
  gchar    *name;
  guint     partitions;
} TopicSpec;

static void
topic_spec_clear (gpointer data)
{
  TopicSpec *spec = data;

  g_clear_pointer (&spec->name, g_free);
}

static gboolean
parse_topic_spec (const gchar *spec, guint default_partitions, TopicSpec *out, GError **error)
{
  const gchar *colon = strrchr (spec, ':');
  guint64 n = default_partitions;
  g_autofree gchar *name = colon != NULL ? g_strndup (spec, colon - spec) : g_strdup (spec);

  if (colon != NULL && !parse_uint (colon + 1, 1, MAX_PARTITIONS, &n))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   /* TRANSLATORS: %s is what the user gave to --topic */
                   _("Invalid partition count in “%s”"), spec);
      return FALSE;
    }
  if (!topic_name_is_valid (name))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("Invalid topic name “%s”"), name);
      return FALSE;
    }
  out->name = g_steal_pointer (&name);
  out->partitions = (guint) n;
  return TRUE;
}

int
main (int argc, char **argv)
{
  gint brokers = 1;
  gint partitions = 4;
  g_auto(GStrv) topics = NULL;
  g_autofree gchar *listen = NULL;
  g_autofree gchar *bootstrap_file = NULL;
  gboolean verbose = FALSE;
  gboolean version = FALSE;
  gboolean no_stdin = FALSE;
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(Mock) mock = NULL;
  g_autoptr(GArray) specs = NULL;
  g_autofree gchar *summary = NULL;
  g_autofree gchar *description = NULL;
  const GOptionEntry entries[] = {
    { "brokers", 'b', 0, G_OPTION_ARG_INT, &brokers,
      /* TRANSLATORS: command-line option description */
      N_("Number of brokers (default 1)"), N_("N") },
    { "partitions", 'p', 0, G_OPTION_ARG_INT, &partitions, N_("Partitions of each topic that gives none (default 4)"),
      N_("N") },
    { "topic", 't', 0, G_OPTION_ARG_STRING_ARRAY, &topics, N_("Create a topic, repeatable; replaces the default list"),
      N_("NAME[:PARTITIONS]") },
    { "listen", 'l', 0, G_OPTION_ARG_STRING, &listen,
      N_("Offer this fixed bootstrap address, forwarded to the brokers (port 0: any free port)"), N_("HOST:PORT") },
    { "bootstrap-file", 'f', 0, G_OPTION_ARG_FILENAME, &bootstrap_file,
      N_("Also write the bootstrap address to this file (removed at exit)"), N_("PATH") },
    { "no-stdin", 0, 0, G_OPTION_ARG_NONE, &no_stdin,
      N_("Read no commands from standard input: run until SIGTERM or SIGINT"), NULL },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, N_("Show debugging messages on standard error"), NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, &version, N_("Show the version and exit"), NULL },
    G_OPTION_ENTRY_NULL
  };

  evcp_i18n_init ();
  /* stdout carries the protocol: every log message goes to stderr. */
  g_log_writer_default_set_use_stderr (TRUE);

  context = g_option_context_new (NULL);
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  summary = g_strdup_printf ("%s\n\n%s",
                             _("Run an in-process Kafka cluster (librdkafka's mock) on loopback, for tests and demos."),
                             _("Prints “BOOTSTRAP <address>” once the cluster and its topics are ready, then reads\n"
                               "commands from standard input, one per line, each answered with one line\n"
                               "“OK …” or “ERR <reason>”. End of input, SIGTERM and SIGINT stop it."));
  g_option_context_set_summary (context, summary);
  description = g_strdup_printf ("%s\n  %s\n\n%s %s, %s, %s, %s, %s, %s.\n",
                                 _("Commands:"), usage_commands,
                                 _("Default topics:"),
                                 default_topics[0], default_topics[1], default_topics[2],
                                 default_topics[3], default_topics[4], default_topics[5]);
  g_option_context_set_description (context, description);
  if (!evcp_program_parse (context, "evcp-kafka-mock", 0, &argc, &argv))
    return EVCP_EXIT_USAGE;
  if (version)
    {
      g_autofree gchar *text = evcp_program_version ("evcp-kafka-mock");

      g_print ("%s", text);
      return EXIT_SUCCESS;
    }
  if (!evcp_program_check_int ("evcp-kafka-mock", "--brokers", brokers, 1, MAX_BROKERS) ||
      !evcp_program_check_int ("evcp-kafka-mock", "--partitions", partitions, 1, MAX_PARTITIONS))
    return EVCP_EXIT_USAGE;
  /* Our debug messages (and librdkafka's, logged in our domain), not GLib's;
   * set before any thread starts. */
  if (verbose && g_getenv ("G_MESSAGES_DEBUG") == NULL)
    g_setenv ("G_MESSAGES_DEBUG", G_LOG_DOMAIN, TRUE);

  specs = g_array_new (FALSE, TRUE, sizeof (TopicSpec));
  g_array_set_clear_func (specs, topic_spec_clear);
  if (topics != NULL)
    {
      for (guint i = 0; topics[i] != NULL; i++)
        {
          TopicSpec spec = { NULL, 0 };

          if (!parse_topic_spec (topics[i], (guint) partitions, &spec, &error))
            return evcp_program_usage_error ("evcp-kafka-mock", error->message);
          g_array_append_val (specs, spec);
        }
    }
  else
    {
      for (guint i = 0; i < G_N_ELEMENTS (default_topics); i++)
        {
          TopicSpec spec = { g_strdup (default_topics[i]), (guint) partitions };

          g_array_append_val (specs, spec);
        }
    }

  mock = g_new0 (Mock, 1);
  mock->loop = g_main_loop_new (NULL, FALSE);
  mock->forwards = g_ptr_array_new_with_free_func (forward_unref);
  evcp_platform_watch_shutdown (shutdown_cb, mock);

  if (!mock_start_cluster (mock, (guint) brokers, verbose, &error))
    {
      g_printerr ("%s: %s\n", g_get_prgname (), error->message);
      return EXIT_FAILURE;
    }
  for (guint i = 0; i < specs->len; i++)
    {
      TopicSpec *spec = &g_array_index (specs, TopicSpec, i);

      if (!mock_create_topic (mock, spec->name, spec->partitions, &error))
        {
          g_printerr ("%s: %s\n", g_get_prgname (), error->message);
          return EXIT_FAILURE;
        }
    }

  if (listen != NULL)
    {
      if (!mock_start_forwarder (mock, listen, &error))
        {
          g_printerr ("%s: %s\n", g_get_prgname (), error->message);
          return EXIT_FAILURE;
        }
    }
  else
    {
      mock->bootstrap = g_strdup (rd_kafka_mock_cluster_bootstraps (mock->mcluster));
    }

  if (bootstrap_file != NULL)
    {
      g_autofree gchar *contents = g_strconcat (mock->bootstrap, "\n", NULL);

      if (!g_file_set_contents (bootstrap_file, contents, -1, &error))
        {
          g_printerr ("%s: %s\n", g_get_prgname (), error->message);
          return EXIT_FAILURE;
        }
    }

  g_debug ("%u broker(s) at %s, %u topic(s)", mock->n_brokers,
             rd_kafka_mock_cluster_bootstraps (mock->mcluster), specs->len);
  reply ("BOOTSTRAP %s", mock->bootstrap);

  if (!no_stdin)
    {
      g_autoptr(GInputStream) base = stdin_stream_new ();

      mock->in = g_data_input_stream_new (base);
      g_data_input_stream_set_newline_type (mock->in, G_DATA_STREAM_NEWLINE_TYPE_LF);
      mock->cancellable = g_cancellable_new ();
      mock_read_next (mock);
    }

  g_main_loop_run (mock->loop);

  g_debug ("stopping");
  mock_stop_io (mock);
  if (bootstrap_file != NULL && g_remove (bootstrap_file) != 0)
    g_debug ("cannot remove %s: %s", bootstrap_file, g_strerror (errno));
  return EXIT_SUCCESS;
}
