/*
 * avro_schema.c — parse Avro schema JSON into a sched_avro_schema_t tree.
 *
 * Follows the "Schema Declaration" and "Names" sections of the Avro 1.11
 * specification: a schema is a JSON string (a primitive or a defined name),
 * an object ({"type": ...}) or an array (a union).  Named types are
 * registered under their fullname before their body is parsed, so a record
 * may refer to itself; a later reference by name yields the same node, which
 * makes the tree a DAG in which the first occurrence of a named type (in
 * document order) is its definition — exactly what the canonical form needs.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "avro_schema.h"

static const char *const sched_avro_type_names[] = {
        [SCHED_AVRO_NULL] = "null",     [SCHED_AVRO_BOOLEAN] = "boolean",
        [SCHED_AVRO_INT] = "int",       [SCHED_AVRO_LONG] = "long",
        [SCHED_AVRO_FLOAT] = "float",   [SCHED_AVRO_DOUBLE] = "double",
        [SCHED_AVRO_BYTES] = "bytes",   [SCHED_AVRO_STRING] = "string",
        [SCHED_AVRO_RECORD] = "record", [SCHED_AVRO_ENUM] = "enum",
        [SCHED_AVRO_FIXED] = "fixed",   [SCHED_AVRO_ARRAY] = "array",
        [SCHED_AVRO_MAP] = "map",       [SCHED_AVRO_UNION] = "union",
};

const char *sched_avro_type2str(sched_avro_type_t type) {
        if ((unsigned)type > SCHED_AVRO_UNION)
                return "?";
        return sched_avro_type_names[type];
}

/* Primitive type called s, or -1. */
static int sched_avro_primitive(const char *s) {
        int t;

        for (t = SCHED_AVRO_NULL; t <= SCHED_AVRO_STRING; t++)
                if (strcmp(s, sched_avro_type_names[t]) == 0)
                        return t;
        return -1;
}

int sched_avro_field_index(const sched_avro_node_t *rec, const char *name) {
        size_t i;

        for (i = 0; i < rec->cnt; i++)
                if (strcmp(rec->fields[i].name, name) == 0)
                        return (int)i;
        return -1;
}

/* --- Parser state --------------------------------------------------------- */

typedef struct sched_avro_parse_s {
        sched_avro_schema_t *schema;
        sched_avro_node_t **named; /* defined named types */
        size_t named_cnt, named_size;
        char *errstr;
        size_t errstr_size;
} sched_avro_parse_t;

#define PARSE_ERR(ps, err, ...)                                               \
        sched_seterr((ps)->errstr, (ps)->errstr_size, err, __VA_ARGS__)

static sched_avro_node_t *sched_avro_node_new(sched_avro_parse_t *ps,
                                              sched_avro_type_t type) {
        sched_avro_node_t *node = calloc(1, sizeof(*node));

        if (node == NULL)
                return NULL;
        node->type = type;
        node->enum_default = -1;
        node->next = ps->schema->nodes;
        ps->schema->nodes = node;
        return node;
}

