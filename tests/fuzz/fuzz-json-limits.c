/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz target for the bounded JSON loader (evcp-json-limits.h): whatever
 * its pre-scan lets through to json-glib, json-glib builds a tree no deeper
 * than the limit (so its recursion stays bounded), and whatever the strict
 * message scanner accepts within a depth, the pre-scan accepts within the
 * same depth (the message's json-glib tree is built through it). */
#include "evcp-build-config.h"

#include <stdint.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "evcp-json-limits.h"
#include "evcp-json-scan.h"

#define MAX_DEPTH 8

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* The depth of @node's tree, counting no further than @limit + 1. */
static guint
tree_depth (JsonNode *node, guint limit)
{
  guint deepest = 0;

  if (limit == 0 || (!JSON_NODE_HOLDS_OBJECT (node) && !JSON_NODE_HOLDS_ARRAY (node)))
    return JSON_NODE_HOLDS_OBJECT (node) || JSON_NODE_HOLDS_ARRAY (node) ? 1 : 0;
  if (JSON_NODE_HOLDS_OBJECT (node))
    {
      g_autoptr(GList) values = json_object_get_values (json_node_get_object (node));

      for (GList *l = values; l != NULL; l = l->next)
        deepest = MAX (deepest, tree_depth (l->data, limit - 1));
    }
  else
    {
      JsonArray *array = json_node_get_array (node);

      for (guint i = 0; i < json_array_get_length (array); i++)
        deepest = MAX (deepest, tree_depth (json_array_get_element (array, i), limit - 1));
    }
  return deepest + 1;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const gchar *text = (const gchar *) data;
  g_autoptr(JsonParser) parser = json_parser_new ();
  EvcpJsonIndex index;
  gboolean passed;

  if (size > 1 << 20)
    return 0;
  passed = evcp_json_check_limits (text, size, 1 << 20, MAX_DEPTH, NULL);
  if (evcp_json_scan (text, size, MAX_DEPTH, &index) == EVCP_JSON_SCAN_OK)
    {
      g_assert_true (passed);
      evcp_json_index_clear (&index);
    }
  if (!passed)
    return 0;
  if (evcp_json_parser_load (parser, text, size, 1 << 20, MAX_DEPTH, NULL))
    g_assert_cmpuint (tree_depth (json_parser_get_root (parser), MAX_DEPTH + 1), <=, MAX_DEPTH);
  return 0;
}
