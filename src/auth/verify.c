/*
 * verify.c - the hot path: token verification (jose's signature and claims checks, the
 * token type, then the revocation index), the verdicts and their SimpleJWT messages, and
 * the token reference the rest of jwtd works with. Every verification is counted once in
 * the metrics, by algorithm and result (the tamper classification).
 *
 * Access tokens verified through auth_verify_token go through the per-thread cache of
 * vcache.c; the revocation index is asked on every call, cached or not.
 */
#define LOG_MODULE "auth"
#include <limits.h>
#include <string.h>

#include "auth/auth_internal.h"
#include "auth/mfa.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/json_scan.h"
#include "runtime/metrics.h"

/* See auth.h. */
const char *auth_verdict_message(enum auth_verdict v)
{
    switch (v) {
    case AUTH_OK:
        return "";
    case AUTH_WRONG_TYPE:
        return "Token has wrong type";
    case AUTH_REVOKED:
        return "Token is blacklisted";
    case AUTH_EXPIRED:
        return "Token is expired";
    case AUTH_INVALID:
    default:
        return "Token is invalid";
    }
}

/* See auth.h. */
int auth_parse_user_id(const char *s, int64_t *out)
{
    uint64_t v;
    if (!s || strlen(s) > 19 || !str_to_u64(str_cstr(s), INT64_MAX, &v))
        return ERR_INVALID;
    *out = (int64_t)v;
    return 0;
}

/* Copies claim s (may be NULL) into dst of cap bytes. False when it does not fit. */
static bool copy_claim(char *dst, size_t cap, const char *s, bool *present)
{
    size_t n = s ? strlen(s) : 0;
    if (present)
        *present = s != NULL;
    if (n >= cap)
        return false;
    memcpy(dst, s ? s : "", n);
    dst[n] = '\0';
    return true;
}

/* Reads "amr" (RFC 8176 values jwtd knows; others ignored) and "auth_time" into out. A token
   without auth_time (issued before jwtd wrote it) costs no scan. */
static void read_how(const jwtv_claims *c, auth_token_ref_t *out)
{
    if (!c->payload || !memmem(c->payload, c->payload_len, "\"auth_time\"", 11))
        return;
    json_tok_t toks[JWTV_MAX_JSON_TOKENS];
    size_t nt;
    if (json_scan(c->payload, c->payload_len, toks, JWTV_MAX_JSON_TOKENS, JWTV_MAX_JSON_DEPTH,
                  &nt) != 0)
        return;
    long t = json_obj_get(c->payload, toks, 0, "auth_time");
    int64_t at;
    if (t < 0 || toks[t].type != JSON_T_NUMBER || json_tok_int64(c->payload, &toks[t], &at) != 0 ||
        at <= 0)
        return;
    out->auth_time = at;
    long arr = json_obj_get(c->payload, toks, 0, "amr");
    if (arr < 0 || toks[arr].type != JSON_T_ARRAY)
        return;
    for (uint32_t k = (uint32_t)arr + 1; k < toks[arr].next; k = toks[k].next)
        if (toks[k].type == JSON_T_STRING && !toks[k].has_escape)
            out->amr |= auth_amr_bit(c->payload + toks[k].start, toks[k].len);
}

