/* SPDX-License-Identifier: MIT */
/*
 * net_backend: xgrant-netback against a raw netif frontend, in a network
 * namespace of its own (root: TAP devices and namespaces; skipped
 * otherwise).
 *
 * Domain 0 runs the daemon (build/bin/xgrant-netback) and plays the
 * toolstack; it sees each vif's TAP through a packet socket with
 * virtio-net headers (PACKET_VNET_HDR), so it sends and receives exactly
 * the frames and offload flags the TAP carries.  Each guest runs this
 * binary as a frontend written directly on xfe and libgrant (byte-exact
 * grants: feature-grant-ext), driven by command lines:
 *   post Q N            post N rx buffers on queue Q
 *   recv Q MS           one packet from queue Q: its length, slots,
 *                       flags, GSO and a hash of its bytes
 *   send Q SPEC...      one packet (see struct spec), answered with the
 *                       tx responses' statuses
 *   flood Q N LEN       N packets, then the time until all were answered
 * Cases: traffic both ways (one slot, multi-slot, 18 slots, 9000 bytes),
 * checksum offload and GSO both ways, every bad input of the issue (each
 * dropped and counted in statistics/, the vif going on), ring indices
 * that jump (that vif closes, the others go on), a frontend that never
 * posts rx buffers (drops counted after --rx-stall-ms), rx buffers mapped
 * with feature-grant-ext-rx-map (byte-exact, force-revoked and protected
 * under netback, no mapping left; not mappable: copied), tx buffers
 * mapped with feature-grant-ext-tx-map (written to the TAP from the
 * mappings; protected and force-revoked under netback), rate=, two
 * queues with split event channels, a bridge, and a frontend dying
 * mid-stream (its TAP goes, no mapping stays, a new guest gets a fresh
 * vif).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <linux/if_packet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/virtio_net.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <linux/if.h> /* IF_OPER_UP (after net/if.h, which it defers to) */
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define grant_handle_t xen_grant_handle_t
#include <xen/io/netif.h>
#undef grant_handle_t

#include "common/itest.h"
#include "libgrant_xenbus.h"
#include "xfe.h"

#define KIND "vif"
/* --rx-stall-ms: long enough that a loaded machine (CI: 2 cores, load
 * 10) never reaches it in the cases about delivery; only B, which never
 * posts, waits it out. */
#define STALL_MS 1500
/* What a step may take on such a machine before the test calls it lost;
 * only a failing run waits this long. */
#define SLOW_MS  10000
#define RX_PAGES 256u
#define TX_PAGES 40u
#define MAXF     65535u

static long long ms_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000ll + ts.tv_nsec / 1000000;
}

static uint32_t fnv(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u;
    size_t i;

    for (i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

/* ---- Frames (both sides build the same bytes) --------------------------- */

/* What a test packet is: "len=N slots=S proto=raw|udp4|tcp4|tcp6 csum
 * gso=SIZE seed=X bad=KIND at=P" (at: laid out from tx page P on). */
struct spec {
    unsigned len, slots, seed, gso, at;
    char proto[8], bad[16];
    int csum;
};

static void parse_spec(char *s, struct spec *sp)
{
    char *tok, *save = NULL;

    memset(sp, 0, sizeof(*sp));
    sp->len = 60;
    sp->slots = 1;
    strcpy(sp->proto, "raw");
    for (tok = strtok_r(s, " \n", &save); tok;
         tok = strtok_r(NULL, " \n", &save)) {
        if (!strncmp(tok, "len=", 4))
            sp->len = (unsigned)atoi(tok + 4);
        else if (!strncmp(tok, "slots=", 6))
            sp->slots = (unsigned)atoi(tok + 6);
        else if (!strncmp(tok, "seed=", 5))
            sp->seed = (unsigned)atoi(tok + 5);
        else if (!strncmp(tok, "gso=", 4))
            sp->gso = (unsigned)atoi(tok + 4);
        else if (!strncmp(tok, "at=", 3))
            sp->at = (unsigned)atoi(tok + 3);
        else if (!strncmp(tok, "proto=", 6))
            snprintf(sp->proto, sizeof(sp->proto), "%s", tok + 6);
        else if (!strncmp(tok, "bad=", 4))
            snprintf(sp->bad, sizeof(sp->bad), "%s", tok + 4);
        else if (!strcmp(tok, "csum"))
            sp->csum = 1;
    }
}

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t s)
{
    size_t i;

    for (i = 0; i + 1 < n; i += 2)
        s += (uint32_t)p[i] << 8 | p[i + 1];
    if (n & 1)
        s += (uint32_t)p[n - 1] << 8;
    return s;
}

static unsigned fold(uint32_t s)
{
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return s;
}

static void put16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* The frame of a spec into f (sp->len bytes).  IP packets get correct
 * headers; the transport checksum is the pseudo-header's sum (partial)
 * with csum, else complete.  Returns the transport header's offset (0 for
 * raw). */
static unsigned build_frame(const struct spec *sp, uint8_t *f)
{
    unsigned i, len = sp->len, l4 = 0, proto = 0, ck = 0;
    int v6 = !strcmp(sp->proto, "tcp6");
    uint32_t s;

    for (i = 0; i < len; i++)
        f[i] = (uint8_t)(sp->seed * 7u + i * 13u + (i >> 8));
    memset(f, 0xff, 6);
    f[6] = 0x00, f[7] = 0x16, f[8] = 0x3e, f[9] = 0, f[10] = 0;
    f[11] = (uint8_t)sp->seed;
    if (!strcmp(sp->proto, "raw") || len < 80) {
        put16(f + 12, 0x88b5);
        return 0;
    }
    proto = strcmp(sp->proto, "udp4") ? 6 : 17;
    if (v6) {
        put16(f + 12, 0x86dd);
        memset(f + 14, 0, 40);
        f[14] = 0x60;
        put16(f + 18, len - 54);
        f[20] = 6, f[21] = 64;
        f[22] = 0xfe, f[23] = 0x80, f[37] = 2; /* fe80::2 -> fe80::1 */
        f[38] = 0xfe, f[39] = 0x80, f[53] = 1;
        l4 = 54;
    } else {
        put16(f + 12, 0x0800);
        memset(f + 14, 0, 20);
        f[14] = 0x45;
        put16(f + 16, len - 14);
        f[22] = 64, f[23] = (uint8_t)proto;
        f[26] = 10, f[29] = 2, f[30] = 10, f[33] = 1; /* 10.0.0.2 -> .1 */
        put16(f + 24, ~fold(sum16(f + 14, 20, 0)) & 0xffff);
        l4 = 34;
    }
    put16(f + l4, 5000 + sp->seed); /* a flow per seed */
    put16(f + l4 + 2, 6000);
    if (proto == 17) {
        put16(f + l4 + 4, len - l4);
        ck = l4 + 6;
    } else {
        memset(f + l4 + 4, 0, 16);
        f[l4 + 12] = 5 << 4; /* doff 5 */
        f[l4 + 13] = 0x10;   /* ACK */
        ck = l4 + 16;
    }
    put16(f + ck, 0);
    s = proto + (len - l4);
    s = v6 ? sum16(f + 22, 32, s) : sum16(f + 26, 8, s);
    if (sp->csum || sp->gso)
        put16(f + ck, fold(s));
    else
        put16(f + ck, ~fold(sum16(f + l4, len - l4, s)) & 0xffff);
    return l4;
}

/* ---- The frontend (a guest) --------------------------------------------- */

struct fe {
    grant_handle_t *h;
    struct xfe_dev *d;
    grant_domid_t be;
    uint8_t *rx_mem[XFE_MAX_QUEUES], *tx_mem;
    grant_ref_t rx_ref[XFE_MAX_QUEUES][RX_PAGES];
    int v1;                          /* standard grants: shared pages */
    grant_v1_ref_t tx_ref[TX_PAGES]; /* v1: each tx page's */
    grant_ref_t txm_ref[TX_PAGES];   /* txmap: each tx page's */
};

/* mode "txmap": feature-grant-ext-tx-map, tx buffers of a page each,
 * granted READ|MAP once; every slot at the start of its page.  txprot:
 * armed by "txprotect", the tx pages [page, page + n) given access acc in
 * the next send, once its bytes are written (our own stores would fault
 * after), until its responses. */
static int fe_txmap;
static struct {
    unsigned page, n, acc;
} fe_txprot;

/* Sets the armed protection (or lifts it: GRANT_ACC_RWX); 0 or -errno. */
static int fe_txprotect(struct fe *fe, unsigned acc)
{
    return grant_protect(fe->h, fe->tx_mem + (size_t)fe_txprot.page * 4096,
                         (size_t)fe_txprot.n * 4096, acc, GRANT_ACT_DENY, 0);
}

/* A grant of [p, p+len) of the tx pool: byte-exact (offset 0), or the v1
 * ref of its page and the offset in it. */
static int fe_grant(struct fe *fe, uint8_t *p, unsigned len, grant_ref_t *ref,
                    uint16_t *off)
{
    size_t at = (size_t)(p - fe->tx_mem);

    if (fe->v1) {
        *ref = fe->tx_ref[at / 4096];
        *off = (uint16_t)(at % 4096);
        return 0;
    }
    if (fe_txmap) {
        *ref = fe->txm_ref[at / 4096];
        *off = 0;
        return 0;
    }
    *off = 0;
    return grant_create_direct(fe->h, fe->be, GRANT_R_READ, p, len, ref);
}

static void fe_ungrant(struct fe *fe, grant_ref_t ref)
{
    if (!fe->v1 && !fe_txmap)
        grant_revoke(fe->h, ref, GRANT_REVOKE_FORCE);
}

/* txmap: grants every tx page READ|MAP: how many refs are numbers the
 * previous grants had (revoked ones given out again), or -errno. */
static int fe_grant_tx(struct fe *fe)
{
    grant_ref_t old[TX_PAGES];
    unsigned i, j, again = 0;
    int rc = 0;

    memcpy(old, fe->txm_ref, sizeof(old));
    for (i = 0; rc == 0 && i < TX_PAGES; i++)
        rc = grant_create_direct(fe->h, fe->be, GRANT_R_READ | GRANT_R_MAP,
                                 fe->tx_mem + (size_t)i * 4096, 4096,
                                 &fe->txm_ref[i]);
    for (i = 0; rc == 0 && i < TX_PAGES; i++)
        for (j = 0; j < TX_PAGES; j++)
            again += fe->txm_ref[i] == old[j];
    return rc < 0 ? rc : (int)again;
}

static int fe_nocsum;   /* mode "nocsum": takes no partial checksums */
static int fe_nonotify; /* mode "nonotify": no feature-rx-notify */
static int fe_badrxbuf; /* mode "badrxbuf": rx buffers of 5000 bytes */
/* mode "rxmap": feature-grant-ext-rx-map, rx buffers granted with MAP;
 * "rxnomap": the key said, the buffers granted WRITE only (not mappable) */
static int fe_rxmap, fe_rxnomap;

