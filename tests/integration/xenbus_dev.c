/* SPDX-License-Identifier: MIT */
/*
 * xenbus_dev: the driver frameworks (backend/common xbe, frontend/common
 * xfe) on a private xgrantd, with a toy "xtest" device whose backend
 * answers each request's value plus one.
 *
 * Domain 0 runs the backend bus and plays the toolstack (writes both
 * device directories as libxl does).  Guests run this binary in a role:
 * "front" is a well-behaved frontend on xfe (two queues, a batch of
 * requests echoed on each, then a clean detach); each "evil" role breaks
 * one rule of the handshake or the ring.  For every evil case the backend
 * must move that device to Closing with the reason in its `error` node,
 * and the good device must keep echoing throughout.  "v1front" connects
 * as stock Linux does, on standard (v1) grants.  A frontend that dies
 * mid-connection leaves no mapping behind in domain 0.  A bus waiting for
 * hotplug scripts (ops.hotplug, as on Xen) holds InitWait until
 * `hotplug-status` is "connected", and closes the device with the reason
 * on "error" or at its timeout.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/devtest.h"
#include "common/itest.h"
#include "common/toolstack.h"
#include "libgrant_xenbus.h"
#include "xbe.h"
#include "xfe.h"

struct xt_req {
    uint64_t id;
    uint32_t val;
};
struct xt_rsp {
    uint64_t id;
    uint32_t val;
};
DEFINE_RING_TYPES(xt, struct xt_req, struct xt_rsp);

#define KIND  "xtest"
#define BATCH 100

/* ---- The backend (domain 0) -------------------------------------------- */

static int be_probe(struct xbe_dev *d, xs_transaction_t t)
{
    return grant_xenbus_write(xbe_xb(xbe_dev_bus(d)), t, xbe_dev_dir(d),
                              "feature-echo", "1");
}

static int be_connect(struct xbe_dev *d, xs_transaction_t t)
{
    return grant_xenbus_write(xbe_xb(xbe_dev_bus(d)), t, xbe_dev_dir(d),
                              "echo-ready", "1");
}

static const struct xbe_ops be_ops = {
    .kind = KIND,
    .nr_rings = 1,
    .ring = {{"ring-ref", sizeof(union xt_sring_entry), 1}},
    .max_ring_order = 2,
    .max_queues = 2,
    .grant_ext = 1,
    .probe = be_probe,
    .connect = be_connect,
};

/* Answers every request of every connected device. */
static void be_serve(struct xbe *bus)
{
    unsigned i, q;

    for (i = 0; i < xbe_count(bus); i++) {
        struct xbe_dev *d = xbe_dev_at(bus, i);

        for (q = 0; q < xbe_dev_nr_queues(d); q++) {
            struct xbe_queue *xq = xbe_dev_queue(d, q);
            union xt_sring_entry e;
            int rc;

            if (!xq)
                continue;
            while ((rc = xbe_ring_take(&xq->ring[0], &e)) == 1) {
                struct xt_rsp *rsp = xbe_ring_rsp_slot(&xq->ring[0]);

                rsp->id = e.req.id; /* field by field, in the slot */
                rsp->val = e.req.val + 1;
                xbe_ring_rsp_done(&xq->ring[0]);
            }
            if (rc < 0) {
                xbe_fatal(d, rc, "ring: request index out of range");
                break;
            }
            if (xbe_ring_push(&xq->ring[0]))
                xbe_notify(d, q, 0);
        }
    }
}

/* Runs the backend for up to ms, or until done(arg) says so. */
static void pump(struct xbe *bus, int ms, int (*done)(void *), void *arg)
{
    long long end = itest_ms() + ms;
    struct pollfd p = {.fd = xbe_fd(bus), .events = POLLIN};

    while (itest_ms() < end && !(done && done(arg))) {
        poll(&p, 1, 5);
        xbe_dispatch(bus, 0);
        be_serve(bus);
    }
}

static grant_xenbus_t *xb0;

struct want_state {
    const char *dir;
    int state;
};

static int reached(void *arg)
{
    struct want_state *w = arg;
    int st = -1;

    grant_xenbus_read_state(xb0, XBT_NULL, w->dir, &st);
    return st == w->state;
}

/* Closing, or Closed already (the frontend followed it). */
static int closing(void *be_dir)
{
    int st = -1;

    grant_xenbus_read_state(xb0, XBT_NULL, be_dir, &st);
    return st == XenbusStateClosing || st == XenbusStateClosed;
}

