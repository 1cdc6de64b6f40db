/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A full or read-only disk on demand, for the tests (LD_PRELOAD): while the
 * file named by $EVCP_FAILWRITE_FLAG exists, writes to regular files under
 * the directory $EVCP_FAILWRITE_DIR fail as they would on a full disk
 * ("ENOSPC" in the flag file, or an empty one: write() and fallocate() fail
 * with ENOSPC) or on a read-only one ("EROFS": opening a file there for
 * writing fails with EROFS, and so do writes to files already open).
 * Nothing else is touched: sockets, pipes, the log, files elsewhere. No
 * root, no mount: it works wherever LD_PRELOAD does (glibc). */
#undef _FILE_OFFSET_BITS   /* open and open64 are two symbols to wrap here */
#define _GNU_SOURCE

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

typedef int (*OpenFn) (const char *, int, ...);
typedef int (*OpenatFn) (int, const char *, int, ...);
typedef ssize_t (*WriteFn) (int, const void *, size_t);
typedef ssize_t (*WritevFn) (int, const struct iovec *, int);
typedef int (*FallocateFn) (int, int, off_t, off_t);

#define REAL(name, type) ((type) dlsym (RTLD_NEXT, name))

/* The errno to fail with now, or 0 while the flag file does not exist. */
static int
failing (void)
{
  const char *flag = getenv ("EVCP_FAILWRITE_FLAG");
  char mode[16] = "";
  ssize_t n;
  int fd;

  if (flag == NULL)
    return 0;
  fd = REAL ("open", OpenFn) (flag, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return 0;
  n = read (fd, mode, sizeof mode - 1);
  close (fd);
  return n >= 5 && strncmp (mode, "EROFS", 5) == 0 ? EROFS : ENOSPC;
}

static int
under_dir (const char *path)
{
  const char *dir = getenv ("EVCP_FAILWRITE_DIR");
  size_t len;

  if (dir == NULL || path == NULL)
    return 0;
  len = strlen (dir);
  return strncmp (path, dir, len) == 0 && (path[len] == '/' || path[len] == '\0');
}

/* The errno a write to @fd must fail with, or 0. */
static int
fd_fails (int fd)
{
  char link[64], path[PATH_MAX];
  struct stat st;
  ssize_t n;
  int code = failing ();

  if (code == 0 || fstat (fd, &st) != 0 || !S_ISREG (st.st_mode))
    return 0;
  snprintf (link, sizeof link, "/proc/self/fd/%d", fd);
  n = readlink (link, path, sizeof path - 1);
  if (n <= 0)
    return 0;
  path[n] = '\0';
  return under_dir (path) ? code : 0;
}

static int
open_fails (int dirfd, const char *path, int flags)
{
  char full[PATH_MAX];

  if ((flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC)) == 0 || failing () != EROFS)
    return 0;
  if (path[0] != '/' && dirfd == AT_FDCWD && getcwd (full, sizeof full) != NULL)
    {
      size_t len = strlen (full);

      snprintf (full + len, sizeof full - len, "/%s", path);
      path = full;
    }
  return under_dir (path) ? EROFS : 0;
}

static mode_t
mode_arg (int flags, va_list ap)
{
  return (flags & (O_CREAT | O_TMPFILE)) ? (mode_t) va_arg (ap, int) : 0;
}

#define DEFINE_OPEN(name)                                          \
  int name (const char *path, int flags, ...)                      \
  {                                                                \
    va_list ap;                                                    \
    mode_t mode;                                                   \
    int code = open_fails (AT_FDCWD, path, flags);                 \
                                                                   \
    va_start (ap, flags);                                          \
    mode = mode_arg (flags, ap);                                   \
    va_end (ap);                                                   \
    if (code != 0)                                                 \
      {                                                            \
        errno = code;                                              \
        return -1;                                                 \
      }                                                            \
    return REAL (#name, OpenFn) (path, flags, mode);               \
  }

#define DEFINE_OPENAT(name)                                        \
  int name (int dirfd, const char *path, int flags, ...)           \
  {                                                                \
    va_list ap;                                                    \
    mode_t mode;                                                   \
    int code = open_fails (dirfd, path, flags);                    \
                                                                   \
    va_start (ap, flags);                                          \
    mode = mode_arg (flags, ap);                                   \
    va_end (ap);                                                   \
    if (code != 0)                                                 \
      {                                                            \
        errno = code;                                              \
        return -1;                                                 \
      }                                                            \
    return REAL (#name, OpenatFn) (dirfd, path, flags, mode);      \
  }

DEFINE_OPEN (open)
DEFINE_OPEN (open64)
DEFINE_OPENAT (openat)
DEFINE_OPENAT (openat64)

ssize_t
write (int fd, const void *buf, size_t count)
{
  int code = fd_fails (fd);

  if (code != 0)
    {
      errno = code;
      return -1;
    }
  return REAL ("write", WriteFn) (fd, buf, count);
}

ssize_t
writev (int fd, const struct iovec *iov, int iovcnt)
{
  int code = fd_fails (fd);

  if (code != 0)
    {
      errno = code;
      return -1;
    }
  return REAL ("writev", WritevFn) (fd, iov, iovcnt);
}

#define DEFINE_FALLOCATE(name)                                     \
  int name (int fd, int mode, off_t offset, off_t len)             \
  {                                                                \
    int code = fd_fails (fd);                                      \
                                                                   \
    if (code != 0)                                                 \
      {                                                            \
        errno = code;                                              \
        return -1;                                                 \
      }                                                            \
    return REAL (#name, FallocateFn) (fd, mode, offset, len);      \
  }

DEFINE_FALLOCATE (fallocate)
DEFINE_FALLOCATE (fallocate64)
