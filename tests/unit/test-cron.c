/*
 * test-cron.c — cron expressions (sched/cron.h) and time zones (sched/tz.h).
 *
 * Checks:
 *  - parsing: the compiled bitsets of valid expressions, macros, names,
 *    '?', weekday 7 and FRI-SUN; every error names the field and position;
 *  - crontab(5)'s day rule (OR when both day fields are restricted);
 *  - zones: unknown ids refused, aliases, shared handles, offsets (LMT's
 *    odd seconds included), skipped / repeated / unique local times, the
 *    high-water mark during a repeated hour;
 *  - the DST policy by hand, in four zones (Europe/Berlin, America/New_York,
 *    Australia/Lord_Howe with its 30-minute shift, America/Santiago whose
 *    clocks change at midnight), spring gap and autumn overlap, each with an
 *    hourly, a daily-at-the-changing-time and an every-10-minutes schedule;
 *    expected instants derived in the comments from the zone rules;
 *  - odd transitions by hand: a skipped day (Pacific/Apia 2011), a repeated
 *    day (America/Sitka 1867), 15 minutes (Asia/Kathmandu 1986), two hours
 *    (Antarctica/Troll);
 *  - the same policy by brute force: random schedules around every 2026
 *    transition of those zones, the odd ones, and random transitions of
 *    every zone ICU knows, against a second-by-second walk of the wall
 *    clock ("fire when the clock first reaches or jumps past a matching
 *    time"), plus every local minute near those transitions through
 *    sched_tz_local_to_utc();
 *  - python3-croniter as the oracle (tests/oracle/cron_oracle.py, run with
 *    /usr/bin/python3): >= 5,000 random expressions in five zones, away from
 *    DST changes (see the script for how that is made honest);
 *  - "never fires" schedules end quickly; limits of the searched range;
 *  - threads sharing zone handles;
 *  - 100,000 random and mutated strings through the parser (and next() for
 *    those that parse) — run it in the ASan build too;
 *  - and it prints parse and next() rates.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <unicode/ucal.h>
#include <unicode/uenum.h>

#include "sched/cron.h"
#include "sched/time.h"
#include "sched/tz.h"

#define ORACLE_PY "/usr/bin/python3"
#define ORACLE_SCRIPT KLOK_SOURCE_DIR "/tests/oracle/cron_oracle.py"

#define HOUR_MS (3600 * 1000LL)

static char errstr[512];

/* --- Helpers -------------------------------------------------------------- */

static uint64_t rng_state = 0x6b6c6f6b2d63726fULL; /* "klok-cro" */

static uint64_t rnd(void) { /* xorshift64* */
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        return rng_state * 0x2545F4914F6CDD1Dull;
}

static int rnd_in(int lo, int hi) {
        return lo + (int)(rnd() % (uint64_t)(hi - lo + 1));
}

static int64_t iso(const char *s) {
        int64_t ms;
        if (sched_time_parse(s, &ms) != SCHED_ERR_OK)
                fail_msg("bad instant in test: %s", s);
        return ms;
}

static const char *fmt_ms(int64_t ms, char buf[SCHED_ISO_MAX]) {
        sched_time_format(ms, buf);
        return buf;
}

static sched_cron_t parse_ok(const char *expr) {
        sched_cron_t c;
        sched_err_t err = sched_cron_parse(expr, &c, errstr, sizeof(errstr));
        if (err)
                fail_msg("parse '%s': %s: %s", expr, sched_err2name(err),
                         errstr);
        return c;
}

static sched_tz_t *tz_ok(const char *zone) {
        sched_tz_t *tz = sched_tz_open(zone, errstr, sizeof(errstr));
        if (!tz)
                fail_msg("open zone '%s': %s", zone, errstr);
        return tz;
}

/*
 * Fire instants after `from`, each computed from the previous, must be
 * exactly want[] (ISO 8601 UTC).  Prints both lists on a mismatch.
 */
static void expect_fires(const char *expr, const char *zone, const char *from,
                         const char *const *want, size_t n) {
        sched_cron_t c = parse_ok(expr);
        sched_tz_t *tz = tz_ok(zone);
        int64_t t = iso(from), got[16];
        char a[SCHED_ISO_MAX], b[SCHED_ISO_MAX];
        bool bad = false;
        size_t i;

        assert_true(n <= 16);
        for (i = 0; i < n; i++) {
                sched_err_t err = sched_cron_next(&c, tz, t, &got[i]);
                if (err)
                        fail_msg("'%s' in %s after %s: %s", expr, zone,
                                 fmt_ms(t, a), sched_err2name(err));
                bad |= got[i] != iso(want[i]);
                t = got[i];
        }
        if (bad) {
                print_error("'%s' in %s from %s:\n", expr, zone, from);
                for (i = 0; i < n; i++)
                        print_error("  want %s  got %s%s\n",
                                    fmt_ms(iso(want[i]), a),
                                    fmt_ms(got[i], b),
                                    got[i] != iso(want[i]) ? "  <--" : "");
                fail();
        }
        sched_tz_close(tz);
}

#define EXPECT_FIRES(expr, zone, from, ...)                                   \
        do {                                                                  \
                static const char *const want_[] = {__VA_ARGS__};             \
                expect_fires(expr, zone, from, want_,                         \
                             sizeof(want_) / sizeof(want_[0]));               \
        } while (0)

/* --- Parsing -------------------------------------------------------------- */

static uint64_t bits(int lo, int hi, int step) {
        uint64_t b = 0;
        for (int v = lo; v <= hi; v += step)
                b |= 1ULL << v;
        return b;
}

static void test_parse_valid(void **state) {
        sched_cron_t c, d;

        c = parse_ok("*/15 0-6/2,22 1,15 JAN-mar,oct mon-FRI");
        assert_int_equal(c.sec, 1);
        assert_int_equal(c.min, bits(0, 59, 15));
        assert_int_equal(c.hour, bits(0, 6, 2) | bits(22, 22, 1));
        assert_int_equal(c.dom, bits(1, 1, 1) | bits(15, 15, 1));
        assert_int_equal(c.month, bits(1, 3, 1) | bits(10, 10, 1));
        assert_int_equal(c.dow, bits(1, 5, 1));
        assert_int_equal(c.flags, 0);

        /* Seconds first; 'a/n' runs to the field's maximum. */
        c = parse_ok("30/10 5 4 * * *");
        assert_int_equal(c.sec, bits(30, 59, 10));
        assert_int_equal(c.min, bits(5, 5, 1));
        assert_int_equal(c.hour, bits(4, 4, 1));
        assert_int_equal(c.dom, bits(1, 31, 1));
        assert_int_equal(c.month, bits(1, 12, 1));
        assert_int_equal(c.dow, 0x7f);
        assert_int_equal(c.flags, SCHED_CRON_F_SECONDS |
                                          SCHED_CRON_F_DOM_STAR |
                                          SCHED_CRON_F_DOW_STAR);

        /* Weekday 7 is Sunday; ranges may end on Sunday as 0 or SUN. */
        assert_int_equal(parse_ok("0 0 * * 7").dow, 1);
        assert_int_equal(parse_ok("0 0 * * 0,7").dow, 1);
        assert_int_equal(parse_ok("0 0 * * FRI-SUN").dow, 0x61);
        assert_int_equal(parse_ok("0 0 * * 5-0").dow, 0x61);
        assert_int_equal(parse_ok("0 0 * * 5-7").dow, 0x61);
        assert_int_equal(parse_ok("0 0 * * */2").dow, 0x55); /* 0,2,4,6 */
        assert_int_equal(parse_ok("0 0 * * 1/2").dow, 0x2b); /* 1,3,5,7=0 */
        assert_int_equal(parse_ok("0 0 * * sun-sat").dow, 0x7f);

        /* '?' is '*' in the day fields, and counts as unrestricted. */
        c = parse_ok("0 12 ? * MON");
        assert_int_equal(c.dom, bits(1, 31, 1));
        assert_int_equal(c.flags, SCHED_CRON_F_DOM_STAR);
        c = parse_ok("0 12 */2 * ?");
        assert_int_equal(c.dom, bits(1, 31, 2));
        assert_int_equal(c.flags,
                         SCHED_CRON_F_DOM_STAR | SCHED_CRON_F_DOW_STAR);

        /* Steps larger than the range keep the start only; lists merge. */
        assert_int_equal(parse_ok("*/100 * * * *").min, 1);
        assert_int_equal(parse_ok("1,1,1-1 * * * *").min, 2);

        /* Whitespace of any kind and amount around and between fields. */
        c = parse_ok("  0\t0  * *\t* \n");
        d = parse_ok("0 0 * * *");
        assert_memory_equal(&c, &d, sizeof(c));

        /* Macros, in any case, equal their expansions. */
        static const char *const macros[][2] = {
                {"@yearly", "0 0 1 1 *"},  {"@ANNUALLY", "0 0 1 1 *"},
                {"@monthly", "0 0 1 * *"}, {"@weekly", "0 0 * * 0"},
                {"@Daily", "0 0 * * *"},   {"@midnight", "0 0 * * *"},
                {"@hourly", "0 * * * *"},  {" @daily ", "0 0 * * *"},
        };
        for (size_t i = 0; i < sizeof(macros) / sizeof(macros[0]); i++) {
                c = parse_ok(macros[i][0]);
                d = parse_ok(macros[i][1]);
                assert_memory_equal(&c, &d, sizeof(c));
        }

        /* The longest accepted expression. */
        char longest[SCHED_CRON_EXPR_MAX + 1];
        memset(longest, ' ', SCHED_CRON_EXPR_MAX);
        memcpy(longest, "0 0 * * *", 9);
        longest[SCHED_CRON_EXPR_MAX] = '\0';
        parse_ok(longest);
        (void)state;
}

