/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "evcp-central"

#include "evcp-build-config.h"

#include <glib/gi18n-lib.h>

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

  GMutex             lock;        /* events and redraw_id: any thread */
  GQueue             events;
  guint              redraw_id;
};

G_DEFINE_TYPE (EvcpCentralPanel, evcp_central_panel, G_TYPE_OBJECT)

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

static void
draw_cp (GString *s, JsonObject *cp)
{
  const gchar *state = member_string (cp, "state");
  gboolean engine = json_object_get_boolean_member_with_default (cp, "engine", FALSE);
  gboolean monitor = json_object_get_boolean_member_with_default (cp, "monitor", FALSE);
  JsonNode *session = json_object_get_member (cp, "session");
  const gchar *color;
  g_autofree gchar *price = format_number (json_object_get_double_member_with_default (cp, "price_eur_kwh", 0), "%.2f");
  g_autofree gchar *detail = NULL;

  /* a FAULT that the Monitor reports holds even without the Engine (it is
   * usually why the Engine is gone); otherwise, no Engine: grey */
  if (member_string (cp, "fault_reason") != NULL)
    color = ANSI_RED;
  else if (!engine)
    color = ANSI_GREY;
  else if (g_strcmp0 (state, "FAULT") == 0)
    color = ANSI_RED;
  else if (g_strcmp0 (state, "ACTIVE") == 0 || g_strcmp0 (state, "SUPPLYING") == 0)
    color = ANSI_GREEN;
  else if (g_strcmp0 (state, "STOPPED") == 0)
    color = ANSI_ORANGE;
  else
    color = "";

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

  g_string_append_printf (s, "%s %-12s %-10s %s%s  %-18.18s %5s EUR/kWh  %s" ANSI_RESET ANSI_CLEAR_EOL "\n",
                          color, member_string (cp, "id"), state,
                          engine ? "E" : "-", monitor ? "M" : "-",
                          member_string (cp, "location"), price,
                          detail != NULL ? detail : "");
}

static void
draw (EvcpCentralPanel *self)
{
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GString) s = g_string_new (NULL);
  JsonObject *o, *stats;
  JsonArray *cps;
  g_autofree gchar *port = NULL;
  g_autofree gchar *count = NULL;
  g_autofree gchar *counters = NULL;

  if (self->finished)
    return;
  root = evcp_central_server_to_json (self->server);
  o = json_node_get_object (root);
  stats = json_object_get_object_member (o, "stats");
  cps = json_object_get_array_member (o, "cps");
  port = g_strdup_printf ("%" G_GINT64_FORMAT, json_object_get_int_member (o, "port"));
  count = g_strdup_printf ("%u", json_array_get_length (cps));
  counters = g_strdup_printf ("%" G_GINT64_FORMAT "/%" G_GINT64_FORMAT "/%" G_GINT64_FORMAT "/%" G_GINT64_FORMAT,
                              json_object_get_int_member (stats, "frames"),
                              json_object_get_int_member (stats, "duplicates"),
                              json_object_get_int_member (stats, "gaps"),
                              json_object_get_int_member (stats, "nacked"));

  if (!self->cleared)
    {
      g_string_append (s, ANSI_CLEAR_SCREEN);
      self->cleared = TRUE;
    }
  g_string_append (s, ANSI_HOME ANSI_BOLD);
  /* TRANSLATORS: port, Kafka status, number of CPs */
  g_string_append_printf (s, _("evcp-central — port %s — Kafka: %s — %s CPs"),
                          port, member_string (o, "kafka"), count);
  g_string_append (s, ANSI_RESET "  " ANSI_GREY);
  /* TRANSLATORS: four counters separated by slashes */
  g_string_append_printf (s, _("frames/duplicates/gaps/NACKs %s"), counters);
  g_string_append (s, ANSI_RESET ANSI_CLEAR_EOL "\n" ANSI_CLEAR_EOL "\n");

  g_string_append_printf (s, ANSI_GREY " %-12s %-10s %-2s  %-18s %13s  %s" ANSI_RESET ANSI_CLEAR_EOL "\n",
                          /* TRANSLATORS: column headings of the panel; E and M
                           * say whether the Engine and the Monitor are connected */
                          _("CP"), _("STATE"), _("EM"), _("LOCATION"), _("PRICE"), _("SESSION"));
  for (guint i = 0; i < json_array_get_length (cps); i++)
    draw_cp (s, json_array_get_object_element (cps, i));
  if (json_array_get_length (cps) == 0)
    g_string_append_printf (s, ANSI_GREY " %s" ANSI_RESET ANSI_CLEAR_EOL "\n", _("No charging point yet"));

  g_string_append_printf (s, ANSI_CLEAR_EOL "\n" ANSI_BOLD " %s" ANSI_RESET ANSI_CLEAR_EOL "\n", _("Last events"));
  g_mutex_lock (&self->lock);
  for (GList *l = self->events.head; l != NULL; l = l->next)
    {
      Event *event = l->data;
      const gchar *color = "";

      if (event->level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
        color = ANSI_RED;
      else if (event->level & G_LOG_LEVEL_WARNING)
        color = ANSI_YELLOW;
      g_string_append_printf (s, " %s%s" ANSI_RESET ANSI_CLEAR_EOL "\n", color, event->text);
    }
  g_mutex_unlock (&self->lock);

  g_string_append_printf (s, ANSI_CLEAR_EOL "\n " ANSI_GREY "%s %s" ANSI_RESET ANSI_CLEAR_EOL "\n",
                          _("Commands:"), EVCP_CENTRAL_COMMANDS_USAGE);
  g_string_append_printf (s, " > %s" ANSI_CLEAR_EOL "\n" ANSI_CLEAR_BELOW,
                          self->answer != NULL ? self->answer : "");
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
  evcp_central_panel_redraw (self);
  return self;
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
  event->text = g_strdup_printf ("%s %s", time, text);
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
    g_strdelimit (self->answer, "\r\n\033", ' ');
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
  fputs (ANSI_RESET "\n", self->out);
  fflush (self->out);
}

static void
evcp_central_panel_dispose (GObject *object)
{
  EvcpCentralPanel *self = EVCP_CENTRAL_PANEL (object);

  g_mutex_lock (&self->lock);
  self->finished = TRUE;
  g_clear_handle_id (&self->redraw_id, g_source_remove);
  g_mutex_unlock (&self->lock);
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
  g_mutex_init (&self->lock);
  g_queue_init (&self->events);
}
