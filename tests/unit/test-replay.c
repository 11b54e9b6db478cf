/*
 * test-replay.c — randomized command and status streams, replayed: the
 * state the timer and the status view build depends only on the log, not on
 * where the writes were cut into batches.
 *
 * A seeded generator writes a few thousand jobs of every schedule kind
 * through their lives — executions fired, started, heartbeating, succeeding,
 * failing (retryable or not), timing out, retried — with cancels, pauses,
 * resumes and updates among them, status events of jobs whose CreateJob
 * comes later, and records the timer must dead-letter.  Each record is
 * encoded as the services write it and taken through the services' own
 * functions: sched_timer_apply_record() (decode, checks, applier) and
 * sched_view_apply().  Replayed twice with different batch boundaries, the
 * timer's digest of every partition and every row of the view must be the
 * same; a stream with one CreateJob fewer must not be.
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
#include "sched/kafka.h"
#include "sched/store.h"
#include "sched/timer_state.h"
#include "sched/uuid.h"
#include "sched/view.h"

#define NPARTS 4
#define NJOBS 2000
#define NSTEPS 24000
#define T0 1767225600000LL /* 2026-01-01T00:00:00Z */

static sched_codec_t *codec;

/* --- The stream ------------------------------------------------------------ */

typedef struct rec_s {
        bool commands;
        int32_t partition;
        int64_t offset;
        void *buf;
        size_t len;
} rec_t;

typedef struct stream_s {
        rec_t *recs;
        int n, cap;
        int64_t next_offset[2][NPARTS]; /* [commands?][partition] */
} stream_t;

typedef struct job_s {
        char id[24];
        int phase;  /* 0 not created, 1 waiting, 2 fired, 3 started, 4 over */
        int64_t occ; /* the occurrence under way */
        int attempt, max_attempts;
        bool recurring;
} job_t;

static void add(stream_t *s, rec_t r) {
        if (s->n == s->cap) {
                s->cap = s->cap ? 2 * s->cap : 1024;
                s->recs = realloc(s->recs, (size_t)s->cap * sizeof(*s->recs));
                assert_non_null(s->recs);
        }
        s->recs[s->n++] = r;
}

static void push(stream_t *s, sched_event_t *ev, bool commands) {
        char err[256];
        rec_t r = {commands, 0, 0, NULL, 0};
        r.partition = sched_partition_of(ev->job_id, strlen(ev->job_id),
                                         NPARTS);
        if (sched_codec_encode(codec, ev, &r.buf, &r.len, err, sizeof(err)))
                fail_msg("encode %s: %s", sched_ev_type2str(ev->type), err);
        sched_event_clear(ev);
        r.offset = s->next_offset[commands][r.partition]++;
        add(s, r);
}

/* Poison: bytes that are no Avro record; the timer dead-letters them. */
static void push_poison(stream_t *s, int32_t partition) {
        rec_t r = {true, partition, s->next_offset[1][partition]++,
                   strdup("not avro"), 8};
        add(s, r);
}

static void header(sched_event_t *ev, sched_ev_type_t type, const job_t *j,
                   int64_t ts, unsigned *seq) {
        sched_event_init(ev, type);
        snprintf(ev->event_id, sizeof(ev->event_id), "ev-%u", (*seq)++);
        snprintf(ev->job_id, sizeof(ev->job_id), "%s", j->id);
        snprintf(ev->tenant, sizeof(ev->tenant), "t%d", j->id[4] % 3);
        ev->ts_ms = ts;
}

static void create(stream_t *s, job_t *j, int64_t ts, unsigned *seq) {
        sched_event_t ev;
        header(&ev, SCHED_EV_CREATE_JOB, j, ts, seq);
        sched_job_def_t *d = &ev.u.def;
        snprintf(d->name, sizeof(d->name), "job %s", j->id);
        snprintf(d->task, sizeof(d->task), "noop");
        snprintf(d->queue, sizeof(d->queue), "%s", rand() % 4 ? "default" : "q2");
        d->priority = rand() % 5 ? SCHED_PRIO_NORMAL : SCHED_PRIO_HIGH;
        d->retry.max_attempts = j->max_attempts = 1 + rand() % 3;
        d->timeout_ms = 30000;
        d->parameters = strdup("{\"n\":1}");
        sched_schedule_t *sc = &d->schedule;
        switch (rand() % 5) {
        case 0:
                sc->kind = SCHED_KIND_IMMEDIATE;
                break;
        case 1:
                sc->kind = SCHED_KIND_AT;
                sc->at_ms = ts + rand() % 5000;
                break;
        case 2:
                sc->kind = SCHED_KIND_DELAY;
                sc->delay_ms = rand() % 5000;
                break;
        case 3:
                sc->kind = SCHED_KIND_CRON;
                snprintf(sc->cron, sizeof(sc->cron), "*/%d * * * * *",
                         1 + rand() % 10);
                sc->overlap = (sched_overlap_t)(rand() % 3);
                j->recurring = true;
                break;
        default:
                sc->kind = SCHED_KIND_INTERVAL;
                sc->interval_ms = 1000 + rand() % 4000;
                sc->max_runs = rand() % 4;
                sc->misfire = (sched_misfire_t)(rand() % 3);
                j->recurring = true;
                break;
        }
        push(s, &ev, true);
        j->phase = 1;
        j->occ = ts + 1000;
        j->attempt = 1;
}

