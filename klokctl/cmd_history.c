/*
 * cmd_history.c — `klokctl history`: every event of a job (or a tenant)
 * read from <p>.commands and <p>.status, in order, and `--verify` of the
 * chain they must form.
 *
 *   history --job ID | --tenant T [--from TIME] [--to TIME] [--verify]
 *
 * A job's records are all on one partition of each topic (keyed by job
 * id, co-partitioned), between --from (the beginning) and --to (now),
 * through ctl_log_load(): only the records klok-api's view lists for the
 * job (GET /v1/jobs/{id}/records) and those after the view's positions
 * are fetched; with --scan, or when the API has no index to give, the
 * whole partition is read.  Only the records keyed by the job id are
 * decoded (and kept when they are about the job).
 * A tenant's are anywhere: every partition is read and every record
 * decoded.
 *
 * --verify walks the merged log once and names every break, with the
 * record it was found at:
 *   - a FIRED before any CreateJob of its job;
 *   - an execution's STARTED, HEARTBEAT, PROGRESS, SUCCEEDED, FAILED,
 *     TIMED_OUT, RETRY_SCHEDULED or DEAD_LETTERED before its FIRED;
 *   - attempts of an occurrence (job, scheduled time) not fired 1, 2, 3...
 *     (a gap, or one attempt fired twice: a duplicate firing);
 *   - an execution id completing twice: SUCCEEDED twice (a duplicate
 *     run), or SUCCEEDED and FAILED;
 *   - (--tenant) a record not keyed by its job id (it may sit on another
 *     partition than the job's).
 * A chain can only be checked from its start, so --verify refuses --from.
 * Exit 1 with breaks, 0 with a one-line summary when the chain holds.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ctl.h"
#include "sched/codec.h"
#include "sched/event.h"
#include "sched/kafka.h"
#include "sched/strset.h"
#include "sched/time.h"

#define MESSAGE_COLS 160 /* a table line's message, bytes */

/* --- Records as JSON ------------------------------------------------------ */

static json_t *jstr(const char *s) {
        return s ? json_string(s) : json_null();
}

/* An optional string: "" is null. */
static json_t *jopt(const char *s) {
        return s && *s ? json_string(s) : json_null();
}

static json_t *jlong(int64_t v) {
        return v == SCHED_NONE ? json_null() : json_integer(v);
}

static json_t *schedule_json(const sched_schedule_t *sc) {
        return json_pack(
                "{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:i, s:s, s:I, s:I,"
                " s:s}",
                "kind", sched_kind2str(sc->kind), "at_ms", jlong(sc->at_ms),
                "delay_ms", jlong(sc->delay_ms), "cron", jopt(sc->cron),
                "timezone", jopt(sc->tz), "interval_ms",
                jlong(sc->interval_ms), "start_ms", jlong(sc->start_ms),
                "end_ms", jlong(sc->end_ms), "max_runs", (int)sc->max_runs,
                "misfire", sched_misfire2str(sc->misfire),
                "misfire_threshold_ms", (json_int_t)sc->misfire_threshold_ms,
                "catch_up_ms", (json_int_t)sc->catch_up_ms, "overlap",
                sched_overlap2str(sc->overlap));
}

static json_t *retry_json(const sched_retry_t *r) {
        return json_pack("{s:i, s:I, s:f, s:I}", "max_attempts",
                         (int)r->max_attempts, "initial_backoff_ms",
                         (json_int_t)r->initial_backoff_ms, "multiplier",
                         r->multiplier, "max_backoff_ms",
                         (json_int_t)r->max_backoff_ms);
}

/* Set a member; false when a value could not be made. */
static bool put(json_t *o, const char *k, json_t *v) {
        return v && json_object_set_new(o, k, v) == 0;
}

