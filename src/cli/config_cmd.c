/*
 * config_cmd.c - `jwtd config`: prints the effective configuration (every variable of the
 * table as JWTD_X=value, secrets redacted), or with --markdown the configuration reference
 * that docs/config.md is generated from.
 */
#include <string.h>

#include "cli/cli.h"

/* See cli.h. */
void cli_config_help(FILE *out)
{
    fprintf(out, "usage: jwtd config [--config FILE] [--markdown]\n\n"
                 "Prints the effective configuration, one JWTD_NAME=value line per variable,\n"
                 "after applying the defaults, then FILE, then the environment (the environment\n"
                 "wins). Secrets print as <redacted> or <unset>, URL passwords as <redacted>.\n"
                 "Exits 1 with a message naming the variable when a value is invalid.\n\n");
    fprintf(out, "options:\n"
                 "  --config FILE            read KEY=VALUE settings from FILE\n"
                 "  --markdown               print the reference table (docs/config.md) instead\n"
                 "  -h, --help               show this help\n");
}

/* See cli.h. */
int cli_config(int argc, char **argv)
{
    bool markdown = false;
    const char *config_path = NULL;
    const struct cli_opt opts[] = {
        {"markdown", 0, CLI_OPT_FLAG, &markdown, NULL, "print the reference table instead"},
        {"config", 0, CLI_OPT_STRING, &config_path, "FILE", "read KEY=VALUE settings from FILE"},
        CLI_OPT_END,
    };
    struct cli_args args;
    int rc = cli_parse_args(argc, argv, opts, 0, NULL, &args);
    if (rc != 0)
        return rc;
    fflush(stdout);
    if (markdown) {
        root_print_config_reference(1);
        return CLI_EXIT_OK;
    }
    root_t *r;
    if ((rc = cli_root_open(argc, argv, 0, &r)) != 0)
        return rc;
    root_print_config(r, 1);
    root_close(r);
    return CLI_EXIT_OK;
}
