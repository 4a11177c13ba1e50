/* SPDX-License-Identifier: MIT */
/*
 * device.c: a frontend device's handshake (xfe.h), in Linux's order
 * (blkfront's talk_to_blkback, netfront's talk_to_netback):
 *   1. wait for the backend's InitWait;
 *   2. read its limits, clamp them to ours;
 *   3. rings: allocate, SHARED_RING_INIT, grant each page to the backend;
 *      ports: one (or a tx/rx pair) per queue, unbound for the backend;
 *   4. one transaction: ring refs, ports, ring-page-order,
 *      multi-queue-num-queues, feature-grant-ext, the driver's keys, and
 *      our state (Initialised, or Connected);
 *   5. wait for the backend's Connected; the driver reads its keys.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/common/xgt.h"
#include "xfe.h"

struct xfe_dev {
    const struct xfe_ops *ops;
    grant_handle_t *h;
    grant_xenbus_t *xb;
    char dir[GRANT_XENBUS_PATH_MAX];
    char *be_dir;
    unsigned be_id;
    int state;
    int grant_ext;
    unsigned order; /* ring-page-order used */
    unsigned nr_queues;
    int drv; /* the driver's connect ran */
    struct xfe_queue q[XFE_MAX_QUEUES];
    void *priv;
};

void *xfe_priv(const struct xfe_dev *d)
{
    return d->priv;
}
grant_handle_t *xfe_h(const struct xfe_dev *d)
{
    return d->h;
}
grant_xenbus_t *xfe_xb(const struct xfe_dev *d)
{
    return d->xb;
}
const char *xfe_dir(const struct xfe_dev *d)
{
    return d->dir;
}
const char *xfe_be_dir(const struct xfe_dev *d)
{
    return d->be_dir;
}
unsigned xfe_be_id(const struct xfe_dev *d)
{
    return d->be_id;
}
int xfe_state(const struct xfe_dev *d)
{
    return d->state;
}
int xfe_grant_ext(const struct xfe_dev *d)
{
    return d->grant_ext;
}
unsigned xfe_nr_queues(const struct xfe_dev *d)
{
    return d->nr_queues;
}

struct xfe_queue *xfe_queue(struct xfe_dev *d, unsigned q)
{
    return q < d->nr_queues ? &d->q[q] : NULL;
}

/* Queue q's port `which` (one port serves both directions) into *port,
 * or -ENOTCONN. */
static int fe_port(struct xfe_dev *d, unsigned q, unsigned which,
                   uint32_t *port)
{
    struct xfe_queue *xq = xfe_queue(d, q);

    if (!xq || !xq->nr_ports)
        return -ENOTCONN;
    *port = xq->port[which < xq->nr_ports ? which : 0];
    return 0;
}

int xfe_notify(struct xfe_dev *d, unsigned q, unsigned which)
{
    uint32_t port;
    int rc = fe_port(d, q, which, &port);

    return rc < 0 ? rc : grant_evtchn_notify(d->h, port);
}

int xfe_kick(struct xfe_dev *d, unsigned q, unsigned which)
{
    uint32_t port;
    int rc = fe_port(d, q, which, &port);

    return rc < 0 ? rc : grant_evtchn_notify_async(d->h, port);
}

int xfe_read_uint(grant_xenbus_t *xb, xs_transaction_t t, const char *dir,
                  const char *key, unsigned long max, unsigned long *out)
{
    char *v = NULL;
    int rc = grant_xenbus_read(xb, t, dir, key, &v, NULL);

    if (rc == -ENOENT)
        return 0;
    if (rc == 0)
        rc = xgt_parse_uint(v, 0, max, out, NULL, 0) < 0 ? -EPROTO : 1;
    free(v);
    return rc;
}

int xfe_be_uint(struct xfe_dev *d, xs_transaction_t t, const char *key,
                unsigned long max, unsigned long *out)
{
    return xfe_read_uint(d->xb, t, d->be_dir, key, max, out);
}

/* A backend limit: its decimal value clamped to [0, ours]; 0 when absent;
 * -EPROTO when malformed. */
static int be_limit(struct xfe_dev *d, const char *key, unsigned ours,
                    unsigned *out)
{
    unsigned long v = 0;
    int rc = xfe_be_uint(d, XBT_NULL, key, 0xffffffffu, &v);

    if (rc < 0)
        return rc;
    *out = v < ours ? (unsigned)v : ours;
    return 0;
}

