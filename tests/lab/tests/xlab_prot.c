/* SPDX-License-Identifier: MIT */
/*
 * xlab_prot.c: page protection across domains.  The guest grants dom0 a
 * page (READ, WRITE), protects it read-only with NOTIFY and binds a fault
 * ring (a page of its own given to Xen, and a port bound to itself); dom0's
 * write through the grant is refused (EACCES) while a read works; the
 * guest sees the event and the record (dom0, write, NOTIFY, its cookie).
 * The ring is bound through /dev/xgrant directly: libgrant's xen transport
 * has no event channels yet.
 *
 * The guest's own CPU (hv-patches 0005): the PROTECT dropped the page's
 * writable mappings (the module), so once the process makes its mapping
 * writable again (mprotect, around libgrant's read-only mprotect) a write
 * needs a new writable PTE, which Xen refuses: the write faults (SIGBUS),
 * the page is unchanged, and a second record (the guest itself, via CPU)
 * lands on the ring.  Once the protection is lifted the write works.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "xlab.h"
#include "xlab_v1.h"
#include "../../../libgrant/kmod/xgrant_uapi.h"
#include "gntx_xen.h"

#define PROT_COOKIE 0x5eedu
#define PROT_BYTE   'A'

static int ring_fd = -1;
static struct gntx_fault_ring_page *ring;

/* Binds (gfn 0 of a one-page /dev/xgrant memory) or unbinds the ring. */
static int ring_call(uint64_t gfn, uint32_t port)
{
    struct gntx_fault_ring r = {.gfn = gfn, .port = port};
    struct gntx_xen_call c = {
        .op = GNTX_OP_FAULT_RING, .count = 1, .args = (uintptr_t)&r};

    return ioctl(ring_fd, XGRANT_IOC_CALL, &c) < 0 ? -errno : 0;
}

static int ring_bind(uint32_t port)
{
    uint8_t *p = NULL;
    int fd = xlab_dev_open(1, &p);

    if (fd < 0)
        return fd;
    ring_fd = fd;
    ring = (void *)p;
    return ring_call(0, port);
}

static void ring_unbind(void)
{
    if (ring) /* before the page goes back to the kernel */
        ring_call(GNTX_FAULT_RING_NONE, 0);
    if (ring)
        munmap(ring, 4096);
    if (ring_fd >= 0)
        close(ring_fd);
    ring = NULL;
    ring_fd = -1;
}

static void check_record(void)
{
    const struct gntx_fault_rec *r = &ring->rec[0];
    uint32_t prod = __atomic_load_n(&ring->prod, __ATOMIC_ACQUIRE);

    xlab_report("fault_record",
                prod >= 1 && r->dom == 0 && r->access == GNTX_ACC_W &&
                    r->action == GNTX_ACT_NOTIFY && r->cookie == PROT_COOKIE &&
                    r->via == GNTX_VIA_COPY,
                "prod %u: dom %u access %u action %u via %u cookie %#llx", prod,
                r->dom, r->access, r->action, r->via,
                (unsigned long long)r->cookie);
}

/* The domain's fault counters, for a failure's message. */
static struct gntx_fault_stats own_stats(void)
{
    struct gntx_fault_stats s = {.dom = GNTX_DOMID_SELF};
    struct gntx_xen_call c = {
        .op = GNTX_OP_FAULT_STATS, .count = 1, .args = (uintptr_t)&s};

    if (ioctl(ring_fd, XGRANT_IOC_CALL, &c) < 0)
        memset(&s, 0, sizeof(s));
    return s;
}

