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
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "private.h"

#define MAX_CONNS      4096u
#define MSGS_PER_EVENT 16
#define ACKS_PER_EVENT 64
#define MAX_PPID_WALK  4096
#define RX_FIRST_CHUNK 65536u

static unsigned nconns;

/* ---- identity ------------------------------------------------------------ */

/* Parent and session of pid from /proc/<pid>/stat; 0 or -errno. */
static int proc_stat(pid_t pid, pid_t *ppid, pid_t *sid)
{
    char path[64], buf[1024];
    const char *p;
    ssize_t n;
    int fd, pp, pg, ss;
    char st;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -EIO;
    buf[n] = '\0';
    /* comm may hold anything, ')' included: parse after the last one. */
    p = strrchr(buf, ')');
    if (!p || sscanf(p + 1, " %c %d %d %d", &st, &pp, &pg, &ss) != 4)
        return -EIO;
    *ppid = pp;
    *sid = ss;
    return 0;
}

/*
 * The domain pid belongs to, NULL for the control domain; *refuse when the
 * peer may not connect at all.
 */
static struct xd_dom *identify(pid_t pid, uid_t uid, bool *refuse)
{
    struct xd_dom *d = NULL;
    pid_t p = pid, ppid, sid;

    *refuse = false;
    /* Every domain leads its own session: its process tree is in it. */
    if (proc_stat(pid, &ppid, &sid) == 0 && sid > 1)
        d = xd_dom_of_pid(sid);
    for (int i = 0; !d && p > 1 && i < MAX_PPID_WALK; i++) {
        d = xd_dom_of_pid(p);
        if (d || proc_stat(p, &ppid, &sid) < 0)
            break;
        p = ppid;
    }
    if (d) {
        *refuse = d->state != XGW_DOM_RUNNING;
        return d;
    }
    if (uid == 0 || uid == geteuid())
        return xd_dom_get(GNTX_DOMID_CONTROL);
    *refuse = true;
    return NULL;
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

static struct xd_conn *conn_new(int fd, pid_t pid, uid_t uid, struct xd_dom *d)
{
    struct xd_conn *c = calloc(1, sizeof(*c));

    if (!c)
        return NULL;
    c->serial = ++xd.next_serial;
    c->fd = fd;
    c->nfd = -1;
    c->pid = pid;
    c->uid = uid;
    c->dom = d;
    c->wait_dom = -1;
    c->ev = (struct xd_ev){XD_EV_CONN, c};
    c->nev = (struct xd_ev){XD_EV_NOTICE, c};
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
    return c;
}

void xd_accept(void)
{
    struct ucred cr;
    socklen_t len = sizeof(cr);
    struct xd_dom *d;
    bool refuse;
    int fd;

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
    d = identify(cr.pid, cr.uid, &refuse);
    if (refuse || nconns >= MAX_CONNS) {
        xd_log("pid %d uid %u: connection refused (%s)", (int)cr.pid,
               (unsigned)cr.uid,
               nconns >= MAX_CONNS ? "too many connections"
               : d                 ? "its domain is dying"
                                   : "not a domain, not the daemon's user");
        close(fd);
        return;
    }
    if (!conn_new(fd, cr.pid, cr.uid, d)) {
        xd_log("pid %d: out of memory: connection refused", (int)cr.pid);
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

static void rx_reset(struct xd_rx *rx)
{
    for (int i = 0; i < rx->nfds; i++)
        close(rx->fds[i]);
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
    p = realloc(rx->pay, cap);
    if (!p) {
        xd_log_conn(c, "out of memory for a %u-byte message", rx->hdr.len);
        return -ENOMEM;
    }
    rx->pay = p;
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
        if (!in_hdr && rx_grow(c) < 0)
            return -ENOMEM;
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
                                                            : strerror(-r));
            return;
        }
        if (r == 0)
            break;
        xd_dispatch(c, &c->rx);
        rx_reset(&c->rx);
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

static void conn_unlink(struct xd_conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        xd.conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = NULL;
    c->next = xd.graveyard;
    xd.graveyard = c;
    nconns--;
}

/*
 * Closes c and undoes everything it owns: its deferred reply is dropped,
 * acks it owed stop being waited for, its mappings are unmapped, its
 * memory blocks freed, its ports closed (control domain).  Idempotent.
 * `why` is logged when not NULL (an error); a plain close is debug only.
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
    conn_unlink(c);
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
    rx_reset(&c->rx);
    if (c->defer) {
        c->defer->requester = NULL;
        c->defer = NULL;
    }
    xd_acks_drop_conn(c);
    xd_maps_drop_conn(c);
    xd_mem_release_conn(c);
    xd_evtchn_release_conn(c);
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
