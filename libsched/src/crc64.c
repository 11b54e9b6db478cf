/*
 * crc64.c — CRC-64-AVRO, the Rabin fingerprint the Avro specification uses
 * for schema fingerprints ("Schema Fingerprints" in the spec).
 *
 * Reflected CRC with the polynomial whose reflected form is the empty
 * fingerprint itself, 0xc15d213aa4d7a795, and no final xor: the fingerprint
 * of the empty string is that constant.  Table-driven, one byte per step;
 * the table is built once, on first use.
 */
#include <pthread.h>
#include <stdint.h>

#include "sched/codec.h"

#define SCHED_CRC64_EMPTY UINT64_C(0xc15d213aa4d7a795)

static uint64_t sched_crc64_table[256];
static pthread_once_t sched_crc64_once = PTHREAD_ONCE_INIT;

static void sched_crc64_table_init(void) {
        unsigned i, j;

        for (i = 0; i < 256; i++) {
                uint64_t fp = i;

                for (j = 0; j < 8; j++)
                        fp = (fp >> 1) ^ (SCHED_CRC64_EMPTY & -(fp & 1));
                sched_crc64_table[i] = fp;
        }
}

uint64_t sched_crc64_avro(const void *buf, size_t len) {
        const unsigned char *p = buf;
        uint64_t fp = SCHED_CRC64_EMPTY;
        size_t i;

        pthread_once(&sched_crc64_once, sched_crc64_table_init);
        for (i = 0; i < len; i++)
                fp = (fp >> 8) ^ sched_crc64_table[(fp ^ p[i]) & 0xff];
        return fp;
}
