/* SPDX-License-Identifier: MIT */
/*
 * conn.c: client connections: accept, identity, framing, teardown.
 *
 * Identity comes from the kernel only: SO_PEERCRED's pid is looked up among
 * the domains' processes (its session, then its parent chain); otherwise
 * the daemon's uid or root is the control domain; anyone else is refused.
 *
 * Framing: a message is read header first, then exactly `len` payload
 * bytes, so file descriptors (which the kernel never merges across a
 * message carrying them) belong to the message being read.  A bad header
 * (magic, len) means the stream can no longer be followed: the connection
 * is closed.  A connection serves one request at a time: while a reply is
 * deferred or unsent, the daemon stops reading from it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "private.h"

#define MAX_CONNS      4096u
#define DOM0_RESERVED  256u /* of MAX_CONNS: for the control domain only */
#define MSGS_PER_EVENT 16
#define ACKS_PER_EVENT 64
#define MAX_PPID_WALK  4096
#define RX_FIRST_CHUNK 65536u
#define RX_SMALL_MAX   4096u /* most sim ops, any op before HELLO: far less */
#define RX_PRE_HELLO   64u
#define RX_DOM_MAX     (24u << 20)  /* bytes buffered for one domU */
#define RX_DOMU_MAX    (128u << 20) /* ... and for all domUs together */

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

static unsigned nconns;
static struct xd_ratelimit refuse_rl;

/* ---- identity ------------------------------------------------------------ */

/* The domain whose session or parent chain holds pid; *err when /proc
 * could not tell. */
static struct xd_dom *dom_of_tree(pid_t pid, int *err)
{
    struct xd_dom *d = NULL;
    pid_t p = pid, ppid, sid;

    /* Every domain's init leads its own session: its tree is in it. */
    *err = xd_proc_stat(pid, &ppid, &sid, NULL);
    if (*err == 0 && sid > 1)
        d = xd_dom_of_pid(sid);
    for (int i = 0; !d && *err == 0 && p > 1 && i < MAX_PPID_WALK; i++) {
        d = xd_dom_of_pid(p);
        if (d || xd_proc_stat(p, &ppid, &sid, NULL) < 0)
            break;
        p = ppid;
    }
    return d;
}

static struct xd_dom *dom_of_token(const char *tok)
{
    for (unsigned i = 1; i <= xd_dom_id_top(); i++) {
        struct xd_dom *d = xd.doms[i];

        if (d && d->token[0] && strcmp(d->token, tok) == 0)
            return d;
    }
    return NULL;
}

/*
 * The domain of the peer, fail closed: its PID namespace; else its session
 * or parent chain; else the domain token in its environment (a dead
 * domain's token: refused); else, when /proc could tell all that, the
 * daemon's uid or root is the control domain.  NULL and *why when refused.
 */
struct xd_dom *xd_identify(pid_t pid, uid_t uid, int pidfd, const char **why)
{
    char tok[XD_TOKEN_LEN + 8];
    struct xd_dom *d;
    int err_ns, err_tree = 0, t = 0;
    struct pollfd p = {.fd = pidfd, .events = POLLIN};

    *why = NULL;
    d = xd_dom_of_pidns(pid, &err_ns);
    if (!d)
        d = dom_of_tree(pid, &err_tree);
    if (!d && (t = xd_proc_token(pid, tok, sizeof(tok))) == 1 &&
        !(d = dom_of_token(tok)))
        *why = "carries the token of a domain that is gone";
    /* Another user's environment is closed to a non-root daemon; its
     * domains all run as the daemon's user, so such a peer is none of them
     * (root is still domain 0, as ever). */
    if (t < 0 && uid != geteuid())
        t = 0;
    if (!d && !*why && (err_ns < 0 || err_tree < 0 || t < 0))
        *why = "its /proc entry cannot be read";
    /* /proc answered for this very process only if it is still alive. */
    if (!*why && pidfd >= 0 && poll(&p, 1, 0) != 0)
        *why = "gone before it could be identified";
    if (!*why && d && d->state != XGW_DOM_RUNNING)
        *why = "its domain is dying";
    if (!*why && !d && uid != 0 && uid != geteuid())
        *why = "not a domain, not the daemon's user";
    if (*why)
        return NULL;
    return d ? d : xd_dom_get(GNTX_DOMID_CONTROL);
}

