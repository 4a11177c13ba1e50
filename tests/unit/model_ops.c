/* SPDX-License-Identifier: MIT */
/*
 * model_ops.c: the ops that change who holds what: CREATE (direct and
 * indirect), REVOKE (plain and FORCE, each followed by probes that nothing
 * revoked is still reachable), SET_QUOTA, domain removal and re-adding,
 * the COPY budget, and the drain that releases everything; then the op
 * mix (md_run_op).  The byte and mapping ops are in model_io.c.
 *
 * Every call goes to gcore_hypercall, the entry point hosts use.  Before
 * it, each element's status is set to STATUS_UNSET, so an element the core
 * did not answer is told apart.
 */
#include <stdio.h>
#include <string.h>

#include "tests/unit/model.h"

/* An element the model says succeeds failed with the op's out-of-memory
 * error `nomem`, in a call that ran with an allocation failure armed:
 * that is allowed, and the element must then have changed nothing. */
bool md_oom(struct md *m, int32_t st, int want, int nomem)
{
    if (!m->oom || want || st != nomem)
        return false;
    m->st.ooms++;
    return true;
}

/* Now and then the next call runs with one of the core's allocations
 * failing. */
static void arm_oom(struct md *m)
{
    if (md_pct(m, 4))
        m->alloc_fail = (long)md_below(m, 3);
}

static const char *op_name(unsigned op)
{
    static const char *const names[GNTX_OP__MAX] = {
        [GNTX_OP_CREATE] = "CREATE",  [GNTX_OP_REVOKE] = "REVOKE",
        [GNTX_OP_COPY] = "COPY",      [GNTX_OP_MEMSET] = "MEMSET",
        [GNTX_OP_MAP] = "MAP",        [GNTX_OP_UNMAP] = "UNMAP",
        [GNTX_OP_PROTECT] = "PROTECT"};

    return op < GNTX_OP__MAX && names[op] ? names[op] : "op";
}

bool md_send(struct md *m, uint16_t caller, struct md_call *c, int wide)
{
    char *el = c->args;

    for (unsigned i = 0; i < c->n; i++)
        *(int32_t *)(void *)(el + i * c->esz + c->status_off) = MD_STATUS_UNSET;
    th_fail_alloc_after(m->alloc_fail);
    c->rc = gcore_hypercall(m->c, caller, c->op, c->args, c->n,
                            c->naux ? c->aux : NULL, c->naux);
    th_fail_alloc_after(-1);
    m->oom = m->alloc_fail >= 0;
    m->alloc_fail = -1;
    m->st.calls++;
    m->st.elems += c->n;
    md_trace(m, "op %llu: dom %u %s x%u (aux %llu, budget %llu) -> %ld",
             (unsigned long long)m->op, caller, op_name(c->op), c->n,
             (unsigned long long)c->naux, (unsigned long long)m->budget, c->rc);
    if (md_present(m, caller) && !wide)
        return true;
    wide = md_present(m, caller) ? wide : -GNTX_ESRCH;
    MD_CHECK(m, c->rc == wide, "%s: call-wide %ld, model %d", op_name(c->op),
             c->rc, wide);
    for (unsigned i = 0; i < c->n; i++)
        MD_CHECK(m,
                 *(int32_t *)(void *)(el + i * c->esz + c->status_off) ==
                     MD_STATUS_UNSET,
                 "a call refused whole wrote element %u", i);
    md_settle(m);
    return false;
}

void md_count(struct md *m, int32_t st)
{
    if (st == 0)
        m->st.ok++;
    else
        m->st.failed++;
    if (st < 0 && st > -128)
        m->st.by_err[-st]++;
}

/* A present domain (the control domain as likely as any). */
uint16_t md_pick_dom(struct md *m)
{
    for (;;) {
        uint16_t d = (uint16_t)md_below(m, MD_NDOM);

        if (m->d[d].present)
            return d;
    }
}

/* A grantee for `caller`: mostly another present domain; sometimes
 * itself (EINVAL), a domain that is not there (ESRCH) or DOMID_SELF. */
static uint16_t pick_grantee(struct md *m, uint16_t caller)
{
    unsigned r = (unsigned)md_below(m, 100);

    if (r < 2)
        return caller;
    if (r < 4)
        return GNTX_DOMID_SELF;
    if (r < 6)
        return (uint16_t)(MD_NDOM + md_below(m, 3));
    for (;;) {
        uint16_t d = (uint16_t)md_below(m, MD_NDOM);

        if (d != caller)
            return d;
    }
}

