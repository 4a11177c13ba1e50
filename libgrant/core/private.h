/* SPDX-License-Identifier: MIT */
/*
 * private.h: internals of the grant core, shared by the core sources only.
 *
 * Freestanding: nothing here may pull in a libc header.
 *
 * Data layout
 * -----------
 * struct gcore holds a pointer array indexed by domain id (O(1) lookup) and
 * a list of live domains for whole-instance teardown.  A FORCE revoke
 * and a PROTECT's downgrade of mappings find the mappings concerned in
 * per-entry lists (map.c), never by scanning other domains' map tables.  Each
 * domain owns two slot pools: its grant table (struct gc_entry) and its map
 * table (struct gc_map, the mappings it holds).  Entries link to their
 * delegations (tree.c), so QUERY_TREE never scans.
 *
 * A slot pool hands out (generation << 18 | index) names.  A slot's `gen` is
 * the generation of its live object, or when free the generation its next
 * object will get; freeing bumps it, and a slot whose generation would pass
 * GNTX_REF_GEN_MAX is retired for good.  Free slots form a FIFO queue, so a
 * slot is reused as late as possible and generations wear evenly.
 *
 * Each domain also has an incarnation number, unique in the instance.
 * Entries remember the incarnation of their grantee and (indirect) of their
 * parent's domain, so a domain id that is removed and added again never
 * revives grants or delegations of its previous life.
 */
#ifndef GCORE_PRIVATE_H
#define GCORE_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "grant_abi.h"
#include "gcore.h"
#include "gcore_host.h"

struct gc_locks; /* lock.c */

#define GC_NIL           0xffffffffu
#define GC_POOL_INIT     64u /* first capacity of a pool */
#define GC_INLINE_FRAMES 2u  /* frames stored inside an entry */
#define GC_PAGE_MASK     ((uint64_t)GNTX_PAGE_SIZE - 1)
#define GC_COPY_SLOTS    64u /* chunks moving at once outside the lock */
#define GC_CHUNK_PAGES   64u /* most pages one unlocked chunk moves */

/* Header every pooled object starts with. */
struct gc_slot {
    uint32_t gen;  /* see above */
    uint32_t next; /* free queue link */
    uint8_t live;
};

struct gc_pool {
    void *base; /* cap objects of esz bytes */
    size_t esz;
    uint32_t cap;
    uint32_t live;    /* objects in use */
    uint32_t retired; /* slots never to be reused */
    uint32_t head;    /* free queue: pop at head, push at tail */
    uint32_t tail;
};

/* An entry of some domain's table, as the delegation tree links name it:
 * idx GC_NIL is none. */
struct gc_link {
    uint16_t dom;
    uint32_t idx;
};

/* A mapping's place in the list of an entry it goes through: mapping
 * `idx` of domain `dom`'s map table, whose hop `hop` is that entry (idx
 * GC_NIL is none). */
struct gc_mlink {
    uint16_t dom;
    uint8_t hop;
    uint32_t idx;
};

/* A grant table entry. */
struct gc_entry {
    struct gc_slot s;
    uint8_t type; /* GNTX_CREATE_* */
    uint16_t grantee;
    uint16_t rights;
    uint16_t parent_dom;      /* indirect */
    uint32_t grantee_inc;     /* the grantee's incarnation */
    uint32_t parent_ref;      /* indirect */
    uint32_t parent_inc;      /* indirect: incarnation of parent_dom */
    uint32_t nr_frames;       /* direct */
    uint32_t maps;            /* mappings whose chain includes this entry */
    struct gc_mlink map_head; /* those mappings, newest first (map.c) */
    uint64_t offset; /* direct: into the first frame; indirect: window */
    uint64_t length;
    union {
        uint64_t inl[GC_INLINE_FRAMES]; /* nr_frames <= GC_INLINE_FRAMES */
        uint64_t *ext;                  /* gh_zalloc'd otherwise */
    } fr;
    /* The delegation tree (tree.c): its children (indirect entries made
     * from it, oldest first) and its siblings under its parent. */
    struct gc_link kid_head;
    struct gc_link kid_tail;
    struct gc_link prev;
    struct gc_link next;
};

