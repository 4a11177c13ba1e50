/* SPDX-License-Identifier: MIT */
/*
 * tx.c: frames out (xgnf_send, xgnf_flush) and their responses.
 *
 * Each tx request id owns one buffer of nf_tx_buf bytes (a page with
 * standard grants, NF_TX_BUF_EXT with extension grants); a frame of L
 * bytes takes ceil(L/buffer) ids, its first request carrying L (the whole
 * frame, as netif.h says) and a GSO extra slot right after it.  Requests
 * wait in q->pend until xgnf_flush grants their bytes and writes them into
 * the ring.  With grant-ext every request's gref is an extension grant of
 * exactly its bytes (READ): a buffer keeps its grant after the response,
 * and a later slot of the same length in that buffer uses it again (full
 * slots of large frames, same-sized ACKs: no grant call at all; a slot
 * takes a free buffer whose grant has its length when there is one);
 * another length gets a new grant (one create call per flush) and the old
 * one is revoked with NF_STALE_BATCH others in one call.  With
 * feature-grant-ext-tx-map (the backend offered it) each buffer is
 * instead granted once at setup, whole (NF_TX_BUF_EXT bytes, READ|MAP),
 * and every slot in it names that grant at offset 0: the backend maps it
 * once and writes the TAP from the mapping, and no slot costs a grant
 * call.  A live grant only ever covers bytes of frames sent to this
 * backend (the tx pages hold nothing else).  A response frees its id.
 */
#include <errno.h>
#include <string.h>

#include "grant_ring_idx.h"
#include "private.h"

unsigned nf_tx_buf(const struct xgnf *nf)
{
    return nf->info.grant_ext ? NF_TX_BUF_EXT : NF_BUF;
}

/* feature-grant-ext-tx-map: every buffer granted once, whole. */
static int grant_whole(struct xgnf *nf, struct nf_queue *q)
{
    struct grant_create_req reqs[NF_RING_ENTS];
    unsigned i;
    int rc;

    for (i = 0; i < NF_RING_ENTS; i++)
        reqs[i] = (struct grant_create_req){
            .grantee = (grant_domid_t)nf->be_id,
            .rights = GRANT_R_READ | GRANT_R_MAP,
            .ptr = q->tx_mem + (size_t)i * NF_TX_BUF_EXT,
            .len = NF_TX_BUF_EXT};
    rc = grant_create_batch(nf->h, reqs, NF_RING_ENTS);
    for (i = 0; rc == 0 && i < NF_RING_ENTS; i++) {
        q->tx_ref[i] = reqs[i].ref;
        q->tx_glen[i] = NF_TX_BUF_EXT;
    }
    return rc;
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
    if (nf->info.grant_ext && nf->tx_map && (rc = grant_whole(nf, q)) < 0) {
        grant_mem_free(nf->h, q->tx_mem);
        q->tx_mem = NULL;
        return rc;
    }
    for (i = 0; i < NF_RING_ENTS; i++)
        q->tx_free[i] = (uint16_t)(NF_RING_ENTS - 1 - i);
    q->tx_nfree = NF_RING_ENTS;
    q->nresv = 0;
    return 0;
}

/* Revokes the grants replaced on their pages, in one call. */
static void revoke_stale(struct xgnf *nf, struct nf_queue *q)
{
    struct grant_revoke_req rev[NF_STALE_MAX];
    unsigned i;

    for (i = 0; i < q->nstale; i++)
        rev[i] = (struct grant_revoke_req){.ref = q->stale[i]};
    /* One that will not go only covers bytes this backend was sent. */
    if (q->nstale &&
        grant_revoke_batch(nf->h, rev, q->nstale) != (int)q->nstale)
        nf->st.err_grant++;
    q->nstale = 0;
}

