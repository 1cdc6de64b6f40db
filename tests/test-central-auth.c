/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A forged or replayed CP at evcp-central (issue 21 item 1): evcp-central as
 * a real process on 127.0.0.1, fake peers that speak the socket protocol,
 * and the real EvcpCentralClient. A CP with a secret must prove it
 * (CHALLENGE/PROOF, docs/protocol.md A1..A8); nothing a peer sends before
 * that is applied, and its seqs are never recorded, so the real CP's later
 * events with the same seqs are applied, not dropped as duplicates. */
#include "evcp-build-config.h"

#include <string.h>

#include <glib/gstdio.h>
#include <sqlite3.h>

#include "evcp-central-auth.h"
#include "evcp-central-client.h"
#include "evcp-outbox.h"
#include "evcp-test-central.h"
#include "evcp-test-util.h"

#define SECRET "correct horse battery staple"
#define WAIT_MS 10000

typedef struct {
  gchar           *tmpdir;
  gchar           *db_path;
  gchar           *config_path;
  EvcpTestCentral *central;
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  f->tmpdir = g_dir_make_tmp ("evcp-test-central-auth-XXXXXX", &error);
  g_assert_no_error (error);
  f->db_path = g_build_filename (f->tmpdir, "central.db", NULL);
  f->config_path = g_build_filename (f->tmpdir, "central.conf", NULL);
  g_file_set_contents (f->config_path, "[cp-secrets]\nCP-K1 = " SECRET "\n", -1, &error);
  g_assert_no_error (error);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_clear_pointer (&f->central, evcp_test_central_free);
  evcp_test_remove_tree (f->tmpdir);
  g_free (f->tmpdir);
  g_free (f->db_path);
  g_free (f->config_path);
}

static void
start_central (Fixture *f, gboolean require_secret)
{
  g_autofree gchar *config = g_strdup_printf ("--config=%s", f->config_path);
  const gchar *args[] = { "--ack-timeout=300", config, require_secret ? "--require-secret" : NULL, NULL };

  f->central = evcp_test_central_start (f->db_path, args);
}

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

static gboolean
cp_has_engine (EvcpTestCentral *central, const gchar *cp_id)
{
  g_autoptr(JsonObject) cp = evcp_test_central_get_cp (central, cp_id);

  return cp != NULL && json_object_get_boolean_member (cp, "engine");
}

static gint64
cp_tickets (EvcpTestCentral *central, const gchar *cp_id)
{
  g_autoptr(JsonObject) cp = evcp_test_central_get_cp (central, cp_id);

  return cp != NULL ? json_object_get_int_member (cp, "tickets") : -1;
}

static void
expect_frame (EvcpTestPeer *peer, const gchar *expected)
{
  g_autofree gchar *frame = evcp_test_peer_expect_frame (peer);

  g_assert_cmpstr (frame, ==, expected);
}

/* Sends AUTH with the mechanism; returns the nonce of the CHALLENGE. */
static gchar *
auth_for_challenge (EvcpTestPeer *peer, const gchar *cp_id)
{
  g_autofree gchar *auth = g_strdup_printf ("AUTH#%s#ENGINE#Test bench#0.30#%s", cp_id,
                                            EVCP_CENTRAL_AUTH_MECHANISM);
  g_autofree gchar *prefix = g_strdup_printf ("CHALLENGE#%s#", cp_id);
  g_autofree gchar *frame = NULL;

  evcp_test_peer_send_acked (peer, auth);
  frame = evcp_test_peer_expect_frame (peer);
  g_assert_true (g_str_has_prefix (frame, prefix));
  g_assert_cmpuint (strlen (frame + strlen (prefix)), ==, EVCP_CENTRAL_AUTH_NONCE_LEN);
  return g_strdup (frame + strlen (prefix));
}

/* The whole exchange with @secret; returns the PROOF frame it sent. */
static gchar *
prove (EvcpTestPeer *peer, const gchar *cp_id, const gchar *secret, const gchar *expected)
{
  g_autofree gchar *nonce = auth_for_challenge (peer, cp_id);
  g_autofree gchar *proof = evcp_central_auth_proof (secret, nonce, cp_id, "ENGINE");
  g_autofree gchar *frame = g_strdup_printf ("PROOF#%s#%s", cp_id, proof);

  evcp_test_peer_send_acked (peer, frame);
  expect_frame (peer, expected);
  return g_steal_pointer (&frame);
}

/* A forger without the secret gets AUTH_KO and nothing it sends is applied;
 * the real CP's events with the very seqs the forger used are applied. The
 * secret set by the command is kept in the database across a restart. */
