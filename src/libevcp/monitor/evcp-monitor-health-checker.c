/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "evcp-health"

#include "evcp-build-config.h"

#include <string.h>

#include <gio/gnetworking.h>

#include "evcp-enum.h"
#include "evcp-frame-codec.h"
#include "evcp-monitor-health-checker.h"

#define MAX_SENDS       3
#define MAX_REASON_LEN  200

/* clang-format off */
G_DEFINE_ENUM_TYPE (EvcpHealthOutcome, evcp_health_outcome,
  G_DEFINE_ENUM_VALUE (EVCP_HEALTH_OUTCOME_OK, "OK"),
  G_DEFINE_ENUM_VALUE (EVCP_HEALTH_OUTCOME_KO, "KO"),
  G_DEFINE_ENUM_VALUE (EVCP_HEALTH_OUTCOME_TIMEOUT, "TIMEOUT"),
  G_DEFINE_ENUM_VALUE (EVCP_HEALTH_OUTCOME_REFUSED, "REFUSED"),
  G_DEFINE_ENUM_VALUE (EVCP_HEALTH_OUTCOME_CLOSED, "CLOSED"),
  G_DEFINE_ENUM_VALUE (EVCP_HEALTH_OUTCOME_PROTOCOL, "PROTOCOL"))
/* clang-format on */

G_DEFINE_BOXED_TYPE (EvcpHealthResult, evcp_health_result,
                     evcp_health_result_copy, evcp_health_result_free)

struct _EvcpHealthChecker
{
  GObject            parent_instance;

  gchar             *host;
  guint16            port;
  gchar             *cp_id;
  GBytes            *request;       /* HEALTH#<cp>, framed */

  GSocketClient     *client;
  GSocketConnection *connection;    /* kept between checks */
  EvcpFrameDecoder  *decoder;
  GTask             *task;          /* the check running, if any */
  guint64            connections;
};

G_DEFINE_TYPE (EvcpHealthChecker, evcp_health_checker, G_TYPE_OBJECT)

typedef struct {
  GCancellable      *cancellable;   /* this check's: the deadline and the caller cancel it */
  GCancellable      *caller;
  gulong             caller_id;
  GSource           *deadline;
  guint              timeout_ms;
  gint64             start_us;
  gboolean           timed_out;
  gboolean           connected;     /* this check opened the connection */
  gboolean           replaced;      /* a dead kept connection was replaced */
  gboolean           received;      /* bytes came on this connection during the check */
  gboolean           acked;
  guint              sends;
  GByteArray        *out;           /* ACK, NACK, the request again: written in one go */
  GBytes            *writing;       /* what the write in flight is sending */
  EvcpHealthResult  *result;        /* set once decided; returned after @out is written */
  guint8             buf[1024];
} Check;

static void start_connect (GTask *task);
static void send_request (GTask *task);

const gchar *
evcp_health_outcome_to_string (EvcpHealthOutcome outcome)
{
  return evcp_enum_to_nick (EVCP_TYPE_HEALTH_OUTCOME, (gint) outcome, "UNKNOWN");
}

EvcpHealthResult *
evcp_health_result_copy (const EvcpHealthResult *result)
{
  EvcpHealthResult *copy;

  g_return_val_if_fail (result != NULL, NULL);

  copy = g_new (EvcpHealthResult, 1);
  *copy = *result;
  copy->reason = g_strdup (result->reason);
  copy->warning = g_strdup (result->warning);
  return copy;
}

void
evcp_health_result_free (EvcpHealthResult *result)
{
  if (result == NULL)
    return;
  g_free (result->reason);
  g_free (result->warning);
  g_free (result);
}

gchar *
evcp_health_sanitize_reason (const gchar *text)
{
  g_autofree gchar *valid = NULL;
  GString *s;

  if (text == NULL)
    return g_strdup ("");
  valid = g_utf8_make_valid (text, -1);
  s = g_string_new (NULL);
  for (const gchar *p = valid; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      const gchar *next = g_utf8_next_char (p);

      if ((gsize) (next - p) + s->len > MAX_REASON_LEN)
        break;
      if (c == '#' || g_unichar_iscntrl (c))
        g_string_append_c (s, ' ');
      else
        g_string_append_len (s, p, next - p);
    }
  return g_strstrip (g_string_free (s, FALSE));
}

