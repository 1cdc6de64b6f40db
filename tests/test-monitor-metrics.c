/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of the Monitor's pure parts: status thresholds, counters,
 * latency histogram and quantiles, availability since start and over the
 * sliding window, time KO, faults, alerts, the Prometheus text format, and
 * the [monitor] configuration. Time is made up: no clock, no sleep. */
#include "evcp-build-config.h"

#include <math.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "evcp-config.h"
#include "evcp-error.h"
#include "evcp-monitor-health-checker.h"
#include "evcp-metrics-server.h"
#include "evcp-monitor-metrics.h"
#include "evcp-prometheus.h"

#define S(x) ((gint64) (x) * G_USEC_PER_SEC)
#define MS(x) ((gint64) (x) * 1000)

static EvcpMonitorThresholds
thresholds (guint ko_after, guint ok_after)
{
  EvcpMonitorThresholds t = { 0 };

  t.ko_after = ko_after;
  t.ok_after = ok_after;
  t.window_s = 300;
  t.alert_faults_window_s = 3600;
  return t;
}

static gboolean
ok (EvcpMonitorMetrics *m, gint64 now)
{
  return evcp_monitor_metrics_record (m, now, TRUE, TRUE, 1.0, NULL);
}

static gboolean
ko (EvcpMonitorMetrics *m, gint64 now, const gchar *reason)
{
  return evcp_monitor_metrics_record (m, now, FALSE, FALSE, 1000.0, reason);
}

/* ---- status thresholds --------------------------------------------------------- */

static void
test_thresholds_default (void)
{
  EvcpMonitorThresholds t = thresholds (1, 1);
  g_autoptr(EvcpMonitorMetrics) m = evcp_monitor_metrics_new (&t, 0);
  g_autoptr(EvcpMonitorStatus) status = evcp_monitor_status_new ();

  g_assert_cmpint (evcp_monitor_metrics_get_status (m), ==, EVCP_MONITOR_UNKNOWN);
  /* the first check decides */
  g_assert_true (ok (m, S (1)));
  g_assert_cmpint (evcp_monitor_metrics_get_status (m), ==, EVCP_MONITOR_OK);
  g_assert_false (ok (m, S (2)));
  /* one failure is enough by default */
  g_assert_true (ko (m, S (3), "supply fault"));
  evcp_monitor_metrics_fill_status (m, S (3), status);
  g_assert_cmpint (status->status, ==, EVCP_MONITOR_KO);
  g_assert_cmpint (status->previous_status, ==, EVCP_MONITOR_OK);
  g_assert_cmpstr (status->reason, ==, "supply fault");
  g_assert_cmpuint (status->consecutive_failures, ==, 1);
  /* still KO: no change, the reason follows the last failure */
  g_assert_false (ko (m, S (4), "no answer within 1000 ms"));
  evcp_monitor_metrics_fill_status (m, S (4), status);
  g_assert_cmpstr (status->reason, ==, "no answer within 1000 ms");
  g_assert_cmpuint (status->consecutive_failures, ==, 2);
  /* one success brings it back */
  g_assert_true (ok (m, S (5)));
  evcp_monitor_metrics_fill_status (m, S (5), status);
  g_assert_cmpint (status->status, ==, EVCP_MONITOR_OK);
  g_assert_cmpint (status->previous_status, ==, EVCP_MONITOR_KO);
  g_assert_cmpstr (status->reason, ==, "");
  g_assert_cmpuint (status->consecutive_failures, ==, 0);
  g_assert_cmpuint (status->consecutive_successes, ==, 1);
  g_assert_cmpuint (status->faults, ==, 1);
}

static void
test_thresholds_n_m (void)
{
  EvcpMonitorThresholds t = thresholds (3, 2);
  g_autoptr(EvcpMonitorMetrics) m = evcp_monitor_metrics_new (&t, 0);

  /* UNKNOWN until 2 successes in a row */
  g_assert_false (ok (m, S (1)));
  g_assert_cmpint (evcp_monitor_metrics_get_status (m), ==, EVCP_MONITOR_UNKNOWN);
  g_assert_true (ok (m, S (2)));
  g_assert_cmpint (evcp_monitor_metrics_get_status (m), ==, EVCP_MONITOR_OK);
  /* 2 failures are not enough, a success in between resets the count */
  g_assert_false (ko (m, S (3), "a"));
  g_assert_false (ko (m, S (4), "b"));
  g_assert_false (ok (m, S (5)));
  g_assert_false (ko (m, S (6), "c"));
  g_assert_false (ko (m, S (7), "d"));
  g_assert_cmpint (evcp_monitor_metrics_get_status (m), ==, EVCP_MONITOR_OK);
  g_assert_true (ko (m, S (8), "e"));
  g_assert_cmpint (evcp_monitor_metrics_get_status (m), ==, EVCP_MONITOR_KO);
  g_assert_cmpuint (evcp_monitor_metrics_get_consecutive_failures (m), ==, 3);
  /* one success is not enough to recover, a failure resets it */
  g_assert_false (ok (m, S (9)));
  g_assert_false (ko (m, S (10), "f"));
  g_assert_false (ok (m, S (11)));
  g_assert_true (ok (m, S (12)));
  g_assert_cmpint (evcp_monitor_metrics_get_status (m), ==, EVCP_MONITOR_OK);
  g_assert_cmpuint (evcp_monitor_metrics_get_faults (m), ==, 1);
}

