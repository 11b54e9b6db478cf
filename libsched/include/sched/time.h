/*
 * sched/time.h — wall-clock and monotonic time in milliseconds, ISO 8601.
 */
#ifndef SCHED_TIME_H
#define SCHED_TIME_H

#include <stddef.h>
#include <stdint.h>

#include "sched/err.h"

/** Wall clock, epoch milliseconds (CLOCK_REALTIME). */
int64_t sched_now_ms(void);
/** Wall clock, epoch microseconds (CLOCK_REALTIME). */
int64_t sched_now_us(void);
/** Monotonic milliseconds, for deadlines and durations. */
int64_t sched_mono_ms(void);

/** Days since 1970-01-01 of a proleptic Gregorian date (month 1-12), and
 *  back (H. Hinnant, "chrono-Compatible Low-Level Date Algorithms"). */
int64_t sched_days_from_civil(int64_t y, int m, int d);
void sched_civil_from_days(int64_t days, int64_t *y, int *m, int *d);

/** Length of "2026-11-23T13:20:46.123Z" plus NUL. */
#define SCHED_ISO_MAX 64

/** Format epoch ms as "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC). */
void sched_time_format(int64_t ms, char out[SCHED_ISO_MAX]);

/**
 * Parse an RFC 3339 instant: "YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)".
 * Fractions finer than a millisecond are truncated.  The offset is required
 * (an instant without a zone is ambiguous).
 */
sched_err_t sched_time_parse(const char *s, int64_t *msp);

#endif /* SCHED_TIME_H */
