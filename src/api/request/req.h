/*
 * req.h - the helpers of the request layer, shared by its route families, its middleware
 * links and the demo resource wing (src/resource/): the context every one of them gets, the
 * per-request state computed once, body fields with DRF's rules, Bearer authentication,
 * cookies and origins, the answers of the HTTP contract, and the blocking-pool jobs of the
 * token routes. Not a contract for other subsystems (api.h is).
 *
 * Files: ctx.c (the context), locals.c (per-request state, authentication), fields.c
 * (bodies, query parameters), answer.c (error and token answers), web.c (cookies, origins,
 * fingerprints), jobs.c (login and token jobs).
 */
#ifndef JWTD_API_REQ_H
#define JWTD_API_REQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/api.h"
#include "auth/auth.h"
#include "common/buf.h"
#include "common/ip.h"
#include "http/http.h"
#include "runtime/audit.h"

struct json_t;
struct api_static;

#define API_JSON_CT        "application/json; charset=utf-8"
#define API_REFRESH_COOKIE "refresh_token"
/* The device token (docs/security.md): a login presents it in this cookie (browsers) or
   body field (JSON and form clients); a successful login answers it in the cookie (the
   browser flow) or in this header (the JSON routes, whose bodies keep SimpleJWT's and
   FastAPI's shapes). */
#define API_DEVICE_TOKEN  "device_token"
#define API_DEVICE_HEADER "X-Device-Token"
/* WWW-Authenticate values (RFC 6750): no credentials, a bad header, a refused token. */
#define API_WWW_PLAIN       "Bearer realm=\"api\""
#define API_WWW_BAD_REQUEST "Bearer realm=\"api\", error=\"invalid_request\""
#define API_WWW_INVALID     "Bearer realm=\"api\", error=\"invalid_token\""

/* ==== the context (ctx.c) =================================================================== */

/* What every route family and link gets as its data: the options (copied) and the service. */
struct api_ctx {
    auth_t *auth;
    api_options_t o;            /* strings and lists point into this struct's copies */
    char **cors;                /* origins without trailing '/' */
    bool cors_any;              /* "*" listed */
    char **fingerprint_fields;  /* lowercased header names */
    ip_net_list_t ip_allowlist; /* copies */
    ip_net_list_t admin_allowlist;
    char **one_time_routes;
    char *hsts;             /* the Strict-Transport-Security value; NULL = none */
    bool public_https;      /* o.public_url is https://: every answer counts as https */
    char *public_origin;    /* scheme://host[:port] of o.public_url; NULL = unset */
    struct api_static *ui;  /* the web UI's files (routes/static.c) */
    char *openapi;          /* the served document (routes/openapi.c) */
    struct auth_oidc *oidc; /* social sign-in (routes/oidc.c); NULL = its routes are off */
    struct api_feed *feed;  /* the revocation feed's clients per loop (routes/feed.c) */
    size_t openapi_len;
};

/* One route of a family's table. */
typedef struct {
    enum http_method method;
    const char *pattern;
    http_handler_fn fn;
} api_route_t;

/*
 * A route family: its fixed table of routes, then mount(r, data) for the routes that are
 * not a fixed table (streamed, loaded at start; may be NULL). Both get the family's data
 * (the request context, or the resource wing) as route data.
 */
typedef struct {
    const api_route_t *routes;
    size_t n;
    int (*mount)(http_router_t *r, void *data);
} api_family_t;
#define API_FAMILY(table, mount)                                                                   \
    {                                                                                              \
        (table), sizeof(table) / sizeof((table)[0]), (mount)                                       \
    }
#define API_FAMILY_MOUNT(mount)                                                                    \
    {                                                                                              \
        NULL, 0, (mount)                                                                           \
    }

/* Registers the n families with data (ctx.c). Returns 0, ERR_INVALID (a route) or what a
   mount function returned. */
int api__families_add(http_router_t *r, const api_family_t *const *families, size_t n, void *data);