static void
test_thresholds_first_ko (void)
{
  EvcpMonitorThresholds t = thresholds (2, 1);
  g_autoptr(EvcpMonitorMetrics) m = evcp_monitor_metrics_new (&t, 0);
  g_autoptr(EvcpMonitorStatus) status = evcp_monitor_status_new ();

  g_assert_false (ko (m, S (1), NULL));
  g_assert_cmpint (evcp_monitor_metrics_get_status (m), ==, EVCP_MONITOR_UNKNOWN);
  g_assert_true (ko (m, S (2), NULL));
  evcp_monitor_metrics_fill_status (m, S (2), status);
  g_assert_cmpint (status->status, ==, EVCP_MONITOR_KO);
  g_assert_cmpint (status->previous_status, ==, EVCP_MONITOR_UNKNOWN);
  /* a failure without a reason still has one */
  g_assert_cmpstr (status->reason, ==, "check failed");
  g_assert_cmpuint (status->faults, ==, 1);
}

/* A threshold of 0 (a config written by hand in C) counts as 1. */
static void
test_thresholds_zero (void)
{
  EvcpMonitorThresholds t = thresholds (0, 0);
  g_autoptr(EvcpMonitorMetrics) m = evcp_monitor_metrics_new (&t, 0);

  g_assert_true (ko (m, S (1), "x"));
  g_assert_true (ok (m, S (2)));
}

/* ---- counters, availability, time KO ------------------------------------------------ */

static void
test_counters_availability (void)
{
  EvcpMonitorThresholds t = thresholds (1, 1);
  g_autoptr(EvcpMonitorMetrics) m = evcp_monitor_metrics_new (&t, S (100));
  g_autoptr(EvcpMonitorStatus) status = evcp_monitor_status_new ();

  g_assert_cmpfloat (evcp_monitor_metrics_get_availability (m), ==, 1.0);
  g_assert_cmpfloat (evcp_monitor_metrics_get_window_availability (m, S (100)), ==, 1.0);
  for (guint i = 0; i < 6; i++)
    ok (m, S (101 + i));
  for (guint i = 0; i < 2; i++)
    ko (m, S (107 + i), "down");
  g_assert_cmpuint (evcp_monitor_metrics_get_checks (m), ==, 8);
  g_assert_cmpuint (evcp_monitor_metrics_get_checks_failed (m), ==, 2);
  g_assert_cmpfloat_with_epsilon (evcp_monitor_metrics_get_availability (m), 0.75, 1e-9);
  g_assert_cmpfloat_with_epsilon (evcp_monitor_metrics_get_window_availability (m, S (109)), 0.75, 1e-9);
  evcp_monitor_metrics_fill_status (m, S (110), status);
  g_assert_cmpfloat_with_epsilon (status->uptime_s, 10.0, 1e-9);
  g_assert_cmpfloat_with_epsilon (status->availability, 0.75, 1e-9);
  g_assert_cmpuint (status->checks, ==, 8);
  g_assert_cmpuint (status->checks_failed, ==, 2);
  g_assert_cmpfloat (status->latency_ms, ==, 1000.0);
}

static void
test_time_ko (void)
{
  EvcpMonitorThresholds t = thresholds (1, 1);
  g_autoptr(EvcpMonitorMetrics) m = evcp_monitor_metrics_new (&t, 0);

  ok (m, S (1));
  ko (m, S (10), "x");
  g_assert_cmpfloat_with_epsilon (evcp_monitor_metrics_get_time_ko_s (m, S (12)), 2.0, 1e-9);
  ko (m, S (13), "x");
  ok (m, S (15));                    /* KO for 5 s */
  g_assert_cmpfloat_with_epsilon (evcp_monitor_metrics_get_time_ko_s (m, S (20)), 5.0, 1e-9);
  ko (m, S (30), "x");               /* and 1.5 s more, still going */
  g_assert_cmpfloat_with_epsilon (evcp_monitor_metrics_get_time_ko_s (m, MS (31500)), 6.5, 1e-9);
  g_assert_cmpuint (evcp_monitor_metrics_get_faults (m), ==, 2);
}

static void
test_window_slides (void)
{
  EvcpMonitorThresholds t = thresholds (1, 1);
  g_autoptr(EvcpMonitorMetrics) m = NULL;

  t.window_s = 60;                   /* 60 slots of 1 s */
  m = evcp_monitor_metrics_new (&t, 0);
  /* 10 failures at the start, then 100 ms checks that all succeed */
  for (guint i = 0; i < 10; i++)
    ko (m, MS (100 * i), "down");
  for (guint i = 10; i < 600; i++)   /* up to 60 s */
    ok (m, MS (100 * i));
  g_assert_cmpfloat_with_epsilon (evcp_monitor_metrics_get_window_availability (m, MS (59900)),
                                  590.0 / 600.0, 1e-9);
  /* once the first second has left the window, only successes remain */
  for (guint i = 600; i < 620; i++)
    ok (m, MS (100 * i));
  g_assert_cmpfloat (evcp_monitor_metrics_get_window_availability (m, MS (61900)), ==, 1.0);
  /* availability since start keeps them */
  g_assert_cmpfloat_with_epsilon (evcp_monitor_metrics_get_availability (m), 610.0 / 620.0, 1e-9);
  /* a window with no check at all (the Monitor was suspended) says 1 */
  g_assert_cmpfloat (evcp_monitor_metrics_get_window_availability (m, S (1000)), ==, 1.0);
  /* and starts again from what comes next */
  ko (m, S (1000), "down");
  g_assert_cmpfloat (evcp_monitor_metrics_get_window_availability (m, S (1000)), ==, 0.0);
}

