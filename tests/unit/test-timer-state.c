/*
 * test-timer-state.c — the timer's appliers: what each event does to the
 * job row and the due index, and that replaying the same events into an
 * empty store gives the same bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sched/codec.h"
#include "sched/timer_state.h"

static sched_codec_t *codec;

typedef struct fx_s {
        char dir[64];
        sched_store_t *store;
        sched_batch_t *batch;
        int64_t offset; /* of the next event applied */
} fx_t;

static fx_t *fx_new(void) {
        fx_t *fx = calloc(1, sizeof(*fx));
        snprintf(fx->dir, sizeof(fx->dir), "/tmp/klok-test-timer-XXXXXX");
        assert_non_null(mkdtemp(fx->dir));
        char errstr[256];
        fx->store = sched_store_open(fx->dir, errstr, sizeof(errstr));
        assert_non_null(fx->store);
        fx->batch = sched_batch_new();
        return fx;
}

static void fx_destroy(fx_t *fx) {
        sched_batch_destroy(fx->batch);
        sched_store_close(fx->store);
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", fx->dir);
        assert_int_equal(system(cmd), 0);
        free(fx);
}

static void create_ev(sched_event_t *ev, const char *job_id,
                      sched_sched_kind_t kind, int64_t ts, int64_t arg) {
        sched_event_init(ev, SCHED_EV_CREATE_JOB);
        snprintf(ev->event_id, sizeof(ev->event_id), "e-%s", job_id);
        snprintf(ev->job_id, sizeof(ev->job_id), "%s", job_id);
        snprintf(ev->tenant, sizeof(ev->tenant), "t1");
        ev->ts_ms = ts;
        snprintf(ev->u.def.name, sizeof(ev->u.def.name), "n");
        snprintf(ev->u.def.task, sizeof(ev->u.def.task), "noop");
        snprintf(ev->u.def.queue, sizeof(ev->u.def.queue), "default");
        ev->u.def.schedule.kind = kind;
        if (kind == SCHED_KIND_AT)
                ev->u.def.schedule.at_ms = arg;
        if (kind == SCHED_KIND_DELAY)
                ev->u.def.schedule.delay_ms = arg;
        if (kind == SCHED_KIND_CRON)
                snprintf(ev->u.def.schedule.cron,
                         sizeof(ev->u.def.schedule.cron), "* * * * *");
        ev->u.def.retry.max_attempts = 1;
        ev->u.def.timeout_ms = 1000;
}

static void control_ev(sched_event_t *ev, sched_ev_type_t type,
                       const char *job_id, const char *tenant) {
        sched_event_init(ev, type);
        snprintf(ev->event_id, sizeof(ev->event_id), "c-%s-%d", job_id,
                 (int)type);
        snprintf(ev->job_id, sizeof(ev->job_id), "%s", job_id);
        snprintf(ev->tenant, sizeof(ev->tenant), "%s", tenant);
        ev->ts_ms = 1;
}

static void status_ev(sched_event_t *ev, const char *job_id,
                      sched_status_t st, int64_t due, int32_t attempt) {
        sched_event_init(ev, SCHED_EV_STATUS);
        snprintf(ev->event_id, sizeof(ev->event_id), "s-%s-%d", job_id,
                 (int)st);
        snprintf(ev->job_id, sizeof(ev->job_id), "%s", job_id);
        snprintf(ev->tenant, sizeof(ev->tenant), "t1");
        ev->ts_ms = due;
        ev->u.status.status = st;
        ev->u.status.scheduled_ms = due;
        ev->u.status.attempt = attempt;
        sched_execution_id(ev->u.status.execution_id, job_id, due, attempt);
}

static void apply(fx_t *fx, sched_event_t *ev, sched_timer_effect_t *eff) {
        char errstr[256];
        sched_timer_effect_t local;
        assert_int_equal(sched_timer_apply(fx->store, fx->batch, codec, ev, 2,
                                           ++fx->offset, eff ? eff : &local,
                                           errstr, sizeof(errstr)),
                         SCHED_ERR_OK);
        sched_event_clear(ev);
}

static int due_count(fx_t *fx) {
        sched_iter_t *it = sched_store_iter(fx->store, SCHED_CF_DUE, NULL, 0,
                                            NULL, 0);
        int n = 0;
        for (; sched_iter_valid(it); sched_iter_next(it))
                n++;
        sched_iter_destroy(it);
        return n;
}

static sched_timer_jstate_t state_of(fx_t *fx, const char *job_id) {
        sched_timer_job_t job;
        assert_int_equal(sched_timer_job_get(fx->store, NULL, codec, job_id,
                                             &job),
                         SCHED_ERR_OK);
        sched_timer_jstate_t st = job.state;
        sched_timer_job_clear(&job);
        return st;
}

static void commit(fx_t *fx) {
        assert_int_equal(sched_store_write(fx->store, fx->batch, NULL, 0), 0);
}

static void test_create_fire_succeed(void **state) {
        (void)state;
        fx_t *fx = fx_new();
        sched_event_t ev;
        sched_timer_effect_t eff;
        create_ev(&ev, "job-a", SCHED_KIND_DELAY, 1000, 500);
        apply(fx, &ev, &eff);
        assert_true(eff.due_added);
        assert_int_equal(eff.due_ms, 1500);
        /* A repeated create (producer retry, same idempotency key) is a
         * no-op, even with another time. */
        create_ev(&ev, "job-a", SCHED_KIND_AT, 1000, 99999);
        apply(fx, &ev, &eff);
        assert_false(eff.due_added);
        commit(fx);
        assert_int_equal(due_count(fx), 1);
        assert_int_equal(state_of(fx, "job-a"), SCHED_TJ_SCHEDULED);

        /* A FIRED for another occurrence changes nothing. */
        status_ev(&ev, "job-a", SCHED_STATUS_FIRED, 1499, 1);
        apply(fx, &ev, NULL);
        commit(fx);
        assert_int_equal(due_count(fx), 1);
        status_ev(&ev, "job-a", SCHED_STATUS_FIRED, 1500, 1);
        apply(fx, &ev, NULL);
        commit(fx);
        assert_int_equal(due_count(fx), 0);
        assert_int_equal(state_of(fx, "job-a"), SCHED_TJ_FIRED);
        status_ev(&ev, "job-a", SCHED_STATUS_SUCCEEDED, 1500, 1);
        apply(fx, &ev, NULL);
        commit(fx);
        assert_int_equal(state_of(fx, "job-a"), SCHED_TJ_DONE);
        fx_destroy(fx);
}

