/* SPDX-License-Identifier: MIT */
/*
 * netfront_ring: libxgnetfront against a minimal netif backend written
 * here on xbe (domain 0), on a private xgrantd.  No TAP, no root.
 *
 * The backend is a loopback: every frame a queue sends is copied out of
 * its tx grants (grant copy) and delivered back into the same queue's
 * posted rx buffers, GSO extra and checksum flags included.  On the way it
 * checks the byte-exact grants of feature-grant-ext: reading one byte past
 * a tx slot's grant must fail.  It offers feature-grant-ext-rx-map: the
 * first guest answers it and its rx buffers are written through mappings
 * (the second, without the extension, must not answer it).
 *
 * The guest ("front" role) attaches with two queues, echoes frames of 60,
 * 1514, 9014 and 65535 bytes (the largest a TCPv4 GSO frame) on each queue
 * and compares every byte and the offload state.  Then the backend turns
 * hostile, one lie per case (an rx response with a wrong id, a size past
 * the buffer, a negative status, a chain of 25 slots, garbage extra info,
 * a tx response id out of range): each must be counted by the right
 * counter, and the frontend still echoes afterwards.  Last, the backend
 * makes rsp_prod jump: the ring halts (err_ring), the frontend neither
 * crashes nor writes outside its buffers.  A second guest declines the
 * extension: the same echo over standard grants (pages shared with
 * grant_v1_share, tx pages read-only to the backend); then its backend
 * closes the vif: the frontend sees it (xgnf_poll: -ENOTCONN), closes, and
 * leaves no grant behind.  Last, backends whose feature-sg is "1abc" or
 * "-1", and macs with a sign or a space: the attach fails -EPROTO, the
 * frontend's `error` node says why.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/itest.h"
#include "libgrant_xenbus.h"
#include "xbe.h"
#include "xgnetfront.h"

#include <stdint.h>
#define grant_handle_t xen_grant_handle_t
#include <xen/io/netif.h>
#undef grant_handle_t

#define DEVID 0

static long long ms_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000ll + ts.tv_nsec / 1000000;
}

/* ---- The loopback backend (domain 0) ----------------------------------- */

enum evil {
    GOOD,
    RX_BAD_ID,
    RX_BAD_SIZE,
    RX_NEG_STATUS,
    RX_LONG_CHAIN,
    RX_BAD_EXTRA,
    TX_BAD_ID,
    RX_JUMP,
};
static enum evil evil;
static const char *junk_sg;  /* set: the next vif's feature-sg value */
static const char *junk_mac; /* set: the next vif's mac */
static int jump;
static struct xbe_ring *jumped; /* left alone: a push would undo the jump */
static uint8_t *frame;          /* dom0 grant memory: one frame */
static unsigned exact_ok, exact_bad;
/* The frontend said feature-grant-ext-rx-map (the backend offers it): its
 * rx buffers are mapped here and written through the mapping. */
static int fe_rxmap;
static unsigned mapped_ok, mapped_bad;

static int be_probe(struct xbe_dev *d, xs_transaction_t t)
{
    static const char *const keys[] = {
        "feature-rx-copy",           "feature-sg",
        "feature-gso-tcpv4",         "feature-gso-tcpv6",
        "feature-ipv6-csum-offload", "feature-split-event-channels",
        "feature-grant-ext-rx-map"};
    unsigned i;
    int rc = 0;

    for (i = 0; rc == 0 && i < sizeof(keys) / sizeof(keys[0]); i++)
        rc = grant_xenbus_write(xbe_xb(xbe_dev_bus(d)), t, xbe_dev_dir(d),
                                keys[i], junk_sg && i == 1 ? junk_sg : "1");
    return rc;
}

static int be_connect(struct xbe_dev *d, xs_transaction_t t)
{
    unsigned long v = 0;

    (void)t;
    xbe_read_uint(xbe_xb(xbe_dev_bus(d)), xbe_dev_fe_dir(d),
                  "feature-grant-ext-rx-map", 1, &v);
    fe_rxmap = (int)v;
    return 0;
}

/* One rx slot written through a mapping of its buffer (16 KiB). */
static int be_write_mapped(struct xbe_dev *d, uint32_t ref, const void *src,
                           size_t len)
{
    grant_handle_t *h = xbe_h(xbe_dev_bus(d));
    void *addr = NULL;
    int rc =
        grant_map(h, (grant_domid_t)xbe_dev_fe_id(d), ref, 0, 16384, 0, &addr);

    if (rc < 0)
        return rc;
    memcpy(addr, src, len);
    return grant_unmap(h, addr);
}

