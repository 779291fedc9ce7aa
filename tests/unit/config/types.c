/*
 * types.c - unit tests for the value types (src/config/types.c): every row of cfg_types[]
 * is complete; each type's text parses, prints, and parses back to the same value; parse
 * failures explain themselves and own nothing; secrets are never shown, print redacted and
 * are released; values in messages are quoted, cut, and URL passwords redacted.
 */
#include <stdlib.h>

#include "common/buf.h"
#include "common/err.h"
#include "config/table.h"
#include "test.h"

/* The table row named name (the test fails when there is none). */
static const struct cfg_row *row_named(const char *name)
{
    int i = cfg__row_find(str_cstr(name));
    if (i < 0) {
        test__fail(__FILE__, __LINE__, "no row %s", name);
        return NULL;
    }
    return &cfg_rows[i];
}

static void release(const struct cfg_row *row, cfg_value_t *v)
{
    if (cfg_types[row->type].release)
        cfg_types[row->type].release(v);
}

/* Parses text for row; on success appends the value as printed (revealed) to out. */
static int parse_print(const struct cfg_row *row, const char *text, buf_t *out, char *why,
                       size_t cap)
{
    const struct cfg_type_ops *t = &cfg_types[row->type];
    cfg_value_t v;
    memset(&v, 0, sizeof v);
    why[0] = '\0';
    int rc = t->parse(row, str_cstr(text), "\"shown\"", &v, why, cap);
    if (rc != 0)
        return rc;
    rc = t->format(row, &v, true, out);
    release(row, &v);
    return rc;
}

TEST(cfg_types_rows_are_complete)
{
    for (size_t i = 0; i < CFG_T_COUNT; i++) {
        const struct cfg_type_ops *t = &cfg_types[i];
        if (!CHECK_TRUE(t->name && t->parse && t->format))
            fprintf(stderr, "    type %zu\n", i);
        CHECK_TRUE(t->size > 0 && t->size <= sizeof(cfg_value_t));
        CHECK_TRUE((t->kind == NULL) == (t->hint == NULL));
        CHECK_TRUE(t->limit == 0 || t->number != NULL); /* the range message prints bounds */
        CHECK_TRUE(!t->secret || t->release != NULL);   /* a secret is wiped on release */
        bool used = false;
        for (size_t r = 0; r < cfg_rows_count; r++)
            used |= cfg_rows[r].type == i;
        CHECK_TRUE(used); /* no type without a variable */
    }
}

/* A text of one type, and how it prints. */
struct sample {
    const char *row; /* a variable of the type whose bounds admit the value */
    const char *text;
    const char *printed;
};

