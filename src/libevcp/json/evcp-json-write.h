/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* JSON text of @node, compact (as json_generator_to_data() without
 * pretty), but with numbers as people write them: a double in its shortest
 * form that reads back the same (0.3, not json-glib's %.17g
 * 0.29999999999999999); NaN and infinities, which JSON lacks, as null. */
gchar *evcp_json_to_string (JsonNode *node);

/* The shortest text of @value that g_ascii_strtod() reads back as @value. */
void evcp_json_append_double (GString *out, gdouble value);

G_END_DECLS
