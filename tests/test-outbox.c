/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* EvcpOutbox: sequence numbers, acknowledgements per destination, the file
 * format, persistence across reopening, refusal of a corrupt file. */
#include "evcp-build-config.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "evcp-error.h"
#include "evcp-outbox.h"

#define CP "CP-T1"

typedef struct {
  gchar *dir;
  gchar *path;
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  f->dir = g_dir_make_tmp ("evcp-test-outbox-XXXXXX", &error);
  g_assert_no_error (error);
  /* a directory that does not exist yet: the outbox creates it */
  f->path = g_build_filename (f->dir, "state", "engine", "outbox.json", NULL);
}

static void
remove_tree (const gchar *path)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR) && !g_file_test (path, G_FILE_TEST_IS_SYMLINK))
    {
      g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
      const gchar *name;

      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree gchar *child = g_build_filename (path, name, NULL);

          remove_tree (child);
        }
      g_rmdir (path);
    }
  else
    {
      g_unlink (path);
    }
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  remove_tree (f->dir);
  g_free (f->path);
  g_free (f->dir);
}

static EvcpOutbox *
open_outbox (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  EvcpOutbox *outbox = evcp_outbox_new (f->path, &error);

  g_assert_no_error (error);
  g_assert_nonnull (outbox);
  return outbox;
}

static JsonObject *
make_event (const gchar *kind, const gchar *session)
{
  JsonObject *event = json_object_new ();
  JsonObject *data = json_object_new ();

  json_object_set_string_member (event, "kind", kind);
  json_object_set_string_member (data, "cp_id", CP);
  json_object_set_string_member (data, "session_id", session);
  json_object_set_object_member (event, "data", data);
  return event;
}

/* Appends a ticket for both destinations. */
static const EvcpOutboxRecord *
append_ticket (EvcpOutbox *outbox, const gchar *session)
{
  const gchar *fields[] = { "TICKET", CP, session, "driver-1", "12.50", "4.38", "COMPLETED", NULL };
  g_autoptr(JsonObject) event = make_event ("SESSION_ENDED", session);
  g_autoptr(GError) error = NULL;
  const EvcpOutboxRecord *record;

  record = evcp_outbox_append (outbox, fields, "charging_sessions", CP, event, &error);
  g_assert_no_error (error);
  g_assert_nonnull (record);
  return record;
}

static JsonObject *
parse_object (const gchar *text, JsonNode **keep)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;

  json_parser_load_from_data (parser, text, -1, &error);
  g_assert_no_error (error);
  *keep = json_parser_steal_root (parser);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (*keep));
  return json_node_get_object (*keep);
}

/* The file is valid JSON of the documented shape at every moment. */
static void
assert_file_valid (Fixture *f, guint64 next_seq, guint n_records)
{
  g_autofree gchar *text = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) root = NULL;
  JsonObject *object;

  g_file_get_contents (f->path, &text, NULL, &error);
  g_assert_no_error (error);
  object = parse_object (text, &root);
  g_assert_cmpint (json_object_get_int_member (object, "version"), ==, 1);
  g_assert_cmpint (json_object_get_int_member (object, "next_seq"), ==, (gint64) next_seq);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (object, "records")), ==, n_records);
}

/* No temporary file is left next to the outbox. */
static void
assert_no_leftovers (Fixture *f)
{
  g_autofree gchar *dirname = g_path_get_dirname (f->path);
  g_autoptr(GDir) dir = g_dir_open (dirname, 0, NULL);
  const gchar *name;
  guint n = 0;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_assert_cmpstr (name, ==, "outbox.json");
      n++;
    }
  g_assert_cmpuint (n, <=, 1);
}

/* ---- tests ---------------------------------------------------------------- */

static void
test_empty (Fixture *f, gconstpointer data)
{
  g_autoptr(EvcpOutbox) outbox = open_outbox (f);
  g_autoptr(GPtrArray) list = NULL;

  g_assert_cmpuint (evcp_outbox_get_next_seq (outbox), ==, 1);
  g_assert_cmpuint (evcp_outbox_get_open_seq (outbox), ==, 1);
  g_assert_cmpuint (evcp_outbox_get_length (outbox, EVCP_OUTBOX_CENTRAL), ==, 0);
  g_assert_cmpuint (evcp_outbox_get_length (outbox, EVCP_OUTBOX_KAFKA), ==, 0);
  g_assert_null (evcp_outbox_peek (outbox, EVCP_OUTBOX_CENTRAL));
  g_assert_null (evcp_outbox_peek (outbox, EVCP_OUTBOX_KAFKA));
  list = evcp_outbox_list (outbox, EVCP_OUTBOX_CENTRAL);
  g_assert_cmpuint (list->len, ==, 0);
  g_assert_cmpstr (evcp_outbox_get_path (outbox), ==, f->path);
  /* the directory was created; the file is written on the first append */
  g_assert_true (g_file_test (f->dir, G_FILE_TEST_IS_DIR));
  g_assert_false (g_file_test (f->path, G_FILE_TEST_EXISTS));
}

