/*
 * cli.h - the jwtd command dispatcher, the helpers every subcommand shares, and the entry
 * points of the subcommands.
 *
 * `jwtd <command> [args]`: each command is one row of CLI_COMMANDS below (name, entry-point
 * stem, one-line summary), which declares its entry point and help printer and makes the
 * table of cli.c. Adding a command = write `int cli_STEM(int argc, char **argv)` and
 * `void cli_STEM_help(FILE *out)` in src/cli/STEM.c and add its row.
 *
 * The dispatcher handles `jwtd --help`, `jwtd help CMD`, `jwtd CMD --help` / `-h` (any
 * argument before `--`) and unknown commands, so a command's run function never sees
 * --help. A command returns the process exit status: CLI_EXIT_OK, CLI_EXIT_FAILURE (the
 * operation failed: bad config, token invalid, ...) or CLI_EXIT_USAGE (bad arguments).
 *
 * A typical command:
 *
 *     int cli_keygen(int argc, char **argv)
 *     {
 *         const char *alg = "ES256", *out = NULL;
 *         bool force = false;
 *         const struct cli_opt opts[] = {
 *             {"alg", 'a', CLI_OPT_STRING, &alg, "ALG", "signing algorithm"},
 *             {"out", 'o', CLI_OPT_STRING, &out, "FILE", "where to write the key"},
 *             {"force", 0, CLI_OPT_FLAG, &force, NULL, "overwrite FILE"},
 *             CLI_OPT_END,
 *         };
 *         struct cli_args args;
 *         int rc = cli_parse_opts(argc, argv, opts, &args);
 *         if (rc != 0)
 *             return rc;                  // message already printed; CLI_EXIT_USAGE
 *         root_t *r;
 *         if ((rc = cli_root_open(argc, argv, ROOT_KEYS, &r)) != 0)
 *             return rc;                  // message already printed
 *         ...                             // r->ring, r->opt, ...
 *         root_close(r);
 *         return CLI_EXIT_OK;
 *     }
 *
 * Every command accepts `--config FILE` (cli_parse_opts skips it unless the command's
 * table names "config" itself; the composition root reads it). Commands never read the
 * configuration themselves: they open a root (src/root/root.h) for the parts they need.
 */
#ifndef JWTD_CLI_H
#define JWTD_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "common/version.h"
#include "root/root.h"

/* Exit statuses of commands. */
#define CLI_EXIT_OK      0
#define CLI_EXIT_FAILURE 1
#define CLI_EXIT_USAGE   2

/* Entry point of a subcommand: argv[0] is the command name. Returns the exit status. */
typedef int (*cli_cmd_fn)(int argc, char **argv);

struct cli_command {
    const char *name;
    const char *summary;     /* one line, shown by `jwtd --help` */
    cli_cmd_fn run;          /* never called with --help/-h (the dispatcher answers it) */
    void (*help)(FILE *out); /* full help; NULL = "usage: jwtd NAME" + summary */
};

/* Runs the command named by argv[1]; prints usage on --help, no command or an unknown one. */
int cli_main(int argc, char **argv);

/* --- option parsing ---------------------------------------------------------------------- */

enum cli_opt_type {
    CLI_OPT_FLAG,   /* out: bool *, set to true; takes no value */
    CLI_OPT_STRING, /* out: const char **, points into argv */
    CLI_OPT_INT,    /* out: long *, a decimal integer (sign allowed), whole value checked */
};

/* One option of a command; a table of them ends with an entry whose name is NULL. */
struct cli_opt {
    const char *name;       /* long name without dashes: "alg" for --alg */
    char short_name;        /* 'a' for -a; 0 = none */
    enum cli_opt_type type; /* see enum */
    void *out;              /* where the value goes (type above) */
    const char *metavar;    /* value name in help ("FILE"); NULL for flags */
    const char *help;       /* one line */
};

/* The entry that ends a table of options. */
#define CLI_OPT_END                                                                                \
    {                                                                                              \
        NULL, 0, CLI_OPT_FLAG, NULL, NULL, NULL                                                    \
    }

#define CLI_MAX_ARGS 32

