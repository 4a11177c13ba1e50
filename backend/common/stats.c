/* SPDX-License-Identifier: MIT */
/*
 * stats.c: a device's counters written under its backend directory in
 * statistics/ (xbe_stats_write, xbe.h), in one transaction with a check
 * that the directory is still there: a store write creates missing
 * parents, so a check outside the transaction let a toolstack's removal
 * in between be undone by the counters.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "xbe.h"

struct stats_arg {
    const char *dir;
    const char *const *names;
    const uint64_t *now, *shown;
    unsigned n;
    int all;
};

static int stats_in(grant_xenbus_t *xb, xs_transaction_t t, void *arg)
{
    struct stats_arg *a = arg;
    unsigned i;
    int state, rc;

    rc = grant_xenbus_read_state(xb, t, a->dir, &state);
    if (rc < 0 || state == XenbusStateUnknown)
        return -ENOENT;
    for (i = 0, rc = 0; rc == 0 && i < a->n; i++) {
        char node[64];

        if (!a->all && a->now[i] == a->shown[i])
            continue;
        snprintf(node, sizeof(node), "statistics/%s", a->names[i]);
        rc = grant_xenbus_printf(xb, t, a->dir, node, "%" PRIu64, a->now[i]);
    }
    return rc;
}

int xbe_stats_write(grant_xenbus_t *xb, const char *dir,
                    const char *const *names, const uint64_t *now,
                    const uint64_t *shown, unsigned n, int all)
{
    struct stats_arg a = {dir, names, now, shown, n, all};

    return grant_xenbus_transact(xb, stats_in, &a, 0);
}
