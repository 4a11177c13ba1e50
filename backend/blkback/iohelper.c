/* SPDX-License-Identifier: MIT */
/*
 * iohelper.c: the daemon's end of the I/O helper (iohelper.h): spawning
 * the helper domain, one request's round trip, destroying it.  A queue
 * thread owns its helper; nothing here is shared between threads.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "iohelper.h"
#include "libgrant_ctl.h"

#define BBH_MEM_PAGES 16u
#define BBH_TIMEOUT   20000 /* ms for one answer; then the helper is killed */

static long mono_sec(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

/* Waits for b->rsp with sequence seq: 0 or -errno (-ECANCELED: stop_fd,
 * when >= 0, became readable first). */
static int recv_rsp(struct bbh *b, uint64_t seq, uint32_t nseg, int stop_fd)
{
    struct pollfd p[2] = {{.fd = b->sock, .events = POLLIN},
                          {.fd = stop_fd, .events = POLLIN}};
    size_t want = offsetof(struct bbh_rsp, seg) + nseg * sizeof(b->rsp.seg[0]);
    ssize_t n;
    int rc;

    do
        rc = poll(p, 2, BBH_TIMEOUT);
    while (rc < 0 && errno == EINTR);
    if (rc == 0)
        return -ETIMEDOUT;
    if (p[1].revents && !p[0].revents)
        return -ECANCELED;
    n = recv(b->sock, &b->rsp, sizeof(b->rsp), MSG_DONTWAIT);
    if (n < 0)
        return -errno;
    if (n == 0)
        return -EPIPE; /* the helper died */
    if ((size_t)n != want || b->rsp.magic != BBH_MAGIC || b->rsp.seq != seq ||
        b->rsp.nseg != nseg)
        return -EPROTO;
    return 0;
}

/* The hello: the magic and the image descriptor. */
static int send_hello(struct bbh *b, int img_fd)
{
    char cbuf[CMSG_SPACE(sizeof(int))] = {0};
    struct iovec iov = {&b->msg, offsetof(struct bbh_msg, seg)};
    struct msghdr mh = {.msg_iov = &iov,
                        .msg_iovlen = 1,
                        .msg_control = cbuf,
                        .msg_controllen = sizeof(cbuf)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

    b->msg.magic = BBH_MAGIC;
    b->msg.nseg = 0;
    b->msg.seq = ++b->seq;
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &img_fd, sizeof(int));
    return sendmsg(b->sock, &mh, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

static int create_domain(struct bbh *b, grant_handle_t *h, const char *prog,
                         int peer)
{
    static unsigned serial;
    char self[PATH_MAX], name[GRANT_NAME_MAX];
    char *argv[] = {self, BBH_ARG, NULL};
    struct grant_domain_config cfg = {.name = name,
                                      .memory_bytes =
                                          BBH_MEM_PAGES * GRANT_PAGE_SIZE,
                                      .argv = argv,
                                      .stdio = {peer, -1, STDERR_FILENO}};
    ssize_t n;

    if (prog) {
        snprintf(self, sizeof(self), "%s", prog);
    } else {
        n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n < 0)
            return -errno;
        self[n] = 0;
    }
    snprintf(name, sizeof(name), "bbio-%x-%u", (unsigned)getpid(),
             __atomic_add_fetch(&serial, 1, __ATOMIC_RELAXED));
    return grant_ctl_domain_create(h, &cfg, &b->domid);
}

int bbh_spawn(struct bbh *b, grant_handle_t *h, const char *prog, int img_fd,
              const char *who)
{
    int sv[2], rc;

    if (b->sock >= 0)
        return 0;
    if (mono_sec() < b->retry_sec)
        return -EAGAIN;
    b->backoff = b->backoff ? (b->backoff < 30 ? 2 * b->backoff : 60) : 1;
    b->retry_sec = mono_sec() + b->backoff;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return -errno;
    rc = create_domain(b, h, prog, sv[1]);
    close(sv[1]);
    b->sock = sv[0];
    if (rc < 0) {
        close(sv[0]);
        b->sock = -1;
        fprintf(stderr,
                "xgrant-blkback: %s: cannot start the I/O helper domain: "
                "%s\n",
                who, grant_strerror(rc));
        return rc;
    }
    rc = send_hello(b, img_fd);
    if (rc == 0)
        rc = recv_rsp(b, b->seq, 0, -1);
    if (rc == 0)
        rc = b->rsp.status;
    if (rc < 0) {
        fprintf(stderr, "xgrant-blkback: %s: I/O helper domain %u: %s\n", who,
                b->domid, grant_strerror(rc));
        bbh_destroy(b, h);
        return rc;
    }
    fprintf(stderr, "xgrant-blkback: %s: I/O helper is domain %u\n", who,
            b->domid);
    b->backoff = 0;
    return 0;
}

void bbh_destroy(struct bbh *b, grant_handle_t *h)
{
    if (b->sock < 0)
        return;
    close(b->sock); /* the helper sees the end and exits */
    b->sock = -1;
    grant_ctl_domain_destroy(h, b->domid); /* -ESRCH: already gone */
}

int bbh_call(struct bbh *b, grant_handle_t *h, const char *who, int stop_fd)
{
    size_t len =
        offsetof(struct bbh_msg, seg) + b->msg.nseg * sizeof(b->msg.seg[0]);
    int rc;

    b->msg.magic = BBH_MAGIC;
    b->msg.seq = ++b->seq;
    rc = send(b->sock, &b->msg, len, MSG_NOSIGNAL) == (ssize_t)len ? 0
         : errno                                                   ? -errno
                                                                   : -EIO;
    if (rc == 0)
        rc = recv_rsp(b, b->seq, b->msg.nseg, stop_fd);
    if (rc == -ECANCELED)
        bbh_destroy(b, h); /* mid-request: its grants die with it */
    else if (rc < 0)
        bbh_lost(b, h, who, rc);
    return rc;
}

void bbh_lost(struct bbh *b, grant_handle_t *h, const char *who, int why)
{
    fprintf(stderr,
            "xgrant-blkback: %s: I/O helper domain %u: %s; restarting it\n",
            who, b->domid,
            why == -EPIPE || why == -ESRCH ? "died" : grant_strerror(why));
    bbh_destroy(b, h);
    b->retry_sec = 0; /* the next request starts another at once */
    b->backoff = 0;
}
