/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* evcpctl: controls the Engine and reads the Monitor of a charging point
 * over D-Bus (org.evcp.Engine1, org.evcp.Monitor1), through the proxies
 * generated from data/org.evcp.*.xml.
 *
 * Exit status (scripts may rely on it):
 *   0  done
 *   1  the service answered with an error (org.evcp.Error.*), or the bus
 *      refused the call (AccessDenied: not root nor in the group evcp)
 *   2  usage: an unknown command or option, a missing argument
 *   3  a service is not running (it is never started by surprise: --start
 *      lets D-Bus activate it), or the bus or peer cannot be reached
 */
#define G_LOG_DOMAIN "evcpctl"

#include "evcp-build-config.h"

#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib/gi18n-lib.h>
#include <json-glib/json-glib.h>

#include "evcp-dbus-engine.h"
#include "evcp-dbus-error.h"
#include "evcp-dbus-monitor.h"
#include "evcp-gdbus-generated.h"
#include "evcp-i18n.h"
#include "evcp-json-write.h"
#include "evcp-platform.h"
#include "evcp-program.h"

typedef enum {
  CTL_EXIT_OK = 0,
  CTL_EXIT_SERVICE_ERROR = 1,
  CTL_EXIT_USAGE = 2,
  CTL_EXIT_NOT_RUNNING = 3,
} CtlExit;

/* Errors of evcpctl itself; the code is the exit status. */
#define CTL_ERROR (g_quark_from_static_string ("evcpctl-error"))

typedef struct {
  const gchar     *key;      /* "engine", "monitor": JSON keys, arguments */
  const gchar     *label;    /* for people */
  const gchar     *program;  /* to start it by hand */
  const gchar     *name;     /* bus name; NULL peer to peer */
  const gchar     *address;  /* peer-to-peer address, or NULL */
  GDBusConnection *connection;
  GDBusProxy      *proxy;    /* EvcpGdbusEngine1 or EvcpGdbusMonitor1 */
  gboolean         subscribed;
  gboolean unreachable; /* no bus or peer: whether it runs is unknown */
} Target;

typedef struct {
  /* options */
  gboolean     json;
  gboolean     session;
  gboolean     system;
  gboolean     start;
  gchar       *bus_name;
  gchar       *monitor_bus_name;
  gchar       *address;
  gchar       *monitor_address;
  gint         count;
  /* state */
  GBusType     bus_type;
  Target       engine;
  Target       monitor;
  GMainLoop   *loop;
  gint         events;
  CtlExit      status;
} Ctl;

/* ---- output ------------------------------------------------------------------ */

static void
print_json (JsonNode *node)
{
  /* not json-glib's generator: it prints doubles with %.17g (0.29999999999999999) */
  g_autofree gchar *text = evcp_json_to_string (node);

  g_print ("%s\n", text);
}

/* GVariant to JSON: dictionaries with string keys become objects, other
 * containers arrays; NaN and infinities (a latency before any check) null. */
static JsonNode *
variant_to_json (GVariant *value)
{
  JsonNode *node = json_node_new (JSON_NODE_VALUE);

  switch (g_variant_classify (value))
    {
    case G_VARIANT_CLASS_BOOLEAN:
      json_node_set_boolean (node, g_variant_get_boolean (value));
      break;
    case G_VARIANT_CLASS_BYTE:
      json_node_set_int (node, g_variant_get_byte (value));
      break;
    case G_VARIANT_CLASS_INT16:
      json_node_set_int (node, g_variant_get_int16 (value));
      break;
    case G_VARIANT_CLASS_UINT16:
      json_node_set_int (node, g_variant_get_uint16 (value));
      break;
    case G_VARIANT_CLASS_INT32:
      json_node_set_int (node, g_variant_get_int32 (value));
      break;
    case G_VARIANT_CLASS_UINT32:
      json_node_set_int (node, g_variant_get_uint32 (value));
      break;
    case G_VARIANT_CLASS_INT64:
      json_node_set_int (node, g_variant_get_int64 (value));
      break;
    case G_VARIANT_CLASS_UINT64:
      json_node_set_int (node, (gint64) MIN (g_variant_get_uint64 (value), (guint64) G_MAXINT64));
      break;
    case G_VARIANT_CLASS_HANDLE:
      json_node_set_int (node, g_variant_get_handle (value));
      break;
    case G_VARIANT_CLASS_DOUBLE:
      if (isfinite (g_variant_get_double (value)))
        json_node_set_double (node, g_variant_get_double (value));
      else
        json_node_init_null (node);
      break;
    case G_VARIANT_CLASS_STRING:
    case G_VARIANT_CLASS_OBJECT_PATH:
    case G_VARIANT_CLASS_SIGNATURE:
      json_node_set_string (node, g_variant_get_string (value, NULL));
      break;
    case G_VARIANT_CLASS_VARIANT:
      {
        g_autoptr(GVariant) inner = g_variant_get_variant (value);

        json_node_free (node);
        return variant_to_json (inner);
      }
    case G_VARIANT_CLASS_MAYBE:
      {
        g_autoptr(GVariant) inner = g_variant_get_maybe (value);

        if (inner == NULL)
          {
            json_node_init_null (node);
            break;
          }
        json_node_free (node);
        return variant_to_json (inner);
      }
    case G_VARIANT_CLASS_ARRAY:
      if (g_variant_type_is_subtype_of (g_variant_get_type (value), G_VARIANT_TYPE ("a{s*}")))
        {
          JsonObject *object = json_object_new ();
          GVariantIter iter;
          GVariant *entry;

          g_variant_iter_init (&iter, value);
          while ((entry = g_variant_iter_next_value (&iter)) != NULL)
            {
              g_autoptr(GVariant) key = g_variant_get_child_value (entry, 0);
              g_autoptr(GVariant) child = g_variant_get_child_value (entry, 1);

              json_object_set_member (object, g_variant_get_string (key, NULL), variant_to_json (child));
              g_variant_unref (entry);
            }
          json_node_init_object (node, object);
          json_object_unref (object);
          break;
        }
      G_GNUC_FALLTHROUGH;
    case G_VARIANT_CLASS_TUPLE:
    case G_VARIANT_CLASS_DICT_ENTRY:
    default:
      {
        JsonArray *array = json_array_new ();
        GVariantIter iter;
        GVariant *child;

        g_variant_iter_init (&iter, value);
        while ((child = g_variant_iter_next_value (&iter)) != NULL)
          {
            json_array_add_element (array, variant_to_json (child));
            g_variant_unref (child);
          }
        json_node_init_array (node, array);
        json_array_unref (array);
        break;
      }
    }
  return node;
}

/* "KafkaConnected" -> "kafka_connected": the JSON names of the properties */
static gchar *
snake_case (const gchar *camel)
{
  GString *out = g_string_new (NULL);

  for (const gchar *p = camel; *p != '\0'; p++)
    {
      if (g_ascii_isupper (*p) && p != camel)
        g_string_append_c (out, '_');
      g_string_append_c (out, g_ascii_tolower (*p));
    }
  return g_string_free (out, FALSE);
}

