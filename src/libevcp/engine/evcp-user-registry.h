/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

#define EVCP_USER_REGISTRY_DEFAULT_CAPACITY 10000

/* Longest accepted user id, name or vehicle, in bytes: with the capacity,
 * this bounds the memory that a flood of USER_INFO messages can take. */
#define EVCP_USER_MAX_FIELD_LENGTH 256

/**
 * EvcpUser:
 *
 * An immutable, reference-counted snapshot of what is known about a user.
 */
typedef struct _EvcpUser EvcpUser;

#define EVCP_TYPE_USER (evcp_user_get_type ())
GType          evcp_user_get_type       (void) G_GNUC_CONST;
EvcpUser      *evcp_user_ref            (EvcpUser       *user);
void           evcp_user_unref          (EvcpUser       *user);
const gchar   *evcp_user_get_id         (const EvcpUser *user);
const gchar   *evcp_user_get_name       (const EvcpUser *user);
const gchar   *evcp_user_get_vehicle    (const EvcpUser *user);
gint64         evcp_user_get_last_seen  (const EvcpUser *user);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EvcpUser, evcp_user_unref)

#define EVCP_TYPE_USER_REGISTRY (evcp_user_registry_get_type ())
G_DECLARE_FINAL_TYPE (EvcpUserRegistry, evcp_user_registry, EVCP, USER_REGISTRY, GObject)

EvcpUserRegistry *evcp_user_registry_new          (guint              capacity);
gboolean          evcp_user_registry_update       (EvcpUserRegistry  *self,
                                                   const gchar       *user_id,
                                                   const gchar       *name,
                                                   const gchar       *vehicle,
                                                   GError           **error);
EvcpUser         *evcp_user_registry_lookup       (EvcpUserRegistry  *self,
                                                   const gchar       *user_id) G_GNUC_WARN_UNUSED_RESULT;
EvcpUser         *evcp_user_registry_touch        (EvcpUserRegistry  *self,
                                                   const gchar       *user_id) G_GNUC_WARN_UNUSED_RESULT;
guint             evcp_user_registry_get_count    (EvcpUserRegistry  *self);
guint             evcp_user_registry_get_capacity (EvcpUserRegistry  *self);

G_END_DECLS
