/* SPDX-License-Identifier: MIT */
/*
 * grant_abi.h: the xgrant hypercall ABI, shared by every host (xgrantd, Xen)
 * and every guest (libgrant).
 *
 * Self-contained C99: fixed-width types only, no other header of this project,
 * no libc beyond <stdint.h>.  Every struct has a pinned size, checked below.
 *
 * The model
 * ---------
 * Each domain owns a grant table kept by the hypervisor.  An entry gives ONE
 * grantee domain access to a byte range, with rights:
 *   - a DIRECT entry names the range by a list of the granter's own guest
 *     frames (need not be contiguous), a byte offset into the first frame and
 *     a 64-bit byte length;
 *   - an INDIRECT entry (delegation) is made by the grantee of a parent grant
 *     that carries GNTX_R_DELEGATE; it names a window inside the parent's
 *     window and a subset of the parent's rights.  Chains are at most
 *     GNTX_MAX_DEPTH entries long.
 * A reference is 32 bits: (generation << GNTX_REF_INDEX_BITS) | index.
 * Revoking an entry bumps its slot's generation, so a stale reference never
 * matches a reused slot; a slot whose generation would wrap is retired.
 * Generation 0 is never issued, so GNTX_REF_INVALID (0) never names a grant.
 * Revoking any link makes every entry below it fail at its next use
 * (-GNTX_ESTALE): validation re-walks the chain on every use.
 *
 * Memory taken back.  A host that hands a domain's frames out to separate
 * clients (xgrantd: MEM_ALLOC, per connection) takes them back on MEM_FREE
 * and whenever the client goes, crashes included.  It then REVOKES, as
 * with GNTX_REVOKE_FORCE, every direct entry that names one of those
 * frames (descendants die, every mapping is torn down), and it keeps the
 * frames out of reuse until those unmaps are complete.  So a grant or a
 * mapping never reaches what a frame holds for its next owner; a granter
 * that wants its grants to outlive a block must keep the block.
 *
 * Calling convention
 * ------------------
 * One hypercall, gntx_op(op, args, count, aux, aux_count):
 *   op        one of enum gntx_op;
 *   args      an array of `count` elements of the op's argument struct;
 *   aux       an op-specific second array (frame numbers, query results);
 *   return    >= 0 on success (see each op), or -errno for an error that
 *             concerns the call as a whole (unknown op, count above
 *             GNTX_MAX_BATCH, aux too short).
 * Each element carries its own `status` (0 or -errno).  CREATE is
 * all-or-nothing; REVOKE, COPY, MEMSET, MAP, UNMAP, PROTECT and IO are per
 * element.
 * Versions: GNTX_ABI_VERSION changes when an existing struct or op
 * changes meaning.  A new op is an addition that leaves it alone (a host
 * that does not know the op answers -GNTX_ENOSYS for the call): GNTX_OP_IO
 * came that way.
 * Error numbers are Xen's (xen/errno.h), which equal Linux's on x86.
 */
#ifndef GRANT_ABI_H
#define GRANT_ABI_H

#include <stdint.h>

#define GNTX_ABI_VERSION 1u

#define GNTX_PAGE_SHIFT 12
#define GNTX_PAGE_SIZE  (1u << GNTX_PAGE_SHIFT)

/* Domains. */
typedef uint16_t gntx_domid_t;
#define GNTX_DOMID_CONTROL ((gntx_domid_t)0)       /* domain 0 */
#define GNTX_DOMID_SELF    ((gntx_domid_t)0x7ff0u) /* as Xen's DOMID_SELF */
#define GNTX_DOMID_INVALID ((gntx_domid_t)0x7ff4u)
#define GNTX_DOMID_MAX     ((gntx_domid_t)0x7fefu) /* highest ordinary id */

/* References. */
typedef uint32_t gntx_ref_t;
#define GNTX_REF_INDEX_BITS 18
#define GNTX_REF_GEN_BITS   14
#define GNTX_REF_INDEX_MASK ((1u << GNTX_REF_INDEX_BITS) - 1u)
#define GNTX_REF_GEN_MAX    ((1u << GNTX_REF_GEN_BITS) - 1u)
#define GNTX_REF_INVALID    ((gntx_ref_t)0)
#define GNTX_MAX_ENTRIES    (1u << GNTX_REF_INDEX_BITS)

static inline gntx_ref_t gntx_ref_make(uint32_t index, uint32_t gen)
{
    return (gen << GNTX_REF_INDEX_BITS) | (index & GNTX_REF_INDEX_MASK);
}
static inline uint32_t gntx_ref_index(gntx_ref_t ref)
{
    return ref & GNTX_REF_INDEX_MASK;
}
static inline uint32_t gntx_ref_gen(gntx_ref_t ref)
{
    return ref >> GNTX_REF_INDEX_BITS;
}

