/*
 * timer_record.c — one record of the commands or status topic, from its
 * bytes to the timer's state, exactly as the timer service takes it; the
 * same function serves the live intake and `klokctl rebuild`, so a replay
 * makes the same decisions (sched/timer_state.h).
 */
#include <stdio.h>
#include <string.h>

#include "sched/kafka.h"
#include "sched/timer_state.h"

sched_rec_result_t sched_timer_apply_record(
        sched_store_t *store, sched_batch_t *batch, const sched_codec_t *codec,
        bool commands, const void *payload, size_t len, int32_t partition,
        int32_t partition_cnt, int64_t offset, sched_event_t *ev,
        sched_timer_effect_t *eff, char *errstr, size_t errstr_size) {
        if (sched_codec_decode(codec, payload, len, ev, errstr, errstr_size))
                return SCHED_REC_DEAD_LETTER;
        bool ok_type = commands ? ev->type >= SCHED_EV_CREATE_JOB &&
                                          ev->type <= SCHED_EV_UPDATE_JOB
                                : ev->type == SCHED_EV_STATUS;
        if (!ok_type) {
                snprintf(errstr, errstr_size, "%s record on the %s topic",
                         sched_ev_type2str(ev->type),
                         commands ? "commands" : "status");
                return SCHED_REC_DEAD_LETTER;
        }
        int32_t want = sched_partition_of(ev->job_id, strlen(ev->job_id),
                                          partition_cnt);
        if (want != partition) {
                snprintf(errstr, errstr_size,
                         "job %s is on partition %d but its key hashes "
                         "(murmur2) to partition %d",
                         ev->job_id, (int)partition, (int)want);
                return SCHED_REC_DEAD_LETTER;
        }
        sched_err_t err = sched_timer_apply(store, batch, codec, ev, partition,
                                            offset, eff, errstr, errstr_size);
        if (err)
                return err == SCHED_ERR_STORE || err == SCHED_ERR_NOMEM
                               ? SCHED_REC_FATAL
                               : SCHED_REC_NOT_APPLIED;
        if (eff->refused) {
                snprintf(errstr, errstr_size, "%s", eff->reason);
                return SCHED_REC_DEAD_LETTER;
        }
        return SCHED_REC_APPLIED;
}
