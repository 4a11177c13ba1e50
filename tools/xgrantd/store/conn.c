/* SPDX-License-Identifier: MIT */
/*
 * conn.c: the store's socket and connections.
 *
 * A connection belongs to the domain the kernel says its peer is in
 * (xd_identify, as for hypercalls).  Framing is xs_wire.h's: a 16-byte
 * header and at most XENSTORE_PAYLOAD_MAX bytes; a longer one means the
 * stream cannot be trusted and the connection is closed, like cxenstored.
 * Requests are read while the replies waiting to go out stay under
 * OUT_SOFT bytes; a client that leaves more than OUT_HARD bytes (watch
 * events) unread is disconnected.  The watch events a domU's edits fire
 * are charged to that domU until they are sent: past XST_EVQ_MAX bytes its
 * further events are dropped, so a flooding guest cannot push another
 * client (a backend in domain 0 or a driver domain) to OUT_HARD.  Closed
 * connections are freed between event batches (an event of the batch may
 * still name them).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "private.h"

#define MAX_CONNS      1024u
#define DOM0_RESERVED  64u
#define MSGS_PER_EVENT 32
#define OUT_SOFT       (64u << 10)
#define OUT_HARD_DOMU  (256u << 10)
#define OUT_HARD_DOM0  (8u << 20)

struct xst_store xst = {.lfd = -1};
static struct xd_ratelimit refuse_rl;

/* ---- the socket ---------------------------------------------------------- */

/* libgrant/lib/sockpath.c, linked in through tools/common. */
int lg_store_sock_path_of(const char *xgrantd_sock, char *buf, size_t len);

/* The absolute store socket path: path, else the rule next to xd.sock; a
 * relative one is taken from the current directory. */
