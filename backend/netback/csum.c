/* SPDX-License-Identifier: MIT */
/*
 * csum.c: finding a frame's transport header and finishing checksums, for
 * the packets whose checksum a peer left to us (netif's csum_blank, a
 * TAP's VIRTIO_NET_HDR_F_NEEDS_CSUM).  Every offset is checked against the
 * frame's length before it is read: the frame came from a peer.
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "private.h"

#define NB_ETYPE_IPV4 0x0800u
#define NB_ETYPE_IPV6 0x86ddu
#define NB_ETYPE_VLAN 0x8100u
#define IPV6_HLEN     40u
#define NB_EXT_MAX    8u /* IPv6 extension headers we walk */

static unsigned be16(const uint8_t *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

static int l4_ipv4(const uint8_t *f, size_t len, unsigned off, unsigned *l4,
                   unsigned *proto)
{
    unsigned ihl;

    if (len < off + 20u || (f[off] >> 4) != 4)
        return -EPROTO;
    ihl = (f[off] & 0xfu) * 4u;
    /* A fragment's checksum covers the whole datagram: not ours. */
    if (ihl < 20u || len < off + ihl || (be16(f + off + 6) & 0x3fffu))
        return -EPROTO;
    *proto = f[off + 9];
    *l4 = off + ihl;
    return 0;
}

static int l4_ipv6(const uint8_t *f, size_t len, unsigned off, unsigned *l4,
                   unsigned *proto)
{
    unsigned nh, i;

    if (len < off + IPV6_HLEN || (f[off] >> 4) != 6)
        return -EPROTO;
    nh = f[off + 6];
    off += IPV6_HLEN;
    for (i = 0; i < NB_EXT_MAX; i++) {
        if (nh == IPPROTO_TCP || nh == IPPROTO_UDP)
            break;
        /* Hop-by-hop, routing, destination options; a fragment is not
         * ours (as for IPv4). */
        if ((nh != 0 && nh != 43 && nh != 60) || len < off + 8u)
            return -EPROTO;
        nh = f[off];
        off += (f[off + 1] + 1u) * 8u;
    }
    if (i == NB_EXT_MAX)
        return -EPROTO;
    *proto = nh;
    *l4 = off;
    return 0;
}

int nb_l4(const uint8_t *f, size_t len, unsigned *l4, unsigned *proto, int *v6)
{
    unsigned off = 12, type;
    int rc;

    if (len < NB_ETH_HLEN)
        return -EPROTO;
    type = be16(f + off);
    if (type == NB_ETYPE_VLAN) {
        if (len < NB_ETH_HLEN + 4u)
            return -EPROTO;
        off += 4;
        type = be16(f + off);
    }
    off += 2;
    *v6 = type == NB_ETYPE_IPV6;
    if (type == NB_ETYPE_IPV4)
        rc = l4_ipv4(f, len, off, l4, proto);
    else if (type == NB_ETYPE_IPV6)
        rc = l4_ipv6(f, len, off, l4, proto);
    else
        return -EPROTO;
    if (rc < 0 || (*proto != IPPROTO_TCP && *proto != IPPROTO_UDP))
        return -EPROTO;
    /* The whole transport header is in the frame (so a GSO header length
     * can be read from it). */
    if (len < *l4 + (*proto == IPPROTO_TCP ? 20u : 8u))
        return -EPROTO;
    return 0;
}

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t s)
{
    size_t i;

    for (i = 0; i + 1 < n; i += 2)
        s += be16(p + i);
    if (n & 1)
        s += (uint32_t)p[n - 1] << 8;
    return s;
}

static unsigned fold(uint32_t s)
{
    while (s >> 16)
        s = (s & 0xffffu) + (s >> 16);
    return s;
}

static unsigned csum_field(unsigned proto)
{
    return proto == IPPROTO_TCP ? 16u : 6u;
}

void nb_csum_pseudo(uint8_t *f, size_t len, unsigned l4, unsigned proto, int v6)
{
    /* The transport length as a 32-bit word: folding adds its halves. */
    uint32_t s = proto + (uint32_t)(len - l4);
    unsigned sum, at = l4 + csum_field(proto);
    /* The addresses: IPv4's at 12..20 of its header, IPv6's at 8..40. */
    unsigned ip =
        be16(f + 12) == NB_ETYPE_VLAN ? NB_ETH_HLEN + 4u : NB_ETH_HLEN;

    s = v6 ? sum16(f + ip + 8, 32, s) : sum16(f + ip + 12, 8, s);
    sum = fold(s);
    f[at] = (uint8_t)(sum >> 8);
    f[at + 1] = (uint8_t)sum;
}

int nb_csum_complete(uint8_t *f, size_t len, unsigned start, unsigned off)
{
    unsigned at, sum;

    if (__builtin_add_overflow(start, off, &at) || at + 2u > len ||
        start >= len)
        return -EPROTO;
    sum = ~fold(sum16(f + start, len - start, 0)) & 0xffffu;
    if (sum == 0)
        sum = 0xffffu;
    f[at] = (uint8_t)(sum >> 8);
    f[at + 1] = (uint8_t)sum;
    return 0;
}
