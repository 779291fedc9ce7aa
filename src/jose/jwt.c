/*
 * jwt.c - JWT claims (RFC 7519 §4; the token claims of docs/api.md): decode the payload into the
 * caller's jwtv_claims storage, extract the registered and jwtd claims as typed fields, and apply
 * the checks of jwtv_options.
 *
 * Rules: the payload is a JSON object (strict, duplicate members rejected). exp/nbf/iat
 * are JSON integers (no fraction, no exponent) in [0, JWTV_MAX_NUMERIC_DATE]; iss, jti,
 * token_type, username, email and role are strings; user_id, sub and sid are strings or
 * integers (older SimpleJWT issues an integer user_id); premium is a boolean; aud is a
 * string or an array of strings. A known claim of the wrong type is JWTV_ECLAIM even when
 * no option asks for it. Strings must not contain NUL. Checks run in this order: required
 * claims, exp, nbf, iat, iss, aud, token_type, jti format.
 *
 * Runs only after the signature has been verified (jws.c). Allocation-free.
 */
#include "jose/jose.h"

#include <string.h>

#include "common/b64url.h"
#include "common/json_scan.h"
#include "jose/jose_internal.h"

#define LEEWAY_MAX INT64_C(86400)

/* See jose_internal.h. */
const char *jose__claims_store(jwtv_claims *out, const char *p, size_t n)
{
    if (n + 1 > sizeof out->_storage - out->_used)
        return NULL;
    char *d = out->_storage + out->_used;
    memcpy(d, p, n);
    d[n] = '\0';
    out->_used += n + 1;
    return d;
}

/* Unescapes a string token into storage. Returns JWTV_OK, JWTV_ECLAIM or JWTV_ETOOLARGE. */
static int store_tok(jwtv_claims *out, const char *text, const json_tok_t *t, const char **dst)
{
    char *d = out->_storage + out->_used;
    size_t room = sizeof out->_storage - out->_used;
    if (room < 1)
        return JWTV_ETOOLARGE;
    size_t n = json_str_unescape(text, t, d, room - 1);
    if (n == (size_t)-1)
        return JWTV_ETOOLARGE;
    /* raw JSON text cannot hold a NUL byte (control characters are rejected): only an
     * escape can produce one */
    if (t->has_escape && memchr(d, '\0', n))
        return JWTV_ECLAIM;
    d[n] = '\0';
    out->_used += n + 1;
    *dst = d;
    return 0;
}

static int get_date(const char *text, const json_tok_t *t, int64_t *v)
{
    if (json_tok_int64(text, t, v) != 0 || *v < 0 || *v > JWTV_MAX_NUMERIC_DATE)
        return JWTV_ECLAIM;
    return 0;
}

static int get_string(jwtv_claims *out, const char *text, const json_tok_t *t, const char **dst)
{
    if (t->type != JSON_T_STRING)
        return JWTV_ECLAIM;
    return store_tok(out, text, t, dst);
}

/* A string, or an integer given back in decimal (ids). */
static int get_id(jwtv_claims *out, const char *text, const json_tok_t *t, const char **dst)
{
    if (t->type == JSON_T_NUMBER) {
        int64_t v;
        if (json_tok_int64(text, t, &v) != 0)
            return JWTV_ECLAIM;
        *dst = jose__claims_store(out, text + t->start, t->len);
        return *dst ? 0 : JWTV_ETOOLARGE;
    }
    return get_string(out, text, t, dst);
}

