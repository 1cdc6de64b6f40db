/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The evcp plugin SDK: everything a plugin may use, and nothing else
 * (`pkg-config --cflags --libs evcp-plugin`; the rest of libevcp is not
 * exported). README.md, "A handler of your own, without rebuilding the Engine", walks
 * through a plugin; docs/plugins.md explains the SDK.
 */
#include "evcp-error.h"
#include "evcp-message.h"
#include "evcp-message-handler.h"
#include "evcp-callback-handler.h"
#include "evcp-monitor-status.h"
#include "evcp-monitor-alert.h"
#include "evcp-plugin-services.h"
#include "evcp-plugin-entry.h"
