/* SPDX-License-Identifier: MIT */
/*
 * xlab_v1.h: Xen's own grants (libxengnttab), kept apart from libgrant.h:
 * both headers name a type grant_handle_t.
 */
#ifndef XLAB_V1_H
#define XLAB_V1_H

#include <stdint.h>

/* Copies 4 KiB from (guest, gref) to dst `iters` times with
 * GNTTABOP_copy, timing each into t_ns[]; 0 or -errno. */
int xlab_v1_copy_times(unsigned guest, uint32_t gref, void *dst, unsigned iters,
                       uint64_t *t_ns);
/* Maps (guest, gref) read-only with GNTTABOP_map_grant_ref, reads a byte
 * and unmaps it `iters` times (0: the first round only), timing each into
 * t_ns[]; an untimed first round copies the page to first[4096].  0 or
 * -errno. */
int xlab_v1_map_times(unsigned guest, uint32_t gref, void *first,
                      unsigned iters, uint64_t *t_ns);
/* Shares one page with dom through gntalloc; 0 or -errno. */
int xlab_v1_share(unsigned dom, void **page, uint32_t *gref);
void xlab_v1_unshare(void);
uint64_t xlab_now_ns(void);

/* An event channel port of this domain that only this domain signals
 * (bound unbound to itself: the fault ring's port); 0 or -errno. */
int xlab_v1_self_port(unsigned self, uint32_t *port);
/* 1 when the port fired within timeout_ms, 0 if not, or -errno. */
int xlab_v1_port_wait(uint32_t port, int timeout_ms);
void xlab_v1_port_close(void);

#endif /* XLAB_V1_H */
