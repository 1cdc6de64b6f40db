/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "evcp-build-config.h"

#include <string.h>

#include <gio/gio.h>

#include "evcp-callback-handler.h"
#include "evcp-dispatcher.h"
#include "evcp-error.h"

/* A handler for one kind that records its calls and fails on demand. */
typedef struct {
  const gchar *name;
  guint        calls;
  guint        fail_times;   /* fail this many times first */
  gboolean     permanent;    /* fail with a permanent error */
  /* actions run inside handle() */
  EvcpDispatcher *dispatcher;
  const gchar    *unregister_name;
  EvcpMessageHandler *register_handler;
} Probe;

static gboolean
probe_handle (EvcpMessage *message, gpointer user_data, GError **error)
{
  Probe *probe = user_data;

  probe->calls++;
  if (probe->unregister_name != NULL)
    {
      g_assert_true (evcp_dispatcher_unregister (probe->dispatcher, probe->unregister_name, NULL));
      probe->unregister_name = NULL;
    }
  if (probe->register_handler != NULL)
    {
      g_assert_true (evcp_dispatcher_register (probe->dispatcher, probe->register_handler, NULL));
      probe->register_handler = NULL;
    }
  if (probe->fail_times > 0)
    {
      probe->fail_times--;
      if (probe->permanent)
        g_set_error (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE, "%s refuses", probe->name);
      else
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_BUSY, "%s is busy", probe->name);
      return FALSE;
    }
  return TRUE;
}

static EvcpMessageHandler *
probe_handler (Probe *probe, const gchar *kind)
{
  return evcp_callback_handler_new (probe->name, kind, probe_handle, probe, NULL);
}

typedef struct {
  guint   done;
  GError *error;
} Outcome;

static void
on_done (EvcpDispatcher *self, EvcpMessage *message, const GError *error, gpointer user_data)
{
  Outcome *outcome = user_data;

  outcome->done++;
  g_clear_error (&outcome->error);
  if (error != NULL)
    outcome->error = g_error_copy (error);
}

static EvcpMessage *
msg (const gchar *kind)
{
  g_autofree gchar *json = g_strdup_printf ("{\"kind\":\"%s\",\"data\":{}}", kind);
  g_autoptr(GError) error = NULL;
  EvcpMessage *m = evcp_message_new_from_json (json, &error);

  g_assert_no_error (error);
  return m;
}

static gboolean
outcome_done (gpointer data)
{
  return ((Outcome *) data)->done > 0;
}

