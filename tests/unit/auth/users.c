/*
 * Unit tests for src/auth/users.c: the user cache behind auth_user_cached (filled by a
 * login, TTL, invalidation, loading), the validation of a new account (every rule and its
 * message, the e-mail address optional or required, the password policy skipped without a
 * password), registration (the user object, the stored argon2id hash, conflicts that say
 * which field is taken) and the command line's auth_user_create. Against the fixture of
 * fx.h.
 */
#include <jansson.h>

#include "fx.h"
#include "test.h"

TEST(auth_user_cache_fill_ttl_invalidate)
{
    struct fx f;
    ASSERT_EQ_INT(fx_open(&f, NULL), 0);
    int64_t now = clock_now_s();
    char out[512];
    size_t len = 0;
    bool active = false;
    CHECK_EQ_INT(auth_user_cached(f.auth, f.uid, now, out, sizeof out, &len, &active),
                 ERR_NOT_FOUND);
    auth_pair_t p = {0};
    ASSERT_EQ_INT(login(&f, now, &p), 0); /* login fills the cache */
    ASSERT_EQ_INT(auth_user_cached(f.auth, f.uid, now, out, sizeof out, &len, &active), 0);
    CHECK_TRUE(active);
    CHECK_EQ_INT(len, p.user_json_len);
    CHECK_MEM_EQ(out, p.user_json, len);
    CHECK_EQ_INT(auth_user_cached(f.auth, f.uid, now, out, 4, &len, &active), ERR_TOO_LARGE);
    CHECK_EQ_INT(auth_user_cached(f.auth, f.uid, now + 3601, out, sizeof out, &len, &active),
                 ERR_NOT_FOUND); /* stale after the TTL (default 1 h) */
    auth_user_invalidate(f.auth, f.uid);
    CHECK_EQ_INT(auth_user_cached(f.auth, f.uid, now, out, sizeof out, &len, &active),
                 ERR_NOT_FOUND);
    ASSERT_EQ_INT(auth_user_load(f.auth, f.uid, now), 0);
    CHECK_EQ_INT(auth_user_cached(f.auth, f.uid, now, out, sizeof out, &len, &active), 0);
    CHECK_EQ_INT(auth_user_load(f.auth, 424242, now), ERR_NOT_FOUND);
    /* a deactivation made by this process drops the entry */
    ASSERT_EQ_INT(auth_user_set_active(f.auth, f.uid, false, now), 0);
    CHECK_EQ_INT(auth_user_cached(f.auth, f.uid, now, out, sizeof out, &len, &active),
                 ERR_NOT_FOUND);
    ASSERT_EQ_INT(auth_user_load(f.auth, f.uid, now), 0);
    CHECK_EQ_INT(auth_user_cached(f.auth, f.uid, now, out, sizeof out, &len, &active), 0);
    CHECK_TRUE(!active);
    auth_pair_dispose(&p);
    fx_close(&f);
}

#define BAD_USERNAME                                                                               \
    "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ "         \
    "characters."
#define BAD_EMAIL   "Enter a valid email address."
#define BAD_ROLE    "Select a valid role: user, instructor or admin."
#define LONG_NAME   "Ensure this field has no more than 150 characters."
#define PW_SHORT    "This password is too short. It must contain at least 8 characters."
#define PW_NUMERIC  "This password is entirely numeric."
#define PW_USERNAME "The password is too similar to the username."
#define PW_EMAIL    "The password is too similar to the email address."

/* A valid new account: bob / bob@example.com / "a long passphrase". */
static auth_new_user_t bob(void)
{
    auth_new_user_t u = {0};
    u.username = "bob";
    u.email = "bob@example.com";
    u.password = "a long passphrase";
    u.password_len = strlen(u.password);
    u.first_name = "Bob";
    u.last_name = "Builder";
    return u;
}

static bool no_errors(const auth_user_errors_t *e)
{
    return !e->username && !e->email && !e->role && !e->name && e->password.count == 0;
}

