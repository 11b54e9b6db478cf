/*
 * sched/codec.h — Avro single-object encoding of klok records.
 *
 * Wire form of every record on every klok topic:
 *     C3 01 | CRC-64-AVRO fingerprint of the writer schema (8 bytes,
 *     little-endian) | Avro binary body
 * The fingerprint is computed over the schema's Parsing Canonical Form.
 * A codec knows the current schema of each record type plus any older
 * writer schemas it was given; decoding looks the writer schema up by
 * fingerprint and resolves it to the current (reader) schema, so schemas
 * can evolve with defaults.
 *
 * Thread safety: a codec is immutable after sched_codec_new(); encode and
 * decode may be called from any thread concurrently (each call uses its own
 * avro values).
 */
#ifndef SCHED_CODEC_H
#define SCHED_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "sched/err.h"
#include "sched/event.h"

/** Largest encoded record accepted by the decoder and produced by the
 *  encoder (bytes, header included). */
#define SCHED_CODEC_RECORD_MAX (256 * 1024)

typedef struct sched_codec_s sched_codec_t;

/**
 * Load the schemas from `schema_dir` (the repo's schemas/ folder, installed
 * alongside the binaries): current schemas are `<Name>.avsc`, older writer
 * versions `<Name>.v<N>.avsc`.  Returns NULL and fills errstr on failure.
 */
sched_codec_t *sched_codec_new(const char *schema_dir, char *errstr,
                               size_t errstr_size);
void sched_codec_destroy(sched_codec_t *codec);

/**
 * Encode ev into a malloc'd buffer (*outp, *out_lenp); the caller frees it
 * with free().
 */
sched_err_t sched_codec_encode(const sched_codec_t *codec,
                               const sched_event_t *ev, void **outp,
                               size_t *out_lenp, char *errstr,
                               size_t errstr_size);

/**
 * Decode buf into ev (which need not be initialized; on success the caller
 * calls sched_event_clear() when done; on failure ev holds nothing to free).
 * Never crashes or leaks on any input: returns SCHED_ERR_DECODE,
 * SCHED_ERR_UNKNOWN_SCHEMA or SCHED_ERR_TOO_BIG with a reason in errstr.
 */
sched_err_t sched_codec_decode(const sched_codec_t *codec, const void *buf,
                               size_t len, sched_event_t *ev, char *errstr,
                               size_t errstr_size);

/** Fingerprint of the current schema of a record type (0 if unknown). */
uint64_t sched_codec_fingerprint(const sched_codec_t *codec,
                                 sched_ev_type_t type);

/* --- Building blocks, exposed for tests and tools ------------------------ */

/** CRC-64-AVRO (Rabin) fingerprint of a byte string; empty = 0xc15d213aa4d7a795. */
uint64_t sched_crc64_avro(const void *buf, size_t len);

/**
 * Parsing Canonical Form of a JSON schema text, malloc'd into *outp.
 * Follows the Avro specification's transformation rules ([PRIMITIVES],
 * [FULLNAMES], [STRIP], [ORDER], [STRINGS], [INTEGERS], [WHITESPACE]).
 */
sched_err_t sched_schema_canonical(const char *json, char **outp,
                                   char *errstr, size_t errstr_size);

#endif /* SCHED_CODEC_H */
