/*
 * sched/event.h — the in-memory form of every record klok puts on Kafka.
 *
 * One tagged struct for all record types: commands (CreateJob, CancelJob,
 * PauseJob, ResumeJob, UpdateJob), status events and ExecutionDue.  The Avro
 * schemas in schemas/ are the wire form (see sched/codec.h); this is what
 * appliers, services and tests work with.
 *
 * Short strings are fixed-size arrays, NUL-terminated, with their limits
 * below: the codec rejects longer input, so no input-driven allocation
 * happens for them.  The three long texts (parameters, message, output) are
 * heap strings owned by the event, freed by sched_event_clear().
 */
#ifndef SCHED_EVENT_H
#define SCHED_EVENT_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#include "sched/err.h"

/* Size limits (bytes, including the terminating NUL for the arrays). */
#define SCHED_ID_MAX 65          /* event_id, job_id, idempotency key */
#define SCHED_EXEC_ID_MAX 97     /* job_id ":" scheduled_ms ":" attempt */
#define SCHED_TENANT_MAX 65
#define SCHED_NAME_MAX 257
#define SCHED_TASK_MAX 129
#define SCHED_QUEUE_MAX 65
#define SCHED_CRON_MAX 257
#define SCHED_TZ_MAX 65
#define SCHED_PARAMS_MAX (64 * 1024) /* parameters JSON text */
#define SCHED_MESSAGE_MAX 4096       /* error / progress message */
#define SCHED_OUTPUT_MAX 8192        /* stdout/stderr excerpt */

/** Record types.  Values are stable: they are stored in RocksDB. */
typedef enum sched_ev_type_e {
        SCHED_EV_CREATE_JOB = 1,
        SCHED_EV_CANCEL_JOB = 2,
        SCHED_EV_PAUSE_JOB = 3,
        SCHED_EV_RESUME_JOB = 4,
        SCHED_EV_UPDATE_JOB = 5,
        SCHED_EV_STATUS = 6,
        SCHED_EV_EXECUTION_DUE = 7,
} sched_ev_type_t;

/** Schedule kinds; names match the Avro enum symbols lower-cased. */
typedef enum sched_sched_kind_e {
        SCHED_KIND_IMMEDIATE = 0,
        SCHED_KIND_AT = 1,
        SCHED_KIND_DELAY = 2,
        SCHED_KIND_CRON = 3,
        SCHED_KIND_INTERVAL = 4,
} sched_sched_kind_t;

typedef enum sched_priority_e {
        SCHED_PRIO_NORMAL = 0,
        SCHED_PRIO_HIGH = 1,
} sched_priority_t;

/** Status event kinds (Avro enum StatusType, same order). */
#define SCHED_STATUS_MAP(X)                                                   \
        X(FIRED)                                                              \
        X(STARTED)                                                            \
        X(PROGRESS)                                                           \
        X(HEARTBEAT)                                                          \
        X(SUCCEEDED)                                                          \
        X(FAILED)                                                             \
        X(RETRY_SCHEDULED)                                                    \
        X(TIMED_OUT)                                                          \
        X(DEAD_LETTERED)                                                      \
        X(COMPLETED)                                                          \
        X(REJECTED)                                                           \
        X(SKIPPED)                                                            \
        X(BUFFERED)

typedef enum sched_status_e {
#define SCHED_STATUS_ENUM(name) SCHED_STATUS_##name,
        SCHED_STATUS_MAP(SCHED_STATUS_ENUM)
#undef SCHED_STATUS_ENUM
        SCHED_STATUS__CNT
} sched_status_t;

/** Absent optional long. */
#define SCHED_NONE INT64_MIN

/** What a recurring job does with occurrences reached too late (misfire)
 *  and with occurrences due while its last execution is still under way
 *  (overlap).  Values match the Avro enum symbols' order. */
typedef enum sched_misfire_e {
        SCHED_MISFIRE_FIRE_ONCE = 0,
        SCHED_MISFIRE_FIRE_ALL = 1,
        SCHED_MISFIRE_SKIP = 2,
} sched_misfire_t;

typedef enum sched_overlap_e {
        SCHED_OVERLAP_ALLOW = 0,
        SCHED_OVERLAP_SKIP = 1,
        SCHED_OVERLAP_BUFFER_ONE = 2,
} sched_overlap_t;

#define SCHED_MISFIRE_THRESHOLD_DEFAULT_MS 60000
#define SCHED_CATCH_UP_DEFAULT_MS 3600000

typedef struct sched_schedule_s {
        sched_sched_kind_t kind;
        int64_t at_ms;       /* AT: epoch ms; else SCHED_NONE */
        int64_t delay_ms;    /* DELAY: ms after the event timestamp */
        char cron[SCHED_CRON_MAX];
        char tz[SCHED_TZ_MAX]; /* IANA zone, "" means UTC */
        int64_t interval_ms; /* INTERVAL */
        int64_t start_ms;    /* CRON/INTERVAL: optional, SCHED_NONE */
        int64_t end_ms;      /* CRON/INTERVAL: optional, SCHED_NONE */
        int32_t max_runs;    /* INTERVAL: 0 = unbounded */
        sched_misfire_t misfire;      /* CRON/INTERVAL */
        int64_t misfire_threshold_ms; /* later than this = missed */
        int64_t catch_up_ms;          /* FIRE_ALL: how far back */
        sched_overlap_t overlap;      /* CRON/INTERVAL */
} sched_schedule_t;

typedef struct sched_retry_s {
        int32_t max_attempts;       /* >= 1; 1 = no retry */
        int64_t initial_backoff_ms;
        double multiplier;
        int64_t max_backoff_ms;
} sched_retry_t;

