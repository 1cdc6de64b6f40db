/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "evcp-build-config.h"

#ifdef G_OS_UNIX
#include <sys/stat.h>
#endif

#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "evcp-test-expect.h"
#include "evcp-config.h"
#include "evcp-error.h"
#include "evcp-frame-field.h"

static gchar *
write_key_file (const gchar *contents)
{
  g_autoptr(GError) error = NULL;
  gchar *path = NULL;
  gint fd = g_file_open_tmp ("evcp-config-XXXXXX.conf", &path, &error);

  g_assert_no_error (error);
  close (fd);
  g_assert_true (g_file_set_contents (path, contents, -1, &error));
  return path;
}

static void
test_config_defaults (void)
{
  g_autoptr(EvcpConfig) config = evcp_config_new ();
  g_autoptr(GError) error = NULL;

  g_assert_cmpstr (config->cp_id, ==, "CP-001");
  g_assert_cmpstr (config->kafka_brokers, ==, "localhost:9092");
  g_assert_cmpuint (g_strv_length (config->kafka_topics), ==, 3);
  g_assert_cmpstr (config->kafka_topics[1], ==, "charging_requests");
  g_assert_cmpstr (evcp_config_get_group_id (config), ==, "cp_engine_CP-001");
  g_assert_cmpuint (config->max_message_size, ==, 1024 * 1024);
  g_assert_true (evcp_config_validate (config, &error));
}

