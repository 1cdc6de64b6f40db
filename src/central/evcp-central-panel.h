/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdio.h>

#include "evcp-central-server.h"

G_BEGIN_DECLS

/*
 * EvcpCentralPanel: a live view of the registry on a terminal, with ANSI
 * escape codes (no curses): one line per CP, green ACTIVE, green with kWh
 * and EUR while SUPPLYING, orange STOPPED, red FAULT, grey while its Engine
 * is not connected; then the last events (log lines) and the answer to the
 * last command. Redrawn when the server changes, at most 10 times a second.
 */

#define EVCP_CENTRAL_PANEL_EVENTS 8

#define EVCP_TYPE_CENTRAL_PANEL (evcp_central_panel_get_type ())
G_DECLARE_FINAL_TYPE (EvcpCentralPanel, evcp_central_panel, EVCP, CENTRAL_PANEL, GObject)

EvcpCentralPanel *evcp_central_panel_new        (EvcpCentralServer *server,
                                                 FILE              *out);
/* Thread-safe: may be called from a log writer on any thread. */
void              evcp_central_panel_add_event  (EvcpCentralPanel  *self,
                                                 GLogLevelFlags     level,
                                                 const gchar       *text);
void              evcp_central_panel_set_answer (EvcpCentralPanel  *self,
                                                 const gchar       *answer);
void              evcp_central_panel_redraw     (EvcpCentralPanel  *self);
/* The last drawing, then the terminal back to normal below it. */
void              evcp_central_panel_finish     (EvcpCentralPanel  *self);

G_END_DECLS
