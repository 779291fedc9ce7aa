/*
 * main.c - the process-wide start: a private umask, then argv dispatch (every subcommand
 * lives in src/cli/).
 */
#include <sys/stat.h>

#include "cli/cli.h"

int main(int argc, char **argv)
{
    /* Whatever jwtd creates (database, keys, uploads, logs, directories) is the service
       user's alone; the explicit modes at each creation say the same. */
    umask(077);
    return cli_main(argc, argv);
}
