/*
 * timer_state.c — the timer service's appliers (see sched/timer_state.h).
 *
 * JOBS row layout, version 4 (integers big-endian, strings u16-length
 * prefixed):
 *   u8 version | u8 state | i32 partition |
 *   i64 fire_occ_ms | i32 fire_attempt | i64 next_due_ms |
 *   i64 cur_occ_ms | i32 cur_attempt | i64 deadline_ms |
 *   i64 decide_ms | u8 decide | i64 retry_at_ms | i32 runs |
 *   u8 chain | i64 buffered_ms |                      (not in version 2)
 *   str last_error | the CreateJob, field by field (see wrdef())
 * Every byte follows from the events applied, so replaying the same log
 * gives the same rows.  Versions 2 and 3 (the CreateJob in its Avro wire
 * form, no chain in 2) are still read.
 *
 * Lifecycle of a one-shot job:
 *   SCHEDULED -F-> FIRED -STARTED-> RUNNING -SUCCEEDED-> DONE
 *   FAILED / TIMED_OUT -> DECIDING -D-> RETRY_SCHEDULED -> SCHEDULED (attempt+1)
 *                                     -> DEAD_LETTERED -> DEAD
 * A recurring job (cron, interval) stays SCHEDULED while it has a future:
 * its 'F' entry is the next occurrence, and the execution under way (one
 * occurrence and its retries, the "chain") goes through the same steps in
 * job->chain instead of the state, its retries firing from an 'A' entry:
 *   FIRED -STARTED-> RUNNING -FAILED-> DECIDING -RETRY_SCHEDULED-> RETRY -A->
 *   FIRED ... until SUCCEEDED, a final failure or DEAD_LETTERED end it.
 * An occurrence due while a chain is under way fires anyway (overlap
 * ALLOW: the new chain replaces the old one in the row), is SKIPPED, or is
 * BUFFERED and fired when the chain ends.  When the schedule has no further
 * occurrence and no chain is under way, COMPLETED ends the job.
 */
#include "sched/timer_state.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched/cron.h"
#include "sched/kafka.h"
#include "sched/uuid.h"
#include "sched/orphans.h"
#include "sched/tz.h"

#define ROW_VERSION 4
#define ROW_VERSION_MIN 2 /* oldest row layout still read */

void sched_due_key_str(char out[SCHED_DUE_KEY_STR_MAX], int32_t partition,
                       int64_t due_ms, char kind, const char *job_id) {
        snprintf(out, SCHED_DUE_KEY_STR_MAX, "%d:%lld:%c:%s", (int)partition,
                 (long long)due_ms, kind, job_id);
}

size_t sched_due_key(unsigned char *buf, int32_t partition, int64_t due_ms,
                     char kind, const char *job_id) {
        size_t idlen = strnlen(job_id, SCHED_ID_MAX - 1);
        sched_be32_put(buf, (uint32_t)partition);
        sched_be64_put(buf + 4, sched_ms_key(due_ms));
        buf[12] = (unsigned char)kind;
        memcpy(buf + 13, job_id, idlen);
        return 13 + idlen;
}

bool sched_due_key_parse(const void *key, size_t klen, int32_t *partitionp,
                         int64_t *due_msp, char *kindp,
                         char job_id[SCHED_ID_MAX]) {
        const unsigned char *k = key;
        if (klen <= 13 || klen - 13 >= SCHED_ID_MAX)
                return false;
        *partitionp = (int32_t)sched_be32_get(k);
        *due_msp = (int64_t)(sched_be64_get(k + 4) ^ 0x8000000000000000ULL);
        *kindp = (char)k[12];
        memcpy(job_id, k + 13, klen - 13);
        job_id[klen - 13] = '\0';
        return true;
}

const char *sched_timer_jstate2str(sched_timer_jstate_t st) {
        switch (st) {
        case SCHED_TJ_SCHEDULED:
                return "SCHEDULED";
        case SCHED_TJ_PAUSED:
                return "PAUSED";
        case SCHED_TJ_CANCELLED:
                return "CANCELLED";
        case SCHED_TJ_FIRED:
                return "FIRED";
        case SCHED_TJ_DONE:
                return "DONE";
        case SCHED_TJ_REJECTED:
                return "REJECTED";
        case SCHED_TJ_RUNNING:
                return "RUNNING";
        case SCHED_TJ_DECIDING:
                return "DECIDING";
        case SCHED_TJ_DEAD:
                return "DEAD_LETTERED";
        }
        return "UNKNOWN";
}

int64_t sched_retry_backoff_ms(const sched_retry_t *retry,
                               int32_t next_attempt) {
        double b = (double)(retry->initial_backoff_ms > 0
                                    ? retry->initial_backoff_ms
                                    : 0);
        double mult = retry->multiplier >= 1.0 ? retry->multiplier : 1.0;
        for (int32_t i = 2; i < next_attempt && b < 1e15; i++)
                b *= mult;
        if (retry->max_backoff_ms > 0 && b > (double)retry->max_backoff_ms)
                b = (double)retry->max_backoff_ms;
        return (int64_t)llround(b);
}

/* --- Row encoding ----------------------------------------------------------- */

/* A cursor over a row buffer; `bad` is set on any overrun. */
typedef struct rd_s {
        const unsigned char *p, *end;
        bool bad;
} rd_t;

static const unsigned char *take(rd_t *r, size_t n) {
        if (r->bad || (size_t)(r->end - r->p) < n) {
                r->bad = true;
                return NULL;
        }
        const unsigned char *q = r->p;
        r->p += n;
        return q;
}
static uint8_t rd8(rd_t *r) {
        const unsigned char *q = take(r, 1);
        return q ? q[0] : 0;
}
static uint16_t rd16(rd_t *r) {
        const unsigned char *q = take(r, 2);
        return q ? (uint16_t)(q[0] << 8 | q[1]) : 0;
}
static int32_t rd32(rd_t *r) {
        const unsigned char *q = take(r, 4);
        return q ? (int32_t)sched_be32_get(q) : 0;
}
static int64_t rd64(rd_t *r) {
        const unsigned char *q = take(r, 8);
        return q ? (int64_t)sched_be64_get(q) : 0;
}
/* A u16-length string into a char[size]; too long marks the row bad. */
static void rdstr(rd_t *r, char *dst, size_t size) {
        size_t len = rd16(r);
        const unsigned char *q = take(r, len);
        if (!q || len >= size) {
                r->bad = true;
                dst[0] = '\0';
                return;
        }
        memcpy(dst, q, len);
        dst[len] = '\0';
}

/* The job definition in the row's own layout (version 4): every field of
 * the CreateJob at a fixed place, strings length-prefixed.  Reading it is
 * a few copies, where the Avro form took a generic-value decode on every
 * firing and every applied event. */
