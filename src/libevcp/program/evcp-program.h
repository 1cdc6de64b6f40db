/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "evcp-config.h"
#include "evcp-plugin-loader.h"

G_BEGIN_DECLS

/*
 * What the main() of every program shares (issue 18): usage errors said the
 * same way everywhere and exit status 2, --version with the libraries, and
 * --check-config.
 */

/* A usage error: an unknown option, a bad value, an argument where none is
 * taken (sysexits' EX_USAGE is 64; 2 is what getopt programs and evcpctl
 * use). */
#define EVCP_EXIT_USAGE 2

/* Parses the command line with @context. A usage error (an option GLib
 * refuses, or an argument left over when @max_arguments are taken) is said
 * on stderr with "Try “PROGRAM --help”.", and FALSE returned: exit with
 * EVCP_EXIT_USAGE. */
gboolean evcp_program_parse (GOptionContext *context, const gchar *program, guint max_arguments, gint *argc,
                             gchar ***argv);
/* An integer option's initial value: not given (no one types -2147483648). */
#define EVCP_OPTION_UNSET G_MININT

/* An option's value, checked right after parsing, before anything starts:
 * a port of 1 to 65535, a listening address (evcp_config_parse_address()),
 * a number from @min to @max; EVCP_OPTION_UNSET or NULL: not given. FALSE:
 * a usage error was said. */
gboolean evcp_program_check_port (const gchar *program, const gchar *option, gint value);
gboolean evcp_program_check_int (const gchar *program, const gchar *option, gint value, gint min, gint max);
gboolean evcp_program_check_address (const gchar *program, const gchar *option, const gchar *value);
/* Says @message as a usage error; returns EVCP_EXIT_USAGE. */
int evcp_program_usage_error (const gchar *program, const gchar *message);
/* The text of --version: the program and evcp's version, then GLib,
 * json-glib and librdkafka, each at run time and as built against.
 * (transfer full) */
gchar *evcp_program_version (const gchar *program);
/* What --check-config checks beyond the configuration: a program's own
 * places (evcp-central has none: NULL). */
typedef struct {
  const gchar *state_dir; /* NULL: none */
  gboolean plugins;       /* the plugin directory, for plugin_kind */
  EvcpPluginKind plugin_kind;
} EvcpCheckScope;

/* --check-config: the configuration loaded (or the error that stopped its
 * loading) validated as the program would at start, without starting
 * anything: settings, addresses, librdkafka's properties, no unknown group
 * or key, the files it names readable (CA, certificates, keys), and in
 * @scope (nullable) the state directory a directory or creatable, every
 * plugin of the plugin directory loadable (its ABI; no entry point called).
 * Says the result; returns the exit status (0 or 1). */
int evcp_program_check_config (const gchar *program, EvcpConfig *config, const GError *load_error,
                               const EvcpCheckScope *scope);

G_END_DECLS
