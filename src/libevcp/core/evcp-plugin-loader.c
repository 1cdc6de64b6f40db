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

/* Whether @module was built for this program's plugin ABI; says why not. */
static gboolean
check_abi (GModule *module, const gchar *path)
{
  const guint32 *abi = NULL;

  if (!g_module_symbol (module, EVCP_PLUGIN_ABI_SYMBOL, (gpointer *) &abi) || abi == NULL)
    {
      g_warning (_("Plugin %s refused: it declares no plugin ABI version "
                   "(EVCP_PLUGIN_DEFINE, evcp-plugin.h)"), path);
      return FALSE;
    }
  if (*abi != EVCP_PLUGIN_ABI_VERSION)
    {
      g_warning (_("Plugin %s refused: it was built for plugin ABI %u, this program has ABI %u"),
                 path, (guint) *abi, (guint) EVCP_PLUGIN_ABI_VERSION);
      return FALSE;
    }
  return TRUE;
}

static gint
compare_names (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const gchar * const *) a, *(const gchar * const *) b);
}

GStrv
evcp_plugins_load (const gchar     *dir,
                   EvcpPluginKind   kind,
                   gpointer         service,
                   EvcpConfig      *config,
                   GError         **error)
{
  const gchar *symbol = kind == EVCP_PLUGIN_ENGINE ? EVCP_ENGINE_PLUGIN_SYMBOL : EVCP_MONITOR_PLUGIN_SYMBOL;
  EvcpPluginConfig *plugin_config;
  g_autoptr(GDir) gdir = NULL;
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GStrvBuilder) loaded = g_strv_builder_new ();
  g_autoptr(GError) dir_error = NULL;
  const gchar *name;

  g_return_val_if_fail (dir != NULL, NULL);
  g_return_val_if_fail (G_IS_OBJECT (service), NULL);
  g_return_val_if_fail (config != NULL, NULL);

  if (!g_module_supported ())
    {
      g_set_error_literal (error, EVCP_ERROR, EVCP_ERROR_PLUGIN,
                           _("This platform cannot load plugins"));
      return NULL;
    }
  /* plugin-dir= (empty): no plugins */
  if (*dir == '\0')
    return g_new0 (gchar *, 1);
  gdir = g_dir_open (dir, 0, &dir_error);
  /* the default directory (where meson installs plugins) missing is no
   * news: nothing was installed there; one that was asked for is */
  if (gdir == NULL && g_strcmp0 (dir, EVCP_PLUGINDIR) == 0 &&
      g_error_matches (dir_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
    {
      g_debug ("No plugin directory %s: no plugins", dir);
      return g_new0 (gchar *, 1);
    }
  if (gdir == NULL)
    {
      g_propagate_prefixed_error (error, g_steal_pointer (&dir_error), _("Plugin directory: "));
      return NULL;
    }
  /* A stable order, so that handlers register the same way every time. */
  while ((name = g_dir_read_name (gdir)) != NULL)
    if (g_str_has_suffix (name, "." G_MODULE_SUFFIX))
      g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, compare_names);
  plugin_config = plugin_config_attach (service, config);

  for (guint i = 0; i < names->len; i++)
    {
      g_autofree gchar *path = g_build_filename (dir, names->pdata[i], NULL);
      g_autoptr(GError) local_error = NULL;
      GModule *module;
      gpointer init = NULL;
      gboolean ok;

      module = g_module_open (path, G_MODULE_BIND_LAZY | G_MODULE_BIND_LOCAL);
      if (module == NULL)
        {
          g_warning (_("Cannot load plugin %s: %s"), path, g_module_error ());
          continue;
        }
      if (!check_abi (module, path))
        {
          g_module_close (module);
          continue;
        }
      if (!g_module_symbol (module, symbol, &init) || init == NULL)
        {
          g_debug ("%s has no %s, skipped", path, symbol);
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
