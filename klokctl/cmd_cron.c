/*
 * cmd_cron.c — `klokctl cron next EXPR [--tz ZONE] [--from TIME] [--count N]`:
 * the next instants of a cron expression, computed by the code the timer
 * service fires with (sched/cron.h, the zone from sched/tz.h), so the
 * preview is what will happen, DST policy included (docs/CRON.md).
 *
 * Prints N instants (default 5, at most 1000) strictly after --from (default
 * now), each one after the previous, as "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC), one
 * per line, in both output modes: a list of instants reads the same way
 * either way.  An expression that never fires again ends the list early,
 * said on stderr, exit 0.  A bad expression, zone, time or count: exit 2
 * with the parser's reason ("field 'hour': 24 is out of range 0-23
 * (position 6)").  Needs neither the API nor Kafka.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "sched/cron.h"
#include "sched/time.h"
#include "sched/tz.h"

#define COUNT_DEFAULT 5
#define COUNT_MAX 1000

typedef struct cron_args_s {
        const char *expr, *zone, *from, *count;
} cron_args_t;

/* argv[0] = "cron", argv[1] = "next", then EXPR and options in any order.
 * CTL_OK, or CTL_USAGE after saying why. */
static int cron_args(int argc, char **argv, cron_args_t *a) {
        memset(a, 0, sizeof(*a));
        if (argc < 2 || strcmp(argv[1], "next"))
                return ctl_fail(CTL_USAGE,
                                "cron: expected 'next EXPR [--tz ZONE] "
                                "[--from TIME] [--count N]'");
        for (int i = 2; i < argc; i++) {
                const char *arg = argv[i], **dst = NULL;
                if (!strcmp(arg, "--tz"))
                        dst = &a->zone;
                else if (!strcmp(arg, "--from"))
                        dst = &a->from;
                else if (!strcmp(arg, "--count"))
                        dst = &a->count;
                else if (arg[0] == '-' && arg[1])
                        return ctl_fail(CTL_USAGE,
                                        "cron next: unknown option %s "
                                        "(klokctl --help)",
                                        arg);
                else if (a->expr)
                        return ctl_fail(CTL_USAGE,
                                        "cron next: the expression is one "
                                        "argument: quote it ('0 9 * * "
                                        "MON-FRI')");
                else
                        a->expr = arg;
                if (!dst)
                        continue;
                if (i + 1 == argc)
                        return ctl_fail(CTL_USAGE,
                                        "cron next: %s needs a value", arg);
                *dst = argv[++i];
        }
        if (!a->expr)
                return ctl_fail(CTL_USAGE,
                                "cron next: which expression? (EXPR)");
        return CTL_OK;
}

int ctl_cmd_cron(ctl_t *ctl, int argc, char **argv) {
        cron_args_t a;
        if (cron_args(argc, argv, &a))
                return CTL_USAGE;

        long count = COUNT_DEFAULT;
        if (a.count) {
                char *end;
                count = strtol(a.count, &end, 10);
                if (*end || *a.count < '0' || *a.count > '9' || count < 1 ||
                    count > COUNT_MAX)
                        return ctl_fail(CTL_USAGE,
                                        "cron next: --count: an integer "
                                        "1..%d",
                                        COUNT_MAX);
        }
        int64_t at = sched_now_ms();
        if (a.from && !ctl_parse_time(a.from, &at))
                return ctl_fail(CTL_USAGE,
                                "cron next: --from: '%s' is not RFC 3339, "
                                "now, or epoch milliseconds",
                                a.from);

        sched_cron_t cron;
        char errstr[256];
        if (sched_cron_parse(a.expr, &cron, errstr, sizeof(errstr)))
                return ctl_fail(CTL_USAGE,
                                "cron next: invalid expression '%s': %s",
                                a.expr, errstr);
        sched_tz_t *tz = NULL; /* UTC */
        if (a.zone && !(tz = sched_tz_open(a.zone, errstr, sizeof(errstr))))
                return ctl_fail(CTL_USAGE, "cron next: --tz: %s", errstr);

        int rc = CTL_OK;
        char iso[SCHED_ISO_MAX];
        for (long i = 0; i < count; i++) {
                int64_t next;
                sched_err_t err = sched_cron_next(&cron, tz, at, &next);
                sched_time_format(at, iso);
                if (err == SCHED_ERR_NOT_FOUND) {
                        ctl_fail(CTL_OK, "'%s' never fires after %s", a.expr,
                                 iso);
                        break;
                }
                if (err) {
                        rc = ctl_fail(CTL_USAGE,
                                      "cron next: %s is outside the years "
                                      "1..9999",
                                      iso);
                        break;
                }
                sched_time_format(next, iso);
                puts(iso);
                at = next;
        }
        sched_tz_close(tz);
        if (fflush(stdout) || ferror(stdout))
                rc = ctl_fail(CTL_FOUND_PROBLEM, "cannot write the output");
        return rc;
}
