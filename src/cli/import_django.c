/*
 * import_django.c - `jwtd import-django --database URL [--dry-run]`: copies the users of a
 * Django project (auth_user, or a custom user table) into jwtd's database, so a Django +
 * SimpleJWT deployment can move its authentication to jwtd without a flag day.
 *
 * The Django database is read directly and only read: a SQLite file (`sqlite:PATH`,
 * `sqlite:///abs/path` or a plain path) or PostgreSQL (`postgresql://...`). Each user keeps
 * its id (the `user_id` claim both systems put in tokens), username, email, names,
 * is_active, date_joined and last_login; is_superuser/is_staff become the role (admin, or
 * --staff-role), a `role` column of a custom user model is used when it holds a jwtd role,
 * and a `premium`/`is_premium` column when present. Password hashes are copied as they are
 * (pbkdf2_sha256, argon2, bcrypt_sha256 ...): src/auth/password.c verifies them and the
 * first login rehashes to argon2id. Django's unusable passwords ("!...") become jwtd's ("").
 *
 * Idempotent: users are matched by id (db_user_import), so running it again updates what
 * changed in Django and creates nothing twice; a user who already logged in to jwtd keeps
 * jwtd's argon2id hash. Django does not enforce unique emails and jwtd does: a user whose
 * email another id already has is imported without an email (reported). A user whose id
 * belongs to another username in jwtd, or whose username belongs to another id, is
 * skipped, never merged (reported, exit status 1). --dry-run reads both databases and
 * reports what would happen without writing.
 */
#define LOG_MODULE "cli"
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "cli/cli.h"
#include "common/clock.h"
#include "common/err.h"
#include "db/db.h"
#include "runtime/alloc.h"
#include "runtime/audit.h"
#include "runtime/errtab.h"

/* ==== reading the Django database ========================================================= */

/* The SELECT's columns, in this order. */
enum {
    C_ID,
    C_USERNAME,
    C_PASSWORD,
    C_EMAIL,
    C_FIRST,
    C_LAST,
    C_ACTIVE,
    C_STAFF,
    C_SUPER,
    C_JOINED,
    C_LAST_LOGIN,
    C_ROLE,
    C_PREMIUM,
    N_COLS
};

struct source {
    bool is_pg;
    sqlite3 *sq;
    sqlite3_stmt *st;
    PGconn *pg;
    PGresult *res;
    int row;
};

static void source_close(struct source *s)
{
    sqlite3_finalize(s->st);
    sqlite3_close(s->sq);
    PQclear(s->res);
    PQfinish(s->pg);
    memset(s, 0, sizeof *s);
}

/* Opens url read-only. Returns 0 or prints why not and returns -1. */
static int source_open(const char *url, struct source *s)
{
    memset(s, 0, sizeof *s);
    if (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0) {
        s->is_pg = true;
        s->pg = PQconnectdb(url);
        if (PQstatus(s->pg) != CONNECTION_OK) {
            const char *m = PQerrorMessage(s->pg);
            fprintf(stderr, "jwtd import-django: cannot connect to the Django database: %.*s\n",
                    (int)strcspn(m, "\n"), m);
            return -1;
        }
        PGresult *r = PQexec(s->pg, "SET default_transaction_read_only = on");
        PQclear(r);
        return 0;
    }
    const char *path = url;
    if (strncmp(path, "sqlite:", 7) == 0) {
        path += 7;
        if (strncmp(path, "//", 2) == 0)
            path += 2;
    }
    struct stat sb;
    if (!*path || stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fprintf(stderr, "jwtd import-django: no SQLite database at %s\n", path);
        return -1;
    }
    if (sqlite3_open_v2(path, &s->sq, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        fprintf(stderr, "jwtd import-django: cannot open %s: %s\n", path, sqlite3_errmsg(s->sq));
        return -1;
    }
    sqlite3_busy_timeout(s->sq, 5000);
    return 0;
}

/* Which optional columns the table has. Returns -1 when the table does not exist. */
static int table_columns(struct source *s, const char *table, bool *has_role, char *premium,
                         size_t cap)
{
    int n = 0;
    *has_role = false;
    premium[0] = '\0';
    if (s->is_pg) {
        const char *vals[] = {table};
        PGresult *r = PQexecParams(s->pg,
                                   "SELECT column_name FROM information_schema.columns WHERE "
                                   "table_schema = current_schema() AND table_name = $1",
                                   1, NULL, vals, NULL, NULL, 0);
        if (PQresultStatus(r) == PGRES_TUPLES_OK) {
            n = PQntuples(r);
            for (int i = 0; i < n; i++) {
                const char *c = PQgetvalue(r, i, 0);
                if (strcmp(c, "role") == 0)
                    *has_role = true;
                else if (strcmp(c, "premium") == 0 || strcmp(c, "is_premium") == 0)
                    snprintf(premium, cap, "%s", c);
            }
        }
        PQclear(r);
    } else {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(s->sq, "SELECT name FROM pragma_table_info(?1)", -1, &st, NULL) ==
            SQLITE_OK) {
            sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
            while (sqlite3_step(st) == SQLITE_ROW) {
                const char *c = (const char *)sqlite3_column_text(st, 0);
                n++;
                if (!c)
                    continue;
                if (strcmp(c, "role") == 0)
                    *has_role = true;
                else if (strcmp(c, "premium") == 0 || strcmp(c, "is_premium") == 0)
                    snprintf(premium, cap, "%s", c);
            }
        }
        sqlite3_finalize(st);
    }
    return n > 0 ? 0 : -1;
}