static uint16_t pick_rights(struct md *m)
{
    uint16_t r = 0;

    r |= md_pct(m, 80) ? GNTX_R_READ : 0;
    r |= md_pct(m, 60) ? GNTX_R_WRITE : 0;
    r |= md_pct(m, 55) ? GNTX_R_MAP : 0;
    r |= md_pct(m, 55) ? GNTX_R_DELEGATE : 0;
    return r ? r : GNTX_R_READ;
}

/* A live grant, preferring ones with `rights` and (unless ANY) the given
 * grantee; NULL if the model holds none. */
struct md_grant *md_pick_grant(struct md *m, uint16_t grantee, unsigned rights)
{
    struct md_grant *any = NULL;
    unsigned seen = 0;

    if (!m->ng)
        return NULL;
    for (unsigned i = 0, start = (unsigned)md_below(m, m->ng); i < m->ng; i++) {
        struct md_grant *g = &m->g[(start + i) % m->ng];

        if (g->pending || (grantee != MD_ANY && g->grantee != grantee))
            continue;
        if (!(rights & ~(unsigned)g->rights))
            return g;
        if (!any || md_pct(m, 30))
            any = g;
        seen++;
    }
    return any;
}

/* A revoked ref of domain d's current life, or a made-up one. */
uint32_t md_pick_dead(struct md *m, uint16_t d)
{
    unsigned n = m->ndead < MD_DEAD ? m->ndead : MD_DEAD;

    for (unsigned i = 0, start = (unsigned)md_below(m, n + 1); i < n; i++) {
        const struct md_name *x = &m->dead[(start + i) % n];

        if (x->dom == d && x->inc == m->d[d].inc)
            return x->name;
    }
    return gntx_ref_make((uint32_t)md_below(m, 1u << 17), 0);
}

/* ---- CREATE ---- */

static void fill_frames(struct md *m, uint16_t caller, uint32_t nr,
                        uint64_t *fr)
{
    uint64_t nf = m->d[caller].nr_frames, base = md_below(m, nf);
    bool contiguous = md_pct(m, 50) && base + nr <= nf;

    for (uint32_t i = 0; i < nr; i++)
        fr[i] = contiguous ? base + i : md_below(m, nf); /* repeats too */
    if (md_pct(m, 4))
        fr[md_below(m, nr)] = nf + md_below(m, 3); /* EFAULT */
}

static void fill_direct(struct md *m, uint16_t caller, struct gntx_create *v,
                        uint64_t *aux, unsigned *naux)
{
    uint32_t nr = 1 + (uint32_t)md_below(m, md_pct(m, 80) ? 3 : MD_GF);
    uint64_t off = md_pct(m, 70) ? 0 : md_below(m, MD_PG);
    uint64_t hi = nr * MD_PG - off, lo = nr > 1 ? hi - MD_PG + 1 : 1;

    v->type = GNTX_CREATE_DIRECT;
    v->grantee = pick_grantee(m, caller);
    v->rights = pick_rights(m);
    v->nr_frames = nr;
    v->frame_idx = *naux;
    v->offset = off;
    v->length = md_pct(m, 60) ? hi : lo + md_below(m, hi - lo + 1);
    fill_frames(m, caller, nr, aux + *naux);
    *naux += nr;
    switch (md_below(m, 60)) { /* now and then, malformed */
    case 0:
        v->length = 0;
        break;
    case 1:
        v->rights = md_pct(m, 50) ? 0 : 0x10;
        break;
    case 2:
        v->offset = MD_PG;
        break;
    case 3:
        v->length += MD_PG; /* one page more than nr_frames covers */
        break;
    default:
        break;
    }
}

static uint16_t sub_rights(struct md *m, uint16_t of)
{
    uint16_t r = of & (uint16_t)md_below(m, 16);

    if (md_pct(m, 8))
        return (uint16_t)(1 + md_below(m, GNTX_R_ALL)); /* maybe more */
    return r ? r : of;
}