/* Rights.  A delegation may only drop rights, never add them. */
#define GNTX_R_READ     0x1u /* grantee may read (copy from) the range */
#define GNTX_R_WRITE    0x2u /* grantee may write (copy to, memset) the range */
#define GNTX_R_MAP      0x4u /* grantee may map whole pages of the range */
#define GNTX_R_DELEGATE 0x8u /* grantee may create indirect grants from it */
#define GNTX_R_ALL      0xfu

/* Limits. */
#define GNTX_MAX_DEPTH 8u    /* entries in one chain, the direct one included */
#define GNTX_MAX_BATCH 4096u /* elements in one call */
/* Frames in one direct grant (1 GiB). */
#define GNTX_MAX_GRANT_FRAMES (1u << 18)
/* Bytes one COPY or MEMSET call moves unless the host sets another budget. */
#define GNTX_DEFAULT_CALL_BYTES (4u << 20)
/* Bytes one IO call moves between a file and granted memory unless the
 * host sets another budget (see GNTX_OP_IO). */
#define GNTX_DEFAULT_IO_BYTES (1u << 20)
/* PROTECT work one call does unless the host sets another budget, in pages
 * (1 GiB); see GNTX_OP_PROTECT. */
#define GNTX_DEFAULT_CALL_PAGES (1u << 18)

/* Errors (negated in status fields and return values). */
#define GNTX_EPERM      1
#define GNTX_ENOENT     2
#define GNTX_ESRCH      3
#define GNTX_E2BIG      7
#define GNTX_EBADF      9
#define GNTX_EAGAIN     11
#define GNTX_ENOMEM     12
#define GNTX_EACCES     13
#define GNTX_EFAULT     14
#define GNTX_EBUSY      16
#define GNTX_EEXIST     17
#define GNTX_EISDIR     21
#define GNTX_EINVAL     22
#define GNTX_ENOSPC     28
#define GNTX_ESPIPE     29
#define GNTX_ERANGE     34
#define GNTX_ENOSYS     38
#define GNTX_ELOOP      40
#define GNTX_EOVERFLOW  75
#define GNTX_EOPNOTSUPP 95
#define GNTX_ETIMEDOUT  110
#define GNTX_ESTALE     116
#define GNTX_ECANCELED  125

enum gntx_op {
    GNTX_OP_VERSION = 1, /* args: none (count 0); returns GNTX_ABI_VERSION */
    GNTX_OP_CREATE = 2,  /* args: gntx_create[]; aux: uint64_t frames[] */
    GNTX_OP_REVOKE = 3,  /* args: gntx_revoke[] */
    GNTX_OP_COPY = 4,    /* args: gntx_copy[] */
    GNTX_OP_MEMSET = 5,  /* args: gntx_memset[] */
    GNTX_OP_MAP = 6,     /* args: gntx_map[]; aux: uint64_t frames[] (out) */
    GNTX_OP_UNMAP = 7,   /* args: gntx_unmap[] */
    GNTX_OP_QUERY_TABLE =
        8, /* args: one gntx_query; aux: gntx_entry_info[] (out) */
    GNTX_OP_QUERY_TREE =
        9,              /* args: one gntx_query; aux: gntx_entry_info[] (out) */
    GNTX_OP_USAGE = 10, /* args: one gntx_usage (dom in, rest out) */
    GNTX_OP_SET_QUOTA =
        11, /* args: one gntx_usage (dom + max_* in); control domain only */
    GNTX_OP_PROTECT = 12, /* args: gntx_protect[] */
    GNTX_OP_PROTECT_QUERY =
        13, /* args: one gntx_protect_query; aux: gntx_prot_range[] (out) */
    GNTX_OP_FAULT_RING = 14,  /* args: one gntx_fault_ring */
    GNTX_OP_FAULT_STATS = 15, /* args: one gntx_fault_stats (dom in) */
    GNTX_OP_IO = 16,          /* args: gntx_io[]; files: the host's (below) */
    GNTX_OP__MAX
};

/*
 * GNTX_OP_CREATE.  All-or-nothing: on success every element has status 0 and
 * a fresh ref, and the call returns 0.  On failure nothing is created, the
 * call returns the first failing element's error, that element's status
 * holds it and every other element's status is -GNTX_ECANCELED.
 *
 * DIRECT: frames aux[frame_idx .. frame_idx+nr_frames) are the caller's own
 *   guest frames; offset < GNTX_PAGE_SIZE; length >= 1; nr_frames must be
 *   exactly the number of pages that [offset, offset+length) touches.
 * INDIRECT: (parent_dom, parent_ref) must be a live grant whose grantee is
 *   the caller and which carries GNTX_R_DELEGATE; [offset, offset+length)
 *   is inside the parent's window; rights a subset of the parent's.
 * Errors: EINVAL (bad type, rights, zero length, offset, frame count, grantee
 * is the caller or invalid), EOVERFLOW (offset+length wraps), EFAULT (a frame
 * outside the caller's memory), ERANGE (window outside the parent's),
 * EPERM (not the parent's grantee, or parent lacks DELEGATE, or rights not a
 * subset), ESTALE/ENOENT (parent ref dead or never issued), ELOOP (chain
 * deeper than GNTX_MAX_DEPTH), ENOSPC (quota: entries or frames), ESRCH
 * (grantee or parent domain does not exist).
 */
