/* SPDX-License-Identifier: MIT */
/*
 * device.c: a vif's life (xgnetfront.h), in Linux netfront's order
 * (talk_to_netback): wait for the backend's InitWait, read what it offers,
 * let xfe allocate, grant and publish the rings and ports together with
 * our feature keys (straight to Connected), then set the data buffers up
 * and post the rx buffers.  xgnf_poll follows the backend afterwards.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "private.h"
#include "tools/common/xgt.h"

/* A backend feature flag into *on: 0 or 1, absent 0 (xfe_read_uint:
 * "1abc" or "-1" is malformed); -EPROTO, the frontend's `error` node
 * naming the key, when it is anything else. */
static int be_flag(struct xgnf *nf, const char *key, int *on)
{
    unsigned long v = 0;
    char err[128];
    int rc = xfe_read_uint(nf->xb, XBT_NULL, nf->be_dir, key, 1, &v);

    if (rc < 0) {
        snprintf(err, sizeof(err), "71 backend key %s %s", key,
                 rc == -EPROTO ? "is not 0 or 1" : "unreadable");
        grant_xenbus_write(nf->xb, XBT_NULL, nf->dir, "error", err);
        return -EPROTO;
    }
    *on = (int)v;
    return 0;
}

static int nf_publish(struct xfe_dev *d, xs_transaction_t t)
{
    static const char *const keys[] = {
        "request-rx-copy",   "feature-rx-notify", "feature-sg",
        "feature-gso-tcpv4", "feature-gso-tcpv6", "feature-ipv6-csum-offload"};
    unsigned i;
    int rc = 0;

    for (i = 0; rc == 0 && i < sizeof(keys) / sizeof(keys[0]); i++)
        rc = grant_xenbus_write(xfe_xb(d), t, xfe_dir(d), keys[i], "1");
    if (rc == 0 && xfe_grant_ext(d))
        rc = grant_xenbus_printf(xfe_xb(d), t, xfe_dir(d),
                                 "grant-ext-rx-buffer-size", "%u",
                                 NF_RX_BUF_EXT);
    if (rc == 0 && xfe_grant_ext(d) && ((struct xgnf *)xfe_priv(d))->rx_map)
        rc = grant_xenbus_write(xfe_xb(d), t, xfe_dir(d),
                                "feature-grant-ext-rx-map", "1");
    if (rc == 0 && xfe_grant_ext(d) && ((struct xgnf *)xfe_priv(d))->tx_map)
        rc = grant_xenbus_write(xfe_xb(d), t, xfe_dir(d),
                                "feature-grant-ext-tx-map", "1");
    if (rc == 0 && xfe_grant_ext(d) && ((struct xgnf *)xfe_priv(d))->tx_map)
        rc = grant_xenbus_printf(xfe_xb(d), t, xfe_dir(d),
                                 "grant-ext-tx-buffer-size", "%u",
                                 NF_TX_BUF_EXT);
    return rc;
}

static void nf_data_teardown(struct xgnf *nf)
{
    unsigned i;

    for (i = 0; i < XGNF_MAX_QUEUES; i++) {
        nf_tx_teardown(nf, &nf->q[i]);
        nf_rx_teardown(nf, &nf->q[i]);
    }
    nf->connected = 0;
}

/* xfe's disconnect: the rings go away after this. */
static void nf_disconnect(struct xfe_dev *d)
{
    nf_data_teardown(xfe_priv(d));
}

static int nf_data_setup(struct xgnf *nf)
{
    unsigned i;
    int rc = 0;

    nf->info.nr_queues = xfe_nr_queues(nf->dev);
    nf->info.grant_ext = xfe_grant_ext(nf->dev);
    for (i = 0; rc == 0 && i < nf->info.nr_queues; i++) {
        struct xfe_queue *xq = xfe_queue(nf->dev, i);
        struct nf_queue *q = &nf->q[i];

        q->idx = i;
        q->tx = &xq->ring[0];
        q->rx = &xq->ring[1];
        if (q->tx->nr_ents != NF_RING_ENTS || q->rx->nr_ents != NF_RING_ENTS)
            return -EPROTO;
        rc = nf_tx_setup(nf, q);
        if (rc == 0)
            rc = nf_rx_setup(nf, q);
        if (rc == 0)
            rc = nf_rx_refill(nf, q);
    }
    nf->connected = rc == 0;
    return rc;
}

