/*
 * event.c — life cycle and name tables of sched_event_t (sched/event.h).
 *
 * An event owns at most three heap strings (parameters, message/output, or
 * reason, depending on its type); everything else lives inside the struct,
 * so init/clear/copy only have to look at those.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sched/event.h"

/* CreateJob defaults; the same values are the Avro defaults in
 * schemas/CreateJob.avsc (test-codec checks that they agree). */
#define SCHED_DEFAULT_QUEUE "default"
#define SCHED_DEFAULT_TIMEOUT_MS 60000
#define SCHED_DEFAULT_MAX_ATTEMPTS 1
#define SCHED_DEFAULT_BACKOFF_MS 1000
#define SCHED_DEFAULT_MULTIPLIER 2.0
#define SCHED_DEFAULT_MAX_BACKOFF_MS 60000

static void sched_schedule_init(sched_schedule_t *sch) {
        memset(sch, 0, sizeof(*sch));
        sch->kind = SCHED_KIND_IMMEDIATE;
        sch->at_ms = SCHED_NONE;
        sch->delay_ms = SCHED_NONE;
        sch->interval_ms = SCHED_NONE;
        sch->start_ms = SCHED_NONE;
        sch->end_ms = SCHED_NONE;
        sch->max_runs = 0; /* unbounded */
        sch->misfire = SCHED_MISFIRE_FIRE_ONCE;
        sch->misfire_threshold_ms = SCHED_MISFIRE_THRESHOLD_DEFAULT_MS;
        sch->catch_up_ms = SCHED_CATCH_UP_DEFAULT_MS;
        sch->overlap = SCHED_OVERLAP_ALLOW;
        /* cron "" (none), tz "" (UTC) from the memset. */
}

static void sched_job_def_init(sched_job_def_t *def) {
        sched_schedule_init(&def->schedule);
        memcpy(def->queue, SCHED_DEFAULT_QUEUE, sizeof(SCHED_DEFAULT_QUEUE));
        def->priority = SCHED_PRIO_NORMAL;
        def->retry.max_attempts = SCHED_DEFAULT_MAX_ATTEMPTS;
        def->retry.initial_backoff_ms = SCHED_DEFAULT_BACKOFF_MS;
        def->retry.multiplier = SCHED_DEFAULT_MULTIPLIER;
        def->retry.max_backoff_ms = SCHED_DEFAULT_MAX_BACKOFF_MS;
        def->timeout_ms = SCHED_DEFAULT_TIMEOUT_MS;
        /* name, task, idempotency_key "", parameters NULL, has_* false. */
}

void sched_event_init(sched_event_t *ev, sched_ev_type_t type) {
        memset(ev, 0, sizeof(*ev));
        ev->type = type;

        switch (type) {
        case SCHED_EV_CREATE_JOB:
        case SCHED_EV_UPDATE_JOB:
                sched_job_def_init(&ev->u.def);
                break;
        case SCHED_EV_STATUS:
                ev->u.status.scheduled_ms = SCHED_NONE;
                ev->u.status.next_ms = SCHED_NONE;
                ev->u.status.deadline_ms = SCHED_NONE;
                ev->u.status.progress = -1;
                ev->u.status.exit_code = -1;
                break;
        case SCHED_EV_EXECUTION_DUE:
                memcpy(ev->u.due.queue, SCHED_DEFAULT_QUEUE,
                       sizeof(SCHED_DEFAULT_QUEUE));
                ev->u.due.priority = SCHED_PRIO_NORMAL;
                ev->u.due.timeout_ms = SCHED_DEFAULT_TIMEOUT_MS;
                break;
        case SCHED_EV_CANCEL_JOB:
        case SCHED_EV_PAUSE_JOB:
        case SCHED_EV_RESUME_JOB:
                break; /* reason NULL */
        }
}

/* The heap strings of an event, by type: up to two slots. */
static int sched_event_heap_strs(sched_event_t *ev, char **slots[2]) {
        switch (ev->type) {
        case SCHED_EV_CREATE_JOB:
        case SCHED_EV_UPDATE_JOB:
                slots[0] = &ev->u.def.parameters;
                return 1;
        case SCHED_EV_STATUS:
                slots[0] = &ev->u.status.message;
                slots[1] = &ev->u.status.output;
                return 2;
        case SCHED_EV_EXECUTION_DUE:
                slots[0] = &ev->u.due.parameters;
                return 1;
        case SCHED_EV_CANCEL_JOB:
        case SCHED_EV_PAUSE_JOB:
        case SCHED_EV_RESUME_JOB:
                slots[0] = &ev->u.reason;
                return 1;
        }
        return 0;
}

