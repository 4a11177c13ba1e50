/* SPDX-License-Identifier: MIT */
/*
 * xlab_map.c: zero-copy mapping on Xen (GNTX_OP_MAP through the guest
 * module's map windows, hv-patches 0006).  dom0 grants the guest three
 * page-aligned grants with MAP:
 *
 *   A, 3 pages: the guest maps it read-write, reads every byte dom0 wrote
 *     and writes a marker across a page boundary, which dom0 then finds in
 *     its own memory; dom0's plain revoke is EBUSY while it is mapped; a
 *     read-only map of its first page reads, refuses a write and leaves
 *     dom0's byte alone.  Then dom0 revokes A with FORCE while the guest
 *     still has it mapped and writes new bytes: the guest must not see them
 *     through its mapping, its writes must not reach dom0's pages, and its
 *     grant_unmap afterwards is 0.
 *   B, 1 page: mapped, touched, unmapped; dom0's plain revoke then works.
 *   C, 1 page: mapped read-write; dom0 protects the page read-only
 *     (grant_protect): the guest's read works, its write faults.
 *
 * Each step is paced through xenstore (keys m*); every key is written on
 * every path, so a failing step fails its own cases and the rest go on.
 * Every access to a mapping is guarded (xlab_try_*): a broken mapping is a
 * FAIL line, not a dead test program.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "xlab.h"
#include "../../../libgrant/abi/gntx_xen.h"
#include "../../../libgrant/kmod/xgrant_uapi.h"

#define PAGE         4096u
#define A_PAGES      3u
#define A_LEN        (A_PAGES * PAGE)
#define A_MARK_OFF   (2u * PAGE - 10u) /* across pages 1 and 2 */
#define A_RO_OFF     5u                /* in page 0: the read-only map */
#define A_FORCE_OFF  100u              /* in each page: after FORCE */
#define C_BEFORE_OFF 0u                /* written before the PROTECT */
#define C_AFTER_OFF  1u                /* tried after it */

/* What dom0 writes before (old) and after (new) the FORCE revoke: the two
 * differ at every byte. */
static uint8_t map_old(uint64_t i)
{
    return xlab_pattern(i * 3u + 1u);
}

static uint8_t map_new(uint64_t i)
{
    return (uint8_t)~map_old(i);
}

/* ---- dom0 --------------------------------------------------------------- */

struct map_grant {
    uint8_t *mem;
    grant_ref_t ref;
    int rc;
};

/* A grant of `pages` fresh pages (old bytes) with READ, WRITE and MAP; its
 * ref (or "ERR<n>") goes to the guest under key. */
static void grant_pages(grant_handle_t *h, unsigned guest, unsigned pages,
                        struct map_grant *g, const char *key)
{
    g->rc = grant_mem_alloc(h, pages, (void **)&g->mem);
    for (uint64_t i = 0; g->rc == 0 && i < (uint64_t)pages * PAGE; i++)
        g->mem[i] = map_old(i);
    if (g->rc == 0)
        g->rc = grant_create_direct(h, (grant_domid_t)guest,
                                    GRANT_R_READ | GRANT_R_WRITE | GRANT_R_MAP,
                                    g->mem, (uint64_t)pages * PAGE, &g->ref);
    xlab_xs_write(key, g->rc == 0 ? "%u" : "ERR%d",
                  g->rc == 0 ? g->ref : (unsigned)g->rc);
}

static void mem_free(grant_handle_t *h, struct map_grant *g)
{
    if (g->mem)
        grant_mem_free(h, g->mem);
    g->mem = NULL;
}

/* Bytes of [0, len) of g->mem that are not f(i). */
static unsigned changed(const struct map_grant *g, uint64_t len,
                        uint8_t (*f)(uint64_t))
{
    unsigned n = 0;

    for (uint64_t i = 0; g->mem && i < len; i++)
        n += g->mem[i] != f(i);
    return n;
}