static void
test_append_peek_list_ack (Fixture *f, gconstpointer data)
{
  g_autoptr(EvcpOutbox) outbox = open_outbox (f);
  g_autoptr(GPtrArray) list = NULL;
  g_autoptr(GError) error = NULL;
  const EvcpOutboxRecord *r1, *r2, *r3;

  r1 = append_ticket (outbox, "s1");
  r2 = append_ticket (outbox, "s2");
  r3 = append_ticket (outbox, "s3");
  g_assert_cmpuint (evcp_outbox_record_get_seq (r1), ==, 1);
  g_assert_cmpuint (evcp_outbox_record_get_seq (r2), ==, 2);
  g_assert_cmpuint (evcp_outbox_record_get_seq (r3), ==, 3);
  g_assert_cmpuint (evcp_outbox_get_next_seq (outbox), ==, 4);
  g_assert_cmpuint (evcp_outbox_record_get_pending (r1), ==, EVCP_OUTBOX_CENTRAL | EVCP_OUTBOX_KAFKA);

  /* the Central frame ends with #<seq> */
  g_assert_cmpstr (evcp_outbox_record_get_frame (r1), ==, "TICKET#" CP "#s1#driver-1#12.50#4.38#COMPLETED#1");
  g_assert_true (g_str_has_suffix (evcp_outbox_record_get_frame (r3), "#COMPLETED#3"));
  g_assert_cmpstr (evcp_outbox_record_get_kafka_topic (r2), ==, "charging_sessions");
  g_assert_cmpstr (evcp_outbox_record_get_kafka_key (r2), ==, CP);

  g_assert_true (evcp_outbox_peek (outbox, EVCP_OUTBOX_CENTRAL) == r1);
  g_assert_true (evcp_outbox_peek (outbox, EVCP_OUTBOX_KAFKA) == r1);
  list = evcp_outbox_list (outbox, EVCP_OUTBOX_CENTRAL);
  g_assert_cmpuint (list->len, ==, 3);
  g_assert_true (g_ptr_array_index (list, 0) == r1);
  g_assert_true (g_ptr_array_index (list, 1) == r2);
  g_assert_true (g_ptr_array_index (list, 2) == r3);

  /* out of order acknowledgement of a middle record */
  g_assert_true (evcp_outbox_ack (outbox, 2, EVCP_OUTBOX_CENTRAL, &error));
  g_assert_no_error (error);
  g_clear_pointer (&list, g_ptr_array_unref);
  list = evcp_outbox_list (outbox, EVCP_OUTBOX_CENTRAL);
  g_assert_cmpuint (list->len, ==, 2);
  g_assert_true (g_ptr_array_index (list, 0) == r1);
  g_assert_true (g_ptr_array_index (list, 1) == r3);
  g_assert_cmpuint (evcp_outbox_get_length (outbox, EVCP_OUTBOX_KAFKA), ==, 3);
  g_assert_cmpuint (evcp_outbox_record_get_pending (r2), ==, EVCP_OUTBOX_KAFKA);

  /* a duplicate acknowledgement and an unknown seq are harmless */
  g_assert_true (evcp_outbox_ack (outbox, 2, EVCP_OUTBOX_CENTRAL, &error));
  g_assert_true (evcp_outbox_ack (outbox, 99, EVCP_OUTBOX_KAFKA, &error));
  g_assert_no_error (error);

  g_assert_true (evcp_outbox_ack (outbox, 1, EVCP_OUTBOX_CENTRAL, &error));
  g_assert_true (evcp_outbox_peek (outbox, EVCP_OUTBOX_CENTRAL) == r3);
  g_assert_true (evcp_outbox_ack (outbox, 3, EVCP_OUTBOX_CENTRAL | EVCP_OUTBOX_KAFKA, &error));
  g_assert_null (evcp_outbox_peek (outbox, EVCP_OUTBOX_CENTRAL));
  g_assert_cmpuint (evcp_outbox_get_length (outbox, EVCP_OUTBOX_KAFKA), ==, 2);
  assert_file_valid (f, 4, 2);
}

