/*
 * cmd_jobs.c — klokctl's job commands over klok-api's HTTP API
 * (docs/API.md): submit, get, list, cancel, pause, resume, through
 * api_client.c (one kept-alive connection per command).
 *
 * Output: with ctl->json, JSON lines: one compact object per line, the API's
 * own (a write's answer; a job; for a list one line per job; for get
 * --executions the job, then one line per execution).  Otherwise tables and
 * "key: value" lines for people; write commands print
 * "accepted <job_id> (consistency token <p:o>)".
 *
 * Exit codes (ctl.h): 0 on a 2xx answer; 1 on an HTTP error, with the API's
 * error, message and field on stderr ("klokctl: HTTP 404 not_found: no such
 * job"), or an answer that is not what the API promises; 2 on bad usage or
 * input (unknown option, missing argument, unreadable or too large body, a
 * job id that is no path segment), and when the API cannot be reached.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <jansson.h>

#include "ctl.h"
#include "sched/event.h"
#include "sched/time.h"

#define BODY_MAX (1024 * 1024) /* a submit's body */
#define LIST_LIMIT_MAX 1000
#define EXEC_PAGE 1000   /* executions per request of get --executions */
#define ARG_LEN_MAX 256  /* a --status, --queue, ... value */

/* --- Arguments ------------------------------------------------------------ */

typedef struct jobs_opt_s {
        const char *name;   /* "--reason" */
        const char **value; /* takes a value, stored here; or */
        bool *flag;         /* a switch, set here */
} jobs_opt_t;

/*
 * Options anywhere after the command name (argv[0]); the other arguments
 * fill pos[0..max-1] ("-" is one of them; "--" ends the options).
 * @returns how many positional arguments there were, or -1 after saying why.
 */
static int args_parse(int argc, char **argv, const jobs_opt_t *opts,
                      const char **pos, int max) {
        int npos = 0;
        bool opts_done = false;
        for (int i = 1; i < argc; i++) {
                const char *a = argv[i];
                if (!opts_done && !strcmp(a, "--")) {
                        opts_done = true;
                        continue;
                }
                if (opts_done || a[0] != '-' || !a[1]) {
                        if (npos == max) {
                                ctl_fail(CTL_USAGE,
                                         "%s: unexpected argument '%s'",
                                         argv[0], a);
                                return -1;
                        }
                        pos[npos++] = a;
                        continue;
                }
                const jobs_opt_t *o = opts;
                while (o->name && strcmp(o->name, a))
                        o++;
                if (!o->name) {
                        ctl_fail(CTL_USAGE,
                                 "%s: unknown option %s (klokctl --help)",
                                 argv[0], a);
                        return -1;
                }
                if (o->flag) {
                        *o->flag = true;
                } else if (i + 1 == argc) {
                        ctl_fail(CTL_USAGE, "%s: %s needs a value", argv[0],
                                 a);
                        return -1;
                } else {
                        *o->value = argv[++i];
                }
        }
        return npos;
}

/* A job id goes into the URL path as one segment: only the characters ids
 * are made of, and not "." or ".." (which a URL resolves as steps). */
static bool job_id_ok(const char *id) {
        static const char ok[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                 "abcdefghijklmnopqrstuvwxyz0123456789._:-";
        size_t n = strlen(id);
        return n > 0 && n < SCHED_ID_MAX && strspn(id, ok) == n &&
               strspn(id, ".") != n;
}

static int job_id_arg(const char *cmd, int npos, const char *id) {
        if (npos < 1)
                return ctl_fail(CTL_USAGE, "%s: which job? (JOB_ID)", cmd);
        if (!job_id_ok(id))
                return ctl_fail(CTL_USAGE,
                                "%s: a job id is 1..%d characters of "
                                "A-Za-z0-9._:- (and not only dots)",
                                cmd, SCHED_ID_MAX - 1);
        return CTL_OK;
}

/* A header value: printable ASCII, no spaces (an Idempotency-Key). */
static bool header_token_ok(const char *s) {
        for (; *s; s++)
                if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
                        return false;
        return true;
}

/* --- Output ---------------------------------------------------------------- */

/* One compact JSON line. */
static int put_json(const json_t *j) {
        char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!s)
                return ctl_fail(CTL_FOUND_PROBLEM, "out of memory");
        puts(s);
        free(s);
        return CTL_OK;
}

/* A value as text: strings as they are, null as "-", numbers, compact JSON
 * for objects and arrays.  *alloc is set when the text was allocated. */
