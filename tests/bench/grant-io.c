/* SPDX-License-Identifier: MIT */
/*
 * grant-io: grant I/O against what a backend does without it, same run,
 * same file (page cache warm, on /dev/shm where there is one: the point
 * is the cost of the grant path, not the disk's).  Domain 0 holds a grant
 * of another domain's memory, as a backend holds a frontend's segment:
 *   read:  grant_io READ (file -> grant), the fd sent with each call and
 *          a registered file (grant_io_register)
 *          vs pread into domain 0's own memory + grant_copy_to the grant;
 *   write: grant_io WRITE (grant -> file), the same two ways
 *          vs grant_copy_from the grant into own memory + pwrite.
 * Medians of single operations; ratio = the pair's time / grant_io's
 * (above 1: grant I/O is faster).  The fd-per-call form pays a socket
 * round trip with SCM_RIGHTS (~12 us); a registered file's call goes
 * through the shared-memory call area.  Then one call of 32 4 KiB and of
 * 8 128 KiB READ segments (a backend's pass), from the page cache and
 * from a file opened O_DIRECT next to this program, whose segments
 * xgrantd has in flight at once (compare XGRANTD_IO_URING=0).
 * XGRANT_BENCH_ITERS scales the counts.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "tests/integration/common/itest.h"

#define WIN (1u << 20)
#define RUN 50

struct ctx {
    grant_handle_t *h;
    grant_domid_t dom;
    grant_ref_t ref;
    int fd;
    int file;  /* fd registered (grant_io_register) */
    void *own; /* WIN bytes of domain 0's memory */
};

static void die(const char *what, int rc)
{
    fprintf(stderr, "grant-io: %s: %s\n", what, grant_strerror(rc));
    exit(1);
}

static double t_io(struct ctx *c, unsigned dir, size_t len)
{
    struct grant_io_seg s = {.fd = dir & GRANT_IO_FIXED ? c->file : c->fd,
                             .dir = dir,
                             .granter = c->dom,
                             .ref = c->ref,
                             .len = len};
    double t0 = now_ns();
    int rc = grant_io(c->h, &s, 1);

    if (rc != 1 || s.done != len)
        die("grant_io", rc < 0 ? rc : s.status);
    return now_ns() - t0;
}

static double t_pair(struct ctx *c, unsigned dir, size_t len)
{
    double t0 = now_ns();
    int rc;

    if (dir == GRANT_IO_READ) {
        if (pread(c->fd, c->own, len, 0) != (ssize_t)len)
            die("pread", -errno);
        rc = grant_copy_to(c->h, c->dom, c->ref, 0, c->own, len);
    } else {
        rc = grant_copy_from(c->h, c->own, c->dom, c->ref, 0, len);
        if (rc == 0 && pwrite(c->fd, c->own, len, 0) != (ssize_t)len)
            die("pwrite", -errno);
    }
    if (rc < 0)
        die("grant_copy", rc);
    return now_ns() - t0;
}

/* Medians of n operations of each, interleaved in runs so that all see
 * the same load. */
static void job(struct ctx *c, unsigned dir, size_t len, int n)
{
    double *a = malloc(n * sizeof(*a)), *f = malloc(n * sizeof(*f)),
           *b = malloc(n * sizeof(*b)), ma, mf, mb;

    for (int i = 0; i < n / 10 + 1; i++) { /* warm-up */
        t_io(c, dir, len);
        t_io(c, dir | GRANT_IO_FIXED, len);
        t_pair(c, dir, len);
    }
    /* In runs of RUN of each: a call with an fd takes the socket, and the
     * call after it would pay for the daemon's switch back to the call
     * area. */
    for (int i = 0; i < n; i += RUN) {
        for (int k = i; k < n && k < i + RUN; k++)
            a[k] = t_io(c, dir, len);
        for (int k = i; k < n && k < i + RUN; k++)
            f[k] = t_io(c, dir | GRANT_IO_FIXED, len);
        for (int k = i; k < n && k < i + RUN; k++)
            b[k] = t_pair(c, dir, len);
    }
    ma = median(a, n);
    mf = median(f, n);
    mb = median(b, n);
    printf("%-5s %7zu B: grant_io %7.1f us (%5.2f GB/s), registered file "
           "%7.1f us (%5.2f GB/s) | %s %7.1f us (%5.2f GB/s): ratio %.2fx, "
           "registered %.2fx\n",
           dir == GRANT_IO_READ ? "read" : "write", len, ma / 1e3, len / ma,
           mf / 1e3, len / mf,
           dir == GRANT_IO_READ ? "pread+grant_copy " : "grant_copy+pwrite",
           mb / 1e3, len / mb, mb / ma, mb / mf);
    free(a);
    free(f);
    free(b);
}

/* One call of nseg READ segments of len bytes each, side by side in the
 * window and the file (a backend's pass of requests: xgrantd has them
 * all in flight at once unless XGRANTD_IO_URING=0). */
