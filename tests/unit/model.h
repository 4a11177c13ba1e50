/* SPDX-License-Identifier: MIT */
/*
 * model.h: a reference model of the grant core, for the property test
 * (test_model.c).
 *
 * The model is written from grant_abi.h, not from libgrant/core: it keeps
 * its own list of grants (who granted what to whom, the frames or the
 * parent window, the rights), the mappings each domain holds and what each
 * of their pages may still do, every domain's page protections, fault
 * ring, fault counters and quotas, and a shadow copy of every domain's
 * memory (fault records included).  Each call the test sends to the core
 * is first predicted by the model, element by element (the exact status,
 * the bytes moved, the records written, the mappings torn down or
 * downgraded, the domains killed); the core's answer must match, and after
 * every op the whole state is compared: every byte of every domain, every
 * table listing and delegation tree, USAGE, protections, fault counters,
 * and the mappings the host was told about (gh_map_made, gh_unmap_notify,
 * gh_map_restrict) against the mappings the model holds.
 *
 * Where grant_abi.h allows more than one behaviour (elements after a
 * budget cut validated or not; a copy's protections checked at validation
 * or per call on the bytes moved), the model learns which one the core
 * has from its answers, and holds it to that.
 *
 * Files: model_ref.c (the model's rules), model_check.c (comparisons and
 * the host's view of mappings), model_ops.c (grants, quotas, domains, the
 * op mix), model_io.c (copies, maps, protections, fault rings),
 * test_model.c (seeds, time budget, figures).
 */
#ifndef MODEL_H
#define MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gcore.h"
#include "tests/unit/testhost.h"

#define MD_NDOM   5u   /* domains 0..4; 0 is the control domain */
#define MD_MAXF   12u  /* frames of the largest domain */
#define MD_GF     8u   /* frames of one direct grant (and pages of a map) */
#define MD_GRANTS 160u /* live grants at most (the generator stays below) */
#define MD_MAPS   32u  /* live mappings at most */
#define MD_DEAD   32u  /* revoked refs / dropped handles remembered */
#define MD_TRACE  128u /* trace lines kept for a failure report */
#define MD_BATCH  4u   /* elements of one generated call */
#define MD_PG     ((uint64_t)GNTX_PAGE_SIZE)

/* A protection of one page (set == 0: none). */
struct md_prot {
    uint8_t set, access, action;
    uint64_t cookie;
};

struct md_dom {
    bool present;
    uint32_t inc; /* the model's own incarnation count */
    uint64_t nr_frames;
    struct th_dom *mem; /* the host memory the core works on */
    uint8_t *shadow;    /* the model's copy of it */
    uint32_t max_entries, max_maps;
    uint64_t max_frames;
    struct md_prot prot[MD_MAXF];
    /* FAULT_STATS: caused (as accessor), by action (as owner), dropped. */
    uint64_t caused, by_action[GNTX_ACT_MAX + 1], dropped;
    /* The fault ring: where (GNTX_FAULT_RING_NONE: unbound), the port, the
     * producer index the host keeps, the record sequence. */
    uint64_t ring_gfn;
    uint32_t ring_port, ring_prod;
    uint64_t ring_seq;
};

struct md_grant {
    bool pending; /* in a CREATE batch not yet answered */
    uint16_t dom;
    uint32_t ref;
    uint8_t type;
    uint16_t grantee;
    uint32_t grantee_inc;
    uint16_t rights;
    uint64_t offset, length;
    uint32_t nr_frames; /* direct */
    uint64_t frames[MD_GF];
    uint16_t pdom; /* indirect */
    uint32_t pinc, pref;
};

/* A mapping: the model's, and the host's view built from the hooks. */
struct md_map {
    uint16_t mapper, root;
    uint32_t handle;
    bool rdonly;
    uint32_t npages;
    uint64_t frames[MD_GF];
    uint8_t limit[MD_GF]; /* GNTX_ACC_RW, _R or _NONE */
    unsigned nhops;
    uint16_t hdom[GNTX_MAX_DEPTH];
    uint32_t href[GNTX_MAX_DEPTH];
};

