/*
 * sched/log.h — structured logs: one JSON object per line on stderr.
 *
 *   {"ts":"…Z","level":"info","sub":"timer","msg":"…"}
 *
 * The level is checked before anything is formatted (Redis serverLog), so
 * debug logging on a hot path costs one comparison when it is off.
 */
#ifndef SCHED_LOG_H
#define SCHED_LOG_H

typedef enum sched_log_level_e {
        SCHED_LOG_DEBUG = 0,
        SCHED_LOG_INFO = 1,
        SCHED_LOG_WARN = 2,
        SCHED_LOG_ERROR = 3,
} sched_log_level_t;

extern volatile int sched_log_min_level;

/** Set the level from a name ("debug", "info", "warn", "error"); returns
 *  -1 on an unknown name. */
int sched_log_set_level(const char *name);

void sched_log_write(sched_log_level_t level, const char *sub, const char *fmt,
                     ...) __attribute__((format(printf, 3, 4)));

#define sched_log(level, sub, ...)                                            \
        do {                                                                  \
                if ((int)(level) >= sched_log_min_level)                      \
                        sched_log_write(level, sub, __VA_ARGS__);             \
        } while (0)

#define sched_debug(sub, ...) sched_log(SCHED_LOG_DEBUG, sub, __VA_ARGS__)
#define sched_info(sub, ...) sched_log(SCHED_LOG_INFO, sub, __VA_ARGS__)
#define sched_warn(sub, ...) sched_log(SCHED_LOG_WARN, sub, __VA_ARGS__)
#define sched_error(sub, ...) sched_log(SCHED_LOG_ERROR, sub, __VA_ARGS__)

#endif /* SCHED_LOG_H */
