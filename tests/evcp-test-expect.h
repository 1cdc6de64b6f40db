/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* g_test_expect_message() for structured logging: evcp builds with
 * G_LOG_USE_STRUCTURED (g_warning() carries its code location), and GLib's
 * g_test_expect_message() only sees messages of the old g_log() API. These
 * install a writer (once per test program) that swallows the expected
 * messages, in order, and passes the others to GLib's default writer. */
#pragma once

#include <glib.h>

typedef struct {
  gchar *domain;
  GLogLevelFlags level;
  gchar *pattern;
} EvcpTestExpected;

static GQueue evcp_test_expected = G_QUEUE_INIT;
/* A test program with a writer of its own sets this and ends its writer in
 * evcp_test_expect_writer(). */
static gboolean evcp_test_expect_chained;
/* Warnings (and worse) that went through the writer, expected or not. */
static guint evcp_test_warnings_seen;

static inline void
evcp_test_expected_free (EvcpTestExpected *e)
{
  g_free (e->domain);
  g_free (e->pattern);
  g_free (e);
}

static inline GLogWriterOutput
evcp_test_expect_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  EvcpTestExpected *e = g_queue_peek_head (&evcp_test_expected);
  const gchar *domain = NULL;
  const gchar *message = NULL;

  for (gsize i = 0; i < n_fields; i++)
    {
      if (g_str_equal (fields[i].key, "GLIB_DOMAIN"))
        domain = fields[i].value;
      else if (g_str_equal (fields[i].key, "MESSAGE") && fields[i].length < 0)
        message = fields[i].value;
    }
  if (level & (G_LOG_LEVEL_WARNING | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR))
    evcp_test_warnings_seen++;
  if (e != NULL && g_strcmp0 (domain, e->domain) == 0 && (level & e->level) != 0 && message != NULL &&
      g_pattern_match_simple (e->pattern, message))
    {
      evcp_test_expected_free (g_queue_pop_head (&evcp_test_expected));
      return G_LOG_WRITER_HANDLED;
    }
  return g_log_writer_default (level, fields, n_fields, user_data);
}

static inline void
evcp_test_expect_message (const gchar *domain, GLogLevelFlags level, const gchar *pattern)
{
  static gsize installed;
  EvcpTestExpected *e = g_new0 (EvcpTestExpected, 1);

  if (g_once_init_enter (&installed))
    {
      if (!evcp_test_expect_chained)
        g_log_set_writer_func (evcp_test_expect_writer, NULL, NULL);
      g_once_init_leave (&installed, 1);
    }
  e->domain = g_strdup (domain);
  e->level = level;
  e->pattern = g_strdup (pattern);
  g_queue_push_tail (&evcp_test_expected, e);
}

/* Whether every expected message came. */
static inline gboolean
evcp_test_expected_all_seen (gpointer unused)
{
  return g_queue_is_empty (&evcp_test_expected);
}

static inline void
evcp_test_assert_expected_messages (void)
{
  EvcpTestExpected *e = g_queue_peek_head (&evcp_test_expected);

  if (e != NULL)
    g_error ("Did not see the expected message %s: %s", e->domain, e->pattern);
}
