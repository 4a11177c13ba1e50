/* SPDX-License-Identifier: MIT */
/*
 * evtchn_hostile: a client playing with its own port descriptors must not
 * hurt the daemon or its own parent.
 *   1. A domain clears O_NONBLOCK on a port fd and tries to fill it: the
 *      daemon's next notify of that port returns, and the daemon still
 *      answers others (it used to share an eventfd's open file with the
 *      domain, and block in write() forever).
 *   2. A forked child's grant_evtchn_close is -EBADF and leaves the
 *      parent's pending fd working (it shares the epoll instance).
 *   3. A domain that closes its port's fd: signalling it harms nobody.
 *   4. The control domain's ports go with the connection that made them:
 *      another process of domain 0 can neither signal one (SEND, or a
 *      kick: grant_evtchn_notify_async) nor close it.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/itest.h"
#include "common/raw.h"
#include "libgrant/abi/sim_wire.h"

static grant_handle_t *a, *b;
static uint32_t pa, pb;

/* The old daemon hung: say so, and do not leave it behind. */
static void hung(int sig)
{
    static const char m[] = "not ok the daemon hung (notify did not return)\n";

    (void)sig;
    (void)!write(1, m, sizeof(m) - 1);
    kill(itest_daemon_pid(), SIGKILL);
    _exit(1);
}

/* Does a fresh client get an answer within 3 s? */
static int daemon_answers(void)
{
    int st;
    pid_t kid = fork();

    if (kid == 0) {
        grant_handle_t *h;
        uint32_t p;

        alarm(3);
        if (grant_open(&h, 0) < 0)
            _exit(1);
        _exit(grant_evtchn_alloc_unbound(h, 0, &p) == 0 ? 0 : 1);
    }
    if (kid < 0 || waitpid(kid, &st, 0) != kid)
        return 0;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static void blocking_port(void)
{
    uint64_t big = 0xfffffffffffffffeull;
    int fd = grant_evtchn_fd(a, pa);

    ICHECK(fd >= 0, "port fd");
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    /* On the old eventfd this filled the counter; now it must fail. */
    ICHECK(write(fd, &big, sizeof(big)) < 0,
           "the domain cannot signal its own port's fd");
    signal(SIGALRM, hung);
    alarm(5); /* the old daemon blocked, and this notify waited for it */
    ICHECK(grant_evtchn_notify(b, pb) == 0, "notify returns");
    alarm(0);
    ICHECK(daemon_answers(), "the daemon answers another client");
    fcntl(fd, F_SETFL, O_NONBLOCK);
    ICHECK(grant_evtchn_consume(a, pa) == 1, "the signal arrived");
    ICHECK(grant_evtchn_consume(a, pa) == -EAGAIN, "and only it");
}

static void forked_close(void)
{
    struct pollfd p = {.fd = grant_evtchn_pending_fd(a), .events = POLLIN};
    uint32_t got = 0;
    int st = 0, r;
    pid_t kid = fork();

    if (kid == 0)
        _exit(grant_evtchn_close(a, pa) == -EBADF ? 0 : 1);
    ICHECK(kid > 0 && waitpid(kid, &st, 0) == kid && WIFEXITED(st) &&
               WEXITSTATUS(st) == 0,
           "a forked child's grant_evtchn_close is -EBADF");
    ICHECK(grant_evtchn_notify(b, pb) == 0, "notify");
    r = poll(&p, 1, 2000);
    ICHECK(r == 1, "the parent's pending fd is readable (poll -> %d)", r);
    ICHECK(grant_evtchn_pending(a, &got) >= 1 && got == pa,
           "grant_evtchn_pending finds the port");
}

static void others_port(void)
{
    struct xgw_evtchn e = {.port = pb};
    grant_handle_t *c;
    struct raw raw;
    uint32_t p;
    int r;

    ICHECK(grant_open(&c, 0) == 0, "open a third dom0 connection");
    while (grant_evtchn_consume(a, pa) > 0)
        ;
    r = grant_evtchn_notify_async(c, pb);
    ICHECK(r == 0 || r == -EINVAL, "a kick of b's port from c: %d", r);
    /* Calls of c's: its kicks are taken before the first is served. */
    ICHECK(grant_evtchn_alloc_unbound(c, 0, &p) == 0 &&
               grant_evtchn_close(c, p) == 0,
           "c's own port");
    ICHECK(grant_evtchn_consume(a, pa) == -EAGAIN,
           "c's kick of b's port did not reach a");
    r = grant_evtchn_notify(c, pb);
    ICHECK(r == -EINVAL, "c cannot signal b's port (%d)", r);
    ICHECK(grant_evtchn_consume(a, pa) == -EAGAIN,
           "c's SEND on b's port did not reach a");
    /* libgrant closes only its own ports: a hand-made CLOSE. */
    ICHECK(raw_connect(&raw) == 0 && raw_hello(&raw) == 0, "raw client");
    r = (int)raw_call(&raw, XGW_OP_EVTCHN_CLOSE, 0, 0, &e, sizeof(e), NULL, 0);
    ICHECK(r == -EINVAL, "another connection cannot close b's port (%d)", r);
    close(raw.fd);
    ICHECK(grant_evtchn_notify(b, pb) == 0, "b still signals its port");
    ICHECK(grant_evtchn_consume(a, pa) == 1, "and a gets it");
    grant_close(c);
}

/* The domain closes its port's fd behind libgrant's back: the daemon's
 * next signal meets a pipe without a reader (EPIPE, and SIGPIPE, which
 * must not kill it).  Last: a's table keeps the closed fd. */
static void reader_gone(void)
{
    close(grant_evtchn_fd(a, pa));
    ICHECK(grant_evtchn_notify(b, pb) == 0, "notify a port nobody reads");
    ICHECK(daemon_answers(), "the daemon lives on and answers");
}

int main(void)
{
    grant_handle_t *dom0;

    itest_setup(&dom0); /* first: the daemon must not inherit SIG_IGN */
    signal(SIGPIPE, SIG_IGN);
    ICHECK(grant_open(&a, 0) == 0 && grant_open(&b, 0) == 0, "open");
    ICHECK(grant_evtchn_alloc_unbound(a, 0, &pa) == 0, "alloc");
    ICHECK(grant_evtchn_bind(b, 0, pa, &pb) == 0, "bind");
    blocking_port();
    forked_close();
    others_port();
    reader_gone();
    grant_close(a);
    grant_close(b);
    itest_teardown(dom0);
    return itest_done();
}
