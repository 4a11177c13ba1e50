/* SPDX-License-Identifier: MIT */
/*
 * sim_io.c: sim_wire.h framing.  Blocking writes of header + payload (EINTR
 * and partial writes handled, SIGPIPE never raised), reads of a header with
 * its SCM_RIGHTS fds, then of the payload; one request/response round trip
 * under the connection's lock, with the seq checked.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../private.h"

#define SIM_MAX_IOV 8
#define SIM_MAX_FDS XGW_MAX_MAP_BATCH /* MAP: one fd per mapped element */

int lg_sim_read_full(int fd, void *buf, size_t len)
{
    uint8_t *p = buf;
    ssize_t n;

    while (len > 0) {
        n = read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -ECONNRESET;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int lg_sim_discard(int fd, uint64_t len)
{
    uint8_t sink[4096];
    size_t want;
    int rc;

    while (len > 0) {
        want = len < sizeof(sink) ? (size_t)len : sizeof(sink);
        rc = lg_sim_read_full(fd, sink, want);
        if (rc < 0)
            return rc;
        len -= want;
    }
    return 0;
}

static void attach_fds(struct msghdr *mh, void *cbuf, const int *fds,
                       unsigned nfds)
{
    struct cmsghdr *c;

    mh->msg_control = cbuf;
    mh->msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
    c = CMSG_FIRSTHDR(mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
}

/* Drops the first `n` bytes from the iovec array. */
static void advance(struct iovec *iov, int *iovcnt, size_t n)
{
    int i = 0, j;

    while (i < *iovcnt && n >= iov[i].iov_len)
        n -= iov[i++].iov_len;
    if (i < *iovcnt) {
        iov[i].iov_base = (uint8_t *)iov[i].iov_base + n;
        iov[i].iov_len -= n;
    }
    for (j = 0; i + j < *iovcnt; j++)
        iov[j] = iov[i + j];
    *iovcnt = j;
}

int lg_sim_write_full(int fd, const struct iovec *iov_in, int iovcnt,
                      const int *fds, unsigned nfds)
{
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int) * SIM_MAX_FDS)];
    } cbuf;
    struct iovec iov[SIM_MAX_IOV];
    struct msghdr mh = {0};
    ssize_t n;

    if (iovcnt > SIM_MAX_IOV || nfds > SIM_MAX_FDS)
        return -E2BIG;
    memcpy(iov, iov_in, sizeof(*iov) * (size_t)iovcnt);
    advance(iov, &iovcnt, 0); /* drops empty leading parts */
    if (nfds)
        attach_fds(&mh, cbuf.buf, fds, nfds);
    while (iovcnt > 0) {
        mh.msg_iov = iov;
        mh.msg_iovlen = (size_t)iovcnt;
        n = sendmsg(fd, &mh, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -ECONNRESET;
        mh.msg_control = NULL; /* the fds went with the first byte */
        mh.msg_controllen = 0;
        advance(iov, &iovcnt, (size_t)n);
    }
    return 0;
}

/* Takes the fds of a received control message: up to max into fds, the
 * rest closed.  -EPROTO if the kernel had to cut them off. */
static int take_fds(struct msghdr *mh, int *fds, unsigned max, unsigned *nr)
{
    struct cmsghdr *c;
    size_t i, k;
    int *p;

    for (c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        p = (int *)(void *)CMSG_DATA(c);
        k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (i = 0; i < k; i++) {
            if (*nr < max)
                fds[(*nr)++] = p[i];
            else
                close(p[i]);
        }
    }
    return (mh->msg_flags & MSG_CTRUNC) ? -EPROTO : 0;
}

static void close_fds(int *fds, unsigned *nr)
{
    while (*nr > 0)
        close(fds[--*nr]);
}

