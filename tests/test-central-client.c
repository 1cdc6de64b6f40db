/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* EvcpCentralClient against a real fake Central (a GSocketService on
 * 127.0.0.1 speaking the frame codec, scripted per test), and
 * EvcpKafkaOutboxSender against the in-process mock cluster. Every wait has a
 * deadline; nothing sleeps. */
#include "evcp-build-config.h"

#include "evcp-test-expect.h"

#include <string.h>

#include <glib/gstdio.h>

#include "evcp-central-auth.h"
#include "evcp-central-client.h"
#include "evcp-error.h"
#include "evcp-frame-codec.h"
#include "evcp-kafka-outbox-sender.h"
#include "evcp-outbox.h"
#include "evcp-test-fake-central.h"
#include "evcp-test-util.h"

#define CP          "CP-T1"
#define LOCATION    "Calle Mayor 1"
#define WAIT_MS     10000
#define ACK_MS      300    /* the client's ACK timeout in these tests */
#define BACKOFF_MIN 50
#define BACKOFF_MAX 400
#define NO_PING     600000 /* keep-alive far away, unless a test wants PING */

/* ------------------------------------------------------------------------- */
/* ------------------------------------------------------------------------- */
/* Fixture */

typedef struct {
  gchar             *dir;
  gchar             *path;
  EvcpTestFakeCentral       *fc;
  EvcpOutbox        *outbox;
  EvcpCentralClient *client;
  GPtrArray         *commands;     /* joined fields of each "command" */
  GPtrArray         *auth_failures;
  GArray            *states;       /* EvcpCentralState after each notify */
} Fixture;

static void
on_command (EvcpCentralClient *client, GStrv fields, Fixture *f)
{
  g_ptr_array_add (f->commands, g_strjoinv ("#", fields));
}

static void
on_auth_failed (EvcpCentralClient *client, const gchar *reason, Fixture *f)
{
  g_ptr_array_add (f->auth_failures, g_strdup (reason));
}

static void
on_state (GObject *object, GParamSpec *pspec, Fixture *f)
{
  EvcpCentralState state = evcp_central_client_get_state (EVCP_CENTRAL_CLIENT (object));

  g_array_append_val (f->states, state);
}

static void
open_outbox (Fixture *f)
{
  g_autoptr(GError) error = NULL;

  f->outbox = evcp_outbox_new (f->path, &error);
  g_assert_no_error (error);
}

static void
make_client (Fixture *f, EvcpCentralRole role, gdouble price, guint keepalive_ms)
{
  f->client = evcp_central_client_new ("127.0.0.1", f->fc->port, role, CP, LOCATION, price, f->outbox);
  g_assert_nonnull (f->client);
  evcp_central_client_set_timing (f->client, ACK_MS, keepalive_ms, BACKOFF_MIN, BACKOFF_MAX);
  g_signal_connect (f->client, "command", G_CALLBACK (on_command), f);
  g_signal_connect (f->client, "auth-failed", G_CALLBACK (on_auth_failed), f);
  g_signal_connect (f->client, "notify::state", G_CALLBACK (on_state), f);
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  f->dir = g_dir_make_tmp ("evcp-test-central-XXXXXX", &error);
  g_assert_no_error (error);
  f->path = g_build_filename (f->dir, "outbox.json", NULL);
  f->fc = evcp_test_fake_central_new ();
  f->fc->late_ms = 3 * ACK_MS / 2;
  f->commands = g_ptr_array_new_with_free_func (g_free);
  f->auth_failures = g_ptr_array_new_with_free_func (g_free);
  f->states = g_array_new (FALSE, FALSE, sizeof (EvcpCentralState));
  open_outbox (f);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_clear_object (&f->client);
  g_clear_object (&f->outbox);
  g_clear_pointer (&f->fc, evcp_test_fake_central_free);
  g_ptr_array_unref (f->commands);
  g_ptr_array_unref (f->auth_failures);
  g_array_unref (f->states);
  g_unlink (f->path);
  g_rmdir (f->dir);
  g_free (f->path);
  g_free (f->dir);
}

