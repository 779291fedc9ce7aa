/*
 * cli.c - unit tests for the dispatcher and the shared subcommand helpers (src/cli/cli.c):
 * option parsing, --config lookup, help/unknown-command exit codes and output, and
 * `jwtd config` (output redacted).
 */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli/cli.h"
#include "config/config.h"
#include "runtime/log.h"
#include "test.h"

/* --- capturing stdout and stderr -------------------------------------------------------- */

struct capture {
    int saved_out, saved_err, out_fd, err_fd;
};

static int tmp_fd(void)
{
    FILE *f = tmpfile();
    int fd = dup(fileno(f));
    fclose(f);
    return fd;
}

static void capture_begin(struct capture *c)
{
    fflush(stdout);
    fflush(stderr);
    c->saved_out = dup(1);
    c->saved_err = dup(2);
    c->out_fd = tmp_fd();
    c->err_fd = tmp_fd();
    dup2(c->out_fd, 1);
    dup2(c->err_fd, 2);
}

static char *read_all(int fd)
{
    off_t end = lseek(fd, 0, SEEK_END);
    char *s = calloc(1, (size_t)end + 1);
    if (pread(fd, s, (size_t)end, 0) != end)
        s[0] = '\0';
    close(fd);
    return s;
}

/* Restores stdout/stderr; OUT: what was written to each (caller frees). */
static void capture_end(struct capture *c, char **out, char **err)
{
    fflush(stdout);
    fflush(stderr);
    dup2(c->saved_out, 1);
    dup2(c->saved_err, 2);
    close(c->saved_out);
    close(c->saved_err);
    *out = read_all(c->out_fd);
    *err = read_all(c->err_fd);
}

/* Runs cli_main on a NULL-terminated list of words; OUT: exit status, stdout, stderr. */
static int run_cli(char **out, char **err, const char *const *words)
{
    char *argv[32];
    int argc = 0;
    for (; words[argc]; argc++)
        argv[argc] = (char *)words[argc];
    argv[argc] = NULL;
    struct capture c;
    int level = log__level; /* commands that load the config set the log level */
    capture_begin(&c);
    int rc = cli_main(argc, argv);
    capture_end(&c, out, err);
    log_set_level((enum log_level)level);
    return rc;
}

#define RUN(out, err, ...) run_cli(out, err, (const char *const[]){"jwtd", __VA_ARGS__, NULL})

/* --- option parser --------------------------------------------------------------------- */

TEST(cli_parse_opts_long_short_equals_and_positionals)
{
    const char *alg = "ES256", *out_file = NULL;
    bool force = false, verbose = false;
    long n = 3;
    const struct cli_opt opts[] = {
        {"alg", 'a', CLI_OPT_STRING, &alg, "ALG", "algorithm"},
        {"out", 'o', CLI_OPT_STRING, &out_file, "FILE", "output"},
        {"force", 'f', CLI_OPT_FLAG, &force, NULL, "overwrite"},
        {"verbose", 'v', CLI_OPT_FLAG, &verbose, NULL, "chatty"},
        {"count", 'n', CLI_OPT_INT, &n, "N", "how many"},
        {NULL, 0, CLI_OPT_FLAG, NULL, NULL, NULL},
    };
    char *argv[] = {"keygen", "pos1",     "--alg",  "RS256", "-oFILE",    "--count=-12", "pos2",
                    "-f",     "--config", "x.conf", "--",    "--verbose", "-",           NULL};
    struct cli_args args;
    ASSERT_EQ_INT(cli_parse_opts(13, argv, opts, &args), 0);
    CHECK_STR_EQ(alg, "RS256");
    CHECK_STR_EQ(out_file, "FILE");
    CHECK_TRUE(force);
    CHECK_TRUE(!verbose); /* after "--" it is a positional */
    CHECK_EQ_INT(n, -12);
    ASSERT_EQ_INT(args.count, 4);
    CHECK_STR_EQ(args.v[0], "pos1");
    CHECK_STR_EQ(args.v[1], "pos2");
    CHECK_STR_EQ(args.v[2], "--verbose");
    CHECK_STR_EQ(args.v[3], "-");
}

