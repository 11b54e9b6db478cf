/*
 * sched/config.h — table-driven service configuration.
 *
 * Each service declares one table of properties (name, type, offset into its
 * config struct, default, one-line doc), like librdkafka's
 * rd_kafka_properties[].  Values come from, in increasing precedence:
 * the defaults, a "key = value" file, environment variables named
 * KLOK_<NAME> (upper-cased, '.' and '-' as '_'), and command-line
 * "--set key=value".  Unknown keys are errors, not ignored, unless the
 * service handles a family of keys itself (see sched_conf_extra_cb).
 */
#ifndef SCHED_CONFIG_H
#define SCHED_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sched/err.h"

typedef enum sched_conf_type_e {
        SCHED_CONF_STR,  /* char array of `size` bytes */
        SCHED_CONF_INT,  /* int64_t */
        SCHED_CONF_BOOL, /* int, 0 or 1 */
} sched_conf_type_t;

typedef struct sched_conf_prop_s {
        const char *name;
        sched_conf_type_t type;
        size_t offset; /* offsetof(service_conf, field) */
        size_t size;   /* STR: array size */
        const char *def;
        const char *doc;
        int64_t min, max; /* INT: inclusive bounds */
} sched_conf_prop_t;

/** One table entry for `field` of the config struct `type` (the size is
 *  the field's, used for strings). */
#define SCHED_CONF_FIELD(type, name, ctype, field, def, doc, min, max)        \
        {name, ctype, offsetof(type, field), sizeof(((type *)0)->field), def, \
         doc, min, max}

/** Settings every klok service has; embed as `common` in a service's
 *  config struct and list SCHED_CONF_COMMON(type) in its table. */
typedef struct sched_conf_common_s {
        char bootstrap[512];   /* kafka.bootstrap */
        char prefix[64];       /* topic.prefix */
        char schemas_dir[1024]; /* schemas.dir */
        char log_level[16];    /* log.level */
} sched_conf_common_t;

#define SCHED_CONF_COMMON_STR(type, field, name, def, doc)                    \
        SCHED_CONF_FIELD(type, name, SCHED_CONF_STR, common.field, def, doc, 0, 0)
#define SCHED_CONF_COMMON(type)                                               \
        SCHED_CONF_COMMON_STR(type, bootstrap, "kafka.bootstrap",             \
                              "127.0.0.1:9092",                               \
                              "Kafka bootstrap servers (host:port,...)"),     \
        SCHED_CONF_COMMON_STR(type, prefix, "topic.prefix", "klok",           \
                              "prefix of klok's topics (<prefix>.commands, "  \
                              "...)"),                                        \
        SCHED_CONF_COMMON_STR(type, schemas_dir, "schemas.dir", "schemas",    \
                              "directory of klok's Avro schemas (*.avsc)"),   \
        SCHED_CONF_COMMON_STR(type, log_level, "log.level", "info",           \
                              "debug, info, warn or error")

/** The operations endpoints (sched/admin.h) of a service without an HTTP
 *  server of its own; embed as `admin`, list SCHED_CONF_ADMIN(type). */
typedef struct sched_conf_admin_s {
        char addr[64];
        int64_t port;
} sched_conf_admin_t;

#define SCHED_CONF_ADMIN(type)                                                \
        SCHED_CONF_FIELD(type, "admin.addr", SCHED_CONF_STR, admin.addr,      \
                         "127.0.0.1",                                         \
                         "address of /healthz, /readyz and /metrics", 0, 0),  \
        SCHED_CONF_FIELD(type, "admin.port", SCHED_CONF_INT, admin.port, "0",  \
                         "port of /healthz, /readyz and /metrics (0: off)",   \
                         0, 65535)

/** Table terminator. */
#define SCHED_CONF_END {NULL, 0, 0, 0, NULL, NULL, 0, 0}

/**
 * Called for a key the table does not have; returns 0 if it took the key,
 * -1 (with errstr filled) to reject it.
 */
typedef int (*sched_conf_extra_cb)(void *opaque, const char *key,
                                   const char *value, char *errstr,
                                   size_t errstr_size);

/** Apply every default.  Defaults are valid by construction. */
void sched_conf_defaults(const sched_conf_prop_t *props, void *conf);

/** Set one property from text; validates type and bounds. */
sched_err_t sched_conf_set(const sched_conf_prop_t *props, void *conf,
                           const char *key, const char *value,
                           sched_conf_extra_cb extra, void *opaque,
                           char *errstr, size_t errstr_size);

/** Read a "key = value" file ('#' comments, blank lines). */
sched_err_t sched_conf_load_file(const sched_conf_prop_t *props, void *conf,
                                 const char *path, sched_conf_extra_cb extra,
                                 void *opaque, char *errstr,
                                 size_t errstr_size);

/** Apply KLOK_<NAME> environment overrides for the table's properties. */
sched_err_t sched_conf_load_env(const sched_conf_prop_t *props, void *conf,
                                char *errstr, size_t errstr_size);

/**
 * The usual service start-up: defaults, then `--config FILE`, then the
 * environment, then `--set k=v` options, in that order.  Handles
 * `--help` (prints the table and returns SCHED_ERR_INVALID with errstr "").
 */
sched_err_t sched_conf_from_args(const sched_conf_prop_t *props, void *conf,
                                 int argc, char **argv,
                                 sched_conf_extra_cb extra, void *opaque,
                                 char *errstr, size_t errstr_size);

/** Print the table as help text. */
void sched_conf_usage(const sched_conf_prop_t *props, FILE *fp);

#endif /* SCHED_CONFIG_H */