static void rddef(rd_t *r, sched_event_t *ev) {
        sched_event_init(ev, SCHED_EV_CREATE_JOB);
        sched_job_def_t *d = &ev->u.def;
        sched_schedule_t *s = &d->schedule;
        rdstr(r, ev->event_id, sizeof(ev->event_id));
        rdstr(r, ev->job_id, sizeof(ev->job_id));
        rdstr(r, ev->tenant, sizeof(ev->tenant));
        ev->ts_ms = rd64(r);
        rdstr(r, d->name, sizeof(d->name));
        s->kind = (sched_sched_kind_t)rd8(r);
        s->at_ms = rd64(r);
        s->delay_ms = rd64(r);
        rdstr(r, s->cron, sizeof(s->cron));
        rdstr(r, s->tz, sizeof(s->tz));
        s->interval_ms = rd64(r);
        s->start_ms = rd64(r);
        s->end_ms = rd64(r);
        s->max_runs = rd32(r);
        s->misfire = (sched_misfire_t)rd8(r);
        s->misfire_threshold_ms = rd64(r);
        s->catch_up_ms = rd64(r);
        s->overlap = (sched_overlap_t)rd8(r);
        rdstr(r, d->task, sizeof(d->task));
        uint32_t plen = (uint32_t)rd32(r);
        if (plen != UINT32_MAX) {
                const unsigned char *q = take(r, plen);
                if (q && plen <= SCHED_PARAMS_MAX &&
                    (d->parameters = malloc(plen + 1))) {
                        memcpy(d->parameters, q, plen);
                        d->parameters[plen] = '\0';
                } else {
                        r->bad = true;
                }
        }
        rdstr(r, d->queue, sizeof(d->queue));
        d->priority = (sched_priority_t)rd8(r);
        d->retry.max_attempts = rd32(r);
        d->retry.initial_backoff_ms = rd64(r);
        uint64_t bits = (uint64_t)rd64(r);
        memcpy(&d->retry.multiplier, &bits, sizeof(bits));
        d->retry.max_backoff_ms = rd64(r);
        d->timeout_ms = rd64(r);
        rdstr(r, d->idempotency_key, sizeof(d->idempotency_key));
}

void sched_timer_job_clear(sched_timer_job_t *job) {
        sched_event_clear(&job->def);
}

sched_err_t sched_timer_job_get(sched_store_t *store, sched_batch_t *batch,
                                const sched_codec_t *codec,
                                const char *job_id, sched_timer_job_t *job) {
        char *val;
        size_t vlen;
        sched_err_t err = sched_store_get(store, batch, SCHED_CF_JOBS, job_id,
                                          strlen(job_id), &val, &vlen);
        if (err)
                return err;
        rd_t r = {(const unsigned char *)val,
                  (const unsigned char *)val + vlen, false};
        memset(job, 0, sizeof(*job));
        uint8_t version = rd8(&r);
        if (version < ROW_VERSION_MIN || version > ROW_VERSION) {
                free(val);
                return SCHED_ERR_STORE;
        }
        job->state = (sched_timer_jstate_t)rd8(&r);
        job->partition = rd32(&r);
        job->fire_occ_ms = rd64(&r);
        job->fire_attempt = rd32(&r);
        job->next_due_ms = rd64(&r);
        job->cur_occ_ms = rd64(&r);
        job->cur_attempt = rd32(&r);
        job->deadline_ms = rd64(&r);
        job->decide_ms = rd64(&r);
        job->decide = (char)rd8(&r);
        job->retry_at_ms = rd64(&r);
        job->runs = rd32(&r);
        job->chain = SCHED_CHAIN_IDLE;
        job->buffered_ms = SCHED_NONE;
        if (version >= 3) {
                job->chain = (char)rd8(&r);
                job->buffered_ms = rd64(&r);
        }
        rdstr(&r, job->last_error, sizeof(job->last_error));
        if (version >= 4) {
                rddef(&r, &job->def);
                err = r.bad || r.p != r.end ? SCHED_ERR_STORE : SCHED_ERR_OK;
        } else if (r.bad) {
                err = SCHED_ERR_STORE;
        } else { /* versions 2 and 3 kept the CreateJob's wire form */
                err = sched_codec_decode(codec, r.p, (size_t)(r.end - r.p),
                                         &job->def, NULL, 0);
        }
        free(val);
        if (err)
                sched_event_clear(&job->def);
        return err ? SCHED_ERR_STORE : SCHED_ERR_OK;
}

/* A growing row buffer; `bad` once an allocation failed. */
typedef struct wr_s {
        unsigned char *buf;
        size_t len, size;
        bool bad;
} wr_t;

static unsigned char *put(wr_t *w, size_t n) {
        if (w->bad)
                return NULL;
        if (w->len + n > w->size) {
                size_t size = w->size ? w->size : 512;
                while (size < w->len + n)
                        size *= 2;
                unsigned char *b = realloc(w->buf, size);
                if (!b) {
                        w->bad = true;
                        return NULL;
                }
                w->buf = b;
                w->size = size;
        }
        unsigned char *q = w->buf + w->len;
        w->len += n;
        return q;
}
static void wr8(wr_t *w, uint8_t v) {
        unsigned char *q = put(w, 1);
        if (q)
                q[0] = v;
}
static void wr32(wr_t *w, int32_t v) {
        unsigned char *q = put(w, 4);
        if (q)
                sched_be32_put(q, (uint32_t)v);
}
static void wr64(wr_t *w, int64_t v) {
        unsigned char *q = put(w, 8);
        if (q)
                sched_be64_put(q, (uint64_t)v);
}
static void wrbytes(wr_t *w, const void *p, size_t n) {
        unsigned char *q = put(w, n);
        if (q && n)
                memcpy(q, p, n);
}
/* A NUL-terminated array field, length-prefixed (u16). */
static void wrstr(wr_t *w, const char *s, size_t size) {
        size_t len = strnlen(s, size - 1);
        wr8(w, (uint8_t)(len >> 8));
        wr8(w, (uint8_t)len);
        wrbytes(w, s, len);
}

static void wrdef(wr_t *w, const sched_event_t *ev) {
        const sched_job_def_t *d = &ev->u.def;
        const sched_schedule_t *s = &d->schedule;
        wrstr(w, ev->event_id, sizeof(ev->event_id));
        wrstr(w, ev->job_id, sizeof(ev->job_id));
        wrstr(w, ev->tenant, sizeof(ev->tenant));
        wr64(w, ev->ts_ms);
        wrstr(w, d->name, sizeof(d->name));
        wr8(w, (uint8_t)s->kind);
        wr64(w, s->at_ms);
        wr64(w, s->delay_ms);
        wrstr(w, s->cron, sizeof(s->cron));
        wrstr(w, s->tz, sizeof(s->tz));
        wr64(w, s->interval_ms);
        wr64(w, s->start_ms);
        wr64(w, s->end_ms);
        wr32(w, s->max_runs);
        wr8(w, (uint8_t)s->misfire);
        wr64(w, s->misfire_threshold_ms);
        wr64(w, s->catch_up_ms);
        wr8(w, (uint8_t)s->overlap);
        wrstr(w, d->task, sizeof(d->task));
        if (d->parameters) {
                size_t plen = strnlen(d->parameters, SCHED_PARAMS_MAX + 1);
                wr32(w, (int32_t)plen);
                wrbytes(w, d->parameters, plen);
        } else {
                wr32(w, -1); /* NULL: "{}" */
        }
        wrstr(w, d->queue, sizeof(d->queue));
        wr8(w, (uint8_t)d->priority);
        wr32(w, d->retry.max_attempts);
        wr64(w, d->retry.initial_backoff_ms);
        uint64_t bits;
        memcpy(&bits, &d->retry.multiplier, sizeof(bits));
        wr64(w, (int64_t)bits);
        wr64(w, d->retry.max_backoff_ms);
        wr64(w, d->timeout_ms);
        wrstr(w, d->idempotency_key, sizeof(d->idempotency_key));
}

