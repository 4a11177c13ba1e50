/* SPDX-License-Identifier: MIT */
/*
 * model_check.c: the comparisons the property test makes after every call
 * (md_settle) and every op (md_check_all), and the host's view of
 * mappings.
 *
 * The host's view is built only from what the core tells its host: a MAP
 * that succeeded (handle, owner, frames), gh_unmap_notify (the mapping is
 * gone) and gh_map_restrict (pages lose access).  It must equal the
 * model's mappings page for page: a mapping the core forgot to tear down
 * at a revoke, or to downgrade at a PROTECT, stays visible here.
 */
#include <stdio.h>
#include <string.h>

#include "tests/unit/model.h"

/* The host's destroy path: remove the domains a KILL named. */
static void kills_run(struct md *m)
{
    unsigned long got = th_kills();

    MD_CHECK(m, got == m->kills_due, "gh_dom_kill calls %lu, expected %u", got,
             m->kills_due);
    for (uint16_t d = 0; d < MD_NDOM; d++) {
        if (!m->kill[d])
            continue;
        md_trace(m, "  host: KILL removes dom %u", d);
        gcore_dom_remove(m->c, d);
        md_dom_remove(m, d);
        m->st.kills++;
    }
    m->kills_due = 0;
}

static int host_find(const struct md *m, uint16_t mapper, uint32_t handle)
{
    for (unsigned i = 0; i < m->nhost; i++)
        if (m->host[i].mapper == mapper && m->host[i].handle == handle)
            return (int)i;
    return -1;
}

void md_host_add(struct md *m, const struct md_map *mp)
{
    MD_CHECK(m, host_find(m, mp->mapper, mp->handle) < 0,
             "handle %#x of dom %u issued twice", mp->handle, mp->mapper);
    MD_CHECK(m, m->nhost < MD_MAPS * 2, "host view full");
    m->host[m->nhost++] = *mp;
}

void md_host_unmap(struct md *m, uint16_t mapper, uint32_t handle)
{
    int i = host_find(m, mapper, handle);

    MD_CHECK(m, i >= 0, "dom %u's handle %#x is not mapped", mapper, handle);
    m->host[i] = m->host[--m->nhost];
}

static uint16_t dom_of_cookie(struct md *m, void *cookie)
{
    for (uint16_t d = 0; d < MD_NDOM; d++)
        if (m->d[d].mem == (struct th_dom *)cookie)
            return d;
    MD_CHECK(m, 0, "a hook named an unknown cookie %p", cookie);
    return 0;
}

static void notes_run(struct md *m)
{
    for (size_t i = 0; i < th_notify_count(); i++) {
        const struct th_notify *t = th_notify_at(i);
        uint16_t d = dom_of_cookie(m, t->mapper_cookie);
        int h = host_find(m, d, t->handle);

        MD_CHECK(m, h >= 0, "unmap notify of dom %u handle %#x: not mapped", d,
                 t->handle);
        MD_CHECK(m, m->host[h].root == t->owner,
                 "unmap notify names owner %u, mapping's is %u", t->owner,
                 m->host[h].root);
        md_trace(m, "  host: unmap notify dom %u handle %#x", d, t->handle);
        m->host[h] = m->host[--m->nhost];
        m->st.force_notes++;
    }
}

static void restricts_run(struct md *m)
{
    size_t n = th_restrict_count();

    MD_CHECK(m, n <= TH_RESTRICT_LOG, "%zu restricts: the log overflowed", n);
    for (size_t i = 0; i < n; i++) {
        const struct th_restrict *r = th_restrict_at(i);
        uint16_t d = dom_of_cookie(m, r->mapper_cookie);
        int h = host_find(m, d, r->handle);
        struct md_map *mp;

        MD_CHECK(m, h >= 0, "restrict of dom %u handle %#x: not mapped", d,
                 r->handle);
        mp = &m->host[h];
        MD_CHECK(m,
                 mp->root == r->owner && r->npages &&
                     r->first + r->npages <= mp->npages &&
                     r->access <= GNTX_ACC_R,
                 "restrict [%llu,+%llu) access %u of a %u-page mapping",
                 (unsigned long long)r->first, (unsigned long long)r->npages,
                 r->access, mp->npages);
        for (uint64_t j = r->first; j < r->first + r->npages; j++)
            if (r->access < mp->limit[j])
                mp->limit[j] = (uint8_t)r->access;
        m->st.restricts++;
    }
}

