/* SPDX-License-Identifier: MIT */
/*
 * model_ref.c: the reference model's state and rules (see model.h), taken
 * from grant_abi.h:
 *   - a use of (granter G, ref R) by caller C of [off, off+len) with rights
 *     `need` walks the chain, each hop checking: R live in G's table
 *     (ENOENT never issued, ESTALE revoked), grantee is C in its current
 *     life (EPERM), a parent hop carries DELEGATE (EPERM), need within the
 *     rights (EACCES), the window inside (EOVERFLOW, ERANGE); an indirect
 *     hop moves the window into its parent's and steps up (a parent whose
 *     domain is gone or new is ESTALE); more than GNTX_MAX_DEPTH: ELOOP;
 *   - page protections: the worst action among the pages a use touches
 *     runs (KILL > NOTIFY > DENY > LOG), counted for both sides;
 *   - bytes move in page-bounded chunks, each as memmove.
 */
#include <stdlib.h>
#include <string.h>

#include "tests/unit/model.h"

static const uint64_t dom_frames[MD_NDOM] = {8, 10, 6, 12, 5};

static void mem_randomize(struct md *m, struct md_dom *d)
{
    uint64_t n = d->nr_frames * MD_PG;

    for (uint64_t i = 0; i < n; i += 8) {
        uint64_t r = md_rand(m);

        memcpy(d->mem->mem + i, &r, 8);
    }
    memcpy(d->shadow, d->mem->mem, n);
}

void md_init(struct md *m, uint64_t seed)
{
    memset(m, 0, sizeof(*m));
    m->seed = seed;
    m->rng = seed;
    m->budget = GNTX_DEFAULT_CALL_BYTES;
    m->alloc_fail = -1;
    for (uint16_t i = 0; i < MD_NDOM; i++) {
        struct md_dom *d = &m->d[i];

        d->nr_frames = dom_frames[i];
        d->mem = th_dom_new(d->nr_frames);
        d->shadow = calloc(d->nr_frames, MD_PG);
    }
}

void md_fini(struct md *m)
{
    for (unsigned i = 0; i < MD_NDOM; i++) {
        th_dom_free(m->d[i].mem);
        free(m->d[i].shadow);
    }
}

/* A new life of domain d: fresh memory, defaults, nothing granted. */
void md_dom_add(struct md *m, uint16_t id)
{
    struct md_dom *d = &m->d[id];

    d->present = true;
    d->inc = ++m->next_inc;
    d->max_entries = GCORE_DEFAULT_MAX_ENTRIES;
    d->max_maps = GCORE_DEFAULT_MAX_MAPS;
    d->max_frames = GCORE_DEFAULT_MAX_FRAMES;
    memset(d->prot, 0, sizeof(d->prot));
    d->caused = d->dropped = 0;
    d->ring_gfn = GNTX_FAULT_RING_NONE;
    d->ring_port = d->ring_prod = 0;
    d->ring_seq = 0;
    memset(d->by_action, 0, sizeof(d->by_action));
    mem_randomize(m, d);
}

bool md_present(const struct md *m, uint16_t d)
{
    return d < MD_NDOM && m->d[d].present;
}

uint16_t md_self(uint16_t caller, uint16_t d)
{
    return d == GNTX_DOMID_SELF ? caller : d;
}

struct md_grant *md_grant_find(struct md *m, uint16_t dom, uint32_t ref)
{
    for (unsigned i = 0; i < m->ng; i++)
        if (!m->g[i].pending && m->g[i].dom == dom && m->g[i].ref == ref)
            return &m->g[i];
    return NULL;
}

/* A name that is not live: the model only ever names refs the core issued
 * in the domain's current life (then ESTALE), or made-up ones with
 * generation 0 (ENOENT). */
int md_missing(uint32_t name)
{
    return gntx_ref_gen(name) ? -GNTX_ESTALE : -GNTX_ENOENT;
}

int md_window(uint64_t off, uint64_t len, uint64_t limit)
{
    uint64_t end;

    if (__builtin_add_overflow(off, len, &end))
        return -GNTX_EOVERFLOW;
    return end > limit ? -GNTX_ERANGE : 0;
}

