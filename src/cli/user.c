/*
 * user.c - `jwtd user create|list|passwd|disable|enable|set-role|verify-email|delete`: user
 * administration straight on the database (no server needed).
 *
 * Passwords come from --password-stdin (one line) or, on a terminal, from two prompts with
 * echo off; they go through the same policy (policy.h) and argon2id parameters (from the
 * configuration) as the HTTP API, and are wiped after use. `passwd` and `disable` revoke
 * every session of the user in the same transaction (watermark + sessions), as does
 * `set-role` (the role is a claim of the tokens); `delete` removes the user with its sessions
 * and leaves a tombstone watermark that keeps its access tokens refused. A running
 * server sees those revocations through the database: tokens can no longer be refreshed at
 * once, and its in-memory revocation index picks them up as the token service reloads it
 * (see docs/internals.md "db").
 */
#define LOG_MODULE "cli"
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "auth/auth.h"
#include "cli/cli.h"
#include "common/clock.h"
#include "common/err.h"
#include "db/db.h"
#include "runtime/alloc.h"
#include "runtime/audit.h"
#include "runtime/errtab.h"
#include "store/store.h"

/* Longest password line accepted: AUTH_PASSWORD_MAX_CHARS of up to 4 bytes, + slack. */
#define PW_BUF_BYTES (AUTH_PASSWORD_MAX_CHARS * 4 + 8)

/* ==== password input ====================================================================== */

/*
 * Reads one line from f into buf (without the line end). Returns its length, or -1 at EOF
 * before any byte, or -2 if the line does not fit.
 */
static long read_line(FILE *f, char *buf, size_t cap)
{
    size_t n = 0;
    int ch;
    bool any = false;
    while ((ch = fgetc(f)) != EOF) {
        any = true;
        if (ch == '\n')
            break;
        if (n + 1 >= cap) {
            while ((ch = fgetc(f)) != EOF && ch != '\n')
                ;
            return -2;
        }
        buf[n++] = (char)ch;
    }
    if (!any)
        return -1;
    if (n && buf[n - 1] == '\r')
        n--;
    buf[n] = '\0';
    return (long)n;
}

/* Prompts on the terminal with echo off. Returns the length or a negative read_line code. */
static long prompt_tty(FILE *tty, const char *prompt, char *buf, size_t cap)
{
    struct termios old, quiet;
    int fd = fileno(tty);
    bool restore = tcgetattr(fd, &old) == 0;
    if (restore) {
        quiet = old;
        quiet.c_lflag &= (tcflag_t) ~(ECHO | ECHONL);
        quiet.c_lflag |= ICANON;
        tcsetattr(fd, TCSAFLUSH, &quiet);
    }
    fputs(prompt, stderr);
    fflush(stderr);
    long n = read_line(tty, buf, cap);
    if (restore)
        tcsetattr(fd, TCSAFLUSH, &old);
    fputc('\n', stderr);
    return n;
}

/*
 * Gets a new password into buf: from stdin with from_stdin, else from two prompts on the
 * controlling terminal. Returns its length, or -1 after printing why.
 */
static long get_new_password(const char *cmd, bool from_stdin, char *buf, size_t cap)
{
    long n;
    if (from_stdin) {
        n = read_line(stdin, buf, cap);
        if (n == -1)
            fprintf(stderr, "jwtd %s: no password on standard input\n", cmd);
        else if (n == -2)
            fprintf(stderr, "jwtd %s: password too long\n", cmd);
        return n < 0 ? -1 : n;
    }
    if (!isatty(STDIN_FILENO)) {
        fprintf(stderr, "jwtd %s: standard input is not a terminal; use --password-stdin\n", cmd);
        return -1;
    }
    FILE *tty = fopen("/dev/tty", "r+");
    if (!tty) {
        fprintf(stderr, "jwtd %s: cannot open the terminal; use --password-stdin\n", cmd);
        return -1;
    }
    char *again = xcalloc(1, cap);
    n = prompt_tty(tty, "Password: ", buf, cap);
    long m = n >= 0 ? prompt_tty(tty, "Password (again): ", again, cap) : -1;
    fclose(tty);
    if (n < 0 || m < 0) {
        fprintf(stderr, "jwtd %s: %s\n", cmd,
                n == -2 || m == -2 ? "password too long" : "no password entered");
        n = -1;
    } else if (n != m || CRYPTO_memcmp(buf, again, (size_t)n) != 0) {
        fprintf(stderr, "jwtd %s: the two passwords do not match\n", cmd);
        n = -1;
    }
    free_secret(again, cap);
    return n;
}

