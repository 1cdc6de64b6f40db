/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Floods on every port (issue 21 item 4): 1,000 connections, slowloris (a
 * byte a period), and a flood of garbage or of ACK/NACK bytes, on Central's
 * port (evcp-central), the Engine's health port and the metrics port (the
 * same objects as in the Engine, hosted by evcp-test-flood-server). Each
 * attack runs against a real process on 127.0.0.1 while the Monitor's
 * health checker (EvcpHealthChecker) checks the health port every 200 ms
 * with the Monitor's default interval, 1000 ms, as its deadline. The test
 * prints the figures (RSS and fds of the attacked process, health-check
 * latency) and asserts: memory and fds stay bounded, every attacking
 * connection is dropped in time, every check is answered OK within the
 * interval, and a legitimate peer still gets served.
 *
 * By default the attacks are scaled down to keep the test short (smaller
 * timeouts in the servers, 2 MiB floods, a slow byte every 100 ms);
 * EVCP_FLOOD=full runs the full-size figures of docs/reliability.md (the
 * servers' default timeouts, 16 MiB floods, a byte a second). */
#include "evcp-build-config.h"

#include <stdlib.h>
#include <string.h>

#include <gio/gio.h>

#include "evcp-monitor-health-checker.h"
#include "evcp-test-central.h"
#include "evcp-test-util.h"

#define CP_FLOOD          "CP-FLOOD"
#define CHECK_EVERY_MS    200
#define CHECK_DEADLINE_MS 1000      /* the Monitor's default health interval */
#define SAMPLE_EVERY_MS   20
#define SEND_CHUNK        (64 * 1024)
#define SEND_PER_TICK     (1024 * 1024)
/* 1,000 connections in about a second: 50 every 50 ms, so that the queue of
 * connections not yet accepted (128) never overflows and the figures are the
 * server's, not TCP's SYN retransmissions. */
#define CONNECT_BATCH     50
#define CONNECT_EVERY_MS  50

typedef struct {
  gboolean full;
  guint    connections;
  gsize    flood_bytes;
  guint    slow_peers;
  guint    slow_period_ms;
  guint    central_auth_ms;     /* 0: evcp-central's defaults */
  guint    central_idle_ms;
  guint    health_first_ms;     /* 0: the health server's defaults */
  guint    health_idle_ms;
  guint    metrics_timeout_ms;  /* 0: the metrics server's default */
  /* the defaults themselves, for the deadlines of the test */
  guint    central_auth_eff, health_first_eff, metrics_timeout_eff;
} Scale;

static Scale scale;

typedef enum { TARGET_CENTRAL, TARGET_HEALTH, TARGET_METRICS } Target;
typedef enum { ATTACK_CONNECTIONS, ATTACK_SLOWLORIS, ATTACK_GARBAGE, ATTACK_ACKS } AttackKind;

static const gchar *const target_names[] = { "central", "health", "metrics" };
static const gchar *const attack_names[] = { "connections", "slowloris", "garbage", "acks" };

/* One attacking socket. */
typedef struct {
  GSocket *socket;
  gsize    sent;
  gboolean closed;      /* the server closed it (EOF or reset) */
  gint64   closed_at;   /* monotonic */
} Attacker;

typedef struct {
  gchar             *tmpdir;
  EvcpTestCentral   *central;
  GSubprocess       *host;          /* evcp-test-flood-server */
  guint16            central_port;
  guint16            health_port;
  guint16            metrics_port;

  /* the attacked process */
  gchar             *pid;
  gsize              rss_base_kib, rss_peak_kib;
  guint              fds_base, fds_peak;
  guint              sampler;

  /* the Monitor's checks */
  EvcpHealthChecker *checker;
  GCancellable      *cancellable;
  guint              check_timer;
  gboolean           checking;
  guint              checks, checks_ok;
  gdouble            latency_max_ms;
  gdouble            latency_sum_ms;
  gchar             *first_failure;
  guint              checks_wanted;

  /* the attack */
  Target             target;
  AttackKind         kind;
  GPtrArray         *attackers;     /* Attacker, owned */
  GRand             *rand;
  gint64             started_at;
  gint64             last_slow_byte;
  guint              slow_bytes;
  gint64             last_batch;
} Fixture;

/* ---- the attacked process: RSS and fds ----------------------------------- */

static gsize
proc_rss_kib (const gchar *pid)
{
  g_autofree gchar *path = g_strdup_printf ("/proc/%s/status", pid);
  g_autofree gchar *text = NULL;
  const gchar *line;

  if (!g_file_get_contents (path, &text, NULL, NULL) || (line = strstr (text, "VmRSS:")) == NULL)
    return 0;
  return (gsize) g_ascii_strtoull (line + strlen ("VmRSS:"), NULL, 10);
}

static guint
proc_fds (const gchar *pid)
{
  g_autofree gchar *path = g_strdup_printf ("/proc/%s/fd", pid);
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  guint n = 0;

  while (dir != NULL && g_dir_read_name (dir) != NULL)
    n++;
  return n;
}

static gboolean
sample_cb (gpointer data)
{
  Fixture *f = data;

  f->rss_peak_kib = MAX (f->rss_peak_kib, proc_rss_kib (f->pid));
  f->fds_peak = MAX (f->fds_peak, proc_fds (f->pid));
  return G_SOURCE_CONTINUE;
}

/* ---- the Monitor's health checks ------------------------------------------- */

static void start_check (Fixture *f);

static gboolean
check_timer_cb (gpointer data)
{
  Fixture *f = data;

  f->check_timer = 0;
  start_check (f);
  return G_SOURCE_REMOVE;
}

static void
check_done (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(EvcpHealthResult) r = evcp_health_checker_check_finish (EVCP_HEALTH_CHECKER (source), result, &error);
  Fixture *f = data;

  if (r == NULL)
    return;   /* cancelled: the fixture is going */
  f->checking = FALSE;
  f->checks++;
  f->latency_sum_ms += r->latency_ms;
  f->latency_max_ms = MAX (f->latency_max_ms, r->latency_ms);
  if (r->outcome == EVCP_HEALTH_OUTCOME_OK)
    f->checks_ok++;
  else if (f->first_failure == NULL)
    f->first_failure = g_strdup_printf ("%s (%s) after %.1f ms", evcp_health_outcome_to_string (r->outcome),
                                        r->reason != NULL ? r->reason : "", r->latency_ms);
  f->check_timer = g_timeout_add (CHECK_EVERY_MS, check_timer_cb, f);
}

static void
start_check (Fixture *f)
{
  f->checking = TRUE;
  evcp_health_checker_check_async (f->checker, CHECK_DEADLINE_MS, f->cancellable, check_done, f);
}

static void
reset_figures (Fixture *f)
{
  f->checks = f->checks_ok = 0;
  f->latency_max_ms = f->latency_sum_ms = 0;
  g_clear_pointer (&f->first_failure, g_free);
  f->rss_base_kib = f->rss_peak_kib = proc_rss_kib (f->pid);
  f->fds_base = f->fds_peak = proc_fds (f->pid);
}

/* ---- fixture ------------------------------------------------------------------ */

static gchar *
read_ports_line (GSubprocess *host)
{
  GInputStream *out = g_subprocess_get_stdout_pipe (host);
  g_autoptr(GDataInputStream) data = g_data_input_stream_new (out);
  g_autoptr(GError) error = NULL;
  gchar *line;

  /* blocking, once, before any attack: the host prints it at once */
  line = g_data_input_stream_read_line (data, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (line);
  return line;
}

static void
start_host (Fixture *f)
{
  const gchar *path = g_getenv ("EVCP_TEST_FLOOD_SERVER");
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE |
                                                                       G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autofree gchar *first = g_strdup_printf ("--first-timeout=%u", scale.health_first_ms);
  g_autofree gchar *idle = g_strdup_printf ("--idle-timeout=%u", scale.health_idle_ms);
  g_autofree gchar *metrics = g_strdup_printf ("--metrics-timeout=%u", scale.metrics_timeout_ms);
  gboolean defaults = scale.health_first_ms == 0;
  g_autofree gchar *log = g_build_filename (f->tmpdir, "host.log", NULL);
  g_autofree gchar *line = NULL;
  g_autoptr(GError) error = NULL;
  guint h = 0, m = 0;

  g_assert_nonnull (path);
  g_subprocess_launcher_set_stderr_file_path (launcher, log);
  /* at full size, the servers' defaults: no option at all */
  f->host = evcp_test_launcher_spawn (launcher, &error, path, defaults ? NULL : first, idle, metrics, NULL);
  g_assert_no_error (error);
  line = read_ports_line (f->host);
  g_assert_cmpint (sscanf (line, "PORTS %u %u", &h, &m), ==, 2);
  f->health_port = (guint16) h;
  f->metrics_port = (guint16) m;
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  guint code = GPOINTER_TO_UINT (data);
  g_autoptr(GError) error = NULL;
  g_autofree gchar *db = NULL;
  g_autofree gchar *auth = g_strdup_printf ("--auth-timeout=%u", scale.central_auth_ms);
  g_autofree gchar *idle = g_strdup_printf ("--idle-timeout=%u", scale.central_idle_ms);
  const gchar *args[] = { scale.central_auth_ms > 0 ? auth : NULL, idle, NULL };

  f->target = code / 10;
  f->kind = code % 10;
  f->tmpdir = g_dir_make_tmp ("evcp-test-flood-XXXXXX", &error);
  g_assert_no_error (error);
  db = g_build_filename (f->tmpdir, "central.db", NULL);
  start_host (f);
  if (f->target == TARGET_CENTRAL)
    {
      /* --verbose would log every one of thousands of dropped connections:
       * the log is not what is measured here */
      f->central = evcp_test_central_start (db, args);
      f->central_port = evcp_test_central_get_port (f->central);
      f->pid = g_strdup (g_subprocess_get_identifier (evcp_test_central_get_subprocess (f->central)));
    }
  else
    f->pid = g_strdup (g_subprocess_get_identifier (f->host));
  f->attackers = g_ptr_array_new ();
  f->rand = g_rand_new_with_seed (21);
  f->cancellable = g_cancellable_new ();
  f->checker = evcp_health_checker_new ("127.0.0.1", f->health_port, CP_FLOOD);
  reset_figures (f);
  f->sampler = g_timeout_add (SAMPLE_EVERY_MS, sample_cb, f);
  start_check (f);
}

static void
attacker_free (Attacker *a)
{
  g_socket_close (a->socket, NULL);
  g_object_unref (a->socket);
  g_free (a);
}

static gboolean
not_checking (gpointer data)
{
  return !((Fixture *) data)->checking;
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  g_clear_handle_id (&f->sampler, g_source_remove);
  g_clear_handle_id (&f->check_timer, g_source_remove);
  g_cancellable_cancel (f->cancellable);
  evcp_test_wait_until (NULL, not_checking, f, 2000);
  g_clear_object (&f->checker);
  g_clear_object (&f->cancellable);
  g_ptr_array_set_free_func (f->attackers, (GDestroyNotify) attacker_free);
  g_ptr_array_unref (f->attackers);
  g_rand_free (f->rand);
  g_clear_pointer (&f->central, evcp_test_central_free);
  if (f->host != NULL)
    {
      g_output_stream_close (g_subprocess_get_stdin_pipe (f->host), NULL, NULL);
      g_subprocess_wait_check (f->host, NULL, &error);
      g_assert_no_error (error);
      g_clear_object (&f->host);
    }
  if (g_test_failed ())
    g_test_message ("logs kept in %s", f->tmpdir);
  else
    evcp_test_remove_tree (f->tmpdir);
  g_free (f->tmpdir);
  g_free (f->pid);
  g_free (f->first_failure);
}

/* ---- the attackers ------------------------------------------------------------- */

static guint16
target_port (Fixture *f)
{
  switch (f->target)
    {
    case TARGET_CENTRAL: return f->central_port;
    case TARGET_HEALTH:  return f->health_port;
    case TARGET_METRICS: return f->metrics_port;
    }
  g_assert_not_reached ();
}

static Attacker *
attacker_connect (Fixture *f)
{
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, target_port (f));
  g_autoptr(GError) error = NULL;
  Attacker *a = g_new0 (Attacker, 1);

  a->socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  g_socket_set_blocking (a->socket, FALSE);
  if (!g_socket_connect (a->socket, address, NULL, &error) &&
      !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PENDING))
    g_error ("connect: %s", error->message);
  g_ptr_array_add (f->attackers, a);
  return a;
}

