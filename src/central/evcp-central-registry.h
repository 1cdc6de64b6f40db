/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "evcp-central-db.h"

G_BEGIN_DECLS

/*
 * The registry of evcp-central: what it knows of each CP (its Engine's
 * state, the Monitor's fault, the session in progress, the tickets), kept
 * in step with an EvcpCentralDb. Reliable events (STATE, TICKET, FAULT,
 * RECOVERED) are deduplicated by (cp, role, seq) whether they came over a
 * link or from Kafka; gaps in the seqs of a link are counted. No socket:
 * the frames (evcp-central-frames.c) and the Kafka mapping
 * (evcp-central-kafka-mapping.c) apply what they read here.
 */

typedef enum {
  EVCP_CENTRAL_REGISTRY_ENGINE,
  EVCP_CENTRAL_REGISTRY_MONITOR,
  EVCP_CENTRAL_REGISTRY_N_ROLES
} EvcpCentralRegistryRole;

/* where an event came from, as recorded */
#define EVCP_CENTRAL_SOURCE_LINK  "link"
#define EVCP_CENTRAL_SOURCE_KAFKA "kafka"

/* One charging point; lives as long as the registry. */
typedef struct {
  gchar    *id;
  gchar    *location;
  gdouble   price_eur_kwh;

  gchar    *engine_state;     /* from STATE, NULL if never heard */
  gint64    state_seq;        /* seq of that state, -1 if unknown */
  gboolean  fault;            /* the Monitor says FAULT */
  gchar    *fault_reason;
  gint64    monitor_seq;      /* seq of the last status from the Monitor */
  gchar    *stored_state;     /* what the database holds */

  gpointer  peers[EVCP_CENTRAL_REGISTRY_N_ROLES];   /* the server's connections, or NULL */
  gint64    link_seq[EVCP_CENTRAL_REGISTRY_N_ROLES]; /* highest seq seen on the link, for gaps */
  GHashTable *kafka_seqs[EVCP_CENTRAL_REGISTRY_N_ROLES]; /* seqs above link_seq seen on Kafka */
  GHashTable *missing[EVCP_CENTRAL_REGISTRY_N_ROLES]; /* seq → deadline (µs): skipped on the link, awaited on Kafka */

  gchar    *session_id;
  gchar    *driver;
  gdouble   kwh;
  gdouble   eur;
  gchar    *ended_session;    /* telemetry for it comes too late */

  gint64    last_seen;        /* g_get_real_time(), 0 if never */
  guint     tickets;
} EvcpCentralCp;

typedef struct {
  guint64 duplicates;
  guint64 duplicate_tickets;
  guint64 gaps;
} EvcpCentralRegistryStats;

typedef struct _EvcpCentralRegistry EvcpCentralRegistry;

EvcpCentralRegistry *evcp_central_registry_new     (EvcpCentralDb        *db);
void                 evcp_central_registry_free    (EvcpCentralRegistry  *self);
/* Called whenever what is shown changed. */
void                 evcp_central_registry_set_changed_func (EvcpCentralRegistry *self,
                                                             void (*func) (gpointer user_data),
                                                             gpointer             user_data);
void                 evcp_central_registry_changed (EvcpCentralRegistry  *self);
/* The CPs the database knows, disconnected. */
void                 evcp_central_registry_load    (EvcpCentralRegistry  *self);

EvcpCentralCp       *evcp_central_registry_lookup  (EvcpCentralRegistry  *self,
                                                    const gchar          *id);
EvcpCentralCp       *evcp_central_registry_ensure  (EvcpCentralRegistry  *self,
                                                    const gchar          *id);
/* The ids, sorted. (transfer container) */
GList               *evcp_central_registry_get_ids (EvcpCentralRegistry  *self);
const EvcpCentralRegistryStats *evcp_central_registry_get_stats (EvcpCentralRegistry *self);

/* A connection authenticated as this CP's Engine or Monitor. */
void     evcp_central_registry_connected        (EvcpCentralRegistry     *self,
                                                 EvcpCentralCp           *cp,
                                                 const gchar             *location,
                                                 gdouble                  price);
#define EVCP_CENTRAL_GAP_GRACE_MS 15000

/* Whether this Central consumes Kafka: then a seq the link skips may come
 * by Kafka (telemetry, refusals, the Monitor's periodic events take seqs
 * that only Kafka carries) and is a gap only if it did not within
 * @grace_ms. */
void evcp_central_registry_set_kafka (EvcpCentralRegistry *self, gboolean consuming, guint grace_ms);
/* A seq seen on Kafka, for the gap accounting of the link. */
void evcp_central_registry_note_kafka_seq (EvcpCentralRegistry *self, EvcpCentralCp *cp, EvcpCentralRegistryRole role,
                                           gint64 seq);
void     evcp_central_registry_check_link_seq   (EvcpCentralRegistry     *self,
                                                 EvcpCentralCp           *cp,
                                                 EvcpCentralRegistryRole  role,
                                                 gint64                   seq);
gboolean evcp_central_registry_set_engine_state (EvcpCentralRegistry     *self,
                                                 EvcpCentralCp           *cp,
                                                 const gchar             *state,
                                                 gint64                   seq);
void     evcp_central_registry_apply_state      (EvcpCentralRegistry     *self,
                                                 EvcpCentralCp           *cp,
                                                 const gchar             *state,
                                                 gint64                   seq,
                                                 const gchar             *source);
gboolean evcp_central_registry_apply_ticket     (EvcpCentralRegistry     *self,
                                                 EvcpCentralCp           *cp,
                                                 const EvcpCentralTicket *ticket);
void     evcp_central_registry_apply_fault      (EvcpCentralRegistry     *self,
                                                 EvcpCentralCp           *cp,
                                                 const gchar             *reason,
                                                 gint64                   seq,
                                                 const gchar             *source);
void     evcp_central_registry_apply_recovered  (EvcpCentralRegistry     *self,
                                                 EvcpCentralCp           *cp,
                                                 gint64                   seq,
                                                 const gchar             *source);
/* The Monitor's periodic status (not a change): nothing recorded. */
void     evcp_central_registry_monitor_status   (EvcpCentralRegistry     *self,
                                                 EvcpCentralCp           *cp,
                                                 gint64                   seq,
                                                 gboolean                 ko,
                                                 const gchar             *reason);
void     evcp_central_registry_add_refusal      (EvcpCentralRegistry     *self,
                                                 EvcpCentralCp           *cp,
                                                 const gchar             *detail,
                                                 gint64                   seq,
                                                 const gchar             *source);

const gchar *evcp_central_cp_displayed_state (EvcpCentralCp *cp);
void         evcp_central_cp_touch           (EvcpCentralCp *cp);
void         evcp_central_cp_set_session     (EvcpCentralCp *cp,
                                              const gchar   *session_id,
                                              const gchar   *driver,
                                              gdouble        kwh,
                                              gdouble        eur);

const gchar *evcp_central_role_name       (EvcpCentralRegistryRole role);
gboolean     evcp_central_is_engine_state (const gchar *state);
gboolean     evcp_central_parse_seq       (const gchar *text,
                                           gint64      *seq);
gboolean     evcp_central_parse_amount    (const gchar *text,
                                           gdouble     *value);
gchar       *evcp_central_format_amount   (gdouble      value,
                                           const gchar *format);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EvcpCentralRegistry, evcp_central_registry_free)

G_END_DECLS
