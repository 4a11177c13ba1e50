/* SPDX-License-Identifier: MIT */
/*
 * xlab_cases.c: cases one domain runs on its own table (the grantee is the
 * peer domain, which need not do anything): a byte range across pages, a
 * revoke and the stale reference after it, quota exhaustion.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "xlab.h"
#include "../../../libgrant/abi/gntx_xen.h"
#include "../../../libgrant/kmod/xgrant_uapi.h"

#define QUOTA_BATCH 512u

/* A grant of XLAB_GRANT_LEN bytes at offset XLAB_GRANT_OFF spans 4 pages;
 * the hypervisor's table must say exactly that. */
static void case_range(grant_handle_t *h, grant_domid_t peer)
{
    struct grant_entry_info info[64];
    grant_ref_t ref = 0;
    uint8_t *mem;
    int rc, n, i, found = 0;

    rc = grant_mem_alloc(h, 4, (void **)&mem);
    if (rc == 0)
        rc = grant_create_direct(h, peer, GRANT_R_READ, mem + XLAB_GRANT_OFF,
                                 XLAB_GRANT_LEN, &ref);
    if (!xlab_report("range_create", rc == 0, "create %u bytes at %u: %s",
                     XLAB_GRANT_LEN, XLAB_GRANT_OFF, grant_strerror(rc)))
        return;
    n = grant_query_table(h, grant_domid(h), info, 64);
    for (i = 0; i < n && i < 64; i++)
        if (info[i].ref == ref)
            found = info[i].offset == XLAB_GRANT_OFF &&
                    info[i].length == XLAB_GRANT_LEN &&
                    info[i].nr_frames == 4 && info[i].grantee == peer;
    xlab_report("range_query", found, "query_table: %d entries, ours %s", n,
                found ? "offset/length/4 frames as created" : "wrong/missing");
    rc = grant_revoke(h, ref, 0);
    xlab_report("range_revoke", rc == 0, "%s", grant_strerror(rc));
    grant_mem_free(h, mem);
}

/* Revoke works once; the same reference is stale afterwards. */
static void case_revoke(grant_handle_t *h, grant_domid_t peer)
{
    grant_ref_t ref = 0;
    uint8_t *mem;
    int rc, again = 0;

    rc = grant_mem_alloc(h, 1, (void **)&mem);
    if (rc == 0)
        rc = grant_create_direct(h, peer, GRANT_R_READ, mem, 10, &ref);
    if (rc == 0)
        rc = grant_revoke(h, ref, 0);
    if (rc == 0)
        again = grant_revoke(h, ref, 0);
    xlab_report("revoke_twice", rc == 0 && again == -ESTALE,
                "first %s, second %s (want ESTALE)", grant_strerror(rc),
                rc ? "not tried" : grant_strerror(again));
    grant_mem_free(h, mem);
}

/* Creates req[0..k) one at a time (the batch is all-or-nothing). */
static int quota_one_by_one(grant_handle_t *h, struct grant_create_req *req,
                            unsigned k, grant_ref_t *refs, unsigned *made)
{
    int rc = 0;

    for (unsigned i = 0; i < k && rc == 0; i++) {
        rc = grant_create_batch(h, &req[i], 1);
        if (rc == 0)
            refs[(*made)++] = req[i].ref;
    }
    return rc;
}

static int quota_fill(grant_handle_t *h, grant_domid_t peer, uint8_t *mem,
                      grant_ref_t *refs, unsigned cap, unsigned *made)
{
    struct grant_create_req req[QUOTA_BATCH];
    unsigned i, k;
    int rc = 0;

    while (rc == 0 && *made < cap) {
        k = cap - *made < QUOTA_BATCH ? cap - *made : QUOTA_BATCH;
        for (i = 0; i < k; i++)
            req[i] = (struct grant_create_req){.grantee = peer,
                                               .rights = GRANT_R_READ,
                                               .ptr = mem + i,
                                               .len = 1};
        rc = grant_create_batch(h, req, k);
        if (rc == -ENOSPC && k > 1)
            rc = quota_one_by_one(h, req, k, refs, made);
        else
            for (i = 0; rc == 0 && i < k; i++)
                refs[(*made)++] = req[i].ref;
    }
    return rc;
}

