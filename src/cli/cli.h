/*
 * cli.h - the jwtd command dispatcher and the subcommands it knows.
 *
 * `jwtd <command> [args]`: each command is one row of the table in cli.c (name, one-line
 * summary, entry point, help printer). A command returns the process exit status.
 */
#ifndef JWTD_CLI_H
#define JWTD_CLI_H

#include <stdio.h>

/* Entry point of a subcommand: argv[0] is the command name. Returns the exit status. */
typedef int (*cli_cmd_fn)(int argc, char **argv);

struct cli_command {
    const char *name;
    const char *summary;
    cli_cmd_fn run;
    void (*help)(FILE *out);
};

/* Runs the command named by argv[1]; prints usage on --help, no command or an unknown one. */
int cli_main(int argc, char **argv);

#endif
