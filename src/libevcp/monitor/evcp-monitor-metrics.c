/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "evcp-monitor"

#include "evcp-build-config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "evcp-monitor-metrics.h"
#include "evcp-prometheus.h"

/* Bounded: a fault storm cannot grow it without limit. */
#define MAX_FAULT_TIMES 10000

const gdouble evcp_monitor_latency_bounds_ms[EVCP_MONITOR_LATENCY_N_BOUNDS] = {
  0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000,
};

typedef struct {
  gint64 t_us;
  gdouble ms;
} Sample;

typedef struct {
  gint64  index;    /* now_us / slot_us when last used; -1: never */
  guint32 checks;
  guint32 ok;
} Slot;

struct _EvcpMonitorMetrics
{
  EvcpMonitorThresholds t;
  gint64            started_us;

  EvcpMonitorState  status;
  EvcpMonitorState  previous;
  gchar            *reason;            /* the last failed check's */
  guint             consecutive_failures;
  guint             consecutive_successes;
  gdouble           last_latency_ms;

  guint64           checks;
  guint64           failed;
  guint64           faults;
  gint64            ko_since_us;
  gint64            time_ko_us;        /* finished KO spans */

  /* histogram since start */
  guint64           buckets[EVCP_MONITOR_LATENCY_N_BOUNDS + 1];
  gdouble           latency_sum_ms;

  /* reservoir: the latest answered checks */
  Sample            ring[EVCP_MONITOR_LATENCY_RESERVOIR];
  guint             ring_head;         /* next write */
  guint             ring_len;

  /* availability window */
  gint64            slot_us;
  Slot              slots[EVCP_MONITOR_WINDOW_SLOTS];

  GArray           *fault_times;       /* gint64 µs, oldest first */

  gboolean          firing[EVCP_MONITOR_ALERT_N_KINDS];
  gchar            *engine_warning;   /* while the ENGINE alert fires */
};

void
evcp_monitor_thresholds_init_from_config (EvcpMonitorThresholds *thresholds,
                                          const EvcpConfig      *config)
{
  g_return_if_fail (thresholds != NULL && config != NULL);

  thresholds->ko_after = MAX (config->ko_after, 1);
  thresholds->ok_after = MAX (config->ok_after, 1);
  thresholds->window_s = MAX (config->availability_window_s, 1);
  thresholds->alert_latency_ms = config->alert_latency_ms;
  thresholds->alert_availability = config->alert_availability;
  thresholds->alert_faults = config->alert_faults;
  thresholds->alert_faults_window_s = MAX (config->alert_faults_window_s, 1);
}

EvcpMonitorMetrics *
evcp_monitor_metrics_new (const EvcpMonitorThresholds *thresholds, gint64 now_us)
{
  EvcpMonitorMetrics *self;

  g_return_val_if_fail (thresholds != NULL, NULL);

  self = g_new0 (EvcpMonitorMetrics, 1);
  self->t = *thresholds;
  self->t.ko_after = MAX (self->t.ko_after, 1);
  self->t.ok_after = MAX (self->t.ok_after, 1);
  self->t.window_s = MAX (self->t.window_s, 1);
  self->t.alert_faults_window_s = MAX (self->t.alert_faults_window_s, 1);
  self->started_us = now_us;
  self->status = EVCP_MONITOR_UNKNOWN;
  self->previous = EVCP_MONITOR_UNKNOWN;
  self->reason = g_strdup ("");
  self->ko_since_us = -1;
  self->slot_us = MAX ((gint64) self->t.window_s * G_USEC_PER_SEC / EVCP_MONITOR_WINDOW_SLOTS, 1000);
  for (guint i = 0; i < EVCP_MONITOR_WINDOW_SLOTS; i++)
    self->slots[i].index = -1;
  self->fault_times = g_array_new (FALSE, FALSE, sizeof (gint64));
  return self;
}

