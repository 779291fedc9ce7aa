/*
 * verifier.c - `jwtd verifier create NAME`, `jwtd verifier list`, `jwtd verifier delete NAME`:
 * the keys with which resource servers read the revocation feed (GET /auth/revocations and
 * /auth/revocations/stream). A key is printed once, at creation; the database keeps its
 * SHA-256 only. Like every command, it works on the database: a running server sees a new
 * or deleted verifier at the next feed connection.
 */
#define LOG_MODULE "cli"
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "auth/auth.h"
#include "cli/cli.h"
#include "common/clock.h"
#include "common/err.h"
#include "runtime/errtab.h"

/* See cli.h. */
void cli_verifier_help(FILE *out)
{
    fprintf(out,
            "usage: jwtd verifier create NAME | list | delete NAME [--config FILE]\n\n"
            "Manages the keys of resource servers that follow the revocation feed\n"
            "(GET /auth/revocations/stream, Authorization: Bearer KEY).\n"
            "  create NAME   creates verifier NAME and prints its key once (only a hash of it\n"
            "                is stored: a lost key is replaced by deleting and creating again)\n"
            "  list          prints every verifier: id, name, created, last used\n"
            "  delete NAME   deletes verifier NAME: its key is refused from then on\n\n");
    cli_print_opts(out, (const struct cli_opt[]){CLI_OPT_END});
}

static void print_time(int64_t t)
{
    if (t <= 0) {
        printf("-");
        return;
    }
    time_t tt = (time_t)t;
    struct tm tm;
    char s[32];
    gmtime_r(&tt, &tm);
    strftime(s, sizeof s, "%Y-%m-%dT%H:%M:%SZ", &tm);
    printf("%s", s);
}

static int run(root_t *r, const char *sub, const char *name)
{
    if (strcmp(sub, "create") == 0) {
        char key[AUTH_VERIFIER_KEY_MAX];
        int rc = auth_verifier_create(r->auth, name, clock_now_s(), key);
        if (rc == 0) {
            printf("%s\n", key);
            fflush(stdout);
            OPENSSL_cleanse(key, sizeof key);
            fprintf(stderr, "verifier %s created: the key above is shown only this once\n", name);
            return CLI_EXIT_OK;
        }
        if (rc == ERR_CONFLICT)
            fprintf(stderr, "jwtd verifier create: a verifier named %s exists\n", name);
        else if (rc == ERR_INVALID)
            fprintf(stderr, "jwtd verifier create: a name is 1 to 100 characters, no control "
                            "characters\n");
        else
            fprintf(stderr, "jwtd verifier create: failed (%s)\n", err_name(rc));
        return CLI_EXIT_FAILURE;
    }
    if (strcmp(sub, "delete") == 0) {
        int rc = auth_verifier_delete(r->auth, name);
        if (rc == 0) {
            printf("verifier %s deleted\n", name);
            return CLI_EXIT_OK;
        }
        if (rc == ERR_NOT_FOUND)
            fprintf(stderr, "jwtd verifier delete: no such verifier: %s\n", name);
        else
            fprintf(stderr, "jwtd verifier delete: failed (%s)\n", err_name(rc));
        return CLI_EXIT_FAILURE;
    }
    auth_verifier_list_t l;
    int rc = auth_verifier_list(r->auth, &l);
    if (rc != 0) {
        fprintf(stderr, "jwtd verifier list: failed (%s)\n", err_name(rc));
        return CLI_EXIT_FAILURE;
    }
    printf("%-6s %-32s %-20s %s\n", "ID", "NAME", "CREATED", "LAST USED");
    for (size_t i = 0; i < l.count; i++) {
        printf("%-6" PRId64 " %-32s ", l.items[i].id, l.items[i].name);
        print_time(l.items[i].created_at);
        printf(" ");
        print_time(l.items[i].last_used_at);
        printf("\n");
    }
    auth_verifier_list_dispose(&l);
    return CLI_EXIT_OK;
}

/* See cli.h. */
int cli_verifier(int argc, char **argv)
{
    struct cli_args args;
    const struct cli_opt opts[] = {CLI_OPT_END};
    int rc = cli_parse_opts(argc, argv, opts, &args);
    if (rc != 0)
        return rc;
    const char *sub = args.count ? args.v[0] : NULL;
    bool named = sub && (strcmp(sub, "create") == 0 || strcmp(sub, "delete") == 0);
    if (!sub || (named && args.count != 2) ||
        (!named && (strcmp(sub, "list") != 0 || args.count != 1))) {
        cli_verifier_help(stderr);
        return CLI_EXIT_USAGE;
    }
    root_t *r;
    if ((rc = cli_root_open(argc, argv, ROOT_AUTH | ROOT_MIGRATE, &r)) != 0)
        return rc;
    rc = run(r, sub, named ? args.v[1] : NULL);
    root_close(r);
    return rc;
}
