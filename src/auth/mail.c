/*
 * mail.c - the templates of the lifecycle mails and the MIME messages built from them
 * (mail.h). Templates are built in as C strings; a directory (JWTD_MAIL_TEMPLATES_DIR) may
 * replace any part of any of them. Values go in where a template says {{name}}: as they are
 * in the subject and the text part, HTML-escaped in the HTML part, so a username such as
 * <script> is text in every mail client.
 *
 * DESIGN: the body parts are base64 (RFC 2045), so any UTF-8 and any line length travel
 * unchanged through every relay, and the message is written with CRLF line ends, ready for
 * SMTP's DATA without conversion.
 */
#define LOG_MODULE "mail"
#include "auth/mail.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "common/err.h"
#include "common/jsonw.h"
#include "common/text.h"
#include "runtime/alloc.h"

#define TEMPLATE_MAX (64 * 1024)

static const char *const KIND_NAMES[AUTH_MAIL__COUNT] = {
#define AUTH_MAIL_NAME_(id, name) name,
    AUTH_MAIL_KINDS(AUTH_MAIL_NAME_)
#undef AUTH_MAIL_NAME_
};

/* See mail.h. */
const char *auth__mail_kind_name(enum auth_mail_kind k)
{
    return (unsigned)k < AUTH_MAIL__COUNT ? KIND_NAMES[k] : "mail";
}

/* ==== built-in templates ================================================================== */

#define HTML_HEAD                                                                                  \
    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"                            \
    "<meta name=\"viewport\" content=\"width=device-width\"><title>{{subject}}</title></head>\n"   \
    "<body style=\"font-family:system-ui,sans-serif;line-height:1.5;color:#1d2433;"                \
    "max-width:560px;margin:0 auto;padding:16px\">\n"
#define HTML_TAIL                                                                                  \
    "<p style=\"color:#5b6475;font-size:13px\">This message was sent by {{site}} because of a "    \
    "request for the account {{username}}.</p>\n</body></html>\n"
#define HTML_BUTTON                                                                                \
    "<p><a href=\"{{link}}\" style=\"display:inline-block;background:#2456d3;color:#fff;"          \
    "padding:10px 18px;border-radius:6px;text-decoration:none\">"
#define TEXT_TAIL                                                                                  \
    "\n-- \nThis message was sent by {{site}} because of a request for the account "               \
    "{{username}}.\n"