static bool is_jti(const char *s)
{
    size_t i = 0;
    for (; s[i]; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return i == 32;
}

static int check_aud(const char *text, const json_tok_t *toks, long aud, const char *want)
{
    size_t wl;
    if (aud < 0)
        return want ? JWTV_EAUDIENCE : 0;
    const json_tok_t *a = &toks[aud];
    if (a->type == JSON_T_STRING) {
        if (!want)
            return JWTV_EAUDIENCE;
        wl = strlen(want);
        return json_str_eq(text, a, want, wl) ? 0 : JWTV_EAUDIENCE;
    }
    if (a->type != JSON_T_ARRAY)
        return JWTV_ECLAIM;
    bool found = false;
    wl = want ? strlen(want) : 0;
    for (uint32_t i = (uint32_t)aud + 1; i < a->next; i = toks[i].next) {
        if (toks[i].type != JSON_T_STRING)
            return JWTV_ECLAIM;
        if (want && json_str_eq(text, &toks[i], want, wl))
            found = true;
    }
    return found ? 0 : JWTV_EAUDIENCE;
}

/* Reads one member of the payload (name n, value token v at index value) into out; the
   index of aud is kept for check_aud. Returns 0 or JWTV_ECLAIM for a known claim of the
   wrong type. */
static int read_member(jwtv_claims *out, const char *text, str_t n, const json_tok_t *v, long value,
                       long *aud)
{
    int rc = 0;
    switch (n.ptr[0]) {
    case 'a':
        if (str_eq_cstr(n, "aud"))
            *aud = value;
        break;
    case 'e':
        if (str_eq_cstr(n, "exp")) {
            rc = get_date(text, v, &out->exp);
            out->has_exp = true;
        } else if (str_eq_cstr(n, "email")) {
            rc = get_string(out, text, v, &out->email);
        }
        break;
    case 'i':
        if (str_eq_cstr(n, "iat")) {
            rc = get_date(text, v, &out->iat);
            out->has_iat = true;
        } else if (str_eq_cstr(n, "iss")) {
            rc = get_string(out, text, v, &out->iss);
        }
        break;
    case 'j':
        if (str_eq_cstr(n, "jti"))
            rc = get_string(out, text, v, &out->jti);
        break;
    case 'n':
        if (str_eq_cstr(n, "nbf")) {
            rc = get_date(text, v, &out->nbf);
            out->has_nbf = true;
        }
        break;
    case 'p':
        if (str_eq_cstr(n, "premium")) {
            if (v->type != JSON_T_TRUE && v->type != JSON_T_FALSE)
                rc = JWTV_ECLAIM;
            out->has_premium = true;
            out->premium = v->type == JSON_T_TRUE;
        }
        break;
    case 'r':
        if (str_eq_cstr(n, "role"))
            rc = get_string(out, text, v, &out->role);
        break;
    case 's':
        if (str_eq_cstr(n, "sub"))
            rc = get_id(out, text, v, &out->sub);
        else if (str_eq_cstr(n, "sid"))
            rc = get_id(out, text, v, &out->sid);
        break;
    case 't':
        if (str_eq_cstr(n, "token_type"))
            rc = get_string(out, text, v, &out->token_type);
        break;
    case 'u':
        if (str_eq_cstr(n, "user_id"))
            rc = get_id(out, text, v, &out->user_id);
        else if (str_eq_cstr(n, "username"))
            rc = get_string(out, text, v, &out->username);
        break;
    default:
        break;
    }
    return rc;
}

/* Applies jwtv_options to the extracted claims, in the order of the opening comment. */
static int check_claims(const jwtv_options *opt, const jwtv_claims *out, const char *text,
                        const json_tok_t *toks, long aud, int64_t now)
{
    int rc;
    unsigned req = opt->required;
    if (((req & JWTV_REQUIRE_EXP) && !out->has_exp) ||
        ((req & JWTV_REQUIRE_IAT) && !out->has_iat) ||
        ((req & JWTV_REQUIRE_NBF) && !out->has_nbf) || ((req & JWTV_REQUIRE_JTI) && !out->jti) ||
        ((req & JWTV_REQUIRE_SUB) && !out->sub) ||
        ((req & JWTV_REQUIRE_TOKEN_TYPE) && !out->token_type) ||
        ((req & JWTV_REQUIRE_USER_ID) && !out->user_id))
        return JWTV_ECLAIM;
    int64_t leeway = opt->leeway_s < 0            ? 0
                     : opt->leeway_s > LEEWAY_MAX ? LEEWAY_MAX
                                                  : opt->leeway_s;
    if (out->has_exp && now >= out->exp + leeway)
        return JWTV_EEXPIRED;
    if (out->has_nbf && out->nbf > now + leeway)
        return JWTV_ENOTYET;
    if (out->has_iat && out->iat > now + leeway)
        return JWTV_EIAT;
    if (opt->issuer && (!out->iss || strcmp(out->iss, opt->issuer) != 0))
        return JWTV_EISSUER;
    if ((rc = check_aud(text, toks, aud, opt->audience)) != 0)
        return rc;
    if (opt->token_type && opt->token_type[0] &&
        (!out->token_type || strcmp(out->token_type, opt->token_type) != 0))
        return JWTV_ETOKEN_TYPE;
    if (out->jti && !(opt->flags & JWTV_FLAG_ANY_JTI) && !is_jti(out->jti))
        return JWTV_ECLAIM;
    if (out->jti && strlen(out->jti) > 255)
        return JWTV_ECLAIM;
    return 0;
}

/* See jose_internal.h. */
int jose__claims_check(const jwtv_options *opt, const char *pl_b64, size_t pl_len, int64_t now,
                       jwtv_claims *out)
{
    json_tok_t toks[JWTV_MAX_JSON_TOKENS];
    size_t len, nt;
    long aud = -1;
    int rc, jrc;
    char *text = out->_storage + out->_used;

    if (pl_len > B64URL_ENC_LEN(JWTV_MAX_PAYLOAD_BYTES))
        return JWTV_ETOOLARGE;
    if (!b64url_decode(pl_b64, pl_len, text, JWTV_MAX_PAYLOAD_BYTES, &len))
        return JWTV_EMALFORMED;
    text[len] = '\0';
    out->_used += len + 1;
    out->payload = text;
    out->payload_len = len;
    if ((jrc = json_scan(text, len, toks, JWTV_MAX_JSON_TOKENS, JWTV_MAX_JSON_DEPTH, &nt)) != 0)
        return jrc == JSON_E_TOOMANY || jrc == JSON_E_DEPTH ? JWTV_ETOOLARGE : JWTV_EMALFORMED;
    if (toks[0].type != JSON_T_OBJECT)
        return JWTV_EMALFORMED;

    for (uint32_t k = 1; k < toks[0].next; k = toks[k + 1].next) {
        const json_tok_t *key = &toks[k];
        char buf[12];
        str_t n = str_make(text + key->start, key->len);
        if (key->has_escape) {
            size_t nl = json_str_unescape(text, key, buf, sizeof buf);
            if (nl == (size_t)-1)
                continue;
            n = str_make(buf, nl);
        }
        if (n.len < 3 || n.len > 10)
            continue;
        if ((rc = read_member(out, text, n, &toks[k + 1], (long)k + 1, &aud)) != 0)
            return rc;
    }
    return check_claims(opt, out, text, toks, aud, now);
}
