/* SPDX-License-Identifier: MIT */
/*
 * xgrant.h: the module's internals, shared by main.c (the device, the
 * grant memory, mmap) and call.c (XGRANT_IOC_CALL).
 */
#ifndef XGRANT_KMOD_H
#define XGRANT_KMOD_H

#include <linux/mm_types.h>
#include <linux/mutex.h>

/* One open /dev/xgrant: its grant memory. */
struct xg_file {
    struct mutex lock; /* guards everything below */
    struct page **pages;
    unsigned long nr_pages;
    void *scratch; /* call.c's split buffers, NULL until the first use */
};

/* call.c */
long xg_call(struct xg_file *f, void __user *uarg);

#endif /* XGRANT_KMOD_H */
