/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The OCPP link's reconnection delay (src/libevcp/ocpp/evcp-ocpp-backoff.c):
 * it doubles from the minimum, stops at the maximum, and is drawn from the
 * upper half of that (jitter); /ocpp/reconnect-backoff (test-ocpp.c) checks
 * the Engine's attempts against a dead CSMS. */
#include "evcp-build-config.h"

#include <math.h>

#include "evcp-ocpp-backoff.h"

/* The window [low, high] of attempt @failures. */
static void
window (guint min_ms, guint max_ms, guint failures, guint *low, guint *high)
{
  guint64 d = MAX (min_ms, 1);

  for (guint i = 0; i < failures && d < MAX (max_ms, min_ms); i++)
    d *= 2;
  d = MIN (d, MAX (max_ms, MAX (min_ms, 1)));
  *high = (guint) d;
  *low = (guint) (d - d / 2);
}

/* The ends of the draw: the lowest and the highest random give the window's
 * ends; it doubles from the minimum until the maximum, then stays there. */
static void
test_grows_and_caps (void)
{
  static const struct {
    guint failures, low, high;
  } expected[] = {
    { 0, 50, 100 },    { 1, 100, 200 },   { 2, 200, 400 },   { 3, 400, 800 },    { 4, 800, 1600 },
    { 5, 1600, 3200 }, { 6, 2500, 5000 }, { 7, 2500, 5000 }, { 50, 2500, 5000 }, { G_MAXUINT, 2500, 5000 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      guint f = expected[i].failures;

      g_assert_cmpuint (evcp_ocpp_backoff_ms (100, 5000, f, 0), ==, expected[i].low);
      g_assert_cmpuint (evcp_ocpp_backoff_ms (100, 5000, f, expected[i].high - expected[i].low), ==, expected[i].high);
      g_assert_cmpuint (evcp_ocpp_backoff_ms (100, 5000, f, G_MAXUINT32), >=, expected[i].low);
      g_assert_cmpuint (evcp_ocpp_backoff_ms (100, 5000, f, G_MAXUINT32), <=, expected[i].high);
    }
  /* the settings' extremes: no overflow, never 0, a maximum below the minimum */
  g_assert_cmpuint (evcp_ocpp_backoff_ms (3600000, 3600000, G_MAXUINT, G_MAXUINT32), <=, 3600000);
  g_assert_cmpuint (evcp_ocpp_backoff_ms (3600000, 3600000, G_MAXUINT, 0), ==, 1800000);
  g_assert_cmpuint (evcp_ocpp_backoff_ms (0, 0, 0, 0), ==, 1);
  g_assert_cmpuint (evcp_ocpp_backoff_ms (0, 0, 7, G_MAXUINT32), ==, 1);
  g_assert_cmpuint (evcp_ocpp_backoff_ms (1000, 10, 3, 0), ==, 500);
  g_assert_cmpuint (evcp_ocpp_backoff_ms (1000, 10, 3, 500), ==, 1000);
}

/* Random draws stay in their window, cover it and are spread over it: a
 * fleet's CPs do not retry together. */
static void
test_jitter (void)
{
  static const guint settings[][2] = { { 100, 5000 }, { 1000, 60000 }, { 10, 3600000 }, { 7, 7 } };

  for (guint s = 0; s < G_N_ELEMENTS (settings); s++)
    for (guint f = 0; f < 30; f++)
      {
        g_autoptr(GHashTable) seen = g_hash_table_new (NULL, NULL);
        guint low, high, lowest = G_MAXUINT, highest = 0;
        guint64 sum = 0;
        const guint n = 4000;

        window (settings[s][0], settings[s][1], f, &low, &high);
        for (guint i = 0; i < n; i++)
          {
            guint v = evcp_ocpp_backoff_ms (settings[s][0], settings[s][1], f, g_test_rand_int ());

            g_assert_cmpuint (v, >=, low);
            g_assert_cmpuint (v, <=, high);
            lowest = MIN (lowest, v);
            highest = MAX (highest, v);
            sum += v;
            g_hash_table_add (seen, GUINT_TO_POINTER (v));
          }
        /* most of the window is used, and evenly: the mean near its middle */
        g_assert_cmpuint (lowest, <=, low + (high - low) / 20);
        g_assert_cmpuint (highest, >=, high - (high - low) / 20);
        /* as many values as n uniform draws over the window give, nearly */
        g_assert_cmpfloat (g_hash_table_size (seen), >=,
                           0.9 * (high - low + 1) * (1 - exp (-(gdouble) n / (high - low + 1))));
        g_assert_cmpfloat_with_epsilon ((gdouble) sum / n, (low + high) / 2.0, (high - low) / 20.0 + 0.5);
      }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ocpp-backoff/grows-and-caps", test_grows_and_caps);
  g_test_add_func ("/ocpp-backoff/jitter", test_jitter);
  return g_test_run ();
}
