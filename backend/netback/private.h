/* SPDX-License-Identifier: MIT */
/*
 * private.h: xgrant-netback's internals.  One daemon serves every vif of
 * its domain from one thread: an epoll loop over the store, the event
 * channels (one pending fd for all ports) and each vif's TAP queues.
 *
 * Directions are named as Linux's netback names them on the vif: RX is
 * what the frontend transmits (tx ring -> TAP), TX is what reaches the
 * frontend (TAP -> rx ring).  The rings keep the protocol's names.
 */
#ifndef NETBACK_PRIVATE_H
#define NETBACK_PRIVATE_H

#include <net/if.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/virtio_net.h>

/* Xen's grant_table.h names its map handle grant_handle_t, libgrant its
 * handle: Xen's is renamed here (netback never uses it). */
#define grant_handle_t xen_grant_handle_t
#include <xen/io/netif.h>
#undef grant_handle_t

#include "xbe.h"

#define NB_PAGE       4096u
#define NB_VNET_HDR   ((unsigned)sizeof(struct virtio_net_hdr))
#define NB_MAX_PKT    65535u                 /* XEN_NETIF_MAX_TX_SIZE */
#define NB_MAX_FRAME  (NB_MAX_PKT + 14u)     /* what a TAP may hand us (GSO) */
#define NB_SLOTS_MAX  XEN_NETIF_NR_SLOTS_MIN /* data slots of a packet */
#define NB_EXTRAS_MAX (XEN_NETIF_EXTRA_TYPE_MAX - 1)
#define NB_BATCH      64u /* packets per pass of a queue */
#define NB_ETH_HLEN   14u
/* Largest rx buffer a frontend may post with feature-grant-ext
 * (grant-ext-rx-buffer-size): a response's status is an int16. */
#define NB_RX_BUF_MAX (4u * NB_PAGE)
/* Buffers mapped per vif and direction (feature-grant-ext-rx-map,
 * feature-grant-ext-tx-map): 4 queues of 256. */
#define NB_RXMAP_MAX 1024u
/* A mapped tx packet's head (its headers) is copied into the stage: the
 * checks and the virtio-net header read bytes the frontend cannot change
 * under us, and the TAP gets those very bytes. */
#define NB_TX_HEAD 256u

/* ---- Counters (statistics/ in the backend directory) ------------------- */

enum nb_stat {
    NB_RX_PACKETS, /* from the frontend, onto the TAP */
    NB_RX_BYTES,
    NB_TX_PACKETS, /* from the TAP, into the frontend */
    NB_TX_BYTES,
    NB_DROP_RX_RUNT,      /* shorter than an Ethernet header */
    NB_DROP_RX_OVERSIZE,  /* more than 64 KiB, or slots summing past size */
    NB_DROP_RX_SLOTS,     /* more than 18 data slots */
    NB_DROP_RX_BAD_SLOT,  /* crosses its page, or an offset in a byte grant */
    NB_DROP_RX_ZERO_FRAG, /* a zero-length fragment (XSA-448) */
    NB_DROP_RX_BAD_EXTRA, /* garbage netif_extra_info */
    NB_DROP_RX_COPY,      /* the grant copy failed (bad gref, past it), or
                             a mapped tx buffer faulted (protected) */
    NB_DROP_RX_CSUM,      /* csum_blank/GSO on a packet not TCP/UDP */
    NB_DROP_RX_TAP,       /* the TAP refused the packet */
    NB_DROP_TX_NO_BUFFER, /* the frontend posted no rx buffers in time */
    NB_DROP_TX_TOO_BIG,   /* needs more slots than the frontend takes */
    NB_DROP_TX_COPY,      /* the grant copy into the frontend failed */
    NB_DROP_TX_BAD_VNET,  /* the TAP's header made no sense */
    NB_STAT_MAX
};
extern const char *const nb_stat_name[NB_STAT_MAX];

/* ---- The daemon ---------------------------------------------------------- */

struct nb_opts {
    unsigned max_queues;
    unsigned rx_stall_ms; /* frontend not posting: drop after this */
    unsigned stats_ms;    /* statistics/ written at most this often */
    int daemon, once;
    int no_rx_map; /* feature-grant-ext-rx-map not offered */
    int no_tx_map; /* feature-grant-ext-tx-map not offered */
    const char *log;
};

/* What epoll hands back: the kind of source and its object. */
enum nb_src_kind {
    NB_SRC_STORE,
    NB_SRC_EVTCHN,
    NB_SRC_TAP,
    NB_SRC_SIGNAL,
    NB_SRC_REVOKE
};
struct nb_src {
    enum nb_src_kind kind;
    void *obj;
};

