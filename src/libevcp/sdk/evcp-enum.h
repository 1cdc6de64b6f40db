/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/*
 * One table per enumeration: the nicks of its G_DEFINE_ENUM_TYPE are the
 * strings its *_to_string() and *_from_string() use (in logs, frames, JSON
 * and on D-Bus), so no second table repeats them.
 */

static inline GEnumClass *
evcp_enum_class (GType type)
{
  gpointer klass = g_type_class_peek (type);

  /* the reference is kept: a static type's class lives as long as the
   * program */
  return klass != NULL ? klass : g_type_class_ref (type);
}

/* The nick of @value, or @fallback when @value is none of @type's values. */
static inline const gchar *
evcp_enum_to_nick (GType type, gint value, const gchar *fallback)
{
  GEnumValue *v = g_enum_get_value (evcp_enum_class (type), value);

  return v != NULL ? v->value_nick : fallback;
}

/* The value whose nick is @nick, compared in any case. */
static inline gboolean
evcp_enum_from_nick (GType type, const gchar *nick, gint *value)
{
  GEnumClass *klass = evcp_enum_class (type);

  for (guint i = 0; i < klass->n_values; i++)
    if (g_ascii_strcasecmp (nick, klass->values[i].value_nick) == 0)
      {
        *value = klass->values[i].value;
        return TRUE;
      }
  return FALSE;
}

G_END_DECLS
