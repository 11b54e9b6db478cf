/*
 * sched/cron.h — cron expressions: parse once, then ask for fire times.
 *
 * Syntax (docs/CRON.md has the full story, the DST policy and examples):
 *
 *   [second] minute hour day-of-month month day-of-week
 *
 * Five fields, or six with the SECONDS FIRST (the Quartz / Spring order;
 * note that python's croniter puts them last).  Each field is a list of
 * items separated by ','; an item is '*', a value, or a range 'a-b', each
 * optionally with a step '/n'; 'a/n' means 'a-<max>/n'.  Months take JAN-DEC
 * and weekdays SUN-SAT (any case); weekdays run 0-7 with 0 and 7 both
 * Sunday, and a range may end on Sunday ('FRI-SUN').  '?' is '*' in the two
 * day fields.  Macros: @yearly @annually @monthly @weekly @daily @midnight
 * @hourly.
 *
 * Day matching follows crontab(5): if both day fields are restricted (neither
 * starts with '*' or '?'), a day matches when EITHER matches; otherwise both
 * must.
 *
 * The compiled form is a few bitsets: no allocation, freely copied, and
 * read-only once parsed, so any number of threads may use one at once.
 */
#ifndef SCHED_CRON_H
#define SCHED_CRON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sched/err.h"
#include "sched/tz.h"

/** Longest expression accepted, in bytes without the NUL
 *  (SCHED_CRON_MAX - 1 of sched/event.h). */
#define SCHED_CRON_EXPR_MAX 256

/** sched_cron_t.flags */
#define SCHED_CRON_F_SECONDS 0x1  /* six fields: the seconds were given */
#define SCHED_CRON_F_DOM_STAR 0x2 /* day-of-month starts with '*' or '?' */
#define SCHED_CRON_F_DOW_STAR 0x4 /* day-of-week starts with '*' or '?' */

/** A compiled expression.  Bit n of a set means value n matches. */
typedef struct sched_cron_s {
        uint64_t sec;   /* 0-59 (just bit 0 for five fields) */
        uint64_t min;   /* 0-59 */
        uint32_t hour;  /* 0-23 */
        uint32_t dom;   /* 1-31 */
        uint16_t month; /* 1-12 */
        uint8_t dow;    /* 0-6, Sunday = 0 (7 is folded into 0) */
        uint8_t flags;  /* SCHED_CRON_F_* */
} sched_cron_t;

/**
 * Parse and compile an expression.  Leading, trailing and repeated
 * whitespace is fine.  On failure *out is unspecified and errstr names the
 * field and the 1-based position: "field 'hour': 24 is out of range 0-23
 * (position 6)".
 *
 * @returns SCHED_ERR_OK, SCHED_ERR_INVALID, or SCHED_ERR_TOO_BIG for an
 *          expression longer than SCHED_CRON_EXPR_MAX.
 */
sched_err_t sched_cron_parse(const char *expr, sched_cron_t *out,
                             char *errstr, size_t errstr_size);

/**
 * The first fire instant STRICTLY after after_ms (epoch ms), in zone tz
 * (NULL = UTC).  Results are whole seconds.  DST policy, in short: each
 * matching local wall time fires once — a time the clocks skip fires at the
 * first instant after the gap (once per gap however many matching times
 * the gap holds), a time shown twice fires the first time only.
 *
 * The search covers 400 years from after_ms — a whole Gregorian cycle, so a
 * schedule that finds nothing never fires (e.g. "0 0 30 2 *") — and stops at
 * the end of year 9999; it skips non-matching months and days wholesale and
 * takes microseconds even when it finds nothing.
 *
 * @returns SCHED_ERR_OK; SCHED_ERR_NOT_FOUND if the schedule never fires
 *          again; SCHED_ERR_INVALID if after_ms is outside
 *          SCHED_TZ_MIN_MS..SCHED_TZ_MAX_MS.
 * @locality any thread (see sched/tz.h for the zone handle).
 */
sched_err_t sched_cron_next(const sched_cron_t *cron, const sched_tz_t *tz,
                            int64_t after_ms, int64_t *next_ms);

/**
 * The first local wall time at or after local_s (seconds since
 * 1970-01-01T00:00 of the wall clock) that the expression matches, ignoring
 * zones; false if there is none within 400 years or before year 10000.
 * sched_cron_next() is this plus the zone; exposed for tests and tools.
 */
bool sched_cron_next_local(const sched_cron_t *cron, int64_t local_s,
                           int64_t *match_s);

#endif /* SCHED_CRON_H */
