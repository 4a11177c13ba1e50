/* SPDX-License-Identifier: MIT */
/*
 * vbd.c: a virtual block device on the xenbus side, the keys in Linux
 * blkback's order (xenbus.c):
 *   probe (before InitWait): the image opened from `params`/`mode`,
 *     feature-max-indirect-segments (max-ring-page-order and
 *     multi-queue-max-queues come from the framework);
 *   connect (frontend Initialised): `protocol` checked, the frontend's
 *     feature-persistent read, a thread per queue started, then in the
 *     transaction that switches to Connected: feature-flush-cache,
 *     discard-granularity, discard-alignment, discard-secure,
 *     feature-discard, feature-barrier, feature-persistent, sectors,
 *     info, sector-size, physical-sector-size;
 *   disconnect: the threads stop once their I/O completed (every
 *     persistent grant unmapped), counters published;
 *   remove: the queues' handles and the image closed.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "private.h"

static struct bb_vbd *vbd_of(struct xbe_dev *d)
{
    return xbe_dev_priv(d);
}

static grant_xenbus_t *xb_of(struct xbe_dev *d)
{
    return xbe_xb(xbe_dev_bus(d));
}

/* dir/node as a string, or def (the caller frees). */
static char *read_key(struct xbe_dev *d, const char *dir, const char *node,
                      const char *def)
{
    char *v = NULL;

    if (grant_xenbus_read(xb_of(d), XBT_NULL, dir, node, &v, NULL) < 0)
        return def ? strdup(def) : NULL;
    return v;
}

static struct bb_vbd *vbd_new(struct xbe_dev *d)
{
    const struct bb_opts *o = xbe_priv(xbe_dev_bus(d));
    struct bb_vbd *v = calloc(1, sizeof(*v));
    unsigned i;

    if (!v)
        return NULL;
    v->d = d;
    v->o = o;
    v->img.fd = v->img.dfd = -1;
    for (i = 0; i < XBE_MAX_QUEUES; i++) {
        v->q[i].v = v;
        v->q[i].index = i;
        v->q[i].helper.sock = -1;
    }
    snprintf(v->name, sizeof(v->name), "vbd %u/%u", xbe_dev_fe_id(d),
             xbe_dev_devid(d));
    xbe_dev_set_priv(d, v);
    return v;
}

static int open_image(struct xbe_dev *d, struct bb_vbd *v)
{
    char *params = read_key(d, xbe_dev_dir(d), "params", NULL);
    char *mode = read_key(d, xbe_dev_dir(d), "mode", "w");
    char *dtype = read_key(d, xbe_dev_dir(d), "device-type", "disk");
    char *disc = read_key(d, xbe_dev_dir(d), "discard-enable", "1");
    char err[384];
    int rc;

    rc = bb_image_open(&v->img, params, mode, v->o->direct, strcmp(disc, "0"),
                       err, sizeof(err));
    if (rc < 0)
        xbe_fatal(d, rc, "%s", err);
    else if (!strcmp(dtype, "cdrom"))
        v->img.info |= VDISK_CDROM | VDISK_REMOVABLE;
    if (rc == 0)
        fprintf(stderr, "xgrant-blkback: %s: %s, %" PRIu64 " sectors%s%s\n",
                v->name, v->img.path, v->img.sectors,
                v->img.readonly ? ", read-only" : "",
                v->img.dfd >= 0 ? ", O_DIRECT" : "");
    free(params);
    free(mode);
    free(dtype);
    free(disc);
    return rc;
}

static int vbd_probe(struct xbe_dev *d, xs_transaction_t t)
{
    struct bb_vbd *v = vbd_of(d);
    int rc;

    if (!v && !(v = vbd_new(d)))
        return -ENOMEM;
    if (v->img.fd < 0) {
        rc = open_image(d, v);
        if (rc < 0)
            return rc;
    }
    rc = grant_xenbus_printf(xb_of(d), t, xbe_dev_dir(d),
                             "feature-max-indirect-segments", "%u",
                             BB_MAX_INDIRECT_SEGS);
    if (rc == 0 && v->o->io_helper && v->o->grant_ext)
        rc = grant_xenbus_write(xb_of(d), t, xbe_dev_dir(d),
                                "feature-grant-delegate", "1");
    return rc;
}

static grant_handle_t *vbd_queue_handle(struct xbe_dev *d, unsigned q)
{
    struct bb_vbd *v = vbd_of(d);
    int rc;

    if (!v || q >= XBE_MAX_QUEUES)
        return NULL;
    if (!v->q[q].h) {
        rc = grant_open(&v->q[q].h, 0);
        if (rc < 0) {
            fprintf(stderr, "xgrant-blkback: %s: queue %u handle: %s\n",
                    v->name, q, grant_strerror(rc));
            v->q[q].h = NULL;
        }
    }
    return v->q[q].h;
}

static const char *mode_name(const struct bb_vbd *v)
{
    if (v->ext && v->delegate && v->q[0].io_file >= 0)
        return "byte-exact grants (grant I/O by helper domains)";
    if (v->ext)
        return v->q[0].io_file >= 0 ? "byte-exact grants (grant I/O)"
                                    : "byte-exact grants (grant copy)";
    return v->persistent ? "persistent grants" : "standard grants (grant copy)";
}

/* The frontend's keys; the queues started.  Once per connection (the
 * transaction around connect may run it again). */
