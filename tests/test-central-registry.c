/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* evcp-central's registry of CPs (src/central/evcp-central-registry.c) and
 * its Kafka mapping, without a socket: deduplication by seq, gaps, tickets
 * kept once, late telemetry, the Monitor's faults, and what a registry
 * reopened over the same database still knows. A real SQLite file in a
 * temporary directory. */
#include "evcp-build-config.h"

#include "evcp-test-expect.h"

#include <glib/gstdio.h>

#include "evcp-central-kafka.h"
#include "evcp-central-kafka-mapping.h"
#include "evcp-central-registry.h"
#include "evcp-log.h"
#include "evcp-test-util.h"

#define LINK  EVCP_CENTRAL_SOURCE_LINK
#define KAFKA EVCP_CENTRAL_SOURCE_KAFKA
#define ENGINE  EVCP_CENTRAL_REGISTRY_ENGINE
#define MONITOR EVCP_CENTRAL_REGISTRY_MONITOR

typedef struct {
  gchar               *dir;
  gchar               *path;
  EvcpCentralDb       *db;
  EvcpCentralRegistry *registry;
  guint                changes;
} Fixture;

static void
on_changed (gpointer user_data)
{
  ((Fixture *) user_data)->changes++;
}

static void
open_registry (Fixture *f)
{
  g_autoptr(GError) error = NULL;

  f->db = evcp_central_db_open (f->path, &error);
  g_assert_no_error (error);
  f->registry = evcp_central_registry_new (f->db);
  evcp_central_registry_set_changed_func (f->registry, on_changed, f);
  evcp_central_registry_load (f->registry);
}

static void
close_registry (Fixture *f)
{
  g_clear_pointer (&f->registry, evcp_central_registry_free);
  evcp_central_db_close (f->db);
  g_clear_object (&f->db);
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  f->dir = g_dir_make_tmp ("evcp-test-registry-XXXXXX", &error);
  g_assert_no_error (error);
  f->path = g_build_filename (f->dir, "central.db", NULL);
  open_registry (f);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_autoptr(GDir) dir = NULL;
  const gchar *name;

  close_registry (f);
  dir = g_dir_open (f->dir, 0, NULL);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree gchar *file = g_build_filename (f->dir, name, NULL);

      g_unlink (file);
    }
  g_rmdir (f->dir);
  g_free (f->path);
  g_free (f->dir);
}

static EvcpCentralTicket
ticket (const gchar *cp_id, const gchar *session, gint64 seq, const gchar *source)
{
  return (EvcpCentralTicket) {
    .cp_id = cp_id, .session_id = session, .driver = "drv-1", .kwh = 1.5, .eur = 0.6,
    .reason = "DURATION", .seq = seq, .source = source,
  };
}

/* A state applied once per seq, whichever way it came; an older one is
 * recorded but does not replace the newer. */
static void
test_state_dedup (Fixture *f, gconstpointer data)
{
  EvcpCentralCp *cp = evcp_central_registry_ensure (f->registry, "CP-1");
  const EvcpCentralRegistryStats *stats = evcp_central_registry_get_stats (f->registry);

  g_assert_cmpstr (evcp_central_cp_displayed_state (cp), ==, "UNKNOWN");
  evcp_central_registry_apply_state (f->registry, cp, "SUPPLYING", 5, LINK);
  g_assert_cmpstr (evcp_central_cp_displayed_state (cp), ==, "SUPPLYING");
  g_assert_cmpint (cp->state_seq, ==, 5);
  g_assert_cmpuint (f->changes, ==, 1);

  /* the same seq over Kafka: a duplicate, expected, so counted and said at
   * info only (not at the default level) */
  evcp_log_set_level (EVCP_LOG_LEVEL_INFO);
  evcp_test_expect_message ("evcp-central", G_LOG_LEVEL_INFO,
                            "CP-1: duplicate STATE from the ENGINE (seq 5, by kafka)*");
  evcp_central_registry_apply_state (f->registry, cp, "SUPPLYING", 5, KAFKA);
  evcp_test_assert_expected_messages ();
  evcp_log_set_level (EVCP_LOG_LEVEL_MESSAGE);
  g_assert_cmpuint (stats->duplicates, ==, 1);
  g_assert_cmpuint (f->changes, ==, 1);

  /* older: kept for the record only */
  evcp_central_registry_apply_state (f->registry, cp, "ACTIVE", 3, KAFKA);
  g_assert_cmpstr (evcp_central_cp_displayed_state (cp), ==, "SUPPLYING");
  g_assert_cmpuint (stats->duplicates, ==, 1);

  evcp_central_registry_apply_state (f->registry, cp, "ACTIVE", 6, LINK);
  g_assert_cmpstr (evcp_central_cp_displayed_state (cp), ==, "ACTIVE");
  g_assert_cmpstr (cp->stored_state, ==, "ACTIVE");
}

