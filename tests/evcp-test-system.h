/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Helpers for the tests of the whole system (tests/test-system.c,
 * tests/test-durability.c, tests/test-faketime.c): real evcp-engine processes
 * next to evcp-central (tests/evcp-test-central.h) and evcp-kafka-mock
 * (tests/evcp-test-util.h), what the Engine publishes on charging_sessions,
 * the Engine's health check, the Central's database read-only, and whether a
 * consumer group has committed every message of a topic.
 *
 * Test code: a broken expectation aborts the test. */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <librdkafka/rdkafka.h>

#include "evcp-test-util.h"

G_BEGIN_DECLS

/* ------------------------------------------------------------------------- */
/* charging_sessions, as a test consumer sees it */

/**
 * EvcpSysEvent:
 * One event of charging_sessions, parsed; the strings are NULL when absent,
 * @seq is -1 without data.seq, @timestamp_us 0 without a timestamp.
 * @arrived_us is the test's monotonic clock when the consumer got it,
 * @arrived_wall_us the test's (real) wall clock then.
 */
typedef struct {
  gchar    *kind;
  gchar    *key;
  gchar    *cp_id;
  gchar    *session_id;
  gchar    *user_id;
  gchar    *reason;
  gchar    *source;
  gdouble   power_kw;
  gdouble   kwh;
  gdouble   eur;
  gint64    seq;
  gboolean  replayed;
  gint64    timestamp_us;
  gint64    arrived_us;
  gint64    arrived_wall_us;
} EvcpSysEvent;

typedef struct _EvcpSysSessions EvcpSysSessions;

/* A consumer of every partition of charging_sessions from its beginning. */
EvcpSysSessions    *evcp_sys_sessions_new   (const gchar      *bootstrap);
/* Takes in what has arrived, without waiting. */
void                evcp_sys_sessions_poll  (EvcpSysSessions  *sessions);
/* Every event so far, in arrival order. (transfer none) (element-type EvcpSysEvent) */
GPtrArray          *evcp_sys_sessions_all   (EvcpSysSessions  *sessions);
/* The events of @kind (NULL: any) whose user_id and session_id match the
 * given ones (NULL: any), in arrival order. (transfer container) */
GPtrArray          *evcp_sys_sessions_find  (EvcpSysSessions  *sessions,
                                             const gchar      *kind,
                                             const gchar      *user_id,
                                             const gchar      *session_id);
/* The first such event, waiting up to @timeout_ms for it; NULL if none came. */
const EvcpSysEvent *evcp_sys_sessions_wait  (EvcpSysSessions  *sessions,
                                             const gchar      *kind,
                                             const gchar      *user_id,
                                             const gchar      *session_id,
                                             guint             timeout_ms);
/* Waits until there are at least @count such events. */
gboolean            evcp_sys_sessions_wait_count (EvcpSysSessions *sessions,
                                                  const gchar     *kind,
                                                  const gchar     *user_id,
                                                  const gchar     *session_id,
                                                  guint            count,
                                                  guint            timeout_ms);
void                evcp_sys_sessions_free  (EvcpSysSessions  *sessions);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EvcpSysSessions, evcp_sys_sessions_free)

/* A CHARGING_REQUEST for @cp_id, produced to charging_requests with the CP as key. */
void evcp_sys_produce_request (const gchar *bootstrap,
                               const gchar *cp_id,
                               const gchar *user_id,
                               gdouble      power_kw,
                               gint64       max_duration_s);

/* ------------------------------------------------------------------------- */
/* The evcp-engine program ($EVCP_ENGINE) */

typedef struct {
  const gchar         *cp_id;
  const gchar         *brokers;
  const gchar         *group_id;     /* NULL: the Engine's default */
  guint16              central_port;
  const gchar         *state_dir;    /* STATE_DIRECTORY and --state-dir: exactly there */
  const gchar         *config;       /* --config, NULL for none */
  const gchar         *log_path;     /* stdout and stderr */
  const gchar * const *extra_env;    /* NAME=VALUE, NULL-terminated, or NULL */
} EvcpSysEngineOptions;

typedef struct _EvcpSysEngine EvcpSysEngine;

/* Spawns evcp-engine --verbose --no-keys with those settings and a free
 * ENGINE_PORT (its health server). */