#define GNTX_CREATE_DIRECT   0
#define GNTX_CREATE_INDIRECT 1
struct gntx_create {
    uint8_t type; /* in: GNTX_CREATE_* */
    uint8_t pad0;
    uint16_t grantee;    /* in */
    uint16_t rights;     /* in: GNTX_R_* */
    uint16_t parent_dom; /* in, indirect: granter of the parent grant */
    uint32_t parent_ref; /* in, indirect */
    uint32_t nr_frames;  /* in, direct */
    uint64_t frame_idx;  /* in, direct: first frame's index in aux */
    uint64_t offset;     /* in: direct: into the first frame; indirect: into the
                            parent's window */
    uint64_t length;     /* in: bytes */
    uint32_t ref;        /* out */
    int32_t status;      /* out */
};

/*
 * GNTX_OP_REVOKE: the caller revokes entries of its OWN table.  Per element.
 * A grant mapped anywhere (directly or through a descendant) is refused with
 * EBUSY unless GNTX_REVOKE_FORCE is set; then the host tears every such
 * mapping down before the call returns.  Returns the number of elements that
 * succeeded.
 */
#define GNTX_REVOKE_FORCE 0x1u
struct gntx_revoke {
    uint32_t ref;   /* in */
    uint32_t flags; /* in: GNTX_REVOKE_* */
    int32_t status; /* out */
    uint32_t pad;
};

/* A byte address for COPY and MEMSET. */
#define GNTX_PTR_LOCAL                                                         \
    0 /* caller's own memory: addr is a guest-physical byte address */
#define GNTX_PTR_GRANT                                                         \
    1 /* (dom, ref) granted to the caller: addr is an offset in its window */
struct gntx_ptr {
    uint8_t kind; /* GNTX_PTR_* */
    uint8_t pad;
    uint16_t dom; /* GRANT: the granter */
    uint32_t ref; /* GRANT */
    uint64_t addr;
};

/*
 * GNTX_OP_COPY: per element, copy len bytes from src to dst.  A grant
 * source needs READ, a grant destination WRITE, along the whole chain.
 * Returns the number of elements that succeeded.  Errors per element:
 * EINVAL, EOVERFLOW, ERANGE (outside the window), EFAULT (outside own memory),
 * EACCES (right missing), ESTALE/ENOENT (dead ref), EPERM (not the grantee),
 * ELOOP.  A failed element copies nothing, except that a revoke or
 * PROTECT made by another CPU while a long element moves stops it at a
 * chunk boundary (up to 64 pages): it fails with that error and the
 * prefix moved (once the revoke has returned, no more byte moves).  A
 * zero-length element moves nothing but is validated like any other use.
 * Continuation: one call moves at most the host's byte budget
 * (GNTX_DEFAULT_CALL_BYTES unless the host says otherwise), so no call
 * holds the hypervisor for long.  An element the budget cuts short is
 * validated whole, moves a prefix, and comes back with status
 * -GNTX_EAGAIN and its addresses advanced and len reduced by what moved;
 * elements after it get -GNTX_EAGAIN unchanged.  The caller resubmits the
 * -GNTX_EAGAIN elements as they came back (libgrant does); each
 * resubmission is validated again, so a revoke in between stops the rest
 * of the copy (a prefix may then have moved).  Page protections are
 * checked on the bytes a call moves, as it moves them (so no call looks
 * at more than its budget): an element that meets a protected page in a
 * later call fails there with that prefix moved.  Overlapping source and
 * destination (own memory, or two grants over the same frames) behave as
 * memmove within each page-bounded chunk.
 */
struct gntx_copy {
    struct gntx_ptr src;
    struct gntx_ptr dst;
    uint64_t len;
    int32_t status; /* out */
    uint32_t pad;
};

/* GNTX_OP_MEMSET: per element, set len bytes at dst to value (the same
 * byte budget and continuation as COPY). */
struct gntx_memset {
    struct gntx_ptr dst;
    uint64_t len;
    uint8_t value;
    uint8_t pad[3];
    int32_t status; /* out */
};

