/* SPDX-License-Identifier: MIT */
/*
 * sim_notice.c: the service thread of a sim handle.  xgrantd tells it, on
 * the notice socket, that a mapping of this handle is being force-revoked
 * (XGW_NOTICE_UNMAP); the thread puts scratch pages in their place,
 * queues the revoke event (map_revoked.c), and only then acks
 * (XGW_NOTICE_UNMAP_ACK), which lets the revoke complete.
 * The thread ends when the socket is shut down (grant_close) or lost.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../private.h"

/* A restrict notice: the pages downgraded, the ack to send in *n.
 * 0 to ack, 1 to send no ack (xgrantd's timeout wins), or -errno. */
static int restrict_one(grant_handle_t *h, int fd, struct xgw_notice *n)
{
    struct xgw_restrict r;
    int rc = lg_sim_read_full(fd, &r, sizeof(r));

    if (rc < 0)
        return rc;
    *n = (struct xgw_notice){.handle = r.handle, .owner = r.owner};
    return lg_map_restrict(h, &r) < 0 ? 1 : 0;
}

/* Handles one message; 0 to go on, -errno to end the thread. */
static int notice_one(grant_handle_t *h, int fd)
{
    struct xgw_msg m, ack;
    struct xgw_notice n;
    struct iovec iov[2];
    unsigned nr = 0;
    int rc;

    rc = lg_sim_recv_hdr(fd, &m, NULL, 0, &nr); /* any fds: closed */
    if (rc < 0 || m.len > XGW_MAX_PAYLOAD)
        return rc < 0 ? rc : -EPROTO;
    if (m.op == XGW_NOTICE_RESTRICT && m.len == sizeof(struct xgw_restrict)) {
        rc = restrict_one(h, fd, &n);
        if (rc)
            return rc < 0 ? rc : 0;
    } else if (m.op != XGW_NOTICE_UNMAP || m.len != sizeof(n)) {
        return lg_sim_discard(fd, m.len); /* not for us: skip it */
    } else {
        rc = lg_sim_read_full(fd, &n, sizeof(n));
        if (rc < 0)
            return rc;
        /* Pages still reachable: no ack; xgrantd's timeout then wins. */
        if (lg_map_revoked(h, n.handle, n.owner) < 0)
            return 0;
    }
    ack = (struct xgw_msg){.magic = XGW_MAGIC,
                           .op = XGW_NOTICE_UNMAP_ACK,
                           .seq = m.seq,
                           .count = 1,
                           .len = sizeof(n)};
    iov[0] = (struct iovec){&ack, sizeof(ack)};
    iov[1] = (struct iovec){&n, sizeof(n)};
    return lg_sim_write_full(fd, iov, 2, NULL, 0);
}

static void *notice_main(void *arg)
{
    grant_handle_t *h = arg;
    struct sim_conn *c = h->tp;

    while (notice_one(h, c->notice_fd) == 0)
        ;
    return NULL;
}

int lg_sim_notice_start(grant_handle_t *h)
{
    struct sim_conn *c = h->tp;
    sigset_t all, old;
    int rc;

    /* The thread takes no signals: they stay with the program's threads. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&c->thread, NULL, notice_main, h);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc)
        return -rc;
    c->thread_started = 1;
    return 0;
}

void lg_sim_notice_stop(grant_handle_t *h)
{
    struct sim_conn *c = h->tp;

    if (!c->thread_started)
        return;
    shutdown(c->notice_fd, SHUT_RDWR);
    pthread_join(c->thread, NULL);
    c->thread_started = 0;
}
