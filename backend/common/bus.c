/* SPDX-License-Identifier: MIT */
/*
 * bus.c: finding devices.  The bus watches backend/<kind>; an event at the
 * root or at <root>/<fe> rescans that level, an event deeper names one
 * device (created on first sight, once the toolstack's links are there),
 * and an event under a frontend directory updates the devices whose
 * frontend it is.  Devices the state machine marked removed are freed at
 * the end of the dispatch that removed them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "private.h"

static struct xbe_dev *find(struct xbe *bus, unsigned fe, unsigned devid)
{
    unsigned i;

    for (i = 0; i < bus->nr_devs; i++)
        if (bus->devs[i]->fe_id == fe && bus->devs[i]->devid == devid)
            return bus->devs[i];
    return NULL;
}

static int add(struct xbe *bus, struct xbe_dev *d)
{
    if (bus->nr_devs == bus->cap_devs) {
        unsigned cap = bus->cap_devs ? bus->cap_devs * 2 : 8;
        struct xbe_dev **n = realloc(bus->devs, cap * sizeof(*n));

        if (!n)
            return -ENOMEM;
        bus->devs = n;
        bus->cap_devs = cap;
    }
    bus->devs[bus->nr_devs++] = d;
    return 0;
}

/* The device <root>/<fe>/<devid>: updated, or created on first sight. */
static void touch(struct xbe *bus, unsigned fe, unsigned devid)
{
    struct xbe_dev *d = find(bus, fe, devid);

    if (d) {
        xbe_dev_update(d);
        return;
    }
    if (bus->nr_devs >= XBE_MAX_DEVS)
        return;
    d = xbe_dev_new(bus, fe, devid);
    if (d && add(bus, d) < 0)
        xbe_dev_destroy(d);
}

/* Lists dir's children that are decimal numbers; calls fn on each. */
static void each_number(struct xbe *bus, const char *dir,
                        void (*fn)(struct xbe *bus, unsigned long n, void *a),
                        void *arg)
{
    unsigned i, num = 0;
    char **names = xs_directory(grant_xenbus_xs(bus->xb), XBT_NULL, dir, &num);
    unsigned long v;

    for (i = 0; names && i < num && i < XBE_MAX_DEVS; i++)
        if (xgt_parse_uint(names[i], 0, 0xffffffff, &v, NULL, 0) == 0)
            fn(bus, v, arg);
    free(names);
}

static void scan_devid(struct xbe *bus, unsigned long devid, void *arg)
{
    touch(bus, *(unsigned *)arg, (unsigned)devid);
}

static void scan_fe(struct xbe *bus, unsigned long fe, void *arg)
{
    char dir[GRANT_XENBUS_PATH_MAX];
    unsigned id = (unsigned)fe;

    (void)arg;
    if (fe > 0x7fef)
        return;
    if (xbe_path(dir, sizeof(dir), "%s/%u", bus->root, id) < 0)
        return;
    each_number(bus, dir, scan_devid, &id);
}

/* A path below the root: "<fe>", "<fe>/<devid>[/...]". */
static void backend_event(struct xbe *bus, const char *rel)
{
    char fe_s[16], dev_s[16];
    unsigned long fe, devid;
    int n = sscanf(rel, "%15[0-9]/%15[0-9]", fe_s, dev_s);

    if (n == 2 && xgt_parse_uint(fe_s, 0, 0x7fef, &fe, NULL, 0) == 0 &&
        xgt_parse_uint(dev_s, 0, 0xffffffff, &devid, NULL, 0) == 0)
        touch(bus, (unsigned)fe, (unsigned)devid);
    else if (n == 1 && xgt_parse_uint(fe_s, 0, 0x7fef, &fe, NULL, 0) == 0)
        scan_fe(bus, fe, NULL);
}