TEST(cli_parse_opts_errors_are_usage_errors)
{
    const char *s = NULL;
    bool f = false;
    long n = 0;
    const struct cli_opt opts[] = {
        {"name", 0, CLI_OPT_STRING, &s, "NAME", "a name"},
        {"flag", 'x', CLI_OPT_FLAG, &f, NULL, "a flag"},
        {"num", 0, CLI_OPT_INT, &n, "N", "a number"},
        {NULL, 0, CLI_OPT_FLAG, NULL, NULL, NULL},
    };
    static const struct {
        int argc;
        const char *argv[3];
        const char *msg;
    } bad[] = {
        {2, {"cmd", "--nope"}, "jwtd cmd: unknown option --nope\n"},
        {2, {"cmd", "-q"}, "jwtd cmd: unknown option -q\n"},
        {2, {"cmd", "--name"}, "jwtd cmd: option --name needs a value\n"},
        {2, {"cmd", "--flag=1"}, "jwtd cmd: option --flag takes no value\n"},
        {2, {"cmd", "-xy"}, "jwtd cmd: option -xy takes no value\n"},
        {3, {"cmd", "--num", "12abc"}, "jwtd cmd: --num expects an integer, got \"12abc\"\n"},
        {2, {"cmd", "--num="}, "jwtd cmd: --num expects an integer, got \"\"\n"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct cli_args args;
        struct capture c;
        char *out, *err;
        capture_begin(&c);
        int rc = cli_parse_opts(bad[i].argc, (char **)bad[i].argv, opts, &args);
        capture_end(&c, &out, &err);
        CHECK_EQ_INT(rc, CLI_EXIT_USAGE);
        if (!CHECK_TRUE(strncmp(err, bad[i].msg, strlen(bad[i].msg)) == 0))
            fprintf(stderr, "    got: %s", err);
        free(out);
        free(err);
    }
}

TEST(cli_parse_opts_too_many_positionals)
{
    const struct cli_opt opts[] = {{NULL, 0, CLI_OPT_FLAG, NULL, NULL, NULL}};
    char *argv[CLI_MAX_ARGS + 3];
    argv[0] = "cmd";
    for (int i = 1; i < CLI_MAX_ARGS + 2; i++)
        argv[i] = "p";
    struct cli_args args;
    struct capture c;
    char *out, *err;
    capture_begin(&c);
    int rc = cli_parse_opts(CLI_MAX_ARGS + 2, argv, opts, &args);
    capture_end(&c, &out, &err);
    CHECK_EQ_INT(rc, CLI_EXIT_USAGE);
    CHECK_TRUE(strstr(err, "too many arguments") != NULL);
    free(out);
    free(err);
}

/* --- dispatcher ------------------------------------------------------------------------ */

TEST(cli_usage_lists_commands)
{
    char *out, *err;
    CHECK_EQ_INT(RUN(&out, &err, "--help"), 0);
    CHECK_TRUE(strstr(out, "usage: jwtd <command>") != NULL);
    CHECK_TRUE(strstr(out, "  config ") != NULL);
    CHECK_TRUE(strstr(out, "  version ") != NULL);
    free(out);
    free(err);
    CHECK_EQ_INT(RUN(&out, &err, "-h"), 0);
    CHECK_TRUE(strstr(out, "usage: jwtd <command>") != NULL);
    free(out);
    free(err);
    CHECK_EQ_INT(run_cli(&out, &err, (const char *const[]){"jwtd", NULL}), CLI_EXIT_USAGE);
    CHECK_TRUE(strstr(err, "usage: jwtd <command>") != NULL);
    free(out);
    free(err);
}

TEST(cli_command_help_three_ways)
{
    char *out, *err;
    CHECK_EQ_INT(RUN(&out, &err, "help", "config"), 0);
    CHECK_TRUE(strstr(out, "usage: jwtd config") != NULL);
    free(out);
    free(err);
    CHECK_EQ_INT(RUN(&out, &err, "config", "--help"), 0);
    CHECK_TRUE(strstr(out, "usage: jwtd config") != NULL);
    free(out);
    free(err);
    CHECK_EQ_INT(RUN(&out, &err, "version", "-h"), 0);
    CHECK_TRUE(strstr(out, "usage: jwtd version") != NULL);
    free(out);
    free(err);
    CHECK_EQ_INT(RUN(&out, &err, "help", "nope"), CLI_EXIT_USAGE);
    CHECK_TRUE(strstr(err, "no such command: nope") != NULL);
    free(out);
    free(err);
}

TEST(cli_unknown_command_exits_2_with_hint)
{
    char *out, *err;
    CHECK_EQ_INT(RUN(&out, &err, "confg"), CLI_EXIT_USAGE);
    CHECK_TRUE(strstr(err, "jwtd: unknown command: confg (did you mean config?)") != NULL);
    free(out);
    free(err);
    CHECK_EQ_INT(RUN(&out, &err, "--bogus"), CLI_EXIT_USAGE);
    CHECK_TRUE(strstr(err, "jwtd: unknown option: --bogus") != NULL);
    free(out);
    free(err);
}

TEST(cli_version_prints_libraries)
{
    char *out, *err;
    CHECK_EQ_INT(RUN(&out, &err, "version"), 0);
    CHECK_TRUE(strncmp(out, "jwtd " JWTD_VERSION "\n", strlen("jwtd " JWTD_VERSION "\n")) == 0);
    CHECK_TRUE(strstr(out, "OpenSSL") != NULL);
    CHECK_TRUE(strstr(out, "libuv") != NULL);
    CHECK_TRUE(strstr(out, "jansson") != NULL);
    CHECK_TRUE(strstr(out, "SQLite") != NULL);
    free(out);
    free(err);
    CHECK_EQ_INT(RUN(&out, &err, "--version"), 0);
    CHECK_TRUE(strncmp(out, "jwtd ", 5) == 0);
    free(out);
    free(err);
}

TEST(cli_config_command_dumps_redacted_and_fails_on_bad_file)
{
    char path[] = "/tmp/jwtd-cli-test-XXXXXX";
    int fd = mkstemp(path);
    ASSERT_TRUE(fd >= 0);
    const char *text = "SECRET_KEY=abcdefghijabcdefghijabcdefghij-hunter2\nWORKERS=3\n";
    CHECK_EQ_INT(write(fd, text, strlen(text)), (long long)strlen(text));
    close(fd);
    char *out, *err;
    int rc = RUN(&out, &err, "config", "--config", path);
    CHECK_EQ_INT(rc, 0);
    CHECK_TRUE(strstr(out, "JWTD_SECRET_KEY=<redacted>\n") != NULL);
    CHECK_TRUE(strstr(out, "hunter2") == NULL);
    free(out);
    free(err);

    fd = open(path, O_WRONLY | O_TRUNC);
    text = "WORKERS=3\nWORKERS=many\n";
    CHECK_EQ_INT(write(fd, text, strlen(text)), (long long)strlen(text));
    close(fd);
    char arg[64];
    snprintf(arg, sizeof arg, "--config=%s", path);
    rc = RUN(&out, &err, "config", arg);
    CHECK_EQ_INT(rc, CLI_EXIT_FAILURE);
    CHECK_TRUE(strstr(err, "jwtd: configuration error: ") != NULL);
    CHECK_TRUE(strstr(err, ":2: JWTD_WORKERS: invalid integer \"many\"") != NULL);
    CHECK_TRUE(out[0] == '\0');
    free(out);
    free(err);
    unlink(path);

    rc = RUN(&out, &err, "config", "--config");
    CHECK_EQ_INT(rc, CLI_EXIT_USAGE);
    free(out);
    free(err);
    rc = RUN(&out, &err, "config", "extra");
    CHECK_EQ_INT(rc, CLI_EXIT_USAGE);
    free(out);
    free(err);
    rc = RUN(&out, &err, "config", "--markdown");
    CHECK_EQ_INT(rc, 0);
    CHECK_TRUE(strncmp(out, "# jwtd configuration reference", 30) == 0);
    free(out);
    free(err);
}