/* Reads (and drops) what the server sent; notes when it closed. */
static void
attacker_poll (Attacker *a)
{
  guint8 buf[4096];
  g_autoptr(GError) error = NULL;
  gssize n;

  if (a->closed)
    return;
  while ((n = g_socket_receive (a->socket, (gchar *) buf, sizeof buf, NULL, &error)) > 0)
    ;
  if (n == 0 || (n < 0 && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK) &&
                 !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED) &&
                 !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PENDING)))
    {
      a->closed = TRUE;
      a->closed_at = g_get_monotonic_time ();
    }
}

/* Sends up to @len bytes from @bytes; FALSE once the server closed. */
static gboolean
attacker_send (Attacker *a, const guint8 *bytes, gsize len)
{
  g_autoptr(GError) error = NULL;
  gssize n;

  if (a->closed)
    return FALSE;
  n = g_socket_send (a->socket, (const gchar *) bytes, len, NULL, &error);
  if (n > 0)
    {
      a->sent += (gsize) n;
      return TRUE;
    }
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK) ||
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PENDING) ||
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED))
    return TRUE;
  a->closed = TRUE;
  a->closed_at = g_get_monotonic_time ();
  return FALSE;
}

static guint
count_closed (Fixture *f)
{
  guint n = 0;

  for (guint i = 0; i < f->attackers->len; i++)
    {
      Attacker *a = g_ptr_array_index (f->attackers, i);

      attacker_poll (a);
      n += a->closed ? 1 : 0;
    }
  return n;
}

