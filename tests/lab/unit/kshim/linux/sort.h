/* SPDX-License-Identifier: MIT */
/* See linux/kernel.h: the kernel's sort is qsort without the swap hook. */
#ifndef KSHIM_SORT_H
#define KSHIM_SORT_H
#include <stdlib.h>
#define sort(base, n, size, cmp, swap) qsort(base, n, size, cmp)
#endif
