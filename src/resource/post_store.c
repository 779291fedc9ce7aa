/*
 * post_store.c - the posts of the demo resource API in the database (post_store.h): its
 * statements, declared once here as db_stmt_def_t (one text for SQLite and PostgreSQL, ?n
 * placeholders) and run through db's statement runner, and the reader that turns a row
 * into a resource_post_t. The `posts` table is created by db's migration 2; access rules,
 * JSON and caching are posts_data.c's and posts.c's.
 */
#include "resource/post_store.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "db/db.h"
#include "runtime/alloc.h"

#define MAX_LIST_ROWS 1000

/* posts joined with their author's username, the columns read_post_row reads */
#define POST_COLS "p.id, p.author_id, u.username, p.title, p.body, p.created_at, p.updated_at"

enum { POST_INSERT, POST_GET, POST_LIST, POST_COUNT, POST_UPDATE, POST_DELETE, POST__N };

/* Parameters -> result columns in each comment. */
static const db_stmt_def_t post_sql[POST__N] = {
    /* author_id, title, body, now -> id */
    [POST_INSERT] = {.name = "post_insert",
                     .sql = "INSERT INTO posts (author_id, title, body, created_at, updated_at) "
                            "VALUES (?1, ?2, ?3, ?4, ?4) RETURNING id"},
    /* id -> POST_COLS */
    [POST_GET] = {.name = "post_get",
                  .sql = "SELECT " POST_COLS " FROM posts p JOIN users u ON u.id = p.author_id "
                         "WHERE p.id = ?1"},
    /* limit, offset -> POST_COLS, newest first */
    [POST_LIST] = {.name = "post_list",
                   .sql = "SELECT " POST_COLS " FROM posts p JOIN users u ON u.id = p.author_id "
                          "ORDER BY p.id DESC LIMIT ?1 OFFSET ?2"},
    /* -> count */
    [POST_COUNT] = {.name = "post_count", .sql = "SELECT count(*) FROM posts"},
    /* title, body, now, id */
    [POST_UPDATE] = {.name = "post_update",
                     .sql =
                         "UPDATE posts SET title = ?1, body = ?2, updated_at = ?3 WHERE id = ?4"},
    /* id */
    [POST_DELETE] = {.name = "post_delete", .sql = "DELETE FROM posts WHERE id = ?1"},
};

/* See post_store.h. */
void resource_post_dispose(resource_post_t *p)
{
    if (!p)
        return;
    free(p->author);
    free(p->title);
    free(p->body);
    memset(p, 0, sizeof *p);
}

/* Reads POST_COLS into the resource_post_t item. */
static int read_post(void *item, const db_row_t *row)
{
    resource_post_t *p = item;
    p->id = db_row_int(row, 0);
    p->author_id = db_row_int(row, 1);
    p->author = db_row_strdup(row, 2);
    p->title = db_row_strdup(row, 3);
    p->body = db_row_strdup(row, 4);
    p->created_at = db_row_int(row, 5);
    p->updated_at = db_row_int(row, 6);
    return 0;
}

static void dispose_post(void *item)
{
    resource_post_dispose(item);
}

/* See post_store.h. */
void resource_post_list_dispose(resource_post_list_t *list)
{
    const db_list_def_t rows = {sizeof(resource_post_t), 0, read_post, dispose_post};
    DB_LIST_RELEASE(&rows, list);
}

/* See post_store.h. */
int resource_post_create(db_t *db, int64_t author_id, const char *title, const char *body,
                         int64_t now, int64_t *id)
{
    int64_t new_id = 0;
    db_param_t p[] = {db_int(author_id), db_text(title), db_text(body), db_int(now)};
    int rc = db_query_one(db, &post_sql[POST_INSERT], p, DB_NPARAMS(p), db_row_read_int, &new_id);
    if (rc == 0 && id)
        *id = new_id;
    return rc;
}

/* See post_store.h. */
int resource_post_get(db_t *db, int64_t id, resource_post_t *out)
{
    memset(out, 0, sizeof *out);
    db_param_t p[] = {db_int(id)};
    return db_query_one(db, &post_sql[POST_GET], p, DB_NPARAMS(p), read_post, out);
}

/* See post_store.h. */
int resource_post_list(db_t *db, uint32_t offset, uint32_t limit, resource_post_list_t *list,
                       int64_t *total)
{
    memset(list, 0, sizeof *list);
    if (limit < 1 || limit > MAX_LIST_ROWS)
        return ERR_INVALID;
    int64_t count = 0;
    int rc = db_query_one(db, &post_sql[POST_COUNT], NULL, 0, db_row_read_int, &count);
    if (rc == 0) {
        const db_list_def_t rows = {sizeof(resource_post_t), limit, read_post, dispose_post};
        db_param_t p[] = {db_int(limit), db_int(offset)};
        rc = DB_QUERY_LIST(db, &post_sql[POST_LIST], p, DB_NPARAMS(p), &rows, list);
    }
    if (rc == 0 && total)
        *total = count;
    return rc;
}

/* An UPDATE or DELETE of post id: ERR_NOT_FOUND when it changed no row. */
static int change_one(db_t *db, const db_stmt_def_t *def, const db_param_t *p, size_t n)
{
    int64_t changed = 0;
    int rc = db_exec(db, def, p, n, &changed);
    return rc == 0 && changed == 0 ? ERR_NOT_FOUND : rc;
}

/* See post_store.h. */
int resource_post_update(db_t *db, int64_t id, const char *title, const char *body, int64_t now)
{
    db_param_t p[] = {db_text(title), db_text(body), db_int(now), db_int(id)};
    return change_one(db, &post_sql[POST_UPDATE], p, DB_NPARAMS(p));
}

/* See post_store.h. */
int resource_post_delete(db_t *db, int64_t id)
{
    db_param_t p[] = {db_int(id)};
    return change_one(db, &post_sql[POST_DELETE], p, DB_NPARAMS(p));
}
