/*
 * codec_direct.c — Avro binary bodies of the current schemas, read and
 * written straight from and into sched_event_t (see codec_int.h).
 *
 * Every record klok writes, and almost every record it reads, has the
 * current schema of its type.  Going through avro-c's generic values for
 * those cost a tree of allocations and a field lookup by name per field, per
 * record — a fifth of the timer's CPU when it ingests commands.  Here each
 * current schema is compiled once against its C table into a flat list of
 * steps in schema order, and a body is one pass over that list.  Records of
 * older writer schemas still go through avro-c and the resolution plan
 * (codec.c); the python3-avro oracle in the unit tests checks the bytes of
 * both directions.
 *
 * The Avro binary encoding used (specification, "Binary Encoding"): int
 * and long as zig-zag varints, boolean one byte, double 8 bytes
 * little-endian, string a long length then the bytes, enum its index as an
 * int, union the branch index as a long then the value, record its fields
 * in order.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec_int.h"

/* One step: a field of the schema, where its C member is in the event. */
typedef struct sched_codec_step_s {
        const sched_codec_fdesc_t *fd;
        size_t off;      /* member, from the start of the event */
        size_t flag_off; /* CP_FLAG: its bool, from the start of the event */
        size_t skip;     /* CF_REC: steps of its fields (they follow it) */
} sched_codec_step_t;

struct sched_codec_prog_s {
        sched_codec_step_t *steps;
        size_t cnt, cap;
};

/* --- Compiling ------------------------------------------------------------ */

static sched_err_t sched_codec_prog_add(sched_codec_prog_t *prog,
                                        const sched_codec_rdesc_t *rd,
                                        const sched_avro_node_t *rec,
                                        size_t base, char *errstr,
                                        size_t errstr_size) {
        for (size_t i = 0; i < rec->cnt; i++) {
                const sched_codec_fdesc_t *fd = NULL;
                for (size_t k = 0; k < rd->cnt && !fd; k++)
                        if (!strcmp(rd->fields[k].name, rec->fields[i].name))
                                fd = &rd->fields[k];
                if (!fd)
                        return sched_seterr(errstr, errstr_size,
                                            SCHED_ERR_CONFIG,
                                            "record '%s': field '%s' has no "
                                            "C mapping",
                                            rd->name, rec->fields[i].name);
                if (prog->cnt == prog->cap) {
                        size_t cap = prog->cap ? 2 * prog->cap : 32;
                        sched_codec_step_t *s =
                                realloc(prog->steps, cap * sizeof(*s));
                        if (!s)
                                return sched_seterr(errstr, errstr_size,
                                                    SCHED_ERR_NOMEM,
                                                    "out of memory");
                        prog->steps = s;
                        prog->cap = cap;
                }
                size_t at = prog->cnt++;
                prog->steps[at] = (sched_codec_step_t){
                        fd, base + fd->off, base + fd->flag_off, 0};
                if (fd->kind != CF_REC)
                        continue;
                const sched_avro_node_t *t = rec->fields[i].type;
                if (fd->presence != CP_REQUIRED) /* ["null", record] */
                        t = t->branches[1];
                sched_err_t err = sched_codec_prog_add(
                        prog, fd->sub, t, base + fd->off, errstr, errstr_size);
                if (err)
                        return err;
                prog->steps[at].skip = prog->cnt - at - 1;
        }
        return SCHED_ERR_OK;
}

sched_err_t sched_codec_prog_new(const sched_codec_rdesc_t *rd,
                                 const sched_avro_node_t *rec,
                                 sched_codec_prog_t **progp, char *errstr,
                                 size_t errstr_size) {
        sched_codec_prog_t *prog = calloc(1, sizeof(*prog));
        if (!prog)
                return sched_seterr(errstr, errstr_size, SCHED_ERR_NOMEM,
                                    "out of memory");
        sched_err_t err =
                sched_codec_prog_add(prog, rd, rec, 0, errstr, errstr_size);
        if (err) {
                sched_codec_prog_destroy(prog);
                return err;
        }
        *progp = prog;
        return SCHED_ERR_OK;
}