static const char *const BUILTIN[AUTH_MAIL__COUNT][3] = {
    [AUTH_MAIL_VERIFY] =
        {"Confirm your e-mail address",
         "Hello {{username}},\n\nPlease confirm your e-mail address by opening this link:\n\n"
         "{{link}}\n\nThe link works once and expires in {{expires}}. If you did not create "
         "an account, you can ignore this message.\n" TEXT_TAIL,
         HTML_HEAD
         "<p>Hello {{username}},</p>\n<p>Please confirm your e-mail address.</p>\n" HTML_BUTTON
         "Confirm my e-mail address</a></p>\n<p>Or copy this link into your browser:<br>"
         "{{link}}</p>\n<p>The link works once and expires in {{expires}}. If you did "
         "not create an account, you can ignore this message.</p>\n" HTML_TAIL},
    [AUTH_MAIL_RESET] =
        {"Reset your password",
         "Hello {{username}},\n\nSomeone asked to reset the password of your account. To choose "
         "a new password, open this link:\n\n{{link}}\n\nThe link works once and expires in "
         "{{expires}}. If you did not ask for this, ignore this message: your password stays "
         "as it is.\n" TEXT_TAIL,
         HTML_HEAD
         "<p>Hello {{username}},</p>\n<p>Someone asked to reset the password of your "
         "account.</p>\n" HTML_BUTTON
         "Choose a new password</a></p>\n<p>Or copy this link into your browser:<br>"
         "{{link}}</p>\n<p>The link works once and expires in {{expires}}. If you did "
         "not ask for this, ignore this message: your password stays as it is.</p>\n" HTML_TAIL},
    [AUTH_MAIL_EMAIL_CHANGE] =
        {"Confirm your new e-mail address",
         "Hello {{username}},\n\nTo use {{new_email}} as the e-mail address of your account, "
         "open this link:\n\n{{link}}\n\nThe link works once and expires in {{expires}}. Until "
         "then your account keeps its current address. If you did not ask for this, ignore "
         "this message.\n" TEXT_TAIL,
         HTML_HEAD "<p>Hello {{username}},</p>\n<p>To use <strong>{{new_email}}</strong> as the "
                   "e-mail address of your account, confirm it.</p>\n" HTML_BUTTON
                   "Confirm this address</a></p>\n<p>Or copy this link into your browser:<br>"
                   "{{link}}</p>\n<p>The link works once and expires in {{expires}}. Until then "
                   "your account keeps its current address.</p>\n" HTML_TAIL},
    [AUTH_MAIL_OTP] =
        {"Your sign-in code: {{code}}",
         "Hello {{username}},\n\nYour sign-in code is:\n\n    {{code}}\n\nor open this link to "
         "sign in:\n\n{{link}}\n\nThe code and the link work once and expire in {{expires}}. "
         "If you did not try to sign in, ignore this message.\n" TEXT_TAIL,
         HTML_HEAD
         "<p>Hello {{username}},</p>\n<p>Your sign-in code is:</p>\n<p style=\""
         "font-size:28px;letter-spacing:6px;font-weight:bold\">{{code}}</p>\n"
         "<p>or sign in with this button:</p>\n" HTML_BUTTON
         "Sign in</a></p>\n<p>The code and the link work once and expire in "
         "{{expires}}. If you did not try to sign in, ignore this message.</p>\n" HTML_TAIL},
    [AUTH_MAIL_PASSWORD_CHANGED] =
        {"Your password was changed",
         "Hello {{username}},\n\nThe password of your account was changed. Your other "
         "sessions were signed out.\n\nIf you did not do this, reset your password now:\n\n"
         "{{link}}\n" TEXT_TAIL,
         HTML_HEAD "<p>Hello {{username}},</p>\n<p>The password of your account was changed. "
                   "Your other sessions were signed out.</p>\n<p>If you did not do this, reset "
                   "your password now:</p>\n" HTML_BUTTON "Reset my password</a></p>\n" HTML_TAIL},
};

static const char *const PART_EXT[3] = {"subject", "txt", "html"};

struct auth_mail_templates {
    char *part[AUTH_MAIL__COUNT][3]; /* a file's text, or NULL: the built-in one */
};

/* Reads dir/name into a heap string. 0, ERR_NOT_FOUND (no such file) or ERR_CONFIG. */
static int read_template(const char *dir, const char *name, char **out, char *why, size_t cap)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return ERR_NOT_FOUND;
        snprintf(why, cap, "JWTD_MAIL_TEMPLATES_DIR: cannot read %s: %s", name, strerror(errno));
        return ERR_CONFIG;
    }
    buf_t b;
    buf_init(&b, TEMPLATE_MAX + 1);
    char chunk[4096];
    ssize_t n;
    int rc = 0;
    while ((n = read(fd, chunk, sizeof chunk)) > 0) {
        if (buf_append(&b, chunk, (size_t)n) != 0) {
            snprintf(why, cap, "JWTD_MAIL_TEMPLATES_DIR: %s is larger than 64 KiB", name);
            rc = ERR_CONFIG;
            break;
        }
    }
    if (rc == 0 && n < 0) {
        snprintf(why, cap, "JWTD_MAIL_TEMPLATES_DIR: cannot read %s: %s", name, strerror(errno));
        rc = ERR_CONFIG;
    }
    close(fd);
    if (rc == 0 && !text_utf8_valid(buf_str(&b))) {
        snprintf(why, cap, "JWTD_MAIL_TEMPLATES_DIR: %s is not valid UTF-8", name);
        rc = ERR_CONFIG;
    }
    if (rc == 0)
        *out = xstrndup(b.data ? b.data : "", b.len);
    buf_dispose(&b);
    return rc;
}

