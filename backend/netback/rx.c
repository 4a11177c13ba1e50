/* SPDX-License-Identifier: MIT */
/*
 * rx.c: the TAP into the rx ring, what reaches the frontend (counted as
 * the vif's TX, as Linux counts it).  Receive-copy only: the frontend
 * posts buffers (one page each: a standard grant, or with feature-grant-ext
 * a byte grant of the buffer it posted, grant-ext-rx-buffer-size bytes,
 * a page unless it says), the backend copies into them, or, with
 * feature-grant-ext-rx-map, writes into its mappings of them (bufmap.c),
 * reading the TAP straight into them when it can (direct_frame).
 *
 * The posted requests are taken from the ring into a FIFO as they come
 * and answered in ring order (a Linux netfront finds a response's buffer
 * by its ring position).  A packet takes one slot per buffer of its bytes
 * (at most 18; one without feature-sg) plus one for a GSO extra, laid out
 * as netif wants it: first data slot, the extra, the other data slots.
 * A pass reads up to NB_BATCH packets from the queue's TAP descriptor,
 * copies them all with one grant-copy call (the pass's, shared with the tx
 * ring's copies: main.c serve_queue) and answers their slots.
 *
 * A packet that does not fit the buffers posted is HELD (copied into the
 * queue's own buffer) and the TAP is not read until the frontend posts
 * more: the kernel's TAP queue is the bounded backlog.  A frontend that
 * posts nothing for --rx-stall-ms has the held packet dropped and the
 * queue DRAINS (every packet that does not fit is dropped and counted)
 * until a packet fits again, so a stuck frontend never makes the host
 * queue without bound (XSA-392).
 *
 * Offloads come in the TAP's virtio-net header: NEEDS_CSUM is passed on
 * as csum_blank|data_validated when the frontend takes partial checksums
 * of that kind (else the checksum is completed here), DATA_VALID as
 * data_validated, GSO TCPv4/v6 as a GSO extra.  The TAP only sends GSO the
 * frontend said it takes (nb_tap_offload at connect).
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "private.h"

/* A packet planned into the posted buffers this pass. */
struct rxpkt {
    uint8_t *data;
    unsigned len, slots; /* data slots */
    uint16_t flags;      /* NETRXF_csum_blank, data_validated */
    uint16_t gso_size;
    uint8_t gso_type;    /* XEN_NETIF_GSO_TYPE_*, NONE: no extra */
    unsigned first;      /* its first posted request (FIFO position) */
    unsigned seg0, nseg; /* its grant copies (none: written mapped) */
    int mapped_rc;       /* the mapped write's result */
};

void nb_rx_reset(struct nb_queue *q)
{
    free(q->rxq);
    q->rxq = NULL;
    q->rxq_size = q->rxq_head = q->rxq_len = 0;
    q->holding = q->draining = 0;
}

static netif_rx_request_t *posted(struct nb_queue *q, unsigned k)
{
    return &q->rxq[(q->rxq_head + k) % q->rxq_size];
}

/* Moves the requests the frontend posted into the FIFO. */
static int take_posted(struct nb_queue *q)
{
    union netif_rx_sring_entry e;
    int rc;

    while (q->rxq_len < q->rxq_size) {
        rc = xbe_ring_take(q->rx, &e);
        if (rc <= 0)
            return rc;
        q->rxq[(q->rxq_head + q->rxq_len++) % q->rxq_size] = e.req;
    }
    return 0;
}

/*
 * What the virtio-net header asks, for a frontend with v's features:
 * fills p's flags and GSO; 0, or the counter to drop it under, or
 * NB_STAT_MAX when the checksum must be completed here and can_complete
 * is 0 (p->data holds only the frame's head).
 */
static int offloads(const struct nb_vif *v, const struct virtio_net_hdr *h,
                    struct rxpkt *p, int can_complete)
{
    unsigned gso = h->gso_type & ~(unsigned)VIRTIO_NET_HDR_GSO_ECN;
    unsigned l4 = 0, proto = 0;
    int v6 = 0, std;

