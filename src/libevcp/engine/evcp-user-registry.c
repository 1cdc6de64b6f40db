/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "evcp-handlers"

#include "evcp-build-config.h"

#include <string.h>

#include <glib/gi18n-lib.h>

#include "evcp-error.h"
#include "evcp-log.h"
#include "evcp-user-registry.h"

struct _EvcpUser
{
  const gchar *id;
  const gchar *name;     /* nullable */
  const gchar *vehicle;  /* nullable */
  gint64       last_seen; /* g_get_monotonic_time() */
  gchar        strings[]; /* id, name and vehicle, each with its NUL */
};

G_DEFINE_BOXED_TYPE (EvcpUser, evcp_user, evcp_user_ref, evcp_user_unref)

static const gchar *
put_string (gchar **p, const gchar *s, gsize len)
{
  const gchar *start = *p;

  if (s == NULL)
    return NULL;
  memcpy (*p, s, len);
  (*p)[len] = '\0';
  *p += len + 1;
  return start;
}

/* One allocation: a registry that sees a user per message copies users
 * often (they are immutable, shared with whoever looked them up). */
static EvcpUser *
evcp_user_new (const gchar *id, const gchar *name, const gchar *vehicle)
{
  gsize id_len = strlen (id);
  gsize name_len = name != NULL ? strlen (name) : 0;
  gsize vehicle_len = vehicle != NULL ? strlen (vehicle) : 0;
  EvcpUser *user = g_atomic_rc_box_alloc (sizeof (EvcpUser) + id_len + name_len + vehicle_len + 3);
  gchar *p = user->strings;

  user->id = put_string (&p, id, id_len);
  user->name = put_string (&p, name, name_len);
  user->vehicle = put_string (&p, vehicle, vehicle_len);
  user->last_seen = g_get_monotonic_time ();
  return user;
}

EvcpUser *
evcp_user_ref (EvcpUser *user)
{
  g_return_val_if_fail (user != NULL, NULL);
  return g_atomic_rc_box_acquire (user);
}

void
evcp_user_unref (EvcpUser *user)
{
  g_return_if_fail (user != NULL);
  g_atomic_rc_box_release (user);
}

const gchar *
evcp_user_get_id (const EvcpUser *user)
{
  g_return_val_if_fail (user != NULL, NULL);
  return user->id;
}

/* Returns: (nullable): the user's name, if it was ever given */
const gchar *
evcp_user_get_name (const EvcpUser *user)
{
  g_return_val_if_fail (user != NULL, NULL);
  return user->name;
}

/* Returns: (nullable): the user's vehicle, if it was ever given */
const gchar *
evcp_user_get_vehicle (const EvcpUser *user)
{
  g_return_val_if_fail (user != NULL, NULL);
  return user->vehicle;
}

/* Returns: when the user was last seen, in g_get_monotonic_time() microseconds */
gint64
evcp_user_get_last_seen (const EvcpUser *user)
{
  g_return_val_if_fail (user != NULL, 0);
  return user->last_seen;
}

struct _EvcpUserRegistry
{
  GObject     parent_instance;

  GMutex      mutex;     /* protects users and lru */
  guint       capacity;
  GHashTable *users;     /* user id (borrowed from the EvcpUser) -> GList link of lru */
  GQueue      lru;       /* of EvcpUser, least recently seen first */
};

enum {
  PROP_0,
  PROP_CAPACITY,
  N_PROPS
};

enum {
  SIGNAL_USER_UPDATED,
  N_SIGNALS
};

static GParamSpec *props[N_PROPS];
static guint signals[N_SIGNALS];

G_DEFINE_TYPE (EvcpUserRegistry, evcp_user_registry, G_TYPE_OBJECT)