/* A batch of grant copies with the frontend of one vif (copy.c). */
struct nb_copy {
    int v1; /* standard grants */
    unsigned n, cap;
    struct grant_copy_seg *ext;
    struct grant_v1_copy_seg *v1s;
};

struct nb {
    struct nb_opts opt;
    grant_handle_t *h;
    grant_xenbus_t *xb;
    struct xbe *bus;
    int epfd, xen; /* xen: the real-Xen transport (hotplug scripts) */
    struct nb_src src_store, src_evtchn, src_signal, src_revoke;
    int sigfd;
    struct nb_vif **vifs;
    unsigned nr_vifs, cap_vifs;
    unsigned served; /* vifs ever connected (--once) */
    /* Staging memory (the domain's own, as copies want): one pass of one
     * queue at a time, the daemon being single-threaded. */
    uint8_t *stage;
    size_t stage_len;
    struct nb_copy copy;
};

/* ---- A vif --------------------------------------------------------------- */

/* A mapped buffer (bufmap.c); addr NULL: the ref is copied. */
struct nb_mapent {
    grant_ref_t ref;
    void *addr;
    int used;
};

/* A vif's table of mapped buffers of one direction (bufmap.c). */
struct nb_bufmap {
    int on;         /* the feature negotiated */
    unsigned len;   /* bytes of each buffer (whole pages) */
    unsigned flags; /* grant_map's: GRANT_MAP_RDONLY for tx */
    struct nb_mapent *maps;
    unsigned n;
};

/* A packet from the tx ring being gathered (tx.c). */
struct nb_txpkt {
    netif_tx_request_t req[NB_SLOTS_MAX];
    netif_extra_info_t extra[NB_EXTRAS_MAX];
    unsigned nreq, nextra, extra_ids; /* ids: extras answered NULL */
    uint16_t extra_id[NB_EXTRAS_MAX];
    unsigned want_extras; /* more extra slots follow */
    unsigned more;        /* more data slots follow */
    unsigned sum;         /* sizes of the slots after the first */
    enum nb_stat drop;    /* NB_STAT_MAX: fine so far */
    int started, shed;    /* shed: over the slot limit, answered as taken */
    size_t off;           /* where its bytes go in the stage */
    unsigned seg0, nseg;  /* its copy segments */
    /* Mapped (feature-grant-ext-tx-map): written from the mappings, its
     * head (vnet header + head bytes) at off in the stage. */
    int mapped;
    unsigned head;
    void *addr[NB_SLOTS_MAX];
};

struct nb_queue {
    struct nb_vif *vif;
    unsigned idx;
    struct xbe_ring *tx, *rx;
    uint32_t port_tx, port_rx;
    struct nb_src src_tap;
    int tap_reg;   /* the TAP descriptor is in the epoll set */
    int tap_armed; /* with EPOLLIN */
    int work;      /* serve again without waiting */
    struct nb_txpkt cur;
    /* Posted rx requests taken from the ring, answered in order. */
    netif_rx_request_t *rxq;
    unsigned rxq_size, rxq_head, rxq_len;
    /* A packet from the TAP waiting for rx buffers. */
    uint8_t *hold;
    size_t hold_len;
    int holding, draining;
    uint64_t hold_since_ms;
};

struct nb_vif {
    struct nb *nb;
    struct xbe_dev *d;
    char ifname[IFNAMSIZ];
    int tap[XBE_MAX_QUEUES]; /* [0] from probe to remove */
    unsigned nr_q;
    int connected;
    int dead; /* its frontend vanished: nothing served until the store
                 says so */
    /* The frontend's features. */
    int sg, gso4, gso6, csum, csum6, rx_notify;
    unsigned rx_buf; /* bytes of each posted rx buffer */
    /* Mapped buffers: rx (feature-grant-ext-rx-map), tx
     * (feature-grant-ext-tx-map). */
    struct nb_bufmap rxm, txm;
    int rx_direct; /* the TAP read straight into them (logged once) */
    int tx_direct; /* the TAP written from the tx mappings (logged once) */
    /* rate=: credit_bytes every credit_us (0: unlimited). */
    uint64_t credit_bytes, credit_us, remaining;
    uint64_t next_credit_ms;
    struct nb_queue q[XBE_MAX_QUEUES];
    uint64_t st[NB_STAT_MAX], st_written[NB_STAT_MAX];
    int st_ever;
    uint64_t st_flush_ms;
    /* Rate-limited log of peer-caused errors. */
    uint64_t log_window_ms;
    unsigned log_count, log_suppressed;
};

