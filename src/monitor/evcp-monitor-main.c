/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* evcp-monitor: the Monitor of one charging point. A thin entry point: the
 * work is done by EvcpMonitoringService in libevcp. */
#define G_LOG_DOMAIN "evcp-monitor"

#include "evcp-build-config.h"

#include <locale.h>
#include <stdlib.h>

#include <glib/gi18n-lib.h>

#include "evcp-config.h"
#include "evcp-dbus-monitor.h"
#include "evcp-dbus-options.h"
#include "evcp-error.h"
#include "evcp-i18n.h"
#include "evcp-log.h"
#include "evcp-monitoring-service.h"
#include "evcp-platform.h"
#include "evcp-program.h"
#include "evcp-state-dir.h"

typedef struct {
  GMainLoop       *loop;
  gboolean         quitting;
  EvcpDbusOptions  dbus;
  gboolean         dbus_failed;
} Context;

/* 78 (EX_CONFIG): a bad setting, another CP's state directory; the unit
 * does not restart it in a loop (RestartPreventExitStatus=78). */
#define EXIT_CONFIG 78

/* For systemctl status: "Engine of CP-001: KO (no answer within 1000 ms)". */
static gchar *
status_text (const EvcpMonitorStatus *status)
{
  if (status->status == EVCP_MONITOR_KO && status->reason != NULL)
    return g_strdup_printf (_("Engine of %s: %s (%s)"), status->id,
                            evcp_monitor_state_to_string (status->status), status->reason);
  return g_strdup_printf (_("Engine of %s: %s"), status->id, evcp_monitor_state_to_string (status->status));
}

static void
on_status_changed (EvcpMonitoringService *service, const EvcpMonitorStatus *status, gpointer user_data)
{
  g_autofree gchar *text = status_text (status);

  evcp_platform_service_status (text);
}