/* ---- latency ----------------------------------------------------------------------- */

static void
test_histogram (void)
{
  EvcpMonitorThresholds t = thresholds (1, 1);
  g_autoptr(EvcpMonitorMetrics) m = evcp_monitor_metrics_new (&t, 0);
  guint64 counts[EVCP_MONITOR_LATENCY_N_BOUNDS + 1];
  gdouble sum;
  const gdouble samples[] = { 0.3, 0.5, 0.7, 3, 3, 15, 999, 1000, 1001, 60000 };

  for (guint i = 0; i < G_N_ELEMENTS (samples); i++)
    evcp_monitor_metrics_record (m, S (1), TRUE, TRUE, samples[i], NULL);
  /* a check without an answer has no latency to count */
  evcp_monitor_metrics_record (m, S (1), FALSE, FALSE, 1000, "timeout");
  evcp_monitor_metrics_get_histogram (m, counts, &sum);

  g_assert_cmpfloat (evcp_monitor_latency_bounds_ms[0], ==, 0.5);
  g_assert_cmpuint (counts[0], ==, 2);     /* ≤ 0.5 (bounds are inclusive) */
  g_assert_cmpuint (counts[1], ==, 3);     /* ≤ 1 */
  g_assert_cmpuint (counts[3], ==, 5);     /* ≤ 5 */
  g_assert_cmpuint (counts[5], ==, 6);     /* ≤ 20 */
  g_assert_cmpuint (counts[10], ==, 8);    /* ≤ 1000 */
  g_assert_cmpuint (counts[11], ==, 9);    /* ≤ 2000 */
  g_assert_cmpuint (counts[13], ==, 9);    /* ≤ 10000 */
  g_assert_cmpuint (counts[EVCP_MONITOR_LATENCY_N_BOUNDS], ==, 10);
  for (guint i = 1; i <= EVCP_MONITOR_LATENCY_N_BOUNDS; i++)
    g_assert_cmpuint (counts[i], >=, counts[i - 1]);
  g_assert_cmpfloat_with_epsilon (sum, 0.3 + 0.5 + 0.7 + 3 + 3 + 15 + 999 + 1000 + 1001 + 60000, 1e-6);
}

static void
test_quantiles (void)
{
  EvcpMonitorThresholds t = thresholds (1, 1);
  g_autoptr(EvcpMonitorMetrics) m = NULL;

  t.window_s = 10;
  m = evcp_monitor_metrics_new (&t, 0);
  g_assert_true (isnan (evcp_monitor_metrics_get_latency_quantile (m, 0, 0.5)));
  /* 1..100 ms, in a shuffled order */
  for (guint i = 0; i < 100; i++)
    evcp_monitor_metrics_record (m, MS (10 * i), TRUE, TRUE, (gdouble) ((i * 37) % 100 + 1), NULL);
  g_assert_cmpfloat (evcp_monitor_metrics_get_latency_quantile (m, S (1), 0.5), ==, 50);
  g_assert_cmpfloat (evcp_monitor_metrics_get_latency_quantile (m, S (1), 0.99), ==, 99);
  g_assert_cmpfloat (evcp_monitor_metrics_get_latency_quantile (m, S (1), 1.0), ==, 100);
  g_assert_cmpfloat (evcp_monitor_metrics_get_latency_quantile (m, S (1), 0.0), ==, 1);
  /* only the window counts: 10 s later they are all gone */
  g_assert_true (isnan (evcp_monitor_metrics_get_latency_quantile (m, S (11), 0.5)));
  evcp_monitor_metrics_record (m, S (11), TRUE, TRUE, 7, NULL);
  g_assert_cmpfloat (evcp_monitor_metrics_get_latency_quantile (m, S (11), 0.99), ==, 7);
}

static void
test_reservoir_wraps (void)
{
  EvcpMonitorThresholds t = thresholds (1, 1);
  g_autoptr(EvcpMonitorMetrics) m = evcp_monitor_metrics_new (&t, 0);

  /* many slow checks, then a full reservoir of fast ones: the slow ones are gone */
  for (guint i = 0; i < 500; i++)
    evcp_monitor_metrics_record (m, MS (i), TRUE, TRUE, 900, NULL);
  for (guint i = 0; i < EVCP_MONITOR_LATENCY_RESERVOIR; i++)
    evcp_monitor_metrics_record (m, MS (500 + i), TRUE, TRUE, 2, NULL);
  g_assert_cmpfloat (evcp_monitor_metrics_get_latency_quantile (m, S (2), 0.99), ==, 2);
  g_assert_cmpfloat (evcp_monitor_metrics_get_latency_quantile (m, S (2), 1.0), ==, 2);
}

/* ---- faults and alerts ---------------------------------------------------------------- */

static void
test_faults_window (void)
{
  EvcpMonitorThresholds t = thresholds (1, 1);
  g_autoptr(EvcpMonitorMetrics) m = NULL;

  t.alert_faults_window_s = 60;
  m = evcp_monitor_metrics_new (&t, 0);
  for (guint i = 0; i < 3; i++)
    {
      ko (m, S (10 * i + 1), "x");
      ok (m, S (10 * i + 2));
    }
  g_assert_cmpuint (evcp_monitor_metrics_get_faults_in_window (m, S (30)), ==, 3);
  g_assert_cmpuint (evcp_monitor_metrics_get_faults_in_window (m, S (61)), ==, 2);
  g_assert_cmpuint (evcp_monitor_metrics_get_faults_in_window (m, S (100)), ==, 0);
  g_assert_cmpuint (evcp_monitor_metrics_get_faults (m), ==, 3);
}