int md_resolve(struct md *m, uint16_t caller, uint16_t granter, uint32_t ref,
               uint64_t off, uint64_t len, unsigned need, struct md_res *r)
{
    uint16_t user = caller, d = granter;
    bool parent = false;

    if (!md_present(m, d))
        return -GNTX_ESRCH;
    for (unsigned i = 0; i < GNTX_MAX_DEPTH; i++) {
        struct md_grant *g = md_grant_find(m, d, ref);
        int rc;

        if (!g)
            return md_missing(ref);
        if (g->grantee != user || !md_present(m, user) ||
            g->grantee_inc != m->d[user].inc)
            return -GNTX_EPERM;
        if (parent && !(g->rights & GNTX_R_DELEGATE))
            return -GNTX_EPERM;
        if (need & ~(unsigned)g->rights)
            return -GNTX_EACCES;
        rc = md_window(off, len, g->length);
        if (rc)
            return rc;
        r->hdom[i] = d;
        r->href[i] = ref;
        if (i == 0)
            r->top = g;
        if (g->type == GNTX_CREATE_DIRECT) {
            r->span = (struct md_span){d, g->frames, g->offset + off};
            r->nhops = i + 1;
            return 0;
        }
        if (!md_present(m, g->pdom) || m->d[g->pdom].inc != g->pinc)
            return -GNTX_ESTALE;
        off += g->offset; /* inside the window: cannot wrap */
        user = d;
        d = g->pdom;
        ref = g->pref;
        parent = true;
    }
    return -GNTX_ELOOP;
}

bool md_orphan(struct md *m, const struct md_grant *g)
{
    while (g->type == GNTX_CREATE_INDIRECT) {
        if (!md_present(m, g->pdom) || m->d[g->pdom].inc != g->pinc)
            return true;
        g = md_grant_find(m, g->pdom, g->pref);
        if (!g)
            return true;
    }
    return false;
}

static bool map_uses(const struct md_map *mp, uint16_t dom, uint32_t ref)
{
    for (unsigned h = 0; h < mp->nhops; h++)
        if (mp->hdom[h] == dom && mp->href[h] == ref)
            return true;
    return false;
}

uint32_t md_entry_maps(const struct md *m, const struct md_grant *g)
{
    uint32_t n = 0;

    for (unsigned i = 0; i < m->nmap; i++)
        n += map_uses(&m->map[i], g->dom, g->ref);
    return n;
}

uint32_t md_live_entries(const struct md *m, uint16_t d)
{
    uint32_t n = 0;

    for (unsigned i = 0; i < m->ng; i++)
        n += m->g[i].dom == d;
    return n;
}

uint64_t md_frames_used(const struct md *m, uint16_t d)
{
    uint64_t n = 0;

    for (unsigned i = 0; i < m->ng; i++)
        if (m->g[i].dom == d && m->g[i].type == GNTX_CREATE_DIRECT)
            n += m->g[i].nr_frames;
    return n;
}

uint32_t md_maps_held(const struct md *m, uint16_t d)
{
    uint32_t n = 0;

    for (unsigned i = 0; i < m->nmap; i++)
        n += m->map[i].mapper == d;
    return n;
}

/* KILL > NOTIFY > DENY > LOG: the actions are numbered DENY 0, NOTIFY 1,
 * KILL 2, LOG 3. */
static unsigned severity(unsigned action)
{
    return action == GNTX_ACT_LOG ? 0 : action + 1;
}

static uint64_t span_gfn(const struct md_span *sp, uint64_t pos)
{
    return sp->frames ? sp->frames[pos / MD_PG] : pos / MD_PG;
}

/* The access bit a fault record names: R, else W, else X. */
static uint8_t missing(unsigned need, unsigned allowed)
{
    unsigned miss = need & ~allowed;

    if (miss & GNTX_ACC_R)
        return GNTX_ACC_R;
    return miss & GNTX_ACC_W ? GNTX_ACC_W : GNTX_ACC_X;
}

/* May a KILL violation destroy `who`?  Never the control domain, nor a
 * domain that maps memory of a third domain (it serves that one too):
 * such a violation is denied and recorded as NOTIFY (issue 12 finding 5). */
static bool killable(const struct md *m, uint16_t who, uint16_t owner)
{
    if (who == GNTX_DOMID_CONTROL)
        return false;
    for (unsigned i = 0; i < m->nmap; i++)
        if (m->map[i].mapper == who && m->map[i].root != owner &&
            m->map[i].root != who)
            return false;
    return true;
}