/* n copies of s (a UTF-8 character) into out. */
static const char *repeat(char *out, size_t cap, const char *s, size_t n)
{
    size_t len = strlen(s), at = 0;
    for (size_t i = 0; i < n && at + len < cap; i++, at += len)
        memcpy(out + at, s, len);
    out[at] = '\0';
    return out;
}

TEST(auth_user_validate_username_email_role_names)
{
    auth_user_errors_t e;
    auth_new_user_t u = bob();
    CHECK_EQ_INT(auth_user_validate(&u, false, &e), 0);
    CHECK_TRUE(no_errors(&e));

    /* usernames: Django's characters, 1..150 of them (non-ASCII letters count as one) */
    char name[1024];
    const char *good[] = {"a", "a.b+c-d_e@f", "J\xc3\xbcrgen", repeat(name, sizeof name, "x", 150)};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        u = bob();
        u.username = good[i];
        if (!CHECK_EQ_INT(auth_user_validate(&u, false, &e), 0))
            fprintf(stderr, "    username \"%s\"\n", good[i]);
    }
    u = bob();
    u.username = repeat(name, sizeof name, "\xc3\xa9", 150); /* 150 characters, 300 bytes */
    CHECK_EQ_INT(auth_user_validate(&u, false, &e), 0);
    char long_name[1024];
    repeat(long_name, sizeof long_name, "x", 151);
    const char *bad[] = {"", "two words", "semi;colon", "quote\"", "tab\t", "\xff\xfe", long_name};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        u = bob();
        u.username = bad[i];
        CHECK_EQ_INT(auth_user_validate(&u, false, &e), ERR_INVALID);
        if (!CHECK_STR_EQ(e.username, BAD_USERNAME))
            fprintf(stderr, "    username \"%s\"\n", bad[i]);
        CHECK_TRUE(!e.email && !e.role && !e.name && e.password.count == 0);
    }
    u = bob();
    u.username = NULL; /* NULL is "" */
    CHECK_EQ_INT(auth_user_validate(&u, false, &e), ERR_INVALID);
    CHECK_STR_EQ(e.username, BAD_USERNAME);

    /* e-mail: required unless optional; when given, always checked */
    const char *bad_email[] = {"bob",
                               "@example.com",
                               "bob@",
                               "bob@example",
                               "bob@.example.com",
                               "bob@example.com.",
                               "bob@exa..mple.com",
                               "b@b@example.com",
                               "bob smith@example.com",
                               "<bob>@example.com",
                               "bob@example,com"};
    for (size_t i = 0; i < sizeof bad_email / sizeof bad_email[0]; i++) {
        u = bob();
        u.email = bad_email[i];
        CHECK_EQ_INT(auth_user_validate(&u, true, &e), ERR_INVALID);
        if (!CHECK_STR_EQ(e.email, BAD_EMAIL))
            fprintf(stderr, "    email \"%s\"\n", bad_email[i]);
        CHECK_TRUE(!e.username);
    }
    u = bob();
    u.email = "";
    CHECK_EQ_INT(auth_user_validate(&u, false, &e), ERR_INVALID);
    CHECK_STR_EQ(e.email, BAD_EMAIL);
    CHECK_EQ_INT(auth_user_validate(&u, true, &e), 0);
    CHECK_TRUE(no_errors(&e));
    u.email = NULL;
    CHECK_EQ_INT(auth_user_validate(&u, false, &e), ERR_INVALID);
    CHECK_STR_EQ(e.email, BAD_EMAIL);
    CHECK_EQ_INT(auth_user_validate(&u, true, &e), 0);
    u.email = "Bob.Smith+tag@mail.example.co.uk";
    CHECK_EQ_INT(auth_user_validate(&u, false, &e), 0);

    /* role: one of the three, NULL = user */
    const char *roles[] = {"user", "instructor", "admin"};
    for (size_t i = 0; i < 3; i++) {
        u = bob();
        u.role = roles[i];
        CHECK_EQ_INT(auth_user_validate(&u, false, &e), 0);
    }
    u.role = "superuser";
    CHECK_EQ_INT(auth_user_validate(&u, false, &e), ERR_INVALID);
    CHECK_STR_EQ(e.role, BAD_ROLE);
    u.role = "";
    CHECK_EQ_INT(auth_user_validate(&u, false, &e), ERR_INVALID);
    CHECK_STR_EQ(e.role, BAD_ROLE);

    /* names: at most 150 characters each, empty or absent is fine */
    u = bob();
    u.first_name = repeat(name, sizeof name, "\xc3\xa9", 150);
    u.last_name = NULL;
    CHECK_EQ_INT(auth_user_validate(&u, false, &e), 0);
    u.first_name = long_name;
    CHECK_EQ_INT(auth_user_validate(&u, false, &e), ERR_INVALID);
    CHECK_STR_EQ(e.name, LONG_NAME);
    u.first_name = "";
    u.last_name = long_name;
    CHECK_EQ_INT(auth_user_validate(&u, false, &e), ERR_INVALID);
    CHECK_STR_EQ(e.name, LONG_NAME);

    /* every field at once */
    u.username = "no spaces";
    u.email = "nope";
    u.role = "root";
    CHECK_EQ_INT(auth_user_validate(&u, false, &e), ERR_INVALID);
    CHECK_STR_EQ(e.username, BAD_USERNAME);
    CHECK_STR_EQ(e.email, BAD_EMAIL);
    CHECK_STR_EQ(e.role, BAD_ROLE);
    CHECK_STR_EQ(e.name, LONG_NAME);
    CHECK_EQ_INT(e.password.count, 0);
}