static EvcpMonitorAlert *
single_alert (EvcpMonitorMetrics *m, gint64 now)
{
  g_autoptr(GPtrArray) changed = g_ptr_array_new_with_free_func ((GDestroyNotify) evcp_monitor_alert_free);

  if (evcp_monitor_metrics_update_alerts (m, now, changed) == 0)
    return NULL;
  g_assert_cmpuint (changed->len, ==, 1);
  return g_ptr_array_steal_index (changed, 0);
}

static void
test_alert_latency (void)
{
  EvcpMonitorThresholds t = thresholds (1, 1);
  g_autoptr(EvcpMonitorMetrics) m = NULL;
  g_autoptr(EvcpMonitorAlert) a = NULL;
  g_autoptr(EvcpMonitorAlert) b = NULL;
  g_autoptr(JsonObject) json = NULL;

  t.window_s = 10;
  t.alert_latency_ms = 50;
  m = evcp_monitor_metrics_new (&t, 0);
  /* nothing measured: nothing to say */
  g_assert_null (single_alert (m, 0));
  for (guint i = 0; i < 100; i++)
    evcp_monitor_metrics_record (m, MS (10 * i), TRUE, TRUE, 10, NULL);
  g_assert_null (single_alert (m, S (1)));
  /* two slow checks in 100 push p99 over the bound */
  evcp_monitor_metrics_record (m, S (1), TRUE, TRUE, 80, NULL);
  g_assert_null (single_alert (m, S (1)));   /* 1 in 101: p99 is still 10 */
  evcp_monitor_metrics_record (m, S (1), TRUE, TRUE, 80, NULL);
  a = single_alert (m, S (1));
  g_assert_nonnull (a);
  g_assert_cmpint (a->kind, ==, EVCP_MONITOR_ALERT_LATENCY);
  g_assert_true (a->firing);
  g_assert_cmpfloat (a->value, ==, 80);
  g_assert_cmpfloat (a->threshold, ==, 50);
  g_assert_nonnull (strstr (a->message, "above"));
  g_assert_true (evcp_monitor_metrics_alert_is_firing (m, EVCP_MONITOR_ALERT_LATENCY));
  json = evcp_monitor_alert_to_json (a);
  g_assert_cmpstr (json_object_get_string_member (json, "kind"), ==, "LATENCY");
  g_assert_cmpstr (json_object_get_string_member (json, "state"), ==, "FIRING");
  /* once: not again while it stays above */
  evcp_monitor_metrics_record (m, S (2), TRUE, TRUE, 90, NULL);
  g_assert_null (single_alert (m, S (2)));
  /* the slow ones leave the window: resolved, once */
  evcp_monitor_metrics_record (m, S (12) + 1, TRUE, TRUE, 10, NULL);
  b = single_alert (m, S (12) + 1);
  g_assert_nonnull (b);
  g_assert_false (b->firing);
  g_assert_nonnull (strstr (b->message, "back under"));
  g_assert_null (single_alert (m, S (13)));
}

static void
test_alert_availability (void)
{
  EvcpMonitorThresholds t = thresholds (5, 1);
  g_autoptr(EvcpMonitorMetrics) m = NULL;
  g_autoptr(EvcpMonitorAlert) a = NULL;
  g_autoptr(EvcpMonitorAlert) b = NULL;

  t.window_s = 60;
  t.alert_availability = 0.9;
  m = evcp_monitor_metrics_new (&t, 0);
  g_assert_null (single_alert (m, 0));      /* no check in the window */
  for (guint i = 0; i < 9; i++)
    ok (m, S (i));
  ko (m, S (9), "x");                       /* 9/10 = 0.9: not under */
  g_assert_null (single_alert (m, S (9)));
  ko (m, S (10), "x");                      /* 9/11 */
  a = single_alert (m, S (10));
  g_assert_nonnull (a);
  g_assert_cmpint (a->kind, ==, EVCP_MONITOR_ALERT_AVAILABILITY);
  g_assert_true (a->firing);
  g_assert_cmpfloat_with_epsilon (a->value, 9.0 / 11.0, 1e-9);
  /* the status never went KO (ko-after 5): alerts are independent of it */
  g_assert_cmpint (evcp_monitor_metrics_get_status (m), ==, EVCP_MONITOR_OK);
  for (guint i = 11; i < 20; i++)
    ok (m, S (i));                          /* 18/20 = 0.9 */
  b = single_alert (m, S (19));
  g_assert_nonnull (b);
  g_assert_false (b->firing);
}