static void fill_indirect(struct md *m, uint16_t caller,
                          const struct md_grant *p, struct gntx_create *v)
{
    uint64_t pl = p->length;

    v->type = GNTX_CREATE_INDIRECT;
    v->grantee = pick_grantee(m, caller);
    v->rights = sub_rights(m, p->rights);
    v->parent_dom = p->dom;
    v->parent_ref = md_pct(m, 3) ? md_pick_dead(m, p->dom) : p->ref;
    if (md_pct(m, 40) && pl >= MD_PG) { /* whole pages: mappable */
        v->offset = md_below(m, pl / MD_PG) * MD_PG;
        v->length = pl - v->offset;
    } else if (md_pct(m, 80)) {
        v->offset = md_below(m, pl);
        v->length = 1 + md_below(m, pl - v->offset);
    } else if (md_pct(m, 60)) { /* to the parent's end, or a byte past */
        v->offset = md_below(m, pl);
        v->length = pl - v->offset + md_below(m, 2);
    } else {
        v->offset = md_below(m, pl + MD_PG);
        v->length = 1 + md_below(m, 2 * MD_PG);
    }
    if (md_pct(m, 2))
        v->length = 0;
}

/* The model's answer to one CREATE element; on success the grant is
 * added, pending until the batch is answered. */
/* A direct grant's frames: offset, exact count, inside the caller,
 * within its frame quota. */
static int direct_check(struct md *m, uint16_t caller,
                        const struct gntx_create *v, const uint64_t *aux,
                        uint64_t naux, struct md_grant *g)
{
    const struct md_dom *x = &m->d[caller];
    uint64_t end, used = md_frames_used(m, caller);

    if (v->offset >= MD_PG)
        return -GNTX_EINVAL;
    if (__builtin_add_overflow(v->offset, v->length, &end))
        return -GNTX_EOVERFLOW;
    if (v->nr_frames != (end + MD_PG - 1) / MD_PG ||
        v->frame_idx + v->nr_frames > naux)
        return -GNTX_EINVAL;
    for (uint32_t i = 0; i < v->nr_frames; i++)
        if (aux[v->frame_idx + i] >= x->nr_frames)
            return -GNTX_EFAULT;
    if (used > x->max_frames || v->nr_frames > x->max_frames - used)
        return -GNTX_ENOSPC;
    MD_CHECK(m, v->nr_frames <= MD_GF, "generator: %u frames", v->nr_frames);
    g->nr_frames = v->nr_frames;
    memcpy(g->frames, aux + v->frame_idx, v->nr_frames * sizeof(*aux));
    return 0;
}

/* A delegation: a live parent the caller holds with DELEGATE, the window
 * inside it, rights a subset, the chain not too long. */
static int indirect_check(struct md *m, uint16_t caller,
                          const struct gntx_create *v, struct md_grant *g)
{
    struct md_res res;
    int rc;

    g->pdom = md_self(caller, v->parent_dom);
    g->pref = v->parent_ref;
    rc = md_resolve(m, caller, g->pdom, g->pref, v->offset, v->length, 0, &res);
    if (rc)
        return rc;
    if (!(res.top->rights & GNTX_R_DELEGATE) || (v->rights & ~res.top->rights))
        return -GNTX_EPERM;
    if (res.nhops + 1 > GNTX_MAX_DEPTH)
        return -GNTX_ELOOP;
    g->pinc = m->d[g->pdom].inc;
    if (res.nhops + 1 > m->st.max_depth)
        m->st.max_depth = res.nhops + 1;
    return 0;
}

/* The model's answer to one CREATE element; on success the grant is
 * added, pending until the batch is answered. */
static int create_one(struct md *m, uint16_t caller,
                      const struct gntx_create *v, const uint64_t *aux,
                      uint64_t naux)
{
    uint16_t gid = md_self(caller, v->grantee);
    struct md_grant g = {.pending = true,
                         .dom = caller,
                         .type = v->type,
                         .grantee = gid,
                         .rights = v->rights,
                         .offset = v->offset,
                         .length = v->length};
    int rc;

    if (v->type != GNTX_CREATE_DIRECT && v->type != GNTX_CREATE_INDIRECT)
        return -GNTX_EINVAL;
    if (!v->rights || (v->rights & ~GNTX_R_ALL) || !v->length)
        return -GNTX_EINVAL;
    if (gid == caller || gid > GNTX_DOMID_MAX)
        return -GNTX_EINVAL;
    if (!md_present(m, gid))
        return -GNTX_ESRCH;
    g.grantee_inc = m->d[gid].inc;
    rc = v->type == GNTX_CREATE_DIRECT
             ? direct_check(m, caller, v, aux, naux, &g)
             : indirect_check(m, caller, v, &g);
    if (rc)
        return rc;
    if (md_live_entries(m, caller) >= m->d[caller].max_entries)
        return -GNTX_ENOSPC;
    MD_CHECK(m, m->ng < MD_GRANTS, "model: grant list full");
    m->g[m->ng++] = g;
    return 0;
}

