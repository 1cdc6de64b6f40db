/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* org.evcp.Engine1 and org.evcp.Monitor1 on a private bus: D-Bus activation
 * from the build tree's service files, every method, property and signal
 * through the generated proxies (errors of org.evcp.Error included),
 * MessageHandled with a Kafka (evcp-kafka-mock), the real gdbus tool from
 * the shell, the Engine going on without a bus and taking its name when
 * one appears, and the peer-to-peer server. */
#include "evcp-build-config.h"

#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "evcp-dbus-error.h"
#include "evcp-gdbus-generated.h"
#include "evcp-test-dbus.h"

#define ENGINE_NAME  "org.evcp.Engine"
#define ENGINE_PATH  "/org/evcp/Engine"
#define MONITOR_NAME "org.evcp.Monitor"
#define MONITOR_PATH "/org/evcp/Monitor"
#define WAIT_MS      EVCP_TEST_DBUS_WAIT_MS

/* autocleanup 'objects' covers the proxy and skeleton classes; the tests
 * hold the interfaces */
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EvcpGdbusEngine1, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EvcpGdbusMonitor1, g_object_unref)

/* ---- what the proxies hear, in order --------------------------------------- */

typedef struct {
  GPtrArray *events;   /* gchar *: "props:State=FAULT", "state:ACTIVE>FAULT cached=FAULT", … */
} Recorder;

static void
recorder_init (Recorder *r)
{
  r->events = g_ptr_array_new_with_free_func (g_free);
}

static void
recorder_clear (Recorder *r)
{
  g_clear_pointer (&r->events, g_ptr_array_unref);
}

static void
record (Recorder *r, gchar *event)
{
  g_test_message ("event: %s", event);
  g_ptr_array_add (r->events, event);
}

static gint
recorder_find (Recorder *r, const gchar *event)
{
  for (guint i = 0; i < r->events->len; i++)
    if (g_strcmp0 (g_ptr_array_index (r->events, i), event) == 0)
      return (gint) i;
  return -1;
}

static guint
recorder_count_prefix (Recorder *r, const gchar *prefix)
{
  guint n = 0;

  for (guint i = 0; i < r->events->len; i++)
    if (g_str_has_prefix (g_ptr_array_index (r->events, i), prefix))
      n++;
  return n;
}

typedef struct {
  Recorder    *r;
  const gchar *event;
} Awaited;

static gboolean
has_event (gpointer data)
{
  Awaited *a = data;

  return recorder_find (a->r, a->event) >= 0;
}

static void
wait_event (Recorder *r, const gchar *event)
{
  Awaited a = { r, event };

  if (!evcp_test_wait_until (NULL, has_event, &a, WAIT_MS))
    g_error ("no “%s” within %u ms", event, WAIT_MS);
}

