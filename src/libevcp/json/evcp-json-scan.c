/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "evcp-build-config.h"

#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "evcp-json-scan.h"

typedef struct {
  const guchar *p;
  const guchar *start;
  const guchar *end;
  guint         max_depth;
  EvcpJsonScanResult result;
  const gchar  *error;
} Scanner;

#define FAIL(s, res, msg) G_STMT_START { (s)->result = (res); (s)->error = (msg); return FALSE; } G_STMT_END

static inline void
skip_ws (Scanner *s)
{
  while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t'))
    s->p++;
}

static inline gint
hex (guchar c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

static gboolean
read_hex4 (const guchar *p, const guchar *end, guint *out)
{
  guint v = 0;

  if (end - p < 4)
    return FALSE;
  for (gint i = 0; i < 4; i++)
    {
      gint h = hex (p[i]);

      if (h < 0)
        return FALSE;
      v = (v << 4) | (guint) h;
    }
  *out = v;
  return TRUE;
}

/* One UTF-8 sequence starting at a byte >= 0x80: its length, or 0 if invalid
 * (overlong forms, surrogates and values above U+10FFFF included). */
static inline gsize
utf8_sequence (const guchar *p, const guchar *end)
{
  guchar c = p[0];
  gsize avail = (gsize) (end - p);

  if (c >= 0xC2 && c <= 0xDF)
    return avail >= 2 && (p[1] & 0xC0) == 0x80 ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF)
    {
      if (avail < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80)
        return 0;
      if (c == 0xE0 && p[1] < 0xA0)
        return 0;  /* overlong */
      if (c == 0xED && p[1] > 0x9F)
        return 0;  /* surrogate */
      return 3;
    }
  if (c >= 0xF0 && c <= 0xF4)
    {
      if (avail < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80)
        return 0;
      if (c == 0xF0 && p[1] < 0x90)
        return 0;
      if (c == 0xF4 && p[1] > 0x8F)
        return 0;
      return 4;
    }
  return 0;
}

/* Bytes that end the fast path inside a string: '"', '\\', controls, and
 * bytes >= 0x80 (checked as UTF-8). */
static const guint8 string_special[256] = {
  [0x00 ... 0x1F] = 1, ['"'] = 1, ['\\'] = 1, [0x80 ... 0xFF] = 1,
};

/* At the opening quote; leaves p after the closing one. */
static gboolean
scan_string (Scanner *s, guint32 *start, guint32 *len, guint8 *escaped)
{
  const guchar *p = s->p + 1;

  *escaped = 0;
  *start = (guint32) (p - s->start);
  while (p < s->end)
    {
      guchar c;

      /* plain ASCII runs: most of every message */
#ifdef __SSE2__
      /* 16 bytes at a time: '"', '\\', and, compared as signed bytes,
       * everything under 0x20 or from 0x80 */
      while (p + 16 <= s->end)
        {
          __m128i v = _mm_loadu_si128 ((const __m128i *) p);
          __m128i special = _mm_or_si128 (_mm_or_si128 (_mm_cmpeq_epi8 (v, _mm_set1_epi8 ('"')),
                                                        _mm_cmpeq_epi8 (v, _mm_set1_epi8 ('\\'))),
                                          _mm_cmplt_epi8 (v, _mm_set1_epi8 (0x20)));
          gint mask = _mm_movemask_epi8 (special);

          if (mask != 0)
            {
              p += __builtin_ctz ((guint) mask);
              break;
            }
          p += 16;
        }
#endif
      while (p + 4 <= s->end && !string_special[p[0]] && !string_special[p[1]] &&
             !string_special[p[2]] && !string_special[p[3]])
        p += 4;
      if (p >= s->end)
        break;
      c = *p;

      if (c == '"')
        {
          *len = (guint32) (p - s->start) - *start;
          s->p = p + 1;
          return TRUE;
        }
      if (c == '\\')
        {
          *escaped = 1;
          if (p + 1 >= s->end)
            break;
          switch (p[1])
            {
            case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
              p += 2;
              continue;
            case 'u':
              {
                guint cp;

                if (!read_hex4 (p + 2, s->end, &cp))
                  {
                    s->p = p;
                    FAIL (s, EVCP_JSON_SCAN_SYNTAX, "bad \\u escape");
                  }
                p += 6;
                if (cp >= 0xD800 && cp <= 0xDBFF)
                  {
                    guint lo;

                    if (p + 1 >= s->end || p[0] != '\\' || p[1] != 'u' ||
                        !read_hex4 (p + 2, s->end, &lo) || lo < 0xDC00 || lo > 0xDFFF)
                      {
                        s->p = p;
                        FAIL (s, EVCP_JSON_SCAN_SYNTAX, "unpaired surrogate in \\u escape");
                      }
                    p += 6;
                  }
                else if (cp >= 0xDC00 && cp <= 0xDFFF)
                  {
                    s->p = p;
                    FAIL (s, EVCP_JSON_SCAN_SYNTAX, "unpaired surrogate in \\u escape");
                  }
                continue;
              }
            default:
              s->p = p;
              FAIL (s, EVCP_JSON_SCAN_SYNTAX, "bad escape in a string");
            }
        }
      if (c < 0x20)
        {
          s->p = p;
          if (c == 0)
            FAIL (s, EVCP_JSON_SCAN_NOT_UTF8, "NUL byte");
          FAIL (s, EVCP_JSON_SCAN_SYNTAX, "control character in a string");
        }
      if (c < 0x80)
        {
          p++;
          continue;
        }
      {
        gsize n = utf8_sequence (p, s->end);

        if (n == 0)
          {
            s->p = p;
            FAIL (s, EVCP_JSON_SCAN_NOT_UTF8, "invalid UTF-8");
          }
        p += n;
      }
    }
  s->p = p;
  FAIL (s, EVCP_JSON_SCAN_SYNTAX, "unterminated string");
}

