/*
 * codec_resolve.c — writer→reader schema resolution and field defaults.
 *
 * A plan mirrors the reader schema and says, for each reader position,
 * where its value comes from in the writer value: a writer field (by name),
 * the reader field's default, a re-mapped enum symbol, a union branch, or a
 * promoted primitive.  Plans are built once per (old writer, current reader)
 * pair when the codec is created, so mismatches that can be found without
 * data are configuration errors, and decoding only follows pointers.
 */
#include <stdlib.h>
#include <string.h>

#include "codec_int.h"

typedef enum sched_codec_op_e {
        SCHED_CODEC_OP_PRIM,   /* copy a primitive, promoting if needed */
        SCHED_CODEC_OP_RECORD, /* reader fields from writer fields/defaults */
        SCHED_CODEC_OP_ENUM,   /* writer symbol index → reader index */
        SCHED_CODEC_OP_WUNION, /* writer union: a plan per writer branch */
        SCHED_CODEC_OP_RUNION, /* writer non-union into a reader branch */
} sched_codec_op_t;

struct sched_codec_plan_s {
        sched_codec_op_t op;
        const sched_avro_node_t *w, *r;
        size_t cnt;               /* entries in sub and map */
        sched_codec_plan_t **sub; /* RECORD: per reader field (NULL: default);
                                   * WUNION: per writer branch;
                                   * RUNION: [0] */
        int *map;   /* RECORD: reader field → writer field or -1;
                     * ENUM: writer symbol → reader symbol or -1 */
        int branch; /* RUNION: the reader branch */
};

#define PLAN_ERR(errstr, errstr_size, ...)                                    \
        sched_seterr(errstr, errstr_size, SCHED_ERR_CONFIG, __VA_ARGS__)

static const char *sched_codec_tname(const sched_avro_node_t *node) {
        return node->fullname ? node->fullname : sched_avro_type2str(node->type);
}

/* Whether the spec lets a writer primitive of type w be read as r. */
static bool sched_codec_promotable(sched_avro_type_t w, sched_avro_type_t r) {
        switch (w) {
        case SCHED_AVRO_INT:
                return r == SCHED_AVRO_LONG || r == SCHED_AVRO_FLOAT ||
                       r == SCHED_AVRO_DOUBLE;
        case SCHED_AVRO_LONG:
                return r == SCHED_AVRO_FLOAT || r == SCHED_AVRO_DOUBLE;
        case SCHED_AVRO_FLOAT:
                return r == SCHED_AVRO_DOUBLE;
        case SCHED_AVRO_BYTES:
                return r == SCHED_AVRO_STRING;
        case SCHED_AVRO_STRING:
                return r == SCHED_AVRO_BYTES;
        default:
                return false;
        }
}

/* 2: same type (same unqualified name for named types), 1: promotable,
 * 0: no match.  Used to pick a reader union branch. */
static int sched_codec_match(const sched_avro_node_t *w,
                             const sched_avro_node_t *r) {
        if (w->type == r->type)
                return (w->name == NULL || strcmp(w->name, r->name) == 0) ? 2
                                                                          : 0;
        return sched_codec_promotable(w->type, r->type) ? 1 : 0;
}

static bool sched_codec_reader_supported(sched_avro_type_t t) {
        return t != SCHED_AVRO_ARRAY && t != SCHED_AVRO_MAP &&
               t != SCHED_AVRO_FIXED && t != SCHED_AVRO_BYTES;
}

void sched_codec_plan_destroy(sched_codec_plan_t *plan) {
        size_t i;

        if (plan == NULL)
                return;
        if (plan->sub != NULL)
                for (i = 0; i < plan->cnt; i++)
                        sched_codec_plan_destroy(plan->sub[i]);
        free(plan->sub);
        free(plan->map);
        free(plan);
}

static sched_err_t sched_codec_plan_alloc(sched_codec_plan_t *plan,
                                          size_t cnt, bool with_map,
                                          char *errstr, size_t errstr_size) {
        plan->cnt = cnt;
        plan->sub = calloc(cnt ? cnt : 1, sizeof(*plan->sub));
        plan->map = with_map ? calloc(cnt ? cnt : 1, sizeof(*plan->map)) : NULL;
        if (plan->sub == NULL || (with_map && plan->map == NULL))
                return sched_seterr(errstr, errstr_size, SCHED_ERR_NOMEM,
                                    "out of memory");
        return SCHED_ERR_OK;
}

