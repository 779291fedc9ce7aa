/*
 * main.c - runner for the unit tests registered with TEST() (see test.h).
 *
 * Usage: unit_tests [SUBSTRING]   runs the tests whose name contains SUBSTRING.
 * Ends with "N passed, N failed" and exits non-zero when anything failed.
 */
#include <stdarg.h>
#include <stdlib.h>

#include "runtime/log.h"
#include "test.h"

#define MAX_TESTS 4096

struct test_entry {
    const char *name;
    const char *file;
    test_fn fn;
};

static struct test_entry tests[MAX_TESTS];
static int n_tests;
static int current_failed;

/* Registers a test; called from TEST()'s constructor. */
void test__register(const char *name, const char *file, test_fn fn)
{
    if (n_tests == MAX_TESTS) {
        fprintf(stderr, "too many tests\n");
        abort();
    }
    tests[n_tests++] = (struct test_entry){name, file, fn};
}

/* Records a failure of the running test and prints it. */
void test__fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    current_failed = 1;
    fprintf(stderr, "    %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* Whether the running test has failed so far. */
int test__failed(void)
{
    return current_failed;
}

/* Builds "<root>/tests/<rel>" where root is $JWTD_SRC_ROOT or ".". */
const char *test_data_path(const char *rel, char *out, size_t cap)
{
    const char *root = getenv("JWTD_SRC_ROOT");
    snprintf(out, cap, "%s/tests/%s", root ? root : ".", rel);
    return out;
}

static int by_file_then_name(const void *a, const void *b)
{
    const struct test_entry *x = a, *y = b;
    int c = strcmp(x->file, y->file);
    return c ? c : strcmp(x->name, y->name);
}

int main(int argc, char **argv)
{
    const char *filter = argc > 1 ? argv[1] : NULL;
    int passed = 0, failed = 0;
    log_set_level(getenv("TEST_VERBOSE") ? LOG_DEBUG : LOG_OFF);
    qsort(tests, (size_t)n_tests, sizeof tests[0], by_file_then_name);
    for (int i = 0; i < n_tests; i++) {
        if (filter && !strstr(tests[i].name, filter))
            continue;
        current_failed = 0;
        tests[i].fn();
        if (current_failed) {
            failed++;
            fprintf(stderr, "FAIL %s (%s)\n", tests[i].name, tests[i].file);
        } else {
            passed++;
            if (getenv("TEST_VERBOSE"))
                fprintf(stderr, "ok   %s\n", tests[i].name);
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
