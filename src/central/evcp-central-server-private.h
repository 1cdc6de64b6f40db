/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What evcp-central-server.c and evcp-central-frames.c share. */

#include "evcp-central-kafka.h"
#include "evcp-central-link.h"
#include "evcp-central-registry.h"
#include "evcp-central-server.h"

G_BEGIN_DECLS

/* One accepted connection. Freed only from the server's prune, never while
 * one of its link's signals is being emitted. */
typedef struct {
  EvcpCentralServer       *server;
  EvcpCentralLink         *link;
  EvcpCentralCp           *cp;      /* NULL until AUTH_OK */
  EvcpCentralRegistryRole  role;
  gboolean                 dead;
  gint64                   accepted_at;  /* monotonic */
  gint64                   useful_at;    /* monotonic: the last frame of use */

  /* an AUTH waiting for its PROOF: nothing of it is applied before */
  struct {
    gchar                   *cp_id;   /* NULL: no CHALLENGE outstanding */
    EvcpCentralRegistryRole  role;
    gchar                   *location;
    gdouble                  price;
    gchar                   *nonce;
  } pending;
} EvcpCentralPeer;

struct _EvcpCentralServer
{
  GObject              parent_instance;

  EvcpCentralDb       *db;
  EvcpCentralRegistry *registry;
  GSocketService      *service;
  gchar               *address;
  guint16              port;
  guint                ack_timeout_ms;
  guint                max_resends;

  GPtrArray           *peers;   /* EvcpCentralPeer*, owned */
  GHashTable          *secrets; /* id → secret: those CPs must prove it in AUTH */
  gboolean             require_secret;
  EvcpCentralKafka    *kafka;
  guint                prune_id;
  guint                sweep_id;
  gboolean             shut_down;

  struct {
    guint max_connections;
    guint max_unauthenticated;
    guint auth_timeout_ms;
    guint idle_timeout_ms;
  } limits;

  struct {
    guint64 frames;
    guint64 bad;
    guint64 kafka_messages;
    guint64 auth_refused;
    guint64 dropped;          /* connections closed or refused by a limit */
  } stats;
};

/* evcp-central-frames.c */
EvcpCentralPeer *evcp_central_peer_new   (EvcpCentralServer *self,
                                          GSocketConnection *connection);
void             evcp_central_peer_free  (EvcpCentralPeer   *peer);
const gchar     *evcp_central_peer_name  (EvcpCentralPeer   *peer);

/* evcp-central-server.c: frees the closed peers soon */
void             evcp_central_server_schedule_prune (EvcpCentralServer *self);

G_END_DECLS