static gboolean
scan_number (Scanner *s, guint8 *is_integer)
{
  const guchar *p = s->p;

  *is_integer = 1;
  if (p < s->end && *p == '-')
    p++;
  if (p >= s->end)
    FAIL (s, EVCP_JSON_SCAN_SYNTAX, "bad number");
  if (*p == '0')
    p++;
  else if (*p >= '1' && *p <= '9')
    while (p < s->end && g_ascii_isdigit (*p))
      p++;
  else
    FAIL (s, EVCP_JSON_SCAN_SYNTAX, "bad number");
  if (p < s->end && *p == '.')
    {
      *is_integer = 0;
      p++;
      if (p >= s->end || !g_ascii_isdigit (*p))
        FAIL (s, EVCP_JSON_SCAN_SYNTAX, "bad number");
      while (p < s->end && g_ascii_isdigit (*p))
        p++;
    }
  if (p < s->end && (*p == 'e' || *p == 'E'))
    {
      *is_integer = 0;
      p++;
      if (p < s->end && (*p == '+' || *p == '-'))
        p++;
      if (p >= s->end || !g_ascii_isdigit (*p))
        FAIL (s, EVCP_JSON_SCAN_SYNTAX, "bad number");
      while (p < s->end && g_ascii_isdigit (*p))
        p++;
    }
  s->p = p;
  return TRUE;
}

static gboolean scan_value (Scanner *s, guint depth, EvcpJsonMember *m, EvcpJsonMembers **record);

#define MEMBERS_FIRST 8

static EvcpJsonMembers *
members_new (void)
{
  EvcpJsonMembers *ms = g_malloc (sizeof (EvcpJsonMembers) + MEMBERS_FIRST * sizeof (EvcpJsonMember));

  ms->len = 0;
  ms->allocated = MEMBERS_FIRST;
  return ms;
}

static void
members_append (EvcpJsonMembers **ms, const EvcpJsonMember *m)
{
  if ((*ms)->len == (*ms)->allocated)
    {
      guint allocated = (*ms)->allocated * 2;

      *ms = g_realloc (*ms, sizeof (EvcpJsonMembers) + allocated * sizeof (EvcpJsonMember));
      (*ms)->allocated = allocated;
    }
  (*ms)->members[(*ms)->len++] = *m;
}

/* At '{'; records the members in @record when it is not NULL. The root's
 * "data" object, if any, is recorded in @data. */
static gboolean
scan_object (Scanner *s, guint depth, EvcpJsonMembers **record, EvcpJsonMembers **data)
{
  if (depth > s->max_depth)
    FAIL (s, EVCP_JSON_SCAN_TOO_DEEP, "too deep");
  s->p++;
  skip_ws (s);
  if (s->p < s->end && *s->p == '}')
    {
      s->p++;
      return TRUE;
    }
  for (;;)
    {
      EvcpJsonMember m = { 0 };
      EvcpJsonMembers *inner = NULL;

      skip_ws (s);
      if (s->p >= s->end || *s->p != '"')
        FAIL (s, EVCP_JSON_SCAN_SYNTAX, "expected a member name");
      if (!scan_string (s, &m.key_start, &m.key_len, &m.key_escaped))
        return FALSE;
      skip_ws (s);
      if (s->p >= s->end || *s->p != ':')
        FAIL (s, EVCP_JSON_SCAN_SYNTAX, "expected ':'");
      s->p++;
      skip_ws (s);
      /* the root's "data" object is indexed too */
      if (data != NULL && s->p < s->end && *s->p == '{' && !m.key_escaped && m.key_len == 4 &&
          memcmp (s->start + m.key_start, "data", 4) == 0)
        inner = members_new ();
      if (!scan_value (s, depth, &m, inner != NULL ? &inner : NULL))
        {
          g_free (inner);
          return FALSE;
        }
      if (data != NULL && !m.key_escaped && m.key_len == 4 &&
          memcmp (s->start + m.key_start, "data", 4) == 0)
        {
          /* the last "data" wins, as for any member */
          g_free (*data);
          *data = inner;
        }
      else
        g_free (inner);
      if (record != NULL)
        members_append (record, &m);
      skip_ws (s);
      if (s->p < s->end && *s->p == ',')
        {
          s->p++;
          continue;
        }
      if (s->p < s->end && *s->p == '}')
        {
          s->p++;
          return TRUE;
        }
      FAIL (s, EVCP_JSON_SCAN_SYNTAX, "expected ',' or '}'");
    }
}