static void
append_state (Fixture *f, const gchar *state)
{
  const gchar *fields[] = { "STATE", CP, state, NULL };
  g_autoptr(GError) error = NULL;

  g_assert_nonnull (evcp_outbox_append (f->outbox, fields, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
}

static void
append_ticket (Fixture *f, const gchar *session)
{
  const gchar *fields[] = { "TICKET", CP, session, "driver-7", "10.00", "3.50", "UNPLUGGED", NULL };
  g_autoptr(GError) error = NULL;

  g_assert_nonnull (evcp_outbox_append (f->outbox, fields, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
}

/* ---- predicates ---------------------------------------------------------------- */

static gboolean
client_ready (gpointer data)
{
  Fixture *f = data;
  return evcp_central_client_is_ready (f->client);
}

static gboolean
client_not_ready (gpointer data)
{
  Fixture *f = data;
  return !evcp_central_client_is_ready (f->client);
}

static gboolean
outbox_empty (gpointer data)
{
  Fixture *f = data;
  return evcp_outbox_get_length (f->outbox, EVCP_OUTBOX_CENTRAL) == 0;
}

typedef struct {
  Fixture     *f;
  const gchar *data;
  guint        n;
} CountWait;

static gboolean
received_n (gpointer data)
{
  CountWait *w = data;
  return evcp_test_fake_central_count (w->f->fc, w->data) >= w->n;
}

static void
wait_received (Fixture *f, const gchar *data, guint n)
{
  CountWait w = { f, data, n };

  if (!evcp_test_wait_until (NULL, received_n, &w, WAIT_MS))
    {
      g_autofree gchar *transcript = evcp_test_fake_central_transcript (f->fc);

      g_error ("Central received %s %u times, not %u, in time; it received:\n%s",
               data, evcp_test_fake_central_count (f->fc, data), n, transcript);
    }
}

static gboolean
accepted_n (gpointer data)
{
  CountWait *w = data;
  return w->f->fc->accepted >= w->n;
}

static gboolean
commands_n (gpointer data)
{
  CountWait *w = data;
  return w->f->commands->len >= w->n;
}

static gboolean
acks_n (gpointer data)
{
  CountWait *w = data;
  return w->f->fc->acks >= w->n;
}

static gboolean
nacks_n (gpointer data)
{
  CountWait *w = data;
  return w->f->fc->nacks >= w->n;
}

static gboolean
eots_n (gpointer data)
{
  CountWait *w = data;
  return w->f->fc->eots >= w->n;
}

static void
wait_for (Fixture *f, EvcpTestPredicate pred, guint n, const gchar *what)
{
  CountWait w = { f, NULL, n };

  if (!evcp_test_wait_until (NULL, pred, &w, WAIT_MS))
    g_error ("timed out waiting for %s (%u)", what, n);
}

static void
start_and_wait_ready (Fixture *f)
{
  evcp_central_client_start (f->client);
  g_assert_true (evcp_test_wait_until (NULL, client_ready, f, WAIT_MS));
}

/* ---- tests ------------------------------------------------------------------ */

/* AUTH first, then the outbox's records, in order, each acknowledged. */
static void
test_auth_then_outbox_in_order (Fixture *f, gconstpointer data)
{
  g_autofree gchar *transcript = NULL;

  append_state (f, "ACTIVE");
  append_state (f, "SUPPLYING");
  append_ticket (f, "s-1");
  make_client (f, EVCP_CENTRAL_ROLE_ENGINE, 0.35, NO_PING);
  g_assert_cmpint (evcp_central_client_get_state (f->client), ==, EVCP_CENTRAL_STATE_STOPPED);

  start_and_wait_ready (f);
  g_assert_true (evcp_test_wait_until (NULL, outbox_empty, f, WAIT_MS));

  g_assert_cmpstr (g_ptr_array_index (f->fc->frames, 0), ==, "AUTH#" CP "#ENGINE#" LOCATION "#0.35");
  transcript = evcp_test_fake_central_transcript (f->fc);
  g_assert_cmpstr (transcript, ==,
                   "STATE#" CP "#ACTIVE#1\n"
                   "STATE#" CP "#SUPPLYING#2\n"
                   "TICKET#" CP "#s-1#driver-7#10.00#3.50#UNPLUGGED#3\n");
  /* a record appended while READY goes at once */
  append_state (f, "ACTIVE");
  wait_received (f, "STATE#" CP "#ACTIVE#4", 1);
  g_assert_true (evcp_test_wait_until (NULL, outbox_empty, f, WAIT_MS));
  g_assert_cmpuint (f->fc->accepted, ==, 1);
  g_assert_cmpuint (f->fc->duplicates, ==, 0);
  g_assert_cmpuint (f->fc->bad, ==, 0);

  /* the states went STOPPED → CONNECTING → AUTHENTICATING → READY */
  g_assert_cmpuint (f->states->len, ==, 3);
  g_assert_cmpint (g_array_index (f->states, EvcpCentralState, 0), ==, EVCP_CENTRAL_STATE_CONNECTING);
  g_assert_cmpint (g_array_index (f->states, EvcpCentralState, 1), ==, EVCP_CENTRAL_STATE_AUTHENTICATING);
  g_assert_cmpint (g_array_index (f->states, EvcpCentralState, 2), ==, EVCP_CENTRAL_STATE_READY);
}

/* MONITOR role, and the price: a dot, two decimals or more if needed. */
static void
test_auth_monitor_price (Fixture *f, gconstpointer data)
{
  static const struct { gdouble price; const gchar *text; } cases[] = {
    { 0.345, "0.345" }, { 1, "1.00" }, { 0.1, "0.10" }, { 12.5, "12.50" },
  };

  /* whatever the locale says about decimal separators */
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree gchar *expected = g_strdup_printf ("AUTH#" CP "#MONITOR#" LOCATION "#%s", cases[i].text);

      make_client (f, EVCP_CENTRAL_ROLE_MONITOR, cases[i].price, NO_PING);
      start_and_wait_ready (f);
      wait_received (f, expected, 1);
      g_clear_object (&f->client);
    }
}

/* NACK: the same bytes again, until ACKed; no reconnection. */
static EvcpTestFakeAnswer
nack_first_two_tickets (EvcpTestFakeCentral *fc, const gchar *data, guint index, gpointer user_data)
{
  if (g_str_has_prefix (data, "TICKET#") && evcp_test_fake_central_count (fc, data) <= 2)
    return EVCP_TEST_FAKE_ANSWER_NACK;
  return EVCP_TEST_FAKE_ANSWER_ACK;
}

static void
test_nack_resends_same_frame (Fixture *f, gconstpointer data)
{
  const gchar *ticket = "TICKET#" CP "#s-1#driver-7#10.00#3.50#UNPLUGGED#2";
  g_autofree gchar *transcript = NULL;

  f->fc->answer = nack_first_two_tickets;
  append_state (f, "SUPPLYING");
  append_ticket (f, "s-1");
  append_state (f, "ACTIVE");
  make_client (f, EVCP_CENTRAL_ROLE_ENGINE, 0.35, NO_PING);
  start_and_wait_ready (f);
  g_assert_true (evcp_test_wait_until (NULL, outbox_empty, f, WAIT_MS));

  transcript = evcp_test_fake_central_transcript (f->fc);
  g_assert_cmpstr (transcript, ==,
                   "STATE#" CP "#SUPPLYING#1\n"
                   "TICKET#" CP "#s-1#driver-7#10.00#3.50#UNPLUGGED#2\n"
                   "TICKET#" CP "#s-1#driver-7#10.00#3.50#UNPLUGGED#2\n"
                   "TICKET#" CP "#s-1#driver-7#10.00#3.50#UNPLUGGED#2\n"
                   "STATE#" CP "#ACTIVE#3\n");
  /* every copy had a good LRC: they are the same bytes */
  g_assert_cmpuint (evcp_test_fake_central_count (f->fc, ticket), ==, 3);
  g_assert_cmpuint (f->fc->bad, ==, 0);
  g_assert_cmpuint (f->fc->accepted, ==, 1);
  g_assert_true (evcp_central_client_is_ready (f->client));
}

/* No answer: sent again after the ACK timeout; after 3 resends the link is
 * broken, and after the reconnection and AUTH the record is sent again. */
static EvcpTestFakeAnswer
silent_on_first_connection (EvcpTestFakeCentral *fc, const gchar *data, guint index, gpointer user_data)
{
  if (g_str_has_prefix (data, "TICKET#") && fc->accepted == 1)
    return EVCP_TEST_FAKE_ANSWER_SILENT;
  return EVCP_TEST_FAKE_ANSWER_ACK;
}

static void
test_silence_resends_then_reconnects (Fixture *f, gconstpointer data)
{
  const gchar *ticket = "TICKET#" CP "#s-9#driver-7#10.00#3.50#UNPLUGGED#2";
  g_autofree gchar *delivered = NULL;
  CountWait w = { f, NULL, 2 };
  gint64 start;
  guint on_first = 0, auth_after = 0, ticket_after = 0;

  f->fc->answer = silent_on_first_connection;
  append_state (f, "SUPPLYING");
  append_ticket (f, "s-9");
  append_state (f, "ACTIVE");
  make_client (f, EVCP_CENTRAL_ROLE_ENGINE, 0.35, NO_PING);
  start = g_get_monotonic_time ();
  start_and_wait_ready (f);

  g_assert_true (evcp_test_wait_until (NULL, accepted_n, &w, WAIT_MS));
  /* 1 + 3 copies took at least 4 ACK timeouts */
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 4 * ACK_MS * 1000);
  g_assert_true (evcp_test_wait_until (NULL, outbox_empty, f, WAIT_MS));

  for (guint i = 0; i < f->fc->frames->len; i++)
    {
      const gchar *frame = g_ptr_array_index (f->fc->frames, i);
      guint conn = g_array_index (f->fc->frame_conn, guint, i);

      if (conn == 1 && g_str_equal (frame, ticket))
        on_first++;
      else if (conn == 2 && g_str_has_prefix (frame, "AUTH#"))
        auth_after = i;
      else if (conn == 2 && g_str_equal (frame, ticket) && ticket_after == 0)
        ticket_after = i;
    }
  g_assert_cmpuint (on_first, ==, 1 + 3);
  g_assert_cmpuint (auth_after, >, 0);
  g_assert_cmpuint (ticket_after, ==, auth_after + 1);   /* the oldest record first */
  g_assert_cmpuint (evcp_test_fake_central_count (f->fc, "STATE#" CP "#ACTIVE#3"), ==, 1);
  g_assert_cmpuint (f->fc->duplicates, ==, 0);          /* the silent copies were not acted on */
  delivered = evcp_test_fake_central_delivered (f->fc);
  g_assert_cmpstr (delivered, ==,
                   "STATE#" CP "#SUPPLYING#1\n"
                   "TICKET#" CP "#s-9#driver-7#10.00#3.50#UNPLUGGED#2\n"
                   "STATE#" CP "#ACTIVE#3\n");
}

/* Four NACKs for the same frame: the link is broken as well. */
static EvcpTestFakeAnswer
nack_state_on_first_connection (EvcpTestFakeCentral *fc, const gchar *data, guint index, gpointer user_data)
{
  if (g_str_has_prefix (data, "STATE#") && fc->accepted == 1)
    return EVCP_TEST_FAKE_ANSWER_NACK;
  return EVCP_TEST_FAKE_ANSWER_ACK;
}

static void
test_nacks_break_link (Fixture *f, gconstpointer data)
{
  CountWait w = { f, NULL, 2 };
  guint on_first = 0;

  f->fc->answer = nack_state_on_first_connection;
  append_state (f, "FAULT");
  make_client (f, EVCP_CENTRAL_ROLE_ENGINE, 0.35, NO_PING);
  start_and_wait_ready (f);
  g_assert_true (evcp_test_wait_until (NULL, accepted_n, &w, WAIT_MS));
  g_assert_true (evcp_test_wait_until (NULL, outbox_empty, f, WAIT_MS));
  for (guint i = 0; i < f->fc->frames->len; i++)
    if (g_array_index (f->fc->frame_conn, guint, i) == 1 &&
        g_str_equal (g_ptr_array_index (f->fc->frames, i), "STATE#" CP "#FAULT#1"))
      on_first++;
  g_assert_cmpuint (on_first, ==, 4);
  g_assert_cmpuint (f->fc->delivered->len, ==, 1);
}

/* A Central that ACKs late: the ACK of the first copy and the ACK of the
 * resent copy both come. The second one must not be taken for the ACK of
 * the next record (which Central never ACKs here). */
static EvcpTestFakeAnswer
late_then_silent (EvcpTestFakeCentral *fc, const gchar *data, guint index, gpointer user_data)
{
  if (g_str_has_prefix (data, "STATE#" CP "#A#"))
    return EVCP_TEST_FAKE_ANSWER_LATE;
  if (g_str_has_prefix (data, "STATE#" CP "#B#"))
    return EVCP_TEST_FAKE_ANSWER_SILENT;
  return EVCP_TEST_FAKE_ANSWER_ACK;
}

static void
test_late_ack_not_taken_for_next (Fixture *f, gconstpointer data)
{
  f->fc->answer = late_then_silent;
  append_state (f, "A");
  append_state (f, "B");
  make_client (f, EVCP_CENTRAL_ROLE_ENGINE, 0.35, NO_PING);
  start_and_wait_ready (f);

  /* A was sent twice (once resent after the timeout), both copies ACKed late */
  wait_received (f, "STATE#" CP "#A#1", 2);
  /* B is resent: the stray second ACK of A did not acknowledge it */
  wait_received (f, "STATE#" CP "#B#2", 2);
  g_assert_cmpuint (evcp_outbox_get_length (f->outbox, EVCP_OUTBOX_CENTRAL), ==, 1);
  g_assert_cmpuint (evcp_outbox_record_get_seq (evcp_outbox_peek (f->outbox, EVCP_OUTBOX_CENTRAL)), ==, 2);
}

/* Central goes away and comes back: nothing is lost, the order is kept. */
/* A Central that stays away: one warning, not one per attempt; a summary
 * now and then; a line when it is back. */
static void
test_link_down_warns_once (Fixture *f, gconstpointer data)
{
  guint warnings;

  make_client (f, EVCP_CENTRAL_ROLE_ENGINE, 0.35, NO_PING);
  evcp_central_client_set_down_summary (f->client, 400);
  start_and_wait_ready (f);
  evcp_test_expect_message ("evcp-central", G_LOG_LEVEL_WARNING, "*lost*");
  warnings = evcp_test_warnings_seen;
  evcp_test_fake_central_down (f->fc);
  /* attempts 50 to 400 ms apart: several before the summary */
  evcp_test_expect_message ("evcp-central", G_LOG_LEVEL_MESSAGE, "*still down after * s and * attempts*");
  g_assert_true (evcp_test_wait_until (NULL, evcp_test_expected_all_seen, NULL, WAIT_MS));
  g_assert_cmpuint (evcp_test_warnings_seen - warnings, ==, 1);

  evcp_test_expect_message ("evcp-central", G_LOG_LEVEL_MESSAGE, "*back after * s and * failed attempts");
  evcp_test_fake_central_up (f->fc);
  g_assert_true (evcp_test_wait_until (NULL, evcp_test_expected_all_seen, NULL, WAIT_MS));
  g_assert_true (evcp_central_client_is_ready (f->client));
  g_assert_cmpuint (evcp_test_warnings_seen - warnings, ==, 1);
}

static void
test_link_drop_keeps_outbox (Fixture *f, gconstpointer data)
{
  g_autofree gchar *delivered = NULL;
  CountWait w = { f, NULL, 2 };

  make_client (f, EVCP_CENTRAL_ROLE_ENGINE, 0.35, NO_PING);
  start_and_wait_ready (f);
  append_state (f, "SUPPLYING");
  g_assert_true (evcp_test_wait_until (NULL, outbox_empty, f, WAIT_MS));

  evcp_test_fake_central_down (f->fc);
  g_assert_true (evcp_test_wait_until (NULL, client_not_ready, f, WAIT_MS));
  append_ticket (f, "s-2");
  append_state (f, "ACTIVE");
  append_state (f, "STOPPED");
  /* the client keeps trying (connection refused) meanwhile */
  g_assert_cmpuint (evcp_outbox_get_length (f->outbox, EVCP_OUTBOX_CENTRAL), ==, 3);
  g_assert_cmpint (evcp_central_client_get_state (f->client), ==, EVCP_CENTRAL_STATE_CONNECTING);

  evcp_test_fake_central_up (f->fc);
  g_assert_true (evcp_test_wait_until (NULL, accepted_n, &w, WAIT_MS));
  g_assert_true (evcp_test_wait_until (NULL, outbox_empty, f, WAIT_MS));
  delivered = evcp_test_fake_central_delivered (f->fc);
  g_assert_cmpstr (delivered, ==,
                   "STATE#" CP "#SUPPLYING#1\n"
                   "TICKET#" CP "#s-2#driver-7#10.00#3.50#UNPLUGGED#2\n"
                   "STATE#" CP "#ACTIVE#3\n"
                   "STATE#" CP "#STOPPED#4\n");
  g_assert_cmpuint (f->fc->duplicates, ==, 0);
  g_assert_true (evcp_central_client_is_ready (f->client));
}

/* The program restarts: the records still due are sent by the new client
 * from the same file, with their seqs; the counter goes on. */
static EvcpTestFakeAnswer
lost_ack_on_seq_2_first_connection (EvcpTestFakeCentral *fc, const gchar *data, guint index, gpointer user_data)
{
  if (g_str_has_suffix (data, "#2") && fc->accepted == 1)
    return EVCP_TEST_FAKE_ANSWER_LOST_ACK;
  return EVCP_TEST_FAKE_ANSWER_ACK;
}

static void
test_restart_resends_pending (Fixture *f, gconstpointer data)
{
  g_autofree gchar *delivered = NULL;

  f->fc->answer = lost_ack_on_seq_2_first_connection;
  append_state (f, "SUPPLYING");
  append_ticket (f, "s-3");
  append_state (f, "ACTIVE");
  make_client (f, EVCP_CENTRAL_ROLE_ENGINE, 0.35, NO_PING);
  start_and_wait_ready (f);
  /* Central has taken seq 2, but its ACK was lost: the process "dies" */
  wait_received (f, "TICKET#" CP "#s-3#driver-7#10.00#3.50#UNPLUGGED#2", 1);
  g_assert_cmpuint (evcp_outbox_get_length (f->outbox, EVCP_OUTBOX_CENTRAL), ==, 2);
  g_clear_object (&f->client);
  g_clear_object (&f->outbox);

  open_outbox (f);
  g_assert_cmpuint (evcp_outbox_get_next_seq (f->outbox), ==, 4);
  g_assert_cmpuint (evcp_outbox_get_length (f->outbox, EVCP_OUTBOX_CENTRAL), ==, 2);
  make_client (f, EVCP_CENTRAL_ROLE_ENGINE, 0.35, NO_PING);
  start_and_wait_ready (f);
  append_state (f, "STOPPED");
  g_assert_true (evcp_test_wait_until (NULL, outbox_empty, f, WAIT_MS));

  /* at least once on the wire, exactly once after Central's dedup by seq */
  g_assert_cmpuint (evcp_test_fake_central_count (f->fc, "TICKET#" CP "#s-3#driver-7#10.00#3.50#UNPLUGGED#2"), >=, 2);
  g_assert_cmpuint (f->fc->duplicates, >=, 1);
  delivered = evcp_test_fake_central_delivered (f->fc);
  g_assert_cmpstr (delivered, ==,
                   "STATE#" CP "#SUPPLYING#1\n"
                   "TICKET#" CP "#s-3#driver-7#10.00#3.50#UNPLUGGED#2\n"
                   "STATE#" CP "#ACTIVE#3\n"
                   "STATE#" CP "#STOPPED#4\n");
}

/* PING when nothing was sent for the keep-alive interval; PONG is ACKed. */
static void
test_ping_when_idle (Fixture *f, gconstpointer data)
{
  gint64 ready_at;
  guint pings;

  make_client (f, EVCP_CENTRAL_ROLE_ENGINE, 0.35, 200);
  start_and_wait_ready (f);
  ready_at = g_get_monotonic_time ();
  wait_received (f, "PING#" CP, 1);
  g_assert_cmpint (g_get_monotonic_time () - ready_at, >=, 150 * 1000);
  /* the client ACKs the PONG */
  wait_for (f, acks_n, 2, "ACK of AUTH_OK and of PONG");
  wait_received (f, "PING#" CP, 2);
  g_assert_cmpuint (f->commands->len, ==, 0);

  /* traffic postpones PING */
  pings = evcp_test_fake_central_count (f->fc, "PING#" CP);
  for (guint i = 0; i < 3; i++)
    {
      const gchar *supply[] = { "SUPPLY", CP, "s", "d", "1.00", "0.35", NULL };

      g_assert_true (evcp_central_client_send (f->client, supply));
      wait_received (f, "SUPPLY#" CP "#s#d#1.00#0.35", i + 1);
    }
  g_assert_cmpuint (evcp_test_fake_central_count (f->fc, "PING#" CP), <=, pings + 1);
  g_assert_true (evcp_central_client_is_ready (f->client));
  g_assert_cmpuint (f->fc->accepted, ==, 1);
}

/* Commands for this CP are emitted, after their ACK; frames for another
 * CP are ACKed and ignored; bad bytes are NACKed. */
static void
test_commands (Fixture *f, gconstpointer data)
{
  const gchar *authorize[] = { "AUTHORIZE", CP, "driver-7", "sess-1", "22.5", "3600", NULL };
  const gchar *other[] = { "STOP", "CP-OTHER", NULL };
  const gchar *stop[] = { "STOP", CP, NULL };
  const gchar *resume_extra[] = { "RESUME", CP, "field-of-a-newer-central", NULL };
  const gchar *unknown[] = { "REBOOT", CP, "now", NULL };
  const gchar *no_cp[] = { "HELLO", NULL };
  const gchar *pong[] = { "PONG", CP, NULL };
  const gchar *auth_ok_other[] = { "AUTH_OK", "CP-OTHER", NULL };
  const guint8 bad_lrc[] = { EVCP_FRAME_STX, 'S', 'T', 'O', 'P', '#', 'C', EVCP_FRAME_ETX, 0x00 };
  const gchar garbage[] = "garbage";
  guint acks_before;

  make_client (f, EVCP_CENTRAL_ROLE_ENGINE, 0.35, NO_PING);
  start_and_wait_ready (f);
  wait_for (f, acks_n, 1, "ACK of AUTH_OK");
  acks_before = f->fc->acks;

  evcp_test_fake_central_send (f->fc, authorize);
  evcp_test_fake_central_send (f->fc, other);
  evcp_test_fake_central_send_raw (f->fc, bad_lrc, sizeof bad_lrc);
  evcp_test_fake_central_send (f->fc, stop);
  evcp_test_fake_central_send_raw (f->fc, garbage, strlen (garbage));
  evcp_test_fake_central_send (f->fc, resume_extra);
  evcp_test_fake_central_send (f->fc, unknown);
  evcp_test_fake_central_send (f->fc, no_cp);
  evcp_test_fake_central_send (f->fc, pong);
  evcp_test_fake_central_send (f->fc, auth_ok_other);

  wait_for (f, commands_n, 4, "commands");
  wait_for (f, acks_n, acks_before + 8, "ACKs");
  wait_for (f, nacks_n, 2, "NACKs");
  g_assert_cmpuint (f->commands->len, ==, 4);
  g_assert_cmpstr (g_ptr_array_index (f->commands, 0), ==, "AUTHORIZE#" CP "#driver-7#sess-1#22.5#3600");
  g_assert_cmpstr (g_ptr_array_index (f->commands, 1), ==, "STOP#" CP);
  g_assert_cmpstr (g_ptr_array_index (f->commands, 2), ==, "RESUME#" CP "#field-of-a-newer-central");
  g_assert_cmpstr (g_ptr_array_index (f->commands, 3), ==, "REBOOT#" CP "#now");
  /* one ACK per good frame, one NACK per bad one */
  g_assert_cmpuint (f->fc->acks, ==, acks_before + 8);
  g_assert_cmpuint (f->fc->nacks, ==, 2);
  /* the link is unharmed */
  g_assert_true (evcp_central_client_is_ready (f->client));
  g_assert_cmpuint (f->fc->accepted, ==, 1);
}

/* The command is emitted only once its ACK is on the wire. */
static void
on_command_append (EvcpCentralClient *client, GStrv fields, Fixture *f)
{
  /* what the application does in reaction: a frame of its own */
  const gchar *state[] = { "STATE", CP, "STOPPED", NULL };
  g_autoptr(GError) error = NULL;

  g_assert_nonnull (evcp_outbox_append (f->outbox, state, NULL, NULL, NULL, &error));
}

static void
test_ack_before_acting (Fixture *f, gconstpointer data)
{
  const gchar *stop[] = { "STOP", CP, NULL };
  guint acks_before;
  guint index;

  make_client (f, EVCP_CENTRAL_ROLE_ENGINE, 0.35, NO_PING);
  g_signal_connect (f->client, "command", G_CALLBACK (on_command_append), f);
  start_and_wait_ready (f);
  wait_for (f, acks_n, 1, "ACK of AUTH_OK");
  acks_before = f->fc->acks;
  evcp_test_fake_central_send (f->fc, stop);
  wait_received (f, "STATE#" CP "#STOPPED#1", 1);
  /* the ACK of STOP reached Central before the frame its handling caused */
  g_assert_true (g_ptr_array_find_with_equal_func (f->fc->frames, "STATE#" CP "#STOPPED#1", g_str_equal, &index));
  g_assert_cmpuint (g_array_index (f->fc->frame_acks, guint, index), ==, acks_before + 1);
}

/* AUTH_KO: "auth-failed", the link is closed, AUTH is tried again. */
static void
test_auth_ko_retries (Fixture *f, gconstpointer data)
{
  CountWait w = { f, NULL, 3 };

  f->fc->auth_ok = FALSE;
  append_state (f, "ACTIVE");
  make_client (f, EVCP_CENTRAL_ROLE_ENGINE, 0.35, NO_PING);
  evcp_central_client_start (f->client);
  g_assert_true (evcp_test_wait_until (NULL, accepted_n, &w, WAIT_MS));
  g_assert_cmpuint (f->auth_failures->len, >=, 2);
  g_assert_cmpstr (g_ptr_array_index (f->auth_failures, 0), ==, "unknown CP");
  g_assert_false (evcp_central_client_is_ready (f->client));
  /* nothing but AUTH was sent, and the client said goodbye each time */
  g_assert_cmpuint (evcp_test_fake_central_count_prefix (f->fc, "STATE#"), ==, 0);
  g_assert_cmpuint (f->fc->eots, >=, 2);

  f->fc->auth_ok = TRUE;
  g_assert_true (evcp_test_wait_until (NULL, client_ready, f, WAIT_MS));
  g_assert_true (evcp_test_wait_until (NULL, outbox_empty, f, WAIT_MS));
  g_assert_cmpuint (evcp_test_fake_central_count (f->fc, "STATE#" CP "#ACTIVE#1"), ==, 1);
}

/* An AUTH frame that cannot be encoded (over 4096 bytes: a 4085-character
 * location, a 4090-character CP id) gives a clear error and no link, never
 * a crash (issue 22 item 4): the client does not even connect. */
static void
check_auth_too_long (Fixture *f, const gchar *cp_id, const gchar *location)
{
  g_autoptr(EvcpCentralClient) client =
    evcp_central_client_new ("127.0.0.1", f->fc->port, EVCP_CENTRAL_ROLE_ENGINE, cp_id, location, 0.35, f->outbox);
  CountWait w = { f, NULL, 1 };

  g_assert_nonnull (client);
  evcp_test_expect_message ("evcp-central", G_LOG_LEVEL_WARNING, "*AUTH frame of*cannot be sent*");
  evcp_central_client_start (client);
  evcp_test_assert_expected_messages ();
  /* a negative check: no connection comes within a while (the old client
   * connected, then crashed on the AUTH it could not encode) */
  g_assert_false (evcp_test_wait_until (NULL, accepted_n, &w, 300));
  g_assert_cmpint (evcp_central_client_get_state (client), ==, EVCP_CENTRAL_STATE_STOPPED);
  g_assert_cmpuint (f->fc->frames->len, ==, 0);
  evcp_central_client_stop (client);
}

static void
test_auth_too_long (Fixture *f, gconstpointer data)
{
  g_autofree gchar *location = g_strnfill (4085, 'L');
  g_autofree gchar *cp_id = g_strnfill (4090, 'C');

  check_auth_too_long (f, CP, location);
  check_auth_too_long (f, cp_id, LOCATION);
}

/* A CP with a secret: AUTH names HMAC-SHA256, the CHALLENGE is answered
 * with the proof, the secret itself never goes on the wire. */
static void
test_auth_secret (Fixture *f, gconstpointer data)
{
  g_autofree gchar *transcript = NULL;

  f->fc->secret = "s3cret-of-CP-T1";
  append_state (f, "ACTIVE");
  make_client (f, EVCP_CENTRAL_ROLE_ENGINE, 0.35, NO_PING);
  evcp_central_client_set_secret (f->client, "s3cret-of-CP-T1");
  start_and_wait_ready (f);
  g_assert_true (evcp_test_wait_until (NULL, outbox_empty, f, WAIT_MS));
  g_assert_cmpuint (evcp_test_fake_central_count (f->fc, "AUTH#" CP "#ENGINE#" LOCATION "#0.35#HMAC-SHA256"), ==, 1);
  g_assert_cmpuint (evcp_test_fake_central_count_prefix (f->fc, "PROOF#" CP "#"), ==, 1);
  g_assert_cmpuint (evcp_test_fake_central_count (f->fc, "STATE#" CP "#ACTIVE#1"), ==, 1);
  transcript = evcp_test_fake_central_transcript (f->fc);
  g_assert_null (strstr (transcript, "s3cret"));
}

static gboolean
challenges_n (gpointer data)
{
  CountWait *w = data;
  return w->f->fc->challenges >= w->n;
}

/* A wrong secret: AUTH_KO, no record sent, AUTH tried again on a new
 * connection (with a new challenge). */
static void
test_auth_secret_wrong (Fixture *f, gconstpointer data)
{
  CountWait w = { f, NULL, 2 };

  f->fc->secret = "s3cret-of-CP-T1";
  append_state (f, "ACTIVE");
  make_client (f, EVCP_CENTRAL_ROLE_ENGINE, 0.35, NO_PING);
  evcp_central_client_set_secret (f->client, "not-the-secret");
  evcp_central_client_start (f->client);
  g_assert_true (evcp_test_wait_until (NULL, challenges_n, &w, WAIT_MS));
  g_assert_cmpuint (f->auth_failures->len, >=, 1);
  g_assert_cmpstr (g_ptr_array_index (f->auth_failures, 0), ==, "bad proof");
  g_assert_false (evcp_central_client_is_ready (f->client));
  g_assert_cmpuint (evcp_test_fake_central_count_prefix (f->fc, "STATE#"), ==, 0);
  g_assert_cmpuint (f->fc->accepted, >=, 2);
}

/* AUTH ACKed but never answered: the link is broken after the keep-alive
 * interval, and AUTH is tried again on a new connection. */
static void
test_auth_no_answer (Fixture *f, gconstpointer data)
{
  CountWait w = { f, NULL, 2 };
  gint64 start = g_get_monotonic_time ();

  f->fc->auth_silent = TRUE;
  make_client (f, EVCP_CENTRAL_ROLE_ENGINE, 0.35, 300);
  evcp_central_client_start (f->client);
  g_assert_true (evcp_test_wait_until (NULL, accepted_n, &w, WAIT_MS));
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 300 * 1000);
  g_assert_cmpuint (evcp_test_fake_central_count_prefix (f->fc, "AUTH#"), >=, 1);
  g_assert_false (evcp_central_client_is_ready (f->client));

  f->fc->auth_silent = FALSE;
  g_assert_true (evcp_test_wait_until (NULL, client_ready, f, WAIT_MS));
}

/* EOT from Central: the client closes, then comes back. */
static void
test_eot_from_central (Fixture *f, gconstpointer data)
{
  const guint8 eot = EVCP_FRAME_EOT;
  CountWait w = { f, NULL, 2 };

  make_client (f, EVCP_CENTRAL_ROLE_ENGINE, 0.35, NO_PING);
  start_and_wait_ready (f);
  evcp_test_fake_central_send_raw (f->fc, &eot, 1);
  g_assert_true (evcp_test_wait_until (NULL, client_not_ready, f, WAIT_MS));
  g_assert_true (evcp_test_wait_until (NULL, accepted_n, &w, WAIT_MS));
  g_assert_true (evcp_test_wait_until (NULL, client_ready, f, WAIT_MS));
  g_assert_cmpuint (evcp_test_fake_central_count_prefix (f->fc, "AUTH#"), ==, 2);
}

/* SUPPLY: dropped while the link is not READY; otherwise sent, after the
 * records appended before it and before those appended after it. */
static void
test_supply_best_effort (Fixture *f, gconstpointer data)
{
  const gchar *supply1[] = { "SUPPLY", CP, "s-1", "driver-7", "0.10", "0.04", NULL };
  const gchar *supply2[] = { "SUPPLY", CP, "s-1", "driver-7", "0.20", "0.07", NULL };
  const gchar *invalid[] = { "SUPPLY", CP, "bad#field", NULL };
  g_autofree gchar *transcript = NULL;

  make_client (f, EVCP_CENTRAL_ROLE_ENGINE, 0.35, NO_PING);
  g_assert_false (evcp_central_client_send (f->client, supply1));   /* STOPPED */
  start_and_wait_ready (f);

  append_state (f, "SUPPLYING");
  g_assert_true (evcp_central_client_send (f->client, supply1));
  g_assert_true (evcp_central_client_send (f->client, supply2));
  append_ticket (f, "s-1");
  g_assert_true (evcp_test_wait_until (NULL, outbox_empty, f, WAIT_MS));
  wait_received (f, "SUPPLY#" CP "#s-1#driver-7#0.20#0.07", 1);
  transcript = evcp_test_fake_central_transcript (f->fc);
  g_assert_cmpstr (transcript, ==,
                   "STATE#" CP "#SUPPLYING#1\n"
                   "SUPPLY#" CP "#s-1#driver-7#0.10#0.04\n"
                   "SUPPLY#" CP "#s-1#driver-7#0.20#0.07\n"
                   "TICKET#" CP "#s-1#driver-7#10.00#3.50#UNPLUGGED#2\n");

  evcp_test_expect_message ("evcp-central", G_LOG_LEVEL_WARNING, "*cannot send SUPPLY*");
  g_assert_false (evcp_central_client_send (f->client, invalid));
  evcp_test_assert_expected_messages ();

  evcp_test_fake_central_down (f->fc);
  g_assert_true (evcp_test_wait_until (NULL, client_not_ready, f, WAIT_MS));
  g_assert_false (evcp_central_client_send (f->client, supply1));
  evcp_test_fake_central_up (f->fc);
  g_assert_true (evcp_test_wait_until (NULL, client_ready, f, WAIT_MS));
  g_assert_cmpuint (evcp_test_fake_central_count (f->fc, "SUPPLY#" CP "#s-1#driver-7#0.10#0.04"), ==, 1);
}

/* SUPPLY is ACKed and resent like the others. */
static EvcpTestFakeAnswer
nack_first_supply (EvcpTestFakeCentral *fc, const gchar *data, guint index, gpointer user_data)
{
  if (g_str_has_prefix (data, "SUPPLY#") && evcp_test_fake_central_count (fc, data) == 1)
    return EVCP_TEST_FAKE_ANSWER_NACK;
  return EVCP_TEST_FAKE_ANSWER_ACK;
}

static void
test_supply_resent (Fixture *f, gconstpointer data)
{
  const gchar *supply[] = { "SUPPLY", CP, "s-1", "driver-7", "0.10", "0.04", NULL };

  f->fc->answer = nack_first_supply;
  make_client (f, EVCP_CENTRAL_ROLE_ENGINE, 0.35, NO_PING);
  start_and_wait_ready (f);
  g_assert_true (evcp_central_client_send (f->client, supply));
  wait_received (f, "SUPPLY#" CP "#s-1#driver-7#0.10#0.04", 2);
}

/* stop() sends EOT and closes; the outbox keeps what was not sent. */
static void
test_stop_sends_eot (Fixture *f, gconstpointer data)
{
  make_client (f, EVCP_CENTRAL_ROLE_ENGINE, 0.35, NO_PING);
  start_and_wait_ready (f);
  evcp_central_client_stop (f->client);
  g_assert_cmpint (evcp_central_client_get_state (f->client), ==, EVCP_CENTRAL_STATE_STOPPED);
  wait_for (f, eots_n, 1, "EOT");
  append_state (f, "STOPPED");
  g_assert_cmpuint (evcp_outbox_get_length (f->outbox, EVCP_OUTBOX_CENTRAL), ==, 1);

  /* and it can start again */
  start_and_wait_ready (f);
  g_assert_true (evcp_test_wait_until (NULL, outbox_empty, f, WAIT_MS));
  g_assert_cmpuint (f->fc->accepted, ==, 2);
}

/* Central closes the connection in the middle of a conversation. */
static EvcpTestFakeAnswer
close_on_first_ticket (EvcpTestFakeCentral *fc, const gchar *data, guint index, gpointer user_data)
{
  if (g_str_has_prefix (data, "TICKET#") && evcp_test_fake_central_count (fc, data) == 1)
    return EVCP_TEST_FAKE_ANSWER_CLOSE;
  return EVCP_TEST_FAKE_ANSWER_ACK;
}

static void
test_central_closes (Fixture *f, gconstpointer data)
{
  g_autofree gchar *delivered = NULL;

  f->fc->answer = close_on_first_ticket;
  append_ticket (f, "s-5");
  append_state (f, "ACTIVE");
  make_client (f, EVCP_CENTRAL_ROLE_ENGINE, 0.35, NO_PING);
  start_and_wait_ready (f);
  g_assert_true (evcp_test_wait_until (NULL, outbox_empty, f, WAIT_MS));
  g_assert_cmpuint (f->fc->accepted, ==, 2);
  delivered = evcp_test_fake_central_delivered (f->fc);
  g_assert_cmpstr (delivered, ==,
                   "TICKET#" CP "#s-5#driver-7#10.00#3.50#UNPLUGGED#1\n"
                   "STATE#" CP "#ACTIVE#2\n");
}

/* ------------------------------------------------------------------------- */
/* EvcpKafkaOutboxSender against the mock cluster */

#define TOPIC "charging_sessions"

typedef struct {
  gchar             *dir;
  gchar             *path;
  EvcpTestCluster   *cluster;
  EvcpOutbox        *outbox;
  EvcpKafkaProducer *producer;
} KafkaFixture;

static void
kafka_fixture_set_up (KafkaFixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GHashTable) producer_overrides = g_hash_table_new (g_str_hash, g_str_equal);

  f->dir = g_dir_make_tmp ("evcp-test-kafka-outbox-XXXXXX", &error);
  g_assert_no_error (error);
  f->path = g_build_filename (f->dir, "outbox.json", NULL);
  f->cluster = evcp_test_cluster_new (1);
  g_assert_true (evcp_test_cluster_create_topic (f->cluster, TOPIC, 1, NULL));
  f->outbox = evcp_outbox_new (f->path, &error);
  g_assert_no_error (error);
  /* a delivery fails after 1 s when the broker is down (5 min by default) */
  /* "short": a delivery given up after 1 s (the broker-down test counts
   * failed attempts); else long enough for a loaded machine, where a first
   * delivery (the topic created, the producer's id) took over 1 s and
   * turned live events into replayed ones */
  g_hash_table_insert (producer_overrides, "message.timeout.ms",
                       g_strcmp0 (data, "short") == 0 ? "1000" : "30000");
  g_hash_table_insert (producer_overrides, "reconnect.backoff.max.ms", "200");
  f->producer = evcp_kafka_producer_new (evcp_test_cluster_get_bootstraps (f->cluster),
                                         NULL, producer_overrides, &error);
  g_assert_no_error (error);
}

