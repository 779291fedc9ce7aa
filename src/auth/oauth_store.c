/*
 * oauth_store.c - the OAuth provider's tables (migration 6) through db's statement runner,
 * and the registered clients (oauth.h "clients"). The flows are oauth.c's; both share
 * oauth_internal.h.
 */
#define LOG_MODULE "auth"
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "auth/auth_internal.h"
#include "auth/oauth_internal.h"
#include "common/b64url.h"
#include "common/err.h"
#include "common/jsonw.h"
#include "runtime/alloc.h"
#include "runtime/audit.h"
#include "runtime/log.h"

#define CLIENT_COLS                                                                                \
    "client_id, name, redirect_uris, post_logout_redirect_uris, scopes, grant_types, is_public, "  \
    "first_party, created_at, secret_hash"
#define MAX_CLIENTS 10000

/* Parameters -> result columns in each comment. */
const db_stmt_def_t oauth__sql[OQ__N] = {
    /* client_id, secret_hash, name, redirect_uris, post_logout, is_public, first_party,
       scopes, grant_types, now */
    [OQ_CLIENT_INSERT] = {.name = "oauth_client_insert",
                          .sql = "INSERT INTO oauth_clients (client_id, secret_hash, name, "
                                 "redirect_uris, post_logout_redirect_uris, is_public, "
                                 "first_party, scopes, grant_types, created_at) VALUES (?1, ?2, "
                                 "?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"},
    /* client_id -> CLIENT_COLS */
    [OQ_CLIENT_GET] = {.name = "oauth_client_get",
                       .sql = "SELECT " CLIENT_COLS " FROM oauth_clients WHERE client_id = ?1"},
    /* -> CLIENT_COLS, oldest first */
    [OQ_CLIENT_LIST] = {.name = "oauth_client_list",
                        .sql = "SELECT " CLIENT_COLS
                               " FROM oauth_clients ORDER BY created_at, client_id"},
    /* -> count */
    [OQ_CLIENT_COUNT] = {.name = "oauth_client_count", .sql = "SELECT count(*) FROM oauth_clients"},
    /* client_id */
    [OQ_CLIENT_DELETE] = {.name = "oauth_client_delete",
                          .sql = "DELETE FROM oauth_clients WHERE client_id = ?1"},
    /* client_id, name, redirect_uris, post_logout, scopes, grant_types, first_party */
    [OQ_CLIENT_UPDATE] = {.name = "oauth_client_update",
                          .sql = "UPDATE oauth_clients SET name = ?2, redirect_uris = ?3, "
                                 "post_logout_redirect_uris = ?4, scopes = ?5, grant_types = ?6, "
                                 "first_party = ?7 WHERE client_id = ?1"},
    /* client_id, secret_hash: a confidential client only */
    [OQ_CLIENT_SECRET] = {.name = "oauth_client_secret",
                          .sql = "UPDATE oauth_clients SET secret_hash = ?2 WHERE client_id = ?1 "
                                 "AND is_public = 0"},
    /* client_id -> sid of every live session issued to the client */
    [OQ_GRANT_SIDS_CLIENT] = {.name = "oauth_grant_sids_client",
                              .sql = "SELECT g.sid FROM oauth_grants g JOIN sessions s ON s.id = "
                                     "g.sid WHERE g.client_id = ?1 AND s.revoked_at IS NULL"},
    /* user_id, client_id -> sid of every live session issued to the client for the user */
    [OQ_GRANT_SIDS_USER] = {.name = "oauth_grant_sids_user",
                            .sql = "SELECT g.sid FROM oauth_grants g JOIN sessions s ON s.id = "
                                   "g.sid WHERE g.user_id = ?1 AND g.client_id = ?2 AND "
                                   "s.revoked_at IS NULL"},
    /* sid, client_id, user_id, scope, auth_time, now */
    [OQ_GRANT_INSERT] = {.name = "oauth_grant_insert",
                         .sql = "INSERT INTO oauth_grants (sid, client_id, user_id, scope, "
                                "auth_time, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"},
    /* sid -> client_id, user_id, scope, auth_time */
    [OQ_GRANT_GET] = {.name = "oauth_grant_get",
                      .sql = "SELECT client_id, user_id, scope, auth_time FROM oauth_grants "
                             "WHERE sid = ?1"},
    /* user_id, client_id -> scope */
    [OQ_CONSENT_GET] = {.name = "oauth_consent_get",
                        .sql = "SELECT scope FROM oauth_consents WHERE user_id = ?1 AND "
                               "client_id = ?2"},
    /* user_id, client_id, scope, now */
    [OQ_CONSENT_PUT] = {.name = "oauth_consent_put",
                        .sql = "INSERT INTO oauth_consents (user_id, client_id, scope, "
                               "granted_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (user_id, "
                               "client_id) DO UPDATE SET scope = excluded.scope, granted_at = "
                               "excluded.granted_at"},
    /* user_id, client_id */
    [OQ_CONSENT_DELETE] = {.name = "oauth_consent_delete",
                           .sql = "DELETE FROM oauth_consents WHERE user_id = ?1 AND "
                                  "client_id = ?2"},
    /* before: codes expired before it (used or not) */
    [OQ_CODE_PURGE] = {.name = "oauth_code_purge",
                       .sql = "DELETE FROM oauth_codes WHERE expires_at < ?1"},
    /* code_hash, client_id, user_id, browser_sid, redirect_uri, scope, nonce,
       code_challenge, auth_time, now, expires_at */
    [OQ_CODE_INSERT] = {.name = "oauth_code_insert",
                        .sql = "INSERT INTO oauth_codes (code_hash, client_id, user_id, "
                               "browser_sid, redirect_uri, scope, nonce, code_challenge, "
                               "auth_time, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, "
                               "?6, ?7, ?8, ?9, ?10, ?11)"},
    /* code_hash -> client_id, user_id, redirect_uri, scope, nonce, code_challenge,
       auth_time, expires_at, used_at, issued_sid, browser_sid */
    [OQ_CODE_GET] = {.name = "oauth_code_get",
                     .sql = "SELECT client_id, user_id, redirect_uri, scope, nonce, "
                            "code_challenge, auth_time, expires_at, used_at, issued_sid, "
                            "browser_sid FROM oauth_codes WHERE code_hash = ?1"},
    /* code_hash, now: marks it used, once */
    [OQ_CODE_USE] = {.name = "oauth_code_use",
                     .sql = "UPDATE oauth_codes SET used_at = ?2 WHERE code_hash = ?1 AND "
                            "used_at IS NULL"},
    /* code_hash, sid */
    [OQ_CODE_SET_SID] = {.name = "oauth_code_set_sid",
                         .sql = "UPDATE oauth_codes SET issued_sid = ?2 WHERE code_hash = ?1"},
    /* user_id -> client_id, name, scope, granted_at, active sessions: the clients the user
       consented to or holds a live session of */
    [OQ_APPS] = {.name = "oauth_apps",
                 .sql = "SELECT c.client_id, c.name, COALESCE((SELECT k.scope FROM "
                        "oauth_consents k WHERE k.user_id = ?1 AND k.client_id = c.client_id), "
                        "(SELECT max(g.scope) FROM oauth_grants g WHERE g.user_id = ?1 AND "
                        "g.client_id = c.client_id), ''), COALESCE((SELECT k.granted_at FROM "
                        "oauth_consents k WHERE k.user_id = ?1 AND k.client_id = c.client_id), "
                        "(SELECT min(g.created_at) FROM oauth_grants g WHERE g.user_id = ?1 AND "
                        "g.client_id = c.client_id), 0), (SELECT count(*) FROM oauth_grants g "
                        "JOIN sessions s ON s.id = g.sid WHERE g.user_id = ?1 AND g.client_id = "
                        "c.client_id AND s.revoked_at IS NULL) FROM oauth_clients c WHERE "
                        "EXISTS (SELECT 1 FROM oauth_consents k WHERE k.user_id = ?1 AND "
                        "k.client_id = c.client_id) OR EXISTS (SELECT 1 FROM oauth_grants g "
                        "JOIN sessions s ON s.id = g.sid WHERE g.user_id = ?1 AND g.client_id = "
                        "c.client_id AND s.revoked_at IS NULL) ORDER BY c.name, c.client_id"},
};