/* GET /api/users/me/ and GET /auth/me: the caller's user object (locals.c). */
void api__on_me(http_req_t *req);

/* ==== per-request state (locals.c) =========================================================== */

/*
 * What the layer computes at most once per request, kept in http_req_t.slot (the request
 * arena). The caller is verified at the first use (a rate-limit link, the auto-refresh link
 * or the route) and every later use reads the result: one verification, one metrics count.
 * A revocation answered while the request is in flight may or may not apply to it, as for
 * any concurrent request.
 */
typedef struct {
    bool caller_done;
    int bearer_rc;              /* 0, ERR_NOT_AUTHENTICATED, ERR_BAD_AUTH_HEADER */
    enum auth_verdict verdict;  /* of the Bearer access token, when bearer_rc == 0 */
    str_t token;                /* the Bearer token (request storage) */
    auth_token_ref_t ref;       /* the verified token, when verdict == AUTH_OK */
    struct api_verified *other; /* the last other token verified (api__verify) */
} api_locals_t;

/* The request's state, created in the arena on first use. */
api_locals_t *api__locals(http_req_t *req);
/* The request's caller: its Bearer access token, parsed and verified once. */
const api_locals_t *api__caller(http_req_t *req, const api_ctx_t *ctx);
/* The caller when a Bearer token was presented, whatever its verdict; NULL after it has
   RESPONDED 401 to a missing or malformed Authorization header. */
const api_locals_t *api__caller_presented(http_req_t *req, const api_ctx_t *ctx);

/*
 * Authentication of a protected route: the caller's access token must verify and name a
 * user (decimal user_id); an admin's token must come from JWTD_ADMIN_IP_ALLOWLIST; with
 * JWTD_FINGERPRINT_ACCESS its fph must be the request's. Returns the token, or NULL after
 * it has RESPONDED (401 with the contract's body and WWW-Authenticate, or 403). Sets the
 * access line's user.
 */
const auth_token_ref_t *api__authenticate(http_req_t *req, const api_ctx_t *ctx);
/* The same, then 403 permission_denied unless the token's role is role. */
const auth_token_ref_t *api__authenticate_role(http_req_t *req, const api_ctx_t *ctx,
                                               const char *role);
/*
 * Verifies a token of the request other than the caller's (a refresh token in a body or
 * cookie, a token to check) as kind, once per request: a second call with the same bytes
 * and kind returns the first result. OUT: *v. Returns the reference (request storage),
 * filled when *v is AUTH_OK.
 */
const auth_token_ref_t *api__verify(http_req_t *req, const api_ctx_t *ctx, str_t token,
                                    enum auth_token_kind kind, enum auth_verdict *v);
/* Whether the token's role is admin. */
bool api__is_admin(const auth_token_ref_t *t);

/* The audit context of a request handled on its loop (runtime/audit.h): request id, client
   address and User-Agent, pointing into the request. */
audit_ctx_t api__audit_ctx(http_req_t *req);
/* Writes `path="<the request's path, escaped>"` into out (an audit record's detail). */
const char *api__audit_path(http_req_t *req, char *out, size_t cap);
/*
 * A token that failed verification with a tamper class (bad signature, algorithm, unknown
 * key, malformed: not an expired or revoked one) as an audit record event=token_invalid.
 * Sampled per client address (at most a few records a minute each, the rest counted in the
 * next record's suppressed=N), so a flood costs a hash and a lock per token, not a record.
 */
void api__audit_tamper(http_req_t *req, const api_ctx_t *ctx, const auth_token_ref_t *t,
                       enum auth_token_kind kind);

/*
 * SimpleJWT's Bearer parsing (scheme exactly "Bearer", exactly two whitespace-separated
 * parts). Returns 0 and *token, ERR_NOT_AUTHENTICATED (no header or another scheme) or
 * ERR_BAD_AUTH_HEADER.
 */
