/* SPDX-License-Identifier: MIT */
/*
 * blk-bench: issue 13's block benchmark.  Same image, same page-cache
 * state (read once, warm, never dropped: fio runs with --invalidate=0 or
 * on NBD), xgrant-blkback buffered (--buffered, one queue) like the
 * peers.  Each round runs every part once, in turn; the table shows each
 * figure's median over the rounds and, for each ratio, the median of the
 * rounds' ratios (each under one load), all from this one run:
 *   (a) a guest program on libxgblkfront (xgbf_submitv/xgbf_reap at QD32,
 *       xgbf_pread/xgbf_pwrite at QD1, buffers from xgbf_buf_alloc) ->
 *       xgrant-blkback -> image, byte-exact grants over its buffers
 *       (grant-ext; the backend moves the bytes by the grant-I/O call);
 *   (b) fio's nbd engine (a libnbd client) -> nbdkit's file plugin on a
 *       Unix socket (what a user would pick to let one process serve
 *       another's disk);
 *   (c) fio io_uring on the image, buffered, --invalidate=0 (the ceiling);
 *   (d) fio's nbd engine -> nbdkit with xgrant's plugin (libxgblkfront)
 *       in a guest -> xgrant-blkback -> image.
 * Then the grant kinds, same jobs: (a)'s byte-exact grants against the
 * same library on page grants with bounce buffers (the persistent v1
 * pool, data copied in and out: Linux's answer to XSA-403), and the raw
 * blkif frontend of the blk tests on persistent page grants (I/O straight
 * into the mapped pages: no copy, no isolation), page grants copied by
 * the backend, byte-exact grants copied by the backend.
 * Jobs: 4 KiB random read and write at QD1 and QD32, 1 MiB sequential
 * read and write (QD1).
 * BLK_BENCH_SECS=N: each job's length (default 1); BLK_BENCH_RUNS=N:
 * rounds (default 3, at most 9); BLK_BENCH_PARTS (letters a b c d, v for
 * the bounce pool, m for the raw modes; default all) and BLK_BENCH_JOBS
 * (job names) run only those; BLK_BENCH_DIRECT=1: blkback and (c) with
 * O_DIRECT (blkback's default: xgrantd has a call's segments in flight
 * at once then), nbdkit as ever.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../integration/blk/rawfront.h"
#include "../integration/common/itest.h"
#include "bench.h"
#include "blkbench.h"
#include "xgblkfront.h"

#define IMG_MB    256u
#define IMG_SECTS (IMG_MB * 2048u)
#define DEVID     51712
#define POOL      512u /* pages: 256 for a 1 MiB request, 32 for QD32 */
#define MAXQD     32u
#define MAXRUNS   9

/* ---- The raw guest (the blk tests' blkif frontend) ---------------------- */

struct slot {
    grant_ref_t gref[256]; /* ext: the byte-exact grants in flight */
    unsigned nseg;
};

static uint64_t next_sector(const struct job *j, uint64_t *pos, uint32_t *rnd)
{
    uint64_t s;

    if (!j->random) {
        s = *pos;
        *pos = (*pos + j->sects) % IMG_SECTS;
        return s;
    }
    *rnd = *rnd * 1103515245u + 12345u;
    return ((uint64_t)(*rnd >> 4) % (IMG_SECTS / j->sects)) * j->sects;
}

/* One request of slot k: v1 pages k*segs.. of the pool (one page per
 * segment, indirect past 11), or byte-exact grants of up to 256 sectors. */