static const struct xbe_ops be_ops = {
    .kind = "vif",
    .nr_rings = 2,
    .ring = {{"tx-ring-ref", sizeof(union netif_tx_sring_entry), 0},
             {"rx-ring-ref", sizeof(union netif_rx_sring_entry), 0}},
    .max_queues = 2,
    .split_evtchn = 1,
    .grant_ext = 1,
    .probe = be_probe,
    .connect = be_connect,
};

/* A grant copy of one slot, to or from the frontend, in the device's grant
 * kind (extension or standard). */
static int be_copy(struct xbe_dev *d, int to_fe, void *local, uint32_t ref,
                   size_t len)
{
    grant_handle_t *h = xbe_h(xbe_dev_bus(d));
    grant_domid_t fe = (grant_domid_t)xbe_dev_fe_id(d);
    struct grant_v1_copy_seg s = {0};
    struct grant_v1_ptr *theirs = to_fe ? &s.dst : &s.src,
                        *mine = to_fe ? &s.src : &s.dst;

    if (xbe_dev_grant_ext(d))
        return to_fe ? grant_copy_to(h, fe, ref, 0, local, len)
                     : grant_copy_from(h, local, fe, ref, 0, len);
    theirs->granter = fe;
    theirs->ref = ref;
    mine->local = 1;
    mine->ptr = local;
    s.len = (uint16_t)len;
    return grant_v1_copy(h, &s, 1) == 1 ? 0 : s.status ? s.status : -EIO;
}

static void rx_rsp(struct xbe_ring *r, uint16_t id, int16_t status,
                   uint16_t offset, uint16_t flags)
{
    struct netif_rx_response *rsp = xbe_ring_rsp_slot(r);

    rsp->id = id;
    rsp->offset = offset;
    rsp->flags = flags;
    rsp->status = status;
    xbe_ring_rsp_done(r);
}

/* Delivers frame[0, len) into the queue's rx buffers (the lie of the
 * moment applied).  0, or -ENOBUFS when too few buffers are posted. */
static int deliver(struct xbe_dev *d, struct xbe_queue *xq, size_t len,
                   uint16_t flags0, const struct netif_extra_info *gso)
{
    struct xbe_ring *r = &xq->ring[1];
    union netif_rx_sring_entry e;
    size_t off = 0, chunk = evil == RX_LONG_CHAIN ? 64 : GRANT_PAGE_SIZE;
    int first = 1;

    if (evil == RX_JUMP) { /* be_serve makes rsp_prod jump after push */
        jump = 1;
        evil = GOOD;
        return 0;
    }
    if (evil == RX_LONG_CHAIN)
        len = 25 * 64;
    while (off < len || first) {
        size_t n = len - off < chunk ? len - off : chunk;
        uint16_t fl = first ? flags0 : 0;

        if (xbe_ring_take(r, &e) != 1)
            return -ENOBUFS;
        if (xbe_dev_grant_ext(d) && fe_rxmap) {
            if (be_write_mapped(d, e.req.gref, frame + off, n) == 0)
                mapped_ok++;
            else
                mapped_bad++, be_copy(d, 1, frame + off, e.req.gref, n);
        } else {
            if (xbe_dev_grant_ext(d) &&
                be_copy(d, 0, frame + 70000, e.req.gref, 1) == 0)
                exact_bad++; /* an rx buffer must be WRITE only */
            be_copy(d, 1, frame + off, e.req.gref, n);
        }
        off += n;
        if (off < len)
            fl |= NETRXF_more_data;
        if (first && gso)
            fl |= NETRXF_extra_info;
        if (first && evil == RX_BAD_ID)
            e.req.id ^= 1;
        if (first && evil == RX_NEG_STATUS)
            n = (size_t)NETIF_RSP_ERROR;
        /* RX_BAD_SIZE: past the end of the 16 KiB buffer posted
         * (grant-ext-rx-buffer-size). */
        rx_rsp(r, e.req.id, (int16_t)n,
               evil == RX_BAD_SIZE && first ? 16380 : 0, fl);
        if (first && gso) {
            struct netif_extra_info *x;

            if (xbe_ring_take(r, &e) != 1)
                return -ENOBUFS;
            x = xbe_ring_rsp_slot(r);
            x->type = evil == RX_BAD_EXTRA ? 9 : gso->type;
            x->flags = 0;
            x->u.gso.size = gso->u.gso.size;
            x->u.gso.type = gso->u.gso.type;
            x->u.gso.pad = 0;
            x->u.gso.features = 0;
            xbe_ring_rsp_done(r);
        }
        first = 0;
    }
    if (evil != TX_BAD_ID)
        evil = GOOD;
    return 0;
}

