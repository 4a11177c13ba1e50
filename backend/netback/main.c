/* SPDX-License-Identifier: MIT */
/*
 * main.c: xgrant-netback, the daemon serving every vif of its domain
 * (backend/vif in the store) from one thread.  The loop waits on the
 * store, the event channels (one pending descriptor for every port) and
 * the TAP queues, then serves each queue that has work: its tx ring onto
 * the TAP (tx.c), the TAP into its rx ring (rx.c).  Timers: the rate
 * credit, the rx stall and the once-a-second counters.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "private.h"
#include "tools/common/xgt.h"

#define STAGE_FRAMES 16u /* largest frames one pass stages, both ways */

static int log_stamp;

uint64_t nb_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void vlog(const char *prefix, const char *fmt, va_list ap)
{
    char line[768], stamp[32] = "";
    struct timespec ts;
    struct tm tm;
    int n;

    if (log_stamp) {
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ ", &tm);
    }
    n = snprintf(line, sizeof(line), "%sxgrant-netback: %s", stamp, prefix);
    vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    fprintf(stderr, "%s\n", line);
}

void nb_log(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vlog("", fmt, ap);
    va_end(ap);
}

void nb_vif_log(struct nb_vif *v, const char *fmt, ...)
{
    char prefix[96];
    uint64_t now = nb_now_ms();
    va_list ap;

    if (now - v->log_window_ms >= 1000) {
        if (v->log_suppressed)
            nb_log("%s: %u lines suppressed", v->ifname, v->log_suppressed);
        v->log_window_ms = now;
        v->log_count = v->log_suppressed = 0;
    }
    if (v->log_count++ >= 10) {
        v->log_suppressed++;
        return;
    }
    snprintf(prefix, sizeof(prefix), "%s (domain %u, device %u): ", v->ifname,
             xbe_dev_fe_id(v->d), xbe_dev_devid(v->d));
    va_start(ap, fmt);
    vlog(prefix, fmt, ap);
    va_end(ap);
}

int nb_epoll_set(struct nb *nb, int fd, struct nb_src *src, unsigned events,
                 int add)
{
    struct epoll_event ev = {.events = events ? EPOLLIN : 0, .data.ptr = src};
    int op = add > 0 ? EPOLL_CTL_ADD : add < 0 ? EPOLL_CTL_DEL : EPOLL_CTL_MOD;

    return epoll_ctl(nb->epfd, op, fd, &ev) < 0 ? -errno : 0;
}

/* ---- Options ------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(
        f, "usage: xgrant-netback [--daemon] [--once] [--log FILE]\n"
           "                      [--max-queues N] [--rx-stall-ms MS]\n"
           "                      [--stats-ms MS] [--no-rx-map] [--no-tx-map]\n"
           "Serves every vif of this domain (backend/vif in the store)\n"
           "with a TAP device vif<domid>.<devid>.  See xgrant-netback(8).\n"
           "  --daemon          detach once the store is watched (the\n"
           "                    parent exits 0 then; default: stay)\n"
           "  --foreground      stay (the default)\n"
           "  --once            exit when the last vif served is removed\n"
           "  --log FILE        log there instead of stderr\n"
           "  --max-queues N    multi-queue-max-queues offered (1..16,\n"
           "                    default: the CPUs, at most 4)\n"
           "  --rx-stall-ms MS  drop what a frontend that posts no rx\n"
           "                    buffers for MS would get (default 10000)\n"
           "  --stats-ms MS     write statistics/ at most every MS\n"
           "                    (default 1000)\n"
           "  --no-rx-map       do not offer feature-grant-ext-rx-map\n"
           "                    (copy into the rx buffers, never map)\n"
           "  --no-tx-map       do not offer feature-grant-ext-tx-map\n"
           "                    (copy out of the tx buffers, never map)\n");
}

static int parse_opts(int argc, char **argv, struct nb_opts *o)
{
    static const struct option lo[] = {
        {"foreground", no_argument, NULL, 'f'},
        {"daemon", no_argument, NULL, 'd'},
        {"once", no_argument, NULL, 'o'},
        {"log", required_argument, NULL, 'l'},
        {"max-queues", required_argument, NULL, 'q'},
        {"rx-stall-ms", required_argument, NULL, 's'},
        {"stats-ms", required_argument, NULL, 't'},
        {"no-rx-map", no_argument, NULL, 'm'},
        {"no-tx-map", no_argument, NULL, 'M'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int c, rc = 0;

    o->max_queues = cpus > 4 ? 4 : cpus < 1 ? 1 : (unsigned)cpus;
    o->rx_stall_ms = 10000;
    o->stats_ms = 1000;
    while (rc == 0 &&
           (c = getopt_long(argc, argv, "fdol:q:s:t:mMh", lo, NULL)) != -1) {
        switch (c) {
        case 'f':
            o->daemon = 0;
            break;
        case 'd':
            o->daemon = 1;
            break;
        case 'o':
            o->once = 1;
            break;
        case 'l':
            o->log = optarg;
            break;
        case 'q':
            rc = xgt_opt_uint("xgrant-netback", "--max-queues", optarg, 1,
                              XBE_MAX_QUEUES, &o->max_queues);
            break;
        case 's':
            rc = xgt_opt_uint("xgrant-netback", "--rx-stall-ms", optarg, 1,
                              3600000u, &o->rx_stall_ms);
            break;
        case 't':
            rc = xgt_opt_uint("xgrant-netback", "--stats-ms", optarg, 1,
                              3600000u, &o->stats_ms);
            break;
        case 'm':
            o->no_rx_map = 1;
            break;
        case 'M':
            o->no_tx_map = 1;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return -EINVAL;
        }
    }
    if (rc < 0)
        return rc;
    if (optind < argc) {
        fprintf(stderr, "xgrant-netback: unexpected argument '%s'\n",
                argv[optind]);
        return -EINVAL;
    }
    return 0;
}

/* ---- Set-up -------------------------------------------------------------- */

