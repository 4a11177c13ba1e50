/* SPDX-License-Identifier: MIT */
/*
 * xlab.c: the lab's test program.
 *   xlab dom0 GUESTID   in dom0: local cases, then the dom0 side of the
 *                       cross-domain cases and the copy comparison
 *   xlab guest          in the PV guest: local cases and the guest side
 *   xlab multi          in the two extra guests of the multi-guest case
 *                       (xlab_multi.c)
 *   xlab xs get|put ... the guest's xenstore for the driver scripts
 * Uses libgrant's xen transport (XGRANT_TRANSPORT=xen is set here).  Exits
 * 0 when every case passed, 1 otherwise.  The host counts the XLAB lines.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <unistd.h>

#include "xlab.h"
#include "../../../libgrant/abi/gntx_xen.h"
#include "../../../libgrant/kmod/xgrant_uapi.h"

const char *xlab_where = "?";
const char *xlab_xen = "?";
static int failures;

int xlab_report(const char *name, int pass, const char *fmt, ...)
{
    va_list ap;

    printf("XLAB %s %s %s: ", xlab_where, pass ? "PASS" : "FAIL", name);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    failures += !pass;
    return pass;
}

void xlab_notrun(const char *name, const char *why)
{
    printf("XLAB %s NOTRUN %s: %s\n", xlab_where, name, why);
    fflush(stdout);
}

void xlab_skip(const char *name, const char *why)
{
    printf("XLAB %s SKIP %s: %s\n", xlab_where, name, why);
    fflush(stdout);
}

int xlab_features(grant_handle_t *h)
{
    unsigned f = grant_features(h),
             v1 = GRANT_FEAT_V1_SHARE | GRANT_FEAT_V1_MAP;
    int stock = !strcmp(xlab_xen, "stock");
    unsigned want;
    grant_ref_t ref;
    struct grant_usage u;
    void *page = NULL;
    int rc_u, rc_c;

    /* Both load gntdev and gntalloc (dom0-init.sh, guest-init.sh). */
    want = v1 | (stock ? 0 : GRANT_FEAT_EXT);
    xlab_report("features", f == want, "%s Xen: %#x (want %#x)", xlab_xen, f,
                want);
    if (!stock)
        return 1;
    rc_u = grant_usage(h, GRANT_DOMID_SELF, &u);
    rc_c = grant_mem_alloc(h, 1, &page);
    if (rc_c == 0)
        rc_c = grant_create_direct(h, 0, GRANT_R_READ, page, 1, &ref);
    if (page)
        grant_mem_free(h, page);
    xlab_report("ext_absent", rc_u == -ENOSYS && rc_c == -ENOSYS,
                "extension calls on a stock Xen: usage %s, create %s "
                "(want ENOSYS)",
                grant_strerror(rc_u), grant_strerror(rc_c));
    return 0;
}

uint8_t xlab_pattern(uint64_t i)
{
    return (uint8_t)(i * 7u + 3u);
}

static sigjmp_buf fault_jmp;

static void on_fault(int sig)
{
    (void)sig;
    siglongjmp(fault_jmp, 1);
}

/* Runs the access with SIGBUS/SIGSEGV caught: 1 done, 0 faulted. */
static int try_access(volatile uint8_t *dst, const volatile uint8_t *src,
                      size_t len)
{
    struct sigaction sa = {.sa_handler = on_fault}, bus, segv;
    volatile int done = 0;

    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, &bus);
    sigaction(SIGSEGV, &sa, &segv);
    if (!sigsetjmp(fault_jmp, 1)) {
        for (size_t i = 0; i < len; i++)
            dst[i] = src[i];
        done = 1;
    }
    sigaction(SIGBUS, &bus, NULL);
    sigaction(SIGSEGV, &segv, NULL);
    return done;
}

int xlab_try_write(volatile uint8_t *p, uint8_t v)
{
    return try_access(p, &v, 1);
}

int xlab_try_read(const volatile uint8_t *p, uint8_t *out, size_t len)
{
    return try_access(out, p, len);
}

