/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "evcp-central"

#include "evcp-build-config.h"

#include <math.h>

#include <glib/gi18n-lib.h>

#include "evcp-central-commands.h"

#define MAX_DURATION_S (7 * 24 * 3600)

typedef gboolean (*CpCommand) (EvcpCentralServer *server, const gchar *cp_id, GError **error);

/* stop/resume <cp>|all */
static gchar *
run_on_cps (EvcpCentralServer *server, const gchar *name, CpCommand command, GPtrArray *args)
{
  g_autoptr(GString) answer = NULL;
  g_auto(GStrv) all = NULL;
  g_autoptr(GError) error = NULL;
  const gchar *target;

  if (args->len != 2)
    /* TRANSLATORS: "ERR" is the answer's word for programs; %s is stop or resume */
    return g_strdup_printf (_("ERR usage: %s <cp>|all"), name);
  target = g_ptr_array_index (args, 1);
  if (!g_str_equal (target, "all"))
    {
      if (!command (server, target, &error))
        return g_strdup_printf ("ERR %s", error->message);
      return g_strdup_printf ("OK %s %s", name, target);
    }

  answer = g_string_new ("OK ");
  g_string_append (answer, name);
  all = evcp_central_server_get_engine_cps (server);
  for (guint i = 0; all[i] != NULL; i++)
    {
      g_clear_error (&error);
      if (command (server, all[i], &error))
        g_string_append_printf (answer, " %s", all[i]);
      else
        g_warning ("%s", error->message);
    }
  if (all[0] == NULL)
    g_string_append (answer, " (none)");
  return g_string_free (g_steal_pointer (&answer), FALSE);
}

static gchar *
run_authorize (EvcpCentralServer *server, GPtrArray *args)
{
  const gchar *cp_id, *driver, *power_text, *duration_text;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *session = NULL;
  gchar *end = NULL;
  gdouble power;
  guint64 duration;

  if (args->len != 5)
    return g_strdup ("ERR usage: authorize <cp> <driver> <power_kw> <max_duration_s>");
  cp_id = g_ptr_array_index (args, 1);
  driver = g_ptr_array_index (args, 2);
  power_text = g_ptr_array_index (args, 3);
  duration_text = g_ptr_array_index (args, 4);
  power = g_ascii_strtod (power_text, &end);
  if (end == power_text || *end != '\0' || !isfinite (power) || power <= 0)
    /* TRANSLATORS: %s is what was given as the power */
    return g_strdup_printf (_("ERR invalid power “%s”: a number of kW above 0"), power_text);
  if (!g_ascii_string_to_unsigned (duration_text, 10, 1, MAX_DURATION_S, &duration, NULL))
    /* TRANSLATORS: %s is what was given as the duration */
    return g_strdup_printf (_("ERR invalid duration “%s”: whole seconds above 0"), duration_text);
  session = evcp_central_server_authorize (server, cp_id, driver, power, (guint) duration, &error);
  if (session == NULL)
    return g_strdup_printf ("ERR %s", error->message);
  return g_strdup_printf ("OK authorize %s %s", cp_id, session);
}

/* secret <cp> <secret>|-: sets (or removes) the CP's secret, in the database */
static gchar *
run_secret (EvcpCentralServer *server, GPtrArray *args)
{
  const gchar *cp_id, *secret;
  g_autoptr(GError) error = NULL;

  if (args->len != 3)
    return g_strdup ("ERR usage: secret <cp> <secret>|-");
  cp_id = g_ptr_array_index (args, 1);
  secret = g_ptr_array_index (args, 2);
  if (g_str_equal (secret, "-"))
    secret = NULL;
  if (!evcp_central_server_set_secret (server, cp_id, secret, TRUE, &error))
    return g_strdup_printf ("ERR %s", error->message);
  /* the secret itself is never echoed nor logged */
  g_message (secret != NULL ? _("%s: secret set") : _("%s: secret removed"), cp_id);
  return g_strdup_printf ("OK secret %s %s", cp_id, secret != NULL ? "set" : "removed");
}

gchar *
evcp_central_command_run (EvcpCentralServer *server, const gchar *line, gboolean *quit)
{
  g_auto(GStrv) words = NULL;
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  const gchar *cmd;

  g_return_val_if_fail (EVCP_IS_CENTRAL_SERVER (server), NULL);
  g_return_val_if_fail (line != NULL && quit != NULL, NULL);

  *quit = FALSE;
  if (!g_utf8_validate (line, -1, NULL))
    return g_strdup ("ERR command is not UTF-8");
  words = g_strsplit_set (line, " \t\r", -1);
  for (guint i = 0; words[i] != NULL; i++)
    if (words[i][0] != '\0')
      g_ptr_array_add (args, words[i]);
  if (args->len == 0 || ((const gchar *) g_ptr_array_index (args, 0))[0] == '#')
    return NULL;
  cmd = g_ptr_array_index (args, 0);
  g_debug ("command: %s", g_str_equal (g_ptr_array_index (args, 0), "secret") ? "secret …" : line);

  if (g_str_equal (cmd, "stop"))
    return run_on_cps (server, "stop", evcp_central_server_stop_cp, args);
  if (g_str_equal (cmd, "resume"))
    return run_on_cps (server, "resume", evcp_central_server_resume_cp, args);
  if (g_str_equal (cmd, "authorize"))
    return run_authorize (server, args);
  if (g_str_equal (cmd, "secret"))
    return run_secret (server, args);
  if (g_str_equal (cmd, "list") && args->len == 1)
    {
      g_autoptr(JsonNode) root = evcp_central_server_to_json (server);
      g_autofree gchar *json = json_to_string (root, FALSE);

      return g_strdup_printf ("OK %s", json);
    }
  if (g_str_equal (cmd, "help") && args->len == 1)
    return g_strdup ("OK commands: " EVCP_CENTRAL_COMMANDS_USAGE);
  if (g_str_equal (cmd, "quit") && args->len == 1)
    {
      *quit = TRUE;
      return g_strdup ("OK quit");
    }
  /* TRANSLATORS: %s is the command that was typed */
  return g_strdup_printf (_("ERR unknown command or wrong arguments: %s (try help)"), cmd);
}