/* ==== helpers ================================================================================ */

/* See oauth_internal.h. */
void oauth__sha256_hex(const void *p, size_t n, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char d[32];
    unsigned int dl = 0;
    EVP_Digest(p, n, d, &dl, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[64] = '\0';
}

/* See oauth_internal.h. */
int oauth__random_token(char out[AUTH_OAUTH_SECRET_LEN + 1])
{
    unsigned char b[32];
    if (RAND_bytes(b, sizeof b) != 1)
        return ERR_INTERNAL;
    b64url_encode(b, sizeof b, out, AUTH_OAUTH_SECRET_LEN + 1);
    OPENSSL_cleanse(b, sizeof b);
    out[AUTH_OAUTH_SECRET_LEN] = '\0';
    return 0;
}

/* See oauth_internal.h. */
bool oauth__list_has(const char *list, const char *item, size_t len)
{
    if (!list || !item || !len)
        return false;
    const char *p = list;
    while (*p) {
        while (*p == ' ')
            p++;
        const char *e = p;
        while (*e && *e != ' ')
            e++;
        if ((size_t)(e - p) == len && memcmp(p, item, len) == 0)
            return true;
        p = e;
    }
    return false;
}

/* See oauth_internal.h. */
bool oauth__list_has_cstr(const char *list, const char *item)
{
    return item && oauth__list_has(list, item, strlen(item));
}

/* See oauth_internal.h. */
int oauth__read_sids(void *arg, const db_row_t *row)
{
    oauth__sids_t *l = arg;
    size_t len = 0;
    const char *s = db_row_text(row, 0, &len);
    if (!s || len > AUTH_ID_MAX || l->count >= OAUTH__MAX_SIDS)
        return 0;
    memcpy(l->sid[l->count], s, len);
    l->sid[l->count][len] = '\0';
    l->count++;
    return 0;
}

/* ==== clients ================================================================================ */

/* See oauth.h. */
void auth_oauth_client_dispose(auth_oauth_client_t *c)
{
    if (!c)
        return;
    free(c->client_id);
    free(c->name);
    free(c->redirect_uris);
    free(c->post_logout_redirect_uris);
    free(c->scopes);
    free(c->grant_types);
    memset(c, 0, sizeof *c);
}

/* Reads CLIENT_COLS into an oauth__client_t (the client and its secret hash). */
static int read_client(void *item, const db_row_t *row)
{
    oauth__client_t *k = item;
    auth_oauth_client_t *c = &k->c;
    c->client_id = db_row_strdup(row, 0);
    c->name = db_row_strdup(row, 1);
    c->redirect_uris = db_row_strdup(row, 2);
    c->post_logout_redirect_uris = db_row_strdup(row, 3);
    c->scopes = db_row_strdup(row, 4);
    c->grant_types = db_row_strdup(row, 5);
    c->is_public = db_row_int(row, 6) != 0;
    c->first_party = db_row_int(row, 7) != 0;
    c->created_at = db_row_int(row, 8);
    size_t len = 0;
    const char *h = db_row_text(row, 9, &len);
    if (h && len == 64)
        memcpy(k->secret_hash, h, 65);
    k->secret_hash[64] = '\0';
    return 0;
}

static void dispose_client(void *item)
{
    auth_oauth_client_dispose(&((oauth__client_t *)item)->c);
}

/* See oauth_internal.h. */
int oauth__client_load(auth_t *a, const char *client_id, oauth__client_t *out)
{
    memset(out, 0, sizeof *out);
    if (!client_id || !*client_id || strlen(client_id) > AUTH_OAUTH_ID_MAX)
        return ERR_NOT_FOUND;
    db_param_t p[] = {db_text(client_id)};
    int rc = db_query_one(a->db, &oauth__sql[OQ_CLIENT_GET], p, DB_NPARAMS(p), read_client, out);
    if (rc != 0)
        dispose_client(out);
    return auth__map_db(rc);
}

/* See oauth.h. */
int auth_oauth_client_get(auth_t *a, const char *client_id, auth_oauth_client_t *out)
{
    oauth__client_t k;
    int rc = oauth__client_load(a, client_id, &k);
    memset(out, 0, sizeof *out);
    if (rc == 0)
        *out = k.c;
    OPENSSL_cleanse(k.secret_hash, sizeof k.secret_hash);
    return rc;
}

/* See oauth.h. */
void auth_oauth_client_list_dispose(auth_oauth_client_list_t *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->count; i++)
        auth_oauth_client_dispose(&l->items[i]);
    free(l->items);
    l->items = NULL;
    l->count = 0;
}