void sched_codec_prog_destroy(sched_codec_prog_t *prog) {
        if (!prog)
                return;
        free(prog->steps);
        free(prog);
}

/* --- Writing -------------------------------------------------------------- */

typedef struct sched_codec_out_s {
        unsigned char *buf;
        size_t len, cap, max;
        sched_err_t err; /* the first failure */
} sched_codec_out_t;

static unsigned char *sched_codec_out_room(sched_codec_out_t *o, size_t n) {
        if (o->err)
                return NULL;
        if (n > o->max || o->len > o->max - n) {
                o->err = SCHED_ERR_TOO_BIG;
                return NULL;
        }
        if (o->len + n > o->cap) {
                size_t cap = o->cap;
                while (cap < o->len + n)
                        cap *= 2;
                unsigned char *b = realloc(o->buf, cap);
                if (!b) {
                        o->err = SCHED_ERR_NOMEM;
                        return NULL;
                }
                o->buf = b;
                o->cap = cap;
        }
        unsigned char *p = o->buf + o->len;
        o->len += n;
        return p;
}

static void sched_codec_out_long(sched_codec_out_t *o, int64_t v) {
        uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); /* zig-zag */
        unsigned char tmp[10];
        size_t n = 0;
        do {
                unsigned char b = z & 0x7f;
                z >>= 7;
                tmp[n++] = (unsigned char)(b | (z ? 0x80 : 0));
        } while (z);
        unsigned char *p = sched_codec_out_room(o, n);
        if (p)
                memcpy(p, tmp, n);
}

static void sched_codec_out_bytes(sched_codec_out_t *o, const void *s,
                                  size_t len) {
        sched_codec_out_long(o, (int64_t)len);
        unsigned char *p = sched_codec_out_room(o, len);
        if (p && len)
                memcpy(p, s, len);
}

/* Whether the member at p holds the "absent" sentinel of its kind. */
static bool sched_codec_absent(const sched_codec_fdesc_t *fd, const char *p) {
        switch (fd->kind) {
        case CF_STR:
                return p[0] == '\0';
        case CF_HSTR:
                return *(char *const *)p == NULL;
        case CF_LONG:
                return *(const int64_t *)p == SCHED_NONE;
        case CF_INT:
                return *(const int32_t *)p == -1;
        default:
                return false;
        }
}

/* A string member's text and length, or an error for one over its limit
 * or not UTF-8. */
static sched_err_t sched_codec_text(const sched_codec_fdesc_t *fd,
                                    const char *p, const char **sp,
                                    size_t *lenp, char *errstr,
                                    size_t errstr_size) {
        const char *s;
        size_t len, max;
        if (fd->kind == CF_STR) {
                s = p;
                max = fd->size - 1;
                len = strnlen(s, fd->size);
                if (len == 0 && fd->empty_as) {
                        s = fd->empty_as;
                        len = strlen(s);
                }
        } else {
                s = *(char *const *)p;
                if (!s)
                        s = fd->empty_as ? fd->empty_as : "";
                max = fd->size;
                len = strnlen(s, fd->size + 1);
        }
        if (len > max)
                return sched_seterr(errstr, errstr_size, SCHED_ERR_TOO_BIG,
                                    "field '%s': string longer than %zu "
                                    "bytes",
                                    fd->name, max);
        if (!sched_utf8_valid(s, len))
                return sched_seterr(errstr, errstr_size, SCHED_ERR_ENCODE,
                                    "field '%s': not valid UTF-8", fd->name);
        *sp = s;
        *lenp = len;
        return SCHED_ERR_OK;
}

