/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "evcp-handlers"

#include "evcp-build-config.h"

#include <string.h>

#include <glib/gi18n-lib.h>

#include "evcp-enum.h"
#include "evcp-error.h"
#include "evcp-log.h"
#include "evcp-system-notification-handler.h"

G_DEFINE_ENUM_TYPE (EvcpNotificationLevel, evcp_notification_level,
  G_DEFINE_ENUM_VALUE (EVCP_NOTIFICATION_LEVEL_INFO, "info"),
  G_DEFINE_ENUM_VALUE (EVCP_NOTIFICATION_LEVEL_WARNING, "warning"),
  G_DEFINE_ENUM_VALUE (EVCP_NOTIFICATION_LEVEL_CRITICAL, "critical"))

/* Returns: (nullable): "info", "warning" or "critical"; %NULL for an invalid level */
const gchar *
evcp_notification_level_to_string (EvcpNotificationLevel level)
{
  return evcp_enum_to_nick (EVCP_TYPE_NOTIFICATION_LEVEL, (gint) level, NULL);
}

/**
 * evcp_notification_level_from_string:
 * @str: "info", "warning" or "critical", in any case
 * @level: (out): the level
 *
 * Returns: whether @str is a level
 */
gboolean
evcp_notification_level_from_string (const gchar *str, EvcpNotificationLevel *level)
{
  gint value;

  g_return_val_if_fail (str != NULL, FALSE);
  g_return_val_if_fail (level != NULL, FALSE);

  if (!evcp_enum_from_nick (EVCP_TYPE_NOTIFICATION_LEVEL, str, &value))
    return FALSE;
  *level = (EvcpNotificationLevel) value;
  return TRUE;
}

struct _EvcpSystemNotificationHandler
{
  GObject  parent_instance;

  gchar   *cp_id;

  /* atomic: handle() may run in any thread */
  guint    counts[EVCP_NOTIFICATION_LEVEL_LAST];
  guint    skipped;
};

enum {
  PROP_0,
  PROP_CP_ID,
  N_PROPS
};

enum {
  SIGNAL_NOTIFICATION,
  N_SIGNALS
};

static GParamSpec *props[N_PROPS];
static guint signals[N_SIGNALS];

static void evcp_system_notification_handler_iface_init (EvcpMessageHandlerInterface *iface);

G_DEFINE_TYPE_WITH_CODE (EvcpSystemNotificationHandler, evcp_system_notification_handler, G_TYPE_OBJECT,
                         G_IMPLEMENT_INTERFACE (EVCP_TYPE_MESSAGE_HANDLER,
                                                evcp_system_notification_handler_iface_init))

static const gchar *
evcp_system_notification_handler_get_name (EvcpMessageHandler *handler)
{
  return EVCP_SYSTEM_NOTIFICATION_HANDLER_NAME;
}

static gboolean
evcp_system_notification_handler_can_handle (EvcpMessageHandler *handler, EvcpMessage *message)
{
  return g_strcmp0 (evcp_message_get_kind (message), EVCP_SYSTEM_NOTIFICATION_KIND) == 0;
}

static gboolean
evcp_system_notification_handler_handle (EvcpMessageHandler  *handler,
                                         EvcpMessage         *message,
                                         GError             **error)
{
  EvcpSystemNotificationHandler *self = EVCP_SYSTEM_NOTIFICATION_HANDLER (handler);
  const gchar *cp_id = NULL;
  const gchar *level_str = NULL;
  const gchar *text = NULL;
  EvcpNotificationLevel level;
  const gchar *nick;

  /* Absent (or null): for every CP. */
  if (!evcp_message_get_string (message, "cp_id", FALSE, &cp_id, error))
    return FALSE;
  if (cp_id != NULL && *cp_id == '\0')
    {
      g_set_error_literal (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE,
                           _("Field \"cp_id\" must not be empty"));
      return FALSE;
    }
  if (cp_id != NULL && strcmp (cp_id, self->cp_id) != 0)
    {
      g_atomic_int_inc (&self->skipped);
      EVCP_DEBUG ("Skipping a system notification for %.64s, this is %s", cp_id, self->cp_id);
      return TRUE;
    }

  if (!evcp_message_get_string (message, "level", TRUE, &level_str, error))
    return FALSE;
  if (!evcp_notification_level_from_string (level_str, &level))
    {
      g_set_error (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE,
                   /* TRANSLATORS: the level of a notification; do not translate info, warning, critical */
                   _("Field \"level\" must be info, warning or critical, not \"%.32s\""),
                   level_str);
      return FALSE;
    }
  if (!evcp_message_get_string (message, "message", TRUE, &text, error))
    return FALSE;

  g_atomic_int_inc (&self->counts[level]);
  nick = evcp_notification_level_to_string (level);
  /* Never G_LOG_LEVEL_CRITICAL, which G_DEBUG=fatal-criticals makes fatal:
   * a message from the network must not be able to abort the process. */
  g_log_structured (G_LOG_DOMAIN,
                    level == EVCP_NOTIFICATION_LEVEL_INFO ? G_LOG_LEVEL_INFO : G_LOG_LEVEL_WARNING,
                    "EVCP_NOTIFICATION_LEVEL", nick,
                    "EVCP_CP_ID", self->cp_id,
                    "MESSAGE", "System notification (%s): %s", nick, text);
  g_signal_emit (self, signals[SIGNAL_NOTIFICATION], 0, level, text);
  return TRUE;
}

