/* SPDX-License-Identifier: MIT */
/*
 * xgnetfront.h: a network frontend (Xen's netif protocol, io/netif.h) for
 * xgrant guests, over libgrant and the xfe device framework.
 *
 * The model
 * ---------
 * A guest program attaches to one of its vifs,
 * /local/domain/<self>/device/vif/<devid>, which the toolstack wrote with
 * a link to the backend and the interface's `mac`.  xgnf_open waits for
 * the backend's InitWait, reads what it offers (feature-rx-copy is
 * required; feature-sg, feature-gso-tcpv4/-tcpv6,
 * feature-ipv6-csum-offload, feature-split-event-channels,
 * multi-queue-max-queues, feature-grant-ext), and connects as Linux's
 * netfront does (request-rx-copy, feature-rx-notify, feature-sg,
 * feature-gso-tcpv4/-tcpv6, feature-ipv6-csum-offload; straight to
 * Connected).  Each queue has a tx and an rx ring of one page (256
 * entries) and one event channel, or a tx/rx pair.
 *
 * Frames go out with xgnf_send (copied into the queue's tx buffers, up to
 * XGNF_MAX_SLOTS slots of a page, or of 16 KiB with feature-grant-ext, a
 * GSO extra slot when meta.gso_type is
 * set) and become visible to the backend at xgnf_flush.  Frames come in
 * through xgnf_recv, which hands out the packet in place (an iovec over
 * the queue's rx buffers, valid until the next xgnf_recv or xgnf_flush of
 * that queue); the rx ring is kept full of posted buffers by xgnf_flush.
 *
 * Grants.  With feature-grant-ext negotiated every tx slot's gref is an
 * extension grant covering EXACTLY the slot's bytes (READ): made in one
 * batch per xgnf_flush, kept by its tx page for the page's next slot of
 * the same length, revoked (in batches) once the page needs another
 * length (a slot may carry 16 KiB); every rx buffer is an extension grant
 * of exactly its 16 KiB (WRITE only; grant-ext-rx-buffer-size says so to
 * the backend).  The tx pages hold nothing but frames sent to this
 * backend, so it never reads anything of ours but bytes we sent it.
 * Otherwise the buffers are pages shared with Xen's standard grants
 * (grant_v1_share), as stock backends expect.
 *
 * A hostile backend.  Every response is copied out of the ring once and
 * checked: a tx response whose id is out of range or not in flight, an rx
 * response at a slot whose id is not the one posted there, a negative or
 * oversized status, offset+size past the buffer, a chain longer than
 * XGNF_MAX_SLOTS, garbage extra info: each is counted in xgnf_stats (the
 * packet dropped), never written outside our buffers.  A response producer
 * index beyond the requests in flight halts the ring for good
 * (XGNF_ERR_RING counted, xgnf_poll returns -EPROTO).
 *
 * Conventions: 0 (or a count) or -errno.  The grant handle and the xenbus
 * handle passed to xgnf_open are the device's alone while it is open (the
 * library consumes every event channel signal of the handle and every
 * store event of the xenbus handle).  One thread drives a device.
 * Nothing is logged.
 */
#ifndef XGNETFRONT_H
#define XGNETFRONT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "libgrant.h"
#include "libgrant_xenbus.h"

#define XGNF_MAX_QUEUES 8u
#define XGNF_MAX_SLOTS  18u    /* XEN_NETIF_NR_SLOTS_MIN */
#define XGNF_MAX_FRAME  65535u /* XEN_NETIF_MAX_TX_SIZE */
#define XGNF_MIN_FRAME  14u    /* ETH_HLEN */

struct xgnf;

struct xgnf_config {
    unsigned devid;
    unsigned max_queues; /* wished (0: 1); clamped to the backend's */
    int timeout_ms;      /* for each backend step of the handshake */
    int no_grant_ext;    /* 1: standard grants even if ext is offered */
    /* 1: one event channel per queue even where the backend offers split
     * ones (a caller serving both rings on any signal, as xgrant-netfront
     * does: the backend and xgnf_flush then signal once for both). */
    int one_evtchn;
};

/* What the backend offered and what was agreed. */
struct xgnf_info {
    uint8_t mac[6]; /* the frontend directory's `mac` */
    unsigned nr_queues;
    int grant_ext;
    int split_evtchn;
    int sg;        /* multi-slot packets (else <= 1 page frames) */
    int gso_tcpv4; /* the backend takes TCPv4 GSO frames */
    int gso_tcpv6; /* ... TCPv6 */
    int ipv6_csum; /* ... csum_blank IPv6 frames */
    int rx_notify; /* always 1: we notify on new rx buffers */
    unsigned mtu;  /* 1500, or 65535 - 14 with sg */
};

/* A frame's offload state, as the virtio-net header carries it. */
#define XGNF_GSO_NONE  0
#define XGNF_GSO_TCPV4 1 /* XEN_NETIF_GSO_TYPE_TCPV4 */
#define XGNF_GSO_TCPV6 2 /* XEN_NETIF_GSO_TYPE_TCPV6 */
struct xgnf_meta {
    int csum_blank;     /* the L4 checksum is still to be computed */
    int data_validated; /* the checksum is known good */
    uint16_t csum_start, csum_offset; /* rx with csum_blank: from the
                                         headers (0 if unparsable) */
    uint16_t hdr_len;                 /* rx GSO: headers' length */
    uint8_t gso_type;                 /* XGNF_GSO_* */
    uint16_t gso_size;                /* MSS */
};