static void test_cancel_pause_resume(void **state) {
        (void)state;
        fx_t *fx = fx_new();
        sched_event_t ev;
        sched_timer_effect_t eff;
        create_ev(&ev, "job-b", SCHED_KIND_AT, 1, 5000);
        apply(fx, &ev, NULL);
        control_ev(&ev, SCHED_EV_PAUSE_JOB, "job-b", "t1");
        apply(fx, &ev, NULL);
        commit(fx);
        assert_int_equal(due_count(fx), 0);
        assert_int_equal(state_of(fx, "job-b"), SCHED_TJ_PAUSED);
        control_ev(&ev, SCHED_EV_RESUME_JOB, "job-b", "t1");
        apply(fx, &ev, &eff);
        assert_true(eff.due_added);
        assert_int_equal(eff.due_ms, 5000);
        commit(fx);
        assert_int_equal(due_count(fx), 1);
        /* Another tenant cannot cancel it. */
        control_ev(&ev, SCHED_EV_CANCEL_JOB, "job-b", "t2");
        apply(fx, &ev, NULL);
        commit(fx);
        assert_int_equal(state_of(fx, "job-b"), SCHED_TJ_SCHEDULED);
        control_ev(&ev, SCHED_EV_CANCEL_JOB, "job-b", "t1");
        apply(fx, &ev, NULL);
        commit(fx);
        assert_int_equal(due_count(fx), 0);
        assert_int_equal(state_of(fx, "job-b"), SCHED_TJ_CANCELLED);
        /* A FIRED that was in flight when the cancel landed does not
         * revive it; resume does not either. */
        status_ev(&ev, "job-b", SCHED_STATUS_FIRED, 5000, 1);
        apply(fx, &ev, NULL);
        control_ev(&ev, SCHED_EV_RESUME_JOB, "job-b", "t1");
        apply(fx, &ev, NULL);
        commit(fx);
        assert_int_equal(due_count(fx), 0);
        assert_int_equal(state_of(fx, "job-b"), SCHED_TJ_CANCELLED);
        /* Commands for unknown jobs, or from another tenant, change
         * nothing and are refused with a reason (dead-lettered). */
        control_ev(&ev, SCHED_EV_CANCEL_JOB, "nobody", "t1");
        apply(fx, &ev, &eff);
        assert_true(eff.refused);
        assert_non_null(strstr(eff.reason, "unknown job nobody"));
        control_ev(&ev, SCHED_EV_PAUSE_JOB, "job-b", "t2");
        apply(fx, &ev, &eff);
        assert_true(eff.refused);
        assert_non_null(strstr(eff.reason, "another tenant"));
        commit(fx);
        fx_destroy(fx);
}

static void test_unsupported_schedule_is_rejected(void **state) {
        (void)state;
        fx_t *fx = fx_new();
        sched_event_t ev;
        sched_timer_effect_t eff;
        create_ev(&ev, "job-c", SCHED_KIND_CRON, 1, 0);
        snprintf(ev.u.def.schedule.cron, sizeof(ev.u.def.schedule.cron),
                 "61 * * * *");
        apply(fx, &ev, &eff);
        assert_true(eff.rejected);
        assert_non_null(strstr(eff.reason, "cron"));
        assert_non_null(strstr(eff.reason, "minute"));
        commit(fx);
        /* The due checker announces REJECTED; applied back, it is final. */
        assert_int_equal(state_of(fx, "job-c"), SCHED_TJ_DECIDING);
        assert_int_equal(due_count(fx), 1);
        status_ev(&ev, "job-c", SCHED_STATUS_REJECTED, SCHED_NONE, 0);
        ev.u.status.execution_id[0] = '\0';
        apply(fx, &ev, &eff);
        /* The service forgets the decision entry as in flight. */
        assert_int_equal(eff.ndeleted, 1);
        char want[SCHED_DUE_KEY_STR_MAX];
        sched_due_key_str(want, 2, 1, SCHED_DUE_DECIDE, "job-c");
        assert_string_equal(eff.deleted[0], want);
        commit(fx);
        assert_int_equal(state_of(fx, "job-c"), SCHED_TJ_REJECTED);
        assert_int_equal(due_count(fx), 0);
        fx_destroy(fx);
}

static sched_timer_job_t get_job(fx_t *fx, const char *job_id) {
        sched_timer_job_t job;
        assert_int_equal(sched_timer_job_get(fx->store, NULL, codec, job_id,
                                             &job),
                         SCHED_ERR_OK);
        sched_timer_job_clear(&job); /* the tests read the scalar fields */
        return job;
}

/* Is there a due entry of this kind at this time for the job? */
static bool has_due(fx_t *fx, const char *job_id, char kind, int64_t due) {
        unsigned char key[SCHED_DUE_KEY_MAX];
        size_t klen = sched_due_key(key, 2, due, kind, job_id);
        char *val;
        size_t vlen;
        if (sched_store_get(fx->store, NULL, SCHED_CF_DUE, key, klen, &val,
                            &vlen))
                return false;
        free(val);
        return true;
}

static void outcome(fx_t *fx, const char *job_id, sched_status_t st,
                    int64_t occ, int32_t attempt, int64_t ts, bool retryable,
                    int64_t next_ms) {
        sched_event_t ev;
        status_ev(&ev, job_id, st, occ, attempt);
        ev.ts_ms = ts;
        ev.u.status.retryable = retryable;
        ev.u.status.next_ms = next_ms;
        apply(fx, &ev, NULL);
        commit(fx);
}

/* FAILED -> decide -> RETRY_SCHEDULED -> attempt 2 ... -> DEAD_LETTERED,
 * with the backoff of the policy. */
