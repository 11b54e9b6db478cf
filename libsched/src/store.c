/*
 * store.c — RocksDB wrapper (see sched/store.h).
 */
#include "sched/store.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rocksdb/c.h>

/* Memory bounds, whatever the number of jobs: one block cache shared by
 * every column family, holding data, index and filter blocks alike (so
 * indexes and filters of a large store do not grow outside it), and one
 * budget for all memtables. */
#define STORE_BLOCK_CACHE_BYTES (96u << 20)
#define STORE_MEMTABLES_BYTES (96u << 20)
#define STORE_MEMTABLE_BYTES (16u << 20) /* each, before it is flushed */
#define STORE_BLOOM_BITS_PER_KEY 10      /* point lookups that miss (a new
                                          * job id) skip the files */
/* Write-ahead log kept at most: past it RocksDB flushes the column family
 * that pins the oldest log (one written rarely, like parked orphans), so a
 * start after a crash replays at most this much. */
#define STORE_WAL_BYTES (256u << 20)

struct sched_store_s {
        rocksdb_t *db;
        rocksdb_options_t *opts;
        rocksdb_block_based_table_options_t *table;
        rocksdb_cache_t *cache;
        rocksdb_column_family_handle_t *cfs[SCHED_CF__CNT];
        rocksdb_readoptions_t *ropts;
        rocksdb_writeoptions_t *wopts;
        /* Column families with no key at open and no put since: a point
         * read through a batch (a writer's own reads) answers "absent"
         * without a lookup.  Several writers (each with its own batch and
         * its own keys) may run at once: a flag still seen set by one of
         * them can only hide another's uncommitted keys, which it never
         * reads; what was written before is seen (the writers' threads
         * were joined since). */
        atomic_bool empty[SCHED_CF__CNT];
};

struct sched_batch_s {
        rocksdb_writebatch_wi_t *wb;
};

struct sched_snapshot_s {
        const rocksdb_snapshot_t *snap;
        rocksdb_readoptions_t *ropts;
};

struct sched_iter_s {
        rocksdb_iterator_t *it;
        rocksdb_readoptions_t *ropts;
        char *lower, *upper; /* owned copies; must outlive it */
};

static const char *cf_names[SCHED_CF__CNT] = {
#define SCHED_CF_NAME(name, id, str) [id] = str,
        SCHED_CF_MAP(SCHED_CF_NAME)
#undef SCHED_CF_NAME
};

const char *sched_cf_name(sched_cf_t cf) {
        return (unsigned)cf < SCHED_CF__CNT ? cf_names[cf] : NULL;
}

