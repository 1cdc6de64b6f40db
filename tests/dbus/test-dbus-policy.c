/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The system bus policy (data/org.evcp.conf.in, as built) loaded by a real
 * dbus-daemon with the system bus's own default policy (that of
 * /usr/share/dbus-1/system.conf when present): it loads, a broken copy does
 * not; anyone reads, an unprivileged caller is refused every changing
 * method and may not own the names, root may, and the members of the
 * group named in it may change the charging point. Switching to an
 * unprivileged user (nobody, with setpriv or runuser) needs root: otherwise
 * those checks are skipped, saying so. And the files installed with it:
 * the activation files, the systemd units (systemd-analyze verify, with
 * the build tree's programs) and the sysusers.d file (systemd-sysusers on
 * an empty root). */
#include "evcp-build-config.h"

#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "evcp-test-dbus.h"

#define WAIT_MS EVCP_TEST_DBUS_WAIT_MS

/* What a system bus denies and allows before any service's policy. */
static const gchar fallback_default_policy[] =
  "  <policy context=\"default\">\n"
  "    <allow user=\"*\"/>\n"
  "    <deny own=\"*\"/>\n"
  "    <deny send_type=\"method_call\"/>\n"
  "    <allow send_type=\"signal\"/>\n"
  "    <allow send_requested_reply=\"true\" send_type=\"method_return\"/>\n"
  "    <allow send_requested_reply=\"true\" send_type=\"error\"/>\n"
  "    <allow receive_type=\"method_call\"/>\n"
  "    <allow receive_type=\"method_return\"/>\n"
  "    <allow receive_type=\"error\"/>\n"
  "    <allow receive_type=\"signal\"/>\n"
  "    <allow send_destination=\"org.freedesktop.DBus\" send_interface=\"org.freedesktop.DBus\"/>\n"
  "    <allow send_destination=\"org.freedesktop.DBus\" send_interface=\"org.freedesktop.DBus.Introspectable\"/>\n"
  "    <allow send_destination=\"org.freedesktop.DBus\" send_interface=\"org.freedesktop.DBus.Properties\"/>\n"
  "  </policy>\n";

/* The first <policy context="default"> of the installed system.conf, so that
 * the test sees the policy in the company it keeps on a real system. */
static gchar *
system_default_policy (void)
{
  g_autofree gchar *conf = NULL;
  const gchar *start, *end;

  if (g_file_get_contents ("/usr/share/dbus-1/system.conf", &conf, NULL, NULL) &&
      (start = strstr (conf, "<policy context=\"default\">")) != NULL &&
      (end = strstr (start, "</policy>")) != NULL)
    return g_strdup_printf ("  %.*s</policy>\n", (int) (end - start), start);
  return g_strdup (fallback_default_policy);
}

/* The bus config: the system default policy, then @policy_path included. */
static gchar *
system_config (const gchar *policy_path)
{
  g_autofree gchar *defaults = system_default_policy ();

  return g_strdup_printf ("%s  <include>%s</include>\n", defaults, policy_path);
}

static gchar *
policy_copy (EvcpTestBus *bus, const gchar *name, const gchar *from, const gchar *to)
{
  g_autofree gchar *policy = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) text = NULL;
  gchar *path = g_build_filename (bus->dir, name, NULL);

  g_assert_true (g_file_get_contents (evcp_test_dbus_program ("EVCP_DBUS_POLICY"), &policy, NULL, &error));
  text = g_string_new (policy);
  g_assert_cmpuint (g_string_replace (text, from, to, 0), >, 0);
  g_assert_true (g_file_set_contents (path, text->str, -1, &error));
  return path;
}

static EvcpTestRun *
ctl_as (EvcpTestBus *bus, gboolean unprivileged, const gchar * const *args, gchar **why)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autofree gchar *env_address = g_strdup_printf ("DBUS_SYSTEM_BUS_ADDRESS=%s", bus->address);
  const gchar *env[] = { env_address, NULL };

  g_ptr_array_add (argv, (gpointer) evcp_test_dbus_program ("EVCP_CTL"));
  g_ptr_array_add (argv, (gpointer) "--system");
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  if (unprivileged)
    return evcp_test_run_unprivileged (env, (const gchar * const *) argv->pdata, why);
  return evcp_test_run (env, (const gchar * const *) argv->pdata);
}

