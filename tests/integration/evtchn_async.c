/* SPDX-License-Identifier: MIT */
/*
 * evtchn_async: grant_evtchn_notify_async (kicks through the call area).
 * A kick is delivered; it is delivered before any later call of the same
 * handle is answered (a plain call, a synchronous notify, a close); kicks
 * may merge but never vanish; a kick that fails (the port unbound by its
 * peer, or no such port) wakes the sender's own port once and makes the
 * next notify of that port report the error, until a signal gets through
 * again; after fork the child gets -EBADF.
 */
#include <errno.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/itest.h"

#define ROUNDS 200

/* Does fd poll readable right now? */
static int ready(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};

    return poll(&p, 1, 0) == 1;
}

/* A plain synchronous call of h: answered only after h's earlier kicks. */
static int sync_call(grant_handle_t *h)
{
    struct grant_usage u;

    return grant_usage(h, GRANT_DOMID_SELF, &u);
}

static void delivered(grant_handle_t *h, uint32_t port, grant_handle_t *peer,
                      uint32_t pp)
{
    int bad = 0, n;

    ICHECK(grant_evtchn_notify_async(peer, pp) == 0, "a kick is posted");
    ICHECK(grant_evtchn_wait(h, port, 5000) == 1, "and arrives as a signal");
    /* Ordering: after each kick, a call of the same handle; once it is
     * answered, the kick must be pending already (no waiting). */
    for (int i = 0; i < ROUNDS; i++) {
        bad += grant_evtchn_notify_async(peer, pp) != 0 ||
               sync_call(peer) < 0 || !ready(grant_evtchn_fd(h, port)) ||
               grant_evtchn_consume(h, port) != 1;
    }
    ICHECK(bad == 0,
           "a kick is delivered before the next call of its handle is "
           "answered (%d of %d rounds were not)",
           bad, ROUNDS);
    /* The same with the daemon asleep and a call that goes over the
     * socket (a domain list), not the call area: the doorbell and the
     * socket wake it together, and the kick still goes first. */
    bad = 0;
    for (int i = 0; i < 20; i++) {
        struct grant_domain_info info[4];

        usleep(2000); /* longer than any poll window: the daemon sleeps */
        bad += grant_evtchn_notify_async(peer, pp) != 0 ||
               grant_ctl_domain_list(peer, info, 4) < 1 ||
               !ready(grant_evtchn_fd(h, port)) ||
               grant_evtchn_consume(h, port) != 1;
    }
    ICHECK(bad == 0,
           "a kick is delivered before the next socket call of its handle "
           "is answered (%d of 20 rounds were not)",
           bad);
    /* Kicks then a synchronous notify: both arrive, the kick first or
     * merged, never after the notify's answer. */
    bad = 0;
    for (int i = 0; i < ROUNDS; i++) {
        bad += grant_evtchn_notify_async(peer, pp) != 0 ||
               grant_evtchn_notify(peer, pp) != 0;
        n = grant_evtchn_consume(h, port);
        bad += n < 1 || n > 2;
    }
    ICHECK(bad == 0, "kick + notify: 1 or 2 signals pending at the answer");
    for (int i = 0; i < 100; i++)
        bad += grant_evtchn_notify_async(peer, pp) != 0;
    n = sync_call(peer) < 0 ? -1 : grant_evtchn_consume(h, port);
    ICHECK(bad == 0 && n >= 1 && n <= 100,
           "100 kicks may merge, never vanish (%d signals)", n);
}

/* The peer closes: pp is unbound, kicks on it fail. */
static void unbound(grant_handle_t *h, uint32_t port, grant_handle_t *peer,
                    uint32_t pp)
{
    uint32_t again;
    int pfd = grant_evtchn_pending_fd(peer), rc;

    ICHECK(grant_evtchn_close(h, port) == 0, "h closes its end");
    ICHECK(grant_evtchn_consume(peer, pp) == -EAGAIN, "nothing pending yet");
    rc = grant_evtchn_notify_async(peer, pp);
    ICHECK(rc == 0 || rc == -ENOTCONN, "a kick on the unbound port: %d", rc);
    ICHECK(sync_call(peer) >= 0, "a call after it");
    ICHECK(pfd >= 0 && ready(pfd),
           "the failed kick woke the sender's pending fd");
    ICHECK(grant_evtchn_consume(peer, pp) == 1, "once");
    ICHECK(grant_evtchn_notify_async(peer, pp) == -ENOTCONN,
           "the next kick reports -ENOTCONN");
    ICHECK(grant_evtchn_notify_async(peer, pp) == -ENOTCONN,
           "and the one after, while the port stays unbound");
    ICHECK(grant_evtchn_notify(peer, pp) == -ENOTCONN, "as notify does");
    ICHECK(grant_evtchn_consume(peer, pp) == -EAGAIN,
           "errors reported to the caller do not wake the port again");
    /* Bound again: the next notify goes through and clears the error. */
    ICHECK(grant_evtchn_bind(h, 0, pp, &again) == 0, "h binds pp again");
    ICHECK(grant_evtchn_notify_async(peer, pp) == 0, "a kick works again");
    ICHECK(grant_evtchn_wait(h, again, 5000) == 1, "and arrives");
    ICHECK(grant_evtchn_notify_async(peer, pp) == 0 && sync_call(peer) >= 0 &&
               grant_evtchn_consume(h, again) == 1,
           "kicks are asynchronous again");
    /* No such port: reported on the next notify as -EINVAL. */
    rc = grant_evtchn_notify_async(peer, 999);
    ICHECK(rc == 0 || rc == -EINVAL, "a kick of no port: %d", rc);
    ICHECK(sync_call(peer) >= 0 &&
               grant_evtchn_notify_async(peer, 999) == -EINVAL,
           "then -EINVAL");
    grant_evtchn_close(h, again);
}

static void forked(grant_handle_t *peer, uint32_t pp)
{
    int st = 0;
    pid_t pid = fork();

    if (pid == 0)
        _exit(grant_evtchn_notify_async(peer, pp) == -EBADF ? 0 : 1);
    ICHECK(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
               WEXITSTATUS(st) == 0,
           "a forked child's kick is -EBADF");
}

int main(void)
{
    grant_handle_t *dom0, *peer;
    uint32_t port, pp;

    itest_setup(&dom0);
    ICHECK(grant_open(&peer, 0) == 0, "a second handle");
    ICHECK(grant_evtchn_alloc_unbound(dom0, 0, &port) == 0 &&
               grant_evtchn_bind(peer, 0, port, &pp) == 0,
           "a channel between the two");
    delivered(dom0, port, peer, pp);
    forked(peer, pp);
    unbound(dom0, port, peer, pp);
    grant_close(peer);
    itest_teardown(dom0);
    return itest_done();
}
