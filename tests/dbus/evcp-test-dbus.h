/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Helpers of suite dbus: a private dbus-daemon per test, with a config
 * written by the test and a service directory filled with activation files
 * for the build tree's programs, so that a call to org.evcp.Engine starts
 * the Engine as D-Bus activation does; programs run as processes with a
 * deadline (evcpctl, gdbus, setpriv). Waits use deadlines, never sleeps.
 *
 * The build gives the programs' paths in the environment: EVCP_ENGINE,
 * EVCP_MONITOR, EVCP_CTL, EVCP_KAFKA_MOCK, EVCP_DBUS_POLICY (the policy as
 * built), EVCP_DBUS_DATADIR (data/ as built).
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "evcp-test-util.h"

G_BEGIN_DECLS

#define EVCP_TEST_DBUS_WAIT_MS 30000
#define EVCP_TEST_DBUS_CP      "CP-DBUS"

typedef struct {
  gchar           *dir;          /* everything of this bus: config, socket, logs, states */
  gchar           *services_dir; /* its <servicedir> */
  gchar           *address;
  gchar           *log;          /* dbus-daemon's stderr, and the activated services' */
  GSubprocess     *daemon;
  GDBusConnection *connection;   /* the test's own */
  guint16          engine_port;  /* the Engine's health port (ENGINE_PORT) */
  guint16          central_port; /* a Central nobody listens on */
  gchar           *brokers;      /* KAFKA brokers of the activated services */
} EvcpTestBus;

/* The path of a program of the build ($var), or aborts. */
const gchar *evcp_test_dbus_program (const gchar *var);

/**
 * evcp_test_bus_new:
 * @brokers: (nullable): Kafka for the activated services; %NULL for an
 *   address nobody listens on (the Engine runs without Kafka)
 *
 * A fresh directory (0755, so that an unprivileged user may reach a socket
 * in it) with the activation files of org.evcp.Engine and org.evcp.Monitor
 * for the build tree: evcp-engine --session --cp-id CP-DBUS, evcp-monitor
 * --session --interval-ms 100, each with a state directory of its own there,
 * sharing a free ENGINE_PORT. No daemon yet: evcp_test_bus_start().
 */
EvcpTestBus *evcp_test_bus_new            (const gchar  *brokers);

/**
 * evcp_test_bus_start:
 * @extra_config: (nullable): XML inserted in <busconfig> (policies, includes);
 *   %NULL for a session bus that allows everything
 * @type: "session" or "system"
 *
 * Writes the config (listen on unix:path=DIR/bus, servicedir), starts
 * dbus-daemon with it (the environment of activated services: the bus's
 * address as DBUS_SESSION_BUS_ADDRESS and DBUS_SYSTEM_BUS_ADDRESS,
 * ENGINE_PORT, CENTRAL_HOST and CENTRAL_PORT) and connects to it.
 *
 * Returns: whether dbus-daemon loaded the config and listens (@error: why not).
 */
gboolean     evcp_test_bus_start          (EvcpTestBus  *bus,
                                           const gchar  *type,
                                           const gchar  *extra_config,
                                           GError      **error);

/* Kills dbus-daemon (SIGTERM) and waits for it; the connection closes. */
void         evcp_test_bus_stop_daemon    (EvcpTestBus  *bus);

/* Whether @name has an owner now. */
gboolean     evcp_test_bus_has_owner      (EvcpTestBus  *bus,
                                           const gchar  *name);
/* Waits until @name has an owner (@owned) or none. */
gboolean     evcp_test_bus_wait_owner     (EvcpTestBus  *bus,
                                           const gchar  *name,
                                           gboolean      owned,
                                           guint         timeout_ms);
/* The pid of @name's owner, or 0. */
guint32      evcp_test_bus_get_pid        (EvcpTestBus  *bus,
                                           const gchar  *name);

/* SIGTERM to @name's owner and waits until the name is released. */
gboolean     evcp_test_bus_stop_service   (EvcpTestBus  *bus,
                                           const gchar  *name);

/* Stops the services, the daemon, prints the log if the test failed,
 * removes the directory. */
void         evcp_test_bus_free           (EvcpTestBus  *bus);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EvcpTestBus, evcp_test_bus_free)

/* Waits until a process has exited (also a zombie of another parent). */
gboolean     evcp_test_pid_wait_gone      (guint32       pid,
                                           guint         timeout_ms);

/* ---- programs ----------------------------------------------------------- */

typedef struct {
  gint   status;     /* exit status; -1 if killed by a signal or timed out */
  gchar *out;
  gchar *err;
} EvcpTestRun;

void         evcp_test_run_free           (EvcpTestRun  *run);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EvcpTestRun, evcp_test_run_free)

/**
 * evcp_test_run:
 * @env: (nullable): NAME=VALUE entries added to the environment
 * @argv: the program and its arguments
 *
 * Runs a program with pipes on its output, iterating the thread-default
 * main context meanwhile, killing it after EVCP_TEST_DBUS_WAIT_MS.
 */
EvcpTestRun *evcp_test_run                (const gchar * const *env,
                                           const gchar * const *argv);

/* The same as an unprivileged user (nobody, with setpriv or runuser).
 * %NULL if that is not possible here: @why says why. */
EvcpTestRun *evcp_test_run_unprivileged   (const gchar * const *env,
                                           const gchar * const *argv,
                                           gchar              **why);

/* Parses @text as JSON, or fails the test. */
JsonNode    *evcp_test_parse_json         (const gchar  *text);

/* Whether a file contains @needle (for logs). */
gboolean     evcp_test_file_contains      (const gchar  *path,
                                           const gchar  *needle);

G_END_DECLS
