/* Unit tests of src/auth/mail.c and the SMTP URL parser of smtp.c: template expansion and
   HTML escaping, directory overrides, and the shape of the MIME message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "auth/mail.h"
#include "common/err.h"
#include "test.h"

TEST(mail_expand_escapes_html_only_in_html)
{
    auth_mail_var_t v[] = {{"name", "<b>&\"o'k\""}, {"link", "https://x/a?b=1&c=2"}};
    buf_t b;
    buf_init(&b, 4096);
    auth__mail_expand("Hi {{name}} {{ link }} {{unknown}}!", v, 2, true, &b);
    CHECK_STR_EQ(b.data, "Hi &lt;b&gt;&amp;&quot;o&#39;k&quot; https://x/a?b=1&amp;c=2 !");
    buf_reset(&b);
    auth__mail_expand("Hi {{name}} {{link}} {{ unclosed", v, 2, false, &b);
    CHECK_STR_EQ(b.data, "Hi <b>&\"o'k\" https://x/a?b=1&c=2 {{ unclosed");
    buf_dispose(&b);
}

TEST(mail_address_of_from)
{
    char out[64];
    auth__mail_address("Example Auth <auth@example.org>", out, sizeof out);
    CHECK_STR_EQ(out, "auth@example.org");
    auth__mail_address("auth@example.org", out, sizeof out);
    CHECK_STR_EQ(out, "auth@example.org");
}

/* The decoded first base64 part after marker in msg. */
static char *part_after(const char *msg, const char *marker)
{
    const char *p = strstr(msg, marker);
    if (!p)
        return NULL;
    p = strstr(p, "\r\n\r\n");
    const char *end = strstr(p, "\r\n--");
    char *b64 = calloc(1, (size_t)(end - p) + 1), *out = calloc(1, (size_t)(end - p) + 1);
    size_t n = 0;
    for (const char *q = p + 4; q < end; q++)
        if (*q != '\r' && *q != '\n')
            b64[n++] = *q;
    int m = EVP_DecodeBlock((unsigned char *)out, (unsigned char *)b64, (int)n);
    while (n > 0 && b64[n - 1] == '=') { /* DecodeBlock counts padding as zero bytes */
        n--;
        m--;
    }
    out[m > 0 ? m : 0] = '\0';
    free(b64);
    return out;
}

TEST(mail_render_is_multipart_alternative_with_headers)
{
    auth_mail_templates_t *t = NULL;
    char why[128];
    ASSERT_EQ_INT(auth__mail_templates_load(NULL, &t, why, sizeof why), 0);
    auth_mail_var_t v[] = {{"username", "<eve>"},
                           {"link", "https://h/app/x#token=abc"},
                           {"expires", "30 minutes"},
                           {"site", "h"}};
    size_t len;
    char *msg = auth__mail_render(t, AUTH_MAIL_VERIFY, "Ex <a@example.org>", "u@example.org", v, 4,
                                  1700000000, &len);
    const char *head = "From: Ex <a@example.org>\r\nTo: u@example.org\r\nSubject: ";
    CHECK_TRUE(strncmp(msg, head, strlen(head)) == 0);
    CHECK_TRUE(strstr(msg, "\r\nSubject: Confirm your e-mail address\r\n") != NULL);
    CHECK_TRUE(strstr(msg, "\r\nDate: Tue, 14 Nov 2023 22:13:20 +0000\r\n") != NULL);
    CHECK_TRUE(strstr(msg, "@example.org>\r\nMIME-Version: 1.0\r\n") != NULL);
    CHECK_TRUE(strstr(msg, "Content-Type: multipart/alternative; boundary=") != NULL);
    CHECK_TRUE(strlen(msg) == len);
    char *text = part_after(msg, "Content-Type: text/plain; charset=utf-8");
    char *html = part_after(msg, "Content-Type: text/html; charset=utf-8");
    ASSERT_TRUE(text && html);
    CHECK_TRUE(strstr(text, "Hello <eve>,") != NULL);
    CHECK_TRUE(strstr(text, "https://h/app/x#token=abc") != NULL);
    CHECK_TRUE(strstr(html, "Hello &lt;eve&gt;,") != NULL);
    CHECK_TRUE(strstr(html, "<eve>") == NULL);
    CHECK_TRUE(strstr(html, "href=\"https://h/app/x#token=abc\"") != NULL);
    for (const char *p = msg; *p; p++) /* every line ends in CRLF */
        if (*p == '\n')
            CHECK_TRUE(p > msg && p[-1] == '\r');
    free(text);
    free(html);
    free(msg);
    auth__mail_templates_free(t);
}

TEST(mail_templates_from_a_directory_and_encoded_subject)
{
    char dir[] = "/tmp/jwtd-mailtpl-XXXXXX";
    ASSERT_TRUE(mkdtemp(dir) != NULL);
    char path[256];
    snprintf(path, sizeof path, "%s/otp.subject", dir);
    FILE *f = fopen(path, "w");
    fputs("Ihr Anmeldecode für {{username}}: {{code}}\n", f);
    fclose(f);
    auth_mail_templates_t *t = NULL;
    char why[256];
    ASSERT_EQ_INT(auth__mail_templates_load(dir, &t, why, sizeof why), 0);
    auth_mail_var_t v[] = {{"username", "jo"}, {"code", "123456"}};
    size_t len;
    char *msg =
        auth__mail_render(t, AUTH_MAIL_OTP, "a@example.org", "u@example.org", v, 2, 0, &len);
    /* "Ihr Anmeldecode für jo: 123456" as RFC 2047 base64 */
    CHECK_TRUE(
        strstr(msg, "Subject: =?UTF-8?B?SWhyIEFubWVsZGVjb2RlIGbDvHIgam86IDEyMzQ1Ng==?=\r\n") !=
        NULL);
    free(msg);
    auth__mail_templates_free(t);
    /* a file that is not UTF-8 is refused at start */
    f = fopen(path, "w");
    fputs("\xff\xfe bad", f);
    fclose(f);
    CHECK_EQ_INT(auth__mail_templates_load(dir, &t, why, sizeof why), ERR_CONFIG);
    CHECK_TRUE(strstr(why, "otp.subject") != NULL);
    unlink(path);
    rmdir(dir);
}

TEST(mail_smtp_url_parse)
{
    auth_mail_transport_t t = {0};
    char why[128];
    CHECK_EQ_INT(auth__smtp_url_parse("smtp://u:p@mail:587?tls=required", &t, why, sizeof why), 0);
    CHECK_STR_EQ(t.url, "smtp://u:p@mail:587");
    CHECK_TRUE(t.tls_required);
    CHECK_EQ_INT(auth__smtp_url_parse("smtps://mail", &t, why, sizeof why), 0);
    CHECK_STR_EQ(t.url, "smtps://mail");
    CHECK_TRUE(!t.tls_required);
    CHECK_EQ_INT(auth__smtp_url_parse("http://mail", &t, why, sizeof why), ERR_CONFIG);
    CHECK_EQ_INT(auth__smtp_url_parse("smtp://mail?tls=no", &t, why, sizeof why), ERR_CONFIG);
    CHECK_EQ_INT(auth__smtp_url_parse("smtp://", &t, why, sizeof why), ERR_CONFIG);
    auth__mail_transport_dispose(&t);
}
