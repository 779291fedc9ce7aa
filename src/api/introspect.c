/*
 * introspect.c - GET /auth/introspect (API.md section 7), the subrequest target of nginx's
 * auth_request: 204 with X-User-Id, X-Username and X-User-Role for a valid access token,
 * 401 otherwise, 503 when jwtd cannot decide. An optional `?role=admin[,instructor]`
 * makes it also require one of those roles (403 otherwise) for role-restricted locations.
 *
 * This is the per-request cost every proxied request pays, so it is the hot path of
 * jwtd: the Bearer token is verified on the worker's loop (jose + the in-memory revocation
 * index), with no database, no pool hop and no allocation beyond the request arena. A
 * revocation made on this instance is in the index before the revoking request is
 * answered, so a logged-out token is refused by the very next subrequest.
 *
 * "Cannot decide" (503): the revocation index is only trusted while its feed is fresh.
 * When the feed has been failing for longer than STALE_AFTER_S (the database that records
 * revocations made by other processes is unreachable), a token that verifies may still be
 * one revoked elsewhere, so the answer is 503 rather than a possibly wrong 204; nginx then
 * answers 500 to the client (fail closed). Bad tokens are still 401: refusing needs no
 * fresh data.
 *
 * GET /auth/revocations?since=T (admin token) is the optional feed for edge verifiers that
 * check tokens locally (examples/resource-server-c, a gateway with a JWKS): every access-
 * token jti revoked and not yet expired, every session revoked at or after T, and every
 * user watermark at or after T (default T: now - access-token lifetime), read from the
 * database (the durable record the index is loaded from) on the blocking pool. Trade-off:
 * a verifier polling it every N seconds rejects a revoked token within N seconds at one
 * small query per poll per verifier, instead of never (plain JWKS verification) or at once
 * (introspection: one hop per request).
 *
 * Per-request cost: each loop thread remembers the last tokens it accepted (see struct
 * vc_entry): a repeated token costs a hash and a memcmp instead of base64 + HMAC/signature +
 * JSON, while the revocation index (store_check) and the feed check still run on every
 * request, so a revoked token is refused by the very next subrequest, cached or not.
 *
 * Header values come from verified claims; a claim containing CR/LF or other control
 * bytes (which jwtv already refuses for NULs) is not copied into a header: the token is
 * refused instead, so a token can never inject a header into the upstream request.
 */
#define LOG_MODULE "api"
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/web.h"
#include "auth/auth.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"
#include "jose/jose.h"
#include "runtime/alloc.h"
#include "runtime/metrics.h"
#include "store/store.h"

/* A feed that has not succeeded for this long makes verdicts undecidable. */
#define STALE_AFTER_S 30

static bool header_safe(const char *s)
{
    if (!s)
        return true;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f)
            return false;
    }
    return true;
}

/* Looked up at most once a second per loop thread: store_stats takes the store's locks. */
static bool feed_is_stale(auth_t *a, int64_t now)
{
    static _Thread_local int64_t checked_at;
    static _Thread_local bool stale;
    if (now != checked_at) {
        store_stats_t st;
        store_stats(auth_store(a), &st);
        stale = st.pulls_failed > 0 && st.last_pull_at > 0 && now - st.last_pull_at > STALE_AFTER_S;
        checked_at = now;
    }
    return stale;
}

/*
 * ?role=admin or ?role=instructor,admin: the token's role must be one of them (403
 * otherwise), so an nginx location can require a role with its own auth_request URI. No
 * `role` parameter: any role.
 */
static bool role_allowed(http_req_t *req, const char *role)
{
    str_t want;
    if (http_req_query(req, "role", &want) != 0)
        return true;
    if (!role)
        return false;
    size_t rl = strlen(role);
    size_t i = 0;
    while (i <= want.len) {
        size_t s = i;
        while (i < want.len && want.ptr[i] != ',')
            i++;
        str_t one = str_trim(str_make(want.ptr + s, i - s));
        if (one.len == rl && memcmp(one.ptr, role, rl) == 0)
            return true;
        i++;
    }
    return false;
}

