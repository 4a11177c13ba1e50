/* SPDX-License-Identifier: MIT */
/* devtest.c: the split-driver tests' toolstack and reply lines
 * (devtest.h). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <time.h>

#include "devtest.h"

struct ts_arg {
    unsigned fe;
    const char *fe_dir, *be_dir;
};

static int toolstack_in(grant_xenbus_t *xb, xs_transaction_t t, void *arg)
{
    struct ts_arg *a = arg;
    char perms[32];
    int rc = 0;

    /* The directories first, with their perms: the keys inherit them. */
    rc |= grant_xenbus_mkdir(xb, t, a->be_dir, NULL);
    snprintf(perms, sizeof(perms), "n0,r%u", a->fe);
    rc |= grant_xenbus_set_perms(xb, t, a->be_dir, NULL, perms);
    rc |= grant_xenbus_mkdir(xb, t, a->fe_dir, NULL);
    snprintf(perms, sizeof(perms), "n%u,r0", a->fe);
    rc |= grant_xenbus_set_perms(xb, t, a->fe_dir, NULL, perms);
    rc |= grant_xenbus_write(xb, t, a->be_dir, "frontend", a->fe_dir);
    rc |= grant_xenbus_printf(xb, t, a->be_dir, "frontend-id", "%u", a->fe);
    rc |= grant_xenbus_write(xb, t, a->be_dir, "online", "1");
    rc |= grant_xenbus_write(xb, t, a->be_dir, "state", "1");
    rc |= grant_xenbus_write(xb, t, a->fe_dir, "backend", a->be_dir);
    rc |= grant_xenbus_write(xb, t, a->fe_dir, "backend-id", "0");
    rc |= grant_xenbus_write(xb, t, a->fe_dir, "state", "1");
    return rc ? -EIO : 0;
}

void itest_toolstack_add(grant_xenbus_t *xb, const char *kind, unsigned fe,
                         unsigned devid, char *fe_dir, char *be_dir)
{
    struct ts_arg a = {fe, fe_dir, be_dir};

    grant_xenbus_frontend_dir(fe, kind, devid, fe_dir, GRANT_XENBUS_PATH_MAX);
    grant_xenbus_backend_dir(0, kind, fe, devid, be_dir, GRANT_XENBUS_PATH_MAX);
    ICHECK(grant_xenbus_transact(xb, toolstack_in, &a, 0) == 0,
           "toolstack wrote %s", fe_dir);
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