static double t_batch(struct ctx *c, int file, unsigned nseg, size_t len)
{
    struct grant_io_seg s[32];
    double t0;
    int rc;

    for (unsigned i = 0; i < nseg; i++)
        s[i] = (struct grant_io_seg){.fd = file,
                                     .dir = GRANT_IO_READ | GRANT_IO_FIXED,
                                     .granter = c->dom,
                                     .ref = c->ref,
                                     .offset = i * len,
                                     .file_off = i * len,
                                     .len = len};
    t0 = now_ns();
    rc = grant_io(c->h, s, nseg);
    if (rc != (int)nseg)
        die("grant_io", rc < 0 ? rc : -EIO);
    return now_ns() - t0;
}

static void batch_job(struct ctx *c, int file, const char *what, unsigned nseg,
                      size_t len, int n)
{
    double *a = malloc(n * sizeof(*a)), m;

    for (int i = 0; i < n / 10 + 1; i++) /* warm-up */
        t_batch(c, file, nseg, len);
    for (int i = 0; i < n; i++)
        a[i] = t_batch(c, file, nseg, len);
    m = median(a, n);
    printf("read  %2u x %6zu B in one call (%s): %7.1f us (%5.2f GB/s, "
           "%6.2f us a segment)\n",
           nseg, len, what, m / 1e3, nseg * len / m, m / 1e3 / nseg);
    free(a);
}

/* The batches again on a file opened O_DIRECT next to this program (a
 * disk, not /dev/shm: I/O that waits for the device). */
static void direct_jobs(struct ctx *c, double scale)
{
    char path[PATH_MAX];
    void *buf = NULL;
    int fd, file;

    snprintf(path, sizeof(path), "%s.direct-XXXXXX", itest_self());
    fd = mkstemp(path);
    if (fd < 0 || posix_memalign(&buf, 4096, WIN) ||
        pwrite(fd, memset(buf, 0x5a, WIN), WIN, 0) != WIN || fsync(fd)) {
        printf("# O_DIRECT batches skipped: %s\n", path);
        goto out;
    }
    close(fd);
    fd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
    file = fd < 0 ? fd : grant_io_register(c->h, fd);
    if (file < 0) {
        printf("# O_DIRECT batches skipped: %s does not open O_DIRECT\n", path);
        goto out;
    }
    batch_job(c, file, "O_DIRECT", 32, 4096, (int)(scale * 100) + 1);
    batch_job(c, file, "O_DIRECT", 8, 128u << 10, (int)(scale * 50) + 1);
    grant_io_unregister(c->h, file);
out:
    if (fd >= 0)
        close(fd);
    unlink(path);
    free(buf);
}

static int open_image(char *path, size_t plen)
{
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    char *buf = malloc(WIN);
    int fd;

    snprintf(path, plen, "%s/xgrant-bench-io-XXXXXX", base);
    fd = mkstemp(path);
    if (fd < 0 || !buf)
        die("image", -errno);
    memset(buf, 0x5a, WIN);
    if (pwrite(fd, buf, WIN, 0) != WIN)
        die("image", -errno);
    free(buf);
    return fd;
}

int main(void)
{
    static const size_t lens[] = {4096, 128u << 10, 1u << 20};
    const char *it = getenv("XGRANT_BENCH_ITERS");
    double scale = it ? atof(it) : 1.0;
    struct itest_agent a;
    struct ctx c = {0};
    char path[64];
    int rc;

    printf("# grant-io: medians; ratios against peers measured in this run\n");
    itest_setup(&c.h);
    itest_spawn(c.h, &a, "bench-io-granter", 2 * WIN / 4096);
    itest_ok(&a, "alloc %u", WIN / 4096);
    c.dom = a.domid;
    c.ref = (grant_ref_t)itest_ok(&a, "grant 0 rw 0 0 %u", WIN);
    rc = grant_mem_alloc(c.h, WIN / 4096, &c.own);
    if (rc < 0)
        die("grant_mem_alloc", rc);
    c.fd = open_image(path, sizeof(path));
    c.file = grant_io_register(c.h, c.fd);
    if (c.file < 0)
        die("grant_io_register", c.file);
    for (unsigned d = GRANT_IO_READ; d <= GRANT_IO_WRITE; d++)
        for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
            job(&c, d, lens[i],
                (int)(scale * (lens[i] >= (1u << 20) ? 200 : 1000)) + 1);
    batch_job(&c, c.file, "page cache", 32, 4096, (int)(scale * 1000) + 1);
    batch_job(&c, c.file, "page cache", 8, 128u << 10, (int)(scale * 200) + 1);
    direct_jobs(&c, scale);
    close(c.fd);
    unlink(path);
    itest_agent_close(&a);
    itest_teardown(c.h);
    return itest_done();
}
