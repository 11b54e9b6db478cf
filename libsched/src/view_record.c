/*
 * view_record.c — one record of the commands or status topic, from its
 * bytes to the status view (sched_view_apply_record, sched/view.h): what
 * klok-api's consumer does with every record and what an audit replay
 * does again, so both make the same decisions.
 */
#include "sched/view.h"

#include <stdio.h>
#include <string.h>

#include "sched/kafka.h"

sched_err_t sched_view_apply_record(sched_store_t *store, sched_batch_t *batch,
                                    const sched_codec_t *codec,
                                    bool status_topic, const char *topic_name,
                                    const void *key, size_t klen,
                                    const void *payload, size_t len,
                                    int32_t partition, int32_t partition_cnt,
                                    int64_t offset,
                                    sched_view_result_t *resultp,
                                    char *errstr, size_t errstr_size) {
        char why[512];
        sched_event_t ev;
        if (resultp)
                *resultp = SCHED_VIEW_IGNORED;
        sched_view_log_put(store, batch,
                           status_topic ? SCHED_VIEW_LOG_STATUS
                                        : SCHED_VIEW_LOG_COMMANDS,
                           key, klen, partition, offset);
        sched_err_t err = sched_codec_decode(codec, payload, len, &ev, why,
                                             sizeof(why));
        if (err) {
                snprintf(errstr, errstr_size, "decode: %s: %s",
                         sched_err2name(err), why);
                if (err == SCHED_ERR_NOMEM)
                        err = SCHED_ERR_DECODE; /* this record's size */
        } else {
                int32_t want = sched_partition_of(ev.job_id, strlen(ev.job_id),
                                                  partition_cnt);
                if (want != partition) {
                        snprintf(errstr, errstr_size,
                                 "apply: job %s is on partition %d but its "
                                 "key hashes (murmur2) to partition %d",
                                 ev.job_id, (int)partition, (int)want);
                        err = SCHED_ERR_INVALID;
                } else {
                        err = sched_view_apply(store, batch, codec, &ev,
                                               offset, resultp, why,
                                               sizeof(why));
                        if (err)
                                snprintf(errstr, errstr_size, "%s%s",
                                         err == SCHED_ERR_INVALID ? "apply: "
                                                                  : "",
                                         why);
                }
                sched_event_clear(&ev);
        }
        if (err != SCHED_ERR_STORE && err != SCHED_ERR_NOMEM)
                sched_store_offset_stage(store, batch, topic_name, partition,
                                         offset + 1);
        return err;
}
