/* SPDX-License-Identifier: MIT */
/* private.h: libxgnetfront's internals (device.c, tx.c, rx.c, csum.c). */
#ifndef XGNF_PRIVATE_H
#define XGNF_PRIVATE_H

/* Xen's grant_table.h (through netif.h) has a grant_handle_t of its own
 * (a map handle): renamed here, libgrant's is the one used. */
#include <stdint.h>
#define grant_handle_t xen_grant_handle_t
#include <xen/io/netif.h>
#undef grant_handle_t

#include "xfe.h"
#include "xgnetfront.h"

#define NF_RING_ENTS 256u /* NET_TX/RX_RING_SIZE of a one-page ring */
#define NF_BUF       GRANT_PAGE_SIZE
/* A tx id's buffer with extension grants: a slot's grant is byte-exact and
 * may span pages, so a 64 KiB frame takes 5 slots, not 17, and the ring
 * holds about 3 times the bytes in flight (what bounds throughput when a
 * round trip waits for the scheduler). */
#define NF_TX_BUF_EXT (4u * GRANT_PAGE_SIZE)

/* A tx request or extra slot waiting for xgnf_flush. */
struct nf_pend {
    int extra;
    union {
        struct netif_tx_request req;
        struct netif_extra_info ex;
    } u;
};

#define NF_STALE_BATCH 64u  /* replaced tx grants revoked per call */
#define NF_STALE_MAX   512u /* at most this many wait */

/* A tx page: free, in q->pend, or in the ring. */
enum { TX_FREE, TX_QUEUED, TX_FLIGHT };

struct nf_queue {
    unsigned idx;
    struct xfe_ring *tx, *rx;
    /* tx: one page per request id */
    uint8_t *tx_mem;
    grant_v1_ref_t tx_v1[NF_RING_ENTS];
    grant_ref_t tx_ref[NF_RING_ENTS];
    uint16_t tx_len[NF_RING_ENTS];   /* the slot's bytes */
    uint16_t tx_glen[NF_RING_ENTS];  /* tx_ref's bytes; 0: no grant */
    grant_ref_t stale[NF_STALE_MAX]; /* replaced, to revoke */
    unsigned nstale;
    uint8_t tx_state[NF_RING_ENTS];
    uint16_t tx_free[NF_RING_ENTS];
    unsigned tx_nfree;
    struct nf_pend pend[NF_RING_ENTS];
    unsigned npend;
    /* buffers lent by xgnf_send_reserve until xgnf_send_commit */
    uint16_t resv[XGNF_MAX_SLOTS];
    unsigned nresv;
    size_t resv_max;
    /* rx: buffer i is posted at every ring position p with p % 256 == i */
    uint8_t *rx_mem;
    grant_ref_t rx_ref[NF_RING_ENTS]; /* ext refs or v1 refs */
    unsigned rx_granted;
    RING_IDX rx_free_to; /* buffers of positions < this are ours again */
    /* the frame being taken (responses may arrive in parts) */
    struct xgnf_pkt cur;
    RING_IDX cur_start;
    int in_pkt, want_extra, more, bad, nextras, ndata;
};

struct xgnf {
    grant_handle_t *h;
    grant_xenbus_t *xb;
    struct xfe_dev *dev;
    struct xfe_ops ops;
    struct xgnf_info info;
    struct xgnf_stats st;
    char dir[GRANT_XENBUS_PATH_MAX];
    char *be_dir;
    unsigned be_id;
    int epfd;
    int connected; /* data buffers set up */
    /* The backend offered feature-grant-ext-rx-map: with grant-ext the rx
     * buffers are granted WRITE|MAP (the backend maps them once). */
    int rx_map;
    /* The backend offered feature-grant-ext-tx-map: with grant-ext each tx
     * buffer is granted READ|MAP once, whole, and every slot in it names
     * that grant (the backend maps it once; no grant call per slot). */
    int tx_map;
    int halted;
    int gone;
    struct nf_queue q[XGNF_MAX_QUEUES];
};

/* An rx buffer with extension grants (grant-ext-rx-buffer-size): a
 * 64 KiB packet fills 5 slots, not 17, so the rx ring holds about 3
 * times the bytes too.  At most 32 KiB (a response's status is an int16);
 * the backend takes up to 4 pages. */
#define NF_RX_BUF_EXT (4u * GRANT_PAGE_SIZE)
/* rx.c: the bytes of one rx buffer */
unsigned nf_rx_buf(const struct xgnf *nf);

/* tx.c */
/* The bytes of one tx id's buffer (and most of one tx slot). */
unsigned nf_tx_buf(const struct xgnf *nf);
int nf_tx_setup(struct xgnf *nf, struct nf_queue *q);
void nf_tx_teardown(struct xgnf *nf, struct nf_queue *q);
void nf_tx_gc(struct xgnf *nf, struct nf_queue *q);
/* rx.c */
int nf_rx_setup(struct xgnf *nf, struct nf_queue *q);
void nf_rx_teardown(struct xgnf *nf, struct nf_queue *q);
int nf_rx_refill(struct xgnf *nf, struct nf_queue *q);
/* Posts the free rx buffers: 1 when the backend wants a notification. */
int nf_rx_post(struct nf_queue *q);
/* device.c */
void nf_halt(struct xgnf *nf);
/* 0 when queue qi can move frames; -EINVAL, -EPROTO (halted), -ENOTCONN. */
int nf_usable(const struct xgnf *nf, unsigned qi);

#endif