/*
 * GNTX_OP_MAP: per element, map [offset, offset+length) of grant (dom, ref).
 * Needs MAP (and READ; WRITE unless GNTX_MAP_RDONLY) along the chain; offset
 * and length page multiples, and the window's start in the granter's frames
 * page-aligned: a range that is not whole pages is copy-only (EINVAL).
 * On success the granter's frame numbers are written to
 * aux[frame_idx .. frame_idx + length/PAGE_SIZE), root_dom names whose memory
 * they are, and handle names the mapping for UNMAP.  ENOSPC at the caller's
 * map quota.  Returns the number of elements that succeeded.
 */
#define GNTX_MAP_RDONLY 0x1u
struct gntx_map {
    uint16_t dom;       /* in: granter */
    uint16_t flags;     /* in: GNTX_MAP_* */
    uint32_t ref;       /* in */
    uint64_t offset;    /* in */
    uint64_t length;    /* in */
    uint64_t frame_idx; /* in: where the frames go in aux */
    uint32_t handle;    /* out */
    int32_t status;     /* out */
    uint16_t root_dom;  /* out: the domain that owns the frames */
    uint16_t pad[3];
};

/* GNTX_OP_UNMAP: per element, by handle; the caller must be the mapper.
 * EBUSY from a host that checks the mapper's own page tables (xgrantd:
 * /proc/<pid>/maps) while they still map the pages: the mapping stays. */
struct gntx_unmap {
    uint32_t handle;
    int32_t status;
};

/*
 * GNTX_OP_QUERY_TABLE: entries of dom's table (a domain may query its own;
 * the control domain any), from index `cursor` on, at most `count` of aux's
 * capacity.  Writes `count` (out: entries written) and `cursor` (out: index
 * to continue from, 0 when done).
 * GNTX_OP_QUERY_TREE: the delegation tree below (dom, ref), root first, in
 * depth-first order (children oldest first) with depth 0 for the root; the
 * root's granter or the control domain may ask.  At most aux's capacity
 * and GNTX_MAX_BATCH nodes per call, from the node (cursor_dom, cursor)
 * on (cursor 0: from the root).  Writes `count` (nodes written) and the
 * cursor (the next node, cursor 0 when done; with no room for even one
 * node: ENOSPC).  EAGAIN when the cursor's node left the tree since (it
 * or an ancestor was revoked): start again from the root.  A tree that
 * changes between calls may be listed partly before, partly after.
 */
struct gntx_query {
    uint16_t dom;        /* in */
    uint16_t cursor_dom; /* in/out: QUERY_TREE (was pad: 0 starts) */
    uint32_t ref;        /* in: QUERY_TREE's root */
    uint32_t cursor;     /* in/out: QUERY_TABLE's index, QUERY_TREE's ref */
    uint32_t count;      /* out */
};

#define GNTX_STATE_LIVE   0 /* usable */
#define GNTX_STATE_ORPHAN 1 /* an ancestor was revoked: every use fails */
struct gntx_entry_info {
    uint16_t dom; /* granter (the table it lives in) */
    uint16_t grantee;
    uint32_t ref;
    uint16_t rights;
    uint8_t type;        /* GNTX_CREATE_* */
    uint8_t state;       /* GNTX_STATE_* */
    uint16_t depth;      /* QUERY_TREE: 0 for the root */
    uint16_t parent_dom; /* indirect */
    uint32_t parent_ref; /* indirect */
    uint32_t maps;       /* live mappings through this entry */
    uint64_t offset;
    uint64_t length;
    uint64_t first_frame; /* direct */
    uint32_t nr_frames;   /* direct */
    uint32_t pad;
};

/* GNTX_OP_USAGE / GNTX_OP_SET_QUOTA. */
struct gntx_usage {
    uint16_t dom; /* in */
    uint16_t pad;
    uint32_t entries;     /* out: live entries in dom's table */
    uint32_t max_entries; /* quota */
    uint32_t maps;        /* out: mappings dom holds */
    uint32_t max_maps;    /* quota */
    uint32_t pad2;
    uint64_t frames;     /* out: frames named by dom's direct entries */
    uint64_t max_frames; /* quota */
    uint64_t mem_frames; /* out: size of dom's memory in frames */
};

