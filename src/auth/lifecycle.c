/*
 * lifecycle.c - the account lifecycle over e-mail (auth.h): e-mail verification and resend,
 * forgotten password and reset, password change with its notice, e-mail change confirmed at
 * the new address, and sign-in by an e-mailed code or link. This file owns the email_tokens
 * table's statements; the mails go through the outbox (outbox.c) in the same transaction as
 * the change that causes them.
 *
 * Link tokens: 32 random bytes (RAND_bytes) as base64url, stored only as the hex SHA-256 of
 * that text, with one purpose, one user, an expiry and a used_at that the consuming
 * statement sets atomically (... WHERE used_at IS NULL AND expires_at > now RETURNING): a
 * link works once, for its purpose only. A new link of a purpose retires the user's earlier
 * ones. A sign-in code (6 digits, uniform) rides on its link's row as the SHA-256 of
 * "<row hash>:<code>", compared with CRYPTO_memcmp; each wrong code counts, and the fifth
 * retires the row.
 *
 * DESIGN (no enumeration): the routes that take an address (resend, forgot, code sign-in)
 * answer the same whether it has an account or not, and do the same work: the lookup, the
 * rendering, and one transaction writing a token row and an outbox row; for an unknown
 * address the token row has no user and the outbox row is 'void' (never sent). No sleep is
 * involved, so the timing matches because the work does.
 */
#define LOG_MODULE "auth"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "auth/auth_internal.h"
#include "auth/mail.h"
#include "common/b64url.h"
#include "common/err.h"
#include "runtime/alloc.h"
#include "runtime/audit.h"
#include "runtime/errtab.h"
#include "runtime/log.h"

#define TOKEN_BYTES   32
#define TOKEN_CHARS   43 /* base64url of 32 bytes */
#define HASH_HEX      64
#define CODE_ATTEMPTS 5

/* What a token row is for (the purpose column). */
#define P_VERIFY       "verify"
#define P_EMAIL_CHANGE "email_change"
#define P_RESET        "reset"
#define P_OTP          "otp"
#define P_VOID         "void"

/* ==== statements (email_tokens) ============================================================= */

static const db_stmt_def_t TOKEN_RETIRE = {
    "email_token_retire",
    "UPDATE email_tokens SET used_at = ?1 WHERE user_id = ?2 AND purpose = ?3 AND used_at IS NULL",
    NULL, NULL};