/* Creating past the entry quota fails with ENOSPC, not a hang, and the
 * count created matches what usage said was left. */
static void case_quota(grant_handle_t *h, grant_domid_t peer)
{
    struct grant_usage u = {0};
    unsigned made = 0, cap, left, i;
    grant_ref_t *refs;
    uint8_t *mem;
    int rc;

    rc = grant_usage(h, grant_domid(h), &u);
    if (!xlab_report("usage", rc == 0 && u.max_entries > 0,
                     "%s: %u of %u entries", grant_strerror(rc), u.entries,
                     u.max_entries))
        return;
    left = u.max_entries - u.entries;
    cap = left + 1;
    refs = calloc(cap, sizeof(*refs));
    if (!refs || grant_mem_alloc(h, 1, (void **)&mem) < 0) {
        free(refs);
        xlab_report("quota_enospc", 0, "no memory");
        return;
    }
    rc = quota_fill(h, peer, mem, refs, cap, &made);
    xlab_report("quota_enospc", rc == -ENOSPC && made == left,
                "created %u of %u left, then %s (want ENOSPC)", made, left,
                grant_strerror(rc));
    for (i = 0; i < made; i++)
        grant_revoke(h, refs[i], 0);
    grant_mem_free(h, mem);
    free(refs);
}

/*
 * A COPY batch past the core's 4 MiB per-call byte budget, in one call to
 * the module and so one hypercall (hv-patches 0007): Xen finishes it,
 * continuing the hypercall when it must, so every element comes back 0 and
 * none -EAGAIN.  Straight through /dev/xgrant: libgrant would hide an
 * EAGAIN by resubmitting.
 */
#define LONG_ELEMS 1100 /* x 4 KiB = 4.3 MiB */

static int long_batch(int fd, uint8_t *mem, unsigned *ok, unsigned *again)
{
    static struct gntx_copy v[LONG_ELEMS];
    struct gntx_xen_call c = {
        .op = GNTX_OP_COPY, .count = LONG_ELEMS, .args = (uintptr_t)v};
    int rc;

    for (unsigned i = 0; i < 4096; i++)
        mem[i] = xlab_pattern(i + 11);
    for (unsigned i = 0; i < LONG_ELEMS; i++)
        v[i] = (struct gntx_copy){.src = {.kind = GNTX_PTR_LOCAL, .addr = 0},
                                  .dst = {.kind = GNTX_PTR_LOCAL, .addr = 4096},
                                  .len = 4096,
                                  .status = 1};
    rc = ioctl(fd, XGRANT_IOC_CALL, &c);
    if (rc < 0)
        return -errno;
    for (unsigned i = 0; i < LONG_ELEMS; i++) {
        *ok += v[i].status == 0;
        *again += v[i].status == -GNTX_EAGAIN;
    }
    return rc;
}

static void case_long_batch(void)
{
    uint8_t *mem = NULL;
    int fd = xlab_dev_open(2, &mem), rc = fd;
    unsigned ok = 0, again = 0;

    if (fd >= 0)
        rc = long_batch(fd, mem, &ok, &again);
    xlab_report("long_batch",
                rc == LONG_ELEMS && ok == LONG_ELEMS && again == 0 &&
                    !memcmp(mem, mem + 4096, 4096),
                "%u x 4 KiB COPY in one call: result %d, %u ok, %u EAGAIN "
                "(want all ok: Xen continues past its budget)",
                LONG_ELEMS, rc, ok, again);
    if (mem)
        munmap(mem, 2 * 4096);
    if (fd >= 0)
        close(fd);
}

void xlab_local_cases(grant_handle_t *h, grant_domid_t peer)
{
    case_range(h, peer);
    case_revoke(h, peer);
    case_quota(h, peer);
    case_long_batch();
}
