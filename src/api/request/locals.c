/*
 * locals.c - the per-request state of the request layer (http_req_t.slot) and what it
 * caches: the caller, that is the Bearer access token parsed (SimpleJWT's rules) and
 * verified once per request; and the authentication of protected routes on top of it
 * (user id, the admin address rule, the access-token fingerprint rule).
 */
#define LOG_MODULE "api"
#include <string.h>

#include "api/request/req.h"
#include "common/err.h"
#include "runtime/log.h"

/* See req.h. */
api_locals_t *api__locals(http_req_t *req)
{
    if (!req->slot) {
        api_locals_t *l = http_req_alloc(req, sizeof *l);
        memset(l, 0, sizeof *l);
        req->slot = l;
    }
    return req->slot;
}

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* See req.h. */
int api__bearer(const http_req_t *req, str_t *token)
{
    str_t h = http_req_header(req, "authorization");
    if (!h.ptr)
        return ERR_NOT_AUTHENTICATED;
    /* Fast path (every authenticated request): "Bearer <token>" and no byte <= ' ' in the
       token, checked 8 bytes at a time; the same answer as the split below. */
    if (h.len > 7 && memcmp(h.ptr, "Bearer ", 7) == 0) {
        const char *p = h.ptr + 7;
        size_t n = h.len - 7, i = 0;
        uint64_t low = 0, w;
        for (; i + 8 <= n; i += 8) {
            memcpy(&w, p + i, 8); /* a byte < 0x21 sets its high bit in low (exact) */
            low |= (w - 0x2121212121212121ull) & ~w & 0x8080808080808080ull;
        }
        for (; i < n; i++)
            low |= (unsigned char)p[i] <= ' ';
        if (!low) {
            *token = str_make(p, n);
            return 0;
        }
    }
    str_t parts[3];
    size_t n = 0, i = 0;
    while (i < h.len && n < 3) {
        while (i < h.len && is_ws(h.ptr[i]))
            i++;
        if (i >= h.len)
            break;
        size_t start = i;
        while (i < h.len && !is_ws(h.ptr[i]))
            i++;
        parts[n++] = str_make(h.ptr + start, i - start);
    }
    if (n == 0 || !str_eq_cstr(parts[0], "Bearer"))
        return ERR_NOT_AUTHENTICATED;
    if (n != 2)
        return ERR_BAD_AUTH_HEADER;
    *token = parts[1];
    return 0;
}

/* See req.h. */
const api_locals_t *api__caller(http_req_t *req, const api_ctx_t *ctx)
{
    api_locals_t *l = api__locals(req);
    if (l->caller_done)
        return l;
    l->caller_done = true;
    l->verdict = AUTH_INVALID;
    l->bearer_rc = api__bearer(req, &l->token);
    if (l->bearer_rc == 0)
        l->verdict = auth_verify_token(ctx->auth, l->token, AUTH_TOKEN_ACCESS, 0, &l->ref);
    return l;
}

/* The memo of api__verify. */
struct api_verified {
    str_t token; /* a copy in the arena */
    enum auth_token_kind kind;
    enum auth_verdict verdict;
    auth_token_ref_t ref;
};

/* See req.h. */
const auth_token_ref_t *api__verify(http_req_t *req, const api_ctx_t *ctx, str_t token,
                                    enum auth_token_kind kind, enum auth_verdict *v)
{
    api_locals_t *l = api__locals(req);
    struct api_verified *m = l->other;
    if (m && m->kind == kind && str_eq(m->token, token)) {
        *v = m->verdict;
        return &m->ref;
    }
    if (!m) {
        m = http_req_alloc(req, sizeof *m);
        l->other = m;
    }
    m->token = str_make(http_req_strndup(req, token), token.len);
    m->kind = kind;
    m->verdict = auth_verify_token(ctx->auth, token, kind, 0, &m->ref);
    *v = m->verdict;
    return &m->ref;
}

/* See req.h. */
bool api__is_admin(const auth_token_ref_t *t)
{
    return t->has_role && strcmp(t->role, "admin") == 0;
}

/* JWTD_ADMIN_IP_ALLOWLIST: an admin's token only from those networks (logged refusal). */
static bool admin_address_ok(http_req_t *req, const api_ctx_t *ctx, const auth_token_ref_t *t)
{
    if (!ctx->admin_allowlist.count || !api__is_admin(t))
        return true;
    if (ip_net_list_contains(&ctx->admin_allowlist, http_req_client_addr(req)))
        return true;
    log_audit_warn(http_req_rid(req),
                   "event=ip_denied ip=%s role=admin rule=JWTD_ADMIN_IP_ALLOWLIST",
                   http_req_client_str(req));
    return false;
}

/* JWTD_FINGERPRINT_ACCESS: a bound access token only from the client it was bound to. */
static bool fingerprint_ok(http_req_t *req, const api_ctx_t *ctx, const auth_token_ref_t *t)
{
    char mine[AUTH_FPH_MAX + 1];
    if (!ctx->o.fingerprint_access || !t->fph[0])
        return true;
    if (api__fingerprint(req, ctx, mine) && strcmp(mine, t->fph) == 0)
        return true;
    log_audit_warn(http_req_rid(req), "event=fingerprint_mismatch token=access");
    return false;
}

/* See req.h. */
const api_locals_t *api__caller_presented(http_req_t *req, const api_ctx_t *ctx)
{
    const api_locals_t *l = api__caller(req, ctx);
    if (l->bearer_rc != 0) {
        api__bearer_error(req, ctx, l->bearer_rc, AUTH_INVALID);
        return NULL;
    }
    return l;
}

/* See req.h. */
const auth_token_ref_t *api__authenticate(http_req_t *req, const api_ctx_t *ctx)
{
    const api_locals_t *l = api__caller_presented(req, ctx);
    if (!l)
        return NULL;
    if (l->verdict != AUTH_OK) {
        api__bearer_error(req, ctx, 0, l->verdict);
        return NULL;
    }
    const auth_token_ref_t *t = &l->ref;
    if (t->user_id == INT64_MIN || !t->has_user_id) {
        http_resp_header_add(req, "WWW-Authenticate", API_WWW_INVALID);
        http_respond(req, 401, API_JSON_CT,
                     STR_LIT("{\"detail\":\"Token contained no recognizable user "
                             "identification\",\"code\":\"token_not_valid\"}"));
        return NULL;
    }
    if (!admin_address_ok(req, ctx, t)) {
        http_respond_error(req, ERR_PERMISSION, "Client address not allowed for this role.");
        return NULL;
    }
    if (!fingerprint_ok(req, ctx, t)) {
        api__bearer_error(req, ctx, 0, AUTH_INVALID);
        return NULL;
    }
    req->log_user_id = t->user_id; /* the access line names the user */
    return t;
}

/* See req.h. */
const auth_token_ref_t *api__authenticate_role(http_req_t *req, const api_ctx_t *ctx,
                                               const char *role)
{
    const auth_token_ref_t *t = api__authenticate(req, ctx);
    if (t && (!t->has_role || strcmp(t->role, role) != 0)) {
        http_respond_error(req, ERR_PERMISSION, NULL);
        return NULL;
    }
    return t;
}

/* See req.h. */
void api__on_me(http_req_t *req)
{
    const api_ctx_t *ctx = req->route_data;
    const auth_token_ref_t *t = api__authenticate(req, ctx);
    if (t)
        api__respond_user(req, ctx, t->user_id, false);
}
