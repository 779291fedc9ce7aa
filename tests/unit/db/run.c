/*
 * Unit tests for src/db/run.c, the statement runner, through its public face (db.h
 * "statements of other modules"): the error mapping of constraint violations, missing rows,
 * bad and missing statement text; rows handed to callbacks (all, the first, a callback
 * stopping the statement); transactions committing, and rolling back when a statement
 * fails midway or the body fails. With JWTD_TEST_PG=1 they run on PostgreSQL (tmpdb.h).
 */
#include "test.h"

#include <stdio.h>
#include <stdlib.h>

#include "common/err.h"
#include "db/db.h"
#include "db/tmpdb.h"

static const db_stmt_def_t insert_user = {
    .name = "t_insert_user",
    .sql = "INSERT INTO users (username, role, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)"};
static const db_stmt_def_t insert_session = {
    .name = "t_insert_session",
    .sql = "INSERT INTO sessions (id, user_id, created_at, last_used_at) VALUES (?1, ?2, 0, 0)"};
static const db_stmt_def_t select_users = {
    .name = "t_select_users",
    .sql = "SELECT username, last_login, premium, created_at FROM users ORDER BY id"};
static const db_stmt_def_t user_by_name = {.name = "t_user_by_name",
                                           .sql = "SELECT id FROM users WHERE username = ?1"};
static const db_stmt_def_t count_users = {.name = "t_count_users",
                                          .sql = "SELECT count(*) FROM users"};
static const db_stmt_def_t bad_sql = {.name = "t_bad_sql", .sql = "SELEC 1"};
static const db_stmt_def_t no_text = {.name = "t_no_text"};
/* The same statement spelled per backend: each returns which text ran. */
static const db_stmt_def_t per_backend = {
    .name = "t_per_backend", .sqlite = "SELECT 'sqlite'", .pg = "SELECT 'postgresql'"};

static int64_t count(db_t *db)
{
    int64_t n = -1;
    if (db_query_one(db, &count_users, NULL, 0, db_row_read_int, &n) != 0)
        return -1;
    return n;
}

static int add_user(db_t *db, const char *name, const char *role)
{
    db_param_t p[] = {db_text(name), db_text(role), db_int(1000)};
    return db_exec(db, &insert_user, p, DB_NPARAMS(p), NULL);
}

/* Copies column 0's text into the char[16] arg. */
static int on_name_row(void *arg, const db_row_t *row)
{
    size_t len = 0;
    const char *t = db_row_text(row, 0, &len);
    snprintf(arg, 16, "%.*s", (int)len, t ? t : "");
    return 0;
}

TEST(db_run_error_mapping)
{
    struct tmpdb t;
    ASSERT_EQ_INT(tmpdb_open(&t), 0);
    int64_t changed = 0;
    db_param_t p[] = {db_text("alice"), db_text("user"), db_int(1000)};
    CHECK_EQ_INT(db_exec(t.db, &insert_user, p, DB_NPARAMS(p), &changed), 0);
    CHECK_EQ_INT(changed, 1);
    /* unique violation */
    CHECK_EQ_INT(add_user(t.db, "alice", "user"), ERR_CONFLICT);
    /* CHECK violation */
    CHECK_EQ_INT(add_user(t.db, "bob", "root"), ERR_INVALID);
    /* foreign-key violation, and no row for a query_one */
    db_param_t s[] = {db_text("s1"), db_int(999)};
    CHECK_EQ_INT(db_exec(t.db, &insert_session, s, DB_NPARAMS(s), NULL), ERR_NOT_FOUND);
    int64_t id = 0;
    db_param_t k[] = {db_text("nobody")};
    CHECK_EQ_INT(db_query_one(t.db, &user_by_name, k, DB_NPARAMS(k), db_row_read_int, &id),
                 ERR_NOT_FOUND);
    /* a statement the backend refuses, a statement without text for it */
    CHECK_EQ_INT(db_query(t.db, &bad_sql, NULL, 0, NULL, NULL), ERR_INTERNAL);
    CHECK_EQ_INT(db_exec(t.db, &no_text, NULL, 0, NULL), ERR_INTERNAL);
    /* the connections are still good after every failure */
    CHECK_EQ_INT(db_ping(t.db), 0);
    CHECK_EQ_INT(count(t.db), 1);
    /* a backend's own text runs on that backend */
    char which[16] = "";
    CHECK_EQ_INT(db_query_one(t.db, &per_backend, NULL, 0, on_name_row, which), 0);
    CHECK_STR_EQ(which, db_backend_name(t.db));
    tmpdb_close(&t);
}

struct rows {
    int n;
    char names[4][16];
    int64_t last_login[4], premium[4], created_at[4];
    bool null_login[4];
    int stop_at; /* return ERR_INVALID at this row (0 = never) */
};

static int on_user_row(void *arg, const db_row_t *row)
{
    struct rows *r = arg;
    if (r->stop_at && r->n + 1 == r->stop_at)
        return ERR_INVALID;
    if (r->n < 4) {
        char *name = db_row_strdup(row, 0);
        snprintf(r->names[r->n], sizeof r->names[r->n], "%s", name);
        free(name);
        r->null_login[r->n] = db_row_is_null(row, 1);
        r->last_login[r->n] = db_row_int(row, 1);
        r->premium[r->n] = db_row_int(row, 2);
        r->created_at[r->n] = db_row_int(row, 3);
    }
    r->n++;
    return 0;
}