void
evcp_monitor_metrics_free (EvcpMonitorMetrics *self)
{
  if (self == NULL)
    return;
  g_array_unref (self->fault_times);
  g_free (self->reason);
  g_free (self->engine_warning);
  g_free (self);
}

/* ---- recording ------------------------------------------------------------- */

static Slot *
current_slot (EvcpMonitorMetrics *self, gint64 now_us)
{
  gint64 index = now_us / self->slot_us;
  Slot *slot = &self->slots[index % EVCP_MONITOR_WINDOW_SLOTS];

  if (slot->index != index)
    {
      slot->index = index;
      slot->checks = 0;
      slot->ok = 0;
    }
  return slot;
}

static void
prune_faults (EvcpMonitorMetrics *self, gint64 now_us)
{
  gint64 horizon = now_us - (gint64) self->t.alert_faults_window_s * G_USEC_PER_SEC;
  guint old = 0;

  while (old < self->fault_times->len && g_array_index (self->fault_times, gint64, old) <= horizon)
    old++;
  if (old > 0)
    g_array_remove_range (self->fault_times, 0, old);
}

static void
set_status (EvcpMonitorMetrics *self, gint64 now_us, EvcpMonitorState status)
{
  if (self->status == EVCP_MONITOR_KO && self->ko_since_us >= 0)
    {
      self->time_ko_us += now_us - self->ko_since_us;
      self->ko_since_us = -1;
    }
  if (status == EVCP_MONITOR_KO)
    {
      self->faults++;
      self->ko_since_us = now_us;
      g_array_append_val (self->fault_times, now_us);
      if (self->fault_times->len > MAX_FAULT_TIMES)
        g_array_remove_index (self->fault_times, 0);
    }
  self->previous = self->status;
  self->status = status;
}

gboolean
evcp_monitor_metrics_record (EvcpMonitorMetrics *self,
                             gint64              now_us,
                             gboolean            ok,
                             gboolean            answered,
                             gdouble             latency_ms,
                             const gchar        *reason)
{
  Slot *slot;

  g_return_val_if_fail (self != NULL, FALSE);

  self->checks++;
  self->last_latency_ms = latency_ms;
  slot = current_slot (self, now_us);
  slot->checks++;
  if (ok)
    {
      slot->ok++;
      self->consecutive_successes++;
      self->consecutive_failures = 0;
    }
  else
    {
      self->failed++;
      self->consecutive_failures++;
      self->consecutive_successes = 0;
      g_free (self->reason);
      self->reason = g_strdup (reason != NULL && *reason != '\0' ? reason : "check failed");
    }

  if (answered)
    {
      guint i;

      for (i = 0; i < EVCP_MONITOR_LATENCY_N_BOUNDS; i++)
        if (latency_ms <= evcp_monitor_latency_bounds_ms[i])
          break;
      self->buckets[i]++;
      self->latency_sum_ms += latency_ms;
      self->ring[self->ring_head].t_us = now_us;
      self->ring[self->ring_head].ms = latency_ms;
      self->ring_head = (self->ring_head + 1) % EVCP_MONITOR_LATENCY_RESERVOIR;
      self->ring_len = MIN (self->ring_len + 1, EVCP_MONITOR_LATENCY_RESERVOIR);
    }

  if (ok && self->status != EVCP_MONITOR_OK && self->consecutive_successes >= self->t.ok_after)
    {
      set_status (self, now_us, EVCP_MONITOR_OK);
      return TRUE;
    }
  if (!ok && self->status != EVCP_MONITOR_KO && self->consecutive_failures >= self->t.ko_after)
    {
      set_status (self, now_us, EVCP_MONITOR_KO);
      return TRUE;
    }
  return FALSE;
}

/* ---- reading ---------------------------------------------------------------- */

EvcpMonitorState
evcp_monitor_metrics_get_status (EvcpMonitorMetrics *self)
{
  g_return_val_if_fail (self != NULL, EVCP_MONITOR_UNKNOWN);
  return self->status;
}

