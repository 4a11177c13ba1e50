/* SPDX-License-Identifier: MIT */
/*
 * tx.c: the tx ring onto the TAP, what the frontend transmits (counted as
 * the vif's RX, as Linux counts it).
 *
 * A pass gathers up to NB_BATCH packets, each request copied out of the
 * ring once (xbe_ring_take) and checked as a copy; it copies every good
 * packet's bytes into the staging memory with one grant-copy call (the
 * pass's, shared with the rx ring's copies: main.c serve_queue), whole
 * and contiguous (so the headers are always in one piece: XSA-423/432),
 * writes each to the TAP behind its virtio-net header and answers every
 * request.  A packet split across passes (the frontend still producing, or
 * a pass's bound) is kept in the queue's `cur` until it is complete.
 *
 * The rules for a packet, in the order they are checked; the first broken
 * one names the drop counter (the requests are answered ERROR, extras
 * NULL; the vif goes on):
 *  1. the first slot's size, the whole packet, is at least 14 bytes (runt);
 *  2. extras (NETTXF_extra_info, chained by XEN_NETIF_EXTRA_FLAG_MORE) are
 *     at most 4, each of a known type, no type twice; a GSO extra has a
 *     size > 0 and the type TCPv4 or TCPv6 (bad_extra);
 *  3. at most 18 data slots: a longer chain is taken to its end and each
 *     request answered as it is taken, so no chain holds the ring (slots);
 *  4. a slot after the first is not empty (zero_frag, XSA-448);
 *  5. the sizes of the slots after the first add up to less than the
 *     first's, so the first fragment is not empty and the packet is at
 *     most 64 KiB (oversize);
 *  6. a slot lies in its page (standard grants: offset + length <= 4096),
 *     or starts at byte 0 of its byte-exact grant (bad_slot);
 *  7. the grant copies succeed: a bad gref, a grant shorter than its slot
 *     (copy);
 *  8. csum_blank or GSO: the packet is TCP or UDP over IPv4/IPv6 with its
 *     headers inside it; GSO: TCP of the extra's IP version (csum).
 * A frontend index that jumps is not a packet's fault: the ring halts and
 * the caller moves the vif to Closing.
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "private.h"

static void respond(struct nb_queue *q, uint16_t id, int16_t status)
{
    netif_tx_response_t *r = xbe_ring_rsp_slot(q->tx);

    if (!r)
        return;
    /* Field by field in the shared slot (XSA-216). */
    r->id = id;
    r->status = status;
    xbe_ring_rsp_done(q->tx);
}

static void set_drop(struct nb_txpkt *p, enum nb_stat why)
{
    if (p->drop == NB_STAT_MAX)
        p->drop = why;
}

/* Over the slot limit: everything held is answered now, and the rest of
 * the chain as it is taken. */
static void shed(struct nb_queue *q, struct nb_txpkt *p)
{
    unsigned i;

    for (i = 0; i < p->nreq; i++)
        respond(q, p->req[i].id, NETIF_RSP_ERROR);
    for (i = 0; i < p->extra_ids; i++)
        respond(q, p->extra_id[i], NETIF_RSP_NULL);
    p->nreq = p->extra_ids = 0;
    p->shed = 1;
    set_drop(p, NB_DROP_RX_SLOTS);
}