sched_store_t *sched_store_open(const char *path, char *errstr,
                                size_t errstr_size) {
        sched_store_t *store = calloc(1, sizeof(*store));
        if (!store) {
                sched_seterr(errstr, errstr_size, SCHED_ERR_NOMEM, "calloc");
                return NULL;
        }
        store->opts = rocksdb_options_create();
        rocksdb_options_set_create_if_missing(store->opts, 1);
        rocksdb_options_set_create_missing_column_families(store->opts, 1);
        rocksdb_options_increase_parallelism(store->opts, 2);
        rocksdb_options_set_max_background_jobs(store->opts, 2);
        rocksdb_options_set_compression(store->opts,
                                        rocksdb_lz4_compression);
        store->cache = rocksdb_cache_create_lru(STORE_BLOCK_CACHE_BYTES);
        store->table = rocksdb_block_based_options_create();
        rocksdb_block_based_options_set_block_cache(store->table,
                                                    store->cache);
        rocksdb_block_based_options_set_filter_policy(
                store->table,
                rocksdb_filterpolicy_create_bloom_full(
                        STORE_BLOOM_BITS_PER_KEY));
        rocksdb_block_based_options_set_cache_index_and_filter_blocks(
                store->table, 1);
        rocksdb_block_based_options_set_pin_l0_filter_and_index_blocks_in_cache(
                store->table, 1);
        rocksdb_options_set_block_based_table_factory(store->opts,
                                                      store->table);
        rocksdb_options_set_db_write_buffer_size(store->opts,
                                                 STORE_MEMTABLES_BYTES);
        /* Lookups of keys not there (a new job id) stop at a bloom filter
         * of the memtable instead of walking its skip list. */
        rocksdb_options_set_memtable_prefix_bloom_size_ratio(store->opts,
                                                             0.05);
        rocksdb_options_set_memtable_whole_key_filtering(store->opts, 1);
        rocksdb_options_set_write_buffer_size(store->opts,
                                              STORE_MEMTABLE_BYTES);
        rocksdb_options_set_max_total_wal_size(store->opts, STORE_WAL_BYTES);

        const char *names[SCHED_CF__CNT];
        const rocksdb_options_t *cf_opts[SCHED_CF__CNT];
        for (int i = 0; i < SCHED_CF__CNT; i++) {
                names[i] = cf_names[i];
                cf_opts[i] = store->opts;
        }
        char *err = NULL;
        store->db = rocksdb_open_column_families(
                store->opts, path, SCHED_CF__CNT, names, cf_opts, store->cfs,
                &err);
        if (err) {
                sched_seterr(errstr, errstr_size, SCHED_ERR_STORE,
                             "open %s: %s", path, err);
                free(err);
                rocksdb_options_destroy(store->opts);
                rocksdb_block_based_options_destroy(store->table);
                rocksdb_cache_destroy(store->cache);
                free(store);
                return NULL;
        }
        store->ropts = rocksdb_readoptions_create();
        store->wopts = rocksdb_writeoptions_create();
        for (int i = 0; i < SCHED_CF__CNT; i++) {
                rocksdb_iterator_t *it = rocksdb_create_iterator_cf(
                        store->db, store->ropts, store->cfs[i]);
                rocksdb_iter_seek_to_first(it);
                atomic_init(&store->empty[i], !rocksdb_iter_valid(it));
                rocksdb_iter_destroy(it);
        }
        return store;
}

void sched_store_close(sched_store_t *store) {
        if (!store)
                return;
        /* Flush the memtables: the next open replays no log. */
        rocksdb_flushoptions_t *fo = rocksdb_flushoptions_create();
        rocksdb_flushoptions_set_wait(fo, 1);
        for (int i = 0; i < SCHED_CF__CNT; i++) {
                char *err = NULL;
                rocksdb_flush_cf(store->db, fo, store->cfs[i], &err);
                free(err); /* best effort: the log still has it all */
        }
        rocksdb_flushoptions_destroy(fo);
        for (int i = 0; i < SCHED_CF__CNT; i++)
                rocksdb_column_family_handle_destroy(store->cfs[i]);
        rocksdb_close(store->db);
        rocksdb_readoptions_destroy(store->ropts);
        rocksdb_writeoptions_destroy(store->wopts);
        rocksdb_options_destroy(store->opts);
        rocksdb_block_based_options_destroy(store->table);
        rocksdb_cache_destroy(store->cache);
        free(store);
}

sched_err_t sched_store_get(sched_store_t *store, sched_batch_t *batch,
                            sched_cf_t cf, const void *key, size_t klen,
                            char **valp, size_t *vlenp) {
        char *err = NULL;
        size_t vlen = 0;
        char *val;
        if (batch && atomic_load_explicit(&store->empty[cf],
                                          memory_order_relaxed))
                return SCHED_ERR_NOT_FOUND;
        if (batch)
                val = rocksdb_writebatch_wi_get_from_batch_and_db_cf(
                        batch->wb, store->db, store->ropts, store->cfs[cf],
                        key, klen, &vlen, &err);
        else
                val = rocksdb_get_cf(store->db, store->ropts, store->cfs[cf],
                                     key, klen, &vlen, &err);
        if (err) {
                free(err);
                return SCHED_ERR_STORE;
        }
        if (!val)
                return SCHED_ERR_NOT_FOUND;
        *valp = val;
        if (vlenp)
                *vlenp = vlen;
        return SCHED_ERR_OK;
}

