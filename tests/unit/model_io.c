/* SPDX-License-Identifier: MIT */
/*
 * model_io.c: the ops that move bytes or map them: COPY and MEMSET
 * (vectored, local and grant ends, with the budget's continuations),
 * MAP, UNMAP and PROTECT, each predicted element by element.
 *
 * Continuations (grant_abi.h): an element the budget cuts short is
 * validated whole, moves a prefix and comes back -GNTX_EAGAIN with its
 * addresses advanced and len reduced by what moved; later elements come
 * back -GNTX_EAGAIN unchanged.  The test takes the prefix length from the
 * core's answer (checking it is consistent and within the budget), applies
 * exactly that prefix to the model, and resubmits what came back as
 * libgrant does, sometimes revoking a grant in between (the rest must then
 * fail).  PROTECT is treated the same way should it come back -GNTX_EAGAIN
 * with gfn advanced and nr reduced.
 */
#include <string.h>

#include "tests/unit/model.h"

/* One COPY or MEMSET element, as the test keeps it. */
struct xfer {
    struct gntx_ptr src, dst; /* src unused by MEMSET */
    uint64_t len;
    uint8_t value;
    int32_t status;
};

static bool kind_ok(uint8_t kind)
{
    return kind == GNTX_PTR_LOCAL || kind == GNTX_PTR_GRANT;
}

/* How the core dealt with an element, as its answer shows. */
enum fate {
    RAN,     /* validated (its violations counted), `done` bytes moved */
    SKIPPED, /* came back -GNTX_EAGAIN unchanged, not validated */
    UNSURE,  /* unchanged after the cut yet valid: validated or not */
};

struct xfer_el {
    int want;
    uint64_t n; /* the budget's share (valid elements) */
    bool again; /* came back -GNTX_EAGAIN */
    enum fate fate;
    uint64_t done;
    struct md_span s, t;
    struct md_eff eff;
};

/* One end: where its bytes are (no protection check yet). */
static int end_resolve(struct md *m, uint16_t caller, const struct gntx_ptr *p,
                       uint64_t len, unsigned need, struct md_span *sp)
{
    struct md_res res;
    int rc;

    if (p->kind == GNTX_PTR_LOCAL) {
        rc = md_window(p->addr, len, m->d[caller].nr_frames * MD_PG);
        if (rc)
            return rc == -GNTX_ERANGE ? -GNTX_EFAULT : rc;
        *sp = (struct md_span){caller, NULL, p->addr};
        return 0;
    }
    rc = md_resolve(m, caller, md_self(caller, p->dom), p->ref, p->addr, len,
                    need, &res);
    if (!rc)
        *sp = res.span;
    return rc;
}

/* Do the owner's protections allow `len` bytes of this end? */
static int end_prot(struct md *m, uint16_t caller, const struct gntx_ptr *p,
                    const struct md_span *sp, uint64_t len, unsigned acc,
                    struct md_eff *eff)
{
    unsigned via = p->kind == GNTX_PTR_LOCAL ? GNTX_VIA_SELF : GNTX_VIA_COPY;

    return md_prot_use(m, caller, sp, len, acc, via, eff);
}

/*
 * One element, in the core's order, with the budget left in the call:
 * kinds; each end resolved (and, with protections checked at validation,
 * its protections over the whole length); the budget's share `*n` taken;
 * with protections checked at the move (grant_abi.h since the PROTECT
 * budget), both ends' protections over those `*n` bytes only.
 */
static int xfer_check(struct md *m, uint16_t caller, bool ms,
                      const struct xfer *x, uint64_t *left, struct xfer_el *e)
{
    bool late = m->prot_at_move;
    int rc = 0;

    if (!kind_ok(x->dst.kind) || (!ms && !kind_ok(x->src.kind)))
        return -GNTX_EINVAL;
    if (!ms) {
        rc = end_resolve(m, caller, &x->src, x->len, GNTX_R_READ, &e->s);
        if (!rc && !late)
            rc = end_prot(m, caller, &x->src, &e->s, x->len, GNTX_ACC_R,
                          &e->eff);
    }
    if (!rc)
        rc = end_resolve(m, caller, &x->dst, x->len, GNTX_R_WRITE, &e->t);
    if (!rc && !late)
        rc = end_prot(m, caller, &x->dst, &e->t, x->len, GNTX_ACC_W, &e->eff);
    if (rc)
        return rc;
    e->n = x->len < *left ? x->len : *left;
    *left -= e->n;
    if (late && !ms)
        rc = end_prot(m, caller, &x->src, &e->s, e->n, GNTX_ACC_R, &e->eff);
    if (late && !rc)
        rc = end_prot(m, caller, &x->dst, &e->t, e->n, GNTX_ACC_W, &e->eff);
    return rc;
}

/* b is a advanced by `done` bytes. */
static bool ptr_adv(const struct gntx_ptr *a, const struct gntx_ptr *b,
                    uint64_t done)
{
    return a->kind == b->kind && a->dom == b->dom && a->ref == b->ref &&
           b->addr == a->addr + done;
}

static void xfer_apply(struct md *m, bool ms, const struct xfer *x,
                       struct md_span s, struct md_span t, uint64_t n)
{
    if (ms)
        md_fill(m, t, n, x->value);
    else
        md_move(m, s, t, n);
}