static void frontend_event(struct xbe *bus, const char *path)
{
    unsigned i;

    for (i = 0; i < bus->nr_devs; i++) {
        size_t n = strlen(bus->devs[i]->fe_dir);

        if (!strncmp(path, bus->devs[i]->fe_dir, n) &&
            (path[n] == '\0' || path[n] == '/'))
            xbe_dev_update(bus->devs[i]);
    }
}

static void reap(struct xbe *bus)
{
    unsigned i = 0;

    while (i < bus->nr_devs) {
        struct xbe_dev *d = bus->devs[i];

        if (!d->removed) {
            i++;
            continue;
        }
        bus->devs[i] = bus->devs[--bus->nr_devs];
        xbe_dev_destroy(d);
    }
}

static void handle(struct xbe *bus, const char *path)
{
    size_t n = strlen(bus->root);

    if (!strncmp(path, bus->root, n) && path[n] == '/')
        backend_event(bus, path + n + 1);
    else if (!strcmp(path, bus->root))
        each_number(bus, bus->root, scan_fe, NULL);
    else
        frontend_event(bus, path);
}

int xbe_dispatch(struct xbe *bus, int timeout_ms)
{
    char *path = NULL;
    int rc, count = 0;

    /* One event per xenbus read; a peer cannot keep us here: stop after a
     * batch and let the caller's loop come back. */
    while (count < 256) {
        rc = grant_xenbus_read_event(bus->xb, count ? 0 : timeout_ms, &path,
                                     NULL);
        if (rc <= 0)
            break;
        handle(bus, path);
        free(path);
        path = NULL;
        count++;
    }
    xbe_hotplug_expire(bus);
    reap(bus);
    return rc < 0 && count == 0 ? rc : count;
}

int xbe_open(struct xbe **out, const struct xbe_ops *ops, grant_handle_t *h,
             grant_xenbus_t *xb, unsigned self, void *priv)
{
    struct xbe *bus;
    int rc;

    *out = NULL;
    if (!ops || !ops->kind || !*ops->kind || strchr(ops->kind, '/') ||
        ops->nr_rings < 1 || ops->nr_rings > XBE_RINGS_PER_QUEUE ||
        ops->max_ring_order > XBE_MAX_RING_ORDER ||
        ops->max_queues > XBE_MAX_QUEUES || ops->hotplug < 0 ||
        ops->hotplug > XBE_HOTPLUG_ALWAYS || !h || !xb)
        return -EINVAL;
    bus = calloc(1, sizeof(*bus));
    if (!bus)
        return -ENOMEM;
    bus->ops = ops;
    bus->h = h;
    bus->xb = xb;
    bus->self = self;
    bus->priv = priv;
    bus->hotplug = xbe_hotplug_wanted(ops);
    rc = xbe_path(bus->root, sizeof(bus->root), "/local/domain/%u/backend/%s",
                  self, ops->kind);
    if (rc == 0)
        rc = grant_xenbus_watch(xb, bus->root, "xbe");
    if (rc < 0) {
        free(bus);
        return rc;
    }
    *out = bus;
    return 0;
}

void xbe_close(struct xbe *bus)
{
    unsigned i;

    if (!bus)
        return;
    for (i = 0; i < bus->nr_devs; i++) {
        xbe_disconnect(bus->devs[i]);
        grant_xenbus_switch_state(bus->xb, XBT_NULL, bus->devs[i]->dir,
                                  XenbusStateClosed);
        xbe_dev_destroy(bus->devs[i]);
    }
    grant_xenbus_unwatch(bus->xb, bus->root, "xbe");
    free(bus->devs);
    free(bus);
}

int xbe_fd(const struct xbe *bus)
{
    return grant_xenbus_fd(bus->xb);
}
unsigned xbe_count(const struct xbe *bus)
{
    return bus->nr_devs;
}

struct xbe_dev *xbe_dev_at(const struct xbe *bus, unsigned i)
{
    return i < bus->nr_devs ? bus->devs[i] : NULL;
}
