/*
 * version.h - the version of jwtd (`jwtd version`, jwtd_build_info of GET /metrics).
 *
 * JWTD_VERSION (a string literal) is defined by the Makefile: `git describe` of the
 * checkout, else the VERSION file. Files using it are listed in the Makefile's
 * VERSIONED_SRC, so that they are rebuilt when it changes.
 */
#ifndef JWTD_COMMON_VERSION_H
#define JWTD_COMMON_VERSION_H

#ifndef JWTD_VERSION
#error "JWTD_VERSION is defined by the Makefile (-DJWTD_VERSION)"
#endif

#endif
