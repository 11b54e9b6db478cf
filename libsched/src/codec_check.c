/*
 * codec_check.c — validate an Avro binary body against its writer schema
 * before avro-c reads it (see codec_int.h for why).
 *
 * The walk only moves a cursor: it allocates nothing, and its recursion is
 * bounded by the depth of the (non-recursive) schema.  Array and map blocks
 * can only claim as many items as there are bytes left, so the work done is
 * linear in the input.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#include "codec_int.h"

typedef struct sched_codec_cursor_s {
        const uint8_t *start, *p, *end;
        char *errstr;
        size_t errstr_size;
} sched_codec_cursor_t;

static size_t sched_codec_left(const sched_codec_cursor_t *cur) {
        return (size_t)(cur->end - cur->p);
}

__attribute__((format(printf, 3, 4))) static sched_err_t
sched_codec_check_fail(sched_codec_cursor_t *cur, const char *field,
                       const char *fmt, ...) {
        char msg[160];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (field != NULL)
                return sched_seterr(cur->errstr, cur->errstr_size,
                                    SCHED_ERR_DECODE,
                                    "field '%s': %s (body byte %zu)", field,
                                    msg, (size_t)(cur->p - cur->start));
        return sched_seterr(cur->errstr, cur->errstr_size, SCHED_ERR_DECODE,
                            "%s (body byte %zu)", msg,
                            (size_t)(cur->p - cur->start));
}

/* Unsigned varint of at most maxbytes bytes; the last allowed byte may not
 * carry bits beyond 32 (int) or 64 (long). */
static sched_err_t sched_codec_varint(sched_codec_cursor_t *cur,
                                      const char *field, int maxbytes,
                                      uint64_t *up) {
        uint64_t u = 0;
        int i;

        for (i = 0; i < maxbytes; i++) {
                uint8_t b;

                if (cur->p == cur->end)
                        return sched_codec_check_fail(cur, field,
                                                      "truncated varint");
                b = *cur->p++;
                if (i == maxbytes - 1 && b > (maxbytes == 5 ? 0x0F : 0x01))
                        return sched_codec_check_fail(
                                cur, field, "varint overflows %d bits",
                                maxbytes == 5 ? 32 : 64);
                u |= (uint64_t)(b & 0x7F) << (7 * i);
                if ((b & 0x80) == 0) {
                        *up = u;
                        return SCHED_ERR_OK;
                }
        }
        return sched_codec_check_fail(cur, field, "varint longer than %d bytes",
                                      maxbytes);
}

static sched_err_t sched_codec_long(sched_codec_cursor_t *cur,
                                    const char *field, int64_t *vp) {
        uint64_t u = 0;
        sched_err_t err = sched_codec_varint(cur, field, 10, &u);

        if (err)
                return err;
        *vp = (int64_t)(u >> 1) ^ -(int64_t)(u & 1); /* zigzag */
        return SCHED_ERR_OK;
}

static sched_err_t sched_codec_int(sched_codec_cursor_t *cur,
                                   const char *field, int32_t *vp) {
        uint64_t u = 0;
        sched_err_t err = sched_codec_varint(cur, field, 5, &u);

        if (err)
                return err;
        /* u < 2^32 here, so the zigzag result fits an int32. */
        *vp = (int32_t)((int64_t)(u >> 1) ^ -(int64_t)(u & 1));
        return SCHED_ERR_OK;
}

static sched_err_t sched_codec_skip(sched_codec_cursor_t *cur,
                                    const char *field, size_t n,
                                    const char *what) {
        if (sched_codec_left(cur) < n)
                return sched_codec_check_fail(
                        cur, field, "%s of %zu bytes but only %zu left", what,
                        n, sched_codec_left(cur));
        cur->p += n;
        return SCHED_ERR_OK;
}

/* A bytes or string length and its payload. */
static sched_err_t sched_codec_lenbytes(sched_codec_cursor_t *cur,
                                        const char *field, const char *what) {
        int64_t len;
        sched_err_t err = sched_codec_long(cur, field, &len);

        if (err)
                return err;
        if (len < 0)
                return sched_codec_check_fail(cur, field, "negative %s length",
                                              what);
        if ((uint64_t)len > sched_codec_left(cur))
                return sched_codec_check_fail(
                        cur, field, "%s of %lld bytes but only %zu left", what,
                        (long long)len, sched_codec_left(cur));
        cur->p += len;
        return SCHED_ERR_OK;
}

static sched_err_t sched_codec_node(sched_codec_cursor_t *cur,
                                    const sched_avro_node_t *node,
                                    const char *field);

/* Array items or map entries: blocks of (count, [byte size,] items), ended
 * by a zero count; a negative count announces a byte size. */
