/* SPDX-License-Identifier: MIT */
/* num.c: strict decimal numbers (command-line options, store values). */
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
