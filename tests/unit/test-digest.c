/*
 * test-digest.c — partition digests (sched/digest.h): two stores with the
 * same rows agree on the digest and every bucket; one changed value
 * changes exactly one bucket, whose listings pinpoint the key; rows of
 * other partitions are left out; the view's sections find the partition
 * of each of its key layouts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "sched/digest.h"
#include "sched/kafka.h"
#include "sched/store.h"
#include "sched/timer_state.h"

#define NPARTS 4
#define PART 2

typedef struct fx_s {
        char dir[64];
        sched_store_t *store;
} fx_t;

static fx_t *fx_new(void) {
        fx_t *fx = calloc(1, sizeof(*fx));
        assert_non_null(fx);
        snprintf(fx->dir, sizeof(fx->dir), "/tmp/klok-test-digest-XXXXXX");
        assert_non_null(mkdtemp(fx->dir));
        char errstr[256];
        fx->store = sched_store_open(fx->dir, errstr, sizeof(errstr));
        assert_non_null(fx->store);
        return fx;
}

static void fx_destroy(fx_t *fx) {
        sched_store_close(fx->store);
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", fx->dir);
        assert_int_equal(system(cmd), 0);
        free(fx);
}

static void put(fx_t *fx, sched_cf_t cf, const void *k, size_t klen,
                const void *v, size_t vlen) {
        sched_batch_t *batch = sched_batch_new();
        sched_batch_put(fx->store, batch, cf, k, klen, v, vlen);
        char errstr[256];
        assert_int_equal(sched_store_write(fx->store, batch, errstr,
                                           sizeof(errstr)),
                         SCHED_ERR_OK);
        sched_batch_destroy(batch);
}

/* The n-th job id ("job-<i>") of partition p. */
static void job_of(char *id, size_t size, int32_t p, int n) {
        for (int i = 0;; i++) {
                snprintf(id, size, "job-%d", i);
                if (sched_partition_of(id, strlen(id), NPARTS) == p && !n--)
                        return;
        }
}

/* A JOBS row of job id on partition p: the value's bytes 2..5 hold it. */
static void put_timer_job(fx_t *fx, const char *id, int32_t p,
                          const char *payload) {
        unsigned char v[64] = {0, 4, 0, 0, 0, (unsigned char)p};
        size_t plen = strlen(payload);
        memcpy(v + 6, payload, plen);
        put(fx, SCHED_CF_JOBS, id, strlen(id), v, 6 + plen);
        unsigned char due[SCHED_DUE_KEY_MAX];
        size_t dlen = sched_due_key(due, p, 1000, SCHED_DUE_FIRE, id);
        put(fx, SCHED_CF_DUE, due, dlen, "", 0);
}

/* 40 jobs of every partition, each with a JOBS and a DUE row. */
static void fill_timer(fx_t *fx) {
        char id[32];
        for (int32_t p = 0; p < NPARTS; p++)
                for (int n = 0; n < 40; n++) {
                        job_of(id, sizeof(id), p, n);
                        put_timer_job(fx, id, p, "state");
                }
        sched_batch_t *batch = sched_batch_new();
        sched_store_offset_stage(fx->store, batch, "c", PART, 17);
        sched_store_offset_stage(fx->store, batch, "s", PART, 5);
        char errstr[256];
        assert_int_equal(sched_store_write(fx->store, batch, errstr,
                                           sizeof(errstr)),
                         SCHED_ERR_OK);
        sched_batch_destroy(batch);
}

static void digest(fx_t *fx, int32_t p, sched_digest_t *d) {
        assert_int_equal(sched_timer_digest(fx->store, p, NPARTS, "c", "s", d),
                         SCHED_ERR_OK);
}

static void test_same_rows_give_the_same_digest_and_buckets(void **state) {
        (void)state;
        fx_t *a = fx_new(), *b = fx_new();
        fill_timer(a);
        fill_timer(b);
        sched_digest_t da, db;
        digest(a, PART, &da);
        digest(b, PART, &db);
        assert_string_equal(da.sha256, db.sha256);
        assert_memory_equal(da.buckets, db.buckets, sizeof(da.buckets));
        assert_int_equal(sched_digest_rows(&da, "jobs"), 40);
        assert_int_equal(sched_digest_rows(&da, "due"), 40);
        assert_int_equal(sched_digest_rows(&da, "orphans"), 0);
        assert_int_equal(da.commands_offset, 17);
        assert_int_equal(da.status_offset, 5);
        /* 40 jobs spread over several buckets. */
        int used = 0;
        sched_digest_t empty;
        fx_t *e = fx_new();
        digest(e, PART, &empty);
        for (int i = 0; i < SCHED_DIGEST_BUCKETS; i++)
                used += strcmp(da.buckets[i], empty.buckets[i]) != 0;
        assert_true(used > 20);
        fx_destroy(e);
        fx_destroy(a);
        fx_destroy(b);
}

