/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* evcp-engine: the Engine of one charging point. A thin entry point: the
 * work is done by EvcpEngine in libevcp. */
#define G_LOG_DOMAIN "evcp-engine"

#include "evcp-build-config.h"

#include <locale.h>
#include <stdlib.h>

#include <glib/gi18n-lib.h>
#if defined(EVCP_TEST_HOOKS) && defined(G_OS_UNIX)
#include <signal.h>
#include <unistd.h>
#include <glib-unix.h>
#endif

#include "evcp-config.h"
#include "evcp-dbus-engine.h"
#include "evcp-dbus-options.h"
#include "evcp-engine.h"
#include "evcp-engine-metrics.h"
#include "evcp-error.h"
#include "evcp-i18n.h"
#include "evcp-log.h"
#include "evcp-metrics-server.h"
#include "evcp-ocpp-charge-point.h"
#include "evcp-platform.h"
#include "evcp-program.h"
#include "evcp-state-dir.h"

typedef struct {
  GMainLoop       *loop;
  gboolean         quitting;
  EvcpEngine      *engine;
  EvcpOcppChargePoint *ocpp; /* NULL: no [ocpp] url */
  EvcpDbusOptions  dbus;
  gboolean         dbus_failed;
} Context;

/* For systemctl status: "CP-001: ACTIVE", a fault with its reason. */
static gchar *
status_text (Context *ctx)
{
  EvcpSupply *supply = evcp_engine_get_supply (ctx->engine);
  EvcpCpState state = evcp_supply_get_state (supply);
  const gchar *cp_id = evcp_engine_get_config (ctx->engine)->cp_id;

  if (state == EVCP_CP_STATE_FAULT)
    return g_strdup_printf ("%s: %s (%s)", cp_id, evcp_cp_state_to_string (state),
                            evcp_supply_get_fault_reason (supply));
  if (state == EVCP_CP_STATE_STOPPED)
    {
      g_auto(GStrv) holders = evcp_supply_holds_to_strv (evcp_supply_get_holds (supply));
      g_autofree gchar *by = g_strjoinv (", ", holders);

      return g_strdup_printf ("%s: %s (%s)", cp_id, evcp_cp_state_to_string (state), by);
    }
  return g_strdup_printf ("%s: %s", cp_id, evcp_cp_state_to_string (state));
}

static void
report_status (Context *ctx)
{
  g_autofree gchar *status = status_text (ctx);

  evcp_platform_service_status (status);
}

static void
on_state_changed (EvcpSupply *supply, EvcpCpState old, EvcpCpState state, gpointer user_data)
{
  report_status (user_data);
}

static void
on_holds_changed (EvcpSupply *supply, guint holds, gpointer user_data)
{
  report_status (user_data);
}

/* Ready once the main loop turns: the service manager starts what comes
 * after the Engine, and from now on its watchdog expects the pings. */
static gboolean
on_loop_running (gpointer user_data)
{
  g_autofree gchar *status = status_text (user_data);

  evcp_platform_service_ready (status);
  return G_SOURCE_REMOVE;
}

#if defined(EVCP_TEST_HOOKS) && defined(G_OS_UNIX)
/* Only in the build for the tests (evcp-engine-test-hooks, not installed):
 * SIGHUP freezes the main loop, as a hung Engine would, until SIGKILL. */
static gboolean
on_freeze (gpointer user_data)
{
  evcp_platform_service_status ("Frozen by the test hook (SIGHUP)");
  for (;;)
    pause ();
  return G_SOURCE_REMOVE;
}
#endif

static gboolean on_shutdown (gpointer user_data);

/* The Engine's metrics, and its OCPP link's when it has one. */
static void
metrics_func (GString *out, gpointer user_data)
{
  Context *ctx = user_data;

  evcp_engine_metrics_func (out, ctx->engine);
  if (ctx->ocpp != NULL)
    evcp_ocpp_charge_point_metrics (ctx->ocpp, out);
}

/* 78 (EX_CONFIG) for what only a person can fix (a bad setting, another
 * CP's state directory): the unit does not restart it in a loop
 * (RestartPreventExitStatus=78); 1 for the rest, which it restarts. */
#define EXIT_CONFIG 78

static int
exit_status (const GError *error)
{
  return g_error_matches (error, EVCP_ERROR, EVCP_ERROR_CONFIG) ? EXIT_CONFIG : EXIT_FAILURE;
}