/* What one call did. */
struct xfer_sum {
    uint64_t left;  /* of the call's budget */
    bool cut;       /* an element came back -GNTX_EAGAIN */
    uint64_t moved; /* bytes, all elements */
    unsigned ok;
};

static bool unchanged(const struct xfer *o, const struct xfer *x)
{
    return x->status == -GNTX_EAGAIN &&
           !memcmp(o, x, offsetof(struct xfer, status));
}

/* An element the core accepted: done, or cut short by the budget after
 * the `n` bytes the budget gave it. */
static void xfer_taken(struct md *m, bool ms, unsigned i, const struct xfer *o,
                       const struct xfer *x, struct xfer_sum *sum,
                       struct xfer_el *e)
{
    int want = e->n == o->len ? 0 : -GNTX_EAGAIN;

    MD_CHECK(m, x->status == want, "element %u: %d, model %d (%llu of %llu)", i,
             x->status, want, (unsigned long long)e->n,
             (unsigned long long)o->len);
    e->done = e->n;
    if (!want) {
        sum->ok++;
    } else {
        MD_CHECK(m,
                 x->len == o->len - e->n && ptr_adv(&o->dst, &x->dst, e->n) &&
                     (ms || ptr_adv(&o->src, &x->src, e->n)),
                 "element %u continued wrongly: len %llu -> %llu, model %llu",
                 i, (unsigned long long)o->len, (unsigned long long)x->len,
                 (unsigned long long)(o->len - e->n));
        e->fate = sum->cut ? UNSURE : RAN;
        e->again = sum->cut = true;
    }
    sum->moved += e->done;
}

/* Pass 1: the model's answer to element i against the core's. */
static void xfer_judge(struct md *m, uint16_t caller, bool ms, unsigned i,
                       const struct xfer *o, const struct xfer *x,
                       struct xfer_sum *sum, struct xfer_el *e)
{
    memset(e, 0, sizeof(*e));
    e->want = xfer_check(m, caller, ms, o, &sum->left, e);
    md_trace(m,
             "  [%u] src %u:%u:%#x+%#llx dst %u:%u:%#x+%#llx len %llu -> "
             "%d (model %d) left %llu",
             i, o->src.kind, o->src.dom, o->src.ref,
             (unsigned long long)o->src.addr, o->dst.kind, o->dst.dom,
             o->dst.ref, (unsigned long long)o->dst.addr,
             (unsigned long long)o->len, x->status, e->want,
             (unsigned long long)x->len);
    md_count(m, x->status);
    if (!e->want) {
        xfer_taken(m, ms, i, o, x, sum, e);
        return;
    }
    MD_CHECK(m, x->status == e->want || (sum->cut && unchanged(o, x)),
             "element %u: %d, model %d", i, x->status, e->want);
    e->fate = x->status == e->want ? RAN : SKIPPED;
    e->again = e->fate == SKIPPED;
}

/* Pass 2: were the elements after the cut validated?  grant_abi.h allows
 * both; a refused one answering its error says yes, else the caller's
 * `caused` count tells whether their LOG violations counted. */
static void xfer_settle_unsure(struct md *m, uint16_t caller, struct xfer_el *e,
                               unsigned n)
{
    struct gntx_fault_stats s = {.dom = caller};
    uint64_t ran = 0, unsure = 0;
    bool validated = false, cut = false;

    for (unsigned i = 0; i < n; i++) {
        ran += e[i].fate == RAN ? e[i].eff.n : 0;
        unsure += e[i].fate == UNSURE ? e[i].eff.n : 0;
        validated |= cut && e[i].fate == RAN && e[i].want;
        cut |= e[i].again;
    }
    if (unsure && !validated) {
        MD_CHECK(m, gcore_fault_stats(m->c, GNTX_DOMID_CONTROL, &s) == 0,
                 "stats");
        validated = s.caused == m->d[caller].caused + ran + unsure;
        MD_CHECK(m, validated || s.caused == m->d[caller].caused + ran,
                 "dom %u caused %llu, model %llu (+%llu unsure)", caller,
                 (unsigned long long)s.caused,
                 (unsigned long long)(m->d[caller].caused + ran),
                 (unsigned long long)unsure);
    }
    for (unsigned i = 0; i < n; i++)
        if (e[i].fate == UNSURE)
            e[i].fate = validated ? RAN : SKIPPED;
}

static void xfer_pack(bool ms, const struct xfer *x, unsigned n,
                      struct gntx_copy *cv, struct gntx_memset *sv)
{
    for (unsigned i = 0; i < n; i++) {
        if (ms)
            sv[i] = (struct gntx_memset){.dst = x[i].dst,
                                         .len = x[i].len,
                                         .value = x[i].value,
                                         .status = MD_STATUS_UNSET};
        else
            cv[i] = (struct gntx_copy){.src = x[i].src,
                                       .dst = x[i].dst,
                                       .len = x[i].len,
                                       .status = MD_STATUS_UNSET};
    }
}

static void xfer_unpack(bool ms, struct xfer *x, unsigned n,
                        const struct gntx_copy *cv,
                        const struct gntx_memset *sv)
{
    for (unsigned i = 0; i < n; i++) {
        x[i].dst = ms ? sv[i].dst : cv[i].dst;
        x[i].len = ms ? sv[i].len : cv[i].len;
        x[i].status = ms ? sv[i].status : cv[i].status;
        if (!ms)
            x[i].src = cv[i].src;
    }
}