    if (gso == VIRTIO_NET_HDR_GSO_TCPV4 && v->gso4)
        p->gso_type = XEN_NETIF_GSO_TYPE_TCPV4;
    else if (gso == VIRTIO_NET_HDR_GSO_TCPV6 && v->gso6)
        p->gso_type = XEN_NETIF_GSO_TYPE_TCPV6;
    else if (gso != VIRTIO_NET_HDR_GSO_NONE)
        return NB_DROP_TX_BAD_VNET; /* an offload we never turned on */
    p->gso_size = p->gso_type ? h->gso_size : 0;
    if (p->gso_type && p->gso_size == 0)
        return NB_DROP_TX_BAD_VNET;
    if (!(h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)) {
        if (p->gso_type)
            return NB_DROP_TX_BAD_VNET;
        if (h->flags & VIRTIO_NET_HDR_F_DATA_VALID)
            p->flags = NETRXF_data_validated;
        return 0;
    }
    /* A partial checksum the frontend can finish: TCP/UDP where netif
     * says (the transport header the frontend finds itself). */
    std = nb_l4(p->data, p->len, &l4, &proto, &v6) == 0 &&
          l4 == h->csum_start &&
          h->csum_offset == (proto == IPPROTO_TCP ? 16 : 6) &&
          (v6 ? v->csum6 : v->csum);
    if (std) {
        p->flags = NETRXF_csum_blank | NETRXF_data_validated;
        return 0;
    }
    if (!can_complete && !p->gso_type)
        return NB_STAT_MAX; /* completed once the frame is staged */
    if (p->gso_type ||
        nb_csum_complete(p->data, p->len, h->csum_start, h->csum_offset) < 0)
        return NB_DROP_TX_BAD_VNET;
    p->flags = NETRXF_data_validated;
    return 0;
}

/* Checks a frame read from the TAP (header + bytes): 0 and p filled, or
 * the counter to drop it under. */
static int classify(const struct nb_vif *v, uint8_t *buf, size_t n,
                    struct rxpkt *p)
{
    struct virtio_net_hdr h;
    int why;

    memset(p, 0, sizeof(*p));
    if (n < NB_VNET_HDR + NB_ETH_HLEN)
        return NB_DROP_TX_BAD_VNET;
    memcpy(&h, buf, sizeof(h));
    p->data = buf + NB_VNET_HDR;
    p->len = (unsigned)(n - NB_VNET_HDR);
    why = offloads(v, &h, p, 1);
    if (why)
        return why;
    p->slots = (p->len + v->rx_buf - 1) / v->rx_buf;
    if (p->slots > (v->sg ? NB_SLOTS_MAX : 1u))
        return NB_DROP_TX_TOO_BIG;
    return 0;
}

static unsigned ring_slots(const struct rxpkt *p)
{
    return p->slots + (p->gso_type ? 1u : 0u);
}

/* The copies of p into the posted buffers from FIFO position `first`. */
static int plan(struct nb_queue *q, struct rxpkt *p, unsigned first)
{
    struct nb *nb = q->vif->nb;
    grant_domid_t fe = (grant_domid_t)xbe_dev_fe_id(q->vif->d);
    unsigned i, k = first, off = 0, len, buf = q->vif->rx_buf;
    grant_ref_t refs[NB_SLOTS_MAX];
    void *addrs[NB_SLOTS_MAX];

    p->first = first;
    p->seg0 = nb->copy.n;
    p->nseg = 0;
    /* Every buffer mapped: written here, no copy. */
    for (i = 0; i < p->slots; i++) {
        refs[i] = posted(q, k)->gref;
        if (!(addrs[i] = nb_map_get(q->vif, &q->vif->rxm, refs[i])))
            break;
        k += (i == 0 && p->gso_type) ? 2 : 1;
    }
    if (i == p->slots) {
        p->mapped_rc =
            nb_rxmap_write(q->vif, p->data, p->len, refs, addrs, p->slots);
        return 0;
    }
    k = first;
    for (i = 0; i < p->slots; i++) {
        len = p->len - off < buf ? p->len - off : buf;
        if (nb_copy_add(&nb->copy, 1, p->data + off, fe, posted(q, k)->gref, 0,
                        len) < 0)
            return -ENOMEM;
        off += len;
        k += (i == 0 && p->gso_type) ? 2 : 1; /* the extra's slot */
        p->nseg++;
    }
    return 0;
}

static void answer(struct nb_queue *q, uint16_t id, uint16_t flags,
                   int16_t status)
{
    netif_rx_response_t *r = xbe_ring_rsp_slot(q->rx);

    if (!r)
        return;
    /* Field by field in the shared slot (XSA-216). */
    r->id = id;
    r->offset = 0;
    r->flags = flags;
    r->status = status;
    xbe_ring_rsp_done(q->rx);
}

