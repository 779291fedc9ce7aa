/* Unit tests for src/http/multipart.c: the boundary and the parameters of part headers, the
   streaming parser fed every possible split of each body, limits, the filename sanitiser. */
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "http/multipart.h"
#include "test.h"

TEST(mp_boundary_forms)
{
    str_t b;
    CHECK_EQ_INT(http_mp_boundary(STR_LIT("multipart/form-data; boundary=abc"), &b), 0);
    CHECK_TRUE(str_eq_cstr(b, "abc"));
    CHECK_EQ_INT(http_mp_boundary(STR_LIT("Multipart/Form-Data;charset=x; boundary=\"a b\""), &b),
                 0);
    CHECK_TRUE(str_eq_cstr(b, "a b"));
    /* an unquoted boundary is a token: it ends at whitespace; a parameter without '=' is
       skipped */
    CHECK_EQ_INT(http_mp_boundary(STR_LIT("multipart/form-data; flag; boundary=abc def"), &b), 0);
    CHECK_TRUE(str_eq_cstr(b, "abc"));
    CHECK_EQ_INT(http_mp_boundary(STR_LIT("multipart/form-data"), &b), ERR_INVALID);
    CHECK_EQ_INT(http_mp_boundary(STR_LIT("multipart/form-data; boundary="), &b), ERR_INVALID);
    CHECK_EQ_INT(http_mp_boundary(STR_LIT("multipart/form-data; boundary=\"unterminated"), &b),
                 ERR_INVALID);
    CHECK_EQ_INT(http_mp_boundary(STR_LIT("multipart/form-data; boundary=a\x01"), &b), ERR_INVALID);
    char longb[128] = "multipart/form-data; boundary=";
    memset(longb + strlen(longb), 'x', 71);
    CHECK_EQ_INT(http_mp_boundary(str_cstr(longb), &b), ERR_INVALID);
    CHECK_EQ_INT(http_mp_boundary(STR_LIT("application/json"), &b), ERR_UNSUPPORTED_MEDIA);
    CHECK_EQ_INT(http_mp_boundary(STR_LIT("multipart/form-dataX; boundary=a"), &b),
                 ERR_UNSUPPORTED_MEDIA);
    CHECK_EQ_INT(http_mp_boundary(STR_NULL, &b), ERR_UNSUPPORTED_MEDIA);
}

/* ---- streaming parser: an event log per body, compared across every split ---- */

struct collect {
    buf_t log;
    int stop_at_part; /* on_part of this part (1-based) returns ERR_TOO_LARGE; 0 = never */
    int parts;
};

static int c_part(void *arg, const http_mp_part_t *p)
{
    struct collect *c = arg;
    if (++c->parts == c->stop_at_part)
        return ERR_TOO_LARGE;
    buf_printf(&c->log, "[name=%.*s", STR_FMT(p->name));
    if (p->has_filename)
        buf_printf(&c->log, ";filename=%.*s", STR_FMT(p->filename));
    if (p->content_type.ptr)
        buf_printf(&c->log, ";type=%.*s", STR_FMT(p->content_type));
    buf_append_cstr(&c->log, "]");
    return 0;
}

static int c_data(void *arg, str_t d)
{
    struct collect *c = arg;
    if (d.len == 0)
        return ERR_INTERNAL; /* the parser never reports empty data */
    buf_append_str(&c->log, d);
    return 0;
}

static int c_end(void *arg)
{
    buf_append_cstr(&((struct collect *)arg)->log, "<end>");
    return 0;
}

static const http_mp_callbacks_t collect_cb = {c_part, c_data, c_end};

/* An empty log in c and a parser p over boundary that reports into it. */
static int collect_start(struct collect *c, http_mp_parser_t *p, const char *boundary,
                         int stop_at_part)
{
    buf_init(&c->log, 1 << 20);
    c->parts = 0;
    c->stop_at_part = stop_at_part;
    return http_mp_init(p, str_cstr(boundary), &collect_cb, c);
}

/* Parses body cut at the given offsets (ascending, <= len); returns the result code and
 * leaves the event log in c (caller disposes). */
static int run_split(str_t body, const char *boundary, const size_t *cuts, size_t ncuts,
                     struct collect *c, int stop_at_part)
{
    static http_mp_parser_t p;
    if (collect_start(c, &p, boundary, stop_at_part) != 0)
        return ERR_INTERNAL;
    size_t from = 0;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t to = i < ncuts ? cuts[i] : body.len;
        int rc = http_mp_feed(&p, str_make(body.ptr + from, to - from));
        if (rc != 0)
            return rc;
        from = to;
    }
    return http_mp_finish(&p);
}