static void tx_rsp(struct xbe_ring *r, uint16_t id, int16_t status)
{
    struct netif_tx_response *rsp = xbe_ring_rsp_slot(r);

    rsp->id = evil == TX_BAD_ID ? 999 : id;
    rsp->status = status;
    xbe_ring_rsp_done(r);
}

/* One frame off the tx ring (its first request taken): copied into
 * `frame`, answered, echoed. */
static void echo_one(struct xbe_dev *d, struct xbe_queue *xq,
                     const struct netif_tx_request *first)
{
    struct xbe_ring *r = &xq->ring[0];
    struct netif_tx_request reqs[XGNF_MAX_SLOTS + 2];
    struct netif_extra_info gso = {0};
    union netif_tx_sring_entry e;
    unsigned n = 1, i, extras = 0;
    size_t rest = 0, off = 0;
    int more = first->flags & NETTXF_more_data;

    reqs[0] = *first;
    if (first->flags & NETTXF_extra_info) {
        if (xbe_ring_take(r, &e) == 1) {
            memcpy(&gso, &e, sizeof(gso));
            extras = 1;
        }
    }
    while (more && n < XGNF_MAX_SLOTS + 2 && xbe_ring_take(r, &e) == 1) {
        reqs[n++] = e.req;
        more = e.req.flags & NETTXF_more_data;
    }
    for (i = 1; i < n; i++)
        rest += reqs[i].size;
    for (i = 0; i < n; i++) {
        size_t len = i ? reqs[i].size : reqs[0].size - rest;

        if (be_copy(d, 0, frame + off, reqs[i].gref, len) == 0)
            exact_ok++;
        /* One byte past the slot must be refused (extension grants); a
         * standard tx page is read-only. */
        if (xbe_dev_grant_ext(d)
                ? be_copy(d, 0, frame + 70000, reqs[i].gref, len + 1) == 0
                : be_copy(d, 1, frame + 70000, reqs[i].gref, 1) == 0)
            exact_bad++;
        off += len;
        tx_rsp(r, reqs[i].id, NETIF_RSP_OKAY);
        if (i == 0 && extras) {
            struct netif_tx_response *x = xbe_ring_rsp_slot(r);

            x->status = NETIF_RSP_NULL;
            xbe_ring_rsp_done(r);
        }
    }
    if (evil == TX_BAD_ID)
        evil = GOOD;
    deliver(d, xq, off,
            first->flags & NETTXF_csum_blank
                ? NETRXF_csum_blank | NETRXF_data_validated
                : 0,
            extras ? &gso : NULL);
}

/* Serves a vif: echoes its frames, then the lie of the moment. */
static void be_serve_dev(struct xbe_dev *d)
{
    struct xbe_queue *xq;
    unsigned q;

    for (q = 0; (xq = xbe_dev_queue(d, q)) != NULL; q++) {
        union netif_tx_sring_entry e;
        int rc;

        if (&xq->ring[1] == jumped)
            continue;
        while ((rc = xbe_ring_take(&xq->ring[0], &e)) == 1)
            echo_one(d, xq, &e.req);
        if (rc < 0) {
            xbe_fatal(d, rc, "tx ring: request index out of range");
            return;
        }
        if (xbe_ring_push(&xq->ring[0]))
            xbe_notify(d, q, 0);
        if (xbe_ring_push(&xq->ring[1]))
            xbe_notify(d, q, 1);
        if (jump) {
            xq->ring[1].sring[2] += 1000; /* far past the requests */
            xbe_notify(d, q, 1);
            jump = 0;
            jumped = &xq->ring[1];
        }
    }
}

static void be_serve(struct xbe *bus)
{
    struct xbe_dev *d;
    unsigned i;

    for (i = 0; (d = xbe_dev_at(bus, i)) != NULL; i++)
        be_serve_dev(d);
}

static grant_xenbus_t *xb0;

struct line_wait {
    struct itest_agent *a;
    char *buf;
    size_t len;
    int got;
};

/* Runs the backend until the agent prints a line (or ms pass). */
static int pump_line(struct xbe *bus, struct itest_agent *a, char *buf,
                     size_t len, int ms)
{
    long long end = ms_now() + ms;
    struct pollfd p[2] = {{.fd = xbe_fd(bus), .events = POLLIN},
                          {.fd = a->from, .events = POLLIN}};

    buf[0] = '\0';
    while (ms_now() < end) {
        poll(p, 2, 2);
        xbe_dispatch(bus, 0);
        be_serve(bus);
        if (poll(&p[1], 1, 0) == 1) {
            if (!fgets(buf, (int)len, a->in))
                buf[0] = '\0';
            buf[strcspn(buf, "\n")] = '\0';
            return 1;
        }
    }
    return 0;
}