static void
wait_done (Outcome *outcome, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + timeout_ms * 1000;

  while (!outcome_done (outcome) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (outcome->done, ==, 1);
}

static void
test_routing (void)
{
  g_autoptr(EvcpDispatcher) d = evcp_dispatcher_new ();
  Probe a = { .name = "a" }, b = { .name = "b" }, all = { .name = "all" };
  g_autoptr(EvcpMessageHandler) ha = probe_handler (&a, "A");
  g_autoptr(EvcpMessageHandler) hb = probe_handler (&b, "B");
  g_autoptr(EvcpMessageHandler) hall = probe_handler (&all, NULL);
  g_autoptr(EvcpMessage) ma = msg ("A");
  g_autoptr(EvcpMessage) mb = msg ("B");
  Outcome o1 = { 0 }, o2 = { 0 };
  g_autoptr(GError) error = NULL;

  g_assert_true (evcp_dispatcher_register (d, ha, &error));
  g_assert_true (evcp_dispatcher_register (d, hb, &error));
  g_assert_true (evcp_dispatcher_register (d, hall, &error));
  /* names are unique */
  g_assert_false (evcp_dispatcher_register (d, ha, &error));
  g_assert_error (error, EVCP_ERROR, EVCP_ERROR_EXISTS);

  evcp_dispatcher_dispatch (d, ma, on_done, &o1);
  g_assert_cmpuint (o1.done, ==, 1);   /* synchronous when nothing fails */
  g_assert_no_error (o1.error);
  evcp_dispatcher_dispatch (d, mb, on_done, &o2);
  g_assert_no_error (o2.error);
  g_assert_cmpuint (a.calls, ==, 1);
  g_assert_cmpuint (b.calls, ==, 1);
  g_assert_cmpuint (all.calls, ==, 2);
}

static void
test_no_handler (void)
{
  g_autoptr(EvcpDispatcher) d = evcp_dispatcher_new ();
  Probe a = { .name = "a" };
  g_autoptr(EvcpMessageHandler) ha = probe_handler (&a, "A");
  g_autoptr(EvcpMessage) m = msg ("UNKNOWN_KIND");
  g_autoptr(EvcpMessage) ma = msg ("A");
  Outcome o = { 0 }, o2 = { 0 };

  g_assert_true (evcp_dispatcher_register (d, ha, NULL));
  evcp_dispatcher_dispatch (d, m, on_done, &o);
  g_assert_error (o.error, EVCP_ERROR, EVCP_ERROR_NO_HANDLER);
  g_clear_error (&o.error);

  /* a disabled handler does not accept */
  g_assert_true (evcp_dispatcher_set_enabled (d, "a", FALSE, NULL));
  evcp_dispatcher_dispatch (d, ma, on_done, &o2);
  g_assert_error (o2.error, EVCP_ERROR, EVCP_ERROR_NO_HANDLER);
  g_assert_cmpuint (a.calls, ==, 0);
  g_clear_error (&o2.error);
}

static void
test_isolation_permanent (void)
{
  g_autoptr(EvcpDispatcher) d = evcp_dispatcher_new ();
  Probe bad = { .name = "bad", .fail_times = 100, .permanent = TRUE };
  Probe good = { .name = "good" };
  g_autoptr(EvcpMessageHandler) hbad = probe_handler (&bad, "A");
  g_autoptr(EvcpMessageHandler) hgood = probe_handler (&good, "A");
  g_autoptr(EvcpMessage) m = msg ("A");
  g_autoptr(GPtrArray) infos = NULL;
  Outcome o = { 0 };

  /* the failing one first: it must not stop the next */
  g_assert_true (evcp_dispatcher_register (d, hbad, NULL));
  g_assert_true (evcp_dispatcher_register (d, hgood, NULL));
  evcp_dispatcher_dispatch (d, m, on_done, &o);
  g_assert_cmpuint (o.done, ==, 1);   /* permanent: no retry, settled at once */
  g_assert_error (o.error, EVCP_ERROR, EVCP_ERROR_HANDLER_FAILED);
  g_assert_nonnull (strstr (o.error->message, "bad: bad refuses"));
  g_assert_cmpuint (bad.calls, ==, 1);
  g_assert_cmpuint (good.calls, ==, 1);

  infos = evcp_dispatcher_list_handlers (d);
  g_assert_cmpuint (infos->len, ==, 2);
  g_assert_cmpstr (((EvcpHandlerInfo *) infos->pdata[0])->name, ==, "bad");
  g_assert_cmpuint (((EvcpHandlerInfo *) infos->pdata[0])->failed, ==, 1);
  g_assert_cmpuint (((EvcpHandlerInfo *) infos->pdata[1])->handled, ==, 1);
  g_clear_error (&o.error);
}

static void
test_retry_then_success (void)
{
  g_autoptr(EvcpDispatcher) d = evcp_dispatcher_new ();
  Probe flaky = { .name = "flaky", .fail_times = 2 };
  Probe good = { .name = "good" };
  g_autoptr(EvcpMessageHandler) hflaky = probe_handler (&flaky, "A");
  g_autoptr(EvcpMessageHandler) hgood = probe_handler (&good, "A");
  g_autoptr(EvcpMessage) m = msg ("A");
  Outcome o = { 0 };
  gint64 start;

  evcp_dispatcher_set_retry_policy (d, 3, 20, 40);
  g_assert_true (evcp_dispatcher_register (d, hflaky, NULL));
  g_assert_true (evcp_dispatcher_register (d, hgood, NULL));
  start = g_get_monotonic_time ();
  evcp_dispatcher_dispatch (d, m, on_done, &o);
  g_assert_cmpuint (o.done, ==, 0);
  g_assert_cmpuint (evcp_dispatcher_get_in_flight (d), ==, 1);
  g_assert_cmpuint (good.calls, ==, 1);   /* the other handler was not held back */
  wait_done (&o, 5000);
  g_assert_no_error (o.error);
  g_assert_cmpuint (flaky.calls, ==, 3);
  g_assert_cmpuint (good.calls, ==, 1);
  /* backoff 20 ms then 40 ms */
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 60 * 1000);
  g_assert_cmpuint (evcp_dispatcher_get_in_flight (d), ==, 0);
}

static void
test_retry_exhausted (void)
{
  g_autoptr(EvcpDispatcher) d = evcp_dispatcher_new ();
  Probe flaky = { .name = "flaky", .fail_times = 100 };
  Probe good = { .name = "good" };
  g_autoptr(EvcpMessageHandler) hflaky = probe_handler (&flaky, "A");
  g_autoptr(EvcpMessageHandler) hgood = probe_handler (&good, "A");
  g_autoptr(EvcpMessage) m = msg ("A");
  g_autoptr(GPtrArray) infos = NULL;
  Outcome o = { 0 };

  evcp_dispatcher_set_retry_policy (d, 4, 1, 2);
  g_assert_true (evcp_dispatcher_register (d, hflaky, NULL));
  g_assert_true (evcp_dispatcher_register (d, hgood, NULL));
  evcp_dispatcher_dispatch (d, m, on_done, &o);
  wait_done (&o, 5000);
  g_assert_error (o.error, EVCP_ERROR, EVCP_ERROR_HANDLER_FAILED);
  g_assert_nonnull (strstr (o.error->message, "flaky is busy"));
  g_assert_cmpuint (flaky.calls, ==, 4);
  g_assert_cmpuint (good.calls, ==, 1);
  infos = evcp_dispatcher_list_handlers (d);
  g_assert_cmpuint (((EvcpHandlerInfo *) infos->pdata[0])->retries, ==, 3);
  g_assert_cmpuint (((EvcpHandlerInfo *) infos->pdata[0])->failed, ==, 1);
  g_clear_error (&o.error);
}

