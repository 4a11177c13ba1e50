/* SPDX-License-Identifier: MIT */
/*
 * dispatch.c: one complete request in, one handler per op.  Checks common
 * to all ops happen here: HELLO first, fds only where the op takes them,
 * control-domain-only ops.  Hypercalls go to hcall.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "private.h"

/* 0 (*flags: what the client asks for), or the error HELLO gets. */
static int hello_check(struct xd_conn *c, const struct xd_rx *rx,
                       uint32_t *flags)
{
    struct xgw_hello_req req;

    if (rx->hdr.len != sizeof(req))
        return -EINVAL;
    memcpy(&req, rx->pay, sizeof(req));
    if (req.abi_version != GNTX_ABI_VERSION) {
        xd_log_conn(c, "hello with ABI version %u, this daemon speaks %u",
                    req.abi_version, GNTX_ABI_VERSION);
        return -EPROTO;
    }
    *flags = req.flags;
    return req.flags & ~(XGW_HELLO_CALL_AREA | XGW_HELLO_KICKS) || c->hello
               ? -EINVAL
               : 0;
}

/*
 * The call area, when asked for: its two fds go after the usual ones, and
 * the near page's after them.
 * Without one (out of resources) the client simply uses the socket.
 */
static void hello_call_area(struct xd_conn *c, struct xd_out *m,
                            struct xgw_hello_rep *rep, uint32_t flags)
{
    int memfd, bell, r;

    r = xd_ca_open(c, &memfd, &bell);
    if (r < 0) {
        xd_log_conn(c, "hello: no call area: %s", strerror(-r));
        return;
    }
    r = xd_out_add_fd(m, memfd);
    if (r == 0)
        r = xd_out_add_fd(m, bell);
    else
        close(bell);
    if (r < 0) { /* the message keeps what it took: it is dropped */
        xd_ca_close(c);
        return;
    }
    rep->flags = XGW_HELLO_CALL_AREA | (flags & XGW_HELLO_KICKS);
    /* Optional: without it, large copies still work, on any CPU. */
    r = xd_near_fd();
    if (r >= 0)
        (void)xd_out_add_fd(m, r); /* closes it if it cannot go */
}

/* The notice socket pair: the daemon keeps one end (non-blocking, in
 * epoll); the client's end comes back.  -errno. */
static int notice_open(struct xd_conn *c)
{
    int sv[2];

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return -errno;
    if (fcntl(sv[0], F_SETFL, O_NONBLOCK) < 0 ||
        xd_epoll_add(sv[0], EPOLLIN, &c->nev) < 0) {
        close(sv[0]);
        close(sv[1]);
        return -ENOMEM;
    }
    c->nfd = sv[0];
    c->nev_mask = EPOLLIN;
    return sv[1];
}

static void hello(struct xd_conn *c, struct xd_rx *rx)
{
    struct xgw_hello_rep *rep;
    struct xd_out *m;
    uint32_t flags = 0;
    int r = hello_check(c, rx, &flags), cfd;

    if (r < 0) {
        xd_reply_err(c, &rx->hdr, r);
        return;
    }
    m = xd_out_new(rx->hdr.op, rx->hdr.seq, 0, sizeof(*rep));
    cfd = m ? notice_open(c) : -ENOMEM;
    if (cfd < 0) {
        xd_log_conn(c, "hello: %s", strerror(-cfd));
        xd_out_free(m);
        xd_reply_err(c, &rx->hdr, -ENOMEM);
        return;
    }
    rep = xd_out_payload(m);
    rep->domid = c->dom->id;
    rep->abi_version = GNTX_ABI_VERSION;
    rep->mem_frames = c->dom->nr_frames;
    /* fds in this order: own memory, then the notice socket. */
    if (xd_out_dup_fd(m, c->dom->memfd) < 0) {
        close(cfd);
        cfd = -1;
    }
    if (cfd < 0 || xd_out_add_fd(m, cfd) < 0) {
        xd_out_free(m);
        xd_conn_close(c, "hello: cannot pass descriptors");
        return;
    }
    if (flags & XGW_HELLO_CALL_AREA)
        hello_call_area(c, m, rep, flags);
    c->hello = true;
    xd_dbg("dom %u (%s): pid %d said hello", c->dom->id, c->dom->name,
           (int)c->pid);
    xd_reply(c, m);
}

