/* SPDX-License-Identifier: MIT */
/*
 * gcore.h: the hypervisor-side grant core, as its hosts (xgrantd, the Xen
 * patches, the unit-test host) call it.
 *
 * The core is freestanding: it includes only <stdint.h>, <stddef.h>,
 * <stdbool.h>, grant_abi.h and gcore_host.h, and reaches the outside world
 * only through the gh_* functions of gcore_host.h.
 *
 * Concurrency: every gcore_* call takes the core's locks while it reads or
 * changes the core's state; callers need no lock of their own and may call
 * from several threads (CPUs) at once.  The locks are per domain (lock.c):
 * the instance lock (gh_lock) held shared, then the locks of the domains
 * the call touches, in domain-id order, so calls about unrelated domains
 * run at once; domain addition and removal and the few calls whose work
 * may reach any number of domains hold the instance lock exclusive.
 * COPY and MEMSET move
 * their bytes without it, a validated chunk (at most 64 pages per end) at
 * a time, holding the frames through gh_frame; REVOKE, PROTECT,
 * gcore_revoke_frames and gcore_dom_remove return only once every chunk
 * validated before their change is over (inflight.c), so no byte moves
 * under the old rules after they return.
 *
 * Argument arrays are the host's own copies: a host copies a guest's batch
 * in ONCE, calls the core, and copies the results (status, ref, handle,
 * query output) back.  The core never reads guest-supplied memory except
 * through gh_frame (the granted bytes themselves).
 */
#ifndef GCORE_H
#define GCORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../abi/grant_abi.h"

struct gcore;

/* Default per-domain quotas (GNTX_OP_SET_QUOTA changes them). */
#define GCORE_DEFAULT_MAX_ENTRIES 4096u
#define GCORE_DEFAULT_MAX_MAPS    1024u
#define GCORE_DEFAULT_MAX_FRAMES  (1u << 20)

/* Instance. 0 or -GNTX_ENOMEM. */
int gcore_create(struct gcore **out);
/* Destroys every domain first.  NULL-safe. */
void gcore_destroy(struct gcore *core);
/* The byte budget of one COPY or MEMSET call (see grant_abi.h's
 * continuation rule); 0 restores GNTX_DEFAULT_CALL_BYTES. */
void gcore_set_call_bytes(struct gcore *core, uint64_t bytes);
/* The byte budget of one IO call (GNTX_OP_IO); 0 restores
 * GNTX_DEFAULT_IO_BYTES. */
void gcore_set_io_bytes(struct gcore *core, uint64_t bytes);
/* The work budget of one PROTECT call, in pages (grant_abi.h); 0 restores
 * GNTX_DEFAULT_CALL_PAGES. */
void gcore_set_call_pages(struct gcore *core, uint64_t pages);

/*
 * Domains.  `nr_frames` is the size of the domain's memory: frames
 * [0, nr_frames) are its own.  `cookie` is handed back to the host in gh_*
 * calls about this domain.  -GNTX_EEXIST, -GNTX_EINVAL (id above
 * GNTX_DOMID_MAX), -GNTX_ENOMEM.
 */
int gcore_dom_add(struct gcore *core, gntx_domid_t id, uint64_t nr_frames,
                  void *cookie);
/*
 * Removes a domain: FORCE-revokes every entry of its table (so every
 * mapping of its memory, direct or through delegation, is torn down with
 * gh_unmap_notify), drops every mapping it holds of others' memory, frees
 * its table.  Entries that others delegated from its grants become orphans.
 * Unknown id: no-op.  Never fails.
 */
void gcore_dom_remove(struct gcore *core, gntx_domid_t id);
bool gcore_dom_exists(struct gcore *core, gntx_domid_t id);
/*
 * The host takes frames of domain `dom` back (xgrantd: MEM_FREE, or the
 * client that allocated them is gone): the `n` ranges [first, first + nr)
 * of `r`, sorted by `first` and disjoint.  FORCE-revokes every direct entry
 * of dom's table that names one of those frames, so every descendant dies
 * and every mapping through them is torn down with gh_unmap_notify.  The
 * host MUST NOT reuse the frames before those unmaps are complete.  Costs
 * one pass over dom's table (a binary search per frame an entry names).
 * Returns the number of entries revoked; unknown dom: 0.
 */
