/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "evcp-build-config.h"

#include "evcp-json-member.h"

JsonNode *
evcp_json_member_data_first (JsonObject *root, const gchar *name)
{
  JsonNode *data = json_object_get_member (root, "data");

  if (data != NULL && JSON_NODE_HOLDS_OBJECT (data) && json_object_has_member (json_node_get_object (data), name))
    return json_object_get_member (json_node_get_object (data), name);
  return json_object_get_member (root, name);
}

const gchar *
evcp_json_string_data_first (JsonObject *root, const gchar *name)
{
  JsonNode *node = evcp_json_member_data_first (root, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}
