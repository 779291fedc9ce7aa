/*
 * stmt.c - statement definitions (db_stmt_def_t, db.h) as the drivers need them: the text
 * for one backend, the check that a table of definitions is complete for a backend, the
 * rewrite of ?n placeholders into PostgreSQL's $n, and the per-connection cache of prepared
 * statements keyed by definition. It holds no SQL of its own (db's statements are in
 * sql.c) and never talks to a database: preparing and binding are the drivers' work.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "db/db_internal.h"
#include "runtime/alloc.h"

static const char *const backend_names[] = {"sqlite", "postgresql"};

/* ==== text per backend ==================================================================== */

/* See db_internal.h. */
const char *db__stmt_text(const db_stmt_def_t *def, enum db_backend b)
{
    const char *own = b == DB_BACKEND_PG ? def->pg : def->sqlite;
    return own ? own : def->sql;
}

/* See db_internal.h. */
int db__stmt_check(const db_stmt_def_t *defs, size_t n, enum db_backend b, char *err, size_t cap)
{
    for (size_t i = 0; i < n; i++) {
        if (!db__stmt_text(&defs[i], b)) {
            snprintf(err, cap, "this jwtd lacks the %s text of statement %s", backend_names[b],
                     defs[i].name ? defs[i].name : "(unnamed)");
            return ERR_INTERNAL;
        }
    }
    return 0;
}

/* Length of the quoted part of sql that starts at its opening quote q ('...' or "...", the
   quote doubled inside), up to the end of the text when it is not closed. */
static size_t quoted_len(const char *sql)
{
    char q = sql[0];
    size_t i = 1;
    for (;;) {
        if (sql[i] == '\0')
            return i;
        if (sql[i] == q && sql[i + 1] != q)
            return i + 1;
        i += sql[i] == q ? 2 : 1;
    }
}

/* See db_internal.h. */
char *db__sql_to_dollar(const char *sql)
{
    size_t n = strlen(sql);
    char *out = xmalloc(n + 1); /* "?n" and "$n" have the same length */
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        if (sql[i] == '\'' || sql[i] == '"') {
            size_t q = quoted_len(sql + i);
            memcpy(out + o, sql + i, q);
            o += q;
            i += q;
            continue;
        }
        if (sql[i] == '?') {
            if (sql[i + 1] < '0' || sql[i + 1] > '9') {
                free(out);
                return NULL; /* a bare ? has no $ spelling: every placeholder is numbered */
            }
            out[o++] = '$';
            i++;
            continue;
        }
        out[o++] = sql[i++];
    }
    out[o] = '\0';
    return out;
}

/* ==== prepared-statement cache ============================================================ */

#define CACHE_FIRST_CAP 64

static uint32_t slot_of(const db_stmt_def_t *def, uint32_t cap)
{
    uint64_t h = (uint64_t)(uintptr_t)def * 0x9E3779B97F4A7C15ULL; /* Fibonacci hashing */
    return (uint32_t)(h >> 32) & (cap - 1);
}

/* See db_internal.h. */
void *db__stmt_cache_get(const db_stmt_cache_t *cache, const db_stmt_def_t *def)
{
    if (cache->cap == 0)
        return NULL;
    for (uint32_t i = slot_of(def, cache->cap);; i = (i + 1) & (cache->cap - 1)) {
        if (cache->keys[i] == def)
            return cache->vals[i];
        if (!cache->keys[i])
            return NULL;
    }
}

static void insert(db_stmt_cache_t *cache, const db_stmt_def_t *def, void *val)
{
    uint32_t i = slot_of(def, cache->cap);
    while (cache->keys[i])
        i = (i + 1) & (cache->cap - 1);
    cache->keys[i] = def;
    cache->vals[i] = val;
    cache->count++;
}

/* See db_internal.h. */
void db__stmt_cache_put(db_stmt_cache_t *cache, const db_stmt_def_t *def, void *val)
{
    if ((cache->count + 1) * 2 > cache->cap) { /* at most half full: short probes */
        db_stmt_cache_t old = *cache;
        cache->cap = old.cap ? old.cap * 2 : CACHE_FIRST_CAP;
        cache->keys = xcalloc(cache->cap, sizeof *cache->keys);
        cache->vals = xcalloc(cache->cap, sizeof *cache->vals);
        cache->count = 0;
        for (uint32_t i = 0; i < old.cap; i++)
            if (old.keys[i])
                insert(cache, old.keys[i], old.vals[i]);
        free(old.keys);
        free(old.vals);
    }
    insert(cache, def, val);
}

/* See db_internal.h. */
void db__stmt_cache_clear(db_stmt_cache_t *cache, void (*release)(void *val))
{
    for (uint32_t i = 0; release && i < cache->cap; i++)
        if (cache->keys[i])
            release(cache->vals[i]);
    free(cache->keys);
    free(cache->vals);
    memset(cache, 0, sizeof *cache);
}