TEST(auth_user_validate_password_policy)
{
    auth_user_errors_t e;
    auth_new_user_t u = bob();
    u.password = "1234567";
    u.password_len = 7;
    CHECK_EQ_INT(auth_user_validate(&u, false, &e), ERR_INVALID);
    ASSERT_EQ_INT(e.password.count, 2);
    CHECK_STR_EQ(e.password.messages[0], PW_SHORT);
    CHECK_STR_EQ(e.password.messages[1], PW_NUMERIC);
    CHECK_TRUE(!e.username && !e.email && !e.role && !e.name);
    /* compared with the account's own username and e-mail, case-insensitively */
    u.username = "bobthebuilder";
    u.password = "BobTheBuilder";
    u.password_len = 13;
    CHECK_EQ_INT(auth_user_validate(&u, false, &e), ERR_INVALID);
    ASSERT_EQ_INT(e.password.count, 1);
    CHECK_STR_EQ(e.password.messages[0], PW_USERNAME);
    u.password = "BOB@example.com";
    u.password_len = 15;
    CHECK_EQ_INT(auth_user_validate(&u, false, &e), ERR_INVALID);
    ASSERT_EQ_INT(e.password.count, 1);
    CHECK_STR_EQ(e.password.messages[0], PW_EMAIL);
    /* the length is the one given, not up to a NUL */
    u.password = "a long passphrase";
    u.password_len = 4;
    CHECK_EQ_INT(auth_user_validate(&u, false, &e), ERR_INVALID);
    CHECK_STR_EQ(e.password.messages[0], PW_SHORT);
    /* NULL skips the policy: a command checks the rest before it asks for the password */
    u.password = NULL;
    u.password_len = 0;
    CHECK_EQ_INT(auth_user_validate(&u, false, &e), 0);
    CHECK_TRUE(no_errors(&e));
    u.username = "bad name";
    CHECK_EQ_INT(auth_user_validate(&u, false, &e), ERR_INVALID);
    CHECK_STR_EQ(e.username, BAD_USERNAME);
    CHECK_EQ_INT(e.password.count, 0);
}