/* A mapping, in its mapper's map table. */
struct gc_map {
    struct gc_slot s;
    uint8_t nhops;
    uint16_t root_dom;
    uint16_t hop_dom[GNTX_MAX_DEPTH]; /* the chain, entry used first */
    uint32_t hop_idx[GNTX_MAX_DEPTH];
    uint8_t rdonly; /* mapped with GNTX_MAP_RDONLY */
    uint64_t first; /* first page's position in the root entry's frames */
    uint64_t npages;
    /* Its places in the map lists of its hops' entries (map.c). */
    struct gc_mlink hop_prev[GNTX_MAX_DEPTH];
    struct gc_mlink hop_next[GNTX_MAX_DEPTH];
};

/* A protection class: one (access, action, cookie) triple and how many
 * pages have it.  Free when pages == 0. */
struct gc_prot_class {
    uint64_t cookie;
    uint64_t pages;
    uint8_t access;
    uint8_t action;
};

/* Fault counters of a domain (GNTX_OP_FAULT_STATS). */
struct gc_faults {
    uint64_t caused;
    uint64_t by_action[GNTX_ACT_MAX + 1]; /* suffered, per action */
    uint64_t dropped;
};

/* Frames [start, end) of a domain with protection class `cls` (1 + its
 * index in gc_prot.cls). */
struct gc_prot_ext {
    uint64_t start;
    uint64_t end;
    uint32_t cls;
};

/*
 * A domain's page protections, allocated at its first PROTECT or
 * FAULT_RING: a sorted array of disjoint ranges with their classes
 * (protect_range.c), nothing for frames nobody protected.
 */
struct gc_prot {
    void *cookie;     /* the domain's, for gh_dom_charge */
    uint64_t charged; /* bytes of this state the domain pays for */
    struct gc_prot_ext *ext;
    uint32_t next; /* ranges in use */
    uint32_t cap;  /* capacity of ext */
    struct gc_prot_class *cls;
    uint32_t ncls;       /* capacity of cls */
    uint64_t prot_pages; /* frames with a class */
    uint64_t ring_gfn;   /* GNTX_FAULT_RING_NONE when unbound */
    uint32_t ring_port;
    uint32_t ring_prod; /* the producer index, ours (never read back) */
    uint64_t ring_seq;
    /* The downgrade a PROTECT call's budget cut short (protect.c): frames
     * [gfn, end) already have their new protection; the mappings through
     * direct entries from table slot `entry` on are left, in that entry's
     * map list from `node` on (from its head unless `started`; map.c
     * moves `node` on when that mapping goes). */
    struct {
        bool live;
        bool started;
        uint8_t access;
        uint32_t entry;
        struct gc_mlink node;
        uint64_t gfn, end;
    } dg;
};

/* The run of frames [lo, hi) around a frame that all have class cls (0:
 * unprotected), as a lookup found it. */
struct gc_prot_run {
    uint64_t lo;
    uint64_t hi;
    uint32_t cls;
};

struct gc_dom {
    struct gc_dom *next; /* list of live domains */
    void *cookie;
    uint64_t nr_frames;
    uint64_t frames_used; /* sum of nr_frames of its direct entries */
    uint64_t max_frames;
    uint32_t max_entries;
    uint32_t max_maps;
    uint32_t inc; /* incarnation */
    gntx_domid_t id;
    struct gc_pool table; /* struct gc_entry */
    struct gc_pool maps;  /* struct gc_map */
    struct gc_prot *prot; /* NULL until the first PROTECT */
    struct gc_faults faults;
    uint32_t mapped_out; /* live mappings of its memory (any mapper) */
    uint32_t lk;         /* its lock (lock.c) */
};

struct gcore {
    struct gc_dom **doms; /* GNTX_DOMID_MAX + 1 slots */
    struct gc_dom *list;
    uint32_t next_inc;
    uint64_t call_bytes; /* what one COPY/MEMSET call may move */
    uint64_t io_bytes;   /* what one IO call may move */
    uint64_t call_pages; /* what one PROTECT call may do */
    /* Copies moving bytes outside the lock (inflight.c): a slot holds the
     * ticket of the chunk using it, 0 when free. */
    uint64_t copy_seq;
    uint64_t copy_slot[GC_COPY_SLOTS];
};

