/*
 * topic_cache.c — which topics exist, remembered (sched/kafka.h): the
 * timer and the API ask before they write to a queue's executions topic,
 * so a job naming a queue nobody serves is refused with a reason instead
 * of failing a whole transaction.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "sched/kafka.h"
#include "sched/time.h"

typedef struct topic_entry_s {
        char name[SCHED_TOPIC_MAX];
        bool exists;
        int64_t checked_ms; /* monotonic */
} topic_entry_t;

struct sched_topic_cache_s {
        pthread_mutex_t lock;
        topic_entry_t e[SCHED_TOPIC_CACHE_MAX];
        int n;
};

sched_topic_cache_t *sched_topic_cache_new(void) {
        sched_topic_cache_t *c = calloc(1, sizeof(*c));
        if (c)
                pthread_mutex_init(&c->lock, NULL);
        return c;
}

void sched_topic_cache_destroy(sched_topic_cache_t *c) {
        if (!c)
                return;
        pthread_mutex_destroy(&c->lock);
        free(c);
}

/* The broker's answer: 1, 0, or -1 (none). */
static int ask(rd_kafka_t *rk, const char *topic, int timeout_ms) {
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
        const struct rd_kafka_metadata *md = NULL;
        int rc = -1;
        if (rkt && rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms) ==
                           RD_KAFKA_RESP_ERR_NO_ERROR) {
                if (md->topic_cnt == 1) {
                        rd_kafka_resp_err_t err = md->topics[0].err;
                        if (!err && md->topics[0].partition_cnt > 0)
                                rc = 1;
                        else if (err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
                                 err == RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION)
                                rc = 0;
                }
                rd_kafka_metadata_destroy(md);
        }
        if (rkt)
                rd_kafka_topic_destroy(rkt);
        return rc;
}

int sched_topic_cache_check(sched_topic_cache_t *c, rd_kafka_t *rk,
                            const char *topic, int timeout_ms) {
        int64_t now = sched_mono_ms();
        pthread_mutex_lock(&c->lock);
        for (int i = 0; i < c->n; i++) {
                topic_entry_t *e = &c->e[i];
                if (strcmp(e->name, topic))
                        continue;
                if (e->exists ||
                    now - e->checked_ms < SCHED_TOPIC_RECHECK_MS) {
                        int rc = e->exists;
                        pthread_mutex_unlock(&c->lock);
                        return rc;
                }
                break;
        }
        pthread_mutex_unlock(&c->lock);

        int rc = ask(rk, topic, timeout_ms); /* not under the lock */
        if (rc < 0)
                return rc;
        pthread_mutex_lock(&c->lock);
        topic_entry_t *slot = NULL;
        for (int i = 0; i < c->n && !slot; i++)
                if (!strcmp(c->e[i].name, topic))
                        slot = &c->e[i];
        if (!slot && c->n < SCHED_TOPIC_CACHE_MAX)
                slot = &c->e[c->n++];
        if (!slot) { /* full: the oldest "no" goes (all "yes": none) */
                for (int i = 0; i < c->n; i++)
                        if (!c->e[i].exists &&
                            (!slot || c->e[i].checked_ms < slot->checked_ms))
                                slot = &c->e[i];
        }
        if (slot) {
                strncpy(slot->name, topic, sizeof(slot->name) - 1);
                slot->name[sizeof(slot->name) - 1] = '\0';
                slot->exists = rc == 1;
                slot->checked_ms = now;
        }
        pthread_mutex_unlock(&c->lock);
        return rc;
}
