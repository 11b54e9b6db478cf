/*
 * view_index.c — the status view's list indexes (VIEW_INDEX rows, see
 * sched/view.h) and the paged job list read through them.
 *
 * Every list is ordered by (created_at, job_id): the creation time comes
 * from the CreateJob event, so the order is the same in every replica and
 * in a replay, and a job created later sorts after every job already
 * listed — a cursor stays valid while jobs are added.
 */
#include "sched/view.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sched/time.h"

/* Entries passed over at most per page (filters the index does not
 * cover), so a page costs a bounded number of reads. */
#define LIST_SCAN_MAX 5000

/* tenant 0x00 kind [name 0x00]: the prefix of one index; its length. */
static size_t index_prefix(char *buf, const char *tenant, char kind,
                           const char *name) {
        size_t n = strlen(tenant);
        memcpy(buf, tenant, n);
        buf[n++] = '\0';
        buf[n++] = kind;
        if (name) {
                size_t l = strlen(name);
                memcpy(buf + n, name, l);
                n += l;
                buf[n++] = '\0';
        }
        return n;
}

#define INDEX_KEY_MAX (SCHED_TENANT_MAX + 2 + 32 + 8 + SCHED_ID_MAX)

/* prefix + created + job_id into buf; its length. */
static size_t index_key(char *buf, const char *tenant, char kind,
                        const char *name, int64_t created_ms,
                        const char *job_id) {
        size_t n = index_prefix(buf, tenant, kind, name);
        sched_be64_put((unsigned char *)buf + n, sched_ms_key(created_ms));
        n += 8;
        size_t l = strlen(job_id);
        memcpy(buf + n, job_id, l);
        return n + l;
}

void sched_view_index_update(sched_store_t *store, sched_batch_t *batch,
                             const char *tenant, const char *job_id,
                             const char *queue, int64_t created_ms,
                             const char *old_state, const char *new_state) {
        char key[INDEX_KEY_MAX];
        size_t n;
        if (!old_state) {
                n = index_key(key, tenant, 'T', NULL, created_ms, job_id);
                sched_batch_put(store, batch, SCHED_CF_VIEW_INDEX, key, n, "",
                                0);
                n = index_key(key, tenant, 'Q', queue, created_ms, job_id);
                sched_batch_put(store, batch, SCHED_CF_VIEW_INDEX, key, n, "",
                                0);
        } else if (new_state && !strcmp(old_state, new_state)) {
                return;
        } else {
                n = index_key(key, tenant, 'S', old_state, created_ms, job_id);
                sched_batch_del(store, batch, SCHED_CF_VIEW_INDEX, key, n);
        }
        if (new_state) {
                n = index_key(key, tenant, 'S', new_state, created_ms, job_id);
                sched_batch_put(store, batch, SCHED_CF_VIEW_INDEX, key, n, "",
                                0);
        }
}

/* Cursor text: "<created ms>.<job id>". */
static bool cursor_parse(const char *s, int64_t *msp, const char **idp) {
        char *end;
        if (!s || (*s != '-' && (*s < '0' || *s > '9')))
                return false;
        long long ms = strtoll(s, &end, 10);
        if (*end != '.' || !end[1] || strlen(end + 1) >= SCHED_ID_MAX)
                return false;
        *msp = (int64_t)ms;
        *idp = end + 1;
        return true;
}

/* Whether the document passes the filters the index did not apply. */
static bool doc_matches(const json_t *doc, const sched_view_filter_t *f) {
        const char *state = json_string_value(json_object_get(doc, "state"));
        const char *queue = json_string_value(json_object_get(doc, "queue"));
        if (f->state[0] && (!state || strcmp(state, f->state)))
                return false;
        if (f->queue[0] && (!queue || strcmp(queue, f->queue)))
                return false;
        return true;
}

sched_err_t sched_view_list_jobs(sched_store_t *store, const char *tenant,
                                 const sched_view_filter_t *filter,
                                 const char *after, size_t limit,
                                 char **jsonp, size_t *countp,
                                 char next[SCHED_VIEW_CURSOR_MAX]) {
        char lower[INDEX_KEY_MAX + 1], upper[INDEX_KEY_MAX];
        char kind = filter->state[0] ? 'S' : filter->queue[0] ? 'Q' : 'T';
        const char *name = kind == 'S'   ? filter->state
                           : kind == 'Q' ? filter->queue
                                         : NULL;
        size_t plen = index_prefix(lower, tenant, kind, name);
        memcpy(upper, lower, plen);
        int64_t from = filter->from_ms != SCHED_NONE ? filter->from_ms
                                                     : INT64_MIN;
        int64_t to = filter->to_ms != SCHED_NONE ? filter->to_ms : INT64_MAX;
        size_t llen, ulen = plen + 8;
        sched_be64_put((unsigned char *)upper + plen, sched_ms_key(to));
        if (after) {
                int64_t ms;
                const char *id;
                if (!cursor_parse(after, &ms, &id))
                        return SCHED_ERR_INVALID;
                if (ms < from)
                        ms = from;
                llen = index_key(lower, tenant, kind, name, ms, id);
                lower[llen++] = '\0'; /* the first key after it */
        } else {
                sched_be64_put((unsigned char *)lower + plen,
                               sched_ms_key(from));
                llen = plen + 8;
        }

        *jsonp = NULL;
        *countp = 0;
        next[0] = '\0';
        json_t *arr = json_array();
        sched_iter_t *it = arr ? sched_store_iter(store, SCHED_CF_VIEW_INDEX,
                                                  lower, llen, upper, ulen)
                               : NULL;
        sched_err_t err = it ? SCHED_ERR_OK : SCHED_ERR_NOMEM;
        size_t n = 0, scanned = 0;
        int64_t last_ms = 0;
        char last_id[SCHED_ID_MAX] = "";
        while (!err && sched_iter_valid(it)) {
                if (n == limit || scanned == LIST_SCAN_MAX) {
                        snprintf(next, SCHED_VIEW_CURSOR_MAX, "%" PRId64 ".%s",
                                 last_ms, last_id);
                        break;
                }
                size_t klen;
                const char *k = sched_iter_key(it, &klen);
                if (klen <= plen + 8 || klen - plen - 8 >= SCHED_ID_MAX) {
                        err = SCHED_ERR_STORE;
                        break;
                }
                last_ms = (int64_t)(sched_be64_get((const unsigned char *)k +
                                                   plen) ^
                                    0x8000000000000000ULL);
                memcpy(last_id, k + plen + 8, klen - plen - 8);
                last_id[klen - plen - 8] = '\0';
                scanned++;
                char *doc;
                size_t dlen;
                sched_err_t gerr =
                        sched_view_get_job(store, tenant, last_id, &doc, &dlen);
                if (gerr == SCHED_ERR_NOT_FOUND) { /* not yet, or gone */
                        sched_iter_next(it);
                        continue;
                }
                if (gerr) {
                        err = gerr;
                        break;
                }
                json_t *row = json_loadb(doc, dlen, 0, NULL);
                free(doc);
                if (!row) {
                        err = SCHED_ERR_STORE;
                        break;
                }
                if (doc_matches(row, filter)) {
                        if (json_array_append_new(arr, row))
                                err = SCHED_ERR_NOMEM;
                        else
                                n++;
                } else {
                        json_decref(row);
                }
                sched_iter_next(it);
        }
        sched_iter_destroy(it);
        if (!err) {
                *jsonp = json_dumps(arr, JSON_COMPACT | JSON_SORT_KEYS);
                if (!*jsonp)
                        err = SCHED_ERR_NOMEM;
                *countp = n;
        }
        json_decref(arr);
        return err;
}