static bool name_seen(const struct md *m, const struct md_name *ring,
                      unsigned n, uint16_t dom, uint32_t name)
{
    for (unsigned i = 0; i < n && i < MD_DEAD; i++)
        if (ring[i].dom == dom && ring[i].name == name &&
            ring[i].inc == m->d[dom].inc)
            return true;
    return false;
}

bool md_ref_reused(const struct md *m, uint16_t dom, uint32_t ref)
{
    return md_grant_find((struct md *)m, dom, ref) ||
           name_seen(m, m->dead, m->ndead, dom, ref);
}

bool md_handle_reused(const struct md *m, uint16_t mapper, uint32_t handle)
{
    return name_seen(m, m->gone, m->ngone, mapper, handle);
}

static void create_answer(struct md *m, uint16_t caller, long rc,
                          struct gntx_create *v, unsigned n, unsigned first,
                          int bad, int why)
{
    for (unsigned i = 0; i < n; i++) {
        md_trace(m,
                 "  [%u] %s grantee %u rights %#x parent %u:%#x "
                 "[%llu,+%llu) frames %u -> %d ref %#x",
                 i, v[i].type ? "indirect" : "direct", v[i].grantee,
                 v[i].rights, v[i].parent_dom, v[i].parent_ref,
                 (unsigned long long)v[i].offset,
                 (unsigned long long)v[i].length, v[i].nr_frames, v[i].status,
                 v[i].ref);
        md_count(m, v[i].status);
    }
    if (bad < 0) {
        MD_CHECK(m, rc == 0, "CREATE returned %ld, model: success", rc);
        for (unsigned i = 0; i < n; i++) {
            MD_CHECK(m, v[i].status == 0 && v[i].ref != GNTX_REF_INVALID,
                     "element %u: status %d ref %#x", i, v[i].status, v[i].ref);
            MD_CHECK(m, !md_ref_reused(m, caller, v[i].ref),
                     "dom %u issued ref %#x twice", caller, v[i].ref);
            m->g[first + i].ref = v[i].ref;
            m->g[first + i].pending = false;
        }
        return;
    }
    m->ng = first; /* all-or-nothing: the pending grants go */
    MD_CHECK(m, rc == why, "CREATE returned %ld, model: %d at element %d", rc,
             why, bad);
    for (unsigned i = 0; i < n; i++)
        MD_CHECK(m,
                 v[i].status == ((int)i == bad ? why : -GNTX_ECANCELED) &&
                     v[i].ref == GNTX_REF_INVALID,
                 "element %u: status %d ref %#x, model %d", i, v[i].status,
                 v[i].ref, (int)i == bad ? why : -GNTX_ECANCELED);
}

/* Call-wide: the frames the batch names must be in aux. */
static bool create_aux_ok(const struct gntx_create *v, unsigned n,
                          uint64_t naux)
{
    for (unsigned i = 0; i < n; i++)
        if (v[i].type == GNTX_CREATE_DIRECT &&
            v[i].frame_idx + v[i].nr_frames > naux)
            return false;
    return true;
}

static void create_run(struct md *m, uint16_t caller, struct gntx_create *v,
                       unsigned n, uint64_t *aux, unsigned naux)
{
    struct md_call c = {GNTX_OP_CREATE,
                        v,
                        n,
                        sizeof(*v),
                        offsetof(struct gntx_create, status),
                        aux,
                        naux};
    unsigned first = m->ng;
    int bad = -1, why = 0;

    if (!md_send(m, caller, &c, create_aux_ok(v, n, naux) ? 0 : -GNTX_EINVAL))
        return;
    for (unsigned i = 0; i < n && bad < 0; i++) {
        why = create_one(m, caller, &v[i], aux, naux);
        if (md_oom(m, v[i].status, why, -GNTX_ENOMEM))
            why = -GNTX_ENOMEM;
        if (why)
            bad = (int)i;
    }
    create_answer(m, caller, c.rc, v, n, first, bad, why);
    md_settle(m);
}