/* Grants queue q's rx buffers (byte grants of a page each). */
static int fe_grant_rx(struct fe *fe, unsigned q)
{
    unsigned i,
        rights = GRANT_R_WRITE | (fe_rxmap ? GRANT_R_READ | GRANT_R_MAP : 0);
    int rc = 0;

    for (i = 0; rc == 0 && i < RX_PAGES; i++)
        rc = grant_create_direct(fe->h, fe->be, rights,
                                 fe->rx_mem[q] + (size_t)i * 4096, 4096,
                                 &fe->rx_ref[q][i]);
    return rc;
}

/* Force-revokes queue q's rx grants (mapped or not): how many went. */
static unsigned fe_revoke_rx(struct fe *fe, unsigned q)
{
    unsigned i, n = 0;

    for (i = 0; i < RX_PAGES; i++)
        n += grant_revoke(fe->h, fe->rx_ref[q][i], GRANT_REVOKE_FORCE) == 0;
    return n;
}

static int fe_publish(struct xfe_dev *d, xs_transaction_t t)
{
    static const char *const keys[] = {
        "request-rx-copy",           "feature-sg",
        "feature-gso-tcpv4",         "feature-gso-tcpv6",
        "feature-ipv6-csum-offload",
    };
    unsigned i;
    int rc = 0;

    for (i = 0; rc == 0 && i < sizeof(keys) / sizeof(keys[0]); i++)
        rc = grant_xenbus_write(xfe_xb(d), t, xfe_dir(d), keys[i], "1");
    if (rc == 0 && !fe_nonotify)
        rc = grant_xenbus_write(xfe_xb(d), t, xfe_dir(d), "feature-rx-notify",
                                "1");
    if (rc == 0 && fe_nocsum)
        rc = grant_xenbus_write(xfe_xb(d), t, xfe_dir(d),
                                "feature-no-csum-offload", "1");
    if (rc == 0 && (fe_rxmap || fe_rxnomap))
        rc = grant_xenbus_write(xfe_xb(d), t, xfe_dir(d),
                                "feature-grant-ext-rx-map", "1");
    if (rc == 0 && fe_txmap)
        rc = grant_xenbus_write(xfe_xb(d), t, xfe_dir(d),
                                "feature-grant-ext-tx-map", "1");
    if (rc == 0 && fe_txmap)
        rc = grant_xenbus_write(xfe_xb(d), t, xfe_dir(d),
                                "grant-ext-tx-buffer-size", "4096");
    if (rc == 0 && fe_badrxbuf)
        rc = grant_xenbus_write(xfe_xb(d), t, xfe_dir(d),
                                "grant-ext-rx-buffer-size", "5000");
    return rc;
}

static struct xfe_ops fe_ops = {
    .kind = KIND,
    .nr_rings = 2,
    .ring = {{"tx-ring-ref", sizeof(union netif_tx_sring_entry), 0},
             {"rx-ring-ref", sizeof(union netif_rx_sring_entry), 0}},
    .max_queues = 1,
    .split_evtchn = 1,
    .grant_ext = 1,
    .skip_initialised = 1,
    .publish = fe_publish,
};

static void fe_post(struct fe *fe, unsigned q, unsigned n)
{
    struct xfe_ring *r = &xfe_queue(fe->d, q)->ring[1];
    netif_rx_request_t *req;
    unsigned i;

    for (i = 0; i < n && (req = xfe_ring_req_slot(r)); i++) {
        unsigned id = r->req_prod_pvt & (r->nr_ents - 1);

        req->id = (uint16_t)id;
        req->gref = fe->rx_ref[q][id % RX_PAGES];
        xfe_ring_req_done(r);
    }
    /* Without feature-rx-notify a posting is never signalled. */
    if (xfe_ring_push(r) && !fe_nonotify)
        xfe_notify(fe->d, q, 1);
}

/* Posts buffer b alone (id b: a buffer used again). */
static void fe_post_buf(struct fe *fe, unsigned q, unsigned b)
{
    struct xfe_ring *r = &xfe_queue(fe->d, q)->ring[1];
    netif_rx_request_t *req = xfe_ring_req_slot(r);

    if (!req)
        return;
    req->id = (uint16_t)b;
    req->gref = fe->rx_ref[q][b % RX_PAGES];
    xfe_ring_req_done(r);
    if (xfe_ring_push(r))
        xfe_notify(fe->d, q, 1);
}

/* Waits for the next response of ring r of queue q into e. */
static int fe_take(struct fe *fe, unsigned q, struct xfe_ring *r, void *e,
                   long long end)
{
    struct xfe_queue *xq = xfe_queue(fe->d, q);
    int rc;

    while ((rc = xfe_ring_take(r, e)) == 0) {
        if (ms_now() >= end)
            return -ETIMEDOUT;
        if (xfe_ring_final_check(r) == 0) {
            grant_evtchn_wait(fe->h, xq->port[r == &xq->ring[1] ? 1 : 0], 20);
        }
    }
    return rc < 0 ? rc : 0;
}

static void fe_recv(struct fe *fe, unsigned q, int ms)
{
    struct xfe_ring *r = &xfe_queue(fe->d, q)->ring[1];
    static uint8_t pkt[MAXF + 4096];
    union netif_rx_sring_entry e;
    unsigned len = 0, slots = 0, flags = 0, gso_size = 0, gso_type = 0;
    long long end = ms_now() + ms;
    int more = 1, first = 1, err = 0;

    while (more) {
        if (fe_take(fe, q, r, &e, end) < 0) {
            printf("err timeout after %u slots\n", slots);
            return;
        }
        if (first)
            flags = e.rsp.flags;
        if (e.rsp.status < 0 || e.rsp.offset + (unsigned)e.rsp.status > 4096)
            err = 1;
        else if (len + (unsigned)e.rsp.status <= sizeof(pkt))
            memcpy(pkt + len,
                   fe->rx_mem[q] + (size_t)(e.rsp.id % RX_PAGES) * 4096 +
                       e.rsp.offset,
                   (size_t)e.rsp.status);
        if (!err)
            len += (unsigned)e.rsp.status;
        slots++;
        more = e.rsp.flags & NETRXF_more_data;
        if (first && (e.rsp.flags & NETRXF_extra_info)) {
            netif_extra_info_t x;

            if (fe_take(fe, q, r, &x, end) < 0) {
                printf("err timeout in extra\n");
                return;
            }
            gso_size = x.type == XEN_NETIF_EXTRA_TYPE_GSO ? x.u.gso.size : 0;
            gso_type = x.type == XEN_NETIF_EXTRA_TYPE_GSO ? x.u.gso.type : 99;
        }
        first = 0;
    }
    printf("%s rx len=%u slots=%u flags=%u gso=%u/%u hash=%08x type=%02x%02x\n",
           err ? "err" : "ok", len, slots, flags, gso_type, gso_size,
           fnv(pkt, len), pkt[12], pkt[13]);
}

/* Lays the frame out in slots, grants each slot's bytes exactly, pushes,
 * waits for every response; prints their statuses. */
static void fe_send(struct fe *fe, unsigned q, struct spec *sp)
{
    struct xfe_ring *r = &xfe_queue(fe->d, q)->ring[0];
    static uint8_t frame[MAXF + 16];
    uint8_t *pool = fe->tx_mem;
    grant_ref_t refs[24];
    uint16_t offs[24];
    unsigned nslots = sp->slots, nreq = 0, i, size[24], off = 0;
    unsigned pos = sp->at < TX_PAGES ? sp->at * 4096 : 0;
    unsigned ok = 0, er = 0, nul = 0, extras = 0;
    netif_tx_request_t *req;
    long long end = ms_now() + SLOW_MS;
    int rc;

    if (nslots < 1 || nslots > 24 || sp->len > MAXF) {
        printf("err bad spec\n");
        return;
    }
    build_frame(sp, frame);
    /* Slots after the first take len/slots each; the first the rest. */
    for (i = 1; i < nslots; i++)
        size[i] = sp->len / nslots;
    size[0] = sp->len - (nslots - 1) * (sp->len / nslots);
    if (!strcmp(sp->bad, "oversize")) /* the others sum past the first */
        for (i = 1; i < nslots; i++)
            size[i] = 4096;
    if (!strcmp(sp->bad, "zero") && nslots > 2)
        size[0] += size[1], size[1] = 0;
    for (i = 0; i < nslots; i++) {
        unsigned n = size[i] ? size[i] : 1;
        unsigned glen = !strcmp(sp->bad, "pastgrant") && i == 0 ? n - 10 : n;

        /* Standard grants: a slot in its page (bad=cross: across);
         * txmap: at the start of its page. */
        if ((fe->v1 && pos % 4096 + n > 4096) || fe_txmap)
            pos = (pos + 4095) & ~4095u;
        if (fe->v1 && i == 0 && !strcmp(sp->bad, "cross"))
            pos = 4096 - n / 2;
        if (pos + n > TX_PAGES * 4096u)
            pos = 0;
        if (off < sp->len)
            memcpy(pool + pos, frame + off,
                   sp->len - off < size[i] ? sp->len - off : size[i]);
        rc = fe_grant(fe, pool + pos, glen, &refs[i], &offs[i]);
        if (rc < 0) {
            printf("err grant %d\n", rc);
            return;
        }
        off += size[i];
        pos += (n + 63) & ~63u;
    }
    for (i = 0; i < nslots; i++) {
        req = xfe_ring_req_slot(r);
        if (!req)
            break;
        req->gref = !strcmp(sp->bad, "gref") && i == 0 ? 0xdead0 : refs[i];
        req->offset = !strcmp(sp->bad, "offset") && i == 1 ? 100 : offs[i];
        req->id = (uint16_t)(r->req_prod_pvt & (r->nr_ents - 1));
        req->size = (uint16_t)(i > 0                      ? size[i]
                               : !strcmp(sp->bad, "runt") ? 10
                                                          : sp->len);
        req->flags = (uint16_t)((i + 1 < nslots ? NETTXF_more_data : 0) |
                                (i == 0 && sp->csum
                                     ? NETTXF_csum_blank | NETTXF_data_validated
                                     : 0));
        if (i == 0 && (sp->gso || !strncmp(sp->bad, "extra", 5)))
            req->flags |= NETTXF_extra_info;
        xfe_ring_req_done(r);
        nreq++;
        if (i == 0 && (req->flags & NETTXF_extra_info)) {
            netif_extra_info_t *x = xfe_ring_req_slot(r);

            memset(x, 0, sizeof(*x));
            x->type = XEN_NETIF_EXTRA_TYPE_GSO;
            x->u.gso.size = (uint16_t)sp->gso;
            x->u.gso.type = !strcmp(sp->proto, "tcp6")
                                ? XEN_NETIF_GSO_TYPE_TCPV6
                                : XEN_NETIF_GSO_TYPE_TCPV4;
            if (!strcmp(sp->bad, "extra"))
                x->type = 9;
            if (!strcmp(sp->bad, "extra0"))
                x->u.gso.size = 0;
            xfe_ring_req_done(r);
            nreq++, extras++;
        }
    }
    if (fe_txprot.n && fe_txprotect(fe, fe_txprot.acc) < 0)
        printf("# txprotect failed\n");
    if (xfe_ring_push(r))
        xfe_notify(fe->d, q, 0);
    for (i = 0; i < nreq; i++) {
        union netif_tx_sring_entry t; /* a take copies a whole entry */

        if (fe_take(fe, q, r, &t, end) < 0)
            break;
        if (t.rsp.status == NETIF_RSP_OKAY)
            ok++;
        else if (t.rsp.status == NETIF_RSP_NULL)
            nul++;
        else
            er++;
    }
    if (fe_txprot.n) {
        fe_txprotect(fe, GRANT_ACC_RWX);
        fe_txprot.n = 0;
    }
    for (i = 0; i < nslots; i++)
        fe_ungrant(fe, refs[i]);
    printf("%s rsp ok=%u err=%u null=%u of %u\n", i == nslots ? "ok" : "err",
           ok, er, nul, nreq);
}

