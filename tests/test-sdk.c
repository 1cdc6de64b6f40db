/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The plugin SDK as a plugin author meets it: evcp installed with
 * `meson install --destdir` into a temporary directory, the example plugin
 * (plugins/custom-message, copied out of the tree) built with nothing but
 * `pkg-config --cflags --libs evcp-plugin` pointing into it, and loaded by
 * the installed evcp-engine (with the installed libevcp.so.0), which handles
 * a message with it from the evcp-kafka-mock program on loopback. Also:
 * what the installed libevcp.so.0 exports is exactly src/libevcp/libevcp.map. */
#include "evcp-build-config.h"

#include <signal.h>
#include <string.h>

#include <glib/gstdio.h>

#include "evcp-test-util.h"

#define WAIT_MS 30000

typedef struct {
  gchar *tmpdir;
  gchar *destdir;
  gchar *prefix;    /* destdir + the configured prefix */
  gchar *libdir;    /* the installed libdir, in destdir */
} Fixture;

static gchar *
in_destdir (Fixture *f, const gchar *option)
{
  /* a meson directory option: relative to the prefix, or absolute */
  return g_path_is_absolute (option) ? g_build_filename (f->destdir, option, NULL)
                                     : g_build_filename (f->prefix, option, NULL);
}

/* Runs @argv with @env added; fails the test, showing its output, unless it
 * exits with 0. Returns its output. */
static gchar *
run (const gchar * const *argv, const gchar * const *env)
{
  g_autoptr(GSubprocessLauncher) launcher =
    evcp_test_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *cmd = g_strjoinv (" ", (gchar **) argv);
  gchar *out = NULL;

  for (guint i = 0; env != NULL && env[i] != NULL; i += 2)
    g_subprocess_launcher_setenv (launcher, env[i], env[i + 1], TRUE);
  proc = evcp_test_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_communicate_utf8 (proc, NULL, NULL, &out, NULL, &error));
  g_assert_no_error (error);
  if (!g_subprocess_get_if_exited (proc) || g_subprocess_get_exit_status (proc) != 0)
    g_error ("%s failed:\n%s", cmd, out);
  return out;
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree gchar *out = NULL;

  f->tmpdir = g_dir_make_tmp ("evcp-test-sdk-XXXXXX", &error);
  g_assert_no_error (error);
  f->destdir = g_build_filename (f->tmpdir, "dest", NULL);
  f->prefix = g_build_filename (f->destdir, g_getenv ("EVCP_PREFIX"), NULL);
  f->libdir = in_destdir (f, g_getenv ("EVCP_LIBDIR"));
  out = run ((const gchar *[]) { g_getenv ("EVCP_MESON"), "install", "-C", g_getenv ("EVCP_BUILD_ROOT"),
                                 "--destdir", f->destdir, "--no-rebuild", "--quiet", NULL }, NULL);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  evcp_test_remove_tree (f->tmpdir);
  g_free (f->tmpdir);
  g_free (f->destdir);
  g_free (f->prefix);
  g_free (f->libdir);
}

typedef struct {
  const gchar *path;
  const gchar *needle;
} LogWait;

static gboolean
log_contains (gpointer data)
{
  LogWait *w = data;
  g_autofree gchar *contents = NULL;

  return g_file_get_contents (w->path, &contents, NULL, NULL) && strstr (contents, w->needle) != NULL;
}

static gboolean
exited (gpointer data)
{
  return g_subprocess_get_identifier (data) == NULL;
}

/* The plugin, built out of the tree with only pkg-config; returns its
 * directory. */