static gboolean
scan_array (Scanner *s, guint depth)
{
  if (depth > s->max_depth)
    FAIL (s, EVCP_JSON_SCAN_TOO_DEEP, "too deep");
  s->p++;
  skip_ws (s);
  if (s->p < s->end && *s->p == ']')
    {
      s->p++;
      return TRUE;
    }
  for (;;)
    {
      EvcpJsonMember m = { 0 };

      skip_ws (s);
      if (!scan_value (s, depth, &m, NULL))
        return FALSE;
      skip_ws (s);
      if (s->p < s->end && *s->p == ',')
        {
          s->p++;
          continue;
        }
      if (s->p < s->end && *s->p == ']')
        {
          s->p++;
          return TRUE;
        }
      FAIL (s, EVCP_JSON_SCAN_SYNTAX, "expected ',' or ']'");
    }
}

static gboolean
literal (Scanner *s, const gchar *word, gsize n)
{
  if ((gsize) (s->end - s->p) < n || memcmp (s->p, word, n) != 0)
    FAIL (s, EVCP_JSON_SCAN_SYNTAX, "unexpected character");
  s->p += n;
  return TRUE;
}

/* @depth: the depth of the container holding this value */
static gboolean
scan_value (Scanner *s, guint depth, EvcpJsonMember *m, EvcpJsonMembers **record)
{
  const guchar *start = s->p;

  if (s->p >= s->end)
    FAIL (s, EVCP_JSON_SCAN_SYNTAX, "unexpected end of input");
  switch (*s->p)
    {
    case '"':
      m->type = EVCP_JSON_STRING;
      return scan_string (s, &m->val_start, &m->val_len, &m->val_escaped);
    case '{':
      m->type = EVCP_JSON_OBJECT;
      if (!scan_object (s, depth + 1, record, NULL))
        return FALSE;
      break;
    case '[':
      m->type = EVCP_JSON_ARRAY;
      if (!scan_array (s, depth + 1))
        return FALSE;
      break;
    case 't':
      m->type = EVCP_JSON_TRUE;
      if (!literal (s, "true", 4))
        return FALSE;
      break;
    case 'f':
      m->type = EVCP_JSON_FALSE;
      if (!literal (s, "false", 5))
        return FALSE;
      break;
    case 'n':
      m->type = EVCP_JSON_NULL;
      if (!literal (s, "null", 4))
        return FALSE;
      break;
    default:
      m->type = EVCP_JSON_NUMBER;
      if (!scan_number (s, &m->is_integer))
        return FALSE;
      break;
    }
  m->val_start = (guint32) (start - s->start);
  m->val_len = (guint32) (s->p - start);
  return TRUE;
}