static const db_stmt_def_t TOKEN_INSERT = {
    "email_token_insert",
    "INSERT INTO email_tokens (token_hash, user_id, purpose, new_email, code_hash, created_at, "
    "expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    NULL, NULL};

/* Consumes a link of one of two purposes (?3, ?4). */
static const db_stmt_def_t TOKEN_CONSUME = {
    "email_token_consume",
    "UPDATE email_tokens SET used_at = ?1 WHERE token_hash = ?2 AND purpose IN (?3, ?4) "
    "AND used_at IS NULL AND expires_at > ?1 AND attempts < 5 AND user_id IS NOT NULL "
    "RETURNING user_id, purpose, new_email",
    NULL, NULL};

/* The user of a live link of one purpose, without consuming it. */
static const db_stmt_def_t TOKEN_PEEK = {
    "email_token_peek",
    "SELECT user_id FROM email_tokens WHERE token_hash = ?1 AND purpose = ?2 "
    "AND used_at IS NULL AND expires_at > ?3 AND user_id IS NOT NULL",
    NULL, NULL};

/* The live sign-in code of a user: the newest unused row. */
static const db_stmt_def_t OTP_CURRENT = {
    "email_token_otp_current",
    "SELECT token_hash, code_hash, attempts FROM email_tokens WHERE user_id = ?1 AND purpose = "
    "'otp' AND used_at IS NULL AND expires_at > ?2 AND attempts < 5 "
    "ORDER BY created_at DESC, token_hash LIMIT 1",
    NULL, NULL};

static const db_stmt_def_t OTP_MISS = {
    "email_token_otp_miss",
    "UPDATE email_tokens SET attempts = attempts + 1, used_at = CASE WHEN attempts + 1 >= 5 "
    "THEN ?1 ELSE used_at END WHERE token_hash = ?2 AND used_at IS NULL",
    NULL, NULL};

static const db_stmt_def_t OTP_USE = {
    "email_token_otp_use",
    "UPDATE email_tokens SET used_at = ?1 WHERE token_hash = ?2 AND used_at IS NULL "
    "AND attempts < 5",
    NULL, NULL};

/* ==== tokens ================================================================================ */

static void hex_of(const unsigned char *d, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[2 * n] = '\0';
}

/* The stored form of a token or code: hex SHA-256 of its text (prefix:text when given). */
static void hash_hex(const char *prefix, const char *s, size_t n, char out[HASH_HEX + 1])
{
    unsigned char d[32];
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned int len = 0;
    if (!c || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1 ||
        (prefix &&
         (EVP_DigestUpdate(c, prefix, strlen(prefix)) != 1 || EVP_DigestUpdate(c, ":", 1) != 1)) ||
        EVP_DigestUpdate(c, s, n) != 1 || EVP_DigestFinal_ex(c, d, &len) != 1)
        memset(d, 0, sizeof d); /* never matches a stored hash of a real token */
    EVP_MD_CTX_free(c);
    hex_of(d, 32, out);
}

/* A new link token (text for the mail, hash for the row). */
static int new_token(char text[TOKEN_CHARS + 1], char hash[HASH_HEX + 1])
{
    unsigned char b[TOKEN_BYTES];
    if (RAND_bytes(b, sizeof b) != 1)
        return ERR_INTERNAL;
    size_t n = b64url_encode(b, sizeof b, text, TOKEN_CHARS + 1);
    OPENSSL_cleanse(b, sizeof b);
    if (n != TOKEN_CHARS)
        return ERR_INTERNAL;
    text[n] = '\0';
    hash_hex(NULL, text, n, hash);
    return 0;
}

/* A 6-digit code, uniform (rejection sampling over 32-bit draws). */
static int new_code(char out[7])
{
    uint32_t v;
    do {
        if (RAND_bytes((unsigned char *)&v, sizeof v) != 1)
            return ERR_INTERNAL;
    } while (v >= 4294000000u); /* a multiple of 10^6 */
    snprintf(out, 7, "%06u", v % 1000000u);
    return 0;
}

/* Whether a presented token has the shape of ours (bounded before hashing). */
static bool token_shape_ok(const char *t)
{
    size_t n = t ? strlen(t) : 0;
    if (n != TOKEN_CHARS)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
    }
    return true;
}

/* ==== mails ================================================================================= */

/* "30 minutes", "1 hour", "2 hours": end-user wording of a lifetime. */
static void human_duration(int64_t s, char *out, size_t cap)
{
    if (s >= 3600 && s % 3600 == 0)
        snprintf(out, cap, "%" PRId64 " hour%s", s / 3600, s == 3600 ? "" : "s");
    else if (s >= 60)
        snprintf(out, cap, "%" PRId64 " minute%s", (s + 59) / 60, s < 120 ? "" : "s");
    else
        snprintf(out, cap, "%" PRId64 " seconds", s);
}

/* One mail to queue with a change: kind, recipient, the values of its template. */
struct mail {
    enum auth_mail_kind kind;
    const char *to;
    bool void_row; /* an unknown address: written, never sent */
    const char *username;
    const char *new_email;
    const char *page;  /* the link's page under /app/, NULL = no link */
    const char *token; /* the link's token */
    const char *code;  /* a sign-in code, or NULL */
    int64_t lifetime_s;
};

static int queue_mail(auth_t *a, db_tx_t *tx, const struct mail *m, int64_t now)
{
    const auth_mail_options_t *o = auth__mailer_options(a->mailer);
    char link[1024] = "", expires[48];
    if (m->page)
        snprintf(link, sizeof link, "%s/app/%s%s%s", o->link_base, m->page,
                 m->token ? "#token=" : "", m->token ? m->token : "");
    human_duration(m->lifetime_s, expires, sizeof expires);
    auth_mail_var_t vars[] = {
        {"username", m->username},   {"email", m->to},
        {"new_email", m->new_email}, {"link", link},
        {"code", m->code},           {"expires", expires},
        {"site", o->site_name},
    };
    int rc = auth__outbox_add(tx, a->mailer, m->kind, m->to, vars, sizeof vars / sizeof vars[0],
                              m->void_row, now);
    if (rc == 0 && !m->void_row && auth__mailer_spool(a->mailer) && m->page)
        log_info("msg=\"mail queued (development: no SMTP)\" kind=%s to=\"%s\" link=\"%s\"%s%s",
                 auth__mail_kind_name(m->kind), m->to, link, m->code ? " code=" : "",
                 m->code ? m->code : "");
    return rc;
}

