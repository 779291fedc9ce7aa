/*
 * client.c - `jwtd client create|list|show|update|rotate-secret|delete`: the OAuth 2.0 /
 * OpenID Connect clients (relying parties) of jwtd as a provider (auth/oauth.h,
 * docs/oidc.md). The secret of a confidential client is printed once, by create and
 * rotate-secret; only its hash is stored.
 */
#define LOG_MODULE "cli"
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "auth/oauth.h"
#include "cli/cli.h"
#include "common/clock.h"
#include "common/err.h"
#include "runtime/alloc.h"
#include "runtime/errtab.h"

#define MAX_URIS 32

/* See cli.h. */
void cli_client_help(FILE *out)
{
    fprintf(out,
            "usage: jwtd client create --name N --redirect-uri URI [--redirect-uri URI ...]\n"
            "                          [--public] [--first-party] [--scope S]\n"
            "                          [--post-logout-redirect-uri URI ...] [--grant-types G]\n"
            "       jwtd client list [--json]\n"
            "       jwtd client show CLIENT_ID\n"
            "       jwtd client update CLIENT_ID [--name N] [--redirect-uri URI ...]\n"
            "                          [--first-party | --no-first-party] [--scope S]\n"
            "                          [--post-logout-redirect-uri URI ...] [--grant-types G]\n"
            "       jwtd client rotate-secret CLIENT_ID\n"
            "       jwtd client delete CLIENT_ID\n\n"
            "Manages the OAuth 2.0 / OpenID Connect clients of jwtd as a provider\n"
            "(docs/oidc.md). create prints the client as JSON with its client_id and, for a\n"
            "confidential client, its client_secret: shown once, stored hashed. A public\n"
            "client (an SPA, a mobile app) has no secret and must use PKCE. A first-party\n"
            "client is not asked for the user's consent. --scope limits the scopes the client\n"
            "may ask for (default: \"openid profile email offline_access roles\"); --grant-types\n"
            "the grants (default: authorization_code refresh_token, plus client_credentials\n"
            "for a confidential client). Redirect URIs are matched exactly. delete revokes\n"
            "every session issued to the client first.\n\n"
            "update changes only the options given, checked as create checks them, and prints\n"
            "the client as show does. A list option given replaces the whole list (repeat it\n"
            "to keep several URIs; --post-logout-redirect-uri '' empties that list); --scope\n"
            "and --grant-types replace theirs. Sessions already issued keep their scopes;\n"
            "the client type (public or confidential) cannot change.\n"
            "rotate-secret gives a confidential client a new client_secret, printed once as\n"
            "JSON: the old secret stops working at once (no overlap window: deploy the new\n"
            "one right away). Sessions issued to the client are kept.\n\n");
    cli_print_opts(
        out,
        (const struct cli_opt[]){
            {"name", 'n', CLI_OPT_STRING, NULL, "N", "the application's name"},
            {"redirect-uri", 'r', CLI_OPT_STRING, NULL, "URI", "a redirect URI (repeat for more)"},
            {"public", 0, CLI_OPT_FLAG, NULL, NULL, "a public client (no secret)"},
            {"first-party", 0, CLI_OPT_FLAG, NULL, NULL, "skip consent"},
            {"no-first-party", 0, CLI_OPT_FLAG, NULL, NULL, "update: ask for consent again"},
            {"scope", 's', CLI_OPT_STRING, NULL, "S", "allowed scopes"},
            {"post-logout-redirect-uri", 0, CLI_OPT_STRING, NULL, "URI",
             "where RP-initiated logout may return (repeat for more)"},
            {"grant-types", 'g', CLI_OPT_STRING, NULL, "G", "allowed grants"},
            CLI_OPT_END});
}

/* Every value of --name (repeatable option) in argv, with --name=value too. */
static size_t collect(int argc, char **argv, const char *name, const char *shortopt,
                      const char **out)
{
    size_t n = 0, len = strlen(name);
    for (int i = 1; i < argc && n < MAX_URIS; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0)
            break;
        if (a[0] == '-' && a[1] == '-' && strncmp(a + 2, name, len) == 0) {
            if (a[2 + len] == '=')
                out[n++] = a + 3 + len;
            else if (a[2 + len] == '\0' && i + 1 < argc)
                out[n++] = argv[++i];
        } else if (shortopt && strcmp(a, shortopt) == 0 && i + 1 < argc) {
            out[n++] = argv[++i];
        } else if (shortopt && strncmp(a, shortopt, 2) == 0 && a[2]) {
            out[n++] = a + 2; /* -xVALUE */
        }
    }
    return n;
}

