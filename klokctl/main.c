/*
 * main.c — klokctl: global options, the command table, dispatch (ctl.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "ctl.h"
#include "sched/codec.h"
#include "sched/time.h"

static const ctl_cmd_t commands[] = {
        {"submit", ctl_cmd_submit, "FILE.json | -",
         "create a job from a JSON body (POST /v1/jobs)"},
        {"get", ctl_cmd_get, "JOB_ID [--executions]",
         "show a job (and its executions)"},
        {"list", ctl_cmd_list,
         "[--status S] [--queue Q] [--from T] [--to T] [--limit N] [--all]",
         "list jobs, oldest first"},
        {"cancel", ctl_cmd_cancel, "JOB_ID [--reason TEXT]", "cancel a job"},
        {"pause", ctl_cmd_pause, "JOB_ID [--reason TEXT]", "pause a job"},
        {"resume", ctl_cmd_resume, "JOB_ID [--reason TEXT]", "resume a job"},
        {"history", ctl_cmd_history,
         "--job ID | --tenant T [--from T] [--to T] [--verify] [--scan]",
         "every event of a job (or tenant) from Kafka, in order"},
        {"state-as-of", ctl_cmd_state_as_of, "--job ID --at TIME [--scan]",
         "a job's state at an instant, replayed through the appliers"},
        {"rebuild", ctl_cmd_rebuild,
         "--partition N [--verify] [--timer-admin URL] [--no-view]",
         "replay a partition into scratch stores; --verify: compare their "
         "digests with the live timer's and view's"},
        {"dlq", ctl_cmd_dlq,
         "list [--from T] [--to T] | show P:OFFSET | replay P:OFFSET "
         "[--to-topic T]",
         "dead-lettered records: list, show one, produce one again"},
        {"cron", ctl_cmd_cron,
         "next EXPR [--tz ZONE] [--from TIME] [--count N]",
         "the next instants of a cron expression"},
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

int ctl_fail(int code, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        fputs("klokctl: ", stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
        return code;
}

int ctl_put_json(json_t *o) {
        char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER)
                       : NULL;
        json_decref(o);
        if (!text)
                return ctl_fail(CTL_FOUND_PROBLEM, "out of memory");
        puts(text);
        free(text);
        return 0;
}

sched_codec_t *ctl_codec(const ctl_t *ctl) {
        char errstr[1024];
        sched_codec_t *codec = sched_codec_new(ctl->schemas, errstr,
                                               sizeof(errstr));
        if (!codec)
                ctl_fail(CTL_USAGE, "schemas in %s: %s", ctl->schemas, errstr);
        return codec;
}

bool ctl_parse_time(const char *s, int64_t *ms) {
        if (!strcmp(s, "now")) {
                *ms = sched_now_ms();
                return true;
        }
        char *end;
        if (*s >= '0' && *s <= '9') {
                long long v = strtoll(s, &end, 10);
                if (!*end) {
                        *ms = (int64_t)v;
                        return true;
                }
        }
        return sched_time_parse(s, ms) == SCHED_ERR_OK;
}

static void usage(FILE *fp) {
        fprintf(fp, "usage: klokctl [--api URL] [--token T | --token-file F] "
                    "[--bootstrap HOST:PORT]\n"
                    "               [--prefix P] [--schemas DIR] "
                    "[--output table|json] COMMAND ...\n\ncommands:\n");
        for (size_t i = 0; i < NCOMMANDS; i++)
                fprintf(fp, "  %-12s %s\n  %-12s   %s\n", commands[i].name,
                        commands[i].usage, "", commands[i].help);
        fprintf(fp, "\nenvironment: KLOK_API, KLOK_TOKEN, KLOK_TOKEN_FILE, "
                    "KLOK_BOOTSTRAP, KLOK_PREFIX, KLOK_SCHEMAS\n"
                    "exit: 0 ok, 1 a problem found (HTTP error, broken "
                    "chain, mismatch), 2 bad usage or input\n");
}

static int set(char *dst, size_t size, const char *name, const char *v) {
        if (!v || strlen(v) >= size)
                return ctl_fail(CTL_USAGE, "%s: missing or too long", name);
        memcpy(dst, v, strlen(v) + 1);
        return 0;
}

/* The token from a file: its first line. */
static int token_file(ctl_t *ctl, const char *path) {
        FILE *fp = fopen(path, "r");
        if (!fp)
                return ctl_fail(CTL_USAGE, "cannot read the token file %s",
                                path);
        bool ok = fgets(ctl->token, sizeof(ctl->token), fp) != NULL;
        fclose(fp);
        ctl->token[strcspn(ctl->token, "\r\n")] = '\0';
        if (!ok || !ctl->token[0])
                return ctl_fail(CTL_USAGE, "the token file %s is empty", path);
        return 0;
}

