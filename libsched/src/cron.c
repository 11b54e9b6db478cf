/*
 * cron.c — cron expression parser and next-fire-time search (sched/cron.h).
 *
 * Parsing turns each field into a bitset.  The search works on the local
 * wall clock, field by field from the month down (sched_cron_next_local),
 * and the zone enters only twice per call: once to find the wall time to
 * start from, once to turn the match back into an instant (sched/tz.h).
 * That split is what makes the DST policy exact — see sched_cron_next().
 */
#include "sched/cron.h"

#include "sched/time.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sched/event.h"

_Static_assert(SCHED_CRON_EXPR_MAX == SCHED_CRON_MAX - 1,
               "cron length limit must match the event field");

/* --- Fields --------------------------------------------------------------- */

enum { F_SEC, F_MIN, F_HOUR, F_DOM, F_MONTH, F_DOW, F__CNT };

typedef struct field_s {
        const char *name;
        int min, max;
        const char *const *names; /* 3-letter names of min..., or NULL */
        int nnames;
} field_t;

static const char *const month_names[] = {"JAN", "FEB", "MAR", "APR",
                                          "MAY", "JUN", "JUL", "AUG",
                                          "SEP", "OCT", "NOV", "DEC"};
static const char *const dow_names[] = {"SUN", "MON", "TUE", "WED",
                                        "THU", "FRI", "SAT"};

static const field_t fields[F__CNT] = {
        [F_SEC] = {"second", 0, 59, NULL, 0},
        [F_MIN] = {"minute", 0, 59, NULL, 0},
        [F_HOUR] = {"hour", 0, 23, NULL, 0},
        [F_DOM] = {"dom", 1, 31, NULL, 0},
        [F_MONTH] = {"month", 1, 12, month_names, 12},
        [F_DOW] = {"dow", 0, 7, dow_names, 7},
};

static const struct {
        const char *name;
        const char *expr; /* NULL: recognised but refused */
} macros[] = {
        {"@yearly", "0 0 1 1 *"},  {"@annually", "0 0 1 1 *"},
        {"@monthly", "0 0 1 * *"}, {"@weekly", "0 0 * * 0"},
        {"@daily", "0 0 * * *"},   {"@midnight", "0 0 * * *"},
        {"@hourly", "0 * * * *"},  {"@reboot", NULL},
};

/* Numbers longer than this many digits are refused outright. */
#define NUM_DIGITS_MAX 5

/* --- Parser --------------------------------------------------------------- */

typedef struct pctx_s {
        const char *expr; /* the whole expression, for positions */
        char *errstr;
        size_t errstr_size;
} pctx_t;

static bool is_space(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
               c == '\f';
}

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