static void
evcp_system_notification_handler_iface_init (EvcpMessageHandlerInterface *iface)
{
  iface->get_name = evcp_system_notification_handler_get_name;
  iface->can_handle = evcp_system_notification_handler_can_handle;
  iface->handle = evcp_system_notification_handler_handle;
}

static void
evcp_system_notification_handler_get_property (GObject    *object,
                                               guint       prop_id,
                                               GValue     *value,
                                               GParamSpec *pspec)
{
  EvcpSystemNotificationHandler *self = EVCP_SYSTEM_NOTIFICATION_HANDLER (object);

  switch (prop_id)
    {
    case PROP_CP_ID:
      g_value_set_string (value, self->cp_id);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
evcp_system_notification_handler_set_property (GObject      *object,
                                               guint         prop_id,
                                               const GValue *value,
                                               GParamSpec   *pspec)
{
  EvcpSystemNotificationHandler *self = EVCP_SYSTEM_NOTIFICATION_HANDLER (object);

  switch (prop_id)
    {
    case PROP_CP_ID:
      self->cp_id = g_value_dup_string (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
evcp_system_notification_handler_constructed (GObject *object)
{
  EvcpSystemNotificationHandler *self = EVCP_SYSTEM_NOTIFICATION_HANDLER (object);

  G_OBJECT_CLASS (evcp_system_notification_handler_parent_class)->constructed (object);
  if (self->cp_id == NULL || *self->cp_id == '\0')
    {
      g_critical ("%s needs a non-empty cp-id", G_OBJECT_TYPE_NAME (self));
      /* never matches a message's cp_id, which must not be empty */
      g_free (self->cp_id);
      self->cp_id = g_strdup ("");
    }
}

static void
evcp_system_notification_handler_finalize (GObject *object)
{
  EvcpSystemNotificationHandler *self = EVCP_SYSTEM_NOTIFICATION_HANDLER (object);

  g_free (self->cp_id);
  G_OBJECT_CLASS (evcp_system_notification_handler_parent_class)->finalize (object);
}

static void
evcp_system_notification_handler_class_init (EvcpSystemNotificationHandlerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = evcp_system_notification_handler_get_property;
  object_class->set_property = evcp_system_notification_handler_set_property;
  object_class->constructed = evcp_system_notification_handler_constructed;
  object_class->finalize = evcp_system_notification_handler_finalize;

  /**
   * EvcpSystemNotificationHandler:cp-id:
   *
   * The id of this charging point; notifications for other CPs are skipped.
   */
  props[PROP_CP_ID] =
    g_param_spec_string ("cp-id", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, props);

  /**
   * EvcpSystemNotificationHandler::notification:
   * @self: the handler
   * @level: the #EvcpNotificationLevel
   * @message: the notification's text
   *
   * Emitted, in the thread that handles the message, for every valid
   * notification for this charging point or for every CP.
   */
  signals[SIGNAL_NOTIFICATION] =
    g_signal_new ("notification",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2,
                  EVCP_TYPE_NOTIFICATION_LEVEL,
                  G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE);
}

static void
evcp_system_notification_handler_init (EvcpSystemNotificationHandler *self)
{
}

/**
 * evcp_system_notification_handler_new:
 * @cp_id: the id of this charging point
 *
 * Returns: (transfer full): the "system-notification" handler of SYSTEM_NOTIFICATION messages
 */
EvcpSystemNotificationHandler *
evcp_system_notification_handler_new (const gchar *cp_id)
{
  g_return_val_if_fail (cp_id != NULL && *cp_id != '\0', NULL);
  return g_object_new (EVCP_TYPE_SYSTEM_NOTIFICATION_HANDLER, "cp-id", cp_id, NULL);
}

const gchar *
evcp_system_notification_handler_get_cp_id (EvcpSystemNotificationHandler *self)
{
  g_return_val_if_fail (EVCP_IS_SYSTEM_NOTIFICATION_HANDLER (self), NULL);
  return self->cp_id;
}

/* Returns: how many notifications of @level were handled */
guint
evcp_system_notification_handler_get_count (EvcpSystemNotificationHandler *self,
                                            EvcpNotificationLevel          level)
{
  g_return_val_if_fail (EVCP_IS_SYSTEM_NOTIFICATION_HANDLER (self), 0);
  g_return_val_if_fail ((guint) level < EVCP_NOTIFICATION_LEVEL_LAST, 0);
  return (guint) g_atomic_int_get (&self->counts[level]);
}

/* Returns: how many notifications for other charging points were skipped */
guint
evcp_system_notification_handler_get_skipped (EvcpSystemNotificationHandler *self)
{
  g_return_val_if_fail (EVCP_IS_SYSTEM_NOTIFICATION_HANDLER (self), 0);
  return (guint) g_atomic_int_get (&self->skipped);
}
