/*
 * view.c — appliers and readers of the status view (see sched/view.h).
 *
 * Every applier loads the documents it touches through the batch, edits
 * them as jansson objects and writes them back with sorted keys, so the
 * bytes depend only on the sequence of events applied.  No clock is read.
 */
#include "sched/view.h"

#include "sched/orphans.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sched/time.h"
#include "sched/timer_state.h"
#include "sched/uuid.h"

/* How documents are written: canonical, so replays compare byte for byte. */
#define DOC_FLAGS (JSON_COMPACT | JSON_SORT_KEYS)

/* Range of instants formatted as text (years 0001..9999). */
#define TIME_MIN_MS (-62135596800000LL)
#define TIME_MAX_MS 253402300799999LL

/* --- Keys ----------------------------------------------------------------- */

size_t sched_view_job_key(char *buf, const char *tenant, const char *job_id) {
        size_t t = strnlen(tenant, SCHED_TENANT_MAX - 1);
        size_t j = strnlen(job_id, SCHED_ID_MAX - 1);
        memcpy(buf, tenant, t);
        buf[t] = '\0';
        memcpy(buf + t + 1, job_id, j);
        return t + 1 + j;
}

size_t sched_view_exec_key(char *buf, const char *tenant, const char *job_id,
                           const char *execution_id) {
        size_t n = sched_view_job_key(buf, tenant, job_id);
        buf[n++] = '\0';
        if (execution_id) {
                size_t e = strnlen(execution_id, SCHED_EXEC_ID_MAX - 1);
                memcpy(buf + n, execution_id, e);
                n += e;
        }
        return n;
}

/* --- JSON helpers --------------------------------------------------------- */

static json_t *jtime(int64_t ms) {
        if (ms == SCHED_NONE || ms < TIME_MIN_MS || ms > TIME_MAX_MS)
                return json_null();
        char buf[SCHED_ISO_MAX];
        sched_time_format(ms, buf);
        return json_string(buf);
}

/* A string value; NULL or "" is null.  Text that is not valid UTF-8 (an
 * executor's output excerpt may be anything) keeps its ASCII bytes and has
 * every other byte replaced by '?'. */
static json_t *jstr(const char *s) {
        if (!s || !*s)
                return json_null();
        json_t *v = json_string(s);
        if (v)
                return v;
        char *copy = strdup(s);
        if (!copy)
                return NULL;
        for (char *p = copy; *p; p++)
                if ((unsigned char)*p >= 0x80)
                        *p = '?';
        v = json_string(copy);
        free(copy);
        return v;
}

/* Set a member; a NULL value (allocation failure) is remembered in *oom. */
static void jset(json_t *obj, const char *key, json_t *val, bool *oom) {
        if (!val || json_object_set_new(obj, key, val))
                *oom = true;
}

static const char *jget_str(const json_t *obj, const char *key) {
        return json_string_value(json_object_get(obj, key));
}

static bool str_in(const char *s, const char *const *set) {
        for (; s && *set; set++)
                if (!strcmp(s, *set))
                        return true;
        return false;
}

static const char *const job_terminal[] = {"SUCCEEDED", "FAILED", "CANCELLED",
                                           "DEAD_LETTERED", "REJECTED", NULL};
static const char *const exec_terminal[] = {"SUCCEEDED", "FAILED",
                                            "TIMED_OUT", "DEAD_LETTERED",
                                            "REJECTED", "SKIPPED", NULL};

bool sched_view_state_terminal(const char *state) {
        return str_in(state, job_terminal);
}

/* --- Row I/O -------------------------------------------------------------- */