void sched_event_clear(sched_event_t *ev) {
        char **slots[2];
        int i, n = sched_event_heap_strs(ev, slots);

        for (i = 0; i < n; i++)
                free(*slots[i]);
        sched_event_init(ev, ev->type);
}

sched_err_t sched_event_copy(sched_event_t *dst, const sched_event_t *src) {
        char **slots[2];
        int i, n;

        *dst = *src;
        n = sched_event_heap_strs(dst, slots);
        for (i = 0; i < n; i++) {
                if (*slots[i] == NULL)
                        continue;
                *slots[i] = strdup(*slots[i]);
                if (*slots[i] == NULL) {
                        /* Drop the copies made so far and the aliases of
                         * src's strings that were not copied yet. */
                        while (i-- > 0)
                                free(*slots[i]);
                        sched_event_init(dst, dst->type);
                        return SCHED_ERR_NOMEM;
                }
        }
        return SCHED_ERR_OK;
}

/* `max` is the largest accepted strlen(s), terminating NUL not counted. */
sched_err_t sched_event_set_str(char **field, const char *s, size_t max) {
        char *copy = NULL;

        if (s != NULL) {
                size_t len = strnlen(s, max + 1);

                if (len > max)
                        return SCHED_ERR_TOO_BIG;
                copy = malloc(len + 1);
                if (copy == NULL)
                        return SCHED_ERR_NOMEM;
                memcpy(copy, s, len + 1);
        }
        free(*field);
        *field = copy;
        return SCHED_ERR_OK;
}

sched_err_t sched_strlcpy(char *dst, const char *s, size_t size) {
        size_t len;

        if (size == 0)
                return SCHED_ERR_TOO_BIG;
        if (s == NULL) {
                dst[0] = '\0';
                return SCHED_ERR_OK;
        }
        len = strnlen(s, size);
        if (len == size) {
                dst[0] = '\0';
                return SCHED_ERR_TOO_BIG;
        }
        memcpy(dst, s, len + 1);
        return SCHED_ERR_OK;
}

/* --- Name tables ---------------------------------------------------------- */

/* Record types: the Avro record names in schemas/, indexed by type. */
static const char *const sched_ev_type_names[] = {
        [SCHED_EV_CREATE_JOB] = "CreateJob",
        [SCHED_EV_CANCEL_JOB] = "CancelJob",
        [SCHED_EV_PAUSE_JOB] = "PauseJob",
        [SCHED_EV_RESUME_JOB] = "ResumeJob",
        [SCHED_EV_UPDATE_JOB] = "UpdateJob",
        [SCHED_EV_STATUS] = "StatusEvent",
        [SCHED_EV_EXECUTION_DUE] = "ExecutionDue",
};

static const char *const sched_status_names[SCHED_STATUS__CNT] = {
#define SCHED_STATUS_NAME(name) [SCHED_STATUS_##name] = #name,
        SCHED_STATUS_MAP(SCHED_STATUS_NAME)
#undef SCHED_STATUS_NAME
};

static const char *const sched_kind_names[] = {
        [SCHED_KIND_IMMEDIATE] = "immediate", [SCHED_KIND_AT] = "at",
        [SCHED_KIND_DELAY] = "delay",         [SCHED_KIND_CRON] = "cron",
        [SCHED_KIND_INTERVAL] = "interval",
};

static const char *const sched_priority_names[] = {
        [SCHED_PRIO_NORMAL] = "normal",
        [SCHED_PRIO_HIGH] = "high",
};

#define SCHED_ARRAY_CNT(a) (sizeof(a) / sizeof((a)[0]))

/* Index of s in names[] (case-insensitive), or -1. */
static int sched_name_lookup(const char *const *names, size_t cnt,
                             const char *s) {
        size_t i;

        if (s == NULL)
                return -1;
        for (i = 0; i < cnt; i++)
                if (names[i] != NULL && strcasecmp(names[i], s) == 0)
                        return (int)i;
        return -1;
}

const char *sched_ev_type2str(sched_ev_type_t type) {
        if ((unsigned)type >= SCHED_ARRAY_CNT(sched_ev_type_names) ||
            sched_ev_type_names[type] == NULL)
                return "unknown";
        return sched_ev_type_names[type];
}

