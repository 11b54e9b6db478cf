/*
 * kafka.c — librdkafka set-up shared by the services (see sched/kafka.h).
 */
#include "sched/kafka.h"

#include <stdio.h>
#include <string.h>

static int conf_set(rd_kafka_conf_t *conf, const char *k, const char *v,
                    char *errstr, size_t errstr_size) {
        return rd_kafka_conf_set(conf, k, v, errstr, errstr_size) ==
                               RD_KAFKA_CONF_OK
                       ? 0
                       : -1;
}

rd_kafka_conf_t *sched_kafka_conf(const char *bootstrap, const char *client_id,
                                  const char *const *extra, char *errstr,
                                  size_t errstr_size) {
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        if (conf_set(conf, "bootstrap.servers", bootstrap, errstr,
                     errstr_size) ||
            conf_set(conf, "client.id", client_id, errstr, errstr_size) ||
            conf_set(conf, "socket.nagle.disable", "true", errstr,
                     errstr_size))
                goto fail;
        for (; extra && extra[0]; extra += 2)
                if (conf_set(conf, extra[0], extra[1], errstr, errstr_size))
                        goto fail;
        return conf;
fail:
        rd_kafka_conf_destroy(conf);
        return NULL;
}

rd_kafka_t *sched_kafka_producer_new(rd_kafka_conf_t *conf,
                                     const char *transactional_id,
                                     char *errstr, size_t errstr_size) {
        if (conf_set(conf, "enable.idempotence", "true", errstr,
                     errstr_size) ||
            conf_set(conf, "acks", "all", errstr, errstr_size) ||
            conf_set(conf, "partitioner", "murmur2_random", errstr,
                     errstr_size) ||
            (transactional_id &&
             conf_set(conf, "transactional.id", transactional_id, errstr,
                      errstr_size)))
                return NULL;
        return rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, errstr_size);
}

rd_kafka_t *sched_kafka_consumer_new(rd_kafka_conf_t *conf,
                                     const char *group_id,
                                     const char *assignor, char *errstr,
                                     size_t errstr_size) {
        if (conf_set(conf, "isolation.level", "read_committed", errstr,
                     errstr_size) ||
            conf_set(conf, "enable.auto.commit", "false", errstr,
                     errstr_size) ||
            conf_set(conf, "enable.auto.offset.store", "false", errstr,
                     errstr_size) ||
            conf_set(conf, "auto.offset.reset", "earliest", errstr,
                     errstr_size) ||
            conf_set(conf, "enable.partition.eof", "true", errstr,
                     errstr_size) ||
            (group_id &&
             conf_set(conf, "group.id", group_id, errstr, errstr_size)) ||
            (assignor && conf_set(conf, "partition.assignment.strategy",
                                  assignor, errstr, errstr_size)))
                return NULL;
        rd_kafka_t *rk =
                rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, errstr_size);
        if (rk)
                rd_kafka_poll_set_consumer(rk);
        return rk;
}

void sched_topic(char *buf, size_t size, const char *prefix,
                 const char *suffix) {
        snprintf(buf, size, "%s.%s", prefix, suffix);
}

void sched_topic_executions(char *buf, size_t size, const char *prefix,
                            const char *queue, int high) {
        snprintf(buf, size, "%s.executions.%s.%s", prefix, queue,
                 high ? "high" : "normal");
}

/* Kafka's Java murmur2 (seed 0x9747b28c), so that records keyed by job id
 * land where the Java client's default partitioner puts them. */
static int32_t murmur2(const unsigned char *data, size_t len) {
        const uint32_t m = 0x5bd1e995;
        const int r = 24;
        uint32_t h = 0x9747b28c ^ (uint32_t)len;
        size_t i = 0;
        for (; i + 4 <= len; i += 4) {
                uint32_t k = (uint32_t)data[i] | (uint32_t)data[i + 1] << 8 |
                             (uint32_t)data[i + 2] << 16 |
                             (uint32_t)data[i + 3] << 24;
                k *= m;
                k ^= k >> r;
                k *= m;
                h *= m;
                h ^= k;
        }
        switch (len & 3) {
        case 3:
                h ^= (uint32_t)data[i + 2] << 16;
                /* fall through */
        case 2:
                h ^= (uint32_t)data[i + 1] << 8;
                /* fall through */
        case 1:
                h ^= data[i];
                h *= m;
        }
        h ^= h >> 13;
        h *= m;
        h ^= h >> 15;
        return (int32_t)h;
}

int32_t sched_partition_of(const void *key, size_t len, int32_t cnt) {
        int32_t h = murmur2(key, len);
        return (int32_t)((uint32_t)h & 0x7fffffff) % cnt;
}

int32_t sched_kafka_partition_count(rd_kafka_t *rk, const char *topic,
                                    int timeout_ms) {
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
        const struct rd_kafka_metadata *md = NULL;
        int32_t cnt = -1;
        if (rkt && rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms) ==
                           RD_KAFKA_RESP_ERR_NO_ERROR) {
                if (md->topic_cnt == 1 && !md->topics[0].err)
                        cnt = md->topics[0].partition_cnt;
                rd_kafka_metadata_destroy(md);
        }
        if (rkt)
                rd_kafka_topic_destroy(rkt);
        return cnt;
}

rd_kafka_resp_err_t sched_kafka_dlq(rd_kafka_t *rk, const char *dlq_topic,
                                    const rd_kafka_message_t *src,
                                    const char *reason) {
        char part[16], off[24];
        const char *src_topic = src->rkt ? rd_kafka_topic_name(src->rkt) : "";
        snprintf(part, sizeof(part), "%d", (int)src->partition);
        snprintf(off, sizeof(off), "%lld", (long long)src->offset);
        return rd_kafka_producev(
                rk, RD_KAFKA_V_TOPIC(dlq_topic),
                RD_KAFKA_V_KEY(src->key, src->key_len),
                RD_KAFKA_V_VALUE(src->payload, src->len),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_HEADER("klok.reason", reason, -1),
                RD_KAFKA_V_HEADER("klok.source.topic", src_topic, -1),
                RD_KAFKA_V_HEADER("klok.source.partition", part, -1),
                RD_KAFKA_V_HEADER("klok.source.offset", off, -1),
                RD_KAFKA_V_END);
}