static const gchar *
engine_state (EvcpTestBus *bus)
{
  static gchar state[32];
  g_autoptr(EvcpTestRun) run = ctl_as (bus, FALSE, (const gchar * const []) { "--json", "status", "engine", NULL }, NULL);
  g_autoptr(JsonNode) json = NULL;

  g_assert_cmpint (run->status, ==, 0);
  json = evcp_test_parse_json (run->out);
  g_strlcpy (state, json_object_get_string_member (json_object_get_object_member (json_node_get_object (json), "engine"),
                                                   "state"), sizeof state);
  return state;
}

/* ---- it loads --------------------------------------------------------------------- */

static void
test_loads (void)
{
  g_autoptr(EvcpTestBus) bus = evcp_test_bus_new (NULL);
  g_autoptr(EvcpTestBus) broken = evcp_test_bus_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autofree gchar *config = system_config (evcp_test_dbus_program ("EVCP_DBUS_POLICY"));
  g_autofree gchar *broken_policy = policy_copy (broken, "broken.conf", "<allow own_prefix=", "<allow own_prefixx=");
  g_autofree gchar *broken_config = system_config (broken_policy);

  g_assert_true (evcp_test_bus_start (bus, "system", config, &error));
  g_assert_no_error (error);
  g_assert_true (g_dbus_connection_get_unique_name (bus->connection) != NULL);

  /* the same daemon refuses a policy it cannot read: loading means parsing */
  g_assert_false (evcp_test_bus_start (broken, "system", broken_config, &error));
  g_assert_nonnull (error);
  g_test_message ("a broken copy: %s", error->message);
  g_clear_error (&error);
  g_clear_object (&broken->daemon);
}

/* ---- who may do what ------------------------------------------------------------------ */

