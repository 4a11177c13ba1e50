/* SPDX-License-Identifier: MIT */
/*
 * create_destroy.c: tearing down the devices of a guest before the domain
 * goes, in the order Xen's toolstack and drivers expect:
 *
 *   1. backend "online" = 0 (libxl's device removal: the backend may go
 *      away once Closed);
 *   2. frontend "state" = Closing (5): the guest is going;
 *   3. wait (up to XG_DEVICE_CLOSE_MS, libxl's LIBXL_DESTROY_TIMEOUT, for
 *      steps 3 and 4 together) for the backend to answer Closing (5) (or
 *      Closed).  A backend still in Initialising (1) has no driver attached
 *      yet (a Xen backend moves to InitWait as soon as it probes), but its
 *      driver may still be probing: it gets a grace period
 *      (XG_PROBE_GRACE_MS, libxl's time for a backend to reach InitWait;
 *      XGRANT_PROBE_GRACE_MS overrides it), counted from the start of the
 *      teardown and shared by every device of the domain.  A backend that
 *      leaves Initialising within it is waited for like any other; one
 *      still Initialising at its end has no driver coming, and this CLI,
 *      acting as the toolstack, moves it to Closed itself (checked and
 *      written in one transaction, so a probe that lands at that moment is
 *      not undone);
 *   4. frontend "state" = Closed (6) (what the guest's frontend answers to
 *      a backend Closing; the guest is going, so the toolstack writes it
 *      when the guest has not), and wait for the backend to reach Closed;
 *      with online = 0 its driver then drops the device;
 *   5. remove the frontend directory, the /libxl copy and the backend
 *      directory, and then the parents they leave empty
 *      (libxl_device.c libxl__device_destroy, libxl__xs_path_cleanup);
 *   6. a vif served by domain 0: its interface in this network namespace
 *      (vif<domid>.<devid> or its vifname), which the closed backend
 *      removes, is removed here if still there a second later (the guest's
 *      own eth<devid> goes with the guest's network namespace).
 *
 * The devices are found as libxl finds them: /libxl/<domid>/device/<kind>/
 * <devid>/{frontend,backend} (libxl_device.c libxl__devices_destroy).
 */
#include <errno.h>
#include <net/if.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cfg.h"
#include "private.h"

#define XG_DEVICE_CLOSE_MS 10000 /* libxl's LIBXL_DESTROY_TIMEOUT */
#define XG_PROBE_GRACE_MS  10000 /* libxl's LIBXL_INIT_TIMEOUT */
#define XG_IFACE_GONE_MS   1000
#define XG_REASSERT_MS     500 /* see wait_backend */
#define XG_PROBE_GRACE_ENV "XGRANT_PROBE_GRACE_MS"
#define CLOSING            GRANT_XENBUS_MASK(XenbusStateClosing)
#define GONE                                                                   \
    (GRANT_XENBUS_MASK(XenbusStateClosed) |                                    \
     GRANT_XENBUS_MASK(XenbusStateUnknown))
/* Every XenbusState but Initialising: what a probed backend may be in. */
#define XG_PROBED                                                              \
    (((GRANT_XENBUS_MASK(XenbusStateReconfigured) << 1) - 1) &                 \
     ~GRANT_XENBUS_MASK(XenbusStateInitialising))

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Removes path, then each parent that is left an empty directory. */
static int path_cleanup(grant_xenbus_t *xb, xs_transaction_t t, char *path)
{
    struct xs_handle *xs = grant_xenbus_xs(xb);
    int rc = grant_xenbus_rm(xb, t, path, NULL);
    char *slash, *val, **ents;
    unsigned n, len;

    while (rc == 0 && (slash = strrchr(path, '/')) && slash != path) {
        *slash = '\0';
        ents = xs_directory(xs, t, path, &n);
        val = ents ? xs_read(xs, t, path, &len) : NULL;
        free(ents);
        free(val);
        if (!ents || n || !val || len)
            break;
        rc = grant_xenbus_rm(xb, t, path, NULL);
    }
    return rc;
}

