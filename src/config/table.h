/*
 * table.h - the model behind struct cfg, private to src/config/ (and its tests): the shape
 * of a table row, the value types a row can have, and the few helpers the files of
 * src/config/ share.
 *
 * table.c holds the one array of rows (one per variable), types.c the one array of value
 * types (one per syntax: parse, format, release, documentation). Everything else walks
 * those two arrays: no code switches on a variable or on a type, so adding an option is a
 * field in config.h plus a row in table.c, and adding a type is an enum value here plus a
 * row in types.c. Other subsystems include config.h, never this file.
 */
#ifndef JWTD_CONFIG_TABLE_H
#define JWTD_CONFIG_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "config/config.h"

/* --- value types ------------------------------------------------------------------------ */

/*
 * The type of a row decides the syntax it accepts and the C type at its offset. Types that
 * docs/config.md explains under "Value syntax" come first, in the order it explains them.
 */
enum cfg_type {
    CFG_T_DURATION_S,  /* int64_t seconds; sub-second values are rejected */
    CFG_T_DURATION_MS, /* int64_t milliseconds */
    CFG_T_SIZE,        /* size_t, bytes */
    CFG_T_RATE,        /* cfg_rate_t */
    CFG_T_BOOL,        /* bool */
    CFG_T_CIDR_LIST,   /* ip_net_list_t */
    CFG_T_STRLIST,     /* cfg_strlist_t */
    CFG_T_SECRET,      /* char * (xmalloc'd), never shown, wiped on release */
    CFG_T_INT,         /* int */
    CFG_T_UINT,        /* uint32_t */
    CFG_T_STRING,      /* char * (xmalloc'd); with `values`, one of them (canonical spelling) */
    CFG_T_PATH,        /* char * file system path */
    CFG_T_ENUM,        /* int (C enum): index into `values` */
    CFG_T_COUNT
};

/* Room for a value of any type: where a parser puts it before it replaces the field's. */
typedef union {
    bool b;
    int i;
    uint32_t u;
    size_t z;
    int64_t n;
    char *s;
    cfg_rate_t rate;
    ip_net_list_t nets;
    cfg_strlist_t list;
} cfg_value_t;

struct cfg_row;

/*
 * Parses text (free of control characters) for row into *out, as the C type of the row's
 * field. shown is the value as messages may quote it (see cfg__value_shown). On failure,
 * writes why into why (the text after "JWTD_NAME: ") and returns ERR_CONFIG, owning nothing.
 */
typedef int (*cfg_parse_fn)(const struct cfg_row *row, str_t text, const char *shown,
                            cfg_value_t *out, char *why, size_t cap);
/*
 * Appends the value of field as `jwtd config` prints it. With reveal false, secrets and URL
 * passwords print redacted. Returns 0 or nonzero when out is full.
 */
typedef int (*cfg_format_fn)(const struct cfg_row *row, const void *field, bool reveal, buf_t *out);
/* Frees (secrets: wipes, then frees) what field owns and leaves it empty. */
typedef void (*cfg_release_fn)(void *field);
/* Appends a number in the type's storage unit, as values and bounds of that type print. */
typedef int (*cfg_number_fn)(int64_t v, buf_t *out);

/* One row per enum cfg_type: everything the rest of src/config/ knows about a type. */
struct cfg_type_ops {
    const char *name;   /* the type column of docs/config.md: "duration (s)" */
    const char *syntax; /* its bullet under "Value syntax" in docs/config.md; NULL = none */
    const char *kind;   /* syntax errors read: invalid KIND "v" (expected HINT) */
    const char *hint;
    size_t size;            /* sizeof the C type at the row's offset */
    int64_t limit;          /* numbers: the C type's largest value; 0 = the row's max only */
    bool secret;            /* never in messages, redacted when printed, wiped on release */
    cfg_parse_fn parse;     /* text -> value */
    cfg_format_fn format;   /* value -> text that cfg_apply_buffer reads back */
    cfg_release_fn release; /* NULL = the value owns no memory */
    cfg_number_fn number;   /* numbers: bounds in messages and docs; NULL = not a number */
};

extern const struct cfg_type_ops cfg_types[CFG_T_COUNT];

/* --- rows ------------------------------------------------------------------------------- */

/* Row flags. */
#define CFG_F_DEPRECATED 0x01u /* setting it logs a warning */
#define CFG_F_OPTIONAL   0x02u /* strings: empty means unset (NULL) */
#define CFG_F_URL        0x04u /* a URL whose password (user:PASS@) is redacted in output */
#define CFG_F_RELOAD     0x08u /* `jwtd serve` applies a change on SIGHUP (cfg_diff) */

/*
 * Optional extra check after parsing, for strings and for each item of a string list
 * (CFG_T_STRLIST): returns 0, or writes why the value is
 * wrong into why (no variable name, no value: the caller adds those) and returns -1.
 */
typedef int (*cfg_validate_fn)(const char *value, char *why, size_t cap);

