/* SPDX-License-Identifier: MIT */
/* num.c: strict numbers (command-line options, store values, MACs). */
#include <errno.h>
#include <stdio.h>

#include "xgt.h"

int xgt_parse_uint(const char *s, unsigned long min, unsigned long max,
                   unsigned long *out, char *err, size_t errlen)
{
    unsigned long v = 0;
    const char *p = s;

    for (; p && *p >= '0' && *p <= '9'; p++)
        if (__builtin_mul_overflow(v, 10ul, &v) ||
            __builtin_add_overflow(v, (unsigned long)(*p - '0'), &v))
            break;
    if (!s || p == s || *p || v < min || v > max) {
        if (err && errlen)
            snprintf(err, errlen, "want %lu to %lu, not '%s'", min, max,
                     s ? s : "");
        return -EINVAL;
    }
    *out = v;
    return 0;
}

int xgt_opt_uint(const char *prog, const char *opt, const char *s, unsigned min,
                 unsigned max, unsigned *out)
{
    char err[96];
    unsigned long v;

    if (xgt_parse_uint(s, min, max, &v, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s: %s: %s\n", prog, opt, err);
        return -EINVAL;
    }
    *out = (unsigned)v;
    return 0;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int xgt_parse_mac(const char *s, uint8_t mac[6])
{
    uint8_t m[6];
    unsigned i, n;

    for (i = 0; s && i < 6; i++, s++) {
        m[i] = 0;
        for (n = 0; n < 2 && hex_digit(*s) >= 0; n++, s++)
            m[i] = (uint8_t)(m[i] << 4 | hex_digit(*s));
        if (!n || *s != (i == 5 ? '\0' : ':'))
            return -EINVAL;
    }
    if (!s)
        return -EINVAL;
    for (i = 0; i < 6; i++)
        mac[i] = m[i];
    return 0;
}