static void
test_refused (void)
{
  g_autoptr(EvcpTestBus) bus = evcp_test_bus_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(EvcpTestRun) probe = NULL;
  g_autoptr(EvcpTestRun) run = NULL;
  g_autoptr(JsonNode) json = NULL;
  g_autofree gchar *config = system_config (evcp_test_dbus_program ("EVCP_DBUS_POLICY"));
  g_autofree gchar *why = NULL;
  g_autofree gchar *env_address = NULL;
  g_autofree gchar *nobody_state = NULL;
  g_autofree gchar *engine_port = NULL;
  g_autofree gchar *central_port = NULL;

  g_assert_true (evcp_test_bus_start (bus, "system", config, &error));
  g_assert_no_error (error);

  probe = ctl_as (bus, TRUE, (const gchar * const []) { "--version", NULL }, &why);
  if (probe == NULL)
    {
      g_test_skip (why);
      return;
    }
  g_assert_cmpint (probe->status, ==, 0);

  /* root may own the name: D-Bus activation under this policy */
  run = ctl_as (bus, FALSE, (const gchar * const []) { "--start", "status", "engine", NULL }, NULL);
  g_assert_cmpint (run->status, ==, 0);
  g_clear_pointer (&run, evcp_test_run_free);

  /* anyone reads */
  run = ctl_as (bus, TRUE, (const gchar * const []) { "--json", "status", "engine", NULL }, &why);
  g_assert_cmpint (run->status, ==, 0);
  json = evcp_test_parse_json (run->out);
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (json_node_get_object (json), "engine"),
                                                  "cp_id"), ==, EVCP_TEST_DBUS_CP);
  g_clear_pointer (&json, json_node_unref);
  g_clear_pointer (&run, evcp_test_run_free);
  for (const gchar * const *command = (const gchar * const []) { "handlers", "metrics", NULL }; *command != NULL; command++)
    {
      const gchar *args[] = { *command, g_strcmp0 (*command, "metrics") == 0 ? "engine" : NULL, NULL };

      run = ctl_as (bus, TRUE, args, &why);
      g_assert_cmpint (run->status, ==, 0);
      g_clear_pointer (&run, evcp_test_run_free);
    }

  /* an unprivileged caller is refused every changing method, by the bus */
  run = ctl_as (bus, FALSE, (const gchar * const []) { "fault", "set by root", NULL }, NULL);
  g_assert_cmpint (run->status, ==, 0);
  g_clear_pointer (&run, evcp_test_run_free);
  {
    const gchar * const *changing[] = {
      (const gchar * const []) { "--json", "clear-fault", NULL },
      (const gchar * const []) { "--json", "fault", "by nobody", NULL },
      (const gchar * const []) { "--json", "unplug", NULL },
      (const gchar * const []) { "--json", "handler", "disable", "user-info", NULL },
    };

    for (guint i = 0; i < G_N_ELEMENTS (changing); i++)
      {
        JsonObject *e;

        run = ctl_as (bus, TRUE, changing[i], &why);
        g_assert_cmpint (run->status, ==, 1);
        g_assert_nonnull (strstr (run->err, "Permission denied"));
        json = evcp_test_parse_json (run->out);
        e = json_object_get_object_member (json_node_get_object (json), "error");
        /* AccessDenied from the bus, never the Engine's own answer (NoSession…) */
        g_assert_cmpstr (json_object_get_string_member (e, "name"), ==, "org.freedesktop.DBus.Error.AccessDenied");
        g_clear_pointer (&json, json_node_unref);
        g_clear_pointer (&run, evcp_test_run_free);
      }
  }
  g_assert_cmpstr (engine_state (bus), ==, "FAULT");
  run = ctl_as (bus, FALSE, (const gchar * const []) { "--json", "handlers", NULL }, NULL);
  g_assert_nonnull (strstr (run->out, "{\"name\":\"user-info\",\"enabled\":true"));
  g_clear_pointer (&run, evcp_test_run_free);

  /* the same with the real gdbus tool, and Properties.Set */
  env_address = g_strdup_printf ("DBUS_SYSTEM_BUS_ADDRESS=%s", bus->address);
  run = evcp_test_run_unprivileged ((const gchar * const []) { env_address, NULL },
                                    (const gchar * const []) { "gdbus", "call", "--system", "--dest", "org.evcp.Engine",
                                                               "--object-path", "/org/evcp/Engine", "--method",
                                                               "org.evcp.Engine1.ClearFault", NULL }, &why);
  g_assert_cmpint (run->status, !=, 0);
  g_assert_nonnull (strstr (run->err, "org.freedesktop.DBus.Error.AccessDenied"));
  g_clear_pointer (&run, evcp_test_run_free);
  run = evcp_test_run_unprivileged ((const gchar * const []) { env_address, NULL },
                                    (const gchar * const []) { "gdbus", "call", "--system", "--dest", "org.evcp.Engine",
                                                               "--object-path", "/org/evcp/Engine", "--method",
                                                               "org.freedesktop.DBus.Properties.Set", "org.evcp.Engine1",
                                                               "State", "<'ACTIVE'>", NULL }, &why);
  g_assert_cmpint (run->status, !=, 0);
  g_assert_nonnull (strstr (run->err, "org.freedesktop.DBus.Error.AccessDenied"));
  g_clear_pointer (&run, evcp_test_run_free);
  g_assert_cmpstr (engine_state (bus), ==, "FAULT");

  /* nor may it own the names: an Engine run by nobody with --require-bus stops */
  nobody_state = g_build_filename (bus->dir, "nobody-state", NULL);
  g_assert_cmpint (g_mkdir (nobody_state, 0777), ==, 0);
  g_assert_cmpint (g_chmod (nobody_state, 0777), ==, 0);
  engine_port = g_strdup_printf ("ENGINE_PORT=%u", evcp_test_free_port ());
  central_port = g_strdup_printf ("CENTRAL_PORT=%u", evcp_test_free_port ());
  run = evcp_test_run_unprivileged ((const gchar * const []) { env_address, engine_port, central_port,
                                                               "CENTRAL_HOST=127.0.0.1", NULL },
                                    (const gchar * const []) { evcp_test_dbus_program ("EVCP_ENGINE"), "--system",
                                                               "--require-bus", "--bus-name", "org.evcp.Engine.CP002",
                                                               "--no-keys", "--state-dir", nobody_state,
                                                               "--brokers", bus->brokers, NULL }, &why);
  g_assert_cmpint (run->status, ==, 1);
  g_assert_nonnull (strstr (run->err, "not allowed to own"));
  g_clear_pointer (&run, evcp_test_run_free);

  /* root may */
  run = ctl_as (bus, FALSE, (const gchar * const []) { "clear-fault", NULL }, NULL);
  g_assert_cmpint (run->status, ==, 0);
  g_clear_pointer (&run, evcp_test_run_free);
  g_assert_cmpstr (engine_state (bus), ==, "ACTIVE");
}

