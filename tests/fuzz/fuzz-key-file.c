/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz target for the key-file loader (evcp_config_load_key_file): any
 * bytes as evcp.conf. It never crashes, leaks or reads out of bounds; it
 * either takes the file or says why in a GError, never both; and what it
 * takes, evcp_config_validate() judges without crashing either. The bytes
 * go through a real file, as the programs read theirs. */
#include "evcp-build-config.h"

#include <stdint.h>
#include <stdio.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "evcp-config.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static gchar *path;

static void
write_file (const uint8_t *data, size_t size)
{
  FILE *file;

  if (path == NULL)
    {
      g_autoptr(GError) error = NULL;
      gint fd = g_file_open_tmp ("evcp-fuzz-key-file-XXXXXX", &path, &error);

      g_assert_no_error (error);
      g_close (fd, NULL);
    }
  file = g_fopen (path, "wb");
  g_assert_nonnull (file);
  g_assert_cmpuint (fwrite (data, 1, size, file), ==, size);
  g_assert_cmpint (fclose (file), ==, 0);
}

/* Random bytes are mostly unknown groups and keys, each reported with a
 * warning: those are dropped (millions of lines would slow the campaign);
 * everything else is logged as usual. */
static GLogWriterOutput
quiet_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  for (gsize i = 0; i < n_fields; i++)
    if ((level & G_LOG_LEVEL_WARNING) && g_strcmp0 (fields[i].key, "GLIB_DOMAIN") == 0 &&
        g_strcmp0 (fields[i].value, "evcp-config") == 0)
      return G_LOG_WRITER_HANDLED;
  return g_log_writer_default (level, fields, n_fields, user_data);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static gboolean quiet;
  g_autoptr(EvcpConfig) config = evcp_config_new ();
  g_autoptr(GError) error = NULL;

  if (!quiet)
    {
      g_log_set_writer_func (quiet_writer, NULL, NULL);
      quiet = TRUE;
    }
  write_file (data, size);
  if (evcp_config_load_key_file (config, path, &error))
    {
      g_assert_no_error (error);
      if (!evcp_config_validate (config, &error))
        g_assert_nonnull (error);
    }
  else
    g_assert_nonnull (error);
  return 0;
}
