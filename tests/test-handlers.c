/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "evcp-build-config.h"

#include "evcp-test-expect.h"

#include <string.h>

#include "evcp-central-client.h"
#include "evcp-charging-request-handler.h"
#include "evcp-error.h"
#include "evcp-frame-field.h"
#include "evcp-monitor-health-checker.h"
#include "evcp-kafka-service.h"
#include "evcp-monitor-alert.h"
#include "evcp-monitor-status.h"
#include "evcp-supply.h"
#include "evcp-system-notification-handler.h"
#include "evcp-user-info-handler.h"
#include "evcp-user-registry.h"

#define THIS_CP "CP-001"

/* ---- helpers ---------------------------------------------------------- */

/* JSON written with single quotes, for readability; no value has one. */
static EvcpMessage *
msg_new (const gchar *json)
{
  g_autofree gchar *text = g_strdelimit (g_strdup (json), "'", '"');
  g_autoptr(GError) error = NULL;
  EvcpMessage *msg = evcp_message_new_from_json (text, &error);

  g_assert_no_error (error);
  g_assert_nonnull (msg);
  return msg;
}

/* Handles @json through the interface; returns the handler's result. */
static gboolean
handle (gpointer handler, const gchar *json, GError **error)
{
  g_autoptr(EvcpMessage) msg = msg_new (json);

  g_assert_true (evcp_message_handler_can_handle (EVCP_MESSAGE_HANDLER (handler), msg));
  return evcp_message_handler_handle (EVCP_MESSAGE_HANDLER (handler), msg, error);
}

static void
assert_invalid_naming (const GError *error, const gchar *field)
{
  g_assert_error (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE);
  g_assert_true (evcp_error_is_permanent (error));
  if (strstr (error->message, field) == NULL)
    g_error ("error \"%s\" does not name the field %s", error->message, field);
}

/* Structured log records of the notification handler, captured by a writer. */
typedef struct {
  GLogLevelFlags level;
  gchar *message;
  gchar *notification_level;
} LogRecord;

static GPtrArray *log_records;
static gboolean log_forward_all;

static void
log_record_free (gpointer data)
{
  LogRecord *rec = data;

  g_free (rec->message);
  g_free (rec->notification_level);
  g_free (rec);
}

static gchar *
field_dup (const GLogField *field)
{
  if (field->length < 0)
    return g_strdup (field->value);
  return g_strndup (field->value, (gsize) field->length);
}

static GLogWriterOutput
capture_writer (GLogLevelFlags   log_level,
                const GLogField *fields,
                gsize            n_fields,
                gpointer         user_data)
{
  const GLogField *domain = NULL;
  const GLogField *message = NULL;
  const GLogField *level = NULL;

  for (gsize i = 0; i < n_fields; i++)
    {
      if (g_strcmp0 (fields[i].key, "GLIB_DOMAIN") == 0)
        domain = &fields[i];
      else if (g_strcmp0 (fields[i].key, "MESSAGE") == 0)
        message = &fields[i];
      else if (g_strcmp0 (fields[i].key, "EVCP_NOTIFICATION_LEVEL") == 0)
        level = &fields[i];
    }
  if (!log_forward_all && level != NULL && domain != NULL &&
      g_strcmp0 (domain->value, "evcp-handlers") == 0)
    {
      LogRecord *rec = g_new0 (LogRecord, 1);

      rec->level = log_level & G_LOG_LEVEL_MASK;
      rec->message = message != NULL ? field_dup (message) : NULL;
      rec->notification_level = field_dup (level);
      g_ptr_array_add (log_records, rec);
      return G_LOG_WRITER_HANDLED;
    }
  return evcp_test_expect_writer (log_level, fields, n_fields, user_data);
}

static void
log_records_reset (void)
{
  g_ptr_array_set_size (log_records, 0);
}

/* ---- user registry ---------------------------------------------------- */

static void
on_user_updated (EvcpUserRegistry *registry, const gchar *user_id, gpointer user_data)
{
  GPtrArray *ids = user_data;

  g_ptr_array_add (ids, g_strdup (user_id));
}