static sched_err_t job_put(sched_store_t *store, sched_batch_t *batch,
                           const sched_codec_t *codec,
                           const sched_timer_job_t *job, char *errstr,
                           size_t errstr_size) {
        (void)codec; /* rows no longer hold the wire form */
        wr_t w = {NULL, 0, 0, false};
        wr8(&w, ROW_VERSION);
        wr8(&w, (uint8_t)job->state);
        wr32(&w, job->partition);
        wr64(&w, job->fire_occ_ms);
        wr32(&w, job->fire_attempt);
        wr64(&w, job->next_due_ms);
        wr64(&w, job->cur_occ_ms);
        wr32(&w, job->cur_attempt);
        wr64(&w, job->deadline_ms);
        wr64(&w, job->decide_ms);
        wr8(&w, (uint8_t)job->decide);
        wr64(&w, job->retry_at_ms);
        wr32(&w, job->runs);
        wr8(&w, (uint8_t)job->chain);
        wr64(&w, job->buffered_ms);
        wrstr(&w, job->last_error, sizeof(job->last_error));
        wrdef(&w, &job->def);
        if (w.bad) {
                free(w.buf);
                return sched_seterr(errstr, errstr_size, SCHED_ERR_NOMEM,
                                    "out of memory");
        }
        sched_batch_put(store, batch, SCHED_CF_JOBS, job->def.job_id,
                        strlen(job->def.job_id), w.buf, w.len);
        free(w.buf);
        return SCHED_ERR_OK;
}

/* --- Due entries ------------------------------------------------------------ */

/* Note an added due entry; the service keeps the earliest as its scan
 * bound. */
static void eff_due(sched_timer_effect_t *eff, int64_t due_ms) {
        if (!eff->due_added || due_ms < eff->due_ms)
                eff->due_ms = due_ms;
        eff->due_added = true;
}

static void due_set(sched_store_t *store, sched_batch_t *batch,
                    const sched_timer_job_t *job, char kind, int64_t due_ms) {
        unsigned char key[SCHED_DUE_KEY_MAX];
        size_t klen = sched_due_key(key, job->partition, due_ms, kind,
                                    job->def.job_id);
        sched_batch_put(store, batch, SCHED_CF_DUE, key, klen, "", 0);
}

static void due_del(sched_store_t *store, sched_batch_t *batch,
                    const sched_timer_job_t *job, char kind, int64_t due_ms,
                    sched_timer_effect_t *eff) {
        unsigned char key[SCHED_DUE_KEY_MAX];
        if (due_ms == SCHED_NONE)
                return;
        if (eff && eff->ndeleted < SCHED_TIMER_DELETED_MAX)
                sched_due_key_str(eff->deleted[eff->ndeleted++],
                                  job->partition, due_ms, kind,
                                  job->def.job_id);
        size_t klen = sched_due_key(key, job->partition, due_ms, kind,
                                    job->def.job_id);
        sched_batch_del(store, batch, SCHED_CF_DUE, key, klen);
}

/* Schedule the next firing ('F'). */
static void fire_at(sched_store_t *store, sched_batch_t *batch,
                    sched_timer_job_t *job, int64_t occ_ms, int32_t attempt,
                    int64_t due_ms, sched_timer_effect_t *eff) {
        due_del(store, batch, job, SCHED_DUE_FIRE, job->next_due_ms, eff);
        job->fire_occ_ms = occ_ms;
        job->fire_attempt = attempt;
        job->next_due_ms = due_ms;
        due_set(store, batch, job, SCHED_DUE_FIRE, due_ms);
        eff_due(eff, due_ms);
}

static void fire_clear(sched_store_t *store, sched_batch_t *batch,
                       sched_timer_job_t *job, sched_timer_effect_t *eff) {
        due_del(store, batch, job, SCHED_DUE_FIRE, job->next_due_ms, eff);
        job->next_due_ms = SCHED_NONE;
}

static void deadline_set(sched_store_t *store, sched_batch_t *batch,
                         sched_timer_job_t *job, int64_t deadline_ms,
                         sched_timer_effect_t *eff) {
        due_del(store, batch, job, SCHED_DUE_VISIBILITY, job->deadline_ms,
                eff);
        job->deadline_ms = deadline_ms;
        if (deadline_ms == SCHED_NONE)
                return;
        due_set(store, batch, job, SCHED_DUE_VISIBILITY, deadline_ms);
        eff_due(eff, deadline_ms);
}

static void decide_set(sched_store_t *store, sched_batch_t *batch,
                       sched_timer_job_t *job, char decide, int64_t at_ms,
                       sched_timer_effect_t *eff) {
        due_del(store, batch, job, SCHED_DUE_DECIDE, job->decide_ms, eff);
        job->decide = decide;
        job->decide_ms = at_ms;
        if (at_ms == SCHED_NONE)
                return;
        due_set(store, batch, job, SCHED_DUE_DECIDE, at_ms);
        eff_due(eff, at_ms);
}

static bool recurring(const sched_timer_job_t *job) {
        sched_sched_kind_t k = job->def.u.def.schedule.kind;
        return k == SCHED_KIND_INTERVAL || k == SCHED_KIND_CRON;
}

/* --- Schedules -------------------------------------------------------------- */

/* Validate an interval schedule; NULL if fine, else the reason. */
static const char *interval_invalid(const sched_schedule_t *s) {
        if (s->interval_ms == SCHED_NONE || s->interval_ms < 1)
                return "interval_ms must be at least 1";
        if (s->start_ms != SCHED_NONE && s->end_ms != SCHED_NONE &&
            s->end_ms < s->start_ms)
                return "end is before start";
        if (s->max_runs < 0)
                return "max_runs must not be negative";
        return NULL;
}

/* The cron occurrence strictly after after_ms within the schedule's start
 * and end, or SCHED_NONE with the reason. */
static int64_t cron_next(const sched_schedule_t *s, int64_t after_ms,
                         char *reason, size_t reason_size) {
        sched_cron_t cron;
        char why[200];
        if (sched_cron_parse(s->cron, &cron, why, sizeof(why))) {
                sched_seterr(reason, reason_size, SCHED_ERR_INVALID,
                             "cron schedule: %s", why);
                return SCHED_NONE;
        }
        sched_tz_t *tz = sched_tz_open(s->tz, why, sizeof(why));
        if (!tz) {
                sched_seterr(reason, reason_size, SCHED_ERR_INVALID,
                             "cron schedule: timezone: %s", why);
                return SCHED_NONE;
        }
        if (s->start_ms != SCHED_NONE && after_ms < s->start_ms - 1)
                after_ms = s->start_ms - 1;
        int64_t next;
        sched_err_t err = sched_cron_next(&cron, tz, after_ms, &next);
        sched_tz_close(tz);
        if (err || (s->end_ms != SCHED_NONE && next > s->end_ms)) {
                sched_seterr(reason, reason_size, SCHED_ERR_INVALID,
                             "cron schedule: no occurrence %s",
                             err ? "ever" : "before its end");
                return SCHED_NONE;
        }
        return next;
}

int64_t sched_schedule_next(const sched_schedule_t *s, int64_t anchor_ms,
                            int64_t after_ms, char *reason,
                            size_t reason_size) {
        if (s->kind == SCHED_KIND_CRON)
                return cron_next(s, after_ms, reason, reason_size);
        if (s->kind != SCHED_KIND_INTERVAL || s->interval_ms < 1 ||
            anchor_ms == SCHED_NONE) {
                sched_seterr(reason, reason_size, SCHED_ERR_INVALID,
                             "not a recurring schedule");
                return SCHED_NONE;
        }
        int64_t next = anchor_ms;
        if (next <= after_ms)
                next += ((after_ms - next) / s->interval_ms + 1) *
                        s->interval_ms;
        if (s->end_ms != SCHED_NONE && next > s->end_ms)
                return SCHED_NONE;
        return next;
}