static void test_parse_errors(void **state) {
        static const struct {
                const char *expr;
                sched_err_t err;
                const char *msg; /* exact message */
        } cases[] = {
                {"", SCHED_ERR_INVALID, "cron expression is empty"},
                {" \t ", SCHED_ERR_INVALID, "cron expression is empty"},
                {"* * * *", SCHED_ERR_INVALID,
                 "expected 5 fields (minute hour dom month dow) or 6 "
                 "(second first), got 4"},
                {"* * * * * * *", SCHED_ERR_INVALID,
                 "expected 5 fields (minute hour dom month dow) or 6 "
                 "(second first), got 7"},
                {"0 24 * * *", SCHED_ERR_INVALID,
                 "field 'hour': 24 is out of range 0-23 (position 3)"},
                {"60 * * * *", SCHED_ERR_INVALID,
                 "field 'minute': 60 is out of range 0-59 (position 1)"},
                {"60 * * * * *", SCHED_ERR_INVALID,
                 "field 'second': 60 is out of range 0-59 (position 1)"},
                {"0 0 0 * *", SCHED_ERR_INVALID,
                 "field 'dom': 0 is out of range 1-31 (position 5)"},
                {"0 0 * 13 *", SCHED_ERR_INVALID,
                 "field 'month': 13 is out of range 1-12 (position 7)"},
                {"0 0 * * 8", SCHED_ERR_INVALID,
                 "field 'dow': 8 is out of range 0-7 (position 9)"},
                {"0 0 * * 1-9", SCHED_ERR_INVALID,
                 "field 'dow': 9 is out of range 0-7 (position 11)"},
                {"0 0 * * MON/0", SCHED_ERR_INVALID,
                 "field 'dow': step must be >= 1 (position 13)"},
                {"*/0 * * * *", SCHED_ERR_INVALID,
                 "field 'minute': step must be >= 1 (position 3)"},
                {"0 0 * * FOO", SCHED_ERR_INVALID,
                 "field 'dow': unknown name 'FOO' (position 9)"},
                {"0 0 * JANUARY *", SCHED_ERR_INVALID,
                 "field 'month': unknown name 'JANUARY' (position 7)"},
                {"0 0 * MON *", SCHED_ERR_INVALID,
                 "field 'month': unknown name 'MON' (position 7)"},
                {"0 0 L * *", SCHED_ERR_INVALID,
                 "field 'dom': names like 'L' are not allowed here "
                 "(position 5)"},
                {"0 0 1,,2 * *", SCHED_ERR_INVALID,
                 "field 'dom': empty list item (position 7)"},
                {"0 0 1, * *", SCHED_ERR_INVALID,
                 "field 'dom': empty list item (position 7)"},
                {",1 * * * *", SCHED_ERR_INVALID,
                 "field 'minute': empty list item (position 1)"},
                {"5x * * * *", SCHED_ERR_INVALID,
                 "field 'minute': unexpected 'x' (position 2)"},
                {"? * * * *", SCHED_ERR_INVALID,
                 "field 'minute': '?' is only allowed in dom and dow "
                 "(position 1)"},
                {"0 0 * * ?/2", SCHED_ERR_INVALID,
                 "field 'dow': '?' takes no step (position 10)"},
                {"0 0 5-3 * *", SCHED_ERR_INVALID,
                 "field 'dom': range 5-3 ends before it starts (position 7)"},
                {"0 0 * * 1-", SCHED_ERR_INVALID,
                 "field 'dow': value missing (position 11)"},
                {"*/ * * * *", SCHED_ERR_INVALID,
                 "field 'minute': step value missing (position 3)"},
                {"0 0 * * */MON", SCHED_ERR_INVALID,
                 "field 'dow': unexpected 'M' (position 11)"},
                {"0 0 * * -1", SCHED_ERR_INVALID,
                 "field 'dow': unexpected '-' (position 9)"},
                {"0 0 * * 5#3", SCHED_ERR_INVALID,
                 "field 'dow': unexpected '#' (position 10)"},
                {"0 0 * * 5L", SCHED_ERR_INVALID,
                 "field 'dow': unexpected 'L' (position 10)"},
                {"0 0 * * *-1", SCHED_ERR_INVALID,
                 "field 'dow': unexpected '-' (position 10)"},
                {"0 12 * * MON\xff", SCHED_ERR_INVALID,
                 "field 'dow': unexpected byte 0xff (position 13)"},
                {"123456 * * * *", SCHED_ERR_INVALID,
                 "field 'minute': number '12345...' is too long "
                 "(position 1)"},
                {"@reboot", SCHED_ERR_INVALID,
                 "@reboot is not supported: a klok job has no boot to run "
                 "at"},
                {"@every 5m", SCHED_ERR_INVALID,
                 "unknown macro '@every' (position 1)"},
                {"@daily 5", SCHED_ERR_INVALID,
                 "@daily must stand alone (position 8)"},
                {"0 @daily * * *", SCHED_ERR_INVALID,
                 "field 'hour': unexpected '@' (position 3)"},
        };
        sched_cron_t c;

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                memset(errstr, 0, sizeof(errstr));
                sched_err_t err = sched_cron_parse(cases[i].expr, &c, errstr,
                                                   sizeof(errstr));
                if (err != cases[i].err || strcmp(errstr, cases[i].msg)) {
                        print_error("'%s':\n  want %s \"%s\"\n  got  %s "
                                    "\"%s\"\n",
                                    cases[i].expr,
                                    sched_err2name(cases[i].err),
                                    cases[i].msg, sched_err2name(err),
                                    errstr);
                        fail();
                }
        }

        /* Too long: one byte over the limit. */
        char big[SCHED_CRON_EXPR_MAX + 2];
        memset(big, ' ', sizeof(big) - 1);
        memcpy(big, "0 0 * * *", 9);
        big[sizeof(big) - 1] = '\0';
        assert_int_equal(sched_cron_parse(big, &c, errstr, sizeof(errstr)),
                         SCHED_ERR_TOO_BIG);
        assert_string_equal(errstr,
                            "cron expression is longer than 256 bytes");
        assert_int_equal(sched_cron_parse(NULL, &c, errstr, sizeof(errstr)),
                         SCHED_ERR_INVALID);
        /* errstr is optional. */
        assert_int_equal(sched_cron_parse("x", &c, NULL, 0),
                         SCHED_ERR_INVALID);
        (void)state;
}

/* crontab(5): OR when both day fields are restricted, AND otherwise.
 * 2026-01-01 is a Thursday. */
static void test_day_rule(void **state) {
        /* Both restricted: the 13th, or any Friday. */
        EXPECT_FIRES("0 0 13 * FRI", "UTC", "2026-01-01T00:00:00Z",
                     "2026-01-02T00:00:00Z", "2026-01-09T00:00:00Z",
                     "2026-01-13T00:00:00Z", "2026-01-16T00:00:00Z");
        /* dom starts with '*': odd days that are Mondays. */
        EXPECT_FIRES("0 0 */2 * MON", "UTC", "2026-01-01T00:00:00Z",
                     "2026-01-05T00:00:00Z", "2026-01-19T00:00:00Z",
                     "2026-02-09T00:00:00Z", "2026-02-23T00:00:00Z");
        /* '1-31' is restricted (it does not start with '*'): OR, every
         * day. */
        EXPECT_FIRES("0 0 1-31 * MON", "UTC", "2026-01-01T00:00:00Z",
                     "2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z");
        /* '?' is unrestricted: Mondays only. */
        EXPECT_FIRES("0 0 ? * MON", "UTC", "2026-01-01T00:00:00Z",
                     "2026-01-05T00:00:00Z", "2026-01-12T00:00:00Z");
        /* dow starts with '*': the 13th when it is a Sunday, Tuesday,
         * Thursday or Saturday (0,2,4,6); Jan 13 2026 is a Tuesday, Feb 13
         * a Friday, Mar 13 a Friday, Apr 13 a Monday, May 13 a Wednesday,
         * Jun 13 a Saturday. */
        EXPECT_FIRES("0 0 13 * */2", "UTC", "2026-01-01T00:00:00Z",
                     "2026-01-13T00:00:00Z", "2026-06-13T00:00:00Z");
        /* Months and leap days: Feb 29 only in leap years. */
        EXPECT_FIRES("0 0 29 2 *", "UTC", "2026-01-01T00:00:00Z",
                     "2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z");
        /* 2100 is not a leap year: from 2097, the next Feb 29 is 2104. */
        EXPECT_FIRES("0 0 29 2 *", "UTC", "2097-01-01T00:00:00Z",
                     "2104-02-29T00:00:00Z");
        /* The 31st skips short months. */
        EXPECT_FIRES("0 0 31 * *", "UTC", "2026-01-31T00:00:00Z",
                     "2026-03-31T00:00:00Z", "2026-05-31T00:00:00Z",
                     "2026-07-31T00:00:00Z", "2026-08-31T00:00:00Z");
        (void)state;
}

