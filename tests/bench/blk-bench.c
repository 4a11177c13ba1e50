/* SPDX-License-Identifier: MIT */
/*
 * blk-bench: issue 13's block benchmark, one run, same image, page cache
 * warm, xgrant-blkback in buffered mode (--buffered) like the peers:
 *   (a) a guest program (the raw blkif frontend of the blk tests, async,
 *       persistent standard grants: I/O straight into the mapped pages)
 *       -> xgrant-blkback -> image;
 *   (b) fio's nbd engine -> nbdkit's file plugin on a Unix socket (what a
 *       user would pick to let one process serve another's disk);
 *   (c) fio io_uring on the image, buffered, --invalidate=0 (the ceiling).
 * Jobs: 4 KiB random read and write at QD1 and QD32, 1 MiB sequential
 * read and write (QD1).  Prints IOPS, MB/s and a/b, a/c; then the same
 * guest by grant copy through page grants ("bounce": Linux's way when a
 * frontend is untrusted) and with byte-exact grants (grant-ext, grant
 * copy), 4 KiB QD32 and 1 MiB.
 *   (d) fio's nbd engine -> nbdkit with xgrant's plugin (the blkfront
 *       library) in a guest -> xgrant-blkback -> image; d/b printed.
 * BLK_BENCH_SECS=N sets each job's length (default 1); BLK_BENCH_PARTS
 * (e.g. "ab") runs only those parts.
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

#define IMG_MB    256u
#define IMG_SECTS (IMG_MB * 2048u)
#define DEVID     51712
#define POOL      512u /* pages: 256 for a 1 MiB request, 32 for QD32 */

/* ---- The guest ---------------------------------------------------------- */

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

static int run_job(struct rf *f, const struct job *j, double *iops)
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

static int role_bench(unsigned devid, int mode)
{
    struct rf f = {.want_queues = 1, .pool_pages = POOL};
    unsigned i;
    int rc;

    if (grant_open(&f.h, 0) || grant_xenbus_open(&f.xb, 0))
        return 1;
    rc = rf_attach(&f, devid, mode, 2);
    for (i = 0; rc == 0 && i < NJOBS; i++) {
        double iops = 0;

        if (mode != RF_V1P && (jobs[i].qd == 1) != (jobs[i].sects > 8))
            continue; /* the copy modes: 4 KiB QD32 and 1 MiB */
        rc = run_job(&f, &jobs[i], &iops);
        blkbench_job(i, iops);
    }
    return blkbench_role_end(rc);
}

/* ---- Domain 0 ----------------------------------------------------------- */

static double res[4][NJOBS]; /* [V1, V1P, EXT, -] a's; then b, c */
static double nbd[NJOBS], uring[NJOBS], xnbd[NJOBS];

static void guest(struct rf_run *r, const char *img, int mode)
{
    char id[16], md[8], line[128];
    char *argv[] = {itest_self(), "--role", "bench", id, md, NULL};
    struct itest_agent a;
    unsigned j;
    double v;

    snprintf(id, sizeof(id), "%u", DEVID + mode);
    snprintf(md, sizeof(md), "%d", mode);
    itest_spawn_argv(r->dom0, &a, "bench", 2048, argv);
    rf_toolstack_add(r->xb, a.domid, DEVID + mode, img, "w");
    for (;;) {
        rf_read_line(&a, line, sizeof(line));
        if (sscanf(line, "job %u %lf", &j, &v) == 2 && j < NJOBS)
            res[mode][j] = v;
        else
            break;
    }
    ICHECK(!strcmp(line, "end 0"), "guest mode %d ran its jobs (%s)", mode,
           line);
    itest_agent_close(&a);
    grant_ctl_domain_destroy(r->dom0, a.domid);
    rf_wait_be_state(r->xb, a.domid, DEVID + mode, XenbusStateClosed, 5000);
    rf_toolstack_rm(r->xb, a.domid, DEVID + mode);
}

