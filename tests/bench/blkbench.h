/* SPDX-License-Identifier: MIT */
/* blkbench.h: what the block benchmark (blk-bench)
 * share: the jobs, the image of random data and fio's IOPS for a job. */
#ifndef BLKBENCH_H
#define BLKBENCH_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../integration/blk/rawfront.h"
#include "../integration/common/itest.h"

/* Issue 13's jobs: 4 KiB random read and write at QD1 and QD32, 1 MiB
 * sequential read and write. */
struct job {
    const char *name;
    int write, random;
    unsigned sects, qd;
};
static const struct job jobs[] = {
    {"4k-randread-qd1", 0, 1, 8, 1},  {"4k-randread-qd32", 0, 1, 8, 32},
    {"4k-randwrite-qd1", 1, 1, 8, 1}, {"4k-randwrite-qd32", 1, 1, 8, 32},
    {"1m-seqread", 0, 0, 2048, 1},    {"1m-seqwrite", 1, 0, 2048, 1},
};
#define NJOBS (sizeof(jobs) / sizeof(jobs[0]))

/* Each job's length: BLK_BENCH_SECS, default 1 s. */
static inline double secs(void)
{
    const char *e = getenv("BLK_BENCH_SECS");

    return e && atof(e) > 0 ? atof(e) : 1.0;
}

/* BLK_BENCH_JOBS (job names, e.g. "4k-randread-qd32,1m-seqread"): only
 * those run; default all. */
static inline int job_on(unsigned i)
{
    const char *e = getenv("BLK_BENCH_JOBS");

    return !e || strstr(e, jobs[i].name);
}

/* An image of `mb` MiB of random data (rf_fill), synced: 1 when made. */
static inline int blkbench_image(const char *img, unsigned mb)
{
    static char buf[1 << 20];
    int fd = open(img, O_RDWR | O_CREAT | O_TRUNC, 0600), ok = fd >= 0;
    unsigned i;

    for (i = 0; ok && i < mb; i++) {
        rf_fill(buf, sizeof(buf), i);
        ok = write(fd, buf, sizeof(buf)) == (ssize_t)sizeof(buf);
    }
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    return ok;
}

/* fio's IOPS for one job on target (fio options naming the engine and
 * file), terse output: read iops is field 8, write 49.  0 on failure.
 * BLK_BENCH_RAW: fio's command and terse line to stderr (latency
 * percentiles: read fields 18-37, write 59-78). */
static inline double blkbench_fio(const char *target, int write, int random,
                                  unsigned kib, unsigned qd, double secs,
                                  unsigned size_mb)
{
    char cmd[1024], out[8192];
    double iops = 0;
    size_t n;
    FILE *p;
    char *f;
    int i;

    snprintf(cmd, sizeof(cmd),
             "fio --name=j %s --rw=%s%s --bs=%uk --iodepth=%u --runtime=%g "
             "--time_based --minimal --size=%um 2>/dev/null",
             target, random ? "rand" : "", write ? "write" : "read", kib, qd,
             secs, size_mb);
    p = popen(cmd, "r");
    if (!p)
        return 0;
    n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = '\0';
    pclose(p);
    if (getenv("BLK_BENCH_RAW"))
        fprintf(stderr, "fio %s: %s\n", cmd, out);
    for (i = 1, f = strtok(out, ";"); f; f = strtok(NULL, ";"), i++)
        if (i == (write ? 49 : 8))
            iops = atof(f);
    return iops;
}

/* A guest role's lines for domain 0: "job <i> <iops>" per job, then
 * "end <rc>"; the guest then stays until domain 0 closes its stdin. */
static inline void blkbench_job(unsigned i, double iops)
{
    printf("job %u %.0f\n", i, iops);
    fflush(stdout);
}

static inline int blkbench_role_end(int rc)
{
    char line[16];

    printf("end %d\n", rc);
    fflush(stdout);
    while (fgets(line, sizeof(line), stdin))
        ;
    return 0;
}

/* BLK_BENCH_DIRECT=1: xgrant-blkback O_DIRECT (its default) and fio's
 * io_uring (c) --direct=1; nbdkit's file plugin (b, d's image side) as
 * ever. */
static inline int blkbench_direct(void)
{
    const char *e = getenv("BLK_BENCH_DIRECT");

    return e && !strcmp(e, "1");
}

/*
 * A benchmark run: ITEST_SKIP (said why) without fio and nbdkit; else
 * xgrant-blkback buffered on one queue (rf_run_begin; with
 * BLK_BENCH_NO_GRANT_IO=1 also --no-grant-io; BLK_BENCH_DIRECT=1: not
 * buffered), the image of mb
 * MiB at <run dir>/bench.img (into img, len bytes), read once so the page
 * cache is warm for everyone.  0, or -1 when the run did not start.
 */
static inline int blkbench_begin(struct rf_run *r, const char *name,
                                 unsigned mb, char *img, size_t len)
{
    static const char *args[] = {"--buffered", "--max-queues", "1", NULL, NULL};
    const char **a = blkbench_direct() ? args + 1 : args; /* its default */
    char cmd[700];

    if (getenv("BLK_BENCH_NO_GRANT_IO")) /* grant-ext data by grant copy */
        args[3] = "--no-grant-io";

    if (system("command -v fio >/dev/null && command -v nbdkit >/dev/null")) {
        printf("skip: fio and nbdkit needed (make deps)\n");
        return ITEST_SKIP;
    }
    if (rf_run_begin(r, name, a) < 0)
        return -1;
    snprintf(img, len, "%s/bench.img", r->dir);
    ICHECK(blkbench_image(img, mb), "a %u MiB image of random data", mb);
    snprintf(cmd, sizeof(cmd), "cat %s > /dev/null", img);
    if (system(cmd) != 0)
        printf("# could not read the image\n");
    return 0;
}

#endif
