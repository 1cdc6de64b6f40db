/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "evcp-test-system"

#include "evcp-build-config.h"

#include <signal.h>
#include <string.h>

#include <glib/gstdio.h>
#include <sqlite3.h>

#include "evcp-frame-codec.h"
#include "evcp-test-system.h"

#define EXIT_WAIT_MS     15000
#define WATCH_TIMEOUT_MS 3000

/* ------------------------------------------------------------------------- */
/* charging_sessions */

struct _EvcpSysSessions
{
  EvcpTestConsumer *consumer;
  GPtrArray        *events;
};

static void
event_free (EvcpSysEvent *e)
{
  g_free (e->kind);
  g_free (e->key);
  g_free (e->cp_id);
  g_free (e->session_id);
  g_free (e->user_id);
  g_free (e->reason);
  g_free (e->source);
  g_free (e);
}

static const gchar *
member_string (JsonObject *o, const gchar *name)
{
  JsonNode *node = o != NULL ? json_object_get_member (o, name) : NULL;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

static gdouble
member_number (JsonObject *o, const gchar *name)
{
  JsonNode *node = o != NULL ? json_object_get_member (o, name) : NULL;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return 0;
  if (json_node_get_value_type (node) == G_TYPE_INT64)
    return (gdouble) json_node_get_int (node);
  if (json_node_get_value_type (node) == G_TYPE_DOUBLE)
    return json_node_get_double (node);
  return 0;
}

static EvcpSysEvent *
event_parse (const EvcpTestRecord *record)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) root = evcp_test_record_parse_json (record, &error);
  EvcpSysEvent *e;
  JsonObject *o, *data;
  JsonNode *seq, *replayed;
  const gchar *ts;

  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_autofree gchar *text = evcp_test_record_get_value_string (record);

      g_error ("charging_sessions: not a JSON object: %s", text);
    }
  o = json_node_get_object (root);
  data = json_object_has_member (o, "data") ? json_object_get_object_member (o, "data") : NULL;
  e = g_new0 (EvcpSysEvent, 1);
  e->arrived_us = g_get_monotonic_time ();
  e->arrived_wall_us = g_get_real_time ();
  e->kind = g_strdup (member_string (o, "kind"));
  e->key = g_strdup (record->key);
  e->cp_id = g_strdup (member_string (data, "cp_id"));
  e->session_id = g_strdup (member_string (data, "session_id"));
  e->user_id = g_strdup (member_string (data, "user_id"));
  e->reason = g_strdup (member_string (data, "reason"));
  e->source = g_strdup (member_string (data, "source"));
  e->power_kw = member_number (data, "power_kw");
  e->kwh = member_number (data, "kwh");
  e->eur = member_number (data, "eur");
  seq = data != NULL ? json_object_get_member (data, "seq") : NULL;
  e->seq = seq != NULL && JSON_NODE_HOLDS_VALUE (seq) && json_node_get_value_type (seq) == G_TYPE_INT64
           ? json_node_get_int (seq) : -1;
  replayed = data != NULL ? json_object_get_member (data, "replayed") : NULL;
  e->replayed = replayed != NULL && JSON_NODE_HOLDS_VALUE (replayed) &&
                json_node_get_value_type (replayed) == G_TYPE_BOOLEAN && json_node_get_boolean (replayed);
  ts = member_string (o, "timestamp");
  if (ts != NULL)
    {
      g_autoptr(GDateTime) dt = g_date_time_new_from_iso8601 (ts, NULL);

      if (dt == NULL)
        g_error ("charging_sessions: bad timestamp “%s”", ts);
      e->timestamp_us = g_date_time_to_unix (dt) * G_USEC_PER_SEC + g_date_time_get_microsecond (dt);
    }
  return e;
}