/* Rule 2, on one extra as taken. */
static void take_extra(struct nb_queue *q, struct nb_txpkt *p,
                       const netif_extra_info_t *x)
{
    unsigned i;

    p->want_extras = x->flags & XEN_NETIF_EXTRA_FLAG_MORE;
    if (p->nextra == NB_EXTRAS_MAX || p->shed) {
        respond(q, 0, NETIF_RSP_NULL);
        set_drop(p, NB_DROP_RX_BAD_EXTRA);
        return;
    }
    p->extra_id[p->extra_ids++] = 0;
    p->extra[p->nextra++] = *x;
    if (x->type == XEN_NETIF_EXTRA_TYPE_NONE ||
        x->type >= XEN_NETIF_EXTRA_TYPE_MAX)
        set_drop(p, NB_DROP_RX_BAD_EXTRA);
    for (i = 0; i + 1 < p->nextra; i++)
        if (p->extra[i].type == x->type)
            set_drop(p, NB_DROP_RX_BAD_EXTRA);
    if (x->type == XEN_NETIF_EXTRA_TYPE_GSO &&
        (x->u.gso.size == 0 || (x->u.gso.type != XEN_NETIF_GSO_TYPE_TCPV4 &&
                                x->u.gso.type != XEN_NETIF_GSO_TYPE_TCPV6)))
        set_drop(p, NB_DROP_RX_BAD_EXTRA);
}

/* Rules 3 and 4, on one data slot after the first. */
static void take_slot(struct nb_queue *q, struct nb_txpkt *p,
                      const netif_tx_request_t *r)
{
    p->more = r->flags & NETTXF_more_data;
    if (!p->shed && p->nreq == NB_SLOTS_MAX)
        shed(q, p);
    if (p->shed) {
        respond(q, r->id, NETIF_RSP_ERROR);
        return;
    }
    p->req[p->nreq++] = *r;
    if (r->size == 0)
        set_drop(p, NB_DROP_RX_ZERO_FRAG);
    p->sum += r->size; /* at most 17 * 65535: no overflow */
}

/* Rules 5 and 6, on the complete packet. */
static void check_slots(const struct nb_vif *v, struct nb_txpkt *p)
{
    unsigned i, len;

    if (p->shed)
        return;
    if (p->sum >= p->req[0].size) {
        set_drop(p, NB_DROP_RX_OVERSIZE);
        return;
    }
    for (i = 0; i < p->nreq; i++) {
        len = i ? p->req[i].size : p->req[0].size - p->sum;
        if (xbe_dev_grant_ext(v->d) ? p->req[i].offset != 0
                                    : p->req[i].offset + len > NB_PAGE)
            set_drop(p, NB_DROP_RX_BAD_SLOT);
    }
}

/*
 * Takes requests into q->cur until it holds a whole packet: 1 when it
 * does (good or to be dropped), 0 when the ring has no more for now,
 * -EPROTO when the frontend's index jumped.
 */
static int gather(struct nb_queue *q)
{
    struct nb_txpkt *p = &q->cur;
    union netif_tx_sring_entry e;
    int rc;

    if (!p->started) {
        rc = xbe_ring_take(q->tx, &e);
        if (rc <= 0)
            return rc;
        memset(p, 0, sizeof(*p));
        p->started = 1;
        p->drop = NB_STAT_MAX;
        p->req[0] = e.req;
        p->nreq = 1;
        p->more = e.req.flags & NETTXF_more_data;
        p->want_extras = e.req.flags & NETTXF_extra_info;
        if (e.req.size < NB_ETH_HLEN)
            set_drop(p, NB_DROP_RX_RUNT);
    }
    while (p->want_extras) {
        rc = xbe_ring_take(q->tx, &e);
        if (rc <= 0)
            return rc;
        take_extra(q, p, (const netif_extra_info_t *)&e.req);
    }
    while (p->more) {
        rc = xbe_ring_take(q->tx, &e);
        if (rc <= 0)
            return rc;
        take_slot(q, p, &e.req);
    }
    check_slots(q->vif, p);
    return 1;
}

/* rate=: Linux netback's credit scheduler, per vif.  A packet waits for
 * credit; a packet larger than a period's credit waits until enough has
 * built up (credit accumulates up to the larger of the two). */
