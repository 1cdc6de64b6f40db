/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "evcp-build-config.h"

#include <math.h>

#include "evcp-error.h"
#include "evcp-supply.h"

typedef struct {
  EvcpSupply *supply;
  GPtrArray  *tickets;      /* EvcpSession, ended */
  GPtrArray  *telemetry;    /* EvcpSession snapshots */
  GArray     *states;       /* EvcpCpState, new ones */
  guint       started;
} Fixture;

static void
on_started (EvcpSupply *s, EvcpSession *session, Fixture *f)
{
  f->started++;
}

static void
on_telemetry (EvcpSupply *s, EvcpSession *session, Fixture *f)
{
  g_ptr_array_add (f->telemetry, evcp_session_copy (session));
}

static void
on_ended (EvcpSupply *s, EvcpSession *session, Fixture *f)
{
  g_assert_nonnull (session->ended_reason);
  g_ptr_array_add (f->tickets, evcp_session_copy (session));
}

static void
on_state (EvcpSupply *s, EvcpCpState old, EvcpCpState state, Fixture *f)
{
  g_array_append_val (f->states, state);
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  f->supply = evcp_supply_new (0.40);
  evcp_supply_set_interval (f->supply, 50);
  f->tickets = g_ptr_array_new_with_free_func ((GDestroyNotify) evcp_session_free);
  f->telemetry = g_ptr_array_new_with_free_func ((GDestroyNotify) evcp_session_free);
  f->states = g_array_new (FALSE, FALSE, sizeof (EvcpCpState));
  g_signal_connect (f->supply, "session-started", G_CALLBACK (on_started), f);
  g_signal_connect (f->supply, "telemetry", G_CALLBACK (on_telemetry), f);
  g_signal_connect (f->supply, "session-ended", G_CALLBACK (on_ended), f);
  g_signal_connect (f->supply, "state-changed", G_CALLBACK (on_state), f);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_clear_object (&f->supply);
  g_ptr_array_unref (f->tickets);
  g_ptr_array_unref (f->telemetry);
  g_array_unref (f->states);
}

static gboolean
has_ticket (Fixture *f)
{
  return f->tickets->len > 0;
}

static void
wait_for (gboolean (*pred) (Fixture *), Fixture *f, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + timeout_ms * 1000;

  while (!pred (f) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (pred (f));
}

static gboolean
has_three_reports (Fixture *f)
{
  return f->telemetry->len >= 3;
}

static void
request (Fixture *f, gdouble kw, gint64 max_s, gdouble max_kwh)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (evcp_supply_request (f->supply, "driver-1", NULL, "kafka", kw, max_s, max_kwh, &error));
  g_assert_no_error (error);
}

static void
test_unplug (Fixture *f, gconstpointer data)
{
  const EvcpSession *s;
  EvcpSession *t;

  g_assert_cmpint (evcp_supply_get_state (f->supply), ==, EVCP_CP_STATE_ACTIVE);
  request (f, 36.0, 3600, 0);
  g_assert_cmpint (evcp_supply_get_state (f->supply), ==, EVCP_CP_STATE_SUPPLYING);
  g_assert_cmpuint (f->started, ==, 1);
  s = evcp_supply_get_session (f->supply);
  g_assert_nonnull (s);
  g_assert_true (g_uuid_string_is_valid (s->session_id));

  wait_for (has_three_reports, f, 5000);
  /* energy = power × time, cost = energy × price, from the session's own clock */
  for (guint i = 0; i < f->telemetry->len; i++)
    {
      EvcpSession *r = f->telemetry->pdata[i];

      g_assert_cmpuint (r->ticks, ==, i + 1);
      g_assert_cmpfloat_with_epsilon (r->kwh, 36.0 * r->elapsed_ms / 3600000.0, 1e-9);
      g_assert_cmpfloat_with_epsilon (r->eur, r->kwh * 0.40, 1e-9);
      /* the n-th report comes at n × interval, not later */
      g_assert_cmpint (r->elapsed_ms, >=, (gint64) (i + 1) * 50);
    }

  g_assert_true (evcp_supply_unplug (f->supply));
  g_assert_false (evcp_supply_unplug (f->supply));
  g_assert_cmpuint (f->tickets->len, ==, 1);
  t = f->tickets->pdata[0];
  g_assert_cmpstr (t->ended_reason, ==, EVCP_END_UNPLUGGED);
  g_assert_cmpstr (t->driver, ==, "driver-1");
  g_assert_cmpfloat (t->kwh, >=, ((EvcpSession *) f->telemetry->pdata[f->telemetry->len - 1])->kwh);
  g_assert_cmpint (evcp_supply_get_state (f->supply), ==, EVCP_CP_STATE_ACTIVE);
  g_assert_null (evcp_supply_get_session (f->supply));
  g_assert_cmpuint (f->states->len, ==, 2);
}