EvcpSysSessions *
evcp_sys_sessions_new (const gchar *bootstrap)
{
  EvcpSysSessions *s = g_new0 (EvcpSysSessions, 1);

  s->consumer = evcp_test_consumer_new (bootstrap, "charging_sessions");
  s->events = g_ptr_array_new_with_free_func ((GDestroyNotify) event_free);
  return s;
}

void
evcp_sys_sessions_poll (EvcpSysSessions *s)
{
  g_autoptr(GPtrArray) records = evcp_test_consumer_wait_for (s->consumer, G_MAXUINT, 0);

  for (guint i = 0; i < records->len; i++)
    {
      EvcpSysEvent *e = event_parse (g_ptr_array_index (records, i));

      g_debug ("charging_sessions: %s %s %s seq %" G_GINT64_FORMAT "%s", e->kind,
               e->user_id != NULL ? e->user_id : "-", e->session_id != NULL ? e->session_id : "-",
               e->seq, e->replayed ? " (replayed)" : "");
      g_ptr_array_add (s->events, e);
    }
}

GPtrArray *
evcp_sys_sessions_all (EvcpSysSessions *s)
{
  return s->events;
}

static gboolean
event_matches (const EvcpSysEvent *e, const gchar *kind, const gchar *user_id, const gchar *session_id)
{
  return (kind == NULL || g_strcmp0 (e->kind, kind) == 0) &&
         (user_id == NULL || g_strcmp0 (e->user_id, user_id) == 0) &&
         (session_id == NULL || g_strcmp0 (e->session_id, session_id) == 0);
}

GPtrArray *
evcp_sys_sessions_find (EvcpSysSessions *s, const gchar *kind, const gchar *user_id,
                        const gchar *session_id)
{
  GPtrArray *found = g_ptr_array_new ();

  for (guint i = 0; i < s->events->len; i++)
    if (event_matches (g_ptr_array_index (s->events, i), kind, user_id, session_id))
      g_ptr_array_add (found, g_ptr_array_index (s->events, i));
  return found;
}

typedef struct {
  EvcpSysSessions *s;
  const gchar     *kind;
  const gchar     *user_id;
  const gchar     *session_id;
  guint            count;
} SessionsWait;

static gboolean
sessions_have (gpointer data)
{
  SessionsWait *w = data;
  g_autoptr(GPtrArray) found = NULL;

  evcp_sys_sessions_poll (w->s);
  found = evcp_sys_sessions_find (w->s, w->kind, w->user_id, w->session_id);
  return found->len >= w->count;
}

gboolean
evcp_sys_sessions_wait_count (EvcpSysSessions *s, const gchar *kind, const gchar *user_id,
                              const gchar *session_id, guint count, guint timeout_ms)
{
  SessionsWait w = { s, kind, user_id, session_id, count };

  return evcp_test_wait_until (NULL, sessions_have, &w, timeout_ms);
}

const EvcpSysEvent *
evcp_sys_sessions_wait (EvcpSysSessions *s, const gchar *kind, const gchar *user_id,
                        const gchar *session_id, guint timeout_ms)
{
  g_autoptr(GPtrArray) found = NULL;

  if (!evcp_sys_sessions_wait_count (s, kind, user_id, session_id, 1, timeout_ms))
    return NULL;
  found = evcp_sys_sessions_find (s, kind, user_id, session_id);
  return g_ptr_array_index (found, 0);
}

void
evcp_sys_sessions_free (EvcpSysSessions *s)
{
  if (s == NULL)
    return;
  evcp_test_consumer_free (s->consumer);
  g_ptr_array_unref (s->events);
  g_free (s);
}

