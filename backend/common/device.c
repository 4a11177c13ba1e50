/* SPDX-License-Identifier: MIT */
/*
 * device.c: one backend device's XenbusState machine, in Linux's order
 * (drivers/xen/xenbus + blkback's frontend_changed):
 *   probe:      features before InitWait, then InitWait, in one transaction;
 *   frontend Initialised/Connected while we are InitWait: rings up,
 *               driver connect, Connected (keys and state in one
 *               transaction); with ops.hotplug only once the hotplug
 *               script reported (hotplug.c);
 *   frontend Closing: disconnect, Closing;
 *   frontend Closed or gone: disconnect, Closed; the device goes when the
 *               toolstack set online = 0 or removed our directory;
 *   frontend Initialising after we are Closed: InitWait again;
 *   a device found between InitWait and Connected (a previous backend's,
 *   which died): Closing, then as above, so the frontend reconnects (a
 *   frontend still Initialising is simply probed again).
 * A frontend state outside 0..8 (or not a number) is a protocol error.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "private.h"

/* ---- Accessors ---------------------------------------------------------- */

void *xbe_priv(const struct xbe *bus)
{
    return bus->priv;
}
grant_handle_t *xbe_h(const struct xbe *bus)
{
    return bus->h;
}
grant_xenbus_t *xbe_xb(const struct xbe *bus)
{
    return bus->xb;
}
void *xbe_dev_priv(const struct xbe_dev *d)
{
    return d->priv;
}
void xbe_dev_set_priv(struct xbe_dev *d, void *priv)
{
    d->priv = priv;
}
struct xbe *xbe_dev_bus(const struct xbe_dev *d)
{
    return d->bus;
}
const char *xbe_dev_dir(const struct xbe_dev *d)
{
    return d->dir;
}
const char *xbe_dev_fe_dir(const struct xbe_dev *d)
{
    return d->fe_dir;
}
unsigned xbe_dev_fe_id(const struct xbe_dev *d)
{
    return d->fe_id;
}
unsigned xbe_dev_devid(const struct xbe_dev *d)
{
    return d->devid;
}
int xbe_dev_state(const struct xbe_dev *d)
{
    return d->state;
}
int xbe_dev_grant_ext(const struct xbe_dev *d)
{
    return d->grant_ext;
}
unsigned xbe_dev_nr_queues(const struct xbe_dev *d)
{
    return d->nr_queues;
}

struct xbe_queue *xbe_dev_queue(struct xbe_dev *d, unsigned q)
{
    return q < d->nr_queues && d->drv ? &d->q[q] : NULL;
}

/* Queue q's port `which` and its handle, or -ENOTCONN. */
static int be_port(struct xbe_dev *d, unsigned q, unsigned which,
                   grant_handle_t **h, uint32_t *port)
{
    struct xbe_queue *xq = q < d->nr_queues ? &d->q[q] : NULL;

    if (!xq || !d->connected || !xq->nr_ports)
        return -ENOTCONN;
    if (which >= xq->nr_ports)
        which = 0; /* one channel serves both directions */
    *h = xq->port_h;
    *port = xq->port[which];
    return 0;
}

int xbe_notify(struct xbe_dev *d, unsigned q, unsigned which)
{
    grant_handle_t *h;
    uint32_t port;
    int rc = be_port(d, q, which, &h, &port);

    return rc < 0 ? rc : grant_evtchn_notify(h, port);
}

int xbe_kick(struct xbe_dev *d, unsigned q, unsigned which)
{
    grant_handle_t *h;
    uint32_t port;
    int rc = be_port(d, q, which, &h, &port);

    return rc < 0 ? rc : grant_evtchn_notify_async(h, port);
}

/* ---- State -------------------------------------------------------------- */

static void set_state(struct xbe_dev *d, xs_transaction_t t, int state)
{
    if (grant_xenbus_switch_state(d->bus->xb, t, d->dir, state) == 0)
        d->state = state;
}

