/*
 * sched/digest.h — fingerprints of one partition's derived state, to tell
 * whether two stores built from the same log prefixes agree and, when they
 * do not, where they first differ.
 *
 * A digest set is a list of sections: a column family, optional key bounds,
 * and a row function saying whether a row belongs to the partition and
 * which job id it is about.  One walk of a store snapshot, section after
 * section in key order, gives (sched_digest_compute):
 *   - the SHA-256 of every row of the partition: per section its name,
 *     then per row be32(key length) be32(value length) key value;
 *   - the row count of each section;
 *   - SCHED_DIGEST_BUCKETS bucket hashes: a row's bucket is the FNV-1a
 *     hash of its job id mod SCHED_DIGEST_BUCKETS; a bucket's hash is the
 *     first 16 hex digits of the SHA-256 of its rows (section index, then
 *     the row as above) in walk order;
 *   - the store's next offsets of the partition on the commands and status
 *     topics: the state is that of the log prefixes before them.
 * Two sides whose digests differ compare their bucket arrays, list the
 * first differing bucket's rows on both sides (sched_digest_bucket) and
 * walk both listings to the first differing row.
 *
 * The timer's set is in sched/timer_state.h (sched_timer_digest_set), the
 * view's below (sched_view_digest_set).
 *
 * Threading: every function may be called from any thread (they read one
 * snapshot); a set is plain data.
 */
#ifndef SCHED_DIGEST_H
#define SCHED_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sched/err.h"
#include "sched/store.h"

#define SCHED_DIGEST_BUCKETS 256
#define SCHED_DIGEST_SECTIONS_MAX 8
#define SCHED_DIGEST_BOUND_MAX 8
#define SCHED_DIGEST_NAME_MAX 16
/** A bucket hash or a value hash of a listing: 16 hex digits + NUL. */
#define SCHED_DIGEST_SHORT_MAX 17

typedef struct sched_digest_set_s sched_digest_set_t;

/**
 * Whether the row key/val of a section belongs to set's partition; if so,
 * the job id it is about (bytes inside key or val) in *idp, *idlenp.
 */
typedef bool (*sched_digest_row_fn)(const sched_digest_set_t *set,
                                    const char *key, size_t klen,
                                    const char *val, size_t vlen,
                                    const char **idp, size_t *idlenp);

typedef struct sched_digest_section_s {
        char name[SCHED_DIGEST_NAME_MAX];
        sched_cf_t cf;
        /* Key bounds [lower, upper); a length of 0 means unbounded. */
        unsigned char lower[SCHED_DIGEST_BOUND_MAX];
        unsigned char upper[SCHED_DIGEST_BOUND_MAX];
        size_t lower_len, upper_len;
        sched_digest_row_fn row;
} sched_digest_section_t;

struct sched_digest_set_s {
        int32_t partition, partition_cnt;
        int nsections;
        sched_digest_section_t sections[SCHED_DIGEST_SECTIONS_MAX];
};

/** Append a section to set (asserts there is room). */
void sched_digest_section_add(sched_digest_set_t *set, const char *name,
                              sched_cf_t cf, const void *lower,
                              size_t lower_len, const void *upper,
                              size_t upper_len, sched_digest_row_fn row);

typedef struct sched_digest_s {
        int32_t partition;
        int64_t commands_offset; /* next offsets (-1: none stored): the */
        int64_t status_offset;   /* state is that of the prefixes before */
        int nsections;
        struct {
                char name[SCHED_DIGEST_NAME_MAX];
                uint64_t rows;
        } sections[SCHED_DIGEST_SECTIONS_MAX];
        char sha256[65]; /* hex */
        char buckets[SCHED_DIGEST_BUCKETS][SCHED_DIGEST_SHORT_MAX];
} sched_digest_t;

/** Rows of the section called name; 0 when there is none. */
uint64_t sched_digest_rows(const sched_digest_t *d, const char *name);

/** The digest of set over one snapshot of store, with its offsets on
 *  commands_topic and status_topic.  SCHED_ERR_INVALID for a set whose
 *  partition is not one of its partition_cnt; SCHED_ERR_NOMEM. */
sched_err_t sched_digest_compute(sched_store_t *store,
                                 const sched_digest_set_t *set,
                                 const char *commands_topic,
                                 const char *status_topic,
                                 sched_digest_t *out);

/** One row of a bucket listing: its section, key, and the first 16 hex
 *  digits of the SHA-256 of its value.  Non-zero stops the walk. */
typedef int (*sched_digest_list_fn)(void *opaque, const char *section,
                                    const char *key, size_t klen,
                                    const char *value_hash);

/** The rows of bucket (0 .. SCHED_DIGEST_BUCKETS-1) in walk order, from
 *  one snapshot.  SCHED_ERR_INVALID for a bucket or partition out of
 *  range. */
sched_err_t sched_digest_bucket(sched_store_t *store,
                                const sched_digest_set_t *set, int bucket,
                                sched_digest_list_fn cb, void *opaque);

/* --- JSON: what the timer's admin and klok-api answer ---------------------- */

/**
 * A digest as malloc'd JSON text (NULL: out of memory):
 *   {"partition", "commands_offset", "status_offset", "sha256",
 *    "rows": {"<section>": n, ...}, "buckets": ["<16 hex>" x 256]}
 */
char *sched_digest_json(const sched_digest_t *d);

/** A bucket listing as malloc'd JSON text in *jsonp:
 *   {"partition", "bucket", "rows": [["<section>", "<hex key>",
 *    "<value hash>"], ...]}
 *  SCHED_ERR_INVALID (bucket out of range), SCHED_ERR_NOMEM. */
sched_err_t sched_digest_bucket_json(sched_store_t *store,
                                     const sched_digest_set_t *set,
                                     int bucket, char **jsonp);

struct json_t;
/** The digest sched_digest_json() wrote; SCHED_ERR_INVALID when o is not
 *  one (a field missing or of the wrong shape). */
sched_err_t sched_digest_from_json(const struct json_t *o,
                                   sched_digest_t *out);

/* --- The view's set (view_digest.c) --------------------------------------- */

/**
 * Sections of the view's rows of the jobs of `partition` (of partition_cnt;
 * a job's partition is sched_partition_of(job_id)), in this order:
 *   view_jobs   tenant 0x00 job_id
 *   view_execs  tenant 0x00 job_id 0x00 execution_id
 *   view_index  tenant 0x00 'T' created(8) job_id
 *               tenant 0x00 'S' state 0x00 created(8) job_id
 *               tenant 0x00 'Q' queue 0x00 created(8) job_id
 *   orphans     'V' job_id 0x00 [offset(8)]    (the view's parked events)
 *   view_log    job_id 0x00 topic partition(4) offset(8)
 * META is not covered (only its two offsets are reported).  A row whose
 * key does not have its section's layout belongs to no job: it is counted
 * in partition 0, bucketed by its whole key, so that exactly one
 * partition's digest shows it.
 */
void sched_view_digest_set(sched_digest_set_t *set, int32_t partition,
                           int32_t partition_cnt);

/** sched_digest_compute() of sched_view_digest_set().  SCHED_ERR_INVALID
 *  for a partition out of range. */
sched_err_t sched_view_digest(sched_store_t *store, int32_t partition,
                              int32_t partition_cnt,
                              const char *commands_topic,
                              const char *status_topic, sched_digest_t *out);

#endif /* SCHED_DIGEST_H */