/* Strictly after, whole seconds, seconds field. */
static void test_next_basics(void **state) {
        sched_cron_t c = parse_ok("*/15 * * * * *");
        int64_t t;

        assert_int_equal(sched_cron_next(&c, NULL, iso("2026-01-01T00:00:00Z"),
                                         &t),
                         SCHED_ERR_OK);
        assert_int_equal(t, iso("2026-01-01T00:00:15Z"));
        /* From a fraction of a second before, the same instant counts. */
        assert_int_equal(sched_cron_next(&c, NULL,
                                         iso("2026-01-01T00:00:14.999Z"), &t),
                         SCHED_ERR_OK);
        assert_int_equal(t, iso("2026-01-01T00:00:15Z"));
        /* Before 1970. */
        assert_int_equal(sched_cron_next(&c, NULL,
                                         iso("1969-12-31T23:59:59.500Z"), &t),
                         SCHED_ERR_OK);
        assert_int_equal(t, 0);
        EXPECT_FIRES("0 0 12 * * *", "UTC", "2026-01-01T12:00:00Z",
                     "2026-01-02T12:00:00Z");
        EXPECT_FIRES("59 59 23 31 12 *", "UTC", "2026-06-01T00:00:00Z",
                     "2026-12-31T23:59:59Z", "2027-12-31T23:59:59Z");
        /* Asia/Kathmandu is +05:45: hourly fires at :15 UTC. */
        EXPECT_FIRES("0 * * * *", "Asia/Kathmandu", "2026-01-01T00:00:00Z",
                     "2026-01-01T00:15:00Z", "2026-01-01T01:15:00Z");
        /* Europe/Berlin in 1890 kept local mean time, +00:53:28. */
        EXPECT_FIRES("0 12 * * *", "Europe/Berlin", "1890-01-01T00:00:00Z",
                     "1890-01-01T11:06:32Z");
        (void)state;
}

/* Schedules that never fire end at once; the range ends with year 9999. */
static void test_never_and_limits(void **state) {
        static const char *const never[] = {
                "0 0 30 2 *", "0 0 31 4,6,9,11 *", "0 0 0 31 2 ?",
                "0 0 30,31 2 */2",
        };
        sched_tz_t *tz = tz_ok("Europe/Berlin");
        sched_cron_t c;
        int64_t t, t0;

        for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++) {
                c = parse_ok(never[i]);
                t0 = sched_mono_ms();
                assert_int_equal(sched_cron_next(&c, tz,
                                                 iso("2026-01-01T00:00:00Z"),
                                                 &t),
                                 SCHED_ERR_NOT_FOUND);
                assert_true(sched_mono_ms() - t0 < 100);
        }
        /* Feb 29 on a Sunday (dow '*'-led, so AND): 28 years apart. */
        EXPECT_FIRES("0 0 29 2 */7", "UTC", "2005-01-01T00:00:00Z",
                     "2032-02-29T00:00:00Z", "2060-02-29T00:00:00Z");
        /* The end of the range. */
        c = parse_ok("0 0 1 1 *");
        assert_int_equal(sched_cron_next(&c, tz, iso("9999-06-01T00:00:00Z"),
                                         &t),
                         SCHED_ERR_NOT_FOUND);
        c = parse_ok("59 59 23 31 12 *");
        assert_int_equal(sched_cron_next(&c, NULL,
                                         iso("9999-12-31T23:59:58Z"), &t),
                         SCHED_ERR_OK);
        assert_int_equal(t, SCHED_TZ_MAX_MS - 999);
        assert_int_equal(sched_cron_next(&c, NULL, SCHED_TZ_MAX_MS, &t),
                         SCHED_ERR_NOT_FOUND);
        assert_int_equal(sched_cron_next(&c, NULL, SCHED_TZ_MAX_MS + 1, &t),
                         SCHED_ERR_INVALID);
        assert_int_equal(sched_cron_next(&c, tz, INT64_MIN, &t),
                         SCHED_ERR_INVALID);
        assert_int_equal(sched_cron_next(&c, tz, INT64_MAX, &t),
                         SCHED_ERR_INVALID);
        c = parse_ok("0 0 1 1 *");
        assert_int_equal(sched_cron_next(&c, NULL, SCHED_TZ_MIN_MS, &t),
                         SCHED_ERR_OK);
        assert_int_equal(t, iso("0002-01-01T00:00:00Z"));
        sched_tz_close(tz);
        (void)state;
}

/* --- Zones ---------------------------------------------------------------- */

static void test_tz_open(void **state) {
        static const char *const bad[] = {
                "Foo/Bar", "Etc/Unknown", "GMT+05:30", "utc", "Europe/berlin",
                "Europe/Berlin ", "../../etc/passwd", "Europe/Berlin\n",
                "America/New_York/X",
                "Aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        };
        sched_tz_t *a, *b, *c;
        int32_t off;

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                errstr[0] = '\0';
                a = sched_tz_open(bad[i], errstr, sizeof(errstr));
                if (a)
                        fail_msg("zone '%s' was accepted", bad[i]);
                assert_true(errstr[0] != '\0');
        }
        assert_null(sched_tz_open(NULL, errstr, sizeof(errstr)));
        a = sched_tz_open("Foo/Bar", errstr, sizeof(errstr));
        assert_string_equal(errstr, "unknown time zone 'Foo/Bar' (expected "
                                    "an IANA id such as Europe/Berlin)");

        /* "" and "UTC" are the static UTC handle. */
        assert_ptr_equal(tz_ok(""), sched_tz_utc());
        assert_ptr_equal(tz_ok("UTC"), sched_tz_utc());
        assert_string_equal(sched_tz_id(sched_tz_utc()), "UTC");
        sched_tz_close((sched_tz_t *)sched_tz_utc()); /* harmless */

        /* Same id, same handle; an alias is its own handle, same rules. */
        a = tz_ok("America/New_York");
        b = tz_ok("America/New_York");
        c = tz_ok("US/Eastern");
        assert_ptr_equal(a, b);
        assert_ptr_not_equal(a, c);
        assert_string_equal(sched_tz_id(c), "US/Eastern");
        assert_int_equal(sched_tz_offset(c, iso("2026-07-01T00:00:00Z"), &off),
                         SCHED_ERR_OK);
        assert_int_equal(off, -4 * HOUR_MS);
        sched_tz_close(a);
        /* b is still open (a reference remains). */
        assert_int_equal(sched_tz_offset(b, iso("2026-01-01T00:00:00Z"), &off),
                         SCHED_ERR_OK);
        assert_int_equal(off, -5 * HOUR_MS);
        sched_tz_close(b);
        sched_tz_close(c);
        sched_tz_close(NULL);

        /* Other zero-offset ids go through ICU and work. */
        a = tz_ok("Etc/UTC");
        assert_int_equal(sched_tz_offset(a, 0, &off), SCHED_ERR_OK);
        assert_int_equal(off, 0);
        sched_tz_close(a);
        a = tz_ok("Etc/GMT-5"); /* POSIX sign: this is +05:00 */
        assert_int_equal(sched_tz_offset(a, 0, &off), SCHED_ERR_OK);
        assert_int_equal(off, 5 * HOUR_MS);
        sched_tz_close(a);
        print_message("zone rules: ICU tz data %s\n",
                      sched_tz_data_version());
        (void)state;
}

