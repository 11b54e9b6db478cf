/*
 * sched/tz.h — IANA time zones: offsets, and local wall time <-> UTC.
 *
 * Backed by ICU's C calendar API (ucal_*) and the zone rules ICU carries.
 * Why not glibc: localtime_r()/mktime() follow the one process-global TZ
 * variable, and klok needs a zone per job, in many threads at once.  Why not
 * a TZif reader of our own: ICU already parses the rules, including the
 * POSIX rule string for dates past the table, and is tested far harder than
 * a new reader would be.  docs/CRON.md says more, including where ICU's rule
 * data comes from and how to update it.
 *
 * Two kinds of time appear here, both int64 milliseconds:
 *  - "utc_ms": an instant, milliseconds since 1970-01-01T00:00:00Z;
 *  - "local_ms": a wall-clock reading in the zone, counted the same way as if
 *    the wall clock were UTC (so 2026-03-29T02:30 local is 1774751400000
 *    whatever the zone).  local_ms = utc_ms + offset.
 *
 * Handles are shared: opening the same zone twice (or an alias such as
 * "US/Eastern" and "America/New_York") returns the same reference-counted
 * handle from a process-wide registry; sched_tz_close() drops a reference.
 * The registry is bounded by the zones ICU knows (about 600 canonical ids)
 * and by SCHED_TZ_REGISTRY_MAX.
 *
 * @locality any thread.  Every function here is thread-safe: the registry
 * has one mutex, and each handle a mutex of its own around its ICU calendar
 * and its cached offset period, held for one conversion (tens of
 * nanoseconds from the cache, a microsecond or two when ICU is asked).  The
 * UTC handle takes no lock at all.
 */
#ifndef SCHED_TZ_H
#define SCHED_TZ_H

#include <stddef.h>
#include <stdint.h>

#include "sched/err.h"

typedef struct sched_tz_s sched_tz_t;

/** Longest zone id accepted, without the NUL (SCHED_TZ_MAX in event.h is 65). */
#define SCHED_TZ_ID_MAX 64
/** At most this many distinct zones are open at once. */
#define SCHED_TZ_REGISTRY_MAX 1024

/** Instants handled: 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999Z. */
#define SCHED_TZ_MIN_MS (-62135596800000LL)
#define SCHED_TZ_MAX_MS (253402300799999LL)

/** How a local wall time maps to instants (sched_tz_local_to_utc). */
typedef enum sched_tz_local_e {
        SCHED_TZ_LOCAL_UNIQUE = 0,   /* exactly one instant shows it */
        SCHED_TZ_LOCAL_REPEATED = 1, /* shown twice (clocks went back) */
        SCHED_TZ_LOCAL_SKIPPED = 2,  /* never shown (clocks went forward) */
} sched_tz_local_t;

/**
 * Open a zone by IANA id ("Europe/Berlin", or an alias ICU knows such as
 * "US/Eastern").  "" and "UTC" give the UTC handle, which needs no ICU.
 * Ids are case-sensitive, as in the tz database.  Unknown ids are rejected
 * (ICU itself would silently fall back to "Etc/Unknown", i.e. GMT), and so
 * are ICU's custom ids like "GMT+05:30": use "Etc/GMT-5" style ids or a
 * named zone.
 *
 * @returns a handle to release with sched_tz_close(), or NULL with the
 *          reason in errstr.
 */
sched_tz_t *sched_tz_open(const char *zone_id, char *errstr,
                          size_t errstr_size);

/** Drop one reference; NULL and the UTC handle are fine. */
void sched_tz_close(sched_tz_t *tz);

/** The UTC handle (static, never needs closing). */
const sched_tz_t *sched_tz_utc(void);

/** Canonical id of the zone ("America/New_York" for "US/Eastern"), or
 *  "UTC".  Valid while the handle is open. */
const char *sched_tz_id(const sched_tz_t *tz);

/** Version of the zone rules in use (ICU's tz data, e.g. "2022e"). */
const char *sched_tz_data_version(void);

/**
 * Total UTC offset (standard + daylight) in effect at an instant, in ms:
 * local_ms = utc_ms + *offset_ms.
 * @returns SCHED_ERR_INVALID if utc_ms is outside SCHED_TZ_MIN_MS..MAX_MS.
 */
sched_err_t sched_tz_offset(const sched_tz_t *tz, int64_t utc_ms,
                            int32_t *offset_ms);

/** Local wall time at an instant (utc_ms + offset). */
sched_err_t sched_tz_utc_to_local(const sched_tz_t *tz, int64_t utc_ms,
                                  int64_t *local_ms);

/**
 * The instant of a local wall time, with klok's DST policy (docs/CRON.md):
 *  - shown once: that instant (*kind = UNIQUE);
 *  - shown twice (clocks went back): the FIRST, earlier instant (REPEATED);
 *  - never shown (clocks went forward over it): the instant the gap ends,
 *    i.e. the first valid instant after it (SKIPPED).  For Europe/Berlin,
 *    2026-03-29 02:30 local gives 01:00Z, which reads 03:00 local.
 * kind may be NULL.
 */
sched_err_t sched_tz_local_to_utc(const sched_tz_t *tz, int64_t local_ms,
                                  int64_t *utc_ms, sched_tz_local_t *kind);

/**
 * The latest local wall time the zone's clock has shown at or before an
 * instant: the same as sched_tz_utc_to_local() except during the second pass
 * through a repeated interval, where it is the wall time reached before the
 * clocks went back.  (Berlin, 2026-10-25 01:30Z reads 02:30 local for the
 * second time; the high-water mark is 02:59:59.999.)  A local time at or
 * before this mark has had its (first) instant at or before utc_ms.
 */
sched_err_t sched_tz_local_high(const sched_tz_t *tz, int64_t utc_ms,
                                int64_t *local_ms);

/**
 * First offset change strictly after utc_ms (*transition_ms is the first
 * instant with the new offset).  SCHED_ERR_NOT_FOUND if the zone has none,
 * as UTC.  ICU reports a few transitions that change only the split between
 * standard and daylight time, not the total offset.
 */
sched_err_t sched_tz_next_transition(const sched_tz_t *tz, int64_t utc_ms,
                                     int64_t *transition_ms);

#endif /* SCHED_TZ_H */