/* N packets of LEN bytes, as fast as the ring takes them. */
static void fe_flood(struct fe *fe, unsigned q, unsigned n, unsigned len)
{
    struct xfe_ring *r = &xfe_queue(fe->d, q)->ring[0];
    struct spec sp = {.len = len, .slots = 1};
    long long t0 = ms_now(), end = t0 + 20000;
    grant_ref_t ref;
    uint16_t off;
    unsigned sent = 0, done = 0;
    netif_tx_request_t *req;
    union netif_tx_sring_entry t;

    strcpy(sp.proto, "raw");
    build_frame(&sp, fe->tx_mem);
    if (fe_grant(fe, fe->tx_mem, len, &ref, &off) < 0) {
        printf("err grant\n");
        return;
    }
    while (done < n && ms_now() < end) {
        while (sent < n && (req = xfe_ring_req_slot(r))) {
            req->gref = ref;
            req->offset = off;
            req->flags = 0;
            req->id = (uint16_t)(r->req_prod_pvt & (r->nr_ents - 1));
            req->size = (uint16_t)len;
            xfe_ring_req_done(r);
            sent++;
        }
        if (xfe_ring_push(r))
            xfe_notify(fe->d, q, 0);
        if (fe_take(fe, q, r, &t, end) == 0)
            done++;
    }
    fe_ungrant(fe, ref);
    printf("%s flood %u in %lld ms\n", done == n ? "ok" : "err", done,
           ms_now() - t0);
}

/* Closes the device as a frontend going away would (Closing, the
 * backend follows to Closed) and connects it again (Initialising: the
 * backend offers it anew): new rings, same buffers. */
static int fe_bounce(struct fe *fe, grant_xenbus_t *xb)
{
    long long end = ms_now() + SLOW_MS;
    int rc;

    grant_xenbus_switch_state(xb, XBT_NULL, xfe_dir(fe->d), XenbusStateClosing);
    while (xfe_update(fe->d) != XenbusStateClosed && ms_now() < end)
        usleep(10000);
    rc = xfe_reconnect(fe->d, SLOW_MS);
    if (rc == 0)
        fe_post(fe, 0, 0); /* (nothing posted yet on the new ring) */
    return rc;
}

static int wait_device(grant_xenbus_t *xb, grant_handle_t *h, unsigned devid)
{
    char dir[GRANT_XENBUS_PATH_MAX], *v = NULL;
    int i;

    grant_xenbus_frontend_dir(grant_domid(h), KIND, devid, dir, sizeof(dir));
    for (i = 0; i < SLOW_MS / 10; i++) {
        if (grant_xenbus_read(xb, XBT_NULL, dir, "backend", &v, NULL) == 0) {
            free(v);
            return 0;
        }
        usleep(10000);
    }
    return -ETIMEDOUT;
}

static int role_front(unsigned devid, unsigned nq, const char *mode)
{
    grant_xenbus_t *xb;
    struct fe fe;
    char line[512], *arg;
    unsigned q, i, a, b;
    int rc;

    memset(&fe, 0, sizeof(fe));
    fe_ops.max_queues = nq;
    fe.v1 = !strcmp(mode, "v1");
    fe_nocsum = !strcmp(mode, "nocsum");
    fe_nonotify = !strcmp(mode, "nonotify");
    fe_badrxbuf = !strcmp(mode, "badrxbuf");
    fe_rxmap = !strcmp(mode, "rxmap");
    fe_rxnomap = !strcmp(mode, "rxnomap");
    fe_txmap = !strcmp(mode, "txmap");
    fe_ops.grant_ext = !fe.v1;
    if (grant_open(&fe.h, 0) || grant_xenbus_open(&xb, 0))
        return 1;
    fe.be = 0;
    rc = wait_device(xb, fe.h, devid);
    if (rc == 0)
        rc = xfe_attach(&fe.d, &fe_ops, fe.h, xb, devid, 10000, NULL);
    for (q = 0; rc == 0 && fe.v1 && q < xfe_nr_queues(fe.d); q++)
        rc = grant_v1_share(fe.h, fe.be, RX_PAGES, 0, fe.rx_ref[q],
                            (void **)&fe.rx_mem[q]);
    if (rc == 0 && fe.v1)
        rc = grant_v1_share(fe.h, fe.be, TX_PAGES, GRANT_V1_RDONLY, fe.tx_ref,
                            (void **)&fe.tx_mem);
    for (q = 0; rc == 0 && !fe.v1 && q < xfe_nr_queues(fe.d); q++) {
        rc = grant_mem_alloc(fe.h, RX_PAGES, (void **)&fe.rx_mem[q]);
        if (rc == 0)
            rc = fe_grant_rx(&fe, q);
    }
    if (rc == 0 && !fe.v1)
        rc = grant_mem_alloc(fe.h, TX_PAGES, (void **)&fe.tx_mem);
    if (rc == 0 && fe_txmap)
        rc = fe_grant_tx(&fe) < 0;
    if (rc == 0 && !strcmp(mode, "jump")) {
        xfe_queue(fe.d, 0)->ring[0].sring[0] += 1000;
        xfe_notify(fe.d, 0, 0);
    }
    printf("%s connected %u\n", rc ? "err" : "ok",
           rc ? 0 : xfe_nr_queues(fe.d));
    fflush(stdout);
    while (rc == 0 && fgets(line, sizeof(line), stdin)) {
        struct spec sp;

        if (sscanf(line, "post %u %u", &q, &a) == 2 && q < xfe_nr_queues(fe.d))
            fe_post(&fe, q, a), printf("ok posted\n");
        else if (sscanf(line, "recv %u %u", &q, &a) == 2 &&
                 q < xfe_nr_queues(fe.d))
            fe_recv(&fe, q, (int)a);
        else if (sscanf(line, "flood %u %u %u", &q, &a, &b) == 3 &&
                 q < xfe_nr_queues(fe.d))
            fe_flood(&fe, q, a, b);
        else if (sscanf(line, "send %u", &q) == 1 && q < xfe_nr_queues(fe.d) &&
                 (arg = strchr(line + 5, ' '))) {
            parse_spec(arg, &sp);
            fe_send(&fe, q, &sp);
        } else if (sscanf(line, "postbuf %u %u", &q, &a) == 2 &&
                   q < xfe_nr_queues(fe.d)) {
            fe_post_buf(&fe, q, a);
            printf("ok posted\n");
        } else if (sscanf(line, "revoke %u", &q) == 1 && !fe.v1 &&
                   q < xfe_nr_queues(fe.d)) {
            printf("ok revoked %u\n", fe_revoke_rx(&fe, q));
        } else if (sscanf(line, "regrant %u", &q) == 1 && !fe.v1 &&
                   q < xfe_nr_queues(fe.d)) {
            printf("%s regranted\n", fe_grant_rx(&fe, q) ? "err" : "ok");
        } else if (sscanf(line, "protect %u %u", &q, &a) == 2 && !fe.v1 &&
                   q < xfe_nr_queues(fe.d)) {
            /* Our rx buffers read-only (or open again): a mapping of
             * them is downgraded under the backend. */
            i = (unsigned)-grant_protect(fe.h, fe.rx_mem[q], RX_PAGES * 4096u,
                                         a, GRANT_ACT_DENY, 0);
            printf("%s protected (%u)\n", i ? "err" : "ok", i);
        } else if (sscanf(line, "txprotect %u %u %u", &q, &a, &b) == 3 &&
                   fe_txmap && q + a <= TX_PAGES) {
            /* Tx pages q .. q+a with access b in the next send: a
             * mapping of them is downgraded under the backend. */
            fe_txprot.page = q;
            fe_txprot.n = a;
            fe_txprot.acc = b;
            printf("ok armed\n");
        } else if (!strncmp(line, "txrevoke", 8) && fe_txmap) {
            for (i = 0, a = 0; i < TX_PAGES; i++)
                a += grant_revoke(fe.h, fe.txm_ref[i], GRANT_REVOKE_FORCE) == 0;
            printf("ok revoked %u\n", a);
        } else if (!strncmp(line, "txregrant", 9) && fe_txmap) {
            int again = fe_grant_tx(&fe);

            printf("%s regranted (%d refs again)\n", again < 0 ? "err" : "ok",
                   again);
        } else if (!strncmp(line, "bounce", 6)) {
            rc = fe_bounce(&fe, xb);
            printf("%s bounced (%d)\n", rc ? "err" : "ok", rc);
            rc = 0;
        } else
            printf("err what\n");
        fflush(stdout);
    }
    return 0;
}

/* ---- Domain 0: the toolstack, the daemon, the TAP side ----------------- */

static grant_xenbus_t *xb0;
static pid_t nb_pid = -1;
static char nb_log_path[PATH_MAX];

struct vif {
    struct itest_agent a;
    unsigned devid;
    char fe_dir[GRANT_XENBUS_PATH_MAX], be_dir[GRANT_XENBUS_PATH_MAX];
    char ifname[IFNAMSIZ];
    int sock;
};

struct ts_arg {
    struct vif *v;
    const char *bridge, *rate, *vifname;
};

static int toolstack_in(grant_xenbus_t *xb, xs_transaction_t t, void *arg)
{
    struct ts_arg *ta = arg;
    struct vif *v = ta->v;
    unsigned fe = v->a.domid;
    char perms[32], mac[24];
    int rc = 0;

    snprintf(mac, sizeof(mac), "00:16:3e:00:%02x:%02x", fe & 0xff, v->devid);
    rc |= grant_xenbus_mkdir(xb, t, v->be_dir, NULL);
    snprintf(perms, sizeof(perms), "n0,r%u", fe);
    rc |= grant_xenbus_set_perms(xb, t, v->be_dir, NULL, perms);
    rc |= grant_xenbus_mkdir(xb, t, v->fe_dir, NULL);
    snprintf(perms, sizeof(perms), "n%u,r0", fe);
    rc |= grant_xenbus_set_perms(xb, t, v->fe_dir, NULL, perms);
    rc |= grant_xenbus_write(xb, t, v->be_dir, "frontend", v->fe_dir);
    rc |= grant_xenbus_printf(xb, t, v->be_dir, "frontend-id", "%u", fe);
    rc |= grant_xenbus_write(xb, t, v->be_dir, "online", "1");
    rc |= grant_xenbus_printf(xb, t, v->be_dir, "handle", "%u", v->devid);
    rc |= grant_xenbus_write(xb, t, v->be_dir, "mac", mac);
    if (ta->bridge) /* and jumbo frames */
        rc |= grant_xenbus_write(xb, t, v->be_dir, "mtu", "9000");
    if (ta->bridge)
        rc |= grant_xenbus_write(xb, t, v->be_dir, "bridge", ta->bridge);
    if (ta->rate)
        rc |= grant_xenbus_write(xb, t, v->be_dir, "rate", ta->rate);
    if (ta->vifname)
        rc |= grant_xenbus_write(xb, t, v->be_dir, "vifname", ta->vifname);
    rc |= grant_xenbus_write(xb, t, v->be_dir, "state", "1");
    rc |= grant_xenbus_write(xb, t, v->fe_dir, "backend", v->be_dir);
    rc |= grant_xenbus_write(xb, t, v->fe_dir, "backend-id", "0");
    rc |= grant_xenbus_printf(xb, t, v->fe_dir, "handle", "%u", v->devid);
    rc |= grant_xenbus_write(xb, t, v->fe_dir, "mac", mac);
    rc |= grant_xenbus_write(xb, t, v->fe_dir, "state", "1");
    return rc ? -EIO : 0;
}

