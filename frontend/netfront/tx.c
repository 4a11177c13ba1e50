/* SPDX-License-Identifier: MIT */
/*
 * tx.c: frames out (xgnf_send, xgnf_flush) and their responses.
 *
 * Each tx request id owns one buffer of nf_tx_buf bytes (a page with
 * standard grants, NF_TX_BUF_EXT with extension grants); a frame of L
 * bytes takes ceil(L/buffer) ids, its first request carrying L (the whole
 * frame, as netif.h says) and a GSO extra slot right after it.  Requests
 * wait in q->pend until xgnf_flush grants their bytes (grant-ext: one
 * extension grant per request, exactly its bytes, READ, in one batch) and
 * writes them into the ring.  A response frees its id once its grant is
 * revoked, which is done for NF_REVOKE_BATCH answered ids at a time (or
 * when free pages run short): a grant outliving its answer only covers
 * bytes the backend was given already, and its page is not reused before
 * the revocation.  A grant that cannot be revoked keeps its page out of
 * use.
 */
#include <errno.h>
#include <string.h>

#include "grant_ring_idx.h"
#include "private.h"

unsigned nf_tx_buf(const struct xgnf *nf)
{
    return nf->info.grant_ext ? NF_TX_BUF_EXT : NF_BUF;
}

int nf_tx_setup(struct xgnf *nf, struct nf_queue *q)
{
    unsigned i;
    int rc;

    if (nf->info.grant_ext)
        rc = grant_mem_alloc(nf->h, NF_RING_ENTS * (NF_TX_BUF_EXT / NF_BUF),
                             (void **)&q->tx_mem);
    else
        rc = grant_v1_share(nf->h, (grant_domid_t)nf->be_id, NF_RING_ENTS,
                            GRANT_V1_RDONLY, q->tx_v1, (void **)&q->tx_mem);
    if (rc < 0) {
        q->tx_mem = NULL;
        return rc;
    }
    for (i = 0; i < NF_RING_ENTS; i++)
        q->tx_free[i] = (uint16_t)(NF_RING_ENTS - 1 - i);
    q->tx_nfree = NF_RING_ENTS;
    return 0;
}

void nf_tx_teardown(struct xgnf *nf, struct nf_queue *q)
{
    unsigned i;

    if (!q->tx_mem)
        return;
    for (i = 0; nf->info.grant_ext && i < NF_RING_ENTS; i++)
        if (q->tx_state[i] == TX_FLIGHT || q->tx_state[i] == TX_DONE ||
            q->tx_state[i] == TX_LOST)
            grant_revoke(nf->h, q->tx_ref[i], GRANT_REVOKE_FORCE);
    if (nf->info.grant_ext)
        grant_mem_free(nf->h, q->tx_mem);
    else
        grant_v1_end(nf->h, q->tx_mem);
    q->tx_mem = NULL;
}

/* Copies the first n bytes of an iovec into out; how many there were. */
static size_t iov_head(const struct iovec *iov, int iovcnt, void *out, size_t n)
{
    size_t got = 0;
    int i;

    for (i = 0; i < iovcnt && got < n; i++) {
        size_t k = iov[i].iov_len < n - got ? iov[i].iov_len : n - got;

        memcpy((uint8_t *)out + got, iov[i].iov_base, k);
        got += k;
    }
    return got;
}

static int check_meta(struct xgnf *nf, const struct iovec *iov, int iovcnt,
                      const struct xgnf_meta *m)
{
    uint8_t eth[14];

    if (m->gso_type == XGNF_GSO_TCPV4 && !nf->info.gso_tcpv4)
        return -EOPNOTSUPP;
    if (m->gso_type == XGNF_GSO_TCPV6 && !nf->info.gso_tcpv6)
        return -EOPNOTSUPP;
    if (m->gso_type > XGNF_GSO_TCPV6 || (m->gso_type && !m->gso_size))
        return -EINVAL;
    if (m->csum_blank && !nf->info.ipv6_csum &&
        iov_head(iov, iovcnt, eth, sizeof(eth)) == sizeof(eth) &&
        eth[12] == 0x86 && eth[13] == 0xdd)
        return -EOPNOTSUPP;
    return 0;
}

unsigned xgnf_tx_room(const struct xgnf *nf, unsigned qi, size_t len)
{
    const struct nf_queue *q = &nf->q[qi % XGNF_MAX_QUEUES]; /* checked below */
    unsigned buf = nf_tx_buf(nf),
             slots = len ? (unsigned)((len + buf - 1) / buf) : 1, ring, ids;

    if (!nf->connected || nf->halted || qi >= nf->info.nr_queues)
        return 0;
    ring = xfe_ring_free(q->tx) - q->npend;
    ids = q->tx_nfree;
    ring /= slots + 1; /* room for a GSO extra too */
    ids /= slots;
    return ring < ids ? ring : ids;
}

static void pend_req(struct nf_queue *q, uint16_t id, uint16_t size,
                     uint16_t flags)
{
    struct nf_pend *p = &q->pend[q->npend++];

    p->extra = 0;
    p->u.req = (struct netif_tx_request){
        .gref = 0, .offset = 0, .flags = flags, .id = id, .size = size};
}

