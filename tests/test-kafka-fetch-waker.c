/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The fetch waker's decisions (evcp-kafka-fetch-waker.c), on a fake queue,
 * a fake assignment and a fake clock: no cluster. */
#include "evcp-build-config.h"

#include <string.h>

#include "evcp-kafka-fetch-waker.h"

#define STOP_MESSAGES 100
#define STOP_BYTES    (1024 * 1024)

typedef struct {
  gint32 partition;
  gint64 position;   /* -1: none yet */
  gint64 high;
} FakePart;

typedef struct {
  gint64    queued;
  FakePart  parts[3];   /* of topic "t" */
  gint64    now;        /* µs */
  guint     timer_ms;   /* armed, or 0 */
  guint     timer_sets;
  gboolean  busy;
  GString  *seeks;      /* "t/0@5 t/1@7;" per seek */
  EvcpKafkaFetchWaker *waker;
} Fake;

static gint64
fake_queue_length (gpointer user_data)
{
  return ((Fake *) user_data)->queued;
}

static rd_kafka_topic_partition_list_t *
fake_positions (gpointer user_data, gboolean lagging_only)
{
  Fake *f = user_data;
  rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new (3);

  for (guint i = 0; i < G_N_ELEMENTS (f->parts); i++)
    if (f->parts[i].position >= 0 && (!lagging_only || f->parts[i].high > f->parts[i].position))
      rd_kafka_topic_partition_list_add (l, "t", f->parts[i].partition)->offset = f->parts[i].position;
  return l;
}

static void
fake_seek (gpointer user_data, rd_kafka_topic_partition_list_t *partitions)
{
  Fake *f = user_data;

  for (int i = 0; i < partitions->cnt; i++)
    g_string_append_printf (f->seeks, "%s%s/%d@%" G_GINT64_FORMAT, i > 0 ? " " : "",
                            partitions->elems[i].topic, partitions->elems[i].partition,
                            partitions->elems[i].offset);
  g_string_append_c (f->seeks, ';');
}

static gint64
fake_now (gpointer user_data)
{
  return ((Fake *) user_data)->now;
}

static void
fake_timer_set (gpointer user_data, guint delay_ms)
{
  Fake *f = user_data;

  f->timer_ms = delay_ms;
  f->timer_sets++;
}

static gboolean
fake_busy (gpointer user_data)
{
  return ((Fake *) user_data)->busy;
}

static const EvcpKafkaFetchWakerOps fake_ops = {
  fake_queue_length, fake_positions, fake_seek, fake_now, fake_timer_set, fake_busy,
};

static void
fake_setup (Fake *f, gconstpointer data)
{
  memset (f, 0, sizeof *f);
  for (guint i = 0; i < G_N_ELEMENTS (f->parts); i++)
    f->parts[i] = (FakePart) { (gint32) i, 0, 0 };
  f->now = 1000000;
  f->seeks = g_string_new (NULL);
  f->waker = evcp_kafka_fetch_waker_new_with_ops (&fake_ops, f, STOP_MESSAGES, STOP_BYTES);
}

static void
fake_teardown (Fake *f, gconstpointer data)
{
  g_clear_pointer (&f->waker, evcp_kafka_fetch_waker_free);
  g_assert_cmpuint (f->timer_ms, ==, 0);   /* freeing the waker stops its timer */
  g_string_free (f->seeks, TRUE);
}

/* The consumer loop polls a record of partition p at offset o (the fake
 * queue loses it, the position moves on). */
static void
consume (Fake *f, gint32 p, gint64 o)
{
  const gchar *topic = g_intern_static_string ("t");

  g_assert_cmpint (f->queued, >, 0);
  f->queued--;
  evcp_kafka_fetch_waker_polled (f->waker);
  evcp_kafka_fetch_waker_record (f->waker, topic, p, 100);
  f->parts[p].position = o + 1;
  evcp_kafka_fetch_waker_handled (f->waker, topic, p, o + 1);
  evcp_kafka_fetch_waker_left (f->waker);
}

#define assert_seeks(f, expected) G_STMT_START {              \
    g_autofree gchar *_s = g_strdup ((f)->seeks->str);                  \
    g_assert_cmpstr (_s, ==, (expected));                      \
    g_string_truncate ((f)->seeks, 0);                         \
  } G_STMT_END

static void
test_version (void)
{
  g_assert_true (evcp_kafka_fetch_waker_needed_for (0x020002ff));    /* 2.0.2, Debian 12 */
  g_assert_true (evcp_kafka_fetch_waker_needed_for (0x020100ff));    /* 2.1.0 */
  g_assert_true (evcp_kafka_fetch_waker_needed_for (0x020200fe));    /* a 2.2.0 pre-release */
  g_assert_false (evcp_kafka_fetch_waker_needed_for (0x020200ff));   /* 2.2.0 */
  g_assert_false (evcp_kafka_fetch_waker_needed_for (0x020600ff));
  g_assert_false (evcp_kafka_fetch_waker_needed_for (0x030000ff));
}

