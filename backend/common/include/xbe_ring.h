/* SPDX-License-Identifier: MIT */
/*
 * xbe_ring.h: the back half of a Xen shared ring (io/ring.h), for any
 * request/response type, written for a peer that lies.
 *
 * The ring page is shared with the frontend, which may change any byte at
 * any time.  So:
 *  - every request is copied out of the ring ONCE (xbe_ring_take) and the
 *    driver validates the copy, never the slot (XSA-155);
 *  - the frontend's producer index is read once per xbe_ring_take and
 *    checked against what a correct frontend could have produced (at most
 *    one ring of requests beyond the responses we made): an index that
 *    jumps further halts the ring (-EPROTO) and the caller moves the device
 *    to Closing (Linux's RING_REQUEST_PROD_OVERFLOW);
 *  - a response is written field by field into its slot
 *    (xbe_ring_rsp_slot), never built elsewhere and copied with padding
 *    (XSA-216), then published by xbe_ring_push;
 *  - a loop over requests is bounded by the ring's size per pass
 *    (xbe_ring_take returns 0 after nr_ents takes until the next
 *    xbe_ring_push or xbe_ring_final_check).
 *
 * Indices are free-running 32-bit counters as in io/ring.h; slots are
 * index & (nr_ents - 1).  Nothing here allocates, blocks or logs; one
 * thread drives a ring.
 */
#ifndef XBE_RING_H
#define XBE_RING_H

#include <stddef.h>
#include <stdint.h>

#include <xen/io/ring.h>

/* Bytes of the shared ring header before the entries (io/ring.h's
 * req_prod, req_event, rsp_prod, rsp_event, pvt, __pad). */
#define XBE_SRING_HDR 64u

struct xbe_ring {
    volatile RING_IDX *sring; /* the shared page(s): [0] req_prod, [1]
                                 req_event, [2] rsp_prod, [3] rsp_event */
    uint8_t *ents;            /* first entry */
    size_t ent_size;          /* sizeof(union <name>_sring_entry) */
    unsigned nr_ents;         /* power of two */
    RING_IDX req_cons;        /* next request to take */
    RING_IDX rsp_prod_pvt;    /* responses made, not necessarily pushed */
    unsigned taken;           /* takes since the last push/final check */
    int halted;               /* the frontend broke the index rules */
};

/*
 * Attaches to a ring the frontend initialised, of `bytes` bytes (one or
 * more pages) with entries of `ent_size` bytes: as BACK_RING_ATTACH with
 * the indices the frontend has published, so a ring reconnected after a
 * backend restart resumes where the last response was pushed.  -EINVAL for
 * a size that holds no entry.  Reads the shared indices once.
 */
int xbe_ring_attach(struct xbe_ring *r, void *sring, size_t bytes,
                    size_t ent_size);

/*
 * Copies the next request into `req` (ent_size bytes): 1 when one was
 * taken, 0 when none is pending (or the per-pass bound was reached),
 * -EPROTO when the frontend's producer index is impossible (the ring is
 * halted from then on: every later call returns -EPROTO).
 */
int xbe_ring_take(struct xbe_ring *r, void *req);

/* The slot of the next response, to fill field by field; NULL when every
 * request taken has been answered (a driver bug, not the peer's). */
void *xbe_ring_rsp_slot(struct xbe_ring *r);
/* Counts the slot filled last as made (not yet visible to the peer). */
void xbe_ring_rsp_done(struct xbe_ring *r);

/*
 * Publishes the responses made (write barrier first) and returns 1 when
 * the frontend asked to be notified (rsp_event crossed), else 0.  Resets
 * the per-pass bound.
 */
int xbe_ring_push(struct xbe_ring *r);

/*
 * Before sleeping: 1 if requests are pending, else sets req_event so the
 * frontend notifies on the next one and checks again (the race closed by
 * a full barrier).  Resets the per-pass bound.  -EPROTO when halted.
 */
int xbe_ring_final_check(struct xbe_ring *r);

#endif