static int open_all(struct nb *nb)
{
    const char *tr = getenv("XGRANT_TRANSPORT");
    sigset_t set;
    int rc;

    nb->xen = tr && !strcmp(tr, "xen");
    rc = grant_xenbus_open(&nb->xb, 0);
    if (rc < 0)
        return nb_log("cannot reach the store: %s", strerror(-rc)), rc;
    rc = grant_open(&nb->h, 0);
    if (rc < 0)
        return nb_log("cannot open libgrant: %s", grant_strerror(rc)), rc;
    nb->stage_len = (size_t)STAGE_FRAMES *
                    ((NB_VNET_HDR + NB_MAX_FRAME + NB_PAGE) & ~(NB_PAGE - 1));
    rc = grant_mem_alloc(nb->h, nb->stage_len / NB_PAGE, (void **)&nb->stage);
    if (rc < 0)
        return nb_log("cannot allocate %zu staging bytes: %s", nb->stage_len,
                      grant_strerror(rc)),
               rc;
    nb->epfd = epoll_create1(EPOLL_CLOEXEC);
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, NULL);
    nb->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (nb->epfd < 0 || nb->sigfd < 0)
        return nb_log("epoll/signalfd: %s", strerror(errno)), -errno;
    nb_xbe_ops.max_queues = nb->opt.max_queues;
    rc = xbe_open(&nb->bus, &nb_xbe_ops, nb->h, nb->xb, grant_domid(nb->h), nb);
    if (rc < 0)
        return nb_log("cannot watch backend/vif: %s", strerror(-rc)), rc;
    nb->src_store = (struct nb_src){NB_SRC_STORE, NULL};
    nb->src_evtchn = (struct nb_src){NB_SRC_EVTCHN, NULL};
    nb->src_signal = (struct nb_src){NB_SRC_SIGNAL, NULL};
    rc = grant_evtchn_pending_fd(nb->h);
    if (rc >= 0)
        rc = nb_epoll_set(nb, rc, &nb->src_evtchn, 1, 1);
    if (rc >= 0)
        rc = nb_epoll_set(nb, xbe_fd(nb->bus), &nb->src_store, 1, 1);
    if (rc >= 0)
        rc = nb_epoll_set(nb, nb->sigfd, &nb->src_signal, 1, 1);
    if (rc < 0)
        return nb_log("epoll: %s", strerror(-rc)), rc;
    /* Mapped buffers force-revoked (bufmap.c; also drained before use). */
    nb->src_revoke = (struct nb_src){NB_SRC_REVOKE, NULL};
    rc = grant_map_revoked_fd(nb->h);
    if (rc < 0 || nb_epoll_set(nb, rc, &nb->src_revoke, 1, 1) < 0)
        nb_log("revoke events: not polled (%s)",
               rc < 0 ? grant_strerror(rc) : "epoll");
    /* Devices written before we started. */
    xbe_dispatch(nb->bus, 0);
    return 0;
}

