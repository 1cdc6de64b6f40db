/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "evcp-central"

#include "evcp-build-config.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <glib/gi18n-lib.h>
#ifdef G_OS_UNIX
#include <glib-unix.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>
#endif

#include "evcp-central-commands.h"
#include "evcp-central-panel.h"

#define REDRAW_DELAY_MS 100

#define ANSI_RESET        "\033[0m"
#define ANSI_BOLD         "\033[1m"
#define ANSI_GREEN        "\033[32m"
#define ANSI_ORANGE       "\033[38;5;208m"
#define ANSI_RED          "\033[31m"
#define ANSI_YELLOW       "\033[33m"
#define ANSI_GREY         "\033[90m"
#define ANSI_HOME         "\033[H"
#define ANSI_CLEAR_SCREEN "\033[2J"
#define ANSI_CLEAR_EOL    "\033[K"
#define ANSI_CLEAR_BELOW  "\033[J"

typedef struct {
  GLogLevelFlags  level;
  gchar          *text;
} Event;

struct _EvcpCentralPanel
{
  GObject            parent_instance;

  EvcpCentralServer *server;
  FILE              *out;
  gchar             *answer;
  gboolean           cleared;
  gboolean           finished;

  gboolean no_color; /* NO_COLOR set */
  guint columns;     /* of the last drawing */
  guint lines;       /* drawn so far in this drawing */

  /* the line being typed (a tty on standard input) */
  GString *input;
  guint cursor;     /* in characters */
  GString *pending; /* an escape sequence or a UTF-8 character, incomplete */
  GPtrArray *history;
  guint history_pos;
  EvcpCentralPanelLineFunc line_func;
  gpointer line_data;
  gint input_fd; /* -1: none */
  guint input_id;
  guint winch_id;
#ifdef G_OS_UNIX
  struct termios saved_termios;
  gboolean termios_saved;
#endif

  GMutex             lock;        /* events and redraw_id: any thread */
  GQueue             events;
  guint              redraw_id;
};

G_DEFINE_TYPE (EvcpCentralPanel, evcp_central_panel, G_TYPE_OBJECT)

#ifdef G_OS_UNIX
static gboolean on_winch (gpointer user_data);
static void restore_terminal (EvcpCentralPanel *self);
#endif

static void
event_free (Event *event)
{
  g_free (event->text);
  g_free (event);
}

static const gchar *
member_string (JsonObject *object, const gchar *name)
{
  JsonNode *node = json_object_get_member (object, name);

  return node != NULL && JSON_NODE_HOLDS_VALUE (node) ? json_node_get_string (node) : NULL;
}

static gchar *
format_number (gdouble value, const gchar *format)
{
  gchar buf[G_ASCII_DTOSTR_BUF_SIZE];

  return g_strdup (g_ascii_formatd (buf, sizeof buf, format, value));
}

/* The colours, or none (NO_COLOR, https://no-color.org). */
static const gchar *
sgr (EvcpCentralPanel *self, const gchar *code)
{
  return self->no_color ? "" : code;
}

