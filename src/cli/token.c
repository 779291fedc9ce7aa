/*
 * token.c - `jwtd token issue --user NAME` and `jwtd revoke --user NAME`, plus
 * cli_auth_open(), the wiring that turns struct cfg into the token service (database, key
 * ring, auth_t) for these commands and for `jwtd serve`.
 *
 * Both commands work on the database directly and never talk to a running server: a
 * server learns about `revoke` through its revocation poll (docs/internals.md "store"),
 * and a token from `token issue` is an ordinary session that any server verifies.
 */
#define LOG_MODULE "cli"
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "auth/keys.h"
#include "cli/cli.h"
#include "common/clock.h"
#include "common/err.h"
#include "config/config.h"
#include "db/db.h"
#include "runtime/errtab.h"

/* See cli.h. */
int cli_auth_open(const struct cfg *cfg, bool serving, struct cli_auth *out)
{
    char err[512];
    memset(out, 0, sizeof *out);
    if (serving) {
        db_options_t dbo = {0};
        dbo.max_connections = cfg->pool_threads ? cfg->pool_threads + 2 : 0;
        int rc = db_open(cfg->database_url, &dbo, &out->db, err, sizeof err);
        if (rc == 0 && (rc = db_migrate(out->db, NULL)) != 0)
            snprintf(err, sizeof err, "migration failed (%s)", err_name(rc));
        if (rc != 0) {
            fprintf(stderr, "jwtd: cannot open the database: %s\n", err);
            goto fail;
        }
    } else if (cli_db_open(cfg, true, &out->db) != CLI_EXIT_OK) {
        goto fail;
    }
    jose_keyring_t *ring = NULL;
    if (auth_keys_load(cfg, &ring, err, sizeof err) != 0) {
        fprintf(stderr, "jwtd: configuration error: %s\n", err);
        goto fail;
    }
    out->ring = ring;
    jwtv_options vopt;
    auth_keys_verify_options(cfg, ring, &vopt);
    auth_options_t o;
    auth_options_defaults(&o);
    o.access_lifetime_s = cfg->access_token_lifetime_s;
    o.refresh_lifetime_s = cfg->refresh_token_lifetime_s;
    o.rotate_refresh_tokens = cfg->rotate_refresh_tokens;
    o.reuse_grace_s = cfg->refresh_reuse_grace_s;
    o.leeway_s = cfg->leeway_s;
    o.issuer = cfg->issuer;
    o.audience = cfg->audience;
    o.argon2.memory_kib = cfg->argon2_memory_kib;
    o.argon2.iterations = cfg->argon2_iterations;
    o.argon2.parallelism = cfg->argon2_parallelism;
    o.user_cache_ttl_s = cfg->user_cache_ttl_s;
    o.hash_dummy = serving;
    int rc = auth_new(&o, out->db, ring, &vopt, &out->auth);
    if (rc != 0) {
        fprintf(stderr, "jwtd: cannot start the token service (%s)\n", err_name(rc));
        goto fail;
    }
    if (serving && (rc = auth_start(out->auth)) != 0) {
        fprintf(stderr, "jwtd: cannot load the revocation index from the database (%s)\n",
                err_name(rc));
        goto fail;
    }
    return CLI_EXIT_OK;
fail:
    cli_auth_close(out);
    return CLI_EXIT_FAILURE;
}

/* See cli.h. */
void cli_auth_close(struct cli_auth *ca)
{
    auth_free(ca->auth);
    jose_keyring_release(ca->ring);
    db_close(ca->db);
    memset(ca, 0, sizeof *ca);
}

/* ---- jwtd token issue ---------------------------------------------------------------------- */

/* See cli.h. */
void cli_token_help(FILE *out)
{
    fprintf(out, "usage: jwtd token issue --user NAME [--config FILE]\n\n"
                 "Creates a session for user NAME as a login would, without the password, and\n"
                 "prints {\"refresh\": ..., \"access\": ...} as JSON on stdout. The tokens are\n"
                 "signed with the configured key (JWTD_SECRET_KEY / JWTD_SIGNING_KEY_FILE, or\n"
                 "the development key in JWTD_DATA_DIR), so a server with the same\n"
                 "configuration accepts them. Exit status 1 when the user does not exist or is\n"
                 "inactive.\n\n");
    cli_print_opts(out, (const struct cli_opt[]){
                            {"user", 'u', CLI_OPT_STRING, NULL, "NAME", "the user (username)"},
                            CLI_OPT_END,
                        });
    fputc('\n', out);
    cli_token_keys_help(out);
}

