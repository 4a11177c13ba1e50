/* SPDX-License-Identifier: MIT */
/* private.h: the backend framework's internals (xbe.h is the contract). */
#ifndef XBE_PRIVATE_H
#define XBE_PRIVATE_H

#include "tools/common/xgt.h"
#include "xbe.h"

#define XBE_MAX_DEVS 4096u /* devices one bus holds */

struct xbe_dev {
    struct xbe *bus;
    char dir[GRANT_XENBUS_PATH_MAX];    /* backend directory */
    char fe_dir[GRANT_XENBUS_PATH_MAX]; /* frontend directory */
    unsigned fe_id, devid;
    int state;             /* what we last wrote */
    int fe_seen;           /* the frontend's state was read as a real state */
    int connected;         /* rings (being) mapped: xbe_disconnect undoes */
    int drv;               /* the driver's connect succeeded */
    int grant_ext;         /* refs are extension grants */
    int removed;           /* dropped from the bus, waiting to be freed */
    int hp_ok;             /* hotplug-status connected (or not waited for) */
    long long hp_deadline; /* ms (CLOCK_MONOTONIC): the script's time */
    unsigned nr_queues;
    struct xbe_queue q[XBE_MAX_QUEUES];
    void *priv;
};

struct xbe {
    const struct xbe_ops *ops;
    grant_handle_t *h;
    grant_xenbus_t *xb;
    unsigned self;
    char root[GRANT_XENBUS_PATH_MAX]; /* /local/domain/<self>/backend/<kind> */
    struct xbe_dev **devs;
    unsigned nr_devs, cap_devs;
    void *priv;
    int hotplug; /* devices wait for hotplug-status (ops.hotplug here) */
};

/* device.c */
struct xbe_dev *xbe_dev_new(struct xbe *bus, unsigned fe, unsigned devid);
void xbe_dev_update(struct xbe_dev *d);
void xbe_dev_destroy(struct xbe_dev *d);

/* hotplug.c: ops.hotplug resolved for this host; a device's clock
 * started (at InitWait); 1 when it may connect, 0 while it waits, -1 when
 * it was closed (the script failed or never answered); the devices whose
 * time ran out closed. */
int xbe_hotplug_wanted(const struct xbe_ops *ops);
void xbe_hotplug_arm(struct xbe_dev *d);
int xbe_hotplug_ready(struct xbe_dev *d);
void xbe_hotplug_expire(struct xbe *bus);

/* connect.c */
int xbe_connect_rings(struct xbe_dev *d);
void xbe_disconnect(struct xbe_dev *d);

/* snprintf into a path buffer: 0, or -ENAMETOOLONG. */
int xbe_path(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