/* A: the guest's marker, EBUSY while mapped, the read-only map. */
static void dom0_a_mapped(grant_handle_t *h, const struct map_grant *a)
{
    char v[64];
    int rc;

    rc = xlab_xs_wait("mwritten", v, sizeof(v));
    xlab_report("map_write_seen",
                rc == 0 && a->rc == 0 &&
                    !memcmp(a->mem + A_MARK_OFF, XLAB_MARK, strlen(XLAB_MARK)),
                "the guest's marker at offset %u, in dom0's memory: %s",
                A_MARK_OFF, rc ? grant_strerror(rc) : "checked");
    rc = grant_revoke(h, a->ref, 0);
    xlab_report("map_revoke_busy", rc == -EBUSY,
                "plain revoke while the guest maps it: %s (want EBUSY)",
                grant_strerror(rc));
    xlab_xs_write("mbusy", "%d", rc);
    rc = xlab_xs_wait("mro", v, sizeof(v));
    xlab_report("map_rdonly_unchanged",
                rc == 0 && a->rc == 0 && a->mem[A_RO_OFF] == map_old(A_RO_OFF),
                "dom0's byte %u after the guest's write to its read-only map: "
                "%s",
                A_RO_OFF,
                rc ? grant_strerror(rc)
                : a->mem && a->mem[A_RO_OFF] == map_old(A_RO_OFF) ? "unchanged"
                                                                  : "CHANGED");
}

/* A: FORCE revoke under the guest's mapping, then new bytes. */
static void dom0_a_force(grant_handle_t *h, struct map_grant *a)
{
    char v[64] = "";
    unsigned n;
    int rc;

    rc = xlab_xs_wait("mready", v, sizeof(v));
    if (rc == 0)
        rc = grant_revoke(h, a->ref, GRANT_REVOKE_FORCE);
    xlab_report("map_force_revoke", rc == 0,
                "FORCE revoke while the guest maps it: %s", grant_strerror(rc));
    for (uint64_t i = 0; a->rc == 0 && i < A_LEN; i++)
        a->mem[i] = map_new(i);
    xlab_xs_write("mforced", "%d", rc);
    rc = xlab_xs_wait("mfwrote", v, sizeof(v));
    n = changed(a, A_LEN, map_new);
    xlab_report("map_force_write_blocked", rc == 0 && a->rc == 0 && n == 0,
                "dom0's %u pages after the guest's writes to its revoked "
                "mapping (%s): %u bytes changed",
                A_PAGES, rc ? grant_strerror(rc) : v, n);
}

/* B: a grant mapped and unmapped revokes plainly. */
static void dom0_b(grant_handle_t *h, const struct map_grant *b)
{
    char v[64];
    int rc;

    rc = xlab_xs_wait("munmapped", v, sizeof(v));
    if (rc == 0)
        rc = grant_revoke(h, b->ref, 0);
    xlab_report("map_revoke_after_unmap", rc == 0,
                "plain revoke of a grant the guest mapped and unmapped: %s",
                grant_strerror(rc));
}

/* C: dom0 takes write away from a page the guest maps read-write. */
static void dom0_c(grant_handle_t *h, const struct map_grant *c)
{
    char v[64];
    int rc, ok;

    rc = xlab_xs_wait("mcmapped", v, sizeof(v));
    if (rc == 0)
        rc = c->rc ? c->rc
                   : grant_protect(h, c->mem, PAGE, GRANT_ACC_R, GRANT_ACT_DENY,
                                   0);
    xlab_report("map_protect", rc == 0,
                "dom0 protects the page the guest maps read-write to R: %s",
                grant_strerror(rc));
    xlab_xs_write("mprotected", "%d", rc);
    rc = xlab_xs_wait("mcchecked", v, sizeof(v));
    ok = c->rc == 0 && c->mem[C_BEFORE_OFF] == 'P' &&
         c->mem[C_AFTER_OFF] == map_old(C_AFTER_OFF);
    xlab_report("map_protect_unchanged", rc == 0 && ok,
                "byte %u written before the protect: %s; byte %u after it: %s",
                C_BEFORE_OFF,
                c->mem && c->mem[C_BEFORE_OFF] == 'P' ? "there" : "MISSING",
                C_AFTER_OFF,
                c->mem && c->mem[C_AFTER_OFF] == map_old(C_AFTER_OFF)
                    ? "unchanged"
                    : "CHANGED");
    if (c->rc == 0) {
        grant_protect(h, c->mem, PAGE, GRANT_ACC_RWX, GRANT_ACT_DENY, 0);
        grant_revoke(h, c->ref, GRANT_REVOKE_FORCE);
    }
}