static void
test_destinations_independent (Fixture *f, gconstpointer data)
{
  g_autoptr(EvcpOutbox) outbox = open_outbox (f);
  const gchar *state[] = { "STATE", CP, "SUPPLYING", NULL };
  g_autoptr(JsonObject) event = make_event ("MONITORING_EVENT", "-");
  g_autoptr(GError) error = NULL;
  const EvcpOutboxRecord *central_only, *kafka_only, *both;

  central_only = evcp_outbox_append (outbox, state, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  kafka_only = evcp_outbox_append (outbox, NULL, "monitoring_events", NULL, event, &error);
  g_assert_no_error (error);
  both = append_ticket (outbox, "s1");

  g_assert_cmpuint (evcp_outbox_record_get_pending (central_only), ==, EVCP_OUTBOX_CENTRAL);
  g_assert_null (evcp_outbox_record_get_kafka_value (central_only));
  g_assert_null (evcp_outbox_record_get_kafka_topic (central_only));
  g_assert_cmpstr (evcp_outbox_record_get_frame (central_only), ==, "STATE#" CP "#SUPPLYING#1");
  g_assert_cmpuint (evcp_outbox_record_get_pending (kafka_only), ==, EVCP_OUTBOX_KAFKA);
  g_assert_null (evcp_outbox_record_get_frame (kafka_only));
  g_assert_null (evcp_outbox_record_get_kafka_key (kafka_only));
  g_assert_cmpuint (evcp_outbox_record_get_seq (both), ==, 3);

  g_assert_cmpuint (evcp_outbox_get_length (outbox, EVCP_OUTBOX_CENTRAL), ==, 2);
  g_assert_cmpuint (evcp_outbox_get_length (outbox, EVCP_OUTBOX_KAFKA), ==, 2);
  g_assert_true (evcp_outbox_peek (outbox, EVCP_OUTBOX_CENTRAL) == central_only);
  g_assert_true (evcp_outbox_peek (outbox, EVCP_OUTBOX_KAFKA) == kafka_only);

  /* Kafka acknowledges the ticket first: still due at Central */
  g_assert_true (evcp_outbox_ack (outbox, 3, EVCP_OUTBOX_KAFKA, &error));
  g_assert_cmpuint (evcp_outbox_record_get_pending (both), ==, EVCP_OUTBOX_CENTRAL);
  g_assert_cmpuint (evcp_outbox_get_length (outbox, EVCP_OUTBOX_CENTRAL), ==, 2);
  g_assert_cmpuint (evcp_outbox_get_length (outbox, EVCP_OUTBOX_KAFKA), ==, 1);
  /* Central acknowledging a record that was never due there changes nothing */
  g_assert_true (evcp_outbox_ack (outbox, 2, EVCP_OUTBOX_CENTRAL, &error));
  g_assert_cmpuint (evcp_outbox_get_length (outbox, EVCP_OUTBOX_KAFKA), ==, 1);
  g_assert_true (evcp_outbox_ack (outbox, 1, EVCP_OUTBOX_CENTRAL, &error));
  g_assert_true (evcp_outbox_ack (outbox, 3, EVCP_OUTBOX_CENTRAL, &error));
  g_assert_true (evcp_outbox_ack (outbox, 2, EVCP_OUTBOX_KAFKA, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (evcp_outbox_get_length (outbox, EVCP_OUTBOX_CENTRAL), ==, 0);
  g_assert_cmpuint (evcp_outbox_get_length (outbox, EVCP_OUTBOX_KAFKA), ==, 0);
  assert_file_valid (f, 4, 0);
}

static void
test_kafka_value (Fixture *f, gconstpointer data)
{
  g_autoptr(EvcpOutbox) outbox = open_outbox (f);
  g_autoptr(JsonObject) event = make_event ("SESSION_ENDED", "s1");
  g_autoptr(JsonObject) stamped = make_event ("SESSION_STARTED", "s2");
  g_autoptr(JsonObject) bare = json_object_new ();
  g_autoptr(JsonObject) bad = json_object_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GDateTime) when = NULL;
  const EvcpOutboxRecord *record;
  JsonObject *value;
  JsonObject *value_data;
  gint64 before = g_get_real_time ();

  record = evcp_outbox_append (outbox, NULL, "charging_sessions", CP, event, &error);
  g_assert_no_error (error);
  value = parse_object (evcp_outbox_record_get_kafka_value (record), &root);
  g_assert_cmpstr (json_object_get_string_member (value, "kind"), ==, "SESSION_ENDED");
  value_data = json_object_get_object_member (value, "data");
  g_assert_cmpint (json_object_get_int_member (value_data, "seq"), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (value_data, "session_id"), ==, "s1");
  g_assert_false (json_object_has_member (value_data, "replayed"));
  /* an ISO 8601 timestamp of the wall time of the event */
  when = g_date_time_new_from_iso8601 (json_object_get_string_member (value, "timestamp"), NULL);
  g_assert_nonnull (when);
  g_assert_cmpint (g_date_time_to_unix (when), ==, evcp_outbox_record_get_wall_time (record) / G_USEC_PER_SEC);
  g_assert_cmpint (evcp_outbox_record_get_wall_time (record), >=, before);
  /* the caller's object is left alone */
  g_assert_false (json_object_has_member (event, "timestamp"));
  g_assert_false (json_object_has_member (json_object_get_object_member (event, "data"), "seq"));
  g_clear_pointer (&root, json_node_unref);

  /* a timestamp given by the caller is kept */
  json_object_set_string_member (stamped, "timestamp", "2026-11-26T10:00:00Z");
  record = evcp_outbox_append (outbox, NULL, "charging_sessions", CP, stamped, &error);
  g_assert_no_error (error);
  value = parse_object (evcp_outbox_record_get_kafka_value (record), &root);
  g_assert_cmpstr (json_object_get_string_member (value, "timestamp"), ==, "2026-11-26T10:00:00Z");
  g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (value, "data"), "seq"), ==, 2);
  g_clear_pointer (&root, json_node_unref);

  /* no "data": one is made for data.seq */
  json_object_set_string_member (bare, "kind", "CUSTOM");
  record = evcp_outbox_append (outbox, NULL, "charging_sessions", CP, bare, &error);
  g_assert_no_error (error);
  value = parse_object (evcp_outbox_record_get_kafka_value (record), &root);
  g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (value, "data"), "seq"), ==, 3);

  /* "data" that is not an object: refused, and the seq is not used */
  json_object_set_string_member (bad, "data", "oops");
  g_assert_null (evcp_outbox_append (outbox, NULL, "charging_sessions", CP, bad, &error));
  g_assert_error (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE);
  g_assert_cmpuint (evcp_outbox_get_next_seq (outbox), ==, 4);
  assert_file_valid (f, 4, 3);
}

