/* SPDX-License-Identifier: MIT */
/*
 * create.c: creating grants (GNTX_OP_CREATE, one all-or-nothing batch per
 * call) and revoking them (GNTX_OP_REVOKE).  A direct grant's frames come
 * from its local range: the pages [ptr, ptr+len) touches, consecutive
 * guest frames because grant_mem_alloc hands out contiguous runs.
 * Nothing is allocated per call: the ABI elements, spans and frames live
 * in the handle's buffers (lg_scratch).
 */
#include <errno.h>

#include "private.h"

/* A status no element can hold: "the hypervisor did not say". */
#define NO_STATUS 1

/* Where a direct request's range lies: its gpa and the frames it touches. */
struct span {
    uint64_t gpa;
    uint32_t nr_frames;
};

static int check_req(const grant_handle_t *h, const struct grant_create_req *q,
                     struct span *s)
{
    uint64_t first, last;
    int rc;

    s->nr_frames = 0;
    if ((q->rights & ~GNTX_R_ALL) || q->len == 0 ||
        (q->indirect != 0 && q->indirect != 1))
        return -EINVAL;
    if (q->indirect)
        return 0;
    rc = lg_local_gpa(h, q->ptr, q->len, &s->gpa);
    if (rc < 0)
        return rc;
    first = s->gpa / GNTX_PAGE_SIZE;
    last = (s->gpa + q->len - 1) / GNTX_PAGE_SIZE; /* in memory: no wrap */
    if (last - first >= UINT32_MAX)
        return -EINVAL;
    s->nr_frames = (uint32_t)(last - first + 1);
    return 0;
}

/* Element `bad` failed with err before anything was sent. */
static int refuse(struct grant_create_req *reqs, unsigned n, unsigned bad,
                  int err)
{
    unsigned i;

    for (i = 0; i < n; i++)
        reqs[i].status = i == bad ? err : -ECANCELED;
    return err;
}

/* Checks every request; *nr_frames receives the frames they need. */
static int check_all(const grant_handle_t *h, struct grant_create_req *reqs,
                     unsigned n, struct span *spans, uint64_t *nr_frames)
{
    uint64_t most =
        (h->ops->max_payload - (uint64_t)n * sizeof(struct gntx_create)) /
        sizeof(uint64_t);
    unsigned i;
    int rc;

    *nr_frames = 0;
    for (i = 0; i < n; i++) {
        rc = check_req(h, &reqs[i], &spans[i]);
        if (rc < 0)
            return refuse(reqs, n, i, rc);
        *nr_frames += spans[i].nr_frames;
        if (*nr_frames > most)
            return refuse(reqs, n, i, -E2BIG);
    }
    return 0;
}

static void fill(struct gntx_create *c, const struct grant_create_req *q,
                 const struct span *s, uint64_t *frames, uint64_t *used)
{
    uint32_t i;

    *c = (struct gntx_create){0}; /* a reused buffer: every field set */
    c->grantee = q->grantee;
    c->rights = (uint16_t)q->rights;
    c->length = q->len;
    c->status = NO_STATUS;
    if (q->indirect) {
        c->type = GNTX_CREATE_INDIRECT;
        c->parent_dom = q->granter;
        c->parent_ref = q->parent;
        c->offset = q->offset;
        return;
    }
    c->type = GNTX_CREATE_DIRECT;
    c->nr_frames = s->nr_frames;
    c->frame_idx = *used;
    c->offset = s->gpa % GNTX_PAGE_SIZE;
    for (i = 0; i < s->nr_frames; i++)
        frames[(*used)++] = s->gpa / GNTX_PAGE_SIZE + i;
}

static int call_create(grant_handle_t *h, struct grant_create_req *reqs,
                       unsigned n, const struct span *spans,
                       struct gntx_create *v, uint64_t *frames)
{
    struct grant_call gc = {.op = GNTX_OP_CREATE,
                            .args = v,
                            .elem_size = sizeof(*v),
                            .count = n,
                            .aux_in = frames,
                            .aux_elem_size = sizeof(uint64_t)};
    uint64_t used = 0;
    unsigned i;
    int rc;

    for (i = 0; i < n; i++)
        fill(&v[i], &reqs[i], &spans[i], frames, &used);
    gc.aux_in_count = used;
    rc = (int)h->ops->hypercall(h, &gc);
    for (i = 0; i < n; i++) {
        reqs[i].status = v[i].status;
        if (v[i].status == NO_STATUS)
            reqs[i].status = rc < 0 ? rc : -EPROTO;
        reqs[i].ref = rc < 0 ? GNTX_REF_INVALID : v[i].ref;
        if (rc >= 0 && reqs[i].status < 0)
            rc = reqs[i].status; /* claimed success, but an element failed */
    }
    return rc < 0 ? rc : 0;
}