static gboolean
all_closed (gpointer data)
{
  Fixture *f = data;

  return count_closed (f) == f->attackers->len;
}

/* The slow peers: one byte each per period, of a frame or request that
 * never ends. */
static const gchar *
slow_prefix (Target target)
{
  switch (target)
    {
    case TARGET_CENTRAL: return "\002AUTH#CP-SLOW#ENGINE#";
    case TARGET_HEALTH:  return "\002HEALTH#";
    case TARGET_METRICS: return "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
    }
  g_assert_not_reached ();
}

static gboolean
slow_tick_and_all_closed (gpointer data)
{
  Fixture *f = data;
  gint64 now = g_get_monotonic_time ();

  if (now - f->last_slow_byte >= (gint64) scale.slow_period_ms * 1000)
    {
      const gchar *prefix = slow_prefix (f->target);
      guint8 byte = f->slow_bytes < strlen (prefix) ? (guint8) prefix[f->slow_bytes] : 'a';

      f->last_slow_byte = now;
      f->slow_bytes++;
      for (guint i = 0; i < f->attackers->len; i++)
        attacker_send (g_ptr_array_index (f->attackers, i), &byte, 1);
    }
  return all_closed (f);
}

/* The flood: as fast as the server takes it, never reading. */
static gboolean
flood_tick_and_closed (gpointer data)
{
  Fixture *f = data;
  Attacker *a = g_ptr_array_index (f->attackers, 0);
  guint8 chunk[SEND_CHUNK];
  gsize budget = SEND_PER_TICK;

  while (!a->closed && a->sent < scale.flood_bytes && budget > 0)
    {
      gsize len = MIN (sizeof chunk, scale.flood_bytes - a->sent);
      gsize before = a->sent;

      /* garbage without EOT: an EOT ends the conversation politely, and an
       * attacker wants the connection to last */
      for (gsize i = 0; i < len; i++)
        chunk[i] = f->kind == ATTACK_ACKS ? ((a->sent + i) % 2 == 0 ? 0x06 : 0x15)
                                          : (guint8) g_rand_int_range (f->rand, 5, 256);
      if (!attacker_send (a, chunk, len) || a->sent == before)
        break;  /* closed, or the socket is full for now */
      budget -= MIN (budget, a->sent - before);
    }
  attacker_poll (a);
  return a->closed;
}