static void
test_alert_faults (void)
{
  EvcpMonitorThresholds t = thresholds (1, 1);
  g_autoptr(EvcpMonitorMetrics) m = NULL;
  g_autoptr(EvcpMonitorAlert) a = NULL;
  g_autoptr(EvcpMonitorAlert) b = NULL;

  t.alert_faults = 3;
  t.alert_faults_window_s = 60;
  m = evcp_monitor_metrics_new (&t, 0);
  for (guint i = 0; i < 2; i++)
    {
      ko (m, S (10 * i + 1), "x");
      ok (m, S (10 * i + 2));
    }
  g_assert_null (single_alert (m, S (20)));
  ko (m, S (21), "x");
  a = single_alert (m, S (21));
  g_assert_nonnull (a);
  g_assert_cmpint (a->kind, ==, EVCP_MONITOR_ALERT_FAULTS);
  g_assert_true (a->firing);
  g_assert_cmpfloat (a->value, ==, 3);
  ok (m, S (22));
  g_assert_null (single_alert (m, S (30)));
  /* the first fault (at 1 s) leaves the 60 s window at 61 s */
  b = single_alert (m, S (61));
  g_assert_nonnull (b);
  g_assert_false (b->firing);
  g_assert_cmpfloat (b->value, ==, 2);
}

static void
test_alerts_off (void)
{
  EvcpMonitorThresholds t = thresholds (1, 1);
  g_autoptr(EvcpMonitorMetrics) m = evcp_monitor_metrics_new (&t, 0);

  for (guint i = 0; i < 50; i++)
    {
      ko (m, S (2 * i), "x");
      evcp_monitor_metrics_record (m, S (2 * i + 1), TRUE, TRUE, 60000, NULL);
    }
  g_assert_null (single_alert (m, S (100)));
}

/* ---- status as data ------------------------------------------------------------------ */

static void
test_status_data (void)
{
  EvcpMonitorThresholds t = thresholds (1, 1);
  g_autoptr(EvcpMonitorMetrics) m = evcp_monitor_metrics_new (&t, 0);
  g_autoptr(EvcpMonitorStatus) status = evcp_monitor_status_new ();
  g_autoptr(EvcpMonitorStatus) copy = NULL;
  g_autoptr(GVariant) v = NULL;
  g_autoptr(JsonObject) json = NULL;
  const gchar *s;
  gdouble d;

  ok (m, S (1));
  ko (m, S (2), "engine said no");
  g_free (status->id);
  status->id = g_strdup ("CP-042");
  evcp_monitor_metrics_fill_status (m, S (4), status);
  copy = evcp_monitor_status_copy (status);
  g_assert_cmpstr (copy->id, ==, "CP-042");
  g_assert_cmpstr (copy->reason, ==, "engine said no");

  v = g_variant_ref_sink (evcp_monitor_status_to_variant (copy));
  g_assert_true (g_variant_is_of_type (v, G_VARIANT_TYPE_VARDICT));
  g_assert_true (g_variant_lookup (v, "id", "&s", &s));
  g_assert_cmpstr (s, ==, "CP-042");
  g_assert_true (g_variant_lookup (v, "status", "&s", &s));
  g_assert_cmpstr (s, ==, "KO");
  g_assert_true (g_variant_lookup (v, "previous_status", "&s", &s));
  g_assert_cmpstr (s, ==, "OK");
  g_assert_true (g_variant_lookup (v, "availability", "d", &d));
  g_assert_cmpfloat_with_epsilon (d, 0.5, 1e-9);
  g_assert_true (g_variant_lookup (v, "uptime_s", "d", &d));
  g_assert_cmpfloat_with_epsilon (d, 4.0, 1e-9);

  /* the fields of the contract's MONITORING_EVENT */
  json = evcp_monitor_status_to_json (copy);
  g_assert_cmpstr (json_object_get_string_member (json, "id"), ==, "CP-042");
  g_assert_cmpstr (json_object_get_string_member (json, "status"), ==, "KO");
  g_assert_cmpstr (json_object_get_string_member (json, "previous_status"), ==, "OK");
  g_assert_cmpstr (json_object_get_string_member (json, "reason"), ==, "engine said no");
  g_assert_cmpint (json_object_get_int_member (json, "consecutive_failures"), ==, 1);
  g_assert_cmpfloat (json_object_get_double_member (json, "latency_ms"), ==, 1000.0);
  g_assert_cmpfloat_with_epsilon (json_object_get_double_member (json, "availability"), 0.5, 1e-9);
  g_assert_cmpfloat_with_epsilon (json_object_get_double_member (json, "uptime_s"), 4.0, 1e-9);

  g_assert_cmpstr (evcp_monitor_state_to_string (EVCP_MONITOR_OK), ==, "OK");
  g_assert_cmpstr (evcp_monitor_state_to_string (EVCP_MONITOR_KO), ==, "KO");
  g_assert_cmpstr (evcp_monitor_state_to_string (EVCP_MONITOR_UNKNOWN), ==, "UNKNOWN");
}

/* ---- Prometheus ------------------------------------------------------------------------ */