int api__bearer(const http_req_t *req, str_t *token);

/* ==== bodies and query parameters (fields.c) ================================================= */

/* One expected body field. */
typedef struct {
    const char *name;
    bool required;     /* missing -> "This field is required." */
    bool trim;         /* DRF trim_whitespace (false for passwords and post bodies) */
    bool allow_blank;  /* "" accepted (optional profile fields) */
    size_t max_chars;  /* 0 = unbounded; counted in Unicode code points */
    bool token;        /* a token: NUL characters make it an invalid token (the verifier's
                          401), not a field error */
    str_t value;       /* OUT: the value (points into the parsed body), STR_NULL if absent */
    const char *error; /* OUT / IN-OUT: DRF message; callers may set it for their checks */
} api_field_t;

/* api__read_fields flags. */
#define API_FIELDS_NUMBERS 1u /* numbers become their text (DRF CharField); else refused */

/*
 * Parses the body (JSON object or form) and reads the fields: strings (numbers only with
 * API_FIELDS_NUMBERS), valid UTF-8, no NUL, bounded length. Returns 0 with *body holding
 * the parsed object (json_decref it: values point into it); otherwise it has RESPONDED
 * (400 invalid_request with DRF field errors, or the body parser's 400 / 415) and returns
 * -1.
 */
int api__read_fields(http_req_t *req, api_field_t *f, size_t n, unsigned flags,
                     struct json_t **body);
/*
 * Fast path of a one-field token body: when the body is a small JSON object whose member
 * name is a plain string (no escapes, no surrounding blanks, not empty), *out is a slice of
 * the body, found without allocating. Anything else returns false: take api__read_fields,
 * which gives the exact DRF answers.
 */
bool api__fast_field(const http_req_t *req, const char *name, str_t *out);
/*
 * The non-empty string member name of a parsed object; STR_NULL when absent, not a string
 * or empty. Points into body.
 */
str_t api__json_string(struct json_t *body, const char *name);
/* Pagination bounds: default and largest page size, deepest row (page * page_size). */
typedef struct {
    uint32_t def_size, max_size;
    uint64_t max_offset;
} api_paging_t;

/*
 * Reads ?page= (>= 1, default 1) and ?page_size= (1..max_size, default def_size), and
 * refuses a page beyond max_offset rows. On a bad value it has RESPONDED 400 and returns -1.
 */
int api__pagination(http_req_t *req, const api_paging_t *paging, uint32_t *page,
                    uint32_t *page_size);
/* Parses a path parameter as a positive decimal id. False when it is not one. */
bool api__param_id(http_req_t *req, const char *name, int64_t *out);

/* ==== answers (answer.c) ===================================================================== */

/* status, JSON body, Cache-Control: no-store. */
void api__respond_nostore(http_req_t *req, int status, str_t body);
/* status with the JSON document in b, which is disposed. */
void api__respond_buf(http_req_t *req, int status, buf_t *b);
/* {"detail": detail, "code": code} with status; www (may be NULL) as WWW-Authenticate. */
void api__respond_code(http_req_t *req, int status, const char *code, const char *detail,
                       const char *www);
/*
 * The text of a verdict as this server words it: auth_verdict_message, except that with
 * JWTD_TOKEN_MESSAGES=combined an expired and an invalid token both read "Token is invalid or
 * expired" (SimpleJWT 5.2 and earlier). AUTH_OK reads as AUTH_INVALID.
 */
const char *api__verdict_text(const api_ctx_t *ctx, enum auth_verdict v);
/* 401 token_not_valid with the verdict's message, for a token given in a body field. */
void api__respond_token_invalid(http_req_t *req, const api_ctx_t *ctx, enum auth_verdict v);
/*
 * 401 of a protected route for a Bearer problem: rc of api__bearer (not authenticated, bad
 * header) or 0 with the token's verdict (the SimpleJWT body with messages[]).
 */
