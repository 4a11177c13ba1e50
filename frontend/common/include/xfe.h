/* SPDX-License-Identifier: MIT */
/*
 * xfe.h: the frontend half of xgrant's xenbus device framework, shared by
 * every frontend driver library (blkfront, netfront).
 *
 * The model
 * ---------
 * A guest program attaches to one of its devices,
 * /local/domain/<self>/device/<kind>/<devid>, which the toolstack wrote
 * with a link to the backend.  xfe_attach waits (up to its timeout) for
 * the backend to reach InitWait, reads the backend's limits
 * (max-ring-page-order, multi-queue-max-queues, feature-grant-ext) and
 * takes the smaller of each and the driver's wish, allocates and
 * initialises the rings, grants them to the backend, allocates an event
 * channel per queue (or a tx/rx pair), and publishes everything in ONE
 * transaction together with the driver's own keys, switching to
 * Initialised (or straight to Connected, as Linux's netfront does).  When
 * the backend reaches Connected the driver's connect reads the backend's
 * keys and the device is Connected.  xfe_update follows the backend
 * afterwards: a backend that leaves Connected (Closing, Closed, gone, or
 * restarted at Initialising/InitWait) means disconnect (the driver's
 * disconnect), Closing, then Closed; xfe_reconnect starts over from there.
 * xfe_detach closes in Xen's order (Closing, wait for the backend's
 * Closing/Closed, Closed) and revokes the ring grants with FORCE, so a backend
 * that still maps them is cut off.
 *
 * What the backend wrote is untrusted: its limits are clamped to ours, a
 * malformed key fails the attach (-EPROTO) with the reason in `error`.
 *
 * Grant kinds: ring pages are granted as xgrant extension grants when the
 * driver allows it (ops.grant_ext) and the backend offers
 * feature-grant-ext = 1 (then the frontend writes feature-grant-ext = 1
 * too); otherwise as Xen standard (v1) grants: the ring pages come from
 * grant_v1_share (each page its own v1 ref), so a stock Linux backend maps
 * them, and grant_v1_end ends them at teardown.
 *
 * Conventions: 0 or -errno; one thread drives a device's xenbus side;
 * the rings may be driven by other threads between connect and disconnect.
 */
#ifndef XFE_H
#define XFE_H

#include <stdint.h>

#include "libgrant.h"
#include "libgrant_xenbus.h"
#include "xfe_ring.h"

#define XFE_MAX_QUEUES      16u
#define XFE_MAX_RING_ORDER  4
#define XFE_RINGS_PER_QUEUE 2

struct xfe_dev;

struct xfe_ring_desc {
    const char *ref_key; /* "ring-ref", "tx-ring-ref", "rx-ring-ref" */
    size_t ent_size;     /* sizeof(union <name>_sring_entry) */
    int multi_page;      /* may use ring-page-order + <ref_key>N */
};

struct xfe_queue {
    struct xfe_ring ring[XFE_RINGS_PER_QUEUE];
    void *ring_mem[XFE_RINGS_PER_QUEUE];
    unsigned ring_pages[XFE_RINGS_PER_QUEUE];
    grant_ref_t ref[XFE_RINGS_PER_QUEUE][1u << XFE_MAX_RING_ORDER];
    uint32_t port[XFE_RINGS_PER_QUEUE]; /* [1]: rx of a split pair */
    unsigned nr_ports;
    int ring_v1; /* the rings are grant_v1_share pages (standard grants) */
};

struct xfe_ops {
    const char *kind;
    unsigned nr_rings;
    struct xfe_ring_desc ring[XFE_RINGS_PER_QUEUE];
    unsigned max_ring_order; /* wished; clamped to the backend's */
    unsigned max_queues;     /* wished; clamped to the backend's */
    int split_evtchn;        /* a tx/rx pair of ports per queue */
    int grant_ext;           /* use extension grants when offered */
    int skip_initialised;    /* publish straight as Connected */
    /* Extra keys in the publishing transaction.  May be NULL. */
    int (*publish)(struct xfe_dev *d, xs_transaction_t t);
    /* The backend is Connected: read its keys.  May be NULL. */
    int (*connect)(struct xfe_dev *d);
    /* Stop using the rings (they are freed after).  May be NULL. */
    void (*disconnect)(struct xfe_dev *d);
};

/*
 * Attaches to device/<kind>/<devid> of this domain: the whole handshake up
 * to Connected, waiting up to timeout_ms for each backend step.
 * -ENOENT (no such device, or no backend link yet: the frontend
 * directory is left as it was), -ETIMEDOUT (the backend did not move),
 * -ENOTCONN (the backend closed), -EPROTO (the backend broke the
 * protocol: the reason is in the device's `error` node), or the error of a
 * grant or port call.  On failure nothing is left granted or bound.
 */
int xfe_attach(struct xfe_dev **out, const struct xfe_ops *ops,
               grant_handle_t *h, grant_xenbus_t *xb, unsigned devid,
               int timeout_ms, void *priv);
/* Follows the backend after a store event: returns our state (Connected
 * while all is well; Closed once the backend went away).  Never blocks. */
int xfe_update(struct xfe_dev *d);
/* After xfe_update returned Closed (the backend went away, or restarted):
 * writes Initialising and runs the whole handshake again, new rings and
 * ports (the driver's publish and connect run again).  -EBUSY unless
 * Closed; on failure the device is Closed again and may be retried. */
int xfe_reconnect(struct xfe_dev *d, int timeout_ms);
/* Closes in Xen's order, waiting up to timeout_ms for the backend; revokes
 * the ring grants (FORCE), closes the ports, frees.  NULL-safe. */
void xfe_detach(struct xfe_dev *d, int timeout_ms);

void *xfe_priv(const struct xfe_dev *d);
grant_handle_t *xfe_h(const struct xfe_dev *d);
grant_xenbus_t *xfe_xb(const struct xfe_dev *d);
const char *xfe_dir(const struct xfe_dev *d);
const char *xfe_be_dir(const struct xfe_dev *d);
unsigned xfe_be_id(const struct xfe_dev *d);
int xfe_state(const struct xfe_dev *d);
int xfe_grant_ext(const struct xfe_dev *d);
unsigned xfe_nr_queues(const struct xfe_dev *d);
struct xfe_queue *xfe_queue(struct xfe_dev *d, unsigned q);
int xfe_notify(struct xfe_dev *d, unsigned q, unsigned which);
/* The backend's key as a decimal number of at most max, digits only (no
 * sign, space or trailing junk: "12abc" is malformed, not 12; see
 * xgt_parse_uint), read in transaction t: 1 and *out set, 0 when the key
 * is absent (*out untouched), -EPROTO when malformed or above max. */
int xfe_be_uint(struct xfe_dev *d, xs_transaction_t t, const char *key,
                unsigned long max, unsigned long *out);
/* The same for dir/key, before there is an xfe_dev (netfront reads the
 * backend's offer before xfe_attach). */
int xfe_read_uint(grant_xenbus_t *xb, xs_transaction_t t, const char *dir,
                  const char *key, unsigned long max, unsigned long *out);
/* xfe_notify without waiting for the hypervisor's answer
 * (grant_evtchn_notify_async): for a ring push, where nobody needs it;
 * an error shows on a later notify of the port. */
int xfe_kick(struct xfe_dev *d, unsigned q, unsigned which);

#endif
