/* SPDX-License-Identifier: MIT */
/*
 * evtchn.c: event channels with Xen's semantics.  Each domain has
 * XD_MAX_PORTS ports (0 reserved).  A port is FREE, UNBOUND (waiting for
 * `rdom` to bind) or INTERDOMAIN (linked to rdom:rport).  Each bound port
 * has an eventfd, passed to the client; SEND writes to the PEER's eventfd.
 * Closing an interdomain port makes its peer UNBOUND again, remote = the
 * closer, as Xen does.  Ports belong to the domain; the control domain's
 * ports go with the connection that made them (its processes come and go),
 * and only that connection may send on or close one (port_of_conn).
 *
 * A port names its remote by id AND incarnation (xd_dom.inc), as grants
 * do: domain ids are reused, and a newcomer with a dead domain's id must
 * never bind a port meant for the dead one, nor inherit its channels.
 * When a domain dies its peers' ports become DEAD, closed for good: SEND
 * is -ENOTCONN, nobody can bind them, only CLOSE frees them.  An UNBOUND
 * port for a domain that died can no longer be bound by anyone.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "private.h"

/* ---- signals -------------------------------------------------------------
 *
 * Never an eventfd passed on: that is the daemon's own open file, O_NONBLOCK
 * included, and a client that clears the flag and fills the counter makes
 * the daemon's next write block for good.  Here each side has an open file
 * of its own.  A port is a pipe: the client gets the read end, the daemon
 * keeps the write end, non-blocking, which no client ever holds.  A full
 * pipe (EAGAIN) is still readable; a reader gone is EPIPE (SIGPIPE is
 * blocked: main.c).  A doorbell goes the other way: a datagram socket pair
 * (xd_sig_pair), so that the client's send can say MSG_NOSIGNAL and the
 * daemon's drain MSG_DONTWAIT.
 */

/* *mine (receives) and *theirs (sends; receiving is shut down): -errno. */
int xd_sig_pair(int *mine, int *theirs)
{
    int sv[2];

    if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) <
        0)
        return -errno;
    /* One way only: the daemon's sends, and the client's receives, fail. */
    if (shutdown(sv[0], SHUT_WR) < 0) {
        close(sv[0]);
        close(sv[1]);
        return -ENOMEM;
    }
    *mine = sv[0];
    *theirs = sv[1];
    return 0;
}

/* Empties the daemon's receiving end (bounded); never blocks. */
void xd_sig_drain(int fd)
{
    char b[64];

    for (unsigned i = 0; i < 4096; i++)
        if (recv(fd, b, sizeof(b), MSG_DONTWAIT) < 0 && errno != EINTR)
            return;
}

/* A port's pipe: *sfd the daemon's write end, *cfd the client's read end;
 * one page is enough (4096 signals not consumed).  -errno. */
static int port_pipe(int *sfd, int *cfd)
{
    int p[2];

    if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
        return -errno;
    (void)fcntl(p[1], F_SETPIPE_SZ, 4096);
    *cfd = p[0];
    *sfd = p[1];
    return 0;
}

/* ---- ports ------------------------------------------------------------- */

static int ports_get(struct xd_dom *d)
{
    if (!d->ports) {
        d->ports = calloc(XD_MAX_PORTS, sizeof(*d->ports));
        if (!d->ports)
            return -ENOMEM;
        for (unsigned i = 0; i < XD_MAX_PORTS; i++)
            d->ports[i].sfd = d->ports[i].cfd = -1;
    }
    return 0;
}

/* d's incarnation, given on first use: unique for the daemon's life. */
static uint64_t dom_inc(struct xd_dom *d)
{
    static uint64_t last;

    if (!d->inc)
        d->inc = ++last;
    return d->inc;
}

/* Is the domain that port p names by (rdom, rinc) the one alive now? */
static struct xd_dom *remote_of(const struct xd_port *p)
{
    struct xd_dom *r = xd_dom_get(p->rdom);

    return r && r->state == XGW_DOM_RUNNING && dom_inc(r) == p->rinc ? r : NULL;
}

/* The live port `port` of d, or NULL. */
static struct xd_port *port_of(struct xd_dom *d, uint32_t port)
{
    if (!d || !d->ports || port == 0 || port >= XD_MAX_PORTS ||
        d->ports[port].state == XD_PORT_FREE)
        return NULL;
    return &d->ports[port];
}

/* The live port `port` that c may use: of its domain and, in the control
 * domain, made by c (its ports go with the connection: another process
 * of domain 0 must not signal, close or wake them). */
