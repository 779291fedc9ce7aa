/*
 * keyset.c - `jwtd keys`: the key set for live rotation (src/root/keyset.c has the format).
 *
 *   jwtd keys list                  every key: kid, algorithm, state, times
 *   jwtd keys add [--alg ALG] [--from FILE]
 *                                   generates a key (or imports a PEM private key / secret
 *                                   file) as `next`: published, not signing; the first key of
 *                                   an empty set is `active` at once
 *   jwtd keys activate KID          KID signs from now on; the active key becomes `retired`
 *   jwtd keys retire KID [--compromised]
 *                                   a `next` key is retired (it verifies until it expires);
 *                                   --compromised drops KID at once (a leaked key)
 *
 * A change is written under the set's lock, expired retired keys are pruned, then the
 * running server is told: SIGHUP to the process named by JWTD_PID_FILE, or a line saying
 * to send it. Commands never talk to the server otherwise.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/clock.h"
#include "common/err.h"
#include "runtime/pidfile.h"

/* See cli.h. */
void cli_keys_help(FILE *out)
{
    fprintf(out,
            "usage: jwtd keys <subcommand> [options]\n\n"
            "  list                 every key of the set: kid, algorithm, state, when it was\n"
            "                       created, activated, retired, and until when a retired key\n"
            "                       still verifies\n"
            "  add [--alg ALG] [--from FILE]\n"
            "                       generate a key (default JWTD_ALGORITHM), or import a PEM\n"
            "                       private key or secret file, as `next`: published in the\n"
            "                       JWKS, not signing yet (the first key of a set is active)\n"
            "  activate KID         KID signs from now on; the active key is retired\n"
            "  retire KID [--compromised]\n"
            "                       retire a `next` key; --compromised drops KID at once, so\n"
            "                       tokens it signed stop verifying (a leaked key)\n\n"
            "The set lives in JWTD_KEYS_DIR (default JWTD_DATA_DIR/keys): one file per key\n"
            "(0600) and keys.state. jwtd serve uses it when none of JWTD_SECRET_KEY,\n"
            "JWTD_SECRET_KEY_FILE and JWTD_SIGNING_KEY_FILE is set. A retired key verifies\n"
            "until the longest token lifetime (plus JWTD_LEEWAY) has passed, then it is\n"
            "dropped. After a change the server named by JWTD_PID_FILE gets a SIGHUP and\n"
            "applies it without a restart; without a PID file, send it yourself.\n"
            "See docs/key-rotation.md.\n\n");
    cli_print_opts(out,
                   (const struct cli_opt[]){
                       {"alg", 'a', CLI_OPT_STRING, NULL, "ALG", "add: the key's algorithm"},
                       {"from", 0, CLI_OPT_STRING, NULL, "FILE", "add: import this key"},
                       {"compromised", 0, CLI_OPT_FLAG, NULL, NULL, "retire: drop the key at once"},
                       CLI_OPT_END});
}

/* "2026-12-07 14:05:00Z", or "-" for 0. */
static const char *when(int64_t t, char *buf, size_t cap)
{
    if (t <= 0)
        return "-";
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, cap, "%Y-%m-%d %H:%M:%SZ", &tm);
    return buf;
}

/* Tells the running server to reload: SIGHUP to JWTD_PID_FILE's process, else a hint. */
static void signal_server(const root_t *r)
{
    pid_t pid = r->opt.pid_file ? pidfile_read(r->opt.pid_file) : 0;
    if (pid > 0 && kill(pid, SIGHUP) == 0) {
        printf("sent SIGHUP to jwtd (pid %ld from %s): it applies the change now\n", (long)pid,
               r->opt.pid_file);
        return;
    }
    if (pid > 0)
        fprintf(stderr, "jwtd keys: cannot signal pid %ld (%s)\n", (long)pid, strerror(errno));
    printf("send SIGHUP to the running jwtd to apply the change (kill -HUP <pid>; with "
           "JWTD_PID_FILE set this command does it)\n");
}

