/*
 * timer_state.c — the timer service's appliers (see sched/timer_state.h).
 *
 * JOBS row layout, version 1 (all integers big-endian):
 *   u8 version | u8 state | i32 partition | i64 next_due_ms | i32 attempt |
 *   i32 runs | codec-encoded CreateJob (the definition)
 * The definition is kept in its wire form so that the row is as
 * deterministic as the log it came from.
 */
#include "sched/timer_state.h"

#include <stdlib.h>
#include <string.h>

#define ROW_VERSION 1
#define ROW_HDR 22

static void be32_put(unsigned char *p, uint32_t v) {
        p[0] = (unsigned char)(v >> 24);
        p[1] = (unsigned char)(v >> 16);
        p[2] = (unsigned char)(v >> 8);
        p[3] = (unsigned char)v;
}

static uint32_t be32_get(const unsigned char *p) {
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
               (uint32_t)p[2] << 8 | p[3];
}

size_t sched_due_key(unsigned char *buf, int32_t partition, int64_t due_ms,
                     const char *job_id) {
        size_t idlen = strnlen(job_id, SCHED_ID_MAX - 1);
        be32_put(buf, (uint32_t)partition);
        sched_be64_put(buf + 4, sched_ms_key(due_ms));
        memcpy(buf + 12, job_id, idlen);
        return 12 + idlen;
}

bool sched_due_key_parse(const void *key, size_t klen, int32_t *partitionp,
                         int64_t *due_msp, char job_id[SCHED_ID_MAX]) {
        const unsigned char *k = key;
        if (klen <= 12 || klen - 12 >= SCHED_ID_MAX)
                return false;
        *partitionp = (int32_t)be32_get(k);
        *due_msp = (int64_t)(sched_be64_get(k + 4) ^ 0x8000000000000000ULL);
        memcpy(job_id, k + 12, klen - 12);
        job_id[klen - 12] = '\0';
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
        }
        return "UNKNOWN";
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
        const unsigned char *v = (const unsigned char *)val;
        if (vlen < ROW_HDR || v[0] != ROW_VERSION) {
                free(val);
                return SCHED_ERR_STORE;
        }
        job->state = (sched_timer_jstate_t)v[1];
        job->partition = (int32_t)be32_get(v + 2);
        job->next_due_ms = (int64_t)sched_be64_get(v + 6);
        job->attempt = (int32_t)be32_get(v + 14);
        job->runs = (int32_t)be32_get(v + 18);
        err = sched_codec_decode(codec, v + ROW_HDR, vlen - ROW_HDR, &job->def,
                                 NULL, 0);
        free(val);
        return err ? SCHED_ERR_STORE : SCHED_ERR_OK;
}

static sched_err_t job_put(sched_store_t *store, sched_batch_t *batch,
                           const sched_codec_t *codec,
                           const sched_timer_job_t *job, char *errstr,
                           size_t errstr_size) {
        void *def;
        size_t def_len;
        sched_err_t err = sched_codec_encode(codec, &job->def, &def, &def_len,
                                             errstr, errstr_size);
        if (err)
                return err;
        unsigned char *row = malloc(ROW_HDR + def_len);
        if (!row) {
                free(def);
                return SCHED_ERR_NOMEM;
        }
        row[0] = ROW_VERSION;
        row[1] = (unsigned char)job->state;
        be32_put(row + 2, (uint32_t)job->partition);
        sched_be64_put(row + 6, (uint64_t)job->next_due_ms);
        be32_put(row + 14, (uint32_t)job->attempt);
        be32_put(row + 18, (uint32_t)job->runs);
        memcpy(row + ROW_HDR, def, def_len);
        sched_batch_put(store, batch, SCHED_CF_JOBS, job->def.job_id,
                        strlen(job->def.job_id), row, ROW_HDR + def_len);
        free(row);
        free(def);
        return SCHED_ERR_OK;
}

static void due_put(sched_store_t *store, sched_batch_t *batch,
                    const sched_timer_job_t *job) {
        unsigned char key[SCHED_DUE_KEY_MAX];
        size_t klen = sched_due_key(key, job->partition, job->next_due_ms,
                                    job->def.job_id);
        sched_batch_put(store, batch, SCHED_CF_DUE, key, klen, "", 0);
}

static void due_del(sched_store_t *store, sched_batch_t *batch,
                    const sched_timer_job_t *job) {
        unsigned char key[SCHED_DUE_KEY_MAX];
        if (job->next_due_ms == SCHED_NONE)
                return;
        size_t klen = sched_due_key(key, job->partition, job->next_due_ms,
                                    job->def.job_id);
        sched_batch_del(store, batch, SCHED_CF_DUE, key, klen);
}

int64_t sched_timer_first_due(const sched_event_t *create, char *reason,
                              size_t reason_size) {
        const sched_schedule_t *s = &create->u.def.schedule;
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
        case SCHED_KIND_CRON:
        case SCHED_KIND_INTERVAL:
                sched_seterr(reason, reason_size, SCHED_ERR_INVALID,
                             "schedule kind %s is not supported yet",
                             sched_kind2str(s->kind));
                return SCHED_NONE;
        }
        sched_seterr(reason, reason_size, SCHED_ERR_INVALID,
                     "schedule %s lacks its time", sched_kind2str(s->kind));
        return SCHED_NONE;
}

