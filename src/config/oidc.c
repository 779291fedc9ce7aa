/*
 * oidc.c - the per-name variables of social sign-in: JWTD_OIDC_<NAME>_ISSUER, _CLIENT_ID,
 * _CLIENT_SECRET_FILE, _SCOPES and _TRUST_MFA for each name of JWTD_OIDC_PROVIDERS.
 *
 * DESIGN: their names depend on a value (the provider list), so they cannot be rows of the
 * table. While loading, a name that is no row but has the shape JWTD_OIDC_<NAME>_<FIELD>
 * (FIELD one of the five above) is kept aside with its value (cfg__oidc_take), whatever
 * order the sources give them in; cfg_finish, once JWTD_OIDC_PROVIDERS is final, builds
 * one struct cfg_oidc_provider per listed name from them (cfg__oidc_finish), checks each
 * one and warns about values for names that are not listed. `jwtd config` prints them
 * after the rows (cfg__oidc_format), a reload keeps the running ones (they need a
 * restart), and docs/config.md explains them after the table.
 *
 * <NAME> is the listed name upper-cased, with '-' written '_' (google -> GOOGLE, my-idp ->
 * MY_IDP). Like other names, file keys may omit JWTD_ and use any case; the environment
 * takes only the exact upper-case name.
 */
#include "config/table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "runtime/alloc.h"

#define OIDC_DEFAULT_SCOPES "openid email profile"
#define OIDC_MAX_VARS       256 /* per-name values kept while loading; beyond it, an error */
#define OIDC_MAX_VALUE      2048

/* The per-name fields, in the order they print. */
enum oidc_field { F_ISSUER, F_CLIENT_ID, F_CLIENT_SECRET_FILE, F_SCOPES, F_TRUST_MFA, F_COUNT };
static const char *const field_suffix[F_COUNT] = {"_ISSUER", "_CLIENT_ID", "_CLIENT_SECRET_FILE",
                                                  "_SCOPES", "_TRUST_MFA"};

struct oidc_var {
    char *name; /* upper-case NAME part ("MY_IDP") */
    enum oidc_field field;
    char *value;
};

struct oidc_vars {
    struct oidc_var items[OIDC_MAX_VARS];
    size_t count;
};