static void status(stream_t *s, job_t *j, sched_status_t st, int64_t ts,
                   unsigned *seq) {
        sched_event_t ev;
        header(&ev, SCHED_EV_STATUS, j, ts, seq);
        sched_status_ev_t *e = &ev.u.status;
        e->status = st;
        e->attempt = j->attempt;
        e->scheduled_ms = j->occ;
        sched_execution_id(e->execution_id, j->id, j->occ, j->attempt);
        if (st == SCHED_STATUS_STARTED || st == SCHED_STATUS_HEARTBEAT)
                e->deadline_ms = ts + 9000;
        if (st == SCHED_STATUS_PROGRESS)
                e->progress = rand() % 101;
        if (st == SCHED_STATUS_FAILED || st == SCHED_STATUS_TIMED_OUT) {
                e->retryable = rand() % 3 != 0;
                e->message = strdup("boom");
        }
        if (st == SCHED_STATUS_RETRY_SCHEDULED)
                e->next_ms = ts + 500;
        push(s, &ev, false);
}

static void command(stream_t *s, job_t *j, int64_t ts, unsigned *seq) {
        static const sched_ev_type_t types[] = {
                SCHED_EV_CANCEL_JOB, SCHED_EV_PAUSE_JOB, SCHED_EV_RESUME_JOB,
                SCHED_EV_UPDATE_JOB};
        sched_event_t ev;
        header(&ev, types[rand() % 4], j, ts, seq);
        if (ev.type == SCHED_EV_UPDATE_JOB) {
                ev.u.def.has_timeout = true;
                ev.u.def.timeout_ms = 1000 + rand() % 9000;
                if (rand() % 2) {
                        ev.u.def.has_parameters = true;
                        ev.u.def.parameters = strdup("{\"n\":2}");
                }
        } else if (rand() % 2) {
                ev.u.reason = strdup("because");
        }
        push(s, &ev, true);
        if (ev.type == SCHED_EV_CANCEL_JOB)
                j->phase = 4;
}

/* The next plausible event of job j at ts. */
static void step(stream_t *s, job_t *j, int64_t ts, unsigned *seq) {
        if (j->phase == 0) {
                create(s, j, ts, seq);
                return;
        }
        if (rand() % 12 == 0) {
                command(s, j, ts, seq);
                return;
        }
        switch (j->phase) {
        case 1:
                status(s, j, SCHED_STATUS_FIRED, ts, seq);
                j->phase = 2;
                break;
        case 2:
                status(s, j, SCHED_STATUS_STARTED, ts, seq);
                j->phase = 3;
                break;
        case 3: {
                int r = rand() % 10;
                if (r < 2) {
                        status(s, j, r ? SCHED_STATUS_HEARTBEAT
                                       : SCHED_STATUS_PROGRESS,
                               ts, seq);
                        break;
                }
                sched_status_t end = r < 7   ? SCHED_STATUS_SUCCEEDED
                                     : r < 9 ? SCHED_STATUS_FAILED
                                             : SCHED_STATUS_TIMED_OUT;
                status(s, j, end, ts, seq);
                if (end != SCHED_STATUS_SUCCEEDED &&
                    j->attempt < j->max_attempts) {
                        status(s, j, SCHED_STATUS_RETRY_SCHEDULED, ts + 1,
                               seq);
                        j->attempt++;
                        j->phase = 1;
                } else if (j->recurring && rand() % 3) {
                        j->occ = ts + 1000; /* the next occurrence */
                        j->attempt = 1;
                        j->phase = 1;
                } else {
                        j->phase = 4;
                }
                break;
        }
        default: /* over: a late duplicate now and then */
                if (rand() % 4 == 0)
                        status(s, j, SCHED_STATUS_SUCCEEDED, ts, seq);
                break;
        }
}