void
evcp_sys_produce_request (const gchar *bootstrap, const gchar *cp_id, const gchar *user_id,
                          gdouble power_kw, gint64 max_duration_s)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autofree gchar *ts = g_date_time_format_iso8601 (now);
  gchar power[G_ASCII_DTOSTR_BUF_SIZE];
  g_autofree gchar *json =
    g_strdup_printf ("{\"kind\":\"CHARGING_REQUEST\",\"timestamp\":\"%s\",\"data\":{\"user_id\":\"%s\","
                     "\"cp_id\":\"%s\",\"requested_power\":%s,\"max_duration\":%" G_GINT64_FORMAT "}}",
                     ts, user_id, cp_id, g_ascii_dtostr (power, sizeof power, power_kw), max_duration_s);

  g_assert_true (evcp_test_produce (bootstrap, "charging_requests", cp_id, json, -1, &error));
  g_assert_no_error (error);
}

/* ------------------------------------------------------------------------- */
/* evcp-engine */

struct _EvcpSysEngine
{
  GSubprocess *proc;
  gchar       *log_path;
  guint16      health_port;
};

static gboolean
engine_exited (gpointer data)
{
  /* the GSubprocess reaps the child from the main context that the wait iterates */
  return g_subprocess_get_identifier (data) == NULL;
}

EvcpSysEngine *
evcp_sys_engine_spawn (const EvcpSysEngineOptions *o)
{
  g_autoptr(GSubprocessLauncher) launcher =
    evcp_test_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  g_autofree gchar *central_port = g_strdup_printf ("%u", o->central_port);
  g_autofree gchar *health_port = NULL;
  const gchar *exe = g_getenv ("EVCP_ENGINE");
  EvcpSysEngine *engine;

  g_assert_nonnull (exe);
  engine = g_new0 (EvcpSysEngine, 1);
  engine->health_port = evcp_test_free_port ();
  engine->log_path = g_strdup (o->log_path);
  health_port = g_strdup_printf ("%u", engine->health_port);

  /* the settings come from the environment, exactly as named */
  g_subprocess_launcher_unsetenv (launcher, "EVCP_CONFIG");
  g_subprocess_launcher_unsetenv (launcher, "KAFKA_TOPICS");
  g_subprocess_launcher_setenv (launcher, "CP_ID", o->cp_id, TRUE);
  g_subprocess_launcher_setenv (launcher, "KAFKA_BROKERS", o->brokers, TRUE);
  if (o->group_id != NULL)
    g_subprocess_launcher_setenv (launcher, "KAFKA_GROUP_ID", o->group_id, TRUE);
  else
    g_subprocess_launcher_unsetenv (launcher, "KAFKA_GROUP_ID");
  g_subprocess_launcher_setenv (launcher, "CENTRAL_HOST", "127.0.0.1", TRUE);
  g_subprocess_launcher_setenv (launcher, "CENTRAL_PORT", central_port, TRUE);
  g_subprocess_launcher_setenv (launcher, "ENGINE_PORT", health_port, TRUE);
  evcp_test_isolate_launcher (launcher, o->state_dir);
  for (guint i = 0; o->extra_env != NULL && o->extra_env[i] != NULL; i++)
    {
      g_auto(GStrv) kv = g_strsplit (o->extra_env[i], "=", 2);

      g_assert_nonnull (kv[1]);
      g_subprocess_launcher_setenv (launcher, kv[0], kv[1], TRUE);
    }
  g_subprocess_launcher_set_stdout_file_path (launcher, o->log_path);

  g_ptr_array_add (argv, (gpointer) exe);
  g_ptr_array_add (argv, (gpointer) "--verbose");
  g_ptr_array_add (argv, (gpointer) "--no-keys");
  /* exactly there (not <STATE_DIRECTORY>/<cp-id>): the tests read its files */
  if (o->state_dir != NULL)
    {
      g_ptr_array_add (argv, (gpointer) "--state-dir");
      g_ptr_array_add (argv, (gpointer) o->state_dir);
    }
  if (o->config != NULL)
    {
      g_ptr_array_add (argv, (gpointer) "--config");
      g_ptr_array_add (argv, (gpointer) o->config);
    }
  g_ptr_array_add (argv, NULL);
  /* stdin is a pipe nobody writes to: never a terminal */
  engine->proc = evcp_test_launcher_spawnv (launcher, (const gchar * const *) argv->pdata, &error);
  g_assert_no_error (error);
  g_test_message ("evcp-engine %s started (log %s)", g_subprocess_get_identifier (engine->proc), o->log_path);
  return engine;
}

