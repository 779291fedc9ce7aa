/*
 * tmpdb.h - a fresh, migrated database for the unit tests of src/db/ and of the modules
 * that store through it (tests/unit/resource/): a temporary SQLite file, or with
 * JWTD_TEST_PG=1 a fresh database on the test PostgreSQL server (pgtest.h), so the same
 * tests run on both backends. Plus the users and sessions most tests start from.
 */
#ifndef JWTD_TEST_TMPDB_H
#define JWTD_TEST_TMPDB_H

#include <stdbool.h>
#include <stdint.h>

#include "db/db.h"

struct tmpdb {
    char dir[64];
    char path[128];
    char url[320];
    db_t *db;
    bool pg; /* JWTD_TEST_PG=1 */
};

/* Opens a fresh database migrated to version. Returns 0, or an error (printed). */
int tmpdb_open_at(struct tmpdb *t, int version);
/* Opens a fresh database migrated to the latest version. */
int tmpdb_open(struct tmpdb *t);
/* Closes the database and removes it (file or PostgreSQL database). */
void tmpdb_close(struct tmpdb *t);
/* Creates an active user (password hash "x", created at 1000). Returns its id, or -1. */
int64_t tmpdb_mkuser(db_t *db, const char *name, const char *email);
/* Logs user uid in at now: session sid with its first refresh token jti expiring at exp. */
int tmpdb_mksession(db_t *db, int64_t uid, const char *sid, const char *jti, int64_t now,
                    int64_t exp);

#endif