void api__bearer_error(http_req_t *req, const api_ctx_t *ctx, int rc, enum auth_verdict verdict);
/* 503 unavailable / 500 internal for an error of the blocking side. */
void api__failure(http_req_t *req, int rc);
/* 400 {"detail": detail, "code": "invalid_request", field: [detail]} (field may be NULL). */
void api__bad_request(http_req_t *req, const char *field, const char *detail);
/*
 * 400 {"detail":"Invalid input.","code":"invalid_request", "<field>":[error], ...} for the
 * fields whose error is set. Returns true when it responded (some error was set).
 */
bool api__respond_field_errors(http_req_t *req, const api_field_t *f, size_t n);
/*
 * The browser flow's error shape: {"error": msg, "detail": msg, "code": code}; www (may
 * be NULL) as WWW-Authenticate; no-store.
 */
void api__auth_error(http_req_t *req, int status, const char *code, const char *msg,
                     const char *www);

/* ==== cookies, origins, fingerprints (web.c) ================================================= */

/* The value of cookie name in the request's Cookie header(s); STR_NULL when absent or "". */
str_t api__cookie(const http_req_t *req, const char *name);
/* Adds Set-Cookie for the refresh token (value NULL: the clearing cookie, Max-Age=0). */
void api__set_refresh_cookie(http_req_t *req, const api_ctx_t *ctx, const char *value, size_t len);
/*
 * Adds Set-Cookie for a device token: HttpOnly, SameSite=Strict, Path=/api/auth/login/ (the
 * browser flow's login, the only route a browser needs it on), Max-Age = the token's
 * lifetime, Secure unless development, host-only.
 */
void api__set_device_cookie(http_req_t *req, const api_ctx_t *ctx, const char *value, size_t len);
/* Whether origin (scheme://host[:port]) is listed ("*" is not a listing). */
bool api__origin_listed(const api_ctx_t *ctx, str_t origin);
/* Whether origin names this server itself: its authority equals the Host header. */
bool api__origin_is_self(const http_req_t *req, str_t origin);
/* Whether origin is the origin of the configured public URL (ctx->public_origin). */
bool api__origin_is_public(const api_ctx_t *ctx, str_t origin);
/*
 * Whether req is known to have reached us over https: the public URL is https://, or a
 * trusted proxy says so (http_req_forwarded_https). Decides the Secure cookie and HSTS.
 */
bool api__https(const http_req_t *req, const api_ctx_t *ctx);
/*
 * The external base URL of this server, without a trailing '/', into out (cap bytes): the
 * public URL when configured (never the Host header then), else the scheme (api__https)
 * and the request's Host when it is a plain host[:port], else the scheme and "localhost".
 */
void api__base_url(const http_req_t *req, const api_ctx_t *ctx, char *out, size_t cap);
/*
 * The OpenID Connect issuer into out (cap bytes, no trailing '/'): JWTD_ISSUER, else
 * JWTD_PUBLIC_URL, else in development only the request's base URL (api__base_url). False
 * when there is none (outside development with neither set): never the Host header then.
 */
bool api__oidc_issuer(const http_req_t *req, const api_ctx_t *ctx, char *out, size_t cap);
/* The request's client fingerprint into out (AUTH_FPH_MAX + 1); false when binding is off. */
bool api__fingerprint(http_req_t *req, const api_ctx_t *ctx, char *out);

/* ==== blocking-pool jobs (jobs.c) ============================================================= */

/*
 * Runs work(job) on the blocking pool, then done(req, job, status) on req's loop
 * (http_pool_submit). When the pool is full it frees the job with job_free (may be NULL)
 * and answers 503. Returns true when the job was queued.
 */
bool api__submit(http_req_t *req, http_work_fn work, http_done_fn done, void *job,
                 void (*job_free)(void *));