/* After every call: the host is balanced, KILLs run, hooks applied. */
void md_settle(struct md *m)
{
    MD_CHECK(m, th_balanced(),
             "host unbalanced: locks %ld frames out %ld nested %lu bad "
             "frames %lu overlapping memcpy %lu",
             th_lock_depth(), th_frames_out(), th_nested_locks(),
             th_bad_frames(), th_overlaps());
    MD_CHECK(m,
             th_fault_notifies() == m->rings_due &&
                 (!m->rings_due || th_fault_last_port() == m->ring_port),
             "fault ring ports raised %lu times (last %u), model %u (%u)",
             th_fault_notifies(), th_fault_last_port(), m->rings_due,
             m->ring_port);
    m->rings_due = 0;
    kills_run(m);
    notes_run(m);
    restricts_run(m);
    th_reset();
}

static void mem_check(struct md *m, uint16_t d)
{
    const struct md_dom *x = &m->d[d];
    uint64_t n = x->nr_frames * MD_PG;

    if (!memcmp(x->mem->mem, x->shadow, n))
        return;
    for (uint64_t i = 0; i < n; i++)
        MD_CHECK(m, x->mem->mem[i] == x->shadow[i],
                 "dom %u byte %#llx (gfn %llu +%llu) is %#x, model says %#x", d,
                 (unsigned long long)i, (unsigned long long)(i / MD_PG),
                 (unsigned long long)(i % MD_PG), x->mem->mem[i], x->shadow[i]);
}

static void usage_check(struct md *m, uint16_t d)
{
    struct gntx_usage u = {.dom = d};
    const struct md_dom *x = &m->d[d];

    MD_CHECK(m, gcore_usage(m->c, GNTX_DOMID_CONTROL, &u) == 0, "usage");
    MD_CHECK(
        m,
        u.entries == md_live_entries(m, d) &&
            u.frames == md_frames_used(m, d) && u.maps == md_maps_held(m, d),
        "dom %u usage entries %u frames %llu maps %u; model %u %llu %u", d,
        u.entries, (unsigned long long)u.frames, u.maps, md_live_entries(m, d),
        (unsigned long long)md_frames_used(m, d), md_maps_held(m, d));
    MD_CHECK(m,
             u.max_entries == x->max_entries && u.max_maps == x->max_maps &&
                 u.max_frames == x->max_frames && u.mem_frames == x->nr_frames,
             "dom %u quotas", d);
}

/* Every table entry the core lists, gathered for the chain checks. */
static struct gntx_entry_info listed[MD_GRANTS + 8];
static unsigned nlisted;

static void entry_check(struct md *m, const struct gntx_entry_info *e)
{
    struct md_grant *g = md_grant_find(m, e->dom, e->ref);
    bool direct;

    MD_CHECK(m, g, "dom %u lists ref %#x, which the model does not hold",
             e->dom, e->ref);
    direct = g->type == GNTX_CREATE_DIRECT;
    MD_CHECK(m,
             e->grantee == g->grantee && e->rights == g->rights &&
                 e->type == g->type && e->offset == g->offset &&
                 e->length == g->length,
             "dom %u ref %#x: listed grantee %u rights %#x type %u window "
             "[%llu,+%llu)",
             e->dom, e->ref, e->grantee, e->rights, e->type,
             (unsigned long long)e->offset, (unsigned long long)e->length);
    MD_CHECK(m,
             direct ? e->nr_frames == g->nr_frames &&
                          e->first_frame == g->frames[0]
                    : e->parent_dom == g->pdom && e->parent_ref == g->pref,
             "dom %u ref %#x: frames or parent", e->dom, e->ref);
    MD_CHECK(m, e->state == (md_orphan(m, g) ? 1 : 0),
             "dom %u ref %#x: state %u", e->dom, e->ref, e->state);
    MD_CHECK(m, e->maps == md_entry_maps(m, g),
             "dom %u ref %#x: maps %u, model %u", e->dom, e->ref, e->maps,
             md_entry_maps(m, g));
}