/* ---- accept -------------------------------------------------------------- */

/* Out of fds: free the spare one, accept and drop, so the listener does not
 * spin in level-triggered epoll. */
static void accept_emfile(void)
{
    int fd;

    if (xd.reserve_fd >= 0)
        close(xd.reserve_fd);
    fd = accept4(xd.lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd >= 0)
        close(fd);
    xd.reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    xd_log("out of file descriptors: refused a connection");
}

static struct xd_conn *conn_new(int fd, const struct ucred *cr, int pidfd,
                                struct xd_dom *d)
{
    struct xd_conn *c = calloc(1, sizeof(*c));

    if (!c)
        return NULL;
    c->serial = ++xd.next_serial;
    c->fd = fd;
    c->nfd = -1;
    c->maps_fd = -1;
    c->pid = cr->pid;
    c->pidfd = pidfd;
    c->uid = cr->uid;
    c->dom = d;
    c->wait_dom = -1;
    c->ev = (struct xd_ev){XD_EV_CONN, c};
    c->nev = (struct xd_ev){XD_EV_NOTICE, c};
    c->pev = (struct xd_ev){XD_EV_PROC, c};
    c->ev_mask = EPOLLIN;
    if (xd_epoll_add(fd, EPOLLIN, &c->ev) < 0) {
        free(c);
        return NULL;
    }
    c->next = xd.conns;
    if (xd.conns)
        xd.conns->prev = c;
    xd.conns = c;
    nconns++;
    d->nconns++;
    return c;
}

/* A pidfd of the peer as it was at connect (SO_PEERPIDFD, Linux 6.5),
 * else of its pid now; -1 without pidfds. */
int xd_peer_pidfd(int fd, pid_t pid)
{
    socklen_t len = sizeof(int);
    int pidfd = -1;

    if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) == 0 &&
        pidfd >= 0) {
        fcntl(pidfd, F_SETFD, FD_CLOEXEC);
        return pidfd;
    }
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* Why d may not have one more connection (on descriptor fd), NULL when it
 * may. */
static const char *over_limit(const struct xd_dom *d, int fd)
{
    if (nconns >= MAX_CONNS)
        return "too many connections";
    if (d->id == GNTX_DOMID_CONTROL)
        return NULL;
    if (xd_fd_scarce(fd))
        return "xgrantd is short of descriptors (the rest are for domain 0)";
    if (nconns >= MAX_CONNS - DOM0_RESERVED)
        return "too many connections (the rest are for domain 0)";
    if (d->nconns >= xd.max_dom_conns)
        return "too many connections for its domain";
    return NULL;
}

void xd_accept(void)
{
    struct ucred cr;
    socklen_t len = sizeof(cr);
    struct xd_dom *d = NULL;
    const char *why;
    int fd, pidfd;

    fd = accept4(xd.lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE)
            accept_emfile();
        else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
            xd_log("accept: %s", strerror(errno));
        return;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0) {
        xd_log("SO_PEERCRED: %s: connection refused", strerror(errno));
        close(fd);
        return;
    }
    pidfd = xd_peer_pidfd(fd, cr.pid);
    d = xd_identify(cr.pid, cr.uid, pidfd, &why);
    if (d)
        why = over_limit(d, fd);
    if (!why && !conn_new(fd, &cr, pidfd, d))
        why = "out of memory";
    if (why) {
        xd_log_rl(&refuse_rl, "pid %d uid %u%s%s: connection refused (%s)",
                  (int)cr.pid, (unsigned)cr.uid, d ? " of " : "",
                  d ? d->name : "", why);
        if (pidfd >= 0)
            close(pidfd);
        close(fd);
        return;
    }
    xd_dbg("dom %u (%s): pid %d connected", d->id, d->name, (int)cr.pid);
}

