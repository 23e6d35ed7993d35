/* SPDX-License-Identifier: MIT */
/*
 * tls - everything OpenSSL: certificate files and the toolbox behind
 * `postern certs` / `postern ca`, server and client contexts, handshakes,
 * verification, DANE, and the Postfix-shaped TLS log lines.  No OpenSSL
 * type appears in this header; callers see small postern types.
 */
#ifndef POSTERN_TLS_H
#define POSTERN_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

/* ---- certificate files and toolbox (tls_cert*.c, tls_ca.c) ---- */

/* ---- end certificate files and toolbox ---- */

/* ---- contexts, sessions and handshakes (tls_ctx.c, tls_conn.c) ---- */

/* ---- end contexts, sessions and handshakes ---- */

#endif