/* The result of walking a chain for one use. */
struct gc_res {
    struct gc_dom *root;           /* owner of the frames */
    const struct gc_entry *direct; /* the chain's direct entry */
    struct gc_entry *top;          /* the entry the caller named */
    uint64_t start;                /* byte position in direct's frame list */
    unsigned nhops;                /* entries in the chain */
    uint16_t hop_dom[GNTX_MAX_DEPTH];
    uint32_t hop_idx[GNTX_MAX_DEPTH];
};

/* One end of a copy: bytes at `pos` of a frame list (NULL: identity). */
struct gc_span {
    struct gc_dom *owner;
    void *cookie;
    const uint64_t *frames;
    uint64_t pos;
};

/* The guest frame under sp's position. */
static inline uint64_t gc_span_gfn(const struct gc_span *sp)
{
    uint64_t page = sp->pos >> GNTX_PAGE_SHIFT;

    return sp->frames ? sp->frames[page] : page;
}

/* Bytes from pos to the end of its page. */
static inline uint64_t gc_page_left(uint64_t pos)
{
    return GNTX_PAGE_SIZE - (pos & GC_PAGE_MASK);
}

/* Bytes of `len` a call's budget (*left) still allows; takes them. */
static inline uint64_t gc_budget_take(uint64_t *left, uint64_t len)
{
    uint64_t n = len < *left ? len : *left;

    *left -= n;
    return n;
}

static inline void *gc_pool_at(const struct gc_pool *p, uint32_t idx)
{
    return (char *)p->base + (size_t)idx * p->esz;
}

static inline struct gc_entry *gc_entry_at(const struct gc_dom *d, uint32_t idx)
{
    return gc_pool_at(&d->table, idx);
}

static inline struct gc_map *gc_map_at(const struct gc_dom *d, uint32_t idx)
{
    return gc_pool_at(&d->maps, idx);
}

static inline const uint64_t *gc_entry_frames(const struct gc_entry *e)
{
    return e->nr_frames <= GC_INLINE_FRAMES ? e->fr.inl : e->fr.ext;
}

/* GNTX_DOMID_SELF names the caller. */
static inline gntx_domid_t gc_domid(gntx_domid_t caller, gntx_domid_t id)
{
    return id == GNTX_DOMID_SELF ? caller : id;
}

static inline struct gc_dom *gc_dom_get(const struct gcore *c, uint32_t id)
{
    return id <= GNTX_DOMID_MAX ? c->doms[id] : NULL;
}

/* table.c: slot pools */
void gc_pool_init(struct gc_pool *p, size_t esz);
void gc_pool_fini(struct gc_pool *p);
int gc_pool_alloc(struct gc_pool *p, uint32_t max_live, uint32_t *idx);
void gc_pool_unalloc(struct gc_pool *p, uint32_t idx);
void gc_pool_free(struct gc_pool *p, uint32_t idx);
int gc_pool_find(const struct gc_pool *p, uint32_t name, uint32_t *idx);
uint32_t gc_pool_name(const struct gc_pool *p, uint32_t idx);

/* table.c: entries */
int gc_entry_find(struct gc_dom *d, gntx_ref_t ref, struct gc_entry **e);
void gc_entry_release(struct gcore *c, struct gc_dom *d, uint32_t idx);
void gc_entry_undo(struct gcore *c, struct gc_dom *d, uint32_t idx);
bool gc_entry_orphan(const struct gcore *c, const struct gc_entry *e);

/* tree.c: the delegation tree's links */
void gc_tree_init(struct gc_entry *e);
void gc_tree_link(struct gcore *c, struct gc_dom *d, uint32_t idx);
void gc_tree_unlink(struct gcore *c, struct gc_dom *d, uint32_t idx);
struct gc_entry *gc_tree_parent(const struct gcore *c, const struct gc_entry *e,
                                struct gc_link *at);
static inline struct gc_entry *gc_link_entry(const struct gcore *c,
                                             struct gc_link l)
{
    struct gc_dom *d = gc_dom_get(c, l.dom);

    return d && l.idx < d->table.cap ? gc_entry_at(d, l.idx) : NULL;
}

/* resolve.c */
/* Every domain of the chain is gc_need'ed (write: exclusive) in L. */
int gc_resolve(struct gcore *c, struct gc_dom *caller, gntx_domid_t granter,
               gntx_ref_t ref, uint64_t off, uint64_t len, unsigned rights,
               struct gc_res *res, struct gc_locks *L, bool write);
