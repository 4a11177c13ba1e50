/* SPDX-License-Identifier: MIT */
/* raw.c: a hand-made sim-wire client for tests that break the protocol. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "libgrant/abi/sim_wire.h"
#include "raw.h"

int raw_connect(struct raw *r)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    const char *path = getenv(XGW_SOCK_ENV);

    if (!path || strlen(path) >= sizeof(sa.sun_path))
        return -EINVAL;
    strcpy(sa.sun_path, path);
    r->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (r->fd < 0)
        return -errno;
    if (connect(r->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(r->fd);
        return -errno;
    }
    r->seq = 1;
    return 0;
}

int raw_send(struct raw *r, uint32_t op, uint32_t count, uint64_t aux_count,
             const void *payload, uint32_t len, uint32_t claimed_len)
{
    struct xgw_msg m = {.magic = XGW_MAGIC,
                        .op = op,
                        .seq = r->seq++,
                        .count = count,
                        .aux_count = aux_count,
                        .len = claimed_len};

    if (send(r->fd, &m, sizeof(m), MSG_NOSIGNAL) != sizeof(m))
        return -EPIPE;
    if (len && send(r->fd, payload, len, MSG_NOSIGNAL) != (ssize_t)len)
        return -EPIPE;
    (void)len;
    return 0;
}

/* Reads one response (closing any fds) into *m and up to cap payload
 * bytes into buf.  -ECONNRESET when the daemon closed the connection. */
int raw_recv(struct raw *r, struct xgw_msg *m, void *buf, size_t cap)
{
    char cbuf[CMSG_SPACE(sizeof(int) * 8)];
    struct iovec iov = {m, sizeof(*m)};
    struct msghdr mh = {.msg_iov = &iov,
                        .msg_iovlen = 1,
                        .msg_control = cbuf,
                        .msg_controllen = sizeof(cbuf)};
    struct cmsghdr *c;
    uint32_t got = 0;
    ssize_t n;
    char sink[4096];

    n = recvmsg(r->fd, &mh, MSG_WAITALL | MSG_CMSG_CLOEXEC);
    if (n != sizeof(*m))
        return -ECONNRESET;
    for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
        if (c->cmsg_type == SCM_RIGHTS)
            for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                 i++)
                close(((int *)CMSG_DATA(c))[i]);
    while (got < m->len) {
        size_t want = m->len - got;
        void *dst = sink;
        if (got < cap) {
            dst = (char *)buf + got;
            want = cap - got < want ? cap - got : want;
        } else if (want > sizeof(sink)) {
            want = sizeof(sink);
        }
        n = read(r->fd, dst, want);
        if (n <= 0)
            return -ECONNRESET;
        got += (uint32_t)n;
    }
    return 0;
}

int raw_hello(struct raw *r)
{
    struct xgw_hello_req req = {.abi_version = GNTX_ABI_VERSION};
    struct xgw_msg m;
    int rc;

    rc = raw_connect(r);
    if (rc < 0)
        return rc;
    if (raw_send(r, XGW_OP_HELLO, 1, 0, &req, sizeof(req), sizeof(req)) ||
        raw_recv(r, &m, NULL, 0) || m.ret < 0) {
        close(r->fd);
        return -EPROTO;
    }
    return 0;
}

/* One well-framed request; returns its ret (or -ECONNRESET). */
int64_t raw_call(struct raw *r, uint32_t op, uint32_t count, uint64_t aux,
                 const void *p, uint32_t len, void *out, size_t cap)
{
    struct xgw_msg m;

    if (raw_send(r, op, count, aux, p, len, len) || raw_recv(r, &m, out, cap))
        return -ECONNRESET;
    return m.ret;
}