/*
 * The same body split once at every position, in three at every pair of positions (short
 * bodies) and byte by byte must give the same events and result as one piece.
 */
static void check_all_splits(const char *what, str_t body, const char *boundary, int want_rc,
                             const char *want_log, int stop_at_part)
{
    struct collect ref, c;
    int rc = run_split(body, boundary, NULL, 0, &ref, stop_at_part);
    if (!CHECK_EQ_INT(rc, want_rc))
        test__fail(__FILE__, __LINE__, "case %s", what);
    if (want_log && !CHECK_TRUE(str_eq_cstr(buf_str(&ref.log), want_log)))
        test__fail(__FILE__, __LINE__, "case %s: log \"%.*s\"", what, STR_FMT(buf_str(&ref.log)));
    for (size_t k = 0; k <= body.len; k++) {
        int r = run_split(body, boundary, &k, 1, &c, stop_at_part);
        if (r != rc || !str_eq(buf_str(&c.log), buf_str(&ref.log))) {
            test__fail(__FILE__, __LINE__, "case %s: split at %zu differs (rc %d)", what, k, r);
            buf_dispose(&c.log);
            break;
        }
        buf_dispose(&c.log);
    }
    if (body.len <= 160) {
        for (size_t a = 0; a <= body.len; a++) {
            for (size_t b = a; b <= body.len; b++) {
                size_t cuts[2] = {a, b};
                int r = run_split(body, boundary, cuts, 2, &c, stop_at_part);
                bool same = r == rc && str_eq(buf_str(&c.log), buf_str(&ref.log));
                buf_dispose(&c.log);
                if (!same) {
                    test__fail(__FILE__, __LINE__, "case %s: split at %zu,%zu differs", what, a, b);
                    a = body.len + 1;
                    break;
                }
            }
        }
    }
    size_t *cuts = malloc(body.len * sizeof *cuts + 1);
    for (size_t i = 0; i < body.len; i++)
        cuts[i] = i;
    int r = run_split(body, boundary, cuts, body.len, &c, stop_at_part);
    CHECK_TRUE(r == rc && str_eq(buf_str(&c.log), buf_str(&ref.log)));
    buf_dispose(&c.log);
    free(cuts);
    buf_dispose(&ref.log);
}

TEST(mp_parts_in_order_with_headers)
{
    str_t body =
        STR_LIT("preamble\r\n--XX\r\n"
                "Content-Disposition: form-data; name=\"title\"\r\n\r\n"
                "hello\r\n--XX\r\n"
                "content-disposition: form-data; name=\"file\"; filename=\"a\\\"b.txt\"\r\n"
                "Content-Type: text/plain\r\n\r\n"
                "line1\r\nline2 --X not a delimiter\r\n-\r\n--X\r\r\n--XX--\r\nepilogue");
    check_all_splits("ordered", body, "XX", 0,
                     "[name=title]hello<end>[name=file;filename=a\\\"b.txt;type=text/plain]"
                     "line1\r\nline2 --X not a delimiter\r\n-\r\n--X\r<end>",
                     0);
}

TEST(mp_empty_file_and_body_start)
{
    check_all_splits("empty",
                     STR_LIT("--B\r\nContent-Disposition: form-data; name=file; "
                             "filename=e\r\n\r\n\r\n--B--"),
                     "B", 0, "[name=file;filename=e]<end>", 0);
    /* an unquoted disposition value runs to ';' (spaces kept inside, trimmed around) */
    check_all_splits("unquoted",
                     STR_LIT("--B\r\nContent-Disposition: form-data; name = f ; "
                             "filename= my file.txt \r\n\r\nx\r\n--B--"),
                     "B", 0, "[name=f;filename=my file.txt]x<end>", 0);
    /* a delimiter that is almost repeated: the carry must be searched again */
    check_all_splits("near",
                     STR_LIT("--ab\r\nContent-Disposition: form-data; name=f\r\n\r\n"
                             "\r\n--a\r\n\r\n--\r\n-\r\r\n--ab--  \r\n"),
                     "ab", 0, "[name=f]\r\n--a\r\n\r\n--\r\n-\r<end>", 0);
    check_all_splits("padding",
                     STR_LIT("--B \t \r\nContent-Disposition: form-data; name=x\r\n"
                             "\r\nv\r\n--B--"),
                     "B", 0, "[name=x]v<end>", 0);
    check_all_splits("no parts", STR_LIT("--B--\r\n"), "B", 0, "", 0);
}

