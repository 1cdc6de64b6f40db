/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "evcp-metrics"

#include "evcp-build-config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#ifdef __linux__
#include <unistd.h>
#endif

#include <gio/gio.h>

#include "evcp-prometheus.h"

void
evcp_prometheus_family (GString *out, const gchar *name, const gchar *type, const gchar *help)
{
  g_return_if_fail (out != NULL && name != NULL && type != NULL);

  if (help != NULL)
    {
      /* HELP text escapes only \ and newline */
      g_string_append_printf (out, "# HELP %s ", name);
      for (const gchar *p = help; *p != '\0'; p++)
        {
          if (*p == '\\')
            g_string_append (out, "\\\\");
          else if (*p == '\n')
            g_string_append (out, "\\n");
          else
            g_string_append_c (out, *p);
        }
      g_string_append_c (out, '\n');
    }
  g_string_append_printf (out, "# TYPE %s %s\n", name, type);
}

gchar *
evcp_prometheus_escape (const gchar *value)
{
  GString *s = g_string_new (NULL);

  for (const gchar *p = value; p != NULL && *p != '\0'; p++)
    {
      if (*p == '\\')
        g_string_append (s, "\\\\");
      else if (*p == '"')
        g_string_append (s, "\\\"");
      else if (*p == '\n')
        g_string_append (s, "\\n");
      else
        g_string_append_c (s, *p);
    }
  return g_string_free (s, FALSE);
}

static void
append_series (GString *out, const gchar *name, const gchar * const *labels)
{
  g_string_append (out, name);
  if (labels == NULL || labels[0] == NULL)
    return;
  g_string_append_c (out, '{');
  for (guint i = 0; labels[i] != NULL && labels[i + 1] != NULL; i += 2)
    {
      g_autofree gchar *escaped = evcp_prometheus_escape (labels[i + 1]);

      g_string_append_printf (out, "%s%s=\"%s\"", i > 0 ? "," : "", labels[i], escaped);
    }
  g_string_append_c (out, '}');
}

void
evcp_prometheus_sample (GString *out, const gchar *name, const gchar * const *labels, gdouble value)
{
  gchar buf[G_ASCII_DTOSTR_BUF_SIZE];

  g_return_if_fail (out != NULL && name != NULL);

  append_series (out, name, labels);
  g_string_append_c (out, ' ');
  if (isnan (value))
    g_string_append (out, "NaN");
  else if (isinf (value))
    g_string_append (out, value > 0 ? "+Inf" : "-Inf");
  else
    g_string_append (out, g_ascii_dtostr (buf, sizeof buf, value));
  g_string_append_c (out, '\n');
}

void
evcp_prometheus_sample_u64 (GString *out, const gchar *name, const gchar * const *labels, guint64 value)
{
  g_return_if_fail (out != NULL && name != NULL);

  append_series (out, name, labels);
  g_string_append_printf (out, " %" G_GUINT64_FORMAT "\n", value);
}

/* ---- the process ------------------------------------------------------------ */

#ifdef __linux__
/* Fields 14 (utime), 15 (stime) and 22 (starttime) of /proc/self/stat, in
 * clock ticks; the second field, (comm), may hold spaces and parentheses. */
static gboolean
read_self_stat (guint64 *utime, guint64 *stime, guint64 *starttime)
{
  g_autofree gchar *stat = NULL;
  g_auto(GStrv) fields = NULL;
  const gchar *after;

  if (!g_file_get_contents ("/proc/self/stat", &stat, NULL, NULL) || (after = strrchr (stat, ')')) == NULL)
    return FALSE;
  fields = g_strsplit (after + 2, " ", -1); /* fields[0] is field 3 (state) */
  if (g_strv_length (fields) < 20)
    return FALSE;
  *utime = g_ascii_strtoull (fields[11], NULL, 10);
  *stime = g_ascii_strtoull (fields[12], NULL, 10);
  *starttime = g_ascii_strtoull (fields[19], NULL, 10);
  return TRUE;
}

/* The boot time (btime of /proc/stat), seconds since the epoch. */
static guint64
boot_time (void)
{
  g_autofree gchar *stat = NULL;
  const gchar *line;

  if (!g_file_get_contents ("/proc/stat", &stat, NULL, NULL) || (line = strstr (stat, "\nbtime ")) == NULL)
    return 0;
  return g_ascii_strtoull (line + 7, NULL, 10);
}

static guint
count_open_fds (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  guint n = 0;

  while (dir != NULL && g_dir_read_name (dir) != NULL)
    n++;
  return n > 0 ? n - 1 : 0; /* not the one that reads the directory */
}