/* Load a document; *docp NULL when the row is absent. */
static sched_err_t doc_load(sched_store_t *store, sched_batch_t *batch,
                            sched_cf_t cf, const char *key, size_t klen,
                            json_t **docp, char *errstr, size_t errstr_size) {
        char *val;
        size_t vlen;
        *docp = NULL;
        sched_err_t err = sched_store_get(store, batch, cf, key, klen, &val,
                                          &vlen);
        if (err == SCHED_ERR_NOT_FOUND)
                return SCHED_ERR_OK;
        if (err)
                return sched_seterr(errstr, errstr_size, err,
                                    "view: read %s row", sched_cf_name(cf));
        json_error_t je;
        *docp = json_loadb(val, vlen, 0, &je);
        free(val);
        if (!*docp || !json_is_object(*docp)) {
                json_decref(*docp);
                *docp = NULL;
                return sched_seterr(errstr, errstr_size, SCHED_ERR_STORE,
                                    "view: corrupt %s row: %s",
                                    sched_cf_name(cf), je.text);
        }
        return SCHED_ERR_OK;
}

static sched_err_t doc_save(sched_store_t *store, sched_batch_t *batch,
                            sched_cf_t cf, const char *key, size_t klen,
                            json_t *doc, char *errstr, size_t errstr_size) {
        char *text = json_dumps(doc, DOC_FLAGS);
        if (!text)
                return sched_seterr(errstr, errstr_size, SCHED_ERR_NOMEM,
                                    "view: serialize %s row",
                                    sched_cf_name(cf));
        sched_batch_put(store, batch, cf, key, klen, text, strlen(text));
        free(text);
        return SCHED_ERR_OK;
}

/* A time field of a document in ms (0 when absent or unreadable). */
static int64_t doc_time_ms(const json_t *doc, const char *key) {
        int64_t ms;
        const char *s = jget_str(doc, key);
        return s && sched_time_parse(s, &ms) == SCHED_ERR_OK ? ms : 0;
}

/* --- Job definition parts ------------------------------------------------- */

static bool kind_one_shot(const char *type) {
        return type && (!strcmp(type, "immediate") || !strcmp(type, "at") ||
                        !strcmp(type, "delay"));
}

static json_t *schedule_json(const sched_schedule_t *sc, bool *oom) {
        json_t *o = json_object();
        if (!o) {
                *oom = true;
                return NULL;
        }
        jset(o, "type", json_string(sched_kind2str(sc->kind)), oom);
        switch (sc->kind) {
        case SCHED_KIND_IMMEDIATE:
                break;
        case SCHED_KIND_AT:
                jset(o, "at", jtime(sc->at_ms), oom);
                break;
        case SCHED_KIND_DELAY:
                jset(o, "delay_ms",
                     sc->delay_ms == SCHED_NONE ? json_null()
                                                : json_integer(sc->delay_ms),
                     oom);
                break;
        case SCHED_KIND_CRON:
        case SCHED_KIND_INTERVAL:
                if (sc->kind == SCHED_KIND_CRON) {
                        jset(o, "cron", jstr(sc->cron), oom);
                        jset(o, "timezone", jstr(sc->tz), oom);
                } else {
                        jset(o, "interval_ms",
                             sc->interval_ms == SCHED_NONE
                                     ? json_null()
                                     : json_integer(sc->interval_ms),
                             oom);
                        jset(o, "max_runs", json_integer(sc->max_runs), oom);
                }
                jset(o, "start", jtime(sc->start_ms), oom);
                jset(o, "end", jtime(sc->end_ms), oom);
                jset(o, "misfire",
                     json_string(sched_misfire2str(sc->misfire)), oom);
                jset(o, "misfire_threshold_ms",
                     json_integer(sc->misfire_threshold_ms), oom);
                jset(o, "catch_up_ms", json_integer(sc->catch_up_ms), oom);
                jset(o, "overlap",
                     json_string(sched_overlap2str(sc->overlap)), oom);
                break;
        }
        return o;
}

/* First due time of a schedule defined at ts; SCHED_NONE when only the
 * timer service can tell (cron, interval). */
static int64_t first_due(const sched_schedule_t *sc, int64_t ts) {
        int64_t due;
        switch (sc->kind) {
        case SCHED_KIND_IMMEDIATE:
                return ts;
        case SCHED_KIND_AT:
                return sc->at_ms;
        case SCHED_KIND_DELAY:
                if (sc->delay_ms == SCHED_NONE ||
                    __builtin_add_overflow(ts, sc->delay_ms, &due))
                        return SCHED_NONE;
                return due;
        default:
                return SCHED_NONE;
        }
}

