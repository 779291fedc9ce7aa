/*
 * err.h - the one error list of jwtd.
 *
 * Every fallible function in jwtd returns an int: 0 on success, a negative ERR_* code on
 * failure. The list below is an X-macro (libuv's UV_ERRNO_MAP): the enum here, and the
 * server runtime's table (src/runtime/errtab.h: err_name(), err_message(),
 * err_http_status()) are all expanded from it, so adding an error is one row. The "code"
 * column is the stable machine key of the HTTP contract (docs/api.md, "Errors") that clients
 * see in error bodies; the message is the default human text for the `detail` field.
 *
 * This header is part of the portable core: it holds no code, so libjwtv's sources (which
 * use a few codes, e.g. buf.c's ERR_NOMEM) link no table.
 *
 * ERR_DECLINED and ERR_AGAIN are not failures (nginx): "not mine, try the next handler" and
 * "would block, call again later".
 *
 * The public jwtv library has its own error enum (include/jwtv/jwtv.h); this list is for
 * jwtd itself.
 */
#ifndef JWTD_COMMON_ERR_H
#define JWTD_COMMON_ERR_H

/* X(NAME, code, http_status, default_detail) */
#define ERR_MAP(X)                                                                                 \
    X(DECLINED, "declined", 0, "Not handled here")                                                 \
    X(AGAIN, "again", 0, "Operation would block")                                                  \
    X(INVALID, "invalid_request", 400, "Invalid request.")                                         \
    X(NOT_AUTHENTICATED, "not_authenticated", 401,                                                 \
      "Authentication credentials were not provided.")                                             \
    X(BAD_AUTH_HEADER, "bad_authorization_header", 401,                                            \
      "Authorization header must contain two space-delimited values")                              \
    X(TOKEN_INVALID, "token_not_valid", 401, "Given token not valid for any token type")           \
    X(NO_ACTIVE_ACCOUNT, "no_active_account", 401,                                                 \
      "No active account found with the given credentials")                                        \
    X(MFA_REQUIRED, "mfa_required", 401, "A second factor is required to complete the sign-in.")   \
    X(MFA_ENROLL_REQUIRED, "mfa_enrollment_required", 403,                                         \
      "Your role requires a second factor: set one up before using this account.")                 \
    X(REAUTH_REQUIRED, "reauthentication_required", 401,                                           \
      "Sign in again to confirm it is you: this action needs a recent sign-in.")                   \
    X(MFA_TOKEN_INVALID, "mfa_token_invalid", 401,                                                 \
      "The sign-in step has expired or was already used: sign in again.")                          \
    X(MFA_CODE_INVALID, "invalid_code", 401, "The code is not valid.")                             \
    X(PERMISSION, "permission_denied", 403, "You do not have permission to perform this action.")  \
    X(SIGNUP_CLOSED, "signup_closed", 403,                                                         \
      "Self-registration is closed on this server; an administrator creates accounts.")            \
    X(NOT_FOUND, "not_found", 404, "Not found.")                                                   \
    X(METHOD, "method_not_allowed", 405, "Method not allowed.")                                    \
    X(CONFLICT, "conflict", 409, "Conflict.")                                                      \
    X(TOO_LARGE, "payload_too_large", 413, "Request body is too large.")                           \
    X(UNSUPPORTED_MEDIA, "unsupported_media_type", 415, "Unsupported media type in request.")      \
    X(THROTTLED, "throttled", 429, "Request was throttled.")                                       \
    X(HEADERS_TOO_LARGE, "request_header_fields_too_large", 431,                                   \
      "Request header fields too large.")                                                          \
    X(URI_TOO_LONG, "uri_too_long", 414, "Request URI too long.")                                  \
    X(TIMEOUT, "timeout", 408, "Request timeout.")                                                 \
    X(HTTP_VERSION, "http_version_not_supported", 505,                                             \
      "HTTP version not supported: use HTTP/1.1 or HTTP/1.0.")                                     \
    X(INTERNAL, "internal_error", 500, "A server error occurred.")                                 \
    X(NOMEM, "internal_error", 500, "A server error occurred.")                                    \
    X(IO, "internal_error", 500, "A server error occurred.")                                       \
    X(CONFIG, "config_error", 500, "Invalid configuration.")                                       \
    X(UNAVAILABLE, "unavailable", 503, "Service temporarily unavailable, try again later.")

enum err_code {
    ERR_OK = 0,
#define ERR_ENUM_(name, code, status, msg) ERR_##name,
    ERR__FIRST = -1000,
    ERR_MAP(ERR_ENUM_)
#undef ERR_ENUM_
        ERR__LAST
};

#endif
