/*
 * Unit tests for src/auth/oauth.c and oauth_store.c: client registration rules, the order of
 * the authorization decision (error page, redirect errors, login, code), the code exchange
 * with PKCE, single use and the revocation of a replayed code's session, client
 * authentication, and the refusal of an HMAC key once clients exist. Against the fixture of
 * fx.h (an HS256 ring: no ID tokens, so the scopes asked here leave out openid).
 */
#include <openssl/evp.h>

#include "auth/oauth.h"
#include "common/b64url.h"
#include "fx.h"
#include "test.h"

#define CB "http://127.0.0.1:9/cb"

static int new_client(struct fx *f, bool is_public, auth_oauth_client_t *c,
                      char secret[AUTH_OAUTH_SECRET_LEN + 1])
{
    const char *uris[] = {CB};
    auth_oauth_client_new_t n = {.name = "app",
                                 .redirect_uris = uris,
                                 .n_redirect_uris = 1,
                                 .is_public = is_public,
                                 .first_party = true};
    const char *why = NULL;
    return auth_oauth_client_create(f->auth, &n, clock_now_s(), c, secret, &why);
}

TEST(auth_oauth_client_rules)
{
    struct fx f;
    ASSERT_EQ_INT(fx_open(&f, NULL), 0);
    char secret[AUTH_OAUTH_SECRET_LEN + 1];
    auth_oauth_client_t c;
    const char *why = NULL;
    static const char *const bad[] = {"http://evil.example/cb", "https://x.example/a#frag",
                                      "ftp://x.example/",       "noscheme",
                                      "https:///path",          "https://x.example/a b"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        auth_oauth_client_new_t n = {.name = "x", .redirect_uris = &bad[i], .n_redirect_uris = 1};
        CHECK_EQ_INT(auth_oauth_client_create(f.auth, &n, 1, &c, secret, &why), ERR_INVALID);
        CHECK_TRUE(why != NULL);
    }
    const char *ok[] = {"https://app.example/cb", "http://localhost:3000/cb",
                        "com.example.app:/callback"};
    auth_oauth_client_new_t n = {
        .name = "x", .redirect_uris = ok, .n_redirect_uris = 3, .scopes = "openid email"};
    ASSERT_EQ_INT(auth_oauth_client_create(f.auth, &n, 1, &c, secret, &why), 0);
    CHECK_EQ_INT((long)strlen(secret), AUTH_OAUTH_SECRET_LEN);
    CHECK_STR_EQ(c.scopes, "openid email");
    CHECK_STR_EQ(c.grant_types, "authorization_code refresh_token client_credentials");
    auth_oauth_client_t got;
    ASSERT_EQ_INT(auth_oauth_client_get(f.auth, c.client_id, &got), 0);
    CHECK_STR_EQ(got.redirect_uris, "https://app.example/cb http://localhost:3000/cb "
                                    "com.example.app:/callback");
    auth_oauth_client_dispose(&got);
    /* no unknown scope, no client_credentials for a public client, no code grant without URI */
    n.scopes = "openid admin";
    CHECK_EQ_INT(auth_oauth_client_create(f.auth, &n, 1, &got, secret, &why), ERR_INVALID);
    n.scopes = NULL;
    n.is_public = true;
    n.grant_types = "client_credentials";
    CHECK_EQ_INT(auth_oauth_client_create(f.auth, &n, 1, &got, secret, &why), ERR_INVALID);
    n.is_public = false;
    n.grant_types = NULL;
    n.n_redirect_uris = 0;
    CHECK_EQ_INT(auth_oauth_client_create(f.auth, &n, 1, &got, secret, &why), ERR_INVALID);
    /* an HMAC key with a client registered: the server must not start */
    CHECK_TRUE(!auth_oauth_can_sign_id_tokens(f.auth));
    CHECK_EQ_INT(auth_oauth_check_keys(f.auth), ERR_CONFIG);
    ASSERT_EQ_INT(auth_oauth_client_delete(f.auth, c.client_id, 2), 0);
    CHECK_EQ_INT(auth_oauth_client_get(f.auth, c.client_id, &got), ERR_NOT_FOUND);
    CHECK_EQ_INT(auth_oauth_check_keys(f.auth), 0);
    auth_oauth_client_dispose(&c);
    fx_close(&f);
}