static json_t *retry_json(const sched_retry_t *r, bool *oom) {
        json_t *o = json_object();
        if (!o) {
                *oom = true;
                return NULL;
        }
        jset(o, "max_attempts", json_integer(r->max_attempts), oom);
        jset(o, "initial_backoff_ms", json_integer(r->initial_backoff_ms),
             oom);
        jset(o, "multiplier", json_real(r->multiplier), oom);
        jset(o, "max_backoff_ms", json_integer(r->max_backoff_ms), oom);
        return o;
}

/* Parameters as JSON when they are a JSON object, else as their text (a
 * producer writing to Kafka directly may send anything). */
static json_t *parameters_json(const char *text) {
        if (!text)
                return json_object();
        json_t *v = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
        if (v && json_is_object(v))
                return v;
        json_decref(v);
        return jstr(text);
}

/* --- Job appliers --------------------------------------------------------- */

static void set_state(json_t *job, const char *state, const char *reason,
                      bool *oom) {
        jset(job, "state", json_string(state), oom);
        jset(job, "state_reason", jstr(reason), oom);
}

/* The parts of a job a create defines (what an idempotent repeat must
 * match), into job. */
static void def_fields(json_t *job, const sched_job_def_t *def, bool *oom) {
        jset(job, "name", jstr(def->name), oom);
        jset(job, "schedule", schedule_json(&def->schedule, oom), oom);
        jset(job, "task", jstr(def->task), oom);
        jset(job, "parameters", parameters_json(def->parameters), oom);
        jset(job, "queue", jstr(def->queue), oom);
        jset(job, "priority",
             json_string(def->priority == SCHED_PRIO_HIGH ? "high" : "normal"),
             oom);
        jset(job, "retry", retry_json(&def->retry, oom), oom);
        jset(job, "timeout_ms", json_integer(def->timeout_ms), oom);
}

sched_err_t sched_view_def_digest(const sched_job_def_t *def,
                                  char out[SCHED_VIEW_DIGEST_MAX]) {
        bool oom = false;
        json_t *o = json_object();
        if (o)
                def_fields(o, def, &oom);
        char *text = o && !oom ? json_dumps(o, DOC_FLAGS) : NULL;
        json_decref(o);
        if (!text)
                return SCHED_ERR_NOMEM;
        sched_sha256_t sha;
        unsigned char md[32];
        sched_sha256_init(&sha);
        sched_sha256_update(&sha, text, strlen(text));
        sched_sha256_final(&sha, md);
        free(text);
        for (int i = 0; i < 32; i++)
                snprintf(out + 2 * i, 3, "%02x", md[i]);
        return SCHED_ERR_OK;
}

static json_t *job_new(const sched_event_t *ev, int64_t offset, bool *oom) {
        const sched_job_def_t *def = &ev->u.def;
        json_t *job = json_object();
        char digest[SCHED_VIEW_DIGEST_MAX];
        if (!job || sched_view_def_digest(def, digest)) {
                json_decref(job);
                *oom = true;
                return NULL;
        }
        jset(job, "job_id", json_string(ev->job_id), oom);
        jset(job, "tenant", json_string(ev->tenant), oom);
        def_fields(job, def, oom);
        jset(job, "idempotency_key", jstr(def->idempotency_key), oom);
        jset(job, "definition_sha256", json_string(digest), oom);
        jset(job, "create_offset", json_integer(offset), oom);
        jset(job, "created_at", jtime(ev->ts_ms), oom);
        jset(job, "updated_at", jtime(ev->ts_ms), oom);
        jset(job, "next_run_at", jtime(first_due(&def->schedule, ev->ts_ms)),
             oom);
        jset(job, "last_execution", json_null(), oom);
        jset(job, "progress", json_null(), oom);
        set_state(job, "SCHEDULED", NULL, oom);
        return job;
}

/* Apply a command to an existing job document; false when it changes
 * nothing. */
