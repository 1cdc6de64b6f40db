/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* evcp-central as a real process, against fake Engines and Monitors that
 * speak the socket protocol with the frame codec: AUTH, PING, the records
 * and their deduplication by (cp, role, seq), gaps, NACKs, the commands to
 * the Engine with their resends, the database, SIGTERM and the panel. */
#include "evcp-build-config.h"

#include <signal.h>
#include <string.h>

#include <glib/gstdio.h>
#include <sqlite3.h>

#include "evcp-central-client.h"
#include "evcp-outbox.h"
#include "evcp-test-central.h"
#include "evcp-test-util.h"

#define ACK_TIMEOUT_MS 300

typedef struct {
  gchar           *tmpdir;
  gchar           *db_path;
  EvcpTestCentral *central;
} Fixture;

static const gchar *const fast_acks[] = { "--ack-timeout=300", NULL };

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  f->tmpdir = g_dir_make_tmp ("evcp-test-central-XXXXXX", &error);
  g_assert_no_error (error);
  f->db_path = g_build_filename (f->tmpdir, "central.db", NULL);
  if (data != NULL)
    f->central = evcp_test_central_start (f->db_path, fast_acks);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_autoptr(GDir) dir = g_dir_open (f->tmpdir, 0, NULL);
  const gchar *name;

  g_clear_pointer (&f->central, evcp_test_central_free);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree gchar *path = g_build_filename (f->tmpdir, name, NULL);

      if (g_test_failed () && g_str_has_suffix (name, ".log"))
        {
          g_autofree gchar *log = NULL;

          if (g_file_get_contents (path, &log, NULL, NULL))
            g_test_message ("%s:\n%s", name, log);
        }
      g_unlink (path);
    }
  g_rmdir (f->tmpdir);
  g_free (f->tmpdir);
  g_free (f->db_path);
}

static gint64
cp_int (EvcpTestCentral *central, const gchar *cp_id, const gchar *member)
{
  g_autoptr(JsonObject) cp = evcp_test_central_get_cp (central, cp_id);

  g_assert_nonnull (cp);
  return json_object_get_int_member (cp, member);
}

static gchar *
cp_string (EvcpTestCentral *central, const gchar *cp_id, const gchar *member)
{
  g_autoptr(JsonObject) cp = evcp_test_central_get_cp (central, cp_id);

  g_assert_nonnull (cp);
  if (json_object_get_null_member (cp, member))
    return NULL;
  return g_strdup (json_object_get_string_member (cp, member));
}

static gboolean
cp_bool (EvcpTestCentral *central, const gchar *cp_id, const gchar *member)
{
  g_autoptr(JsonObject) cp = evcp_test_central_get_cp (central, cp_id);

  g_assert_nonnull (cp);
  return json_object_get_boolean_member (cp, member);
}

static void
assert_state (EvcpTestCentral *central, const gchar *cp_id, const gchar *state)
{
  g_autofree gchar *actual = cp_string (central, cp_id, "state");

  g_assert_cmpstr (actual, ==, state);
}

/* A query on the database file, read-only, for one integer. */
static gint64
db_count (const gchar *path, const gchar *sql)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  gint64 value;

  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  if (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL) != SQLITE_OK)
    g_error ("%s: %s", sql, sqlite3_errmsg (db));
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  value = sqlite3_column_int64 (stmt, 0);
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return value;
}

/* ---- AUTH, PING, unknown verbs ---------------------------------------------- */

static void
expect_auth_ko (EvcpTestPeer *peer, const gchar *auth, const gchar *expected)
{
  g_autofree gchar *answer = NULL;

  evcp_test_peer_send_acked (peer, auth);
  answer = evcp_test_peer_expect_frame (peer);
  g_assert_cmpstr (answer, ==, expected);
}