static void table_check(struct md *m, uint16_t d)
{
    struct gntx_entry_info out[16];
    struct gntx_query q = {.dom = d};
    unsigned n = 0;
    int rc;

    do {
        rc = gcore_query_table(m->c, GNTX_DOMID_CONTROL, &q, out, 16);
        MD_CHECK(m, rc >= 0 && rc <= 16, "query_table %d", rc);
        for (int i = 0; i < rc; i++, n++) {
            MD_CHECK(m, out[i].dom == d, "listing of dom %u", d);
            entry_check(m, &out[i]);
            MD_CHECK(m, nlisted < MD_GRANTS + 8, "too many entries");
            listed[nlisted++] = out[i];
        }
    } while (q.cursor);
    MD_CHECK(m, n == md_live_entries(m, d), "dom %u lists %u entries, model %u",
             d, n, md_live_entries(m, d));
}

static const struct gntx_entry_info *listed_find(uint16_t dom, uint32_t ref)
{
    for (unsigned i = 0; i < nlisted; i++)
        if (listed[i].dom == dom && listed[i].ref == ref)
            return &listed[i];
    return NULL;
}

/* From the core's own listings: along every live chain rights only shrink
 * and windows stay inside. */
static void chains_check(struct md *m)
{
    for (unsigned i = 0; i < nlisted; i++) {
        const struct gntx_entry_info *e = &listed[i], *p;

        if (e->type != GNTX_CREATE_INDIRECT || e->state != GNTX_STATE_LIVE)
            continue;
        p = listed_find(e->parent_dom, e->parent_ref);
        MD_CHECK(m, p, "live entry %u:%#x has no listed parent", e->dom,
                 e->ref);
        MD_CHECK(m,
                 p->grantee == e->dom && (p->rights & GNTX_R_DELEGATE) &&
                     !(e->rights & ~p->rights) &&
                     e->offset + e->length <= p->length,
                 "entry %u:%#x (rights %#x) grows its parent %u:%#x (%#x)",
                 e->dom, e->ref, e->rights, p->dom, p->ref, p->rights);
    }
}

/* The model's subtree of g, depth first: nodes (and depths) appended. */
static void subtree(struct md *m, const struct md_grant *g, unsigned depth,
                    const struct md_grant **node, unsigned *depths, unsigned *n)
{
    node[*n] = g;
    depths[(*n)++] = depth;
    if (depth + 1 >= GNTX_MAX_DEPTH)
        return;
    for (unsigned i = 0; i < m->ng; i++) {
        const struct md_grant *h = &m->g[i];

        if (h->type == GNTX_CREATE_INDIRECT && h->pdom == g->dom &&
            h->pinc == m->d[g->dom].inc && h->pref == g->ref)
            subtree(m, h, depth + 1, node, depths, n);
    }
}

/* QUERY_TREE of a live grant lists the model's subtree in depth-first
 * order: each node right after its parent or a sibling's subtree. */