static bool job_command(json_t *job, const sched_event_t *ev, bool *oom) {
        const char *state = jget_str(job, "state");
        bool terminal = sched_view_state_terminal(state);
        const sched_job_def_t *def = &ev->u.def;

        switch (ev->type) {
        case SCHED_EV_CANCEL_JOB:
                if (terminal)
                        return false;
                set_state(job, "CANCELLED", ev->u.reason, oom);
                jset(job, "next_run_at", json_null(), oom);
                break;
        case SCHED_EV_PAUSE_JOB:
                if (terminal || !strcmp(state, "PAUSED"))
                        return false;
                set_state(job, "PAUSED", ev->u.reason, oom);
                break;
        case SCHED_EV_RESUME_JOB: {
                if (!state || strcmp(state, "PAUSED"))
                        return false;
                /* Back to RUNNING if an execution is still under way. */
                const char *last = jget_str(
                        json_object_get(job, "last_execution"), "status");
                set_state(job,
                          last && !strcmp(last, "RUNNING") ? "RUNNING"
                                                          : "SCHEDULED",
                          ev->u.reason, oom);
                break;
        }
        case SCHED_EV_UPDATE_JOB:
                if (terminal)
                        return false;
                /* As the timer does: a new schedule applies to a job that
                 * waits for its next firing (not to one running now), and
                 * only if it has an occurrence. */
                if (def->has_schedule &&
                    (!strcmp(state, "SCHEDULED") || !strcmp(state, "PAUSED"))) {
                        char reason[256];
                        if (sched_timer_first_due(ev, reason,
                                                  sizeof(reason)) !=
                            SCHED_NONE) {
                                jset(job, "schedule",
                                     schedule_json(&def->schedule, oom), oom);
                                jset(job, "next_run_at",
                                     jtime(first_due(&def->schedule,
                                                     ev->ts_ms)),
                                     oom);
                        }
                }
                if (def->has_parameters)
                        jset(job, "parameters",
                             parameters_json(def->parameters), oom);
                if (def->has_retry)
                        jset(job, "retry", retry_json(&def->retry, oom), oom);
                if (def->has_timeout)
                        jset(job, "timeout_ms", json_integer(def->timeout_ms),
                             oom);
                break;
        default:
                return false;
        }
        jset(job, "updated_at", jtime(ev->ts_ms), oom);
        return true;
}

/* --- Status appliers ------------------------------------------------------ */

static json_t *exec_new(const sched_event_t *ev, bool *oom) {
        static const char *const null_fields[] = {
                "scheduled_at", "status",      "fired_at",    "started_at",
                "heartbeat_at", "deadline_at", "finished_at", "retry_at",
                "progress",     "message",     "exit_code",   "error",
                "output",       "retryable",   NULL};
        json_t *ex = json_object();
        if (!ex) {
                *oom = true;
                return NULL;
        }
        jset(ex, "execution_id", json_string(ev->u.status.execution_id), oom);
        jset(ex, "job_id", json_string(ev->job_id), oom);
        jset(ex, "attempt", json_integer(0), oom);
        for (const char *const *f = null_fields; *f; f++)
                jset(ex, *f, json_null(), oom);
        return ex;
}

static void exec_finish(json_t *ex, const char *status,
                        const sched_event_t *ev, bool *oom) {
        jset(ex, "status", json_string(status), oom);
        jset(ex, "finished_at", jtime(ev->ts_ms), oom);
}