/* ---- every member, from the services' own introspection ---------------------------- */

/* What the policy lets anyone do besides Introspectable, Peer and
 * Properties.Get/GetAll. Every other method of the services' interfaces
 * changes something. A method added to an interface is found by the
 * introspection below and, unless named here, must be refused to a caller
 * who is neither root nor in the group. */
static const gchar * const reading_methods[] = {
  "org.evcp.Engine1.ListHandlers",
  "org.evcp.Engine1.GetMetrics",
  "org.evcp.Engine1.SubscribeMessages",
  "org.evcp.Engine1.UnsubscribeMessages",
  "org.evcp.Monitor1.GetStatus",
  "org.evcp.Monitor1.GetMetrics",
  NULL
};

typedef struct {
  const gchar *name;   /* the bus name */
  const gchar *path;
  const gchar *iface;
} Service;

static const Service services[] = {
  { "org.evcp.Engine", "/org/evcp/Engine", "org.evcp.Engine1" },
  { "org.evcp.Monitor", "/org/evcp/Monitor", "org.evcp.Monitor1" },
};

/* An argument of @type, as gdbus call parses it: the empty or zero value. */
static gchar *
empty_value_text (const gchar *type)
{
  switch (type[0])
    {
    case 's':
    case 'g':
      return g_strdup ("''");
    case 'o':
      return g_strdup ("objectpath '/'");
    case 'b':
      return g_strdup ("false");
    case 'a':
      return g_strdup_printf ("@%s []", type);
    case 'v':
      return g_strdup ("<''>");
    default:
      return g_strdup_printf ("@%s 0", type);
    }
}

static GDBusInterfaceInfo *
introspect (EvcpTestBus *bus, const Service *service, GDBusNodeInfo **node)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  const gchar *xml;

  reply = g_dbus_connection_call_sync (bus->connection, service->name, service->path,
                                       "org.freedesktop.DBus.Introspectable", "Introspect", NULL,
                                       G_VARIANT_TYPE ("(s)"), G_DBUS_CALL_FLAGS_NONE, WAIT_MS, NULL, &error);
  g_assert_no_error (error);
  g_variant_get (reply, "(&s)", &xml);
  *node = g_dbus_node_info_new_for_xml (xml, &error);
  g_assert_no_error (error);
  g_assert_nonnull (g_dbus_node_info_lookup_interface (*node, service->iface));
  return g_dbus_node_info_lookup_interface (*node, service->iface);
}

/* gdbus call, as nobody, of @method (org.freedesktop.DBus.Properties.Set
 * included) with @args. */
static EvcpTestRun *
gdbus_as_nobody (EvcpTestBus *bus, const Service *service, const gchar *method, const gchar * const *args, gchar **why)
{
  g_autofree gchar *env_address = g_strdup_printf ("DBUS_SYSTEM_BUS_ADDRESS=%s", bus->address);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();

  for (const gchar * const *a = (const gchar * const []) { "gdbus", "call", "--system", "--timeout", "30", "--dest",
                                                          service->name, "--object-path", service->path, "--method",
                                                          method, NULL }; *a != NULL; a++)
    g_ptr_array_add (argv, (gpointer) *a);
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  return evcp_test_run_unprivileged ((const gchar * const []) { env_address, NULL },
                                     (const gchar * const *) argv->pdata, why);
}

static gboolean
access_denied (const EvcpTestRun *run)
{
  return run->status != 0 && strstr (run->err, "org.freedesktop.DBus.Error.AccessDenied") != NULL;
}

/* Calls every method of @service's interface as nobody with empty arguments;
 * returns how many were called. A reading method is never refused by the
 * bus; a changing one is refused when @changing_denied, and only then. */
