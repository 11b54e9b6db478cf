/*
 * time.c — clocks and RFC 3339 instants.
 */
#include "sched/time.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t sched_now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t sched_now_us(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t sched_mono_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t sched_days_from_civil(int64_t y, int m, int d) {
        y -= m <= 2;
        const int64_t era = (y >= 0 ? y : y - 399) / 400;
        const int64_t yoe = y - era * 400;
        const int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
        const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + doe - 719468;
}

void sched_civil_from_days(int64_t z, int64_t *y, int *m, int *d) {
        z += 719468;
        const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
        const int64_t doe = z - era * 146097;
        const int64_t yoe =
                (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        const int64_t mp = (5 * doy + 2) / 153;
        *d = (int)(doy - (153 * mp + 2) / 5 + 1);
        *m = (int)(mp < 10 ? mp + 3 : mp - 9);
        *y = yoe + era * 400 + (*m <= 2);
}

void sched_time_format(int64_t ms, char out[SCHED_ISO_MAX]) {
        int64_t secs = ms / 1000, msec = ms % 1000;
        if (msec < 0) {
                msec += 1000;
                secs--;
        }
        time_t t = (time_t)secs;
        struct tm tm;
        gmtime_r(&t, &tm);
        snprintf(out, SCHED_ISO_MAX, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, (int)msec);
}

/* Read exactly n digits. */
static int digits(const char **sp, int n, int *out) {
        int v = 0;
        for (int i = 0; i < n; i++) {
                if (!isdigit((unsigned char)(*sp)[i]))
                        return -1;
                v = v * 10 + ((*sp)[i] - '0');
        }
        *sp += n;
        *out = v;
        return 0;
}

static int expect(const char **sp, char c) {
        if (**sp != c)
                return -1;
        (*sp)++;
        return 0;
}

sched_err_t sched_time_parse(const char *s, int64_t *msp) {
        int Y, M, D, h, m, sec, frac = 0;
        if (!s || digits(&s, 4, &Y) || expect(&s, '-') || digits(&s, 2, &M) ||
            expect(&s, '-') || digits(&s, 2, &D))
                return SCHED_ERR_INVALID;
        if (*s != 'T' && *s != 't' && *s != ' ')
                return SCHED_ERR_INVALID;
        s++;
        if (digits(&s, 2, &h) || expect(&s, ':') || digits(&s, 2, &m) ||
            expect(&s, ':') || digits(&s, 2, &sec))
                return SCHED_ERR_INVALID;
        if (*s == '.') {
                s++;
                int n = 0;
                while (isdigit((unsigned char)*s)) {
                        if (n < 3)
                                frac = frac * 10 + (*s - '0');
                        n++, s++;
                }
                if (n == 0 || n > 9)
                        return SCHED_ERR_INVALID;
                for (; n < 3; n++)
                        frac *= 10;
        }
        int off_min = 0;
        if (*s == 'Z' || *s == 'z') {
                s++;
        } else if (*s == '+' || *s == '-') {
                int sign = *s == '-' ? -1 : 1, oh, om;
                s++;
                if (digits(&s, 2, &oh) || expect(&s, ':') || digits(&s, 2, &om) ||
                    oh > 23 || om > 59)
                        return SCHED_ERR_INVALID;
                off_min = sign * (oh * 60 + om);
        } else {
                return SCHED_ERR_INVALID;
        }
        if (*s != '\0')
                return SCHED_ERR_INVALID;
        static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        if (M < 1 || M > 12 || D < 1 || D > mdays[M - 1] || h > 23 || m > 59 ||
            sec > 60)
                return SCHED_ERR_INVALID;
        int leap = (Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0;
        if (M == 2 && D == 29 && !leap)
                return SCHED_ERR_INVALID;
        if (sec == 60)
                sec = 59; /* leap second: clamp, as POSIX time does */
        int64_t days = sched_days_from_civil(Y, M, D);
        int64_t t = ((days * 24 + h) * 60 + m) * 60 + sec - (int64_t)off_min * 60;
        *msp = t * 1000 + frac;
        return SCHED_ERR_OK;
}
