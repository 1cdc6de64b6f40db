/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "evcp-build-config.h"

#include "evcp-log.h"

/* evcp_log_enabled() says what GLib's default writer shows, and follows
 * G_MESSAGES_DEBUG as GLib does, also when it changes while running. */
static void
test_log_enabled_follows_glib (void)
{
  g_log_set_debug_enabled (FALSE);

  g_setenv ("G_MESSAGES_DEBUG", "evcp-a evcp-c", TRUE);
  g_assert_true (evcp_log_enabled (G_LOG_LEVEL_WARNING, "evcp-b"));
  g_assert_true (evcp_log_enabled (G_LOG_LEVEL_MESSAGE, "evcp-b"));
  g_assert_true (evcp_log_enabled (G_LOG_LEVEL_DEBUG, "evcp-a"));
  g_assert_true (evcp_log_enabled (G_LOG_LEVEL_INFO, "evcp-c"));
  g_assert_false (evcp_log_enabled (G_LOG_LEVEL_DEBUG, "evcp-b"));
  g_assert_false (evcp_log_enabled (G_LOG_LEVEL_INFO, NULL));

  g_setenv ("G_MESSAGES_DEBUG", "all", TRUE);
  g_assert_true (evcp_log_enabled (G_LOG_LEVEL_DEBUG, "evcp-b"));
  g_assert_true (evcp_log_enabled (G_LOG_LEVEL_INFO, NULL));

  g_unsetenv ("G_MESSAGES_DEBUG");
  g_assert_false (evcp_log_enabled (G_LOG_LEVEL_DEBUG, "evcp-a"));
  g_log_set_debug_enabled (TRUE);
  g_assert_true (evcp_log_enabled (G_LOG_LEVEL_DEBUG, "evcp-a"));
  g_log_set_debug_enabled (FALSE);

  for (guint i = 0; i < 3; i++)
    {
      const gchar *env[] = { "evcp-a", "all", "" };
      const GLogLevelFlags levels[] = { G_LOG_LEVEL_DEBUG, G_LOG_LEVEL_INFO, G_LOG_LEVEL_MESSAGE };

      g_setenv ("G_MESSAGES_DEBUG", env[i], TRUE);
      for (guint l = 0; l < G_N_ELEMENTS (levels); l++)
        g_assert_cmpint (evcp_log_enabled (levels[l], "evcp-a"), ==,
                         !g_log_writer_default_would_drop (levels[l], "evcp-a"));
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/log/enabled-follows-glib", test_log_enabled_follows_glib);
  return g_test_run ();
}
