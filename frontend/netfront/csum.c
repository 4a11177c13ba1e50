/* SPDX-License-Identifier: MIT */
/*
 * csum.c: where a frame's L4 checksum lives (xgnf_csum_locate).  netif
 * says only "csum_blank"; a virtio-net header (TAP's IFF_VNET_HDR) wants
 * csum_start and csum_offset, so they are found in the headers, as
 * Linux's netfront does with skb_checksum_setup.  Every read is bounded
 * by len.
 */
#include <errno.h>

#include "xgnetfront.h"

#define IPPROTO_TCP_ 6
#define IPPROTO_UDP_ 17

/* IPv6 extension headers we step over (hop-by-hop, routing, dest opts). */
static int ip6_ext(uint8_t nh)
{
    return nh == 0 || nh == 43 || nh == 60;
}

int xgnf_csum_locate(const uint8_t *f, size_t len, struct xgnf_meta *m)
{
    size_t off = 14, l4;
    unsigned proto, i;
    uint16_t type;

    if (len < off)
        return -EPROTONOSUPPORT;
    type = (uint16_t)(f[12] << 8 | f[13]);
    if (type == 0x8100) { /* one 802.1Q tag */
        if (len < off + 4)
            return -EPROTONOSUPPORT;
        type = (uint16_t)(f[16] << 8 | f[17]);
        off += 4;
    }
    if (type == 0x0800) {
        if (len < off + 20 || (f[off] >> 4) != 4 || (f[off] & 15) < 5)
            return -EPROTONOSUPPORT;
        if ((f[off + 6] & 0x3f) || f[off + 7]) /* a fragment */
            return -EPROTONOSUPPORT;
        proto = f[off + 9];
        l4 = off + (size_t)(f[off] & 15) * 4;
    } else if (type == 0x86dd) {
        if (len < off + 40 || (f[off] >> 4) != 6)
            return -EPROTONOSUPPORT;
        proto = f[off + 6];
        l4 = off + 40;
        for (i = 0; i < 4 && ip6_ext((uint8_t)proto); i++) {
            if (len < l4 + 8)
                return -EPROTONOSUPPORT;
            proto = f[l4];
            l4 += ((size_t)f[l4 + 1] + 1) * 8;
        }
    } else {
        return -EPROTONOSUPPORT;
    }
    if (proto == IPPROTO_TCP_ && len >= l4 + 20 && (f[l4 + 12] >> 4) >= 5 &&
        len >= l4 + (size_t)(f[l4 + 12] >> 4) * 4) {
        m->csum_start = (uint16_t)l4;
        m->csum_offset = 16;
        m->hdr_len = (uint16_t)(l4 + (size_t)(f[l4 + 12] >> 4) * 4);
        return 0;
    }
    if (proto == IPPROTO_UDP_ && len >= l4 + 8 && !m->gso_type) {
        m->csum_start = (uint16_t)l4;
        m->csum_offset = 6;
        m->hdr_len = (uint16_t)(l4 + 8);
        return 0;
    }
    return -EPROTONOSUPPORT;
}