/* Runs the user SELECT. table is a validated identifier (letters, digits, '_'). */
static int source_query(struct source *s, const char *table, bool has_role, const char *premium)
{
    char sql[1024];
    const char *epoch_joined = s->is_pg ? "CAST(EXTRACT(EPOCH FROM date_joined) AS BIGINT)"
                                        : "CAST(strftime('%s', date_joined) AS INTEGER)";
    const char *epoch_login = s->is_pg ? "CAST(EXTRACT(EPOCH FROM last_login) AS BIGINT)"
                                       : "CAST(strftime('%s', last_login) AS INTEGER)";
    char prem[64];
    if (premium[0])
        snprintf(prem, sizeof prem, "CASE WHEN \"%s\" THEN 1 ELSE 0 END", premium);
    else
        snprintf(prem, sizeof prem, "0");
    snprintf(sql, sizeof sql,
             "SELECT id, username, password, email, first_name, last_name, "
             "CASE WHEN is_active THEN 1 ELSE 0 END, CASE WHEN is_staff THEN 1 ELSE 0 END, "
             "CASE WHEN is_superuser THEN 1 ELSE 0 END, %s, %s, %s, %s FROM \"%s\" ORDER BY id",
             epoch_joined, epoch_login, has_role ? "role" : "''", prem, table);
    if (s->is_pg) {
        s->res = PQexec(s->pg, sql);
        if (PQresultStatus(s->res) != PGRES_TUPLES_OK) {
            const char *m = PQresultErrorMessage(s->res);
            fprintf(stderr, "jwtd import-django: cannot read %s: %.*s\n", table,
                    (int)strcspn(m, "\n"), m);
            return -1;
        }
        s->row = -1;
        return 0;
    }
    if (sqlite3_prepare_v2(s->sq, sql, -1, &s->st, NULL) != SQLITE_OK) {
        fprintf(stderr, "jwtd import-django: cannot read %s: %s\n", table, sqlite3_errmsg(s->sq));
        return -1;
    }
    return 0;
}

/* 1 = a row, 0 = done, -1 = error (printed). */
static int source_next(struct source *s)
{
    if (s->is_pg) {
        if (s->row + 1 >= PQntuples(s->res))
            return 0;
        s->row++;
        return 1;
    }
    int rc = sqlite3_step(s->st);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE)
        return 0;
    fprintf(stderr, "jwtd import-django: reading users failed: %s\n", sqlite3_errmsg(s->sq));
    return -1;
}

static const char *col_text(struct source *s, int col)
{
    const char *t;
    if (s->is_pg)
        t = PQgetisnull(s->res, s->row, col) ? NULL : PQgetvalue(s->res, s->row, col);
    else
        t = (const char *)sqlite3_column_text(s->st, col);
    return t ? t : "";
}

