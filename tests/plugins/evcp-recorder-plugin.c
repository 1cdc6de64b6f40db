/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A test plugin: records every handled TRACK message's id in the file named
 * by $EVCP_RECORDER_FILE (one line each, appended with one write() so that a
 * SIGKILL never leaves half a line), so that tests of a separate Engine
 * process can see exactly what was handled, and how often; and the user_id
 * of every CHARGING_REQUEST dispatched (beside the built-in handler, in the
 * same dispatch) in $EVCP_RECORDER_FILE.requests. */
#define G_LOG_DOMAIN "evcp-recorder"

#include <fcntl.h>
#include <unistd.h>

#include <string.h>

#include <gio/gio.h>
#include <gmodule.h>

#include <evcp-plugin.h>

EVCP_PLUGIN_DEFINE;

static gboolean
write_line (gint fd, const gchar *line, GError **error)
{
  if (write (fd, line, strlen (line)) != (gssize) strlen (line))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "recorder: short write");
      return FALSE;
    }
  return TRUE;
}

static gboolean
record (EvcpMessage *message, gpointer user_data, GError **error)
{
  g_autofree gchar *line = NULL;
  gint64 id;

  if (!evcp_message_get_integer (message, "id", TRUE, &id, error))
    return FALSE;
  line = g_strdup_printf ("%" G_GINT64_FORMAT "\n", id);
  return write_line (GPOINTER_TO_INT (user_data), line, error);
}

static gboolean
record_request (EvcpMessage *message, gpointer user_data, GError **error)
{
  g_autofree gchar *line = NULL;
  const gchar *user_id = NULL;

  if (!evcp_message_get_string (message, "user_id", FALSE, &user_id, error))
    return FALSE;
  line = g_strdup_printf ("%s\n", user_id != NULL ? user_id : "");
  return write_line (GPOINTER_TO_INT (user_data), line, error);
}

static gint
open_append (const gchar *path, GError **error)
{
  gint fd = open (path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

  if (fd < 0)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot open %s", path);
  return fd;
}

static void
close_fd (gpointer data)
{
  close (GPOINTER_TO_INT (data));
}

G_MODULE_EXPORT gboolean
evcp_engine_plugin_init (EvcpKafkaService *service, EvcpPluginConfig *config, GError **error)
{
  const gchar *path = g_getenv ("EVCP_RECORDER_FILE");
  g_autofree gchar *requests_path = NULL;
  g_autoptr(EvcpMessageHandler) handler = NULL;
  g_autoptr(EvcpMessageHandler) requests = NULL;
  gint fd, requests_fd;

  if (path == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "EVCP_RECORDER_FILE is not set");
      return FALSE;
    }
  if ((fd = open_append (path, error)) < 0)
    return FALSE;
  handler = evcp_callback_handler_new ("recorder", "TRACK", record, GINT_TO_POINTER (fd), close_fd);
  requests_path = g_strconcat (path, ".requests", NULL);
  if ((requests_fd = open_append (requests_path, error)) < 0)
    return FALSE;
  requests = evcp_callback_handler_new ("recorder-requests", "CHARGING_REQUEST", record_request,
                                        GINT_TO_POINTER (requests_fd), close_fd);
  return evcp_kafka_service_register_handler (service, handler, error) &&
         evcp_kafka_service_register_handler (service, requests, error);
}