static void close_all(struct nb *nb)
{
    xbe_close(nb->bus);
    nb_copy_free(&nb->copy);
    if (nb->stage)
        grant_mem_free(nb->h, nb->stage);
    grant_close(nb->h);
    if (nb->xb)
        grant_xenbus_close(nb->xb);
    free(nb->vifs);
    if (nb->epfd >= 0)
        close(nb->epfd);
    if (nb->sigfd >= 0)
        close(nb->sigfd);
}

/* Detaches; the parent exits with the child's set-up result. */
static int detach(int *ready)
{
    int p[2];
    pid_t pid;
    char c = 1;

    if (pipe2(p, O_CLOEXEC) < 0)
        return -errno;
    pid = fork();
    if (pid < 0)
        return -errno;
    if (pid > 0) {
        close(p[1]);
        _exit(read(p[0], &c, 1) == 1 && c == 0 ? 0 : 1);
    }
    close(p[0]);
    setsid();
    *ready = p[1];
    return 0;
}

/* ---- The loop ------------------------------------------------------------ */

static void events_channel(struct nb *nb)
{
    struct nb_queue *q;
    uint32_t port;
    int is_rx, i;

    /* One port per call; bounded so a flood yields to the rest. */
    for (i = 0; i < 1024 && grant_evtchn_pending(nb->h, &port) > 0; i++) {
        q = nb_port_queue(nb, port, &is_rx);
        if (q)
            q->work = 1;
    }
}

/* Timers: credit, stalls, counters; returns the next wait in ms. */
static int timers(struct nb *nb)
{
    uint64_t now = nb_now_ms();
    int wait = (int)nb->opt.stats_ms, hp;
    unsigned i, j;

    for (i = 0; i < nb->nr_vifs; i++) {
        struct nb_vif *v = nb->vifs[i];

        if (!v->connected)
            continue;
        nb_vif_flush_stats(v, 0);
        for (j = 0; j < xbe_dev_nr_queues(v->d); j++) {
            struct nb_queue *q = &v->q[j];

            nb_rx_check_stall(q, now, nb->opt.rx_stall_ms);
            if (q->holding) {
                uint64_t left = q->hold_since_ms + nb->opt.rx_stall_ms - now;
                /* Without feature-rx-notify the frontend never says it
                 * posted: look every 10 ms. */
                if (!v->rx_notify && left > 10)
                    left = 10;
                if ((int)left < wait)
                    wait = (int)left;
            }
            if (q->cur.started && v->credit_bytes) {
                if (now >= v->next_credit_ms)
                    q->work = 1;
                else if ((int)(v->next_credit_ms - now) < wait)
                    wait = (int)(v->next_credit_ms - now);
            }
            if (!v->rx_notify && q->holding)
                q->work = 1;
            if (q->work)
                wait = 0;
        }
    }
    /* A vif waiting for its hotplug script (on Xen) times out. */
    hp = xbe_timeout_ms(nb->bus);
    return hp >= 0 && hp < wait ? hp : wait;
}

/* A ring index out of range: the frontend broke the protocol, or its
 * domain died and the ring page reads as scratch (then the store says so
 * next: the vif just stops until then). */
static void ring_broken(struct nb_vif *v, unsigned q, const char *ring)
{
    int st = XenbusStateUnknown;

    if (grant_xenbus_read_state(v->nb->xb, XBT_NULL, xbe_dev_fe_dir(v->d),
                                &st) < 0 ||
        st == XenbusStateUnknown) {
        nb_vif_log(v, "the frontend is gone");
        v->dead = 1;
        return;
    }
    xbe_fatal(v->d, -EPROTO, "queue %u: %s ring request index out of range", q,
              ring);
}

/*
 * One pass over a queue, both ways: the tx ring's packets and the TAP's
 * frames are gathered (each into its half of the stage), their bytes move
 * in ONE grant-copy call, then the TAP is written and the responses
 * pushed; the frontend is signalled once per port that wants it (once in
 * all when its channel is not split).  -EPROTO when a ring broke (its
 * name in *ring).
 */
