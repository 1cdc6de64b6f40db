/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "evcp"
#ifdef __linux__
#define _GNU_SOURCE 1 /* dladdr() */
#include <dlfcn.h>
#include <limits.h>
#endif

#include "evcp-build-config.h"

#include <errno.h>
#include <unistd.h> /* R_OK, W_OK, X_OK (MinGW-w64 has it too) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
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

/* A file the configuration names, read when the program connects (a CA, a
 * certificate, a key): there and readable by this user, else the error names
 * the setting. A CA may be a directory of certificates; librdkafka's
 * ssl.ca.location also takes "probe" (the system's store). */
static gboolean
check_readable (const gchar *setting, const gchar *path, gboolean may_be_dir, GError **error)
{
  gboolean is_dir;

  if (path == NULL || *path == '\0')
    return TRUE;
  is_dir = g_file_test (path, G_FILE_TEST_IS_DIR);
  if (g_access (path, R_OK) != 0)
    {
      int saved = errno;

      /* TRANSLATORS: the setting (“[ocpp] ca-file”), the file, why not */
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved), _("%s: cannot read %s: %s"), setting, path,
                   g_strerror (saved));
      return FALSE;
    }
  if (is_dir && !may_be_dir)
    {
      /* TRANSLATORS: the setting, then the path */
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_ISDIR, _("%s: %s is a directory, not a file"), setting, path);
      return FALSE;
    }
  return TRUE;
}

/* librdkafka's properties that name a file it reads at start or at the
 * first connection; whether it may be a directory. */
static const struct {
  const gchar *property;
  gboolean may_be_dir;
} rdkafka_files[] = {
  { "ssl.ca.location", TRUE },   { "ssl.crl.location", FALSE },      { "ssl.certificate.location", FALSE },
  { "ssl.key.location", FALSE }, { "ssl.keystore.location", FALSE }, { "sasl.kerberos.keytab", FALSE },
};

static gboolean
check_rdkafka_files (const gchar *group, GHashTable *properties, GError **error)
{
  if (properties == NULL)
    return TRUE;
  for (gsize i = 0; i < G_N_ELEMENTS (rdkafka_files); i++)
    {
      const gchar *path = g_hash_table_lookup (properties, rdkafka_files[i].property);
      g_autofree gchar *setting = g_strdup_printf ("[%s] %s", group, rdkafka_files[i].property);

      if (g_strcmp0 (rdkafka_files[i].property, "ssl.ca.location") == 0 && g_strcmp0 (path, "probe") == 0)
        continue;
      if (!check_readable (setting, path, rdkafka_files[i].may_be_dir, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
check_files (EvcpConfig *config, GError **error)
{
  return check_readable ("[ocpp] ca-file", config->ocpp_ca_file, TRUE, error) &&
         check_readable ("[ocpp] cert-file", config->ocpp_cert_file, FALSE, error) &&
         check_readable ("[ocpp] key-file", config->ocpp_key_file, FALSE, error) &&
         check_rdkafka_files ("librdkafka", config->rdkafka, error) &&
         check_rdkafka_files ("librdkafka-consumer", config->rdkafka_consumer, error) &&
         check_rdkafka_files ("librdkafka-producer", config->rdkafka_producer, error);
}

/* The state directory: a directory if it is there; if not, the program will
 * create it at start, under its nearest existing parent. Whether this user
 * may write there is said, not judged: the service may run as another user
 * (systemd's StateDirectory= makes the directory for it). */
static gboolean
check_state_dir (const gchar *program, const gchar *state_dir, GError **error)
{
  g_autofree gchar *existing = NULL;

  if (state_dir == NULL)
    return TRUE;
  if (g_file_test (state_dir, G_FILE_TEST_EXISTS) && !g_file_test (state_dir, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOTDIR, _("[evcp] state-dir: %s is not a directory"), state_dir);
      return FALSE;
    }
  existing = g_strdup (state_dir);
  while (!g_file_test (existing, G_FILE_TEST_EXISTS))
    {
      gchar *parent = g_path_get_dirname (existing);

      if (g_strcmp0 (parent, existing) == 0)
        {
          g_free (parent);
          break;
        }
      g_free (existing);
      existing = parent;
    }
  if (!g_file_test (existing, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOTDIR,
                   _("[evcp] state-dir: %s cannot be created: %s is not a directory"), state_dir, existing);
      return FALSE;
    }
  if (g_access (existing, W_OK | X_OK) != 0)
    /* TRANSLATORS: the program, the state directory, the existing directory
     * where it is or would be made */
    g_printerr (_("%s: note: this user cannot write %s; the service's user must, to make or use the state "
                   "directory %s\n"),
                program, existing, state_dir);
  return TRUE;
}

/* The modules of the plugin directory: each must load for this program
 * (else a start would warn and go on without it). @loadable: those that
 * would be loaded. */
static gboolean
check_plugins (const gchar *program, const gchar *dir, EvcpPluginKind kind, GStrv *loadable, GError **error)
{
  g_auto(GStrv) refused = NULL;
  guint n_refused;

  if (dir == NULL)
    return TRUE;
  if (!evcp_plugins_check (dir, kind, loadable, &refused, error))
    return FALSE;
  n_refused = g_strv_length (refused);
  if (n_refused == 0)
    return TRUE;
  for (guint i = 0; refused[i] != NULL; i++)
    g_printerr ("%s: %s\n", program, refused[i]);
  g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
               g_dngettext (GETTEXT_PACKAGE, "%u plugin would be refused (said above)",
                            "%u plugins would be refused (said above)", n_refused),
               n_refused);
  return FALSE;
}

int
evcp_program_check_config (const gchar *program, EvcpConfig *config, const GError *load_error,
                           const EvcpCheckScope *scope)
{
  const gchar *state_dir = scope != NULL ? scope->state_dir : NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) files = NULL;
  g_auto(GStrv) plugins = NULL;

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
  if (!check_files (config, &error) || !check_state_dir (program, state_dir, &error) ||
      (scope != NULL && scope->plugins &&
       !check_plugins (program, config->plugin_dir, scope->plugin_kind, &plugins, &error)))
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
  if (state_dir != NULL)
    /* TRANSLATORS: the program, then a directory */
    g_print (_("%s: state directory %s\n"), program, state_dir);
  for (guint i = 0; plugins != NULL && plugins[i] != NULL; i++)
    /* TRANSLATORS: the program, then a plugin's file */
    g_print (_("%s: plugin %s\n"), program, plugins[i]);
  return EXIT_SUCCESS;
}