static void queue_free(struct xfe_dev *d, struct xfe_queue *xq)
{
    unsigned i, p;

    for (i = 0; i < XFE_RINGS_PER_QUEUE; i++) {
        if (xq->ring_mem[i] && xq->ring_v1) {
            grant_v1_end(d->h, xq->ring_mem[i]); /* ends the refs, frees */
            continue;
        }
        for (p = 0; xq->ring_mem[i] && p < xq->ring_pages[i]; p++)
            grant_revoke(d->h, xq->ref[i][p], GRANT_REVOKE_FORCE);
        if (xq->ring_mem[i])
            grant_mem_free(d->h, xq->ring_mem[i]);
    }
    for (i = 0; i < xq->nr_ports; i++)
        grant_evtchn_close(d->h, xq->port[i]);
    memset(xq, 0, sizeof(*xq));
}

/* Standard grants: the pages come from grant_v1_share, one v1 ref each
 * (what stock Linux backends map). */
static int ring_alloc_v1(struct xfe_dev *d, struct xfe_queue *xq, unsigned i,
                         unsigned n)
{
    grant_v1_ref_t refs[1u << XFE_MAX_RING_ORDER];
    unsigned p;
    int rc = grant_v1_share(d->h, (grant_domid_t)d->be_id, n, 0, refs,
                            &xq->ring_mem[i]);

    if (rc < 0) {
        xq->ring_mem[i] = NULL;
        return rc;
    }
    xq->ring_v1 = 1;
    xq->ring_pages[i] = n;
    for (p = 0; p < n; p++)
        xq->ref[i][p] = refs[p];
    return xfe_ring_init(&xq->ring[i], xq->ring_mem[i],
                         (size_t)n * GRANT_PAGE_SIZE, d->ops->ring[i].ent_size);
}

static int ring_alloc(struct xfe_dev *d, struct xfe_queue *xq, unsigned i)
{
    const struct xfe_ring_desc *desc = &d->ops->ring[i];
    unsigned p, n = desc->multi_page ? 1u << d->order : 1u;
    int rc;

    if (!d->grant_ext)
        return ring_alloc_v1(d, xq, i, n);
    rc = grant_mem_alloc(d->h, n, &xq->ring_mem[i]);
    if (rc < 0)
        return rc;
    rc = xfe_ring_init(&xq->ring[i], xq->ring_mem[i],
                       (size_t)n * GRANT_PAGE_SIZE, desc->ent_size);
    for (p = 0; rc == 0 && p < n; p++) {
        rc = grant_create_direct(d->h, (grant_domid_t)d->be_id,
                                 GRANT_R_READ | GRANT_R_WRITE | GRANT_R_MAP,
                                 (char *)xq->ring_mem[i] +
                                     (size_t)p * GRANT_PAGE_SIZE,
                                 GRANT_PAGE_SIZE, &xq->ref[i][p]);
        if (rc == 0)
            xq->ring_pages[i] = p + 1;
    }
    return rc;
}

static int queue_alloc(struct xfe_dev *d, struct xfe_queue *xq)
{
    unsigned i, ports = d->ops->split_evtchn ? 2 : 1;
    int rc = 0;

    for (i = 0; rc == 0 && i < d->ops->nr_rings; i++)
        rc = ring_alloc(d, xq, i);
    for (i = 0; rc == 0 && i < ports; i++) {
        rc = grant_evtchn_alloc_unbound(d->h, (grant_domid_t)d->be_id,
                                        &xq->port[i]);
        if (rc == 0)
            xq->nr_ports++;
    }
    return rc;
}

static int publish_queue(struct xfe_dev *d, xs_transaction_t t,
                         struct xfe_queue *xq, const char *qdir)
{
    unsigned i, p;
    int rc = 0;

    for (i = 0; rc == 0 && i < d->ops->nr_rings; i++) {
        const struct xfe_ring_desc *desc = &d->ops->ring[i];

        if (!desc->multi_page || d->order == 0)
            rc = grant_xenbus_printf(d->xb, t, qdir, desc->ref_key, "%u",
                                     xq->ref[i][0]);
        for (p = 0;
             rc == 0 && desc->multi_page && d->order && p < xq->ring_pages[i];
             p++) {
            char key[64];

            snprintf(key, sizeof(key), "%s%u", desc->ref_key, p);
            rc = grant_xenbus_printf(d->xb, t, qdir, key, "%u", xq->ref[i][p]);
        }
    }
    if (rc == 0 && xq->nr_ports == 2) {
        rc = grant_xenbus_printf(d->xb, t, qdir, "event-channel-tx", "%u",
                                 xq->port[0]);
        if (rc == 0)
            rc = grant_xenbus_printf(d->xb, t, qdir, "event-channel-rx", "%u",
                                     xq->port[1]);
    } else if (rc == 0) {
        rc = grant_xenbus_printf(d->xb, t, qdir, "event-channel", "%u",
                                 xq->port[0]);
    }
    return rc;
}

