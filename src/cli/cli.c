/*
 * cli.c - the command table, the dispatcher, and the helpers subcommands share (option
 * parsing, uniform config loading); plus `jwtd version`.
 *
 * The table below is the only list of commands: usage, `jwtd help CMD` and the unknown-
 * command hint are all generated from it. Commands themselves live one per file in
 * src/cli/ and are declared in cli.h. Nothing here runs after start-up, so nothing here is
 * thread-aware.
 */
#include "cli/cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <llhttp.h>
#include <openssl/crypto.h>
#include <sqlite3.h>
#include <uv.h>

#include "common/err.h"
#include "common/text.h"
#include "runtime/log.h"

/* --- the command table ----------------------------------------------------------------- */

#define CLI_ROW_(name, stem, summary) {name, summary, cli_##stem, cli_##stem##_help},
static const struct cli_command commands[] = {CLI_COMMANDS(CLI_ROW_)};
#undef CLI_ROW_

#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *out)
{
    fprintf(out, "usage: jwtd <command> [options] [args]\n\ncommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %-16s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "  %-16s %s\n", "help", "show this list, or `jwtd help COMMAND`");
    fprintf(out, "\nEvery command accepts --config FILE and --help. Configuration comes from\n"
                 "JWTD_* environment variables and the optional file; see `jwtd config --help`.\n");
}

static const struct cli_command *find_command(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(name, commands[i].name) == 0)
            return &commands[i];
    return NULL;
}

static void command_help(const struct cli_command *c, FILE *out)
{
    if (c->help)
        c->help(out);
    else
        fprintf(out, "usage: jwtd %s [options]\n\n%s.\n", c->name, c->summary);
}

/* The command name closest to an unknown one (at most two edits away), or NULL. */
static const char *closest_command(const char *name)
{
    const char *best = NULL;
    size_t best_d = 3;
    for (size_t i = 0; i < N_COMMANDS; i++) {
        size_t d = text_edit_distance(str_cstr(name), str_cstr(commands[i].name));
        if (d < best_d && d < strlen(commands[i].name)) {
            best_d = d;
            best = commands[i].name;
        }
    }
    return best;
}

/* Whether argv[1..] asks for help (-h or --help before any "--"). */
static bool wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return false;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return true;
    }
    return false;
}

/* See cli.h. */
int cli_main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(name, "--version") == 0 || strcmp(name, "-V") == 0)
        return cli_version(argc - 1, argv + 1);
    if (strcmp(name, "help") == 0) {
        if (argc < 3) {
            usage(stdout);
            return CLI_EXIT_OK;
        }
        const struct cli_command *c = find_command(argv[2]);
        if (!c) {
            fprintf(stderr, "jwtd: no such command: %s\nRun 'jwtd --help' for the list.\n",
                    argv[2]);
            return CLI_EXIT_USAGE;
        }
        command_help(c, stdout);
        return CLI_EXIT_OK;
    }
    const struct cli_command *c = find_command(name);
    if (!c) {
        const char *hint = name[0] != '-' ? closest_command(name) : NULL;
        fprintf(stderr, "jwtd: unknown %s: %s%s%s%s\nRun 'jwtd --help' for the list of commands.\n",
                name[0] == '-' ? "option" : "command", name, hint ? " (did you mean " : "",
                hint ? hint : "", hint ? "?)" : "");
        return CLI_EXIT_USAGE;
    }
    if (wants_help(argc - 1, argv + 1)) {
        command_help(c, stdout);
        return CLI_EXIT_OK;
    }
    return c->run(argc - 1, argv + 1);
}

/* --- option parsing -------------------------------------------------------------------- */

static const struct cli_opt *find_long(const struct cli_opt *opts, const char *name, size_t len)
{
    for (const struct cli_opt *o = opts; o->name; o++)
        if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
            return o;
    return NULL;
}

static const struct cli_opt *find_short(const struct cli_opt *opts, char c)
{
    for (const struct cli_opt *o = opts; o->name; o++)
        if (o->short_name && o->short_name == c)
            return o;
    return NULL;
}

/* Stores value into o->out; returns 0 or prints the problem and returns CLI_EXIT_USAGE. */
static int store_opt(const char *cmd, const struct cli_opt *o, const char *value)
{
    switch (o->type) {
    case CLI_OPT_FLAG:
        *(bool *)o->out = true;
        return 0;
    case CLI_OPT_STRING:
        *(const char **)o->out = value;
        return 0;
    case CLI_OPT_INT: {
        char *end;
        errno = 0;
        long v = strtol(value, &end, 10);
        if (errno || end == value || *end) {
            fprintf(stderr, "jwtd %s: --%s expects an integer, got \"%s\"\n", cmd, o->name, value);
            return CLI_EXIT_USAGE;
        }
        *(long *)o->out = v;
        return 0;
    }
    }
    return CLI_EXIT_USAGE;
}