static const char *value_text(const json_t *v, char *num, size_t num_size,
                              char **alloc) {
        *alloc = NULL;
        switch (json_typeof(v)) {
        case JSON_STRING:
                return json_string_value(v);
        case JSON_INTEGER:
                snprintf(num, num_size, "%" JSON_INTEGER_FORMAT,
                         json_integer_value(v));
                return num;
        case JSON_REAL:
                snprintf(num, num_size, "%g", json_real_value(v));
                return num;
        case JSON_TRUE:
                return "true";
        case JSON_FALSE:
                return "false";
        case JSON_OBJECT:
        case JSON_ARRAY:
                *alloc = json_dumps(v, JSON_COMPACT);
                return *alloc ? *alloc : "?";
        default:
                return "-";
        }
}

/* s in a column of width code points: cut with "…" when longer, padded
 * unless it is the last column; control characters shown as spaces.  (Code
 * points, not display cells: good enough for names and messages.) */
static void put_cell(const char *s, int width, bool last) {
        int cps = 0, n = 0;
        for (const char *p = s; *p; p++)
                if (((unsigned char)*p & 0xc0) != 0x80)
                        cps++;
        int keep = cps > width ? width - 1 : cps;
        for (const char *p = s; *p; p++) {
                if (((unsigned char)*p & 0xc0) != 0x80 && n++ == keep)
                        break;
                putchar((unsigned char)*p < 0x20 || *p == 0x7f ? ' ' : *p);
        }
        if (cps > width) {
                fputs("\xe2\x80\xa6", stdout); /* … */
                cps = width;
        }
        if (!last)
                printf("%*s", width - cps + 2, "");
        else
                putchar('\n');
}

static void put_value_cell(const json_t *o, const char *key, int width,
                           bool last) {
        char num[32], *alloc;
        put_cell(value_text(json_object_get(o, key), num, sizeof(num), &alloc),
                 width, last);
        free(alloc);
}

/* "key:   value", values aligned. */
static void put_field(const char *key, const json_t *v) {
        char num[32], *alloc;
        printf("%s:%*s %s\n", key, 18 - (int)strlen(key), "",
               value_text(v, num, sizeof(num), &alloc));
        free(alloc);
}

/* A job document as "key: value" lines: the telling keys first, in this
 * order, then any others in the document's. */
static void put_job_fields(const json_t *job) {
        static const char *const first[] = {
                "job_id",        "name",           "state",
                "state_reason",  "task",           "queue",
                "priority",      "schedule",       "next_run_at",
                "upcoming",      "last_execution", "progress",
                "parameters",    "retry",          "timeout_ms",
                "idempotency_key", "tenant",       "created_at",
                "updated_at",    "create_offset",  "definition_sha256",
                NULL};
        const char *key;
        const json_t *v;
        for (int i = 0; first[i]; i++)
                if ((v = json_object_get(job, first[i])))
                        put_field(first[i], v);
        json_object_foreach((json_t *)job, key, v) {
                int i = 0;
                while (first[i] && strcmp(first[i], key))
                        i++;
                if (!first[i])
                        put_field(key, v);
        }
}

/* The answer of a write: the JSON line, or "accepted <id> (...)". */
static int put_accepted(const ctl_t *ctl, const json_t *ans) {
        if (ctl->json)
                return put_json(ans);
        const char *id = json_string_value(json_object_get(ans, "job_id"));
        const char *token =
                json_string_value(json_object_get(ans, "consistency_token"));
        if (!id || !token)
                return ctl_fail(CTL_FOUND_PROBLEM,
                                "the API's answer lacks job_id or "
                                "consistency_token");
        printf("accepted %s (consistency token %s)\n", id, token);
        return CTL_OK;
}

/* Flush stdout, and say so if the output could not be written. */
static int finish(int rc) {
        if (fflush(stdout) || ferror(stdout))
                return ctl_fail(CTL_FOUND_PROBLEM, "cannot write the output");
        return rc;
}

/* --- submit ---------------------------------------------------------------- */