static void spawn_role(grant_handle_t *dom0, struct itest_agent *a,
                       const char *name, const char *role, unsigned devid)
{
    char id[16];
    char *argv[] = {itest_self(), "--role",     (char *)role,
                    id,           (char *)name, NULL};

    snprintf(id, sizeof(id), "%u", devid);

    itest_spawn_argv(dom0, a, name, 64, argv);
}

static unsigned dom0_maps(grant_handle_t *dom0)
{
    struct grant_usage u = {0};

    grant_usage(dom0, 0, &u);
    return u.maps;
}

/* The guest's domain destroyed, then the toolstack's removal. */
static void guest_gone(grant_handle_t *dom0, struct xbe *bus,
                       struct itest_agent *a, const char *be_dir)
{
    itest_agent_close(a);
    grant_ctl_domain_destroy(dom0, a->domid);
    grant_xenbus_write(xb0, XBT_NULL, be_dir, "online", "0");
    grant_xenbus_rm(xb0, XBT_NULL, be_dir, NULL);
    pump(bus, 50, NULL, NULL);
}

/* One broken frontend: the device must close with `reason` named. */
static void evil_case(grant_handle_t *dom0, struct xbe *bus, const char *name,
                      const char *reason)
{
    static unsigned devid = 100;
    char fe_dir[GRANT_XENBUS_PATH_MAX], be_dir[GRANT_XENBUS_PATH_MAX];
    struct itest_agent a;
    struct want_state w = {be_dir, XenbusStateClosing};
    char *err = NULL;

    spawn_role(dom0, &a, name, "evil", ++devid);
    itest_device_add(xb0, KIND, a.domid, devid, fe_dir, be_dir);
    pump(bus, 10000, reached, &w);
    grant_xenbus_read(xb0, XBT_NULL, be_dir, "error", &err, NULL);
    ICHECK(reached(&w) && err && strstr(err, reason),
           "%s: the device is Closing, error names %s (\"%s\")", name, reason,
           err ? err : "(none)");
    free(err);
    guest_gone(dom0, bus, &a, be_dir);
}

/* Pumps the backend until the agent prints a line. */
static int pump_line(struct xbe *bus, struct itest_agent *a, char *buf,
                     size_t len, int ms)
{
    struct itest_line_wait lw = {a, buf, len, 0};

    buf[0] = '\0';
    pump(bus, ms, itest_line_ready, &lw);
    buf[strcspn(buf, "\n")] = '\0';
    return lw.got;
}

