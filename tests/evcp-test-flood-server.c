/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A host for the Engine's health server and the metrics server, as the
 * Engine runs them (one main loop, the same objects), for tests/test-flood.c:
 * the figures of an attack (RSS, fds) are then this process's alone.
 *
 *   evcp-test-flood-server [--first-timeout MS] [--idle-timeout MS] [--metrics-timeout MS]
 *
 * Prints "PORTS <health> <metrics>" once both listen on 127.0.0.1, then runs
 * until its standard input ends. Every health check is answered OK. */
#include "evcp-build-config.h"

#include <stdio.h>
#include <stdlib.h>

#include <gio/gio.h>
#include <gio/gunixinputstream.h>

#include "evcp-engine-health-server.h"
#include "evcp-metrics-server.h"

#define CP "CP-FLOOD"

static gboolean
healthy (gpointer user_data, gchar **reason)
{
  return TRUE;
}

static void
metrics (GString *out, gpointer user_data)
{
  g_string_append (out, "# TYPE evcp_flood_up gauge\nevcp_flood_up 1\n");
}

static void
stdin_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GBytes) bytes = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result, NULL);

  if (bytes == NULL || g_bytes_get_size (bytes) == 0)
    {
      g_main_loop_quit (user_data);
      return;
    }
  g_input_stream_read_bytes_async (G_INPUT_STREAM (source), 64, G_PRIORITY_DEFAULT, NULL, stdin_cb, user_data);
}

int
main (int argc, char **argv)
{
  gint first_timeout_ms = 0, idle_timeout_ms = 0, metrics_timeout_ms = 0;
  const GOptionEntry entries[] = {
    { "first-timeout", 0, 0, G_OPTION_ARG_INT, &first_timeout_ms, "Health: first HEALTH within", "MS" },
    { "idle-timeout", 0, 0, G_OPTION_ARG_INT, &idle_timeout_ms, "Health: HEALTH again within", "MS" },
    { "metrics-timeout", 0, 0, G_OPTION_ARG_INT, &metrics_timeout_ms, "Metrics: a connection at most", "MS" },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(EvcpHealthServer) health = NULL;
  g_autoptr(EvcpMetricsServer) metrics_server = NULL;
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(GInputStream) in = g_unix_input_stream_new (0, FALSE);
#ifdef EVCP_HEALTH_DEFAULT_MAX_CONNECTIONS
  EvcpHealthLimits limits = { 0 };
#endif

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) || first_timeout_ms < 0 ||
      idle_timeout_ms < 0 || metrics_timeout_ms < 0)
    {
      g_printerr ("evcp-test-flood-server: %s\n", error != NULL ? error->message : "negative timeout");
      return 2;
    }
  g_log_writer_default_set_use_stderr (TRUE);
  health = evcp_health_server_new (CP, healthy, NULL, NULL);
  metrics_server = evcp_metrics_server_new (metrics, NULL, NULL);
#ifdef EVCP_HEALTH_DEFAULT_MAX_CONNECTIONS
  /* (a libevcp older than the limits builds without: for the figures before) */
  limits.first_timeout_ms = (guint) first_timeout_ms;
  limits.idle_timeout_ms = (guint) idle_timeout_ms;
  evcp_health_server_set_limits (health, &limits);
  evcp_metrics_server_set_limits (metrics_server, 0, (guint) metrics_timeout_ms);
#endif
  if (!evcp_health_server_listen (health, "127.0.0.1", 0, &error) ||
      !evcp_metrics_server_listen (metrics_server, "127.0.0.1:0", &error))
    {
      g_printerr ("evcp-test-flood-server: %s\n", error->message);
      return EXIT_FAILURE;
    }
  g_print ("PORTS %u %u\n", evcp_health_server_get_port (health), evcp_metrics_server_get_port (metrics_server));
  fflush (stdout);
  g_input_stream_read_bytes_async (in, 64, G_PRIORITY_DEFAULT, NULL, stdin_cb, loop);
  g_main_loop_run (loop);
#ifdef EVCP_HEALTH_DEFAULT_MAX_CONNECTIONS
  g_printerr ("evcp-test-flood-server: %" G_GUINT64_FORMAT " checks, %" G_GUINT64_FORMAT " health and %"
              G_GUINT64_FORMAT " metrics connections dropped by a limit\n",
              evcp_health_server_get_checks (health), evcp_health_server_get_dropped (health),
              evcp_metrics_server_get_dropped (metrics_server));
#endif
  evcp_metrics_server_stop (metrics_server);
  evcp_health_server_stop (health);
  return EXIT_SUCCESS;
}