sched_batch_t *sched_batch_new(void) {
        sched_batch_t *batch = calloc(1, sizeof(*batch));
        if (batch)
                batch->wb = rocksdb_writebatch_wi_create(0, 1 /*overwrite*/);
        return batch;
}

void sched_batch_destroy(sched_batch_t *batch) {
        if (!batch)
                return;
        rocksdb_writebatch_wi_destroy(batch->wb);
        free(batch);
}

void sched_batch_clear(sched_batch_t *batch) {
        rocksdb_writebatch_wi_clear(batch->wb);
}

int sched_batch_count(sched_batch_t *batch) {
        return rocksdb_writebatch_wi_count(batch->wb);
}

void sched_batch_put(sched_store_t *store, sched_batch_t *batch, sched_cf_t cf,
                     const void *key, size_t klen, const void *val,
                     size_t vlen) {
        atomic_store_explicit(&store->empty[cf], false,
                              memory_order_relaxed);
        rocksdb_writebatch_wi_put_cf(batch->wb, store->cfs[cf], key, klen, val,
                                     vlen);
}

void sched_batch_del(sched_store_t *store, sched_batch_t *batch, sched_cf_t cf,
                     const void *key, size_t klen) {
        rocksdb_writebatch_wi_delete_cf(batch->wb, store->cfs[cf], key, klen);
}

sched_err_t sched_store_write(sched_store_t *store, sched_batch_t *batch,
                              char *errstr, size_t errstr_size) {
        char *err = NULL;
        rocksdb_write_writebatch_wi(store->db, store->wopts, batch->wb, &err);
        if (err) {
                sched_seterr(errstr, errstr_size, SCHED_ERR_STORE, "write: %s",
                             err);
                free(err);
                return SCHED_ERR_STORE;
        }
        rocksdb_writebatch_wi_clear(batch->wb);
        return SCHED_ERR_OK;
}

static char *dup_bytes(const void *p, size_t n) {
        char *c = malloc(n ? n : 1);
        if (c && n)
                memcpy(c, p, n);
        return c;
}

/* An iterator shell with its read options and owned bound copies. */
static sched_iter_t *iter_new(const void *lower, size_t lower_len,
                              const void *upper, size_t upper_len) {
        sched_iter_t *it = calloc(1, sizeof(*it));
        if (!it)
                return NULL;
        it->ropts = rocksdb_readoptions_create();
        if (lower) {
                it->lower = dup_bytes(lower, lower_len);
                rocksdb_readoptions_set_iterate_lower_bound(
                        it->ropts, it->lower, lower_len);
        }
        if (upper) {
                it->upper = dup_bytes(upper, upper_len);
                rocksdb_readoptions_set_iterate_upper_bound(
                        it->ropts, it->upper, upper_len);
        }
        return it;
}

static sched_iter_t *iter_start(sched_iter_t *it, size_t lower_len) {
        if (it->lower)
                rocksdb_iter_seek(it->it, it->lower, lower_len);
        else
                rocksdb_iter_seek_to_first(it->it);
        return it;
}

sched_iter_t *sched_store_iter(sched_store_t *store, sched_cf_t cf,
                               const void *lower, size_t lower_len,
                               const void *upper, size_t upper_len) {
        sched_iter_t *it = iter_new(lower, lower_len, upper, upper_len);
        if (!it)
                return NULL;
        it->it = rocksdb_create_iterator_cf(store->db, it->ropts,
                                            store->cfs[cf]);
        return iter_start(it, lower_len);
}

sched_iter_t *sched_store_iter_batch(sched_store_t *store, sched_batch_t *batch,
                                     sched_cf_t cf, const void *lower,
                                     size_t lower_len) {
        sched_iter_t *it = iter_new(lower, lower_len, NULL, 0);
        if (!it)
                return NULL;
        rocksdb_iterator_t *base = rocksdb_create_iterator_cf(
                store->db, it->ropts, store->cfs[cf]);
        /* The batch iterator takes ownership of the base iterator. */
        it->it = rocksdb_writebatch_wi_create_iterator_with_base_cf(
                batch->wb, base, store->cfs[cf]);
        return iter_start(it, lower_len);
}