static void run_backend(grant_handle_t *dom0)
{
    char fe_dir[GRANT_XENBUS_PATH_MAX], be_dir[GRANT_XENBUS_PATH_MAX],
        line[256], *v = NULL;
    struct itest_agent good, dying;
    struct want_state w = {be_dir, XenbusStateConnected};
    struct xbe *bus;
    unsigned maps0 = dom0_maps(dom0);
    int rc;

    rc = xbe_open(&bus, &be_ops, dom0, xb0, 0, NULL);
    ICHECK(rc == 0, "backend bus opened (%d)", rc);
    if (rc)
        return;

    /* A well-behaved frontend: connects on two queues and echoes. */
    spawn_role(dom0, &good, "good", "front", 1);
    itest_device_add(xb0, KIND, good.domid, 1, fe_dir, be_dir);
    pump_line(bus, &good, line, sizeof(line), 15000);
    ICHECK(!strncmp(line, "ok echoed", 9), "good frontend: %s",
           line[0] ? line : "(nothing)");
    ICHECK(reached(&w), "the backend is Connected");
    grant_xenbus_read(xb0, XBT_NULL, be_dir, "max-ring-page-order", &v, NULL);
    ICHECK(v && !strcmp(v, "2"),
           "max-ring-page-order published before "
           "InitWait (%s)",
           v ? v : "none");
    free(v);
    v = NULL;
    grant_xenbus_read(xb0, XBT_NULL, fe_dir, "queue-1/ring-ref3", &v, NULL);
    ICHECK(v != NULL, "the frontend used 4-page rings per queue (ring-ref3)");
    free(v);
    v = NULL;
    grant_xenbus_read(xb0, XBT_NULL, be_dir, "multi-queue-max-queues", &v,
                      NULL);
    ICHECK(v && !strcmp(v, "2"),
           "multi-queue-max-queues published before "
           "InitWait (%s)",
           v ? v : "none");
    free(v);
    ICHECK(dom0_maps(dom0) == maps0 + 8, "two 4-page rings mapped (%u -> %u)",
           maps0, dom0_maps(dom0));

    /* Every broken rule: that device closes, the good one lives. */
    evil_case(dom0, bus, "no-ring-ref", "ring-ref");
    evil_case(dom0, bus, "bad-ring-ref", "ring-ref");
    evil_case(dom0, bus, "dead-ring-ref", "mapping");
    evil_case(dom0, bus, "zero-queues", "multi-queue-num-queues");
    evil_case(dom0, bus, "many-queues", "multi-queue-num-queues");
    evil_case(dom0, bus, "ring-order", "ring-page-order");
    evil_case(dom0, bus, "missing-page-ref", "ring-ref1");
    evil_case(dom0, bus, "no-port", "event-channel");
    evil_case(dom0, bus, "dead-port", "binding");
    evil_case(dom0, bus, "bad-state", "state");
    evil_case(dom0, bus, "index-jump", "ring");
    ICHECK(dom0_maps(dom0) == maps0 + 8,
           "the broken devices left no mapping (%u, want %u)", dom0_maps(dom0),
           maps0 + 8);

    dprintf(good.to, "again\n");
    pump_line(bus, &good, line, sizeof(line), 10000);
    ICHECK(!strncmp(line, "ok echoed", 9),
           "the good frontend still echoes after every broken one: %s",
           line[0] ? line : "(nothing)");

    /* Clean detach: Closing, then Closed, then the toolstack removes. */
    dprintf(good.to, "detach\n");
    w.state = XenbusStateClosed;
    pump(bus, 10000, reached, &w);
    ICHECK(reached(&w), "the backend followed the frontend to Closed");
    ICHECK(dom0_maps(dom0) == maps0, "the rings are unmapped after Closed");
    grant_xenbus_write(xb0, XBT_NULL, be_dir, "online", "0");
    grant_xenbus_rm(xb0, XBT_NULL, be_dir, NULL);
    grant_xenbus_rm(xb0, XBT_NULL, fe_dir, NULL);
    pump(bus, 300, NULL, NULL);
    ICHECK(xbe_count(bus) == 0, "the device is gone from the bus (%u left)",
           xbe_count(bus));
    itest_agent_close(&good);

    /* A frontend whose domain dies while connected. */
    spawn_role(dom0, &dying, "dying", "front", 2);
    itest_device_add(xb0, KIND, dying.domid, 2, fe_dir, be_dir);
    pump_line(bus, &dying, line, sizeof(line), 15000);
    ICHECK(!strncmp(line, "ok echoed", 9), "second frontend connected: %s",
           line[0] ? line : "(nothing)");
    grant_ctl_domain_destroy(dom0, dying.domid);
    w.state = XenbusStateClosed;
    pump(bus, 10000, reached, &w);
    ICHECK(reached(&w), "a dead frontend's device is Closed");
    ICHECK(dom0_maps(dom0) == maps0,
           "a dead frontend's rings are unmapped (%u, want %u)",
           dom0_maps(dom0), maps0);
    itest_agent_close(&dying);

    /* A frontend on standard (v1) grants, as stock Linux: a 2-page ring. */
    w.state = XenbusStateConnected;
    spawn_role(dom0, &dying, "v1", "v1front", 3);
    itest_device_add(xb0, KIND, dying.domid, 3, fe_dir, be_dir);
    pump_line(bus, &dying, line, sizeof(line), 15000);
    ICHECK(!strncmp(line, "ok echoed", 9), "a v1 frontend connected: %s",
           line[0] ? line : "(nothing)");
    ICHECK(reached(&w), "the v1 device is Connected");
    ICHECK(dom0_maps(dom0) == maps0 + 2, "its 2-page ring is mapped (%u -> %u)",
           maps0, dom0_maps(dom0));
    grant_ctl_domain_destroy(dom0, dying.domid);
    w.state = XenbusStateClosed;
    pump(bus, 10000, reached, &w);
    ICHECK(reached(&w) && dom0_maps(dom0) == maps0,
           "the v1 ring is unmapped once its frontend died (%u, want %u)",
           dom0_maps(dom0), maps0);
    itest_agent_close(&dying);
    xbe_close(bus);
}

/* ---- Waiting for the hotplug script (ops.hotplug) ------------------------ */

/* A good frontend on a device whose script reports `status` (NULL:
 * never); the device ends in state `want`, its error naming `reason`. */
