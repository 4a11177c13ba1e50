/* SPDX-License-Identifier: MIT */
/*
 * rx.c: frames in (xgnf_recv) and the posted rx buffers.
 *
 * Buffer i (a page of a standard grant, or with feature-grant-ext
 * NF_RX_BUF_EXT bytes, granted once: WRITE only, exactly its bytes, and
 * said in grant-ext-rx-buffer-size; with feature-grant-ext-rx-map
 * READ|WRITE|MAP, the backend then mapping it once and writing into it
 * directly) is posted at every ring position p with p % 256 == i, with id i; so
 * the response at position p answers buffer p % 256 (extra-info slots carry no
 * id, as in Linux's netfront, which also goes by position).  A response is
 * checked before any byte of it is used, in this order:
 *   1. a data slot's id is the one posted at its position (err_rx_id);
 *   2. its status is not negative (rx_errors);
 *   3. offset + status stays in the buffer (err_rx_size);
 *   4. the frame has at most XGNF_MAX_SLOTS + 1 data slots (err_rx_chain);
 *   5. extras: at most XEN_NETIF_EXTRA_TYPE_MAX, of a known type, GSO with
 *      a size and type TCPv4/v6 (err_rx_extra);
 *   6. the whole frame is 14 to 65535 bytes (err_rx_chain), and a
 *      csum_blank or GSO frame has headers we can locate (rx_csum_unknown).
 * A frame failing any check is taken to its end and dropped.  A frame
 * handed out holds its buffers until the next xgnf_recv or xgnf_flush;
 * positions before that are posted again.
 */
#include <errno.h>
#include <string.h>

#include "private.h"

unsigned nf_rx_buf(const struct xgnf *nf)
{
    return nf->info.grant_ext ? NF_RX_BUF_EXT : NF_BUF;
}

int nf_rx_setup(struct xgnf *nf, struct nf_queue *q)
{
    struct grant_create_req reqs[NF_RING_ENTS];
    /* A mapping needs READ as well (it is a mapping of both). */
    unsigned i,
        rights = GRANT_R_WRITE | (nf->rx_map ? GRANT_R_READ | GRANT_R_MAP : 0);
    int rc;

    if (!nf->info.grant_ext) {
        rc = grant_v1_share(nf->h, (grant_domid_t)nf->be_id, NF_RING_ENTS, 0,
                            q->rx_ref, (void **)&q->rx_mem);
        if (rc < 0)
            q->rx_mem = NULL;
        return rc;
    }
    rc = grant_mem_alloc(nf->h, NF_RING_ENTS * (NF_RX_BUF_EXT / NF_BUF),
                         (void **)&q->rx_mem);
    if (rc < 0) {
        q->rx_mem = NULL;
        return rc;
    }
    for (i = 0; i < NF_RING_ENTS; i++)
        reqs[i] = (struct grant_create_req){.grantee = (grant_domid_t)nf->be_id,
                                            .rights = rights,
                                            .ptr = q->rx_mem +
                                                   (size_t)i * NF_RX_BUF_EXT,
                                            .len = NF_RX_BUF_EXT};
    rc = grant_create_batch(nf->h, reqs, NF_RING_ENTS);
    for (i = 0; rc == 0 && i < NF_RING_ENTS; i++)
        q->rx_ref[i] = reqs[i].ref;
    q->rx_granted = rc == 0;
    return rc;
}

void nf_rx_teardown(struct xgnf *nf, struct nf_queue *q)
{
    struct grant_revoke_req rev[NF_RING_ENTS];
    unsigned i;

    if (!q->rx_mem)
        return;
    if (!nf->info.grant_ext) {
        grant_v1_end(nf->h, q->rx_mem);
        q->rx_mem = NULL;
        return;
    }
    for (i = 0; q->rx_granted && i < NF_RING_ENTS; i++)
        rev[i] = (struct grant_revoke_req){.ref = q->rx_ref[i],
                                           .flags = GRANT_REVOKE_FORCE};
    if (q->rx_granted)
        grant_revoke_batch(nf->h, rev, NF_RING_ENTS);
    grant_mem_free(nf->h, q->rx_mem);
    q->rx_mem = NULL;
    q->rx_granted = 0;
}

/* Gives back the buffers of every position no frame holds any more. */
static void rx_release(struct nf_queue *q)
{
    q->rx_free_to = q->in_pkt && !q->bad ? q->cur_start : q->rx->rsp_cons;
}

int nf_rx_post(struct nf_queue *q)
{
    struct netif_rx_request *req;
    unsigned posted = 0;

    rx_release(q);
    while (q->rx->req_prod_pvt - q->rx_free_to < NF_RING_ENTS &&
           (req = xfe_ring_req_slot(q->rx))) {
        uint16_t b = (uint16_t)(q->rx->req_prod_pvt & (NF_RING_ENTS - 1));

        req->id = b;
        req->pad = 0;
        req->gref = q->rx_ref[b];
        xfe_ring_req_done(q->rx);
        posted++;
    }
    return posted && xfe_ring_push(q->rx);
}

int nf_rx_refill(struct xgnf *nf, struct nf_queue *q)
{
    if (nf_rx_post(q))
        xfe_kick(nf->dev, q->idx, 1);
    return 0;
}

