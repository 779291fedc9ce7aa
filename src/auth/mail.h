/*
 * mail.h - the mail of the account lifecycle, inside src/auth/ (not a contract for others):
 * templates and MIME messages (mail.c), delivery over SMTP with libcurl or into a spool
 * directory (smtp.c), and the outbox with its sender thread (outbox.c).
 *
 * A mail is rendered once, completely (headers, a multipart/alternative body of plain text
 * and HTML), when the change that causes it is written, and stored in the outbox in the same
 * transaction; the sender delivers those bytes as they are. So a mail exists exactly when its
 * change committed, and a retry resends the identical message (same Message-ID).
 */
#ifndef JWTD_AUTH_MAIL_H
#define JWTD_AUTH_MAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* The mails jwtd sends: one template (subject, text, HTML) each. */
#define AUTH_MAIL_KINDS(X)                                                                         \
    X(VERIFY, "verify")                                                                            \
    X(RESET, "reset")                                                                              \
    X(EMAIL_CHANGE, "email_change")                                                                \
    X(OTP, "otp")                                                                                  \
    X(PASSWORD_CHANGED, "password_changed")

enum auth_mail_kind {
#define AUTH_MAIL_ENUM_(id, name) AUTH_MAIL_##id,
    AUTH_MAIL_KINDS(AUTH_MAIL_ENUM_)
#undef AUTH_MAIL_ENUM_
        AUTH_MAIL__COUNT
};

/* "verify", "reset", ... (the template files' base names). */
const char *auth__mail_kind_name(enum auth_mail_kind k);

/* The three parts of one template. */
enum auth_mail_part { AUTH_MAIL_SUBJECT = 0, AUTH_MAIL_TEXT = 1, AUTH_MAIL_HTML = 2 };

typedef struct auth_mail_templates auth_mail_templates_t;

/*
 * The templates: built in, each part replaced by the file <kind>.subject, <kind>.txt or
 * <kind>.html of dir when it exists (dir NULL or "" = built in only). Files are read once,
 * at most 64 KiB each, valid UTF-8. Returns 0, or ERR_CONFIG with why (cap bytes). OUT: *out.
 */
int auth__mail_templates_load(const char *dir, auth_mail_templates_t **out, char *why, size_t cap);
void auth__mail_templates_free(auth_mail_templates_t *t);

/* One value inserted into a template where it says {{name}}. */
typedef struct {
    const char *name;
    const char *value;
} auth_mail_var_t;

/*
 * Renders a template part into out: every {{name}} replaced by its value (unknown names by
 * nothing), HTML-escaped when html. Pure.
 */
void auth__mail_expand(const char *tpl, const auth_mail_var_t *vars, size_t n, bool html,
                       buf_t *out);

/*
 * A complete message (CRLF lines): From, To, Subject (RFC 2047 when not ASCII), Date,
 * Message-ID (random, @ the sender's domain), MIME-Version, Auto-Submitted, and a
 * multipart/alternative body of text/plain and text/html, UTF-8, base64. from is the header
 * value ("Name <addr>" or "addr"); to a plain address. Returns a heap string. OUT: *len.
 */
char *auth__mail_render(const auth_mail_templates_t *t, enum auth_mail_kind kind, const char *from,
                        const char *to, const auth_mail_var_t *vars, size_t n, int64_t now,
                        size_t *len);

/* The address of a From value ("Name <a@b>" -> "a@b"), into out (cap bytes). */
void auth__mail_address(const char *from, char *out, size_t cap);

/* ---- delivery (smtp.c) -------------------------------------------------------------------- */

/* Where mail goes: an SMTP server, or (no URL) .eml files in spool_dir. */
typedef struct {
    char *url;           /* smtp:// or smtps:// without jwtd's own query; NULL = spool */
    bool tls_required;   /* ?tls=required: STARTTLS or nothing */
    char *password;      /* JWTD_SMTP_PASSWORD_FILE's, or NULL (then the URL's, if any) */
    char *ca_file;       /* JWTD_SMTP_CA_FILE (PEM), or NULL: the system's trust store */
    char *envelope_from; /* the bare address of JWTD_MAIL_FROM */
    char *spool_dir;     /* without SMTP: DATA_DIR/mail */
} auth_mail_transport_t;

/*
 * Parses JWTD_SMTP_URL (smtp:// or smtps://, optional user:password@, host, optional
 * :port, optional ?tls=required|opportunistic) into t->url and t->tls_required. Returns 0
 * or ERR_CONFIG with why (no secret quoted).
 */
int auth__smtp_url_parse(const char *url, auth_mail_transport_t *t, char *why, size_t cap);
void auth__mail_transport_dispose(auth_mail_transport_t *t);

/* How one delivery attempt ended. */
enum auth_mail_result {
    AUTH_MAIL_DELIVERED = 0,
    AUTH_MAIL_RETRY = 1,    /* connection, TLS, timeout, 4xx: try again later */
    AUTH_MAIL_REJECTED = 2, /* 5xx: the server refused it for good */
};

/*
 * Delivers one message (len bytes) to rcpt: over SMTP (blocking, bounded by timeouts), or
 * into the spool directory as <id>.eml (written atomically). why (cap bytes) says what went
 * wrong, without secrets. Any thread but one message at a time per call.
 */
enum auth_mail_result auth__mail_deliver(const auth_mail_transport_t *t, int64_t id,
                                         const char *rcpt, const char *msg, size_t len, char *why,
                                         size_t cap);

/*
 * Connects to the SMTP server of t as a delivery would (greeting, EHLO, STARTTLS or implicit
 * TLS with the certificate verified, AUTH when a user is set) and hangs up without sending
 * anything. Returns 0, or -1 with why (cap bytes, no secret). Blocking, bounded like a
 * delivery. t->url must be set.
 */
int auth__smtp_probe(const auth_mail_transport_t *t, char *why, size_t cap);

#endif
