/*
 * test-metrics.c — the Prometheus registry and its text exposition, checked
 * by python3-prometheus-client's parser as an independent oracle.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sched/metrics.h"

static void test_series_values(void **state) {
        (void)state;
        sched_metrics_t *m = sched_metrics_new();
        sched_metric_t *a = sched_metrics_counter(m, "t_total", "help a",
                                                  "k=\"x\"");
        sched_metric_t *b = sched_metrics_counter(m, "t_total", "help a",
                                                  "k=\"y\"");
        assert_ptr_equal(a, sched_metrics_counter(m, "t_total", "help a",
                                                  "k=\"x\""));
        assert_null(sched_metrics_gauge(m, "t_total", "wrong type", NULL));
        sched_metric_add(a, 3);
        sched_metric_add(b, 1);
        sched_metric_add(a, 2);
        assert_int_equal(sched_metric_get(a), 5);
        sched_metric_t *g = sched_metrics_gauge(m, "g", "a gauge", NULL);
        sched_metric_set(g, -7);
        assert_int_equal(sched_metric_get(g), -7);
        sched_metric_add(NULL, 1); /* no-ops */
        sched_metric_observe(NULL, 1);
        sched_metrics_destroy(m);
}

/* Render, then let prometheus_client parse it and print
 * "name labels value" lines sorted, which we compare. */
static void test_exposition_parses_with_prometheus_client(void **state) {
        (void)state;
        sched_metrics_t *m = sched_metrics_new();
        sched_metric_add(sched_metrics_counter(m, "klok_x_total", "X things",
                                               "outcome=\"ok\""),
                         4);
        sched_metrics_gauge(m, "klok_y", "Y now", NULL);
        sched_metric_add(sched_metrics_counter(m, "klok_x_total", "X things",
                                               "outcome=\"bad\""),
                         1);
        const double bounds[] = {1, 5, 10};
        sched_metric_t *h = sched_metrics_histogram(m, "klok_lat_ms",
                                                    "Latency", NULL, bounds, 3);
        sched_metric_observe(h, 0.5);
        sched_metric_observe(h, 5);
        sched_metric_observe(h, 7);
        sched_metric_observe(h, 100);
        char *text;
        size_t len;
        assert_int_equal(sched_metrics_render(m, &text, &len), 0);
        assert_int_equal(strlen(text), len);

        char path[] = "/tmp/klok-metrics-XXXXXX";
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        FILE *fp = fdopen(fd, "w");
        fwrite(text, 1, len, fp);
        fclose(fp);
        free(text);
        char cmd[512];
        snprintf(cmd, sizeof(cmd),
                 "/usr/bin/python3 -c \"import sys\n"
                 "from prometheus_client.parser import "
                 "text_string_to_metric_families as p\n"
                 "out=[]\n"
                 "for f in p(open('%s').read()):\n"
                 "  for s in f.samples:\n"
                 "    out.append('%%s %%s %%s %%g' %% (f.type, s.name, "
                 "','.join('%%s=%%s' %% kv for kv in sorted(s.labels.items())),"
                 " s.value))\n"
                 "print('\\n'.join(sorted(out)))\"",
                 path);
        FILE *py = popen(cmd, "r");
        assert_non_null(py);
        char got[4096];
        size_t n = fread(got, 1, sizeof(got) - 1, py);
        got[n] = '\0';
        assert_int_equal(pclose(py), 0);
        remove(path);
        const char *want =
                "counter klok_x_total outcome=bad 1\n"
                "counter klok_x_total outcome=ok 4\n"
                "gauge klok_y  0\n"
                "histogram klok_lat_ms_bucket le=+Inf 4\n"
                "histogram klok_lat_ms_bucket le=1 1\n"
                "histogram klok_lat_ms_bucket le=10 3\n"
                "histogram klok_lat_ms_bucket le=5 2\n"
                "histogram klok_lat_ms_count  4\n"
                "histogram klok_lat_ms_sum  112.5\n";
        assert_string_equal(got, want);
        sched_metrics_destroy(m);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_series_values),
                cmocka_unit_test(test_exposition_parses_with_prometheus_client),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
