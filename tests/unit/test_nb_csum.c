/* SPDX-License-Identifier: MIT */
/*
 * test_nb_csum: netback's header walk and checksums (backend/netback/
 * csum.c) on frames a peer made: the transport header found through VLAN
 * tags and IPv6 extension headers, every truncation and fragment refused
 * without reading past the frame, and the checksums it completes checked
 * against an independent sum over the pseudo-header and the segment.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "backend/netback/private.h"

static void put16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* An Ethernet frame of len bytes: [VLAN tag], IPv4 or IPv6 (+ ext
 * headers of 8 bytes each, type `ext`), then proto's header. */
static unsigned frame(uint8_t *f, size_t len, int vlan, int v6, unsigned nr_ext,
                      unsigned ext, unsigned proto)
{
    unsigned off = 12, i, nh;

    memset(f, 0, len);
    for (i = 0; i < len; i++)
        f[i] = (uint8_t)(i * 7 + 3);
    if (vlan) {
        put16(f + off, 0x8100);
        off += 4;
    }
    put16(f + off, v6 ? 0x86dd : 0x0800);
    off += 2;
    if (!v6) {
        memset(f + off, 0, 20);
        f[off] = 0x45;
        put16(f + off + 2, (unsigned)len - off);
        f[off + 9] = (uint8_t)proto;
        return off + 20;
    }
    memset(f + off, 0, 8);
    f[off] = 0x60;
    put16(f + off + 4, (unsigned)len - off - 40);
    f[off + 6] = (uint8_t)(nr_ext ? ext : proto);
    off += 40;
    for (i = 0; i < nr_ext; i++, off += 8) {
        nh = i + 1 < nr_ext ? ext : proto;
        f[off] = (uint8_t)nh;
        f[off + 1] = 0; /* (0 + 1) * 8 bytes */
    }
    return off;
}

static void finds_l4(void **state)
{
    uint8_t f[200];
    unsigned l4, proto;
    int v6;

    (void)state;
    frame(f, sizeof(f), 0, 0, 0, 0, 17);
    assert_int_equal(nb_l4(f, sizeof(f), &l4, &proto, &v6), 0);
    assert_int_equal(l4, 34);
    assert_int_equal(proto, 17);
    assert_int_equal(v6, 0);
    frame(f, sizeof(f), 1, 0, 0, 0, 6);
    assert_int_equal(nb_l4(f, sizeof(f), &l4, &proto, &v6), 0);
    assert_int_equal(l4, 38);
    frame(f, sizeof(f), 0, 1, 0, 0, 6);
    assert_int_equal(nb_l4(f, sizeof(f), &l4, &proto, &v6), 0);
    assert_int_equal(l4, 54);
    assert_int_equal(v6, 1);
    frame(f, sizeof(f), 0, 1, 2, 0, 17); /* hop-by-hop twice */
    assert_int_equal(nb_l4(f, sizeof(f), &l4, &proto, &v6), 0);
    assert_int_equal(l4, 70);
    frame(f, sizeof(f), 1, 1, 1, 60, 6); /* VLAN + destination options */
    assert_int_equal(nb_l4(f, sizeof(f), &l4, &proto, &v6), 0);
    assert_int_equal(l4, 66);
}