static bool col_null(struct source *s, int col)
{
    if (s->is_pg)
        return PQgetisnull(s->res, s->row, col);
    return sqlite3_column_type(s->st, col) == SQLITE_NULL;
}

static int64_t col_int(struct source *s, int col)
{
    if (col_null(s, col))
        return 0;
    if (s->is_pg)
        return strtoll(PQgetvalue(s->res, s->row, col), NULL, 10);
    return sqlite3_column_int64(s->st, col);
}

/* ==== the command ========================================================================= */

static bool valid_identifier(const char *t)
{
    if (!*t || strlen(t) > 63)
        return false;
    for (const char *p = t; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_')
            return false;
    return true;
}

static bool known_hash_format(const char *h)
{
    static const char *const prefixes[] = {"pbkdf2_sha256$", "pbkdf2_sha1$", "argon2$",
                                           "bcrypt_sha256$", "bcrypt$",      "$argon2"};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (strncmp(h, prefixes[i], strlen(prefixes[i])) == 0)
            return true;
    return false;
}

struct stats {
    unsigned read, created, updated, unchanged, skipped, email_cleared, unusable, unsupported;
};

static bool same_str(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

/*
 * --dry-run's view of the emails jwtd holds (ASCII case-folded, as jwtd's unique index
 * compares them) -> user id: an open-addressing table filled from jwtd's users and then
 * with each email the run would store, so the prediction sees the same conflicts.
 */
struct email_set {
    char **keys;
    int64_t *ids;
    size_t cap, count;
};

static uint64_t email_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)tolower((unsigned char)*s)) * 1099511628211ULL;
    return h;
}

/* The slot of email (its own or the empty one where it would go). */
static size_t email_slot(const struct email_set *e, const char *email)
{
    size_t i = (size_t)email_hash(email) & (e->cap - 1);
    while (e->keys[i] && strcasecmp(e->keys[i], email) != 0)
        i = (i + 1) & (e->cap - 1);
    return i;
}

static void email_put(struct email_set *e, const char *email, int64_t id)
{
    if (!*email)
        return;
    if (2 * (e->count + 1) > e->cap) {
        struct email_set bigger = {NULL, NULL, e->cap ? e->cap * 2 : 1024, 0};
        bigger.keys = xcalloc(bigger.cap, sizeof *bigger.keys);
        bigger.ids = xcalloc(bigger.cap, sizeof *bigger.ids);
        for (size_t i = 0; i < e->cap; i++) {
            if (e->keys[i]) {
                size_t j = email_slot(&bigger, e->keys[i]);
                bigger.keys[j] = e->keys[i];
                bigger.ids[j] = e->ids[i];
                bigger.count++;
            }
        }
        free(e->keys);
        free(e->ids);
        *e = bigger;
    }
    size_t i = email_slot(e, email);
    if (!e->keys[i]) {
        e->keys[i] = xstrdup(email);
        e->count++;
    }
    e->ids[i] = id;
}

/* The id holding email, or 0. */
static int64_t email_owner(const struct email_set *e, const char *email)
{
    if (!*email || !e->cap)
        return 0;
    size_t i = email_slot(e, email);
    return e->keys[i] ? e->ids[i] : 0;
}

static void email_set_dispose(struct email_set *e)
{
    for (size_t i = 0; i < e->cap; i++)
        free(e->keys[i]);
    free(e->keys);
    free(e->ids);
    memset(e, 0, sizeof *e);
}

static int email_set_load(db_t *db, struct email_set *e)
{
    int64_t after = 0;
    for (;;) {
        db_user_list_t page;
        int rc = db_user_list(db, after, 1000, &page);
        if (rc != 0)
            return rc;
        if (page.count == 0)
            return 0;
        for (size_t i = 0; i < page.count; i++)
            email_put(e, page.items[i].email, page.items[i].id);
        after = page.items[page.count - 1].id;
        db_user_list_dispose(&page);
    }
}