static void
test_registry_basic (void)
{
  g_autoptr(EvcpUserRegistry) registry = evcp_user_registry_new (0);
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(EvcpUser) user = NULL;
  g_autoptr(GError) error = NULL;
  gint64 before = g_get_monotonic_time ();

  g_assert_cmpuint (evcp_user_registry_get_capacity (registry), ==, EVCP_USER_REGISTRY_DEFAULT_CAPACITY);
  g_assert_cmpuint (evcp_user_registry_get_count (registry), ==, 0);
  g_signal_connect (registry, "user-updated", G_CALLBACK (on_user_updated), ids);

  g_assert_true (evcp_user_registry_update (registry, "u1", "Ana", "Zoe", &error));
  g_assert_no_error (error);
  g_assert_true (evcp_user_registry_update (registry, "u2", NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (evcp_user_registry_get_count (registry), ==, 2);
  g_assert_cmpuint (ids->len, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (ids, 0), ==, "u1");
  g_assert_cmpstr (g_ptr_array_index (ids, 1), ==, "u2");

  user = evcp_user_registry_lookup (registry, "u1");
  g_assert_nonnull (user);
  g_assert_cmpstr (evcp_user_get_id (user), ==, "u1");
  g_assert_cmpstr (evcp_user_get_name (user), ==, "Ana");
  g_assert_cmpstr (evcp_user_get_vehicle (user), ==, "Zoe");
  g_assert_cmpint (evcp_user_get_last_seen (user), >=, before);
  g_assert_cmpint (evcp_user_get_last_seen (user), <=, g_get_monotonic_time ());
  g_clear_pointer (&user, evcp_user_unref);

  user = evcp_user_registry_lookup (registry, "u2");
  g_assert_nonnull (user);
  g_assert_null (evcp_user_get_name (user));
  g_assert_null (evcp_user_get_vehicle (user));
  g_clear_pointer (&user, evcp_user_unref);

  g_assert_null (evcp_user_registry_lookup (registry, "nobody"));
  g_assert_null (evcp_user_registry_touch (registry, "nobody"));
  g_assert_cmpuint (evcp_user_registry_get_count (registry), ==, 2);

  /* the boxed type copies by reference */
  user = evcp_user_registry_lookup (registry, "u1");
  {
    EvcpUser *copy = g_boxed_copy (EVCP_TYPE_USER, user);

    g_assert_true (copy == user);
    g_boxed_free (EVCP_TYPE_USER, copy);
  }
}

static void
test_registry_update_merges (void)
{
  g_autoptr(EvcpUserRegistry) registry = evcp_user_registry_new (4);
  g_autoptr(EvcpUser) before = NULL;
  g_autoptr(EvcpUser) after = NULL;

  g_assert_true (evcp_user_registry_update (registry, "u1", "Ana", "Zoe", NULL));
  before = evcp_user_registry_lookup (registry, "u1");

  /* absent values keep what is known, given ones replace it */
  g_assert_true (evcp_user_registry_update (registry, "u1", NULL, "Leaf", NULL));
  after = evcp_user_registry_lookup (registry, "u1");
  g_assert_cmpstr (evcp_user_get_name (after), ==, "Ana");
  g_assert_cmpstr (evcp_user_get_vehicle (after), ==, "Leaf");
  g_assert_cmpint (evcp_user_get_last_seen (after), >=, evcp_user_get_last_seen (before));
  g_assert_cmpuint (evcp_user_registry_get_count (registry), ==, 1);

  /* a user already handed out is an immutable snapshot */
  g_assert_cmpstr (evcp_user_get_vehicle (before), ==, "Zoe");
  g_assert_cmpstr (evcp_user_get_id (before), ==, "u1");
}

static void
assert_known (EvcpUserRegistry *registry, const gchar *user_id, gboolean known)
{
  g_autoptr(EvcpUser) user = evcp_user_registry_lookup (registry, user_id);

  if (known != (user != NULL))
    g_error ("user %s should %sbe known", user_id, known ? "" : "not ");
}

static void
test_registry_eviction (void)
{
  g_autoptr(EvcpUserRegistry) registry = evcp_user_registry_new (3);
  g_autoptr(EvcpUser) user = NULL;

  g_assert_cmpuint (evcp_user_registry_get_capacity (registry), ==, 3);
  g_assert_true (evcp_user_registry_update (registry, "u1", "One", NULL, NULL));
  g_assert_true (evcp_user_registry_update (registry, "u2", "Two", NULL, NULL));
  g_assert_true (evcp_user_registry_update (registry, "u3", "Three", NULL, NULL));
  g_assert_cmpuint (evcp_user_registry_get_count (registry), ==, 3);

  /* seeing u1 again makes u2 the least recently seen */
  g_assert_true (evcp_user_registry_update (registry, "u1", NULL, NULL, NULL));
  g_assert_true (evcp_user_registry_update (registry, "u4", NULL, NULL, NULL));
  g_assert_cmpuint (evcp_user_registry_get_count (registry), ==, 3);
  assert_known (registry, "u2", FALSE);
  assert_known (registry, "u1", TRUE);
  assert_known (registry, "u3", TRUE);
  assert_known (registry, "u4", TRUE);

  /* a lookup is not a sighting, a touch is: u3 is now the oldest, then u1 */
  user = evcp_user_registry_touch (registry, "u3");
  g_assert_cmpstr (evcp_user_get_name (user), ==, "Three");
  assert_known (registry, "u1", TRUE);
  g_assert_true (evcp_user_registry_update (registry, "u5", NULL, NULL, NULL));
  assert_known (registry, "u1", FALSE);
  assert_known (registry, "u3", TRUE);
  assert_known (registry, "u4", TRUE);
  assert_known (registry, "u5", TRUE);
  g_assert_cmpuint (evcp_user_registry_get_count (registry), ==, 3);

  /* the snapshot handed out survives its user's eviction */
  g_assert_true (evcp_user_registry_update (registry, "u6", NULL, NULL, NULL));
  g_assert_true (evcp_user_registry_update (registry, "u7", NULL, NULL, NULL));
  assert_known (registry, "u3", FALSE);
  g_assert_cmpstr (evcp_user_get_id (user), ==, "u3");
}

static void
test_registry_flood (void)
{
  g_autoptr(EvcpUserRegistry) registry = evcp_user_registry_new (100);

  for (guint i = 0; i < 10000; i++)
    {
      g_autofree gchar *id = g_strdup_printf ("user-%u", i);

      g_assert_true (evcp_user_registry_update (registry, id, "Name", "Vehicle", NULL));
      g_assert_cmpuint (evcp_user_registry_get_count (registry), <=, 100);
    }
  g_assert_cmpuint (evcp_user_registry_get_count (registry), ==, 100);
  assert_known (registry, "user-9999", TRUE);
  assert_known (registry, "user-9900", TRUE);
  assert_known (registry, "user-9899", FALSE);
  assert_known (registry, "user-0", FALSE);
}

static void
test_registry_too_long (void)
{
  g_autoptr(EvcpUserRegistry) registry = evcp_user_registry_new (10);
  g_autofree gchar *max = g_strnfill (EVCP_USER_MAX_FIELD_LENGTH, 'a');
  g_autofree gchar *over = g_strnfill (EVCP_USER_MAX_FIELD_LENGTH + 1, 'a');
  g_autoptr(GError) error = NULL;

  g_assert_true (evcp_user_registry_update (registry, max, max, max, &error));
  g_assert_no_error (error);

  g_assert_false (evcp_user_registry_update (registry, over, NULL, NULL, &error));
  assert_invalid_naming (error, "user_id");
  g_clear_error (&error);
  g_assert_false (evcp_user_registry_update (registry, "u1", over, NULL, &error));
  assert_invalid_naming (error, "name");
  g_clear_error (&error);
  g_assert_false (evcp_user_registry_update (registry, "u1", NULL, over, &error));
  assert_invalid_naming (error, "vehicle");
  g_assert_cmpuint (evcp_user_registry_get_count (registry), ==, 1);
}

/* ---- USER_INFO -------------------------------------------------------- */

static void
assert_user (EvcpUserRegistry *registry, const gchar *id, const gchar *name, const gchar *vehicle)
{
  g_autoptr(EvcpUser) user = evcp_user_registry_lookup (registry, id);

  g_assert_nonnull (user);
  g_assert_cmpstr (evcp_user_get_name (user), ==, name);
  g_assert_cmpstr (evcp_user_get_vehicle (user), ==, vehicle);
}

static void
test_user_info_identity (void)
{
  g_autoptr(EvcpUserRegistry) registry = evcp_user_registry_new (0);
  g_autoptr(EvcpUserInfoHandler) handler = evcp_user_info_handler_new (registry);
  g_autoptr(EvcpMessage) mine = msg_new ("{'kind':'USER_INFO','user_id':'u1'}");
  g_autoptr(EvcpMessage) other = msg_new ("{'kind':'CHARGING_REQUEST','user_id':'u1'}");
  g_autoptr(EvcpMessage) lower = msg_new ("{'kind':'user_info','user_id':'u1'}");

  g_assert_cmpstr (evcp_message_handler_get_name (EVCP_MESSAGE_HANDLER (handler)), ==, "user-info");
  g_assert_true (evcp_message_handler_can_handle (EVCP_MESSAGE_HANDLER (handler), mine));
  g_assert_false (evcp_message_handler_can_handle (EVCP_MESSAGE_HANDLER (handler), other));
  g_assert_false (evcp_message_handler_can_handle (EVCP_MESSAGE_HANDLER (handler), lower));
  g_assert_true (evcp_user_info_handler_get_registry (handler) == registry);
}

static void
test_user_info_data_shape (void)
{
  g_autoptr(EvcpUserRegistry) registry = evcp_user_registry_new (0);
  g_autoptr(EvcpUserInfoHandler) handler = evcp_user_info_handler_new (registry);
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;

  g_signal_connect (registry, "user-updated", G_CALLBACK (on_user_updated), ids);
  g_assert_true (handle (handler, "{'kind':'USER_INFO','timestamp':'2026-11-26T10:00:00Z',"
                                  "'data':{'user_id':'u1','name':'Ana','vehicle':'Renault Zoe'}}", &error));
  g_assert_no_error (error);
  assert_user (registry, "u1", "Ana", "Renault Zoe");
  g_assert_cmpuint (ids->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (ids, 0), ==, "u1");
}

static void
test_user_info_kafka_python_shape (void)
{
  g_autoptr(EvcpUserRegistry) registry = evcp_user_registry_new (0);
  g_autoptr(EvcpUserInfoHandler) handler = evcp_user_info_handler_new (registry);
  g_autoptr(GError) error = NULL;

  /* exactly what the contract's kafka-python producer sends */
  g_assert_true (handle (handler, "{'kind': 'USER_INFO', 'user_id': 'user123', "
                                  "'data': {'name': 'John Doe', 'vehicle': 'Tesla Model 3'}}", &error));
  g_assert_no_error (error);
  assert_user (registry, "user123", "John Doe", "Tesla Model 3");

  /* and everything at the top level */
  g_assert_true (handle (handler, "{'kind':'USER_INFO','user_id':'u2','name':'Bo','vehicle':'Leaf'}", &error));
  g_assert_no_error (error);
  assert_user (registry, "u2", "Bo", "Leaf");
  g_assert_cmpuint (evcp_user_registry_get_count (registry), ==, 2);
}

static void
test_user_info_optional (void)
{
  g_autoptr(EvcpUserRegistry) registry = evcp_user_registry_new (0);
  g_autoptr(EvcpUserInfoHandler) handler = evcp_user_info_handler_new (registry);
  g_autoptr(GError) error = NULL;

  g_assert_true (handle (handler, "{'kind':'USER_INFO','data':{'user_id':'u1'}}", &error));
  g_assert_no_error (error);
  assert_user (registry, "u1", NULL, NULL);

  /* null is absent */
  g_assert_true (handle (handler, "{'kind':'USER_INFO','data':{'user_id':'u2','name':null,'vehicle':'Leaf'}}", &error));
  g_assert_no_error (error);
  assert_user (registry, "u2", NULL, "Leaf");

  /* a later message without a name keeps the name */
  g_assert_true (handle (handler, "{'kind':'USER_INFO','data':{'user_id':'u2','name':'Bo'}}", &error));
  g_assert_true (handle (handler, "{'kind':'USER_INFO','data':{'user_id':'u2'}}", &error));
  g_assert_no_error (error);
  assert_user (registry, "u2", "Bo", "Leaf");
}

typedef struct {
  const gchar *json;
  const gchar *field;
} InvalidCase;

static void
test_user_info_invalid (void)
{
  static const InvalidCase cases[] = {
    { "{'kind':'USER_INFO'}", "user_id" },
    { "{'kind':'USER_INFO','data':{'name':'Ana'}}", "user_id" },
    { "{'kind':'USER_INFO','data':{'user_id':null}}", "user_id" },
    { "{'kind':'USER_INFO','data':{'user_id':7}}", "user_id" },
    { "{'kind':'USER_INFO','data':{'user_id':''}}", "user_id" },
    { "{'kind':'USER_INFO','user_id':['u1']}", "user_id" },
    { "{'kind':'USER_INFO','user_id':'u1','data':{'user_id':true}}", "user_id" },
    { "{'kind':'USER_INFO','data':{'user_id':'u1','name':5}}", "name" },
    { "{'kind':'USER_INFO','user_id':'u1','data':{'name':{'first':'Ana'}}}", "name" },
    { "{'kind':'USER_INFO','data':{'user_id':'u1','vehicle':['Zoe']}}", "vehicle" },
    { "{'kind':'USER_INFO','data':{'user_id':'u1','vehicle':false}}", "vehicle" },
  };
  g_autoptr(EvcpUserRegistry) registry = evcp_user_registry_new (0);
  g_autoptr(EvcpUserInfoHandler) handler = evcp_user_info_handler_new (registry);

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;

      g_test_message ("case %" G_GSIZE_FORMAT ": %s", i, cases[i].json);
      g_assert_false (handle (handler, cases[i].json, &error));
      assert_invalid_naming (error, cases[i].field);
    }
  g_assert_cmpuint (evcp_user_registry_get_count (registry), ==, 0);
}

static void
test_user_info_too_long (void)
{
  g_autoptr(EvcpUserRegistry) registry = evcp_user_registry_new (0);
  g_autoptr(EvcpUserInfoHandler) handler = evcp_user_info_handler_new (registry);
  g_autofree gchar *name = g_strnfill (EVCP_USER_MAX_FIELD_LENGTH + 1, 'n');
  g_autofree gchar *json = g_strdup_printf ("{'kind':'USER_INFO','user_id':'u1','data':{'name':'%s'}}", name);
  g_autoptr(GError) error = NULL;

  g_assert_false (handle (handler, json, &error));
  assert_invalid_naming (error, "name");
  g_assert_cmpuint (evcp_user_registry_get_count (registry), ==, 0);
}

/* ---- CHARGING_REQUEST ------------------------------------------------- */

typedef struct {
  guint                n;
  EvcpChargingRequest *last;
} RequestRecorder;

static void
on_charging_request (EvcpChargingRequestHandler *handler,
                     EvcpChargingRequest        *request,
                     gpointer                    user_data)
{
  RequestRecorder *rec = user_data;

  g_assert_true (EVCP_IS_CHARGING_REQUEST_HANDLER (handler));
  g_assert_nonnull (request);
  rec->n++;
  g_clear_pointer (&rec->last, evcp_charging_request_unref);
  rec->last = evcp_charging_request_ref (request);
}

static void
request_recorder_clear (RequestRecorder *rec)
{
  g_clear_pointer (&rec->last, evcp_charging_request_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (RequestRecorder, request_recorder_clear)

static EvcpChargingRequestHandler *
charging_handler_new (EvcpUserRegistry *registry, RequestRecorder *rec)
{
  EvcpChargingRequestHandler *handler = evcp_charging_request_handler_new (THIS_CP, registry);

  if (rec != NULL)
    g_signal_connect (handler, "charging-request", G_CALLBACK (on_charging_request), rec);
  return handler;
}

static void
test_charging_request_identity (void)
{
  g_autoptr(EvcpUserRegistry) registry = evcp_user_registry_new (0);
  g_autoptr(EvcpChargingRequestHandler) handler = charging_handler_new (registry, NULL);
  g_autoptr(EvcpMessage) mine = msg_new ("{'kind':'CHARGING_REQUEST'}");
  g_autoptr(EvcpMessage) other = msg_new ("{'kind':'USER_INFO'}");
  g_autofree gchar *cp_id = NULL;

  g_assert_cmpstr (evcp_message_handler_get_name (EVCP_MESSAGE_HANDLER (handler)), ==, "charging-request");
  g_assert_true (evcp_message_handler_can_handle (EVCP_MESSAGE_HANDLER (handler), mine));
  g_assert_false (evcp_message_handler_can_handle (EVCP_MESSAGE_HANDLER (handler), other));
  g_assert_cmpstr (evcp_charging_request_handler_get_cp_id (handler), ==, THIS_CP);
  g_assert_true (evcp_charging_request_handler_get_registry (handler) == registry);
  g_object_get (handler, "cp-id", &cp_id, NULL);
  g_assert_cmpstr (cp_id, ==, THIS_CP);
}

static void
test_charging_request_valid (void)
{
  g_autoptr(EvcpUserRegistry) registry = evcp_user_registry_new (0);
  g_auto(RequestRecorder) rec = { 0 };
  g_autoptr(EvcpChargingRequestHandler) handler = charging_handler_new (registry, &rec);
  g_autoptr(GError) error = NULL;
  g_autoptr(EvcpMessage) msg = NULL;
  g_autofree gchar *origin = NULL;

  msg = msg_new ("{'kind':'CHARGING_REQUEST','timestamp':'2026-11-26T10:00:00Z',"
                 "'data':{'user_id':'u1','cp_id':'CP-001','requested_power':22.5,'max_duration':5400}}");
  origin = evcp_message_describe (msg);
  g_assert_true (evcp_message_handler_handle (EVCP_MESSAGE_HANDLER (handler), msg, &error));
  g_assert_no_error (error);

  g_assert_cmpuint (rec.n, ==, 1);
  g_assert_cmpstr (evcp_charging_request_get_user_id (rec.last), ==, "u1");
  g_assert_cmpstr (evcp_charging_request_get_cp_id (rec.last), ==, THIS_CP);
  g_assert_cmpfloat (evcp_charging_request_get_requested_power_kw (rec.last), ==, 22.5);
  g_assert_cmpint (evcp_charging_request_get_max_duration_s (rec.last), ==, 5400);
  g_assert_null (evcp_charging_request_get_user_name (rec.last));
  g_assert_null (evcp_charging_request_get_user_vehicle (rec.last));
  g_assert_cmpstr (evcp_charging_request_get_origin (rec.last), ==, origin);
  g_assert_cmpstr (evcp_charging_request_get_timestamp (rec.last), ==, "2026-11-26T10:00:00Z");

  g_assert_cmpuint (evcp_charging_request_handler_get_accepted (handler), ==, 1);
  g_assert_cmpuint (evcp_charging_request_handler_get_skipped (handler), ==, 0);
  g_assert_cmpuint (evcp_charging_request_handler_get_rejected (handler), ==, 0);
  /* an unknown user is not added by a request */
  g_assert_cmpuint (evcp_user_registry_get_count (registry), ==, 0);
}

static void
test_charging_request_kafka_python_shape (void)
{
  g_auto(RequestRecorder) rec = { 0 };
  g_autoptr(EvcpChargingRequestHandler) handler = charging_handler_new (NULL, &rec);
  g_autoptr(GError) error = NULL;

  /* exactly what the contract's kafka-python producer sends */
  g_assert_true (handle (handler, "{'kind': 'CHARGING_REQUEST', 'user_id': 'user123', "
                                  "'cp_id': 'CP-001', 'requested_power': 50, 'max_duration': 3600}", &error));
  g_assert_no_error (error);
  g_assert_cmpuint (rec.n, ==, 1);
  g_assert_cmpstr (evcp_charging_request_get_user_id (rec.last), ==, "user123");
  g_assert_cmpstr (evcp_charging_request_get_cp_id (rec.last), ==, THIS_CP);
  g_assert_cmpfloat (evcp_charging_request_get_requested_power_kw (rec.last), ==, 50.0);
  g_assert_cmpint (evcp_charging_request_get_max_duration_s (rec.last), ==, 3600);
  g_assert_null (evcp_charging_request_get_timestamp (rec.last));
  g_assert_null (evcp_charging_request_get_user_name (rec.last));
  g_assert_cmpstr (evcp_charging_request_get_origin (rec.last), ==, "-[-1]@-1 kind=CHARGING_REQUEST");

  /* fields split between data and the top level */
  g_assert_true (handle (handler, "{'kind':'CHARGING_REQUEST','user_id':'u9','cp_id':'CP-001',"
                                  "'data':{'requested_power':7.4,'max_duration':600}}", &error));
  g_assert_no_error (error);
  g_assert_cmpuint (rec.n, ==, 2);
  g_assert_cmpstr (evcp_charging_request_get_user_id (rec.last), ==, "u9");
  g_assert_cmpfloat (evcp_charging_request_get_requested_power_kw (rec.last), ==, 7.4);
  g_assert_cmpint (evcp_charging_request_get_max_duration_s (rec.last), ==, 600);
}

static void
test_charging_request_origin (void)
{
  static const gchar json[] = "{\"kind\":\"CHARGING_REQUEST\",\"user_id\":\"u1\",\"cp_id\":\"CP-001\","
                              "\"requested_power\":11,\"max_duration\":60}";
  g_auto(RequestRecorder) rec = { 0 };
  g_autoptr(EvcpChargingRequestHandler) handler = charging_handler_new (NULL, &rec);
  g_autoptr(GBytes) raw = g_bytes_new_static (json, sizeof json - 1);
  g_autoptr(EvcpMessage) msg = evcp_message_new (raw, NULL, "charging_requests", 3, 17);
  g_autoptr(GError) error = NULL;

  g_assert_true (evcp_message_parse (msg, NULL, &error));
  g_assert_true (evcp_message_handler_handle (EVCP_MESSAGE_HANDLER (handler), msg, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (rec.n, ==, 1);
  g_assert_cmpstr (evcp_charging_request_get_origin (rec.last), ==,
                   "charging_requests[3]@17 kind=CHARGING_REQUEST");
}

static void
test_charging_request_known_user (void)
{
  g_autoptr(EvcpUserRegistry) registry = evcp_user_registry_new (3);
  g_autoptr(EvcpUserInfoHandler) users = evcp_user_info_handler_new (registry);
  g_auto(RequestRecorder) rec = { 0 };
  g_autoptr(EvcpChargingRequestHandler) handler = charging_handler_new (registry, &rec);
  g_autoptr(GError) error = NULL;

  g_assert_true (handle (users, "{'kind':'USER_INFO','user_id':'user123',"
                                "'data':{'name':'John Doe','vehicle':'Tesla Model 3'}}", &error));
  g_assert_true (handle (users, "{'kind':'USER_INFO','user_id':'u2'}", &error));
  g_assert_true (handle (users, "{'kind':'USER_INFO','user_id':'u3'}", &error));
  g_assert_no_error (error);

  g_assert_true (handle (handler, "{'kind':'CHARGING_REQUEST','user_id':'user123','cp_id':'CP-001',"
                                  "'requested_power':50,'max_duration':3600}", &error));
  g_assert_no_error (error);
  g_assert_cmpuint (rec.n, ==, 1);
  g_assert_cmpstr (evcp_charging_request_get_user_name (rec.last), ==, "John Doe");
  g_assert_cmpstr (evcp_charging_request_get_user_vehicle (rec.last), ==, "Tesla Model 3");

  /* the request counted as seeing user123: the next user evicts u2 instead */
  g_assert_true (handle (users, "{'kind':'USER_INFO','user_id':'u4'}", &error));
  g_assert_no_error (error);
  assert_known (registry, "user123", TRUE);
  assert_known (registry, "u2", FALSE);
}

static void
test_charging_request_other_cp (void)
{
  g_autoptr(EvcpUserRegistry) registry = evcp_user_registry_new (0);
  g_auto(RequestRecorder) rec = { 0 };
  g_autoptr(EvcpChargingRequestHandler) handler = charging_handler_new (registry, &rec);
  g_autoptr(GError) error = NULL;

  g_assert_true (handle (handler, "{'kind':'CHARGING_REQUEST','user_id':'u1','cp_id':'CP-002',"
                                  "'requested_power':50,'max_duration':3600}", &error));
  g_assert_no_error (error);
  /* cp_id is looked at first: the rest of another CP's request is not our business */
  g_assert_true (handle (handler, "{'kind':'CHARGING_REQUEST','data':{'cp_id':'CP-0011',"
                                  "'requested_power':'lots'}}", &error));
  g_assert_no_error (error);
  /* ids are compared exactly */
  g_assert_true (handle (handler, "{'kind':'CHARGING_REQUEST','user_id':'u1','cp_id':'cp-001',"
                                  "'requested_power':50,'max_duration':3600}", &error));
  g_assert_no_error (error);

  g_assert_cmpuint (rec.n, ==, 0);
  g_assert_cmpuint (evcp_charging_request_handler_get_skipped (handler), ==, 3);
  g_assert_cmpuint (evcp_charging_request_handler_get_accepted (handler), ==, 0);
  g_assert_cmpuint (evcp_charging_request_handler_get_rejected (handler), ==, 0);
}

#define CR(fields) "{'kind':'CHARGING_REQUEST','data':{" fields "}}"
#define CR_OK_BUT(fields) CR ("'user_id':'u1','cp_id':'CP-001'," fields)

static void
test_charging_request_invalid (void)
{
  static const InvalidCase cases[] = {
    /* cp_id */
    { CR ("'user_id':'u1','requested_power':50,'max_duration':3600"), "cp_id" },
    { CR ("'user_id':'u1','cp_id':null,'requested_power':50,'max_duration':3600"), "cp_id" },
    { CR ("'user_id':'u1','cp_id':1,'requested_power':50,'max_duration':3600"), "cp_id" },
    { CR ("'user_id':'u1','cp_id':'','requested_power':50,'max_duration':3600"), "cp_id" },
    { CR ("'user_id':'u1','cp_id':['CP-001'],'requested_power':50,'max_duration':3600"), "cp_id" },
    /* user_id */
    { CR ("'cp_id':'CP-001','requested_power':50,'max_duration':3600"), "user_id" },
    { CR ("'cp_id':'CP-001','user_id':7,'requested_power':50,'max_duration':3600"), "user_id" },
    { CR ("'cp_id':'CP-001','user_id':'','requested_power':50,'max_duration':3600"), "user_id" },
    { CR ("'cp_id':'CP-001','user_id':{},'requested_power':50,'max_duration':3600"), "user_id" },
    { "{'kind':'CHARGING_REQUEST','user_id':'u1','data':{'user_id':5,'cp_id':'CP-001',"
      "'requested_power':50,'max_duration':3600}}", "user_id" },
    /* what cannot stand in Central's frames: the ticket could not be written */
    { CR ("'cp_id':'CP-001','user_id':'u#1','requested_power':50,'max_duration':3600"), "user_id" },
    { CR ("'cp_id':'CP-001','user_id':'u\\u0002x','requested_power':50,'max_duration':3600"), "user_id" },
    { CR ("'cp_id':'CP-001','user_id':'u\\u0004x','requested_power':50,'max_duration':3600"), "user_id" },
    { CR ("'cp_id':'CP-001','user_id':'u\\nx','requested_power':50,'max_duration':3600"), "user_id" },
    { CR ("'cp_id':'CP-001','user_id':'u\\u007fx','requested_power':50,'max_duration':3600"), "user_id" },
    /* requested_power */
    { CR_OK_BUT ("'max_duration':3600"), "requested_power" },
    { CR_OK_BUT ("'requested_power':'50','max_duration':3600"), "requested_power" },
    { CR_OK_BUT ("'requested_power':true,'max_duration':3600"), "requested_power" },
    { CR_OK_BUT ("'requested_power':[50],'max_duration':3600"), "requested_power" },
    { CR_OK_BUT ("'requested_power':0,'max_duration':3600"), "requested_power" },
    { CR_OK_BUT ("'requested_power':0.0,'max_duration':3600"), "requested_power" },
    { CR_OK_BUT ("'requested_power':-0.0,'max_duration':3600"), "requested_power" },
    { CR_OK_BUT ("'requested_power':-50,'max_duration':3600"), "requested_power" },
    { CR_OK_BUT ("'requested_power':1000.001,'max_duration':3600"), "requested_power" },
    { CR_OK_BUT ("'requested_power':1e9,'max_duration':3600"), "requested_power" },
    /* max_duration */
    { CR_OK_BUT ("'requested_power':50"), "max_duration" },
    { CR_OK_BUT ("'requested_power':50,'max_duration':'3600'"), "max_duration" },
    { CR_OK_BUT ("'requested_power':50,'max_duration':false"), "max_duration" },
    { CR_OK_BUT ("'requested_power':50,'max_duration':3600.5"), "max_duration" },
    { CR_OK_BUT ("'requested_power':50,'max_duration':0"), "max_duration" },
    { CR_OK_BUT ("'requested_power':50,'max_duration':-3600"), "max_duration" },
    { CR_OK_BUT ("'requested_power':50,'max_duration':604801"), "max_duration" },
    { CR_OK_BUT ("'requested_power':50,'max_duration':1e300"), "max_duration" },
    { CR_OK_BUT ("'requested_power':50,'max_duration':9223372036854775807"), "max_duration" },
  };
  g_auto(RequestRecorder) rec = { 0 };
  g_autoptr(EvcpChargingRequestHandler) handler = charging_handler_new (NULL, &rec);

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;

      g_test_message ("case %" G_GSIZE_FORMAT ": %s", i, cases[i].json);
      g_assert_false (handle (handler, cases[i].json, &error));
      assert_invalid_naming (error, cases[i].field);
    }
  /* a user_id longer than a frame's field may be (EVCP_FIELD_ID_MAX) */
  {
    g_autofree gchar *id = g_strnfill (EVCP_FIELD_ID_MAX + 1, 'u');
    g_autofree gchar *json = g_strdup_printf (CR ("'cp_id':'CP-001','user_id':'%s','requested_power':50,"
                                                  "'max_duration':3600"), id);
    g_autoptr(GError) error = NULL;

    g_assert_false (handle (handler, json, &error));
    assert_invalid_naming (error, "user_id");
    /* the longest one accepted */
    id[EVCP_FIELD_ID_MAX] = '\0';
    g_clear_pointer (&json, g_free);
    json = g_strdup_printf (CR ("'cp_id':'CP-001','user_id':'%s','requested_power':50,'max_duration':3600"), id);
    g_assert_true (handle (handler, json, NULL));
  }
  g_assert_cmpuint (rec.n, ==, 1);
  g_assert_cmpuint (evcp_charging_request_handler_get_rejected (handler), ==, G_N_ELEMENTS (cases) + 1);
  g_assert_cmpuint (evcp_charging_request_handler_get_accepted (handler), ==, 1);
  g_assert_cmpuint (evcp_charging_request_handler_get_skipped (handler), ==, 0);
}

typedef struct {
  const gchar *fields;
  gdouble      power;
  gint64       duration;
} LimitCase;

static void
test_charging_request_limits (void)
{
  static const LimitCase cases[] = {
    { "'requested_power':1000,'max_duration':604800", 1000.0, 604800 },
    { "'requested_power':1000.0,'max_duration':1", 1000.0, 1 },
    { "'requested_power':0.001,'max_duration':3600", 0.001, 3600 },
    /* an integral double is an integer */
    { "'requested_power':50,'max_duration':3600.0", 50.0, 3600 },
    { "'requested_power':50,'max_duration':3.6e3", 50.0, 3600 },
  };
  g_auto(RequestRecorder) rec = { 0 };
  g_autoptr(EvcpChargingRequestHandler) handler = charging_handler_new (NULL, &rec);

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree gchar *json = g_strdup_printf (CR_OK_BUT ("%s"), cases[i].fields);
      g_autoptr(GError) error = NULL;

      g_test_message ("case %" G_GSIZE_FORMAT ": %s", i, json);
      g_assert_true (handle (handler, json, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (rec.n, ==, i + 1);
      g_assert_cmpfloat (evcp_charging_request_get_requested_power_kw (rec.last), ==, cases[i].power);
      g_assert_cmpint (evcp_charging_request_get_max_duration_s (rec.last), ==, cases[i].duration);
    }
  g_assert_cmpuint (evcp_charging_request_handler_get_accepted (handler), ==, G_N_ELEMENTS (cases));
}

static void
test_charging_request_no_listener (void)
{
  g_autoptr(EvcpChargingRequestHandler) handler = charging_handler_new (NULL, NULL);
  g_autoptr(GError) error = NULL;
  const gchar *json = "{'kind':'CHARGING_REQUEST','user_id':'u1','cp_id':'CP-001',"
                      "'requested_power':50,'max_duration':3600}";

  /* a warning the first time only */
  evcp_test_expect_message ("evcp-handlers", G_LOG_LEVEL_WARNING, "*Nothing is connected*");
  g_assert_true (handle (handler, json, &error));
  g_assert_no_error (error);
  evcp_test_assert_expected_messages ();
  g_assert_true (handle (handler, json, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (evcp_charging_request_handler_get_accepted (handler), ==, 2);
}

static void
test_charging_request_boxed (void)
{
  g_autoptr(EvcpChargingRequest) request =
    evcp_charging_request_new ("u1", THIS_CP, 11.0, 60, "Ana", NULL, "origin", NULL);
  GValue value = G_VALUE_INIT;
  EvcpChargingRequest *copy;

  g_value_init (&value, EVCP_TYPE_CHARGING_REQUEST);
  g_value_set_boxed (&value, request);
  copy = g_value_dup_boxed (&value);
  g_value_unset (&value);
  /* copies are references to the same immutable request */
  g_assert_true (copy == request);
  g_assert_cmpstr (evcp_charging_request_get_user_name (copy), ==, "Ana");
  g_assert_null (evcp_charging_request_get_user_vehicle (copy));
  g_assert_null (evcp_charging_request_get_timestamp (copy));
  evcp_charging_request_unref (copy);
  g_assert_cmpstr (evcp_charging_request_get_user_id (request), ==, "u1");
}

/* ---- SYSTEM_NOTIFICATION ---------------------------------------------- */

typedef struct {
  guint                  n;
  EvcpNotificationLevel  level;
  gchar                 *message;
} NotificationRecorder;

static void
on_notification (EvcpSystemNotificationHandler *handler,
                 EvcpNotificationLevel          level,
                 const gchar                   *message,
                 gpointer                       user_data)
{
  NotificationRecorder *rec = user_data;

  rec->n++;
  rec->level = level;
  g_free (rec->message);
  rec->message = g_strdup (message);
}

static void
notification_recorder_clear (NotificationRecorder *rec)
{
  g_clear_pointer (&rec->message, g_free);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (NotificationRecorder, notification_recorder_clear)

static EvcpSystemNotificationHandler *
notification_handler_new (NotificationRecorder *rec)
{
  EvcpSystemNotificationHandler *handler = evcp_system_notification_handler_new (THIS_CP);

  g_signal_connect (handler, "notification", G_CALLBACK (on_notification), rec);
  log_records_reset ();
  return handler;
}

static LogRecord *
last_log_record (void)
{
  g_assert_cmpuint (log_records->len, >, 0);
  return g_ptr_array_index (log_records, log_records->len - 1);
}

static void
test_notification_identity (void)
{
  g_autoptr(EvcpSystemNotificationHandler) handler = evcp_system_notification_handler_new (THIS_CP);
  g_autoptr(EvcpMessage) mine = msg_new ("{'kind':'SYSTEM_NOTIFICATION'}");
  g_autoptr(EvcpMessage) other = msg_new ("{'kind':'USER_INFO'}");

  g_assert_cmpstr (evcp_message_handler_get_name (EVCP_MESSAGE_HANDLER (handler)), ==, "system-notification");
  g_assert_true (evcp_message_handler_can_handle (EVCP_MESSAGE_HANDLER (handler), mine));
  g_assert_false (evcp_message_handler_can_handle (EVCP_MESSAGE_HANDLER (handler), other));
  g_assert_cmpstr (evcp_system_notification_handler_get_cp_id (handler), ==, THIS_CP);
}

/* One table per enumeration: each *_to_string() says its value's nick, and
 * the nicks are the strings of the logs, frames and events. */
typedef const gchar *(*EnumToString) (gint value);

static void
check_enum_nicks (GType type, EnumToString to_string, const gchar *fallback)
{
  g_autoptr(GEnumClass) klass = g_type_class_ref (type);

  for (guint i = 0; i < klass->n_values; i++)
    g_assert_cmpstr (to_string (klass->values[i].value), ==, klass->values[i].value_nick);
  g_assert_cmpstr (to_string (klass->maximum + 1), ==, fallback);
}

static void
test_enums_one_table (void)
{
  check_enum_nicks (EVCP_TYPE_KAFKA_STATE, (EnumToString) evcp_kafka_state_to_string, "UNKNOWN");
  check_enum_nicks (EVCP_TYPE_CP_STATE, (EnumToString) evcp_cp_state_to_string, "UNKNOWN");
  check_enum_nicks (EVCP_TYPE_HEALTH_OUTCOME, (EnumToString) evcp_health_outcome_to_string, "UNKNOWN");
  check_enum_nicks (EVCP_TYPE_CENTRAL_STATE, (EnumToString) evcp_central_state_to_string, "UNKNOWN");
  check_enum_nicks (EVCP_TYPE_MONITOR_STATE, (EnumToString) evcp_monitor_state_to_string, "UNKNOWN");
  check_enum_nicks (EVCP_TYPE_MONITOR_ALERT_KIND, (EnumToString) evcp_monitor_alert_kind_to_string, "UNKNOWN");
  check_enum_nicks (EVCP_TYPE_NOTIFICATION_LEVEL, (EnumToString) evcp_notification_level_to_string, NULL);

  /* the strings others read */
  g_assert_cmpstr (evcp_kafka_state_to_string (EVCP_KAFKA_STATE_CONNECTED), ==, "CONNECTED");
  g_assert_cmpstr (evcp_cp_state_to_string (EVCP_CP_STATE_SUPPLYING), ==, "SUPPLYING");
  g_assert_cmpstr (evcp_health_outcome_to_string (EVCP_HEALTH_OUTCOME_TIMEOUT), ==, "TIMEOUT");
  g_assert_cmpstr (evcp_central_state_to_string (EVCP_CENTRAL_STATE_AUTHENTICATING), ==, "AUTHENTICATING");
  g_assert_cmpstr (evcp_monitor_state_to_string (EVCP_MONITOR_KO), ==, "KO");
  g_assert_cmpstr (evcp_monitor_alert_kind_to_string (EVCP_MONITOR_ALERT_ENGINE), ==, "ENGINE");
}

static void
test_notification_levels_enum (void)
{
  g_autoptr(GEnumClass) klass = g_type_class_ref (EVCP_TYPE_NOTIFICATION_LEVEL);
  EvcpNotificationLevel level = EVCP_NOTIFICATION_LEVEL_INFO;
  GEnumValue *value;

  g_assert_cmpstr (evcp_notification_level_to_string (EVCP_NOTIFICATION_LEVEL_INFO), ==, "info");
  g_assert_cmpstr (evcp_notification_level_to_string (EVCP_NOTIFICATION_LEVEL_WARNING), ==, "warning");
  g_assert_cmpstr (evcp_notification_level_to_string (EVCP_NOTIFICATION_LEVEL_CRITICAL), ==, "critical");
  g_assert_null (evcp_notification_level_to_string (EVCP_NOTIFICATION_LEVEL_LAST));
  g_assert_true (evcp_notification_level_from_string ("Critical", &level));
  g_assert_cmpint (level, ==, EVCP_NOTIFICATION_LEVEL_CRITICAL);
  g_assert_true (evcp_notification_level_from_string ("warning", &level));
  g_assert_cmpint (level, ==, EVCP_NOTIFICATION_LEVEL_WARNING);
  g_assert_false (evcp_notification_level_from_string ("debug", &level));
  g_assert_false (evcp_notification_level_from_string ("", &level));
  g_assert_false (evcp_notification_level_from_string ("info ", &level));

  value = g_enum_get_value_by_nick (klass, "critical");
  g_assert_nonnull (value);
  g_assert_cmpint (value->value, ==, EVCP_NOTIFICATION_LEVEL_CRITICAL);
}

static void
test_notification_info (void)
{
  g_auto(NotificationRecorder) rec = { 0 };
  g_autoptr(EvcpSystemNotificationHandler) handler = notification_handler_new (&rec);
  g_autoptr(GError) error = NULL;
  LogRecord *log;

  g_assert_true (handle (handler, "{'kind':'SYSTEM_NOTIFICATION','timestamp':'2026-11-26T10:00:00Z',"
                                  "'data':{'level':'info','message':'Tariff changes at midnight'}}", &error));
  g_assert_no_error (error);
  g_assert_cmpuint (rec.n, ==, 1);
  g_assert_cmpint (rec.level, ==, EVCP_NOTIFICATION_LEVEL_INFO);
  g_assert_cmpstr (rec.message, ==, "Tariff changes at midnight");

  g_assert_cmpuint (log_records->len, ==, 1);
  log = last_log_record ();
  g_assert_cmpint (log->level, ==, G_LOG_LEVEL_INFO);
  g_assert_cmpstr (log->notification_level, ==, "info");
  g_assert_nonnull (strstr (log->message, "Tariff changes at midnight"));

  g_assert_cmpuint (evcp_system_notification_handler_get_count (handler, EVCP_NOTIFICATION_LEVEL_INFO), ==, 1);
  g_assert_cmpuint (evcp_system_notification_handler_get_count (handler, EVCP_NOTIFICATION_LEVEL_WARNING), ==, 0);
  g_assert_cmpuint (evcp_system_notification_handler_get_count (handler, EVCP_NOTIFICATION_LEVEL_CRITICAL), ==, 0);
}

static void
test_notification_warning (void)
{
  g_auto(NotificationRecorder) rec = { 0 };
  g_autoptr(EvcpSystemNotificationHandler) handler = notification_handler_new (&rec);
  g_autoptr(GError) error = NULL;
  LogRecord *log;

  /* top-level shape, addressed to this CP */
  g_assert_true (handle (handler, "{'kind':'SYSTEM_NOTIFICATION','level':'warning','cp_id':'CP-001',"
                                  "'message':'Grid limit reduced'}", &error));
  g_assert_no_error (error);
  g_assert_cmpuint (rec.n, ==, 1);
  g_assert_cmpint (rec.level, ==, EVCP_NOTIFICATION_LEVEL_WARNING);
  g_assert_cmpstr (rec.message, ==, "Grid limit reduced");
  log = last_log_record ();
  g_assert_cmpint (log->level, ==, G_LOG_LEVEL_WARNING);
  g_assert_cmpstr (log->notification_level, ==, "warning");
  g_assert_cmpuint (evcp_system_notification_handler_get_count (handler, EVCP_NOTIFICATION_LEVEL_WARNING), ==, 1);
}

static void
test_notification_critical (void)
{
  g_auto(NotificationRecorder) rec = { 0 };
  g_autoptr(EvcpSystemNotificationHandler) handler = notification_handler_new (&rec);
  g_autoptr(GError) error = NULL;
  LogRecord *log;

  g_assert_true (handle (handler, "{'kind':'SYSTEM_NOTIFICATION','data':{'level':'critical',"
                                  "'message':'Stop all sessions %s%n'}}", &error));
  g_assert_no_error (error);
  g_assert_cmpuint (rec.n, ==, 1);
  g_assert_cmpint (rec.level, ==, EVCP_NOTIFICATION_LEVEL_CRITICAL);
  /* the text is data, never a format */
  g_assert_cmpstr (rec.message, ==, "Stop all sessions %s%n");
  log = last_log_record ();
  g_assert_cmpint (log->level, ==, G_LOG_LEVEL_WARNING);
  g_assert_cmpstr (log->notification_level, ==, "critical");
  g_assert_nonnull (strstr (log->message, "Stop all sessions %s%n"));
  g_assert_cmpuint (evcp_system_notification_handler_get_count (handler, EVCP_NOTIFICATION_LEVEL_CRITICAL), ==, 1);
}

/* With the default log writer and only criticals fatal, as the services run
 * with G_DEBUG=fatal-criticals (g_test_init() also makes warnings fatal), a
 * critical notification must be logged and must not abort. */
static void
test_notification_critical_not_fatal (void)
{
  g_auto(NotificationRecorder) rec = { 0 };
  g_autoptr(EvcpSystemNotificationHandler) handler = notification_handler_new (&rec);
  GLogLevelFlags fatal_mask;

  log_forward_all = TRUE;
  fatal_mask = g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  g_assert_true (handle (handler, "{'kind':'SYSTEM_NOTIFICATION','level':'critical',"
                                  "'message':'Evacuate the car park'}", NULL));
  g_log_set_always_fatal (fatal_mask);
  log_forward_all = FALSE;

  /* still alive */
  g_assert_cmpuint (rec.n, ==, 1);
  g_assert_cmpint (rec.level, ==, EVCP_NOTIFICATION_LEVEL_CRITICAL);
  g_assert_cmpuint (evcp_system_notification_handler_get_count (handler, EVCP_NOTIFICATION_LEVEL_CRITICAL), ==, 1);
}

static void
test_notification_other_cp (void)
{
  g_auto(NotificationRecorder) rec = { 0 };
  g_autoptr(EvcpSystemNotificationHandler) handler = notification_handler_new (&rec);
  g_autoptr(GError) error = NULL;

  g_assert_true (handle (handler, "{'kind':'SYSTEM_NOTIFICATION','data':{'level':'critical',"
                                  "'message':'Not you','cp_id':'CP-002'}}", &error));
  g_assert_no_error (error);
  /* the rest of another CP's notification is not looked at */
  g_assert_true (handle (handler, "{'kind':'SYSTEM_NOTIFICATION','cp_id':'CP-002','level':'loud'}", &error));
  g_assert_no_error (error);
  g_assert_cmpuint (rec.n, ==, 0);
  g_assert_cmpuint (log_records->len, ==, 0);
  g_assert_cmpuint (evcp_system_notification_handler_get_skipped (handler), ==, 2);
  g_assert_cmpuint (evcp_system_notification_handler_get_count (handler, EVCP_NOTIFICATION_LEVEL_CRITICAL), ==, 0);

  /* absent or null cp_id: every CP */
  g_assert_true (handle (handler, "{'kind':'SYSTEM_NOTIFICATION','cp_id':null,'level':'INFO','message':'All'}", &error));
  g_assert_no_error (error);
  g_assert_cmpuint (rec.n, ==, 1);
  g_assert_cmpint (rec.level, ==, EVCP_NOTIFICATION_LEVEL_INFO);
  g_assert_cmpuint (evcp_system_notification_handler_get_skipped (handler), ==, 2);
}

static void
test_notification_invalid (void)
{
  static const InvalidCase cases[] = {
    { "{'kind':'SYSTEM_NOTIFICATION','data':{'message':'m'}}", "level" },
    { "{'kind':'SYSTEM_NOTIFICATION','data':{'level':null,'message':'m'}}", "level" },
    { "{'kind':'SYSTEM_NOTIFICATION','data':{'level':2,'message':'m'}}", "level" },
    { "{'kind':'SYSTEM_NOTIFICATION','data':{'level':'debug','message':'m'}}", "level" },
    { "{'kind':'SYSTEM_NOTIFICATION','data':{'level':'','message':'m'}}", "level" },
    { "{'kind':'SYSTEM_NOTIFICATION','data':{'level':'info'}}", "message" },
    { "{'kind':'SYSTEM_NOTIFICATION','data':{'level':'info','message':5}}", "message" },
    { "{'kind':'SYSTEM_NOTIFICATION','data':{'level':'info','message':{'text':'m'}}}", "message" },
    { "{'kind':'SYSTEM_NOTIFICATION','data':{'level':'info','message':'m','cp_id':1}}", "cp_id" },
    { "{'kind':'SYSTEM_NOTIFICATION','data':{'level':'info','message':'m','cp_id':''}}", "cp_id" },
  };
  g_auto(NotificationRecorder) rec = { 0 };
  g_autoptr(EvcpSystemNotificationHandler) handler = notification_handler_new (&rec);

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;

      g_test_message ("case %" G_GSIZE_FORMAT ": %s", i, cases[i].json);
      g_assert_false (handle (handler, cases[i].json, &error));
      assert_invalid_naming (error, cases[i].field);
    }
  g_assert_cmpuint (rec.n, ==, 0);
  g_assert_cmpuint (log_records->len, ==, 0);
  for (guint l = 0; l < EVCP_NOTIFICATION_LEVEL_LAST; l++)
    g_assert_cmpuint (evcp_system_notification_handler_get_count (handler, l), ==, 0);
}

int
main (int argc, char **argv)
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  log_records = g_ptr_array_new_with_free_func (log_record_free);
  g_log_set_writer_func (capture_writer, NULL, NULL);
  evcp_test_expect_chained = TRUE;

  g_test_add_func ("/handlers/user-registry/basic", test_registry_basic);
  g_test_add_func ("/handlers/user-registry/update-merges", test_registry_update_merges);
  g_test_add_func ("/handlers/user-registry/eviction", test_registry_eviction);
  g_test_add_func ("/handlers/user-registry/flood", test_registry_flood);
  g_test_add_func ("/handlers/user-registry/too-long", test_registry_too_long);

  g_test_add_func ("/handlers/user-info/identity", test_user_info_identity);
  g_test_add_func ("/handlers/user-info/data-shape", test_user_info_data_shape);
  g_test_add_func ("/handlers/user-info/kafka-python-shape", test_user_info_kafka_python_shape);
  g_test_add_func ("/handlers/user-info/optional", test_user_info_optional);
  g_test_add_func ("/handlers/user-info/invalid", test_user_info_invalid);
  g_test_add_func ("/handlers/user-info/too-long", test_user_info_too_long);

  g_test_add_func ("/handlers/charging-request/identity", test_charging_request_identity);
  g_test_add_func ("/handlers/charging-request/valid", test_charging_request_valid);
  g_test_add_func ("/handlers/charging-request/kafka-python-shape", test_charging_request_kafka_python_shape);
  g_test_add_func ("/handlers/charging-request/origin", test_charging_request_origin);
  g_test_add_func ("/handlers/charging-request/known-user", test_charging_request_known_user);
  g_test_add_func ("/handlers/charging-request/other-cp", test_charging_request_other_cp);
  g_test_add_func ("/handlers/charging-request/invalid", test_charging_request_invalid);
  g_test_add_func ("/handlers/charging-request/limits", test_charging_request_limits);
  g_test_add_func ("/handlers/charging-request/no-listener", test_charging_request_no_listener);
  g_test_add_func ("/handlers/charging-request/boxed", test_charging_request_boxed);

  g_test_add_func ("/handlers/system-notification/identity", test_notification_identity);
  g_test_add_func ("/handlers/system-notification/levels-enum", test_notification_levels_enum);
  g_test_add_func ("/enums/one-table", test_enums_one_table);
  g_test_add_func ("/handlers/system-notification/info", test_notification_info);
  g_test_add_func ("/handlers/system-notification/warning", test_notification_warning);
  g_test_add_func ("/handlers/system-notification/critical", test_notification_critical);
  g_test_add_func ("/handlers/system-notification/critical-not-fatal", test_notification_critical_not_fatal);
  g_test_add_func ("/handlers/system-notification/other-cp", test_notification_other_cp);
  g_test_add_func ("/handlers/system-notification/invalid", test_notification_invalid);

  ret = g_test_run ();
  g_ptr_array_unref (log_records);
  return ret;
}
