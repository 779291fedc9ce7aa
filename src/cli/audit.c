/*
 * audit.c - `jwtd audit`: the audit trail (the audit_log table, auth.h "the audit trail")
 * filtered by user, event, client address and time, newest first, as a table or as JSON
 * lines.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/auth.h"
#include "cli/cli.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/jsonw.h"
#include "runtime/audit.h"
#include "runtime/errtab.h"

#define MAX_LIMIT 100000

/* See cli.h. */
void cli_audit_help(FILE *out)
{
    fprintf(out,
            "usage: jwtd audit [--user U] [--event E] [--ip ADDR] [--since T] [--until T]\n"
            "                  [--limit N] [--json]\n\n"
            "Prints the audit trail stored in the database (JWTD_AUDIT_RETENTION), newest\n"
            "first: one security event per row (logins, refreshes, revocations, refusals,\n"
            "tamper detections, signups, administrative commands). --user matches a user id or\n"
            "a username, attempted names of failed logins included; --event and --ip match\n"
            "exactly. T is Unix seconds, a UTC date or time (2026-12-07, 2026-12-07T13:00:00Z)\n"
            "or a duration before now (15m, 2h, 7d). --json prints one JSON object per line.\n\n");
    cli_print_opts(out, (const struct cli_opt[]){CLI_OPT_END});
}

/* A duration before now ("15m"): seconds, or -1. */
static int64_t duration_s(const char *s)
{
    char *end = NULL;
    long long n = strtoll(s, &end, 10);
    if (end == s || n < 0 || !end[0] || end[1])
        return -1;
    switch (end[0]) {
    case 's':
        return n;
    case 'm':
        return n * 60;
    case 'h':
        return n * 3600;
    case 'd':
        return n * 86400;
    case 'w':
        return n * 7 * 86400;
    default:
        return -1;
    }
}

/* Parses T (see the help) into Unix seconds. Returns 0 or -1. */
static int parse_time(const char *s, int64_t now, int64_t *out)
{
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (end != s && !*end && v >= 0) {
        *out = v;
        return 0;
    }
    int64_t d = duration_s(s);
    if (d >= 0) {
        *out = now - d;
        return 0;
    }
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *rest = strptime(s, "%Y-%m-%d", &tm);
    if (!rest)
        return -1;
    if (*rest == 'T' || *rest == ' ') {
        const char *r2 = strptime(rest + 1, "%H:%M:%S", &tm);
        if (!r2)
            r2 = strptime(rest + 1, "%H:%M", &tm);
        rest = r2;
        if (!rest)
            return -1;
    }
    if (*rest == 'Z')
        rest++;
    if (*rest)
        return -1;
    *out = (int64_t)timegm(&tm);
    return 0;
}

struct out {
    bool json;
    unsigned rows;
};

static void json_member(buf_t *b, const char *name, const char *value, bool first)
{
    buf_append_cstr(b, first ? "{\"" : ",\"");
    buf_append_cstr(b, name);
    buf_append_cstr(b, "\":");
    jsonw_buf_cstr(b, value);
}