/* Gaps in the seqs of one link are counted, per role. */
static void
test_gaps (Fixture *f, gconstpointer data)
{
  EvcpCentralCp *cp = evcp_central_registry_ensure (f->registry, "CP-1");
  const EvcpCentralRegistryStats *stats = evcp_central_registry_get_stats (f->registry);

  evcp_central_registry_check_link_seq (f->registry, cp, ENGINE, 1);
  evcp_central_registry_check_link_seq (f->registry, cp, ENGINE, 2);
  evcp_central_registry_check_link_seq (f->registry, cp, ENGINE, -1);   /* no seq */
  g_assert_cmpuint (stats->gaps, ==, 0);
  evcp_test_expect_message ("evcp-central", G_LOG_LEVEL_WARNING, "CP-1: gap in the seqs of the ENGINE: 3 to 4*");
  evcp_central_registry_check_link_seq (f->registry, cp, ENGINE, 5);
  evcp_test_assert_expected_messages ();
  g_assert_cmpuint (stats->gaps, ==, 1);
  g_assert_cmpint (cp->link_seq[ENGINE], ==, 5);
  /* a resend of an older one is no gap; the Monitor counts apart */
  evcp_central_registry_check_link_seq (f->registry, cp, ENGINE, 4);
  evcp_central_registry_check_link_seq (f->registry, cp, MONITOR, 1);
  g_assert_cmpuint (stats->gaps, ==, 1);
  g_assert_cmpint (cp->link_seq[ENGINE], ==, 5);
}

static gboolean
no_gap_pending (gpointer data)
{
  EvcpCentralCp *cp = data;

  return g_hash_table_size (cp->missing[MONITOR]) == 0;
}

/* While Central consumes Kafka, a seq the link skipped is no gap when Kafka
 * brought it, before (the Monitor's periodic events: only on Kafka) or
 * after the link's next frame; one neither path brought within the grace
 * is a gap, reported once for its range. */
static void
test_gaps_with_kafka (Fixture *f, gconstpointer data)
{
  EvcpCentralCp *cp = evcp_central_registry_ensure (f->registry, "CP-1");
  const EvcpCentralRegistryStats *stats = evcp_central_registry_get_stats (f->registry);

  evcp_central_registry_set_kafka (f->registry, TRUE, 50);
  evcp_central_registry_check_link_seq (f->registry, cp, MONITOR, 1);
  /* a quiet period: two periodic events on Kafka only, then a FAULT on both */
  evcp_central_registry_note_kafka_seq (f->registry, cp, MONITOR, 2);
  evcp_central_registry_note_kafka_seq (f->registry, cp, MONITOR, 3);
  evcp_central_registry_check_link_seq (f->registry, cp, MONITOR, 4);
  evcp_central_registry_note_kafka_seq (f->registry, cp, MONITOR, 4);
  g_assert_cmpuint (g_hash_table_size (cp->missing[MONITOR]), ==, 0);
  /* Kafka slower than the link: 5 and 6 come after 7 */
  evcp_central_registry_check_link_seq (f->registry, cp, MONITOR, 7);
  g_assert_cmpuint (g_hash_table_size (cp->missing[MONITOR]), ==, 2);
  evcp_central_registry_note_kafka_seq (f->registry, cp, MONITOR, 6);
  evcp_central_registry_note_kafka_seq (f->registry, cp, MONITOR, 5);
  g_assert_true (evcp_test_wait_until (NULL, no_gap_pending, cp, 5000));
  g_assert_cmpuint (stats->gaps, ==, 0);

  /* 8 and 9 never come */
  evcp_test_expect_message ("evcp-central", G_LOG_LEVEL_WARNING,
                            "CP-1: gap in the seqs of the MONITOR: 8 to 9 (2) never arrived, on the link or on Kafka*");
  evcp_central_registry_check_link_seq (f->registry, cp, MONITOR, 10);
  g_assert_true (evcp_test_wait_until (NULL, no_gap_pending, cp, 5000));
  evcp_test_assert_expected_messages ();
  g_assert_cmpuint (stats->gaps, ==, 1);
  g_assert_cmpuint (g_hash_table_size (cp->kafka_seqs[MONITOR]), ==, 0);
}

