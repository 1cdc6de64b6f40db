/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* evcp-central: a reference Central of the legacy socket protocol, for
 * development, tests and demos. A thin entry point: the work is done by
 * EvcpCentralServer; this file reads the settings, the operator's commands
 * from standard input, and draws the panel or prints plain lines. */
#define G_LOG_DOMAIN "evcp-central"

#include "evcp-build-config.h"

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>

#include <gio/gio.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#ifdef G_OS_UNIX
#include <gio/gunixinputstream.h>
#include <signal.h>
#include <unistd.h>
#else
#include <windows.h>
#include <gio/gwin32inputstream.h>
#endif

#include "evcp-central-commands.h"
#include "evcp-central-db.h"
#include "evcp-central-panel.h"
#include "evcp-central-server.h"
#include "evcp-config.h"
#include "evcp-i18n.h"
#include "evcp-log.h"
#include "evcp-program.h"
#include "evcp-platform.h"

/* How long the EOTs may take to go out at exit. */
#define SHUTDOWN_TIMEOUT_MS 2000

typedef struct {
  GMainLoop         *loop;
  EvcpCentralServer *server;
  EvcpCentralPanel  *panel;     /* NULL: plain lines */
  GDataInputStream  *in;
  GCancellable      *cancellable;
  gboolean           reading;     /* a read of stdin is pending */
  gboolean           quitting;
  gboolean           verbose;
  gboolean quit_by_parent; /* `quit` asks the parent to stop everything in order */
} Context;

/* The panel that log lines go to; the log writer may run on any thread. */
G_LOCK_DEFINE_STATIC (panel_lock);
static EvcpCentralPanel *log_panel;

static GLogWriterOutput
panel_log_writer (GLogLevelFlags   level,
                  const GLogField *fields,
                  gsize            n_fields,
                  gpointer         user_data)
{
  const gchar *message = NULL;
  const gchar *domain = NULL;
  gboolean done = FALSE;

  for (gsize i = 0; i < n_fields; i++)
    {
      if (g_str_equal (fields[i].key, "MESSAGE") && fields[i].length < 0)
        message = fields[i].value;
      else if (g_str_equal (fields[i].key, "GLIB_DOMAIN"))
        domain = fields[i].value;
    }
  if (!evcp_log_enabled (level, domain))
    return G_LOG_WRITER_HANDLED;
  G_LOCK (panel_lock);
  if (log_panel != NULL && message != NULL)
    {
      evcp_central_panel_add_event (log_panel, level, message);
      done = TRUE;
    }
  G_UNLOCK (panel_lock);
  if (done && (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL)) == 0)
    return G_LOG_WRITER_HANDLED;
  return evcp_log_writer (level, fields, n_fields, user_data);
}

static void
reply (Context *ctx, const gchar *answer)
{
  if (ctx->panel != NULL)
    {
      evcp_central_panel_set_answer (ctx->panel, answer);
      return;
    }
  fputs (answer, stdout);
  fputc ('\n', stdout);
  fflush (stdout);
}

static void
quit (Context *ctx)
{
  ctx->quitting = TRUE;
  g_main_loop_quit (ctx->loop);
}

static gboolean
on_shutdown (gpointer user_data)
{
  Context *ctx = user_data;

  if (!ctx->quitting)
    g_message (_("Shutting down"));
  quit (ctx);
  return G_SOURCE_CONTINUE;
}

static void read_next (Context *ctx);

/* `quit` typed under a launcher that stops the charging points first
 * (scripts/demo): SIGTERM to the launcher, which stops this Central last,
 * after the last tickets came. */
static gboolean
quit_through_parent (Context *ctx)
{
#ifdef G_OS_UNIX
  pid_t parent = getppid ();

  if (ctx->quit_by_parent && parent > 1 && kill (parent, SIGTERM) == 0)
    {
      g_message (_("quit: the launcher (pid %d) stops the charging points, then Central"), (int) parent);
      return TRUE;
    }
#endif
  return FALSE;
}