sched_err_t sched_codec_prog_encode(const sched_codec_prog_t *prog,
                                    const sched_event_t *ev, size_t hdr_len,
                                    size_t max, unsigned char **outp,
                                    size_t *out_lenp, char *errstr,
                                    size_t errstr_size) {
        const char *base = (const char *)ev;
        sched_codec_out_t o = {NULL, 0, 512, max, SCHED_ERR_OK};
        sched_err_t err = SCHED_ERR_OK;

        if (!(o.buf = malloc(o.cap)))
                return sched_seterr(errstr, errstr_size, SCHED_ERR_NOMEM,
                                    "out of memory");
        sched_codec_out_room(&o, hdr_len);
        for (size_t i = 0; i < prog->cnt && !err && !o.err; i++) {
                const sched_codec_step_t *st = &prog->steps[i];
                const sched_codec_fdesc_t *fd = st->fd;
                const char *p = base + st->off;
                const char *s = NULL;
                size_t len = 0;

                if (fd->presence != CP_REQUIRED) {
                        bool present = fd->presence == CP_FLAG
                                               ? *(const bool *)(base +
                                                                 st->flag_off)
                                               : !sched_codec_absent(fd, p);
                        sched_codec_out_long(&o, present);
                        if (!present) {
                                i += st->skip;
                                continue;
                        }
                }
                switch (fd->kind) {
                case CF_STR:
                case CF_HSTR:
                        err = sched_codec_text(fd, p, &s, &len, errstr,
                                               errstr_size);
                        if (!err)
                                sched_codec_out_bytes(&o, s, len);
                        break;
                case CF_LONG:
                        sched_codec_out_long(&o, *(const int64_t *)p);
                        break;
                case CF_INT:
                        sched_codec_out_long(&o, *(const int32_t *)p);
                        break;
                case CF_BOOL: {
                        unsigned char *q = sched_codec_out_room(&o, 1);
                        if (q)
                                *q = *(const bool *)p ? 1 : 0;
                        break;
                }
                case CF_DOUBLE: {
                        uint64_t bits;
                        memcpy(&bits, p, sizeof(bits));
                        unsigned char *q = sched_codec_out_room(&o, 8);
                        for (int k = 0; q && k < 8; k++)
                                q[k] = (unsigned char)(bits >> (8 * k));
                        break;
                }
                case CF_ENUM: {
                        int e = *(const int *)p;
                        if (e < 0 || e >= fd->sym_cnt)
                                err = sched_seterr(errstr, errstr_size,
                                                   SCHED_ERR_INVALID,
                                                   "field '%s': %d is not a "
                                                   "valid value",
                                                   fd->name, e);
                        else
                                sched_codec_out_long(&o, e);
                        break;
                }
                case CF_REC: /* its fields are the next steps */
                        break;
                }
        }
        if (!err && o.err == SCHED_ERR_TOO_BIG)
                err = sched_seterr(errstr, errstr_size, SCHED_ERR_TOO_BIG,
                                   "record exceeds %zu bytes", max);
        else if (!err && o.err)
                err = sched_seterr(errstr, errstr_size, o.err,
                                   "out of memory");
        if (err) {
                free(o.buf);
                return err;
        }
        *outp = o.buf;
        *out_lenp = o.len;
        return SCHED_ERR_OK;
}

/* --- Reading -------------------------------------------------------------- */

typedef struct sched_codec_in_s {
        const unsigned char *p, *end;
        bool bad;
} sched_codec_in_t;

