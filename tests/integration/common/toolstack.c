/* SPDX-License-Identifier: MIT */
/* toolstack.c: see toolstack.h. */
#include <errno.h>
#include <stdio.h>

#include "toolstack.h"

struct ts_arg {
    unsigned fe;
    const char *const *keys;
    char fe_dir[GRANT_XENBUS_PATH_MAX], be_dir[GRANT_XENBUS_PATH_MAX];
};

static int toolstack_in(grant_xenbus_t *xb, xs_transaction_t t, void *arg)
{
    struct ts_arg *a = arg;
    const char *const *k;
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
    for (k = a->keys; k && k[0] && k[1]; k += 2)
        rc |= grant_xenbus_write(xb, t, a->be_dir, k[0], k[1]);
    rc |= grant_xenbus_write(xb, t, a->be_dir, "online", "1");
    rc |= grant_xenbus_write(xb, t, a->be_dir, "state", "1");
    rc |= grant_xenbus_write(xb, t, a->fe_dir, "backend", a->be_dir);
    rc |= grant_xenbus_write(xb, t, a->fe_dir, "backend-id", "0");
    rc |= grant_xenbus_write(xb, t, a->fe_dir, "state", "1");
    return rc ? -EIO : 0;
}

int itest_toolstack_add(grant_xenbus_t *xb, const char *kind, unsigned fe,
                        unsigned devid, const char *const *keys, char *fe_dir,
                        char *be_dir)
{
    struct ts_arg a = {fe, keys, "", ""};
    int rc;

    rc = grant_xenbus_frontend_dir(fe, kind, devid, a.fe_dir, sizeof(a.fe_dir));
    if (rc == 0)
        rc = grant_xenbus_backend_dir(0, kind, fe, devid, a.be_dir,
                                      sizeof(a.be_dir));
    if (rc == 0)
        rc = grant_xenbus_transact(xb, toolstack_in, &a, 0);
    if (fe_dir)
        snprintf(fe_dir, GRANT_XENBUS_PATH_MAX, "%s", a.fe_dir);
    if (be_dir)
        snprintf(be_dir, GRANT_XENBUS_PATH_MAX, "%s", a.be_dir);
    return rc;
}
