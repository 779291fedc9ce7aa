/*
 * jwtv.c - the public jwtv library (include/jwtv/jwtv.h): a thin layer over jose/.
 *
 * Every public function (jwtv_*) is defined here and only here: src/lib/ is the library's
 * public surface, src/jose/ the engine behind it, which defines no jwtv_* symbol. A
 * jwtv_verifier is a jose key ring plus a private copy of the options. Verification is
 * jose_jwt_verify(); this file adds option validation, JWKS loading from files, error
 * names, algorithm names, the allocator and thread-cache hooks, and the accessors for
 * claims that have no field in jwtv_claims. Nothing here depends on anything beyond
 * OpenSSL, jansson and src/common/.
 */
#include "jwtv/jwtv.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/json_scan.h"
#include "jose/jose.h"

#define JWKS_FILE_MAX (1024 * 1024)

struct jwtv_verifier {
    jose_keyring_t *ring;
    jwtv_options opt;
    char *issuer;
    char *audience;
    char *token_type;
};

/* See jwtv.h. */
const char *jwtv_strerror(int err)
{
    switch (err) {
    case JWTV_OK:
        return "success";
#define JWTV_STRERROR_(name, val, msg)                                                             \
    case JWTV_##name:                                                                              \
        return msg;
        JWTV_ERRNO_MAP(JWTV_STRERROR_)
#undef JWTV_STRERROR_
    }
    return "unknown error";
}

/* See jwtv.h. */
const char *jwtv_errname(int err)
{
    switch (err) {
    case JWTV_OK:
        return "JWTV_OK";
#define JWTV_ERRNAME_(name, val, msg)                                                              \
    case JWTV_##name:                                                                              \
        return "JWTV_" #name;
        JWTV_ERRNO_MAP(JWTV_ERRNAME_)
#undef JWTV_ERRNAME_
    }
    return "JWTV_UNKNOWN";
}

/* See jwtv.h. */
const char *jwtv_version(void)
{
    return "0.1.0";
}

/* See jwtv.h. */
void jwtv_set_allocator(void *(*malloc_fn)(size_t), void *(*realloc_fn)(void *, size_t),
                        void (*free_fn)(void *))
{
    jose__set_allocator(malloc_fn, realloc_fn, free_fn);
}

/* See jwtv.h. */
void jwtv_thread_cleanup(void)
{
    jose_thread_cleanup();
}

/* See jwtv.h. */
unsigned jwtv_alg_from_name(const char *name)
{
    const jose_alg_t *a = name ? jose_alg_by_name(str_cstr(name)) : NULL;
    return a ? a->bit : 0;
}

/* See jwtv.h. */
void jwtv_options_init(jwtv_options *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->algorithms = JWTV_ALG_ALL;
    opt->required = JWTV_REQUIRE_EXP;
}

static int dup_opt(const char *s, char **dst)
{
    *dst = NULL;
    if (!s)
        return 0;
    return (*dst = jose__strndup(s, strlen(s))) ? 0 : JWTV_ENOMEM;
}

/* See jwtv.h. */
void jwtv_verifier_free(jwtv_verifier *v)
{
    if (!v)
        return;
    jose_keyring_release(v->ring);
    jose__free(v->issuer);
    jose__free(v->audience);
    jose__free(v->token_type);
    jose__free(v);
}

/* See jwtv.h. */
int jwtv_verifier_new_jwks(const char *jwks, size_t len, const jwtv_options *opt,
                           jwtv_verifier **out)
{
    jwtv_verifier *v;
    int rc;
    if (!out)
        return JWTV_EINVAL;
    *out = NULL;
    if (!jwks || !opt || opt->leeway_s < 0 || opt->leeway_s > 3600 ||
        !(opt->algorithms & JWTV_ALG_ALL) || (opt->algorithms & ~JWTV_ALG_ALL))
        return JWTV_EINVAL;
    if (!(v = jose__calloc(1, sizeof *v)))
        return JWTV_ENOMEM;
    v->opt = *opt;
    if (!(v->ring = jose_keyring_new()) || dup_opt(opt->issuer, &v->issuer) ||
        dup_opt(opt->audience, &v->audience) || dup_opt(opt->token_type, &v->token_type)) {
        rc = JWTV_ENOMEM;
        goto fail;
    }
    v->opt.issuer = v->issuer;
    v->opt.audience = v->audience;
    v->opt.token_type = v->token_type;
    if ((rc = jose_keyring_add_jwks(v->ring, str_make(jwks, len), JOSE_ROLE_TRUSTED, NULL, NULL,
                                    0)) != 0)
        goto fail;
    *out = v;
    return 0;
fail:
    jwtv_verifier_free(v);
    return rc;
}

