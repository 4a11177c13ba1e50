/* SPDX-License-Identifier: MIT */
/*
 * xlab_offsets.c: what libgrant reports about a domain's own protections
 * names the pages of its grant memory, not Xen's machine frames (issue 12,
 * item 7).  The guest opens a handle of its own (32 pages, 16 used), protects
 * its page 2 R with NOTIFY and binds the fault ring with libgrant;
 *   prot_query_offset: grant_protect_query of its own domain lists that
 *     page at its offset in the handle's memory (grant_gpa), one page,
 *     the cookie;
 *   fault_record_offset: dom0's MEMSET of the page (the guest granted it
 *     WRITE) is EACCES, and the record the guest's handler gets through
 *     grant_fault_dispatch names the same offset and the page's address.
 * Before, both carried the machine frame (its byte address) and the
 * handler's address was NULL.  The guest's verdicts reach dom0 through
 * xenstore ("offsets").
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xlab.h"

#define OFF_PAGES  16
#define OFF_PAGE   2
#define OFF_COOKIE 0x0ff5e7ull

static struct grant_fault got;
static int nr_got;

static int on_fault(const struct grant_fault *f, void *arg)
{
    (void)arg;
    if (!nr_got++)
        got = *f;
    return GRANT_FAULT_STOP;
}

/* The query's verdict into buf: 1 pass, 0 fail. */
static int query_ok(grant_handle_t *h, uint64_t gpa, char *buf, size_t len)
{
    struct grant_prot_range r[4] = {0};
    int n = grant_protect_query(h, grant_domid(h), r, 4), hit = -1;

    for (int i = 0; i < n && i < 4; i++)
        if (r[i].cookie == OFF_COOKIE)
            hit = i;
    snprintf(buf, len,
             "%d ranges; the protected page: gpa %#llx len %llu (want "
             "%#llx, 4096)",
             n, hit < 0 ? 0ull : (unsigned long long)r[hit].gpa,
             hit < 0 ? 0ull : (unsigned long long)r[hit].len,
             (unsigned long long)gpa);
    return hit >= 0 && r[hit].gpa == gpa && r[hit].len == GRANT_PAGE_SIZE;
}

void xlab_offsets_guest(void)
{
    grant_handle_t *h = NULL;
    uint8_t *mem = NULL, *page;
    grant_ref_t ref = 0;
    uint64_t gpa = 0;
    char q[160] = "not run", v[16];
    int rc, fd = -1, qok = 0;
    struct pollfd p;

    setenv("XGRANT_XEN_PAGES", "32", 1); /* 16 + the ring */
    rc = grant_open(&h, 0);
    unsetenv("XGRANT_XEN_PAGES");
    if (rc == 0)
        rc = grant_mem_alloc(h, OFF_PAGES, (void **)&mem);
    page = mem ? mem + OFF_PAGE * GRANT_PAGE_SIZE : NULL;
    if (rc == 0)
        rc = grant_gpa(h, page, &gpa);
    if (rc == 0)
        rc = grant_fault_set_handler(h, on_fault, NULL);
    if (rc == 0)
        rc = grant_fault_ring_bind(h, &fd);
    if (rc == 0)
        rc = grant_create_direct(h, 0, GRANT_R_READ | GRANT_R_WRITE, page,
                                 GRANT_PAGE_SIZE, &ref);
    if (rc == 0)
        rc = grant_protect(h, page, GRANT_PAGE_SIZE, GRANT_ACC_R,
                           GRANT_ACT_NOTIFY, OFF_COOKIE);
    if (rc == 0)
        qok = query_ok(h, gpa, q, sizeof(q));
    xlab_xs_write("offref", rc == 0 ? "%u" : "ERR%d",
                  rc == 0 ? ref : (unsigned)rc);
    if (rc == 0)
        rc = xlab_xs_wait("offwritten", v, sizeof(v));
    p = (struct pollfd){.fd = fd, .events = POLLIN};
    for (int i = 0; rc == 0 && !nr_got && i < 100; i++)
        if (poll(&p, 1, 100) > 0)
            grant_fault_dispatch(h);
    xlab_xs_write("offsets", "%s|%s|%d %#llx %d %#llx", qok ? "PASS" : "FAIL",
                  q, nr_got, (unsigned long long)got.gpa,
                  nr_got && got.addr == page, (unsigned long long)gpa);
    if (h)
        grant_close(h);
}

void xlab_offsets_dom0(grant_handle_t *h, unsigned guest)
{
    uint32_t ref = 0;
    char v[512], *q, *rec;
    unsigned long long gpa = 0, want = 0;
    int rc, copy = -1, n = 0, addr_ok = 0;

    /* A MEMSET: a write with no local end (dom0's grant memory may be
     * spent by the cases before). */
    rc = xlab_xs_wait_u32("offref", &ref);
    if (rc == 0)
        copy = grant_memset(h, (grant_domid_t)guest, ref, 0, 'o', 16);
    xlab_xs_write("offwritten", "1");
    if (rc == 0)
        rc = xlab_xs_wait("offsets", v, sizeof(v));
    q = rc == 0 ? strchr(v, '|') : NULL;
    rec = q ? strchr(q + 1, '|') : NULL;
    if (!rec) {
        xlab_report("prot_query_offset", 0, "no answer from the guest: %s",
                    grant_strerror(rc < 0 ? rc : -EPROTO));
        return;
    }
    *q++ = 0;
    *rec++ = 0;
    xlab_report("prot_query_offset", !strcmp(v, "PASS"), "%s", q);
    sscanf(rec, "%d %llx %d %llx", &n, &gpa, &addr_ok, &want);
    xlab_report("fault_record_offset",
                copy == -EACCES && n >= 1 && gpa == want && addr_ok,
                "dom0's memset of the guest's R page: %s (want EACCES); "
                "records %d, the first at gpa %#llx (want %#llx), its "
                "address the page's: %s",
                grant_strerror(copy), n, gpa, want, addr_ok ? "yes" : "no");
}