/* May `who` make access `acc` (via `via`) to [pos, pos+len) of sp?  The
 * worst violation (the first page of the most severe action) goes to *eff,
 * not yet counted; 0 or -GNTX_EACCES. */
int md_prot_use(struct md *m, uint16_t who, const struct md_span *sp,
                uint64_t len, unsigned acc, unsigned via, struct md_eff *eff)
{
    const struct md_dom *o = &m->d[sp->dom];
    const struct md_prot *worst = NULL;
    uint64_t first = sp->pos / MD_PG, at = 0;
    unsigned action;

    if (!len)
        return 0;
    for (uint64_t p = first; p <= (sp->pos + len - 1) / MD_PG; p++) {
        uint64_t gfn = span_gfn(sp, p * MD_PG);
        const struct md_prot *pr = &o->prot[gfn];

        if (!pr->set || !(acc & ~(unsigned)pr->access))
            continue;
        if (worst && severity(pr->action) <= severity(worst->action))
            continue;
        worst = pr;
        at = gfn * MD_PG + (p == first ? sp->pos % MD_PG : 0);
    }
    if (!worst)
        return 0;
    action = worst->action;
    if (action == GNTX_ACT_KILL && !killable(m, who, sp->dom))
        action = GNTX_ACT_NOTIFY;
    eff->v[eff->n++] = (struct md_fault){
        who, sp->dom, action,       missing(acc, worst->access),
        via, at,      worst->cookie};
    return action == GNTX_ACT_LOG ? 0 : -GNTX_EACCES;
}

/* The ring page's fields, in the owner's memory (the shadow: the model
 * reads what the domain may have scribbled there, as the host does). */
static uint8_t *ring_at(struct md_dom *o, size_t field)
{
    return o->shadow + o->ring_gfn * MD_PG + field;
}

/* A record for the owner's ring: written, or dropped when the ring is
 * unbound or full (the consumer index is read from the page). */
static void record(struct md *m, const struct md_fault *f)
{
    struct md_dom *o = &m->d[f->owner];
    struct gntx_fault_rec r = {f->who,  f->access, f->action,    f->via,
                               f->addr, f->cookie, ++o->ring_seq};
    uint32_t cons, dropped;

    if (o->ring_gfn == GNTX_FAULT_RING_NONE) {
        o->dropped++;
        return;
    }
    memcpy(&cons, ring_at(o, offsetof(struct gntx_fault_ring_page, cons)), 4);
    if (o->ring_prod - cons >= GNTX_FAULT_RING_SLOTS) {
        size_t at = offsetof(struct gntx_fault_ring_page, dropped);

        memcpy(&dropped, ring_at(o, at), 4);
        dropped++;
        memcpy(ring_at(o, at), &dropped, 4);
        o->dropped++;
        m->st.dropped++;
        return;
    }
    memcpy(ring_at(o, offsetof(struct gntx_fault_ring_page, rec) +
                          (o->ring_prod % GNTX_FAULT_RING_SLOTS) * sizeof(r)),
           &r, sizeof(r));
    o->ring_prod++;
    memcpy(ring_at(o, offsetof(struct gntx_fault_ring_page, prod)),
           &o->ring_prod, 4);
    m->rings_due++;
    m->ring_port = o->ring_port;
    m->st.records++;
}

/* The violations of an element that was run: counted, recorded on the
 * owner's ring, KILL remembered. */
void md_eff_apply(struct md *m, const struct md_eff *eff)
{
    for (unsigned i = 0; i < eff->n; i++) {
        const struct md_fault *f = &eff->v[i];

        m->d[f->who].caused++;
        m->d[f->owner].by_action[f->action]++;
        if (f->action != GNTX_ACT_DENY)
            record(m, f);
        if (f->action == GNTX_ACT_KILL && f->who != GNTX_DOMID_CONTROL) {
            m->kills_due++;
            m->kill[f->who] = true;
        }
    }
}

/* Does the element log a violation (and still run)? */
bool md_eff_logs(const struct md_eff *eff)
{
    for (unsigned i = 0; i < eff->n; i++)
        if (eff->v[i].action == GNTX_ACT_LOG)
            return true;
    return false;
}