static void test_retries_then_dead_letter(void **state) {
        (void)state;
        fx_t *fx = fx_new();
        sched_event_t ev;
        create_ev(&ev, "job-r", SCHED_KIND_AT, 1, 1000);
        ev.u.def.retry.max_attempts = 3;
        ev.u.def.retry.initial_backoff_ms = 100;
        ev.u.def.retry.multiplier = 3.0;
        ev.u.def.retry.max_backoff_ms = 250;
        apply(fx, &ev, NULL);
        commit(fx);
        assert_true(has_due(fx, "job-r", SCHED_DUE_FIRE, 1000));

        outcome(fx, "job-r", SCHED_STATUS_FIRED, 1000, 1, 1001, false, 0);
        assert_false(has_due(fx, "job-r", SCHED_DUE_FIRE, 1000));
        outcome(fx, "job-r", SCHED_STATUS_FAILED, 1000, 1, 2000, true, 0);
        sched_timer_job_t job = get_job(fx, "job-r");
        assert_int_equal(job.state, SCHED_TJ_DECIDING);
        assert_int_equal(job.decide, SCHED_DECIDE_RETRY);
        assert_int_equal(job.retry_at_ms, 2100); /* initial backoff */
        assert_true(has_due(fx, "job-r", SCHED_DUE_DECIDE, 2000));
        /* A stale outcome of another attempt changes nothing. */
        outcome(fx, "job-r", SCHED_STATUS_SUCCEEDED, 1000, 2, 2001, false, 0);
        assert_int_equal(get_job(fx, "job-r").state, SCHED_TJ_DECIDING);

        outcome(fx, "job-r", SCHED_STATUS_RETRY_SCHEDULED, 1000, 1, 2002,
                false, 2100);
        job = get_job(fx, "job-r");
        assert_int_equal(job.state, SCHED_TJ_SCHEDULED);
        assert_int_equal(job.fire_attempt, 2);
        assert_int_equal(job.fire_occ_ms, 1000); /* same occurrence */
        assert_false(has_due(fx, "job-r", SCHED_DUE_DECIDE, 2000));
        assert_true(has_due(fx, "job-r", SCHED_DUE_FIRE, 2100));

        outcome(fx, "job-r", SCHED_STATUS_FIRED, 1000, 2, 2100, false, 0);
        outcome(fx, "job-r", SCHED_STATUS_FAILED, 1000, 2, 3000, true, 0);
        job = get_job(fx, "job-r");
        assert_int_equal(job.retry_at_ms, 3250); /* 300, capped at 250 */
        outcome(fx, "job-r", SCHED_STATUS_RETRY_SCHEDULED, 1000, 2, 3001,
                false, 3250);
        outcome(fx, "job-r", SCHED_STATUS_FIRED, 1000, 3, 3250, false, 0);
        outcome(fx, "job-r", SCHED_STATUS_FAILED, 1000, 3, 4000, true, 0);
        job = get_job(fx, "job-r");
        assert_int_equal(job.state, SCHED_TJ_DECIDING);
        assert_int_equal(job.decide, SCHED_DECIDE_DEAD);
        outcome(fx, "job-r", SCHED_STATUS_DEAD_LETTERED, 1000, 3, 4001, false,
                0);
        assert_int_equal(get_job(fx, "job-r").state, SCHED_TJ_DEAD);
        assert_int_equal(due_count(fx), 0);
        fx_destroy(fx);
}

/* A failure that must not be retried, or of a job without a retry
 * policy, is final. */
static void test_non_retryable_failure_is_final(void **state) {
        (void)state;
        fx_t *fx = fx_new();
        sched_event_t ev;
        create_ev(&ev, "job-n", SCHED_KIND_AT, 1, 1000);
        ev.u.def.retry.max_attempts = 5;
        apply(fx, &ev, NULL);
        create_ev(&ev, "job-1", SCHED_KIND_AT, 1, 1000); /* 1 attempt */
        apply(fx, &ev, NULL);
        commit(fx);
        outcome(fx, "job-n", SCHED_STATUS_FIRED, 1000, 1, 1000, false, 0);
        outcome(fx, "job-n", SCHED_STATUS_FAILED, 1000, 1, 1100, false, 0);
        assert_int_equal(get_job(fx, "job-n").state, SCHED_TJ_DONE);
        outcome(fx, "job-1", SCHED_STATUS_FIRED, 1000, 1, 1000, false, 0);
        outcome(fx, "job-1", SCHED_STATUS_FAILED, 1000, 1, 1100, true, 0);
        assert_int_equal(get_job(fx, "job-1").state, SCHED_TJ_DONE);
        assert_int_equal(due_count(fx), 0);
        fx_destroy(fx);
}

/* STARTED sets a visibility deadline, a heartbeat moves it, TIMED_OUT
 * counts as a retryable failure. */
static void test_visibility_deadline(void **state) {
        (void)state;
        fx_t *fx = fx_new();
        sched_event_t ev;
        create_ev(&ev, "job-v", SCHED_KIND_AT, 1, 1000);
        ev.u.def.retry.max_attempts = 2;
        ev.u.def.timeout_ms = 500;
        apply(fx, &ev, NULL);
        commit(fx);
        outcome(fx, "job-v", SCHED_STATUS_FIRED, 1000, 1, 1000, false, 0);
        assert_int_equal(get_job(fx, "job-v").state, SCHED_TJ_FIRED);
        outcome(fx, "job-v", SCHED_STATUS_STARTED, 1000, 1, 1200, false, 0);
        int64_t d1 = 1200 + 500 + SCHED_VISIBILITY_GRACE_MS;
        assert_int_equal(get_job(fx, "job-v").state, SCHED_TJ_RUNNING);
        assert_true(has_due(fx, "job-v", SCHED_DUE_VISIBILITY, d1));
        /* A heartbeat with an explicit deadline moves the entry. */
        status_ev(&ev, "job-v", SCHED_STATUS_HEARTBEAT, 1000, 1);
        ev.ts_ms = 1300;
        ev.u.status.deadline_ms = 90000;
        apply(fx, &ev, NULL);
        commit(fx);
        assert_false(has_due(fx, "job-v", SCHED_DUE_VISIBILITY, d1));
        assert_true(has_due(fx, "job-v", SCHED_DUE_VISIBILITY, 90000));
        outcome(fx, "job-v", SCHED_STATUS_TIMED_OUT, 1000, 1, 90001, true, 0);
        sched_timer_job_t job = get_job(fx, "job-v");
        assert_int_equal(job.state, SCHED_TJ_DECIDING);
        assert_int_equal(job.decide, SCHED_DECIDE_RETRY);
        assert_false(has_due(fx, "job-v", SCHED_DUE_VISIBILITY, 90000));
        /* A late SUCCEEDED of the timed-out attempt wins: no retry. */
        outcome(fx, "job-v", SCHED_STATUS_SUCCEEDED, 1000, 1, 90002, false, 0);
        assert_int_equal(get_job(fx, "job-v").state, SCHED_TJ_DONE);
        assert_int_equal(due_count(fx), 0);
        /* ...and the retry decision, if already emitted, is ignored. */
        outcome(fx, "job-v", SCHED_STATUS_RETRY_SCHEDULED, 1000, 1, 90003,
                false, 91000);
        assert_int_equal(get_job(fx, "job-v").state, SCHED_TJ_DONE);
        assert_int_equal(due_count(fx), 0);
        fx_destroy(fx);
}

/* Interval: start, max runs, and "fire once" after a missed stretch; the
 * job completes once its last execution has ended. */