/* One received frame, in place (see xgnf_recv). */
struct xgnf_pkt {
    struct iovec iov[XGNF_MAX_SLOTS + 1];
    unsigned niov;
    size_t len;
    struct xgnf_meta meta;
};

/* Counters of a device (all queues).  The err_* count what a hostile or
 * broken backend did; each one dropped what it touched. */
struct xgnf_stats {
    uint64_t tx_packets, tx_bytes, rx_packets, rx_bytes;
    uint64_t tx_errors;       /* NETIF_RSP_ERROR / _DROPPED answers */
    uint64_t rx_errors;       /* negative status from the backend */
    uint64_t err_tx_id;       /* tx response id out of range / not sent */
    uint64_t err_rx_id;       /* rx response id is not the one posted */
    uint64_t err_rx_size;     /* offset + size past the buffer */
    uint64_t err_rx_chain;    /* more than XGNF_MAX_SLOTS slots, or short */
    uint64_t err_rx_extra;    /* bad netif_extra_info */
    uint64_t err_ring;        /* response index jumped: ring halted */
    uint64_t err_grant;       /* a grant call failed */
    uint64_t rx_csum_unknown; /* csum_blank frame with unparsable headers */
};

/*
 * Attaches to device/vif/<cfg->devid> of this domain and connects (see
 * the model), blocking up to cfg->timeout_ms for each backend step.
 * -ENOENT (no such device, or no link to its backend yet: try again),
 * -ETIMEDOUT, -ENOTCONN (the backend closed), -EOPNOTSUPP (the backend has
 * no feature-rx-copy), -EPROTO (a malformed backend key or `mac`: a
 * feature flag not exactly "0" or "1", the frontend's `error` node naming
 * it), -ENOMEM, or a grant/port call's error.  On failure nothing is left
 * granted or bound and the device is Closed, unless it had no backend
 * link yet (the toolstack may still be writing it: left alone).
 */
int xgnf_open(struct xgnf **out, grant_handle_t *h, grant_xenbus_t *xb,
              const struct xgnf_config *cfg);
/* Closes in Xen's order (waits up to 5 s for the backend), revokes every
 * grant, frees.  NULL-safe. */
void xgnf_close(struct xgnf *nf);

const struct xgnf_info *xgnf_info(const struct xgnf *nf);
void xgnf_stats(const struct xgnf *nf, struct xgnf_stats *out);

/* One fd that polls readable when xgnf_poll has work (an event channel
 * signal or a store event); owned by the device. */
int xgnf_fd(const struct xgnf *nf);
/*
 * Consumes the signals and store events, takes tx responses (revoking
 * their grants, freeing their buffers) on every queue.  Never blocks.
 * Returns 0; -ENOTCONN once the backend has gone (the device is Closed:
 * close it); -EPROTO once a ring was halted by a hostile backend.
 */
int xgnf_poll(struct xgnf *nf);

/*
 * Queues one frame of `len` bytes (iov/iovcnt) on queue q: copied into
 * tx buffers now, handed to the backend at xgnf_flush.  -EAGAIN when the
 * ring or the buffers are full (poll, then retry), -EMSGSIZE (shorter
 * than XGNF_MIN_FRAME, longer than XGNF_MAX_FRAME, or more than a page
 * without feature-sg), -EOPNOTSUPP (a GSO type or csum_blank IPv6 the
 * backend did not offer), -EINVAL (q, meta), -EPROTO (ring halted).
 */
int xgnf_send(struct xgnf *nf, unsigned q, const struct iovec *iov, int iovcnt,
              const struct xgnf_meta *meta);
/*
 * xgnf_send without the copy: the tx buffers for one frame of up to `max`
 * bytes on queue q, in frame order, in iov[0 .. *n) (*n at most
 * XGNF_MAX_SLOTS); the caller fills them (a readv from a TAP) and hands
 * the frame's length to xgnf_send_commit, which queues it as xgnf_send
 * would (same checks and errors; the buffers are given back on an error),
 * or len 0 to give them back unused.  One reservation per queue at a time
 * (-EBUSY); -EAGAIN when there is no room for `max` bytes now.
 */
int xgnf_send_reserve(struct xgnf *nf, unsigned q, size_t max,
                      struct iovec *iov, unsigned *n);
int xgnf_send_commit(struct xgnf *nf, unsigned q, size_t len,
                     const struct xgnf_meta *meta);
/* Room for how many more frames of up to `len` bytes on queue q. */
unsigned xgnf_tx_room(const struct xgnf *nf, unsigned q, size_t len);
/*
 * Makes queue q's queued frames and newly freed rx buffers visible to the
 * backend (grants of the frames in one batch), notifying it when asked.
 * A frame whose grant cannot be made is dropped and counted.
 */
int xgnf_flush(struct xgnf *nf, unsigned q);
/*
 * The next received frame of queue q, in place: 1 (frame in *p, valid
 * until the next xgnf_recv or xgnf_flush of q), 0 (none yet), -EPROTO
 * (ring halted).  Bad responses are skipped and counted, never returned.
 */
int xgnf_recv(struct xgnf *nf, unsigned q, struct xgnf_pkt *p);

/* Fills csum_start/csum_offset (and hdr_len) of m from an Ethernet
 * frame's headers (IPv4/IPv6 with TCP or UDP, one 802.1Q tag allowed):
 * 0, or -EPROTONOSUPPORT.  Exposed for tests. */
int xgnf_csum_locate(const uint8_t *frame, size_t len, struct xgnf_meta *m);

#endif