/*
 * Per-loop-thread cache of accepted access tokens: exact token bytes (compared in full, the
 * hash only picks the slot) -> what the answer and the revocation check need. An entry is
 * used only by the auth_t and key set that verified it, while now is in [verified_at, exp)
 * (no leeway: past exp the full verification decides), so a hit skips only work whose
 * result cannot have changed: base64, signature, JSON, claim checks. Revocation is not
 * cached: store_check runs on every hit. Direct-mapped; a collision costs a verification.
 * Memory: VC_SLOTS * ~1.3 KiB per loop thread, allocated on its first introspection.
 */
#define VC_SLOTS     256
#define VC_TOKEN_MAX 1024

struct vc_entry {
    uint64_t hash;
    size_t len; /* 0: empty */
    const auth_t *auth;
    uint64_t epoch; /* g_vc_epoch when cached: an auth_t freed and another allocated at the
                       same address (servers started in one process) never shares entries */
    size_t nkeys;
    int64_t verified_at, exp;
    store_id_t jti, sid;
    bool has_jti, has_sid;
    int64_t uid, iat; /* from auth_revocation_ref, as the full verification uses them */
    enum metrics_alg alg;
    bool has_role;
    char user_id[24], username[160], role[32];
    char token[VC_TOKEN_MAX];
};

static _Atomic uint64_t g_vc_epoch; /* bumped by every api_introspect_register */
static pthread_key_t vc_key;
static pthread_once_t vc_once = PTHREAD_ONCE_INIT;

static void vc_key_init(void)
{
    if (pthread_key_create(&vc_key, free) != 0)
        abort();
}

static struct vc_entry *vc_table(void)
{
    static _Thread_local struct vc_entry *t;
    if (!t) {
        pthread_once(&vc_once, vc_key_init);
        t = xcalloc(VC_SLOTS, sizeof *t);
        pthread_setspecific(vc_key, t); /* freed when the thread exits */
    }
    return t;
}

/*
 * Picks the slot from the token's last 16 bytes and its length: the end of a JWS is its
 * signature (or MAC), as good as random, so this spreads tokens as well as hashing every
 * byte at a fraction of the cost. A crafted collision only costs a verification: a hit
 * always compares the whole token.
 */
static uint64_t vc_hash(str_t s)
{
    uint64_t a = 0, b = 0;
    size_t n = s.len < 16 ? s.len : 16, k = n < 8 ? n : 8;
    memcpy(&a, s.ptr + s.len - n, k);
    memcpy(&b, s.ptr + s.len - n + k, n - k);
    uint64_t h = (a ^ (s.len * 0x9e3779b97f4a7c15ull)) * 0xff51afd7ed558ccdull;
    h = (h ^ (h >> 29) ^ b) * 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 32);
}

static bool copy_claim(char *dst, size_t cap, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n >= cap)
        return false;
    memcpy(dst, s ? s : "", n);
    dst[n] = '\0';
    return true;
}

/* Remembers claims that verified at now; tokens or claims too large are not cached. */
static void vc_put(struct vc_entry *e, auth_t *a, str_t token, uint64_t h, int64_t now,
                   const jwtv_claims *c)
{
    e->len = 0;
    if (token.len > VC_TOKEN_MAX || !c->has_exp ||
        !copy_claim(e->user_id, sizeof e->user_id, c->user_id) ||
        !copy_claim(e->username, sizeof e->username, c->username) ||
        !copy_claim(e->role, sizeof e->role, c->role))
        return;
    store_token_ref_t ref;
    auth_revocation_ref(c, &e->jti, &e->sid, &ref);
    e->has_jti = ref.jti != NULL;
    e->has_sid = ref.sid != NULL;
    e->uid = ref.user_id;
    e->iat = ref.iat;
    e->has_role = c->role != NULL;
    e->alg = metrics_alg_of(jose_claims_alg(c));
    e->hash = h;
    e->auth = a;
    e->epoch = atomic_load_explicit(&g_vc_epoch, memory_order_relaxed);
    e->nkeys = jose_keyring_count(auth_keyring(a));
    e->verified_at = now;
    e->exp = c->exp;
    memcpy(e->token, token.ptr, token.len);
    e->len = token.len;
}

