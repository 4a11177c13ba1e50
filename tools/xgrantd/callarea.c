/* SPDX-License-Identifier: MIT */
/*
 * callarea.c: the call areas, the shared-memory fast path of sim_wire.h.
 *
 * A connection that asks for one at HELLO gets a memfd (struct xgw_ca_ctl
 * plus a payload buffer), mapped here and in the client, and a doorbell
 * eventfd that sits in the daemon's epoll set.  The event loop (main.c)
 * drives them through three calls:
 *   xd_ca_timeout  before epoll_wait: 0 while the poll budget runs, else
 *                  publishes SLEEPING in every area and re-checks them;
 *   xd_ca_awake    after epoll_wait: publishes AWAKE again;
 *   xd_ca_run      after the events: serves what is posted, then keeps
 *                  polling (pause loop) for up to XD_CA_SLICE_NS at a time
 *                  while less than the poll window passed since the last
 *                  work.
 * The poll window is xd.poll_us, or XGW_SPIN_BUSY_NS while no CPU is free
 * (sampled from /proc/loadavg at most once a millisecond, and published to
 * the clients as cpu_busy) and the last request came after a sleep
 * (sim_spin.h, sim_wire.h's "How long to spin and poll").
 * A posted request is copied out of the area once, validated and served
 * by the socket path's own handlers (xd_dispatch); its response comes back
 * through xd_reply, which hands it to xd_ca_reply while the area is busy.
 * The client owns the area's memory as much as we do: every word it writes
 * is read once per use, every length is bounded, and nothing read from it
 * is trusted.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "private.h"
#include "libgrant/lib/sim/sim_spin.h"

/* Longest stretch of polling without a look at the sockets. */
#define XD_CA_SLICE_NS 10000u
/* Clients answered on our own CPU in a row before we move away, and the
 * least time between two moves. */
#define XD_CA_NEAR_STREAK 8u
#define XD_CA_MOVE_GAP_NS 20000000u

struct xd_ca {
    struct xd_ca *prev, *next; /* every live area */
    struct xd_conn *conn;
    struct xgw_ca_ctl *ctl; /* the shared mapping (XGW_CA_SIZE bytes) */
    uint8_t *buf;           /* its payload buffer */
    int bell;               /* doorbell: our receiving end, in epoll */
    uint32_t served;        /* last req_seq taken */
    bool busy;              /* a request taken, its response not written */
};

static struct xd_ca *areas;
static unsigned long areas_gen; /* bumped when the list loses a member */
static bool asleep;             /* SLEEPING is published */
static int cpu = -1;            /* the daemon_cpu published */
static bool served_near;        /* a request came from our CPU */
static unsigned near_streak;    /* ... this many times in a row */
static uint64_t last_move_ns;
static uint64_t last_work_ns;
static uint8_t *scratch; /* the copied-out request payload */
/* The last request came while polling (not after a sleep). */
static bool streaming;
static bool slept; /* slept since the last request served */
/* The CPU load sample (sample_load). */
#define XD_LOAD_EVERY_NS 1000000u
static int load_fd = -2; /* /proc/loadavg, -1 when it cannot be read */
static uint64_t load_ns;
static unsigned busy_score; /* 0..256, an average of the samples */
static uint32_t cpu_busy;   /* published */