/* ==== issuing a link ========================================================================= */

/* A link (and optionally a code) for user_id (0 = an unknown address: void rows), and its
   mail, in one transaction. */
struct issue {
    auth_t *a;
    int64_t user_id;
    const char *purpose;
    const char *new_email; /* email_change */
    bool with_code;
    struct mail mail;
    int64_t now;
};

static int issue_body(db_tx_t *tx, void *arg)
{
    struct issue *s = arg;
    char token[TOKEN_CHARS + 1], hash[HASH_HEX + 1], code[7] = "", code_hash[HASH_HEX + 1] = "";
    int rc = new_token(token, hash);
    if (rc == 0 && s->with_code && (rc = new_code(code)) == 0)
        hash_hex(hash, code, 6, code_hash);
    if (rc != 0)
        return rc;
    bool real = s->user_id > 0;
    db_param_t r[] = {db_int(s->now), real ? db_int(s->user_id) : db_null(), db_text(s->purpose)};
    rc = db_tx_exec(tx, &TOKEN_RETIRE, r, DB_NPARAMS(r), NULL);
    if (rc != 0)
        return rc;
    int64_t life = s->with_code ? s->a->opts.mail.code_lifetime_s : s->a->opts.mail.link_lifetime_s;
    db_param_t p[] = {db_text(hash),
                      real ? db_int(s->user_id) : db_null(),
                      db_text(real ? s->purpose : P_VOID),
                      db_text(s->new_email),
                      db_text(code_hash),
                      db_int(s->now),
                      db_int(s->now + life)};
    rc = db_tx_exec(tx, &TOKEN_INSERT, p, DB_NPARAMS(p), NULL);
    if (rc == 0) {
        s->mail.token = token;
        s->mail.code = s->with_code ? code : NULL;
        s->mail.lifetime_s = life;
        s->mail.void_row = !real;
        rc = queue_mail(s->a, tx, &s->mail, s->now);
        s->mail.token = s->mail.code = NULL;
    }
    OPENSSL_cleanse(token, sizeof token);
    OPENSSL_cleanse(code, sizeof code);
    return rc;
}

static int issue_link(auth_t *a, struct issue *s)
{
    int rc = db_transact(a->db, issue_body, s);
    if (rc != 0) {
        log_warn("msg=\"mail not queued\" kind=%s err=%s", auth__mail_kind_name(s->mail.kind),
                 err_name(rc));
        return ERR_UNAVAILABLE;
    }
    if (s->user_id > 0)
        auth__mailer_kick(a->mailer);
    return 0;
}

/* See auth.h. */
bool auth_mail_enabled(const auth_t *a)
{
    return a->mailer != NULL;
}

/* ==== registration's mail (users.c) ========================================================== */

/* See auth_internal.h. */
int auth__signup_mail_tx(auth_t *a, db_tx_t *tx, int64_t user_id, const char *username,
                         const char *email, int64_t now)
{
    struct issue s = {.a = a,
                      .user_id = user_id,
                      .purpose = P_VERIFY,
                      .new_email = "",
                      .mail = {.kind = AUTH_MAIL_VERIFY,
                               .to = email,
                               .username = username,
                               .page = "verify-email.html"},
                      .now = now};
    return issue_body(tx, &s);
}

/* See auth_internal.h. */
void auth__signup_mail_queued(auth_t *a)
{
    auth__mailer_kick(a->mailer);
}

/* ==== requests by address (resend, forgot, code) ============================================= */

/*
 * The routes that take an address: the user (if any) whom a mail of purpose should reach,
 * then the same transaction whether or not there is one.
 */
