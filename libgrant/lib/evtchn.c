/* SPDX-License-Identifier: MIT */
/*
 * evtchn.c: event channels.  The transport hands back one fd per local
 * port; this file keeps the port -> fd table, and one epoll instance over
 * all of them: the handle's pending fd (grant_evtchn_pending_fd), which an
 * event loop waits on for every port at once.  Under xgrantd a port's fd
 * is the read end of a pipe holding a byte per signal not yet consumed
 * (never the daemon's own open file: see xgrantd's evtchn.c); a
 * transport with its own kind of fd (xen: /dev/xen/evtchn) consumes
 * through evtchn_consume.  Either way the fd polls readable exactly while
 * the port has signals not yet consumed, which is all libgrant.h promises
 * about it: consuming goes through consume(), never a read() of the caller.
 * Nothing here allocates once the ports exist (notify, consume, pending).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "private.h"

/* The handle's epoll instance over its ports' fds, made on first use. */
static int pending_fd(grant_handle_t *h)
{
    if (h->evt_epfd < 0) {
        h->evt_epfd = epoll_create1(EPOLL_CLOEXEC);
        if (h->evt_epfd < 0)
            return -errno;
    }
    return h->evt_epfd;
}

/* Level-triggered: the pending fd stays readable while `fd` is. */
static int watch(grant_handle_t *h, uint32_t port, int fd)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = port};
    int ep = pending_fd(h);

    if (ep < 0)
        return ep;
    return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

/* Explicitly: on xen the fd is a dup, and closing it alone would leave the
 * open file (and its registration) alive. */
static void unwatch(grant_handle_t *h, int fd)
{
    if (h->evt_epfd >= 0)
        epoll_ctl(h->evt_epfd, EPOLL_CTL_DEL, fd, NULL);
}

static struct grant_port *port_find(grant_handle_t *h, uint32_t port)
{
    unsigned i;

    for (i = 0; i < h->nr_ports; i++)
        if (h->ports[i].port == port)
            return &h->ports[i];
    return NULL;
}

static int port_add(grant_handle_t *h, uint32_t port, int fd)
{
    struct grant_port *p = port_find(h, port), *n;
    unsigned cap;

    int rc;

    /* Non-blocking reads: a consumed signal never blocks a wait. */
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    if (p) { /* the hypervisor reused a port we thought closed */
        unwatch(h, p->fd);
        close(p->fd);
        p->fd = -1;
        rc = watch(h, port, fd);
        if (rc < 0) { /* forget it: port_new closes the port */
            *p = h->ports[--h->nr_ports];
            return rc;
        }
        p->fd = fd;
        return 0;
    }
    if (h->nr_ports == h->cap_ports) {
        cap = h->cap_ports ? h->cap_ports * 2 : 8;
        n = realloc(h->ports, cap * sizeof(*n));
        if (!n)
            return -ENOMEM;
        h->ports = n;
        h->cap_ports = cap;
    }
    rc = watch(h, port, fd);
    if (rc < 0)
        return rc;
    h->ports[h->nr_ports++] = (struct grant_port){port, fd};
    return 0;
}

/* Records a new port, or closes it again if that is impossible. */
static int port_new(grant_handle_t *h, uint32_t port, int fd)
{
    int rc = port_add(h, port, fd);

    if (rc < 0) {
        h->ops->evtchn_close(h, port);
        close(fd);
    }
    return rc;
}

int grant_evtchn_alloc_unbound(grant_handle_t *h, grant_domid_t remote,
                               uint32_t *port)
{
    uint32_t p;
    int fd, rc;

    if (!h || !port)
        return lg_fail(h, "grant_evtchn_alloc_unbound", -EINVAL);
    if (lg_forked(h)) /* port_add's epoll_ctl: the parent's instance */
        return lg_fail(h, "grant_evtchn_alloc_unbound", -EBADF);
    rc = h->ops->evtchn_alloc_unbound(h, remote, &p, &fd);
    if (rc == 0)
        rc = port_new(h, p, fd);
    if (rc == 0)
        *port = p;
    return lg_fail(h, "grant_evtchn_alloc_unbound", rc);
}

int grant_evtchn_bind(grant_handle_t *h, grant_domid_t remote,
                      uint32_t remote_port, uint32_t *port)
{
    uint32_t p;
    int fd, rc;

    if (!h || !port)
        return lg_fail(h, "grant_evtchn_bind", -EINVAL);
    if (lg_forked(h)) /* port_add's epoll_ctl: the parent's instance */
        return lg_fail(h, "grant_evtchn_bind", -EBADF);
    rc = h->ops->evtchn_bind(h, remote, remote_port, &p, &fd);
    if (rc == 0)
        rc = port_new(h, p, fd);
    if (rc == 0)
        *port = p;
    return lg_fail(h, "grant_evtchn_bind", rc);
}

int grant_evtchn_notify(grant_handle_t *h, uint32_t port)
{
    if (!h)
        return -EINVAL;
    return lg_fail(h, "grant_evtchn_notify", h->ops->evtchn_send(h, port));
}

int grant_evtchn_notify_async(grant_handle_t *h, uint32_t port)
{
    int rc;

    if (!h)
        return -EINVAL;
    if (lg_forked(h)) /* the parent's call area: not ours to post in */
        return lg_fail(h, "grant_evtchn_notify_async", -EBADF);
    rc = h->ops->evtchn_send_async ? h->ops->evtchn_send_async(h, port)
                                   : h->ops->evtchn_send(h, port);
    return lg_fail(h, "grant_evtchn_notify_async", rc);
}

int grant_evtchn_fd(grant_handle_t *h, uint32_t port)
{
    struct grant_port *p = h ? port_find(h, port) : NULL;

    return p ? p->fd : lg_fail(h, "grant_evtchn_fd", -EINVAL);
}

