/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* What may stand in one field of a Central frame (docs/protocol.md, "Field
 * values"): UTF-8 without "#" and without control characters (U+0000 to
 * U+001F, U+007F: STX, ETX, EOT, ACK and NAK among them), and at most so
 * many bytes that the longest frame stays far under DATA's 4096 bytes.
 * Values from Kafka, D-Bus, Central and the configuration are checked before
 * they are used; none is cut or changed silently. */
#define EVCP_FIELD_CP_ID_MAX     64    /* CP_ID */
#define EVCP_FIELD_ID_MAX        128   /* a driver (user_id) or a session id */
#define EVCP_FIELD_TEXT_MAX      256   /* a location */

gboolean evcp_frame_field_check (const gchar  *value,
                                 gsize         min_bytes,
                                 gsize         max_bytes,
                                 const gchar  *name,
                                 gint          error_code,
                                 GError      **error);

G_END_DECLS
