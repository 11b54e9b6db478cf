/*
 * sched/timer_state.h — the timer service's state and its appliers.
 *
 * State lives in the store (sched/store.h):
 *   JOBS  job_id                                 -> sched_timer_job_t record
 *   DUE   be32(partition) be64(due) kind job_id  -> ""  (byte order = time)
 * A job has at most one due entry of each kind:
 *   'F' fire its next execution (ExecutionDue + FIRED) — for a recurring
 *       job, its next occurrence, which misfire and overlap policies may
 *       turn into SKIPPED or BUFFERED instead,
 *   'A' fire the next attempt of a recurring job's failed execution,
 *   'V' the visibility deadline of its running execution (TIMED_OUT),
 *   'D' a decision to announce: RETRY_SCHEDULED or DEAD_LETTERED after a
 *       failure, COMPLETED when a schedule runs out, REJECTED for a
 *       definition the timer cannot run.
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
#include "sched/digest.h"
#include "sched/event.h"
#include "sched/store.h"

/** Job lifecycle as the timer sees it.  Values are stored: append only. */
typedef enum sched_timer_jstate_e {
        SCHED_TJ_SCHEDULED = 1, /* an 'F' entry waits for the next firing */
        SCHED_TJ_PAUSED = 2,
        SCHED_TJ_CANCELLED = 3, /* final */
        SCHED_TJ_FIRED = 4,     /* one-shot fired; not started yet */
        SCHED_TJ_DONE = 5,      /* final: succeeded, or failed for good */
        SCHED_TJ_REJECTED = 6,  /* final: definition the timer cannot run */
        SCHED_TJ_RUNNING = 7,   /* one-shot started; 'V' entry */
        SCHED_TJ_DECIDING = 8,  /* one-shot failed; 'D' entry */
        SCHED_TJ_DEAD = 9,      /* final: dead-lettered */
} sched_timer_jstate_t;

/** Due entry kinds (stored in keys: append only). */
#define SCHED_DUE_FIRE 'F'
#define SCHED_DUE_VISIBILITY 'V'
#define SCHED_DUE_DECIDE 'D'
#define SCHED_DUE_RETRY 'A'

/** Stage of a recurring job's execution under way (its "chain": one
 *  occurrence and its retries).  One-shot jobs keep theirs in the state.
 *  Stored: append only. */
#define SCHED_CHAIN_IDLE 0
#define SCHED_CHAIN_FIRED 'F'    /* fired, not started */
#define SCHED_CHAIN_RUNNING 'R'  /* started; 'V' entry */
#define SCHED_CHAIN_DECIDING 'D' /* failed; 'D' entry (retry or dead) */
#define SCHED_CHAIN_RETRY 'W'    /* waits for its next attempt; 'A' entry */

/** What the 'D' entry will emit. */
#define SCHED_DECIDE_RETRY 'R'    /* RETRY_SCHEDULED */
#define SCHED_DECIDE_DEAD 'X'     /* DEAD_LETTERED + a dead-letter record */
#define SCHED_DECIDE_COMPLETE 'C' /* COMPLETED: a schedule ran out */
#define SCHED_DECIDE_REJECT 'J'   /* REJECTED: a definition it cannot run */

/** Visibility deadline when a STARTED or HEARTBEAT event carries none:
 *  the event time + the job's timeout + this grace. */
#define SCHED_VISIBILITY_GRACE_MS 10000

