/* SPDX-License-Identifier: MIT */
/* See linux/kernel.h: the test sees every page the module frees. */
#ifndef KSHIM_MM_H
#define KSHIM_MM_H
#include <linux/kernel.h>
struct page;
void kshim_free_page(struct page *page);
#define __free_page kshim_free_page
#endif
