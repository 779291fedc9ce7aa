/*
 * clock.h - the two clocks jwtd reads: wall time in seconds (token claims) and a monotonic
 * nanosecond clock (deadlines, durations). Tests may pin the wall clock with
 * clock_set_fake_now(); production never does.
 */
#ifndef JWTD_COMMON_CLOCK_H
#define JWTD_COMMON_CLOCK_H

#include <stdint.h>

/* Seconds since the Unix epoch (or the fake time when one is set). Thread-safe. */
int64_t clock_now_s(void);
/* Monotonic nanoseconds from an arbitrary origin. Thread-safe. */
uint64_t clock_mono_ns(void);
/* Pins clock_now_s() to t (0 unpins). For tests only; call before threads start. */
void clock_set_fake_now(int64_t t);

#endif