void xlab_map_dom0(grant_handle_t *h, unsigned guest)
{
    struct map_grant a = {0}, b = {0}, c = {0};

    grant_pages(h, guest, A_PAGES, &a, "mref_a");
    grant_pages(h, guest, 1, &b, "mref_b");
    grant_pages(h, guest, 1, &c, "mref_c");
    xlab_report("map_grants", a.rc == 0 && b.rc == 0 && c.rc == 0,
                "%u+1+1 pages with READ, WRITE, MAP to the guest: %s, %s, %s",
                A_PAGES, grant_strerror(a.rc), grant_strerror(b.rc),
                grant_strerror(c.rc));
    dom0_a_mapped(h, &a);
    dom0_a_force(h, &a);
    dom0_b(h, &b);
    dom0_c(h, &c);
    xlab_guest_results("mapresults");
    mem_free(h, &a);
    mem_free(h, &b);
    mem_free(h, &c);
}

/* ---- the guest ---------------------------------------------------------- */

/* Bytes of p[0, len) (copied out first) that are not f(i); len + 1 when
 * the read faulted. */
static uint64_t differ(const uint8_t *p, uint64_t len, uint8_t (*f)(uint64_t))
{
    uint8_t *buf = malloc(len);
    uint64_t n = 0;

    if (!buf || !p || !xlab_try_read(p, buf, len)) {
        free(buf);
        return len + 1;
    }
    for (uint64_t i = 0; i < len; i++)
        n += buf[i] != f(i);
    free(buf);
    return n;
}

/* Stores len bytes at p; how many faulted. */
static unsigned write_guarded(uint8_t *p, const void *src, size_t len)
{
    const uint8_t *s = src;
    unsigned faults = 0;

    for (size_t i = 0; i < len; i++)
        faults += !xlab_try_write(p + i, s[i]);
    return faults;
}

/* A's first page read-only: reads, refuses a write. */
static void guest_a_rdonly(grant_handle_t *h, grant_ref_t ref, int rc)
{
    uint8_t *q = NULL;
    uint64_t bad = PAGE + 1;
    int wrote = 0, un = -EINVAL;

    if (rc == 0)
        rc = grant_map(h, 0, ref, 0, PAGE, GRANT_MAP_RDONLY, (void **)&q);
    if (rc == 0) {
        bad = differ(q, PAGE, map_old);
        wrote = xlab_try_write(q + A_RO_OFF, (uint8_t)~map_old(A_RO_OFF));
        un = grant_unmap(h, q);
    }
    xlab_report("map_rdonly_read", rc == 0 && bad == 0,
                "read-only map of page 0: %s, %llu bytes wrong%s",
                grant_strerror(rc), (unsigned long long)bad,
                bad > PAGE ? " (read faulted)" : "");
    xlab_report("map_rdonly_write_faults", rc == 0 && !wrote && un == 0,
                "write through it: %s; unmap: %s",
                rc      ? "not mapped"
                : wrote ? "WENT THROUGH"
                        : "faulted",
                grant_strerror(un));
    xlab_xs_write("mro", "1");
}

/* A after dom0's FORCE revoke: neither dom0's new bytes nor its pages.  A
 * read that faults shows nothing of dom0's either (Xen's scratch page
 * should make it read, so the line says which). */
