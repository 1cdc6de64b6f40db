/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib-object.h>

#include "evcp-config.h"
#include "evcp-plugin-entry.h"

G_BEGIN_DECLS

/* Which program loads: which entry point is called (evcp-plugin-entry.h). */
typedef enum {
  EVCP_PLUGIN_ENGINE,
  EVCP_PLUGIN_MONITOR,
} EvcpPluginKind;

/* Loads every module of @dir that declares EVCP_PLUGIN_ABI_VERSION and
 * exports the entry point of @kind, and calls it with @service and an
 * EvcpPluginConfig made from @config (kept on @service). Returns the names
 * of the plugins loaded. */
GStrv evcp_plugins_load (const gchar     *dir,
                         EvcpPluginKind   kind,
                         gpointer         service,
                         EvcpConfig      *config,
                         GError         **error) G_GNUC_WARN_UNUSED_RESULT;

/* --check-config: what evcp_plugins_load() would do with @dir, without
 * calling any entry point (no handler is registered): each module opened,
 * its ABI version and its entry point for @kind looked up. @loadable: the
 * paths of the modules that would be loaded; @refused: why each other one
 * would be refused (a module with another program's entry point only is in
 * neither). FALSE with @error if @dir cannot be read. */
gboolean evcp_plugins_check (const gchar *dir, EvcpPluginKind kind, GStrv *loadable, GStrv *refused, GError **error);

G_END_DECLS
