/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* evcp-kafka-mock: TCP_NODELAY on the mock brokers' connections (Linux).
 *
 * librdkafka 2.0.2's mock cluster accepts its clients' connections with
 * accept() and leaves Nagle's algorithm on, which no real Kafka broker
 * does (its socket server sets TCP_NODELAY). When a client has two
 * requests in flight on one connection, the second small response then
 * waits for the client's delayed ACK of the first: about 40 ms on Linux,
 * a stall now and then that a real broker never causes and that made the
 * dispatch benchmark bimodal. The mock offers no hook for its server
 * sockets, so this program, which links librdkafka, defines accept()
 * itself: the dynamic linker binds librdkafka's calls to it, and it calls
 * the C library's accept() and disables Nagle on the new socket. Only this
 * test and demo program does this; evcp-engine and evcp-monitor talk to
 * real brokers with librdkafka's own sockets. */
#define _GNU_SOURCE

#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <sys/socket.h>

int accept (int fd, struct sockaddr *addr, socklen_t *len);

int
accept (int fd, struct sockaddr *addr, socklen_t *len)
{
  static int (*libc_accept) (int, struct sockaddr *, socklen_t *);
  int s;

  if (libc_accept == NULL)
    libc_accept = (int (*) (int, struct sockaddr *, socklen_t *)) dlsym (RTLD_NEXT, "accept");
  s = libc_accept (fd, addr, len);
  if (s >= 0)
    {
      int one = 1;
      struct sockaddr_storage local;
      socklen_t local_len = sizeof local;

      /* TCP sockets only (loopback TCP is all the mock listens on) */
      if (getsockname (s, (struct sockaddr *) &local, &local_len) == 0 &&
          (local.ss_family == AF_INET || local.ss_family == AF_INET6))
        (void) setsockopt (s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
  return s;
}
