/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "evcp"
#ifdef __linux__
#define _GNU_SOURCE 1 /* dladdr() */
#include <dlfcn.h>
#include <limits.h>
#endif

#include "evcp-build-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib/gi18n-lib.h>
#include <json-glib/json-glib.h>
#include <librdkafka/rdkafka.h>

#include "evcp-kafka-util.h"
#include "evcp-program.h"

int
evcp_program_usage_error (const gchar *program, const gchar *message)
{
  g_printerr ("%s: %s\n", program, message);
  /* TRANSLATORS: %s is the program's name */
  g_printerr (_("Try “%s --help”."), program);
  g_printerr ("\n");
  return EVCP_EXIT_USAGE;
}

gboolean
evcp_program_parse (GOptionContext *context, const gchar *program, guint max_arguments, gint *argc, gchar ***argv)
{
  g_autoptr(GError) error = NULL;

  if (!g_option_context_parse (context, argc, argv, &error))
    {
      evcp_program_usage_error (program, error->message);
      return FALSE;
    }
  /* what GLib leaves: the program's name, "--" if given, the arguments */
  if (*argc > 1 && g_strcmp0 ((*argv)[1], "--") == 0)
    {
      for (gint i = 1; i < *argc; i++)
        (*argv)[i] = (*argv)[i + 1];
      (*argc)--;
    }
  if ((guint) (*argc - 1) > max_arguments)
    {
      g_autofree gchar *message = NULL;

      if (max_arguments == 0)
        /* TRANSLATORS: the first argument given */
        message = g_strdup_printf (_("Takes no arguments, only options: “%s”"), (*argv)[1]);
      else
        /* TRANSLATORS: an argument given */
        message = g_strdup_printf (_("Too many arguments: “%s”"), (*argv)[max_arguments + 1]);
      evcp_program_usage_error (program, message);
      return FALSE;
    }
  return TRUE;
}

gboolean
evcp_program_check_int (const gchar *program, const gchar *option, gint value, gint min, gint max)
{
  g_autofree gchar *message = NULL;

  if (value == EVCP_OPTION_UNSET || (value >= min && value <= max))
    return TRUE;
  /* TRANSLATORS: an option, its bounds, the value given */
  message = g_strdup_printf (_("%s must be from %d to %d, not %d"), option, min, max, value);
  evcp_program_usage_error (program, message);
  return FALSE;
}

gboolean
evcp_program_check_port (const gchar *program, const gchar *option, gint value)
{
  return evcp_program_check_int (program, option, value, 1, 65535);
}

gboolean
evcp_program_check_address (const gchar *program, const gchar *option, const gchar *value)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetSocketAddress) address = NULL;

  if (value == NULL || *value == '\0')
    return TRUE;
  address = evcp_config_parse_address (value, option, &error);
  if (address != NULL)
    return TRUE;
  evcp_program_usage_error (program, error->message);
  return FALSE;
}

/* json-glib tells no version at run time: on Linux, the file of the loaded
 * library says it (libjson-glib-1.0.so.0.MINOR*100.MICRO). NULL if unknown. */
static gchar *
json_glib_runtime_version (void)
{
#ifdef __linux__
  Dl_info info = { 0 };
  char resolved[PATH_MAX];
  const gchar *base;
  guint minor100, micro;

  if (dladdr ((void *) json_parser_new, &info) == 0 || info.dli_fname == NULL ||
      realpath (info.dli_fname, resolved) == NULL)
    return NULL;
  base = strrchr (resolved, '/');
  base = base != NULL ? base + 1 : resolved;
  if (sscanf (base, "libjson-glib-1.0.so.0.%u.%u", &minor100, &micro) != 2)
    return NULL;
  return g_strdup_printf ("1.%u.%u", minor100 / 100, micro);
#else
  return NULL;
#endif
}

gchar *
evcp_program_version (const gchar *program)
{
  g_autofree gchar *json_runtime = json_glib_runtime_version ();
  guint rdkafka_built = RD_KAFKA_VERSION;

  return g_strdup_printf ("%s %s\n"
                          "GLib %u.%u.%u (%s %d.%d.%d)\n"
                          "json-glib %s (%s %d.%d.%d)\n"
                          "librdkafka %s (%s %u.%u.%u)\n",
                          program, PACKAGE_VERSION, glib_major_version, glib_minor_version, glib_micro_version,
                          /* TRANSLATORS: "built against" a library's version */
                          _("built against"), GLIB_MAJOR_VERSION, GLIB_MINOR_VERSION, GLIB_MICRO_VERSION,
                          json_runtime != NULL ? json_runtime : _("(not known at run time)"), _("built against"),
                          JSON_MAJOR_VERSION, JSON_MINOR_VERSION, JSON_MICRO_VERSION, rd_kafka_version_str (),
                          _("built against"), (rdkafka_built >> 24) & 0xff, (rdkafka_built >> 16) & 0xff,
                          (rdkafka_built >> 8) & 0xff);
}

int
evcp_program_check_config (const gchar *program, EvcpConfig *config, const GError *load_error)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) files = NULL;

  if (config == NULL)
    {
      g_printerr ("%s: %s\n", program, load_error != NULL ? load_error->message : "?");
      return EXIT_FAILURE;
    }
  if (!evcp_config_validate (config, &error) ||
      !evcp_kafka_check_properties (config->kafka_brokers, config->rdkafka, config->rdkafka_consumer,
                                    config->rdkafka_producer, &error))
    {
      g_printerr ("%s: %s\n", program, error->message);
      return EXIT_FAILURE;
    }
  if (config->unknown_keys > 0)
    {
      g_printerr (g_dngettext (GETTEXT_PACKAGE, "%s: %u unknown group or key (said above)\n",
                               "%s: %u unknown groups or keys (said above)\n", config->unknown_keys),
                  program, config->unknown_keys);
      return EXIT_FAILURE;
    }
  files = g_string_new (config->config_file);
  for (guint i = 0; config->drop_ins != NULL && config->drop_ins[i] != NULL; i++)
    g_string_append_printf (files, ", %s", config->drop_ins[i]);
  if (config->config_file != NULL)
    /* TRANSLATORS: the program, then the files read */
    g_print (_("%s: the configuration is valid (%s and the environment)\n"), program, files->str);
  else
    g_print (_("%s: the configuration is valid (no key file: the defaults and the environment)\n"), program);
  return EXIT_SUCCESS;
}