static void exec_status(json_t *ex, const sched_event_t *ev, bool *oom) {
        const sched_status_ev_t *st = &ev->u.status;
        const char *status = jget_str(ex, "status");
        bool terminal = str_in(status, exec_terminal);

        if (st->attempt > 0)
                jset(ex, "attempt", json_integer(st->attempt), oom);
        if (st->scheduled_ms != SCHED_NONE)
                jset(ex, "scheduled_at", jtime(st->scheduled_ms), oom);

        switch (st->status) {
        case SCHED_STATUS_FIRED:
                jset(ex, "fired_at", jtime(ev->ts_ms), oom);
                if (!status || !strcmp(status, "BUFFERED"))
                        jset(ex, "status", json_string("FIRED"), oom);
                break;
        case SCHED_STATUS_BUFFERED:
                /* An occurrence waiting for the previous execution. */
                if (!status)
                        jset(ex, "status", json_string("BUFFERED"), oom);
                jset(ex, "message", jstr(st->message), oom);
                break;
        case SCHED_STATUS_SKIPPED:
                /* An occurrence not run (misfire or overlap policy). */
                if (!status) {
                        exec_finish(ex, "SKIPPED", ev, oom);
                        jset(ex, "message", jstr(st->message), oom);
                }
                break;
        case SCHED_STATUS_STARTED:
                jset(ex, "started_at", jtime(ev->ts_ms), oom);
                jset(ex, "deadline_at", jtime(st->deadline_ms), oom);
                if (!terminal)
                        jset(ex, "status", json_string("RUNNING"), oom);
                break;
        case SCHED_STATUS_PROGRESS:
                if (st->progress >= 0)
                        jset(ex, "progress", json_integer(st->progress), oom);
                if (st->message)
                        jset(ex, "message", jstr(st->message), oom);
                if (!terminal)
                        jset(ex, "status", json_string("RUNNING"), oom);
                break;
        case SCHED_STATUS_HEARTBEAT:
                jset(ex, "heartbeat_at", jtime(ev->ts_ms), oom);
                if (st->deadline_ms != SCHED_NONE)
                        jset(ex, "deadline_at", jtime(st->deadline_ms), oom);
                break;
        case SCHED_STATUS_SUCCEEDED:
        case SCHED_STATUS_FAILED:
                if (terminal)
                        break;
                exec_finish(ex, sched_status2str(st->status), ev, oom);
                jset(ex, "exit_code",
                     st->exit_code >= 0 ? json_integer(st->exit_code)
                                        : json_null(),
                     oom);
                jset(ex, "output", jstr(st->output), oom);
                if (st->status == SCHED_STATUS_FAILED) {
                        jset(ex, "error", jstr(st->message), oom);
                        jset(ex, "retryable", json_boolean(st->retryable),
                             oom);
                }
                break;
        case SCHED_STATUS_TIMED_OUT:
        case SCHED_STATUS_DEAD_LETTERED:
        case SCHED_STATUS_REJECTED:
                if (st->message && json_is_null(json_object_get(ex, "error")))
                        jset(ex, "error", jstr(st->message), oom);
                if (!terminal)
                        exec_finish(ex, sched_status2str(st->status), ev, oom);
                break;
        case SCHED_STATUS_RETRY_SCHEDULED:
                jset(ex, "retry_at", jtime(st->next_ms), oom);
                break;
        case SCHED_STATUS_COMPLETED:
        case SCHED_STATUS__CNT:
                break;
        }
}

/* Order of executions: scheduled time, then attempt (null time first). */
static int exec_cmp(const json_t *a, const json_t *b) {
        const char *sa = jget_str(a, "scheduled_at"),
                   *sb = jget_str(b, "scheduled_at");
        int c = strcmp(sa ? sa : "", sb ? sb : "");
        if (c)
                return c;
        json_int_t aa = json_integer_value(json_object_get(a, "attempt")),
                   ab = json_integer_value(json_object_get(b, "attempt"));
        return aa < ab ? -1 : aa > ab;
}

static void job_last_execution(json_t *job, const json_t *ex, bool *oom) {
        json_t *last = json_object_get(job, "last_execution");
        if (json_is_object(last)) {
                const char *id = jget_str(last, "execution_id");
                const char *exid = jget_str(ex, "execution_id");
                /* An older execution's late event does not take over. */
                if (!(id && exid && !strcmp(id, exid)) && exec_cmp(ex, last) < 0)
                        return;
        }
        json_t *o = json_object();
        if (!o) {
                *oom = true;
                return;
        }
        static const char *const fields[] = {"execution_id", "attempt",
                                             "scheduled_at", "status", NULL};
        for (const char *const *f = fields; *f; f++)
                jset(o, *f, json_incref(json_object_get(ex, *f)), oom);
        jset(job, "last_execution", o, oom);
}