GSubprocess *
evcp_sys_engine_get_subprocess (EvcpSysEngine *engine)
{
  return engine->proc;
}

guint16
evcp_sys_engine_get_health_port (EvcpSysEngine *engine)
{
  return engine->health_port;
}

const gchar *
evcp_sys_engine_get_log_path (EvcpSysEngine *engine)
{
  return engine->log_path;
}

gboolean
evcp_sys_engine_log_contains (EvcpSysEngine *engine, const gchar *needle)
{
  g_autofree gchar *contents = NULL;

  return g_file_get_contents (engine->log_path, &contents, NULL, NULL) && strstr (contents, needle) != NULL;
}

typedef struct {
  EvcpSysEngine *engine;
  const gchar   *needle;
} EngineLogWait;

static gboolean
engine_log_has (gpointer data)
{
  EngineLogWait *w = data;

  return evcp_sys_engine_log_contains (w->engine, w->needle);
}

gboolean
evcp_sys_engine_wait_log (EvcpSysEngine *engine, const gchar *needle, guint timeout_ms)
{
  EngineLogWait w = { engine, needle };

  return evcp_test_wait_until (NULL, engine_log_has, &w, timeout_ms);
}

gboolean
evcp_sys_engine_is_running (EvcpSysEngine *engine)
{
  return g_subprocess_get_identifier (engine->proc) != NULL;
}

void
evcp_sys_engine_signal (EvcpSysEngine *engine, gint signum)
{
  g_assert_true (evcp_sys_engine_is_running (engine));
  g_subprocess_send_signal (engine->proc, signum);
}

void
evcp_sys_engine_kill (EvcpSysEngine *engine)
{
  g_subprocess_force_exit (engine->proc);
  g_assert_true (evcp_test_wait_until (NULL, engine_exited, engine->proc, EXIT_WAIT_MS));
  g_assert_true (g_subprocess_get_if_signaled (engine->proc));
  g_assert_cmpint (g_subprocess_get_term_sig (engine->proc), ==, SIGKILL);
}

gint
evcp_sys_engine_term (EvcpSysEngine *engine)
{
  g_subprocess_send_signal (engine->proc, SIGTERM);
  g_assert_true (evcp_test_wait_until (NULL, engine_exited, engine->proc, EXIT_WAIT_MS));
  if (!g_subprocess_get_if_exited (engine->proc))
    return -1;
  return g_subprocess_get_exit_status (engine->proc);
}

void
evcp_sys_engine_free (EvcpSysEngine *engine)
{
  if (engine == NULL)
    return;
  if (evcp_sys_engine_is_running (engine))
    {
      g_subprocess_force_exit (engine->proc);
      evcp_test_wait_until (NULL, engine_exited, engine->proc, EXIT_WAIT_MS);
    }
  g_clear_object (&engine->proc);
  g_free (engine->log_path);
  g_free (engine);
}

/* ------------------------------------------------------------------------- */
/* The health check */

static void
socket_send_all (GSocket *socket, gconstpointer data, gsize len)
{
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (g_socket_send (socket, data, len, NULL, &error), ==, (gssize) len);
  g_assert_no_error (error);
}