/* See oauth.h. */
int auth_oauth_client_list(auth_t *a, auth_oauth_client_list_t *out)
{
    memset(out, 0, sizeof *out);
    const db_list_def_t rows = {sizeof(oauth__client_t), MAX_CLIENTS, read_client, dispose_client};
    oauth__client_t *items = NULL;
    size_t n = 0;
    int rc = db_query_list(a->db, &oauth__sql[OQ_CLIENT_LIST], NULL, 0, &rows, &items, &n);
    if (rc != 0)
        return auth__map_db(rc);
    out->items = n ? xcalloc(n, sizeof *out->items) : NULL;
    for (size_t i = 0; i < n; i++)
        out->items[i] = items[i].c;
    out->count = n;
    free(items);
    return 0;
}

/* Whether s is acceptable in a space-separated list: printable ASCII, no blank. */
static bool plain_token(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return false;
    return true;
}

/* Whether host (up to its port or path) is a loopback name. */
static bool loopback_host(const char *h)
{
    static const char *const names[] = {"localhost", "127.0.0.1", "[::1]"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        size_t n = strlen(names[i]);
        if (strncmp(h, names[i], n) == 0 && (h[n] == '\0' || h[n] == ':' || h[n] == '/'))
            return true;
    }
    return false;
}

/* See oauth_internal.h. */
bool oauth__redirect_uri_ok(const char *u)
{
    if (!plain_token(u, 2000) || strchr(u, '#'))
        return false;
    if (strncmp(u, "https://", 8) == 0)
        return u[8] != '\0' && u[8] != '/';
    if (strncmp(u, "http://", 7) == 0)
        return loopback_host(u + 7);
    /* a native app's private-use scheme (RFC 8252 §7.1): reverse domain name, then ':' */
    const char *colon = strchr(u, ':');
    if (!colon || !memchr(u, '.', (size_t)(colon - u)) || colon[1] == '\0')
        return false;
    for (const char *p = u; p < colon; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' ||
              *p == '+'))
            return false;
    return true;
}

