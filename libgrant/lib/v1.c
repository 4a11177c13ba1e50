/* SPDX-License-Identifier: MIT */
/*
 * v1.c: Xen's standard grants (grant_v1_*, libgrant.h) and grant_features.
 * The arguments are checked here, once for every transport, and the
 * handle's maps and shares are recorded here (the transports get back
 * what they handed out: the address, the page count, a share's refs); the
 * work is the transport's (h->ops->v1, struct grant_v1_ops): xen_v1.c over
 * gntdev and gntalloc, v1_ext.c over the extension's whole-page grants.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "private.h"

#define V1_MAP   0
#define V1_SHARE 1

/* A v1 map or share of the handle. */
struct lg_v1_rec {
    struct lg_v1_rec *next;
    int kind; /* V1_MAP or V1_SHARE */
    void *addr;
    unsigned count;
    grant_v1_ref_t refs[]; /* a share's refs */
};

unsigned grant_features(const grant_handle_t *h)
{
    return h ? h->features : 0;
}

/* Common checks: 0, or the call's -errno. */
static int v1_usable(const grant_handle_t *h, unsigned feature)
{
    if (!h)
        return -EINVAL;
    if (lg_forked(h))
        return -EBADF;
    return (h->features & feature) && h->ops->v1 ? 0 : -ENOSYS;
}

static int v1_add(grant_handle_t *h, int kind, void *addr, unsigned count,
                  const grant_v1_ref_t *refs)
{
    struct lg_v1_rec *r;

    r = calloc(1, sizeof(*r) + (refs ? count * sizeof(*refs) : 0));
    if (!r)
        return -ENOMEM;
    *r = (struct lg_v1_rec){
        .next = h->v1, .kind = kind, .addr = addr, .count = count};
    if (refs)
        memcpy(r->refs, refs, count * sizeof(*refs));
    h->v1 = r;
    return 0;
}

/* Unlinks the record of `kind` at addr; NULL if there is none. */
static struct lg_v1_rec *v1_take(grant_handle_t *h, int kind, void *addr)
{
    struct lg_v1_rec **pp, *r;

    for (pp = &h->v1; *pp; pp = &(*pp)->next) {
        r = *pp;
        if (r->kind == kind && r->addr == addr) {
            *pp = r->next;
            return r;
        }
    }
    return NULL;
}

/* Gives a range back to the transport. */
static int v1_undo(grant_handle_t *h, int kind, void *addr, unsigned count,
                   const grant_v1_ref_t *refs)
{
    if (kind == V1_MAP)
        return h->ops->v1->unmap(h, addr, count);
    return h->ops->v1->end(h, addr, count, refs);
}

static int v1_drop(grant_handle_t *h, struct lg_v1_rec *r)
{
    return v1_undo(h, r->kind, r->addr, r->count, r->refs);
}

/* grant_v1_map and grant_v1_share: the transport's call, then the record. */
static int v1_range(grant_handle_t *h, int kind, grant_domid_t dom,
                    grant_v1_ref_t *refs, unsigned count, unsigned flags,
                    void **addr)
{
    void *p = NULL;
    int rc =
        v1_usable(h, kind == V1_MAP ? GRANT_FEAT_V1_MAP : GRANT_FEAT_V1_SHARE);

    if (rc == 0 && (!refs || !addr || count == 0 || count > GRANT_V1_MAX ||
                    (flags & ~GRANT_V1_RDONLY)))
        rc = -EINVAL;
    if (rc == 0 && kind == V1_MAP)
        rc = h->ops->v1->map(h, dom, refs, count, flags, &p);
    else if (rc == 0)
        rc = h->ops->v1->share(h, dom, count, flags, refs, &p);
    if (rc == 0) {
        rc = v1_add(h, kind, p, count, kind == V1_SHARE ? refs : NULL);
        if (rc < 0)
            v1_undo(h, kind, p, count, refs);
    }
    if (rc == 0)
        *addr = p;
    return rc;
}