/* One call; returns how many elements came back to be resubmitted (they
 * are moved to the front of x). */
static unsigned xfer_call(struct md *m, uint16_t caller, bool ms,
                          struct xfer *x, unsigned n)
{
    struct gntx_copy cv[MD_BATCH];
    struct gntx_memset sv[MD_BATCH];
    struct xfer o[MD_BATCH];
    struct xfer_el e[MD_BATCH];
    struct xfer_sum sum = {.left = m->budget};
    unsigned left = 0;
    struct md_call c = {GNTX_OP_COPY, cv, n, sizeof(*cv),
                        offsetof(struct gntx_copy, status)};

    if (ms)
        c = (struct md_call){GNTX_OP_MEMSET, sv, n, sizeof(*sv),
                             offsetof(struct gntx_memset, status)};
    memcpy(o, x, n * sizeof(*x));
    xfer_pack(ms, x, n, cv, sv);
    if (!md_send(m, caller, &c, 0))
        return 0;
    xfer_unpack(ms, x, n, cv, sv);
    for (unsigned i = 0; i < n; i++)
        xfer_judge(m, caller, ms, i, &o[i], &x[i], &sum, &e[i]);
    xfer_settle_unsure(m, caller, e, n);
    for (unsigned i = 0; i < n; i++) {
        if (e[i].fate != RAN)
            continue;
        md_eff_apply(m, &e[i].eff); /* records come before the bytes */
        xfer_apply(m, ms, &o[i], e[i].s, e[i].t, e[i].done);
    }
    MD_CHECK(m, c.rc == (long)sum.ok, "returned %ld, model %u", c.rc, sum.ok);
    MD_CHECK(m, sum.moved <= m->budget, "moved %llu, budget %llu",
             (unsigned long long)sum.moved, (unsigned long long)m->budget);
    m->st.cut_calls += sum.cut;
    md_settle(m);
    for (unsigned i = 0; i < n; i++)
        if (x[i].status == -GNTX_EAGAIN)
            x[left++] = x[i];
    MD_CHECK(m, sum.moved || left < n,
             "a call that moved nothing and finished nothing");
    return left;
}

/* Between two continuations: the grant of an end goes, FORCE. */
static void interleave(struct md *m, const struct xfer *x)
{
    const struct gntx_ptr *p = md_pct(m, 50) ? &x->src : &x->dst;
    struct gntx_revoke v = {.ref = p->ref, .flags = GNTX_REVOKE_FORCE};

    if (p->kind != GNTX_PTR_GRANT || !md_grant_find(m, p->dom, p->ref))
        return;
    m->st.interleaved++;
    md_revoke_run(m, p->dom, &v, 1);
}

static void xfer_run(struct md *m, uint16_t caller, bool ms, struct xfer *x,
                     unsigned n)
{
    for (unsigned round = 0; n; round++) {
        MD_CHECK(m, round < 100000, "continuations without end");
        n = xfer_call(m, caller, ms, x, n);
        m->st.resubmits += n != 0;
        if (n && md_pct(m, 10))
            interleave(m, &x[0]);
    }
}

/* One end for `caller` needing `need`; *limit: how far its window goes. */
static void fill_ptr(struct md *m, uint16_t caller, unsigned need,
                     struct gntx_ptr *p, uint64_t *limit)
{
    unsigned r = (unsigned)md_below(m, 100);
    struct md_grant *g = md_pick_grant(m, caller, need);

    if (!g || md_pct(m, 5))
        g = md_pick_grant(m, MD_ANY, need); /* not ours: EPERM */
    *limit = MD_PG;
    if (r < 40 || (r < 92 && !g)) {
        *p = (struct gntx_ptr){.kind = GNTX_PTR_LOCAL};
        *limit = m->d[caller].nr_frames * MD_PG;
    } else if (r < 92) {
        *p = (struct gntx_ptr){
            .kind = GNTX_PTR_GRANT, .dom = g->dom, .ref = g->ref};
        *limit = g->length;
    } else if (r < 94) {
        struct md_grant *own = md_pick_grant(m, MD_ANY, 0);

        /* DOMID_SELF: the caller's own table; it is no grantee there. */
        *p = (struct gntx_ptr){.kind = GNTX_PTR_GRANT,
                               .dom = GNTX_DOMID_SELF,
                               .ref = own && own->dom == caller ? own->ref : 0};
    } else if (r < 96) {
        uint16_t d = md_pick_dom(m);

        *p = (struct gntx_ptr){
            .kind = GNTX_PTR_GRANT, .dom = d, .ref = md_pick_dead(m, d)};
    } else if (r < 98) {
        *p = (struct gntx_ptr){.kind = GNTX_PTR_GRANT,
                               .dom = (uint16_t)(MD_NDOM + md_below(m, 3)),
                               .ref = gntx_ref_make(0, 1)};
    } else {
        *p = (struct gntx_ptr){.kind = (uint8_t)(2 + md_below(m, 3))};
    }
}

