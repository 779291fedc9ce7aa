/*
 * check.c - `jwtd check`: validates the configuration, the keys, the database and Redis
 * the way `jwtd serve` would use them, without starting anything or writing any file (the
 * checks are root_check's).
 */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

/* See cli.h. */
void cli_check_help(FILE *out)
{
    fprintf(out, "usage: jwtd check [--config FILE]\n\n"
                 "Checks what `jwtd serve` needs, like `nginx -t`, and prints one line per check,\n"
                 "\"NAME: ok\" or \"NAME: <problem>\":\n"
                 "  config    the settings (defaults, then FILE, then the environment)\n"
                 "  keys      the signing and trusted keys, loaded as serve loads them; a missing\n"
                 "            development key is noted, never generated\n"
                 "  logs      JWTD_LOG_DIR is a writable directory (when set)\n"
                 "  database  JWTD_DATABASE_URL opens read-only and its schema version is known\n"
                 "            (pending migrations are noted); a missing SQLite file is a problem\n"
                 "  clients   no OpenID Connect client is registered while the signing key is an\n"
                 "            HMAC key (serve refuses to start then: ID tokens need an\n"
                 "            asymmetric key)\n"
                 "  redis     JWTD_REDIS_URL answers a PING within 1 s (when set)\n"
                 "  smtp      JWTD_SMTP_URL accepts a connection: EHLO, STARTTLS or TLS as\n"
                 "            configured (certificate verified), AUTH when a user is set; no\n"
                 "            mail is sent (when set)\n"
                 "  oidc      the social sign-in providers' client secret files (when set)\n"
                 "Creates and writes nothing. Exits 0 when every check is ok, 1 otherwise (the\n"
                 "last line names the failed checks), 2 on bad arguments.\n\n");
    cli_print_opts(out, (const struct cli_opt[]){CLI_OPT_END});
}

/* See cli.h. */
int cli_check(int argc, char **argv)
{
    const struct cli_opt opts[] = {CLI_OPT_END};
    struct cli_args args;
    int rc = cli_parse_args(argc, argv, opts, 0, NULL, &args);
    if (rc != 0)
        return rc;
    char *buf = NULL;
    size_t len = 0;
    FILE *lines = open_memstream(&buf, &len);
    if (!lines) {
        fprintf(stderr, "jwtd check: out of memory\n");
        return CLI_EXIT_FAILURE;
    }
    int problems = root_check(argc, argv, lines);
    fclose(lines);
    if (problems < 0) {
        free(buf);
        return CLI_EXIT_USAGE;
    }
    fputs(buf, stdout);
    if (problems == 0) {
        printf("jwtd check: ok\n");
    } else { /* the names of the failed checks: each line not "NAME: ok" */
        printf("jwtd check: %d problem%s:", problems, problems == 1 ? "" : "s");
        for (const char *line = buf; *line;) {
            const char *end = strchr(line, '\n'), *colon = strchr(line, ':');
            if (colon && (!end || colon < end) && strncmp(colon, ": ok", 4) != 0)
                printf(" %.*s", (int)(colon - line), line);
            line = end ? end + 1 : line + strlen(line);
        }
        printf("\n");
    }
    free(buf);
    return problems == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
}
