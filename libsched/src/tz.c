/*
 * tz.c — IANA time zones through ICU's C calendar API (see sched/tz.h).
 *
 * ICU answers three questions for us: the total offset at an instant
 * (ucal_setMillis + UCAL_ZONE_OFFSET + UCAL_DST_OFFSET), the transitions
 * around an instant (ucal_getTimeZoneTransitionDate), and the offset to use
 * for a local time (ucal_getTimeZoneOffsetFromLocal, ICU >= 69).  A UCalendar
 * is not safe for concurrent use, so each handle guards its own with a mutex.
 *
 * Each handle also remembers the last "offset period" it looked up: the
 * interval [start, end) between two transitions, with its constant offset.
 * Most conversions of a cron job fall in the same period as the previous one,
 * and are then a subtraction instead of three ICU calls.
 */
#include "sched/tz.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <unicode/ucal.h>
#include <unicode/ustring.h>

/*
 * How far a local time can be from its instant, and how far a conversion
 * must stay from a transition to be unaffected by it: every offset in the tz
 * database lies within -15 h..+15 h (historical local mean times included),
 * so two instants that show the same wall time are less than 30 h apart.
 */
#define TZ_REACH_MS (30LL * 3600 * 1000)

/* Bound on transitions walked back by sched_tz_local_high(); real zones
 * have at most two or three within TZ_REACH_MS. */
#define TZ_WALK_MAX 16

struct sched_tz_s {
        char id[SCHED_TZ_ID_MAX + 1]; /* as opened, e.g. "US/Eastern" */
        int refcnt;                   /* @locks registry_lock */
        bool is_utc;                  /* the static UTC handle: no ICU */

        pthread_mutex_t lock; /* guards everything below */
        UCalendar *cal;
        bool have_period;     /* start/end/off below are set */
        int64_t start;        /* first instant of the period, INT64_MIN if
                               * no transition precedes it */
        int64_t end;          /* next transition, INT64_MAX if none */
        int32_t off;          /* total offset in [start, end), ms */
};

static sched_tz_t tz_utc = {.id = "UTC", .is_utc = true};

/* Open zones, by id as opened.  A linear scan: opens are rare, and there
 * are at most ~640 ids ICU accepts. */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static sched_tz_t *registry[SCHED_TZ_REGISTRY_MAX];
static size_t registry_cnt;

/* --- Open and close ------------------------------------------------------- */

/* Characters of tz database ids ("America/Port-au-Prince", "Etc/GMT+5"). */
static bool id_char_ok(char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
               (c >= '0' && c <= '9') || c == '/' || c == '_' || c == '-' ||
               c == '+';
}

static sched_tz_t *tz_create(const char *zone_id, const UChar *uid,
                             int32_t ulen, char *errstr, size_t errstr_size) {
        UErrorCode st = U_ZERO_ERROR;
        UChar got[SCHED_TZ_ID_MAX + 1];
        sched_tz_t *tz = calloc(1, sizeof(*tz));

        if (!tz) {
                sched_seterr(errstr, errstr_size, SCHED_ERR_NOMEM,
                             "out of memory opening time zone");
                return NULL;
        }
        tz->cal = ucal_open(uid, ulen, "en_US_POSIX", UCAL_GREGORIAN, &st);
        if (U_FAILURE(st) || !tz->cal) {
                sched_seterr(errstr, errstr_size, SCHED_ERR_INVALID,
                             "time zone '%s': ICU could not open it: %s",
                             zone_id, u_errorName(st));
                goto fail;
        }
        /* ICU falls back to "Etc/Unknown" (GMT) for ids it cannot load;
         * the canonical-id check in sched_tz_open() should have caught
         * those, so this is a belt-and-braces check. */
        int32_t n = ucal_getTimeZoneID(tz->cal, got, SCHED_TZ_ID_MAX + 1,
                                       &st);
        if (U_FAILURE(st) || n != ulen ||
            memcmp(got, uid, (size_t)ulen * sizeof(UChar)) != 0) {
                sched_seterr(errstr, errstr_size, SCHED_ERR_INVALID,
                             "unknown time zone '%s'", zone_id);
                goto fail;
        }
        strcpy(tz->id, zone_id); /* length checked by the caller */
        tz->refcnt = 1;
        pthread_mutex_init(&tz->lock, NULL);
        return tz;
fail:
        if (tz->cal)
                ucal_close(tz->cal);
        free(tz);
        return NULL;
}

