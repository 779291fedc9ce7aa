/*
 * users.c - the user use cases: validating and creating an account (the same rules for
 * /auth/register and `jwtd user create`), the API user object, and the user cache that lets
 * the /me routes answer without a query per request.
 *
 * Validation is Django's where Django has a rule: usernames of letters, digits and @.+-_
 * (UnicodeUsernameValidator: any non-ASCII UTF-8 counts as letters), at most 150
 * characters; names at most 150 characters; the password policy of policy.c. E-mail
 * addresses are checked pragmatically (one @, a dotted domain, no blanks, controls or the
 * characters that need quoting), in the spirit of Django's EmailValidator.
 */
#define LOG_MODULE "auth"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "auth/auth_internal.h"
#include "common/err.h"
#include "common/jsonw.h"
#include "common/text.h"
#include "runtime/alloc.h"
#include "runtime/audit.h"
#include "runtime/log.h"

#define MAX_NAME_CHARS  150
#define MAX_EMAIL_BYTES 254

/* ==== validation ============================================================================ */

static bool username_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || text_utf8_chars(str_make(s, n)) > MAX_NAME_CHARS ||
        !text_utf8_valid(str_make(s, n)))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            (c >= '0' && c <= '9') || c == '@' || c == '.' || c == '+' || c == '-' || c == '_')
            continue;
        return false;
    }
    return true;
}

static bool email_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 3 || n > MAX_EMAIL_BYTES)
        return false;
    const char *at = strchr(s, '@');
    if (!at || at == s || strchr(at + 1, '@'))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= ' ' || c == 0x7f || strchr("<>\",;\\()[]", c))
            return false;
    }
    const char *dom = at + 1;
    size_t dl = strlen(dom);
    if (dl < 3 || !strchr(dom, '.') || dom[0] == '.' || dom[dl - 1] == '.' || strstr(dom, ".."))
        return false;
    return true;
}

static bool name_ok(const char *s)
{
    return !s || (text_utf8_valid(str_cstr(s)) && text_utf8_chars(str_cstr(s)) <= MAX_NAME_CHARS);
}

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

/* See auth.h. */
int auth_user_validate(const auth_new_user_t *u, bool email_optional, auth_user_errors_t *errors)
{
    memset(errors, 0, sizeof *errors);
    const char *email = or_empty(u->email);
    enum db_role role;
    if (!username_ok(or_empty(u->username)))
        errors->username = "Enter a valid username. This value may contain only letters, "
                           "numbers, and @/./+/-/_ characters.";
    if ((*email || !email_optional) && !email_ok(email))
        errors->email = "Enter a valid email address.";
    if (u->role && db_role_parse(u->role, strlen(u->role), &role) != 0)
        errors->role = "Select a valid role: user, instructor or admin.";
    if (!name_ok(u->first_name) || !name_ok(u->last_name))
        errors->name = "Ensure this field has no more than 150 characters.";
    if (u->password)
        (void)auth_password_policy_check(u->password, u->password_len, u->username, email,
                                         &errors->password);
    bool bad =
        errors->username || errors->email || errors->role || errors->name || errors->password.count;
    return bad ? ERR_INVALID : 0;
}

/* The insert of a new account, and with a (JWTD_SIGNUP=verified) the verification mail, in
   one transaction. */
struct create_tx {
    const db_user_t *u;
    bool verified;
    auth_t *mail; /* NULL = no mail */
    int64_t now, id;
};

static int create_body(db_tx_t *tx, void *arg)
{
    struct create_tx *c = arg;
    int rc = db_tx_user_create(tx, c->u, c->verified, c->now, &c->id);
    if (rc == 0 && c->mail)
        rc = auth__signup_mail_tx(c->mail, tx, c->id, c->u->username, c->u->email, c->now);
    return rc;
}

/*
 * Validates, hashes and inserts; on a conflict tells which unique field is taken. verified:
 * the address counts as confirmed (an administrator's account); mail: send the verification
 * mail of a (NULL = none).
 */