static void
test_unregister_during_dispatch (void)
{
  g_autoptr(EvcpDispatcher) d = evcp_dispatcher_new ();
  Probe first = { .name = "first" }, second = { .name = "second" };
  g_autoptr(EvcpMessageHandler) h1 = probe_handler (&first, "A");
  g_autoptr(EvcpMessageHandler) h2 = probe_handler (&second, "A");
  g_autoptr(EvcpMessage) m = msg ("A");
  Outcome o = { 0 };

  g_assert_true (evcp_dispatcher_register (d, h1, NULL));
  g_assert_true (evcp_dispatcher_register (d, h2, NULL));
  /* first removes second, then itself: neither is called afterwards */
  first.dispatcher = d;
  first.unregister_name = "second";
  evcp_dispatcher_dispatch (d, m, on_done, &o);
  g_assert_no_error (o.error);
  g_assert_cmpuint (first.calls, ==, 1);
  g_assert_cmpuint (second.calls, ==, 0);
  g_assert_null (evcp_dispatcher_lookup (d, "second"));

  /* a handler that unregisters itself while it runs */
  first.unregister_name = "first";
  evcp_dispatcher_dispatch (d, m, on_done, &o);
  g_assert_cmpuint (first.calls, ==, 2);
  g_assert_null (evcp_dispatcher_lookup (d, "first"));
  g_clear_object (&h1);  /* the dispatcher dropped its reference too */
  evcp_dispatcher_dispatch (d, m, on_done, &o);
  g_assert_error (o.error, EVCP_ERROR, EVCP_ERROR_NO_HANDLER);
  g_clear_error (&o.error);
}

static void
test_register_during_dispatch (void)
{
  g_autoptr(EvcpDispatcher) d = evcp_dispatcher_new ();
  Probe first = { .name = "first" }, late = { .name = "late" };
  g_autoptr(EvcpMessageHandler) h1 = probe_handler (&first, "A");
  g_autoptr(EvcpMessageHandler) hlate = probe_handler (&late, "A");
  g_autoptr(EvcpMessage) m = msg ("A");
  Outcome o = { 0 };

  g_assert_true (evcp_dispatcher_register (d, h1, NULL));
  first.dispatcher = d;
  first.register_handler = hlate;
  evcp_dispatcher_dispatch (d, m, on_done, &o);
  g_assert_cmpuint (late.calls, ==, 0);   /* sees the next message */
  evcp_dispatcher_dispatch (d, m, on_done, &o);
  g_assert_cmpuint (late.calls, ==, 1);
  g_assert_cmpuint (first.calls, ==, 2);
  g_assert_no_error (o.error);
}

static void
test_unregister_during_retry (void)
{
  g_autoptr(EvcpDispatcher) d = evcp_dispatcher_new ();
  Probe flaky = { .name = "flaky", .fail_times = 100 };
  g_autoptr(EvcpMessageHandler) h = probe_handler (&flaky, "A");
  g_autoptr(EvcpMessage) m = msg ("A");
  Outcome o = { 0 };

  evcp_dispatcher_set_retry_policy (d, 5, 50, 50);
  g_assert_true (evcp_dispatcher_register (d, h, NULL));
  evcp_dispatcher_dispatch (d, m, on_done, &o);
  g_assert_cmpuint (o.done, ==, 0);
  g_assert_true (evcp_dispatcher_unregister (d, "flaky", NULL));
  wait_done (&o, 5000);
  /* not lost: a failure, so the message is dead-lettered by the caller */
  g_assert_error (o.error, EVCP_ERROR, EVCP_ERROR_HANDLER_FAILED);
  g_assert_cmpuint (flaky.calls, ==, 1);
  g_clear_error (&o.error);
}