static guint
call_every_method (EvcpTestBus *bus, const Service *service, gboolean changing_denied)
{
  g_autoptr(GDBusNodeInfo) node = NULL;
  GDBusInterfaceInfo *iface = introspect (bus, service, &node);
  guint called = 0;

  for (guint m = 0; iface->methods != NULL && iface->methods[m] != NULL; m++)
    {
      GDBusMethodInfo *info = iface->methods[m];
      g_autofree gchar *member = g_strdup_printf ("%s.%s", service->iface, info->name);
      g_autoptr(GPtrArray) args = g_ptr_array_new_with_free_func (g_free);
      g_autoptr(EvcpTestRun) run = NULL;
      gboolean reading = g_strv_contains (reading_methods, member);

      for (guint a = 0; info->in_args != NULL && info->in_args[a] != NULL; a++)
        g_ptr_array_add (args, empty_value_text (info->in_args[a]->signature));
      g_ptr_array_add (args, NULL);
      run = gdbus_as_nobody (bus, service, member, (const gchar * const *) args->pdata, NULL);
      g_test_message ("%s as nobody: status %d, %s", member, run->status, run->err);
      if (reading || !changing_denied)
        g_assert_false (access_denied (run));
      else
        g_assert_true (access_denied (run));
      called++;
    }
  return called;
}

/* Every property: anyone gets it, and all of them; nobody sets any. */
static guint
try_every_property (EvcpTestBus *bus, const Service *service)
{
  g_autoptr(GDBusNodeInfo) node = NULL;
  GDBusInterfaceInfo *iface = introspect (bus, service, &node);
  g_autoptr(EvcpTestRun) all = NULL;
  guint tried = 0;

  all = gdbus_as_nobody (bus, service, "org.freedesktop.DBus.Properties.GetAll",
                         (const gchar * const []) { service->iface, NULL }, NULL);
  g_assert_cmpint (all->status, ==, 0);
  for (guint p = 0; iface->properties != NULL && iface->properties[p] != NULL; p++)
    {
      GDBusPropertyInfo *info = iface->properties[p];
      g_autofree gchar *value = empty_value_text (info->signature);
      g_autofree gchar *variant = g_strdup_printf ("<%s>", value);
      g_autoptr(EvcpTestRun) get = NULL;
      g_autoptr(EvcpTestRun) set = NULL;

      get = gdbus_as_nobody (bus, service, "org.freedesktop.DBus.Properties.Get",
                             (const gchar * const []) { service->iface, info->name, NULL }, NULL);
      g_assert_cmpint (get->status, ==, 0);
      set = gdbus_as_nobody (bus, service, "org.freedesktop.DBus.Properties.Set",
                             (const gchar * const []) { service->iface, info->name, variant, NULL }, NULL);
      g_test_message ("Set %s.%s as nobody: status %d, %s", service->iface, info->name, set->status, set->err);
      g_assert_true (access_denied (set));
      tried++;
    }
  return tried;
}

/* The count of the methods and properties of @iface in the shipped
 * introspection XML (data/), to prove that the walk saw them all. */
static void
shipped_members (const Service *service, guint *methods, guint *properties)
{
  g_autofree gchar *path = g_strdup_printf ("%s/%s.xml", evcp_test_dbus_program ("EVCP_DATA_SRCDIR"), service->iface);
  g_autofree gchar *xml = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusNodeInfo) node = NULL;
  GDBusInterfaceInfo *iface;

  g_assert_true (g_file_get_contents (path, &xml, NULL, &error));
  node = g_dbus_node_info_new_for_xml (xml, &error);
  g_assert_no_error (error);
  iface = g_dbus_node_info_lookup_interface (node, service->iface);
  g_assert_nonnull (iface);
  *methods = iface->methods != NULL ? g_strv_length ((gchar **) iface->methods) : 0;
  *properties = iface->properties != NULL ? g_strv_length ((gchar **) iface->properties) : 0;
}