static void rx_extra(struct xgnf *nf, struct nf_queue *q,
                     const union netif_rx_sring_entry *e)
{
    struct netif_extra_info x;
    int ok;

    memcpy(&x, e, sizeof(x));
    q->want_extra = !!(x.flags & XEN_NETIF_EXTRA_FLAG_MORE);
    ok = ++q->nextras <= XEN_NETIF_EXTRA_TYPE_MAX;
    if (ok && x.type == XEN_NETIF_EXTRA_TYPE_GSO) {
        ok = x.u.gso.size && (x.u.gso.type == XEN_NETIF_GSO_TYPE_TCPV4 ||
                              x.u.gso.type == XEN_NETIF_GSO_TYPE_TCPV6);
        q->cur.meta.gso_type = x.u.gso.type;
        q->cur.meta.gso_size = x.u.gso.size;
    } else if (ok) {
        ok = x.type > XEN_NETIF_EXTRA_TYPE_NONE &&
             x.type < XEN_NETIF_EXTRA_TYPE_MAX;
    }
    if (!ok) {
        nf->st.err_rx_extra++;
        q->bad = 1;
        q->want_extra = 0;
    }
}

static void rx_data(struct xgnf *nf, struct nf_queue *q, RING_IDX pos,
                    const struct netif_rx_response *r)
{
    uint16_t b = (uint16_t)(pos & (NF_RING_ENTS - 1));

    if (q->ndata++ == 0) {
        q->cur.meta.csum_blank = !!(r->flags & NETRXF_csum_blank);
        q->cur.meta.data_validated = !!(r->flags & NETRXF_data_validated);
        q->want_extra = !!(r->flags & NETRXF_extra_info);
    }
    q->more = !!(r->flags & NETRXF_more_data);
    if (q->bad)
        return;
    if (r->id != b)
        nf->st.err_rx_id++;
    else if (r->status < 0)
        nf->st.rx_errors++;
    else if (r->offset + r->status > (int)nf_rx_buf(nf))
        nf->st.err_rx_size++;
    else if (q->cur.niov >= XGNF_MAX_SLOTS + 1)
        nf->st.err_rx_chain++;
    else {
        q->cur.iov[q->cur.niov].iov_base =
            q->rx_mem + (size_t)b * nf_rx_buf(nf) + r->offset;
        q->cur.iov[q->cur.niov++].iov_len = (size_t)r->status;
        q->cur.len += (size_t)r->status;
        return;
    }
    q->bad = 1;
}

/* A frame's last slot was taken: 1 when it is good to hand out. */
static int rx_finish(struct xgnf *nf, struct nf_queue *q)
{
    struct xgnf_meta *m = &q->cur.meta;
    uint8_t head[256];
    size_t n = 0;
    unsigned i;

    q->in_pkt = 0;
    if (q->bad)
        return 0;
    if (q->cur.len < XGNF_MIN_FRAME || q->cur.len > XGNF_MAX_FRAME) {
        nf->st.err_rx_chain++;
        return 0;
    }
    if (m->csum_blank || m->gso_type) {
        for (i = 0; i < q->cur.niov && n < sizeof(head); i++) {
            size_t k = q->cur.iov[i].iov_len;

            k = k < sizeof(head) - n ? k : sizeof(head) - n;
            memcpy(head + n, q->cur.iov[i].iov_base, k);
            n += k;
        }
        if (xgnf_csum_locate(head, n, m) < 0) {
            nf->st.rx_csum_unknown++;
            return 0;
        }
    }
    nf->st.rx_packets++;
    nf->st.rx_bytes += q->cur.len;
    return 1;
}

int xgnf_recv(struct xgnf *nf, unsigned qi, struct xgnf_pkt *p)
{
    struct nf_queue *q = &nf->q[qi % XGNF_MAX_QUEUES]; /* checked below */
    union netif_rx_sring_entry e;

    int rc = nf_usable(nf, qi);

    if (rc < 0)
        return rc;
    rx_release(q);
    /* A quarter of the ring free: give it back now, not after the batch. */
    if (q->rx_free_to + NF_RING_ENTS - q->rx->req_prod_pvt >= NF_RING_ENTS / 4)
        nf_rx_refill(nf, q);
    for (;;) {
        RING_IDX pos = q->rx->rsp_cons;
        int took = xfe_ring_take(q->rx, &e);

        if (took < 0) {
            nf_halt(nf);
            return -EPROTO;
        }
        if (took == 0) {
            /* Arms rsp_event at what we took, so the backend's next push
             * signals us; more came meanwhile: take those first.  Bounded:
             * every response answers a buffer posted before this call. */
            if (xfe_ring_final_check(q->rx) == 1)
                continue;
            nf_rx_refill(nf, q);
            return 0;
        }
        if (!q->in_pkt) {
            memset(&q->cur, 0, sizeof(q->cur));
            q->in_pkt = 1;
            q->cur_start = pos;
            q->bad = q->more = q->want_extra = 0;
            q->nextras = q->ndata = 0;
        }
        if (q->want_extra && q->ndata)
            rx_extra(nf, q, &e);
        else
            rx_data(nf, q, pos, &e.rsp);
        if (q->want_extra || q->more)
            continue;
        if (rx_finish(nf, q)) {
            *p = q->cur;
            return 1;
        }
    }
}