static void futex_wake(uint32_t *word)
{
    /* Shared (not PRIVATE): the waiter is another process. */
    syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* ---- open and close ---------------------------------------------------- */

static int area_map(struct xd_ca *ca, int *memfd)
{
    void *p;
    int fd, r;

    fd = memfd_create("xgrant-call-area", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return -errno;
    /* Sealed: a client shrinking it would turn our reads into SIGBUS. */
    if (ftruncate(fd, XGW_CA_SIZE) < 0 ||
        fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
        goto err_close;
    p = mmap(NULL, XGW_CA_SIZE, PROT_READ | PROT_WRITE,
             MAP_SHARED | MAP_POPULATE, fd, 0);
    if (p == MAP_FAILED)
        goto err_close;
    ca->ctl = p;
    ca->buf = (uint8_t *)p + XGW_CA_BUF_OFF;
    *memfd = fd;
    return 0;

err_close:
    r = -errno;
    close(fd);
    return r;
}

/*
 * Gives c a call area.  *memfd and *bell are the client's descriptors
 * (the caller passes them on and closes them); -errno, nothing kept.
 */
int xd_ca_open(struct xd_conn *c, int *memfd, int *bell)
{
    struct xd_ca *ca;
    int r;

    if (c->ca)
        return -EEXIST;
    if (!scratch && !(scratch = malloc(XGW_CA_BUF_SIZE)))
        return -ENOMEM;
    ca = calloc(1, sizeof(*ca));
    if (!ca)
        return -ENOMEM;
    r = area_map(ca, memfd);
    if (r < 0)
        goto err_free;
    /* A signal pair, not a shared eventfd: the client must not be able to
     * make our drain block (evtchn.c). */
    ca->bell = -1;
    r = xd_sig_pair(&ca->bell, bell);
    if (r < 0)
        goto err_bell;
    c->bev = (struct xd_ev){XD_EV_BELL, c};
    r = xd_epoll_add(ca->bell, EPOLLIN, &c->bev);
    if (r < 0)
        goto err_dup;
    ca->conn = c;
    ca->ctl->daemon_state = asleep ? XGW_CA_SLEEPING : XGW_CA_AWAKE;
    ca->ctl->daemon_cpu = (uint32_t)cpu;
    ca->ctl->cpu_busy = cpu_busy;
    ca->next = areas;
    if (areas)
        areas->prev = ca;
    areas = ca;
    c->ca = ca;
    return 0;

err_dup:
    close(*bell);
err_bell:
    if (ca->bell >= 0)
        close(ca->bell);
    munmap(ca->ctl, XGW_CA_SIZE);
    close(*memfd);
err_free:
    free(ca);
    return r;
}

/* ---- kicks (sim_wire.h, "Kicks") ------------------------------------- */

/* Sends the kicks posted in ca so far; how many ports were kicked. */
static unsigned take_kicks(struct xd_ca *ca)
{
    struct xgw_ca_ctl *ctl = ca->ctl;
    unsigned n = 0;

    /* Acquire: pairs with the client's release store of kick_any, so the
     * bits it set before are seen by the exchanges below. */
    if (!__atomic_load_n(&ctl->kick_any, __ATOMIC_RELAXED) ||
        !__atomic_exchange_n(&ctl->kick_any, 0, __ATOMIC_ACQUIRE))
        return 0;
    for (unsigned i = 0; i < XGW_CA_PORTS / 64; i++) {
        uint64_t w;

        if (!__atomic_load_n(&ctl->kick[i], __ATOMIC_RELAXED))
            continue;
        w = __atomic_exchange_n(&ctl->kick[i], 0, __ATOMIC_ACQUIRE);
        for (; w; w &= w - 1, n++)
            xd_evtchn_kick(ca->conn, i * 64 + (uint32_t)__builtin_ctzll(w));
    }
    return n;
}

unsigned xd_ca_kicks(struct xd_conn *c)
{
    return c->ca && !c->closed ? take_kicks(c->ca) : 0;
}

void xd_ca_kick_result(struct xd_conn *c, uint32_t port, int ret)
{
    uint64_t *w, bit;

    if (!c->ca || port >= XGW_CA_PORTS)
        return;
    w = &c->ca->ctl->kick_err[port / 64];
    bit = 1ull << (port % 64);
    /* Relaxed: a hint the client reads before its next notify; a stale
     * clear bit costs it one kick that fails again, a stale set bit one
     * synchronous SEND. */
    if (ret < 0)
        __atomic_fetch_or(w, bit, __ATOMIC_RELAXED);
    else if (__atomic_load_n(w, __ATOMIC_RELAXED) & bit)
        __atomic_fetch_and(w, ~bit, __ATOMIC_RELAXED);
}

/* Tells a waiting client the connection is gone, and forgets the area.
 * Kicks it posted before are sent first.  Idempotent. */
void xd_ca_close(struct xd_conn *c)
{
    struct xd_ca *ca = c->ca;

    if (!ca)
        return;
    take_kicks(ca);
    __atomic_store_n(&ca->ctl->daemon_state, XGW_CA_CLOSED, __ATOMIC_RELAXED);
    /* Orders the CLOSED store before the wake: a client woken (or one
     * about to sleep, which re-checks daemon_state) sees it. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    futex_wake(&ca->ctl->rep_seq);
    xd_epoll_del(ca->bell);
    close(ca->bell);
    munmap(ca->ctl, XGW_CA_SIZE);
    if (ca->prev)
        ca->prev->next = ca->next;
    else
        areas = ca->next;
    if (ca->next)
        ca->next->prev = ca->prev;
    areas_gen++;
    c->ca = NULL;
    free(ca);
}

bool xd_ca_busy(const struct xd_conn *c)
{
    return c->ca && c->ca->busy;
}

/* ---- requests ------------------------------------------------------------ */

static bool fast_op(uint32_t op)
{
    switch (op) {
    case XGW_OP_MEM_ALLOC:
    case XGW_OP_MEM_FREE:
    case XGW_OP_EVTCHN_SEND:
    case XGW_OP_EVTCHN_CLOSE:
        return true;
    default:
        return op < XGW_OP_SIM_BASE && op != GNTX_OP_MAP;
    }
}

/* Checks the copied-out header; 0 or the error the client gets. */
static int check_req(struct xd_conn *c, const struct xgw_msg *h)
{
    int r = 0;

    if (h->magic != XGW_MAGIC)
        r = -EPROTO;
    else if (h->len > XGW_CA_BUF_SIZE)
        r = -E2BIG;
    else if (h->nfds != 0 || !fast_op(h->op))
        r = -EINVAL;
    if (r < 0)
        xd_log_conn(c,
                    "bad call area request: magic 0x%08x op 0x%x len %u "
                    "nfds %u",
                    h->magic, h->op, h->len, h->nfds);
    return r;
}

/* A dispatch the worker of the client's CPU runs (near.c). */
struct near_job {
    struct xd_conn *conn;
    struct xd_rx *rx;
};

static void near_job_run(void *arg)
{
    struct near_job *j = arg;

    xd_dispatch(j->conn, j->rx);
}

/* Serves a copy that moves XGW_CA_NEAR_BYTES or more on the client's CPU
 * (sim_wire.h); false: not such a request, or no worker there. */
static bool near(struct xd_conn *c, struct xd_rx *rx, int client_cpu)
{
    struct near_job j = {c, rx};
    bool done;

    if (xgw_ca_move_bytes(rx->hdr.op, rx->pay, rx->hdr.len) < XGW_CA_NEAR_BYTES)
        return false;
    done = xd_near_run(client_cpu, near_job_run, &j);
    /* KILL protections the copy tripped: on this thread, not the worker. */
    xd_prot_kills_run();
    return done;
}

/*
 * Serves c's posted request, if there is one and c is free to take it.
 * c may be closed (and its area gone) when this returns.
 */
static bool serve(struct xd_conn *c)
{
    struct xd_ca *ca = c->ca;
    struct xd_rx rx = {.ready = true};
    uint32_t seq;
    int r, client_cpu;

    if (c->closed || !xd_conn_idle(c))
        return false;
    /* Acquire: pairs with the client's release store of req_seq, so the
     * header and payload it wrote before are visible below. */
    seq = __atomic_load_n(&ca->ctl->req_seq, __ATOMIC_ACQUIRE);
    if (seq == ca->served)
        return false;
    ca->served = seq;
    ca->busy = true;
    /* A hint only: compared, and bounded before it picks a worker. */
    client_cpu = (int)__atomic_load_n(&ca->ctl->client_cpu, __ATOMIC_RELAXED);
    if (client_cpu == cpu)
        served_near = true;
    /* The one fetch of the header and payload: only copies are used. */
    memcpy(&rx.hdr, &ca->ctl->req, sizeof(rx.hdr));
    rx.hdr_got = sizeof(rx.hdr);
    r = check_req(c, &rx.hdr);
    if (r < 0) {
        rx.hdr.len = 0;
        xd_reply_err(c, &rx.hdr, r);
        return true;
    }
    memcpy(scratch, ca->buf, rx.hdr.len);
    rx.pay = scratch;
    rx.pay_got = rx.pay_cap = rx.hdr.len;
    if (!near(c, &rx, client_cpu))
        xd_dispatch(c, &rx);
    return true;
}

/* ---- responses ----------------------------------------------------------- */

/*
 * The response to the request c's area holds, if it is busy: written
 * there and published; m is consumed.  false: not ours, m untouched.
 */
bool xd_ca_reply(struct xd_conn *c, struct xd_out *m)
{
    struct xd_ca *ca = c->ca;
    struct xgw_msg h;
    size_t paylen;

    if (!ca || !ca->busy)
        return false;
    memcpy(&h, xd_out_hdr(m), sizeof(h));
    paylen = m->len - sizeof(h);
    /* Fast ops never hand out fds; a QUERY may ask for more aux than the
     * buffer holds (the client checks; a hostile one gets E2BIG). */
    if (m->nfds || paylen > XGW_CA_BUF_SIZE) {
        xd_log_conn(c, "call area: response to op 0x%x does not fit", h.op);
        h.ret = m->nfds ? -EINVAL : -E2BIG;
        paylen = 0;
    }
    h.len = (uint32_t)paylen;
    h.nfds = 0;
    memcpy(ca->buf, xd_out_payload(m), paylen);
    memcpy(&ca->ctl->rep, &h, sizeof(h));
    xd_out_free(m);
    ca->busy = false;
    /* Release: the response above is visible before rep_seq says so. */
    __atomic_store_n(&ca->ctl->rep_seq, ca->served, __ATOMIC_RELEASE);
    /* Orders the rep_seq store before the client_wait load (Dekker with
     * the client's "store client_wait; fence; load rep_seq"): a client
     * going to sleep either sees the response or is seen and woken. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (__atomic_load_n(&ca->ctl->client_wait, __ATOMIC_RELAXED))
        xd_near_wake(&ca->ctl->rep_seq);
    xd_conn_update(c);
    return true;
}

/* ---- the loop's side ----------------------------------------------------- */

/* Serves every area once; how many requests were served. */
static unsigned serve_all(void)
{
    unsigned n = 0;

    for (struct xd_ca *ca = areas, *next; ca && !xd.quit; ca = next) {
        unsigned long gen = areas_gen;

        next = ca->next;
        n += xd_ca_kicks(ca->conn);
        if (gen == areas_gen)
            n += serve(ca->conn);
        if (gen != areas_gen)
            break; /* the list changed under us: next pass */
    }
    return n;
}

/* A doorbell: the client saw SLEEPING.  Clear it; the request is served by
 * xd_ca_run after the event batch. */
void xd_ca_bell(struct xd_conn *c)
{
    if (c->closed || !c->ca)
        return;
    xd_sig_drain(c->ca->bell);
}

/* ---- how long to poll ---------------------------------------------------- */

/* Runnable tasks now, from /proc/loadavg's "R/T" field; -1 unknown. */
static int runnable(void)
{
    char b[128], *p;
    ssize_t n;

    if (load_fd == -2)
        load_fd = open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
    if (load_fd < 0)
        return -1;
    n = pread(load_fd, b, sizeof(b) - 1, 0);
    if (n <= 0)
        return -1;
    b[n] = '\0';
    p = strchr(b, '/');
    while (p && p > b && p[-1] >= '0' && p[-1] <= '9')
        p--;
    return p ? atoi(p) : -1;
}

/*
 * Is any CPU free?  Samples at most every XD_LOAD_EVERY_NS: busy while
 * more tasks are runnable (us included) than CPUs we may run on, as an
 * average over the last few samples; publishes the answer to every area
 * when it changes.
 */
static void sample_load(uint64_t now)
{
    cpu_set_t set;
    int r, ncpu;
    uint32_t busy;

    if (now - load_ns < XD_LOAD_EVERY_NS)
        return;
    load_ns = now;
    r = runnable();
    ncpu = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : 1;
    busy_score = (busy_score * 3 + (r > ncpu ? 256u : 0u)) / 4;
    busy = busy_score > 128;
    if (busy == cpu_busy)
        return;
    cpu_busy = busy;
    for (struct xd_ca *ca = areas; ca; ca = ca->next)
        __atomic_store_n(&ca->ctl->cpu_busy, busy, __ATOMIC_RELAXED);
}

static void publish(uint32_t state)
{
    for (struct xd_ca *ca = areas; ca; ca = ca->next)
        __atomic_store_n(&ca->ctl->daemon_state, state, __ATOMIC_RELAXED);
}

static bool any_posted(void)
{
    for (struct xd_ca *ca = areas; ca; ca = ca->next) {
        if (ca->conn->closed)
            continue;
        if (__atomic_load_n(&ca->ctl->kick_any, __ATOMIC_RELAXED) ||
            (xd_conn_idle(ca->conn) &&
             __atomic_load_n(&ca->ctl->req_seq, __ATOMIC_RELAXED) !=
                 ca->served))
            return true;
    }
    return false;
}

/* The poll window now, in ns (sim_spin.h's xgw_poll_window). */
static bool polling(uint64_t now)
{
    return areas &&
           now - last_work_ns <
               xgw_poll_window(xd.poll_us * 1000u, (int)cpu_busy, streaming);
}

/*
 * The epoll timeout to use: 0 while polling, else `timeout_ms` once
 * SLEEPING is published and nothing turned out to be posted.
 */
int xd_ca_timeout(int timeout_ms)
{
    uint64_t now = xgw_now_ns();

    if (areas)
        sample_load(now);
    if (!areas || polling(now))
        return areas ? 0 : timeout_ms;
    slept = true;
    publish(XGW_CA_SLEEPING);
    asleep = true;
    /* Orders the SLEEPING stores before the req_seq loads (Dekker with the
     * client's "store req_seq; fence; load daemon_state"): a request
     * posted now is either seen here or rings the doorbell. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    return any_posted() ? 0 : timeout_ms;
}

/* Where we run, for clients deciding whether to spin (relaxed: a hint). */
static void publish_cpu(void)
{
    int now = sched_getcpu();

    if (now == cpu)
        return;
    cpu = now;
    for (struct xd_ca *ca = areas; ca; ca = ca->next)
        __atomic_store_n(&ca->ctl->daemon_cpu, (uint32_t)now, __ATOMIC_RELAXED);
}

void xd_ca_awake(void)
{
    if (!asleep)
        return;
    /* Relaxed: a client that still sees SLEEPING only rings needlessly. */
    publish(XGW_CA_AWAKE);
    asleep = false;
}

/*
 * Moves the daemon off its current CPU: the affinity mask without it,
 * then the mask as it was (the scheduler has no reason to move us back
 * while we poll).
 */
static void move_away(void)
{
    cpu_set_t all, other;

    if (cpu < 0 || cpu >= CPU_SETSIZE ||
        sched_getaffinity(0, sizeof(all), &all) < 0)
        return;
    other = all;
    CPU_CLR(cpu, &other);
    if (CPU_COUNT(&other) == 0)
        return;
    if (sched_setaffinity(0, sizeof(other), &other) == 0)
        sched_setaffinity(0, sizeof(all), &all);
    xd_dbg("call areas: clients keep running on cpu %d: moved away", cpu);
    publish_cpu();
}

/* Requests were served: a client on our CPU gets it back at once, and
 * when that keeps happening we go elsewhere. */
static void after_serving(void)
{
    uint64_t now;

    if (!served_near) {
        near_streak = 0;
        return;
    }
    served_near = false;
    now = xgw_now_ns();
    if (++near_streak >= XD_CA_NEAR_STREAK &&
        now - last_move_ns >= XD_CA_MOVE_GAP_NS) {
        near_streak = 0;
        last_move_ns = now;
        move_away();
        return;
    }
    sched_yield();
}

/*
 * After an event batch (`worked`: it had events): serves the areas, and
 * while within the poll budget keeps serving as requests come, for at most
 * XD_CA_SLICE_NS, so that a stream of fast requests never starves the
 * sockets.
 */
void xd_ca_run(bool worked)
{
    uint64_t now = xgw_now_ns(), slice_end = now + XD_CA_SLICE_NS;

    if (worked)
        last_work_ns = now;
    if (areas) {
        publish_cpu();
        sample_load(now);
    }
    for (unsigned spins = 0; areas && !xd.quit; spins++) {
        if (serve_all()) {
            after_serving();
            last_work_ns = now = xgw_now_ns();
            streaming = !slept;
            slept = false;
            if (now >= slice_end)
                return;
            continue;
        }
        if (spins % 16 == 0) {
            now = xgw_now_ns();
            if (!polling(now))
                return;
            if (now >= slice_end) {
                /* A client on this CPU could not post while we spin. */
                sched_yield();
                return;
            }
        }
        xgw_cpu_relax();
    }
}