static void defaults(ctl_t *ctl) {
        const char *e;
        snprintf(ctl->api, sizeof(ctl->api), "%s",
                 (e = getenv("KLOK_API")) ? e : "http://127.0.0.1:9080");
        snprintf(ctl->bootstrap, sizeof(ctl->bootstrap), "%s",
                 (e = getenv("KLOK_BOOTSTRAP")) ? e : "127.0.0.1:9092");
        snprintf(ctl->prefix, sizeof(ctl->prefix), "%s",
                 (e = getenv("KLOK_PREFIX")) ? e : "klok");
        snprintf(ctl->schemas, sizeof(ctl->schemas), "%s",
                 (e = getenv("KLOK_SCHEMAS")) ? e : KLOK_DEFAULT_SCHEMAS);
        snprintf(ctl->token, sizeof(ctl->token), "%s",
                 (e = getenv("KLOK_TOKEN")) ? e : "");
        ctl->json = !isatty(STDOUT_FILENO);
}

int main(int argc, char **argv) {
        static ctl_t ctl;
        defaults(&ctl);
        const char *tf = getenv("KLOK_TOKEN_FILE");
        if (tf && !ctl.token[0] && token_file(&ctl, tf))
                return CTL_USAGE;
        int i = 1;
        for (; i < argc && argv[i][0] == '-'; i++) {
                const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
                int rc = -1;
                if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
                        usage(stdout);
                        return CTL_OK;
                } else if (!strcmp(o, "--api")) {
                        rc = set(ctl.api, sizeof(ctl.api), o, v);
                } else if (!strcmp(o, "--token")) {
                        rc = set(ctl.token, sizeof(ctl.token), o, v);
                } else if (!strcmp(o, "--token-file")) {
                        rc = v ? token_file(&ctl, v)
                               : ctl_fail(CTL_USAGE, "--token-file: missing");
                } else if (!strcmp(o, "--bootstrap")) {
                        rc = set(ctl.bootstrap, sizeof(ctl.bootstrap), o, v);
                } else if (!strcmp(o, "--prefix")) {
                        rc = set(ctl.prefix, sizeof(ctl.prefix), o, v);
                } else if (!strcmp(o, "--schemas")) {
                        rc = set(ctl.schemas, sizeof(ctl.schemas), o, v);
                } else if (!strcmp(o, "--output")) {
                        if (v && !strcmp(v, "json"))
                                ctl.json = true, rc = 0;
                        else if (v && !strcmp(v, "table"))
                                ctl.json = false, rc = 0;
                        else
                                rc = ctl_fail(CTL_USAGE,
                                              "--output: table or json");
                } else {
                        usage(stderr);
                        return ctl_fail(CTL_USAGE, "unknown option %s", o);
                }
                if (rc)
                        return CTL_USAGE;
                i++; /* the option's value */
        }
        if (i >= argc) {
                usage(stderr);
                return CTL_USAGE;
        }
        for (size_t c = 0; c < NCOMMANDS; c++)
                if (!strcmp(argv[i], commands[c].name))
                        return commands[c].run(&ctl, argc - i, argv + i);
        usage(stderr);
        return ctl_fail(CTL_USAGE, "unknown command %s", argv[i]);
}
