/*
 * err.c — string tables and the errstr helper for sched_err_t.
 *
 * Both tables are generated from SCHED_ERR_MAP in sched/err.h, so a new
 * error code only ever needs one line there.
 */
#include <stdarg.h>
#include <stdio.h>

#include "sched/err.h"

static const struct {
        const char *name;
        const char *desc;
} sched_err_descs[SCHED_ERR__CNT] = {
#define SCHED_ERR_DESC(name, desc) [SCHED_ERR_##name] = {#name, desc},
        SCHED_ERR_MAP(SCHED_ERR_DESC)
#undef SCHED_ERR_DESC
};

const char *sched_err2str(sched_err_t err) {
        if ((unsigned)err >= SCHED_ERR__CNT)
                return "unknown error";
        return sched_err_descs[err].desc;
}

const char *sched_err2name(sched_err_t err) {
        if ((unsigned)err >= SCHED_ERR__CNT)
                return "UNKNOWN";
        return sched_err_descs[err].name;
}

sched_err_t sched_seterr(char *errstr, size_t errstr_size, sched_err_t err,
                         const char *fmt, ...) {
        va_list ap;

        if (errstr == NULL || errstr_size == 0)
                return err;
        va_start(ap, fmt);
        vsnprintf(errstr, errstr_size, fmt, ap);
        va_end(ap);
        return err;
}
