/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "evcp-message-handler.h"
#include "evcp-user-registry.h"

G_BEGIN_DECLS

#define EVCP_USER_INFO_HANDLER_NAME "user-info"
#define EVCP_USER_INFO_KIND         "USER_INFO"

#define EVCP_TYPE_USER_INFO_HANDLER (evcp_user_info_handler_get_type ())
G_DECLARE_FINAL_TYPE (EvcpUserInfoHandler, evcp_user_info_handler, EVCP, USER_INFO_HANDLER, GObject)

EvcpUserInfoHandler *evcp_user_info_handler_new          (EvcpUserRegistry    *registry);
EvcpUserRegistry    *evcp_user_info_handler_get_registry (EvcpUserInfoHandler *self);

G_END_DECLS