/* A ticket ends its session once; the same session's ticket again (another
 * seq, the other way) is kept once; telemetry coming after it is late. */
static void
test_ticket_once (Fixture *f, gconstpointer data)
{
  EvcpCentralCp *cp = evcp_central_registry_ensure (f->registry, "CP-1");
  const EvcpCentralRegistryStats *stats = evcp_central_registry_get_stats (f->registry);
  EvcpCentralTicket t1 = ticket ("CP-1", "sess-1", 7, LINK);
  EvcpCentralTicket t2 = ticket ("CP-1", "sess-1", 8, KAFKA);

  evcp_central_cp_set_session (cp, "sess-1", "drv-1", 1.0, 0.4);
  g_assert_cmpstr (cp->session_id, ==, "sess-1");
  g_assert_true (evcp_central_registry_apply_ticket (f->registry, cp, &t1));
  g_assert_null (cp->session_id);
  g_assert_cmpuint (cp->tickets, ==, 1);

  g_assert_true (evcp_central_registry_apply_ticket (f->registry, cp, &t2));
  g_assert_cmpuint (cp->tickets, ==, 1);
  g_assert_cmpuint (stats->duplicate_tickets, ==, 1);
  /* the same seq again: not even looked at */
  g_assert_false (evcp_central_registry_apply_ticket (f->registry, cp, &t1));
  g_assert_cmpuint (stats->duplicates, ==, 1);

  evcp_central_cp_set_session (cp, "sess-1", "drv-1", 1.5, 0.6);
  g_assert_null (cp->session_id);
  evcp_central_cp_set_session (cp, "sess-2", "drv-2", 0.1, 0.04);
  g_assert_cmpstr (cp->session_id, ==, "sess-2");
  g_assert_cmpstr (cp->driver, ==, "drv-2");
}

/* The Monitor's FAULT shows over the Engine's state until a newer
 * RECOVERED; an older one changes nothing. */
static void
test_fault (Fixture *f, gconstpointer data)
{
  EvcpCentralCp *cp = evcp_central_registry_ensure (f->registry, "CP-1");

  evcp_central_registry_apply_state (f->registry, cp, "ACTIVE", 1, LINK);
  evcp_central_registry_apply_fault (f->registry, cp, "sensor", 10, LINK);
  g_assert_cmpstr (evcp_central_cp_displayed_state (cp), ==, "FAULT");
  g_assert_cmpstr (cp->fault_reason, ==, "sensor");
  evcp_central_registry_apply_recovered (f->registry, cp, 9, KAFKA);
  g_assert_cmpstr (evcp_central_cp_displayed_state (cp), ==, "FAULT");
  evcp_central_registry_apply_recovered (f->registry, cp, 11, KAFKA);
  g_assert_cmpstr (evcp_central_cp_displayed_state (cp), ==, "ACTIVE");
  g_assert_null (cp->fault_reason);

  /* a periodic status: newer seqs only */
  evcp_central_registry_monitor_status (f->registry, cp, 11, TRUE, "x");
  g_assert_false (cp->fault);
  evcp_central_registry_monitor_status (f->registry, cp, 12, TRUE, NULL);
  g_assert_true (cp->fault);
  g_assert_cmpstr (cp->fault_reason, ==, "KO");
  g_assert_cmpstr (cp->stored_state, ==, "FAULT");
}

/* A registry reopened over the same database knows the CPs, their last
 * state, tickets and seqs: a record delivered again is still a duplicate. */
static void
test_reload (Fixture *f, gconstpointer data)
{
  EvcpCentralCp *cp = evcp_central_registry_ensure (f->registry, "CP-1");
  EvcpCentralTicket t1 = ticket ("CP-1", "sess-1", 7, LINK);
  const EvcpCentralRegistryStats *stats;

  evcp_central_registry_connected (f->registry, cp, "Calle Mayor 1", 0.40);
  evcp_central_registry_apply_state (f->registry, cp, "STOPPED", 6, LINK);
  evcp_central_registry_check_link_seq (f->registry, cp, ENGINE, 7);
  g_assert_true (evcp_central_registry_apply_ticket (f->registry, cp, &t1));
  close_registry (f);

  open_registry (f);
  stats = evcp_central_registry_get_stats (f->registry);
  g_assert_null (evcp_central_registry_lookup (f->registry, "CP-2"));
  cp = evcp_central_registry_lookup (f->registry, "CP-1");
  g_assert_nonnull (cp);
  g_assert_cmpstr (cp->location, ==, "Calle Mayor 1");
  g_assert_cmpfloat (cp->price_eur_kwh, ==, 0.40);
  g_assert_cmpstr (evcp_central_cp_displayed_state (cp), ==, "STOPPED");
  g_assert_cmpuint (cp->tickets, ==, 1);
  g_assert_cmpint (cp->link_seq[ENGINE], ==, 7);
  g_assert_false (evcp_central_registry_apply_ticket (f->registry, cp, &t1));
  evcp_central_registry_apply_state (f->registry, cp, "STOPPED", 6, KAFKA);
  g_assert_cmpuint (stats->duplicates, ==, 2);
}