int grant_v1_map(grant_handle_t *h, grant_domid_t granter,
                 const grant_v1_ref_t *refs, unsigned count, unsigned flags,
                 void **addr)
{
    /* The transport only reads a map's refs. */
    return lg_fail(h, "grant_v1_map",
                   v1_range(h, V1_MAP, granter, (grant_v1_ref_t *)refs, count,
                            flags, addr));
}

/* grant_v1_unmap and grant_v1_end: the record at addr, dropped. */
static int v1_release_one(grant_handle_t *h, int kind, void *addr,
                          unsigned feature)
{
    struct lg_v1_rec *r;
    int rc = v1_usable(h, feature);

    if (rc < 0)
        return rc;
    r = v1_take(h, kind, addr);
    if (!r)
        return -EINVAL;
    rc = v1_drop(h, r);
    free(r);
    return rc;
}

int grant_v1_unmap(grant_handle_t *h, void *addr)
{
    return lg_fail(h, "grant_v1_unmap",
                   v1_release_one(h, V1_MAP, addr, GRANT_FEAT_V1_MAP));
}

/* A segment's own checks; 0 or its -errno. */
static int v1_seg_check(const struct grant_v1_copy_seg *s)
{
    const struct grant_v1_ptr *e[2] = {&s->src, &s->dst};

    for (int i = 0; i < 2; i++) {
        if (e[i]->local != 0 && e[i]->local != 1)
            return -EINVAL;
        if (!e[i]->local && (uint32_t)e[i]->offset + s->len > GRANT_PAGE_SIZE)
            return -EINVAL;
    }
    return s->src.local && s->dst.local ? -EINVAL : 0;
}

/* The local side's range lies in grant memory (both hosts require it). */
static int v1_seg_local(const grant_handle_t *h,
                        const struct grant_v1_copy_seg *s)
{
    uint64_t gpa;
    int rc = 0;

    if (s->src.local)
        rc = lg_local_gpa(h, s->src.ptr, s->len, &gpa);
    if (rc == 0 && s->dst.local)
        rc = lg_local_gpa(h, s->dst.ptr, s->len, &gpa);
    return rc;
}

/*
 * Segments that fail the checks get their status here and are not sent:
 * the transport sees a copy of the rest (in batches of this many).
 */
#define V1_COPY_BATCH 64u

int grant_v1_copy(grant_handle_t *h, struct grant_v1_copy_seg *segs, unsigned n)
{
    struct grant_v1_copy_seg batch[V1_COPY_BATCH];
    unsigned idx[V1_COPY_BATCH], k = 0;
    int rc = v1_usable(h, GRANT_FEAT_V1_MAP);
    int ok = 0;

    if (rc == 0 && !segs && n)
        rc = -EINVAL;
    for (unsigned i = 0; rc == 0 && i < n; i++) {
        segs[i].status = v1_seg_check(&segs[i]);
        if (segs[i].status == 0)
            segs[i].status = v1_seg_local(h, &segs[i]);
        if (segs[i].status == 0) {
            batch[k] = segs[i];
            idx[k++] = i;
        }
        if (k < V1_COPY_BATCH && i + 1 < n)
            continue;
        rc = k ? h->ops->v1->copy(h, batch, k) : 0;
        for (unsigned j = 0; j < k; j++) {
            segs[idx[j]].status = rc < 0 ? rc : batch[j].status;
            ok += segs[idx[j]].status == 0;
        }
        k = 0;
    }
    return lg_fail(h, "grant_v1_copy", rc < 0 ? rc : ok);
}

int grant_v1_share(grant_handle_t *h, grant_domid_t grantee, unsigned count,
                   unsigned flags, grant_v1_ref_t *refs, void **addr)
{
    return lg_fail(h, "grant_v1_share",
                   v1_range(h, V1_SHARE, grantee, refs, count, flags, addr));
}

int grant_v1_end(grant_handle_t *h, void *addr)
{
    return lg_fail(h, "grant_v1_end",
                   v1_release_one(h, V1_SHARE, addr, GRANT_FEAT_V1_SHARE));
}

void lg_v1_release(grant_handle_t *h, int forked)
{
    struct lg_v1_rec *r;

    while ((r = h->v1)) {
        h->v1 = r->next;
        if (!forked)
            v1_drop(h, r);
        free(r);
    }
}