static void test_interval_schedule(void **state) {
        (void)state;
        fx_t *fx = fx_new();
        sched_event_t ev;
        create_ev(&ev, "job-i", SCHED_KIND_INTERVAL, 1, 0);
        ev.u.def.schedule.interval_ms = 1000;
        ev.u.def.schedule.start_ms = 5000;
        ev.u.def.schedule.max_runs = 3;
        ev.u.def.schedule.misfire_threshold_ms = 1000;
        apply(fx, &ev, NULL);
        commit(fx);
        assert_true(has_due(fx, "job-i", SCHED_DUE_FIRE, 5000));
        outcome(fx, "job-i", SCHED_STATUS_FIRED, 5000, 1, 5001, false, 0);
        assert_true(has_due(fx, "job-i", SCHED_DUE_FIRE, 6000));
        /* Fired later than the misfire threshold (nothing ran for a
         * while): "fire once" — the firing stands for the missed
         * occurrences, the next is the first after it. */
        outcome(fx, "job-i", SCHED_STATUS_FIRED, 6000, 1, 9500, false, 0);
        assert_false(has_due(fx, "job-i", SCHED_DUE_FIRE, 7000));
        assert_true(has_due(fx, "job-i", SCHED_DUE_FIRE, 10000));
        outcome(fx, "job-i", SCHED_STATUS_FIRED, 10000, 1, 10000, false, 0);
        sched_timer_job_t job = get_job(fx, "job-i");
        assert_int_equal(job.runs, 3);
        /* Its last execution still runs: not complete yet. */
        assert_int_equal(job.state, SCHED_TJ_SCHEDULED);
        outcome(fx, "job-i", SCHED_STATUS_SUCCEEDED, 10000, 1, 10050, false,
                0);
        job = get_job(fx, "job-i");
        /* Ran out: COMPLETED is announced, then the job is done. */
        assert_int_equal(job.state, SCHED_TJ_DECIDING);
        assert_int_equal(job.decide, SCHED_DECIDE_COMPLETE);
        outcome(fx, "job-i", SCHED_STATUS_COMPLETED, SCHED_NONE, 0, 10001,
                false, 0);
        assert_int_equal(get_job(fx, "job-i").state, SCHED_TJ_DONE);
        assert_int_equal(due_count(fx), 0);
        /* Invalid intervals are rejected with a reason. */
        sched_timer_effect_t eff;
        create_ev(&ev, "job-bad", SCHED_KIND_INTERVAL, 1, 0);
        ev.u.def.schedule.interval_ms = 0;
        apply(fx, &ev, &eff);
        assert_true(eff.rejected);
        assert_non_null(strstr(eff.reason, "interval_ms"));
        create_ev(&ev, "job-bad2", SCHED_KIND_INTERVAL, 1, 0);
        ev.u.def.schedule.interval_ms = 10;
        ev.u.def.schedule.start_ms = 500;
        ev.u.def.schedule.end_ms = 100;
        apply(fx, &ev, &eff);
        assert_true(eff.rejected);
        assert_non_null(strstr(eff.reason, "end"));
        fx_destroy(fx);
}

/* Cron: the first occurrence after creation, the next after each firing
 * (skipping what was missed), in the job's zone, within start..end. */
static void test_cron_schedule(void **state) {
        (void)state;
        fx_t *fx = fx_new();
        sched_event_t ev;
        const int64_t H = 3600 * 1000;
        create_ev(&ev, "job-k", SCHED_KIND_CRON, 1000, 0);
        snprintf(ev.u.def.schedule.cron, sizeof(ev.u.def.schedule.cron),
                 "0 * * * *");
        ev.u.def.schedule.end_ms = 3 * H;
        apply(fx, &ev, NULL);
        commit(fx);
        assert_true(has_due(fx, "job-k", SCHED_DUE_FIRE, H));
        outcome(fx, "job-k", SCHED_STATUS_FIRED, H, 1, H + 5, false, 0);
        assert_true(has_due(fx, "job-k", SCHED_DUE_FIRE, 2 * H));
        /* Fired 30 min late: the next is the first after the firing. */
        outcome(fx, "job-k", SCHED_STATUS_FIRED, 2 * H, 1, 2 * H + H / 2,
                false, 0);
        assert_true(has_due(fx, "job-k", SCHED_DUE_FIRE, 3 * H));
        outcome(fx, "job-k", SCHED_STATUS_FIRED, 3 * H, 1, 3 * H, false, 0);
        /* A failure without retries ends the last execution: complete. */
        outcome(fx, "job-k", SCHED_STATUS_FAILED, 3 * H, 1, 3 * H + 9, false,
                0);
        assert_int_equal(get_job(fx, "job-k").state, SCHED_TJ_DECIDING);
        assert_int_equal(get_job(fx, "job-k").decide, SCHED_DECIDE_COMPLETE);

        /* In a zone: 09:30 in Kathmandu (+05:45 since 1986) is 03:45Z;
         * created 2026-11-23T13:20:46Z, it first fires the next morning. */
        create_ev(&ev, "job-z", SCHED_KIND_CRON, 1795440046123LL, 0);
        snprintf(ev.u.def.schedule.cron, sizeof(ev.u.def.schedule.cron),
                 "30 9 * * *");
        snprintf(ev.u.def.schedule.tz, sizeof(ev.u.def.schedule.tz),
                 "Asia/Kathmandu");
        apply(fx, &ev, NULL);
        commit(fx);
        assert_true(has_due(fx, "job-z", SCHED_DUE_FIRE,
                            1795491900000LL)); /* 2026-11-24T03:45:00Z */
        /* An unknown zone is rejected with the reason. */
        sched_timer_effect_t eff;
        create_ev(&ev, "job-badtz", SCHED_KIND_CRON, 0, 0);
        snprintf(ev.u.def.schedule.cron, sizeof(ev.u.def.schedule.cron),
                 "30 9 * * *");
        snprintf(ev.u.def.schedule.tz, sizeof(ev.u.def.schedule.tz),
                 "Mars/Olympus");
        apply(fx, &ev, &eff);
        assert_true(eff.rejected);
        assert_non_null(strstr(eff.reason, "timezone"));
        fx_destroy(fx);
}

/* --- Misfire and overlap policies, recurring executions ------------------ */

/* A job with its definition (get_job() keeps only the scalars); clear it
 * with sched_timer_job_clear(). */
static sched_timer_job_t full_job(fx_t *fx, const char *job_id) {
        sched_timer_job_t job;
        assert_int_equal(sched_timer_job_get(fx->store, NULL, codec, job_id,
                                             &job),
                         SCHED_ERR_OK);
        return job;
}

/* What the due checker would do with the job's entry (kind, due) at now,
 * applied back as the event it would emit; returns the action. */
