/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "evcp-plugin"

#include "evcp-build-config.h"

#include <gio/gio.h>
#include <glib/gi18n-lib.h>
#include <gmodule.h>

#include "evcp-error.h"
#include "evcp-plugin-config-private.h"
#include "evcp-plugin-loader.h"

static void
plugin_config_free (gpointer data)
{
  EvcpPluginConfig *pc = data;

  g_free (pc->cp_id);
  g_free (pc->location);
  g_free (pc->config_file);
  g_clear_pointer (&pc->key_file, g_key_file_unref);
  g_free (pc);
}

/* The plugins' view of @config, kept on @service for as long as it lives
 * (made once: plugins loaded by an earlier start may hold it). */
static EvcpPluginConfig *
plugin_config_attach (GObject *service, EvcpConfig *config)
{
  EvcpPluginConfig *pc = g_object_get_data (service, "evcp-plugin-config");

  if (pc != NULL)
    return pc;
  pc = g_new0 (EvcpPluginConfig, 1);

  pc->cp_id = g_strdup (config->cp_id);
  pc->location = g_strdup (config->location != NULL ? config->location : "");
  pc->config_file = g_strdup (config->config_file);
  /* the key file with its drop-ins, as the program read it */
  if (config->key_file != NULL)
    pc->key_file = g_key_file_ref (config->key_file);
  g_object_set_data_full (service, "evcp-plugin-config", pc, plugin_config_free);
  return pc;
}

/* Whether @module was built for this program's plugin ABI; @error says why
 * not. */
static gboolean
check_abi (GModule *module, const gchar *path, GError **error)
{
  const guint32 *abi = NULL;

  if (!g_module_symbol (module, EVCP_PLUGIN_ABI_SYMBOL, (gpointer *) &abi) || abi == NULL)
    {
      g_set_error (error, EVCP_ERROR, EVCP_ERROR_PLUGIN,
                   _("Plugin %s refused: it declares no plugin ABI version "
                      "(EVCP_PLUGIN_DEFINE, evcp-plugin.h)"),
                   path);
      return FALSE;
    }
  if (*abi != EVCP_PLUGIN_ABI_VERSION)
    {
      g_set_error (error, EVCP_ERROR, EVCP_ERROR_PLUGIN,
                   _("Plugin %s refused: it was built for plugin ABI %u, this program has ABI %u"), path, (guint) *abi,
                   (guint) EVCP_PLUGIN_ABI_VERSION);
      return FALSE;
    }
  return TRUE;
}

static gint
compare_names (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const gchar * const *) a, *(const gchar * const *) b);
}

/* The modules of @dir (file names), in a stable order, so that handlers
 * register the same way every time: none for plugin-dir= (empty) or the
 * default directory missing (nothing was installed there); a directory that
 * was asked for and cannot be read is an error. */
static GPtrArray *
list_modules (const gchar *dir, GError **error)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GDir) gdir = NULL;
  g_autoptr(GError) dir_error = NULL;
  const gchar *name;

  if (!g_module_supported ())
    {
      g_set_error_literal (error, EVCP_ERROR, EVCP_ERROR_PLUGIN,
                           _("This platform cannot load plugins"));
      return NULL;
    }
  if (*dir == '\0')
    return g_steal_pointer (&names);
  gdir = g_dir_open (dir, 0, &dir_error);
  if (gdir == NULL && g_strcmp0 (dir, EVCP_PLUGINDIR) == 0 &&
      g_error_matches (dir_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
    {
      g_debug ("No plugin directory %s: no plugins", dir);
      return g_steal_pointer (&names);
    }
  if (gdir == NULL)
    {
      g_propagate_prefixed_error (error, g_steal_pointer (&dir_error), _("Plugin directory: "));
      return NULL;
    }
  while ((name = g_dir_read_name (gdir)) != NULL)
    if (g_str_has_suffix (name, "." G_MODULE_SUFFIX))
      g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, compare_names);
  return g_steal_pointer (&names);
}

/* Opens the module at @path for @kind: its entry point in @init, NULL if it
 * has none for this program (another program's plugin: skipped, not an
 * error). NULL with @error if it cannot be loaded or its ABI is not ours. */