static bool def_json(json_t *o, const sched_event_t *ev) {
        const sched_job_def_t *d = &ev->u.def;
        bool update = ev->type == SCHED_EV_UPDATE_JOB, ok = true;
        if (!update)
                ok = put(o, "name", jstr(d->name)) &&
                     put(o, "task", jstr(d->task)) &&
                     put(o, "queue", jstr(d->queue)) &&
                     put(o, "priority",
                         json_string(sched_priority2str(d->priority))) &&
                     put(o, "idempotency_key", jopt(d->idempotency_key));
        if (ok && (!update || d->has_schedule))
                ok = put(o, "schedule", schedule_json(&d->schedule));
        if (ok && (!update || d->has_parameters))
                ok = put(o, "parameters", jstr(d->parameters));
        if (ok && (!update || d->has_retry))
                ok = put(o, "retry", retry_json(&d->retry));
        if (ok && (!update || d->has_timeout))
                ok = put(o, "timeout_ms", json_integer(d->timeout_ms));
        return ok;
}

static bool status_json(json_t *o, const sched_status_ev_t *st) {
        return put(o, "status", json_string(sched_status2str(st->status))) &&
               put(o, "execution_id", jopt(st->execution_id)) &&
               put(o, "attempt", json_integer(st->attempt)) &&
               put(o, "scheduled_ms", jlong(st->scheduled_ms)) &&
               put(o, "next_ms", jlong(st->next_ms)) &&
               put(o, "deadline_ms", jlong(st->deadline_ms)) &&
               put(o, "progress", st->progress < 0
                                          ? json_null()
                                          : json_integer(st->progress)) &&
               put(o, "exit_code", st->exit_code < 0
                                           ? json_null()
                                           : json_integer(st->exit_code)) &&
               put(o, "retryable", json_boolean(st->retryable)) &&
               put(o, "message", jstr(st->message)) &&
               put(o, "output", jstr(st->output));
}

static bool due_json(json_t *o, const sched_exec_due_t *d) {
        return put(o, "execution_id", jopt(d->execution_id)) &&
               put(o, "attempt", json_integer(d->attempt)) &&
               put(o, "scheduled_ms", jlong(d->scheduled_ms)) &&
               put(o, "task", jstr(d->task)) &&
               put(o, "parameters", jstr(d->parameters)) &&
               put(o, "queue", jstr(d->queue)) &&
               put(o, "priority",
                   json_string(sched_priority2str(d->priority))) &&
               put(o, "timeout_ms", json_integer(d->timeout_ms));
}

json_t *ctl_event_json(const sched_event_t *ev) {
        char ts[SCHED_ISO_MAX];
        sched_time_format(ev->ts_ms, ts);
        json_t *o = json_object();
        bool ok = o &&
                  put(o, "type", json_string(sched_ev_type2str(ev->type))) &&
                  put(o, "event_id", jstr(ev->event_id)) &&
                  put(o, "job_id", jstr(ev->job_id)) &&
                  put(o, "tenant", jstr(ev->tenant)) &&
                  put(o, "ts_ms", json_integer(ev->ts_ms)) &&
                  put(o, "ts", json_string(ts));
        switch (ev->type) {
        case SCHED_EV_CREATE_JOB:
        case SCHED_EV_UPDATE_JOB:
                ok = ok && def_json(o, ev);
                break;
        case SCHED_EV_CANCEL_JOB:
        case SCHED_EV_PAUSE_JOB:
        case SCHED_EV_RESUME_JOB:
                ok = ok && put(o, "reason", jstr(ev->u.reason));
                break;
        case SCHED_EV_STATUS:
                ok = ok && status_json(o, &ev->u.status);
                break;
        case SCHED_EV_EXECUTION_DUE:
                ok = ok && due_json(o, &ev->u.due);
                break;
        }
        if (!ok) {
                json_decref(o);
                return NULL;
        }
        return o;
}

/* --- One line per record -------------------------------------------------- */

static const char *topic_of(const ctl_t *ctl, const ctl_rec_t *rec,
                            char buf[SCHED_TOPIC_MAX]) {
        snprintf(buf, SCHED_TOPIC_MAX, "%s.%s", ctl->prefix,
                 rec->status_topic ? "status" : "commands");
        return buf;
}