int xgnf_send(struct xgnf *nf, unsigned qi, const struct iovec *iov, int iovcnt,
              const struct xgnf_meta *m)
{
    static const struct xgnf_meta none;
    struct nf_queue *q = &nf->q[qi % XGNF_MAX_QUEUES]; /* checked below */
    size_t len = 0, off = 0, buf = nf_tx_buf(nf);
    unsigned slots, k;
    int i, rc, vi = 0;
    size_t voff = 0;

    if (iovcnt < 0 || (iovcnt && !iov))
        return -EINVAL;
    rc = nf_usable(nf, qi);
    if (rc < 0)
        return rc;
    m = m ? m : &none;
    for (i = 0; i < iovcnt; i++)
        if (__builtin_add_overflow(len, iov[i].iov_len, &len))
            return -EMSGSIZE;
    if (len < XGNF_MIN_FRAME || len > XGNF_MAX_FRAME)
        return -EMSGSIZE;
    slots = (unsigned)((len + buf - 1) / buf);
    if (len > NF_BUF && !nf->info.sg)
        return -EMSGSIZE;
    rc = check_meta(nf, iov, iovcnt, m);
    if (rc < 0)
        return rc;
    if (xfe_ring_free(q->tx) < q->npend + slots + !!m->gso_type ||
        q->tx_nfree < slots)
        return -EAGAIN;
    for (k = 0; k < slots; k++) {
        uint16_t id = q->tx_free[--q->tx_nfree];
        size_t n = len - off < buf ? len - off : buf, got = 0;
        uint16_t flags = k + 1 < slots ? NETTXF_more_data : 0;

        while (got < n) { /* gather this slot's bytes */
            size_t c = iov[vi].iov_len - voff;

            c = c < n - got ? c : n - got;
            memcpy(q->tx_mem + (size_t)id * buf + got,
                   (const uint8_t *)iov[vi].iov_base + voff, c);
            got += c;
            voff += c;
            if (voff == iov[vi].iov_len) {
                vi++;
                voff = 0;
            }
        }
        q->tx_state[id] = TX_QUEUED;
        q->tx_len[id] = (uint16_t)n;
        off += n;
        if (k > 0) {
            pend_req(q, id, (uint16_t)n, flags);
            continue;
        }
        if (m->csum_blank)
            flags |= NETTXF_csum_blank | NETTXF_data_validated;
        else if (m->data_validated)
            flags |= NETTXF_data_validated;
        if (m->gso_type)
            flags |= NETTXF_extra_info;
        pend_req(q, id, (uint16_t)len, flags);
        if (m->gso_type) {
            struct nf_pend *p = &q->pend[q->npend++];

            p->extra = 1;
            memset(&p->u, 0, sizeof(p->u));
            p->u.ex.type = XEN_NETIF_EXTRA_TYPE_GSO;
            p->u.ex.u.gso.size = m->gso_size;
            p->u.ex.u.gso.type = m->gso_type;
        }
    }
    return 0;
}

/* Grants every pending request's bytes; all or none (then dropped). */
static int grant_pending(struct xgnf *nf, struct nf_queue *q)
{
    struct grant_create_req reqs[NF_RING_ENTS];
    unsigned i, n = 0;
    int rc;

    for (i = 0; i < q->npend; i++) {
        const struct nf_pend *p = &q->pend[i];

        if (p->extra)
            continue;
        reqs[n++] = (struct grant_create_req){
            .grantee = (grant_domid_t)nf->be_id,
            .rights = GRANT_R_READ,
            .ptr = q->tx_mem + (size_t)p->u.req.id * NF_TX_BUF_EXT,
            .len = q->tx_len[p->u.req.id]};
    }
    rc = grant_create_batch(nf->h, reqs, n);
    for (i = 0, n = 0; rc == 0 && i < q->npend; i++)
        if (!q->pend[i].extra)
            q->tx_ref[q->pend[i].u.req.id] = reqs[n++].ref;
    return rc;
}

static void drop_pending(struct xgnf *nf, struct nf_queue *q)
{
    unsigned i;

    for (i = 0; i < q->npend; i++) {
        const struct nf_pend *p = &q->pend[i];

        if (p->extra)
            continue;
        if (!(p->u.req.flags & NETTXF_more_data)) /* once per frame */
            nf->st.err_grant++;
        q->tx_state[p->u.req.id] = TX_FREE;
        q->tx_free[q->tx_nfree++] = p->u.req.id;
    }
    q->npend = 0;
}

