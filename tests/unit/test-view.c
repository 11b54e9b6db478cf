/*
 * test-view.c — the status view appliers (sched/view.h): job and execution
 * documents after create / FIRED / STARTED / PROGRESS / SUCCEEDED, pause and
 * resume, cancel, retries to DEAD_LETTERED, status for an unknown job,
 * tenant isolation, execution ordering and paging, several records in one
 * batch; and replaying the same sequence into two fresh stores gives
 * byte-identical contents.
 */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "sched/codec.h"
#include "sched/kafka.h"
#include "sched/event.h"
#include "sched/store.h"
#include "sched/time.h"
#include "sched/view.h"

#define T0 1767225600000LL /* 2026-01-01T00:00:00.000Z */

/* --- Fixture: a store in a fresh temp dir ---------------------------------- */

typedef struct fx_s {
        char dir[256];
        sched_store_t *store;
        int seq;        /* event ids */
        int64_t offset; /* of the next record applied */
} fx_t;

static sched_codec_t *codec;

/* Apply as the viewer does: each record at the next offset. */
#define VIEW_APPLY(fx, batch, ev, res, err, err_size)                         \
        sched_view_apply((fx)->store, batch, codec, ev, ++(fx)->offset, res,  \
                         err, err_size)

static int rm_cb(const char *path, const struct stat *sb, int flag,
                 struct FTW *ftw) {
        return remove(path);
}

static fx_t *fx_open(void) {
        fx_t *fx = calloc(1, sizeof(*fx));
        char err[512];
        snprintf(fx->dir, sizeof(fx->dir), "/tmp/klok-test-view-XXXXXX");
        assert_non_null(mkdtemp(fx->dir));
        fx->store = sched_store_open(fx->dir, err, sizeof(err));
        if (!fx->store)
                fail_msg("store open: %s", err);
        return fx;
}