/* The live grant with DELEGATE at the end of the longest chain. */
static struct md_grant *deepest(struct md *m)
{
    struct md_grant *best = NULL;
    unsigned depth = 0;

    for (unsigned i = 0; i < m->ng; i++) {
        struct md_grant *g = &m->g[i];
        struct md_res res;

        if (!(g->rights & GNTX_R_DELEGATE) ||
            md_resolve(m, g->grantee, g->dom, g->ref, 0, 1, 0, &res) ||
            res.nhops <= depth)
            continue;
        best = g;
        depth = res.nhops;
    }
    return best;
}

static void op_create(struct md *m, bool delegate)
{
    struct gntx_create v[MD_BATCH];
    uint64_t aux[MD_BATCH * MD_GF + 4];
    unsigned n = md_pct(m, 60) ? 1 : 2 + (unsigned)md_below(m, 2), naux = 0;
    struct md_grant *p =
        delegate ? md_pick_grant(m, MD_ANY, GNTX_R_DELEGATE) : NULL;
    uint16_t caller = md_pick_dom(m);

    if (delegate && md_pct(m, 30))
        p = deepest(m); /* toward GNTX_MAX_DEPTH (ELOOP) */

    memset(v, 0, sizeof(v));
    if (p && md_pct(m, 90) && md_present(m, p->grantee))
        caller = p->grantee;
    for (unsigned i = 0; i < n; i++) {
        struct md_grant *q = p;

        if (i && delegate)
            q = md_pick_grant(m, caller, GNTX_R_DELEGATE);
        if (q && q->grantee != caller && md_pct(m, 80))
            q = NULL;
        if (delegate && q)
            fill_indirect(m, caller, q, &v[i]);
        else
            fill_direct(m, caller, &v[i], aux, &naux);
    }
    if (naux && md_pct(m, 3))
        naux--; /* aux one short: the whole call is EINVAL */
    arm_oom(m);
    create_run(m, caller, v, n, aux, naux);
}

/* ---- REVOKE ---- */

/* A revoked grant: (granter, ref) and who held it. */
struct gone {
    uint16_t dom, grantee;
    uint32_t ref;
};

/* After a revoke: the revoked refs, and a few orphans, are unreachable. */
static void probe(struct md *m, const struct gone *refs, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        md_probe_use(m, refs[i].dom, refs[i].ref, refs[i].grantee);
    for (unsigned i = 0, k = 0; i < m->ng && k < 3; i++) {
        if (md_orphan(m, &m->g[i]) && md_present(m, m->g[i].grantee)) {
            md_probe_use(m, m->g[i].dom, m->g[i].ref, m->g[i].grantee);
            m->st.orphan_uses++;
            k++;
        }
    }
}

void md_revoke_run(struct md *m, uint16_t caller, struct gntx_revoke *v,
                   unsigned n)
{
    struct md_call c = {GNTX_OP_REVOKE, v, n, sizeof(*v),
                        offsetof(struct gntx_revoke, status)};
    struct gone gone[MD_BATCH];
    unsigned ok = 0;

    if (!md_send(m, caller, &c, 0))
        return;
    for (unsigned i = 0; i < n; i++) {
        struct md_grant *g = md_grant_find(m, caller, v[i].ref);
        int want = 0;

        if (v[i].flags & ~GNTX_REVOKE_FORCE)
            want = -GNTX_EINVAL;
        else if (!g)
            want = md_missing(v[i].ref);
        else if (md_entry_maps(m, g) && !(v[i].flags & GNTX_REVOKE_FORCE))
            want = -GNTX_EBUSY;
        md_trace(m, "  [%u] ref %#x flags %u -> %d (model %d)", i, v[i].ref,
                 v[i].flags, v[i].status, want);
        md_count(m, v[i].status);
        MD_CHECK(m, v[i].status == want, "REVOKE element %u: %d, model %d", i,
                 v[i].status, want);
        if (want)
            continue;
        gone[ok++] = (struct gone){caller, g->grantee, g->ref};
        md_revoke(m, g);
    }
    MD_CHECK(m, c.rc == (long)ok, "REVOKE returned %ld, model %u", c.rc, ok);
    md_settle(m);
    probe(m, gone, ok);
}

