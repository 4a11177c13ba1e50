/* SPDX-License-Identifier: MIT */
/*
 * hostile.c: a client that speaks the sim wire protocol by hand and breaks
 * it on purpose: garbage, wrong sizes, lies about counts, out-of-range
 * frames, control ops from a guest, a frame cut off mid-way.  Each case
 * checks that xgrantd answers with the right error or drops only this
 * connection.  Runs inside a domain (an agent's "hostile" command).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "itest.h"
#include "libgrant/lib/sim_wire.h"

struct raw {
    int fd;
    uint32_t seq;
};

static int raw_connect(struct raw *r)
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

static int raw_send(struct raw *r, uint32_t op, uint32_t count,
                    uint64_t aux_count, const void *payload, uint32_t len,
                    uint32_t claimed_len)
{
    struct xgw_msg m = {.magic = XGW_MAGIC, .op = op, .seq = r->seq++,
                        .count = count, .aux_count = aux_count,
                        .len = claimed_len};

    if (write(r->fd, &m, sizeof(m)) != sizeof(m))
        return -EPIPE;
    if (len && write(r->fd, payload, len) != (ssize_t)len)
        return -EPIPE;
    (void)len;
    return 0;
}

/* Reads one response (closing any fds) into *m and up to cap payload
 * bytes into buf.  -ECONNRESET when the daemon closed the connection. */
static int raw_recv(struct raw *r, struct xgw_msg *m, void *buf, size_t cap)
{
    char cbuf[CMSG_SPACE(sizeof(int) * 8)];
    struct iovec iov = {m, sizeof(*m)};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1,
                        .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
    struct cmsghdr *c;
    uint32_t got = 0;
    ssize_t n;
    char sink[4096];

    n = recvmsg(r->fd, &mh, MSG_WAITALL | MSG_CMSG_CLOEXEC);
    if (n != sizeof(*m))
        return -ECONNRESET;
    for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
        if (c->cmsg_type == SCM_RIGHTS)
            for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++)
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

static int raw_hello(struct raw *r)
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

/* Expect the daemon to drop this connection (read gives EOF). */
static int expect_closed(struct raw *r)
{
    struct xgw_msg m;
    int rc = raw_recv(r, &m, NULL, 0);

    close(r->fd);
    return rc == -ECONNRESET;
}

/* One well-framed request; returns its ret (or -ECONNRESET). */
static int64_t call(struct raw *r, uint32_t op, uint32_t count, uint64_t aux,
                    const void *p, uint32_t len, void *out, size_t cap)
{
    struct xgw_msg m;

    if (raw_send(r, op, count, aux, p, len, len) || raw_recv(r, &m, out, cap))
        return -ECONNRESET;
    return m.ret;
}

#define CASE(cond, what)                                                     \
    do {                                                                     \
        if (!(cond)) {                                                       \
            snprintf(out, len, "case failed: %s", what);                     \
            return -EPROTO;                                                  \
        }                                                                    \
        cases++;                                                             \
    } while (0)

static int framing_cases(char *out, size_t len)
{
    static const char junk[64] = "\x13\x37not a header at all, just bytes";
    struct raw r;
    int cases = 0;

    CASE(raw_connect(&r) == 0 && write(r.fd, junk, sizeof(junk)) > 0 &&
             expect_closed(&r), "garbage bytes close the connection");
    CASE(raw_connect(&r) == 0 &&
             raw_send(&r, GNTX_OP_COPY, 1, 0, NULL, 0, XGW_MAX_PAYLOAD + 1) == 0 &&
             expect_closed(&r), "len above XGW_MAX_PAYLOAD closes");
    CASE(raw_connect(&r) == 0 &&
             call(&r, GNTX_OP_VERSION, 0, 0, NULL, 0, NULL, 0) < 0,
         "a request before HELLO is refused");
    close(r.fd);
    /* Cut off mid-frame: claims 4096 bytes, sends 10, hangs up. */
    CASE(raw_connect(&r) == 0 &&
             raw_send(&r, GNTX_OP_COPY, 1, 0, junk, 10, 4096) == 0,
         "send a truncated frame");
    close(r.fd);
    return cases;
}