static int be_state(struct vif *v)
{
    int st = -1;

    grant_xenbus_read_state(xb0, XBT_NULL, v->be_dir, &st);
    return st;
}

static int wait_be_state(struct vif *v, int want, int ms)
{
    long long end = ms_now() + ms;

    while (be_state(v) != want && ms_now() < end)
        usleep(10000);
    return be_state(v) == want;
}

/* A packet socket on the vif's TAP, with virtio-net headers. */
static int tap_sock(const char *ifname)
{
    struct sockaddr_ll sll;
    int s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL)),
        one = 1;

    if (s < 0)
        return -1;
    memset(&sll, 0, sizeof(sll));
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = (int)if_nametoindex(ifname);
    if (setsockopt(s, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)) < 0 ||
        bind(s, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
        close(s);
        return -1;
    }
    return s;
}

/* A new guest with a vif: returns when both ends are Connected. */
static int add_vif(grant_handle_t *dom0, struct vif *v, const char *name,
                   unsigned devid, unsigned nq, const char *mode,
                   const char *bridge, const char *rate)
{
    char id[16], q[16], line[128];
    char *argv[] = {itest_self(), "--role", id, q, (char *)mode, NULL};
    struct ts_arg ta = {v, bridge, rate, NULL};

    memset(v, 0, sizeof(*v));
    v->sock = -1;
    v->devid = devid;
    snprintf(id, sizeof(id), "%u", devid);
    snprintf(q, sizeof(q), "%u", nq);
    itest_spawn_argv(dom0, &v->a, name, 1024, argv);
    grant_xenbus_frontend_dir(v->a.domid, KIND, devid, v->fe_dir,
                              sizeof(v->fe_dir));
    grant_xenbus_backend_dir(0, KIND, v->a.domid, devid, v->be_dir,
                             sizeof(v->be_dir));
    snprintf(v->ifname, sizeof(v->ifname), "vif%u.%u", v->a.domid, devid);
    if (grant_xenbus_transact(xb0, toolstack_in, &ta, 0) < 0)
        return 0;
    if (!fgets(line, sizeof(line), v->a.in) ||
        strncmp(line, "ok connected", 12))
        return printf("# %s: %s", name, line), 0;
    if (!wait_be_state(v, XenbusStateConnected, SLOW_MS))
        return 0;
    v->sock = tap_sock(v->ifname);
    return v->sock >= 0;
}

static void del_vif(grant_handle_t *dom0, struct vif *v)
{
    if (v->sock >= 0)
        close(v->sock);
    itest_agent_close(&v->a);
    grant_ctl_domain_destroy(dom0, v->a.domid);
    if (be_state(v) != XenbusStateUnknown) /* its directory is still there */
        wait_be_state(v, XenbusStateClosed, SLOW_MS);
    grant_xenbus_write(xb0, XBT_NULL, v->be_dir, "online", "0");
    grant_xenbus_rm(xb0, XBT_NULL, v->be_dir, NULL);
    grant_xenbus_rm(xb0, XBT_NULL, v->fe_dir, NULL);
}

/* One command to a frontend, its reply line in buf. */
static void cmd(struct vif *v, char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void cmd(struct vif *v, char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vdprintf(v->a.to, fmt, ap);
    va_end(ap);
    dprintf(v->a.to, "\n");
    buf[0] = '\0';
    if (!fgets(buf, (int)len, v->a.in))
        snprintf(buf, len, "(no reply)");
    buf[strcspn(buf, "\n")] = '\0';
}

/* The next frame from the guest on the TAP (outgoing ones skipped):
 * its length, or -1 after ms. */
static int tap_recv(struct vif *v, struct virtio_net_hdr *h, uint8_t *f,
                    size_t cap, int ms)
{
    static uint8_t buf[sizeof(struct virtio_net_hdr) + MAXF + 64];
    long long end = ms_now() + ms;
    struct pollfd p = {.fd = v->sock, .events = POLLIN};
    struct sockaddr_ll sll;
    socklen_t sl;
    ssize_t n;

    while (ms_now() < end) {
        if (poll(&p, 1, (int)(end - ms_now())) <= 0)
            continue;
        sl = sizeof(sll);
        n = recvfrom(v->sock, buf, sizeof(buf), 0, (struct sockaddr *)&sll,
                     &sl);
        if (n < (ssize_t)sizeof(*h) || sll.sll_pkttype == PACKET_OUTGOING)
            continue;
        memcpy(h, buf, sizeof(*h));
        n -= (ssize_t)sizeof(*h);
        if ((size_t)n > cap)
            n = (ssize_t)cap;
        memcpy(f, buf + sizeof(*h), (size_t)n);
        return (int)n;
    }
    return -1;
}

/* Whether the kernel has v's TAP running (carrier on, as netback sets it
 * at connect): the host stack queues nothing for it before. */
/* 1 when v's TAP's operstate is "up".  The kernel applies a carrier
 * change later (its link watch: up to a second after netback's
 * TUNSETCARRIER, more on a loaded machine) and drops what is written to a
 * TAP it has not yet made ready.  SIOCGIFFLAGS's IFF_RUNNING, asked
 * before, is also set for operstate "unknown", what a new TAP has until
 * the link watch first looks at it; and the losses seen (7 of 50 loaded
 * runs, none since) were all of the first frame written to a vif just
 * connected. */
static int tap_running(struct vif *v)
{
    struct {
        struct nlmsghdr n;
        struct ifinfomsg i;
    } req = {
        .n = {.nlmsg_len = sizeof(req),
              .nlmsg_type = RTM_GETLINK,
              .nlmsg_flags = NLM_F_REQUEST},
        .i = {.ifi_family = AF_UNSPEC,
              .ifi_index = (int)if_nametoindex(v->ifname)},
    };
    static char buf[16384];
    struct nlmsghdr *h = (struct nlmsghdr *)buf;
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    int up = 0, len;
    struct rtattr *a;
    ssize_t n = -1;

    if (fd < 0)
        return 0;
    if (send(fd, &req, sizeof(req), 0) == (ssize_t)sizeof(req))
        n = recv(fd, buf, sizeof(buf), 0);
    close(fd);
    if (n <= 0 || !NLMSG_OK(h, (size_t)n) || h->nlmsg_type != RTM_NEWLINK)
        return 0;
    len = (int)IFLA_PAYLOAD(h);
    for (a = IFLA_RTA(NLMSG_DATA(h)); RTA_OK(a, len); a = RTA_NEXT(a, len))
        if (a->rta_type == IFLA_OPERSTATE)
            up = *(const uint8_t *)RTA_DATA(a) == IF_OPER_UP;
    return up;
}

/* Writes a frame into v's TAP from the host side, once the kernel passes
 * frames on (tap_running). */
static int tap_send(struct vif *v, const struct virtio_net_hdr *h,
                    const uint8_t *f, size_t len)
{
    static uint8_t buf[sizeof(struct virtio_net_hdr) + MAXF + 64];
    long long end = ms_now() + SLOW_MS;

    while (!tap_running(v) && ms_now() < end)
        usleep(5000);
    memcpy(buf, h, sizeof(*h));
    memcpy(buf + sizeof(*h), f, len);
    return send(v->sock, buf, sizeof(*h) + len, 0) ==
                   (ssize_t)(sizeof(*h) + len)
               ? 0
               : -errno;
}

static unsigned long long stat_of(struct vif *v, const char *name)
{
    char node[64], *s = NULL;
    unsigned long long n = 0;

    snprintf(node, sizeof(node), "statistics/%s", name);
    if (grant_xenbus_read(xb0, XBT_NULL, v->be_dir, node, &s, NULL) == 0)
        n = strtoull(s, NULL, 10);
    free(s);
    return n;
}

/* Waits (counters are written once a second) for name to reach want. */
static unsigned long long wait_stat(struct vif *v, const char *name,
                                    unsigned long long want)
{
    long long end = ms_now() + SLOW_MS;

    while (stat_of(v, name) < want && ms_now() < end)
        usleep(50000);
    return stat_of(v, name);
}

static unsigned dom0_maps(grant_handle_t *dom0)
{
    struct grant_usage u = {0};

    grant_usage(dom0, 0, &u);
    return u.maps;
}

/* Waits until dom0 holds at most want mappings: how many it holds. */
static unsigned wait_maps(grant_handle_t *dom0, unsigned want)
{
    for (long long end = ms_now() + SLOW_MS;
         dom0_maps(dom0) > want && ms_now() < end;)
        usleep(20000);
    return dom0_maps(dom0);
}

/* Descriptors the daemon holds: TAP queues, event-channel ports. */
static int daemon_fds(void)
{
    char path[64], link[64];
    int n = 0, i;

    for (i = 0; i < 1024; i++) {
        snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)nb_pid, i);
        if (readlink(path, link, sizeof(link)) > 0)
            n++;
    }
    return n;
}

static int start_daemon(void)
{
    char self[PATH_MAX], bin[PATH_MAX + 32], stall[16];
    int fd;

    snprintf(self, sizeof(self), "%s", itest_self());
    snprintf(bin, sizeof(bin), "%s/../../bin/xgrant-netback", dirname(self));
    snprintf(nb_log_path, sizeof(nb_log_path), "/tmp/xgrant-netback-XXXXXX");
    fd = mkstemp(nb_log_path);
    if (fd < 0)
        return -errno;
    close(fd);
    snprintf(stall, sizeof(stall), "%u", STALL_MS);
    nb_pid = fork();
    if (nb_pid == 0) {
        execl(bin, bin, "--rx-stall-ms", stall, "--stats-ms", "100",
              "--max-queues", "2", "--log", nb_log_path, (char *)NULL);
        _exit(127);
    }
    return nb_pid < 0 ? -errno : 0;
}

static void show_daemon_log(void)
{
    char line[512];
    FILE *f = fopen(nb_log_path, "r");

    while (f && fgets(line, sizeof(line), f))
        printf("# netback: %s", line);
    if (f)
        fclose(f);
}