/*
 * Page protection (GNTX_OP_PROTECT .. GNTX_OP_FAULT_STATS)
 * --------------------------------------------------------
 * A domain declares, per page of its OWN memory, the access anyone may have
 * to it: its grantees (COPY, MEMSET and MAP through a grant), the
 * hypervisor's copies on its own behalf (COPY/MEMSET with a LOCAL end), and
 * where the host can enforce it the domain's own CPU accesses (Xen: p2m;
 * xgrantd: libgrant's mprotect, see libgrant.h).  A page nobody protected
 * allows everything.  No domain can change another's protections; a domain
 * may query its own, the control domain any.
 *
 * Access is a set of GNTX_ACC_* bits: NONE, R, RW, RX or RWX (W needs R, X
 * needs R).  X is enforced only on CPU accesses where the host can (copies
 * and maps never execute).  Access GNTX_ACC_RWX removes the protection of
 * the range: it reverts to "allow everything" and is no longer listed.
 *
 * An access a page does not allow is a violation; the page's action says
 * what happens (when one use touches pages with different actions, the
 * most severe of them runs: KILL > NOTIFY > DENY > LOG):
 *   DENY    the use fails: -GNTX_EACCES for the whole element (nothing
 *           moves, nothing is mapped).
 *   NOTIFY  as DENY, and a gntx_fault_rec is put on the page owner's fault
 *           ring and the ring's event channel port is signalled.
 *   KILL    as NOTIFY, and the host destroys the domain that made the
 *           access (after the call, never inside the core's lock).  A
 *           domain that is privileged or serves others is never killed:
 *           the control domain, one the host exempts (Xen: the hardware
 *           and xenstore domains, device models, domains with passthrough
 *           devices, backends that mapped other domains' grants), and one
 *           that maps memory of a domain other than the page's owner; for
 *           them KILL acts as NOTIFY (the record and the counters say
 *           NOTIFY).
 *   LOG     the use is allowed, and a record is put on the ring (signalled).
 * Every violation also counts in GNTX_OP_FAULT_STATS (caused: the
 * accessor's counter; suffered: the owner's).  One record per violating
 * element end, naming the first byte of the first page whose action ran.
 *
 * Tightening (a page loses W, or loses R): every mapping of the page that
 * a grantee holds is downgraded before PROTECT returns: a writable
 * mapping of a page that becomes R (or RX) is made read-only; a mapping of
 * a page that becomes NONE is made inaccessible.  The mapping and its
 * handle stay (UNMAP as usual); loosening never upgrades a mapping
 * (unmap and map again).  Mapping a page needs R (and W for a writable
 * mapping) on every page, else the action runs and MAP fails EACCES.
 * The hypervisor's own writes to a fault ring ignore protections.
 */
#define GNTX_ACC_NONE 0x0u
#define GNTX_ACC_R    0x1u
#define GNTX_ACC_W    0x2u
#define GNTX_ACC_X    0x4u
#define GNTX_ACC_RW   (GNTX_ACC_R | GNTX_ACC_W)
#define GNTX_ACC_RX   (GNTX_ACC_R | GNTX_ACC_X)
#define GNTX_ACC_RWX  (GNTX_ACC_R | GNTX_ACC_W | GNTX_ACC_X)

#define GNTX_ACT_DENY   0
#define GNTX_ACT_NOTIFY 1
#define GNTX_ACT_KILL   2
#define GNTX_ACT_LOG    3
#define GNTX_ACT_MAX    3

/* Distinct (access, action, cookie) triples one domain may have live at
 * once (ENOSPC past it); pages sharing a triple cost nothing extra. */
#define GNTX_MAX_PROT_CLASSES 4096u
/* Protected ranges (as PROTECT_QUERY lists them) one domain may have at
 * once (ENOSPC past it): the hypervisor's bookkeeping follows them. */
#define GNTX_MAX_PROT_RANGES (1u << 18)

/*
 * GNTX_OP_PROTECT: per element, set the protection of the caller's own
 * frames [gfn, gfn + nr) to (access, action, cookie).  An element is
 * validated whole before any frame changes; elements are independent.
 * Returns the number of elements that succeeded.  Errors per element:
 * EINVAL (nr 0, unknown access bits or combination, unknown action, flags
 * or pad not 0), EOVERFLOW (gfn + nr wraps), EFAULT (a frame outside the
 * caller's memory), EBUSY (the range holds the caller's fault ring page),
 * ENOSPC (GNTX_MAX_PROT_CLASSES, GNTX_MAX_PROT_RANGES, or no memory for
 * the bookkeeping, which the caller pays for: on Xen it counts against
 * the domain's own memory allowance, max_pages; only ever before the
 * element's first frame changes in that call, so gfn and nr come back as
 * the call got them: what an element applies later in a call never needs
 * a new range).  `cookie` is
 * the caller's own value, handed back in fault records and queries.
 * Blocking: mappings to downgrade are downgraded before the call returns
 * (the host may have to wait for a mapper).
 * Continuation (as COPY's): one call does at most the host's page budget
 * of work (GNTX_DEFAULT_CALL_PAGES unless the host says otherwise): every
 * frame an element covers counts, and so does the bookkeeping it causes
 * (ranges split or moved, map slots and mapped pages looked at for a
 * downgrade, counted as the downgrade goes, so a call exceeds the budget
 * by at most one mapping's pages).  An element the budget cuts short has
 * [gfn, gfn + done) applied (and downgraded) and comes back -GNTX_EAGAIN
 * with gfn advanced and nr reduced by `done`; when the budget ran out in
 * the middle of a downgrade, frames from that gfn on (the chunk being
 * downgraded) may already have the new protection, and the resubmission
 * goes on with the mappings not yet downgraded (the hypervisor remembers
 * where until the domain protects other frames).  Elements after it
 * come back -GNTX_EAGAIN unchanged.  The caller
 * resubmits the -GNTX_EAGAIN elements as they came back (libgrant does;
 * Xen does it itself); each resubmission is validated again, so an
 * element may then fail with a prefix applied.  An element done in one
 * call comes back as it was sent; one that took several keeps the gfn and
 * nr of its last (a caller that needs the range keeps a copy).
 */
