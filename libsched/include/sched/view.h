/*
 * sched/view.h — the status view: what GET /v1/jobs/... answers from.
 *
 * The view is derived state.  It is built only by sched_view_apply(), the
 * applier of every record of <p>.commands and <p>.status, so the live
 * producer-api and an audit replay build the same bytes from the same log
 * prefix: appliers read no clock (times come from the events), and the
 * documents are written as compact JSON with sorted keys.
 *
 * Rows (column families of sched/store.h):
 *   VIEW_JOBS   tenant 0x00 job_id                  -> job document
 *   VIEW_EXECS  tenant 0x00 job_id 0x00 execution_id -> execution document
 * Job document: {job_id, tenant, name, state, schedule{type, ...}, task,
 *   parameters, queue, priority, retry{...}, timeout_ms, idempotency_key,
 *   created_at, updated_at, next_run_at, last_execution{execution_id,
 *   attempt, scheduled_at, status}, progress, state_reason}
 * Execution document: {execution_id, job_id, attempt, scheduled_at, status,
 *   fired_at, started_at, heartbeat_at, deadline_at, finished_at, retry_at,
 *   progress, message, exit_code, error, output}
 * Times are "YYYY-MM-DDTHH:MM:SS.mmmZ" strings; unknown values are null.
 *
 * Job states: SCHEDULED, RUNNING, PAUSED, and the terminal SUCCEEDED,
 * FAILED, CANCELLED, DEAD_LETTERED, REJECTED.  Execution states: FIRED,
 * RUNNING, and the terminal SUCCEEDED, FAILED, TIMED_OUT, DEAD_LETTERED,
 * REJECTED (a terminal execution state is never overwritten: a duplicate
 * run's late STARTED does not reopen it).
 *
 * Threading: sched_view_apply() belongs to the thread owning the batch;
 * the readers may be called from any thread.
 */
#ifndef SCHED_VIEW_H
#define SCHED_VIEW_H

#include <stdbool.h>
#include <stddef.h>

#include "sched/err.h"
#include "sched/codec.h"
#include "sched/event.h"
#include "sched/store.h"

/** Largest view key: tenant, job id, execution id and two separators. */
#define SCHED_VIEW_KEY_MAX (SCHED_TENANT_MAX + SCHED_ID_MAX + SCHED_EXEC_ID_MAX)

typedef enum sched_view_result_e {
        SCHED_VIEW_APPLIED = 0, /* rows changed in the batch */
        SCHED_VIEW_IGNORED = 1, /* nothing to change (duplicate create,
                                   command for an unknown or finished job,
                                   record type the view does not keep) */
} sched_view_result_t;

/**
 * Apply one record, read at `offset` of its partition, to the view inside
 * batch (reading through the batch, so records of one consumed batch see
 * each other).  *resultp (may be NULL) says whether rows changed.  A status
 * event of a job whose CreateJob has not been read yet updates its
 * execution row at once and is parked (sched/orphans.h) so the job row
 * takes it in log order when the CreateJob comes.
 *
 * Returns SCHED_ERR_INVALID for a record that can never be applied (empty
 * tenant or job id): dead-letter it.  SCHED_ERR_STORE or SCHED_ERR_NOMEM:
 * the batch is unusable, retry it from the consumed position.
 */
sched_err_t sched_view_apply(sched_store_t *store, sched_batch_t *batch,
                             const sched_codec_t *codec,
                             const sched_event_t *ev, int64_t offset,
                             sched_view_result_t *resultp, char *errstr,
                             size_t errstr_size);

/** VIEW_JOBS key of (tenant, job_id) into buf (SCHED_VIEW_KEY_MAX bytes);
 *  returns its length. */
size_t sched_view_job_key(char *buf, const char *tenant, const char *job_id);

/** VIEW_EXECS key; with execution_id NULL, the prefix of a job's rows
 *  (ending in the separator). */
size_t sched_view_exec_key(char *buf, const char *tenant, const char *job_id,
                           const char *execution_id);

/**
 * The job document (malloc'd JSON text in *jsonp, free() it).
 * SCHED_ERR_NOT_FOUND when the tenant has no such job.
 */
sched_err_t sched_view_get_job(sched_store_t *store, const char *tenant,
                               const char *job_id, char **jsonp,
                               size_t *lenp);

/**
 * A page of the executions of a job as a JSON array text (malloc'd, free()
 * it), ordered by scheduled time, then attempt, then id.  Pages follow key
 * order: `after` (NULL for the first page) is the execution id the previous
 * page ended with; at most `limit` rows; *nextp receives the id to pass as
 * `after` for the next page ("" when this is the last page).  *countp
 * receives the number of rows.
 */
sched_err_t sched_view_list_executions(sched_store_t *store,
                                       const char *tenant, const char *job_id,
                                       const char *after, size_t limit,
                                       char **jsonp, size_t *countp,
                                       char next[SCHED_EXEC_ID_MAX]);

/** True for SUCCEEDED, FAILED, CANCELLED, DEAD_LETTERED, REJECTED. */
bool sched_view_state_terminal(const char *state);

#endif /* SCHED_VIEW_H */
