/*
 * migrate.c - `jwtd migrate` and `jwtd flush-expired`.
 *
 * These commands write the database directly and never talk to a running server. What a
 * running server must learn from them (revocations made by `user passwd`/`user disable`)
 * it learns from the database; see docs/internals.md "db".
 */
#define LOG_MODULE "cli"
#include <stdlib.h>

#include "cli/cli.h"
#include "common/clock.h"
#include "common/err.h"
#include "db/db.h"
#include "runtime/errtab.h"

/* See cli.h. */
void cli_migrate_help(FILE *out)
{
    fprintf(out, "usage: jwtd migrate [--config FILE]\n\n"
                 "Applies the database migrations JWTD_DATABASE_URL lacks (each in its own\n"
                 "transaction) and prints the schema version. Safe to run repeatedly and while\n"
                 "a server runs; `jwtd serve` and the user commands also migrate at start.\n\n");
    cli_print_opts(out, (const struct cli_opt[]){CLI_OPT_END});
}

/* See cli.h. */
int cli_migrate(int argc, char **argv)
{
    struct cli_args args;
    root_t *r = NULL;
    int applied = 0, version = 0;
    int rc = cli_parse_args(argc, argv, (const struct cli_opt[]){CLI_OPT_END}, 0, NULL, &args);
    if (rc != 0)
        return rc;
    if ((rc = cli_root_open(argc, argv, ROOT_DB, &r)) != 0)
        return rc;
    int err = db_migrate(r->db, &applied);
    if (err == 0)
        err = db_schema_version(r->db, &version);
    if (err != 0) {
        fprintf(stderr, "jwtd migrate: failed (%s)\n", err_name(err));
        rc = CLI_EXIT_FAILURE;
        goto out;
    }
    printf("database schema at version %d (%d migration%s applied)\n", version, applied,
           applied == 1 ? "" : "s");
out:
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
                 "must outlive every access token it issued). A running server prunes its\n"
                 "in-memory index by itself; this keeps the tables small. Safe while it runs.\n\n");
    cli_print_opts(out, (const struct cli_opt[]){CLI_OPT_END});
}

/* See cli.h. */
int cli_flush_expired(int argc, char **argv)
{
    struct cli_args args;
    root_t *r = NULL;
    db_flush_stats_t st;
    int rc = cli_parse_args(argc, argv, (const struct cli_opt[]){CLI_OPT_END}, 0, NULL, &args);
    if (rc != 0)
        return rc;
    if ((rc = cli_root_open(argc, argv, ROOT_DB | ROOT_MIGRATE, &r)) != 0)
        return rc;
    const auth_options_t *ao = &r->opt.auth;
    int err = db_flush_expired(r->db, clock_now_s(), ao->access_lifetime_s + ao->leeway_s, &st);
    if (err != 0) {
        fprintf(stderr, "jwtd flush-expired: failed (%s)\n", err_name(err));
        rc = CLI_EXIT_FAILURE;
        goto out;
    }
    printf("deleted %u refresh tokens, %u access-token revocations, %u sessions\n",
           st.refresh_tokens, st.revoked_tokens, st.sessions);
out:
    root_close(r);
    return rc;
}