struct gntx_protect {
    uint64_t gfn;    /* in: first frame */
    uint64_t nr;     /* in: frames */
    uint64_t cookie; /* in */
    uint8_t access;  /* in: GNTX_ACC_* */
    uint8_t action;  /* in: GNTX_ACT_* */
    uint16_t flags;  /* in: 0 */
    int32_t status;  /* out */
};

/*
 * GNTX_OP_PROTECT_QUERY: the protected ranges of dom (a domain may query its
 * own, the control domain any), in ascending gfn order, from frame `cursor`
 * on, at most aux's capacity.  A range is a maximal run of consecutive
 * frames with the same (access, action, cookie).  Writes `count` (ranges
 * written) and `cursor` (the frame to continue from, 0 when done; with no
 * room for even one range: ENOSPC).  Returns count.
 */
struct gntx_protect_query {
    uint16_t dom; /* in */
    uint16_t pad;
    uint32_t count;  /* out */
    uint64_t cursor; /* in/out: a frame number */
};

struct gntx_prot_range {
    uint64_t gfn;
    uint64_t nr;
    uint64_t cookie;
    uint8_t access;
    uint8_t action;
    uint16_t pad;
    uint32_t pad2;
};

/*
 * GNTX_OP_FAULT_RING: the caller hands the hypervisor frame `gfn` of its
 * OWN memory as its fault ring (struct gntx_fault_ring_page), and a port of
 * its own on which the host raises an event after it adds records (xgrantd:
 * the port's eventfd; Xen: the port is set pending as for a VIRQ; bind it
 * with an unbound port for DOMID_SELF).  The hypervisor initialises the
 * page (zero indices, `slots`) and writes records to it from then on.
 * gfn GNTX_FAULT_RING_NONE unbinds (records are then only counted).
 * Binding again replaces the previous ring.  Errors: EFAULT (frame outside
 * the caller's memory), EINVAL (flags not 0, port 0), EBUSY (the frame is
 * protected: the ring page must stay RW).  Returns 0.
 */
#define GNTX_FAULT_RING_NONE UINT64_MAX
struct gntx_fault_ring {
    uint64_t gfn;   /* in */
    uint32_t port;  /* in: event channel port of the caller */
    uint32_t flags; /* in: 0 */
};

/*
 * The fault ring page, Xen style: the hypervisor (producer) writes a
 * record at rec[prod % GNTX_FAULT_RING_SLOTS], then (write barrier)
 * advances prod; the domain (consumer) reads records while cons != prod
 * (read barrier after reading prod) and then advances cons.  Indices are
 * free-running uint32 counters.  The producer reads cons once per record
 * and treats prod - cons > GNTX_FAULT_RING_SLOTS as a full ring; a record
 * that finds the ring full is dropped and counted in `dropped` (written by
 * the producer) and in GNTX_OP_FAULT_STATS.
 */
#define GNTX_FAULT_RING_SLOTS 64u
struct gntx_fault_rec {
    uint16_t dom;    /* the domain that made the access */
    uint8_t access;  /* GNTX_ACC_R, _W or _X: the access attempted */
    uint8_t action;  /* GNTX_ACT_*: what ran */
    uint32_t via;    /* GNTX_VIA_* */
    uint64_t addr;   /* byte address in the owner's memory */
    uint64_t cookie; /* of the protection */
    uint64_t seq;    /* 1, 2, ...: faults recorded on this ring, dropped too */
};
#define GNTX_VIA_COPY 0 /* COPY or MEMSET through a grant */
#define GNTX_VIA_MAP  1 /* MAP through a grant */
#define GNTX_VIA_SELF 2 /* the owner's own COPY/MEMSET (LOCAL end) */
#define GNTX_VIA_CPU  3 /* a CPU access (Xen p2m fault) */

