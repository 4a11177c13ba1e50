/* SPDX-License-Identifier: MIT */
/*
 * protect_many: grant_protect over many separately mapped pages.  A child
 * domain running this binary in the "granter" role (as netfront) grants N
 * pages, one grant each (and 4 pages a grant, as netfront's rx buffers),
 * READ|WRITE|MAP to domain 0 (this program), which maps each grant on its
 * own (as netback's rx mappings).  The granter then protects them all
 * read-only, in one call and in one call per page: once grant_protect
 * returns, domain 0's write to every page must fail (process_vm_writev on
 * its own mapping: EFAULT) and the pages keep their bytes.  12 and 256
 * one-page grants, 256 four-page grants (1024 pages).  (It holds; the
 * frames netback passed on from protected buffers came from tun: see
 * net_backend's case D.)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/itest.h"

#define PG     4096
#define MAXN   1024
#define MARK   0x5a
#define SCRIBE 0xee

/* Writes one byte at p through the kernel (a read-only page: EFAULT). */
static int poke(void *p)
{
    uint8_t v = SCRIBE;
    struct iovec l = {&v, 1}, r = {p, 1};

    return process_vm_writev(getpid(), &l, 1, &r, 1, 0) == 1 ? 0 : -errno;
}

/* ---- the "granter" role, inside a domain: one command a line ----------- */

static grant_ref_t refs1[MAXN], refs4[MAXN / 4];

/* Grants of `per` pages each over mem, to domain 0: 0 or -errno. */
static int grant_all(grant_handle_t *h, uint8_t *mem, unsigned per,
                     grant_ref_t *refs)
{
    int rc = 0;

    for (unsigned i = 0; i < MAXN / per && !rc; i++)
        rc = grant_create_direct(
            h, 0, GRANT_R_READ | GRANT_R_WRITE | GRANT_R_MAP,
            mem + (size_t)i * per * PG, per * PG, &refs[i]);
    return rc;
}

static int granter_cmd(grant_handle_t *h, uint8_t *mem, const char *line)
{
    unsigned i, n, per_page;
    size_t bad = 0;
    int rc = 0;

    if (sscanf(line, "ref %u %u", &n, &i) == 2 && i < MAXN / n)
        return (int)(n == 1 ? refs1[i] : refs4[i]);
    if (sscanf(line, "fill %u", &n) == 1) {
        memset(mem, MARK, (size_t)n * PG);
        return 0;
    }
    if (sscanf(line, "check %u", &n) == 1) {
        for (size_t j = 0; j < (size_t)n * PG; j++)
            bad += mem[j] != MARK;
        return (int)bad;
    }
    if (sscanf(line, "protect %u %u", &n, &per_page) == 2) {
        if (per_page)
            for (size_t j = 0; j < n && !rc; j++)
                rc = grant_protect(h, mem + j * PG, PG, GRANT_ACC_R,
                                   GRANT_ACT_DENY, 7);
        else
            rc = grant_protect(h, mem, (size_t)n * PG, GRANT_ACC_R,
                               GRANT_ACT_DENY, 7);
        return rc;
    }
    if (sscanf(line, "lift %u", &n) == 1)
        return grant_protect(h, mem, (size_t)n * PG, GRANT_ACC_RWX, 0, 0);
    return -EINVAL;
}

static int granter(void)
{
    grant_handle_t *h;
    char line[128];
    void *mem;

    if (grant_open(&h, 0) < 0 || grant_mem_alloc(h, MAXN, &mem) < 0 ||
        grant_all(h, mem, 1, refs1) < 0 || grant_all(h, mem, 4, refs4) < 0)
        return 2;
    while (fgets(line, sizeof(line), stdin)) {
        int rc = granter_cmd(h, mem, line);

        if (rc < 0)
            printf("err %d %s", rc, line);
        else
            printf("ok %d\n", rc);
        fflush(stdout);
    }
    grant_close(h);
    return 0;
}

/* ---- domain 0: the mapper ----------------------------------------------- */

static void *maps[MAXN];

/* Domain 0 maps n grants of `per` pages of a; then each way of protecting
 * them: one call, and one call a page. */
static void many_case(grant_handle_t *dom0, struct itest_agent *a, unsigned per,
                      unsigned n)
{
    unsigned pages = n * per, wrote = 0, first = MAXN;
    int rc = 0;

    for (unsigned i = 0; i < n && !rc; i++)
        rc = grant_map(dom0, a->domid,
                       (grant_ref_t)itest_ok(a, "ref %u %u", per, i), 0,
                       per * PG, 0, &maps[i]);
    ICHECK(rc == 0, "%u grants of %u pages mapped (%d)", n, per, rc);
    for (int per_page = 0; per_page < 2; per_page++) {
        itest_ok(a, "fill %u", pages);
        itest_ok(a, "protect %u %d", pages, per_page);
        wrote = 0;
        for (unsigned i = 0; i < n; i++)
            for (unsigned o = 0; o < per * PG; o += PG)
                if (poke((uint8_t *)maps[i] + o) == 0 && wrote++ == 0)
                    first = i;
        ICHECK(wrote == 0,
               "%u mappings of %u pages protected read-only, %s: no write "
               "through them lands (%u did, the first in mapping %u)",
               n, per, per_page ? "a call a page" : "one call", wrote, first);
        ICHECK(itest_ok(a, "check %u", pages) == 0,
               "the protected pages kept their bytes");
        itest_ok(a, "lift %u", pages);
    }
    for (unsigned i = 0; i < n; i++)
        grant_unmap(dom0, maps[i]);
}

int main(int argc, char **argv)
{
    static const unsigned sizes[] = {12, 256};
    char *args[] = {itest_self(), "granter", NULL};
    struct itest_agent a;
    grant_handle_t *dom0;

    if (argc == 2 && !strcmp(argv[1], "granter"))
        return granter();
    itest_setup(&dom0);
    itest_spawn_argv(dom0, &a, "granter", MAXN + 16, args);
    for (unsigned s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
        many_case(dom0, &a, 1, sizes[s]);
    /* netfront's rx buffers: 4 pages each, 256 of them. */
    many_case(dom0, &a, 4, MAXN / 4);
    itest_agent_close(&a);
    itest_teardown(dom0);
    return itest_done();
}