static void job_status(json_t *job, const sched_event_t *ev,
                       const json_t *ex, bool *oom) {
        const sched_status_ev_t *st = &ev->u.status;
        const char *state = jget_str(job, "state");
        bool terminal = sched_view_state_terminal(state);
        bool paused = state && !strcmp(state, "PAUSED");
        bool running = state && !strcmp(state, "RUNNING");
        bool one_shot =
                kind_one_shot(jget_str(json_object_get(job, "schedule"),
                                       "type"));

        jset(job, "updated_at", jtime(ev->ts_ms), oom);
        if (ex)
                job_last_execution(job, ex, oom);

        switch (st->status) {
        case SCHED_STATUS_FIRED:
                if (one_shot)
                        jset(job, "next_run_at", json_null(), oom);
                if (st->next_ms != SCHED_NONE)
                        jset(job, "next_run_at", jtime(st->next_ms), oom);
                break;
        case SCHED_STATUS_STARTED:
                jset(job, "progress", json_null(), oom);
                if (!terminal && !paused)
                        set_state(job, "RUNNING", NULL, oom);
                break;
        case SCHED_STATUS_PROGRESS:
                if (st->progress >= 0)
                        jset(job, "progress", json_integer(st->progress), oom);
                break;
        case SCHED_STATUS_HEARTBEAT:
        case SCHED_STATUS_SKIPPED:
        case SCHED_STATUS_BUFFERED:
                break;
        case SCHED_STATUS_SUCCEEDED:
                if (one_shot && !terminal) {
                        set_state(job, "SUCCEEDED", NULL, oom);
                        jset(job, "next_run_at", json_null(), oom);
                } else if (running) {
                        set_state(job, "SCHEDULED", NULL, oom);
                }
                break;
        case SCHED_STATUS_FAILED: {
                json_int_t max = json_integer_value(json_object_get(
                        json_object_get(job, "retry"), "max_attempts"));
                bool last = !st->retryable ||
                            (st->attempt > 0 && st->attempt >= max);
                if (one_shot && last && !terminal) {
                        set_state(job, "FAILED", st->message, oom);
                        jset(job, "next_run_at", json_null(), oom);
                } else if (running) {
                        set_state(job, "SCHEDULED", NULL, oom);
                }
                break;
        }
        case SCHED_STATUS_TIMED_OUT:
                if (running)
                        set_state(job, "SCHEDULED", NULL, oom);
                break;
        case SCHED_STATUS_RETRY_SCHEDULED:
                if (!terminal && !paused)
                        set_state(job, "SCHEDULED", NULL, oom);
                if (st->next_ms != SCHED_NONE)
                        jset(job, "next_run_at", jtime(st->next_ms), oom);
                break;
        case SCHED_STATUS_DEAD_LETTERED:
                if (one_shot &&
                    (!terminal || (state && !strcmp(state, "FAILED")))) {
                        set_state(job, "DEAD_LETTERED", st->message, oom);
                        jset(job, "next_run_at", json_null(), oom);
                } else if (running) {
                        set_state(job, "SCHEDULED", NULL, oom);
                }
                break;
        case SCHED_STATUS_COMPLETED:
                if (!terminal)
                        set_state(job, "SUCCEEDED", st->message, oom);
                jset(job, "next_run_at", json_null(), oom);
                break;
        case SCHED_STATUS_REJECTED:
                if (!terminal) {
                        set_state(job, "REJECTED", st->message, oom);
                        jset(job, "next_run_at", json_null(), oom);
                }
                break;
        case SCHED_STATUS__CNT:
                break;
        }
}

/* --- Entry point ---------------------------------------------------------- */

/* A parked status event, taken by the job row being created. */
typedef struct orphan_ctx_s {
        sched_store_t *store;
        sched_batch_t *batch;
        json_t *job;
        bool *oom;
} orphan_ctx_t;

