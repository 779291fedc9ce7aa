/*
 * migrate.c - `jwtd migrate` and `jwtd flush-expired`.
 *
 * These commands write the database directly and never talk to a running server. What a
 * running server must learn from them (revocations made by `user passwd`/`user disable`)
 * it learns from the database; see docs/internals.md "db".
 */
#define LOG_MODULE "cli"
#include <inttypes.h>
#include <stdlib.h>

#include "auth/auth.h"
#include "cli/cli.h"
#include "common/clock.h"
#include "common/err.h"
#include "db/db.h"
#include "runtime/errtab.h"

/* The two commands here take no option and no argument. */
#define NO_OPTIONS ((const struct cli_opt[]){CLI_OPT_END})

/* Checks that argv has nothing but --config and opens the root for parts. */
static int open_root(int argc, char **argv, unsigned parts, root_t **r)
{
    struct cli_args args;
    int rc = cli_parse_args(argc, argv, NO_OPTIONS, 0, NULL, &args);
    return rc != 0 ? rc : cli_root_open(argc, argv, parts, r);
}

/* Prints why cmd failed; CLI_EXIT_FAILURE. */
static int failed(const char *cmd, int err)
{
    fprintf(stderr, "jwtd %s: failed (%s)\n", cmd, err_name(err));
    return CLI_EXIT_FAILURE;
}

/* See cli.h. */
void cli_migrate_help(FILE *out)
{
    fprintf(out, "usage: jwtd migrate [--config FILE]\n\n"
                 "Applies the database migrations JWTD_DATABASE_URL lacks (each in its own\n"
                 "transaction) and prints the schema version. Safe to run repeatedly and while\n"
                 "a server runs; `jwtd serve` and the user commands also migrate at start.\n\n");
    cli_print_opts(out, NO_OPTIONS);
}

/* See cli.h. */
int cli_migrate(int argc, char **argv)
{
    root_t *r = NULL;
    int applied = 0, version = 0;
    int rc = open_root(argc, argv, ROOT_DB, &r);
    if (rc != 0)
        return rc;
    int err = db_migrate(r->db, &applied);
    if (err == 0)
        err = db_schema_version(r->db, &version);
    if (err != 0)
        rc = failed("migrate", err);
    else
        printf("database schema at version %d (%d migration%s applied)\n", version, applied,
               applied == 1 ? "" : "s");
    root_close(r);
    return rc;
}

/* See cli.h. */
void cli_flush_expired_help(FILE *out)
{
    fprintf(out, "usage: jwtd flush-expired [--config FILE]\n\n"
                 "Deletes what can no longer matter: expired refresh tokens, expired access-token\n"
                 "revocations, and sessions with no refresh token left whose last use or\n"
                 "revocation is older than the access-token lifetime + leeway (a revoked session\n"
                 "must outlive every access token it issued), deleted users' watermarks and\n"
                 "revocation-feed events past the same retention; then expired MFA challenges\n"
                 "(once outside the per-user attempt window), OAuth codes expired for an hour,\n"
                 "social sign-ins in progress that expired, e-mailed links expired for a day and\n"
                 "mails no longer pending and a week old. Prints the rows deleted per table.\n"
                 "A running server prunes its in-memory index by itself; this keeps the tables\n"
                 "small. Safe while it runs.\n\n");
    cli_print_opts(out, NO_OPTIONS);
}

/* ", N what" when n is not 0 (the tables that are usually empty stay out of the line). */
static void print_count(int64_t n, const char *what)
{
    if (n)
        printf(", %" PRId64 " %s", n, what);
}

/* See cli.h. */
int cli_flush_expired(int argc, char **argv)
{
    root_t *r = NULL;
    db_flush_stats_t st;
    auth_flush_stats_t as;
    int rc = open_root(argc, argv, ROOT_DB | ROOT_MIGRATE, &r);
    if (rc != 0)
        return rc;
    const auth_options_t *ao = &r->opt.auth;
    int64_t now = clock_now_s();
    int err = db_flush_expired(r->db, now, ao->access_lifetime_s + ao->leeway_s, &st);
    if (err == 0)
        err = auth_flush_expired(r->db, now, &as);
    if (err != 0) {
        rc = failed("flush-expired", err);
    } else {
        printf("deleted %u refresh tokens, %u access-token revocations, %u sessions",
               st.refresh_tokens, st.revoked_tokens, st.sessions);
        print_count(st.tombstones, "deleted users' watermarks"); /* db_user_delete */
        print_count(st.revocation_events, "revocation-feed events");
        print_count(as.mfa_challenges, "MFA challenges");
        print_count(as.oauth_codes, "OAuth codes");
        print_count(as.oidc_states, "social sign-in states");
        print_count(as.email_tokens, "e-mailed links");
        print_count(as.mail_outbox, "mails");
        printf("\n");
    }
    root_close(r);
    return rc;
}