/* The body from a file or "-" (standard input), at most BODY_MAX bytes. */
static int read_body(const char *file, char **bodyp, size_t *lenp) {
        bool is_stdin = !strcmp(file, "-");
        const char *name = is_stdin ? "standard input" : file;
        FILE *fp = is_stdin ? stdin : fopen(file, "rb");
        if (!fp)
                return ctl_fail(CTL_USAGE, "submit: cannot read %s: %s", name,
                                strerror(errno));
        char *body = malloc(BODY_MAX + 1);
        size_t len = 0, n;
        int rc = CTL_OK;
        if (!body) {
                rc = ctl_fail(CTL_USAGE, "out of memory");
                goto done;
        }
        while (len <= BODY_MAX &&
               (n = fread(body + len, 1, BODY_MAX + 1 - len, fp)) > 0)
                len += n;
        if (ferror(fp))
                rc = ctl_fail(CTL_USAGE, "submit: cannot read %s: %s", name,
                              strerror(errno));
        else if (len > BODY_MAX)
                rc = ctl_fail(CTL_USAGE, "submit: %s is over %d bytes (1 MiB)",
                              name, BODY_MAX);
done:
        if (!is_stdin)
                fclose(fp);
        if (rc) {
                free(body);
                return rc;
        }
        body[len] = '\0';
        *bodyp = body;
        *lenp = len;
        return CTL_OK;
}

int ctl_cmd_submit(ctl_t *ctl, int argc, char **argv) {
        const char *file = NULL, *key = NULL;
        const jobs_opt_t opts[] = {{"--idempotency-key", &key, NULL},
                                   {NULL, NULL, NULL}};
        int npos = args_parse(argc, argv, opts, &file, 1);
        if (npos < 0)
                return CTL_USAGE;
        if (npos == 0)
                return ctl_fail(CTL_USAGE,
                                "submit: expected FILE.json, or - for "
                                "standard input");
        if (key && (!*key || !header_token_ok(key)))
                return ctl_fail(CTL_USAGE,
                                "submit: --idempotency-key: printable ASCII "
                                "without spaces");
        char *body = NULL;
        size_t len = 0;
        if (read_body(file, &body, &len))
                return CTL_USAGE;
        ctl_http_t h;
        json_t *ans = NULL;
        int rc = ctl_http_open(&h, ctl);
        if (!rc)
                rc = ctl_http_call(&h, "POST", "/v1/jobs", body, len, key,
                                   &ans);
        if (!rc)
                rc = put_accepted(ctl, ans);
        json_decref(ans);
        ctl_http_close(&h);
        free(body);
        return finish(rc);
}

/* --- get ------------------------------------------------------------------- */

static void put_execution_row(const json_t *ex) {
        put_value_cell(ex, "scheduled_at", 24, false);
        put_value_cell(ex, "attempt", 7, false);
        put_value_cell(ex, "status", 13, false);
        put_value_cell(ex, "finished_at", 24, false);
        put_value_cell(ex, "exit_code", 9, false);
        put_value_cell(ex, "message", 60, true);
}

/* Every page of the job's executions, printed as they come. */
static int get_executions(ctl_http_t *h, const char *id) {
        const ctl_t *ctl = h->ctl;
        char *cursor = NULL;
        int rc = CTL_OK;
        if (!ctl->json) {
                printf("\n%-24s  %-7s  %-13s  %-24s  %-9s  %s\n",
                       "SCHEDULED", "ATTEMPT", "STATUS", "FINISHED",
                       "EXIT CODE", "MESSAGE");
        }
        for (;;) {
                char path[CTL_PATH_MAX + CTL_QUERY_MAX], q[CTL_QUERY_MAX] = "",
                                                    limit[16];
                snprintf(limit, sizeof(limit), "%d", EXEC_PAGE);
                if (!ctl_http_query_add(h, q, "limit", limit) ||
                    (cursor && !ctl_http_query_add(h, q, "cursor", cursor))) {
                        rc = ctl_fail(CTL_FOUND_PROBLEM,
                                      "the API's cursor is too long");
                        break;
                }
                snprintf(path, sizeof(path), "/v1/jobs/%s/executions%s", id,
                         q);
                json_t *page;
                if ((rc = ctl_http_call(h, "GET", path, NULL, 0, NULL, &page)))
                        break;
                const json_t *list = json_object_get(page, "executions");
                const json_t *next = json_object_get(page, "next_cursor");
                if (!json_is_array(list) ||
                    !(json_is_string(next) || json_is_null(next))) {
                        json_decref(page);
                        rc = ctl_fail(CTL_FOUND_PROBLEM,
                                      "the executions page lacks executions "
                                      "or next_cursor");
                        break;
                }
                size_t i;
                const json_t *ex;
                json_array_foreach(list, i, ex) {
                        if (ctl->json)
                                rc = put_json(ex);
                        else
                                put_execution_row(ex);
                }
                const char *nx = json_string_value(next);
                if (!rc && nx && cursor && !strcmp(nx, cursor))
                        rc = ctl_fail(CTL_FOUND_PROBLEM,
                                      "the API repeated the cursor %s", nx);
                char *nc = nx && !rc ? strdup(nx) : NULL;
                json_decref(page);
                free(cursor);
                cursor = nc;
                if (rc || !cursor)
                        break;
        }
        free(cursor);
        return rc;
}