EvcpJsonScanResult
evcp_json_scan (const gchar   *text,
                gsize          len,
                guint          max_depth,
                EvcpJsonIndex *index)
{
  Scanner s = { (const guchar *) text, (const guchar *) text, (const guchar *) text + len,
                max_depth, EVCP_JSON_SCAN_OK, NULL };
  gboolean ok;

  g_return_val_if_fail (len < G_MAXUINT32, EVCP_JSON_SCAN_SYNTAX);

  memset (index, 0, sizeof *index);
  /* RFC 8259 §8.1: a parser may ignore a leading byte order mark */
  if (len >= 3 && memcmp (text, "\xEF\xBB\xBF", 3) == 0)
    s.p += 3;
  skip_ws (&s);
  if (s.p >= s.end || *s.p != '{')
    {
      /* any other JSON value, or none: still say why precisely */
      EvcpJsonMember m = { 0 };

      if (s.p < s.end && scan_value (&s, 0, &m, NULL))
        {
          skip_ws (&s);
          if (s.p == s.end)
            {
              s.result = EVCP_JSON_SCAN_NOT_OBJECT;
              s.error = "not an object";
            }
          else
            {
              s.result = EVCP_JSON_SCAN_SYNTAX;
              s.error = "trailing data";
            }
        }
      else if (s.result == EVCP_JSON_SCAN_OK)
        {
          s.result = EVCP_JSON_SCAN_SYNTAX;
          s.error = "empty";
        }
      goto out;
    }

  index->root = members_new ();
  ok = scan_object (&s, 1, &index->root, &index->data);
  if (ok)
    {
      skip_ws (&s);
      if (s.p != s.end)
        {
          s.result = EVCP_JSON_SCAN_SYNTAX;
          s.error = "trailing data";
        }
    }

out:
  if (s.result != EVCP_JSON_SCAN_OK)
    {
      index->error_offset = (gsize) (s.p - s.start);
      index->error = s.error;
      /* Bad UTF-8 or a NUL anywhere says more than the syntax error it caused */
      if (s.result == EVCP_JSON_SCAN_SYNTAX && !g_utf8_validate_len (text, len, NULL))
        s.result = EVCP_JSON_SCAN_NOT_UTF8;
      evcp_json_index_clear (index);
      index->error_offset = (gsize) (s.p - s.start);
      index->error = s.error;
    }
  return s.result;
}

void
evcp_json_index_clear (EvcpJsonIndex *index)
{
  g_clear_pointer (&index->root, g_free);
  g_clear_pointer (&index->data, g_free);
}

gsize
evcp_json_unescape_into (const gchar *src, gsize len, gchar *dest)
{
  const gchar *p = src;
  const gchar *end = src + len;
  gchar *out = dest;

  while (p < end)
    {
      guint cp = 0xFFFD, lo = 0xDC00;

      if (*p != '\\')
        {
          const gchar *run = p;

          while (p < end && *p != '\\')
            p++;
          memmove (out, run, (gsize) (p - run));
          out += p - run;
          continue;
        }
      switch (p[1])
        {
        case 'b': *out++ = '\b'; p += 2; break;
        case 'f': *out++ = '\f'; p += 2; break;
        case 'n': *out++ = '\n'; p += 2; break;
        case 'r': *out++ = '\r'; p += 2; break;
        case 't': *out++ = '\t'; p += 2; break;
        case 'u':
          /* validated by the scan: 6 bytes give at most 3, 12 at most 4 */
          read_hex4 ((const guchar *) p + 2, (const guchar *) end, &cp);
          p += 6;
          if (cp >= 0xD800 && cp <= 0xDBFF)
            {
              read_hex4 ((const guchar *) p + 2, (const guchar *) end, &lo);
              p += 6;
              cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
          out += g_unichar_to_utf8 (cp, out);
          break;
        default:   /* " \ / */
          *out++ = p[1];
          p += 2;
          break;
        }
    }
  return (gsize) (out - dest);
}

static gchar *
unescape (const gchar *p, gsize len)
{
  gchar *out = g_malloc (len + 1);

  out[evcp_json_unescape_into (p, len, out)] = '\0';
  return out;
}

const EvcpJsonMember *
evcp_json_find (const gchar *text, const EvcpJsonMembers *members, const gchar *name)
{
  gsize n;

  if (members == NULL)
    return NULL;
  n = strlen (name);
  for (guint i = members->len; i > 0; i--)
    {
      const EvcpJsonMember *m = &members->members[i - 1];

      if (!m->key_escaped)
        {
          if (m->key_len == n && memcmp (text + m->key_start, name, n) == 0)
            return m;
        }
      else
        {
          g_autofree gchar *key = unescape (text + m->key_start, m->key_len);

          if (strcmp (key, name) == 0 && strlen (key) == n)
            return m;
        }
    }
  return NULL;
}

gchar *
evcp_json_decode_string (const gchar *text, const EvcpJsonMember *member)
{
  g_return_val_if_fail (member->type == EVCP_JSON_STRING, NULL);

  if (!member->val_escaped)
    return g_strndup (text + member->val_start, member->val_len);
  return unescape (text + member->val_start, member->val_len);
}

void
evcp_json_append_string (GString *out, const gchar *text)
{
  g_string_append_c (out, '"');
  for (const guchar *p = (const guchar *) text; *p != '\0'; p++)
    {
      switch (*p)
        {
        case '"': g_string_append (out, "\\\""); break;
        case '\\': g_string_append (out, "\\\\"); break;
        case '\n': g_string_append (out, "\\n"); break;
        case '\r': g_string_append (out, "\\r"); break;
        case '\t': g_string_append (out, "\\t"); break;
        default:
          if (*p < 0x20)
            g_string_append_printf (out, "\\u%04x", *p);
          else
            g_string_append_c (out, (gchar) *p);   /* UTF-8 passes through */
        }
    }
  g_string_append_c (out, '"');
}