static int toolstack_in(grant_xenbus_t *xb, xs_transaction_t t, void *arg)
{
    const unsigned *fe = arg;
    char fe_dir[GRANT_XENBUS_PATH_MAX], be_dir[GRANT_XENBUS_PATH_MAX],
        perms[32];
    int rc = 0;

    grant_xenbus_frontend_dir(*fe, "vif", DEVID, fe_dir, sizeof(fe_dir));
    grant_xenbus_backend_dir(0, "vif", *fe, DEVID, be_dir, sizeof(be_dir));
    rc |= grant_xenbus_mkdir(xb, t, be_dir, NULL);
    snprintf(perms, sizeof(perms), "n0,r%u", *fe);
    rc |= grant_xenbus_set_perms(xb, t, be_dir, NULL, perms);
    rc |= grant_xenbus_mkdir(xb, t, fe_dir, NULL);
    snprintf(perms, sizeof(perms), "n%u,r0", *fe);
    rc |= grant_xenbus_set_perms(xb, t, fe_dir, NULL, perms);
    rc |= grant_xenbus_write(xb, t, be_dir, "frontend", fe_dir);
    rc |= grant_xenbus_printf(xb, t, be_dir, "frontend-id", "%u", *fe);
    rc |= grant_xenbus_write(xb, t, be_dir, "online", "1");
    rc |= grant_xenbus_write(xb, t, be_dir, "state", "1");
    rc |= grant_xenbus_write(xb, t, be_dir, "handle", "0");
    rc |= grant_xenbus_write(xb, t, fe_dir, "backend", be_dir);
    rc |= grant_xenbus_write(xb, t, fe_dir, "backend-id", "0");
    rc |= grant_xenbus_write(xb, t, fe_dir, "mac",
                             junk_mac ? junk_mac : "00:16:3e:00:00:01");
    rc |= grant_xenbus_write(xb, t, fe_dir, "handle", "0");
    rc |= grant_xenbus_write(xb, t, fe_dir, "state", "1");
    return rc ? -EIO : 0;
}

/* A toolstack that writes the device in steps: the frontend's directory
 * first, its link to the backend later (netfront_e2e.sh does so).  Until
 * the link is there the device is not the frontend's to close: it retries
 * (every 10 ms here), and its state must stay Initialising meanwhile (it
 * wrote Closed, the backend then closed the device for good). */
static int fe_dir_in(grant_xenbus_t *xb, xs_transaction_t t, void *arg)
{
    const unsigned *fe = arg;
    char fe_dir[GRANT_XENBUS_PATH_MAX], perms[32];
    int rc = 0;

    grant_xenbus_frontend_dir(*fe, "vif", DEVID, fe_dir, sizeof(fe_dir));
    rc |= grant_xenbus_mkdir(xb, t, fe_dir, NULL);
    snprintf(perms, sizeof(perms), "n%u,r0", *fe);
    rc |= grant_xenbus_set_perms(xb, t, fe_dir, NULL, perms);
    rc |= grant_xenbus_write(xb, t, fe_dir, "backend-id", "0");
    rc |= grant_xenbus_write(xb, t, fe_dir, "state", "1");
    return rc ? -EIO : 0;
}

static void no_link_yet(struct xbe *bus, struct itest_agent *a, unsigned fe)
{
    char fe_dir[GRANT_XENBUS_PATH_MAX], line[64];
    long long end;
    int st = -1;

    pump_line(bus, a, line, sizeof(line), 15000);
    ICHECK(!strcmp(line, "ok trying"), "the frontend looks for its device: %s",
           line[0] ? line : "(nothing)");
    ICHECK(grant_xenbus_transact(xb0, fe_dir_in, &fe, 0) == 0,
           "toolstack wrote the frontend directory, no backend link yet");
    grant_xenbus_frontend_dir(fe, "vif", DEVID, fe_dir, sizeof(fe_dir));
    for (end = ms_now() + 300; ms_now() < end; usleep(10000))
        if (grant_xenbus_read_state(xb0, XBT_NULL, fe_dir, &st) < 0 ||
            st != XenbusStateInitialising)
            break;
    ICHECK(st == XenbusStateInitialising,
           "the frontend leaves a device without its backend link alone "
           "(%s)",
           grant_xenbus_state_name(st));
}

/* Sends a command, pumps until the reply; checks it starts with "ok". */
static void cmd_ok(struct xbe *bus, struct itest_agent *a, const char *cmd,
                   char *line, size_t len, const char *what)
{
    dprintf(a->to, "%s\n", cmd);
    pump_line(bus, a, line, len, 15000);
    ICHECK(!strncmp(line, "ok", 2), "%s: %s", what,
           line[0] ? line : "(nothing)");
}

