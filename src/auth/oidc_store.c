/*
 * oidc_store.c - the relying party's tables (created by db's migration 6), through db's
 * statement runner: user_identities (an external account by issuer and subject, linked to
 * a user) and oidc_states (sign-ins in progress, single-use: read and deleted by one
 * statement, so two callbacks with one state cannot both get it).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "auth/oidc_internal.h"
#include "common/err.h"
#include "common/jsonw.h"
#include "runtime/alloc.h"

enum {
    ST_PUT,
    ST_PURGE,
    ST_TAKE,
    ID_FIND,
    ID_ADD,
    ID_TOUCH,
    USER_BY_EMAIL,
    ID_LIST,
    ID_COUNT,
    USER_PASSWORD,
    ID_DELETE,
    OIDC__N
};

/* Parameters -> result columns in each comment. */
static const db_stmt_def_t oidc_sql[OIDC__N] = {
    /* state_hash, provider, bind_hash, nonce, verifier, redirect_uri, next, expires_at */
    [ST_PUT] = {.name = "oidc_state_put",
                .sql = "INSERT INTO oidc_states (state_hash, provider, bind_hash, nonce, "
                       "verifier, redirect_uri, next, expires_at) "
                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"},
    /* now */
    [ST_PURGE] = {.name = "oidc_state_purge",
                  .sql = "DELETE FROM oidc_states WHERE expires_at < ?1"},
    /* state_hash -> provider, bind_hash, nonce, verifier, redirect_uri, next, expires_at */
    [ST_TAKE] = {.name = "oidc_state_take",
                 .sql = "DELETE FROM oidc_states WHERE state_hash = ?1 RETURNING provider, "
                        "bind_hash, nonce, verifier, redirect_uri, next, expires_at"},
    /* issuer, subject -> user_id */
    [ID_FIND] = {.name = "oidc_identity_find",
                 .sql = "SELECT user_id FROM user_identities WHERE issuer = ?1 AND subject = ?2"},
    /* user_id, provider, issuer, subject, email, now */
    [ID_ADD] = {.name = "oidc_identity_add",
                .sql = "INSERT INTO user_identities (user_id, provider, issuer, subject, email, "
                       "created_at, last_login) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)"},
    /* now, issuer, subject */
    [ID_TOUCH] = {.name = "oidc_identity_touch",
                  .sql = "UPDATE user_identities SET last_login = ?1 WHERE issuer = ?2 AND "
                         "subject = ?3"},
    /* email -> id */
    [USER_BY_EMAIL] = {.name = "oidc_user_by_email",
                       .sql = "SELECT id FROM users WHERE email <> '' AND lower(email) = "
                              "lower(CAST(?1 AS TEXT))"},
    /* user_id -> id, provider, email, created_at, last_login */
    [ID_LIST] = {.name = "oidc_identity_list",
                 .sql = "SELECT id, provider, email, created_at, last_login FROM user_identities "
                        "WHERE user_id = ?1 ORDER BY id"},
    /* user_id -> count */
    [ID_COUNT] = {.name = "oidc_identity_count",
                  .sql = "SELECT count(*) FROM user_identities WHERE user_id = ?1"},
    /* user_id -> password */
    [USER_PASSWORD] = {.name = "oidc_user_password",
                       .sql = "SELECT password FROM users WHERE id = ?1"},
    /* id, user_id */
    [ID_DELETE] = {.name = "oidc_identity_delete",
                   .sql = "DELETE FROM user_identities WHERE id = ?1 AND user_id = ?2"},
};

/* See oidc_internal.h. */
void auth__oidc_state_dispose(auth__oidc_state_t *s)
{
    free(s->provider);
    free(s->bind_hash);
    free_secret(s->nonce, s->nonce ? strlen(s->nonce) + 1 : 0);
    free_secret(s->verifier, s->verifier ? strlen(s->verifier) + 1 : 0);
    free(s->redirect_uri);
    free(s->next);
    memset(s, 0, sizeof *s);
}

/* See auth_internal.h. */
int auth__oidc_flush(db_t *db, int64_t now, int64_t *deleted)
{
    db_param_t p[] = {db_int(now)};
    return db_exec(db, &oidc_sql[ST_PURGE], p, DB_NPARAMS(p), deleted);
}

/* See oidc_internal.h. */
int auth__oidc_state_put(db_t *db, const char *state_hash, const auth__oidc_state_t *s, int64_t now)
{
    db_param_t purge[] = {db_int(now)};
    (void)db_exec(db, &oidc_sql[ST_PURGE], purge, DB_NPARAMS(purge), NULL);
    db_param_t p[] = {db_text(state_hash), db_text(s->provider), db_text(s->bind_hash),
                      db_text(s->nonce),   db_text(s->verifier), db_text(s->redirect_uri),
                      db_text(s->next),    db_int(s->expires_at)};
    int rc = db_exec(db, &oidc_sql[ST_PUT], p, DB_NPARAMS(p), NULL);
    return rc == 0 ? 0 : ERR_UNAVAILABLE;
}

static int read_state(void *arg, const db_row_t *row)
{
    auth__oidc_state_t *s = arg;
    s->provider = db_row_strdup(row, 0);
    s->bind_hash = db_row_strdup(row, 1);
    s->nonce = db_row_strdup(row, 2);
    s->verifier = db_row_strdup(row, 3);
    s->redirect_uri = db_row_strdup(row, 4);
    s->next = db_row_strdup(row, 5);
    s->expires_at = db_row_int(row, 6);
    return 0;
}

/* See oidc_internal.h. */
int auth__oidc_state_take(db_t *db, const char *state_hash, auth__oidc_state_t *out)
{
    memset(out, 0, sizeof *out);
    db_param_t p[] = {db_text(state_hash)};
    int rc = db_query_one(db, &oidc_sql[ST_TAKE], p, DB_NPARAMS(p), read_state, out);
    if (rc != 0)
        auth__oidc_state_dispose(out);
    return rc == 0 || rc == ERR_NOT_FOUND ? rc : ERR_UNAVAILABLE;
}

/* See oidc_internal.h. */
int auth__oidc_identity_find(db_t *db, const char *issuer, const char *subject, int64_t *user_id)
{
    db_param_t p[] = {db_text(issuer), db_text(subject)};
    int rc = db_query_one(db, &oidc_sql[ID_FIND], p, DB_NPARAMS(p), db_row_read_int, user_id);
    return rc == 0 || rc == ERR_NOT_FOUND ? rc : ERR_UNAVAILABLE;
}

/* See oidc_internal.h. */
int auth__oidc_identity_add(db_t *db, int64_t user_id, const char *provider, const char *issuer,
                            const char *subject, const char *email, int64_t now)
{
    db_param_t p[] = {db_int(user_id),  db_text(provider), db_text(issuer),
                      db_text(subject), db_text(email),    db_int(now)};
    int rc = db_exec(db, &oidc_sql[ID_ADD], p, DB_NPARAMS(p), NULL);
    return rc == 0 || rc == ERR_CONFLICT || rc == ERR_NOT_FOUND ? rc : ERR_UNAVAILABLE;
}

/* See oidc_internal.h. */
int auth__oidc_identity_touch(db_t *db, const char *issuer, const char *subject, int64_t now)
{
    db_param_t p[] = {db_int(now), db_text(issuer), db_text(subject)};
    return db_exec(db, &oidc_sql[ID_TOUCH], p, DB_NPARAMS(p), NULL) == 0 ? 0 : ERR_UNAVAILABLE;
}

/* See oidc_internal.h. */
int auth__oidc_user_by_email(db_t *db, const char *email, int64_t *user_id)
{
    db_param_t p[] = {db_text(email)};
    int rc = db_query_one(db, &oidc_sql[USER_BY_EMAIL], p, DB_NPARAMS(p), db_row_read_int, user_id);
    return rc == 0 || rc == ERR_NOT_FOUND ? rc : ERR_UNAVAILABLE;
}

struct list_arg {
    buf_t *out;
    size_t n;
};

static int write_identity(void *arg, const db_row_t *row)
{
    struct list_arg *l = arg;
    size_t plen, elen;
    const char *provider = db_row_text(row, 1, &plen);
    const char *email = db_row_text(row, 2, &elen);
    int rc = buf_printf(l->out, "%s{\"id\":%" PRId64 ",\"provider\":", l->n++ ? "," : "",
                        db_row_int(row, 0));
    rc |= jsonw_buf_str(l->out, provider ? provider : "", provider ? plen : 0);
    rc |= buf_append_cstr(l->out, ",\"email\":");
    rc |= jsonw_buf_str(l->out, email ? email : "", email ? elen : 0);
    rc |= buf_printf(l->out, ",\"created_at\":%" PRId64 ",\"last_login\":%" PRId64 "}",
                     db_row_int(row, 3), db_row_int(row, 4));
    return rc ? ERR_TOO_LARGE : 0;
}

/* See oidc_internal.h. */
int auth__oidc_identities_json(db_t *db, int64_t user_id, buf_t *out)
{
    struct list_arg l = {out, 0};
    db_param_t p[] = {db_int(user_id)};
    buf_append_char(out, '[');
    int rc = db_query(db, &oidc_sql[ID_LIST], p, DB_NPARAMS(p), write_identity, &l);
    buf_append_char(out, ']');
    return rc == 0 ? 0 : rc == ERR_TOO_LARGE ? rc : ERR_UNAVAILABLE;
}

struct remove_arg {
    int64_t user_id, id;
};

static int read_password_usable(void *arg, const db_row_t *row)
{
    size_t len = 0;
    const char *pw = db_row_text(row, 0, &len);
    *(bool *)arg = pw && len > 0 && pw[0] != '!';
    return 0;
}

static int remove_body(db_tx_t *tx, void *arg)
{
    const struct remove_arg *r = arg;
    db_param_t u[] = {db_int(r->user_id)};
    int64_t count = 0;
    bool password = false;
    int rc = db_tx_query_one(tx, &oidc_sql[ID_COUNT], u, DB_NPARAMS(u), db_row_read_int, &count);
    if (rc == 0)
        rc = db_tx_query_one(tx, &oidc_sql[USER_PASSWORD], u, DB_NPARAMS(u), read_password_usable,
                             &password);
    if (rc != 0)
        return rc;
    int64_t changes = 0;
    db_param_t d[] = {db_int(r->id), db_int(r->user_id)};
    if ((rc = db_tx_exec(tx, &oidc_sql[ID_DELETE], d, DB_NPARAMS(d), &changes)) != 0)
        return rc;
    if (changes == 0)
        return ERR_NOT_FOUND;
    if (count <= 1 && !password)
        return ERR_CONFLICT; /* rolled back: the last way to sign in stays */
    return 0;
}

/* See oidc_internal.h. */
int auth__oidc_identity_remove(db_t *db, int64_t user_id, int64_t id)
{
    struct remove_arg r = {user_id, id};
    int rc = db_transact(db, remove_body, &r);
    return rc == 0 || rc == ERR_NOT_FOUND || rc == ERR_CONFLICT ? rc : ERR_UNAVAILABLE;
}
