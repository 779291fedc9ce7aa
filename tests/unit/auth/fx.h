/*
 * fx.h - the fixture the tests of src/auth/ share: a temporary SQLite database holding the
 * user "alice" / "correct horse", a key ring with one generated HS256 key, and the token
 * service built on both (started; the feed polls once a minute, so tests pull explicitly
 * with store_sync). Static inline helpers only: this header is not compiled on its own.
 */
#ifndef JWTD_TESTS_UNIT_AUTH_FX_H
#define JWTD_TESTS_UNIT_AUTH_FX_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/auth.h"
#include "common/clock.h"
#include "common/err.h"
#include "db/db.h"
#include "jose/jose.h"
#include "store/store.h"

static const auth_argon2_params_t fx_cheap = {1024, 1, 1};

struct fx {
    char dir[64];
    char path[128];
    char url[200];
    db_t *db;
    jose_keyring_t *ring;
    auth_t *auth;
    int64_t uid; /* alice */
};

/* The defaults with cheap hashing and no background pull. */
static inline void fx_options(auth_options_t *o)
{
    auth_options_defaults(o);
    o->argon2 = fx_cheap;
    o->poll_interval_ms = 60000; /* tests pull explicitly with store_sync */
}

/* Builds and starts f->auth on f->db and f->ring with o. */
static inline int fx_auth(struct fx *f, const auth_options_t *o)
{
    jwtv_options v;
    jwtv_options_init(&v);
    v.algorithms = JWTV_ALG_HS256;
    v.required = JWTV_REQUIRE_EXP | JWTV_REQUIRE_IAT | JWTV_REQUIRE_JTI | JWTV_REQUIRE_TOKEN_TYPE |
                 JWTV_REQUIRE_USER_ID;
    int rc = auth_new(o, f->db, f->ring, &v, &f->auth);
    return rc ? rc : auth_start(f->auth);
}

/* A user "alice" / "correct horse" (id in f->uid) plus a key ring and the service. */
static inline int fx_open(struct fx *f, const auth_options_t *opts)
{
    memset(f, 0, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/jwtd-authtest-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof f->path, "%s/t.db", f->dir);
    snprintf(f->url, sizeof f->url, "sqlite:%s?synchronous=off", f->path);
    char err[256];
    if (db_open(f->url, NULL, &f->db, err, sizeof err) != 0 || db_migrate(f->db, NULL) != 0)
        return -1;
    char hash[AUTH_PASSWORD_HASH_MAX];
    if (auth_password_hash(&fx_cheap, "correct horse", 13, hash, sizeof hash) != 0)
        return -1;
    db_user_t u = {0};
    u.username = (char *)"alice";
    u.email = (char *)"alice@example.com";
    u.first_name = (char *)"Al\"ice";
    u.last_name = (char *)"Line\nBreak";
    u.role = DB_ROLE_INSTRUCTOR;
    u.premium = true;
    u.is_active = true;
    u.password_hash = hash;
    if (db_user_create(f->db, &u, clock_now_s() - 100, &f->uid) != 0)
        return -1;
    const jose_alg_t *alg = jose_alg_by_name(STR_LIT("HS256"));
    jose_key_t *k;
    if (jose_key_generate(alg, 0, &k, err, sizeof err) != 0)
        return -1;
    f->ring = jose_keyring_new();
    if (jose_keyring_add(f->ring, k, JOSE_ROLE_ACTIVE, err, sizeof err) != 0)
        return -1;
    auth_options_t o;
    fx_options(&o);
    return fx_auth(f, opts ? opts : &o);
}

static inline void fx_close(struct fx *f)
{
    auth_free(f->auth);
    jose_keyring_release(f->ring);
    db_close(f->db);
    const char *suffixes[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        char p[200];
        snprintf(p, sizeof p, "%s%s", f->path, suffixes[i]);
        unlink(p);
    }
    rmdir(f->dir);
}

/* Another active user with password "correct horse", created directly in the database. */
static inline int fx_add_user(struct fx *f, const char *username, const char *email, int64_t *id)
{
    char hash[AUTH_PASSWORD_HASH_MAX];
    if (auth_password_hash(&fx_cheap, "correct horse", 13, hash, sizeof hash) != 0)
        return -1;
    db_user_t u = {0};
    u.username = (char *)username;
    u.email = (char *)email;
    u.role = DB_ROLE_USER;
    u.is_active = true;
    u.password_hash = hash;
    return db_user_create(f->db, &u, clock_now_s() - 100, id);
}

/* alice's login from 127.0.0.1 with user agent "unit". */
static inline int login(struct fx *f, int64_t now, auth_pair_t *p)
{
    auth_client_t c = {.ip = "127.0.0.1", .user_agent = "unit"};
    return auth_login(f->auth, "alice", "correct horse", 13, &c, now, p);
}

static inline enum auth_verdict verify_access(struct fx *f, const char *tok, size_t len,
                                              int64_t now)
{
    jwtv_claims c;
    return auth_verify_access(f->auth, str_make(tok, len), now, &c);
}

/* Verifies a refresh token; on AUTH_OK fills *ref when not NULL. */
static inline enum auth_verdict verify_refresh(struct fx *f, const char *tok, size_t len,
                                               int64_t now, auth_token_ref_t *ref)
{
    jwtv_claims c;
    enum auth_verdict v = auth_verify_refresh(f->auth, str_make(tok, len), now, &c);
    if (v == AUTH_OK && ref)
        (void)auth_token_ref_from_claims(&c, ref);
    return v;
}

#endif