guint64
evcp_monitor_metrics_get_checks (EvcpMonitorMetrics *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->checks;
}

guint64
evcp_monitor_metrics_get_checks_failed (EvcpMonitorMetrics *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->failed;
}

guint64
evcp_monitor_metrics_get_faults (EvcpMonitorMetrics *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->faults;
}

guint
evcp_monitor_metrics_get_consecutive_failures (EvcpMonitorMetrics *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->consecutive_failures;
}

gdouble
evcp_monitor_metrics_get_availability (EvcpMonitorMetrics *self)
{
  g_return_val_if_fail (self != NULL, 0);

  if (self->checks == 0)
    return 1.0;
  return (gdouble) (self->checks - self->failed) / (gdouble) self->checks;
}

static void
window_counts (EvcpMonitorMetrics *self, gint64 now_us, guint64 *checks, guint64 *ok)
{
  gint64 index = now_us / self->slot_us;

  *checks = 0;
  *ok = 0;
  for (guint i = 0; i < EVCP_MONITOR_WINDOW_SLOTS; i++)
    {
      const Slot *slot = &self->slots[i];

      /* the current slot and the ones before it, within the window */
      if (slot->index >= 0 && slot->index <= index &&
          slot->index > index - EVCP_MONITOR_WINDOW_SLOTS)
        {
          *checks += slot->checks;
          *ok += slot->ok;
        }
    }
}

gdouble
evcp_monitor_metrics_get_window_availability (EvcpMonitorMetrics *self, gint64 now_us)
{
  guint64 checks, ok;

  g_return_val_if_fail (self != NULL, 0);

  window_counts (self, now_us, &checks, &ok);
  return checks == 0 ? 1.0 : (gdouble) ok / (gdouble) checks;
}

gdouble
evcp_monitor_metrics_get_uptime_s (EvcpMonitorMetrics *self, gint64 now_us)
{
  g_return_val_if_fail (self != NULL, 0);
  return (gdouble) MAX (now_us - self->started_us, 0) / G_USEC_PER_SEC;
}

gdouble
evcp_monitor_metrics_get_time_ko_s (EvcpMonitorMetrics *self, gint64 now_us)
{
  gint64 us;

  g_return_val_if_fail (self != NULL, 0);

  us = self->time_ko_us;
  if (self->status == EVCP_MONITOR_KO && self->ko_since_us >= 0)
    us += MAX (now_us - self->ko_since_us, 0);
  return (gdouble) us / G_USEC_PER_SEC;
}

guint
evcp_monitor_metrics_get_faults_in_window (EvcpMonitorMetrics *self, gint64 now_us)
{
  g_return_val_if_fail (self != NULL, 0);

  prune_faults (self, now_us);
  return self->fault_times->len;
}

static gint
compare_doubles (gconstpointer a, gconstpointer b)
{
  gdouble x = *(const gdouble *) a, y = *(const gdouble *) b;

  return (x > y) - (x < y);
}

gdouble
evcp_monitor_metrics_get_latency_quantile (EvcpMonitorMetrics *self, gint64 now_us, gdouble q)
{
  gdouble values[EVCP_MONITOR_LATENCY_RESERVOIR];
  gint64 horizon;
  guint n = 0;
  guint rank;

  g_return_val_if_fail (self != NULL, NAN);
  g_return_val_if_fail (q >= 0 && q <= 1, NAN);

  horizon = now_us - (gint64) self->t.window_s * G_USEC_PER_SEC;
  for (guint i = 0; i < self->ring_len; i++)
    if (self->ring[i].t_us > horizon)
      values[n++] = self->ring[i].ms;
  if (n == 0)
    return NAN;
  qsort (values, n, sizeof values[0], compare_doubles);
  /* nearest rank: the smallest value with at least q of the values at or under it */
  rank = (guint) ceil (q * n);
  rank = CLAMP (rank, 1, n);
  return values[rank - 1];
}

