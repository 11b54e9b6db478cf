/*
 * avro_schema.h — private to libsched: an Avro schema (JSON text) parsed
 * into a tree of nodes.
 *
 * avro-c parses schemas too, but it keeps neither field defaults nor the
 * original namespaces in a form we can walk, so the codec parses each schema
 * file a second time into this tree.  It is what the Parsing Canonical Form,
 * the body validator and writer→reader resolution work from.  Trees are
 * built once, when a codec is created, and are read-only afterwards (except
 * `mark`, which only load-time walks use).
 */
#ifndef SCHED_AVRO_SCHEMA_H
#define SCHED_AVRO_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "sched/err.h"

/* The first eight (the primitives) are in the order of the spec's list. */
typedef enum sched_avro_type_e {
        SCHED_AVRO_NULL,
        SCHED_AVRO_BOOLEAN,
        SCHED_AVRO_INT,
        SCHED_AVRO_LONG,
        SCHED_AVRO_FLOAT,
        SCHED_AVRO_DOUBLE,
        SCHED_AVRO_BYTES,
        SCHED_AVRO_STRING,
        SCHED_AVRO_RECORD,
        SCHED_AVRO_ENUM,
        SCHED_AVRO_FIXED,
        SCHED_AVRO_ARRAY,
        SCHED_AVRO_MAP,
        SCHED_AVRO_UNION,
} sched_avro_type_t;

/** Deepest nesting of schema JSON the parser accepts. */
#define SCHED_AVRO_DEPTH_MAX 64

typedef struct sched_avro_node_s sched_avro_node_t;

typedef struct sched_avro_field_s {
        char *name;
        sched_avro_node_t *type;
        json_t *dflt; /* "default" value (a reference we hold), or NULL */
} sched_avro_field_t;

struct sched_avro_node_s {
        sched_avro_type_t type;
        char *fullname;   /* named types: namespace-qualified name */
        const char *name; /* named types: unqualified part of fullname */
        bool is_error;    /* RECORD declared as "error" */
        size_t cnt;       /* number of fields, symbols or branches */
        sched_avro_field_t *fields;    /* RECORD */
        char **symbols;                /* ENUM */
        int enum_default;              /* ENUM: index of "default", or -1 */
        sched_avro_node_t **branches;  /* UNION */
        sched_avro_node_t *items;      /* ARRAY items, MAP values */
        int64_t size;                  /* FIXED */
        int mark;                      /* scratch for load-time walks */
        sched_avro_node_t *next;       /* every node of the schema */
};

typedef struct sched_avro_schema_s {
        sched_avro_node_t *root;
        sched_avro_node_t *nodes; /* list of all nodes, for freeing */
} sched_avro_schema_t;

/** "null", "record", ... */
const char *sched_avro_type2str(sched_avro_type_t type);

/**
 * Parse a schema from JSON text.  Names, namespaces, unions and enum
 * symbols are checked as the specification requires; defaults are kept but
 * not checked (see sched_codec_defaults_check()), and recursive types are
 * accepted (see sched_avro_schema_is_recursive()).
 */
sched_err_t sched_avro_schema_parse(const char *json, size_t len,
                                    sched_avro_schema_t **schemap,
                                    char *errstr, size_t errstr_size);
void sched_avro_schema_destroy(sched_avro_schema_t *schema);

/** Parsing Canonical Form of a parsed schema, malloc'd into *outp. */
sched_err_t sched_avro_schema_canonical(sched_avro_schema_t *schema,
                                        char **outp, char *errstr,
                                        size_t errstr_size);

/** True when some named type contains itself, directly or not. */
bool sched_avro_schema_is_recursive(sched_avro_schema_t *schema);

/** Index of the field called name in a RECORD node, or -1. */
int sched_avro_field_index(const sched_avro_node_t *rec, const char *name);

#endif /* SCHED_AVRO_SCHEMA_H */