struct ends {
    char fe[GRANT_XENBUS_PATH_MAX], be[GRANT_XENBUS_PATH_MAX],
        libxl[GRANT_XENBUS_PATH_MAX];
};

static int remove_nodes(grant_xenbus_t *xb, xs_transaction_t t, void *arg)
{
    struct ends e = *(const struct ends *)arg; /* cleanup cuts the paths */
    int rc = e.fe[0] ? path_cleanup(xb, t, e.fe) : 0;

    if (rc == 0)
        rc = path_cleanup(xb, t, e.libxl);
    if (rc == 0 && e.be[0])
        rc = path_cleanup(xb, t, e.be);
    return rc;
}

static int close_if_initialising(grant_xenbus_t *xb, xs_transaction_t t,
                                 void *be)
{
    int state, rc = grant_xenbus_read_state(xb, t, be, &state);

    if (rc < 0 || state != XenbusStateInitialising)
        return rc;
    return grant_xenbus_switch_state(xb, t, be, XenbusStateClosed);
}

/* Step 3's grace for a backend in Initialising: waits until grace_end
 * (CLOCK_MONOTONIC ms) for it to probe, then closes it if it has not. */
static int close_unprobed(grant_xenbus_t *xb, char *be, int64_t grace_end,
                          int *state)
{
    int64_t left = grace_end - now_ms();
    int rc = grant_xenbus_wait_states(xb, be, XG_PROBED,
                                      left > 0 ? (int)left : 0, state);

    if (rc != -ETIMEDOUT)
        return rc;
    return grant_xenbus_transact(xb, close_if_initialising, be, 0);
}

/* Waits until `end` for the backend to reach a state of `mask`, holding
 * the frontend at `fe_state` meanwhile: a live frontend finishing its own
 * handshake may write over the toolstack's state (the guest is going all
 * the same), so every XG_REASSERT_MS it is written again if it fell
 * below. */
static int wait_backend(grant_xenbus_t *xb, const struct ends *e, unsigned mask,
                        int fe_state, int64_t end, int *state)
{
    int64_t left;
    int rc, fe;

    for (;;) {
        left = end - now_ms();
        rc = grant_xenbus_wait_states(
            xb, e->be, mask,
            left < XG_REASSERT_MS ? (int)(left > 0 ? left : 0) : XG_REASSERT_MS,
            state);
        if (rc != -ETIMEDOUT || left <= XG_REASSERT_MS || !e->fe[0])
            return rc;
        if (grant_xenbus_read_state(xb, XBT_NULL, e->fe, &fe) == 0 &&
            fe != XenbusStateUnknown && fe < fe_state)
            grant_xenbus_switch_state(xb, XBT_NULL, e->fe, fe_state);
    }
}

/* Steps 1 to 4 for one device; the backend's final state in *state. */
static int close_device(grant_xenbus_t *xb, struct ends *e, int64_t grace_end,
                        int *state)
{
    int64_t end;
    int rc;

    *state = XenbusStateUnknown;
    if (!e->be[0])
        return 0;
    rc = grant_xenbus_read_state(xb, XBT_NULL, e->be, state);
    if (rc < 0 || *state == XenbusStateUnknown)
        return rc; /* no backend directory: nothing to close */
    rc = grant_xenbus_write(xb, XBT_NULL, e->be, "online", "0");
    if (rc == 0 && e->fe[0]) {
        rc = grant_xenbus_switch_state(xb, XBT_NULL, e->fe, XenbusStateClosing);
        rc = rc == -ENOENT ? 0 : rc; /* the guest removed its "state" */
    }
    if (rc == 0 && *state == XenbusStateInitialising)
        rc = close_unprobed(xb, e->be, grace_end, state);
    if (rc < 0)
        return rc;
    end = now_ms() + XG_DEVICE_CLOSE_MS;
    rc = wait_backend(xb, e, GONE | CLOSING, XenbusStateClosing, end, state);
    if (rc < 0 || *state != XenbusStateClosing || !e->fe[0])
        return rc;
    /* The backend answered Closing: the frontend would now close; the
     * guest is going, so the toolstack closes it for the guest. */
    rc = grant_xenbus_switch_state(xb, XBT_NULL, e->fe, XenbusStateClosed);
    if (rc < 0 && rc != -ENOENT)
        return rc;
    return wait_backend(xb, e, GONE, XenbusStateClosed, end, state);
}