void
evcp_monitor_metrics_get_histogram (EvcpMonitorMetrics *self, guint64 *counts, gdouble *sum_ms)
{
  guint64 cumulative = 0;

  g_return_if_fail (self != NULL);

  for (guint i = 0; i <= EVCP_MONITOR_LATENCY_N_BOUNDS; i++)
    {
      cumulative += self->buckets[i];
      if (counts != NULL)
        counts[i] = cumulative;
    }
  if (sum_ms != NULL)
    *sum_ms = self->latency_sum_ms;
}

void
evcp_monitor_metrics_fill_status (EvcpMonitorMetrics *self, gint64 now_us, EvcpMonitorStatus *status)
{
  g_return_if_fail (self != NULL && status != NULL);

  status->status = self->status;
  status->previous_status = self->previous;
  g_free (status->reason);
  status->reason = g_strdup (self->status == EVCP_MONITOR_OK ? "" : self->reason);
  status->consecutive_failures = self->consecutive_failures;
  status->consecutive_successes = self->consecutive_successes;
  status->latency_ms = self->last_latency_ms;
  status->availability = evcp_monitor_metrics_get_availability (self);
  status->window_availability = evcp_monitor_metrics_get_window_availability (self, now_us);
  status->uptime_s = evcp_monitor_metrics_get_uptime_s (self, now_us);
  status->time_ko_s = evcp_monitor_metrics_get_time_ko_s (self, now_us);
  status->checks = self->checks;
  status->checks_failed = self->failed;
  status->faults = self->faults;
}

/* ---- alerts ------------------------------------------------------------------ */

static void
update_alert (EvcpMonitorMetrics *self, EvcpMonitorAlertKind kind, gboolean firing,
              gdouble value, gdouble threshold, GPtrArray *changed, guint *n)
{
  if (self->firing[kind] == firing)
    return;
  self->firing[kind] = firing;
  g_ptr_array_add (changed, evcp_monitor_alert_new (kind, firing, value, threshold));
  (*n)++;
}

guint
evcp_monitor_metrics_update_alerts (EvcpMonitorMetrics *self, gint64 now_us, GPtrArray *changed)
{
  guint n = 0;

  g_return_val_if_fail (self != NULL && changed != NULL, 0);

  if (self->t.alert_latency_ms > 0)
    {
      gdouble p99 = evcp_monitor_metrics_get_latency_quantile (self, now_us, 0.99);

      if (!isnan (p99))
        update_alert (self, EVCP_MONITOR_ALERT_LATENCY, p99 > self->t.alert_latency_ms,
                      p99, self->t.alert_latency_ms, changed, &n);
    }
  if (self->t.alert_availability > 0)
    {
      guint64 checks, ok;

      window_counts (self, now_us, &checks, &ok);
      if (checks > 0)
        {
          gdouble a = (gdouble) ok / (gdouble) checks;

          update_alert (self, EVCP_MONITOR_ALERT_AVAILABILITY, a < self->t.alert_availability,
                        a, self->t.alert_availability, changed, &n);
        }
    }
  if (self->t.alert_faults > 0)
    {
      guint faults = evcp_monitor_metrics_get_faults_in_window (self, now_us);

      update_alert (self, EVCP_MONITOR_ALERT_FAULTS, faults >= self->t.alert_faults,
                    faults, self->t.alert_faults, changed, &n);
    }
  return n;
}

/**
 * evcp_monitor_metrics_set_engine_warning:
 * @warning: (nullable): the warning of an OK answer, %NULL or "" for none
 * @changed: (element-type EvcpMonitorAlert): where to add the ENGINE alert
 *   when it fires, changes its warning, or is resolved
 *
 * Returns: how many alerts were added (0 or 1)
 */