int64_t sched_timer_first_due(const sched_event_t *create, char *reason,
                              size_t reason_size) {
        const sched_schedule_t *s = &create->u.def.schedule;
        const char *why;
        switch (s->kind) {
        case SCHED_KIND_IMMEDIATE:
                return create->ts_ms;
        case SCHED_KIND_AT:
                if (s->at_ms == SCHED_NONE)
                        break;
                return s->at_ms;
        case SCHED_KIND_DELAY:
                if (s->delay_ms == SCHED_NONE || s->delay_ms < 0)
                        break;
                return create->ts_ms + s->delay_ms;
        case SCHED_KIND_INTERVAL: {
                if ((why = interval_invalid(s))) {
                        sched_seterr(reason, reason_size, SCHED_ERR_INVALID,
                                     "interval schedule: %s", why);
                        return SCHED_NONE;
                }
                /* First run at start, or one interval after creation. */
                int64_t first = s->start_ms != SCHED_NONE
                                        ? s->start_ms
                                        : create->ts_ms + s->interval_ms;
                if (s->end_ms != SCHED_NONE && first > s->end_ms) {
                        sched_seterr(reason, reason_size, SCHED_ERR_INVALID,
                                     "interval schedule: no run before end");
                        return SCHED_NONE;
                }
                return first;
        }
        case SCHED_KIND_CRON:
                if (s->start_ms != SCHED_NONE && s->end_ms != SCHED_NONE &&
                    s->end_ms < s->start_ms) {
                        sched_seterr(reason, reason_size, SCHED_ERR_INVALID,
                                     "cron schedule: end is before start");
                        return SCHED_NONE;
                }
                return cron_next(s, create->ts_ms, reason, reason_size);
        }
        sched_seterr(reason, reason_size, SCHED_ERR_INVALID,
                     "schedule %s lacks its time", sched_kind2str(s->kind));
        return SCHED_NONE;
}

/* The first occurrence of a recurring schedule strictly after occ_ms and
 * at or after lower_ms, within its end; SCHED_NONE when there is none. */
static int64_t occurrence_from(const sched_schedule_t *s, int64_t occ_ms,
                               int64_t lower_ms) {
        int64_t after = lower_ms - 1 > occ_ms ? lower_ms - 1 : occ_ms;
        if (s->kind == SCHED_KIND_CRON)
                return cron_next(s, after, NULL, 0);
        if (s->kind != SCHED_KIND_INTERVAL || s->interval_ms < 1)
                return SCHED_NONE;
        int64_t next = occ_ms + s->interval_ms;
        if (next <= after)
                next += ((after - next) / s->interval_ms + 1) *
                        s->interval_ms;
        if (s->end_ms != SCHED_NONE && next > s->end_ms)
                return SCHED_NONE;
        return next;
}

static int64_t misfire_threshold(const sched_schedule_t *s) {
        return s->misfire_threshold_ms > 0 ? s->misfire_threshold_ms : 0;
}

/* FIRE_ALL: how far back missed occurrences still run (never less than
 * the threshold: an occurrence within it is not missed). */
static int64_t catch_up_window(const sched_schedule_t *s) {
        int64_t t = misfire_threshold(s);
        return s->catch_up_ms > t ? s->catch_up_ms : t;
}

/* The occurrence to schedule after occurrence occ_ms of a recurring job,
 * handled (fired or skipped) at now_ms; SCHED_NONE when the schedule is
 * over.  The next occurrences that are already later than the misfire
 * threshold were missed: FIRE_ALL still runs the ones inside the catch-up
 * window, one after the other; FIRE_ONCE (the execution just fired stood
 * for them) and SKIP go on with the first occurrence after now.  A
 * `folded` occurrence (a buffered one) stood for every occurrence up to
 * now. */
static int64_t next_occurrence(const sched_timer_job_t *job, int64_t occ_ms,
                               int64_t now_ms, bool folded) {
        const sched_schedule_t *s = &job->def.u.def.schedule;
        if (s->max_runs > 0 && job->runs >= s->max_runs)
                return SCHED_NONE;
        if (folded)
                return occurrence_from(s, occ_ms, now_ms + 1);
        int64_t next = occurrence_from(s, occ_ms, occ_ms + 1);
        if (next == SCHED_NONE || next >= now_ms - misfire_threshold(s))
                return next;
        if (s->misfire == SCHED_MISFIRE_FIRE_ALL)
                return occurrence_from(s, occ_ms, now_ms - catch_up_window(s));
        return occurrence_from(s, occ_ms, now_ms + 1);
}

/* --- Appliers, one per event ---------------------------------------------- */

static bool apply_status(sched_store_t *store, sched_batch_t *batch,
                         sched_timer_job_t *job, const sched_event_t *ev,
                         sched_timer_effect_t *eff);

/* A parked status event, applied to the job being created. */
typedef struct orphan_ctx_s {
        sched_store_t *store;
        sched_batch_t *batch;
        sched_timer_job_t *job;
        sched_timer_effect_t *eff;
} orphan_ctx_t;

static sched_err_t orphan_apply(void *opaque, const sched_event_t *ev) {
        orphan_ctx_t *c = opaque;
        int ndeleted = c->eff->ndeleted;
        apply_status(c->store, c->batch, c->job, ev, c->eff);
        /* Entries of a job being created were never in flight. */
        c->eff->ndeleted = ndeleted;
        return SCHED_ERR_OK;
}

static sched_err_t apply_create(sched_store_t *store, sched_batch_t *batch,
                                const sched_codec_t *codec,
                                const sched_event_t *ev, int32_t partition,
                                sched_timer_effect_t *eff, char *errstr,
                                size_t errstr_size) {
        sched_timer_job_t job;
        if (sched_timer_job_get(store, batch, codec, ev->job_id, &job) ==
            SCHED_ERR_OK) {
                /* A job id is created once; a repeat (same idempotency key,
                 * producer retry) changes nothing. */
                sched_timer_job_clear(&job);
                return SCHED_ERR_OK;
        }
        memset(&job, 0, sizeof(job));
        sched_err_t err = sched_event_copy(&job.def, ev);
        if (err)
                return err;
        job.partition = partition;
        job.next_due_ms = job.cur_occ_ms = job.deadline_ms = job.decide_ms =
                job.retry_at_ms = job.fire_occ_ms = job.buffered_ms =
                        SCHED_NONE;
        job.chain = SCHED_CHAIN_IDLE;
        int64_t first =
                sched_timer_first_due(ev, eff->reason, sizeof(eff->reason));
        if (first == SCHED_NONE) {
                /* REJECTED is announced by the due checker; the job is
                 * final once that event is applied back. */
                job.state = SCHED_TJ_DECIDING;
                snprintf(job.last_error, sizeof(job.last_error), "%s",
                         eff->reason);
                decide_set(store, batch, &job, SCHED_DECIDE_REJECT, ev->ts_ms,
                           eff);
                eff->rejected = true;
        } else {
                job.state = SCHED_TJ_SCHEDULED;
                fire_at(store, batch, &job, first, 1, first, eff);
        }
        /* What the status topic said of this job before its CreateJob was
         * read, in log order, as if it had come after. */
        orphan_ctx_t ctx = {store, batch, &job, eff};
        err = sched_orphan_take(store, batch, codec, 'T', ev->job_id,
                                orphan_apply, &ctx);
        if (!err)
                err = job_put(store, batch, codec, &job, errstr, errstr_size);
        sched_timer_job_clear(&job);
        return err;
}