static int request_by_address(auth_t *a, const char *email, const char *purpose,
                              enum auth_mail_kind kind, const char *page, bool with_code,
                              int64_t now)
{
    if (!a->mailer)
        return ERR_UNAVAILABLE;
    db_user_t u;
    bool verified = false;
    int rc = db_user_find_by_email(a->db, email, &u, &verified);
    if (rc != 0 && rc != ERR_NOT_FOUND) {
        db_user_dispose(&u);
        return ERR_UNAVAILABLE;
    }
    bool found = rc == 0;
    /* who gets a real mail: an active account; for a verification, one not yet verified */
    bool real = found && u.is_active && !(strcmp(purpose, P_VERIFY) == 0 && verified);
    struct issue s = {.a = a,
                      .user_id = real ? u.id : 0,
                      .purpose = purpose,
                      .new_email = "",
                      .with_code = with_code,
                      .mail = {.kind = kind,
                               .to = found ? u.email : email,
                               .username = found ? u.username : email,
                               .page = page},
                      .now = now};
    rc = issue_link(a, &s);
    audit_info(NULL, .event = "mail_requested", .outcome = real ? "success" : "ignored",
               .user_id = real ? u.id : 0, .reason = purpose,
               .detail = real ? NULL : (found ? "address=not_eligible" : "address=unknown"));
    db_user_dispose(&u);
    return rc;
}

/* See auth.h. */
int auth_email_resend(auth_t *a, const char *email, int64_t now)
{
    return request_by_address(a, email, P_VERIFY, AUTH_MAIL_VERIFY, "verify-email.html", false,
                              now);
}

/* See auth.h. */
int auth_password_forgot(auth_t *a, const char *email, int64_t now)
{
    return request_by_address(a, email, P_RESET, AUTH_MAIL_RESET, "reset-password.html", false,
                              now);
}

/* See auth.h. */
int auth_otp_request(auth_t *a, const char *email, int64_t now)
{
    return request_by_address(a, email, P_OTP, AUTH_MAIL_OTP, "code-signin.html", true, now);
}

/* ==== consuming a link ======================================================================= */

struct consumed {
    int64_t user_id;
    char purpose[16];
    char *new_email;
};

static int read_consumed(void *arg, const db_row_t *row)
{
    struct consumed *c = arg;
    size_t len = 0;
    const char *p = db_row_text(row, 1, &len);
    c->user_id = db_row_int(row, 0);
    snprintf(c->purpose, sizeof c->purpose, "%.*s", (int)(p ? len : 0), p ? p : "");
    c->new_email = db_row_strdup(row, 2);
    return 0;
}

/* Consumes token for one of two purposes inside tx. ERR_INVALID_LINK when it is not a live
   link of those purposes. */
static int consume(db_tx_t *tx, const char *token, const char *p1, const char *p2, int64_t now,
                   struct consumed *out)
{
    memset(out, 0, sizeof *out);
    char hash[HASH_HEX + 1];
    hash_hex(NULL, token, strlen(token), hash);
    db_param_t p[] = {db_int(now), db_text(hash), db_text(p1), db_text(p2)};
    int rc = db_tx_query_one(tx, &TOKEN_CONSUME, p, DB_NPARAMS(p), read_consumed, out);
    return rc == ERR_NOT_FOUND ? ERR_INVALID_LINK : rc;
}

/* ---- POST /auth/email/verify --------------------------------------------------------------- */

struct verify {
    const char *token;
    int64_t now;
    struct consumed c;
    db_user_t user;
};

static int verify_body(db_tx_t *tx, void *arg)
{
    struct verify *v = arg;
    int rc = consume(tx, v->token, P_VERIFY, P_EMAIL_CHANGE, v->now, &v->c);
    if (rc != 0)
        return rc;
    bool change = strcmp(v->c.purpose, P_EMAIL_CHANGE) == 0;
    rc = db_tx_user_set_email(tx, v->c.user_id, change ? v->c.new_email : NULL, true, v->now);
    if (rc == ERR_CONFLICT)
        return ERR_INVALID_LINK; /* the address was taken meanwhile: this link cannot apply */
    if (rc == 0)
        rc = db_tx_user_find_by_id(tx, v->c.user_id, &v->user);
    return rc;
}

/* See auth.h. */
int auth_email_verify(auth_t *a, const char *token, int64_t now, char **json, size_t *json_len)
{
    *json = NULL;
    if (!token_shape_ok(token))
        return ERR_INVALID_LINK;
    struct verify v = {.token = token, .now = now};
    int rc = db_transact(a->db, verify_body, &v);
    if (rc == 0) {
        *json = auth_user_json(&v.user, json_len);
        auth_user_invalidate(a, v.user.id);
        audit_info(NULL,
                   .event = strcmp(v.c.purpose, P_EMAIL_CHANGE) == 0 ? "email_changed"
                                                                     : "email_verified",
                   .outcome = "success", .user_id = v.user.id, .username = v.user.username);
    } else if (rc == ERR_INVALID_LINK) {
        audit_info(NULL, .event = "email_verified", .outcome = "failure", .reason = "invalid_link");
    }
    free(v.c.new_email);
    db_user_dispose(&v.user);
    return rc == 0 || rc == ERR_INVALID_LINK ? rc : ERR_UNAVAILABLE;
}