/* A hostile case: the frontend's counter `name` must go up by >= 1. */
static void lie(struct xbe *bus, struct itest_agent *a, enum evil how,
                const char *name)
{
    char cmd[64], line[512];

    evil = how;
    snprintf(cmd, sizeof(cmd), "lie %s", name);
    cmd_ok(bus, a, cmd, line, sizeof(line), name);
    cmd_ok(bus, a, "echo", line, sizeof(line),
           "the frontend still echoes after the lie");
}

/* Why a frontend did not attach: its backend's state and error. */
static void be_diag(unsigned fe)
{
    char dir[GRANT_XENBUS_PATH_MAX], *err = NULL;
    int st = -1;

    grant_xenbus_backend_dir(0, "vif", fe, DEVID, dir, sizeof(dir));
    grant_xenbus_read(xb0, XBT_NULL, dir, "error", &err, NULL);
    grant_xenbus_read_state(xb0, XBT_NULL, dir, &st);
    printf("# backend state %d, error: %s\n", st, err ? err : "(none)");
    free(err);
}

/* A key the frontend must refuse (the backend's feature-sg with trailing
 * junk or negative, or its own mac with a sign or a space): the attach
 * fails -EPROTO and the frontend's `error` node says why. */
static void junk_key(grant_handle_t *dom0, struct xbe *bus, const char *key,
                     const char *val, const char *want)
{
    char *argv[] = {itest_self(), "--role", "front", NULL};
    char fe_dir[GRANT_XENBUS_PATH_MAX], line[128], *err = NULL;
    struct itest_agent a;
    unsigned fe;

    if (!strcmp(key, "mac"))
        junk_mac = val;
    else
        junk_sg = val;
    itest_spawn_argv(dom0, &a, "nfjunk", 2200, argv);
    fe = a.domid;
    pump_line(bus, &a, line, sizeof(line), 15000); /* "ok trying" */
    ICHECK(grant_xenbus_transact(xb0, toolstack_in, &fe, 0) == 0,
           "toolstack wrote a vif whose %s is \"%s\"", key, val);
    pump_line(bus, &a, line, sizeof(line), 15000);
    grant_xenbus_frontend_dir(fe, "vif", DEVID, fe_dir, sizeof(fe_dir));
    grant_xenbus_read(xb0, XBT_NULL, fe_dir, "error", &err, NULL);
    ICHECK(!strcmp(line, "err attach -71"),
           "%s \"%s\": the attach fails -EPROTO (%s)", key, val,
           line[0] ? line : "(nothing)");
    ICHECK(err && strstr(err, want), "%s \"%s\": the frontend's error node: %s",
           key, val, err ? err : "(none)");
    free(err);
    itest_agent_close(&a);
    grant_ctl_domain_destroy(dom0, a.domid);
    junk_sg = junk_mac = NULL;
}