/* See auth.h. */
int auth_token_ref_from_claims(const jwtv_claims *c, auth_token_ref_t *out)
{
    memset(out, 0, sizeof *out);
    if (!c->jti || !copy_claim(out->jti, sizeof out->jti, c->jti, NULL) ||
        !copy_claim(out->sid, sizeof out->sid, c->sid, NULL) ||
        !copy_claim(out->user_id_str, sizeof out->user_id_str, c->user_id, &out->has_user_id))
        return ERR_INVALID;
    if (auth_parse_user_id(c->user_id ? c->user_id : c->sub, &out->user_id) != 0)
        out->user_id = INT64_MIN;
    out->iat = c->has_iat ? c->iat : 0;
    out->exp = c->has_exp ? c->exp : 0;
    out->is_refresh = c->token_type && strcmp(c->token_type, "refresh") == 0;
    if (!out->is_refresh &&
        (!copy_claim(out->username, sizeof out->username, c->username, &out->has_username) ||
         !copy_claim(out->role, sizeof out->role, c->role, &out->has_role)))
        return ERR_INVALID;
    if (jwtv_claims_get_string(c, "fph", out->fph, sizeof out->fph) != 0)
        out->fph[0] = '\0';
    out->is_mfa_enroll = c->token_type && strcmp(c->token_type, "mfa_enroll") == 0;
    read_how(c, out);
    return 0;
}

/* The tamper class of a jose verification error (a metrics result). */
static enum metrics_result reject_class(int jose_rc)
{
    switch (jose_rc) {
    case JWTV_OK:
        return METRICS_R_OK;
    case JWTV_EALG:
    case JWTV_EUNSUPPORTED_ALG:
        return METRICS_R_BAD_ALG;
    case JWTV_ESIGNATURE:
        return METRICS_R_BAD_SIGNATURE;
    case JWTV_ENOKEY:
        return METRICS_R_UNKNOWN_KID;
    case JWTV_EEXPIRED:
        return METRICS_R_EXPIRED;
    case JWTV_ENOTYET:
    case JWTV_EIAT:
    case JWTV_EISSUER:
    case JWTV_EAUDIENCE:
        return METRICS_R_INVALID_CLAIMS;
    case JWTV_ETOKEN_TYPE:
        return METRICS_R_WRONG_TYPE;
    default: /* EMALFORMED, ETOOLARGE, EHEADER, ECRIT, ECLAIM, ... */
        return METRICS_R_MALFORMED;
    }
}

/* The audit name of a tamper class, NULL for a verdict that is not one (audit.h). */
static const char *tamper_name(enum metrics_result r)
{
    switch (r) {
    case METRICS_R_BAD_ALG:
        return "bad_alg";
    case METRICS_R_BAD_SIGNATURE:
        return "bad_signature";
    case METRICS_R_UNKNOWN_KID:
        return "unknown_kid";
    case METRICS_R_MALFORMED:
        return "malformed";
    default:
        return NULL;
    }
}

/* The index's view of a reference: ids parsed into jti and sid (ref->jti/sid NULL when
   absent or not an id). */
static void index_ref(const auth_token_ref_t *r, store_id_t *jti, store_id_t *sid,
                      store_token_ref_t *out)
{
    out->jti = r->jti[0] && store_id_parse(str_cstr(r->jti), jti) == 0 ? jti : NULL;
    out->sid = r->sid[0] && store_id_parse(str_cstr(r->sid), sid) == 0 ? sid : NULL;
    out->user_id = r->user_id;
    out->iat = r->iat ? r->iat : INT64_MIN;
}

/* AUTH_REVOKED or AUTH_OK by the revocation index, counted under alg. O(1), no I/O. */
static enum auth_verdict check_revoked(auth_t *a, const auth_token_ref_t *r, enum metrics_alg alg)
{
    store_id_t jti, sid;
    store_token_ref_t ref;
    index_ref(r, &jti, &sid, &ref);
    if (store_check(a->store, &ref) != STORE_NOT_REVOKED) {
        metrics_verified(alg, METRICS_R_REVOKED);
        return AUTH_REVOKED;
    }
    metrics_verified(alg, METRICS_R_OK);
    return AUTH_OK;
}

static const jwtv_options *options_for(const auth_live_t *l, enum auth_token_kind kind)
{
    return kind == AUTH_TOKEN_ACCESS    ? &l->v_access
           : kind == AUTH_TOKEN_REFRESH ? &l->v_refresh
                                        : &l->v_any;
}

