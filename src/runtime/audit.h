/*
 * audit.h - security events as structured records: the one place an audit record is built.
 *
 * Every security event of jwtd (logins, refreshes, revocations, refusals, tamper detections,
 * signups, administrative actions) is one call of audit_info() / audit_warn(), which builds
 * one record with fixed fields and
 *   - writes it to the audit channel (auth.log with JWTD_LOG_DIR) as a log line, key=value
 *     text or JSON like every other line (log.h), and
 *   - hands a copy to the sink, when one is set (the database writer of src/auth/audit.c,
 *     which stores it in the audit_log table off the event loops).
 *
 * The fields, in this order on a text line (after ts, level, module and request_id):
 *     event=login outcome=success user_id=42 ip=203.0.113.7 sid=<32 hex> source=http
 *     actor="" reason="" [detail key=value pairs] username="alice" user_agent="curl/8.0"
 * Every field is always present, "" when it does not apply (request_id too: a record
 * without a request carries request_id=""), so text and JSON lines carry the same fields.
 * User-controlled text (username, user agent) is cut (AUDIT_NAME_MAX, AUDIT_UA_MAX bytes, on
 * a UTF-8 boundary; invalid UTF-8 becomes '?') and escaped (log_value_escape); it comes last
 * so that a line cut at the log's 2 KiB loses nothing else.
 *
 * Who acted comes from an audit_ctx_t: the caller's, or the thread's current one
 * (audit_ctx_set): the HTTP blocking pool sets it around each job from its request, so a use
 * case running on the pool reports the client without taking it as a parameter; a command
 * sets a process-wide default (audit_ctx_set_default) saying source=cli and who ran it.
 *
 * Cost: nothing is built except for an event. A record is one formatted line (as before)
 * plus, with a sink, one copy into the sink's bounded queue.
 */
#ifndef JWTD_RUNTIME_AUDIT_H
#define JWTD_RUNTIME_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "common/str.h"
#include "runtime/log.h"

/* Bounds of the user-controlled fields (bytes, without the NUL). */
#define AUDIT_NAME_MAX   150 /* attempted or acted-upon username */
#define AUDIT_UA_MAX     256 /* User-Agent */
#define AUDIT_IP_MAX     63
#define AUDIT_RID_MAX    64
#define AUDIT_ID_MAX     64 /* sid */
#define AUDIT_WORD_MAX   31 /* event, outcome, reason, source */
#define AUDIT_ACTOR_MAX  63
#define AUDIT_DETAIL_MAX 255

/* Who acts: a request or a command. Every field may be NULL / empty. */
typedef struct {
    const char *rid;    /* request id */
    const char *ip;     /* client address */
    str_t ua;           /* User-Agent as received */
    const char *source; /* "http", "cli"; NULL = "http" */
    const char *actor;  /* who ran a command ("uid=1000(ops)"); NULL for requests */
} audit_ctx_t;

/* What happened. Strings are borrowed for the call. */
typedef struct {
    const char *event;    /* "login", "login_failed", "refresh", ... (required) */
    const char *outcome;  /* "success", "failure", "detected", "blocked" (required) */
    int64_t user_id;      /* 0 = none */
    const char *username; /* attempted or acted-upon name (untrusted), NULL = none */
    const char *sid;      /* session id, NULL = none */
    const char *reason;   /* one word: why ("bad_password", "no_such_user", ...) */
    const char *detail;   /* more key=value text built by jwtd from safe values, NULL */
} audit_event_t;

/* One record as the sink receives it: every field copied, bounded, NUL-terminated. */
typedef struct audit_record {
    int64_t ts; /* Unix seconds */
    int level;  /* enum log_level */
    char event[AUDIT_WORD_MAX + 1];
    char outcome[AUDIT_WORD_MAX + 1];
    int64_t user_id;
    char username[AUDIT_NAME_MAX + 1];
    char ip[AUDIT_IP_MAX + 1];
    char rid[AUDIT_RID_MAX + 1];
    char sid[AUDIT_ID_MAX + 1];
    char ua[AUDIT_UA_MAX + 1];
    char source[AUDIT_WORD_MAX + 1];
    char actor[AUDIT_ACTOR_MAX + 1];
    char reason[AUDIT_WORD_MAX + 1];
    char detail[AUDIT_DETAIL_MAX + 1];
} audit_record_t;

/* Receives a copy of every record (any thread; must not block for long). */
typedef void (*audit_sink_fn)(void *arg, const audit_record_t *r);

/*
 * Sets the process's sink (NULL removes it). Call while no other thread emits records (at
 * start and at shutdown).
 */
void audit_set_sink(audit_sink_fn fn, void *arg);

/* The thread's current context (NULL clears it); ctx and its strings must outlive it. */
void audit_ctx_set(const audit_ctx_t *ctx);
/* The thread's current context, else the process default, else NULL. */
const audit_ctx_t *audit_ctx_current(void);
/* The process default (commands: source=cli, actor). Call before threads start. */
void audit_ctx_set_default(const audit_ctx_t *ctx);

/*
 * Emits one record (see the top of this file): ctx NULL = audit_ctx_current(). The log line
 * is written when level is enabled; the sink gets the record whatever the log level.
 * Thread-safe. Use the macros.
 */
void audit_emit(const char *module, enum log_level level, const audit_ctx_t *ctx,
                const audit_event_t *ev);

#define audit_info(ctx, ...)                                                                       \
    audit_emit(LOG_MODULE, LOG_INFO, (ctx), &(const audit_event_t){__VA_ARGS__})
#define audit_warn(ctx, ...)                                                                       \
    audit_emit(LOG_MODULE, LOG_WARN, (ctx), &(const audit_event_t){__VA_ARGS__})

/*
 * Copies untrusted text into out (cap bytes with the NUL): at most cap - 1 bytes, never
 * cutting a UTF-8 sequence, NUL and invalid UTF-8 bytes replaced by '?'. Returns out.
 */
char *audit_text_copy(char *out, size_t cap, const char *in, size_t len);

#endif