/* --dry-run: what db_user_import would answer, from reads only. */
static int predict(db_t *db, struct email_set *emails, const db_user_t *u,
                   enum db_import_status *st)
{
    db_user_t cur, other;
    int64_t owner = email_owner(emails, u->email);
    if (owner && owner != u->id)
        return ERR_CONFLICT;
    int rc = db_user_find_by_id(db, u->id, &other);
    if (rc == 0 && strcmp(other.username, u->username) != 0) {
        db_user_dispose(&other);
        return ERR_CONFLICT;
    }
    db_user_dispose(&other);
    rc = db_user_find_by_username(db, u->username, &other);
    if (rc == 0 && other.id != u->id) {
        db_user_dispose(&other);
        return ERR_CONFLICT;
    }
    db_user_dispose(&other);
    if (rc != 0 && rc != ERR_NOT_FOUND)
        return rc;
    rc = db_user_find_by_id(db, u->id, &cur);
    if (rc == ERR_NOT_FOUND) {
        *st = DB_IMPORT_CREATED;
        email_put(emails, u->email, u->id);
        return 0;
    }
    if (rc != 0)
        return rc;
    const char *hash =
        strncmp(cur.password_hash, "$argon2", 7) == 0 ? cur.password_hash : u->password_hash;
    bool same = same_str(cur.username, u->username) && same_str(cur.email, u->email) &&
                same_str(cur.first_name, u->first_name) && same_str(cur.last_name, u->last_name) &&
                cur.role == u->role && cur.premium == u->premium && cur.is_active == u->is_active &&
                same_str(cur.password_hash, hash);
    *st = same ? DB_IMPORT_UNCHANGED : DB_IMPORT_UPDATED;
    email_put(emails, u->email, u->id);
    db_user_dispose(&cur);
    return 0;
}

/* See cli.h. */
void cli_import_django_help(FILE *out)
{
    fprintf(out,
            "usage: jwtd import-django --database URL [--table auth_user] [--staff-role ROLE]\n"
            "                          [--dry-run] [--verbose]\n\n"
            "Copies the users of a Django project into jwtd's database (JWTD_DATABASE_URL),\n"
            "keeping ids, usernames, emails, names, is_active, date_joined, last_login and\n"
            "the password hashes as they are (users log in with their old password and are\n"
            "rehashed to argon2id at the first login). is_superuser -> admin, is_staff ->\n"
            "--staff-role (default admin), others -> user; a custom user model's `role` and\n"
            "`premium` columns are used when present. URL: sqlite:PATH, sqlite:///abs/path,\n"
            "a path to the db.sqlite3 file, or postgresql://user:pass@host:port/db (read only).\n"
            "Idempotent: matched by id, re-running updates what changed and never duplicates;\n"
            "a user who already logged in to jwtd keeps jwtd's hash. Exit status 1 when a\n"
            "user had to be skipped (its id or username belongs to another jwtd user).\n"
            "See docs/migrating-from-django.md.\n\n");
    cli_print_opts(
        out, (const struct cli_opt[]){
                 {"database", 'd', CLI_OPT_STRING, NULL, "URL", "the Django database"},
                 {"table", 0, CLI_OPT_STRING, NULL, "NAME", "user table (auth_user)"},
                 {"staff-role", 0, CLI_OPT_STRING, NULL, "ROLE", "role of is_staff users (admin)"},
                 {"dry-run", 'n', CLI_OPT_FLAG, NULL, NULL, "report, write nothing"},
                 {"verbose", 'v', CLI_OPT_FLAG, NULL, NULL, "one line per user"},
                 CLI_OPT_END});
}

/* One run of the import: where it writes and what it counted. */
struct run {
    db_t *db;
    struct email_set emails;
    bool fresh, dry_run, verbose;
    enum db_role staff_role;
    int64_t now;
    struct stats n;
};