static void
test_forged (Fixture *f, gconstpointer data)
{
  g_autoptr(EvcpTestPeer) forger = NULL;
  g_autoptr(EvcpTestPeer) engine = NULL;
  g_autofree gchar *answer = NULL;
  g_autofree gchar *proof = NULL;

  start_central (f, FALSE);
  answer = evcp_test_central_command (f->central, "secret CP-F1 " "s3cret-F1");
  g_assert_cmpstr (answer, ==, "OK secret CP-F1 set");
  g_assert_false (evcp_test_central_log_contains (f->central, "s3cret-F1"));

  forger = evcp_test_peer_connect (evcp_test_central_get_port (f->central));
  /* the AUTH of the contract, without proof */
  evcp_test_peer_send_acked (forger, "AUTH#CP-F1#ENGINE#Forged#0.01");
  expect_frame (forger, "AUTH_KO#CP-F1#secret required");
  evcp_test_peer_send_acked (forger, "TICKET#CP-F1#s-forged#eve#9.000#0.01#UNPLUGGED#7");
  evcp_test_peer_send_acked (forger, "STATE#CP-F1#STOPPED#8");
  /* naming the mechanism, with a guessed secret */
  g_free (prove (forger, "CP-F1", "guess", "AUTH_KO#CP-F1#bad proof"));
  evcp_test_peer_send_acked (forger, "TICKET#CP-F1#s-forged#eve#9.000#0.01#UNPLUGGED#7");
  /* a PROOF with no CHALLENGE, and one of the wrong length */
  evcp_test_peer_send_acked (forger, "PROOF#CP-F1#00");
  expect_frame (forger, "AUTH_KO#CP-F1#no challenge");
  g_free (auth_for_challenge (forger, "CP-F1"));
  evcp_test_peer_send_acked (forger, "PROOF#CP-F1#00");
  expect_frame (forger, "AUTH_KO#CP-F1#bad proof");
  g_assert_false (cp_has_engine (f->central, "CP-F1"));
  g_assert_cmpint (evcp_test_central_get_stat (f->central, "auth_refused"), ==, 4);
  g_assert_cmpint (db_count (f->db_path, "SELECT COUNT(*) FROM seqs WHERE cp_id = 'CP-F1'"), ==, 0);

  /* the real Engine, with the same seqs */
  engine = evcp_test_peer_connect (evcp_test_central_get_port (f->central));
  proof = prove (engine, "CP-F1", "s3cret-F1", "AUTH_OK#CP-F1");
  g_assert_true (cp_has_engine (f->central, "CP-F1"));
  evcp_test_peer_send_acked (engine, "TICKET#CP-F1#s-real#alice#1.000#0.30#UNPLUGGED#7");
  evcp_test_peer_send_acked (engine, "STATE#CP-F1#ACTIVE#8");
  g_assert_cmpint (cp_tickets (f->central, "CP-F1"), ==, 1);
  g_assert_cmpint (evcp_test_central_get_stat (f->central, "duplicates"), ==, 0);
  g_assert_cmpint (db_count (f->db_path, "SELECT COUNT(*) FROM tickets WHERE session_id = 's-real'"), ==, 1);
  g_assert_cmpint (db_count (f->db_path, "SELECT COUNT(*) FROM tickets WHERE session_id = 's-forged'"), ==, 0);
  g_assert_cmpint (db_count (f->db_path, "SELECT COUNT(*) FROM seqs WHERE cp_id = 'CP-F1'"), ==, 2);
  g_assert_cmpuint (evcp_test_peer_pending (forger), ==, 0);
  g_assert_false (evcp_test_central_log_contains (f->central, "s3cret-F1"));

  /* the secret is in the database: a restarted Central still asks for it */
  g_clear_pointer (&engine, evcp_test_peer_free);
  g_clear_pointer (&forger, evcp_test_peer_free);
  g_assert_cmpint (evcp_test_central_quit (f->central), ==, 0);
  g_clear_pointer (&f->central, evcp_test_central_free);
  start_central (f, FALSE);
  forger = evcp_test_peer_connect (evcp_test_central_get_port (f->central));
  evcp_test_peer_send_acked (forger, "AUTH#CP-F1#ENGINE#Forged#0.01");
  expect_frame (forger, "AUTH_KO#CP-F1#secret required");
  g_clear_pointer (&answer, g_free);
  answer = evcp_test_central_command (f->central, "secret CP-F1 -");
  g_assert_cmpstr (answer, ==, "OK secret CP-F1 removed");
  evcp_test_peer_send_acked (forger, "AUTH#CP-F1#ENGINE#Back to the contract#0.30");
  expect_frame (forger, "AUTH_OK#CP-F1");
}

/* A captured AUTH and PROOF, replayed on another connection, is worth
 * nothing: a new nonce each time. The real connection stays, and its later
 * events are applied. */