static void
test_auth_and_ping (Fixture *f, gconstpointer data)
{
  g_autoptr(EvcpTestPeer) engine = evcp_test_peer_connect (evcp_test_central_get_port (f->central));
  g_autoptr(EvcpTestPeer) stranger = evcp_test_peer_connect (evcp_test_central_get_port (f->central));
  g_autofree gchar *pong = NULL;
  g_autofree gchar *location = NULL;

  /* invalid AUTHs: each ACKed, then answered AUTH_KO#<cp>#<reason> */
  expect_auth_ko (engine, "AUTH#CP-A1#ENGINE#Madrid#cheap", "AUTH_KO#CP-A1#bad price");
  expect_auth_ko (engine, "AUTH#CP-A1#ENGINE#Madrid#-1", "AUTH_KO#CP-A1#bad price");
  expect_auth_ko (engine, "AUTH#CP-A1#ENGINE", "AUTH_KO#CP-A1#wrong field count");
  expect_auth_ko (engine, "AUTH#CP-A1#DRIVER#Madrid#0.30", "AUTH_KO#CP-A1#bad role");
  expect_auth_ko (engine, "AUTH##ENGINE#Madrid#0.30", "AUTH_KO##empty cp id");
  g_assert_null (evcp_test_central_get_cp (f->central, "CP-A1"));

  /* a valid one; a field beyond those known is ignored */
  evcp_test_peer_send_acked (engine, "AUTH#CP-A1#ENGINE#Madrid Centro#0.35#future-field");
  pong = evcp_test_peer_expect_frame (engine);
  g_assert_cmpstr (pong, ==, "AUTH_OK#CP-A1");
  g_clear_pointer (&pong, g_free);
  location = cp_string (f->central, "CP-A1", "location");
  g_assert_cmpstr (location, ==, "Madrid Centro");
  g_assert_true (cp_bool (f->central, "CP-A1", "engine"));
  g_assert_false (cp_bool (f->central, "CP-A1", "monitor"));

  /* an unknown verb is ACKed and ignored: the next answer is PING's */
  evcp_test_peer_send_acked (engine, "HELLO#CP-A1#from the future");
  evcp_test_peer_send_acked (engine, "PING#CP-A1");
  pong = evcp_test_peer_expect_frame (engine);
  g_assert_cmpstr (pong, ==, "PONG#CP-A1");
  g_assert_true (evcp_test_central_log_contains (f->central, "unknown verb “HELLO”"));

  /* records before AUTH, or for another CP, are ACKed and not applied */
  evcp_test_peer_send_acked (stranger, "STATE#CP-A2#ACTIVE#1");
  g_assert_null (evcp_test_central_get_cp (f->central, "CP-A2"));
  evcp_test_peer_send_acked (engine, "STATE#CP-A2#ACTIVE#1");
  g_assert_null (evcp_test_central_get_cp (f->central, "CP-A2"));
  /* and a Monitor's verb from the Engine */
  evcp_test_peer_send_acked (engine, "FAULT#CP-A1#nonsense#1");
  assert_state (f->central, "CP-A1", "UNKNOWN");
  g_assert_cmpuint (evcp_test_peer_pending (engine), ==, 0);
  g_assert_cmpuint (evcp_test_peer_pending (stranger), ==, 0);
}

/* ---- records, deduplication, gaps, the database ---------------------------- */

