/*
 * test-time-config.c — RFC 3339 parsing and formatting, and the
 * table-driven configuration (types, bounds, unknown keys, env, files).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sched/config.h"
#include "sched/strset.h"
#include "sched/time.h"

static void test_time_parse_and_format(void **state) {
        (void)state;
        int64_t ms;
        char buf[SCHED_ISO_MAX];
        assert_int_equal(sched_time_parse("1970-01-01T00:00:00Z", &ms), 0);
        assert_int_equal(ms, 0);
        assert_int_equal(sched_time_parse("2026-11-23T13:20:46.123Z", &ms), 0);
        assert_int_equal(ms, 1795440046123LL);
        sched_time_format(ms, buf);
        assert_string_equal(buf, "2026-11-23T13:20:46.123Z");
        assert_int_equal(
                sched_time_parse("2026-11-23T14:20:46.123456+01:00", &ms), 0);
        assert_int_equal(ms, 1795440046123LL);
        assert_int_equal(sched_time_parse("1969-12-31T23:59:59.999Z", &ms), 0);
        assert_int_equal(ms, -1);
        sched_time_format(-1, buf);
        assert_string_equal(buf, "1969-12-31T23:59:59.999Z");
        assert_int_equal(sched_time_parse("2024-02-29T00:00:00Z", &ms), 0);
        const char *bad[] = {"",
                             "2026-11-23",
                             "2026-11-23T13:20:46",  /* no zone */
                             "2023-02-29T00:00:00Z", /* not a leap year */
                             "2026-13-01T00:00:00Z",
                             "2026-11-31T00:00:00Z",
                             "2026-11-23T24:00:00Z",
                             "2026-11-23T13:20:46.Z",
                             "2026-11-23T13:20:46Zjunk",
                             "2026-11-23T13:20:46+0100",
                             "yesterday",
                             NULL};
        for (int i = 0; bad[i]; i++)
                assert_int_not_equal(sched_time_parse(bad[i], &ms), 0);
        assert_int_not_equal(sched_time_parse(NULL, &ms), 0);
}

typedef struct conf_s {
        char name[8];
        int64_t n;
        int flag;
} conf_t;

static const sched_conf_prop_t props[] = {
        {"name", SCHED_CONF_STR, offsetof(conf_t, name), 8, "abc", "a name", 0,
         0},
        {"some.number", SCHED_CONF_INT, offsetof(conf_t, n), 0, "5", "n", 1,
         10},
        {"flag", SCHED_CONF_BOOL, offsetof(conf_t, flag), 0, "false", "f", 0,
         0},
        SCHED_CONF_END,
};

static void test_config_types_bounds_and_unknown_keys(void **state) {
        (void)state;
        conf_t c;
        char errstr[256];
        sched_conf_defaults(props, &c);
        assert_string_equal(c.name, "abc");
        assert_int_equal(c.n, 5);
        assert_int_equal(c.flag, 0);
        assert_int_equal(sched_conf_set(props, &c, "some.number", "10", NULL,
                                        NULL, errstr, sizeof(errstr)),
                         0);
        assert_int_equal(c.n, 10);
        assert_int_not_equal(sched_conf_set(props, &c, "some.number", "11",
                                            NULL, NULL, errstr,
                                            sizeof(errstr)),
                             0);
        assert_non_null(strstr(errstr, "some.number"));
        assert_int_not_equal(sched_conf_set(props, &c, "some.number", "3x",
                                            NULL, NULL, errstr,
                                            sizeof(errstr)),
                             0);
        assert_int_not_equal(sched_conf_set(props, &c, "name", "12345678",
                                            NULL, NULL, errstr,
                                            sizeof(errstr)),
                             0);
        assert_int_not_equal(sched_conf_set(props, &c, "flag", "maybe", NULL,
                                            NULL, errstr, sizeof(errstr)),
                             0);
        assert_int_not_equal(sched_conf_set(props, &c, "nope", "1", NULL, NULL,
                                            errstr, sizeof(errstr)),
                             0);
        assert_non_null(strstr(errstr, "unknown"));
}

static void test_config_file_then_env_then_args(void **state) {
        (void)state;
        char path[] = "/tmp/klok-test-conf-XXXXXX";
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        FILE *fp = fdopen(fd, "w");
        fputs("# comment\n\nname = fromf\nsome.number = 7\nflag = on\n", fp);
        fclose(fp);
        conf_t c;
        char errstr[256];
        setenv("KLOK_SOME_NUMBER", "8", 1);
        char *argv[] = {"prog", "--config", path, "--set", "name=arg", NULL};
        assert_int_equal(sched_conf_from_args(props, &c, 5, argv, NULL, NULL,
                                              errstr, sizeof(errstr)),
                         0);
        assert_string_equal(c.name, "arg");
        assert_int_equal(c.n, 8);
        assert_int_equal(c.flag, 1);
        unsetenv("KLOK_SOME_NUMBER");
        fp = fopen(path, "w");
        fputs("name = x\nmystery = 1\n", fp);
        fclose(fp);
        assert_int_not_equal(sched_conf_from_args(props, &c, 3, argv, NULL,
                                                  NULL, errstr,
                                                  sizeof(errstr)),
                             0);
        assert_non_null(strstr(errstr, ":2:")); /* names the line */
        remove(path);
}

static void test_strset(void **state) {
        (void)state;
        sched_strset_t *s = sched_strset_new();
        char key[32];
        for (int i = 0; i < 1000; i++) {
                snprintf(key, sizeof(key), "job-%d", i);
                assert_true(sched_strset_add(s, key, i % 4));
        }
        assert_false(sched_strset_add(s, "job-5", 0));
        assert_int_equal(sched_strset_count(s), 1000);
        assert_true(sched_strset_has(s, "job-999"));
        assert_true(sched_strset_del(s, "job-999"));
        assert_false(sched_strset_has(s, "job-999"));
        sched_strset_del_tag(s, 1);
        assert_int_equal(sched_strset_count(s), 999 - 250);
        assert_false(sched_strset_has(s, "job-1"));
        assert_true(sched_strset_has(s, "job-2"));
        sched_strset_destroy(s);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_time_parse_and_format),
                cmocka_unit_test(test_config_types_bounds_and_unknown_keys),
                cmocka_unit_test(test_config_file_then_env_then_args),
                cmocka_unit_test(test_strset),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