/* ---- a legitimate peer during the attack ------------------------------------- */

static gboolean
legit_central (Fixture *f)
{
  g_autoptr(EvcpTestPeer) engine = evcp_test_peer_connect (f->central_port);

  evcp_test_peer_auth (engine, "CP-LEGIT", "ENGINE");
  evcp_test_peer_send_acked (engine, "STATE#CP-LEGIT#ACTIVE#1");
  return TRUE;
}

typedef struct {
  guint16  port;
  gboolean ok;
  gboolean done;
} Scrape;

static gpointer
scrape_thread (gpointer data)
{
  Scrape *s = data;
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketConnection) connection = NULL;
  g_autoptr(GError) error = NULL;
  const gchar request[] = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  gchar buf[4096];
  gsize got = 0;

  g_socket_client_set_timeout (client, 5);
  connection = g_socket_client_connect_to_host (client, "127.0.0.1", s->port, NULL, &error);
  if (connection != NULL &&
      g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (connection)), request,
                                 strlen (request), NULL, NULL, &error) &&
      g_input_stream_read_all (g_io_stream_get_input_stream (G_IO_STREAM (connection)), buf,
                               sizeof buf - 1, &got, NULL, &error))
    {
      buf[got] = '\0';
      s->ok = g_str_has_prefix (buf, "HTTP/1.1 200") && strstr (buf, "evcp_flood_up 1") != NULL;
    }
  g_atomic_int_set (&s->done, TRUE);
  return NULL;
}