static void
test_invalid_fields (Fixture *f, gconstpointer data)
{
  g_autoptr(EvcpOutbox) outbox = open_outbox (f);
  const gchar *hash[] = { "FAULT", CP, "engine#down", NULL };
  const gchar *control[] = { "FAULT", CP, "bad\x04" "byte", NULL };
  g_autofree gchar *huge = g_strnfill (5000, 'x');
  const gchar *too_long[] = { "FAULT", CP, huge, NULL };
  g_autoptr(GError) error = NULL;

  g_assert_null (evcp_outbox_append (outbox, hash, NULL, NULL, NULL, &error));
  g_assert_error (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE);
  g_clear_error (&error);
  g_assert_null (evcp_outbox_append (outbox, control, NULL, NULL, NULL, &error));
  g_assert_error (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE);
  g_clear_error (&error);
  g_assert_null (evcp_outbox_append (outbox, too_long, NULL, NULL, NULL, &error));
  g_assert_error (error, EVCP_ERROR, EVCP_ERROR_TOO_LARGE);
  g_assert_cmpuint (evcp_outbox_get_next_seq (outbox), ==, 1);
  g_assert_false (g_file_test (f->path, G_FILE_TEST_EXISTS));
}

static void
test_seq_only_grows (Fixture *f, gconstpointer data)
{
  g_autoptr(EvcpOutbox) outbox = open_outbox (f);
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < 5; i++)
    {
      const EvcpOutboxRecord *record = append_ticket (outbox, "s");
      guint64 seq = evcp_outbox_record_get_seq (record);

      g_assert_cmpuint (seq, ==, i + 1);
      g_assert_true (evcp_outbox_ack (outbox, seq, EVCP_OUTBOX_CENTRAL | EVCP_OUTBOX_KAFKA, &error));
      g_assert_no_error (error);
    }
  /* empty, but the counter is kept, in memory and on disk */
  g_assert_cmpuint (evcp_outbox_get_next_seq (outbox), ==, 6);
  assert_file_valid (f, 6, 0);
  g_clear_object (&outbox);

  outbox = open_outbox (f);
  g_assert_cmpuint (evcp_outbox_get_next_seq (outbox), ==, 6);
  g_assert_cmpuint (evcp_outbox_get_open_seq (outbox), ==, 6);
  g_assert_cmpuint (evcp_outbox_record_get_seq (append_ticket (outbox, "s6")), ==, 6);
  g_assert_cmpuint (evcp_outbox_get_open_seq (outbox), ==, 6);
}

