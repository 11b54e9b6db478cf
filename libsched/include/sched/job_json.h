/*
 * sched/job_json.h — the HTTP JSON form of job commands, validated strictly
 * into sched_event_t.
 *
 * POST /v1/jobs body (docs/API.md, producer-api/openapi.yaml):
 *   { "name": str, "task": str, "schedule": {...},          required
 *     "parameters": {object}, "queue": str, "priority": "normal"|"high",
 *     "retry": {"max_attempts", "initial_backoff_ms", "multiplier",
 *               "max_backoff_ms"},
 *     "timeout_ms": int, "idempotency_key": str }           optional
 *   schedule: {"type": "immediate"}
 *             {"type": "at", "at": RFC 3339}
 *             {"type": "delay", "delay_ms": int}
 *             {"type": "cron", "cron": str, "timezone": IANA,
 *              "start": RFC 3339, "end": RFC 3339, <policies>}
 *             {"type": "interval", "interval_ms": int, "start", "end",
 *              "max_runs": int, <policies>}
 *   policies: "misfire": "fire_once"|"fire_all"|"skip",
 *             "misfire_threshold_ms": int, "catch_up_ms": int,
 *             "overlap": "allow"|"skip"|"buffer_one"
 * Unknown fields, fields of another schedule type, wrong JSON types, values
 * out of range, duplicate keys and strings over the sched/event.h limits
 * are all rejected with the offending field named ("schedule.delay_ms").
 * Nothing here allocates more than the input size (the caller bounds it).
 *
 * Thread safety: every function may be called from any thread.
 */
#ifndef SCHED_JOB_JSON_H
#define SCHED_JOB_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sched/err.h"
#include "sched/event.h"

/* Bounds. */
#define SCHED_JOB_HORIZON_MS (10LL * 366 * 24 * 3600 * 1000) /* delay */
#define SCHED_JOB_MAX_TIMEOUT_MS (7LL * 24 * 3600 * 1000)
#define SCHED_JOB_MAX_BACKOFF_MS (7LL * 24 * 3600 * 1000)
#define SCHED_JOB_MAX_ATTEMPTS 100
#define SCHED_JOB_MAX_MULTIPLIER 100.0
#define SCHED_JOB_MIN_INTERVAL_MS 100

/** Why a body was rejected.  All strings are printable ASCII (anything else
 *  from the input is replaced by '?'), so they can go into JSON as is. */
typedef struct sched_json_err_s {
        /* "invalid_json", "unknown_field", "missing_field", "invalid_field",
         * "too_large" */
        char error[32];
        char field[80];    /* dotted path; "" when about the whole body */
        char message[256];
} sched_json_err_t;

/**
 * Parse and validate a POST /v1/jobs body into def.  def must have been
 * set up by sched_event_init(ev, SCHED_EV_CREATE_JOB): absent optional
 * fields keep the defaults it sets (the same as the Avro defaults in
 * schemas/CreateJob.avsc); a retry.initial_backoff_ms above the default
 * max_backoff_ms raises max_backoff_ms to it when that is not given.  On success def->parameters is a malloc'd compact
 * JSON object text (NULL when absent), freed by sched_event_clear().  On
 * failure returns SCHED_ERR_INVALID or SCHED_ERR_TOO_BIG with jerr filled,
 * and def holds nothing to free.
 */
sched_err_t sched_job_json_parse(const char *body, size_t len,
                                 sched_job_def_t *def, sched_json_err_t *jerr);

/**
 * Parse a PATCH /v1/jobs/{id} body into def (set up by sched_event_init(ev,
 * SCHED_EV_UPDATE_JOB)): any of "schedule", "parameters", "retry",
 * "timeout_ms", validated as in a create, each setting its has_* flag; at
 * least one must be given.  Other fields (name, task, queue, priority,
 * idempotency_key) cannot change: unknown_field.
 */
sched_err_t sched_job_json_parse_update(const char *body, size_t len,
                                        sched_job_def_t *def,
                                        sched_json_err_t *jerr);

/**
 * Parse the optional body of cancel/pause/resume: empty, or
 * {"reason": str (< SCHED_MESSAGE_MAX bytes)}.  *reasonp is a malloc'd
 * copy of the reason or NULL.
 */
sched_err_t sched_job_json_parse_reason(const char *body, size_t len,
                                        char **reasonp,
                                        sched_json_err_t *jerr);

/** A job id as it may appear in a URL: 1..64 bytes of [A-Za-z0-9._:-]. */
bool sched_job_id_valid(const char *id);

/** An idempotency key: 1..64 bytes of printable ASCII without spaces. */
bool sched_idempotency_key_valid(const char *key);

/**
 * The job id of a new job: sched_uuid_from_key(tenant, key) when key is a
 * non-empty idempotency key, else a fresh UUIDv7 at now_ms.
 */
void sched_job_id_for(char out[SCHED_ID_MAX], const char *tenant,
                      const char *key, int64_t now_ms);

#endif /* SCHED_JOB_JSON_H */