static bool final_state(sched_timer_jstate_t st) {
        return st == SCHED_TJ_CANCELLED || st == SCHED_TJ_DONE ||
               st == SCHED_TJ_REJECTED || st == SCHED_TJ_DEAD;
}

/* --- Executions ------------------------------------------------------------- */

/* Stage (SCHED_CHAIN_*) of the execution a job tracks: a recurring job
 * keeps it in `chain`, a one-shot in its state. */
static char stage(const sched_timer_job_t *job) {
        if (recurring(job))
                return job->chain;
        switch (job->state) {
        case SCHED_TJ_FIRED:
                return SCHED_CHAIN_FIRED;
        case SCHED_TJ_RUNNING:
                return SCHED_CHAIN_RUNNING;
        case SCHED_TJ_DECIDING:
                return job->decide == SCHED_DECIDE_RETRY ||
                                       job->decide == SCHED_DECIDE_DEAD
                               ? SCHED_CHAIN_DECIDING
                               : SCHED_CHAIN_IDLE;
        default:
                return SCHED_CHAIN_IDLE;
        }
}

/* Move the tracked execution to RUNNING or DECIDING. */
static void stage_set(sched_timer_job_t *job, char st) {
        if (recurring(job))
                job->chain = st;
        else
                job->state = st == SCHED_CHAIN_RUNNING ? SCHED_TJ_RUNNING
                                                       : SCHED_TJ_DECIDING;
}

/* Does the status event concern the execution the job tracks? */
static bool is_current(const sched_timer_job_t *job,
                       const sched_status_ev_t *st) {
        return job->cur_occ_ms != SCHED_NONE &&
               st->scheduled_ms == job->cur_occ_ms &&
               st->attempt == job->cur_attempt;
}

/* Is the status event about the occurrence the 'F' entry waits for? */
static bool is_pending(const sched_timer_job_t *job,
                       const sched_status_ev_t *st) {
        return (job->state == SCHED_TJ_SCHEDULED ||
                job->state == SCHED_TJ_PAUSED) &&
               job->next_due_ms != SCHED_NONE &&
               st->scheduled_ms == job->fire_occ_ms &&
               st->attempt == job->fire_attempt;
}

/* A recurring job stops tracking its chain: its entries go. */
static void chain_drop(sched_store_t *store, sched_batch_t *batch,
                       sched_timer_job_t *job, sched_timer_effect_t *eff) {
        deadline_set(store, batch, job, SCHED_NONE, eff);
        if (job->chain == SCHED_CHAIN_DECIDING)
                decide_set(store, batch, job, 0, SCHED_NONE, eff);
        if (job->chain == SCHED_CHAIN_RETRY &&
            job->state != SCHED_TJ_PAUSED)
                due_del(store, batch, job, SCHED_DUE_RETRY, job->retry_at_ms,
                        eff);
        job->chain = SCHED_CHAIN_IDLE;
}

/* A recurring job between chains at now_ms: a buffered occurrence fires
 * now; with no occurrence left, the job completes. */
static void settle(sched_store_t *store, sched_batch_t *batch,
                   sched_timer_job_t *job, int64_t now_ms,
                   sched_timer_effect_t *eff) {
        if (job->chain != SCHED_CHAIN_IDLE ||
            (job->state != SCHED_TJ_SCHEDULED &&
             job->state != SCHED_TJ_PAUSED))
                return;
        if (job->buffered_ms != SCHED_NONE && job->next_due_ms == SCHED_NONE) {
                if (job->state == SCHED_TJ_PAUSED) { /* entry on resume */
                        job->fire_occ_ms = job->buffered_ms;
                        job->fire_attempt = 1;
                        job->next_due_ms = now_ms;
                } else {
                        fire_at(store, batch, job, job->buffered_ms, 1, now_ms,
                                eff);
                }
                return;
        }
        if (job->next_due_ms != SCHED_NONE)
                return;
        job->state = SCHED_TJ_DECIDING;
        decide_set(store, batch, job, SCHED_DECIDE_COMPLETE, now_ms, eff);
}

/* The chain of a recurring job ended (succeeded, failed for good). */
static void chain_end(sched_store_t *store, sched_batch_t *batch,
                      sched_timer_job_t *job, int64_t now_ms,
                      sched_timer_effect_t *eff) {
        chain_drop(store, batch, job, eff);
        settle(store, batch, job, now_ms, eff);
}

/* Schedule what follows occurrence occ_ms of a recurring job, handled at
 * now_ms (kept without an entry while the job is paused). */
static void schedule_after(sched_store_t *store, sched_batch_t *batch,
                           sched_timer_job_t *job, int64_t occ_ms,
                           int64_t now_ms, bool folded,
                           sched_timer_effect_t *eff) {
        int64_t next = next_occurrence(job, occ_ms, now_ms, folded);
        if (next == SCHED_NONE) {
                settle(store, batch, job, now_ms, eff);
        } else if (job->state == SCHED_TJ_PAUSED) {
                job->fire_occ_ms = job->next_due_ms = next;
                job->fire_attempt = 1;
        } else {
                fire_at(store, batch, job, next, 1, next, eff);
        }
}

/* The pending 'F' occurrence was handled (fired, skipped or buffered): its
 * entry goes (a paused job has none). */
static void pending_taken(sched_store_t *store, sched_batch_t *batch,
                          sched_timer_job_t *job, sched_timer_effect_t *eff) {
        if (job->state == SCHED_TJ_PAUSED)
                job->next_due_ms = SCHED_NONE;
        else
                fire_clear(store, batch, job, eff);
}

/* The pending 'F' occurrence of a recurring job was handled (fired,
 * skipped or buffered): its entry goes; returns whether it was the
 * buffered occurrence (it stood for every occurrence up to now). */
static bool take_pending(sched_store_t *store, sched_batch_t *batch,
                         sched_timer_job_t *job, const sched_status_ev_t *st,
                         sched_timer_effect_t *eff) {
        bool folded = job->buffered_ms == st->scheduled_ms;
        if (folded)
                job->buffered_ms = SCHED_NONE;
        pending_taken(store, batch, job, eff);
        return folded;
}

/* FIRED of a recurring job: an occurrence (attempt 1, from 'F') starts a
 * chain — with overlap ALLOW it replaces one under way — and the next
 * occurrence is scheduled; a retry (from 'A') moves the chain on.  A job
 * paused while the firing was being committed did fire: recorded. */