static void
kafka_fixture_tear_down (KafkaFixture *f, gconstpointer data)
{
  if (f->producer != NULL)
    evcp_kafka_producer_close (f->producer, 5000);
  g_clear_object (&f->producer);
  g_clear_object (&f->outbox);
  g_clear_pointer (&f->cluster, evcp_test_cluster_free);
  g_unlink (f->path);
  g_rmdir (f->dir);
  g_free (f->path);
  g_free (f->dir);
}

static void
kafka_append (KafkaFixture *f, const gchar *kind, const gchar *session)
{
  g_autoptr(JsonObject) event = json_object_new ();
  JsonObject *event_data = json_object_new ();
  g_autoptr(GError) error = NULL;

  json_object_set_string_member (event, "kind", kind);
  json_object_set_string_member (event_data, "cp_id", CP);
  json_object_set_string_member (event_data, "session_id", session);
  json_object_set_object_member (event, "data", event_data);
  g_assert_nonnull (evcp_outbox_append (f->outbox, NULL, TOPIC, CP, event, &error));
  g_assert_no_error (error);
}

static gboolean
kafka_outbox_empty (gpointer data)
{
  KafkaFixture *f = data;
  return evcp_outbox_get_length (f->outbox, EVCP_OUTBOX_KAFKA) == 0;
}

