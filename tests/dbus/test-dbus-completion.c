/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The bash completion of evcpctl (data/completion/evcpctl), sourced by bash
 * and asked as bash asks it (COMP_WORDS, COMP_CWORD): options, commands,
 * their arguments, and the handler names of the running Engine, on the bus
 * the command line names; nothing is started for a completion. */
#include "evcp-build-config.h"

#include <string.h>

#include "evcp-test-dbus.h"

/* The completions of @line (words separated by spaces; a trailing space:
 * completing a new, empty word), one per line, sorted. */
static gchar *
complete (EvcpTestBus *bus, const gchar *line)
{
  g_autofree gchar *bindir = g_path_get_dirname (evcp_test_dbus_program ("EVCP_CTL"));
  g_autofree gchar *path = g_strdup_printf ("PATH=%s:%s", bindir, g_getenv ("PATH"));
  g_autofree gchar *address = g_strdup_printf ("DBUS_SESSION_BUS_ADDRESS=%s", bus->address);
  g_autofree gchar *words_env = g_strdup_printf ("EVCP_WORDS=%s", line);
  const gchar *file = g_getenv ("EVCP_BASH_COMPLETION");
  const gchar *env[] = { path, address, words_env, NULL };
  /* read -a splits the line; a trailing space adds the empty word */
  const gchar *script = "set -u; source \"$1\"; read -r -a COMP_WORDS <<< \"$EVCP_WORDS\"; "
                        "[[ $EVCP_WORDS == *' ' ]] && COMP_WORDS+=(''); "
                        "COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); _evcpctl; "
                        "[ ${#COMPREPLY[@]} -eq 0 ] || printf '%s\\n' \"${COMPREPLY[@]}\" | LC_ALL=C sort";
  g_autoptr(EvcpTestRun) run = NULL;

  g_assert_nonnull (file);
  run = evcp_test_run (env, (const gchar * const[]){ "bash", "-c", script, "bash", file, NULL });
  g_assert_cmpstr (run->err, ==, "");
  g_assert_cmpint (run->status, ==, 0);
  g_test_message ("“%s” → %s", line, run->out);
  return g_strdup (run->out);
}

static void
assert_completes (EvcpTestBus *bus, const gchar *line, const gchar *expected)
{
  g_autofree gchar *got = complete (bus, line);

  g_assert_cmpstr (got, ==, expected);
}

static void
test_completion (void)
{
  g_autoptr(EvcpTestBus) bus = evcp_test_bus_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(EvcpTestRun) run = NULL;
  g_autofree gchar *address = NULL;

  g_assert_true (evcp_test_bus_start (bus, "session", NULL, &error));
  g_assert_no_error (error);

  assert_completes (bus, "evcpctl ", "clear-fault\nfault\nhandler\nhandlers\nmetrics\nmonitor\nstatus\nunplug\n");
  assert_completes (bus, "evcpctl han", "handler\nhandlers\n");
  assert_completes (bus, "evcpctl --json st", "status\n");
  assert_completes (bus, "evcpctl --sy", "--system\n");
  assert_completes (bus, "evcpctl status ", "engine\nmonitor\n");
  assert_completes (bus, "evcpctl metrics m", "monitor\n");
  assert_completes (bus, "evcpctl handler ", "disable\nenable\n");
  assert_completes (bus, "evcpctl --bus-name ", "");
  assert_completes (bus, "evcpctl status engine ", "");

  /* no Engine: no names, and none was started for them */
  assert_completes (bus, "evcpctl handler enable ", "");
  g_assert_false (evcp_test_bus_has_owner (bus, "org.evcp.Engine"));

  /* the running Engine's handlers */
  address = g_strdup_printf ("DBUS_SESSION_BUS_ADDRESS=%s", bus->address);
  run = evcp_test_run ((const gchar * const[]){ address, NULL },
                       (const gchar * const[]){ evcp_test_dbus_program ("EVCP_CTL"), "--start", "status", "engine",
                                                NULL });
  g_assert_cmpint (run->status, ==, 0);
  assert_completes (bus, "evcpctl handler enable ", "charging-request\nsystem-notification\nuser-info\n");
  assert_completes (bus, "evcpctl --json handler disable us", "user-info\n");
  assert_completes (bus, "evcpctl --session handler enable ch", "charging-request\n");
  /* the bus of the command line: no Engine there */
  assert_completes (bus, "evcpctl --bus-name org.evcp.Engine.CP999 handler enable ", "");
  assert_completes (bus, "evcpctl handler enable user-info ", "");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/dbus/completion/evcpctl", test_completion);
  return g_test_run ();
}