/* main.c */
uint64_t nb_now_ms(void);
void nb_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A peer-caused error: at most 10 lines a second per vif. */
void nb_vif_log(struct nb_vif *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int nb_epoll_set(struct nb *nb, int fd, struct nb_src *src, unsigned events,
                 int add);

/* vif.c */
extern struct xbe_ops nb_xbe_ops;
void nb_vif_flush_stats(struct nb_vif *v, int force);
void nb_vif_drop(struct nb_vif *v, enum nb_stat why, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
struct nb_queue *nb_port_queue(struct nb *nb, uint32_t port, int *is_rx);

/* tap.c */
int nb_tap_open(const char *name, int *fd);
int nb_tap_setup(const char *name, const char *bridge, unsigned mtu, char *err,
                 size_t len);
int nb_tap_offload(int fd, unsigned flags);
void nb_tap_carrier(int fd, int on);

/* bufmap.c: the frontend's buffers mapped, a table per direction.
 * get: ref's mapping in t (mapped on first use), NULL when it is copied.
 * forget: the n refs' mappings dropped, copied from now on (their buffers
 * were protected under us).  revoked: the revoke events drained (before a
 * table is used).  clear: every mapping of t unmapped.
 * rxmap_write: len bytes into the n mapped rx buffers addrs (of refs),
 * rx_buf each; 0, or -errno (then those refs are copied from now on). */
void *nb_map_get(struct nb_vif *v, struct nb_bufmap *t, grant_ref_t ref);
void nb_map_forget(struct nb_vif *v, struct nb_bufmap *t,
                   const grant_ref_t *refs, unsigned n);
void nb_map_revoked(struct nb *nb);
void nb_map_clear(struct nb_vif *v, struct nb_bufmap *t);
int nb_rxmap_write(struct nb_vif *v, const uint8_t *data, size_t len,
                   const grant_ref_t *refs, void *const *addrs, unsigned n);

/* guard.c: len bytes copied from src, memory that may be protected under
 * us (a frontend's mapped buffer): 0, or -EFAULT when a load from
 * [src, src + len) faulted (caught, not fatal). */
int nb_peek(void *dst, const void *src, size_t len);
/* Whether every page of [p, p + len) takes a store (each page's first
 * byte there written back as it is): 0, or -EFAULT when one is read-only
 * or protected (caught).  For after a TAP read into mapped buffers: the
 * kernel's tun drops the bytes it cannot store and still returns the
 * frame's length, so no EFAULT says a buffer was protected. */
int nb_writable(void *p, size_t len);

/* csum.c */
/* The transport header of an Ethernet frame: *l4 its offset, *proto
 * IPPROTO_TCP/UDP, *v6.  0, or -EPROTO when it is not TCP/UDP over IPv4/6
 * within len bytes. */
int nb_l4(const uint8_t *f, size_t len, unsigned *l4, unsigned *proto, int *v6);
/* Puts the pseudo-header sum in the checksum field (partial, as
 * CHECKSUM_PARTIAL wants it). */
void nb_csum_pseudo(uint8_t *f, size_t len, unsigned l4, unsigned proto,
                    int v6);
/* Completes a partial checksum: sums [start, len) into start + off. */
int nb_csum_complete(uint8_t *f, size_t len, unsigned start, unsigned off);

/* copy.c */
void nb_copy_reset(struct nb_copy *c, int v1);
/* Adds a segment between local memory and (fe, ref, off); to_fe: into the
 * frontend's buffer.  Returns its index or -ENOMEM. */
int nb_copy_add(struct nb_copy *c, int to_fe, void *local, grant_domid_t fe,
                uint32_t ref, unsigned off, unsigned len);
void nb_copy_run(struct nb_copy *c, grant_handle_t *h);
int nb_copy_status(const struct nb_copy *c, unsigned i);
void nb_copy_free(struct nb_copy *c);

/* A pass over a queue (main.c serve_queue) runs in two halves around its
 * one grant-copy call: prepare gathers and adds copy segments (its bytes
 * in stage[0, stage_len)), complete moves the results on and pushes the
 * responses, returning 1 when the frontend wants a notification. */
/* tx.c: the tx ring onto the TAP (the vif's RX); prepare: 0, or -EPROTO
 * when the frontend's index jumped (complete still runs). */
int nb_tx_prepare(struct nb_queue *q, uint8_t *stage, size_t stage_len);
int nb_tx_complete(struct nb_queue *q);
/* rx.c: the TAP into the rx ring (the vif's TX); prepare: 0, or -EPROTO
 * (then complete must not run). */
int nb_rx_prepare(struct nb_queue *q, uint8_t *stage, size_t stage_len);
int nb_rx_complete(struct nb_queue *q);
void nb_rx_reset(struct nb_queue *q);
/* A packet held longer than stall_ms is dropped; the queue drains. */
void nb_rx_check_stall(struct nb_queue *q, uint64_t now, unsigned stall_ms);

#endif