static gboolean
scrape_done (gpointer data)
{
  return g_atomic_int_get (&((Scrape *) data)->done);
}

static gboolean
legit_metrics (Fixture *f)
{
  Scrape s = { f->metrics_port, FALSE, FALSE };
  g_autoptr(GThread) thread = g_thread_new ("scrape", scrape_thread, &s);

  /* the main loop goes on meanwhile: the checks, the samples */
  g_assert_true (evcp_test_wait_until (NULL, scrape_done, &s, 10000));
  g_thread_join (g_steal_pointer (&thread));
  return s.ok;
}

/* ---- the test ------------------------------------------------------------------ */

/* The longest a server may take to drop an attacking connection. */
static guint
drop_deadline_ms (Fixture *f)
{
  switch (f->target)
    {
    case TARGET_CENTRAL: return scale.central_auth_eff;
    case TARGET_HEALTH:  return scale.health_first_eff;
    case TARGET_METRICS: return scale.metrics_timeout_eff;
    }
  g_assert_not_reached ();
}

/* How many connections the attacked server may hold (docs/reliability.md). */
static guint
max_held (Fixture *f)
{
  switch (f->target)
    {
    case TARGET_CENTRAL: return 64;   /* without AUTH */
    case TARGET_HEALTH:  return 64;
    case TARGET_METRICS: return 16;
    }
  g_assert_not_reached ();
}

static gboolean
connect_tick_and_launched (gpointer data)
{
  Fixture *f = data;
  gint64 now = g_get_monotonic_time ();

  count_closed (f);
  if (f->attackers->len < scale.connections && now - f->last_batch >= CONNECT_EVERY_MS * 1000)
    {
      f->last_batch = now;
      for (guint i = 0; i < CONNECT_BATCH && f->attackers->len < scale.connections; i++)
        attacker_connect (f);
    }
  return f->attackers->len == scale.connections;
}