/* A line typed: a command, answered (on the panel, `list` as a table). */
static gboolean
run_line (Context *ctx, const gchar *line)
{
  g_autofree gchar *answer = NULL;
  g_autofree gchar *trimmed = g_strstrip (g_strdup (line));
  gboolean want_quit = FALSE;

  if (ctx->panel != NULL && g_str_equal (trimmed, "list"))
    {
      g_autoptr(JsonNode) root = evcp_central_server_to_json (ctx->server);

      answer = evcp_central_panel_format_list (root);
    }
  else
    answer = evcp_central_command_run (ctx->server, line, &want_quit);
  if (want_quit && quit_through_parent (ctx))
    {
      g_free (answer);
      answer = g_strdup (_("OK quit: stopping the charging points first, then Central"));
      want_quit = FALSE;
    }
  if (answer != NULL)
    reply (ctx, answer);
  return want_quit;
}

static void
on_panel_line (const gchar *line, gpointer user_data)
{
  Context *ctx = user_data;

  if (line == NULL)
    {
      g_message (_("End of standard input: shutting down"));
      quit (ctx);
    }
  else if (run_line (ctx, line))
    quit (ctx);
}

static void
read_line_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Context *ctx = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *line = NULL;

  ctx->reading = FALSE;
  line = g_data_input_stream_read_line_finish (G_DATA_INPUT_STREAM (source), result, NULL, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (line == NULL)
    {
      if (error != NULL)
        g_warning (_("Cannot read standard input: %s"), error->message);
      else
        g_message (_("End of standard input: shutting down"));
      quit (ctx);
      return;
    }
  if (run_line (ctx, line))
    quit (ctx);
  else
    read_next (ctx);
}

