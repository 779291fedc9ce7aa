/*
 * config_file.c - libFuzzer target for the config-file parser (src/config/apply.c) and,
 * through it, every value type of src/config/types.c and the grammars of parse.c.
 *
 * The input is the content of a --config file. Besides "no crash, no leak, no UB", it
 * checks one property: when a file loads, the dump of the result (secrets revealed) loads
 * again and dumps identically, so what `jwtd config` prints is always valid config.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "config/config.h"
#include "config/table.h"
#include "runtime/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Silences the unknown-variable warnings. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    log_set_level(LOG_OFF);
    return 0;
}

static int load(struct cfg *cfg, const char *data, size_t size)
{
    char err[512];
    int rc = cfg_init_defaults(cfg, err, sizeof err);
    if (rc == 0)
        rc = cfg_apply_buffer(cfg, "fuzz.conf", data, size, err, sizeof err);
    if (rc == 0)
        rc = cfg_finish(cfg, err, sizeof err);
    if (rc != 0 && strlen(err) == 0)
        abort(); /* every failure explains itself */
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cfg a, b;
    buf_t d1, d2;
    if (size > 64 * 1024)
        return 0;
    log_set_level(LOG_OFF);
    if (load(&a, (const char *)data, size) != 0) {
        cfg_dispose(&a);
        return 0;
    }
    buf_init(&d1, 1 << 20);
    buf_init(&d2, 1 << 20);
    if (cfg__format(&a, &d1, true) != 0)
        abort();
    if (load(&b, d1.data, d1.len) != 0)
        abort(); /* a dump that does not load back */
    if (cfg__format(&b, &d2, true) != 0 || d1.len != d2.len || memcmp(d1.data, d2.data, d1.len))
        abort(); /* a dump that does not load back to itself */
    buf_reset(&d1);
    if (cfg__format(&a, &d1, false) != 0) /* the redacting path of `jwtd config` */
        abort();
    buf_dispose(&d1);
    buf_dispose(&d2);
    cfg_dispose(&a);
    cfg_dispose(&b);
    return 0;
}