int xbe_fatal(struct xbe_dev *d, int err, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    int n;

    n = snprintf(msg, sizeof(msg), "%d ", -err);
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
    va_end(ap);
    fprintf(stderr, "xbe: %s: %s\n", d->dir, msg);
    grant_xenbus_write(d->bus->xb, XBT_NULL, d->dir, "error", msg);
    xbe_disconnect(d);
    set_state(d, XBT_NULL, XenbusStateClosing);
    return err;
}

struct probe_arg {
    struct xbe_dev *d;
};

static int probe_in(grant_xenbus_t *xb, xs_transaction_t t, void *arg)
{
    struct xbe_dev *d = ((struct probe_arg *)arg)->d;
    const struct xbe_ops *ops = d->bus->ops;
    int rc = 0;

    if (ops->max_ring_order)
        rc = grant_xenbus_printf(xb, t, d->dir, "max-ring-page-order", "%u",
                                 ops->max_ring_order);
    if (rc == 0 && ops->max_queues > 1)
        rc = grant_xenbus_printf(xb, t, d->dir, "multi-queue-max-queues", "%u",
                                 ops->max_queues);
    if (rc == 0 && ops->grant_ext)
        rc = grant_xenbus_write(xb, t, d->dir, "feature-grant-ext", "1");
    if (rc == 0 && ops->probe)
        rc = ops->probe(d, t);
    if (rc == 0)
        rc = grant_xenbus_switch_state(xb, t, d->dir, XenbusStateInitWait);
    return rc;
}

static void probe(struct xbe_dev *d)
{
    struct probe_arg a = {d};
    int rc = grant_xenbus_transact(d->bus->xb, probe_in, &a, 0);

    if (rc < 0) {
        if (d->state != XenbusStateClosing) /* else the driver said why */
            xbe_fatal(d, rc, "probe failed");
        return;
    }
    d->state = XenbusStateInitWait;
    xbe_hotplug_arm(d);
}

static int connect_in(grant_xenbus_t *xb, xs_transaction_t t, void *arg)
{
    struct xbe_dev *d = ((struct probe_arg *)arg)->d;
    int rc = d->bus->ops->connect ? d->bus->ops->connect(d, t) : 0;

    if (rc == 0)
        rc = grant_xenbus_switch_state(xb, t, d->dir, XenbusStateConnected);
    return rc;
}

static void connect(struct xbe_dev *d)
{
    struct probe_arg a = {d};
    int rc = xbe_connect_rings(d);

    if (rc < 0)
        return; /* xbe_fatal already said why */
    d->drv = 1; /* connect may start serving: disconnect must follow */
    rc = grant_xenbus_transact(d->bus->xb, connect_in, &a, 0);
    if (rc < 0) {
        if (d->state != XenbusStateClosing)
            xbe_fatal(d, rc, "connect failed");
        return;
    }
    d->state = XenbusStateConnected;
}

/* The frontend went past Initialising (it used a previous backend's
 * rings) or is gone. */
static int fe_used(struct xbe_dev *d)
{
    int fe;

    return grant_xenbus_read_state(d->bus->xb, XBT_NULL, d->fe_dir, &fe) < 0 ||
           fe != XenbusStateInitialising;
}

struct xbe_dev *xbe_dev_new(struct xbe *bus, unsigned fe, unsigned devid)
{
    struct xbe_dev *d = calloc(1, sizeof(*d));
    char *fe_dir = NULL;
    unsigned fe_id;
    int state;