static void fill_addr(struct md *m, struct gntx_ptr *p, uint64_t limit,
                      uint64_t len)
{
    unsigned r = (unsigned)md_below(m, 100);

    if (r < 76)
        p->addr = limit >= len ? md_below(m, limit - len + 1) : 0;
    else if (r < 86) /* ending at the window's end, or one byte past it */
        p->addr = limit + 1 >= len ? limit - len + md_below(m, 2) : 0;
    else if (r < 98)
        p->addr = md_below(m, limit + MD_PG);
    else
        p->addr = UINT64_MAX - md_below(m, MD_PG);
}

static void fill_xfer(struct md *m, uint16_t caller, bool ms, struct xfer *x)
{
    uint64_t ls = UINT64_MAX, lt, lim;
    unsigned r = (unsigned)md_below(m, 100);

    memset(x, 0, sizeof(*x));
    if (!ms)
        fill_ptr(m, caller, GNTX_R_READ, &x->src, &ls);
    fill_ptr(m, caller, GNTX_R_WRITE, &x->dst, &lt);
    lim = ls < lt ? ls : lt;
    if (r < 3)
        x->len = 0;
    else if (r < 38)
        x->len = 1 + md_below(m, lim < 64 ? lim : 64);
    else if (r < 78)
        x->len = 1 + md_below(m, lim < 2 * MD_PG ? lim : 2 * MD_PG);
    else
        x->len = 1 + md_below(m, lim);
    if (!ms)
        fill_addr(m, &x->src, ls, x->len);
    fill_addr(m, &x->dst, lt, x->len);
    x->value = (uint8_t)md_rand(m);
    if (!ms && md_pct(m, 8)) { /* both ends over the same bytes */
        x->dst = x->src;
        x->dst.addr += md_below(m, 128);
        x->dst.addr -= x->dst.addr >= 64 ? 64 : 0;
    }
}

void md_op_xfer(struct md *m, bool ms)
{
    struct xfer x[MD_BATCH];
    struct md_grant *g =
        md_pick_grant(m, MD_ANY, ms ? GNTX_R_WRITE : GNTX_R_READ);
    uint16_t caller = md_pick_dom(m);
    unsigned n = 1 + (unsigned)md_below(m, MD_BATCH);

    if (g && md_present(m, g->grantee) && md_pct(m, 85))
        caller = g->grantee;
    for (unsigned i = 0; i < n; i++)
        fill_xfer(m, caller, ms, &x[i]);
    xfer_run(m, caller, ms, x, n);
}

/*
 * Where the core checks a copy's page protections: at validation, each
 * end over the whole element (0), or as the bytes move, over what each
 * call moves, after both ends are resolved (1; grant_abi.h since the
 * PROTECT budget).  A copy from a denied page to a ref that was never
 * issued tells them apart: EACCES, or ENOENT.  -1: neither.
 */
int md_prot_placement(void)
{
    struct th_dom *a = th_dom_new(1), *b = th_dom_new(1);
    struct gntx_protect p = {.nr = 1, .access = GNTX_ACC_NONE};
    struct gntx_create g = {.type = GNTX_CREATE_DIRECT,
                            .grantee = 1,
                            .rights = GNTX_R_READ,
                            .nr_frames = 1,
                            .length = 16};
    struct gntx_copy v = {.len = 16};
    uint64_t frame = 0;
    struct gcore *c;

    if (!a || !b || gcore_create(&c))
        return -1;
    gcore_dom_add(c, 0, 1, a);
    gcore_dom_add(c, 1, 1, b);
    gcore_protect(c, 0, &p, 1);
    gcore_grant_create(c, 0, &g, 1, &frame, 1);
    v.src = (struct gntx_ptr){.kind = GNTX_PTR_GRANT, .dom = 0, .ref = g.ref};
    v.dst = (struct gntx_ptr){.kind = GNTX_PTR_GRANT, .ref = 5};
    gcore_copy(c, 1, &v, 1);
    gcore_destroy(c);
    th_dom_free(a);
    th_dom_free(b);
    th_reset();
    return v.status == -GNTX_EACCES ? 0 : v.status == -GNTX_ENOENT ? 1 : -1;
}

/* A 1-byte read through (dom, ref) by `user`, into its own memory. */
void md_probe_use(struct md *m, uint16_t dom, uint32_t ref, uint16_t user)
{
    struct xfer x = {
        .src = {.kind = GNTX_PTR_GRANT, .dom = dom, .ref = ref},
        .dst = {.kind = GNTX_PTR_LOCAL},
        .len = 1,
    };

    if (md_present(m, user))
        xfer_run(m, user, false, &x, 1);
}

/* ---- MAP / UNMAP ---- */

static int map_check(struct md *m, uint16_t caller, const struct gntx_map *v,
                     uint64_t naux, struct md_res *res, struct md_eff *eff)
{
    bool ro = v->flags & GNTX_MAP_RDONLY;
    unsigned need = GNTX_R_MAP | GNTX_R_READ | (ro ? 0 : GNTX_R_WRITE);
    int rc;

    if (v->flags & ~GNTX_MAP_RDONLY)
        return -GNTX_EINVAL;
    if (!v->length || ((v->offset | v->length) & (MD_PG - 1)))
        return -GNTX_EINVAL;
    if (v->frame_idx + v->length / MD_PG > naux)
        return -GNTX_EINVAL;
    rc = md_resolve(m, caller, md_self(caller, v->dom), v->ref, v->offset,
                    v->length, need, res);
    if (rc)
        return rc;
    if (res->span.pos & (MD_PG - 1))
        return -GNTX_EINVAL;
    rc = md_prot_use(m, caller, &res->span, v->length,
                     ro ? GNTX_ACC_R : GNTX_ACC_RW, GNTX_VIA_MAP, eff);
    if (rc)
        return rc;
    if (md_maps_held(m, caller) >= m->d[caller].max_maps)
        return -GNTX_ENOSPC;
    return 0;
}

