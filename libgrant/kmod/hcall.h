// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * hcall.h: GNTTABOP_xgrant from a PV guest kernel (gntx_xen.h): the one
 * hypercall wrapper, for the xgrant module (call.c, map.c, prot.c,
 * release.c) and the lab's hostile module (tests/lab/hostile/xlabhv.c:
 * tests/lab/kmod-build.sh copies this header beside it).  Xen's answer:
 * 0, a count, or -errno.
 */
#ifndef XGRANT_KMOD_HCALL_H
#define XGRANT_KMOD_HCALL_H

#include <linux/kernel.h>
#include <asm/xen/hypercall.h>

#include "gntx_xen.h"

static inline long xg_hcall(unsigned int op, void *args, unsigned int count,
                            void *aux, u64 aux_count)
{
    struct gntx_xen_call c = {
        .op = op,
        .count = count,
        .args = (u64)(uintptr_t)args,
        .aux = (u64)(uintptr_t)aux,
        .aux_count = aux_count,
    };

    return HYPERVISOR_grant_table_op(GNTTABOP_xgrant, &c, 1);
}

#endif /* XGRANT_KMOD_HCALL_H */