/* --- Appliers, one per event ---------------------------------------------- */

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
        job.attempt = 1;
        job.next_due_ms =
                sched_timer_first_due(ev, eff->reason, sizeof(eff->reason));
        if (job.next_due_ms == SCHED_NONE) {
                job.state = SCHED_TJ_REJECTED;
                eff->rejected = true;
        } else {
                job.state = SCHED_TJ_SCHEDULED;
                due_put(store, batch, &job);
                eff->due_added = true;
                eff->due_ms = job.next_due_ms;
        }
        err = job_put(store, batch, codec, &job, errstr, errstr_size);
        sched_timer_job_clear(&job);
        return err;
}

/* Cancel, pause, resume: job-level commands. */
static sched_err_t apply_control(sched_store_t *store, sched_batch_t *batch,
                                 const sched_codec_t *codec,
                                 const sched_event_t *ev,
                                 sched_timer_effect_t *eff, char *errstr,
                                 size_t errstr_size) {
        sched_timer_job_t job;
        if (sched_timer_job_get(store, batch, codec, ev->job_id, &job))
                return SCHED_ERR_OK; /* unknown job: nothing to change */
        if (strcmp(job.def.tenant, ev->tenant)) {
                sched_timer_job_clear(&job); /* not this tenant's job */
                return SCHED_ERR_OK;
        }
        bool changed = false;
        switch (ev->type) {
        case SCHED_EV_CANCEL_JOB:
                if (job.state == SCHED_TJ_SCHEDULED ||
                    job.state == SCHED_TJ_PAUSED) {
                        due_del(store, batch, &job);
                        job.state = SCHED_TJ_CANCELLED;
                        job.next_due_ms = SCHED_NONE;
                        changed = true;
                }
                break;
        case SCHED_EV_PAUSE_JOB:
                if (job.state == SCHED_TJ_SCHEDULED) {
                        /* next_due_ms is kept: resume puts it back. */
                        due_del(store, batch, &job);
                        job.state = SCHED_TJ_PAUSED;
                        changed = true;
                }
                break;
        case SCHED_EV_RESUME_JOB:
                if (job.state == SCHED_TJ_PAUSED) {
                        job.state = SCHED_TJ_SCHEDULED;
                        due_put(store, batch, &job);
                        eff->due_added = true;
                        eff->due_ms = job.next_due_ms;
                        changed = true;
                }
                break;
        default:
                break;
        }
        sched_err_t err = changed ? job_put(store, batch, codec, &job, errstr,
                                            errstr_size)
                                  : SCHED_ERR_OK;
        sched_timer_job_clear(&job);
        return err;
}

static sched_err_t apply_status(sched_store_t *store, sched_batch_t *batch,
                                const sched_codec_t *codec,
                                const sched_event_t *ev, char *errstr,
                                size_t errstr_size) {
        const sched_status_ev_t *st = &ev->u.status;
        sched_timer_job_t job;
        if (sched_timer_job_get(store, batch, codec, ev->job_id, &job))
                return SCHED_ERR_OK;
        bool changed = false;
        switch (st->status) {
        case SCHED_STATUS_FIRED:
                /* The occurrence the index holds has fired: it leaves the
                 * index.  A FIRED for another occurrence changes nothing. */
                if (job.state == SCHED_TJ_SCHEDULED &&
                    job.next_due_ms == st->scheduled_ms &&
                    job.attempt == st->attempt) {
                        due_del(store, batch, &job);
                        job.state = SCHED_TJ_FIRED;
                        job.next_due_ms = SCHED_NONE;
                        job.runs++;
                        changed = true;
                }
                break;
        case SCHED_STATUS_SUCCEEDED:
        case SCHED_STATUS_FAILED:
        case SCHED_STATUS_DEAD_LETTERED:
                if (job.state == SCHED_TJ_FIRED) {
                        job.state = SCHED_TJ_DONE;
                        changed = true;
                }
                break;
        default:
                break;
        }
        sched_err_t err = changed ? job_put(store, batch, codec, &job, errstr,
                                            errstr_size)
                                  : SCHED_ERR_OK;
        sched_timer_job_clear(&job);
        return err;
}

sched_err_t sched_timer_apply(sched_store_t *store, sched_batch_t *batch,
                              const sched_codec_t *codec,
                              const sched_event_t *ev, int32_t partition,
                              sched_timer_effect_t *effect, char *errstr,
                              size_t errstr_size) {
        memset(effect, 0, sizeof(*effect));
        switch (ev->type) {
        case SCHED_EV_CREATE_JOB:
                return apply_create(store, batch, codec, ev, partition, effect,
                                    errstr, errstr_size);
        case SCHED_EV_CANCEL_JOB:
        case SCHED_EV_PAUSE_JOB:
        case SCHED_EV_RESUME_JOB:
                return apply_control(store, batch, codec, ev, effect, errstr,
                                     errstr_size);
        case SCHED_EV_STATUS:
                return apply_status(store, batch, codec, ev, errstr,
                                    errstr_size);
        case SCHED_EV_UPDATE_JOB:     /* schedule updates: timer issue */
        case SCHED_EV_EXECUTION_DUE: /* not on the timer's input topics */
                return SCHED_ERR_OK;
        }
        return SCHED_ERR_OK;
}