/* What a value looks like for people: strings bare, the rest as GVariant text. */
static gchar *
format_value (GVariant *value)
{
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_VARIANT))
    {
      g_autoptr(GVariant) inner = g_variant_get_variant (value);

      return format_value (inner);
    }
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
    return g_strdup (g_variant_get_string (value, NULL));
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_BOOLEAN))
    return g_strdup (g_variant_get_boolean (value) ? _("yes") : _("no"));
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_DOUBLE))
    return g_strdup_printf ("%.6g", g_variant_get_double (value));
  return g_variant_print (value, FALSE);
}

static gchar *
now_text (void)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();

  return g_date_time_format (now, "%H:%M:%S.%f");
}

static gchar *
now_iso8601 (void)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();

  return g_date_time_format_iso8601 (now);
}

/* ---- errors ------------------------------------------------------------------- */

static CtlExit
exit_code_for (const GError *error)
{
  if (error->domain == CTL_ERROR)
    return (CtlExit) error->code;
  if (g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_SERVICE_UNKNOWN) ||
      g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_NAME_HAS_NO_OWNER) ||
      g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_DISCONNECTED) ||
      g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_NO_SERVER) ||
      g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_SPAWN_EXEC_FAILED) ||
      g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_SPAWN_CHILD_EXITED) ||
      g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_SPAWN_CHILD_SIGNALED) ||
      g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_SPAWN_FAILED) ||
      g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_SPAWN_SERVICE_NOT_FOUND) ||
      g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_SPAWN_SERVICE_INVALID) ||
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CLOSED))
    return CTL_EXIT_NOT_RUNNING;
  return CTL_EXIT_SERVICE_ERROR;
}

/* Prints @error about @target (NULL: none) and returns its exit status. */
static CtlExit
report_error (Ctl *ctl, Target *target, const GError *error)
{
  CtlExit code = exit_code_for (error);
  g_autofree gchar *remote = g_dbus_error_get_remote_error (error);
  g_autoptr(GError) copy = g_error_copy (error);
  g_autofree gchar *message = NULL;

  g_dbus_error_strip_remote_error (copy);
  if (g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_ACCESS_DENIED))
    message = g_strdup_printf (_("Permission denied: only root and the members of the group evcp "
                                 "may change the charging point (%s)"), copy->message);
  else if (error->domain == EVCP_DBUS_ERROR)
    /* the services answer in English (docs/translations.md): a message of
     * theirs is a msgid of this catalog, shown in the user's language */
    message = g_strdup (g_dgettext (GETTEXT_PACKAGE, copy->message));
  else
    message = g_strdup (copy->message);

  if (target != NULL)
    g_printerr ("evcpctl: %s: %s\n", target->label, message);
  else
    g_printerr ("evcpctl: %s\n", message);
  if (ctl->json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      g_autoptr(JsonNode) root = NULL;

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "error");
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "service");
      if (target != NULL)
        json_builder_add_string_value (b, target->key);
      else
        json_builder_add_null_value (b);
      json_builder_set_member_name (b, "name");
      if (remote != NULL)
        json_builder_add_string_value (b, remote);
      else
        json_builder_add_null_value (b);
      json_builder_set_member_name (b, "message");
      json_builder_add_string_value (b, message);
      json_builder_set_member_name (b, "exit_code");
      json_builder_add_int_value (b, code);
      json_builder_end_object (b);
      json_builder_end_object (b);
      root = json_builder_get_root (b);
      print_json (root);
    }
  return code;
}

/* @error (org.evcp.Error.*) again, its message @text: a formatted message of
 * the service, said in the user's language (the name kept for --json). */
static CtlExit
report_error_as (Ctl *ctl, Target *target, const GError *error, const gchar *text)
{
  g_autofree gchar *remote = g_dbus_error_get_remote_error (error);
  g_autoptr(GError) local = NULL;

  if (remote == NULL)
    return report_error (ctl, target, error);
  local = g_dbus_error_new_for_dbus_error (remote, text);
  return report_error (ctl, target, local);
}

static CtlExit
usage_error (const gchar *format, ...) G_GNUC_PRINTF (1, 2);

static CtlExit
usage_error (const gchar *format, ...)
{
  g_autofree gchar *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_printerr ("evcpctl: %s\n", message);
  g_printerr ("%s\n", _("Try “evcpctl --help”."));
  return CTL_EXIT_USAGE;
}

/* ---- connecting ---------------------------------------------------------------- */

static gboolean
target_connect (Ctl *ctl, Target *target, gboolean follow, GError **error)
{
  GDBusProxyFlags flags = G_DBUS_PROXY_FLAGS_NONE;
  g_autoptr(GError) local = NULL;

  if (target->proxy != NULL)
    return TRUE;

  if (target->address != NULL)
    {
      target->connection = g_dbus_connection_new_for_address_sync (target->address,
                                                                   G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT,
                                                                   NULL, NULL, &local);
      if (target->connection == NULL)
        {
          target->unreachable = TRUE;
          g_set_error (error, CTL_ERROR, CTL_EXIT_NOT_RUNNING, _("Cannot connect to %s: %s"),
                       target->address, local->message);
          return FALSE;
        }
      g_dbus_connection_set_exit_on_close (target->connection, FALSE);
    }
  else
    {
      target->connection = g_bus_get_sync (ctl->bus_type, NULL, &local);
      if (target->connection == NULL)
        {
          target->unreachable = TRUE;
          g_set_error (error, CTL_ERROR, CTL_EXIT_NOT_RUNNING, _("Cannot connect to the %s: %s"),
                       ctl->bus_type == G_BUS_TYPE_SYSTEM ? _("system bus") : _("session bus"),
                       local->message);
          return FALSE;
        }
      g_dbus_connection_set_exit_on_close (target->connection, FALSE);
      /* never start a service by surprise */
      if (!ctl->start)
        flags |= G_DBUS_PROXY_FLAGS_DO_NOT_AUTO_START;
    }

  if (target == &ctl->engine)
    target->proxy = G_DBUS_PROXY (evcp_gdbus_engine1_proxy_new_sync (target->connection, flags,
                                                                     target->name,
                                                                     EVCP_DBUS_ENGINE_OBJECT_PATH,
                                                                     NULL, &local));
  else
    target->proxy = G_DBUS_PROXY (evcp_gdbus_monitor1_proxy_new_sync (target->connection, flags,
                                                                      target->name,
                                                                      EVCP_DBUS_MONITOR_OBJECT_PATH,
                                                                      NULL, &local));
  if (target->proxy == NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }

  /* on a bus, a service that runs owns its name */
  if (target->name != NULL && !follow)
    {
      g_autofree gchar *owner = g_dbus_proxy_get_name_owner (target->proxy);

      if (owner == NULL)
        {
          if (ctl->start)
            g_set_error (error, CTL_ERROR, CTL_EXIT_NOT_RUNNING,
                         _("%s (%s) could not be started on the %s"), target->label, target->name,
                         ctl->bus_type == G_BUS_TYPE_SYSTEM ? _("system bus") : _("session bus"));
          else
            g_set_error (error, CTL_ERROR, CTL_EXIT_NOT_RUNNING,
                         _("%s is not running: nobody owns %s on the %s. "
                           "Start it (systemctl start %s, or run %s), or pass --start to let D-Bus start it."),
                         target->label, target->name,
                         ctl->bus_type == G_BUS_TYPE_SYSTEM ? _("system bus") : _("session bus"),
                         target->program, target->program);
          return FALSE;
        }
    }
  return TRUE;
}

