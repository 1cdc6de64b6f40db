/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "evcp-plugin-entry.h"

G_BEGIN_DECLS

/* EvcpPluginConfig's fields: the getters are in libevcp.so (the SDK), the
 * program's plugin loader fills it (evcp-plugin-loader.c). */
struct _EvcpPluginConfig
{
  gchar    *cp_id;
  gchar    *location;
  gchar    *config_file;
  GKeyFile *key_file;
};

G_END_DECLS