/* The guest's own write to its read-only page: refused by Xen, recorded. */
static void cpu_write_refused(uint8_t *page, uint32_t port, unsigned self)
{
    const struct gntx_fault_rec *r = &ring->rec[1];
    struct gntx_fault_stats s;
    int wrote = 0, ev;
    uint32_t prod;

    /* Around libgrant, which mprotected its mapping read-only: the kernel
     * gives the process a writable mapping again, and the write needs a
     * writable PTE, which only Xen can grant. */
    if (mprotect(page, 4096, PROT_READ | PROT_WRITE) == 0) {
        wrote = xlab_try_write(page + 20, 'B');
        mprotect(page, 4096, PROT_READ);
    }

    xlab_report("cpu_write_refused", !wrote && page[20] == PROT_BYTE,
                "write through a new PTE of the read-only page: %s",
                wrote ? "went through" : "faulted, page unchanged");
    ev = xlab_v1_port_wait(port, 30000);
    prod = __atomic_load_n(&ring->prod, __ATOMIC_ACQUIRE);
    s = own_stats();
    xlab_report("cpu_fault_record",
                ev == 1 && prod >= 2 && r->dom == self &&
                    r->access == GNTX_ACC_W && r->via == GNTX_VIA_CPU &&
                    r->action == GNTX_ACT_NOTIFY && r->cookie == PROT_COOKIE &&
                    !(r->addr & 4095),
                "event %d, prod %u: dom %u access %u action %u via %u "
                "cookie %#llx (caused %llu, notified %llu, dropped %llu)",
                ev, prod, r->dom, r->access, r->action, r->via,
                (unsigned long long)r->cookie, (unsigned long long)s.caused,
                (unsigned long long)s.notified, (unsigned long long)s.dropped);
}

/* The guest's half; runs between the cross cases and the results. */
void xlab_prot_guest(grant_handle_t *h)
{
    grant_ref_t ref = 0;
    uint32_t port = 0;
    uint8_t *page = NULL;
    char done[16];
    int rc, protected;

    rc = grant_mem_alloc(h, 1, (void **)&page);
    if (rc == 0) {
        memset(page, PROT_BYTE, 4096);
        rc = grant_create_direct(h, 0, GRANT_R_READ | GRANT_R_WRITE, page, 4096,
                                 &ref);
    }
    if (rc == 0)
        rc = xlab_v1_self_port(grant_domid(h), &port);
    if (rc == 0)
        rc = ring_bind(port);
    xlab_report("fault_ring_bind", rc == 0, "port %u: %s", port,
                grant_strerror(rc));
    if (rc == 0)
        rc = grant_protect(h, page, 4096, GRANT_ACC_R, GRANT_ACT_NOTIFY,
                           PROT_COOKIE);
    xlab_report("protect", rc == 0, "one granted page R, NOTIFY: %s",
                grant_strerror(rc));
    xlab_xs_write("pref", rc == 0 ? "%u" : "ERR%d",
                  rc == 0 ? ref : (unsigned)rc);
    protected = rc == 0;
    if (rc == 0 && xlab_xs_wait("protdone", done, sizeof(done)) == 0) {
        rc = xlab_v1_port_wait(port, 30000);
        xlab_report("fault_event", rc == 1, "ring port %u: %s", port,
                    rc == 1 ? "signalled" : "no event");
        check_record();
        xlab_report("protected_unchanged", page[10] == PROT_BYTE,
                    "the refused write left the page as it was");
        cpu_write_refused(page, port, grant_domid(h));
    }
    ring_unbind();
    xlab_v1_port_close();
    if (page) {
        int lifted =
            grant_protect(h, page, 4096, GRANT_ACC_RWX, GRANT_ACT_DENY, 0);

        if (protected)
            xlab_report("cpu_write_after_lift",
                        lifted == 0 && xlab_try_write(page + 20, 'C') &&
                            page[20] == 'C',
                        "protection lifted (%s): the write works again",
                        grant_strerror(lifted));
        grant_revoke(h, ref, 0);
    }
}

/* dom0's half: a write through the grant is refused, a read is not. */
void xlab_prot_dom0(grant_handle_t *h, unsigned guest)
{
    uint32_t ref = 0;
    uint8_t *buf = NULL;
    int rc, rd;

    rc = grant_mem_alloc(h, 1, (void **)&buf);
    if (rc == 0)
        rc = xlab_xs_wait_u32("pref", &ref);
    if (rc < 0) {
        xlab_report("protect_write_refused", 0, "no protected grant: %s",
                    grant_strerror(rc));
        xlab_xs_write("protdone", "1");
        return;
    }
    memset(buf, 'Z', 64);
    rc = grant_copy_to(h, (grant_domid_t)guest, ref, 10, buf, 16);
    xlab_report("protect_write_refused", rc == -EACCES,
                "write through the grant of a read-only page: %s "
                "(want EACCES)",
                grant_strerror(rc));
    rd = grant_copy_from(h, buf, (grant_domid_t)guest, ref, 0, 16);
    xlab_report("protect_read_allowed", rd == 0 && buf[0] == PROT_BYTE,
                "read through it: %s", grant_strerror(rd));
    xlab_xs_write("protdone", "1");
}