/*
 * The kernel's log holds none of the complaints a wrong page-table entry
 * or a refused PTE write would give (Linux misreading an entry Xen wrote
 * when it zaps a map window, a multicall Xen refused, a bad page).
 */
void xlab_kernel_clean(void)
{
    static const char *const bad[] = {"Bad swap",
                                      "bad pte",
                                      "Bad page",
                                      "BUG:",
                                      "rss-counter",
                                      "WARNING:",
                                      "multicall(s) failed",
                                      "general protection"};
    int len = klogctl(10, NULL, 0), n; /* SYSLOG_ACTION_SIZE_BUFFER */
    const char *hit = NULL;
    char *buf, line[96] = "";

    buf = len > 0 ? malloc((size_t)len + 1) : NULL;
    n = buf ? klogctl(3, buf, len) : -1; /* SYSLOG_ACTION_READ_ALL */
    if (n >= 0) {
        buf[n] = 0;
        for (size_t i = 0; !hit && i < sizeof(bad) / sizeof(bad[0]); i++)
            hit = strstr(buf, bad[i]);
    }
    if (hit)
        snprintf(line, sizeof(line), "%.*s", (int)strcspn(hit, "\n"), hit);
    xlab_report("kernel_log_clean", n >= 0 && !hit, "%d bytes of log: %s", n,
                n < 0 ? "unreadable"
                : hit ? line
                      : "no complaint");
    free(buf);
}

int xlab_dev_open(unsigned pages, uint8_t **mem)
{
    struct xgrant_ioc_setup s = {.nr_pages = pages};
    int fd = open(XGRANT_DEVICE, O_RDWR | O_CLOEXEC), rc = fd < 0 ? -errno : 0;
    void *p;

    if (rc == 0 && ioctl(fd, XGRANT_IOC_SETUP, &s) < 0)
        rc = -errno;
    if (rc == 0 && mem) {
        p = mmap(NULL, (size_t)pages * 4096, PROT_READ | PROT_WRITE, MAP_SHARED,
                 fd, 0);
        if (p == MAP_FAILED)
            rc = -errno;
        else
            *mem = p;
    }
    if (rc < 0 && fd >= 0)
        close(fd);
    return rc < 0 ? rc : fd;
}

static int usage(void)
{
    fprintf(stderr, "usage: xlab dom0 GUESTID | xlab guest | xlab multi | "
                    "xlab xs ...\n");
    return 2;
}

int main(int argc, char **argv)
{
    grant_handle_t *h;
    unsigned long guest = 0;
    int rc;

    if (argc >= 2 && !strcmp(argv[1], "xs"))
        return xlab_xs_main(argc, argv);
    if (argc < 2 || (strcmp(argv[1], "dom0") && strcmp(argv[1], "guest") &&
                     strcmp(argv[1], "multi")))
        return usage();
    xlab_where = argv[1];
    if (!strcmp(argv[1], "dom0")) {
        if (argc != 3 || (guest = strtoul(argv[2], NULL, 10)) == 0 ||
            guest > GNTX_DOMID_MAX)
            return usage();
    }
    if (getenv("XLAB_XEN"))
        xlab_xen = getenv("XLAB_XEN");
    setenv("XGRANT_TRANSPORT", "xen", 1);
    rc = grant_open(&h, GRANT_OPEN_VERBOSE);
    if (!xlab_report("open", rc == 0, "grant_open: %s", grant_strerror(rc)))
        return 1;
    xlab_report("domid", (grant_domid(h) == 0) == (guest != 0), "domain %u",
                grant_domid(h));
    rc = guest                       ? xlab_dom0(h, (unsigned)guest)
         : !strcmp(argv[1], "multi") ? xlab_multi_extra(h)
                                     : xlab_guest(h);
    grant_close(h);
    printf("XLAB %s END %d failed\n", xlab_where, failures);
    fflush(stdout);
    return failures || rc ? 1 : 0;
}
