/*
 * lookup.c - from a variable's name to its row: the lenient lookup of config files and
 * cfg_set (JWTD_ prefix optional, any case), the exact lookup of the environment, the
 * harness variables that are not configuration, and the "did you mean" suggestion for an
 * unknown name (text_edit_distance of common/text.h).
 *
 * Not here: what a row means (table.c, types.c) or setting it (apply.c). Unknown names are
 * warnings, never errors, so that an old config keeps working with a newer binary; this
 * file words the warning and finish.c logs it once JWTD_LOG_LEVEL is known.
 */
#include "config/table.h"

#include "common/text.h"
#include "runtime/log.h"

static str_t strip_prefix(str_t name)
{
    if (name.len >= 5 && str_eq_nocase(str_make(name.ptr, 5), STR_LIT("JWTD_")))
        return str_make(name.ptr + 5, name.len - 5);
    return name;
}

/* See table.h. */
int cfg__row_find(str_t name)
{
    str_t bare = strip_prefix(name);
    for (size_t i = 0; i < cfg_rows_count; i++)
        if (str_eq_nocase(bare, strip_prefix(str_cstr(cfg_rows[i].name))))
            return (int)i;
    return -1;
}

/* See table.h. */
int cfg__row_find_exact(str_t name)
{
    for (size_t i = 0; i < cfg_rows_count; i++)
        if (str_eq_cstr(name, cfg_rows[i].name))
            return (int)i;
    return -1;
}

/* See table.h. */
bool cfg__env_ignored(str_t name)
{
    if (str_starts_with(name, STR_LIT("JWTD_TEST_")))
        return true;
    for (size_t i = 0; cfg_env_ignored[i]; i++)
        if (str_eq_cstr(name, cfg_env_ignored[i]))
            return true;
    return false;
}

/* See config.h. */
int cfg_source_of(const struct cfg *cfg, const char *name)
{
    int i = cfg__row_find(str_cstr(name));
    return i < 0 ? -1 : cfg->_source[i];
}

/* See table.h. */
const char *cfg__suggest(str_t name)
{
    str_t bare = strip_prefix(name);
    const char *best = NULL;
    size_t best_d = 3; /* suggest only within two edits, and not for very short names */
    for (size_t i = 0; i < cfg_rows_count; i++) {
        size_t d = text_edit_distance(bare, strip_prefix(str_cstr(cfg_rows[i].name)));
        if (d < best_d && d * 3 < bare.len) {
            best_d = d;
            best = cfg_rows[i].name;
        }
    }
    return best;
}

/* See table.h. */
void cfg__warn_unknown(struct cfg *cfg, str_t name, const char *where)
{
    char esc[160];
    const char *hint = cfg__suggest(name);
    log_value_escape(esc, sizeof esc, name.ptr, name.len > 100 ? 100 : name.len);
    cfg__warn_later(cfg,
                    "msg=\"unknown configuration variable, ignored\" name=\"%s\" source=\"%s\"%s%s",
                    esc, where, hint ? " did_you_mean=" : "", hint ? hint : "");
}