static void
on_properties_changed (GDBusProxy *proxy, GVariant *changed, const gchar * const *invalidated,
                       gpointer user_data)
{
  GVariantIter iter;
  const gchar *name;
  GVariant *value;

  g_variant_iter_init (&iter, changed);
  while (g_variant_iter_next (&iter, "{&sv}", &name, &value))
    {
      if (g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
        record (user_data, g_strdup_printf ("props:%s=%s", name, g_variant_get_string (value, NULL)));
      else if (g_variant_is_of_type (value, G_VARIANT_TYPE_BOOLEAN))
        record (user_data, g_strdup_printf ("props:%s=%s", name, g_variant_get_boolean (value) ? "true" : "false"));
      else
        record (user_data, g_strdup_printf ("props:%s", name));
      g_variant_unref (value);
    }
}

static void
on_state_changed (EvcpGdbusEngine1 *engine, const gchar *old, const gchar *state, gpointer user_data)
{
  /* the cached property is already the new one: PropertiesChanged came first */
  record (user_data, g_strdup_printf ("state:%s>%s cached=%s", old, state,
                                      evcp_gdbus_engine1_get_state (engine)));
}

static void
on_message_handled (EvcpGdbusEngine1 *engine, const gchar *kind, const gchar *handler, gboolean ok,
                    gpointer user_data)
{
  record (user_data, g_strdup_printf ("handled:%s/%s/%s", kind, handler, ok ? "ok" : "failed"));
}

static void
on_status_changed (EvcpGdbusMonitor1 *monitor, GVariant *status, gpointer user_data)
{
  const gchar *state = "?", *previous = "?", *id = "?";

  g_variant_lookup (status, "status", "&s", &state);
  g_variant_lookup (status, "previous_status", "&s", &previous);
  g_variant_lookup (status, "id", "&s", &id);
  record (user_data, g_strdup_printf ("status:%s>%s id=%s cached=%s", previous, state, id,
                                      evcp_gdbus_monitor1_get_status (monitor)));
}

static EvcpGdbusEngine1 *
engine_proxy (GDBusConnection *connection, GDBusProxyFlags flags, const gchar *name, Recorder *r)
{
  g_autoptr(GError) error = NULL;
  EvcpGdbusEngine1 *engine = evcp_gdbus_engine1_proxy_new_sync (connection, flags, name, ENGINE_PATH,
                                                                 NULL, &error);

  g_assert_no_error (error);
  if (r != NULL)
    {
      g_signal_connect (engine, "g-properties-changed", G_CALLBACK (on_properties_changed), r);
      g_signal_connect (engine, "state-changed", G_CALLBACK (on_state_changed), r);
      g_signal_connect (engine, "message-handled", G_CALLBACK (on_message_handled), r);
    }
  return engine;
}

static guint32
metrics_u32 (EvcpGdbusEngine1 *engine, const gchar *key)
{
  g_autoptr(GVariant) metrics = NULL;
  g_autoptr(GError) error = NULL;
  guint32 value = G_MAXUINT32;

  evcp_gdbus_engine1_call_get_metrics_sync (engine, &metrics, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_variant_lookup (metrics, key, "u", &value));
  return value;
}

/* (name, enabled, handled, failures) of one handler */
static gboolean
find_handler (EvcpGdbusEngine1 *engine, const gchar *name, gboolean *enabled, guint64 *handled)
{
  g_autoptr(GVariant) handlers = NULL;
  g_autoptr(GError) error = NULL;
  GVariantIter iter;
  const gchar *n;
  gboolean e;
  guint64 h, f;

  evcp_gdbus_engine1_call_list_handlers_sync (engine, &handlers, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_variant_is_of_type (handlers, G_VARIANT_TYPE ("a(sbtt)")));
  g_variant_iter_init (&iter, handlers);
  while (g_variant_iter_next (&iter, "(&sbtt)", &n, &e, &h, &f))
    if (g_strcmp0 (n, name) == 0)
      {
        if (enabled != NULL)
          *enabled = e;
        if (handled != NULL)
          *handled = h;
        return TRUE;
      }
  return FALSE;
}

static void
assert_remote_error (const GError *error, gint code, const gchar *name)
{
  g_autofree gchar *remote = NULL;

  g_assert_error (error, EVCP_DBUS_ERROR, code);
  remote = g_dbus_error_get_remote_error (error);
  g_assert_cmpstr (remote, ==, name);
}

static gchar *
cmdline_of (guint32 pid)
{
  g_autofree gchar *path = g_strdup_printf ("/proc/%u/cmdline", pid);
  gchar *contents = NULL;

  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  return contents;   /* the first argument, NUL-terminated */
}

/* ---- activation -------------------------------------------------------------------- */

static void
test_activation (void)
{
  g_autoptr(EvcpTestBus) bus = evcp_test_bus_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(EvcpGdbusEngine1) quiet = NULL;
  g_autoptr(EvcpGdbusEngine1) engine = NULL;
  g_autoptr(GVariant) handlers = NULL;
  g_autofree gchar *owner = NULL;
  g_autofree gchar *cmdline = NULL;
  gint64 start;
  guint32 pid;

  g_assert_true (evcp_test_bus_start (bus, "session", NULL, &error));
  g_assert_no_error (error);

  /* no surprise: a proxy that may not auto-start finds nobody and starts nothing */
  quiet = engine_proxy (bus->connection, G_DBUS_PROXY_FLAGS_DO_NOT_AUTO_START, ENGINE_NAME, NULL);
  owner = g_dbus_proxy_get_name_owner (G_DBUS_PROXY (quiet));
  g_assert_null (owner);
  g_assert_false (evcp_gdbus_engine1_call_list_handlers_sync (quiet, &handlers, NULL, &error));
  /* GDBusProxy refuses to call a name without owner when it may not start it */
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
  g_clear_error (&error);
  g_assert_false (evcp_test_bus_has_owner (bus, ENGINE_NAME));

  /* a call to org.evcp.Engine starts the Engine from the service file */
  start = g_get_monotonic_time ();
  engine = engine_proxy (bus->connection, G_DBUS_PROXY_FLAGS_NONE, ENGINE_NAME, NULL);
  g_assert_true (evcp_gdbus_engine1_call_list_handlers_sync (engine, &handlers, NULL, &error));
  g_assert_no_error (error);
  g_test_message ("activation and the first call: %" G_GINT64_FORMAT " ms",
                  (g_get_monotonic_time () - start) / 1000);
  g_assert_cmpstr (evcp_gdbus_engine1_get_cp_id (engine), ==, EVCP_TEST_DBUS_CP);

  /* the build tree's program, started by the bus */
  pid = evcp_test_bus_get_pid (bus, ENGINE_NAME);
  g_assert_cmpuint (pid, >, 0);
  cmdline = cmdline_of (pid);
  g_assert_cmpstr (cmdline, ==, evcp_test_dbus_program ("EVCP_ENGINE"));
  g_assert_true (evcp_test_bus_has_owner (bus, ENGINE_NAME));

  /* started by the bus, it leaves with it (cleanly, by itself) */
  g_clear_object (&engine);
  g_clear_object (&quiet);
  evcp_test_bus_stop_daemon (bus);
  g_assert_true (evcp_test_pid_wait_gone (pid, WAIT_MS));
}

/* ---- the Engine's interface ------------------------------------------------------- */

static void
test_engine_interface (void)
{
  g_autoptr(EvcpTestBus) bus = evcp_test_bus_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(EvcpGdbusEngine1) engine = NULL;
  g_autoptr(GVariant) metrics = NULL;
  g_autoptr(GVariant) kinds = NULL;
  g_autoptr(GVariant) session = NULL;
  g_autofree gchar *long_reason = NULL;
  const gchar *text;
  guint16 port = 0;
  gboolean enabled = TRUE;
  guint64 handled = 1;
  Recorder r;

  recorder_init (&r);
  g_assert_true (evcp_test_bus_start (bus, "session", NULL, &error));
  engine = engine_proxy (bus->connection, G_DBUS_PROXY_FLAGS_NONE, ENGINE_NAME, &r);

  /* properties */
  g_assert_cmpstr (evcp_gdbus_engine1_get_cp_id (engine), ==, EVCP_TEST_DBUS_CP);
  g_assert_cmpstr (evcp_gdbus_engine1_get_version (engine), ==, PACKAGE_VERSION);
  g_assert_cmpstr (evcp_gdbus_engine1_get_state (engine), ==, "ACTIVE");
  g_assert_cmpstr (evcp_gdbus_engine1_get_fault_reason (engine), ==, "");
  g_assert_false (evcp_gdbus_engine1_get_kafka_connected (engine));
  g_assert_true (g_strv_contains ((const gchar * const []) { "STOPPED", "CONNECTING", "DISCONNECTED", NULL },
                                  evcp_gdbus_engine1_get_kafka_state (engine)));
  g_assert_false (evcp_gdbus_engine1_get_central_connected (engine));
  g_assert_true (g_strv_contains ((const gchar * const []) { "STOPPED", "CONNECTING", "AUTHENTICATING", NULL },
                                  evcp_gdbus_engine1_get_central_state (engine)));
  g_assert_cmpuint (g_variant_n_children (evcp_gdbus_engine1_get_session (engine)), ==, 0);

  /* ListHandlers, SetHandlerEnabled */
  g_assert_true (find_handler (engine, "user-info", &enabled, &handled));
  g_assert_true (enabled);
  g_assert_cmpuint (handled, ==, 0);
  g_assert_true (find_handler (engine, "charging-request", NULL, NULL));
  g_assert_true (find_handler (engine, "system-notification", NULL, NULL));
  g_assert_true (evcp_gdbus_engine1_call_set_handler_enabled_sync (engine, "user-info", FALSE, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (find_handler (engine, "user-info", &enabled, NULL));
  g_assert_false (enabled);
  g_assert_true (evcp_gdbus_engine1_call_set_handler_enabled_sync (engine, "user-info", TRUE, NULL, &error));
  g_assert_true (find_handler (engine, "user-info", &enabled, NULL));
  g_assert_true (enabled);
  g_assert_false (evcp_gdbus_engine1_call_set_handler_enabled_sync (engine, "no-such-handler", TRUE, NULL, &error));
  assert_remote_error (error, EVCP_DBUS_ERROR_NOT_FOUND, "org.evcp.Error.NotFound");
  g_clear_error (&error);

  /* SimulateFault: bad reasons are refused, nothing changes */
  g_assert_false (evcp_gdbus_engine1_call_simulate_fault_sync (engine, "two\nlines", NULL, &error));
  assert_remote_error (error, EVCP_DBUS_ERROR_INVALID_ARGS, "org.evcp.Error.InvalidArgs");
  g_clear_error (&error);
  long_reason = g_strnfill (201, 'x');
  g_assert_false (evcp_gdbus_engine1_call_simulate_fault_sync (engine, long_reason, NULL, &error));
  assert_remote_error (error, EVCP_DBUS_ERROR_INVALID_ARGS, "org.evcp.Error.InvalidArgs");
  g_clear_error (&error);
  g_assert_cmpstr (evcp_gdbus_engine1_get_state (engine), ==, "ACTIVE");

  /* SimulateFault: PropertiesChanged on State, then StateChanged */
  g_assert_true (evcp_gdbus_engine1_call_simulate_fault_sync (engine, "cable overheated", NULL, &error));
  g_assert_no_error (error);
  wait_event (&r, "state:ACTIVE>FAULT cached=FAULT");
  g_assert_cmpint (recorder_find (&r, "props:State=FAULT"), >=, 0);
  g_assert_cmpint (recorder_find (&r, "props:State=FAULT"), <, recorder_find (&r, "state:ACTIVE>FAULT cached=FAULT"));
  g_assert_cmpint (recorder_find (&r, "props:FaultReason=cable overheated"), >=, 0);
  g_assert_cmpstr (evcp_gdbus_engine1_get_fault_reason (engine), ==, "cable overheated");

  /* ClearFault: back to ACTIVE; again: nothing to do, no error */
  g_assert_true (evcp_gdbus_engine1_call_clear_fault_sync (engine, NULL, &error));
  g_assert_no_error (error);
  wait_event (&r, "state:FAULT>ACTIVE cached=ACTIVE");
  g_assert_cmpint (recorder_find (&r, "props:FaultReason="), >=, 0);
  g_assert_true (evcp_gdbus_engine1_call_clear_fault_sync (engine, NULL, &error));
  g_assert_no_error (error);

  /* SimulateFault with "": the Engine's default reason */
  g_ptr_array_set_size (r.events, 0);
  g_assert_true (evcp_gdbus_engine1_call_simulate_fault_sync (engine, "", NULL, &error));
  wait_event (&r, "state:ACTIVE>FAULT cached=FAULT");
  g_assert_cmpstr (evcp_gdbus_engine1_get_fault_reason (engine), !=, "");
  g_assert_true (evcp_gdbus_engine1_call_clear_fault_sync (engine, NULL, &error));

  /* Unplug with no session: a clear error of our own */
  g_assert_false (evcp_gdbus_engine1_call_unplug_sync (engine, NULL, &error));
  assert_remote_error (error, EVCP_DBUS_ERROR_NO_SESSION, "org.evcp.Error.NoSession");
  g_assert_nonnull (strstr (error->message, "no supply session"));
  g_clear_error (&error);

  /* GetMetrics */
  g_assert_true (evcp_gdbus_engine1_call_get_metrics_sync (engine, &metrics, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_variant_lookup (metrics, "cp-id", "&s", &text));
  g_assert_cmpstr (text, ==, EVCP_TEST_DBUS_CP);
  g_assert_true (g_variant_lookup (metrics, "state", "&s", &text));
  g_assert_cmpstr (text, ==, "ACTIVE");
  g_assert_true (g_variant_lookup (metrics, "health-port", "q", &port));
  g_assert_cmpuint (port, ==, bus->engine_port);
  g_assert_true (g_variant_lookup (metrics, "messages-received", "t", &handled));
  g_assert_true (g_variant_lookup (metrics, "kafka-connected", "b", &enabled));
  {
    guint64 dropped = G_MAXUINT64;

    g_assert_true (g_variant_lookup (metrics, "events-dropped", "t", &dropped));
    g_assert_cmpuint (dropped, ==, 0);
  }
  kinds = g_variant_lookup_value (metrics, "kinds", G_VARIANT_TYPE ("a{s(ttt)}"));
  g_assert_nonnull (kinds);
  session = g_variant_lookup_value (metrics, "session", G_VARIANT_TYPE_VARDICT);
  g_assert_nonnull (session);
  g_assert_nonnull (g_variant_lookup_value (metrics, "handlers", G_VARIANT_TYPE ("a(sbtt)")));
  g_assert_cmpuint (metrics_u32 (engine, "message-subscribers"), ==, 0);

  /* Properties.Set: every property is read-only */
  {
    g_autoptr(GVariant) reply =
      g_dbus_connection_call_sync (bus->connection, ENGINE_NAME, ENGINE_PATH,
                                   "org.freedesktop.DBus.Properties", "Set",
                                   g_variant_new ("(ssv)", "org.evcp.Engine1", "State", g_variant_new_string ("ACTIVE")),
                                   NULL, G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
    g_assert_null (reply);
    g_assert_nonnull (error);
    g_clear_error (&error);
  }

  recorder_clear (&r);
}

/* ---- MessageHandled, Session, Unplug: with a Kafka ----------------------------------- */

static void
produce (const gchar *bootstrap, const gchar *topic, const gchar *json)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (evcp_test_produce (bootstrap, topic, NULL, json, -1, &error));
  g_assert_no_error (error);
}

typedef struct {
  EvcpGdbusEngine1 *engine;
  const gchar      *key;
  guint32           value;
  const gchar      *handler;
  guint64           handled;
} MetricWait;

static gboolean
metric_is (gpointer data)
{
  MetricWait *w = data;

  return metrics_u32 (w->engine, w->key) == w->value;
}

static gboolean
handled_is (gpointer data)
{
  MetricWait *w = data;
  guint64 handled = 0;

  return find_handler (w->engine, w->handler, NULL, &handled) && handled >= w->handled;
}

static gboolean
kafka_connected (gpointer data)
{
  return evcp_gdbus_engine1_get_kafka_connected (data);
}

static void
test_engine_messages (void)
{
  g_autoptr(EvcpTestMockProcess) mock = NULL;
  g_autoptr(EvcpTestBus) bus = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(EvcpGdbusEngine1) engine = NULL;
  g_autoptr(EvcpGdbusEngine1) other = NULL;
  g_autoptr(GDBusConnection) other_connection = NULL;
  const gchar *args[] = { "--partitions=1", NULL };
  const gchar *bootstrap;
  const gchar *driver = NULL;
  GVariant *session;
  MetricWait w;
  guint handled_events;
  Recorder r;

  mock = evcp_test_mock_process_start (args, &error);
  g_assert_no_error (error);
  bootstrap = evcp_test_mock_process_get_bootstrap (mock);
  bus = evcp_test_bus_new (bootstrap);
  recorder_init (&r);
  g_assert_true (evcp_test_bus_start (bus, "session", NULL, &error));
  engine = engine_proxy (bus->connection, G_DBUS_PROXY_FLAGS_NONE, ENGINE_NAME, &r);

  /* KafkaConnected follows the connection (PropertiesChanged) */
  g_assert_true (evcp_test_wait_until (NULL, kafka_connected, engine, WAIT_MS));
  g_assert_cmpstr (evcp_gdbus_engine1_get_kafka_state (engine), ==, "CONNECTED");

  /* MessageHandled once subscribed */
  g_assert_true (evcp_gdbus_engine1_call_subscribe_messages_sync (engine, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (evcp_gdbus_engine1_call_subscribe_messages_sync (engine, NULL, &error));  /* counts once */
  g_assert_cmpuint (metrics_u32 (engine, "message-subscribers"), ==, 1);
  produce (bootstrap, "user_messages",
           "{\"kind\":\"USER_INFO\",\"data\":{\"user_id\":\"driver-dbus\",\"name\":\"Ana\",\"vehicle\":\"Zoe\"}}");
  wait_event (&r, "handled:USER_INFO/user-info/ok");

  /* a session: State SUPPLYING and the Session property, then Unplug */
  produce (bootstrap, "charging_requests",
           "{\"kind\":\"CHARGING_REQUEST\",\"data\":{\"user_id\":\"driver-dbus\",\"cp_id\":\"" EVCP_TEST_DBUS_CP "\","
           "\"requested_power\":22,\"max_duration\":3600}}");
  wait_event (&r, "handled:CHARGING_REQUEST/charging-request/ok");
  wait_event (&r, "state:ACTIVE>SUPPLYING cached=SUPPLYING");
  session = evcp_gdbus_engine1_get_session (engine);
  g_assert_true (g_variant_lookup (session, "driver", "&s", &driver));
  g_assert_cmpstr (driver, ==, "driver-dbus");
  g_assert_true (evcp_gdbus_engine1_call_unplug_sync (engine, NULL, &error));
  g_assert_no_error (error);
  wait_event (&r, "state:SUPPLYING>ACTIVE cached=ACTIVE");
  g_assert_cmpuint (g_variant_n_children (evcp_gdbus_engine1_get_session (engine)), ==, 0);
  g_assert_false (evcp_gdbus_engine1_call_unplug_sync (engine, NULL, &error));
  assert_remote_error (error, EVCP_DBUS_ERROR_NO_SESSION, "org.evcp.Error.NoSession");
  g_clear_error (&error);

  /* a subscriber that leaves the bus is forgotten */
  other_connection = g_dbus_connection_new_for_address_sync (bus->address,
                                                             G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                                             G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                                             NULL, NULL, &error);
  g_assert_no_error (error);
  other = engine_proxy (other_connection, G_DBUS_PROXY_FLAGS_DO_NOT_AUTO_START, ENGINE_NAME, NULL);
  g_assert_true (evcp_gdbus_engine1_call_subscribe_messages_sync (other, NULL, &error));
  g_assert_cmpuint (metrics_u32 (engine, "message-subscribers"), ==, 2);
  g_clear_object (&other);
  g_dbus_connection_close_sync (other_connection, NULL, &error);
  g_assert_no_error (error);
  w = (MetricWait) { engine, "message-subscribers", 1, NULL, 0 };
  g_assert_true (evcp_test_wait_until (NULL, metric_is, &w, WAIT_MS));

  /* unsubscribed, nothing more is emitted: the message below is handled,
   * and a signal emitted for it would come before the reply that says so */
  g_assert_true (evcp_gdbus_engine1_call_unsubscribe_messages_sync (engine, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (metrics_u32 (engine, "message-subscribers"), ==, 0);
  handled_events = recorder_count_prefix (&r, "handled:");
  produce (bootstrap, "user_messages", "{\"kind\":\"USER_INFO\",\"data\":{\"user_id\":\"u2\"}}");
  w = (MetricWait) { engine, NULL, 0, "user-info", 2 };
  g_assert_true (evcp_test_wait_until (NULL, handled_is, &w, WAIT_MS));
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_cmpuint (recorder_count_prefix (&r, "handled:"), ==, handled_events);

  g_clear_object (&engine);
  recorder_clear (&r);
  g_clear_pointer (&bus, evcp_test_bus_free);
}

/* ---- the Monitor's interface ------------------------------------------------------ */

static gboolean
monitor_ok (gpointer data)
{
  return g_strcmp0 (evcp_gdbus_monitor1_get_status (data), "OK") == 0;
}

static void
test_monitor_interface (void)
{
  g_autoptr(EvcpTestBus) bus = evcp_test_bus_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(EvcpGdbusEngine1) engine = NULL;
  g_autoptr(EvcpGdbusMonitor1) monitor = NULL;
  g_autoptr(GVariant) status = NULL;
  g_autoptr(GVariant) metrics = NULL;
  g_autofree gchar *engine_address = NULL;
  const gchar *text;
  gdouble availability = -1;
  guint64 checks = 0;
  Recorder r;

  recorder_init (&r);
  g_assert_true (evcp_test_bus_start (bus, "session", NULL, &error));
  engine = engine_proxy (bus->connection, G_DBUS_PROXY_FLAGS_NONE, ENGINE_NAME, &r);
  monitor = evcp_gdbus_monitor1_proxy_new_sync (bus->connection, G_DBUS_PROXY_FLAGS_NONE, MONITOR_NAME,
                                                MONITOR_PATH, NULL, &error);
  g_assert_no_error (error);
  g_signal_connect (monitor, "g-properties-changed", G_CALLBACK (on_properties_changed), &r);
  g_signal_connect (monitor, "status-changed", G_CALLBACK (on_status_changed), &r);

  g_assert_cmpstr (evcp_gdbus_monitor1_get_cp_id (monitor), ==, EVCP_TEST_DBUS_CP);
  g_assert_cmpstr (evcp_gdbus_monitor1_get_version (monitor), ==, PACKAGE_VERSION);
  engine_address = g_strdup_printf ("localhost:%u", bus->engine_port);
  g_assert_cmpstr (evcp_gdbus_monitor1_get_engine (monitor), ==, engine_address);
  g_assert_false (evcp_gdbus_monitor1_get_central_connected (monitor));
  /* the activated Monitor checks the activated Engine */
  g_assert_true (evcp_test_wait_until (NULL, monitor_ok, monitor, WAIT_MS));
  g_assert_cmpstr (evcp_gdbus_monitor1_get_reason (monitor), ==, "");
  availability = evcp_gdbus_monitor1_get_availability (monitor);
  g_assert_cmpfloat (availability, >, 0.0);
  g_assert_cmpfloat (availability, <=, 1.0);

  /* GetStatus, GetMetrics */
  g_assert_true (evcp_gdbus_monitor1_call_get_status_sync (monitor, &status, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_variant_lookup (status, "id", "&s", &text));
  g_assert_cmpstr (text, ==, EVCP_TEST_DBUS_CP);
  g_assert_true (g_variant_lookup (status, "status", "&s", &text));
  g_assert_cmpstr (text, ==, "OK");
  g_assert_true (g_variant_lookup (status, "checks", "t", &checks));
  g_assert_cmpuint (checks, >, 0);
  g_assert_true (evcp_gdbus_monitor1_call_get_metrics_sync (monitor, &metrics, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_variant_lookup (metrics, "engine", "&s", &text));
  g_assert_cmpstr (text, ==, engine_address);
  g_assert_true (g_variant_lookup (metrics, "availability", "d", &availability));
  g_assert_nonnull (g_variant_lookup_value (metrics, "latency_p99_ms", G_VARIANT_TYPE_DOUBLE));
  g_assert_nonnull (g_variant_lookup_value (metrics, "alerts_firing", G_VARIANT_TYPE_STRING_ARRAY));

  /* a fault in the Engine: the Monitor's Status goes KO (PropertiesChanged
   * first), StatusChanged carries the new status */
  g_assert_true (evcp_gdbus_engine1_call_simulate_fault_sync (engine, "test fault", NULL, &error));
  g_assert_no_error (error);
  wait_event (&r, "status:OK>KO id=" EVCP_TEST_DBUS_CP " cached=KO");
  g_assert_cmpint (recorder_find (&r, "props:Status=KO"), >=, 0);
  g_assert_cmpint (recorder_find (&r, "props:Status=KO"), <,
                   recorder_find (&r, "status:OK>KO id=" EVCP_TEST_DBUS_CP " cached=KO"));
  g_assert_nonnull (strstr (evcp_gdbus_monitor1_get_reason (monitor), "test fault"));
  g_assert_true (evcp_gdbus_engine1_call_clear_fault_sync (engine, NULL, &error));
  wait_event (&r, "status:KO>OK id=" EVCP_TEST_DBUS_CP " cached=OK");
  g_assert_cmpstr (evcp_gdbus_monitor1_get_reason (monitor), ==, "");
  /* Availability moved and was announced */
  g_assert_cmpint (recorder_find (&r, "props:Availability"), >=, 0);

  g_clear_object (&monitor);
  g_clear_object (&engine);
  recorder_clear (&r);
}

/* ---- gdbus from the shell ---------------------------------------------------------------- */

static void
test_gdbus_tool (void)
{
  g_autoptr(EvcpTestBus) bus = evcp_test_bus_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autofree gchar *env_address = NULL;
  g_autoptr(EvcpTestRun) call = NULL;
  g_autoptr(EvcpTestRun) introspect = NULL;
  g_autoptr(EvcpTestRun) monitor = NULL;
  g_autoptr(EvcpTestRun) fault = NULL;
  g_autoptr(EvcpTestRun) unplug = NULL;
  g_autoptr(EvcpTestRun) get = NULL;

  g_assert_true (evcp_test_bus_start (bus, "session", NULL, &error));
  env_address = g_strdup_printf ("DBUS_SESSION_BUS_ADDRESS=%s", bus->address);

  /* docs/dbus.md's commands, as a user types them: the first call activates */
  call = evcp_test_run ((const gchar * const []) { env_address, NULL },
                        (const gchar * const []) { "/bin/sh", "-c",
                          "gdbus call --session --dest org.evcp.Engine --object-path /org/evcp/Engine "
                          "--method org.evcp.Engine1.ListHandlers", NULL });
  g_assert_cmpint (call->status, ==, 0);
  g_assert_nonnull (strstr (call->out, "('user-info', true, uint64 0, uint64 0)"));

  introspect = evcp_test_run ((const gchar * const []) { env_address, NULL },
                              (const gchar * const []) { "/bin/sh", "-c",
                                "gdbus introspect --session --dest org.evcp.Engine --object-path /org/evcp/Engine", NULL });
  g_assert_cmpint (introspect->status, ==, 0);
  for (const gchar * const *s = (const gchar * const []) {
         "interface org.evcp.Engine1", "ListHandlers(out a(sbtt) handlers)", "SimulateFault(in  s reason)",
         "StateChanged(s old,", "MessageHandled(s kind,", "readonly s State = 'ACTIVE'",
         "readonly b KafkaConnected = false", "readonly b CentralConnected = false",
         "readonly s CpId = '" EVCP_TEST_DBUS_CP "'", NULL }; *s != NULL; s++)
    g_assert_nonnull (strstr (introspect->out, *s));

  monitor = evcp_test_run ((const gchar * const []) { env_address, NULL },
                           (const gchar * const []) { "/bin/sh", "-c",
                             "gdbus introspect --session --dest org.evcp.Monitor --object-path /org/evcp/Monitor", NULL });
  g_assert_cmpint (monitor->status, ==, 0);
  for (const gchar * const *s = (const gchar * const []) {
         "interface org.evcp.Monitor1", "GetMetrics(out a{sv} metrics)", "StatusChanged(a{sv} status)",
         "readonly d Availability", "readonly s Status", NULL }; *s != NULL; s++)
    g_assert_nonnull (strstr (monitor->out, *s));

  fault = evcp_test_run ((const gchar * const []) { env_address, NULL },
                         (const gchar * const []) { "/bin/sh", "-c",
                           "gdbus call --session --dest org.evcp.Engine --object-path /org/evcp/Engine "
                           "--method org.evcp.Engine1.SimulateFault 'from the shell'", NULL });
  g_assert_cmpint (fault->status, ==, 0);
  get = evcp_test_run ((const gchar * const []) { env_address, NULL },
                       (const gchar * const []) { "/bin/sh", "-c",
                         "gdbus call --session --dest org.evcp.Engine --object-path /org/evcp/Engine "
                         "--method org.freedesktop.DBus.Properties.Get org.evcp.Engine1 FaultReason", NULL });
  g_assert_cmpint (get->status, ==, 0);
  g_assert_nonnull (strstr (get->out, "<'from the shell'>"));

  unplug = evcp_test_run ((const gchar * const []) { env_address, NULL },
                          (const gchar * const []) { "/bin/sh", "-c",
                            "gdbus call --session --dest org.evcp.Engine --object-path /org/evcp/Engine "
                            "--method org.evcp.Engine1.Unplug", NULL });
  g_assert_cmpint (unplug->status, !=, 0);
  g_assert_nonnull (strstr (unplug->err, "org.evcp.Error.NoSession"));
}

/* ---- D-Bus is optional for the Engine ----------------------------------------------------- */

typedef struct {
  const gchar *path;
  const gchar *needle;
} LogWait;

static gboolean
log_has (gpointer data)
{
  LogWait *w = data;

  return evcp_test_file_contains (w->path, w->needle);
}

/* An Engine started by hand (not by the bus), with a state directory and a
 * health port of its own. */
static GSubprocess *
spawn_engine (EvcpTestBus *bus, const gchar *log, const gchar * const *extra)
{
  g_autoptr(GSubprocessLauncher) launcher = evcp_test_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
  g_autoptr(GPtrArray) args = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;
  g_autofree gchar *state_dir = g_strdup_printf ("%s.state", log);
  GSubprocess *process;

  g_subprocess_launcher_setenv (launcher, "DBUS_SESSION_BUS_ADDRESS", bus->address, TRUE);
  g_subprocess_launcher_setenv (launcher, "DBUS_SYSTEM_BUS_ADDRESS", bus->address, TRUE);
  g_subprocess_launcher_unsetenv (launcher, "DBUS_STARTER_BUS_TYPE");
  g_subprocess_launcher_unsetenv (launcher, "DBUS_STARTER_ADDRESS");
  g_subprocess_launcher_unsetenv (launcher, "EVCP_CONFIG");
  g_subprocess_launcher_unsetenv (launcher, "ENGINE_PORT");
  evcp_test_isolate_launcher (launcher, state_dir);
  g_subprocess_launcher_set_stderr_file_path (launcher, log);
  g_ptr_array_add (args, g_strdup (evcp_test_dbus_program ("EVCP_ENGINE")));
  g_ptr_array_add (args, g_strdup ("--no-keys"));
  g_ptr_array_add (args, g_strdup ("--cp-id"));
  g_ptr_array_add (args, g_strdup (EVCP_TEST_DBUS_CP));
  g_ptr_array_add (args, g_strdup ("--brokers"));
  g_ptr_array_add (args, g_strdup (bus->brokers));
  for (guint i = 0; extra != NULL && extra[i] != NULL; i++)
    g_ptr_array_add (args, g_strdup (extra[i]));
  g_ptr_array_add (args, NULL);
  process = g_subprocess_launcher_spawnv (launcher, (const gchar * const *) args->pdata, &error);
  g_assert_no_error (error);
  return process;
}

static gboolean
exited (gpointer data)
{
  return g_subprocess_get_identifier (G_SUBPROCESS (data)) == NULL;
}

static void
stop_process (GSubprocess *process, gint expected_status)
{
  g_subprocess_send_signal (process, SIGTERM);
  g_assert_true (evcp_test_wait_until (NULL, exited, process, WAIT_MS));
  g_subprocess_wait (process, NULL, NULL);
  g_assert_true (g_subprocess_get_if_exited (process));
  g_assert_cmpint (g_subprocess_get_exit_status (process), ==, expected_status);
}

static void
test_bus_optional (void)
{
  g_autoptr(EvcpTestBus) bus = evcp_test_bus_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) engine = NULL;
  g_autoptr(GSubprocess) strict = NULL;
  g_autofree gchar *log = g_build_filename (bus->dir, "engine.log", NULL);
  g_autofree gchar *strict_log = g_build_filename (bus->dir, "strict.log", NULL);
  LogWait w;

  /* no bus at all: the Engine says so and goes on */
  engine = spawn_engine (bus, log, (const gchar * const []) { "--session", NULL });
  w = (LogWait) { log, "is not available on the session bus" };
  g_assert_true (evcp_test_wait_until (NULL, log_has, &w, WAIT_MS));
  w = (LogWait) { log, "Engine of " EVCP_TEST_DBUS_CP " started" };
  g_assert_true (evcp_test_wait_until (NULL, log_has, &w, WAIT_MS));
  g_assert_nonnull (g_subprocess_get_identifier (engine));

  /* unless --require-bus: then it stops, with a failure status */
  strict = spawn_engine (bus, strict_log, (const gchar * const []) { "--session", "--require-bus", NULL });
  g_assert_true (evcp_test_wait_until (NULL, exited, strict, WAIT_MS));
  g_subprocess_wait (strict, NULL, NULL);
  g_assert_true (g_subprocess_get_if_exited (strict));
  g_assert_cmpint (g_subprocess_get_exit_status (strict), ==, 1);
  g_assert_true (evcp_test_file_contains (strict_log, "D-Bus is required"));

  /* the bus appears: the Engine takes its name by itself */
  g_assert_true (evcp_test_bus_start (bus, "session", NULL, &error));
  g_assert_no_error (error);
  g_assert_true (evcp_test_bus_wait_owner (bus, ENGINE_NAME, TRUE, WAIT_MS));

  /* the bus goes away: a service started by hand goes on without it */
  evcp_test_bus_stop_daemon (bus);
  w = (LogWait) { log, "the bus connection was closed" };
  g_assert_true (evcp_test_wait_until (NULL, log_has, &w, WAIT_MS));
  g_assert_nonnull (g_subprocess_get_identifier (engine));

  /* and stops cleanly on SIGTERM */
  stop_process (engine, 0);
}

/* ---- peer to peer ----------------------------------------------------------------------------- */

static gboolean
peer_connects (gpointer data)
{
  g_autoptr(GDBusConnection) connection =
    g_dbus_connection_new_for_address_sync (data, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT,
                                            NULL, NULL, NULL);

  if (connection != NULL)
    g_dbus_connection_close_sync (connection, NULL, NULL);
  return connection != NULL;
}

static void
test_peer_to_peer (void)
{
  g_autoptr(EvcpTestBus) bus = evcp_test_bus_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GDBusConnection) connection = NULL;
  g_autoptr(EvcpGdbusEngine1) engine = NULL;
  g_autoptr(EvcpTestRun) status = NULL;
  g_autoptr(EvcpTestRun) refused = NULL;
  g_autoptr(EvcpTestRun) missing = NULL;
  g_autoptr(JsonNode) json = NULL;
  g_autofree gchar *log = g_build_filename (bus->dir, "p2p-engine.log", NULL);
  g_autofree gchar *socket_path = g_build_filename (bus->dir, "engine.peer", NULL);
  g_autofree gchar *address = g_strdup_printf ("unix:path=%s", socket_path);
  g_autofree gchar *missing_address = g_strdup_printf ("unix:path=%s/nobody-listens", bus->dir);
  g_autofree gchar *why = NULL;
  JsonObject *o;
  Recorder r;

  recorder_init (&r);
  process = spawn_engine (bus, log, (const gchar * const []) { "--no-bus", "--peer-address", address, NULL });
  g_assert_true (evcp_test_wait_until (NULL, peer_connects, address, WAIT_MS));

  /* the generated proxy, without a bus name */
  connection = g_dbus_connection_new_for_address_sync (address, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT,
                                                       NULL, NULL, &error);
  g_assert_no_error (error);
  engine = engine_proxy (connection, G_DBUS_PROXY_FLAGS_NONE, NULL, &r);
  g_assert_cmpstr (evcp_gdbus_engine1_get_cp_id (engine), ==, EVCP_TEST_DBUS_CP);
  g_assert_true (evcp_gdbus_engine1_call_simulate_fault_sync (engine, "peer to peer", NULL, &error));
  g_assert_no_error (error);
  wait_event (&r, "state:ACTIVE>FAULT cached=FAULT");

  /* evcpctl --address */
  status = evcp_test_run (NULL, (const gchar * const []) { evcp_test_dbus_program ("EVCP_CTL"), "--json",
                                                           "--address", address, "status", "engine", NULL });
  g_assert_cmpint (status->status, ==, 0);
  json = evcp_test_parse_json (status->out);
  o = json_object_get_object_member (json_node_get_object (json), "engine");
  g_assert_cmpstr (json_object_get_string_member (o, "state"), ==, "FAULT");
  g_assert_cmpstr (json_object_get_string_member (o, "fault_reason"), ==, "peer to peer");
  g_clear_pointer (&status, evcp_test_run_free);
  status = evcp_test_run (NULL, (const gchar * const []) { evcp_test_dbus_program ("EVCP_CTL"),
                                                           "--address", address, "clear-fault", NULL });
  g_assert_cmpint (status->status, ==, 0);
  wait_event (&r, "state:FAULT>ACTIVE cached=ACTIVE");
  missing = evcp_test_run (NULL, (const gchar * const []) { evcp_test_dbus_program ("EVCP_CTL"),
                                                            "--address", missing_address, "status", "engine", NULL });
  g_assert_cmpint (missing->status, ==, 3);

  /* another user is refused, even when the socket lets it connect */
  g_assert_cmpint (g_chmod (socket_path, 0777), ==, 0);
  refused = evcp_test_run_unprivileged (NULL, (const gchar * const []) { evcp_test_dbus_program ("EVCP_CTL"),
                                                                        "--address", address, "fault", "x", NULL },
                                        &why);
  if (refused != NULL)
    {
      g_assert_cmpint (refused->status, ==, 3);
      g_assert_cmpstr (evcp_gdbus_engine1_get_state (engine), ==, "ACTIVE");
    }
  else
    g_test_message ("not checked that another user is refused: %s", why);

  g_clear_object (&engine);
  g_dbus_connection_close_sync (connection, NULL, NULL);
  stop_process (process, 0);
  recorder_clear (&r);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  /* org.evcp.Error.* replies become EVCP_DBUS_ERROR errors, as in evcpctl */
  (void) EVCP_DBUS_ERROR;
  g_test_add_func ("/dbus/activation", test_activation);
  g_test_add_func ("/dbus/engine/interface", test_engine_interface);
  g_test_add_func ("/dbus/engine/messages", test_engine_messages);
  g_test_add_func ("/dbus/monitor/interface", test_monitor_interface);
  g_test_add_func ("/dbus/gdbus-tool", test_gdbus_tool);
  g_test_add_func ("/dbus/engine/bus-optional", test_bus_optional);
  g_test_add_func ("/dbus/peer-to-peer", test_peer_to_peer);
  return g_test_run ();
}