static void
test_prometheus_write_read (void)
{
  g_autoptr(GString) out = g_string_new (NULL);
  g_autoptr(GHashTable) samples = NULL;
  g_autoptr(GError) error = NULL;
  const gchar *labels[] = { "handler", "a \"quoted\" \\ name\nwith a newline", "cp_id", "CP-1", NULL };

  evcp_prometheus_family (out, "evcp_x_total", "counter", "Help with a \\ and\na newline.");
  evcp_prometheus_sample_u64 (out, "evcp_x_total", labels, G_GUINT64_CONSTANT (18446744073709551615));
  evcp_prometheus_sample (out, "evcp_y", NULL, 0.25);
  evcp_prometheus_sample (out, "evcp_nan", NULL, NAN);
  evcp_prometheus_sample (out, "evcp_inf", NULL, INFINITY);
  g_assert_nonnull (strstr (out->str, "# HELP evcp_x_total Help with a \\\\ and\\na newline.\n"));
  g_assert_nonnull (strstr (out->str, "# TYPE evcp_x_total counter\n"));
  g_assert_nonnull (strstr (out->str,
                            "evcp_x_total{handler=\"a \\\"quoted\\\" \\\\ name\\nwith a newline\",cp_id=\"CP-1\"} "
                            "18446744073709551615\n"));
  g_assert_nonnull (strstr (out->str, "evcp_nan NaN\n"));
  g_assert_nonnull (strstr (out->str, "evcp_inf +Inf\n"));

  samples = evcp_prometheus_parse (out->str, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_hash_table_size (samples), ==, 4);
  /* labels sorted by name in the key */
  g_assert_cmpfloat (evcp_prometheus_lookup (samples,
                       "evcp_x_total{cp_id=\"CP-1\",handler=\"a \\\"quoted\\\" \\\\ name\\nwith a newline\"}"),
                     ==, 18446744073709551615.0);
  g_assert_cmpfloat (evcp_prometheus_lookup (samples, "evcp_y"), ==, 0.25);
  g_assert_true (isnan (evcp_prometheus_lookup (samples, "evcp_nan")));
  g_assert_true (isinf (evcp_prometheus_lookup (samples, "evcp_inf")));
  g_assert_true (isnan (evcp_prometheus_lookup (samples, "absent")));
}

static void
test_prometheus_parse_errors (void)
{
  const gchar *bad[] = {
    "1abc 3\n",
    "name{label=\"x} 3\n",
    "name{label=x} 3\n",
    "name{label=\"x\"} three\n",
    "name\n",
    "name 1 2 3\n",
    "name{l=\"\\q\"} 1\n",
    "# TYPE 9bad counter\n",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GHashTable) samples = evcp_prometheus_parse (bad[i], &error);

      g_assert_null (samples);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
    }
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(GHashTable) samples =
      evcp_prometheus_parse ("# a comment\n\nx{a=\"1\",} 2 1700000000000\n", &error);

    g_assert_no_error (error);
    g_assert_cmpfloat (evcp_prometheus_lookup (samples, "x{a=\"1\"}"), ==, 2);
  }
}

static void
test_monitor_exposition (void)
{
  EvcpMonitorThresholds t = thresholds (1, 1);
  g_autoptr(EvcpMonitorMetrics) m = NULL;
  g_autoptr(GString) out = g_string_new (NULL);
  g_autoptr(GHashTable) samples = NULL;
  g_autoptr(GError) error = NULL;

  t.alert_faults = 1;
  m = evcp_monitor_metrics_new (&t, 0);
  evcp_monitor_metrics_record (m, S (1), TRUE, TRUE, 3, NULL);
  evcp_monitor_metrics_record (m, S (2), TRUE, TRUE, 7, NULL);
  evcp_monitor_metrics_record (m, S (3), FALSE, FALSE, 1000, "x");
  {
    g_autoptr(GPtrArray) changed = g_ptr_array_new_with_free_func ((GDestroyNotify) evcp_monitor_alert_free);

    evcp_monitor_metrics_update_alerts (m, S (3), changed);
  }
  evcp_monitor_metrics_format (m, S (5), "CP \"7\"", out);
  samples = evcp_prometheus_parse (out->str, &error);
  g_assert_no_error (error);

#define CP "cp_id=\"CP \\\"7\\\"\""
  g_assert_cmpfloat (evcp_prometheus_lookup (samples, "evcp_monitor_up{" CP "}"), ==, 0);
  g_assert_cmpfloat (evcp_prometheus_lookup (samples, "evcp_monitor_status{" CP ",status=\"KO\"}"), ==, 1);
  g_assert_cmpfloat (evcp_prometheus_lookup (samples, "evcp_monitor_status{" CP ",status=\"OK\"}"), ==, 0);
  g_assert_cmpfloat (evcp_prometheus_lookup (samples, "evcp_monitor_checks_total{" CP "}"), ==, 3);
  g_assert_cmpfloat (evcp_prometheus_lookup (samples, "evcp_monitor_checks_failed_total{" CP "}"), ==, 1);
  g_assert_cmpfloat (evcp_prometheus_lookup (samples, "evcp_monitor_consecutive_failures{" CP "}"), ==, 1);
  g_assert_cmpfloat (evcp_prometheus_lookup (samples, "evcp_monitor_faults_total{" CP "}"), ==, 1);
  g_assert_cmpfloat (evcp_prometheus_lookup (samples, "evcp_monitor_check_latency_seconds_count{" CP "}"), ==, 2);
  g_assert_cmpfloat_with_epsilon (evcp_prometheus_lookup (samples, "evcp_monitor_check_latency_seconds_sum{" CP "}"),
                                  0.010, 1e-12);
  g_assert_cmpfloat (evcp_prometheus_lookup (samples, "evcp_monitor_check_latency_seconds_bucket{" CP ",le=\"0.005\"}"), ==, 1);
  g_assert_cmpfloat (evcp_prometheus_lookup (samples, "evcp_monitor_check_latency_seconds_bucket{" CP ",le=\"0.01\"}"), ==, 2);
  g_assert_cmpfloat (evcp_prometheus_lookup (samples, "evcp_monitor_check_latency_seconds_bucket{" CP ",le=\"+Inf\"}"), ==, 2);
  g_assert_cmpfloat_with_epsilon (evcp_prometheus_lookup (samples, "evcp_monitor_check_latency_p50_seconds{" CP "}"),
                                  0.003, 1e-12);
  g_assert_cmpfloat_with_epsilon (evcp_prometheus_lookup (samples, "evcp_monitor_check_latency_p99_seconds{" CP "}"),
                                  0.007, 1e-12);
  g_assert_cmpfloat_with_epsilon (evcp_prometheus_lookup (samples, "evcp_monitor_availability_ratio{" CP "}"),
                                  2.0 / 3.0, 1e-9);
  g_assert_cmpfloat (evcp_prometheus_lookup (samples, "evcp_monitor_uptime_seconds{" CP "}"), ==, 5);
  g_assert_cmpfloat (evcp_prometheus_lookup (samples, "evcp_monitor_ko_seconds_total{" CP "}"), ==, 2);
  g_assert_cmpfloat (evcp_prometheus_lookup (samples, "evcp_monitor_alert_firing{alert=\"FAULTS\"," CP "}"), ==, 1);
  g_assert_cmpfloat (evcp_prometheus_lookup (samples, "evcp_monitor_alert_firing{alert=\"LATENCY\"," CP "}"), ==, 0);
#undef CP
}

