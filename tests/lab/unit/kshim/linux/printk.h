/* SPDX-License-Identifier: MIT */
/* See linux/kernel.h: the test counts the module's warnings. */
#ifndef KSHIM_PRINTK_H
#define KSHIM_PRINTK_H
void kshim_warn(const char *fmt, ...);
#define pr_warn_ratelimited kshim_warn
#endif