static void tree_check(struct md *m, const struct md_grant *g)
{
    static struct gntx_entry_info out[MD_GRANTS];
    const struct md_grant *node[MD_GRANTS];
    unsigned depths[MD_GRANTS], n = 0;
    bool seen[MD_GRANTS] = {false};
    struct gntx_query q = {.dom = g->dom, .ref = g->ref};
    int rc = gcore_query_tree(m->c, GNTX_DOMID_CONTROL, &q, out, MD_GRANTS);

    subtree(m, g, 0, node, depths, &n);
    MD_CHECK(m, rc == (int)n && q.count == n,
             "QUERY_TREE of %u:%#x: %d nodes, model %u", g->dom, g->ref, rc, n);
    for (unsigned i = 0; i < n; i++) {
        unsigned j = 0, p = i;

        while (j < n &&
               (seen[j] || node[j]->dom != out[i].dom ||
                node[j]->ref != out[i].ref || depths[j] != out[i].depth))
            j++;
        MD_CHECK(m, j < n, "QUERY_TREE of %u:%#x lists %u:%#x at depth %u",
                 g->dom, g->ref, out[i].dom, out[i].ref, out[i].depth);
        seen[j] = true;
        entry_check(m, &out[i]);
        if (!i) {
            MD_CHECK(m, out[0].depth == 0 && out[0].ref == g->ref,
                     "QUERY_TREE does not start at its root");
            continue;
        }
        MD_CHECK(m, out[i].depth > 0, "QUERY_TREE: a second root");
        while (out[--p].depth >= out[i].depth)
            ; /* ends at the root, depth 0, at the latest */
        MD_CHECK(m,
                 out[p].depth + 1 == out[i].depth &&
                     out[p].dom == out[i].parent_dom &&
                     out[p].ref == out[i].parent_ref,
                 "QUERY_TREE of %u:%#x: node %u is not below its parent",
                 g->dom, g->ref, i);
    }
}

static bool prot_same(const struct md_prot *a, const struct md_prot *b)
{
    return a->set == b->set && a->access == b->access &&
           a->action == b->action && a->cookie == b->cookie;
}

/* PROTECT_QUERY lists the model's maximal runs, in order. */
static void prot_check(struct md *m, uint16_t d)
{
    const struct md_dom *x = &m->d[d];
    struct gntx_prot_range out[4];
    struct gntx_protect_query q = {.dom = d};
    uint64_t g = 0;
    int rc;

    do {
        rc = gcore_protect_query(m->c, GNTX_DOMID_CONTROL, &q, out, 4);
        MD_CHECK(m, rc >= 0 && rc <= 4, "protect_query %d", rc);
        for (int i = 0; i < rc; i++) {
            const struct gntx_prot_range *r = &out[i];

            while (g < x->nr_frames && !x->prot[g].set)
                g++;
            MD_CHECK(m,
                     g == r->gfn && r->nr && r->gfn + r->nr <= x->nr_frames &&
                         x->prot[g].access == r->access &&
                         x->prot[g].action == r->action &&
                         x->prot[g].cookie == r->cookie,
                     "dom %u protection [%llu,+%llu) acc %u act %u; model "
                     "run at %llu",
                     d, (unsigned long long)r->gfn, (unsigned long long)r->nr,
                     r->access, r->action, (unsigned long long)g);
            for (uint64_t k = 1; k < r->nr; k++)
                MD_CHECK(m, prot_same(&x->prot[g], &x->prot[g + k]),
                         "dom %u: range at %llu is not one class", d,
                         (unsigned long long)g);
            MD_CHECK(m,
                     g + r->nr == x->nr_frames ||
                         !prot_same(&x->prot[g], &x->prot[g + r->nr]),
                     "dom %u: range at %llu not maximal", d,
                     (unsigned long long)g);
            g += r->nr;
        }
    } while (q.cursor);
    while (g < x->nr_frames && !x->prot[g].set)
        g++;
    MD_CHECK(m, g == x->nr_frames, "dom %u: page %llu protected, not listed", d,
             (unsigned long long)g);
}

/* The ring page's own_faults, as the domain left it. */
static uint32_t own_faults(const struct md_dom *x)
{
    uint32_t n = 0;

    if (x->ring_gfn != GNTX_FAULT_RING_NONE)
        memcpy(&n,
               x->shadow + x->ring_gfn * MD_PG +
                   offsetof(struct gntx_fault_ring_page, own_faults),
               4);
    return n;
}