/* The positional (non-option) arguments, in order; pointers into argv. */
struct cli_args {
    int count;
    char *v[CLI_MAX_ARGS];
};

/*
 * Parses argv[1..argc-1] (argv[0] is the command name) against opts, a table ended by an
 * entry with a NULL name. Accepts `--name value`, `--name=value`, `-x value`, `-xVALUE`
 * and `--` (everything after it is positional); options and positionals may be mixed.
 * `--config FILE` is accepted and skipped unless opts has its own "config" entry.
 * Positionals go to *args (OUT). Outputs of options not given are left untouched, so
 * initialise them with their defaults.
 * Returns 0, or CLI_EXIT_USAGE after printing "jwtd CMD: <problem>" and a --help hint to
 * stderr (unknown option, missing value, bad integer, more than CLI_MAX_ARGS positionals).
 */
int cli_parse_opts(int argc, char **argv, const struct cli_opt *opts, struct cli_args *args);

/*
 * cli_parse_opts, then exactly count positionals (count < 0: any number). On a wrong count
 * it prints "usage: jwtd <usage>" (usage given) or "jwtd CMD: unexpected argument X" and
 * returns CLI_EXIT_USAGE.
 */
int cli_parse_args(int argc, char **argv, const struct cli_opt *opts, int count, const char *usage,
                   struct cli_args *args);

/* Prints an "options:" block for opts (plus --config and --help) to out, for help printers. */
void cli_print_opts(FILE *out, const struct cli_opt *opts);

/*
 * Opens the composition root for parts (root_open) and maps its result to an exit status:
 * CLI_EXIT_OK with *r set (root_close it), CLI_EXIT_USAGE (--config without a FILE) or
 * CLI_EXIT_FAILURE (the reason is printed).
 */
int cli_root_open(int argc, char **argv, unsigned parts, root_t **r);

/* --- the commands ---------------------------------------------------------------------- */

/*
 * The commands, in the order `jwtd --help` lists them (the server, then admin commands, then
 * tooling): X(name, stem, summary) for `jwtd <name>`, run by cli_<stem>(argc, argv) with
 * argv[0] = name and described by cli_<stem>_help(out).
 */
#define CLI_COMMANDS(X)                                                                            \
    X("serve", serve, "run the HTTP server")                                                       \
    X("migrate", migrate, "apply the database migrations")                                         \
    X("db", db, "copy a SQLite database into PostgreSQL, verified (db copy --from --to)")          \
    X("user", user, "manage users: create, list, passwd, disable, set-role, delete, ...")          \
    X("token", token, "issue a token pair for a user (token issue --user NAME)")                   \
    X("client", client, "manage OAuth / OpenID Connect clients: create, list, update, ...")        \
    X("revoke", revoke, "revoke every session of a user (revoke --user NAME)")                     \
    X("verifier", verifier, "manage revocation-feed keys: create NAME, list, delete NAME")         \
    X("flush-expired", flush_expired, "delete expired tokens and dead sessions from the database") \
    X("audit", audit, "query the audit trail (audit --user U --event E --since 1h --json)")        \
    X("import-django", import_django,                                                              \
      "import the users of a Django project (import-django --database URL)")                       \
    X("keygen", keygen, "generate a signing key (keygen --alg ALG --out FILE)")                    \
    X("jwks", jwks, "print the public JWK Set of the configured keys")                             \
    X("keys", keys, "manage the key set: list, add, activate, retire (live rotation)")             \
    X("config", config, "print the effective configuration (secrets redacted)")                    \
    X("check", check, "check the configuration, keys, database and Redis (like nginx -t)")         \
    X("stats", stats, "print the key figures of a running jwtd (from its /metrics)")               \
    X("version", version, "print the version of jwtd and of its libraries")

#define CLI_DECLARE_(name, stem, summary)                                                          \
    int cli_##stem(int argc, char **argv);                                                         \
    void cli_##stem##_help(FILE *out);
CLI_COMMANDS(CLI_DECLARE_)
#undef CLI_DECLARE_

/* keys.c: `token inspect|verify|sign`, called by cli_token() with argv[0] = "token" */
int cli_token_keys(int argc, char **argv);
void cli_token_keys_help(FILE *out);

#endif