static void hotplug_case(grant_handle_t *dom0, struct xbe *bus, unsigned devid,
                         const char *status, int want, const char *reason)
{
    char fe_dir[GRANT_XENBUS_PATH_MAX], be_dir[GRANT_XENBUS_PATH_MAX],
        line[256], *err = NULL;
    struct want_state fe = {fe_dir, XenbusStateInitialised},
                      be = {be_dir, XenbusStateInitWait};
    struct itest_agent a;
    long long t0;

    spawn_role(dom0, &a, "hotplug", "front", devid);
    itest_device_add(xb0, KIND, a.domid, devid, fe_dir, be_dir);
    t0 = itest_ms();
    pump(bus, 5000, reached, &fe);
    pump(bus, 300, NULL, NULL);
    ICHECK(reached(&fe) && reached(&be),
           "hotplug %s: the frontend is Initialised, the backend holds "
           "InitWait until the script reports",
           status ? status : "never");
    if (status && !strcmp(status, "error"))
        grant_xenbus_write(xb0, XBT_NULL, be_dir, "hotplug-error",
                           "vif-bridge: no bridge xenbr9");
    if (status)
        grant_xenbus_write(xb0, XBT_NULL, be_dir, "hotplug-status", status);
    be.state = want;
    if (want == XenbusStateConnected) {
        pump_line(bus, &a, line, sizeof(line), 10000);
        ICHECK(!strncmp(line, "ok echoed", 9) && reached(&be),
               "hotplug-status connected: Connected and echoing: %s",
               line[0] ? line : "(nothing)");
    } else {
        pump(bus, 5000, closing, be_dir);
        grant_xenbus_read(xb0, XBT_NULL, be_dir, "error", &err, NULL);
        ICHECK(closing(be_dir) && err && strstr(err, reason),
               "hotplug %s: closed after %lld ms, error names '%s' (%s)",
               status ? status : "never", itest_ms() - t0, reason,
               err ? err : "(none)");
        ICHECK(status || itest_ms() - t0 >= 750,
               "no answer: closed at the timeout, not before (%lld ms)",
               itest_ms() - t0);
        free(err);
    }
    guest_gone(dom0, bus, &a, be_dir);
}

static void run_hotplug(grant_handle_t *dom0)
{
    struct xbe_ops hp_ops = be_ops;
    struct xbe *bus;
    int rc;

    hp_ops.hotplug = XBE_HOTPLUG_ALWAYS; /* as on Xen */
    hp_ops.hotplug_timeout_ms = 800;
    rc = xbe_open(&bus, &hp_ops, dom0, xb0, 0, NULL);

    ICHECK(rc == 0, "a bus waiting for hotplug scripts (%d)", rc);
    if (rc)
        return;
    ICHECK(xbe_timeout_ms(bus) == -1, "nothing waits yet (%d)",
           xbe_timeout_ms(bus));
    hotplug_case(dom0, bus, 40, "connected", XenbusStateConnected, NULL);
    hotplug_case(dom0, bus, 41, "error", XenbusStateClosing,
                 "hotplug script failed: vif-bridge: no bridge xenbr9");
    hotplug_case(dom0, bus, 42, NULL, XenbusStateClosing,
                 "hotplug-status not \"connected\" within 800 ms");
    xbe_close(bus);
}

/* ---- The frontend roles (in a guest) ------------------------------------ */

static const struct xfe_ops fe_ops = {
    .kind = KIND,
    .nr_rings = 1,
    .ring = {{"ring-ref", sizeof(union xt_sring_entry), 1}},
    .max_ring_order = 2,
    .max_queues = 2,
    .grant_ext = 1,
};

/* Waits for the toolstack to write this device's link. */
static int wait_device(grant_xenbus_t *xb, grant_handle_t *h, unsigned devid,
                       char *dir)
{
    char *v = NULL;
    int i;

    grant_xenbus_frontend_dir(grant_domid(h), KIND, devid, dir,
                              GRANT_XENBUS_PATH_MAX);
    for (i = 0; i < 500; i++) {
        if (grant_xenbus_read(xb, XBT_NULL, dir, "backend", &v, NULL) == 0) {
            free(v);
            return 0;
        }
        usleep(10000);
    }
    return -ETIMEDOUT;
}

/* BATCH requests on every queue; every answer checked. */
static int echo_ring(grant_handle_t *h, struct xfe_ring *r, uint32_t port,
                     unsigned salt);

static int echo(struct xfe_dev *d)
{
    unsigned q;
    int rc = 0;

    for (q = 0; rc == 0 && q < xfe_nr_queues(d); q++) {
        struct xfe_queue *xq = xfe_queue(d, q);

        rc = echo_ring(xfe_h(d), &xq->ring[0], xq->port[0], q);
    }
    return rc;
}

