/* SPDX-License-Identifier: MIT */
/*
 * create_dev.c: the store nodes of a guest's disks and interfaces, written
 * as libxl 4.17 writes them (tools/libs/light), so that a Xen frontend or
 * backend finds what it would find under xl:
 *
 *  - libxl_disk.c device_disk_add: the vbd backend and frontend entries;
 *  - libxl_nic.c libxl__set_xenstore_nic (+ libxl_device.c
 *    libxl__device_add_async): the vif entries;
 *  - libxl_device.c libxl__device_generic_add: the directories, their
 *    permissions, the frontend<->backend links and the /libxl copy.
 *
 * Every xgrant domain is treated as a PV guest of the host's native ABI
 * (so the vbd frontend gets "protocol", as libxl writes it for PV).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xen/io/protocols.h>

#include "cfg.h"
#include "private.h"

#define SCRIPT_DIR "/etc/xen/scripts" /* libxl__xen_script_dir_path */
#define KV_MAX     32

struct kvs {
    const char *k[KV_MAX];
    char *v[KV_MAX];
    unsigned n;
    int oom;
};

/* One device: its kind, ends and the three entry lists of generic_add. */
struct dev {
    const char *kind;
    char fe[16], be[16]; /* domain ids as text ("$DOMID" in a dry run) */
    unsigned devid;
    struct kvs back, front, ro_front;
};

static void kv_add(struct kvs *s, const char *k, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void kv_add(struct kvs *s, const char *k, const char *fmt, ...)
{
    va_list ap;
    char *v = NULL;
    int n;

    if (s->n == KV_MAX) {
        s->oom = 1;
        return;
    }
    va_start(ap, fmt);
    n = vasprintf(&v, fmt, ap);
    va_end(ap);
    if (n < 0) {
        s->oom = 1;
        return;
    }
    s->k[s->n] = k;
    s->v[s->n++] = v;
}

static void dev_free(struct dev *d)
{
    struct kvs *l[] = {&d->back, &d->front, &d->ro_front};
    unsigned i, j;

    for (i = 0; i < 3; i++)
        for (j = 0; j < l[i]->n; j++)
            free(l[i]->v[j]);
}

/* libxl__abs_path(script, libxl__xen_script_dir_path()). */
static void kv_script(struct kvs *s, const char *script)
{
    if (script[0] == '/')
        kv_add(s, "script", "%s", script);
    else
        kv_add(s, "script", "%s/%s", SCRIPT_DIR, script);
}

/* libxl_disk.c device_disk_add, backend phy, PV guest. */
static void disk_nodes(const struct xg_disk *d, struct dev *dev)
{
    struct kvs *b = &dev->back, *f = &dev->front;

    dev->kind = "vbd";
    dev->devid = d->devid;
    kv_add(b, "params", "%s", d->target);
    kv_script(b, d->script ? d->script : "block");
    kv_add(b, "frontend-id", "%s", dev->fe);
    kv_add(b, "online", "1");
    kv_add(b, "removable", "%d", d->removable ? 1 : 0);
    kv_add(b, "bootable", "1");
    kv_add(b, "state", "%d", XenbusStateInitialising);
    kv_add(b, "dev", "%s", d->vdev);
    kv_add(b, "type", "phy");
    kv_add(b, "mode", "%s", d->readwrite ? "w" : "r");
    kv_add(b, "device-type", "disk");
    if (d->direct_io_safe)
        kv_add(b, "direct-io-safe", "1");
    kv_add(b, "discard-enable", "%s", d->discard ? "1" : "0");
    kv_add(b, "specification", "xen");
    kv_add(f, "backend-id", "%s", dev->be);
    kv_add(f, "state", "%d", XenbusStateInitialising);
    kv_add(f, "virtual-device", "%u", d->devid);
    kv_add(f, "device-type", "disk");
    kv_add(f, "trusted", "1"); /* 4.17: disk->trusted defaults to true */
    kv_add(f, "protocol", "%s", XEN_IO_PROTO_ABI_NATIVE);
}

/* libxl__device_add_async's common entries + libxl__set_xenstore_nic. */
static void vif_nodes(const struct xg_vif *v, struct dev *dev)
{
    struct kvs *b = &dev->back, *f = &dev->front;
    const uint8_t *m = v->mac;
    char mac[18];

    dev->kind = "vif";
    dev->devid = v->devid;
    snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1],
             m[2], m[3], m[4], m[5]);
    kv_add(b, "frontend-id", "%s", dev->fe);
    kv_add(b, "online", "1");
    kv_add(b, "state", "%d", XenbusStateInitialising);
    kv_add(f, "backend-id", "%s", dev->be);
    kv_add(f, "state", "%d", XenbusStateInitialising);
    kv_script(b, v->script);
    if (v->vifname)
        kv_add(b, "vifname", "%s", v->vifname);
    kv_add(b, "mac", "%s", mac);
    if (v->ip)
        kv_add(b, "ip", "%s", v->ip);
    if (v->gatewaydev)
        kv_add(b, "gatewaydev", "%s", v->gatewaydev);
    if (v->mtu != 1500)
        kv_add(b, "mtu", "%u", v->mtu);
    kv_add(b, "bridge", "%s", v->bridge);
    kv_add(b, "handle", "%u", v->devid);
    kv_add(b, "type", "vif");
    kv_add(f, "handle", "%u", v->devid);
    kv_add(f, "mac", "%s", mac);
    kv_add(&dev->ro_front, "mtu", "%u", v->mtu);
    kv_add(b, "hotplug-status", "%s", "");
    kv_add(f, "trusted", "1"); /* 4.17: nic->trusted defaults to true */
}

