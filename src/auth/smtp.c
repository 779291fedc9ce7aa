/*
 * smtp.c - delivering one rendered message (mail.h): over SMTP with libcurl (smtp:// with
 * STARTTLS when the server offers it, required with ?tls=required; smtps:// implicit TLS;
 * certificates always verified, against JWTD_SMTP_CA_FILE when set; user and password from
 * the URL or JWTD_SMTP_PASSWORD_FILE), or, without an SMTP URL (development), as an .eml file
 * in the spool directory. Also the connection-only probe of `jwtd check`.
 *
 * DESIGN: one easy handle per attempt on the sender thread: a delivery is rare and slow
 * next to the cost of a handle, and nothing is shared between threads. Every attempt is
 * bounded (connect 10 s, whole transfer 60 s), below the outbox lease.
 */
#define LOG_MODULE "mail"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "auth/mail.h"
#include "common/err.h"
#include "runtime/alloc.h"
#include "runtime/fileio.h"
#include "runtime/log.h"

/* See mail.h. */
int auth__smtp_url_parse(const char *url, auth_mail_transport_t *t, char *why, size_t cap)
{
    bool smtps = strncmp(url, "smtps://", 8) == 0;
    if (!smtps && strncmp(url, "smtp://", 7) != 0) {
        snprintf(why, cap, "JWTD_SMTP_URL must start with smtp:// or smtps://");
        return ERR_CONFIG;
    }
    const char *rest = url + (smtps ? 8 : 7);
    const char *q = strchr(rest, '?');
    size_t base = q ? (size_t)(q - url) : strlen(url);
    if (base == (size_t)(rest - url) || rest[0] == '/' || rest[0] == '?') {
        snprintf(why, cap, "JWTD_SMTP_URL has no host");
        return ERR_CONFIG;
    }
    for (const char *p = url; *p; p++) {
        if ((unsigned char)*p <= ' ' || *p == 0x7f) {
            snprintf(why, cap, "JWTD_SMTP_URL may not contain blanks or control characters");
            return ERR_CONFIG;
        }
    }
    t->tls_required = false;
    if (q) {
        if (strcmp(q, "?tls=required") == 0) {
            t->tls_required = true;
        } else if (strcmp(q, "?tls=opportunistic") != 0) {
            snprintf(why, cap,
                     "JWTD_SMTP_URL: the only query is ?tls=required or "
                     "?tls=opportunistic");
            return ERR_CONFIG;
        }
    }
    free(t->url);
    t->url = xstrndup(url, base);
    return 0;
}

/* See mail.h. */
void auth__mail_transport_dispose(auth_mail_transport_t *t)
{
    if (!t)
        return;
    free(t->url);
    if (t->password)
        free_secret(t->password, strlen(t->password) + 1);
    free(t->ca_file);
    free(t->envelope_from);
    free(t->spool_dir);
    memset(t, 0, sizeof *t);
}

/* The upload of a message: what is left of it. */
struct upload {
    const char *p;
    size_t left;
};

static size_t read_cb(char *dst, size_t size, size_t nmemb, void *arg)
{
    struct upload *u = arg;
    size_t n = size * nmemb < u->left ? size * nmemb : u->left;
    memcpy(dst, u->p, n);
    u->p += n;
    u->left -= n;
    return n;
}

/*
 * A handle for one connection to t's server, with what every use shares: the URL, the
 * timeouts, TLS (tried or required, peer and host name verified, t->ca_file's CAs), the
 * password and curl's error text into errbuf (CURL_ERROR_SIZE bytes). NULL when curl has none.
 */