/* A pool job that writes a JSON document: 0 or ERR_*, the document appended to out. */
typedef int (*api_json_work_fn)(void *arg, buf_t *out);
/*
 * Runs work(arg, out) on the blocking pool (out holds at most max_bytes) and answers 200 with
 * out (Cache-Control: no-store), 404 / 403 for ERR_NOT_FOUND / ERR_PERMISSION, or the failure.
 * arg is freed with arg_free (may be NULL) in every case, 503 included.
 */
void api__submit_json(http_req_t *req, api_json_work_fn work, void *arg, void (*arg_free)(void *),
                      size_t max_bytes);
/*
 * Answers the user object of user_id: from the user cache, or once loaded on the pool (401
 * user_not_found when the user is gone). wrap: the browser flow's {"valid":true,"user":...}
 * and its error shape.
 */
void api__respond_user(http_req_t *req, const api_ctx_t *ctx, int64_t user_id, bool wrap);

/* A login: auth_login with the request's credentials and client, on the pool. */
typedef struct {
    auth_t *auth;
    int shape;          /* the route's answer shape, for its done callback */
    const char *family; /* the login family (static text: "simplejwt", "cookie", ...) */
    char *bind;         /* what the second step must present again (the cookie flow's
                           Origin), NULL = nothing */
    char *username;
    char *password; /* wiped on free */
    size_t password_len;
    char *ip;
    char *ua;
    char *fph;                           /* client fingerprint, NULL = binding off */
    char device[AUTH_DEVICE_ID_LEN + 1]; /* the presented device token's id, "" = none */
    http_req_t *req;                     /* while the guard decides */
    http_done_fn done;                   /* the route's */
    int rc;                              /* OUT: auth_login's result */
    auth_pair_t pair;                    /* OUT when rc == 0 */
    char *device_token; /* OUT when rc == 0 and device tokens are on: a new one, else NULL */
    size_t device_token_len;
} api_login_job_t;

/*
 * A login attempt: copies username, password and the client (address, User-Agent,
 * fingerprint) into a job; checks the device token the client presented (device_token, the
 * body field, else the cookie API_DEVICE_TOKEN) for username; lets the login guard decide
 * (auth_guard_login: 429 throttled when refused) and then runs auth_login on the pool, which
 * also issues a new device token on success. done(req, job, status) then runs on req's loop
 * and must api__login_job_free(job). When the pool is full it answers 503 (no job left).
 */
void api__login_submit(http_req_t *req, const api_ctx_t *ctx, str_t username, str_t password,
                       str_t device_token, int shape, http_done_fn done);
/*
 * The login families, each with the done callback that writes its answer and its shape:
 * what a login started with (api__login_submit: the family is the name below), and what
 * POST /auth/mfa/verify finishes in (routes/mfa.c calls the family's done with a job
 * holding the issued pair). X(name, done, shape, bound): bound families keep the request's
 * Origin with the challenge (the browser cookie flow).
 */
void api_simplejwt_login_done(http_req_t *req, void *arg, int status);
void api_cookie_login_done(http_req_t *req, void *arg, int status);
void api_service_login_done(http_req_t *req, void *arg, int status);
#define API_LOGIN_FAMILIES(X)                                                                      \
    X("simplejwt", api_simplejwt_login_done, 0, false)                                             \
    X("cookie", api_cookie_login_done, 0, true)                                                    \
    X("mobile", api_cookie_login_done, 1, false)                                                   \
    X("service", api_service_login_done, 0, false)
/* The family name of (done, shape), NULL when none. */
const char *api__login_family(http_done_fn done, int shape);
/* The origin (scheme://authority) of a Referer URL; STR_NULL when it has none (web.c). */
str_t api__referer_origin(str_t ref);
/* The request's Origin (else the origin of its Referer) into out, "" when neither or when it
   does not fit (web.c). */