static void op_revoke(struct md *m)
{
    struct gntx_revoke v[MD_BATCH];
    unsigned n = 1 + (unsigned)md_below(m, 3);
    struct md_grant *g = md_pick_grant(m, MD_ANY, 0);
    uint16_t caller = g && md_pct(m, 95) ? g->dom : md_pick_dom(m);

    memset(v, 0, sizeof(v));
    for (unsigned i = 0; i < n; i++) {
        unsigned r = (unsigned)md_below(m, 100);

        if (i)
            g = md_pick_grant(m, MD_ANY, 0);
        v[i].ref =
            g && g->dom == caller && r < 85 ? g->ref : md_pick_dead(m, caller);
        v[i].flags = md_pct(m, 50) ? GNTX_REVOKE_FORCE : 0;
        if (md_pct(m, 2))
            v[i].flags = 2;
    }
    md_revoke_run(m, caller, v, n);
}

/* ---- quotas, domains, budget ---- */

static void op_quota(struct md *m)
{
    uint16_t caller = md_pct(m, 90) ? GNTX_DOMID_CONTROL : md_pick_dom(m);
    uint16_t target = (uint16_t)md_below(m, MD_NDOM + 1);
    struct gntx_usage u = {.dom = target};
    int want = 0;
    long rc;

    u.max_entries =
        md_pct(m, 40) ? GCORE_DEFAULT_MAX_ENTRIES : (uint32_t)md_below(m, 40);
    u.max_maps =
        md_pct(m, 40) ? GCORE_DEFAULT_MAX_MAPS : (uint32_t)md_below(m, 12);
    u.max_frames = md_pct(m, 40) ? GCORE_DEFAULT_MAX_FRAMES : md_below(m, 48);
    if (md_pct(m, 2))
        u.max_maps = GNTX_MAX_ENTRIES + 1;
    rc = gcore_hypercall(m->c, caller, GNTX_OP_SET_QUOTA, &u, 1, NULL, 0);
    if (caller != GNTX_DOMID_CONTROL)
        want = -GNTX_EPERM;
    else if (!md_present(m, target))
        want = -GNTX_ESRCH;
    else if (u.max_maps > GNTX_MAX_ENTRIES)
        want = -GNTX_EINVAL;
    md_trace(m,
             "op %llu: dom %u SET_QUOTA dom %u entries %u maps %u frames "
             "%llu -> %ld",
             (unsigned long long)m->op, caller, target, u.max_entries,
             u.max_maps, (unsigned long long)u.max_frames, rc);
    MD_CHECK(m, rc == want, "SET_QUOTA returned %ld, model %d", rc, want);
    if (!want) {
        m->d[target].max_entries = u.max_entries;
        m->d[target].max_maps = u.max_maps;
        m->d[target].max_frames = u.max_frames;
    }
    md_settle(m);
}

static void dom_remove(struct md *m, uint16_t d)
{
    md_trace(m, "op %llu: remove dom %u", (unsigned long long)m->op, d);
    gcore_dom_remove(m->c, d);
    md_dom_remove(m, d);
    md_settle(m);
}

/* Re-add a domain that is gone (a new life), else remove one. */
static void op_dom(struct md *m)
{
    uint16_t d = (uint16_t)(1 + md_below(m, MD_NDOM - 1));

    for (uint16_t i = 1; i < MD_NDOM && md_pct(m, 80); i++)
        if (!m->d[i].present)
            d = i;
    if (m->d[d].present) {
        dom_remove(m, d);
        return;
    }
    md_dom_add(m, d);
    md_trace(m, "op %llu: add dom %u", (unsigned long long)m->op, d);
    MD_CHECK(m, gcore_dom_add(m->c, d, m->d[d].nr_frames, m->d[d].mem) == 0,
             "dom add %u", d);
}

/* The PROTECT page budget of newer cores (absent from older ones: then
 * PROTECT has no budget). */
void gcore_set_call_pages(struct gcore *core, uint64_t pages)
    __attribute__((weak));

static void op_budget(struct md *m)
{
    uint64_t b = 0;

    if (md_pct(m, 35))
        b = md_pct(m, 50) ? 1 + md_below(m, 3 * MD_PG)
                          : (1 + md_below(m, 4)) * MD_PG;
    gcore_set_call_bytes(m->c, b);
    if (gcore_set_call_pages)
        gcore_set_call_pages(m->c, md_pct(m, 40) ? 1 + md_below(m, 8) : 0);
    m->budget = b ? b : GNTX_DEFAULT_CALL_BYTES;
    md_trace(m, "op %llu: call budget %llu", (unsigned long long)m->op,
             (unsigned long long)m->budget);
}

