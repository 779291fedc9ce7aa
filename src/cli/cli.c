/*
 * cli.c - the command table and dispatcher (see cli.h). TEMPORARY skeleton: replaced by
 * the config/CLI work.
 */
#include "cli/cli.h"

#include <string.h>

static int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("jwtd 0.1.0\n");
    return 0;
}

static const struct cli_command commands[] = {
    {"version", "print the version", cmd_version, NULL},
};

/* See cli.h. */
int cli_main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: jwtd <command>\n");
        return 2;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "jwtd: unknown command %s\n", argv[1]);
    return 2;
}