static void guest_a_forced(grant_handle_t *h, uint8_t *p)
{
    uint64_t diff = A_LEN + 1;
    char v[64] = "";
    unsigned faults = 0;
    int rc;

    xlab_xs_write("mready", "1");
    rc = xlab_xs_wait("mforced", v, sizeof(v));
    if (rc == 0 && p) {
        diff = differ(p, A_LEN, map_new);
        for (unsigned pg = 0; pg < A_PAGES; pg++) {
            uint64_t off = pg * PAGE + A_FORCE_OFF;
            uint8_t b = map_old(off); /* never dom0's new byte there */

            faults += write_guarded(p + off, &b, 1);
        }
    }
    xlab_xs_write("mfwrote", "%u of %u writes faulted", faults, A_PAGES);
    /* A page still dom0's would show all its PAGE new bytes. */
    xlab_report("map_force_read", rc == 0 && p && diff > A_LEN - PAGE,
                "after dom0's FORCE revoke (rc %s): %s", rc ? "?" : v,
                !p                    ? "not mapped"
                : diff > A_LEN        ? "read faulted, nothing of dom0's"
                : diff > A_LEN - PAGE ? "read, not dom0's bytes"
                                      : "DOM0'S NEW BYTES VISIBLE");
    rc = p ? grant_unmap(h, p) : -EINVAL;
    xlab_report("map_unmap_after_force", rc == 0,
                "grant_unmap of the revoked mapping: %s", grant_strerror(rc));
}

static void guest_a(grant_handle_t *h, grant_ref_t ref, int rc)
{
    uint8_t *p = NULL;
    uint64_t bad = A_LEN + 1;
    unsigned faults = strlen(XLAB_MARK);
    char v[64];

    if (rc == 0)
        rc = grant_map(h, 0, ref, 0, A_LEN, 0, (void **)&p);
    xlab_report("map_rw", rc == 0, "%u pages of dom0's grant read-write: %s",
                A_PAGES, grant_strerror(rc));
    if (rc == 0) {
        bad = differ(p, A_LEN, map_old);
        faults = write_guarded(p + A_MARK_OFF, XLAB_MARK, strlen(XLAB_MARK));
    }
    xlab_report("map_read", rc == 0 && bad == 0,
                "every byte dom0 wrote, through the pointer: %llu wrong%s",
                (unsigned long long)bad, bad > A_LEN ? " (no read)" : "");
    xlab_report("map_write", rc == 0 && faults == 0,
                "marker at offset %u, across a page boundary: %u of %zu "
                "stores faulted",
                A_MARK_OFF, faults, strlen(XLAB_MARK));
    xlab_xs_write("mwritten", "1");
    xlab_xs_wait("mbusy", v, sizeof(v));
    guest_a_rdonly(h, ref, rc);
    guest_a_forced(h, rc == 0 ? p : NULL);
}

/*
 * Straight through /dev/xgrant: a MAP call whose two elements name the same
 * aux slot (and window) is refused as a whole before Xen writes anything
 * (hv-patches 0006 refuses it too); the same window then maps alone.
 */