static const struct sample samples[] = {
    {"JWTD_ACCESS_TOKEN_LIFETIME", "900", "15m"},
    {"JWTD_ACCESS_TOKEN_LIFETIME", "90", "90s"},
    {"JWTD_ACCESS_TOKEN_LIFETIME", "36h", "36h"},
    {"JWTD_ACCESS_TOKEN_LIFETIME", "7200s", "2h"},
    {"JWTD_ACCESS_TOKEN_LIFETIME", "3w", "21d"},
    {"JWTD_LEEWAY", "0ms", "0"},
    {"JWTD_HEADER_TIMEOUT", "1500ms", "1500ms"},
    {"JWTD_HEADER_TIMEOUT", "120000ms", "2m"},
    {"JWTD_HEADER_TIMEOUT", " 1h ", "1h"},
    {"JWTD_HEADER_TIMEOUT", "10", "10s"},
    {"JWTD_MAX_BODY_BYTES", "2m", "2097152"},
    {"JWTD_MAX_BODY_BYTES", "16 KiB", "16384"},
    {"JWTD_MAX_BODY_BYTES", "1", "1"},
    {"JWTD_RATE_LIMIT_LOGIN", "5/minute", "5/minute"},
    {"JWTD_RATE_LIMIT_LOGIN", "3 / h", "3/hour"},
    {"JWTD_RATE_LIMIT_LOGIN", "10/60s", "10/minute"},
    {"JWTD_RATE_LIMIT_LOGIN", "7/15m", "7/15m"},
    {"JWTD_RATE_LIMIT_LOGIN", "2/30s", "2/30s"},
    {"JWTD_RATE_LIMIT_LOGIN", "1/2d", "1/2d"},
    {"JWTD_RATE_LIMIT_LOGIN", "0/day", "0"},
    {"JWTD_RATE_LIMIT_LOGIN", "0", "0"},
    {"JWTD_REDIS_REQUIRED", "yes", "true"},
    {"JWTD_REDIS_REQUIRED", "OFF", "false"},
    {"JWTD_TRUSTED_PROXIES", "10.1.2.3/8, ::1", "10.0.0.0/8,::1/128"},
    {"JWTD_TRUSTED_PROXIES", "192.0.2.1,2001:db8::/32", "192.0.2.1/32,2001:db8::/32"},
    {"JWTD_TRUSTED_PROXIES", "", ""},
    {"JWTD_CORS_ALLOWED_ORIGINS", " a, b ,,c", "a,b,c"},
    {"JWTD_CORS_ALLOWED_ORIGINS", "", ""},
    {"JWTD_SECRET_KEY", "0123456789abcdef0123456789abcdef", "0123456789abcdef0123456789abcdef"},
    {"JWTD_SECRET_KEY", "", ""},
    {"JWTD_WORKERS", "007", "7"},
    {"JWTD_WORKERS", " 1024 ", "1024"},
    {"JWTD_ARGON2_MEMORY_KIB", "4194304", "4194304"},
    {"JWTD_ARGON2_MEMORY_KIB", "8", "8"},
    {"JWTD_ISSUER", " lead and trail ", " lead and trail "},
    {"JWTD_ISSUER", "", ""},
    {"JWTD_ALGORITHM", " hs512 ", "HS512"},
    {"JWTD_DATABASE_URL", "postgres://u:pw@db/x?password=p", "postgres://u:pw@db/x?password=p"},
    {"JWTD_DATA_DIR", "/srv/jwtd", "/srv/jwtd"},
    {"JWTD_LOG_DIR", "", ""},
    {"JWTD_ENVIRONMENT", " PRODUCTION ", "production"},
    {"JWTD_WORKER_AFFINITY", "Off", "off"},
};

TEST(cfg_types_parse_format_parse_round_trip)
{
    bool seen[CFG_T_COUNT] = {false};
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        const struct sample *s = &samples[i];
        const struct cfg_row *row = row_named(s->row);
        char why[1024];
        buf_t once, twice;
        if (!row)
            continue;
        buf_init(&once, 4096);
        buf_init(&twice, 4096);
        if (!CHECK_EQ_INT(parse_print(row, s->text, &once, why, sizeof why), 0))
            fprintf(stderr, "    %s=\"%s\": %s\n", s->row, s->text, why);
        else if (CHECK_STR_EQ(once.data ? once.data : "", s->printed) &&
                 CHECK_EQ_INT(parse_print(row, s->printed, &twice, why, sizeof why), 0))
            CHECK_STR_EQ(twice.data ? twice.data : "", s->printed);
        seen[row->type] = true;
        buf_dispose(&once);
        buf_dispose(&twice);
    }
    for (size_t t = 0; t < CFG_T_COUNT; t++)
        if (!CHECK_TRUE(seen[t]))
            fprintf(stderr, "    type %s has no sample\n", cfg_types[t].name);
}