static int publish_in(grant_xenbus_t *xb, xs_transaction_t t, void *arg)
{
    struct xfe_dev *d = arg;
    char qdir[GRANT_XENBUS_PATH_MAX + 24]; /* dir + "/queue-N" */
    unsigned q;
    int rc = 0;

    if (d->order)
        rc = grant_xenbus_printf(xb, t, d->dir, "ring-page-order", "%u",
                                 d->order);
    if (rc == 0 && d->nr_queues > 1)
        rc = grant_xenbus_printf(xb, t, d->dir, "multi-queue-num-queues", "%u",
                                 d->nr_queues);
    if (rc == 0 && d->grant_ext)
        rc = grant_xenbus_write(xb, t, d->dir, "feature-grant-ext", "1");
    for (q = 0; rc == 0 && q < d->nr_queues; q++) {
        if (d->nr_queues > 1)
            snprintf(qdir, sizeof(qdir), "%s/queue-%u", d->dir, q);
        else
            snprintf(qdir, sizeof(qdir), "%s", d->dir);
        rc = publish_queue(d, t, &d->q[q], qdir);
    }
    if (rc == 0 && d->ops->publish)
        rc = d->ops->publish(d, t);
    if (rc == 0)
        rc = grant_xenbus_switch_state(xb, t, d->dir,
                                       d->ops->skip_initialised
                                           ? XenbusStateConnected
                                           : XenbusStateInitialised);
    return rc;
}

static int negotiate(struct xfe_dev *d)
{
    unsigned ext = 0, order, queues;
    int rc = be_limit(d, "max-ring-page-order", d->ops->max_ring_order, &order);

    if (rc == 0)
        rc = be_limit(d, "multi-queue-max-queues", d->ops->max_queues, &queues);
    if (rc == 0)
        rc = be_limit(d, "feature-grant-ext", 1, &ext);
    if (rc < 0) {
        grant_xenbus_write(d->xb, XBT_NULL, d->dir, "error",
                           "71 backend limits malformed");
        return rc;
    }
    d->order = order > XFE_MAX_RING_ORDER ? XFE_MAX_RING_ORDER : order;
    d->nr_queues = queues < 1                ? 1
                   : queues > XFE_MAX_QUEUES ? XFE_MAX_QUEUES
                                             : queues;
    d->grant_ext = d->ops->grant_ext && ext == 1;
    return 0;
}

static int handshake(struct xfe_dev *d, int timeout_ms)
{
    unsigned q;
    int rc, st;

    rc = grant_xenbus_wait_state(d->xb, d->be_dir, XenbusStateInitWait,
                                 timeout_ms, &st);
    /* A backend already past InitWait (reconnecting) is fine too. */
    if (rc < 0 && st != XenbusStateConnected)
        return rc;
    rc = negotiate(d);
    for (q = 0; rc == 0 && q < d->nr_queues; q++)
        rc = queue_alloc(d, &d->q[q]);
    if (rc == 0)
        rc = grant_xenbus_transact(d->xb, publish_in, d, 0);
    if (rc < 0)
        return rc;
    d->state = d->ops->skip_initialised ? XenbusStateConnected
                                        : XenbusStateInitialised;
    rc = grant_xenbus_wait_state(d->xb, d->be_dir, XenbusStateConnected,
                                 timeout_ms, NULL);
    if (rc == 0 && d->ops->connect)
        rc = d->ops->connect(d);
    if (rc < 0)
        return rc;
    d->drv = 1;
    grant_xenbus_switch_state(d->xb, XBT_NULL, d->dir, XenbusStateConnected);
    d->state = XenbusStateConnected;
    return 0;
}

static void teardown(struct xfe_dev *d)
{
    unsigned q;

    if (d->drv && d->ops->disconnect)
        d->ops->disconnect(d);
    d->drv = 0;
    for (q = 0; q < XFE_MAX_QUEUES; q++)
        queue_free(d, &d->q[q]);
    d->nr_queues = 0;
}