/* The verdict for a cached token: only the revocation index is consulted. */
static enum auth_verdict vc_check(auth_t *a, const struct vc_entry *e)
{
    store_token_ref_t ref = {.jti = e->has_jti ? &e->jti : NULL,
                             .sid = e->has_sid ? &e->sid : NULL,
                             .user_id = e->uid,
                             .iat = e->iat};
    return auth_check_revoked(a, &ref, e->alg);
}

/* The 204 (or 403/503) for an accepted token whose claims are given. */
static void answer(http_req_t *req, auth_t *a, int64_t now, const char *user_id,
                   const char *username, const char *role)
{
    if (req->query.len && !role_allowed(req, role)) {
        http_respond_error(req, ERR_PERMISSION, NULL);
        return;
    }
    if (feed_is_stale(a, now)) {
        http_respond_error(req, ERR_UNAVAILABLE, NULL);
        return;
    }
    http_resp_header_add(req, "X-User-Id", user_id);
    http_resp_header_add(req, "X-Username", username ? username : "");
    http_resp_header_add(req, "X-User-Role", role ? role : "");
    http_resp_header_add(req, "Cache-Control", "no-store");
    http_respond(req, 204, NULL, STR_NULL);
}

static void on_introspect(http_req_t *req)
{
    auth_t *a = req->route_data;
    str_t token;
    int rc = api__bearer(req, &token);
    if (rc != 0) {
        api__bearer_error(req, rc, AUTH_INVALID);
        return;
    }
    int64_t now = clock_now_s();
    uint64_t h = vc_hash(token);
    struct vc_entry *e = &vc_table()[h % VC_SLOTS];
    if (e->len == token.len && e->hash == h && e->auth == a &&
        e->epoch == atomic_load_explicit(&g_vc_epoch, memory_order_relaxed) &&
        now >= e->verified_at && now < e->exp && e->nkeys == jose_keyring_count(auth_keyring(a)) &&
        memcmp(e->token, token.ptr, token.len) == 0) {
        enum auth_verdict v = vc_check(a, e);
        if (v != AUTH_OK)
            api__bearer_error(req, 0, v);
        else
            answer(req, a, now, e->user_id, e->username, e->has_role ? e->role : NULL);
        return;
    }
    jwtv_claims *c = api_claims_scratch();
    enum auth_verdict v = auth_verify_access(a, token, now, c);
    if (v == AUTH_OK && (!c->user_id || !header_safe(c->user_id) || !header_safe(c->username) ||
                         !header_safe(c->role)))
        v = AUTH_INVALID;
    if (v != AUTH_OK) {
        api__bearer_error(req, 0, v);
        return;
    }
    vc_put(e, a, token, h, now, c);
    answer(req, a, now, c->user_id, c->username, c->role);
}

/* ==== GET /auth/revocations ================================================================= */

static db_t *g_db;
static int64_t g_window_s; /* default look-back: the access-token lifetime */

struct rev_job {
    int64_t since, now;
    int rc;
    buf_t out;
};

