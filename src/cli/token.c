/*
 * token.c - `jwtd token issue --user NAME` and `jwtd revoke --user NAME`.
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
#include "cli/cli.h"
#include "common/clock.h"
#include "common/err.h"
#include "db/db.h"
#include "runtime/audit.h"
#include "runtime/errtab.h"

/* The one option of `token issue` and `revoke`: --user NAME (required); output to *user. */
#define USER_OPTION(user)                                                                          \
    {                                                                                              \
        "user", 'u', CLI_OPT_STRING, (user), "NAME", "the user (username)"                         \
    }

static void print_user_option(FILE *out)
{
    cli_print_opts(out, (const struct cli_opt[]){USER_OPTION(NULL), CLI_OPT_END});
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
    print_user_option(out);
    fputc('\n', out);
    cli_token_keys_help(out);
}

/* Parses the one option of `token issue` and `revoke`: --user NAME (required). */
static int user_option(int argc, char **argv, const char *cmd, const char **user)
{
    const struct cli_opt opts[] = {USER_OPTION(user), CLI_OPT_END};
    struct cli_args args;
    int rc = cli_parse_opts(argc, argv, opts, &args);
    if (rc == 0 && (!*user || args.count)) {
        fprintf(stderr, "jwtd %s: expected --user NAME\n", cmd);
        rc = CLI_EXIT_USAGE;
    }
    return rc;
}

static int token_issue(int argc, char **argv, char **full_argv, int full_argc)
{
    const char *user = NULL;
    int rc = user_option(argc, argv, "token issue", &user);
    if (rc != 0)
        return rc;
    root_t *r;
    if ((rc = cli_root_open(full_argc, full_argv, ROOT_AUTH, &r)) != 0)
        return rc;
    auth_pair_t *p = calloc(1, sizeof *p);
    auth_client_t client = {.ip = "cli", .user_agent = "jwtd token issue"};
    rc = p ? auth_issue_for_user(r->auth, user, &client, clock_now_s(), p) : ERR_NOMEM;
    if (rc == 0)
        audit_info(NULL, .event = "token_issued", .outcome = "success", .user_id = p->user_id,
                   .username = user, .sid = p->sid);
    else
        audit_warn(NULL, .event = "token_issued", .outcome = "failure", .username = user,
                   .reason = rc == ERR_NOT_FOUND           ? "no_such_user"
                             : rc == ERR_NO_ACTIVE_ACCOUNT ? "inactive"
                                                           : "error");
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
    root_close(r);
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
    return token_issue(argc - 1, argv + 1, argv, argc);
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
    print_user_option(out);
}

/* See cli.h. */
int cli_revoke(int argc, char **argv)
{
    const char *user = NULL;
    int rc = user_option(argc, argv, "revoke", &user);
    if (rc != 0)
        return rc;
    root_t *r;
    if ((rc = cli_root_open(argc, argv, ROOT_DB | ROOT_MIGRATE, &r)) != 0)
        return rc;
    db_t *db = r->db;
    db_user_t u;
    memset(&u, 0, sizeof u);
    uint32_t n = 0;
    rc = db_user_find_by_username(db, user, &u);
    if (rc == 0)
        rc = db_user_revoke_all(db, u.id, clock_now_s(), &n);
    char detail[32];
    snprintf(detail, sizeof detail, "sessions=%u", n);
    if (rc == 0)
        audit_info(NULL, .event = "user_revoked", .outcome = "success", .user_id = u.id,
                   .username = user, .detail = detail);
    else
        audit_warn(NULL, .event = "user_revoked", .outcome = "failure", .username = user,
                   .reason = rc == ERR_NOT_FOUND || rc == ERR_INVALID ? "no_such_user" : "error");
    if (rc == 0)
        printf("revoked %u session(s) of %s (user id %" PRId64 ")\n", n, user, u.id);
    else if (rc == ERR_NOT_FOUND || rc == ERR_INVALID)
        fprintf(stderr, "jwtd revoke: no such user: %s\n", user);
    else
        fprintf(stderr, "jwtd revoke: failed (%s)\n", err_name(rc));
    db_user_dispose(&u);
    root_close(r);
    return rc == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
}