/* ---- epoll interest --------------------------------------------------------
 */

/* Free to take a request, on the socket or in the call area. */
bool xd_conn_idle(const struct xd_conn *c)
{
    return !c->defer && c->wait_dom < 0 && !c->out.head && !c->rx.ready &&
           !xd_ca_busy(c);
}

void xd_conn_update(struct xd_conn *c)
{
    uint32_t m;

    if (c->closed)
        return;
    m = (xd_conn_idle(c) ? EPOLLIN : 0) | (c->out.head ? EPOLLOUT : 0);
    if (m != c->ev_mask && xd_epoll_mod(c->fd, m, &c->ev) == 0)
        c->ev_mask = m;
    if (c->nfd < 0)
        return;
    m = EPOLLIN | (c->nout.head ? EPOLLOUT : 0);
    if (m != c->nev_mask && xd_epoll_mod(c->nfd, m, &c->nev) == 0)
        c->nev_mask = m;
}

/* ---- reading requests ------------------------------------------------------
 */

/* Request bytes buffered: per domain, and for all domUs. */
static void rx_account(struct xd_conn *c, size_t add, size_t sub)
{
    c->dom->rx_bytes = c->dom->rx_bytes + add - sub;
    if (c->dom->id != GNTX_DOMID_CONTROL)
        xd.rx_bytes_domu = xd.rx_bytes_domu + add - sub;
}

static void rx_reset(struct xd_conn *c)
{
    struct xd_rx *rx = &c->rx;

    for (int i = 0; i < rx->nfds; i++)
        close(rx->fds[i]);
    rx_account(c, 0, rx->pay_cap);
    free(rx->pay);
    memset(rx, 0, sizeof(*rx));
}

static void rx_take_fds(struct xd_rx *rx, struct msghdr *mh)
{
    if (mh->msg_flags & MSG_CTRUNC)
        rx->fds_lost = true;
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
        size_t n;

        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
            continue;
        n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < n; i++) {
            int fd;

            memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(fd));
            if (rx->nfds < XD_RX_FDS) {
                rx->fds[rx->nfds++] = fd;
            } else {
                close(fd);
                rx->fds_lost = true;
            }
        }
    }
}

/* recvmsg into buf, collecting fds; > 0 bytes, 0 EOF, -errno. */
static ssize_t rx_recv(struct xd_conn *c, void *buf, size_t len)
{
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int) * XD_RX_FDS)];
    } cbuf;
    struct iovec iov = {buf, len};
    struct msghdr mh = {.msg_iov = &iov,
                        .msg_iovlen = 1,
                        .msg_control = cbuf.buf,
                        .msg_controllen = sizeof(cbuf.buf)};
    ssize_t n;

    do
        n = recvmsg(c->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    rx_take_fds(&c->rx, &mh);
    return n;
}

/*
 * The most payload an op may carry: what a hypercall's counts call for (a
 * request that will be refused: a small one), a control domain's
 * DOMAIN_CREATE (argv), little for the rest, and before HELLO only HELLO.
 */
static size_t rx_max_len(const struct xd_conn *c, const struct xgw_msg *h)
{
    size_t hc;

    if (!c->hello)
        return RX_PRE_HELLO;
    if (h->op < XGW_OP_SIM_BASE) {
        hc = xd_hcall_max_len(h);
        return hc > RX_SMALL_MAX ? hc : RX_SMALL_MAX;
    }
    if (h->op == XGW_OP_DOMAIN_CREATE && c->dom->id == GNTX_DOMID_CONTROL)
        return XGW_MAX_PAYLOAD;
    return RX_SMALL_MAX;
}

/* The header is in: can the stream still be followed? */
static int rx_check_header(struct xd_conn *c)
{
    const struct xgw_msg *h = &c->rx.hdr;

    if (h->magic != XGW_MAGIC) {
        xd_log_conn(c, "bad message: magic 0x%08x", h->magic);
        return -EPROTO;
    }
    if (h->len > XGW_MAX_PAYLOAD) {
        xd_log_conn(c, "bad message: len %u > max %u", h->len, XGW_MAX_PAYLOAD);
        return -EMSGSIZE;
    }
    if (h->len > rx_max_len(c, h)) {
        xd_log_conn(c, "bad message: op 0x%x len %u > %zu, its most%s", h->op,
                    h->len, rx_max_len(c, h), c->hello ? "" : " before hello");
        return -EMSGSIZE;
    }
    return 0;
}