static void
target_clear (Target *target)
{
  g_clear_object (&target->proxy);
  if (target->connection != NULL && target->address != NULL)
    g_dbus_connection_close_sync (target->connection, NULL, NULL);
  g_clear_object (&target->connection);
}

/* ---- status -------------------------------------------------------------------- */

/* The properties of @proxy as a JSON object, named in snake case. */
static JsonNode *
properties_to_json (GDBusProxy *proxy, GDBusInterfaceInfo *info)
{
  JsonObject *object = json_object_new ();
  JsonNode *node = json_node_new (JSON_NODE_OBJECT);

  json_object_set_boolean_member (object, "running", TRUE);
  for (guint i = 0; info->properties != NULL && info->properties[i] != NULL; i++)
    {
      const gchar *name = info->properties[i]->name;
      g_autoptr(GVariant) value = g_dbus_proxy_get_cached_property (proxy, name);
      g_autofree gchar *key = snake_case (name);

      json_object_set_member (object, key, value != NULL ? variant_to_json (value)
                                                         : json_node_new (JSON_NODE_NULL));
    }
  json_node_take_object (node, object);
  return node;
}

static void
print_row (const gchar *label, const gchar *value)
{
  g_print ("  %-16s %s\n", label, value);
}

static void
print_engine_status (Ctl *ctl, EvcpGdbusEngine1 *engine)
{
  GVariant *session = evcp_gdbus_engine1_get_session (engine);
  const gchar *fault = evcp_gdbus_engine1_get_fault_reason (engine);
  const gchar * const *stopped_by = evcp_gdbus_engine1_get_stopped_by (engine);
  g_autofree gchar *kafka = NULL;
  g_autofree gchar *central = NULL;
  g_autofree gchar *supply = NULL;

  g_print ("%s  %s (%s)\n", ctl->engine.label,
           ctl->engine.name != NULL ? ctl->engine.name : ctl->engine.address,
           ctl->engine.name != NULL ? (ctl->bus_type == G_BUS_TYPE_SYSTEM ? _("system bus") : _("session bus"))
                                    : _("peer to peer"));
  print_row (_("CP"), evcp_gdbus_engine1_get_cp_id (engine));
  print_row (_("State"), evcp_gdbus_engine1_get_state (engine));
  if (fault != NULL && *fault != '\0')
    print_row (_("Fault"), fault);
  if (stopped_by != NULL && stopped_by[0] != NULL)
    {
      g_autofree gchar *holders = g_strjoinv (", ", (gchar **) stopped_by);

      /* TRANSLATORS: who holds the charging point STOPPED ("central, ocpp-boot") */
      print_row (_("Stopped by"), holders);
    }
  kafka = g_strdup_printf ("%s (%s)", evcp_gdbus_engine1_get_kafka_connected (engine) ? _("connected") : _("not connected"),
                           evcp_gdbus_engine1_get_kafka_state (engine));
  print_row (_("Kafka"), kafka);
  if (evcp_gdbus_engine1_get_kafka_error (engine) != NULL && *evcp_gdbus_engine1_get_kafka_error (engine) != '\0')
    /* TRANSLATORS: why the Kafka brokers refuse the Engine (credentials, certificate) */
    print_row (_("Kafka refused"), evcp_gdbus_engine1_get_kafka_error (engine));
  central = g_strdup_printf ("%s (%s)", evcp_gdbus_engine1_get_central_connected (engine) ? _("connected") : _("not connected"),
                             evcp_gdbus_engine1_get_central_state (engine));
  print_row (_("Central"), central);
  if (g_strcmp0 (evcp_gdbus_engine1_get_ocpp_state (engine), "DISABLED") != 0 &&
      evcp_gdbus_engine1_get_ocpp_state (engine) != NULL)
    {
      const gchar *why = evcp_gdbus_engine1_get_ocpp_error (engine);

      /* TRANSLATORS: the OCPP link's state; then why it last failed, if it did */
      print_row (_("OCPP"), evcp_gdbus_engine1_get_ocpp_state (engine));
      if (why != NULL && *why != '\0')
        print_row (_("OCPP error"), why);
    }
  if (session != NULL && g_variant_n_children (session) > 0)
    {
      const gchar *id = "?", *driver = "?", *source = "?";
      gdouble power = 0;

      g_variant_lookup (session, "session_id", "&s", &id);
      g_variant_lookup (session, "driver", "&s", &driver);
      g_variant_lookup (session, "source", "&s", &source);
      g_variant_lookup (session, "power_kw", "d", &power);
      /* TRANSLATORS: session id, driver, power in kW, where the request came from */
      supply = g_strdup_printf (_("%s for %s, %.1f kW (from %s)"), id, driver, power, source);
      print_row (_("Session"), supply);
    }
  else
    print_row (_("Session"), _("none"));
  print_row (_("Version"), evcp_gdbus_engine1_get_version (engine));
}

static void
print_monitor_status (Ctl *ctl, EvcpGdbusMonitor1 *monitor)
{
  const gchar *reason = evcp_gdbus_monitor1_get_reason (monitor);
  g_autofree gchar *availability = g_strdup_printf ("%.1f %%", 100.0 * evcp_gdbus_monitor1_get_availability (monitor));
  g_autofree gchar *health = NULL;

  g_print ("%s  %s (%s)\n", ctl->monitor.label,
           ctl->monitor.name != NULL ? ctl->monitor.name : ctl->monitor.address,
           ctl->monitor.name != NULL ? (ctl->bus_type == G_BUS_TYPE_SYSTEM ? _("system bus") : _("session bus"))
                                     : _("peer to peer"));
  print_row (_("CP"), evcp_gdbus_monitor1_get_cp_id (monitor));
  if (reason != NULL && *reason != '\0')
    health = g_strdup_printf ("%s (%s)", evcp_gdbus_monitor1_get_status (monitor), reason);
  else
    health = g_strdup (evcp_gdbus_monitor1_get_status (monitor));
  print_row (_("Engine health"), health);
  print_row (_("Engine checked"), evcp_gdbus_monitor1_get_engine (monitor));
  print_row (_("Availability"), availability);
  print_row (_("Central"), evcp_gdbus_monitor1_get_central_connected (monitor) ? _("connected") : _("not connected"));
  print_row (_("Version"), evcp_gdbus_monitor1_get_version (monitor));
}