struct cfg_row {
    const char *name;          /* JWTD_... */
    enum cfg_type type;        /* syntax and C type */
    size_t offset;             /* offsetof(struct cfg, field) */
    const char *def;           /* default, parsed like user input; NULL = unset */
    int64_t min, max;          /* bounds in storage units (strings: length); max 0 = none */
    unsigned flags;            /* CFG_F_* */
    const char *const *values; /* NULL-terminated choices for enums */
    cfg_validate_fn validate;  /* NULL = none */
    const char *help;          /* one line, for `jwtd config --markdown` */
    const char *def_doc;       /* the default as documented, when not simply `def` */
};

extern const struct cfg_row cfg_rows[];
extern const size_t cfg_rows_count;
/* JWTD_* environment names that are not configuration (test harness variables). */
extern const char *const cfg_env_ignored[];

/* The field of cfg that row describes. */
static inline void *cfg__field(struct cfg *cfg, const struct cfg_row *row)
{
    return (char *)cfg + row->offset;
}

static inline const void *cfg__cfield(const struct cfg *cfg, const struct cfg_row *row)
{
    return (const char *)cfg + row->offset;
}

/* --- types.c: values in messages --------------------------------------------------------- */

/* Quotes v for a message into out: "..." with escapes, cut after 80 bytes. Returns out. */
const char *cfg__quote(char *out, size_t cap, str_t v);
/*
 * The text messages show for a value of row: "(value not shown)" for secrets, the quoted
 * value with URL passwords redacted for CFG_F_URL rows, the quoted value otherwise.
 */
void cfg__value_shown(const struct cfg_row *row, str_t value, char *out, size_t cap);

/* --- lookup.c: names --------------------------------------------------------------------- */

/* Index of the row named name (with or without JWTD_, case-insensitive), or -1. */
int cfg__row_find(str_t name);
/* Index of the row whose name is exactly name (environment names), or -1. */
int cfg__row_find_exact(str_t name);
/* Whether name is a JWTD_* environment variable that is not configuration. */
bool cfg__env_ignored(str_t name);
/* The known name closest to an unknown one, or NULL when none is close. */
const char *cfg__suggest(str_t name);
/* Queues the warning for an unknown name found in where ("environment", "file:12"). */
void cfg__warn_unknown(struct cfg *cfg, str_t name, const char *where);

/* --- apply.c: setting values ------------------------------------------------------------- */

/* Writes where + name + ": " + the formatted text into err (cap 0 writes nothing). */
__attribute__((format(printf, 5, 6))) void cfg__errf(char *err, size_t cap, const char *where,
                                                     const char *name, const char *fmt, ...);
/*
 * Parses value for row i and stores it, replacing (and releasing) the previous value only on
 * success; records src. where prefixes messages ("file:12: " or ""). Returns 0 or ERR_CONFIG.
 */
int cfg__set_row(struct cfg *cfg, size_t i, str_t value, enum cfg_source src, const char *where,
                 char *err, size_t cap);

/* --- finish.c: warnings ------------------------------------------------------------------ */

/* Queues a warning line (key=value text after level and module) until cfg_finish(). */
__attribute__((format(printf, 2, 3))) void cfg__warn_later(struct cfg *cfg, const char *fmt, ...);
/* Drops the queued warnings. */
void cfg__warnings_dispose(struct cfg *cfg);

/* --- oidc.c: the per-name variables of social sign-in ------------------------------------ */

/*
 * Keeps name=value aside when name (not a row) is JWTD_OIDC_<NAME>_<FIELD> for one of the
 * per-provider fields; exact = the environment's rule (the full upper-case name). Returns 1
 * when taken, 0 when name is not one of them, ERR_CONFIG (err set) on a bad value.
 */
int cfg__oidc_take(struct cfg *cfg, str_t name, str_t value, bool exact, char *err, size_t cap);
/* Builds cfg->oidc from JWTD_OIDC_PROVIDERS and the values kept aside. 0 or ERR_CONFIG. */
int cfg__oidc_finish(struct cfg *cfg, char *err, size_t cap);
/* Frees the providers and the values kept aside. */
void cfg__oidc_dispose(struct cfg *cfg);
/* Appends JWTD_OIDC_<NAME>_<FIELD>=value lines for every provider. 0 or ERR_TOO_LARGE. */
int cfg__oidc_format(const struct cfg *cfg, buf_t *out);
/* A reload: when next's providers differ from running's, gives next a copy of running's
   (they need a restart) and returns true. */
bool cfg__oidc_keep_running(struct cfg *next, const struct cfg *running);
/* Appends the reference section of the per-name variables (docs/config.md). */
void cfg__oidc_markdown(buf_t *b);

/* --- output.c: printing ------------------------------------------------------------------ */

/*
 * Appends the value of row as it would be written in a config file. With reveal false,
 * secrets print as <redacted>/<unset> and URL passwords as <redacted>. reveal true is for
 * round-trip tests only.
 */
int cfg__format_value(const struct cfg *cfg, const struct cfg_row *row, buf_t *out, bool reveal);
/* Appends every row as NAME=value lines (see cfg__format_value for reveal). */
int cfg__format(const struct cfg *cfg, buf_t *out, bool reveal);

#endif