static int credit_ok(struct nb_vif *v, unsigned size)
{
    uint64_t now, cap;

    if (!v->credit_bytes)
        return 1;
    now = nb_now_ms();
    if (now >= v->next_credit_ms) {
        cap = v->credit_bytes > size ? v->credit_bytes : size;
        v->remaining += v->credit_bytes;
        if (v->remaining > cap)
            v->remaining = cap;
        v->next_credit_ms = now + v->credit_us / 1000u;
    }
    if (size > v->remaining)
        return 0;
    v->remaining -= size;
    return 1;
}

static const netif_extra_info_t *gso_of(const struct nb_txpkt *p)
{
    unsigned i;

    for (i = 0; i < p->nextra; i++)
        if (p->extra[i].type == XEN_NETIF_EXTRA_TYPE_GSO)
            return &p->extra[i];
    return NULL;
}

/* Rule 8 and the virtio-net header the TAP wants in front; the frame's
 * first `head` bytes are at buf + NB_VNET_HDR (all of them unless it is
 * mapped: then -EPROTO may mean the headers are past the head). */
static int vnet_hdr(struct nb_txpkt *p, uint8_t *buf, unsigned head)
{
    struct virtio_net_hdr h;
    uint8_t *f = buf + NB_VNET_HDR;
    unsigned len = p->req[0].size, l4, proto, tcp_len;
    const netif_extra_info_t *gso = gso_of(p);
    int v6;

    memset(&h, 0, sizeof(h));
    if ((p->req[0].flags & NETTXF_csum_blank) || gso) {
        if (nb_l4(f, head, &l4, &proto, &v6) < 0)
            return -EPROTO;
        if (gso && (proto != IPPROTO_TCP ||
                    v6 != (gso->u.gso.type == XEN_NETIF_GSO_TYPE_TCPV6)))
            return -EPROTO;
        /* GSO without csum_blank: the checksum is made partial, as
         * Linux's netback recalculates it. */
        if (!(p->req[0].flags & NETTXF_csum_blank))
            nb_csum_pseudo(f, len, l4, proto, v6);
        h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
        h.csum_start = (uint16_t)l4;
        h.csum_offset = proto == IPPROTO_TCP ? 16 : 6;
        if (gso) {
            tcp_len = (f[l4 + 12] >> 4) * 4u;
            if (tcp_len < 20u || l4 + tcp_len > head)
                return -EPROTO;
            h.gso_type =
                v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
            h.gso_size = gso->u.gso.size;
            h.hdr_len = (uint16_t)(l4 + tcp_len);
        }
    } else if (p->req[0].flags & NETTXF_data_validated) {
        h.flags = VIRTIO_NET_HDR_F_DATA_VALID;
    }
    memcpy(buf, &h, sizeof(h));
    return 0;
}

/* The copy segments of a good packet, its bytes at stage + off. */
static int add_segs(struct nb_queue *q, struct nb_txpkt *p, uint8_t *stage,
                    size_t off)
{
    struct nb *nb = q->vif->nb;
    grant_domid_t fe = (grant_domid_t)xbe_dev_fe_id(q->vif->d);
    uint8_t *dst = stage + off + NB_VNET_HDR;
    unsigned i, len;
    int s;

    p->off = off;
    p->seg0 = nb->copy.n;
    for (i = 0; i < p->nreq; i++) {
        len = i ? p->req[i].size : p->req[0].size - p->sum;
        s = nb_copy_add(&nb->copy, 0, dst, fe, p->req[i].gref, p->req[i].offset,
                        len);
        if (s < 0)
            return s;
        dst += len;
    }
    p->nseg = p->nreq;
    return 0;
}

static unsigned slot_len(const struct nb_txpkt *p, unsigned i)
{
    return i ? p->req[i].size : p->req[0].size - p->sum;
}

static size_t staged(unsigned bytes)
{
    return (NB_VNET_HDR + bytes + 63u) & ~(size_t)63u;
}