/* A text a variable refuses, and why (the message after "JWTD_NAME: "). */
static const struct sample refused[] = {
    {"JWTD_ACCESS_TOKEN_LIFETIME", "15x",
     "invalid duration \"shown\" (expected e.g. 900, 15m, 7d)"},
    {"JWTD_LEEWAY", "1500ms",
     "\"shown\" is not a whole number of seconds (sub-second values are not supported here)"},
    {"JWTD_LEEWAY", "2h", "\"shown\" is out of range (0..1h)"},
    {"JWTD_HEADER_TIMEOUT", "9ms", "\"shown\" is out of range (10ms..1h)"},
    {"JWTD_MAX_BODY_BYTES", "0", "\"shown\" is out of range (1..1073741824)"},
    {"JWTD_MAX_BODY_BYTES", "16e", "invalid size \"shown\" (expected e.g. 1048576, 16k, 1m)"},
    {"JWTD_MAX_BODY_BYTES", "9223372036854775808",
     "invalid size \"shown\" (expected e.g. 1048576, 16k, 1m)"},
    {"JWTD_RATE_LIMIT_LOGIN", "5",
     "invalid rate \"shown\" (expected e.g. 5/minute, 100/hour, 0 = unlimited)"},
    {"JWTD_REDIS_REQUIRED", "2",
     "invalid boolean \"shown\" (expected true/false, 1/0, yes/no, "
     "on/off)"},
    {"JWTD_TRUSTED_PROXIES", "10.0.0.0/8, 300.1.1.1",
     "invalid CIDR \"300.1.1.1\" (expected e.g. 10.0.0.0/8, ::1/128, 127.0.0.1)"},
    {"JWTD_SECRET_KEY", "short", "value is too short (5 bytes, need at least 32)"},
    {"JWTD_WORKERS", "1k", "invalid integer \"shown\" (expected a whole number)"},
    {"JWTD_WORKERS", "1025", "\"shown\" is out of range (0..1024)"},
    {"JWTD_ARGON2_MEMORY_KIB", "4294967296", "\"shown\" is out of range (8..4194304)"},
    {"JWTD_LISTEN", "", "must not be empty"},
    {"JWTD_LISTEN", "nowhere",
     "invalid value \"shown\" (expected host:port, e.g. 127.0.0.1:8000 "
     "or [::1]:8000)"},
    {"JWTD_REDIS_PREFIX", "0123456789012345678901234567890123456789012345678901234567890123456789",
     "\"shown\" must be 0 to 64 bytes long (got 70)"},
    {"JWTD_LOG_FORMAT", "xml", "invalid value \"shown\" (expected one of: text, json)"},
    {"JWTD_DATA_DIR", "", "must not be empty"},
    {"JWTD_ENVIRONMENT", "prod",
     "invalid value \"shown\" (expected one of: development, staging, production)"},
};

TEST(cfg_types_parse_failures_explain_and_own_nothing)
{
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        const struct sample *s = &refused[i];
        const struct cfg_row *row = row_named(s->row);
        char why[1024];
        buf_t out;
        if (!row)
            continue;
        buf_init(&out, 4096);
        if (!CHECK_EQ_INT(parse_print(row, s->text, &out, why, sizeof why), ERR_CONFIG) ||
            !CHECK_STR_EQ(why, s->printed))
            fprintf(stderr, "    %s=\"%s\"\n", s->row, s->text);
        buf_dispose(&out); /* the ASan run shows that a failed parse left nothing behind */
    }
}

TEST(cfg_type_secret_never_shown_and_released)
{
    const struct cfg_row *row = row_named("JWTD_SECRET_KEY");
    ASSERT_TRUE(row != NULL);
    const struct cfg_type_ops *t = &cfg_types[row->type];
    const char *key = "hunter2-hunter2-hunter2-hunter2-hunter2";
    char shown[256], why[1024];
    cfg_value_t v;
    buf_t out;
    ASSERT_TRUE(t->secret);
    cfg__value_shown(row, str_cstr(key), shown, sizeof shown);
    CHECK_STR_EQ(shown, "(value not shown)");

    memset(&v, 0, sizeof v);
    ASSERT_EQ_INT(t->parse(row, str_cstr(key), shown, &v, why, sizeof why), 0);
    ASSERT_TRUE(v.s != NULL);
    CHECK_TRUE(v.s != key);
    CHECK_STR_EQ(v.s, key);
    buf_init(&out, 4096);
    CHECK_EQ_INT(t->format(row, &v, false, &out), 0);
    CHECK_STR_EQ(out.data, "<redacted>");
    buf_dispose(&out);
    t->release(&v);
    CHECK_TRUE(v.s == NULL);
    t->release(&v); /* releasing an empty value is a no-op */
    CHECK_TRUE(v.s == NULL);
    CHECK_EQ_INT(t->format(row, &v, false, &out), 0);
    CHECK_STR_EQ(out.data, "<unset>");
    buf_dispose(&out);

    /* a refused secret is named "value", never quoted */
    CHECK_EQ_INT(t->parse(row, STR_LIT("hunter2"), shown, &v, why, sizeof why), ERR_CONFIG);
    CHECK_TRUE(strstr(why, "hunter2") == NULL);
    CHECK_TRUE(v.s == NULL);
}