/* [A-Za-z_][A-Za-z0-9_]* of length len. */
static bool sched_avro_name_valid(const char *s, size_t len) {
        size_t i;

        if (len == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
                return false;
        for (i = 1; i < len; i++)
                if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
                        return false;
        return true;
}

/* Dot-separated names; "" is the null namespace when allow_empty. */
static bool sched_avro_dotted_valid(const char *s, bool allow_empty) {
        const char *dot;

        if (*s == '\0')
                return allow_empty;
        while ((dot = strchr(s, '.')) != NULL) {
                if (!sched_avro_name_valid(s, (size_t)(dot - s)))
                        return false;
                s = dot + 1;
        }
        return sched_avro_name_valid(s, strlen(s));
}

/* Fullname of `name` in namespace ns[0..nslen): names with a dot are
 * already full. */
static char *sched_avro_qualify(const char *name, const char *ns,
                                size_t nslen) {
        size_t len = strlen(name);
        char *full;

        if (strchr(name, '.') != NULL || nslen == 0)
                return strdup(name);
        full = malloc(nslen + 1 + len + 1);
        if (full == NULL)
                return NULL;
        memcpy(full, ns, nslen);
        full[nslen] = '.';
        memcpy(full + nslen + 1, name, len + 1);
        return full;
}

static sched_avro_node_t *sched_avro_lookup(const sched_avro_parse_t *ps,
                                            const char *fullname) {
        size_t i;

        for (i = 0; i < ps->named_cnt; i++)
                if (strcmp(ps->named[i]->fullname, fullname) == 0)
                        return ps->named[i];
        return NULL;
}

/* Namespace of a named node: its fullname up to the last dot. */
static size_t sched_avro_ns_len(const sched_avro_node_t *node) {
        return node->name == node->fullname
                       ? 0
                       : (size_t)(node->name - node->fullname - 1);
}

static sched_err_t sched_avro_parse_node(sched_avro_parse_t *ps, json_t *j,
                                         const char *ns, size_t nslen,
                                         int depth,
                                         sched_avro_node_t **nodep);

/* A type given by name: a primitive or an already defined named type. */
static sched_err_t sched_avro_parse_ref(sched_avro_parse_t *ps,
                                        const char *s, const char *ns,
                                        size_t nslen,
                                        sched_avro_node_t **nodep) {
        int prim = sched_avro_primitive(s);
        char *full;

        if (prim >= 0) {
                *nodep = sched_avro_node_new(ps, (sched_avro_type_t)prim);
                return *nodep ? SCHED_ERR_OK
                              : PARSE_ERR(ps, SCHED_ERR_NOMEM, "out of memory");
        }
        full = sched_avro_qualify(s, ns, nslen);
        if (full == NULL)
                return PARSE_ERR(ps, SCHED_ERR_NOMEM, "out of memory");
        *nodep = sched_avro_lookup(ps, full);
        free(full);
        if (*nodep == NULL)
                return PARSE_ERR(ps, SCHED_ERR_INVALID, "unknown type '%s'",
                                 s);
        return SCHED_ERR_OK;
}

/* Name, fullname and registration shared by record, enum and fixed. */
static sched_err_t sched_avro_parse_named(sched_avro_parse_t *ps, json_t *j,
                                          sched_avro_type_t type,
                                          const char *ns, size_t nslen,
                                          sched_avro_node_t **nodep) {
        json_t *jname = json_object_get(j, "name");
        json_t *jns = json_object_get(j, "namespace");
        const char *name, *dot;
        sched_avro_node_t *node, **grown;
        char *full;

        if (!json_is_string(jname))
                return PARSE_ERR(ps, SCHED_ERR_INVALID,
                                 "%s without a string \"name\"",
                                 sched_avro_type2str(type));
        name = json_string_value(jname);
        if (strchr(name, '.') == NULL && jns != NULL && !json_is_null(jns)) {
                if (!json_is_string(jns) ||
                    !sched_avro_dotted_valid(json_string_value(jns), true))
                        return PARSE_ERR(ps, SCHED_ERR_INVALID,
                                         "invalid namespace of '%s'", name);
                ns = json_string_value(jns);
                nslen = strlen(ns);
        }
        full = sched_avro_qualify(name, ns, nslen);
        if (full == NULL)
                return PARSE_ERR(ps, SCHED_ERR_NOMEM, "out of memory");
        dot = strrchr(full, '.');
        if (!sched_avro_dotted_valid(full, false) ||
            sched_avro_primitive(dot ? dot + 1 : full) >= 0) {
                PARSE_ERR(ps, SCHED_ERR_INVALID, "invalid name '%s'", full);
                free(full);
                return SCHED_ERR_INVALID;
        }
        if (sched_avro_lookup(ps, full) != NULL) {
                PARSE_ERR(ps, SCHED_ERR_INVALID, "type '%s' defined twice",
                          full);
                free(full);
                return SCHED_ERR_INVALID;
        }
        if (ps->named_cnt == ps->named_size) {
                size_t size = ps->named_size ? 2 * ps->named_size : 16;

                grown = realloc(ps->named, size * sizeof(*grown));
                if (grown == NULL) {
                        free(full);
                        return PARSE_ERR(ps, SCHED_ERR_NOMEM, "out of memory");
                }
                ps->named = grown;
                ps->named_size = size;
        }
        node = sched_avro_node_new(ps, type);
        if (node == NULL) {
                free(full);
                return PARSE_ERR(ps, SCHED_ERR_NOMEM, "out of memory");
        }
        node->fullname = full;
        node->name = dot ? dot + 1 : full;
        ps->named[ps->named_cnt++] = node;
        *nodep = node;
        return SCHED_ERR_OK;
}

static sched_err_t sched_avro_parse_record(sched_avro_parse_t *ps, json_t *j,
                                           sched_avro_node_t *node,
                                           int depth) {
        json_t *jfields = json_object_get(j, "fields");
        size_t i, cnt, nslen = sched_avro_ns_len(node);
        sched_err_t err;

        if (!json_is_array(jfields))
                return PARSE_ERR(ps, SCHED_ERR_INVALID,
                                 "record '%s' without a \"fields\" array",
                                 node->fullname);
        cnt = json_array_size(jfields);
        node->fields = calloc(cnt ? cnt : 1, sizeof(*node->fields));
        if (node->fields == NULL)
                return PARSE_ERR(ps, SCHED_ERR_NOMEM, "out of memory");
        for (i = 0; i < cnt; i++) {
                json_t *jf = json_array_get(jfields, i);
                json_t *jname = json_object_get(jf, "name");
                json_t *jtype = json_object_get(jf, "type");
                json_t *jdflt = json_object_get(jf, "default");
                sched_avro_field_t *f = &node->fields[i];
                const char *name;

                if (!json_is_string(jname) ||
                    !sched_avro_name_valid(json_string_value(jname),
                                           json_string_length(jname)))
                        return PARSE_ERR(ps, SCHED_ERR_INVALID,
                                         "record '%s': field %zu has no "
                                         "valid \"name\"",
                                         node->fullname, i);
                name = json_string_value(jname);
                if (sched_avro_field_index(node, name) >= 0)
                        return PARSE_ERR(ps, SCHED_ERR_INVALID,
                                         "record '%s': field '%s' twice",
                                         node->fullname, name);
                if (jtype == NULL)
                        return PARSE_ERR(ps, SCHED_ERR_INVALID,
                                         "record '%s': field '%s' has no "
                                         "\"type\"",
                                         node->fullname, name);
                f->name = strdup(name);
                if (f->name == NULL)
                        return PARSE_ERR(ps, SCHED_ERR_NOMEM, "out of memory");
                node->cnt = i + 1; /* from now on, field i is freed with us */
                if (jdflt != NULL)
                        f->dflt = json_incref(jdflt);
                err = sched_avro_parse_node(ps, jtype, node->fullname, nslen,
                                            depth + 1, &f->type);
                if (err)
                        return err;
        }
        return SCHED_ERR_OK;
}

static sched_err_t sched_avro_parse_enum(sched_avro_parse_t *ps, json_t *j,
                                         sched_avro_node_t *node) {
        json_t *jsyms = json_object_get(j, "symbols");
        json_t *jdflt = json_object_get(j, "default");
        size_t i, k, cnt;

        if (!json_is_array(jsyms))
                return PARSE_ERR(ps, SCHED_ERR_INVALID,
                                 "enum '%s' without a \"symbols\" array",
                                 node->fullname);
        cnt = json_array_size(jsyms);
        node->symbols = calloc(cnt ? cnt : 1, sizeof(*node->symbols));
        if (node->symbols == NULL)
                return PARSE_ERR(ps, SCHED_ERR_NOMEM, "out of memory");
        for (i = 0; i < cnt; i++) {
                json_t *js = json_array_get(jsyms, i);

                if (!json_is_string(js) ||
                    !sched_avro_name_valid(json_string_value(js),
                                           json_string_length(js)))
                        return PARSE_ERR(ps, SCHED_ERR_INVALID,
                                         "enum '%s': invalid symbol %zu",
                                         node->fullname, i);
                for (k = 0; k < i; k++)
                        if (strcmp(node->symbols[k], json_string_value(js)) ==
                            0)
                                return PARSE_ERR(ps, SCHED_ERR_INVALID,
                                                 "enum '%s': symbol '%s' twice",
                                                 node->fullname,
                                                 node->symbols[k]);
                node->symbols[i] = strdup(json_string_value(js));
                if (node->symbols[i] == NULL)
                        return PARSE_ERR(ps, SCHED_ERR_NOMEM, "out of memory");
                node->cnt = i + 1;
                if (json_is_string(jdflt) &&
                    strcmp(json_string_value(jdflt), node->symbols[i]) == 0)
                        node->enum_default = (int)i;
        }
        if (jdflt != NULL && node->enum_default < 0)
                return PARSE_ERR(ps, SCHED_ERR_INVALID,
                                 "enum '%s': default is not one of its symbols",
                                 node->fullname);
        return SCHED_ERR_OK;
}

static sched_err_t sched_avro_parse_union(sched_avro_parse_t *ps, json_t *j,
                                          sched_avro_node_t *node,
                                          const char *ns, size_t nslen,
                                          int depth) {
        size_t i, k, cnt = json_array_size(j);
        sched_err_t err;

        node->branches = calloc(cnt ? cnt : 1, sizeof(*node->branches));
        if (node->branches == NULL)
                return PARSE_ERR(ps, SCHED_ERR_NOMEM, "out of memory");
        for (i = 0; i < cnt; i++) {
                sched_avro_node_t *b;

                err = sched_avro_parse_node(ps, json_array_get(j, i), ns,
                                            nslen, depth + 1, &b);
                if (err)
                        return err;
                node->branches[i] = b;
                node->cnt = i + 1;
                if (b->type == SCHED_AVRO_UNION)
                        return PARSE_ERR(ps, SCHED_ERR_INVALID,
                                         "union directly inside a union");
                /* At most one branch of each unnamed type, and one of each
                 * named type per name. */
                for (k = 0; k < i; k++) {
                        const sched_avro_node_t *o = node->branches[k];

                        if (o->type == b->type &&
                            (o->fullname == NULL ||
                             strcmp(o->fullname, b->fullname) == 0))
                                return PARSE_ERR(
                                        ps, SCHED_ERR_INVALID,
                                        "union has two branches of type '%s'",
                                        b->fullname ? b->fullname
                                                    : sched_avro_type2str(
                                                              b->type));
                }
        }
        return SCHED_ERR_OK;
}

static sched_err_t sched_avro_parse_node(sched_avro_parse_t *ps, json_t *j,
                                         const char *ns, size_t nslen,
                                         int depth,
                                         sched_avro_node_t **nodep) {
        const char *tn;
        json_t *jt, *jsub;
        sched_avro_node_t *node;
        sched_err_t err;
        int prim;

        if (depth > SCHED_AVRO_DEPTH_MAX)
                return PARSE_ERR(ps, SCHED_ERR_INVALID,
                                 "schema nested deeper than %d levels",
                                 SCHED_AVRO_DEPTH_MAX);
        if (json_is_string(j))
                return sched_avro_parse_ref(ps, json_string_value(j), ns,
                                            nslen, nodep);
        if (json_is_array(j)) {
                node = sched_avro_node_new(ps, SCHED_AVRO_UNION);
                if (node == NULL)
                        return PARSE_ERR(ps, SCHED_ERR_NOMEM, "out of memory");
                *nodep = node;
                return sched_avro_parse_union(ps, j, node, ns, nslen, depth);
        }
        if (!json_is_object(j))
                return PARSE_ERR(ps, SCHED_ERR_INVALID,
                                 "a schema must be a JSON string, object or "
                                 "array");

        jt = json_object_get(j, "type");
        if (!json_is_string(jt))
                return PARSE_ERR(ps, SCHED_ERR_INVALID,
                                 "schema object without a string \"type\"");
        tn = json_string_value(jt);

        /* {"type": "long", "logicalType": ...} and the like: attributes
         * other than "type" do not change how a primitive is encoded. */
        if ((prim = sched_avro_primitive(tn)) >= 0)
                return sched_avro_parse_ref(ps, tn, ns, nslen, nodep);

        if (!strcmp(tn, "record") || !strcmp(tn, "error")) {
                err = sched_avro_parse_named(ps, j, SCHED_AVRO_RECORD, ns,
                                             nslen, nodep);
                if (err)
                        return err;
                (*nodep)->is_error = tn[0] == 'e';
                return sched_avro_parse_record(ps, j, *nodep, depth);
        }
        if (!strcmp(tn, "enum")) {
                err = sched_avro_parse_named(ps, j, SCHED_AVRO_ENUM, ns, nslen,
                                             nodep);
                return err ? err : sched_avro_parse_enum(ps, j, *nodep);
        }
        if (!strcmp(tn, "fixed")) {
                json_t *jsize = json_object_get(j, "size");

                err = sched_avro_parse_named(ps, j, SCHED_AVRO_FIXED, ns,
                                             nslen, nodep);
                if (err)
                        return err;
                if (!json_is_integer(jsize) || json_integer_value(jsize) < 0 ||
                    json_integer_value(jsize) > INT32_MAX)
                        return PARSE_ERR(ps, SCHED_ERR_INVALID,
                                         "fixed '%s' without a valid \"size\"",
                                         (*nodep)->fullname);
                (*nodep)->size = json_integer_value(jsize);
                return SCHED_ERR_OK;
        }
        if (!strcmp(tn, "array") || !strcmp(tn, "map")) {
                bool is_array = tn[0] == 'a';

                jsub = json_object_get(j, is_array ? "items" : "values");
                if (jsub == NULL)
                        return PARSE_ERR(ps, SCHED_ERR_INVALID,
                                         "%s without \"%s\"", tn,
                                         is_array ? "items" : "values");
                node = sched_avro_node_new(
                        ps, is_array ? SCHED_AVRO_ARRAY : SCHED_AVRO_MAP);
                if (node == NULL)
                        return PARSE_ERR(ps, SCHED_ERR_NOMEM, "out of memory");
                *nodep = node;
                return sched_avro_parse_node(ps, jsub, ns, nslen, depth + 1,
                                             &node->items);
        }
        /* {"type": "SomeDefinedName"} */
        return sched_avro_parse_ref(ps, tn, ns, nslen, nodep);
}

sched_err_t sched_avro_schema_parse(const char *json, size_t len,
                                    sched_avro_schema_t **schemap,
                                    char *errstr, size_t errstr_size) {
        sched_avro_parse_t ps = {.errstr = errstr, .errstr_size = errstr_size};
        json_error_t jerr;
        json_t *root;
        sched_err_t err;

        *schemap = NULL;
        root = json_loadb(json, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES,
                          &jerr);
        if (root == NULL)
                return sched_seterr(errstr, errstr_size, SCHED_ERR_INVALID,
                                    "JSON line %d column %d: %s", jerr.line,
                                    jerr.column, jerr.text);
        ps.schema = calloc(1, sizeof(*ps.schema));
        if (ps.schema == NULL) {
                json_decref(root);
                return sched_seterr(errstr, errstr_size, SCHED_ERR_NOMEM,
                                    "out of memory");
        }
        err = sched_avro_parse_node(&ps, root, "", 0, 0, &ps.schema->root);
        free(ps.named);
        json_decref(root); /* defaults hold their own references */
        if (err) {
                sched_avro_schema_destroy(ps.schema);
                return err;
        }
        *schemap = ps.schema;
        return SCHED_ERR_OK;
}

void sched_avro_schema_destroy(sched_avro_schema_t *schema) {
        sched_avro_node_t *node, *next;
        size_t i;

        if (schema == NULL)
                return;
        for (node = schema->nodes; node != NULL; node = next) {
                next = node->next;
                if (node->type == SCHED_AVRO_RECORD) {
                        for (i = 0; i < node->cnt; i++) {
                                free(node->fields[i].name);
                                json_decref(node->fields[i].dflt);
                        }
                } else if (node->type == SCHED_AVRO_ENUM) {
                        for (i = 0; i < node->cnt; i++)
                                free(node->symbols[i]);
                }
                free(node->fields);
                free(node->symbols);
                free(node->branches);
                free(node->fullname);
                free(node);
        }
        free(schema);
}

/* Depth-first search for a named type reached again while its own body is
 * being walked (mark 1 = on the current path, 2 = done). */
static bool sched_avro_node_recursive(sched_avro_node_t *node) {
        size_t i;
        bool found = false;

        if (node->mark == 1)
                return true;
        if (node->mark == 2)
                return false;
        node->mark = 1;
        switch (node->type) {
        case SCHED_AVRO_RECORD:
                for (i = 0; i < node->cnt && !found; i++)
                        found = sched_avro_node_recursive(node->fields[i].type);
                break;
        case SCHED_AVRO_UNION:
                for (i = 0; i < node->cnt && !found; i++)
                        found = sched_avro_node_recursive(node->branches[i]);
                break;
        case SCHED_AVRO_ARRAY:
        case SCHED_AVRO_MAP:
                found = sched_avro_node_recursive(node->items);
                break;
        default:
                break;
        }
        node->mark = 2;
        return found;
}

bool sched_avro_schema_is_recursive(sched_avro_schema_t *schema) {
        sched_avro_node_t *node;

        for (node = schema->nodes; node != NULL; node = node->next)
                node->mark = 0;
        return sched_avro_node_recursive(schema->root);
}