static CURL *smtp_handle(const auth_mail_transport_t *t, char *errbuf)
{
    CURL *c = curl_easy_init();
    if (!c)
        return NULL;
    errbuf[0] = '\0';
    curl_easy_setopt(c, CURLOPT_URL, t->url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(c, CURLOPT_USE_SSL,
                     t->tls_required ? (long)CURLUSESSL_ALL : (long)CURLUSESSL_TRY);
    /* never configurable: a mail server whose certificate does not verify gets no mail */
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    if (t->ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, t->ca_file);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    if (t->password)
        curl_easy_setopt(c, CURLOPT_PASSWORD, t->password);
    return c;
}

/* why = curl's message for rc, with its detail when it has one, and the last SMTP code. */
static void smtp_why(CURLcode rc, const char *errbuf, long code, char *why, size_t cap)
{
    if (errbuf[0] && strcmp(errbuf, curl_easy_strerror(rc)) != 0)
        snprintf(why, cap, "%s: %s (smtp %ld)", curl_easy_strerror(rc), errbuf, code);
    else
        snprintf(why, cap, "%s (smtp %ld)", curl_easy_strerror(rc), code);
}

static enum auth_mail_result deliver_smtp(const auth_mail_transport_t *t, const char *rcpt,
                                          const char *msg, size_t len, char *why, size_t cap)
{
    char errbuf[CURL_ERROR_SIZE];
    CURL *c = smtp_handle(t, errbuf);
    if (!c) {
        snprintf(why, cap, "no curl handle");
        return AUTH_MAIL_RETRY;
    }
    struct curl_slist *to = curl_slist_append(NULL, rcpt);
    struct upload up = {msg, len};
    char from[330];
    snprintf(from, sizeof from, "<%s>", t->envelope_from);
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, to);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
    curl_easy_setopt(c, CURLOPT_READDATA, &up);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
    CURLcode rc = curl_easy_perform(c);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(to);
    curl_easy_cleanup(c);
    if (rc == CURLE_OK)
        return AUTH_MAIL_DELIVERED;
    smtp_why(rc, errbuf, code, why, cap);
    /* a 5xx answer is the server's final word on this message (RFC 5321 4.2.1); anything
       else (no connection, TLS, timeouts, 4xx) may pass later, and so may a refused login:
       that is this server's configuration, fixed by its operator, not the message's fault */
    if (rc == CURLE_LOGIN_DENIED)
        return AUTH_MAIL_RETRY;
    return code >= 500 && code < 600 ? AUTH_MAIL_REJECTED : AUTH_MAIL_RETRY;
}

/* See mail.h. */
int auth__smtp_probe(const auth_mail_transport_t *t, char *why, size_t cap)
{
    char errbuf[CURL_ERROR_SIZE];
    why[0] = '\0';
    CURL *c = smtp_handle(t, errbuf);
    if (!c) {
        snprintf(why, cap, "no curl handle");
        return -1;
    }
    /* the connection phase of SMTP is greeting, EHLO, STARTTLS and AUTH: then curl stops */
    curl_easy_setopt(c, CURLOPT_CONNECT_ONLY, 1L);
    CURLcode rc = curl_easy_perform(c);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(c);
    if (rc == CURLE_OK)
        return 0;
    smtp_why(rc, errbuf, code, why, cap);
    return -1;
}

static enum auth_mail_result deliver_spool(const auth_mail_transport_t *t, int64_t id,
                                           const char *msg, size_t len, char *why, size_t cap)
{
    char path[4096];
    if (fileio_mkdirs(t->spool_dir, 0700) != 0) {
        snprintf(why, cap, "cannot create the mail directory");
        return AUTH_MAIL_RETRY;
    }
    snprintf(path, sizeof path, "%s/%06" PRId64 ".eml", t->spool_dir, id);
    if (fileio_write_atomic(path, msg, len, 0600, true) != 0) {
        snprintf(why, cap, "cannot write the .eml file");
        return AUTH_MAIL_RETRY;
    }
    log_info("msg=\"mail written\" file=%s", path);
    return AUTH_MAIL_DELIVERED;
}

/* See mail.h. */
enum auth_mail_result auth__mail_deliver(const auth_mail_transport_t *t, int64_t id,
                                         const char *rcpt, const char *msg, size_t len, char *why,
                                         size_t cap)
{
    why[0] = '\0';
    if (t->url)
        return deliver_smtp(t, rcpt, msg, len, why, cap);
    return deliver_spool(t, id, msg, len, why, cap);
}