struct gntx_fault_ring_page {
    uint32_t prod;    /* producer: hypervisor */
    uint32_t cons;    /* consumer: the domain */
    uint32_t slots;   /* GNTX_FAULT_RING_SLOTS */
    uint32_t dropped; /* records lost to a full ring */
    /* Written by the domain, read by the host for FAULT_STATS only (never
     * trusted): own CPU faults the domain counted (libgrant's SIGSEGV
     * handler under xgrantd adds 1 atomically, async-signal-safe). */
    uint32_t own_faults;
    uint8_t pad[44];
    struct gntx_fault_rec rec[GNTX_FAULT_RING_SLOTS];
};

/*
 * GNTX_OP_FAULT_STATS: counters of dom (a domain its own, the control
 * domain any).  `caused`: violations dom made on others' (or its own)
 * protected pages; `suffered`: violations on dom's pages, by action.
 */
struct gntx_fault_stats {
    uint16_t dom; /* in */
    uint16_t pad;
    uint32_t ranges;       /* out: protected ranges (as QUERY lists them) */
    uint64_t prot_pages;   /* out: frames with a protection */
    uint64_t caused;       /* out */
    uint64_t suffered;     /* out: all actions */
    uint64_t denied;       /* out: suffered with DENY */
    uint64_t notified;     /* out: ... NOTIFY */
    uint64_t killed;       /* out: ... KILL */
    uint64_t logged;       /* out: ... LOG */
    uint64_t dropped;      /* out: records a full or unbound ring lost */
    uint64_t own_reported; /* out: the ring page's own_faults (untrusted) */
};

/*
 * GNTX_OP_IO: grant I/O.  Per element, the HOST moves len bytes between a
 * file the caller handed it and the window of grant (dom, ref) granted to
 * the caller (directly or by delegation), straight between the file and
 * the granter's memory: nothing passes through the caller's memory and
 * the caller maps nothing.
 *   GNTX_IO_READ   file -> grant: the grant needs WRITE along the chain
 *                  (what a disk read does to the guest's buffer);
 *   GNTX_IO_WRITE  grant -> file: the grant needs READ.
 * `file` is the host's name for the file.  xgrantd: the index of one of
 * the descriptors sent with the call (SCM_RIGHTS, sim_wire.h), a regular
 * file or block device opened for the direction (a READ needs it
 * readable, a WRITE writable and not O_APPEND).  A host that does no file
 * I/O (Xen's hypervisor) answers the whole call -GNTX_EOPNOTSUPP.
 * Every byte is checked as COPY checks it (rights, window, revocation,
 * the granter's page protections, the host's policy): the window
 * [offset, offset+len) and the file range [file_off, file_off+len) are
 * validated whole first; file_off + len must not pass INT64_MAX.
 * Returns the number of elements that succeeded.  On return offset and
 * file_off are advanced and len reduced by the bytes the element moved in
 * this call, and those bytes are ADDED to `done` (send 0).  Status:
 *   0         the element is over: everything moved, or a READ met the
 *             end of the file (len still holds the rest: a short count);
 *   -EAGAIN   the call's byte budget (GNTX_DEFAULT_IO_BYTES unless the
 *             host says otherwise), or the host's time for one call (a
 *             slow file; xgrantd: 2 ms, checked between pieces of at most
 *             256 KiB, or between rounds of a call whose pieces it moves
 *             at once), cut it short: resubmit it as it came
 *             back (each resubmission is validated again, so a revoke in
 *             between stops the rest; libgrant does this); elements after
 *             it come back -EAGAIN unmoved;
 *   -errno    as COPY's (EINVAL: unknown dir or pad not 0; EOVERFLOW,
 *             ERANGE, EACCES, ESTALE/ENOENT, EPERM, ELOOP), or the file's:
 *             EBADF (no such file, an O_PATH descriptor, or not open for
 *             the direction), ESPIPE (a pipe or socket), EISDIR, EINVAL
 *             (another kind of file, O_APPEND for a WRITE), or what the
 *             host's read or write said (EIO...).  A file error after
 *             bytes moved keeps them: `done` says how many.
 */
#define GNTX_IO_READ         0
#define GNTX_IO_WRITE        1
#define GNTX_IO_FILE_OFF_MAX 0x7fffffffffffffffull
struct gntx_io {
    uint16_t dom; /* in: the granter */
    uint8_t dir;  /* in: GNTX_IO_* */
    uint8_t pad;
    uint32_t ref;      /* in */
    uint64_t offset;   /* in/out: in the grant's window */
    uint64_t len;      /* in/out */
    uint64_t file_off; /* in/out: byte offset in the file */
    uint64_t done;     /* in/out: bytes moved are added */
    uint32_t file;     /* in: the host's name for the file (above) */
    int32_t status;    /* out */
};