/* Milliseconds left of timeout_ms since start (-1 stays -1). */
static int remaining(int timeout_ms, const struct timespec *start)
{
    struct timespec now;
    int64_t spent;

    if (timeout_ms < 0)
        return -1;
    clock_gettime(CLOCK_MONOTONIC, &now);
    spent = (now.tv_sec - start->tv_sec) * 1000 +
            (now.tv_nsec - start->tv_nsec) / 1000000;
    return spent >= timeout_ms ? 0 : timeout_ms - (int)spent;
}

/*
 * Consumes what is pending on p, never blocking: how many signals (the
 * xen transport counts deliveries, each unmasking the port again), or
 * -EAGAIN when there were none.
 */
static int consume(grant_handle_t *h, const struct grant_port *p)
{
    char b[4096];
    int n;

    if (lg_forked(h))
        return -EBADF; /* the parent's ports: a read would steal from it */
    if (h->ops->evtchn_consume) {
        n = h->ops->evtchn_consume(h, p->port);
        return n == 0 ? -EAGAIN : n;
    }
    /* A byte a signal (the daemon keeps its pipe at most a page full). */
    do {
        n = (int)read(p->fd, b, sizeof(b));
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    return n ? n : -EPIPE; /* EOF: the daemon closed the port */
}

static int wait_fd(grant_handle_t *h, const struct grant_port *p,
                   int timeout_ms)
{
    struct pollfd pfd = {.fd = p->fd, .events = POLLIN};
    struct timespec start;
    int rc;

    clock_gettime(CLOCK_MONOTONIC, &start);
    do {
        rc = poll(&pfd, 1, remaining(timeout_ms, &start));
    } while (rc < 0 && errno == EINTR);
    if (rc < 0)
        return -errno;
    if (rc == 0)
        return 0;
    rc = consume(h, p);
    return rc == -EAGAIN ? 0 : rc; /* -EAGAIN: someone else consumed it */
}

int grant_evtchn_wait(grant_handle_t *h, uint32_t port, int timeout_ms)
{
    struct grant_port *p = h ? port_find(h, port) : NULL;

    if (!p)
        return lg_fail(h, "grant_evtchn_wait", -EINVAL);
    return lg_fail(h, "grant_evtchn_wait", wait_fd(h, p, timeout_ms));
}

int grant_evtchn_consume(grant_handle_t *h, uint32_t port)
{
    struct grant_port *p = h ? port_find(h, port) : NULL;
    int rc;

    if (!p)
        return lg_fail(h, "grant_evtchn_consume", -EINVAL);
    rc = consume(h, p);
    return rc == -EAGAIN ? rc : lg_fail(h, "grant_evtchn_consume", rc);
}

int grant_evtchn_pending_fd(grant_handle_t *h)
{
    if (!h)
        return -EINVAL;
    if (lg_forked(h))
        return lg_fail(h, "grant_evtchn_pending_fd", -EBADF);
    return lg_fail(h, "grant_evtchn_pending_fd", pending_fd(h));
}

/*
 * One port the pending fd reports, consumed.  epoll hands out ready fds in
 * turn (a level-triggered fd goes to the back of its ready list once
 * reported), so a port signalled without pause never starves the others.
 * A port reported but consumed meanwhile is skipped: at most one pass
 * over the ports.
 */
int grant_evtchn_pending(grant_handle_t *h, uint32_t *port)
{
    struct epoll_event ev;
    struct grant_port *p;
    int n, rc = -EAGAIN;

    if (!h || !port)
        return lg_fail(h, "grant_evtchn_pending", -EINVAL);
    if (lg_forked(h))
        return lg_fail(h, "grant_evtchn_pending", -EBADF);
    if (h->evt_epfd < 0)
        return -EAGAIN;
    for (unsigned tries = 0; rc == -EAGAIN && tries <= h->nr_ports; tries++) {
        do {
            n = epoll_wait(h->evt_epfd, &ev, 1, 0);
        } while (n < 0 && errno == EINTR);
        if (n <= 0)
            return n < 0 ? lg_fail(h, "grant_evtchn_pending", -errno) : -EAGAIN;
        p = port_find(h, ev.data.u32);
        if (!p)
            continue; /* cannot be: closed ports leave the set */
        rc = consume(h, p);
        if (rc > 0)
            *port = p->port;
    }
    return rc == -EAGAIN ? rc : lg_fail(h, "grant_evtchn_pending", rc);
}

int grant_evtchn_close(grant_handle_t *h, uint32_t port)
{
    struct grant_port *p = h ? port_find(h, port) : NULL;
    int rc;

    if (!p)
        return lg_fail(h, "grant_evtchn_close", -EINVAL);
    /* The epoll instance is shared with the parent: an EPOLL_CTL_DEL here
     * would silence the parent's port. */
    if (lg_forked(h))
        return lg_fail(h, "grant_evtchn_close", -EBADF);
    rc = h->ops->evtchn_close(h, port);
    unwatch(h, p->fd);
    close(p->fd);
    *p = h->ports[--h->nr_ports];
    return lg_fail(h, "grant_evtchn_close", rc);
}

/* grant_close: closes every port (and tells the hypervisor). */
void lg_evtchn_release(grant_handle_t *h, int forked)
{
    unsigned i;

    for (i = 0; i < h->nr_ports; i++) {
        if (!forked)
            h->ops->evtchn_close(h, h->ports[i].port);
        close(h->ports[i].fd);
    }
    free(h->ports);
    h->ports = NULL;
    h->nr_ports = h->cap_ports = 0;
    if (h->evt_epfd >= 0)
        close(h->evt_epfd);
    h->evt_epfd = -1;
}