struct gcore_range {
    uint64_t first, nr;
};
int gcore_revoke_frames(struct gcore *core, gntx_domid_t dom,
                        const struct gcore_range *r, size_t n);

/*
 * The one entry point for hypercalls: op, args (count elements of the op's
 * struct), aux (aux_count elements: uint64_t frames or gntx_entry_info),
 * from domain `caller`.  Returns what grant_abi.h documents for the op.
 * The caller never has GNTX_DOMID_SELF resolved for it: the core maps
 * GNTX_DOMID_SELF in dom fields to `caller`.  GNTX_OP_IO needs the host's
 * file I/O, which this entry point has not: -GNTX_EOPNOTSUPP (a host that
 * does file I/O calls gcore_io).
 */
long gcore_hypercall(struct gcore *core, gntx_domid_t caller, unsigned op,
                     void *args, unsigned count, void *aux, uint64_t aux_count);

/* Typed entry points (gcore_hypercall dispatches to these). */
int gcore_grant_create(struct gcore *core, gntx_domid_t caller,
                       struct gntx_create *v, unsigned n,
                       const uint64_t *frames, uint64_t nr_frames);
int gcore_grant_revoke(struct gcore *core, gntx_domid_t caller,
                       struct gntx_revoke *v, unsigned n);
int gcore_copy(struct gcore *core, gntx_domid_t caller, struct gntx_copy *v,
               unsigned n);
int gcore_memset(struct gcore *core, gntx_domid_t caller, struct gntx_memset *v,
                 unsigned n);
int gcore_map(struct gcore *core, gntx_domid_t caller, struct gntx_map *v,
              unsigned n, uint64_t *frames, uint64_t nr_frames);
int gcore_unmap(struct gcore *core, gntx_domid_t caller, struct gntx_unmap *v,
                unsigned n);
int gcore_query_table(struct gcore *core, gntx_domid_t caller,
                      struct gntx_query *q, struct gntx_entry_info *out,
                      uint64_t cap);
int gcore_query_tree(struct gcore *core, gntx_domid_t caller,
                     struct gntx_query *q, struct gntx_entry_info *out,
                     uint64_t cap);
int gcore_usage(struct gcore *core, gntx_domid_t caller, struct gntx_usage *u);
int gcore_set_quota(struct gcore *core, gntx_domid_t caller,
                    const struct gntx_usage *u);

/*
 * GNTX_OP_IO (io.c): the core validates each element and checks every
 * byte as COPY does, and the host moves them: `fn` is called under the
 * core lock, first with iov NULL and n 0 to ask whether `file` may be
 * used for `dir` (0 or -GNTX_E*: the element fails with it), then with
 * up to GCORE_IO_IOV pieces of the granter's memory (from gh_frame, held
 * until it returns) to read the file into (GNTX_IO_READ) or write to it,
 * at byte `file_off`.  It returns the bytes it moved (fewer: the end of
 * the file, and the element stops there) or -GNTX_E*; -GNTX_EAGAIN, once
 * the call has moved something, says the host's time for the call is up:
 * the call ends as if its byte budget were spent (the element comes back
 * -GNTX_EAGAIN to be resubmitted, and so do those after it).  It MUST NOT call
 * back into the core and should be bounded: the core hands it at most
 * the call's IO budget (gcore_set_io_bytes).  struct gcore_iov has the
 * layout of POSIX's struct iovec.
 */
#define GCORE_IO_IOV 64u
struct gcore_iov {
    void *base;
    size_t len;
};
typedef long gcore_io_fn(void *ctx, uint32_t file, unsigned dir,
                         uint64_t file_off, const struct gcore_iov *iov,
                         unsigned n);
int gcore_io(struct gcore *core, gntx_domid_t caller, struct gntx_io *v,
             unsigned n, gcore_io_fn *fn, void *ctx);

