/* Unit tests for src/api/multipart.c (boundary, part iteration, filename sanitiser) and
   the UTF-8 helpers of src/api/svc.c. */
#include "test.h"

#include <string.h>

#include "api/multipart.h"
#include "api/svc.h"
#include "common/err.h"

TEST(mp_boundary_forms)
{
    str_t b;
    CHECK_EQ_INT(api_mp_boundary(STR_LIT("multipart/form-data; boundary=abc"), &b), 0);
    CHECK_TRUE(str_eq_cstr(b, "abc"));
    CHECK_EQ_INT(api_mp_boundary(STR_LIT("Multipart/Form-Data;charset=x; boundary=\"a b\""), &b),
                 0);
    CHECK_TRUE(str_eq_cstr(b, "a b"));
    CHECK_EQ_INT(api_mp_boundary(STR_LIT("multipart/form-data"), &b), ERR_INVALID);
    CHECK_EQ_INT(api_mp_boundary(STR_LIT("multipart/form-data; boundary="), &b), ERR_INVALID);
    CHECK_EQ_INT(api_mp_boundary(STR_LIT("multipart/form-data; boundary=\"unterminated"), &b),
                 ERR_INVALID);
    CHECK_EQ_INT(api_mp_boundary(STR_LIT("multipart/form-data; boundary=a\x01"), &b), ERR_INVALID);
    char longb[128] = "multipart/form-data; boundary=";
    memset(longb + strlen(longb), 'x', 71);
    CHECK_EQ_INT(api_mp_boundary(str_cstr(longb), &b), ERR_INVALID);
    CHECK_EQ_INT(api_mp_boundary(STR_LIT("application/json"), &b), ERR_UNSUPPORTED_MEDIA);
    CHECK_EQ_INT(api_mp_boundary(STR_LIT("multipart/form-dataX; boundary=a"), &b),
                 ERR_UNSUPPORTED_MEDIA);
    CHECK_EQ_INT(api_mp_boundary(STR_NULL, &b), ERR_UNSUPPORTED_MEDIA);
}

TEST(mp_parts_in_order_with_headers)
{
    str_t body =
        STR_LIT("preamble\r\n--XX\r\n"
                "Content-Disposition: form-data; name=\"title\"\r\n\r\n"
                "hello\r\n--XX\r\n"
                "content-disposition: form-data; name=\"file\"; filename=\"a\\\"b.txt\"\r\n"
                "Content-Type: text/plain\r\n\r\n"
                "line1\r\nline2 --X not a delimiter\r\n--XX--\r\nepilogue");
    size_t pos = 0;
    api_mp_part_t p;
    CHECK_EQ_INT(api_mp_next(body, STR_LIT("XX"), &pos, &p), 0);
    CHECK_TRUE(str_eq_cstr(p.name, "title") && !p.has_filename && str_eq_cstr(p.data, "hello"));
    CHECK_EQ_INT(api_mp_next(body, STR_LIT("XX"), &pos, &p), 0);
    CHECK_TRUE(str_eq_cstr(p.name, "file") && p.has_filename);
    CHECK_TRUE(str_eq_cstr(p.filename, "a\\\"b.txt"));
    CHECK_TRUE(str_eq_cstr(p.content_type, "text/plain"));
    CHECK_TRUE(str_eq_cstr(p.data, "line1\r\nline2 --X not a delimiter"));
    CHECK_EQ_INT(api_mp_next(body, STR_LIT("XX"), &pos, &p), ERR_DECLINED);
}

TEST(mp_empty_file_and_body_start)
{
    str_t body = STR_LIT("--B\r\nContent-Disposition: form-data; name=file; filename=e\r\n\r\n"
                         "\r\n--B--");
    size_t pos = 0;
    api_mp_part_t p;
    CHECK_EQ_INT(api_mp_next(body, STR_LIT("B"), &pos, &p), 0);
    CHECK_TRUE(p.data.len == 0 && str_eq_cstr(p.filename, "e") && str_eq_cstr(p.name, "file"));
    CHECK_EQ_INT(api_mp_next(body, STR_LIT("B"), &pos, &p), ERR_DECLINED);
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
        "--B\r\nContent-Disposition: form-data; name=x\r\nContent-Disposition: form-data; "
        "name=y\r\n\r\ntwice\r\n--B--",
        "--Bjunk\r\nContent-Disposition: form-data; name=x\r\n\r\nx\r\n--B--",
        "--B\r\nbroken header line\r\n\r\nx\r\n--B--",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t pos = 0;
        api_mp_part_t p;
        int rc;
        while ((rc = api_mp_next(str_cstr(bad[i]), STR_LIT("B"), &pos, &p)) == 0)
            ;
        if (!CHECK_EQ_INT(rc, ERR_INVALID))
            test__fail(__FILE__, __LINE__, "case %zu", i);
    }
}

TEST(mp_too_many_parts)
{
    char body[64 * 80 + 64];
    size_t o = 0;
    for (int i = 0; i < 70; i++)
        o += (size_t)snprintf(body + o, sizeof body - o,
                              "--B\r\nContent-Disposition: form-data; name=n\r\n\r\nv\r\n");
    o += (size_t)snprintf(body + o, sizeof body - o, "--B--");
    size_t pos = 0;
    api_mp_part_t p;
    int n = 0, rc;
    while ((rc = api_mp_next(str_make(body, o), STR_LIT("B"), &pos, &p)) == 0)
        n++;
    CHECK_EQ_INT(rc, ERR_INVALID);
    CHECK_EQ_INT(n, API_MP_MAX_PARTS);
}

static void check_sanitized(const char *in, const char *want)
{
    char out[64];
    api_mp_sanitize_filename(str_cstr(in), out, sizeof out);
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
    api_mp_sanitize_filename(str_cstr(longname), out, sizeof out);
    CHECK_EQ_INT((int)strlen(out), 15);
    /* a multi-byte character is never cut in half */
    api_mp_sanitize_filename(STR_LIT("aaaaaaaaaaaaaa\xc3\xa9"), out, sizeof out);
    CHECK_STR_EQ(out, "aaaaaaaaaaaaaa");
}

TEST(svc_utf8)
{
    CHECK_TRUE(api__utf8_valid(STR_LIT("plain")));
    CHECK_TRUE(api__utf8_valid(STR_LIT("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80")));
    CHECK_TRUE(!api__utf8_valid(STR_LIT("\xc0\xaf")));         /* overlong '/' */
    CHECK_TRUE(!api__utf8_valid(STR_LIT("\xed\xa0\x80")));     /* surrogate */
    CHECK_TRUE(!api__utf8_valid(STR_LIT("\xf4\x90\x80\x80"))); /* > U+10FFFF */
    CHECK_TRUE(!api__utf8_valid(STR_LIT("\xe2\x82")));         /* truncated */
    CHECK_TRUE(!api__utf8_valid(STR_LIT("\x80")));
    CHECK_EQ_INT((int)api__utf8_chars(STR_LIT("\xc3\xa9t\xc3\xa9")), 3);
}