static void
test_config_environment (void)
{
  g_autoptr(EvcpConfig) config = evcp_config_new ();
  g_autoptr(GError) error = NULL;
  const gchar *env[] = {
    "CP_ID=CP-042", "KAFKA_BROKERS=k1:9092,k2:9092", "KAFKA_TOPICS= a , b,,c ",
    "CENTRAL_HOST=central.example", "CENTRAL_PORT=7001", "UNRELATED=1", NULL
  };

  g_assert_true (evcp_config_load_environment (config, env, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (config->cp_id, ==, "CP-042");
  g_assert_cmpstr (config->kafka_brokers, ==, "k1:9092,k2:9092");
  g_assert_cmpuint (g_strv_length (config->kafka_topics), ==, 3);
  g_assert_cmpstr (config->kafka_topics[2], ==, "c");
  /* the group follows the CP id unless KAFKA_GROUP_ID says otherwise */
  g_assert_cmpstr (evcp_config_get_group_id (config), ==, "cp_engine_CP-042");
  g_assert_cmpstr (config->central_host, ==, "central.example");
  g_assert_cmpuint (config->central_port, ==, 7001);
}

static void
test_config_environment_invalid (void)
{
  g_autoptr(EvcpConfig) config = evcp_config_new ();
  g_autoptr(GError) error = NULL;
  const gchar *port[] = { "CENTRAL_PORT=70000", NULL };
  const gchar *topics[] = { "KAFKA_TOPICS= , ,", NULL };
  const gchar *empty[] = { "CP_ID=", "KAFKA_GROUP_ID=g1", NULL };

  g_assert_false (evcp_config_load_environment (config, port, &error));
  g_assert_error (error, EVCP_ERROR, EVCP_ERROR_CONFIG);
  g_clear_error (&error);
  g_assert_false (evcp_config_load_environment (config, topics, &error));
  g_assert_error (error, EVCP_ERROR, EVCP_ERROR_CONFIG);
  g_clear_error (&error);
  /* empty counts as unset */
  g_assert_true (evcp_config_load_environment (config, empty, &error));
  g_assert_cmpstr (config->cp_id, ==, "CP-001");
  g_assert_cmpstr (evcp_config_get_group_id (config), ==, "g1");
}

static void
test_config_key_file_overrides_environment (void)
{
  g_autoptr(EvcpConfig) config = evcp_config_new ();
  g_autoptr(GError) error = NULL;
  g_autofree gchar *path = write_key_file (
    "[evcp]\ncp-id=CP-FILE\nprice=0.45\nlocation=Main street 1\n"
    "[kafka]\ntopics=t1,t2\nmax-message-size=2048\nhandler-attempts=5\n"
    "[librdkafka]\nsecurity.protocol=SASL_SSL\nsasl.username = cp \n"
    "[central]\nport=6000\n"
    "[librdkafka-consumer]\nsession.timeout.ms=6000\n[librdkafka-producer]\nlinger.ms=0\n");
  const gchar *env[] = { "CP_ID=CP-ENV", "KAFKA_BROKERS=env:9092", NULL };

  g_assert_true (evcp_config_load_environment (config, env, &error));
  g_assert_true (evcp_config_load_key_file (config, path, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (config->cp_id, ==, "CP-FILE");          /* the file wins */
  g_assert_cmpstr (config->kafka_brokers, ==, "env:9092"); /* absent from the file */
  g_assert_cmpfloat (config->price_eur_kwh, ==, 0.45);
  g_assert_cmpstr (config->location, ==, "Main street 1");
  g_assert_cmpstr (config->kafka_topics[1], ==, "t2");
  g_assert_cmpuint (config->max_message_size, ==, 2048);
  g_assert_cmpuint (config->handler_attempts, ==, 5);
  g_assert_cmpuint (config->central_port, ==, 6000);
  g_assert_cmpstr (g_hash_table_lookup (config->rdkafka, "security.protocol"), ==, "SASL_SSL");
  g_assert_cmpstr (g_hash_table_lookup (config->rdkafka, "sasl.username"), ==, "cp");
  g_assert_cmpstr (g_hash_table_lookup (config->rdkafka_consumer, "session.timeout.ms"), ==, "6000");
  g_assert_cmpstr (g_hash_table_lookup (config->rdkafka_producer, "linger.ms"), ==, "0");
  g_assert_null (g_hash_table_lookup (config->rdkafka, "linger.ms"));
  g_assert_cmpstr (config->config_file, ==, path);

  {
    g_autoptr(EvcpConfig) copy = evcp_config_copy (config);

    g_assert_cmpstr (copy->cp_id, ==, "CP-FILE");
    g_assert_cmpstr (g_hash_table_lookup (copy->rdkafka, "sasl.username"), ==, "cp");
  }
  g_unlink (path);
}

static void
test_config_key_file_invalid (void)
{
  static const gchar *const bad[] = {
    "[central]\nport=0\n",
    "[central]\nport=http\n",
    "[evcp]\nprice=cheap\n",
    "[evcp]\nprice=-1\n",
    "[kafka]\nmax-message-size=1\n",
    "[kafka]\nhandler-attempts=0\n",
    "[kafka]\ntopics=,\n",
    "not a key file",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(EvcpConfig) config = evcp_config_new ();
      g_autoptr(GError) error = NULL;
      g_autofree gchar *path = write_key_file (bad[i]);

      g_assert_false (evcp_config_load_key_file (config, path, &error));
      g_assert_nonnull (error);
      /* the message names the file */
      g_assert_nonnull (strstr (error->message, path));
      g_unlink (path);
    }
}

static void
test_config_validate_cp_id (void)
{
  static const gchar *const bad[] = { "", "CP#1", "CP\x02", "CP\x15" };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(EvcpConfig) config = evcp_config_new ();
      g_autoptr(GError) error = NULL;

      g_free (config->cp_id);
      config->cp_id = g_strdup (bad[i]);
      g_assert_false (evcp_config_validate (config, &error));
      g_assert_error (error, EVCP_ERROR, EVCP_ERROR_CONFIG);
    }
}

/* Every value that reaches a frame is checked at start, naming its key: a
 * 4085-byte location or a 4090-byte CP_ID made an AUTH frame over 4096
 * bytes (a crash), a location with "#" cut the Engine off Central. */
static void
test_config_validate_frame_fields (void)
{
  g_autofree gchar *long_cp = g_strnfill (4090, 'C');
  g_autofree gchar *long_location = g_strnfill (4085, 'L');
  g_autofree gchar *max_cp = g_strnfill (EVCP_FIELD_CP_ID_MAX, 'C');
  g_autofree gchar *max_location = g_strnfill (EVCP_FIELD_TEXT_MAX, 'L');
  const struct {
    const gchar *cp_id;
    const gchar *location;
    const gchar *named;     /* NULL: valid */
  } cases[] = {
    { long_cp, "here", "CP_ID" },
    { "CP\n1", "here", "CP_ID" },
    { "CP\x7f", "here", "CP_ID" },
    { "CP-\xc3", "here", "CP_ID" },
    { "CP-1", long_location, "[evcp] location" },
    { "CP-1", "Main St #5", "[evcp] location" },
    { "CP-1", "a\tb", "[evcp] location" },
    { "CP-1", "\x04", "[evcp] location" },
    { max_cp, max_location, NULL },
    { "CP-ñ€𝄞", "Calle Mayor, 5 — Málaga", NULL },
    { "CP-1", "", NULL },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(EvcpConfig) config = evcp_config_new ();
      g_autoptr(GError) error = NULL;

      g_free (config->cp_id);
      config->cp_id = g_strdup (cases[i].cp_id);
      g_free (config->location);
      config->location = g_strdup (cases[i].location);
      if (cases[i].named == NULL)
        {
          g_assert_true (evcp_config_validate (config, &error));
          g_assert_no_error (error);
          continue;
        }
      g_assert_false (evcp_config_validate (config, &error));
      g_assert_error (error, EVCP_ERROR, EVCP_ERROR_CONFIG);
      g_test_message ("%s", error->message);
      g_assert_nonnull (strstr (error->message, cases[i].named));
    }
}

static void
test_config_validate_topics (void)
{
  const struct {
    const gchar *topics;
    const gchar *dead_letters;
    const gchar *named;
  } cases[] = {
    { "user_messages,charging_requests", "charging_requests", "dead-letter-topic" },
    { "user_messages", "user_messages", "dead-letter-topic" },
    { "user messages", "dead_letters", "KAFKA_TOPICS" },
    { "user_messages", "dead#letters", "dead-letter-topic" },
    { "user_messages", "", "dead-letter-topic" },
    { "user_messages", "dead_letters", NULL },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(EvcpConfig) config = evcp_config_new ();
      g_autoptr(GError) error = NULL;

      g_assert_true (evcp_config_set_topics (config, cases[i].topics, &error) || cases[i].named != NULL);
      g_clear_error (&error);
      g_free (config->dead_letter_topic);
      config->dead_letter_topic = g_strdup (cases[i].dead_letters);
      if (cases[i].named == NULL)
        {
          g_assert_true (evcp_config_validate (config, &error));
          continue;
        }
      g_assert_false (evcp_config_validate (config, &error));
      g_assert_error (error, EVCP_ERROR, EVCP_ERROR_CONFIG);
      g_test_message ("%s", error->message);
      g_assert_nonnull (strstr (error->message, cases[i].named));
    }
}

/* Loads @env, then @key_file, then validates: one of them must refuse,
 * naming @named; nothing is clamped, cut or guessed. */
static void
expect_refused (const gchar *env_entry, const gchar *key_file, const gchar *named)
{
  g_autoptr(EvcpConfig) config = evcp_config_new ();
  g_autoptr(GError) error = NULL;
  g_autofree gchar *path = key_file != NULL ? write_key_file (key_file) : NULL;
  const gchar *env[] = { env_entry, NULL };
  gboolean ok = TRUE;

  if (env_entry != NULL)
    ok = evcp_config_load_environment (config, env, &error);
  if (ok && path != NULL)
    ok = evcp_config_load_key_file (config, path, &error);
  if (ok)
    ok = evcp_config_validate (config, &error);
  if (path != NULL)
    g_unlink (path);
  if (ok)
    g_error ("accepted: %.80s / %.80s", env_entry != NULL ? env_entry : "", key_file != NULL ? key_file : "");
  g_assert_error (error, EVCP_ERROR, EVCP_ERROR_CONFIG);
  if (strstr (error->message, named) == NULL)
    g_error ("“%s” does not name %s", error->message, named);
  g_test_message ("refused: %.160s", error->message);
}

/* Values at and past every limit, in the environment and the key file */
static void
test_config_hostile (void)
{
  g_autofree gchar *huge = g_strnfill (100000, 'C');
  g_autofree gchar *cp_huge = g_strconcat ("CP_ID=", huge, NULL);
  g_autofree gchar *topic_long = g_strconcat ("KAFKA_TOPICS=", huge + 99700, NULL);   /* 300 */
  g_autofree gchar *brokers_long = g_strconcat ("KAFKA_BROKERS=", huge + 95000, NULL);
  g_autofree gchar *group_long = g_strconcat ("KAFKA_GROUP_ID=", huge + 99700, NULL);
  g_autofree gchar *host_long = g_strconcat ("CENTRAL_HOST=", huge + 99700, NULL);
  g_autofree gchar *location_long = g_strconcat ("[evcp]\nlocation=", huge + 99700, "\n", NULL);
  static const struct { const gchar *env, *key_file, *named; } cases[] = {
    { "CENTRAL_PORT=0", NULL, "CENTRAL_PORT" },
    { "CENTRAL_PORT=65536", NULL, "CENTRAL_PORT" },
    { "CENTRAL_PORT=-1", NULL, "CENTRAL_PORT" },
    { "CENTRAL_PORT=18446744073709551616", NULL, "CENTRAL_PORT" },
    { "CENTRAL_PORT=80 ", NULL, "CENTRAL_PORT" },
    { "CENTRAL_PORT=０８０", NULL, "CENTRAL_PORT" },
    { "CENTRAL_PORT=0x50", NULL, "CENTRAL_PORT" },
    { "ENGINE_PORT=99999", NULL, "ENGINE_PORT" },
    { "CP_ID=CP\n1", NULL, "CP_ID" },
    { "CP_ID=CP\xff", NULL, "CP_ID" },
    { "CP_ID=CP\u2028", NULL, NULL },   /* placeholder: replaced below */
    { "KAFKA_TOPICS=a,b c", NULL, "KAFKA_TOPICS" },
    { "KAFKA_TOPICS=ñ", NULL, "KAFKA_TOPICS" },
    { "KAFKA_BROKERS=host:9092\nother:9092", NULL, "KAFKA_BROKERS" },
    { "CENTRAL_HOST=central\t", NULL, "CENTRAL_HOST" },
    { NULL, "[kafka]\nmax-message-size=67108865\n", "max-message-size" },
    { NULL, "[kafka]\nmax-depth=1001\n", "max-depth" },
    { NULL, "[kafka]\nmax-depth=0\n", "max-depth" },
    { NULL, "[kafka]\nretry-backoff-ms=600001\n", "retry-backoff-ms" },
    { NULL, "[kafka]\nretry-backoff-ms=5000\n", "retry-backoff-max-ms" },
    { NULL, "[kafka]\nrecord-check-s=86401\n", "record-check-s" },
    { NULL, "[kafka]\ndead-letter-topic=user_messages\n", "dead-letter-topic" },
    { NULL, "[monitor]\ninterval-ms=3600001\n", "interval-ms" },
    { NULL, "[monitor]\nalert-availability=1.5\n", "alert-availability" },
    { NULL, "[monitor]\nalert-availability=nan\n", "alert-availability" },
    { NULL, "[monitor]\nalert-latency-ms=inf\n", "alert-latency-ms" },
    { NULL, "[monitor]\nalert-latency-ms=-1\n", "alert-latency-ms" },
    { NULL, "[evcp]\nprice=1e308\n", "price" },
    { NULL, "[evcp]\nprice=nan\n", "price" },
    { NULL, "[evcp]\nlocation=Main St #5\n", "location" },
    { NULL, "[central]\nport=65535x\n", "port" },
    { NULL, "[evcp]\ncp-id=CP\x02" "1\n", "CP_ID" },
    { NULL, "[evcp]\ncp-id=CP\\n1\n", "CP_ID" },   /* GKeyFile's escape: a newline */
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    if (cases[i].named != NULL)
      expect_refused (cases[i].env, cases[i].key_file, cases[i].named);
  expect_refused (cp_huge, NULL, "CP_ID");
  expect_refused (topic_long, NULL, "KAFKA_TOPICS");
  expect_refused (brokers_long, NULL, "KAFKA_BROKERS");
  expect_refused (group_long, NULL, "KAFKA_GROUP_ID");
  expect_refused (host_long, NULL, "CENTRAL_HOST");
  expect_refused (NULL, location_long, "location");
}

/* Files that are not key files: a device, a pipe that no one writes to, a
 * file of 2 MiB; and the same as [central] secret-file. Each is refused at
 * once, saying why (before: /dev/zero filled the memory, a FIFO waited for a
 * writer forever). */
static void
test_config_key_file_not_a_file (void)
{
#ifdef G_OS_UNIX
  g_autoptr(GError) error = NULL;
  g_autofree gchar *dir = g_dir_make_tmp ("evcp-test-config-XXXXXX", &error);
  g_autofree gchar *fifo = g_build_filename (dir, "fifo", NULL);
  g_autofree gchar *big = g_build_filename (dir, "big.conf", NULL);
  g_autofree gchar *filler = g_strnfill (2 * 1024 * 1024, '#');
  const gchar *paths[] = { "/dev/zero", fifo, big };
  const gchar *why[] = { "not a regular file", "not a regular file", "more than the limit" };

  g_assert_no_error (error);
  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
  g_assert_true (g_file_set_contents (big, filler, -1, &error));
  for (guint i = 0; i < G_N_ELEMENTS (paths); i++)
    {
      g_autoptr(EvcpConfig) config = evcp_config_new ();
      g_autofree gchar *key_file = g_strdup_printf ("[central]\nsecret-file=%s\n", paths[i]);
      g_autofree gchar *path = write_key_file (key_file);

      g_assert_false (evcp_config_load_key_file (config, paths[i], &error));
      g_assert_nonnull (strstr (error->message, why[i]));
      g_test_message ("--config %s: %s", paths[i], error->message);
      g_clear_error (&error);
      g_assert_false (evcp_config_load_key_file (config, path, &error));
      g_assert_error (error, EVCP_ERROR, EVCP_ERROR_CONFIG);
      g_assert_nonnull (strstr (error->message, "secret-file"));
      g_assert_nonnull (strstr (error->message, why[i]));
      g_test_message ("secret-file=%s: %s", paths[i], error->message);
      g_clear_error (&error);
      g_unlink (path);
    }
  g_unlink (fifo);
  g_unlink (big);
  g_rmdir (dir);
#else
  g_test_skip ("no /dev/zero nor FIFOs here");
#endif
}

/* A value that ends in a lone backslash: GKeyFile returns the text before
 * it and an error. The loader refuses it, naming the key (before: an evcp
 * key was silently cut, "secret\" read as "secret", and a [librdkafka] one
 * returned success with the error set). */
static void
test_config_key_file_bad_escape (void)
{
  static const struct { const gchar *text, *named; } cases[] = {
    { "[evcp]\nlocation=Main St\\\n", "location" },
    { "[central]\nsecret=s3cret\\\n", "secret" },
    { "[librdkafka]\nsecurity.protocol=SASL_SSL\nsasl.password=s3cret\\\nsasl.username=cp\n", "sasl.password" },
    { "[librdkafka-consumer]\nsession.timeout.ms=6000\\\n", "session.timeout.ms" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(EvcpConfig) config = evcp_config_new ();
      g_autoptr(GError) error = NULL;
      g_autofree gchar *path = write_key_file (cases[i].text);

      g_assert_false (evcp_config_load_key_file (config, path, &error));
      g_assert_nonnull (error);
      g_assert_nonnull (strstr (error->message, cases[i].named));
      g_test_message ("refused: %s", error->message);
      g_unlink (path);
    }
}

/* evcp_config_load(), which every main uses: defaults, then the environment,
 * then the key file (--config, else $EVCP_CONFIG), then the options. */
static void
test_config_load_precedence (void)
{
  g_autofree gchar *env_path = write_key_file ("[evcp]\ncp-id=CP-ENVFILE\n");
  g_autofree gchar *path = write_key_file ("[evcp]\ncp-id=CP-FILE\nlocation=From the file\n[central]\nhost=file-host\n"
                                           "[monitor]\nko-after=7\n");
  g_autoptr(GError) error = NULL;

  g_setenv ("CP_ID", "CP-ENV", TRUE);
  g_setenv ("KAFKA_BROKERS", "env:9092", TRUE);
  g_setenv ("CENTRAL_HOST", "env-host", TRUE);
  g_setenv ("ENGINE_PORT", "6001", TRUE);
  g_setenv ("EVCP_CONFIG", env_path, TRUE);
  {
    g_autoptr(EvcpConfig) config = evcp_config_load (NULL, &error);

    g_assert_no_error (error);
    g_assert_cmpstr (config->cp_id, ==, "CP-ENVFILE");       /* $EVCP_CONFIG above the environment */
    g_assert_cmpstr (config->kafka_brokers, ==, "env:9092"); /* the environment above the default */
    g_assert_cmpuint (config->engine_port, ==, 6001);
    g_assert_cmpstr (config->config_file, ==, env_path);
    g_assert_cmpuint (config->central_port, ==, EVCP_DEFAULT_CENTRAL_PORT);
  }
  {
    const EvcpConfigOptions options = { .config_file = path };
    g_autoptr(EvcpConfig) config = evcp_config_load (&options, &error);

    g_assert_no_error (error);
    g_assert_cmpstr (config->cp_id, ==, "CP-FILE");          /* --config above $EVCP_CONFIG */
    g_assert_cmpstr (config->central_host, ==, "file-host"); /* the file above the environment */
    g_assert_cmpuint (config->ko_after, ==, 7);
    g_assert_cmpstr (config->config_file, ==, path);
  }
  {
    const EvcpConfigOptions options = {
      .config_file = path,
      .cp_id = "CP-OPT",
      .central_host = "opt-host",
      .kafka_topics = "a,b",
      .engine_port = 7001,
      .ko_after = 2,
      .monitor_metrics_address = "127.0.0.1:0",
    };
    g_autoptr(EvcpConfig) config = evcp_config_load (&options, &error);

    g_assert_no_error (error);
    g_assert_cmpstr (config->cp_id, ==, "CP-OPT"); /* the options above all */
    g_assert_cmpstr (config->central_host, ==, "opt-host");
    g_assert_cmpstr (config->location, ==, "From the file");
    g_assert_cmpuint (g_strv_length (config->kafka_topics), ==, 2);
    g_assert_cmpuint (config->engine_port, ==, 7001);
    g_assert_cmpuint (config->ko_after, ==, 2);
    g_assert_cmpstr (config->monitor_metrics_address, ==, "127.0.0.1:0");
  }
  {
    const EvcpConfigOptions options = { .engine_port = 70000 };
    g_autoptr(EvcpConfig) config = evcp_config_load (&options, &error);

    g_assert_null (config);
    g_assert_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE);
    g_assert_cmpstr (error->message, ==, "--engine-port must be from 1 to 65535");
    g_clear_error (&error);
  }
  {
    /* an empty $EVCP_CONFIG is none; a key file that cannot be read fails */
    const EvcpConfigOptions missing = { .config_file = "/nonexistent/evcp.conf" };
    g_autoptr(EvcpConfig) config = NULL;

    g_setenv ("EVCP_CONFIG", "", TRUE);
    config = evcp_config_load (NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (config->cp_id, ==, "CP-ENV");
    g_assert_null (config->config_file);
    g_assert_null (evcp_config_load (&missing, &error));
    g_assert_nonnull (error);
    g_clear_error (&error);
  }
  {
    const EvcpConfigOptions options = { .config_file = path };
    g_autoptr(EvcpConfig) config = NULL;

    g_setenv ("KAFKA_TOPICS", ",,,", TRUE); /* a bad environment fails before the file */
    config = evcp_config_load (&options, &error);
    g_assert_null (config);
    g_assert_nonnull (error);
  }
  g_unsetenv ("CP_ID");
  g_unsetenv ("KAFKA_BROKERS");
  g_unsetenv ("KAFKA_TOPICS");
  g_unsetenv ("CENTRAL_HOST");
  g_unsetenv ("ENGINE_PORT");
  g_unsetenv ("EVCP_CONFIG");
  g_unlink (env_path);
  g_unlink (path);
}

/* A temporary directory with the key file evcp.conf and, if @drop_ins, its
 * drop-in directory evcp.conf.d holding them (NULL-terminated name,
 * contents pairs). */
static gchar *
make_config_dir (const gchar *main_contents, const gchar * const *drop_ins, gchar **main_path)
{
  g_autoptr(GError) error = NULL;
  gchar *dir = g_dir_make_tmp ("evcp-config-XXXXXX", &error);
  g_autofree gchar *d = g_build_filename (dir, "evcp.conf.d", NULL);

  g_assert_no_error (error);
  *main_path = g_build_filename (dir, "evcp.conf", NULL);
  g_assert_true (g_file_set_contents (*main_path, main_contents, -1, &error));
  if (drop_ins != NULL)
    g_assert_cmpint (g_mkdir (d, 0750), ==, 0);
  for (guint i = 0; drop_ins != NULL && drop_ins[i] != NULL; i += 2)
    {
      g_autofree gchar *path = g_build_filename (d, drop_ins[i], NULL);

      g_assert_true (g_file_set_contents (path, drop_ins[i + 1], -1, &error));
    }
  return dir;
}

static void
remove_config_dir (const gchar *dir)
{
  g_autofree gchar *d = g_build_filename (dir, "evcp.conf.d", NULL);
  g_autoptr(GDir) gdir = g_dir_open (d, 0, NULL);
  const gchar *name;
  g_autofree gchar *main_path = g_build_filename (dir, "evcp.conf", NULL);

  while (gdir != NULL && (name = g_dir_read_name (gdir)) != NULL)
    {
      g_autofree gchar *path = g_build_filename (d, name, NULL);

      g_unlink (path);
    }
  g_rmdir (d);
  g_unlink (main_path);
  g_rmdir (dir);
}

/* The *.conf files of FILE.d after FILE, in name order, each over the one before;
 * other names, hidden files and FILE alone (evcp_config_load_key_file())
 * left out; the options above them all. */
static void
test_config_drop_ins (void)
{
  const gchar * const drop_ins[] = { "20-b.conf",
                                     "[evcp]\ncp-id=CP-B\n[librdkafka]\nclient.id=b\n",
                                     "10-a.conf",
                                     "[evcp]\ncp-id=CP-A\nlocation=from a\n[monitor]\nko-after=3\n",
                                     "README",
                                     "not a key file: never read",
                                     ".hidden.conf",
                                     "not a key file: never read",
                                     "30-c.conf.disabled",
                                     "[evcp]\ncp-id=CP-DISABLED\n",
                                     NULL };
  g_autofree gchar *main_path = NULL;
  g_autofree gchar *dir = make_config_dir ("[evcp]\ncp-id=CP-MAIN\nlocation=main\n[kafka]\nbrokers=main:9092\n"
                                           "[librdkafka]\nclient.id=main\nacks=all\n",
                                           drop_ins, &main_path);
  g_autofree gchar *a = g_build_filename (dir, "evcp.conf.d", "10-a.conf", NULL);
  g_autofree gchar *b = g_build_filename (dir, "evcp.conf.d", "20-b.conf", NULL);
  g_autoptr(GError) error = NULL;

  {
    const EvcpConfigOptions options = { .config_file = main_path };
    g_autoptr(EvcpConfig) config = evcp_config_load (&options, &error);
    g_autofree gchar *merged_cp_id = NULL;
    g_autofree gchar *merged_location = NULL;

    g_assert_no_error (error);
    g_assert_cmpstr (config->cp_id, ==, "CP-B");      /* 20-b.conf after 10-a.conf */
    g_assert_cmpstr (config->location, ==, "from a"); /* 10-a.conf after evcp.conf */
    g_assert_cmpstr (config->kafka_brokers, ==, "main:9092");
    g_assert_cmpuint (config->ko_after, ==, 3);
    g_assert_cmpstr (g_hash_table_lookup (config->rdkafka, "client.id"), ==, "b");
    g_assert_cmpstr (g_hash_table_lookup (config->rdkafka, "acks"), ==, "all");
    g_assert_cmpstr (config->config_file, ==, main_path);
    g_assert_cmpuint (g_strv_length (config->drop_ins), ==, 2);
    g_assert_cmpstr (config->drop_ins[0], ==, a);
    g_assert_cmpstr (config->drop_ins[1], ==, b);
    g_assert_cmpuint (config->unknown_keys, ==, 0);
    /* the key file plugins and evcp-central read: every file, the last value */
    merged_cp_id = g_key_file_get_string (config->key_file, "evcp", "cp-id", NULL);
    merged_location = g_key_file_get_string (config->key_file, "evcp", "location", NULL);
    g_assert_cmpstr (merged_cp_id, ==, "CP-B");
    g_assert_cmpstr (merged_location, ==, "from a");
  }
  {
    const EvcpConfigOptions options = { .config_file = main_path, .cp_id = "CP-OPT" };
    g_autoptr(EvcpConfig) config = evcp_config_load (&options, &error);

    g_assert_no_error (error);
    g_assert_cmpstr (config->cp_id, ==, "CP-OPT");
  }
  {
    g_autoptr(EvcpConfig) config = evcp_config_new ();

    g_assert_true (evcp_config_load_key_file (config, main_path, &error));
    g_assert_cmpstr (config->cp_id, ==, "CP-MAIN");
    g_assert_null (config->drop_ins);
  }
  {
    /* a bad value in a drop-in stops the load, naming the drop-in */
    g_autofree gchar *bad = g_build_filename (dir, "evcp.conf.d", "15-bad.conf", NULL);
    const EvcpConfigOptions options = { .config_file = main_path };
    g_autoptr(EvcpConfig) config = NULL;

    g_assert_true (g_file_set_contents (bad, "[central]\nport=70000\n", -1, &error));
    config = evcp_config_load (&options, &error);
    g_assert_null (config);
    g_assert_error (error, EVCP_ERROR, EVCP_ERROR_CONFIG);
    g_assert_true (g_str_has_prefix (error->message, bad));
    g_assert_nonnull (strstr (error->message, "[central] port"));
    g_clear_error (&error);
  }
#ifdef G_OS_UNIX
  if (geteuid () != 0)
    {
      /* a drop-in directory that cannot be read is an error, never skipped */
      g_autofree gchar *d = g_build_filename (dir, "evcp.conf.d", NULL);
      const EvcpConfigOptions options = { .config_file = main_path };
      g_autoptr(EvcpConfig) config = NULL;

      g_assert_cmpint (g_chmod (d, 0), ==, 0);
      config = evcp_config_load (&options, &error);
      g_assert_cmpint (g_chmod (d, 0750), ==, 0);
      g_assert_null (config);
      g_assert_error (error, EVCP_ERROR, EVCP_ERROR_CONFIG);
      g_assert_nonnull (strstr (error->message, d));
      g_clear_error (&error);
    }
#endif
  remove_config_dir (dir);

  {
    /* no drop-in directory: the file alone */
    g_autofree gchar *alone_path = NULL;
    g_autofree gchar *alone = make_config_dir ("[evcp]\ncp-id=CP-ALONE\n", NULL, &alone_path);
    const EvcpConfigOptions options = { .config_file = alone_path };
    g_autoptr(EvcpConfig) config = evcp_config_load (&options, &error);

    g_assert_no_error (error);
    g_assert_cmpstr (config->cp_id, ==, "CP-ALONE");
    g_assert_cmpuint (g_strv_length (config->drop_ins), ==, 0);
    remove_config_dir (alone);
  }
}

/* An unknown group or key is reported by name (file, group, key) and
 * counted; X- groups and keys, and the pass-through groups, are not. */
static void
test_config_unknown_keys (void)
{
  const gchar * const drop_ins[] = { "50-site.conf", "[monitor]\nko-afterr=2\n", NULL };
  g_autofree gchar *main_path = NULL;
  g_autofree gchar *dir = make_config_dir ("[evcp]\ncp-id=CP-1\ncp-idd=CP-2\nX-site-note=kept\n"
                                           "[kafak]\nbrokers=k:9092\n"
                                           "[X-my-plugin]\nanything=1\n"
                                           "[librdkafka]\nany.property=1\n"
                                           "[cp-secrets]\nCP-1=s3cret\n",
                                           drop_ins, &main_path);
  g_autofree gchar *site = g_build_filename (dir, "evcp.conf.d", "50-site.conf", NULL);
  g_autofree gchar *key_message = g_strdup_printf ("%s: unknown key “cp-idd” in [evcp], ignored", main_path);
  g_autofree gchar *group_message = g_strdup_printf ("%s: unknown group [kafak], ignored", main_path);
  g_autofree gchar *site_message = g_strdup_printf ("%s: unknown key “ko-afterr” in [monitor], ignored", site);
  const EvcpConfigOptions options = { .config_file = main_path };
  g_autoptr(EvcpConfig) config = NULL;
  g_autoptr(GError) error = NULL;

  evcp_test_expect_message ("evcp-config", G_LOG_LEVEL_WARNING, key_message);
  evcp_test_expect_message ("evcp-config", G_LOG_LEVEL_WARNING, group_message);
  evcp_test_expect_message ("evcp-config", G_LOG_LEVEL_WARNING, site_message);
  config = evcp_config_load (&options, &error);
  evcp_test_assert_expected_messages ();
  g_assert_no_error (error);
  g_assert_cmpstr (config->cp_id, ==, "CP-1"); /* the rest applies */
  g_assert_cmpuint (config->unknown_keys, ==, 3);
  g_assert_true (evcp_config_validate (config, &error));
  remove_config_dir (dir);
}

/* [evcp] health-address and the other addresses: read, overridden by the
 * options, and checked by evcp_config_validate() naming the key. */
static void
test_config_addresses (void)
{
  g_autofree gchar *path = write_key_file ("[evcp]\nhealth-address=127.0.0.1:0\nmetrics-address=9100\n");
  g_autoptr(GError) error = NULL;

  {
    const EvcpConfigOptions options = { .config_file = path };
    g_autoptr(EvcpConfig) config = evcp_config_load (&options, &error);

    g_assert_no_error (error);
    g_assert_cmpstr (config->health_address, ==, "127.0.0.1:0");
    g_assert_cmpstr (config->metrics_address, ==, "9100");
    g_assert_true (evcp_config_validate (config, &error));
  }
  {
    const EvcpConfigOptions options = { .config_file = path, .health_address = "[::1]:5011" };
    g_autoptr(EvcpConfig) config = evcp_config_load (&options, &error);

    g_assert_no_error (error);
    g_assert_cmpstr (config->health_address, ==, "[::1]:5011");
    g_assert_true (evcp_config_validate (config, &error));
  }
  {
    const struct {
      const gchar *health, *metrics, *monitor_metrics, *key;
    } bad[] = {
      { "localhost:5001", NULL, NULL, "[evcp] health-address" },
      { "::1:5001", NULL, NULL, "[evcp] health-address" },
      { NULL, "127.0.0.1:99999", NULL, "[evcp] metrics-address" },
      { NULL, NULL, "nine", "[monitor] metrics-address" },
    };

    for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
      {
        g_autoptr(EvcpConfig) config = evcp_config_new ();

        config->health_address = g_strdup (bad[i].health);
        config->metrics_address = g_strdup (bad[i].metrics);
        config->monitor_metrics_address = g_strdup (bad[i].monitor_metrics);
        g_assert_false (evcp_config_validate (config, &error));
        g_assert_error (error, EVCP_ERROR, EVCP_ERROR_CONFIG);
        g_assert_true (g_str_has_prefix (error->message, bad[i].key));
        g_clear_error (&error);
      }
  }
  g_unlink (path);
}

/* The programs' default plugin directory is the one meson installs plugins
 * into; "plugin-dir=" (empty) is none. */
static void
test_config_plugin_dir (void)
{
  g_autofree gchar *path = write_key_file ("[evcp]\nplugin-dir=\n");
  g_autoptr(GError) error = NULL;

  {
    g_autoptr(EvcpConfig) config = evcp_config_load (NULL, &error);

    g_assert_no_error (error);
    g_assert_cmpstr (config->plugin_dir, ==, EVCP_PLUGINDIR);
  }
  {
    const EvcpConfigOptions options = { .config_file = path };
    g_autoptr(EvcpConfig) config = evcp_config_load (&options, &error);
    g_autoptr(EvcpConfig) copy = NULL;

    g_assert_no_error (error);
    g_assert_cmpstr (config->plugin_dir, ==, "");
    copy = evcp_config_copy (config);
    g_assert_true (copy->key_file == config->key_file);
    g_assert_cmpstr (copy->config_file, ==, path);
  }
  g_unlink (path);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/config/defaults", test_config_defaults);
  g_test_add_func ("/config/environment", test_config_environment);
  g_test_add_func ("/config/environment-invalid", test_config_environment_invalid);
  g_test_add_func ("/config/key-file-overrides-environment", test_config_key_file_overrides_environment);
  g_test_add_func ("/config/key-file-invalid", test_config_key_file_invalid);
  g_test_add_func ("/config/validate-cp-id", test_config_validate_cp_id);
  g_test_add_func ("/config/validate-frame-fields", test_config_validate_frame_fields);
  g_test_add_func ("/config/validate-topics", test_config_validate_topics);
  g_test_add_func ("/config/hostile", test_config_hostile);
  g_test_add_func ("/config/key-file-not-a-file", test_config_key_file_not_a_file);
  g_test_add_func ("/config/key-file-bad-escape", test_config_key_file_bad_escape);
  g_test_add_func ("/config/load-precedence", test_config_load_precedence);
  g_test_add_func ("/config/drop-ins", test_config_drop_ins);
  g_test_add_func ("/config/unknown-keys", test_config_unknown_keys);
  g_test_add_func ("/config/addresses", test_config_addresses);
  g_test_add_func ("/config/plugin-dir", test_config_plugin_dir);
  return g_test_run ();
}