static void
test_records_and_dedup (Fixture *f, gconstpointer data)
{
  g_autoptr(EvcpTestPeer) engine = evcp_test_peer_connect (evcp_test_central_get_port (f->central));
  g_autoptr(EvcpTestPeer) monitor = evcp_test_peer_connect (evcp_test_central_get_port (f->central));
  g_autoptr(JsonObject) cp = NULL;
  g_autofree gchar *state = NULL;
  JsonObject *session;

  evcp_test_peer_auth (engine, "CP-R1", "ENGINE");
  evcp_test_peer_auth (monitor, "CP-R1", "MONITOR");

  evcp_test_peer_send_acked (engine, "STATE#CP-R1#ACTIVE#1");
  assert_state (f->central, "CP-R1", "ACTIVE");
  evcp_test_peer_send_acked (engine, "STATE#CP-R1#SUPPLYING#2");
  evcp_test_peer_send_acked (engine, "SUPPLY#CP-R1#S-1#driver-7#1.250#0.44");
  cp = evcp_test_central_get_cp (f->central, "CP-R1");
  g_assert_cmpstr (json_object_get_string_member (cp, "state"), ==, "SUPPLYING");
  session = json_object_get_object_member (cp, "session");
  g_assert_nonnull (session);
  g_assert_cmpstr (json_object_get_string_member (session, "id"), ==, "S-1");
  g_assert_cmpstr (json_object_get_string_member (session, "driver"), ==, "driver-7");
  g_assert_cmpfloat_with_epsilon (json_object_get_double_member (session, "kwh"), 1.25, 1e-9);
  g_assert_cmpfloat_with_epsilon (json_object_get_double_member (session, "eur"), 0.44, 1e-9);
  g_clear_pointer (&cp, json_object_unref);

  /* the ticket, then the same frame again (a resend after a lost ACK) */
  evcp_test_peer_send_acked (engine, "TICKET#CP-R1#S-1#driver-7#2.500#0.88#UNPLUGGED#3");
  evcp_test_peer_send_acked (engine, "TICKET#CP-R1#S-1#driver-7#2.500#0.88#UNPLUGGED#3");
  /* late telemetry of the ended session does not bring it back */
  evcp_test_peer_send_acked (engine, "SUPPLY#CP-R1#S-1#driver-7#2.400#0.84");
  evcp_test_peer_send_acked (engine, "STATE#CP-R1#ACTIVE#4");
  g_assert_cmpint (cp_int (f->central, "CP-R1", "tickets"), ==, 1);
  g_assert_cmpint (evcp_test_central_get_stat (f->central, "duplicates"), ==, 1);
  cp = evcp_test_central_get_cp (f->central, "CP-R1");
  g_assert_true (json_object_get_null_member (cp, "session"));
  g_clear_pointer (&cp, json_object_unref);

  /* a gap: 5 and 6 never come */
  g_assert_cmpint (evcp_test_central_get_stat (f->central, "gaps"), ==, 0);
  evcp_test_peer_send_acked (engine, "STATE#CP-R1#STOPPED#7");
  g_assert_cmpint (evcp_test_central_get_stat (f->central, "gaps"), ==, 1);
  g_assert_true (evcp_test_central_wait_log (f->central, "gap in the seqs of the ENGINE: 5 to 6 never arrived",
                                             EVCP_TEST_CENTRAL_WAIT_MS));
  assert_state (f->central, "CP-R1", "STOPPED");

  /* the same session's ticket with another seq: kept once all the same */
  evcp_test_peer_send_acked (engine, "TICKET#CP-R1#S-1#driver-7#2.500#0.88#UNPLUGGED#8");
  g_assert_cmpint (cp_int (f->central, "CP-R1", "tickets"), ==, 1);
  g_assert_cmpint (evcp_test_central_get_stat (f->central, "duplicate_tickets"), ==, 1);

  /* the Monitor: FAULT (and its resend), then RECOVERED; the seqs of the
   * Monitor are its own counter */
  evcp_test_peer_send_acked (monitor, "FAULT#CP-R1#engine does not answer#1");
  assert_state (f->central, "CP-R1", "FAULT");
  state = cp_string (f->central, "CP-R1", "fault_reason");
  g_assert_cmpstr (state, ==, "engine does not answer");
  evcp_test_peer_send_acked (monitor, "FAULT#CP-R1#engine does not answer#1");
  g_assert_cmpint (evcp_test_central_get_stat (f->central, "duplicates"), ==, 2);
  evcp_test_peer_send_acked (monitor, "RECOVERED#CP-R1#2");
  assert_state (f->central, "CP-R1", "STOPPED");
  g_assert_cmpint (evcp_test_central_get_stat (f->central, "gaps"), ==, 1);

  /* an older STATE that arrives late is recorded, not applied */
  evcp_test_peer_send_acked (engine, "STATE#CP-R1#SUPPLYING#5");
  assert_state (f->central, "CP-R1", "STOPPED");

  /* quit: EOT to both, exit 0, then the file as it was left */
  g_assert_cmpint (evcp_test_central_quit (f->central), ==, 0);
  evcp_test_peer_expect_eot (engine);
  evcp_test_peer_expect_eot (monitor);
  g_assert_true (evcp_test_peer_wait_closed (engine, EVCP_TEST_CENTRAL_WAIT_MS));
  g_assert_true (evcp_test_peer_wait_closed (monitor, EVCP_TEST_CENTRAL_WAIT_MS));

  g_assert_cmpint (db_count (f->db_path, "SELECT COUNT(*) FROM tickets"), ==, 1);
  g_assert_cmpint (db_count (f->db_path,
                             "SELECT COUNT(*) FROM tickets WHERE session_id = 'S-1' AND cp_id = 'CP-R1' "
                             "AND driver = 'driver-7' AND kwh = 2.5 AND eur = 0.88 AND reason = 'UNPLUGGED' "
                             "AND seq = 3 AND source = 'link'"), ==, 1);
  /* STATE 1, 2, 4, 7, 5; FAULT 1; RECOVERED 2 */
  g_assert_cmpint (db_count (f->db_path, "SELECT COUNT(*) FROM events"), ==, 7);
  g_assert_cmpint (db_count (f->db_path, "SELECT COUNT(*) FROM events WHERE kind = 'FAULT' AND seq = 1 "
                                         "AND role = 'MONITOR'"), ==, 1);
  g_assert_cmpint (db_count (f->db_path, "SELECT COUNT(*) FROM seqs WHERE role = 'ENGINE'"), ==, 7);
  g_assert_cmpint (db_count (f->db_path, "SELECT MAX(seq) FROM seqs WHERE role = 'ENGINE'"), ==, 8);
  g_assert_cmpint (db_count (f->db_path, "SELECT COUNT(*) FROM cps WHERE id = 'CP-R1' AND state = 'STOPPED' "
                                         "AND location = 'Test bench' AND price_eur_kwh = 0.3"), ==, 1);
  g_clear_pointer (&f->central, evcp_test_central_free);
  g_clear_pointer (&engine, evcp_test_peer_free);

  /* a new Central on the same file: the registry comes back (disconnected),
   * a frame re-sent across the restart is still a duplicate, and the seqs
   * go on without a gap */
  f->central = evcp_test_central_start (f->db_path, fast_acks);
  g_assert_false (cp_bool (f->central, "CP-R1", "engine"));
  assert_state (f->central, "CP-R1", "STOPPED");
  g_assert_cmpint (cp_int (f->central, "CP-R1", "tickets"), ==, 1);
  engine = evcp_test_peer_connect (evcp_test_central_get_port (f->central));
  evcp_test_peer_auth (engine, "CP-R1", "ENGINE");
  evcp_test_peer_send_acked (engine, "TICKET#CP-R1#S-1#driver-7#2.500#0.88#UNPLUGGED#3");
  evcp_test_peer_send_acked (engine, "STATE#CP-R1#ACTIVE#9");
  g_assert_cmpint (evcp_test_central_get_stat (f->central, "duplicates"), ==, 1);
  g_assert_cmpint (evcp_test_central_get_stat (f->central, "gaps"), ==, 0);
  assert_state (f->central, "CP-R1", "ACTIVE");
  g_assert_cmpint (evcp_test_central_quit (f->central), ==, 0);
  g_assert_cmpint (db_count (f->db_path, "SELECT COUNT(*) FROM tickets"), ==, 1);
}