static void run_backend(grant_handle_t *dom0)
{
    struct itest_agent a;
    struct xbe *bus;
    char line[512];
    char *argv[] = {itest_self(), "--role", "front", NULL};
    struct xbe_dev *d;
    unsigned fe, i;
    int rc;

    rc = grant_xenbus_open(&xb0, 0);
    ICHECK(rc == 0, "the store is reachable (%d)", rc);
    if (rc)
        return;
    rc = grant_mem_alloc(dom0, 40, (void **)&frame);
    ICHECK(rc == 0, "dom0 frame buffer (%d)", rc);
    rc = xbe_open(&bus, &be_ops, dom0, xb0, 0, NULL);
    ICHECK(rc == 0, "backend bus opened (%d)", rc);
    if (rc)
        return;
    /* Two queues of 16 KiB tx and rx buffers with grant-ext: 2 x 2048
     * pages. */
    itest_spawn_argv(dom0, &a, "nf", 4400, argv);
    fe = a.domid;
    no_link_yet(bus, &a, fe);
    ICHECK(grant_xenbus_transact(xb0, toolstack_in, &fe, 0) == 0,
           "toolstack wrote the vif");
    pump_line(bus, &a, line, sizeof(line), 15000);
    if (strncmp(line, "ok attached", 11))
        be_diag(fe);
    ICHECK(!strncmp(line, "ok attached", 11), "frontend attached: %s",
           line[0] ? line : "(nothing)");
    ICHECK(strstr(line, "queues=2 ext=1 split=1 sg=1 gso=1/1"),
           "two queues, grant-ext, split channels, sg, gso negotiated");
    cmd_ok(bus, &a, "echo", line, sizeof(line), "frames echoed");
    ICHECK(fe_rxmap, "the frontend answered feature-grant-ext-rx-map");
    ICHECK(exact_ok > 0 && exact_bad == 0,
           "tx grants cover exactly each slot "
           "(%u slots read, %u reads past a grant)",
           exact_ok, exact_bad);
    ICHECK(mapped_ok > 0 && mapped_bad == 0,
           "rx buffers mapped and written through the mapping, echoed "
           "byte-exact (%u mapped, %u refused)",
           mapped_ok, mapped_bad);

    lie(bus, &a, RX_BAD_ID, "err_rx_id");
    lie(bus, &a, RX_BAD_SIZE, "err_rx_size");
    lie(bus, &a, RX_NEG_STATUS, "rx_errors");
    lie(bus, &a, RX_LONG_CHAIN, "err_rx_chain");
    lie(bus, &a, RX_BAD_EXTRA, "err_rx_extra");
    lie(bus, &a, TX_BAD_ID, "err_tx_id");

    evil = RX_JUMP;
    cmd_ok(bus, &a, "lie err_ring", line, sizeof(line),
           "rsp_prod jumping halts the ring, counted");
    cmd_ok(bus, &a, "close", line, sizeof(line), "the frontend closed");
    itest_agent_close(&a);
    jumped = NULL;

    /* Standard grants: a frontend that declines feature-grant-ext. */
    exact_ok = exact_bad = 0;
    argv[2] = "front-v1";
    itest_spawn_argv(dom0, &a, "nfv1", 2200, argv);
    fe = a.domid;
    pump_line(bus, &a, line, sizeof(line), 15000); /* "ok trying" */
    ICHECK(grant_xenbus_transact(xb0, toolstack_in, &fe, 0) == 0,
           "toolstack wrote the second vif");
    pump_line(bus, &a, line, sizeof(line), 15000);
    if (strncmp(line, "ok attached", 11))
        be_diag(fe);
    ICHECK(strstr(line, "ok attached queues=2 ext=0 split=1"),
           "standard grants when the frontend declines the extension: %s",
           line[0] ? line : "(nothing)");
    cmd_ok(bus, &a, "echo", line, sizeof(line),
           "frames echoed over standard grants");
    ICHECK(exact_ok > 0 && exact_bad == 0,
           "standard grants: tx pages read (%u), never written (%u)", exact_ok,
           exact_bad);
    ICHECK(!fe_rxmap, "  no feature-grant-ext-rx-map without the extension");
    /* The backend goes away: the frontend sees it and closes. */
    dprintf(a.to, "wait-gone\n");
    for (i = 0; (d = xbe_dev_at(bus, i)) != NULL; i++)
        if (xbe_dev_fe_id(d) == fe)
            xbe_fatal(d, -EIO, "the test closes the vif");
    pump_line(bus, &a, line, sizeof(line), 15000);
    ICHECK(!strncmp(line, "ok gone", 7),
           "a backend that closes: xgnf_poll says -ENOTCONN, the frontend "
           "closes (%s)",
           line[0] ? line : "(nothing)");
    {
        struct grant_usage u = {0};

        grant_usage(dom0, (grant_domid_t)fe, &u);
        ICHECK(u.entries == 0,
               "the closed frontend left no grant behind (%u entries)",
               u.entries);
    }
    itest_agent_close(&a);
    junk_key(dom0, bus, "feature-sg", "1abc",
             "backend key feature-sg is not 0 or 1");
    junk_key(dom0, bus, "feature-sg", "-1",
             "backend key feature-sg is not 0 or 1");
    junk_key(dom0, bus, "mac", "-1:16:3e:00:00:01", "mac missing or malformed");
    junk_key(dom0, bus, "mac", " 0:16:3e:00:00:01", "mac missing or malformed");
    xbe_close(bus);
    grant_xenbus_close(xb0);
}

/* ---- The frontend (a guest) --------------------------------------------- */

static struct xgnf *nf;

/* A TCPv4 frame of len bytes: headers, then a pattern from seed. */
static void make_frame(uint8_t *f, size_t len, unsigned seed)
{
    size_t i;

    for (i = 0; i < len; i++)
        f[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 8));
    memset(f, 0xff, 6);
    f[12] = 0x08;
    f[13] = 0x00;
    f[14] = 0x45; /* IPv4, 20 bytes */
    f[20] = f[21] = 0;
    f[23] = 6;              /* TCP */
    f[14 + 20 + 12] = 0x50; /* doff 5 */
}