static void shutdown_req(struct xd_conn *c, struct xd_rx *rx)
{
    if (rx->hdr.len != 0) {
        xd_reply_err(c, &rx->hdr, -EINVAL);
        return;
    }
    xd_log("shutdown requested by pid %d", (int)c->pid);
    xd_dom_destroy_all();
    xd_reply_err(c, &rx->hdr, 0);
    xd.quit = true;
}

static bool control_only(unsigned op)
{
    return op >= XGW_OP_DOMAIN_CREATE && op <= XGW_OP_SHUTDOWN;
}

/* Ops served once the connection said hello. */
static void sim_op(struct xd_conn *c, struct xd_rx *rx)
{
    switch (rx->hdr.op) {
    case XGW_OP_MEM_ALLOC:
        xd_mem_alloc(c, rx);
        return;
    case XGW_OP_MEM_FREE:
        xd_mem_free(c, rx);
        return;
    case XGW_OP_EVTCHN_ALLOC_UNBOUND:
    case XGW_OP_EVTCHN_BIND_INTERDOMAIN:
    case XGW_OP_EVTCHN_SEND:
    case XGW_OP_EVTCHN_CLOSE:
        xd_evtchn_op(c, rx);
        return;
    case XGW_OP_IO_FILE_REGISTER:
        xd_io_file_register(c, rx);
        return;
    case XGW_OP_IO_FILE_UNREGISTER:
        xd_io_file_unregister(c, rx);
        return;
    case XGW_OP_DOMAIN_CREATE:
        xd_dom_create(c, rx);
        return;
    case XGW_OP_DOMAIN_DESTROY:
        xd_dom_destroy_req(c, rx);
        return;
    case XGW_OP_DOMAIN_LIST:
        xd_dom_list(c, rx);
        return;
    case XGW_OP_DOMAIN_WAIT:
        xd_dom_wait(c, rx);
        return;
    case XGW_OP_SHUTDOWN:
        shutdown_req(c, rx);
        return;
    default:
        xd_log_conn(c, "bad message: unknown op 0x%x", rx->hdr.op);
        xd_reply_err(c, &rx->hdr, -ENOSYS);
        return;
    }
}

void xd_dispatch(struct xd_conn *c, struct xd_rx *rx)
{
    unsigned op = rx->hdr.op;

    if (rx->fds_lost || (rx->nfds && op != XGW_OP_DOMAIN_CREATE &&
                         op != GNTX_OP_IO && op != XGW_OP_IO_FILE_REGISTER)) {
        xd_log_conn(c, "bad message: op 0x%x with %d unexpected fds", op,
                    rx->nfds);
        xd_reply_err(c, &rx->hdr, -EINVAL);
        return;
    }
    if (op == XGW_OP_HELLO) {
        hello(c, rx);
        return;
    }
    if (!c->hello) {
        xd_log_conn(c, "bad message: op 0x%x before hello", op);
        xd_reply_err(c, &rx->hdr, -EPROTO);
        return;
    }
    /* Kicks posted before this request go out before it is served. */
    xd_ca_kicks(c);
    if (op < XGW_OP_SIM_BASE) {
        xd_hypercall(c, rx);
        return;
    }
    if (control_only(op) && c->dom->id != GNTX_DOMID_CONTROL) {
        xd_log_conn(c, "op 0x%x refused: control domain only", op);
        xd_reply_err(c, &rx->hdr, -EPERM);
        return;
    }
    sim_op(c, rx);
}