/* See jwtv.h. */
int jwtv_verifier_new_jwks_file(const char *path, const jwtv_options *opt, jwtv_verifier **out)
{
    FILE *f;
    char *data;
    size_t n;
    int rc;
    if (!out || !path)
        return JWTV_EINVAL;
    *out = NULL;
    if (!(f = fopen(path, "rb")))
        return JWTV_EIO;
    if (!(data = jose__malloc(JWKS_FILE_MAX + 1))) {
        fclose(f);
        return JWTV_ENOMEM;
    }
    n = fread(data, 1, JWKS_FILE_MAX + 1, f);
    rc = ferror(f) ? JWTV_EIO : n > JWKS_FILE_MAX ? JWTV_EJWKS : 0;
    fclose(f);
    if (rc == 0)
        rc = jwtv_verifier_new_jwks(data, n, opt, out);
    jose__free(data);
    return rc;
}

/* See jwtv.h. */
size_t jwtv_verifier_key_count(const jwtv_verifier *v)
{
    return v ? jose_keyring_count(v->ring) : 0;
}

/* See jwtv.h. */
int jwtv_verify_ex(const jwtv_verifier *v, const char *token, size_t len, const char *token_type,
                   int64_t now, jwtv_claims *out)
{
    if (!out)
        return JWTV_EINVAL;
    if (!v || !token) {
        memset(out, 0, offsetof(jwtv_claims, _storage));
        out->_used = 0;
        return JWTV_EINVAL;
    }
    if (!token_type)
        return jose_jwt_verify(v->ring, &v->opt, str_make(token, len), now, out);
    jwtv_options o = v->opt;
    o.token_type = token_type;
    return jose_jwt_verify(v->ring, &o, str_make(token, len), now, out);
}

/* See jwtv.h. */
int jwtv_verify(const jwtv_verifier *v, const char *token, size_t len, jwtv_claims *out)
{
    return jwtv_verify_ex(v, token, len, NULL, 0, out);
}

/* Finds a member of the verified payload. Returns its token index or -1. */
static long find_claim(const jwtv_claims *c, const char *name, json_tok_t *toks)
{
    size_t nt;
    if (!c || !c->payload || !name)
        return -1;
    if (json_scan(c->payload, c->payload_len, toks, JWTV_MAX_JSON_TOKENS, JWTV_MAX_JSON_DEPTH,
                  &nt) != 0)
        return -1;
    return json_obj_get(c->payload, toks, 0, name);
}

/* See jwtv.h. */
int jwtv_claims_get_string(const jwtv_claims *c, const char *name, char *out, size_t cap)
{
    json_tok_t toks[JWTV_MAX_JSON_TOKENS];
    long i = find_claim(c, name, toks);
    if (!out || cap == 0)
        return JWTV_EINVAL;
    if (i < 0 || toks[i].type != JSON_T_STRING)
        return JWTV_ECLAIM;
    size_t n = json_str_unescape(c->payload, &toks[i], out, cap - 1);
    if (n == (size_t)-1)
        return JWTV_ETOOLARGE;
    if (memchr(out, '\0', n))
        return JWTV_ECLAIM;
    out[n] = '\0';
    return 0;
}

/* See jwtv.h. */
int jwtv_claims_get_int(const jwtv_claims *c, const char *name, int64_t *out)
{
    json_tok_t toks[JWTV_MAX_JSON_TOKENS];
    long i = find_claim(c, name, toks);
    if (!out)
        return JWTV_EINVAL;
    if (i < 0 || json_tok_int64(c->payload, &toks[i], out) != 0)
        return JWTV_ECLAIM;
    return 0;
}