static void
test_persistence (Fixture *f, gconstpointer data)
{
  g_autoptr(EvcpOutbox) outbox = open_outbox (f);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) before = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) list = NULL;
  const gchar *recovered[] = { "RECOVERED", CP, NULL };
  const EvcpOutboxRecord *record;
  gint64 wall_time;

  append_ticket (outbox, "s1");
  append_ticket (outbox, "s2");
  record = evcp_outbox_append (outbox, recovered, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  append_ticket (outbox, "s4");
  g_assert_true (evcp_outbox_ack (outbox, 1, EVCP_OUTBOX_CENTRAL | EVCP_OUTBOX_KAFKA, &error));
  g_assert_true (evcp_outbox_ack (outbox, 2, EVCP_OUTBOX_KAFKA, &error));
  g_assert_no_error (error);
  wall_time = evcp_outbox_record_get_wall_time (evcp_outbox_peek (outbox, EVCP_OUTBOX_CENTRAL));

  list = evcp_outbox_list (outbox, EVCP_OUTBOX_CENTRAL | EVCP_OUTBOX_KAFKA);
  for (guint i = 0; i < list->len; i++)
    {
      record = g_ptr_array_index (list, i);
      g_ptr_array_add (before, g_strdup_printf ("%" G_GUINT64_FORMAT "|%s|%s|%s|%s|%" G_GINT64_FORMAT "|%u",
                                                evcp_outbox_record_get_seq (record),
                                                evcp_outbox_record_get_frame (record),
                                                evcp_outbox_record_get_kafka_topic (record),
                                                evcp_outbox_record_get_kafka_key (record),
                                                evcp_outbox_record_get_kafka_value (record),
                                                evcp_outbox_record_get_wall_time (record),
                                                evcp_outbox_record_get_pending (record)));
    }
  g_assert_cmpuint (before->len, ==, 3);
  g_clear_pointer (&list, g_ptr_array_unref);
  g_clear_object (&outbox);

  /* the program restarts */
  outbox = open_outbox (f);
  g_assert_cmpuint (evcp_outbox_get_next_seq (outbox), ==, 5);
  g_assert_cmpuint (evcp_outbox_get_open_seq (outbox), ==, 5);
  list = evcp_outbox_list (outbox, EVCP_OUTBOX_CENTRAL | EVCP_OUTBOX_KAFKA);
  g_assert_cmpuint (list->len, ==, before->len);
  for (guint i = 0; i < list->len; i++)
    {
      g_autofree gchar *after = NULL;

      record = g_ptr_array_index (list, i);
      after = g_strdup_printf ("%" G_GUINT64_FORMAT "|%s|%s|%s|%s|%" G_GINT64_FORMAT "|%u",
                               evcp_outbox_record_get_seq (record),
                               evcp_outbox_record_get_frame (record),
                               evcp_outbox_record_get_kafka_topic (record),
                               evcp_outbox_record_get_kafka_key (record),
                               evcp_outbox_record_get_kafka_value (record),
                               evcp_outbox_record_get_wall_time (record),
                               evcp_outbox_record_get_pending (record));
      g_assert_cmpstr (after, ==, g_ptr_array_index (before, i));
    }
  g_assert_cmpuint (evcp_outbox_record_get_seq (evcp_outbox_peek (outbox, EVCP_OUTBOX_CENTRAL)), ==, 2);
  g_assert_cmpint (evcp_outbox_record_get_wall_time (evcp_outbox_peek (outbox, EVCP_OUTBOX_CENTRAL)), ==, wall_time);
  g_assert_cmpuint (evcp_outbox_record_get_seq (evcp_outbox_peek (outbox, EVCP_OUTBOX_KAFKA)), ==, 4);
  g_assert_cmpuint (evcp_outbox_record_get_seq (append_ticket (outbox, "s5")), ==, 5);
}

/* After every operation the file is complete, valid JSON, and reopening it
 * gives the state in memory. */
