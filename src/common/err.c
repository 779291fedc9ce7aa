/*
 * err.c - tables expanded from ERR_MAP (see err.h). Nothing else lives here.
 */
#include "common/err.h"

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

/* See err.h. */
const char *err_name(int err)
{
    const struct err_row *r = row_of(err);
    if (err == 0)
        return "ok";
    return r ? r->name : "unknown";
}

/* See err.h. */
const char *err_message(int err)
{
    const struct err_row *r = row_of(err);
    if (err == 0)
        return "OK";
    return r ? r->message : "A server error occurred.";
}

/* See err.h. */
int err_http_status(int err)
{
    const struct err_row *r = row_of(err);
    if (err == 0)
        return 200;
    return r ? r->status : 500;
}