/* Which targets a command is about: "engine", "monitor", or both. */
static gboolean
pick_targets (Ctl *ctl, gchar **args, Target **targets, guint *n_targets, CtlExit *code)
{
  *n_targets = 0;
  if (args[0] == NULL)
    {
      targets[(*n_targets)++] = &ctl->engine;
      targets[(*n_targets)++] = &ctl->monitor;
      return TRUE;
    }
  if (args[1] != NULL)
    {
      *code = usage_error (_("Too many arguments"));
      return FALSE;
    }
  if (g_strcmp0 (args[0], "engine") == 0)
    targets[(*n_targets)++] = &ctl->engine;
  else if (g_strcmp0 (args[0], "monitor") == 0)
    targets[(*n_targets)++] = &ctl->monitor;
  else
    {
      *code = usage_error (_("“%s”: expected engine or monitor"), args[0]);
      return FALSE;
    }
  return TRUE;
}

static CtlExit
cmd_status (Ctl *ctl, gchar **args)
{
  Target *targets[2];
  guint n_targets;
  CtlExit code = CTL_EXIT_OK;
  g_autoptr(JsonObject) object = json_object_new ();

  if (!pick_targets (ctl, args, targets, &n_targets, &code))
    return code;
  for (guint i = 0; i < n_targets; i++)
    {
      Target *t = targets[i];
      g_autoptr(GError) error = NULL;

      if (!target_connect (ctl, t, FALSE, &error))
        {
          CtlExit c = exit_code_for (error);

          if (c != CTL_EXIT_NOT_RUNNING)
            return report_error (ctl, t, error);
          code = CTL_EXIT_NOT_RUNNING;
          if (ctl->json)
            {
              JsonObject *absent = json_object_new ();

              /* unreachable: whether it runs is not known */
              if (t->unreachable)
                json_object_set_null_member (absent, "running");
              else
                json_object_set_boolean_member (absent, "running", FALSE);
              json_object_set_boolean_member (absent, "reachable", !t->unreachable);
              json_object_set_string_member (absent, "message", error->message);
              json_object_set_object_member (object, t->key, absent);
            }
          else
            {
              /* TRANSLATORS: evcpctl status, when the bus or the peer cannot be reached */
              g_print ("%s  %s\n", t->label, t->unreachable ? _("unreachable") : _("not running"));
              g_printerr ("evcpctl: %s\n", error->message);
            }
          continue;
        }
      if (ctl->json)
        json_object_set_member (object, t->key,
                                properties_to_json (t->proxy, t == &ctl->engine
                                                                ? evcp_gdbus_engine1_interface_info ()
                                                                : evcp_gdbus_monitor1_interface_info ()));
      else if (t == &ctl->engine)
        print_engine_status (ctl, EVCP_GDBUS_ENGINE1 (t->proxy));
      else
        print_monitor_status (ctl, EVCP_GDBUS_MONITOR1 (t->proxy));
    }
  if (ctl->json)
    {
      g_autoptr(JsonNode) root = json_node_new (JSON_NODE_OBJECT);

      json_node_set_object (root, object);
      print_json (root);
    }
  return code;
}

/* ---- the Engine's commands ------------------------------------------------------ */

static CtlExit
cmd_handlers (Ctl *ctl, gchar **args)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) handlers = NULL;
  GVariantIter iter;
  const gchar *name;
  gboolean enabled;
  guint64 handled, failed;

  if (args[0] != NULL)
    return usage_error (_("Too many arguments"));
  if (!target_connect (ctl, &ctl->engine, FALSE, &error) ||
      !evcp_gdbus_engine1_call_list_handlers_sync (EVCP_GDBUS_ENGINE1 (ctl->engine.proxy),
                                                   &handlers, NULL, &error))
    return report_error (ctl, &ctl->engine, error);

  if (ctl->json)
    {
      g_autoptr(JsonArray) array = json_array_new ();
      g_autoptr(JsonNode) root = json_node_new (JSON_NODE_ARRAY);

      g_variant_iter_init (&iter, handlers);
      while (g_variant_iter_next (&iter, "(&sbtt)", &name, &enabled, &handled, &failed))
        {
          JsonObject *o = json_object_new ();

          json_object_set_string_member (o, "name", name);
          json_object_set_boolean_member (o, "enabled", enabled);
          json_object_set_int_member (o, "handled", (gint64) handled);
          json_object_set_int_member (o, "failures", (gint64) failed);
          json_array_add_object_element (array, o);
        }
      json_node_set_array (root, array);
      print_json (root);
      return CTL_EXIT_OK;
    }
  /* TRANSLATORS: column headings of evcpctl handlers */
  g_print ("%-28s %-8s %12s %12s\n", _("HANDLER"), _("ENABLED"), _("HANDLED"), _("FAILURES"));
  g_variant_iter_init (&iter, handlers);
  while (g_variant_iter_next (&iter, "(&sbtt)", &name, &enabled, &handled, &failed))
    g_print ("%-28s %-8s %12" G_GUINT64_FORMAT " %12" G_GUINT64_FORMAT "\n", name,
             enabled ? _("yes") : _("no"), handled, failed);
  return CTL_EXIT_OK;
}

/* What an action prints when it succeeded. */
static CtlExit
done (Ctl *ctl, const gchar *what)
{
  if (ctl->json)
    {
      g_autoptr(JsonObject) o = json_object_new ();
      g_autoptr(JsonNode) root = json_node_new (JSON_NODE_OBJECT);

      json_object_set_boolean_member (o, "ok", TRUE);
      json_object_set_string_member (o, "done", what);
      json_node_set_object (root, o);
      print_json (root);
    }
  return CTL_EXIT_OK;
}

static CtlExit
cmd_handler (Ctl *ctl, gchar **args)
{
  g_autoptr(GError) error = NULL;
  gboolean enable;

  if (args[0] == NULL || args[1] == NULL)
    return usage_error (_("Usage: evcpctl handler enable|disable NAME"));
  if (args[2] != NULL)
    return usage_error (_("Too many arguments"));
  if (g_strcmp0 (args[0], "enable") == 0)
    enable = TRUE;
  else if (g_strcmp0 (args[0], "disable") == 0)
    enable = FALSE;
  else
    return usage_error (_("“%s”: expected enable or disable"), args[0]);

  if (!target_connect (ctl, &ctl->engine, FALSE, &error) ||
      !evcp_gdbus_engine1_call_set_handler_enabled_sync (EVCP_GDBUS_ENGINE1 (ctl->engine.proxy),
                                                         args[1], enable, NULL, &error))
    {
      g_autofree gchar *text = NULL;

      if (!g_error_matches (error, EVCP_DBUS_ERROR, EVCP_DBUS_ERROR_NOT_FOUND))
        return report_error (ctl, &ctl->engine, error);
      text = g_strdup_printf (_("No handler named “%s”"), args[1]);
      return report_error_as (ctl, &ctl->engine, error, text);
    }
  if (!ctl->json)
    g_print (enable ? _("Handler %s enabled\n") : _("Handler %s disabled\n"), args[1]);
  return done (ctl, enable ? "handler-enabled" : "handler-disabled");
}

