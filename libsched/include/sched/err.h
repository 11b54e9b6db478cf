/*
 * sched/err.h — the one error enum of the klok library.
 *
 * The list is an X-macro so the enum and its string table cannot drift apart
 * (libuv UV_ERRNO_MAP, librdkafka rd_kafka_err_descs[]).  Functions that can
 * fail return sched_err_t and, where a cause is worth reading, fill a
 * caller-owned `char *errstr, size_t errstr_size` buffer.
 */
#ifndef SCHED_ERR_H
#define SCHED_ERR_H

#include <stddef.h>

#define SCHED_ERR_MAP(X)                                                      \
        X(OK, "success")                                                      \
        X(INVALID, "invalid argument")                                        \
        X(NOMEM, "out of memory")                                             \
        X(TOO_BIG, "input exceeds its size limit")                            \
        X(DECODE, "malformed encoded record")                                 \
        X(UNKNOWN_SCHEMA, "unknown schema fingerprint")                       \
        X(ENCODE, "record could not be encoded")                              \
        X(NOT_FOUND, "not found")                                             \
        X(STORE, "storage error")                                             \
        X(KAFKA, "kafka error")                                               \
        X(IO, "i/o error")                                                    \
        X(CONFIG, "configuration error")                                      \
        X(TIMEOUT, "timed out")                                               \
        X(AUTH, "authentication failed")

typedef enum sched_err_e {
#define SCHED_ERR_ENUM(name, desc) SCHED_ERR_##name,
        SCHED_ERR_MAP(SCHED_ERR_ENUM)
#undef SCHED_ERR_ENUM
        SCHED_ERR__CNT
} sched_err_t;

/** Static description of an error code; never NULL. */
const char *sched_err2str(sched_err_t err);

/** Static upper-case name ("DECODE") of an error code; never NULL. */
const char *sched_err2name(sched_err_t err);

/** snprintf into errstr if it is non-NULL; returns err for tail calls. */
sched_err_t sched_seterr(char *errstr, size_t errstr_size, sched_err_t err,
                         const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

#endif /* SCHED_ERR_H */
