/*
 * config.c — table-driven configuration (see sched/config.h).
 */
#include "sched/config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define LINE_MAX_LEN 4096

static const sched_conf_prop_t *prop_find(const sched_conf_prop_t *props,
                                          const char *key) {
        for (const sched_conf_prop_t *p = props; p->name; p++)
                if (!strcmp(p->name, key))
                        return p;
        return NULL;
}

static sched_err_t prop_set(const sched_conf_prop_t *p, void *conf,
                            const char *value, char *errstr,
                            size_t errstr_size) {
        char *field = (char *)conf + p->offset;
        switch (p->type) {
        case SCHED_CONF_STR:
                if (strlen(value) >= p->size)
                        return sched_seterr(errstr, errstr_size,
                                            SCHED_ERR_CONFIG,
                                            "%s: value longer than %zu bytes",
                                            p->name, p->size - 1);
                memcpy(field, value, strlen(value) + 1);
                return SCHED_ERR_OK;
        case SCHED_CONF_INT: {
                char *end;
                errno = 0;
                long long v = strtoll(value, &end, 10);
                if (errno || end == value || *end || v < p->min || v > p->max)
                        return sched_seterr(
                                errstr, errstr_size, SCHED_ERR_CONFIG,
                                "%s: expected an integer in [%lld, %lld], got "
                                "\"%s\"",
                                p->name, (long long)p->min, (long long)p->max,
                                value);
                *(int64_t *)(void *)field = v;
                return SCHED_ERR_OK;
        }
        case SCHED_CONF_BOOL:
                if (!strcmp(value, "true") || !strcmp(value, "1") ||
                    !strcmp(value, "yes") || !strcmp(value, "on"))
                        *(int *)(void *)field = 1;
                else if (!strcmp(value, "false") || !strcmp(value, "0") ||
                         !strcmp(value, "no") || !strcmp(value, "off"))
                        *(int *)(void *)field = 0;
                else
                        return sched_seterr(errstr, errstr_size,
                                            SCHED_ERR_CONFIG,
                                            "%s: expected true or false, got "
                                            "\"%s\"",
                                            p->name, value);
                return SCHED_ERR_OK;
        }
        return SCHED_ERR_CONFIG;
}

void sched_conf_defaults(const sched_conf_prop_t *props, void *conf) {
        for (const sched_conf_prop_t *p = props; p->name; p++) {
                sched_err_t err = prop_set(p, conf, p->def, NULL, 0);
                (void)err;
        }
}

sched_err_t sched_conf_set(const sched_conf_prop_t *props, void *conf,
                           const char *key, const char *value,
                           sched_conf_extra_cb extra, void *opaque,
                           char *errstr, size_t errstr_size) {
        const sched_conf_prop_t *p = prop_find(props, key);
        if (p)
                return prop_set(p, conf, value, errstr, errstr_size);
        if (extra) {
                if (errstr_size)
                        errstr[0] = '\0';
                if (extra(opaque, key, value, errstr, errstr_size) == 0)
                        return SCHED_ERR_OK;
                if (errstr_size && errstr[0])
                        return SCHED_ERR_CONFIG;
        }
        return sched_seterr(errstr, errstr_size, SCHED_ERR_CONFIG,
                            "unknown configuration key \"%s\"", key);
}

static char *trim(char *s) {
        while (isspace((unsigned char)*s))
                s++;
        char *e = s + strlen(s);
        while (e > s && isspace((unsigned char)e[-1]))
                *--e = '\0';
        return s;
}