    if (!d)
        return NULL;
    d->bus = bus;
    d->fe_id = fe;
    d->devid = devid;
    if (xbe_path(d->dir, sizeof(d->dir), "%s/%u/%u", bus->root, fe, devid) <
        0) {
        free(d);
        return NULL;
    }
    /* Only a device the toolstack just made (or made again) is probed: one
     * we closed and left behind stays ours to ignore.  One left between
     * InitWait and Connected was a predecessor's (this daemon restarted):
     * it is adopted and closed, so the frontend reconnects from scratch. */
    if (grant_xenbus_read_state(bus->xb, XBT_NULL, d->dir, &state) < 0 ||
        (state != XenbusStateInitialising &&
         (state < XenbusStateInitWait || state > XenbusStateConnected))) {
        free(d);
        return NULL;
    }
    /* The toolstack writes the links; until both are there (and agree with
     * the path), the device is not ready. */
    if (grant_xenbus_otherend(bus->xb, d->dir, "frontend", &fe_dir, &fe_id) <
            0 ||
        fe_id != fe || strlen(fe_dir) >= sizeof(d->fe_dir)) {
        free(fe_dir);
        free(d);
        return NULL;
    }
    snprintf(d->fe_dir, sizeof(d->fe_dir), "%s", fe_dir);
    free(fe_dir);
    d->state = XenbusStateInitialising;
    if (grant_xenbus_watch(bus->xb, d->fe_dir, "xbe-fe") < 0) {
        free(d);
        return NULL;
    }
    if (state != XenbusStateInitialising && fe_used(d)) {
        fprintf(stderr,
                "xbe: %s: left in state %d by a previous backend: "
                "closing it for the frontend to reconnect\n",
                d->dir, state);
        d->fe_seen = 1; /* a frontend already gone closes it at once */
        set_state(d, XBT_NULL, XenbusStateClosing);
        xbe_dev_update(d);
        return d;
    }
    probe(d); /* new, or its frontend never got past Initialising */
    return d;
}

static int dir_gone(struct xbe_dev *d)
{
    int state;

    return grant_xenbus_read_state(d->bus->xb, XBT_NULL, d->dir, &state) == 0 &&
           state == XenbusStateUnknown;
}

static int online(struct xbe_dev *d)
{
    unsigned long v = 1;

    return xbe_read_uint(d->bus->xb, d->dir, "online", 1, &v) < 0 || v != 0;
}

static void closed(struct xbe_dev *d)
{
    xbe_disconnect(d);
    set_state(d, XBT_NULL, XenbusStateClosed);
    if (!online(d))
        d->removed = 1;
}

void xbe_dev_update(struct xbe_dev *d)
{
    unsigned mask = d->bus->ops->connect_states;
    int fe;

    if (dir_gone(d)) {
        xbe_disconnect(d);
        d->removed = 1;
        return;
    }
    if (grant_xenbus_read_state(d->bus->xb, XBT_NULL, d->fe_dir, &fe) < 0 ||
        fe > XenbusStateReconfigured) {
        if (d->state != XenbusStateClosing && d->state != XenbusStateClosed)
            xbe_fatal(d, -EINVAL, "%s/state: not a XenbusState", d->fe_dir);
        return;
    }
    if (!mask)
        mask = GRANT_XENBUS_MASK(XenbusStateInitialised) |
               GRANT_XENBUS_MASK(XenbusStateConnected);
    /* The script may report (or fail) before the frontend comes. */
    if (d->state == XenbusStateInitWait && fe != XenbusStateClosing &&
        fe != XenbusStateClosed && xbe_hotplug_ready(d) < 0)
        return;
    switch (fe) {
    case XenbusStateInitialising:
        d->fe_seen = 1;
        if (d->state == XenbusStateClosed && online(d))
            probe(d); /* the frontend came back: offer the device again */
        break;
    case XenbusStateInitWait:
    case XenbusStateInitialised:
    case XenbusStateConnected:
        d->fe_seen = 1;
        if (d->state == XenbusStateInitWait && (mask & (1u << fe)) && d->hp_ok)
            connect(d);
        break;
    case XenbusStateClosing:
        d->fe_seen = 1;
        xbe_disconnect(d);
        if (d->state != XenbusStateClosed)
            set_state(d, XBT_NULL, XenbusStateClosing);
        break;
    case XenbusStateClosed:
        d->fe_seen = 1;
        closed(d);
        break;
    default: /* Unknown: the frontend's directory (or domain) is gone */
        if (d->fe_seen)
            closed(d);
        break;
    }
}

void xbe_dev_destroy(struct xbe_dev *d)
{
    if (!d)
        return;
    xbe_disconnect(d);
    if (d->bus->ops->remove)
        d->bus->ops->remove(d);
    grant_xenbus_unwatch(d->bus->xb, d->fe_dir, "xbe-fe");
    free(d);
}
