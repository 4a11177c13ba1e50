/* SPDX-License-Identifier: MIT */
/* See linux/kernel.h: a page is its bytes here. */
#ifndef KSHIM_MM_TYPES_H
#define KSHIM_MM_TYPES_H
struct page {
    unsigned char data[4096];
};
#endif
