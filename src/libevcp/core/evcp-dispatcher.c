/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "evcp-dispatch"

#include "evcp-build-config.h"

#include <string.h>

#include <glib/gi18n-lib.h>

#include "evcp-dispatcher-private.h"
#include "evcp-error.h"
#include "evcp-marshal.h"

#define MAX_KINDS 256
#define MAX_KIND_BYTES 64
#define KIND_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:-"

/* One registration. Shared by every snapshot that lists it; "registered"
 * turns FALSE when it is removed, so that a dispatch in progress stops
 * calling it. */
typedef struct {
  gatomicrefcount     ref;
  EvcpMessageHandler *handler;
  EvcpMessageHandlerInterface *iface;   /* looked up once, not per message */
  gchar              *name;
  gboolean            registered;
  gboolean            enabled;
  guint64             handled;
  guint64             failed;
  guint64             retries;
} Entry;

typedef struct {
  guint64 received;
  guint64 handled;
  guint64 failed;
} KindStats;

/* A message with at least one handler waiting for a retry. */
typedef struct {
  EvcpDispatcher       *self;     /* weak: the dispatcher cancels its ops on dispose */
  EvcpMessage          *message;
  GPtrArray            *retrying; /* of Retry */
  GString              *failures; /* "name: error; …" of final failures */
  guint                 pending;
  gboolean              any_ok;
  EvcpDispatchDoneFunc  done;
  gpointer              user_data;
} Op;

typedef struct {
  Op      *op;
  Entry   *entry;
  guint    attempt;  /* attempts made so far */
  GSource *timer;
  GError  *last_error;
} Retry;

struct _EvcpDispatcher
{
  GObject     parent_instance;

  GPtrArray  *entries;   /* of Entry; replaced, never mutated (copy on write) */
  GHashTable *kinds;     /* kind -> KindStats */
  GPtrArray  *ops;       /* of Op in flight */
  EvcpDispatchHandledHook handled_hook;
  gpointer    handled_hook_data;
  guint       attempts;
  guint       backoff_ms;
  guint       backoff_max_ms;
  gboolean    in_batch;
  gboolean    want_handled;  /* in a batch: message-handled has listeners */
};

static EvcpHandlerInfo *evcp_handler_info_copy (const EvcpHandlerInfo *info);

G_DEFINE_TYPE (EvcpDispatcher, evcp_dispatcher, G_TYPE_OBJECT)
G_DEFINE_BOXED_TYPE (EvcpHandlerInfo, evcp_handler_info, evcp_handler_info_copy, evcp_handler_info_free)

