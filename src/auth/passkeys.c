/*
 * passkeys.c - the passkey use cases (auth.h "passkeys"): registration and sign-in options,
 * verification of the browser's responses through auth/webauthn.h, the webauthn_credentials
 * table (statements of this module on db's runner) and the challenges in the shared store.
 *
 * DESIGN: a challenge is a cache entry of the store, "webauthn:<kind>:<id>" -> one line of
 * what the response must match, with the ceremony's timeout as TTL (and as an expiry in the
 * line, for a store that keeps entries a little longer). Single use is a one-event rate
 * bucket "webauthn-once:<id>" consumed before the entry is read: the bucket's script is
 * atomic on Redis and under a lock locally, so of two responses to one challenge exactly
 * one goes on, on any instance. A registration's challenge is keyed by its own base64url
 * value (the options must stay the standard JSON, which has no room for an id); a sign-in's
 * by the "challenge_id" the options add.
 */
#define LOG_MODULE "auth"
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/rand.h>

#include "auth/auth_internal.h"
#include "auth/mfa.h"
#include "auth/webauthn.h"
#include "common/b64url.h"
#include "common/err.h"
#include "common/jsonw.h"
#include "common/text.h"
#include "runtime/alloc.h"
#include "runtime/audit.h"
#include "runtime/log.h"

#define CHALLENGE_B64 B64URL_ENC_LEN(WA_CHALLENGE_LEN) /* 43 */
#define HANDLE_LEN    32
#define NAME_MAX_CH   64
#define CH_LINE_MAX   256
#define KEY_MAX       128
#define CRED_B64_MAX  B64URL_ENC_LEN(WA_MAX_CRED_ID)

/* ==== statements ============================================================================ */

static const db_stmt_def_t S_HANDLE = {
    "webauthn_handle", "SELECT user_handle FROM webauthn_credentials WHERE user_id = ?1 LIMIT 1",
    NULL, NULL};
static const db_stmt_def_t S_IDS = {
    "webauthn_ids",
    "SELECT credential_id, transports FROM webauthn_credentials WHERE user_id = ?1 ORDER BY id",
    NULL, NULL};
static const db_stmt_def_t S_INSERT = {
    "webauthn_insert",
    "INSERT INTO webauthn_credentials (user_id, credential_id, user_handle, public_key, alg, "
    "sign_count, transports, name, aaguid, attestation, backup_eligible, backup_state, "
    "uv_initialized, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, "
    "?13, ?14) RETURNING id",
    NULL, NULL};
static const db_stmt_def_t S_BY_CRED = {
    "webauthn_by_credential",
    "SELECT id, user_id, user_handle, public_key, alg, sign_count FROM webauthn_credentials "
    "WHERE credential_id = ?1",
    NULL, NULL};
static const db_stmt_def_t S_USE = {
    "webauthn_use",
    "UPDATE webauthn_credentials SET sign_count = ?1, last_used_at = ?2, backup_state = ?3 "
    "WHERE id = ?4 AND sign_count = ?5",
    NULL, NULL};
static const db_stmt_def_t S_LIST = {
    "webauthn_list",
    "SELECT id, name, created_at, last_used_at, aaguid, backup_eligible, backup_state, "
    "transports FROM webauthn_credentials WHERE user_id = ?1 ORDER BY id DESC",
    NULL, NULL};
static const db_stmt_def_t S_COUNT = {
    "webauthn_count", "SELECT COUNT(*) FROM webauthn_credentials WHERE user_id = ?1", NULL, NULL};
static const db_stmt_def_t S_DELETE = {
    "webauthn_delete", "DELETE FROM webauthn_credentials WHERE id = ?1 AND user_id = ?2", NULL,
    NULL};

/* ==== helpers =============================================================================== */

bool auth_webauthn_enabled(const auth_t *a)
{
    return a->opts.webauthn_rp_id && a->opts.webauthn_rp_id[0];
}

static uint32_t timeout_s(const auth_t *a)
{
    return a->opts.webauthn_timeout_s ? a->opts.webauthn_timeout_s : 300;
}

static wa_rp_t relying_party(const auth_t *a)
{
    return (wa_rp_t){.rp_id = a->opts.webauthn_rp_id,
                     .origins = (const char *const *)a->opts.webauthn_origins,
                     .n_origins = a->opts.webauthn_origin_count,
                     .require_uv = a->opts.webauthn_require_uv};
}

static const char *uv_word(const auth_t *a)
{
    return a->opts.webauthn_require_uv ? "required" : "preferred";
}

