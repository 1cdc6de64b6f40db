#define G_LOG_DOMAIN "evcp-plugin"

#include "evcp-build-config.h"

#include <gio/gio.h>
#include <glib/gi18n-lib.h>
#include <gmodule.h>

#include "evcp-error.h"
#include "evcp-plugin-loader.h"

static gint
compare_names (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const gchar * const *) a, *(const gchar * const *) b);
}

GStrv
evcp_plugins_load (const gchar  *dir,
                   const gchar  *symbol,
                   gpointer      service,
                   EvcpConfig   *config,
                   GError      **error)
{
  g_autoptr(GDir) gdir = NULL;
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GStrvBuilder) loaded = g_strv_builder_new ();
  const gchar *name;

  g_return_val_if_fail (dir != NULL && symbol != NULL, NULL);

  if (!g_module_supported ())
    {
      g_set_error_literal (error, EVCP_ERROR, EVCP_ERROR_PLUGIN,
                           _("This platform cannot load plugins"));
      return NULL;
    }
  gdir = g_dir_open (dir, 0, error);
  if (gdir == NULL)
    {
      g_prefix_error (error, _("Plugin directory: "));
      return NULL;
    }
  /* A stable order, so that handlers register the same way every time. */
  while ((name = g_dir_read_name (gdir)) != NULL)
    if (g_str_has_suffix (name, "." G_MODULE_SUFFIX))
      g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, compare_names);

  for (guint i = 0; i < names->len; i++)
    {
      g_autofree gchar *path = g_build_filename (dir, names->pdata[i], NULL);
      g_autoptr(GError) local_error = NULL;
      GModule *module;
      EvcpPluginInitFunc init = NULL;

      module = g_module_open (path, G_MODULE_BIND_LAZY | G_MODULE_BIND_LOCAL);
      if (module == NULL)
        {
          g_warning (_("Cannot load plugin %s: %s"), path, g_module_error ());
          continue;
        }
      if (!g_module_symbol (module, symbol, (gpointer *) &init) || init == NULL)
        {
          g_debug ("%s has no %s, skipped", path, symbol);
          g_module_close (module);
          continue;
        }
      if (!init (service, config, &local_error))
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