enum {
  SIGNAL_HANDLER_REGISTERED,
  SIGNAL_HANDLER_UNREGISTERED,
  SIGNAL_MESSAGE_HANDLED,
  SIGNAL_HANDLER_FAILED,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

static EvcpHandlerInfo *
evcp_handler_info_copy (const EvcpHandlerInfo *info)
{
  EvcpHandlerInfo *copy = g_new (EvcpHandlerInfo, 1);

  *copy = *info;
  copy->name = g_strdup (info->name);
  return copy;
}

void
evcp_handler_info_free (EvcpHandlerInfo *info)
{
  if (info == NULL)
    return;
  g_free (info->name);
  g_free (info);
}

static Entry *
entry_ref (Entry *entry)
{
  g_atomic_ref_count_inc (&entry->ref);
  return entry;
}

static void
entry_unref (Entry *entry)
{
  if (!g_atomic_ref_count_dec (&entry->ref))
    return;
  g_object_unref (entry->handler);
  g_free (entry->name);
  g_free (entry);
}

static GPtrArray *
entries_copy (GPtrArray *entries)
{
  GPtrArray *copy = g_ptr_array_new_full (entries->len + 1, (GDestroyNotify) entry_unref);

  for (guint i = 0; i < entries->len; i++)
    g_ptr_array_add (copy, entry_ref (g_ptr_array_index (entries, i)));
  return copy;
}

static Entry *
find_entry (EvcpDispatcher *self, const gchar *name, guint *index)
{
  for (guint i = 0; i < self->entries->len; i++)
    {
      Entry *entry = g_ptr_array_index (self->entries, i);

      if (g_strcmp0 (entry->name, name) == 0)
        {
          if (index != NULL)
            *index = i;
          return entry;
        }
    }
  return NULL;
}

static KindStats *
kind_stats (EvcpDispatcher *self, const gchar *kind)
{
  KindStats *stats = g_hash_table_lookup (self->kinds, kind);

  if (stats != NULL)
    return stats;
  /* bounded in number and size: a kind is whatever a producer wrote (a
   * 500 KB one, 100,000 distinct ones), and each becomes a metric label */
  if (g_hash_table_size (self->kinds) >= MAX_KINDS || strlen (kind) > MAX_KIND_BYTES ||
      kind[strspn (kind, KIND_CHARS)] != '\0')
    kind = "(other)";
  stats = g_hash_table_lookup (self->kinds, kind);
  if (stats == NULL)
    {
      stats = g_new0 (KindStats, 1);
      g_hash_table_insert (self->kinds, g_strdup (kind), stats);
    }
  return stats;
}

static void
retry_free (Retry *retry)
{
  if (retry->timer != NULL)
    {
      g_source_destroy (retry->timer);
      g_source_unref (retry->timer);
    }
  g_clear_error (&retry->last_error);
  entry_unref (retry->entry);
  g_free (retry);
}

static void
op_free (Op *op)
{
  g_clear_pointer (&op->retrying, g_ptr_array_unref);
  g_string_free (op->failures, TRUE);
  evcp_message_unref (op->message);
  g_free (op);
}

static void
record_failure (GString *failures, Entry *entry, const GError *error)
{
  if (failures->len > 0)
    g_string_append (failures, "; ");
  g_string_append_printf (failures, "%s: %s", entry->name, error->message);
}

static void
finish (EvcpDispatcher        *self,
        EvcpMessage           *message,
        KindStats             *stats,
        gboolean               any_accepted,
        gboolean               any_failed,
        const gchar           *failures,
        EvcpDispatchDoneFunc   done,
        gpointer               user_data)
{
  g_autoptr(GError) error = NULL;

  if (!any_accepted)
    {
      stats->failed++;
      g_set_error (&error, EVCP_ERROR, EVCP_ERROR_NO_HANDLER,
                   _("No enabled handler accepts messages of kind %s"),
                   evcp_message_get_kind (message));
    }
  else if (any_failed)
    {
      stats->failed++;
      g_set_error (&error, EVCP_ERROR, EVCP_ERROR_HANDLER_FAILED,
                   _("Handler failure: %s"), failures);
    }
  else
    stats->handled++;
  done (self, message, error, user_data);
}

static void
handled (EvcpDispatcher *self, EvcpMessage *message, const gchar *name, gboolean ok)
{
  if (self->handled_hook != NULL)
    self->handled_hook (message, name, ok, self->handled_hook_data);
  if (self->in_batch ? self->want_handled :
      g_signal_has_handler_pending (self, signals[SIGNAL_MESSAGE_HANDLED], 0, TRUE))
    g_signal_emit (self, signals[SIGNAL_MESSAGE_HANDLED], 0, message, name, ok);
}

void
evcp_dispatcher_begin_batch (EvcpDispatcher *self)
{
  g_return_if_fail (EVCP_IS_DISPATCHER (self));
  self->want_handled = g_signal_has_handler_pending (self, signals[SIGNAL_MESSAGE_HANDLED], 0, TRUE);
  self->in_batch = TRUE;
}

void
evcp_dispatcher_end_batch (EvcpDispatcher *self)
{
  g_return_if_fail (EVCP_IS_DISPATCHER (self));
  self->in_batch = FALSE;
}

void
evcp_dispatcher_set_handled_hook (EvcpDispatcher          *self,
                                  EvcpDispatchHandledHook  hook,
                                  gpointer                 user_data)
{
  g_return_if_fail (EVCP_IS_DISPATCHER (self));
  self->handled_hook = hook;
  self->handled_hook_data = user_data;
}

/* evcp_message_handler_handle() without its checks and look-up, which
 * evcp_dispatcher_register() did once. */
static gboolean
entry_handle (Entry *entry, EvcpMessage *message, GError **error)
{
  if (entry->iface->handle (entry->handler, message, error))
    return TRUE;
  /* A handler that fails without saying why still fails, cleanly. */
  if (*error == NULL)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                 "handler %s failed without an error", entry->name);
  return FALSE;
}