/* A queue that never filled: the fetcher works, nothing is sought, and a
 * queue that stays empty after records came only arms the timer. */
static void
test_no_stop (Fake *f, gconstpointer data)
{
  f->queued = 10;
  evcp_kafka_fetch_waker_begin (f->waker);
  for (gint64 o = 0; o < 10; o++)
    consume (f, 0, o);
  evcp_kafka_fetch_waker_drained (f->waker);
  assert_seeks (f, "");
  g_assert_cmpuint (evcp_kafka_fetch_waker_get_wakeups (f->waker), ==, 0);
  /* no statistics yet: the delay before looking again */
  g_assert_cmpuint (f->timer_ms, ==, 20);

  /* a batch that polls nothing does not re-arm it */
  f->timer_sets = 0;
  evcp_kafka_fetch_waker_begin (f->waker);
  evcp_kafka_fetch_waker_drained (f->waker);
  g_assert_cmpuint (f->timer_sets, ==, 0);

  /* caught up (no partition behind its high watermark): nothing sought,
   * not armed again */
  f->parts[0].high = 10;
  f->timer_ms = 0;
  evcp_kafka_fetch_waker_timer_fired (f->waker);
  assert_seeks (f, "");
  g_assert_cmpuint (f->timer_ms, ==, 0);
}

/* The queue stayed empty while partitions lag: those are sought at their
 * positions, and the delay doubles up to 500 ms while seeks bring nothing;
 * a record coming cancels the timer. */
static void
test_lagging (Fake *f, gconstpointer data)
{
  f->queued = 1;
  evcp_kafka_fetch_waker_begin (f->waker);
  consume (f, 1, 6);
  evcp_kafka_fetch_waker_drained (f->waker);
  g_assert_cmpuint (f->timer_ms, ==, 20);
  f->parts[1].high = 20;
  f->parts[2].high = 3;
  f->parts[2].position = 1;
  f->parts[0].position = -1;   /* no position: never sought */
  f->parts[0].high = 50;

  for (guint expected = 40; expected <= 640; expected *= 2)
    {
      f->timer_ms = 0;
      f->now += 100000;
      evcp_kafka_fetch_waker_timer_fired (f->waker);
      assert_seeks (f, "t/1@7 t/2@1;");
      g_assert_cmpuint (f->timer_ms, ==, MIN (expected, 500));
    }
  g_assert_cmpuint (evcp_kafka_fetch_waker_get_wakeups (f->waker), ==, 5);

  /* the answer: the timer goes */
  f->queued = 1;
  evcp_kafka_fetch_waker_begin (f->waker);
  consume (f, 1, 7);
  g_assert_cmpuint (f->timer_ms, ==, 0);
}

/* When the timer fires while a record waits in the queue or the consumer
 * holds one, the consumer loop takes over: nothing is sought. */
static void
test_timer_not_needed (Fake *f, gconstpointer data)
{
  f->queued = 1;
  evcp_kafka_fetch_waker_begin (f->waker);
  consume (f, 0, 0);
  evcp_kafka_fetch_waker_drained (f->waker);
  f->parts[0].high = 10;

  f->queued = 1;
  f->timer_ms = 0;
  evcp_kafka_fetch_waker_timer_fired (f->waker);
  assert_seeks (f, "");
  g_assert_cmpuint (f->timer_ms, ==, 0);

  f->queued = 0;
  f->busy = TRUE;
  evcp_kafka_fetch_waker_timer_fired (f->waker);
  assert_seeks (f, "");
  g_assert_cmpuint (f->timer_ms, ==, 0);

  f->busy = FALSE;
  evcp_kafka_fetch_waker_timer_fired (f->waker);
  assert_seeks (f, "t/0@1;");
  f->timer_ms = 0;   /* re-armed; the fake forgets it */
}

/* The queue filled (the fetcher stopped) and is drained: every partition
 * with a position is sought when it is empty, once. */
static void
test_full_then_empty (Fake *f, gconstpointer data)
{
  f->parts[2].position = -1;
  f->queued = STOP_MESSAGES;
  evcp_kafka_fetch_waker_begin (f->waker);
  for (gint64 o = 0; o < STOP_MESSAGES; o++)
    consume (f, 0, o);
  assert_seeks (f, "");   /* one partition only: no early seek */
  evcp_kafka_fetch_waker_drained (f->waker);
  assert_seeks (f, "t/0@100 t/1@0;");
  g_assert_cmpuint (evcp_kafka_fetch_waker_get_wakeups (f->waker), ==, 1);
  g_assert_cmpuint (f->timer_ms, ==, 0);   /* a seek is on its way: no timer */

  /* once: the next empty queue arms the timer instead */
  f->queued = 1;
  f->now += 40000;
  evcp_kafka_fetch_waker_begin (f->waker);
  consume (f, 0, 100);
  evcp_kafka_fetch_waker_drained (f->waker);
  assert_seeks (f, "");
  /* the seek was answered in 40 ms: three times that, rather than the
   * delay for not knowing */
  g_assert_cmpuint (f->timer_ms, ==, 3 * 41);
  f->timer_ms = 0;
}

