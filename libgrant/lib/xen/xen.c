/* SPDX-License-Identifier: MIT */
/*
 * xen.c: the xen transport (XGRANT_TRANSPORT=xen): a Xen guest, dom0 or a
 * PV domU, with the xgrant guest module loaded (libgrant/kmod,
 * /dev/xgrant).
 *
 * Opening asks the module for the domain id, has it allocate this handle's
 * grant memory (XGRANT_XEN_PAGES pages, default 1024 = 4 MiB) and maps it
 * whole at h->mem: a gfn here is a page index into that memory, exactly the
 * model of the sim transport, and the module rewrites those into the frames
 * Xen knows.  Allocation of runs inside it is done here (first fit).
 * Hypercalls are XGRANT_IOC_CALL.  Opening asks Xen once whether it has
 * the extension (GNTX_OP_VERSION): a stock Xen answers ENOSYS (the unknown
 * grant-table sub-op), and then every call fails -ENOSYS here, without a
 * hypercall; grant memory, event channels and Xen's standard grants
 * (xen_v1.c) work either way.
 *
 * Mapping: grant_map asks for a window, an mmap of the same fd at
 * XGRANT_MAP_OFFSET (xgrant_uapi.h: empty, not inherited by fork), and
 * GNTX_OP_MAP carries the window's page addresses in aux; the module hands
 * Xen their page-table entries and Xen writes them.  munmap of the window
 * is the unmap (the module sends UNMAP when the window goes); a FORCE
 * revoke or a PROTECT rewrites the entries in Xen, with no notice here.
 *
 * Event channels: libxenevtchn (/dev/xen/evtchn), one handle per port.
 * Not here: domain control (xl does that on Xen).  Protection ops pass
 * through (the module translates).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xenevtchn.h>

#include "../private.h"
#include "../../abi/gntx_xen.h"
#include "../../kmod/xgrant_uapi.h"

#define XEN_PAGES_ENV     "XGRANT_XEN_PAGES"
#define XEN_PAGES_DEFAULT 1024u
#define XEN_MAX_PAYLOAD   (8u << 20)

struct xen_port {
    uint32_t port;
    xenevtchn_handle *xce;
};

struct xen_tp {
    int fd;
    uint8_t *used; /* per page of h->mem: allocated */
    struct xen_port *ports;
    unsigned nr_ports, cap_ports;
};

static uint64_t xen_pages_wanted(void)
{
    const char *s = getenv(XEN_PAGES_ENV);
    char *end;
    unsigned long long v;

    if (!s || !*s)
        return XEN_PAGES_DEFAULT;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || *end || v == 0 || v > XGRANT_MAX_PAGES)
        return 0;
    return v;
}

static void xen_close(grant_handle_t *h, int forked)
{
    struct xen_tp *t = h->tp;

    (void)forked; /* nothing is shared with the opener but the fd copy */
    if (!t)
        return;
    if (h->mem)
        munmap(h->mem, h->mem_frames * GNTX_PAGE_SIZE);
    h->mem = NULL;
    lg_frames_free(h);
    if (t->fd >= 0)
        close(t->fd);
    lg_xen_v1_close(h);
    /* Ports evtchn.c still had were closed before (lg_evtchn_release);
     * a forked child only drops its copies of the handles. */
    for (unsigned i = 0; i < t->nr_ports; i++)
        xenevtchn_close(t->ports[i].xce);
    free(t->ports);
    free(t->used);
    free(t);
    h->tp = NULL;
}

/* The frames Xen knows for the handle's pages, for the way back from
 * what PROTECT_QUERY and fault records name (frames.c).  A module
 * without XGRANT_IOC_FRAMES (ENOTTY): none, the frames pass as they are. */
static int xen_frames(grant_handle_t *h, struct xen_tp *t)
{
    uint64_t *fr = calloc(h->mem_frames, sizeof(*fr));
    struct xgrant_ioc_frames a = {.count = h->mem_frames,
                                  .frames = (uintptr_t)fr};
    int rc;

    if (!fr)
        return -ENOMEM;
    rc = ioctl(t->fd, XGRANT_IOC_FRAMES, &a) < 0 ? -errno : 0;
    if (rc == 0)
        rc = lg_frames_set(h, fr, h->mem_frames);
    else if (rc == -ENOTTY)
        rc = 0;
    free(fr);
    return rc;
}

static int xen_setup(grant_handle_t *h, struct xen_tp *t)
{
    struct xgrant_ioc_setup s = {.nr_pages = xen_pages_wanted()};
    struct xgrant_ioc_info info;
    void *p;

    if (s.nr_pages == 0)
        return -EINVAL;
    if (ioctl(t->fd, XGRANT_IOC_INFO, &info) < 0 ||
        ioctl(t->fd, XGRANT_IOC_SETUP, &s) < 0)
        return -errno;
    t->used = calloc(s.nr_pages, 1);
    if (!t->used)
        return -ENOMEM;
    p = mmap(NULL, s.nr_pages * GNTX_PAGE_SIZE, PROT_READ | PROT_WRITE,
             MAP_SHARED, t->fd, 0);
    if (p == MAP_FAILED)
        return -errno;
    h->mem = p;
    h->mem_frames = s.nr_pages;
    h->domid = info.domid;
    return xen_frames(h, t);
}

