/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Translations (docs/translations.md), with the build tree's catalogs
 * (EVCP_LOCALEDIR: the build's po/, where meson builds es/LC_MESSAGES/evcp.mo):
 * --help in Spanish with LANGUAGE=es; evcpctl's lines and the services' D-Bus
 * errors in the user's language; the services' logs in English whatever
 * their locale; --json the same byte for byte in every locale. */
#include "evcp-build-config.h"

#include <string.h>

#include "evcp-test-dbus.h"

#define WAIT_MS EVCP_TEST_DBUS_WAIT_MS

/* The locales a run is made in: LC_ALL=C.UTF-8 comes from the test setup
 * (tests/meson.build); LANGUAGE chooses the catalog (an empty one: none). */
static const gchar * const english[] = { "LANGUAGE=", NULL };
static const gchar * const spanish[] = { "LANGUAGE=es", NULL };
static const gchar * const spanish_c[] = { "LANGUAGE=es", "LC_ALL=C", NULL };
static const gchar * const german[] = { "LANGUAGE=de", NULL }; /* no catalog */

static EvcpTestRun *
run_in (const gchar * const *locale, EvcpTestBus *bus, const gchar * const *args)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GPtrArray) env = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; locale[i] != NULL; i++)
    g_ptr_array_add (env, g_strdup (locale[i]));
  if (bus != NULL)
    g_ptr_array_add (env, g_strdup_printf ("DBUS_SESSION_BUS_ADDRESS=%s", bus->address));
  g_ptr_array_add (env, NULL);
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  return evcp_test_run ((const gchar * const *) env->pdata, (const gchar * const *) argv->pdata);
}

static void
assert_contains (const gchar *text, const gchar *needle)
{
  if (strstr (text, needle) == NULL)
    g_error ("“%s” not found in:\n%s", needle, text);
}

static void
assert_lacks (const gchar *text, const gchar *needle)
{
  if (strstr (text, needle) != NULL)
    g_error ("“%s” unexpected in:\n%s", needle, text);
}

/* ---- --help ------------------------------------------------------------------------ */

static void
test_help (void)
{
  struct {
    const gchar *var;
    const gchar *english;
    const gchar *spanish;
  } programs[] = {
    { "EVCP_CTL", "Controls the Engine and reads the Monitor", "Controla el Engine y lee el Monitor" },
    { "EVCP_ENGINE", "The Engine of an EV charging point", "El Engine de un punto de recarga de vehículos eléctricos" },
    { "EVCP_MONITOR", "The Monitor of an EV charging point",
      "El Monitor de un punto de recarga de vehículos eléctricos" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (programs); i++)
    {
      const gchar *argv[] = { evcp_test_dbus_program (programs[i].var), "--help", NULL };
      g_autoptr(EvcpTestRun) en = run_in (english, NULL, argv);
      g_autoptr(EvcpTestRun) es = run_in (spanish, NULL, argv);
      g_autoptr(EvcpTestRun) es_c = run_in (spanish_c, NULL, argv);

      g_assert_cmpint (en->status, ==, 0);
      g_assert_cmpint (es->status, ==, 0);
      assert_contains (en->out, programs[i].english);
      assert_contains (es->out, programs[i].spanish);
      assert_lacks (es->out, programs[i].english);
      /* an option's description, through g_option_context_set_translation_domain */
      assert_contains (es->out, "Mostrar la versión y salir");
      /* in the locale "C" gettext ignores LANGUAGE: English */
      g_assert_cmpint (es_c->status, ==, 0);
      assert_contains (es_c->out, programs[i].english);
    }
}

/* ---- a running Engine and Monitor ---------------------------------------------------- */

/* The same command in two locales, JSON byte for byte equal. A value may
 * change between two runs (a counter, a state): then English is run again
 * around the other one, until English gives the same twice in a row. */
static void
assert_json_same (EvcpTestBus *bus, const gchar * const *other, const gchar * const *args)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_MS * G_TIME_SPAN_MILLISECOND;

  for (;;)
    {
      g_autoptr(EvcpTestRun) before = run_in (english, bus, args);
      g_autoptr(EvcpTestRun) there = run_in (other, bus, args);
      g_autoptr(EvcpTestRun) after = run_in (english, bus, args);
      g_autoptr(JsonNode) parsed = NULL;

      g_assert_cmpint (before->status, ==, 0);
      g_assert_cmpint (there->status, ==, 0);
      parsed = evcp_test_parse_json (there->out); /* it is JSON */
      if (g_strcmp0 (before->out, after->out) == 0)
        {
          g_assert_cmpstr (there->out, ==, before->out);
          return;
        }
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
    }
}

