/* SPDX-License-Identifier: MIT */
/*
 * sim_fast.c: the call area, sim_wire.h's shared-memory fast path.
 *
 * A call writes the request into the area, publishes its seq, rings the
 * doorbell only if the daemon said it sleeps, then spins for the response
 * as long as sim_spin.h's policy says it pays, and futex-waits past that.
 * A kick (an asynchronous SEND) only sets a bit and maybe rings.  The protocol
 * and the pairing of every barrier are described in sim_wire.h; the comments
 * here say which half each one is.  The caller holds the connection's io_lock,
 * so one request at a time crosses either path.
 */
#include <errno.h>
#include <stdlib.h>
#include <linux/futex.h>
#include <poll.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../private.h"
#include "sim_spin.h"

#define SPIN_NS        100000u  /* the longest spin before sleeping */
#define SLEEP_SLICE_NS 50000000 /* futex timeout: then check the socket */

/* The near page, read-only; NULL when it does not map.  Takes fd. */
static const struct xgw_near_cpu *near_map(int fd)
{
    struct stat st;
    void *p = MAP_FAILED;

    if (fd < 0)
        return NULL;
    if (fstat(fd, &st) == 0 && st.st_size >= (off_t)XGW_NEAR_SIZE)
        p = mmap(NULL, XGW_NEAR_SIZE, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    return p == MAP_FAILED ? NULL : p;
}

int lg_sim_fast_open(struct sim_conn *c, int memfd, int bell_fd, int near_fd)
{
    struct stat st;
    void *p;
    int rc = 0;

    c->near = near_map(near_fd);
    if (fstat(memfd, &st) < 0)
        rc = -errno;
    else if (st.st_size < (off_t)XGW_CA_SIZE)
        rc = -EPROTO;
    p = rc ? MAP_FAILED
           : mmap(NULL, XGW_CA_SIZE, PROT_READ | PROT_WRITE,
                  MAP_SHARED | MAP_POPULATE, memfd, 0);
    if (!rc && p == MAP_FAILED)
        rc = -errno;
    close(memfd);
    if (rc < 0) {
        close(bell_fd);
        if (c->near)
            munmap((void *)c->near, XGW_NEAR_SIZE);
        c->near = NULL;
        return rc;
    }
    c->ca = p;
    c->ca_buf = (uint8_t *)p + XGW_CA_BUF_OFF;
    c->bell_fd = bell_fd;
    xgw_spin_init(&c->spin, SPIN_NS);
    return 0;
}

void lg_sim_fast_close(struct sim_conn *c)
{
    if (c->near)
        munmap((void *)c->near, XGW_NEAR_SIZE);
    c->near = NULL;
    if (c->ca)
        munmap(c->ca, XGW_CA_SIZE);
    c->ca = NULL;
    c->ca_buf = NULL;
    if (c->bell_fd >= 0)
        close(c->bell_fd);
    c->bell_fd = -1;
}

static int fast_op(uint32_t op)
{
    switch (op) {
    case XGW_OP_MEM_ALLOC:
    case XGW_OP_MEM_FREE:
    case XGW_OP_EVTCHN_SEND:
    case XGW_OP_EVTCHN_CLOSE:
        return 1;
    default:
        return op < XGW_OP_SIM_BASE && op != GNTX_OP_MAP;
    }
}

int lg_sim_fast_ok(const struct sim_conn *c, const struct sim_rpc *r)
{
    uint64_t req = 0, rep;

    if (!c->ca || r->nfds_in || r->max_fds || !fast_op(r->op))
        return 0;
    for (int i = 0; i < r->iovcnt; i++)
        if (__builtin_add_overflow(req, r->iov[i].iov_len, &req))
            return 0;
    if (__builtin_mul_overflow(r->aux_cap, (uint64_t)r->aux_elem, &rep) ||
        __builtin_add_overflow(rep, (uint64_t)r->rep_size, &rep))
        return 0;
    return req <= XGW_CA_BUF_SIZE && rep <= XGW_CA_BUF_SIZE;
}

/* The doorbell is our end of a datagram socket pair (xgrantd's
 * evtchn.c).  EAGAIN (queue full) still leaves it readable: the daemon
 * wakes; MSG_NOSIGNAL: a daemon gone is found by the wait, not SIGPIPE. */
static void ring(struct sim_conn *c)
{
    while (send(c->bell_fd, "", 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 &&
           errno == EINTR)
        ;
}

/* EOF or an error on the socket: no response is expected there now, so
 * anything readable means the daemon is gone. */
static int sock_dead(const struct sim_conn *c)
{
    struct pollfd p = {.fd = c->fd, .events = POLLIN};

    return poll(&p, 1, 0) > 0;
}

static int closed(const struct xgw_ca_ctl *ctl)
{
    return __atomic_load_n(&ctl->daemon_state, __ATOMIC_RELAXED) ==
           XGW_CA_CLOSED;
}

/* Acquire: pairs with the daemon's release store of rep_seq, so the
 * response it wrote before is visible once this returns seq. */
static uint32_t rep_seq(struct xgw_ca_ctl *ctl)
{
    return __atomic_load_n(&ctl->rep_seq, __ATOMIC_ACQUIRE);
}

/* Spin for up to budget ns from start: 0 once the response is there,
 * -EAGAIN if it is late. */
static int spin(struct xgw_ca_ctl *ctl, uint32_t seq, uint64_t start,
                uint32_t budget)
{
    for (unsigned i = 1;; i++) {
        if (rep_seq(ctl) == seq)
            return 0;
        if (i % 32 == 0) {
            if (closed(ctl))
                return -ECONNRESET;
            if (xgw_now_ns() - start > budget)
                return -EAGAIN;
            /* Spinning where the daemon runs only delays it. */
            if ((int)__atomic_load_n(&ctl->daemon_cpu, __ATOMIC_RELAXED) ==
                sched_getcpu())
                sched_yield();
        }
        xgw_cpu_relax();
    }
}

/* Futex wait for the response; -ECONNRESET when the daemon is gone. */
static int sleep_wait(struct sim_conn *c, uint32_t seq)
{
    struct xgw_ca_ctl *ctl = c->ca;
    struct timespec ts = {0, SLEEP_SLICE_NS};
    uint32_t v;
    int rc = 0;

    __atomic_store_n(&ctl->client_wait, 1, __ATOMIC_RELAXED);
    /* Orders the client_wait store before the rep_seq loads below (Dekker
     * with the daemon's "store rep_seq; fence; load client_wait"). */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    while ((v = rep_seq(ctl)) != seq) {
        if (closed(ctl)) {
            rc = -ECONNRESET;
            break;
        }
        /* Returns at once if rep_seq is no longer v (EAGAIN). */
        if (syscall(SYS_futex, &ctl->rep_seq, FUTEX_WAIT, v, &ts, NULL, 0) <
                0 &&
            errno == ETIMEDOUT && sock_dead(c)) {
            rc = -ECONNRESET;
            break;
        }
    }
    __atomic_store_n(&ctl->client_wait, 0, __ATOMIC_RELAXED);
    return rc;
}

/* After a store the daemon must see (req_seq, kick_any): rings the
 * doorbell if the daemon sleeps; 1 when it rang. */
static int ring_if_asleep(struct sim_conn *c)
{
    /* Orders that store before the daemon_state load (Dekker with the
     * daemon's "store SLEEPING; fence; load req_seq / kick_any"). */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (__atomic_load_n(&c->ca->daemon_state, __ATOMIC_RELAXED) !=
        XGW_CA_SLEEPING)
        return 0;
    ring(c);
    return 1;
}

/* Posts the request; 1 when the daemon slept (the doorbell rang). */
static int post(struct sim_conn *c, const struct sim_rpc *r, uint32_t len)
{
    struct xgw_ca_ctl *ctl = c->ca;
    struct xgw_msg m = {.magic = XGW_MAGIC,
                        .op = r->op,
                        .seq = ++c->seq,
                        .count = r->count,
                        .aux_count = r->aux_count,
                        .len = len};
    uint8_t *p = c->ca_buf;

    for (int i = 0; i < r->iovcnt; i++) {
        if (r->iov[i].iov_len)
            memcpy(p, r->iov[i].iov_base, r->iov[i].iov_len);
        p += r->iov[i].iov_len;
    }
    memcpy(&ctl->req, &m, sizeof(m));
    __atomic_store_n(&ctl->client_cpu, (uint32_t)sched_getcpu(),
                     __ATOMIC_RELAXED); /* a hint for the daemon */
    /* Release: the payload and header above are visible before req_seq. */
    __atomic_store_n(&ctl->req_seq, c->seq, __ATOMIC_RELEASE);
    return ring_if_asleep(c);
}

int lg_sim_fast_kick(struct sim_conn *c, uint32_t port)
{
    struct xgw_ca_ctl *ctl = c->ca;
    uint64_t bit = 1ull << (port % 64);

    if (c->broken || closed(ctl))
        return -ECONNRESET;
    /* The port's last signal failed: a SEND says why (sim_wire.h). */
    if (port >= XGW_CA_PORTS ||
        (__atomic_load_n(&ctl->kick_err[port / 64], __ATOMIC_RELAXED) & bit))
        return -EAGAIN;
    __atomic_fetch_or(&ctl->kick[port / 64], bit, __ATOMIC_RELAXED);
    /* Release: the bit above is visible before kick_any. */
    __atomic_store_n(&ctl->kick_any, 1, __ATOMIC_RELEASE);
    ring_if_asleep(c);
    return 0;
}

/* A large copy is about to be served on this CPU by the daemon's worker
 * there: wake it now, from here, so that it gets the CPU as this thread
 * sleeps (sim_wire.h, "Large copies"). */
static void near_wake(struct sim_conn *c)
{
    uint32_t cpu = __atomic_load_n(&c->ca->client_cpu, __ATOMIC_RELAXED);
    const struct xgw_near_cpu *w;

    if (!c->near || cpu >= XGW_NEAR_CPUS)
        return;
    w = &c->near[cpu];
    if (__atomic_load_n(&w->sleeping, __ATOMIC_RELAXED))
        syscall(SYS_futex, &w->go, FUTEX_WAKE, 1, NULL, NULL, 0);
}

/* The response payload into r->rep and r->aux, as read_payload in
 * sim_io.c does for the socket. */
static int take_payload(const struct sim_conn *c, const struct xgw_msg *m,
                        struct sim_rpc *r)
{
    uint64_t rest;

    if (m->len == 0)
        return 0;
    if (m->len < r->rep_size)
        return -EPROTO;
    rest = m->len - r->rep_size;
    if (rest &&
        (!r->aux_elem || rest % r->aux_elem || rest / r->aux_elem > r->aux_cap))
        return -EPROTO;
    if (r->rep_size)
        memcpy(r->rep, c->ca_buf, r->rep_size);
    r->got_rep = 1;
    if (rest)
        memcpy(r->aux, c->ca_buf + r->rep_size, (size_t)rest);
    r->aux_got = rest ? rest / r->aux_elem : 0;
    return 0;
}

/* Waits for the response to the call just posted (asleep: the doorbell
 * rang): spins as long as the adaptive policy says, then sleeps, and
 * learns from how long the answer took. */
static int wait_answer(struct sim_conn *c, int asleep, uint64_t start)
{
    uint32_t budget = xgw_spin_budget(
        &c->spin, asleep,
        (int)__atomic_load_n(&c->ca->cpu_busy, __ATOMIC_RELAXED));
    int rc = budget ? spin(c->ca, c->seq, start, budget) : -EAGAIN;

    if (rc == 0)
        xgw_spin_hit(&c->spin);
    if (rc != -EAGAIN)
        return rc;
    rc = sleep_wait(c, c->seq);
    if (rc == 0)
        xgw_spin_learn(&c->spin, xgw_now_ns() - start, budget);
    return rc;
}

int lg_sim_fast_exchange(struct sim_conn *c, struct sim_rpc *r)
{
    struct xgw_msg m;
    uint64_t len = 0, start = xgw_now_ns();
    int rc, asleep;

    for (int i = 0; i < r->iovcnt; i++)
        len += r->iov[i].iov_len; /* bounded by lg_sim_fast_ok */
    asleep = post(c, r, (uint32_t)len);
    if (xgw_ca_move_bytes(r->op, c->ca_buf, (uint32_t)len) >=
        XGW_CA_NEAR_BYTES) {
        near_wake(c);
        /* A daemon thread on this CPU serves it: sleep. */
        rc = sleep_wait(c, c->seq);
    } else {
        rc = wait_answer(c, asleep, start);
    }
    if (rc == 0) {
        memcpy(&m, &c->ca->rep, sizeof(m));
        if (m.magic != XGW_MAGIC || m.seq != c->seq ||
            m.len > XGW_CA_BUF_SIZE || m.nfds)
            rc = -EPROTO;
    }
    if (rc < 0) {
        c->broken = 1;
        return rc;
    }
    rc = take_payload(c, &m, r);
    if (rc < 0)
        return rc;
    r->ret = m.ret;
    return 0;
}