/*
 * Room for the next payload bytes.  The buffer grows with what actually
 * arrives, so a header promising 8 MiB costs nothing until they come.
 */
static int rx_grow(struct xd_conn *c)
{
    struct xd_rx *rx = &c->rx;
    size_t cap;
    uint8_t *p;

    if (rx->pay_got < rx->pay_cap)
        return 0;
    cap = rx->pay_cap ? rx->pay_cap * 2 : RX_FIRST_CHUNK;
    if (cap > rx->hdr.len)
        cap = rx->hdr.len;
    if (c->dom->id != GNTX_DOMID_CONTROL &&
        (c->dom->rx_bytes + cap - rx->pay_cap > RX_DOM_MAX ||
         xd.rx_bytes_domu + cap - rx->pay_cap > RX_DOMU_MAX)) {
        xd_log_conn(c, "a %u-byte message: over the domain's buffer quota",
                    rx->hdr.len);
        return -ENOBUFS;
    }
    p = realloc(rx->pay, cap);
    if (!p) {
        xd_log_conn(c, "out of memory for a %u-byte message", rx->hdr.len);
        return -ENOMEM;
    }
    rx->pay = p;
    rx_account(c, cap, rx->pay_cap);
    rx->pay_cap = cap;
    return 0;
}

/* Reads what is there of the current message: 1 complete, 0 more to come,
 * -errno (EOF: -ECONNRESET) when the connection must close. */
static int rx_step(struct xd_conn *c)
{
    struct xd_rx *rx = &c->rx;
    ssize_t n;

    while (!rx->ready) {
        bool in_hdr = rx->hdr_got < sizeof(rx->hdr);
        uint8_t *dst;
        size_t want;

        if (!in_hdr && rx->pay_got == rx->hdr.len) {
            rx->ready = true;
            break;
        }
        if (!in_hdr && (n = rx_grow(c)) < 0)
            return (int)n;
        dst =
            in_hdr ? (uint8_t *)&rx->hdr + rx->hdr_got : rx->pay + rx->pay_got;
        want =
            in_hdr ? sizeof(rx->hdr) - rx->hdr_got : rx->pay_cap - rx->pay_got;
        n = rx_recv(c, dst, want);
        if (n == -EAGAIN || n == -EWOULDBLOCK)
            return 0;
        if (n <= 0)
            return n == 0 ? -ECONNRESET : (int)n;
        if (!in_hdr) {
            rx->pay_got += (size_t)n;
            continue;
        }
        rx->hdr_got += (size_t)n;
        if (rx->hdr_got == sizeof(rx->hdr)) {
            int r = rx_check_header(c);
            if (r < 0)
                return r;
        }
    }
    return 1;
}

void xd_conn_event(struct xd_conn *c, uint32_t events)
{
    if (c->closed)
        return;
    if (events & EPOLLOUT) {
        int r = xd_outq_flush(c->fd, &c->out);
        if (r < 0) {
            xd_conn_close(c, "write failed");
            return;
        }
    }
    for (int i = 0; i < MSGS_PER_EVENT && !c->closed && xd_conn_idle(c); i++) {
        int r = rx_step(c);

        if (r == -ECONNRESET) {
            if (c->rx.hdr_got)
                xd_log_conn(c, "connection closed in the middle of a message");
            xd_conn_close(c, NULL);
            return;
        }
        if (r < 0) {
            xd_conn_close(c, r == -EPROTO || r == -EMSGSIZE ? "bad framing"
                             : r == -ENOBUFS                ? "buffer quota"
                                                            : strerror(-r));
            return;
        }
        if (r == 0)
            break;
        xd_dispatch(c, &c->rx);
        rx_reset(c);
    }
    if (c->closed)
        return;
    if ((events & (EPOLLHUP | EPOLLERR)) && !(events & EPOLLIN)) {
        xd_conn_close(c, NULL);
        return;
    }
    xd_conn_update(c);
}