static void generate(stream_t *s, unsigned seed) {
        static job_t jobs[NJOBS];
        unsigned seq = 0;
        memset(s, 0, sizeof(*s));
        memset(jobs, 0, sizeof(jobs));
        srand(seed);
        for (int i = 0; i < NJOBS; i++)
                snprintf(jobs[i].id, sizeof(jobs[i].id), "job-%05d", i);
        for (int i = 0; i < NSTEPS; i++) {
                int64_t ts = T0 + (int64_t)i * 10;
                job_t *j = &jobs[rand() % NJOBS];
                /* Now and then a status event of a job created later
                 * (parked until its CreateJob), and some poison. */
                if (j->phase == 0 && rand() % 20 == 0) {
                        j->occ = ts;
                        j->attempt = 1;
                        status(s, j, SCHED_STATUS_FIRED, ts, &seq);
                }
                step(s, j, ts, &seq);
                if (rand() % 500 == 0)
                        push_poison(s, rand() % NPARTS);
        }
}

static void stream_free(stream_t *s) {
        for (int i = 0; i < s->n; i++)
                free(s->recs[i].buf);
        free(s->recs);
}

/* --- Replay ------------------------------------------------------------------ */

typedef struct built_s {
        char dir[64];
        sched_store_t *timer, *view;
        int applied, dead;
} built_t;

static sched_store_t *open_store(const char *dir, const char *sub) {
        char path[128], err[256];
        snprintf(path, sizeof(path), "%s/%s", dir, sub);
        sched_store_t *st = sched_store_open(path, err, sizeof(err));
        if (!st)
                fail_msg("open %s: %s", path, err);
        return st;
}

/* Apply every record (but `skip`, -1 for none) to a timer store and a view
 * store, writing the batches at points chosen by cut_seed. */
static void replay(built_t *b, const stream_t *s, unsigned cut_seed,
                   int skip) {
        snprintf(b->dir, sizeof(b->dir), "/tmp/klok-test-replay-XXXXXX");
        assert_non_null(mkdtemp(b->dir));
        b->timer = open_store(b->dir, "timer");
        b->view = open_store(b->dir, "view");
        b->applied = b->dead = 0;
        sched_batch_t *tb = sched_batch_new(), *vb = sched_batch_new();
        char err[512];
        unsigned cut = cut_seed;
        for (int i = 0; i < s->n; i++) {
                const rec_t *r = &s->recs[i];
                if (i == skip)
                        continue;
                sched_event_t ev;
                sched_timer_effect_t eff;
                memset(&eff, 0, sizeof(eff));
                ev.type = 0;
                sched_rec_result_t res = sched_timer_apply_record(
                        b->timer, tb, codec, r->commands, r->buf, r->len,
                        r->partition, NPARTS, r->offset, &ev, &eff, err,
                        sizeof(err));
                assert_int_not_equal(res, SCHED_REC_FATAL);
                b->applied += res == SCHED_REC_APPLIED;
                b->dead += res == SCHED_REC_DEAD_LETTER;
                if (ev.type)
                        sched_event_clear(&ev);
                if (!sched_codec_decode(codec, r->buf, r->len, &ev, err,
                                        sizeof(err))) {
                        assert_int_equal(sched_view_apply(b->view, vb, codec,
                                                          &ev, r->offset, NULL,
                                                          err, sizeof(err)),
                                         SCHED_ERR_OK);
                        sched_event_clear(&ev);
                }
                if (rand_r(&cut) % 97 == 0 || i == s->n - 1) {
                        assert_int_equal(sched_store_write(b->timer, tb, err,
                                                           sizeof(err)),
                                         SCHED_ERR_OK);
                        assert_int_equal(sched_store_write(b->view, vb, err,
                                                           sizeof(err)),
                                         SCHED_ERR_OK);
                }
        }
        sched_batch_destroy(tb);
        sched_batch_destroy(vb);
}

static void built_free(built_t *b) {
        sched_store_close(b->timer);
        sched_store_close(b->view);
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", b->dir);
        assert_int_equal(system(cmd), 0);
}