static void rev_work(void *arg)
{
    struct rev_job *j = arg;
    db_revoked_list_t jl = {0};
    db_session_list_t sl = {0};
    db_watermark_list_t wl = {0};
    j->rc = db_revoked_list(g_db, j->now, &jl);
    if (j->rc == 0)
        j->rc = db_session_list_revoked(g_db, j->since, &sl);
    if (j->rc == 0)
        j->rc = db_watermark_list(g_db, j->since, &wl);
    if (j->rc == 0) {
        buf_printf(&j->out, "{\"now\":%" PRId64 ",\"since\":%" PRId64 ",\"jtis\":[", j->now,
                   j->since);
        for (size_t i = 0; i < jl.count; i++)
            buf_printf(&j->out, "%s{\"jti\":\"%s\",\"exp\":%" PRId64 "}", i ? "," : "",
                       jl.items[i].jti, jl.items[i].expires_at);
        buf_append_cstr(&j->out, "],\"sids\":[");
        for (size_t i = 0; i < sl.count; i++)
            buf_printf(&j->out,
                       "%s{\"sid\":\"%s\",\"user_id\":%" PRId64 ",\"revoked_at\":%" PRId64 "}",
                       i ? "," : "", sl.items[i].sid, sl.items[i].user_id, sl.items[i].revoked_at);
        buf_append_cstr(&j->out, "],\"users\":[");
        for (size_t i = 0; i < wl.count; i++)
            buf_printf(&j->out, "%s{\"user_id\":%" PRId64 ",\"revoke_before\":%" PRId64 "}",
                       i ? "," : "", wl.items[i].user_id, wl.items[i].revoke_before);
        buf_append_cstr(&j->out, "]}");
    }
    db_revoked_list_dispose(&jl);
    db_session_list_dispose(&sl);
    db_watermark_list_dispose(&wl);
}

static void rev_done(http_req_t *req, void *arg, int status)
{
    struct rev_job *j = arg;
    int rc = status != 0 ? status : j->rc;
    if (rc == 0) {
        http_resp_header_add(req, "Cache-Control", "no-store");
        http_respond(req, 200, API_JSON_CT, buf_str(&j->out));
    } else {
        api__failure(req, rc);
    }
    buf_dispose(&j->out);
    free(j);
}

/* Parses ?since= (Unix seconds, 0 .. now + 1 day). Returns false when present and bad. */
static bool parse_since(http_req_t *req, int64_t now, int64_t *since)
{
    str_t v;
    int rc = http_req_query(req, "since", &v);
    if (rc == ERR_DECLINED)
        return true;
    if (rc != 0 || v.len == 0 || v.len > 18)
        return false;
    int64_t s = 0;
    for (size_t i = 0; i < v.len; i++) {
        if (v.ptr[i] < '0' || v.ptr[i] > '9')
            return false;
        s = s * 10 + (v.ptr[i] - '0');
    }
    if (s > now + 86400)
        return false;
    *since = s;
    return true;
}

static void on_revocations(http_req_t *req)
{
    auth_t *a = req->route_data;
    jwtv_claims *c = api_claims_scratch();
    int64_t uid;
    if (api_authenticate_role(req, a, "admin", c, &uid) != 0)
        return;
    int64_t now = clock_now_s();
    int64_t since = now - g_window_s;
    if (!parse_since(req, now, &since)) {
        http_respond(req, 400, API_JSON_CT,
                     STR_LIT("{\"detail\":\"since must be Unix seconds\",\"code\":"
                             "\"invalid_request\",\"since\":[\"since must be Unix seconds\"]}"));
        return;
    }
    struct rev_job *j = xcalloc(1, sizeof *j);
    j->since = since;
    j->now = now;
    buf_init(&j->out, 64u << 20);
    if (http_pool_submit(req, rev_work, rev_done, j) != 0) {
        buf_dispose(&j->out);
        free(j);
        http_respond_error(req, ERR_UNAVAILABLE, NULL);
    }
}

/* See api.h. */
int api_introspect_register(http_router_t *router, auth_t *auth, struct db *db, int64_t window_s)
{
    atomic_fetch_add(&g_vc_epoch, 1);
    g_db = db;
    g_window_s = window_s > 0 ? window_s : 900;
    int rc = 0;
    rc |= http_router_add(router, HTTP_M_GET, "/auth/introspect", on_introspect, auth);
    rc |= http_router_add(router, HTTP_M_GET, "/auth/revocations", on_revocations, auth);
    return rc ? ERR_INVALID : 0;
}