static void refuses(void **state)
{
    uint8_t f[400];
    unsigned l4, proto, n;
    int v6;

    (void)state;
    frame(f, sizeof(f), 0, 0, 0, 0, 17);
    assert_int_equal(nb_l4(f, 13, &l4, &proto, &v6), -EPROTO);
    assert_int_equal(nb_l4(f, 33, &l4, &proto, &v6), -EPROTO);
    assert_int_equal(nb_l4(f, 41, &l4, &proto, &v6), -EPROTO); /* UDP cut */
    assert_int_equal(nb_l4(f, 42, &l4, &proto, &v6), 0);
    frame(f, sizeof(f), 0, 0, 0, 0, 6);
    assert_int_equal(nb_l4(f, 53, &l4, &proto, &v6), -EPROTO); /* TCP cut */
    f[14] = 0x4f; /* ihl 60 bytes, frame of 60 */
    assert_int_equal(nb_l4(f, 60, &l4, &proto, &v6), -EPROTO);
    f[14] = 0x44; /* ihl below 20 */
    assert_int_equal(nb_l4(f, sizeof(f), &l4, &proto, &v6), -EPROTO);
    frame(f, sizeof(f), 0, 0, 0, 0, 17);
    f[20] = 0x20; /* more fragments */
    assert_int_equal(nb_l4(f, sizeof(f), &l4, &proto, &v6), -EPROTO);
    frame(f, sizeof(f), 0, 0, 0, 0, 47); /* GRE */
    assert_int_equal(nb_l4(f, sizeof(f), &l4, &proto, &v6), -EPROTO);
    frame(f, sizeof(f), 0, 1, 1, 44, 17); /* an IPv6 fragment */
    assert_int_equal(nb_l4(f, sizeof(f), &l4, &proto, &v6), -EPROTO);
    frame(f, sizeof(f), 0, 1, 9, 0, 17); /* more extensions than walked */
    assert_int_equal(nb_l4(f, sizeof(f), &l4, &proto, &v6), -EPROTO);
    n = frame(f, sizeof(f), 0, 1, 3, 0, 17);
    assert_int_equal(nb_l4(f, n + 7, &l4, &proto, &v6), -EPROTO);
    f[14] = 0x40; /* ethertype IPv6, version 4 */
    assert_int_equal(nb_l4(f, sizeof(f), &l4, &proto, &v6), -EPROTO);
    put16(f + 12, 0x88b5);
    assert_int_equal(nb_l4(f, sizeof(f), &l4, &proto, &v6), -EPROTO);
}

/* One's complement sum of the pseudo-header and the segment, computed
 * here: 0xffff when the checksum in it is right. */
static unsigned verify(const uint8_t *f, size_t len, unsigned ip, unsigned l4,
                       unsigned proto, int v6)
{
    uint32_t s = proto + (uint32_t)(len - l4);
    size_t i;

    for (i = v6 ? ip + 8 : ip + 12; i < (v6 ? ip + 40 : ip + 20); i += 2)
        s += (uint32_t)f[i] << 8 | f[i + 1];
    for (i = l4; i + 1 < len; i += 2)
        s += (uint32_t)f[i] << 8 | f[i + 1];
    if ((len - l4) & 1)
        s += (uint32_t)f[len - 1] << 8;
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return s;
}

static void completes(void **state)
{
    static const struct {
        int v6;
        unsigned proto, len;
    } c[] = {{0, 17, 301}, {0, 6, 1514}, {1, 6, 999}, {1, 17, 64}};
    uint8_t f[1600];
    unsigned i, l4, at;

    (void)state;
    for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        l4 = frame(f, c[i].len, 0, c[i].v6, 0, 0, c[i].proto);
        at = c[i].proto == 6 ? 16 : 6;
        nb_csum_pseudo(f, c[i].len, l4, c[i].proto, c[i].v6);
        assert_int_equal(nb_csum_complete(f, c[i].len, l4, at), 0);
        assert_int_equal(verify(f, c[i].len, 14, l4, c[i].proto, c[i].v6),
                         0xffff);
    }
}

static void complete_bounds(void **state)
{
    uint8_t f[100], g[100];

    (void)state;
    frame(f, sizeof(f), 0, 0, 0, 0, 17);
    memcpy(g, f, sizeof(f));
    assert_int_equal(nb_csum_complete(f, sizeof(f), 100, 0), -EPROTO);
    assert_int_equal(nb_csum_complete(f, sizeof(f), 90, 9), -EPROTO);
    assert_int_equal(nb_csum_complete(f, sizeof(f), 34, 0xffffffffu), -EPROTO);
    assert_int_equal(nb_csum_complete(f, sizeof(f), 0xfffffff0u, 0x20),
                     -EPROTO);
    assert_memory_equal(f, g, sizeof(f)); /* nothing written */
    assert_int_equal(nb_csum_complete(f, sizeof(f), 90, 8), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(finds_l4),
        cmocka_unit_test(refuses),
        cmocka_unit_test(completes),
        cmocka_unit_test(complete_bounds),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