/* Random bytes as base64url into out (room for B64URL_ENC_LEN(n) + 1). */
static int random_b64(size_t n, char *out, size_t cap)
{
    uint8_t b[64];
    if (n > sizeof b || RAND_bytes(b, (int)n) != 1)
        return ERR_INTERNAL;
    b64url_encode(b, n, out, cap);
    return 0;
}

struct once_wait {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done, allowed;
};

static void once_done(void *arg, const store_rate_result_t *r)
{
    struct once_wait *w = arg;
    pthread_mutex_lock(&w->mu);
    w->allowed = r->allowed;
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* Consumes the single use of challenge id: true the first time within its life. The store
   answers exactly once (on this thread, or on its own with Redis), so the wait ends. */
static bool consume_once(auth_t *a, const char *id)
{
    char key[KEY_MAX + 16];
    snprintf(key, sizeof key, "webauthn-once:%s", id);
    struct once_wait w = {.done = false};
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    store_rate_t r = {key, 1, timeout_s(a) + 60, STORE_RATE_CONSUME};
    store_rate_check(a->store, &r, 1, once_done, &w);
    pthread_mutex_lock(&w.mu);
    while (!w.done)
        pthread_cond_wait(&w.cv, &w.mu);
    pthread_mutex_unlock(&w.mu);
    pthread_mutex_destroy(&w.mu);
    pthread_cond_destroy(&w.cv);
    return w.allowed;
}

/*
 * Takes the challenge entry "webauthn:<kind>:<id>": consumed once, read, dropped. The line
 * is "<exp> <user id> <challenge b64> <extra>". Returns true with the fields when it was
 * there, unexpired and unused.
 */
static bool challenge_take(auth_t *a, char kind, const char *id, int64_t now, int64_t *user_id,
                           char challenge[CHALLENGE_B64 + 1], char *extra, size_t extra_cap)
{
    char key[KEY_MAX], line[CH_LINE_MAX + 1];
    size_t len = 0;
    snprintf(key, sizeof key, "webauthn:%c:%s", kind, id);
    if (!consume_once(a, key))
        return false;
    if (store_cache_get_sync(a->store, key, line, CH_LINE_MAX, &len) != 0 || len > CH_LINE_MAX)
        return false;
    store_cache_del(a->store, key);
    line[len] = 0;
    long long exp = 0, uid = 0;
    char ch[CHALLENGE_B64 + 2] = "", ex[CH_LINE_MAX] = "";
    int n = sscanf(line, "%lld %lld %44s %200s", &exp, &uid, ch, ex);
    if (n < 3 || exp < now || strlen(ch) != CHALLENGE_B64)
        return false;
    *user_id = uid;
    memcpy(challenge, ch, CHALLENGE_B64 + 1);
    snprintf(extra, extra_cap, "%s", n == 4 ? ex : "");
    return true;
}

static void challenge_put(auth_t *a, char kind, const char *id, int64_t now, int64_t user_id,
                          const char *challenge, const char *extra)
{
    char key[KEY_MAX], line[CH_LINE_MAX];
    snprintf(key, sizeof key, "webauthn:%c:%s", kind, id);
    int n = snprintf(line, sizeof line, "%" PRId64 " %" PRId64 " %s %s", now + timeout_s(a),
                     user_id, challenge, extra ? extra : "-");
    store_cache_set(a->store, key, str_make(line, (size_t)n), timeout_s(a), NULL);
}

/* A string member of o ("" when absent or not a string). */
static const char *jstr(json_t *o, const char *name)
{
    json_t *v = json_object_get(o, name);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Decodes the base64url member name of o into a new buffer (at most max bytes). */
static uint8_t *jb64(json_t *o, const char *name, size_t max, size_t *len)
{
    json_t *v = json_object_get(o, name);
    if (!json_is_string(v))
        return NULL;
    size_t n = json_string_length(v);
    if (n == 0 || n > B64URL_ENC_LEN(max))
        return NULL;
    uint8_t *b = xmalloc(B64URL_DEC_MAX(n) + 1);
    if (!b64url_decode(json_string_value(v), n, b, B64URL_DEC_MAX(n) + 1, len) || *len == 0) {
        free(b);
        return NULL;
    }
    return b;
}

/* The credential's "id" and "rawId" (equal), type "public-key" and its response object. */
static json_t *credential_common(json_t *cred, const char **id, const char **why)
{
    const char *raw = jstr(cred, "rawId");
    *id = jstr(cred, "id");
    json_t *resp = json_object_get(cred, "response");
    if (!json_is_object(cred) || !*id || !**id)
        *why = "credential.id is required";
    else if (raw && strcmp(raw, *id) != 0)
        *why = "credential.rawId must equal credential.id";
    else if (!jstr(cred, "type") || strcmp(jstr(cred, "type"), "public-key") != 0)
        *why = "credential.type must be \"public-key\"";
    else if (!json_is_object(resp))
        *why = "credential.response is required";
    else if (strlen(*id) > CRED_B64_MAX)
        *why = "credential.id is too long";
    else
        return resp;
    return NULL;
}

static int read_int64(void *arg, const db_row_t *row)
{
    *(int64_t *)arg = db_row_int(row, 0);
    return 0;
}

static int read_handle(void *arg, const db_row_t *row)
{
    size_t n;
    const char *t = db_row_text(row, 0, &n);
    if (t && n < 128) {
        memcpy(arg, t, n);
        ((char *)arg)[n] = 0;
    }
    return 0;
}

/* Appends {"type":"public-key","id":...,"transports":[...]} items of user_id's credentials. */
struct ids_ctx {
    buf_t *out;
    size_t n;
};

static int read_id(void *arg, const db_row_t *row)
{
    struct ids_ctx *c = arg;
    size_t n, tn;
    const char *id = db_row_text(row, 0, &n), *tr = db_row_text(row, 1, &tn);
    buf_append_cstr(c->out, c->n++ ? ",{\"type\":\"public-key\",\"id\":"
                                   : "{\"type\":\"public-key\",\"id\":");
    jsonw_buf_str(c->out, id ? id : "", id ? n : 0);
    buf_append_cstr(c->out, ",\"transports\":[");
    /* transports are stored as a comma list of validated words */
    size_t i = 0, k = 0;
    while (tr && i < tn) {
        size_t j = i;
        while (j < tn && tr[j] != ',')
            j++;
        if (j > i) {
            if (k++)
                buf_append_char(c->out, ',');
            jsonw_buf_str(c->out, tr + i, j - i);
        }
        i = j + 1;
    }
    buf_append_cstr(c->out, "]}");
    return 0;
}

static int append_ids(auth_t *a, int64_t user_id, buf_t *out)
{
    struct ids_ctx c = {out, 0};
    db_param_t p[] = {db_int(user_id)};
    return db_query(a->db, &S_IDS, p, 1, read_id, &c);
}

static int webauthn_issue(auth_t *a, int64_t user_id, bool uv, const auth_client_t *client,
                          int64_t now, auth_pair_t *out);

/* ==== registration ========================================================================== */

int auth_webauthn_register_options(auth_t *a, int64_t user_id, int64_t now, buf_t *out)
{
    db_user_t u;
    memset(&u, 0, sizeof u);
    int rc = db_user_find_by_id(a->db, user_id, &u);
    if (rc != 0)
        return rc == ERR_NOT_FOUND ? rc : auth__map_db(rc);
    /* one user handle per user: the one of the user's passkeys, else a new random one */
    char handle[128] = "", challenge[CHALLENGE_B64 + 1];
    db_param_t p[] = {db_int(user_id)};
    rc = db_query(a->db, &S_HANDLE, p, 1, read_handle, handle);
    if (rc == 0 && !handle[0])
        rc = random_b64(HANDLE_LEN, handle, sizeof handle);
    if (rc == 0)
        rc = random_b64(WA_CHALLENGE_LEN, challenge, sizeof challenge);
    if (rc != 0) {
        db_user_dispose(&u);
        return rc == ERR_INTERNAL ? rc : auth__map_db(rc);
    }
    buf_append_cstr(out, "{\"rp\":{\"id\":");
    jsonw_buf_cstr(out, a->opts.webauthn_rp_id);
    buf_append_cstr(out, ",\"name\":");
    jsonw_buf_cstr(out, a->opts.webauthn_rp_name ? a->opts.webauthn_rp_name : "jwtd");
    buf_printf(out, "},\"user\":{\"id\":\"%s\",\"name\":", handle);
    jsonw_buf_cstr(out, u.username);
    buf_append_cstr(out, ",\"displayName\":");
    if (u.first_name[0] || u.last_name[0]) {
        char dn[320];
        snprintf(dn, sizeof dn, "%s%s%s", u.first_name,
                 u.first_name[0] && u.last_name[0] ? " " : "", u.last_name);
        jsonw_buf_cstr(out, dn);
    } else {
        jsonw_buf_cstr(out, u.username);
    }
    buf_printf(out,
               "},\"challenge\":\"%s\",\"pubKeyCredParams\":[{\"type\":\"public-key\",\"alg\":%d},"
               "{\"type\":\"public-key\",\"alg\":%d},{\"type\":\"public-key\",\"alg\":%d}],"
               "\"timeout\":%" PRIu32 "000,\"excludeCredentials\":[",
               challenge, WA_ALG_EDDSA, WA_ALG_ES256, WA_ALG_RS256, timeout_s(a));
    rc = append_ids(a, user_id, out);
    buf_printf(out,
               "],\"authenticatorSelection\":{\"residentKey\":\"required\","
               "\"requireResidentKey\":true,\"userVerification\":\"%s\"},"
               "\"attestation\":\"none\",\"extensions\":{\"credProps\":true}}",
               uv_word(a));
    db_user_dispose(&u);
    if (rc != 0)
        return auth__map_db(rc);
    challenge_put(a, 'r', challenge, now, user_id, challenge, handle);
    return 0;
}

/* The transports of a registration response: known words only, as a comma list. */
static void transports_of(json_t *resp, char *out, size_t cap)
{
    static const char *const known[] = {"ble", "cable",      "hybrid", "internal",
                                        "nfc", "smart-card", "usb"};
    json_t *arr = json_object_get(resp, "transports");
    size_t i, len = 0;
    json_t *v;
    out[0] = 0;
    if (!json_is_array(arr))
        return;
    json_array_foreach(arr, i, v)
    {
        const char *t = json_is_string(v) ? json_string_value(v) : "";
        for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
            if (strcmp(t, known[k]) == 0 && !strstr(out, t) && len + strlen(t) + 2 < cap)
                len += (size_t)snprintf(out + len, cap - len, "%s%s", len ? "," : "", t);
    }
}

static void append_factor(buf_t *out, int64_t id, const char *name, int64_t created,
                          int64_t last_used, const char *aaguid, bool be, bool bs,
                          const char *transports)
{
    buf_printf(out, "{\"id\":%" PRId64 ",\"type\":\"webauthn\",\"name\":", id);
    jsonw_buf_cstr(out, name);
    buf_printf(out, ",\"created_at\":%" PRId64 ",\"last_used_at\":", created);
    if (last_used)
        buf_printf(out, "%" PRId64, last_used);
    else
        buf_append_cstr(out, "null");
    buf_printf(out, ",\"aaguid\":\"%s\",\"backup_eligible\":%s,\"backed_up\":%s,\"transports\":[",
               aaguid, be ? "true" : "false", bs ? "true" : "false");
    for (const char *t = transports; t && *t;) {
        size_t n = strcspn(t, ",");
        if (t != transports)
            buf_append_char(out, ',');
        jsonw_buf_str(out, t, n);
        t += n + (t[n] == ',');
    }
    buf_append_cstr(out, "]}");
}

int auth_webauthn_register(auth_t *a, int64_t user_id, json_t *body, int64_t now, buf_t *out,
                           enum auth_webauthn_result *res, const char **why)
{
    *res = AUTH_WA_MALFORMED;
    const char *id = NULL, *name = jstr(body, "name");
    json_t *cred = json_object_get(body, "credential");
    if (!cred)
        cred = body; /* the RegistrationResponseJSON itself, with "name" beside its members */
    json_t *resp = credential_common(cred, &id, why);
    if (!resp)
        return 0;
    json_t *nv = json_object_get(body, "name");
    if (nv &&
        (!json_is_string(nv) ||
         text_utf8_chars(str_make(json_string_value(nv), json_string_length(nv))) > NAME_MAX_CH ||
         memchr(json_string_value(nv), 0, json_string_length(nv)))) {
        *why = "name must be a string of at most 64 characters";
        return 0;
    }
    if (!name || !name[0])
        name = "Passkey";
    size_t cdj_len = 0, att_len = 0;
    uint8_t *cdj = jb64(resp, "clientDataJSON", WA_MAX_INPUT, &cdj_len);
    uint8_t *att = cdj ? jb64(resp, "attestationObject", WA_MAX_INPUT, &att_len) : NULL;
    if (!cdj || !att) {
        *why = "response.clientDataJSON and response.attestationObject must be base64url";
        free(cdj);
        free(att);
        return 0;
    }
    /* the challenge it answers names the pending registration */
    uint8_t ch[WA_CHALLENGE_LEN + 8];
    size_t ch_len = 0;
    char ch_b64[CHALLENGE_B64 + 1], stored[CHALLENGE_B64 + 1], handle[128];
    int64_t owner = 0;
    int rc = 0;
    if (wa_client_data_challenge(cdj, cdj_len, ch, sizeof ch, &ch_len) != 0 ||
        ch_len != WA_CHALLENGE_LEN) {
        *res = AUTH_WA_CHALLENGE;
        *why = "The challenge is unknown, expired or already used.";
        goto done;
    }
    b64url_encode(ch, ch_len, ch_b64, sizeof ch_b64);
    if (!challenge_take(a, 'r', ch_b64, now, &owner, stored, handle, sizeof handle) ||
        owner != user_id) {
        *res = AUTH_WA_CHALLENGE;
        *why = "The challenge is unknown, expired or already used.";
        goto done;
    }
    wa_rp_t rp = relying_party(a);
    wa_credential_t c;
    if (wa_registration_verify(&rp, ch, ch_len, cdj, cdj_len, att, att_len, &c, why) != 0) {
        *res = AUTH_WA_REJECTED;
        audit_warn(NULL, .event = "passkey_register_failed", .outcome = "failure",
                   .user_id = user_id, .reason = "webauthn");
        goto done;
    }
    char cred_b64[CRED_B64_MAX + 1], key_b64[B64URL_ENC_LEN(WA_MAX_INPUT) + 1], aaguid[33],
        transports[96];
    b64url_encode(c.cred_id, c.cred_id_len, cred_b64, sizeof cred_b64);
    b64url_encode(c.cose_key, c.cose_key_len, key_b64, sizeof key_b64);
    for (int i = 0; i < 16; i++)
        snprintf(aaguid + 2 * i, 3, "%02x", c.aaguid[i]);
    transports_of(resp, transports, sizeof transports);
    if (strcmp(cred_b64, id) != 0) {
        *res = AUTH_WA_REJECTED;
        *why = "credential.id is not the id of the attested credential";
        wa_credential_dispose(&c);
        goto done;
    }
    bool be = c.flags & WA_FLAG_BE, bs = c.flags & WA_FLAG_BS, uv = c.flags & WA_FLAG_UV;
    db_param_t p[] = {db_int(user_id),     db_text(cred_b64),
                      db_text(handle),     db_text(key_b64),
                      db_int(c.alg),       db_int(c.sign_count),
                      db_text(transports), db_text(name),
                      db_text(aaguid),     db_text(c.attested ? "packed-x5c" : c.fmt),
                      db_bool(be),         db_bool(bs),
                      db_bool(uv),         db_int(now)};
    int64_t row_id = 0;
    rc = db_query_one(a->db, &S_INSERT, p, DB_NPARAMS(p), read_int64, &row_id);
    wa_credential_dispose(&c);
    if (rc == ERR_CONFLICT) {
        rc = 0;
        *res = AUTH_WA_DUPLICATE;
        *why = "This passkey is registered already.";
        goto done;
    }
    if (rc != 0) {
        rc = rc == ERR_NOT_FOUND ? ERR_NOT_FOUND : auth__map_db(rc);
        goto done;
    }
    *res = AUTH_WA_OK;
    *why = NULL;
    audit_info(NULL, .event = "passkey_registered", .outcome = "success", .user_id = user_id);
    append_factor(out, row_id, name, now, 0, aaguid, be, bs, transports);
done:
    free(cdj);
    free(att);
    return rc;
}

/* ==== sign-in =============================================================================== */

int auth_webauthn_login_options(auth_t *a, const char *username, const char *mfa_token, int64_t now,
                                buf_t *out)
{
    char challenge[CHALLENGE_B64 + 1], cid[33], extra[AUTH_MFA_TOKEN_LEN + 8] = "-";
    int rc = random_b64(WA_CHALLENGE_LEN, challenge, sizeof challenge);
    if (rc == 0)
        rc = auth__random_id(cid);
    if (rc != 0)
        return rc;
    int64_t user_id = 0;
    if (mfa_token) {
        auth_mfa_challenge_t c;
        if (strlen(mfa_token) != AUTH_MFA_TOKEN_LEN ||
            strspn(mfa_token, "0123456789abcdef") != AUTH_MFA_TOKEN_LEN)
            return ERR_MFA_TOKEN_INVALID;
        rc = auth_mfa_challenge_find(a, mfa_token, now, &c, NULL);
        if (rc == ERR_THROTTLED)
            rc = ERR_MFA_TOKEN_INVALID;
        if (rc != 0)
            return rc;
        user_id = c.user_id;
        snprintf(extra, sizeof extra, "mfa:%s", mfa_token);
    } else if (username) {
        db_user_t u;
        memset(&u, 0, sizeof u);
        rc = db_user_find_by_username(a->db, username, &u);
        if (rc == 0)
            user_id = u.id;
        else if (rc != ERR_NOT_FOUND && rc != ERR_INVALID)
            return auth__map_db(rc);
        /* an unknown name is a name with no passkey: the same answer, and a challenge
           bound to no user, which no credential can answer */
        if (rc != 0)
            user_id = -1;
        db_user_dispose(&u);
    }
    buf_printf(out, "{\"challenge\":\"%s\",\"timeout\":%" PRIu32 "000,\"rpId\":", challenge,
               timeout_s(a));
    jsonw_buf_cstr(out, a->opts.webauthn_rp_id);
    buf_append_cstr(out, ",\"allowCredentials\":[");
    if (user_id > 0 && (rc = append_ids(a, user_id, out)) != 0)
        return auth__map_db(rc);
    buf_printf(out, "],\"userVerification\":\"%s\",\"challenge_id\":\"%s\"}", uv_word(a), cid);
    challenge_put(a, 'l', cid, now, user_id > 0 ? user_id : user_id < 0 ? -1 : 0, challenge, extra);
    return 0;
}

/* The stored credential a sign-in names. */
typedef struct {
    int64_t id, user_id, sign_count;
    int alg;
    char handle[128];
    char *key_b64;
} stored_cred_t;

static int read_cred(void *arg, const db_row_t *row)
{
    stored_cred_t *c = arg;
    c->id = db_row_int(row, 0);
    c->user_id = db_row_int(row, 1);
    size_t n;
    const char *h = db_row_text(row, 2, &n);
    c->handle[0] = 0;
    if (h && n < sizeof c->handle) {
        memcpy(c->handle, h, n);
        c->handle[n] = 0;
    }
    c->key_b64 = db_row_strdup(row, 3);
    c->alg = (int)db_row_int(row, 4);
    c->sign_count = db_row_int(row, 5);
    return 0;
}

/* Completes the MFA step of token with a passkey of user_id: bound as auth_mfa_verify. */
static int complete_mfa(auth_t *a, const char *token, int64_t user_id, const char *bind,
                        const auth_client_t *client, int64_t now, auth_pair_t *out,
                        char family[AUTH_WEBAUTHN_FAMILY_MAX + 1])
{
    auth_mfa_challenge_t c;
    int rc = auth_mfa_challenge_find(a, token, now, &c, NULL);
    if (rc == ERR_THROTTLED)
        rc = ERR_MFA_TOKEN_INVALID;
    if (rc != 0)
        return rc;
    if (c.user_id != user_id || (c.bind[0] && strcmp(c.bind, bind ? bind : "") != 0) ||
        (c.amr & AUTH_AMR_HWK)) /* a passkey sign-in's second step is no other passkey */
        return ERR_MFA_TOKEN_INVALID;
    rc = auth_mfa_challenge_complete(a, token, &c, AUTH_AMR_HWK, client, now, out);
    if (rc == 0)
        snprintf(family, AUTH_WEBAUTHN_FAMILY_MAX + 1, "%s", c.family);
    return rc;
}

int auth_webauthn_login(auth_t *a, json_t *body, const char *bind, const auth_client_t *client,
                        int64_t now, auth_pair_t *out, char family[AUTH_WEBAUTHN_FAMILY_MAX + 1],
                        enum auth_webauthn_result *res, const char **why)
{
    *res = AUTH_WA_MALFORMED;
    family[0] = 0;
    memset(out, 0, sizeof *out);
    const char *cid = jstr(body, "challenge_id"), *id = NULL;
    json_t *cred = json_object_get(body, "credential");
    if (!cid || strlen(cid) != 32 || strspn(cid, "0123456789abcdef") != 32) {
        *why = "challenge_id is required (from POST /auth/webauthn/login/options)";
        return 0;
    }
    json_t *resp = cred ? credential_common(cred, &id, why) : NULL;
    if (!cred)
        *why = "credential is required";
    if (!resp)
        return 0;
    size_t cdj_len = 0, ad_len = 0, sig_len = 0, uh_len = 0;
    uint8_t *cdj = jb64(resp, "clientDataJSON", WA_MAX_INPUT, &cdj_len);
    uint8_t *ad = jb64(resp, "authenticatorData", WA_MAX_INPUT, &ad_len);
    uint8_t *sig = jb64(resp, "signature", 1024, &sig_len);
    const char *uh = jstr(resp, "userHandle");
    json_t *uhv = json_object_get(resp, "userHandle");
    stored_cred_t c;
    memset(&c, 0, sizeof c);
    int rc = 0;
    if (!cdj || !ad || !sig || (uhv && !json_is_null(uhv) && !uh)) {
        *why = "response.clientDataJSON, authenticatorData and signature must be base64url";
        goto done;
    }
    (void)uh_len;
    char challenge_b64[CHALLENGE_B64 + 1], extra[AUTH_MFA_TOKEN_LEN + 8];
    int64_t owner = 0;
    if (!challenge_take(a, 'l', cid, now, &owner, challenge_b64, extra, sizeof extra)) {
        *res = AUTH_WA_CHALLENGE;
        *why = "The challenge is unknown, expired or already used.";
        goto done;
    }
    *res = AUTH_WA_REJECTED;
    db_param_t p[] = {db_text(id)};
    rc = db_query_one(a->db, &S_BY_CRED, p, 1, read_cred, &c);
    if (rc == ERR_NOT_FOUND || (rc == 0 && owner != 0 && owner != c.user_id)) {
        rc = 0;
        *why = "This passkey is not registered here.";
        goto done;
    }
    if (rc != 0) {
        rc = auth__map_db(rc);
        goto done;
    }
    if (owner == 0 && (!uh || !uh[0])) {
        *why = "response.userHandle is required for a sign-in without a username";
        goto done;
    }
    if (uh && uh[0] && strcmp(uh, c.handle) != 0) {
        *why = "response.userHandle is not the passkey's user";
        goto done;
    }
    uint8_t ch[WA_CHALLENGE_LEN + 2], *key = NULL;
    size_t ch_len = 0, key_len = 0;
    size_t kl = strlen(c.key_b64);
    key = xmalloc(B64URL_DEC_MAX(kl) + 1);
    if (!b64url_decode(challenge_b64, strlen(challenge_b64), ch, sizeof ch, &ch_len) ||
        !b64url_decode(c.key_b64, kl, key, B64URL_DEC_MAX(kl) + 1, &key_len)) {
        free(key);
        rc = ERR_INTERNAL;
        goto done;
    }
    wa_rp_t rp = relying_party(a);
    wa_assertion_t as;
    uint32_t stored = c.sign_count < 0 || c.sign_count > UINT32_MAX ? 0 : (uint32_t)c.sign_count;
    int vr = wa_assertion_verify(&rp, ch, ch_len, cdj, cdj_len, ad, ad_len, sig, sig_len, key,
                                 key_len, c.alg, stored, &as, why);
    free(key);
    if (vr == WA_E_COUNTER) {
        *res = AUTH_WA_CLONED;
        audit_warn(NULL, .event = "passkey_cloned", .outcome = "detected", .user_id = c.user_id,
                   .reason = "counter");
        goto done;
    }
    if (vr != 0) {
        audit_warn(NULL, .event = "passkey_login_failed", .outcome = "failure",
                   .user_id = c.user_id, .reason = "webauthn");
        goto done;
    }
    /* the counter moves only from the value this check read */
    int64_t changes = 0;
    db_param_t up[] = {db_int(as.sign_count), db_int(now), db_bool(as.flags & WA_FLAG_BS),
                       db_int(c.id), db_int(c.sign_count)};
    rc = db_exec(a->db, &S_USE, up, DB_NPARAMS(up), &changes);
    if (rc != 0) {
        rc = auth__map_db(rc);
        goto done;
    }
    if (changes != 1) {
        *res = AUTH_WA_CLONED;
        *why = "signature counter did not increase: possibly a cloned authenticator";
        goto done;
    }
    *res = AUTH_WA_OK;
    *why = NULL;
    if (strncmp(extra, "mfa:", 4) == 0)
        rc = complete_mfa(a, extra + 4, c.user_id, bind, client, now, out, family);
    else
        rc = webauthn_issue(a, c.user_id, (as.flags & WA_FLAG_UV) != 0, client, now, out);
done:
    free(c.key_b64);
    free(cdj);
    free(ad);
    free(sig);
    return rc;
}

/*
 * A passkey sign-in's session: amr hwk + user, auth_time now. A passkey that verified its
 * user (UV: a PIN or a biometric on the authenticator) is a multi-factor authenticator
 * (NIST SP 800-63B: something you have, unlocked by something you know or are), so it
 * satisfies JWTD_MFA_REQUIRED_ROLES; without UV it is one factor, and a user of such a role
 * gets the second step (a TOTP factor) or, without one, only an enrolment token.
 */
static int webauthn_issue(auth_t *a, int64_t user_id, bool uv, const auth_client_t *client,
                          int64_t now, auth_pair_t *out)
{
    db_user_t u;
    memset(&u, 0, sizeof u);
    memset(out, 0, sizeof *out);
    int rc = db_user_find_by_id(a->db, user_id, &u);
    if (rc == ERR_NOT_FOUND)
        return ERR_NO_ACTIVE_ACCOUNT;
    if (rc != 0)
        return auth__map_db(rc);
    if (!u.is_active) {
        db_user_dispose(&u);
        return ERR_NO_ACTIVE_ACCOUNT;
    }
    rc = 1;
    if (!uv && (a->opts.mfa_required_roles & (1u << u.role)))
        rc = auth__second_step(a, &u, client, now, AUTH_AMR_HWK | AUTH_AMR_USER, out);
    if (rc == 1)
        rc = auth__issue_session(a, &u, client, now, AUTH_AMR_HWK | AUTH_AMR_USER, now, out);
    if (rc == 0)
        audit_info(NULL, .event = "login", .outcome = "success", .user_id = u.id,
                   .username = u.username, .sid = out->sid, .reason = "passkey");
    db_user_dispose(&u);
    return rc;
}

/* ==== the user's passkeys =================================================================== */

struct list_ctx {
    buf_t *out;
    size_t n;
};

static int read_factor(void *arg, const db_row_t *row)
{
    struct list_ctx *l = arg;
    char *name = db_row_strdup(row, 1), *aaguid = db_row_strdup(row, 4),
         *tr = db_row_strdup(row, 7);
    if (l->n++)
        buf_append_char(l->out, ',');
    append_factor(l->out, db_row_int(row, 0), name, db_row_int(row, 2), db_row_int(row, 3), aaguid,
                  db_row_int(row, 5) != 0, db_row_int(row, 6) != 0, tr);
    free(name);
    free(aaguid);
    free(tr);
    return 0;
}

struct factor_ctx {
    buf_t *out;
    bool brief;
    size_t *n;
};

static int read_mfa_factor(void *arg, const db_row_t *row)
{
    struct factor_ctx *f = arg;
    if ((*f->n)++)
        buf_append_char(f->out, ',');
    buf_printf(f->out, "{\"id\":\"webauthn-%" PRId64 "\",\"type\":\"webauthn\"",
               db_row_int(row, 0));
    if (!f->brief) {
        char *name = db_row_strdup(row, 1);
        buf_append_cstr(f->out, ",\"name\":");
        jsonw_buf_cstr(f->out, name);
        free(name);
        buf_printf(f->out, ",\"created_at\":%" PRId64 ",\"last_used_at\":", db_row_int(row, 2));
        if (db_row_is_null(row, 3))
            buf_append_cstr(f->out, "null");
        else
            buf_printf(f->out, "%" PRId64, db_row_int(row, 3));
    }
    buf_append_char(f->out, '}');
    return 0;
}

/* See auth_internal.h. */
int auth__webauthn_factors(auth_t *a, int64_t user_id, bool brief, buf_t *out, size_t *n)
{
    struct factor_ctx f = {out, brief, n};
    db_param_t p[] = {db_int(user_id)};
    int rc = db_query(a->db, &S_LIST, p, 1, read_mfa_factor, &f);
    return rc == 0 ? 0 : auth__map_db(rc);
}

int auth_webauthn_list(auth_t *a, int64_t user_id, buf_t *out)
{
    struct list_ctx l = {out, 0};
    db_param_t p[] = {db_int(user_id)};
    buf_append_char(out, '[');
    int rc = db_query(a->db, &S_LIST, p, 1, read_factor, &l);
    buf_append_char(out, ']');
    return rc == 0 ? 0 : auth__map_db(rc);
}

int auth_webauthn_has(auth_t *a, int64_t user_id, bool *has)
{
    int64_t n = 0;
    db_param_t p[] = {db_int(user_id)};
    int rc = db_query_one(a->db, &S_COUNT, p, 1, read_int64, &n);
    *has = rc == 0 && n > 0;
    return rc == 0 || rc == ERR_NOT_FOUND ? 0 : auth__map_db(rc);
}

int auth_webauthn_delete(auth_t *a, int64_t user_id, int64_t id)
{
    int64_t changes = 0;
    db_param_t p[] = {db_int(id), db_int(user_id)};
    int rc = db_exec(a->db, &S_DELETE, p, 2, &changes);
    if (rc != 0)
        return auth__map_db(rc);
    if (changes == 0)
        return ERR_NOT_FOUND;
    audit_info(NULL, .event = "passkey_removed", .outcome = "success", .user_id = user_id);
    return 0;
}