TEST(auth_user_register_creates_an_active_user)
{
    struct fx f;
    ASSERT_EQ_INT(fx_open(&f, NULL), 0);
    int64_t now = clock_now_s();
    auth_new_user_t u = bob();
    u.first_name = "B\"o\\b";
    auth_user_errors_t e;
    int64_t id = 0;
    char *json = NULL;
    size_t json_len = 0;
    ASSERT_EQ_INT(auth_user_register(f.auth, &u, now, &id, &json, &json_len, &e), 0);
    CHECK_TRUE(no_errors(&e));
    CHECK_TRUE(id > 0 && id != f.uid);
    ASSERT_TRUE(json != NULL);
    CHECK_EQ_INT(strlen(json), json_len);
    json_t *j = json_loadb(json, json_len, 0, NULL);
    ASSERT_TRUE(j != NULL);
    CHECK_EQ_INT(json_object_size(j), 7);
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "id")), id);
    CHECK_STR_EQ(json_string_value(json_object_get(j, "username")), "bob");
    CHECK_STR_EQ(json_string_value(json_object_get(j, "email")), "bob@example.com");
    CHECK_STR_EQ(json_string_value(json_object_get(j, "first_name")), "B\"o\\b");
    CHECK_STR_EQ(json_string_value(json_object_get(j, "last_name")), "Builder");
    CHECK_STR_EQ(json_string_value(json_object_get(j, "role")), "user");
    CHECK_TRUE(json_is_false(json_object_get(j, "premium")));
    json_decref(j);
    free(json);

    /* stored as argon2id at the configured cost, active: bob can log in */
    db_user_t row;
    ASSERT_EQ_INT(db_user_find_by_id(f.db, id, &row), 0);
    CHECK_TRUE(strncmp(row.password_hash, "$argon2id$v=19$m=1024,t=1,p=1$", 30) == 0);
    CHECK_TRUE(strstr(row.password_hash, "a long passphrase") == NULL);
    CHECK_TRUE(row.is_active);
    CHECK_EQ_INT(row.role, DB_ROLE_USER);
    CHECK_EQ_INT(row.created_at, now);
    db_user_dispose(&row);
    auth_pair_t p = {0};
    auth_client_t c = {0};
    CHECK_EQ_INT(auth_login(f.auth, "bob", "a long passphrase", 17, &c, now, &p), 0);
    CHECK_EQ_INT(p.user_id, id);
    auth_pair_dispose(&p);

    /* without json: the id only */
    u = bob();
    u.username = "carol";
    u.email = "carol@example.com";
    int64_t id2 = 0;
    ASSERT_EQ_INT(auth_user_register(f.auth, &u, now, &id2, NULL, NULL, &e), 0);
    CHECK_TRUE(id2 > id);
    fx_close(&f);
}

TEST(auth_user_register_refusals_say_why)
{
    struct fx f;
    ASSERT_EQ_INT(fx_open(&f, NULL), 0);
    int64_t now = clock_now_s();
    auth_user_errors_t e;
    int64_t id = -1;
    char *json = NULL;
    size_t json_len = 0;
    /* a taken username (the fixture's alice), case-sensitive */
    auth_new_user_t u = bob();
    u.username = "alice";
    CHECK_EQ_INT(auth_user_register(f.auth, &u, now, &id, &json, &json_len, &e), ERR_CONFLICT);
    CHECK_STR_EQ(e.username, "A user with that username already exists.");
    CHECK_TRUE(e.email == NULL);
    CHECK_TRUE(json == NULL);
    CHECK_EQ_INT(id, -1);
    /* a taken e-mail address, case-insensitively */
    u = bob();
    u.email = "ALICE@example.com";
    CHECK_EQ_INT(auth_user_register(f.auth, &u, now, &id, &json, &json_len, &e), ERR_CONFLICT);
    CHECK_STR_EQ(e.email, "A user with that email already exists.");
    CHECK_TRUE(e.username == NULL);
    /* registration requires an e-mail address and a password */
    u = bob();
    u.email = "";
    CHECK_EQ_INT(auth_user_register(f.auth, &u, now, &id, &json, &json_len, &e), ERR_INVALID);
    CHECK_STR_EQ(e.email, BAD_EMAIL);
    u = bob();
    u.password = NULL;
    u.password_len = 0;
    CHECK_EQ_INT(auth_user_register(f.auth, &u, now, &id, &json, &json_len, &e), ERR_INVALID);
    u = bob();
    u.password = "bob";
    u.password_len = 3;
    CHECK_EQ_INT(auth_user_register(f.auth, &u, now, &id, &json, &json_len, &e), ERR_INVALID);
    CHECK_TRUE(e.password.count >= 1);
    CHECK_TRUE(json == NULL);
    CHECK_EQ_INT(id, -1);
    /* nothing was created */
    db_user_t row;
    CHECK_EQ_INT(db_user_find_by_username(f.db, "bob", &row), ERR_NOT_FOUND);
    db_user_dispose(&row);
    fx_close(&f);
}