sched_tz_t *sched_tz_open(const char *zone_id, char *errstr,
                          size_t errstr_size) {
        UChar uid[SCHED_TZ_ID_MAX + 1], canon[2 * SCHED_TZ_ID_MAX];
        UErrorCode st = U_ZERO_ERROR;
        UBool is_system = false;
        sched_tz_t *tz = NULL;
        size_t len, i;

        if (!zone_id) {
                sched_seterr(errstr, errstr_size, SCHED_ERR_INVALID,
                             "time zone id is NULL");
                return NULL;
        }
        len = strnlen(zone_id, SCHED_TZ_ID_MAX + 1);
        if (len > SCHED_TZ_ID_MAX) {
                sched_seterr(errstr, errstr_size, SCHED_ERR_TOO_BIG,
                             "time zone id is longer than %d bytes",
                             SCHED_TZ_ID_MAX);
                return NULL;
        }
        if (len == 0 || strcmp(zone_id, "UTC") == 0)
                return &tz_utc;
        for (i = 0; i < len; i++) {
                if (!id_char_ok(zone_id[i])) {
                        sched_seterr(errstr, errstr_size, SCHED_ERR_INVALID,
                                     "time zone id: invalid character at "
                                     "position %zu",
                                     i + 1);
                        return NULL;
                }
        }
        /* Invariant characters only (checked above), so no converter. */
        u_charsToUChars(zone_id, uid, (int32_t)len);
        uid[len] = 0;
        /* Known system ids (IANA zones and their links) only: an unknown
         * id fails here, and ICU's custom "GMT+05:30" ids are not system
         * ids. */
        ucal_getCanonicalTimeZoneID(uid, (int32_t)len, canon,
                                    (int32_t)(sizeof(canon) / sizeof(*canon)),
                                    &is_system, &st);
        if (U_FAILURE(st) || !is_system) {
                sched_seterr(errstr, errstr_size, SCHED_ERR_INVALID,
                             "unknown time zone '%s' (expected an IANA id "
                             "such as Europe/Berlin)",
                             zone_id);
                return NULL;
        }

        pthread_mutex_lock(&registry_lock);
        for (i = 0; i < registry_cnt; i++) {
                if (strcmp(registry[i]->id, zone_id) == 0) {
                        tz = registry[i];
                        tz->refcnt++;
                        break;
                }
        }
        if (!tz) {
                if (registry_cnt == SCHED_TZ_REGISTRY_MAX) {
                        sched_seterr(errstr, errstr_size, SCHED_ERR_TOO_BIG,
                                     "more than %d time zones open",
                                     SCHED_TZ_REGISTRY_MAX);
                } else {
                        tz = tz_create(zone_id, uid, (int32_t)len, errstr,
                                       errstr_size);
                        if (tz)
                                registry[registry_cnt++] = tz;
                }
        }
        pthread_mutex_unlock(&registry_lock);
        return tz;
}

void sched_tz_close(sched_tz_t *tz) {
        bool last = false;
        size_t i;

        if (!tz || tz->is_utc)
                return;
        pthread_mutex_lock(&registry_lock);
        if (--tz->refcnt == 0) {
                for (i = 0; i < registry_cnt; i++) {
                        if (registry[i] == tz) {
                                registry[i] = registry[--registry_cnt];
                                break;
                        }
                }
                last = true;
        }
        pthread_mutex_unlock(&registry_lock);
        if (last) {
                ucal_close(tz->cal);
                pthread_mutex_destroy(&tz->lock);
                free(tz);
        }
}

const sched_tz_t *sched_tz_utc(void) {
        return &tz_utc;
}

const char *sched_tz_id(const sched_tz_t *tz) {
        return tz ? tz->id : tz_utc.id;
}

const char *sched_tz_data_version(void) {
        UErrorCode st = U_ZERO_ERROR;
        const char *v = ucal_getTZDataVersion(&st);
        return U_FAILURE(st) || !v ? "unknown" : v;
}

/* --- ICU lookups (tz->lock held) ----------------------------------------- */