/* Joins n URIs with spaces into a heap string after checking each. */
static char *join_uris(const char *const *v, size_t n, const char **why, const char *what)
{
    buf_t b;
    buf_init(&b, 64 * 1024);
    for (size_t i = 0; i < n; i++) {
        if (!oauth__redirect_uri_ok(v[i])) {
            *why = what;
            buf_dispose(&b);
            return NULL;
        }
        if ((b.len && buf_append_char(&b, ' ') != 0) || buf_append_cstr(&b, v[i]) != 0) {
            *why = what;
            buf_dispose(&b);
            return NULL;
        }
    }
    char *s = xstrndup(b.data ? (const char *)b.data : "", b.len);
    buf_dispose(&b);
    return s;
}

/* See oauth_internal.h. */
char *oauth__words(const char *s, const char *allowed, const char *also)
{
    buf_t b;
    buf_init(&b, 4096);
    const char *p = s;
    while (*p) {
        while (*p == ' ')
            p++;
        const char *e = p;
        while (*e && *e != ' ')
            e++;
        if (e == p)
            break;
        size_t n = (size_t)(e - p);
        if (!oauth__list_has(allowed, p, n) || (also && !oauth__list_has(also, p, n))) {
            buf_dispose(&b);
            return NULL;
        }
        buf_append_char(&b, '\0');
        b.len--;
        if (!oauth__list_has((const char *)b.data, p, n)) {
            if (b.len)
                buf_append_char(&b, ' ');
            buf_append(&b, p, n);
        }
        p = e;
    }
    char *out = xstrndup(b.data ? (const char *)b.data : "", b.len);
    buf_dispose(&b);
    return out;
}