static void map_made(struct md *m, uint16_t caller, const struct gntx_map *v,
                     const struct md_res *res, const uint64_t *aux)
{
    struct md_map mp = {.mapper = caller,
                        .root = res->span.dom,
                        .handle = v->handle,
                        .rdonly = v->flags & GNTX_MAP_RDONLY,
                        .npages = (uint32_t)(v->length / MD_PG),
                        .nhops = res->nhops};

    for (unsigned j = 0; j < mp.npages; j++) {
        mp.frames[j] = res->span.frames[res->span.pos / MD_PG + j];
        mp.limit[j] = mp.rdonly ? GNTX_ACC_R : GNTX_ACC_RW;
        MD_CHECK(m, aux[v->frame_idx + j] == mp.frames[j],
                 "MAP page %u: frame %llu, model %llu", j,
                 (unsigned long long)aux[v->frame_idx + j],
                 (unsigned long long)mp.frames[j]);
    }
    memcpy(mp.hdom, res->hdom, sizeof(mp.hdom));
    memcpy(mp.href, res->href, sizeof(mp.href));
    MD_CHECK(m, v->handle && v->root_dom == mp.root,
             "MAP handle %#x root %u, model root %u", v->handle, v->root_dom,
             mp.root);
    MD_CHECK(m, !md_handle_reused(m, caller, v->handle),
             "dom %u got handle %#x again", caller, v->handle);
    MD_CHECK(m, m->nmap < MD_MAPS, "model: map list full");
    m->map[m->nmap++] = mp;
    md_host_add(m, &mp);
}

static bool map_aux_ok(const struct gntx_map *v, unsigned n, uint64_t naux)
{
    for (unsigned i = 0; i < n; i++)
        if (v[i].frame_idx + (v[i].length >> GNTX_PAGE_SHIFT) > naux)
            return false;
    return true;
}

static void map_run(struct md *m, uint16_t caller, struct gntx_map *v,
                    unsigned n, uint64_t naux)
{
    uint64_t aux[MD_BATCH * MD_GF];
    struct md_call c = {
        GNTX_OP_MAP, v,   n, sizeof(*v), offsetof(struct gntx_map, status),
        aux,         naux};
    unsigned long made = th_map_made();
    long refuse = md_pct(m, 4) ? (long)md_below(m, 2) : -1;
    unsigned ok = 0, refused = 0;
    bool sent;

    if (refuse >= 0)
        m->alloc_fail = -1;   /* one kind of ENOMEM per call */
    th_fail_map_made(refuse); /* the host refuses the (refuse+1)th */
    sent = md_send(m, caller, &c, map_aux_ok(v, n, naux) ? 0 : -GNTX_EINVAL);
    th_fail_map_made(-1);
    if (!sent)
        return;
    for (unsigned i = 0; i < n; i++) {
        struct md_eff eff = {0};
        struct md_res res;
        int want = map_check(m, caller, &v[i], naux, &res, &eff);

        if (md_oom(m, v[i].status, want, -GNTX_ENOMEM))
            want = -GNTX_ENOMEM;
        if (!want && refuse >= 0 && refuse-- == 0) {
            want = -GNTX_ENOMEM; /* gh_map_made said no: undone */
            refused++;
        }

        md_trace(m,
                 "  [%u] %u:%#x [%#llx,+%#llx) flags %u -> %d (model %d) "
                 "handle %#x",
                 i, v[i].dom, v[i].ref, (unsigned long long)v[i].offset,
                 (unsigned long long)v[i].length, v[i].flags, v[i].status, want,
                 v[i].handle);
        md_count(m, v[i].status);
        MD_CHECK(m, v[i].status == want, "MAP element %u: %d, model %d", i,
                 v[i].status, want);
        md_eff_apply(m, &eff);
        if (want) {
            MD_CHECK(m, !v[i].handle && v[i].root_dom == GNTX_DOMID_INVALID,
                     "failed MAP element %u has handle %#x", i, v[i].handle);
            continue;
        }
        map_made(m, caller, &v[i], &res, aux);
        ok++;
    }
    MD_CHECK(m, c.rc == (long)ok && th_map_made() - made == ok + refused,
             "MAP returned %ld, gh_map_made %lu times, model %u + %u", c.rc,
             th_map_made() - made, ok, refused);
    md_settle(m);
}