static void test_tz_conversions(void **state) {
        sched_tz_t *tz = tz_ok("Europe/Berlin");
        sched_tz_local_t kind;
        int64_t t, l;

        /* Unique: 2026-07-01 12:00 CEST = 10:00Z. */
        assert_int_equal(sched_tz_local_to_utc(tz, iso("2026-07-01T12:00:00Z"),
                                               &t, &kind),
                         SCHED_ERR_OK);
        assert_int_equal(t, iso("2026-07-01T10:00:00Z"));
        assert_int_equal(kind, SCHED_TZ_LOCAL_UNIQUE);
        /* Skipped: 2026-03-29 02:30 does not exist; the gap ends at
         * 01:00Z (03:00 CEST). */
        assert_int_equal(sched_tz_local_to_utc(tz, iso("2026-03-29T02:30:00Z"),
                                               &t, &kind),
                         SCHED_ERR_OK);
        assert_int_equal(t, iso("2026-03-29T01:00:00Z"));
        assert_int_equal(kind, SCHED_TZ_LOCAL_SKIPPED);
        /* The gap's edges: 01:59:59 CET exists, 02:00:00 does not, 03:00
         * CEST does. */
        sched_tz_local_to_utc(tz, iso("2026-03-29T01:59:59Z"), &t, &kind);
        assert_int_equal(t, iso("2026-03-29T00:59:59Z"));
        assert_int_equal(kind, SCHED_TZ_LOCAL_UNIQUE);
        sched_tz_local_to_utc(tz, iso("2026-03-29T02:00:00Z"), &t, &kind);
        assert_int_equal(t, iso("2026-03-29T01:00:00Z"));
        assert_int_equal(kind, SCHED_TZ_LOCAL_SKIPPED);
        sched_tz_local_to_utc(tz, iso("2026-03-29T03:00:00Z"), &t, &kind);
        assert_int_equal(t, iso("2026-03-29T01:00:00Z"));
        assert_int_equal(kind, SCHED_TZ_LOCAL_UNIQUE);
        /* Repeated: 2026-10-25 02:30 is 00:30Z (CEST) and 01:30Z (CET);
         * the first is taken. */
        sched_tz_local_to_utc(tz, iso("2026-10-25T02:30:00Z"), &t, &kind);
        assert_int_equal(t, iso("2026-10-25T00:30:00Z"));
        assert_int_equal(kind, SCHED_TZ_LOCAL_REPEATED);
        sched_tz_local_to_utc(tz, iso("2026-10-25T03:00:00Z"), &t, &kind);
        assert_int_equal(t, iso("2026-10-25T02:00:00Z"));
        assert_int_equal(kind, SCHED_TZ_LOCAL_UNIQUE);

        /* High-water mark: during the second pass (01:00Z-01:59:59Z) the
         * clock reads 02:xx again, but 02:59:59.999 has been reached. */
        sched_tz_utc_to_local(tz, iso("2026-10-25T01:30:00Z"), &l);
        assert_int_equal(l, iso("2026-10-25T02:30:00Z"));
        sched_tz_local_high(tz, iso("2026-10-25T01:30:00Z"), &l);
        assert_int_equal(l, iso("2026-10-25T02:59:59.999Z"));
        sched_tz_local_high(tz, iso("2026-10-25T02:00:00Z"), &l);
        assert_int_equal(l, iso("2026-10-25T03:00:00Z"));
        sched_tz_local_high(tz, iso("2026-10-25T00:30:00Z"), &l);
        assert_int_equal(l, iso("2026-10-25T02:30:00Z"));

        /* Transitions. */
        assert_int_equal(sched_tz_next_transition(
                                 tz, iso("2026-01-01T00:00:00Z"), &t),
                         SCHED_ERR_OK);
        assert_int_equal(t, iso("2026-03-29T01:00:00Z"));
        assert_int_equal(sched_tz_next_transition(tz, t, &t), SCHED_ERR_OK);
        assert_int_equal(t, iso("2026-10-25T01:00:00Z"));
        assert_int_equal(sched_tz_next_transition(sched_tz_utc(), 0, &t),
                         SCHED_ERR_NOT_FOUND);

        /* Out of range. */
        assert_int_equal(sched_tz_utc_to_local(tz, SCHED_TZ_MAX_MS + 1, &l),
                         SCHED_ERR_INVALID);
        assert_int_equal(sched_tz_local_to_utc(tz, INT64_MIN, &t, NULL),
                         SCHED_ERR_INVALID);
        sched_tz_close(tz);
        (void)state;
}

/* --- The DST policy, by hand ---------------------------------------------- */

/*
 * Europe/Berlin: CET +01:00, CEST +02:00 (EU rule: last Sunday of March and
 * October, at 01:00 UTC).
 *  Spring 2026-03-29 01:00Z: 02:00 CET -> 03:00 CEST; 02:00-02:59:59 local
 *    never happens.
 *  Autumn 2026-10-25 01:00Z: 03:00 CEST -> 02:00 CET; 02:00-02:59:59 local
 *    happens twice: 00:00Z-00:59:59Z (CEST), 01:00Z-01:59:59Z (CET).
 */
static void test_dst_berlin(void **state) {
        /* Hourly, from 00:30 CET: 01:00 CET = 00:00Z; 02:00 is skipped and
         * fires when the gap ends, 01:00Z (03:00 CEST), together with
         * 03:00 itself — once; 04:00 CEST = 02:00Z. */
        EXPECT_FIRES("0 * * * *", "Europe/Berlin", "2026-03-28T23:30:00Z",
                     "2026-03-29T00:00:00Z", "2026-03-29T01:00:00Z",
                     "2026-03-29T02:00:00Z", "2026-03-29T03:00:00Z");
        /* Daily at the skipped time: 2026-03-29 02:30 fires at 01:00Z; the
         * next days at 02:30 CEST = 00:30Z. */
        EXPECT_FIRES("30 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z",
                     "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z",
                     "2026-03-31T00:30:00Z");
        /* Every 10 minutes from 01:35 CET: 01:40 and 01:50 CET (00:40Z,
         * 00:50Z); the six skipped times 02:00-02:50 fire once at 01:00Z;
         * then 03:10 CEST = 01:10Z. */
        EXPECT_FIRES("*/10 * * * *", "Europe/Berlin", "2026-03-29T00:35:00Z",
                     "2026-03-29T00:40:00Z", "2026-03-29T00:50:00Z",
                     "2026-03-29T01:00:00Z", "2026-03-29T01:10:00Z",
                     "2026-03-29T01:20:00Z");
        /* Every 10 minutes within the skipped hour only: once for the
         * whole gap, then 02:00 CEST the next day = 00:00Z. */
        EXPECT_FIRES("*/10 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z",
                     "2026-03-29T01:00:00Z", "2026-03-30T00:00:00Z",
                     "2026-03-30T00:10:00Z");
        /* Seconds: every 20 s in the skipped minute 02:30 -> once. */
        EXPECT_FIRES("*/20 30 2 * * *", "Europe/Berlin",
                     "2026-03-29T00:00:00Z", "2026-03-29T01:00:00Z",
                     "2026-03-30T00:30:00Z", "2026-03-30T00:30:20Z");

        /* Hourly across the repeated hour, from 00:30 CEST: 01:00 CEST =
         * 23:00Z, 02:00 CEST = 00:00Z (first pass), nothing in the second
         * pass (01:00Z reads 02:00 again), 03:00 CET = 02:00Z. */
        EXPECT_FIRES("0 * * * *", "Europe/Berlin", "2026-10-24T22:30:00Z",
                     "2026-10-24T23:00:00Z", "2026-10-25T00:00:00Z",
                     "2026-10-25T02:00:00Z", "2026-10-25T03:00:00Z");
        /* Daily at the repeated time: the first 02:30 (CEST, 00:30Z); then
         * 02:30 CET = 01:30Z. */
        EXPECT_FIRES("30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z",
                     "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z",
                     "2026-10-27T01:30:00Z");
        /* Every 10 minutes from 02:35 CEST (first pass): 02:40, 02:50 CEST,
         * then nothing until 03:00 CET = 02:00Z. */
        EXPECT_FIRES("*/10 * * * *", "Europe/Berlin", "2026-10-25T00:35:00Z",
                     "2026-10-25T00:40:00Z", "2026-10-25T00:50:00Z",
                     "2026-10-25T02:00:00Z", "2026-10-25T02:10:00Z");
        /* Every 10 minutes within the repeated hour: the first pass only. */
        EXPECT_FIRES("*/10 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z",
                     "2026-10-25T00:00:00Z", "2026-10-25T00:10:00Z",
                     "2026-10-25T00:20:00Z", "2026-10-25T00:30:00Z",
                     "2026-10-25T00:40:00Z", "2026-10-25T00:50:00Z",
                     "2026-10-26T01:00:00Z");
        /* Starting inside the second pass (01:15Z reads 02:15 CET): the
         * 02:xx times have fired already. */
        EXPECT_FIRES("*/10 * * * *", "Europe/Berlin", "2026-10-25T01:15:00Z",
                     "2026-10-25T02:00:00Z");
        EXPECT_FIRES("30 2 * * *", "Europe/Berlin", "2026-10-25T01:15:00Z",
                     "2026-10-26T01:30:00Z");
        /* From the first pass, after 02:30 already fired, daily skips the
         * second 02:30 too. */
        EXPECT_FIRES("30 2 * * *", "Europe/Berlin", "2026-10-25T00:30:00Z",
                     "2026-10-26T01:30:00Z");
        (void)state;
}

/*
 * America/New_York: EST -05:00, EDT -04:00 (US rule since 2007: second
 * Sunday of March, first Sunday of November, at 02:00 local).
 *  Spring 2026-03-08 07:00Z: 02:00 EST -> 03:00 EDT; 02:00-02:59 skipped.
 *  Autumn 2026-11-01 06:00Z: 02:00 EDT -> 01:00 EST; 01:00-01:59 twice:
 *    05:00Z-05:59Z (EDT) and 06:00Z-06:59Z (EST).
 */