static bool is_alpha(char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static char upper(char c) {
        return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

/* "field 'hour': <message> (position N)", N 1-based. */
__attribute__((format(printf, 4, 5))) static sched_err_t
perr(const pctx_t *pc, const field_t *f, const char *at, const char *fmt,
     ...) {
        char msg[160];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        return sched_seterr(pc->errstr, pc->errstr_size, SCHED_ERR_INVALID,
                            "field '%s': %s (position %zu)", f->name, msg,
                            (size_t)(at - pc->expr) + 1);
}

/* Error for an unexpected byte, shown readably whatever it is. */
static sched_err_t perr_char(const pctx_t *pc, const field_t *f,
                             const char *at) {
        unsigned char c = (unsigned char)*at;
        if (c >= 0x21 && c <= 0x7e)
                return perr(pc, f, at, "unexpected '%c'", c);
        return perr(pc, f, at, "unexpected byte 0x%02x", c);
}

/* Read a decimal number of at most NUM_DIGITS_MAX digits at *pp. */
static sched_err_t parse_number(const pctx_t *pc, const field_t *f,
                                const char **pp, const char *e, int *out) {
        const char *p = *pp;
        int v = 0, n = 0;

        for (; p < e && is_digit(*p); p++, n++) {
                if (n == NUM_DIGITS_MAX)
                        return perr(pc, f, *pp, "number '%.*s...' is too long",
                                    NUM_DIGITS_MAX, *pp);
                v = v * 10 + (*p - '0');
        }
        *pp = p;
        *out = v;
        return SCHED_ERR_OK;
}

/* Read one value (a number or, in month and dow, a name) and check that it
 * lies in the field's range. */
static sched_err_t parse_value(const pctx_t *pc, const field_t *f,
                               const char **pp, const char *e, int *out) {
        const char *start = *pp, *p = *pp;
        sched_err_t err;
        int i;

        if (p == e)
                return perr(pc, f, p, "value missing");
        if (is_digit(*p)) {
                if ((err = parse_number(pc, f, pp, e, out)))
                        return err;
                if (*out < f->min || *out > f->max)
                        return perr(pc, f, start, "%d is out of range %d-%d",
                                    *out, f->min, f->max);
                return SCHED_ERR_OK;
        }
        if (!is_alpha(*p))
                return perr_char(pc, f, p);
        while (p < e && is_alpha(*p))
                p++;
        if (!f->names)
                return perr(pc, f, start, "names like '%.*s' are not allowed "
                            "here",
                            (int)(p - start > 16 ? 16 : p - start), start);
        for (i = 0; p - start == 3 && i < f->nnames; i++) {
                if (upper(start[0]) == f->names[i][0] &&
                    upper(start[1]) == f->names[i][1] &&
                    upper(start[2]) == f->names[i][2]) {
                        *out = f->min + i;
                        *pp = p;
                        return SCHED_ERR_OK;
                }
        }
        return perr(pc, f, start, "unknown name '%.*s'",
                    (int)(p - start > 16 ? 16 : p - start), start);
}

/*
 * One field: a ','-separated list of items
 *   '*' ['/' step] | '?' | value ['-' value] ['/' step]
 * set into *bits (bit n = value n).
 */
static sched_err_t parse_field(const pctx_t *pc, const field_t *f,
                               const char *s, const char *e, uint64_t *bits) {
        const char *p = s;
        sched_err_t err;
        int lo, hi, step, v;

        *bits = 0;
        for (;;) {
                bool single = false;

                if (p == e || *p == ',')
                        return perr(pc, f, p, "empty list item");
                if (*p == '*') {
                        lo = f->min;
                        hi = f->max;
                        p++;
                } else if (*p == '?') {
                        if (f != &fields[F_DOM] && f != &fields[F_DOW])
                                return perr(pc, f, p, "'?' is only allowed in "
                                            "dom and dow");
                        lo = f->min;
                        hi = f->max;
                        p++;
                        if (p < e && *p == '/')
                                return perr(pc, f, p, "'?' takes no step");
                } else {
                        if ((err = parse_value(pc, f, &p, e, &lo)))
                                return err;
                        hi = lo;
                        single = true;
                        if (p < e && *p == '-') {
                                const char *hi_at = ++p;
                                if ((err = parse_value(pc, f, &p, e, &hi)))
                                        return err;
                                single = false;
                                /* FRI-SUN, 5-0: a weekday range may end on
                                 * Sunday written as 0. */
                                if (f == &fields[F_DOW] && hi == 0 && lo > 0)
                                        hi = 7;
                                if (lo > hi)
                                        return perr(pc, f, hi_at,
                                                    "range %d-%d ends before "
                                                    "it starts",
                                                    lo, hi);
                        }
                }
                step = 1;
                if (p < e && *p == '/') {
                        const char *step_at = ++p;
                        if (p == e || !is_digit(*p))
                                return p == e || *p == ','
                                               ? perr(pc, f, p,
                                                      "step value missing")
                                               : perr_char(pc, f, p);
                        if ((err = parse_number(pc, f, &p, e, &step)))
                                return err;
                        if (step < 1)
                                return perr(pc, f, step_at,
                                            "step must be >= 1");
                        if (single) /* 'a/n' = 'a-max/n' */
                                hi = f->max;
                }
                for (v = lo; v <= hi; v += step)
                        *bits |= 1ULL << v;
                if (p == e)
                        return SCHED_ERR_OK;
                if (*p != ',')
                        return perr_char(pc, f, p);
                p++;
        }
}

static sched_err_t parse_macro(const char *expr, const char *s, size_t n,
                               const char *rest, sched_cron_t *out,
                               char *errstr, size_t errstr_size) {
        size_t i, k;

        for (i = 0; i < sizeof(macros) / sizeof(macros[0]); i++) {
                const char *name = macros[i].name;
                if (strlen(name) != n)
                        continue;
                for (k = 0; k < n && upper(s[k]) == upper(name[k]); k++)
                        ;
                if (k == n)
                        break;
        }
        if (i == sizeof(macros) / sizeof(macros[0]))
                return sched_seterr(errstr, errstr_size, SCHED_ERR_INVALID,
                                    "unknown macro '%.*s' (position %zu)",
                                    (int)(n > 16 ? 16 : n), s,
                                    (size_t)(s - expr) + 1);
        if (!macros[i].expr)
                return sched_seterr(errstr, errstr_size, SCHED_ERR_INVALID,
                                    "%s is not supported: a klok job has no "
                                    "boot to run at",
                                    macros[i].name);
        for (; *rest; rest++) {
                if (!is_space(*rest))
                        return sched_seterr(
                                errstr, errstr_size, SCHED_ERR_INVALID,
                                "%s must stand alone (position %zu)",
                                macros[i].name, (size_t)(rest - expr) + 1);
        }
        return sched_cron_parse(macros[i].expr, out, errstr, errstr_size);
}

sched_err_t sched_cron_parse(const char *expr, sched_cron_t *out,
                             char *errstr, size_t errstr_size) {
        const char *tok[F__CNT + 1], *tok_end[F__CNT + 1], *p;
        pctx_t pc = {expr, errstr, errstr_size};
        uint64_t bits[F__CNT];
        size_t len;
        int ntok = 0, first, i;
        sched_err_t err;

        if (!expr)
                return sched_seterr(errstr, errstr_size, SCHED_ERR_INVALID,
                                    "cron expression is NULL");
        len = strnlen(expr, SCHED_CRON_EXPR_MAX + 1);
        if (len > SCHED_CRON_EXPR_MAX)
                return sched_seterr(errstr, errstr_size, SCHED_ERR_TOO_BIG,
                                    "cron expression is longer than %d bytes",
                                    SCHED_CRON_EXPR_MAX);

        /* Split on whitespace, counting one token past the most we use. */
        for (p = expr; *p;) {
                const char *s;
                while (is_space(*p))
                        p++;
                if (!*p)
                        break;
                for (s = p; *p && !is_space(*p); p++)
                        ;
                if (ntok <= F__CNT) {
                        tok[ntok] = s;
                        tok_end[ntok] = p;
                }
                ntok++;
                if (ntok == 1 && *s == '@')
                        return parse_macro(expr, s, (size_t)(p - s), p, out,
                                           errstr, errstr_size);
        }
        if (ntok == 0)
                return sched_seterr(errstr, errstr_size, SCHED_ERR_INVALID,
                                    "cron expression is empty");
        if (ntok != 5 && ntok != 6)
                return sched_seterr(errstr, errstr_size, SCHED_ERR_INVALID,
                                    "expected 5 fields (minute hour dom month "
                                    "dow) or 6 (second first), got %d",
                                    ntok);

        /* Five fields have no seconds: they fire at second 0. */
        first = ntok == 6 ? F_SEC : F_MIN;
        bits[F_SEC] = 1;
        for (i = first; i < F__CNT; i++) {
                const char *s = tok[i - first], *e = tok_end[i - first];
                if ((err = parse_field(&pc, &fields[i], s, e, &bits[i])))
                        return err;
        }

        memset(out, 0, sizeof(*out));
        out->sec = bits[F_SEC];
        out->min = bits[F_MIN];
        out->hour = (uint32_t)bits[F_HOUR];
        out->dom = (uint32_t)bits[F_DOM];
        out->month = (uint16_t)bits[F_MONTH];
        /* Weekday 7 is Sunday again. */
        out->dow = (uint8_t)((bits[F_DOW] | bits[F_DOW] >> 7) & 0x7f);
        if (ntok == 6)
                out->flags |= SCHED_CRON_F_SECONDS;
        if (*tok[F_DOM - first] == '*' || *tok[F_DOM - first] == '?')
                out->flags |= SCHED_CRON_F_DOM_STAR;
        if (*tok[F_DOW - first] == '*' || *tok[F_DOW - first] == '?')
                out->flags |= SCHED_CRON_F_DOW_STAR;
        return SCHED_ERR_OK;
}

/* --- Civil calendar -------------------------------------------------------- */

static int64_t floor_div(int64_t a, int64_t b) {
        int64_t q = a / b;
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int days_in_month(int64_t y, int m) {
        static const int mdays[13] = {0,  31, 28, 31, 30, 31, 30,
                                      31, 31, 30, 31, 30, 31};
        bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        return mdays[m] + (m == 2 && leap);
}

/* --- Search --------------------------------------------------------------- */

/* Lowest set bit of mask at index >= from, or -1. */
static int next_bit(uint64_t mask, int from) {
        if (from >= 64)
                return -1;
        mask &= ~0ULL << from;
        return mask ? __builtin_ctzll(mask) : -1;
}

/* Days of month m of year y that match (bit d = day d), with crontab(5)'s
 * rule: OR when both day fields are restricted, AND otherwise. */
static uint64_t day_mask(const sched_cron_t *cron, int64_t y, int m) {
        uint64_t valid = (1ULL << (days_in_month(y, m) + 1)) - 2;
        int64_t d1 = sched_days_from_civil(y, m, 1);
        int wd1 = (int)((d1 % 7 + 7 + 4) % 7); /* 1970-01-01 was a Thursday */
        /* Bit k of rot: weekday of day k+1 matches. */
        uint64_t rot = ((uint64_t)cron->dow >> wd1 |
                        (uint64_t)cron->dow << (7 - wd1)) &
                       0x7f;
        uint64_t by_dow;

        rot |= rot << 7;
        rot |= rot << 14;
        rot |= rot << 28; /* 8 weeks, enough for 31 days */
        by_dow = rot << 1;
        if (!(cron->flags & (SCHED_CRON_F_DOM_STAR | SCHED_CRON_F_DOW_STAR)))
                return ((uint64_t)cron->dom | by_dow) & valid;
        return (uint64_t)cron->dom & by_dow & valid;
}

/* How far the search looks ahead: one whole Gregorian cycle, after which
 * dates and weekdays repeat, so nothing found means never. */
#define SEARCH_YEARS 400
#define LAST_YEAR 9999

bool sched_cron_next_local(const sched_cron_t *cron, int64_t local_s,
                           int64_t *match_s) {
        int64_t days = floor_div(local_s, 86400), y, y_last;
        int64_t sod = local_s - days * 86400;
        int mo, d, h, mi, s, n;

        /* Far outside years 1..9999 the arithmetic below could overflow. */
        if (local_s < SCHED_TZ_MIN_MS / 1000 - 2 * 86400 ||
            local_s > SCHED_TZ_MAX_MS / 1000)
                return false;
        sched_civil_from_days(days, &y, &mo, &d);
        h = (int)(sod / 3600);
        mi = (int)(sod / 60 % 60);
        s = (int)(sod % 60);
        y_last = y + SEARCH_YEARS > LAST_YEAR ? LAST_YEAR : y + SEARCH_YEARS;

        /* Each pass either returns or moves (y, mo, d, h, mi, s) forward,
         * resetting the smaller fields; a non-matching month or day is
         * skipped in one step. */
        for (;;) {
                if (y > y_last)
                        return false;
                if (!(cron->month >> mo & 1)) {
                        n = next_bit(cron->month, mo + 1);
                        if (n < 0) {
                                y++;
                                n = next_bit(cron->month, 1);
                        }
                        mo = n;
                        d = 1;
                        h = mi = s = 0;
                        continue;
                }
                n = next_bit(day_mask(cron, y, mo), d);
                if (n < 0) {
                        if (++mo > 12) {
                                mo = 1;
                                y++;
                        }
                        d = 1;
                        h = mi = s = 0;
                        continue;
                }
                if (n != d) {
                        d = n;
                        h = mi = s = 0;
                }
                n = next_bit(cron->hour, h);
                if (n < 0) {
                        d++;
                        h = mi = s = 0;
                        continue;
                }
                if (n != h) {
                        h = n;
                        mi = s = 0;
                }
                n = next_bit(cron->min, mi);
                if (n < 0) {
                        h++;
                        mi = s = 0;
                        continue;
                }
                if (n != mi) {
                        mi = n;
                        s = 0;
                }
                n = next_bit(cron->sec, s);
                if (n < 0) {
                        mi++;
                        s = 0;
                        continue;
                }
                *match_s = sched_days_from_civil(y, mo, d) * 86400 + h * 3600 +
                           mi * 60 + n;
                return true;
        }
}

/*
 * Why this is exact, DST included.  Let fire(w) be the instant a matching
 * wall time w fires at: its only or first instant, or the end of the gap
 * that swallowed it (sched_tz_local_to_utc).  fire() never decreases as w
 * grows.  So the first fire after `after_ms` belongs to the first matching
 * wall time after the highest wall time the clock has shown by after_ms
 * (sched_tz_local_high): every wall time up to that mark has fired, or been
 * covered by a gap that already ended; every one past it is still to come.
 * Past a gap, the next call starts above the gap's end, so a gap fires once.
 */
sched_err_t sched_cron_next(const sched_cron_t *cron, const sched_tz_t *tz,
                            int64_t after_ms, int64_t *next_ms) {
        int64_t high_ms, match_s, t;
        sched_err_t err;

        if (after_ms < SCHED_TZ_MIN_MS || after_ms > SCHED_TZ_MAX_MS)
                return SCHED_ERR_INVALID;
        if ((err = sched_tz_local_high(tz, after_ms, &high_ms)))
                return err;
        if (!sched_cron_next_local(cron, floor_div(high_ms, 1000) + 1,
                                   &match_s))
                return SCHED_ERR_NOT_FOUND;
        if ((err = sched_tz_local_to_utc(tz, match_s * 1000, &t, NULL)))
                return err;
        if (t <= after_ms) /* only if the zone rules contradict themselves */
                return SCHED_ERR_INVALID;
        *next_ms = t;
        return SCHED_ERR_OK;
}
