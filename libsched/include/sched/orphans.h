/*
 * sched/orphans.h — status events that arrived before their job.
 *
 * A job's CreateJob is on <p>.commands and its lifecycle on <p>.status, two
 * partitions read side by side; nothing orders one against the other, so a
 * reader catching up (a new instance, a rebuild, a takeover with a stale
 * store) can see a job's FIRED or SUCCEEDED before its CreateJob.  Dropping
 * such an event would let the job fire again.  Instead the appliers park it
 * here and take it back, in log order, right after the CreateJob: the
 * resulting state is the same whatever the interleaving.
 *
 * Keys in SCHED_CF_ORPHANS: ns | job_id | 0 | be64(offset) -> encoded event,
 * and ns | job_id | 0 -> "" (a marker: the job has parked events).
 * `ns` separates users sharing a store ('T' timer, 'V' view).
 */
#ifndef SCHED_ORPHANS_H
#define SCHED_ORPHANS_H

#include <stdint.h>

#include "sched/codec.h"
#include "sched/event.h"
#include "sched/store.h"

/** Park ev (a status event of an unknown job), read at `offset`. */
sched_err_t sched_orphan_put(sched_store_t *store, sched_batch_t *batch,
                             const sched_codec_t *codec, char ns,
                             const sched_event_t *ev, int64_t offset);

/** Called for each parked event of a job, in offset order. */
typedef sched_err_t (*sched_orphan_cb)(void *opaque, const sched_event_t *ev);

/** Hand every parked event of job_id to cb, then forget them (in the same
 *  batch).  Stops at the first error cb returns. */
sched_err_t sched_orphan_take(sched_store_t *store, sched_batch_t *batch,
                              const sched_codec_t *codec, char ns,
                              const char *job_id, sched_orphan_cb cb,
                              void *opaque);

#endif /* SCHED_ORPHANS_H */