/*
 * feature-grant-ext-tx-map: whether good packet p goes onto the TAP from
 * our mappings of its tx buffers (every slot's mapped, none longer than
 * a buffer).  Then its head (NB_TX_HEAD bytes at most, of the first slot)
 * is copied through nb_peek into room bytes at buf: the checks and the
 * virtio-net header read it there, and the TAP gets it from there, so
 * the headers the frontend could still change in its buffer are the ones
 * checked.  0: mapped (or dropped: rule 8 with every byte staged); -1:
 * copy it (not mapped, headers past the head, too little room, or a
 * buffer protected under us: its refs are copied from now on).
 */
static int map_packet(struct nb_queue *q, struct nb_txpkt *p, uint8_t *buf,
                      size_t room)
{
    struct nb_vif *v = q->vif;
    unsigned i, head = slot_len(p, 0);
    grant_ref_t refs[NB_SLOTS_MAX];

    p->mapped = 0;
    if (!v->txm.on)
        return -1;
    /* A force-revoke is seen before a ref is looked up: the requests were
     * taken after the frontend's revoke returned, so a ref revoked and
     * granted again never finds the old mapping (scratch pages). */
    nb_map_revoked(v->nb);
    for (i = 0; i < p->nreq; i++) {
        refs[i] = p->req[i].gref;
        if (slot_len(p, i) > v->txm.len ||
            !(p->addr[i] = nb_map_get(v, &v->txm, refs[i])))
            return -1;
    }
    head = head < NB_TX_HEAD ? head : NB_TX_HEAD;
    if (staged(head) > room)
        return -1;
    if (nb_peek(buf + NB_VNET_HDR, p->addr[0], head) < 0) {
        nb_map_forget(v, &v->txm, refs, p->nreq);
        return -1;
    }
    if (vnet_hdr(p, buf, head) < 0) {
        if (head < p->req[0].size)
            return -1; /* the copy checks it whole */
        set_drop(p, NB_DROP_RX_CSUM);
        return 0;
    }
    p->mapped = 1;
    p->head = head;
    p->nseg = 0;
    return 0;
}

/* A mapped packet onto the TAP: 0, or -errno (-EFAULT: a buffer was
 * protected under us, the kernel took nothing). */
static int write_mapped(struct nb_queue *q, struct nb_txpkt *p, uint8_t *buf)
{
    struct iovec iov[NB_SLOTS_MAX + 1];
    unsigned i, n = 1, len0 = slot_len(p, 0);

    iov[0].iov_base = buf;
    iov[0].iov_len = NB_VNET_HDR + p->head;
    if (len0 > p->head) {
        iov[n].iov_base = (uint8_t *)p->addr[0] + p->head;
        iov[n++].iov_len = len0 - p->head;
    }
    for (i = 1; i < p->nreq; i++) {
        iov[n].iov_base = p->addr[i];
        iov[n++].iov_len = p->req[i].size;
    }
    if (writev(q->vif->tap[q->idx], iov, (int)n) < 0)
        return -errno;
    return 0;
}

