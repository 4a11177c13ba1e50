/* SPDX-License-Identifier: MIT */
/*
 * gcore_host.h: everything the grant core needs from the hypervisor that
 * hosts it.  Each host (tools/xgrantd/hostif.c, the Xen patch's
 * xen/common/gntx_host.c, tests/unit/testhost.c) implements every function
 * below; the core calls nothing else.  Besides these, a freestanding
 * environment must provide memcpy, memset and memmove (the compiler may emit
 * calls to them); the core itself calls gh_memcpy/gh_memset.
 */
#ifndef GCORE_HOST_H
#define GCORE_HOST_H

#include <stddef.h>
#include <stdint.h>

struct gcore;

/* Zeroed allocation; NULL on failure.  gh_free is NULL-safe. */
void *gh_zalloc(size_t size);
void gh_free(void *p);

void gh_memcpy(void *dst, const void *src, size_t n);
void gh_memset(void *dst, int c, size_t n);

/* The instance lock, held across every gcore_* entry point. */
void gh_lock(struct gcore *core);
void gh_unlock(struct gcore *core);

/*
 * A pointer through which the core may access all GNTX_PAGE_SIZE bytes of
 * guest frame `gfn` of the domain whose gcore_dom_add cookie is `cookie`,
 * for reading, or for writing too when `write` is non-zero.  NULL when the
 * host cannot provide it (the core has already checked gfn < nr_frames).
 * Every non-NULL result is released with gh_frame_put before the core
 * returns.
 */
void *gh_frame(void *cookie, uint64_t gfn, int write);
void gh_frame_put(void *cookie, void *va);

/*
 * FORCE revoke and domain removal: the mapping `handle` that the domain
 * `mapper_cookie` holds of frames of domain `owner` is torn down.  The host
 * MUST make those frames unreachable through that mapping before the
 * revoke it belongs to is reported complete to the revoker (Xen: replace
 * with a scratch page and flush TLBs; xgrantd: tell the mapper's library
 * and wait for it, or destroy the mapper).  The core has already dropped
 * its own bookkeeping of the mapping when this is called.
 */
void gh_unmap_notify(void *mapper_cookie, uint16_t owner, uint32_t handle);

#endif /* GCORE_HOST_H */
