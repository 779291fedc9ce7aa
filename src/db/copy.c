/*
 * copy.c - `jwtd db copy` (db.h db_copy): every row of a jwtd SQLite database copied into a
 * PostgreSQL one at the same schema version, in one transaction on the target, verified
 * before it commits.
 *
 * Which tables and columns: the target's catalog, i.e. the schema both databases share after
 * the same migrations (every table but schema_version): users, sessions, refresh tokens,
 * revocations, tombstones, the audit trail and the resource wing's rows, and whatever a later
 * migration adds, with no list to keep here. A table or column the other side lacks, or a
 * column type the copy does not know, stops it before anything is written.
 *
 * Order: tables are filled parents first (the target's foreign keys), emptied children first
 * under --force. Values travel as text parameters whose type PostgreSQL infers from the column
 * (SQLite's 0/1 flags read as booleans), NULL as NULL. Identity sequences are moved past the
 * copied ids and past SQLite's AUTOINCREMENT high-water mark (sqlite_sequence), so an id a
 * deleted row once had is never handed out again.
 *
 * Verification, inside the transaction: per table, the row count and a checksum computed the
 * same way from each side's rows: SHA-256 of each row's canonical form (per column: 0x00 for
 * NULL, else 0x01, the length as 8 bytes little-endian and the text; PostgreSQL booleans read
 * as 0/1 like SQLite's), summed modulo 2^256, so row order does not matter. Any difference
 * rolls everything back.
 *
 * DESIGN: the statements are built from catalog names (checked to be plain lowercase
 * identifiers, and quoted), never from input. Their definitions live on the heap for the whole
 * copy, and the two handles are opened and closed here, so no connection's statement cache
 * outlives the definitions it is keyed by.
 */
#include "db/db.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/buf.h"
#include "common/err.h"
#include "db/db_internal.h"
#include "runtime/alloc.h"

#define MAX_TABLES  64
#define MAX_COLUMNS 64
#define NAME_MAX_   63

enum col_kind { COL_INT, COL_BOOL, COL_TEXT };

struct column {
    char name[NAME_MAX_ + 1];
    enum col_kind kind;
    bool identity;
};

struct table {
    char name[NAME_MAX_ + 1];
    struct column cols[MAX_COLUMNS];
    size_t ncols;
    char parents[MAX_TABLES][NAME_MAX_ + 1]; /* tables its foreign keys reference */
    size_t nparents;
    /* statements (heap; live until the end of the copy) */
    db_stmt_def_t select_src, select_dst, insert, count, clear, max_of[MAX_COLUMNS];
    int64_t seq; /* SQLite's AUTOINCREMENT high-water mark, 0 = none */
};

struct copy {
    db_t *src, *dst;
    bool force;
    struct table *tables; /* in fill order once sorted */
    size_t ntables;
    db_copy_report_t *report;
    char *err;
    size_t cap;
};

/* ==== helpers ================================================================================ */