static sched_timer_act_t due_step(fx_t *fx, const char *job_id, char kind,
                                  int64_t due, int64_t now) {
        sched_timer_job_t job = full_job(fx, job_id);
        sched_timer_action_t act;
        sched_timer_due_action(&job, kind, due, now, &act);
        sched_event_t ev;
        switch (act.act) {
        case SCHED_ACT_NONE:
                break;
        case SCHED_ACT_FIRE:
                outcome(fx, job_id, SCHED_STATUS_FIRED, act.occ_ms,
                        act.attempt, now, false, SCHED_NONE);
                break;
        case SCHED_ACT_SKIP:
        case SCHED_ACT_BUFFER:
                assert_true(act.reason[0] != '\0');
                outcome(fx, job_id,
                        act.act == SCHED_ACT_SKIP ? SCHED_STATUS_SKIPPED
                                                  : SCHED_STATUS_BUFFERED,
                        act.occ_ms, act.attempt, now, false, SCHED_NONE);
                break;
        case SCHED_ACT_TIMEOUT:
                outcome(fx, job_id, SCHED_STATUS_TIMED_OUT, act.occ_ms,
                        act.attempt, now, true, SCHED_NONE);
                break;
        case SCHED_ACT_DECIDE:
                status_ev(&ev, job_id,
                          job.decide == SCHED_DECIDE_RETRY
                                  ? SCHED_STATUS_RETRY_SCHEDULED
                          : job.decide == SCHED_DECIDE_DEAD
                                  ? SCHED_STATUS_DEAD_LETTERED
                                  : SCHED_STATUS_COMPLETED,
                          act.occ_ms, act.attempt);
                ev.ts_ms = now;
                if (job.decide == SCHED_DECIDE_RETRY)
                        ev.u.status.next_ms = job.retry_at_ms;
                apply(fx, &ev, NULL);
                commit(fx);
                break;
        }
        sched_timer_job_clear(&job);
        return act.act;
}

/* An interval job every second from 1 s, with the given policies. */
static void create_every_second(fx_t *fx, const char *job_id,
                                sched_misfire_t misfire,
                                sched_overlap_t overlap) {
        sched_event_t ev;
        create_ev(&ev, job_id, SCHED_KIND_INTERVAL, 0, 0);
        ev.u.def.schedule.interval_ms = 1000;
        ev.u.def.schedule.start_ms = 1000;
        ev.u.def.schedule.misfire = misfire;
        ev.u.def.schedule.misfire_threshold_ms = 500;
        ev.u.def.schedule.catch_up_ms = 3000;
        ev.u.def.schedule.overlap = overlap;
        apply(fx, &ev, NULL);
        commit(fx);
}

/* Nothing ran from 1 s to 10.2 s: FIRE_ONCE runs one execution for the
 * missed occurrences, SKIP none, FIRE_ALL each one of the last 3 s; an
 * occurrence late by less than the threshold just runs late. */
static void test_misfire_policies(void **state) {
        (void)state;
        fx_t *fx = fx_new();
        create_every_second(fx, "once", SCHED_MISFIRE_FIRE_ONCE,
                            SCHED_OVERLAP_ALLOW);
        create_every_second(fx, "skip", SCHED_MISFIRE_SKIP,
                            SCHED_OVERLAP_ALLOW);
        create_every_second(fx, "all", SCHED_MISFIRE_FIRE_ALL,
                            SCHED_OVERLAP_ALLOW);

        assert_int_equal(due_step(fx, "once", 'F', 1000, 10200),
                         SCHED_ACT_FIRE);
        assert_int_equal(get_job(fx, "once").runs, 1);
        assert_true(has_due(fx, "once", SCHED_DUE_FIRE, 11000));
        assert_int_equal(due_step(fx, "once", 'F', 11000, 11400),
                         SCHED_ACT_FIRE); /* 400 ms late: within 500 */
        assert_true(has_due(fx, "once", SCHED_DUE_FIRE, 12000));

        assert_int_equal(due_step(fx, "skip", 'F', 1000, 10200),
                         SCHED_ACT_SKIP);
        assert_int_equal(get_job(fx, "skip").runs, 0);
        assert_true(has_due(fx, "skip", SCHED_DUE_FIRE, 11000));
        assert_int_equal(due_step(fx, "skip", 'F', 11000, 11100),
                         SCHED_ACT_FIRE);
        assert_int_equal(get_job(fx, "skip").runs, 1);

        /* 1 s is older than the 3 s window: skipped; 8, 9 and 10 s run. */
        assert_int_equal(due_step(fx, "all", 'F', 1000, 10200),
                         SCHED_ACT_SKIP);
        assert_true(has_due(fx, "all", SCHED_DUE_FIRE, 8000));
        assert_int_equal(due_step(fx, "all", 'F', 8000, 10210),
                         SCHED_ACT_FIRE);
        assert_true(has_due(fx, "all", SCHED_DUE_FIRE, 9000));
        assert_int_equal(due_step(fx, "all", 'F', 9000, 10220),
                         SCHED_ACT_FIRE);
        assert_true(has_due(fx, "all", SCHED_DUE_FIRE, 10000));
        assert_int_equal(due_step(fx, "all", 'F', 10000, 10230),
                         SCHED_ACT_FIRE);
        assert_true(has_due(fx, "all", SCHED_DUE_FIRE, 11000));
        assert_int_equal(get_job(fx, "all").runs, 3);
        /* A stale entry (already handled) calls for nothing. */
        assert_int_equal(due_step(fx, "all", 'F', 10000, 10240),
                         SCHED_ACT_NONE);
        fx_destroy(fx);
}

/* An occurrence due while the previous execution runs: ALLOW fires it
 * (the new one is tracked), SKIP does not, BUFFER_ONE fires it once the
 * previous one ends, folding in what came due meanwhile. */
