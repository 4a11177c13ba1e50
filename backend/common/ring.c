/* SPDX-License-Identifier: MIT */
/*
 * ring.c: the back half of a shared ring (xbe_ring.h).  The frontend owns
 * req_prod and rsp_event; we own rsp_prod and req_event.  Every value read
 * from the page is read once into a local and checked there.
 */
#include <errno.h>
#include <string.h>

#include "xbe_ring.h"

enum { REQ_PROD, REQ_EVENT, RSP_PROD, RSP_EVENT };

static RING_IDX peer_read(const struct xbe_ring *r, int which)
{
    return __atomic_load_n(&r->sring[which], __ATOMIC_RELAXED);
}

static unsigned round_down_pow2(size_t n)
{
    unsigned p = 1;

    while ((size_t)p * 2 <= n && p < (1u << 30))
        p *= 2;
    return p;
}

int xbe_ring_attach(struct xbe_ring *r, void *sring, size_t bytes,
                    size_t ent_size)
{
    if (!sring || ent_size == 0 || bytes < XBE_SRING_HDR + ent_size)
        return -EINVAL;
    memset(r, 0, sizeof(*r));
    r->sring = sring;
    r->ents = (uint8_t *)sring + XBE_SRING_HDR;
    r->ent_size = ent_size;
    r->nr_ents = round_down_pow2((bytes - XBE_SRING_HDR) / ent_size);
    /* BACK_RING_ATTACH: resume after the last response made visible. */
    r->rsp_prod_pvt = peer_read(r, RSP_PROD);
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
    prod = peer_read(r, REQ_PROD);
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
    RING_IDX old = peer_read(r, RSP_PROD), now = r->rsp_prod_pvt, event;

    r->taken = 0;
    /* The frontend sees the responses before the index that covers them. */
    __atomic_thread_fence(__ATOMIC_RELEASE);
    __atomic_store_n(&r->sring[RSP_PROD], now, __ATOMIC_RELAXED);
    /* Our index is visible before we read the frontend's event. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    event = peer_read(r, RSP_EVENT);
    return (RING_IDX)(now - event) < (RING_IDX)(now - old);
}

int xbe_ring_final_check(struct xbe_ring *r)
{
    RING_IDX prod;

    if (r->halted)
        return -EPROTO;
    r->taken = 0;
    /* Waiting for our own responses is not work the peer can give us. */
    if (r->req_cons - r->rsp_prod_pvt >= r->nr_ents)
        return 0;
    prod = peer_read(r, REQ_PROD);
    if (prod != r->req_cons)
        return 1;
    __atomic_store_n(&r->sring[REQ_EVENT], r->req_cons + 1, __ATOMIC_RELAXED);
    /* req_event is visible before we look at req_prod again. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    return peer_read(r, REQ_PROD) != r->req_cons;
}
