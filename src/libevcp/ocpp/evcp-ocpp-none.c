/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A build without libsoup (Windows, win32/build-deps builds none): the same
 * API, without an OCPP link. */
#define G_LOG_DOMAIN "evcp-ocpp"

#include "evcp-build-config.h"

#include <glib/gi18n-lib.h>

#include "evcp-ocpp-charge-point.h"

EvcpOcppChargePoint *
evcp_ocpp_charge_point_new (EvcpEngine *engine)
{
  EvcpConfig *config = evcp_engine_get_config (engine);

  if (config->ocpp_url != NULL && *config->ocpp_url != '\0')
    g_warning (_("[ocpp] url is set, but this build has no OCPP link (no libsoup 3): ignored"));
  return NULL;
}

void
evcp_ocpp_charge_point_start (EvcpOcppChargePoint *self)
{
}

void
evcp_ocpp_charge_point_stop (EvcpOcppChargePoint *self)
{
}

const gchar *
evcp_ocpp_charge_point_get_state (EvcpOcppChargePoint *self)
{
  return "STOPPED";
}

const gchar *
evcp_ocpp_charge_point_get_error (EvcpOcppChargePoint *self)
{
  return "";
}

void
evcp_ocpp_charge_point_metrics (EvcpOcppChargePoint *self, GString *out)
{
}