static int client_create(int argc, char **argv, root_t *r)
{
    const char *name = NULL, *uri = NULL, *scope = NULL, *logout = NULL, *grants = NULL;
    bool is_public = false, first_party = false;
    const struct cli_opt opts[] = {
        {"name", 'n', CLI_OPT_STRING, &name, "N", NULL},
        {"redirect-uri", 'r', CLI_OPT_STRING, &uri, "URI", NULL},
        {"public", 0, CLI_OPT_FLAG, &is_public, NULL, NULL},
        {"first-party", 0, CLI_OPT_FLAG, &first_party, NULL, NULL},
        {"scope", 's', CLI_OPT_STRING, &scope, "S", NULL},
        {"post-logout-redirect-uri", 0, CLI_OPT_STRING, &logout, "URI", NULL},
        {"grant-types", 'g', CLI_OPT_STRING, &grants, "G", NULL},
        CLI_OPT_END,
    };
    struct cli_args args;
    int rc = cli_parse_args(argc, argv, opts, 0, NULL, &args);
    if (rc != 0)
        return rc;
    if (!name) {
        fprintf(stderr, "jwtd client create: --name is required\n");
        return CLI_EXIT_USAGE;
    }
    const char *uris[MAX_URIS], *logouts[MAX_URIS];
    auth_oauth_client_new_t n = {
        .name = name,
        .redirect_uris = uris,
        .n_redirect_uris = collect(argc, argv, "redirect-uri", "-r", uris),
        .post_logout_redirect_uris = logouts,
        .n_post_logout = collect(argc, argv, "post-logout-redirect-uri", NULL, logouts),
        .is_public = is_public,
        .first_party = first_party,
        .scopes = scope,
        .grant_types = grants,
    };
    auth_oauth_client_t c;
    char secret[AUTH_OAUTH_SECRET_LEN + 1];
    const char *why = NULL;
    rc = auth_oauth_client_create(r->auth, &n, clock_now_s(), &c, secret, &why);
    if (rc == ERR_INVALID) {
        fprintf(stderr, "jwtd client create: %s\n", why ? why : "invalid value");
        return CLI_EXIT_USAGE;
    }
    if (rc != 0) {
        fprintf(stderr, "jwtd client create: %s\n", err_message(rc));
        return CLI_EXIT_FAILURE;
    }
    buf_t b;
    buf_init(&b, 1 << 20);
    auth_oauth_client_json(&c, &b);
    if (secret[0]) {
        b.len--; /* the closing brace */
        buf_printf(&b, ",\"client_secret\":\"%s\"}", secret);
    }
    fwrite(b.data, 1, b.len, stdout);
    fputc('\n', stdout);
    if (secret[0])
        fprintf(stderr, "jwtd client create: store the client_secret now: it is not shown again\n");
    if (!auth_oauth_can_sign_id_tokens(r->auth))
        fprintf(stderr,
                "jwtd client create: warning: the signing key is %s; ID tokens need an "
                "asymmetric key, and jwtd serve refuses to start with clients and an "
                "HMAC key (docs/oidc.md)\n",
                auth_signing_alg(r->auth));
    buf_dispose_secret(&b);
    auth_oauth_client_dispose(&c);
    return CLI_EXIT_OK;
}

/* Prints the client as JSON on stdout (never a secret). */
static void print_client(const auth_oauth_client_t *c)
{
    buf_t b;
    buf_init(&b, 1 << 20);
    auth_oauth_client_json(c, &b);
    printf("%.*s\n", (int)b.len, (const char *)b.data);
    buf_dispose(&b);
}

/* Drops the empty values of a list option (`--post-logout-redirect-uri ''` empties it). */
static size_t drop_empty(const char **v, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (v[i][0])
            v[k++] = v[i];
    return k;
}