static int create(db_t *db, const auth_argon2_params_t *argon2, const auth_new_user_t *nu,
                  bool email_optional, bool verified, auth_t *mail, int64_t now, int64_t *id,
                  auth_user_errors_t *errors)
{
    if (!nu->password)
        return ERR_INVALID;
    int rc = auth_user_validate(nu, email_optional, errors);
    if (rc != 0)
        return rc;
    char hash[AUTH_PASSWORD_HASH_MAX];
    rc = auth_password_hash(argon2, nu->password, nu->password_len, hash, sizeof hash);
    if (rc != 0)
        return rc;
    db_user_t u = {0};
    u.username = (char *)nu->username;
    u.email = (char *)or_empty(nu->email);
    u.first_name = (char *)or_empty(nu->first_name);
    u.last_name = (char *)or_empty(nu->last_name);
    u.role = DB_ROLE_USER;
    if (nu->role)
        (void)db_role_parse(nu->role, strlen(nu->role), &u.role);
    u.premium = nu->premium;
    u.is_active = true;
    u.password_hash = hash;
    struct create_tx c = {&u, verified, mail, now, 0};
    rc = db_transact(db, create_body, &c);
    if (rc == 0)
        *id = c.id;
    OPENSSL_cleanse(hash, sizeof hash);
    if (rc == ERR_CONFLICT) {
        db_user_t other;
        bool taken = db_user_find_by_username(db, nu->username, &other) == 0;
        db_user_dispose(&other);
        if (taken)
            errors->username = "A user with that username already exists.";
        else
            errors->email = "A user with that email already exists.";
        return ERR_CONFLICT;
    }
    if (rc == ERR_INVALID)
        errors->username = "Enter a valid username.";
    return rc == 0 || rc == ERR_INVALID ? rc : ERR_UNAVAILABLE;
}

/* See auth.h. */
int auth_user_create(db_t *db, const auth_argon2_params_t *argon2, const auth_new_user_t *u,
                     int64_t now, int64_t *id, auth_user_errors_t *errors)
{
    int64_t local;
    int rc = create(db, argon2, u, true, true, NULL, now, id ? id : &local, errors);
    if (rc == 0)
        audit_info(NULL, .event = "user_created", .outcome = "success", .user_id = id ? *id : local,
                   .username = u->username);
    return rc;
}

/* See auth.h. */
bool auth_email_valid(const char *s)
{
    return s && email_ok(s);
}

/* See auth.h. */
bool auth_signup_open(const auth_t *a)
{
    return !a->opts.signup_closed;
}

/* See auth.h. */
int auth_user_register(auth_t *a, const auth_new_user_t *u, int64_t now, int64_t *id, char **json,
                       size_t *json_len, auth_user_errors_t *errors)
{
    int64_t uid = 0;
    if (!auth_signup_open(a)) {
        audit_info(NULL, .event = "signup", .outcome = "failure", .username = u->username,
                   .reason = "closed");
        return ERR_SIGNUP_CLOSED;
    }
    auth_t *mail = a->opts.signup_verified && a->mailer ? a : NULL;
    int rc = create(a->db, &a->opts.argon2, u, false, false, mail, now, &uid, errors);
    if (rc != 0) {
        audit_info(NULL, .event = "signup", .outcome = "failure", .username = u->username,
                   .reason = rc == ERR_CONFLICT  ? "taken"
                             : rc == ERR_INVALID ? "invalid"
                                                 : "unavailable");
        return rc;
    }
    if (id)
        *id = uid;
    if (mail)
        auth__signup_mail_queued(a);
    audit_info(NULL, .event = "signup", .outcome = "success", .user_id = uid,
               .username = u->username, .reason = mail ? "verification_sent" : NULL);
    if (!json)
        return 0;
    db_user_t created;
    rc = db_user_find_by_id(a->db, uid, &created);
    if (rc == 0)
        *json = auth_user_json(&created, json_len);
    db_user_dispose(&created);
    return auth__map_db(rc);
}

/* ==== the user object ======================================================================== */