static gchar *
build_plugin (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autofree gchar *pcdir = g_build_filename (f->libdir, "pkgconfig", NULL);
  g_autofree gchar *srcdir = g_build_filename (f->tmpdir, "plugin-src", NULL);
  g_autofree gchar *plugindir = g_build_filename (f->tmpdir, "plugins", NULL);
  g_autofree gchar *source = g_build_filename (srcdir, "plugin.c", NULL);
  g_autofree gchar *module = g_build_filename (plugindir, "custom-message." G_MODULE_SUFFIX, NULL);
  g_autofree gchar *contents = NULL;
  g_autofree gchar *flags = NULL;
  g_autofree gchar *script = NULL;
  g_autofree gchar *include = g_build_filename (f->prefix, "include", "evcp-0", NULL);
  const gchar *env[] = { "PKG_CONFIG_PATH", pcdir, NULL };

  /* a copy, so that nothing of the source tree is at hand */
  g_assert_true (g_file_get_contents (g_getenv ("EVCP_PLUGIN_SOURCE"), &contents, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_mkdir_with_parents (srcdir, 0700), ==, 0);
  g_assert_cmpint (g_mkdir_with_parents (plugindir, 0700), ==, 0);
  g_assert_true (g_file_set_contents (source, contents, -1, &error));
  g_assert_no_error (error);

  flags = run ((const gchar *[]) { g_getenv ("EVCP_PKG_CONFIG"), "--cflags", "--libs", "evcp-plugin", NULL }, env);
  g_test_message ("pkg-config --cflags --libs evcp-plugin: %s", flags);
  /* the headers and the library of the DESTDIR, and librdkafka nowhere */
  g_assert_nonnull (strstr (flags, f->destdir));
  g_assert_nonnull (strstr (flags, "-levcp"));
  g_assert_null (strstr (flags, "rdkafka"));
  g_assert_true (g_file_test (include, G_FILE_TEST_IS_DIR));

  script = g_strdup_printf ("cd '%s' && %s -shared -fPIC -Wall -Werror -o '%s' plugin.c "
                            "$('%s' --cflags --libs evcp-plugin)",
                            srcdir, g_getenv ("EVCP_CC"), module, g_getenv ("EVCP_PKG_CONFIG"));
  g_free (run ((const gchar *[]) { "/bin/sh", "-c", script, NULL }, env));
  g_assert_true (g_file_test (module, G_FILE_TEST_IS_REGULAR));
  return g_steal_pointer (&plugindir);
}

static void
test_installed_plugin (Fixture *f, gconstpointer data)
{
  g_autoptr(EvcpTestMockProcess) mock = NULL;
  g_autoptr(GSubprocessLauncher) launcher = evcp_test_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_autoptr(GSubprocess) engine = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *plugindir = build_plugin (f);
  g_autofree gchar *bindir = in_destdir (f, g_getenv ("EVCP_DAEMONDIR"));
  g_autofree gchar *engine_path = g_build_filename (bindir, "evcp-engine", NULL);
  g_autofree gchar *log = g_build_filename (f->tmpdir, "engine.log", NULL);
  g_autofree gchar *state = g_build_filename (f->tmpdir, "state", NULL);
  g_autofree gchar *maps_path = NULL;
  g_autofree gchar *maps = NULL;
  g_autofree gchar *installed_lib = g_build_filename (f->libdir, "libevcp.so.0", NULL);
  const gchar *args[] = { "--partitions=1", NULL };
  static const gchar msg[] = "{\"kind\":\"CUSTOM_MESSAGE\",\"data\":{\"text\":\"from the SDK\"}}";
  LogWait loaded = { log, "Loaded plugin" };
  LogWait handled = { log, "Custom message #1: from the SDK" };

  mock = evcp_test_mock_process_start (args, &error);
  g_assert_no_error (error);

  g_subprocess_launcher_setenv (launcher, "LD_LIBRARY_PATH", f->libdir, TRUE);
  g_subprocess_launcher_setenv (launcher, "KAFKA_BROKERS", evcp_test_mock_process_get_bootstrap (mock), TRUE);
  g_subprocess_launcher_setenv (launcher, "KAFKA_TOPICS", "sdk_messages", TRUE);
  g_subprocess_launcher_setenv (launcher, "KAFKA_GROUP_ID", "test-sdk", TRUE);
  g_subprocess_launcher_setenv (launcher, "CP_ID", "CP-SDK", TRUE);
  g_subprocess_launcher_unsetenv (launcher, "EVCP_CONFIG");
  evcp_test_isolate_launcher (launcher, state);
  g_subprocess_launcher_set_stderr_file_path (launcher, log);
  g_subprocess_launcher_set_stdout_file_path (launcher, "/dev/null");
  engine = evcp_test_launcher_spawn (launcher, &error, engine_path, "--plugin-dir", plugindir, "--verbose", NULL);
  g_assert_no_error (error);

  g_assert_true (evcp_test_wait_until (NULL, log_contains, &loaded, WAIT_MS));
  /* the installed libevcp.so.0, not the build tree's */
  maps_path = g_strdup_printf ("/proc/%s/maps", g_subprocess_get_identifier (engine));
  g_assert_true (g_file_get_contents (maps_path, &maps, NULL, &error));
  g_assert_no_error (error);
  g_assert_nonnull (strstr (maps, f->libdir));
  g_assert_true (g_file_test (installed_lib, G_FILE_TEST_EXISTS));

  g_assert_true (evcp_test_produce (evcp_test_mock_process_get_bootstrap (mock), "sdk_messages",
                                    "CP-SDK", msg, -1, &error));
  g_assert_no_error (error);
  g_assert_true (evcp_test_wait_until (NULL, log_contains, &handled, WAIT_MS));

  g_subprocess_send_signal (engine, SIGTERM);
  g_assert_true (evcp_test_wait_until (NULL, exited, engine, 10000));
  g_assert_true (g_subprocess_get_if_exited (engine));
  g_assert_cmpint (g_subprocess_get_exit_status (engine), ==, 0);
  g_assert_true (evcp_test_mock_process_stop (mock, &error));
  g_assert_no_error (error);
}

/* The names between "global:" and "local:"/"}" of the version script. */
static GPtrArray *
read_map (const gchar *path)
{
  g_autofree gchar *text = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GRegex) comments = g_regex_new ("/\\*.*?\\*/", G_REGEX_DOTALL, 0, NULL);
  g_autofree gchar *plain = NULL;
  g_auto(GStrv) tokens = NULL;
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  gboolean global = FALSE;

  g_assert_true (g_file_get_contents (path, &text, NULL, &error));
  g_assert_no_error (error);
  plain = g_regex_replace_literal (comments, text, -1, 0, "", 0, NULL);
  tokens = g_regex_split_simple ("[\\s;{}]+", plain, 0, 0);
  for (guint i = 0; tokens[i] != NULL; i++)
    {
      if (g_str_equal (tokens[i], "global:"))
        global = TRUE;
      else if (g_str_equal (tokens[i], "local:") || g_str_has_prefix (tokens[i], "EVCP_"))
        global = FALSE;
      else if (global && *tokens[i] != '\0')
        g_ptr_array_add (names, g_strdup (tokens[i]));
    }
  return names;
}