static void answer_extra(struct nb_queue *q, const struct rxpkt *p)
{
    netif_extra_info_t *x = xbe_ring_rsp_slot(q->rx);

    if (!x)
        return;
    x->type = XEN_NETIF_EXTRA_TYPE_GSO;
    x->flags = 0;
    x->u.gso.size = p->gso_size;
    x->u.gso.type = p->gso_type;
    x->u.gso.pad = 0;
    x->u.gso.features = 0;
    xbe_ring_rsp_done(q->rx);
}

/* Answers p's slots in ring order; a failed copy fails every slot. */
static void complete(struct nb_queue *q, const struct rxpkt *p)
{
    struct nb_vif *v = q->vif;
    unsigned i, k = p->first, off = 0, len;
    int rc = p->nseg ? 0 : p->mapped_rc;
    uint16_t fl;

    for (i = 0; i < p->nseg && rc == 0; i++)
        rc = nb_copy_status(&v->nb->copy, p->seg0 + i);
    for (i = 0; i < p->slots; i++, k++) {
        len = p->len - off < v->rx_buf ? p->len - off : v->rx_buf;
        off += len;
        fl = i + 1 < p->slots ? NETRXF_more_data : 0;
        if (i == 0)
            fl |= p->flags | (p->gso_type ? NETRXF_extra_info : 0);
        answer(q, posted(q, k)->id, fl,
               rc < 0 ? NETIF_RSP_ERROR : (int16_t)len);
        if (i == 0 && p->gso_type)
            answer_extra(q, p), k++;
    }
    if (rc < 0) {
        nb_vif_drop(v, NB_DROP_TX_COPY, "rx buffer (gref %u): %s %s",
                    posted(q, p->first)->gref, p->nseg ? "copy" : "write",
                    grant_strerror(rc));
        return;
    }
    v->st[NB_TX_PACKETS]++;
    v->st[NB_TX_BYTES] += p->len;
}

static int hold(struct nb_queue *q, const uint8_t *buf, size_t n)
{
    if (!q->hold &&
        grant_mem_alloc(q->vif->nb->h,
                        (NB_VNET_HDR + NB_MAX_FRAME + NB_PAGE - 1) / NB_PAGE,
                        (void **)&q->hold) < 0)
        return -ENOMEM;
    memmove(q->hold, buf, n);
    q->hold_len = n;
    q->holding = 1;
    q->hold_since_ms = nb_now_ms();
    return 0;
}

/* The TAP descriptor is read only while a packet could be placed. */
static void arm_tap(struct nb_queue *q, int on)
{
    struct nb_vif *v = q->vif;

    if (q->tap_armed == on || v->tap[q->idx] < 0)
        return;
    if (nb_epoll_set(v->nb, v->tap[q->idx], &q->src_tap, on ? 1u : 0u, 0) == 0)
        q->tap_armed = on;
}

/* One pass over a queue. */
struct rx_pass {
    struct rxpkt batch[NB_BATCH]; /* (static: one pass at a time) */
    uint8_t *stage;               /* this pass's part of the stage */
    size_t stage_len, used;       /* its bytes, those taken */
    unsigned n, k; /* packets planned, posted requests they take */
    uint8_t *late; /* a frame to hold once the copies are done */
    size_t late_len;
};

#define RX_ROOM ((size_t)NB_VNET_HDR + NB_MAX_FRAME)

/* The next frame: the held one, or one read from the TAP into the stage;
 * NULL when there is none (or no room for one). */
static uint8_t *next_frame(struct nb_queue *q, struct rx_pass *ps, size_t *len)
{
    ssize_t got;

    if (q->holding) {
        *len = q->hold_len;
        return q->hold;
    }
    if (ps->used + RX_ROOM > ps->stage_len)
        return NULL;
    got = read(q->vif->tap[q->idx], ps->stage + ps->used, RX_ROOM);
    if (got <= 0)
        return NULL;
    *len = (size_t)got;
    return ps->stage + ps->used;
}

/* One frame: 1 planned, 0 dropped, -1 it waits for buffers (the pass
 * ends). */