/* See auth.h. */
char *auth_user_json(const db_user_t *u, size_t *len)
{
    jsonw_t w;
    size_t cap = 160 + 6 * (strlen(u->username) + strlen(u->email) + strlen(u->first_name) +
                            strlen(u->last_name));
    char *buf = xmalloc(cap);
    jsonw_init(&w, buf, cap);
    jsonw_raw(&w, "{\"id\":");
    jsonw_int(&w, u->id);
    jsonw_member(&w, "username", u->username);
    jsonw_member(&w, "email", u->email);
    jsonw_member(&w, "first_name", u->first_name);
    jsonw_member(&w, "last_name", u->last_name);
    jsonw_member(&w, "role", db_role_name(u->role));
    jsonw_raw(&w, u->premium ? ",\"premium\":true}" : ",\"premium\":false}");
    /* cap covers the worst case (every byte escaped as \u00XX), so the writer cannot fail */
    *len = jsonw_len(&w);
    buf[*len] = '\0';
    return buf;
}

/* ==== the user cache ========================================================================= */
/*
 * DESIGN: the user tier. Without Redis it is the in-process table (usercache.c), serving an
 * entry for user_cache_ttl_s; with Redis it is the key "user:<id>" in the shared cache
 * (value: '1' or '0' for is_active, then the user object's JSON; Redis expires it after
 * user_cache_ttl_s), read by every instance, so a change dropped there by the writing request
 * is seen at once everywhere. A TTL of 0 turns the tier off (every /me reads the database).
 *
 * A miss is filled by auth_user_load_copy, which reads the row and stores it; a write that
 * commits and drops the entry between that read and the store would otherwise be overtaken
 * by the old row (served for the whole TTL). So the fill takes a ticket before its read
 * (store_cache_fill_begin with Redis, auth__ucache_ticket in process) and stores only if no
 * drop of the user came in between (store_cache_set_if, auth__ucache_put_if): the versioned
 * invalidation of store.h. Logins and refreshes store the row they just read unconditionally,
 * as before.
 */

/* The shared-cache key of user_id's object. */
static void user_key(int64_t user_id, char key[32])
{
    snprintf(key, 32, "user:%" PRId64, user_id);
}

/* Whether the user tier is in Redis (else in process). */
static bool tier_shared(const auth_t *a)
{
    return store_redis_configured(a->store);
}

/* A fill's ticket (versioned fills), taken before its database read. */
struct user_fill {
    bool shared;
    uint64_t ticket;
};

static struct user_fill user_fill_begin(auth_t *a, int64_t user_id)
{
    struct user_fill f = {.shared = tier_shared(a), .ticket = 0};
    if (a->opts.user_cache_ttl_s <= 0)
        return f;
    f.ticket = f.shared ? store_cache_fill_begin(a->store) : auth__ucache_ticket(a->users, user_id);
    return f;
}

/* auth__user_cache_put, conditional on fill when it is not NULL. */
static void user_cache_store(auth_t *a, const db_user_t *u, int64_t now, auth_pair_t *out,
                             const struct user_fill *fill)
{
    size_t len;
    char *json = auth_user_json(u, &len);
    if (a->opts.user_cache_ttl_s > 0 && tier_shared(a)) {
        char key[32];
        user_key(u->id, key);
        char *v = xmalloc(len + 1);
        v[0] = u->is_active ? '1' : '0';
        memcpy(v + 1, json, len);
        str_t sv = str_make(v, len + 1);
        uint32_t ttl = (uint32_t)a->opts.user_cache_ttl_s;
        if (!fill)
            store_cache_set(a->store, key, sv, ttl, NULL);
        else if (fill->shared) /* (else the tier moved since the ticket: nothing stored) */
            store_cache_set_if(a->store, key, sv, ttl, NULL, fill->ticket);
        free(v);
    } else if (a->opts.user_cache_ttl_s > 0) {
        if (!fill)
            auth__ucache_put(a->users, u->id, u->is_active, json, len, now);
        else if (!fill->shared)
            auth__ucache_put_if(a->users, u->id, u->is_active, json, len, now, fill->ticket);
    }
    if (out) {
        out->user_id = u->id;
        out->user_json = json;
        out->user_json_len = len;
    } else {
        free(json);
    }
}

