/*
 * schema_canonical.c — Parsing Canonical Form of Avro schemas.
 *
 * The transformation of the Avro 1.11 specification ("Parsing Canonical
 * Form for Schemas"), applied to a parsed tree (avro_schema.c):
 *   [PRIMITIVES] primitives as bare names ("int", not {"type":"int"});
 *   [FULLNAMES]  named types by fullname, namespaces resolved and dropped;
 *   [STRIP]      only type, name, fields, symbols, items, values and size;
 *   [ORDER]      attributes in that order (name first);
 *   [STRINGS]    JSON escapes turned into UTF-8 (names are plain ASCII);
 *   [INTEGERS]   no quotes or leading zeros (size);
 *   [WHITESPACE] none outside strings.
 * A named type is written in full at its first occurrence in depth-first
 * order and by fullname afterwards.  The text is built as a jansson value
 * (objects keep insertion order) and dumped compact.
 */
#include <stdlib.h>
#include <string.h>

#include "avro_schema.h"
#include "sched/codec.h"

/* Adds key → val to obj, consuming val; false on allocation failure. */
static bool sched_pcf_set(json_t *obj, const char *key, json_t *val) {
        return val != NULL && json_object_set_new(obj, key, val) == 0;
}

static json_t *sched_pcf_node(sched_avro_node_t *node);

static json_t *sched_pcf_named(sched_avro_node_t *node) {
        json_t *obj, *arr = NULL;
        bool ok;
        size_t i;

        if (node->mark) /* already defined: refer to it by name */
                return json_string(node->fullname);
        node->mark = 1;

        obj = json_object();
        if (obj == NULL)
                return NULL;
        ok = sched_pcf_set(obj, "name", json_string(node->fullname));
        switch (node->type) {
        case SCHED_AVRO_RECORD:
                ok = ok && sched_pcf_set(obj, "type",
                                         json_string(node->is_error
                                                             ? "error"
                                                             : "record"));
                ok = ok && sched_pcf_set(obj, "fields", arr = json_array());
                for (i = 0; ok && i < node->cnt; i++) {
                        json_t *f = json_object();

                        ok = f != NULL && json_array_append_new(arr, f) == 0;
                        ok = ok && sched_pcf_set(
                                           f, "name",
                                           json_string(node->fields[i].name));
                        ok = ok && sched_pcf_set(
                                           f, "type",
                                           sched_pcf_node(
                                                   node->fields[i].type));
                }
                break;
        case SCHED_AVRO_ENUM:
                ok = ok && sched_pcf_set(obj, "type", json_string("enum"));
                ok = ok && sched_pcf_set(obj, "symbols", arr = json_array());
                for (i = 0; ok && i < node->cnt; i++)
                        ok = json_array_append_new(
                                     arr, json_string(node->symbols[i])) == 0;
                break;
        default: /* SCHED_AVRO_FIXED */
                ok = ok && sched_pcf_set(obj, "type", json_string("fixed"));
                ok = ok && sched_pcf_set(obj, "size",
                                         json_integer(node->size));
                break;
        }
        if (!ok) {
                json_decref(obj);
                return NULL;
        }
        return obj;
}

/* The canonical JSON of node, or NULL when out of memory. */
static json_t *sched_pcf_node(sched_avro_node_t *node) {
        json_t *obj, *arr;
        size_t i;

        switch (node->type) {
        case SCHED_AVRO_RECORD:
        case SCHED_AVRO_ENUM:
        case SCHED_AVRO_FIXED:
                return sched_pcf_named(node);
        case SCHED_AVRO_ARRAY:
        case SCHED_AVRO_MAP:
                obj = json_object();
                if (obj == NULL ||
                    !sched_pcf_set(obj, "type",
                                   json_string(sched_avro_type2str(
                                           node->type))) ||
                    !sched_pcf_set(obj,
                                   node->type == SCHED_AVRO_ARRAY ? "items"
                                                                  : "values",
                                   sched_pcf_node(node->items))) {
                        json_decref(obj);
                        return NULL;
                }
                return obj;
        case SCHED_AVRO_UNION:
                arr = json_array();
                for (i = 0; arr != NULL && i < node->cnt; i++) {
                        if (json_array_append_new(
                                    arr, sched_pcf_node(node->branches[i]))) {
                                json_decref(arr);
                                return NULL;
                        }
                }
                return arr;
        default: /* primitives */
                return json_string(sched_avro_type2str(node->type));
        }
}

sched_err_t sched_avro_schema_canonical(sched_avro_schema_t *schema,
                                        char **outp, char *errstr,
                                        size_t errstr_size) {
        const size_t flags = JSON_COMPACT | JSON_ENCODE_ANY;
        sched_avro_node_t *node;
        json_t *pcf;
        size_t len;
        char *out;

        *outp = NULL;
        for (node = schema->nodes; node != NULL; node = node->next)
                node->mark = 0;
        pcf = sched_pcf_node(schema->root);
        if (pcf == NULL)
                return sched_seterr(errstr, errstr_size, SCHED_ERR_NOMEM,
                                    "out of memory");
        /* json_dumpb rather than json_dumps: the result must be free()able
         * whatever allocator jansson was given. */
        len = json_dumpb(pcf, NULL, 0, flags);
        out = len ? malloc(len + 1) : NULL;
        if (out == NULL || json_dumpb(pcf, out, len, flags) != len) {
                free(out);
                json_decref(pcf);
                return sched_seterr(errstr, errstr_size, SCHED_ERR_NOMEM,
                                    "out of memory");
        }
        out[len] = '\0';
        json_decref(pcf);
        *outp = out;
        return SCHED_ERR_OK;
}

sched_err_t sched_schema_canonical(const char *json, char **outp,
                                   char *errstr, size_t errstr_size) {
        sched_avro_schema_t *schema;
        sched_err_t err;

        *outp = NULL;
        err = sched_avro_schema_parse(json, strlen(json), &schema, errstr,
                                      errstr_size);
        if (err)
                return err;
        err = sched_avro_schema_canonical(schema, outp, errstr, errstr_size);
        sched_avro_schema_destroy(schema);
        return err;
}