static void read_link(grant_xenbus_t *xb, const char *dir, const char *node,
                      char *buf, size_t len)
{
    char *v = NULL;

    buf[0] = '\0';
    if (grant_xenbus_read(xb, XBT_NULL, dir, node, &v, NULL) == 0 &&
        v[0] == '/')
        snprintf(buf, len, "%s", v);
    free(v);
}

/* The interface a vif's backend in domain 0 has in this network namespace
 * (its vifname, else vif<domid>.<devid>, as Linux's netback names it), or
 * "" for any other device. */
static void vif_ifname(grant_xenbus_t *xb, const char *be, char *buf,
                       size_t len)
{
    unsigned fe, devid;
    char *v = NULL;
    int used = 0;

    buf[0] = '\0';
    if (sscanf(be, "/local/domain/0/backend/vif/%u/%u%n", &fe, &devid, &used) !=
            2 ||
        be[used])
        return;
    if (grant_xenbus_read(xb, XBT_NULL, be, "vifname", &v, NULL) == 0 && *v &&
        strlen(v) < IFNAMSIZ && !strchr(v, '/'))
        snprintf(buf, len, "%s", v);
    else
        snprintf(buf, len, "vif%u.%u", fe, devid);
    free(v);
}

/* A closed backend's driver removes its interface; one still there after
 * XG_IFACE_GONE_MS is removed here (`ip link delete`), and said. */
static void iface_remove(const char *name)
{
    char *argv[] = {"ip", "link", "delete", (char *)name, NULL};
    int waited, status = -1;
    pid_t pid;

    for (waited = 0; waited < XG_IFACE_GONE_MS && if_nametoindex(name);
         waited += 20)
        nanosleep(&(struct timespec){0, 20000000}, NULL);
    if (!if_nametoindex(name))
        return;
    if (posix_spawnp(&pid, "ip", NULL, NULL, argv, environ) == 0)
        waitpid(pid, &status, 0);
    if (status == 0)
        fprintf(stderr,
                "xgrant: destroy: removed interface %s (its backend "
                "left it)\n",
                name);
    else
        xg_err("destroy", "interface %s is left: 'ip link delete %s' failed",
               name, name);
}

static int remove_device(grant_xenbus_t *xb, const char *libxl_dir,
                         int64_t grace_end)
{
    char ifname[IFNAMSIZ + 16];
    struct ends e;
    int rc, state;

    snprintf(e.libxl, sizeof(e.libxl), "%s", libxl_dir);
    read_link(xb, libxl_dir, "frontend", e.fe, sizeof(e.fe));
    read_link(xb, libxl_dir, "backend", e.be, sizeof(e.be));
    vif_ifname(xb, e.be, ifname, sizeof(ifname));
    rc = close_device(xb, &e, grace_end, &state);
    if (rc == -ETIMEDOUT)
        xg_err("destroy",
               "backend %s did not close within %d s (state %s); removing "
               "it anyway",
               e.be, XG_DEVICE_CLOSE_MS / 1000, grant_xenbus_state_name(state));
    else if (rc < 0)
        xg_err("destroy", "closing %s: %s; removing it anyway", e.be,
               strerror(-rc));
    rc = grant_xenbus_transact(xb, remove_nodes, &e, 0);
    if (rc < 0)
        xg_err("destroy", "cannot remove the nodes of %s: %s", libxl_dir,
               strerror(-rc));
    if (ifname[0])
        iface_remove(ifname);
    return rc;
}

