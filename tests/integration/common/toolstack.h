/* SPDX-License-Identifier: MIT */
/* toolstack.h: the toolstack's part of adding a split device, as libxl
 * writes it, for the driver tests. */
#ifndef ITEST_TOOLSTACK_H
#define ITEST_TOOLSTACK_H

#include "libgrant_xenbus.h"

/*
 * In one transaction: backend/<kind>/<fe>/<devid> of domain 0 (perms
 * n0,r<fe>) and device/<kind>/<devid> of fe (perms n<fe>,r0), the links,
 * online = 1, state 1 on both sides, and the backend keys `keys` (name,
 * value pairs, NULL-terminated; may be NULL).  fe_dir and be_dir (may be
 * NULL) receive the paths (GRANT_XENBUS_PATH_MAX bytes).  0 or -errno.
 */
int itest_toolstack_add(grant_xenbus_t *xb, const char *kind, unsigned fe,
                        unsigned devid, const char *const *keys, char *fe_dir,
                        char *be_dir);

#endif