/* ---- the end of a check --------------------------------------------------- */

static void
drop_connection (EvcpHealthChecker *self)
{
  if (self->connection == NULL)
    return;
  g_io_stream_close (G_IO_STREAM (self->connection), NULL, NULL);
  g_clear_object (&self->connection);
  evcp_frame_decoder_reset (self->decoder);
}

static void
clear_deadline (Check *check)
{
  if (check->deadline == NULL)
    return;
  g_source_destroy (check->deadline);
  g_clear_pointer (&check->deadline, g_source_unref);
}

static void
check_free (Check *check)
{
  clear_deadline (check);
  if (check->caller != NULL)
    {
      g_cancellable_disconnect (check->caller, check->caller_id);
      g_object_unref (check->caller);
    }
  g_clear_object (&check->cancellable);
  g_byte_array_unref (check->out);
  g_clear_pointer (&check->writing, g_bytes_unref);
  evcp_health_result_free (check->result);
  g_free (check);
}

/* Every path ends here, from the callback of the last operation: no
 * operation is pending on the connection when it is dropped. */
static void
finish (GTask *task, EvcpHealthOutcome outcome, const gchar *reason)
{
  EvcpHealthChecker *self = g_task_get_source_object (task);
  Check *check = g_task_get_task_data (task);
  EvcpHealthResult *result = g_new0 (EvcpHealthResult, 1);

  result->outcome = outcome;
  result->reason = evcp_health_sanitize_reason (outcome == EVCP_HEALTH_OUTCOME_OK ? "" : reason);
  /* an OK answer's third field: the Engine serves, with a warning */
  if (outcome == EVCP_HEALTH_OUTCOME_OK && reason != NULL && *reason != '\0')
    result->warning = evcp_health_sanitize_reason (reason);
  result->latency_ms = (gdouble) (g_get_monotonic_time () - check->start_us) / 1000.0;
  result->answered = outcome == EVCP_HEALTH_OUTCOME_OK || outcome == EVCP_HEALTH_OUTCOME_KO;
  result->connected = check->connected;

  /* Only a conversation that went right is worth keeping. */
  if (!result->answered)
    drop_connection (self);
  clear_deadline (check);
  g_debug ("Health check: %s %s (%.3f ms)", evcp_health_outcome_to_string (outcome),
           result->reason, result->latency_ms);

  self->task = NULL;
  g_task_return_pointer (task, result, (GDestroyNotify) evcp_health_result_free);
  g_object_unref (task);
}

/* An operation failed: cancelled by the deadline or the caller, or an I/O
 * error on the connection. */
static void
failed (GTask *task, const GError *error, EvcpHealthOutcome outcome, const gchar *what)
{
  EvcpHealthChecker *self = g_task_get_source_object (task);
  Check *check = g_task_get_task_data (task);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_autofree gchar *reason = NULL;

      if (!check->timed_out)
        {
          /* the caller gave up: G_IO_ERROR_CANCELLED from _finish */
          drop_connection (self);
          self->task = NULL;
          g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "health check cancelled");
          g_object_unref (task);
          return;
        }
      if (self->connection == NULL)
        reason = g_strdup_printf ("no connection within %u ms", check->timeout_ms);
      else if (check->acked)
        reason = g_strdup_printf ("acknowledged but no answer within %u ms", check->timeout_ms);
      else
        reason = g_strdup_printf ("no answer within %u ms", check->timeout_ms);
      finish (task, EVCP_HEALTH_OUTCOME_TIMEOUT, reason);
      return;
    }

  /* A kept connection the Engine closed meanwhile: replace it once. */
  if (!check->connected && !check->replaced && !check->received &&
      outcome == EVCP_HEALTH_OUTCOME_CLOSED)
    {
      g_debug ("Kept health connection is dead (%s); reconnecting",
               error != NULL ? error->message : "closed");
      check->replaced = TRUE;
      drop_connection (self);
      start_connect (task);
      return;
    }

  if (error != NULL)
    {
      g_autofree gchar *reason = g_strdup_printf ("%s: %s", what, error->message);

      finish (task, outcome, reason);
    }
  else
    finish (task, outcome, what);
}