/* What happened: the status, the command's type, or UNDECODABLE. */
static const char *what_of(const ctl_rec_t *rec) {
        if (!rec->ev)
                return "UNDECODABLE";
        if (rec->ev->type == SCHED_EV_STATUS)
                return sched_status2str(rec->ev->u.status.status);
        return sched_ev_type2str(rec->ev->type);
}

static const char *exec_of(const ctl_rec_t *rec) {
        if (rec->ev && rec->ev->type == SCHED_EV_STATUS)
                return rec->ev->u.status.execution_id;
        return "";
}

static int attempt_of(const ctl_rec_t *rec) {
        if (rec->ev && rec->ev->type == SCHED_EV_STATUS)
                return rec->ev->u.status.attempt;
        return 0;
}

/* A one-line account of a record: its message, or a command's gist. */
static void message_of(const ctl_rec_t *rec, char *buf, size_t size) {
        const sched_event_t *ev = rec->ev;
        char t[SCHED_ISO_MAX];
        buf[0] = '\0';
        if (!ev) {
                snprintf(buf, size, "%s", rec->error ? rec->error : "");
                return;
        }
        switch (ev->type) {
        case SCHED_EV_CREATE_JOB: {
                const sched_schedule_t *sc = &ev->u.def.schedule;
                char when[SCHED_CRON_MAX + SCHED_TZ_MAX + 32] = "";
                if (sc->kind == SCHED_KIND_AT && sc->at_ms != SCHED_NONE) {
                        sched_time_format(sc->at_ms, t);
                        snprintf(when, sizeof(when), " %s", t);
                } else if (sc->kind == SCHED_KIND_DELAY) {
                        snprintf(when, sizeof(when), " %" PRId64 " ms",
                                 sc->delay_ms);
                } else if (sc->kind == SCHED_KIND_CRON) {
                        snprintf(when, sizeof(when), " \"%s\" %s", sc->cron,
                                 sc->tz[0] ? sc->tz : "UTC");
                } else if (sc->kind == SCHED_KIND_INTERVAL) {
                        snprintf(when, sizeof(when), " %" PRId64 " ms",
                                 sc->interval_ms);
                }
                snprintf(buf, size,
                         "name=%s task=%s schedule=%s%s queue=%s attempts=%d",
                         ev->u.def.name, ev->u.def.task,
                         sched_kind2str(sc->kind),
                         when, ev->u.def.queue,
                         (int)ev->u.def.retry.max_attempts);
                break;
        }
        case SCHED_EV_UPDATE_JOB:
                snprintf(buf, size, "changes%s%s%s%s",
                         ev->u.def.has_schedule ? " schedule" : "",
                         ev->u.def.has_parameters ? " parameters" : "",
                         ev->u.def.has_retry ? " retry" : "",
                         ev->u.def.has_timeout ? " timeout" : "");
                break;
        case SCHED_EV_CANCEL_JOB:
        case SCHED_EV_PAUSE_JOB:
        case SCHED_EV_RESUME_JOB:
                snprintf(buf, size, "%s", ev->u.reason ? ev->u.reason : "");
                break;
        case SCHED_EV_STATUS: {
                const sched_status_ev_t *st = &ev->u.status;
                if (st->status == SCHED_STATUS_RETRY_SCHEDULED &&
                    st->next_ms != SCHED_NONE) {
                        sched_time_format(st->next_ms, t);
                        snprintf(buf, size, "next at %s; %s", t,
                                 st->message ? st->message : "");
                } else if (st->message) {
                        snprintf(buf, size, "%s", st->message);
                } else if (st->status == SCHED_STATUS_FIRED &&
                           st->scheduled_ms != SCHED_NONE) {
                        sched_time_format(st->scheduled_ms, t);
                        snprintf(buf, size, "due %s", t);
                } else if (st->exit_code >= 0) {
                        snprintf(buf, size, "exit code %d",
                                 (int)st->exit_code);
                }
                break;
        }
        case SCHED_EV_EXECUTION_DUE:
                snprintf(buf, size, "task=%s", ev->u.due.task);
                break;
        }
        /* One terminal line: no control characters, no cut sequence. */
        for (char *p = buf; *p; p++)
                if ((unsigned char)*p < 0x20 || *p == 0x7f)
                        *p = ' ';
        sched_utf8_scrub(buf);
}

