/*
 * sched/metrics.h — Prometheus metrics: counters, gauges and histograms,
 * rendered in the text exposition format (version 0.0.4).
 *
 * Series are registered once at start-up (name, help, optional label text
 * such as `queue="default"`) and then updated lock-free from any thread.
 * Registration and rendering take the registry's lock.
 */
#ifndef SCHED_METRICS_H
#define SCHED_METRICS_H

#include <stddef.h>
#include <stdint.h>

typedef struct sched_metrics_s sched_metrics_t;
typedef struct sched_metric_s sched_metric_t;

sched_metrics_t *sched_metrics_new(void);
void sched_metrics_destroy(sched_metrics_t *m);

/** Register (or find, if the same name and labels exist) a series.
 *  labels may be NULL or "" for none.  Returns NULL only on OOM or when the
 *  name exists with another type. */
sched_metric_t *sched_metrics_counter(sched_metrics_t *m, const char *name,
                                      const char *help, const char *labels);
sched_metric_t *sched_metrics_gauge(sched_metrics_t *m, const char *name,
                                    const char *help, const char *labels);
/** A histogram with the given upper bounds (ascending; +Inf is implicit),
 *  in the unit of observed values. */
sched_metric_t *sched_metrics_histogram(sched_metrics_t *m, const char *name,
                                        const char *help, const char *labels,
                                        const double *bounds, int nbounds);

/* Updates: any thread, no lock.  NULL metric: no-op. */
void sched_metric_add(sched_metric_t *c, uint64_t v); /* counter */
void sched_metric_set(sched_metric_t *g, int64_t v);  /* gauge */
void sched_metric_observe(sched_metric_t *h, double v);
/** Current value of a counter or gauge (0 for NULL). */
int64_t sched_metric_get(const sched_metric_t *c);

/** Render every series; *textp is malloc'd.  Returns 0, or -1 on OOM. */
int sched_metrics_render(sched_metrics_t *m, char **textp, size_t *lenp);

/** Bounds for latencies in milliseconds: 0.5 ms .. 10 s. */
extern const double sched_latency_ms_bounds[];
extern const int sched_latency_ms_nbounds;

#endif /* SCHED_METRICS_H */