static int resolve(const char *path, char *out, size_t len)
{
    char raw[sizeof(xst.sock)], cwd[1024];
    int n;

    if (path)
        n = snprintf(raw, sizeof(raw), "%s", path);
    else
        n = lg_store_sock_path_of(xd.sock, raw, sizeof(raw)) < 0
                ? -1
                : (int)strlen(raw);
    if (n < 0 || (size_t)n >= sizeof(raw))
        return -ENAMETOOLONG;
    if (raw[0] == '/')
        n = snprintf(out, len, "%s", raw);
    else if (!getcwd(cwd, sizeof(cwd)))
        return -errno;
    else
        n = snprintf(out, len, "%s/%s", cwd, raw);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* Binds the store socket (before the daemon leaves its directory). */
int xst_store_listen(const char *path)
{
    int r = resolve(path, xst.sock, sizeof(xst.sock));

    if (r == 0 &&
        strlen(xst.sock) >= sizeof(((struct sockaddr_un *)0)->sun_path))
        r = -ENAMETOOLONG;
    if (r == 0)
        r = xd_sock_clear(xst.sock);
    if (r == 0)
        r = xd_sock_listen(xst.sock);
    if (r < 0) {
        fprintf(stderr, "xgrantd: store socket %s: %s\n",
                path          ? path
                : xst.sock[0] ? xst.sock
                              : "$XENSTORED_PATH",
                r == -EADDRINUSE ? "another store answers there"
                                 : strerror(-r));
        xst.sock[0] = '\0';
        return r;
    }
    xst.lfd = r;
    return xst_dom_init();
}

int xst_store_start(void)
{
    xst.lev = (struct xd_ev){XD_EV_STORE_LISTEN, NULL};
    return xd_epoll_add(xst.lfd, EPOLLIN, &xst.lev);
}

void xst_store_close(void)
{
    while (xst.conns)
        xst_conn_close(xst.conns, NULL);
    xst_reap_graveyard();
    if (xst.lfd >= 0)
        close(xst.lfd);
    xst.lfd = -1;
    if (xst.sock[0])
        unlink(xst.sock);
    xst_node_put(xst.root);
    xst_node_put(xst.special[0]);
    xst_node_put(xst.special[1]);
    xst.root = xst.special[0] = xst.special[1] = NULL;
}

/* ---- connections --------------------------------------------------------- */

static const char *over_limit(const struct xd_dom *d, int fd)
{
    if (xst.nconns >= MAX_CONNS)
        return "too many store connections";
    if (d->id == 0)
        return NULL;
    if (xd_fd_scarce(fd))
        return "xgrantd is short of descriptors";
    if (xst.nconns >= MAX_CONNS - DOM0_RESERVED)
        return "too many store connections (the rest are for domain 0)";
    if (xst.sconns[d->id] >= xd.max_dom_conns)
        return "too many store connections for its domain";
    return NULL;
}

static struct xst_conn *conn_new(int fd, pid_t pid, uint16_t dom)
{
    struct xst_conn *c = calloc(1, sizeof(*c));

    if (!c)
        return NULL;
    c->fd = fd;
    c->pid = pid;
    c->dom = dom;
    c->ev = (struct xd_ev){XD_EV_STORE_CONN, c};
    c->ev_mask = EPOLLIN;
    if (xd_epoll_add(fd, EPOLLIN, &c->ev) < 0) {
        free(c);
        return NULL;
    }
    c->next = xst.conns;
    if (xst.conns)
        xst.conns->prev = c;
    xst.conns = c;
    xst.nconns++;
    xst.sconns[dom]++;
    return c;
}

void xst_accept(void)
{
    struct ucred cr;
    socklen_t len = sizeof(cr);
    struct xd_dom *d;
    const char *why = "cannot read its credentials";
    int fd, pidfd = -1;

    fd = accept4(xst.lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return; /* EAGAIN, or out of fds: the next event retries */
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == 0) {
        pidfd = xd_peer_pidfd(fd, cr.pid);
        d = xd_identify(cr.pid, cr.uid, pidfd, &why);
        if (d)
            why = over_limit(d, fd);
        if (d && !why && !conn_new(fd, cr.pid, d->id))
            why = "out of memory";
    }
    if (pidfd >= 0)
        close(pidfd);
    if (why) {
        xd_log_rl(&refuse_rl, "store: pid %d: connection refused (%s)",
                  (int)cr.pid, why);
        close(fd);
    }
}

/* Frees a message, uncharging the domain whose edit fired it. */
static void outm_free(struct xst_outm *m)
{
    if (m->origin)
        xst.evq[m->origin] -= (uint32_t)m->len;
    free(m);
}

static void out_free_all(struct xst_conn *c)
{
    while (c->out) {
        struct xst_outm *m = c->out;

        c->out = m->next;
        outm_free(m);
    }
    c->out_tail = NULL;
    c->out_bytes = 0;
}

void xst_conn_close(struct xst_conn *c, const char *why)
{
    if (c->closed)
        return;
    if (why)
        xd_log_domid(c->dom, "store: pid %d: closed: %s", (int)c->pid, why);
    c->closed = true;
    xst_txn_drop_all(c);
    xst_watch_drop_all(c);
    out_free_all(c);
    xd_epoll_del(c->fd);
    close(c->fd);
    c->fd = -1;
    if (c->prev)
        c->prev->next = c->next;
    else
        xst.conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    xst.nconns--;
    xst.sconns[c->dom]--;
    c->next = xst.grave;
    xst.grave = c;
}

void xst_reap_graveyard(void)
{
    while (xst.grave) {
        struct xst_conn *c = xst.grave;

        xst.grave = c->next;
        free(c);
    }
}

/* ---- output -------------------------------------------------------------- */

static void update_mask(struct xst_conn *c)
{
    uint32_t m =
        (c->out_bytes < OUT_SOFT ? EPOLLIN : 0) | (c->out ? EPOLLOUT : 0);

    if (!c->closed && m != c->ev_mask && xd_epoll_mod(c->fd, m, &c->ev) == 0)
        c->ev_mask = m;
}

/* Sends what the socket takes; -errno when the connection is broken. */
static int flush(struct xst_conn *c)
{
    while (c->out) {
        struct xst_outm *m = c->out;
        ssize_t n = send(c->fd, m->buf + m->off, m->len - m->off,
                         MSG_DONTWAIT | MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno == EAGAIN ? 0 : -errno;
        m->off += (size_t)n;
        c->out_bytes -= (size_t)n;
        if (m->off < m->len)
            continue;
        c->out = m->next;
        if (!c->out)
            c->out_tail = NULL;
        outm_free(m);
    }
    return 0;
}

/* Queues a message (an event charged to origin unless 0) and sends what
 * the socket takes; false when the connection had to be closed. */
static bool queue(struct xst_conn *c, uint16_t origin, uint32_t type,
                  uint32_t req, uint32_t tx, const void *p1, size_t l1,
                  const void *p2, size_t l2)
{
    struct xsd_sockmsg h = {type, req, tx, (uint32_t)(l1 + l2)};
    size_t hard = c->dom ? OUT_HARD_DOMU : OUT_HARD_DOM0;
    struct xst_outm *m;

    if (c->closed)
        return false;
    if (c->out_bytes + sizeof(h) + l1 + l2 > hard) {
        xst_conn_close(c, "leaves too many replies and events unread");
        return false;
    }
    m = malloc(sizeof(*m) + sizeof(h) + l1 + l2);
    if (!m) {
        xst_conn_close(c, "out of memory for a reply");
        return false;
    }
    m->next = NULL;
    m->len = sizeof(h) + l1 + l2;
    m->off = 0;
    m->origin = origin;
    if (origin)
        xst.evq[origin] += (uint32_t)m->len;
    memcpy(m->buf, &h, sizeof(h));
    if (l1)
        memcpy(m->buf + sizeof(h), p1, l1);
    if (l2)
        memcpy(m->buf + sizeof(h) + l1, p2, l2);
    if (c->out_tail)
        c->out_tail->next = m;
    else
        c->out = m;
    c->out_tail = m;
    c->out_bytes += m->len;
    if (flush(c) < 0) {
        xst_conn_close(c, NULL);
        return false;
    }
    update_mask(c);
    return true;
}

bool xst_send(struct xst_conn *c, uint32_t type, uint32_t req, uint32_t tx,
              const void *p1, size_t l1, const void *p2, size_t l2)
{
    return queue(c, 0, type, req, tx, p1, l1, p2, l2);
}

bool xst_send_event(struct xst_conn *c, const char *path, const char *token)
{
    static struct xd_ratelimit rl;
    uint16_t o = xst.origin;

    if (o && xst.evq[o] >= XST_EVQ_MAX) {
        xd_log_rl(&rl,
                  "store: dom %u: watch event for dom %u dropped (dom %u "
                  "has %u bytes of events unread)",
                  (unsigned)o, (unsigned)c->dom, (unsigned)o,
                  (unsigned)xst.evq[o]);
        return true;
    }
    return queue(c, o, XS_WATCH_EVENT, 0, 0, path, strlen(path) + 1, token,
                 strlen(token) + 1);
}

static const char *err_name(int err)
{
    for (size_t i = 0; i < sizeof(xsd_errors) / sizeof(xsd_errors[0]); i++)
        if (xsd_errors[i].errnum == err)
            return xsd_errors[i].errstring;
    return "EINVAL";
}

void xst_send_err(struct xst_conn *c, const struct xsd_sockmsg *h, int err)
{
    const char *s = err_name(err < 0 ? -err : err);

    xst_send(c, XS_ERROR, h->req_id, h->tx_id, s, strlen(s) + 1, NULL, 0);
}

void xst_send_ok(struct xst_conn *c, const struct xsd_sockmsg *h)
{
    xst_send(c, h->type, h->req_id, h->tx_id, "OK", 3, NULL, 0);
}

/* ---- input --------------------------------------------------------------- */

/* Reads into the current message: 1 complete, 0 more to come, -errno when
 * the connection must close (-ECONNRESET at EOF). */
static int rx_step(struct xst_conn *c)
{
    for (;;) {
        bool in_hdr = c->hdr_got < sizeof(c->hdr);
        char *dst = in_hdr ? (char *)&c->hdr + c->hdr_got : c->pay + c->pay_got;
        size_t want =
            in_hdr ? sizeof(c->hdr) - c->hdr_got : c->hdr.len - c->pay_got;
        ssize_t n;

        if (!in_hdr && want == 0)
            return 1;
        n = recv(c->fd, dst, want, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno == EAGAIN ? 0 : -errno;
        if (n == 0)
            return -ECONNRESET;
        if (!in_hdr) {
            c->pay_got += (size_t)n;
            continue;
        }
        c->hdr_got += (size_t)n;
        if (c->hdr_got == sizeof(c->hdr) && c->hdr.len > XENSTORE_PAYLOAD_MAX)
            return -EMSGSIZE;
    }
}

void xst_conn_event(struct xst_conn *c, uint32_t events)
{
    if (c->closed)
        return;
    if ((events & EPOLLOUT) && flush(c) < 0) {
        xst_conn_close(c, NULL);
        return;
    }
    for (int i = 0; i < MSGS_PER_EVENT && !c->closed &&
                    c->out_bytes < OUT_SOFT && (events & EPOLLIN);
         i++) {
        int r = rx_step(c);

        if (r == 0)
            break;
        if (r < 0) {
            xst_conn_close(c, r == -EMSGSIZE ? "message longer than "
                                               "XENSTORE_PAYLOAD_MAX"
                                             : NULL);
            return;
        }
        c->pay[c->hdr.len] = '\0';
        xst_dispatch(c);
        c->hdr_got = c->pay_got = 0;
    }
    if ((events & (EPOLLHUP | EPOLLERR)) && !(events & EPOLLIN))
        xst_conn_close(c, NULL);
    else
        update_mask(c);
}

const char *xst_store_path(void)
{
    return xst.sock;
}