static void
apply_json (Fixture *f, const gchar *topic, const gchar *json)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;

  g_assert_true (json_parser_load_from_data (parser, json, -1, &error));
  g_assert_no_error (error);
  evcp_central_kafka_mapping_apply (f->registry, topic, json_node_get_object (json_parser_get_root (parser)));
}

/* Kafka's records, mapped onto the same registry. */
static void
test_kafka_mapping (Fixture *f, gconstpointer data)
{
  const gchar *sessions = EVCP_CENTRAL_KAFKA_SESSIONS_TOPIC;
  const gchar *monitoring = EVCP_CENTRAL_KAFKA_MONITORING_TOPIC;
  const EvcpCentralRegistryStats *stats = evcp_central_registry_get_stats (f->registry);
  EvcpCentralCp *cp;

  apply_json (f, sessions, "{\"kind\":\"SESSION_STARTED\",\"data\":{\"cp_id\":\"CP-K\",\"session_id\":\"s1\","
                           "\"user_id\":\"u1\",\"seq\":3}}");
  cp = evcp_central_registry_lookup (f->registry, "CP-K");
  g_assert_nonnull (cp);
  g_assert_cmpstr (cp->session_id, ==, "s1");
  g_assert_cmpstr (evcp_central_cp_displayed_state (cp), ==, "SUPPLYING");

  apply_json (f, sessions, "{\"kind\":\"SESSION_ENDED\",\"data\":{\"cp_id\":\"CP-K\",\"session_id\":\"s1\","
                           "\"user_id\":\"u1\",\"kwh\":\"2.5\",\"eur\":1,\"reason\":\"STOPPED\",\"seq\":4}}");
  g_assert_null (cp->session_id);
  g_assert_cmpuint (cp->tickets, ==, 1);
  g_assert_cmpstr (evcp_central_cp_displayed_state (cp), ==, "STOPPED");
  /* delivered again: once */
  apply_json (f, sessions, "{\"kind\":\"SESSION_ENDED\",\"data\":{\"cp_id\":\"CP-K\",\"session_id\":\"s1\","
                           "\"user_id\":\"u1\",\"kwh\":\"2.5\",\"eur\":1,\"reason\":\"STOPPED\",\"seq\":4}}");
  g_assert_cmpuint (cp->tickets, ==, 1);
  g_assert_cmpuint (stats->duplicates, ==, 1);

  apply_json (f, monitoring, "{\"kind\":\"MONITORING_EVENT\",\"data\":{\"id\":\"CP-K\",\"status\":\"KO\","
                             "\"previous_status\":\"OK\",\"reason\":\"hot\",\"seq\":1}}");
  g_assert_cmpstr (evcp_central_cp_displayed_state (cp), ==, "FAULT");
  g_assert_cmpstr (cp->fault_reason, ==, "hot");

  /* unusable: skipped, nothing created */
  apply_json (f, sessions, "{\"kind\":\"SESSION_STARTED\",\"data\":{\"cp_id\":\"A#B\",\"session_id\":\"s\"}}");
  apply_json (f, monitoring, "{\"kind\":\"MONITORING_EVENT\",\"data\":{\"id\":\"CP-M\",\"status\":\"MAYBE\"}}");
  apply_json (f, sessions, "{\"data\":{\"cp_id\":\"CP-N\"}}");
  g_assert_null (evcp_central_registry_lookup (f->registry, "A#B"));
  g_assert_null (evcp_central_registry_lookup (f->registry, "CP-M"));
  g_assert_null (evcp_central_registry_lookup (f->registry, "CP-N"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, func) \
  g_test_add ("/central-registry/" path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("state-dedup", test_state_dedup);
  ADD ("gaps", test_gaps);
  ADD ("gaps-with-kafka", test_gaps_with_kafka);
  ADD ("ticket-once", test_ticket_once);
  ADD ("fault", test_fault);
  ADD ("reload", test_reload);
  ADD ("kafka-mapping", test_kafka_mapping);
  return g_test_run ();
}