/* Does this Xen have the extension?  Asked once, at open. */
static unsigned xen_probe_ext(int fd)
{
    struct gntx_xen_call c = {.op = GNTX_OP_VERSION};

    return ioctl(fd, XGRANT_IOC_CALL, &c) >= 0 ? GRANT_FEAT_EXT : 0;
}

static int xen_open(grant_handle_t *h)
{
    struct xen_tp *t;
    int rc;

    t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    h->tp = t;
    t->fd = open(XGRANT_DEVICE, O_RDWR | O_CLOEXEC);
    rc = t->fd < 0 ? -errno : xen_setup(h, t);
    if (rc == 0) {
        h->features = xen_probe_ext(t->fd);
        lg_xen_v1_open(h);
    }
    if (rc < 0)
        xen_close(h, 0);
    return rc;
}

/* Elements of aux_out the call filled.  MAP's aux is in and out: the
 * window's addresses go in, the frames come back in the same array. */
static uint64_t xen_aux_got(const struct grant_call *gc)
{
    const struct gntx_query *q = gc->args;

    if (gc->op == GNTX_OP_QUERY_TABLE || gc->op == GNTX_OP_QUERY_TREE)
        return q->count < gc->aux_out_cap ? q->count : gc->aux_out_cap;
    if (gc->op == GNTX_OP_MAP && gc->aux_out && gc->aux_out == gc->aux_in)
        return gc->aux_in_count < gc->aux_out_cap ? gc->aux_in_count
                                                  : gc->aux_out_cap;
    return 0;
}

static long xen_hypercall(grant_handle_t *h, struct grant_call *gc)
{
    struct xen_tp *t = h->tp;
    struct gntx_xen_call c = {
        .op = gc->op, .count = gc->count, .args = (uintptr_t)gc->args};
    int rc;

    gc->nr_fds = 0;
    gc->aux_out_count = 0;
    if (!(h->features & GRANT_FEAT_EXT))
        return -ENOSYS; /* a stock Xen: found at open */
    if (gc->op == GNTX_OP_IO || gc->nfds_in)
        return -EOPNOTSUPP; /* Xen's hypervisor does no file I/O */
    if (gc->op == GNTX_OP_MAP && gc->aux_in != gc->aux_out)
        return -EINVAL; /* only through a window: grant_map's */
    if (gc->aux_in) {
        c.aux = (uintptr_t)gc->aux_in;
        c.aux_count = gc->aux_in_count;
    } else if (gc->aux_out) {
        c.aux = (uintptr_t)gc->aux_out;
        c.aux_count = gc->aux_out_cap;
    }
    rc = ioctl(t->fd, XGRANT_IOC_CALL, &c);
    if (rc < 0)
        return -errno;
    gc->aux_out_count = xen_aux_got(gc);
    return rc;
}

/* First fit over the page map. */
static int xen_mem_alloc(grant_handle_t *h, uint64_t nr_frames, uint64_t *gfn)
{
    struct xen_tp *t = h->tp;
    uint64_t start = 0, run = 0;

    for (uint64_t i = 0; i < h->mem_frames; i++) {
        if (t->used[i]) {
            run = 0;
            start = i + 1;
            continue;
        }
        if (++run < nr_frames)
            continue;
        memset(t->used + start, 1, nr_frames);
        *gfn = start;
        return 0;
    }
    return -ENOMEM;
}

static int xen_mem_free(grant_handle_t *h, uint64_t gfn, uint64_t nr_frames)
{
    struct xen_tp *t = h->tp;

    if (gfn > h->mem_frames || nr_frames > h->mem_frames - gfn)
        return -EINVAL;
    /* Freed memory is handed out again: scrub it as a hypervisor would. */
    memset(h->mem + gfn * GNTX_PAGE_SIZE, 0, nr_frames * GNTX_PAGE_SIZE);
    memset(t->used + gfn, 0, nr_frames);
    return 0;
}

/* An empty window of len bytes for grant_map (at *addr if set: a batch's
 * range); aux[i]: page i's address. */
static int xen_map_window(grant_handle_t *h, size_t len, unsigned flags,
                          void **addr, uint64_t *aux)
{
    struct xen_tp *t = h->tp;
    int prot = PROT_READ | ((flags & GRANT_MAP_RDONLY) ? 0 : PROT_WRITE);
    uint8_t *p;

    p = mmap(*addr, len, prot, MAP_SHARED | (*addr ? MAP_FIXED : 0), t->fd,
             (off_t)XGRANT_MAP_OFFSET);
    if (p == MAP_FAILED)
        return -errno;
    for (size_t i = 0; i < len / GNTX_PAGE_SIZE; i++)
        aux[i] = (uintptr_t)(p + i * GNTX_PAGE_SIZE);
    *addr = p;
    return 0;
}

/* The window goes, and the module unmaps what Xen mapped in it. */
static int xen_unmap_window(grant_handle_t *h, void *addr, size_t len)
{
    (void)h;
    return munmap(addr, len) < 0 ? -errno : 0;
}