TEST(auth_user_register_refused_when_signup_closed_cli_create_still_works)
{
    struct fx f;
    auth_options_t o;
    fx_options(&o);
    o.signup_closed = true;
    ASSERT_EQ_INT(fx_open(&f, &o), 0);
    int64_t now = clock_now_s();
    auth_user_errors_t e;
    int64_t id = -1;
    char *json = NULL;
    size_t json_len = 0;
    CHECK_TRUE(!auth_signup_open(f.auth));
    auth_new_user_t u = bob();
    CHECK_EQ_INT(auth_user_register(f.auth, &u, now, &id, &json, &json_len, &e), ERR_SIGNUP_CLOSED);
    CHECK_TRUE(json == NULL);
    CHECK_EQ_INT(id, -1);
    db_user_t row;
    CHECK_EQ_INT(db_user_find_by_username(f.db, "bob", &row), ERR_NOT_FOUND);
    db_user_dispose(&row);
    /* an administrator's creation is not self-registration */
    CHECK_EQ_INT(auth_user_create(f.db, &fx_cheap, &u, now, &id, &e), 0);
    CHECK_EQ_INT(db_user_find_by_username(f.db, "bob", &row), 0);
    CHECK_EQ_INT(row.id, id);
    db_user_dispose(&row);
    fx_close(&f);
}

TEST(auth_user_create_premium_role_optional_email)
{
    struct fx f;
    ASSERT_EQ_INT(fx_open(&f, NULL), 0);
    int64_t now = clock_now_s();
    auth_user_errors_t e;
    auth_new_user_t u = bob();
    u.role = "admin";
    u.premium = true;
    int64_t id = 0;
    ASSERT_EQ_INT(auth_user_create(f.db, &fx_cheap, &u, now, &id, &e), 0);
    db_user_t row;
    ASSERT_EQ_INT(db_user_find_by_id(f.db, id, &row), 0);
    CHECK_STR_EQ(row.username, "bob");
    CHECK_EQ_INT(row.role, DB_ROLE_ADMIN);
    CHECK_TRUE(row.premium);
    CHECK_TRUE(row.is_active);
    CHECK_TRUE(strncmp(row.password_hash, "$argon2id$", 10) == 0);
    db_user_dispose(&row);
    /* the e-mail address is optional here; role NULL is user */
    u = bob();
    u.username = "instr";
    u.email = NULL;
    u.role = "instructor";
    ASSERT_EQ_INT(auth_user_create(f.db, &fx_cheap, &u, now, &id, &e), 0);
    ASSERT_EQ_INT(db_user_find_by_id(f.db, id, &row), 0);
    CHECK_EQ_INT(row.role, DB_ROLE_INSTRUCTOR);
    CHECK_TRUE(!row.premium);
    CHECK_STR_EQ(row.email, "");
    db_user_dispose(&row);
    u = bob();
    u.username = "plain";
    u.email = "";
    ASSERT_EQ_INT(auth_user_create(f.db, &fx_cheap, &u, now, NULL, &e), 0);
    ASSERT_EQ_INT(db_user_find_by_username(f.db, "plain", &row), 0);
    CHECK_EQ_INT(row.role, DB_ROLE_USER);
    db_user_dispose(&row);
    /* the same refusals as registration */
    u = bob();
    u.role = "owner";
    u.username = "other";
    CHECK_EQ_INT(auth_user_create(f.db, &fx_cheap, &u, now, &id, &e), ERR_INVALID);
    CHECK_STR_EQ(e.role, BAD_ROLE);
    u = bob();
    u.email = "someone@example.com";
    CHECK_EQ_INT(auth_user_create(f.db, &fx_cheap, &u, now, &id, &e), ERR_CONFLICT);
    CHECK_STR_EQ(e.username, "A user with that username already exists.");
    fx_close(&f);
}