static void
test_replayed (Fixture *f, gconstpointer data)
{
  g_autoptr(EvcpTestPeer) engine = NULL;
  g_autoptr(EvcpTestPeer) replayer = NULL;
  g_autofree gchar *proof = NULL;
  g_autofree gchar *nonce = NULL;

  start_central (f, FALSE);
  engine = evcp_test_peer_connect (evcp_test_central_get_port (f->central));
  proof = prove (engine, "CP-K1", SECRET, "AUTH_OK#CP-K1");
  evcp_test_peer_send_acked (engine, "STATE#CP-K1#ACTIVE#1");

  replayer = evcp_test_peer_connect (evcp_test_central_get_port (f->central));
  nonce = auth_for_challenge (replayer, "CP-K1");
  evcp_test_peer_send_acked (replayer, proof);
  expect_frame (replayer, "AUTH_KO#CP-K1#bad proof");
  /* the nonce is used once: the same PROOF again has no CHALLENGE */
  evcp_test_peer_send_acked (replayer, proof);
  expect_frame (replayer, "AUTH_KO#CP-K1#no challenge");
  evcp_test_peer_send_acked (replayer, "TICKET#CP-K1#s-replayed#eve#9.000#0.01#UNPLUGGED#2");
  evcp_test_peer_send_acked (replayer, "STATE#CP-K1#STOPPED#3");

  /* the real Engine was not replaced, and its seqs 2 and 3 are fresh */
  g_assert_false (evcp_test_peer_is_closed (engine));
  g_assert_true (cp_has_engine (f->central, "CP-K1"));
  evcp_test_peer_send_acked (engine, "TICKET#CP-K1#s-real#alice#1.000#0.30#UNPLUGGED#2");
  evcp_test_peer_send_acked (engine, "STATE#CP-K1#ACTIVE#3");
  evcp_test_peer_send_acked (engine, "PING#CP-K1");
  expect_frame (engine, "PONG#CP-K1");
  g_assert_cmpint (cp_tickets (f->central, "CP-K1"), ==, 1);
  g_assert_cmpint (evcp_test_central_get_stat (f->central, "duplicates"), ==, 0);
  g_assert_cmpint (db_count (f->db_path, "SELECT COUNT(*) FROM seqs WHERE cp_id = 'CP-K1'"), ==, 3);
  g_assert_cmpint (db_count (f->db_path, "SELECT COUNT(*) FROM tickets WHERE session_id = 's-replayed'"), ==, 0);
  g_assert_cmpuint (evcp_test_peer_pending (replayer), ==, 0);
}

static gboolean
client_ready (gpointer data)
{
  return evcp_central_client_is_ready (data);
}

static gboolean
outbox_sent (gpointer data)
{
  return evcp_outbox_get_length (data, EVCP_OUTBOX_CENTRAL) == 0;
}

/* --require-secret: a CP without a secret is refused; the real client with
 * its secret from the key file of Central gets in, end to end. */
static void
test_require_secret (Fixture *f, gconstpointer data)
{
  g_autoptr(EvcpTestPeer) stranger = NULL;
  g_autoptr(EvcpOutbox) outbox = NULL;
  g_autoptr(EvcpCentralClient) client = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *outbox_path = g_build_filename (f->tmpdir, "outbox.json", NULL);
  const gchar *state[] = { "STATE", "CP-K1", "ACTIVE", NULL };

  start_central (f, TRUE);
  stranger = evcp_test_peer_connect (evcp_test_central_get_port (f->central));
  evcp_test_peer_send_acked (stranger, "AUTH#CP-U1#ENGINE#Nowhere#0.30");
  expect_frame (stranger, "AUTH_KO#CP-U1#unknown CP");
  evcp_test_peer_send_acked (stranger, "STATE#CP-U1#ACTIVE#1");
  g_assert_null (evcp_test_central_get_cp (f->central, "CP-U1"));

  outbox = evcp_outbox_new (outbox_path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (evcp_outbox_append (outbox, state, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  client = evcp_central_client_new ("127.0.0.1", evcp_test_central_get_port (f->central),
                                    EVCP_CENTRAL_ROLE_ENGINE, "CP-K1", "Test bench", 0.30, outbox);
  evcp_central_client_set_secret (client, SECRET);
  evcp_central_client_start (client);
  g_assert_true (evcp_test_wait_until (NULL, client_ready, client, WAIT_MS));
  g_assert_true (evcp_test_wait_until (NULL, outbox_sent, outbox, WAIT_MS));
  g_assert_true (cp_has_engine (f->central, "CP-K1"));
  g_assert_cmpint (db_count (f->db_path, "SELECT COUNT(*) FROM seqs WHERE cp_id = 'CP-K1'"), ==, 1);
  evcp_central_client_stop (client);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);

  g_test_add ("/central-auth/forged", Fixture, NULL, fixture_set_up, test_forged, fixture_tear_down);
  g_test_add ("/central-auth/replayed", Fixture, NULL, fixture_set_up, test_replayed, fixture_tear_down);
  g_test_add ("/central-auth/require-secret", Fixture, NULL, fixture_set_up, test_require_secret,
              fixture_tear_down);
  return g_test_run ();
}