static sched_err_t orphan_apply(void *opaque, const sched_event_t *ev) {
        orphan_ctx_t *c = opaque;
        const char *tenant =
                json_string_value(json_object_get(c->job, "tenant"));
        if (!tenant || strcmp(tenant, ev->tenant))
                return SCHED_ERR_OK; /* not this job's tenant: ignored */
        json_t *ex = NULL;
        if (ev->u.status.execution_id[0]) {
                char xkey[SCHED_VIEW_KEY_MAX];
                size_t xlen = sched_view_exec_key(xkey, ev->tenant, ev->job_id,
                                                  ev->u.status.execution_id);
                sched_err_t err = doc_load(c->store, c->batch,
                                           SCHED_CF_VIEW_EXECS, xkey, xlen,
                                           &ex, NULL, 0);
                if (err)
                        return err;
        }
        job_status(c->job, ev, ex, c->oom);
        json_decref(ex);
        return SCHED_ERR_OK;
}

sched_err_t sched_view_apply(sched_store_t *store, sched_batch_t *batch,
                             const sched_codec_t *codec,
                             const sched_event_t *ev, int64_t offset,
                             sched_view_result_t *resultp, char *errstr,
                             size_t errstr_size) {
        char jkey[SCHED_VIEW_KEY_MAX], xkey[SCHED_VIEW_KEY_MAX];
        json_t *job = NULL, *ex = NULL;
        sched_view_result_t result = SCHED_VIEW_IGNORED;
        bool oom = false;
        sched_err_t err;

        if (resultp)
                *resultp = SCHED_VIEW_IGNORED;
        if (!ev->tenant[0] || !ev->job_id[0])
                return sched_seterr(errstr, errstr_size, SCHED_ERR_INVALID,
                                    "view: %s without %s",
                                    sched_ev_type2str(ev->type),
                                    ev->tenant[0] ? "job_id" : "tenant");
        if (ev->type == SCHED_EV_EXECUTION_DUE)
                return SCHED_ERR_OK; /* not on the topics the view reads */

        size_t jlen = sched_view_job_key(jkey, ev->tenant, ev->job_id);
        if ((err = doc_load(store, batch, SCHED_CF_VIEW_JOBS, jkey, jlen, &job,
                            errstr, errstr_size)))
                return err;
        /* The job's state before: its list index rows follow a change. */
        char old_state[24] = "";
        bool existed = job != NULL;
        if (job)
                snprintf(old_state, sizeof(old_state), "%s",
                         jget_str(job, "state") ? jget_str(job, "state") : "");

        switch (ev->type) {
        case SCHED_EV_CREATE_JOB:
                /* First create wins: a repeated POST with the same
                 * idempotency key maps to the same job id. */
                if (!job) {
                        job = job_new(ev, offset, &oom);
                        result = SCHED_VIEW_APPLIED;
                        /* What the status topic said of it before its
                         * CreateJob was read, in log order. */
                        orphan_ctx_t ctx = {store, batch, job, &oom};
                        if (job)
                                err = sched_orphan_take(store, batch, codec,
                                                        'V', ev->job_id,
                                                        orphan_apply, &ctx);
                }
                break;
        case SCHED_EV_STATUS:
                if (ev->u.status.execution_id[0]) {
                        size_t xlen = sched_view_exec_key(
                                xkey, ev->tenant, ev->job_id,
                                ev->u.status.execution_id);
                        if ((err = doc_load(store, batch, SCHED_CF_VIEW_EXECS,
                                            xkey, xlen, &ex, errstr,
                                            errstr_size)))
                                break;
                        if (!ex)
                                ex = exec_new(ev, &oom);
                        if (ex)
                                exec_status(ex, ev, &oom);
                        if (!oom && ex)
                                err = doc_save(store, batch,
                                               SCHED_CF_VIEW_EXECS, xkey, xlen,
                                               ex, errstr, errstr_size);
                        result = SCHED_VIEW_APPLIED;
                }
                if (job && !err) {
                        job_status(job, ev, ex, &oom);
                        result = SCHED_VIEW_APPLIED;
                } else if (!job && !err) {
                        err = sched_orphan_put(store, batch, codec, 'V', ev,
                                               offset);
                        result = SCHED_VIEW_APPLIED;
                }
                break;
        default:
                if (job && job_command(job, ev, &oom))
                        result = SCHED_VIEW_APPLIED;
                break;
        }

        if (!err && oom)
                err = sched_seterr(errstr, errstr_size, SCHED_ERR_NOMEM,
                                   "view: out of memory");
        if (!err && job && result == SCHED_VIEW_APPLIED) {
                err = doc_save(store, batch, SCHED_CF_VIEW_JOBS, jkey, jlen,
                               job, errstr, errstr_size);
                const char *state = jget_str(job, "state");
                if (!err && (!existed || strcmp(old_state, state ? state : "")))
                        sched_view_index_update(
                                store, batch, ev->tenant, ev->job_id,
                                jget_str(job, "queue") ? jget_str(job, "queue")
                                                       : "",
                                doc_time_ms(job, "created_at"),
                                existed ? old_state : NULL, state);
        }
        json_decref(job);
        json_decref(ex);
        if (!err && resultp)
                *resultp = result;
        return err;
}