static void
test_duration (Fixture *f, gconstpointer data)
{
  EvcpSession *t;
  gint64 start = g_get_monotonic_time ();

  request (f, 3600.0 / 1000, 1, 0);  /* 3.6 kW for 1 s: 1 Wh */
  wait_for (has_ticket, f, 5000);
  t = f->tickets->pdata[0];
  g_assert_cmpstr (t->ended_reason, ==, EVCP_END_DURATION);
  /* ends at max_duration: not before, and the energy is that of exactly 1 s */
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 1000 * 1000);
  g_assert_cmpint (t->elapsed_ms, ==, 1000);
  g_assert_cmpfloat_with_epsilon (t->kwh, 0.001, 1e-12);
  /* a report every 50 ms on an absolute schedule: 20 in the second, never
   * more; a report delayed past the end (a loaded machine, valgrind) merges
   * with the last one instead of shifting the others */
  g_assert_cmpuint (t->ticks, <=, 20);
  g_assert_cmpuint (t->ticks, >=, 15);
  g_assert_cmpint (evcp_supply_get_state (f->supply), ==, EVCP_CP_STATE_ACTIVE);
}

static void
test_completed (Fixture *f, gconstpointer data)
{
  EvcpSession *t;

  request (f, 360.0, 3600, 0.005);   /* 360 kW reaches 5 Wh in 50 ms */
  wait_for (has_ticket, f, 5000);
  t = f->tickets->pdata[0];
  g_assert_cmpstr (t->ended_reason, ==, EVCP_END_COMPLETED);
  g_assert_cmpfloat_with_epsilon (t->kwh, 0.005, 1e-12);
}

static void
expect_refused (Fixture *f, const gchar *reason)
{
  g_autoptr(GError) error = NULL;

  g_assert_false (evcp_supply_request (f->supply, "driver-2", NULL, "kafka", 11, 60, 0, &error));
  g_assert_error (error, EVCP_ERROR, EVCP_ERROR_REFUSED);
  g_assert_cmpstr (error->message, ==, reason);
}

static void
test_stop_resume_and_refusals (Fixture *f, gconstpointer data)
{
  request (f, 11, 600, 0);
  expect_refused (f, EVCP_REFUSED_BUSY);

  evcp_supply_hold (f->supply, EVCP_SUPPLY_HOLD_CENTRAL);
  g_assert_cmpuint (f->tickets->len, ==, 1);
  g_assert_cmpstr (((EvcpSession *) f->tickets->pdata[0])->ended_reason, ==, EVCP_END_STOPPED);
  g_assert_cmpint (evcp_supply_get_state (f->supply), ==, EVCP_CP_STATE_STOPPED);
  expect_refused (f, EVCP_REFUSED_STOPPED);
  evcp_supply_hold (f->supply, EVCP_SUPPLY_HOLD_CENTRAL); /* idempotent, no second ticket */
  g_assert_cmpuint (f->tickets->len, ==, 1);

  evcp_supply_release (f->supply, EVCP_SUPPLY_HOLD_CENTRAL);
  g_assert_cmpint (evcp_supply_get_state (f->supply), ==, EVCP_CP_STATE_ACTIVE);
  request (f, 11, 600, 0);
  g_assert_cmpint (evcp_supply_get_state (f->supply), ==, EVCP_CP_STATE_SUPPLYING);
}

/* Each holder lifts its own hold only: the CP stays STOPPED while another
 * holds it (Central's RESUME under an OCPP Inoperative, an accepted
 * BootNotification under Central's STOP). */
static void
test_holds (Fixture *f, gconstpointer data)
{
  request (f, 11, 600, 0);
  evcp_supply_hold (f->supply, EVCP_SUPPLY_HOLD_OCPP_BOOT);
  g_assert_cmpuint (f->tickets->len, ==, 1);
  g_assert_cmpstr (((EvcpSession *) f->tickets->pdata[0])->ended_reason, ==, EVCP_END_STOPPED);
  evcp_supply_hold (f->supply, EVCP_SUPPLY_HOLD_CENTRAL);
  g_assert_cmpuint (f->tickets->len, ==, 1);
  g_assert_cmpuint (evcp_supply_get_holds (f->supply), ==, EVCP_SUPPLY_HOLD_OCPP_BOOT | EVCP_SUPPLY_HOLD_CENTRAL);

  /* the boot accepted: Central's STOP still holds */
  evcp_supply_release (f->supply, EVCP_SUPPLY_HOLD_OCPP_BOOT);
  g_assert_cmpint (evcp_supply_get_state (f->supply), ==, EVCP_CP_STATE_STOPPED);
  expect_refused (f, EVCP_REFUSED_STOPPED);
  /* a release of what is not held changes nothing */
  evcp_supply_release (f->supply, EVCP_SUPPLY_HOLD_INOPERATIVE);
  g_assert_cmpint (evcp_supply_get_state (f->supply), ==, EVCP_CP_STATE_STOPPED);

  /* Inoperative too; then Central's RESUME: Inoperative still holds */
  evcp_supply_hold (f->supply, EVCP_SUPPLY_HOLD_INOPERATIVE);
  evcp_supply_release (f->supply, EVCP_SUPPLY_HOLD_CENTRAL);
  g_assert_cmpint (evcp_supply_get_state (f->supply), ==, EVCP_CP_STATE_STOPPED);
  g_assert_cmpuint (evcp_supply_get_holds (f->supply), ==, EVCP_SUPPLY_HOLD_INOPERATIVE);
  expect_refused (f, EVCP_REFUSED_STOPPED);

  evcp_supply_release (f->supply, EVCP_SUPPLY_HOLD_INOPERATIVE);
  g_assert_cmpuint (evcp_supply_get_holds (f->supply), ==, 0);
  g_assert_cmpint (evcp_supply_get_state (f->supply), ==, EVCP_CP_STATE_ACTIVE);
  request (f, 11, 600, 0);
  g_assert_cmpint (evcp_supply_get_state (f->supply), ==, EVCP_CP_STATE_SUPPLYING);
  g_assert_cmpuint (f->tickets->len, ==, 1);
}