static sched_err_t sched_codec_blocks(sched_codec_cursor_t *cur,
                                      const sched_avro_node_t *node,
                                      const char *field) {
        for (;;) {
                int64_t count, bytes = -1, i;
                const uint8_t *block;
                sched_err_t err;

                if ((err = sched_codec_long(cur, field, &count)))
                        return err;
                if (count == 0)
                        return SCHED_ERR_OK;
                if (count < 0) {
                        if (count == INT64_MIN)
                                return sched_codec_check_fail(
                                        cur, field, "invalid block count");
                        count = -count;
                        if ((err = sched_codec_long(cur, field, &bytes)))
                                return err;
                        if (bytes < 0 ||
                            (uint64_t)bytes > sched_codec_left(cur))
                                return sched_codec_check_fail(
                                        cur, field,
                                        "block size %lld with %zu bytes left",
                                        (long long)bytes,
                                        sched_codec_left(cur));
                }
                /* No block may claim more items than there are bytes left:
                 * that bounds the work (and what avro-c allocates) by the
                 * input size.  Only items that take no bytes at all (null,
                 * empty records) could legally exceed it; klok has none. */
                if ((uint64_t)count > sched_codec_left(cur))
                        return sched_codec_check_fail(
                                cur, field,
                                "block of %lld items with %zu bytes left",
                                (long long)count, sched_codec_left(cur));
                block = cur->p;
                for (i = 0; i < count; i++) {
                        if (node->type == SCHED_AVRO_MAP &&
                            (err = sched_codec_lenbytes(cur, field, "map key")))
                                return err;
                        if ((err = sched_codec_node(cur, node->items, field)))
                                return err;
                }
                if (bytes >= 0 && cur->p - block != bytes)
                        return sched_codec_check_fail(
                                cur, field,
                                "block size %lld but its items took %zu",
                                (long long)bytes, (size_t)(cur->p - block));
        }
}

static sched_err_t sched_codec_node(sched_codec_cursor_t *cur,
                                    const sched_avro_node_t *node,
                                    const char *field) {
        sched_err_t err;
        int64_t l;
        int32_t i;
        size_t k;

        switch (node->type) {
        case SCHED_AVRO_NULL:
                return SCHED_ERR_OK;
        case SCHED_AVRO_BOOLEAN:
                if (cur->p == cur->end)
                        return sched_codec_check_fail(cur, field,
                                                      "truncated boolean");
                if (*cur->p > 1)
                        return sched_codec_check_fail(cur, field,
                                                      "boolean byte 0x%02x",
                                                      *cur->p);
                cur->p++;
                return SCHED_ERR_OK;
        case SCHED_AVRO_INT:
                return sched_codec_int(cur, field, &i);
        case SCHED_AVRO_LONG:
                return sched_codec_long(cur, field, &l);
        case SCHED_AVRO_FLOAT:
                return sched_codec_skip(cur, field, 4, "float");
        case SCHED_AVRO_DOUBLE:
                return sched_codec_skip(cur, field, 8, "double");
        case SCHED_AVRO_BYTES:
                return sched_codec_lenbytes(cur, field, "bytes");
        case SCHED_AVRO_STRING:
                return sched_codec_lenbytes(cur, field, "string");
        case SCHED_AVRO_FIXED:
                return sched_codec_skip(cur, field, (size_t)node->size,
                                        "fixed");
        case SCHED_AVRO_ENUM:
                if ((err = sched_codec_int(cur, field, &i)))
                        return err;
                if (i < 0 || (size_t)i >= node->cnt)
                        return sched_codec_check_fail(
                                cur, field, "enum index %d of %zu symbols",
                                (int)i, node->cnt);
                return SCHED_ERR_OK;
        case SCHED_AVRO_UNION:
                if ((err = sched_codec_long(cur, field, &l)))
                        return err;
                if (l < 0 || (uint64_t)l >= node->cnt)
                        return sched_codec_check_fail(
                                cur, field, "union index %lld of %zu branches",
                                (long long)l, node->cnt);
                return sched_codec_node(cur, node->branches[l], field);
        case SCHED_AVRO_RECORD:
                for (k = 0; k < node->cnt; k++)
                        if ((err = sched_codec_node(cur, node->fields[k].type,
                                                    node->fields[k].name)))
                                return err;
                return SCHED_ERR_OK;
        case SCHED_AVRO_ARRAY:
        case SCHED_AVRO_MAP:
                return sched_codec_blocks(cur, node, field);
        }
        return sched_codec_check_fail(cur, field, "unknown schema type");
}

sched_err_t sched_codec_check(const sched_avro_node_t *root, const void *body,
                              size_t len, char *errstr, size_t errstr_size) {
        sched_codec_cursor_t cur = {
                .start = body,
                .p = body,
                .end = (const uint8_t *)body + len,
                .errstr = errstr,
                .errstr_size = errstr_size,
        };
        sched_err_t err = sched_codec_node(&cur, root, NULL);

        if (err)
                return err;
        if (cur.p != cur.end)
                return sched_codec_check_fail(&cur, NULL,
                                              "%zu trailing bytes",
                                              sched_codec_left(&cur));
        return SCHED_ERR_OK;
}