static gint
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const gchar * const *) a, *(const gchar * const *) b);
}

static void
test_exports (Fixture *f, gconstpointer data)
{
  g_autofree gchar *lib = g_build_filename (f->libdir, "libevcp.so.0", NULL);
  g_autofree gchar *out = NULL;
  g_autofree gchar *expected_text = NULL;
  g_autofree gchar *exported_text = NULL;
  g_autoptr(GPtrArray) expected = read_map (g_getenv ("EVCP_LIBEVCP_MAP"));
  g_autoptr(GPtrArray) exported = g_ptr_array_new_with_free_func (g_free);
  g_auto(GStrv) lines = NULL;

  out = run ((const gchar *[]) { g_getenv ("EVCP_NM"), "-D", "--defined-only", lib, NULL }, NULL);
  lines = g_strsplit (out, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_auto(GStrv) fields = g_strsplit (lines[i], " ", -1);
      g_autofree gchar *name = NULL;

      /* "<address> T name@@NODE"; the version nodes themselves are type A */
      if (g_strv_length (fields) != 3 || g_str_equal (fields[1], "A"))
        continue;
      name = g_strdup (fields[2]);
      if (strchr (name, '@') != NULL)
        *strchr (name, '@') = '\0';
      g_ptr_array_add (exported, g_steal_pointer (&name));
    }
  g_ptr_array_sort (expected, compare_strings);
  g_ptr_array_sort (exported, compare_strings);
  g_ptr_array_add (expected, NULL);
  g_ptr_array_add (exported, NULL);
  expected_text = g_strjoinv ("\n", (gchar **) expected->pdata);
  exported_text = g_strjoinv ("\n", (gchar **) exported->pdata);
  g_test_message ("libevcp.so.0 exports %u symbols", exported->len - 1);
  g_assert_cmpstr (exported_text, ==, expected_text);
}

/* What `meson install` lays out for a packager (issue 18): the daemons in
 * sbindir, named by the units and the activation files with the installed
 * evcp.conf; the units' Documentation= and ConfigurationDirectory=;
 * evcp.conf mode 0640 with its drop-in directory; the example plugin where
 * the programs look for plugins by default (evcp.conf says so). */