/* "seq:replayed:session" for each record, and checks key and shape. */
static gchar *
describe_records (GPtrArray *records)
{
  GString *out = g_string_new (NULL);

  for (guint i = 0; i < records->len; i++)
    {
      EvcpTestRecord *record = g_ptr_array_index (records, i);
      g_autoptr(GError) error = NULL;
      g_autoptr(JsonNode) root = evcp_test_record_parse_json (record, &error);
      JsonObject *object, *record_data;

      g_assert_no_error (error);
      g_assert_cmpstr (record->key, ==, CP);
      object = json_node_get_object (root);
      g_assert_true (json_object_has_member (object, "timestamp"));
      record_data = json_object_get_object_member (object, "data");
      g_string_append_printf (out, "%" G_GINT64_FORMAT ":%s:%s\n",
                              json_object_get_int_member (record_data, "seq"),
                              json_object_get_boolean_member_with_default (record_data, "replayed", FALSE)
                                ? "replayed" : "live",
                              json_object_get_string_member (record_data, "session_id"));
    }
  return g_string_free (out, FALSE);
}

static void
test_sender_in_order (KafkaFixture *f, gconstpointer data)
{
  g_autoptr(EvcpTestConsumer) consumer = evcp_test_consumer_new (evcp_test_cluster_get_bootstraps (f->cluster), TOPIC);
  g_autoptr(EvcpKafkaOutboxSender) sender = evcp_kafka_outbox_sender_new (f->outbox, f->producer);
  g_autoptr(GPtrArray) records = NULL;
  g_autoptr(GPtrArray) extra = NULL;
  g_autofree gchar *described = NULL;
  const gchar *central[] = { "STATE", CP, "ACTIVE", NULL };
  g_autoptr(GError) error = NULL;

  evcp_kafka_outbox_sender_start (sender);
  kafka_append (f, "SESSION_STARTED", "a");
  kafka_append (f, "SESSION_ENDED", "a");
  /* a record for Central only is not Kafka's business */
  g_assert_nonnull (evcp_outbox_append (f->outbox, central, NULL, NULL, NULL, &error));
  kafka_append (f, "SESSION_STARTED", "b");

  records = evcp_test_consumer_wait_for (consumer, 3, WAIT_MS);
  g_assert_true (evcp_test_wait_until (NULL, kafka_outbox_empty, f, WAIT_MS));
  described = describe_records (records);
  g_assert_cmpstr (described, ==, "1:live:a\n2:live:a\n4:live:b\n");
  /* exactly once */
  extra = evcp_test_consumer_wait_for (consumer, 1, 500);
  g_assert_cmpuint (extra->len, ==, 0);
  g_assert_cmpuint (evcp_kafka_outbox_sender_get_failures (sender), ==, 0);
  /* the Central record is still due there */
  g_assert_cmpuint (evcp_outbox_get_length (f->outbox, EVCP_OUTBOX_CENTRAL), ==, 1);
}