static sched_err_t sched_codec_plan_record(sched_codec_plan_t *plan,
                                           char *errstr, size_t errstr_size) {
        const sched_avro_node_t *w = plan->w, *r = plan->r;
        sched_err_t err;
        size_t i;

        if ((err = sched_codec_plan_alloc(plan, r->cnt, true, errstr,
                                          errstr_size)))
                return err;
        for (i = 0; i < r->cnt; i++) {
                const sched_avro_field_t *rf = &r->fields[i];
                int wi = sched_avro_field_index(w, rf->name);

                plan->map[i] = wi;
                if (wi < 0) {
                        if (rf->dflt == NULL)
                                return PLAN_ERR(errstr, errstr_size,
                                                "record '%s': field '%s' is "
                                                "not in the writer schema and "
                                                "has no default",
                                                r->fullname, rf->name);
                        continue;
                }
                err = sched_codec_plan_new(w->fields[wi].type, rf->type,
                                           &plan->sub[i], errstr, errstr_size);
                if (err)
                        return err;
        }
        return SCHED_ERR_OK;
}

static sched_err_t sched_codec_plan_enum(sched_codec_plan_t *plan,
                                         char *errstr, size_t errstr_size) {
        const sched_avro_node_t *w = plan->w, *r = plan->r;
        size_t i, k;
        sched_err_t err;

        if ((err = sched_codec_plan_alloc(plan, w->cnt, true, errstr,
                                          errstr_size)))
                return err;
        for (i = 0; i < w->cnt; i++) {
                plan->map[i] = r->enum_default; /* -1 if none */
                for (k = 0; k < r->cnt; k++)
                        if (strcmp(w->symbols[i], r->symbols[k]) == 0)
                                plan->map[i] = (int)k;
        }
        return SCHED_ERR_OK;
}

sched_err_t sched_codec_plan_new(const sched_avro_node_t *w,
                                 const sched_avro_node_t *r,
                                 sched_codec_plan_t **planp, char *errstr,
                                 size_t errstr_size) {
        sched_codec_plan_t *plan;
        sched_err_t err = SCHED_ERR_OK;
        size_t i;

        *planp = NULL;
        if (!sched_codec_reader_supported(r->type))
                return PLAN_ERR(errstr, errstr_size,
                                "reader type '%s' is not supported",
                                sched_avro_type2str(r->type));
        plan = calloc(1, sizeof(*plan));
        if (plan == NULL)
                return sched_seterr(errstr, errstr_size, SCHED_ERR_NOMEM,
                                    "out of memory");
        plan->w = w;
        plan->r = r;

        if (w->type == SCHED_AVRO_UNION) {
                /* Each writer branch on its own.  The spec only fails when
                 * a record uses a branch the reader cannot take; klok's old
                 * writer schemas are its own, so any such branch is treated
                 * as a configuration error up front. */
                plan->op = SCHED_CODEC_OP_WUNION;
                err = sched_codec_plan_alloc(plan, w->cnt, false, errstr,
                                             errstr_size);
                for (i = 0; !err && i < w->cnt; i++)
                        err = sched_codec_plan_new(w->branches[i], r,
                                                   &plan->sub[i], errstr,
                                                   errstr_size);
        } else if (r->type == SCHED_AVRO_UNION) {
                int best = 0;

                plan->op = SCHED_CODEC_OP_RUNION;
                plan->branch = -1;
                for (i = 0; i < r->cnt; i++) {
                        int m = sched_codec_match(w, r->branches[i]);

                        if (m > best) {
                                best = m;
                                plan->branch = (int)i;
                        }
                }
                if (plan->branch < 0)
                        err = PLAN_ERR(errstr, errstr_size,
                                       "writer type '%s' matches no branch "
                                       "of the reader union",
                                       sched_codec_tname(w));
                else if (!(err = sched_codec_plan_alloc(plan, 1, false, errstr,
                                                        errstr_size)))
                        err = sched_codec_plan_new(w, r->branches[plan->branch],
                                                   &plan->sub[0], errstr,
                                                   errstr_size);
        } else if (sched_codec_match(w, r) == 0) {
                err = PLAN_ERR(errstr, errstr_size,
                               "writer type '%s' cannot be read as '%s'",
                               sched_codec_tname(w), sched_codec_tname(r));
        } else if (r->type == SCHED_AVRO_RECORD) {
                plan->op = SCHED_CODEC_OP_RECORD;
                err = sched_codec_plan_record(plan, errstr, errstr_size);
        } else if (r->type == SCHED_AVRO_ENUM) {
                plan->op = SCHED_CODEC_OP_ENUM;
                err = sched_codec_plan_enum(plan, errstr, errstr_size);
        } else {
                plan->op = SCHED_CODEC_OP_PRIM;
        }

        if (err) {
                sched_codec_plan_destroy(plan);
                return err;
        }
        *planp = plan;
        return SCHED_ERR_OK;
}

