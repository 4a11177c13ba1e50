/* SPDX-License-Identifier: MIT */
/*
 * xfe_ring.h: the front half of a Xen shared ring (io/ring.h), for any
 * request/response type, written for a backend that lies.
 *
 * The frontend initialises the shared page (xfe_ring_init), fills request
 * slots in place and pushes them; it takes responses out of the ring ONCE
 * each (xfe_ring_take) and validates the copy (the id names a request in
 * flight, the operation matches: the driver's job).  A response producer
 * index beyond the requests in flight halts the ring (-EPROTO), as Linux's
 * RING_RESPONSE_PROD_OVERFLOW check does; a loop over responses is bounded
 * by the ring's size per pass (a pass ends at xfe_ring_push or
 * xfe_ring_final_check).  Nothing here allocates, blocks or logs;
 * one thread drives a ring.
 */
#ifndef XFE_RING_H
#define XFE_RING_H

#include <stddef.h>
#include <stdint.h>

#include <xen/io/ring.h>

#define XFE_SRING_HDR 64u

struct xfe_ring {
    volatile RING_IDX *sring; /* [0] req_prod [1] req_event [2] rsp_prod
                                 [3] rsp_event */
    uint8_t *ents;
    size_t ent_size;
    unsigned nr_ents;
    RING_IDX req_prod_pvt; /* requests filled, not necessarily pushed */
    RING_IDX rsp_cons;     /* next response to take */
    unsigned taken;
    int halted;
};

/* Initialises the shared page(s) (SHARED_RING_INIT: indices 0, events 1)
 * and the private half.  -EINVAL for a size that holds no entry. */
int xfe_ring_init(struct xfe_ring *r, void *sring, size_t bytes,
                  size_t ent_size);
/* Free request slots (requests not yet answered count as used). */
unsigned xfe_ring_free(const struct xfe_ring *r);
/* The next request slot to fill in place; NULL when the ring is full. */
void *xfe_ring_req_slot(struct xfe_ring *r);
/* Counts the slot filled last as made (not yet visible). */
void xfe_ring_req_done(struct xfe_ring *r);
/* Publishes the requests made; 1 when the backend asked for a
 * notification (req_event crossed).  Resets the per-pass bound. */
int xfe_ring_push(struct xfe_ring *r);
/* Copies the next response into rsp: 1, 0 (none, or per-pass bound),
 * -EPROTO (impossible producer index; halted for good). */
int xfe_ring_take(struct xfe_ring *r, void *rsp);
/* Before sleeping: 1 when responses are pending, else arms rsp_event and
 * checks again.  -EPROTO when halted. */
int xfe_ring_final_check(struct xfe_ring *r);

#endif