static void
test_every_member (void)
{
  g_autoptr(EvcpTestBus) bus = evcp_test_bus_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(EvcpTestRun) probe = NULL;
  g_autoptr(EvcpTestRun) run = NULL;
  g_autofree gchar *config = system_config (evcp_test_dbus_program ("EVCP_DBUS_POLICY"));
  g_autofree gchar *why = NULL;

  g_assert_true (evcp_test_bus_start (bus, "system", config, &error));
  g_assert_no_error (error);
  probe = ctl_as (bus, TRUE, (const gchar * const []) { "--version", NULL }, &why);
  if (probe == NULL)
    {
      g_test_skip (why);
      return;
    }
  run = ctl_as (bus, FALSE, (const gchar * const []) { "--start", "status", NULL }, NULL);
  g_assert_cmpint (run->status, ==, 0);
  g_assert_true (evcp_test_bus_wait_owner (bus, "org.evcp.Engine", TRUE, WAIT_MS));
  g_assert_true (evcp_test_bus_wait_owner (bus, "org.evcp.Monitor", TRUE, WAIT_MS));

  for (guint s = 0; s < G_N_ELEMENTS (services); s++)
    {
      guint methods, properties;

      shipped_members (&services[s], &methods, &properties);
      g_assert_cmpuint (methods, >, 0);
      g_assert_cmpuint (properties, >, 0);
      g_assert_cmpuint (call_every_method (bus, &services[s], TRUE), ==, methods);
      g_assert_cmpuint (try_every_property (bus, &services[s]), ==, properties);
    }
  /* none of the refused calls reached the Engine */
  g_assert_cmpstr (engine_state (bus), ==, "ACTIVE");
}

/* The members of the group the policy names may change the charging point:
 * the policy as built, with only the group's name replaced by one that
 * nobody belongs to here. */
static void
test_group (void)
{
  g_autoptr(EvcpTestBus) bus = evcp_test_bus_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(EvcpTestRun) probe = NULL;
  g_autoptr(EvcpTestRun) run = NULL;
  g_autofree gchar *why = NULL;
  g_autofree gchar *group_attr = NULL;
  g_autofree gchar *policy = NULL;
  g_autofree gchar *config = NULL;
  struct passwd *nobody;
  struct group *group;

  probe = ctl_as (bus, TRUE, (const gchar * const []) { "--version", NULL }, &why);
  if (probe == NULL)
    {
      g_test_skip (why);
      return;
    }
  nobody = getpwnam ("nobody");
  group = getgrgid (nobody->pw_gid);
  if (group == NULL)
    {
      g_test_skip ("the primary group of nobody has no name here");
      return;
    }
  group_attr = g_strdup_printf ("group=\"%s\"", group->gr_name);
  policy = policy_copy (bus, "group.conf", "group=\"evcp\"", group_attr);
  config = system_config (policy);
  g_assert_true (evcp_test_bus_start (bus, "system", config, &error));
  g_assert_no_error (error);

  run = ctl_as (bus, FALSE, (const gchar * const []) { "--start", "status", "engine", NULL }, NULL);
  g_assert_cmpint (run->status, ==, 0);
  g_clear_pointer (&run, evcp_test_run_free);
  run = ctl_as (bus, TRUE, (const gchar * const []) { "fault", "by a member of the group", NULL }, &why);
  g_assert_cmpint (run->status, ==, 0);
  g_clear_pointer (&run, evcp_test_run_free);
  g_assert_cmpstr (engine_state (bus), ==, "FAULT");
  run = ctl_as (bus, TRUE, (const gchar * const []) { "clear-fault", NULL }, &why);
  g_assert_cmpint (run->status, ==, 0);
  g_clear_pointer (&run, evcp_test_run_free);
  g_assert_cmpstr (engine_state (bus), ==, "ACTIVE");

  /* and every other method of the Engine: none is refused by the bus */
  g_assert_cmpuint (call_every_method (bus, &services[0], FALSE), >, 0);
}

/* ---- the files installed beside it ---------------------------------------------------- */

static gchar *
built (const gchar *name)
{
  return g_build_filename (evcp_test_dbus_program ("EVCP_DBUS_DATADIR"), name, NULL);
}

/* The activation files, as built: the names, the programs, and on the
 * system bus the user and the unit (whose alias is that name). */
