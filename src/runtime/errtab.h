/*
 * errtab.h - the server's table of errors: the text and HTTP status of every ERR_* code of
 * common/err.h, expanded from the same ERR_MAP. Part of the server runtime (not libjwtv):
 * only jwtd answers HTTP.
 */
#ifndef JWTD_RUNTIME_ERRTAB_H
#define JWTD_RUNTIME_ERRTAB_H

#include "common/err.h"

/* Short stable name of an error ("token_not_valid"); "ok" for 0, "unknown" otherwise. */
const char *err_name(int err);
/* Default human-readable text for an error, suitable for a `detail` field. */
const char *err_message(int err);
/* HTTP status for an error; 500 for an unknown code, 200 for 0. */
int err_http_status(int err);

#endif