gchar *
evcp_sys_health_check (guint16 port, const gchar *cp_id)
{
  g_autoptr(GSocket) socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                            G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) addr = g_inet_socket_address_new (lo, port);
  g_autoptr(GError) error = NULL;
  g_autofree gchar *check = g_strdup_printf ("HEALTH#%s", cp_id);
  g_autoptr(GBytes) frame = evcp_frame_encode (check, -1, NULL);
  EvcpFrameDecoder *decoder = evcp_frame_decoder_new ();
  gboolean acked = FALSE;
  gchar *answer = NULL;
  guint8 buf[4200];
  static const guint8 ack = EVCP_FRAME_ACK, eot = EVCP_FRAME_EOT;

  g_socket_set_timeout (socket, 5);
  g_assert_true (g_socket_connect (socket, addr, NULL, &error));
  g_assert_no_error (error);
  socket_send_all (socket, g_bytes_get_data (frame, NULL), g_bytes_get_size (frame));
  while (answer == NULL)
    {
      const guint8 *p = buf;
      gsize len;
      gssize n = g_socket_receive (socket, (gchar *) buf, sizeof buf, NULL, &error);
      EvcpFrameEvent event;

      g_assert_no_error (error);
      g_assert_cmpint (n, >, 0);
      len = (gsize) n;
      while (answer == NULL && evcp_frame_decoder_next (decoder, &p, &len, &event))
        {
          if (event.type == EVCP_FRAME_EVENT_ACK)
            acked = TRUE;
          else if (event.type == EVCP_FRAME_EVENT_FRAME)
            answer = g_strdup (event.data);
          else
            g_error ("health check: unexpected event %d", event.type);
        }
    }
  /* the ACK of HEALTH comes before the answer */
  g_assert_true (acked);
  socket_send_all (socket, &ack, 1);
  socket_send_all (socket, &eot, 1);
  evcp_frame_decoder_free (decoder);
  return answer;
}

/* ------------------------------------------------------------------------- */
/* The Engine's outbox file */

static JsonObject *
outbox_read (const gchar *state_dir, JsonParser *parser)
{
  g_autofree gchar *path = g_build_filename (state_dir, "outbox.json", NULL);
  g_autoptr(GError) error = NULL;

  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    return NULL;
  /* written by rename: always whole */
  if (!json_parser_load_from_file (parser, path, &error))
    g_error ("%s: %s", path, error->message);
  return json_node_get_object (json_parser_get_root (parser));
}

guint
evcp_sys_outbox_pending (const gchar *state_dir)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *o = outbox_read (state_dir, parser);

  return o != NULL ? json_array_get_length (json_object_get_array_member (o, "records")) : 0;
}

gint64
evcp_sys_outbox_next_seq (const gchar *state_dir)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *o = outbox_read (state_dir, parser);

  return o != NULL ? json_object_get_int_member (o, "next_seq") : 1;
}

/* ------------------------------------------------------------------------- */
/* evcp-central's database */

static sqlite3 *
db_open (const gchar *db_path)
{
  sqlite3 *db = NULL;

  if (sqlite3_open_v2 (db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
    g_error ("cannot open %s read-only: %s", db_path, db != NULL ? sqlite3_errmsg (db) : "?");
  /* evcp-central may be writing: wait for its lock */
  sqlite3_busy_timeout (db, 5000);
  return db;
}

static sqlite3_stmt *
db_prepare (sqlite3 *db, const gchar *sql)
{
  sqlite3_stmt *stmt = NULL;

  if (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL) != SQLITE_OK)
    g_error ("%s: %s", sql, sqlite3_errmsg (db));
  return stmt;
}

static gchar *
column_text (sqlite3_stmt *stmt, int i)
{
  const guchar *text = sqlite3_column_text (stmt, i);

  return text != NULL ? g_strdup ((const gchar *) text) : NULL;
}

void
evcp_sys_ticket_free (EvcpSysTicket *t)
{
  if (t == NULL)
    return;
  g_free (t->session_id);
  g_free (t->driver);
  g_free (t->reason);
  g_free (t->source);
  g_free (t);
}

GPtrArray *
evcp_sys_db_tickets (const gchar *db_path, const gchar *cp_id)
{
  sqlite3 *db = db_open (db_path);
  sqlite3_stmt *stmt = db_prepare (db, "SELECT session_id, driver, kwh, eur, reason, seq, source "
                                       "FROM tickets WHERE cp_id = ?1 ORDER BY id");
  GPtrArray *tickets = g_ptr_array_new_with_free_func ((GDestroyNotify) evcp_sys_ticket_free);
  int rc;

  sqlite3_bind_text (stmt, 1, cp_id, -1, SQLITE_TRANSIENT);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      EvcpSysTicket *t = g_new0 (EvcpSysTicket, 1);

      t->session_id = column_text (stmt, 0);
      t->driver = column_text (stmt, 1);
      t->kwh = sqlite3_column_double (stmt, 2);
      t->eur = sqlite3_column_double (stmt, 3);
      t->reason = column_text (stmt, 4);
      t->seq = sqlite3_column_type (stmt, 5) == SQLITE_NULL ? -1 : sqlite3_column_int64 (stmt, 5);
      t->source = column_text (stmt, 6);
      g_ptr_array_add (tickets, t);
    }
  if (rc != SQLITE_DONE)
    g_error ("reading tickets: %s", sqlite3_errmsg (db));
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return tickets;
}

