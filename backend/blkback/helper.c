/* SPDX-License-Identifier: MIT */
/*
 * helper.c: the I/O helper domain's program (xgrant-blkback
 * --blkback-io-helper; iohelper.h has the wire).  It opens its own grant
 * handle, registers the image the daemon passed, then per request runs one
 * grant_io call over the grants the daemon delegated to it, and answers.
 * Everything the daemon sends is checked (magic, segment count, direction)
 * before use; a bad message ends the helper (the daemon starts another).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "iohelper.h"

/* Receives the hello and its descriptor: the fd or -errno. */
static int recv_hello(int sock, struct bbh_msg *m)
{
    char cbuf[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {m, sizeof(*m)};
    struct msghdr mh = {.msg_iov = &iov,
                        .msg_iovlen = 1,
                        .msg_control = cbuf,
                        .msg_controllen = sizeof(cbuf)};
    struct cmsghdr *c;
    ssize_t n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
    int fd = -1;

    if (n < 0)
        return -errno;
    c = CMSG_FIRSTHDR(&mh);
    if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
        c->cmsg_len == CMSG_LEN(sizeof(int)))
        memcpy(&fd, CMSG_DATA(c), sizeof(int));
    if (n < (ssize_t)offsetof(struct bbh_msg, seg) || m->magic != BBH_MAGIC ||
        m->nseg || fd < 0) {
        if (fd >= 0)
            close(fd);
        return -EPROTO;
    }
    return fd;
}

static int answer(int sock, struct bbh_rsp *r, uint32_t nseg)
{
    size_t len = offsetof(struct bbh_rsp, seg) + nseg * sizeof(r->seg[0]);

    r->magic = BBH_MAGIC;
    r->nseg = nseg;
    return send(sock, r, len, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -EPIPE;
}

/* One request: its segments checked, then one grant_io call. */
static void serve_one(grant_handle_t *h, int file, const struct bbh_msg *m,
                      struct grant_io_seg *io, struct bbh_rsp *r,
                      bbh_hook_fn *hook)
{
    unsigned i;
    int rc = 0;

    for (i = 0; i < m->nseg && rc == 0; i++) {
        const struct bbh_seg *s = &m->seg[i];

        if (s->dir != GRANT_IO_READ && s->dir != GRANT_IO_WRITE)
            rc = -EINVAL;
        io[i] = (struct grant_io_seg){.fd = file,
                                      .dir = s->dir | GRANT_IO_FIXED,
                                      .granter = (grant_domid_t)s->granter,
                                      .ref = s->ref,
                                      .file_off = s->file_off,
                                      .len = s->len};
    }
    if (rc == 0 && hook)
        rc = hook(h, file, m);
    if (rc == 0)
        rc = grant_io(h, io, m->nseg);
    r->status = rc;
    for (i = 0; i < m->nseg; i++)
        r->seg[i] = (struct bbh_seg_rsp){.status = rc < 0 ? rc : io[i].status,
                                         .done = rc < 0 ? 0 : io[i].done};
}

int bbh_helper_main(int sock, bbh_hook_fn *hook)
{
    static struct bbh_msg m;
    static struct bbh_rsp r;
    static struct grant_io_seg io[BBH_MAX_SEGS];
    grant_handle_t *h = NULL;
    int fd, file, rc;
    ssize_t n;

    fd = recv_hello(sock, &m);
    if (fd < 0) {
        fprintf(stderr, "xgrant-blkback io-helper: no hello: %s\n",
                strerror(-fd));
        return 1;
    }
    rc = grant_open(&h, 0);
    file = rc < 0 ? rc : grant_io_register(h, fd);
    close(fd);
    r.status = file < 0 ? file : 0;
    r.seq = m.seq;
    if (answer(sock, &r, 0) < 0 || file < 0) {
        grant_close(h);
        return 1;
    }
    for (;;) {
        n = recv(sock, &m, sizeof(m), 0);
        if (n <= 0)
            break; /* the daemon closed: done */
        if (n < (ssize_t)offsetof(struct bbh_msg, seg) ||
            m.magic != BBH_MAGIC || m.nseg < 1 || m.nseg > BBH_MAX_SEGS ||
            (size_t)n !=
                offsetof(struct bbh_msg, seg) + m.nseg * sizeof(m.seg[0])) {
            fprintf(stderr, "xgrant-blkback io-helper: bad message\n");
            break;
        }
        serve_one(h, file, &m, io, &r, hook);
        r.seq = m.seq;
        if (answer(sock, &r, m.nseg) < 0)
            break;
    }
    grant_close(h);
    return 0;
}
