/* SPDX-License-Identifier: MIT */
/*
 * xbe.h: the backend half of xgrant's xenbus device framework, shared by
 * every backend driver (blkback, netback).
 *
 * The model
 * ---------
 * A backend daemon serves every device of one kind ("vbd", "vif") that the
 * toolstack puts under /local/domain/<self>/backend/<kind>/<fe>/<devid>.
 * It opens a bus (xbe_open), which watches that directory; each new device
 * is PROBED (the driver writes the keys a frontend must see before
 * InitWait: max-ring-page-order, multi-queue-max-queues, ...) and switched
 * to InitWait.  When the frontend reaches Initialised (or Connected, for
 * frontends that skip Initialised, as Linux's netfront does) the framework
 * reads the frontend's ring keys (`ring-ref`, or `ring-page-order` +
 * `ring-refN`; `queue-N/` under `multi-queue-num-queues`), maps the rings,
 * binds the event channels (`event-channel`, or `event-channel-tx` and
 * `-rx`), and calls the driver's connect, which writes its keys in the same
 * transaction that switches the device to Connected.  Frontend Closing:
 * the driver disconnects, the device goes Closing; frontend Closed or gone:
 * Closed, and the device is removed once the toolstack set `online` to 0
 * (or removed the directory).  A frontend back in Initialising after
 * Closed reconnects from InitWait.  A device the bus finds between InitWait
 * and Connected belonged to a backend that died (the daemon restarted): it
 * is switched to Closing, so the frontend closes and reconnects.
 *
 * Everything the frontend wrote is untrusted: a missing, malformed or
 * out-of-range key, a ref that does not map or a port that does not bind
 * moves the device to Closing through xbe_fatal, which writes the reason
 * in the backend directory's `error` node (as Linux's xenbus_dev_fatal
 * does) and leaves every other device alone.
 *
 * Grant kinds: when the driver offers `feature-grant-ext` (ops.grant_ext)
 * and the frontend wrote `feature-grant-ext` = 1, ring refs are xgrant
 * extension grants of the frontend's table; otherwise they are Xen's
 * standard (v1) grant refs.  xbe_dev_grant_ext says which the device uses,
 * for the driver's data grants too.
 *
 * Conventions: 0 or -errno; nothing is freed by the caller that the
 * framework returned; one thread drives a bus (xbe_dispatch and every
 * callback run on it); a driver may serve a queue's rings from another
 * thread between its connect and disconnect callbacks.
 */
#ifndef XBE_H
#define XBE_H

#include <stdint.h>

#include "libgrant.h"
#include "libgrant_xenbus.h"
#include "xbe_ring.h"

#define XBE_MAX_QUEUES      16u /* multi-queue-max-queues we accept */
#define XBE_MAX_RING_ORDER  4   /* XENBUS_MAX_RING_GRANT_ORDER */
#define XBE_RINGS_PER_QUEUE 2

#define XBE_HOTPLUG_XEN    1 /* xbe_ops.hotplug */
#define XBE_HOTPLUG_ALWAYS 2

struct xbe;
struct xbe_dev;

/* One shared ring of a queue, as the frontend names it. */
struct xbe_ring_desc {
    const char *ref_key; /* "ring-ref" (blkif), "tx-ring-ref", "rx-ring-ref" */
    size_t ent_size;     /* sizeof(union <name>_sring_entry) */
    int multi_page;      /* accepts ring-page-order + <ref_key>N */
};

/* A queue of a connected device. */
struct xbe_queue {
    struct xbe_ring ring[XBE_RINGS_PER_QUEUE];
    void *ring_addr[XBE_RINGS_PER_QUEUE]; /* the mappings */
    unsigned ring_pages[XBE_RINGS_PER_QUEUE];
    uint32_t port[XBE_RINGS_PER_QUEUE]; /* [1] only with split channels */
    unsigned nr_ports;
    grant_handle_t *port_h; /* the handle the ports are bound with */
};

struct xbe_ops {
    const char *kind; /* the backend/<kind> directory */
    unsigned nr_rings;
    struct xbe_ring_desc ring[XBE_RINGS_PER_QUEUE];
    unsigned max_ring_order; /* published as max-ring-page-order if > 0 */
    unsigned max_queues;     /* published as multi-queue-max-queues if > 1 */
    int split_evtchn;        /* accepts event-channel-tx + event-channel-rx */
    int grant_ext;           /* publishes feature-grant-ext = 1 */
    /* Frontend states (GRANT_XENBUS_MASK) that start the connection;
     * 0: Initialised and Connected. */
    unsigned connect_states;
    /* Connect only once the toolstack's hotplug script wrote
     * `hotplug-status` = "connected" in the backend directory (libxl's
     * block and vif-* scripts do; Linux's netback waits for it):
     * XBE_HOTPLUG_XEN on the Xen transport only (XGRANT_TRANSPORT=xen;
     * under xgrantd no script runs), XBE_HOTPLUG_ALWAYS, or 0 never.
     * "error" closes the device (xbe_fatal) with the script's
     * `hotplug-error`; so does no "connected" within hotplug_timeout_ms of
     * InitWait (0: libxl's 40 s).  The bus's owner must call xbe_dispatch
     * by xbe_timeout_ms for that. */
    int hotplug;
    unsigned hotplug_timeout_ms;
    /* The handle queue q's ports are bound with, signalled and closed
     * through: a driver serving each queue from a thread of its own gives
     * that thread's handle (a handle is single-threaded).  Called while
     * the rings come up, before connect; it must stay open until
     * disconnect returns.  May be NULL (or return NULL): the bus's. */
    grant_handle_t *(*queue_handle)(struct xbe_dev *d, unsigned q);
    /* Writes the keys needed before InitWait (in t).  May be NULL. */
    int (*probe)(struct xbe_dev *d, xs_transaction_t t);
    /* The rings are mapped and the ports bound: read the frontend's keys,
     * write this driver's (in t), start serving.  A negative return (or
     * xbe_fatal) fails the connection. */
    int (*connect)(struct xbe_dev *d, xs_transaction_t t);
    /* Stop touching the rings: they are unmapped after this returns. */
    void (*disconnect)(struct xbe_dev *d);
    /* The device is going away for good (after disconnect).  May be NULL. */
    void (*remove)(struct xbe_dev *d);
};