int ctl_cmd_get(ctl_t *ctl, int argc, char **argv) {
        const char *id = NULL;
        bool execs = false;
        const jobs_opt_t opts[] = {{"--executions", NULL, &execs},
                                   {NULL, NULL, NULL}};
        int npos = args_parse(argc, argv, opts, &id, 1);
        if (npos < 0 || job_id_arg(argv[0], npos, id))
                return CTL_USAGE;
        char path[CTL_PATH_MAX];
        snprintf(path, sizeof(path), "/v1/jobs/%s", id);
        ctl_http_t h;
        json_t *job = NULL;
        int rc = ctl_http_open(&h, ctl);
        if (!rc)
                rc = ctl_http_call(&h, "GET", path, NULL, 0, NULL, &job);
        if (!rc && !json_is_object(job))
                rc = ctl_fail(CTL_FOUND_PROBLEM, "the job is not an object");
        if (!rc) {
                if (ctl->json)
                        rc = put_json(job);
                else
                        put_job_fields(job);
        }
        if (!rc && execs)
                rc = get_executions(&h, id);
        json_decref(job);
        ctl_http_close(&h);
        return finish(rc);
}

/* --- list ------------------------------------------------------------------ */

static void put_job_row(const json_t *job) {
        put_value_cell(job, "job_id", 36, false);
        put_value_cell(job, "name", 24, false);
        put_value_cell(job, "state", 13, false);
        put_value_cell(job, "queue", 12, false);
        put_value_cell(job, "next_run_at", 24, false);
        put_value_cell(job, "created_at", 24, true);
}

/* The filters of a list as a query: CTL_OK, or CTL_USAGE after saying
 * why. */
static int list_query(ctl_http_t *h, char *q, const char *status,
                      const char *queue, const char *from, const char *to,
                      const char *limit) {
        struct {
                const char *param, *opt, *value;
        } f[] = {{"status", "--status", status}, {"queue", "--queue", queue},
                 {"from", "--from", from},       {"to", "--to", to},
                 {"limit", "--limit", limit}};
        for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
                const char *v = f[i].value;
                char iso[SCHED_ISO_MAX];
                if (!v)
                        continue;
                if (!*v || strlen(v) > ARG_LEN_MAX)
                        return ctl_fail(CTL_USAGE,
                                        "list: %s: empty or too long",
                                        f[i].opt);
                if (v == from || v == to) {
                        int64_t ms;
                        if (!ctl_parse_time(v, &ms))
                                return ctl_fail(
                                        CTL_USAGE,
                                        "list: %s: '%s' is not RFC 3339, "
                                        "now, or epoch milliseconds",
                                        f[i].opt, v);
                        sched_time_format(ms, iso);
                        v = iso;
                } else if (v == limit) {
                        char *end;
                        long n = strtol(v, &end, 10);
                        if (*end || *v < '0' || *v > '9' || n < 1 ||
                            n > LIST_LIMIT_MAX)
                                return ctl_fail(CTL_USAGE,
                                                "list: --limit: an integer "
                                                "1..%d",
                                                LIST_LIMIT_MAX);
                }
                if (!ctl_http_query_add(h, q, f[i].param, v))
                        return ctl_fail(CTL_USAGE, "list: %s: too long",
                                        f[i].opt);
        }
        return CTL_OK;
}