static void
test_atomic (Fixture *f, gconstpointer data)
{
  g_autoptr(EvcpOutbox) outbox = open_outbox (f);
  g_autoptr(GError) error = NULL;

  for (guint i = 1; i <= 6; i++)
    {
      g_autoptr(EvcpOutbox) reopened = NULL;

      append_ticket (outbox, "s");
      assert_file_valid (f, i + 1, i);
      assert_no_leftovers (f);
      reopened = open_outbox (f);
      g_assert_cmpuint (evcp_outbox_get_next_seq (reopened), ==, i + 1);
      g_assert_cmpuint (evcp_outbox_get_length (reopened, EVCP_OUTBOX_CENTRAL), ==, i);
    }
  for (guint i = 1; i <= 6; i++)
    {
      g_autoptr(EvcpOutbox) reopened = NULL;

      g_assert_true (evcp_outbox_ack (outbox, i, EVCP_OUTBOX_CENTRAL, &error));
      g_assert_no_error (error);
      /* still due at Kafka: still in the file */
      assert_file_valid (f, 7, 6 - (i - 1));
      reopened = open_outbox (f);
      g_assert_cmpuint (evcp_outbox_get_length (reopened, EVCP_OUTBOX_CENTRAL), ==, 6 - i);
      g_assert_cmpuint (evcp_outbox_get_length (reopened, EVCP_OUTBOX_KAFKA), ==, 6 - (i - 1));

      g_assert_true (evcp_outbox_ack (outbox, i, EVCP_OUTBOX_KAFKA, &error));
      g_assert_no_error (error);
      assert_file_valid (f, 7, 6 - i);
      assert_no_leftovers (f);
    }
}

/* A write that fails changes nothing: not the seq, not the records. */
static void
test_write_failure (Fixture *f, gconstpointer data)
{
  g_autoptr(EvcpOutbox) outbox = open_outbox (f);
  g_autoptr(GError) error = NULL;
  const gchar *fields[] = { "STATE", CP, "ACTIVE", NULL };

  append_ticket (outbox, "s1");
  /* a directory where the file must be renamed to: fails even for root */
  g_assert_cmpint (g_unlink (f->path), ==, 0);
  g_assert_cmpint (g_mkdir (f->path, 0700), ==, 0);

  g_assert_null (evcp_outbox_append (outbox, fields, NULL, NULL, NULL, &error));
  g_assert_error (error, EVCP_ERROR, EVCP_ERROR_FAILED);
  g_clear_error (&error);
  g_assert_cmpuint (evcp_outbox_get_next_seq (outbox), ==, 2);
  g_assert_cmpuint (evcp_outbox_get_length (outbox, EVCP_OUTBOX_CENTRAL), ==, 1);

  g_assert_false (evcp_outbox_ack (outbox, 1, EVCP_OUTBOX_CENTRAL, &error));
  g_assert_error (error, EVCP_ERROR, EVCP_ERROR_FAILED);
  g_clear_error (&error);
  g_assert_cmpuint (evcp_outbox_get_length (outbox, EVCP_OUTBOX_CENTRAL), ==, 1);
  g_assert_cmpuint (evcp_outbox_record_get_pending (evcp_outbox_peek (outbox, EVCP_OUTBOX_KAFKA)), ==,
                    EVCP_OUTBOX_CENTRAL | EVCP_OUTBOX_KAFKA);

  /* the disk comes back: the same seq is used */
  g_assert_cmpint (g_rmdir (f->path), ==, 0);
  g_assert_nonnull (evcp_outbox_append (outbox, fields, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (evcp_outbox_record_get_frame (evcp_outbox_peek (outbox, EVCP_OUTBOX_CENTRAL)), ==,
                   "TICKET#" CP "#s1#driver-1#12.50#4.38#COMPLETED#1");
  assert_file_valid (f, 3, 2);
}

/* Hostile files (issue 22): a nesting bomb, a file over the limit, a
 * symbolic link to /dev/zero, a FIFO: refused at once, without reading
 * gigabytes or overflowing the stack, and left where they are. */
static void
test_hostile_files (Fixture *f, gconstpointer data)
{
  g_autofree gchar *dir = g_path_get_dirname (f->path);
  GString *bomb = g_string_new ("{\"version\":1,\"next_seq\":3,\"records\":[");
  g_autoptr(GError) error = NULL;
  g_autoptr(EvcpOutbox) outbox = NULL;
  FILE *big;

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  for (guint i = 0; i < 100000; i++)
    g_string_append_c (bomb, '[');
  for (guint i = 0; i < 100000; i++)
    g_string_append_c (bomb, ']');
  g_string_append (bomb, "]}");
  g_assert_true (g_file_set_contents (f->path, bomb->str, (gssize) bomb->len, &error));
  outbox = evcp_outbox_new (f->path, &error);
  g_assert_null (outbox);
  g_assert_error (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "nesting deeper than"));
  g_assert_true (g_file_test (f->path, G_FILE_TEST_IS_REGULAR));
  g_clear_error (&error);
  g_string_free (bomb, TRUE);

  /* a sparse file one byte over the limit: refused without being read */
  big = fopen (f->path, "w");
  g_assert_nonnull (big);
  g_assert_cmpint (fseek (big, EVCP_OUTBOX_MAX_FILE_SIZE, SEEK_SET), ==, 0);
  g_assert_cmpint (fputc ('}', big), ==, '}');
  g_assert_cmpint (fclose (big), ==, 0);
  outbox = evcp_outbox_new (f->path, &error);
  g_assert_null (outbox);
  g_assert_error (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "more than the limit"));
  g_clear_error (&error);

#ifdef G_OS_UNIX
  g_assert_cmpint (g_unlink (f->path), ==, 0);
  g_assert_cmpint (symlink ("/dev/zero", f->path), ==, 0);
  outbox = evcp_outbox_new (f->path, &error);
  g_assert_null (outbox);
  g_assert_error (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE);
  g_assert_nonnull (strstr (error->message, "not a regular file"));
  g_assert_true (g_file_test (f->path, G_FILE_TEST_IS_SYMLINK));
  g_clear_error (&error);

  g_assert_cmpint (g_unlink (f->path), ==, 0);
  g_assert_cmpint (mkfifo (f->path, 0600), ==, 0);
  outbox = evcp_outbox_new (f->path, &error);
  g_assert_null (outbox);
  g_assert_error (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE);
#endif
}

