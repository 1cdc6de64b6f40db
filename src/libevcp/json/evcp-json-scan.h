/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * A strict, single-pass JSON (RFC 8259) validator for consumed messages:
 * it checks the grammar, UTF-8 (inside strings; nothing but ASCII is allowed
 * outside) and the nesting depth, and indexes the members of the top-level
 * object and of its "data" object, the two levels the message contract
 * uses. No tree is built and strings are decoded only when asked for, so a
 * message costs one pass over its bytes and one small allocation per
 * indexed object.
 *
 * Strict: what RFC 8259 does not allow is refused (json-glib accepts some of
 * it: comments, single quotes, leading zeros, raw tabs in strings, trailing
 * data), except a leading UTF-8 byte order mark, which §8.1 lets a parser
 * ignore. Everything it accepts json-glib accepts with the same members
 * (tests/fuzz/fuzz-json-scan.c checks that).
 */

typedef enum {
  EVCP_JSON_STRING,
  EVCP_JSON_NUMBER,
  EVCP_JSON_OBJECT,
  EVCP_JSON_ARRAY,
  EVCP_JSON_TRUE,
  EVCP_JSON_FALSE,
  EVCP_JSON_NULL,
} EvcpJsonType;

typedef struct {
  guint32 key_start;     /* inside the quotes */
  guint32 key_len;
  guint32 val_start;     /* strings: inside the quotes; others: the whole token */
  guint32 val_len;
  guint8  type;          /* EvcpJsonType */
  guint8  key_escaped;
  guint8  val_escaped;
  guint8  is_integer;    /* numbers without fraction or exponent */
  guint8  decoded;       /* for the index's owner: the value was decoded (0 from the scan) */
} EvcpJsonMember;

typedef enum {
  EVCP_JSON_SCAN_OK,
  EVCP_JSON_SCAN_SYNTAX,
  EVCP_JSON_SCAN_NOT_UTF8,
  EVCP_JSON_SCAN_TOO_DEEP,
  EVCP_JSON_SCAN_NOT_OBJECT,
} EvcpJsonScanResult;

/* The members of one object, in order; one allocation. */
typedef struct {
  guint          len;
  guint          allocated;
  EvcpJsonMember members[];
} EvcpJsonMembers;

typedef struct {
  EvcpJsonMembers *root;  /* the top-level object */
  EvcpJsonMembers *data;  /* its last "data" member, if an object; else NULL */
  gsize   error_offset;  /* where a syntax error was found */
  const gchar *error;    /* what it was (static string) */
} EvcpJsonIndex;

EvcpJsonScanResult evcp_json_scan          (const gchar          *text,
                                            gsize                 len,
                                            guint                 max_depth,
                                            EvcpJsonIndex        *index);
void               evcp_json_index_clear   (EvcpJsonIndex        *index);

/* The last member named @name (escapes in keys are decoded), or NULL. */
const EvcpJsonMember *evcp_json_find       (const gchar          *text,
                                            const EvcpJsonMembers *members,
                                            const gchar          *name);
/* Appends @text (UTF-8) to @out as a JSON string literal, quotes included. */
void               evcp_json_append_string (GString              *out,
                                            const gchar          *text);

/* Unescapes the @len bytes at @src (a scanned string's inside) into @dest,
 * which has room for @len bytes (unescaping never lengthens); returns the
 * decoded length. No NUL is written. */
gsize              evcp_json_unescape_into (const gchar          *src,
                                            gsize                 len,
                                            gchar                *dest);

/* A string member's value, unescaped, newly allocated. */
gchar             *evcp_json_decode_string (const gchar          *text,
                                            const EvcpJsonMember *member);

G_END_DECLS