static uint8_t *shadow_at(struct md *m, const struct md_span *sp)
{
    return m->d[sp->dom].shadow + span_gfn(sp, sp->pos) * MD_PG +
           sp->pos % MD_PG;
}

static uint64_t page_left(uint64_t pos)
{
    return MD_PG - pos % MD_PG;
}

/* n bytes from src to dst, one page-bounded chunk at a time, each chunk as
 * memmove (grant_abi.h's rule for overlapping ends). */
void md_move(struct md *m, struct md_span src, struct md_span dst, uint64_t n)
{
    uint8_t tmp[GNTX_PAGE_SIZE];

    while (n) {
        uint64_t k = page_left(src.pos);

        if (page_left(dst.pos) < k)
            k = page_left(dst.pos);
        if (n < k)
            k = n;
        memcpy(tmp, shadow_at(m, &src), k);
        memcpy(shadow_at(m, &dst), tmp, k);
        src.pos += k;
        dst.pos += k;
        n -= k;
        m->st.bytes += k;
    }
}

void md_fill(struct md *m, struct md_span dst, uint64_t n, uint8_t value)
{
    while (n) {
        uint64_t k = page_left(dst.pos) < n ? page_left(dst.pos) : n;

        memset(shadow_at(m, &dst), value, k);
        dst.pos += k;
        n -= k;
        m->st.bytes += k;
    }
}

static void name_remember(struct md_name *ring, unsigned *n, uint16_t dom,
                          uint32_t inc, uint32_t name)
{
    ring[*n % MD_DEAD] = (struct md_name){dom, inc, name};
    ++*n;
}

/* Mapping i of the model is gone (UNMAP, FORCE revoke, a removal). */
void md_map_drop(struct md *m, unsigned i)
{
    struct md_map *mp = &m->map[i];

    name_remember(m->gone, &m->ngone, mp->mapper, m->d[mp->mapper].inc,
                  mp->handle);
    m->map[i] = m->map[--m->nmap];
}

/* A revoke that succeeds: every mapping through g goes with it. */
void md_revoke(struct md *m, struct md_grant *g)
{
    for (unsigned i = m->nmap; i-- > 0;)
        if (map_uses(&m->map[i], g->dom, g->ref))
            md_map_drop(m, i);
    name_remember(m->dead, &m->ndead, g->dom, m->d[g->dom].inc, g->ref);
    *g = m->g[--m->ng];
}

/* gcore_dom_remove: its mappings, its table (FORCE), its protections. */
void md_dom_remove(struct md *m, uint16_t d)
{
    for (unsigned i = m->nmap; i-- > 0;)
        if (m->map[i].mapper == d)
            md_map_drop(m, i);
    for (unsigned i = m->ng; i-- > 0;)
        if (m->g[i].dom == d)
            md_revoke(m, &m->g[i]);
    m->d[d].present = false;
    m->kill[d] = false;
    m->st.removals++;
}

/* What a mapping of a page protected with `access` may still do. */
static uint8_t map_limit(unsigned access)
{
    if (!(access & GNTX_ACC_R))
        return GNTX_ACC_NONE;
    return access & GNTX_ACC_W ? GNTX_ACC_RW : GNTX_ACC_R;
}

/* PROTECT of d's frames [gfn, gfn+nr): pages take the class (RWX lifts
 * it), and every mapping of them loses what the new access denies. */
void md_protect(struct md *m, uint16_t d, uint64_t gfn, uint64_t nr,
                unsigned access, unsigned action, uint64_t cookie)
{
    uint8_t lim = map_limit(access);

    for (uint64_t f = gfn; f < gfn + nr; f++) {
        struct md_prot pr = {1, (uint8_t)access, (uint8_t)action, cookie};

        m->d[d].prot[f] = access == GNTX_ACC_RWX ? (struct md_prot){0} : pr;
    }
    for (unsigned i = 0; i < m->nmap; i++) {
        struct md_map *mp = &m->map[i];

        for (unsigned j = 0; mp->root == d && j < mp->npages; j++)
            if (mp->frames[j] >= gfn && mp->frames[j] < gfn + nr &&
                lim < mp->limit[j])
                mp->limit[j] = lim;
    }
}