/* The current Django row as a jwtd user (strings point into the source's row). */
static void row_user(struct source *src, struct run *run, db_user_t *u)
{
    memset(u, 0, sizeof *u);
    u->id = col_int(src, C_ID);
    u->username = (char *)col_text(src, C_USERNAME);
    u->email = (char *)col_text(src, C_EMAIL);
    u->first_name = (char *)col_text(src, C_FIRST);
    u->last_name = (char *)col_text(src, C_LAST);
    u->is_active = col_int(src, C_ACTIVE) != 0;
    u->premium = col_int(src, C_PREMIUM) != 0;
    u->created_at = col_int(src, C_JOINED);
    u->last_login = col_int(src, C_LAST_LOGIN);
    const char *role = col_text(src, C_ROLE);
    if (db_role_parse(role, strlen(role), &u->role) != 0)
        u->role = col_int(src, C_SUPER)   ? DB_ROLE_ADMIN
                  : col_int(src, C_STAFF) ? run->staff_role
                                          : DB_ROLE_USER;
    const char *hash = col_text(src, C_PASSWORD);
    if (hash[0] == '!' || hash[0] == '\0') {
        hash = ""; /* Django's unusable password */
        run->n.unusable++;
    } else if (!known_hash_format(hash)) {
        run->n.unsupported++;
        fprintf(stderr,
                "jwtd import-django: user %lld (%s): unsupported password hash format; "
                "imported, but the user must reset the password\n",
                (long long)u->id, u->username);
    }
    u->password_hash = (char *)hash;
}

/* Imports (or, in a dry run, predicts) one user. */
static int import_user(struct run *run, db_user_t *u, enum db_import_status *st)
{
    if (run->fresh) { /* nothing in jwtd yet: only the run's own emails can collide */
        *st = DB_IMPORT_CREATED;
        int err = email_owner(&run->emails, u->email) ? ERR_CONFLICT : 0;
        email_put(&run->emails, u->email, u->id);
        return err;
    }
    return run->dry_run ? predict(run->db, &run->emails, u, st)
                        : db_user_import(run->db, u, run->now, st);
}

/*
 * One row: imported, retried without its email when only the email collides, or skipped.
 * Returns 0 (counted) or a database error that ends the run.
 */
static int import_row(struct source *src, struct run *run)
{
    static const char *const verbs[] = {"created", "updated", "unchanged"};
    db_user_t u;
    row_user(src, run, &u);
    enum db_import_status st = DB_IMPORT_UNCHANGED;
    int err = import_user(run, &u, &st);
    if (err == ERR_CONFLICT && run->fresh) {
        run->n.email_cleared++;
        err = 0;
    } else if (err == ERR_CONFLICT && u.email[0]) {
        /* the email (unique in jwtd, not in Django) or the username is taken */
        char *email = u.email;
        u.email = (char *)"";
        err = import_user(run, &u, &st);
        if (err == 0) {
            run->n.email_cleared++;
            fprintf(stderr,
                    "jwtd import-django: user %lld (%s): email %s belongs to another user "
                    "in jwtd; imported without an email\n",
                    (long long)u.id, u.username, email);
        }
    }
    if (err == ERR_CONFLICT || err == ERR_INVALID) {
        run->n.skipped++;
        fprintf(stderr, "jwtd import-django: user %lld (%s) skipped: %s\n", (long long)u.id,
                u.username,
                err == ERR_CONFLICT ? "its id or username belongs to another user in jwtd"
                                    : "invalid id or username (1..150 bytes)");
        return 0;
    }
    if (err != 0) {
        fprintf(stderr, "jwtd import-django: the jwtd database failed (%s) at user %lld\n",
                err_name(err), (long long)u.id);
        return err;
    }
    if (st == DB_IMPORT_CREATED)
        run->n.created++;
    else if (st == DB_IMPORT_UPDATED)
        run->n.updated++;
    else
        run->n.unchanged++;
    if (run->verbose)
        printf("%-9s %lld %s\n", verbs[st], (long long)u.id, u.username);
    return 0;
}

static void print_summary(const struct run *run, const struct source *src, const char *table)
{
    const struct stats *n = &run->n;
    bool dry = run->dry_run;
    printf("%s%u users read from %s (table %s)\n", dry ? "dry run: " : "", n->read,
           src->is_pg ? "PostgreSQL" : "SQLite", table);
    printf("  %s %u, %s %u, unchanged %u, skipped %u\n", dry ? "would create" : "created",
           n->created, dry ? "would update" : "updated", n->updated, n->unchanged, n->skipped);
    if (n->email_cleared || n->unusable || n->unsupported)
        printf("  without email (duplicate) %u, unusable passwords %u, unsupported hash "
               "formats %u\n",
               n->email_cleared, n->unusable, n->unsupported);
    if (dry)
        printf("  nothing was written\n");
}

