/* SPDX-License-Identifier: MIT */
/*
 * out.c: outgoing messages.  A message is a struct xgw_msg, its payload and
 * up to XD_OUT_FDS file descriptors that ride on its first byte.  Queues
 * are flushed with non-blocking sendmsg; what does not fit waits for
 * EPOLLOUT, so a client that stops reading stalls only itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "private.h"

struct xd_out *xd_out_new(uint32_t op, uint32_t seq, int64_t ret, size_t paylen)
{
    struct xd_out *m;
    struct xgw_msg *h;
    size_t total;

    if (__builtin_add_overflow(sizeof(*m) + sizeof(*h), paylen, &total))
        return NULL;
    m = calloc(1, total);
    if (!m)
        return NULL;
    m->len = sizeof(*h) + paylen;
    h = (struct xgw_msg *)m->buf;
    h->magic = XGW_MAGIC;
    h->op = op;
    h->seq = seq;
    h->ret = ret;
    h->len = (uint32_t)paylen;
    return m;
}

void xd_out_free(struct xd_out *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->nfds; i++)
        close(m->fds[i]);
    free(m);
}

struct xgw_msg *xd_out_hdr(struct xd_out *m)
{
    return (struct xgw_msg *)m->buf;
}

void *xd_out_payload(struct xd_out *m)
{
    return m->buf + sizeof(struct xgw_msg);
}

/* Sends fewer payload bytes than allocated (QUERY output shorter than its
 * capacity). */
void xd_out_truncate(struct xd_out *m, size_t paylen)
{
    if (sizeof(struct xgw_msg) + paylen < m->len) {
        m->len = sizeof(struct xgw_msg) + paylen;
        xd_out_hdr(m)->len = (uint32_t)paylen;
    }
}

/* Takes ownership of fd (closed on failure too). */
int xd_out_add_fd(struct xd_out *m, int fd)
{
    if (m->nfds >= (int)XD_OUT_FDS) {
        close(fd);
        return -E2BIG;
    }
    m->fds[m->nfds++] = fd;
    xd_out_hdr(m)->nfds = (uint32_t)m->nfds;
    return 0;
}

/* Attaches a duplicate of fd; the caller keeps its own. */
int xd_out_dup_fd(struct xd_out *m, int fd)
{
    int d = fcntl(fd, F_DUPFD_CLOEXEC, 3);

    if (d < 0)
        return -errno;
    return xd_out_add_fd(m, d);
}

void xd_outq_push(struct xd_outq *q, struct xd_out *m)
{
    m->next = NULL;
    if (q->tail)
        q->tail->next = m;
    else
        q->head = m;
    q->tail = m;
}

/* Sends one message's next chunk; fds go with its first byte. */
static ssize_t send_chunk(int fd, struct xd_out *m)
{
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int) * XD_OUT_FDS)];
    } cbuf;
    struct iovec iov = {m->buf + m->off, m->len - m->off};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};

    if (m->off == 0 && m->nfds > 0) {
        struct cmsghdr *cm;

        memset(&cbuf, 0, sizeof(cbuf));
        mh.msg_control = cbuf.buf;
        mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)m->nfds);
        cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)m->nfds);
        memcpy(CMSG_DATA(cm), m->fds, sizeof(int) * (size_t)m->nfds);
    }
    return sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/*
 * Sends as much of the queue as the socket takes.  1: everything sent;
 * 0: more waits for EPOLLOUT; -errno: the socket is broken.
 */
int xd_outq_flush(int fd, struct xd_outq *q)
{
    while (q->head) {
        struct xd_out *m = q->head;
        ssize_t n = send_chunk(fd, m);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            return -errno;
        }
        if (m->off == 0) {
            /* The fds went with the first byte; the receiver owns them. */
            for (int i = 0; i < m->nfds; i++)
                close(m->fds[i]);
            m->nfds = 0;
        }
        m->off += (size_t)n;
        if (m->off == m->len) {
            q->head = m->next;
            if (!q->head)
                q->tail = NULL;
            xd_out_free(m);
        }
    }
    return 1;
}

void xd_outq_clear(struct xd_outq *q)
{
    while (q->head) {
        struct xd_out *m = q->head;

        q->head = m->next;
        xd_out_free(m);
    }
    q->tail = NULL;
}

/* Queues a response on c (dropped if c is closed) and sends what it can;
 * the response to a call area request goes to the area instead. */
void xd_reply(struct xd_conn *c, struct xd_out *m)
{
    int r;

    if (!c || c->closed) {
        xd_out_free(m);
        return;
    }
    if (xd_ca_reply(c, m))
        return; /* the request came through the call area */
    xd_outq_push(&c->out, m);
    r = xd_outq_flush(c->fd, &c->out);
    if (r < 0) {
        xd_conn_close(c, "write failed");
        return;
    }
    xd_conn_update(c);
}

/* A header-only response; on allocation failure the connection is closed
 * (the client would otherwise wait forever). */
void xd_reply_err(struct xd_conn *c, const struct xgw_msg *req, int64_t ret)
{
    struct xd_out *m = xd_out_new(req->op, req->seq, ret, 0);

    if (!m) {
        xd_conn_close(c, "out of memory for a reply");
        return;
    }
    xd_reply(c, m);
}