static int print_row(void *arg, const audit_record_t *r)
{
    struct out *o = arg;
    char when[32];
    time_t t = (time_t)r->ts;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    char uid[24] = "";
    if (r->user_id)
        snprintf(uid, sizeof uid, "%" PRId64, r->user_id);
    if (o->json) {
        buf_t b;
        buf_init(&b, 1 << 16);
        json_member(&b, "time", when, true);
        char ts[24];
        snprintf(ts, sizeof ts, ",\"ts\":%" PRId64, r->ts);
        buf_append_cstr(&b, ts);
        json_member(&b, "event", r->event, false);
        json_member(&b, "outcome", r->outcome, false);
        if (r->user_id) {
            snprintf(ts, sizeof ts, ",\"user_id\":%" PRId64, r->user_id);
            buf_append_cstr(&b, ts);
        } else {
            buf_append_cstr(&b, ",\"user_id\":null");
        }
        json_member(&b, "username", r->username, false);
        json_member(&b, "ip", r->ip, false);
        json_member(&b, "request_id", r->rid, false);
        json_member(&b, "sid", r->sid, false);
        json_member(&b, "user_agent", r->ua, false);
        json_member(&b, "source", r->source, false);
        json_member(&b, "actor", r->actor, false);
        json_member(&b, "reason", r->reason, false);
        json_member(&b, "detail", r->detail, false);
        buf_append_cstr(&b, "}\n");
        fwrite(b.data, 1, b.len, stdout);
        buf_dispose(&b);
    } else {
        if (o->rows == 0)
            printf("%-20s  %-24s  %-8s  %-7s  %-20s  %-15s  %-16s  %s\n", "TIME", "EVENT",
                   "OUTCOME", "USER_ID", "USERNAME", "IP", "REQUEST_ID", "REASON");
        char name[64];
        /* control bytes of an attempted name must not reach the terminal */
        size_t n = 0;
        for (const char *p = r->username; *p && n + 1 < sizeof name; p++)
            name[n++] = (unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p;
        name[n] = '\0';
        printf("%-20s  %-24s  %-8s  %-7s  %-20s  %-15s  %-16s  %s\n", when, r->event, r->outcome,
               uid[0] ? uid : "-", name[0] ? name : "-", r->ip[0] ? r->ip : "-",
               r->rid[0] ? r->rid : "-", r->reason[0] ? r->reason : "-");
    }
    o->rows++;
    return 0;
}

/* See cli.h. */
int cli_audit(int argc, char **argv)
{
    const char *user = "", *event = "", *ip = "", *since = NULL, *until = NULL;
    long limit = 100;
    bool json = false;
    const struct cli_opt opts[] = {
        {"user", 'u', CLI_OPT_STRING, &user, "U", "a user id or username"},
        {"event", 'e', CLI_OPT_STRING, &event, "E", "an event name (login_failed, ...)"},
        {"ip", 0, CLI_OPT_STRING, &ip, "ADDR", "a client address"},
        {"since", 0, CLI_OPT_STRING, &since, "T", "records at or after T"},
        {"until", 0, CLI_OPT_STRING, &until, "T", "records at or before T"},
        {"limit", 'n', CLI_OPT_INT, &limit, "N", "at most N rows (100)"},
        {"json", 0, CLI_OPT_FLAG, &json, NULL, "one JSON object per line"},
        CLI_OPT_END,
    };
    struct cli_args args;
    int rc = cli_parse_args(argc, argv, opts, 0, NULL, &args);
    if (rc != 0)
        return rc;
    int64_t now = clock_now_s();
    auth_audit_filter_t f = {.user = user, .event = event, .ip = ip};
    if (since && parse_time(since, now, &f.since) != 0) {
        fprintf(stderr,
                "jwtd audit: --since: expected Unix seconds, a UTC date or time "
                "(2026-12-07T13:00:00Z) or a duration (2h), got %s\n",
                since);
        return CLI_EXIT_USAGE;
    }
    if (until && parse_time(until, now, &f.until) != 0) {
        fprintf(stderr,
                "jwtd audit: --until: expected Unix seconds, a UTC date or time "
                "(2026-12-07T13:00:00Z) or a duration (2h), got %s\n",
                until);
        return CLI_EXIT_USAGE;
    }
    if (limit < 1 || limit > MAX_LIMIT) {
        fprintf(stderr, "jwtd audit: --limit must be 1..%d\n", MAX_LIMIT);
        return CLI_EXIT_USAGE;
    }
    f.limit = (uint32_t)limit;
    root_t *r;
    if ((rc = cli_root_open(argc, argv, ROOT_DB | ROOT_MIGRATE, &r)) != 0)
        return rc;
    struct out o = {json, 0};
    rc = auth_audit_query(r->db, &f, print_row, &o);
    if (rc != 0)
        fprintf(stderr, "jwtd audit: cannot read the audit trail (%s)\n", err_name(rc));
    else if (!json && o.rows == 0)
        fprintf(stderr, "jwtd audit: no matching records\n");
    root_close(r);
    return rc == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
}