void
evcp_prometheus_process (GString *out)
{
  g_autofree gchar *statm = NULL;
  guint64 utime, stime, starttime, pages_virtual = 0, pages_resident = 0;
  gdouble ticks = (gdouble) sysconf (_SC_CLK_TCK);
  gdouble page = (gdouble) sysconf (_SC_PAGESIZE);

  g_return_if_fail (out != NULL);

  if (!read_self_stat (&utime, &stime, &starttime) || ticks <= 0 ||
      !g_file_get_contents ("/proc/self/statm", &statm, NULL, NULL) ||
      sscanf (statm, "%" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT, &pages_virtual, &pages_resident) != 2)
    return;
  evcp_prometheus_family (out, "process_cpu_seconds_total", "counter",
                          "Total user and system CPU time spent in seconds.");
  evcp_prometheus_sample (out, "process_cpu_seconds_total", NULL, (gdouble) (utime + stime) / ticks);
  evcp_prometheus_family (out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
  evcp_prometheus_sample_u64 (out, "process_resident_memory_bytes", NULL, pages_resident * (guint64) page);
  evcp_prometheus_family (out, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
  evcp_prometheus_sample_u64 (out, "process_virtual_memory_bytes", NULL, pages_virtual * (guint64) page);
  evcp_prometheus_family (out, "process_start_time_seconds", "gauge",
                          "Start time of the process since unix epoch in seconds.");
  evcp_prometheus_sample (out, "process_start_time_seconds", NULL, (gdouble) boot_time () + starttime / ticks);
  evcp_prometheus_family (out, "process_open_fds", "gauge", "Number of open file descriptors.");
  evcp_prometheus_sample_u64 (out, "process_open_fds", NULL, count_open_fds ());
}
#else
void
evcp_prometheus_process (GString *out)
{
}
#endif

/* ---- reading -------------------------------------------------------------- */

static gboolean
is_name_char (gchar c, gboolean first)
{
  return g_ascii_isalpha (c) || c == '_' || c == ':' || (!first && g_ascii_isdigit (c));
}

static const gchar *
parse_name (const gchar *p)
{
  if (!is_name_char (*p, TRUE))
    return NULL;
  while (is_name_char (*p, FALSE))
    p++;
  return p;
}

static gint
compare_labels (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const gchar * const *) a, *(const gchar * const *) b);
}

/* Parses `{a="x",b="y"}` at @p into "a=\"x\"" strings; returns the end or NULL. */
static const gchar *
parse_labels (const gchar *p, GPtrArray *labels)
{
  p++; /* { */
  for (;;)
    {
      const gchar *end;
      g_autoptr(GString) pair = NULL;

      while (*p == ' ')
        p++;
      if (*p == '}')
        return p + 1;
      end = parse_name (p);
      if (end == NULL || *end != '=' || end[1] != '"')
        return NULL;
      pair = g_string_new_len (p, end - p);
      g_string_append (pair, "=\"");
      p = end + 2;
      while (*p != '"')
        {
          if (*p == '\0' || *p == '\n')
            return NULL;
          if (*p == '\\')
            {
              p++;
              if (*p == 'n')
                g_string_append (pair, "\\n");
              else if (*p == '\\' || *p == '"')
                {
                  g_string_append_c (pair, '\\');
                  g_string_append_c (pair, *p);
                }
              else
                return NULL;
              p++;
              continue;
            }
          g_string_append_c (pair, *p++);
        }
      g_string_append_c (pair, '"');
      g_ptr_array_add (labels, g_string_free (g_steal_pointer (&pair), FALSE));
      p++;
      while (*p == ' ')
        p++;
      if (*p == ',')
        p++;
      else if (*p != '}')
        return NULL;
    }
}

static gboolean
parse_value (const gchar *text, gdouble *value)
{
  gchar *end = NULL;

  if (g_str_equal (text, "NaN"))
    *value = NAN;
  else if (g_str_equal (text, "+Inf"))
    *value = INFINITY;
  else if (g_str_equal (text, "-Inf"))
    *value = -INFINITY;
  else
    {
      *value = g_ascii_strtod (text, &end);
      if (end == text || *end != '\0')
        return FALSE;
    }
  return TRUE;
}

static gboolean
parse_line (const gchar *line, GHashTable *samples)
{
  g_autoptr(GPtrArray) labels = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GString) series = NULL;
  g_auto(GStrv) rest = NULL;
  g_autofree gchar *tail = NULL;
  const gchar *p = line, *end;
  gdouble value;

  if (*line == '#')
    {
      /* "# HELP name …", "# TYPE name type", or any other comment */
      if (g_str_has_prefix (line, "# HELP ") || g_str_has_prefix (line, "# TYPE "))
        return parse_name (line + 7) != NULL;
      return TRUE;
    }
  end = parse_name (p);
  if (end == NULL)
    return FALSE;
  series = g_string_new_len (p, end - p);
  p = end;
  if (*p == '{')
    {
      p = parse_labels (p, labels);
      if (p == NULL)
        return FALSE;
    }
  if (*p != ' ')
    return FALSE;
  tail = g_strstrip (g_strdup (p));
  rest = g_strsplit (tail, " ", -1);
  /* a value, then an optional timestamp */
  if (rest[0] == NULL || (rest[1] != NULL && rest[2] != NULL) || !parse_value (rest[0], &value))
    return FALSE;
  if (labels->len > 0)
    {
      g_ptr_array_sort (labels, compare_labels);
      g_string_append_c (series, '{');
      for (guint i = 0; i < labels->len; i++)
        g_string_append_printf (series, "%s%s", i > 0 ? "," : "", (gchar *) labels->pdata[i]);
      g_string_append_c (series, '}');
    }
  g_hash_table_insert (samples, g_string_free (g_steal_pointer (&series), FALSE),
                       g_memdup2 (&value, sizeof value));
  return TRUE;
}

GHashTable *
evcp_prometheus_parse (const gchar *text, GError **error)
{
  g_autoptr(GHashTable) samples = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_auto(GStrv) lines = NULL;

  g_return_val_if_fail (text != NULL, NULL);

  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      if (*lines[i] == '\0')
        continue;
      if (!parse_line (lines[i], samples))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       "line %u is not in the Prometheus text format: %s", i + 1, lines[i]);
          return NULL;
        }
    }
  return g_steal_pointer (&samples);
}

gdouble
evcp_prometheus_lookup (GHashTable *samples, const gchar *series)
{
  gdouble *v;

  g_return_val_if_fail (samples != NULL && series != NULL, NAN);

  v = g_hash_table_lookup (samples, series);
  return v != NULL ? *v : NAN;
}
