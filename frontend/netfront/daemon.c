/* SPDX-License-Identifier: MIT */
/*
 * xgrant-netfront: the guest side of a vif.  Runs in the guest domain,
 * attaches to device/vif/<devid> with libxgnetfront and pumps frames
 * between it and a TAP interface (eth0 by default) of the domain's own
 * network namespace, with IFF_VNET_HDR so checksum offload and TCP GSO
 * pass through in both directions.  One TAP queue per netif queue
 * (IFF_MULTI_QUEUE when more than one).
 *
 * The TAP: made here (name, the vif's mac, up) when the process may
 * (CAP_NET_ADMIN in its namespace); or handed in open with --tap-fd N (a
 * TAP opened with IFF_TAP|IFF_NO_PI|IFF_VNET_HDR by the toolstack, which
 * then also sets its address and brings it up); --tap-fd once per queue of
 * an IFF_MULTI_QUEUE TAP asks for that many netif queues.
 *
 * Exit: 0 when the backend closed the device or on SIGTERM/SIGINT (the
 * device is closed in Xen's order first), 1 on an error (named on stderr).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tools/common/xgt.h"
#include "xgnetfront.h"

#define BURST 64

static volatile sig_atomic_t stop;
static const char *ifname = "eth0";
static unsigned devid;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "xgrant-netfront: vif %u (%s): ", devid, ifname);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: xgrant-netfront [--devid N] [--ifname NAME] [--queues N]\n"
            "                       [--tap-fd FD]... [--no-grant-ext] "
            "[--timeout-ms MS]\n"
            "Runs in an xgrant guest domain: attaches to device/vif/N (0)\n"
            "and pumps frames between it and the TAP NAME (eth0) of the\n"
            "domain's network namespace, made here with the vif's mac (or\n"
            "given open as FD, IFF_TAP|IFF_NO_PI|IFF_VNET_HDR; one --tap-fd\n"
            "per queue of an IFF_MULTI_QUEUE TAP).  --queues: netif queues\n"
            "wished (1).  Exits 0 when the backend closes.\n");
}

static int tap_open(int nq, int *fds)
{
    struct ifreq ifr;
    int i;

    for (i = 0; i < nq; i++) {
        fds[i] = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (fds[i] < 0)
            return -errno;
        memset(&ifr, 0, sizeof(ifr));
        snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
        ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
        if (nq > 1)
            ifr.ifr_flags |= IFF_MULTI_QUEUE;
        if (ioctl(fds[i], TUNSETIFF, &ifr) < 0)
            return -errno;
    }
    return 0;
}

/* Takes a queue handed in out of its TAP's queue set. */
static int tap_detach(int fd)
{
    struct ifreq ifr;

    memset(&ifr, 0, sizeof(ifr));
    ifr.ifr_flags = IFF_DETACH_QUEUE;
    return ioctl(fd, TUNSETQUEUE, &ifr) < 0 ? -errno : 0;
}

