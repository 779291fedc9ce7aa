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

static int read_revoked(void *item, const db_row_t *row)
{
    db_revoked_t *r = item;
    db__row_id(row, 0, r->jti);
    r->expires_at = db_row_int(row, 1);
    return 0;
}

static const db_list_def_t REVOKED_ROWS = {sizeof(db_revoked_t), 0, read_revoked, NULL};

/* See db.h. */
void db_revoked_list_dispose(db_revoked_list_t *list)
{
    DB_LIST_RELEASE(&REVOKED_ROWS, list);
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

/* See db.h. */
int db_revoked_list(db_t *db, int64_t now, db_revoked_list_t *list)
{
    db_param_t p[] = {db_int(now)};
    return DB_QUERY_LIST(db, DB_SQL(REVOKED_LIST), p, DB_NPARAMS(p), &REVOKED_ROWS, list);
}
