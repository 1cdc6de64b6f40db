/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/*
 * Bounded JSON reading for every JSON text that does not go through the
 * strict message scanner (evcp-json-scan.h): Kafka records read by
 * evcp-central and evcp-driver, the Engine's state files (outbox.json,
 * session.json), the outbox's own copies. json-glib's parser recurses once
 * per nesting level and has no limit of its own: 100,000 levels overflow the
 * stack. Here a linear pre-scan, without recursion, checks the size, the
 * UTF-8 and the nesting depth first, and only then json-glib builds a tree.
 *
 * The pre-scan counts '{' and '[' outside strings ("…", with backslash
 * escapes); brackets inside strings do not count. It is conservative:
 * outside strings it accepts only what JSON allows there (whitespace,
 * structural characters, digits, signs, '.', letters for true, false, null
 * and exponents; a leading UTF-8 byte order mark is skipped), so that
 * nothing json-glib would read differently (its
 * comments, single-quoted strings) can hide a bracket from the count. Text
 * it accepts may still be refused by json-glib (a syntax error); text it
 * refuses, json-glib never sees.
 *
 * Depth: the number of containers open at once; {"a":[1]} is 2 deep, a
 * scalar alone 0.
 *
 * Errors, in the EVCP_ERROR domain: EVCP_ERROR_TOO_LARGE, EVCP_ERROR_TOO_DEEP,
 * EVCP_ERROR_NOT_UTF8 (NUL bytes included), EVCP_ERROR_INVALID_MESSAGE
 * (a character JSON does not allow outside strings, an unterminated string,
 * unbalanced brackets, data after the top-level value, or json-glib's own
 * syntax error).
 */

/* Deep enough for every document evcp writes or reads (at most 4 levels)
 * and for the messages' configurable limit (max-depth, at most 1000), far
 * below what json-glib's recursion survives. */
#define EVCP_JSON_LIMITS_DEFAULT_MAX_DEPTH 64
#define EVCP_JSON_LIMITS_MAX_DEPTH         1000

gboolean  evcp_json_check_limits      (const gchar  *text,
                                       gsize         len,
                                       gsize         max_size,
                                       guint         max_depth,
                                       GError      **error);

/* evcp_json_check_limits(), then json_parser_load_from_data(); on success
 * the parser has a root (whitespace alone is refused). */
gboolean  evcp_json_parser_load       (JsonParser   *parser,
                                       const gchar  *text,
                                       gsize         len,
                                       gsize         max_size,
                                       guint         max_depth,
                                       GError      **error) G_GNUC_WARN_UNUSED_RESULT;

/* The same for a text whose root must be an object: a new reference to the
 * root node, or NULL with @error (EVCP_ERROR_INVALID_MESSAGE if the root is
 * something else). */
JsonNode *evcp_json_parse_object      (const gchar  *text,
                                       gsize         len,
                                       gsize         max_size,
                                       guint         max_depth,
                                       GError      **error) G_GNUC_WARN_UNUSED_RESULT;

/*
 * State files.
 *
 * evcp_state_file_read: the contents of @path, NUL-terminated, read with a
 * cap: a file larger than @max_size bytes is refused (EVCP_ERROR_TOO_LARGE)
 * without being read, and so is one that grows past it while being read;
 * anything but a regular file (a directory, a FIFO, a device such as
 * /dev/zero, also through a symbolic link) is refused
 * (EVCP_ERROR_INVALID_MESSAGE) without reading a byte. A missing file is
 * G_FILE_ERROR_NOENT; other failures to open or read are in G_FILE_ERROR.
 *
 * evcp_state_file_move_aside: renames @path to
 * "<path>.unreadable-<UTC time, YYYYMMDDTHHMMSSZ>" (with "-N" added if that
 * exists) in the same directory, so that state that cannot be used is kept
 * for a human instead of deleted; returns the new path, or NULL with @error.
 */
gchar    *evcp_state_file_read        (const gchar  *path,
                                       gsize         max_size,
                                       gsize        *len,
                                       GError      **error) G_GNUC_WARN_UNUSED_RESULT;
gchar    *evcp_state_file_move_aside  (const gchar  *path,
                                       GError      **error) G_GNUC_WARN_UNUSED_RESULT;

/* A copy of @text of at most @max_bytes bytes (a character boundary, "…" at
 * the end when cut; invalid UTF-8 shown as such). For headers and log lines. */
gchar    *evcp_utf8_cut               (const gchar  *text,
                                       gsize         max_bytes) G_GNUC_WARN_UNUSED_RESULT;

G_END_DECLS