/* The vif's mac, mtu and up, through an ioctl socket of our namespace. */
static int tap_config(const struct xgnf_info *info)
{
    struct ifreq ifr;
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = 0;

    if (s < 0)
        return -errno;
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
    ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
    memcpy(ifr.ifr_hwaddr.sa_data, info->mac, 6);
    if (ioctl(s, SIOCSIFHWADDR, &ifr) < 0)
        rc = -errno;
    if (rc == 0 && ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
        rc = -errno;
    ifr.ifr_flags |= IFF_UP;
    if (rc == 0 && ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
        rc = -errno;
    close(s);
    return rc;
}

static int tap_offload(int fd, const struct xgnf_info *info)
{
    unsigned off = TUN_F_CSUM;
    int sz = sizeof(struct virtio_net_hdr);

    if (info->gso_tcpv4)
        off |= TUN_F_TSO4;
    if (info->gso_tcpv6)
        off |= TUN_F_TSO6;
    if (ioctl(fd, TUNSETVNETHDRSZ, &sz) < 0 ||
        ioctl(fd, TUNSETOFFLOAD, off) < 0)
        return -errno;
    return 0;
}

/* The internet checksum of a frame's L4 part, put in place (for a
 * csum_blank frame the backend cannot take). */
static int csum_fill(uint8_t *f, size_t len, const struct virtio_net_hdr *h)
{
    uint32_t sum = 0;
    size_t i, start = h->csum_start, at = start + h->csum_offset;
    uint16_t v;

    if (at + 2 > len)
        return -EINVAL;
    for (i = start; i + 1 < len; i += 2)
        sum += (uint32_t)(f[i] << 8 | f[i + 1]);
    if (i < len)
        sum += (uint32_t)f[i] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    v = (uint16_t)~sum;
    f[at] = (uint8_t)(v >> 8);
    f[at + 1] = (uint8_t)v;
    return 0;
}

struct pump {
    struct xgnf *nf;
    int nq;
    int tap[XGNF_MAX_QUEUES];
    int tap_on[XGNF_MAX_QUEUES];
    int ep;
    uint64_t tap_drops, tx_refused;
    uint8_t buf[sizeof(struct virtio_net_hdr) + XGNF_MAX_FRAME];
};

/* The offloads of a virtio-net header; -1 for a GSO kind netif lacks. */
static int vnet_meta(const struct virtio_net_hdr *h, struct xgnf_meta *m)
{
    memset(m, 0, sizeof(*m));
    m->csum_blank = !!(h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM);
    m->data_validated = !!(h->flags & VIRTIO_NET_HDR_F_DATA_VALID);
    m->gso_size = h->gso_size;
    switch (h->gso_type & ~VIRTIO_NET_HDR_GSO_ECN) {
    case VIRTIO_NET_HDR_GSO_NONE:
        return 0;
    case VIRTIO_NET_HDR_GSO_TCPV4:
        m->gso_type = XGNF_GSO_TCPV4;
        return 0;
    case VIRTIO_NET_HDR_GSO_TCPV6:
        m->gso_type = XGNF_GSO_TCPV6;
        return 0;
    default:
        return -1;
    }
}

/* A csum_blank frame the backend cannot take (IPv6 without
 * feature-ipv6-csum-offload): gathered here, its checksum filled in, sent
 * by copy.  The first buffer holds its Ethernet header. */
static int csum_unsupported(const struct xgnf *nf, const struct xgnf_meta *m,
                            const struct iovec *iov)
{
    const uint8_t *eth = iov[0].iov_base;

    return m->csum_blank && !m->gso_type && !xgnf_info(nf)->ipv6_csum &&
           eth[12] == 0x86 && eth[13] == 0xdd;
}

static int send_filled(struct pump *p, int q, const struct iovec *bufs,
                       unsigned nb, size_t len, const struct virtio_net_hdr *h,
                       struct xgnf_meta *m)
{
    uint8_t *frame = p->buf + sizeof(*h);
    struct iovec iov = {frame, len};
    size_t got = 0;
    unsigned k;

    for (k = 0; k < nb && got < len; k++) {
        size_t c = bufs[k].iov_len < len - got ? bufs[k].iov_len : len - got;

        memcpy(frame + got, bufs[k].iov_base, c);
        got += c;
    }
    xgnf_send_commit(p->nf, (unsigned)q, 0, NULL);
    if (csum_fill(frame, len, h) < 0)
        return -EINVAL;
    m->csum_blank = 0;
    return xgnf_send(p->nf, (unsigned)q, &iov, 1, m);
}

/* TAP -> backend: up to BURST frames while the ring has room, each read
 * straight into the tx buffers (xgnf_send_reserve: no copy here). */
static void pump_tx(struct pump *p, int q)
{
    int i;

    for (i = 0; i < BURST; i++) {
        struct virtio_net_hdr h;
        struct iovec iov[XGNF_MAX_SLOTS + 1];
        struct xgnf_meta m;
        unsigned nb;
        ssize_t n;
        size_t len;
        int rc;

        if (xgnf_send_reserve(p->nf, (unsigned)q, XGNF_MAX_FRAME, iov + 1,
                              &nb) < 0)
            break;
        iov[0].iov_base = &h;
        iov[0].iov_len = sizeof(h);
        n = readv(p->tap[q], iov, (int)nb + 1);
        if (n < (ssize_t)sizeof(h)) {
            xgnf_send_commit(p->nf, (unsigned)q, 0, NULL);
            break;
        }
        len = (size_t)n - sizeof(h);
        if (vnet_meta(&h, &m) < 0 || len < XGNF_MIN_FRAME) {
            xgnf_send_commit(p->nf, (unsigned)q, 0, NULL);
            p->tx_refused++;
            continue;
        }
        if (csum_unsupported(p->nf, &m, iov + 1))
            rc = send_filled(p, q, iov + 1, nb, len, &h, &m);
        else
            rc = xgnf_send_commit(p->nf, (unsigned)q, len, &m);
        if (rc < 0)
            p->tx_refused++;
    }
}

/* Backend -> TAP: the frames received, up to 4 * BURST; 1 when that
 * bound stopped it (more may be waiting: no sleeping then). */
static int pump_rx(struct pump *p, int q)
{
    struct xgnf_pkt pkt;
    int i;

    for (i = 0; i < 4 * BURST && xgnf_recv(p->nf, (unsigned)q, &pkt) == 1;
         i++) {
        struct virtio_net_hdr h = {0};
        struct iovec iov[XGNF_MAX_SLOTS + 2];
        unsigned k;

        if (pkt.meta.csum_blank || pkt.meta.gso_type) {
            h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
            h.csum_start = pkt.meta.csum_start;
            h.csum_offset = pkt.meta.csum_offset;
        } else if (pkt.meta.data_validated) {
            h.flags = VIRTIO_NET_HDR_F_DATA_VALID;
        }
        if (pkt.meta.gso_type) {
            h.gso_type = pkt.meta.gso_type == XGNF_GSO_TCPV4
                             ? VIRTIO_NET_HDR_GSO_TCPV4
                             : VIRTIO_NET_HDR_GSO_TCPV6;
            h.gso_size = pkt.meta.gso_size;
            h.hdr_len = pkt.meta.hdr_len;
        }
        iov[0].iov_base = &h;
        iov[0].iov_len = sizeof(h);
        for (k = 0; k < pkt.niov; k++)
            iov[k + 1] = pkt.iov[k];
        if (writev(p->tap[q], iov, (int)pkt.niov + 1) < 0)
            p->tap_drops++;
    }
    return i == 4 * BURST;
}

/* Reads the TAP only while the ring has room for a largest frame. */
static void tap_arm(struct pump *p, int q)
{
    int on = xgnf_tx_room(p->nf, (unsigned)q, XGNF_MAX_FRAME) > 0;
    struct epoll_event ev = {.events = on ? EPOLLIN : 0, .data.u32 = 1u + q};

    if (on != p->tap_on[q] &&
        epoll_ctl(p->ep, EPOLL_CTL_MOD, p->tap[q], &ev) == 0)
        p->tap_on[q] = on;
}

static void log_stats(struct pump *p, struct xgnf_stats *last)
{
    struct xgnf_stats s;
    uint64_t bad, was;

    xgnf_stats(p->nf, &s);
    bad = s.err_tx_id + s.err_rx_id + s.err_rx_size + s.err_rx_chain +
          s.err_rx_extra + s.err_ring + s.err_grant + s.rx_csum_unknown;
    was = last->err_tx_id + last->err_rx_id + last->err_rx_size +
          last->err_rx_chain + last->err_rx_extra + last->err_ring +
          last->err_grant + last->rx_csum_unknown;
    if (bad != was)
        logf_("backend errors: tx_id %llu rx_id %llu rx_size %llu rx_chain "
              "%llu rx_extra %llu ring %llu grant %llu csum %llu",
              (unsigned long long)s.err_tx_id, (unsigned long long)s.err_rx_id,
              (unsigned long long)s.err_rx_size,
              (unsigned long long)s.err_rx_chain,
              (unsigned long long)s.err_rx_extra,
              (unsigned long long)s.err_ring, (unsigned long long)s.err_grant,
              (unsigned long long)s.rx_csum_unknown);
    *last = s;
}

static int run(struct pump *p)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 0};
    struct xgnf_stats last = {0};
    time_t logged = 0;
    int q, rc = 0, more = 0;

    p->ep = epoll_create1(EPOLL_CLOEXEC);
    if (p->ep < 0 || epoll_ctl(p->ep, EPOLL_CTL_ADD, xgnf_fd(p->nf), &ev) < 0)
        return -errno;
    for (q = 0; q < p->nq; q++) {
        ev.data.u32 = 1u + (unsigned)q;
        if (epoll_ctl(p->ep, EPOLL_CTL_ADD, p->tap[q], &ev) < 0)
            return -errno;
        p->tap_on[q] = 1;
    }
    while (!stop) {
        struct epoll_event evs[XGNF_MAX_QUEUES + 1];

        if (epoll_wait(p->ep, evs, XGNF_MAX_QUEUES + 1, more ? 0 : 1000) < 0 &&
            errno != EINTR)
            return -errno;
        more = 0;
        rc = xgnf_poll(p->nf);
        if (rc < 0)
            break;
        for (q = 0; q < p->nq; q++) {
            more |= pump_rx(p, q);
            pump_tx(p, q);
            xgnf_flush(p->nf, (unsigned)q);
            tap_arm(p, q);
        }
        if (time(NULL) != logged) { /* at most once a second */
            logged = time(NULL);
            log_stats(p, &last);
        }
    }
    log_stats(p, &last);
    return rc;
}

