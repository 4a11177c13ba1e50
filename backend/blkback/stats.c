/* SPDX-License-Identifier: MIT */
/*
 * stats.c: a vbd's counters, published under its backend directory in
 * statistics/ with Linux's sysfs names (xgrant block-list reads them
 * there, as xl reads the store), rewritten when changed (the caller calls
 * at most once a second, and at disconnect).
 */
#include <inttypes.h>
#include <stdio.h>

#include "private.h"

const char *const bb_stat_names[BB_NR_ST] = {
    [BB_ST_OO] = "oo_req",       [BB_ST_RD] = "rd_req",
    [BB_ST_WR] = "wr_req",       [BB_ST_F] = "f_req",
    [BB_ST_DS] = "ds_req",       [BB_ST_RD_SECT] = "rd_sect",
    [BB_ST_WR_SECT] = "wr_sect", [BB_ST_ERRORS] = "errors",
};

struct pub_arg {
    struct bb_stats *s;
    const char *dir;
    uint64_t now[BB_NR_ST];
};

static int publish_in(grant_xenbus_t *xb, xs_transaction_t t, void *arg)
{
    struct pub_arg *a = arg;
    int i, rc = 0;

    for (i = 0; rc == 0 && i < BB_NR_ST; i++) {
        char node[48];

        if (a->now[i] == a->s->shown[i] && !a->s->dirty_once)
            continue;
        snprintf(node, sizeof(node), "statistics/%s", bb_stat_names[i]);
        rc = grant_xenbus_printf(xb, t, a->dir, node, "%" PRIu64, a->now[i]);
    }
    return rc;
}

void bb_stats_publish(struct bb_stats *s, grant_xenbus_t *xb, const char *dir)
{
    struct pub_arg a = {s, dir, {0}};
    int i, changed = s->dirty_once;

    for (i = 0; i < BB_NR_ST; i++) {
        a.now[i] = __atomic_load_n(&s->v[i], __ATOMIC_RELAXED);
        changed |= a.now[i] != s->shown[i];
    }
    if (!changed || grant_xenbus_transact(xb, publish_in, &a, 0) < 0)
        return;
    for (i = 0; i < BB_NR_ST; i++)
        s->shown[i] = a.now[i];
    s->dirty_once = 0;
}
