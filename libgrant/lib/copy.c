/* SPDX-License-Identifier: MIT */
/*
 * copy.c: copies and memset through grants (GNTX_OP_COPY, GNTX_OP_MEMSET).
 * Segments are translated to the ABI (a local pointer becomes its
 * guest-physical address; one outside this handle's memory fails with
 * -EFAULT without being sent) and sent in batches of GNTX_MAX_BATCH.
 * Elements the hypervisor's per-call byte budget cuts short are resumed
 * (grant_abi.h's continuation rule), so callers never see -EAGAIN.
 * Nothing is allocated per call: the ABI elements live in the handle's
 * buffers (lg_scratch).
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "private.h"

#define NO_STATUS LG_NO_STATUS

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

int lg_elem_status(int rc, int32_t st)
{
    if (rc < 0)
        return rc;
    return st == NO_STATUS || st > 0 ? -EPROTO : st;
}

uint64_t lg_pending_bytes(const void *v, unsigned k, size_t esz, size_t len_off)
{
    uint64_t sum = 0, len;

    for (unsigned i = 0; i < k; i++) {
        memcpy(&len, (const char *)v + (size_t)i * esz + len_off, sizeof(len));
        sum += len;
    }
    return sum;
}

/* Bytes still to move in v[0..k). */
static uint64_t pending_bytes(const struct gntx_copy *v, unsigned k)
{
    return lg_pending_bytes(v, k, sizeof(*v), offsetof(struct gntx_copy, len));
}

/*
 * Sends v[0..k) (segments idx[0..k) of segs).  Elements the hypervisor's
 * per-call byte budget cut short come back -EAGAIN with their addresses
 * advanced: they are resubmitted as they came back until none is left (a
 * round that moves nothing is a protocol error).  Returns how many
 * succeeded, or the whole call's error (every pending segment holds it).
 */
static int send_batch(grant_handle_t *h, struct grant_copy_seg *segs,
                      struct gntx_copy *v, unsigned *idx, unsigned k)
{
    int rc = 0, ok = 0;

    while (k) {
        struct grant_call gc = {
            .op = GNTX_OP_COPY, .args = v, .elem_size = sizeof(*v), .count = k};
        uint64_t before = pending_bytes(v, k);
        unsigned again = 0;

        rc = (int)h->ops->hypercall(h, &gc);
        for (unsigned i = 0; i < k; i++) {
            int st = lg_elem_status(rc, v[i].status);

            if (st == -EAGAIN) {
                v[again] = v[i];
                v[again].status = NO_STATUS;
                idx[again++] = idx[i];
                continue;
            }
            segs[idx[i]].status = st;
            ok += st == 0;
        }
        if (rc < 0)
            return rc;
        if (again && pending_bytes(v, again) == before)
            rc = -EPROTO; /* no progress: never loop on a broken peer */
        k = again;
        if (rc < 0) {
            for (unsigned i = 0; i < k; i++)
                segs[idx[i]].status = rc;
            return rc;
        }
    }
    return ok;
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

/* Translates and sends segs[0..n) in batches of up to GNTX_MAX_BATCH,
 * through the handle's buffers (nothing allocated once they are big
 * enough). */
static int copy_run(grant_handle_t *h, struct grant_copy_seg *segs, unsigned n)
{
    unsigned cap = n < GNTX_MAX_BATCH ? n : GNTX_MAX_BATCH, i, k = 0, j;
    struct gntx_copy *v =
        lg_scratch(h, LG_SCRATCH_COPY, (cap ? cap : 1) * sizeof(*v));
    unsigned *idx =
        lg_scratch(h, LG_SCRATCH_COPY_IDX, (cap ? cap : 1) * sizeof(*idx));
    int rc, ok = 0;

    if (!v || !idx)
        return -ENOMEM;
    for (i = 0; i < n; i++) {
        if (add_seg(h, &segs[i], &v[k]) == 0)
            idx[k++] = i;
        if (k < cap && i + 1 < n)
            continue;
        rc = send_batch(h, segs, v, idx, k);
        if (rc < 0) {
            for (j = i + 1; j < n; j++)
                segs[j].status = rc;
            return rc;
        }
        ok += rc;
        k = 0;
    }
    return ok;
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
    do { /* resubmit while the byte budget cuts it short (see copy) */
        uint64_t before = v.len;

        v.status = NO_STATUS;
        rc = (int)h->ops->hypercall(h, &gc);
        rc = lg_elem_status(rc, v.status);
        if (rc == -EAGAIN && v.len == before)
            rc = -EPROTO;
    } while (rc == -EAGAIN);
    return lg_fail(h, "grant_memset", rc);
}