static void write_pending(struct xgnf *nf, struct nf_queue *q)
{
    unsigned i;
    int first = 1;

    for (i = 0; i < q->npend; i++) {
        const struct nf_pend *p = &q->pend[i];
        union netif_tx_sring_entry *e = xfe_ring_req_slot(q->tx);

        if (!e) /* cannot happen: xgnf_send reserved the slots */
            break;
        if (p->extra) {
            e->req.gref = 0;
            memcpy(&e->req, &p->u.ex, sizeof(p->u.ex));
        } else {
            uint16_t id = p->u.req.id;

            e->req.gref = nf->info.grant_ext ? q->tx_ref[id] : q->tx_v1[id];
            e->req.offset = 0;
            e->req.flags = p->u.req.flags;
            e->req.id = id;
            e->req.size = p->u.req.size;
            q->tx_state[id] = TX_FLIGHT;
            if (first) {
                nf->st.tx_packets++;
                nf->st.tx_bytes += p->u.req.size;
            }
            first = !(p->u.req.flags & NETTXF_more_data);
        }
        xfe_ring_req_done(q->tx);
    }
    q->npend = 0;
}

int xgnf_flush(struct xgnf *nf, unsigned qi)
{
    struct nf_queue *q = &nf->q[qi % XGNF_MAX_QUEUES]; /* checked below */

    int rc = nf_usable(nf, qi);

    if (rc < 0)
        return rc;
    if (q->npend && nf->info.grant_ext && grant_pending(nf, q) < 0)
        drop_pending(nf, q);
    if (q->npend) {
        write_pending(nf, q);
        if (xfe_ring_push(q->tx))
            xfe_notify(nf->dev, qi, 0);
    }
    return nf_rx_refill(nf, q);
}

/* Takes one pass of tx responses; answered ids wait in q->done for their
 * grants' revocation (or are free at once with standard grants). */
static void take_responses(struct xgnf *nf, struct nf_queue *q)
{
    union netif_tx_sring_entry e;
    int rc;

    while ((rc = xfe_ring_take(q->tx, &e)) == 1) {
        uint16_t id = e.rsp.id;

        if (e.rsp.status == NETIF_RSP_NULL) /* an extra slot's answer */
            continue;
        if (id >= NF_RING_ENTS || q->tx_state[id] != TX_FLIGHT) {
            nf->st.err_tx_id++;
            continue;
        }
        if (e.rsp.status != NETIF_RSP_OKAY)
            nf->st.tx_errors++;
        if (!nf->info.grant_ext) {
            q->tx_state[id] = TX_FREE;
            q->tx_free[q->tx_nfree++] = id;
            continue;
        }
        q->tx_state[id] = TX_DONE;
        q->done[q->ndone++] = id;
    }
    if (rc < 0)
        nf_halt(nf);
}

/* Revokes the answered ids' grants in one call, frees their pages; a
 * grant that cannot be revoked keeps its page out of use. */
static void revoke_done(struct xgnf *nf, struct nf_queue *q)
{
    struct grant_revoke_req rev[NF_RING_ENTS];
    unsigned i;

    for (i = 0; i < q->ndone; i++)
        rev[i] = (struct grant_revoke_req){.ref = q->tx_ref[q->done[i]]};
    if (grant_revoke_batch(nf->h, rev, q->ndone) < 0)
        for (i = 0; i < q->ndone; i++)
            rev[i].status = -EIO;
    for (i = 0; i < q->ndone; i++) {
        uint16_t id = q->done[i];

        if (rev[i].status < 0) {
            nf->st.err_grant++;
            q->tx_state[id] = TX_LOST;
            continue;
        }
        q->tx_state[id] = TX_FREE;
        q->tx_free[q->tx_nfree++] = id;
    }
    q->ndone = 0;
}

/*
 * Arms rsp_event as Xen's netfront does for tx: the backend notifies once
 * HALF the requests in flight are answered, not at every response (under
 * xgrantd each notification is a call through the daemon and a wake-up
 * here, for responses nothing waits on while the ring has room; a full
 * ring is half free again when the notification comes).  1 when a
 * response arrived meanwhile, -EPROTO on a halted ring.
 */
static int tx_arm(struct xfe_ring *r)
{
    RING_IDX cons = r->rsp_cons, out = r->req_prod_pvt - cons;

    if (r->halted)
        return -EPROTO;
    r->taken = 0;
    if (grant_ring_peek(r->sring, GRANT_RING_RSP_PROD) != cons)
        return 1;
    __atomic_store_n(&r->sring[GRANT_RING_RSP_EVENT], cons + out / 2 + 1,
                     __ATOMIC_RELAXED);
    /* Our event index is visible before we look at the producer again. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    return grant_ring_peek(r->sring, GRANT_RING_RSP_PROD) != cons;
}

void nf_tx_gc(struct xgnf *nf, struct nf_queue *q)
{
    /* Until rsp_event is armed past every response taken (else the
     * backend's next responses would not signal us).  Bounded: every
     * response answers a request in flight. */
    do
        take_responses(nf, q);
    while (!nf->halted && tx_arm(q->tx) == 1);
    /* One revocation call per NF_REVOKE_BATCH frames' pages, sooner when
     * free pages run short. */
    if (q->ndone &&
        (q->ndone >= NF_REVOKE_BATCH || q->tx_nfree < NF_REVOKE_BATCH))
        revoke_done(nf, q);
}
