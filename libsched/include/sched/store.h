/*
 * sched/store.h — the RocksDB store behind the timer state and the view.
 *
 * One database per service instance, with column families from the
 * append-only SCHED_CF_MAP below: an id, once used, is never reused or
 * renumbered (tests/unit/test-store.c checks it).  Every state change goes
 * through a batch (sched_batch_t) that can also be read back before it is
 * written, so appliers applying several events of one consumed batch see
 * each other's effects; the batch carries the consumed offsets too, so state
 * and position always move together.
 *
 * Threading: a store may be read from any thread; batches belong to one
 * thread.  sched_store_write() is thread-safe (RocksDB's own guarantee).
 */
#ifndef SCHED_STORE_H
#define SCHED_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sched/err.h"

/* Column families: X(ENUM, id, name).  Append only. */
#define SCHED_CF_MAP(X)                                                       \
        X(DEFAULT, 0, "default")                                              \
        X(META, 1, "meta")             /* offsets, counters */                \
        X(JOBS, 2, "jobs")             /* timer: job state by id */           \
        X(DUE, 3, "due")               /* timer: due_ms|job_id -> "" */       \
        X(VIEW_JOBS, 4, "view_jobs")   /* view: tenant|job_id -> JSON */      \
        X(VIEW_EXECS, 5, "view_execs") /* view: tenant|job|exec -> JSON */    \
        X(INFLIGHT, 6, "inflight")     /* timer: running executions */        \
        X(EXEC_DONE, 7, "exec_done")   /* executor: completed ids */        \
        X(ORPHANS, 8, "orphans")       /* status events before their job */ \
        X(VIEW_INDEX, 9, "view_index") /* view: list indexes -> "" */       \
        X(VIEW_LOG, 10, "view_log")    /* view: where a job's records are */

typedef enum sched_cf_e {
#define SCHED_CF_ENUM(name, id, str) SCHED_CF_##name = id,
        SCHED_CF_MAP(SCHED_CF_ENUM)
#undef SCHED_CF_ENUM
        SCHED_CF__CNT
} sched_cf_t;

typedef struct sched_store_s sched_store_t;
typedef struct sched_batch_s sched_batch_t;
typedef struct sched_iter_s sched_iter_t;

/** Open (creating if needed) the database at path. */
sched_store_t *sched_store_open(const char *path, char *errstr,
                                size_t errstr_size);
void sched_store_close(sched_store_t *store);

/** Name of a column family ("jobs"); NULL for an unknown id. */
const char *sched_cf_name(sched_cf_t cf);

/**
 * Point read.  On success *valp is malloc'd (free() it).  Returns
 * SCHED_ERR_NOT_FOUND when absent.  With a batch, the batch's pending
 * writes are seen first.
 */
sched_err_t sched_store_get(sched_store_t *store, sched_batch_t *batch,
                            sched_cf_t cf, const void *key, size_t klen,
                            char **valp, size_t *vlenp);

sched_batch_t *sched_batch_new(void);
void sched_batch_destroy(sched_batch_t *batch);
void sched_batch_clear(sched_batch_t *batch);
int sched_batch_count(sched_batch_t *batch);
void sched_batch_put(sched_store_t *store, sched_batch_t *batch, sched_cf_t cf,
                     const void *key, size_t klen, const void *val,
                     size_t vlen);
void sched_batch_del(sched_store_t *store, sched_batch_t *batch, sched_cf_t cf,
                     const void *key, size_t klen);

/** Write the batch atomically (WAL on) and clear it. */
sched_err_t sched_store_write(sched_store_t *store, sched_batch_t *batch,
                              char *errstr, size_t errstr_size);

/**
 * Iterate cf over [lower, upper) in key order (either bound may be NULL).
 * The iterator owns copies of the bounds (RocksDB needs them to outlive it).
 */
sched_iter_t *sched_store_iter(sched_store_t *store, sched_cf_t cf,
                               const void *lower, size_t lower_len,
                               const void *upper, size_t upper_len);
/**
 * The same over the store with the batch's pending writes laid over it
 * (what the store will hold once the batch is written).  Only the lower
 * bound is applied to the batch's part: callers check their own end.
 */
sched_iter_t *sched_store_iter_batch(sched_store_t *store, sched_batch_t *batch,
                                     sched_cf_t cf, const void *lower,
                                     size_t lower_len);
/** A consistent point-in-time view of the whole store, for readers on
 *  other threads (digests, audits) while the owner keeps writing. */
typedef struct sched_snapshot_s sched_snapshot_t;
sched_snapshot_t *sched_store_snapshot(sched_store_t *store);
void sched_store_snapshot_release(sched_store_t *store,
                                  sched_snapshot_t *snap);
/** sched_store_iter() over the snapshot. */
sched_iter_t *sched_store_iter_snap(sched_store_t *store,
                                    sched_snapshot_t *snap, sched_cf_t cf,
                                    const void *lower, size_t lower_len,
                                    const void *upper, size_t upper_len);
/** sched_store_offset_get() as of the snapshot. */
int64_t sched_store_offset_get_snap(sched_store_t *store,
                                    sched_snapshot_t *snap, const char *topic,
                                    int32_t partition);
bool sched_iter_valid(sched_iter_t *it);
void sched_iter_next(sched_iter_t *it);
const char *sched_iter_key(sched_iter_t *it, size_t *lenp);
const char *sched_iter_value(sched_iter_t *it, size_t *lenp);
void sched_iter_destroy(sched_iter_t *it);

/* --- Consumed positions, kept in META in the same batch as state --------- */

/** Stage "next offset to consume" of topic/partition in the batch. */
void sched_store_offset_stage(sched_store_t *store, sched_batch_t *batch,
                              const char *topic, int32_t partition,
                              int64_t next_offset);
/** Stored next offset, or -1 if none. */
int64_t sched_store_offset_get(sched_store_t *store, const char *topic,
                               int32_t partition);

/* --- Fixed-width big-endian key parts: byte order is numeric order ------- */

static inline void sched_be32_put(unsigned char *p, uint32_t v) {
        for (int i = 3; i >= 0; i--, v >>= 8)
                p[i] = (unsigned char)(v & 0xff);
}
static inline uint32_t sched_be32_get(const unsigned char *p) {
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
               (uint32_t)p[2] << 8 | p[3];
}
static inline void sched_be64_put(unsigned char *p, uint64_t v) {
        for (int i = 7; i >= 0; i--, v >>= 8)
                p[i] = (unsigned char)(v & 0xff);
}
static inline uint64_t sched_be64_get(const unsigned char *p) {
        uint64_t v = 0;
        for (int i = 0; i < 8; i++)
                v = (v << 8) | p[i];
        return v;
}
/** Signed ms as an order-preserving unsigned (flip the sign bit). */
static inline uint64_t sched_ms_key(int64_t ms) {
        return (uint64_t)ms ^ 0x8000000000000000ULL;
}

#endif /* SCHED_STORE_H */
