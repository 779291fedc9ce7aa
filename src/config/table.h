/*
 * table.h - the shape of a config table row; private to src/config/ (and its tests).
 *
 * table.c holds the one array of rows. The loader (load.c) only ever walks that array:
 * parsing, defaults, dumping and the Markdown reference all read a row's type, offset,
 * default, bounds and flags, so no variable has code of its own except an optional
 * validator. Other subsystems include config.h, never this file.
 */
#ifndef JWTD_CONFIG_TABLE_H
#define JWTD_CONFIG_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "config/config.h"

/* The type of a row decides both the syntax it accepts and the C type at its offset. */
enum cfg_type {
    CFG_T_BOOL,        /* bool */
    CFG_T_INT,         /* int */
    CFG_T_UINT,        /* uint32_t */
    CFG_T_SIZE,        /* size_t, bytes */
    CFG_T_DURATION_S,  /* int64_t seconds; sub-second values are rejected */
    CFG_T_DURATION_MS, /* int64_t milliseconds */
    CFG_T_STRING,      /* char * (xmalloc'd); with `values`, one of them (canonical spelling) */
    CFG_T_PATH,        /* char * file system path */
    CFG_T_ENUM,        /* int (C enum): index into `values` */
    CFG_T_SECRET,      /* char *, wiped on release, never printed */
    CFG_T_RATE,        /* cfg_rate_t */
    CFG_T_CIDR_LIST,   /* ip_net_list_t */
    CFG_T_STRLIST,     /* cfg_strlist_t */
};

/* Row flags. */
#define CFG_F_SECRET     0x01u /* value never printed: dump shows <redacted> or <unset> */
#define CFG_F_REQUIRED   0x02u /* an empty value after loading is an error */
#define CFG_F_DEPRECATED 0x04u /* setting it logs a warning */
#define CFG_F_OPTIONAL   0x08u /* strings: empty means unset (NULL) */
#define CFG_F_URL        0x10u /* a URL whose password (user:PASS@) is redacted in output */

/*
 * Optional extra check after parsing, for strings: returns 0, or writes why the value is
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

/* Index of the row named name (with or without JWTD_, case-insensitive), or -1. */
int cfg__row_find(str_t name);
/*
 * Appends the value of row as it would be written in a config file. With reveal false,
 * secrets print as <redacted>/<unset> and URL passwords as <redacted>. reveal true is for
 * round-trip tests only.
 */
int cfg__format_value(const struct cfg *cfg, const struct cfg_row *row, buf_t *out, bool reveal);
/* Appends every row as NAME=value lines (see cfg__format_value for reveal). */
int cfg__format(const struct cfg *cfg, buf_t *out, bool reveal);

#endif