/* ---- reading the answer ----------------------------------------------------- */

static void read_more (GTask *task);

static void
on_out_written (GObject *source, GAsyncResult *res, gpointer user_data)
{
  GTask *task = user_data;
  Check *check = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;

  gboolean written = g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), res, NULL, &error);

  g_clear_pointer (&check->writing, g_bytes_unref);
  if (check->result != NULL)
    {
      /* The answer is known. If its ACK could not be written (the link
       * broke, or the deadline came), the answer stands; the link goes. */
      g_autoptr(EvcpHealthResult) result = g_steal_pointer (&check->result);

      if (!written)
        drop_connection (g_task_get_source_object (task));
      finish (task, result->outcome, result->reason);
      return;
    }
  if (!written)
    {
      failed (task, error, EVCP_HEALTH_OUTCOME_CLOSED, "connection lost");
      return;
    }
  read_more (task);
}

static void
flush_out (GTask *task)
{
  EvcpHealthChecker *self = g_task_get_source_object (task);
  Check *check = g_task_get_task_data (task);
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (self->connection));

  /* GOutputStream copies nothing: the bytes live until the write is done */
  g_clear_pointer (&check->writing, g_bytes_unref);
  check->writing = g_byte_array_free_to_bytes (check->out);
  check->out = g_byte_array_new ();
  g_output_stream_write_all_async (out, g_bytes_get_data (check->writing, NULL),
                                   g_bytes_get_size (check->writing),
                                   G_PRIORITY_DEFAULT, check->cancellable, on_out_written, task);
}

static void
decide (Check *check, EvcpHealthOutcome outcome, const gchar *reason)
{
  if (check->result != NULL)
    return;
  check->result = g_new0 (EvcpHealthResult, 1);
  check->result->outcome = outcome;
  check->result->reason = g_strdup (reason);
}

static void
handle_frame (EvcpHealthChecker *self, Check *check, const gchar *data)
{
  g_auto(GStrv) fields = evcp_frame_split_fields (data);
  const guint8 ack = EVCP_FRAME_ACK;

  /* every valid frame is ACKed first */
  g_byte_array_append (check->out, &ack, 1);
  if (check->result != NULL || fields[0] == NULL || fields[1] == NULL ||
      !g_str_equal (fields[1], self->cp_id))
    {
      g_debug ("Health: ignored frame %s", data);
      return;
    }
  if (g_str_equal (fields[0], "OK"))
    decide (check, EVCP_HEALTH_OUTCOME_OK, fields[2] != NULL ? fields[2] : "");
  else if (g_str_equal (fields[0], "KO"))
    decide (check, EVCP_HEALTH_OUTCOME_KO,
            fields[2] != NULL && *fields[2] != '\0' ? fields[2] : "KO");
  else
    g_debug ("Health: ignored frame %s", data);
}

