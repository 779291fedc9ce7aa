/*
 * keys.c - the key and token commands: `jwtd keygen`, `jwtd jwks`, and `jwtd token`
 * (inspect, verify, sign).
 *
 *   jwtd keygen --alg ALG --out FILE [--bits N] [--force]
 *       a PEM private key (PKCS#8) for RS/PS/ES/EdDSA, or a random HMAC secret (64 bytes,
 *       base64url text) for HS*, written with mode 0600; prints the kid (and the public JWK).
 *   jwtd jwks               the public JWKS of the configured keys
 * (`jwtd token issue` lives in token.c, whose cli_token() hands inspect/verify/sign to
 * cli_token_keys() here.)
 *   jwtd token inspect T    header and claims as JSON, signature NOT checked (stderr says so)
 *   jwtd token verify T     with the configured keys and claim rules: exit 0 + claims JSON,
 *                           else exit 1 + the reason on stderr
 *   jwtd token sign --claims JSON
 *                           signs arbitrary claims with the configured active key (tests,
 *                           operators; whoever can run it can read the key anyway)
 * A token argument of "-" is read from stdin. Everything cryptographic is in src/jose/.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "cli/cli.h"
#include "common/b64url.h"
#include "common/err.h"
#include "common/json_scan.h"
#include "db/db.h"
#include "jose/jose.h"
#include "runtime/audit.h"
#include "runtime/fileio.h"

#define TOKEN_STDIN_MAX (JWTV_MAX_TOKEN_BYTES + 1024)

/* ---------------------------------------------------------------------------------------- */
/* keygen                                                                                    */
/* ---------------------------------------------------------------------------------------- */

/* See cli.h. */
void cli_keygen_help(FILE *out)
{
    fprintf(out,
            "usage: jwtd keygen --alg ALG --out FILE [--bits N] [--force]\n\n"
            "Generates a signing key for JWTD_ALGORITHM=ALG and writes it to FILE (mode 0600):\n"
            "a PEM private key (PKCS#8) for RS256/384/512, PS256/384/512 (RSA, --bits, default\n"
            "2048), ES256 (P-256), ES384 (P-384), EdDSA (Ed25519); or a random 64-byte secret\n"
            "(base64url text) for HS256/384/512. Point JWTD_SIGNING_KEY_FILE (or\n"
            "JWTD_SECRET_KEY_FILE) at it. Prints the key's kid (RFC 7638 thumbprint) and, for\n"
            "asymmetric keys, the public JWK. Refuses to overwrite FILE without --force.\n\n");
    fprintf(out, "options:\n"
                 "  -a, --alg ALG            signing algorithm\n"
                 "  -o, --out FILE           where to write the key\n"
                 "      --bits N             RSA modulus size (2048..8192)\n"
                 "      --force              overwrite FILE\n"
                 "  -h, --help               show this help\n");
}

static int write_file_0600(const char *path, const void *data, size_t n, bool force)
{
    int rc = fileio_write_atomic(path, data, n, 0600, force);
    if (rc == ERR_CONFLICT)
        fprintf(stderr, "jwtd keygen: %s exists (use --force to overwrite)\n", path);
    else if (rc != 0)
        fprintf(stderr, "jwtd keygen: cannot write %s: %s\n", path, strerror(errno));
    return rc == 0 ? 0 : -1;
}

/* See cli.h. */
/*
 * The audit record of a generated key: in the database too when it can be opened (keygen
 * itself needs none, so a database that is not there only leaves the record in the log).
 */
static void record_keygen(int argc, char **argv, const char *alg, const char *path)
{
    root_t *r = NULL;
    char detail[300], esc[256];
    snprintf(detail, sizeof detail, "alg=%s file=\"%s\"", alg,
             log_value_escape(esc, sizeof esc, path, strlen(path)));
    /* the configuration only, then the database if there is one: keygen never creates it
       (nor the data directory) where it happens to run */
    int rc = root_open(argc, argv, 0, &r);
    if (rc == 0 && db_exists(r->opt.database_url) && root_add(r, ROOT_DB | ROOT_MIGRATE) != 0) {
        root_close(r);
        r = NULL;
    }
    audit_info(NULL, .event = "key_generated", .outcome = "success", .detail = detail);
    if (r)
        root_close(r);
}

