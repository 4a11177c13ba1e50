/* SPDX-License-Identifier: MIT */
/* devtest.c: the split-driver tests' device adding and reply lines
 * (devtest.h). */
#include <poll.h>
#include <stdio.h>
#include <time.h>

#include "devtest.h"
#include "toolstack.h"

void itest_device_add(grant_xenbus_t *xb, const char *kind, unsigned fe,
                      unsigned devid, char *fe_dir, char *be_dir)
{
    ICHECK(itest_toolstack_add(xb, kind, fe, devid, NULL, fe_dir, be_dir) == 0,
           "toolstack wrote %s/%u for domain %u", kind, devid, fe);
}

int itest_line_ready(void *arg)
{
    struct itest_line_wait *lw = arg;
    struct pollfd p = {.fd = lw->a->from, .events = POLLIN};

    if (!lw->got && poll(&p, 1, 0) == 1) {
        if (!fgets(lw->buf, (int)lw->len, lw->a->in))
            lw->buf[0] = '\0';
        lw->got = 1;
    }
    return lw->got;
}

long long itest_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000ll + ts.tv_nsec / 1000000;
}