/* Ready once the main loop turns; from now on the watchdog expects pings. */
static gboolean
on_loop_running (gpointer user_data)
{
  g_autoptr(EvcpMonitorStatus) status = evcp_monitoring_service_get_status (user_data);
  g_autofree gchar *text = status_text (status);

  evcp_platform_service_ready (text);
  return G_SOURCE_REMOVE;
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

/* D-Bus failing never stops the Monitor, unless --require-bus or the bus
 * that activated it went away. */
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
  g_autoptr(EvcpMonitoringService) service = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autoptr(EvcpDbusMonitor) dbus_monitor = NULL;
  g_autoptr(EvcpDbusOwner) dbus_owner = NULL;
  g_autofree gchar *config_file = NULL;
  g_autofree gchar *cp_id = NULL;
  g_autofree gchar *brokers = NULL;
  g_autofree gchar *engine_host = NULL;
  g_autofree gchar *central_host = NULL;
  g_autofree gchar *plugin_dir = NULL;
  g_autofree gchar *state_dir = NULL;
  g_autofree gchar *location = NULL;
  g_autofree gchar *metrics_address = NULL;
  gint engine_port = EVCP_OPTION_UNSET;
  gint central_port = EVCP_OPTION_UNSET;
  gint interval_ms = EVCP_OPTION_UNSET;
  gint ko_after = EVCP_OPTION_UNSET;
  gint ok_after = EVCP_OPTION_UNSET;
  gboolean check_config = FALSE;
  gboolean verbose = FALSE;
  gboolean version = FALSE;
  Context ctx = { 0 };
  const GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_file,
      /* TRANSLATORS: --config option */
      N_("Read settings from this key file"), N_("FILE") },
    { "cp-id", 0, 0, G_OPTION_ARG_STRING, &cp_id,
      N_("This charging point's id (overrides CP_ID)"), N_("ID") },
    { "engine-host", 0, 0, G_OPTION_ARG_STRING, &engine_host,
      N_("The Engine's host (overrides ENGINE_HOST)"), N_("HOST") },
    { "engine-port", 0, 0, G_OPTION_ARG_INT, &engine_port,
      N_("The Engine's health port (overrides ENGINE_PORT)"), N_("PORT") },
    { "central-host", 0, 0, G_OPTION_ARG_STRING, &central_host,
      N_("Central's host (overrides CENTRAL_HOST)"), N_("HOST") },
    { "central-port", 0, 0, G_OPTION_ARG_INT, &central_port,
      N_("Central's port (overrides CENTRAL_PORT)"), N_("PORT") },
    { "brokers", 0, 0, G_OPTION_ARG_STRING, &brokers,
      N_("Kafka bootstrap servers (overrides KAFKA_BROKERS)"), N_("HOST:PORT,…") },
    { "interval-ms", 0, 0, G_OPTION_ARG_INT, &interval_ms,
      N_("One health check per interval, also its timeout (at least 100)"), N_("MS") },
    { "ko-after", 0, 0, G_OPTION_ARG_INT, &ko_after,
      N_("Failed checks in a row before the status is KO"), N_("N") },
    { "ok-after", 0, 0, G_OPTION_ARG_INT, &ok_after,
      N_("Good checks in a row before the status is OK again"), N_("N") },
    { "metrics-address", 0, 0, G_OPTION_ARG_STRING, &metrics_address,
      N_("Serve Prometheus metrics on this address (PORT or IP:PORT)"), N_("ADDRESS") },
    { "location", 0, 0, G_OPTION_ARG_STRING, &location,
      N_("Where this charging point stands"), N_("TEXT") },
    { "plugin-dir", 0, 0, G_OPTION_ARG_FILENAME, &plugin_dir,
      N_("Load output plugins from this directory"), N_("DIR") },
    { "state-dir", 0, 0, G_OPTION_ARG_FILENAME, &state_dir,
      N_("Keep state (the outbox) in this directory"), N_("DIR") },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose,
      N_("Show debug messages"), NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, &version,
      N_("Show the version and exit"), NULL },
    { NULL }
  };
  const GOptionEntry extra_entries[] = {
    { "check-config", 0, 0, G_OPTION_ARG_NONE, &check_config,
      N_("Check the configuration (key file and its drop-ins FILE.d/*.conf, environment, options) and exit: 0 if "
          "valid, else 1"),
      NULL },
    { NULL }
  };

  evcp_i18n_init ();

  evcp_dbus_options_init (&ctx.dbus, "Monitor", EVCP_DBUS_MONITOR_BUS_NAME);
  option_context = g_option_context_new (NULL);
  g_option_context_set_summary (option_context,
    _("The Monitor of an EV charging point: checks the Engine's health and reports it\n"
      "to Central, to Kafka (monitoring_events) and to output plugins.\n\n"
      "Settings, lowest precedence first: built-in defaults, the environment\n"
      "(CP_ID, KAFKA_BROKERS, CENTRAL_HOST, CENTRAL_PORT, ENGINE_HOST, ENGINE_PORT),\n"
      "the key file (--config, or $EVCP_CONFIG), then these options.\n\n"
      "On D-Bus it is org.evcp.Monitor1 at /org/evcp/Monitor, named org.evcp.Monitor\n"
      "(--bus-name), on the session bus unless --system; evcpctl reads it."));
  g_option_context_add_main_entries (option_context, entries, GETTEXT_PACKAGE);
  g_option_context_add_main_entries (option_context, extra_entries, GETTEXT_PACKAGE);
  evcp_dbus_options_add_entries (&ctx.dbus, option_context);
  g_option_context_set_translation_domain (option_context, GETTEXT_PACKAGE);
  if (!evcp_program_parse (option_context, "evcp-monitor", 0, &argc, &argv))
    return EVCP_EXIT_USAGE;
  if (!evcp_dbus_options_validate (&ctx.dbus, &error))
    {
      evcp_dbus_options_clear (&ctx.dbus);
      return evcp_program_usage_error ("evcp-monitor", error->message);
    }
  if (!evcp_program_check_address ("evcp-monitor", "--metrics-address", metrics_address) ||
      !evcp_program_check_port ("evcp-monitor", "--engine-port", engine_port) ||
      !evcp_program_check_port ("evcp-monitor", "--central-port", central_port) ||
      !evcp_program_check_int ("evcp-monitor", "--interval-ms", interval_ms, EVCP_MIN_HEALTH_INTERVAL_MS, 3600000) ||
      !evcp_program_check_int ("evcp-monitor", "--ko-after", ko_after, 1, 1000) ||
      !evcp_program_check_int ("evcp-monitor", "--ok-after", ok_after, 1, 1000))
    {
      evcp_dbus_options_clear (&ctx.dbus);
      return EVCP_EXIT_USAGE;
    }
  if (version)
    {
      g_autofree gchar *text = evcp_program_version ("evcp-monitor");

      g_print ("%s", text);
      evcp_dbus_options_clear (&ctx.dbus);
      return EXIT_SUCCESS;
    }
  evcp_log_init ("evcp-monitor", NULL);
  if (verbose)
    evcp_log_set_level (EVCP_LOG_LEVEL_DEBUG);

  {
    const EvcpConfigOptions options = {
      .config_file = config_file,
      .cp_id = cp_id,
      .kafka_brokers = brokers,
      .engine_host = engine_host,
      .central_host = central_host,
      .location = location,
      .plugin_dir = plugin_dir,
      .state_dir = state_dir,
      .monitor_metrics_address = metrics_address,
      .engine_port = engine_port == EVCP_OPTION_UNSET ? 0 : engine_port, /* 0: not given */
      .central_port = central_port == EVCP_OPTION_UNSET ? 0 : central_port,
      .health_interval_ms = interval_ms == EVCP_OPTION_UNSET ? 0 : interval_ms,
      .ko_after = ko_after == EVCP_OPTION_UNSET ? 0 : ko_after,
      .ok_after = ok_after == EVCP_OPTION_UNSET ? 0 : ok_after,
    };

    config = evcp_config_load (&options, &error);
  }
  if (check_config)
    {
      g_autofree gchar *state =
          config != NULL ? evcp_state_dir_path (config->state_dir, "monitor", config->cp_id) : NULL;
      const EvcpCheckScope scope = { .state_dir = state, .plugins = TRUE, .plugin_kind = EVCP_PLUGIN_MONITOR };

      evcp_dbus_options_clear (&ctx.dbus);
      return evcp_program_check_config ("evcp-monitor", config, error, &scope);
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

  service = evcp_monitoring_service_new (config);
  if (!evcp_monitoring_service_start (service, &error))
    goto fail;
  dbus_monitor = evcp_dbus_monitor_new (service);
  dbus_owner = evcp_dbus_options_create_owner (&ctx.dbus, evcp_dbus_monitor_get_skeleton (dbus_monitor),
                                               EVCP_DBUS_MONITOR_OBJECT_PATH, &error);
  if (dbus_owner == NULL)
    goto fail;
  g_signal_connect (dbus_owner, "name-lost", G_CALLBACK (on_dbus_name_lost), &ctx);
  evcp_dbus_owner_start (dbus_owner);
  g_signal_connect (service, "status-changed", G_CALLBACK (on_status_changed), NULL);
  g_idle_add (on_loop_running, service);

  g_main_loop_run (loop);

  evcp_platform_service_stopping (_("Stopping"));
  g_signal_handlers_disconnect_by_func (service, on_status_changed, NULL);
  evcp_monitoring_service_stop (service);
  evcp_dbus_owner_stop (dbus_owner);
  evcp_dbus_options_clear (&ctx.dbus);
  return ctx.dbus_failed ? EXIT_FAILURE : EXIT_SUCCESS;

fail:
  g_printerr ("evcp-monitor: %s\n", error->message);
  evcp_dbus_options_clear (&ctx.dbus);
  return g_error_matches (error, EVCP_ERROR, EVCP_ERROR_CONFIG) ? EXIT_CONFIG : EXIT_FAILURE;
}
