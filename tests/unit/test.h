/*
 * test.h - the tiny unit-test harness of jwtd (libuv's test/task.h in spirit).
 *
 * A test is a function declared with TEST(name); it registers itself at load time, so a
 * test file needs no entry in a shared list. Asserts print both sides and the location,
 * then fail the current test (they return from it). The runner (main.c) runs every test,
 * or those whose name contains argv[1], and ends with the line "N passed, N failed".
 *
 *     TEST(buf_append_respects_max) {
 *         buf_t b; buf_init(&b, 4);
 *         ASSERT_EQ_INT(buf_append(&b, "hello", 5), ERR_TOO_LARGE);
 *         buf_dispose(&b);
 *     }
 *
 * Cleanup that must run even on failure: use DEFER-free style, i.e. assert first, allocate
 * after, or use the CHECK_* variants that only record a failure and continue.
 */
#ifndef JWTD_TEST_H
#define JWTD_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

typedef void (*test_fn)(void);
void test__register(const char *name, const char *file, test_fn fn);
void test__fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int test__failed(void);

#define TEST(name)                                                                                 \
    static void test_##name(void);                                                                 \
    __attribute__((constructor)) static void test_reg_##name(void)                                 \
    {                                                                                              \
        test__register(#name, __FILE__, test_##name);                                              \
    }                                                                                              \
    static void test_##name(void)

#define CHECK_TRUE(c) ((c) ? 1 : (test__fail(__FILE__, __LINE__, "expected true: %s", #c), 0))

#define CHECK_EQ_INT(a, b)                                                                         \
    __extension__({                                                                                \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        int ok_ = a_ == b_;                                                                        \
        if (!ok_)                                                                                  \
            test__fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, a_, b_);              \
        ok_;                                                                                       \
    })

#define CHECK_STR_EQ(a, b)                                                                         \
    __extension__({                                                                                \
        const char *a_ = (a), *b_ = (b);                                                           \
        int ok_ = a_ && b_ && strcmp(a_, b_) == 0;                                                 \
        if (!ok_)                                                                                  \
            test__fail(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", #a, #b,                   \
                       a_ ? a_ : "(null)", b_ ? b_ : "(null)");                                    \
        ok_;                                                                                       \
    })

/* Compares n bytes; prints both as escaped text. */
#define CHECK_MEM_EQ(a, b, n)                                                                      \
    __extension__({                                                                                \
        const void *a_ = (a), *b_ = (b);                                                           \
        size_t n_ = (n);                                                                           \
        int ok_ = memcmp(a_, b_, n_) == 0;                                                         \
        if (!ok_)                                                                                  \
            test__fail(__FILE__, __LINE__, "%s == %s over %zu bytes: \"%.*s\" != \"%.*s\"", #a,    \
                       #b, n_, (int)n_, (const char *)a_, (int)n_, (const char *)b_);              \
        ok_;                                                                                       \
    })

#define ASSERT_TRUE(c)                                                                             \
    do {                                                                                           \
        if (!CHECK_TRUE(c))                                                                        \
            return;                                                                                \
    } while (0)
#define ASSERT_EQ_INT(a, b)                                                                        \
    do {                                                                                           \
        if (!CHECK_EQ_INT(a, b))                                                                   \
            return;                                                                                \
    } while (0)
#define ASSERT_STR_EQ(a, b)                                                                        \
    do {                                                                                           \
        if (!CHECK_STR_EQ(a, b))                                                                   \
            return;                                                                                \
    } while (0)
#define ASSERT_MEM_EQ(a, b, n)                                                                     \
    do {                                                                                           \
        if (!CHECK_MEM_EQ(a, b, n))                                                                \
            return;                                                                                \
    } while (0)

/* Path of a file under tests/ (vectors etc.), relative to the repository root. */
const char *test_data_path(const char *rel, char *out, size_t cap);

#endif