/*
 * Checks the policy and hashes pw with the configured argon2id parameters into hash.
 * Returns CLI_EXIT_OK or CLI_EXIT_FAILURE after printing the reasons.
 */
static int check_and_hash(const char *cmd, const root_t *r, const char *pw, size_t len,
                          const char *username, const char *email, char *hash, size_t cap)
{
    auth_policy_result_t pol;
    if (auth_password_policy_check(pw, len, username, email, &pol) != 0) {
        for (size_t i = 0; i < pol.count; i++)
            fprintf(stderr, "jwtd %s: %s\n", cmd, pol.messages[i]);
        return CLI_EXIT_FAILURE;
    }
    int rc = auth_password_hash(&r->opt.auth.argon2, pw, len, hash, cap);
    if (rc != 0) {
        fprintf(stderr, "jwtd %s: hashing failed (%s)\n", cmd, err_name(rc));
        return CLI_EXIT_FAILURE;
    }
    return CLI_EXIT_OK;
}

/* ==== commands ============================================================================ */

/* Opens (and migrates) the database of r for a command. */
static int open_db(root_t *r)
{
    return root_add(r, ROOT_DB | ROOT_MIGRATE) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
}

/* Prints what auth_user_validate / auth_user_create refused. */
static void print_user_errors(const auth_user_errors_t *e)
{
    if (e->username)
        fprintf(stderr, "jwtd user create: %s\n", e->username);
    if (e->email)
        fprintf(stderr, "jwtd user create: %s\n", e->email);
    if (e->role)
        fprintf(stderr, "jwtd user create: --role must be user, instructor or admin\n");
    if (e->name)
        fprintf(stderr, "jwtd user create: names are limited to 150 characters\n");
    for (size_t i = 0; i < e->password.count; i++)
        fprintf(stderr, "jwtd user create: %s\n", e->password.messages[i]);
}

/* --password-stdin, for the commands that set a password (get_new_password). */
#define PASSWORD_STDIN_OPTION(flag)                                                                \
    {                                                                                              \
        "password-stdin", 0, CLI_OPT_FLAG, (flag), NULL, "read the password from stdin"            \
    }

static int user_create(int argc, char **argv, root_t *r)
{
    const char *email = "", *role = "user", *first = "", *last = "";
    bool premium = false, from_stdin = false;
    const struct cli_opt opts[] = {
        {"email", 'e', CLI_OPT_STRING, &email, "EMAIL", "email address (unique)"},
        {"role", 'r', CLI_OPT_STRING, &role, "ROLE", "user (default), instructor or admin"},
        {"first-name", 0, CLI_OPT_STRING, &first, "NAME", "first name"},
        {"last-name", 0, CLI_OPT_STRING, &last, "NAME", "last name"},
        {"premium", 0, CLI_OPT_FLAG, &premium, NULL, "mark the user premium"},
        PASSWORD_STDIN_OPTION(&from_stdin),
        CLI_OPT_END,
    };
    struct cli_args args;
    int rc = cli_parse_args(argc, argv, opts, 1, "user create NAME [options]", &args);
    if (rc != 0)
        return rc;
    auth_new_user_t nu = {args.v[0], email, NULL, 0, first, last, role, premium};
    auth_user_errors_t errors;
    if (auth_user_validate(&nu, true, &errors) != 0) { /* before asking for the password */
        print_user_errors(&errors);
        return CLI_EXIT_USAGE;
    }
    char *pw = xcalloc(1, PW_BUF_BYTES);
    long len = get_new_password("user create", from_stdin, pw, PW_BUF_BYTES);
    if (len < 0 || (rc = open_db(r)) != 0) {
        free_secret(pw, PW_BUF_BYTES);
        return CLI_EXIT_FAILURE;
    }
    nu.password = pw;
    nu.password_len = (size_t)len;
    int64_t id = 0;
    int err = auth_user_create(r->db, &r->opt.auth.argon2, &nu, clock_now_s(), &id, &errors);
    if (err == ERR_CONFLICT) {
        fprintf(stderr, "jwtd user create: a user with that username or email already exists\n");
        rc = CLI_EXIT_FAILURE;
    } else if (err == ERR_INVALID) {
        print_user_errors(&errors);
        rc = CLI_EXIT_FAILURE;
    } else if (err != 0) {
        fprintf(stderr, "jwtd user create: failed (%s)\n", err_name(err));
        rc = CLI_EXIT_FAILURE;
    } else {
        printf("created user %s (id %lld, role %s)\n", nu.username, (long long)id, role);
    }
    free_secret(pw, PW_BUF_BYTES);
    return rc;
}