static void
test_activation_files (void)
{
  const gchar *names[] = { "org.evcp.Engine", "org.evcp.Monitor" };
  const gchar *programs[] = { "/evcp-engine --", "/evcp-monitor --" };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    for (guint system = 0; system < 2; system++)
      {
        g_autofree gchar *file = g_strdup_printf ("%s.%s.service", names[i], system ? "system" : "session");
        g_autofree gchar *path = built (file);
        g_autoptr(GKeyFile) keys = g_key_file_new ();
        g_autoptr(GError) error = NULL;
        g_autofree gchar *name = NULL;
        g_autofree gchar *exec = NULL;
        g_autofree gchar *bus_option = g_strdup_printf ("--%s", system ? "system" : "session");
        g_autofree gchar *unit = g_strdup_printf ("dbus-%s.service", names[i]);

        g_assert_true (g_key_file_load_from_file (keys, path, G_KEY_FILE_NONE, &error));
        g_assert_no_error (error);
        name = g_key_file_get_string (keys, "D-BUS Service", "Name", &error);
        g_assert_cmpstr (name, ==, names[i]);
        exec = g_key_file_get_string (keys, "D-BUS Service", "Exec", &error);
        g_assert_true (g_path_is_absolute (exec));
        g_assert_nonnull (strstr (exec, programs[i]));
        g_assert_nonnull (strstr (exec, bus_option));
        if (system)
          {
            g_autofree gchar *user = g_key_file_get_string (keys, "D-BUS Service", "User", &error);
            g_autofree gchar *service = g_key_file_get_string (keys, "D-BUS Service", "SystemdService", &error);
            g_autofree gchar *unit_file = built (i == 0 ? "evcp-engine.service" : "evcp-monitor.service");
            g_autofree gchar *alias = g_strdup_printf ("Alias=%s\n", unit);
            g_autofree gchar *bus_name = g_strdup_printf ("BusName=%s\n", names[i]);

            g_assert_cmpstr (user, ==, "evcp");
            g_assert_cmpstr (service, ==, unit);
            g_assert_true (evcp_test_file_contains (unit_file, alias));
            g_assert_true (evcp_test_file_contains (unit_file, bus_name));
          }
      }
}

/* A man tree (MANPATH) of the pages this build made, so that systemd-analyze
 * finds the units' man:evcp-engine(8) and the like. */
static gchar *
man_tree (const gchar *dir, const gchar *man_builddir)
{
  const gchar *pages[][2] = { { "evcp-engine.8", "man8" }, { "evcp-monitor.8", "man8" }, { "evcp.conf.5", "man5" } };
  gchar *tree = g_build_filename (dir, "man", NULL);

  for (guint i = 0; i < G_N_ELEMENTS (pages); i++)
    {
      g_autofree gchar *section = g_build_filename (tree, pages[i][1], NULL);
      g_autofree gchar *target = g_build_filename (man_builddir, pages[i][0], NULL);
      g_autofree gchar *link = g_build_filename (section, pages[i][0], NULL);

      g_assert_true (g_file_test (target, G_FILE_TEST_IS_REGULAR));
      g_assert_cmpint (g_mkdir_with_parents (section, 0755), ==, 0);
      g_assert_cmpint (symlink (target, link), ==, 0);
    }
  return tree;
}

/* The units, with the programs of the build tree, through systemd's own
 * checks; the sysusers.d file through systemd-sysusers on an empty root. */