static void test_dst_new_york(void **state) {
        /* 01:00 EST = 06:00Z; 02:00 skipped -> 07:00Z (03:00 EDT, once);
         * 04:00 EDT = 08:00Z. */
        EXPECT_FIRES("0 * * * *", "America/New_York", "2026-03-08T05:30:00Z",
                     "2026-03-08T06:00:00Z", "2026-03-08T07:00:00Z",
                     "2026-03-08T08:00:00Z");
        /* 02:30 skipped on the 8th -> 07:00Z; then 02:30 EDT = 06:30Z. */
        EXPECT_FIRES("30 2 * * *", "America/New_York", "2026-03-07T12:00:00Z",
                     "2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z",
                     "2026-03-10T06:30:00Z");
        /* From 01:35 EST: 01:40, 01:50 EST; gap once at 07:00Z; 03:10 EDT
         * = 07:10Z. */
        EXPECT_FIRES("*/10 * * * *", "America/New_York",
                     "2026-03-08T06:35:00Z", "2026-03-08T06:40:00Z",
                     "2026-03-08T06:50:00Z", "2026-03-08T07:00:00Z",
                     "2026-03-08T07:10:00Z");

        /* From 23:30 EDT: 00:00 EDT = 04:00Z, 01:00 EDT = 05:00Z, nothing
         * at 06:00Z (01:00 EST again), 02:00 EST = 07:00Z. */
        EXPECT_FIRES("0 * * * *", "America/New_York", "2026-11-01T03:30:00Z",
                     "2026-11-01T04:00:00Z", "2026-11-01T05:00:00Z",
                     "2026-11-01T07:00:00Z", "2026-11-01T08:00:00Z");
        /* Daily at the repeated 01:30: first pass 05:30Z; then 01:30 EST =
         * 06:30Z. */
        EXPECT_FIRES("30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z",
                     "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z",
                     "2026-11-03T06:30:00Z");
        /* From 01:35 EDT: 01:40, 01:50 EDT, then nothing until 02:00 EST =
         * 07:00Z. */
        EXPECT_FIRES("*/10 * * * *", "America/New_York",
                     "2026-11-01T05:35:00Z", "2026-11-01T05:40:00Z",
                     "2026-11-01T05:50:00Z", "2026-11-01T07:00:00Z",
                     "2026-11-01T07:10:00Z");
        (void)state;
}

/*
 * Australia/Lord_Howe: +10:30 standard, +11:00 in summer — a 30-minute
 * shift, at 02:00 local (first Sunday of April and of October).
 *  Autumn 2026-04-04 15:00Z: 02:00 (+11) -> 01:30 (+10:30) on Apr 5;
 *    01:30-01:59 twice: 14:30Z-14:59Z (+11), 15:00Z-15:29Z (+10:30).
 *  Spring 2026-10-03 15:30Z: 02:00 (+10:30) -> 02:30 (+11) on Oct 4;
 *    02:00-02:29 skipped.
 */
static void test_dst_lord_howe(void **state) {
        /* Hourly from 23:30 (+11): 00:00 = 13:00Z, 01:00 = 14:00Z; 02:00
         * is not repeated (only 01:30-01:59 is) and reads +10:30: 15:30Z;
         * 03:00 = 16:30Z.  The 01:00 -> 02:00 step takes 90 minutes. */
        EXPECT_FIRES("0 * * * *", "Australia/Lord_Howe",
                     "2026-04-04T12:30:00Z", "2026-04-04T13:00:00Z",
                     "2026-04-04T14:00:00Z", "2026-04-04T15:30:00Z",
                     "2026-04-04T16:30:00Z");
        /* Daily at the repeated 01:45: first pass (+11) = 14:45Z on Apr 4;
         * then (+10:30) 15:15Z. */
        EXPECT_FIRES("45 1 * * *", "Australia/Lord_Howe",
                     "2026-04-04T00:00:00Z", "2026-04-04T14:45:00Z",
                     "2026-04-05T15:15:00Z", "2026-04-06T15:15:00Z");
        /* From 01:35 (+11, first pass): 01:40, 01:50 = 14:40Z, 14:50Z; the
         * second pass 15:00Z-15:29Z fires nothing; 02:00 = 15:30Z. */
        EXPECT_FIRES("*/10 * * * *", "Australia/Lord_Howe",
                     "2026-04-04T14:35:00Z", "2026-04-04T14:40:00Z",
                     "2026-04-04T14:50:00Z", "2026-04-04T15:30:00Z",
                     "2026-04-04T15:40:00Z");

        /* Hourly from 23:30 (+10:30) Oct 3: 00:00 = 13:30Z, 01:00 =
         * 14:30Z, 02:00 skipped -> the gap ends 15:30Z (02:30 +11); 03:00
         * (+11) = 16:00Z, only 30 minutes later. */
        EXPECT_FIRES("0 * * * *", "Australia/Lord_Howe",
                     "2026-10-03T13:00:00Z", "2026-10-03T13:30:00Z",
                     "2026-10-03T14:30:00Z", "2026-10-03T15:30:00Z",
                     "2026-10-03T16:00:00Z");
        /* Daily at the skipped 02:15: Oct 4 -> 15:30Z Oct 3; then 02:15
         * (+11) = 15:15Z the day before. */
        EXPECT_FIRES("15 2 * * *", "Australia/Lord_Howe",
                     "2026-10-03T00:00:00Z", "2026-10-03T15:30:00Z",
                     "2026-10-04T15:15:00Z", "2026-10-05T15:15:00Z");
        /* From 01:35 (+10:30): 01:40 = 15:10Z, 01:50 = 15:20Z; 02:00,
         * 02:10, 02:20 skipped and 02:30 itself -> once at 15:30Z; 02:40 =
         * 15:40Z. */
        EXPECT_FIRES("*/10 * * * *", "Australia/Lord_Howe",
                     "2026-10-03T15:05:00Z", "2026-10-03T15:10:00Z",
                     "2026-10-03T15:20:00Z", "2026-10-03T15:30:00Z",
                     "2026-10-03T15:40:00Z");
        (void)state;
}

/*
 * America/Santiago: -04:00 standard, -03:00 in summer; its clocks change at
 * midnight (first Sunday of April and of September since 2022).
 *  Autumn 2026-04-05 03:00Z: 24:00 (-03) -> 23:00 (-04) on Apr 4;
 *    23:00-23:59 twice: 02:00Z-02:59Z (-03), 03:00Z-03:59Z (-04).
 *  Spring 2026-09-06 04:00Z: 24:00 (-04) Sep 5 -> 01:00 (-03) Sep 6;
 *    00:00-00:59 of Sep 6 skipped — midnight itself.
 */
static void test_dst_santiago(void **state) {
        /* From 21:30 (-03): 22:00 = 01:00Z, 23:00 (-03) = 02:00Z, nothing
         * at 03:00Z (23:00 again), 00:00 Apr 5 (-04) = 04:00Z. */
        EXPECT_FIRES("0 * * * *", "America/Santiago", "2026-04-05T00:30:00Z",
                     "2026-04-05T01:00:00Z", "2026-04-05T02:00:00Z",
                     "2026-04-05T04:00:00Z", "2026-04-05T05:00:00Z");
        /* Daily at the repeated 23:30: first pass (-03) 02:30Z Apr 5; then
         * 23:30 (-04) = 03:30Z. */
        EXPECT_FIRES("30 23 * * *", "America/Santiago",
                     "2026-04-04T12:00:00Z", "2026-04-05T02:30:00Z",
                     "2026-04-06T03:30:00Z", "2026-04-07T03:30:00Z");
        EXPECT_FIRES("*/10 * * * *", "America/Santiago",
                     "2026-04-05T02:35:00Z", "2026-04-05T02:40:00Z",
                     "2026-04-05T02:50:00Z", "2026-04-05T04:00:00Z",
                     "2026-04-05T04:10:00Z");

        /* From 22:30 (-04) Sep 5: 23:00 = 03:00Z; 00:00 skipped -> 04:00Z
         * (01:00 -03, once); 02:00 (-03) = 05:00Z. */
        EXPECT_FIRES("0 * * * *", "America/Santiago", "2026-09-06T02:30:00Z",
                     "2026-09-06T03:00:00Z", "2026-09-06T04:00:00Z",
                     "2026-09-06T05:00:00Z");
        /* Daily at midnight, the skipped time: Sep 6 fires at 04:00Z
         * (01:00 local); Sep 7 00:00 (-03) = 03:00Z.  @daily is the same. */
        EXPECT_FIRES("0 0 * * *", "America/Santiago", "2026-09-05T12:00:00Z",
                     "2026-09-06T04:00:00Z", "2026-09-07T03:00:00Z",
                     "2026-09-08T03:00:00Z");
        EXPECT_FIRES("@daily", "America/Santiago", "2026-09-05T12:00:00Z",
                     "2026-09-06T04:00:00Z", "2026-09-07T03:00:00Z");
        EXPECT_FIRES("*/10 * * * *", "America/Santiago",
                     "2026-09-06T03:35:00Z", "2026-09-06T03:40:00Z",
                     "2026-09-06T03:50:00Z", "2026-09-06T04:00:00Z",
                     "2026-09-06T04:10:00Z");
        (void)state;
}

/* --- The DST policy, by brute force --------------------------------------- */

/* Does wall time w (seconds) match?  Civil fields from gmtime_r, not from
 * cron.c's own calendar code. */
