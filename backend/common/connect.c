/* SPDX-License-Identifier: MIT */
/*
 * connect.c: bringing a device's rings up from what the frontend wrote,
 * and down again.  The rules, in the order they are checked (each failure
 * is xbe_fatal with the key named):
 *  1. feature-grant-ext = 1 (and offered) makes the refs extension grants;
 *  2. multi-queue-num-queues, when present, is 1..max_queues; with 1 the
 *     keys are flat in the device dir (no queue-0/), as Linux's backends
 *     read them and Linux's netfront writes them;
 *  3. ring-page-order, when present, is <= max_ring_order; then the refs
 *     are <ref_key>0..N-1, else the one <ref_key>;
 *  4. every ref is a 32-bit decimal and maps (whole pages, read-write):
 *     an extension grant of the frontend with grant-ext, else a standard
 *     (v1) ref, so stock Linux frontends connect;
 *  5. event-channel (or, with split channels, event-channel-tx and -rx)
 *     is a 32-bit decimal that binds to the frontend's domain.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "private.h"

int xbe_path(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, len, fmt, ap);
    va_end(ap);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int xbe_read_uint(grant_xenbus_t *xb, const char *dir, const char *node,
                  unsigned long max, unsigned long *out)
{
    char *v = NULL;
    int rc = grant_xenbus_read(xb, XBT_NULL, dir, node, &v, NULL);

    if (rc == -ENOENT)
        return 0;
    if (rc == 0)
        rc = xgt_parse_uint(v, 0, max, out, NULL, 0);
    free(v);
    return rc < 0 ? rc : 1;
}

/* Maps n ring pages named by refs into one contiguous range, all or
 * nothing: extension grants with one grant_map_batch, standard ones with
 * one grant_v1_map. */
static int map_refs(struct xbe_dev *d, const grant_ref_t *refs, unsigned n,
                    void **addr)
{
    struct grant_map_req req[1u << XBE_MAX_RING_ORDER];
    void *got[1u << XBE_MAX_RING_ORDER];
    int st[1u << XBE_MAX_RING_ORDER];
    grant_handle_t *h = d->bus->h;
    unsigned i, nr = 0;
    int rc;

    if (!d->grant_ext)
        return grant_v1_map(h, (grant_domid_t)d->fe_id, refs, n, 0, addr);
    memset(req, 0, sizeof(req));
    for (i = 0; i < n; i++) {
        req[i].ref = refs[i];
        req[i].len = GRANT_PAGE_SIZE;
    }
    rc = grant_map_batch(h, (grant_domid_t)d->fe_id, req, n, addr);
    if (rc == (int)n)
        return 0;
    for (i = 0; rc >= 0 && i < n; i++)
        if (req[i].status == 0)
            got[nr++] = req[i].addr;
    if (nr)
        grant_unmap_batch(h, got, st, nr);
    *addr = NULL;
    for (i = 0; rc >= 0 && i < n; i++)
        if (req[i].status < 0)
            return req[i].status;
    return rc < 0 ? rc : -EIO;
}

static int read_refs(struct xbe_dev *d, const char *qdir,
                     const struct xbe_ring_desc *desc, grant_ref_t *refs,
                     unsigned *n)
{
    struct xbe *bus = d->bus;
    unsigned long order = 0, v;
    char key[64];
    unsigned i;
    int rc = 0;

    if (desc->multi_page) {
        rc = xbe_read_uint(bus->xb, d->fe_dir, "ring-page-order", ~0ul, &order);
        if (rc < 0 || (rc == 1 && order > bus->ops->max_ring_order))
            return xbe_fatal(d, -EINVAL, "ring-page-order: bad or above %u",
                             bus->ops->max_ring_order);
    }
    *n = 1u << order;
    for (i = 0; i < *n; i++) {
        if (rc == 1)
            snprintf(key, sizeof(key), "%s%u", desc->ref_key, i);
        else
            snprintf(key, sizeof(key), "%s", desc->ref_key);
        if (xbe_read_uint(bus->xb, qdir, key, 0xfffffffful, &v) != 1)
            return xbe_fatal(d, -EINVAL, "%s/%s: missing or not a ref", qdir,
                             key);
        refs[i] = (grant_ref_t)v;
    }
    return 0;
}

static int ring_up(struct xbe_dev *d, unsigned q, const char *qdir, unsigned i)
{
    const struct xbe_ring_desc *desc = &d->bus->ops->ring[i];
    struct xbe_queue *xq = &d->q[q];
    grant_ref_t refs[1u << XBE_MAX_RING_ORDER];
    unsigned n = 0;
    int rc = read_refs(d, qdir, desc, refs, &n);

    if (rc < 0)
        return rc;
    rc = map_refs(d, refs, n, &xq->ring_addr[i]);
    if (rc < 0)
        return xbe_fatal(d, rc, "%s/%s: mapping %u ring page(s) failed", qdir,
                         desc->ref_key, n);
    xq->ring_pages[i] = n;
    rc = xbe_ring_attach(&xq->ring[i], xq->ring_addr[i],
                         (size_t)n * GRANT_PAGE_SIZE, desc->ent_size);
    return rc < 0 ? xbe_fatal(d, rc, "%s: ring too small", desc->ref_key) : 0;
}

