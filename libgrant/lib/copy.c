/* SPDX-License-Identifier: MIT */
/*
 * copy.c: copies and memset through grants (GNTX_OP_COPY, GNTX_OP_MEMSET).
 * Segments are translated to the ABI (a local pointer becomes its
 * guest-physical address; one outside this handle's memory fails with
 * -EFAULT without being sent) and sent in batches of GNTX_MAX_BATCH.
 */
#include <errno.h>
#include <stdlib.h>

#include "private.h"

#define NO_STATUS 1

static int to_abi_ptr(const grant_handle_t *h, const struct grant_ptr *p,
                      uint64_t len, struct gntx_ptr *out)
{
    if (p->local != 0 && p->local != 1)
        return -EINVAL;
    if (p->local) {
        out->kind = GNTX_PTR_LOCAL;
        return lg_local_gpa(h, p->ptr, len, &out->addr);
    }
    out->kind = GNTX_PTR_GRANT;
    out->dom = p->granter;
    out->ref = p->ref;
    out->addr = p->offset;
    return 0;
}

/* Sends v[0..k) (segments idx[0..k) of segs); returns how many succeeded
 * or the whole call's error (then every one of them holds it). */
static int send_batch(grant_handle_t *h, struct grant_copy_seg *segs,
                      struct gntx_copy *v, const unsigned *idx, unsigned k)
{
    struct grant_call gc = {
        .op = GNTX_OP_COPY, .args = v, .elem_size = sizeof(*v), .count = k};
    int rc, ok = 0;
    unsigned i;

    if (k == 0)
        return 0;
    rc = (int)h->ops->hypercall(h, &gc);
    for (i = 0; i < k; i++) {
        if (rc < 0)
            segs[idx[i]].status = rc;
        else if (v[i].status == NO_STATUS || v[i].status > 0)
            segs[idx[i]].status = -EPROTO;
        else
            segs[idx[i]].status = v[i].status;
        ok += segs[idx[i]].status == 0;
    }
    return rc < 0 ? rc : ok;
}

/* Adds segment s to the batch, or fails it locally. */
static int add_seg(const grant_handle_t *h, struct grant_copy_seg *s,
                   struct gntx_copy *v)
{
    int rc;

    *v = (struct gntx_copy){.len = s->len, .status = NO_STATUS};
    rc = to_abi_ptr(h, &s->src, s->len, &v->src);
    if (rc == 0)
        rc = to_abi_ptr(h, &s->dst, s->len, &v->dst);
    s->status = rc;
    return rc;
}

static int copy_run(grant_handle_t *h, struct grant_copy_seg *segs, unsigned n)
{
    unsigned cap = n < GNTX_MAX_BATCH ? n : GNTX_MAX_BATCH, i, k = 0, j;
    struct gntx_copy *v = calloc(cap ? cap : 1, sizeof(*v));
    unsigned *idx = calloc(cap ? cap : 1, sizeof(*idx));
    int rc = -ENOMEM, ok = 0;

    if (!v || !idx)
        goto free_bufs;
    for (i = 0; i < n; i++) {
        if (add_seg(h, &segs[i], &v[k]) == 0)
            idx[k++] = i;
        if (k < cap && i + 1 < n)
            continue;
        rc = send_batch(h, segs, v, idx, k);
        if (rc < 0) {
            for (j = i + 1; j < n; j++)
                segs[j].status = rc;
            goto free_bufs;
        }
        ok += rc;
        k = 0;
    }
    rc = ok;
free_bufs:
    free(idx);
    free(v);
    return rc;
}

int grant_copy(grant_handle_t *h, struct grant_copy_seg *segs, unsigned n)
{
    if (!h || (!segs && n))
        return lg_fail(h, "grant_copy", -EINVAL);
    return lg_fail(h, "grant_copy", copy_run(h, segs, n));
}

static int copy_one(grant_handle_t *h, struct grant_copy_seg *s)
{
    int rc = copy_run(h, s, 1);

    return rc < 0 ? rc : s->status;
}

int grant_copy_from(grant_handle_t *h, void *dst, grant_domid_t granter,
                    grant_ref_t ref, uint64_t offset, uint64_t len)
{
    struct grant_copy_seg s = {
        .src = {.granter = granter, .ref = ref, .offset = offset},
        .dst = {.local = 1, .ptr = dst},
        .len = len};

    if (!h)
        return -EINVAL;
    return lg_fail(h, "grant_copy_from", copy_one(h, &s));
}

int grant_copy_to(grant_handle_t *h, grant_domid_t granter, grant_ref_t ref,
                  uint64_t offset, const void *src, uint64_t len)
{
    struct grant_copy_seg s = {
        .src = {.local = 1, .ptr = src},
        .dst = {.granter = granter, .ref = ref, .offset = offset},
        .len = len};

    if (!h)
        return -EINVAL;
    return lg_fail(h, "grant_copy_to", copy_one(h, &s));
}

int grant_memset(grant_handle_t *h, grant_domid_t granter, grant_ref_t ref,
                 uint64_t offset, int value, uint64_t len)
{
    struct gntx_memset v = {.dst = {.kind = GNTX_PTR_GRANT,
                                    .dom = granter,
                                    .ref = ref,
                                    .addr = offset},
                            .len = len,
                            .value = (uint8_t)value,
                            .status = NO_STATUS};
    struct grant_call gc = {
        .op = GNTX_OP_MEMSET, .args = &v, .elem_size = sizeof(v), .count = 1};
    int rc;

    if (!h)
        return -EINVAL;
    rc = (int)h->ops->hypercall(h, &gc);
    if (rc >= 0)
        rc = v.status == NO_STATUS || v.status > 0 ? -EPROTO : v.status;
    return lg_fail(h, "grant_memset", rc);
}
