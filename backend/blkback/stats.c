/* SPDX-License-Identifier: MIT */
/*
 * stats.c: a vbd's counters, published under its backend directory in
 * statistics/ with Linux's sysfs names (xgrant block-list reads them
 * there, as xl reads the store), rewritten when changed (the caller calls
 * at most once a second, and at disconnect).
 */
#include "private.h"

const char *const bb_stat_names[BB_NR_ST] = {
    [BB_ST_OO] = "oo_req",       [BB_ST_RD] = "rd_req",
    [BB_ST_WR] = "wr_req",       [BB_ST_F] = "f_req",
    [BB_ST_DS] = "ds_req",       [BB_ST_RD_SECT] = "rd_sect",
    [BB_ST_WR_SECT] = "wr_sect", [BB_ST_ERRORS] = "errors",
};

void bb_stats_publish(struct bb_stats *s, grant_xenbus_t *xb, const char *dir)
{
    uint64_t now[BB_NR_ST];
    int i, changed = s->dirty_once;

    for (i = 0; i < BB_NR_ST; i++) {
        now[i] = __atomic_load_n(&s->v[i], __ATOMIC_RELAXED);
        changed |= now[i] != s->shown[i];
    }
    /* Not into a directory the toolstack removed (xbe_stats_write). */
    if (!changed || xbe_stats_write(xb, dir, bb_stat_names, now, s->shown,
                                    BB_NR_ST, s->dirty_once) < 0)
        return;
    for (i = 0; i < BB_NR_ST; i++)
        s->shown[i] = now[i];
    s->dirty_once = 0;
}