/* See mail.h. */
int auth__mail_templates_load(const char *dir, auth_mail_templates_t **out, char *why, size_t cap)
{
    auth_mail_templates_t *t = xcalloc(1, sizeof *t);
    *out = NULL;
    for (int k = 0; dir && *dir && k < AUTH_MAIL__COUNT; k++) {
        for (int p = 0; p < 3; p++) {
            char name[64];
            snprintf(name, sizeof name, "%s.%s", KIND_NAMES[k], PART_EXT[p]);
            int rc = read_template(dir, name, &t->part[k][p], why, cap);
            if (rc == ERR_NOT_FOUND)
                continue;
            if (rc != 0) {
                auth__mail_templates_free(t);
                return rc;
            }
        }
    }
    *out = t;
    return 0;
}

/* See mail.h. */
void auth__mail_templates_free(auth_mail_templates_t *t)
{
    if (!t)
        return;
    for (int k = 0; k < AUTH_MAIL__COUNT; k++)
        for (int p = 0; p < 3; p++)
            free(t->part[k][p]);
    free(t);
}

static const char *template_of(const auth_mail_templates_t *t, enum auth_mail_kind k,
                               enum auth_mail_part p)
{
    return t && t->part[k][p] ? t->part[k][p] : BUILTIN[k][p];
}

/* ==== expansion ============================================================================ */

static void html_escape(buf_t *out, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&':
            buf_append_cstr(out, "&amp;");
            break;
        case '<':
            buf_append_cstr(out, "&lt;");
            break;
        case '>':
            buf_append_cstr(out, "&gt;");
            break;
        case '"':
            buf_append_cstr(out, "&quot;");
            break;
        case '\'':
            buf_append_cstr(out, "&#39;");
            break;
        default:
            buf_append_char(out, *s);
        }
    }
}

/* See mail.h. */
void auth__mail_expand(const char *tpl, const auth_mail_var_t *vars, size_t n, bool html,
                       buf_t *out)
{
    const char *p = tpl;
    while (*p) {
        const char *open = strstr(p, "{{");
        const char *close = open ? strstr(open + 2, "}}") : NULL;
        if (!close) {
            buf_append_cstr(out, p);
            return;
        }
        buf_append(out, p, (size_t)(open - p));
        str_t name = str_trim(str_make(open + 2, (size_t)(close - open - 2)));
        for (size_t i = 0; i < n; i++) {
            if (!str_eq_cstr(name, vars[i].name))
                continue;
            const char *v = vars[i].value ? vars[i].value : "";
            if (html)
                html_escape(out, v);
            else
                buf_append_cstr(out, v);
            break;
        }
        p = close + 2;
    }
}

/* ==== MIME ================================================================================= */

/* Appends the base64 of data in lines of 76 characters, each ended by CRLF. */
static void base64_lines(buf_t *out, const char *data, size_t len)
{
    unsigned char enc[80];
    for (size_t off = 0; off < len; off += 57) {
        size_t n = len - off < 57 ? len - off : 57;
        int m = EVP_EncodeBlock(enc, (const unsigned char *)data + off, (int)n);
        buf_append(out, (const char *)enc, (size_t)m);
        buf_append_cstr(out, "\r\n");
    }
}

/* A header value without CR, LF or other controls (templates may end a subject in "\n"). */
static void one_line(buf_t *b)
{
    size_t j = 0;
    for (size_t i = 0; i < b->len; i++) {
        unsigned char c = (unsigned char)b->data[i];
        if (c == '\r' || c == '\n' || c == '\t')
            c = ' ';
        if (c < ' ' || c == 0x7f)
            continue;
        b->data[j++] = (char)c;
    }
    while (j > 0 && b->data[j - 1] == ' ')
        j--;
    b->len = j;
    if (b->data)
        b->data[j] = '\0';
}

/* Appends the Subject header's value: as it is when printable ASCII, else RFC 2047 encoded
   words of at most 45 bytes each (never splitting a UTF-8 sequence). */
static void subject_header(buf_t *out, const buf_t *s)
{
    bool ascii = true;
    for (size_t i = 0; i < s->len; i++)
        if ((unsigned char)s->data[i] >= 0x80)
            ascii = false;
    if (ascii) {
        buf_append(out, s->data, s->len);
        return;
    }
    size_t off = 0;
    while (off < s->len) {
        size_t n = s->len - off < 45 ? s->len - off : 45;
        while (off + n < s->len && ((unsigned char)s->data[off + n] & 0xC0) == 0x80)
            n--; /* end before a continuation byte */
        unsigned char enc[64];
        int m = EVP_EncodeBlock(enc, (const unsigned char *)s->data + off, (int)n);
        if (off)
            buf_append_cstr(out, "\r\n ");
        buf_append_cstr(out, "=?UTF-8?B?");
        buf_append(out, (const char *)enc, (size_t)m);
        buf_append_cstr(out, "?=");
        off += n;
    }
}

