/*
 * sessions.c - the read side of sessions and revocations: a user's list of sessions (the
 * web UI's "active sessions"), signing out one of one's own sessions, and the revocations
 * that can still matter, for verifiers that check tokens locally.
 */
#define LOG_MODULE "auth"
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth_internal.h"
#include "common/err.h"
#include "runtime/alloc.h"

/* See auth.h. */
void auth_session_list_dispose(auth_session_list_t *l)
{
    for (size_t i = 0; l->items && i < l->count; i++) {
        free(l->items[i].client_ip);
        free(l->items[i].user_agent);
    }
    free(l->items);
    memset(l, 0, sizeof *l);
}

/* See auth.h. */
int auth_sessions_list(auth_t *a, int64_t user_id, int64_t now, auth_session_list_t *out)
{
    memset(out, 0, sizeof *out);
    db_session_list_t l = {0};
    int rc = db_session_list_active(a->db, user_id, now, &l);
    if (rc != 0)
        return ERR_UNAVAILABLE;
    out->items = l.count ? xcalloc(l.count, sizeof *out->items) : NULL;
    for (size_t i = 0; i < l.count; i++) {
        db_session_t *s = &l.items[i];
        auth_session_t *o = &out->items[i];
        auth__id_copy(o->sid, s->sid);
        o->created_at = s->created_at;
        o->last_used_at = s->last_used_at;
        o->client_ip = s->client_ip ? s->client_ip : xstrdup("");
        o->user_agent = s->user_agent ? s->user_agent : xstrdup("");
        s->client_ip = s->user_agent = NULL; /* moved */
    }
    out->count = l.count;
    db_session_list_dispose(&l);
    return 0;
}

/* See auth.h. */
int auth_revoke_own_session(auth_t *a, int64_t user_id, const char *sid, int64_t now)
{
    db_session_t s;
    memset(&s, 0, sizeof s);
    int rc = db_session_get(a->db, sid, &s);
    if (rc != 0)
        return rc == ERR_NOT_FOUND || rc == ERR_INVALID ? ERR_NOT_FOUND : ERR_UNAVAILABLE;
    bool mine = s.user_id == user_id;
    db_session_dispose(&s);
    return mine ? auth_revoke_session(a, sid, now) : ERR_NOT_FOUND;
}

/* See auth.h. */
int auth_revocations_json(auth_t *a, int64_t since, int64_t now, buf_t *out)
{
    auth__revocations_t r;
    if (auth__revocations_read(a, since, now, &r) != 0)
        return ERR_UNAVAILABLE;
    const db_revoked_list_t *jl = &r.jtis;
    const db_session_list_t *sl = &r.sids;
    const db_watermark_list_t *wl = &r.users;
    buf_printf(out, "{\"now\":%" PRId64 ",\"since\":%" PRId64 ",\"jtis\":[", now, since);
    for (size_t i = 0; i < jl->count; i++)
        buf_printf(out, "%s{\"jti\":\"%s\",\"exp\":%" PRId64 "}", i ? "," : "", jl->items[i].jti,
                   jl->items[i].expires_at);
    buf_append_cstr(out, "],\"sids\":[");
    for (size_t i = 0; i < sl->count; i++)
        buf_printf(out, "%s{\"sid\":\"%s\",\"user_id\":%" PRId64 ",\"revoked_at\":%" PRId64 "}",
                   i ? "," : "", sl->items[i].sid, sl->items[i].user_id, sl->items[i].revoked_at);
    buf_append_cstr(out, "],\"users\":[");
    for (size_t i = 0; i < wl->count; i++)
        buf_printf(out, "%s{\"user_id\":%" PRId64 ",\"revoke_before\":%" PRId64 "}", i ? "," : "",
                   wl->items[i].user_id, wl->items[i].revoke_before);
    buf_append_cstr(out, "]}");
    auth__revocations_dispose(&r);
    return 0;
}
