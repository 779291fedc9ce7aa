/*
 * device.c - device tokens: OWASP's "device cookie" against online guessing without lockout.
 *
 * A successful login earns the client a device token for that username; a later login
 * attempt for the same username that presents a valid one is a "trusted device": it is
 * counted against that device only (guard.c), so guessing from elsewhere, which locks out
 * the account's untrusted clients, never locks out its owner's devices.
 *
 * A device token is a compact JWS signed by the ring's ACTIVE key (so every instance
 * verifies it, and a key rotation keeps the retired key for verification) with the payload
 *   {"device":"<32 hex: a random id>","for":"<username>","iat":N,"exp":N}
 * It carries no token_type, user_id or sub: no verifier of jwtd's (or SimpleJWT's) tokens
 * accepts it as an access or refresh token, and it names no user to a resource server.
 *
 * DESIGN
 * - Only keys of jwtd's own (ACTIVE, NEXT, RETIRED) verify a device token, never a TRUSTED
 *   key of another issuer: a device token is jwtd's own statement.
 * - The username is compared exactly, as the login looks it up: a token issued to "alice"
 *   does not vouch for a login as "Alice".
 * - Nothing is stored: a device token is valid until it expires. Its failures are counted
 *   under its id (guard.c), so a stolen token buys its thief only that device's budget.
 */
#define LOG_MODULE "auth"
#include <inttypes.h>
#include <string.h>

#include <jansson.h>

#include "auth/auth_internal.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/jsonw.h"
#include "runtime/log.h"

/* See auth.h. */
bool auth_device_tokens_enabled(const auth_t *a)
{
    return a->opts.device_token_lifetime_s > 0;
}

/* See auth.h. */
int auth_device_token_issue(auth_t *a, const char *username, int64_t now, char *out, size_t cap,
                            size_t *out_len)
{
    if (!auth_device_tokens_enabled(a) || !username || !*username)
        return ERR_INVALID;
    char id[33], payload[1024];
    if (auth__random_id(id) != 0)
        return ERR_INTERNAL;
    jsonw_t w;
    jsonw_init(&w, payload, sizeof payload);
    jsonw_raw(&w, "{\"device\":");
    jsonw_str(&w, id);
    jsonw_raw(&w, ",\"for\":");
    jsonw_str(&w, username);
    jsonw_raw(&w, ",\"iat\":");
    jsonw_int(&w, now);
    jsonw_raw(&w, ",\"exp\":");
    jsonw_int(&w, now + a->opts.device_token_lifetime_s);
    jsonw_raw(&w, "}");
    if (jsonw_failed(&w))
        return ERR_TOO_LARGE;
    int rc = jose_jws_sign(auth__live(a)->sign_key, STR_NULL, str_make(w.buf, jsonw_len(&w)), out,
                           cap, out_len);
    if (rc != 0) {
        log_error("msg=\"device token signing failed\" err=%s", jwtv_errname(rc));
        return ERR_INTERNAL;
    }
    return 0;
}

/* See auth_internal.h. */
bool auth__own_key(const auth_t *a, str_t token)
{
    buf_t h, p;
    buf_init(&h, 4096);
    buf_init(&p, 4096);
    bool own = false;
    const jose_keyring_t *ring = auth__live(a)->ring;
    if (jose_jws_decode_unverified(token, &h, &p) == 0) {
        json_t *j = json_loadb(h.data, h.len, 0, NULL);
        json_t *kid = j ? json_object_get(j, "kid") : NULL;
        const jose_key_t *k =
            json_is_string(kid)
                ? jose_keyring_find(ring, str_make(json_string_value(kid), json_string_length(kid)))
                : NULL;
        for (size_t i = 0; k && i < jose_keyring_count(ring); i++) {
            enum jose_key_role role;
            if (jose_keyring_at(ring, i, &role) == k)
                own = role != JOSE_ROLE_TRUSTED;
        }
        json_decref(j);
    }
    buf_dispose(&h);
    buf_dispose(&p);
    return own;
}

/* A device id as issued: exactly 32 lowercase hex characters. */
static bool is_device_id(const char *s, size_t n)
{
    if (n != 32)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

/* See auth.h. */
bool auth_device_token_check(const auth_t *a, str_t token, const char *username, int64_t now,
                             char device[AUTH_DEVICE_ID_LEN + 1])
{
    device[0] = '\0';
    if (!auth_device_tokens_enabled(a) || !token.len || token.len > AUTH_TOKEN_MAX || !username ||
        !*username || !auth__own_key(a, token))
        return false;
    buf_t p;
    buf_init(&p, AUTH_TOKEN_MAX);
    bool ok = jose_jws_verify(auth__live(a)->ring, auth__live(a)->v_any.algorithms, token, &p) == 0;
    json_t *j = ok ? json_loadb(p.data, p.len, JSON_REJECT_DUPLICATES, NULL) : NULL;
    buf_dispose(&p);
    json_t *id = json_object_get(j, "device"), *for_ = json_object_get(j, "for");
    json_t *exp = json_object_get(j, "exp");
    ok = j && json_is_string(id) && is_device_id(json_string_value(id), json_string_length(id)) &&
         json_is_string(for_) && json_string_length(for_) == strlen(username) &&
         memcmp(json_string_value(for_), username, json_string_length(for_)) == 0 &&
         json_is_integer(exp) && json_integer_value(exp) > now;
    if (ok)
        memcpy(device, json_string_value(id), AUTH_DEVICE_ID_LEN + 1);
    json_decref(j);
    return ok;
}