static void stats_check(struct md *m, uint16_t d)
{
    const struct md_dom *x = &m->d[d];
    struct gntx_fault_stats s = {.dom = d};
    uint64_t pages = 0;
    uint32_t ranges = 0;

    for (uint64_t g = 0; g < x->nr_frames; g++) {
        pages += x->prot[g].set;
        ranges +=
            x->prot[g].set && (!g || !prot_same(&x->prot[g - 1], &x->prot[g]));
    }
    MD_CHECK(m, gcore_fault_stats(m->c, GNTX_DOMID_CONTROL, &s) == 0, "stats");
    MD_CHECK(m, s.prot_pages == pages && s.ranges == ranges,
             "dom %u prot_pages %llu ranges %u, model %llu %u", d,
             (unsigned long long)s.prot_pages, s.ranges,
             (unsigned long long)pages, ranges);
    MD_CHECK(m,
             s.caused == x->caused && s.denied == x->by_action[GNTX_ACT_DENY] &&
                 s.notified == x->by_action[GNTX_ACT_NOTIFY] &&
                 s.killed == x->by_action[GNTX_ACT_KILL] &&
                 s.logged == x->by_action[GNTX_ACT_LOG] &&
                 s.dropped == x->dropped && s.own_reported == own_faults(x),
             "dom %u faults caused %llu denied %llu notified %llu killed "
             "%llu logged %llu dropped %llu own %llu; model %llu %llu %llu "
             "%llu %llu %llu %u",
             d, (unsigned long long)s.caused, (unsigned long long)s.denied,
             (unsigned long long)s.notified, (unsigned long long)s.killed,
             (unsigned long long)s.logged, (unsigned long long)s.dropped,
             (unsigned long long)s.own_reported, (unsigned long long)x->caused,
             (unsigned long long)x->by_action[GNTX_ACT_DENY],
             (unsigned long long)x->by_action[GNTX_ACT_NOTIFY],
             (unsigned long long)x->by_action[GNTX_ACT_KILL],
             (unsigned long long)x->by_action[GNTX_ACT_LOG],
             (unsigned long long)x->dropped, own_faults(x));
}

/* The host's view of every mapping equals the model's, page for page. */
static void host_check(struct md *m)
{
    MD_CHECK(m, m->nhost == m->nmap, "the host holds %u mappings, model %u",
             m->nhost, m->nmap);
    for (unsigned i = 0; i < m->nmap; i++) {
        const struct md_map *a = &m->map[i];
        int h = host_find(m, a->mapper, a->handle);
        const struct md_map *b;

        MD_CHECK(m, h >= 0, "dom %u's mapping %#x is gone from the host",
                 a->mapper, a->handle);
        b = &m->host[h];
        MD_CHECK(
            m,
            b->root == a->root && b->npages == a->npages &&
                b->rdonly == a->rdonly &&
                !memcmp(b->frames, a->frames, a->npages * sizeof(a->frames[0])),
            "dom %u mapping %#x: root %u pages %u", a->mapper, a->handle,
            b->root, b->npages);
        for (unsigned j = 0; j < a->npages; j++)
            MD_CHECK(m, b->limit[j] == a->limit[j],
                     "dom %u mapping %#x page %u (gfn %llu of dom %u) allows "
                     "%u, model %u",
                     a->mapper, a->handle, j, (unsigned long long)a->frames[j],
                     a->root, b->limit[j], a->limit[j]);
    }
}

void md_check_all(struct md *m)
{
    nlisted = 0;
    for (uint16_t d = 0; d < MD_NDOM; d++) {
        mem_check(m, d); /* a removed domain's memory stays untouched */
        MD_CHECK(m, gcore_dom_exists(m->c, d) == m->d[d].present,
                 "dom %u exists?", d);
        if (!m->d[d].present)
            continue;
        usage_check(m, d);
        table_check(m, d);
        prot_check(m, d);
        stats_check(m, d);
    }
    chains_check(m);
    for (unsigned k = 0; k < 2 && m->ng; k++)
        tree_check(m, &m->g[md_below(m, m->ng)]);
    host_check(m);
    MD_CHECK(m, th_balanced(), "host unbalanced after the checks");
}