/** Decoded JOBS row. */
typedef struct sched_timer_job_s {
        sched_timer_jstate_t state;
        int32_t partition;    /* commands/status partition of the job */
        /* The next firing: occurrence, attempt, and when ('F' entry). */
        int64_t fire_occ_ms;
        int32_t fire_attempt;
        int64_t next_due_ms;  /* SCHED_NONE when no 'F' entry */
        /* The execution fired last (one-shots: the one being tracked). */
        int64_t cur_occ_ms;   /* SCHED_NONE when none */
        int32_t cur_attempt;
        int64_t deadline_ms;  /* 'V' entry, SCHED_NONE when none */
        int64_t decide_ms;    /* 'D' entry, SCHED_NONE when none */
        char decide;          /* SCHED_DECIDE_*, 0 when none */
        int64_t retry_at_ms;  /* RETRY: when the next attempt fires */
        int32_t runs;         /* occurrences fired (first attempts) */
        char chain;           /* recurring: SCHED_CHAIN_* of cur_* */
        int64_t buffered_ms;  /* recurring: occurrence BUFFERED behind the
                               * chain, fired when it ends; SCHED_NONE */
        char last_error[256]; /* message of the last failure */
        sched_event_t def;    /* the CreateJob */
} sched_timer_job_t;

/** Most due entries one event deletes (cancel: fire, visibility, decide,
 *  retry). */
#define SCHED_TIMER_DELETED_MAX 4
#define SCHED_DUE_KEY_STR_MAX (48 + SCHED_ID_MAX)

/** What an applied event did, for the service's in-memory bookkeeping. */
typedef struct sched_timer_effect_s {
        bool due_added;      /* a due entry was added at due_ms */
        int64_t due_ms;
        bool rejected;       /* the command was rejected: see reason */
        bool refused;        /* a command that cannot apply to any job the
                              * timer knows (unknown job, another tenant's):
                              * see reason; the service dead-letters it */
        char reason[256];
        /* Due entries this event deleted, as sched_due_key_str() keys: the
         * service forgets them as in flight.  Entries of a job created by
         * this event are not listed (none can be in flight). */
        int ndeleted;
        char deleted[SCHED_TIMER_DELETED_MAX][SCHED_DUE_KEY_STR_MAX];
} sched_timer_effect_t;

/** Text form of a due entry ("<partition>:<due>:<kind>:<job id>"), the
 *  timer's in-flight key for an entry whose event is being committed. */
void sched_due_key_str(char out[SCHED_DUE_KEY_STR_MAX], int32_t partition,
                       int64_t due_ms, char kind, const char *job_id);

/** DUE key: 4 + 8 + 1 + job id bytes. */
#define SCHED_DUE_KEY_MAX (13 + SCHED_ID_MAX)
size_t sched_due_key(unsigned char *buf, int32_t partition, int64_t due_ms,
                     char kind, const char *job_id);
/** Parse a DUE key; returns false when malformed. */
bool sched_due_key_parse(const void *key, size_t klen, int32_t *partitionp,
                         int64_t *due_msp, char *kindp,
                         char job_id[SCHED_ID_MAX]);

/** Backoff before attempt `next_attempt` (2, 3, ...) under a policy:
 *  initial * multiplier^(next_attempt-2), capped. */
int64_t sched_retry_backoff_ms(const sched_retry_t *retry,
                               int32_t next_attempt);

/**
 * Apply one event read at `offset` of partition `partition` of commands or
 * status.  Writes into batch (which is read back by later calls before it
 * is written).  A status event of a job not created yet is parked
 * (sched/orphans.h) and applied right after the job's CreateJob; commands
 * for unknown jobs and events that do not apply in the job's state change
 * nothing (they are still consumed).
 */
sched_err_t sched_timer_apply(sched_store_t *store, sched_batch_t *batch,
                              const sched_codec_t *codec,
                              const sched_event_t *ev, int32_t partition,
                              int64_t offset, sched_timer_effect_t *effect,
                              char *errstr, size_t errstr_size);

/** What became of one record (sched_timer_apply_record). */
typedef enum sched_rec_result_e {
        SCHED_REC_APPLIED = 0,  /* applied (perhaps changing nothing) */
        SCHED_REC_DEAD_LETTER,  /* never applicable: dead-letter it */
        SCHED_REC_NOT_APPLIED,  /* the applier refused it: log, go on */
        SCHED_REC_FATAL,        /* the store cannot take it: stop */
} sched_rec_result_t;

