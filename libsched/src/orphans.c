/*
 * orphans.c — status events parked until their job exists (see
 * sched/orphans.h).
 */
#include "sched/orphans.h"

#include <stdlib.h>
#include <string.h>

/* ns | job_id | 0 : the prefix of a job's orphans, and on its own the key
 * of its marker: present while the job has parked events, so that taking
 * the events of a job that has none (every CreateJob) is one point lookup
 * instead of an iterator. */
static size_t orphan_prefix(unsigned char *buf, char ns, const char *job_id) {
        size_t n = strnlen(job_id, SCHED_ID_MAX - 1);
        buf[0] = (unsigned char)ns;
        memcpy(buf + 1, job_id, n);
        buf[1 + n] = 0;
        return n + 2;
}

sched_err_t sched_orphan_put(sched_store_t *store, sched_batch_t *batch,
                             const sched_codec_t *codec, char ns,
                             const sched_event_t *ev, int64_t offset) {
        unsigned char key[SCHED_ID_MAX + 10];
        size_t klen = orphan_prefix(key, ns, ev->job_id);
        sched_be64_put(key + klen, (uint64_t)offset);
        klen += 8;
        void *val;
        size_t vlen;
        sched_err_t err = sched_codec_encode(codec, ev, &val, &vlen, NULL, 0);
        if (err)
                return err;
        sched_batch_put(store, batch, SCHED_CF_ORPHANS, key, klen, val, vlen);
        sched_batch_put(store, batch, SCHED_CF_ORPHANS, key, klen - 8, "", 0);
        free(val);
        return SCHED_ERR_OK;
}

/* One parked event, copied out of the iterator. */
typedef struct parked_s {
        unsigned char key[SCHED_ID_MAX + 10];
        size_t klen;
        char *val;
        size_t vlen;
} parked_t;

sched_err_t sched_orphan_take(sched_store_t *store, sched_batch_t *batch,
                              const sched_codec_t *codec, char ns,
                              const char *job_id, sched_orphan_cb cb,
                              void *opaque) {
        unsigned char prefix[SCHED_ID_MAX + 2];
        size_t plen = orphan_prefix(prefix, ns, job_id);
        char *marker;
        size_t mlen;
        sched_err_t merr = sched_store_get(store, batch, SCHED_CF_ORPHANS,
                                           prefix, plen, &marker, &mlen);
        if (merr == SCHED_ERR_NOT_FOUND)
                return SCHED_ERR_OK; /* nothing parked */
        if (merr)
                return merr;
        free(marker);
        /* Copy them out first: the batch must not change while its
         * iterator is open. */
        parked_t *parked = NULL;
        size_t n = 0, cap = 0;
        sched_err_t err = SCHED_ERR_OK;
        sched_iter_t *it = sched_store_iter_batch(store, batch,
                                                  SCHED_CF_ORPHANS, prefix,
                                                  plen);
        if (!it)
                return SCHED_ERR_NOMEM;
        for (; sched_iter_valid(it); sched_iter_next(it)) {
                size_t klen, vlen;
                const char *key = sched_iter_key(it, &klen);
                if (klen == plen && !memcmp(key, prefix, plen))
                        continue; /* the marker */
                if (klen != plen + 8 || memcmp(key, prefix, plen))
                        break; /* past this job's orphans */
                const char *val = sched_iter_value(it, &vlen);
                if (n == cap) {
                        size_t ncap = cap ? cap * 2 : 8;
                        parked_t *p = realloc(parked, ncap * sizeof(*p));
                        if (!p) {
                                err = SCHED_ERR_NOMEM;
                                break;
                        }
                        parked = p;
                        cap = ncap;
                }
                parked_t *o = &parked[n];
                if (!(o->val = malloc(vlen ? vlen : 1))) {
                        err = SCHED_ERR_NOMEM;
                        break;
                }
                memcpy(o->key, key, klen);
                o->klen = klen;
                memcpy(o->val, val, vlen);
                o->vlen = vlen;
                n++;
        }
        sched_iter_destroy(it);
        if (!err)
                sched_batch_del(store, batch, SCHED_CF_ORPHANS, prefix, plen);
        for (size_t i = 0; i < n; i++) {
                sched_event_t ev;
                if (!err && sched_codec_decode(codec, parked[i].val,
                                               parked[i].vlen, &ev, NULL,
                                               0) == SCHED_ERR_OK) {
                        err = cb(opaque, &ev);
                        sched_event_clear(&ev);
                }
                if (!err)
                        sched_batch_del(store, batch, SCHED_CF_ORPHANS,
                                        parked[i].key, parked[i].klen);
                free(parked[i].val);
        }
        free(parked);
        return err;
}