/* Checks a list of words against the allowed ones; NULL gives def. Heap, or NULL. */
static char *check_words(const char *given, const char *allowed, const char *def)
{
    return oauth__words(given ? given : def, allowed, NULL);
}

/* The checked, normalised values of a client (heap strings). */
typedef struct {
    char *grants, *scopes, *redirects, *logouts;
} checked_t;

static void checked_dispose(checked_t *k)
{
    free(k->grants);
    free(k->scopes);
    free(k->redirects);
    free(k->logouts);
    memset(k, 0, sizeof *k);
}

/* Checks a client's values, new or changed (see auth_oauth_client_create). Returns 0 (*k set)
   or ERR_INVALID (*why set, *k empty). */
static int check_client(const auth_oauth_client_new_t *n, checked_t *k, const char **why)
{
    memset(k, 0, sizeof *k);
    *why = NULL;
    if (!n->name || !*n->name || strlen(n->name) > 200) {
        *why = "name: 1 to 200 bytes";
        return ERR_INVALID;
    }
    k->grants = check_words(n->grant_types, OAUTH__GRANTS,
                            n->is_public ? "authorization_code refresh_token"
                                         : "authorization_code refresh_token client_credentials");
    if (!k->grants) {
        *why = "grant_types: authorization_code, refresh_token, client_credentials";
        return ERR_INVALID;
    }
    if (n->is_public && oauth__list_has_cstr(k->grants, "client_credentials")) {
        checked_dispose(k);
        *why = "grant_types: a public client cannot use client_credentials";
        return ERR_INVALID;
    }
    k->scopes = check_words(n->scopes, AUTH_OAUTH_SCOPES, AUTH_OAUTH_SCOPES);
    if (!k->scopes) {
        checked_dispose(k);
        *why = "scope: openid, profile, email, offline_access, roles";
        return ERR_INVALID;
    }
    k->redirects = join_uris(n->redirect_uris, n->n_redirect_uris, why,
                             "redirect_uri: an absolute https URI (http only for localhost) "
                             "without a fragment, or a native app's reverse-domain scheme");
    k->logouts = k->redirects ? join_uris(n->post_logout_redirect_uris, n->n_post_logout, why,
                                          "post_logout_redirect_uri: an absolute https URI (http "
                                          "only for localhost) without a fragment")
                              : NULL;
    if (!*why && k->redirects && !*k->redirects &&
        oauth__list_has_cstr(k->grants, "authorization_code"))
        *why = "redirect_uri: at least one is required for the authorization code grant";
    if (*why) {
        checked_dispose(k);
        return ERR_INVALID;
    }
    return 0;
}

