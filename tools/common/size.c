/* SPDX-License-Identifier: MIT */
/* size.c: byte sizes with binary units, both ways. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "xgt.h"

struct unit {
    const char *names[3];
    unsigned shift;
};

static const struct unit units[] = {
    {{"", "B", NULL}, 0},     {{"K", "KB", "KiB"}, 10},
    {{"M", "MB", "MiB"}, 20}, {{"G", "GB", "GiB"}, 30},
    {{"T", "TB", "TiB"}, 40},
};

static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
    va_list ap;

    if (err && errlen) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* The shift for a unit suffix, or -1. */
static int unit_shift(const char *suffix)
{
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        for (size_t j = 0; j < 3 && units[i].names[j]; j++)
            if (strcasecmp(suffix, units[i].names[j]) == 0)
                return (int)units[i].shift;
    return -1;
}

int xgt_parse_size(const char *s, uint64_t *bytes, char *err, size_t errlen)
{
    uint64_t v = 0;
    const char *p = s;
    int shift;

    if (!s || !*s)
        return fail(err, errlen, -EINVAL, "empty size");
    if (*p < '0' || *p > '9')
        return fail(err, errlen, -EINVAL,
                    "\"%s\": not a size (expected digits, then K, M, G or T)",
                    s);
    for (; *p >= '0' && *p <= '9'; p++) {
        if (__builtin_mul_overflow(v, 10, &v) ||
            __builtin_add_overflow(v, (uint64_t)(*p - '0'), &v))
            return fail(err, errlen, -ERANGE, "\"%s\": size too large", s);
    }
    shift = unit_shift(p);
    if (shift < 0)
        return fail(err, errlen, -EINVAL,
                    "\"%s\": unknown unit \"%s\" (use K, M, G or T)", s, p);
    if (shift && v > (UINT64_MAX >> shift))
        return fail(err, errlen, -ERANGE, "\"%s\": size too large", s);
    *bytes = v << shift;
    return 0;
}

int xgt_format_size(uint64_t bytes, char *buf, size_t len)
{
    static const char sfx[] = "TGMK";

    for (int i = 0; i < 4; i++) {
        unsigned shift = (unsigned)(4 - i) * 10;
        uint64_t unit = UINT64_C(1) << shift;

        if (bytes && bytes % unit == 0)
            return snprintf(buf, len, "%" PRIu64 "%c", bytes >> shift, sfx[i]);
    }
    return snprintf(buf, len, "%" PRIu64, bytes);
}