static int start(struct xbe_dev *d, struct bb_vbd *v)
{
    char *proto =
        read_key(d, xbe_dev_fe_dir(d), "protocol", XEN_IO_PROTO_ABI_NATIVE);
    char *pers = read_key(d, xbe_dev_fe_dir(d), "feature-persistent", "0");
    char *dlg = read_key(d, xbe_dev_fe_dir(d), "feature-grant-delegate", "0");
    unsigned i;
    int rc = 0;

    if (strcmp(proto, XEN_IO_PROTO_ABI_NATIVE))
        rc = xbe_fatal(d, -EINVAL, "protocol: %.64s not supported", proto);
    v->ext = xbe_dev_grant_ext(d);
    v->persistent = v->o->persistent && !v->ext && !strcmp(pers, "1");
    v->delegate = v->ext && v->o->io_helper && !strcmp(dlg, "1");
    free(proto);
    free(pers);
    free(dlg);
    v->nr_queues = xbe_dev_nr_queues(d);
    for (i = 0; rc == 0 && i < v->nr_queues; i++) {
        if (!v->q[i].h)
            rc = xbe_fatal(d, -ENOMEM, "queue %u: no grant handle", i);
        else if ((rc = bb_queue_start(&v->q[i], xbe_dev_queue(d, i))) < 0)
            xbe_fatal(d, rc, "queue %u: cannot start", i);
    }
    if (rc == 0) {
        v->started = 1;
        v->st.dirty_once = 1;
        fprintf(stderr,
                "xgrant-blkback: %s: connected, %u queue(s), %u-entry "
                "rings, %s\n",
                v->name, v->nr_queues, xbe_dev_queue(d, 0)->ring[0].nr_ents,
                mode_name(v));
    }
    return rc;
}

static int vbd_connect(struct xbe_dev *d, xs_transaction_t t)
{
    struct bb_vbd *v = vbd_of(d);
    grant_xenbus_t *xb = xb_of(d);
    const char *dir = xbe_dev_dir(d);
    const struct bb_image *img;
    int rc = 0;

    if (!v)
        return -ENODEV;
    if (!v->started && (rc = start(d, v)) < 0)
        return rc;
    img = &v->img;
    rc |= grant_xenbus_write(xb, t, dir, "feature-flush-cache", "1");
    if (img->discard) {
        rc |= grant_xenbus_printf(xb, t, dir, "discard-granularity", "%u",
                                  img->discard_gran);
        rc |= grant_xenbus_write(xb, t, dir, "discard-alignment", "0");
        rc |= grant_xenbus_write(xb, t, dir, "discard-secure", "0");
        rc |= grant_xenbus_write(xb, t, dir, "feature-discard", "1");
    }
    rc |= grant_xenbus_write(xb, t, dir, "feature-barrier", "1");
    rc |= grant_xenbus_printf(xb, t, dir, "feature-persistent", "%d",
                              v->o->persistent && !v->ext);
    rc |= grant_xenbus_printf(xb, t, dir, "sectors", "%" PRIu64, img->sectors);
    rc |= grant_xenbus_printf(xb, t, dir, "info", "%u", img->info);
    rc |= grant_xenbus_printf(xb, t, dir, "sector-size", "%u", BB_SECTOR);
    rc |= grant_xenbus_printf(xb, t, dir, "physical-sector-size", "%u",
                              img->phys_sect);
    return rc ? -EIO : 0;
}

static void vbd_disconnect(struct xbe_dev *d)
{
    struct bb_vbd *v = vbd_of(d);
    unsigned i;

    if (!v)
        return;
    for (i = 0; i < XBE_MAX_QUEUES; i++)
        bb_queue_stop(&v->q[i]); /* those started, even partly */
    if (!v->started)
        return;
    v->started = 0;
    v->st.dirty_once = 1;
    bb_stats_publish(&v->st, xb_of(d), xbe_dev_dir(d));
    fprintf(stderr, "xgrant-blkback: %s: disconnected\n", v->name);
}

static void vbd_remove(struct xbe_dev *d)
{
    struct bb_vbd *v = vbd_of(d);
    unsigned i;

    if (!v)
        return;
    for (i = 0; i < XBE_MAX_QUEUES; i++)
        grant_close(v->q[i].h);
    bb_image_close(&v->img);
    fprintf(stderr, "xgrant-blkback: %s: removed\n", v->name);
    free(v);
    xbe_dev_set_priv(d, NULL);
}

/* The queue's ring halted a second ago or more, its frontend alive: a
 * protocol error.  A dying frontend's ring reads as garbage (its pages
 * turn to scratch pages first): its device closes through the store
 * within that second, with no error. */
static int halted_long(struct bb_queue *q)
{
    struct timespec now;

    if (!__atomic_load_n(&q->halted, __ATOMIC_ACQUIRE) || q->peer_gone)
        return 0;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - q->halt_time.tv_sec) * 1000 +
               (now.tv_nsec - q->halt_time.tv_nsec) / 1000000 >=
           1000;
}

void bb_vbd_tick(struct xbe *bus, int publish)
{
    unsigned i, q;

    for (i = 0; i < xbe_count(bus); i++) {
        struct xbe_dev *d = xbe_dev_at(bus, i);
        struct bb_vbd *v = vbd_of(d);
        int halted = 0;

        if (!v || !v->started)
            continue;
        for (q = 0; q < v->nr_queues; q++)
            halted |= halted_long(&v->q[q]);
        if (halted)
            xbe_fatal(d, -EPROTO,
                      "ring: request producer index jumped past the ring");
        else if (publish)
            bb_stats_publish(&v->st, xbe_xb(bus), xbe_dev_dir(d));
    }
}

struct xbe_ops bb_xbe_ops = {
    .kind = "vbd",
    .nr_rings = 1,
    .ring = {{"ring-ref", sizeof(union blkif_sring_entry), 1}},
    .queue_handle = vbd_queue_handle,
    .hotplug = XBE_HOTPLUG_XEN, /* libxl's block script on Xen */
    .probe = vbd_probe,
    .connect = vbd_connect,
    .disconnect = vbd_disconnect,
    .remove = vbd_remove,
};
