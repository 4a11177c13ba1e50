/* SPDX-License-Identifier: MIT */
/*
 * cfg.h: an xl guest configuration file, as `xgrant create` reads it
 * (cfg.c, through Debian's libxlutil), and the store nodes libxl 4.17
 * writes for its devices (create_dev.c).
 */
#ifndef XGRANT_CFG_H
#define XGRANT_CFG_H

#include <netinet/in.h>
#include <stdint.h>

#include "libgrant_ctl.h"
#include "libgrant_xenbus.h"

/* One `disk = [...]` entry (xl-disk-configuration(5)). */
struct xg_disk {
    char *vdev;     /* as written: "xvda" */
    char *target;   /* the image (a regular file or a block device) */
    char *script;   /* NULL: "block" */
    char *backend;  /* backend=: the driver domain (name or id); NULL: 0 */
    unsigned be;    /* its domain id, once create has resolved it */
    unsigned devid; /* libxl's number for vdev: xvda -> 51712 */
    int readwrite, removable, direct_io_safe, discard;
};

/* One `vif = [...]` entry (xl-network-configuration(5)). */
struct xg_vif {
    unsigned devid; /* its index in the list, as xl numbers them */
    uint8_t mac[6];
    char *bridge, *script, *ip, *vifname, *gatewaydev;
    char *backend; /* backend=: the driver domain (name or id); NULL: 0 */
    unsigned be;   /* its domain id, once create has resolved it */
    unsigned mtu;
};

struct xg_cfg {
    const char *file;
    char *name;
    uint64_t memory_bytes; /* `memory`, MiB in the file */
    char **argv;           /* `program`, NULL-terminated */
    struct xg_disk *disks;
    unsigned nr_disks;
    struct xg_vif *vifs;
    unsigned nr_vifs;
};

/* cfg.c */
/* Parses `file` and then the KEY=VALUE overrides (xl create's extra
 * arguments, which win).  0, or -1 with every problem printed as
 * "FILE:LINE: key 'KEY': what" (or the libxlutil syntax error). */
int xg_cfg_load(const char *file, char **overrides, int nr_overrides,
                struct xg_cfg *cfg);
void xg_cfg_free(struct xg_cfg *cfg);
/* 1 if s can name a domain: [A-Za-z0-9_.-]{1,31} (a decimal id too). */
int xg_cfg_domain_name(const char *s);
/* libxl__device_disk_dev_number's rule: the devid of a virtual disk name
 * (xvdX[N], hdX[N], sdX[N], dNpN, or a plain number), or -1. */
long xg_vdev_devid(const char *vdev);

/* cfg_vif.c */
/* Parses one vif spec into v (defaults filled in); 0, or -1 with the reason
 * in err. */
int xg_cfg_vif_parse(const char *spec, struct xg_vif *v, char *err,
                     size_t errlen);
/* The first address of an ip= value, "a.b.c.d[/len]" (/24 by default):
 * the guest's interface address.  0 or -1. */
int xg_cfg_ip_parse(const char *ip, struct in_addr *addr, struct in_addr *mask);

/* create_dev.c */
/* Writes the frontend, backend and /libxl nodes of every device of cfg for
 * domain `domid`, as libxl 4.17 does (one transaction per device).
 * 0 or -errno (message printed). */
int xg_devices_add(grant_xenbus_t *xb, const struct xg_cfg *cfg,
                   unsigned domid);
/* Device i of cfg (disks first, then interfaces): its backend= value
 * (NULL: domain 0) and the backend's domain id. */
void xg_dev_backend(const struct xg_cfg *cfg, unsigned i, const char **name,
                    unsigned *be);
/* Prints the nodes xg_devices_add would write, domid shown as $DOMID (a
 * driver domain as $NAME). */
void xg_devices_print(const struct xg_cfg *cfg);

/* create_destroy.c */
/* Closes and removes every device of `domid` (found under /libxl/<domid>),
 * then /libxl/<domid>.  A backend still Initialising gets the probe grace
 * (XGRANT_PROBE_GRACE_MS) unless `probed` says the probes were already
 * waited for (a failed create).  0, or -1 when something could not be
 * removed (printed; the rest is still done). */
int xg_devices_remove(grant_xenbus_t *xb, unsigned domid, int probed);

/* create_backend.c */
/* 1 when XGRANT_BACKENDS=none: nodes only, no daemon started or awaited. */
int xg_backends_none(void);
/* Resolves every device's backend= to a domain id (cfg's `be` fields),
 * starting a driver domain that does not exist yet.  0 or -1 (printed). */
int xg_backends_resolve(grant_handle_t *h, struct xg_cfg *cfg);
/* Writes the devices' nodes (xg_devices_add) and starts the domain-0
 * daemons they need that do not run yet.  0 or -1 (printed). */
int xg_backends_add(grant_xenbus_t *xb, const struct xg_cfg *cfg,
                    unsigned domid);
/* Waits for every device's backend to reach InitWait (libxl's 10 s,
 * XGRANT_INIT_TIMEOUT_MS).  0, or -1 naming the device (printed). */
int xg_backends_wait(grant_handle_t *h, grant_xenbus_t *xb,
                     const struct xg_cfg *cfg, unsigned domid);
/* Stops the domain-0 daemons create started that serve no device any
 * more (every one of them with all = 1; xb may then be NULL). */
void xg_backends_stop_idle(grant_xenbus_t *xb, int all);

/* The path of driver `name` (xgrant-blkback): $env if set, else next to
 * this binary; 0 or -errno (not there, not executable). */
int xg_driver_bin(const char *name, const char *env, char *buf, size_t len);
/* <the directory of xgrantd's socket>/<name><suffix>: pid files, logs. */
void xg_run_file(const char *name, const char *suffix, char *buf, size_t len);

/* create_netfront.c */
/* As root, for each vif: the TAP eth<devid> in the domain's network
 * namespace and xgrant-netfront started as a process of the domain.
 * 0, or -1 (printed). */
int xg_netfronts_start(grant_handle_t *h, const struct xg_cfg *cfg,
                       unsigned domid);

/* create_reap.c */
/* Leaves a detached process that removes the domain's device nodes once it
 * dies by itself (xl create's per-domain process does the same). */
void xg_reap_later(unsigned domid);

#endif /* XGRANT_CFG_H */
