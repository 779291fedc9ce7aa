/*
 * errtab.c - the name, message and HTTP status of every error, expanded from ERR_MAP
 * (common/err.h). Nothing else lives here.
 */
#include "runtime/errtab.h"

#include <stddef.h>

struct err_row {
    const char *name;
    const char *message;
    int status;
};

static const struct err_row rows[] = {
#define ERR_ROW_(name, code, status, msg) {code, msg, status},
    ERR_MAP(ERR_ROW_)
#undef ERR_ROW_
};

static const struct err_row *row_of(int err)
{
    if (err <= ERR__FIRST || err >= ERR__LAST)
        return NULL;
    return &rows[err - ERR__FIRST - 1];
}

/* See errtab.h. */
const char *err_name(int err)
{
    const struct err_row *r = row_of(err);
    if (err == 0)
        return "ok";
    return r ? r->name : "unknown";
}

/* See errtab.h. */
const char *err_message(int err)
{
    const struct err_row *r = row_of(err);
    if (err == 0)
        return "OK";
    return r ? r->message : "A server error occurred.";
}

/* See errtab.h. */
int err_http_status(int err)
{
    const struct err_row *r = row_of(err);
    if (err == 0)
        return 200;
    return r ? r->status : 500;
}