static int print_record(const ctl_t *ctl, const ctl_rec_t *rec) {
        char topic[SCHED_TOPIC_MAX], t[SCHED_ISO_MAX];
        sched_time_format(rec->ts_ms, t);
        topic_of(ctl, rec, topic);
        if (!ctl->json) {
                char msg[MESSAGE_COLS + 1], po[48], att[16] = "-";
                message_of(rec, msg, sizeof(msg));
                snprintf(po, sizeof(po), "%" PRId32 ":%" PRId64,
                         rec->partition, rec->offset);
                if (attempt_of(rec) > 0)
                        snprintf(att, sizeof(att), "%d", attempt_of(rec));
                printf("%-24s %-16s %-10s %-15s %-52s %3s %s\n", t, topic, po,
                       what_of(rec), exec_of(rec)[0] ? exec_of(rec) : "-",
                       att, msg);
                return 0;
        }
        char msg[SCHED_MESSAGE_MAX + 256];
        message_of(rec, msg, sizeof(msg));
        json_t *o = json_pack("{s:s, s:I, s:s, s:i, s:I, s:o, s:s, s:o, s:i, "
                              "s:s}",
                              "time", t, "ts_ms", (json_int_t)rec->ts_ms,
                              "topic", topic, "partition", (int)rec->partition,
                              "offset", (json_int_t)rec->offset, "key",
                              jstr(rec->key), "what", what_of(rec),
                              "execution_id", jopt(exec_of(rec)), "attempt",
                              attempt_of(rec), "message", msg);
        if (o && !put(o, "event", rec->ev ? ctl_event_json(rec->ev)
                                          : json_null()))
                json_decref(o), o = NULL;
        if (o && rec->error && !put(o, "error", json_string(rec->error)))
                json_decref(o), o = NULL;
        if (!o)
                return ctl_fail(CTL_FOUND_PROBLEM, "out of memory");
        return ctl_put_json(o);
}

/* --- --verify ------------------------------------------------------------- */

typedef struct verify_s {
        const ctl_t *ctl;
        const ctl_log_t *log;
        sched_strset_t *created;   /* job ids with a CreateJob read */
        sched_strset_t *fired;     /* job 0x1f execution id */
        sched_strset_t *attempts;  /* job 0x1f scheduled 0x1f attempt */
        sched_strset_t *completed; /* job 0x1f execution id */
        size_t events, undecodable, breaks;
} verify_t;