static int take_frame(struct nb_queue *q, struct rx_pass *ps, uint8_t *buf,
                      size_t len)
{
    struct rxpkt *p = &ps->batch[ps->n];
    int why = classify(q->vif, buf, len, p), held = buf == q->hold;

    if (why == 0 && ring_slots(p) > q->rxq_len - ps->k) {
        if (!q->draining && ring_slots(p) <= q->rxq_size) {
            /* Kept until the frontend posts: copied aside once this
             * pass's copies are done (the stage is theirs till then). */
            if (!held) {
                ps->late = buf;
                ps->late_len = len;
            }
            return -1;
        }
        why = NB_DROP_TX_NO_BUFFER;
    }
    q->holding = 0;
    if (!held)
        ps->used += (len + 63u) & ~(size_t)63u;
    if (why) {
        nb_vif_drop(q->vif, (enum nb_stat)why,
                    "%zu-byte packet from the TAP dropped",
                    len > NB_VNET_HDR ? len - NB_VNET_HDR : 0);
        return 0;
    }
    q->draining = 0;
    if (plan(q, p, ps->k) < 0)
        return -1;
    ps->k += ring_slots(p);
    ps->n++;
    return 1;
}

/* The data buffers a largest frame fills (direct_frame). */
static unsigned direct_bufs(const struct nb_vif *v)
{
    return (NB_MAX_FRAME + v->rx_buf - 1) / v->rx_buf;
}

/* A frame the mapped buffers refs[0..nb) did not take (one was protected
 * under us): their mappings forgotten, its first slot answered ERROR (the
 * frontend drops it), counted as a failed write.  1: a frame taken. */
static int direct_fault(struct nb_vif *v, struct rx_pass *ps,
                        const grant_ref_t *refs, unsigned nb)
{
    struct rxpkt *p = &ps->batch[ps->n++];

    nb_map_forget(v, &v->rxm, refs, nb);
    memset(p, 0, sizeof(*p));
    p->slots = 1;
    p->first = ps->k++;
    p->mapped_rc = -EFAULT;
    return 1;
}

/*
 * feature-grant-ext-rx-map: the next frame read from the TAP STRAIGHT into
 * the mapped buffers posted from FIFO position ps->k (no staging, no copy
 * of ours): the first at position k, the others from k + 2 on (position
 * k + 1 is a GSO frame's extra), as many as a largest frame fills, so
 * every frame fits.  Its head is looked at through nb_peek (a
 * frontend may protect those pages under us).  A frame that still needs
 * work here (a checksum to complete; data in k + 2 without a GSO extra
 * before it) is gathered into the stage and taken as a staged one.
 * 1 a frame taken (or dropped), 0 the TAP has none, -1 not possible now
 * (a buffer not mapped, too few posted...: the staged path reads).
 */
static int direct_frame(struct nb_queue *q, struct rx_pass *ps)
{
    struct nb_vif *v = q->vif;
    struct rxpkt *p = &ps->batch[ps->n];
    unsigned nb = direct_bufs(v), i;
    struct iovec iov[NB_SLOTS_MAX + 1];
    grant_ref_t refs[NB_SLOTS_MAX];
    struct virtio_net_hdr h;
    uint8_t head[256], *st;
    size_t len, n;
    ssize_t got;
    int why;

    if (!v->rxm.on || !v->sg || q->holding || q->draining ||
        nb > NB_SLOTS_MAX || q->rxq_len - ps->k < nb + 1 ||
        ps->used + RX_ROOM > ps->stage_len)
        return -1;
    for (i = 0; i < nb; i++) {
        refs[i] = posted(q, ps->k + (i ? i + 1 : 0))->gref;
        iov[i + 1].iov_base = nb_map_get(v, &v->rxm, refs[i]);
        iov[i + 1].iov_len = v->rx_buf;
        if (!iov[i + 1].iov_base)
            return -1;
    }
    iov[0].iov_base = &h;
    iov[0].iov_len = sizeof(h);
    got = readv(v->tap[q->idx], iov, (int)nb + 1);
    if (got < 0 && errno == EFAULT) {
        /* A buffer protected under us: the kernel dropped the frame. */
        return direct_fault(v, ps, refs, nb);
    }
    if (got <= 0)
        return 0;
    len = (size_t)got > sizeof(h) ? (size_t)got - sizeof(h) : 0;
    /* tun answers a read into a read-only buffer with the frame's length
     * and the bytes not stored: a buffer the frame reached that takes no
     * store now took none during the read either (a restricted mapping
     * is never made writable again), so the frame is not in it. */
    for (i = 0, n = 0; n < len; i++) {
        size_t c = len - n < v->rx_buf ? len - n : v->rx_buf;

        if (nb_writable(iov[i + 1].iov_base, c) < 0) {
            return direct_fault(v, ps, refs, nb);
        }
        n += c;
    }
    if (!v->rx_direct) {
        v->rx_direct = 1;
        nb_vif_log(v, "%s: TAP read straight into the mapped rx buffers",
                   v->ifname);
    }
    if (len < NB_ETH_HLEN || len > NB_MAX_FRAME) {
        nb_vif_drop(v, NB_DROP_TX_BAD_VNET,
                    "%zu-byte packet from the TAP dropped", len);
        return 1;
    }
    n = len < sizeof(head) ? len : sizeof(head);
    if (nb_peek(head, iov[1].iov_base, n) < 0) {
        return direct_fault(v, ps, refs, nb);
    }
    memset(p, 0, sizeof(*p));
    p->data = head;
    p->len = (unsigned)n;
    why = offloads(v, &h, p, 0);
    if (why && why != NB_STAT_MAX) {
        nb_vif_drop(v, (enum nb_stat)why,
                    "%zu-byte packet from the TAP dropped", len);
        return 1;
    }
    if (why == 0 && (p->gso_type || len <= v->rx_buf)) {
        p->data = NULL;
        p->len = (unsigned)len;
        p->slots = (unsigned)((len + v->rx_buf - 1) / v->rx_buf);
        p->first = ps->k;
        ps->k += ring_slots(p);
        ps->n++;
        return 1;
    }
    /* Staged after all: header and bytes gathered, then as read. */
    st = ps->stage + ps->used;
    memcpy(st, &h, sizeof(h));
    for (i = 0, n = 0; n < len; i++) {
        size_t c = len - n < v->rx_buf ? len - n : v->rx_buf;

        if (nb_peek(st + sizeof(h) + n, iov[i + 1].iov_base, c) < 0) {
            return direct_fault(v, ps, refs, nb);
        }
        n += c;
    }
    return take_frame(q, ps, st, sizeof(h) + len) < 0 ? 0 : 1;
}

