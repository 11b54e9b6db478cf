/*
 * log.c — JSON-lines logger.  One write(2) per line so lines from several
 * threads never interleave.
 */
#include "sched/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sched/time.h"

volatile int sched_log_min_level = SCHED_LOG_INFO;

static const char *level_names[] = {"debug", "info", "warn", "error"};

int sched_log_set_level(const char *name) {
        for (int i = 0; i < 4; i++) {
                if (!strcmp(name, level_names[i])) {
                        sched_log_min_level = i;
                        return 0;
                }
        }
        return -1;
}

/* Append s JSON-escaped to buf[*pos..size), always leaving room for the
 * closing characters. */
static void json_escape(char *buf, size_t size, size_t *pos, const char *s) {
        for (; *s && *pos + 8 < size; s++) {
                unsigned char c = (unsigned char)*s;
                if (c == '"' || c == '\\') {
                        buf[(*pos)++] = '\\';
                        buf[(*pos)++] = (char)c;
                } else if (c < 0x20) {
                        *pos += (size_t)snprintf(buf + *pos, size - *pos,
                                                 "\\u%04x", c);
                } else {
                        buf[(*pos)++] = (char)c;
                }
        }
}

void sched_log_write(sched_log_level_t level, const char *sub, const char *fmt,
                     ...) {
        char msg[2048], line[4200], ts[SCHED_ISO_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        sched_time_format(sched_now_ms(), ts);

        size_t pos = (size_t)snprintf(line, sizeof(line),
                                      "{\"ts\":\"%s\",\"level\":\"%s\",\"sub\":\"",
                                      ts, level_names[level & 3]);
        json_escape(line, sizeof(line), &pos, sub);
        memcpy(line + pos, "\",\"msg\":\"", 9);
        pos += 9;
        json_escape(line, sizeof(line), &pos, msg);
        memcpy(line + pos, "\"}\n", 3);
        pos += 3;
        ssize_t r = write(STDERR_FILENO, line, pos);
        (void)r;
}
