/*
 * josetest.h - helpers shared by the jose unit tests (tests/unit/jose/): the claims of a
 * jwtd access token that they sign, algorithm lookup by name, and reading a file of
 * tests/vectors/. Header-only (static inline): each test file includes what it uses.
 */
#ifndef JWTD_TEST_JOSETEST_H
#define JWTD_TEST_JOSETEST_H

#include <stdio.h>
#include <stdlib.h>

#include "jose/jose.h"
#include "test.h"

/* The claims of a jwtd access token, valid from 2023-11-14 until 2100. */
#define JOSETEST_CLAIMS                                                                            \
    "{\"token_type\":\"access\",\"exp\":4102444800,\"iat\":1700000000,"                            \
    "\"jti\":\"0123456789abcdef0123456789abcdef\",\"user_id\":\"7\","                              \
    "\"sub\":\"7\",\"sid\":\"s\",\"username\":\"bob\",\"email\":\"b@x\","                          \
    "\"role\":\"admin\",\"premium\":true}"

/* The row of jose's algorithm table named name ("ES256"), or NULL. */
static inline const jose_alg_t *josetest_alg(const char *name)
{
    return jose_alg_by_name(str_cstr(name));
}

/* Reads tests/vectors/<rel> (at most 1 MiB) into a malloc'ed NUL-terminated buffer, or NULL.
 * OUT: *len. */
static inline char *josetest_read_vec(const char *rel, size_t *len)
{
    char path[1024], full[1200];
    *len = 0;
    snprintf(path, sizeof path, "vectors/%s", rel);
    FILE *f = fopen(test_data_path(path, full, sizeof full), "rb");
    if (!f)
        return NULL;
    char *p = malloc(1 << 20);
    if (!p) {
        fclose(f);
        return NULL;
    }
    *len = fread(p, 1, (1 << 20) - 1, f);
    p[*len] = '\0';
    fclose(f);
    return p;
}

#endif