/* Opens the Django source: the table must exist; its rows are then read in id order. */
static int open_source(const char *url, const char *table, struct source *src)
{
    bool has_role;
    char premium[16];
    if (source_open(url, src) != 0)
        return -1;
    if (table_columns(src, table, &has_role, premium, sizeof premium) != 0) {
        fprintf(stderr, "jwtd import-django: the Django database has no table %s\n", table);
        return -1;
    }
    return source_query(src, table, has_role, premium);
}

/* Reads every row into jwtd's database (opened here). Returns an exit status. */
static int import_all(root_t *r, struct source *src, struct run *run, const char *table)
{
    if (root_add(r, ROOT_DB | (run->dry_run ? 0 : ROOT_MIGRATE)) != 0)
        return CLI_EXIT_FAILURE;
    run->db = r->db;
    /* A dry run on a database that was never migrated: every user would be created. */
    int version = 0;
    run->fresh = run->dry_run && (db_schema_version(run->db, &version) != 0 || version == 0);
    if (run->dry_run && !run->fresh && email_set_load(run->db, &run->emails) != 0) {
        fprintf(stderr, "jwtd import-django: cannot read jwtd's users\n");
        return CLI_EXIT_FAILURE;
    }
    run->now = clock_now_s();
    int step;
    while ((step = source_next(src)) == 1) {
        run->n.read++;
        if (import_row(src, run) != 0)
            return CLI_EXIT_FAILURE;
    }
    if (step < 0)
        return CLI_EXIT_FAILURE;
    if (!run->dry_run) {
        char detail[160];
        snprintf(detail, sizeof detail, "read=%u created=%u updated=%u skipped=%u", run->n.read,
                 run->n.created, run->n.updated, run->n.skipped);
        audit_info(NULL, .event = "users_imported",
                   .outcome = run->n.skipped ? "partial" : "success", .reason = "django",
                   .detail = detail);
    }
    print_summary(run, src, table);
    return run->n.skipped ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
}

/* See cli.h. */
int cli_import_django(int argc, char **argv)
{
    const char *url = NULL, *table = "auth_user", *staff_role_name = "admin";
    struct run run = {0};
    const struct cli_opt opts[] = {
        {"database", 'd', CLI_OPT_STRING, &url, "URL", "the Django database"},
        {"table", 0, CLI_OPT_STRING, &table, "NAME", "user table (auth_user)"},
        {"staff-role", 0, CLI_OPT_STRING, &staff_role_name, "ROLE", "role of is_staff users"},
        {"dry-run", 'n', CLI_OPT_FLAG, &run.dry_run, NULL, "report, write nothing"},
        {"verbose", 'v', CLI_OPT_FLAG, &run.verbose, NULL, "one line per user"},
        CLI_OPT_END};
    struct cli_args args;
    int rc = cli_parse_opts(argc, argv, opts, &args);
    if (rc != 0)
        return rc;
    if (args.count || !url || !*url) {
        fprintf(stderr, "jwtd import-django: %s\n",
                args.count ? "unexpected argument" : "--database URL is required");
        return CLI_EXIT_USAGE;
    }
    if (!valid_identifier(table)) {
        fprintf(stderr, "jwtd import-django: --table must be a plain table name\n");
        return CLI_EXIT_USAGE;
    }
    if (db_role_parse(staff_role_name, strlen(staff_role_name), &run.staff_role) != 0) {
        fprintf(stderr, "jwtd import-django: --staff-role must be user, instructor or admin\n");
        return CLI_EXIT_USAGE;
    }
    root_t *r = NULL;
    struct source src;
    if ((rc = cli_root_open(argc, argv, 0, &r)) != 0)
        return rc;
    rc = open_source(url, table, &src) != 0 ? CLI_EXIT_FAILURE : import_all(r, &src, &run, table);
    email_set_dispose(&run.emails);
    source_close(&src);
    root_close(r);
    return rc;
}
