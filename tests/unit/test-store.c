/*
 * test-store.c — the RocksDB store: column family ids never change, a batch
 * is read back before it is written, bounded iteration, offsets.
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

#include "sched/store.h"

static char dir[256];

static int setup(void **state) {
        snprintf(dir, sizeof(dir), "/tmp/klok-test-store-XXXXXX");
        if (!mkdtemp(dir))
                return -1;
        char errstr[256];
        sched_store_t *store = sched_store_open(dir, errstr, sizeof(errstr));
        if (!store)
                fprintf(stderr, "open: %s\n", errstr);
        *state = store;
        return store ? 0 : -1;
}

static int teardown(void **state) {
        sched_store_close(*state);
        char cmd[300];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        return system(cmd);
}

/* Column family ids are stored on disk: an id, once given, never changes.
 * Adding a family appends; this list is the record of every id ever used. */
static void test_cf_ids_are_append_only(void **state) {
        (void)state;
        static const char *ever[] = {"default", "meta",       "jobs",
                                     "due",     "view_jobs",  "view_execs",
                                     "inflight", "exec_done", "orphans",
                                     "view_index", "view_log"};
        assert_int_equal(SCHED_CF__CNT, sizeof(ever) / sizeof(ever[0]));
        for (int i = 0; i < SCHED_CF__CNT; i++)
                assert_string_equal(sched_cf_name((sched_cf_t)i), ever[i]);
        assert_null(sched_cf_name(SCHED_CF__CNT));
}

static void test_batch_is_read_back_before_write(void **state) {
        sched_store_t *store = *state;
        sched_batch_t *b = sched_batch_new();
        char *val;
        size_t vlen;
        sched_batch_put(store, b, SCHED_CF_JOBS, "k1", 2, "v1", 2);
        assert_int_equal(sched_store_get(store, b, SCHED_CF_JOBS, "k1", 2,
                                         &val, &vlen),
                         SCHED_ERR_OK);
        assert_int_equal(vlen, 2);
        assert_memory_equal(val, "v1", 2);
        free(val);
        /* Not in the store until written. */
        assert_int_equal(sched_store_get(store, NULL, SCHED_CF_JOBS, "k1", 2,
                                         &val, &vlen),
                         SCHED_ERR_NOT_FOUND);
        /* A delete in the batch hides it too. */
        sched_batch_del(store, b, SCHED_CF_JOBS, "k1", 2);
        assert_int_equal(sched_store_get(store, b, SCHED_CF_JOBS, "k1", 2,
                                         &val, &vlen),
                         SCHED_ERR_NOT_FOUND);
        sched_batch_put(store, b, SCHED_CF_JOBS, "k1", 2, "v2", 2);
        assert_int_equal(sched_store_write(store, b, NULL, 0), SCHED_ERR_OK);
        assert_int_equal(sched_batch_count(b), 0);
        assert_int_equal(sched_store_get(store, NULL, SCHED_CF_JOBS, "k1", 2,
                                         &val, &vlen),
                         SCHED_ERR_OK);
        assert_memory_equal(val, "v2", 2);
        free(val);
        /* Families are separate key spaces. */
        assert_int_equal(sched_store_get(store, NULL, SCHED_CF_DUE, "k1", 2,
                                         &val, &vlen),
                         SCHED_ERR_NOT_FOUND);
        sched_batch_destroy(b);
}

static void test_iteration_in_time_order_within_bounds(void **state) {
        sched_store_t *store = *state;
        sched_batch_t *b = sched_batch_new();
        int64_t times[] = {5000, -20, 0, 1700000000000LL, 3, INT64_MAX - 1};
        for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
                unsigned char k[8];
                sched_be64_put(k, sched_ms_key(times[i]));
                sched_batch_put(store, b, SCHED_CF_DUE, k, 8, "", 0);
        }
        assert_int_equal(sched_store_write(store, b, NULL, 0), SCHED_ERR_OK);
        unsigned char lo[8], hi[8];
        sched_be64_put(lo, sched_ms_key(0));
        sched_be64_put(hi, sched_ms_key(5000)); /* exclusive */
        sched_iter_t *it = sched_store_iter(store, SCHED_CF_DUE, lo, 8, hi, 8);
        int64_t want[] = {0, 3}, got[8];
        int n = 0;
        for (; sched_iter_valid(it) && n < 8; sched_iter_next(it)) {
                size_t klen;
                const unsigned char *k =
                        (const unsigned char *)sched_iter_key(it, &klen);
                assert_int_equal(klen, 8);
                got[n++] = (int64_t)(sched_be64_get(k) ^
                                     0x8000000000000000ULL);
        }
        sched_iter_destroy(it);
        assert_int_equal(n, 2);
        assert_memory_equal(got, want, sizeof(want));
        /* Unbounded: all six, negative first. */
        it = sched_store_iter(store, SCHED_CF_DUE, NULL, 0, NULL, 0);
        int64_t prev = INT64_MIN;
        n = 0;
        for (; sched_iter_valid(it); sched_iter_next(it), n++) {
                size_t klen;
                const unsigned char *k =
                        (const unsigned char *)sched_iter_key(it, &klen);
                int64_t t = (int64_t)(sched_be64_get(k) ^
                                      0x8000000000000000ULL);
                assert_true(t > prev);
                prev = t;
        }
        assert_int_equal(n, 6);
        sched_iter_destroy(it);
        sched_batch_destroy(b);
}

static void test_offsets_move_with_the_batch(void **state) {
        sched_store_t *store = *state;
        sched_batch_t *b = sched_batch_new();
        assert_int_equal(sched_store_offset_get(store, "klok.commands", 3), -1);
        sched_store_offset_stage(store, b, "klok.commands", 3, 42);
        sched_store_offset_stage(store, b, "klok.status", 3, 7);
        assert_int_equal(sched_store_offset_get(store, "klok.commands", 3), -1);
        assert_int_equal(sched_store_write(store, b, NULL, 0), SCHED_ERR_OK);
        assert_int_equal(sched_store_offset_get(store, "klok.commands", 3), 42);
        assert_int_equal(sched_store_offset_get(store, "klok.status", 3), 7);
        assert_int_equal(sched_store_offset_get(store, "klok.commands", 2), -1);
        sched_batch_destroy(b);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_cf_ids_are_append_only),
                cmocka_unit_test_setup_teardown(
                        test_batch_is_read_back_before_write, setup, teardown),
                cmocka_unit_test_setup_teardown(
                        test_iteration_in_time_order_within_bounds, setup,
                        teardown),
                cmocka_unit_test_setup_teardown(
                        test_offsets_move_with_the_batch, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
