/* SPDX-License-Identifier: MIT */
/*
 * test_netfront_csum: xgnf_csum_locate (frontend/netfront/csum.c), which
 * finds where a received csum_blank frame's checksum lives from headers a
 * backend wrote.  Each frame is also cut at every length and located from
 * a heap copy of exactly that many bytes: nothing may be read past the end
 * (ASan says so under SANITIZE=1), and a cut header is never accepted.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "xgnetfront.h"

/* Ethernet (+ optional VLAN tag) header of type `type`; its length. */
static size_t eth(uint8_t *f, uint16_t type, int vlan)
{
    size_t off = 12;

    memset(f, 0x11, 12);
    if (vlan) {
        f[off++] = 0x81;
        f[off++] = 0x00;
        f[off++] = 0x00;
        f[off++] = 0x05;
    }
    f[off++] = (uint8_t)(type >> 8);
    f[off++] = (uint8_t)type;
    return off;
}

static size_t ipv4(uint8_t *f, size_t off, uint8_t proto, uint8_t ihl, int frag)
{
    memset(f + off, 0, (size_t)ihl * 4);
    f[off] = (uint8_t)(0x40 | ihl);
    f[off + 6] = frag ? 0x20 : 0x40; /* MF, or DF */
    f[off + 9] = proto;
    return off + (size_t)ihl * 4;
}

static size_t ipv6(uint8_t *f, size_t off, uint8_t nh)
{
    memset(f + off, 0, 40);
    f[off] = 0x60;
    f[off + 6] = nh;
    return off + 40;
}

static size_t tcp(uint8_t *f, size_t off, uint8_t doff)
{
    memset(f + off, 0, (size_t)doff * 4);
    f[off + 12] = (uint8_t)(doff << 4);
    return off + (size_t)doff * 4;
}

/* Locates f[0, len) and every cut of it; returns the full frame's rc. */
static int locate_all_cuts(const uint8_t *f, size_t len, struct xgnf_meta *m)
{
    size_t cut;

    for (cut = 0; cut < len; cut++) {
        uint8_t *c = malloc(cut ? cut : 1);
        struct xgnf_meta mm = *m;
        int rc;

        memcpy(c, f, cut);
        rc = xgnf_csum_locate(c, cut, &mm);
        /* A frame cut inside its L4 header must not be accepted. */
        if (rc == 0)
            assert_true(cut >= (size_t)mm.hdr_len);
        free(c);
    }
    return xgnf_csum_locate(f, len, m);
}

static void ipv4_tcp(void **state)
{
    uint8_t f[128];
    struct xgnf_meta m = {0};
    size_t n = tcp(f, ipv4(f, eth(f, 0x0800, 0), 6, 5, 0), 8);

    (void)state;
    assert_int_equal(locate_all_cuts(f, n + 10, &m), 0);
    assert_int_equal(m.csum_start, 34);
    assert_int_equal(m.csum_offset, 16);
    assert_int_equal(m.hdr_len, 34 + 32);
}

static void ipv4_options_udp(void **state)
{
    uint8_t f[128];
    struct xgnf_meta m = {0};
    size_t n = ipv4(f, eth(f, 0x0800, 0), 17, 7, 0);

    (void)state;
    memset(f + n, 0, 8);
    assert_int_equal(locate_all_cuts(f, n + 8, &m), 0);
    assert_int_equal(m.csum_start, 14 + 28);
    assert_int_equal(m.csum_offset, 6);
}

static void vlan_ipv4_tcp(void **state)
{
    uint8_t f[128];
    struct xgnf_meta m = {0};
    size_t n = tcp(f, ipv4(f, eth(f, 0x0800, 1), 6, 5, 0), 5);

    (void)state;
    assert_int_equal(locate_all_cuts(f, n, &m), 0);
    assert_int_equal(m.csum_start, 38);
}

static void ipv6_tcp_and_ext(void **state)
{
    uint8_t f[192];
    struct xgnf_meta m = {0};
    size_t n = tcp(f, ipv6(f, eth(f, 0x86dd, 0), 6), 5), off;

    (void)state;
    assert_int_equal(locate_all_cuts(f, n, &m), 0);
    assert_int_equal(m.csum_start, 54);
    /* A hop-by-hop header (16 bytes) before UDP. */
    off = ipv6(f, eth(f, 0x86dd, 0), 0);
    memset(f + off, 0, 16);
    f[off] = 17;
    f[off + 1] = 1;
    memset(f + off + 16, 0, 8);
    assert_int_equal(locate_all_cuts(f, off + 24, &m), 0);
    assert_int_equal(m.csum_start, 54 + 16);
    assert_int_equal(m.csum_offset, 6);
}

static void refused(void **state)
{
    uint8_t f[128];
    struct xgnf_meta m = {0}, gso = {.gso_type = XGNF_GSO_TCPV4};
    size_t n;

    (void)state;
    n = tcp(f, ipv4(f, eth(f, 0x0800, 0), 6, 5, 1), 5); /* a fragment */
    assert_int_equal(xgnf_csum_locate(f, n, &m), -EPROTONOSUPPORT);
    n = tcp(f, ipv4(f, eth(f, 0x0800, 0), 6, 4, 0), 5); /* ihl 4 */
    assert_int_equal(xgnf_csum_locate(f, n, &m), -EPROTONOSUPPORT);
    n = tcp(f, ipv4(f, eth(f, 0x0806, 0), 6, 5, 0), 5); /* ARP */
    assert_int_equal(xgnf_csum_locate(f, n, &m), -EPROTONOSUPPORT);
    n = tcp(f, ipv4(f, eth(f, 0x0800, 0), 1, 5, 0), 5); /* ICMP */
    assert_int_equal(xgnf_csum_locate(f, n, &m), -EPROTONOSUPPORT);
    n = tcp(f, ipv4(f, eth(f, 0x0800, 0), 6, 5, 0), 4); /* doff 4 */
    assert_int_equal(xgnf_csum_locate(f, n, &m), -EPROTONOSUPPORT);
    n = ipv4(f, eth(f, 0x0800, 0), 17, 5, 0); /* UDP under TCP GSO */
    memset(f + n, 0, 8);
    assert_int_equal(xgnf_csum_locate(f, n + 8, &gso), -EPROTONOSUPPORT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ipv4_tcp),      cmocka_unit_test(ipv4_options_udp),
        cmocka_unit_test(vlan_ipv4_tcp), cmocka_unit_test(ipv6_tcp_and_ext),
        cmocka_unit_test(refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