static void
evcp_user_registry_get_property (GObject    *object,
                                 guint       prop_id,
                                 GValue     *value,
                                 GParamSpec *pspec)
{
  EvcpUserRegistry *self = EVCP_USER_REGISTRY (object);

  switch (prop_id)
    {
    case PROP_CAPACITY:
      g_value_set_uint (value, self->capacity);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
evcp_user_registry_set_property (GObject      *object,
                                 guint         prop_id,
                                 const GValue *value,
                                 GParamSpec   *pspec)
{
  EvcpUserRegistry *self = EVCP_USER_REGISTRY (object);

  switch (prop_id)
    {
    case PROP_CAPACITY:
      self->capacity = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
evcp_user_registry_finalize (GObject *object)
{
  EvcpUserRegistry *self = EVCP_USER_REGISTRY (object);

  g_hash_table_unref (self->users);
  g_queue_clear_full (&self->lru, (GDestroyNotify) evcp_user_unref);
  g_mutex_clear (&self->mutex);

  G_OBJECT_CLASS (evcp_user_registry_parent_class)->finalize (object);
}

static void
evcp_user_registry_class_init (EvcpUserRegistryClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = evcp_user_registry_get_property;
  object_class->set_property = evcp_user_registry_set_property;
  object_class->finalize = evcp_user_registry_finalize;

  /**
   * EvcpUserRegistry:capacity:
   *
   * The most users remembered; when full, the least recently seen is forgotten.
   */
  props[PROP_CAPACITY] =
    g_param_spec_uint ("capacity", NULL, NULL,
                       1, G_MAXUINT, EVCP_USER_REGISTRY_DEFAULT_CAPACITY,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, props);

  /**
   * EvcpUserRegistry::user-updated:
   * @self: the registry
   * @user_id: the id of the user that was added or updated
   *
   * Emitted, in the thread that called evcp_user_registry_update() and
   * without any lock held, after a user was added or updated.
   */
  signals[SIGNAL_USER_UPDATED] =
    g_signal_new ("user-updated",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1,
                  G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE);
}

static void
evcp_user_registry_init (EvcpUserRegistry *self)
{
  g_mutex_init (&self->mutex);
  self->capacity = EVCP_USER_REGISTRY_DEFAULT_CAPACITY;
  self->users = g_hash_table_new (g_str_hash, g_str_equal);
  g_queue_init (&self->lru);
}

/**
 * evcp_user_registry_new:
 * @capacity: the most users remembered, 0 for %EVCP_USER_REGISTRY_DEFAULT_CAPACITY
 *
 * Returns: (transfer full): a new, empty registry
 */
EvcpUserRegistry *
evcp_user_registry_new (guint capacity)
{
  return g_object_new (EVCP_TYPE_USER_REGISTRY,
                       "capacity", capacity > 0 ? capacity : EVCP_USER_REGISTRY_DEFAULT_CAPACITY,
                       NULL);
}

static gboolean
check_length (const gchar *field, const gchar *value, GError **error)
{
  if (value == NULL || strnlen (value, EVCP_USER_MAX_FIELD_LENGTH + 1) <= EVCP_USER_MAX_FIELD_LENGTH)
    return TRUE;
  g_set_error (error, EVCP_ERROR, EVCP_ERROR_INVALID_MESSAGE,
               /* TRANSLATORS: %s is a message field name, %u a number of bytes */
               _("Field \"%s\" is longer than %u bytes"),
               field, (guint) EVCP_USER_MAX_FIELD_LENGTH);
  return FALSE;
}

/* Moves @link, already in the queue, to its most recently seen end. */
static void
lru_bump (EvcpUserRegistry *self, GList *link)
{
  g_queue_unlink (&self->lru, link);
  g_queue_push_tail_link (&self->lru, link);
}

/* Replaces the user that @link holds, keeping the hash table's key valid. */
static void
replace_user (EvcpUserRegistry *self, GList *link, EvcpUser *user)
{
  EvcpUser *old = link->data;

  link->data = user;
  g_hash_table_replace (self->users, (gpointer) user->id, link);
  evcp_user_unref (old);
}

/**
 * evcp_user_registry_update:
 * @user_id: the user's id, not empty
 * @name: (nullable): the user's name, %NULL to keep the one already known
 * @vehicle: (nullable): the user's vehicle, %NULL to keep the one already known
 *
 * Remembers a user, or updates what is known about it, and marks it as seen
 * now. When the registry is full, the least recently seen user is forgotten
 * to make room for a new one. Emits #EvcpUserRegistry::user-updated.
 *
 * Returns: %TRUE on success; %FALSE with %EVCP_ERROR_INVALID_MESSAGE if a
 *   value is longer than %EVCP_USER_MAX_FIELD_LENGTH bytes
 */
gboolean
evcp_user_registry_update (EvcpUserRegistry  *self,
                           const gchar       *user_id,
                           const gchar       *name,
                           const gchar       *vehicle,
                           GError           **error)
{
  GList *link;

  g_return_val_if_fail (EVCP_IS_USER_REGISTRY (self), FALSE);
  g_return_val_if_fail (user_id != NULL && *user_id != '\0', FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_length ("user_id", user_id, error) ||
      !check_length ("name", name, error) ||
      !check_length ("vehicle", vehicle, error))
    return FALSE;

  g_mutex_lock (&self->mutex);
  link = g_hash_table_lookup (self->users, user_id);
  if (link != NULL)
    {
      EvcpUser *old = link->data;

      replace_user (self, link,
                    evcp_user_new (user_id,
                                   name != NULL ? name : old->name,
                                   vehicle != NULL ? vehicle : old->vehicle));
      lru_bump (self, link);
    }
  else
    {
      EvcpUser *user;

      while (self->lru.length >= self->capacity)
        {
          EvcpUser *evicted = g_queue_pop_head (&self->lru);

          EVCP_DEBUG ("User registry full (%u): forgetting user %s",
                   self->capacity, evicted->id);
          g_hash_table_remove (self->users, evicted->id);
          evcp_user_unref (evicted);
        }
      user = evcp_user_new (user_id, name, vehicle);
      g_queue_push_tail (&self->lru, user);
      g_hash_table_insert (self->users, (gpointer) user->id, self->lru.tail);
    }
  g_mutex_unlock (&self->mutex);

  g_signal_emit (self, signals[SIGNAL_USER_UPDATED], 0, user_id);
  return TRUE;
}

/**
 * evcp_user_registry_lookup:
 *
 * Returns: (transfer full) (nullable): what is known about @user_id, or
 *   %NULL if the user is unknown; does not count as seeing the user
 */
EvcpUser *
evcp_user_registry_lookup (EvcpUserRegistry *self, const gchar *user_id)
{
  GList *link;
  EvcpUser *user = NULL;

  g_return_val_if_fail (EVCP_IS_USER_REGISTRY (self), NULL);
  g_return_val_if_fail (user_id != NULL, NULL);

  g_mutex_lock (&self->mutex);
  link = g_hash_table_lookup (self->users, user_id);
  if (link != NULL)
    user = evcp_user_ref (link->data);
  g_mutex_unlock (&self->mutex);
  return user;
}

/**
 * evcp_user_registry_touch:
 *
 * Marks a known user as seen now (for example when it sends a request), so
 * that it is not the next one forgotten. Unknown users are not added.
 *
 * Returns: (transfer full) (nullable): what is known about @user_id, or
 *   %NULL if the user is unknown
 */
EvcpUser *
evcp_user_registry_touch (EvcpUserRegistry *self, const gchar *user_id)
{
  GList *link;
  EvcpUser *user = NULL;

  g_return_val_if_fail (EVCP_IS_USER_REGISTRY (self), NULL);
  g_return_val_if_fail (user_id != NULL, NULL);

  g_mutex_lock (&self->mutex);
  link = g_hash_table_lookup (self->users, user_id);
  if (link != NULL)
    {
      EvcpUser *old = link->data;

      user = evcp_user_new (old->id, old->name, old->vehicle);
      replace_user (self, link, evcp_user_ref (user));
      lru_bump (self, link);
    }
  g_mutex_unlock (&self->mutex);
  return user;
}

guint
evcp_user_registry_get_count (EvcpUserRegistry *self)
{
  guint count;

  g_return_val_if_fail (EVCP_IS_USER_REGISTRY (self), 0);

  g_mutex_lock (&self->mutex);
  count = self->lru.length;
  g_mutex_unlock (&self->mutex);
  return count;
}

guint
evcp_user_registry_get_capacity (EvcpUserRegistry *self)
{
  g_return_val_if_fail (EVCP_IS_USER_REGISTRY (self), 0);
  return self->capacity;
}