int cli_keygen(int argc, char **argv)
{
    const char *alg_name = NULL, *out = NULL;
    long bits = 2048;
    bool force = false;
    const struct cli_opt opts[] = {
        {"alg", 'a', CLI_OPT_STRING, &alg_name, "ALG", "signing algorithm"},
        {"out", 'o', CLI_OPT_STRING, &out, "FILE", "where to write the key"},
        {"bits", 0, CLI_OPT_INT, &bits, "N", "RSA modulus size"},
        {"force", 0, CLI_OPT_FLAG, &force, NULL, "overwrite FILE"},
        CLI_OPT_END,
    };
    struct cli_args args;
    int rc = cli_parse_opts(argc, argv, opts, &args);
    if (rc != 0)
        return rc;
    if (!alg_name || !out || args.count) {
        fprintf(stderr, "jwtd keygen: --alg and --out are required (see jwtd keygen --help)\n");
        return CLI_EXIT_USAGE;
    }
    const jose_alg_t *alg = jose_alg_by_name(str_cstr(alg_name));
    if (!alg) {
        fprintf(stderr, "jwtd keygen: unsupported algorithm %s\n", alg_name);
        return CLI_EXIT_USAGE;
    }
    if (bits < 2048 || bits > 8192) {
        fprintf(stderr, "jwtd keygen: --bits must be 2048..8192\n");
        return CLI_EXIT_USAGE;
    }
    char err[256];
    buf_t data;
    buf_init(&data, 1 << 16);
    rc = CLI_EXIT_FAILURE;
    if (alg->family == JOSE_FAMILY_HMAC) {
        unsigned char raw[64];
        char text[B64URL_ENC_LEN(64) + 2];
        jose_key_t *k = NULL;
        if (RAND_bytes(raw, sizeof raw) != 1) {
            fprintf(stderr, "jwtd keygen: RAND_bytes failed\n");
            goto out;
        }
        size_t n = b64url_encode(raw, sizeof raw, text, sizeof text);
        OPENSSL_cleanse(raw, sizeof raw);
        text[n++] = '\n';
        buf_append(&data, text, n);
        /* the secret is the text (without the newline), exactly as JWTD_SECRET_KEY_FILE reads it */
        if (jose_key_from_secret(alg, text, n - 1, &k, err, sizeof err) != 0) {
            fprintf(stderr, "jwtd keygen: %s\n", err);
            OPENSSL_cleanse(text, sizeof text);
            goto out;
        }
        OPENSSL_cleanse(text, sizeof text);
        if (write_file_0600(out, data.data, data.len, force) != 0) {
            jose_key_free(k);
            goto out;
        }
        printf("%s secret written to %s (kid %s)\n", alg->name, out, jose_key_kid(k));
        jose_key_free(k);
    } else {
        jose_key_t *k = NULL;
        buf_t jwk;
        if (jose_key_generate(alg, (unsigned)bits, &k, err, sizeof err) != 0) {
            fprintf(stderr, "jwtd keygen: %s\n", err);
            goto out;
        }
        buf_init(&jwk, 1 << 16);
        if (jose_key_private_pem(k, &data) != 0 || jose_key_public_jwk(k, &jwk) != 0 ||
            write_file_0600(out, data.data, data.len, force) != 0) {
            jose_key_free(k);
            buf_dispose(&jwk);
            goto out;
        }
        printf("%s key written to %s (kid %s)\npublic JWK: %s\n", alg->name, out, jose_key_kid(k),
               jwk.data);
        jose_key_free(k);
        buf_dispose(&jwk);
    }
    rc = CLI_EXIT_OK;
    record_keygen(argc, argv, alg->name, out);
out:
    buf_dispose_secret(&data);
    jose_thread_cleanup();
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* jwks                                                                                      */
/* ---------------------------------------------------------------------------------------- */

/* See cli.h. */
void cli_jwks_help(FILE *out)
{
    fprintf(out, "usage: jwtd jwks [--config FILE]\n\n"
                 "Prints the public JWK Set of the configured keys (the active key, the next key\n"
                 "and retired keys still accepted), as GET /.well-known/jwks.json serves it.\n"
                 "HMAC secrets and trusted issuers' keys are never printed: with an HS*\n"
                 "algorithm the set is empty.\n\n"
                 "options:\n"
                 "      --config FILE        read KEY=VALUE settings from FILE\n"
                 "  -h, --help               show this help\n");
}

/* See cli.h. */
int cli_jwks(int argc, char **argv)
{
    const struct cli_opt opts[] = {CLI_OPT_END};
    struct cli_args args;
    root_t *r;
    buf_t out;
    int rc = cli_parse_args(argc, argv, opts, 0, NULL, &args);
    if (rc != 0)
        return rc;
    if ((rc = cli_root_open(argc, argv, ROOT_KEYS, &r)) != 0)
        return rc;
    buf_init(&out, 1 << 20);
    rc = jose_keyring_public_jwks(r->ring, &out);
    if (rc == 0)
        printf("%s\n", out.data);
    else
        fprintf(stderr, "jwtd jwks: %s\n", jwtv_strerror(rc));
    buf_dispose(&out);
    root_close(r);
    jose_thread_cleanup();
    return rc == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
}

/* ---------------------------------------------------------------------------------------- */
/* token                                                                                     */
/* ---------------------------------------------------------------------------------------- */

/* See cli.h. */
void cli_token_keys_help(FILE *out)
{
    fprintf(out,
            "usage: jwtd token inspect TOKEN\n"
            "       jwtd token verify TOKEN [--type access|refresh]\n"
            "       jwtd token sign --claims JSON\n\n"
            "inspect  decodes the header and claims WITHOUT checking the signature and prints\n"
            "         {\"header\":...,\"claims\":...}; stderr says UNVERIFIED.\n"
            "verify   checks the token with the configured keys (JWTD_ALGORITHM, key files,\n"
            "         JWTD_TRUSTED_JWKS_FILE) and claim rules (exp/nbf/iat with JWTD_LEEWAY,\n"
            "         JWTD_ISSUER, JWTD_AUDIENCE, jti, token_type): exit 0 and the claims as\n"
            "         JSON on stdout, or exit 1 and the reason on stderr. It does not consult\n"
            "         the revocation store.\n"
            "sign     signs the JSON claims object with the configured active key and prints\n"
            "         the token (for tests and operators; no claim is added or checked).\n"
            "TOKEN may be - to read it from stdin.\n\n"
            "options:\n"
            "      --type TYPE          (verify) require this token_type\n"
            "      --claims JSON        (sign) the claims object\n"
            "      --config FILE        read KEY=VALUE settings from FILE\n"
            "  -h, --help               show this help\n");
}

/* The token argument, or stdin for "-". Returns a pointer into argv or into buf. */
static const char *token_arg(const char *arg, char *buf, size_t cap, size_t *len)
{
    if (strcmp(arg, "-") != 0) {
        *len = strlen(arg);
        return arg;
    }
    size_t n = fread(buf, 1, cap - 1, stdin);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        n--;
    buf[n] = '\0';
    *len = n;
    return buf;
}

static int token_inspect(const char *tok, size_t len)
{
    buf_t h, p;
    buf_init(&h, JWTV_MAX_TOKEN_BYTES);
    buf_init(&p, JWTV_MAX_TOKEN_BYTES);
    int rc = jose_jws_decode_unverified(str_make(tok, len), &h, &p);
    if (rc == 0) {
        fprintf(stderr, "UNVERIFIED: the signature and claims of this token were NOT checked\n");
        printf("{\"header\":%s,\"claims\":%s}\n", h.data, p.data);
    } else {
        fprintf(stderr, "jwtd token inspect: %s\n", jwtv_strerror(rc));
    }
    buf_dispose(&h);
    buf_dispose(&p);
    return rc == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
}

/* See cli.h. */
int cli_token_keys(int argc, char **argv)
{
    const char *type = NULL, *claims = NULL;
    const struct cli_opt opts[] = {
        {"type", 0, CLI_OPT_STRING, &type, "TYPE", "(verify) require this token_type"},
        {"claims", 0, CLI_OPT_STRING, &claims, "JSON", "(sign) the claims object"},
        CLI_OPT_END,
    };
    struct cli_args args;
    root_t *r;
    char stdin_buf[TOKEN_STDIN_MAX];
    size_t len = 0;
    int rc = cli_parse_opts(argc, argv, opts, &args);
    if (rc != 0)
        return rc;
    const char *sub = args.count ? args.v[0] : "";
    bool needs_token = strcmp(sub, "inspect") == 0 || strcmp(sub, "verify") == 0;
    if ((needs_token && args.count != 2) ||
        (strcmp(sub, "sign") == 0 && (args.count != 1 || !claims)) ||
        (!needs_token && strcmp(sub, "sign") != 0)) {
        fprintf(stderr, "usage: jwtd token inspect|verify TOKEN, jwtd token sign --claims JSON "
                        "(see jwtd token --help)\n");
        return CLI_EXIT_USAGE;
    }
    const char *tok = needs_token ? token_arg(args.v[1], stdin_buf, sizeof stdin_buf, &len) : NULL;
    if (strcmp(sub, "inspect") == 0)
        return token_inspect(tok, len);

    if ((rc = cli_root_open(argc, argv, ROOT_KEYS, &r)) != 0)
        return rc;
    if (strcmp(sub, "verify") == 0) {
        jwtv_options opt = r->vopt;
        jwtv_claims *c = malloc(sizeof *c);
        opt.token_type = type;
        rc = c ? jose_jwt_verify(r->ring, &opt, str_make(tok, len), 0, c) : JWTV_ENOMEM;
        if (rc == 0)
            printf("%s\n", c->payload);
        else
            fprintf(stderr, "jwtd token verify: invalid token: %s\n", jwtv_strerror(rc));
        free(c);
    } else {
        const jose_key_t *key = jose_keyring_active(r->ring);
        char out[JWTV_MAX_TOKEN_BYTES + 1];
        size_t n = 0, nt = 0;
        json_tok_t *toks = malloc(JWTV_MAX_JSON_TOKENS * sizeof *toks);
        /* only a JSON object is a claims set: refuse to sign anything else */
        rc = !toks ? JWTV_ENOMEM
             : json_scan(claims, strlen(claims), toks, JWTV_MAX_JSON_TOKENS, JWTV_MAX_JSON_DEPTH,
                         &nt) != 0 ||
                     toks[0].type != JSON_T_OBJECT
                 ? JWTV_EMALFORMED
                 : jose_jws_sign(key, STR_NULL, str_cstr(claims), out, sizeof out, &n);
        free(toks);
        if (rc == 0)
            printf("%s\n", out);
        else if (rc == JWTV_EMALFORMED)
            fprintf(stderr, "jwtd token sign: --claims must be a JSON object\n");
        else
            fprintf(stderr, "jwtd token sign: %s\n", jwtv_strerror(rc));
    }
    root_close(r);
    jose_thread_cleanup();
    return rc == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
}
