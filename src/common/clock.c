/*
 * clock.c - wall and monotonic clocks (see clock.h).
 */
#include "common/clock.h"

#include <time.h>

static int64_t fake_now;

/* See clock.h. */
int64_t clock_now_s(void)
{
    if (fake_now)
        return fake_now;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec;
}

/* See clock.h. */
uint64_t clock_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* See clock.h. */
void clock_set_fake_now(int64_t t)
{
    fake_now = t;
}
