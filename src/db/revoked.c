/*
 * revoked.c - access-token revocations (db.h "access-token revocations"): recording that a
 * jti is revoked and listing the live ones, which the revocation index (src/store/) loads
 * at start. Both are single statements through the runner (run.c); the text is in sql.c.
 * Revoked sessions and user watermarks are sessions.c's and users.c's; deleting expired
 * revocations is flush.c's.
 */
#include "db/db.h"

#include <stdlib.h>

#include "common/err.h"
#include "db/db_internal.h"

/* See db.h. */
void db_revoked_list_dispose(db_revoked_list_t *list)
{
    if (!list)
        return;
    free(list->items);
    list->items = NULL;
    list->count = 0;
}

/* See db.h. */
int db_revoked_insert(db_t *db, const char *jti, int64_t expires_at, int64_t now,
                      const char *reason)
{
    if (!db__valid_id(jti))
        return ERR_INVALID;
    db_param_t p[] = {db_text(jti), db_int(expires_at), db_int(now), db_text(reason)};
    return db_exec(db, DB_SQL(REVOKED_INSERT), p, DB_NPARAMS(p), NULL);
}

static void read_revoked_item(const db_row_t *row, void *item)
{
    db_revoked_t *r = item;
    db__row_id(row, 0, r->jti);
    r->expires_at = db_row_int(row, 1);
}

/* See db.h. */
int db_revoked_list(db_t *db, int64_t now, db_revoked_list_t *list)
{
    db_collect_t rows = {.elem = sizeof *list->items, .read = read_revoked_item};
    db_param_t p[] = {db_int(now)};
    int rc = db_query(db, DB_SQL(REVOKED_LIST), p, DB_NPARAMS(p), db__collect_row, &rows);
    list->items = rows.items;
    list->count = rows.count;
    if (rc != 0)
        db_revoked_list_dispose(list);
    return rc;
}