static int fail(struct copy *c, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct copy *c, int rc, const char *fmt, ...)
{
    if (c->err && c->cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err, c->cap, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* A catalog name the statements may embed: [a-z_][a-z0-9_]*, at most NAME_MAX_ bytes. */
static bool plain_name(const char *s, size_t n)
{
    if (n == 0 || n > NAME_MAX_ || (s[0] >= '0' && s[0] <= '9'))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return false;
    return true;
}

static struct table *find_table(struct copy *c, const char *name)
{
    for (size_t i = 0; i < c->ntables; i++)
        if (strcmp(c->tables[i].name, name) == 0)
            return &c->tables[i];
    return NULL;
}

static char *printf_dup(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *printf_dup(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[1];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    char *out = xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(out, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return out;
}

/* ==== the target's catalog =================================================================== */

static const db_stmt_def_t CAT_TABLES = {
    .name = "COPY_TABLES",
    .pg = "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
          "AND table_type = 'BASE TABLE' AND table_name <> 'schema_version' ORDER BY table_name"};
static const db_stmt_def_t CAT_COLUMNS = {
    .name = "COPY_COLUMNS",
    .pg = "SELECT column_name, data_type, is_identity FROM information_schema.columns "
          "WHERE table_schema = current_schema() AND table_name = ?1 ORDER BY ordinal_position"};
static const db_stmt_def_t CAT_PARENTS = {
    .name = "COPY_PARENTS",
    .pg = "SELECT DISTINCT c.relname, p.relname FROM pg_constraint k "
          "JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class p ON p.oid = k.confrelid "
          "JOIN pg_namespace n ON n.oid = c.relnamespace "
          "WHERE k.contype = 'f' AND n.nspname = current_schema()"};
static const db_stmt_def_t SRC_TABLES = {
    .name = "COPY_SRC_TABLES",
    .sqlite = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
              "AND name <> 'schema_version' ORDER BY name"};
static const db_stmt_def_t SRC_COLUMNS = {.name = "COPY_SRC_COLUMNS",
                                          .sqlite = "SELECT name FROM pragma_table_info(?1)"};
static const db_stmt_def_t SRC_SEQ = {
    .name = "COPY_SRC_SEQ",
    .sqlite =
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'"};
static const db_stmt_def_t SRC_SEQ_OF = {
    .name = "COPY_SRC_SEQ_OF", .sqlite = "SELECT seq FROM sqlite_sequence WHERE name = ?1"};
static const db_stmt_def_t DST_SETVAL = {
    .name = "COPY_SETVAL", .pg = "SELECT setval(pg_get_serial_sequence(?1, ?2), ?3, ?4)"};

static int read_table_name(void *arg, const db_row_t *row)
{
    struct copy *c = arg;
    size_t n;
    const char *s = db_row_text(row, 0, &n);
    if (!s || !plain_name(s, n))
        return fail(c, ERR_INVALID, "table name %.*s: not a plain lowercase name", (int)(s ? n : 0),
                    s ? s : "");
    if (c->ntables == MAX_TABLES)
        return fail(c, ERR_INVALID, "more than %d tables", MAX_TABLES);
    struct table *t = &c->tables[c->ntables++];
    memcpy(t->name, s, n);
    return 0;
}

struct col_ctx {
    struct copy *c;
    struct table *t;
};

static int read_column(void *arg, const db_row_t *row)
{
    struct col_ctx *x = arg;
    size_t n, tn, in;
    const char *name = db_row_text(row, 0, &n);
    const char *type = db_row_text(row, 1, &tn);
    const char *ident = db_row_text(row, 2, &in);
    if (!name || !plain_name(name, n) || !type)
        return fail(x->c, ERR_INVALID, "table %s: a column name is not a plain lowercase name",
                    x->t->name);
    if (x->t->ncols == MAX_COLUMNS)
        return fail(x->c, ERR_INVALID, "table %s: more than %d columns", x->t->name, MAX_COLUMNS);
    struct column *col = &x->t->cols[x->t->ncols++];
    memcpy(col->name, name, n);
    if (strcmp(type, "bigint") == 0 || strcmp(type, "integer") == 0 ||
        strcmp(type, "smallint") == 0)
        col->kind = COL_INT;
    else if (strcmp(type, "boolean") == 0)
        col->kind = COL_BOOL;
    else if (strcmp(type, "text") == 0 || strcmp(type, "character varying") == 0)
        col->kind = COL_TEXT;
    else
        return fail(x->c, ERR_INVALID, "column %s.%s has type %s, which the copy does not support",
                    x->t->name, col->name, type);
    col->identity = ident && strcmp(ident, "YES") == 0;
    return 0;
}

static int read_parent(void *arg, const db_row_t *row)
{
    struct copy *c = arg;
    size_t n, pn;
    const char *child = db_row_text(row, 0, &n);
    const char *parent = db_row_text(row, 1, &pn);
    struct table *t = child ? find_table(c, child) : NULL;
    if (!t || !parent || pn > NAME_MAX_ || t->nparents == MAX_TABLES || strcmp(child, parent) == 0)
        return 0; /* a table the copy does not fill, or a self-reference */
    memcpy(t->parents[t->nparents++], parent, pn);
    return 0;
}

/* Sorts the tables parents first (Kahn's algorithm over the foreign keys). */
static int sort_tables(struct copy *c)
{
    struct table *sorted = xcalloc(MAX_TABLES, sizeof *sorted);
    bool *placed = xcalloc(MAX_TABLES, sizeof *placed);
    size_t done = 0;
    while (done < c->ntables) {
        bool progress = false;
        for (size_t i = 0; i < c->ntables; i++) {
            if (placed[i])
                continue;
            bool ready = true;
            for (size_t p = 0; p < c->tables[i].nparents && ready; p++) {
                for (size_t k = 0; k < c->ntables; k++)
                    if (!placed[k] && k != i &&
                        strcmp(c->tables[k].name, c->tables[i].parents[p]) == 0)
                        ready = false;
            }
            if (ready) {
                sorted[done++] = c->tables[i];
                placed[i] = true;
                progress = true;
            }
        }
        if (!progress) {
            free(sorted);
            free(placed);
            return fail(c, ERR_INVALID, "the foreign keys of the target form a cycle");
        }
    }
    memcpy(c->tables, sorted, c->ntables * sizeof *sorted);
    free(sorted);
    free(placed);
    return 0;
}

/* The source's tables must be the target's, with the same columns. */
struct src_check {
    struct copy *c;
    struct table *t;
    size_t seen;
    int rc;
};

static int check_src_table(void *arg, const db_row_t *row)
{
    struct src_check *x = arg;
    size_t n;
    const char *s = db_row_text(row, 0, &n);
    char name[NAME_MAX_ + 1] = "";
    if (s && n <= NAME_MAX_)
        memcpy(name, s, n);
    if (!find_table(x->c, name))
        return fail(x->c, ERR_INVALID, "table %s of the source does not exist in the target", name);
    x->seen++;
    return 0;
}

static int check_src_column(void *arg, const db_row_t *row)
{
    struct src_check *x = arg;
    size_t n;
    const char *s = db_row_text(row, 0, &n);
    for (size_t i = 0; s && i < x->t->ncols; i++)
        if (strlen(x->t->cols[i].name) == n && memcmp(x->t->cols[i].name, s, n) == 0) {
            x->seen++;
            return 0;
        }
    return fail(x->c, ERR_INVALID, "column %s.%.*s of the source does not exist in the target",
                x->t->name, (int)(s ? n : 0), s ? s : "");
}

/* Builds the statements of table t. */
static void build_statements(struct table *t)
{
    buf_t cols, dst_cols, params;
    buf_init(&cols, 1u << 16);
    buf_init(&dst_cols, 1u << 16);
    buf_init(&params, 1u << 16);
    for (size_t i = 0; i < t->ncols; i++) {
        const char *sep = i ? ", " : "";
        buf_printf(&cols, "%s\"%s\"", sep, t->cols[i].name);
        if (t->cols[i].kind == COL_BOOL)
            buf_printf(&dst_cols, "%s\"%s\"::int", sep, t->cols[i].name);
        else
            buf_printf(&dst_cols, "%s\"%s\"", sep, t->cols[i].name);
        buf_printf(&params, "%s?%zu", sep, i + 1);
    }
    buf_append_char(&cols, '\0');
    buf_append_char(&dst_cols, '\0');
    buf_append_char(&params, '\0');
    const char *c = buf_str(&cols).ptr, *dc = buf_str(&dst_cols).ptr, *p = buf_str(&params).ptr;
    t->select_src.name = t->select_dst.name = t->insert.name = t->count.name = t->clear.name =
        "COPY_TABLE";
    t->select_src.sqlite = printf_dup("SELECT %s FROM \"%s\"", c, t->name);
    t->select_dst.pg = printf_dup("SELECT %s FROM \"%s\"", dc, t->name);
    t->insert.pg = printf_dup("INSERT INTO \"%s\" (%s) VALUES (%s)", t->name, c, p);
    t->count.pg = printf_dup("SELECT count(*) FROM \"%s\"", t->name);
    t->clear.pg = printf_dup("DELETE FROM \"%s\"", t->name);
    for (size_t i = 0; i < t->ncols; i++) {
        if (!t->cols[i].identity)
            continue;
        t->max_of[i].name = "COPY_MAX";
        t->max_of[i].pg =
            printf_dup("SELECT COALESCE(MAX(\"%s\"), 0) FROM \"%s\"", t->cols[i].name, t->name);
    }
    buf_dispose(&cols);
    buf_dispose(&dst_cols);
    buf_dispose(&params);
}

static void free_statements(struct table *t)
{
    free((char *)t->select_src.sqlite);
    free((char *)t->select_dst.pg);
    free((char *)t->insert.pg);
    free((char *)t->count.pg);
    free((char *)t->clear.pg);
    for (size_t i = 0; i < MAX_COLUMNS; i++)
        free((char *)t->max_of[i].pg);
}

/* ==== checksums ============================================================================== */

struct digest {
    size_t ncols;
    int64_t rows;
    unsigned char sum[32]; /* big-endian, modulo 2^256 */
    EVP_MD_CTX *md;
    int rc;
};

static int digest_row(void *arg, const db_row_t *row)
{
    struct digest *d = arg;
    unsigned char h[32];
    unsigned int hl = 0;
    int ok = EVP_DigestInit_ex(d->md, EVP_sha256(), NULL);
    for (size_t i = 0; ok && i < d->ncols; i++) {
        size_t n = 0;
        const char *s = db_row_text(row, (int)i, &n);
        unsigned char head[9] = {s ? 1 : 0};
        for (int k = 0; k < 8; k++)
            head[1 + k] = (unsigned char)((uint64_t)n >> (8 * k));
        ok = EVP_DigestUpdate(d->md, head, s ? 9 : 1) && (!s || EVP_DigestUpdate(d->md, s, n));
    }
    if (!ok || !EVP_DigestFinal_ex(d->md, h, &hl) || hl != 32)
        return ERR_INTERNAL;
    unsigned carry = 0;
    for (int i = 31; i >= 0; i--) {
        unsigned v = (unsigned)d->sum[i] + h[i] + carry;
        d->sum[i] = (unsigned char)v;
        carry = v >> 8;
    }
    d->rows++;
    return 0;
}

static void hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

/* ==== the copy =============================================================================== */

struct row_copy {
    db_tx_t *tx;
    const struct table *t;
    int64_t rows;
};

static int copy_row(void *arg, const db_row_t *row)
{
    struct row_copy *x = arg;
    db_param_t p[MAX_COLUMNS];
    for (size_t i = 0; i < x->t->ncols; i++) {
        size_t n = 0;
        const char *s = db_row_text(row, (int)i, &n);
        p[i] = s ? (db_param_t){DB_PARAM_TEXT, 0, s, n} : db_null();
    }
    int rc = db_tx_exec(x->tx, &x->t->insert, p, x->t->ncols, NULL);
    x->rows++;
    return rc;
}

/* Copies table t's rows from the source into the target and moves its identity sequences
   past them. OUT: *rows, the rows copied. Returns 0 or fail()'s code. */
static int copy_table(struct copy *c, db_tx_t *tx, struct table *t, int64_t *rows)
{
    struct row_copy x = {tx, t, 0};
    int rc = db_query(c->src, &t->select_src, NULL, 0, copy_row, &x);
    *rows = x.rows;
    if (rc != 0)
        return fail(c, rc, "copying table %s failed at row %" PRId64 " (%s)", t->name, x.rows + 1,
                    rc == ERR_CONFLICT ? "a duplicate key" : "see the log");
    for (size_t k = 0; k < t->ncols; k++) {
        if (!t->cols[k].identity)
            continue;
        int64_t max = 0;
        rc = db_tx_query_one(tx, &t->max_of[k], NULL, 0, db_row_read_int, &max);
        int64_t next = max > t->seq ? max : t->seq;
        db_param_t p[] = {db_text(t->name), db_text(t->cols[k].name), db_int(next > 0 ? next : 1),
                          db_bool(next > 0)};
        if (rc == 0)
            rc = db_tx_query(tx, &DST_SETVAL, p, DB_NPARAMS(p), NULL, NULL);
        if (rc != 0)
            return fail(c, rc, "moving the sequence of %s.%s failed", t->name, t->cols[k].name);
    }
    return 0;
}

static int copy_body(db_tx_t *tx, void *arg)
{
    struct copy *c = arg;
    /* The feed's triggers are deferred to the commit (migration 13): here they fire at each
       statement, so that the copy-again step below sees the rows they add. */
    int rc = db__tx_script(tx, "SET CONSTRAINTS ALL IMMEDIATE");
    if (rc != 0)
        return fail(c, rc, "preparing the target's transaction failed");
    /* an empty target, unless forced (then emptied, children first) */
    for (size_t i = 0; i < c->ntables; i++) {
        int64_t n = 0;
        rc = db_tx_query_one(tx, &c->tables[i].count, NULL, 0, db_row_read_int, &n);
        if (rc != 0)
            return fail(c, rc, "counting the rows of %s in the target failed", c->tables[i].name);
        if (n > 0 && !c->force)
            return fail(c, ERR_CONFLICT,
                        "the target is not empty: table %s has %" PRId64 " rows (--force "
                        "replaces every row)",
                        c->tables[i].name, n);
    }
    if (c->force)
        for (size_t i = c->ntables; i-- > 0;)
            if ((rc = db_tx_exec(tx, &c->tables[i].clear, NULL, 0, NULL)) != 0)
                return fail(c, rc, "emptying table %s of the target failed", c->tables[i].name);
    int64_t *copied = xcalloc(c->ntables ? c->ntables : 1, sizeof *copied);
    for (size_t i = 0; i < c->ntables && rc == 0; i++)
        rc = copy_table(c, tx, &c->tables[i], &copied[i]);
    /* Triggers of the target (the revocation feed's) add rows to tables copied before their
       sources: such a table holds more rows than were copied into it. It is copied again,
       alone, so the target holds exactly the source's rows. */
    for (size_t i = 0; i < c->ntables && rc == 0; i++) {
        int64_t n = 0;
        rc = db_tx_query_one(tx, &c->tables[i].count, NULL, 0, db_row_read_int, &n);
        if (rc != 0)
            rc = fail(c, rc, "counting the rows of %s in the target failed", c->tables[i].name);
        else if (n != copied[i] && (rc = db_tx_exec(tx, &c->tables[i].clear, NULL, 0, NULL)) != 0)
            rc = fail(c, rc, "emptying table %s of the target failed", c->tables[i].name);
        else if (n != copied[i])
            rc = copy_table(c, tx, &c->tables[i], &copied[i]);
    }
    free(copied);
    if (rc != 0)
        return rc;
    /* verification, before the commit */
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md)
        return fail(c, ERR_INTERNAL, "no digest context");
    bool same = true;
    for (size_t i = 0; i < c->ntables && rc == 0; i++) {
        struct table *t = &c->tables[i];
        struct digest s = {.ncols = t->ncols, .md = md}, d = {.ncols = t->ncols, .md = md};
        rc = db_query(c->src, &t->select_src, NULL, 0, digest_row, &s);
        if (rc == 0)
            rc = db_tx_query(tx, &t->select_dst, NULL, 0, digest_row, &d);
        if (rc != 0)
            break;
        db_copy_table_t *r = &c->report->tables[i];
        snprintf(r->table, sizeof r->table, "%s", t->name);
        r->source_rows = s.rows;
        r->target_rows = d.rows;
        hex(s.sum, sizeof s.sum, r->source_checksum);
        hex(d.sum, sizeof d.sum, r->target_checksum);
        r->match = s.rows == d.rows && memcmp(s.sum, d.sum, sizeof s.sum) == 0;
        same = same && r->match;
        c->report->count = i + 1;
    }
    EVP_MD_CTX_free(md);
    if (rc != 0)
        return fail(c, rc, "verifying the copy failed");
    if (!same)
        return fail(c, ERR_INTERNAL, "the copy differs from the source: rolled back");
    return 0;
}

/* Reads both catalogs into c and builds the statements. */
static int plan(struct copy *c)
{
    int rc = db_query(c->dst, &CAT_TABLES, NULL, 0, read_table_name, c);
    for (size_t i = 0; rc == 0 && i < c->ntables; i++) {
        struct col_ctx x = {c, &c->tables[i]};
        db_param_t p[] = {db_text(c->tables[i].name)};
        rc = db_query(c->dst, &CAT_COLUMNS, p, DB_NPARAMS(p), read_column, &x);
    }
    if (rc == 0)
        rc = db_query(c->dst, &CAT_PARENTS, NULL, 0, read_parent, c);
    if (rc == 0)
        rc = sort_tables(c);
    if (rc != 0)
        return c->err[0] ? rc : fail(c, rc, "reading the catalog of the target failed");
    struct src_check x = {c, NULL, 0, 0};
    rc = db_query(c->src, &SRC_TABLES, NULL, 0, check_src_table, &x);
    if (rc == 0 && x.seen != c->ntables)
        return fail(c, ERR_INVALID, "the source lacks tables of the target (%zu of %zu)", x.seen,
                    c->ntables);
    int64_t has_seq = 0;
    if (rc == 0)
        rc = db_query_one(c->src, &SRC_SEQ, NULL, 0, db_row_read_int, &has_seq);
    for (size_t i = 0; rc == 0 && i < c->ntables; i++) {
        struct table *t = &c->tables[i];
        struct src_check y = {c, t, 0, 0};
        db_param_t p[] = {db_text(t->name)};
        rc = db_query(c->src, &SRC_COLUMNS, p, DB_NPARAMS(p), check_src_column, &y);
        if (rc == 0 && y.seen != t->ncols)
            return fail(c, ERR_INVALID, "table %s of the source lacks columns of the target",
                        t->name);
        if (rc == 0 && has_seq) {
            rc = db_query_one(c->src, &SRC_SEQ_OF, p, DB_NPARAMS(p), db_row_read_int, &t->seq);
            if (rc == ERR_NOT_FOUND)
                rc = 0;
        }
        if (rc == 0)
            build_statements(t);
    }
    if (rc != 0 && !c->err[0])
        return fail(c, rc, "reading the catalog of the source failed");
    return rc;
}

/* See db.h. */
void db_copy_report_dispose(db_copy_report_t *r)
{
    if (!r)
        return;
    free(r->tables);
    memset(r, 0, sizeof *r);
}

/* See db.h. */
int db_copy(const char *from_url, const char *to_url, bool force, db_copy_report_t *report,
            char *err, size_t cap)
{
    char local[256];
    if (!err || cap == 0) {
        err = local;
        cap = sizeof local;
    }
    err[0] = '\0';
    memset(report, 0, sizeof *report);
    struct copy c = {.force = force, .report = report, .err = err, .cap = cap};
    int rc = db_open(from_url, NULL, &c.src, err, cap);
    if (rc == 0 && c.src->drv->backend != DB_BACKEND_SQLITE)
        rc = fail(&c, ERR_CONFIG, "--from must be a SQLite database (sqlite:PATH)");
    if (rc == 0)
        rc = db_open(to_url, NULL, &c.dst, err, cap);
    if (rc == 0 && c.dst->drv->backend != DB_BACKEND_PG)
        rc = fail(&c, ERR_CONFIG, "--to must be a PostgreSQL database (postgresql://...)");
    int sv = 0, dv = 0, applied = 0;
    if (rc == 0 && (rc = db_schema_version(c.src, &sv)) != 0)
        fail(&c, rc, "cannot read the schema version of the source");
    if (rc == 0 && sv != db_schema_latest())
        rc = fail(&c, ERR_CONFIG,
                  "the source is at schema version %d, this jwtd at %d: run `jwtd migrate` on it "
                  "first",
                  sv, db_schema_latest());
    if (rc == 0 && (rc = db_migrate(c.dst, &applied)) != 0)
        fail(&c, rc, "migrating the target failed");
    if (rc == 0 && (rc = db_schema_version(c.dst, &dv)) == 0 && dv != sv)
        rc = fail(&c, ERR_CONFIG, "the target is at schema version %d, the source at %d", dv, sv);
    if (rc == 0) {
        c.tables = xcalloc(MAX_TABLES, sizeof *c.tables);
        rc = plan(&c);
    }
    if (rc == 0) {
        report->tables = xcalloc(c.ntables ? c.ntables : 1, sizeof *report->tables);
        report->schema_version = sv;
        rc = db_transact(c.dst, copy_body, &c);
        if (rc != 0 && !err[0])
            fail(&c, rc, "the copy failed");
    }
    /* the handles first: their connections cache the statements freed next */
    db_close(c.src);
    db_close(c.dst);
    if (c.tables)
        for (size_t i = 0; i < c.ntables; i++)
            free_statements(&c.tables[i]);
    free(c.tables);
    return rc;
}