/* Waits for InitWait, reads the backend's offer and our mac. */
static int nf_negotiate(struct xgnf *nf, const struct xgnf_config *cfg)
{
    char *mac = NULL;
    int rc, st, copy, sg, v4, v6, csum6, split;

    rc = grant_xenbus_wait_state(nf->xb, nf->be_dir, XenbusStateInitWait,
                                 cfg->timeout_ms, &st);
    if (rc < 0 && st != XenbusStateConnected)
        return rc;
    if ((rc = be_flag(nf, "feature-rx-copy", &copy)) < 0)
        return rc;
    if (!copy) {
        grant_xenbus_write(nf->xb, XBT_NULL, nf->dir, "error",
                           "95 backend does not support copying receive path");
        return -EOPNOTSUPP;
    }
    rc = grant_xenbus_read(nf->xb, XBT_NULL, nf->dir, "mac", &mac, NULL);
    if (rc == 0)
        rc = xgt_parse_mac(mac, nf->info.mac) < 0 ? -EPROTO : 0;
    free(mac);
    if (rc < 0) {
        grant_xenbus_write(nf->xb, XBT_NULL, nf->dir, "error",
                           "71 mac missing or malformed");
        return rc == -ENOENT ? -EPROTO : rc;
    }
    if ((rc = be_flag(nf, "feature-sg", &sg)) < 0 ||
        (rc = be_flag(nf, "feature-gso-tcpv4", &v4)) < 0 ||
        (rc = be_flag(nf, "feature-gso-tcpv6", &v6)) < 0 ||
        (rc = be_flag(nf, "feature-ipv6-csum-offload", &csum6)) < 0 ||
        (rc = be_flag(nf, "feature-split-event-channels", &split)) < 0 ||
        (rc = be_flag(nf, "feature-grant-ext-rx-map", &nf->rx_map)) < 0 ||
        (rc = be_flag(nf, "feature-grant-ext-tx-map", &nf->tx_map)) < 0)
        return rc;
    nf->info.sg = sg;
    nf->info.gso_tcpv4 = sg && v4;
    nf->info.gso_tcpv6 = sg && v6;
    nf->info.ipv6_csum = csum6;
    nf->info.split_evtchn = !cfg->one_evtchn && split;
    nf->info.rx_notify = 1;
    nf->info.mtu = nf->info.sg ? XGNF_MAX_FRAME - XGNF_MIN_FRAME : 1500;
    nf->ops = (struct xfe_ops){
        .kind = "vif",
        .nr_rings = 2,
        .ring = {{"tx-ring-ref", sizeof(union netif_tx_sring_entry), 0},
                 {"rx-ring-ref", sizeof(union netif_rx_sring_entry), 0}},
        .max_queues = cfg->max_queues < 1                 ? 1
                      : cfg->max_queues > XGNF_MAX_QUEUES ? XGNF_MAX_QUEUES
                                                          : cfg->max_queues,
        .split_evtchn = nf->info.split_evtchn,
        .grant_ext = !cfg->no_grant_ext,
        .skip_initialised = 1,
        .publish = nf_publish,
        .disconnect = nf_disconnect,
    };
    return 0;
}

static int nf_epoll(struct xgnf *nf)
{
    struct epoll_event ev = {.events = EPOLLIN};
    char path[GRANT_XENBUS_PATH_MAX + 8];
    int pfd = grant_evtchn_pending_fd(nf->h), rc;

    if (pfd < 0)
        return pfd;
    nf->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (nf->epfd < 0)
        return -errno;
    if (epoll_ctl(nf->epfd, EPOLL_CTL_ADD, pfd, &ev) < 0 ||
        epoll_ctl(nf->epfd, EPOLL_CTL_ADD, grant_xenbus_fd(nf->xb), &ev) < 0)
        return -errno;
    snprintf(path, sizeof(path), "%s/state", nf->be_dir);
    rc = grant_xenbus_watch(nf->xb, path, "xgnf");
    return rc;
}