/* ---- the notice socket: acks from the library --------------------------- */

static int notice_step(struct xd_conn *c)
{
    struct xgw_msg hdr;
    const struct xgw_msg *h = &hdr;
    struct xgw_notice n;
    ssize_t r;

    r = recv(c->nfd, c->nrx + c->nrx_got, sizeof(c->nrx) - c->nrx_got,
             MSG_DONTWAIT);
    if (r < 0)
        return errno == EAGAIN || errno == EINTR ? 0 : -errno;
    if (r == 0)
        return -ECONNRESET;
    c->nrx_got += (size_t)r;
    memcpy(&hdr, c->nrx, sizeof(hdr));
    if (c->nrx_got >= sizeof(*h) &&
        (h->magic != XGW_MAGIC || h->op != XGW_NOTICE_UNMAP_ACK ||
         h->len != sizeof(n))) {
        xd_log_conn(c,
                    "bad message on notice socket: magic 0x%08x op 0x%x "
                    "len %u",
                    h->magic, h->op, h->len);
        return -EPROTO;
    }
    if (c->nrx_got < sizeof(c->nrx))
        return 1;
    memcpy(&n, c->nrx + sizeof(*h), sizeof(n));
    c->nrx_got = 0;
    xd_ack_received(c, &n);
    return 1;
}

/*
 * The client closed its end: requests keep working, but it can no longer
 * be told to unmap, so every notice for it now expires at once (its
 * mappings cannot outlive a revoke).
 */
static void notice_lost(struct xd_conn *c)
{
    xd_dbg("dom %u (%s): pid %d closed its notice socket", c->dom->id,
           c->dom->name, (int)c->pid);
    xd_epoll_del(c->nfd);
    close(c->nfd);
    c->nfd = -1;
    xd_outq_clear(&c->nout);
    xd_acks_expire_conn(c);
}

void xd_notice_event(struct xd_conn *c, uint32_t events)
{
    if (c->closed || c->nfd < 0)
        return;
    if ((events & EPOLLOUT) && xd_outq_flush(c->nfd, &c->nout) < 0) {
        notice_lost(c);
        return;
    }
    for (int i = 0; i < ACKS_PER_EVENT && (events & EPOLLIN); i++) {
        int r = notice_step(c);

        if (r == 0)
            break;
        if (r == -EPROTO) {
            xd_conn_close(c, "bad notice socket message");
            return;
        }
        if (r < 0) {
            notice_lost(c);
            return;
        }
    }
    if ((events & (EPOLLHUP | EPOLLERR)) && !(events & EPOLLIN)) {
        notice_lost(c);
        return;
    }
    xd_conn_update(c);
}

/* ---- teardown ----------------------------------------------------------- */