void api__request_origin(const http_req_t *req, char *out, size_t cap);
/*
 * The answer of a login that needs its second step (rc ERR_MFA_REQUIRED: 401
 * {"detail","code":"mfa_required","mfa_token","factors"}) or an enrolment first (rc
 * ERR_MFA_ENROLL_REQUIRED: 403 {"detail","code":"mfa_enrollment_required","enroll_token"}),
 * plus "error" in the browser flow's shape (browser). False when rc is neither (nothing
 * sent).
 */
bool api__respond_login_step(http_req_t *req, int rc, const auth_pair_t *p, bool browser);
/*
 * Answers the tokens of a finished sign-in in the shape of family (a name of
 * API_LOGIN_FAMILIES): the pair (and the device token it may hold) moves into a login job
 * handed to the family's done callback, leaving *pair empty. A family this build does not
 * know answers 500. For the second steps (routes/mfa.c, routes/webauthn.c).
 */
void api__finish_login(http_req_t *req, const char *family, auth_pair_t *pair);
/*
 * Heap copies of the request's client for a pool job: its address (*ip), its User-Agent
 * bounded to 512 bytes (*ua, NULL when absent) and its fingerprint (*fph, NULL when binding
 * is off). The caller frees the three.
 */
void api__client_dup(http_req_t *req, const api_ctx_t *ctx, char **ip, char **ua, char **fph);
void api__login_job_free(api_login_job_t *j);
/* Adds the X-Device-Token header when the job earned a device token (a JSON login). */
void api__device_token_header(http_req_t *req, const api_login_job_t *j);
/*
 * 429 throttled with Retry-After and DRF's message, counted in the metrics of kind and
 * logged (event=throttled), for a guard's refusal r.
 */
void api__respond_throttled(http_req_t *req, const auth_guard_result_t *r,
                            enum auth_guard_kind kind);

/* What a token job runs on the pool. */
enum api_token_op {
    API_TOKEN_REFRESH, /* auth_refresh: rotation (or a new access token, rotation off) */
    API_TOKEN_CHECK,   /* auth_refresh_check: does the database still accept ref */
    API_TOKEN_ACCESS,  /* auth_access_for_refresh: a new access token, no rotation */
    API_TOKEN_LOGOUT,  /* auth_logout(ref) when has_ref, then the session access_sid */
    API_TOKEN_USER     /* auth_user_load_copy(user_id): the cache, and pair.user_json */
};

/* A token job. The route fills the inputs of its op and may use the route fields. */
typedef struct {
    auth_t *auth;
    enum api_token_op op;
    auth_token_ref_t ref; /* REFRESH, CHECK, ACCESS; LOGOUT when has_ref */
    bool has_ref;
    char access_sid[AUTH_ID_MAX + 1]; /* LOGOUT: the Bearer token's session ("" = none) */
    int64_t user_id;                  /* USER */
    bool user_active;                 /* USER: OUT, with pair.user_json */
    /* route fields, not used here */
    int shape;
    bool from_body;
    bool sliding;
    const api_ctx_t *ctx;
    char *presented; /* heap copy, wiped on free */
    size_t presented_len;
    /* OUT */
    int rc;
    enum auth_verdict verdict;
    auth_pair_t pair;
} api_token_job_t;

/* A zeroed job for op (verdict AUTH_INVALID) on ctx (j->ctx, j->auth). */
api_token_job_t *api__token_job_new(const api_ctx_t *ctx, enum api_token_op op);
/*
 * Runs the job's op on the pool, then done(req, job, status) on req's loop, which must
 * api__token_job_free(job). When the pool is full the job is freed and, with answer, 503
 * is answered. Returns 0 or ERR_UNAVAILABLE.
 */
int api__token_submit(http_req_t *req, api_token_job_t *j, http_done_fn done, bool answer);
void api__token_job_free(api_token_job_t *j);
/* The first half of a token job's answer: the failure (status, else j->rc) or the refused
   token, answered as SimpleJWT does. True when it answered; false leaves success to the
   caller. */
bool api__token_job_refused(http_req_t *req, const api_token_job_t *j, int status);

#endif
