/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Differential fuzz target for the message scanner: whatever it accepts,
 * json-glib must accept too, with the same top-level and "data" members and
 * the same string values; and it never reads out of bounds, leaks or
 * recurses past its depth limit, whatever the input. */
#include "evcp-build-config.h"

#include <stdint.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "evcp-json-scan.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
check_members (const gchar *text, const EvcpJsonMembers *members, JsonObject *object)
{
  for (guint i = 0; i < members->len; i++)
    {
      const EvcpJsonMember *m = &members->members[i];
      g_autofree gchar *key = NULL;
      const EvcpJsonMember *last;
      JsonNode *node;
      EvcpJsonMember key_as_string = *m;

      key_as_string.type = EVCP_JSON_STRING;
      key_as_string.val_start = m->key_start;
      key_as_string.val_len = m->key_len;
      key_as_string.val_escaped = m->key_escaped;
      key = evcp_json_decode_string (text, &key_as_string);
      if (strlen (key) != m->key_len && !m->key_escaped)
        continue;   /* a key with an escaped NUL: C strings cannot name it */
      node = json_object_get_member (object, key);
      g_assert_nonnull (node);
      last = evcp_json_find (text, members, key);
      if (last != m)
        continue;   /* an earlier duplicate */
      switch (m->type)
        {
        case EVCP_JSON_STRING:
          {
            g_autofree gchar *value = evcp_json_decode_string (text, m);

            g_assert_true (JSON_NODE_HOLDS_VALUE (node));
            g_assert_cmpstr (value, ==, json_node_get_string (node));
            break;
          }
        case EVCP_JSON_OBJECT:
          g_assert_true (JSON_NODE_HOLDS_OBJECT (node));
          break;
        case EVCP_JSON_ARRAY:
          g_assert_true (JSON_NODE_HOLDS_ARRAY (node));
          break;
        case EVCP_JSON_NULL:
          g_assert_true (JSON_NODE_HOLDS_NULL (node));
          break;
        case EVCP_JSON_TRUE:
        case EVCP_JSON_FALSE:
          g_assert_cmpint (json_node_get_value_type (node), ==, G_TYPE_BOOLEAN);
          g_assert_cmpint (json_node_get_boolean (node), ==, m->type == EVCP_JSON_TRUE);
          break;
        default:
          break;
        }
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const gchar *text = (const gchar *) data;
  EvcpJsonIndex index;
  g_autoptr(JsonParser) parser = NULL;
  JsonObject *root;
  JsonNode *data_node;
  gsize skip = 0;

  if (size > 1 << 20)
    return 0;
  if (evcp_json_scan (text, size, 16, &index) != EVCP_JSON_SCAN_OK)
    return 0;

  /* json-glib does not skip a byte order mark */
  if (size >= 3 && memcmp (text, "\xEF\xBB\xBF", 3) == 0)
    skip = 3;
  parser = json_parser_new ();
  g_assert_true (json_parser_load_from_data (parser, text + skip, (gssize) (size - skip), NULL));
  g_assert_true (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)));
  root = json_node_get_object (json_parser_get_root (parser));
  check_members (text, index.root, root);
  data_node = json_object_get_member (root, "data");
  g_assert_cmpint (index.data != NULL, ==, data_node != NULL && JSON_NODE_HOLDS_OBJECT (data_node));
  if (index.data != NULL)
    check_members (text, index.data, json_node_get_object (data_node));
  evcp_json_index_clear (&index);
  return 0;
}