/**
 * One record of the commands (`commands`) or the status topic, read at
 * partition:offset, as the timer takes it: decoded, checked (the event
 * type belongs on that topic; the job id hashes to that partition), then
 * sched_timer_apply().  The reason of anything but APPLIED is in errstr.
 * *ev holds what was decoded (clear it with sched_event_clear()).  The
 * live intake and `klokctl rebuild` both go through here.
 */
sched_rec_result_t sched_timer_apply_record(
        sched_store_t *store, sched_batch_t *batch, const sched_codec_t *codec,
        bool commands, const void *payload, size_t len, int32_t partition,
        int32_t partition_cnt, int64_t offset, sched_event_t *ev,
        sched_timer_effect_t *eff, char *errstr, size_t errstr_size);

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

/**
 * The occurrence of a cron or interval schedule strictly after after_ms,
 * within its start and end, as the timer computes it; SCHED_NONE when there
 * is none (or the schedule is invalid: reason, which may be NULL).  For an
 * interval the occurrences are anchored at `anchor_ms` (a past occurrence
 * or the first one).  Used by the API to show upcoming fire times.
 */
int64_t sched_schedule_next(const sched_schedule_t *s, int64_t anchor_ms,
                            int64_t after_ms, char *reason,
                            size_t reason_size);

/** What the due checker emits for a due entry. */
typedef enum sched_timer_act_e {
        SCHED_ACT_NONE = 0, /* stale entry: nothing */
        SCHED_ACT_FIRE,     /* ExecutionDue + FIRED for occ_ms/attempt */
        SCHED_ACT_SKIP,     /* SKIPPED for occ_ms: reason */
        SCHED_ACT_BUFFER,   /* BUFFERED for occ_ms: reason */
        SCHED_ACT_TIMEOUT,  /* TIMED_OUT of the current execution */
        SCHED_ACT_DECIDE,   /* the 'D' decision (job->decide) */
} sched_timer_act_t;

typedef struct sched_timer_action_s {
        sched_timer_act_t act;
        int64_t occ_ms;  /* the occurrence concerned (SCHED_NONE: job) */
        int32_t attempt;
        char exec_id[SCHED_EXEC_ID_MAX]; /* "" for job-level events */
        char reason[256];                /* SKIP, BUFFER */
} sched_timer_action_t;

/**
 * What a due entry (kind, due_ms) of `job` calls for at now_ms: nothing
 * when the job no longer waits for it; else the event to emit, with the
 * misfire policy (an occurrence reached more than misfire_threshold_ms
 * late) and the overlap policy (an occurrence due while the previous
 * execution is under way) applied to a recurring job's occurrences.
 * Reads no clock (now_ms is the caller's), changes nothing.
 */
void sched_timer_due_action(const sched_timer_job_t *job, char kind,
                            int64_t due_ms, int64_t now_ms,
                            sched_timer_action_t *out);

/**
 * The digest sections (sched/digest.h) of everything the timer holds for
 * `partition`, in this order:
 *   jobs     JOBS rows whose partition field is the partition
 *   due      DUE rows under the partition's prefix
 *   orphans  ORPHANS 'T' job_id 0x00 [offset] rows (parked status events
 *            and their job's marker) of jobs hashing to the partition
 * A row's job id is its key (jobs), the key's tail (due), or the id in
 * the key (orphans).
 */
void sched_timer_digest_set(sched_digest_set_t *set, int32_t partition,
                            int32_t partition_cnt);

/**
 * sched_digest_compute() of sched_timer_digest_set(): replaying the same
 * log prefixes into an empty store gives the same digest, whatever the
 * batch boundaries or the interleaving of the two topics.  Any thread (it
 * reads a snapshot).  SCHED_ERR_INVALID for a partition out of range.
 */
sched_err_t sched_timer_digest(sched_store_t *store, int32_t partition,
                               int32_t partition_cnt,
                               const char *commands_topic,
                               const char *status_topic, sched_digest_t *out);

const char *sched_timer_jstate2str(sched_timer_jstate_t st);

#endif /* SCHED_TIMER_STATE_H */