static void
test_units (void)
{
  g_autofree gchar *analyze = g_find_program_in_path ("systemd-analyze");
  g_autofree gchar *sysusers = g_find_program_in_path ("systemd-sysusers");
  g_autoptr(GError) error = NULL;
  g_autofree gchar *dir = g_dir_make_tmp ("evcp-test-units-XXXXXX", &error);
  g_autofree gchar *etc = g_build_filename (dir, "root", "etc", NULL);
  g_autofree gchar *root = g_build_filename (dir, "root", NULL);
  g_autofree gchar *root_arg = g_strdup_printf ("--root=%s", root);
  g_autofree gchar *sysusers_conf = g_build_filename (evcp_test_dbus_program ("EVCP_DATA_SRCDIR"),
                                                      "evcp.sysusers.conf", NULL);
  g_autofree gchar *passwd = g_build_filename (etc, "passwd", NULL);
  g_autofree gchar *group = g_build_filename (etc, "group", NULL);
  const gchar *units[] = { "evcp-engine.service", "evcp-monitor.service" };
  const gchar *programs[] = { "EVCP_ENGINE", "EVCP_MONITOR" };
  g_autoptr(GPtrArray) verify = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(EvcpTestRun) run = NULL;

  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (units); i++)
    {
      g_autofree gchar *path = built (units[i]);
      g_autofree gchar *text = NULL;
      g_auto(GStrv) lines = NULL;
      g_autoptr(GString) unit = g_string_new (NULL);

      g_assert_true (g_file_get_contents (path, &text, NULL, &error));
      for (const gchar * const *needle = (const gchar * const []) {
             "Type=notify\n", "NotifyAccess=main\n", "WatchdogSec=30s\n", "Restart=always\n",
             "RestartPreventExitStatus=78\n", "StartLimitIntervalSec=0\n", "User=evcp\n", "Group=evcp\n", "DynamicUser=no\n",
             "ProtectSystem=strict\n", "ProtectHome=yes\n", "NoNewPrivileges=yes\n", "PrivateTmp=yes\n",
             " --system", NULL }; *needle != NULL; needle++)
        g_assert_nonnull (strstr (text, *needle));
      g_assert_nonnull (strstr (text, i == 0 ? "StateDirectory=evcp/engine\n" : "StateDirectory=evcp/monitor\n"));
      /* Type=dbus would stop the CP when its bus name goes away (issue 12) */
      g_assert_null (strstr (text, "\nType=dbus"));
      /* the network to Kafka and Central must stay open */
      g_assert_null (strstr (text, "PrivateNetwork=yes"));
      g_assert_null (strstr (text, "IPAddressDeny="));
      g_assert_nonnull (strstr (text, "AF_INET AF_INET6"));
      /* the build tree's program instead of the installed one */
      lines = g_strsplit (text, "\n", -1);
      for (guint l = 0; lines[l] != NULL; l++)
        if (g_str_has_prefix (lines[l], "ExecStart="))
          {
            const gchar *options = strstr (lines[l], " --");

            g_assert_nonnull (options);
            g_string_append_printf (unit, "ExecStart=%s%s\n", evcp_test_dbus_program (programs[i]), options);
          }
        else
          g_string_append_printf (unit, "%s\n", lines[l]);
      g_ptr_array_add (verify, g_build_filename (dir, units[i], NULL));
      g_assert_true (g_file_set_contents (g_ptr_array_index (verify, verify->len - 1), unit->str, -1, &error));
    }

  if (analyze != NULL)
    {
      const gchar *man_builddir = g_getenv ("EVCP_MAN_BUILDDIR");
      g_autofree gchar *manpath = NULL;

      /* the man pages the units name must exist; without them (-Dman=disabled)
       * systemd-analyze is told not to look */
      if (man_builddir != NULL && *man_builddir != '\0')
        {
          g_autofree gchar *tree = man_tree (dir, man_builddir);

          manpath = g_strdup_printf ("MANPATH=%s", tree);
        }
      else
        g_ptr_array_insert (verify, 0, g_strdup ("--man=no"));
      g_ptr_array_insert (verify, 0, g_strdup ("verify"));
      g_ptr_array_insert (verify, 0, g_strdup (analyze));
      g_ptr_array_add (verify, NULL);
      run = evcp_test_run ((const gchar * const[]){ manpath, NULL }, (const gchar * const *) verify->pdata);
      g_assert_cmpint (run->status, ==, 0);
      g_assert_cmpstr (run->err, ==, "");
      g_clear_pointer (&run, evcp_test_run_free);
    }
  else
    g_test_message ("systemd-analyze is not installed: the units were not verified");

  if (sysusers != NULL)
    {
      g_assert_cmpint (g_mkdir_with_parents (etc, 0755), ==, 0);
      run = evcp_test_run (NULL, (const gchar * const []) { sysusers, root_arg, sysusers_conf, NULL });
      g_assert_cmpint (run->status, ==, 0);
      g_assert_true (evcp_test_file_contains (passwd, "\nevcp:") || evcp_test_file_contains (passwd, "evcp:x:"));
      g_assert_true (evcp_test_file_contains (group, "evcp:x:"));
      g_assert_true (evcp_test_file_contains (passwd, ":/var/lib/evcp:"));
    }
  else
    g_test_message ("systemd-sysusers is not installed: evcp.conf was not tried");
  evcp_test_remove_tree (dir);
  if (analyze == NULL && sysusers == NULL)
    g_test_skip ("neither systemd-analyze nor systemd-sysusers is installed");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/dbus/policy/loads", test_loads);
  g_test_add_func ("/dbus/policy/unprivileged-refused", test_refused);
  g_test_add_func ("/dbus/policy/group-allowed", test_group);
  g_test_add_func ("/dbus/policy/every-member", test_every_member);
  g_test_add_func ("/dbus/install/activation-files", test_activation_files);
  g_test_add_func ("/dbus/install/units", test_units);
  return g_test_run ();
}