/* 1 when the daemon's log holds a line containing s. */
static int daemon_logged(const char *s)
{
    char line[512];
    FILE *f = fopen(nb_log_path, "r");
    int found = 0;

    while (f && !found && fgets(line, sizeof(line), f))
        found = strstr(line, s) != NULL;
    if (f)
        fclose(f);
    return found;
}

/* (sysfs shows the namespace it was mounted in: ask ip.) */
static int on_bridge(const char *ifname, const char *bridge)
{
    char sh[256];

    snprintf(sh, sizeof(sh), "ip -o link show %s | grep -q ' master %s '",
             ifname, bridge);
    return system(sh) == 0;
}

/* Frames still queued on the packet socket (floods) are not the next. */
static void tap_drain(struct vif *v)
{
    static uint8_t buf[MAXF + 64];

    while (recv(v->sock, buf, sizeof(buf), MSG_DONTWAIT) > 0)
        ;
}

/* A frame of spec `s` from the guest must come out of the TAP as built,
 * with virtio-net header `want` (flags, GSO). */
static void guest_to_tap(struct vif *v, unsigned q, const char *s,
                         const struct virtio_net_hdr *want)
{
    static uint8_t f[MAXF + 64], exp[MAXF + 64];
    char line[256], copy[128];
    struct virtio_net_hdr h = {0};
    struct spec sp;
    int n;

    snprintf(copy, sizeof(copy), "%s", s);
    parse_spec(copy, &sp);
    build_frame(&sp, exp);
    tap_drain(v);
    cmd(v, line, sizeof(line), "send %u %s", q, s);
    ICHECK(!strncmp(line, "ok rsp", 6) && strstr(line, "err=0"),
           "guest sends '%s' on queue %u: %s", s, q, line);
    n = tap_recv(v, &h, f, sizeof(f), SLOW_MS);
    ICHECK(n == (int)sp.len && !memcmp(f, exp, sp.len),
           "  it comes out of %s whole (%d of %u bytes)", v->ifname, n, sp.len);
    ICHECK(n < 0 || (h.flags == want->flags && h.gso_type == want->gso_type &&
                     h.gso_size == want->gso_size &&
                     (!want->flags || (h.csum_start == want->csum_start &&
                                       h.csum_offset == want->csum_offset))),
           "  with vnet flags %u gso %u/%u csum %u+%u (want %u %u/%u %u+%u)",
           h.flags, h.gso_type, h.gso_size, h.csum_start, h.csum_offset,
           want->flags, want->gso_type, want->gso_size, want->csum_start,
           want->csum_offset);
}

/* A frame of spec `s` written to the TAP must reach the guest's buffers
 * with netif flags `flags` (of csum_blank|data_validated) and GSO. */
static void tap_to_guest(struct vif *v, const char *s,
                         const struct virtio_net_hdr *h, unsigned flags,
                         unsigned gso_type, unsigned gso_size)
{
    static uint8_t f[MAXF + 64];
    char line[256], copy[128], want[128];
    struct spec sp;
    unsigned l4;
    int tries;

    snprintf(copy, sizeof(copy), "%s", s);
    parse_spec(copy, &sp);
    l4 = build_frame(&sp, f);
    (void)l4;
    ICHECK(tap_send(v, h, f, sp.len) == 0, "%s: '%s' written to the TAP",
           v->ifname, s);
    snprintf(want, sizeof(want), "ok rx len=%u slots=%u", sp.len,
             (sp.len + 4095) / 4096);
    for (tries = 0; tries < 3; tries++) {
        cmd(v, line, sizeof(line), "recv 0 %d", SLOW_MS);
        if (!strncmp(line, want, strlen(want)) || strncmp(line, "ok", 2))
            break;
        printf("# noise: %s\n", line);
    }
    ICHECK(!strncmp(line, want, strlen(want)), "  the guest got it: %s", line);
    snprintf(want, sizeof(want), "gso=%u/%u hash=%08x", gso_type, gso_size,
             fnv(f, sp.len));
    ICHECK(strstr(line, want) != NULL, "  bytes and GSO as sent (%s)", want);
    {
        const char *fl = strstr(line, "flags=");
        unsigned got = fl ? (unsigned)atoi(fl + 6) : 0;

        ICHECK((got & (NETRXF_csum_blank | NETRXF_data_validated)) == flags,
               "  checksum flags %u (want %u)",
               got & (NETRXF_csum_blank | NETRXF_data_validated), flags);
    }
}

/* A TCPv4 super-frame as the host stack hands it to a TSO device. */
static const struct virtio_net_hdr tso4 = {
    .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
    .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
    .gso_size = 1448,
    .hdr_len = 54,
    .csum_start = 34,
    .csum_offset = 16,
};

static void traffic(struct vif *v)
{
    struct virtio_net_hdr none = {0}, h;
    char line[256];

    /* Guest to TAP: one slot, three, eighteen, jumbo. */
    guest_to_tap(v, 0, "len=60 seed=1", &none);
    guest_to_tap(v, 0, "len=1500 slots=3 seed=2", &none);
    guest_to_tap(v, 0, "len=4000 slots=18 seed=3", &none);
    guest_to_tap(v, 0, "len=9000 slots=3 seed=4", &none);
    /* csum_blank -> a partial checksum on the TAP. */
    h = (struct virtio_net_hdr){.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
                                .csum_start = 34,
                                .csum_offset = 6};
    guest_to_tap(v, 0, "len=300 proto=udp4 csum seed=5", &h);
    h.csum_start = 54;
    h.csum_offset = 16;
    guest_to_tap(v, 0, "len=400 proto=tcp6 csum seed=6", &h);
    /* GSO both IP versions. */
    h = (struct virtio_net_hdr){.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
                                .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
                                .gso_size = 1448,
                                .csum_start = 34,
                                .csum_offset = 16};
    guest_to_tap(v, 0, "len=5000 slots=2 proto=tcp4 csum gso=1448 seed=7", &h);
    h.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
    h.gso_size = 1428;
    h.csum_start = 54;
    guest_to_tap(v, 0, "len=6000 slots=2 proto=tcp6 csum gso=1428 seed=8", &h);

    /* TAP to guest. */
    cmd(v, line, sizeof(line), "post 0 200");
    tap_to_guest(v, "len=60 seed=11", &none, 0, 0, 0);
    tap_to_guest(v, "len=1500 seed=12", &none, 0, 0, 0);
    tap_to_guest(v, "len=9000 seed=13", &none, 0, 0, 0);
    h = (struct virtio_net_hdr){.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
                                .csum_start = 34,
                                .csum_offset = 6};
    tap_to_guest(v, "len=300 proto=udp4 csum seed=14", &h,
                 NETRXF_csum_blank | NETRXF_data_validated, 0, 0);
    h = tso4;
    tap_to_guest(v, "len=10000 proto=tcp4 gso=1448 seed=15", &h,
                 NETRXF_csum_blank | NETRXF_data_validated,
                 XEN_NETIF_GSO_TYPE_TCPV4, 1448);
    h.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
    h.gso_size = 1428;
    h.hdr_len = 74;
    h.csum_start = 54;
    tap_to_guest(v, "len=20000 proto=tcp6 gso=1428 seed=16", &h,
                 NETRXF_csum_blank | NETRXF_data_validated,
                 XEN_NETIF_GSO_TYPE_TCPV6, 1428);
}

struct bad_case {
    const char *spec, *counter;
};

/* Bad inputs: each dropped (every slot answered, none OKAY) and counted
 * under its reason; a good packet passes after them. */
static void bad_inputs(struct vif *v, const struct bad_case *bad, unsigned nb)
{
    unsigned long long before[16];
    struct virtio_net_hdr none = {0};
    char line[256];
    unsigned i, j, want;

    for (i = 0; i < nb && i < 16; i++)
        before[i] = stat_of(v, bad[i].counter);
    for (i = 0; i < nb && i < 16; i++) {
        cmd(v, line, sizeof(line), "send 0 %s seed=%u", bad[i].spec, 40 + i);
        ICHECK(!strncmp(line, "ok rsp ok=0 ", 12),
               "bad tx '%s': every slot answered, none OKAY (%s)", bad[i].spec,
               line);
    }
    for (i = 0; i < nb && i < 16; i++) {
        unsigned long long got;

        for (want = 0, j = 0; j < nb; j++)
            want += !strcmp(bad[j].counter, bad[i].counter);
        got = wait_stat(v, bad[i].counter, before[i] + want);
        ICHECK(got == before[i] + want, "  statistics/%s counts it (%llu)",
               bad[i].counter, got);
    }
    guest_to_tap(v, 0, "len=100 seed=60", &none);
}

/* Every bad input of issue 14 with byte-exact grants. */
static const struct bad_case bad_ext[] = {
    {"len=60 bad=runt", "drop_rx_runt"},
    {"len=65535 slots=17 bad=oversize", "drop_rx_oversize"},
    {"len=1900 slots=19", "drop_rx_slots"},
    {"len=1000 slots=3 bad=offset", "drop_rx_bad_slot"},
    {"len=1000 slots=3 bad=zero", "drop_rx_zero_frag"},
    {"len=1000 bad=pastgrant", "drop_rx_copy"},
    {"len=1000 bad=gref", "drop_rx_copy"},
    {"len=1000 bad=extra", "drop_rx_bad_extra"},
    {"len=1000 bad=extra0", "drop_rx_bad_extra"},
    {"len=200 proto=raw csum", "drop_rx_csum"},
};
/* With standard grants: a slot across its page, a bad ref. */
static const struct bad_case bad_v1[] = {
    {"len=1000 bad=cross", "drop_rx_bad_slot"},
    {"len=1000 bad=gref", "drop_rx_copy"},
    {"len=1900 slots=19", "drop_rx_slots"},
};

/* A second device of A's domain whose vifname is A's interface: it must
 * not open a queue on A's TAP (the two would share traffic); it closes,
 * A goes on. */
static void name_taken(struct vif *a)
{
    struct virtio_net_hdr none = {0};
    struct vif x = *a;
    struct ts_arg ta = {&x, NULL, NULL, a->ifname};
    char *err = NULL;
    int closing;

    x.devid = 5;
    grant_xenbus_frontend_dir(x.a.domid, KIND, 5, x.fe_dir, sizeof(x.fe_dir));
    grant_xenbus_backend_dir(0, KIND, x.a.domid, 5, x.be_dir, sizeof(x.be_dir));
    ICHECK(grant_xenbus_transact(xb0, toolstack_in, &ta, 0) == 0,
           "a vif named %s again written", a->ifname);
    closing = wait_be_state(&x, XenbusStateClosing, SLOW_MS) ||
              be_state(&x) == XenbusStateClosed;
    ICHECK(closing, "  it closes instead of joining %s", a->ifname);
    grant_xenbus_read(xb0, XBT_NULL, x.be_dir, "error", &err, NULL);
    printf("# its error: %s\n", err ? err : "(none)");
    free(err);
    grant_xenbus_rm(xb0, XBT_NULL, x.be_dir, NULL);
    grant_xenbus_rm(xb0, XBT_NULL, x.fe_dir, NULL);
    guest_to_tap(a, 0, "len=100 seed=19", &none);
}