static void test_overlap_policies(void **state) {
        (void)state;
        fx_t *fx = fx_new();
        create_every_second(fx, "allow", SCHED_MISFIRE_FIRE_ONCE,
                            SCHED_OVERLAP_ALLOW);
        create_every_second(fx, "skip", SCHED_MISFIRE_FIRE_ONCE,
                            SCHED_OVERLAP_SKIP);
        create_every_second(fx, "buf", SCHED_MISFIRE_FIRE_ONCE,
                            SCHED_OVERLAP_BUFFER_ONE);
        const char *jobs[] = {"allow", "skip", "buf"};
        for (int i = 0; i < 3; i++) {
                assert_int_equal(due_step(fx, jobs[i], 'F', 1000, 1000),
                                 SCHED_ACT_FIRE);
                outcome(fx, jobs[i], SCHED_STATUS_STARTED, 1000, 1, 1010,
                        false, SCHED_NONE);
        }

        assert_int_equal(due_step(fx, "allow", 'F', 2000, 2000),
                         SCHED_ACT_FIRE);
        sched_timer_job_t job = get_job(fx, "allow");
        assert_int_equal(job.cur_occ_ms, 2000);
        /* The replaced execution's outcome no longer counts. */
        outcome(fx, "allow", SCHED_STATUS_FAILED, 1000, 1, 2100, true,
                SCHED_NONE);
        assert_int_equal(get_job(fx, "allow").chain, SCHED_CHAIN_FIRED);

        assert_int_equal(due_step(fx, "skip", 'F', 2000, 2000),
                         SCHED_ACT_SKIP);
        assert_true(has_due(fx, "skip", SCHED_DUE_FIRE, 3000));
        outcome(fx, "skip", SCHED_STATUS_SUCCEEDED, 1000, 1, 2500, false,
                SCHED_NONE);
        assert_int_equal(due_step(fx, "skip", 'F', 3000, 3000),
                         SCHED_ACT_FIRE);
        assert_int_equal(get_job(fx, "skip").runs, 2);

        assert_int_equal(due_step(fx, "buf", 'F', 2000, 2000),
                         SCHED_ACT_BUFFER);
        assert_false(has_due(fx, "buf", SCHED_DUE_FIRE, 3000));
        assert_int_equal(get_job(fx, "buf").buffered_ms, 2000);
        /* Ends at 4.5 s: the buffered occurrence fires then, standing for
         * 3 s and 4 s too; the schedule goes on at 5 s. */
        outcome(fx, "buf", SCHED_STATUS_SUCCEEDED, 1000, 1, 4500, false,
                SCHED_NONE);
        assert_true(has_due(fx, "buf", SCHED_DUE_FIRE, 4500));
        assert_int_equal(due_step(fx, "buf", 'F', 4500, 4500),
                         SCHED_ACT_FIRE);
        job = get_job(fx, "buf");
        assert_int_equal(job.cur_occ_ms, 2000);
        assert_int_equal(job.buffered_ms, SCHED_NONE);
        assert_int_equal(job.next_due_ms, 5000);
        sched_timer_job_clear(&job);

        /* The previous execution ends between the checker's BUFFER and
         * the BUFFERED event: the occurrence fires right away. */
        outcome(fx, "buf", SCHED_STATUS_STARTED, 2000, 1, 4510, false,
                SCHED_NONE);
        job = full_job(fx, "buf");
        sched_timer_action_t act;
        sched_timer_due_action(&job, 'F', 5000, 5000, &act);
        sched_timer_job_clear(&job);
        assert_int_equal(act.act, SCHED_ACT_BUFFER);
        outcome(fx, "buf", SCHED_STATUS_SUCCEEDED, 2000, 1, 5001, false,
                SCHED_NONE);
        outcome(fx, "buf", SCHED_STATUS_BUFFERED, 5000, 1, 5002, false,
                SCHED_NONE);
        assert_true(has_due(fx, "buf", SCHED_DUE_FIRE, 5002));
        assert_int_equal(due_step(fx, "buf", 'F', 5002, 5002),
                         SCHED_ACT_FIRE);
        assert_true(has_due(fx, "buf", SCHED_DUE_FIRE, 6000));
        fx_destroy(fx);
}

/* A recurring job's execution has a visibility deadline and retries from
 * its own 'A' entry, beside the next occurrence; pause holds the retry,
 * cancel drops everything. */
static void test_recurring_retries_and_visibility(void **state) {
        (void)state;
        fx_t *fx = fx_new();
        sched_event_t ev;
        create_ev(&ev, "rec", SCHED_KIND_INTERVAL, 0, 0);
        ev.u.def.schedule.interval_ms = 10000;
        ev.u.def.schedule.start_ms = 1000;
        ev.u.def.retry.max_attempts = 3;
        ev.u.def.retry.initial_backoff_ms = 100;
        apply(fx, &ev, NULL);
        commit(fx);

        assert_int_equal(due_step(fx, "rec", 'F', 1000, 1000),
                         SCHED_ACT_FIRE);
        status_ev(&ev, "rec", SCHED_STATUS_STARTED, 1000, 1);
        ev.ts_ms = 1010;
        ev.u.status.deadline_ms = 1500;
        apply(fx, &ev, NULL);
        commit(fx);
        assert_true(has_due(fx, "rec", SCHED_DUE_VISIBILITY, 1500));
        assert_int_equal(due_step(fx, "rec", 'V', 1500, 1600),
                         SCHED_ACT_TIMEOUT);
        assert_int_equal(get_job(fx, "rec").chain, SCHED_CHAIN_DECIDING);
        assert_int_equal(due_step(fx, "rec", 'D', 1600, 1600),
                         SCHED_ACT_DECIDE);
        assert_true(has_due(fx, "rec", SCHED_DUE_RETRY, 1700));
        assert_true(has_due(fx, "rec", SCHED_DUE_FIRE, 11000));

        /* Paused: the retry waits too; resumed: both come back. */
        control_ev(&ev, SCHED_EV_PAUSE_JOB, "rec", "t1");
        apply(fx, &ev, NULL);
        commit(fx);
        assert_int_equal(due_count(fx), 0);
        control_ev(&ev, SCHED_EV_RESUME_JOB, "rec", "t1");
        apply(fx, &ev, NULL);
        commit(fx);
        assert_true(has_due(fx, "rec", SCHED_DUE_RETRY, 1700));
        assert_true(has_due(fx, "rec", SCHED_DUE_FIRE, 11000));

        assert_int_equal(due_step(fx, "rec", 'A', 1700, 1700),
                         SCHED_ACT_FIRE);
        sched_timer_job_t job = get_job(fx, "rec");
        assert_int_equal(job.cur_attempt, 2);
        assert_int_equal(job.runs, 1); /* a retry is not a new run */
        sched_timer_job_clear(&job);
        outcome(fx, "rec", SCHED_STATUS_FAILED, 1000, 2, 1800, true,
                SCHED_NONE);
        assert_int_equal(due_step(fx, "rec", 'D', 1800, 1800),
                         SCHED_ACT_DECIDE);
        assert_true(has_due(fx, "rec", SCHED_DUE_RETRY, 2000));
        assert_int_equal(due_step(fx, "rec", 'A', 2000, 2000),
                         SCHED_ACT_FIRE);
        outcome(fx, "rec", SCHED_STATUS_FAILED, 1000, 3, 2100, true,
                SCHED_NONE);
        /* The last attempt failed: dead-lettered; the schedule goes on. */
        assert_int_equal(get_job(fx, "rec").decide, SCHED_DECIDE_DEAD);
        assert_int_equal(due_step(fx, "rec", 'D', 2100, 2100),
                         SCHED_ACT_DECIDE);
        job = get_job(fx, "rec");
        assert_int_equal(job.chain, SCHED_CHAIN_IDLE);
        assert_int_equal(job.state, SCHED_TJ_SCHEDULED);
        sched_timer_job_clear(&job);
        assert_int_equal(due_count(fx), 1);
        assert_true(has_due(fx, "rec", SCHED_DUE_FIRE, 11000));

        /* Cancelled while a retry waits: nothing is left. */
        assert_int_equal(due_step(fx, "rec", 'F', 11000, 11000),
                         SCHED_ACT_FIRE);
        outcome(fx, "rec", SCHED_STATUS_FAILED, 11000, 1, 11100, true,
                SCHED_NONE);
        assert_int_equal(due_step(fx, "rec", 'D', 11100, 11100),
                         SCHED_ACT_DECIDE);
        control_ev(&ev, SCHED_EV_CANCEL_JOB, "rec", "t1");
        apply(fx, &ev, NULL);
        commit(fx);
        assert_int_equal(due_count(fx), 0);
        assert_int_equal(state_of(fx, "rec"), SCHED_TJ_CANCELLED);
        fx_destroy(fx);
}