int lg_sim_recv_hdr(int fd, struct xgw_msg *m, int *fds, unsigned max_fds,
                    unsigned *nr_fds)
{
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int) * SIM_MAX_FDS)];
    } cbuf;
    struct iovec iov = {m, sizeof(*m)};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    ssize_t n;
    int rc;

    *nr_fds = 0;
    do {
        mh.msg_control = cbuf.buf;
        mh.msg_controllen = sizeof(cbuf.buf);
        n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n <= 0)
        return -ECONNRESET;
    rc = take_fds(&mh, fds, max_fds, nr_fds);
    if (rc == 0 && (size_t)n < sizeof(*m))
        rc = lg_sim_read_full(fd, (uint8_t *)m + n, sizeof(*m) - (size_t)n);
    if (rc == 0 && m->magic != XGW_MAGIC)
        rc = -EPROTO;
    if (rc < 0)
        close_fds(fds, nr_fds);
    return rc;
}

/* Reads the response payload into r->rep and r->aux.  A payload that does
 * not fit the expected layout is skipped whole (the stream stays in step)
 * and reported as -EPROTO. */
static int read_payload(int fd, const struct xgw_msg *m, struct sim_rpc *r)
{
    uint64_t rest;

    r->got_rep = 0;
    r->aux_got = 0;
    if (m->len == 0)
        return 0;
    if (m->len < r->rep_size)
        goto skip;
    rest = m->len - r->rep_size;
    if (rest &&
        (!r->aux_elem || rest % r->aux_elem || rest / r->aux_elem > r->aux_cap))
        goto skip;
    if (lg_sim_read_full(fd, r->rep, r->rep_size) < 0)
        return -ECONNRESET;
    r->got_rep = 1;
    if (rest && lg_sim_read_full(fd, r->aux, (size_t)rest) < 0)
        return -ECONNRESET;
    r->aux_got = rest ? rest / r->aux_elem : 0;
    return 0;
skip:
    return lg_sim_discard(fd, m->len) < 0 ? -ECONNRESET : -EPROTO;
}

static int send_request(struct sim_conn *c, struct sim_rpc *r)
{
    struct xgw_msg m = {.magic = XGW_MAGIC,
                        .op = r->op,
                        .seq = ++c->seq,
                        .count = r->count,
                        .aux_count = r->aux_count,
                        .nfds = r->nfds_in};
    struct iovec iov[SIM_MAX_IOV];
    uint64_t len = 0;
    int i;

    if (r->iovcnt >= SIM_MAX_IOV)
        return -E2BIG;
    iov[0] = (struct iovec){&m, sizeof(m)};
    for (i = 0; i < r->iovcnt; i++) {
        iov[i + 1] = r->iov[i];
        len += r->iov[i].iov_len;
    }
    if (len > XGW_MAX_PAYLOAD)
        return -E2BIG;
    m.len = (uint32_t)len;
    return lg_sim_write_full(c->fd, iov, r->iovcnt + 1, r->fds_in, r->nfds_in);
}

/* One round trip.  Every failure but a request too big to send and a
 * well-framed response with a malformed payload loses the stream. */
static int exchange(struct sim_conn *c, struct sim_rpc *r)
{
    struct xgw_msg m;
    int rc;

    rc = send_request(c, r);
    if (rc == -E2BIG)
        return rc;
    if (rc == 0)
        rc = lg_sim_recv_hdr(c->fd, &m, r->fds, r->max_fds, &r->nr_fds);
    if (rc == 0 && (m.seq != c->seq || m.len > XGW_MAX_PAYLOAD)) {
        rc = -EPROTO;
        close_fds(r->fds, &r->nr_fds);
    }
    if (rc < 0) {
        c->broken = 1;
        return rc;
    }
    rc = read_payload(c->fd, &m, r);
    if (rc < 0) {
        c->broken = rc != -EPROTO;
        close_fds(r->fds, &r->nr_fds);
        return rc;
    }
    r->ret = m.ret;
    return 0;
}

int lg_sim_rpc(grant_handle_t *h, struct sim_rpc *r)
{
    struct sim_conn *c = h->tp;
    int rc;

    r->nr_fds = 0;
    r->got_rep = 0;
    r->aux_got = 0;
    if (lg_forked(h))
        return -EBADF;
    pthread_mutex_lock(&c->io_lock);
    if (c->broken)
        rc = -ECONNRESET;
    else if (lg_sim_fast_ok(c, r))
        rc = lg_sim_fast_exchange(c, r);
    else
        rc = exchange(c, r);
    pthread_mutex_unlock(&c->io_lock);
    return rc;
}