/* The original asked for a key press in the Engine's terminal. */
static void
on_key (gchar key, gpointer user_data)
{
  Context *ctx = user_data;
  EvcpSupply *supply = evcp_engine_get_supply (ctx->engine);

  switch (g_ascii_tolower (key))
    {
    case 'f':
      if (evcp_supply_get_state (supply) == EVCP_CP_STATE_FAULT)
        evcp_engine_clear_fault (ctx->engine);
      else
        evcp_engine_simulate_fault (ctx->engine, _("fault simulated at the terminal"));
      break;
    case 'u':
      if (!evcp_engine_unplug (ctx->engine))
        g_message (_("Nothing to unplug: no supply"));
      break;
    case 'q':
      on_shutdown (ctx);
      break;
    default:
      /* TRANSLATORS: the keys the Engine understands in its terminal */
      g_print ("%s\n", _("Keys: f = report a fault / clear it, u = unplug, q = quit"));
      break;
    }
}

static gboolean
on_fault_signal (gpointer user_data)
{
  Context *ctx = user_data;

  evcp_engine_simulate_fault (ctx->engine, _("fault reported by signal"));
  return G_SOURCE_CONTINUE;
}

static gboolean
on_clear_signal (gpointer user_data)
{
  Context *ctx = user_data;

  evcp_engine_clear_fault (ctx->engine);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_shutdown (gpointer user_data)
{
  Context *ctx = user_data;

  if (!ctx->quitting)
    g_message (_("Shutting down"));
  ctx->quitting = TRUE;
  g_main_loop_quit (ctx->loop);
  return G_SOURCE_CONTINUE;
}

/* D-Bus is a way to control the Engine, never a reason to stop charging:
 * unless --require-bus, or the bus that activated it went away, it goes on
 * without (EvcpDbusOwner logs it and tries again). */
static void
on_dbus_name_lost (EvcpDbusOwner *owner, const GError *error, gpointer user_data)
{
  Context *ctx = user_data;
  gboolean failed;

  if (evcp_dbus_options_should_exit (&ctx->dbus, error, &failed))
    {
      ctx->dbus_failed = failed;
      on_shutdown (ctx);
    }
}

int
main (int argc, char **argv)
{
  g_autoptr(GOptionContext) option_context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(EvcpConfig) config = NULL;
  g_autoptr(EvcpEngine) engine = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autofree gchar *config_file = NULL;
  g_autofree gchar *cp_id = NULL;
  g_autofree gchar *brokers = NULL;
  g_autofree gchar *topics = NULL;
  g_autofree gchar *group_id = NULL;
  g_autofree gchar *plugin_dir = NULL;
  g_autofree gchar *state_dir = NULL;
  g_autofree gchar *location = NULL;
  g_autofree gchar *metrics_address = NULL;
  g_autofree gchar *health_address = NULL;
  g_autofree gchar *central_host = NULL;
  gint central_port = EVCP_OPTION_UNSET;
  gboolean check_config = FALSE;
  g_autoptr(EvcpMetricsServer) metrics_server = NULL;
  g_autoptr(EvcpDbusEngine) dbus_engine = NULL;
  g_autoptr(EvcpDbusOwner) dbus_owner = NULL;
  g_autoptr(EvcpOcppChargePoint) ocpp = NULL;
  gboolean verbose = FALSE;
  gboolean no_keys = FALSE;
  gboolean version = FALSE;
  Context ctx = { 0 };
  const GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_file,
      /* TRANSLATORS: --config option */
      N_("Read settings from this key file"), N_("FILE") },
    { "cp-id", 0, 0, G_OPTION_ARG_STRING, &cp_id,
      N_("This charging point's id (overrides CP_ID)"), N_("ID") },
    { "brokers", 0, 0, G_OPTION_ARG_STRING, &brokers,
      N_("Kafka bootstrap servers (overrides KAFKA_BROKERS)"), N_("HOST:PORT,…") },
    { "topics", 0, 0, G_OPTION_ARG_STRING, &topics,
      N_("Topics to consume (overrides KAFKA_TOPICS)"), N_("TOPIC,…") },
    { "group-id", 0, 0, G_OPTION_ARG_STRING, &group_id,
      N_("Kafka consumer group (overrides KAFKA_GROUP_ID)"), N_("GROUP") },
    { "location", 0, 0, G_OPTION_ARG_STRING, &location,
      N_("Where this charging point stands"), N_("TEXT") },
    { "plugin-dir", 0, 0, G_OPTION_ARG_FILENAME, &plugin_dir,
      N_("Load handler plugins from this directory"), N_("DIR") },
    { "state-dir", 0, 0, G_OPTION_ARG_FILENAME, &state_dir,
      N_("Keep state in this directory"), N_("DIR") },
    { "metrics-address", 0, 0, G_OPTION_ARG_STRING, &metrics_address,
      N_("Serve Prometheus metrics on this address (PORT or IP:PORT)"), N_("ADDRESS") },
    { "no-keys", 0, 0, G_OPTION_ARG_NONE, &no_keys,
      N_("Do not read keys from the terminal (f: fault, u: unplug, q: quit)"), NULL },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose,
      N_("Show debug messages"), NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, &version,
      N_("Show the version and exit"), NULL },
    { NULL }
  };
  const GOptionEntry extra_entries[] = {
    { "health-address", 0, 0, G_OPTION_ARG_STRING, &health_address,
      N_("Answer the Monitor's health checks on this address (PORT or IP:PORT; default ENGINE_HOST:ENGINE_PORT)"),
      N_("ADDRESS") },
    { "central-host", 0, 0, G_OPTION_ARG_STRING, &central_host, N_("Central's host (overrides CENTRAL_HOST)"),
      N_("HOST") },
    { "central-port", 0, 0, G_OPTION_ARG_INT, &central_port, N_("Central's port (overrides CENTRAL_PORT)"),
      N_("PORT") },
    { "check-config", 0, 0, G_OPTION_ARG_NONE, &check_config,
      N_("Check the configuration (key file and its drop-ins FILE.d/*.conf, environment, options) and exit: 0 if "
          "valid, else 1"),
      NULL },
    { NULL }
  };

  evcp_i18n_init ();

  evcp_dbus_options_init (&ctx.dbus, "Engine", EVCP_DBUS_ENGINE_BUS_NAME);
  option_context = g_option_context_new (NULL);
  g_option_context_set_summary (option_context,
    _("The Engine of an EV charging point: consumes Kafka messages and routes them to handlers.\n\n"
      "Settings, lowest precedence first: built-in defaults, the environment\n"
      "(CP_ID, KAFKA_BROKERS, KAFKA_TOPICS, KAFKA_GROUP_ID, CENTRAL_HOST, CENTRAL_PORT),\n"
      "the key file (--config, or $EVCP_CONFIG), then these options.\n\n"
      "The Monitor's health checks are answered on ENGINE_HOST:ENGINE_PORT.\n"
      "SIGUSR1 reports a fault (the Engine answers KO, a supply ends), SIGUSR2 clears it;\n"
      "in a terminal, the keys f, u and q do the same, unplug and quit.\n\n"
      "On D-Bus it is org.evcp.Engine1 at /org/evcp/Engine, named org.evcp.Engine\n"
      "(--bus-name), on the session bus unless --system; evcpctl controls it."));
  g_option_context_add_main_entries (option_context, entries, GETTEXT_PACKAGE);
  g_option_context_add_main_entries (option_context, extra_entries, GETTEXT_PACKAGE);
  evcp_dbus_options_add_entries (&ctx.dbus, option_context);
  g_option_context_set_translation_domain (option_context, GETTEXT_PACKAGE);
  if (!evcp_program_parse (option_context, "evcp-engine", 0, &argc, &argv))
    return EVCP_EXIT_USAGE;
  if (!evcp_dbus_options_validate (&ctx.dbus, &error))
    {
      evcp_dbus_options_clear (&ctx.dbus);
      return evcp_program_usage_error ("evcp-engine", error->message);
    }
  if (!evcp_program_check_address ("evcp-engine", "--metrics-address", metrics_address) ||
      !evcp_program_check_address ("evcp-engine", "--health-address", health_address) ||
      !evcp_program_check_port ("evcp-engine", "--central-port", central_port))
    {
      evcp_dbus_options_clear (&ctx.dbus);
      return EVCP_EXIT_USAGE;
    }
  if (version)
    {
      g_autofree gchar *text = evcp_program_version ("evcp-engine");

      g_print ("%s", text);
      evcp_dbus_options_clear (&ctx.dbus);
      return EXIT_SUCCESS;
    }
  evcp_log_init ("evcp-engine", NULL);
  if (verbose)
    evcp_log_set_level (EVCP_LOG_LEVEL_DEBUG);

  {
    const EvcpConfigOptions options = {
      .config_file = config_file,
      .cp_id = cp_id,
      .kafka_brokers = brokers,
      .kafka_group_id = group_id,
      .kafka_topics = topics,
      .location = location,
      .plugin_dir = plugin_dir,
      .state_dir = state_dir,
      .metrics_address = metrics_address,
      .health_address = health_address,
      .central_host = central_host,
      .central_port = central_port == EVCP_OPTION_UNSET ? 0 : central_port,
    };

    config = evcp_config_load (&options, &error);
  }
  if (check_config)
    {
      g_autofree gchar *state =
          config != NULL ? evcp_state_dir_path (config->state_dir, "engine", config->cp_id) : NULL;
      const EvcpCheckScope scope = { .state_dir = state, .plugins = TRUE, .plugin_kind = EVCP_PLUGIN_ENGINE };

      evcp_dbus_options_clear (&ctx.dbus);
      return evcp_program_check_config ("evcp-engine", config, error, &scope);
    }
  if (config == NULL)
    goto fail;
  /* from here on, what the service says is in English, whatever the locale:
   * its logs, its D-Bus errors, the texts it puts into Kafka and frames
   * (docs/translations.md) */
  evcp_i18n_untranslated ();

  loop = g_main_loop_new (NULL, FALSE);
  ctx.loop = loop;
  evcp_platform_watch_shutdown (on_shutdown, &ctx);

  engine = evcp_engine_new (config);
  if (!evcp_engine_start (engine, &error))
    goto fail;
  ctx.engine = engine;
  /* the third link, beside Central and Kafka: OCPP 1.6J, when [ocpp] url is set */
  ocpp = evcp_ocpp_charge_point_new (engine);
  ctx.ocpp = ocpp;
  if (ocpp != NULL)
    evcp_ocpp_charge_point_start (ocpp);
  evcp_platform_watch_operator_signals (on_fault_signal, on_clear_signal, &ctx);
  g_signal_connect (evcp_engine_get_supply (engine), "state-changed", G_CALLBACK (on_state_changed), &ctx);
  g_signal_connect (evcp_engine_get_supply (engine), "holds-changed", G_CALLBACK (on_holds_changed), &ctx);