/* A queue just under the threshold, looked at every few messages, counts
 * as full: what leaves it until the next look is the margin. */
static void
test_margin (Fake *f, gconstpointer data)
{
  f->queued = STOP_MESSAGES - STOP_MESSAGES / 8 - 1;
  evcp_kafka_fetch_waker_begin (f->waker);
  while (f->queued > 0)
    consume (f, 0, f->parts[0].position);
  evcp_kafka_fetch_waker_drained (f->waker);
  assert_seeks (f, "");
  f->timer_ms = 0;

  f->queued = STOP_MESSAGES - STOP_MESSAGES / 8;
  evcp_kafka_fetch_waker_begin (f->waker);
  while (f->queued > 0)
    consume (f, 0, f->parts[0].position);
  evcp_kafka_fetch_waker_drained (f->waker);
  assert_seeks (f, "t/0@175 t/1@0 t/2@0;");
}

/* The queue filled with records of several partitions; once it is below
 * the thresholds and the partition read until now has nothing left, that
 * one is sought at once (early); at the empty queue, only the partitions
 * whose broker was not woken early. */
static void
test_early (Fake *f, gconstpointer data)
{
  evcp_kafka_fetch_waker_set_leader (f->waker, "t", 0, 1);
  evcp_kafka_fetch_waker_set_leader (f->waker, "t", 1, 1);
  evcp_kafka_fetch_waker_set_leader (f->waker, "t", 2, 2);

  f->queued = STOP_MESSAGES + 20;
  evcp_kafka_fetch_waker_begin (f->waker);
  /* over the threshold still: partition 0's end is no reason to seek */
  for (gint64 o = 0; o < 20; o++)
    consume (f, 0, o);
  consume (f, 1, 0);
  assert_seeks (f, "");
  /* the queue, looked at again, is below: partition 1 ends, 2 begins */
  for (gint64 o = 1; o < 60; o++)
    consume (f, 1, o);
  consume (f, 2, 0);
  assert_seeks (f, "t/1@60;");
  /* once per filling */
  for (gint64 o = 1; f->queued > 0; o++)
    consume (f, 2, o);
  assert_seeks (f, "");
  evcp_kafka_fetch_waker_drained (f->waker);
  /* broker 1 (partitions 0 and 1) was woken early; broker 2 was not */
  assert_seeks (f, "t/2@40;");
  g_assert_cmpuint (evcp_kafka_fetch_waker_get_wakeups (f->waker), ==, 2);
}

/* Before the statistics tell the leaders, a partition of unknown leader
 * counts as woken once any was (likely the same broker); after, the
 * statistics' leaders and round trip decide. */
static void
test_statistics (Fake *f, gconstpointer data)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;

  f->queued = STOP_MESSAGES + 2;
  evcp_kafka_fetch_waker_begin (f->waker);
  for (gint64 o = 0; o < STOP_MESSAGES; o++)
    consume (f, 0, o);
  consume (f, 1, 0);
  assert_seeks (f, "t/0@100;");
  consume (f, 1, 1);
  evcp_kafka_fetch_waker_drained (f->waker);
  assert_seeks (f, "");   /* leaders unknown: counted as woken */

  g_assert_true (json_parser_load_from_data (parser,
    "{\"topics\": {\"t\": {\"partitions\": {"
    "  \"0\": {\"leader\": 1}, \"1\": {\"leader\": 2}, \"2\": {\"leader\": 2},"
    "  \"-1\": {\"leader\": 1}}}}}", -1, &error));
  g_assert_no_error (error);
  evcp_kafka_fetch_waker_statistics (f->waker, json_node_get_object (json_parser_get_root (parser)), 30);

  f->queued = STOP_MESSAGES + 2;
  evcp_kafka_fetch_waker_begin (f->waker);
  for (gint64 o = 100; o < 100 + STOP_MESSAGES; o++)
    consume (f, 0, o);
  consume (f, 1, 2);
  assert_seeks (f, "t/0@200;");
  consume (f, 1, 3);
  evcp_kafka_fetch_waker_drained (f->waker);
  /* partition 0's broker (1) was woken early; 1 and 2 are on broker 2 */
  assert_seeks (f, "t/1@4 t/2@0;");

  /* the round trip decides the timer: twice 30 ms */
  f->now += 5000;
  f->queued = 1;
  evcp_kafka_fetch_waker_begin (f->waker);
  consume (f, 2, 0);
  evcp_kafka_fetch_waker_drained (f->waker);
  g_assert_cmpuint (f->timer_ms, ==, 60);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/kafka-fetch-waker/version", test_version);
#define ADD(path, func) g_test_add ("/kafka-fetch-waker/" path, Fake, NULL, fake_setup, func, fake_teardown)
  ADD ("no-stop", test_no_stop);
  ADD ("lagging", test_lagging);
  ADD ("timer-not-needed", test_timer_not_needed);
  ADD ("full-then-empty", test_full_then_empty);
  ADD ("margin", test_margin);
  ADD ("early", test_early);
  ADD ("statistics", test_statistics);
  return g_test_run ();
}