static int content_cases(grant_handle_t *h, char *out, size_t len)
{
    struct gntx_copy cp[2] = {0};
    struct gntx_create cr = {0};
    struct xgw_domain_create dc = {.memory_bytes = 1 << 20, .argc = 1};
    struct xgw_mem mem = {.nr_frames = 1};
    uint64_t frames[2] = {0, 1ull << 40};
    char buf[sizeof(cr) + sizeof(frames)];
    int cases = 0;
    int64_t rc;
    struct raw r;

    (void)h;
    if (raw_hello(&r) < 0) {
        snprintf(out, len, "hello failed");
        return -EPROTO;
    }
    CASE(call(&r, 0x999, 0, 0, NULL, 0, NULL, 0) == -ENOSYS, "unknown op -> ENOSYS");
    CASE(call(&r, GNTX_OP_COPY, 2, 0, cp, sizeof(cp[0]), NULL, 0) == -EINVAL,
         "count 2 with one element's bytes -> EINVAL");
    rc = call(&r, GNTX_OP_COPY, GNTX_MAX_BATCH + 1, 0, NULL, 0, NULL, 0);
    CASE(rc == -E2BIG || rc == -EINVAL, "count above GNTX_MAX_BATCH -> E2BIG/EINVAL");
    cr.type = GNTX_CREATE_DIRECT;
    cr.grantee = 0;
    cr.rights = GNTX_R_READ;
    cr.nr_frames = 1;
    cr.frame_idx = 1; /* -> frames[1], far outside this domain's memory */
    cr.length = 16;
    memcpy(buf, &cr, sizeof(cr));
    memcpy(buf + sizeof(cr), frames, sizeof(frames));
    CASE(call(&r, GNTX_OP_CREATE, 1, 2, buf, sizeof(buf), &cr, sizeof(cr)) == -EFAULT &&
             cr.status == -EFAULT, "a frame outside own memory -> EFAULT");
    cr.frame_idx = 7; /* beyond the 2 frames sent */
    memcpy(buf, &cr, sizeof(cr));
    CASE(call(&r, GNTX_OP_CREATE, 1, 2, buf, sizeof(buf), NULL, 0) == -EINVAL,
         "frame_idx beyond aux -> EINVAL");
    CASE(call(&r, GNTX_OP_QUERY_TABLE, 1, (uint64_t)1 << 40, cp, 16, NULL, 0) < 0,
         "a huge output capacity is refused");
    CASE(call(&r, XGW_OP_MEM_ALLOC, 1, 0, &mem, 8, NULL, 0) == -EINVAL,
         "short MEM_ALLOC payload -> EINVAL");
    snprintf(dc.name, sizeof(dc.name), "evil");
    CASE(call(&r, XGW_OP_DOMAIN_CREATE, 1, 0, &dc, sizeof(dc), NULL, 0) == -EPERM,
         "DOMAIN_CREATE from a guest -> EPERM");
    CASE(call(&r, XGW_OP_SHUTDOWN, 0, 0, NULL, 0, NULL, 0) == -EPERM,
         "SHUTDOWN from a guest -> EPERM");
    CASE(call(&r, GNTX_OP_VERSION, 0, 0, NULL, 0, NULL, 0) == GNTX_ABI_VERSION,
         "the connection still works after all that");
    close(r.fd);
    return cases;
}

int itest_hostile(grant_handle_t *h, char *out, size_t len)
{
    int a, b;

    snprintf(out, len, "all cases passed");
    a = framing_cases(out, len);
    if (a < 0)
        return a;
    b = content_cases(h, out, len);
    if (b < 0)
        return b;
    snprintf(out, len, "cases passed");
    return a + b;
}