int xfe_attach(struct xfe_dev **out, const struct xfe_ops *ops,
               grant_handle_t *h, grant_xenbus_t *xb, unsigned devid,
               int timeout_ms, void *priv)
{
    struct xfe_dev *d;
    int rc;

    *out = NULL;
    if (!ops || ops->nr_rings < 1 || ops->nr_rings > XFE_RINGS_PER_QUEUE)
        return -EINVAL;
    d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    d->ops = ops;
    d->h = h;
    d->xb = xb;
    d->priv = priv;
    rc = grant_xenbus_frontend_dir(grant_domid(h), ops->kind, devid, d->dir,
                                   sizeof(d->dir));
    if (rc == 0)
        rc =
            grant_xenbus_otherend(xb, d->dir, "backend", &d->be_dir, &d->be_id);
    if (rc == 0)
        rc = handshake(d, timeout_ms);
    if (rc < 0) {
        teardown(d);
        /* A device not there yet (no backend link) is not ours to close:
         * the toolstack may be writing it right now. */
        if (d->be_dir)
            grant_xenbus_switch_state(xb, XBT_NULL, d->dir, XenbusStateClosed);
        free(d->be_dir);
        free(d);
        return rc;
    }
    *out = d;
    return 0;
}

int xfe_update(struct xfe_dev *d)
{
    int be;

    if (grant_xenbus_read_state(d->xb, XBT_NULL, d->be_dir, &be) < 0)
        be = XenbusStateClosed; /* a backend that writes garbage is gone */
    /* Any backend state but Connected (Closing, Closed, gone, or a
     * restarted backend back at Initialising/InitWait) ends the rings. */
    if (d->state == XenbusStateConnected && be != XenbusStateConnected) {
        teardown(d);
        grant_xenbus_switch_state(d->xb, XBT_NULL, d->dir, XenbusStateClosing);
        d->state = XenbusStateClosing;
    }
    if (d->state == XenbusStateClosing && be != XenbusStateConnected) {
        grant_xenbus_switch_state(d->xb, XBT_NULL, d->dir, XenbusStateClosed);
        d->state = XenbusStateClosed;
    }
    return d->state;
}

int xfe_reconnect(struct xfe_dev *d, int timeout_ms)
{
    int rc;

    if (d->state != XenbusStateClosed)
        return -EBUSY;
    /* Linux's order: back to Initialising once the backend has seen our
     * Closed (a backend still Closing would miss the Closed and never
     * offer the device again), or is new (Initialising, InitWait). */
    rc = grant_xenbus_wait_states(
        d->xb, d->be_dir,
        GRANT_XENBUS_MASK(XenbusStateClosed) |
            GRANT_XENBUS_MASK(XenbusStateInitialising) |
            GRANT_XENBUS_MASK(XenbusStateInitWait),
        timeout_ms, NULL);
    if (rc < 0)
        return rc;
    /* Initialising asks the backend to offer the device again (xbe
     * re-probes a Closed device whose frontend comes back). */
    grant_xenbus_switch_state(d->xb, XBT_NULL, d->dir, XenbusStateInitialising);
    d->state = XenbusStateInitialising;
    /* A backend still Closed (or Connected from before it died) is not
     * offering the device yet: wait for its InitWait. */
    rc = grant_xenbus_wait_states(d->xb, d->be_dir,
                                  GRANT_XENBUS_MASK(XenbusStateInitWait),
                                  timeout_ms, NULL);
    if (rc == 0)
        rc = handshake(d, timeout_ms);
    if (rc < 0) {
        teardown(d);
        grant_xenbus_switch_state(d->xb, XBT_NULL, d->dir, XenbusStateClosed);
        d->state = XenbusStateClosed;
    }
    return rc;
}

void xfe_detach(struct xfe_dev *d, int timeout_ms)
{
    if (!d)
        return;
    if (d->state != XenbusStateClosed) {
        /* The backend unmaps before it answers Closing; only then are the
         * grants ended (with FORCE, for a backend that never answers). */
        if (d->drv && d->ops->disconnect)
            d->ops->disconnect(d);
        d->drv = 0;
        grant_xenbus_switch_state(d->xb, XBT_NULL, d->dir, XenbusStateClosing);
        grant_xenbus_wait_states(d->xb, d->be_dir,
                                 GRANT_XENBUS_MASK(XenbusStateClosing) |
                                     GRANT_XENBUS_MASK(XenbusStateClosed) |
                                     GRANT_XENBUS_MASK(XenbusStateUnknown),
                                 timeout_ms, NULL);
        grant_xenbus_switch_state(d->xb, XBT_NULL, d->dir, XenbusStateClosed);
    }
    teardown(d);
    free(d->be_dir);
    free(d);
}