/* ---- drain: release everything, usage back to zero ---- */

static void drain_maps(struct md *m, uint16_t d)
{
    struct gntx_unmap v[MD_BATCH];
    unsigned n = 0;

    for (unsigned i = 0; i < m->nmap && n < MD_BATCH; i++)
        if (m->map[i].mapper == d)
            v[n++].handle = m->map[i].handle;
    if (n)
        md_unmap_run(m, d, v, n);
}

static void drain_grants(struct md *m, uint16_t d)
{
    struct gntx_revoke v[MD_BATCH];
    unsigned n = 0;

    memset(v, 0, sizeof(v));
    for (unsigned i = 0; i < m->ng && n < MD_BATCH; i++)
        if (m->g[i].dom == d)
            v[n++].ref = m->g[i].ref;
    if (n)
        md_revoke_run(m, d, v, n);
}

void md_drain(struct md *m)
{
    md_trace(m, "op %llu: drain", (unsigned long long)m->op);
    for (uint16_t d = 0; d < MD_NDOM; d++)
        while (m->d[d].present && md_maps_held(m, d))
            drain_maps(m, d);
    /* Nothing is mapped: plain revokes must all succeed. */
    for (uint16_t d = 0; d < MD_NDOM; d++)
        for (unsigned k = 0; m->d[d].present && md_live_entries(m, d); k++) {
            MD_CHECK(m, k < MD_GRANTS, "drain: dom %u's grants stay", d);
            drain_grants(m, d);
        }
    for (uint16_t d = 0; d < MD_NDOM; d++)
        if (m->d[d].present)
            md_protect_lift(m, d);
    MD_CHECK(m, m->nmap == 0 && m->ng == 0, "drain left %u maps %u grants",
             m->nmap, m->ng);
    for (uint16_t d = 0; d < MD_NDOM; d++) {
        struct gntx_usage u = {.dom = d};
        struct gntx_fault_stats s = {.dom = d};

        if (!m->d[d].present)
            continue;
        MD_CHECK(m,
                 gcore_usage(m->c, GNTX_DOMID_CONTROL, &u) == 0 &&
                     gcore_fault_stats(m->c, GNTX_DOMID_CONTROL, &s) == 0,
                 "usage");
        MD_CHECK(
            m, !u.entries && !u.frames && !u.maps && !s.prot_pages && !s.ranges,
            "dom %u after the drain: entries %u frames %llu maps %u "
            "protected %llu",
            d, u.entries, (unsigned long long)u.frames, u.maps,
            (unsigned long long)s.prot_pages);
    }
    m->st.drains++;
}

/* ---- the mix ---- */

static void op_copy(struct md *m)
{
    md_op_xfer(m, false);
}

static void op_memset(struct md *m)
{
    md_op_xfer(m, true);
}

static void op_direct(struct md *m)
{
    op_create(m, false);
}

static void op_delegate(struct md *m)
{
    op_create(m, true);
}

/* The mix, in thousandths: each op's share. */
static const struct {
    unsigned share;
    void (*fn)(struct md *m);
} mix[] = {
    {140, op_direct},  {160, op_delegate},  {90, op_revoke},
    {232, op_copy},    {80, op_memset},     {80, md_op_map},
    {60, md_op_unmap}, {70, md_op_protect}, {25, op_quota},
    {20, op_budget},   {12, op_dom},        {1, md_drain},
    {10, md_op_ring},  {20, md_op_cpu},
};

void md_run_op(struct md *m)
{
    unsigned r = (unsigned)md_below(m, 1000), i = 0;

    m->st.ops++;
    while (i + 1 < sizeof(mix) / sizeof(mix[0]) && r >= mix[i].share)
        r -= mix[i++].share;
    if (mix[i].fn == op_direct || mix[i].fn == op_delegate)
        if (m->ng + MD_BATCH >= MD_GRANTS - 8)
            i = 2; /* the model's list is full: revoke instead */
    if (mix[i].fn == md_op_map && m->nmap + 2 > MD_MAPS)
        i = 6; /* unmap instead */
    mix[i].fn(m);
}