/* --- Readers -------------------------------------------------------------- */

sched_err_t sched_view_get_job(sched_store_t *store, const char *tenant,
                               const char *job_id, char **jsonp,
                               size_t *lenp) {
        char key[SCHED_VIEW_KEY_MAX];
        size_t klen = sched_view_job_key(key, tenant, job_id);
        return sched_store_get(store, NULL, SCHED_CF_VIEW_JOBS, key, klen,
                               jsonp, lenp);
}

static int exec_qsort_cmp(const void *a, const void *b) {
        const json_t *ja = *(json_t *const *)a, *jb = *(json_t *const *)b;
        int c = exec_cmp(ja, jb);
        if (c)
                return c;
        const char *ia = jget_str(ja, "execution_id"),
                   *ib = jget_str(jb, "execution_id");
        return strcmp(ia ? ia : "", ib ? ib : "");
}

sched_err_t sched_view_list_executions(sched_store_t *store,
                                       const char *tenant, const char *job_id,
                                       const char *after, size_t limit,
                                       char **jsonp, size_t *countp,
                                       char next[SCHED_EXEC_ID_MAX]) {
        char lower[SCHED_VIEW_KEY_MAX + 1], upper[SCHED_VIEW_KEY_MAX];
        size_t plen = sched_view_exec_key(upper, tenant, job_id, NULL);
        upper[plen - 1] = '\x01'; /* just past every "prefix 0x00 ..." key */
        size_t llen = sched_view_exec_key(lower, tenant, job_id, after);
        if (after)
                lower[llen++] = '\0'; /* first key after `after` */

        *jsonp = NULL;
        *countp = 0;
        next[0] = '\0';
        if (limit == 0)
                limit = 1;
        json_t **rows = calloc(limit, sizeof(*rows));
        if (!rows)
                return SCHED_ERR_NOMEM;
        sched_iter_t *it =
                sched_store_iter(store, SCHED_CF_VIEW_EXECS, lower, llen,
                                 upper, plen);
        sched_err_t err = it ? SCHED_ERR_OK : SCHED_ERR_NOMEM;
        size_t n = 0;
        while (!err && sched_iter_valid(it)) {
                size_t vlen;
                if (n == limit) {
                        /* More rows: the cursor is the last id of this page
                         * in key order (taken before the page is sorted). */
                        const char *id = jget_str(rows[n - 1], "execution_id");
                        snprintf(next, SCHED_EXEC_ID_MAX, "%s", id ? id : "");
                        break;
                }
                const char *v = sched_iter_value(it, &vlen);
                json_t *row = json_loadb(v, vlen, 0, NULL);
                if (!row) {
                        err = SCHED_ERR_STORE;
                        break;
                }
                rows[n++] = row;
                sched_iter_next(it);
        }
        sched_iter_destroy(it);
        if (!err) {
                qsort(rows, n, sizeof(*rows), exec_qsort_cmp);
                json_t *arr = json_array();
                for (size_t i = 0; arr && i < n; i++)
                        if (json_array_append(arr, rows[i]))
                                err = SCHED_ERR_NOMEM;
                *jsonp = arr && !err ? json_dumps(arr, DOC_FLAGS) : NULL;
                if (!*jsonp)
                        err = SCHED_ERR_NOMEM;
                json_decref(arr);
                *countp = n;
        }
        for (size_t i = 0; i < n; i++)
                json_decref(rows[i]);
        free(rows);
        return err;
}