TEST(cfg_types_release_leaves_fields_empty)
{
    static const char *const rows[] = {"JWTD_ISSUER", "JWTD_DATA_DIR", "JWTD_TRUSTED_PROXIES",
                                       "JWTD_CORS_ALLOWED_ORIGINS"};
    static const char *const texts[] = {"iss", "/srv", "10.0.0.0/8,::1", "a,b"};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const struct cfg_row *row = row_named(rows[i]);
        cfg_value_t v, zero;
        char why[1024];
        if (!row)
            continue;
        memset(&v, 0, sizeof v);
        memset(&zero, 0, sizeof zero);
        CHECK_EQ_INT(cfg_types[row->type].parse(row, str_cstr(texts[i]), "", &v, why, sizeof why),
                     0);
        CHECK_TRUE(memcmp(&v, &zero, sizeof v) != 0);
        release(row, &v);
        CHECK_TRUE(memcmp(&v, &zero, sizeof v) == 0);
    }
}

TEST(cfg_value_shown_quotes_cuts_and_redacts_urls)
{
    char shown[256];
    const struct cfg_row *issuer = row_named("JWTD_ISSUER");
    const struct cfg_row *db = row_named("JWTD_DATABASE_URL");
    ASSERT_TRUE(issuer && db);
    cfg__value_shown(issuer, STR_LIT("a\"b\tc"), shown, sizeof shown);
    CHECK_STR_EQ(shown, "\"a\\\"b\\x09c\"");
    cfg__value_shown(issuer,
                     STR_LIT("0123456789012345678901234567890123456789012345678901234567890123456"
                             "789012345678901234567890123456789"),
                     shown, sizeof shown);
    CHECK_STR_EQ(shown, "\"0123456789012345678901234567890123456789012345678901234567890123456"
                        "7890123456789...\"");
    cfg__value_shown(db, STR_LIT("postgresql://u:pw@db/x?a=1&sslpassword=s&password"), shown,
                     sizeof shown);
    CHECK_STR_EQ(shown, "\"postgresql://u:<redacted>@db/x?a=1&sslpassword=<redacted>&password\"");
    cfg__value_shown(db, STR_LIT("sqlite:var/jwtd.db"), shown, sizeof shown);
    CHECK_STR_EQ(shown, "\"sqlite:var/jwtd.db\"");
}

TEST(cfg_types_url_passwords_print_redacted_unless_revealed)
{
    const struct cfg_row *row = row_named("JWTD_REDIS_URL");
    ASSERT_TRUE(row != NULL);
    const struct cfg_type_ops *t = &cfg_types[row->type];
    char why[1024];
    cfg_value_t v;
    buf_t out;
    memset(&v, 0, sizeof v);
    ASSERT_EQ_INT(t->parse(row, STR_LIT("redis://:pw@cache:6379/0"), "", &v, why, sizeof why), 0);
    buf_init(&out, 4096);
    CHECK_EQ_INT(t->format(row, &v, false, &out), 0);
    CHECK_STR_EQ(out.data, "redis://:<redacted>@cache:6379/0");
    buf_reset(&out);
    CHECK_EQ_INT(t->format(row, &v, true, &out), 0);
    CHECK_STR_EQ(out.data, "redis://:pw@cache:6379/0");
    buf_dispose(&out);
    t->release(&v);
}