static void
test_cancel_all (void)
{
  g_autoptr(EvcpDispatcher) d = evcp_dispatcher_new ();
  Probe flaky = { .name = "flaky", .fail_times = 100 };
  g_autoptr(EvcpMessageHandler) h = probe_handler (&flaky, "A");
  g_autoptr(EvcpMessage) m = msg ("A");
  Outcome o = { 0 };

  evcp_dispatcher_set_retry_policy (d, 5, 10000, 10000);
  g_assert_true (evcp_dispatcher_register (d, h, NULL));
  evcp_dispatcher_dispatch (d, m, on_done, &o);
  evcp_dispatcher_cancel_all (d);
  g_assert_cmpuint (o.done, ==, 1);
  g_assert_error (o.error, EVCP_ERROR, EVCP_ERROR_CANCELLED);
  g_assert_cmpuint (evcp_dispatcher_get_in_flight (d), ==, 0);
  g_clear_error (&o.error);
}

static void
test_kind_stats_bounded (void)
{
  g_autoptr(EvcpDispatcher) d = evcp_dispatcher_new ();
  g_autoptr(GVariant) stats = NULL;
  guint64 received = 0, handled = 0, failed = 0;
  Outcome o = { 0 };

  for (guint i = 0; i < 1000; i++)
    {
      g_autofree gchar *kind = g_strdup_printf ("KIND_%u", i);
      g_autoptr(EvcpMessage) m = msg (kind);

      evcp_dispatcher_dispatch (d, m, on_done, &o);
    }
  g_assert_cmpuint (o.done, ==, 1000);
  stats = evcp_dispatcher_get_kind_stats (d);
  g_assert_cmpuint (g_variant_n_children (stats), <=, 257);
  g_assert_true (g_variant_lookup (stats, "(other)", "(ttt)", &received, &handled, &failed));
  g_assert_cmpuint (received, ==, 1000 - 256);
  g_assert_cmpuint (failed, ==, 1000 - 256);
  g_clear_error (&o.error);
}

/* A kind is a metric label: a 500 KB one, or one that is no name, is
 * counted under "(other)", not kept (256 of them were up to 128 MB). */
static void
test_kind_stats_names (void)
{
  g_autoptr(EvcpDispatcher) d = evcp_dispatcher_new ();
  g_autoptr(GVariant) stats = NULL;
  g_autofree gchar *huge = g_strnfill (500000, 'k');
  g_autofree gchar *longest = g_strnfill (64, 'K');
  const gchar *odd[] = { huge, "with space", "quote\\\"", "ñandú", "a{b}", "x\\u0001" };
  guint64 received = 0, handled = 0, failed = 0;
  gsize key_bytes = 0;
  Outcome o = { 0 };
  GVariantIter iter;
  const gchar *kind;

  for (guint i = 0; i < G_N_ELEMENTS (odd); i++)
    {
      g_autoptr(EvcpMessage) m = msg (odd[i]);

      evcp_dispatcher_dispatch (d, m, on_done, &o);
    }
  {
    g_autoptr(EvcpMessage) m = msg (longest);

    evcp_dispatcher_dispatch (d, m, on_done, &o);
  }
  g_assert_cmpuint (o.done, ==, G_N_ELEMENTS (odd) + 1);
  stats = evcp_dispatcher_get_kind_stats (d);
  g_assert_cmpuint (g_variant_n_children (stats), ==, 2);
  g_assert_true (g_variant_lookup (stats, "(other)", "(ttt)", &received, &handled, &failed));
  g_assert_cmpuint (received, ==, G_N_ELEMENTS (odd));
  g_assert_true (g_variant_lookup (stats, longest, "(ttt)", &received, &handled, &failed));
  g_assert_cmpuint (received, ==, 1);
  g_variant_iter_init (&iter, stats);
  while (g_variant_iter_next (&iter, "{&s(ttt)}", &kind, NULL, NULL, NULL))
    key_bytes += strlen (kind);
  g_assert_cmpuint (key_bytes, <=, 64 + strlen ("(other)"));
  g_clear_error (&o.error);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  /* handler failures are logged as warnings on purpose; criticals stay fatal */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  g_test_add_func ("/dispatcher/routing", test_routing);
  g_test_add_func ("/dispatcher/no-handler", test_no_handler);
  g_test_add_func ("/dispatcher/isolation-permanent", test_isolation_permanent);
  g_test_add_func ("/dispatcher/retry-then-success", test_retry_then_success);
  g_test_add_func ("/dispatcher/retry-exhausted", test_retry_exhausted);
  g_test_add_func ("/dispatcher/unregister-during-dispatch", test_unregister_during_dispatch);
  g_test_add_func ("/dispatcher/register-during-dispatch", test_register_during_dispatch);
  g_test_add_func ("/dispatcher/unregister-during-retry", test_unregister_during_retry);
  g_test_add_func ("/dispatcher/cancel-all", test_cancel_all);
  g_test_add_func ("/dispatcher/kind-stats-bounded", test_kind_stats_bounded);
  g_test_add_func ("/dispatcher/kind-stats-names", test_kind_stats_names);
  return g_test_run ();
}
