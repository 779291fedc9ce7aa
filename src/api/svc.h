/*
 * svc.h - helpers shared by the route files of src/api/ (svc.c implements them): DRF-style
 * request fields, UTF-8 checks, pagination parameters and the small JSON writers of the
 * service/resource routes (service.c, posts.c, users.c, resource.c), and the blocking-pool
 * jobs of the token routes (login, refresh, logout and user loads for simplejwt.c,
 * cookie.c and service.c: one job each, with per-route done callbacks). Not a contract for
 * other subsystems (api.h is).
 */
#ifndef JWTD_API_SVC_H
#define JWTD_API_SVC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/api.h"
#include "auth/auth.h"
#include "common/buf.h"

struct json_t;

/* One expected body field. */
typedef struct {
    const char *name;
    bool required;     /* missing -> "This field is required." */
    bool trim;         /* DRF trim_whitespace (false for passwords and post bodies) */
    bool allow_blank;  /* "" accepted (optional profile fields) */
    size_t max_chars;  /* 0 = unbounded; counted in Unicode code points */
    str_t value;       /* OUT: the value (points into the parsed body), STR_NULL if absent */
    const char *error; /* OUT / IN-OUT: DRF message; callers may set it for their checks */
} api_field_t;

/*
 * Parses the body (JSON object or form) and reads the fields: strings only (numbers are
 * refused with "Not a valid string."), valid UTF-8, no NUL, bounded length. Returns 0
 * with *body holding the parsed object (json_decref it: values point into it); otherwise
 * it has RESPONDED (400 invalid_request with DRF field errors, or the body parser's 400 /
 * 415) and returns -1.
 */
int api__read_fields(http_req_t *req, api_field_t *f, size_t n, struct json_t **body);
/*
 * 400 {"detail":"Invalid input.","code":"invalid_request", "<field>":[error], ...} for the
 * fields whose error is set. Returns true when it responded (some error was set).
 */
bool api__respond_field_errors(http_req_t *req, const api_field_t *f, size_t n);
/*
 * Reads ?page= (>= 1, default 1) and ?page_size= (1..max, default def). On a bad value it
 * has RESPONDED 400 and returns -1.
 */
int api__pagination(http_req_t *req, uint32_t def, uint32_t max, uint32_t *page,
                    uint32_t *page_size);
/* 400 {"detail": detail, "code": "invalid_request", field: [detail]} (field may be NULL). */
void api__bad_request(http_req_t *req, const char *field, const char *detail);

/* ==== blocking-pool jobs of the token routes ============================================== */

/* A login: auth_login with the request's credentials and client, on the pool. */
typedef struct {
    auth_t *auth;
    bool mobile; /* the route's flag for its done callback (cookie.c: no cookie) */
    char *username;
    char *password; /* wiped on free */
    size_t password_len;
    char *ip;
    char *ua;
    char *fph;        /* client fingerprint (issue 9), NULL = binding off */
    int rc;           /* OUT: auth_login's result */
    auth_pair_t pair; /* OUT when rc == 0 */
} api_login_job_t;

/*
 * Copies username, password and the client (peer address, User-Agent, fingerprint) into a
 * job and runs auth_login on the pool; done(req, job, status) then runs on req's loop and
 * must api__login_job_free(job). Returns 0, or ERR_UNAVAILABLE when the pool is full (no
 * job left; the caller answers).
 */
int api__login_submit(http_req_t *req, auth_t *a, str_t username, str_t password, bool mobile,
                      http_done_fn done);
void api__login_job_free(api_login_job_t *j);

/* What a token job runs on the pool. */
enum api_token_op {
    API_TOKEN_REFRESH, /* auth_refresh: rotation (or a new access token, rotation off) */
    API_TOKEN_CHECK,   /* auth_refresh_check: does the database still accept ref */
    API_TOKEN_ACCESS,  /* auth_access_for_refresh: a new access token, no rotation */
    API_TOKEN_LOGOUT,  /* auth_logout(ref) when has_ref, then the session access_sid */
    API_TOKEN_USER     /* auth_user_load(user_id) into the user cache */
};

/* A token job. The route fills the inputs of its op and may use the route fields. */
typedef struct {
    auth_t *auth;
    enum api_token_op op;
    auth_token_ref_t ref; /* REFRESH, CHECK, ACCESS; LOGOUT when has_ref */
    bool has_ref;
    char access_sid[DB_ID_MAX + 1]; /* LOGOUT: the Bearer token's session ("" = none) */
    int64_t user_id;                /* USER */
    /* route fields, not used here */
    int kind;
    bool from_body;
    bool sliding;
    uint32_t self;
    char *presented; /* heap copy, wiped on free */
    size_t presented_len;
    /* OUT */
    int rc;
    enum auth_verdict verdict;
    auth_pair_t pair;
} api_token_job_t;

/* A zeroed job for op (verdict AUTH_INVALID). */
api_token_job_t *api__token_job_new(auth_t *a, enum api_token_op op);
/*
 * Runs the job's op on the pool, then done(req, job, status) on req's loop, which must
 * api__token_job_free(job). Returns 0, or ERR_UNAVAILABLE when the pool is full (the job
 * is freed; the caller answers).
 */
int api__token_submit(http_req_t *req, api_token_job_t *j, http_done_fn done);
void api__token_job_free(api_token_job_t *j);

#endif