/* ---- commands to the Engine ------------------------------------------------- */

typedef struct {
  EvcpTestPeer *peer;
  guint         count;
} PendingWait;

static gboolean
pending_at_least (gpointer data)
{
  PendingWait *wait = data;

  return evcp_test_peer_pending (wait->peer) >= wait->count;
}

static gboolean
event_or_closed (gpointer data)
{
  return evcp_test_peer_pending (data) > 0 || evcp_test_peer_is_closed (data);
}

static void
test_commands (Fixture *f, gconstpointer data)
{
  g_autoptr(EvcpTestPeer) engine = evcp_test_peer_connect (evcp_test_central_get_port (f->central));
  g_autofree gchar *answer = NULL;
  g_autofree gchar *frame = NULL;
  g_autofree gchar *expected = NULL;
  PendingWait more = { engine, 1 };
  const gchar *session;
  gint64 start, first = 0, last = 0;
  guint sends = 0;

  evcp_test_peer_auth (engine, "CP-C1", "ENGINE");

  /* authorize: a session id is generated; the frame reaches the Engine once */
  answer = evcp_test_central_command (f->central, "authorize CP-C1 driver-3 11 120");
  g_assert_true (g_str_has_prefix (answer, "OK authorize CP-C1 "));
  session = answer + strlen ("OK authorize CP-C1 ");
  g_assert_cmpuint (strlen (session), >, 0);
  frame = evcp_test_peer_expect_frame (engine);
  expected = g_strdup_printf ("AUTHORIZE#CP-C1#driver-3#%s#11#120", session);
  g_assert_cmpstr (frame, ==, expected);
  /* ACKed (auto): not sent again within three ACK timeouts */
  g_assert_false (evcp_test_wait_until (NULL, pending_at_least, &more, 3 * ACK_TIMEOUT_MS));
  g_clear_pointer (&answer, g_free);
  g_clear_pointer (&frame, g_free);

  answer = evcp_test_central_command (f->central, "stop CP-C1");
  g_assert_cmpstr (answer, ==, "OK stop CP-C1");
  frame = evcp_test_peer_expect_frame (engine);
  g_assert_cmpstr (frame, ==, "STOP#CP-C1");
  g_clear_pointer (&answer, g_free);
  g_clear_pointer (&frame, g_free);

  answer = evcp_test_central_command (f->central, "resume all");
  g_assert_cmpstr (answer, ==, "OK resume CP-C1");
  frame = evcp_test_peer_expect_frame (engine);
  g_assert_cmpstr (frame, ==, "RESUME#CP-C1");
  g_clear_pointer (&answer, g_free);
  g_clear_pointer (&frame, g_free);

  /* errors */
  answer = evcp_test_central_command (f->central, "stop CP-NOPE");
  g_assert_true (g_str_has_prefix (answer, "ERR "));
  g_clear_pointer (&answer, g_free);
  answer = evcp_test_central_command (f->central, "authorize CP-C1 driver-3 lots 120");
  g_assert_true (g_str_has_prefix (answer, "ERR "));
  g_clear_pointer (&answer, g_free);
  answer = evcp_test_central_command (f->central, "authorize CP-C1 driver-3 11 0");
  g_assert_true (g_str_has_prefix (answer, "ERR "));
  g_clear_pointer (&answer, g_free);
  answer = evcp_test_central_command (f->central, "authorize CP-C1 dri#ver 11 60");
  g_assert_true (g_str_has_prefix (answer, "ERR "));
  g_clear_pointer (&answer, g_free);
  answer = evcp_test_central_command (f->central, "launch rockets");
  g_assert_true (g_str_has_prefix (answer, "ERR "));
  g_clear_pointer (&answer, g_free);
  g_assert_cmpuint (evcp_test_peer_pending (engine), ==, 0);

  /* a NACK: the same frame again at once, then the ACK ends it */
  evcp_test_peer_set_auto_ack (engine, FALSE);
  answer = evcp_test_central_command (f->central, "stop CP-C1");
  g_clear_pointer (&answer, g_free);
  frame = evcp_test_peer_expect_frame (engine);
  g_assert_cmpstr (frame, ==, "STOP#CP-C1");
  g_clear_pointer (&frame, g_free);
  start = g_get_monotonic_time ();
  evcp_test_peer_send_raw (engine, (const guint8[]) { EVCP_FRAME_NACK }, 1);
  frame = evcp_test_peer_expect_frame (engine);
  g_assert_cmpstr (frame, ==, "STOP#CP-C1");
  g_clear_pointer (&frame, g_free);
  g_assert_cmpint (g_get_monotonic_time () - start, <, ACK_TIMEOUT_MS * 1000);
  evcp_test_peer_send_raw (engine, (const guint8[]) { EVCP_FRAME_ACK }, 1);
  g_assert_false (evcp_test_wait_until (NULL, pending_at_least, &more, 2 * ACK_TIMEOUT_MS));

  /* silence: sent 1 + 3 times, one ACK timeout apart, then the link is
   * treated as broken and closed */
  answer = evcp_test_central_command (f->central, "resume CP-C1");
  g_assert_cmpstr (answer, ==, "OK resume CP-C1");
  g_clear_pointer (&answer, g_free);
  for (;;)
    {
      g_autoptr(EvcpTestPeerEvent) event = NULL;

      g_assert_true (evcp_test_wait_until (NULL, event_or_closed, engine, EVCP_TEST_CENTRAL_WAIT_MS));
      if (evcp_test_peer_pending (engine) == 0)
        break;  /* closed, and every event read */
      event = evcp_test_peer_next (engine, 0);
      g_assert_cmpint (event->type, ==, EVCP_FRAME_EVENT_FRAME);
      g_assert_cmpstr (event->data, ==, "RESUME#CP-C1");
      if (sends++ == 0)
        first = event->time;
      last = event->time;
    }
  g_assert_cmpuint (sends, ==, 4);
  g_assert_true (evcp_test_peer_is_closed (engine));
  g_test_message ("4 sends over %" G_GINT64_FORMAT " ms (ACK timeout %d ms)",
                  (last - first) / 1000, ACK_TIMEOUT_MS);
  g_assert_cmpint (last - first, >=, 3 * ACK_TIMEOUT_MS * 1000 * 9 / 10);
  g_assert_false (cp_bool (f->central, "CP-C1", "engine"));
  g_assert_true (evcp_test_central_log_contains (f->central, "RESUME#CP-C1 never acknowledged"));

  /* nobody to send to any more */
  answer = evcp_test_central_command (f->central, "stop CP-C1");
  g_assert_true (g_str_has_prefix (answer, "ERR "));
  g_clear_pointer (&answer, g_free);
  answer = evcp_test_central_command (f->central, "stop all");
  g_assert_cmpstr (answer, ==, "OK stop (none)");
  g_assert_cmpint (evcp_test_central_quit (f->central), ==, 0);
}