static struct xd_port *port_of_conn(struct xd_conn *c, uint32_t port)
{
    struct xd_port *p = port_of(c->dom, port);

    return p && (c->dom->id != GNTX_DOMID_CONTROL || p->owner == c) ? p : NULL;
}

static void port_free(struct xd_port *p)
{
    if (p->sfd >= 0)
        close(p->sfd);
    if (p->cfd >= 0)
        close(p->cfd);
    memset(p, 0, sizeof(*p));
    p->sfd = p->cfd = -1;
}

/* A free port of d with a fresh pipe: its number, or -errno. */
static int port_alloc(struct xd_dom *d, struct xd_conn *owner)
{
    int r = ports_get(d);

    if (r < 0)
        return r;
    unsigned max =
        d->id == GNTX_DOMID_CONTROL ? XD_MAX_PORTS : XD_MAX_DOMU_PORTS;

    for (unsigned i = 1; i < max; i++) {
        struct xd_port *p = &d->ports[i];

        if (p->state != XD_PORT_FREE)
            continue;
        if (port_pipe(&p->sfd, &p->cfd) < 0)
            return -ENOMEM;
        if (d->id != GNTX_DOMID_CONTROL &&
            (xd_fd_scarce(p->sfd) || xd_fd_scarce(p->cfd))) {
            port_free(p);
            return -ENOSPC; /* the last descriptors are domain 0's */
        }
        p->owner = owner;
        return (int)i;
    }
    return -ENOSPC;
}

/* p's interdomain peer port, or NULL. */
static struct xd_port *peer_of(const struct xd_port *p)
{
    struct xd_port *peer;

    if (p->state != XD_PORT_INTERDOMAIN)
        return NULL;
    peer = port_of(remote_of(p), p->rport);
    return peer && peer->state == XD_PORT_INTERDOMAIN ? peer : NULL;
}

/* Closes port p of domain d; an interdomain peer becomes unbound (d lives
 * on: it may bind again) or, when d is dying, dead. */
static void port_close(struct xd_dom *d, struct xd_port *p)
{
    struct xd_port *peer = peer_of(p);

    if (peer && d->state == XGW_DOM_RUNNING) {
        peer->state = XD_PORT_UNBOUND;
        peer->rdom = d->id;
        peer->rinc = dom_inc(d);
        peer->rport = 0;
    } else if (peer) {
        peer->state = XD_PORT_DEAD;
        peer->rport = 0;
    }
    port_free(p);
}

/* ---- ops --------------------------------------------------------------------
 */

static uint16_t resolve(const struct xd_conn *c, uint16_t dom)
{
    return dom == GNTX_DOMID_SELF ? c->dom->id : dom;
}

static int alloc_unbound(struct xd_conn *c, struct xgw_evtchn *e)
{
    uint16_t rdom = resolve(c, e->remote_dom);
    struct xd_dom *r = xd_dom_get(rdom);
    int port;

    if (!r || r->state != XGW_DOM_RUNNING)
        return -ESRCH;
    port = port_alloc(c->dom, c);
    if (port < 0)
        return port;
    c->dom->ports[port].state = XD_PORT_UNBOUND;
    c->dom->ports[port].rdom = rdom;
    c->dom->ports[port].rinc = dom_inc(r);
    e->port = (uint32_t)port;
    return 0;
}

static int bind_interdomain(struct xd_conn *c, struct xgw_evtchn *e)
{
    struct xd_dom *r = xd_dom_get(resolve(c, e->remote_dom));
    struct xd_port *rp, *lp;
    int port;

    if (!r || r->state != XGW_DOM_RUNNING)
        return -ESRCH;
    rp = port_of(r, e->remote_port);
    /* Meant for this domain: its id and this incarnation of it. */
    if (!rp || rp->state != XD_PORT_UNBOUND || rp->rdom != c->dom->id ||
        rp->rinc != dom_inc(c->dom))
        return -EINVAL;
    port = port_alloc(c->dom, c);
    if (port < 0)
        return port;
    /* port_alloc may have allocated c->dom->ports; rp is in r's table. */
    lp = &c->dom->ports[port];
    lp->state = XD_PORT_INTERDOMAIN;
    lp->rdom = r->id;
    lp->rinc = dom_inc(r);
    lp->rport = e->remote_port;
    rp->state = XD_PORT_INTERDOMAIN;
    rp->rport = (uint32_t)port;
    e->port = (uint32_t)port;
    return 0;
}