/* See oauth.h. */
int auth_oauth_client_create(auth_t *a, const auth_oauth_client_new_t *n, int64_t now,
                             auth_oauth_client_t *out, char secret[AUTH_OAUTH_SECRET_LEN + 1],
                             const char **why)
{
    memset(out, 0, sizeof *out);
    secret[0] = '\0';
    checked_t k;
    int rc = check_client(n, &k, why);
    if (rc != 0)
        return rc;
    char hash[65] = "";
    char id[33];
    if (auth__random_id(id) != 0 || (!n->is_public && oauth__random_token(secret)))
        rc = ERR_INTERNAL;
    if (rc == 0) {
        if (!n->is_public)
            oauth__sha256_hex(secret, AUTH_OAUTH_SECRET_LEN, hash);
        db_param_t p[] = {
            db_text(id),        db_text(hash),        db_text(n->name),       db_text(k.redirects),
            db_text(k.logouts), db_int(n->is_public), db_int(n->first_party), db_text(k.scopes),
            db_text(k.grants),  db_int(now)};
        rc = auth__map_db(db_exec(a->db, &oauth__sql[OQ_CLIENT_INSERT], p, DB_NPARAMS(p), NULL));
    }
    OPENSSL_cleanse(hash, sizeof hash);
    if (rc == 0) {
        out->client_id = xstrdup(id);
        out->name = xstrdup(n->name);
        out->redirect_uris = k.redirects;
        out->post_logout_redirect_uris = k.logouts;
        out->scopes = k.scopes;
        out->grant_types = k.grants;
        out->is_public = n->is_public;
        out->first_party = n->first_party;
        out->created_at = now;
        char detail[80];
        snprintf(detail, sizeof detail, "client_id=%s", id);
        audit_info(NULL, .event = "oauth_client_created", .outcome = "success", .detail = detail);
        return 0;
    }
    OPENSSL_cleanse(secret, AUTH_OAUTH_SECRET_LEN + 1);
    checked_dispose(&k);
    return rc;
}

/* A registered space-separated list as an array for check_client: *v points into *copy
   (heap, as is *v). Returns the number of items. */
static size_t split_list(const char *list, char **copy, const char ***v)
{
    *copy = xstrdup(list ? list : "");
    size_t n = 0, cap = 1;
    for (const char *p = *copy; *p; p++)
        cap += *p == ' ';
    *v = xcalloc(cap, sizeof **v);
    for (char *p = *copy; *p;) {
        while (*p == ' ')
            *p++ = '\0';
        if (!*p)
            break;
        (*v)[n++] = p;
        while (*p && *p != ' ')
            p++;
    }
    return n;
}

/* See oauth.h. */
int auth_oauth_client_update(auth_t *a, const char *client_id, const auth_oauth_client_change_t *ch,
                             auth_oauth_client_t *out, const char **why)
{
    memset(out, 0, sizeof *out);
    *why = NULL;
    oauth__client_t old;
    int rc = oauth__client_load(a, client_id, &old);
    OPENSSL_cleanse(old.secret_hash, sizeof old.secret_hash);
    if (rc != 0)
        return rc;
    char *uris_copy = NULL, *logouts_copy = NULL;
    const char **uris = NULL, **logouts = NULL;
    auth_oauth_client_new_t n = {
        .name = ch->name ? ch->name : old.c.name,
        .redirect_uris = ch->redirect_uris,
        .n_redirect_uris = ch->n_redirect_uris,
        .post_logout_redirect_uris = ch->post_logout_redirect_uris,
        .n_post_logout = ch->n_post_logout,
        .is_public = old.c.is_public,
        .first_party = ch->first_party < 0 ? old.c.first_party : ch->first_party != 0,
        .scopes = ch->scopes ? ch->scopes : old.c.scopes,
        .grant_types = ch->grant_types ? ch->grant_types : old.c.grant_types,
    };
    if (!ch->set_redirect_uris) {
        n.n_redirect_uris = split_list(old.c.redirect_uris, &uris_copy, &uris);
        n.redirect_uris = uris;
    }
    if (!ch->set_post_logout) {
        n.n_post_logout = split_list(old.c.post_logout_redirect_uris, &logouts_copy, &logouts);
        n.post_logout_redirect_uris = logouts;
    }
    checked_t k;
    rc = check_client(&n, &k, why);
    if (rc == 0) {
        int64_t changes = 0;
        db_param_t p[] = {db_text(client_id),   db_text(n.name),   db_text(k.redirects),
                          db_text(k.logouts),   db_text(k.scopes), db_text(k.grants),
                          db_int(n.first_party)};
        rc =
            auth__map_db(db_exec(a->db, &oauth__sql[OQ_CLIENT_UPDATE], p, DB_NPARAMS(p), &changes));
        if (rc == 0 && changes == 0)
            rc = ERR_NOT_FOUND; /* deleted meanwhile */
    }
    if (rc == 0) {
        out->client_id = xstrdup(old.c.client_id);
        out->name = xstrdup(n.name);
        out->redirect_uris = k.redirects;
        out->post_logout_redirect_uris = k.logouts;
        out->scopes = k.scopes;
        out->grant_types = k.grants;
        out->is_public = n.is_public;
        out->first_party = n.first_party;
        out->created_at = old.c.created_at;
        memset(&k, 0, sizeof k);
        char detail[160];
        snprintf(detail, sizeof detail, "client_id=%s changed=%s%s%s%s%s%s", out->client_id,
                 ch->name ? "name," : "", ch->set_redirect_uris ? "redirect_uris," : "",
                 ch->set_post_logout ? "post_logout_redirect_uris," : "",
                 ch->scopes ? "scopes," : "", ch->grant_types ? "grant_types," : "",
                 ch->first_party >= 0 ? "first_party," : "");
        size_t len = strlen(detail);
        if (detail[len - 1] == ',')
            detail[len - 1] = '\0';
        audit_info(NULL, .event = "oauth_client_updated", .outcome = "success", .detail = detail);
    }
    checked_dispose(&k);
    free(uris_copy);
    free(logouts_copy);
    free(uris);
    free(logouts);
    auth_oauth_client_dispose(&old.c);
    return rc;
}