static int on_text_row(void *arg, const db_row_t *row)
{
    size_t len = 99;
    const char *t = db_row_text(row, 0, &len);
    char *copy = db_row_strdup(row, 0);
    *(int *)arg = t == NULL && len == 0 && copy[0] == '\0';
    free(copy);
    return 0;
}

TEST(db_run_rows_reach_the_callback)
{
    struct tmpdb t;
    ASSERT_EQ_INT(tmpdb_open(&t), 0);
    ASSERT_EQ_INT(add_user(t.db, "ann", "user"), 0);
    ASSERT_EQ_INT(add_user(t.db, "ben", "admin"), 0);
    ASSERT_EQ_INT(add_user(t.db, "cid", "user"), 0);
    int64_t ben = 0;
    db_param_t k[] = {db_text("ben")};
    ASSERT_EQ_INT(db_query_one(t.db, &user_by_name, k, DB_NPARAMS(k), db_row_read_int, &ben), 0);
    ASSERT_EQ_INT(db_user_set_last_login(t.db, ben, 4242), 0);

    struct rows r = {0};
    CHECK_EQ_INT(db_query(t.db, &select_users, NULL, 0, on_user_row, &r), 0);
    CHECK_EQ_INT(r.n, 3);
    CHECK_STR_EQ(r.names[0], "ann");
    CHECK_STR_EQ(r.names[2], "cid");
    CHECK_TRUE(r.null_login[0] && r.last_login[0] == 0); /* NULL reads as 0 */
    CHECK_TRUE(!r.null_login[1] && r.last_login[1] == 4242);
    CHECK_EQ_INT(r.premium[0], 0); /* a boolean column as 0/1 on both backends */
    CHECK_EQ_INT(r.created_at[1], 1000);

    /* the first row only */
    struct rows one = {0};
    CHECK_EQ_INT(db_query_one(t.db, &select_users, NULL, 0, on_user_row, &one), 0);
    CHECK_EQ_INT(one.n, 1);
    CHECK_STR_EQ(one.names[0], "ann");

    /* a callback's error stops the statement and is the call's result */
    struct rows stop = {.stop_at = 2};
    CHECK_EQ_INT(db_query(t.db, &select_users, NULL, 0, on_user_row, &stop), ERR_INVALID);
    CHECK_EQ_INT(stop.n, 1);

    /* SQL NULL text: NULL from db_row_text, "" from db_row_strdup */
    static const db_stmt_def_t null_text = {.name = "t_null_text",
                                            .sql = "SELECT parent_jti FROM refresh_tokens "
                                                   "UNION ALL SELECT NULL"};
    int is_null = 0;
    CHECK_EQ_INT(db_query_one(t.db, &null_text, NULL, 0, on_text_row, &is_null), 0);
    CHECK_TRUE(is_null);
    tmpdb_close(&t);
}

struct tx_args {
    const char *first, *second; /* usernames to insert, in order */
    int fail_after;             /* the body's own error after its statements (0 = none) */
};

static int insert_two(db_tx_t *tx, void *arg)
{
    const struct tx_args *a = arg;
    db_param_t p[] = {db_text(a->first), db_text("user"), db_int(1000)};
    int rc = db_tx_exec(tx, &insert_user, p, DB_NPARAMS(p), NULL);
    if (rc == 0) {
        db_param_t q[] = {db_text(a->second), db_text("user"), db_int(1000)};
        rc = db_tx_exec(tx, &insert_user, q, DB_NPARAMS(q), NULL);
    }
    if (rc == 0) {
        /* both rows are visible inside the transaction */
        int64_t n = 0;
        rc = db_tx_query_one(tx, &count_users, NULL, 0, db_row_read_int, &n);
        if (rc == 0 && n != 2)
            rc = ERR_INTERNAL;
    }
    return rc == 0 ? a->fail_after : rc;
}

TEST(db_run_transaction_commits_or_rolls_back)
{
    struct tmpdb t;
    ASSERT_EQ_INT(tmpdb_open(&t), 0);
    /* the second statement fails (duplicate): the first is rolled back with it */
    struct tx_args dup = {"ann", "ann", 0};
    CHECK_EQ_INT(db_transact(t.db, insert_two, &dup), ERR_CONFLICT);
    CHECK_EQ_INT(count(t.db), 0);
    /* the body fails after its statements succeeded: nothing is kept either */
    struct tx_args late = {"ann", "ben", ERR_INVALID};
    CHECK_EQ_INT(db_transact(t.db, insert_two, &late), ERR_INVALID);
    CHECK_EQ_INT(count(t.db), 0);
    /* and a body that succeeds commits both */
    struct tx_args ok = {"ann", "ben", 0};
    CHECK_EQ_INT(db_transact(t.db, insert_two, &ok), 0);
    CHECK_EQ_INT(count(t.db), 2);
    /* the pool is healthy after the failed transactions */
    CHECK_EQ_INT(db_ping(t.db), 0);
    tmpdb_close(&t);
}