static void fill_map(struct md *m, const struct md_grant *g, struct gntx_map *v,
                     uint64_t *naux)
{
    uint64_t pages = g->length / MD_PG;

    v->dom = g->dom;
    v->ref = md_pct(m, 5) ? md_pick_dead(m, g->dom) : g->ref;
    v->flags = md_pct(m, 45) ? GNTX_MAP_RDONLY : 0;
    if (!(g->rights & GNTX_R_WRITE) && md_pct(m, 80))
        v->flags = GNTX_MAP_RDONLY;
    if (md_pct(m, 2))
        v->flags = 2;
    if (pages && md_pct(m, 85)) {
        uint64_t first = md_below(m, pages), room = pages - first;

        v->offset = first * MD_PG;
        v->length = (1 + md_below(m, room < MD_GF ? room : MD_GF)) * MD_PG;
    } else if (pages && md_pct(m, 40)) { /* up to the end, or a page on */
        v->offset = md_below(m, pages) * MD_PG;
        v->length = (pages + md_below(m, 2)) * MD_PG - v->offset;
    } else {
        v->offset = md_below(m, g->length + MD_PG);
        if (md_pct(m, 50))
            v->offset &= ~(MD_PG - 1);
        v->length = md_pct(m, 50) ? MD_PG * (1 + md_below(m, 2))
                                  : 1 + md_below(m, 2 * MD_PG);
    }
    v->frame_idx = *naux;
    *naux += v->length / MD_PG;
}

/* A grant whose window starts on a page of its frames (mappable). */
static struct md_grant *pick_mappable(struct md *m, uint16_t grantee)
{
    unsigned want = GNTX_R_MAP | GNTX_R_READ;
    struct md_grant *g = NULL;

    for (unsigned k = 0; k < 6; k++) {
        struct md_res res;

        g = md_pick_grant(m, grantee, want);
        if (!g || (md_resolve(m, g->grantee, g->dom, g->ref, 0, g->length, want,
                              &res) == 0 &&
                   !(res.span.pos % MD_PG)))
            break;
    }
    return g;
}

void md_op_map(struct md *m)
{
    struct gntx_map v[2];
    unsigned n = 0;
    struct md_grant *g = pick_mappable(m, MD_ANY);
    uint16_t caller = md_pick_dom(m);
    uint64_t naux = 0;

    if (!g)
        return;
    if (md_present(m, g->grantee) && md_pct(m, 88))
        caller = g->grantee;
    memset(v, 0, sizeof(v));
    for (unsigned i = 1 + (unsigned)md_below(m, 2); n < i && g; n++) {
        fill_map(m, g, &v[n], &naux);
        g = pick_mappable(m, caller);
    }
    if (naux && md_pct(m, 3))
        naux--;
    m->alloc_fail = md_pct(m, 4) ? (long)md_below(m, 3) : -1;
    map_run(m, caller, v, n, naux);
}

static int map_find(const struct md *m, uint16_t mapper, uint32_t handle)
{
    for (unsigned i = 0; i < m->nmap; i++)
        if (m->map[i].mapper == mapper && m->map[i].handle == handle)
            return (int)i;
    return -1;
}

void md_unmap_run(struct md *m, uint16_t caller, struct gntx_unmap *v,
                  unsigned n)
{
    struct md_call c = {GNTX_OP_UNMAP, v, n, sizeof(*v),
                        offsetof(struct gntx_unmap, status)};
    unsigned ok = 0;

    if (!md_send(m, caller, &c, 0))
        return;
    for (unsigned i = 0; i < n; i++) {
        int at = map_find(m, caller, v[i].handle);
        int want = at >= 0 ? 0 : md_missing(v[i].handle);

        md_trace(m, "  [%u] handle %#x -> %d (model %d)", i, v[i].handle,
                 v[i].status, want);
        md_count(m, v[i].status);
        MD_CHECK(m, v[i].status == want, "UNMAP element %u: %d, model %d", i,
                 v[i].status, want);
        if (at < 0)
            continue;
        md_map_drop(m, (unsigned)at);
        md_host_unmap(m, caller, v[i].handle); /* the mapper's own unmap */
        ok++;
    }
    MD_CHECK(m, c.rc == (long)ok, "UNMAP returned %ld, model %u", c.rc, ok);
    md_settle(m);
}

/* A dropped handle of `mapper` in its current life, or a made-up one. */
static uint32_t pick_gone(struct md *m, uint16_t mapper)
{
    unsigned n = m->ngone < MD_DEAD ? m->ngone : MD_DEAD;

    for (unsigned i = 0; i < n; i++) {
        const struct md_name *x = &m->gone[(i + m->ngone) % n];

        if (x->dom == mapper && x->inc == m->d[mapper].inc)
            return x->name;
    }
    return gntx_ref_make((uint32_t)md_below(m, 1u << 17), 0);
}

void md_op_unmap(struct md *m)
{
    struct gntx_unmap v[2];
    const struct md_map *mp = m->nmap ? &m->map[md_below(m, m->nmap)] : NULL;
    uint16_t caller = mp && md_pct(m, 92) ? mp->mapper : md_pick_dom(m);
    unsigned n = 1 + (unsigned)md_below(m, 2);

    for (unsigned i = 0; i < n; i++) {
        const struct md_map *k = m->nmap ? &m->map[md_below(m, m->nmap)] : NULL;

        v[i].handle = pick_gone(m, caller);
        if (i == 0 && mp && mp->mapper == caller && md_pct(m, 85))
            v[i].handle = mp->handle;
        else if (k && k->mapper == caller && md_pct(m, 70))
            v[i].handle = k->handle;
    }
    md_unmap_run(m, caller, v, n);
}

/* ---- PROTECT ---- */

static bool access_ok(unsigned a)
{
    return a == GNTX_ACC_NONE || a == GNTX_ACC_R || a == GNTX_ACC_RW ||
           a == GNTX_ACC_RX || a == GNTX_ACC_RWX;
}

