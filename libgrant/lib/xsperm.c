/* SPDX-License-Identifier: MIT */
/*
 * xsperm.c: one xenstore permission entry ("r3"), xsperm.h's rules.
 */
#include <errno.h>

#include "xsperm.h"

/* LG_PERM_* of a mode letter, or -EINVAL. */
static int mode_of(char letter)
{
    switch (letter) {
    case 'n':
        return (int)LG_PERM_NONE;
    case 'r':
        return (int)LG_PERM_READ;
    case 'w':
        return (int)LG_PERM_WRITE;
    case 'b':
        return (int)LG_PERM_BOTH;
    }
    return -EINVAL;
}

int lg_perm_parse(const char *s, size_t n, unsigned *mode, unsigned *dom)
{
    unsigned long id = 0;
    int m;

    if (n < 2 || n > 6 || (m = mode_of(s[0])) < 0)
        return -EINVAL;
    for (size_t i = 1; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -EINVAL;
        id = id * 10 + (unsigned long)(s[i] - '0');
    }
    if (id > LG_PERM_DOMID_MAX)
        return -EINVAL;
    *mode = (unsigned)m;
    *dom = (unsigned)id;
    return 0;
}
