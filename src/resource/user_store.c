/*
 * user_store.c - the storage of the users API: a user, and pages of users, as API user
 * objects. Pages are computed over the database's keyset pagination (ids ascending),
 * skipping (page - 1) * page_size rows in chunks, so deep pages cost more (the routes bound
 * page * page_size).
 */
#define LOG_MODULE "resource"
#include <inttypes.h>
#include <stdlib.h>

#include "common/err.h"
#include "db/db.h"
#include "resource/resource_internal.h"

#define CHUNK 1000

static void append_user(buf_t *b, const db_user_t *u)
{
    size_t n = 0;
    char *j = auth_user_json(u, &n);
    buf_append(b, j, n);
    free(j);
}

static int map(int rc)
{
    return rc == 0 || rc == ERR_NOT_FOUND ? rc : ERR_UNAVAILABLE;
}

/* See resource_internal.h. */
int resource__user_json(resource_t *res, int64_t id, buf_t *out)
{
    db_user_t u;
    int rc = db_user_find_by_id(res->db, id, &u);
    if (rc == 0)
        append_user(out, &u);
    db_user_dispose(&u);
    return map(rc);
}

/* The id after which the page starts: skips (page - 1) * page_size users. OUT: *after
   (INT64_MAX when the page is past the end). */
static int skip_to_page(resource_t *res, uint64_t skip, int64_t *after)
{
    *after = 0;
    while (skip > 0) {
        uint32_t n = skip > CHUNK ? CHUNK : (uint32_t)skip;
        db_user_list_t l;
        int rc = db_user_list(res->db, *after, n, &l);
        if (rc != 0)
            return rc;
        if (l.count == 0) {
            skip = 0;
            *after = INT64_MAX;
        } else {
            *after = l.items[l.count - 1].id;
            skip -= l.count < n ? skip : l.count;
        }
        db_user_list_dispose(&l);
    }
    return 0;
}

/* See resource_internal.h. */
int resource__users_page(resource_t *res, uint32_t page, uint32_t page_size, buf_t *out)
{
    int64_t after;
    int rc = skip_to_page(res, (uint64_t)(page - 1) * page_size, &after);
    db_user_list_t l = {0};
    if (rc == 0 && after != INT64_MAX)
        rc = db_user_list(res->db, after, page_size, &l);
    if (rc != 0)
        return map(rc);
    buf_append_cstr(out, "{\"items\":[");
    for (size_t i = 0; i < l.count; i++) {
        if (i)
            buf_append_char(out, ',');
        append_user(out, &l.items[i]);
    }
    buf_printf(out, "],\"page\":%u,\"page_size\":%u,\"has_next\":%s}", page, page_size,
               l.count == page_size ? "true" : "false");
    db_user_list_dispose(&l);
    return 0;
}
