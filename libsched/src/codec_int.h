/*
 * codec_int.h — private to the codec (codec.c): the C ↔ Avro field tables,
 * the direct reader/writer of current-schema bodies (codec_direct.c), the
 * body validator (codec_check.c) and writer→reader resolution
 * (codec_resolve.c).
 *
 * Why not avro-c for these two jobs:
 *  - avro-c 1.11.1 trusts its input: negative or huge string lengths and
 *    block counts make it read out of bounds or allocate without limit, so
 *    every body is walked by sched_codec_check() first and avro-c only ever
 *    reads well-formed bytes.
 *  - avro-c 1.11.1's resolved writer neither fills reader fields missing in
 *    the writer from their defaults (it refuses the pair: "Reader field ...
 *    doesn't appear in writer") nor maps enum symbols by name (it copies the
 *    index).  Both are what schema evolution needs, so decoding reads the
 *    body into a generic value of the *writer* schema and a resolution plan
 *    built here copies it into a value of the reader (current) schema.
 */
#ifndef SCHED_CODEC_INT_H
#define SCHED_CODEC_INT_H

#include <avro.h>

#include "avro_schema.h"
#include "sched/err.h"
#include "sched/event.h"

/* --- C ↔ Avro field tables (the tables themselves are in codec.c) -------- */

typedef enum sched_codec_fkind_e {
        CF_STR,    /* char[size] ↔ string */
        CF_HSTR,   /* heap char * (strlen ≤ size) ↔ string */
        CF_LONG,   /* int64_t ↔ long */
        CF_INT,    /* int32_t ↔ int */
        CF_BOOL,   /* bool ↔ boolean */
        CF_DOUBLE, /* double ↔ double */
        CF_ENUM,   /* C enum (int-sized) ↔ enum, same symbol order */
        CF_REC,    /* nested struct ↔ record (sub table) */
} sched_codec_fkind_t;

typedef enum sched_codec_presence_e {
        CP_REQUIRED, /* plain Avro type */
        CP_SENTINEL, /* ["null", T]: null ↔ "" / NULL / SCHED_NONE / -1 */
        CP_FLAG,     /* ["null", T]: null ↔ bool at flag_off is false */
} sched_codec_presence_t;

typedef struct sched_codec_rdesc_s sched_codec_rdesc_t;

typedef struct sched_codec_fdesc_s {
        const char *name; /* Avro field name */
        sched_codec_fkind_t kind;
        sched_codec_presence_t presence;
        size_t off;      /* C member, from the start of the record's struct */
        size_t size;     /* CF_STR: array size; CF_HSTR: largest strlen */
        size_t flag_off; /* CP_FLAG: the bool saying the value is present */
        const char *empty_as;           /* CF_STR "" / CF_HSTR NULL encode
                                         * as this (required fields) */
        const sched_codec_rdesc_t *sub; /* CF_REC */
        const char *(*sym)(int value);  /* CF_ENUM: name of a C value */
        int sym_cnt;                    /* CF_ENUM: number of C values */
} sched_codec_fdesc_t;

struct sched_codec_rdesc_s {
        const char *name; /* Avro record name, unqualified */
        const sched_codec_fdesc_t *fields;
        size_t cnt;
};

/* --- Direct reader/writer (codec_direct.c) -------------------------------- */

/** A current schema compiled against its C table: the fields in schema
 *  order, nested records inlined. */
typedef struct sched_codec_prog_s sched_codec_prog_t;

/** Compile rd against the record node rec (sched_codec_map_check() has
 *  accepted the pair). */
sched_err_t sched_codec_prog_new(const sched_codec_rdesc_t *rd,
                                 const sched_avro_node_t *rec,
                                 sched_codec_prog_t **progp, char *errstr,
                                 size_t errstr_size);
void sched_codec_prog_destroy(sched_codec_prog_t *prog);

/**
 * Write ev's Avro binary body after `hdr_len` bytes left for the caller
 * (the header) into a new malloc'd buffer of at most `max` bytes in all.
 * The same checks as ever: string limits, UTF-8, enum ranges.
 * @locality any thread
 */
sched_err_t sched_codec_prog_encode(const sched_codec_prog_t *prog,
                                    const sched_event_t *ev, size_t hdr_len,
                                    size_t max, unsigned char **outp,
                                    size_t *out_lenp, char *errstr,
                                    size_t errstr_size);

/**
 * Read a body written with this very schema into ev (initialized to its
 * type by the caller).  The body must have passed sched_codec_check();
 * strings are still checked for their limit, NUL bytes and UTF-8.
 * @locality any thread
 */
sched_err_t sched_codec_prog_decode(const sched_codec_prog_t *prog,
                                    const void *body, size_t len,
                                    sched_event_t *ev, char *errstr,
                                    size_t errstr_size);

/** The checks every decoded string passes (limit, no NUL, UTF-8). */
sched_err_t sched_codec_text_check(const sched_codec_fdesc_t *fd,
                                   const char *s, size_t len, char *errstr,
                                   size_t errstr_size);


/**
 * Walk an Avro binary body against its writer schema without building
 * anything: varints of at most 10 bytes (5 for int), lengths and block
 * sizes non-negative and within the bytes left, booleans 0/1, union and
 * enum indices in range, and every byte consumed.  The schema must not be
 * recursive.  SCHED_ERR_DECODE with the offset and field on failure.
 * @locality any thread
 */
sched_err_t sched_codec_check(const sched_avro_node_t *root, const void *body,
                              size_t len, char *errstr, size_t errstr_size);

/** How to turn a value of a writer schema into one of the reader schema. */
typedef struct sched_codec_plan_s sched_codec_plan_t;

/**
 * Build the plan for writer schema w read as reader schema r, following the
 * specification's "Schema Resolution": records by field name (missing
 * fields from their defaults, extra writer fields skipped), enums by symbol
 * name (unknown symbols: the reader's enum default, else an error when
 * met), unions branch by branch, numeric promotions and bytes↔string.
 * Reader types are limited to what klok's records map to C (no array, map,
 * fixed or bytes in the reader).  Neither schema may be recursive.
 */
sched_err_t sched_codec_plan_new(const sched_avro_node_t *w,
                                 const sched_avro_node_t *r,
                                 sched_codec_plan_t **planp, char *errstr,
                                 size_t errstr_size);
void sched_codec_plan_destroy(sched_codec_plan_t *plan);

/** Fill rv (a fresh generic value of the reader schema) from wv.
 *  @locality any thread (the plan is read-only) */
sched_err_t sched_codec_plan_apply(const sched_codec_plan_t *plan,
                                   avro_value_t *wv, avro_value_t *rv,
                                   char *errstr, size_t errstr_size);

/** Check that every field default in the schema matches its type (the
 *  types defaults are supported for: primitives but bytes, enum, record,
 *  union). */
sched_err_t sched_codec_defaults_check(const sched_avro_schema_t *schema,
                                       char *errstr, size_t errstr_size);

#endif /* SCHED_CODEC_INT_H */