/* One pass at a time (the daemon is single-threaded). */
static struct rx_pass pass;

int nb_rx_prepare(struct nb_queue *q, uint8_t *stage, size_t stage_len)
{
    struct rx_pass *ps = &pass;
    uint8_t *buf;
    size_t len;
    int rc = take_posted(q);

    if (rc < 0)
        return rc;
    if (q->vif->rxm.on)
        nb_map_revoked(q->vif->nb); /* before any mapping is used */
    ps->stage = stage;
    ps->stage_len = stage_len;
    ps->used = ps->late_len = 0;
    ps->n = ps->k = 0;
    ps->late = NULL;
    while (ps->n < NB_BATCH) {
        rc = direct_frame(q, ps);
        if (rc == 0)
            break;
        if (rc < 0 && (!(buf = next_frame(q, ps, &len)) ||
                       take_frame(q, ps, buf, len) < 0))
            break;
    }
    return 0;
}

/* After the copies: the answers, the FIFO, the frame to hold, the TAP
 * armed or not; 1 when the frontend wants a notification. */
int nb_rx_complete(struct nb_queue *q)
{
    struct rx_pass *ps = &pass;
    struct nb_vif *v = q->vif;
    unsigned i;
    int notify;

    for (i = 0; i < ps->n; i++)
        complete(q, &ps->batch[i]);
    q->rxq_head = (q->rxq_head + ps->k) % q->rxq_size;
    q->rxq_len -= ps->k;
    if (ps->late && hold(q, ps->late, ps->late_len) < 0)
        nb_vif_drop(v, NB_DROP_TX_NO_BUFFER, "no memory to hold a packet");
    notify = xbe_ring_push(q->rx);
    arm_tap(q, !q->holding);
    if (ps->n == NB_BATCH ||
        (!q->holding && ps->used + RX_ROOM > ps->stage_len))
        q->work = 1;
    /* Waiting for buffers: ask the frontend to say when it posts. */
    if (q->holding && xbe_ring_final_check(q->rx) == 1)
        q->work = 1;
    return notify;
}

void nb_rx_check_stall(struct nb_queue *q, uint64_t now, unsigned stall_ms)
{
    if (!q->holding || now - q->hold_since_ms < stall_ms)
        return;
    q->holding = 0;
    q->draining = 1;
    q->work = 1;
    nb_vif_drop(q->vif, NB_DROP_TX_NO_BUFFER,
                "queue %u: no rx buffer posted for %u ms: dropping until "
                "there is",
                q->idx, stall_ms);
}