/* Make the cached period the one that contains instant t. */
static sched_err_t period_at(sched_tz_t *tz, int64_t t) {
        UErrorCode st = U_ZERO_ERROR;
        UDate when;
        int32_t zone, dst;

        if (tz->have_period && t >= tz->start && t < tz->end)
                return SCHED_ERR_OK;
        ucal_setMillis(tz->cal, (UDate)t, &st);
        zone = ucal_get(tz->cal, UCAL_ZONE_OFFSET, &st);
        dst = ucal_get(tz->cal, UCAL_DST_OFFSET, &st);
        if (U_FAILURE(st))
                return SCHED_ERR_INVALID;
        tz->off = zone + dst;
        tz->start = ucal_getTimeZoneTransitionDate(
                            tz->cal, UCAL_TZ_TRANSITION_PREVIOUS_INCLUSIVE,
                            &when, &st)
                            ? (int64_t)when
                            : INT64_MIN;
        tz->end = ucal_getTimeZoneTransitionDate(
                          tz->cal, UCAL_TZ_TRANSITION_NEXT, &when, &st)
                          ? (int64_t)when
                          : INT64_MAX;
        if (U_FAILURE(st) || tz->start > t || tz->end <= t) {
                tz->have_period = false;
                return SCHED_ERR_INVALID;
        }
        tz->have_period = true;
        return SCHED_ERR_OK;
}

/* Offset ICU picks for local time w: FORMER = the offset before a
 * transition, LATTER = after it (for skipped and repeated times alike). */
static sched_err_t offset_from_local(sched_tz_t *tz, int64_t w,
                                     UTimeZoneLocalOption opt, int32_t *off) {
        UErrorCode st = U_ZERO_ERROR;
        int32_t raw, dst;

        ucal_setMillis(tz->cal, (UDate)w, &st);
        ucal_getTimeZoneOffsetFromLocal(tz->cal, opt, opt, &raw, &dst, &st);
        if (U_FAILURE(st))
                return SCHED_ERR_INVALID;
        *off = raw + dst;
        return SCHED_ERR_OK;
}

/* True if instant t lies in the cached period, at least TZ_REACH_MS away
 * from both of its transitions. */
static bool deep_in_period(const sched_tz_t *tz, int64_t t) {
        return tz->have_period && t >= tz->start && t < tz->end &&
               (tz->start == INT64_MIN || t - tz->start >= TZ_REACH_MS) &&
               (tz->end == INT64_MAX || tz->end - t > TZ_REACH_MS);
}

static sched_err_t local_to_utc_locked(sched_tz_t *tz, int64_t w,
                                       int64_t *utc_ms,
                                       sched_tz_local_t *kind) {
        int32_t off_former, off_latter;
        int64_t t_former, t_latter;
        sched_err_t err;

        /* Fast path: the period w - off falls in is the one we know, and
         * no transition is near enough for another instant to show w. */
        if (!tz->have_period ||
            !(w - tz->off >= tz->start && w - tz->off < tz->end)) {
                if ((err = period_at(tz, w - (tz->have_period ? tz->off : 0))))
                        return err;
        }
        if (deep_in_period(tz, w - tz->off)) {
                *utc_ms = w - tz->off;
                *kind = SCHED_TZ_LOCAL_UNIQUE;
                return SCHED_ERR_OK;
        }

        /* Near a transition: ask ICU for both readings and check them. */
        if ((err = offset_from_local(tz, w, UCAL_TZ_LOCAL_FORMER,
                                     &off_former)) ||
            (err = offset_from_local(tz, w, UCAL_TZ_LOCAL_LATTER,
                                     &off_latter)))
                return err;
        t_former = w - off_former;
        t_latter = w - off_latter;
        if ((err = period_at(tz, t_former)))
                return err;
        if (tz->off == off_former) {
                /* w is shown at t_former: the first (or only) time. */
                *utc_ms = t_former;
                *kind = SCHED_TZ_LOCAL_UNIQUE;
                if (t_latter != t_former) {
                        if ((err = period_at(tz, t_latter)))
                                return err;
                        if (tz->off == off_latter)
                                *kind = SCHED_TZ_LOCAL_REPEATED;
                }
                return SCHED_ERR_OK;
        }
        /* Skipped: t_latter (w read with the offset after the jump) lies
         * before the jump, so the period holding it ends at the jump, and
         * its end is the first instant past the gap. */
        if ((err = period_at(tz, t_latter)))
                return err;
        if (tz->end == INT64_MAX || tz->end - 1 + tz->off >= w)
                return SCHED_ERR_INVALID; /* zone rules make no sense */
        *utc_ms = tz->end;
        *kind = SCHED_TZ_LOCAL_SKIPPED;
        return SCHED_ERR_OK;
}