/* ---- addresses, reasons, configuration ------------------------------------------------------ */

static void
test_metrics_address (void)
{
  struct {
    const gchar *address;
    const gchar *host;
    guint        port;
  } good[] = {
    { "9101", "127.0.0.1", 9101 },
    { ":9101", "127.0.0.1", 9101 },
    { "0.0.0.0:80", "0.0.0.0", 80 },
    { "[::1]:0", "::1", 0 },
    { "192.168.1.7:9100", "192.168.1.7", 9100 },
  };
  const gchar *bad[] = { "", "localhost:9100", "::1:9100", "1.2.3.4:70000", "1.2.3.4:", "[::1]9100", "x" };

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GInetSocketAddress) sa = evcp_metrics_parse_address (good[i].address, &error);
      g_autofree gchar *host = NULL;

      g_assert_no_error (error);
      host = g_inet_address_to_string (g_inet_socket_address_get_address (sa));
      g_assert_cmpstr (host, ==, good[i].host);
      g_assert_cmpuint (g_inet_socket_address_get_port (sa), ==, good[i].port);
    }
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GInetSocketAddress) sa = evcp_metrics_parse_address (bad[i], &error);

      g_assert_null (sa);
      g_assert_error (error, EVCP_ERROR, EVCP_ERROR_CONFIG);
    }
}

static void
test_sanitize_reason (void)
{
  g_autofree gchar *a = evcp_health_sanitize_reason ("bad#reason\x02with\ncontrols");
  g_autofree gchar *b = evcp_health_sanitize_reason (NULL);
  g_autofree gchar *long_text = g_strnfill (300, 'x');
  g_autofree gchar *c = evcp_health_sanitize_reason (long_text);
  g_autofree gchar *d = evcp_health_sanitize_reason ("ünïcödé\xff");

  g_assert_cmpstr (a, ==, "bad reason with controls");
  g_assert_cmpstr (b, ==, "");
  g_assert_cmpuint (strlen (c), ==, 200);
  g_assert_true (g_utf8_validate (d, -1, NULL));
  g_assert_true (g_str_has_prefix (d, "ünïcödé"));
}

static gchar *
write_key_file (const gchar *contents)
{
  g_autoptr(GError) error = NULL;
  gchar *path = NULL;
  gint fd = g_file_open_tmp ("evcp-monitor-XXXXXX.conf", &path, &error);

  g_assert_no_error (error);
  close (fd);
  g_assert_true (g_file_set_contents (path, contents, -1, &error));
  return path;
}