int ctl_cmd_list(ctl_t *ctl, int argc, char **argv) {
        const char *status = NULL, *queue = NULL, *from = NULL, *to = NULL,
                   *limit = NULL, *cursor_arg = NULL;
        bool all = false;
        const jobs_opt_t opts[] = {
                {"--status", &status, NULL}, {"--queue", &queue, NULL},
                {"--from", &from, NULL},     {"--to", &to, NULL},
                {"--limit", &limit, NULL},   {"--cursor", &cursor_arg, NULL},
                {"--all", NULL, &all},       {NULL, NULL, NULL}};
        if (args_parse(argc, argv, opts, NULL, 0) < 0)
                return CTL_USAGE;
        ctl_http_t h;
        char base[CTL_QUERY_MAX] = "";
        int rc = ctl_http_open(&h, ctl);
        if (rc)
                return rc;
        if ((rc = list_query(&h, base, status, queue, from, to, limit))) {
                ctl_http_close(&h);
                return rc;
        }
        char *cursor = cursor_arg ? strdup(cursor_arg) : NULL;
        if (!ctl->json)
                printf("%-36s  %-24s  %-13s  %-12s  %-24s  %s\n", "JOB ID",
                       "NAME", "STATE", "QUEUE", "NEXT RUN", "CREATED");
        for (;;) {
                char q[CTL_QUERY_MAX], path[CTL_PATH_MAX + CTL_QUERY_MAX];
                memcpy(q, base, sizeof(q));
                if (cursor && !ctl_http_query_add(&h, q, "cursor", cursor)) {
                        rc = ctl_fail(CTL_USAGE, "list: the cursor is too "
                                                 "long");
                        break;
                }
                snprintf(path, sizeof(path), "/v1/jobs%s", q);
                json_t *page;
                if ((rc = ctl_http_call(&h, "GET", path, NULL, 0, NULL, &page)))
                        break;
                const json_t *jobs = json_object_get(page, "jobs");
                const json_t *next = json_object_get(page, "next_cursor");
                if (!json_is_array(jobs) ||
                    !(json_is_string(next) || json_is_null(next))) {
                        json_decref(page);
                        rc = ctl_fail(CTL_FOUND_PROBLEM,
                                      "the page lacks jobs or next_cursor");
                        break;
                }
                size_t i;
                const json_t *job;
                json_array_foreach(jobs, i, job) {
                        if (ctl->json)
                                rc = put_json(job);
                        else
                                put_job_row(job);
                }
                const char *nx = json_string_value(next);
                if (!rc && nx && !all)
                        fprintf(stderr,
                                "klokctl: more jobs: --cursor %s (or "
                                "--all)\n",
                                nx);
                if (!rc && nx && all && cursor && !strcmp(nx, cursor))
                        rc = ctl_fail(CTL_FOUND_PROBLEM,
                                      "the API repeated the cursor %s", nx);
                char *nc = nx && all && !rc ? strdup(nx) : NULL;
                json_decref(page);
                free(cursor);
                cursor = nc;
                if (rc || !cursor)
                        break;
        }
        free(cursor);
        ctl_http_close(&h);
        return finish(rc);
}

/* --- cancel, pause, resume ------------------------------------------------- */

/* method on /v1/jobs/<id><suffix>, with {"reason": ...} if given. */
static int job_command(ctl_t *ctl, int argc, char **argv, const char *method,
                       const char *suffix) {
        const char *id = NULL, *reason = NULL;
        const jobs_opt_t opts[] = {{"--reason", &reason, NULL},
                                   {NULL, NULL, NULL}};
        int npos = args_parse(argc, argv, opts, &id, 1);
        if (npos < 0 || job_id_arg(argv[0], npos, id))
                return CTL_USAGE;
        char *body = NULL;
        if (reason) {
                json_t *o = json_object(), *r = json_string(reason);
                if (!r) {
                        json_decref(o);
                        return ctl_fail(CTL_USAGE,
                                        "%s: --reason: not valid UTF-8",
                                        argv[0]);
                }
                json_object_set_new(o, "reason", r);
                body = json_dumps(o, JSON_COMPACT);
                json_decref(o);
                if (!body)
                        return ctl_fail(CTL_USAGE, "out of memory");
        }
        char path[CTL_PATH_MAX];
        snprintf(path, sizeof(path), "/v1/jobs/%s%s", id, suffix);
        ctl_http_t h;
        json_t *ans = NULL;
        int rc = ctl_http_open(&h, ctl);
        if (!rc)
                rc = ctl_http_call(&h, method, path, body,
                               body ? strlen(body) : 0, NULL, &ans);
        if (!rc)
                rc = put_accepted(ctl, ans);
        json_decref(ans);
        ctl_http_close(&h);
        free(body);
        return finish(rc);
}

int ctl_cmd_cancel(ctl_t *ctl, int argc, char **argv) {
        return job_command(ctl, argc, argv, "DELETE", "");
}

int ctl_cmd_pause(ctl_t *ctl, int argc, char **argv) {
        return job_command(ctl, argc, argv, "POST", "/pause");
}

int ctl_cmd_resume(ctl_t *ctl, int argc, char **argv) {
        return job_command(ctl, argc, argv, "POST", "/resume");
}