/** CreateJob, and UpdateJob when the has_* flags say which parts apply. */
typedef struct sched_job_def_s {
        char name[SCHED_NAME_MAX];
        sched_schedule_t schedule;
        char task[SCHED_TASK_MAX];
        char *parameters; /* JSON text, heap, may be NULL (= "{}") */
        char queue[SCHED_QUEUE_MAX];
        sched_priority_t priority;
        sched_retry_t retry;
        int64_t timeout_ms;
        char idempotency_key[SCHED_ID_MAX]; /* "" if none */
        /* UpdateJob only: which of the above it changes. */
        bool has_schedule, has_parameters, has_retry, has_timeout;
} sched_job_def_t;

typedef struct sched_status_ev_s {
        sched_status_t status;
        char execution_id[SCHED_EXEC_ID_MAX]; /* "" for job-level events */
        int32_t attempt;                      /* 1-based; 0 if none */
        int64_t scheduled_ms; /* occurrence due time; SCHED_NONE if none */
        int64_t next_ms;      /* RETRY_SCHEDULED: when; SCHED_NONE */
        int64_t deadline_ms;  /* STARTED/HEARTBEAT: visibility deadline */
        int32_t progress;     /* PROGRESS: 0..100, -1 if none */
        int32_t exit_code;    /* SUCCEEDED/FAILED of exec tasks, -1 */
        bool retryable;       /* FAILED: may be retried */
        char *message;        /* heap, may be NULL */
        char *output;         /* heap, may be NULL */
} sched_status_ev_t;

typedef struct sched_exec_due_s {
        char execution_id[SCHED_EXEC_ID_MAX];
        int32_t attempt;
        int64_t scheduled_ms;
        char task[SCHED_TASK_MAX];
        char *parameters; /* heap, may be NULL */
        char queue[SCHED_QUEUE_MAX];
        sched_priority_t priority;
        int64_t timeout_ms;
} sched_exec_due_t;

/**
 * One record.  Common header, then the part selected by `type`:
 *   CREATE_JOB, UPDATE_JOB -> def
 *   CANCEL/PAUSE/RESUME    -> reason (in status.message is NOT used; see reason)
 *   STATUS                 -> status
 *   EXECUTION_DUE          -> due
 */
typedef struct sched_event_s {
        sched_ev_type_t type;
        char event_id[SCHED_ID_MAX];
        char job_id[SCHED_ID_MAX];
        char tenant[SCHED_TENANT_MAX];
        int64_t ts_ms; /* when the event was created, epoch ms */
        union {
                sched_job_def_t def;
                sched_status_ev_t status;
                sched_exec_due_t due;
                char *reason; /* CANCEL/PAUSE/RESUME: heap, may be NULL */
        } u;
} sched_event_t;

/** Zero an event and set every optional field to "absent". */
void sched_event_init(sched_event_t *ev, sched_ev_type_t type);

/** Free the heap strings an event owns and re-init it to its type. */
void sched_event_clear(sched_event_t *ev);

/** Deep copy src into an uninitialized dst. */
sched_err_t sched_event_copy(sched_event_t *dst, const sched_event_t *src);

/** Replace a heap string field with a copy of s (NULL allowed). */
sched_err_t sched_event_set_str(char **field, const char *s, size_t max);

/** Copy s into a fixed array field of size `size`; SCHED_ERR_TOO_BIG if it
 *  does not fit (the field is then left empty). */
sched_err_t sched_strlcpy(char *dst, const char *s, size_t size);

const char *sched_ev_type2str(sched_ev_type_t type);
const char *sched_status2str(sched_status_t st);
/** Returns SCHED_STATUS__CNT when s names no status. */
sched_status_t sched_str2status(const char *s);
const char *sched_kind2str(sched_sched_kind_t kind);
/** Returns -1 when s names no kind. */
int sched_str2kind(const char *s);
/** "fire_once" / "fire_all" / "skip"; "unknown" for other values. */
const char *sched_misfire2str(sched_misfire_t m);
/** Case-insensitive; returns -1 when s names no policy. */
int sched_str2misfire(const char *s);
/** "allow" / "skip" / "buffer_one"; "unknown" for other values. */
const char *sched_overlap2str(sched_overlap_t o);
/** Case-insensitive; returns -1 when s names no policy. */
int sched_str2overlap(const char *s);

/** "<job_id>:<scheduled_ms>:<attempt>" — deterministic execution id. */
void sched_execution_id(char out[SCHED_EXEC_ID_MAX], const char *job_id,
                        int64_t scheduled_ms, int32_t attempt);

/* --- Added with the codec (event.c) -------------------------------------- */

/** "normal" / "high"; "unknown" for other values. */
const char *sched_priority2str(sched_priority_t prio);
/** Case-insensitive; returns -1 when s names no priority. */
int sched_str2priority(const char *s);

/**
 * True when s[0..len) is well-formed UTF-8 (no overlong forms, surrogates or
 * code points above U+10FFFF).  Avro strings must be UTF-8: the codec
 * refuses to encode or decode anything else.
 */
bool sched_utf8_valid(const char *s, size_t len);

/**
 * Replace, in place, every byte of s that is not part of a well-formed UTF-8
 * sequence with '?', so that text from outside (a task's stdout excerpt, an
 * error message cut at a byte limit) can always be encoded.  Length is
 * unchanged.  s may be NULL.
 */
void sched_utf8_scrub(char *s);

#endif /* SCHED_EVENT_H */
