/* SPDX-License-Identifier: MIT */
/*
 * ring.c: the back half of a shared ring (xbe_ring.h).  The frontend owns
 * req_prod and rsp_event; we own rsp_prod and req_event.  Every value read
 * from the page is read once into a local and checked there.
 */
#include <errno.h>
#include <string.h>

#include "grant_ring_idx.h"
#include "xbe_ring.h"

int xbe_ring_attach(struct xbe_ring *r, void *sring, size_t bytes,
                    size_t ent_size)
{
    if (!sring || ent_size == 0 || bytes < XBE_SRING_HDR + ent_size)
        return -EINVAL;
    memset(r, 0, sizeof(*r));
    r->sring = sring;
    r->ents = (uint8_t *)sring + XBE_SRING_HDR;
    r->ent_size = ent_size;
    r->nr_ents = grant_ring_entries(bytes, XBE_SRING_HDR, ent_size);
    /* BACK_RING_ATTACH: resume after the last response made visible. */
    r->rsp_prod_pvt = grant_ring_peek(r->sring, GRANT_RING_RSP_PROD);
    r->req_cons = r->rsp_prod_pvt;
    return 0;
}

int xbe_ring_take(struct xbe_ring *r, void *req)
{
    RING_IDX prod;

    if (r->halted)
        return -EPROTO;
    if (r->taken >= r->nr_ents)
        return 0; /* bound one pass; the caller pushes and comes back */
    prod = grant_ring_peek(r->sring, GRANT_RING_REQ_PROD);
    /* A correct frontend never has more than a ring of requests beyond
     * the responses we made. */
    if (prod - r->rsp_prod_pvt > r->nr_ents) {
        r->halted = 1;
        return -EPROTO;
    }
    if (prod == r->req_cons)
        return 0;
    /* No more requests than we can answer in the slots we hold. */
    if (r->req_cons - r->rsp_prod_pvt >= r->nr_ents)
        return 0;
    /* The request's bytes are read after the index that covers them. */
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    memcpy(req,
           r->ents + (size_t)(r->req_cons & (r->nr_ents - 1)) * r->ent_size,
           r->ent_size);
    /* The copy is complete before anything else reads it. */
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    r->req_cons++;
    r->taken++;
    return 1;
}

void *xbe_ring_rsp_slot(struct xbe_ring *r)
{
    if (r->rsp_prod_pvt == r->req_cons)
        return NULL;
    return r->ents + (size_t)(r->rsp_prod_pvt & (r->nr_ents - 1)) * r->ent_size;
}

void xbe_ring_rsp_done(struct xbe_ring *r)
{
    if (r->rsp_prod_pvt != r->req_cons)
        r->rsp_prod_pvt++;
}

int xbe_ring_push(struct xbe_ring *r)
{
    r->taken = 0;
    return grant_ring_publish(r->sring, GRANT_RING_RSP_PROD,
                              GRANT_RING_RSP_EVENT, r->rsp_prod_pvt);
}

int xbe_ring_final_check(struct xbe_ring *r)
{
    if (r->halted)
        return -EPROTO;
    r->taken = 0;
    /* Waiting for our own responses is not work the peer can give us. */
    if (r->req_cons - r->rsp_prod_pvt >= r->nr_ents)
        return 0;
    return grant_ring_arm(r->sring, GRANT_RING_REQ_PROD, GRANT_RING_REQ_EVENT,
                          r->req_cons);
}