/* fio's IOPS for one job. */
static double fio(const char *target, const struct job *j)
{
    return blkbench_fio(target, j->write, j->random, j->sects / 2, j->qd,
                        secs(), IMG_MB);
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

/* (d): fio nbd -> nbdkit + xgrant's plugin in a guest -> blkback. */
static void xgrant_nbd(struct rf_run *r, const char *img, char *sock)
{
    char target[800];
    struct itest_agent a;
    unsigned j;
    int rc = rf_nbdkit_guest(r, &a, DEVID + 8, img, sock);

    if (rc == -ENOENT || rc == -ENOEXEC) {
        printf("(d) skipped: nbdkit-xgrant-plugin.so missing, or nbdkit "
               "cannot load it (SANITIZE=1)\n");
        return;
    }
    ICHECK(rc == 0, "nbdkit + xgrant plugin in a guest listens (%d)", rc);
    snprintf(target, sizeof(target),
             "--ioengine=nbd --uri=nbd+unix:///?socket=%s", sock);
    for (j = 0; rc == 0 && j < NJOBS; j++)
        xnbd[j] = fio(target, &jobs[j]);
    itest_agent_close(&a);
    grant_ctl_domain_destroy(r->dom0, a.domid);
    rf_wait_be_state(r->xb, a.domid, DEVID + 8, XenbusStateClosed, 5000);
    rf_toolstack_rm(r->xb, a.domid, DEVID + 8);
}

static void report(void)
{
    unsigned j;

    printf("%-18s %10s %10s %10s %10s %6s %6s %6s\n", "job (IOPS)", "a blkback",
           "b nbdkit", "c io_uring", "d xg-nbd", "a/b", "a/c", "d/b");
    for (j = 0; j < NJOBS; j++) {
        double a = res[RF_V1P][j], mb = a * jobs[j].sects * 512 / 1e6;

        printf("%-18s %10.0f %10.0f %10.0f %10.0f %6.2f %6.2f %6.2f  "
               "(a %.0f MB/s)\n",
               jobs[j].name, a, nbd[j], uring[j], xnbd[j],
               nbd[j] ? a / nbd[j] : 0, uring[j] ? a / uring[j] : 0,
               nbd[j] ? xnbd[j] / nbd[j] : 0, mb);
    }
    printf("grant modes, same jobs (IOPS): persistent / page grants by copy "
           "(bounce) / byte-exact (grant-ext, copy)\n");
    for (j = 0; j < NJOBS; j++)
        if (res[RF_V1][j] || res[RF_EXT][j])
            printf("%-18s %12.0f %12.0f %12.0f   byte-exact/bounce %.2f\n",
                   jobs[j].name, res[RF_V1P][j], res[RF_V1][j], res[RF_EXT][j],
                   res[RF_V1][j] ? res[RF_EXT][j] / res[RF_V1][j] : 0);
}

/* BLK_BENCH_PARTS: which parts run (letters a, m (the grant modes), b,
 * c, d), default all. */
static int part(char p)
{
    const char *e = getenv("BLK_BENCH_PARTS");

    return !e || strchr(e, p);
}

int main(int argc, char **argv)
{
    struct rf_run r = {.quiet = 1};
    char img[600], sock[600], target[800];
    unsigned j;
    pid_t nk;
    int rc;

    if (argc >= 5 && !strcmp(argv[1], "--role"))
        return role_bench((unsigned)atoi(argv[3]), atoi(argv[4]));
    rc = blkbench_begin(&r, "blk_bench", IMG_MB, img, sizeof(img));
    if (rc == ITEST_SKIP)
        return rc;
    if (rc == 0) {
        snprintf(sock, sizeof(sock), "%s/nbd.sock", r.dir);
        if (part('a'))
            guest(&r, img, RF_V1P);
        if (part('m')) {
            guest(&r, img, RF_V1);
            guest(&r, img, RF_EXT);
        }
        snprintf(target, sizeof(target),
                 "--filename=%s --ioengine=io_uring --direct=0 "
                 "--invalidate=0",
                 img);
        for (j = 0; part('c') && j < NJOBS; j++)
            uring[j] = fio(target, &jobs[j]);
        if (part('b')) {
            nk = nbdkit_start(sock, img);
            snprintf(target, sizeof(target),
                     "--ioengine=nbd --uri=nbd+unix:///?socket=%s", sock);
            for (j = 0; j < NJOBS; j++)
                nbd[j] = fio(target, &jobs[j]);
            kill(nk, SIGTERM);
            waitpid(nk, NULL, 0);
            unlink(sock);
        }
        if (part('d'))
            xgrant_nbd(&r, img, sock);
        report();
    }
    return rf_run_end(&r) ? 1 : 0;
}