/* Attaches, waiting up to the timeout for the toolstack to write the
 * device (it may do so after the domain started). */
static int open_vif(struct xgnf **nf, grant_handle_t *h, grant_xenbus_t *xb,
                    const struct xgnf_config *cfg)
{
    struct timespec t0, t;
    int rc;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        rc = xgnf_open(nf, h, xb, cfg);
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (rc != -ENOENT || (t.tv_sec - t0.tv_sec) * 1000 +
                                     (t.tv_nsec - t0.tv_nsec) / 1000000 >=
                                 cfg->timeout_ms)
            return rc;
        usleep(50000);
    }
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"devid", required_argument, NULL, 'd'},
        {"ifname", required_argument, NULL, 'i'},
        {"queues", required_argument, NULL, 'q'},
        {"tap-fd", required_argument, NULL, 'f'},
        {"no-grant-ext", no_argument, NULL, 'n'},
        {"timeout-ms", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    struct xgnf_config cfg = {.max_queues = 1, .timeout_ms = 30000};
    static struct pump p;
    struct sigaction sa = {.sa_handler = on_signal};
    grant_handle_t *h = NULL;
    grant_xenbus_t *xb = NULL;
    int c, tapfd[XGNF_MAX_QUEUES], ntap = 0, rc, q;
    unsigned v;

    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            if (xgt_opt_uint("xgrant-netfront", "--devid", optarg, 0,
                             0xffffffffu, &devid) < 0)
                return 1;
            break;
        case 'i':
            ifname = optarg;
            break;
        case 'q':
            if (xgt_opt_uint("xgrant-netfront", "--queues", optarg, 1,
                             XGNF_MAX_QUEUES, &cfg.max_queues) < 0)
                return 1;
            break;
        case 'f':
            if (ntap == XGNF_MAX_QUEUES) {
                fprintf(stderr, "xgrant-netfront: at most %d --tap-fd\n",
                        XGNF_MAX_QUEUES);
                return 1;
            }
            if (xgt_opt_uint("xgrant-netfront", "--tap-fd", optarg, 0, INT_MAX,
                             &v) < 0)
                return 1;
            tapfd[ntap++] = (int)v;
            break;
        case 'n':
            cfg.no_grant_ext = 1;
            break;
        case 't':
            if (xgt_opt_uint("xgrant-netfront", "--timeout-ms", optarg, 1,
                             3600000u, &v) < 0)
                return 1;
            cfg.timeout_ms = (int)v;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 1;
        }
    }
    if (optind != argc || strlen(ifname) >= IFNAMSIZ) {
        usage(stderr);
        return 1;
    }
    cfg.devid = devid;
    cfg.one_evtchn = 1; /* each signal serves both rings of every queue */
    if (ntap)
        cfg.max_queues = (unsigned)ntap; /* a queue per TAP queue handed in */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    rc = grant_open(&h, 0);
    if (rc == 0)
        rc = grant_xenbus_open(&xb, 0);
    if (rc < 0) {
        logf_("cannot reach the hypervisor or the store: %s", strerror(-rc));
        return 1;
    }
    rc = open_vif(&p.nf, h, xb, &cfg);
    if (rc < 0) {
        logf_("cannot connect to the backend: %s", strerror(-rc));
        return 1;
    }
    p.nq = (int)xgnf_info(p.nf)->nr_queues;
    if (ntap) {
        rc = 0;
        for (q = 0; rc == 0 && q < ntap; q++) {
            p.tap[q] = tapfd[q];
            rc = fcntl(tapfd[q], F_SETFL, O_NONBLOCK) < 0 ? -errno : 0;
        }
        /* Queues the backend did not grant: the kernel must not queue
         * frames there nobody reads. */
        for (q = p.nq; rc == 0 && q < ntap; q++)
            rc = tap_detach(tapfd[q]);
    } else {
        rc = tap_open(p.nq, p.tap);
        if (rc == 0)
            rc = tap_config(xgnf_info(p.nf));
    }
    for (q = 0; rc == 0 && q < p.nq; q++)
        rc = tap_offload(p.tap[q], xgnf_info(p.nf));
    if (rc < 0) {
        logf_("cannot set the TAP up: %s", strerror(-rc));
        xgnf_close(p.nf);
        return 1;
    }
    logf_("connected: %u queue(s), %s grants, sg %d gso %d/%d", p.nq,
          xgnf_info(p.nf)->grant_ext ? "extension" : "standard",
          xgnf_info(p.nf)->sg, xgnf_info(p.nf)->gso_tcpv4,
          xgnf_info(p.nf)->gso_tcpv6);
    rc = run(&p);
    if (rc == -ENOTCONN)
        logf_("the backend closed the device");
    else if (rc < 0)
        logf_("stopping: %s", strerror(-rc));
    xgnf_close(p.nf);
    grant_xenbus_close(xb);
    grant_close(h);
    return rc < 0 && rc != -ENOTCONN ? 1 : 0;
}
