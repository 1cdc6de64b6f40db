/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The fake Central of the tests: a GSocketService on 127.0.0.1 speaking the
 * frame codec, scripted per test, that the Central client's tests and the
 * system tests (an Engine against it) share. Test code: a broken
 * expectation aborts the test. */
#pragma once

#include <gio/gio.h>

#include "evcp-frame-codec.h"

G_BEGIN_DECLS

#define EVCP_TEST_FAKE_CENTRAL_WAIT_MS 10000

typedef enum {
  EVCP_TEST_FAKE_ANSWER_ACK,
  EVCP_TEST_FAKE_ANSWER_NACK,
  EVCP_TEST_FAKE_ANSWER_SILENT,   /* no answer at all, and not acted on */
  EVCP_TEST_FAKE_ANSWER_LOST_ACK, /* acted on, but its ACK is lost */
  EVCP_TEST_FAKE_ANSWER_LATE,     /* ACK, but only after late_ms (later answers wait behind it) */
  EVCP_TEST_FAKE_ANSWER_CLOSE,    /* close the connection instead of answering */
} EvcpTestFakeAnswer;

typedef struct _EvcpTestFakeCentral EvcpTestFakeCentral;
typedef struct _EvcpTestFakeConn EvcpTestFakeConn;

/* Decides the answer to the @index-th frame received (0-based, over every
 * connection), whose DATA is @data. */
typedef EvcpTestFakeAnswer (*EvcpTestFakeAnswerFunc) (EvcpTestFakeCentral *fc, const gchar *data,
                                                      guint index, gpointer user_data);

/* The fields are the test's to read and to set before the client connects. */
struct _EvcpTestFakeCentral
{
  GSocketService *service;
  guint16         port;
  GPtrArray      *conns;        /* EvcpTestFakeConn, open or not */
  guint           accepted;
  GPtrArray      *frames;       /* DATA of every frame received, in order */
  GArray         *frame_conn;   /* the connection number of each */
  GArray         *frame_acks;   /* how many ACK bytes had come from the client before each */
  GArray         *frame_times;  /* gint64, monotonic µs, when each arrived */
  guint           next_frame;   /* the next one evcp_test_fake_central_next() gives */
  GPtrArray      *delivered;    /* reliable frames, duplicates (same seq) dropped */
  GHashTable     *seen_seqs;
  guint           duplicates;
  guint           acks;         /* ACK bytes from the client */
  guint           nacks;
  guint           eots;
  guint           bad;          /* BAD events (the fake Central NACKed them) */
  gboolean        passive;      /* ACK every frame, answer none (the test does) */
  gboolean        auth_ok;
  gboolean        auth_silent;  /* ACK AUTH, never answer it */
  const gchar    *auth_ko_reason;
  const gchar    *secret;       /* non-NULL: AUTH must name HMAC-SHA256 and prove it */
  gchar          *nonce;        /* of the last CHALLENGE */
  guint           challenges;
  guint           late_ms;      /* how late EVCP_TEST_FAKE_ANSWER_LATE answers */
  EvcpTestFakeAnswerFunc answer;
  gpointer        answer_data;
};

EvcpTestFakeCentral *evcp_test_fake_central_new          (void);
void                 evcp_test_fake_central_free         (EvcpTestFakeCentral *fc);
/* Central goes down: no more listening, every connection closed. */
void                 evcp_test_fake_central_down         (EvcpTestFakeCentral *fc);
/* Central comes back on the same port. */
void                 evcp_test_fake_central_up           (EvcpTestFakeCentral *fc);
/* The connection accepted last, if it is still open. */
EvcpTestFakeConn    *evcp_test_fake_central_current      (EvcpTestFakeCentral *fc);
void                 evcp_test_fake_central_send_raw     (EvcpTestFakeCentral *fc,
                                                          const void          *bytes,
                                                          gsize                len);
void                 evcp_test_fake_central_send         (EvcpTestFakeCentral *fc,
                                                          const gchar * const *fields);
/* Sends a frame (its DATA) and waits for the client's ACK. */
void                 evcp_test_fake_central_send_acked   (EvcpTestFakeCentral *fc,
                                                          const gchar         *data);
/* The next frame received that this has not given yet (waiting up to
 * @timeout_ms), and when it arrived; NULL if none came. */
const gchar         *evcp_test_fake_central_next         (EvcpTestFakeCentral *fc,
                                                          guint                timeout_ms,
                                                          gint64              *arrived_us);
/* evcp_test_fake_central_next(), which must be @expected. */
void                 evcp_test_fake_central_expect       (EvcpTestFakeCentral *fc,
                                                          const gchar         *expected,
                                                          gint64              *arrived_us);
/* Whether a connection was accepted and every one is closed now. */
gboolean             evcp_test_fake_central_wait_closed  (EvcpTestFakeCentral *fc,
                                                          guint                timeout_ms);
/* How many frames with this DATA, or starting with @prefix, were received. */
guint                evcp_test_fake_central_count        (EvcpTestFakeCentral *fc,
                                                          const gchar         *data);
guint                evcp_test_fake_central_count_prefix (EvcpTestFakeCentral *fc,
                                                          const gchar         *prefix);
/* The frames received, one per line, without AUTH and PING. */
gchar               *evcp_test_fake_central_transcript   (EvcpTestFakeCentral *fc);
/* The reliable frames delivered (duplicates dropped), one per line. */
gchar               *evcp_test_fake_central_delivered    (EvcpTestFakeCentral *fc);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EvcpTestFakeCentral, evcp_test_fake_central_free)

G_END_DECLS