static bool fired_recurring(sched_store_t *store, sched_batch_t *batch,
                            sched_timer_job_t *job, const sched_event_t *ev,
                            sched_timer_effect_t *eff) {
        const sched_status_ev_t *st = &ev->u.status;
        if (st->attempt > 1) {
                if ((job->state != SCHED_TJ_SCHEDULED &&
                     job->state != SCHED_TJ_PAUSED) ||
                    job->chain != SCHED_CHAIN_RETRY ||
                    st->scheduled_ms != job->cur_occ_ms ||
                    st->attempt != job->cur_attempt + 1)
                        return false;
                if (job->state != SCHED_TJ_PAUSED)
                        due_del(store, batch, job, SCHED_DUE_RETRY,
                                job->retry_at_ms, eff);
                job->cur_attempt = st->attempt;
                job->chain = SCHED_CHAIN_FIRED;
                return true;
        }
        if (!is_pending(job, st))
                return false;
        bool folded = take_pending(store, batch, job, st, eff);
        if (job->chain != SCHED_CHAIN_IDLE)
                chain_drop(store, batch, job, eff);
        job->cur_occ_ms = st->scheduled_ms;
        job->cur_attempt = 1;
        job->chain = SCHED_CHAIN_FIRED;
        job->runs++;
        schedule_after(store, batch, job, st->scheduled_ms, ev->ts_ms, folded,
                       eff);
        return true;
}

/* SKIPPED or BUFFERED: the due checker did not run the pending occurrence
 * of a recurring job (misfire or overlap policy). */
static bool not_fired(sched_store_t *store, sched_batch_t *batch,
                      sched_timer_job_t *job, const sched_event_t *ev,
                      sched_timer_effect_t *eff) {
        const sched_status_ev_t *st = &ev->u.status;
        if (!recurring(job) || st->attempt != 1 || !is_pending(job, st))
                return false;
        bool folded = take_pending(store, batch, job, st, eff);
        if (st->status == SCHED_STATUS_BUFFERED) {
                /* Fired when the chain ends — which it may have meanwhile. */
                job->buffered_ms = st->scheduled_ms;
                settle(store, batch, job, ev->ts_ms, eff);
                return true;
        }
        schedule_after(store, batch, job, st->scheduled_ms, ev->ts_ms, folded,
                       eff);
        return true;
}

/* Cancel, pause, resume: job-level commands.  Returns whether the job
 * changed. */
static bool apply_control(sched_store_t *store, sched_batch_t *batch,
                          sched_timer_job_t *job, const sched_event_t *ev,
                          sched_timer_effect_t *eff) {
        bool retry_entry = recurring(job) && job->chain == SCHED_CHAIN_RETRY;
        switch (ev->type) {
        case SCHED_EV_CANCEL_JOB:
                /* Whatever runs now may finish; nothing fires, retries or
                 * times out after a cancel. */
                if (final_state(job->state))
                        return false;
                fire_clear(store, batch, job, eff);
                chain_drop(store, batch, job, eff);
                decide_set(store, batch, job, 0, SCHED_NONE, eff);
                job->buffered_ms = SCHED_NONE;
                job->state = SCHED_TJ_CANCELLED;
                return true;
        case SCHED_EV_PAUSE_JOB:
                if (job->state != SCHED_TJ_SCHEDULED)
                        return false;
                /* next_due_ms and retry_at_ms are kept (without their
                 * entries): resume puts them back.  What runs goes on. */
                due_del(store, batch, job, SCHED_DUE_FIRE, job->next_due_ms,
                        eff);
                if (retry_entry)
                        due_del(store, batch, job, SCHED_DUE_RETRY,
                                job->retry_at_ms, eff);
                job->state = SCHED_TJ_PAUSED;
                return true;
        case SCHED_EV_RESUME_JOB:
                if (job->state != SCHED_TJ_PAUSED)
                        return false;
                job->state = SCHED_TJ_SCHEDULED;
                if (job->next_due_ms != SCHED_NONE) {
                        due_set(store, batch, job, SCHED_DUE_FIRE,
                                job->next_due_ms);
                        eff_due(eff, job->next_due_ms);
                }
                if (retry_entry) {
                        due_set(store, batch, job, SCHED_DUE_RETRY,
                                job->retry_at_ms);
                        eff_due(eff, job->retry_at_ms);
                }
                return true;
        default:
                return false;
        }
}

/* UpdateJob: new parameters, retry policy and timeout apply to the next
 * firings; a new schedule moves the pending firing of a job that has not
 * fired yet (one-shot) or the next occurrence (recurring), computed from
 * the update's time as a new job's would be; a buffered occurrence is
 * dropped, and a job that stops recurring stops tracking its chain.  A
 * schedule the timer cannot run leaves the job as it was (the API
 * validates before it writes). */
static bool apply_update(sched_store_t *store, sched_batch_t *batch,
                         sched_timer_job_t *job, const sched_event_t *ev,
                         sched_timer_effect_t *eff) {
        const sched_job_def_t *upd = &ev->u.def;
        sched_job_def_t *def = &job->def.u.def;
        if (final_state(job->state))
                return false;
        bool changed = false;
        if (upd->has_parameters &&
            sched_event_set_str(&def->parameters, upd->parameters,
                                SCHED_PARAMS_MAX) == SCHED_ERR_OK)
                changed = true;
        if (upd->has_retry) {
                def->retry = upd->retry;
                changed = true;
        }
        if (upd->has_timeout) {
                def->timeout_ms = upd->timeout_ms;
                changed = true;
        }
        if (!upd->has_schedule ||
            (job->state != SCHED_TJ_SCHEDULED && job->state != SCHED_TJ_PAUSED))
                return changed;
        sched_event_t probe = job->def; /* shallow: only read below */
        probe.ts_ms = ev->ts_ms;
        probe.u.def.schedule = upd->schedule;
        char reason[256];
        int64_t first = sched_timer_first_due(&probe, reason, sizeof(reason));
        if (first == SCHED_NONE)
                return changed;
        if (recurring(job) && upd->schedule.kind != SCHED_KIND_CRON &&
            upd->schedule.kind != SCHED_KIND_INTERVAL)
                chain_drop(store, batch, job, eff);
        def->schedule = upd->schedule;
        job->buffered_ms = SCHED_NONE;
        if (job->state == SCHED_TJ_PAUSED) {
                job->fire_occ_ms = job->next_due_ms = first;
                job->fire_attempt = 1;
        } else {
                fire_at(store, batch, job, first, 1, first, eff);
        }
        return true;
}

static int64_t deadline_of(const sched_timer_job_t *job,
                           const sched_event_t *ev) {
        if (ev->u.status.deadline_ms != SCHED_NONE)
                return ev->u.status.deadline_ms;
        return ev->ts_ms + job->def.u.def.timeout_ms +
               SCHED_VISIBILITY_GRACE_MS;
}

/* The current execution failed (FAILED or TIMED_OUT): decide between a
 * retry and the dead-letter queue; a failure that must not be retried, or
 * of a job without a retry policy, is final (a one-shot is done, a
 * recurring job's chain ends). */
static void fail_current(sched_store_t *store, sched_batch_t *batch,
                         sched_timer_job_t *job, const sched_event_t *ev,
                         bool retryable, sched_timer_effect_t *eff) {
        const sched_retry_t *retry = &job->def.u.def.retry;
        const char *msg = ev->u.status.message;
        snprintf(job->last_error, sizeof(job->last_error), "%s",
                 msg ? msg
                     : ev->u.status.status == SCHED_STATUS_TIMED_OUT
                               ? "visibility timeout passed"
                               : "failed");
        deadline_set(store, batch, job, SCHED_NONE, eff);
        if (!retryable || retry->max_attempts <= 1) {
                if (recurring(job))
                        chain_end(store, batch, job, ev->ts_ms, eff);
                else
                        job->state = SCHED_TJ_DONE;
                return;
        }
        stage_set(job, SCHED_CHAIN_DECIDING);
        if (job->cur_attempt < retry->max_attempts) {
                job->retry_at_ms =
                        ev->ts_ms + sched_retry_backoff_ms(
                                            retry, job->cur_attempt + 1);
                decide_set(store, batch, job, SCHED_DECIDE_RETRY, ev->ts_ms,
                           eff);
        } else {
                job->retry_at_ms = SCHED_NONE;
                decide_set(store, batch, job, SCHED_DECIDE_DEAD, ev->ts_ms,
                           eff);
        }
}