GArray *
evcp_sys_db_seqs (const gchar *db_path, const gchar *cp_id, const gchar *role)
{
  sqlite3 *db = db_open (db_path);
  sqlite3_stmt *stmt = db_prepare (db, "SELECT seq FROM seqs WHERE cp_id = ?1 AND role = ?2 ORDER BY seq");
  GArray *seqs = g_array_new (FALSE, FALSE, sizeof (gint64));
  int rc;

  sqlite3_bind_text (stmt, 1, cp_id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 2, role, -1, SQLITE_TRANSIENT);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      gint64 seq = sqlite3_column_int64 (stmt, 0);

      g_array_append_val (seqs, seq);
    }
  if (rc != SQLITE_DONE)
    g_error ("reading seqs: %s", sqlite3_errmsg (db));
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return seqs;
}

guint
evcp_sys_db_count_events (const gchar *db_path, const gchar *cp_id, const gchar *kind, const gchar *detail)
{
  sqlite3 *db = db_open (db_path);
  sqlite3_stmt *stmt = db_prepare (db, "SELECT count(*) FROM events WHERE cp_id = ?1 AND kind = ?2 "
                                       "AND (?3 IS NULL OR detail = ?3)");
  guint count;

  sqlite3_bind_text (stmt, 1, cp_id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 2, kind, -1, SQLITE_TRANSIENT);
  if (detail != NULL)
    sqlite3_bind_text (stmt, 3, detail, -1, SQLITE_TRANSIENT);
  else
    sqlite3_bind_null (stmt, 3);
  if (sqlite3_step (stmt) != SQLITE_ROW)
    g_error ("counting events: %s", sqlite3_errmsg (db));
  count = (guint) sqlite3_column_int64 (stmt, 0);
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return count;
}

const EvcpSysTicket *
evcp_sys_tickets_find (GPtrArray *tickets, const gchar *session_id)
{
  for (guint i = 0; i < tickets->len; i++)
    {
      const EvcpSysTicket *t = g_ptr_array_index (tickets, i);

      if (g_strcmp0 (t->session_id, session_id) == 0)
        return t;
    }
  return NULL;
}

/* ------------------------------------------------------------------------- */
/* Committed offsets of a group */

struct _EvcpSysGroupWatch
{
  rd_kafka_t *rk;
  gchar      *topic;
};

