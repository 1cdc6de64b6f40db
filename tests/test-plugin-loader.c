/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The plugin loader: the ABI check (a module of another plugin ABI, or of
 * none, is refused with a log line and its entry point is never called:
 * those of tests/plugins/abi/ abort if it is), typed entry points, the
 * opaque configuration, and the handlers a plugin registers reaching the
 * Kafka service's dispatcher through libevcp.so.0. */
#include "evcp-build-config.h"

#include "evcp-test-expect.h"

#include <gmodule.h>

#include "evcp-kafka-service.h"
#include "evcp-plugin-loader.h"

static EvcpConfig *
make_config (void)
{
  EvcpConfig *config = evcp_config_new ();

  g_free (config->cp_id);
  config->cp_id = g_strdup ("CP-ABI");
  return config;
}

static void
expect_refusals (void)
{
  /* in the loader's (sorted) order: evcp-abi-none, then evcp-abi-wrong */
  evcp_test_expect_message ("evcp-plugin", G_LOG_LEVEL_WARNING,
                            "Plugin *evcp-abi-none." G_MODULE_SUFFIX " refused: it declares no plugin ABI version*");
  evcp_test_expect_message ("evcp-plugin", G_LOG_LEVEL_WARNING,
                            "Plugin *evcp-abi-wrong." G_MODULE_SUFFIX
                            " refused: it was built for plugin ABI 2, this program has ABI 1");
}

static void
test_engine_abi (void)
{
  const gchar *dir = g_getenv ("EVCP_ABI_PLUGIN_DIR");
  g_autoptr(EvcpConfig) config = make_config ();
  g_autoptr(EvcpKafkaService) service = evcp_kafka_service_new (config);
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) loaded = NULL;
  EvcpMessageHandler *handler;
  g_autoptr(EvcpMessage) mine = evcp_message_new_from_json ("{\"kind\":\"CP-ABI\"}", &error);
  g_autoptr(EvcpMessage) other = evcp_message_new_from_json ("{\"kind\":\"OTHER\"}", &error);

  g_assert_nonnull (dir);
  g_assert_no_error (error);
  evcp_test_expect_message ("evcp-plugin", G_LOG_LEVEL_MESSAGE, "Loaded plugin *evcp-abi-good." G_MODULE_SUFFIX);
  expect_refusals ();
  loaded = evcp_plugins_load (dir, EVCP_PLUGIN_ENGINE, service, config, &error);
  evcp_test_assert_expected_messages ();
  g_assert_no_error (error);
  g_assert_cmpstrv (loaded, ((const gchar *[]) { "evcp-abi-good." G_MODULE_SUFFIX, NULL }));

  /* registered through the SDK (libevcp.so.0) into this program's service,
   * with the CP_ID of the EvcpPluginConfig as its kind */
  handler = evcp_dispatcher_lookup (evcp_kafka_service_get_dispatcher (service), "abi-good");
  g_assert_nonnull (handler);
  g_assert_true (evcp_message_handler_can_handle (handler, mine));
  g_assert_false (evcp_message_handler_can_handle (handler, other));
  g_assert_true (evcp_kafka_service_unregister_handler (service, "abi-good", &error));
  g_assert_no_error (error);
  g_assert_null (evcp_dispatcher_lookup (evcp_kafka_service_get_dispatcher (service), "abi-good"));
}

/* The Monitor calls only evcp_monitor_plugin_init: the good module has none
 * (skipped); the other two are refused before anything is looked up. */
static void
test_monitor_abi (void)
{
  const gchar *dir = g_getenv ("EVCP_ABI_PLUGIN_DIR");
  g_autoptr(EvcpConfig) config = make_config ();
  g_autoptr(GObject) service = g_object_new (G_TYPE_OBJECT, NULL);
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) loaded = NULL;

  g_assert_nonnull (dir);
  expect_refusals ();
  loaded = evcp_plugins_load (dir, EVCP_PLUGIN_MONITOR, service, config, &error);
  evcp_test_assert_expected_messages ();
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (loaded), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/plugin-loader/engine-abi", test_engine_abi);
  g_test_add_func ("/plugin-loader/monitor-abi", test_monitor_abi);
  return g_test_run ();
}