/* RETRY_SCHEDULED: the next attempt fires at its time — a one-shot's from
 * its 'F' entry, a recurring job's from an 'A' entry (its 'F' entry is the
 * next occurrence). */
static void retry_scheduled(sched_store_t *store, sched_batch_t *batch,
                            sched_timer_job_t *job, const sched_event_t *ev,
                            sched_timer_effect_t *eff) {
        int64_t at = ev->u.status.next_ms != SCHED_NONE ? ev->u.status.next_ms
                                                        : job->retry_at_ms;
        if (!recurring(job)) {
                job->state = SCHED_TJ_SCHEDULED;
                fire_at(store, batch, job, job->cur_occ_ms,
                        job->cur_attempt + 1, at, eff);
                return;
        }
        job->chain = SCHED_CHAIN_RETRY;
        job->retry_at_ms = at;
        if (job->state == SCHED_TJ_SCHEDULED) {
                due_set(store, batch, job, SCHED_DUE_RETRY, at);
                eff_due(eff, at);
        }
}

/* Returns whether the job changed. */
static bool apply_status(sched_store_t *store, sched_batch_t *batch,
                         sched_timer_job_t *job, const sched_event_t *ev,
                         sched_timer_effect_t *eff) {
        const sched_status_ev_t *st = &ev->u.status;
        switch (st->status) {
        case SCHED_STATUS_FIRED: {
                if (recurring(job))
                        return fired_recurring(store, batch, job, ev, eff);
                /* Only the firing the job waits for; a FIRED for another
                 * occurrence or attempt changes nothing.  A job paused
                 * while its firing was being committed did fire: the fact
                 * is recorded, and resuming it does not fire it again. */
                if (!is_pending(job, st))
                        return false;
                pending_taken(store, batch, job, eff);
                job->cur_occ_ms = st->scheduled_ms;
                job->cur_attempt = st->attempt;
                deadline_set(store, batch, job, SCHED_NONE, eff);
                if (st->attempt == 1)
                        job->runs++;
                job->state = SCHED_TJ_FIRED;
                return true;
        }
        case SCHED_STATUS_SKIPPED:
        case SCHED_STATUS_BUFFERED:
                return not_fired(store, batch, job, ev, eff);
        case SCHED_STATUS_STARTED:
        case SCHED_STATUS_HEARTBEAT:
        case SCHED_STATUS_PROGRESS:
                /* Visibility: the deadline moves with each sign of life. */
                if (!is_current(job, st) || final_state(job->state) ||
                    (stage(job) != SCHED_CHAIN_FIRED &&
                     stage(job) != SCHED_CHAIN_RUNNING))
                        return false;
                stage_set(job, SCHED_CHAIN_RUNNING);
                deadline_set(store, batch, job, deadline_of(job, ev), eff);
                return true;
        case SCHED_STATUS_SUCCEEDED:
                /* Also after a timeout was declared: the work is done, so
                 * a pending retry is dropped. */
                if (!is_current(job, st) || final_state(job->state))
                        return false;
                if (recurring(job)) {
                        if (job->chain == SCHED_CHAIN_IDLE)
                                return false;
                        chain_end(store, batch, job, ev->ts_ms, eff);
                        return true;
                }
                deadline_set(store, batch, job, SCHED_NONE, eff);
                decide_set(store, batch, job, 0, SCHED_NONE, eff);
                if (job->fire_attempt > job->cur_attempt)
                        fire_clear(store, batch, job, eff); /* the retry */
                job->state = SCHED_TJ_DONE;
                return true;
        case SCHED_STATUS_FAILED:
        case SCHED_STATUS_TIMED_OUT:
                if (!is_current(job, st) || final_state(job->state) ||
                    (stage(job) != SCHED_CHAIN_FIRED &&
                     stage(job) != SCHED_CHAIN_RUNNING))
                        return false;
                fail_current(store, batch, job, ev,
                             st->status == SCHED_STATUS_TIMED_OUT ||
                                     st->retryable,
                             eff);
                return true;
        case SCHED_STATUS_COMPLETED:
        case SCHED_STATUS_REJECTED:
                if (job->state != SCHED_TJ_DECIDING ||
                    job->decide != (st->status == SCHED_STATUS_COMPLETED
                                            ? SCHED_DECIDE_COMPLETE
                                            : SCHED_DECIDE_REJECT))
                        return false;
                decide_set(store, batch, job, 0, SCHED_NONE, eff);
                job->state = st->status == SCHED_STATUS_COMPLETED
                                     ? SCHED_TJ_DONE
                                     : SCHED_TJ_REJECTED;
                return true;
        case SCHED_STATUS_RETRY_SCHEDULED:
        case SCHED_STATUS_DEAD_LETTERED:
                if (!is_current(job, st) || final_state(job->state) ||
                    stage(job) != SCHED_CHAIN_DECIDING)
                        return false;
                decide_set(store, batch, job, 0, SCHED_NONE, eff);
                if (st->status == SCHED_STATUS_RETRY_SCHEDULED)
                        retry_scheduled(store, batch, job, ev, eff);
                else if (recurring(job))
                        chain_end(store, batch, job, ev->ts_ms, eff);
                else
                        job->state = SCHED_TJ_DEAD;
                return true;
        default:
                return false;
        }
}

/* --- What a due entry calls for ------------------------------------------- */

/* Misfire and overlap policies of a recurring job's pending occurrence. */
static void occurrence_policy(const sched_timer_job_t *job, int64_t now_ms,
                              sched_timer_action_t *out) {
        const sched_schedule_t *s = &job->def.u.def.schedule;
        int64_t late = now_ms - job->fire_occ_ms;
        char cur[SCHED_EXEC_ID_MAX];
        /* A buffered occurrence waited on purpose: no policy applies. */
        if (job->buffered_ms == job->fire_occ_ms)
                return;
        if (late > misfire_threshold(s) && s->misfire == SCHED_MISFIRE_SKIP) {
                out->act = SCHED_ACT_SKIP;
                snprintf(out->reason, sizeof(out->reason),
                         "missed by %lld ms (misfire policy skip, threshold "
                         "%lld ms)",
                         (long long)late, (long long)misfire_threshold(s));
                return;
        }
        if (late > catch_up_window(s) &&
            s->misfire == SCHED_MISFIRE_FIRE_ALL) {
                out->act = SCHED_ACT_SKIP;
                snprintf(out->reason, sizeof(out->reason),
                         "missed by %lld ms, beyond the catch-up window of "
                         "%lld ms (misfire policy fire_all)",
                         (long long)late, (long long)catch_up_window(s));
                return;
        }
        if (job->chain == SCHED_CHAIN_IDLE ||
            s->overlap == SCHED_OVERLAP_ALLOW)
                return;
        sched_execution_id(cur, job->def.job_id, job->cur_occ_ms,
                           job->cur_attempt);
        if (s->overlap == SCHED_OVERLAP_SKIP) {
                out->act = SCHED_ACT_SKIP;
                snprintf(out->reason, sizeof(out->reason),
                         "execution %s is still under way (overlap policy "
                         "skip)",
                         cur);
        } else {
                out->act = SCHED_ACT_BUFFER;
                snprintf(out->reason, sizeof(out->reason),
                         "waits for execution %s (overlap policy buffer_one)",
                         cur);
        }
}