static void
launch (Fixture *f)
{
  switch (f->kind)
    {
    case ATTACK_CONNECTIONS:
      g_assert_true (evcp_test_wait_until (NULL, connect_tick_and_launched, f, 30000));
      break;
    case ATTACK_SLOWLORIS:
      for (guint i = 0; i < scale.slow_peers; i++)
        attacker_connect (f);
      break;
    case ATTACK_GARBAGE:
    case ATTACK_ACKS:
      attacker_connect (f);
      break;
    }
}

static gboolean
enough_checks (gpointer data)
{
  Fixture *f = data;

  return f->checks >= f->checks_wanted;
}

static void
test_flood (Fixture *f, gconstpointer data)
{
  guint deadline = drop_deadline_ms (f);
  guint wait_ms = deadline + 3000;
  gboolean legit = TRUE;
  gboolean done;
  gint64 elapsed_ms, last_close_ms = 0;
  gsize sent = 0;

  /* a first check, so that the Monitor's connection is there before */
  g_assert_true (evcp_test_wait_until (NULL, not_checking, f, 5000));
  reset_figures (f);
  f->started_at = g_get_monotonic_time ();
  launch (f);

  switch (f->kind)
    {
    case ATTACK_CONNECTIONS:
      /* while the attackers hold what they can, a legitimate peer */
      if (f->target == TARGET_CENTRAL)
        legit = legit_central (f);
      else if (f->target == TARGET_METRICS)
        legit = legit_metrics (f);
      done = evcp_test_wait_until (NULL, all_closed, f, wait_ms);
      break;
    case ATTACK_SLOWLORIS:
      done = evcp_test_wait_until (NULL, slow_tick_and_all_closed, f, wait_ms);
      break;
    case ATTACK_GARBAGE:
    case ATTACK_ACKS:
      done = evcp_test_wait_until (NULL, flood_tick_and_closed, f, wait_ms);
      if (f->target == TARGET_METRICS)
        legit = legit_metrics (f);
      break;
    default:
      g_assert_not_reached ();
    }
  elapsed_ms = (g_get_monotonic_time () - f->started_at) / 1000;
  for (guint i = 0; i < f->attackers->len; i++)
    {
      Attacker *a = g_ptr_array_index (f->attackers, i);

      sent += a->sent;
      if (a->closed)
        last_close_ms = MAX (last_close_ms, (a->closed_at - f->started_at) / 1000);
    }
  /* the checks go on for a moment after the attack: still answered */
  f->checks_wanted = f->checks + 2;
  g_assert_true (evcp_test_wait_until (NULL, enough_checks, f, 5000));

  g_test_message ("%s %s%s: %u attacking connections, %" G_GSIZE_FORMAT " bytes sent, "
                  "%u closed by the server, the last after %" G_GINT64_FORMAT " ms (attack %" G_GINT64_FORMAT " ms); "
                  "RSS %" G_GSIZE_FORMAT " KiB before, peak %" G_GSIZE_FORMAT " KiB (+%" G_GSIZE_FORMAT " KiB); "
                  "fds %u before, peak %u (+%u); health checks: %u, %u OK, latency max %.1f ms, mean %.1f ms; "
                  "legitimate peer %s",
                  target_names[f->target], attack_names[f->kind], scale.full ? " (full size)" : " (scaled)",
                  f->attackers->len, sent, count_closed (f), last_close_ms, elapsed_ms,
                  f->rss_base_kib, f->rss_peak_kib, f->rss_peak_kib - MIN (f->rss_peak_kib, f->rss_base_kib),
                  f->fds_base, f->fds_peak, f->fds_peak - MIN (f->fds_peak, f->fds_base),
                  f->checks, f->checks_ok, f->latency_max_ms,
                  f->checks > 0 ? f->latency_sum_ms / f->checks : 0.0, legit ? "served" : "NOT served");

  if (!done)
    {
      guint pending = 0, connected = 0;

      for (guint i = 0; i < f->attackers->len; i++)
        {
          Attacker *a = g_ptr_array_index (f->attackers, i);
          g_autoptr(GError) error = NULL;

          if (a->closed)
            continue;
          if (!g_socket_check_connect_result (a->socket, &error))
            pending++;
          else
            connected++;
        }
      g_test_message ("still open: %u connected, %u not", connected, pending);
    }
  /* every attacking connection dropped, in time */
  g_assert_true (done);
  g_assert_cmpuint (count_closed (f), ==, f->attackers->len);
  /* bounded: the fds the server holds, and its memory */
  g_assert_cmpuint (f->fds_peak, <=, f->fds_base + max_held (f) + 16);
#ifdef __SANITIZE_ADDRESS__
  /* AddressSanitizer's quarantine keeps freed memory, and its shadow grows
   * with the heap: the server's RSS says nothing about the server there */
  g_test_message ("RSS %" G_GUINT64_FORMAT " KiB after %" G_GUINT64_FORMAT " KiB: not bounded under ASan",
                  (guint64) f->rss_peak_kib, (guint64) f->rss_base_kib);
#else
  if (g_getenv ("EVCP_TEST_CHILD_WRAPPER") != NULL)
    /* the same under valgrind, which runs the server on its own heap */
    g_test_message ("RSS %" G_GUINT64_FORMAT " KiB after %" G_GUINT64_FORMAT " KiB: not bounded under a wrapper",
                    (guint64) f->rss_peak_kib, (guint64) f->rss_base_kib);
  else
    g_assert_cmpuint (f->rss_peak_kib, <=, f->rss_base_kib + 16 * 1024);
#endif
  /* a flood is cut short: the server does not read it all (at full size
   * only: the kernel's buffers on loopback alone can take a few MiB) */
  if (scale.full && (f->kind == ATTACK_GARBAGE || f->kind == ATTACK_ACKS))
    g_assert_cmpuint (sent, <, scale.flood_bytes);
  /* the Monitor's checks: every one answered OK within the interval */
  g_assert_cmpuint (f->checks, >=, 2);
  if (f->first_failure != NULL)
    g_error ("a health check failed during the attack: %s", f->first_failure);
  g_assert_cmpuint (f->checks_ok, ==, f->checks);
  g_assert_cmpfloat (f->latency_max_ms, <, CHECK_DEADLINE_MS);
  g_assert_true (legit);
}