static void fx_close(fx_t *fx) {
        sched_store_close(fx->store);
        nftw(fx->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
        free(fx);
}

static int setup(void **state) {
        *state = fx_open();
        return 0;
}

static int teardown(void **state) {
        fx_close(*state);
        return 0;
}

/* --- Event builders --------------------------------------------------------- */

static void header(fx_t *fx, sched_event_t *ev, sched_ev_type_t type,
                   const char *tenant, const char *job, int64_t ts) {
        sched_event_init(ev, type);
        snprintf(ev->event_id, sizeof(ev->event_id), "ev-%d", ++fx->seq);
        snprintf(ev->job_id, sizeof(ev->job_id), "%s", job);
        snprintf(ev->tenant, sizeof(ev->tenant), "%s", tenant);
        ev->ts_ms = ts;
}

static void ev_create(fx_t *fx, sched_event_t *ev, const char *tenant,
                      const char *job, int64_t ts, sched_sched_kind_t kind) {
        header(fx, ev, SCHED_EV_CREATE_JOB, tenant, job, ts);
        snprintf(ev->u.def.name, sizeof(ev->u.def.name), "name of %s", job);
        snprintf(ev->u.def.task, sizeof(ev->u.def.task), "noop");
        ev->u.def.schedule.kind = kind;
        if (kind == SCHED_KIND_DELAY)
                ev->u.def.schedule.delay_ms = 5000;
        if (kind == SCHED_KIND_INTERVAL)
                ev->u.def.schedule.interval_ms = 60000;
        ev->u.def.retry.max_attempts = 3;
        ev->u.def.parameters = strdup("{\"n\":1}");
}

static void ev_status(fx_t *fx, sched_event_t *ev, const char *tenant,
                      const char *job, int64_t ts, sched_status_t st,
                      int64_t scheduled, int32_t attempt) {
        header(fx, ev, SCHED_EV_STATUS, tenant, job, ts);
        ev->u.status.status = st;
        if (attempt > 0)
                sched_execution_id(ev->u.status.execution_id, job, scheduled,
                                   attempt);
        ev->u.status.attempt = attempt;
        ev->u.status.scheduled_ms = scheduled;
}

/* Apply one event in its own batch and clear it; returns the result. */
static sched_view_result_t apply(fx_t *fx, sched_event_t *ev) {
        char err[512];
        sched_view_result_t res;
        sched_batch_t *batch = sched_batch_new();
        sched_err_t e = VIEW_APPLY(fx, batch, ev, &res, err,
                                         sizeof(err));
        if (e)
                fail_msg("apply %s: %s", sched_ev_type2str(ev->type), err);
        if (sched_store_write(fx->store, batch, err, sizeof(err)))
                fail_msg("write: %s", err);
        sched_batch_destroy(batch);
        sched_event_clear(ev);
        return res;
}

/* --- Readers ------------------------------------------------------------------ */

static json_t *job_doc(fx_t *fx, const char *tenant, const char *job) {
        char *text;
        size_t len;
        sched_err_t err = sched_view_get_job(fx->store, tenant, job, &text,
                                             &len);
        if (err == SCHED_ERR_NOT_FOUND)
                return NULL;
        assert_int_equal(err, SCHED_ERR_OK);
        json_t *doc = json_loadb(text, len, 0, NULL);
        assert_non_null(doc);
        free(text);
        return doc;
}

static json_t *exec_doc(fx_t *fx, const char *tenant, const char *job,
                        int64_t scheduled, int32_t attempt) {
        char key[SCHED_VIEW_KEY_MAX], id[SCHED_EXEC_ID_MAX], *text;
        size_t len;
        sched_execution_id(id, job, scheduled, attempt);
        size_t klen = sched_view_exec_key(key, tenant, job, id);
        if (sched_store_get(fx->store, NULL, SCHED_CF_VIEW_EXECS, key, klen,
                            &text, &len))
                return NULL;
        json_t *doc = json_loadb(text, len, 0, NULL);
        assert_non_null(doc);
        free(text);
        return doc;
}

/* doc.path (dotted) as text: strings as is, null as "null", numbers. */
static const char *field(json_t *doc, const char *path) {
        static char buf[4096];
        char p[256];
        snprintf(p, sizeof(p), "%s", path);
        json_t *v = doc;
        for (char *tok = strtok(p, "."); tok && v; tok = strtok(NULL, "."))
                v = json_object_get(v, tok);
        if (!v)
                return "(absent)";
        if (json_is_string(v))
                return json_string_value(v);
        char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        snprintf(buf, sizeof(buf), "%s", s);
        free(s);
        return buf;
}

#define assert_field(doc, path, want) assert_string_equal(field(doc, path), want)

static const char *iso(int64_t ms) {
        static char buf[SCHED_ISO_MAX];
        sched_time_format(ms, buf);
        return buf;
}

/* --- Tests ---------------------------------------------------------------------- */

static void test_one_shot_lifecycle(void **state) {
        fx_t *fx = *state;
        sched_event_t ev;
        json_t *job, *ex;

        ev_create(fx, &ev, "acme", "j1", T0, SCHED_KIND_IMMEDIATE);
        assert_int_equal(apply(fx, &ev), SCHED_VIEW_APPLIED);
        job = job_doc(fx, "acme", "j1");
        assert_non_null(job);
        assert_field(job, "job_id", "j1");
        assert_field(job, "tenant", "acme");
        assert_field(job, "name", "name of j1");
        assert_field(job, "state", "SCHEDULED");
        assert_field(job, "schedule.type", "immediate");
        assert_field(job, "task", "noop");
        assert_field(job, "queue", "default");
        assert_field(job, "priority", "normal");
        assert_field(job, "parameters.n", "1");
        assert_field(job, "retry.max_attempts", "3");
        assert_field(job, "created_at", "2026-01-01T00:00:00.000Z");
        assert_field(job, "updated_at", "2026-01-01T00:00:00.000Z");
        assert_field(job, "next_run_at", "2026-01-01T00:00:00.000Z");
        assert_field(job, "last_execution", "null");
        assert_field(job, "progress", "null");
        json_decref(job);

        /* A repeated create (same idempotency key -> same id) changes
         * nothing: the first definition wins. */
        ev_create(fx, &ev, "acme", "j1", T0 + 5, SCHED_KIND_DELAY);
        snprintf(ev.u.def.name, sizeof(ev.u.def.name), "second");
        assert_int_equal(apply(fx, &ev), SCHED_VIEW_IGNORED);
        job = job_doc(fx, "acme", "j1");
        assert_field(job, "name", "name of j1");
        json_decref(job);

        ev_status(fx, &ev, "acme", "j1", T0 + 3, SCHED_STATUS_FIRED, T0, 1);
        assert_int_equal(apply(fx, &ev), SCHED_VIEW_APPLIED);
        job = job_doc(fx, "acme", "j1");
        assert_field(job, "state", "SCHEDULED");
        assert_field(job, "next_run_at", "null");
        assert_field(job, "last_execution.execution_id", "j1:1767225600000:1");
        assert_field(job, "last_execution.status", "FIRED");
        assert_field(job, "last_execution.attempt", "1");
        json_decref(job);
        ex = exec_doc(fx, "acme", "j1", T0, 1);
        assert_non_null(ex);
        assert_field(ex, "status", "FIRED");
        assert_field(ex, "job_id", "j1");
        assert_field(ex, "scheduled_at", iso(T0));
        assert_field(ex, "fired_at", iso(T0 + 3));
        assert_field(ex, "started_at", "null");
        json_decref(ex);

        ev_status(fx, &ev, "acme", "j1", T0 + 10, SCHED_STATUS_STARTED, T0, 1);
        ev.u.status.deadline_ms = T0 + 30010;
        apply(fx, &ev);
        job = job_doc(fx, "acme", "j1");
        assert_field(job, "state", "RUNNING");
        assert_field(job, "last_execution.status", "RUNNING");
        json_decref(job);
        ex = exec_doc(fx, "acme", "j1", T0, 1);
        assert_field(ex, "status", "RUNNING");
        assert_field(ex, "started_at", iso(T0 + 10));
        assert_field(ex, "deadline_at", iso(T0 + 30010));
        json_decref(ex);

        ev_status(fx, &ev, "acme", "j1", T0 + 20, SCHED_STATUS_PROGRESS, T0, 1);
        ev.u.status.progress = 50;
        ev.u.status.message = strdup("half way");
        apply(fx, &ev);
        job = job_doc(fx, "acme", "j1");
        assert_field(job, "progress", "50");
        json_decref(job);
        ex = exec_doc(fx, "acme", "j1", T0, 1);
        assert_field(ex, "progress", "50");
        assert_field(ex, "message", "half way");
        json_decref(ex);

        ev_status(fx, &ev, "acme", "j1", T0 + 30, SCHED_STATUS_SUCCEEDED, T0,
                  1);
        ev.u.status.exit_code = 0;
        ev.u.status.output = strdup("done\n\xff"); /* not UTF-8 */
        apply(fx, &ev);
        job = job_doc(fx, "acme", "j1");
        assert_field(job, "state", "SUCCEEDED");
        assert_field(job, "last_execution.status", "SUCCEEDED");
        assert_field(job, "updated_at", iso(T0 + 30));
        json_decref(job);
        ex = exec_doc(fx, "acme", "j1", T0, 1);
        assert_field(ex, "status", "SUCCEEDED");
        assert_field(ex, "finished_at", iso(T0 + 30));
        assert_field(ex, "exit_code", "0");
        assert_field(ex, "output", "done\n?");
        assert_field(ex, "error", "null");
        json_decref(ex);

        /* A duplicate run's late STARTED does not reopen anything. */
        ev_status(fx, &ev, "acme", "j1", T0 + 40, SCHED_STATUS_STARTED, T0, 1);
        apply(fx, &ev);
        ev_status(fx, &ev, "acme", "j1", T0 + 41, SCHED_STATUS_COMPLETED,
                  SCHED_NONE, 0);
        apply(fx, &ev);
        job = job_doc(fx, "acme", "j1");
        assert_field(job, "state", "SUCCEEDED");
        json_decref(job);
        ex = exec_doc(fx, "acme", "j1", T0, 1);
        assert_field(ex, "status", "SUCCEEDED");
        json_decref(ex);

        /* Another tenant does not see it. */
        assert_null(job_doc(fx, "other", "j1"));
}

static void test_pause_resume_cancel(void **state) {
        fx_t *fx = *state;
        sched_event_t ev;
        json_t *job;

        ev_create(fx, &ev, "acme", "j2", T0, SCHED_KIND_DELAY);
        apply(fx, &ev);
        job = job_doc(fx, "acme", "j2");
        assert_field(job, "schedule.delay_ms", "5000");
        assert_field(job, "next_run_at", iso(T0 + 5000));
        json_decref(job);

        header(fx, &ev, SCHED_EV_PAUSE_JOB, "acme", "j2", T0 + 1);
        ev.u.reason = strdup("maintenance");
        assert_int_equal(apply(fx, &ev), SCHED_VIEW_APPLIED);
        job = job_doc(fx, "acme", "j2");
        assert_field(job, "state", "PAUSED");
        assert_field(job, "state_reason", "maintenance");
        json_decref(job);

        header(fx, &ev, SCHED_EV_PAUSE_JOB, "acme", "j2", T0 + 2);
        assert_int_equal(apply(fx, &ev), SCHED_VIEW_IGNORED);

        header(fx, &ev, SCHED_EV_RESUME_JOB, "acme", "j2", T0 + 3);
        assert_int_equal(apply(fx, &ev), SCHED_VIEW_APPLIED);
        job = job_doc(fx, "acme", "j2");
        assert_field(job, "state", "SCHEDULED");
        assert_field(job, "state_reason", "null");
        assert_field(job, "updated_at", iso(T0 + 3));
        json_decref(job);

        header(fx, &ev, SCHED_EV_RESUME_JOB, "acme", "j2", T0 + 4);
        assert_int_equal(apply(fx, &ev), SCHED_VIEW_IGNORED);

        /* Commands of another tenant do not reach it. */
        header(fx, &ev, SCHED_EV_CANCEL_JOB, "evil", "j2", T0 + 5);
        assert_int_equal(apply(fx, &ev), SCHED_VIEW_IGNORED);
        job = job_doc(fx, "acme", "j2");
        assert_field(job, "state", "SCHEDULED");
        json_decref(job);

        header(fx, &ev, SCHED_EV_CANCEL_JOB, "acme", "j2", T0 + 6);
        assert_int_equal(apply(fx, &ev), SCHED_VIEW_APPLIED);
        job = job_doc(fx, "acme", "j2");
        assert_field(job, "state", "CANCELLED");
        assert_field(job, "next_run_at", "null");
        json_decref(job);

        /* Cancelled is final: pause, resume, a racing STARTED change it not. */
        header(fx, &ev, SCHED_EV_PAUSE_JOB, "acme", "j2", T0 + 7);
        assert_int_equal(apply(fx, &ev), SCHED_VIEW_IGNORED);
        header(fx, &ev, SCHED_EV_CANCEL_JOB, "acme", "j2", T0 + 8);
        assert_int_equal(apply(fx, &ev), SCHED_VIEW_IGNORED);
        ev_status(fx, &ev, "acme", "j2", T0 + 9, SCHED_STATUS_STARTED,
                  T0 + 5000, 1);
        apply(fx, &ev);
        job = job_doc(fx, "acme", "j2");
        assert_field(job, "state", "CANCELLED");
        assert_field(job, "last_execution.status", "RUNNING");
        json_decref(job);

        /* Commands for a job the view never saw are ignored. */
        header(fx, &ev, SCHED_EV_PAUSE_JOB, "acme", "nope", T0);
        assert_int_equal(apply(fx, &ev), SCHED_VIEW_IGNORED);
        assert_null(job_doc(fx, "acme", "nope"));
}

static void test_pause_while_running(void **state) {
        fx_t *fx = *state;
        sched_event_t ev;
        json_t *job;

        ev_create(fx, &ev, "acme", "r1", T0, SCHED_KIND_INTERVAL);
        apply(fx, &ev);
        ev_status(fx, &ev, "acme", "r1", T0 + 1, SCHED_STATUS_STARTED, T0, 1);
        apply(fx, &ev);
        header(fx, &ev, SCHED_EV_PAUSE_JOB, "acme", "r1", T0 + 2);
        apply(fx, &ev);
        header(fx, &ev, SCHED_EV_RESUME_JOB, "acme", "r1", T0 + 3);
        apply(fx, &ev);
        job = job_doc(fx, "acme", "r1");
        assert_field(job, "state", "RUNNING"); /* still executing */
        json_decref(job);
        /* A recurring job's success returns it to SCHEDULED. */
        ev_status(fx, &ev, "acme", "r1", T0 + 4, SCHED_STATUS_SUCCEEDED, T0,
                  1);
        apply(fx, &ev);
        job = job_doc(fx, "acme", "r1");
        assert_field(job, "state", "SCHEDULED");
        assert_field(job, "schedule.interval_ms", "60000");
        json_decref(job);
}

static void test_retries_to_dead_letter(void **state) {
        fx_t *fx = *state;
        sched_event_t ev;
        json_t *job, *ex;

        ev_create(fx, &ev, "acme", "f1", T0, SCHED_KIND_IMMEDIATE);
        apply(fx, &ev);
        for (int attempt = 1; attempt <= 3; attempt++) {
                int64_t t = T0 + attempt * 100;
                ev_status(fx, &ev, "acme", "f1", t, SCHED_STATUS_STARTED, T0,
                          attempt);
                apply(fx, &ev);
                ev_status(fx, &ev, "acme", "f1", t + 1, SCHED_STATUS_FAILED,
                          T0, attempt);
                ev.u.status.retryable = true;
                ev.u.status.exit_code = 2;
                ev.u.status.message = strdup("boom");
                apply(fx, &ev);
                job = job_doc(fx, "acme", "f1");
                if (attempt < 3) {
                        assert_field(job, "state", "SCHEDULED");
                        json_decref(job);
                        ev_status(fx, &ev, "acme", "f1", t + 2,
                                  SCHED_STATUS_RETRY_SCHEDULED, T0, attempt);
                        ev.u.status.next_ms = t + 50;
                        apply(fx, &ev);
                        job = job_doc(fx, "acme", "f1");
                        assert_field(job, "next_run_at", iso(t + 50));
                } else {
                        assert_field(job, "state", "FAILED");
                        assert_field(job, "state_reason", "boom");
                }
                json_decref(job);
        }
        ex = exec_doc(fx, "acme", "f1", T0, 2);
        assert_field(ex, "status", "FAILED");
        assert_field(ex, "error", "boom");
        assert_field(ex, "exit_code", "2");
        assert_field(ex, "retryable", "true");
        assert_field(ex, "retry_at", iso(T0 + 250));
        json_decref(ex);

        ev_status(fx, &ev, "acme", "f1", T0 + 400, SCHED_STATUS_DEAD_LETTERED,
                  T0, 3);
        apply(fx, &ev);
        job = job_doc(fx, "acme", "f1");
        assert_field(job, "state", "DEAD_LETTERED");
        assert_field(job, "last_execution.attempt", "3");
        json_decref(job);
        ex = exec_doc(fx, "acme", "f1", T0, 3);
        assert_field(ex, "status", "FAILED"); /* its outcome stays */
        json_decref(ex);

        /* A late heartbeat of attempt 1 does not take last_execution. */
        ev_status(fx, &ev, "acme", "f1", T0 + 500, SCHED_STATUS_HEARTBEAT, T0,
                  1);
        apply(fx, &ev);
        job = job_doc(fx, "acme", "f1");
        assert_field(job, "last_execution.attempt", "3");
        json_decref(job);
}

/* Occurrences of a recurring job that did not run: SKIPPED (final, with
 * the policy's reason) and BUFFERED (until it fires); the schedule shows
 * its policies. */
static void test_recurring_skipped_and_buffered(void **state) {
        fx_t *fx = *state;
        sched_event_t ev;
        json_t *job, *ex;

        ev_create(fx, &ev, "acme", "r1", T0, SCHED_KIND_INTERVAL);
        ev.u.def.schedule.overlap = SCHED_OVERLAP_BUFFER_ONE;
        ev.u.def.schedule.misfire = SCHED_MISFIRE_SKIP;
        apply(fx, &ev);
        job = job_doc(fx, "acme", "r1");
        assert_field(job, "schedule.overlap", "buffer_one");
        assert_field(job, "schedule.misfire", "skip");
        assert_field(job, "schedule.misfire_threshold_ms", "60000");
        json_decref(job);

        ev_status(fx, &ev, "acme", "r1", T0 + 60000, SCHED_STATUS_SKIPPED,
                  T0 + 60000, 1);
        ev.u.status.message = strdup("missed by 70000 ms");
        apply(fx, &ev);
        ex = exec_doc(fx, "acme", "r1", T0 + 60000, 1);
        assert_field(ex, "status", "SKIPPED");
        assert_field(ex, "message", "missed by 70000 ms");
        assert_field(ex, "finished_at", iso(T0 + 60000));
        json_decref(ex);

        ev_status(fx, &ev, "acme", "r1", T0 + 120000, SCHED_STATUS_BUFFERED,
                  T0 + 120000, 1);
        apply(fx, &ev);
        ex = exec_doc(fx, "acme", "r1", T0 + 120000, 1);
        assert_field(ex, "status", "BUFFERED");
        json_decref(ex);
        ev_status(fx, &ev, "acme", "r1", T0 + 130000, SCHED_STATUS_FIRED,
                  T0 + 120000, 1);
        apply(fx, &ev);
        ex = exec_doc(fx, "acme", "r1", T0 + 120000, 1);
        assert_field(ex, "status", "FIRED");
        assert_field(ex, "fired_at", iso(T0 + 130000));
        json_decref(ex);
        job = job_doc(fx, "acme", "r1");
        assert_field(job, "state", "SCHEDULED");
        json_decref(job);
}

static void test_status_for_unknown_job(void **state) {
        fx_t *fx = *state;
        sched_event_t ev;
        ev_status(fx, &ev, "acme", "ghost", T0, SCHED_STATUS_FIRED, T0, 1);
        assert_int_equal(apply(fx, &ev), SCHED_VIEW_APPLIED);
        assert_null(job_doc(fx, "acme", "ghost"));
        json_t *ex = exec_doc(fx, "acme", "ghost", T0, 1);
        assert_non_null(ex);
        assert_field(ex, "status", "FIRED");
        json_decref(ex);

        /* A job-level event of an unknown job is kept for its CreateJob
         * (the status partition can be read ahead of the commands one). */
        ev_status(fx, &ev, "acme", "ghost", T0 + 5, SCHED_STATUS_COMPLETED,
                  SCHED_NONE, 0);
        assert_int_equal(apply(fx, &ev), SCHED_VIEW_APPLIED);
        assert_null(job_doc(fx, "acme", "ghost"));
        /* The CreateJob arrives: the job row takes what came before it, in
         * log order, and ends where the causal order would have left it. */
        ev_create(fx, &ev, "acme", "ghost", T0 - 10, SCHED_KIND_IMMEDIATE);
        assert_int_equal(apply(fx, &ev), SCHED_VIEW_APPLIED);
        json_t *job = job_doc(fx, "acme", "ghost");
        assert_non_null(job);
        assert_field(job, "state", "SUCCEEDED");
        json_decref(job);
}

static void test_invalid_events(void **state) {
        fx_t *fx = *state;
        sched_event_t ev;
        char err[256];
        sched_batch_t *batch = sched_batch_new();
        ev_create(fx, &ev, "", "j", T0, SCHED_KIND_IMMEDIATE);
        assert_int_equal(VIEW_APPLY(fx, batch, &ev, NULL, err,
                                          sizeof(err)),
                         SCHED_ERR_INVALID);
        sched_event_clear(&ev);
        ev_status(fx, &ev, "acme", "", T0, SCHED_STATUS_FIRED, T0, 1);
        assert_int_equal(VIEW_APPLY(fx, batch, &ev, NULL, err,
                                          sizeof(err)),
                         SCHED_ERR_INVALID);
        sched_event_clear(&ev);
        assert_int_equal(sched_batch_count(batch), 0);
        sched_batch_destroy(batch);
}

/* Records of one consumed batch see each other before the write. */
static void test_one_batch(void **state) {
        fx_t *fx = *state;
        sched_event_t ev;
        char err[256];
        sched_batch_t *batch = sched_batch_new();
        ev_create(fx, &ev, "acme", "b1", T0, SCHED_KIND_IMMEDIATE);
        assert_int_equal(VIEW_APPLY(fx, batch, &ev, NULL, err,
                                          sizeof(err)),
                         SCHED_ERR_OK);
        sched_event_clear(&ev);
        ev_status(fx, &ev, "acme", "b1", T0 + 1, SCHED_STATUS_STARTED, T0, 1);
        assert_int_equal(VIEW_APPLY(fx, batch, &ev, NULL, err,
                                          sizeof(err)),
                         SCHED_ERR_OK);
        sched_event_clear(&ev);
        assert_null(job_doc(fx, "acme", "b1")); /* not written yet */
        assert_int_equal(sched_store_write(fx->store, batch, err, sizeof(err)),
                         SCHED_ERR_OK);
        sched_batch_destroy(batch);
        json_t *job = job_doc(fx, "acme", "b1");
        assert_field(job, "state", "RUNNING");
        json_decref(job);
}

static void test_executions_order_and_pages(void **state) {
        fx_t *fx = *state;
        sched_event_t ev;
        ev_create(fx, &ev, "acme", "p1", T0, SCHED_KIND_INTERVAL);
        apply(fx, &ev);
        /* Key order would put attempt 10 before 2; the list must not. */
        static const int32_t attempts[] = {10, 2, 1};
        for (int i = 0; i < 3; i++) {
                ev_status(fx, &ev, "acme", "p1", T0 + i, SCHED_STATUS_FIRED,
                          T0, attempts[i]);
                apply(fx, &ev);
        }
        ev_status(fx, &ev, "acme", "p1", T0, SCHED_STATUS_FIRED, T0 - 60000, 1);
        apply(fx, &ev);
        /* A neighbour job whose id extends p1's must not leak in. */
        ev_status(fx, &ev, "acme", "p10", T0, SCHED_STATUS_FIRED, T0, 1);
        apply(fx, &ev);

        char *text, next[SCHED_EXEC_ID_MAX];
        size_t count;
        assert_int_equal(sched_view_list_executions(fx->store, "acme", "p1",
                                                    NULL, 100, &text, &count,
                                                    next),
                         SCHED_ERR_OK);
        assert_int_equal(count, 4);
        assert_string_equal(next, "");
        json_t *arr = json_loads(text, 0, NULL);
        free(text);
        assert_int_equal(json_array_size(arr), 4);
        assert_field(json_array_get(arr, 0), "execution_id",
                     "p1:1767225540000:1");
        assert_field(json_array_get(arr, 1), "execution_id",
                     "p1:1767225600000:1");
        assert_field(json_array_get(arr, 2), "execution_id",
                     "p1:1767225600000:2");
        assert_field(json_array_get(arr, 3), "execution_id",
                     "p1:1767225600000:10");
        json_decref(arr);

        /* Pages of 3 then 1 cover every row once. */
        assert_int_equal(sched_view_list_executions(fx->store, "acme", "p1",
                                                    NULL, 3, &text, &count,
                                                    next),
                         SCHED_ERR_OK);
        assert_int_equal(count, 3);
        assert_string_not_equal(next, "");
        free(text);
        char after[SCHED_EXEC_ID_MAX];
        memcpy(after, next, sizeof(after));
        assert_int_equal(sched_view_list_executions(fx->store, "acme", "p1",
                                                    after, 3, &text, &count,
                                                    next),
                         SCHED_ERR_OK);
        assert_int_equal(count, 1);
        assert_string_equal(next, "");
        free(text);

        /* Other tenant: nothing. */
        assert_int_equal(sched_view_list_executions(fx->store, "evil", "p1",
                                                    NULL, 100, &text, &count,
                                                    next),
                         SCHED_ERR_OK);
        assert_int_equal(count, 0);
        assert_string_equal(text, "[]");
        free(text);
}

/* --- Job lists ----------------------------------------------------------------- */

/* The job names of a list page, space-separated ("name of j3" -> "j3"). */
static void list_names(fx_t *fx, const char *tenant, const char *state,
                       const char *queue, int64_t from, int64_t to,
                       const char *after, size_t limit, char *out,
                       size_t out_size, char next[SCHED_VIEW_CURSOR_MAX]) {
        sched_view_filter_t f;
        memset(&f, 0, sizeof(f));
        snprintf(f.state, sizeof(f.state), "%s", state ? state : "");
        snprintf(f.queue, sizeof(f.queue), "%s", queue ? queue : "");
        f.from_ms = from;
        f.to_ms = to;
        char *text;
        size_t count;
        assert_int_equal(sched_view_list_jobs(fx->store, tenant, &f, after,
                                              limit, &text, &count, next),
                         SCHED_ERR_OK);
        json_t *arr = json_loads(text, 0, NULL);
        free(text);
        assert_true(json_is_array(arr));
        assert_int_equal(json_array_size(arr), count);
        out[0] = '\0';
        size_t i;
        json_t *job;
        json_array_foreach(arr, i, job) {
                const char *name = json_string_value(json_object_get(job, "name"));
                assert_non_null(name);
                assert_string_equal(json_string_value(json_object_get(job, "tenant")),
                                    tenant);
                size_t n = strlen(out);
                snprintf(out + n, out_size - n, "%s%s", n ? " " : "",
                         name + strlen("name of "));
        }
        json_decref(arr);
}

static int count_rows(fx_t *fx, sched_cf_t cf) {
        sched_iter_t *it = sched_store_iter(fx->store, cf, NULL, 0, NULL, 0);
        int n = 0;
        for (; sched_iter_valid(it); sched_iter_next(it))
                n++;
        sched_iter_destroy(it);
        return n;
}

static void test_list_jobs_by_state_queue_and_time_in_stable_pages(void **state) {
        fx_t *fx = *state;
        sched_event_t ev;
        char names[256], next[SCHED_VIEW_CURSOR_MAX];
        for (int i = 0; i < 7; i++) {
                char job[8];
                snprintf(job, sizeof(job), "j%d", i);
                ev_create(fx, &ev, "acme", job, T0 + i * 1000,
                          SCHED_KIND_DELAY);
                snprintf(ev.u.def.queue, sizeof(ev.u.def.queue), "%s",
                         i % 2 ? "q2" : "q1");
                apply(fx, &ev);
        }
        for (int i = 0; i < 2; i++) {
                char job[8];
                snprintf(job, sizeof(job), "b%d", i);
                ev_create(fx, &ev, "beta", job, T0 + i, SCHED_KIND_DELAY);
                apply(fx, &ev);
        }
        ev_status(fx, &ev, "acme", "j1", T0 + 9000, SCHED_STATUS_FIRED,
                  T0 + 6000, 1);
        apply(fx, &ev);
        ev_status(fx, &ev, "acme", "j1", T0 + 9001, SCHED_STATUS_STARTED,
                  T0 + 6000, 1);
        apply(fx, &ev);
        header(fx, &ev, SCHED_EV_CANCEL_JOB, "acme", "j2", T0 + 9002);
        apply(fx, &ev);

        /* Pages of 3, oldest first; the last page has no cursor. */
        list_names(fx, "acme", NULL, NULL, SCHED_NONE, SCHED_NONE, NULL, 3,
                   names, sizeof(names), next);
        assert_string_equal(names, "j0 j1 j2");
        assert_true(next[0]);
        char c1[SCHED_VIEW_CURSOR_MAX];
        memcpy(c1, next, sizeof(c1));
        /* A job created after the listing began sorts after every page. */
        ev_create(fx, &ev, "acme", "j7", T0 + 7000, SCHED_KIND_DELAY);
        apply(fx, &ev);
        list_names(fx, "acme", NULL, NULL, SCHED_NONE, SCHED_NONE, c1, 3,
                   names, sizeof(names), next);
        assert_string_equal(names, "j3 j4 j5");
        list_names(fx, "acme", NULL, NULL, SCHED_NONE, SCHED_NONE, next, 3,
                   names, sizeof(names), next);
        assert_string_equal(names, "j6 j7");
        assert_string_equal(next, "");

        /* The state index follows every change, and nothing else. */
        list_names(fx, "acme", "SCHEDULED", NULL, SCHED_NONE, SCHED_NONE, NULL,
                   100, names, sizeof(names), next);
        assert_string_equal(names, "j0 j3 j4 j5 j6 j7");
        list_names(fx, "acme", "RUNNING", NULL, SCHED_NONE, SCHED_NONE, NULL,
                   100, names, sizeof(names), next);
        assert_string_equal(names, "j1");
        list_names(fx, "acme", "CANCELLED", NULL, SCHED_NONE, SCHED_NONE,
                   NULL, 100, names, sizeof(names), next);
        assert_string_equal(names, "j2");
        list_names(fx, "acme", NULL, "q2", SCHED_NONE, SCHED_NONE, NULL, 100,
                   names, sizeof(names), next);
        assert_string_equal(names, "j1 j3 j5");
        list_names(fx, "acme", "SCHEDULED", "q2", SCHED_NONE, SCHED_NONE, NULL,
                   100, names, sizeof(names), next);
        assert_string_equal(names, "j3 j5");
        /* created_at in [from, to) */
        list_names(fx, "acme", NULL, NULL, T0 + 2000, T0 + 5000, NULL, 100,
                   names, sizeof(names), next);
        assert_string_equal(names, "j2 j3 j4");
        list_names(fx, "beta", NULL, NULL, SCHED_NONE, SCHED_NONE, NULL, 100,
                   names, sizeof(names), next);
        assert_string_equal(names, "b0 b1");
        list_names(fx, "nobody", NULL, NULL, SCHED_NONE, SCHED_NONE, NULL, 100,
                   names, sizeof(names), next);
        assert_string_equal(names, "");

        /* One 'T', one 'Q' and exactly one 'S' row per job. */
        assert_int_equal(count_rows(fx, SCHED_CF_VIEW_INDEX), 3 * 10);

        sched_view_filter_t f;
        memset(&f, 0, sizeof(f));
        f.from_ms = f.to_ms = SCHED_NONE;
        char *text;
        size_t count;
        assert_int_equal(sched_view_list_jobs(fx->store, "acme", &f, "garbage",
                                              10, &text, &count, next),
                         SCHED_ERR_INVALID);
}

/* --- Determinism ----------------------------------------------------------- */

/* Every event kind over a few jobs, in one fixed order. */
static void replay(fx_t *fx) {
        sched_event_t ev;
        char err[256];
        sched_batch_t *batch = sched_batch_new();
        fx->seq = 0;
        for (int j = 0; j < 20; j++) {
                char job[16];
                snprintf(job, sizeof(job), "job-%02d", j);
                int64_t t = T0 + j * 1000;
                sched_event_t evs[8];
                int n = 0;
                ev_create(fx, &evs[n++], j % 3 ? "acme" : "beta", job, t,
                          (sched_sched_kind_t)(j % 5));
                const char *tenant = j % 3 ? "acme" : "beta";
                ev_status(fx, &evs[n++], tenant, job, t + 1,
                          SCHED_STATUS_FIRED, t, 1);
                ev_status(fx, &evs[n++], tenant, job, t + 2,
                          SCHED_STATUS_STARTED, t, 1);
                evs[n - 1].u.status.deadline_ms = t + 60000;
                ev_status(fx, &evs[n++], tenant, job, t + 3,
                          SCHED_STATUS_PROGRESS, t, 1);
                evs[n - 1].u.status.progress = j * 5;
                if (j % 4 == 0) {
                        header(fx, &evs[n++], SCHED_EV_PAUSE_JOB, tenant, job,
                               t + 4);
                        header(fx, &evs[n++], SCHED_EV_RESUME_JOB, tenant, job,
                               t + 5);
                }
                ev_status(fx, &evs[n++], tenant, job, t + 6,
                          j % 2 ? SCHED_STATUS_SUCCEEDED : SCHED_STATUS_FAILED,
                          t, 1);
                evs[n - 1].u.status.message = strdup("msg");
                evs[n - 1].u.status.retryable = j % 6 == 0;
                if (j % 7 == 0)
                        header(fx, &evs[n++], SCHED_EV_CANCEL_JOB, tenant, job,
                               t + 7);
                for (int i = 0; i < n; i++) {
                        assert_int_equal(VIEW_APPLY(fx, batch,
                                                          &evs[i], NULL, err,
                                                          sizeof(err)),
                                         SCHED_ERR_OK);
                        sched_event_clear(&evs[i]);
                }
                sched_store_offset_stage(fx->store, batch, "klok.commands", 0,
                                         j + 1);
                if (j % 5 == 4) /* batches of several records */
                        assert_int_equal(sched_store_write(fx->store, batch,
                                                           err, sizeof(err)),
                                         SCHED_ERR_OK);
        }
        ev_status(fx, &ev, "acme", "unknown", T0, SCHED_STATUS_FIRED, T0, 1);
        assert_int_equal(
                VIEW_APPLY(fx, batch, &ev, NULL, err, sizeof(err)),
                SCHED_ERR_OK);
        sched_event_clear(&ev);
        assert_int_equal(sched_store_write(fx->store, batch, err, sizeof(err)),
                         SCHED_ERR_OK);
        sched_batch_destroy(batch);
}

/* Compare one column family of two stores; returns the row count. */
static int compare_cf(fx_t *a, fx_t *b, sched_cf_t cf) {
        sched_iter_t *ia = sched_store_iter(a->store, cf, NULL, 0, NULL, 0);
        sched_iter_t *ib = sched_store_iter(b->store, cf, NULL, 0, NULL, 0);
        int rows = 0;
        while (sched_iter_valid(ia) && sched_iter_valid(ib)) {
                size_t ka, kb, va, vb;
                const char *pka = sched_iter_key(ia, &ka),
                           *pkb = sched_iter_key(ib, &kb);
                assert_int_equal(ka, kb);
                assert_memory_equal(pka, pkb, ka);
                const char *pva = sched_iter_value(ia, &va),
                           *pvb = sched_iter_value(ib, &vb);
                if (va != vb || memcmp(pva, pvb, va))
                        fail_msg("%s row %d differs:\n  %.*s\n  %.*s",
                                 sched_cf_name(cf), rows, (int)va, pva,
                                 (int)vb, pvb);
                rows++;
                sched_iter_next(ia);
                sched_iter_next(ib);
        }
        assert_false(sched_iter_valid(ia));
        assert_false(sched_iter_valid(ib));
        sched_iter_destroy(ia);
        sched_iter_destroy(ib);
        return rows;
}

static void test_replay_is_byte_identical(void **state) {
        fx_t *a = fx_open(), *b = fx_open();
        replay(a);
        replay(b);
        assert_int_equal(compare_cf(a, b, SCHED_CF_VIEW_JOBS), 20);
        assert_int_equal(compare_cf(a, b, SCHED_CF_VIEW_EXECS), 21);
        assert_int_equal(compare_cf(a, b, SCHED_CF_VIEW_INDEX), 3 * 20);
        assert_int_equal(compare_cf(a, b, SCHED_CF_META), 1);
        assert_int_equal(sched_store_offset_get(a->store, "klok.commands", 0),
                         20);
        fx_close(a);
        fx_close(b);
}

/* --- Where a job's records are (VIEW_LOG) ----------------------------------- */

/* Encode ev and take it through sched_view_apply_record at offset of
 * partition 0 of commands (status false) or status; the result code. */
static sched_err_t apply_bytes(fx_t *fx, sched_batch_t *b, bool status,
                               const char *key, const void *payload,
                               size_t len, int64_t offset) {
        char err[512];
        sched_view_result_t res;
        return sched_view_apply_record(
                fx->store, b, codec, status,
                status ? "klok.status" : "klok.commands", key,
                key ? strlen(key) : 0, payload, len, 0, 1, offset, &res, err,
                sizeof(err));
}

static sched_err_t apply_event(fx_t *fx, sched_batch_t *b, bool status,
                               sched_event_t *ev, int64_t offset) {
        void *buf;
        size_t len;
        char err[512];
        assert_int_equal(sched_codec_encode(codec, ev, &buf, &len, err,
                                            sizeof(err)),
                         SCHED_ERR_OK);
        sched_err_t rc = apply_bytes(fx, b, status, ev->job_id, buf, len,
                                     offset);
        free(buf);
        sched_event_clear(ev);
        return rc;
}

static json_t *log_page(fx_t *fx, const char *job, const char *after,
                        size_t limit) {
        char *text;
        /* One partition: every job's records are on partition 0. */
        assert_int_equal(sched_view_log_page(fx->store, job, 1,
                                             "klok.commands", "klok.status",
                                             after, limit, &text),
                         SCHED_ERR_OK);
        json_t *page = json_loads(text, 0, NULL);
        free(text);
        assert_non_null(page);
        return page;
}

static void assert_record(json_t *page, size_t i, const char *topic,
                          int64_t offset) {
        json_t *r = json_array_get(json_object_get(page, "records"), i);
        assert_non_null(r);
        assert_string_equal(json_string_value(json_object_get(r, "topic")),
                            topic);
        assert_int_equal(json_integer_value(json_object_get(r, "partition")),
                         0);
        assert_int_equal(json_integer_value(json_object_get(r, "offset")),
                         offset);
}

static void test_record_index_lists_every_record_keyed_by_the_job(
        void **state) {
        fx_t *fx = *state;
        sched_batch_t *b = sched_batch_new();
        sched_event_t ev;
        char err[512];
        sched_view_log_begin(fx->store, b, "klok.commands", 0, 0);
        sched_view_log_begin(fx->store, b, "klok.status", 0, 0);

        ev_create(fx, &ev, "t1", "j1", T0, SCHED_KIND_DELAY);
        assert_int_equal(apply_event(fx, b, false, &ev, 0), SCHED_ERR_OK);
        ev_create(fx, &ev, "t1", "j2", T0, SCHED_KIND_DELAY);
        assert_int_equal(apply_event(fx, b, false, &ev, 1), SCHED_ERR_OK);
        /* Undecodable but keyed by j1: indexed, and to be dead-lettered. */
        assert_int_not_equal(apply_bytes(fx, b, false, "j1", "junk", 4, 2),
                             SCHED_ERR_OK);
        /* Keys that cannot be job ids are not indexed. */
        assert_int_not_equal(apply_bytes(fx, b, false, NULL, "junk", 4, 3),
                             SCHED_ERR_OK);
        char long_key[SCHED_ID_MAX + 8];
        memset(long_key, 'k', sizeof(long_key) - 1);
        long_key[sizeof(long_key) - 1] = '\0';
        assert_int_not_equal(apply_bytes(fx, b, false, long_key, "junk", 4, 4),
                             SCHED_ERR_OK);
        ev_status(fx, &ev, "t1", "j1", T0 + 5000, SCHED_STATUS_FIRED,
                  T0 + 5000, 1);
        assert_int_equal(apply_event(fx, b, true, &ev, 0), SCHED_ERR_OK);
        ev_status(fx, &ev, "t1", "j1", T0 + 5001, SCHED_STATUS_SUCCEEDED,
                  T0 + 5000, 1);
        assert_int_equal(apply_event(fx, b, true, &ev, 1), SCHED_ERR_OK);
        assert_int_equal(sched_store_write(fx->store, b, err, sizeof(err)),
                         SCHED_ERR_OK);
        /* A marker is kept once: a later begin does not move it. */
        sched_view_log_begin(fx->store, b, "klok.commands", 0, 5);
        assert_int_equal(sched_batch_count(b), 0);

        json_t *all = log_page(fx, "j1", NULL, 100);
        assert_int_equal(json_array_size(json_object_get(all, "records")), 4);
        assert_record(all, 0, "commands", 0);
        assert_record(all, 1, "commands", 2);
        assert_record(all, 2, "status", 0);
        assert_record(all, 3, "status", 1);
        assert_true(json_is_null(json_object_get(all, "next_cursor")));
        json_t *pos = json_object_get(all, "positions");
        assert_int_equal(json_integer_value(json_object_get(pos, "commands")),
                         5);
        assert_int_equal(json_integer_value(json_object_get(pos, "status")),
                         2);
        json_t *from = json_object_get(all, "indexed_from");
        assert_int_equal(json_integer_value(json_object_get(from, "commands")),
                         0);
        json_decref(all);

        /* Pages of 3 then the rest, through the cursor. */
        json_t *p1 = log_page(fx, "j1", NULL, 3);
        assert_int_equal(json_array_size(json_object_get(p1, "records")), 3);
        const char *cur =
                json_string_value(json_object_get(p1, "next_cursor"));
        assert_true(cur && *cur);
        json_t *p2 = log_page(fx, "j1", cur, 3);
        assert_int_equal(json_array_size(json_object_get(p2, "records")), 1);
        assert_record(p2, 0, "status", 1);
        assert_true(json_is_null(json_object_get(p2, "next_cursor")));
        json_decref(p1);
        json_decref(p2);

        /* j2 has its one record; "j" (a prefix of both) has none. */
        json_t *j2 = log_page(fx, "j2", NULL, 100);
        assert_int_equal(json_array_size(json_object_get(j2, "records")), 1);
        assert_record(j2, 0, "commands", 1);
        json_decref(j2);
        json_t *j = log_page(fx, "j", NULL, 100);
        assert_int_equal(json_array_size(json_object_get(j, "records")), 0);
        json_decref(j);

        char *text = NULL;
        assert_int_equal(sched_view_log_page(fx->store, "j1", 1,
                                             "klok.commands", "klok.status",
                                             "x.1.2", 10, &text),
                         SCHED_ERR_INVALID);
        assert_null(text);
        sched_batch_destroy(b);
}

/* A record on another partition than its job's is refused (dead-lettered,
 * as the timer does) but still indexed where it sits. */
static void test_a_record_off_its_jobs_partition_is_refused(void **state) {
        fx_t *fx = *state;
        char job[16], err[512];
        int n = 0;
        do /* a job id whose partition of 4 is not 0 */
                snprintf(job, sizeof(job), "off-%d", n++);
        while (sched_partition_of(job, strlen(job), 4) == 0);
        sched_event_t ev;
        void *buf;
        size_t len;
        ev_create(fx, &ev, "t1", job, T0, SCHED_KIND_DELAY);
        assert_int_equal(sched_codec_encode(codec, &ev, &buf, &len, err,
                                            sizeof(err)),
                         SCHED_ERR_OK);
        sched_event_clear(&ev);
        sched_batch_t *b = sched_batch_new();
        sched_view_result_t res;
        assert_int_equal(sched_view_apply_record(
                                 fx->store, b, codec, false, "klok.commands",
                                 job, strlen(job), buf, len, 0, 4, 7, &res,
                                 err, sizeof(err)),
                         SCHED_ERR_INVALID);
        assert_non_null(strstr(err, "partition"));
        free(buf);
        assert_int_equal(sched_store_write(fx->store, b, err, sizeof(err)),
                         SCHED_ERR_OK);
        sched_batch_destroy(b);
        char *doc;
        size_t dlen;
        assert_int_equal(sched_view_get_job(fx->store, "t1", job, &doc, &dlen),
                         SCHED_ERR_NOT_FOUND);
        assert_int_equal(sched_store_offset_get(fx->store, "klok.commands", 0),
                         8);
        assert_int_equal(count_rows(fx, SCHED_CF_VIEW_LOG), 1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_one_shot_lifecycle,
                                                setup, teardown),
                cmocka_unit_test_setup_teardown(test_pause_resume_cancel,
                                                setup, teardown),
                cmocka_unit_test_setup_teardown(test_pause_while_running,
                                                setup, teardown),
                cmocka_unit_test_setup_teardown(test_retries_to_dead_letter,
                                                setup, teardown),
                cmocka_unit_test_setup_teardown(test_recurring_skipped_and_buffered,
                                                setup, teardown),
                cmocka_unit_test_setup_teardown(test_status_for_unknown_job,
                                                setup, teardown),
                cmocka_unit_test_setup_teardown(test_invalid_events, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_one_batch, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(
                        test_executions_order_and_pages, setup, teardown),
                cmocka_unit_test_setup_teardown(
                        test_list_jobs_by_state_queue_and_time_in_stable_pages,
                        setup, teardown),
                cmocka_unit_test(test_replay_is_byte_identical),
                cmocka_unit_test_setup_teardown(
                        test_record_index_lists_every_record_keyed_by_the_job,
                        setup, teardown),
                cmocka_unit_test_setup_teardown(
                        test_a_record_off_its_jobs_partition_is_refused,
                        setup, teardown),
        };
        char err[512];
        codec = sched_codec_new(KLOK_SOURCE_DIR "/schemas", err, sizeof(err));
        if (!codec) {
                fprintf(stderr, "codec: %s\n", err);
                return 1;
        }
        int rc = cmocka_run_group_tests(tests, NULL, NULL);
        sched_codec_destroy(codec);
        return rc;
}