static bool brute_match(const sched_cron_t *c, int64_t w) {
        time_t tt = (time_t)w;
        struct tm tm;
        bool dom, dow;

        gmtime_r(&tt, &tm);
        if (!(c->sec >> tm.tm_sec & 1) || !(c->min >> tm.tm_min & 1) ||
            !(c->hour >> tm.tm_hour & 1) || !(c->month >> (tm.tm_mon + 1) & 1))
                return false;
        dom = c->dom >> tm.tm_mday & 1;
        dow = c->dow >> tm.tm_wday & 1;
        if (c->flags & (SCHED_CRON_F_DOM_STAR | SCHED_CRON_F_DOW_STAR))
                return dom && dow;
        return dom || dow;
}

/* Random valid expression, biased to fire around 00:00-03:59 and 22-23 h
 * (where the four zones change their clocks). */
static void gen_expr(char *out, size_t cap, bool seconds) {
        static const struct {
                int lo, hi;
        } fr[6] = {{0, 59}, {0, 59}, {0, 23}, {1, 31}, {1, 12}, {0, 7}};
        size_t n = 0;

        for (int f = seconds ? 0 : 1; f < 6; f++) {
                int lo = fr[f].lo, hi = fr[f].hi, items = rnd_in(1, 2);
                if (f == 0 && rnd() % 2) { /* keep seconds sparse */
                        n += (size_t)snprintf(out + n, cap - n, "%d ",
                                              rnd_in(0, 59));
                        continue;
                }
                if (f >= 3 && rnd() % 3 == 0) {
                        n += (size_t)snprintf(out + n, cap - n, "%s ",
                                              f != 4 && rnd() % 4 == 0 ? "?"
                                                                       : "*");
                        continue;
                }
                for (int i = 0; i < items; i++) {
                        int a = rnd_in(lo, hi), b = rnd_in(a, hi);
                        const char *sep = i ? "," : "";
                        if (f == 2 && rnd() % 2)
                                a = b = (int)(rnd() % 2 ? rnd_in(0, 3)
                                                        : rnd_in(22, 23));
                        switch (rnd() % 5) {
                        case 0:
                                n += (size_t)snprintf(out + n, cap - n,
                                                      "%s*/%d", sep,
                                                      rnd_in(1, 20));
                                break;
                        case 1:
                                n += (size_t)snprintf(out + n, cap - n,
                                                      "%s%d-%d", sep, a, b);
                                break;
                        case 2:
                                n += (size_t)snprintf(out + n, cap - n,
                                                      "%s%d-%d/%d", sep, a, b,
                                                      rnd_in(1, 10));
                                break;
                        case 3:
                                n += (size_t)snprintf(out + n, cap - n,
                                                      "%s%d/%d", sep, a,
                                                      rnd_in(1, 15));
                                break;
                        default:
                                n += (size_t)snprintf(out + n, cap - n,
                                                      "%s%d", sep, a);
                        }
                }
                n += (size_t)snprintf(out + n, cap - n, " ");
        }
        out[n - 1] = '\0';
}

/*
 * The policy in one sentence (docs/CRON.md): an instant fires if the wall
 * clock, moving from the highest reading so far to its reading at that
 * instant, reaches or jumps over a matching wall time.  brute_window() walks
 * the clock second by second over [tr - half, tr + half] and compares the
 * fires with sched_cron_next()'s, which computes them quite differently.
 * Returns the number of fires; fails the test on a difference.
 */
#define BRUTE_MAX 4096 /* fires compared one by one per window */

static int brute_window(const char *expr, const sched_tz_t *tz, int64_t tr,
                        int64_t half) {
        sched_cron_t c = parse_ok(expr);
        int64_t from = tr - half, to = tr + half, t, w;
        static int64_t want[BRUTE_MAX], got[BRUTE_MAX];
        int64_t high, l, p;
        char a[SCHED_ISO_MAX], b[SCHED_ISO_MAX];
        int nw = 0, ng = 0, i;
        int32_t off;
        bool same;

        /* The highest reading before `from`: its own, or the last one
         * before any transition of the previous 31 hours. */
        assert_int_equal(sched_tz_utc_to_local(tz, from, &high), SCHED_ERR_OK);
        for (p = from - 31 * HOUR_MS;
             sched_tz_next_transition(tz, p, &p) == SCHED_ERR_OK && p <= from;) {
                sched_tz_utc_to_local(tz, p - 1, &l);
                if (l > high)
                        high = l;
        }
        high = high / 1000 - (high % 1000 < 0); /* floor, in seconds */
        for (t = from / 1000 + 1; t <= to / 1000; t++) {
                sched_tz_offset(tz, t * 1000, &off);
                if (t + off / 1000 <= high)
                        continue;
                for (w = high + 1; w <= t + off / 1000; w++) {
                        if (brute_match(&c, w)) {
                                if (nw < BRUTE_MAX)
                                        want[nw] = t * 1000;
                                nw++;
                                break;
                        }
                }
                high = t + off / 1000;
        }
        for (t = from; sched_cron_next(&c, tz, t, &t) == SCHED_ERR_OK &&
                       t <= to;) {
                if (ng < BRUTE_MAX)
                        got[ng] = t;
                ng++;
        }
        same = nw == ng;
        for (i = 0; same && i < nw && i < BRUTE_MAX; i++)
                same = want[i] == got[i];
        if (!same) {
                print_error("'%s' in %s around %s: %d brute-force fires, %d "
                            "from next()\n",
                            expr, sched_tz_id(tz), fmt_ms(tr, a), nw, ng);
                for (i = 0; i < (nw > ng ? nw : ng) && i < BRUTE_MAX; i++)
                        print_error("  want %s  got %s\n",
                                    i < nw ? fmt_ms(want[i], a) : "-",
                                    i < ng ? fmt_ms(got[i], b) : "-");
                fail();
        }
        /* From arbitrary instants too (inside a repeated interval, in the
         * middle of a second): the first brute-force fire after it. */
        for (int k = 0; k < 16 && nw < BRUTE_MAX; k++) {
                int64_t after = from + (int64_t)(rnd() % (uint64_t)(to - from));
                sched_err_t err = sched_cron_next(&c, tz, after, &t);
                for (i = 0; i < nw && want[i] <= after; i++)
                        ;
                if (i < nw ? err || t != want[i] : !err && t <= to) {
                        print_error("'%s' in %s after %s: want %s got %s\n",
                                    expr, sched_tz_id(tz), fmt_ms(after, a),
                                    i < nw ? fmt_ms(want[i], b) : "none",
                                    err ? sched_err2name(err)
                                        : fmt_ms(t, b));
                        fail();
                }
        }
        return nw;
}

/* Random schedules around every 2026 transition of the four zones. */
static void test_dst_brute_force(void **state) {
        static const char *const zones[] = {
                "Europe/Berlin", "America/New_York", "Australia/Lord_Howe",
                "America/Santiago",
        };
        int windows = 0, fires = 0;

        for (size_t z = 0; z < 4; z++) {
                sched_tz_t *tz = tz_ok(zones[z]);
                int64_t tr = iso("2026-01-01T00:00:00Z");

                while (sched_tz_next_transition(tz, tr, &tr) == SCHED_ERR_OK &&
                       tr < iso("2027-01-01T00:00:00Z")) {
                        for (int k = 0; k < 60; k++) {
                                char expr[256];
                                gen_expr(expr, sizeof(expr), k % 4 == 0);
                                fires += brute_window(expr, tz, tr,
                                                      4 * HOUR_MS);
                                windows++;
                        }
                }
                sched_tz_close(tz);
        }
        print_message("dst brute force: %d windows, %d fires, all equal\n",
                      windows, fires);
        assert_true(windows >= 4 * 2 * 60);
        (void)state;
}

/*
 * Every zone ICU knows (about 640 ids, aliases included), at random
 * transitions between 1900 and 2040 — whole skipped days (Pacific/Apia
 * 2011), 15-minute shifts (Asia/Kathmandu 1986), two-hour DST
 * (Antarctica/Troll), local mean time: local -> UTC conversions keep their
 * promises, and random schedules agree with the brute-force walk.
 */
