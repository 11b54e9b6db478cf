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
 *   VIEW_INDEX  tenant 0x00 'T' created job_id               -> ""
 *               tenant 0x00 'S' state 0x00 created job_id    -> ""
 *               tenant 0x00 'Q' queue 0x00 created job_id    -> ""
 *               (created: 8 bytes, sched_ms_key of created_at, big-endian;
 *               written in the same batch as the job document, so a list
 *               and the documents it returns never disagree for long)
 * Job document: {job_id, tenant, name, state, schedule{type, ...}, task,
 *   parameters, queue, priority, retry{...}, timeout_ms, idempotency_key,
 *   definition_sha256 (sched_view_def_digest), create_offset (the
 *   CreateJob's offset on its commands partition), created_at, updated_at, next_run_at, last_execution{execution_id,
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

/** Hex SHA-256 with its NUL. */
#define SCHED_VIEW_DIGEST_MAX 65

/** SHA-256 (hex) of what a create defines — name, schedule, task,
 *  parameters, queue, priority, retry, timeout_ms — in the view's
 *  canonical JSON: the job document's "definition_sha256".  An idempotent
 *  repeat of a create matches when its digest is the same. */
sched_err_t sched_view_def_digest(const sched_job_def_t *def,
                                  char out[SCHED_VIEW_DIGEST_MAX]);

/** A filter of sched_view_list_jobs(): "" / SCHED_NONE = any. */
typedef struct sched_view_filter_s {
        char state[24];
        char queue[SCHED_QUEUE_MAX];
        int64_t from_ms, to_ms; /* created_at in [from, to) */
} sched_view_filter_t;

/** Longest list cursor, with its NUL. */
#define SCHED_VIEW_CURSOR_MAX (20 + 1 + SCHED_ID_MAX)

/**
 * A page of the tenant's jobs matching filter, oldest first (created_at,
 * then job id), as a JSON array text of job documents (malloc'd, free()
 * it).  `after` is the previous page's cursor (NULL for the first page):
 * pages are stable while jobs are added, since new jobs sort after the
 * ones already listed.  At most `limit` rows; a page may hold fewer when
 * many index entries had to be passed over (a state and a queue filter
 * together): *nextp is then still set.  *nextp receives the cursor of the
 * next page, "" at the end.  SCHED_ERR_INVALID for a cursor this function
 * did not make.
 */
sched_err_t sched_view_list_jobs(sched_store_t *store, const char *tenant,
                                 const sched_view_filter_t *filter,
                                 const char *after, size_t limit,
                                 char **jsonp, size_t *countp,
                                 char next[SCHED_VIEW_CURSOR_MAX]);

/** Index rows of a job document: called by the applier when a document is
 *  created (old_state NULL) or its state changes. */
void sched_view_index_update(sched_store_t *store, sched_batch_t *batch,
                             const char *tenant, const char *job_id,
                             const char *queue, int64_t created_ms,
                             const char *old_state, const char *new_state);

/** True for SUCCEEDED, FAILED, CANCELLED, DEAD_LETTERED, REJECTED. */
bool sched_view_state_terminal(const char *state);

/* --- Where a job's records are (VIEW_LOG) --------------------------------- */

/*
 * VIEW_LOG rows: every record of <p>.commands and <p>.status whose Kafka
 * key has the shape of a job id, by where it sits:
 *   key 0x00 topic ('c' commands | 's' status) partition(be32) offset(be64)
 *     -> ""
 * Written by the consumer beside sched_view_apply(), in the same batch, for
 * records that decode or not: the index holds exactly the records a scan
 * of the partition for that key finds, so `klokctl history` fetches those
 * offsets instead of reading the whole partition.  A META row per topic
 * and partition (sched_view_log_begin) keeps the offset the index starts
 * at: a view made before the index existed says so instead of holding a
 * partial list.
 */
#define SCHED_VIEW_LOG_COMMANDS 'c'
#define SCHED_VIEW_LOG_STATUS 's'

/** Index one record (topic: SCHED_VIEW_LOG_*) in batch.  Keys that cannot
 *  be job ids (empty, longer than SCHED_ID_MAX - 1, or holding a 0 byte)
 *  are not indexed. */
void sched_view_log_put(sched_store_t *store, sched_batch_t *batch,
                        char topic, const void *key, size_t klen,
                        int32_t partition, int64_t offset);

/** Read a VIEW_LOG key back: the job id's length, topic, partition and
 *  offset; false for a key of another layout. */
bool sched_view_log_key_parse(const char *k, size_t klen, size_t *idlenp,
                              char *topicp, int32_t *partitionp,
                              int64_t *offsetp);

/** Stage the first indexed offset of topic/partition (the view's next
 *  offset there) unless one is stored already; once per assignment. */
void sched_view_log_begin(sched_store_t *store, sched_batch_t *batch,
                          const char *topic_name, int32_t partition,
                          int64_t next_offset);

/** Longest sched_view_log_page() cursor, with its NUL. */
#define SCHED_VIEW_LOG_CURSOR_MAX 48

/**
 * A page of where job_id's records are, as JSON text (malloc'd, free() it):
 *   {"job_id", "partition", "positions": {"commands", "status"},
 *    "indexed_from": {"commands", "status"},
 *    "records": [{"topic": "commands"|"status", "partition", "offset"}...],
 *    "next_cursor"}
 * in (topic, partition, offset) order, read from one snapshot.
 * `positions` are the view's next offsets on the job's partition
 * (`partition`, of partition_cnt) when the page was read: records at and
 * after them are not indexed yet.  `indexed_from` are the offsets the
 * index starts at there (0 for a view built with it).  `after` is the
 * previous page's next_cursor (NULL for the first page); at most `limit`
 * records; next_cursor is null on the last page.  SCHED_ERR_INVALID for a
 * cursor this function did not make.
 */
sched_err_t sched_view_log_page(sched_store_t *store, const char *job_id,
                                int32_t partition_cnt,
                                const char *commands_topic,
                                const char *status_topic, const char *after,
                                size_t limit, char **jsonp);

/**
 * One record of <p>.commands (status_topic false) or <p>.status, from its
 * bytes to the view, as klok-api's consumer and an audit replay both do
 * it: index it (sched_view_log_put), decode it, check that it sits on its
 * job's partition (of partition_cnt: the timer refuses a record elsewhere,
 * and so does the view, so that both are the replay of their partitions),
 * sched_view_apply() it, and stage the next offset of topic_name/partition
 * — all in batch.
 * Returns SCHED_ERR_OK (applied or ignored: *resultp); SCHED_ERR_STORE or
 * SCHED_ERR_NOMEM: the batch is unusable; any other code is a record to
 * dead-letter (the decoder's refusal, or SCHED_ERR_INVALID from the
 * applier), errstr saying why — it is still indexed and its offset
 * staged.
 */
sched_err_t sched_view_apply_record(sched_store_t *store, sched_batch_t *batch,
                                    const sched_codec_t *codec,
                                    bool status_topic, const char *topic_name,
                                    const void *key, size_t klen,
                                    const void *payload, size_t len,
                                    int32_t partition, int32_t partition_cnt,
                                    int64_t offset,
                                    sched_view_result_t *resultp,
                                    char *errstr, size_t errstr_size);

#endif /* SCHED_VIEW_H */