static void submit(struct rf *f, const struct job *j, struct slot *sl,
                   unsigned k, uint64_t sector)
{
    struct blkif_request *req = rf_slot(f);
    struct blkif_request_segment *seg = req->seg;
    unsigned per = f->mode == RF_EXT ? 256 : 8;
    unsigned nseg = (j->sects + per - 1) / per, i;
    char *base = (char *)f->pool + (size_t)k * j->sects * 512;

    req->id = k;
    req->operation = j->write ? BLKIF_OP_WRITE : BLKIF_OP_READ;
    req->sector_number = sector;
    if (nseg > BLKIF_MAX_SEGMENTS_PER_REQUEST) {
        struct blkif_request_indirect *in = (void *)req;

        in->operation = BLKIF_OP_INDIRECT;
        in->indirect_op = j->write ? BLKIF_OP_WRITE : BLKIF_OP_READ;
        in->nr_segments = (uint16_t)nseg;
        in->sector_number = sector;
        in->indirect_grefs[0] = f->ind_ref;
        seg = f->ind;
    } else {
        req->nr_segments = (uint8_t)nseg;
    }
    for (i = 0; i < nseg; i++) {
        unsigned n = j->sects - i * per < per ? j->sects - i * per : per;

        seg[i].first_sect = 0;
        seg[i].last_sect = (uint8_t)(n - 1);
        if (f->mode == RF_EXT)
            grant_create_direct(
                f->h, 0, j->write ? GRANT_R_READ : GRANT_R_WRITE,
                base + (size_t)i * per * 512, n * 512, &sl->gref[i]);
        seg[i].gref = f->mode == RF_EXT ? sl->gref[i] : f->pref[k * nseg + i];
    }
    sl->nseg = nseg;
    xfe_ring_req_done(&f->q[0].r); /* pushed by the caller, in batches */
}

static void push(struct rf *f)
{
    if (xfe_ring_push(&f->q[0].r))
        grant_evtchn_notify(f->h, f->q[0].port);
}

static void done(struct rf *f, struct slot *sl)
{
    unsigned i;

    for (i = 0; f->mode == RF_EXT && i < sl->nseg; i++)
        grant_revoke(f->h, sl->gref[i], 0);
}

static int raw_job(struct rf *f, const struct job *j, double *iops)
{
    static struct slot sl[32];
    struct blkif_response rsp;
    union blkif_sring_entry e;
    uint64_t pos = 0, n = 0;
    uint32_t rnd = 12345;
    double t0 = now_ns(), len = secs() * 1e9;
    unsigned k, busy = 0;
    int bad = 0;

    for (k = 0; k < j->qd; k++, busy++)
        submit(f, j, &sl[k], k, next_sector(j, &pos, &rnd));
    push(f);
    while (busy) {
        int got = rf_wait(f, &rsp, 5000);

        if (got <= 0)
            return got ? got : -ETIMEDOUT;
        do { /* every answer there is, then one push for the new ones */
            if (rsp.id >= j->qd)
                return -EPROTO;
            k = (unsigned)rsp.id;
            done(f, &sl[k]);
            bad |= rsp.status != 0;
            n++;
            busy--;
            if (now_ns() - t0 < len) {
                submit(f, j, &sl[k], k, next_sector(j, &pos, &rnd));
                busy++;
            }
            got = xfe_ring_take(&f->q[0].r, &e);
            rsp = e.rsp;
        } while (got == 1);
        push(f);
    }
    *iops = n / ((now_ns() - t0) / 1e9);
    return bad ? -EIO : 0;
}

/* The raw copy modes run 4 KiB QD32 and 1 MiB only (not 4 KiB QD1). */
static int raw_runs(int mode, const struct job *j)
{
    return mode == RF_V1P || (j->qd == 1) == (j->sects > 8);
}

static int role_raw(unsigned devid, int mode)
{
    struct rf f = {.want_queues = 1, .pool_pages = POOL};
    unsigned i;
    int rc;

    if (grant_open(&f.h, 0) || grant_xenbus_open(&f.xb, 0))
        return 1;
    rc = rf_attach(&f, devid, mode, 2);
    for (i = 0; rc == 0 && i < NJOBS; i++) {
        double iops = 0;

        if (!job_on(i) || !raw_runs(mode, &jobs[i]))
            continue;
        rc = raw_job(&f, &jobs[i], &iops);
        blkbench_job(i, iops);
    }
    return blkbench_role_end(rc);
}

/* ---- The library guest (libxgblkfront) -------------------------------- */

static uint64_t next_off(const struct job *j, uint64_t *pos, uint32_t *rnd)
{
    uint64_t bytes = (uint64_t)j->sects * 512,
             n = ((uint64_t)IMG_MB << 20) / bytes;

    if (!j->random) {
        uint64_t o = *pos;

        *pos = (*pos + bytes) % ((uint64_t)IMG_MB << 20);
        return o;
    }
    *rnd = *rnd * 1103515245u + 12345u;
    return (uint64_t)(*rnd >> 4) % n * bytes;
}

