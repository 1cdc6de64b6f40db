/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * The charging requests that already had their session, on disk: a request
 * delivered again (consumed but not committed when the Engine died, after a
 * rebalance, read again after an offset was lost) is recognised and not
 * served twice. A request is added when its session has its ticket on disk
 * (the session file holds it until then), one line each, appended and
 * synced; the last @capacity are kept, the file rewritten when it holds
 * twice as many.
 */
typedef struct _EvcpRequestLog EvcpRequestLog;

#define EVCP_REQUEST_LOG_CAPACITY 4096
#define EVCP_REQUEST_ID_MAX       200   /* bytes of an id */

EvcpRequestLog *evcp_request_log_open     (const gchar     *path,
                                           guint            capacity,
                                           GError         **error);
gboolean        evcp_request_log_contains (EvcpRequestLog  *self,
                                           const gchar     *id);
/* durable when it returns TRUE */
gboolean        evcp_request_log_add      (EvcpRequestLog  *self,
                                           const gchar     *id,
                                           GError         **error);
guint           evcp_request_log_get_size (EvcpRequestLog  *self);
void            evcp_request_log_free     (EvcpRequestLog  *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EvcpRequestLog, evcp_request_log_free)

G_END_DECLS
