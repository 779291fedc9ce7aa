/*
 * main.c - argv dispatch only: every subcommand lives in src/cli/.
 */
#include "cli/cli.h"

int main(int argc, char **argv)
{
    return cli_main(argc, argv);
}