guint
evcp_monitor_metrics_set_engine_warning (EvcpMonitorMetrics *self,
                                         const gchar        *warning,
                                         GPtrArray          *changed)
{
  gboolean firing = warning != NULL && *warning != '\0';
  EvcpMonitorAlert *alert;

  g_return_val_if_fail (self != NULL && changed != NULL, 0);

  if (firing == self->firing[EVCP_MONITOR_ALERT_ENGINE] &&
      (!firing || g_strcmp0 (warning, self->engine_warning) == 0))
    return 0;
  self->firing[EVCP_MONITOR_ALERT_ENGINE] = firing;
  alert = evcp_monitor_alert_new (EVCP_MONITOR_ALERT_ENGINE, firing, firing ? 1 : 0, 0);
  g_free (alert->message);
  alert->message = firing ? g_strdup_printf ("the Engine warns: %s", warning)
                          : g_strdup_printf ("the Engine's warning is over (it was: %s)", self->engine_warning);
  g_free (self->engine_warning);
  self->engine_warning = firing ? g_strdup (warning) : NULL;
  g_ptr_array_add (changed, alert);
  return 1;
}

gboolean
evcp_monitor_metrics_alert_is_firing (EvcpMonitorMetrics *self, EvcpMonitorAlertKind kind)
{
  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail ((guint) kind < EVCP_MONITOR_ALERT_N_KINDS, FALSE);
  return self->firing[kind];
}

/* ---- exposition -------------------------------------------------------------- */

