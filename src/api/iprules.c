/*
 * iprules.c - IP allowlists (issue 9, seed 004 token binding options).
 *
 * Two rules, each one variable away and off by default (an empty list):
 *   - JWTD_IP_ALLOWLIST: the deployment answers only clients inside these networks; others
 *     get 403 permission_denied on every route except /healthz (the load balancer's probe),
 *     logged as event=ip_denied. The "iprules" middleware link.
 *   - JWTD_ADMIN_IP_ALLOWLIST: a token whose role is admin is accepted only from these
 *     networks (403 otherwise, event=ip_denied role=admin): a stolen admin token is useless
 *     outside the office/VPN. Checked by api_authenticate (authn.c) after the signature.
 * The client address is api_client_ip(): the TCP peer, or the X-Forwarded-For hop added by
 * a proxy listed in JWTD_TRUSTED_PROXIES -- never a header from an untrusted peer.
 */
#define LOG_MODULE "api"

#include <arpa/inet.h>
#include <string.h>

#include "api/api.h"
#include "common/err.h"
#include "config/config.h"
#include "runtime/log.h"

static struct {
    const ip_net_list_t *all;   /* JWTD_IP_ALLOWLIST (borrowed from the cfg) */
    const ip_net_list_t *admin; /* JWTD_ADMIN_IP_ALLOWLIST */
} g;

/* The client address of req (api_client_ip), parsed back. */
static void client_addr(http_req_t *req, ip_addr_t *out, char *text, size_t cap)
{
    api_client_ip(req, text, cap);
    if (ip_parse(str_cstr(text), out) != 0)
        *out = *http_req_peer_addr(req);
}

/* Whether the client's address is in list; a refusal is logged with what (the rule). */
static bool client_in(http_req_t *req, const ip_net_list_t *list, const char *what)
{
    ip_addr_t a;
    char ip[64];
    client_addr(req, &a, ip, sizeof ip);
    if (ip_net_list_contains(list, &a))
        return true;
    log_audit_warn(http_req_rid(req), "event=ip_denied ip=%s %s", ip, what);
    return false;
}

static int on_iprules(http_req_t *req, void *data, uint32_t self)
{
    (void)data;
    (void)self;
    if (str_eq(req->path, STR_LIT("/healthz")))
        return ERR_DECLINED;
    if (client_in(req, g.all, "rule=JWTD_IP_ALLOWLIST"))
        return ERR_DECLINED;
    http_respond_error(req, ERR_PERMISSION, "Client address not allowed.");
    return 0;
}

/* See api.h. */
int api_iprules_register(const struct cfg *cfg)
{
    g.all = cfg->ip_allowlist.count ? &cfg->ip_allowlist : NULL;
    g.admin = cfg->admin_ip_allowlist.count ? &cfg->admin_ip_allowlist : NULL;
    return g.all ? api_middleware_add("iprules", on_iprules, NULL) : 0;
}

/* See api.h. */
bool api_iprules_role_allowed(http_req_t *req, const char *role)
{
    if (!g.admin || !role || strcmp(role, "admin") != 0)
        return true;
    return client_in(req, g.admin, "role=admin rule=JWTD_ADMIN_IP_ALLOWLIST");
}
