/*
 * pgtest.h - a real PostgreSQL server for the db unit tests (tests/unit/db/db_pg.c).
 *
 * The first call starts one throwaway server for the whole test process with
 * tests/pg/pg-server (initdb + pg_ctl into a temp dir, 127.0.0.1, a free port, run as the
 * `postgres` user when the tests run as root) and stops it at exit. Tests run from the
 * repository root (as `make unit` does).
 */
#ifndef JWTD_TEST_PGTEST_H
#define JWTD_TEST_PGTEST_H

#include <stdbool.h>
#include <stddef.h>

/* Whether the PostgreSQL server binaries are installed (tests skip cleanly when not). */
bool pgtest_available(void);
/*
 * Creates a fresh, empty database on the shared server and writes its URL (with
 * ?synchronous=off) into url. Returns 0, or -1 when no server could be started.
 */
int pgtest_create_db(char *url, size_t cap);
/* Drops a database made by pgtest_create_db (closes its connections first). */
void pgtest_drop_db(const char *url);
/* Stops the shared server keeping its data (halt), or starts it again on the same port. */
int pgtest_halt(void);
int pgtest_resume(void);
/* The maintenance URL of the shared server ("" before it started). */
const char *pgtest_admin_url(void);

#endif