static void drive(int ms)
{
    struct pollfd p = {.fd = xgnf_fd(nf), .events = POLLIN};
    unsigned q;

    poll(&p, 1, ms);
    xgnf_poll(nf);
    for (q = 0; q < xgnf_info(nf)->nr_queues; q++)
        xgnf_flush(nf, q);
}

/* Sends f: by xgnf_send, or (zc) read into the buffers xgnf_send_reserve
 * lends, as xgrant-netfront reads its TAP, then xgnf_send_commit. */
static int send_frame(unsigned q, uint8_t *f, size_t n,
                      const struct xgnf_meta *m, int zc)
{
    struct iovec iov[XGNF_MAX_SLOTS], one = {f, n};
    unsigned nb, k;
    size_t off = 0;
    int rc;

    if (!zc)
        return xgnf_send(nf, q, &one, 1, m);
    rc = xgnf_send_reserve(nf, q, XGNF_MAX_FRAME, iov, &nb);
    for (k = 0; rc == 0 && k < nb && off < n; k++) {
        size_t c = iov[k].iov_len < n - off ? iov[k].iov_len : n - off;

        memcpy(iov[k].iov_base, f + off, c);
        off += c;
    }
    return rc < 0 ? rc : xgnf_send_commit(nf, q, n, m);
}

/* A reservation given back unused leaves the room as it was; a second one
 * while it is lent is refused. */
static int reserve_rules(unsigned q, char *why, size_t len)
{
    struct iovec iov[XGNF_MAX_SLOTS];
    unsigned room = xgnf_tx_room(nf, q, XGNF_MAX_FRAME), nb;
    int rc = xgnf_send_reserve(nf, q, XGNF_MAX_FRAME, iov, &nb), busy;

    busy = xgnf_send_reserve(nf, q, 60, iov, &nb);
    if (rc == 0)
        rc = xgnf_send_commit(nf, q, 0, NULL);
    if (rc < 0 || busy != -EBUSY ||
        xgnf_tx_room(nf, q, XGNF_MAX_FRAME) != room) {
        snprintf(why, len, "q%u: reserve %d, second %d, room %u then %u", q, rc,
                 busy, room, xgnf_tx_room(nf, q, XGNF_MAX_FRAME));
        return -EIO;
    }
    return 0;
}

/* Echoes the four sizes on every queue, sent by xgnf_send then by the
 * zero-copy pair (whose last slot then finds a buffer granted for its
 * length: moved there); 0 when all came back intact. */
static int echo(char *why, size_t len)
{
    static const size_t sizes[] = {60, 1514, 9014, 65535};
    static uint8_t tx[65536], want[65536];
    unsigned q, i;

    for (q = 0; q < xgnf_info(nf)->nr_queues; q++) {
        if (reserve_rules(q, why, len) < 0)
            return -EIO;
        for (i = 0; i < 8; i++) {
            struct xgnf_meta m = {0};
            size_t size = sizes[i % 4];
            struct xgnf_pkt p;
            long long end = ms_now() + 10000;
            int rc, got = 0;
            size_t off = 0, k;

            make_frame(tx, size, q * 8 + i);
            memcpy(want, tx, size);
            if (size > 9014) {
                m.gso_type = XGNF_GSO_TCPV4;
                m.gso_size = 1448;
                m.csum_blank = 1;
            }
            rc = send_frame(q, tx, size, &m, i >= 4);
            if (rc < 0) {
                snprintf(why, len, "send%s q%u size %zu: %d",
                         i >= 4 ? " (zero-copy)" : "", q, size, rc);
                return rc;
            }
            xgnf_flush(nf, q);
            while (!got && ms_now() < end) {
                drive(5);
                got = xgnf_recv(nf, q, &p);
            }
            if (got != 1) {
                snprintf(why, len, "q%u size %zu: nothing back (%d)", q, size,
                         got);
                return -ETIMEDOUT;
            }
            for (k = 0; k < p.niov; k++) {
                if (off + p.iov[k].iov_len > size ||
                    memcmp(want + off, p.iov[k].iov_base, p.iov[k].iov_len))
                    break;
                off += p.iov[k].iov_len;
            }
            if (k < p.niov || off != size || p.len != size) {
                snprintf(why, len, "q%u size %zu: bytes differ (%zu back)", q,
                         size, p.len);
                return -EIO;
            }
            if (m.gso_type &&
                (p.meta.gso_type != XGNF_GSO_TCPV4 || p.meta.gso_size != 1448 ||
                 !p.meta.csum_blank || p.meta.csum_start != 34 ||
                 p.meta.csum_offset != 16 || p.meta.hdr_len != 54)) {
                snprintf(why, len, "q%u: GSO state lost (%u %u %d %u %u %u)", q,
                         p.meta.gso_type, p.meta.gso_size, p.meta.csum_blank,
                         p.meta.csum_start, p.meta.csum_offset, p.meta.hdr_len);
                return -EIO;
            }
        }
    }
    return 0;
}