/* Every device of one kind under /libxl/<domid>/device/<kind>. */
static int remove_kind(grant_xenbus_t *xb, const char *kdir, int64_t grace_end)
{
    char **devs, path[GRANT_XENBUS_PATH_MAX];
    unsigned n, i;
    int rc = 0;

    devs = xs_directory(grant_xenbus_xs(xb), XBT_NULL, kdir, &n);
    for (i = 0; devs && i < n; i++) {
        int len = snprintf(path, sizeof(path), "%s/%s", kdir, devs[i]);

        if (len < 0 || (size_t)len >= sizeof(path) ||
            remove_device(xb, path, grace_end) < 0)
            rc = -1;
    }
    free(devs);
    return rc;
}

/* Backend directories of domid under backend domain `be` that no /libxl
 * entry leads to any more: xgrantd removes /libxl/<domid> with the domain,
 * so a guest that died by itself leaves only these. */
static int remove_orphans_of(grant_xenbus_t *xb, const char *be, unsigned domid)
{
    char base[128], path[GRANT_XENBUS_PATH_MAX], **kinds, **devs;
    unsigned n, i, ndevs;
    int rc = 0;

    snprintf(base, sizeof(base), "/local/domain/%s/backend", be);
    kinds = xs_directory(grant_xenbus_xs(xb), XBT_NULL, base, &n);
    for (i = 0; kinds && i < n; i++) {
        int len =
            snprintf(path, sizeof(path), "%s/%s/%u", base, kinds[i], domid);

        if (len < 0 || (size_t)len >= sizeof(path)) {
            rc = -1;
            continue;
        }
        devs = xs_directory(grant_xenbus_xs(xb), XBT_NULL, path, &ndevs);
        if (devs && path_cleanup(xb, XBT_NULL, path) < 0)
            rc = -1;
        free(devs);
    }
    free(kinds);
    return rc;
}

/* ... in every domain that serves backends (domain 0, driver domains). */
static int remove_orphan_backends(grant_xenbus_t *xb, unsigned domid)
{
    char **doms;
    unsigned n, i;
    int rc = 0;

    doms = xs_directory(grant_xenbus_xs(xb), XBT_NULL, "/local/domain", &n);
    for (i = 0; doms && i < n; i++)
        if (remove_orphans_of(xb, doms[i], domid) < 0)
            rc = -1;
    free(doms);
    return rc;
}

int xg_devices_remove(grant_xenbus_t *xb, unsigned domid, int probed)
{
    char base[64], kdir[GRANT_XENBUS_PATH_MAX], **kinds;
    int64_t grace_end =
        now_ms() +
        (probed ? 0
                : xg_env_ms("destroy", XG_PROBE_GRACE_ENV, XG_PROBE_GRACE_MS));
    unsigned n, i;
    int rc = 0;

    snprintf(base, sizeof(base), "/libxl/%u/device", domid);
    kinds = xs_directory(grant_xenbus_xs(xb), XBT_NULL, base, &n);
    for (i = 0; kinds && i < n; i++) {
        int len = snprintf(kdir, sizeof(kdir), "%s/%s", base, kinds[i]);

        if (len < 0 || (size_t)len >= sizeof(kdir) ||
            remove_kind(xb, kdir, grace_end) < 0)
            rc = -1;
    }
    free(kinds);
    snprintf(base, sizeof(base), "/libxl/%u", domid);
    if (grant_xenbus_rm(xb, XBT_NULL, base, NULL) < 0)
        rc = -1;
    if (remove_orphan_backends(xb, domid) < 0)
        rc = -1;
    return rc;
}

int xg_devices_teardown(unsigned domid)
{
    grant_xenbus_t *xb;
    int rc = grant_xenbus_open(&xb, 0);

    if (rc == -ENOENT || rc == -ECONNREFUSED)
        return 0; /* no store: no device nodes */
    if (rc < 0) {
        xg_err("destroy", "cannot open the store: %s", strerror(-rc));
        return -1;
    }
    rc = xg_devices_remove(xb, domid, 0);
    xg_backends_stop_idle(xb, 0);
    grant_xenbus_close(xb);
    return rc;
}