static void
on_read (GObject *source, GAsyncResult *res, gpointer user_data)
{
  GTask *task = user_data;
  EvcpHealthChecker *self = g_task_get_source_object (task);
  Check *check = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), res, &error);
  const guint8 *p = check->buf;
  gsize len;
  EvcpFrameEvent event;
  gboolean resend = FALSE;

  if (n < 0)
    {
      failed (task, error, EVCP_HEALTH_OUTCOME_CLOSED, "connection lost");
      return;
    }
  if (n == 0)
    {
      failed (task, NULL, EVCP_HEALTH_OUTCOME_CLOSED, "connection closed by the Engine");
      return;
    }
  check->received = TRUE;
  len = (gsize) n;
  while (evcp_frame_decoder_next (self->decoder, &p, &len, &event))
    {
      const guint8 nack = EVCP_FRAME_NACK;

      switch (event.type)
        {
        case EVCP_FRAME_EVENT_ACK:
          check->acked = TRUE;
          break;
        case EVCP_FRAME_EVENT_NACK:
          if (check->sends + (resend ? 1 : 0) < MAX_SENDS)
            resend = TRUE;
          else
            decide (check, EVCP_HEALTH_OUTCOME_PROTOCOL, "request NACKed 3 times");
          break;
        case EVCP_FRAME_EVENT_EOT:
          decide (check, EVCP_HEALTH_OUTCOME_CLOSED, "the Engine ended the conversation (EOT)");
          break;
        case EVCP_FRAME_EVENT_BAD:
          {
            g_autofree gchar *reason =
              g_strdup_printf ("bad frame from the Engine (%s)",
                               evcp_frame_bad_reason_to_string (event.reason));

            g_byte_array_append (check->out, &nack, 1);
            decide (check, EVCP_HEALTH_OUTCOME_PROTOCOL, reason);
          }
          break;
        case EVCP_FRAME_EVENT_FRAME:
          handle_frame (self, check, event.data);
          break;
        default:
          break;
        }
    }
  if (resend && check->result == NULL)
    {
      check->sends++;
      g_byte_array_append (check->out, g_bytes_get_data (self->request, NULL),
                           g_bytes_get_size (self->request));
    }
  if (check->out->len > 0)
    {
      flush_out (task);
      return;
    }
  if (check->result != NULL)
    {
      g_autoptr(EvcpHealthResult) result = g_steal_pointer (&check->result);

      finish (task, result->outcome, result->reason);
      return;
    }
  read_more (task);
}

static void
read_more (GTask *task)
{
  EvcpHealthChecker *self = g_task_get_source_object (task);
  Check *check = g_task_get_task_data (task);
  GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (self->connection));

  g_input_stream_read_async (in, check->buf, sizeof check->buf, G_PRIORITY_DEFAULT,
                             check->cancellable, on_read, task);
}

/* ---- sending and connecting -------------------------------------------------- */

static void
send_request (GTask *task)
{
  EvcpHealthChecker *self = g_task_get_source_object (task);
  Check *check = g_task_get_task_data (task);

  check->sends++;
  g_byte_array_append (check->out, g_bytes_get_data (self->request, NULL),
                       g_bytes_get_size (self->request));
  flush_out (task);
}

static void
on_connected (GObject *source, GAsyncResult *res, gpointer user_data)
{
  GTask *task = user_data;
  EvcpHealthChecker *self = g_task_get_source_object (task);
  Check *check = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  GSocketConnection *connection;

  connection = g_socket_client_connect_to_host_finish (G_SOCKET_CLIENT (source), res, &error);
  if (connection == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED))
        failed (task, NULL, EVCP_HEALTH_OUTCOME_REFUSED, "connection refused");
      else
        failed (task, error, EVCP_HEALTH_OUTCOME_REFUSED, "cannot connect");
      return;
    }
  self->connection = connection;
  self->connections++;
  evcp_frame_decoder_reset (self->decoder);
  check->connected = TRUE;
  check->received = FALSE;
  /* small frames that must not wait for Nagle */
  g_socket_set_option (g_socket_connection_get_socket (connection), IPPROTO_TCP, TCP_NODELAY, 1, NULL);
  send_request (task);
}

static void
start_connect (GTask *task)
{
  EvcpHealthChecker *self = g_task_get_source_object (task);
  Check *check = g_task_get_task_data (task);

  g_socket_client_connect_to_host_async (self->client, self->host, self->port,
                                         check->cancellable, on_connected, task);
}

static gboolean
on_deadline (gpointer user_data)
{
  GTask *task = user_data;
  Check *check = g_task_get_task_data (task);

  check->timed_out = TRUE;
  g_cancellable_cancel (check->cancellable);
  g_clear_pointer (&check->deadline, g_source_unref);
  return G_SOURCE_REMOVE;
}

static void
on_caller_cancelled (GCancellable *caller, gpointer user_data)
{
  g_cancellable_cancel (G_CANCELLABLE (user_data));
}