/* ---- POST /auth/password/reset -------------------------------------------------------------- */

struct reset {
    const char *token;
    const char *hash; /* the new password's */
    int64_t now;
    struct consumed c;
};

static int reset_body(db_tx_t *tx, void *arg)
{
    struct reset *r = arg;
    int rc = consume(tx, r->token, P_RESET, P_RESET, r->now, &r->c);
    if (rc == 0) /* every session and, by the watermark, every access token */
        rc = db_tx_user_set_password(tx, r->c.user_id, r->hash, true, r->now);
    if (rc == 0) /* the link reached the mailbox: the address is the user's */
        rc = db_tx_user_set_email(tx, r->c.user_id, NULL, true, r->now);
    return rc;
}

/* See auth.h. */
int auth_password_reset(auth_t *a, const char *token, const char *password, size_t len, int64_t now,
                        auth_policy_result_t *policy)
{
    auth_policy_result_t local;
    if (!policy)
        policy = &local;
    memset(policy, 0, sizeof *policy);
    if (!token_shape_ok(token))
        return ERR_INVALID_LINK;
    /* the policy compares the password with the user's name and address: look the link up
       without consuming it, so a refused password leaves it usable */
    char th[HASH_HEX + 1];
    hash_hex(NULL, token, strlen(token), th);
    int64_t uid = 0;
    db_param_t k[] = {db_text(th), db_text(P_RESET), db_int(now)};
    int rc = db_query_one(a->db, &TOKEN_PEEK, k, DB_NPARAMS(k), db_row_read_int, &uid);
    if (rc == ERR_NOT_FOUND)
        return ERR_INVALID_LINK;
    db_user_t u;
    if (rc == 0)
        rc = db_user_find_by_id(a->db, uid, &u);
    else
        memset(&u, 0, sizeof u);
    if (rc != 0) {
        db_user_dispose(&u);
        return rc == ERR_NOT_FOUND ? ERR_INVALID_LINK : ERR_UNAVAILABLE;
    }
    rc = auth_password_policy_check(password, len, u.username, u.email, policy);
    db_user_dispose(&u);
    if (rc != 0)
        return ERR_INVALID;
    char h[AUTH_PASSWORD_HASH_MAX];
    rc = auth_password_hash(&a->opts.argon2, password, len, h, sizeof h);
    if (rc != 0)
        return rc;
    struct reset r = {.token = token, .hash = h, .now = now};
    rc = db_transact(a->db, reset_body, &r);
    OPENSSL_cleanse(h, sizeof h);
    free(r.c.new_email);
    if (rc == ERR_INVALID_LINK) {
        audit_info(NULL, .event = "password_reset", .outcome = "failure", .reason = "invalid_link");
        return rc;
    }
    if (rc != 0)
        return ERR_UNAVAILABLE;
    auth__index_revoke_user(a, r.c.user_id, now);
    auth_user_invalidate(a, r.c.user_id);
    audit_info(NULL, .event = "password_reset", .outcome = "success", .user_id = r.c.user_id);
    return 0;
}

/* ---- POST /auth/password/change ------------------------------------------------------------- */

struct change {
    auth_t *a;
    int64_t user_id;
    const char *keep_sid;
    const char *hash;
    const db_user_t *user;
    int64_t now;
    uint32_t revoked;
};

static int change_body(db_tx_t *tx, void *arg)
{
    struct change *c = arg;
    int rc = db_tx_user_set_password(tx, c->user_id, c->hash, false, c->now);
    if (rc == 0)
        rc = db_tx_session_revoke_others(tx, c->user_id, c->keep_sid, c->now, &c->revoked);
    if (rc == 0 && c->a->mailer && c->user->email[0]) {
        struct mail m = {.kind = AUTH_MAIL_PASSWORD_CHANGED,
                         .to = c->user->email,
                         .username = c->user->username,
                         .page = "forgot-password.html",
                         .lifetime_s = c->a->opts.mail.link_lifetime_s};
        rc = queue_mail(c->a, tx, &m, c->now);
    }
    return rc;
}

