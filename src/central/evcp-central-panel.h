/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdio.h>

#include "evcp-central-server.h"

G_BEGIN_DECLS

/*
 * EvcpCentralPanel: a live view of the registry on a terminal, with ANSI
 * escape codes (no curses): one line per CP, green ACTIVE, green with kWh
 * and EUR while SUPPLYING, orange STOPPED, red FAULT, grey while its Engine
 * is not connected; then the last events (log lines), a legend, the answer
 * to the last command and the line being typed, edited in place (the
 * panel draws it: a redraw keeps it). Redrawn when the server changes, at
 * most 10 times a second, and at once when the terminal is resized; it fits
 * the terminal's size. NO_COLOR: no colours.
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

/* A line typed on the panel, or NULL at the end of input. */
typedef void (*EvcpCentralPanelLineFunc) (const gchar *line, gpointer user_data);
gboolean evcp_central_panel_read_terminal (EvcpCentralPanel *self, gint fd, EvcpCentralPanelLineFunc func,
                                           gpointer user_data);
gboolean evcp_central_panel_feed (EvcpCentralPanel *self, const gchar *bytes, gsize length);
const gchar *evcp_central_panel_get_input (EvcpCentralPanel *self);
/* `list` as a table, for the panel's answer (lines). */
gchar *evcp_central_panel_format_list (JsonNode *root);
/* The last drawing, then the terminal back to normal below it. */
void              evcp_central_panel_finish     (EvcpCentralPanel  *self);

G_END_DECLS