/* Prints "jwtd CMD: <message>" and the --help hint; returns CLI_EXIT_USAGE. */
__attribute__((format(printf, 2, 3))) static int usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "jwtd %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nRun 'jwtd %s --help' for usage.\n", cmd);
    return CLI_EXIT_USAGE;
}

/* See cli.h. */
int cli_parse_opts(int argc, char **argv, const struct cli_opt *opts, struct cli_args *args)
{
    static const struct cli_opt config_opt = {"config", 0, CLI_OPT_STRING, NULL, "FILE", NULL};
    const char *cmd = argc > 0 ? argv[0] : "?";
    const char *ignored;
    struct cli_opt config_skip = config_opt;
    config_skip.out = &ignored;
    bool own_config = find_long(opts, "config", 6) != NULL;
    bool only_pos = false;
    args->count = 0;
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (only_pos || a[0] != '-' || a[1] == '\0') {
            if (args->count == CLI_MAX_ARGS)
                return usage_error(cmd, "too many arguments (%s)", a);
            args->v[args->count++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_pos = true;
            continue;
        }
        const struct cli_opt *o;
        const char *value = NULL;
        if (a[1] == '-') {
            const char *name = a + 2, *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            o = find_long(opts, name, len);
            if (!o && !own_config && len == 6 && strncmp(name, "config", 6) == 0)
                o = &config_skip;
            if (!o)
                return usage_error(cmd, "unknown option %s", a);
            if (eq) {
                if (o->type == CLI_OPT_FLAG)
                    return usage_error(cmd, "option --%s takes no value", o->name);
                value = eq + 1;
            }
        } else {
            o = find_short(opts, a[1]);
            if (!o)
                return usage_error(cmd, "unknown option %s", a);
            if (a[2]) {
                if (o->type == CLI_OPT_FLAG)
                    return usage_error(cmd, "option -%s takes no value", a + 1);
                value = a + 2;
            }
        }
        if (o->type != CLI_OPT_FLAG && !value) {
            if (i + 1 >= argc)
                return usage_error(cmd, "option --%s needs a value", o->name);
            value = argv[++i];
        }
        int rc = store_opt(cmd, o, value);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* See cli.h. */
int cli_parse_args(int argc, char **argv, const struct cli_opt *opts, int count, const char *usage,
                   struct cli_args *args)
{
    int rc = cli_parse_opts(argc, argv, opts, args);
    if (rc != 0 || count < 0 || args->count == count)
        return rc;
    if (usage)
        fprintf(stderr, "usage: jwtd %s\n", usage);
    else
        fprintf(stderr, "jwtd %s: unexpected argument %s\n", argv[0], args->v[args->count - 1]);
    return CLI_EXIT_USAGE;
}

/* See cli.h. */
void cli_print_opts(FILE *out, const struct cli_opt *opts)
{
    char left[64];
    fprintf(out, "options:\n");
    for (const struct cli_opt *o = opts; o->name; o++) {
        char s[8] = "";
        if (o->short_name)
            snprintf(s, sizeof s, "-%c, ", o->short_name);
        snprintf(left, sizeof left, "%s--%s%s%s", s, o->name, o->metavar ? " " : "",
                 o->metavar ? o->metavar : "");
        fprintf(out, "  %-24s %s\n", left, o->help ? o->help : "");
    }
    if (!find_long(opts, "config", 6))
        fprintf(out, "  %-24s %s\n", "--config FILE", "read KEY=VALUE settings from FILE");
    fprintf(out, "  %-24s %s\n", "-h, --help", "show this help");
}

/* See cli.h. */
int cli_root_open(int argc, char **argv, unsigned parts, root_t **r)
{
    int rc = root_open(argc, argv, parts, r);
    return rc == 0 ? CLI_EXIT_OK : rc == ERR_INVALID ? CLI_EXIT_USAGE : CLI_EXIT_FAILURE;
}

/* --- jwtd version ---------------------------------------------------------------------- */

/* See cli.h. */
void cli_version_help(FILE *out)
{
    fprintf(out, "usage: jwtd version\n\n"
                 "Prints the version of jwtd, then of the libraries it runs with.\n"
                 "`jwtd --version` is the same.\n");
}

/* See cli.h. */
int cli_version(int argc, char **argv)
{
    int pq = PQlibVersion();
    printf("jwtd %s\n", JWTD_VERSION);
    printf("  %s\n", OpenSSL_version(OPENSSL_VERSION));
    printf("  libuv %s\n", uv_version_string());
    printf("  llhttp %d.%d.%d\n", LLHTTP_VERSION_MAJOR, LLHTTP_VERSION_MINOR, LLHTTP_VERSION_PATCH);
    printf("  jansson %s\n", jansson_version_str());
    printf("  SQLite %s\n", sqlite3_libversion());
    printf("  libpq %d.%d\n", pq / 10000, pq % 10000);
    printf("  hiredis %d.%d.%d\n", HIREDIS_MAJOR, HIREDIS_MINOR, HIREDIS_PATCH);
    return CLI_EXIT_OK;
}