static int client_update(int argc, char **argv, root_t *r)
{
    const char *name = NULL, *uri = NULL, *scope = NULL, *logout = NULL, *grants = NULL;
    bool first_party = false, no_first_party = false;
    const struct cli_opt opts[] = {
        {"name", 'n', CLI_OPT_STRING, &name, "N", NULL},
        {"redirect-uri", 'r', CLI_OPT_STRING, &uri, "URI", NULL},
        {"first-party", 0, CLI_OPT_FLAG, &first_party, NULL, NULL},
        {"no-first-party", 0, CLI_OPT_FLAG, &no_first_party, NULL, NULL},
        {"scope", 's', CLI_OPT_STRING, &scope, "S", NULL},
        {"post-logout-redirect-uri", 0, CLI_OPT_STRING, &logout, "URI", NULL},
        {"grant-types", 'g', CLI_OPT_STRING, &grants, "G", NULL},
        CLI_OPT_END,
    };
    struct cli_args args;
    int rc = cli_parse_args(argc, argv, opts, 1, "client update CLIENT_ID [options]", &args);
    if (rc != 0)
        return rc;
    if (first_party && no_first_party) {
        fprintf(stderr, "jwtd client update: --first-party and --no-first-party exclude each "
                        "other\n");
        return CLI_EXIT_USAGE;
    }
    if (!name && !uri && !scope && !logout && !grants && !first_party && !no_first_party) {
        fprintf(stderr, "jwtd client update: nothing to change (see jwtd client --help)\n");
        return CLI_EXIT_USAGE;
    }
    const char *id = args.v[0];
    const char *uris[MAX_URIS], *logouts[MAX_URIS];
    auth_oauth_client_change_t ch = {
        .name = name,
        .redirect_uris = uris,
        .n_redirect_uris = uri ? collect(argc, argv, "redirect-uri", "-r", uris) : 0,
        .set_redirect_uris = uri != NULL,
        .post_logout_redirect_uris = logouts,
        .n_post_logout =
            logout ? collect(argc, argv, "post-logout-redirect-uri", NULL, logouts) : 0,
        .set_post_logout = logout != NULL,
        .scopes = scope,
        .grant_types = grants,
        .first_party = first_party      ? 1
                       : no_first_party ? 0
                                        : -1,
    };
    ch.n_post_logout = drop_empty(logouts, ch.n_post_logout);
    auth_oauth_client_t c;
    const char *why = NULL;
    rc = auth_oauth_client_update(r->auth, id, &ch, &c, &why);
    if (rc == ERR_NOT_FOUND) {
        fprintf(stderr, "jwtd client update: no client %s\n", id);
        return CLI_EXIT_FAILURE;
    }
    if (rc == ERR_INVALID) {
        fprintf(stderr, "jwtd client update: %s\n", why ? why : "invalid value");
        return CLI_EXIT_USAGE;
    }
    if (rc != 0) {
        fprintf(stderr, "jwtd client update: %s\n", err_message(rc));
        return CLI_EXIT_FAILURE;
    }
    print_client(&c);
    auth_oauth_client_dispose(&c);
    return CLI_EXIT_OK;
}

static int client_rotate_secret(int argc, char **argv, root_t *r)
{
    struct cli_args args;
    int rc = cli_parse_args(argc, argv, (const struct cli_opt[]){CLI_OPT_END}, 1,
                            "client rotate-secret CLIENT_ID", &args);
    if (rc != 0)
        return rc;
    const char *id = args.v[0];
    char secret[AUTH_OAUTH_SECRET_LEN + 1];
    rc = auth_oauth_client_rotate_secret(r->auth, id, secret);
    if (rc == ERR_NOT_FOUND) {
        fprintf(stderr, "jwtd client rotate-secret: no client %s\n", id);
        return CLI_EXIT_FAILURE;
    }
    if (rc == ERR_INVALID) {
        fprintf(stderr, "jwtd client rotate-secret: %s is a public client: it has no secret\n", id);
        return CLI_EXIT_FAILURE;
    }
    if (rc != 0) {
        fprintf(stderr, "jwtd client rotate-secret: %s\n", err_message(rc));
        return CLI_EXIT_FAILURE;
    }
    /* id matched a registered client_id (hex): nothing to escape */
    printf("{\"client_id\":\"%s\",\"client_secret\":\"%s\"}\n", id, secret);
    fprintf(stderr, "jwtd client rotate-secret: store the client_secret now: it is not shown "
                    "again; the old one no longer works\n");
    OPENSSL_cleanse(secret, sizeof secret);
    return CLI_EXIT_OK;
}

