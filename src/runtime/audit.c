/*
 * audit.c - the one builder of audit records (audit.h): bounded copies of the fields, one
 * log line on the audit channel, one copy to the sink.
 */
#include "runtime/audit.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/text.h"

static audit_sink_fn sink_fn;
static void *sink_arg;
static const audit_ctx_t *default_ctx;
static _Thread_local const audit_ctx_t *thread_ctx;

/* See audit.h. */
void audit_set_sink(audit_sink_fn fn, void *arg)
{
    sink_arg = arg;
    sink_fn = fn;
}

/* See audit.h. */
void audit_ctx_set(const audit_ctx_t *ctx)
{
    thread_ctx = ctx;
}

/* See audit.h. */
const audit_ctx_t *audit_ctx_current(void)
{
    return thread_ctx ? thread_ctx : default_ctx;
}

/* See audit.h. */
void audit_ctx_set_default(const audit_ctx_t *ctx)
{
    default_ctx = ctx;
}

/* The length of a UTF-8 sequence starting with byte c (0 for a continuation or bad byte). */
static size_t seq_len(unsigned char c)
{
    return c < 0x80             ? 1
           : (c & 0xe0) == 0xc0 ? 2
           : (c & 0xf0) == 0xe0 ? 3
           : (c & 0xf8) == 0xf0 ? 4
                                : 0;
}

/* See audit.h. */
char *audit_text_copy(char *out, size_t cap, const char *in, size_t len)
{
    size_t o = 0, i = 0;
    if (cap == 0)
        return out;
    while (i < len && o + 1 < cap) {
        unsigned char c = (unsigned char)in[i];
        size_t n = seq_len(c);
        if (n == 0 || i + n > len || !text_utf8_valid((str_t){in + i, n})) {
            out[o++] = '?'; /* a byte that does not start a valid sequence */
            i++;
            continue;
        }
        if (o + n >= cap)
            break; /* never cut a sequence */
        if (n == 1 && c == 0)
            out[o++] = '?';
        else
            memcpy(out + o, in + i, n), o += n;
        i += n;
    }
    out[o] = '\0';
    return out;
}

static void word(char *out, size_t cap, const char *s)
{
    audit_text_copy(out, cap, s ? s : "", s ? strlen(s) : 0);
}

/* Fills *r from ctx and ev. */
static void build(audit_record_t *r, enum log_level level, const audit_ctx_t *ctx,
                  const audit_event_t *ev)
{
    memset(r, 0, sizeof *r);
    r->ts = (int64_t)time(NULL);
    r->level = (int)level;
    word(r->event, sizeof r->event, ev->event);
    word(r->outcome, sizeof r->outcome, ev->outcome);
    r->user_id = ev->user_id;
    word(r->username, sizeof r->username, ev->username);
    word(r->sid, sizeof r->sid, ev->sid);
    word(r->reason, sizeof r->reason, ev->reason);
    word(r->detail, sizeof r->detail, ev->detail);
    if (ctx) {
        word(r->rid, sizeof r->rid, ctx->rid);
        word(r->ip, sizeof r->ip, ctx->ip);
        if (ctx->ua.ptr)
            audit_text_copy(r->ua, sizeof r->ua, ctx->ua.ptr, ctx->ua.len);
        word(r->actor, sizeof r->actor, ctx->actor);
    }
    word(r->source, sizeof r->source, ctx && ctx->source ? ctx->source : "http");
}

/* See audit.h. */
void audit_emit(const char *module, enum log_level level, const audit_ctx_t *ctx,
                const audit_event_t *ev)
{
    bool log = log_enabled(level);
    if (!log && !sink_fn)
        return;
    if (!ctx)
        ctx = audit_ctx_current();
    audit_record_t r;
    build(&r, level, ctx, ev);
    if (sink_fn)
        sink_fn(sink_arg, &r);
    if (!log)
        return;
    char uid[24] = "\"\"", name[4 * AUDIT_NAME_MAX + 1], ua[4 * AUDIT_UA_MAX + 1];
    char actor[4 * AUDIT_ACTOR_MAX + 1], reason[4 * AUDIT_WORD_MAX + 1];
    if (r.user_id)
        snprintf(uid, sizeof uid, "%" PRId64, r.user_id);
    log_value_escape(name, sizeof name, r.username, strlen(r.username));
    log_value_escape(ua, sizeof ua, r.ua, strlen(r.ua));
    log_value_escape(actor, sizeof actor, r.actor, strlen(r.actor));
    log_value_escape(reason, sizeof reason, r.reason, strlen(r.reason));
    char ip[4 * AUDIT_IP_MAX + 1], sid[4 * AUDIT_ID_MAX + 1];
    log_value_escape(ip, sizeof ip, r.ip, strlen(r.ip));
    log_value_escape(sid, sizeof sid, r.sid, strlen(r.sid));
    log_write(LOG_CH_AUDIT, level, module, r.rid[0] ? r.rid : NULL,
              "%sevent=%s outcome=%s user_id=%s ip=\"%s\" sid=\"%s\" source=%s actor=\"%s\" "
              "reason=\"%s\"%s%s username=\"%s\" user_agent=\"%s\"",
              r.rid[0] ? "" : "request_id=\"\" ", r.event, r.outcome, uid, ip, sid, r.source, actor,
              reason, r.detail[0] ? " " : "", r.detail, name, ua);
}