static void
test_fault (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  request (f, 22, 600, 0);
  evcp_supply_set_fault (f->supply, "contactor welded");
  /* a fault during a supply ends it at once */
  g_assert_cmpuint (f->tickets->len, ==, 1);
  g_assert_cmpstr (((EvcpSession *) f->tickets->pdata[0])->ended_reason, ==, EVCP_END_FAULT);
  g_assert_cmpint (evcp_supply_get_state (f->supply), ==, EVCP_CP_STATE_FAULT);
  g_assert_cmpstr (evcp_supply_get_fault_reason (f->supply), ==, "contactor welded");
  expect_refused (f, EVCP_REFUSED_FAULT);
  /* RESUME does not clear a fault; a stop under a fault is remembered */
  evcp_supply_release (f->supply, EVCP_SUPPLY_HOLD_CENTRAL);
  g_assert_cmpint (evcp_supply_get_state (f->supply), ==, EVCP_CP_STATE_FAULT);
  evcp_supply_hold (f->supply, EVCP_SUPPLY_HOLD_CENTRAL);
  evcp_supply_clear_fault (f->supply);
  g_assert_cmpint (evcp_supply_get_state (f->supply), ==, EVCP_CP_STATE_STOPPED);
  evcp_supply_release (f->supply, EVCP_SUPPLY_HOLD_CENTRAL);
  g_assert_cmpint (evcp_supply_get_state (f->supply), ==, EVCP_CP_STATE_ACTIVE);

  /* bad figures are not a refusal but an invalid request */
  g_assert_false (evcp_supply_request (f->supply, "d", NULL, "kafka", -1, 60, 0, &error));
  g_assert_error (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE);
  g_assert_cmpuint (f->tickets->len, ==, 1);
}

static void
test_session_json (void)
{
  EvcpSession s = {
    .session_id = (gchar *) "s-1", .driver = (gchar *) "u1", .source = (gchar *) "central",
    .power_kw = 22, .max_duration_s = 60, .price_eur_kwh = 0.3, .kwh = 1.25, .eur = 0.375,
    .elapsed_ms = 204545, .started_wall_us = 1764150000000000, .ticks = 204,
    .ended_reason = (gchar *) "FAULT",
  };
  g_autoptr(JsonNode) node = evcp_session_to_json (&s);
  g_autoptr(EvcpSession) back = evcp_session_from_json (node, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) bad = json_from_string ("{\"kwh\":1}", NULL);

  g_assert_nonnull (back);
  g_assert_cmpstr (back->session_id, ==, "s-1");
  g_assert_cmpstr (back->source, ==, "central");
  g_assert_cmpfloat (back->kwh, ==, 1.25);
  g_assert_cmpint (back->elapsed_ms, ==, 204545);
  g_assert_cmpuint (back->ticks, ==, 204);
  g_assert_cmpstr (back->ended_reason, ==, "FAULT");
  g_assert_null (evcp_session_from_json (bad, &error));
  g_assert_error (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  /* faults are logged as warnings on purpose */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  g_test_add ("/supply/unplug", Fixture, NULL, fixture_set_up, test_unplug, fixture_tear_down);
  g_test_add ("/supply/duration", Fixture, NULL, fixture_set_up, test_duration, fixture_tear_down);
  g_test_add ("/supply/completed", Fixture, NULL, fixture_set_up, test_completed, fixture_tear_down);
  g_test_add ("/supply/stop-resume-refusals", Fixture, NULL, fixture_set_up,
              test_stop_resume_and_refusals, fixture_tear_down);
  g_test_add ("/supply/holds", Fixture, NULL, fixture_set_up, test_holds, fixture_tear_down);
  g_test_add ("/supply/fault", Fixture, NULL, fixture_set_up, test_fault, fixture_tear_down);
  g_test_add_func ("/supply/session-json", test_session_json);
  return g_test_run ();
}