static void
test_corrupt_refused (Fixture *f, gconstpointer data)
{
  static const gchar *const cases[] = {
    "",
    "{",
    "not json",
    "[]",
    "{\"version\":2,\"next_seq\":1,\"records\":[]}",
    "{\"next_seq\":1,\"records\":[]}",
    "{\"version\":1,\"records\":[]}",
    "{\"version\":1,\"next_seq\":0,\"records\":[]}",
    "{\"version\":1,\"next_seq\":\"3\",\"records\":[]}",
    "{\"version\":1,\"next_seq\":3}",
    /* a seq at or beyond next_seq */
    "{\"version\":1,\"next_seq\":3,\"records\":[{\"seq\":3,\"wall_time\":1,\"pending\":[\"central\"],\"frame\":\"STATE#C#A#3\"}]}",
    /* seqs not growing */
    "{\"version\":1,\"next_seq\":9,\"records\":[{\"seq\":2,\"wall_time\":1,\"pending\":[\"central\"],\"frame\":\"STATE#C#A#2\"},"
    "{\"seq\":2,\"wall_time\":1,\"pending\":[\"central\"],\"frame\":\"STATE#C#A#2\"}]}",
    /* pending nowhere, or somewhere unknown */
    "{\"version\":1,\"next_seq\":3,\"records\":[{\"seq\":1,\"wall_time\":1,\"pending\":[],\"frame\":\"STATE#C#A#1\"}]}",
    "{\"version\":1,\"next_seq\":3,\"records\":[{\"seq\":1,\"wall_time\":1,\"pending\":[\"mqtt\"],\"frame\":\"STATE#C#A#1\"}]}",
    /* due at Central without a frame, at Kafka without a value */
    "{\"version\":1,\"next_seq\":3,\"records\":[{\"seq\":1,\"wall_time\":1,\"pending\":[\"central\"]}]}",
    "{\"version\":1,\"next_seq\":3,\"records\":[{\"seq\":1,\"wall_time\":1,\"pending\":[\"kafka\"],\"kafka_topic\":\"t\"}]}",
    "{\"version\":1,\"next_seq\":3,\"records\":[{\"seq\":1,\"wall_time\":1,\"pending\":[\"central\"],\"frame\":7}]}",
    "{\"version\":1,\"next_seq\":3,\"records\":[{\"seq\":1,\"pending\":[\"central\"],\"frame\":\"STATE#C#A#1\"}]}",
  };
  g_autofree gchar *dir = g_path_get_dirname (f->path);

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(EvcpOutbox) outbox = NULL;
      g_autofree gchar *after = NULL;

      g_test_message ("case %u: %s", i, cases[i]);
      g_file_set_contents (f->path, cases[i], -1, &error);
      g_assert_no_error (error);
      outbox = evcp_outbox_new (f->path, &error);
      g_assert_null (outbox);
      g_assert_error (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE);
      /* never reset: the file is left as it was */
      g_file_get_contents (f->path, &after, NULL, NULL);
      g_assert_cmpstr (after, ==, cases[i]);
    }
}