/* The client_credentials grant with id and secret: its error, or NULL on success. */
static const char *client_credentials(struct fx *f, const char *id, const char *secret)
{
    auth_oauth_client_auth_t ca = {.client_id = id, .client_secret = secret};
    auth_oauth_token_req_t q = {.grant_type = "client_credentials", .scope = "roles"};
    auth_oauth_answer_t r;
    auth_oauth_answer_init(&r);
    if (auth_oauth_token(f->auth, &ca, &q, clock_now_s(), &r) != 0)
        return "unavailable";
    const char *err = r.error; /* static */
    auth_oauth_answer_dispose(&r);
    return err;
}

TEST(auth_oauth_client_update_and_rotate)
{
    struct fx f;
    ASSERT_EQ_INT(fx_open(&f, NULL), 0);
    char secret[AUTH_OAUTH_SECRET_LEN + 1], old[AUTH_OAUTH_SECRET_LEN + 1];
    auth_oauth_client_t c, u;
    const char *why = NULL;
    ASSERT_EQ_INT(new_client(&f, false, &c, old), 0);
    /* only what is set changes */
    auth_oauth_client_change_t ch = {.scopes = "openid roles", .first_party = -1};
    ASSERT_EQ_INT(auth_oauth_client_update(f.auth, c.client_id, &ch, &u, &why), 0);
    CHECK_STR_EQ(u.scopes, "openid roles");
    CHECK_STR_EQ(u.name, "app");
    CHECK_STR_EQ(u.redirect_uris, CB);
    CHECK_STR_EQ(u.grant_types, c.grant_types);
    CHECK_TRUE(u.first_party && !u.is_public && u.created_at == c.created_at);
    auth_oauth_client_dispose(&u);
    /* a list set replaces the registered one */
    const char *uris[] = {"https://a.example/cb", "http://localhost:1/cb"};
    ch = (auth_oauth_client_change_t){.redirect_uris = uris,
                                      .n_redirect_uris = 2,
                                      .set_redirect_uris = true,
                                      .name = "renamed",
                                      .first_party = 0};
    ASSERT_EQ_INT(auth_oauth_client_update(f.auth, c.client_id, &ch, &u, &why), 0);
    auth_oauth_client_dispose(&u);
    ASSERT_EQ_INT(auth_oauth_client_get(f.auth, c.client_id, &u), 0);
    CHECK_STR_EQ(u.redirect_uris, "https://a.example/cb http://localhost:1/cb");
    CHECK_STR_EQ(u.name, "renamed");
    CHECK_STR_EQ(u.scopes, "openid roles");
    CHECK_TRUE(!u.first_party);
    auth_oauth_client_dispose(&u);
    /* create's rules; nothing changes on a refusal */
    const char *bad[] = {"http://evil.example/cb"};
    ch = (auth_oauth_client_change_t){
        .redirect_uris = bad, .n_redirect_uris = 1, .set_redirect_uris = true, .first_party = 1};
    CHECK_EQ_INT(auth_oauth_client_update(f.auth, c.client_id, &ch, &u, &why), ERR_INVALID);
    CHECK_TRUE(why && strstr(why, "redirect_uri"));
    ch = (auth_oauth_client_change_t){.set_redirect_uris = true, .first_party = -1};
    CHECK_EQ_INT(auth_oauth_client_update(f.auth, c.client_id, &ch, &u, &why), ERR_INVALID);
    ch = (auth_oauth_client_change_t){.scopes = "openid admin", .first_party = -1};
    CHECK_EQ_INT(auth_oauth_client_update(f.auth, c.client_id, &ch, &u, &why), ERR_INVALID);
    ASSERT_EQ_INT(auth_oauth_client_get(f.auth, c.client_id, &u), 0);
    CHECK_STR_EQ(u.redirect_uris, "https://a.example/cb http://localhost:1/cb");
    CHECK_TRUE(!u.first_party);
    auth_oauth_client_dispose(&u);
    ch = (auth_oauth_client_change_t){.name = "x", .first_party = -1};
    CHECK_EQ_INT(auth_oauth_client_update(f.auth, "0123", &ch, &u, &why), ERR_NOT_FOUND);
    /* rotation: the old secret fails at once, the new one works */
    CHECK_TRUE(client_credentials(&f, c.client_id, old) == NULL);
    ASSERT_EQ_INT(auth_oauth_client_rotate_secret(f.auth, c.client_id, secret), 0);
    CHECK_EQ_INT((long)strlen(secret), AUTH_OAUTH_SECRET_LEN);
    CHECK_TRUE(strcmp(secret, old) != 0);
    CHECK_STR_EQ(client_credentials(&f, c.client_id, old), "invalid_client");
    CHECK_TRUE(client_credentials(&f, c.client_id, secret) == NULL);
    CHECK_EQ_INT(auth_oauth_client_rotate_secret(f.auth, "0123", secret), ERR_NOT_FOUND);
    /* a public client: no secret to rotate, no client_credentials to add */
    auth_oauth_client_t p;
    ASSERT_EQ_INT(new_client(&f, true, &p, secret), 0);
    CHECK_EQ_INT(auth_oauth_client_rotate_secret(f.auth, p.client_id, secret), ERR_INVALID);
    ch = (auth_oauth_client_change_t){.grant_types = "client_credentials", .first_party = -1};
    CHECK_EQ_INT(auth_oauth_client_update(f.auth, p.client_id, &ch, &u, &why), ERR_INVALID);
    auth_oauth_client_dispose(&p);
    auth_oauth_client_dispose(&c);
    fx_close(&f);
}