static void guest_b_overlap(grant_ref_t ref, int rc)
{
    struct gntx_map v[2] = {
        {.ref = ref, .length = PAGE, .status = 1},
        {.ref = ref, .length = PAGE, .status = 1},
    };
    uint64_t aux[1] = {0};
    struct gntx_xen_call c = {.op = GNTX_OP_MAP,
                              .count = 2,
                              .args = (uintptr_t)v,
                              .aux = (uintptr_t)aux,
                              .aux_count = 1};
    int fd = rc == 0 ? xlab_dev_open(1, NULL) : rc, two = 1, one = 1;
    uint8_t *w = MAP_FAILED, b = 0;
    int read = 0;

    if (fd >= 0)
        w = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
                 (off_t)XGRANT_MAP_OFFSET);
    if (w != MAP_FAILED) {
        aux[0] = (uintptr_t)w;
        two = ioctl(fd, XGRANT_IOC_CALL, &c) < 0 ? -errno : 0;
        aux[0] = (uintptr_t)w;
        c.count = 1;
        v[0].status = 1;
        one = ioctl(fd, XGRANT_IOC_CALL, &c) < 0 ? -errno : v[0].status;
        read = one == 0 && xlab_try_read(w, &b, 1);
        munmap(w, PAGE); /* the module unmaps it */
    }
    xlab_report("map_batch_overlap",
                two == -EINVAL && one == 0 && read && b == map_old(0),
                "two elements on one aux slot: %s (want EINVAL); alone: %s, "
                "first byte %s",
                grant_strerror(two), grant_strerror(one),
                !read             ? "not read"
                : b == map_old(0) ? "dom0's"
                                  : "WRONG");
    if (fd >= 0)
        close(fd);
}

/* B: map, touch, unmap. */
static void guest_b(grant_handle_t *h, grant_ref_t ref, int rc)
{
    guest_b_overlap(ref, rc);
    uint8_t *p = NULL, b = 0;
    int read = 0, un = -EINVAL;

    if (rc == 0)
        rc = grant_map(h, 0, ref, 0, PAGE, 0, (void **)&p);
    if (rc == 0) {
        read = xlab_try_read(p, &b, 1);
        un = grant_unmap(h, p);
    }
    xlab_report("map_unmap", rc == 0 && read && b == map_old(0) && un == 0,
                "map %s, first byte %s, unmap %s", grant_strerror(rc),
                !read             ? "not read"
                : b == map_old(0) ? "dom0's"
                                  : "WRONG",
                grant_strerror(un));
    xlab_xs_write("munmapped", "1");
}

/* C: read-write map, then dom0 protects the page R. */
static void guest_c(grant_handle_t *h, grant_ref_t ref, int rc)
{
    uint8_t *p = NULL, buf[2] = {0};
    char v[64] = "";
    int read = 0, wrote = 1, pre = 0;

    if (rc == 0)
        rc = grant_map(h, 0, ref, 0, PAGE, 0, (void **)&p);
    if (rc == 0)
        pre = xlab_try_write(p + C_BEFORE_OFF, 'P');
    xlab_report("map_protect_before", rc == 0 && pre,
                "read-write map %s, write before the protect: %s",
                grant_strerror(rc), pre ? "done" : "FAULTED");
    xlab_xs_write("mcmapped", "1");
    if (xlab_xs_wait("mprotected", v, sizeof(v)) == 0 && rc == 0) {
        read = xlab_try_read(p, buf, sizeof(buf));
        wrote = xlab_try_write(p + C_AFTER_OFF, (uint8_t)~map_old(C_AFTER_OFF));
    }
    xlab_report("map_protect_read", read && buf[C_BEFORE_OFF] == 'P',
                "read after dom0's protect (%s): %s", v,
                !read                      ? "FAULTED"
                : buf[C_BEFORE_OFF] == 'P' ? "ok"
                                           : "WRONG");
    xlab_report("map_protect_write_faults", rc == 0 && !wrote,
                "write after dom0's protect: %s",
                rc      ? "not mapped"
                : wrote ? "WENT THROUGH"
                        : "faulted");
    if (p)
        grant_unmap(h, p);
    xlab_xs_write("mcchecked", "1");
}

void xlab_map_guest(grant_handle_t *h)
{
    grant_ref_t a = 0, b = 0, c = 0;
    int ra, rb, rc;

    ra = xlab_xs_wait_u32("mref_a", &a);
    rb = xlab_xs_wait_u32("mref_b", &b);
    rc = xlab_xs_wait_u32("mref_c", &c);
    guest_a(h, a, ra);
    guest_b(h, b, rb);
    guest_c(h, c, rc);
}