static int64_t sched_codec_in_long(sched_codec_in_t *in) {
        uint64_t z = 0;
        for (int shift = 0; shift < 70; shift += 7) {
                if (in->p >= in->end) {
                        in->bad = true;
                        return 0;
                }
                unsigned char b = *in->p++;
                z |= (uint64_t)(b & 0x7f) << shift;
                if (!(b & 0x80))
                        return (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
        }
        in->bad = true;
        return 0;
}

static const unsigned char *sched_codec_in_take(sched_codec_in_t *in,
                                                size_t n) {
        if (in->bad || (size_t)(in->end - in->p) < n) {
                in->bad = true;
                return NULL;
        }
        const unsigned char *q = in->p;
        in->p += n;
        return q;
}

sched_err_t sched_codec_text_check(const sched_codec_fdesc_t *fd,
                                   const char *s, size_t len, char *errstr,
                                   size_t errstr_size) {
        size_t max = fd->kind == CF_STR ? fd->size - 1 : fd->size;

        if (len > max)
                return sched_seterr(errstr, errstr_size, SCHED_ERR_TOO_BIG,
                                    "field '%s': string longer than %zu bytes",
                                    fd->name, max);
        if (memchr(s, '\0', len) != NULL)
                return sched_seterr(errstr, errstr_size, SCHED_ERR_DECODE,
                                    "field '%s': string holds a NUL byte",
                                    fd->name);
        if (!sched_utf8_valid(s, len))
                return sched_seterr(errstr, errstr_size, SCHED_ERR_DECODE,
                                    "field '%s': not valid UTF-8", fd->name);
        return SCHED_ERR_OK;
}

sched_err_t sched_codec_prog_decode(const sched_codec_prog_t *prog,
                                    const void *body, size_t len,
                                    sched_event_t *ev, char *errstr,
                                    size_t errstr_size) {
        char *base = (char *)ev;
        sched_codec_in_t in = {body, (const unsigned char *)body + len, false};
        sched_err_t err = SCHED_ERR_OK;

        for (size_t i = 0; i < prog->cnt && !err && !in.bad; i++) {
                const sched_codec_step_t *st = &prog->steps[i];
                const sched_codec_fdesc_t *fd = st->fd;
                char *p = base + st->off;

                if (fd->presence != CP_REQUIRED) {
                        int64_t branch = sched_codec_in_long(&in);
                        if (fd->presence == CP_FLAG)
                                *(bool *)(base + st->flag_off) = branch != 0;
                        if (branch == 0) { /* null: left as initialized */
                                i += st->skip;
                                continue;
                        }
                }
                switch (fd->kind) {
                case CF_STR:
                case CF_HSTR: {
                        int64_t n = sched_codec_in_long(&in);
                        const unsigned char *s =
                                n < 0 ? NULL
                                      : sched_codec_in_take(&in, (size_t)n);
                        if (!s)
                                break;
                        if ((err = sched_codec_text_check(
                                     fd, (const char *)s, (size_t)n, errstr,
                                     errstr_size)))
                                break;
                        if (fd->kind == CF_STR) {
                                memcpy(p, s, (size_t)n);
                                p[n] = '\0';
                                break;
                        }
                        char *copy = malloc((size_t)n + 1);
                        if (!copy) {
                                err = sched_seterr(errstr, errstr_size,
                                                   SCHED_ERR_NOMEM,
                                                   "out of memory");
                                break;
                        }
                        memcpy(copy, s, (size_t)n);
                        copy[n] = '\0';
                        free(*(char **)p);
                        *(char **)p = copy;
                        break;
                }
                case CF_LONG:
                        *(int64_t *)p = sched_codec_in_long(&in);
                        break;
                case CF_INT: {
                        int64_t v = sched_codec_in_long(&in);
                        if (v < INT32_MIN || v > INT32_MAX)
                                err = sched_seterr(errstr, errstr_size,
                                                   SCHED_ERR_DECODE,
                                                   "field '%s': %lld is out "
                                                   "of the int range",
                                                   fd->name, (long long)v);
                        else
                                *(int32_t *)p = (int32_t)v;
                        break;
                }
                case CF_BOOL: {
                        const unsigned char *q = sched_codec_in_take(&in, 1);
                        if (q)
                                *(bool *)p = *q != 0;
                        break;
                }
                case CF_DOUBLE: {
                        const unsigned char *q = sched_codec_in_take(&in, 8);
                        uint64_t bits = 0;
                        for (int k = 7; q && k >= 0; k--)
                                bits = bits << 8 | q[k];
                        if (q)
                                memcpy(p, &bits, sizeof(bits));
                        break;
                }
                case CF_ENUM: {
                        int64_t e = sched_codec_in_long(&in);
                        if (e < 0 || e >= fd->sym_cnt) /* checked before */
                                err = sched_seterr(errstr, errstr_size,
                                                   SCHED_ERR_DECODE,
                                                   "field '%s': enum index "
                                                   "%lld",
                                                   fd->name, (long long)e);
                        else
                                *(int *)p = (int)e;
                        break;
                }
                case CF_REC: /* its fields are the next steps */
                        break;
                }
        }
        if (!err && (in.bad || in.p != in.end))
                err = sched_seterr(errstr, errstr_size, SCHED_ERR_DECODE,
                                   "body does not match its schema");
        return err;
}