static int client_list(int argc, char **argv, root_t *r)
{
    bool json = false;
    const struct cli_opt opts[] = {{"json", 0, CLI_OPT_FLAG, &json, NULL, NULL}, CLI_OPT_END};
    struct cli_args args;
    int rc = cli_parse_args(argc, argv, opts, 0, NULL, &args);
    if (rc != 0)
        return rc;
    auth_oauth_client_list_t l;
    if ((rc = auth_oauth_client_list(r->auth, &l)) != 0) {
        fprintf(stderr, "jwtd client list: %s\n", err_message(rc));
        return CLI_EXIT_FAILURE;
    }
    if (json)
        fputc('[', stdout);
    for (size_t i = 0; i < l.count; i++) {
        const auth_oauth_client_t *c = &l.items[i];
        if (json) {
            buf_t b;
            buf_init(&b, 1 << 20);
            auth_oauth_client_json(c, &b);
            printf("%s%.*s", i ? "," : "", (int)b.len, (const char *)b.data);
            buf_dispose(&b);
        } else {
            printf("%s\t%s\t%s%s\t%s\n", c->client_id, c->name,
                   c->is_public ? "public" : "confidential", c->first_party ? ",first-party" : "",
                   c->redirect_uris);
        }
    }
    if (json)
        fputs("]\n", stdout);
    auth_oauth_client_list_dispose(&l);
    return CLI_EXIT_OK;
}

static int client_one(int argc, char **argv, root_t *r, bool del)
{
    struct cli_args args;
    int rc = cli_parse_args(argc, argv, (const struct cli_opt[]){CLI_OPT_END}, 1,
                            argv[0][7] == 'd' ? "client delete CLIENT_ID" : "client show CLIENT_ID",
                            &args);
    if (rc != 0)
        return rc;
    const char *id = args.v[0];
    if (del) {
        rc = auth_oauth_client_delete(r->auth, id, clock_now_s());
    } else {
        auth_oauth_client_t c;
        if ((rc = auth_oauth_client_get(r->auth, id, &c)) == 0) {
            buf_t b;
            buf_init(&b, 1 << 20);
            auth_oauth_client_json(&c, &b);
            printf("%.*s\n", (int)b.len, (const char *)b.data);
            buf_dispose(&b);
            auth_oauth_client_dispose(&c);
        }
    }
    if (rc == ERR_NOT_FOUND) {
        fprintf(stderr, "jwtd client %s: no client %s\n", del ? "delete" : "show", id);
        return CLI_EXIT_FAILURE;
    }
    if (rc != 0) {
        fprintf(stderr, "jwtd client %s: %s\n", del ? "delete" : "show", err_message(rc));
        return CLI_EXIT_FAILURE;
    }
    if (del)
        printf("deleted %s\n", id);
    return CLI_EXIT_OK;
}

static int client_show(int argc, char **argv, root_t *r)
{
    return client_one(argc, argv, r, false);
}

static int client_delete(int argc, char **argv, root_t *r)
{
    return client_one(argc, argv, r, true);
}

/* See cli.h. */
int cli_client(int argc, char **argv)
{
    if (argc < 2) {
        cli_client_help(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *sub = argv[1];
    int (*fn)(int, char **, root_t *) = strcmp(sub, "create") == 0          ? client_create
                                        : strcmp(sub, "list") == 0          ? client_list
                                        : strcmp(sub, "show") == 0          ? client_show
                                        : strcmp(sub, "update") == 0        ? client_update
                                        : strcmp(sub, "rotate-secret") == 0 ? client_rotate_secret
                                        : strcmp(sub, "delete") == 0        ? client_delete
                                                                            : NULL;
    if (!fn) {
        fprintf(stderr,
                "jwtd client: unknown subcommand %s (create, list, show, update, rotate-secret, "
                "delete)\n",
                sub);
        return CLI_EXIT_USAGE;
    }
    root_t *r;
    int rc = cli_root_open(argc, argv, ROOT_AUTH | ROOT_MIGRATE, &r);
    if (rc != 0)
        return rc;
    char name[32];
    snprintf(name, sizeof name, "client %s", sub);
    char **sub_argv = xcalloc((size_t)argc, sizeof *sub_argv);
    for (int i = 1; i < argc; i++)
        sub_argv[i - 1] = argv[i];
    sub_argv[0] = name;
    rc = fn(argc - 1, sub_argv, r);
    free(sub_argv);
    root_close(r);
    return rc;
}
