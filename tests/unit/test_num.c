/* SPDX-License-Identifier: MIT */
/* test_num: xgt_parse_uint (tools/common/num.c), the one strict parser of
 * numeric options (xgrantd, xgrant-blkback, xgrant-netback) and of
 * backend/common's store values. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tools/common/xgt.h"

static void accepts(void **state)
{
    unsigned long v = 99;

    (void)state;
    assert_int_equal(xgt_parse_uint("0", 0, 5, &v, NULL, 0), 0);
    assert_int_equal(v, 0);
    assert_int_equal(xgt_parse_uint("5", 1, 5, &v, NULL, 0), 0);
    assert_int_equal(v, 5);
    assert_int_equal(xgt_parse_uint("007", 0, 10, &v, NULL, 0), 0);
    assert_int_equal(v, 7);
    assert_int_equal(xgt_parse_uint("4294967295", 0, 0xffffffffu, &v, NULL, 0),
                     0);
    assert_int_equal(v, 0xffffffffu);
}

static void refuses(void **state)
{
    static const char *const bad[] = {
        "",    " 5", "5 ",    "+5",  "-0",  "-1",  "0x10",
        "1e3", "5a", "12abc", "\t5", "5\n", "1.0", "99999999999999999999999"};
    unsigned long v = 42;
    char err[96];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = 0;
        assert_int_equal(
            xgt_parse_uint(bad[i], 0, ULONG_MAX, &v, err, sizeof(err)),
            -EINVAL);
        assert_int_equal(v, 42);
        assert_non_null(strstr(err, bad[i])); /* the message names it */
    }
    assert_int_equal(xgt_parse_uint(NULL, 0, 5, &v, NULL, 0), -EINVAL);
}

static void range(void **state)
{
    unsigned long v = 42;
    char err[96];

    (void)state;
    assert_int_equal(xgt_parse_uint("0", 1, 16, &v, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "want 1 to 16, not '0'");
    assert_int_equal(xgt_parse_uint("17", 1, 16, &v, err, sizeof(err)),
                     -EINVAL);
    assert_string_equal(err, "want 1 to 16, not '17'");
    /* One past ULONG_MAX does not wrap to 0. */
    assert_int_equal(
        xgt_parse_uint("18446744073709551616", 0, ULONG_MAX, &v, NULL, 0),
        -EINVAL);
    assert_int_equal(v, 42);
}

/* An option's number: its message goes to stderr as "prog: opt: why". */
static void option(void **state)
{
    char msg[160] = "";
    unsigned v = 42;
    FILE *saved = stderr, *f = tmpfile();

    (void)state;
    assert_non_null(f);
    assert_int_equal(xgt_opt_uint("prog", "--n", "7", 1, 16, &v), 0);
    assert_int_equal(v, 7);
    stderr = f;
    assert_int_equal(xgt_opt_uint("prog", "--n", "7x", 1, 16, &v), -EINVAL);
    stderr = saved;
    assert_int_equal(v, 7);
    rewind(f);
    assert_non_null(fgets(msg, sizeof(msg), f));
    assert_string_equal(msg, "prog: --n: want 1 to 16, not '7x'\n");
    fclose(f);
}

static void mac(void **state)
{
    static const char *const bad[] = {
        "",
        "00:16:3e:00:00",
        "00:16:3e:00:00:01:02",
        "00:16:3e:00:00:01 ",
        " 0:16:3e:00:00:01",
        "-1:16:3e:00:00:01",
        "+1:16:3e:00:00:01",
        "0x:16:3e:00:00:01",
        "000:16:3e:00:00:01",
        "00:16:3g:00:00:01",
        "00-16-3e-00-00-01",
        "00::3e:00:00:01",
    };
    uint8_t m[6] = {9, 9, 9, 9, 9, 9};
    unsigned i;

    (void)state;
    assert_int_equal(xgt_parse_mac("00:16:3E:0a:b:01", m), 0);
    assert_int_equal(m[0], 0x00);
    assert_int_equal(m[2], 0x3e);
    assert_int_equal(m[3], 0x0a);
    assert_int_equal(m[4], 0x0b);
    assert_int_equal(m[5], 0x01);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        m[0] = 42;
        assert_int_equal(xgt_parse_mac(bad[i], m), -EINVAL);
        assert_int_equal(m[0], 42);
    }
    assert_int_equal(xgt_parse_mac(NULL, m), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accepts), cmocka_unit_test(refuses),
        cmocka_unit_test(range),   cmocka_unit_test(option),
        cmocka_unit_test(mac),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