/* The terminal's size; no limit when the output is not a terminal. */
static void
terminal_size (EvcpCentralPanel *self, guint *columns, guint *rows)
{
  *columns = 1000;
  *rows = 1000;
#ifdef G_OS_UNIX
  {
    struct winsize ws;

    if (ioctl (fileno (self->out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0)
      {
        *columns = ws.ws_col;
        *rows = ws.ws_row;
      }
  }
#endif
}

/* @text cut to @width characters (an ellipsis when cut). */
static gchar *
fit (const gchar *text, guint width)
{
  glong length = g_utf8_strlen (text, -1);
  const gchar *cut;

  if (length <= (glong) width)
    return g_strdup (text);
  if (width == 0)
    return g_strdup ("");
  cut = g_utf8_offset_to_pointer (text, width - 1);
  return g_strdup_printf ("%.*s…", (int) (cut - text), text);
}

/* One line of the frame: @text (no escapes) cut to the width, in @color. */
static void
put_line (EvcpCentralPanel *self, GString *s, const gchar *color, const gchar *text)
{
  g_autofree gchar *fitted = fit (text, self->columns);

  g_string_append_printf (s, "%s%s%s" ANSI_CLEAR_EOL "\n", *color != '\0' ? color : "", fitted,
                          *color != '\0' ? ANSI_RESET : "");
  self->lines++;
}

/* @text in lines of at most @width characters, cut between words, each
 * but the first indented by @indent spaces. */
static GPtrArray *
wrap (const gchar *text, guint width, guint indent)
{
  GPtrArray *lines = g_ptr_array_new_with_free_func (g_free);
  g_auto(GStrv) words = g_strsplit (text, " ", -1);
  GString *line = g_string_new (NULL);

  for (guint i = 0; words[i] != NULL; i++)
    {
      glong used = g_utf8_strlen (line->str, -1);

      if (used > (glong) indent && used + 1 + g_utf8_strlen (words[i], -1) > (glong) width)
        {
          g_ptr_array_add (lines, g_string_free (line, FALSE));
          line = g_string_new (NULL);
          g_string_append_printf (line, "%*s", (int) indent, "");
        }
      else if (i > 0)
        g_string_append_c (line, ' ');
      g_string_append (line, words[i]);
    }
  g_ptr_array_add (lines, g_string_free (line, FALSE));
  return lines;
}

static const gchar *
cp_color (EvcpCentralPanel *self, JsonObject *cp)
{
  const gchar *state = member_string (cp, "state");

  /* a FAULT that the Monitor reports holds even without the Engine (it is
   * usually why the Engine is gone); otherwise, no Engine: grey */
  if (member_string (cp, "fault_reason") != NULL)
    return sgr (self, ANSI_RED);
  if (!json_object_get_boolean_member_with_default (cp, "engine", FALSE))
    return sgr (self, ANSI_GREY);
  if (g_strcmp0 (state, "FAULT") == 0)
    return sgr (self, ANSI_RED);
  if (g_strcmp0 (state, "ACTIVE") == 0 || g_strcmp0 (state, "SUPPLYING") == 0)
    return sgr (self, ANSI_GREEN);
  if (g_strcmp0 (state, "STOPPED") == 0)
    return sgr (self, ANSI_ORANGE);
  return "";
}

static void
draw_cp (EvcpCentralPanel *self, GString *s, JsonObject *cp)
{
  const gchar *state = member_string (cp, "state");
  gboolean engine = json_object_get_boolean_member_with_default (cp, "engine", FALSE);
  gboolean monitor = json_object_get_boolean_member_with_default (cp, "monitor", FALSE);
  JsonNode *session = json_object_get_member (cp, "session");
  g_autofree gchar *price = format_number (json_object_get_double_member_with_default (cp, "price_eur_kwh", 0), "%.2f");
  g_autofree gchar *detail = NULL;
  g_autofree gchar *line = NULL;

  if (session != NULL && JSON_NODE_HOLDS_OBJECT (session))
    {
      JsonObject *o = json_node_get_object (session);
      g_autofree gchar *kwh = format_number (json_object_get_double_member_with_default (o, "kwh", 0), "%.3f");
      g_autofree gchar *eur = format_number (json_object_get_double_member_with_default (o, "eur", 0), "%.2f");

      /* TRANSLATORS: driver, kWh, EUR of the session in progress */
      detail = g_strdup_printf (_("%s  %s kWh  %s EUR"), member_string (o, "driver"), kwh, eur);
    }
  else if (g_strcmp0 (state, "FAULT") == 0 && member_string (cp, "fault_reason") != NULL)
    detail = g_strdup (member_string (cp, "fault_reason"));
  else if (!engine)
    detail = g_strdup (_("Engine not connected"));

  line = g_strdup_printf (" %-8s %-9s %s%s %-14.14s %5s/kWh  %s", member_string (cp, "id"), state, engine ? "E" : "-",
                          monitor ? "M" : "-", member_string (cp, "location"), price, detail != NULL ? detail : "");
  put_line (self, s, cp_color (self, cp), line);
}

static void
draw_title (EvcpCentralPanel *self, GString *s, JsonObject *o, guint n_cps)
{
  JsonObject *stats = json_object_get_object_member (o, "stats");
  g_autofree gchar *port = g_strdup_printf ("%" G_GINT64_FORMAT, json_object_get_int_member (o, "port"));
  g_autofree gchar *count = g_strdup_printf ("%u", n_cps);
  g_autofree gchar *counters = NULL;
  g_autofree gchar *title = NULL;
  g_autofree gchar *both = NULL;
  g_autofree gchar *fitted = NULL;
  gsize title_bytes;

  counters =
      g_strdup_printf ("%" G_GINT64_FORMAT "/%" G_GINT64_FORMAT "/%" G_GINT64_FORMAT "/%" G_GINT64_FORMAT,
                       json_object_get_int_member (stats, "frames"), json_object_get_int_member (stats, "duplicates"),
                       json_object_get_int_member (stats, "gaps"), json_object_get_int_member (stats, "nacked"));
  /* TRANSLATORS: port, Kafka status, number of CPs */
  title = g_strdup_printf (_("evcp-central — port %s — Kafka: %s — %s CPs"), port, member_string (o, "kafka"), count);
  /* TRANSLATORS: four counters separated by slashes */
  both = g_strdup_printf (_("%s  frames/duplicates/gaps/NACKs %s"), title, counters);
  fitted = fit (both, self->columns);
  title_bytes = MIN (strlen (title), strlen (fitted));
  g_string_append_printf (s, "%s%.*s%s%s%s%s" ANSI_CLEAR_EOL "\n", sgr (self, ANSI_BOLD), (int) title_bytes, fitted,
                          sgr (self, ANSI_RESET), sgr (self, ANSI_GREY), fitted + title_bytes, sgr (self, ANSI_RESET));
  self->lines++;
}

/* The prompt and what is typed, the cursor where it edits. */
static void
draw_input (EvcpCentralPanel *self, GString *s)
{
  guint room = self->columns > 4 ? self->columns - 4 : 1;
  glong length = g_utf8_strlen (self->input->str, -1);
  glong first = 0;
  const gchar *start, *end;

  /* the part around the cursor when the line is longer than the screen */
  if ((glong) self->cursor >= (glong) room)
    first = (glong) self->cursor - (glong) room + 1;
  start = g_utf8_offset_to_pointer (self->input->str, first);
  end = g_utf8_offset_to_pointer (self->input->str, MIN (length, first + (glong) room));
  g_string_append_printf (s, " > %.*s" ANSI_CLEAR_EOL ANSI_CLEAR_BELOW, (int) (end - start), start);
  self->lines++;
  /* rows and columns count from 1 */
  g_string_append_printf (s, "\033[%u;%luH", self->lines, (gulong) (4 + self->cursor - first));
}

static void
draw (EvcpCentralPanel *self)
{
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GString) s = g_string_new (NULL);
  g_auto(GStrv) answer = NULL;
  g_autoptr(GPtrArray) legend = NULL;
  g_autoptr(GPtrArray) commands = NULL;
  JsonObject *o;
  JsonArray *cps;
  guint rows, n_cps, shown_cps, n_answer, shown_answer, n_events, shown_events, room;
  g_autofree gchar *headings = NULL;
  g_autofree gchar *usage = NULL;
  guint fixed;

  if (self->finished)
    return;
  root = evcp_central_server_to_json (self->server);
  o = json_node_get_object (root);
  cps = json_object_get_array_member (o, "cps");
  terminal_size (self, &self->columns, &rows);
  self->lines = 0;

  if (!self->cleared)
    {
      g_string_append (s, ANSI_CLEAR_SCREEN);
      self->cleared = TRUE;
    }
  g_string_append (s, ANSI_HOME);

  legend = wrap (_(" E M: Engine, Monitor connected · green: ACTIVE or SUPPLYING · orange: STOPPED · "
                    "red: FAULT · grey: no Engine"),
                 self->columns, 6);
  usage = g_strdup_printf (" %s %s", _("Commands:"), EVCP_CENTRAL_COMMANDS_USAGE);
  commands = wrap (usage, self->columns, 11);

  /* what fits: the title and the prompt always, then the CPs, the answer,
   * the events; 7 lines, the legend and the commands are the frame's own */
  fixed = 7 + legend->len + commands->len;
  n_cps = MAX (json_array_get_length (cps), 1);
  answer = g_strsplit (self->answer != NULL ? self->answer : "", "\n", -1);
  n_answer = g_strv_length (answer);
  g_mutex_lock (&self->lock);
  n_events = g_queue_get_length (&self->events);
  room = rows > fixed ? rows - fixed : 0;
  shown_cps = MIN (n_cps, room);
  if (shown_cps < n_cps && shown_cps > 0)
    shown_cps--; /* a line says how many more */
  room -= MIN (room, n_cps);
  shown_answer = MIN (n_answer, MAX (room, 1));
  room -= MIN (room, shown_answer);
  shown_events = MIN (n_events, room);

  draw_title (self, s, o, json_array_get_length (cps));
  put_line (self, s, "", "");
  headings = g_strdup_printf (" %-8s %-9s %-2s %-14s %9s  %s",
                              /* TRANSLATORS: column headings of the panel; E and M
                               * say whether the Engine and the Monitor are connected */
                              _("CP"), _("STATE"), _("EM"), _("LOCATION"), _("PRICE"), _("SESSION"));
  put_line (self, s, sgr (self, ANSI_GREY), headings);
  for (guint i = 0; i < shown_cps && i < json_array_get_length (cps); i++)
    draw_cp (self, s, json_array_get_object_element (cps, i));
  if (json_array_get_length (cps) == 0)
    put_line (self, s, sgr (self, ANSI_GREY), _(" No charging point yet"));
  else if (shown_cps < json_array_get_length (cps))
    {
      g_autofree gchar *more =
          g_strdup_printf (_(" … %u more (list shows them all)"), json_array_get_length (cps) - shown_cps);

      put_line (self, s, sgr (self, ANSI_GREY), more);
    }

  put_line (self, s, "", "");
  put_line (self, s, sgr (self, ANSI_BOLD), _(" Last events"));
  for (GList *l = g_queue_peek_nth_link (&self->events, n_events - shown_events); l != NULL; l = l->next)
    {
      Event *event = l->data;
      const gchar *color = "";

      if (event->level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
        color = sgr (self, ANSI_RED);
      else if (event->level & G_LOG_LEVEL_WARNING)
        color = sgr (self, ANSI_YELLOW);
      put_line (self, s, color, event->text);
    }
  g_mutex_unlock (&self->lock);

  put_line (self, s, "", "");
  for (guint i = 0; i < legend->len; i++)
    put_line (self, s, sgr (self, ANSI_GREY), legend->pdata[i]);
  for (guint i = 0; i < commands->len; i++)
    put_line (self, s, sgr (self, ANSI_GREY), commands->pdata[i]);
  for (guint i = 0; i < shown_answer; i++)
    {
      g_autofree gchar *line = g_strdup_printf (" %s", answer[i]);

      put_line (self, s, "", line);
    }
  draw_input (self, s);
  fputs (s->str, self->out);
  fflush (self->out);
}

static gboolean
redraw_cb (gpointer user_data)
{
  EvcpCentralPanel *self = user_data;

  g_mutex_lock (&self->lock);
  self->redraw_id = 0;
  g_mutex_unlock (&self->lock);
  draw (self);
  return G_SOURCE_REMOVE;
}

/* Any thread. */
void
evcp_central_panel_redraw (EvcpCentralPanel *self)
{
  g_return_if_fail (EVCP_IS_CENTRAL_PANEL (self));

  g_mutex_lock (&self->lock);
  if (self->redraw_id == 0 && !self->finished)
    self->redraw_id = g_timeout_add (REDRAW_DELAY_MS, redraw_cb, self);
  g_mutex_unlock (&self->lock);
}

static void
on_changed (EvcpCentralServer *server, gpointer user_data)
{
  evcp_central_panel_redraw (user_data);
}

EvcpCentralPanel *
evcp_central_panel_new (EvcpCentralServer *server, FILE *out)
{
  EvcpCentralPanel *self;

  g_return_val_if_fail (EVCP_IS_CENTRAL_SERVER (server), NULL);
  g_return_val_if_fail (out != NULL, NULL);

  self = g_object_new (EVCP_TYPE_CENTRAL_PANEL, NULL);
  self->server = g_object_ref (server);
  self->out = out;
  g_signal_connect (server, "changed", G_CALLBACK (on_changed), self);
#ifdef G_OS_UNIX
  self->winch_id = g_unix_signal_add (SIGWINCH, on_winch, self);
#endif
  evcp_central_panel_redraw (self);
  return self;
}

/* An event line for people: the time, what happened, without the
 * bookkeeping ("(seq 12)", "by link"); a warning says so without colours. */
static gchar *
human_event (const gchar *time, GLogLevelFlags level, const gchar *text, gboolean no_color)
{
  static GRegex *bookkeeping;
  static gsize once;
  g_autofree gchar *plain = NULL;
  const gchar *marker = "";

  if (g_once_init_enter (&once))
    {
      bookkeeping = g_regex_new (" ?\\((seq [^)]*|by [a-z]+)\\)", G_REGEX_OPTIMIZE, 0, NULL);
      g_once_init_leave (&once, 1);
    }
  plain = g_regex_replace_literal (bookkeeping, text, -1, 0, "", 0, NULL);
  if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
    marker = no_color ? _("ERROR: ") : "";
  else if (level & G_LOG_LEVEL_WARNING)
    marker = no_color ? _("warning: ") : "";
  return g_strdup_printf (" %s  %s%s", time, marker, plain != NULL ? plain : text);
}

void
evcp_central_panel_add_event (EvcpCentralPanel *self, GLogLevelFlags level, const gchar *text)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  g_autofree gchar *time = g_date_time_format (now, "%H:%M:%S");
  Event *event;

  g_return_if_fail (EVCP_IS_CENTRAL_PANEL (self));

  event = g_new0 (Event, 1);
  event->level = level;
  event->text = human_event (time, level, text, self->no_color);
  g_strdelimit (event->text, "\r\n\033", ' ');
  g_mutex_lock (&self->lock);
  g_queue_push_tail (&self->events, event);
  while (g_queue_get_length (&self->events) > EVCP_CENTRAL_PANEL_EVENTS)
    event_free (g_queue_pop_head (&self->events));
  g_mutex_unlock (&self->lock);
  evcp_central_panel_redraw (self);
}

void
evcp_central_panel_set_answer (EvcpCentralPanel *self, const gchar *answer)
{
  g_return_if_fail (EVCP_IS_CENTRAL_PANEL (self));

  g_free (self->answer);
  self->answer = g_strdup (answer);
  if (self->answer != NULL)
    g_strdelimit (self->answer, "\r\033", ' '); /* lines stay lines */
  evcp_central_panel_redraw (self);
}

void
evcp_central_panel_finish (EvcpCentralPanel *self)
{
  g_return_if_fail (EVCP_IS_CENTRAL_PANEL (self));

  if (self->finished)
    return;
  draw (self);
  g_mutex_lock (&self->lock);
  self->finished = TRUE;
  g_clear_handle_id (&self->redraw_id, g_source_remove);
  g_mutex_unlock (&self->lock);
  g_clear_handle_id (&self->input_id, g_source_remove);
  g_clear_handle_id (&self->winch_id, g_source_remove);
#ifdef G_OS_UNIX
  restore_terminal (self);
#endif
  fputs (ANSI_RESET "\n", self->out);
  fflush (self->out);
}

/* ---- list, as a table ------------------------------------------------------------ */

gchar *
evcp_central_panel_format_list (JsonNode *root)
{
  JsonArray *cps = json_object_get_array_member (json_node_get_object (root), "cps");
  GString *out = g_string_new (NULL);

  /* TRANSLATORS: column headings of `list` on the panel */
  g_string_append_printf (out, "%-12s %-10s %-7s %-7s %7s  %-18s %s", _("CP"), _("STATE"), _("ENGINE"),
                          _("MONITOR"), _("TICKETS"), _("LOCATION"), _("SESSION"));
  for (guint i = 0; i < json_array_get_length (cps); i++)
    {
      JsonObject *cp = json_array_get_object_element (cps, i);
      JsonNode *session = json_object_get_member (cp, "session");
      g_autofree gchar *detail = NULL;

      if (session != NULL && JSON_NODE_HOLDS_OBJECT (session))
        {
          JsonObject *o = json_node_get_object (session);
          g_autofree gchar *kwh = format_number (json_object_get_double_member_with_default (o, "kwh", 0), "%.3f");

          detail = g_strdup_printf ("%s %s kWh", member_string (o, "driver"), kwh);
        }
      g_string_append_printf (out, "\n%-12s %-10s %-7s %-7s %7" G_GINT64_FORMAT "  %-18.18s %s",
                              member_string (cp, "id"), member_string (cp, "state"),
                              json_object_get_boolean_member_with_default (cp, "engine", FALSE) ? _("yes") : _("no"),
                              json_object_get_boolean_member_with_default (cp, "monitor", FALSE) ? _("yes") : _("no"),
                              json_object_get_int_member_with_default (cp, "tickets", 0),
                              member_string (cp, "location") != NULL ? member_string (cp, "location") : "",
                              detail != NULL ? detail : "-");
    }
  if (json_array_get_length (cps) == 0)
    g_string_append_printf (out, "\n%s", _("(no charging point)"));
  return g_string_free (out, FALSE);
}

/* ---- the line being typed ------------------------------------------------------ */

static gsize
cursor_byte (EvcpCentralPanel *self, guint chars)
{
  return g_utf8_offset_to_pointer (self->input->str, chars) - self->input->str;
}

static void
set_input (EvcpCentralPanel *self, const gchar *text)
{
  g_string_assign (self->input, text);
  self->cursor = (guint) g_utf8_strlen (text, -1);
}

static void
delete_chars (EvcpCentralPanel *self, guint from, guint to)
{
  gsize a = cursor_byte (self, from), b = cursor_byte (self, to);

  g_string_erase (self->input, (gssize) a, (gssize) (b - a));
  self->cursor = from;
}

static void
submit (EvcpCentralPanel *self)
{
  g_autofree gchar *line = g_strdup (self->input->str);

  if (*line != '\0' &&
      (self->history->len == 0 || g_strcmp0 (g_ptr_array_index (self->history, self->history->len - 1), line) != 0))
    g_ptr_array_add (self->history, g_strdup (line));
  self->history_pos = self->history->len;
  set_input (self, "");
  if (self->line_func != NULL)
    self->line_func (line, self->line_data);
}

static void
recall (EvcpCentralPanel *self, gint step)
{
  gint pos = (gint) self->history_pos + step;

  if (pos < 0 || pos > (gint) self->history->len)
    return;
  self->history_pos = (guint) pos;
  set_input (self, pos < (gint) self->history->len ? g_ptr_array_index (self->history, pos) : "");
}

/* An escape sequence of the cursor keys, Home, End, Delete. */
static void
escape_key (EvcpCentralPanel *self, const gchar *seq)
{
  guint length = (guint) g_utf8_strlen (self->input->str, -1);

  if (g_str_equal (seq, "[A") || g_str_equal (seq, "OA"))
    recall (self, -1);
  else if (g_str_equal (seq, "[B") || g_str_equal (seq, "OB"))
    recall (self, 1);
  else if ((g_str_equal (seq, "[C") || g_str_equal (seq, "OC")) && self->cursor < length)
    self->cursor++;
  else if ((g_str_equal (seq, "[D") || g_str_equal (seq, "OD")) && self->cursor > 0)
    self->cursor--;
  else if (g_str_equal (seq, "[H") || g_str_equal (seq, "OH") || g_str_equal (seq, "[1~") || g_str_equal (seq, "[7~"))
    self->cursor = 0;
  else if (g_str_equal (seq, "[F") || g_str_equal (seq, "OF") || g_str_equal (seq, "[4~") || g_str_equal (seq, "[8~"))
    self->cursor = length;
  else if (g_str_equal (seq, "[3~") && self->cursor < length)
    delete_chars (self, self->cursor, self->cursor + 1);
}

/* Ctrl-W: the word before the cursor, and the blanks after it. */
static void
delete_word (EvcpCentralPanel *self)
{
  guint from = self->cursor;

  while (from > 0 && self->input->str[cursor_byte (self, from - 1)] == ' ')
    from--;
  while (from > 0 && self->input->str[cursor_byte (self, from - 1)] != ' ')
    from--;
  delete_chars (self, from, self->cursor);
}

/* A control character. Returns FALSE for end of input (Ctrl-D on an empty line). */
static gboolean
control_key (EvcpCentralPanel *self, guchar c)
{
  guint length = (guint) g_utf8_strlen (self->input->str, -1);

  switch (c)
    {
    case '\r':
    case '\n':
      submit (self);
      break;
    case 0x7f:
    case 0x08:
      if (self->cursor > 0)
        delete_chars (self, self->cursor - 1, self->cursor);
      break;
    case 0x01:
      self->cursor = 0;
      break;
    case 0x05:
      self->cursor = length;
      break;
    case 0x02:
      if (self->cursor > 0)
        self->cursor--;
      break;
    case 0x06:
      if (self->cursor < length)
        self->cursor++;
      break;
    case 0x15:
      delete_chars (self, 0, self->cursor);
      break;
    case 0x0b:
      delete_chars (self, self->cursor, length);
      break;
    case 0x17:
      delete_word (self);
      break;
    case 0x0c:
      self->cleared = FALSE;
      break;
    case 0x04:
      if (length == 0)
        return FALSE;
      if (self->cursor < length)
        delete_chars (self, self->cursor, self->cursor + 1);
      break;
    default:
      break;
    }
  return TRUE;
}

/* One byte of what is typed: escape sequences and UTF-8 characters are
 * collected in @pending until complete. */
static gboolean
feed_byte (EvcpCentralPanel *self, guchar c)
{
  if (self->pending->len > 0 && self->pending->str[0] == '\033')
    {
      g_string_append_c (self->pending, (gchar) c);
      if (self->pending->len == 2 && c != '[' && c != 'O')
        g_string_truncate (self->pending, 0); /* Alt-something: ignored */
      else if (self->pending->len > 2 && c >= 0x40 && c <= 0x7e)
        {
          escape_key (self, self->pending->str + 1);
          g_string_truncate (self->pending, 0);
        }
      else if (self->pending->len > 8)
        g_string_truncate (self->pending, 0);
      return TRUE;
    }
  if (c == 0x1b)
    {
      g_string_assign (self->pending, "\033");
      return TRUE;
    }
  if (c < 0x20 || c == 0x7f)
    return control_key (self, c);
  g_string_append_c (self->pending, (gchar) c);
  switch (g_utf8_get_char_validated (self->pending->str, (gssize) self->pending->len))
    {
    case (gunichar) -2:
      return TRUE; /* more bytes to come */
    case (gunichar) -1:
      break; /* not UTF-8: dropped */
    default:
      g_string_insert_len (self->input, (gssize) cursor_byte (self, self->cursor), self->pending->str,
                           (gssize) self->pending->len);
      self->cursor++;
      break;
    }
  g_string_truncate (self->pending, 0);
  return TRUE;
}

/**
 * evcp_central_panel_feed:
 * @bytes: what the terminal sent (keys, in raw mode)
 *
 * Edits the line being typed: characters, Backspace, Delete, the arrows,
 * Home/End (Ctrl-A, Ctrl-E), Ctrl-U, Ctrl-K, Ctrl-W, the history (Up,
 * Down), Ctrl-L (redraw); Enter gives the line to the line function.
 * The line is drawn again with the panel, so that a redraw keeps it.
 *
 * Returns: FALSE at the end of input (Ctrl-D on an empty line)
 */
gboolean
evcp_central_panel_feed (EvcpCentralPanel *self, const gchar *bytes, gsize length)
{
  gboolean more = TRUE;

  g_return_val_if_fail (EVCP_IS_CENTRAL_PANEL (self), FALSE);

  for (gsize i = 0; i < length && more; i++)
    more = feed_byte (self, (guchar) bytes[i]);
  draw (self);
  return more;
}

const gchar *
evcp_central_panel_get_input (EvcpCentralPanel *self)
{
  g_return_val_if_fail (EVCP_IS_CENTRAL_PANEL (self), NULL);
  return self->input->str;
}

#ifdef G_OS_UNIX
static gboolean
on_input (gint fd, GIOCondition condition, gpointer user_data)
{
  EvcpCentralPanel *self = user_data;
  gchar buffer[256];
  gssize n = read (fd, buffer, sizeof buffer);

  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return G_SOURCE_CONTINUE;
  if (n > 0 && evcp_central_panel_feed (self, buffer, (gsize) n))
    return G_SOURCE_CONTINUE;
  self->input_id = 0;
  if (self->line_func != NULL)
    self->line_func (NULL, self->line_data); /* end of input */
  return G_SOURCE_REMOVE;
}

static gboolean
on_winch (gpointer user_data)
{
  EvcpCentralPanel *self = user_data;

  self->cleared = FALSE; /* the whole screen again, at the new size */
  draw (self);
  return G_SOURCE_CONTINUE;
}

static void
restore_terminal (EvcpCentralPanel *self)
{
  if (self->termios_saved)
    tcsetattr (self->input_fd, TCSANOW, &self->saved_termios);
  self->termios_saved = FALSE;
}
#endif

/**
 * evcp_central_panel_read_terminal:
 * @fd: a terminal (standard input)
 * @func: called with each line typed, and with %NULL at the end of input
 *
 * Reads the keys of @fd (the terminal without echo nor line buffering,
 * as it was again at evcp_central_panel_finish()) and edits the line on
 * the panel. Signals (Ctrl-C) stay the terminal's.
 *
 * Returns: FALSE if @fd is not a terminal (nothing done)
 */
gboolean
evcp_central_panel_read_terminal (EvcpCentralPanel *self, gint fd, EvcpCentralPanelLineFunc func, gpointer data)
{
  g_return_val_if_fail (EVCP_IS_CENTRAL_PANEL (self), FALSE);

#ifdef G_OS_UNIX
  {
    struct termios raw;

    if (!isatty (fd) || tcgetattr (fd, &self->saved_termios) != 0)
      return FALSE;
    self->termios_saved = TRUE;
    self->input_fd = fd;
    raw = self->saved_termios;
    raw.c_lflag &= ~(tcflag_t) (ICANON | ECHO | IEXTEN);
    raw.c_iflag &= ~(tcflag_t) (IXON | ICRNL);
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;
    tcsetattr (fd, TCSANOW, &raw);
    self->line_func = func;
    self->line_data = data;
    self->input_id = g_unix_fd_add (fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_input, self);
    evcp_central_panel_redraw (self);
    return TRUE;
  }
#else
  return FALSE;
#endif
}

static void
evcp_central_panel_dispose (GObject *object)
{
  EvcpCentralPanel *self = EVCP_CENTRAL_PANEL (object);

  g_mutex_lock (&self->lock);
  self->finished = TRUE;
  g_clear_handle_id (&self->redraw_id, g_source_remove);
  g_mutex_unlock (&self->lock);
  g_clear_handle_id (&self->input_id, g_source_remove);
  g_clear_handle_id (&self->winch_id, g_source_remove);
#ifdef G_OS_UNIX
  restore_terminal (self);
#endif
  if (self->server != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->server, self);
      g_clear_object (&self->server);
    }
  G_OBJECT_CLASS (evcp_central_panel_parent_class)->dispose (object);
}

static void
evcp_central_panel_finalize (GObject *object)
{
  EvcpCentralPanel *self = EVCP_CENTRAL_PANEL (object);

  g_queue_clear_full (&self->events, (GDestroyNotify) event_free);
  g_mutex_clear (&self->lock);
  g_free (self->answer);
  g_string_free (self->input, TRUE);
  g_string_free (self->pending, TRUE);
  g_ptr_array_unref (self->history);
  G_OBJECT_CLASS (evcp_central_panel_parent_class)->finalize (object);
}

static void
evcp_central_panel_class_init (EvcpCentralPanelClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = evcp_central_panel_dispose;
  object_class->finalize = evcp_central_panel_finalize;
}

static void
evcp_central_panel_init (EvcpCentralPanel *self)
{
  const gchar *no_color = g_getenv ("NO_COLOR");

  g_mutex_init (&self->lock);
  g_queue_init (&self->events);
  self->input = g_string_new (NULL);
  self->pending = g_string_new (NULL);
  self->history = g_ptr_array_new_with_free_func (g_free);
  self->input_fd = -1;
  self->columns = 80;
  self->no_color = no_color != NULL && *no_color != '\0';
}