static int run_sync(struct xgbf *d, const struct job *j, uint8_t *buf,
                    double *iops)
{
    size_t bytes = (size_t)j->sects * 512;
    uint64_t pos = 0, n = 0;
    uint32_t rnd = 12345;
    double t0 = now_ns(), len = secs() * 1e9;
    int rc = 0;

    while (rc == 0 && now_ns() - t0 < len) {
        uint64_t off = next_off(j, &pos, &rnd);

        rc = j->write ? xgbf_pwrite(d, buf, bytes, off)
                      : xgbf_pread(d, buf, bytes, off);
        n++;
    }
    *iops = n / ((now_ns() - t0) / 1e9);
    return rc;
}

/* QD32: the first requests, then each reaped batch's successors, each
 * group in one xgbf_submitv (its grants made in one call). */
static int lib_job(struct xgbf *d, const struct job *j, uint8_t *buf,
                   double *iops)
{
    struct xgbf_cqe c[MAXQD];
    struct xgbf_sqe v[MAXQD];
    size_t bytes = (size_t)j->sects * 512;
    uint64_t pos = 0, n = 0;
    uint32_t rnd = 12345;
    double t0 = now_ns(), len = secs() * 1e9;
    unsigned k, busy = 0, nv = 0;
    enum xgbf_op op = j->write ? XGBF_WRITE : XGBF_READ;
    int got, i, rc;

    if (j->qd == 1) /* the synchronous calls: any size */
        return run_sync(d, j, buf, iops);
    for (k = 0; k < j->qd; k++)
        v[nv++] = (struct xgbf_sqe){op, next_off(j, &pos, &rnd),
                                    buf + k * bytes, bytes, k};
    for (;;) {
        if (nv && (rc = xgbf_submitv(d, v, nv)) != (int)nv)
            return rc < 0 ? rc : -EIO;
        busy += nv;
        nv = 0;
        if (!busy)
            break;
        got = xgbf_reap(d, c, MAXQD, 5000);
        if (got <= 0)
            return got ? got : -ETIMEDOUT;
        for (i = 0; i < got; i++) {
            if (c[i].status)
                return c[i].status;
            n++;
            busy--;
            if (now_ns() - t0 >= len)
                continue;
            k = (unsigned)c[i].cookie;
            v[nv++] = (struct xgbf_sqe){op, next_off(j, &pos, &rnd),
                                        buf + k * bytes, bytes, k};
        }
    }
    *iops = n / ((now_ns() - t0) / 1e9);
    return 0;
}

static int role_lib(unsigned devid, int v1)
{
    struct xgbf_opts o = {.max_queues = 1, .no_grant_ext = v1};
    struct xgbf *d;
    uint8_t *buf = NULL;
    unsigned i;
    int rc = -ENOENT;

    for (i = 0; i < 300 && rc == -ENOENT; i++)
        if ((rc = xgbf_open(&d, devid, &o)) == -ENOENT)
            usleep(10000);
    if (rc == 0)
        rc = xgbf_buf_alloc(d, 1u << 20, (void **)&buf); /* qd x size */
    for (i = 0; rc == 0 && i < NJOBS; i++) {
        double iops = 0;

        if (!job_on(i))
            continue;
        rc = lib_job(d, &jobs[i], buf, &iops);
        blkbench_job(i, iops);
    }
    return blkbench_role_end(rc);
}

/* ---- Domain 0 ----------------------------------------------------------- */

/* The figures: each part's IOPS per job and round. */
enum {
    P_A,    /* library, byte-exact */
    P_V,    /* library, page grants + bounce (v1 pool) */
    P_RAWP, /* raw, persistent page grants (RF_V1P) */
    P_RAWC, /* raw, page grants copied by the backend (RF_V1) */
    P_RAWX, /* raw, byte-exact grants copied by the backend (RF_EXT) */
    P_B,
    P_C,
    P_D,
    NPARTS
};
static double res[NPARTS][NJOBS][MAXRUNS];
static int runs = 3;

/* A guest running `kind` ("raw" or "lib") in mode md on vbd devid; its
 * jobs' IOPS into res[p][.][run]. */
