/*
 * sched/timer_state.h — the timer service's state and its appliers.
 *
 * State lives in the store (sched/store.h):
 *   JOBS  job_id                          -> sched_timer_job_t record
 *   DUE   be32(partition) be64(due) job_id -> ""   (byte order = time order)
 *
 * State changes only here, in sched_timer_apply(): the live service and any
 * replay (klokctl rebuild) call the same function with the same events and
 * get the same bytes.  Appliers read no clock: every time comes from the
 * event.  The due checker never edits state; it appends FIRED events, and
 * the due entry leaves the index when that FIRED is applied back.
 */
#ifndef SCHED_TIMER_STATE_H
#define SCHED_TIMER_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sched/codec.h"
#include "sched/event.h"
#include "sched/store.h"

/** Job lifecycle as the timer sees it.  Values are stored: append only. */
typedef enum sched_timer_jstate_e {
        SCHED_TJ_SCHEDULED = 1, /* waiting in the due index */
        SCHED_TJ_PAUSED = 2,
        SCHED_TJ_CANCELLED = 3,
        SCHED_TJ_FIRED = 4,     /* one-shot fired; outcome pending */
        SCHED_TJ_DONE = 5,      /* final outcome seen */
        SCHED_TJ_REJECTED = 6,  /* definition the timer cannot run */
} sched_timer_jstate_t;

/** Decoded JOBS row. */
typedef struct sched_timer_job_s {
        sched_timer_jstate_t state;
        int32_t partition;   /* commands/status partition of the job */
        int64_t next_due_ms; /* SCHED_NONE when not in the due index */
        int32_t attempt;     /* attempt of the next firing (1-based) */
        int32_t runs;        /* occurrences fired so far */
        sched_event_t def;   /* the CreateJob (with updates applied) */
} sched_timer_job_t;

/** What an applied event did, for the service's in-memory bookkeeping. */
typedef struct sched_timer_effect_s {
        bool due_added;      /* a due entry was added at due_ms */
        int64_t due_ms;
        bool rejected;       /* the command was rejected: see reason */
        char reason[256];
} sched_timer_effect_t;

/** DUE key: 4 + 8 + job id bytes. */
#define SCHED_DUE_KEY_MAX (12 + SCHED_ID_MAX)
size_t sched_due_key(unsigned char *buf, int32_t partition, int64_t due_ms,
                     const char *job_id);
/** Parse a DUE key; returns false when malformed. */
bool sched_due_key_parse(const void *key, size_t klen, int32_t *partitionp,
                         int64_t *due_msp, char job_id[SCHED_ID_MAX]);

/**
 * Apply one event read from partition `partition` of commands or status.
 * Writes into batch (which is read back by later calls before it is
 * written).  Events about unknown jobs and events that do not apply in the
 * job's state change nothing (they are still consumed).
 */
sched_err_t sched_timer_apply(sched_store_t *store, sched_batch_t *batch,
                              const sched_codec_t *codec,
                              const sched_event_t *ev, int32_t partition,
                              sched_timer_effect_t *effect, char *errstr,
                              size_t errstr_size);

/** Load a job (from batch then store).  On success clear it with
 *  sched_timer_job_clear(). */
sched_err_t sched_timer_job_get(sched_store_t *store, sched_batch_t *batch,
                                const sched_codec_t *codec,
                                const char *job_id, sched_timer_job_t *job);
void sched_timer_job_clear(sched_timer_job_t *job);

/** First due time of a new job definition, or SCHED_NONE with a reason if
 *  the timer cannot schedule it. */
int64_t sched_timer_first_due(const sched_event_t *create, char *reason,
                              size_t reason_size);

const char *sched_timer_jstate2str(sched_timer_jstate_t st);

#endif /* SCHED_TIMER_STATE_H */