sched_err_t sched_conf_load_file(const sched_conf_prop_t *props, void *conf,
                                 const char *path, sched_conf_extra_cb extra,
                                 void *opaque, char *errstr,
                                 size_t errstr_size) {
        FILE *fp = fopen(path, "r");
        if (!fp)
                return sched_seterr(errstr, errstr_size, SCHED_ERR_CONFIG,
                                    "%s: %s", path, strerror(errno));
        char line[LINE_MAX_LEN], sub[256];
        int lineno = 0;
        sched_err_t err = SCHED_ERR_OK;
        while (fgets(line, sizeof(line), fp)) {
                lineno++;
                if (!strchr(line, '\n') && !feof(fp)) {
                        err = sched_seterr(errstr, errstr_size,
                                           SCHED_ERR_CONFIG,
                                           "%s:%d: line too long", path,
                                           lineno);
                        break;
                }
                char *s = trim(line);
                if (!*s || *s == '#')
                        continue;
                char *eq = strchr(s, '=');
                if (!eq) {
                        err = sched_seterr(errstr, errstr_size,
                                           SCHED_ERR_CONFIG,
                                           "%s:%d: expected key = value", path,
                                           lineno);
                        break;
                }
                *eq = '\0';
                char *key = trim(s), *value = trim(eq + 1);
                err = sched_conf_set(props, conf, key, value, extra, opaque,
                                     sub, sizeof(sub));
                if (err) {
                        sched_seterr(errstr, errstr_size, err, "%s:%d: %s",
                                     path, lineno, sub);
                        break;
                }
        }
        fclose(fp);
        return err;
}

sched_err_t sched_conf_load_env(const sched_conf_prop_t *props, void *conf,
                                char *errstr, size_t errstr_size) {
        for (const sched_conf_prop_t *p = props; p->name; p++) {
                char env[128] = "KLOK_";
                size_t n = 5;
                for (const char *c = p->name; *c && n < sizeof(env) - 1; c++)
                        env[n++] = (*c == '.' || *c == '-')
                                           ? '_'
                                           : (char)toupper((unsigned char)*c);
                env[n] = '\0';
                const char *v = getenv(env);
                if (!v)
                        continue;
                sched_err_t err = prop_set(p, conf, v, errstr, errstr_size);
                if (err)
                        return err;
        }
        return SCHED_ERR_OK;
}

sched_err_t sched_conf_from_args(const sched_conf_prop_t *props, void *conf,
                                 int argc, char **argv,
                                 sched_conf_extra_cb extra, void *opaque,
                                 char *errstr, size_t errstr_size) {
        sched_conf_defaults(props, conf);
        const char *file = NULL;
        for (int i = 1; i < argc; i++) {
                if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
                        fprintf(stdout, "Usage: %s [--config FILE] "
                                        "[--set key=value]...\n\n",
                                argv[0]);
                        sched_conf_usage(props, stdout);
                        if (errstr_size)
                                errstr[0] = '\0';
                        return SCHED_ERR_INVALID;
                }
                if (!strcmp(argv[i], "--config") && i + 1 < argc)
                        file = argv[++i];
                else if (!strcmp(argv[i], "--set") && i + 1 < argc)
                        i++;
                else
                        return sched_seterr(errstr, errstr_size,
                                            SCHED_ERR_CONFIG,
                                            "unknown argument \"%s\" (try "
                                            "--help)",
                                            argv[i]);
        }
        sched_err_t err;
        if (file && (err = sched_conf_load_file(props, conf, file, extra,
                                                opaque, errstr, errstr_size)))
                return err;
        if ((err = sched_conf_load_env(props, conf, errstr, errstr_size)))
                return err;
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--set"))
                        continue;
                char kv[LINE_MAX_LEN];
                if (strlen(argv[++i]) >= sizeof(kv))
                        return sched_seterr(errstr, errstr_size,
                                            SCHED_ERR_CONFIG,
                                            "--set value too long");
                strcpy(kv, argv[i]);
                char *eq = strchr(kv, '=');
                if (!eq)
                        return sched_seterr(errstr, errstr_size,
                                            SCHED_ERR_CONFIG,
                                            "--set expects key=value, got "
                                            "\"%s\"",
                                            kv);
                *eq = '\0';
                if ((err = sched_conf_set(props, conf, kv, eq + 1, extra,
                                          opaque, errstr, errstr_size)))
                        return err;
        }
        return SCHED_ERR_OK;
}

void sched_conf_usage(const sched_conf_prop_t *props, FILE *fp) {
        for (const sched_conf_prop_t *p = props; p->name; p++)
                fprintf(fp, "  %-28s %-6s default \"%s\"\n      %s\n", p->name,
                        p->type == SCHED_CONF_STR
                                ? "string"
                                : p->type == SCHED_CONF_INT ? "int" : "bool",
                        p->def, p->doc);
}
