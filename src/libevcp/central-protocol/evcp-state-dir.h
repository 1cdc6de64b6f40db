/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * EvcpStateDir: the directory where a program (the Engine, the Monitor)
 * keeps the state of one charging point (outbox, session, sequence
 * numbers), held by one process at a time.
 *
 * - Where: the configured state-dir as it is; else the program's default
 *   (evcp_platform_default_state_dir(): $STATE_DIRECTORY, /var/lib/evcp/<program>
 *   as root, ~/.local/state/evcp/<program>) keyed by the CP id:
 *   <default>/<cp-id>, the CP id escaped for a file name (bytes other than
 *   ASCII letters, digits, '-', '_' and a '.' not in first place become
 *   %XX).
 * - One process: a lock on the file "lock" in it, held until
 *   evcp_state_dir_free() or the end of the process; a second process is
 *   refused (EVCP_ERROR_REFUSED), its message naming the holder's pid.
 * - One CP: the file "cp-id" holds the CP id the state belongs to, written
 *   on first use; another CP id is refused (EVCP_ERROR_CONFIG), nothing
 *   changed or deleted. State from before that file (an older version) is
 *   this CP's unless its outbox holds an event of another CP.
 * - The old default (<default> itself, before the CP id keyed it): if it
 *   holds state (outbox.json or session.json) that is this CP's and the
 *   new directory has no outbox yet, its files are moved into the new one
 *   (the outbox last, none overwritten), once, logged; another CP's are
 *   left where they are (that CP takes them when it starts).
 */
typedef struct _EvcpStateDir EvcpStateDir;

EvcpStateDir *evcp_state_dir_open     (const gchar   *configured,
                                       const gchar   *program,
                                       const gchar   *cp_id,
                                       GError       **error);
const gchar  *evcp_state_dir_get_path (EvcpStateDir  *self);
void          evcp_state_dir_free     (EvcpStateDir  *self);

/* (transfer full): <default of @program>/<escaped @cp_id> */
gchar        *evcp_state_dir_default  (const gchar   *program,
                                       const gchar   *cp_id) G_GNUC_WARN_UNUSED_RESULT;
/* The directory evcp_state_dir_open() would use: @configured, else the
 * default; NULL without a CP id (transfer full). */
gchar *evcp_state_dir_path (const gchar *configured, const gchar *program,
                            const gchar *cp_id) G_GNUC_WARN_UNUSED_RESULT;

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EvcpStateDir, evcp_state_dir_free)

G_END_DECLS