/* --- Applying a plan ------------------------------------------------------ */

/* avro-c value calls only fail on allocation failure once the input has
 * been validated; avro_strerror() is a process-wide buffer, so it is not
 * read here (decode runs on many threads). */
#define AVRO_TRY(call)                                                        \
        do {                                                                  \
                if ((call) != 0)                                              \
                        return sched_seterr(errstr, errstr_size,              \
                                            SCHED_ERR_NOMEM,                  \
                                            "avro-c: %s failed", #call);      \
        } while (0)

static sched_err_t sched_codec_set_default(avro_value_t *rv,
                                           const sched_avro_node_t *r,
                                           const json_t *dflt, char *errstr,
                                           size_t errstr_size);

static sched_err_t sched_codec_copy_prim(const sched_codec_plan_t *plan,
                                         avro_value_t *wv, avro_value_t *rv,
                                         char *errstr, size_t errstr_size) {
        sched_avro_type_t rt = plan->r->type;
        int64_t l = 0;
        double d = 0;
        int32_t i;
        float f;
        int b;

        switch (plan->w->type) {
        case SCHED_AVRO_NULL:
                AVRO_TRY(avro_value_set_null(rv));
                return SCHED_ERR_OK;
        case SCHED_AVRO_BOOLEAN:
                AVRO_TRY(avro_value_get_boolean(wv, &b));
                AVRO_TRY(avro_value_set_boolean(rv, b));
                return SCHED_ERR_OK;
        case SCHED_AVRO_INT:
                AVRO_TRY(avro_value_get_int(wv, &i));
                if (rt == SCHED_AVRO_INT) {
                        AVRO_TRY(avro_value_set_int(rv, i));
                        return SCHED_ERR_OK;
                }
                l = i;
                d = i;
                break;
        case SCHED_AVRO_LONG:
                AVRO_TRY(avro_value_get_long(wv, &l));
                d = (double)l;
                break;
        case SCHED_AVRO_FLOAT:
                AVRO_TRY(avro_value_get_float(wv, &f));
                d = f;
                break;
        case SCHED_AVRO_DOUBLE:
                AVRO_TRY(avro_value_get_double(wv, &d));
                break;
        case SCHED_AVRO_STRING: {
                const char *s;
                size_t size;

                /* Readers never hold bytes, so string → string. */
                AVRO_TRY(avro_value_get_string(wv, &s, &size));
                AVRO_TRY(avro_value_set_string_len(rv, s, size));
                return SCHED_ERR_OK;
        }
        case SCHED_AVRO_BYTES: { /* → string: add the terminating NUL */
                const void *buf;
                size_t size;
                char *s;
                int rc;

                AVRO_TRY(avro_value_get_bytes(wv, &buf, &size));
                s = malloc(size + 1);
                if (s == NULL)
                        return sched_seterr(errstr, errstr_size,
                                            SCHED_ERR_NOMEM, "out of memory");
                if (size > 0)
                        memcpy(s, buf, size);
                s[size] = '\0';
                rc = avro_value_set_string_len(rv, s, size + 1);
                free(s);
                AVRO_TRY(rc);
                return SCHED_ERR_OK;
        }
        default:
                return sched_seterr(errstr, errstr_size, SCHED_ERR_DECODE,
                                    "unexpected writer type");
        }
        /* Numeric promotions (the plan only allows the legal ones). */
        if (rt == SCHED_AVRO_LONG)
                AVRO_TRY(avro_value_set_long(rv, l));
        else if (rt == SCHED_AVRO_FLOAT)
                AVRO_TRY(avro_value_set_float(rv, (float)d));
        else
                AVRO_TRY(avro_value_set_double(rv, d));
        return SCHED_ERR_OK;
}

sched_err_t sched_codec_plan_apply(const sched_codec_plan_t *plan,
                                   avro_value_t *wv, avro_value_t *rv,
                                   char *errstr, size_t errstr_size) {
        avro_value_t wsub, rsub;
        sched_err_t err;
        size_t i;
        int disc;

        switch (plan->op) {
        case SCHED_CODEC_OP_PRIM:
                return sched_codec_copy_prim(plan, wv, rv, errstr, errstr_size);

        case SCHED_CODEC_OP_WUNION:
                AVRO_TRY(avro_value_get_discriminant(wv, &disc));
                if (disc < 0 || (size_t)disc >= plan->cnt)
                        return sched_seterr(errstr, errstr_size,
                                            SCHED_ERR_DECODE,
                                            "union branch %d out of range",
                                            disc);
                AVRO_TRY(avro_value_get_current_branch(wv, &wsub));
                return sched_codec_plan_apply(plan->sub[disc], &wsub, rv,
                                              errstr, errstr_size);

        case SCHED_CODEC_OP_RUNION:
                AVRO_TRY(avro_value_set_branch(rv, plan->branch, &rsub));
                return sched_codec_plan_apply(plan->sub[0], wv, &rsub, errstr,
                                              errstr_size);

        case SCHED_CODEC_OP_ENUM:
                AVRO_TRY(avro_value_get_enum(wv, &disc));
                if (disc < 0 || (size_t)disc >= plan->cnt ||
                    plan->map[disc] < 0)
                        return sched_seterr(
                                errstr, errstr_size, SCHED_ERR_DECODE,
                                "enum '%s': symbol %d unknown to the reader",
                                plan->r->fullname, disc);
                AVRO_TRY(avro_value_set_enum(rv, plan->map[disc]));
                return SCHED_ERR_OK;

        case SCHED_CODEC_OP_RECORD:
                for (i = 0; i < plan->cnt; i++) {
                        const sched_avro_field_t *rf = &plan->r->fields[i];

                        AVRO_TRY(avro_value_get_by_index(rv, i, &rsub, NULL));
                        if (plan->map[i] < 0) {
                                err = sched_codec_set_default(
                                        &rsub, rf->type, rf->dflt, errstr,
                                        errstr_size);
                        } else {
                                AVRO_TRY(avro_value_get_by_index(
                                        wv, (size_t)plan->map[i], &wsub,
                                        NULL));
                                err = sched_codec_plan_apply(plan->sub[i],
                                                             &wsub, &rsub,
                                                             errstr,
                                                             errstr_size);
                        }
                        if (err)
                                return err;
                }
                return SCHED_ERR_OK;
        }
        return SCHED_ERR_DECODE;
}

/* --- Defaults ------------------------------------------------------------- */

/* Set rv to the default dflt (already checked by
 * sched_codec_defaults_check() against r). */
static sched_err_t sched_codec_set_default(avro_value_t *rv,
                                           const sched_avro_node_t *r,
                                           const json_t *dflt, char *errstr,
                                           size_t errstr_size) {
        avro_value_t sub;
        sched_err_t err;
        size_t i;

        switch (r->type) {
        case SCHED_AVRO_NULL:
                AVRO_TRY(avro_value_set_null(rv));
                break;
        case SCHED_AVRO_BOOLEAN:
                AVRO_TRY(avro_value_set_boolean(rv, json_is_true(dflt)));
                break;
        case SCHED_AVRO_INT:
                AVRO_TRY(avro_value_set_int(
                        rv, (int32_t)json_integer_value(dflt)));
                break;
        case SCHED_AVRO_LONG:
                AVRO_TRY(avro_value_set_long(rv, json_integer_value(dflt)));
                break;
        case SCHED_AVRO_FLOAT:
                AVRO_TRY(avro_value_set_float(rv,
                                              (float)json_number_value(dflt)));
                break;
        case SCHED_AVRO_DOUBLE:
                AVRO_TRY(avro_value_set_double(rv, json_number_value(dflt)));
                break;
        case SCHED_AVRO_STRING:
                /* jansson strings hold no NUL (JSON_ALLOW_NUL is not set). */
                AVRO_TRY(avro_value_set_string_len(
                        rv, json_string_value(dflt),
                        json_string_length(dflt) + 1));
                break;
        case SCHED_AVRO_ENUM:
                for (i = 0; i < r->cnt; i++)
                        if (strcmp(r->symbols[i], json_string_value(dflt)) == 0)
                                break;
                AVRO_TRY(avro_value_set_enum(rv, (int)i));
                break;
        case SCHED_AVRO_UNION: /* a union's default is for its first branch */
                AVRO_TRY(avro_value_set_branch(rv, 0, &sub));
                return sched_codec_set_default(&sub, r->branches[0], dflt,
                                               errstr, errstr_size);
        case SCHED_AVRO_RECORD:
                for (i = 0; i < r->cnt; i++) {
                        const json_t *v =
                                json_object_get(dflt, r->fields[i].name);

                        AVRO_TRY(avro_value_get_by_index(rv, i, &sub, NULL));
                        err = sched_codec_set_default(
                                &sub, r->fields[i].type,
                                v ? v : r->fields[i].dflt, errstr,
                                errstr_size);
                        if (err)
                                return err;
                }
                break;
        default:
                return sched_seterr(errstr, errstr_size, SCHED_ERR_DECODE,
                                    "no default for type '%s'",
                                    sched_avro_type2str(r->type));
        }
        return SCHED_ERR_OK;
}

/* Whether dflt is a valid default for type r (true), else fills why. */
static bool sched_codec_default_ok(const sched_avro_node_t *r,
                                   const json_t *dflt, const char **why) {
        size_t i;

        switch (r->type) {
        case SCHED_AVRO_NULL:
                return json_is_null(dflt);
        case SCHED_AVRO_BOOLEAN:
                return json_is_boolean(dflt);
        case SCHED_AVRO_INT:
                return json_is_integer(dflt) &&
                       json_integer_value(dflt) >= INT32_MIN &&
                       json_integer_value(dflt) <= INT32_MAX;
        case SCHED_AVRO_LONG:
                return json_is_integer(dflt);
        case SCHED_AVRO_FLOAT:
        case SCHED_AVRO_DOUBLE:
                return json_is_number(dflt);
        case SCHED_AVRO_STRING:
                return json_is_string(dflt);
        case SCHED_AVRO_ENUM:
                if (!json_is_string(dflt))
                        return false;
                for (i = 0; i < r->cnt; i++)
                        if (strcmp(r->symbols[i], json_string_value(dflt)) == 0)
                                return true;
                return false;
        case SCHED_AVRO_UNION:
                return r->cnt > 0 &&
                       sched_codec_default_ok(r->branches[0], dflt, why);
        case SCHED_AVRO_RECORD:
                if (!json_is_object(dflt))
                        return false;
                for (i = 0; i < r->cnt; i++) {
                        const json_t *v =
                                json_object_get(dflt, r->fields[i].name);

                        if (v == NULL)
                                v = r->fields[i].dflt;
                        if (v == NULL ||
                            !sched_codec_default_ok(r->fields[i].type, v, why))
                                return false;
                }
                return true;
        default:
                *why = "defaults of this type are not supported";
                return false;
        }
}

sched_err_t sched_codec_defaults_check(const sched_avro_schema_t *schema,
                                       char *errstr, size_t errstr_size) {
        const sched_avro_node_t *node;
        size_t i;

        for (node = schema->nodes; node != NULL; node = node->next) {
                if (node->type != SCHED_AVRO_RECORD)
                        continue;
                for (i = 0; i < node->cnt; i++) {
                        const sched_avro_field_t *f = &node->fields[i];
                        const char *why = "it does not match the field's type";

                        if (f->dflt != NULL &&
                            !sched_codec_default_ok(f->type, f->dflt, &why))
                                return sched_seterr(
                                        errstr, errstr_size, SCHED_ERR_CONFIG,
                                        "record '%s', field '%s': invalid "
                                        "default: %s",
                                        node->fullname, f->name, why);
                }
        }
        return SCHED_ERR_OK;
}
