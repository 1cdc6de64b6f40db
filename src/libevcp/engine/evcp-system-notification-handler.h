/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "evcp-message-handler.h"

G_BEGIN_DECLS

#define EVCP_SYSTEM_NOTIFICATION_HANDLER_NAME "system-notification"
#define EVCP_SYSTEM_NOTIFICATION_KIND         "SYSTEM_NOTIFICATION"

/**
 * EvcpNotificationLevel:
 * @EVCP_NOTIFICATION_LEVEL_INFO: "info", logged as %G_LOG_LEVEL_INFO
 * @EVCP_NOTIFICATION_LEVEL_WARNING: "warning", logged as %G_LOG_LEVEL_WARNING
 * @EVCP_NOTIFICATION_LEVEL_CRITICAL: "critical", logged as %G_LOG_LEVEL_WARNING
 *   too (never %G_LOG_LEVEL_CRITICAL: a remote message must not abort us)
 *
 * The level of a SYSTEM_NOTIFICATION; the log field EVCP_NOTIFICATION_LEVEL
 * holds its nick.
 */
typedef enum {
  EVCP_NOTIFICATION_LEVEL_INFO,
  EVCP_NOTIFICATION_LEVEL_WARNING,
  EVCP_NOTIFICATION_LEVEL_CRITICAL,
} EvcpNotificationLevel;

#define EVCP_NOTIFICATION_LEVEL_LAST (EVCP_NOTIFICATION_LEVEL_CRITICAL + 1)

#define EVCP_TYPE_NOTIFICATION_LEVEL (evcp_notification_level_get_type ())
GType        evcp_notification_level_get_type    (void) G_GNUC_CONST;
const gchar *evcp_notification_level_to_string   (EvcpNotificationLevel  level);
gboolean     evcp_notification_level_from_string (const gchar           *str,
                                                  EvcpNotificationLevel *level);

#define EVCP_TYPE_SYSTEM_NOTIFICATION_HANDLER (evcp_system_notification_handler_get_type ())
G_DECLARE_FINAL_TYPE (EvcpSystemNotificationHandler, evcp_system_notification_handler,
                      EVCP, SYSTEM_NOTIFICATION_HANDLER, GObject)

EvcpSystemNotificationHandler *evcp_system_notification_handler_new         (const gchar                   *cp_id);
const gchar                   *evcp_system_notification_handler_get_cp_id   (EvcpSystemNotificationHandler *self);
guint                          evcp_system_notification_handler_get_count   (EvcpSystemNotificationHandler *self,
                                                                             EvcpNotificationLevel          level);
guint                          evcp_system_notification_handler_get_skipped (EvcpSystemNotificationHandler *self);

G_END_DECLS
