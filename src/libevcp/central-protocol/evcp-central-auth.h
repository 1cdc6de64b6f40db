/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * The proof of a CP's identity at Central (docs/protocol.md, "Extension: a
 * per-CP secret"): Central sends a fresh random nonce in CHALLENGE, the CP
 * answers PROOF with HMAC-SHA256 (secret, "EVCP-AUTH-1" LF nonce LF cp LF
 * role) in lower-case hex. The secret never goes on the wire, and a proof
 * is worth nothing for another nonce: a captured conversation cannot be
 * replayed. Pure code, shared by the client and evcp-central.
 */

/* The mechanism that a CP with a secret names in the sixth field of AUTH. */
#define EVCP_CENTRAL_AUTH_MECHANISM "HMAC-SHA256"
/* Hex digits of a nonce (128 random bits) and of a proof (256 bits). */
#define EVCP_CENTRAL_AUTH_NONCE_LEN 32
#define EVCP_CENTRAL_AUTH_PROOF_LEN 64

/* A fresh nonce from the system's strong random source (GLib's GRand is
 * not one): @error if none can be read. */
gchar    *evcp_central_auth_new_nonce  (GError      **error) G_GNUC_WARN_UNUSED_RESULT;
gchar    *evcp_central_auth_proof      (const gchar  *secret,
                                        const gchar  *nonce,
                                        const gchar  *cp_id,
                                        const gchar  *role) G_GNUC_WARN_UNUSED_RESULT;
/* Whether @proof is the right one, in a time that does not depend on where
 * the two differ. */
gboolean  evcp_central_auth_check      (const gchar  *secret,
                                        const gchar  *nonce,
                                        const gchar  *cp_id,
                                        const gchar  *role,
                                        const gchar  *proof);
/* Compares two strings in a time that depends only on their lengths. */
gboolean  evcp_central_auth_equal      (const gchar  *a,
                                        const gchar  *b);

G_END_DECLS
