/* SPDX-License-Identifier: MIT */
/*
 * ring.c: the front half of a shared ring (xfe_ring.h).  We own req_prod
 * and rsp_event; the backend owns rsp_prod and req_event.  Every value
 * read from the page is read once into a local and checked there.
 */
#include <errno.h>
#include <string.h>

#include "xfe_ring.h"

enum { REQ_PROD, REQ_EVENT, RSP_PROD, RSP_EVENT };

static RING_IDX peer_read(const struct xfe_ring *r, int which)
{
    return __atomic_load_n(&r->sring[which], __ATOMIC_RELAXED);
}

int xfe_ring_init(struct xfe_ring *r, void *sring, size_t bytes,
                  size_t ent_size)
{
    size_t n;

    if (!sring || ent_size == 0 || bytes < XFE_SRING_HDR + ent_size)
        return -EINVAL;
    memset(r, 0, sizeof(*r));
    memset(sring, 0, XFE_SRING_HDR);
    r->sring = sring;
    r->sring[REQ_EVENT] = 1;
    r->sring[RSP_EVENT] = 1;
    r->ents = (uint8_t *)sring + XFE_SRING_HDR;
    r->ent_size = ent_size;
    n = (bytes - XFE_SRING_HDR) / ent_size;
    r->nr_ents = 1;
    while ((size_t)r->nr_ents * 2 <= n && r->nr_ents < (1u << 30))
        r->nr_ents *= 2;
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
    RING_IDX old = peer_read(r, REQ_PROD), now = r->req_prod_pvt, event;

    r->taken = 0;
    /* The backend sees the requests before the index that covers them. */
    __atomic_thread_fence(__ATOMIC_RELEASE);
    __atomic_store_n(&r->sring[REQ_PROD], now, __ATOMIC_RELAXED);
    /* Our index is visible before we read the backend's event. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    event = peer_read(r, REQ_EVENT);
    return (RING_IDX)(now - event) < (RING_IDX)(now - old);
}

int xfe_ring_take(struct xfe_ring *r, void *rsp)
{
    RING_IDX prod;

    if (r->halted)
        return -EPROTO;
    if (r->taken >= r->nr_ents)
        return 0;
    prod = peer_read(r, RSP_PROD);
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
    if (peer_read(r, RSP_PROD) != r->rsp_cons)
        return 1;
    __atomic_store_n(&r->sring[RSP_EVENT], r->rsp_cons + 1, __ATOMIC_RELAXED);
    /* rsp_event is visible before we look at rsp_prod again. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    return peer_read(r, RSP_PROD) != r->rsp_cons;
}