/* See auth.h. */
int auth_password_change(auth_t *a, int64_t user_id, const char *sid, const char *current,
                         size_t current_len, const char *password, size_t len, int64_t now,
                         auth_policy_result_t *policy)
{
    auth_policy_result_t local;
    if (!policy)
        policy = &local;
    memset(policy, 0, sizeof *policy);
    db_user_t u;
    int rc = db_user_find_by_id(a->db, user_id, &u);
    if (rc != 0) {
        db_user_dispose(&u);
        return auth__map_db(rc);
    }
    if (!u.is_active || !auth_password_verify(u.password_hash, current, current_len)) {
        audit_info(NULL, .event = "password_changed", .outcome = "failure", .user_id = user_id,
                   .reason = "bad_password");
        db_user_dispose(&u);
        return ERR_PERMISSION;
    }
    if (auth_password_policy_check(password, len, u.username, u.email, policy) != 0) {
        db_user_dispose(&u);
        return ERR_INVALID;
    }
    char h[AUTH_PASSWORD_HASH_MAX];
    rc = auth_password_hash(&a->opts.argon2, password, len, h, sizeof h);
    if (rc != 0) {
        db_user_dispose(&u);
        return rc;
    }
    struct change c = {a, user_id, sid ? sid : "", h, &u, now, 0};
    rc = db_transact(a->db, change_body, &c);
    OPENSSL_cleanse(h, sizeof h);
    db_user_dispose(&u);
    if (rc != 0)
        return auth__map_db(rc);
    /* the other sessions into the index now (a pull reads them back from the database) */
    int s = store_sync(a->store);
    if (s != 0)
        log_warn("msg=\"revocation pull after a password change failed\" err=%s", err_name(s));
    if (a->mailer)
        auth__mailer_kick(a->mailer);
    char detail[32];
    snprintf(detail, sizeof detail, "other_sessions=%u", c.revoked);
    audit_info(NULL, .event = "password_changed", .outcome = "success", .user_id = user_id,
               .detail = detail);
    return 0;
}

/* ---- POST /auth/email/change ----------------------------------------------------------------- */

/* See auth.h. */
int auth_email_change(auth_t *a, int64_t user_id, const char *new_email, const char *password,
                      size_t len, int64_t now)
{
    if (!a->mailer)
        return ERR_UNAVAILABLE;
    db_user_t u, other;
    int rc = db_user_find_by_id(a->db, user_id, &u);
    if (rc != 0) {
        db_user_dispose(&u);
        return auth__map_db(rc);
    }
    if (!u.is_active || !auth_password_verify(u.password_hash, password, len)) {
        audit_info(NULL, .event = "email_change", .outcome = "failure", .user_id = user_id,
                   .reason = "bad_password");
        db_user_dispose(&u);
        return ERR_PERMISSION;
    }
    /* an address that has an account gets no mail, and the answer is the same */
    rc = db_user_find_by_email(a->db, new_email, &other, NULL);
    bool taken = rc == 0;
    db_user_dispose(&other);
    if (rc != 0 && rc != ERR_NOT_FOUND) {
        db_user_dispose(&u);
        return ERR_UNAVAILABLE;
    }
    struct issue s = {.a = a,
                      .user_id = taken ? 0 : user_id,
                      .purpose = P_EMAIL_CHANGE,
                      .new_email = new_email,
                      .mail = {.kind = AUTH_MAIL_EMAIL_CHANGE,
                               .to = new_email,
                               .username = u.username,
                               .new_email = new_email,
                               .page = "verify-email.html"},
                      .now = now};
    rc = issue_link(a, &s);
    audit_info(NULL, .event = "email_change", .outcome = taken ? "ignored" : "success",
               .user_id = user_id, .reason = taken ? "address_taken" : NULL);
    db_user_dispose(&u);
    return rc;
}

/* ---- POST /auth/otp/verify ---------------------------------------------------------------------
 */

struct otp_row {
    char hash[HASH_HEX + 1];
    char code_hash[HASH_HEX + 1];
    int64_t attempts;
};

static int read_otp(void *arg, const db_row_t *row)
{
    struct otp_row *o = arg;
    size_t n1 = 0, n2 = 0;
    const char *h = db_row_text(row, 0, &n1);
    const char *c = db_row_text(row, 1, &n2);
    snprintf(o->hash, sizeof o->hash, "%.*s", (int)(h ? n1 : 0), h ? h : "");
    snprintf(o->code_hash, sizeof o->code_hash, "%.*s", (int)(c ? n2 : 0), c ? c : "");
    o->attempts = db_row_int(row, 2);
    return 0;
}