/* ---- Writing: libxl_device.c libxl__device_generic_add --------------- */

struct paths {
    char fe[256], be[256], libxl[256], fe_perms[40], be_perms[40];
};

static void dev_paths(const struct dev *d, struct paths *p)
{
    snprintf(p->fe, sizeof(p->fe), "/local/domain/%s/device/%s/%u", d->fe,
             d->kind, d->devid);
    snprintf(p->be, sizeof(p->be), "/local/domain/%s/backend/%s/%s/%u", d->be,
             d->kind, d->fe, d->devid);
    snprintf(p->libxl, sizeof(p->libxl), "/libxl/%s/device/%s/%u", d->fe,
             d->kind, d->devid);
    /* frontend_perms: the guest owns, the backend reads; backend_perms and
     * ro_frontend_perms: the backend owns, the guest reads. */
    snprintf(p->fe_perms, sizeof(p->fe_perms), "n%s,r%s", d->fe, d->be);
    snprintf(p->be_perms, sizeof(p->be_perms), "n%s,r%s", d->be, d->fe);
}

/* libxl__xs_writev(_perms): each entry, then its permissions if given. */
static int writev(grant_xenbus_t *xb, xs_transaction_t t, const char *dir,
                  const struct kvs *l, const char *perms)
{
    unsigned i;
    int rc = 0;

    for (i = 0; i < l->n && rc == 0; i++) {
        rc = grant_xenbus_write(xb, t, dir, l->k[i], l->v[i]);
        if (rc == 0 && perms)
            rc = grant_xenbus_set_perms(xb, t, dir, l->k[i], perms);
    }
    return rc;
}

static int dir_fresh(grant_xenbus_t *xb, xs_transaction_t t, const char *dir,
                     const char *perms, const char *link, const char *to)
{
    int rc = grant_xenbus_rm(xb, t, dir, NULL);

    if (rc == 0)
        rc = grant_xenbus_mkdir(xb, t, dir, NULL);
    if (rc == 0)
        rc = grant_xenbus_set_perms(xb, t, dir, NULL, perms);
    if (rc == 0)
        rc = grant_xenbus_write(xb, t, dir, link, to);
    return rc;
}