static void report(verify_t *v, const ctl_rec_t *rec, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* One break, on stdout (it is the command's finding). */
static void report(verify_t *v, const ctl_rec_t *rec, const char *fmt, ...) {
        char msg[1024], topic[SCHED_TOPIC_MAX], t[SCHED_ISO_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        sched_utf8_scrub(msg);
        v->breaks++;
        topic_of(v->ctl, rec, topic);
        sched_time_format(rec->ts_ms, t);
        if (!v->ctl->json) {
                printf("BREAK %s %" PRId32 ":%" PRId64 " (%s): %s\n", topic,
                       rec->partition, rec->offset, t, msg);
                return;
        }
        json_t *o = json_pack("{s:s, s:s, s:i, s:I, s:s, s:o, s:o}", "break",
                              msg, "topic", topic, "partition",
                              (int)rec->partition, "offset",
                              (json_int_t)rec->offset, "time", t, "job_id",
                              jopt(rec->ev ? rec->ev->job_id : NULL),
                              "execution_id", jopt(exec_of(rec)));
        char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER)
                       : NULL;
        if (text)
                puts(text);
        else
                printf("{\"break\":\"(out of memory)\"}\n");
        free(text);
        json_decref(o);
}

/* A set key of up to three parts joined by 0x1f. */
static const char *key3(char *buf, size_t size, const char *a, const char *b,
                        int64_t c) {
        if (c == SCHED_NONE)
                snprintf(buf, size, "%s\x1f%s", a, b);
        else
                snprintf(buf, size, "%s\x1f%s\x1f%" PRId64, a, b, c);
        return buf;
}

static bool needs_fired(sched_status_t s) {
        switch (s) {
        case SCHED_STATUS_STARTED:
        case SCHED_STATUS_HEARTBEAT:
        case SCHED_STATUS_PROGRESS:
        case SCHED_STATUS_SUCCEEDED:
        case SCHED_STATUS_FAILED:
        case SCHED_STATUS_TIMED_OUT:
        case SCHED_STATUS_RETRY_SCHEDULED:
        case SCHED_STATUS_DEAD_LETTERED:
                return true;
        default:
                return false;
        }
}

/* Where the execution completed last before record i (searched backwards:
 * usually a few records away). */
static const ctl_rec_t *earlier_completion(const verify_t *v, size_t i) {
        const sched_event_t *ev = v->log->recs[i].ev;
        for (size_t j = i; j-- > 0;) {
                const sched_event_t *e = v->log->recs[j].ev;
                if (e && e->type == SCHED_EV_STATUS &&
                    (e->u.status.status == SCHED_STATUS_SUCCEEDED ||
                     e->u.status.status == SCHED_STATUS_FAILED) &&
                    !strcmp(e->job_id, ev->job_id) &&
                    !strcmp(e->u.status.execution_id,
                            ev->u.status.execution_id))
                        return &v->log->recs[j];
        }
        return NULL;
}

static int verify_fired(verify_t *v, const ctl_rec_t *rec) {
        const sched_event_t *ev = rec->ev;
        const sched_status_ev_t *st = &ev->u.status;
        char k[SCHED_ID_MAX + SCHED_EXEC_ID_MAX + 48], sched[24];
        if (!sched_strset_has(v->created, ev->job_id))
                report(v, rec, "FIRED of %s before any CreateJob of job %s",
                       st->execution_id[0] ? st->execution_id : "(no id)",
                       ev->job_id);
        if (!st->execution_id[0]) {
                report(v, rec, "FIRED without an execution id (job %s)",
                       ev->job_id);
                return 0;
        }
        snprintf(sched, sizeof(sched), "%" PRId64, st->scheduled_ms);
        if (sched_strset_has(v->attempts, key3(k, sizeof(k), ev->job_id, sched,
                                               st->attempt)))
                report(v, rec,
                       "attempt %d of the occurrence due %s fired twice "
                       "(execution %s): a duplicate firing",
                       (int)st->attempt, sched, st->execution_id);
        else if (st->attempt < 1)
                report(v, rec, "FIRED %s with attempt %d (attempts start at "
                       "1)", st->execution_id, (int)st->attempt);
        else if (st->attempt > 1 &&
                 !sched_strset_has(v->attempts,
                                   key3(k, sizeof(k), ev->job_id, sched,
                                        st->attempt - 1)))
                report(v, rec,
                       "attempt %d of the occurrence due %s fired without "
                       "attempt %d before it (execution %s)",
                       (int)st->attempt, sched, (int)st->attempt - 1,
                       st->execution_id);
        if (!sched_strset_add(v->attempts,
                              key3(k, sizeof(k), ev->job_id, sched,
                                   st->attempt),
                              0) &&
            !sched_strset_has(v->attempts, k))
                return -1;
        if (!sched_strset_add(v->fired,
                              key3(k, sizeof(k), ev->job_id,
                                   st->execution_id, SCHED_NONE),
                              0) &&
            !sched_strset_has(v->fired, k))
                return -1;
        return 0;
}

static int verify_status(verify_t *v, size_t i) {
        const ctl_rec_t *rec = &v->log->recs[i];
        const sched_event_t *ev = rec->ev;
        const sched_status_ev_t *st = &ev->u.status;
        char k[SCHED_ID_MAX + SCHED_EXEC_ID_MAX + 48];
        if (st->status == SCHED_STATUS_FIRED)
                return verify_fired(v, rec);
        if (!st->execution_id[0] || !needs_fired(st->status))
                return 0;
        key3(k, sizeof(k), ev->job_id, st->execution_id, SCHED_NONE);
        if (!sched_strset_has(v->fired, k))
                report(v, rec, "%s of execution %s without its FIRED before "
                       "it", sched_status2str(st->status), st->execution_id);
        if (st->status != SCHED_STATUS_SUCCEEDED &&
            st->status != SCHED_STATUS_FAILED)
                return 0;
        if (sched_strset_add(v->completed, k, 0))
                return 0;
        if (!sched_strset_has(v->completed, k))
                return -1;
        const ctl_rec_t *prev = earlier_completion(v, i);
        const char *was = prev ? sched_status2str(prev->ev->u.status.status)
                                : "?";
        if (st->status == SCHED_STATUS_SUCCEEDED && prev &&
            prev->ev->u.status.status == SCHED_STATUS_SUCCEEDED)
                report(v, rec,
                       "execution %s SUCCEEDED twice (also at %" PRId32
                       ":%" PRId64 "): a duplicate",
                       st->execution_id, prev->partition, prev->offset);
        else
                report(v, rec,
                       "execution %s completed twice: %s at %" PRId32
                       ":%" PRId64 ", then %s",
                       st->execution_id, was, prev ? prev->partition : -1,
                       prev ? prev->offset : (int64_t)-1,
                       sched_status2str(st->status));
        return 0;
}

static int verify_record(verify_t *v, size_t i) {
        const ctl_rec_t *rec = &v->log->recs[i];
        const sched_event_t *ev = rec->ev;
        if (!ev) {
                v->undecodable++;
                return 0;
        }
        v->events++;
        if (!rec->key || strcmp(rec->key, ev->job_id))
                report(v, rec, "%s of job %s is keyed %s%s%s, not by its job "
                       "id", what_of(rec), ev->job_id, rec->key ? "\"" : "",
                       rec->key ? rec->key : "(no key)", rec->key ? "\"" : "");
        if (ev->type == SCHED_EV_CREATE_JOB) {
                if (!sched_strset_add(v->created, ev->job_id, 0) &&
                    !sched_strset_has(v->created, ev->job_id))
                        return -1;
                return 0;
        }
        return ev->type == SCHED_EV_STATUS ? verify_status(v, i) : 0;
}

static int verify(const ctl_t *ctl, const ctl_log_t *log, const char *what) {
        verify_t v = {ctl, log, sched_strset_new(), sched_strset_new(),
                      sched_strset_new(), sched_strset_new(), 0, 0, 0};
        int rc = v.created && v.fired && v.attempts && v.completed ? 0 : -1;
        for (size_t i = 0; !rc && i < log->cnt; i++)
                rc = verify_record(&v, i);
        size_t jobs = v.created ? sched_strset_count(v.created) : 0;
        size_t execs = v.fired ? sched_strset_count(v.fired) : 0;
        sched_strset_destroy(v.created);
        sched_strset_destroy(v.fired);
        sched_strset_destroy(v.attempts);
        sched_strset_destroy(v.completed);
        if (rc)
                return ctl_fail(CTL_FOUND_PROBLEM, "out of memory");
        if (ctl->json)
                printf("{\"events\":%zu,\"executions\":%zu,\"jobs\":%zu,"
                       "\"undecodable\":%zu,\"breaks\":%zu,\"ok\":%s}\n",
                       v.events, execs, jobs, v.undecodable, v.breaks,
                       v.breaks ? "false" : "true");
        else if (v.undecodable)
                printf("%s: %zu events, %zu executions, %zu jobs, %zu "
                       "undecodable: %s\n",
                       what, v.events, execs, jobs, v.undecodable,
                       v.breaks ? "BROKEN" : "ok");
        else
                printf("%s: %zu events, %zu executions, %zu jobs: %s\n",
                       what, v.events, execs, jobs,
                       v.breaks ? "BROKEN" : "ok");
        if (v.breaks)
                return ctl_fail(CTL_FOUND_PROBLEM, "%s: %zu break%s in the "
                                "chain", what, v.breaks,
                                v.breaks == 1 ? "" : "s");
        return CTL_OK;
}

/* --- The command ---------------------------------------------------------- */

static int usage(void) {
        return ctl_fail(CTL_USAGE, "usage: history --job ID | --tenant T "
                        "[--from TIME] [--to TIME] [--verify] [--scan]");
}

int ctl_cmd_history(ctl_t *ctl, int argc, char **argv) {
        const char *job = NULL, *tenant = NULL;
        int64_t from = INT64_MIN, to = INT64_MAX;
        bool check = false, from_given = false, scan = false;
        for (int i = 1; i < argc; i++) {
                const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
                if (!strcmp(o, "--verify") || !strcmp(o, "--scan")) {
                        *(o[2] == 'v' ? &check : &scan) = true;
                        continue;
                }
                if (!v)
                        return usage();
                if (!strcmp(o, "--job"))
                        job = v;
                else if (!strcmp(o, "--tenant"))
                        tenant = v;
                else if (!strcmp(o, "--from") || !strcmp(o, "--to")) {
                        int64_t *ms = o[2] == 'f' ? &from : &to;
                        if (!ctl_parse_time(v, ms))
                                return ctl_fail(CTL_USAGE,
                                                "%s: not a time: %s", o, v);
                        from_given |= o[2] == 'f';
                } else
                        return usage();
                i++;
        }
        if (!job == !tenant)
                return usage();
        if ((job && (!*job || strlen(job) >= SCHED_ID_MAX)) ||
            (tenant && (!*tenant || strlen(tenant) >= SCHED_TENANT_MAX)))
                return ctl_fail(CTL_USAGE, "%s: empty or too long",
                                job ? "--job" : "--tenant");
        if (check && from_given)
                return ctl_fail(CTL_USAGE, "--verify checks a chain from its "
                                "start: drop --from");
        if (from >= to)
                return ctl_fail(CTL_USAGE, "--from must be before --to");

        char errstr[1024];
        sched_codec_t *codec = ctl_codec(ctl);
        if (!codec)
                return CTL_USAGE;
        ctl_log_t log;
        int rc = ctl_log_load(ctl, codec, job, tenant, scan, from, to, &log,
                              errstr, sizeof(errstr));
        if (rc) {
                sched_codec_destroy(codec);
                return ctl_fail(CTL_FOUND_PROBLEM, "%s", errstr);
        }
        char what[SCHED_ID_MAX + 16];
        snprintf(what, sizeof(what), "%s %s", job ? "job" : "tenant",
                 job ? job : tenant);
        if (log.cnt == 0) {
                if (job)
                        rc = ctl_fail(CTL_FOUND_PROBLEM,
                                      "no record of job %s on partition %d "
                                      "of %s.commands and %s.status",
                                      job, (int)log.partition, ctl->prefix,
                                      ctl->prefix);
                else
                        rc = ctl_fail(CTL_FOUND_PROBLEM,
                                      "no record of tenant %s", tenant);
        } else if (check) {
                rc = verify(ctl, &log, what);
        } else {
                if (!ctl->json)
                        printf("%-24s %-16s %-10s %-15s %-52s %3s %s\n",
                               "TIME", "TOPIC", "P:OFFSET", "EVENT",
                               "EXECUTION", "ATT", "MESSAGE");
                for (size_t i = 0; !rc && i < log.cnt; i++)
                        rc = print_record(ctl, &log.recs[i]);
        }
        if (fflush(stdout) && !rc)
                rc = ctl_fail(CTL_FOUND_PROBLEM, "writing the output failed");
        ctl_log_free(&log);
        sched_codec_destroy(codec);
        return rc;
}