static void
test_running (void)
{
  g_autoptr(EvcpTestBus) bus = evcp_test_bus_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(EvcpTestRun) run = NULL;
  g_autoptr(EvcpTestRun) en = NULL;
  g_autoptr(JsonNode) en_json = NULL;
  g_autoptr(JsonNode) es_json = NULL;
  const gchar *ctl = evcp_test_dbus_program ("EVCP_CTL");
  const gchar * const *locales[] = { spanish, spanish_c, german };
  JsonObject *en_error, *es_error;

  /* the activated services inherit the test's environment: they are asked
   * to speak Spanish, and must not */
  g_setenv ("LANGUAGE", "es", TRUE);
  g_assert_true (evcp_test_bus_start (bus, "session", NULL, &error));
  g_assert_no_error (error);
  run = run_in (spanish, bus, (const gchar * const[]){ ctl, "--start", "status", NULL });
  g_unsetenv ("LANGUAGE");
  g_assert_cmpint (run->status, ==, 0);

  /* evcpctl's lines for people, in Spanish */
  assert_contains (run->out, "Engine  org.evcp.Engine (bus de sesión)");
  assert_contains (run->out, "Estado");
  assert_contains (run->out, "Disponibilidad");
  g_clear_pointer (&run, evcp_test_run_free);
  run = run_in (spanish, bus, (const gchar * const[]){ ctl, "handlers", NULL });
  g_assert_cmpint (run->status, ==, 0);
  assert_contains (run->out, "MANEJADOR");
  g_clear_pointer (&run, evcp_test_run_free);

  /* the services' logs are English, although their LANGUAGE is es */
  g_assert_true (evcp_test_file_contains (bus->log, "Engine of " EVCP_TEST_DBUS_CP " started"));
  g_assert_false (evcp_test_file_contains (bus->log, "Engine de " EVCP_TEST_DBUS_CP " iniciado"));

  /* a D-Bus error of the Engine: English from the Engine, shown in the
   * user's language by evcpctl; its --json name and exit code the same */
  en = run_in (english, bus, (const gchar * const[]){ ctl, "unplug", NULL });
  g_assert_cmpint (en->status, ==, 1);
  assert_contains (en->err, "Nothing to unplug: no supply session is running");
  run = run_in (spanish, bus, (const gchar * const[]){ ctl, "unplug", NULL });
  g_assert_cmpint (run->status, ==, 1);
  assert_contains (run->err, "Nada que desenchufar: no hay ninguna sesión de suministro en curso");
  g_clear_pointer (&run, evcp_test_run_free);
  g_clear_pointer (&en, evcp_test_run_free);

  run = run_in (spanish, bus, (const gchar * const[]){ ctl, "handler", "enable", "no-such", NULL });
  g_assert_cmpint (run->status, ==, 1);
  assert_contains (run->err, "No hay ningún manejador llamado «no-such»");
  g_clear_pointer (&run, evcp_test_run_free);

  en = run_in (english, bus, (const gchar * const[]){ ctl, "--json", "handler", "enable", "no-such", NULL });
  run = run_in (spanish, bus, (const gchar * const[]){ ctl, "--json", "handler", "enable", "no-such", NULL });
  g_assert_cmpint (en->status, ==, 1);
  g_assert_cmpint (run->status, ==, 1);
  en_json = evcp_test_parse_json (en->out);
  es_json = evcp_test_parse_json (run->out);
  en_error = json_object_get_object_member (json_node_get_object (en_json), "error");
  es_error = json_object_get_object_member (json_node_get_object (es_json), "error");
  g_assert_cmpstr (json_object_get_string_member (en_error, "name"), ==, "org.evcp.Error.NotFound");
  g_assert_cmpstr (json_object_get_string_member (es_error, "name"), ==, "org.evcp.Error.NotFound");
  g_assert_cmpint (json_object_get_int_member (en_error, "exit_code"), ==,
                   json_object_get_int_member (es_error, "exit_code"));
  g_assert_cmpstr (json_object_get_string_member (en_error, "service"), ==,
                   json_object_get_string_member (es_error, "service"));
  /* "message" is for people (docs/translations.md) */
  assert_contains (json_object_get_string_member (es_error, "message"), "manejador");

  /* --json: the same in every locale */
  for (guint i = 0; i < G_N_ELEMENTS (locales); i++)
    {
      assert_json_same (bus, locales[i], (const gchar * const[]){ ctl, "--json", "status", "engine", NULL });
      assert_json_same (bus, locales[i], (const gchar * const[]){ ctl, "--json", "status", "monitor", NULL });
      assert_json_same (bus, locales[i], (const gchar * const[]){ ctl, "--json", "handlers", NULL });
      assert_json_same (bus, locales[i],
                        (const gchar * const[]){ ctl, "--json", "handler", "disable", "user-info", NULL });
      assert_json_same (bus, locales[i],
                        (const gchar * const[]){ ctl, "--json", "handler", "enable", "user-info", NULL });
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/dbus/i18n/help", test_help);
  g_test_add_func ("/dbus/i18n/running", test_running);
  return g_test_run ();
}