/* ---- garbage ---------------------------------------------------------------- */

static void
test_garbage (Fixture *f, gconstpointer data)
{
  g_autoptr(EvcpTestPeer) engine = evcp_test_peer_connect (evcp_test_central_get_port (f->central));
  g_autofree gchar *too_long = NULL;
  g_autofree gchar *pong = NULL;
  const guint8 bad_lrc[] = { EVCP_FRAME_STX, 'P', 'I', 'N', 'G', EVCP_FRAME_ETX, 0x55 };
  const guint8 empty[] = { EVCP_FRAME_STX, EVCP_FRAME_ETX, 0x00 };
  GString *big = g_string_new (NULL);

  evcp_test_peer_auth (engine, "CP-G1", "ENGINE");

  evcp_test_peer_send_raw (engine, "hello central\r\n", 15);
  evcp_test_peer_expect_nack (engine);
  evcp_test_peer_send_raw (engine, bad_lrc, sizeof bad_lrc);
  evcp_test_peer_expect_nack (engine);
  evcp_test_peer_send_raw (engine, empty, sizeof empty);
  evcp_test_peer_expect_nack (engine);
  g_string_append_c (big, EVCP_FRAME_STX);
  for (guint i = 0; i < EVCP_FRAME_MAX_DATA + 10; i++)
    g_string_append_c (big, 'x');
  g_string_append_c (big, EVCP_FRAME_ETX);
  g_string_append_c (big, 0);
  too_long = g_string_free (big, FALSE);
  evcp_test_peer_send_raw (engine, too_long, EVCP_FRAME_MAX_DATA + 13);
  evcp_test_peer_expect_nack (engine);

  /* the link still works */
  evcp_test_peer_send_acked (engine, "PING#CP-G1");
  pong = evcp_test_peer_expect_frame (engine);
  g_assert_cmpstr (pong, ==, "PONG#CP-G1");
  g_assert_cmpint (evcp_test_central_get_stat (f->central, "nacked"), ==, 4);
  g_assert_cmpuint (evcp_test_peer_pending (engine), ==, 0);
}

/* ---- SIGTERM ---------------------------------------------------------------- */

