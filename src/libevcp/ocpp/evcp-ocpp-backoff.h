/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * The OCPP link's reconnection delay, in ms, after @failures failed attempts
 * in a row (0: the first retry): @min_ms × 2^@failures, at most @max_ms (a
 * @max_ms below @min_ms counts as @min_ms), then drawn from the upper half of
 * that, [d − d/2, d], by @random (any 32 bits, uniform): a fleet that lost
 * its CSMS does not come back in the same second. No overflow, whatever
 * @failures.
 */
guint evcp_ocpp_backoff_ms (guint min_ms, guint max_ms, guint failures, guint32 random);

G_END_DECLS