/* A bucket listing, as text lines "section key value-hash". */
typedef struct listing_s {
        char rows[256][128];
        int cnt;
} listing_t;

static int collect(void *opaque, const char *section, const char *key,
                   size_t klen, const char *value_hash) {
        listing_t *l = opaque;
        assert_true(l->cnt < 256);
        snprintf(l->rows[l->cnt++], sizeof(l->rows[0]), "%s %.*s %s",
                 section, (int)klen, key, value_hash);
        return 0;
}

static void test_one_changed_value_changes_one_bucket_and_its_key_is_found(
        void **state) {
        (void)state;
        fx_t *a = fx_new(), *b = fx_new();
        fill_timer(a);
        fill_timer(b);
        char id[32];
        job_of(id, sizeof(id), PART, 7);
        put_timer_job(b, id, PART, "other state");
        sched_digest_t da, db;
        digest(a, PART, &da);
        digest(b, PART, &db);
        assert_string_not_equal(da.sha256, db.sha256);
        int differ = 0, first = -1;
        for (int i = 0; i < SCHED_DIGEST_BUCKETS; i++)
                if (strcmp(da.buckets[i], db.buckets[i])) {
                        differ++;
                        first = first < 0 ? i : first;
                }
        assert_int_equal(differ, 1);

        /* The listings of that bucket differ in exactly that row. */
        static listing_t la, lb;
        memset(&la, 0, sizeof(la));
        memset(&lb, 0, sizeof(lb));
        sched_digest_set_t set;
        sched_timer_digest_set(&set, PART, NPARTS);
        assert_int_equal(sched_digest_bucket(a->store, &set, first, collect,
                                             &la),
                         SCHED_ERR_OK);
        assert_int_equal(sched_digest_bucket(b->store, &set, first, collect,
                                             &lb),
                         SCHED_ERR_OK);
        assert_int_equal(la.cnt, lb.cnt);
        int i = 0;
        while (i < la.cnt && !strcmp(la.rows[i], lb.rows[i]))
                i++;
        assert_true(i < la.cnt);
        char want[64];
        snprintf(want, sizeof(want), "jobs %s ", id);
        assert_memory_equal(la.rows[i], want, strlen(want));
        assert_memory_equal(lb.rows[i], want, strlen(want));
        while (++i < la.cnt)
                assert_string_equal(la.rows[i], lb.rows[i]);
        assert_int_equal(sched_digest_bucket(a->store, &set,
                                             SCHED_DIGEST_BUCKETS, collect,
                                             &la),
                         SCHED_ERR_INVALID);

        /* The JSON both sides exchange reads back as it was written. */
        char *text = sched_digest_json(&db);
        assert_non_null(text);
        json_error_t jerr;
        json_t *o = json_loads(text, 0, &jerr);
        sched_digest_t back;
        assert_int_equal(sched_digest_from_json(o, &back), SCHED_ERR_OK);
        assert_string_equal(back.sha256, db.sha256);
        assert_memory_equal(back.buckets, db.buckets, sizeof(db.buckets));
        assert_int_equal(sched_digest_rows(&back, "due"), 40);
        json_decref(o);
        free(text);
        fx_destroy(a);
        fx_destroy(b);
}

static void test_rows_of_other_partitions_are_left_out(void **state) {
        (void)state;
        fx_t *a = fx_new(), *b = fx_new();
        fill_timer(a);
        fill_timer(b);
        char id[32];
        job_of(id, sizeof(id), PART + 1, 50);
        put_timer_job(b, id, PART + 1, "elsewhere");
        /* A status event parked for a job of another partition. */
        char orphan[40];
        int olen = snprintf(orphan, sizeof(orphan), "T%s", id) + 1;
        put(b, SCHED_CF_ORPHANS, orphan, (size_t)olen, "", 0);
        sched_digest_t da, db;
        digest(a, PART, &da);
        digest(b, PART, &db);
        assert_string_equal(da.sha256, db.sha256);
        digest(a, PART + 1, &da);
        digest(b, PART + 1, &db);
        assert_string_not_equal(da.sha256, db.sha256);
        assert_int_equal(sched_digest_rows(&db, "jobs"), 41);
        assert_int_equal(sched_digest_rows(&db, "orphans"), 1);
        sched_digest_t bad;
        assert_int_equal(sched_timer_digest(a->store, NPARTS, NPARTS, "c",
                                            "s", &bad),
                         SCHED_ERR_INVALID);
        fx_destroy(a);
        fx_destroy(b);
}