void
evcp_monitor_metrics_format (EvcpMonitorMetrics *self,
                             gint64              now_us,
                             const gchar        *cp_id,
                             GString            *out)
{
  const gchar *cp[] = { "cp_id", cp_id, NULL };
  guint64 counts[EVCP_MONITOR_LATENCY_N_BOUNDS + 1];
  gdouble sum_ms;

  g_return_if_fail (self != NULL && cp_id != NULL && out != NULL);

  evcp_prometheus_family (out, "evcp_monitor_up", "gauge",
                          "1 while the Engine is OK, 0 while it is KO or not yet known.");
  evcp_prometheus_sample (out, "evcp_monitor_up", cp, self->status == EVCP_MONITOR_OK);

  evcp_prometheus_family (out, "evcp_monitor_status", "gauge",
                          "The Engine's status as seen by the Monitor (one series per state, 1 for the current one).");
  for (EvcpMonitorState s = EVCP_MONITOR_UNKNOWN; s <= EVCP_MONITOR_KO; s++)
    {
      const gchar *labels[] = { "cp_id", cp_id, "status", evcp_monitor_state_to_string (s), NULL };

      evcp_prometheus_sample (out, "evcp_monitor_status", labels, self->status == s);
    }

  evcp_prometheus_family (out, "evcp_monitor_checks_total", "counter", "Health checks done.");
  evcp_prometheus_sample_u64 (out, "evcp_monitor_checks_total", cp, self->checks);
  evcp_prometheus_family (out, "evcp_monitor_checks_failed_total", "counter",
                          "Health checks that failed (KO, no answer in time, refused, closed, bad frames).");
  evcp_prometheus_sample_u64 (out, "evcp_monitor_checks_failed_total", cp, self->failed);
  evcp_prometheus_family (out, "evcp_monitor_consecutive_failures", "gauge",
                          "Failed checks in a row.");
  evcp_prometheus_sample_u64 (out, "evcp_monitor_consecutive_failures", cp, self->consecutive_failures);
  evcp_prometheus_family (out, "evcp_monitor_faults_total", "counter", "Changes of the status to KO.");
  evcp_prometheus_sample_u64 (out, "evcp_monitor_faults_total", cp, self->faults);
  evcp_prometheus_family (out, "evcp_monitor_faults_in_window", "gauge",
                          "Faults within the alert-faults window.");
  evcp_prometheus_sample_u64 (out, "evcp_monitor_faults_in_window", cp,
                              evcp_monitor_metrics_get_faults_in_window (self, now_us));

  evcp_monitor_metrics_get_histogram (self, counts, &sum_ms);
  evcp_prometheus_family (out, "evcp_monitor_check_latency_seconds", "histogram",
                          "Latency of the answered health checks, since the Monitor started.");
  for (guint i = 0; i <= EVCP_MONITOR_LATENCY_N_BOUNDS; i++)
    {
      gchar le[G_ASCII_DTOSTR_BUF_SIZE];
      const gchar *labels[] = { "cp_id", cp_id, "le", le, NULL };

      if (i < EVCP_MONITOR_LATENCY_N_BOUNDS)
        g_ascii_formatd (le, sizeof le, "%g", evcp_monitor_latency_bounds_ms[i] / 1000.0);
      else
        g_strlcpy (le, "+Inf", sizeof le);
      evcp_prometheus_sample_u64 (out, "evcp_monitor_check_latency_seconds_bucket", labels, counts[i]);
    }
  evcp_prometheus_sample (out, "evcp_monitor_check_latency_seconds_sum", cp, sum_ms / 1000.0);
  evcp_prometheus_sample_u64 (out, "evcp_monitor_check_latency_seconds_count", cp,
                              counts[EVCP_MONITOR_LATENCY_N_BOUNDS]);

  evcp_prometheus_family (out, "evcp_monitor_check_latency_p50_seconds", "gauge",
                          "Median latency of the answered checks within the sliding window (NaN if none).");
  evcp_prometheus_sample (out, "evcp_monitor_check_latency_p50_seconds", cp,
                          evcp_monitor_metrics_get_latency_quantile (self, now_us, 0.5) / 1000.0);
  evcp_prometheus_family (out, "evcp_monitor_check_latency_p99_seconds", "gauge",
                          "99th percentile latency of the answered checks within the sliding window (NaN if none).");
  evcp_prometheus_sample (out, "evcp_monitor_check_latency_p99_seconds", cp,
                          evcp_monitor_metrics_get_latency_quantile (self, now_us, 0.99) / 1000.0);
  evcp_prometheus_family (out, "evcp_monitor_last_check_latency_seconds", "gauge",
                          "How long the last check took, answered or not.");
  evcp_prometheus_sample (out, "evcp_monitor_last_check_latency_seconds", cp, self->last_latency_ms / 1000.0);

  evcp_prometheus_family (out, "evcp_monitor_availability_ratio", "gauge",
                          "Good checks over all checks since the Monitor started.");
  evcp_prometheus_sample (out, "evcp_monitor_availability_ratio", cp,
                          evcp_monitor_metrics_get_availability (self));
  evcp_prometheus_family (out, "evcp_monitor_window_availability_ratio", "gauge",
                          "Good checks over all checks within the sliding window.");
  evcp_prometheus_sample (out, "evcp_monitor_window_availability_ratio", cp,
                          evcp_monitor_metrics_get_window_availability (self, now_us));
  evcp_prometheus_family (out, "evcp_monitor_window_seconds", "gauge", "Length of the sliding window.");
  evcp_prometheus_sample_u64 (out, "evcp_monitor_window_seconds", cp, self->t.window_s);

  evcp_prometheus_family (out, "evcp_monitor_uptime_seconds", "gauge", "Seconds since the Monitor started watching.");
  evcp_prometheus_sample (out, "evcp_monitor_uptime_seconds", cp, evcp_monitor_metrics_get_uptime_s (self, now_us));
  evcp_prometheus_family (out, "evcp_monitor_ko_seconds_total", "counter", "Seconds the Engine spent KO.");
  evcp_prometheus_sample (out, "evcp_monitor_ko_seconds_total", cp, evcp_monitor_metrics_get_time_ko_s (self, now_us));

  evcp_prometheus_family (out, "evcp_monitor_alert_firing", "gauge", "1 while an alert threshold is crossed.");
  for (guint k = 0; k < EVCP_MONITOR_ALERT_N_KINDS; k++)
    {
      const gchar *labels[] = { "cp_id", cp_id, "alert", evcp_monitor_alert_kind_to_string (k), NULL };

      evcp_prometheus_sample (out, "evcp_monitor_alert_firing", labels, self->firing[k]);
    }
}