/* N: a frontend that takes no partial checksums (feature-no-csum-offload):
 * the backend completes them; a TSO super-frame reaches it segmented (the
 * TAP was offered no TSO), each segment's checksum completed. */
static void no_csum_offload(grant_handle_t *dom0)
{
    static uint8_t f[MAXF + 64];
    struct virtio_net_hdr h = {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
                               .csum_start = 34,
                               .csum_offset = 6};
    char line[256], want[128], spec[] = "len=300 proto=udp4 csum seed=30",
                               full[] = "len=300 proto=udp4 seed=30";
    struct spec sp;
    struct vif n;
    int ok = add_vif(dom0, &n, "net-n", 0, 1, "nocsum", NULL, NULL);

    ICHECK(ok, "vif N connected, feature-no-csum-offload");
    if (!ok)
        return;
    cmd(&n, line, sizeof(line), "post 0 100");
    parse_spec(spec, &sp);
    build_frame(&sp, f);
    tap_send(&n, &h, f, sp.len);
    parse_spec(full, &sp);
    build_frame(&sp, f); /* what it must become: the checksum complete */
    cmd(&n, line, sizeof(line), "recv 0 %d", SLOW_MS);
    snprintf(want, sizeof(want), "flags=%u gso=0/0 hash=%08x",
             NETRXF_data_validated, fnv(f, sp.len));
    ICHECK(strstr(line, want) != NULL,
           "  a partial UDP checksum arrives completed, data_validated: %s",
           line);
    parse_spec(strcpy(spec, "len=10000 proto=tcp4 seed=31"), &sp);
    build_frame(&sp, f);
    h = tso4;
    tap_send(&n, &h, f, sp.len);
    cmd(&n, line, sizeof(line), "recv 0 %d", SLOW_MS);
    snprintf(want, sizeof(want), "ok rx len=%u slots=1 flags=%u gso=0/0",
             54 + 1448, NETRXF_data_validated);
    ICHECK(!strncmp(line, want, strlen(want)),
           "  a TSO frame arrives as segments of 1448 bytes: %s", line);
    del_vif(dom0, &n);
}

/* 16 UDP flows into a two-queue vif's TAP: the kernel spreads them over
 * its queues, and each comes out of the netif queue of the same number. */
static void spread(struct vif *v)
{
    struct virtio_net_hdr none = {0};
    static uint8_t f[256];
    unsigned got[2] = {0, 0}, i, q;
    long long end;
    char line[256];

    cmd(v, line, sizeof(line), "post 0 64");
    cmd(v, line, sizeof(line), "post 1 64");
    for (i = 0; i < 16; i++) {
        struct spec sp = {.len = 200, .slots = 1, .seed = 100 + i};

        strcpy(sp.proto, "udp4");
        build_frame(&sp, f);
        tap_send(v, &none, f, sp.len);
    }
    /* (Short waits: one queue may be done long before the other.) */
    for (end = ms_now() + SLOW_MS; got[0] + got[1] < 16 && ms_now() < end;)
        for (q = 0; q < 2; q++) {
            cmd(v, line, sizeof(line), "recv %u 50", q);
            if (!strncmp(line, "ok rx len=200 ", 14))
                got[q]++;
        }
    ICHECK(got[0] + got[1] == 16 && got[0] && got[1],
           "16 flows into %s: %u on queue 0, %u on queue 1", v->ifname, got[0],
           got[1]);
}

/* R: a frontend without feature-rx-notify never signals its postings:
 * a packet waiting for buffers goes once they are there (the backend
 * looks every 10 ms).  Were it not looking, the packet would be held till
 * --rx-stall-ms and then dropped, never to arrive: its arrival (at any
 * time) is the proof, and nothing counted as dropped. */
static void no_rx_notify(grant_handle_t *dom0)
{
    static uint8_t f[200];
    struct virtio_net_hdr none = {0};
    struct spec sp = {.len = 200, .slots = 1, .seed = 33};
    char line[256], want[64];
    struct vif r;
    int ok = add_vif(dom0, &r, "net-r", 0, 1, "nonotify", NULL, NULL);
    long long t;

    ICHECK(ok, "vif R connected without feature-rx-notify");
    if (!ok)
        return;
    strcpy(sp.proto, "raw");
    build_frame(&sp, f);
    tap_send(&r, &none, f, sp.len);
    usleep(50000); /* held: no buffer yet */
    t = ms_now();
    cmd(&r, line, sizeof(line), "post 0 10");
    cmd(&r, line, sizeof(line), "recv 0 %d", SLOW_MS);
    t = ms_now() - t;
    snprintf(want, sizeof(want),
             "ok rx len=200 slots=1 flags=0 gso=0/0 hash=%08x", fnv(f, sp.len));
    ICHECK(!strncmp(line, want, strlen(want)) &&
               stat_of(&r, "drop_tx_no_buffer") == 0,
           "  the held packet arrives once buffers are posted, unsignalled "
           "(%lld ms): %s",
           t, line);
    del_vif(dom0, &r);
}

/* X: a frontend whose grant-ext-rx-buffer-size is not a multiple of a
 * page: its device closes, the error naming the key. */
static void bad_rx_buffer(grant_handle_t *dom0)
{
    struct vif x;
    char *err = NULL;
    int closing;

    add_vif(dom0, &x, "net-x", 0, 1, "badrxbuf", NULL, NULL);
    closing = wait_be_state(&x, XenbusStateClosing, 3000) ||
              be_state(&x) == XenbusStateClosed;
    grant_xenbus_read(xb0, XBT_NULL, x.be_dir, "error", &err, NULL);
    ICHECK(closing && err && strstr(err, "grant-ext-rx-buffer-size"),
           "vif X with 5000-byte rx buffers closes: %s", err ? err : "(none)");
    free(err);
    del_vif(dom0, &x);
}

/* B's frontend closes and connects again while B holds a packet (its TAP
 * not read): the vif serves the new rings. */
static void reconnect_holding(struct vif *b)
{
    static uint8_t f[300];
    struct virtio_net_hdr none = {0};
    struct spec sp = {.len = 300, .slots = 1, .seed = 34};
    char line[256];

    /* One buffer, one packet: B stops draining; the next is held. */
    cmd(b, line, sizeof(line), "post 0 1");
    tap_to_guest(b, "len=300 seed=33", &none, 0, 0, 0);
    strcpy(sp.proto, "raw");
    build_frame(&sp, f);
    tap_send(b, &none, f, sp.len);
    usleep(50000);
    cmd(b, line, sizeof(line), "bounce");
    ICHECK(!strncmp(line, "ok bounced", 10) &&
               wait_be_state(b, XenbusStateConnected, SLOW_MS),
           "B closed and connected again while holding a packet: %s", line);
    /* Buffers first: how long the new rings go without any is not this
     * case (a held packet, if any, comes first: tap_to_guest skips it). */
    cmd(b, line, sizeof(line), "post 0 10");
    guest_to_tap(b, 0, "len=300 seed=35", &none);
    tap_to_guest(b, "len=400 seed=36", &none, 0, 0, 0);
}

/* V: standard grants (v1 rings and pages), as stock Linux peers use. */
static void standard_grants(grant_handle_t *dom0)
{
    struct virtio_net_hdr none = {0}, h;
    struct vif v;
    char line[128], *ext = NULL;
    int ok = add_vif(dom0, &v, "net-v1", 0, 1, "v1", NULL, NULL);

    ICHECK(ok, "vif V connected with standard grants");
    if (!ok)
        return;
    grant_xenbus_read(xb0, XBT_NULL, v.fe_dir, "feature-grant-ext", &ext, NULL);
    ICHECK(!ext, "  (its frontend did not ask for feature-grant-ext)");
    free(ext);
    guest_to_tap(&v, 0, "len=60 seed=20", &none);
    guest_to_tap(&v, 0, "len=1500 slots=3 seed=21", &none);
    cmd(&v, line, sizeof(line), "post 0 100");
    tap_to_guest(&v, "len=1400 seed=22", &none, 0, 0, 0);
    h = tso4;
    tap_to_guest(&v, "len=30000 proto=tcp4 gso=1448 seed=23", &h,
                 NETRXF_csum_blank | NETRXF_data_validated,
                 XEN_NETIF_GSO_TYPE_TCPV4, 1448);
    bad_inputs(&v, bad_v1, sizeof(bad_v1) / sizeof(bad_v1[0]));
    del_vif(dom0, &v);
}

/* Waits until the daemon's log holds s. */
static int wait_logged(const char *s)
{
    long long end = ms_now() + SLOW_MS;

    while (!daemon_logged(s) && ms_now() < end)
        usleep(20000);
    return daemon_logged(s);
}

/* One frame of spec s into the TAP, buffer b posted for it: the guest's
 * recv line; 1 when it got the frame's bytes. */
static int tap_to_buf(struct vif *v, unsigned b, const char *s, char *line,
                      size_t len)
{
    static uint8_t f[MAXF];
    struct virtio_net_hdr none = {0};
    char copy[128], want[64];
    struct spec sp;

    snprintf(copy, sizeof(copy), "%s", s);
    parse_spec(copy, &sp);
    build_frame(&sp, f);
    cmd(v, line, len, "postbuf 0 %u", b);
    tap_send(v, &none, f, sp.len);
    cmd(v, line, len, "recv 0 %d", SLOW_MS);
    snprintf(want, sizeof(want), "hash=%08x", fnv(f, sp.len));
    return !strncmp(line, "ok rx", 5) && strstr(line, want) != NULL;
}

/* A frame for buffer b that must fail: an error response, the n-th
 * drop_tx_copy. */
static void refused(struct vif *v, unsigned b, const char *s,
                    unsigned long long n, const char *what)
{
    char line[256];
    unsigned long long drops;

    tap_to_buf(v, b, s, line, sizeof(line));
    drops = wait_stat(v, "drop_tx_copy", n);
    ICHECK(!strncmp(line, "err rx", 6) && drops == n,
           "  %s: an error response, drop_tx_copy %llu (%s)", what, drops,
           line);
}

/* The MTU of v's TAP (frames larger than 1500 without GSO). */
static int set_mtu(struct vif *v, int mtu)
{
    struct ifreq ifr;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc;

    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", v->ifname);
    ifr.ifr_mtu = mtu;
    rc = fd < 0 || ioctl(fd, SIOCSIFMTU, &ifr) < 0 ? -errno : 0;
    if (fd >= 0)
        close(fd);
    return rc;
}

/* D: rx-mapped with enough buffers posted for a largest frame: netback reads
 * the TAP straight into the mapped buffers (no staging); a frame without GSO
 * spanning buffers is moved into place; a buffer protected under the
 * read (tun then drops the bytes and reports none lost) is an error
 * response, counted, and netback goes on. */
