/*
 * codec_int.h — private to the codec (codec.c): the body validator and
 * writer→reader resolution.
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