int gc_window(uint64_t off, uint64_t len, uint64_t limit);

/* copy.c: one end of a transfer (COPY, MEMSET, IO) validated, and where
 * its bytes are; its owner's protections checked for the next len bytes
 * (need: GNTX_R_READ or GNTX_R_WRITE). */
int gc_end_resolve(struct gcore *c, struct gc_dom *d, const struct gntx_ptr *p,
                   uint64_t len, unsigned need, struct gc_span *sp,
                   struct gc_locks *L);
int gc_end_protect(struct gcore *c, struct gc_dom *who,
                   const struct gc_span *sp, uint64_t len, unsigned need);

/* map.c */
void gc_map_drop(struct gcore *c, struct gc_dom *mapper, uint32_t idx,
                 bool notify);
void gc_map_drop_entry(struct gcore *c, struct gc_dom *owner, uint32_t idx);

/* lock.c: the instance lock and the domains' locks an operation holds,
 * its lock set (see lock.c for the order and the rules).  gc_need: the
 * domain `id` is needed (write: to change it); 0 when it is held (or does
 * not exist, or the set is wide), GC_RELOCK when the operation must undo
 * nothing, give up and call gc_relock (which takes the grown set in
 * order) before it tries again.  A NULL set is a caller that holds the
 * instance lock exclusive.  gc_need_wide: the operation reaches any
 * number of domains: the instance lock exclusive. */
#define GC_RELOCK      2
#define GC_LOCKS_MAX   24u
#define GC_LK_READ     1u
#define GC_LK_WRITE    2u
#define GC_HELD_NONE   0u
#define GC_HELD_SHARED 1u
#define GC_HELD_WIDE   2u
struct gc_locks {
    struct gcore *c;
    bool wide;       /* the instance lock exclusive: every domain */
    uint8_t held;    /* GC_HELD_*: what gc_locks_take took */
    unsigned rounds; /* gc_relock calls: past a few, wide */
    unsigned n;
    uint16_t id[GC_LOCKS_MAX]; /* ascending */
    uint8_t mode[GC_LOCKS_MAX];
    struct gc_dom *d[GC_LOCKS_MAX]; /* locked (NULL: no such domain) */
};
void gc_locks_init(struct gc_locks *L, struct gcore *c, bool wide);
void gc_locks_take(struct gc_locks *L);
void gc_locks_drop(struct gc_locks *L);
void gc_relock(struct gc_locks *L);
int gc_need(struct gc_locks *L, uint32_t id, bool write);
int gc_need_wide(struct gc_locks *L);

/* hypercall.c: a per-element batch under the caller's lock set, the
 * caller's domain locked exclusive (the instance lock exclusive when
 * `wide`).  `fn` handles one element (of esz bytes) for the caller's
 * domain and returns its status, which is stored at status_off, or
 * GC_RELOCK (it changed nothing: the batch relocks and calls it again);
 * the caller being gone is -GNTX_ESRCH for every element.  Returns the
 * number of elements that succeeded. */
typedef int (*gc_elem_fn)(struct gcore *c, struct gc_dom *d, void *elem,
                          void *ctx, struct gc_locks *L);
int gc_batch(struct gcore *c, gntx_domid_t caller, void *v, unsigned n,
             size_t esz, size_t status_off, gc_elem_fn fn, void *ctx,
             bool wide);
/* gc_batch_flush: as gc_batch, but `fn` may also answer GC_PENDING: the
 * element's status is stored later, by `flush`, which the batch calls
 * under the same locks before any relock and once at the end; it returns
 * how many of the elements it completed since it last returned succeeded. */
#define GC_PENDING 3
typedef int (*gc_flush_fn)(void *ctx);
int gc_batch_flush(struct gcore *c, gntx_domid_t caller, void *v, unsigned n,
                   size_t esz, size_t status_off, gc_elem_fn fn,
                   gc_flush_fn flush, void *ctx, bool wide);

/* io.c, shared with io_batch.c: one IO call's state, and the steps of an
 * element (gcore_io's order): gc_io_resolve checks the element, resolves
 * its grant and asks the host about the file; gc_io_protect takes its
 * bytes from the budget (*n) and checks the owner's protections over
 * them; gc_io_gather collects pieces of a span (frames held),
 * gc_io_span moves len bytes one piece at a time through fn; and
 * gc_io_finish advances the element past what moved and says its
 * status. */