const char *sched_status2str(sched_status_t st) {
        if ((unsigned)st >= SCHED_STATUS__CNT)
                return "UNKNOWN";
        return sched_status_names[st];
}

sched_status_t sched_str2status(const char *s) {
        int i = sched_name_lookup(sched_status_names, SCHED_STATUS__CNT, s);

        return i < 0 ? SCHED_STATUS__CNT : (sched_status_t)i;
}

const char *sched_kind2str(sched_sched_kind_t kind) {
        if ((unsigned)kind >= SCHED_ARRAY_CNT(sched_kind_names))
                return "unknown";
        return sched_kind_names[kind];
}

int sched_str2kind(const char *s) {
        return sched_name_lookup(sched_kind_names,
                                 SCHED_ARRAY_CNT(sched_kind_names), s);
}

const char *sched_priority2str(sched_priority_t prio) {
        if ((unsigned)prio >= SCHED_ARRAY_CNT(sched_priority_names))
                return "unknown";
        return sched_priority_names[prio];
}

int sched_str2priority(const char *s) {
        return sched_name_lookup(sched_priority_names,
                                 SCHED_ARRAY_CNT(sched_priority_names), s);
}

static const char *const sched_misfire_names[] = {"fire_once", "fire_all",
                                                   "skip"};
static const char *const sched_overlap_names[] = {"allow", "skip",
                                                   "buffer_one"};

const char *sched_misfire2str(sched_misfire_t m) {
        if ((unsigned)m >= SCHED_ARRAY_CNT(sched_misfire_names))
                return "unknown";
        return sched_misfire_names[m];
}

int sched_str2misfire(const char *s) {
        return sched_name_lookup(sched_misfire_names,
                                 SCHED_ARRAY_CNT(sched_misfire_names), s);
}

const char *sched_overlap2str(sched_overlap_t o) {
        if ((unsigned)o >= SCHED_ARRAY_CNT(sched_overlap_names))
                return "unknown";
        return sched_overlap_names[o];
}

int sched_str2overlap(const char *s) {
        return sched_name_lookup(sched_overlap_names,
                                 SCHED_ARRAY_CNT(sched_overlap_names), s);
}

/* Fits: 64-byte job id + ':' + 19 digits + ':' + 10 digits + NUL = 96 for
 * every non-negative time and attempt; negative ones may be truncated. */
void sched_execution_id(char out[SCHED_EXEC_ID_MAX], const char *job_id,
                        int64_t scheduled_ms, int32_t attempt) {
        snprintf(out, SCHED_EXEC_ID_MAX, "%.*s:%" PRId64 ":%" PRId32,
                 SCHED_ID_MAX - 1, job_id, scheduled_ms, attempt);
}

/* --- UTF-8 ---------------------------------------------------------------- */

/* Length of the well-formed UTF-8 sequence at p (at most avail bytes), or 0
 * if there is none (RFC 3629, Unicode table 3-7). */
static size_t sched_utf8_seq(const unsigned char *p, size_t avail) {
        unsigned c = p[0];
        size_t n, i;

        if (c < 0x80)
                return 1;
        if (c < 0xC2) /* continuation byte or overlong 2-byte lead */
                return 0;
        n = c < 0xE0 ? 2 : c < 0xF0 ? 3 : c < 0xF5 ? 4 : 0;
        if (n == 0 || avail < n)
                return 0;
        for (i = 1; i < n; i++)
                if ((p[i] & 0xC0) != 0x80)
                        return 0;
        if ((c == 0xE0 && p[1] < 0xA0) ||  /* overlong 3-byte */
            (c == 0xED && p[1] >= 0xA0) || /* UTF-16 surrogates */
            (c == 0xF0 && p[1] < 0x90) ||  /* overlong 4-byte */
            (c == 0xF4 && p[1] >= 0x90))   /* above U+10FFFF */
                return 0;
        return n;
}

bool sched_utf8_valid(const char *s, size_t len) {
        const unsigned char *p = (const unsigned char *)s;
        size_t off = 0;

        while (off < len) {
                size_t n = sched_utf8_seq(p + off, len - off);

                if (n == 0)
                        return false;
                off += n;
        }
        return true;
}

void sched_utf8_scrub(char *s) {
        unsigned char *p = (unsigned char *)s;
        size_t len, off = 0;

        if (s == NULL)
                return;
        len = strlen(s);
        while (off < len) {
                size_t n = sched_utf8_seq(p + off, len - off);

                if (n == 0) {
                        p[off] = '?';
                        n = 1;
                }
                off += n;
        }
}