static CtlExit
cmd_fault (Ctl *ctl, gchar **args)
{
  g_autoptr(GError) error = NULL;
  g_autofree gchar *reason = g_strjoinv (" ", args);

  if (!target_connect (ctl, &ctl->engine, FALSE, &error) ||
      !evcp_gdbus_engine1_call_simulate_fault_sync (EVCP_GDBUS_ENGINE1 (ctl->engine.proxy),
                                                    reason, NULL, &error))
    {
      g_autofree gchar *text = NULL;

      if (!g_error_matches (error, EVCP_DBUS_ERROR, EVCP_DBUS_ERROR_INVALID_ARGS))
        return report_error (ctl, &ctl->engine, error);
      text = g_strdup_printf (_("A fault reason has at most %d characters and no control characters"),
                              EVCP_DBUS_FAULT_REASON_MAX);
      return report_error_as (ctl, &ctl->engine, error, text);
    }
  if (!ctl->json)
    g_print ("%s\n", _("Fault reported"));
  return done (ctl, "fault");
}

static CtlExit
cmd_clear_fault (Ctl *ctl, gchar **args)
{
  g_autoptr(GError) error = NULL;

  if (args[0] != NULL)
    return usage_error (_("Too many arguments"));
  if (!target_connect (ctl, &ctl->engine, FALSE, &error) ||
      !evcp_gdbus_engine1_call_clear_fault_sync (EVCP_GDBUS_ENGINE1 (ctl->engine.proxy), NULL, &error))
    return report_error (ctl, &ctl->engine, error);
  if (!ctl->json)
    g_print ("%s\n", _("Fault cleared"));
  return done (ctl, "clear-fault");
}

static CtlExit
cmd_unplug (Ctl *ctl, gchar **args)
{
  g_autoptr(GError) error = NULL;

  if (args[0] != NULL)
    return usage_error (_("Too many arguments"));
  if (!target_connect (ctl, &ctl->engine, FALSE, &error) ||
      !evcp_gdbus_engine1_call_unplug_sync (EVCP_GDBUS_ENGINE1 (ctl->engine.proxy), NULL, &error))
    return report_error (ctl, &ctl->engine, error);
  if (!ctl->json)
    g_print ("%s\n", _("Unplugged"));
  return done (ctl, "unplug");
}

/* ---- the log level ------------------------------------------------------------- */

static CtlExit
cmd_log_level (Ctl *ctl, gchar **args)
{
  g_autoptr(GError) error = NULL;
  Target *t;
  const gchar *level;
  gboolean ok;

  if (args[0] == NULL)
    return usage_error (_("Usage: evcpctl log-level engine|monitor [LEVEL]"));
  if (args[1] != NULL && args[2] != NULL)
    return usage_error (_("Too many arguments"));
  if (g_strcmp0 (args[0], "engine") == 0)
    t = &ctl->engine;
  else if (g_strcmp0 (args[0], "monitor") == 0)
    t = &ctl->monitor;
  else
    return usage_error (_("“%s”: expected engine or monitor"), args[0]);

  if (!target_connect (ctl, t, FALSE, &error))
    return report_error (ctl, t, error);
  if (args[1] != NULL)
    {
      if (t == &ctl->engine)
        ok = evcp_gdbus_engine1_call_set_log_level_sync (EVCP_GDBUS_ENGINE1 (t->proxy), args[1], NULL, &error);
      else
        ok = evcp_gdbus_monitor1_call_set_log_level_sync (EVCP_GDBUS_MONITOR1 (t->proxy), args[1], NULL, &error);
      if (!ok)
        return report_error (ctl, t, error);
      if (!ctl->json)
        g_print (_("%s: log level %s\n"), t->label, args[1]);
      return done (ctl, "log-level");
    }
  level = t == &ctl->engine ? evcp_gdbus_engine1_get_log_level (EVCP_GDBUS_ENGINE1 (t->proxy))
                            : evcp_gdbus_monitor1_get_log_level (EVCP_GDBUS_MONITOR1 (t->proxy));
  if (ctl->json)
    {
      g_autoptr(JsonObject) o = json_object_new ();
      g_autoptr(JsonNode) root = json_node_new (JSON_NODE_OBJECT);

      json_object_set_string_member (o, "service", t->key);
      json_object_set_string_member (o, "log_level", level != NULL ? level : "");
      json_node_set_object (root, o);
      print_json (root);
    }
  else
    g_print ("%s\n", level != NULL ? level : "?");
  return CTL_EXIT_OK;
}

/* ---- metrics --------------------------------------------------------------------- */

/* A value in a table cell: strings bare, booleans yes/no, numbers as
 * numbers, NaN (a latency before any check) as "-", lists joined. */
static gchar *
cell_text (GVariant *value)
{
  g_autoptr(GVariant) inner =
      g_variant_is_of_type (value, G_VARIANT_TYPE_VARIANT) ? g_variant_get_variant (value) : g_variant_ref (value);
  GString *out;

  if (g_variant_is_of_type (inner, G_VARIANT_TYPE_DOUBLE))
    {
      gdouble d = g_variant_get_double (inner);

      if (!isfinite (d))
        return g_strdup ("-");
      out = g_string_new (NULL);
      evcp_json_append_double (out, d);
      return g_string_free (out, FALSE);
    }
  if (g_variant_is_of_type (inner, G_VARIANT_TYPE_STRING_ARRAY))
    {
      g_autofree const gchar **strv = g_variant_get_strv (inner, NULL);

      return strv[0] != NULL ? g_strjoinv (", ", (gchar **) strv) : g_strdup (_("none"));
    }
  if (g_variant_is_of_type (inner, G_VARIANT_TYPE_STRING) && *g_variant_get_string (inner, NULL) == '\0')
    return g_strdup ("-");
  if (g_variant_is_container (inner))
    return g_variant_print (inner, FALSE);
  return format_value (inner);
}

static gint
compare_strings (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const gchar * const *) a, *(const gchar * const *) b);
}

/* A list of tuples (handlers: a(sbtt)) or a dictionary of tuples (kinds:
 * a{s(ttt)}) as a table under @headings. */
static void
print_tuple_table (const gchar * const *headings, GVariant *value)
{
  GVariantIter iter;
  GVariant *row;
  guint n_headings = g_strv_length ((gchar **) headings);

  g_print ("\n  ");
  for (guint i = 0; i < n_headings; i++)
    g_print (i == 0 ? "%-28s" : " %12s", headings[i]);
  g_print ("\n");
  if (g_variant_n_children (value) == 0)
    g_print ("  %s\n", _("(none)"));
  g_variant_iter_init (&iter, value);
  while ((row = g_variant_iter_next_value (&iter)) != NULL)
    {
      g_autoptr(GVariant) owned = row;
      g_autoptr(GVariant) first = g_variant_get_child_value (row, 0);
      g_autoptr(GVariant) rest = g_variant_get_child_value (row, 1);
      g_autofree gchar *name = cell_text (first);
      gboolean dict = g_variant_is_of_type (row, G_VARIANT_TYPE_DICT_ENTRY);
      GVariant *cells = dict ? rest : row;

      g_print ("  %-28s", name);
      for (gsize c = dict ? 0 : 1; c < g_variant_n_children (cells); c++)
        {
          g_autoptr(GVariant) cell = g_variant_get_child_value (cells, c);
          g_autofree gchar *text = cell_text (cell);

          g_print (" %12s", text);
        }
      g_print ("\n");
    }
}