/* ---- idle peers ------------------------------------------------------------------ */

typedef struct {
  Fixture      *f;
  EvcpTestPeer *silent;
  EvcpTestPeer *pinging;
  Attacker     *asked_once;
  gint64        last_ping;
} Idle;

static gboolean
idle_tick_and_dropped (gpointer data)
{
  Idle *w = data;
  gint64 now = g_get_monotonic_time ();

  if (w->pinging != NULL && now - w->last_ping >= 300 * 1000)
    {
      w->last_ping = now;
      evcp_test_peer_send (w->pinging, "PING#CP-BUSY");
    }
  if (w->asked_once != NULL)
    {
      attacker_poll (w->asked_once);
      return w->asked_once->closed;
    }
  return evcp_test_peer_is_closed (w->silent);
}

/* An authenticated peer that goes silent is dropped after the idle time;
 * one that sends PING (the Monitor's checks, at the health port) stays. */
static void
test_idle (Fixture *f, gconstpointer data)
{
  Idle w = { f, NULL, NULL, NULL, 0 };
  guint idle_ms = f->target == TARGET_CENTRAL ? scale.central_idle_ms : scale.health_idle_ms;
  gint64 start;
  gint64 dropped_ms;

  if (scale.full)
    {
      g_test_skip ("the idle timeouts at full size are 30 and 60 s");
      return;
    }
  g_assert_true (evcp_test_wait_until (NULL, not_checking, f, 5000));
  reset_figures (f);
  if (f->target == TARGET_CENTRAL)
    {
      w.silent = evcp_test_peer_connect (f->central_port);
      w.pinging = evcp_test_peer_connect (f->central_port);
      evcp_test_peer_auth (w.silent, "CP-SILENT", "ENGINE");
      evcp_test_peer_auth (w.pinging, "CP-BUSY", "ENGINE");
    }
  else
    {
      const gchar health[] = "\002HEALTH#" CP_FLOOD "\003";
      guint8 frame[sizeof health + 1];
      guint8 lrc = 0;

      /* one good HEALTH (its LRC computed here), then nothing */
      memcpy (frame, health, sizeof health - 1);
      for (gsize i = 1; i < sizeof health - 2; i++)
        lrc ^= (guint8) health[i];
      frame[sizeof health - 1] = lrc;
      w.asked_once = attacker_connect (f);
      while (w.asked_once->sent == 0 && !w.asked_once->closed)
        {
          attacker_send (w.asked_once, frame, sizeof health);
          g_main_context_iteration (NULL, FALSE);
        }
      g_assert_cmpuint (w.asked_once->sent, ==, sizeof health);
    }
  start = g_get_monotonic_time ();
  g_assert_true (evcp_test_wait_until (NULL, idle_tick_and_dropped, &w, idle_ms + 3000));
  dropped_ms = (g_get_monotonic_time () - start) / 1000;
  g_test_message ("%s idle: the silent peer dropped after %" G_GINT64_FORMAT " ms (idle timeout %u ms); "
                  "health checks %u, %u OK, %" G_GUINT64_FORMAT " connection(s) of the checker",
                  target_names[f->target], dropped_ms, idle_ms, f->checks, f->checks_ok,
                  evcp_health_checker_get_connections (f->checker));
  g_assert_cmpint (dropped_ms, >=, idle_ms - 100);
  if (w.pinging != NULL)
    {
      g_assert_false (evcp_test_peer_is_closed (w.pinging));
      evcp_test_peer_free (w.pinging);
      evcp_test_peer_free (w.silent);
    }
  /* the Monitor's kept connection was never dropped, its checks all OK */
  g_assert_cmpuint (evcp_health_checker_get_connections (f->checker), ==, 1);
  g_assert_cmpuint (f->checks_ok, ==, f->checks);
}