/* After the copies: onto the TAP, or counted as dropped; then answered. */
static void finish(struct nb_queue *q, struct nb_txpkt *p, uint8_t *stage)
{
    struct nb_vif *v = q->vif;
    uint8_t *buf = stage + p->off;
    unsigned i, bad = 0, len = p->req[0].size;
    enum nb_stat why = p->drop;
    int rc = 0;

    for (i = 0; why == NB_STAT_MAX && i < p->nseg; i++) {
        rc = nb_copy_status(&v->nb->copy, p->seg0 + i);
        if (rc < 0) {
            why = NB_DROP_RX_COPY;
            bad = i;
        }
    }
    if (why == NB_STAT_MAX && !p->mapped && vnet_hdr(p, buf, len) < 0)
        why = NB_DROP_RX_CSUM;
    if (why == NB_STAT_MAX && p->mapped) {
        rc = write_mapped(q, p, buf);
        if (rc == -EFAULT) {
            /* Protected under us: copied from now on. */
            why = NB_DROP_RX_COPY;
            for (i = 0; i < p->nreq; i++)
                nb_map_forget(v, &v->txm, &p->req[i].gref, 1);
        } else if (rc < 0) {
            why = NB_DROP_RX_TAP;
        } else if (!v->tx_direct) {
            v->tx_direct = 1;
            nb_vif_log(v,
                       "%s: TAP written straight from the mapped tx "
                       "buffers",
                       v->ifname);
        }
    } else if (why == NB_STAT_MAX &&
               write(v->tap[q->idx], buf, NB_VNET_HDR + len) < 0) {
        rc = -errno;
        why = NB_DROP_RX_TAP;
    }
    if (why == NB_STAT_MAX) {
        v->st[NB_RX_PACKETS]++;
        v->st[NB_RX_BYTES] += len;
    } else if (why == NB_DROP_RX_COPY && p->mapped) {
        nb_vif_drop(v, why,
                    "tx packet of %u bytes: a mapped tx buffer faulted (%s): "
                    "its grefs copied from now on",
                    len, grant_strerror(rc));
    } else if (why == NB_DROP_RX_COPY) {
        nb_vif_drop(v, why, "tx packet of %u bytes: slot %u (gref %u): %s", len,
                    bad, p->req[bad].gref, grant_strerror(rc));
    } else {
        nb_vif_drop(v, why, "tx packet of %u bytes in %u slots%s%s", len,
                    p->nreq, rc ? ": " : "", rc ? grant_strerror(rc) : "");
    }
    for (i = 0; i < p->nreq; i++)
        respond(q, p->req[i].id,
                why == NB_STAT_MAX ? NETIF_RSP_OKAY : NETIF_RSP_ERROR);
    for (i = 0; i < p->extra_ids; i++)
        respond(q, p->extra_id[i], NETIF_RSP_NULL);
}

/* One pass (one queue at a time: the daemon is single-threaded). */
static struct {
    struct nb_txpkt batch[NB_BATCH];
    uint8_t *stage;
    unsigned n;
    int rc, full; /* rc: gather's last answer */
} pass;

int nb_tx_prepare(struct nb_queue *q, uint8_t *stage, size_t stage_len)
{
    struct nb_vif *v = q->vif;
    size_t used = 0, need;
    int rc = 0;

    pass.stage = stage;
    pass.n = 0;
    pass.full = 0;
    while (pass.n < NB_BATCH) {
        rc = gather(q);
        if (rc <= 0)
            break;
        if (q->cur.drop == NB_STAT_MAX) {
            int mapped =
                map_packet(q, &q->cur, stage + used, stage_len - used) == 0;

            need = !mapped                      ? staged(q->cur.req[0].size)
                   : q->cur.drop == NB_STAT_MAX ? staged(q->cur.head)
                                                : 0;
            if (used + need > stage_len) {
                pass.full = 1; /* the rest after this batch */
                break;
            }
            if (!credit_ok(v, q->cur.req[0].size))
                break; /* the main loop comes back at next_credit_ms */
            if (!mapped && add_segs(q, &q->cur, stage, used) < 0) {
                pass.full = 1;
                break;
            }
            q->cur.off = used;
            used += need;
        }
        pass.batch[pass.n++] = q->cur;
        q->cur.started = 0;
    }
    pass.rc = rc; /* 1: stopped by a bound (stage, credit) */
    return rc < 0 ? rc : 0;
}

int nb_tx_complete(struct nb_queue *q)
{
    unsigned i;
    int notify;

    for (i = 0; i < pass.n; i++)
        finish(q, &pass.batch[i], pass.stage);
    notify = xbe_ring_push(q->tx);
    if (pass.rc < 0)
        return notify;
    if (pass.n == NB_BATCH || pass.full)
        q->work = 1;
    else if (pass.rc == 0 && xbe_ring_final_check(q->tx) == 1)
        q->work = 1; /* more came (or the pass bound): a packet's rest too */
    return notify;
}