static int create_batch(grant_handle_t *h, struct grant_create_req *reqs,
                        unsigned n)
{
    struct gntx_create *v;
    struct span *spans;
    uint64_t *frames, nr_frames;
    int rc;

    if (n > GNTX_MAX_BATCH)
        return refuse(reqs, n, 0, -E2BIG);
    spans = lg_scratch(h, LG_SCRATCH_SPANS, n * sizeof(*spans));
    if (!spans)
        return -ENOMEM;
    rc = check_all(h, reqs, n, spans, &nr_frames);
    if (rc < 0)
        return rc;
    /* nr_frames is bounded by the transport's payload (check_all). */
    v = lg_scratch(h, LG_SCRATCH_CREATE, n * sizeof(*v));
    frames = lg_scratch(h, LG_SCRATCH_FRAMES,
                        (nr_frames ? nr_frames : 1) * sizeof(*frames));
    if (!v || !frames)
        return -ENOMEM;
    return call_create(h, reqs, n, spans, v, frames);
}

int grant_create_batch(grant_handle_t *h, struct grant_create_req *reqs,
                       unsigned n)
{
    if (!h || (!reqs && n))
        return lg_fail(h, "grant_create_batch", -EINVAL);
    if (n == 0)
        return 0;
    return lg_fail(h, "grant_create_batch", create_batch(h, reqs, n));
}

int grant_create_direct(grant_handle_t *h, grant_domid_t grantee,
                        unsigned rights, const void *ptr, uint64_t len,
                        grant_ref_t *ref)
{
    struct grant_create_req q = {
        .grantee = grantee, .rights = rights, .ptr = ptr, .len = len};
    int rc;

    if (!h || !ref)
        return lg_fail(h, "grant_create_direct", -EINVAL);
    rc = create_batch(h, &q, 1);
    if (rc == 0)
        *ref = q.ref;
    return lg_fail(h, "grant_create_direct", rc);
}

int grant_create_indirect(grant_handle_t *h, grant_domid_t grantee,
                          unsigned rights, grant_domid_t granter,
                          grant_ref_t parent, uint64_t offset, uint64_t len,
                          grant_ref_t *ref)
{
    struct grant_create_req q = {.indirect = 1,
                                 .grantee = grantee,
                                 .rights = rights,
                                 .granter = granter,
                                 .parent = parent,
                                 .offset = offset,
                                 .len = len};
    int rc;

    if (!h || !ref)
        return lg_fail(h, "grant_create_indirect", -EINVAL);
    rc = create_batch(h, &q, 1);
    if (rc == 0)
        *ref = q.ref;
    return lg_fail(h, "grant_create_indirect", rc);
}

/* One REVOKE call of n <= GNTX_MAX_BATCH elements (v: scratch). */
static void revoke_chunk(grant_handle_t *h, struct grant_revoke_req *reqs,
                         unsigned n, struct gntx_revoke *v)
{
    struct grant_call gc = {
        .op = GNTX_OP_REVOKE, .args = v, .elem_size = sizeof(*v), .count = n};
    unsigned i;
    long rc;

    for (i = 0; i < n; i++)
        v[i] = (struct gntx_revoke){
            .ref = reqs[i].ref, .flags = reqs[i].flags, .status = NO_STATUS};
    rc = h->ops->hypercall(h, &gc);
    for (i = 0; i < n; i++)
        reqs[i].status = rc < 0                     ? (int)rc
                         : v[i].status == NO_STATUS ? -EPROTO
                                                    : v[i].status;
}

int grant_revoke_batch(grant_handle_t *h, struct grant_revoke_req *reqs,
                       unsigned n)
{
    unsigned i, k, done = 0;
    struct gntx_revoke one, *v = &one;

    if (!h || (!reqs && n))
        return lg_fail(h, "grant_revoke_batch", -EINVAL);
    for (i = 0; i < n; i++)
        if (reqs[i].flags & ~GRANT_REVOKE_FORCE)
            return lg_fail(h, "grant_revoke_batch", -EINVAL);
    if (n > 1 && !(v = lg_scratch(h, LG_SCRATCH_REVOKE,
                                  (n < GNTX_MAX_BATCH ? n : GNTX_MAX_BATCH) *
                                      sizeof(*v))))
        return lg_fail(h, "grant_revoke_batch", -ENOMEM);
    for (i = 0; i < n; i += k) {
        k = n - i < GNTX_MAX_BATCH ? n - i : GNTX_MAX_BATCH;
        revoke_chunk(h, reqs + i, k, v);
    }
    for (i = 0; i < n; i++)
        done += reqs[i].status == 0;
    return (int)done;
}

int grant_revoke(grant_handle_t *h, grant_ref_t ref, unsigned flags)
{
    struct grant_revoke_req r = {.ref = ref, .flags = flags};
    int rc = grant_revoke_batch(h, &r, 1);

    return lg_fail(h, "grant_revoke", rc < 0 ? rc : r.status);
}