TEST(mp_binary_data_all_splits)
{
    char body[600];
    size_t n = (size_t)snprintf(body, sizeof body,
                                "\r\n--bnd\r\nContent-Disposition: form-data; "
                                "name=\"file\"; filename=\"x.bin\"\r\n\r\n");
    size_t data_at = n;
    for (int i = 0; i < 256; i++)
        body[n++] = (char)(i % 7 == 0 ? '\r' : i % 7 == 1 ? '\n' : i % 7 == 2 ? '-' : i);
    memcpy(body + n, "\r\n--bnd--", 9);
    n += 9;
    char want[600];
    size_t w = (size_t)snprintf(want, sizeof want, "[name=file;filename=x.bin]");
    memcpy(want + w, body + data_at, 256);
    w += 256;
    memcpy(want + w, "<end>", 6);
    check_all_splits("binary", str_make(body, n), "bnd", 0, want, 0);
}

TEST(mp_malformed_bodies)
{
    static const char *const bad[] = {
        "",
        "no delimiter at all",
        "--B\r\n\r\nno headers\r\n--B--",
        "--B\r\nContent-Type: text/plain\r\n\r\nno disposition\r\n--B--",
        "--B\r\nContent-Disposition: attachment; name=x\r\n\r\nx\r\n--B--",
        "--B\r\nContent-Disposition: form-data; filename=x\r\n\r\nno name\r\n--B--",
        "--B\r\nContent-Disposition: form-data; name=\"x\r\n\r\nunterminated\r\n--B--",
        "--B\r\nContent-Disposition: form-data; name=x\r\n\r\ntruncated",
        "--B\r\nContent-Disposition: form-data; name=x\r\n\r\ntruncated\r\n--B",
        "--B\r\nContent-Disposition: form-data; name=x\r\n\r\ntruncated\r\n--B-",
        "--B\r\nContent-Disposition: form-data; name=x\r\nContent-Disposition: form-data; "
        "name=y\r\n\r\ntwice\r\n--B--",
        "--Bjunk\r\nContent-Disposition: form-data; name=x\r\n\r\nx\r\n--B--",
        "--B\r\nbroken header line\r\n\r\nx\r\n--B--",
        "--B\rxContent-Disposition: form-data; name=x\r\n\r\nx\r\n--B--",
        "--B-x",
        "--B\r\nContent-Disposition: form-data; name=x\r\n\r\nx\r\n--B\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char what[16];
        snprintf(what, sizeof what, "bad %zu", i);
        check_all_splits(what, str_cstr(bad[i]), "B", ERR_INVALID, NULL, 0);
    }
}

TEST(mp_limits)
{
    /* parts: 64 are fine, the 65th is not */
    char body[64 * 80 + 64];
    size_t o = 0;
    for (int i = 0; i < 65; i++) {
        o += (size_t)snprintf(body + o, sizeof body - o,
                              "--B\r\nContent-Disposition: form-data; name=n\r\n\r\nv\r\n");
        if (i == 63) {
            struct collect c;
            char full[sizeof body];
            memcpy(full, body, o);
            memcpy(full + o, "--B--", 5);
            CHECK_EQ_INT(run_split(str_make(full, o + 5), "B", NULL, 0, &c, 0), 0);
            CHECK_EQ_INT(c.parts, HTTP_MP_MAX_PARTS);
            buf_dispose(&c.log);
        }
    }
    struct collect c;
    CHECK_EQ_INT(run_split(str_make(body, o), "B", NULL, 0, &c, 0), ERR_INVALID);
    CHECK_EQ_INT(c.parts, HTTP_MP_MAX_PARTS);
    buf_dispose(&c.log);

    /* part headers: HTTP_MP_MAX_HEADER_BYTES is accepted, one more is not */
    static char big[HTTP_MP_MAX_HEADER_BYTES + 200];
    for (int extra = 0; extra <= 1; extra++) {
        size_t n = (size_t)snprintf(big, sizeof big,
                                    "--B\r\nContent-Disposition: form-data; "
                                    "name=n\r\nX-Pad: ");
        size_t hdr_start = 5, target = hdr_start + HTTP_MP_MAX_HEADER_BYTES + (size_t)extra;
        while (n < target)
            big[n++] = 'p';
        n += (size_t)snprintf(big + n, sizeof big - n, "\r\n\r\nv\r\n--B--");
        CHECK_EQ_INT(run_split(str_make(big, n), "B", NULL, 0, &c, 0), extra ? ERR_INVALID : 0);
        buf_dispose(&c.log);
    }

    /* transport padding is bounded */
    char pad[HTTP_MP_MAX_PADDING + 100] = "--B";
    size_t n = 3;
    for (int i = 0; i < HTTP_MP_MAX_PADDING + 1; i++)
        pad[n++] = ' ';
    memcpy(pad + n, "\r\n", 2);
    CHECK_EQ_INT(run_split(str_make(pad, n + 2), "B", NULL, 0, &c, 0), ERR_INVALID);
    buf_dispose(&c.log);

    http_mp_parser_t p;
    CHECK_EQ_INT(http_mp_init(&p, STR_LIT(""), &collect_cb, NULL), ERR_INVALID);
    char longb[HTTP_MP_MAX_BOUNDARY + 2];
    memset(longb, 'b', sizeof longb);
    CHECK_EQ_INT(http_mp_init(&p, str_make(longb, HTTP_MP_MAX_BOUNDARY + 1), &collect_cb, NULL),
                 ERR_INVALID);
    CHECK_EQ_INT(http_mp_init(&p, str_make(longb, HTTP_MP_MAX_BOUNDARY), &collect_cb, NULL), 0);
}

