/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The record of the requests already served: durable, bounded, and read
 * back from whatever a previous process left. */
#include "evcp-build-config.h"

#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>
#ifdef G_OS_UNIX
#include <unistd.h>
#endif

#include "evcp-request-log.h"

typedef struct {
  gchar *dir;
  gchar *path;
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  f->dir = g_dir_make_tmp ("evcp-request-log-XXXXXX", &error);
  g_assert_no_error (error);
  f->path = g_build_filename (f->dir, "requests.log", NULL);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_unlink (f->path);
  g_rmdir (f->dir);
  g_free (f->path);
  g_free (f->dir);
}

static void
test_durable (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  {
    g_autoptr(EvcpRequestLog) log = evcp_request_log_open (f->path, 8, &error);

    g_assert_no_error (error);
    g_assert_false (evcp_request_log_contains (log, "charging_requests/0/7/1234abcd"));
    g_assert_true (evcp_request_log_add (log, "charging_requests/0/7/1234abcd", &error));
    g_assert_true (evcp_request_log_add (log, "id:r-1", &error));
    g_assert_true (evcp_request_log_add (log, "id:r-1", &error));   /* once */
    g_assert_true (evcp_request_log_contains (log, "id:r-1"));
    g_assert_cmpuint (evcp_request_log_get_size (log), ==, 2);
  }
  {
    /* another process: the same */
    g_autoptr(EvcpRequestLog) log = evcp_request_log_open (f->path, 8, &error);

    g_assert_no_error (error);
    g_assert_true (evcp_request_log_contains (log, "charging_requests/0/7/1234abcd"));
    g_assert_true (evcp_request_log_contains (log, "id:r-1"));
    g_assert_false (evcp_request_log_contains (log, "id:r-2"));
    g_assert_false (evcp_request_log_contains (log, NULL));
  }
}

/* the last @capacity are kept, in memory and, rewritten, on disk */
static void
test_bounded (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(EvcpRequestLog) log = evcp_request_log_open (f->path, 16, &error);
  GStatBuf st;

  g_assert_no_error (error);
  for (guint i = 0; i < 1000; i++)
    {
      g_autofree gchar *id = g_strdup_printf ("id:r-%u", i);

      g_assert_true (evcp_request_log_add (log, id, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (evcp_request_log_get_size (log), <=, 16);
    }
  g_assert_false (evcp_request_log_contains (log, "id:r-983"));
  g_assert_true (evcp_request_log_contains (log, "id:r-984"));
  g_assert_true (evcp_request_log_contains (log, "id:r-999"));
  g_assert_cmpint (g_stat (f->path, &st), ==, 0);
  g_assert_cmpint (st.st_size, <, 2 * 16 * 10);
  g_clear_pointer (&log, evcp_request_log_free);
  log = evcp_request_log_open (f->path, 16, &error);
  g_assert_true (evcp_request_log_contains (log, "id:r-999"));
  g_assert_true (evcp_request_log_contains (log, "id:r-984"));
}

/* a file cut in the middle of a line (a crash), or grown huge: read without
 * taking the cut line, and only its end */
static void
test_hostile_file (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) huge = g_string_new (NULL);
  g_autoptr(EvcpRequestLog) log = NULL;

  g_assert_true (g_file_set_contents (f->path, "id:a\nid:b\nid:c-cut", -1, &error));
  log = evcp_request_log_open (f->path, 8, &error);
  g_assert_no_error (error);
  g_assert_true (evcp_request_log_contains (log, "id:b"));
  g_assert_false (evcp_request_log_contains (log, "id:c-cut"));
  g_clear_pointer (&log, evcp_request_log_free);

  /* 64 MB of one line, then ids */
  for (guint i = 0; i < 64 * 1024; i++)
    g_string_append (huge, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
  g_string_append (huge, "\nid:last\n");
  g_assert_true (g_file_set_contents (f->path, huge->str, (gssize) huge->len, &error));
  log = evcp_request_log_open (f->path, 8, &error);
  g_assert_no_error (error);
  g_assert_true (evcp_request_log_contains (log, "id:last"));
  g_assert_cmpuint (evcp_request_log_get_size (log), ==, 1);
  g_clear_pointer (&log, evcp_request_log_free);

#ifdef G_OS_UNIX
  /* not a regular file: refused, nothing read from it */
  g_unlink (f->path);
  g_assert_cmpint (symlink ("/dev/zero", f->path), ==, 0);
  log = evcp_request_log_open (f->path, 8, &error);
  g_assert_null (log);
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
#endif
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/request-log/durable", Fixture, NULL, fixture_set_up, test_durable, fixture_tear_down);
  g_test_add ("/request-log/bounded", Fixture, NULL, fixture_set_up, test_bounded, fixture_tear_down);
  g_test_add ("/request-log/hostile-file", Fixture, NULL, fixture_set_up, test_hostile_file, fixture_tear_down);
  return g_test_run ();
}