static void
test_installed_layout (Fixture *f, gconstpointer data)
{
  g_autofree gchar *daemondir = in_destdir (f, g_getenv ("EVCP_DAEMONDIR"));
  g_autofree gchar *confdir_rel = g_build_filename (g_getenv ("EVCP_SYSCONFDIR"), "evcp", NULL);
  g_autofree gchar *confdir = in_destdir (f, confdir_rel);
  g_autofree gchar *conf = g_build_filename (confdir, "evcp.conf", NULL);
  g_autofree gchar *dropins = g_build_filename (confdir, "evcp.conf.d", NULL);
  g_autofree gchar *installed_conf = g_path_is_absolute (confdir_rel)
                                         ? g_build_filename (confdir_rel, "evcp.conf", NULL)
                                         : g_build_filename (g_getenv ("EVCP_PREFIX"), confdir_rel, "evcp.conf", NULL);
  g_autofree gchar *daemondir_installed =
      g_path_is_absolute (g_getenv ("EVCP_DAEMONDIR"))
          ? g_strdup (g_getenv ("EVCP_DAEMONDIR"))
          : g_build_filename (g_getenv ("EVCP_PREFIX"), g_getenv ("EVCP_DAEMONDIR"), NULL);
  g_autofree gchar *plugin_rel = g_build_filename (g_getenv ("EVCP_LIBDIR"), "evcp", "plugins", NULL);
  g_autofree gchar *plugin = NULL;
  g_autofree gchar *plugindir_line = NULL;
  g_autofree gchar *text = NULL;
  g_autoptr(GError) error = NULL;
  const gchar *programs[] = { "evcp-engine", "evcp-monitor" };
  GStatBuf st;

  for (guint i = 0; i < G_N_ELEMENTS (programs); i++)
    {
      g_autofree gchar *exe = g_build_filename (daemondir, programs[i], NULL);
      g_autofree gchar *unit_name = g_strdup_printf ("%s.service", programs[i]);
      g_autofree gchar *unit = g_build_filename (f->prefix, "lib", "systemd", "system", unit_name, NULL);
      g_autofree gchar *exec_start = g_strdup_printf ("\nExecStart=%s/%s ", daemondir_installed, programs[i]);
      g_autofree gchar *config = g_strdup_printf (" --config %s\n", installed_conf);
      g_autofree gchar *bus_name = g_strdup_printf ("org.evcp.%s.service", i == 0 ? "Engine" : "Monitor");
      g_autofree gchar *activation = g_build_filename (f->prefix, "share", "dbus-1", "system-services", bus_name, NULL);
      g_autofree gchar *exec = g_strdup_printf ("\nExec=%s/%s ", daemondir_installed, programs[i]);

      g_assert_true (g_file_test (exe, G_FILE_TEST_IS_EXECUTABLE));
      g_clear_pointer (&text, g_free);
      g_assert_true (g_file_get_contents (unit, &text, NULL, &error));
      g_assert_no_error (error);
      g_assert_nonnull (strstr (text, exec_start));
      g_assert_nonnull (strstr (text, config));
      g_assert_nonnull (strstr (text, "\nDocumentation=file://"));
      g_assert_nonnull (strstr (text, "\nConfigurationDirectory=evcp\n"));
      g_clear_pointer (&text, g_free);
      g_assert_true (g_file_get_contents (activation, &text, NULL, &error));
      g_assert_no_error (error);
      g_assert_nonnull (strstr (text, exec));
    }
  /* the development tools (-Ddev_tools=true by default) stay in bindir */
  {
    g_autofree gchar *bindir = in_destdir (f, "bin");
    g_autofree gchar *ctl = g_build_filename (bindir, "evcpctl", NULL);

    g_assert_true (g_file_test (ctl, G_FILE_TEST_IS_EXECUTABLE));
  }
  g_assert_cmpint (g_stat (conf, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0640);
  g_assert_true (g_file_test (dropins, G_FILE_TEST_IS_DIR));
  g_assert_cmpint (g_stat (dropins, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0750);

  plugin = g_build_filename (f->libdir, "evcp", "plugins", "evcp-custom-message.so", NULL);
  g_assert_true (g_file_test (plugin, G_FILE_TEST_IS_REGULAR));
  plugindir_line = g_strdup_printf ("\n#plugin-dir=%s/%s\n", g_getenv ("EVCP_PREFIX"), plugin_rel);
  g_clear_pointer (&text, g_free);
  g_assert_true (g_file_get_contents (conf, &text, NULL, &error));
  g_assert_nonnull (strstr (text, plugindir_line));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/sdk/installed-plugin", Fixture, NULL, fixture_set_up, test_installed_plugin, fixture_tear_down);
  g_test_add ("/sdk/exports", Fixture, NULL, fixture_set_up, test_exports, fixture_tear_down);
  g_test_add ("/sdk/installed-layout", Fixture, NULL, fixture_set_up, test_installed_layout, fixture_tear_down);
  return g_test_run ();
}
