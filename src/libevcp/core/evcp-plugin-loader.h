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

G_END_DECLS