EvcpSysGroupWatch *
evcp_sys_group_watch_new (const gchar *bootstrap, const gchar *group_id, const gchar *topic)
{
  rd_kafka_conf_t *conf = rd_kafka_conf_new ();
  EvcpSysGroupWatch *watch = g_new0 (EvcpSysGroupWatch, 1);
  char errstr[512];
  const gchar *const settings[] = {
    "bootstrap.servers", bootstrap,
    "group.id", group_id,
    "enable.auto.commit", "false",
    "reconnect.backoff.ms", "50",
    "reconnect.backoff.max.ms", "500",
    "log_level", "3",
  };

  for (guint i = 0; i < G_N_ELEMENTS (settings); i += 2)
    if (rd_kafka_conf_set (conf, settings[i], settings[i + 1], errstr, sizeof errstr) != RD_KAFKA_CONF_OK)
      g_error ("librdkafka: %s", errstr);
  /* never subscribes nor assigns: it does not take part in the group */
  watch->rk = rd_kafka_new (RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
  if (watch->rk == NULL)
    g_error ("librdkafka: %s", errstr);
  watch->topic = g_strdup (topic);
  return watch;
}

gboolean
evcp_sys_group_caught_up (EvcpSysGroupWatch *watch)
{
  rd_kafka_topic_t *rkt = rd_kafka_topic_new (watch->rk, watch->topic, NULL);
  const rd_kafka_metadata_t *md = NULL;
  rd_kafka_topic_partition_list_t *parts = NULL;
  gboolean caught_up = FALSE;

  if (rd_kafka_metadata (watch->rk, 0, rkt, &md, WATCH_TIMEOUT_MS) != RD_KAFKA_RESP_ERR_NO_ERROR ||
      md->topic_cnt != 1 || md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR ||
      md->topics[0].partition_cnt <= 0)
    goto out;
  parts = rd_kafka_topic_partition_list_new (md->topics[0].partition_cnt);
  for (int i = 0; i < md->topics[0].partition_cnt; i++)
    rd_kafka_topic_partition_list_add (parts, watch->topic, md->topics[0].partitions[i].id);
  if (rd_kafka_committed (watch->rk, parts, WATCH_TIMEOUT_MS) != RD_KAFKA_RESP_ERR_NO_ERROR)
    goto out;
  caught_up = TRUE;
  for (int i = 0; i < parts->cnt && caught_up; i++)
    {
      int64_t low = 0, high = 0;
      int64_t committed = parts->elems[i].offset;

      if (rd_kafka_query_watermark_offsets (watch->rk, watch->topic, parts->elems[i].partition,
                                            &low, &high, WATCH_TIMEOUT_MS) != RD_KAFKA_RESP_ERR_NO_ERROR)
        caught_up = FALSE;
      else if (high > low && (committed < 0 || committed < high))
        caught_up = FALSE;
    }
out:
  if (parts != NULL)
    rd_kafka_topic_partition_list_destroy (parts);
  if (md != NULL)
    rd_kafka_metadata_destroy (md);
  rd_kafka_topic_destroy (rkt);
  return caught_up;
}

void
evcp_sys_group_watch_free (EvcpSysGroupWatch *watch)
{
  if (watch == NULL)
    return;
  rd_kafka_destroy (watch->rk);
  g_free (watch->topic);
  g_free (watch);
}

/* ------------------------------------------------------------------------- */
/* Odds and ends */

static gboolean
time_reached (gpointer data)
{
  return g_get_monotonic_time () >= *(gint64 *) data;
}

void
evcp_sys_wait_until_time (gint64 when_us)
{
  gint64 now = g_get_monotonic_time ();

  if (when_us > now)
    evcp_test_wait_until (NULL, time_reached, &when_us, (guint) ((when_us - now) / 1000 + 1000));
}

guint
evcp_sys_count_in_file (const gchar *path, const gchar *needle)
{
  g_autofree gchar *contents = NULL;
  g_auto(GStrv) lines = NULL;
  guint count = 0;

  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return 0;
  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (strstr (lines[i], needle) != NULL)
      count++;
  return count;
}

void
evcp_sys_dump_file (const gchar *path)
{
  g_autofree gchar *contents = NULL;

  if (g_file_get_contents (path, &contents, NULL, NULL))
    g_test_message ("---- %s ----\n%s", path, contents);
}