/* Calls the handler once; TRUE when the outcome is final. */
static gboolean
attempt (EvcpDispatcher *self,
         Entry          *entry,
         EvcpMessage    *message,
         guint           attempt_no,
         gboolean       *ok,
         GError        **error)
{
  g_autoptr(GError) local_error = NULL;
  gboolean will_retry;

  if (entry_handle (entry, message, &local_error))
    {
      entry->handled++;
      *ok = TRUE;
      handled (self, message, entry->name, TRUE);
      return TRUE;
    }

  *ok = FALSE;
  will_retry = !evcp_error_is_permanent (local_error) && attempt_no < self->attempts &&
               entry->registered;
  {
    g_autofree gchar *what = evcp_message_describe (message);
    g_autofree gchar *attempt_str = g_strdup_printf ("%u", attempt_no);

    g_log_structured (G_LOG_DOMAIN, will_retry ? G_LOG_LEVEL_INFO : G_LOG_LEVEL_WARNING,
                      "EVCP_HANDLER", entry->name,
                      "EVCP_ATTEMPT", attempt_str,
                      "MESSAGE", "Handler %s failed on %s (attempt %u of %u%s): %s",
                      entry->name, what, attempt_no, self->attempts,
                      will_retry ? ", will retry" : "", local_error->message);
  }
  g_signal_emit (self, signals[SIGNAL_HANDLER_FAILED], 0, message, entry->name,
                 local_error, attempt_no, will_retry);
  if (will_retry)
    {
      entry->retries++;
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  entry->failed++;
  handled (self, message, entry->name, FALSE);
  g_propagate_error (error, g_steal_pointer (&local_error));
  return TRUE;
}

static void op_settle (Op *op);
static void schedule_retry (Retry *retry);

static gboolean
retry_cb (gpointer user_data)
{
  Retry *retry = user_data;
  Op *op = retry->op;
  g_autoptr(GError) error = NULL;
  gboolean ok = FALSE;
  gboolean final;

  g_clear_pointer (&retry->timer, g_source_unref);
  retry->attempt++;

  if (!retry->entry->registered || !retry->entry->enabled)
    {
      g_set_error (&error, EVCP_ERROR, EVCP_ERROR_HANDLER_FAILED,
                   _("handler was removed or disabled before a retry succeeded (last error: %s)"),
                   retry->last_error->message);
      retry->entry->failed++;
      final = TRUE;
    }
  else
    final = attempt (op->self, retry->entry, op->message, retry->attempt, &ok, &error);

  if (!final)
    {
      g_clear_error (&retry->last_error);
      retry->last_error = g_steal_pointer (&error);
      schedule_retry (retry);
      return G_SOURCE_REMOVE;
    }
  if (ok)
    op->any_ok = TRUE;
  else
    record_failure (op->failures, retry->entry, error);
  op->pending--;
  op_settle (op);
  return G_SOURCE_REMOVE;
}

static void
schedule_retry (Retry *retry)
{
  EvcpDispatcher *self = retry->op->self;
  guint64 delay = self->backoff_ms;

  for (guint i = 1; i < retry->attempt && delay < self->backoff_max_ms; i++)
    delay *= 2;
  delay = MIN (delay, self->backoff_max_ms);

  retry->timer = g_timeout_source_new ((guint) delay);
  g_source_set_callback (retry->timer, retry_cb, retry, NULL);
  g_source_set_static_name (retry->timer, "[evcp] handler retry");
  g_source_attach (retry->timer, g_main_context_get_thread_default ());
}

static void
op_settle (Op *op)
{
  EvcpDispatcher *self = op->self;

  if (op->pending > 0)
    return;
  g_ptr_array_remove_fast (self->ops, op);
  finish (self, op->message, kind_stats (self, evcp_message_get_kind (op->message)),
          TRUE, op->failures->len > 0, op->failures->str, op->done, op->user_data);
  op_free (op);
}

/**
 * evcp_dispatcher_dispatch:
 *
 * Offers @message to every registered, enabled handler in registration
 * order; each that can handle it is called. A handler's failure never stops
 * the others: a transient one is retried with exponential backoff (on the
 * thread-default main context) up to the attempt limit. A handler
 * registered while this runs sees the next message; one unregistered or
 * disabled while this runs is not called again.
 */
void
evcp_dispatcher_dispatch (EvcpDispatcher       *self,
                          EvcpMessage          *message,
                          EvcpDispatchDoneFunc  done,
                          gpointer              user_data)
{
  g_autoptr(GPtrArray) snapshot = NULL;
  g_autoptr(GString) failures = NULL;
  gboolean any_accepted = FALSE;
  KindStats *stats;
  Op *op = NULL;

  g_return_if_fail (EVCP_IS_DISPATCHER (self));
  g_return_if_fail (message != NULL && evcp_message_is_parsed (message));
  g_return_if_fail (done != NULL);

  stats = kind_stats (self, evcp_message_get_kind (message));
  stats->received++;
  snapshot = g_ptr_array_ref (self->entries);
  for (guint i = 0; i < snapshot->len; i++)
    {
      Entry *entry = g_ptr_array_index (snapshot, i);
      g_autoptr(GError) error = NULL;
      gboolean ok = FALSE;

      if (!entry->registered || !entry->enabled ||
          !entry->iface->can_handle (entry->handler, message))
        continue;
      any_accepted = TRUE;
      if (attempt (self, entry, message, 1, &ok, &error))
        {
          if (!ok)
            {
              if (failures == NULL)
                failures = g_string_new (NULL);
              record_failure (failures, entry, error);
            }
          continue;
        }

      /* transient failure: this handler gets its retries later */
      if (op == NULL)
        {
          op = g_new0 (Op, 1);
          op->self = self;
          op->message = evcp_message_ref (message);
          op->retrying = g_ptr_array_new_with_free_func ((GDestroyNotify) retry_free);
          op->failures = g_string_new (NULL);
          op->done = done;
          op->user_data = user_data;
        }
      {
        Retry *retry = g_new0 (Retry, 1);

        retry->op = op;
        retry->entry = entry_ref (entry);
        retry->attempt = 1;
        retry->last_error = g_steal_pointer (&error);
        g_ptr_array_add (op->retrying, retry);
        op->pending++;
      }
    }

  if (op == NULL)
    {
      finish (self, message, stats, any_accepted, failures != NULL,
              failures != NULL ? failures->str : NULL, done, user_data);
      return;
    }

  if (failures != NULL)
    g_string_append (op->failures, failures->str);
  g_ptr_array_add (self->ops, op);
  for (guint i = 0; i < op->retrying->len; i++)
    schedule_retry (g_ptr_array_index (op->retrying, i));
}

guint
evcp_dispatcher_get_in_flight (EvcpDispatcher *self)
{
  g_return_val_if_fail (EVCP_IS_DISPATCHER (self), 0);
  return self->ops->len;
}

/**
 * evcp_dispatcher_cancel_all:
 *
 * Abandons every pending retry (at shutdown): each such message completes
 * with %EVCP_ERROR_CANCELLED so that its offset is not committed and it is
 * delivered again after a restart.
 */
void
evcp_dispatcher_cancel_all (EvcpDispatcher *self)
{
  g_return_if_fail (EVCP_IS_DISPATCHER (self));

  while (self->ops->len > 0)
    {
      Op *op = g_ptr_array_steal_index_fast (self->ops, self->ops->len - 1);
      g_autoptr(GError) error = g_error_new_literal (EVCP_ERROR, EVCP_ERROR_CANCELLED,
                                                     _("Shutting down before the handlers finished"));

      op->done (self, op->message, error, op->user_data);
      op_free (op);
    }
}

void
evcp_dispatcher_set_retry_policy (EvcpDispatcher *self,
                                  guint           attempts,
                                  guint           backoff_ms,
                                  guint           backoff_max_ms)
{
  g_return_if_fail (EVCP_IS_DISPATCHER (self));
  self->attempts = MAX (attempts, 1);
  self->backoff_ms = MAX (backoff_ms, 1);
  self->backoff_max_ms = MAX (backoff_max_ms, self->backoff_ms);
}

gboolean
evcp_dispatcher_register (EvcpDispatcher      *self,
                          EvcpMessageHandler  *handler,
                          GError             **error)
{
  const gchar *name;
  Entry *entry;
  GPtrArray *copy;

  g_return_val_if_fail (EVCP_IS_DISPATCHER (self), FALSE);
  g_return_val_if_fail (EVCP_IS_MESSAGE_HANDLER (handler), FALSE);

  name = evcp_message_handler_get_name (handler);
  if (name == NULL || *name == '\0')
    {
      g_set_error_literal (error, EVCP_ERROR, EVCP_ERROR_FAILED, _("A handler needs a name"));
      return FALSE;
    }
  if (find_entry (self, name, NULL) != NULL)
    {
      g_set_error (error, EVCP_ERROR, EVCP_ERROR_EXISTS,
                   _("A handler named “%s” is already registered"), name);
      return FALSE;
    }

  if (EVCP_MESSAGE_HANDLER_GET_IFACE (handler)->can_handle == NULL ||
      EVCP_MESSAGE_HANDLER_GET_IFACE (handler)->handle == NULL)
    {
      g_set_error (error, EVCP_ERROR, EVCP_ERROR_FAILED,
                   _("Handler “%s” does not implement can_handle and handle"), name);
      return FALSE;
    }

  entry = g_new0 (Entry, 1);
  g_atomic_ref_count_init (&entry->ref);
  entry->handler = g_object_ref (handler);
  entry->iface = EVCP_MESSAGE_HANDLER_GET_IFACE (handler);
  entry->name = g_strdup (name);
  entry->registered = TRUE;
  entry->enabled = TRUE;

  copy = entries_copy (self->entries);
  g_ptr_array_add (copy, entry);
  g_ptr_array_unref (self->entries);
  self->entries = copy;

  g_debug ("Registered handler %s", name);
  g_signal_emit (self, signals[SIGNAL_HANDLER_REGISTERED], 0, entry->name);
  return TRUE;
}

gboolean
evcp_dispatcher_unregister (EvcpDispatcher  *self,
                            const gchar     *name,
                            GError         **error)
{
  g_autofree gchar *owned_name = NULL;
  GPtrArray *copy;
  Entry *entry;
  guint index = 0;

  g_return_val_if_fail (EVCP_IS_DISPATCHER (self), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);

  entry = find_entry (self, name, &index);
  if (entry == NULL)
    {
      g_set_error (error, EVCP_ERROR, EVCP_ERROR_NOT_FOUND,
                   _("No handler named “%s”"), name);
      return FALSE;
    }
  entry->registered = FALSE;
  owned_name = g_strdup (entry->name);

  copy = entries_copy (self->entries);
  g_ptr_array_remove_index (copy, index);
  g_ptr_array_unref (self->entries);
  self->entries = copy;

  g_debug ("Unregistered handler %s", owned_name);
  g_signal_emit (self, signals[SIGNAL_HANDLER_UNREGISTERED], 0, owned_name);
  return TRUE;
}

gboolean
evcp_dispatcher_set_enabled (EvcpDispatcher  *self,
                             const gchar     *name,
                             gboolean         enabled,
                             GError         **error)
{
  Entry *entry;

  g_return_val_if_fail (EVCP_IS_DISPATCHER (self), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);

  entry = find_entry (self, name, NULL);
  if (entry == NULL)
    {
      g_set_error (error, EVCP_ERROR, EVCP_ERROR_NOT_FOUND,
                   _("No handler named “%s”"), name);
      return FALSE;
    }
  entry->enabled = !!enabled;
  return TRUE;
}

EvcpMessageHandler *
evcp_dispatcher_lookup (EvcpDispatcher *self, const gchar *name)
{
  Entry *entry;

  g_return_val_if_fail (EVCP_IS_DISPATCHER (self), NULL);
  entry = find_entry (self, name, NULL);
  return entry != NULL ? entry->handler : NULL;
}

/**
 * evcp_dispatcher_list_handlers:
 *
 * Returns: (transfer container) (element-type EvcpHandlerInfo): in
 *   registration order
 */
GPtrArray *
evcp_dispatcher_list_handlers (EvcpDispatcher *self)
{
  GPtrArray *list;

  g_return_val_if_fail (EVCP_IS_DISPATCHER (self), NULL);

  list = g_ptr_array_new_with_free_func ((GDestroyNotify) evcp_handler_info_free);
  for (guint i = 0; i < self->entries->len; i++)
    {
      Entry *entry = g_ptr_array_index (self->entries, i);
      EvcpHandlerInfo *info = g_new0 (EvcpHandlerInfo, 1);

      info->name = g_strdup (entry->name);
      info->enabled = entry->enabled;
      info->handled = entry->handled;
      info->failed = entry->failed;
      info->retries = entry->retries;
      g_ptr_array_add (list, info);
    }
  return list;
}

GVariant *
evcp_dispatcher_get_kind_stats (EvcpDispatcher *self)
{
  GVariantBuilder builder;
  GHashTableIter iter;
  gpointer key, value;

  g_return_val_if_fail (EVCP_IS_DISPATCHER (self), NULL);

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a{s(ttt)}"));
  g_hash_table_iter_init (&iter, self->kinds);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      KindStats *stats = value;

      g_variant_builder_add (&builder, "{s(ttt)}", (const gchar *) key,
                             stats->received, stats->handled, stats->failed);
    }
  return g_variant_builder_end (&builder);
}