static int keys_list(root_t *r)
{
    root_keyset_t ks;
    char err[1024], t1[32], t2[32], t3[32], t4[32];
    const char *dir = root_keys_dir(r);
    int rc = root_keyset_read(dir, &ks, err, sizeof err);
    if (rc == ERR_NOT_FOUND) {
        printf("no key set in %s: the server uses the key variables (or the development "
               "key); `jwtd keys add` starts a set\n",
               dir);
        return CLI_EXIT_OK;
    }
    if (rc != 0) {
        fprintf(stderr, "jwtd keys: %s\n", err);
        return CLI_EXIT_FAILURE;
    }
    int64_t now = clock_now_s(), keep = root_keyset_keep_s(r);
    printf("%-43s  %-5s  %-8s  %-20s  %-20s  %-20s  %s\n", "KID", "ALG", "STATE", "CREATED",
           "ACTIVATED", "RETIRED", "VERIFIES UNTIL");
    for (size_t i = 0; i < ks.count; i++) {
        const root_key_entry_t *e = &ks.items[i];
        const char *until = e->state != ROOT_KEY_RETIRED ? "-"
                            : root_keyset_expired(e, now, keep)
                                ? "expired (dropped)"
                                : when(e->retired_at + keep, t4, sizeof t4);
        printf("%-43s  %-5s  %-8s  %-20s  %-20s  %-20s  %s\n", e->kid, e->alg,
               root_key_state_name(e->state), when(e->created_at, t1, sizeof t1),
               when(e->activated_at, t2, sizeof t2), when(e->retired_at, t3, sizeof t3), until);
    }
    root_keyset_dispose(&ks);
    return CLI_EXIT_OK;
}

/* What a changing subcommand asks for. */
struct change {
    const char *sub, *kid, *alg, *from;
    bool compromised;
};

/* Applies ch to ks (read under the lock); the key file of `add` is written here. */
static int apply_change(root_t *r, const char *dir, root_keyset_t *ks, const struct change *ch,
                        int64_t now, char *err, size_t cap)
{
    if (strcmp(ch->sub, "add") == 0) {
        char kid[ROOT_KID_MAX + 1];
        const char *alg = ch->alg ? ch->alg : r->opt.algorithm;
        int rc = root_keyset_new_key(dir, alg, ch->from, kid, sizeof kid, err, cap);
        if (rc == 0)
            rc = root_keyset_add(ks, kid, alg, now, err, cap);
        if (rc == 0)
            printf("added %s key %s as %s\n", alg, kid,
                   root_key_state_name(root_keyset_find(ks, kid)->state));
        return rc;
    }
    if (strcmp(ch->sub, "activate") == 0) {
        const root_key_entry_t *old = root_keyset_active(ks);
        char was[ROOT_KID_MAX + 1] = "";
        if (old)
            snprintf(was, sizeof was, "%s", old->kid);
        int rc = root_keyset_activate(ks, ch->kid, now, root_keyset_keep_s(r), err, cap);
        if (rc == 0) {
            printf("key %s is active: new tokens are signed with it\n", ch->kid);
            if (was[0])
                printf("key %s is retired: it verifies until its tokens have expired\n", was);
        }
        return rc;
    }
    if (ch->compromised) {
        int rc = root_keyset_remove(ks, ch->kid, err, cap);
        if (rc == 0)
            printf("key %s dropped: tokens it signed no longer verify\n", ch->kid);
        return rc;
    }
    int rc = root_keyset_retire(ks, ch->kid, now, err, cap);
    if (rc == 0)
        printf("key %s is retired: it verifies until its tokens have expired\n", ch->kid);
    return rc;
}

