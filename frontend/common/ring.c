/* SPDX-License-Identifier: MIT */
/*
 * ring.c: the front half of a shared ring (xfe_ring.h).  We own req_prod
 * and rsp_event; the backend owns rsp_prod and req_event.  Every value
 * read from the page is read once into a local and checked there.
 */
#include <errno.h>
#include <string.h>

#include "grant_ring_idx.h"
#include "xfe_ring.h"

int xfe_ring_init(struct xfe_ring *r, void *sring, size_t bytes,
                  size_t ent_size)
{
    if (!sring || ent_size == 0 || bytes < XFE_SRING_HDR + ent_size)
        return -EINVAL;
    memset(r, 0, sizeof(*r));
    memset(sring, 0, XFE_SRING_HDR);
    r->sring = sring;
    r->sring[GRANT_RING_REQ_EVENT] = 1;
    r->sring[GRANT_RING_RSP_EVENT] = 1;
    r->ents = (uint8_t *)sring + XFE_SRING_HDR;
    r->ent_size = ent_size;
    r->nr_ents = grant_ring_entries(bytes, XFE_SRING_HDR, ent_size);
    return 0;
}

unsigned xfe_ring_free(const struct xfe_ring *r)
{
    return r->nr_ents - (r->req_prod_pvt - r->rsp_cons);
}

void *xfe_ring_req_slot(struct xfe_ring *r)
{
    if (r->halted || xfe_ring_free(r) == 0)
        return NULL;
    return r->ents + (size_t)(r->req_prod_pvt & (r->nr_ents - 1)) * r->ent_size;
}

void xfe_ring_req_done(struct xfe_ring *r)
{
    if (xfe_ring_free(r) > 0)
        r->req_prod_pvt++;
}

int xfe_ring_push(struct xfe_ring *r)
{
    r->taken = 0;
    return grant_ring_publish(r->sring, GRANT_RING_REQ_PROD,
                              GRANT_RING_REQ_EVENT, r->req_prod_pvt);
}

int xfe_ring_take(struct xfe_ring *r, void *rsp)
{
    RING_IDX prod;

    if (r->halted)
        return -EPROTO;
    if (r->taken >= r->nr_ents)
        return 0;
    prod = grant_ring_peek(r->sring, GRANT_RING_RSP_PROD);
    /* No more responses than requests we made. */
    if (prod - r->rsp_cons > r->req_prod_pvt - r->rsp_cons) {
        r->halted = 1;
        return -EPROTO;
    }
    if (prod == r->rsp_cons)
        return 0;
    /* The response's bytes are read after the index that covers them. */
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    memcpy(rsp,
           r->ents + (size_t)(r->rsp_cons & (r->nr_ents - 1)) * r->ent_size,
           r->ent_size);
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    r->rsp_cons++;
    r->taken++;
    return 1;
}

int xfe_ring_final_check(struct xfe_ring *r)
{
    if (r->halted)
        return -EPROTO;
    r->taken = 0;
    return grant_ring_arm(r->sring, GRANT_RING_RSP_PROD, GRANT_RING_RSP_EVENT,
                          r->rsp_cons);
}