/* See mail.h. */
void auth__mail_address(const char *from, char *out, size_t cap)
{
    const char *lt = strrchr(from, '<');
    const char *gt = lt ? strchr(lt, '>') : NULL;
    if (lt && gt)
        snprintf(out, cap, "%.*s", (int)(gt - lt - 1), lt + 1);
    else
        snprintf(out, cap, "%s", from);
}

static void random_hex(char *out, size_t bytes)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[32];
    if (bytes > sizeof b)
        bytes = sizeof b;
    if (RAND_bytes(b, (int)bytes) != 1)
        memset(b, 0, sizeof b); /* uniqueness only: the time part still differs */
    for (size_t i = 0; i < bytes; i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 15];
    }
    out[2 * bytes] = '\0';
}

/* See mail.h. */
char *auth__mail_render(const auth_mail_templates_t *t, enum auth_mail_kind kind, const char *from,
                        const char *to, const auth_mail_var_t *vars, size_t n, int64_t now,
                        size_t *len)
{
    buf_t subject, text, html, m;
    buf_init(&subject, 4096);
    buf_init(&text, 2 * TEMPLATE_MAX);
    buf_init(&html, 4 * TEMPLATE_MAX);
    buf_init(&m, 16 * TEMPLATE_MAX);
    auth__mail_expand(template_of(t, kind, AUTH_MAIL_SUBJECT), vars, n, false, &subject);
    one_line(&subject);
    /* the HTML part may show the subject ({{subject}} in its <title>) */
    auth_mail_var_t all[16];
    size_t na = 0;
    for (size_t i = 0; i < n && na < 15; i++)
        all[na++] = vars[i];
    all[na++] = (auth_mail_var_t){"subject", subject.data ? subject.data : ""};
    auth__mail_expand(template_of(t, kind, AUTH_MAIL_TEXT), all, na, false, &text);
    auth__mail_expand(template_of(t, kind, AUTH_MAIL_HTML), all, na, true, &html);

    char addr[320], boundary[40], msgid[40];
    auth__mail_address(from, addr, sizeof addr);
    const char *domain = strchr(addr, '@');
    random_hex(boundary, 12);
    random_hex(msgid, 16);
    char date[64];
    time_t tt = (time_t)now;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);

    buf_printf(&m, "From: %s\r\nTo: %s\r\nSubject: ", from, to);
    subject_header(&m, &subject);
    buf_printf(&m,
               "\r\nDate: %s\r\nMessage-ID: <%s@%s>\r\nMIME-Version: 1.0\r\n"
               "Auto-Submitted: auto-generated\r\nX-Jwtd-Mail: %s\r\n"
               "Content-Type: multipart/alternative; boundary=\"=_jwtd_%s\"\r\n\r\n"
               "This is a message in MIME format.\r\n\r\n",
               date, msgid, domain && domain[1] ? domain + 1 : "localhost",
               auth__mail_kind_name(kind), boundary);
    buf_printf(&m,
               "--=_jwtd_%s\r\nContent-Type: text/plain; charset=utf-8\r\n"
               "Content-Transfer-Encoding: base64\r\n\r\n",
               boundary);
    base64_lines(&m, text.data ? text.data : "", text.len);
    buf_printf(&m,
               "--=_jwtd_%s\r\nContent-Type: text/html; charset=utf-8\r\n"
               "Content-Transfer-Encoding: base64\r\n\r\n",
               boundary);
    base64_lines(&m, html.data ? html.data : "", html.len);
    buf_printf(&m, "--=_jwtd_%s--\r\n", boundary);
    char *out = xstrndup(m.data, m.len);
    *len = m.len;
    buf_dispose(&subject);
    buf_dispose(&text);
    buf_dispose(&html);
    buf_dispose(&m);
    return out;
}