static void
test_sigterm (Fixture *f, gconstpointer data)
{
  g_autoptr(EvcpTestPeer) engine = evcp_test_peer_connect (evcp_test_central_get_port (f->central));
  g_autoptr(EvcpTestPeer) monitor = evcp_test_peer_connect (evcp_test_central_get_port (f->central));
  g_autoptr(EvcpTestPeer) anonymous = evcp_test_peer_connect (evcp_test_central_get_port (f->central));
  gint64 start;

  evcp_test_peer_auth (engine, "CP-T1", "ENGINE");
  evcp_test_peer_auth (monitor, "CP-T1", "MONITOR");
  evcp_test_peer_send_acked (engine, "TICKET#CP-T1#S-9#d#1#0.3#COMPLETED#1");

  start = g_get_monotonic_time ();
  g_subprocess_send_signal (evcp_test_central_get_subprocess (f->central), SIGTERM);
  evcp_test_peer_expect_eot (engine);
  evcp_test_peer_expect_eot (monitor);
  evcp_test_peer_expect_eot (anonymous);
  g_assert_cmpint (evcp_test_central_wait_exit (f->central, EVCP_TEST_CENTRAL_WAIT_MS), ==, 0);
  g_test_message ("SIGTERM to exit: %" G_GINT64_FORMAT " ms", (g_get_monotonic_time () - start) / 1000);
  g_assert_true (evcp_test_peer_wait_closed (engine, EVCP_TEST_CENTRAL_WAIT_MS));
  g_assert_true (evcp_test_central_log_contains (f->central, "Stopped"));
  g_assert_cmpint (db_count (f->db_path, "SELECT COUNT(*) FROM tickets"), ==, 1);
}

/* ---- with the CP side of evcp itself ------------------------------------------ */

typedef struct {
  EvcpCentralClient *client;
  EvcpOutbox        *outbox;
  GPtrArray         *commands;   /* of gchar* "AUTHORIZE#…" */
} Interop;

static void
on_command (EvcpCentralClient *client, GStrv fields, gpointer user_data)
{
  Interop *interop = user_data;

  g_ptr_array_add (interop->commands, g_strjoinv ("#", fields));
}

static gboolean
client_ready (gpointer data)
{
  return evcp_central_client_is_ready (((Interop *) data)->client);
}

static gboolean
outbox_delivered (gpointer data)
{
  return evcp_outbox_get_length (((Interop *) data)->outbox, EVCP_OUTBOX_CENTRAL) == 0;
}

static gboolean
got_commands (gpointer data)
{
  return ((Interop *) data)->commands->len >= 2;
}

typedef struct {
  EvcpTestCentral *central;
  const gchar     *cp_id;
} EngineWait;

static gboolean
engine_gone (gpointer data)
{
  EngineWait *wait = data;
  g_autoptr(JsonObject) cp = evcp_test_central_get_cp (wait->central, wait->cp_id);

  return !json_object_get_boolean_member (cp, "engine");
}

/* EvcpCentralClient and EvcpOutbox (what the Engine and the Monitor use)
 * against evcp-central: records delivered once each, in order, best-effort
 * SUPPLY, commands both ways, EOT when the client stops. */
