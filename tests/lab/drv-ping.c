/* SPDX-License-Identifier: MIT */
/*
 * drv-ping.c: the lab's ping (drv-dom0.sh, in dom0 and in the guest), in
 * place of busybox's.  Busybox 1.35's ping prints its statistics and
 * exits from its SIGALRM handler, which it arms for two round trips (at
 * least 1 s) after the last request while its main loop prints the same
 * statistics and exits: when the process loses the CPU for a second in
 * between (a vCPU descheduled under TCG), the handler re-enters stdio and
 * exit() inside the main loop's.  Seen in the lab as a ping dying of
 * SIGSEGV; on a host, delaying its writes (strace -e inject=write:
 * delay_enter=1500000:when=4) prints the statistics three times.  This one
 * uses no signal: one poll loop.
 *
 *   drv-ping [-6] [-c COUNT] [-s SIZE] [-w SECONDS] ADDRESS
 *
 * Sends COUNT echo requests (default 3) of SIZE payload bytes (default 56,
 * a pattern that depends on the sequence number) one second apart and
 * waits for their replies until all came or SECONDS (default 20) passed
 * since the start.  A reply counts when it comes from ADDRESS with our id,
 * a sequence number sent and not answered yet, and the whole payload back
 * unchanged; a reply with a changed payload is counted as corrupt.  Prints
 * busybox's lines ("N packets transmitted, N packets received, N% packet
 * loss"); exit 0 when every request was answered and none corrupt, 1
 * otherwise, 2 on bad usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_COUNT 100
#define MAX_SIZE  65000
#define HDR       8 /* an ICMP or ICMPv6 echo header */

static struct {
    int v6, fd;
    unsigned count, size, deadline_s;
    uint16_t id;
    union {
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
    } to;
    const char *name;
    uint64_t sent_us[MAX_COUNT];
    int answered[MAX_COUNT];
    unsigned sent, received, corrupt;
    uint64_t rtt_min, rtt_max, rtt_sum;
    uint8_t pkt[HDR + MAX_SIZE + 60 + 1]; /* a reply may carry IPv4's header */
} P;

static uint64_t now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint8_t pattern(unsigned seq, unsigned i)
{
    return (uint8_t)(seq * 7u + i);
}

static uint16_t csum(const uint8_t *p, size_t n)
{
    uint32_t s = 0;
    size_t i;

    for (i = 0; i + 1 < n; i += 2)
        s += (uint32_t)p[i] << 8 | p[i + 1];
    if (n & 1)
        s += (uint32_t)p[n - 1] << 8;
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return htons((uint16_t)~s);
}

static int send_one(unsigned seq)
{
    uint8_t *p = P.pkt;
    unsigned i;
    ssize_t n;

    memset(p, 0, HDR);
    p[0] = P.v6 ? ICMP6_ECHO_REQUEST : ICMP_ECHO;
    memcpy(p + 4, &P.id, 2);
    p[6] = (uint8_t)(seq >> 8);
    p[7] = (uint8_t)seq;
    for (i = 0; i < P.size; i++)
        p[HDR + i] = pattern(seq, i);
    if (!P.v6) { /* the kernel sums ICMPv6 itself */
        uint16_t c = csum(p, HDR + P.size);

        memcpy(p + 2, &c, 2);
    }
    P.sent_us[seq] = now_us();
    n = sendto(P.fd, p, HDR + P.size, 0, (struct sockaddr *)&P.to,
               P.v6 ? sizeof(P.to.in6) : sizeof(P.to.in));
    if (n != (ssize_t)(HDR + P.size))
        fprintf(stderr, "drv-ping: sendto %s: %s\n", P.name,
                n < 0 ? strerror(errno) : "short");
    P.sent++;
    return 0;
}

static int from_peer(const struct sockaddr_storage *from)
{
    if (P.v6)
        return !memcmp(&((const struct sockaddr_in6 *)from)->sin6_addr,
                       &P.to.in6.sin6_addr, sizeof(struct in6_addr));
    return ((const struct sockaddr_in *)from)->sin_addr.s_addr ==
           P.to.in.sin_addr.s_addr;
}

