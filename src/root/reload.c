/*
 * reload.c - what SIGHUP changes in a running `jwtd serve` (root_reload, called by
 * serve_reload on the main loop): the configuration read again the uniform way (defaults,
 * the same `--config FILE`, the environment the process started with) and the keys.
 *
 * - Variables marked CFG_F_RELOAD (docs/config.md "(reloads)") take effect: the key
 *   settings and the key set (a new key ring), the token lifetimes, the rate limits and the
 *   invalid-token guard (one new snapshot of the token service, auth_reload), the log level.
 * - Any other variable that changed is logged as a warning that it needs a restart, and
 *   keeps its running value.
 * - Nothing changes when the new configuration or a key is invalid: the error is logged
 *   and the running configuration stays in force. The process never exits here.
 *
 * DESIGN: the new configuration is a struct cfg of its own (r->_live); r->_cfg and r->opt,
 * which modules built at start-up may point into, are never touched. Modules take what can
 * change through their own reload entry (auth_reload copies what it keeps), so _live can be
 * replaced by the next reload.
 */
#define LOG_MODULE "reload"
#include "root/root.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "config/config.h"
#include "jose/jose.h"
#include "runtime/alloc.h"
#include "runtime/errtab.h"
#include "runtime/log.h"

/* The variables that changed, as "A,B" lists: logged once the reload has succeeded. */
struct changes {
    size_t live, restart;
    buf_t live_names, restart_names;
};

static void on_change(const char *name, bool reloads, void *arg)
{
    struct changes *c = arg;
    buf_t *b = reloads ? &c->live_names : &c->restart_names;
    (void)buf_printf(b, "%s%s", b->len ? "," : "", name);
    if (reloads)
        c->live++;
    else
        c->restart++;
}

static void cfg_free(struct cfg *c)
{
    if (c) {
        cfg_dispose(c);
        free(c);
    }
}

/* See root.h. */
int root_reload(root_t *r)
{
    char err[1024];
    char esc[1200];
    struct cfg *next = xcalloc(1, sizeof *next);
    if (cfg_load(next, r->_config_path, err, sizeof err) != 0) {
        log_error("msg=\"SIGHUP: invalid configuration, the running one stays in force\" "
                  "error=\"%s\"",
                  log_value_escape(esc, sizeof esc, err, strlen(err)));
        cfg_free(next);
        return ERR_CONFIG;
    }
    struct changes ch = {0};
    buf_init(&ch.live_names, 8192);
    buf_init(&ch.restart_names, 8192);
    const struct cfg *running = r->_live ? r->_live : r->_cfg;
    cfg_reload_merge(next, running, on_change, &ch);

    jose_keyring_t *ring = NULL;
    int rc;
    if (root__keys_load(next, &ring, err, sizeof err) != 0) {
        log_error("msg=\"SIGHUP: keys not reloaded, the running keys and configuration stay in "
                  "force\" error=\"%s\"",
                  log_value_escape(esc, sizeof esc, err, strlen(err)));
        cfg_free(next);
        rc = ERR_CONFIG;
        goto out;
    }
    /* the options of the new configuration, as start-up computes them (strings point into
       next; auth_reload copies what it keeps) */
    root_t tmp;
    memset(&tmp, 0, sizeof tmp);
    tmp._cfg = next;
    root__options(&tmp);
    jwtv_options vopt;
    root__keys_verify_options(next, ring, &vopt);
    rc = auth_reload(r->auth, &tmp.opt.auth, ring, &vopt);
    const jose_key_t *active = jose_keyring_active(ring);
    char kid[JOSE_KID_MAX + 1];
    snprintf(kid, sizeof kid, "%s", active ? jose_key_kid(active) : "");
    size_t nkeys = jose_keyring_count(ring);
    jose_keyring_release(ring);
    if (rc != 0) {
        log_error("msg=\"SIGHUP: the token service refused the new keys, the running ones stay "
                  "in force\" err=%s",
                  err_name(rc));
        cfg_free(next);
        goto out;
    }
    enum log_level level;
    if (next->log_level && log_level_parse(next->log_level, &level) == 0)
        log_set_level(level);
    cfg_free(r->_live);
    r->_live = next;
    if (ch.restart)
        log_warn("msg=\"SIGHUP: changed setting needs a restart; the running value stays until "
                 "then\" vars=%.*s",
                 STR_FMT(buf_str(&ch.restart_names)));
    log_info("msg=\"SIGHUP: configuration and keys reloaded\" applied=%.*s kid=%s keys=%zu",
             STR_FMT(ch.live ? buf_str(&ch.live_names) : STR_LIT("none")), kid, nkeys);
out:
    buf_dispose(&ch.live_names);
    buf_dispose(&ch.restart_names);
    return rc;
}