static void test_dst_all_zones(void **state) {
        UErrorCode st = U_ZERO_ERROR;
        UEnumeration *ids = ucal_openTimeZones(&st);
        const char *id;
        int zones = 0, windows = 0, conversions = 0;
        int32_t len;

        assert_true(U_SUCCESS(st));
        while ((id = uenum_next(ids, &len, &st)) != NULL) {
                sched_tz_t *tz = tz_ok(id);
                zones++;
                for (int k = 0; k < 2; k++) {
                        char expr[256];
                        int64_t tr = iso("1900-01-01T00:00:00Z") +
                                     (int64_t)(rnd() %
                                               (140ULL * 365 * 86400000));
                        int64_t lo, hi, w, t, l, l2;
                        sched_tz_local_t kind;

                        if (sched_tz_next_transition(tz, tr, &tr) !=
                                    SCHED_ERR_OK ||
                            tr > iso("2100-01-01T00:00:00Z"))
                                break;
                        /* Every local minute (and the seconds next to the
                         * edges) from 26 h before to 26 h after. */
                        sched_tz_utc_to_local(tz, tr, &lo);
                        hi = lo + 26 * HOUR_MS;
                        lo -= 26 * HOUR_MS;
                        for (w = lo - lo % 60000; w <= hi; w += 60000) {
                                for (int e = -1; e <= 1; e++) {
                                        assert_int_equal(
                                                sched_tz_local_to_utc(
                                                        tz, w + e * 1000, &t,
                                                        &kind),
                                                SCHED_ERR_OK);
                                        sched_tz_utc_to_local(tz, t, &l);
                                        sched_tz_utc_to_local(tz, t - 1, &l2);
                                        conversions++;
                                        if (kind == SCHED_TZ_LOCAL_SKIPPED) {
                                                /* t: first instant past
                                                 * the gap that holds w */
                                                assert_true(l2 < w + e * 1000);
                                                assert_true(l > w + e * 1000);
                                        } else {
                                                assert_int_equal(l,
                                                                 w + e * 1000);
                                        }
                                }
                        }
                        gen_expr(expr, sizeof(expr), k == 0);
                        brute_window(expr, tz, tr, 2 * HOUR_MS);
                        windows++;
                }
                sched_tz_close(tz);
        }
        uenum_close(ids);
        print_message("all zones: %d zones, %d windows, %d local->utc "
                      "conversions checked\n",
                      zones, windows, conversions);
        assert_true(zones > 400);
        (void)state;
}

/*
 * Odd transitions, derived from the tz database (zoneinfo agrees, as does
 * the ICU data): a skipped day, a repeated day, a 15-minute and a two-hour
 * shift.
 */
static void test_dst_history(void **state) {
        static const struct {
                const char *zone, *transition;
                int64_t half;
        } odd[] = {
                {"Pacific/Apia", "2011-12-30T10:00:00Z", 30 * HOUR_MS},
                {"America/Sitka", "1867-10-19T00:31:13Z", 30 * HOUR_MS},
                {"Asia/Kathmandu", "1985-12-31T18:30:00Z", 4 * HOUR_MS},
                {"Antarctica/Troll", "2026-03-29T01:00:00Z", 4 * HOUR_MS},
                {"Antarctica/Troll", "2026-10-25T01:00:00Z", 4 * HOUR_MS},
                {"America/Caracas", "2016-05-01T07:00:00Z", 4 * HOUR_MS},
        };
        static const char *const exprs[] = {
                "0 * * * *", "*/10 * * * *", "30 2 * * *", "0 12 * * *",
                "0 0 * * *", "*/7 0-3 * * *", "0 0 30 12 *", "15 0 1 1 *",
        };
        int fires = 0;

        /* Pacific/Apia skipped 2011-12-30 entirely: 23:59:59 (-10) on the
         * 29th was followed by 00:00 (+14) on the 31st, at 10:00Z.  Noon on
         * the 30th fires when the gap ends; a year later (+14, DST) noon on
         * Dec 30 is 22:00Z the day before.  Hourly: 23:00 (-10) = 09:00Z,
         * then the 25 skipped-or-reached hours once at 10:00Z, then 01:00
         * (+14) = 11:00Z. */
        EXPECT_FIRES("0 12 30 12 *", "Pacific/Apia", "2011-12-01T00:00:00Z",
                     "2011-12-30T10:00:00Z", "2012-12-29T22:00:00Z");
        EXPECT_FIRES("0 * * * *", "Pacific/Apia", "2011-12-30T08:30:00Z",
                     "2011-12-30T09:00:00Z", "2011-12-30T10:00:00Z",
                     "2011-12-30T11:00:00Z");
        /* America/Sitka, Alaska's purchase: at 1867-10-19T00:31:13Z the
         * clocks went from 15:29:59 (+14:58:47) on the 19th back to 15:30
         * (-09:01:13) on the 18th: a day and a bit repeated.  Noon on the
         * 19th fires in the first pass (21:01:13Z on the 18th), not in the
         * second; then noon on the 20th (-09:01:13) = 21:01:13Z. */
        EXPECT_FIRES("0 12 * * *", "America/Sitka", "1867-10-18T00:00:00Z",
                     "1867-10-18T21:01:13Z", "1867-10-20T21:01:13Z");
        /* Asia/Kathmandu went from +05:30 to +05:45 at 1986-01-01 00:00
         * local: 00:00-00:14 skipped.  23:55 (+05:30) = 18:25Z; 00:00,
         * 00:05, 00:10 and 00:15 itself fire once at 18:30Z; 00:20 =
         * 18:35Z. */
        EXPECT_FIRES("*/5 * * * *", "Asia/Kathmandu", "1985-12-31T18:20:00Z",
                     "1985-12-31T18:25:00Z", "1985-12-31T18:30:00Z",
                     "1985-12-31T18:35:00Z");
        /* Antarctica/Troll shifts by two hours (+00 <-> +02) with the EU
         * dates: 01:00-02:59 skipped on 2026-03-29, 01:00-02:59 repeated on
         * 2026-10-25 (first pass 23:00Z-00:59Z, +02). */
        EXPECT_FIRES("30 1 * * *", "Antarctica/Troll", "2026-03-28T12:00:00Z",
                     "2026-03-29T01:00:00Z", "2026-03-29T23:30:00Z");
        EXPECT_FIRES("30 2 * * *", "Antarctica/Troll", "2026-10-24T12:00:00Z",
                     "2026-10-25T00:30:00Z", "2026-10-26T02:30:00Z");

        for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
                sched_tz_t *tz = tz_ok(odd[i].zone);
                int64_t tr = iso(odd[i].transition), check;

                /* The transition is where the comments say. */
                assert_int_equal(sched_tz_next_transition(tz, tr - 1, &check),
                                 SCHED_ERR_OK);
                assert_int_equal(check, tr);
                for (size_t k = 0; k < sizeof(exprs) / sizeof(exprs[0]); k++)
                        fires += brute_window(exprs[k], tz, tr, odd[i].half);
                for (int k = 0; k < 20; k++) {
                        char expr[256];
                        gen_expr(expr, sizeof(expr), k % 4 == 0);
                        fires += brute_window(expr, tz, tr, odd[i].half);
                }
                sched_tz_close(tz);
        }
        print_message("odd transitions: %d fires, all equal\n", fires);
        (void)state;
}

/* --- The croniter oracle -------------------------------------------------- */

static bool oracle_available(void) {
        return access(ORACLE_PY, X_OK) == 0 &&
               system(ORACLE_PY " -c 'import croniter, zoneinfo' "
                                ">/dev/null 2>&1") == 0;
}

static void test_oracle(void **state) {
        static const char *const zones[] = {
                "UTC", "Europe/Berlin", "America/New_York",
                "Australia/Lord_Howe", "Asia/Kathmandu",
        };
        sched_tz_t *tzs[5];
        char *line = NULL, a[SCHED_ISO_MAX], b[SCHED_ISO_MAX];
        size_t cap = 0;
        int cases = 0, fires = 0, nones = 0, bad = 0;
        FILE *fp;

        if (!oracle_available()) {
                print_message("SKIP: %s lacks python3-croniter\n", ORACLE_PY);
                skip();
        }
        for (size_t z = 0; z < 5; z++)
                tzs[z] = tz_ok(zones[z]);
        fp = popen(ORACLE_PY " " ORACLE_SCRIPT, "r");
        assert_non_null(fp);
        while (getline(&line, &cap, fp) > 0) {
                char *expr = line, *zone, *start_s, *list, *tok, *save;
                sched_tz_t *tz = NULL;
                sched_cron_t c;
                int64_t t;

                line[strcspn(line, "\n")] = '\0';
                zone = strchr(expr, '|');
                assert_non_null(zone);
                *zone++ = '\0';
                start_s = strchr(zone, '|');
                assert_non_null(start_s);
                *start_s++ = '\0';
                list = strchr(start_s, '|');
                assert_non_null(list);
                *list++ = '\0';
                for (size_t z = 0; z < 5; z++)
                        if (strcmp(zone, zones[z]) == 0)
                                tz = tzs[z];
                assert_non_null(tz);
                if (sched_cron_parse(expr, &c, errstr, sizeof(errstr))) {
                        print_error("oracle case '%s': parse: %s\n", expr,
                                    errstr);
                        bad++;
                        continue;
                }
                t = strtoll(start_s, NULL, 10);
                for (tok = strtok_r(list, ",", &save); tok;
                     tok = strtok_r(NULL, ",", &save)) {
                        char g[SCHED_ISO_MAX];
                        int64_t got = 0;
                        sched_err_t err = sched_cron_next(&c, tz, t, &got);
                        bool none = strcmp(tok, "none") == 0;
                        int64_t want = none ? 0 : strtoll(tok, NULL, 10);

                        if (none ? err != SCHED_ERR_NOT_FOUND
                                 : (err || got != want)) {
                                if (bad++ < 20)
                                        print_error(
                                                "'%s' in %s after %s:\n"
                                                "  croniter %s\n  klok     "
                                                "%s (%s)\n",
                                                expr, zone, fmt_ms(t, a),
                                                none ? "none"
                                                     : fmt_ms(want, b),
                                                err ? "-" : fmt_ms(got, g),
                                                sched_err2name(err));
                                break;
                        }
                        if (none)
                                nones++;
                        else
                                fires++;
                        t = want;
                }
                cases++;
        }
        free(line);
        assert_int_equal(pclose(fp), 0);
        for (size_t z = 0; z < 5; z++)
                sched_tz_close(tzs[z]);
        print_message("croniter oracle: %d cases, %d fire times and %d "
                      "'never again' checked, %d mismatches\n",
                      cases, fires, nones, bad);
        assert_true(cases >= 5000);
        assert_int_equal(bad, 0);
        (void)state;
}