TEST(mp_callback_error_stops_the_parser)
{
    str_t body = STR_LIT("--B\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--B\r\n"
                         "Content-Disposition: form-data; name=b\r\n\r\n2\r\n--B--");
    check_all_splits("stop", body, "B", ERR_TOO_LARGE, "[name=a]1<end>", 2);
    struct collect c;
    static http_mp_parser_t p;
    CHECK_EQ_INT(collect_start(&c, &p, "B", 1), 0);
    CHECK_EQ_INT(http_mp_feed(&p, body), ERR_TOO_LARGE);
    CHECK_EQ_INT(http_mp_feed(&p, STR_LIT("more")), ERR_INVALID);
    CHECK_EQ_INT(http_mp_finish(&p), ERR_INVALID);
    CHECK_TRUE(!http_mp_done(&p));
    buf_dispose(&c.log);
}

TEST(mp_epilogue_is_ignored)
{
    struct collect c;
    static http_mp_parser_t p;
    CHECK_EQ_INT(collect_start(&c, &p, "B", 0), 0);
    CHECK_EQ_INT(http_mp_feed(&p, STR_LIT("--B\r\nContent-Disposition: form-data; name=a\r\n\r\n"
                                          "1\r\n--B--")),
                 0);
    CHECK_TRUE(http_mp_done(&p));
    CHECK_EQ_INT(http_mp_feed(&p, STR_LIT("\r\n--B\r\ngarbage without headers")), 0);
    CHECK_EQ_INT(http_mp_finish(&p), 0);
    CHECK_TRUE(str_eq_cstr(buf_str(&c.log), "[name=a]1<end>"));
    buf_dispose(&c.log);
}

static void check_sanitized(const char *in, const char *want)
{
    char out[64];
    http_mp_sanitize_filename(str_cstr(in), out, sizeof out);
    CHECK_STR_EQ(out, want);
}

TEST(mp_sanitize_filename)
{
    check_sanitized("report.pdf", "report.pdf");
    check_sanitized("../../etc/passwd", "passwd");
    check_sanitized("C:\\Windows\\evil.dll", "evil.dll");
    check_sanitized("..", "upload");
    check_sanitized("", "upload");
    check_sanitized("dir/", "upload");
    check_sanitized(".bashrc", "bashrc");
    check_sanitized("a\r\nb\"c'd<e>f|g*h?i:j", "abcdefghij");
    check_sanitized("\x01.hidden", "hidden");
    check_sanitized("trailing. . ", "trailing");
    check_sanitized("caf\xc3\xa9.txt", "caf\xc3\xa9.txt");
    check_sanitized("bad\xff\xfe.txt", "bad__.txt");
    check_sanitized("over\xe2\x82", "over__");
    char longname[200];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    char out[16];
    http_mp_sanitize_filename(str_cstr(longname), out, sizeof out);
    CHECK_EQ_INT((int)strlen(out), 15);
    /* a multi-byte character is never cut in half */
    http_mp_sanitize_filename(STR_LIT("aaaaaaaaaaaaaa\xc3\xa9"), out, sizeof out);
    CHECK_STR_EQ(out, "aaaaaaaaaaaaaa");
}
