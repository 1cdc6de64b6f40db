/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#ifdef G_OS_UNIX
#include <pthread.h>
#include <signal.h>
#endif

G_BEGIN_DECLS

/*
 * rd_kafka_mock_cluster_new() with the mock cluster's thread deaf to signals.
 *
 * librdkafka blocks every signal in the threads of rd_kafka_new(), but 2.0.2
 * starts the mock cluster's thread with its caller's mask. A signal delivered
 * to that thread (SIGTERM to evcp-kafka-mock, GLib's SIGCHLD in a test that
 * spawns children) interrupts its poll(), which it takes as fatal ("Mock
 * cluster failed to poll 2 fds: -1: Interrupted system call"): the thread
 * ends, the cluster stops answering, and rd_kafka_mock_cluster_destroy() then
 * reads memory that the thread freed (valgrind: invalid reads). Created with
 * every signal blocked, the thread inherits that mask, and signals go to the
 * process's other threads.
 */
static inline rd_kafka_mock_cluster_t *
evcp_kafka_mock_cluster_new (rd_kafka_t *rk, int n_brokers)
{
#ifdef G_OS_UNIX
  sigset_t all, old;
  rd_kafka_mock_cluster_t *mcluster;

  sigfillset (&all);
  pthread_sigmask (SIG_BLOCK, &all, &old);
  mcluster = rd_kafka_mock_cluster_new (rk, n_brokers);
  pthread_sigmask (SIG_SETMASK, &old, NULL);
  return mcluster;
#else
  return rd_kafka_mock_cluster_new (rk, n_brokers);
#endif
}

G_END_DECLS