/* One datagram off the socket: a reply of ours is counted and printed. */
static void recv_one(void)
{
    struct sockaddr_storage from;
    socklen_t fl = sizeof(from);
    ssize_t n =
        recvfrom(P.fd, P.pkt, sizeof(P.pkt), 0, (struct sockaddr *)&from, &fl);
    const uint8_t *p = P.pkt;
    unsigned seq, i, ok = 1;
    uint16_t id;
    uint64_t rtt;

    if (n < 0 || !from_peer(&from))
        return;
    if (!P.v6) { /* a raw IPv4 socket hands over the IP header too */
        size_t ihl = (size_t)(p[0] & 15) * 4;

        if ((size_t)n < ihl)
            return;
        p += ihl;
        n -= (ssize_t)ihl;
    }
    if (n < HDR || p[0] != (P.v6 ? ICMP6_ECHO_REPLY : ICMP_ECHOREPLY))
        return;
    memcpy(&id, p + 4, 2);
    seq = (unsigned)p[6] << 8 | p[7];
    if (id != P.id || seq >= P.sent || P.answered[seq])
        return;
    P.answered[seq] = 1;
    if ((size_t)n != HDR + P.size)
        ok = 0;
    for (i = 0; ok && i < P.size; i++)
        ok = p[HDR + i] == pattern(seq, i);
    if (!ok) {
        P.corrupt++;
        printf("%zd bytes from %s: seq=%u: payload changed\n", n, P.name, seq);
        return;
    }
    rtt = now_us() - P.sent_us[seq];
    P.received++;
    P.rtt_sum += rtt;
    if (P.received == 1 || rtt < P.rtt_min)
        P.rtt_min = rtt;
    if (rtt > P.rtt_max)
        P.rtt_max = rtt;
    printf("%zd bytes from %s: seq=%u time=%llu.%03llu ms\n", n, P.name, seq,
           (unsigned long long)rtt / 1000, (unsigned long long)rtt % 1000);
}

static int open_socket(void)
{
    P.fd = socket(P.v6 ? AF_INET6 : AF_INET, SOCK_RAW,
                  P.v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP);
    if (P.fd < 0)
        return -errno;
    if (P.v6) {
        struct icmp6_filter f;

        ICMP6_FILTER_SETBLOCKALL(&f);
        ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &f);
        setsockopt(P.fd, IPPROTO_ICMPV6, ICMP6_FILTER, &f, sizeof(f));
    }
    return 0;
}

static int parse(int argc, char **argv)
{
    int c;

    P.count = 3;
    P.size = 56;
    P.deadline_s = 20;
    while ((c = getopt(argc, argv, "6c:s:w:")) != -1) {
        switch (c) {
        case '6':
            P.v6 = 1;
            break;
        case 'c':
            P.count = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 's':
            P.size = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'w':
            P.deadline_s = (unsigned)strtoul(optarg, NULL, 10);
            break;
        default:
            return -EINVAL;
        }
    }
    if (optind + 1 != argc || P.count < 1 || P.count > MAX_COUNT ||
        P.size > MAX_SIZE || P.deadline_s < 1)
        return -EINVAL;
    P.name = argv[optind];
    if (P.v6) {
        P.to.in6.sin6_family = AF_INET6;
        return inet_pton(AF_INET6, P.name, &P.to.in6.sin6_addr) == 1 ? 0
                                                                     : -EINVAL;
    }
    P.to.in.sin_family = AF_INET;
    return inet_pton(AF_INET, P.name, &P.to.in.sin_addr) == 1 ? 0 : -EINVAL;
}

int main(int argc, char **argv)
{
    uint64_t start, end, next, t;
    struct pollfd pfd;
    int rc;

    if (parse(argc, argv) < 0) {
        fprintf(stderr,
                "usage: drv-ping [-6] [-c COUNT(1..%d)] "
                "[-s SIZE(0..%d)] [-w SECONDS] ADDRESS\n",
                MAX_COUNT, MAX_SIZE);
        return 2;
    }
    rc = open_socket();
    if (rc < 0) {
        fprintf(stderr, "drv-ping: raw socket: %s\n", strerror(-rc));
        return 1;
    }
    P.id = (uint16_t)getpid();
    printf("PING %s: %u data bytes\n", P.name, P.size);
    start = next = now_us();
    end = start + (uint64_t)P.deadline_s * 1000000u;
    pfd = (struct pollfd){.fd = P.fd, .events = POLLIN};
    while (P.received + P.corrupt < P.count && (t = now_us()) < end) {
        if (P.sent < P.count && t >= next) {
            send_one(P.sent);
            next += 1000000u;
            continue;
        }
        t = (P.sent < P.count && next < end ? next : end) - t;
        if (poll(&pfd, 1, (int)(t / 1000u) + 1) > 0)
            recv_one();
    }
    printf("\n--- %s ping statistics ---\n"
           "%u packets transmitted, %u packets received, ",
           P.name, P.sent, P.received);
    if (P.corrupt)
        printf("%u corrupt, ", P.corrupt);
    printf("%u%% packet loss\n", (P.sent - P.received) * 100u / P.sent);
    if (P.received)
        printf("round-trip min/avg/max = %.3f/%.3f/%.3f ms\n",
               (double)P.rtt_min / 1000, (double)P.rtt_sum / P.received / 1000,
               (double)P.rtt_max / 1000);
    return P.received == P.count && !P.corrupt ? 0 : 1;
}