static void
evcp_dispatcher_dispose (GObject *object)
{
  EvcpDispatcher *self = EVCP_DISPATCHER (object);

  if (self->ops != NULL)
    evcp_dispatcher_cancel_all (self);
  for (guint i = 0; self->entries != NULL && i < self->entries->len; i++)
    ((Entry *) g_ptr_array_index (self->entries, i))->registered = FALSE;
  G_OBJECT_CLASS (evcp_dispatcher_parent_class)->dispose (object);
}

static void
evcp_dispatcher_finalize (GObject *object)
{
  EvcpDispatcher *self = EVCP_DISPATCHER (object);

  g_ptr_array_unref (self->entries);
  g_ptr_array_unref (self->ops);
  g_hash_table_unref (self->kinds);
  G_OBJECT_CLASS (evcp_dispatcher_parent_class)->finalize (object);
}

static void
evcp_dispatcher_class_init (EvcpDispatcherClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = evcp_dispatcher_dispose;
  object_class->finalize = evcp_dispatcher_finalize;

  signals[SIGNAL_HANDLER_REGISTERED] =
    g_signal_new ("handler-registered", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SIGNAL_HANDLER_UNREGISTERED] =
    g_signal_new ("handler-unregistered", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  /**
   * EvcpDispatcher::message-handled:
   * @message: the message
   * @handler: the handler's name
   * @ok: whether that handler finally succeeded
   */
  signals[SIGNAL_MESSAGE_HANDLED] =
    g_signal_new ("message-handled", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, evcp_marshal_VOID__BOXED_STRING_BOOLEAN, G_TYPE_NONE, 3,
                  EVCP_TYPE_MESSAGE, G_TYPE_STRING, G_TYPE_BOOLEAN);
  g_signal_set_va_marshaller (signals[SIGNAL_MESSAGE_HANDLED], G_TYPE_FROM_CLASS (klass),
                              evcp_marshal_VOID__BOXED_STRING_BOOLEANv);
  /**
   * EvcpDispatcher::handler-failed:
   * @message: the message
   * @handler: the handler's name
   * @error: what it said
   * @attempt: the attempt that failed, from 1
   * @will_retry: whether it will be tried again
   */
  signals[SIGNAL_HANDLER_FAILED] =
    g_signal_new ("handler-failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, evcp_marshal_VOID__BOXED_STRING_BOXED_UINT_BOOLEAN, G_TYPE_NONE, 5,
                  EVCP_TYPE_MESSAGE, G_TYPE_STRING, G_TYPE_ERROR, G_TYPE_UINT, G_TYPE_BOOLEAN);
  g_signal_set_va_marshaller (signals[SIGNAL_HANDLER_FAILED], G_TYPE_FROM_CLASS (klass),
                              evcp_marshal_VOID__BOXED_STRING_BOXED_UINT_BOOLEANv);
}

static void
evcp_dispatcher_init (EvcpDispatcher *self)
{
  self->entries = g_ptr_array_new_with_free_func ((GDestroyNotify) entry_unref);
  self->ops = g_ptr_array_new ();
  self->kinds = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->attempts = EVCP_DISPATCHER_DEFAULT_ATTEMPTS;
  self->backoff_ms = EVCP_DISPATCHER_DEFAULT_BACKOFF_MS;
  self->backoff_max_ms = EVCP_DISPATCHER_DEFAULT_BACKOFF_MAX_MS;
}

EvcpDispatcher *
evcp_dispatcher_new (void)
{
  return g_object_new (EVCP_TYPE_DISPATCHER, NULL);
}
