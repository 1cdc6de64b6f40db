/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/*
 * The two message shapes (shared/kafka-messages.md): a field is read under
 * "data" first, then at the top level. For the readers that hold a
 * json-glib tree (evcp-central, evcp-driver); the Engine's own scanner
 * applies the same rule while it scans.
 */

/* The member @name under "data" if "data" is an object that has it, else
 * the top-level member; %NULL if neither. (transfer none) */
JsonNode *evcp_json_member_data_first (JsonObject *root, const gchar *name);

/* The same member if it is a string; %NULL otherwise. (transfer none) */
const gchar *evcp_json_string_data_first (JsonObject *root, const gchar *name);

G_END_DECLS