/* See oauth.h. */
int auth_oauth_client_rotate_secret(auth_t *a, const char *client_id,
                                    char secret[AUTH_OAUTH_SECRET_LEN + 1])
{
    secret[0] = '\0';
    oauth__client_t old;
    int rc = oauth__client_load(a, client_id, &old);
    OPENSSL_cleanse(old.secret_hash, sizeof old.secret_hash);
    if (rc != 0)
        return rc;
    bool is_public = old.c.is_public;
    auth_oauth_client_dispose(&old.c);
    if (is_public)
        return ERR_INVALID;
    char hash[65];
    if (oauth__random_token(secret) != 0) {
        secret[0] = '\0';
        return ERR_INTERNAL;
    }
    oauth__sha256_hex(secret, AUTH_OAUTH_SECRET_LEN, hash);
    int64_t changes = 0;
    db_param_t p[] = {db_text(client_id), db_text(hash)};
    rc = auth__map_db(db_exec(a->db, &oauth__sql[OQ_CLIENT_SECRET], p, DB_NPARAMS(p), &changes));
    OPENSSL_cleanse(hash, sizeof hash);
    if (rc == 0 && changes == 0)
        rc = ERR_NOT_FOUND; /* deleted meanwhile */
    if (rc != 0) {
        OPENSSL_cleanse(secret, AUTH_OAUTH_SECRET_LEN + 1);
        return rc;
    }
    char detail[80];
    snprintf(detail, sizeof detail, "client_id=%s", client_id);
    audit_info(NULL, .event = "oauth_client_secret_rotated", .outcome = "success",
               .detail = detail);
    return 0;
}

/* See oauth_internal.h. */
void oauth__revoke_sids(auth_t *a, const oauth__sids_t *l, int64_t now)
{
    for (size_t i = 0; i < l->count; i++) {
        int rc = auth_revoke_session(a, l->sid[i], now);
        if (rc != 0 && rc != ERR_NOT_FOUND)
            log_warn("msg=\"cannot revoke an OAuth session\" err=%d", rc);
    }
}