static void guest(struct rf_run *r, const char *img, const char *kind, int md,
                  unsigned devid, int p, int run)
{
    char id[16], mds[8], line[128];
    char *argv[] = {itest_self(), "--role", (char *)kind, id, mds, NULL};
    struct itest_agent a;
    unsigned j;
    double v;

    snprintf(id, sizeof(id), "%u", devid);
    snprintf(mds, sizeof(mds), "%d", md);
    itest_spawn_argv(r->dom0, &a, "bench", 16384, argv);
    rf_toolstack_add(r->xb, a.domid, devid, img, "w");
    for (;;) {
        rf_read_line(&a, line, sizeof(line));
        if (sscanf(line, "job %u %lf", &j, &v) == 2 && j < NJOBS)
            res[p][j][run] = v;
        else
            break;
    }
    ICHECK(!strcmp(line, "end 0"), "%s guest mode %d ran its jobs (%s)", kind,
           md, line);
    itest_agent_close(&a);
    grant_ctl_domain_destroy(r->dom0, a.domid);
    rf_wait_be_state(r->xb, a.domid, devid, XenbusStateClosed, 5000);
    rf_toolstack_rm(r->xb, a.domid, devid);
}

/* fio's IOPS for one job. */
static double fio(const char *target, const struct job *j)
{
    return blkbench_fio(target, j->write, j->random, j->sects / 2, j->qd,
                        secs(), IMG_MB);
}

static void fio_nbd(const char *sock, int p, int run)
{
    char target[800];
    unsigned j;

    snprintf(target, sizeof(target),
             "--ioengine=nbd --uri=nbd+unix:///?socket=%s", sock);
    for (j = 0; j < NJOBS; j++)
        if (job_on(j))
            res[p][j][run] = fio(target, &jobs[j]);
}

static pid_t nbdkit_start(const char *sock, const char *img)
{
    pid_t pid = fork();
    int i;

    if (pid == 0) {
        char file[700];

        snprintf(file, sizeof(file), "file=%s", img);
        execlp("nbdkit", "nbdkit", "-f", "-U", sock, "file", file,
               (char *)NULL);
        _exit(127);
    }
    for (i = 0; i < 200 && access(sock, F_OK) != 0; i++)
        usleep(10000);
    return pid;
}

/* (b): fio nbd -> nbdkit's file plugin. */
static void file_nbd(const char *img, const char *sock, int run)
{
    pid_t nk = nbdkit_start(sock, img);

    fio_nbd(sock, P_B, run);
    kill(nk, SIGTERM);
    waitpid(nk, NULL, 0);
    unlink(sock);
}

/* (d): fio nbd -> nbdkit + xgrant's plugin in a guest -> blkback.  0, or
 * -1 when it cannot run here (said once). */
static int xgrant_nbd(struct rf_run *r, const char *img, int run)
{
    char sock[600];
    struct itest_agent a;
    int rc = rf_nbdkit_guest(r, &a, DEVID + 8, img, sock);

    if (rc == -ENOENT || rc == -ENOEXEC) {
        printf("(d) skipped: nbdkit-xgrant-plugin.so missing, or nbdkit "
               "cannot load it (SANITIZE=1)\n");
        return -1;
    }
    ICHECK(rc == 0, "nbdkit + xgrant plugin in a guest listens (%d)", rc);
    if (rc == 0)
        fio_nbd(sock, P_D, run);
    itest_agent_close(&a);
    grant_ctl_domain_destroy(r->dom0, a.domid);
    rf_wait_be_state(r->xb, a.domid, DEVID + 8, XenbusStateClosed, 5000);
    rf_toolstack_rm(r->xb, a.domid, DEVID + 8);
    unlink(sock); /* nbdkit killed leaves it */
    return rc == 0 ? 0 : -1;
}

/* The median over the rounds of part p, job j. */
static double med(int p, unsigned j)
{
    double v[MAXRUNS];

    memcpy(v, res[p][j], sizeof(v[0]) * runs);
    return median(v, runs);
}

static double ratio(double x, double y)
{
    return x && y ? x / y : 0;
}

/* The median over the rounds of part p's figure over part q's, job j,
 * each ratio of one round (one load). */
static double rmed(int p, int q, unsigned j)
{
    double v[MAXRUNS];
    int i;

    for (i = 0; i < runs; i++)
        v[i] = ratio(res[p][j][i], res[q][j][i]);
    return median(v, runs);
}

static void loadavg(const char *when)
{
    double l[3] = {0, 0, 0};

    if (getloadavg(l, 3) == 3)
        printf("# load average %s: %.2f %.2f %.2f\n", when, l[0], l[1], l[2]);
}