static int role_front(unsigned devid)
{
    grant_handle_t *h;
    grant_xenbus_t *xb;
    struct xfe_dev *d;
    char dir[GRANT_XENBUS_PATH_MAX], cmd[64];
    int rc;

    if (grant_open(&h, 0) || grant_xenbus_open(&xb, 0))
        return 1;
    rc = wait_device(xb, h, devid, dir);
    if (rc == 0)
        rc = xfe_attach(&d, &fe_ops, h, xb, devid, 10000, NULL);
    if (rc == 0)
        rc = echo(d);
    printf("%s echoed %d queues (%d)\n", rc ? "err" : "ok",
           rc ? 0 : (int)xfe_nr_queues(d), rc);
    fflush(stdout);
    while (rc == 0 && fgets(cmd, sizeof(cmd), stdin)) {
        if (!strncmp(cmd, "again", 5)) {
            rc = echo(d);
            printf("%s echoed again (%d)\n", rc ? "err" : "ok", rc);
            fflush(stdout);
        } else if (!strncmp(cmd, "detach", 6)) {
            xfe_detach(d, 5000);
            d = NULL;
        }
    }
    return 0;
}

/* BATCH requests through one ring, each answer checked. */
static int echo_ring(grant_handle_t *h, struct xfe_ring *r, uint32_t port,
                     unsigned salt)
{
    long long end = itest_ms() + 5000;
    unsigned sent = 0, got = 0;

    while (got < BATCH && itest_ms() < end) {
        struct xt_req *req;
        union xt_sring_entry e;

        while (sent < BATCH && (req = xfe_ring_req_slot(r))) {
            req->id = sent;
            req->val = sent * 7 + salt;
            xfe_ring_req_done(r);
            sent++;
        }
        if (xfe_ring_push(r))
            grant_evtchn_notify(h, port);
        while (xfe_ring_take(r, &e) == 1) {
            if (e.rsp.id != got || e.rsp.val != got * 7 + salt + 1)
                return -EPROTO;
            got++;
        }
        if (got < BATCH && xfe_ring_final_check(r) == 0)
            grant_evtchn_wait(h, port, 100);
    }
    return got < BATCH ? -ETIMEDOUT : 0;
}

/* A frontend as stock Linux writes it: standard grants (grant_v1_share),
 * no feature-grant-ext, ring-page-order 1 with ring-ref0/1, and (as
 * Linux's netfront with one queue) multi-queue-num-queues = 1 beside flat
 * keys: one queue means no queue-N directories. */
static int role_v1front(unsigned devid)
{
    grant_handle_t *h;
    grant_xenbus_t *xb;
    char dir[GRANT_XENBUS_PATH_MAX], line[8], *be = NULL;
    grant_v1_ref_t refs[2];
    struct xfe_ring r;
    void *ring = NULL;
    uint32_t port = 0;
    int rc;

    if (grant_open(&h, 0) || grant_xenbus_open(&xb, 0) ||
        wait_device(xb, h, devid, dir))
        return 1;
    rc = grant_xenbus_otherend(xb, dir, "backend", &be, NULL);
    if (rc == 0)
        rc = grant_xenbus_wait_state(xb, be, XenbusStateInitWait, 10000, NULL);
    if (rc == 0)
        rc = grant_v1_share(h, 0, 2, 0, refs, &ring);
    if (rc == 0)
        rc = xfe_ring_init(&r, ring, 2 * GRANT_PAGE_SIZE,
                           sizeof(union xt_sring_entry));
    if (rc == 0)
        rc = grant_evtchn_alloc_unbound(h, 0, &port);
    if (rc == 0) {
        grant_xenbus_write(xb, XBT_NULL, dir, "multi-queue-num-queues", "1");
        grant_xenbus_write(xb, XBT_NULL, dir, "ring-page-order", "1");
        grant_xenbus_printf(xb, XBT_NULL, dir, "ring-ref0", "%u", refs[0]);
        grant_xenbus_printf(xb, XBT_NULL, dir, "ring-ref1", "%u", refs[1]);
        grant_xenbus_printf(xb, XBT_NULL, dir, "event-channel", "%u", port);
        grant_xenbus_switch_state(xb, XBT_NULL, dir, XenbusStateInitialised);
        rc = grant_xenbus_wait_state(xb, be, XenbusStateConnected, 10000, NULL);
    }
    if (rc == 0)
        rc = echo_ring(h, &r, port, 0);
    printf("%s echoed v1 (%d)\n", rc ? "err" : "ok", rc);
    fflush(stdout);
    free(be);
    while (fgets(line, sizeof(line), stdin))
        ;
    return 0;
}