/*
 * Two-phase GNTX_OP_IO (io_batch.c), for a host that can keep many file
 * I/Os in flight at once (xgrantd: io_uring).  Every element is validated
 * and budgeted exactly as gcore_io does (phase 1, `fn` asked about the
 * file as there), its bytes gathered into pieces as gcore_io hands them
 * to `fn`, and the pieces of many elements handed to `submit` together,
 * a wave at a time; then (phase 2) each element of the wave is completed
 * from its pieces' results in order.  Statuses, `done` and every byte of
 * the granter's memory and of the file come out as gcore_io's, except
 * that the host's time (-GNTX_EAGAIN) is asked of a whole wave (below).
 * All of it under the core lock: a revoke is before or after the call.
 *
 * Two elements whose order matters never share a wave: one that writes
 * memory (a READ) another touches, or that touches a file range another
 * writes (any file: the core does not know which files are the same; a
 * READ starting below a WRITE's end counts, as the WRITE may extend the
 * file).  Memory is compared by address: a host using this MUST give a
 * frame one address while it is held (gh_frame).  An element too large
 * for a wave goes through `fn` alone, between waves.
 *
 * `submit` moves every piece of p[0..n) and sets its `res` as `fn` would
 * answer for it (bytes moved: fewer at the end of the file or cut short;
 * or -GNTX_E*), in any order or at once, except that a piece with `link`
 * set MUST only move after the piece before it moved all its bytes (else
 * it may be skipped: res -GNTX_ECANCELED).  It returns 0, or -GNTX_EAGAIN
 * before it moved anything: the host's time for the call is up (only once
 * the call moved something), and the call ends there as gcore_io's does.
 * The core redoes through `fn` whatever of a piece did not move (an error,
 * a skipped piece, the rest of a short one that was not the end of the
 * file), so every fault gets `fn`'s answer; such a call of `fn` MUST NOT
 * answer -GNTX_EAGAIN (the host's time is asked per wave).  `submit`
 * MUST NOT call back into the core.  Returns as gcore_io (and is gcore_io
 * when it has no memory for a wave, gh_zalloc).
 */
#define GCORE_IO_WAVE 64u /* the most pieces one submit is handed */
struct gcore_io_piece {
    uint32_t file;
    uint8_t dir;   /* GNTX_IO_* */
    uint8_t link;  /* moves only after the piece before moved all its bytes */
    uint16_t niov; /* pieces of memory in iov: 1..GCORE_IO_IOV */
    uint64_t file_off;
    const struct gcore_iov *iov;
    long res; /* out: as gcore_io_fn's return */
};
typedef int gcore_io_submit_fn(void *ctx, struct gcore_io_piece *p, unsigned n);
int gcore_io_batch(struct gcore *core, gntx_domid_t caller, struct gntx_io *v,
                   unsigned n, gcore_io_fn *fn, gcore_io_submit_fn *submit,
                   void *ctx);

/* Page protection (protect*.c). */
int gcore_protect(struct gcore *core, gntx_domid_t caller,
                  struct gntx_protect *v, unsigned n);
int gcore_protect_query(struct gcore *core, gntx_domid_t caller,
                        struct gntx_protect_query *q,
                        struct gntx_prot_range *out, uint64_t cap);
int gcore_fault_ring(struct gcore *core, gntx_domid_t caller,
                     const struct gntx_fault_ring *r);
int gcore_fault_stats(struct gcore *core, gntx_domid_t caller,
                      struct gntx_fault_stats *s);
/*
 * A CPU access the host is about to allow: `who` mapping frame `gfn` of
 * `owner` with `access` (GNTX_ACC_W for a writable page-table entry).
 * Checked against owner's protections like a copy (GNTX_VIA_CPU): runs the
 * action of a violation (record, KILL) and returns 0 (allowed, perhaps
 * logged) or -GNTX_EACCES.  An unknown owner or a frame outside its memory
 * is not the core's: 0.  An unknown `who` on a protected frame: -GNTX_EACCES.
 */
int gcore_prot_cpu_check(struct gcore *core, gntx_domid_t who,
                         gntx_domid_t owner, uint64_t gfn, unsigned access);

#endif /* GCORE_H */