/* SHA-256 (hex) over every row of the view's column families. */
static void view_digest(sched_store_t *st, char out[65], long *rows) {
        static const sched_cf_t cfs[] = {SCHED_CF_VIEW_JOBS,
                                         SCHED_CF_VIEW_EXECS,
                                         SCHED_CF_VIEW_INDEX,
                                         SCHED_CF_ORPHANS};
        sched_sha256_t sha;
        unsigned char md[32];
        sched_sha256_init(&sha);
        *rows = 0;
        for (size_t c = 0; c < sizeof(cfs) / sizeof(cfs[0]); c++) {
                sched_iter_t *it =
                        sched_store_iter(st, cfs[c], NULL, 0, NULL, 0);
                for (; sched_iter_valid(it); sched_iter_next(it)) {
                        size_t kl, vl;
                        const char *k = sched_iter_key(it, &kl);
                        const char *v = sched_iter_value(it, &vl);
                        sched_sha256_update(&sha, &kl, sizeof(kl));
                        sched_sha256_update(&sha, k, kl);
                        sched_sha256_update(&sha, &vl, sizeof(vl));
                        sched_sha256_update(&sha, v, vl);
                        (*rows)++;
                }
                sched_iter_destroy(it);
        }
        sched_sha256_final(&sha, md);
        for (int i = 0; i < 32; i++)
                snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* Whether two builds agree: every partition's timer digest, the view. */
static bool same(built_t *a, built_t *b, bool report) {
        bool ok = true;
        for (int p = 0; p < NPARTS; p++) {
                sched_digest_t da, db;
                assert_int_equal(sched_timer_digest(a->timer, p, NPARTS, "c",
                                                    "s", &da),
                                 SCHED_ERR_OK);
                assert_int_equal(sched_timer_digest(b->timer, p, NPARTS, "c",
                                                    "s", &db),
                                 SCHED_ERR_OK);
                if (report)
                        printf("  partition %d: %llu jobs, %llu due, %llu "
                               "parked; %s\n",
                               p,
                               (unsigned long long)sched_digest_rows(&da,
                                                                     "jobs"),
                               (unsigned long long)sched_digest_rows(&da,
                                                                     "due"),
                               (unsigned long long)sched_digest_rows(
                                       &da, "orphans"),
                               strcmp(da.sha256, db.sha256) ? "DIFFER"
                                                            : "same digest");
                ok = ok && !strcmp(da.sha256, db.sha256);
        }
        char va[65], vb[65];
        long ra, rb;
        view_digest(a->view, va, &ra);
        view_digest(b->view, vb, &rb);
        if (report)
                printf("  view: %ld rows; %s\n", ra,
                       strcmp(va, vb) ? "DIFFER" : "same digest");
        return ok && !strcmp(va, vb) && ra == rb;
}

static void test_randomized_streams_replay_to_identical_state(void **state) {
        (void)state;
        for (unsigned seed = 1; seed <= 2; seed++) {
                stream_t s;
                generate(&s, seed);
                built_t a, b;
                replay(&a, &s, 11 * seed, -1);
                replay(&b, &s, 977 * seed, -1);
                printf("seed %u: %d records, %d applied by the timer, %d "
                       "dead-lettered\n",
                       seed, s.n, a.applied, a.dead);
                /* Enough of everything happened to mean something. */
                assert_true(a.applied > NSTEPS / 2);
                assert_true(a.dead > 0);
                assert_true(same(&a, &b, true));
                built_free(&b);

                /* One CreateJob fewer: not the same state. */
                int skip = -1;
                for (int i = s.n / 2; i < s.n && skip < 0; i++) {
                        sched_event_t ev;
                        char err[256];
                        if (!s.recs[i].commands ||
                            sched_codec_decode(codec, s.recs[i].buf,
                                               s.recs[i].len, &ev, err,
                                               sizeof(err)))
                                continue;
                        if (ev.type == SCHED_EV_CREATE_JOB)
                                skip = i;
                        sched_event_clear(&ev);
                }
                assert_true(skip >= 0);
                replay(&b, &s, 977 * seed, skip);
                assert_false(same(&a, &b, false));
                built_free(&b);
                built_free(&a);
                stream_free(&s);
        }
}

int main(void) {
        char err[512];
        codec = sched_codec_new(KLOK_SOURCE_DIR "/schemas", err, sizeof(err));
        if (!codec) {
                fprintf(stderr, "schemas: %s\n", err);
                return 1;
        }
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(
                        test_randomized_streams_replay_to_identical_state),
        };
        int rc = cmocka_run_group_tests(tests, NULL, NULL);
        sched_codec_destroy(codec);
        return rc;
}