static void
test_config_monitor (void)
{
  g_autoptr(EvcpConfig) config = evcp_config_new ();
  g_autoptr(GError) error = NULL;
  g_autofree gchar *path = NULL;
  const gchar *env[] = { "ENGINE_HOST=engine.local", "ENGINE_PORT=6001", NULL };
  EvcpMonitorThresholds t;

  /* defaults */
  g_assert_cmpstr (config->engine_host, ==, "localhost");
  g_assert_cmpuint (config->engine_port, ==, 5001);
  g_assert_cmpuint (config->health_interval_ms, ==, 1000);
  g_assert_cmpuint (config->ko_after, ==, 1);
  g_assert_cmpuint (config->ok_after, ==, 1);
  g_assert_cmpuint (config->availability_window_s, ==, 300);
  g_assert_cmpuint (config->event_interval_s, ==, 30);
  g_assert_cmpstr (config->monitoring_topic, ==, "monitoring_events");
  g_assert_null (config->monitor_metrics_address);
  g_assert_null (config->metrics_address);
  g_assert_cmpfloat (config->alert_latency_ms, ==, 0);

  /* environment, then the key file over it */
  g_assert_true (evcp_config_load_environment (config, env, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (config->engine_host, ==, "engine.local");
  g_assert_cmpuint (config->engine_port, ==, 6001);
  path = write_key_file ("[evcp]\nmetrics-address=9100\n"
                         "[monitor]\nengine-port=7001\ninterval-ms=100\nko-after=3\nok-after=2\n"
                         "availability-window-s=60\nevent-interval-s=0\ntopic=mon\n"
                         "metrics-address=127.0.0.1:9101\nalert-latency-ms=250.5\n"
                         "alert-availability=0.99\nalert-faults=5\nalert-faults-window-s=600\n");
  g_assert_true (evcp_config_load_key_file (config, path, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (config->engine_host, ==, "engine.local");
  g_assert_cmpuint (config->engine_port, ==, 7001);
  g_assert_cmpuint (config->health_interval_ms, ==, 100);
  g_assert_cmpuint (config->ko_after, ==, 3);
  g_assert_cmpuint (config->ok_after, ==, 2);
  g_assert_cmpuint (config->availability_window_s, ==, 60);
  g_assert_cmpuint (config->event_interval_s, ==, 0);
  g_assert_cmpstr (config->monitoring_topic, ==, "mon");
  g_assert_cmpstr (config->metrics_address, ==, "9100");
  g_assert_cmpstr (config->monitor_metrics_address, ==, "127.0.0.1:9101");
  g_assert_cmpfloat (config->alert_latency_ms, ==, 250.5);
  g_assert_cmpfloat (config->alert_availability, ==, 0.99);
  g_assert_cmpuint (config->alert_faults, ==, 5);
  g_assert_cmpuint (config->alert_faults_window_s, ==, 600);
  g_assert_true (evcp_config_validate (config, &error));

  evcp_monitor_thresholds_init_from_config (&t, config);
  g_assert_cmpuint (t.ko_after, ==, 3);
  g_assert_cmpuint (t.ok_after, ==, 2);
  g_assert_cmpuint (t.window_s, ==, 60);
  g_assert_cmpfloat (t.alert_availability, ==, 0.99);

  /* a copy keeps them */
  {
    g_autoptr(EvcpConfig) copy = evcp_config_copy (config);

    g_assert_cmpstr (copy->monitor_metrics_address, ==, "127.0.0.1:9101");
    g_assert_cmpstr (copy->monitoring_topic, ==, "mon");
    g_assert_cmpuint (copy->health_interval_ms, ==, 100);
  }
  g_unlink (path);
}

static void
test_config_monitor_invalid (void)
{
  const gchar *bad[] = {
    "[monitor]\ninterval-ms=99\n",
    "[monitor]\nko-after=0\n",
    "[monitor]\nengine-port=0\n",
    "[monitor]\nalert-availability=1.5\n",
    "[monitor]\nalert-latency-ms=fast\n",
    "[monitor]\nalert-latency-ms=-1\n",
  };
  const gchar *bad_env[] = { "ENGINE_PORT=70000", NULL };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(EvcpConfig) config = evcp_config_new ();
      g_autoptr(GError) error = NULL;
      g_autofree gchar *path = write_key_file (bad[i]);

      g_assert_false (evcp_config_load_key_file (config, path, &error));
      g_assert_error (error, EVCP_ERROR, EVCP_ERROR_CONFIG);
      g_unlink (path);
    }
  {
    g_autoptr(EvcpConfig) config = evcp_config_new ();
    g_autoptr(GError) error = NULL;

    g_assert_false (evcp_config_load_environment (config, bad_env, &error));
    g_assert_error (error, EVCP_ERROR, EVCP_ERROR_CONFIG);
  }
  {
    g_autoptr(EvcpConfig) config = evcp_config_new ();
    g_autoptr(GError) error = NULL;

    config->health_interval_ms = 50;   /* set in C, below the floor */
    g_assert_false (evcp_config_validate (config, &error));
    g_assert_error (error, EVCP_ERROR, EVCP_ERROR_CONFIG);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/monitor-metrics/thresholds/default", test_thresholds_default);
  g_test_add_func ("/monitor-metrics/thresholds/n-m", test_thresholds_n_m);
  g_test_add_func ("/monitor-metrics/thresholds/first-ko", test_thresholds_first_ko);
  g_test_add_func ("/monitor-metrics/thresholds/zero", test_thresholds_zero);
  g_test_add_func ("/monitor-metrics/counters-availability", test_counters_availability);
  g_test_add_func ("/monitor-metrics/time-ko", test_time_ko);
  g_test_add_func ("/monitor-metrics/window-slides", test_window_slides);
  g_test_add_func ("/monitor-metrics/histogram", test_histogram);
  g_test_add_func ("/monitor-metrics/quantiles", test_quantiles);
  g_test_add_func ("/monitor-metrics/reservoir-wraps", test_reservoir_wraps);
  g_test_add_func ("/monitor-metrics/faults-window", test_faults_window);
  g_test_add_func ("/monitor-metrics/alert/latency", test_alert_latency);
  g_test_add_func ("/monitor-metrics/alert/availability", test_alert_availability);
  g_test_add_func ("/monitor-metrics/alert/faults", test_alert_faults);
  g_test_add_func ("/monitor-metrics/alert/off", test_alerts_off);
  g_test_add_func ("/monitor-metrics/status-data", test_status_data);
  g_test_add_func ("/monitor-metrics/prometheus/write-read", test_prometheus_write_read);
  g_test_add_func ("/monitor-metrics/prometheus/parse-errors", test_prometheus_parse_errors);
  g_test_add_func ("/monitor-metrics/prometheus/monitor", test_monitor_exposition);
  g_test_add_func ("/monitor-metrics/metrics-address", test_metrics_address);
  g_test_add_func ("/monitor-metrics/sanitize-reason", test_sanitize_reason);
  g_test_add_func ("/monitor-metrics/config", test_config_monitor);
  g_test_add_func ("/monitor-metrics/config-invalid", test_config_monitor_invalid);
  return g_test_run ();
}
