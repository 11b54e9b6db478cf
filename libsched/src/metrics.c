/*
 * metrics.c — Prometheus registry and text exposition (see sched/metrics.h).
 */
#include "sched/metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HIST_MAX_BOUNDS 32

typedef enum { M_COUNTER, M_GAUGE, M_HISTOGRAM } mtype_t;

struct sched_metric_s {
        struct sched_metric_s *next;
        mtype_t type;
        char *name, *help, *labels;
        atomic_int_fast64_t value; /* counter, gauge */
        int nbounds;
        double bounds[HIST_MAX_BOUNDS];
        atomic_uint_fast64_t buckets[HIST_MAX_BOUNDS + 1]; /* last: +Inf */
        _Atomic double sum;
};

struct sched_metrics_s {
        pthread_mutex_t lock;
        sched_metric_t *head, *tail; /* registration order */
};

const double sched_latency_ms_bounds[] = {0.5, 1,   2,   5,    10,   20,  50,
                                          100, 200, 500, 1000, 2000, 5000, 10000};
const int sched_latency_ms_nbounds =
        sizeof(sched_latency_ms_bounds) / sizeof(sched_latency_ms_bounds[0]);

sched_metrics_t *sched_metrics_new(void) {
        sched_metrics_t *m = calloc(1, sizeof(*m));
        if (m)
                pthread_mutex_init(&m->lock, NULL);
        return m;
}

void sched_metrics_destroy(sched_metrics_t *m) {
        if (!m)
                return;
        sched_metric_t *s = m->head;
        while (s) {
                sched_metric_t *next = s->next;
                free(s->name);
                free(s->help);
                free(s->labels);
                free(s);
                s = next;
        }
        pthread_mutex_destroy(&m->lock);
        free(m);
}

static sched_metric_t *add(sched_metrics_t *m, mtype_t type, const char *name,
                           const char *help, const char *labels,
                           const double *bounds, int nbounds) {
        if (!labels)
                labels = "";
        if (nbounds > HIST_MAX_BOUNDS)
                return NULL;
        pthread_mutex_lock(&m->lock);
        sched_metric_t *s;
        for (s = m->head; s; s = s->next) {
                if (strcmp(s->name, name))
                        continue;
                if (s->type != type) {
                        pthread_mutex_unlock(&m->lock);
                        return NULL;
                }
                if (!strcmp(s->labels, labels)) {
                        pthread_mutex_unlock(&m->lock);
                        return s;
                }
        }
        s = calloc(1, sizeof(*s));
        if (s) {
                s->type = type;
                s->name = strdup(name);
                s->help = strdup(help);
                s->labels = strdup(labels);
                s->nbounds = nbounds;
                if (nbounds)
                        memcpy(s->bounds, bounds,
                               sizeof(double) * (size_t)nbounds);
                if (!s->name || !s->help || !s->labels) {
                        free(s->name);
                        free(s->help);
                        free(s->labels);
                        free(s);
                        s = NULL;
                }
        }
        if (s) {
                /* Keep series of one family together for the exposition. */
                sched_metric_t *after = NULL;
                for (sched_metric_t *p = m->head; p; p = p->next)
                        if (!strcmp(p->name, name))
                                after = p;
                if (after) {
                        s->next = after->next;
                        after->next = s;
                        if (m->tail == after)
                                m->tail = s;
                } else {
                        if (m->tail)
                                m->tail->next = s;
                        else
                                m->head = s;
                        m->tail = s;
                }
        }
        pthread_mutex_unlock(&m->lock);
        return s;
}

sched_metric_t *sched_metrics_counter(sched_metrics_t *m, const char *name,
                                      const char *help, const char *labels) {
        return add(m, M_COUNTER, name, help, labels, NULL, 0);
}

sched_metric_t *sched_metrics_gauge(sched_metrics_t *m, const char *name,
                                    const char *help, const char *labels) {
        return add(m, M_GAUGE, name, help, labels, NULL, 0);
}

sched_metric_t *sched_metrics_histogram(sched_metrics_t *m, const char *name,
                                        const char *help, const char *labels,
                                        const double *bounds, int nbounds) {
        return add(m, M_HISTOGRAM, name, help, labels, bounds, nbounds);
}