/* See auth_internal.h. */
void auth__user_cache_put(auth_t *a, const db_user_t *u, int64_t now, auth_pair_t *out)
{
    user_cache_store(a, u, now, out, NULL);
}

/* See auth_internal.h. */
void auth__user_drop(auth_t *a, int64_t user_id)
{
    auth__ucache_drop(a->users, user_id);
    if (tier_shared(a)) {
        char key[32];
        user_key(user_id, key);
        store_cache_del(a->store, key);
    }
    auth__drop_user_groups(a, user_id); /* the API-response tier: the user's answers */
}

/* See auth.h. */
int auth_user_cached(auth_t *a, int64_t user_id, int64_t now, char *out, size_t cap, size_t *len,
                     bool *is_active)
{
    if (a->opts.user_cache_ttl_s <= 0 || tier_shared(a))
        return ERR_NOT_FOUND;
    return auth__ucache_get(a->users, user_id, now - a->opts.user_cache_ttl_s, out, cap, len,
                            is_active);
}

struct user_lookup {
    auth_user_cb cb;
    void *arg;
};

/* store_cache_cb of auth_user_cached_get: the value is the is_active byte, then the JSON. */
static void on_user_value(void *arg, int status, str_t value)
{
    struct user_lookup l = *(struct user_lookup *)arg;
    free(arg);
    if (status != 0 || value.len < 2 || (value.ptr[0] != '0' && value.ptr[0] != '1')) {
        l.cb(l.arg, ERR_NOT_FOUND, STR_NULL, false);
        return;
    }
    l.cb(l.arg, 0, str_make(value.ptr + 1, value.len - 1), value.ptr[0] == '1');
}

/* See auth.h. */
void auth_user_cached_get(auth_t *a, int64_t user_id, int64_t now, auth_user_cb cb, void *arg)
{
    if (a->opts.user_cache_ttl_s > 0 && tier_shared(a)) {
        char key[32];
        user_key(user_id, key);
        struct user_lookup *l = xmalloc(sizeof *l);
        l->cb = cb;
        l->arg = arg;
        store_cache_get(a->store, key, on_user_value, l);
        return;
    }
    char stackbuf[2048];
    char *out = stackbuf;
    size_t len = 0;
    bool active = false;
    int rc = auth_user_cached(a, user_id, now, out, sizeof stackbuf, &len, &active);
    if (rc == ERR_TOO_LARGE) {
        out = xmalloc(len);
        rc = auth_user_cached(a, user_id, now, out, len, &len, &active);
    }
    cb(arg, rc == 0 ? 0 : ERR_NOT_FOUND, rc == 0 ? str_make(out, len) : STR_NULL, active);
    if (out != stackbuf)
        free(out);
}

/* See auth.h. */
int auth_user_load(auth_t *a, int64_t user_id, int64_t now)
{
    return auth_user_load_copy(a, user_id, now, NULL, NULL);
}

/* See auth.h. */
int auth_user_load_copy(auth_t *a, int64_t user_id, int64_t now, auth_pair_t *out, bool *is_active)
{
    db_user_t u;
    memset(&u, 0, sizeof u);
    struct user_fill fill = user_fill_begin(a, user_id); /* before the read: see DESIGN */
    int rc = db_user_find_by_id(a->db, user_id, &u);
    if (rc != 0) {
        if (rc == ERR_NOT_FOUND)
            auth__user_drop(a, user_id);
        return auth__map_db(rc);
    }
    user_cache_store(a, &u, now, out, &fill);
    if (is_active)
        *is_active = u.is_active;
    db_user_dispose(&u);
    return 0;
}

/* See auth.h. */
void auth_user_invalidate(auth_t *a, int64_t user_id)
{
    auth__user_drop(a, user_id);
    store_user_changed(a->store, user_id); /* the other instances' caches too */
}
