/*
 * version.h - the version of jwtd (`jwtd version`, jwtd_build_info of GET /metrics).
 */
#ifndef JWTD_COMMON_VERSION_H
#define JWTD_COMMON_VERSION_H

#define JWTD_VERSION "0.1.0"

#endif