static int port_up(struct xbe_dev *d, struct xbe_queue *xq, const char *qdir,
                   const char *key)
{
    unsigned long v;
    int rc;

    if (xbe_read_uint(d->bus->xb, qdir, key, 0xfffffffful, &v) != 1)
        return xbe_fatal(d, -EINVAL, "%s/%s: missing or not a port", qdir, key);
    rc = grant_evtchn_bind(xq->port_h, (grant_domid_t)d->fe_id, (uint32_t)v,
                           &xq->port[xq->nr_ports]);
    if (rc < 0)
        return xbe_fatal(d, rc, "%s/%s: binding port %lu failed", qdir, key, v);
    xq->nr_ports++;
    return 0;
}

static int ports_up(struct xbe_dev *d, unsigned q, const char *qdir)
{
    struct xbe_queue *xq = &d->q[q];
    unsigned long v;
    int rc;

    xq->port_h =
        d->bus->ops->queue_handle ? d->bus->ops->queue_handle(d, q) : NULL;
    if (!xq->port_h)
        xq->port_h = d->bus->h;
    if (d->bus->ops->split_evtchn &&
        xbe_read_uint(d->bus->xb, qdir, "event-channel-tx", ~0ul, &v) != 0) {
        rc = port_up(d, xq, qdir, "event-channel-tx");
        return rc < 0 ? rc : port_up(d, xq, qdir, "event-channel-rx");
    }
    return port_up(d, xq, qdir, "event-channel");
}

static int queues(struct xbe_dev *d)
{
    unsigned long v, max = d->bus->ops->max_queues;
    int rc;

    if (max < 1)
        max = 1;
    if (max > XBE_MAX_QUEUES)
        max = XBE_MAX_QUEUES;
    rc = xbe_read_uint(d->bus->xb, d->fe_dir, "multi-queue-num-queues", ~0ul,
                       &v);
    if (rc == 0) {
        d->nr_queues = 0; /* flat keys: one queue in the device dir */
        return 1;
    }
    if (rc < 0 || v < 1 || v > max)
        return xbe_fatal(d, -EINVAL, "multi-queue-num-queues: not 1..%lu", max);
    d->nr_queues = v == 1 ? 0 : (unsigned)v; /* 1: flat keys */
    return (int)v;
}

int xbe_connect_rings(struct xbe_dev *d)
{
    const struct xbe_ops *ops = d->bus->ops;
    char qdir[GRANT_XENBUS_PATH_MAX];
    unsigned long ext = 0;
    int nq, q, i, rc;

    d->grant_ext = ops->grant_ext &&
                   xbe_read_uint(d->bus->xb, d->fe_dir, "feature-grant-ext", 1,
                                 &ext) == 1 &&
                   ext == 1;
    nq = queues(d);
    if (nq < 0)
        return nq;
    d->connected = 1; /* from here xbe_disconnect undoes what was done */
    for (q = 0; q < nq; q++) {
        rc = d->nr_queues == 0
                 ? xbe_path(qdir, sizeof(qdir), "%s", d->fe_dir)
                 : xbe_path(qdir, sizeof(qdir), "%s/queue-%d", d->fe_dir, q);
        if (rc < 0)
            return xbe_fatal(d, rc, "queue path too long");
        for (i = 0; i < (int)ops->nr_rings; i++) {
            rc = ring_up(d, (unsigned)q, qdir, (unsigned)i);
            if (rc < 0)
                return rc;
        }
        rc = ports_up(d, (unsigned)q, qdir);
        if (rc < 0)
            return rc;
    }
    if (d->nr_queues == 0)
        d->nr_queues = 1;
    return 0;
}

/* An extension ring: each page is a mapping of its own (a batch
 * element); a standard one: one grant_v1_map range. */
static void ring_unmap(struct xbe_dev *d, void *base, unsigned pages)
{
    void *addrs[1u << XBE_MAX_RING_ORDER];
    int st[1u << XBE_MAX_RING_ORDER];
    unsigned p;

    if (!base || !pages)
        return;
    if (!d->grant_ext) {
        grant_v1_unmap(d->bus->h, base);
        return;
    }
    for (p = 0; p < pages; p++)
        addrs[p] = (char *)base + (size_t)p * GRANT_PAGE_SIZE;
    grant_unmap_batch(d->bus->h, addrs, st, pages);
}

void xbe_disconnect(struct xbe_dev *d)
{
    struct xbe *bus = d->bus;
    unsigned q, i;

    if (!d->connected)
        return;
    d->connected = 0;
    if (d->drv && bus->ops->disconnect)
        bus->ops->disconnect(d);
    d->drv = 0;
    for (q = 0; q < XBE_MAX_QUEUES; q++) {
        struct xbe_queue *xq = &d->q[q];

        for (i = 0; i < XBE_RINGS_PER_QUEUE; i++)
            ring_unmap(d, xq->ring_addr[i], xq->ring_pages[i]);
        for (i = 0; i < xq->nr_ports; i++)
            grant_evtchn_close(xq->port_h, xq->port[i]);
        memset(xq, 0, sizeof(*xq));
    }
    d->nr_queues = 0;
}