struct gc_io_call {
    gcore_io_fn *fn;
    void *ctx;
    uint64_t left;  /* the call's byte budget */
    uint64_t moved; /* bytes the call moved so far */
};
int gc_io_resolve(struct gcore *c, struct gc_dom *d, struct gc_io_call *x,
                  const struct gntx_io *v, struct gc_span *sp,
                  struct gc_locks *L);
int gc_io_protect(struct gcore *c, struct gc_dom *d, struct gc_io_call *x,
                  const struct gntx_io *v, const struct gc_span *sp,
                  uint64_t *n);
uint64_t gc_io_gather(const struct gc_span *sp, uint64_t len, int write,
                      struct gcore_iov *iov, unsigned *n, void **held,
                      unsigned *nheld);
int gc_io_span(struct gc_io_call *x, const struct gntx_io *v,
               struct gc_span *sp, uint64_t len, uint64_t *moved);
int gc_io_finish(struct gc_io_call *x, struct gntx_io *v, int rc, uint64_t n,
                 uint64_t moved);

/* inflight.c: chunks of COPY and MEMSET that move their bytes without the
 * lock.  gc_copy_enter (lock held) takes a slot for one, or -1 when all
 * are taken (the chunk then moves under the lock); gc_copy_leave (no lock
 * needed) gives it back.  gc_copy_drain (without the lock) waits until
 * every chunk that took its slot before the call is over: after a change
 * that takes access away (revoke, PROTECT, a domain's removal) has been
 * made under the lock, no byte moves any more under the old rules once it
 * returns.  Chunks are bounded (GC_CHUNK_PAGES per end), so is the wait. */
int gc_copy_enter(struct gcore *c);
void gc_copy_leave(struct gcore *c, int slot);
void gc_copy_drain(struct gcore *c);

/* query.c: the domain `dom` names, if caller may look at it */
int gc_inspect(struct gcore *c, const struct gc_dom *caller, gntx_domid_t dom,
               struct gc_dom **out);

/* protect_check.c: may `who` make `access` to the bytes of owner's memory
 * at [pos, pos + len) of `frames` (NULL: identity)?  Runs the action of a
 * violation; 0 (allowed, perhaps logged) or -GNTX_EACCES.  With `dry`
 * (the lock held shared: nothing may change), a violation of any kind is
 * GC_CHECK_AGAIN instead: the caller asks again with the lock exclusive. */
#define GC_CHECK_AGAIN 1
struct gc_access {
    struct gc_dom *who;
    struct gc_dom *owner;
    const uint64_t *frames;
    uint64_t pos;
    uint64_t len;
    unsigned access; /* GNTX_ACC_R, _W, or R|W for a writable map */
    unsigned via;    /* GNTX_VIA_* */
    bool dry;
};
int gc_prot_check(struct gcore *c, const struct gc_access *a);
static inline bool gc_prot_any(const struct gc_dom *owner)
{
    return owner->prot && owner->prot->prot_pages;
}

/* protect_range.c: a domain's protection state, made on first use
 * (ENOSPC), and its ranges */
int gc_prot_get(struct gc_dom *d, struct gc_prot **out);
void gc_prot_free(struct gc_dom *d);
/* The domain pays for `more` bytes more of it (gh_dom_charge): 0 or
 * -GNTX_ENOSPC; gc_prot_refund gives `less` back. */
int gc_prot_charge(struct gc_prot *p, uint64_t more);
void gc_prot_refund(struct gc_prot *p, uint64_t less);
uint32_t gc_prot_lower(const struct gc_prot *p, uint64_t gfn);
void gc_prot_run_at(const struct gc_prot *p, uint64_t gfn,
                    struct gc_prot_run *run);
unsigned gc_prot_class_at(const struct gc_prot *p, uint64_t gfn);
int gc_prot_range_set(struct gc_prot *p, uint64_t g, uint64_t e, uint32_t k,
                      uint64_t *work);

/* revoke.c */
int gc_revoke_one(struct gcore *c, struct gc_dom *d, gntx_ref_t ref,
                  uint32_t flags, struct gc_locks *L);
void gc_revoke_all(struct gcore *c, struct gc_dom *d);

#endif /* GCORE_PRIVATE_H */