static gboolean
sender_failed (gpointer data)
{
  return evcp_kafka_outbox_sender_get_failures (data) >= 2;
}

/* The broker goes down: records wait in the outbox, then arrive in order,
 * each once, marked replayed; a record appended after the recovery is not. */
static void
test_sender_broker_down_then_up (KafkaFixture *f, gconstpointer data)
{
  g_autoptr(EvcpTestConsumer) consumer = evcp_test_consumer_new (evcp_test_cluster_get_bootstraps (f->cluster), TOPIC);
  g_autoptr(EvcpKafkaOutboxSender) sender = evcp_kafka_outbox_sender_new (f->outbox, f->producer);
  g_autoptr(GPtrArray) records = NULL;
  g_autoptr(GPtrArray) more = NULL;
  g_autoptr(GPtrArray) extra = NULL;
  g_autofree gchar *described = NULL;
  g_autofree gchar *described_more = NULL;

  evcp_kafka_outbox_sender_set_backoff (sender, 50, 400);
  evcp_kafka_outbox_sender_start (sender);
  kafka_append (f, "SESSION_STARTED", "a");
  records = evcp_test_consumer_wait_for (consumer, 1, WAIT_MS);
  g_assert_cmpuint (records->len, ==, 1);
  g_assert_true (evcp_test_wait_until (NULL, kafka_outbox_empty, f, WAIT_MS));
  g_clear_pointer (&records, g_ptr_array_unref);

  g_assert_true (evcp_test_cluster_set_down (f->cluster, -1));
  kafka_append (f, "SESSION_ENDED", "a");
  kafka_append (f, "SESSION_STARTED", "b");
  kafka_append (f, "SESSION_ENDED", "b");
  /* at least two failed attempts (each after message.timeout.ms) */
  g_assert_true (evcp_test_wait_until (NULL, sender_failed, sender, 30000));
  g_assert_cmpuint (evcp_outbox_get_length (f->outbox, EVCP_OUTBOX_KAFKA), ==, 3);

  g_assert_true (evcp_test_cluster_set_up (f->cluster, -1));
  records = evcp_test_consumer_wait_for (consumer, 3, 30000);
  g_assert_true (evcp_test_wait_until (NULL, kafka_outbox_empty, f, 30000));
  described = describe_records (records);
  g_assert_cmpstr (described, ==, "2:replayed:a\n3:replayed:b\n4:replayed:b\n");

  /* after the recovery: live again */
  kafka_append (f, "SESSION_STARTED", "c");
  more = evcp_test_consumer_wait_for (consumer, 1, WAIT_MS);
  described_more = describe_records (more);
  g_assert_cmpstr (described_more, ==, "5:live:c\n");
  /* each seq exactly once */
  extra = evcp_test_consumer_wait_for (consumer, 1, 1000);
  g_assert_cmpuint (extra->len, ==, 0);
}