/*
 * Opens a bus serving `ops->kind` devices of this domain (its id from
 * `self`): watches backend/<kind>.  `h` and `xb` stay the caller's and must
 * outlive the bus.  *out gets the bus.  -EINVAL for bad ops.
 */
int xbe_open(struct xbe **out, const struct xbe_ops *ops, grant_handle_t *h,
             grant_xenbus_t *xb, unsigned self, void *priv);
/* Disconnects and removes every device (Closed), then frees.  NULL-safe. */
void xbe_close(struct xbe *bus);
/* The fd to poll for store events (the xenbus handle's). */
int xbe_fd(const struct xbe *bus);
/* Handles every pending store event, waiting up to timeout_ms for the
 * first.  Returns the number of events handled or -errno. */
int xbe_dispatch(struct xbe *bus, int timeout_ms);
/* Milliseconds until a device's hotplug wait runs out (xbe_dispatch
 * then closes it), -1 when none waits: a poll timeout for the caller. */
int xbe_timeout_ms(const struct xbe *bus);
/* Number of devices the bus holds; the i-th (NULL past the end). */
unsigned xbe_count(const struct xbe *bus);
struct xbe_dev *xbe_dev_at(const struct xbe *bus, unsigned i);

/* ---- A device --------------------------------------------------------- */

void *xbe_priv(const struct xbe *bus);
grant_handle_t *xbe_h(const struct xbe *bus);
grant_xenbus_t *xbe_xb(const struct xbe *bus);
void *xbe_dev_priv(const struct xbe_dev *d);
void xbe_dev_set_priv(struct xbe_dev *d, void *priv);
struct xbe *xbe_dev_bus(const struct xbe_dev *d);
const char *xbe_dev_dir(const struct xbe_dev *d);    /* backend dir */
const char *xbe_dev_fe_dir(const struct xbe_dev *d); /* frontend dir */
unsigned xbe_dev_fe_id(const struct xbe_dev *d);
unsigned xbe_dev_devid(const struct xbe_dev *d);
int xbe_dev_state(const struct xbe_dev *d);
int xbe_dev_grant_ext(const struct xbe_dev *d);
unsigned xbe_dev_nr_queues(const struct xbe_dev *d);
struct xbe_queue *xbe_dev_queue(struct xbe_dev *d, unsigned q);
/* Signals the frontend on queue q's port `which` (0, or 1 = rx of a split
 * pair), through the queue's port handle (ops.queue_handle): call it from
 * the thread that owns that handle. */
int xbe_notify(struct xbe_dev *d, unsigned q, unsigned which);
/* xbe_notify without waiting for the hypervisor's answer
 * (grant_evtchn_notify_async): for a ring push, where nobody needs it;
 * an error shows on a later notify of the port. */
int xbe_kick(struct xbe_dev *d, unsigned q, unsigned which);

/* Reads dir/node as a decimal number of at most `max` with nothing around
 * it (xgt_parse_uint: "12abc", " 5" and "-1" are malformed): 1 and *out
 * set when present, 0 when missing (*out untouched), -EINVAL when
 * malformed or above max, or the store's error. */
int xbe_read_uint(grant_xenbus_t *xb, const char *dir, const char *node,
                  unsigned long max, unsigned long *out);

/*
 * Writes counters under dir/statistics/<names[i]> in one transaction, only
 * while dir is still there (its `state` readable): a directory the
 * toolstack removed is never written back into being.  Only the entries
 * whose now[i] differs from shown[i] are written, or all of them if `all`.
 * 0, -ENOENT (dir gone: nothing written) or -errno.
 */
int xbe_stats_write(grant_xenbus_t *xb, const char *dir,
                    const char *const *names, const uint64_t *now,
                    const uint64_t *shown, unsigned n, int all);

/*
 * The peer broke the protocol (or the device cannot work): writes
 * "<-err> <reason>" to the backend directory's `error` node, disconnects
 * (the driver's disconnect, rings unmapped, ports closed) and switches the
 * device to Closing.  Other devices are untouched.  Returns err.
 */
int xbe_fatal(struct xbe_dev *d, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