static void
test_with_central_client (Fixture *f, gconstpointer data)
{
  g_autofree gchar *outbox_path = g_build_filename (f->tmpdir, "engine-outbox.json", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(EvcpOutbox) outbox = evcp_outbox_new (outbox_path, &error);
  g_autoptr(EvcpCentralClient) client = NULL;
  g_autoptr(GPtrArray) commands = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(JsonObject) cp = NULL;
  g_autofree gchar *answer = NULL;
  Interop interop = { NULL, outbox, commands };
  EngineWait gone = { f->central, "CP-I1" };
  const gchar *active[] = { "STATE", "CP-I1", "ACTIVE", NULL };
  const gchar *supplying[] = { "STATE", "CP-I1", "SUPPLYING", NULL };
  const gchar *supply[] = { "SUPPLY", "CP-I1", "S-I1", "u-i", "0.750", "0.23", NULL };
  const gchar *ticket[] = { "TICKET", "CP-I1", "S-I1", "u-i", "1.500", "0.45", "COMPLETED", NULL };

  g_assert_no_error (error);
  client = evcp_central_client_new ("127.0.0.1", evcp_test_central_get_port (f->central),
                                    EVCP_CENTRAL_ROLE_ENGINE, "CP-I1", "Interop bench", 0.30, outbox);
  interop.client = client;
  evcp_central_client_set_timing (client, ACK_TIMEOUT_MS, 0, 50, 500);
  g_signal_connect (client, "command", G_CALLBACK (on_command), &interop);
  evcp_central_client_start (client);
  g_assert_true (evcp_test_wait_until (NULL, client_ready, &interop, EVCP_TEST_CENTRAL_WAIT_MS));

  g_assert_nonnull (evcp_outbox_append (outbox, active, NULL, NULL, NULL, &error));
  g_assert_nonnull (evcp_outbox_append (outbox, supplying, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (evcp_test_wait_until (NULL, outbox_delivered, &interop, EVCP_TEST_CENTRAL_WAIT_MS));
  g_assert_true (evcp_central_client_send (client, supply));
  g_assert_nonnull (evcp_outbox_append (outbox, ticket, NULL, NULL, NULL, &error));
  g_assert_true (evcp_test_wait_until (NULL, outbox_delivered, &interop, EVCP_TEST_CENTRAL_WAIT_MS));

  cp = evcp_test_central_get_cp (f->central, "CP-I1");
  g_assert_nonnull (cp);
  g_assert_cmpstr (json_object_get_string_member (cp, "location"), ==, "Interop bench");
  g_assert_cmpstr (json_object_get_string_member (cp, "state"), ==, "SUPPLYING");
  g_assert_cmpint (json_object_get_int_member (cp, "tickets"), ==, 1);
  g_assert_cmpint (evcp_test_central_get_stat (f->central, "duplicates"), ==, 0);
  g_assert_cmpint (evcp_test_central_get_stat (f->central, "gaps"), ==, 0);

  answer = evcp_test_central_command (f->central, "authorize CP-I1 u-j 7.4 90");
  g_assert_true (g_str_has_prefix (answer, "OK authorize CP-I1 "));
  g_clear_pointer (&answer, g_free);
  answer = evcp_test_central_command (f->central, "stop CP-I1");
  g_assert_cmpstr (answer, ==, "OK stop CP-I1");
  g_assert_true (evcp_test_wait_until (NULL, got_commands, &interop, EVCP_TEST_CENTRAL_WAIT_MS));
  g_assert_true (g_str_has_prefix (g_ptr_array_index (commands, 0), "AUTHORIZE#CP-I1#u-j#"));
  g_assert_true (g_str_has_suffix (g_ptr_array_index (commands, 0), "#7.4#90"));
  g_assert_cmpstr (g_ptr_array_index (commands, 1), ==, "STOP#CP-I1");
  g_assert_true (evcp_test_central_wait_log (f->central, "STOP#CP-I1 acknowledged", EVCP_TEST_CENTRAL_WAIT_MS));

  evcp_central_client_stop (client);
  g_assert_true (evcp_test_wait_until (NULL, engine_gone, &gone, EVCP_TEST_CENTRAL_WAIT_MS));
  g_assert_cmpint (evcp_test_central_quit (f->central), ==, 0);
  g_assert_cmpint (db_count (f->db_path, "SELECT COUNT(*) FROM seqs WHERE cp_id = 'CP-I1'"), ==, 3);
  g_assert_cmpint (db_count (f->db_path, "SELECT seq FROM tickets WHERE session_id = 'S-I1'"), ==, 3);
}

/* ---- the panel and the command line ---------------------------------------- */

typedef struct {
  const gchar *path;
  const gchar *needle;
} FileWait;

static gboolean
file_contains (gpointer data)
{
  FileWait *wait = data;
  g_autofree gchar *contents = NULL;

  return g_file_get_contents (wait->path, &contents, NULL, NULL) && strstr (contents, wait->needle) != NULL;
}

static void
test_panel (Fixture *f, gconstpointer data)
{
  g_autoptr(EvcpTestPeer) engine = NULL;
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GSubprocessLauncher) launcher = evcp_test_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE);
  g_autoptr(GError) error = NULL;
  g_autofree gchar *out_path = g_build_filename (f->tmpdir, "panel.out", NULL);
  g_autofree gchar *err_path = g_build_filename (f->tmpdir, "panel.log", NULL);
  g_autofree gchar *contents = NULL;
  FileWait listening = { out_path, "\n" };
  FileWait green = { out_path, "\033[32m CP-P1" };
  FileWait session = { out_path, "driver-p  3.210 kWh  0.96 EUR" };
  FileWait orange = { out_path, "\033[38;5;208m CP-P1" };
  FileWait quit = { out_path, "\n OK quit" };
  guint64 port = 0;
  GOutputStream *in;

  g_subprocess_launcher_set_stdout_file_path (launcher, out_path);
  g_subprocess_launcher_set_stderr_file_path (launcher, err_path);
  g_subprocess_launcher_unsetenv (launcher, "KAFKA_BROKERS");
  proc = evcp_test_launcher_spawn (launcher, &error, g_getenv ("EVCP_CENTRAL"), "--port=0", "--panel", "--db",
                                   f->db_path, NULL);
  g_assert_no_error (error);
  in = g_subprocess_get_stdin_pipe (proc);

  /* LISTENING comes first, then the panel */
  g_assert_true (evcp_test_wait_until (NULL, file_contains, &listening, EVCP_TEST_CENTRAL_WAIT_MS));
  g_assert_true (g_file_get_contents (out_path, &contents, NULL, NULL));
  *strchr (contents, '\n') = '\0';
  g_assert_true (g_str_has_prefix (contents, "LISTENING "));
  g_assert_true (g_ascii_string_to_unsigned (contents + 10, 10, 1, G_MAXUINT16, &port, NULL));
  g_clear_pointer (&contents, g_free);

  engine = evcp_test_peer_connect ((guint16) port);
  evcp_test_peer_auth (engine, "CP-P1", "ENGINE");
  evcp_test_peer_send_acked (engine, "STATE#CP-P1#SUPPLYING#1");
  evcp_test_peer_send_acked (engine, "SUPPLY#CP-P1#S-P#driver-p#3.210#0.96");
  /* green, with the driver, kWh and EUR of the session */
  g_assert_true (evcp_test_wait_until (NULL, file_contains, &green, EVCP_TEST_CENTRAL_WAIT_MS));
  g_assert_true (evcp_test_wait_until (NULL, file_contains, &session, EVCP_TEST_CENTRAL_WAIT_MS));
  /* orange when stopped */
  evcp_test_peer_send_acked (engine, "TICKET#CP-P1#S-P#driver-p#3.5#1.05#STOPPED#2");
  evcp_test_peer_send_acked (engine, "STATE#CP-P1#STOPPED#3");
  g_assert_true (evcp_test_wait_until (NULL, file_contains, &orange, EVCP_TEST_CENTRAL_WAIT_MS));

  g_assert_true (g_output_stream_write_all (in, "quit\n", 5, NULL, NULL, &error));
  g_assert_no_error (error);
  evcp_test_peer_expect_eot (engine);
  g_assert_true (g_subprocess_wait_check (proc, NULL, &error));
  g_assert_no_error (error);
  /* the answer is shown in the panel; log lines went into it, not to stderr */
  g_assert_true (file_contains (&quit));
  g_assert_true (g_file_get_contents (out_path, &contents, NULL, NULL));
  g_assert_nonnull (strstr (contents, "CP-P1: ENGINE connected"));
  g_clear_pointer (&contents, g_free);
  g_assert_true (g_file_get_contents (err_path, &contents, NULL, NULL));
  g_assert_null (strstr (contents, "CP-P1: ENGINE connected"));
}

static void
run_central (const gchar * const *args, gint *status, gchar **out, gchar **err)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GError) error = NULL;

  g_ptr_array_add (argv, (gpointer) g_getenv ("EVCP_CENTRAL"));
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  proc = evcp_test_subprocess_newv ((const gchar * const *) argv->pdata,
                                    G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                    G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_communicate_utf8 (proc, "", NULL, out, err, &error));
  g_assert_no_error (error);
  *status = g_subprocess_get_exit_status (proc);
}