/* --- Public conversions --------------------------------------------------- */

static bool instant_ok(int64_t t) {
        return t >= SCHED_TZ_MIN_MS && t <= SCHED_TZ_MAX_MS;
}

/* Handles are logically const: the lock and cache are the only state that
 * changes, under the lock.  The objects themselves are never const. */
static sched_tz_t *mut(const sched_tz_t *tz) {
        return (sched_tz_t *)tz;
}

sched_err_t sched_tz_offset(const sched_tz_t *ctz, int64_t utc_ms,
                            int32_t *offset_ms) {
        sched_tz_t *tz = mut(ctz);
        sched_err_t err;

        if (!instant_ok(utc_ms))
                return SCHED_ERR_INVALID;
        if (!tz || tz->is_utc) {
                *offset_ms = 0;
                return SCHED_ERR_OK;
        }
        pthread_mutex_lock(&tz->lock);
        err = period_at(tz, utc_ms);
        *offset_ms = tz->off;
        pthread_mutex_unlock(&tz->lock);
        return err;
}

sched_err_t sched_tz_utc_to_local(const sched_tz_t *tz, int64_t utc_ms,
                                  int64_t *local_ms) {
        int32_t off;
        sched_err_t err = sched_tz_offset(tz, utc_ms, &off);

        if (err)
                return err;
        *local_ms = utc_ms + off;
        return SCHED_ERR_OK;
}

sched_err_t sched_tz_local_to_utc(const sched_tz_t *ctz, int64_t local_ms,
                                  int64_t *utc_ms, sched_tz_local_t *kind) {
        sched_tz_t *tz = mut(ctz);
        sched_tz_local_t k = SCHED_TZ_LOCAL_UNIQUE;
        sched_err_t err;

        if (!instant_ok(local_ms))
                return SCHED_ERR_INVALID;
        if (!tz || tz->is_utc) {
                *utc_ms = local_ms;
        } else {
                pthread_mutex_lock(&tz->lock);
                err = local_to_utc_locked(tz, local_ms, utc_ms, &k);
                pthread_mutex_unlock(&tz->lock);
                if (err)
                        return err;
        }
        if (kind)
                *kind = k;
        return SCHED_ERR_OK;
}

sched_err_t sched_tz_local_high(const sched_tz_t *ctz, int64_t utc_ms,
                                int64_t *local_ms) {
        sched_tz_t *tz = mut(ctz);
        sched_err_t err;
        int64_t high, start;
        int i;

        if (!instant_ok(utc_ms))
                return SCHED_ERR_INVALID;
        if (!tz || tz->is_utc) {
                *local_ms = utc_ms;
                return SCHED_ERR_OK;
        }
        pthread_mutex_lock(&tz->lock);
        if ((err = period_at(tz, utc_ms)))
                goto out;
        high = utc_ms + tz->off;
        /* Walk back over the transitions of the last TZ_REACH_MS: just
         * before each, the clock read start - 1 + (offset before it), which
         * is above `high` if the clocks went back since.  Earlier instants
         * read less than utc_ms - TZ_REACH_MS + 15 h, below `high`. */
        start = tz->start;
        for (i = 0; i < TZ_WALK_MAX && start != INT64_MIN &&
                    start > utc_ms - TZ_REACH_MS;
             i++) {
                if ((err = period_at(tz, start - 1)))
                        goto out;
                if (start - 1 + tz->off > high)
                        high = start - 1 + tz->off;
                start = tz->start;
        }
        *local_ms = high;
out:
        pthread_mutex_unlock(&tz->lock);
        return err;
}

sched_err_t sched_tz_next_transition(const sched_tz_t *ctz, int64_t utc_ms,
                                     int64_t *transition_ms) {
        sched_tz_t *tz = mut(ctz);
        sched_err_t err;

        if (!instant_ok(utc_ms))
                return SCHED_ERR_INVALID;
        if (!tz || tz->is_utc)
                return SCHED_ERR_NOT_FOUND;
        pthread_mutex_lock(&tz->lock);
        err = period_at(tz, utc_ms);
        if (!err && tz->end == INT64_MAX)
                err = SCHED_ERR_NOT_FOUND;
        if (!err)
                *transition_ms = tz->end;
        pthread_mutex_unlock(&tz->lock);
        return err;
}