/* key = parts joined (each part has its length: they may hold 0 bytes). */
static size_t key_of(char *k, const char *tenant, const char *mid,
                     size_t midlen, const char *id, const char *tail,
                     size_t taillen) {
        size_t n = 0;
        if (tenant) {
                n = strlen(tenant) + 1; /* with its 0 */
                memcpy(k, tenant, n);
        }
        memcpy(k + n, mid, midlen);
        n += midlen;
        memcpy(k + n, id, strlen(id));
        n += strlen(id);
        memcpy(k + n, tail, taillen);
        return n + taillen;
}

static void test_view_sections_find_the_partition_of_each_layout(
        void **state) {
        (void)state;
        fx_t *fx = fx_new();
        char id[32], k[256];
        size_t n;
        job_of(id, sizeof(id), PART, 0);
        const char created[8] = {(char)0x80, 0, 0, 1, 0, 0, 0, 0};
        n = key_of(k, "acme", "", 0, id, "", 0);
        put(fx, SCHED_CF_VIEW_JOBS, k, n, "{}", 2);
        n = key_of(k, "acme", "", 0, id, "\0exec-1", 7);
        put(fx, SCHED_CF_VIEW_EXECS, k, n, "{}", 2);
        char mid[32];
        mid[0] = 'T';
        memcpy(mid + 1, created, 8);
        n = key_of(k, "acme", mid, 9, id, "", 0);
        put(fx, SCHED_CF_VIEW_INDEX, k, n, "", 0);
        memcpy(mid, "S" "RUNNING\0", 9);
        memcpy(mid + 9, created, 8);
        n = key_of(k, "acme", mid, 17, id, "", 0);
        put(fx, SCHED_CF_VIEW_INDEX, k, n, "", 0);
        memcpy(mid, "Q" "default\0", 9);
        memcpy(mid + 9, created, 8);
        n = key_of(k, "acme", mid, 17, id, "", 0);
        put(fx, SCHED_CF_VIEW_INDEX, k, n, "", 0);
        n = key_of(k, NULL, "V", 1, id, "\0\0\0\0\0\0\0\0\x05", 9);
        put(fx, SCHED_CF_ORPHANS, k, n, "event", 5);
        n = key_of(k, NULL, "", 0, id, "\0c\0\0\0\2\0\0\0\0\0\0\0\x09", 14);
        put(fx, SCHED_CF_VIEW_LOG, k, n, "", 0);
        /* The timer's parked rows are not the view's. */
        n = key_of(k, NULL, "T", 1, id, "\0", 1);
        put(fx, SCHED_CF_ORPHANS, k, n, "", 0);
        /* A key without its layout: partition 0's. */
        put(fx, SCHED_CF_VIEW_INDEX, "acme\0X", 6, "", 0);

        sched_digest_t d;
        for (int32_t p = 0; p < NPARTS; p++) {
                assert_int_equal(sched_view_digest(fx->store, p, NPARTS, "c",
                                                   "s", &d),
                                 SCHED_ERR_OK);
                uint64_t mine = p == PART;
                assert_int_equal(sched_digest_rows(&d, "view_jobs"), mine);
                assert_int_equal(sched_digest_rows(&d, "view_execs"), mine);
                assert_int_equal(sched_digest_rows(&d, "view_index"),
                                 3 * mine + (p == 0));
                assert_int_equal(sched_digest_rows(&d, "orphans"), mine);
                assert_int_equal(sched_digest_rows(&d, "view_log"), mine);
        }
        /* Every row of the job lands in its bucket. */
        assert_int_equal(sched_view_digest(fx->store, PART, NPARTS, "c", "s",
                                           &d),
                         SCHED_ERR_OK);
        sched_digest_set_t set;
        sched_view_digest_set(&set, PART, NPARTS);
        int rows = 0;
        for (int b = 0; b < SCHED_DIGEST_BUCKETS; b++) {
                static listing_t l;
                memset(&l, 0, sizeof(l));
                assert_int_equal(sched_digest_bucket(fx->store, &set, b,
                                                     collect, &l),
                                 SCHED_ERR_OK);
                assert_true(l.cnt == 0 || l.cnt == 7);
                rows += l.cnt;
        }
        assert_int_equal(rows, 7);
        fx_destroy(fx);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(
                        test_same_rows_give_the_same_digest_and_buckets),
                cmocka_unit_test(
                        test_one_changed_value_changes_one_bucket_and_its_key_is_found),
                cmocka_unit_test(test_rows_of_other_partitions_are_left_out),
                cmocka_unit_test(
                        test_view_sections_find_the_partition_of_each_layout),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
