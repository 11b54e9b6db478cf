/*
 * sched/kafka.h — librdkafka set up the way every klok service needs it.
 *
 * The wrappers fix the settings the guarantees depend on (idempotence,
 * acks=all, read_committed, manual offsets, murmur2 partitioning so that a
 * job id lands on the same partition whichever client wrote it) and leave
 * everything else to librdkafka: services keep using rd_kafka_* directly.
 */
#ifndef SCHED_KAFKA_H
#define SCHED_KAFKA_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "sched/err.h"

/** Longest topic name klok builds (Kafka's own limit is 249). */
#define SCHED_TOPIC_MAX 250

/**
 * Base configuration: bootstrap servers, client.id, and `extra`, a
 * NULL-terminated list of key, value pairs applied on top.  NULL + errstr on
 * a bad property.
 */
rd_kafka_conf_t *sched_kafka_conf(const char *bootstrap, const char *client_id,
                                  const char *const *extra, char *errstr,
                                  size_t errstr_size);

/**
 * Producer: idempotent, acks=all, murmur2_random partitioner, small linger.
 * With transactional_id, a transactional producer (init_transactions is left
 * to the caller, who must handle its errors).  conf is consumed on success.
 */
rd_kafka_t *sched_kafka_producer_new(rd_kafka_conf_t *conf,
                                     const char *transactional_id,
                                     char *errstr, size_t errstr_size);

/**
 * Consumer in group_id: read_committed,
 * no auto-commit, earliest reset, partition EOF events on.  `assignor` is
 * "range" for co-partitioned readers.  conf is consumed on success.
 * A reader that only assign()s still needs a group id with librdkafka 2.0.2
 * (assign() fails with "Unknown group" without one); it never joins it.
 */
rd_kafka_t *sched_kafka_consumer_new(rd_kafka_conf_t *conf,
                                     const char *group_id,
                                     const char *assignor, char *errstr,
                                     size_t errstr_size);

/** "<prefix>.<suffix>" into buf. */
void sched_topic(char *buf, size_t size, const char *prefix,
                 const char *suffix);

/** "<prefix>.executions.<queue>.<high|normal>" into buf. */
void sched_topic_executions(char *buf, size_t size, const char *prefix,
                            const char *queue, int high);

/** Java-compatible partition of a key: toPositive(murmur2(key)) % cnt. */
int32_t sched_partition_of(const void *key, size_t len, int32_t cnt);

/** Number of partitions of a topic, or -1 (metadata request, timeout). */
int32_t sched_kafka_partition_count(rd_kafka_t *rk, const char *topic,
                                    int timeout_ms);

/**
 * Whether topics exist, remembered: a topic seen once is taken to exist
 * from then on; one the broker says does not exist is asked about again
 * after SCHED_TOPIC_RECHECK_MS (an operator may create it meanwhile).
 * Bounded (SCHED_TOPIC_CACHE_MAX names; beyond, the oldest negative answer
 * is forgotten first).  Thread-safe.
 */
#define SCHED_TOPIC_RECHECK_MS 5000
#define SCHED_TOPIC_CACHE_MAX 256
typedef struct sched_topic_cache_s sched_topic_cache_t;
sched_topic_cache_t *sched_topic_cache_new(void);
void sched_topic_cache_destroy(sched_topic_cache_t *c);
/** 1: the topic exists; 0: the broker says it does not; -1: no answer
 *  within timeout_ms (not remembered).  May block on a metadata request
 *  for a topic not known yet. */
int sched_topic_cache_check(sched_topic_cache_t *c, rd_kafka_t *rk,
                            const char *topic, int timeout_ms);

/**
 * Produce a dead-letter record: the original payload (may be NULL) with
 * headers klok.reason, klok.source.topic, klok.source.partition,
 * klok.source.offset.  Asynchronous; the producer's delivery callback sees
 * it with msg_opaque NULL.
 */
rd_kafka_resp_err_t sched_kafka_dlq(rd_kafka_t *rk, const char *dlq_topic,
                                    const rd_kafka_message_t *src,
                                    const char *reason);

#endif /* SCHED_KAFKA_H */
