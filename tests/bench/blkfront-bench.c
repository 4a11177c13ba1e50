/* SPDX-License-Identifier: MIT */
/*
 * blkfront-bench: issue 13's block benchmark through the blkfront library
 * and its nbdkit plugin, one run, same image, page cache warm,
 * xgrant-blkback buffered (--buffered, one queue) like the peers:
 *   (a) a guest program on libxgblkfront (xgbf_submit/xgbf_reap at QD32,
 *       xgbf_pread/xgbf_pwrite at QD1, buffers from xgbf_buf_alloc) ->
 *       xgrant-blkback -> image: byte-exact grants
 *       straight over the buffers (grant-ext), and the persistent v1 pool
 *       (copy in and out, as Linux's blkfront);
 *   (b) fio's nbd engine -> nbdkit's file plugin on a Unix socket.
 * (d), fio's nbd engine -> the plugin in a guest -> xgrant-blkback, is
 * blk-bench's.
 * Jobs: 4 KiB random read and write at QD1 and QD32, 1 MiB sequential read
 * and write (QD1).  Prints IOPS, MB/s and a/b for both grant kinds.
 * BLK_BENCH_SECS=N sets each job's length (default 1).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../integration/blk/rawfront.h"
#include "../integration/common/itest.h"
#include "bench.h"
#include "blkbench.h"
#include "xgblkfront.h"

#define IMG_MB 256u
#define DEVID  51712
#define MAXQD  32u

/* ---- The guest program -------------------------------------------------- */

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

static int run_job(struct xgbf *d, const struct job *j, uint8_t *buf,
                   double *iops)
{
    struct xgbf_cqe c[MAXQD];
    size_t bytes = (size_t)j->sects * 512;
    uint64_t pos = 0, n = 0;
    uint32_t rnd = 12345;
    double t0 = now_ns(), len = secs() * 1e9;
    unsigned k, busy = 0;
    int got, i, rc;

    if (j->qd == 1) /* the synchronous calls: any size */
        return run_sync(d, j, buf, iops);
    for (k = 0; k < j->qd; k++, busy++)
        if ((rc = xgbf_submit(d, j->write ? XGBF_WRITE : XGBF_READ,
                              next_off(j, &pos, &rnd), buf + k * bytes, bytes,
                              k)) < 0)
            return rc;
    while (busy) {
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
            if ((rc = xgbf_submit(d, j->write ? XGBF_WRITE : XGBF_READ,
                                  next_off(j, &pos, &rnd), buf + k * bytes,
                                  bytes, k)) < 0)
                return rc;
            busy++;
        }
    }
    *iops = n / ((now_ns() - t0) / 1e9);
    return 0;
}

static int role_bench(unsigned devid, int v1)
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

        rc = run_job(d, &jobs[i], buf, &iops);
        blkbench_job(i, iops);
    }
    return blkbench_role_end(rc);
}

/* ---- Domain 0 ----------------------------------------------------------- */

static double res[2][NJOBS]; /* a: [0] byte-exact, [1] persistent v1 */
static double nbd[NJOBS];

static void guest(struct rf_run *r, const char *img, int v1)
{
    char id[16], md[8], line[128];
    char *argv[] = {itest_self(), "--role", "bench", id, md, NULL};
    struct itest_agent a;
    unsigned j;
    double v;

    snprintf(id, sizeof(id), "%u", DEVID + v1 * 16);
    snprintf(md, sizeof(md), "%d", v1);
    itest_spawn_argv(r->dom0, &a, "bench", 16384, argv);
    rf_toolstack_add(r->xb, a.domid, DEVID + v1 * 16, img, "w");
    for (;;) {
        rf_read_line(&a, line, sizeof(line));
        if (sscanf(line, "job %u %lf", &j, &v) == 2 && j < NJOBS)
            res[v1][j] = v;
        else
            break;
    }
    ICHECK(!strcmp(line, "end 0"), "library guest (%s) ran its jobs (%s)",
           v1 ? "persistent v1" : "byte-exact", line);
    itest_agent_close(&a);
    grant_ctl_domain_destroy(r->dom0, a.domid);
    rf_wait_be_state(r->xb, a.domid, DEVID + v1 * 16, XenbusStateClosed, 5000);
    rf_toolstack_rm(r->xb, a.domid, DEVID + v1 * 16);
}

/* fio's IOPS for one job. */
static double fio(const char *target, const struct job *j)
{
    return blkbench_fio(target, j->write, j->random, j->sects / 2, j->qd,
                        secs(), IMG_MB);
}

static void wait_sock(const char *sock)
{
    int i;

    for (i = 0; i < 2000 && access(sock, F_OK) != 0; i++)
        usleep(10000);
}

static void fio_all(const char *sock, double *out)
{
    char target[800];
    unsigned j;

    snprintf(target, sizeof(target),
             "--ioengine=nbd --uri=nbd+unix:///?socket=%s", sock);
    for (j = 0; j < NJOBS; j++)
        out[j] = fio(target, &jobs[j]);
}

/* (b): nbdkit's file plugin on the image, in domain 0. */
static void file_plugin(const char *dir, const char *img)
{
    char sock[700], file[700];
    pid_t pid;

    snprintf(sock, sizeof(sock), "%s/file.sock", dir);
    snprintf(file, sizeof(file), "file=%s", img);
    pid = fork();
    if (pid == 0) {
        execlp("nbdkit", "nbdkit", "-f", "-U", sock, "file", file,
               (char *)NULL);
        _exit(127);
    }
    wait_sock(sock);
    fio_all(sock, nbd);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
}

static void report(void)
{
    unsigned j;

    printf("%-18s %11s %11s %11s %7s %7s\n", "job (IOPS)", "a exact",
           "a v1 pool", "b nbd-file", "a/b", "v1/b");
    for (j = 0; j < NJOBS; j++) {
        double a = res[0][j], mb = a * jobs[j].sects * 512 / 1e6;

        printf("%-18s %11.0f %11.0f %11.0f %7.2f %7.2f   (a %.0f MB/s)\n",
               jobs[j].name, a, res[1][j], nbd[j], nbd[j] ? a / nbd[j] : 0,
               nbd[j] ? res[1][j] / nbd[j] : 0, mb);
    }
    printf(
        "(d) fio nbd -> nbdkit-xgrant-plugin -> xgrant-blkback: blk-bench\n");
}

int main(int argc, char **argv)
{
    struct rf_run r = {.quiet = 1};
    char img[600];
    int rc;

    if (argc >= 5 && !strcmp(argv[1], "--role"))
        return role_bench((unsigned)atoi(argv[3]), atoi(argv[4]));
    rc = blkbench_begin(&r, "blkfront_bench", IMG_MB, img, sizeof(img));
    if (rc == ITEST_SKIP)
        return rc;
    if (rc == 0) {
        guest(&r, img, 0);
        guest(&r, img, 1);
        file_plugin(r.dir, img);
        report();
    }
    return rf_run_end(&r) ? 1 : 0;
}