/* See oauth.h. */
int auth_oauth_client_delete(auth_t *a, const char *client_id, int64_t now)
{
    oauth__client_t k;
    int rc = oauth__client_load(a, client_id, &k);
    if (rc != 0)
        return rc;
    dispose_client(&k);
    oauth__sids_t *sids = xcalloc(1, sizeof *sids);
    db_param_t p[] = {db_text(client_id)};
    rc = auth__map_db(db_query(a->db, &oauth__sql[OQ_GRANT_SIDS_CLIENT], p, DB_NPARAMS(p),
                               oauth__read_sids, sids));
    if (rc == 0) {
        oauth__revoke_sids(a, sids, now);
        int64_t changes = 0;
        rc =
            auth__map_db(db_exec(a->db, &oauth__sql[OQ_CLIENT_DELETE], p, DB_NPARAMS(p), &changes));
        if (rc == 0 && changes == 0)
            rc = ERR_NOT_FOUND;
    }
    if (rc == 0) {
        char detail[80];
        snprintf(detail, sizeof detail, "client_id=%s sessions_revoked=%zu", client_id,
                 sids->count);
        audit_info(NULL, .event = "oauth_client_deleted", .outcome = "success", .detail = detail);
    }
    free(sids);
    return rc;
}

/* Appends a space-separated list as a JSON array of strings. */
static void json_words(buf_t *out, const char *list)
{
    buf_append_char(out, '[');
    const char *p = list ? list : "";
    bool first = true;
    while (*p) {
        while (*p == ' ')
            p++;
        const char *e = p;
        while (*e && *e != ' ')
            e++;
        if (e == p)
            break;
        if (!first)
            buf_append_char(out, ',');
        jsonw_buf_str(out, p, (size_t)(e - p));
        first = false;
        p = e;
    }
    buf_append_char(out, ']');
}

/* See oauth.h. */
void auth_oauth_client_json(const auth_oauth_client_t *c, buf_t *out)
{
    buf_append_cstr(out, "{\"client_id\":");
    jsonw_buf_cstr(out, c->client_id);
    buf_append_cstr(out, ",\"name\":");
    jsonw_buf_cstr(out, c->name);
    buf_append_cstr(out, ",\"redirect_uris\":");
    json_words(out, c->redirect_uris);
    buf_append_cstr(out, ",\"post_logout_redirect_uris\":");
    json_words(out, c->post_logout_redirect_uris);
    buf_printf(out, ",\"public\":%s,\"first_party\":%s", c->is_public ? "true" : "false",
               c->first_party ? "true" : "false");
    buf_append_cstr(out, ",\"scopes\":");
    json_words(out, c->scopes);
    buf_append_cstr(out, ",\"grant_types\":");
    json_words(out, c->grant_types);
    buf_printf(out, ",\"created_at\":%" PRId64 "}", c->created_at);
}

/* See oauth.h. */
bool auth_oauth_can_sign_id_tokens(const auth_t *a)
{
    const jose_alg_t *alg = jose_key_alg(auth__live(a)->sign_key);
    return alg && alg->family != JOSE_FAMILY_HMAC;
}

/* See oauth.h. */
int auth_oauth_client_count(db_t *db, int64_t *n)
{
    *n = 0;
    return db_query_one(db, &oauth__sql[OQ_CLIENT_COUNT], NULL, 0, db_row_read_int, n) == 0
               ? 0
               : ERR_UNAVAILABLE;
}

/* See oauth.h. */
int auth_oauth_check_keys(auth_t *a)
{
    if (auth_oauth_can_sign_id_tokens(a))
        return 0;
    int64_t n = 0;
    if (auth_oauth_client_count(a->db, &n) != 0)
        return ERR_UNAVAILABLE;
    if (n == 0)
        return 0;
    log_error("msg=\"OpenID Connect clients are registered but the signing key is an HMAC key: "
              "ID tokens need an asymmetric key (set JWTD_ALGORITHM to RS256, ES256 or EdDSA "
              "with JWTD_SIGNING_KEY_FILE, or use a key set with such a key)\" clients=%" PRId64,
              n);
    return ERR_CONFIG;
}

/* See auth_internal.h. Codes expired for an hour: until then a replayed one is recognised
   (and revokes what it issued), as the purge before each new code keeps them. */
int auth__oauth_flush(db_t *db, int64_t now, int64_t *deleted)
{
    db_param_t p[] = {db_int(now - 3600)};
    return db_exec(db, &oauth__sql[OQ_CODE_PURGE], p, DB_NPARAMS(p), deleted);
}