void nf_tx_teardown(struct xgnf *nf, struct nf_queue *q)
{
    unsigned i;

    if (!q->tx_mem)
        return;
    for (i = 0; nf->info.grant_ext && i < NF_RING_ENTS; i++)
        if (q->tx_glen[i])
            grant_revoke(nf->h, q->tx_ref[i], GRANT_REVOKE_FORCE);
    /* A new connection grants anew (else its slots would name these). */
    memset(q->tx_glen, 0, sizeof(q->tx_glen));
    revoke_stale(nf, q);
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

/* A free id for a slot of n bytes: with extension grants, one whose grant
 * already covers exactly n bytes when there is one (no create call now,
 * no revoke later: a stream's full slots, its super-packets' tails of one
 * size, its ACKs), else the one freed last.  *miss: out, a search for n
 * found none; in, set: no search (taking ids never makes one of n appear:
 * a frame's next slots of that size skip the scan of every free id, which
 * at 64-byte UDP was a fifth of xgrant-netfront's time). */
static uint16_t take_id(const struct xgnf *nf, struct nf_queue *q, size_t n,
                        int *miss)
{
    unsigned i = q->tx_nfree - 1, k;
    uint16_t id;
    int found = 0;

    if (nf->info.grant_ext && !nf->tx_map && !*miss) {
        for (k = q->tx_nfree; !found && k-- > 0;)
            if (q->tx_glen[q->tx_free[k]] == n) {
                i = k;
                found = 1;
            }
        *miss = !found;
    }
    id = q->tx_free[i];
    q->tx_free[i] = q->tx_free[--q->tx_nfree];
    return id;
}

/* The checks of a frame of len bytes (its head in iov) before it is
 * queued: 0 and its data slots in *slots, or xgnf_send's error. */
static int check_frame(struct xgnf *nf, struct nf_queue *q, size_t len,
                       const struct iovec *iov, int iovcnt,
                       const struct xgnf_meta *m, unsigned *slots)
{
    size_t buf = nf_tx_buf(nf);
    int rc;

    if (len < XGNF_MIN_FRAME || len > XGNF_MAX_FRAME)
        return -EMSGSIZE;
    *slots = (unsigned)((len + buf - 1) / buf);
    if (len > NF_BUF && !nf->info.sg)
        return -EMSGSIZE;
    rc = check_meta(nf, iov, iovcnt, m);
    if (rc < 0)
        return rc;
    if (xfe_ring_free(q->tx) < q->npend + *slots + !!m->gso_type)
        return -EAGAIN;
    return 0;
}

/* Queues a frame of len bytes already in the buffers ids[0 .. slots). */
static void queue_frame(struct nf_queue *q, const uint16_t *ids, unsigned slots,
                        size_t len, size_t buf, const struct xgnf_meta *m)
{
    size_t off = 0;
    unsigned k;

    for (k = 0; k < slots; k++) {
        uint16_t id = ids[k], flags = k + 1 < slots ? NETTXF_more_data : 0;
        size_t n = len - off < buf ? len - off : buf;

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
}

int xgnf_send(struct xgnf *nf, unsigned qi, const struct iovec *iov, int iovcnt,
              const struct xgnf_meta *m)
{
    static const struct xgnf_meta none;
    struct nf_queue *q = &nf->q[qi % XGNF_MAX_QUEUES]; /* checked below */
    size_t len = 0, off = 0, buf = nf_tx_buf(nf), voff = 0;
    uint16_t ids[XGNF_MAX_SLOTS];
    unsigned slots, k;
    int miss[2] = {0, 0}; /* take_id's, per kind of slot: full or not */
    int i, rc, vi = 0;

    if (iovcnt < 0 || (iovcnt && !iov))
        return -EINVAL;
    rc = nf_usable(nf, qi);
    if (rc < 0)
        return rc;
    m = m ? m : &none;
    for (i = 0; i < iovcnt; i++)
        if (__builtin_add_overflow(len, iov[i].iov_len, &len))
            return -EMSGSIZE;
    rc = check_frame(nf, q, len, iov, iovcnt, m, &slots);
    if (rc < 0)
        return rc;
    if (q->tx_nfree < slots)
        return -EAGAIN;
    for (k = 0; k < slots; k++) {
        size_t n = len - off < buf ? len - off : buf, got = 0;

        ids[k] = take_id(nf, q, n, &miss[n == buf]);
        while (got < n) { /* gather this slot's bytes */
            size_t c = iov[vi].iov_len - voff;

            c = c < n - got ? c : n - got;
            memcpy(q->tx_mem + (size_t)ids[k] * buf + got,
                   (const uint8_t *)iov[vi].iov_base + voff, c);
            got += c;
            voff += c;
            if (voff == iov[vi].iov_len) {
                vi++;
                voff = 0;
            }
        }
        off += n;
    }
    queue_frame(q, ids, slots, len, buf, m);
    return 0;
}

/* Gives the reserved buffers from the k-th on back. */
static void unreserve(struct nf_queue *q, unsigned k)
{
    for (; k < q->nresv; k++)
        q->tx_free[q->tx_nfree++] = q->resv[k];
    q->nresv = 0;
}

int xgnf_send_reserve(struct xgnf *nf, unsigned qi, size_t max,
                      struct iovec *iov, unsigned *n)
{
    struct nf_queue *q = &nf->q[qi % XGNF_MAX_QUEUES]; /* checked below */
    size_t buf = nf_tx_buf(nf), off;
    unsigned slots, k;
    int miss = 0, nosearch = 1;
    int rc = nf_usable(nf, qi);

    if (rc < 0)
        return rc;
    if (!iov || !n || max < XGNF_MIN_FRAME)
        return -EINVAL;
    if (q->nresv)
        return -EBUSY;
    if (max > XGNF_MAX_FRAME)
        max = XGNF_MAX_FRAME;
    if (max > NF_BUF && !nf->info.sg)
        max = NF_BUF;
    slots = (unsigned)((max + buf - 1) / buf);
    if (q->tx_nfree < slots || xfe_ring_free(q->tx) < q->npend + slots + 1)
        return -EAGAIN;
    for (k = 0, off = 0; k < slots; k++, off += buf) {
        size_t len = max - off < buf ? max - off : buf;

        /* A last, partial slot: commit finds its tail a grant. */
        q->resv[k] = take_id(nf, q, len, len == buf ? &miss : &nosearch);
        iov[k].iov_base = q->tx_mem + (size_t)q->resv[k] * buf;
        iov[k].iov_len = len;
    }
    q->nresv = slots;
    q->resv_max = max;
    *n = slots;
    return 0;
}

int xgnf_send_commit(struct xgnf *nf, unsigned qi, size_t len,
                     const struct xgnf_meta *m)
{
    static const struct xgnf_meta none;
    struct nf_queue *q = &nf->q[qi % XGNF_MAX_QUEUES]; /* checked below */
    size_t buf = nf_tx_buf(nf), tail;
    unsigned slots, k;
    struct iovec head;
    int rc = nf_usable(nf, qi);

    if (rc < 0)
        return rc;
    if (!q->nresv)
        return len ? -EINVAL : 0;
    m = m ? m : &none;
    head.iov_base = q->tx_mem + (size_t)q->resv[0] * buf;
    head.iov_len = len < buf ? len : buf;
    rc = len > q->resv_max ? -EMSGSIZE
                           : check_frame(nf, q, len, &head, 1, m, &slots);
    if (len == 0 || rc < 0) {
        unreserve(q, 0);
        return len ? rc : 0;
    }
    /* A tail of a length some free buffer's grant has: moved there (at
     * most a slot's bytes) rather than granted anew. */
    tail = len - (size_t)(slots - 1) * buf;
    if (nf->info.grant_ext && !nf->tx_map &&
        q->tx_glen[q->resv[slots - 1]] != tail) {
        for (k = q->tx_nfree; k-- > 0;)
            if (q->tx_glen[q->tx_free[k]] == tail) {
                uint16_t id = q->tx_free[k];

                memcpy(q->tx_mem + (size_t)id * buf,
                       q->tx_mem + (size_t)q->resv[slots - 1] * buf, tail);
                q->tx_free[k] = q->resv[slots - 1];
                q->resv[slots - 1] = id;
                break;
            }
    }
    queue_frame(q, q->resv, slots, len, buf, m);
    unreserve(q, slots);
    return 0;
}

/* Gives every pending request a grant of exactly its bytes: the page's
 * own when its length matches, else a new one (one call for the flush; the
 * old one joins q->stale).  0, or the create's error (then the pending
 * frames are dropped). */
static int grant_pending(struct xgnf *nf, struct nf_queue *q)
{
    struct grant_create_req reqs[NF_RING_ENTS];
    uint16_t ids[NF_RING_ENTS];
    unsigned i, n = 0;
    int rc;

    if (q->nstale + q->npend > NF_STALE_MAX)
        revoke_stale(nf, q);
    for (i = 0; i < q->npend; i++) {
        uint16_t id = q->pend[i].u.req.id;

        if (q->pend[i].extra || q->tx_glen[id] == q->tx_len[id])
            continue;
        if (q->tx_glen[id])
            q->stale[q->nstale++] = q->tx_ref[id];
        q->tx_glen[id] = 0;
        ids[n] = id;
        reqs[n++] = (struct grant_create_req){
            .grantee = (grant_domid_t)nf->be_id,
            .rights = GRANT_R_READ,
            .ptr = q->tx_mem + (size_t)id * NF_TX_BUF_EXT,
            .len = q->tx_len[id]};
    }
    rc = n ? grant_create_batch(nf->h, reqs, n) : 0;
    for (i = 0; rc == 0 && i < n; i++) {
        q->tx_ref[ids[i]] = reqs[i].ref;
        q->tx_glen[ids[i]] = q->tx_len[ids[i]];
    }
    if (q->nstale >= NF_STALE_BATCH)
        revoke_stale(nf, q);
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

    int rc = nf_usable(nf, qi), tx_note = 0, rx_note;

    if (rc < 0)
        return rc;
    if (q->npend && nf->info.grant_ext && !nf->tx_map &&
        grant_pending(nf, q) < 0)
        drop_pending(nf, q);
    if (q->npend) {
        write_pending(nf, q);
        tx_note = xfe_ring_push(q->tx);
    }
    rx_note = nf_rx_post(q);
    /* One signal for both rings when they share the channel. */
    if (tx_note)
        xfe_kick(nf->dev, qi, 0);
    if (rx_note && (!tx_note || nf->info.split_evtchn))
        xfe_kick(nf->dev, qi, 1);
    return 0;
}

/* Takes one pass of tx responses, freeing their ids. */
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
        q->tx_state[id] = TX_FREE;
        q->tx_free[q->tx_nfree++] = id;
    }
    if (rc < 0)
        nf_halt(nf);
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
}