static void rx_direct(struct vif *m)
{
    struct virtio_net_hdr none = {0}, h = tso4;
    char line[256];
    int ok = 0;

    cmd(m, line, sizeof(line), "post 0 100");
    tap_to_guest(m, "len=1400 seed=50", &none, 0, 0, 0);
    tap_to_guest(m, "len=30000 proto=tcp4 gso=1448 seed=51", &h,
                 NETRXF_csum_blank | NETRXF_data_validated,
                 XEN_NETIF_GSO_TYPE_TCPV4, 1448);
    h = (struct virtio_net_hdr){.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
                                .csum_start = 34,
                                .csum_offset = 6};
    tap_to_guest(m, "len=300 proto=udp4 csum seed=52", &h,
                 NETRXF_csum_blank | NETRXF_data_validated, 0, 0);
    ICHECK(daemon_logged("straight into the mapped"),
           "  netback read the TAP straight into the mapped buffers");
    ICHECK(set_mtu(m, 9000) == 0, "  %s takes 9000-byte frames", m->ifname);
    tap_to_guest(m, "len=9000 seed=53", &none, 0, 0, 0);
    tap_to_guest(m, "len=1000 seed=54", &none, 0, 0, 0);
    /* Every rx buffer made read-only, those netback maps for the next
     * read too: tun answers a read into them with the frame's length and
     * drops the bytes (no EFAULT); netback must not pass the stale
     * buffers on as the frame. */
    cmd(m, line, sizeof(line), "protect 0 %u", GRANT_ACC_R);
    ICHECK(!strncmp(line, "ok protected", 12),
           "  D protects its rx buffers: %s", line);
    refused(m, 7, "len=800 seed=55", 1,
            "a TAP read into protected mapped buffers");
    /* Lifted: the buffers that read did not reach are still mapped
     * read-only (a restricted mapping stays so), each read into them an
     * error that drops them too; then frames flow again. */
    cmd(m, line, sizeof(line), "protect 0 %u", GRANT_ACC_RWX);
    for (int i = 0; i < 20 && !ok; i++)
        ok = tap_to_buf(m, 7, "len=700 seed=56", line, sizeof(line));
    ICHECK(ok, "  open again: delivered (%s)", line);
}

/* M: feature-grant-ext-rx-map: the rx buffers mapped once and written
 * directly; force-revoked and protected under the backend; no mapping
 * left after the vif goes.  P: the key said, buffers not mappable:
 * copied. */
static void rx_mapped(grant_handle_t *dom0)
{
    struct virtio_net_hdr none = {0}, h = tso4;
    struct vif m;
    char line[256];
    unsigned maps0 = dom0_maps(dom0), maps1, maps2;
    int ok = add_vif(dom0, &m, "net-m", 0, 1, "rxmap", NULL, NULL);

    ICHECK(ok, "vif M connected with feature-grant-ext-rx-map");
    if (!ok)
        return;
    maps1 = dom0_maps(dom0);
    /* 1 + 3 + 8 data slots and two GSO extras': buffers 0-13. */
    cmd(&m, line, sizeof(line), "post 0 14");
    tap_to_guest(&m, "len=1400 seed=40", &none, 0, 0, 0);
    tap_to_guest(&m, "len=9000 proto=tcp4 gso=1448 seed=41", &h,
                 NETRXF_csum_blank | NETRXF_data_validated,
                 XEN_NETIF_GSO_TYPE_TCPV4, 1448);
    h = tso4;
    tap_to_guest(&m, "len=30000 proto=tcp4 gso=1448 seed=42", &h,
                 NETRXF_csum_blank | NETRXF_data_validated,
                 XEN_NETIF_GSO_TYPE_TCPV4, 1448);
    maps2 = dom0_maps(dom0);
    ICHECK(maps2 >= maps1 + 12 && daemon_logged("rx mapped"),
           "  netback mapped the rx buffers it wrote (%u mappings, were %u)",
           maps2, maps1);
    ok = tap_to_buf(&m, 3, "len=1300 seed=43", line, sizeof(line));
    ICHECK(ok, "  a mapped buffer again: %s", line);

    /* Every rx grant force-revoked: the mappings go at the revoke events;
     * a revoked buffer posted again fails and is counted. */
    cmd(&m, line, sizeof(line), "revoke 0");
    ICHECK(!strcmp(line, "ok revoked 256"), "M force-revokes its rx grants: %s",
           line);
    ICHECK(wait_logged("revoked while mapped"),
           "  netback logs the revoke of a mapped buffer");
    ICHECK(wait_maps(dom0, maps1) == maps1,
           "  and unmaps them (%u mappings, were %u)", dom0_maps(dom0), maps1);
    refused(&m, 5, "len=500 seed=44", 1, "a revoked buffer posted");
    cmd(&m, line, sizeof(line), "regrant 0");
    ok = tap_to_buf(&m, 5, "len=1200 seed=45", line, sizeof(line));
    ICHECK(ok, "  granted anew: delivered (%s)", line);

    /* Buffer 5 (mapped now) made read-only by M: the write fails without
     * hurting netback, then the buffer is copied. */
    cmd(&m, line, sizeof(line), "protect 0 %u", GRANT_ACC_R);
    ICHECK(!strncmp(line, "ok protected", 12), "M protects its rx buffers: %s",
           line);
    refused(&m, 5, "len=600 seed=46", 2, "a protected mapped buffer");
    cmd(&m, line, sizeof(line), "protect 0 %u", GRANT_ACC_RWX);
    ok = tap_to_buf(&m, 5, "len=700 seed=47", line, sizeof(line));
    ICHECK(ok, "  open again: delivered by copy (%s)", line);
    del_vif(dom0, &m);
    ICHECK(wait_maps(dom0, maps0) == maps0,
           "M gone: no mapping left (%u mappings, were %u)", dom0_maps(dom0),
           maps0);

    ok = add_vif(dom0, &m, "net-d", 0, 1, "rxmap", NULL, NULL);
    ICHECK(ok, "vif D connected with feature-grant-ext-rx-map");
    if (ok) {
        rx_direct(&m);
        del_vif(dom0, &m);
    }

    ok = add_vif(dom0, &m, "net-p", 0, 1, "rxnomap", NULL, NULL);
    ICHECK(ok, "vif P connected: rx-map said, buffers granted without MAP");
    if (!ok)
        return;
    cmd(&m, line, sizeof(line), "post 0 10");
    tap_to_guest(&m, "len=1400 seed=48", &none, 0, 0, 0);
    ICHECK(daemon_logged("not mapped"), "  netback logs them as not mapped");
    del_vif(dom0, &m);
}

/* A frame of spec s from the guest that must not reach the TAP: an
 * error response, the n-th drop_rx_copy, nothing on the TAP. */
static void tx_refused(struct vif *v, const char *s, unsigned long long n,
                       const char *what)
{
    static uint8_t f[MAXF + 64];
    struct virtio_net_hdr h;
    char line[256];
    unsigned long long drops;
    int got;

    tap_drain(v);
    cmd(v, line, sizeof(line), "send 0 %s", s);
    drops = wait_stat(v, "drop_rx_copy", n);
    ICHECK(!strncmp(line, "ok rsp ok=0", 11) && drops == n,
           "  %s: error responses, drop_rx_copy %llu (%s)", what, drops, line);
    got = tap_recv(v, &h, f, sizeof(f), 300);
    ICHECK(got < 0, "  and nothing on the TAP (%d bytes came)", got);
}

/* T: feature-grant-ext-tx-map: the tx buffers mapped read-only once and
 * the TAP written from the mappings (the head staged: checksums and GSO
 * as copied); read-only is no protection against a read; force-revoked:
 * the old refs fail (the scratch pages in their place never reach the
 * TAP), new grants flow; a buffer protected under netback (the head: the
 * staging faults; past the head: the write faults) is an error, counted,
 * nothing on the TAP, and copied from then on. */
static void tx_mapped(grant_handle_t *dom0)
{
    struct virtio_net_hdr none = {0}, h;
    struct vif t;
    char line[256];
    unsigned maps0 = dom0_maps(dom0), maps1, maps2;
    int ok = add_vif(dom0, &t, "net-t", 0, 1, "txmap", NULL, NULL);

    ICHECK(ok, "vif T connected with feature-grant-ext-tx-map");
    if (!ok)
        return;
    maps1 = dom0_maps(dom0);
    guest_to_tap(&t, 0, "len=60 seed=60", &none);
    guest_to_tap(&t, 0, "len=1500 slots=3 seed=61", &none);
    guest_to_tap(&t, 0, "len=4000 slots=18 seed=62", &none);
    guest_to_tap(&t, 0, "len=9000 slots=3 seed=63", &none);
    h = (struct virtio_net_hdr){.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
                                .csum_start = 34,
                                .csum_offset = 6};
    guest_to_tap(&t, 0, "len=300 proto=udp4 csum seed=64", &h);
    h = (struct virtio_net_hdr){.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
                                .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
                                .gso_size = 1448,
                                .csum_start = 34,
                                .csum_offset = 16};
    guest_to_tap(&t, 0, "len=5000 slots=2 proto=tcp4 csum gso=1448 seed=65",
                 &h);
    h.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
    h.gso_size = 1428;
    h.csum_start = 54;
    guest_to_tap(&t, 0, "len=6000 slots=2 proto=tcp6 gso=1428 seed=66", &h);
    maps2 = dom0_maps(dom0);
    ICHECK(maps2 >= maps1 + 18 && daemon_logged("tx mapped") &&
               daemon_logged("written straight from the mapped tx"),
           "  netback mapped the tx buffers and wrote the TAP from them "
           "(%u mappings, were %u)",
           maps2, maps1);

    /* Read-only is no protection against netback's reads. */
    cmd(&t, line, sizeof(line), "txprotect 0 %u %u", TX_PAGES, GRANT_ACC_R);
    ICHECK(!strncmp(line, "ok armed", 8), "T makes them read-only: %s", line);
    guest_to_tap(&t, 0, "len=4000 slots=18 seed=67", &none);

    /* Every tx grant force-revoked while mapped: the mappings go (scratch
     * pages in their place); the old refs fail, no zeros on the TAP. */
    cmd(&t, line, sizeof(line), "txrevoke");
    ICHECK(!strncmp(line, "ok revoked", 10),
           "T force-revokes its tx grants: %s", line);
    ICHECK(wait_maps(dom0, maps1) == maps1,
           "  the hypervisor tears the mappings down (%u, were %u)",
           dom0_maps(dom0), maps1);
    tx_refused(&t, "len=4000 slots=18 seed=68", 1, "revoked tx buffers");
    ICHECK(daemon_logged("tx buffer (gref") &&
               daemon_logged("revoked while mapped"),
           "  netback logs the revoke of a mapped tx buffer");
    cmd(&t, line, sizeof(line), "txregrant");
    ICHECK(!strncmp(line, "ok regranted", 12), "T grants them anew: %s", line);
    guest_to_tap(&t, 0, "len=4000 slots=18 seed=69", &none);

    /* Pages 20-21 mapped, then inaccessible: the head's copy faults. */
    guest_to_tap(&t, 0, "len=3000 slots=2 at=20 seed=70", &none);
    cmd(&t, line, sizeof(line), "txprotect 20 2 %u", GRANT_ACC_NONE);
    ICHECK(!strncmp(line, "ok armed", 8), "T protects tx pages 20-21: %s",
           line);
    tx_refused(&t, "len=3000 slots=2 at=20 seed=71", 2,
               "a protected head in a mapped tx buffer");
    /* Pages 24-26 mapped, then 25 (past the head) inaccessible: the TAP
     * write faults.  Open again: copied, delivered. */
    guest_to_tap(&t, 0, "len=9000 slots=3 at=24 seed=72", &none);
    cmd(&t, line, sizeof(line), "txprotect 25 1 %u", GRANT_ACC_NONE);
    ICHECK(!strncmp(line, "ok armed", 8), "T protects tx page 25: %s", line);
    tx_refused(&t, "len=9000 slots=3 at=24 seed=73", 3,
               "a write from a protected mapped tx buffer");
    guest_to_tap(&t, 0, "len=9000 slots=3 at=24 seed=74", &none);
    del_vif(dom0, &t);
    ICHECK(wait_maps(dom0, maps0) == maps0,
           "T gone: no mapping left (%u mappings, were %u)", dom0_maps(dom0),
           maps0);
}