static void
test_command_line (Fixture *f, gconstpointer data)
{
  g_autofree gchar *out = NULL, *err = NULL;
  gint status;

  run_central ((const gchar *[]) { "--help", NULL }, &status, &out, &err);
  g_assert_cmpint (status, ==, 0);
  g_assert_nonnull (strstr (out, "--port"));
  g_assert_nonnull (strstr (out, "--kafka-brokers"));
  g_assert_nonnull (strstr (out, "LISTENING"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  run_central ((const gchar *[]) { "--port=70000", NULL }, &status, &out, &err);
  g_assert_cmpint (status, ==, 2);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  /* an address that is not an IP: a usage error, before anything opens */
  run_central ((const gchar *[]) { "--port=0", "--listen-address=not-an-address", "--db=:memory:",
                                   "--no-panel", NULL }, &status, &out, &err);
  g_assert_cmpint (status, ==, 2);
  g_assert_nonnull (strstr (err, "not-an-address"));
  g_assert_nonnull (strstr (err, "--help"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  /* end of standard input: a clean exit */
  run_central ((const gchar *[]) { "--port=0", "--db=:memory:", "--no-panel", NULL }, &status, &out, &err);
  g_assert_cmpint (status, ==, 0);
  g_assert_true (g_str_has_prefix (out, "LISTENING "));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/central/command-line", Fixture, NULL, fixture_set_up, test_command_line, fixture_tear_down);
  g_test_add ("/central/auth-and-ping", Fixture, "", fixture_set_up, test_auth_and_ping, fixture_tear_down);
  g_test_add ("/central/records-and-dedup", Fixture, "", fixture_set_up, test_records_and_dedup, fixture_tear_down);
  g_test_add ("/central/commands", Fixture, "", fixture_set_up, test_commands, fixture_tear_down);
  g_test_add ("/central/garbage", Fixture, "", fixture_set_up, test_garbage, fixture_tear_down);
  g_test_add ("/central/sigterm", Fixture, "", fixture_set_up, test_sigterm, fixture_tear_down);
  g_test_add ("/central/with-central-client", Fixture, "", fixture_set_up, test_with_central_client, fixture_tear_down);
  g_test_add ("/central/panel", Fixture, NULL, fixture_set_up, test_panel, fixture_tear_down);
  return g_test_run ();
}
