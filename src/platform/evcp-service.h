/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Force-included (-include) into a program's main source on Windows, which
 * is compiled with -Dmain=evcp_service_program_main: src/platform/evcp-service.c
 * holds the real main(), the Service Control Manager's entry point, and runs
 * the program's own main as the service or, when the SCM did not start it,
 * in the console. */

int evcp_service_program_main (int argc, char **argv);