static int token_issue(int argc, char **argv, const struct cfg *cfg)
{
    const char *user = NULL;
    const struct cli_opt opts[] = {
        {"user", 'u', CLI_OPT_STRING, &user, "NAME", "the user (username)"},
        CLI_OPT_END,
    };
    struct cli_args args;
    int rc = cli_parse_opts(argc, argv, opts, &args);
    if (rc != 0)
        return rc;
    if (!user || args.count) {
        fprintf(stderr, "jwtd token issue: expected --user NAME\n");
        return CLI_EXIT_USAGE;
    }
    struct cli_auth ca;
    if (cli_auth_open(cfg, false, &ca) != CLI_EXIT_OK)
        return CLI_EXIT_FAILURE;
    auth_pair_t *p = calloc(1, sizeof *p);
    auth_client_t client = {"cli", "jwtd token issue", NULL};
    rc = p ? auth_issue_for_user(ca.auth, user, &client, clock_now_s(), p) : ERR_NOMEM;
    if (rc == 0) {
        printf("{\"refresh\":\"%.*s\",\"access\":\"%.*s\"}\n", (int)p->refresh_len, p->refresh,
               (int)p->access_len, p->access);
    } else if (rc == ERR_NOT_FOUND) {
        fprintf(stderr, "jwtd token issue: no such user: %s\n", user);
    } else if (rc == ERR_NO_ACTIVE_ACCOUNT) {
        fprintf(stderr, "jwtd token issue: user %s is inactive\n", user);
    } else {
        fprintf(stderr, "jwtd token issue: failed (%s)\n", err_name(rc));
    }
    auth_pair_dispose(p);
    free(p);
    cli_auth_close(&ca);
    return rc == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
}

/* See cli.h. */
int cli_token(int argc, char **argv)
{
    if (argc < 2) {
        cli_token_help(stderr);
        return CLI_EXIT_USAGE;
    }
    if (strcmp(argv[1], "inspect") == 0 || strcmp(argv[1], "verify") == 0 ||
        strcmp(argv[1], "sign") == 0)
        return cli_token_keys(argc, argv); /* keys.c */
    if (strcmp(argv[1], "issue") != 0) {
        fprintf(stderr, "jwtd token: unknown subcommand %s (issue, inspect, verify, sign)\n",
                argv[1]);
        return CLI_EXIT_USAGE;
    }
    struct cfg cfg;
    int rc = cli_load_config(argc, argv, &cfg);
    if (rc != 0)
        return rc;
    rc = token_issue(argc - 1, argv + 1, &cfg);
    cfg_dispose(&cfg);
    return rc;
}

/* ---- jwtd revoke ---------------------------------------------------------------------------- */

/* See cli.h. */
void cli_revoke_help(FILE *out)
{
    fprintf(out,
            "usage: jwtd revoke --user NAME [--config FILE]\n\n"
            "Revokes every session of user NAME and raises the user's revocation watermark\n"
            "(tokens issued before now are rejected), in one database transaction. Running\n"
            "servers on the same database apply it within their revocation poll interval\n"
            "(1 s); refresh tokens are refused at once (they are checked in the database).\n\n");
    cli_print_opts(out, (const struct cli_opt[]){
                            {"user", 'u', CLI_OPT_STRING, NULL, "NAME", "the user (username)"},
                            CLI_OPT_END,
                        });
}

/* See cli.h. */
int cli_revoke(int argc, char **argv)
{
    const char *user = NULL;
    const struct cli_opt opts[] = {
        {"user", 'u', CLI_OPT_STRING, &user, "NAME", "the user (username)"},
        CLI_OPT_END,
    };
    struct cli_args args;
    int rc = cli_parse_opts(argc, argv, opts, &args);
    if (rc != 0)
        return rc;
    if (!user || args.count) {
        fprintf(stderr, "jwtd revoke: expected --user NAME\n");
        return CLI_EXIT_USAGE;
    }
    struct cfg cfg;
    if ((rc = cli_load_config(argc, argv, &cfg)) != 0)
        return rc;
    db_t *db = NULL;
    if (cli_db_open(&cfg, true, &db) != CLI_EXIT_OK) {
        cfg_dispose(&cfg);
        return CLI_EXIT_FAILURE;
    }
    db_user_t u;
    memset(&u, 0, sizeof u);
    uint32_t n = 0;
    rc = db_user_find_by_username(db, user, &u);
    if (rc == 0)
        rc = db_user_revoke_all(db, u.id, clock_now_s(), &n);
    if (rc == 0)
        printf("revoked %u session(s) of %s (user id %" PRId64 ")\n", n, user, u.id);
    else if (rc == ERR_NOT_FOUND || rc == ERR_INVALID)
        fprintf(stderr, "jwtd revoke: no such user: %s\n", user);
    else
        fprintf(stderr, "jwtd revoke: failed (%s)\n", err_name(rc));
    db_user_dispose(&u);
    db_close(db);
    cfg_dispose(&cfg);
    return rc == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
}