static char upper(char c)
{
    return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

/* The variable NAME part of a listed provider name, into out (cap > 32). */
static void env_name(const char *listed, char *out, size_t cap)
{
    size_t k = 0;
    for (; listed[k] && k + 1 < cap; k++)
        out[k] = listed[k] == '-' ? '_' : upper(listed[k]);
    out[k] = '\0';
}

/* See table.h. */
int cfg__oidc_take(struct cfg *cfg, str_t name, str_t value, bool exact, char *err, size_t cap)
{
    char key[128];
    if (name.len >= 5 && str_eq_nocase(str_make(name.ptr, 5), STR_LIT("JWTD_")))
        name = str_make(name.ptr + 5, name.len - 5);
    else if (exact)
        return 0;
    if (name.len < 5 || name.len >= sizeof key ||
        !str_eq_nocase(str_make(name.ptr, 5), STR_LIT("OIDC_")))
        return 0;
    for (size_t k = 0; k < name.len; k++) {
        if (exact && name.ptr[k] >= 'a' && name.ptr[k] <= 'z')
            return 0; /* the environment's names are exact */
        key[k] = upper(name.ptr[k]);
    }
    key[name.len] = '\0';
    const char *rest = key + 5;
    size_t rlen = name.len - 5;
    for (int f = 0; f < F_COUNT; f++) {
        size_t sl = strlen(field_suffix[f]);
        if (rlen <= sl || strcmp(rest + rlen - sl, field_suffix[f]) != 0)
            continue;
        {
            struct oidc_vars *vs = cfg->_oidc_vars;
            if (!vs)
                vs = cfg->_oidc_vars = xcalloc(1, sizeof *vs);
            char *n = xstrndup(rest, rlen - sl);
            if (value.len > OIDC_MAX_VALUE) {
                cfg__errf(err, cap, NULL, NULL, "JWTD_%s: longer than %d bytes", key,
                          OIDC_MAX_VALUE);
                free(n);
                return ERR_CONFIG;
            }
            for (size_t i = 0; i < vs->count; i++) {
                if (vs->items[i].field == (enum oidc_field)f && strcmp(vs->items[i].name, n) == 0) {
                    free(vs->items[i].value);
                    vs->items[i].value = xstrndup(value.ptr, value.len);
                    free(n);
                    return 1;
                }
            }
            if (vs->count == OIDC_MAX_VARS) {
                free(n);
                cfg__errf(err, cap, NULL, NULL, "too many JWTD_OIDC_* variables");
                return ERR_CONFIG;
            }
            vs->items[vs->count++] =
                (struct oidc_var){n, (enum oidc_field)f, xstrndup(value.ptr, value.len)};
            return 1;
        }
    }
    return 0;
}

static const char *var_value(const struct cfg *cfg, const char *name, enum oidc_field f)
{
    const struct oidc_vars *vs = cfg->_oidc_vars;
    for (size_t i = 0; vs && i < vs->count; i++)
        if (vs->items[i].field == f && strcmp(vs->items[i].name, name) == 0)
            return vs->items[i].value;
    return NULL;
}

static bool is_loopback_host(str_t h)
{
    return str_eq(h, STR_LIT("127.0.0.1")) || str_eq_nocase(h, STR_LIT("localhost")) ||
           str_eq(h, STR_LIT("[::1]"));
}

/*
 * An issuer: https://HOST[:PORT][/PATH], or http:// when the host is a loopback address or
 * the environment is development; no user info, query, fragment, blank or control byte.
 */
static int issuer_check(const char *v, bool development, char *why, size_t cap)
{
    str_t s = str_cstr(v);
    size_t skip;
    bool http = false;
    if (str_starts_with(s, STR_LIT("https://")))
        skip = 8;
    else if (str_starts_with(s, STR_LIT("http://")))
        skip = 7, http = true;
    else {
        snprintf(why, cap, "expected an https:// URL (the provider's issuer)");
        return -1;
    }
    for (size_t k = 0; k < s.len; k++) {
        unsigned char c = (unsigned char)s.ptr[k];
        if (c <= 0x20 || c >= 0x7f || c == '?' || c == '#' || c == '@' || c == '\\' || c == '"') {
            snprintf(why, cap, "an issuer has no blank, user info, query or fragment");
            return -1;
        }
    }
    str_t rest = str_make(s.ptr + skip, s.len - skip);
    size_t hl = 0;
    if (rest.len && rest.ptr[0] == '[') {
        const char *rb = memchr(rest.ptr, ']', rest.len);
        hl = rb ? (size_t)(rb - rest.ptr) + 1 : 0;
    } else {
        while (hl < rest.len && rest.ptr[hl] != '/' && rest.ptr[hl] != ':')
            hl++;
    }
    if (hl == 0) {
        snprintf(why, cap, "the issuer URL has no host");
        return -1;
    }
    if (http && !development && !is_loopback_host(str_make(rest.ptr, hl))) {
        snprintf(why, cap,
                 "http:// is allowed only on a loopback host or in development; use https://");
        return -1;
    }
    return 0;
}

/* Scopes: printable ASCII words separated by spaces, openid among them. */
static int scopes_check(const char *v, char *why, size_t cap)
{
    bool openid = false;
    str_t s = str_cstr(v);
    size_t k = 0;
    while (k < s.len) {
        while (k < s.len && s.ptr[k] == ' ')
            k++;
        size_t start = k;
        while (k < s.len && s.ptr[k] != ' ') {
            unsigned char c = (unsigned char)s.ptr[k];
            if (c < 0x21 || c > 0x7e || c == '"' || c == '\\') {
                snprintf(why, cap, "a scope is printable ASCII without quotes or backslashes");
                return -1;
            }
            k++;
        }
        if (str_eq(str_make(s.ptr + start, k - start), STR_LIT("openid")))
            openid = true;
    }
    if (!openid) {
        snprintf(why, cap, "the scopes must include openid");
        return -1;
    }
    return 0;
}

static void provider_dispose(struct cfg_oidc_provider *p)
{
    free(p->name);
    free(p->issuer);
    free(p->client_id);
    free(p->client_secret_file);
    free(p->scopes);
    memset(p, 0, sizeof *p);
}

static void providers_dispose(struct cfg *cfg)
{
    for (size_t i = 0; i < cfg->oidc_count; i++)
        provider_dispose(&cfg->oidc[i]);
    free(cfg->oidc);
    cfg->oidc = NULL;
    cfg->oidc_count = 0;
}

/* See table.h. */
int cfg__oidc_finish(struct cfg *cfg, char *err, size_t cap)
{
    const cfg_strlist_t *l = &cfg->oidc_providers;
    char why[256];
    providers_dispose(cfg);
    cfg->oidc = l->count ? xcalloc(l->count, sizeof *cfg->oidc) : NULL;
    for (size_t i = 0; i < l->count; i++) {
        char n[64];
        env_name(l->items[i], n, sizeof n);
        for (size_t j = 0; j < i; j++) {
            char m[64];
            env_name(l->items[j], m, sizeof m);
            if (strcmp(n, m) == 0) {
                cfg__errf(err, cap, NULL, "JWTD_OIDC_PROVIDERS", "provider %s listed twice", n);
                return ERR_CONFIG;
            }
        }
        struct cfg_oidc_provider *p = &cfg->oidc[cfg->oidc_count++];
        p->name = xstrdup(l->items[i]);
        for (char *c = p->name; *c; c++)
            if (*c >= 'A' && *c <= 'Z')
                *c = (char)(*c - 'A' + 'a');
        const char *issuer = var_value(cfg, n, F_ISSUER);
        const char *client_id = var_value(cfg, n, F_CLIENT_ID);
        const char *secret = var_value(cfg, n, F_CLIENT_SECRET_FILE);
        const char *scopes = var_value(cfg, n, F_SCOPES);
        const char *trust_mfa = var_value(cfg, n, F_TRUST_MFA);
        if (!issuer || !*issuer || !client_id || !*client_id) {
            cfg__errf(err, cap, NULL, NULL,
                      "JWTD_OIDC_PROVIDERS lists %s: set JWTD_OIDC_%s_ISSUER and "
                      "JWTD_OIDC_%s_CLIENT_ID",
                      p->name, n, n);
            return ERR_CONFIG;
        }
        if (issuer_check(issuer, cfg->environment == CFG_ENV_DEVELOPMENT, why, sizeof why) != 0) {
            cfg__errf(err, cap, NULL, NULL, "JWTD_OIDC_%s_ISSUER: %s", n, why);
            return ERR_CONFIG;
        }
        for (const char *c = client_id; *c; c++) {
            if ((unsigned char)*c < 0x20 || *c == 0x7f) {
                cfg__errf(err, cap, NULL, NULL, "JWTD_OIDC_%s_CLIENT_ID: control character", n);
                return ERR_CONFIG;
            }
        }
        if (scopes && scopes_check(scopes, why, sizeof why) != 0) {
            cfg__errf(err, cap, NULL, NULL, "JWTD_OIDC_%s_SCOPES: %s", n, why);
            return ERR_CONFIG;
        }
        if (trust_mfa && *trust_mfa && cfg_parse_bool(str_cstr(trust_mfa), &p->trust_mfa) != 0) {
            cfg__errf(err, cap, NULL, NULL, "JWTD_OIDC_%s_TRUST_MFA: expected true or false", n);
            return ERR_CONFIG;
        }
        p->issuer = xstrdup(issuer);
        p->client_id = xstrdup(client_id);
        p->client_secret_file = secret && *secret ? xstrdup(secret) : NULL;
        p->scopes = xstrdup(scopes && *scopes ? scopes : OIDC_DEFAULT_SCOPES);
    }
    const struct oidc_vars *vs = cfg->_oidc_vars;
    for (size_t i = 0; vs && i < vs->count; i++) {
        bool listed = false;
        for (size_t j = 0; j < l->count && !listed; j++) {
            char m[64];
            env_name(l->items[j], m, sizeof m);
            listed = strcmp(m, vs->items[i].name) == 0;
        }
        if (!listed && (i == 0 || strcmp(vs->items[i - 1].name, vs->items[i].name) != 0))
            cfg__warn_later(cfg,
                            "msg=\"OpenID Connect provider not in JWTD_OIDC_PROVIDERS, its "
                            "variables are ignored\" name=JWTD_OIDC_%s%s",
                            vs->items[i].name, field_suffix[vs->items[i].field]);
    }
    return 0;
}

/* See table.h. */
void cfg__oidc_dispose(struct cfg *cfg)
{
    providers_dispose(cfg);
    struct oidc_vars *vs = cfg->_oidc_vars;
    for (size_t i = 0; vs && i < vs->count; i++) {
        free(vs->items[i].name);
        free(vs->items[i].value);
    }
    free(vs);
    cfg->_oidc_vars = NULL;
}

/* See table.h. */
int cfg__oidc_format(const struct cfg *cfg, buf_t *out)
{
    int rc = 0;
    for (size_t i = 0; i < cfg->oidc_count; i++) {
        const struct cfg_oidc_provider *p = &cfg->oidc[i];
        const char *values[F_COUNT] = {p->issuer, p->client_id, p->client_secret_file, p->scopes,
                                       p->trust_mfa ? "true" : "false"};
        char n[64];
        env_name(p->name, n, sizeof n);
        for (int f = 0; f < F_COUNT; f++)
            rc |= buf_printf(out, "JWTD_OIDC_%s%s=%s\n", n, field_suffix[f],
                             values[f] ? values[f] : "");
    }
    return rc ? ERR_TOO_LARGE : 0;
}

/* See table.h. */
bool cfg__oidc_keep_running(struct cfg *next, const struct cfg *running)
{
    buf_t a, b;
    buf_init(&a, 1024 * 1024);
    buf_init(&b, 1024 * 1024);
    (void)cfg__oidc_format(next, &a);
    (void)cfg__oidc_format(running, &b);
    bool same = str_eq(buf_str(&a), buf_str(&b));
    buf_dispose(&a);
    buf_dispose(&b);
    if (same)
        return false;
    providers_dispose(next);
    next->oidc = running->oidc_count ? xcalloc(running->oidc_count, sizeof *next->oidc) : NULL;
    for (size_t i = 0; i < running->oidc_count; i++) {
        const struct cfg_oidc_provider *p = &running->oidc[i];
        next->oidc[i] = (struct cfg_oidc_provider){
            xstrdup(p->name),      xstrdup(p->issuer),
            xstrdup(p->client_id), p->client_secret_file ? xstrdup(p->client_secret_file) : NULL,
            xstrdup(p->scopes),    p->trust_mfa};
    }
    next->oidc_count = running->oidc_count;
    return true;
}

/* See table.h. */
void cfg__oidc_markdown(buf_t *b)
{
    buf_append_cstr(
        b, "\n"
           "## OpenID Connect providers (per name)\n"
           "\n"
           "Each name of `JWTD_OIDC_PROVIDERS` is configured by variables whose names hold it,\n"
           "upper-cased, with `-` written `_` (`google` -> `JWTD_OIDC_GOOGLE_ISSUER`). Values for\n"
           "a name that is not listed are ignored with a warning. `jwtd config` prints them\n"
           "after the table's variables; a change needs a restart. See social-login.md.\n"
           "\n"
           "| variable | type | default | meaning |\n"
           "|---|---|---|---|\n"
           "| `JWTD_OIDC_<NAME>_ISSUER` | string | required | the provider's issuer, exactly as "
           "its discovery document's `issuer`; `<issuer>/.well-known/openid-configuration` is "
           "fetched; https://, or http:// on a loopback host or in development |\n"
           "| `JWTD_OIDC_<NAME>_CLIENT_ID` | string | required | the client id jwtd is registered "
           "with at the provider |\n"
           "| `JWTD_OIDC_<NAME>_CLIENT_SECRET_FILE` | path | unset | file holding the client "
           "secret (client_secret_basic or client_secret_post, as the provider supports); unset "
           "= a public client (PKCE only) |\n"
           "| `JWTD_OIDC_<NAME>_SCOPES` | string | `" OIDC_DEFAULT_SCOPES "` | scopes asked "
           "for, space-separated; must include `openid` |\n"
           "| `JWTD_OIDC_<NAME>_TRUST_MFA` | bool | `false` | an ID token whose `amr` proves a "
           "multi-factor sign-in at the provider (`mfa`, `otp`, `hwk`, `swk`, `sc`, `sms`, "
           "`tel`) stands for jwtd's second step (and for `JWTD_MFA_REQUIRED_ROLES`); false = a "
           "user with a factor of jwtd's is asked for it after the provider (docs/mfa.md) |\n");
}