void sched_metric_add(sched_metric_t *c, uint64_t v) {
        if (c)
                atomic_fetch_add_explicit(&c->value, (int_fast64_t)v,
                                          memory_order_relaxed);
}

void sched_metric_set(sched_metric_t *g, int64_t v) {
        if (g)
                atomic_store_explicit(&g->value, v, memory_order_relaxed);
}

int64_t sched_metric_get(const sched_metric_t *c) {
        return c ? (int64_t)atomic_load_explicit(&c->value,
                                                 memory_order_relaxed)
                 : 0;
}

void sched_metric_observe(sched_metric_t *h, double v) {
        if (!h)
                return;
        int i = 0;
        while (i < h->nbounds && v > h->bounds[i])
                i++;
        atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
        double old = atomic_load_explicit(&h->sum, memory_order_relaxed);
        while (!atomic_compare_exchange_weak_explicit(
                &h->sum, &old, old + v, memory_order_relaxed,
                memory_order_relaxed))
                ;
}

typedef struct buf_s {
        char *p;
        size_t len, cap;
        bool err;
} buf_t;

static void bprintf(buf_t *b, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static void bprintf(buf_t *b, const char *fmt, ...) {
        while (!b->err) {
                va_list ap;
                va_start(ap, fmt);
                int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
                va_end(ap);
                if (n < 0) {
                        b->err = true;
                        return;
                }
                if ((size_t)n < b->cap - b->len) {
                        b->len += (size_t)n;
                        return;
                }
                size_t cap = b->cap * 2 + (size_t)n;
                char *p = realloc(b->p, cap);
                if (!p) {
                        b->err = true;
                        return;
                }
                b->p = p;
                b->cap = cap;
        }
}

/* "{labels}" or "{labels,extra}" or "{extra}" or "". */
static void label_set(buf_t *b, const char *labels, const char *extra) {
        bool l = labels[0], e = extra && extra[0];
        if (!l && !e)
                return;
        bprintf(b, "{%s%s%s}", labels, l && e ? "," : "", e ? extra : "");
}

int sched_metrics_render(sched_metrics_t *m, char **textp, size_t *lenp) {
        buf_t b = {malloc(4096), 0, 4096, false};
        if (!b.p)
                return -1;
        b.p[0] = '\0';
        pthread_mutex_lock(&m->lock);
        const char *family = "";
        for (sched_metric_t *s = m->head; s; s = s->next) {
                if (strcmp(family, s->name)) {
                        static const char *types[] = {"counter", "gauge",
                                                      "histogram"};
                        bprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", s->name,
                                s->help, s->name, types[s->type]);
                        family = s->name;
                }
                if (s->type != M_HISTOGRAM) {
                        bprintf(&b, "%s", s->name);
                        label_set(&b, s->labels, NULL);
                        bprintf(&b, " %lld\n",
                                (long long)atomic_load_explicit(
                                        &s->value, memory_order_relaxed));
                        continue;
                }
                uint64_t cum = 0;
                char le[64];
                for (int i = 0; i <= s->nbounds; i++) {
                        cum += atomic_load_explicit(&s->buckets[i],
                                                    memory_order_relaxed);
                        if (i < s->nbounds)
                                snprintf(le, sizeof(le), "le=\"%g\"",
                                         s->bounds[i]);
                        else
                                snprintf(le, sizeof(le), "le=\"+Inf\"");
                        bprintf(&b, "%s_bucket", s->name);
                        label_set(&b, s->labels, le);
                        bprintf(&b, " %llu\n", (unsigned long long)cum);
                }
                bprintf(&b, "%s_sum", s->name);
                label_set(&b, s->labels, NULL);
                bprintf(&b, " %.6f\n", atomic_load_explicit(
                                               &s->sum, memory_order_relaxed));
                bprintf(&b, "%s_count", s->name);
                label_set(&b, s->labels, NULL);
                bprintf(&b, " %llu\n", (unsigned long long)cum);
        }
        pthread_mutex_unlock(&m->lock);
        if (b.err) {
                free(b.p);
                return -1;
        }
        *textp = b.p;
        *lenp = b.len;
        return 0;
}