/* Paused while its firing was being committed: the FIRED that comes back
 * is recorded, and resume does not fire the job again. */
static void test_pause_racing_a_firing(void **state) {
        (void)state;
        fx_t *fx = fx_new();
        sched_event_t ev;
        create_ev(&ev, "job-p", SCHED_KIND_AT, 1, 5000);
        apply(fx, &ev, NULL);
        commit(fx);
        control_ev(&ev, SCHED_EV_PAUSE_JOB, "job-p", "t1");
        apply(fx, &ev, NULL);
        commit(fx);
        outcome(fx, "job-p", SCHED_STATUS_FIRED, 5000, 1, 5001, false, 0);
        assert_int_equal(get_job(fx, "job-p").state, SCHED_TJ_FIRED);
        control_ev(&ev, SCHED_EV_RESUME_JOB, "job-p", "t1");
        apply(fx, &ev, NULL);
        commit(fx);
        assert_int_equal(due_count(fx), 0);
        assert_int_equal(get_job(fx, "job-p").state, SCHED_TJ_FIRED);
        fx_destroy(fx);
}

static void test_update_moves_the_pending_firing(void **state) {
        (void)state;
        fx_t *fx = fx_new();
        sched_event_t ev;
        create_ev(&ev, "job-u", SCHED_KIND_AT, 1, 5000);
        apply(fx, &ev, NULL);
        commit(fx);
        sched_event_init(&ev, SCHED_EV_UPDATE_JOB);
        snprintf(ev.event_id, sizeof(ev.event_id), "u1");
        snprintf(ev.job_id, sizeof(ev.job_id), "job-u");
        snprintf(ev.tenant, sizeof(ev.tenant), "t1");
        ev.ts_ms = 100;
        ev.u.def.has_schedule = true;
        ev.u.def.schedule.kind = SCHED_KIND_AT;
        ev.u.def.schedule.at_ms = 8000;
        ev.u.def.has_parameters = true;
        sched_event_set_str(&ev.u.def.parameters, "{\"v\":2}",
                            SCHED_PARAMS_MAX);
        sched_timer_effect_t eff;
        apply(fx, &ev, &eff);
        assert_true(eff.due_added);
        commit(fx);
        assert_false(has_due(fx, "job-u", SCHED_DUE_FIRE, 5000));
        assert_true(has_due(fx, "job-u", SCHED_DUE_FIRE, 8000));
        sched_timer_job_t job;
        assert_int_equal(sched_timer_job_get(fx->store, NULL, codec, "job-u",
                                             &job),
                         SCHED_ERR_OK);
        assert_string_equal(job.def.u.def.parameters, "{\"v\":2}");
        assert_int_equal(job.def.u.def.schedule.at_ms, 8000);
        sched_timer_job_clear(&job);
        /* Another tenant's update is ignored. */
        sched_event_init(&ev, SCHED_EV_UPDATE_JOB);
        snprintf(ev.job_id, sizeof(ev.job_id), "job-u");
        snprintf(ev.tenant, sizeof(ev.tenant), "t2");
        ev.u.def.has_schedule = true;
        ev.u.def.schedule.kind = SCHED_KIND_AT;
        ev.u.def.schedule.at_ms = 9000;
        apply(fx, &ev, NULL);
        commit(fx);
        assert_true(has_due(fx, "job-u", SCHED_DUE_FIRE, 8000));
        assert_int_equal(due_count(fx), 1);
        fx_destroy(fx);
}

/* Dump every family of a store into one buffer, for byte comparison
 * (without META, which holds offsets, unless with_meta). */
static char *dump(fx_t *fx, size_t *lenp, bool with_meta) {
        size_t cap = 1 << 20, len = 0;
        char *buf = malloc(cap);
        for (int cf = 0; cf < SCHED_CF__CNT; cf++) {
                if (cf == SCHED_CF_META && !with_meta)
                        continue;
                sched_iter_t *it = sched_store_iter(fx->store, (sched_cf_t)cf,
                                                    NULL, 0, NULL, 0);
                for (; sched_iter_valid(it); sched_iter_next(it)) {
                        size_t kl, vl;
                        const char *k = sched_iter_key(it, &kl);
                        const char *v = sched_iter_value(it, &vl);
                        assert_true(len + kl + vl + 16 < cap);
                        memcpy(buf + len, &cf, sizeof(cf));
                        len += sizeof(cf);
                        memcpy(buf + len, k, kl);
                        len += kl;
                        memcpy(buf + len, v, vl);
                        len += vl;
                }
                sched_iter_destroy(it);
        }
        *lenp = len;
        return buf;
}

static void replay(fx_t *fx, unsigned seed) {
        srand(seed);
        sched_event_t ev;
        char id[32];
        for (int i = 0; i < 400; i++) {
                snprintf(id, sizeof(id), "job-%d", rand() % 60);
                int what = rand() % 6;
                switch (what) {
                case 0:
                case 1:
                        create_ev(&ev, id, SCHED_KIND_AT, i,
                                  1000 + rand() % 50);
                        break;
                case 2:
                        control_ev(&ev, SCHED_EV_CANCEL_JOB, id, "t1");
                        break;
                case 3:
                        control_ev(&ev, rand() % 2 ? SCHED_EV_PAUSE_JOB
                                                   : SCHED_EV_RESUME_JOB,
                                   id, "t1");
                        break;
                default:
                        status_ev(&ev, id,
                                  rand() % 2 ? SCHED_STATUS_FIRED
                                             : SCHED_STATUS_SUCCEEDED,
                                  1000 + rand() % 50, 1);
                }
                apply(fx, &ev, NULL);
                if (rand() % 7 == 0)
                        commit(fx);
        }
        commit(fx);
}

/* The commands and status partitions are read side by side: whatever the
 * interleaving (status running ahead of commands included), the state is
 * the one of the causal order, and nothing that fired fires again. */
