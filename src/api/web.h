/*
 * web.h - helpers shared by the browser-flow files of src/api/ (cookie.c, cors.c,
 * sessions.c, static.c; web.c implements them): the process-wide browser settings, cookie
 * and Bearer parsing, origin checks and the seed-004 error shape. Not a contract for other
 * subsystems (api.h is).
 */
#ifndef JWTD_API_WEB_H
#define JWTD_API_WEB_H

#include <stdbool.h>
#include <stdint.h>

#include "api/api.h"
#include "common/buf.h"

#define API_JSON_CT        "application/json; charset=utf-8"
#define API_REFRESH_COOKIE "refresh_token"

/* The settings given to api_web_configure (copied there; read-only afterwards). */
const api_web_options_t *api__web(void);

/*
 * The value of cookie name in the request's Cookie header(s); STR_NULL when absent.
 * An empty value counts as absent.
 */
str_t api__cookie(const http_req_t *req, const char *name);

/*
 * SimpleJWT's Bearer parsing (scheme exactly "Bearer", exactly two whitespace-separated
 * parts). Returns 0 and *token, ERR_NOT_AUTHENTICATED (no header or another scheme) or
 * ERR_BAD_AUTH_HEADER.
 */
int api__bearer(const http_req_t *req, str_t *token);

/* Whether origin (scheme://host[:port]) is listed in JWTD_CORS_ALLOWED_ORIGINS ("*" not). */
bool api__origin_listed(str_t origin);
/* Whether origin names this server itself: its authority equals the Host header. */
bool api__origin_is_self(const http_req_t *req, str_t origin);

/*
 * Seed-004 error body with the API.md section 2 fields:
 * {"error": msg, "detail": msg, "code": code}; www (may be NULL) as WWW-Authenticate.
 */
void api__auth_error(http_req_t *req, int status, const char *code, const char *msg,
                     const char *www);
/* 401 of a protected route for a Bearer problem (rc of api__bearer or a token verdict). */
void api__bearer_error(http_req_t *req, int rc, int verdict);
/* 503 unavailable / 500 internal for an error of the blocking side. */
void api__failure(http_req_t *req, int rc);
/* Appends s (n bytes) as a quoted JSON string to b. */
void api__json_str(buf_t *b, const char *s, size_t n);

#endif