sched_snapshot_t *sched_store_snapshot(sched_store_t *store) {
        sched_snapshot_t *snap = calloc(1, sizeof(*snap));
        if (!snap)
                return NULL;
        snap->snap = rocksdb_create_snapshot(store->db);
        snap->ropts = rocksdb_readoptions_create();
        rocksdb_readoptions_set_snapshot(snap->ropts, snap->snap);
        return snap;
}

void sched_store_snapshot_release(sched_store_t *store,
                                  sched_snapshot_t *snap) {
        if (!snap)
                return;
        rocksdb_readoptions_destroy(snap->ropts);
        rocksdb_release_snapshot(store->db, snap->snap);
        free(snap);
}

sched_iter_t *sched_store_iter_snap(sched_store_t *store,
                                    sched_snapshot_t *snap, sched_cf_t cf,
                                    const void *lower, size_t lower_len,
                                    const void *upper, size_t upper_len) {
        sched_iter_t *it = iter_new(lower, lower_len, upper, upper_len);
        if (!it)
                return NULL;
        rocksdb_readoptions_set_snapshot(it->ropts, snap->snap);
        it->it = rocksdb_create_iterator_cf(store->db, it->ropts,
                                            store->cfs[cf]);
        return iter_start(it, lower_len);
}

bool sched_iter_valid(sched_iter_t *it) {
        return rocksdb_iter_valid(it->it);
}

void sched_iter_next(sched_iter_t *it) {
        rocksdb_iter_next(it->it);
}

const char *sched_iter_key(sched_iter_t *it, size_t *lenp) {
        return rocksdb_iter_key(it->it, lenp);
}

const char *sched_iter_value(sched_iter_t *it, size_t *lenp) {
        return rocksdb_iter_value(it->it, lenp);
}

void sched_iter_destroy(sched_iter_t *it) {
        if (!it)
                return;
        rocksdb_iter_destroy(it->it);
        rocksdb_readoptions_destroy(it->ropts);
        free(it->lower);
        free(it->upper);
        free(it);
}

/* META key of an offset: "off/" topic "/" be32(partition). */
static size_t offset_key(char *buf, size_t size, const char *topic,
                         int32_t partition) {
        int n = snprintf(buf, size, "off/%s/", topic);
        if (n < 0 || (size_t)n + 4 > size)
                return 0;
        sched_be32_put((unsigned char *)buf + n, (uint32_t)partition);
        return (size_t)n + 4;
}

void sched_store_offset_stage(sched_store_t *store, sched_batch_t *batch,
                              const char *topic, int32_t partition,
                              int64_t next_offset) {
        char key[300];
        unsigned char val[8];
        size_t klen = offset_key(key, sizeof(key), topic, partition);
        if (!klen)
                return;
        sched_be64_put(val, (uint64_t)next_offset);
        sched_batch_put(store, batch, SCHED_CF_META, key, klen, val, 8);
}

int64_t sched_store_offset_get(sched_store_t *store, const char *topic,
                               int32_t partition) {
        return sched_store_offset_get_snap(store, NULL, topic, partition);
}

int64_t sched_store_offset_get_snap(sched_store_t *store,
                                    sched_snapshot_t *snap, const char *topic,
                                    int32_t partition) {
        char key[300], *val, *err = NULL;
        size_t klen = offset_key(key, sizeof(key), topic, partition), vlen;
        if (!klen)
                return -1;
        val = rocksdb_get_cf(store->db, snap ? snap->ropts : store->ropts,
                             store->cfs[SCHED_CF_META], key, klen, &vlen,
                             &err);
        if (err || !val) {
                free(err);
                return -1;
        }
        int64_t off = vlen == 8 ? (int64_t)sched_be64_get(
                                          (const unsigned char *)val)
                                : -1;
        free(val);
        return off;
}