void sched_timer_due_action(const sched_timer_job_t *job, char kind,
                            int64_t due_ms, int64_t now_ms,
                            sched_timer_action_t *out) {
        memset(out, 0, sizeof(*out));
        out->occ_ms = job->cur_occ_ms;
        out->attempt = job->cur_attempt;
        switch (kind) {
        case SCHED_DUE_FIRE:
                if (job->state != SCHED_TJ_SCHEDULED ||
                    job->next_due_ms != due_ms)
                        return;
                out->occ_ms = job->fire_occ_ms;
                out->attempt = job->fire_attempt;
                out->act = SCHED_ACT_FIRE;
                if (recurring(job) && job->fire_attempt == 1)
                        occurrence_policy(job, now_ms, out);
                break;
        case SCHED_DUE_RETRY:
                if (job->state != SCHED_TJ_SCHEDULED || !recurring(job) ||
                    job->chain != SCHED_CHAIN_RETRY ||
                    job->retry_at_ms != due_ms)
                        return;
                out->attempt = job->cur_attempt + 1;
                out->act = SCHED_ACT_FIRE;
                break;
        case SCHED_DUE_VISIBILITY:
                if (final_state(job->state) ||
                    stage(job) != SCHED_CHAIN_RUNNING ||
                    job->deadline_ms != due_ms)
                        return;
                out->act = SCHED_ACT_TIMEOUT;
                break;
        case SCHED_DUE_DECIDE:
                if (job->decide_ms != due_ms)
                        return;
                if (job->decide == SCHED_DECIDE_COMPLETE ||
                    job->decide == SCHED_DECIDE_REJECT) {
                        if (job->state != SCHED_TJ_DECIDING)
                                return;
                        out->act = SCHED_ACT_DECIDE; /* job-level event */
                        out->occ_ms = SCHED_NONE;
                        out->attempt = 0;
                        return;
                }
                if (final_state(job->state) ||
                    stage(job) != SCHED_CHAIN_DECIDING)
                        return;
                out->act = SCHED_ACT_DECIDE;
                break;
        default:
                return;
        }
        sched_execution_id(out->exec_id, job->def.job_id, out->occ_ms,
                           out->attempt);
}

sched_err_t sched_timer_apply(sched_store_t *store, sched_batch_t *batch,
                              const sched_codec_t *codec,
                              const sched_event_t *ev, int32_t partition,
                              int64_t offset, sched_timer_effect_t *effect,
                              char *errstr, size_t errstr_size) {
        memset(effect, 0, sizeof(*effect));
        if (ev->type == SCHED_EV_CREATE_JOB)
                return apply_create(store, batch, codec, ev, partition, effect,
                                    errstr, errstr_size);
        if (ev->type == SCHED_EV_EXECUTION_DUE) /* not a timer input */
                return SCHED_ERR_OK;

        sched_timer_job_t job;
        if (sched_timer_job_get(store, batch, codec, ev->job_id, &job)) {
                /* Unknown job: a command changes nothing; a status event
                 * is parked for the CreateJob still to come. */
                if (ev->type != SCHED_EV_STATUS) {
                        /* Commands of a job are on one partition in order:
                         * its CreateJob would have come first. */
                        effect->refused = true;
                        snprintf(effect->reason, sizeof(effect->reason),
                                 "%s for unknown job %s",
                                 sched_ev_type2str(ev->type), ev->job_id);
                        return SCHED_ERR_OK;
                }
                return sched_orphan_put(store, batch, codec, 'T', ev, offset);
        }
        bool changed;
        if (ev->type == SCHED_EV_STATUS)
                changed = apply_status(store, batch, &job, ev, effect);
        else if (strcmp(job.def.tenant, ev->tenant)) {
                changed = false; /* another tenant's command: refused */
                effect->refused = true;
                snprintf(effect->reason, sizeof(effect->reason),
                         "%s from tenant %s for a job of another tenant",
                         sched_ev_type2str(ev->type), ev->tenant);
        }
        else if (ev->type == SCHED_EV_UPDATE_JOB)
                changed = apply_update(store, batch, &job, ev, effect);
        else
                changed = apply_control(store, batch, &job, ev, effect);
        sched_err_t err = changed ? job_put(store, batch, codec, &job, errstr,
                                            errstr_size)
                                  : SCHED_ERR_OK;
        sched_timer_job_clear(&job);
        return err;
}

/* --- Digest ----------------------------------------------------------------- */

/* JOBS: rows whose partition field (value bytes 2..5) is the partition. */
static bool digest_job_row(const sched_digest_set_t *set, const char *k,
                           size_t klen, const char *v, size_t vlen,
                           const char **idp, size_t *idlenp) {
        if (vlen < 6 || (int32_t)sched_be32_get((const unsigned char *)v + 2) !=
                                set->partition)
                return false;
        *idp = k;
        *idlenp = klen;
        return true;
}

/* DUE: bounded to the partition's prefix; the job id ends the key. */
static bool digest_due_row(const sched_digest_set_t *set, const char *k,
                           size_t klen, const char *v, size_t vlen,
                           const char **idp, size_t *idlenp) {
        (void)set, (void)v, (void)vlen;
        *idp = k + (klen > 13 ? 13 : klen);
        *idlenp = klen > 13 ? klen - 13 : 0;
        return true;
}

/* ORPHANS 'T' | job_id | 0 | offset (and the job's marker 'T' | job_id |
 * 0): the rows of jobs hashing to the partition. */
static bool digest_orphan_row(const sched_digest_set_t *set, const char *k,
                              size_t klen, const char *v, size_t vlen,
                              const char **idp, size_t *idlenp) {
        (void)v, (void)vlen;
        size_t idlen = klen > 1 ? strnlen(k + 1, klen - 1) : 0;
        if (!idlen || sched_partition_of(k + 1, idlen, set->partition_cnt) !=
                              set->partition)
                return false;
        *idp = k + 1;
        *idlenp = idlen;
        return true;
}

void sched_timer_digest_set(sched_digest_set_t *set, int32_t partition,
                            int32_t partition_cnt) {
        memset(set, 0, sizeof(*set));
        set->partition = partition;
        set->partition_cnt = partition_cnt;
        unsigned char lo[4], hi[4];
        sched_be32_put(lo, (uint32_t)partition);
        sched_be32_put(hi, (uint32_t)partition + 1);
        sched_digest_section_add(set, "jobs", SCHED_CF_JOBS, NULL, 0, NULL, 0,
                                 digest_job_row);
        sched_digest_section_add(set, "due", SCHED_CF_DUE, lo, 4, hi, 4,
                                 digest_due_row);
        sched_digest_section_add(set, "orphans", SCHED_CF_ORPHANS, "T", 1, "U",
                                 1, digest_orphan_row);
}

sched_err_t sched_timer_digest(sched_store_t *store, int32_t partition,
                               int32_t partition_cnt,
                               const char *commands_topic,
                               const char *status_topic, sched_digest_t *out) {
        sched_digest_set_t set;
        sched_timer_digest_set(&set, partition, partition_cnt);
        return sched_digest_compute(store, &set, commands_topic, status_topic,
                                    out);
}
