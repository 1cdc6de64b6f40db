/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * Translations (docs/translations.md). Every program calls
 * evcp_i18n_init() first: the locale of the environment, and the catalogs
 * of the install's localedir, or of $EVCP_LOCALEDIR when it is set (the
 * tests point it at the build tree's po/, where meson builds
 * LANG/LC_MESSAGES/evcp.mo).
 *
 * The services (evcp-engine, evcp-monitor) then call
 * evcp_i18n_untranslated() once their options are parsed: from then on
 * they speak English whatever the locale (their logs, their D-Bus errors,
 * and every text they put into Kafka records and Central's frames), so that
 * what machines read never changes with the locale. evcpctl translates the
 * D-Bus errors it shows.
 */
void evcp_i18n_init (void);
void evcp_i18n_untranslated (void);
const gchar *evcp_i18n_localedir (void);

G_END_DECLS