static void format_time(int64_t t, char *out, size_t cap)
{
    if (t == 0) {
        snprintf(out, cap, "-");
        return;
    }
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int user_list(int argc, char **argv, root_t *r)
{
    struct cli_args args;
    int rc =
        cli_parse_args(argc, argv, (const struct cli_opt[]){CLI_OPT_END}, 0, "user list", &args);
    if (rc != 0)
        return rc;
    if ((rc = open_db(r)) != 0)
        return rc;
    db_t *db = r->db;
    printf("%-6s %-24s %-32s %-10s %-7s %-6s %s\n", "ID", "USERNAME", "EMAIL", "ROLE", "PREMIUM",
           "ACTIVE", "LAST_LOGIN");
    int64_t after = 0;
    for (;;) {
        db_user_list_t page;
        int err = db_user_list(db, after, 500, &page);
        if (err != 0) {
            fprintf(stderr, "jwtd user list: failed (%s)\n", err_name(err));
            rc = CLI_EXIT_FAILURE;
            break;
        }
        if (page.count == 0)
            break;
        for (size_t i = 0; i < page.count; i++) {
            const db_user_t *u = &page.items[i];
            char when[32];
            format_time(u->last_login, when, sizeof when);
            printf("%-6lld %-24s %-32s %-10s %-7s %-6s %s\n", (long long)u->id, u->username,
                   u->email[0] ? u->email : "-", db_role_name(u->role), u->premium ? "yes" : "no",
                   u->is_active ? "yes" : "no", when);
        }
        after = page.items[page.count - 1].id;
        db_user_list_dispose(&page);
    }
    return rc;
}

/*
 * After every session of user_id was revoked in the database: with Redis configured, tells
 * the running servers at once (the message a server publishes), so they do not wait for
 * their next database poll; that poll still brings it when Redis is unreachable (warned).
 */
static void tell_servers(root_t *r, const char *cmd, int64_t user_id, int64_t now)
{
    if (!r->opt.redis)
        return;
    char err[512];
    if (store_redis_publish_watermark(&r->opt.redis_opt, user_id, now, now + root_keyset_keep_s(r),
                                      err, sizeof err) != 0)
        fprintf(stderr,
                "jwtd %s: done; the servers will apply it at their next database poll "
                "(redis: %s)\n",
                cmd, err);
}

static int user_passwd(int argc, char **argv, root_t *r)
{
    bool from_stdin = false;
    const struct cli_opt opts[] = {
        PASSWORD_STDIN_OPTION(&from_stdin),
        CLI_OPT_END,
    };
    struct cli_args args;
    int rc = cli_parse_args(argc, argv, opts, 1, "user passwd NAME [--password-stdin]", &args);
    if (rc != 0)
        return rc;
    char *pw = xcalloc(1, PW_BUF_BYTES);
    char hash[AUTH_PASSWORD_HASH_MAX];
    db_user_t u = {0};
    if ((rc = open_db(r)) != 0)
        goto out;
    db_t *db = r->db;
    int err = db_user_find_by_username(db, args.v[0], &u);
    if (err != 0) {
        audit_warn(NULL, .event = "password_changed", .outcome = "failure", .username = args.v[0],
                   .reason = err == ERR_NOT_FOUND ? "no_such_user" : "error");
        fprintf(stderr, "jwtd user passwd: %s\n",
                err == ERR_NOT_FOUND ? "no such user" : err_name(err));
        rc = CLI_EXIT_FAILURE;
        goto out;
    }
    long len = get_new_password("user passwd", from_stdin, pw, PW_BUF_BYTES);
    if (len < 0) {
        rc = CLI_EXIT_FAILURE;
        goto out;
    }
    rc = check_and_hash("user passwd", r, pw, (size_t)len, u.username, u.email, hash, sizeof hash);
    if (rc != 0)
        goto out;
    int64_t now = clock_now_s();
    err = db_user_set_password(r->db, u.id, hash, true, now);
    if (err != 0) {
        fprintf(stderr, "jwtd user passwd: failed (%s)\n", err_name(err));
        rc = CLI_EXIT_FAILURE;
        goto out;
    }
    tell_servers(r, "user passwd", u.id, now);
    audit_info(NULL, .event = "password_changed", .outcome = "success", .user_id = u.id,
               .username = u.username, .detail = "via=user_passwd");
    printf("password changed for %s; every session of the user is revoked\n", u.username);
out:
    db_user_dispose(&u);
    free_secret(pw, PW_BUF_BYTES);
    OPENSSL_cleanse(hash, sizeof hash);
    return rc;
}

static int user_set_active(int argc, char **argv, root_t *r, bool active)
{
    const char *cmd = active ? "user enable" : "user disable";
    struct cli_args args;
    char usage[32];
    snprintf(usage, sizeof usage, "%s NAME", cmd);
    int rc = cli_parse_args(argc, argv, (const struct cli_opt[]){CLI_OPT_END}, 1, usage, &args);
    if (rc != 0)
        return rc;
    db_user_t u = {0};
    if ((rc = open_db(r)) != 0)
        return rc;
    int err = db_user_find_by_username(r->db, args.v[0], &u);
    int64_t now = clock_now_s();
    if (err == 0)
        err = db_user_set_active(r->db, u.id, active, now);
    if (err == 0 && !active)
        tell_servers(r, cmd, u.id, now);
    const char *event = active ? "user_activated" : "user_deactivated";
    if (err != 0)
        audit_warn(NULL, .event = event, .outcome = "failure", .username = args.v[0],
                   .reason = err == ERR_NOT_FOUND ? "no_such_user" : "error");
    else
        audit_info(NULL, .event = event, .outcome = "success", .user_id = u.id,
                   .username = u.username);
    if (err != 0) {
        fprintf(stderr, "jwtd %s: %s\n", cmd,
                err == ERR_NOT_FOUND ? "no such user" : err_name(err));
        rc = CLI_EXIT_FAILURE;
    } else if (active) {
        printf("enabled user %s\n", u.username);
    } else {
        printf("disabled user %s; every session of the user is revoked\n", u.username);
    }
    db_user_dispose(&u);
    return rc;
}

/* `user delete NAME`: the user, its sessions, refresh tokens and posts, one transaction;
   a tombstone keeps its access tokens refused (db_user_delete). */
static int user_delete(int argc, char **argv, root_t *r)
{
    struct cli_args args;
    int rc = cli_parse_args(argc, argv, (const struct cli_opt[]){CLI_OPT_END}, 1,
                            "user delete NAME", &args);
    if (rc != 0)
        return rc;
    if ((rc = open_db(r)) != 0)
        return rc;
    db_user_t u = {0};
    int err = db_user_find_by_username(r->db, args.v[0], &u);
    if (err == 0)
        err = db_user_delete(r->db, u.id, clock_now_s() + 1);
    if (err != 0) {
        audit_warn(NULL, .event = "user_deleted", .outcome = "failure", .username = args.v[0],
                   .reason = err == ERR_NOT_FOUND ? "no_such_user" : "error");
        fprintf(stderr, "jwtd user delete: %s\n",
                err == ERR_NOT_FOUND ? "no such user" : err_name(err));
        rc = CLI_EXIT_FAILURE;
    } else {
        audit_info(NULL, .event = "user_deleted", .outcome = "success", .user_id = u.id,
                   .username = u.username);
        printf("deleted user %s (id %lld) with its sessions; its tokens are revoked\n", u.username,
               (long long)u.id);
    }
    db_user_dispose(&u);
    return rc;
}

/* `user set-role NAME ROLE`: the role is a claim of access tokens, so a change also revokes
   every session (db_user_admin_update), as the admin API does. */
static int user_set_role(int argc, char **argv, root_t *r)
{
    struct cli_args args;
    int rc = cli_parse_args(argc, argv, (const struct cli_opt[]){CLI_OPT_END}, 2,
                            "user set-role NAME ROLE", &args);
    if (rc != 0)
        return rc;
    db_user_change_t c = {.set_role = true};
    if (db_role_parse(args.v[1], strlen(args.v[1]), &c.role) != 0) {
        fprintf(stderr, "jwtd user set-role: the role must be user, instructor or admin\n");
        return CLI_EXIT_USAGE;
    }
    if ((rc = open_db(r)) != 0)
        return rc;
    db_user_t u = {0};
    bool revoked = false;
    int err = db_user_find_by_username(r->db, args.v[0], &u);
    if (err == 0)
        err = db_user_admin_update(r->db, u.id, &c, clock_now_s(), &revoked, NULL);
    char detail[48];
    snprintf(detail, sizeof detail, "role=%s revoked=%s", args.v[1], revoked ? "yes" : "no");
    if (err != 0) {
        audit_warn(NULL, .event = "role_changed", .outcome = "failure", .username = args.v[0],
                   .reason = err == ERR_NOT_FOUND ? "no_such_user" : "error", .detail = detail);
        fprintf(stderr, "jwtd user set-role: %s\n",
                err == ERR_NOT_FOUND ? "no such user" : err_name(err));
        rc = CLI_EXIT_FAILURE;
    } else {
        audit_info(NULL, .event = "role_changed", .outcome = "success", .user_id = u.id,
                   .username = u.username, .detail = detail);
        if (revoked)
            printf("role of %s set to %s; every session of the user is revoked\n", u.username,
                   args.v[1]);
        else
            printf("role of %s is already %s\n", u.username, args.v[1]);
    }
    db_user_dispose(&u);
    return rc;
}

/* `user verify-email NAME [--unverified]`: marks the user's address confirmed (or not), as an
   administrator vouching for it; no session is touched. */
static int user_verify_email(int argc, char **argv, root_t *r)
{
    bool unverified = false;
    const struct cli_opt opts[] = {
        {"unverified", 0, CLI_OPT_FLAG, &unverified, NULL, "mark the address unverified instead"},
        CLI_OPT_END,
    };
    struct cli_args args;
    int rc = cli_parse_args(argc, argv, opts, 1, "user verify-email NAME [--unverified]", &args);
    if (rc != 0)
        return rc;
    if ((rc = open_db(r)) != 0)
        return rc;
    db_user_t u = {0};
    db_user_change_t c = {.set_email_verified = true, .email_verified = !unverified};
    int err = db_user_find_by_username(r->db, args.v[0], &u);
    if (err == 0 && !u.email[0])
        err = ERR_INVALID;
    if (err == 0)
        err = db_user_admin_update(r->db, u.id, &c, clock_now_s(), NULL, NULL);
    const char *detail = unverified ? "email_verified=false" : "email_verified=true";
    if (err != 0) {
        audit_warn(NULL, .event = "email_verified", .outcome = "failure", .username = args.v[0],
                   .reason = err == ERR_NOT_FOUND ? "no_such_user"
                             : err == ERR_INVALID ? "no_email"
                                                  : "error",
                   .detail = detail);
        fprintf(stderr, "jwtd user verify-email: %s\n",
                err == ERR_NOT_FOUND ? "no such user"
                : err == ERR_INVALID ? "the user has no e-mail address"
                                     : err_name(err));
        rc = CLI_EXIT_FAILURE;
    } else {
        audit_info(NULL, .event = "email_verified", .outcome = "success", .user_id = u.id,
                   .username = u.username, .detail = detail);
        printf("e-mail address of %s marked %s\n", u.username,
               unverified ? "unverified" : "verified");
    }
    db_user_dispose(&u);
    return rc;
}

/* See cli.h. */
void cli_user_help(FILE *out)
{
    fprintf(out, "usage: jwtd user <subcommand> [options]\n\n"
                 "  create NAME [--email E] [--role user|instructor|admin] [--first-name F]\n"
                 "              [--last-name L] [--premium] [--password-stdin]\n"
                 "                     add a user; the password is prompted twice (echo off) on\n"
                 "                     a terminal, or read as one line from stdin\n"
                 "  list               every user: id, username, email, role, premium, active,\n"
                 "                     last login\n"
                 "  passwd NAME [--password-stdin]\n"
                 "                     set a new password and revoke every session of the user\n"
                 "  disable NAME       deactivate the user and revoke every session\n"
                 "  enable NAME        reactivate the user (old sessions stay revoked)\n"
                 "  set-role NAME ROLE set the role (user, instructor or admin) and revoke\n"
                 "                     every session: the role is a claim of the tokens\n"
                 "  verify-email NAME [--unverified]\n"
                 "                     mark the user's e-mail address verified (or not)\n"
                 "  delete NAME        delete the user with its sessions, refresh tokens and\n"
                 "                     posts; its access tokens stay refused until they expire\n\n"
                 "Passwords must have at least 8 characters, not be entirely numeric and not\n"
                 "equal the username or email; they are hashed with argon2id using the\n"
                 "JWTD_ARGON2_* settings. The database (JWTD_DATABASE_URL) is migrated first.\n"
                 "A running server needs no restart: revocations are written to the database.\n\n");
    cli_print_opts(out, (const struct cli_opt[]){CLI_OPT_END});
}

/* See cli.h. */
int cli_user(int argc, char **argv)
{
    if (argc < 2) {
        cli_user_help(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *sub = argv[1];
    int (*fn)(int, char **, root_t *) = NULL;
    if (strcmp(sub, "create") == 0)
        fn = user_create;
    else if (strcmp(sub, "list") == 0)
        fn = user_list;
    else if (strcmp(sub, "passwd") == 0)
        fn = user_passwd;
    else if (strcmp(sub, "delete") == 0)
        fn = user_delete;
    else if (strcmp(sub, "set-role") == 0)
        fn = user_set_role;
    else if (strcmp(sub, "verify-email") == 0)
        fn = user_verify_email;
    else if (strcmp(sub, "disable") != 0 && strcmp(sub, "enable") != 0) {
        fprintf(stderr,
                "jwtd user: unknown subcommand %s (create, list, passwd, disable, "
                "enable, set-role, verify-email, delete)\n",
                sub);
        return CLI_EXIT_USAGE;
    }
    root_t *r;
    int rc = cli_root_open(argc, argv, 0, &r);
    if (rc != 0)
        return rc;
    /* The subcommand's argv starts with "user SUB", the name the option parser reports. */
    char name[32];
    snprintf(name, sizeof name, "user %s", sub);
    char **sub_argv = xcalloc((size_t)argc, sizeof *sub_argv);
    for (int i = 1; i < argc; i++)
        sub_argv[i - 1] = argv[i];
    sub_argv[0] = name;
    if (fn)
        rc = fn(argc - 1, sub_argv, r);
    else
        rc = user_set_active(argc - 1, sub_argv, r, strcmp(sub, "enable") == 0);
    free(sub_argv);
    root_close(r);
    return rc;
}