static int protect_check(const struct md *m, uint16_t caller,
                         const struct gntx_protect *v)
{
    uint64_t end, ring = m->d[caller].ring_gfn;

    if (!v->nr || v->flags || !access_ok(v->access) || v->action > GNTX_ACT_MAX)
        return -GNTX_EINVAL;
    if (__builtin_add_overflow(v->gfn, v->nr, &end))
        return -GNTX_EOVERFLOW;
    if (end > m->d[caller].nr_frames)
        return -GNTX_EFAULT;
    if (v->access != GNTX_ACC_RWX && ring >= v->gfn && ring < end)
        return -GNTX_EBUSY; /* the ring page stays RW */
    return 0;
}

/* One element's answer; true when it came back to be resubmitted. */
static bool protect_elem(struct md *m, uint16_t caller, unsigned i,
                         const struct gntx_protect *o,
                         const struct gntx_protect *v)
{
    int want = protect_check(m, caller, o);
    uint64_t done = v->gfn - o->gfn;

    if (md_oom(m, v->status, want, -GNTX_ENOSPC))
        want = -GNTX_ENOSPC; /* no memory for the bookkeeping */

    md_trace(m,
             "  [%u] [%llu,+%llu) acc %u act %u cookie %llu -> %d "
             "(model %d)",
             i, (unsigned long long)o->gfn, (unsigned long long)o->nr,
             o->access, o->action, (unsigned long long)o->cookie, v->status,
             want);
    md_count(m, v->status);
    if (want || v->status == 0) {
        MD_CHECK(m, v->status == want, "PROTECT element %u: %d, model %d", i,
                 v->status, want);
        if (!want)
            md_protect(m, caller, o->gfn, o->nr, o->access, o->action,
                       o->cookie);
        return false;
    }
    MD_CHECK(m,
             v->status == -GNTX_EAGAIN && v->gfn >= o->gfn && v->nr &&
                 v->gfn + v->nr == o->gfn + o->nr && v->access == o->access &&
                 v->action == o->action && v->cookie == o->cookie,
             "PROTECT element %u: %d (gfn %llu nr %llu), model 0", i, v->status,
             (unsigned long long)v->gfn, (unsigned long long)v->nr);
    md_protect(m, caller, o->gfn, done, o->access, o->action, o->cookie);
    return true;
}

static void protect_run(struct md *m, uint16_t caller, struct gntx_protect *v,
                        unsigned n)
{
    for (unsigned round = 0; n; round++) {
        struct gntx_protect o[MD_BATCH];
        struct md_call c = {GNTX_OP_PROTECT, v, n, sizeof(*v),
                            offsetof(struct gntx_protect, status)};
        unsigned ok = 0, left = 0;

        MD_CHECK(m, round < 10000, "PROTECT continuations without end");
        memcpy(o, v, n * sizeof(*v));
        if (!md_send(m, caller, &c, 0))
            return;
        for (unsigned i = 0; i < n; i++) {
            if (protect_elem(m, caller, i, &o[i], &v[i]))
                v[left++] = v[i];
            else
                ok += v[i].status == 0;
        }
        MD_CHECK(m, c.rc == (long)ok, "PROTECT returned %ld, model %u", c.rc,
                 ok);
        md_settle(m);
        n = left;
        m->st.resubmits += n != 0;
    }
}

void md_protect_lift(struct md *m, uint16_t d)
{
    struct gntx_protect v = {
        .gfn = 0, .nr = m->d[d].nr_frames, .access = GNTX_ACC_RWX};

    protect_run(m, d, &v, 1);
}

static void fill_protect(struct md *m, uint16_t caller, struct gntx_protect *v)
{
    static const uint8_t acc[] = {GNTX_ACC_NONE, GNTX_ACC_R, GNTX_ACC_RW,
                                  GNTX_ACC_RX};
    uint64_t nf = m->d[caller].nr_frames;
    unsigned r = (unsigned)md_below(m, 100), a = (unsigned)md_below(m, 100);

    memset(v, 0, sizeof(*v));
    v->gfn = md_below(m, nf);
    v->nr = 1 + md_below(m, nf - v->gfn);
    for (unsigned i = 0; i < m->nmap && md_pct(m, 60); i++) {
        const struct md_map *mp = &m->map[(i + r) % m->nmap];

        if (mp->root == caller) { /* pages someone has mapped */
            v->gfn = mp->frames[md_below(m, mp->npages)];
            v->nr = 1 + md_below(m, nf - v->gfn < 3 ? nf - v->gfn : 3);
            break;
        }
    }
    if (r < 3)
        v->nr = 0;
    else if (r < 5)
        v->nr = nf - v->gfn + 1;
    else if (r < 6)
        v->gfn = UINT64_MAX - 1;
    if (m->d[caller].ring_gfn != GNTX_FAULT_RING_NONE && md_pct(m, 8))
        v->gfn = m->d[caller].ring_gfn; /* EBUSY unless lifting */
    v->access = md_pct(m, 30) ? GNTX_ACC_RWX : acc[md_below(m, 4)];
    if (md_pct(m, 2))
        v->access = md_pct(m, 50) ? GNTX_ACC_W : 8;
    v->action = a < 35   ? GNTX_ACT_DENY
                : a < 55 ? GNTX_ACT_NOTIFY
                : a < 96 ? GNTX_ACT_LOG
                : a < 99 ? GNTX_ACT_KILL
                         : GNTX_ACT_MAX + 1;
    v->cookie = 1 + md_below(m, 3);
    v->flags = md_pct(m, 1);
}