static int send_event(struct xd_conn *c, const struct xgw_evtchn *e)
{
    struct xd_port *p = port_of_conn(c, e->port);
    struct xd_port *peer;

    if (!p)
        return -EINVAL;
    peer = peer_of(p);
    if (!peer)
        return -ENOTCONN;
    xd_evtchn_signal(peer);
    return 0;
}

static int close_port(struct xd_conn *c, const struct xgw_evtchn *e)
{
    struct xd_port *p = port_of_conn(c, e->port);

    if (!p)
        return -EINVAL;
    port_close(c->dom, p);
    return 0;
}

static void evtchn_reply(struct xd_conn *c, const struct xgw_msg *h,
                         const struct xgw_evtchn *e, int ret)
{
    bool with_fd = ret == 0 && (h->op == XGW_OP_EVTCHN_ALLOC_UNBOUND ||
                                h->op == XGW_OP_EVTCHN_BIND_INTERDOMAIN);
    struct xd_out *m = xd_out_new(h->op, h->seq, ret, ret ? 0 : sizeof(*e));

    if (!m) {
        xd_conn_close(c, "out of memory for a reply");
        return;
    }
    if (!ret)
        memcpy(xd_out_payload(m), e, sizeof(*e));
    if (with_fd) {
        /* The client's end goes to it; the daemon keeps only its own. */
        struct xd_port *p = &c->dom->ports[e->port];
        int r = xd_out_add_fd(m, p->cfd);

        p->cfd = -1;
        if (r == 0) {
            xd_reply(c, m);
            return;
        }
        /* Undo: the client cannot use a port it has no fd for. */
        port_close(c->dom, &c->dom->ports[e->port]);
        xd_out_free(m);
        xd_reply_err(c, h, -ENOMEM);
        return;
    }
    xd_reply(c, m);
}

/* Signals port p (its client end polls readable until consumed). */
void xd_evtchn_signal(struct xd_port *p)
{
    if (p->sfd >= 0)
        (void)!write(p->sfd, "", 1); /* EAGAIN: full, readable anyway */
}

void xd_evtchn_op(struct xd_conn *c, struct xd_rx *rx)
{
    struct xgw_evtchn e;
    int ret;

    if (rx->hdr.len != sizeof(e)) {
        xd_log_conn(c, "bad message: op 0x%x len %u", rx->hdr.op, rx->hdr.len);
        xd_reply_err(c, &rx->hdr, -EINVAL);
        return;
    }
    memcpy(&e, rx->pay, sizeof(e));
    switch (rx->hdr.op) {
    case XGW_OP_EVTCHN_ALLOC_UNBOUND:
        ret = alloc_unbound(c, &e);
        break;
    case XGW_OP_EVTCHN_BIND_INTERDOMAIN:
        ret = bind_interdomain(c, &e);
        break;
    case XGW_OP_EVTCHN_SEND:
        ret = send_event(c, &e);
        xd_ca_kick_result(c, e.port, ret);
        break;
    default:
        ret = close_port(c, &e);
        break;
    }
    evtchn_reply(c, &rx->hdr, &e, ret);
}

int xd_evtchn_kick(struct xd_conn *c, uint32_t port)
{
    struct xgw_evtchn e = {.port = port};
    struct xd_port *p;
    int ret = send_event(c, &e);

    xd_ca_kick_result(c, port, ret);
    if (ret == 0)
        return 0;
    /* Nobody waits for this answer: wake the sender's event loop, whose
     * next notify of the port then reports the error (sim_wire.h). */
    p = port_of_conn(c, port);
    if (p)
        xd_evtchn_signal(p);
    return ret;
}

/* A closing connection: the control domain's ports it made are closed;
 * a domU's stay with the domain. */
void xd_evtchn_release_conn(struct xd_conn *c)
{
    struct xd_dom *d = c->dom;

    if (!d || !d->ports)
        return;
    for (unsigned i = 1; i < XD_MAX_PORTS; i++) {
        struct xd_port *p = &d->ports[i];

        if (p->state == XD_PORT_FREE || p->owner != c)
            continue;
        if (d->id == GNTX_DOMID_CONTROL)
            port_close(d, p);
        else
            p->owner = NULL;
    }
}

/* A dying domain: every port closed, interdomain peers dead. */
void xd_evtchn_dom_close(struct xd_dom *d)
{
    if (!d->ports)
        return;
    for (unsigned i = 1; i < XD_MAX_PORTS; i++)
        if (d->ports[i].state != XD_PORT_FREE)
            port_close(d, &d->ports[i]);
    free(d->ports);
    d->ports = NULL;
}
