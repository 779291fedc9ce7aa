/*
 * posts_data.c - the storage of the posts API: the database rows (db.h's posts) and the
 * cache of list pages.
 *
 * DESIGN (cache): list pages are cached in the shared store's cache (in-process, or Redis
 * shared by every instance when JWTD_REDIS_URL is set) under "posts:<page>:<page_size>" in
 * the group "posts", for posts_cache_ttl_s seconds (JWTD_POSTS_CACHE_TTL, 0 = no cache).
 * Every write (create, update, delete) drops the whole group after the database commit,
 * before its answer; a page is stored before the reader's answer (the store waits for Redis
 * on the pool), so a write made after a reader was answered always drops that page. A page
 * computed while a write was in flight could be stored after that drop: the wing's write
 * counter, read before the query and compared before storing, keeps this instance from
 * caching such a page; across instances the TTL bounds the staleness.
 *
 * Post JSON is escaped for JSON, which makes it safe to embed in JSON but NOT in HTML:
 * escaping user content for HTML is the client's job (jwtd's web UI inserts text with
 * textContent).
 */
#define LOG_MODULE "resource"
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/jsonw.h"
#include "db/db.h"
#include "resource/post_store.h"
#include "resource/resource_internal.h"
#include "store/store.h"

#define CACHE_GROUP "posts"

static void append_post(buf_t *b, const resource_post_t *p)
{
    buf_printf(b, "{\"id\":%" PRId64 ",\"title\":", p->id);
    jsonw_buf_cstr(b, p->title);
    buf_append_cstr(b, ",\"body\":");
    jsonw_buf_cstr(b, p->body);
    buf_printf(b, ",\"author_id\":%" PRId64 ",\"author\":", p->author_id);
    jsonw_buf_cstr(b, p->author);
    buf_printf(b, ",\"created_at\":%" PRId64 ",\"updated_at\":%" PRId64 "}", p->created_at,
               p->updated_at);
}

/* After a committed write: no cached page may outlive it. */
static void changed(resource_t *res)
{
    atomic_fetch_add(&res->post_writes, 1);
    store_cache_drop_group(res->store, CACHE_GROUP);
}

static int map(int rc)
{
    return rc == 0 || rc == ERR_NOT_FOUND || rc == ERR_PERMISSION ? rc : ERR_UNAVAILABLE;
}

/* Checks that user_id may change post id (its author, or an admin). */
static int may_change(resource_t *res, int64_t id, int64_t user_id, bool is_admin,
                      resource_post_t *p)
{
    int rc = resource_post_get(res->db, id, p);
    if (rc == 0 && p->author_id != user_id && !is_admin)
        rc = ERR_PERMISSION;
    return rc;
}

/* See resource_internal.h. */
int resource__post_run(resource_t *res, enum resource_post_op op, int64_t *id, int64_t user_id,
                       bool is_admin, const char *title, const char *body, buf_t *out)
{
    int64_t now = clock_now_s();
    resource_post_t p = {0};
    int rc = 0;
    switch (op) {
    case RESOURCE_POST_CREATE:
        rc = resource_post_create(res->db, user_id, title, body, now, id);
        break;
    case RESOURCE_POST_GET:
        break;
    case RESOURCE_POST_UPDATE:
        rc = may_change(res, *id, user_id, is_admin, &p);
        if (rc == 0)
            rc = resource_post_update(res->db, *id, title ? title : p.title, body ? body : p.body,
                                      now);
        break;
    case RESOURCE_POST_DELETE:
        rc = may_change(res, *id, user_id, is_admin, &p);
        if (rc == 0)
            rc = resource_post_delete(res->db, *id);
        break;
    }
    resource_post_dispose(&p);
    if (rc == 0 && op != RESOURCE_POST_GET)
        changed(res);
    if (rc == 0 && op != RESOURCE_POST_DELETE) {
        rc = resource_post_get(res->db, *id, &p);
        if (rc == 0)
            append_post(out, &p);
        resource_post_dispose(&p);
    }
    return map(rc);
}

/* See resource_internal.h. */
void resource__posts_page_key(uint32_t page, uint32_t page_size, char key[64])
{
    snprintf(key, 64, "posts:%u:%u", page, page_size);
}

/* See resource_internal.h. */
uint64_t resource__posts_writes(resource_t *res)
{
    return atomic_load(&res->post_writes);
}

/* See resource_internal.h. */
int resource__posts_page(resource_t *res, uint32_t page, uint32_t page_size, uint64_t writes_before,
                         buf_t *out)
{
    resource_post_list_t l;
    int64_t total = 0;
    /* versioned fill (store.h): a post write on another instance between this read and the
       store drops the page instead of being overtaken by it (writes_before: this instance) */
    store_fill_t ticket = res->posts_cache_ttl_s ? store_cache_fill_begin(res->store) : 0;
    int rc = resource_post_list(res->db, (page - 1) * page_size, page_size, &l, &total);
    if (rc != 0)
        return ERR_UNAVAILABLE;
    buf_append_cstr(out, "{\"items\":[");
    for (size_t i = 0; i < l.count; i++) {
        if (i)
            buf_append_char(out, ',');
        append_post(out, &l.items[i]);
    }
    buf_printf(out, "],\"page\":%u,\"page_size\":%u,\"total\":%" PRId64 "}", page, page_size,
               total);
    resource_post_list_dispose(&l);
    char key[64];
    resource__posts_page_key(page, page_size, key);
    if (res->posts_cache_ttl_s && atomic_load(&res->post_writes) == writes_before)
        store_cache_set_if(res->store, key, buf_str(out), res->posts_cache_ttl_s, CACHE_GROUP,
                           ticket);
    return 0;
}

/* See resource_internal.h. */
void resource__posts_cached(resource_t *res, const char *key,
                            void (*cb)(void *arg, int status, str_t value), void *arg)
{
    if (!res->posts_cache_ttl_s) {
        cb(arg, ERR_NOT_FOUND, STR_NULL);
        return;
    }
    store_cache_get(res->store, key, cb, arg);
}