/* Records left in the file by an earlier run are replayed, in order. */
static void
test_sender_restart_replays (KafkaFixture *f, gconstpointer data)
{
  g_autoptr(EvcpTestConsumer) consumer = evcp_test_consumer_new (evcp_test_cluster_get_bootstraps (f->cluster), TOPIC);
  g_autoptr(EvcpKafkaOutboxSender) sender = NULL;
  g_autoptr(GPtrArray) records = NULL;
  g_autofree gchar *described = NULL;
  g_autoptr(GError) error = NULL;

  /* the earlier run could not send them */
  kafka_append (f, "SESSION_STARTED", "a");
  kafka_append (f, "SESSION_ENDED", "a");
  g_clear_object (&f->outbox);
  f->outbox = evcp_outbox_new (f->path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (evcp_outbox_get_open_seq (f->outbox), ==, 3);

  sender = evcp_kafka_outbox_sender_new (f->outbox, f->producer);
  evcp_kafka_outbox_sender_start (sender);
  kafka_append (f, "SESSION_STARTED", "b");
  records = evcp_test_consumer_wait_for (consumer, 3, WAIT_MS);
  g_assert_true (evcp_test_wait_until (NULL, kafka_outbox_empty, f, WAIT_MS));
  described = describe_records (records);
  g_assert_cmpstr (described, ==, "1:replayed:a\n2:replayed:a\n3:live:b\n");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  /* link failures are logged as warnings on purpose; criticals stay fatal */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);

#define ADD(path, func) \
  g_test_add ("/central-client/" path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("auth-then-outbox-in-order", test_auth_then_outbox_in_order);
  ADD ("auth-monitor-price", test_auth_monitor_price);
  ADD ("nack-resends-same-frame", test_nack_resends_same_frame);
  ADD ("silence-resends-then-reconnects", test_silence_resends_then_reconnects);
  ADD ("nacks-break-link", test_nacks_break_link);
  ADD ("late-ack-not-taken-for-next", test_late_ack_not_taken_for_next);
  ADD ("link-drop-keeps-outbox", test_link_drop_keeps_outbox);
  ADD ("link-down-warns-once", test_link_down_warns_once);
  ADD ("restart-resends-pending", test_restart_resends_pending);
  ADD ("ping-when-idle", test_ping_when_idle);
  ADD ("commands", test_commands);
  ADD ("ack-before-acting", test_ack_before_acting);
  ADD ("auth-ko-retries", test_auth_ko_retries);
  ADD ("auth-no-answer", test_auth_no_answer);
  ADD ("auth-too-long", test_auth_too_long);
  ADD ("auth-secret", test_auth_secret);
  ADD ("auth-secret-wrong", test_auth_secret_wrong);
  ADD ("eot-from-central", test_eot_from_central);
  ADD ("supply-best-effort", test_supply_best_effort);
  ADD ("supply-resent", test_supply_resent);
  ADD ("stop-sends-eot", test_stop_sends_eot);
  ADD ("central-closes", test_central_closes);
#undef ADD
#define ADD(path, func, data) \
  g_test_add ("/kafka-outbox-sender/" path, KafkaFixture, data, kafka_fixture_set_up, func, kafka_fixture_tear_down)
  ADD ("in-order", test_sender_in_order, NULL);
  ADD ("broker-down-then-up", test_sender_broker_down_then_up, "short");
  ADD ("restart-replays", test_sender_restart_replays, NULL);
#undef ADD
  return g_test_run ();
}
