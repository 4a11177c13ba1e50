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

/*
 * The instance lock, held by every gcore_* entry point while it reads or
 * changes the core's state: exclusive by a domain's addition or removal
 * and by calls whose work may reach any number of domains; shared by
 * every other call, which then takes the core's own per-domain locks of
 * the domains it touches (lock.c; waiters spin with gh_relax).  So the
 * hooks below that say "called with the core lock held" may run on
 * several CPUs at once for calls about different domains: a host keeps
 * its own state in them safe itself (Xen: map.c's xg_rec_lock).  COPY and
 * MEMSET drop every lock while a validated chunk's bytes move (gh_frame,
 * gh_memcpy, gh_frame_put run without them then, possibly on several
 * CPUs at once); REVOKE, PROTECT and a domain's removal wait for such
 * chunks with gh_relax before they return.
 */
void gh_lock(struct gcore *core);
void gh_unlock(struct gcore *core);
/*
 * The same lock held shared: COPY and MEMSET validate a chunk under it
 * (reading the core's state only), so copies of any number of CPUs run at
 * once and only wait for an exclusive holder (Xen: a rwlock).  A host
 * that runs the core on one thread at a time may make both the same.
 */
void gh_lock_shared(struct gcore *core);
void gh_unlock_shared(struct gcore *core);
/* One pause of a wait loop (Xen: cpu_relax; user space: sched_yield). */
void gh_relax(void);

/*
 * A pointer through which the core may access all GNTX_PAGE_SIZE bytes of
 * guest frame `gfn` of the domain whose gcore_dom_add cookie is `cookie`,
 * for reading, or for writing too when `write` is non-zero.  NULL when the
 * host cannot provide it (the core has already checked gfn < nr_frames).
 * Every non-NULL result is released with gh_frame_put before the core
 * returns.  The result MUST keep the frame alive until gh_frame_put (Xen:
 * a page reference): a copy holds it without the core lock, while the
 * domain may be revoking its grants.  Called with or without the lock;
 * the cookie's domain stays registered until the call returns.
 */
void *gh_frame(void *cookie, uint64_t gfn, int write);
void gh_frame_put(void *cookie, void *va);

/*
 * A mapping was just made: the domain `mapper_cookie` maps `npages` pages
 * of domain `owner` through mapping `handle`: `frames` are the owner's
 * frames it maps (what MAP returns at aux[frame_idx ..]), read-only if
 * `rdonly`.  Called with the core lock held, before any gh_unmap_notify or
 * gh_map_restrict can name the handle, so a host that installs the mapping
 * itself after the call (Xen writes the mapper's PTEs) has its record, and
 * the frames and rights the core decided, from the first moment the
 * mapping exists (never re-read them from the caller's arrays).  0, or
 * -GNTX_E* to fail the element (the core undoes the mapping, without
 * gh_unmap_notify).  MUST NOT call back into the core.
 */
int gh_map_made(void *mapper_cookie, uint16_t owner, uint32_t handle,
                uint64_t frame_idx, const uint64_t *frames, uint64_t npages,
                int rdonly);

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

/*
 * Page protection (grant_abi.h, GNTX_OP_PROTECT).  All three are called
 * with the core lock held: they MUST NOT call back into the core, and may
 * only queue work that needs more than a bounded, non-blocking step.
 *
 * gh_map_restrict: PROTECT tightened pages that the domain `mapper_cookie`
 * has mapped through mapping `handle` of `owner`'s frames: pages
 * [first, first + npages) of that mapping (page indices within the
 * mapping, as GNTX_OP_MAP returned its frames) must allow at most `access`
 * (GNTX_ACC_R: read-only, or GNTX_ACC_NONE: no access) before the PROTECT
 * is reported complete to `owner` (Xen: rewrite the grantee's PTEs or p2m
 * entries of those frames read-only / to a scratch page and flush TLBs;
 * xgrantd: tell the mapper's library, wait for it, or destroy the mapper).
 * The mapping and its handle stay live in the core.
 */
void gh_map_restrict(void *mapper_cookie, uint16_t owner, uint32_t handle,
                     uint64_t first, uint64_t npages, unsigned access);

/*
 * gh_fault_notify: raise event channel `port` of the domain `cookie` (its
 * fault ring has new records).  Xen: evtchn_port_set_pending on the
 * domain's own port (as for a VIRQ); xgrantd: signal the port's eventfd.
 * A port that is not bound is ignored.
 */
void gh_fault_notify(void *cookie, uint32_t port);

/*
 * gh_dom_kill: a KILL protection was violated by the domain `cookie`; the
 * host destroys it once the current call is over (Xen: domain_crash;
 * xgrantd: its domain-destroy path after the reply).  The core never asks
 * this for the control domain, for a domain gh_dom_exempt names, nor for
 * one that maps memory of a domain other than the protecting owner (it
 * serves others): those get NOTIFY instead (EACCES and the record, whose
 * action says NOTIFY).  The domain stays in the core until the host's
 * destroy path calls gcore_dom_remove.
 *
 * gh_dom_exempt: non-zero when the domain `cookie` must never be destroyed
 * by another domain's protection because the host knows it is privileged
 * or serves other domains (Xen: the control, hardware or xenstore domain,
 * a device model, a backend that mapped other domains' grants, a domain
 * with passthrough devices).  Called with the core lock held: MUST NOT
 * call back into the core; bounded, non-blocking.
 */
void gh_dom_kill(void *cookie);
int gh_dom_exempt(void *cookie);

/*
 * gh_dom_charge: the domain `cookie` now pays for `now` bytes of the
 * host memory the core keeps for it (its protection ranges and classes)
 * instead of `before`.  0, or non-zero to refuse a growth (the operation
 * that needed it fails ENOSPC); a shrink is never refused, and the core
 * gives everything back (now 0) before it forgets the domain.  Xen: the
 * pages are counted in the domain's own allowance (tot_pages against
 * max_pages), as if it had allocated them.  Called with the core lock
 * held: MUST NOT call back into the core; bounded.
 */
int gh_dom_charge(void *cookie, uint64_t before, uint64_t now);

/*
 * gh_may_use: the host's own policy on sharing (Xen: XSM/FLASK).  May the
 * domain `who` use memory of the domain `owner` (the owner of a grant
 * chain's frames, never `who` itself) with `rights`: the GNTX_R_* bits the
 * use needs (GNTX_R_MAP for a map, 0 for a delegation)?  0, or
 * -GNTX_EPERM to refuse the element.  Called with the core lock held for
 * every copy, memset, map and delegation through a grant, after the
 * core's own checks passed: MUST NOT call back into the core; bounded.
 */
int gh_may_use(void *who, void *owner, unsigned rights);

#endif /* GCORE_HOST_H */