static void build_streams(sched_event_t cmds[4], sched_event_t sts[8]) {
        create_ev(&cmds[0], "j1", SCHED_KIND_AT, 1, 1000);
        create_ev(&cmds[1], "j2", SCHED_KIND_AT, 2, 2000);
        cmds[1].u.def.retry.max_attempts = 2;
        create_ev(&cmds[2], "j3", SCHED_KIND_INTERVAL, 3, 0);
        cmds[2].u.def.schedule.interval_ms = 500;
        cmds[2].u.def.schedule.start_ms = 3000;
        create_ev(&cmds[3], "j4", SCHED_KIND_AT, 4, 4000);
        status_ev(&sts[0], "j1", SCHED_STATUS_FIRED, 1000, 1);
        status_ev(&sts[1], "j1", SCHED_STATUS_STARTED, 1000, 1);
        status_ev(&sts[2], "j2", SCHED_STATUS_FIRED, 2000, 1);
        status_ev(&sts[3], "j1", SCHED_STATUS_SUCCEEDED, 1000, 1);
        status_ev(&sts[4], "j2", SCHED_STATUS_FAILED, 2000, 1);
        sts[4].u.status.retryable = true;
        sts[4].ts_ms = 2100;
        status_ev(&sts[5], "j3", SCHED_STATUS_FIRED, 3000, 1);
        sts[5].ts_ms = 3001;
        status_ev(&sts[6], "j2", SCHED_STATUS_RETRY_SCHEDULED, 2000, 1);
        sts[6].u.status.next_ms = 3100;
        status_ev(&sts[7], "j3", SCHED_STATUS_FIRED, 3500, 1);
        sts[7].ts_ms = 3500;
}

static char *dump(fx_t *fx, size_t *lenp, bool with_meta);

static void test_status_ahead_of_commands_gives_the_same_state(void **state) {
        (void)state;
        size_t want_len = 0;
        char *want = NULL;
        for (unsigned seed = 0; seed < 40; seed++) {
                sched_event_t cmds[4], sts[8];
                build_streams(cmds, sts);
                fx_t *fx = fx_new();
                int ci = 0, si = 0;
                srand(seed);
                while (ci < 4 || si < 8) {
                        /* Seed 0: causal order; others: random merges, and
                         * seed 1: every status event first. */
                        bool take_cmd;
                        if (seed == 0)
                                take_cmd = ci < 4 && (si == 8 || ci <= si / 2);
                        else if (seed == 1)
                                take_cmd = si == 8;
                        else
                                take_cmd = ci < 4 && (si == 8 || rand() % 2);
                        apply(fx, take_cmd ? &cmds[ci++] : &sts[si++], NULL);
                        if (rand() % 3 == 0)
                                commit(fx);
                }
                commit(fx);
                size_t len;
                char *got = dump(fx, &len, false);
                if (!want) {
                        want = got;
                        want_len = len;
                        /* The causal order: j1 done, j2 retrying at 3100,
                         * j3 next at 4000, j4 due at 4000. */
                        assert_int_equal(get_job(fx, "j1").state,
                                         SCHED_TJ_DONE);
                        sched_timer_job_t j2 = get_job(fx, "j2");
                        assert_int_equal(j2.state, SCHED_TJ_SCHEDULED);
                        assert_int_equal(j2.fire_attempt, 2);
                        assert_true(has_due(fx, "j2", SCHED_DUE_FIRE, 3100));
                        assert_true(has_due(fx, "j3", SCHED_DUE_FIRE, 4000));
                        assert_true(has_due(fx, "j4", SCHED_DUE_FIRE, 4000));
                        assert_false(has_due(fx, "j1", SCHED_DUE_FIRE, 1000));
                } else {
                        assert_int_equal(len, want_len);
                        assert_memory_equal(got, want, len);
                        free(got);
                }
                fx_destroy(fx);
        }
        free(want);
}

static void test_replay_is_deterministic(void **state) {
        (void)state;
        fx_t *a = fx_new(), *b = fx_new();
        replay(a, 7);
        replay(b, 7);
        size_t la, lb;
        /* The digest of the partition agrees too, and moves with the state. */
        sched_digest_t ga, gb;
        assert_int_equal(sched_timer_digest(a->store, 2, 4, "c", "s", &ga), 0);
        assert_int_equal(sched_timer_digest(b->store, 2, 4, "c", "s", &gb), 0);
        assert_true(sched_digest_rows(&ga, "jobs") > 0);
        assert_int_equal(sched_digest_rows(&ga, "jobs"),
                         sched_digest_rows(&gb, "jobs"));
        assert_int_equal(sched_digest_rows(&ga, "due"),
                         sched_digest_rows(&gb, "due"));
        assert_string_equal(ga.sha256, gb.sha256);
        assert_int_equal(strlen(ga.sha256), 64);
        sched_digest_t other;
        assert_int_equal(sched_timer_digest(a->store, 1, 4, "c", "s", &other),
                         0);
        /* every job here is on partition 2 */
        assert_int_equal(sched_digest_rows(&other, "jobs"), 0);
        assert_string_not_equal(other.sha256, ga.sha256);
        char *da = dump(a, &la, true), *db = dump(b, &lb, true);
        assert_true(la > 0);
        assert_int_equal(la, lb);
        assert_memory_equal(da, db, la);
        free(da);
        free(db);
        sched_event_t ev;
        create_ev(&ev, "one-more", SCHED_KIND_AT, 1, 77);
        apply(b, &ev, NULL);
        commit(b);
        assert_int_equal(sched_timer_digest(b->store, 2, 4, "c", "s", &gb), 0);
        assert_string_not_equal(ga.sha256, gb.sha256);
        fx_destroy(a);
        fx_destroy(b);
}

static int group_setup(void **state) {
        (void)state;
        char errstr[512];
        codec = sched_codec_new(KLOK_SOURCE_DIR "/schemas", errstr,
                                sizeof(errstr));
        if (!codec)
                fprintf(stderr, "codec: %s\n", errstr);
        return codec ? 0 : -1;
}

static int group_teardown(void **state) {
        (void)state;
        sched_codec_destroy(codec);
        return 0;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_create_fire_succeed),
                cmocka_unit_test(test_cancel_pause_resume),
                cmocka_unit_test(test_unsupported_schedule_is_rejected),
                cmocka_unit_test(test_replay_is_deterministic),
                cmocka_unit_test(
                        test_status_ahead_of_commands_gives_the_same_state),
                cmocka_unit_test(test_retries_then_dead_letter),
                cmocka_unit_test(test_non_retryable_failure_is_final),
                cmocka_unit_test(test_visibility_deadline),
                cmocka_unit_test(test_interval_schedule),
                cmocka_unit_test(test_update_moves_the_pending_firing),
                cmocka_unit_test(test_cron_schedule),
                cmocka_unit_test(test_pause_racing_a_firing),
                cmocka_unit_test(test_misfire_policies),
                cmocka_unit_test(test_overlap_policies),
                cmocka_unit_test(test_recurring_retries_and_visibility),
        };
        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