/* --- Threads -------------------------------------------------------------- */

#define THREADS 4
#define THREAD_CALLS 20000

typedef struct {
        sched_tz_t *tz;
        int64_t sum;
} thr_arg_t;

static void *thr_main(void *p) {
        thr_arg_t *arg = p;
        sched_cron_t c = parse_ok("*/7 1-3 * * *");
        int64_t t = iso("2026-01-01T00:00:00Z");

        for (int i = 0; i < THREAD_CALLS; i++) {
                assert_int_equal(sched_cron_next(&c, arg->tz, t, &t),
                                 SCHED_ERR_OK);
                arg->sum += t % 1000003;
        }
        return NULL;
}

/* Threads sharing one handle get what one thread alone gets. */
static void test_threads(void **state) {
        thr_arg_t args[THREADS + 1];
        pthread_t th[THREADS];
        sched_tz_t *tz = tz_ok("Europe/Berlin");

        for (int i = 0; i <= THREADS; i++)
                args[i] = (thr_arg_t){tz, 0};
        thr_main(&args[THREADS]);
        for (int i = 0; i < THREADS; i++)
                assert_int_equal(pthread_create(&th[i], NULL, thr_main,
                                                &args[i]),
                                 0);
        for (int i = 0; i < THREADS; i++) {
                pthread_join(th[i], NULL);
                assert_int_equal(args[i].sum, args[THREADS].sum);
        }
        sched_tz_close(tz);
        (void)state;
}

/* --- Fuzz ----------------------------------------------------------------- */

/* 100,000 strings: random bytes, random cron-ish text, mutations of valid
 * expressions.  Nothing may crash or hang; what parses must give sane
 * next() answers in any zone. */
static void test_fuzz(void **state) {
        static const char alphabet[] = "0123456789*/,-? @\t*/,-0123456789"
                                       "JANFEBMONSUNsatdecLW#xyz";
        static const char *const zones[] = {"UTC", "Europe/Berlin",
                                            "Australia/Lord_Howe",
                                            "America/Santiago"};
        sched_tz_t *tzs[4];
        char buf[SCHED_CRON_EXPR_MAX + 64];
        int parsed = 0;

        for (int z = 0; z < 4; z++)
                tzs[z] = tz_ok(zones[z]);
        for (int i = 0; i < 100000; i++) {
                size_t n = 0, len;
                sched_cron_t c;
                int64_t after, t;

                switch (i % 3) {
                case 0: /* random bytes, any value but NUL */
                        len = (size_t)rnd_in(0, SCHED_CRON_EXPR_MAX + 20);
                        for (n = 0; n < len; n++)
                                buf[n] = (char)rnd_in(1, 255);
                        buf[n] = '\0';
                        break;
                case 1: /* cron-ish characters */
                        len = (size_t)rnd_in(0, 40);
                        for (n = 0; n < len; n++)
                                buf[n] = alphabet[rnd() %
                                                  (sizeof(alphabet) - 1)];
                        buf[n] = '\0';
                        break;
                default: /* a valid expression, mutated a few times */
                        gen_expr(buf, sizeof(buf), rnd() % 4 == 0);
                        for (int m = rnd_in(0, 3); m > 0; m--) {
                                len = strlen(buf);
                                size_t at = (size_t)rnd_in(0, (int)len);
                                if (rnd() % 2 && len + 1 < sizeof(buf)) {
                                        memmove(buf + at + 1, buf + at,
                                                len - at + 1);
                                        buf[at] = alphabet[rnd() %
                                                           (sizeof(alphabet) -
                                                            1)];
                                } else if (at < len) {
                                        memmove(buf + at, buf + at + 1,
                                                len - at);
                                }
                        }
                }
                errstr[0] = '\0';
                sched_err_t err = sched_cron_parse(buf, &c, errstr,
                                                   sizeof(errstr));
                if (err) {
                        assert_true(err == SCHED_ERR_INVALID ||
                                    err == SCHED_ERR_TOO_BIG);
                        assert_true(errstr[0] != '\0');
                        continue;
                }
                parsed++;
                assert_true(c.sec && c.min && c.hour && c.dom && c.month &&
                            c.dow);
                after = (int64_t)(rnd() % (uint64_t)(SCHED_TZ_MAX_MS -
                                                     SCHED_TZ_MIN_MS)) +
                        SCHED_TZ_MIN_MS;
                if (rnd() % 2) /* mostly near now */
                        after = iso("2000-01-01T00:00:00Z") +
                                (int64_t)(rnd() % (100ULL * 365 * 86400000));
                err = sched_cron_next(&c, tzs[i % 4], after, &t);
                assert_true(err == SCHED_ERR_OK || err == SCHED_ERR_NOT_FOUND);
                if (err == SCHED_ERR_OK) {
                        assert_true(t > after);
                        assert_true(t % 1000 == 0);
                }
        }
        for (int z = 0; z < 4; z++)
                sched_tz_close(tzs[z]);
        print_message("fuzz: 100000 inputs, %d parsed\n", parsed);
        assert_true(parsed > 10000);
        (void)state;
}

/* --- Speed ---------------------------------------------------------------- */

static double rate(int64_t n, int64_t t0) {
        int64_t ms = sched_mono_ms() - t0;
        return (double)n * 1000.0 / (double)(ms > 0 ? ms : 1);
}

static void test_speed(void **state) {
        static const char *const exprs[] = {
                "*/5 * * * *", "0 9 * * MON-FRI", "30 2 * * *",
                "0 0 1 * *",   "15 10 13 * FRI",  "0 0 29 2 *",
        };
        sched_tz_t *tz = tz_ok("Europe/Berlin");
        const int n = 1200000;
        sched_cron_t c;
        int64_t t0, t = 0, sum = 0, y9000 = iso("9000-01-01T00:00:00Z");
        double r_parse, r_utc = 0, r_zone = 0, r_jump;

        t0 = sched_mono_ms();
        for (int i = 0; i < n; i++)
                sum += sched_cron_parse(exprs[i % 6], &c, NULL, 0);
        r_parse = rate(n, t0);
        assert_int_equal(sum, 0);

        /* Chained calls (each from the previous fire), as the timer makes. */
        for (int z = 0; z < 2; z++) {
                const sched_tz_t *zone = z ? tz : NULL;
                t0 = sched_mono_ms();
                for (int i = 0; i < n; i++) {
                        if (i % (n / 6) == 0)
                                c = parse_ok(exprs[i / (n / 6) % 6]);
                        /* Rare schedules would run out of years. */
                        if (i % (n / 6) == 0 || t > y9000)
                                t = iso("2026-01-01T00:00:00Z");
                        assert_int_equal(sched_cron_next(&c, zone, t, &t),
                                         SCHED_ERR_OK);
                }
                if (z)
                        r_zone = rate(n, t0);
                else
                        r_utc = rate(n, t0);
        }
        /* Random instants (no locality for the zone's cached period). */
        c = parse_ok("0 9 * * MON-FRI");
        t0 = sched_mono_ms();
        for (int i = 0; i < n / 4; i++) {
                t = iso("2000-01-01T00:00:00Z") +
                    (int64_t)(rnd() % (60ULL * 365 * 86400000));
                assert_int_equal(sched_cron_next(&c, tz, t, &t), SCHED_ERR_OK);
        }
        r_jump = rate(n / 4, t0);
        print_message("speed: parse %.0f/s; next() chained: UTC %.0f/s, "
                      "Europe/Berlin %.0f/s; random instants in "
                      "Europe/Berlin %.0f/s\n",
                      r_parse, r_utc, r_zone, r_jump);
        /* A loose floor, for the ASan build too: catches a search that
         * walks seconds instead of fields. */
        assert_true(r_zone > 20000 && r_jump > 5000);
        sched_tz_close(tz);
        (void)state;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_valid),
                cmocka_unit_test(test_parse_errors),
                cmocka_unit_test(test_day_rule),
                cmocka_unit_test(test_next_basics),
                cmocka_unit_test(test_never_and_limits),
                cmocka_unit_test(test_tz_open),
                cmocka_unit_test(test_tz_conversions),
                cmocka_unit_test(test_dst_berlin),
                cmocka_unit_test(test_dst_new_york),
                cmocka_unit_test(test_dst_lord_howe),
                cmocka_unit_test(test_dst_santiago),
                cmocka_unit_test(test_dst_brute_force),
                cmocka_unit_test(test_dst_history),
                cmocka_unit_test(test_dst_all_zones),
                cmocka_unit_test(test_oracle),
                cmocka_unit_test(test_threads),
                cmocka_unit_test(test_fuzz),
                cmocka_unit_test(test_speed),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