_Static_assert(sizeof(struct gntx_create) == 48, "gntx_create");
_Static_assert(sizeof(struct gntx_revoke) == 16, "gntx_revoke");
_Static_assert(sizeof(struct gntx_ptr) == 16, "gntx_ptr");
_Static_assert(sizeof(struct gntx_copy) == 48, "gntx_copy");
_Static_assert(sizeof(struct gntx_memset) == 32, "gntx_memset");
_Static_assert(sizeof(struct gntx_map) == 48, "gntx_map");
_Static_assert(sizeof(struct gntx_unmap) == 8, "gntx_unmap");
_Static_assert(sizeof(struct gntx_query) == 16, "gntx_query");
_Static_assert(sizeof(struct gntx_entry_info) == 56, "gntx_entry_info");
_Static_assert(sizeof(struct gntx_usage) == 48, "gntx_usage");
_Static_assert(sizeof(struct gntx_protect) == 32, "gntx_protect");
_Static_assert(sizeof(struct gntx_protect_query) == 16, "gntx_protect_query");
_Static_assert(sizeof(struct gntx_prot_range) == 32, "gntx_prot_range");
_Static_assert(sizeof(struct gntx_fault_ring) == 16, "gntx_fault_ring");
_Static_assert(sizeof(struct gntx_fault_rec) == 32, "gntx_fault_rec");
_Static_assert(sizeof(struct gntx_fault_ring_page) == 64 + 32 * 64,
               "gntx_fault_ring_page");
_Static_assert(sizeof(struct gntx_fault_stats) == 80, "gntx_fault_stats");
_Static_assert(sizeof(struct gntx_io) == 48, "gntx_io");

/*
 * What each op's call carries: the size of one args element, of one aux
 * element, and which way aux travels.  The one table every layer that
 * moves a call sizes its buffers by (xgrantd's hcall.c, the guest module's
 * call.c, the Xen dispatch).  Returns 0 with *s filled, or -GNTX_ENOSYS
 * for an op this header does not know.
 */
#define GNTX_AUX_NONE 0u /* the op takes no aux array */
#define GNTX_AUX_IN   1u /* aux travels with the call */
#define GNTX_AUX_OUT  2u /* the host fills aux */
struct gntx_op_shape {
    uint32_t arg_size; /* bytes per args element */
    uint32_t aux_size; /* bytes per aux element (0: none) */
    uint32_t aux_dir;  /* GNTX_AUX_* */
};
static inline int gntx_op_shape(unsigned op, struct gntx_op_shape *s)
{
    static const struct gntx_op_shape shapes[GNTX_OP__MAX] = {
        [GNTX_OP_VERSION] = {0, 0, GNTX_AUX_NONE},
        [GNTX_OP_CREATE] = {sizeof(struct gntx_create), sizeof(uint64_t),
                            GNTX_AUX_IN},
        [GNTX_OP_REVOKE] = {sizeof(struct gntx_revoke), 0, GNTX_AUX_NONE},
        [GNTX_OP_COPY] = {sizeof(struct gntx_copy), 0, GNTX_AUX_NONE},
        [GNTX_OP_MEMSET] = {sizeof(struct gntx_memset), 0, GNTX_AUX_NONE},
        [GNTX_OP_MAP] = {sizeof(struct gntx_map), sizeof(uint64_t),
                         GNTX_AUX_OUT},
        [GNTX_OP_UNMAP] = {sizeof(struct gntx_unmap), 0, GNTX_AUX_NONE},
        [GNTX_OP_QUERY_TABLE] = {sizeof(struct gntx_query),
                                 sizeof(struct gntx_entry_info), GNTX_AUX_OUT},
        [GNTX_OP_QUERY_TREE] = {sizeof(struct gntx_query),
                                sizeof(struct gntx_entry_info), GNTX_AUX_OUT},
        [GNTX_OP_USAGE] = {sizeof(struct gntx_usage), 0, GNTX_AUX_NONE},
        [GNTX_OP_SET_QUOTA] = {sizeof(struct gntx_usage), 0, GNTX_AUX_NONE},
        [GNTX_OP_PROTECT] = {sizeof(struct gntx_protect), 0, GNTX_AUX_NONE},
        [GNTX_OP_PROTECT_QUERY] = {sizeof(struct gntx_protect_query),
                                   sizeof(struct gntx_prot_range),
                                   GNTX_AUX_OUT},
        [GNTX_OP_FAULT_RING] = {sizeof(struct gntx_fault_ring), 0,
                                GNTX_AUX_NONE},
        [GNTX_OP_FAULT_STATS] = {sizeof(struct gntx_fault_stats), 0,
                                 GNTX_AUX_NONE},
        [GNTX_OP_IO] = {sizeof(struct gntx_io), 0, GNTX_AUX_NONE},
    };

    if (op < GNTX_OP_VERSION || op >= GNTX_OP__MAX)
        return -GNTX_ENOSYS;
    *s = shapes[op];
    return 0;
}

#endif /* GRANT_ABI_H */