static bool code_shape_ok(const char *code)
{
    if (!code || strlen(code) != 6)
        return false;
    for (int i = 0; i < 6; i++)
        if (code[i] < '0' || code[i] > '9')
            return false;
    return true;
}

/* The user of a code: checks it against the user's live code row (every miss counted, the
   fifth retiring the row). OUT: *user_id. */
static int otp_by_code(auth_t *a, const char *email, const char *code, int64_t now,
                       int64_t *user_id)
{
    db_user_t u;
    struct otp_row o = {0};
    int rc = db_user_find_by_email(a->db, email, &u, NULL);
    if (rc == 0) {
        db_param_t p[] = {db_int(u.id), db_int(now)};
        rc = db_query_one(a->db, &OTP_CURRENT, p, DB_NPARAMS(p), read_otp, &o);
    }
    bool found = rc == 0;
    if (rc != 0 && rc != ERR_NOT_FOUND) {
        db_user_dispose(&u);
        return ERR_UNAVAILABLE;
    }
    /* the same hash and compare whether or not a row was found */
    char want[HASH_HEX + 1];
    hash_hex(found ? o.hash : "0000", code, strlen(code), want);
    bool ok = found && code_shape_ok(code) && strlen(o.code_hash) == HASH_HEX &&
              CRYPTO_memcmp(want, o.code_hash, HASH_HEX) == 0;
    if (!ok) {
        if (found) {
            db_param_t p[] = {db_int(now), db_text(o.hash)};
            (void)db_exec(a->db, &OTP_MISS, p, DB_NPARAMS(p), NULL);
        }
        db_user_dispose(&u);
        return ERR_INVALID_LINK;
    }
    int64_t changes = 0;
    db_param_t p[] = {db_int(now), db_text(o.hash)};
    rc = db_exec(a->db, &OTP_USE, p, DB_NPARAMS(p), &changes);
    *user_id = u.id;
    db_user_dispose(&u);
    if (rc != 0)
        return ERR_UNAVAILABLE;
    return changes == 1 ? 0 : ERR_INVALID_LINK; /* used concurrently */
}

struct otp_link {
    const char *token;
    int64_t now;
    struct consumed c;
};

static int otp_link_body(db_tx_t *tx, void *arg)
{
    struct otp_link *l = arg;
    return consume(tx, l->token, P_OTP, P_OTP, l->now, &l->c);
}

struct mark_verified {
    int64_t user_id, now;
};

static int mark_verified_body(db_tx_t *tx, void *arg)
{
    struct mark_verified *m = arg;
    return db_tx_user_set_email(tx, m->user_id, NULL, true, m->now);
}

/* See auth.h. */
int auth_otp_verify(auth_t *a, const char *email, const char *code, const char *token,
                    const auth_client_t *client, int64_t now, auth_pair_t *out)
{
    memset(out, 0, sizeof *out);
    int64_t user_id = 0;
    int rc;
    if (token && *token) {
        if (!token_shape_ok(token))
            return ERR_INVALID_LINK;
        struct otp_link l = {.token = token, .now = now};
        rc = db_transact(a->db, otp_link_body, &l);
        free(l.c.new_email);
        user_id = l.c.user_id;
    } else {
        rc = otp_by_code(a, email ? email : "", code ? code : "", now, &user_id);
    }
    if (rc != 0) {
        if (rc == ERR_INVALID_LINK)
            audit_info(NULL, .event = "login_failed", .outcome = "failure",
                       .reason = "otp_invalid");
        return rc == ERR_INVALID_LINK ? rc : ERR_UNAVAILABLE;
    }
    /* the mailbox answered: the address is confirmed, and the account signs in */
    db_user_t u;
    rc = db_user_find_by_id(a->db, user_id, &u);
    if (rc == 0 && !u.is_active)
        rc = ERR_INVALID_LINK;
    if (rc == 0) {
        struct mark_verified mv = {user_id, now};
        rc = db_transact(a->db, mark_verified_body, &mv);
    }
    if (rc != 0) {
        db_user_dispose(&u);
        return rc == ERR_INVALID_LINK ? rc : auth__map_db(rc);
    }
    rc = auth__login_user(a, &u, client, "otp", now, out);
    db_user_dispose(&u);
    return rc;
}
