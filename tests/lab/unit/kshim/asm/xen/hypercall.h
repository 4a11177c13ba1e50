/* SPDX-License-Identifier: MIT */
/* See linux/kernel.h: the hypercall goes to the test's fake hypervisor. */
#ifndef KSHIM_HYPERCALL_H
#define KSHIM_HYPERCALL_H
int kshim_grant_table_op(unsigned int cmd, void *uop, unsigned int count);
#define HYPERVISOR_grant_table_op kshim_grant_table_op
#endif