static int generic_add(grant_xenbus_t *xb, xs_transaction_t t, void *arg)
{
    const struct dev *d = arg;
    struct paths p;
    int rc;

    dev_paths(d, &p);
    rc = grant_xenbus_rm(xb, t, p.libxl, NULL);
    if (rc == 0)
        rc = grant_xenbus_write(xb, t, p.libxl, "frontend", p.fe);
    if (rc == 0)
        rc = grant_xenbus_write(xb, t, p.libxl, "backend", p.be);
    if (rc == 0)
        rc = dir_fresh(xb, t, p.fe, p.fe_perms, "backend", p.be);
    if (rc == 0)
        rc = writev(xb, t, p.fe, &d->front, p.fe_perms);
    if (rc == 0)
        rc = writev(xb, t, p.fe, &d->ro_front, p.be_perms);
    if (rc == 0)
        rc = dir_fresh(xb, t, p.be, p.be_perms, "frontend", p.fe);
    if (rc == 0)
        rc = writev(xb, t, p.be, &d->back, NULL);
    if (rc == 0)
        rc = writev(xb, t, p.libxl, &d->back, NULL);
    return rc;
}

/* Builds device i of cfg (disks first, then interfaces).  In a dry run
 * the ids are not known: the guest shows as $DOMID, a driver domain as
 * $NAME (its backend= value). */
static int dev_build(const struct xg_cfg *cfg, unsigned i, const char *fe,
                     int dry, struct dev *d)
{
    const char *backend;
    unsigned be;

    memset(d, 0, sizeof(*d));
    snprintf(d->fe, sizeof(d->fe), "%s", fe);
    xg_dev_backend(cfg, i, &backend, &be);
    if (dry && backend)
        snprintf(d->be, sizeof(d->be), "$%s", backend);
    else
        snprintf(d->be, sizeof(d->be), "%u", be);
    if (i < cfg->nr_disks)
        disk_nodes(&cfg->disks[i], d);
    else
        vif_nodes(&cfg->vifs[i - cfg->nr_disks], d);
    return d->back.oom || d->front.oom || d->ro_front.oom ? -ENOMEM : 0;
}

int xg_devices_add(grant_xenbus_t *xb, const struct xg_cfg *cfg, unsigned domid)
{
    char fe[16];
    struct dev d;
    unsigned i;
    int rc = 0;

    snprintf(fe, sizeof(fe), "%u", domid);
    for (i = 0; i < cfg->nr_disks + cfg->nr_vifs && rc == 0; i++) {
        rc = dev_build(cfg, i, fe, 0, &d);
        if (rc == 0)
            rc = grant_xenbus_transact(xb, generic_add, &d, 0);
        if (rc < 0)
            xg_err("create", "cannot write the nodes of %s %u: %s", d.kind,
                   d.devid, strerror(-rc));
        dev_free(&d);
    }
    return rc;
}

void xg_dev_backend(const struct xg_cfg *cfg, unsigned i, const char **name,
                    unsigned *be)
{
    if (i < cfg->nr_disks) {
        *name = cfg->disks[i].backend;
        *be = cfg->disks[i].be;
    } else {
        *name = cfg->vifs[i - cfg->nr_disks].backend;
        *be = cfg->vifs[i - cfg->nr_disks].be;
    }
}

static void print_list(const char *dir, const struct kvs *l, const char *perms)
{
    unsigned i;

    for (i = 0; i < l->n; i++)
        printf("%s/%s = \"%s\"  (%s)\n", dir, l->k[i], l->v[i], perms);
}

void xg_devices_print(const struct xg_cfg *cfg)
{
    struct paths p;
    struct dev d;
    unsigned i;

    for (i = 0; i < cfg->nr_disks + cfg->nr_vifs; i++) {
        if (dev_build(cfg, i, "$DOMID", 1, &d) == 0) {
            dev_paths(&d, &p);
            printf("%s/backend = \"%s\"  (%s)\n", p.fe, p.be, p.fe_perms);
            print_list(p.fe, &d.front, p.fe_perms);
            print_list(p.fe, &d.ro_front, p.be_perms);
            printf("%s/frontend = \"%s\"  (%s)\n", p.be, p.fe, p.be_perms);
            print_list(p.be, &d.back, p.be_perms);
        }
        dev_free(&d);
    }
}
