/* SPDX-License-Identifier: MIT */
/*
 * evtchn.c: event channels.  The transport hands back one fd per local
 * port; this file keeps the port -> fd table.  Under xgrantd the fd is an
 * eventfd whose counter is the number of signals not yet consumed; a
 * transport with its own kind of fd (xen: /dev/xen/evtchn) consumes
 * through evtchn_consume.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "private.h"

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

    /* Non-blocking reads: a consumed signal never blocks a wait. */
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    if (p) { /* the hypervisor reused a port we thought closed */
        close(p->fd);
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

static int wait_fd(grant_handle_t *h, const struct grant_port *p,
                   int timeout_ms)
{
    struct pollfd pfd = {.fd = p->fd, .events = POLLIN};
    int fd = p->fd;
    struct timespec start;
    uint64_t count;
    ssize_t n;
    int rc;

    clock_gettime(CLOCK_MONOTONIC, &start);
    do {
        rc = poll(&pfd, 1, remaining(timeout_ms, &start));
    } while (rc < 0 && errno == EINTR);
    if (rc < 0)
        return -errno;
    if (rc == 0)
        return 0;
    if (h->ops->evtchn_consume)
        return h->ops->evtchn_consume(h, p->port);
    do {
        n = read(fd, &count, sizeof(count));
    } while (n < 0 && errno == EINTR);
    if (n < 0 && errno == EAGAIN)
        return 0; /* someone else consumed it */
    if (n != sizeof(count))
        return n < 0 ? -errno : -EIO;
    return count > INT_MAX ? INT_MAX : (int)count;
}

int grant_evtchn_wait(grant_handle_t *h, uint32_t port, int timeout_ms)
{
    struct grant_port *p = h ? port_find(h, port) : NULL;

    if (!p)
        return lg_fail(h, "grant_evtchn_wait", -EINVAL);
    return lg_fail(h, "grant_evtchn_wait", wait_fd(h, p, timeout_ms));
}

int grant_evtchn_close(grant_handle_t *h, uint32_t port)
{
    struct grant_port *p = h ? port_find(h, port) : NULL;
    int rc;

    if (!p)
        return lg_fail(h, "grant_evtchn_close", -EINVAL);
    rc = h->ops->evtchn_close(h, port);
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
}