static void report(void)
{
    unsigned j;

    printf("medians of %d round(s) of %g s jobs; each ratio the median of "
           "the rounds' ratios\n",
           runs, secs());
    printf("%-18s %10s %10s %10s %10s %6s %6s %6s\n", "job (IOPS)", "a lib",
           "b nbdkit", "c io_uring", "d xg-nbd", "a/b", "a/c", "d/b");
    for (j = 0; j < NJOBS; j++) {
        double a = med(P_A, j), b = med(P_B, j), c = med(P_C, j),
               d = med(P_D, j);

        printf("%-18s %10.0f %10.0f %10.0f %10.0f %6.2f %6.2f %6.2f  "
               "(a %.0f MB/s)\n",
               jobs[j].name, a, b, c, d, rmed(P_A, P_B, j), rmed(P_A, P_C, j),
               rmed(P_D, P_B, j), a * jobs[j].sects * 512 / 1e6);
    }
    printf("grant kinds, same jobs (IOPS): libxgblkfront byte-exact (a) / "
           "page grants + bounce buffers (v1 pool); raw frontend: persistent "
           "mapped / page grants by copy / byte-exact by copy\n");
    printf("%-18s %10s %10s %7s %10s %10s %10s\n", "job (IOPS)", "exact",
           "bounce", "ex/bn", "raw-pers", "raw-v1cp", "raw-excp");
    for (j = 0; j < NJOBS; j++) {
        char c[16], x[16];

        /* '-': not run by design (the copy modes skip 4 KiB QD1) */
        snprintf(c, sizeof(c), "%.0f", med(P_RAWC, j));
        snprintf(x, sizeof(x), "%.0f", med(P_RAWX, j));
        printf("%-18s %10.0f %10.0f %7.2f %10.0f %10s %10s\n", jobs[j].name,
               med(P_A, j), med(P_V, j), rmed(P_A, P_V, j), med(P_RAWP, j),
               raw_runs(RF_V1, &jobs[j]) ? c : "-",
               raw_runs(RF_EXT, &jobs[j]) ? x : "-");
    }
}

/* BLK_BENCH_PARTS: which parts run (letters a, v, m, b, c, d), default
 * all. */
static int part(char p)
{
    const char *e = getenv("BLK_BENCH_PARTS");

    return !e || strchr(e, p);
}

static void round_run(struct rf_run *r, const char *img, char *sock, int run,
                      int *have_d)
{
    char target[800];
    unsigned j;

    if (part('a'))
        guest(r, img, "lib", 0, DEVID + 16, P_A, run);
    if (part('v'))
        guest(r, img, "lib", 1, DEVID + 17, P_V, run);
    if (part('m')) {
        guest(r, img, "raw", RF_V1P, DEVID + RF_V1P, P_RAWP, run);
        guest(r, img, "raw", RF_V1, DEVID + RF_V1, P_RAWC, run);
        guest(r, img, "raw", RF_EXT, DEVID + RF_EXT, P_RAWX, run);
    }
    snprintf(target, sizeof(target),
             "--filename=%s --ioengine=io_uring --direct=%d --invalidate=0",
             img, blkbench_direct());
    for (j = 0; part('c') && j < NJOBS; j++)
        if (job_on(j))
            res[P_C][j][run] = fio(target, &jobs[j]);
    if (part('b'))
        file_nbd(img, sock, run);
    if (part('d') && *have_d && xgrant_nbd(r, img, run) < 0)
        *have_d = 0;
}

int main(int argc, char **argv)
{
    struct rf_run r = {.quiet = 1};
    char img[600], sock[600];
    const char *e = getenv("BLK_BENCH_RUNS");
    int rc, run, have_d = 1;

    if (argc >= 5 && !strcmp(argv[1], "--role"))
        return !strcmp(argv[2], "lib")
                   ? role_lib((unsigned)atoi(argv[3]), atoi(argv[4]))
                   : role_raw((unsigned)atoi(argv[3]), atoi(argv[4]));
    if (e && atoi(e) > 0)
        runs = atoi(e) < MAXRUNS ? atoi(e) : MAXRUNS;
    rc = blkbench_begin(&r, "blk_bench", IMG_MB, img, sizeof(img));
    if (rc == ITEST_SKIP)
        return rc;
    if (rc == 0) {
        snprintf(sock, sizeof(sock), "%s/file.sock", r.dir);
        loadavg("before");
        for (run = 0; run < runs; run++)
            round_run(&r, img, sock, run, &have_d);
        loadavg("after");
        report();
    }
    return rf_run_end(&r) ? 1 : 0;
}