static int serve_queue(struct nb_queue *q, const char **ring)
{
    struct nb_vif *v = q->vif;
    struct nb *nb = v->nb;
    size_t half = nb->stage_len / 2;
    int rc, rx_rc = -1, tx_note, rx_note = 0;

    nb_copy_reset(&nb->copy, !xbe_dev_grant_ext(v->d));
    rc = nb_tx_prepare(q, nb->stage, half);
    if (rc == 0)
        rx_rc = nb_rx_prepare(q, nb->stage + half, nb->stage_len - half);
    nb_copy_run(&nb->copy, nb->h);
    tx_note = nb_tx_complete(q);
    if (rx_rc == 0)
        rx_note = nb_rx_complete(q);
    if (tx_note)
        xbe_kick(v->d, q->idx, 0);
    if (rx_note && (!tx_note || q->port_rx != q->port_tx))
        xbe_kick(v->d, q->idx, 1);
    *ring = rc < 0 ? "tx" : "rx";
    return rc < 0 ? rc : rx_rc < 0 ? rx_rc : 0;
}

static void serve(struct nb *nb)
{
    const char *ring;
    unsigned i, j;

    for (i = 0; i < nb->nr_vifs; i++) {
        struct nb_vif *v = nb->vifs[i];

        for (j = 0; v->connected && !v->dead && j < xbe_dev_nr_queues(v->d);
             j++) {
            struct nb_queue *q = &v->q[j];

            if (!q->work)
                continue;
            q->work = 0;
            if (serve_queue(q, &ring) < 0) {
                ring_broken(v, j, ring);
                break;
            }
        }
    }
}

static int run(struct nb *nb)
{
    struct epoll_event ev[64];
    int n, i, store, stop = 0;

    while (!stop) {
        n = epoll_wait(nb->epfd, ev, 64, timers(nb));
        if (n < 0 && errno != EINTR)
            return nb_log("epoll_wait: %s", strerror(errno)), -errno;
        store = 0;
        for (i = 0; i < n; i++) {
            struct nb_src *s = ev[i].data.ptr;

            if (s->kind == NB_SRC_TAP)
                ((struct nb_queue *)s->obj)->work = 1;
            else if (s->kind == NB_SRC_EVTCHN)
                events_channel(nb);
            else if (s->kind == NB_SRC_STORE)
                store = 1;
            else if (s->kind == NB_SRC_REVOKE)
                nb_map_revoked(nb);
            else
                stop = 1;
        }
        /* Last: the store may remove a vif whose TAP an event named. */
        if (store || xbe_timeout_ms(nb->bus) == 0)
            xbe_dispatch(nb->bus, 0);
        serve(nb);
        if (nb->opt.once && nb->served && xbe_count(nb->bus) == 0)
            stop = 1;
    }
    nb_log("exiting");
    return 0;
}

int main(int argc, char **argv)
{
    struct nb nb;
    int rc, ready = -1;
    char c;

    memset(&nb, 0, sizeof(nb));
    nb.epfd = nb.sigfd = -1;
    if (parse_opts(argc, argv, &nb.opt) < 0)
        return 2;
    if (nb.opt.log) {
        int fd =
            open(nb.opt.log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

        if (fd < 0 || dup2(fd, STDERR_FILENO) < 0) {
            fprintf(stderr, "xgrant-netback: --log %s: %s\n", nb.opt.log,
                    strerror(errno));
            return 1;
        }
        close(fd);
        log_stamp = 1;
    }
    signal(SIGPIPE, SIG_IGN);
    if (nb.opt.daemon && detach(&ready) < 0) {
        fprintf(stderr, "xgrant-netback: cannot detach: %s\n", strerror(errno));
        return 1;
    }
    rc = open_all(&nb);
    if (ready >= 0) {
        c = rc < 0;
        if (write(ready, &c, 1) != 1)
            rc = rc < 0 ? rc : -EIO;
        close(ready);
        if (rc == 0) {
            int null = open("/dev/null", O_RDWR | O_CLOEXEC);

            if (null >= 0) {
                dup2(null, STDIN_FILENO);
                dup2(null, STDOUT_FILENO);
                close(null);
            }
        }
    }
    if (rc == 0) {
        nb_log("serving backend/vif of domain %u (queues up to %u)",
               grant_domid(nb.h), nb.opt.max_queues);
        rc = run(&nb);
    }
    close_all(&nb);
    return rc < 0 ? 1 : 0;
}