void md_op_protect(struct md *m)
{
    struct gntx_protect v[MD_BATCH];
    uint16_t caller = md_pick_dom(m);
    unsigned n = 1 + (unsigned)md_below(m, 3);

    for (unsigned i = 0; i < n; i++)
        fill_protect(m, caller, &v[i]);
    m->alloc_fail = md_pct(m, 4) ? (long)md_below(m, 3) : -1;
    protect_run(m, caller, v, n);
}

/* ---- FAULT_RING ---- */

static int ring_check(const struct md *m, uint16_t caller,
                      const struct gntx_fault_ring *r)
{
    const struct md_dom *x = &m->d[caller];

    if (r->flags || (r->gfn != GNTX_FAULT_RING_NONE && !r->port))
        return -GNTX_EINVAL;
    if (r->gfn == GNTX_FAULT_RING_NONE)
        return 0;
    if (r->gfn >= x->nr_frames)
        return -GNTX_EFAULT;
    return x->prot[r->gfn].set ? -GNTX_EBUSY : 0;
}

/* Binds the caller's fault ring somewhere in its memory (or unbinds it):
 * the host initialises the page's header and records; records go there
 * from now on, the domain's own scribbles on the page included. */
void md_op_ring(struct md *m)
{
    uint16_t caller = md_pick_dom(m);
    struct md_dom *x = &m->d[caller];
    struct gntx_fault_ring r = {.gfn = md_below(m, x->nr_frames),
                                .port = 1 + (uint32_t)md_below(m, 8)};
    uint32_t slots = GNTX_FAULT_RING_SLOTS;
    int want;
    long rc;

    if (md_pct(m, 15))
        r.gfn = GNTX_FAULT_RING_NONE;
    else if (md_pct(m, 3))
        r.gfn = x->nr_frames + md_below(m, 2);
    r.port = md_pct(m, 2) ? 0 : r.port;
    r.flags = md_pct(m, 2);
    rc = gcore_hypercall(m->c, caller, GNTX_OP_FAULT_RING, &r, 1, NULL, 0);
    want = ring_check(m, caller, &r);
    md_trace(m,
             "op %llu: dom %u FAULT_RING gfn %#llx port %u -> %ld (model %d)",
             (unsigned long long)m->op, caller, (unsigned long long)r.gfn,
             r.port, rc, want);
    MD_CHECK(m, rc == want, "FAULT_RING returned %ld, model %d", rc, want);
    if (!want && r.gfn != GNTX_FAULT_RING_NONE) {
        uint8_t *page = x->shadow + r.gfn * MD_PG;

        memset(page, 0, sizeof(struct gntx_fault_ring_page));
        memcpy(page + offsetof(struct gntx_fault_ring_page, slots), &slots, 4);
        x->ring_port = r.port;
        x->ring_prod = 0;
    }
    if (!want)
        x->ring_gfn = r.gfn;
    md_settle(m);
}

/* ---- a CPU access the host is about to allow (Xen: a p2m fault) ---- */

/* gcore_prot_cpu_check(who, owner, gfn, access), as grant_abi.h and
 * gcore.h say: checked like a copy of the whole page (GNTX_VIA_CPU). */
static int cpu_want(struct md *m, uint16_t who, uint16_t owner, uint64_t gfn,
                    unsigned access, struct md_eff *eff)
{
    struct md_span sp = {owner, NULL, gfn * MD_PG};
    const struct md_prot *pr;

    if (!md_present(m, owner) || gfn >= m->d[owner].nr_frames)
        return 0;
    pr = &m->d[owner].prot[gfn];
    if (!md_present(m, who)) /* nobody to charge: refused, not recorded */
        return pr->set && (access & ~(unsigned)pr->access) ? -GNTX_EACCES : 0;
    return md_prot_use(m, who, &sp, MD_PG, access, GNTX_VIA_CPU, eff);
}

void md_op_cpu(struct md *m)
{
    static const uint8_t acc[] = {GNTX_ACC_R, GNTX_ACC_W, GNTX_ACC_RW,
                                  GNTX_ACC_X, GNTX_ACC_RWX};
    uint16_t who = md_pct(m, 95) ? md_pick_dom(m) : MD_NDOM;
    uint16_t owner = md_pct(m, 97) ? md_pick_dom(m) : MD_NDOM + 1;
    uint64_t gfn = md_below(m, MD_MAXF + 2);
    unsigned access = acc[md_below(m, 5)];
    struct md_eff eff = {0};
    int want = cpu_want(m, who, owner, gfn, access, &eff);
    int rc = gcore_prot_cpu_check(m->c, who, owner, gfn, access);

    md_trace(m,
             "op %llu: CPU access %u by dom %u to dom %u gfn %llu -> %d "
             "(model %d)",
             (unsigned long long)m->op, access, who, owner,
             (unsigned long long)gfn, rc, want);
    MD_CHECK(m, rc == want, "CPU check %d, model %d", rc, want);
    md_eff_apply(m, &eff);
    md_settle(m);
}