/* A name that was live once: (dom, incarnation, ref or handle). */
struct md_name {
    uint16_t dom;
    uint32_t inc, name;
};

/* Bytes of some domain's memory: `frames` NULL is the domain's own
 * guest-physical space. */
struct md_span {
    uint16_t dom;
    const uint64_t *frames;
    uint64_t pos;
};

/* Violations one element made (at most one per end). */
struct md_eff {
    unsigned n;
    struct md_fault {
        uint16_t who, owner;
        uint8_t action, access; /* access: the bit that was missing */
        uint32_t via;           /* GNTX_VIA_* */
        uint64_t addr, cookie;  /* as the fault record names them */
    } v[2];
};

/* A use of a grant as the model resolves it. */
struct md_res {
    struct md_span span;
    struct md_grant *top;
    unsigned nhops;
    uint16_t hdom[GNTX_MAX_DEPTH];
    uint32_t href[GNTX_MAX_DEPTH];
};

struct md_stats {
    uint64_t ops, calls, elems, ok, failed;
    uint64_t by_err[128]; /* element statuses, by -errno */
    uint64_t resubmits, cut_calls, interleaved, force_notes, restricts;
    uint64_t kills, removals, drains, max_depth, orphan_uses, bytes;
    uint64_t live_grants, live_maps; /* summed after every op */
    uint64_t ooms; /* elements failed by an injected allocation failure */
    uint64_t records, dropped; /* fault records written, dropped */
};

struct md {
    struct gcore *c;
    uint64_t seed, rng, op; /* op: the op being run, from 0 */
    uint64_t budget;        /* COPY/MEMSET byte budget set in the core */
    bool prot_at_move;      /* copies check protections as they move */
    struct md_dom d[MD_NDOM];
    uint32_t next_inc;
    struct md_grant g[MD_GRANTS];
    unsigned ng;
    struct md_map map[MD_MAPS];
    unsigned nmap;
    struct md_map host[MD_MAPS * 2]; /* what the hooks said is mapped */
    unsigned nhost;
    struct md_name dead[MD_DEAD]; /* revoked refs: a ring */
    unsigned ndead;
    struct md_name gone[MD_DEAD]; /* dropped handles: a ring */
    unsigned ngone;
    long alloc_fail;    /* the next call's gh_zalloc that fails (-1: none) */
    bool oom;           /* the last call ran with one armed */
    unsigned kills_due; /* gh_dom_kill calls the model expects */
    unsigned rings_due; /* gh_fault_notify calls the model expects */
    uint32_t ring_port; /* the last one's port */
    bool kill[MD_NDOM];
    bool verbose;
    char trace[MD_TRACE][200];
    unsigned ntrace;
    struct md_stats st;
};

