/* SPDX-License-Identifier: MIT */
/*
 * devtest.h: what the split-driver tests share: domain 0 adding a device
 * as the toolstack (toolstack.h), and reading a guest's reply line while
 * domain 0 keeps serving its backend.
 */
#ifndef DEVTEST_H
#define DEVTEST_H

#include <stddef.h>

#include "itest.h"
#include "libgrant_xenbus.h"

/* itest_toolstack_add (toolstack.h) with no backend keys, recorded as a
 * check.  fe_dir/be_dir (GRANT_XENBUS_PATH_MAX) get the paths. */
void itest_device_add(grant_xenbus_t *xb, const char *kind, unsigned fe,
                      unsigned devid, char *fe_dir, char *be_dir);

/* A reply line awaited from an agent: itest_line_ready(lw) reads it once
 * it is there (without blocking) and says whether it came. */
struct itest_line_wait {
    struct itest_agent *a;
    char *buf;
    size_t len;
    int got;
};
int itest_line_ready(void *lw);

/* Milliseconds of CLOCK_MONOTONIC. */
long long itest_ms(void);

#endif