void
evcp_health_checker_check_async (EvcpHealthChecker   *self,
                                 guint                timeout_ms,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  g_autoptr(GMainContext) context = NULL;
  GTask *task;
  Check *check;

  g_return_if_fail (EVCP_IS_HEALTH_CHECKER (self));
  g_return_if_fail (timeout_ms > 0);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  if (self->task != NULL)
    {
      g_task_report_new_error (self, callback, user_data, evcp_health_checker_check_async,
                               G_IO_ERROR, G_IO_ERROR_PENDING, "a health check is running");
      return;
    }

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, evcp_health_checker_check_async);
  check = g_new0 (Check, 1);
  check->cancellable = g_cancellable_new ();
  check->timeout_ms = timeout_ms;
  check->start_us = g_get_monotonic_time ();
  check->out = g_byte_array_new ();
  g_task_set_task_data (task, check, (GDestroyNotify) check_free);
  self->task = task;

  context = g_main_context_ref_thread_default ();
  check->deadline = g_timeout_source_new (timeout_ms);
  g_source_set_callback (check->deadline, on_deadline, task, NULL);
  g_source_attach (check->deadline, context);
  if (cancellable != NULL)
    {
      check->caller = g_object_ref (cancellable);
      check->caller_id = g_cancellable_connect (cancellable, G_CALLBACK (on_caller_cancelled),
                                                check->cancellable, NULL);
    }

  if (self->connection != NULL)
    send_request (task);
  else
    start_connect (task);
}

EvcpHealthResult *
evcp_health_checker_check_finish (EvcpHealthChecker *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (EVCP_IS_HEALTH_CHECKER (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

void
evcp_health_checker_disconnect (EvcpHealthChecker *self)
{
  g_return_if_fail (EVCP_IS_HEALTH_CHECKER (self));
  g_return_if_fail (self->task == NULL);

  drop_connection (self);
}

gboolean
evcp_health_checker_is_connected (EvcpHealthChecker *self)
{
  g_return_val_if_fail (EVCP_IS_HEALTH_CHECKER (self), FALSE);
  return self->connection != NULL;
}

gboolean
evcp_health_checker_is_busy (EvcpHealthChecker *self)
{
  g_return_val_if_fail (EVCP_IS_HEALTH_CHECKER (self), FALSE);
  return self->task != NULL;
}

guint64
evcp_health_checker_get_connections (EvcpHealthChecker *self)
{
  g_return_val_if_fail (EVCP_IS_HEALTH_CHECKER (self), 0);
  return self->connections;
}

/* ---- GObject ------------------------------------------------------------------ */

EvcpHealthChecker *
evcp_health_checker_new (const gchar *host, guint16 port, const gchar *cp_id)
{
  EvcpHealthChecker *self;
  const gchar *fields[] = { "HEALTH", cp_id, NULL };
  g_autoptr(GError) error = NULL;

  g_return_val_if_fail (host != NULL && port > 0, NULL);
  g_return_val_if_fail (cp_id != NULL, NULL);

  self = g_object_new (EVCP_TYPE_HEALTH_CHECKER, NULL);
  self->host = g_strdup (host);
  self->port = port;
  self->cp_id = g_strdup (cp_id);
  self->request = evcp_frame_encode_fields (fields, &error);
  if (self->request == NULL)
    {
      /* a CP_ID that cannot be framed: evcp_config_validate() refuses it */
      g_critical ("Cannot frame HEALTH for %s: %s", cp_id, error->message);
      self->request = g_bytes_new_static ("", 0);
    }
  return self;
}

static void
evcp_health_checker_finalize (GObject *object)
{
  EvcpHealthChecker *self = EVCP_HEALTH_CHECKER (object);

  /* a running check holds a reference: none can be running here */
  drop_connection (self);
  g_clear_object (&self->client);
  g_clear_pointer (&self->decoder, evcp_frame_decoder_free);
  g_clear_pointer (&self->request, g_bytes_unref);
  g_free (self->host);
  g_free (self->cp_id);
  G_OBJECT_CLASS (evcp_health_checker_parent_class)->finalize (object);
}

static void
evcp_health_checker_class_init (EvcpHealthCheckerClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = evcp_health_checker_finalize;
}

static void
evcp_health_checker_init (EvcpHealthChecker *self)
{
  self->client = g_socket_client_new ();
  /* the Engine is local or on the CP's own network: never through a proxy */
  g_socket_client_set_enable_proxy (self->client, FALSE);
  self->decoder = evcp_frame_decoder_new ();
}