/* add, activate, retire: under the lock, read, change, prune, write, clean, signal. */
static int keys_change(root_t *r, const struct change *ch)
{
    char err[1200];
    const char *dir = root_keys_dir(r);
    int lock = root_keyset_lock(dir, err, sizeof err);
    if (lock < 0) {
        fprintf(stderr, "jwtd keys: %s\n", err);
        return CLI_EXIT_FAILURE;
    }
    root_keyset_t ks = {0};
    int64_t now = clock_now_s();
    int rc = root_keyset_read(dir, &ks, err, sizeof err);
    if (rc == ERR_NOT_FOUND && strcmp(ch->sub, "add") == 0)
        rc = 0;
    if (rc == 0)
        rc = apply_change(r, dir, &ks, ch, now, err, sizeof err);
    if (rc == 0) {
        size_t pruned = root_keyset_prune(&ks, now, root_keyset_keep_s(r));
        if (pruned)
            printf("%zu retired key%s past the lifetime of its tokens removed\n", pruned,
                   pruned == 1 ? "" : "s");
        rc = root_keyset_write(dir, &ks, err, sizeof err);
    }
    if (rc == 0)
        root_keyset_clean(dir, &ks);
    root_keyset_dispose(&ks);
    close(lock);
    if (rc != 0) {
        fprintf(stderr, "jwtd keys %s: %s\n", ch->sub, err);
        return rc == ERR_INVALID ? CLI_EXIT_USAGE : CLI_EXIT_FAILURE;
    }
    signal_server(r);
    return CLI_EXIT_OK;
}

/* See cli.h. */
int cli_keys(int argc, char **argv)
{
    if (argc < 2) {
        cli_keys_help(stderr);
        return CLI_EXIT_USAGE;
    }
    struct change ch = {argv[1], NULL, NULL, NULL, false};
    const struct cli_opt opts[] = {
        {"alg", 'a', CLI_OPT_STRING, &ch.alg, "ALG", "add: the key's algorithm"},
        {"from", 0, CLI_OPT_STRING, &ch.from, "FILE", "add: import this key"},
        {"compromised", 0, CLI_OPT_FLAG, &ch.compromised, NULL, "retire: drop the key at once"},
        CLI_OPT_END};
    const char *usage = NULL;
    int want = 0;
    if (strcmp(ch.sub, "list") == 0) {
        usage = "keys list";
    } else if (strcmp(ch.sub, "add") == 0) {
        usage = "keys add [--alg ALG] [--from FILE]";
    } else if (strcmp(ch.sub, "activate") == 0) {
        usage = "keys activate KID";
        want = 1;
    } else if (strcmp(ch.sub, "retire") == 0) {
        usage = "keys retire KID [--compromised]";
        want = 1;
    } else {
        fprintf(stderr, "jwtd keys: unknown subcommand %s (list, add, activate, retire)\n", ch.sub);
        return CLI_EXIT_USAGE;
    }
    char name[32];
    snprintf(name, sizeof name, "keys %s", ch.sub);
    char *saved = argv[1];
    argv[1] = name;
    struct cli_args args;
    int rc = cli_parse_args(argc - 1, argv + 1, opts, want, usage, &args);
    argv[1] = saved;
    if (rc != 0)
        return rc;
    if ((ch.alg || ch.from) && strcmp(ch.sub, "add") != 0) {
        fprintf(stderr, "jwtd keys %s: --alg and --from are options of `keys add`\n", ch.sub);
        return CLI_EXIT_USAGE;
    }
    if (ch.compromised && strcmp(ch.sub, "retire") != 0) {
        fprintf(stderr, "jwtd keys %s: --compromised is an option of `keys retire`\n", ch.sub);
        return CLI_EXIT_USAGE;
    }
    if (want) {
        ch.kid = args.v[0];
        if (!root_kid_valid(str_cstr(ch.kid))) {
            fprintf(stderr, "jwtd keys %s: invalid kid\n", ch.sub);
            return CLI_EXIT_USAGE;
        }
    }
    root_t *r;
    if ((rc = cli_root_open(argc, argv, 0, &r)) != 0)
        return rc;
    rc = strcmp(ch.sub, "list") == 0 ? keys_list(r) : keys_change(r, &ch);
    root_close(r);
    return rc;
}