/* A dictionary (a session) as indented NAME VALUE lines. */
static void
print_dict_table (const gchar *title, GVariant *dict)
{
  g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func (g_free);
  GVariantIter iter;
  gchar *key;
  GVariant *value;

  g_variant_iter_init (&iter, dict);
  while (g_variant_iter_next (&iter, "{sv}", &key, &value))
    {
      g_ptr_array_add (keys, key);
      g_variant_unref (value);
    }
  if (keys->len == 0)
    {
      g_print ("  %-28s %s\n", title, _("none"));
      return;
    }
  g_ptr_array_sort (keys, compare_strings);
  g_print ("\n  %s\n", title);
  for (guint i = 0; i < keys->len; i++)
    {
      g_autoptr(GVariant) v = g_variant_lookup_value (dict, keys->pdata[i], NULL);
      g_autofree gchar *text = cell_text (v);

      g_print ("    %-26s %s\n", (const gchar *) keys->pdata[i], text);
    }
}

/* GetMetrics() for people: the single values as a NAME VALUE table in
 * name order, then the lists and dictionaries as tables of their own. */
static void
print_metrics (const gchar *label, GVariant *metrics)
{
  g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) nested = g_ptr_array_new ();
  GVariantIter iter;
  gchar *key;
  GVariant *value;

  g_variant_iter_init (&iter, metrics);
  while (g_variant_iter_next (&iter, "{sv}", &key, &value))
    {
      g_ptr_array_add (keys, key);
      g_variant_unref (value);
    }
  g_ptr_array_sort (keys, compare_strings);
  g_print ("%s\n", label);
  /* TRANSLATORS: column headings of evcpctl metrics */
  g_print ("  %-28s %s\n", _("METRIC"), _("VALUE"));
  for (guint i = 0; i < keys->len; i++)
    {
      g_autoptr(GVariant) v = g_variant_lookup_value (metrics, keys->pdata[i], NULL);
      g_autofree gchar *text = NULL;

      if (g_variant_is_container (v) && !g_variant_is_of_type (v, G_VARIANT_TYPE_STRING_ARRAY))
        {
          g_ptr_array_add (nested, keys->pdata[i]);
          continue;
        }
      text = cell_text (v);
      g_print ("  %-28s %s\n", (const gchar *) keys->pdata[i], text);
    }
  for (guint i = 0; i < nested->len; i++)
    {
      const gchar *name = nested->pdata[i];
      g_autoptr(GVariant) v = g_variant_lookup_value (metrics, name, NULL);

      if (g_strcmp0 (name, "handlers") == 0 && g_variant_is_of_type (v, G_VARIANT_TYPE ("a(sbtt)")))
        print_tuple_table ((const gchar * const[]){ _("HANDLER"), _("ENABLED"), _("HANDLED"), _("FAILURES"), NULL },
                           v);
      else if (g_strcmp0 (name, "kinds") == 0 && g_variant_is_of_type (v, G_VARIANT_TYPE ("a{s(ttt)}")))
        print_tuple_table ((const gchar * const[]){ _("KIND"), _("RECEIVED"), _("HANDLED"), _("FAILED"), NULL }, v);
      else if (g_variant_is_of_type (v, G_VARIANT_TYPE_VARDICT))
        print_dict_table (name, v);
      else
        {
          g_autofree gchar *text = cell_text (v);

          g_print ("  %-28s %s\n", name, text);
        }
    }
}

static CtlExit
cmd_metrics (Ctl *ctl, gchar **args)
{
  Target *targets[2];
  guint n_targets;
  CtlExit code = CTL_EXIT_OK;
  g_autoptr(JsonObject) object = json_object_new ();

  if (!pick_targets (ctl, args, targets, &n_targets, &code))
    return code;
  for (guint i = 0; i < n_targets; i++)
    {
      Target *t = targets[i];
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) metrics = NULL;
      gboolean ok;

      ok = target_connect (ctl, t, FALSE, &error);
      if (ok && t == &ctl->engine)
        ok = evcp_gdbus_engine1_call_get_metrics_sync (EVCP_GDBUS_ENGINE1 (t->proxy), &metrics, NULL, &error);
      else if (ok)
        ok = evcp_gdbus_monitor1_call_get_metrics_sync (EVCP_GDBUS_MONITOR1 (t->proxy), &metrics, NULL, &error);
      if (!ok)
        return report_error (ctl, t, error);

      if (ctl->json)
        json_object_set_member (object, t->key, variant_to_json (metrics));
      else
        print_metrics (t->label, metrics);
    }
  if (ctl->json)
    {
      g_autoptr(JsonNode) root = json_node_new (JSON_NODE_OBJECT);

      json_node_set_object (root, object);
      print_json (root);
    }
  return code;
}

/* ---- monitor: events as they come ------------------------------------------------ */

/* One event: a line for people, or a JSON object per line. @fields: a{sv}. */
static void
emit_event (Ctl *ctl, Target *t, const gchar *event, GVariant *fields, const gchar *text,
            gboolean counts)
{
  g_autoptr(GVariant) owned = fields != NULL ? g_variant_ref_sink (fields) : NULL;

  /* several may come in one main loop iteration: not one beyond --count */
  if (counts && ctl->count > 0 && ctl->events >= ctl->count)
    return;
  if (ctl->json)
    {
      g_autoptr(JsonNode) root = json_node_new (JSON_NODE_OBJECT);
      JsonObject *o = json_object_new ();
      g_autofree gchar *time = now_iso8601 ();

      json_object_set_string_member (o, "time", time);
      json_object_set_string_member (o, "service", t->key);
      json_object_set_string_member (o, "event", event);
      if (owned != NULL)
        {
          GVariantIter iter;
          const gchar *key;
          GVariant *value;

          g_variant_iter_init (&iter, owned);
          while (g_variant_iter_next (&iter, "{&sv}", &key, &value))
            {
              json_object_set_member (o, key, variant_to_json (value));
              g_variant_unref (value);
            }
        }
      json_node_take_object (root, o);
      print_json (root);
    }
  else
    {
      g_autofree gchar *time = now_text ();

      g_print ("%s  %-8s %-18s %s\n", time, t->key, event, text != NULL ? text : "");
    }
  /* a line per event as it comes, also into a pipe */
  fflush (stdout);
  if (counts && ctl->count > 0 && ++ctl->events >= ctl->count)
    g_main_loop_quit (ctl->loop);
}

static void
on_state_changed (EvcpGdbusEngine1 *engine, const gchar *old, const gchar *state, gpointer user_data)
{
  Ctl *ctl = user_data;
  GVariantDict d;
  g_autofree gchar *text = g_strdup_printf ("%s → %s", old, state);

  g_variant_dict_init (&d, NULL);
  g_variant_dict_insert (&d, "old", "s", old);
  g_variant_dict_insert (&d, "new", "s", state);
  emit_event (ctl, &ctl->engine, "StateChanged", g_variant_dict_end (&d), text, TRUE);
}

