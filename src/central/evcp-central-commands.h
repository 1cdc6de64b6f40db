/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "evcp-central-server.h"

G_BEGIN_DECLS

/*
 * The operator's commands of evcp-central, one per line:
 *
 *   stop <cp>|all
 *   resume <cp>|all
 *   authorize <cp> <driver> <power_kw> <max_duration_s>
 *   list
 *   help
 *   quit
 *
 * Each is answered with one line, "OK …" or "ERR <reason>".
 */

#define EVCP_CENTRAL_COMMANDS_USAGE \
  "stop <cp>|all, resume <cp>|all, authorize <cp> <driver> <power_kw> <max_duration_s>, secret <cp> <secret>|-, list, help, quit"

/**
 * evcp_central_command_run:
 * @line: one line, without its newline
 * @quit: (out): set to %TRUE for "quit"
 *
 * Returns: (transfer full) (nullable): the answer line, without a newline;
 *   %NULL for a blank line or a comment ("#…"), which get no answer.
 */
gchar *evcp_central_command_run (EvcpCentralServer *server,
                                 const gchar       *line,
                                 gboolean          *quit) G_GNUC_WARN_UNUSED_RESULT;

G_END_DECLS
