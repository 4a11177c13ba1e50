/* SPDX-License-Identifier: MIT */
/*
 * main.c: xgrant-blkback, the block backend daemon.  One process serves
 * every vbd of its domain (/local/domain/<self>/backend/vbd): the main
 * thread runs the xenbus side and publishes counters; each queue of a
 * connected vbd has a thread of its own (queue.c).  SIGTERM or SIGINT
 * closes every device (Closed) and exits 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "private.h"
#include "tools/common/xgt.h"

int bb_wake_fd = -1;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: xgrant-blkback [options]\n"
            "Serves every vbd under /local/domain/<self>/backend/vbd.\n"
            "  --max-queues N       multi-queue-max-queues (default: CPUs, "
            "at most %u)\n"
            "  --max-ring-order N   max-ring-page-order (default %u)\n"
            "  --no-persistent      do not offer feature-persistent\n"
            "  --no-grant-ext       do not offer feature-grant-ext\n"
            "  --no-grant-io        grant-ext data by grant copy, not the "
            "grant-I/O call\n"
            "  --io-helper          grant-ext data moved by a helper domain "
            "per queue\n"
            "                       (feature-grant-delegate)\n"
            "  --io-helper-prog P   the helper's program (default: this "
            "one)\n"
            "  --buffered           never O_DIRECT (default: O_DIRECT "
            "where allowed)\n"
            "  --bounce-mb N        copy buffers per queue (default 16)\n"
            "  --log FILE           log there instead of stderr\n"
            "  --foreground         stay in the foreground (the default)\n"
            "  --help\n",
            XBE_MAX_QUEUES, XBE_MAX_RING_ORDER);
}

static int parse(int argc, char **argv, struct bb_opts *o)
{
    static const struct option lo[] = {
        {"max-queues", required_argument, NULL, 'q'},
        {"max-ring-order", required_argument, NULL, 'r'},
        {"no-persistent", no_argument, NULL, 'p'},
        {"no-grant-ext", no_argument, NULL, 'x'},
        {"no-grant-io", no_argument, NULL, 'i'},
        {"io-helper", no_argument, NULL, 'H'},
        {"io-helper-prog", required_argument, NULL, 'P'},
        {"buffered", no_argument, NULL, 'b'},
        {"bounce-mb", required_argument, NULL, 'm'},
        {"log", required_argument, NULL, 'l'},
        {"foreground", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    unsigned v;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int c;

    o->max_queues = cpus < 1                ? 1
                    : cpus > XBE_MAX_QUEUES ? XBE_MAX_QUEUES
                                            : (unsigned)cpus;
    o->max_ring_order = XBE_MAX_RING_ORDER;
    o->persistent = o->grant_ext = o->direct = o->grant_io = 1;
    o->bounce_budget = 16u << 20;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'q':
            if (xgt_opt_uint("xgrant-blkback", "--max-queues", optarg, 1,
                             XBE_MAX_QUEUES, &o->max_queues) < 0)
                return -EINVAL;
            break;
        case 'r':
            if (xgt_opt_uint("xgrant-blkback", "--max-ring-order", optarg, 0,
                             XBE_MAX_RING_ORDER, &o->max_ring_order) < 0)
                return -EINVAL;
            break;
        case 'm':
            if (xgt_opt_uint("xgrant-blkback", "--bounce-mb", optarg, 1, 4096,
                             &v) < 0)
                return -EINVAL;
            o->bounce_budget = (size_t)v << 20;
            break;
        case 'p':
            o->persistent = 0;
            break;
        case 'x':
            o->grant_ext = 0;
            break;
        case 'i':
            o->grant_io = 0;
            break;
        case 'H':
            o->io_helper = 1;
            break;
        case 'P':
            o->io_helper_prog = optarg;
            break;
        case 'b':
            o->direct = 0;
            break;
        case 'l':
            o->log = optarg;
            break;
        case 'f':
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return -EINVAL;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return -EINVAL;
    }
    return 0;
}

static long now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

static int serve(struct xbe *bus, int sig_fd)
{
    struct pollfd p[3] = {{.fd = xbe_fd(bus), .events = POLLIN},
                          {.fd = bb_wake_fd, .events = POLLIN},
                          {.fd = sig_fd, .events = POLLIN}};
    long last = now_s();
    uint64_t v;
    int rc;

    for (;;) {
        if (poll(p, 3, 1000) < 0 && errno != EINTR)
            return -errno;
        if (p[2].revents)
            return 0;
        if (p[1].revents && read(bb_wake_fd, &v, sizeof(v)) < 0)
            v = 0;
        rc = xbe_dispatch(bus, 0);
        if (rc < 0 && rc != -EAGAIN && rc != -ETIMEDOUT) {
            fprintf(stderr, "xgrant-blkback: store: %s\n", strerror(-rc));
            return rc;
        }
        bb_vbd_tick(bus, now_s() != last);
        last = now_s();
    }
}

int main(int argc, char **argv)
{
    struct bb_opts o = {0};
    grant_handle_t *h = NULL;
    grant_xenbus_t *xb = NULL;
    struct xbe *bus = NULL;
    sigset_t ss;
    int rc, sig_fd;

    if (argc == 2 && !strcmp(argv[1], BBH_ARG))
        return bbh_helper_main(STDIN_FILENO, NULL); /* an I/O helper */
    if (parse(argc, argv, &o) < 0)
        return 2;
    if (o.log && !freopen(o.log, "a", stderr)) {
        fprintf(stdout, "xgrant-blkback: --log %s: %s\n", o.log,
                strerror(errno));
        return 1;
    }
    setvbuf(stderr, NULL, _IOLBF, 0);
    sigemptyset(&ss);
    sigaddset(&ss, SIGTERM);
    sigaddset(&ss, SIGINT);
    sigprocmask(SIG_BLOCK, &ss, NULL); /* threads inherit the mask */
    signal(SIGPIPE, SIG_IGN);
    sig_fd = signalfd(-1, &ss, SFD_CLOEXEC);
    bb_wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    bb_xbe_ops.max_queues = o.max_queues;
    bb_xbe_ops.max_ring_order = o.max_ring_order;
    bb_xbe_ops.grant_ext = o.grant_ext;
    rc = sig_fd < 0 || bb_wake_fd < 0 ? -errno : grant_open(&h, 0);
    if (rc == 0)
        rc = grant_xenbus_open(&xb, 0);
    if (rc == 0)
        rc = xbe_open(&bus, &bb_xbe_ops, h, xb, grant_domid(h), &o);
    if (rc < 0) {
        fprintf(stderr, "xgrant-blkback: cannot start: %s\n",
                grant_strerror(rc));
        grant_xenbus_close(xb);
        grant_close(h);
        return 1;
    }
    fprintf(stderr,
            "xgrant-blkback: serving /local/domain/%u/backend/vbd (queues "
            "%u, ring order %u%s%s)\n",
            grant_domid(h), o.max_queues, o.max_ring_order,
            o.persistent ? ", persistent grants" : "",
            o.grant_ext ? ", grant-ext" : "");
    rc = serve(bus, sig_fd);
    xbe_close(bus);
    grant_xenbus_close(xb);
    grant_close(h);
    fprintf(stderr, "xgrant-blkback: exiting\n");
    return rc < 0;
}