static void
on_message_handled (EvcpGdbusEngine1 *engine, const gchar *kind, const gchar *handler, gboolean ok,
                    gpointer user_data)
{
  Ctl *ctl = user_data;
  GVariantDict d;
  g_autofree gchar *text = g_strdup_printf ("%s %s %s", kind, handler, ok ? _("ok") : _("FAILED"));

  g_variant_dict_init (&d, NULL);
  g_variant_dict_insert (&d, "kind", "s", kind);
  g_variant_dict_insert (&d, "handler", "s", handler);
  g_variant_dict_insert (&d, "ok", "b", ok);
  emit_event (ctl, &ctl->engine, "MessageHandled", g_variant_dict_end (&d), text, TRUE);
}

static void
on_status_changed (EvcpGdbusMonitor1 *monitor, GVariant *status, gpointer user_data)
{
  Ctl *ctl = user_data;
  const gchar *state = "?", *previous = "?", *reason = "";
  gdouble availability = 1;
  GVariantDict d;
  g_autofree gchar *text = NULL;

  g_variant_lookup (status, "status", "&s", &state);
  g_variant_lookup (status, "previous_status", "&s", &previous);
  g_variant_lookup (status, "reason", "&s", &reason);
  g_variant_lookup (status, "availability", "d", &availability);
  text = g_strdup_printf (_("%s → %s%s%s%s, availability %.1f %%"), previous, state,
                          *reason != '\0' ? " (" : "", reason, *reason != '\0' ? ")" : "",
                          100.0 * availability);
  g_variant_dict_init (&d, NULL);
  g_variant_dict_insert_value (&d, "status", status);
  emit_event (ctl, &ctl->monitor, "StatusChanged", g_variant_dict_end (&d), text, TRUE);
}

static void
on_properties_changed (GDBusProxy *proxy, GVariant *changed, const gchar * const *invalidated,
                       gpointer user_data)
{
  Ctl *ctl = user_data;
  Target *t = proxy == ctl->engine.proxy ? &ctl->engine : &ctl->monitor;
  g_autoptr(GString) text = g_string_new (NULL);
  GVariantDict fields, props;
  GVariantIter iter;
  const gchar *name;
  GVariant *value;

  /* a service that left invalidates everything: "stopped" says it */
  if (g_variant_n_children (changed) == 0)
    return;
  g_variant_dict_init (&props, NULL);
  g_variant_iter_init (&iter, changed);
  while (g_variant_iter_next (&iter, "{&sv}", &name, &value))
    {
      g_autofree gchar *key = snake_case (name);
      g_autofree gchar *shown = format_value (value);

      g_string_append_printf (text, "%s%s=%s", text->len > 0 ? " " : "", name, shown);
      g_variant_dict_insert_value (&props, key, value);
      g_variant_unref (value);
    }
  g_variant_dict_init (&fields, NULL);
  g_variant_dict_insert_value (&fields, "changed", g_variant_dict_end (&props));
  emit_event (ctl, t, "PropertiesChanged", g_variant_dict_end (&fields), text->str, TRUE);
}

static void
on_subscribed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Ctl *ctl = user_data;
  g_autoptr(GError) error = NULL;

  if (!evcp_gdbus_engine1_call_subscribe_messages_finish (EVCP_GDBUS_ENGINE1 (source), result, &error))
    {
      g_dbus_error_strip_remote_error (error);
      g_printerr (_("evcpctl: %s: no MessageHandled events: %s\n"), ctl->engine.label, error->message);
    }
}

static void
subscribe_messages (Ctl *ctl)
{
  evcp_gdbus_engine1_call_subscribe_messages (EVCP_GDBUS_ENGINE1 (ctl->engine.proxy), NULL,
                                              on_subscribed, ctl);
}

static void
on_name_owner (GObject *object, GParamSpec *pspec, gpointer user_data)
{
  Ctl *ctl = user_data;
  Target *t = G_DBUS_PROXY (object) == ctl->engine.proxy ? &ctl->engine : &ctl->monitor;
  g_autofree gchar *owner = g_dbus_proxy_get_name_owner (G_DBUS_PROXY (object));
  GVariantDict d;

  g_variant_dict_init (&d, NULL);
  if (owner != NULL)
    g_variant_dict_insert (&d, "owner", "s", owner);
  emit_event (ctl, t, owner != NULL ? "Started" : "Stopped", g_variant_dict_end (&d),
              owner != NULL ? owner : NULL, FALSE);
  if (owner != NULL && t == &ctl->engine)
    subscribe_messages (ctl);
}

static void
on_peer_closed (GDBusConnection *connection, gboolean remote_peer_vanished, GError *error,
                gpointer user_data)
{
  Ctl *ctl = user_data;

  g_printerr (_("evcpctl: the peer-to-peer connection was closed\n"));
  ctl->status = CTL_EXIT_NOT_RUNNING;
  g_main_loop_quit (ctl->loop);
}

static gboolean
on_interrupt (gpointer user_data)
{
  Ctl *ctl = user_data;

  g_main_loop_quit (ctl->loop);
  return G_SOURCE_CONTINUE;
}

static CtlExit
cmd_monitor (Ctl *ctl, gchar **args)
{
  Target *targets[2] = { &ctl->engine, &ctl->monitor };

  if (args[0] != NULL)
    return usage_error (_("Too many arguments"));

  ctl->loop = g_main_loop_new (NULL, FALSE);
  for (guint i = 0; i < G_N_ELEMENTS (targets); i++)
    {
      Target *t = targets[i];
      g_autoptr(GError) error = NULL;
      g_autofree gchar *owner = NULL;

      /* follow: a service that is not running yet is waited for */
      if (!target_connect (ctl, t, TRUE, &error))
        return report_error (ctl, t, error);
      g_signal_connect (t->proxy, "g-properties-changed", G_CALLBACK (on_properties_changed), ctl);
      if (t->name != NULL)
        {
          g_signal_connect (t->proxy, "notify::g-name-owner", G_CALLBACK (on_name_owner), ctl);
          owner = g_dbus_proxy_get_name_owner (t->proxy);
          if (owner == NULL)
            g_printerr (_("evcpctl: %s (%s) is not running; waiting for it\n"), t->label, t->name);
        }
      else
        g_signal_connect (t->connection, "closed", G_CALLBACK (on_peer_closed), ctl);
      if (t == &ctl->engine)
        {
          g_signal_connect (t->proxy, "state-changed", G_CALLBACK (on_state_changed), ctl);
          g_signal_connect (t->proxy, "message-handled", G_CALLBACK (on_message_handled), ctl);
          if (t->name == NULL || owner != NULL)
            subscribe_messages (ctl);
        }
      else
        g_signal_connect (t->proxy, "status-changed", G_CALLBACK (on_status_changed), ctl);
    }
  evcp_platform_watch_shutdown (on_interrupt, ctl);
  g_printerr (_("evcpctl: following the Engine and the Monitor (Ctrl-C to stop)\n"));
  g_main_loop_run (ctl->loop);
  g_clear_pointer (&ctl->loop, g_main_loop_unref);
  return ctl->status;
}