static void
set_scale (void)
{
  scale.full = g_strcmp0 (g_getenv ("EVCP_FLOOD"), "full") == 0;
  scale.connections = 1000;
  scale.slow_peers = 20;
  if (scale.full)
    {
      scale.flood_bytes = 16 * 1024 * 1024;
      scale.slow_period_ms = 1000;
      scale.central_auth_eff = 10000;
      scale.health_first_eff = 5000;
      scale.metrics_timeout_eff = 10000;
    }
  else
    {
      scale.flood_bytes = 2 * 1024 * 1024;
      scale.slow_period_ms = 100;
      scale.central_auth_ms = scale.central_auth_eff = 1000;
      scale.central_idle_ms = 2000;
      scale.health_first_ms = scale.health_first_eff = 1000;
      scale.health_idle_ms = 2000;
      scale.metrics_timeout_ms = scale.metrics_timeout_eff = 1000;
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  /* the servers log what they drop; criticals stay fatal */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  set_scale ();

  for (guint t = TARGET_CENTRAL; t <= TARGET_METRICS; t++)
    for (guint k = ATTACK_CONNECTIONS; k <= ATTACK_ACKS; k++)
      {
        g_autofree gchar *path = g_strdup_printf ("/flood/%s/%s", target_names[t], attack_names[k]);

        g_test_add (path, Fixture, GUINT_TO_POINTER (t * 10 + k), fixture_set_up, test_flood, fixture_tear_down);
      }
  g_test_add ("/flood/central/idle", Fixture, GUINT_TO_POINTER (TARGET_CENTRAL * 10), fixture_set_up, test_idle,
              fixture_tear_down);
  g_test_add ("/flood/health/idle", Fixture, GUINT_TO_POINTER (TARGET_HEALTH * 10), fixture_set_up, test_idle,
              fixture_tear_down);
  return g_test_run ();
}
