/*
 * flush.c - housekeeping of the auth tables (auth.h auth_flush_expired, `jwtd flush-expired`,
 * which also runs db_flush_expired for the token tables). Each module deletes its own rows
 * with its own statements (the auth__*_flush functions); this file only runs them in turn
 * and gathers the counts. A running server already prunes most of these rows as it goes
 * (a new challenge, code or state purges the old ones; the mail sender's housekeeping): the
 * command catches what a quiet server leaves behind, on SQLite and PostgreSQL alike.
 */
#include "auth/auth_internal.h"

/* See auth.h. */
int auth_flush_expired(struct db *db, int64_t now, auth_flush_stats_t *stats)
{
    auth_flush_stats_t st = {0};
    int rc = auth__mfa_flush(db, now, &st.mfa_challenges);
    if (rc == 0)
        rc = auth__oauth_flush(db, now, &st.oauth_codes);
    if (rc == 0)
        rc = auth__oidc_flush(db, now, &st.oidc_states);
    if (rc == 0)
        rc = auth__outbox_flush(db, now, &st.mail_outbox, &st.email_tokens);
    if (stats)
        *stats = st;
    return rc;
}