/* ---- main ----------------------------------------------------------------------------- */

typedef struct {
  const gchar *name;
  CtlExit    (*func) (Ctl *ctl, gchar **args);
} Command;

static const Command commands[] = {
  { "status", cmd_status },   { "handlers", cmd_handlers },       { "handler", cmd_handler },
  { "fault", cmd_fault },     { "clear-fault", cmd_clear_fault }, { "unplug", cmd_unplug },
  { "metrics", cmd_metrics }, { "log-level", cmd_log_level },     { "monitor", cmd_monitor },
};

int
main (int argc, char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  gboolean version = FALSE;
  Ctl ctl = { 0 };
  CtlExit code = CTL_EXIT_USAGE;
  const Command *command = NULL;
  const GOptionEntry entries[] = {
    { "json", 'j', 0, G_OPTION_ARG_NONE, &ctl.json,
      N_("Print JSON (monitor: one object per line)"), NULL },
    { "session", 0, 0, G_OPTION_ARG_NONE, &ctl.session,
      N_("Use the session bus (the default)"), NULL },
    { "system", 0, 0, G_OPTION_ARG_NONE, &ctl.system,
      N_("Use the system bus (the installed services)"), NULL },
    { "bus-name", 0, 0, G_OPTION_ARG_STRING, &ctl.bus_name,
      N_("The Engine's bus name (default org.evcp.Engine)"), N_("NAME") },
    { "monitor-bus-name", 0, 0, G_OPTION_ARG_STRING, &ctl.monitor_bus_name,
      N_("The Monitor's bus name (default org.evcp.Monitor)"), N_("NAME") },
    { "address", 0, 0, G_OPTION_ARG_STRING, &ctl.address,
      N_("Reach the Engine peer to peer at this D-Bus address (its --peer-address), not on a bus"),
      N_("ADDRESS") },
    { "monitor-address", 0, 0, G_OPTION_ARG_STRING, &ctl.monitor_address,
      N_("Reach the Monitor peer to peer at this D-Bus address"), N_("ADDRESS") },
    { "start", 0, 0, G_OPTION_ARG_NONE, &ctl.start,
      N_("Let D-Bus start a service that is not running (never done otherwise)"), NULL },
    { "count", 'n', 0, G_OPTION_ARG_INT, &ctl.count,
      N_("monitor: stop after this many events"), N_("N") },
    { "version", 0, 0, G_OPTION_ARG_NONE, &version,
      N_("Show the version and exit"), NULL },
    { NULL }
  };

  evcp_i18n_init ();
  /* org.evcp.Error.* replies become EVCP_DBUS_ERROR errors */
  (void) EVCP_DBUS_ERROR;

  /* TRANSLATORS: the synopsis of evcpctl */
  context = g_option_context_new (_("COMMAND [ARGUMENTS…]"));
  g_option_context_set_summary (
      context, _("Controls the Engine and reads the Monitor of an EV charging point over D-Bus.\n\n"
                  "Commands:\n"
                  "  status [engine|monitor]        the state of the Engine and of the Monitor\n"
                  "  handlers                       the Engine's message handlers and their counters\n"
                  "  handler enable|disable NAME    route messages to a handler again, or stop\n"
                  "  fault [REASON…]                report a fault: a session ends, the Engine answers KO\n"
                  "  clear-fault                    clear the fault\n"
                  "  unplug                         end the running supply session\n"
                  "  metrics [engine|monitor]       the metrics of both, or of one\n"
                  "  log-level engine|monitor [LEVEL]  show or set the log level: error, warning,\n"
                  "                                 message, info or debug\n"
                  "  monitor                        follow StateChanged, MessageHandled, StatusChanged and\n"
                  "                                 PropertiesChanged until Ctrl-C (or --count)"));
  g_option_context_set_description (
      context, _("Exit status: 0 done; 1 the service answered with an error or the bus refused the call;\n"
                  "2 usage; 3 a service is not running (none is started unless --start) or the bus or\n"
                  "peer cannot be reached.\n\n"
                  "On the system bus, anyone may read; changing (handler, fault, clear-fault, unplug,\n"
                  "log-level LEVEL)\n"
                  "needs root or the group evcp."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      code = usage_error ("%s", error->message);
      goto out;
    }
  if (version)
    {
      g_autofree gchar *text = evcp_program_version ("evcpctl");

      g_print ("%s", text);
      code = CTL_EXIT_OK;
      goto out;
    }
  if (ctl.session && ctl.system)
    {
      code = usage_error (_("--session and --system exclude each other"));
      goto out;
    }
  if (ctl.count < 0)
    {
      code = usage_error (_("--count must not be negative"));
      goto out;
    }
  ctl.bus_type = ctl.system ? G_BUS_TYPE_SYSTEM : G_BUS_TYPE_SESSION;
  for (guint i = 0; i < 2; i++)
    {
      const gchar *name = i == 0 ? ctl.bus_name : ctl.monitor_bus_name;
      const gchar *address = i == 0 ? ctl.address : ctl.monitor_address;

      if (name != NULL && (!g_dbus_is_name (name) || g_dbus_is_unique_name (name)))
        {
          code = usage_error (_("“%s” is not a D-Bus well-known name"), name);
          goto out;
        }
      if (address != NULL && !g_dbus_is_supported_address (address, &error))
        {
          code = usage_error ("%s", error->message);
          goto out;
        }
    }

  ctl.engine.key = "engine";
  /* TRANSLATORS: the names of evcp's two services, as in "the Engine of
   * CP-001"; the Spanish translation keeps them as names */
  ctl.engine.label = _("Engine");
  ctl.engine.program = "evcp-engine";
  ctl.engine.address = ctl.address;
  ctl.engine.name = ctl.address != NULL ? NULL
                                        : ctl.bus_name != NULL ? ctl.bus_name : EVCP_DBUS_ENGINE_BUS_NAME;
  ctl.monitor.key = "monitor";
  ctl.monitor.label = _("Monitor");
  ctl.monitor.program = "evcp-monitor";
  ctl.monitor.address = ctl.monitor_address;
  ctl.monitor.name = ctl.monitor_address != NULL ? NULL
                                                 : ctl.monitor_bus_name != NULL ? ctl.monitor_bus_name
                                                                                : EVCP_DBUS_MONITOR_BUS_NAME;

  if (argc < 2)
    {
      code = usage_error (_("No command given"));
      goto out;
    }
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    if (g_strcmp0 (argv[1], commands[i].name) == 0)
      command = &commands[i];
  if (command == NULL)
    {
      code = usage_error (_("Unknown command “%s”"), argv[1]);
      goto out;
    }
  code = command->func (&ctl, argv + 2);

out:
  target_clear (&ctl.engine);
  target_clear (&ctl.monitor);
  g_free (ctl.bus_name);
  g_free (ctl.monitor_bus_name);
  g_free (ctl.address);
  g_free (ctl.monitor_address);
  return code;
}
