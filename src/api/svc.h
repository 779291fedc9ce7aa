/*
 * svc.h - helpers shared by the service/resource route files of src/api/ (service.c,
 * posts.c, users.c, resource.c; svc.c implements them): DRF-style request fields, UTF-8
 * checks, pagination parameters and the small JSON writers those routes use. Not a
 * contract for other subsystems (api.h is).
 */
#ifndef JWTD_API_SVC_H
#define JWTD_API_SVC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/api.h"
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
/* Whether s is valid UTF-8 (no overlongs, no surrogates). */
bool api__utf8_valid(str_t s);
/* Unicode code points in valid UTF-8 s. */
size_t api__utf8_chars(str_t s);
/*
 * Reads ?page= (>= 1, default 1) and ?page_size= (1..max, default def). On a bad value it
 * has RESPONDED 400 and returns -1.
 */
int api__pagination(http_req_t *req, uint32_t def, uint32_t max, uint32_t *page,
                    uint32_t *page_size);
/* 400 {"detail": detail, "code": "invalid_request", field: [detail]} (field may be NULL). */
void api__bad_request(http_req_t *req, const char *field, const char *detail);

#endif
