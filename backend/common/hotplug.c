/* SPDX-License-Identifier: MIT */
/*
 * hotplug.c: waiting for the toolstack's hotplug script before Connected
 * (ops.hotplug).  On Xen, libxl runs the device's script (block,
 * vif-bridge, ...) once the backend is in InitWait, for up to 40 s
 * (LIBXL_HOTPLUG_TIMEOUT); the script ends by writing `hotplug-status` =
 * "connected" in the backend directory, or "error" with its reason in
 * `hotplug-error`.  Linux's netback switches to Connected only after
 * "connected" (its blkback waits for the script's physical-device), so
 * the device is not used before the script set it up (the bridge, the
 * block device's checks).  Under xgrantd no script runs: xgrant's
 * toolstack writes none (an empty `hotplug-status` for a vif, which
 * xgrant-netback fills itself), so the wait is Xen's only
 * (XBE_HOTPLUG_XEN).
 *
 * The clock starts at InitWait; the node is read on every event of the
 * device (the bus watches the backend directory, so the script's write is
 * one), and xbe_dispatch closes the devices whose time ran out.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "private.h"

#define XBE_HOTPLUG_TIMEOUT_MS 40000u /* LIBXL_HOTPLUG_TIMEOUT */

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000ll + ts.tv_nsec / 1000000;
}

int xbe_hotplug_wanted(const struct xbe_ops *ops)
{
    const char *tr = getenv("XGRANT_TRANSPORT"); /* libgrant's choice */

    return ops->hotplug == XBE_HOTPLUG_ALWAYS ||
           (ops->hotplug == XBE_HOTPLUG_XEN && tr && !strcmp(tr, "xen"));
}

void xbe_hotplug_arm(struct xbe_dev *d)
{
    unsigned ms = d->bus->ops->hotplug_timeout_ms;

    d->hp_ok = !d->bus->hotplug;
    d->hp_deadline = now_ms() + (ms ? ms : XBE_HOTPLUG_TIMEOUT_MS);
}

int xbe_hotplug_ready(struct xbe_dev *d)
{
    char *st = NULL, *why = NULL;
    int rc;

    if (d->hp_ok)
        return 1;
    grant_xenbus_read(d->bus->xb, XBT_NULL, d->dir, "hotplug-status", &st,
                      NULL);
    if (st && !strcmp(st, "connected")) {
        d->hp_ok = 1;
        rc = 1;
    } else if (st && !strcmp(st, "error")) {
        grant_xenbus_read(d->bus->xb, XBT_NULL, d->dir, "hotplug-error", &why,
                          NULL);
        xbe_fatal(d, -EIO, "hotplug script failed: %s",
                  why ? why : "(no hotplug-error)");
        rc = -1;
    } else if (now_ms() >= d->hp_deadline) {
        xbe_fatal(d, -ETIMEDOUT,
                  "hotplug-status not \"connected\" within %lld ms of "
                  "InitWait (is the hotplug script running?)",
                  (long long)(d->bus->ops->hotplug_timeout_ms
                                  ? d->bus->ops->hotplug_timeout_ms
                                  : XBE_HOTPLUG_TIMEOUT_MS));
        rc = -1;
    } else {
        rc = 0;
    }
    free(st);
    free(why);
    return rc;
}

static int waiting(const struct xbe_dev *d)
{
    return !d->hp_ok && !d->removed && d->state == XenbusStateInitWait;
}

void xbe_hotplug_expire(struct xbe *bus)
{
    long long now = now_ms();
    unsigned i;

    for (i = 0; bus->hotplug && i < bus->nr_devs; i++)
        if (waiting(bus->devs[i]) && now >= bus->devs[i]->hp_deadline)
            xbe_hotplug_ready(bus->devs[i]);
}

int xbe_timeout_ms(const struct xbe *bus)
{
    long long now = now_ms(), left = -1;
    unsigned i;

    for (i = 0; bus->hotplug && i < bus->nr_devs; i++) {
        const struct xbe_dev *d = bus->devs[i];
        long long l = d->hp_deadline - now;

        if (waiting(d) && (left < 0 || l < left))
            left = l < 0 ? 0 : l;
    }
    return left > 0x7fffffff ? 0x7fffffff : (int)left;
}