static void list_del(struct xd_conn **head, struct xd_conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        *head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

static void list_push(struct xd_conn **head, struct xd_conn *c)
{
    c->prev = NULL;
    c->next = *head;
    if (*head)
        (*head)->prev = c;
    *head = c;
}

/* Gone for good: what it mapped is unmapped, acks it owed are done. */
static void conn_release(struct xd_conn *c)
{
    if (c->lingering) {
        list_del(&xd.lingering, c);
        c->lingering = false;
    }
    if (c->pidfd >= 0) {
        xd_epoll_del(c->pidfd);
        close(c->pidfd);
        c->pidfd = -1;
    }
    xd_acks_drop_conn(c);
    xd_maps_drop_conn(c);
    if (c->maps_fd >= 0)
        close(c->maps_fd);
    c->maps_fd = -1;
    c->dom->nconns--;
    nconns--;
    c->next = xd.graveyard;
    xd.graveyard = c;
}

/*
 * The socket is closed but the process may still hold mappings (it closed
 * its fds, daemon(3)-style) or owe acks: they stay, in the core too (a plain
 * revoke is refused), until the process is gone.  A notice can no longer
 * reach it: what it owes expires now.
 */
static bool conn_linger(struct xd_conn *c)
{
    struct pollfd p = {.fd = c->pidfd, .events = POLLIN};

    /* Nothing to hold for: no mappings (or none the process can still
     * reach: it exec'd, or unmapped and closed them) and no acks owed. */
    if (c->pidfd < 0 || c->dom->state != XGW_DOM_RUNNING ||
        (!xd_maps_held(c) && !xd_acks_owed(c)) || poll(&p, 1, 0) != 0 ||
        (!xd_acks_owed(c) && !xd_maps_reachable(c)) ||
        xd_epoll_add(c->pidfd, EPOLLIN, &c->pev) < 0)
        return false;
    c->lingering = true;
    list_push(&xd.lingering, c);
    xd_acks_expire_conn(c);
    xd_dbg("dom %u (%s): pid %d closed its connection holding mappings",
           c->dom->id, c->dom->name, (int)c->pid);
    return true;
}

/* A lingering connection's process is gone. */
void xd_conn_proc_event(struct xd_conn *c)
{
    if (c->lingering)
        conn_release(c);
}

/* d is being torn down: its lingering connections go. */
void xd_conn_release_dom(struct xd_dom *d)
{
again:
    for (struct xd_conn *c = xd.lingering; c; c = c->next) {
        if (c->dom == d) {
            conn_release(c);
            goto again;
        }
    }
}

/* SIGKILLs c's process (by pidfd: never a recycled pid). */
void xd_conn_kill(struct xd_conn *c)
{
    if (c->pidfd >= 0)
        syscall(SYS_pidfd_send_signal, c->pidfd, SIGKILL, NULL, 0);
    else if (c->pid > 1)
        kill(c->pid, SIGKILL);
}

/*
 * Closes c and undoes everything it owns: its deferred reply is dropped,
 * acks it owed stop being waited for, its mappings are unmapped (once its
 * process is gone, see conn_linger), its memory blocks freed, its ports
 * closed (control domain).  Idempotent.  `why` is logged when not NULL
 * (an error); a plain close is debug only.
 */
void xd_conn_close(struct xd_conn *c, const char *why)
{
    if (c->closed)
        return;
    c->closed = true;
    if (why)
        xd_log_conn(c, "closing connection: %s", why);
    else
        xd_dbg("dom %u (%s): pid %d disconnected", c->dom->id, c->dom->name,
               (int)c->pid);
    list_del(&xd.conns, c);
    xd_epoll_del(c->fd);
    close(c->fd);
    xd_ca_close(c);
    if (c->nfd >= 0) {
        xd_epoll_del(c->nfd);
        close(c->nfd);
        c->nfd = -1;
    }
    xd_outq_clear(&c->out);
    xd_outq_clear(&c->nout);
    rx_reset(c);
    if (c->defer) {
        c->defer->requester = NULL;
        c->defer = NULL;
    }
    xd_mem_release_conn(c);
    xd_evtchn_release_conn(c);
    xd_io_files_release(c);
    if (!conn_linger(c))
        conn_release(c);
}

void xd_reap_graveyard(void)
{
    xd_dom_reap_graveyard();
    while (xd.graveyard) {
        struct xd_conn *c = xd.graveyard;

        xd.graveyard = c->next;
        free(c->allocs);
        free(c);
    }
}

void xd_conn_close_all(void)
{
    while (xd.conns)
        xd_conn_close(xd.conns, NULL);
    while (xd.lingering)
        conn_release(xd.lingering);
}

/* Shutdown: give queued replies a last chance (bounded). */
void xd_flush_all(int timeout_ms)
{
    uint64_t end = xd_now_ms() + (uint64_t)timeout_ms;

    for (;;) {
        bool pending = false;

        for (struct xd_conn *c = xd.conns; c; c = c->next) {
            if (c->out.head && xd_outq_flush(c->fd, &c->out) == 0)
                pending = true;
        }
        if (!pending || xd_now_ms() >= end)
            return;
        usleep(10000);
    }
}