/* Writes a frontend's keys by hand, each case breaking one rule. */
static int role_evil(unsigned devid, const char *what)
{
    grant_handle_t *h;
    grant_xenbus_t *xb;
    char dir[GRANT_XENBUS_PATH_MAX], line[8], *be = NULL;
    void *page = NULL;
    grant_ref_t ref = 0;
    uint32_t port = 0;
    struct xfe_dev *d;

    if (grant_open(&h, 0) || grant_xenbus_open(&xb, 0) ||
        wait_device(xb, h, devid, dir))
        return 1;
    if (!strcmp(what, "index-jump")) {
        if (xfe_attach(&d, &fe_ops, h, xb, devid, 10000, NULL) == 0) {
            struct xfe_queue *xq = xfe_queue(d, 0);

            xq->ring[0].sring[0] += 1000; /* req_prod far past the ring */
            xfe_notify(d, 0, 0);
        }
        while (fgets(line, sizeof(line), stdin))
            ;
        return 0;
    }
    if (grant_xenbus_otherend(xb, dir, "backend", &be, NULL) == 0)
        grant_xenbus_wait_state(xb, be, XenbusStateInitWait, 10000, NULL);
    free(be);
    grant_mem_alloc(h, 1, &page);
    grant_create_direct(h, 0, GRANT_R_READ | GRANT_R_WRITE | GRANT_R_MAP, page,
                        GRANT_PAGE_SIZE, &ref);
    grant_evtchn_alloc_unbound(h, 0, &port);
    grant_xenbus_write(xb, XBT_NULL, dir, "feature-grant-ext", "1");
    if (strcmp(what, "no-ring-ref"))
        grant_xenbus_printf(xb, XBT_NULL, dir, "ring-ref", "%u", ref);
    if (strcmp(what, "no-port"))
        grant_xenbus_printf(xb, XBT_NULL, dir, "event-channel", "%u", port);
    if (!strcmp(what, "bad-ring-ref"))
        grant_xenbus_write(xb, XBT_NULL, dir, "ring-ref", "12x");
    if (!strcmp(what, "dead-ring-ref"))
        grant_xenbus_printf(xb, XBT_NULL, dir, "ring-ref", "%u", ref + 977);
    if (!strcmp(what, "zero-queues"))
        grant_xenbus_write(xb, XBT_NULL, dir, "multi-queue-num-queues", "0");
    if (!strcmp(what, "many-queues"))
        grant_xenbus_write(xb, XBT_NULL, dir, "multi-queue-num-queues", "99");
    if (!strcmp(what, "ring-order"))
        grant_xenbus_write(xb, XBT_NULL, dir, "ring-page-order", "9");
    if (!strcmp(what, "missing-page-ref")) { /* 2 pages, ring-ref1 absent */
        grant_xenbus_write(xb, XBT_NULL, dir, "ring-page-order", "1");
        grant_xenbus_printf(xb, XBT_NULL, dir, "ring-ref0", "%u", ref);
    }
    if (!strcmp(what, "dead-port"))
        grant_xenbus_printf(xb, XBT_NULL, dir, "event-channel", "%u",
                            port + 4000);
    if (!strcmp(what, "bad-state"))
        grant_xenbus_write(xb, XBT_NULL, dir, "state", "banana");
    else
        grant_xenbus_switch_state(xb, XBT_NULL, dir, XenbusStateInitialised);
    while (fgets(line, sizeof(line), stdin))
        ;
    return 0;
}

int main(int argc, char **argv)
{
    grant_handle_t *dom0;

    if (argc >= 5 && !strcmp(argv[1], "--role") && !strcmp(argv[2], "v1front"))
        return role_v1front((unsigned)atoi(argv[3]));
    if (argc >= 5 && !strcmp(argv[1], "--role"))
        return !strcmp(argv[2], "front")
                   ? role_front((unsigned)atoi(argv[3]))
                   : role_evil((unsigned)atoi(argv[3]), argv[4]);
    itest_setup(&dom0);
    if (grant_xenbus_open(&xb0, 0) < 0) {
        ICHECK(0, "store reachable");
    } else {
        run_backend(dom0);
        run_hotplug(dom0);
        grant_xenbus_close(xb0);
    }
    itest_teardown(dom0);
    return itest_done();
}