static void
read_next (Context *ctx)
{
  ctx->reading = TRUE;
  g_data_input_stream_read_line_async (ctx->in, G_PRIORITY_DEFAULT, ctx->cancellable,
                                       read_line_cb, ctx);
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
finished (Context *ctx)
{
  return !ctx->reading && evcp_central_server_is_finished (ctx->server);
}

static gboolean
tick_cb (gpointer user_data)
{
  return G_SOURCE_CONTINUE;
}

/* Lets the EOTs go out and the connections close, for a bounded time. */
static void
drain (Context *ctx)
{
  gint64 deadline = g_get_monotonic_time () + SHUTDOWN_TIMEOUT_MS * 1000;
  g_autoptr(GSource) tick = g_timeout_source_new (10);

  g_source_set_callback (tick, tick_cb, NULL, NULL);
  g_source_attach (tick, NULL);
  while (!finished (ctx) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_source_destroy (tick);
}

/* Whether Kafka was asked for: an option, KAFKA_BROKERS, or [kafka] brokers
 * in the key file or its drop-ins. */
static gboolean
kafka_requested (const gchar *option, GKeyFile *key_file)
{
  const gchar *env = g_getenv ("KAFKA_BROKERS");

  if (option != NULL || (env != NULL && *env != '\0'))
    return TRUE;
  return key_file != NULL && g_key_file_has_key (key_file, "kafka", "brokers", NULL);
}

/* [cp-secrets] of the key file and its drop-ins: <cp id> = <secret>, for
 * this run (they take precedence over those of the database). */
static gboolean
load_secrets (EvcpCentralServer *server, GKeyFile *key_file, const gchar *config_file, GError **error)
{
  g_auto(GStrv) ids = NULL;

  if (key_file == NULL)
    return TRUE;
  ids = g_key_file_get_keys (key_file, "cp-secrets", NULL, NULL);
  for (guint i = 0; ids != NULL && ids[i] != NULL; i++)
    {
      g_autofree gchar *secret = g_key_file_get_value (key_file, "cp-secrets", ids[i], error);

      if (secret == NULL)
        return FALSE;
      if (*secret == '\0')
        {
          g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                       /* TRANSLATORS: %s is a CP id, then the key file */
                       _("[cp-secrets] %s in %s: the secret is empty"), ids[i], config_file);
          return FALSE;
        }
      if (!evcp_central_server_set_secret (server, ids[i], secret, FALSE, error))
        return FALSE;
    }
  return TRUE;
}

int
main (int argc, char **argv)
{
  g_autoptr(GOptionContext) option_context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(EvcpConfig) config = NULL;
  g_autoptr(EvcpCentralDb) db = NULL;
  g_autoptr(EvcpCentralServer) server = NULL;
  g_autoptr(EvcpCentralPanel) panel = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autoptr(GInputStream) stdin_stream = NULL;
  g_autoptr(GCancellable) cancellable = NULL;
  g_autoptr(GDataInputStream) in = NULL;
  g_autofree gchar *config_file = NULL;
  g_autofree gchar *listen_address = NULL;
  g_autofree gchar *db_path = NULL;
  g_autofree gchar *brokers = NULL;
  g_autofree gchar *group_id = NULL;
  gint port = -1;
  gint ack_timeout_ms = 0;
  gint max_connections = 0;
  gint max_unauthenticated = 0;
  gint auth_timeout_ms = 0;
  gint idle_timeout_ms = 0;
  gboolean use_panel = FALSE;
  gboolean no_panel = FALSE;
  gboolean no_kafka = FALSE;
  gboolean no_stdin = FALSE;
  gboolean require_secret = FALSE;
  gboolean verbose = FALSE;
  gboolean version = FALSE;
  gboolean check_config = FALSE;
  Context ctx = { 0 };
  const GOptionEntry entries[] = {
    { "port", 'p', 0, G_OPTION_ARG_INT, &port,
      /* TRANSLATORS: --port option */
      N_("Listen on this TCP port (overrides CENTRAL_PORT; default 5000; 0: any free port)"), N_("PORT") },
    { "listen-address", 0, 0, G_OPTION_ARG_STRING, &listen_address,
      N_("Listen on this IP address (default 127.0.0.1)"), N_("ADDRESS") },
    { "db", 0, 0, G_OPTION_ARG_FILENAME, &db_path,
      N_("Keep the registry, tickets and events in this SQLite file (“:memory:” for none)"), N_("FILE") },
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_file,
      N_("Read settings from this key file ([central] port, [kafka] brokers, [librdkafka…])"), N_("FILE") },
    { "kafka-brokers", 0, 0, G_OPTION_ARG_STRING, &brokers,
      N_("Also consume charging_sessions and monitoring_events from Kafka (overrides KAFKA_BROKERS)"),
      N_("HOST:PORT,…") },
    { "kafka-group", 0, 0, G_OPTION_ARG_STRING, &group_id, N_("Kafka consumer group (default evcp-central)"),
      N_("GROUP") },
    { "no-kafka", 0, 0, G_OPTION_ARG_NONE, &no_kafka, N_("Do not use Kafka, even if KAFKA_BROKERS is set"), NULL },
    { "panel", 0, 0, G_OPTION_ARG_NONE, &use_panel,
      N_("Draw the live panel even if standard output is not a terminal"), NULL },
    { "no-panel", 0, 0, G_OPTION_ARG_NONE, &no_panel, N_("Print plain lines even on a terminal"), NULL },
    { "no-stdin", 0, 0, G_OPTION_ARG_NONE, &no_stdin,
      N_("Read no commands from standard input: run until SIGTERM or SIGINT"), NULL },
    { "ack-timeout", 0, 0, G_OPTION_ARG_INT, &ack_timeout_ms,
      N_("Send a frame again when no ACK came within this time (default 1000; for tests)"), N_("MS") },
    { "max-connections", 0, 0, G_OPTION_ARG_INT, &max_connections,
      N_("Accept at most this many connections (default 512)"), N_("N") },
    { "max-unauthenticated", 0, 0, G_OPTION_ARG_INT, &max_unauthenticated,
      N_("Keep at most this many connections without AUTH; the oldest goes for a new one (default 64)"), N_("N") },
    { "auth-timeout", 0, 0, G_OPTION_ARG_INT, &auth_timeout_ms,
      N_("Drop a connection not authenticated within this time (default 10000)"), N_("MS") },
    { "idle-timeout", 0, 0, G_OPTION_ARG_INT, &idle_timeout_ms,
      N_("Drop an authenticated connection that sent nothing of use for this time (default 30000)"), N_("MS") },
    { "quit-by-parent", 0, 0, G_OPTION_ARG_NONE, &ctx.quit_by_parent,
      N_("quit sends SIGTERM to the parent process (a launcher that stops the CPs first, then Central) "
          "instead of exiting"),
      NULL },
    { "require-secret", 0, 0, G_OPTION_ARG_NONE, &require_secret,
      N_("Refuse the AUTH of a CP that has no secret ([cp-secrets] or the secret command)"), NULL },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, N_("Show debug messages"), NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, &version, N_("Show the version and exit"), NULL },
    G_OPTION_ENTRY_NULL
  };
  const GOptionEntry extra_entries[] = {
    { "check-config", 0, 0, G_OPTION_ARG_NONE, &check_config,
      N_("Check the configuration (key file and its drop-ins FILE.d/*.conf, environment) and exit: 0 if valid, "
          "else 1"),
      NULL },
    G_OPTION_ENTRY_NULL
  };

  evcp_i18n_init ();

  option_context = g_option_context_new (NULL);
  g_option_context_set_summary (option_context,
    _("A reference Central for development, tests and demos: accepts the Engines and Monitors\n"
      "of charging points over the legacy socket protocol, keeps a registry in SQLite, and\n"
      "optionally follows charging_sessions and monitoring_events on Kafka.\n\n"
      "Prints “LISTENING <port>” once it listens, then reads commands from standard input,\n"
      "one per line, each answered with “OK …” or “ERR <reason>”:\n"
      "  stop <cp>|all, resume <cp>|all, authorize <cp> <driver> <power_kw> <max_duration_s>,\n"
      "  secret <cp> <secret>|-, list (a JSON line), help, quit. End of input, SIGTERM and SIGINT stop it."));
  g_option_context_add_main_entries (option_context, entries, GETTEXT_PACKAGE);
  g_option_context_add_main_entries (option_context, extra_entries, GETTEXT_PACKAGE);
  g_option_context_set_translation_domain (option_context, GETTEXT_PACKAGE);
  if (!evcp_program_parse (option_context, "evcp-central", 0, &argc, &argv))
    return EVCP_EXIT_USAGE;
  if (version)
    {
      g_autofree gchar *text = evcp_program_version ("evcp-central");

      g_print ("%s", text);
      return EXIT_SUCCESS;
    }
  if (port < -1 || port > G_MAXUINT16 || ack_timeout_ms < 0 || (use_panel && no_panel) ||
      max_connections < 0 || max_unauthenticated < 0 || auth_timeout_ms < 0 || idle_timeout_ms < 0)
    return evcp_program_usage_error ("evcp-central",
                                     _("Invalid options: --port takes 0 to 65535, --ack-timeout, --max-connections, "
                                        "--max-unauthenticated, --auth-timeout and --idle-timeout a positive number, "
                                        "and --panel and --no-panel exclude each other"));
  if (listen_address != NULL)
    {
      g_autoptr(GInetAddress) inet = evcp_central_parse_listen_address (listen_address, &error);

      if (inet == NULL)
        return evcp_program_usage_error ("evcp-central", error->message);
    }
  if (verbose)
    evcp_log_set_level (EVCP_LOG_LEVEL_DEBUG);

  {
    const EvcpConfigOptions options = { .config_file = config_file };

    config = evcp_config_load (&options, &error);
  }
  if (check_config)
    return evcp_program_check_config ("evcp-central", config, error, NULL);
  if (config == NULL)
    goto fail;
  if (port < 0)
    port = (gint) config->central_port;
  if (db_path == NULL)
    {
      g_autofree gchar *dir = evcp_platform_default_state_dir ("central");

      db_path = g_build_filename (dir, "central.db", NULL);
    }
  if (!use_panel && !no_panel)
    use_panel = g_log_writer_supports_color (fileno (stdout));

  /* stdout carries LISTENING, the answers and the panel: log lines go to
   * stderr, or into the panel */
  g_log_writer_default_set_use_stderr (TRUE);
  evcp_log_init ("evcp-central", use_panel ? panel_log_writer : NULL);

  db = evcp_central_db_open (db_path, &error);
  if (db == NULL)
    goto fail;
  server = evcp_central_server_new (db);
  if (!load_secrets (server, config->key_file, config->config_file, &error))
    goto fail;
  evcp_central_server_set_require_secret (server, require_secret);
  evcp_central_server_set_limits (server, (guint) max_connections, (guint) max_unauthenticated,
                                  (guint) auth_timeout_ms, (guint) idle_timeout_ms);
  if (ack_timeout_ms > 0)
    evcp_central_server_set_timing (server, (guint) ack_timeout_ms, 0);

  loop = g_main_loop_new (NULL, FALSE);
  ctx.loop = loop;
  ctx.server = server;
  ctx.verbose = verbose;
  evcp_platform_watch_shutdown (on_shutdown, &ctx);

  if (!evcp_central_server_listen (server, listen_address, (guint16) port, &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE))
        g_prefix_error (&error, _("Port %d is in use: change --port ([central] port, CENTRAL_PORT). "), port);
      goto fail;
    }
  g_print ("LISTENING %u\n", evcp_central_server_get_port (server));
  fflush (stdout);
  g_message (_("Database: %s"), db_path);

  if (!no_kafka && kafka_requested (brokers, config->key_file))
    {
      if (brokers != NULL)
        {
          g_free (config->kafka_brokers);
          config->kafka_brokers = g_steal_pointer (&brokers);
        }
      if (!evcp_central_server_start_kafka (server, config->kafka_brokers, group_id,
                                            config->rdkafka, config->rdkafka_consumer, &error))
        goto fail;
    }
  else
    g_message (_("Kafka not used: the socket protocol only"));

  if (use_panel)
    {
      panel = evcp_central_panel_new (server, stdout);
      ctx.panel = panel;
      G_LOCK (panel_lock);
      log_panel = panel;
      G_UNLOCK (panel_lock);
    }

  if (!no_stdin && panel != NULL && evcp_central_panel_read_terminal (panel, 0, on_panel_line, &ctx))
    ; /* the panel edits the line typed */
  else if (!no_stdin)
    {
      stdin_stream = stdin_stream_new ();
      in = g_data_input_stream_new (stdin_stream);
      g_data_input_stream_set_newline_type (in, G_DATA_STREAM_NEWLINE_TYPE_ANY);
      cancellable = g_cancellable_new ();
      ctx.in = in;
      ctx.cancellable = cancellable;
      read_next (&ctx);
    }

  g_main_loop_run (loop);

  /* the panel shows the last state before the connections close; what is
   * logged afterwards goes to stderr */
  if (panel != NULL)
    {
      evcp_central_panel_finish (panel);
      G_LOCK (panel_lock);
      log_panel = NULL;
      G_UNLOCK (panel_lock);
    }
  if (cancellable != NULL)
    g_cancellable_cancel (cancellable);
  evcp_central_server_shutdown (server);
  drain (&ctx);
  evcp_central_db_close (db);
  g_message (_("Stopped"));
  return EXIT_SUCCESS;

fail:
  g_printerr ("evcp-central: %s\n", error->message);
  return EXIT_FAILURE;
}
