/*
 * tmpdb.c - the database fixture of the db unit tests (tmpdb.h). No tests of its own.
 */
#include "db/tmpdb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db/pgtest.h"

/* See tmpdb.h. */
int tmpdb_open_at(struct tmpdb *t, int version)
{
    const char *pg = getenv("JWTD_TEST_PG");
    char err[256];
    memset(t, 0, sizeof *t);
    t->pg = pg && strcmp(pg, "1") == 0;
    if (t->pg) {
        if (pgtest_create_db(t->url, sizeof t->url) != 0)
            return -1;
    } else {
        snprintf(t->dir, sizeof t->dir, "/tmp/jwtd-dbtest-XXXXXX");
        if (!mkdtemp(t->dir))
            return -1;
        snprintf(t->path, sizeof t->path, "%s/t.db", t->dir);
        snprintf(t->url, sizeof t->url, "sqlite:%s?synchronous=off", t->path);
    }
    int rc = db_open(t->url, NULL, &t->db, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "db_open: %s\n", err);
        return rc;
    }
    return db_migrate_to(t->db, version, NULL);
}

/* See tmpdb.h. */
int tmpdb_open(struct tmpdb *t)
{
    return tmpdb_open_at(t, db_schema_latest());
}

/* See tmpdb.h. */
void tmpdb_close(struct tmpdb *t)
{
    char p[200];
    db_close(t->db);
    t->db = NULL;
    if (t->pg) {
        pgtest_drop_db(t->url);
        return;
    }
    const char *suffixes[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", t->path, suffixes[i]);
        unlink(p);
    }
    rmdir(t->dir);
}

/* See tmpdb.h. */
int64_t tmpdb_mkuser(db_t *db, const char *name, const char *email)
{
    db_user_t u = {0};
    int64_t id = 0;
    u.username = (char *)name;
    u.email = (char *)email;
    u.is_active = true;
    u.password_hash = (char *)"x";
    if (db_user_create(db, &u, 1000, &id) != 0)
        return -1;
    return id;
}

/* See tmpdb.h. */
int tmpdb_mksession(db_t *db, int64_t uid, const char *sid, const char *jti, int64_t now,
                    int64_t exp)
{
    db_session_t s = {0};
    db_refresh_t rt = {0};
    snprintf(s.sid, sizeof s.sid, "%s", sid);
    s.user_id = uid;
    s.client_ip = (char *)"127.0.0.1";
    s.user_agent = (char *)"test\001agent";
    snprintf(rt.jti, sizeof rt.jti, "%s", jti);
    rt.expires_at = exp;
    return db_session_create(db, &s, &rt, now);
}