static GModule *
open_module (const gchar *path, EvcpPluginKind kind, gpointer *init, GError **error)
{
  const gchar *symbol = kind == EVCP_PLUGIN_ENGINE ? EVCP_ENGINE_PLUGIN_SYMBOL : EVCP_MONITOR_PLUGIN_SYMBOL;
  GModule *module;

  *init = NULL;
  module = g_module_open (path, G_MODULE_BIND_LAZY | G_MODULE_BIND_LOCAL);
  if (module == NULL)
    {
      g_set_error (error, EVCP_ERROR, EVCP_ERROR_PLUGIN, _("Cannot load plugin %s: %s"), path, g_module_error ());
      return NULL;
    }
  if (!check_abi (module, path, error))
    {
      g_module_close (module);
      return NULL;
    }
  if (!g_module_symbol (module, symbol, init) || *init == NULL)
    g_debug ("%s has no %s, skipped", path, symbol);
  return module;
}

GStrv
evcp_plugins_load (const gchar *dir, EvcpPluginKind kind, gpointer service, EvcpConfig *config, GError **error)
{
  EvcpPluginConfig *plugin_config;
  g_autoptr(GPtrArray) names = NULL;
  g_autoptr(GStrvBuilder) loaded = g_strv_builder_new ();

  g_return_val_if_fail (dir != NULL, NULL);
  g_return_val_if_fail (G_IS_OBJECT (service), NULL);
  g_return_val_if_fail (config != NULL, NULL);

  names = list_modules (dir, error);
  if (names == NULL)
    return NULL;
  if (names->len == 0)
    return g_new0 (gchar *, 1);
  plugin_config = plugin_config_attach (service, config);

  for (guint i = 0; i < names->len; i++)
    {
      g_autofree gchar *path = g_build_filename (dir, names->pdata[i], NULL);
      g_autoptr(GError) local_error = NULL;
      GModule *module;
      gpointer init = NULL;
      gboolean ok;

      module = open_module (path, kind, &init, &local_error);
      if (module == NULL)
        {
          g_warning ("%s", local_error->message);
          continue;
        }
      if (init == NULL)
        {
          g_module_close (module);
          continue;
        }
      if (kind == EVCP_PLUGIN_ENGINE)
        ok = ((EvcpEnginePluginInitFunc) init) (service, plugin_config, &local_error);
      else
        ok = ((EvcpMonitorPluginInitFunc) init) (service, plugin_config, &local_error);
      if (!ok)
        {
          g_warning (_("Plugin %s failed to initialise: %s"), path,
                     local_error != NULL ? local_error->message : "no reason given");
          g_module_close (module);
          continue;
        }
      /* Its types and handlers live as long as the process. */
      g_module_make_resident (module);
      g_message (_("Loaded plugin %s"), path);
      g_strv_builder_add (loaded, names->pdata[i]);
    }
  return g_strv_builder_end (loaded);
}

gboolean
evcp_plugins_check (const gchar *dir, EvcpPluginKind kind, GStrv *loadable, GStrv *refused, GError **error)
{
  g_autoptr(GPtrArray) names = NULL;
  g_autoptr(GStrvBuilder) ok = g_strv_builder_new ();
  g_autoptr(GStrvBuilder) bad = g_strv_builder_new ();

  g_return_val_if_fail (dir != NULL, FALSE);
  g_return_val_if_fail (loadable != NULL && refused != NULL, FALSE);

  names = list_modules (dir, error);
  if (names == NULL)
    return FALSE;
  for (guint i = 0; i < names->len; i++)
    {
      g_autofree gchar *path = g_build_filename (dir, names->pdata[i], NULL);
      g_autoptr(GError) local_error = NULL;
      gpointer init = NULL;
      GModule *module = open_module (path, kind, &init, &local_error);

      if (module == NULL)
        {
          g_strv_builder_add (bad, local_error->message);
          continue;
        }
      if (init != NULL)
        g_strv_builder_add (ok, path);
      g_module_close (module);
    }
  *loadable = g_strv_builder_end (ok);
  *refused = g_strv_builder_end (bad);
  return TRUE;
}