/* A valid file written by hand (or by an older build) is read. */
static void
test_file_format (Fixture *f, gconstpointer data)
{
  const gchar *text =
    "{\"version\":1,\"next_seq\":12,\"records\":["
    "{\"seq\":7,\"wall_time\":1700000000000000,\"pending\":[\"central\",\"kafka\"],"
    "\"frame\":\"TICKET#CP-T1#s#d#1.00#0.35#COMPLETED#7\",\"kafka_topic\":\"charging_sessions\","
    "\"kafka_key\":\"CP-T1\",\"kafka_value\":\"{\\\"kind\\\":\\\"SESSION_ENDED\\\",\\\"data\\\":{\\\"seq\\\":7}}\"},"
    "{\"seq\":9,\"wall_time\":1700000001000000,\"pending\":[\"kafka\"],"
    "\"kafka_topic\":\"monitoring_events\",\"kafka_value\":\"{}\",\"future_member\":true}"
    "]}";
  g_autofree gchar *dir = g_path_get_dirname (f->path);
  g_autoptr(EvcpOutbox) outbox = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = NULL;
  const EvcpOutboxRecord *record;

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_file_set_contents (f->path, text, -1, &error);
  g_assert_no_error (error);
  outbox = open_outbox (f);
  g_assert_cmpuint (evcp_outbox_get_next_seq (outbox), ==, 12);
  g_assert_cmpuint (evcp_outbox_get_open_seq (outbox), ==, 12);
  record = evcp_outbox_peek (outbox, EVCP_OUTBOX_CENTRAL);
  g_assert_cmpuint (evcp_outbox_record_get_seq (record), ==, 7);
  g_assert_cmpint (evcp_outbox_record_get_wall_time (record), ==, 1700000000000000);
  g_assert_cmpstr (evcp_outbox_record_get_kafka_value (record), ==, "{\"kind\":\"SESSION_ENDED\",\"data\":{\"seq\":7}}");
  g_assert_cmpuint (evcp_outbox_get_length (outbox, EVCP_OUTBOX_KAFKA), ==, 2);
  list = evcp_outbox_list (outbox, EVCP_OUTBOX_KAFKA);
  g_assert_cmpuint (evcp_outbox_record_get_seq (g_ptr_array_index (list, 1)), ==, 9);
  g_assert_null (evcp_outbox_record_get_kafka_key (g_ptr_array_index (list, 1)));
  g_assert_null (evcp_outbox_record_get_frame (g_ptr_array_index (list, 1)));
}

typedef struct {
  guint64 seq;
  guint   destinations;
  guint   count;
} Appended;

static void
on_appended (EvcpOutbox *outbox, guint64 seq, guint destinations, Appended *a)
{
  /* already on disk when the signal comes */
  g_autoptr(EvcpOutbox) other = evcp_outbox_new (evcp_outbox_get_path (outbox), NULL);

  g_assert_nonnull (other);
  g_assert_cmpuint (evcp_outbox_get_next_seq (other), ==, seq + 1);
  a->seq = seq;
  a->destinations = destinations;
  a->count++;
}

static void
test_appended_signal (Fixture *f, gconstpointer data)
{
  g_autoptr(EvcpOutbox) outbox = open_outbox (f);
  const gchar *fields[] = { "FAULT", CP, "no answer", NULL };
  g_autoptr(GError) error = NULL;
  Appended a = { 0 };

  g_signal_connect (outbox, "appended", G_CALLBACK (on_appended), &a);
  append_ticket (outbox, "s1");
  g_assert_cmpuint (a.count, ==, 1);
  g_assert_cmpuint (a.seq, ==, 1);
  g_assert_cmpuint (a.destinations, ==, EVCP_OUTBOX_CENTRAL | EVCP_OUTBOX_KAFKA);
  evcp_outbox_append (outbox, fields, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (a.count, ==, 2);
  g_assert_cmpuint (a.seq, ==, 2);
  g_assert_cmpuint (a.destinations, ==, EVCP_OUTBOX_CENTRAL);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add ("/outbox/" path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("empty", test_empty);
  ADD ("append-peek-list-ack", test_append_peek_list_ack);
  ADD ("destinations-independent", test_destinations_independent);
  ADD ("kafka-value", test_kafka_value);
  ADD ("invalid-fields", test_invalid_fields);
  ADD ("seq-only-grows", test_seq_only_grows);
  ADD ("persistence", test_persistence);
  ADD ("atomic", test_atomic);
  ADD ("write-failure", test_write_failure);
  ADD ("hostile-files", test_hostile_files);
  ADD ("corrupt-refused", test_corrupt_refused);
  ADD ("file-format", test_file_format);
  ADD ("appended-signal", test_appended_signal);
#undef ADD
  return g_test_run ();
}
