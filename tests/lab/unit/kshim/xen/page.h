/* SPDX-License-Identifier: MIT */
/* See linux/kernel.h: the test decides each page's machine frame. */
#ifndef KSHIM_XEN_PAGE_H
#define KSHIM_XEN_PAGE_H
struct page;
unsigned long kshim_page_to_gfn(struct page *page);
#define xen_page_to_gfn kshim_page_to_gfn
#endif