EvcpSysEngine *evcp_sys_engine_spawn        (const EvcpSysEngineOptions *options);
GSubprocess   *evcp_sys_engine_get_subprocess (EvcpSysEngine *engine);
guint16        evcp_sys_engine_get_health_port (EvcpSysEngine *engine);
const gchar   *evcp_sys_engine_get_log_path (EvcpSysEngine *engine);
gboolean       evcp_sys_engine_log_contains (EvcpSysEngine *engine,
                                             const gchar   *needle);
gboolean       evcp_sys_engine_wait_log     (EvcpSysEngine *engine,
                                             const gchar   *needle,
                                             guint          timeout_ms);
gboolean       evcp_sys_engine_is_running   (EvcpSysEngine *engine);
void           evcp_sys_engine_signal       (EvcpSysEngine *engine,
                                             gint           signum);
/* SIGKILL, and waits until it is gone; asserts it died of that signal. */
void           evcp_sys_engine_kill         (EvcpSysEngine *engine);
/* SIGTERM, and waits for the exit; returns the exit status (-1 if killed). */
gint           evcp_sys_engine_term         (EvcpSysEngine *engine);
/* Kills the program if it still runs (SIGKILL). */
void           evcp_sys_engine_free         (EvcpSysEngine *engine);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EvcpSysEngine, evcp_sys_engine_free)

/* One health check as the Monitor does it: HEALTH#<cp> on 127.0.0.1:@port;
 * returns the answer's DATA ("OK#<cp>" or "KO#<cp>#<reason>"), which is
 * ACKed. Blocking, with a 5 s deadline on every read. */
gchar *evcp_sys_health_check (guint16 port, const gchar *cp_id);

/* The records still in the Engine's outbox file (0 if there is none),
 * and its next_seq (1 if there is none). */
guint   evcp_sys_outbox_pending  (const gchar *state_dir);
gint64  evcp_sys_outbox_next_seq (const gchar *state_dir);

/* ------------------------------------------------------------------------- */
/* evcp-central's database, read-only */

typedef struct {
  gchar   *session_id;
  gchar   *driver;
  gchar   *reason;
  gchar   *source;
  gdouble  kwh;
  gdouble  eur;
  gint64   seq;     /* -1 if NULL */
} EvcpSysTicket;

void           evcp_sys_ticket_free   (EvcpSysTicket *ticket);
/* The tickets of @cp_id, in the order they were recorded. (element-type EvcpSysTicket) */
GPtrArray     *evcp_sys_db_tickets    (const gchar *db_path,
                                       const gchar *cp_id);
/* The seqs applied for (@cp_id, @role), ascending. (element-type gint64) */
GArray        *evcp_sys_db_seqs       (const gchar *db_path,
                                       const gchar *cp_id,
                                       const gchar *role);
/* The number of rows of events for @cp_id of @kind whose detail is @detail
 * (NULL: any). */
guint          evcp_sys_db_count_events (const gchar *db_path,
                                         const gchar *cp_id,
                                         const gchar *kind,
                                         const gchar *detail);

/* The ticket of @session_id among @tickets, or NULL. */
const EvcpSysTicket *evcp_sys_tickets_find (GPtrArray   *tickets,
                                            const gchar *session_id);

/* ------------------------------------------------------------------------- */
/* Whether a consumer group has committed every message of a topic */

typedef struct _EvcpSysGroupWatch EvcpSysGroupWatch;

/* A client that never joins @group_id, only reads its committed offsets. */
EvcpSysGroupWatch *evcp_sys_group_watch_new     (const gchar       *bootstrap,
                                                 const gchar       *group_id,
                                                 const gchar       *topic);
/* Whether, for every partition of the topic, the committed offset of the
 * group is at the end of the partition (high watermark): no message of it
 * can be delivered to the group again. */
gboolean           evcp_sys_group_caught_up     (EvcpSysGroupWatch *watch);
void               evcp_sys_group_watch_free    (EvcpSysGroupWatch *watch);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EvcpSysGroupWatch, evcp_sys_group_watch_free)

/* ------------------------------------------------------------------------- */
/* Odds and ends */

/* Waits until the test's monotonic clock reaches @when_us (for a kill at a
 * chosen moment), iterating the main context meanwhile. */
void     evcp_sys_wait_until_time (gint64 when_us);

/* Counts the lines of a file that contain @needle. */
guint    evcp_sys_count_in_file   (const gchar *path,
                                   const gchar *needle);

/* Prints a file into the test log (for failures). */
void     evcp_sys_dump_file       (const gchar *path);

G_END_DECLS