int xgnf_open(struct xgnf **out, grant_handle_t *h, grant_xenbus_t *xb,
              const struct xgnf_config *cfg)
{
    struct xgnf *nf;
    int rc;

    *out = NULL;
    if (!h || !xb || !cfg)
        return -EINVAL;
    nf = calloc(1, sizeof(*nf));
    if (!nf)
        return -ENOMEM;
    nf->h = h;
    nf->xb = xb;
    nf->epfd = -1;
    rc = grant_xenbus_frontend_dir(grant_domid(h), "vif", cfg->devid, nf->dir,
                                   sizeof(nf->dir));
    if (rc == 0)
        rc = grant_xenbus_otherend(xb, nf->dir, "backend", &nf->be_dir,
                                   &nf->be_id);
    if (rc == 0)
        rc = nf_negotiate(nf, cfg);
    if (rc == 0)
        rc = xfe_attach(&nf->dev, &nf->ops, h, xb, cfg->devid, cfg->timeout_ms,
                        nf);
    if (rc == 0)
        rc = nf_data_setup(nf);
    if (rc == 0)
        rc = nf_epoll(nf);
    if (rc < 0) {
        /* Closed once we started the handshake (xfe_attach closes on its
         * own failure).  Not before: a device the toolstack is still
         * writing would be closed under it. */
        if (!nf->dev && nf->be_dir)
            grant_xenbus_switch_state(xb, XBT_NULL, nf->dir, XenbusStateClosed);
        xgnf_close(nf);
        return rc;
    }
    *out = nf;
    return 0;
}

void xgnf_close(struct xgnf *nf)
{
    char path[GRANT_XENBUS_PATH_MAX + 8];

    if (!nf)
        return;
    if (nf->epfd >= 0) {
        snprintf(path, sizeof(path), "%s/state", nf->be_dir);
        grant_xenbus_unwatch(nf->xb, path, "xgnf");
        close(nf->epfd);
    }
    /* xfe_detach runs our disconnect when it has not run yet. */
    xfe_detach(nf->dev, 5000);
    nf_data_teardown(nf);
    free(nf->be_dir);
    free(nf);
}

const struct xgnf_info *xgnf_info(const struct xgnf *nf)
{
    return &nf->info;
}

void xgnf_stats(const struct xgnf *nf, struct xgnf_stats *out)
{
    *out = nf->st;
}

int xgnf_fd(const struct xgnf *nf)
{
    return nf->epfd;
}

void nf_halt(struct xgnf *nf)
{
    if (!nf->halted)
        nf->st.err_ring++;
    nf->halted = 1;
}

int nf_usable(const struct xgnf *nf, unsigned qi)
{
    if (qi >= nf->info.nr_queues)
        return -EINVAL;
    if (nf->halted)
        return -EPROTO;
    return nf->connected ? 0 : -ENOTCONN;
}

int xgnf_poll(struct xgnf *nf)
{
    uint32_t port;
    unsigned i;
    int ev = 0;

    /* Bounded: ports take turns, a storm cannot keep us here. */
    for (i = 0;
         i < 4 * XGNF_MAX_QUEUES && grant_evtchn_pending(nf->h, &port) > 0; i++)
        ;
    for (i = 0; i < 64 && grant_xenbus_read_event(nf->xb, 0, NULL, NULL) > 0;
         i++)
        ev = 1;
    if (ev && !nf->gone && xfe_update(nf->dev) != XenbusStateConnected)
        nf->gone = 1;
    if (nf->gone)
        return -ENOTCONN;
    for (i = 0; nf->connected && i < nf->info.nr_queues; i++)
        nf_tx_gc(nf, &nf->q[i]);
    return nf->halted ? -EPROTO : 0;
}