#if defined(EVCP_TEST_HOOKS) && defined(G_OS_UNIX)
  g_unix_signal_add (SIGHUP, on_freeze, &ctx);
#endif
  if (!no_keys && evcp_platform_watch_keys (on_key, &ctx))
    g_print ("%s\n", _("Keys: f = report a fault / clear it, u = unplug, q = quit"));
  if (config->metrics_address != NULL && *config->metrics_address != '\0')
    {
      metrics_server = evcp_metrics_server_new (metrics_func, &ctx, NULL);
      if (!evcp_metrics_server_listen (metrics_server, config->metrics_address, &error))
        {
          if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE))
            g_prefix_error (&error, _("Port in use: change [evcp] metrics-address (--metrics-address). "));
          goto fail;
        }
    }
  dbus_engine = evcp_dbus_engine_new (engine);
  evcp_dbus_engine_set_ocpp (dbus_engine, ocpp);
  dbus_owner = evcp_dbus_options_create_owner (&ctx.dbus, evcp_dbus_engine_get_skeleton (dbus_engine),
                                               EVCP_DBUS_ENGINE_OBJECT_PATH, &error);
  if (dbus_owner == NULL)
    goto fail;
  g_signal_connect (dbus_owner, "name-lost", G_CALLBACK (on_dbus_name_lost), &ctx);
  evcp_dbus_owner_start (dbus_owner);
  g_idle_add (on_loop_running, &ctx);

  g_main_loop_run (loop);

  evcp_platform_service_stopping (_("Stopping: the supply ends, the outbox is kept"));
  g_signal_handlers_disconnect_by_func (evcp_engine_get_supply (engine), on_state_changed, &ctx);
  /* the Engine first: the StopTransaction of the session it ends goes to
   * the OCPP outbox, then the link stops */
  evcp_engine_stop (engine);
  if (ocpp != NULL)
    evcp_ocpp_charge_point_stop (ocpp);
  evcp_dbus_owner_stop (dbus_owner);
  evcp_dbus_options_clear (&ctx.dbus);
  return ctx.dbus_failed ? EXIT_FAILURE : EXIT_SUCCESS;

fail:
  g_printerr ("evcp-engine: %s\n", error->message);
  evcp_dbus_options_clear (&ctx.dbus);
  return exit_status (error);
}