/* Random numbers (splitmix64): the seed decides everything. */
static inline uint64_t md_rand(struct md *m)
{
    uint64_t z = (m->rng += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline uint64_t md_below(struct md *m, uint64_t n)
{
    return n ? md_rand(m) % n : 0;
}

static inline bool md_pct(struct md *m, unsigned pct)
{
    return md_below(m, 100) < pct;
}

/* A failed check: prints the seed, the op, the trace; fails the test. */
#define MD_CHECK(m, cond, ...)                                                 \
    do {                                                                       \
        if (!(cond))                                                           \
            md_fail((m), __FILE__, __LINE__, #cond, __VA_ARGS__);              \
    } while (0)
void md_fail(struct md *m, const char *file, int line, const char *cond,
             const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void md_trace(struct md *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* model_ref.c: state and rules */
void md_init(struct md *m, uint64_t seed);
void md_fini(struct md *m);
void md_dom_add(struct md *m, uint16_t d);
void md_dom_remove(struct md *m, uint16_t d);
bool md_present(const struct md *m, uint16_t d);
uint16_t md_self(uint16_t caller, uint16_t d);
struct md_grant *md_grant_find(struct md *m, uint16_t dom, uint32_t ref);
int md_resolve(struct md *m, uint16_t caller, uint16_t granter, uint32_t ref,
               uint64_t off, uint64_t len, unsigned need, struct md_res *r);
int md_missing(uint32_t name);
bool md_orphan(struct md *m, const struct md_grant *g);
uint32_t md_entry_maps(const struct md *m, const struct md_grant *g);
uint32_t md_live_entries(const struct md *m, uint16_t d);
uint64_t md_frames_used(const struct md *m, uint16_t d);
uint32_t md_maps_held(const struct md *m, uint16_t d);
int md_window(uint64_t off, uint64_t len, uint64_t limit);
int md_prot_use(struct md *m, uint16_t who, const struct md_span *sp,
                uint64_t len, unsigned acc, unsigned via, struct md_eff *eff);
void md_eff_apply(struct md *m, const struct md_eff *eff);
bool md_eff_logs(const struct md_eff *eff);
void md_move(struct md *m, struct md_span src, struct md_span dst, uint64_t n);
void md_fill(struct md *m, struct md_span dst, uint64_t n, uint8_t value);
void md_revoke(struct md *m, struct md_grant *g);
void md_map_drop(struct md *m, unsigned i);
void md_protect(struct md *m, uint16_t d, uint64_t gfn, uint64_t nr,
                unsigned access, unsigned action, uint64_t cookie);

/* model_check.c: comparisons, the host's view */
void md_settle(struct md *m);
void md_check_all(struct md *m);
void md_host_add(struct md *m, const struct md_map *mp);
void md_host_unmap(struct md *m, uint16_t mapper, uint32_t handle);

/* model_ops.c: grants, quotas, domains; the op mix */
#define MD_ANY          0xffffu /* md_pick_grant: any grantee */
#define MD_STATUS_UNSET 0x7777  /* set before a call: not answered */
/* One call as a host forwards it (gcore_hypercall).  Every element's
 * status (at status_off of esz-byte elements) is set to MD_STATUS_UNSET
 * before it.  `wide` is the model's error for the call as a whole (0:
 * none; a caller that is gone: -GNTX_ESRCH regardless): when there is one
 * it is checked, with no status written, and md_send returns false. */
struct md_call {
    unsigned op;
    void *args;
    unsigned n;
    size_t esz, status_off;
    void *aux;
    uint64_t naux;
    long rc; /* out */
};
bool md_send(struct md *m, uint16_t caller, struct md_call *c, int wide);
bool md_oom(struct md *m, int32_t st, int want, int nomem);
void md_count(struct md *m, int32_t st);
uint16_t md_pick_dom(struct md *m);
struct md_grant *md_pick_grant(struct md *m, uint16_t grantee, unsigned rights);
uint32_t md_pick_dead(struct md *m, uint16_t d);
bool md_ref_reused(const struct md *m, uint16_t dom, uint32_t ref);
bool md_handle_reused(const struct md *m, uint16_t mapper, uint32_t handle);
void md_revoke_run(struct md *m, uint16_t caller, struct gntx_revoke *v,
                   unsigned n);
void md_run_op(struct md *m);
void md_drain(struct md *m);

/* model_io.c: COPY, MEMSET, MAP, UNMAP, PROTECT */
void md_op_xfer(struct md *m, bool memset);
void md_op_map(struct md *m);
void md_op_unmap(struct md *m);
void md_op_protect(struct md *m);
void md_op_ring(struct md *m);
void md_op_cpu(struct md *m);
void md_unmap_run(struct md *m, uint16_t caller, struct gntx_unmap *v,
                  unsigned n);
void md_protect_lift(struct md *m, uint16_t d);
void md_probe_use(struct md *m, uint16_t dom, uint32_t ref, uint16_t user);
int md_prot_placement(void);

#endif /* MODEL_H */