/*
 * Event channels through Linux's /dev/xen/evtchn (libxenevtchn), one
 * handle per port: its fd polls readable only for that port, which is the
 * one-fd-per-port model evtchn.c keeps.  libgrant owns a dup of the fd
 * (the same open file: O_NONBLOCK set there holds for both).
 */
static struct xen_port *port_find(struct xen_tp *t, uint32_t port)
{
    for (unsigned i = 0; i < t->nr_ports; i++)
        if (t->ports[i].port == port)
            return &t->ports[i];
    return NULL;
}

/* Records a bound port (xce now belongs to t) and dups its fd for *fd. */
static int port_keep(struct xen_tp *t, xenevtchn_handle *xce, uint32_t port,
                     int *fd)
{
    struct xen_port *n;

    if (t->nr_ports == t->cap_ports) {
        unsigned cap = t->cap_ports ? t->cap_ports * 2 : 4;

        n = realloc(t->ports, cap * sizeof(*n));
        if (!n)
            return -ENOMEM;
        t->ports = n;
        t->cap_ports = cap;
    }
    *fd = fcntl(xenevtchn_fd(xce), F_DUPFD_CLOEXEC, 0);
    if (*fd < 0)
        return -errno;
    t->ports[t->nr_ports++] = (struct xen_port){port, xce};
    return 0;
}

/* A new port: unbound (remote_port < 0) or bound to (remote, remote_port). */
static int xen_port_new(grant_handle_t *h, grant_domid_t remote,
                        int64_t remote_port, uint32_t *port, int *fd)
{
    xenevtchn_handle *xce = xenevtchn_open(NULL, 0);
    xenevtchn_port_or_error_t p;
    int rc;

    if (!xce)
        return errno ? -errno : -ENODEV;
    if (remote_port < 0)
        p = xenevtchn_bind_unbound_port(xce, remote);
    else
        p = xenevtchn_bind_interdomain(xce, remote, (evtchn_port_t)remote_port);
    rc = p < 0 ? -errno : port_keep(h->tp, xce, (uint32_t)p, fd);
    if (rc < 0) {
        if (p >= 0)
            xenevtchn_unbind(xce, (evtchn_port_t)p);
        xenevtchn_close(xce);
        return rc;
    }
    *port = (uint32_t)p;
    return 0;
}

static int xen_evtchn_alloc_unbound(grant_handle_t *h, grant_domid_t remote,
                                    uint32_t *port, int *fd)
{
    return xen_port_new(h, remote, -1, port, fd);
}

static int xen_evtchn_bind(grant_handle_t *h, grant_domid_t remote,
                           uint32_t remote_port, uint32_t *port, int *fd)
{
    return xen_port_new(h, remote, remote_port, port, fd);
}

static int xen_evtchn_send(grant_handle_t *h, uint32_t port)
{
    struct xen_port *p = port_find(h->tp, port);

    if (!p)
        return -EINVAL;
    return xenevtchn_notify(p->xce, port) < 0 ? -errno : 0;
}

static int xen_evtchn_close(grant_handle_t *h, uint32_t port)
{
    struct xen_tp *t = h->tp;
    struct xen_port *p = port_find(t, port);
    int rc;

    if (!p)
        return -EINVAL;
    rc = xenevtchn_unbind(p->xce, port) < 0 ? -errno : 0;
    xenevtchn_close(p->xce);
    *p = t->ports[--t->nr_ports];
    return rc;
}

/* Reads the pending ports off the handle (each unmasked again). */
static int xen_evtchn_consume(grant_handle_t *h, uint32_t port)
{
    struct xen_port *p = port_find(h->tp, port);
    xenevtchn_port_or_error_t got;
    int n = 0;

    if (!p)
        return -EINVAL;
    while ((got = xenevtchn_pending(p->xce)) >= 0) {
        xenevtchn_unmask(p->xce, (evtchn_port_t)got);
        n += (uint32_t)got == port;
    }
    return errno == EAGAIN || errno == EWOULDBLOCK ? n : (n ? n : -errno);
}

const struct grant_ops lg_xen_ops = {
    .name = "xen",
    .max_payload = XEN_MAX_PAYLOAD,
    .max_map_batch = GNTX_MAX_BATCH,
    .open = xen_open,
    .close = xen_close,
    .hypercall = xen_hypercall,
    .mem_alloc = xen_mem_alloc,
    .mem_free = xen_mem_free,
    .evtchn_alloc_unbound = xen_evtchn_alloc_unbound,
    .evtchn_bind = xen_evtchn_bind,
    .evtchn_send = xen_evtchn_send,
    /* IOCTL_EVTCHN_NOTIFY is a hypercall that posts the event and returns:
     * asynchronous already, with its error (an unbound port) at once. */
    .evtchn_send_async = xen_evtchn_send,
    .evtchn_close = xen_evtchn_close,
    .evtchn_consume = xen_evtchn_consume,
    .map_window = xen_map_window,
    .unmap_window = xen_unmap_window,
    .v1 = &lg_xen_v1_ops,
};