static void run(grant_handle_t *dom0)
{
    struct vif a, b, c, d, e, j;
    struct virtio_net_hdr none = {0};
    char line[256], *err = NULL;
    unsigned long long drops;
    unsigned maps0, i;
    int fds0, ok, st;
    long long t;

    /* A: bridged, traffic, offloads, every bad input. */
    ok = add_vif(dom0, &a, "net-a", 0, 1, "normal", "xgbr0", NULL);
    ICHECK(ok, "vif A connected, its TAP %s open", a.ifname);
    if (!ok)
        return;
    ICHECK(on_bridge(a.ifname, "xgbr0"), "%s is on bridge xgbr0", a.ifname);
    traffic(&a);
    name_taken(&a);
    bad_inputs(&a, bad_ext, sizeof(bad_ext) / sizeof(bad_ext[0]));
    standard_grants(dom0);
    no_csum_offload(dom0);
    no_rx_notify(dom0);
    bad_rx_buffer(dom0);
    rx_mapped(dom0);
    tx_mapped(dom0);

    /* B: never posts rx buffers; what reaches it is dropped and counted,
     * A goes on. */
    ok = add_vif(dom0, &b, "net-b", 0, 1, "normal", NULL, NULL);
    ICHECK(ok, "vif B connected (%s)", b.ifname);
    if (getenv("NET_BACKEND_FLOOD")) /* the tx path's rate, for a report */
        for (i = 0; i < 6; i++) {
            cmd(&b, line, sizeof(line), "flood 0 %s %u",
                getenv("NET_BACKEND_FLOOD"), i % 2 ? 1400u : 64u);
            printf("# %u-byte frames: %s\n", i % 2 ? 1400u : 64u, line);
        }
    for (i = 0; ok && i < 20; i++) {
        uint8_t f[100];
        struct spec sp = {.len = 100, .slots = 1, .seed = i};

        strcpy(sp.proto, "raw");
        build_frame(&sp, f);
        tap_send(&b, &none, f, sizeof(f));
    }
    drops = wait_stat(&b, "drop_tx_no_buffer", 20);
    ICHECK(drops >= 20,
           "B never posting: %llu packets dropped as drop_tx_no_buffer", drops);
    guest_to_tap(&a, 0, "len=200 seed=70", &none);
    tap_to_guest(&a, "len=200 seed=71", &none, 0, 0, 0);
    reconnect_holding(&b);

    /* C: rate= 10000 bytes every 10 ms (1 MB/s): 100 KB take >= 90 ms. */
    ok = add_vif(dom0, &c, "net-c", 0, 1, "normal", NULL, "10000,10000");
    ICHECK(ok, "vif C connected with rate=10000,10000");
    cmd(&a, line, sizeof(line), "flood 0 100 1000");
    printf("# without a rate: %s\n", line);
    cmd(&c, line, sizeof(line), "flood 0 100 1000");
    t = strstr(line, " in ") ? atoll(strstr(line, " in ") + 4) : 0;
    ICHECK(!strncmp(line, "ok flood 100", 12) && t >= 70,
           "rate: 100 KB at 1 MB/s took %lld ms (>= 70): %s", t, line);
    /* A rate with a sign is no rate (strtoull's "%llu" took it). */
    {
        struct vif cs;

        ok = add_vif(dom0, &cs, "net-cs", 0, 1, "normal", NULL, "+10000,10000");
        ICHECK(ok, "vif connected with rate=+10000,10000");
        ICHECK(daemon_logged("rate '+10000,10000' is not"),
               "rate=+10000,10000 refused (no limit), the log says so");
        del_vif(dom0, &cs);
    }

    /* D: two queues, split event channels. */
    ok = add_vif(dom0, &d, "net-d", 0, 2, "normal", NULL, NULL);
    ICHECK(ok, "vif D connected");
    {
        char *nq = NULL, *evt = NULL;

        grant_xenbus_read(xb0, XBT_NULL, d.fe_dir, "multi-queue-num-queues",
                          &nq, NULL);
        grant_xenbus_read(xb0, XBT_NULL, d.fe_dir, "queue-1/event-channel-rx",
                          &evt, NULL);
        ICHECK(nq && !strcmp(nq, "2") && evt,
               "D uses 2 queues with split channels");
        free(nq);
        free(evt);
    }
    guest_to_tap(&d, 1, "len=1500 slots=2 seed=80", &none);
    guest_to_tap(&d, 0, "len=1500 slots=2 seed=81", &none);
    spread(&d);

    /* J: ring indices that jump: J closes, naming the ring; A goes on. */
    ok = add_vif(dom0, &j, "net-j", 0, 1, "jump", NULL, NULL);
    ICHECK(wait_be_state(&j, XenbusStateClosing, SLOW_MS) ||
               be_state(&j) == XenbusStateClosed,
           "jumping indices: vif J is closing (state %d)", be_state(&j));
    grant_xenbus_read(xb0, XBT_NULL, j.be_dir, "error", &err, NULL);
    ICHECK(err && strstr(err, "ring"), "  its error names the ring: %s",
           err ? err : "(none)");
    free(err);
    del_vif(dom0, &j);
    guest_to_tap(&a, 0, "len=300 seed=90", &none);

    /* E: dies mid-stream; its vif is cleaned up, nothing stays.  The
     * baseline once J's TAP is gone (the daemon closes it after del_vif
     * returns: counted in the baseline, it made E's check see one fewer
     * descriptor than "before", 31 of 32, on a loaded machine). */
    for (t = ms_now() + SLOW_MS; if_nametoindex(j.ifname) && ms_now() < t;)
        usleep(20000);
    maps0 = dom0_maps(dom0);
    fds0 = daemon_fds();
    ok = add_vif(dom0, &e, "net-e", 0, 1, "normal", NULL, NULL);
    ICHECK(ok, "vif E connected");
    cmd(&e, line, sizeof(line), "post 0 100");
    dprintf(e.a.to, "flood 0 1000000 1400\n");
    for (i = 0; i < 50; i++) {
        uint8_t f[1000];
        struct spec sp = {.len = 1000, .slots = 1, .seed = i};

        strcpy(sp.proto, "raw");
        build_frame(&sp, f);
        tap_send(&e, &none, f, sizeof(f));
    }
    usleep(100000);
    drops = wait_stat(&e, "rx_packets", 1);
    ICHECK(drops >= 1, "E was streaming (%llu packets)", drops);
    grant_ctl_domain_destroy(dom0, e.a.domid);
    ICHECK(wait_be_state(&e, XenbusStateClosed, SLOW_MS),
           "E's domain died: its vif is Closed");
    del_vif(dom0, &e);
    for (t = ms_now() + SLOW_MS; if_nametoindex(e.ifname) && ms_now() < t;)
        usleep(20000);
    ICHECK(if_nametoindex(e.ifname) == 0, "E's TAP %s is gone", e.ifname);
    ICHECK(dom0_maps(dom0) == maps0, "no ring mapping left (%u, was %u)",
           dom0_maps(dom0), maps0);
    ICHECK(daemon_fds() == fds0, "no port or TAP descriptor left (%d, was %d)",
           daemon_fds(), fds0);
    ok = add_vif(dom0, &e, "net-e2", 0, 1, "normal", NULL, NULL);
    ICHECK(ok, "the next guest gets a fresh vif (%s)", e.ifname);
    guest_to_tap(&e, 0, "len=500 seed=95", &none);
    ICHECK(stat_of(&e, "drop_tx_no_buffer") == 0 &&
               wait_stat(&e, "rx_packets", 1) == 1,
           "  with fresh counters");
    guest_to_tap(&a, 0, "len=300 seed=96", &none);

    /* The toolstack removes E2's directory while it is connected, with
     * counters not yet written: the vif goes and nothing is written back
     * into the store. */
    guest_to_tap(&e, 0, "len=700 seed=97", &none);
    grant_xenbus_rm(xb0, XBT_NULL, e.be_dir, NULL);
    for (t = ms_now() + SLOW_MS; if_nametoindex(e.ifname) && ms_now() < t;)
        usleep(20000);
    usleep(200000);
    ICHECK(if_nametoindex(e.ifname) == 0,
           "a vif whose directory is removed goes (%s)", e.ifname);
    i = (unsigned)grant_xenbus_read_state(xb0, XBT_NULL, e.be_dir, &st);
    drops = stat_of(&e, "rx_packets");
    ICHECK(i == 0 && st == XenbusStateUnknown && drops == 0,
           "  and its statistics/ are not written back into the store "
           "(read %d, state %d, rx_packets %llu)",
           (int)i, st, drops);
    del_vif(dom0, &e);
    del_vif(dom0, &d);
    del_vif(dom0, &c);
    del_vif(dom0, &b);
    del_vif(dom0, &a);
}

int main(int argc, char **argv)
{
    grant_handle_t *dom0;
    int st = 0;

    if (argc >= 5 && !strcmp(argv[1], "--role"))
        return role_front((unsigned)atoi(argv[2]), (unsigned)atoi(argv[3]),
                          argv[4]);
    if (geteuid() != 0) {
        printf("skip: TAP devices and network namespaces need root\n");
        return ITEST_SKIP;
    }
    if (access("/dev/net/tun", R_OK | W_OK) != 0) {
        printf("skip: no /dev/net/tun\n");
        return ITEST_SKIP;
    }
    if (unshare(CLONE_NEWNET) < 0) {
        printf("skip: cannot make a network namespace: %s\n", strerror(errno));
        return ITEST_SKIP;
    }
    /* No IPv6 chatter (router solicitations) in the guests' buffers. */
    system("echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6;"
           "echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6;"
           "ip link add xgbr0 type bridge && ip link set xgbr0 up");
    itest_setup(&dom0);
    if (grant_xenbus_open(&xb0, 0) < 0 || start_daemon() < 0) {
        ICHECK(0, "store reachable, daemon started");
    } else {
        run(dom0);
        ICHECK(kill(nb_pid, 0) == 0, "the daemon is still running");
        kill(nb_pid, SIGTERM);
        waitpid(nb_pid, &st, 0);
        ICHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
               "the daemon exits cleanly on SIGTERM (status %d)", st);
        if (itest_done() != 0 || getenv("NET_BACKEND_LOG"))
            show_daemon_log();
        unlink(nb_log_path);
        grant_xenbus_close(xb0);
    }
    itest_teardown(dom0);
    return itest_done();
}