static uint64_t counter(const char *name)
{
    struct xgnf_stats s;

    xgnf_stats(nf, &s);
#define C(f)                                                                   \
    if (!strcmp(name, #f))                                                     \
        return s.f;
    C(err_rx_id)
    C(err_rx_size)
    C(rx_errors)
    C(err_rx_chain)
    C(err_rx_extra)
    C(err_tx_id)
    C(err_ring)
#undef C
    return 0;
}

/* One frame out; the backend lies on its way back.  ok when `name` grew. */
static void lie_case(const char *name)
{
    static uint8_t tx[1514];
    struct iovec iov = {tx, sizeof(tx)};
    struct xgnf_meta m = {.csum_blank = 1,
                          .gso_type = XGNF_GSO_TCPV4,
                          .gso_size = 1448}; /* with an extra slot */
    uint64_t before = counter(name);
    long long end = ms_now() + 10000;
    struct xgnf_pkt p;
    unsigned q;

    make_frame(tx, sizeof(tx), 99);
    xgnf_send(nf, 0, &iov, 1, &m);
    xgnf_flush(nf, 0);
    /* Until counted, then a little longer: the frame may still echo. */
    while (ms_now() < end) {
        drive(5);
        for (q = 0; q < xgnf_info(nf)->nr_queues; q++)
            while (xgnf_recv(nf, q, &p) == 1)
                ;
        if (counter(name) > before && end - ms_now() > 100)
            end = ms_now() + 100;
    }
    printf("%s %s %llu -> %llu\n", counter(name) > before ? "ok" : "err", name,
           (unsigned long long)before, (unsigned long long)counter(name));
}

static int role_front(int v1)
{
    struct xgnf_config cfg = {.devid = DEVID,
                              .max_queues = 2,
                              .timeout_ms = 10000,
                              .no_grant_ext = v1};
    grant_handle_t *h;
    grant_xenbus_t *xb;
    char cmd[64], why[160] = "";
    const struct xgnf_info *in;
    int rc = -1, i;

    if (grant_open(&h, 0) || grant_xenbus_open(&xb, 0))
        return 1;
    printf("ok trying\n");
    fflush(stdout);
    for (i = 0; i < 500 && rc < 0; i++) { /* the toolstack writes the vif */
        rc = xgnf_open(&nf, h, xb, &cfg);
        if (rc == -ENOENT)
            usleep(10000);
        else
            break;
    }
    if (rc < 0) {
        printf("err attach %d\n", rc);
        fflush(stdout);
        /* Alive until the test has read our error node. */
        while (fgets(cmd, sizeof(cmd), stdin))
            ;
        return 1;
    }
    in = xgnf_info(nf);
    printf("ok attached queues=%u ext=%d split=%d sg=%d gso=%d/%d\n",
           in->nr_queues, in->grant_ext, in->split_evtchn, in->sg,
           in->gso_tcpv4, in->gso_tcpv6);
    fflush(stdout);
    while (fgets(cmd, sizeof(cmd), stdin)) {
        cmd[strcspn(cmd, "\n")] = '\0';
        if (!strcmp(cmd, "echo")) {
            rc = echo(why, sizeof(why));
            printf("%s echo %s\n", rc ? "err" : "ok", why);
        } else if (!strncmp(cmd, "lie ", 4)) {
            lie_case(cmd + 4);
        } else if (!strcmp(cmd, "wait-gone")) {
            long long end = ms_now() + 10000;
            struct pollfd p = {.fd = xgnf_fd(nf), .events = POLLIN};

            while ((rc = xgnf_poll(nf)) == 0 && ms_now() < end)
                poll(&p, 1, 100);
            printf("%s gone (%d)\n", rc == -ENOTCONN ? "ok" : "err", rc);
            xgnf_close(nf);
            nf = NULL;
        } else if (!strcmp(cmd, "close")) {
            xgnf_close(nf);
            nf = NULL;
            printf("ok closed\n");
        }
        fflush(stdout);
    }
    xgnf_close(nf);
    return 0;
}

int main(int argc, char **argv)
{
    grant_handle_t *dom0;

    if (argc >= 3 && !strcmp(argv[1], "--role"))
        return role_front(!strcmp(argv[2], "front-v1"));
    itest_setup(&dom0);
    run_backend(dom0);
    itest_teardown(dom0);
    return itest_done();
}