/* Signature and claims (jose), then the index; c holds the claims on AUTH_OK. OUT: *alg,
   the metrics label the verdict was counted under, and *tamper, the tamper class of a
   refused token (NULL when not one). */
static enum auth_verdict verify_claims(auth_t *a, const auth_live_t *l, enum auth_token_kind kind,
                                       str_t token, int64_t now, jwtv_claims *c,
                                       auth_token_ref_t *ref, enum metrics_alg *alg,
                                       const char **tamper)
{
    *tamper = NULL;
    int rc = jose_jwt_verify(l->ring, options_for(l, kind), token, now, c);
    /* jose names the token's algorithm, for a rejected token too when its header was
       readable: every verdict is counted under it */
    *alg = metrics_alg_of(jose_claims_alg(c));
    if (rc != 0) {
        enum metrics_result r = reject_class(rc);
        metrics_verified(*alg, r);
        *tamper = tamper_name(r);
        return rc == JWTV_ETOKEN_TYPE ? AUTH_WRONG_TYPE
               : rc == JWTV_EEXPIRED  ? AUTH_EXPIRED
                                      : AUTH_INVALID;
    }
    if (auth_token_ref_from_claims(c, ref) != 0) {
        metrics_verified(*alg, METRICS_R_INVALID_CLAIMS);
        return AUTH_INVALID;
    }
    return check_revoked(a, ref, *alg);
}

/* See auth.h. */
enum auth_verdict auth_verify_token(auth_t *a, str_t token, enum auth_token_kind kind, int64_t now,
                                    auth_token_ref_t *out)
{
    static _Thread_local jwtv_claims scratch; /* 13 KiB: not on every request's stack */
    enum metrics_alg alg;
    const auth_live_t *l = auth__live(a);
    if (now == 0)
        now = clock_now_s();
    if (kind == AUTH_TOKEN_ACCESS) {
        int cached_alg;
        const auth_token_ref_t *hit = auth__vcache_get(l->gen, token, now, &cached_alg);
        if (hit) {
            enum auth_verdict v = check_revoked(a, hit, (enum metrics_alg)cached_alg);
            if (v == AUTH_OK)
                *out = *hit;
            else
                memset(out, 0, sizeof *out);
            return v;
        }
    }
    const char *tamper;
    enum auth_verdict v = verify_claims(a, l, kind, token, now, &scratch, out, &alg, &tamper);
    if (v != AUTH_OK) {
        memset(out, 0, sizeof *out);
        out->tamper = tamper;
        return v;
    }
    if (kind == AUTH_TOKEN_ACCESS)
        auth__vcache_put(l->gen, token, now, out, (int)alg);
    return v;
}

/* The claims-view variants: verify, then the index, counted the same way. */
static enum auth_verdict verify_full(auth_t *a, enum auth_token_kind kind, str_t token, int64_t now,
                                     jwtv_claims *c)
{
    auth_token_ref_t ref;
    enum metrics_alg alg;
    const char *tamper;
    if (now == 0)
        now = clock_now_s();
    enum auth_verdict v = verify_claims(a, auth__live(a), kind, token, now, c, &ref, &alg, &tamper);
    if (v != AUTH_OK)
        memset(c, 0, sizeof *c);
    return v;
}

/* See auth.h. */
enum auth_verdict auth_verify_access(auth_t *a, str_t token, int64_t now, jwtv_claims *claims)
{
    return verify_full(a, AUTH_TOKEN_ACCESS, token, now, claims);
}

/* See auth.h. */
enum auth_verdict auth_verify_refresh(auth_t *a, str_t token, int64_t now, jwtv_claims *claims)
{
    return verify_full(a, AUTH_TOKEN_REFRESH, token, now, claims);
}

/* See auth.h. */
enum auth_verdict auth_verify_any(auth_t *a, str_t token, int64_t now, jwtv_claims *claims)
{
    return verify_full(a, AUTH_TOKEN_ANY, token, now, claims);
}
