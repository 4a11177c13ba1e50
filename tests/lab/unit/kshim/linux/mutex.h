/* SPDX-License-Identifier: MIT */
/* See linux/kernel.h. */
#ifndef KSHIM_MUTEX_H
#define KSHIM_MUTEX_H
struct mutex {
    int unused;
};
#endif