/* A PKCE pair: verifier and its S256 challenge. */
static void pkce(char verifier[44], char challenge[44])
{
    unsigned char d[32];
    unsigned int n = 0;
    snprintf(verifier, 44, "%s", "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
    EVP_Digest(verifier, 43, d, &n, EVP_sha256(), NULL);
    b64url_encode(d, 32, challenge, 44);
}

TEST(auth_oauth_authorize_and_exchange)
{
    struct fx f;
    ASSERT_EQ_INT(fx_open(&f, NULL), 0);
    int64_t now = clock_now_s();
    auth_oauth_client_t c;
    char secret[AUTH_OAUTH_SECRET_LEN + 1], verifier[44], challenge[44];
    ASSERT_EQ_INT(new_client(&f, true, &c, secret), 0);
    CHECK_STR_EQ(secret, "");
    pkce(verifier, challenge);
    auth_pair_t web = {0};
    ASSERT_EQ_INT(login(&f, now, &web), 0);
    auth_oauth_browser_t me = {.user_id = f.uid, .auth_time = now};
    snprintf(me.sid, sizeof me.sid, "%s", web.sid);
    auth_oauth_browser_t nobody = {0};
    auth_oauth_authz_t q = {.client_id = c.client_id,
                            .redirect_uri = CB,
                            .response_type = "code",
                            .scope = "profile offline_access",
                            .state = "s",
                            .code_challenge = challenge,
                            .code_challenge_method = "S256",
                            .max_age = -1,
                            .me = &nobody};
    auth_oauth_authz_result_t r;
    /* the order of the decision */
    auth_oauth_authz_t bad = q;
    bad.redirect_uri = CB "/";
    ASSERT_EQ_INT(auth_oauth_authorize(f.auth, &bad, now, &r), 0);
    CHECK_EQ_INT(r.next, AUTH_OAUTH_ERROR_PAGE);
    auth_oauth_authz_result_dispose(&r);
    bad = q;
    bad.code_challenge = bad.code_challenge_method = NULL;
    ASSERT_EQ_INT(auth_oauth_authorize(f.auth, &bad, now, &r), 0);
    CHECK_EQ_INT(r.next, AUTH_OAUTH_REDIRECT);
    CHECK_STR_EQ(r.error, "invalid_request");
    auth_oauth_authz_result_dispose(&r);
    bad = q;
    bad.prompt = "none";
    ASSERT_EQ_INT(auth_oauth_authorize(f.auth, &bad, now, &r), 0);
    CHECK_STR_EQ(r.error, "login_required");
    auth_oauth_authz_result_dispose(&r);
    ASSERT_EQ_INT(auth_oauth_authorize(f.auth, &q, now, &r), 0);
    CHECK_EQ_INT(r.next, AUTH_OAUTH_LOGIN);
    auth_oauth_authz_result_dispose(&r);
    /* signed in, first party: a code */
    q.me = &me;
    ASSERT_EQ_INT(auth_oauth_authorize(f.auth, &q, now, &r), 0);
    ASSERT_EQ_INT(r.next, AUTH_OAUTH_REDIRECT);
    ASSERT_TRUE(r.code != NULL);
    CHECK_STR_EQ(r.redirect_uri, CB);
    /* exchange: a wrong verifier spends the code; the right one on a second code works */
    auth_oauth_client_auth_t ca = {.client_id = c.client_id};
    auth_oauth_token_req_t t = {.grant_type = "authorization_code",
                                .code = r.code,
                                .redirect_uri = CB,
                                .code_verifier = "x123456789x123456789x123456789x123456789xyz",
                                .issuer = "http://jwtd.test"};
    auth_oauth_answer_t a;
    auth_oauth_answer_init(&a);
    ASSERT_EQ_INT(auth_oauth_token(f.auth, &ca, &t, now, &a), 0);
    CHECK_STR_EQ(a.error, "invalid_grant");
    auth_oauth_answer_dispose(&a);
    auth_oauth_authz_result_dispose(&r);
    ASSERT_EQ_INT(auth_oauth_authorize(f.auth, &q, now, &r), 0);
    t.code = r.code;
    t.code_verifier = verifier;
    auth_oauth_answer_init(&a);
    ASSERT_EQ_INT(auth_oauth_token(f.auth, &ca, &t, now, &a), 0);
    ASSERT_TRUE(a.error == NULL);
    CHECK_TRUE(strstr((const char *)a.body.data, "\"refresh_token\":") != NULL);
    CHECK_TRUE(strstr((const char *)a.body.data, "\"id_token\":") == NULL);
    const char *at = strstr((const char *)a.body.data, "\"access_token\":\"") + 16;
    size_t at_len = (size_t)(strchr(at, '"') - at);
    CHECK_EQ_INT(verify_access(&f, at, at_len, now), AUTH_OK);
    /* a replay: refused, and what the first exchange issued is revoked */
    auth_oauth_answer_t again;
    auth_oauth_answer_init(&again);
    ASSERT_EQ_INT(auth_oauth_token(f.auth, &ca, &t, now, &again), 0);
    CHECK_STR_EQ(again.error, "invalid_grant");
    CHECK_EQ_INT(verify_access(&f, at, at_len, now), AUTH_REVOKED);
    auth_oauth_answer_dispose(&again);
    auth_oauth_answer_dispose(&a);
    /* a public client may not present a secret; an unknown client is invalid_client */
    ca.client_secret = "anything";
    auth_oauth_answer_init(&a);
    ASSERT_EQ_INT(auth_oauth_token(f.auth, &ca, &t, now, &a), 0);
    CHECK_STR_EQ(a.error, "invalid_client");
    auth_oauth_answer_dispose(&a);
    auth_oauth_authz_result_dispose(&r);
    auth_oauth_client_dispose(&c);
    auth_pair_dispose(&web);
    fx_close(&f);
}
