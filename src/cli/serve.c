/*
 * serve.c - `jwtd serve`: opens the composition root for serving and runs the server
 * (root_serve: the request layer, the resource wing, the HTTP server) until SIGTERM/SIGINT.
 */
#define LOG_MODULE "serve"
#include <signal.h>

#include "cli/cli.h"

/* See cli.h. */
void cli_serve_help(FILE *out)
{
    fprintf(out, "usage: jwtd serve [--config FILE]\n\n"
                 "Runs the HTTP server on JWTD_LISTEN with JWTD_WORKERS event loops and prints\n"
                 "\"jwtd listening on http://HOST:PORT\" once it accepts connections. SIGTERM or\n"
                 "SIGINT stop it gracefully (in-flight requests finish, bounded by the shutdown\n"
                 "timeout) and exit 0. SIGHUP never stops it: it reopens the log files of\n"
                 "JWTD_LOG_DIR. With JWTD_PID_FILE it writes its process id there once\n"
                 "listening. Configuration: defaults, then FILE, then the environment.\n\n");
    fprintf(out, "options:\n"
                 "  --config FILE            read KEY=VALUE settings from FILE\n"
                 "  -h, --help               show this help\n");
}

/* See cli.h. */
int cli_serve(int argc, char **argv)
{
    const struct cli_opt opts[] = {CLI_OPT_END};
    struct cli_args args;
    int rc = cli_parse_args(argc, argv, opts, 0, NULL, &args);
    if (rc != 0)
        return rc;
    /* From now on a reload request (systemctl reload, logrotate) never ends the process; the
       server answers SIGHUP once it runs. */
    signal(SIGHUP, SIG_IGN);
    root_t *r;
    if ((rc = cli_root_open(argc, argv, ROOT_AUTH | ROOT_SERVE, &r)) != 0)
        return rc;
    rc = root_serve(r);
    root_close(r);
    return rc == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
}
