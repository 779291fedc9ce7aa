/*
 * migrate.c - `jwtd migrate` and `jwtd flush-expired`, plus cli_db_open(), the one way
 * admin commands open the database (so every command migrates the same way).
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
#include "config/config.h"
#include "db/db.h"
#include "runtime/errtab.h"

/* See cli.h. */
int cli_db_open(const struct cfg *cfg, bool migrate, db_t **out)
{
    char err[256];
    db_options_t opts = {.max_connections = 2};
    int rc = db_open(cfg->database_url, &opts, out, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "jwtd: cannot open the database: %s\n", err[0] ? err : err_message(rc));
        return CLI_EXIT_FAILURE;
    }
    if (migrate) {
        rc = db_migrate(*out, NULL);
        if (rc != 0) {
            fprintf(stderr, "jwtd: database migration failed (%s)\n", err_name(rc));
            db_close(*out);
            *out = NULL;
            return CLI_EXIT_FAILURE;
        }
    }
    return CLI_EXIT_OK;
}

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
    struct cfg cfg;
    db_t *db = NULL;
    int applied = 0, version = 0;
    int rc = cli_parse_opts(argc, argv, (const struct cli_opt[]){CLI_OPT_END}, &args);
    if (rc != 0)
        return rc;
    if (args.count) {
        fprintf(stderr, "jwtd migrate: unexpected argument %s\n", args.v[0]);
        return CLI_EXIT_USAGE;
    }
    if ((rc = cli_load_config(argc, argv, &cfg)) != 0)
        return rc;
    if ((rc = cli_db_open(&cfg, false, &db)) != 0)
        goto out;
    int err = db_migrate(db, &applied);
    if (err == 0)
        err = db_schema_version(db, &version);
    if (err != 0) {
        fprintf(stderr, "jwtd migrate: failed (%s)\n", err_name(err));
        rc = CLI_EXIT_FAILURE;
        goto out;
    }
    printf("database schema at version %d (%d migration%s applied)\n", version, applied,
           applied == 1 ? "" : "s");
out:
    db_close(db);
    cfg_dispose(&cfg);
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
    struct cfg cfg;
    db_t *db = NULL;
    db_flush_stats_t st;
    int rc = cli_parse_opts(argc, argv, (const struct cli_opt[]){CLI_OPT_END}, &args);
    if (rc != 0)
        return rc;
    if (args.count) {
        fprintf(stderr, "jwtd flush-expired: unexpected argument %s\n", args.v[0]);
        return CLI_EXIT_USAGE;
    }
    if ((rc = cli_load_config(argc, argv, &cfg)) != 0)
        return rc;
    if ((rc = cli_db_open(&cfg, true, &db)) != 0)
        goto out;
    int err = db_flush_expired(db, clock_now_s(), cfg.access_token_lifetime_s + cfg.leeway_s, &st);
    if (err != 0) {
        fprintf(stderr, "jwtd flush-expired: failed (%s)\n", err_name(err));
        rc = CLI_EXIT_FAILURE;
        goto out;
    }
    printf("deleted %u refresh tokens, %u access-token revocations, %u sessions\n",
           st.refresh_tokens, st.revoked_tokens, st.sessions);
out:
    db_close(db);
    cfg_dispose(&cfg);
    return rc;
}
