/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Helpers for the tests of evcp-central: the program as a child process
 * (its LISTENING line, its commands on stdin, its log on stderr), and fake
 * Engines and Monitors that speak the socket protocol with the frame codec.
 * Test code: a broken expectation aborts the test. */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "evcp-frame-codec.h"

G_BEGIN_DECLS

#define EVCP_TEST_CENTRAL_WAIT_MS 10000

/* ------------------------------------------------------------------------- */
/* The evcp-central program */

typedef struct _EvcpTestCentral EvcpTestCentral;

/**
 * evcp_test_central_start:
 * @db_path: the --db file
 * @args: (nullable): more options
 *
 * Spawns $EVCP_CENTRAL --port 0 --no-panel --verbose --db @db_path @args…
 * with KAFKA_BROKERS and EVCP_CONFIG unset, its stderr to a log file next to
 * @db_path, and waits for its LISTENING line.
 */
EvcpTestCentral *evcp_test_central_start         (const gchar         *db_path,
                                                  const gchar * const *args);
guint16          evcp_test_central_get_port      (EvcpTestCentral     *central);
GSubprocess     *evcp_test_central_get_subprocess (EvcpTestCentral    *central);
const gchar     *evcp_test_central_get_log_path  (EvcpTestCentral     *central);
/* The next line of its stdout; aborts if none comes in time. */
gchar           *evcp_test_central_read_line     (EvcpTestCentral     *central);
/* Sends one command line and returns the answer line ("OK …", "ERR …"). */
gchar           *evcp_test_central_command       (EvcpTestCentral     *central,
                                                  const gchar         *command);
/* "list", parsed: (transfer full) the root object. */
JsonObject      *evcp_test_central_list          (EvcpTestCentral     *central);
/* The CP's object from "list", or NULL. (transfer full) */
JsonObject      *evcp_test_central_get_cp        (EvcpTestCentral     *central,
                                                  const gchar         *cp_id);
gint64           evcp_test_central_get_stat      (EvcpTestCentral     *central,
                                                  const gchar         *name);
gboolean         evcp_test_central_log_contains  (EvcpTestCentral     *central,
                                                  const gchar         *needle);
/* Waits until the log holds @needle. */
gboolean         evcp_test_central_wait_log      (EvcpTestCentral     *central,
                                                  const gchar         *needle,
                                                  guint                timeout_ms);
/* Waits for the program to exit by itself; returns its exit status. */
gint             evcp_test_central_wait_exit     (EvcpTestCentral     *central,
                                                  guint                timeout_ms);
/* "quit", then evcp_test_central_wait_exit(). */
gint             evcp_test_central_quit          (EvcpTestCentral     *central);
/* Kills the program if it still runs. */
void             evcp_test_central_free          (EvcpTestCentral     *central);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EvcpTestCentral, evcp_test_central_free)

/* ------------------------------------------------------------------------- */
/* A fake Engine or Monitor */

typedef struct {
  EvcpFrameEventType  type;
  gchar              *data;    /* FRAME only */
  gint64              time;    /* monotonic, when it arrived */
} EvcpTestPeerEvent;

void evcp_test_peer_event_free (EvcpTestPeerEvent *event);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EvcpTestPeerEvent, evcp_test_peer_event_free)

typedef struct _EvcpTestPeer EvcpTestPeer;

/* Connects to 127.0.0.1:@port; frames received are ACKed unless
 * evcp_test_peer_set_auto_ack() says otherwise. */
EvcpTestPeer      *evcp_test_peer_connect        (guint16            port);
void               evcp_test_peer_set_auto_ack   (EvcpTestPeer      *peer,
                                                  gboolean           auto_ack);
void               evcp_test_peer_send           (EvcpTestPeer      *peer,
                                                  const gchar       *data);
void               evcp_test_peer_send_raw       (EvcpTestPeer      *peer,
                                                  gconstpointer      bytes,
                                                  gsize              len);
/* The next event, or NULL if none came within @timeout_ms. */
EvcpTestPeerEvent *evcp_test_peer_next           (EvcpTestPeer      *peer,
                                                  guint              timeout_ms);
/* How many events are waiting. */
guint              evcp_test_peer_pending        (EvcpTestPeer      *peer);
void               evcp_test_peer_expect_ack     (EvcpTestPeer      *peer);
void               evcp_test_peer_expect_nack    (EvcpTestPeer      *peer);
void               evcp_test_peer_expect_eot     (EvcpTestPeer      *peer);
/* Asserts that the next event is a frame and returns its DATA. */
gchar             *evcp_test_peer_expect_frame   (EvcpTestPeer      *peer);
/* Sends @data and asserts the ACK. */
void               evcp_test_peer_send_acked     (EvcpTestPeer      *peer,
                                                  const gchar       *data);
/* AUTH#cp#role#location#price, its ACK and AUTH_OK#cp. */
void               evcp_test_peer_auth           (EvcpTestPeer      *peer,
                                                  const gchar       *cp_id,
                                                  const gchar       *role);
/* Whether the other side closed the connection. */
gboolean           evcp_test_peer_is_closed      (EvcpTestPeer      *peer);
gboolean           evcp_test_peer_wait_closed    (EvcpTestPeer      *peer,
                                                  guint              timeout_ms);
void               evcp_test_peer_free           (EvcpTestPeer      *peer);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EvcpTestPeer, evcp_test_peer_free)

G_END_DECLS
